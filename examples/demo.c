/*
 * demo.c - the README's first command: a tour of the x86 vCPU model.
 *
 * Creates a VM and a vCPU on the best backend this machine offers, prints
 * the RESET state, applies a CPUID table through the check/update/after-set
 * flow, changes some state, delivers INIT and prints what INIT changed and
 * what it kept. Public API only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <virtcore/virtcore.h>

typedef struct demo_state {
    vcore_x86_regs_t regs;
    vcore_x86_sregs_t sregs;
    vcore_x86_dregs_t dregs;
    vcore_x86_fpu_t fpu;
    uint64_t xcr0;
    uint64_t msr[8];
} demo_state_t;

static const uint32_t demo_msrs[8] = {
    VCORE_MSR_IA32_APIC_BASE, VCORE_MSR_IA32_PAT,        VCORE_MSR_IA32_MISC_ENABLE,
    VCORE_MSR_IA32_SMBASE,    VCORE_MSR_IA32_SYSENTER_CS, VCORE_MSR_IA32_LSTAR,
    VCORE_MSR_IA32_TSC,       VCORE_MSR_IA32_KERNEL_GS_BASE,
};
static const char *const demo_msr_names[8] = {
    "APIC_BASE", "PAT", "MISC_ENABLE", "SMBASE", "SYSENTER_CS", "LSTAR", "TSC", "KERNEL_GS_BASE",
};
static const char *const demo_seg_names[VCORE_X86_NR_SEGS] = {"ES", "CS",   "SS", "DS",
                                                             "FS", "GS", "LDTR", "TR"};

static int check(int err, const char *what)
{
    if (err)
        fprintf(stderr, "demo: %s: %s (%s)\n", what, vcore_strerror(err), vcore_err_name(err));
    return err;
}

static int demo_read(vcore_vcpu_t *vcpu, demo_state_t *s)
{
    memset(s, 0, sizeof(*s));
    s->regs.size = sizeof(s->regs);
    s->sregs.size = sizeof(s->sregs);
    s->dregs.size = sizeof(s->dregs);
    s->fpu.size = sizeof(s->fpu);
    int err = vcore_vcpu_get_regs(vcpu, &s->regs);
    if (!err)
        err = vcore_vcpu_get_sregs(vcpu, &s->sregs);
    if (!err)
        err = vcore_vcpu_get_dregs(vcpu, &s->dregs);
    if (!err)
        err = vcore_vcpu_get_fpu(vcpu, &s->fpu);
    if (!err)
        err = vcore_vcpu_get_xcr(vcpu, 0, &s->xcr0);
    for (int i = 0; i < 8 && !err; i++)
        err = vcore_vcpu_get_msr(vcpu, demo_msrs[i], &s->msr[i]);
    return check(err, "read state");
}

static void demo_print(const demo_state_t *s)
{
    printf("  RIP=%#" PRIx64 " RFLAGS=%#" PRIx64 " RDX=%#" PRIx64 "\n", s->regs.rip,
           s->regs.rflags, s->regs.gpr[VCORE_X86_RDX]);
    printf("  CR0=%#" PRIx64 " CR3=%#" PRIx64 " CR4=%#" PRIx64 " EFER=%#" PRIx64 " XCR0=%#" PRIx64
           "\n",
           s->sregs.cr0, s->sregs.cr3, s->sregs.cr4, s->sregs.efer, s->xcr0);
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++) {
        const vcore_x86_segment_t *g = &s->sregs.seg[i];
        printf("  %-4s sel=%#06x base=%#010" PRIx64 " limit=%#x ar=%#x\n", demo_seg_names[i],
               g->selector, g->base, g->limit, g->ar);
    }
    printf("  GDTR base=%#" PRIx64 " limit=%#x  IDTR base=%#" PRIx64 " limit=%#x\n",
           s->sregs.gdtr.base, s->sregs.gdtr.limit, s->sregs.idtr.base, s->sregs.idtr.limit);
    printf("  DR6=%#" PRIx64 " DR7=%#" PRIx64 " FCW=%#x MXCSR=%#x\n", s->dregs.dr6,
           s->dregs.dr7, s->fpu.fcw, s->fpu.mxcsr);
    for (int i = 0; i < 8; i++)
        printf("  %-14s %#" PRIx64 "\n", demo_msr_names[i], s->msr[i]);
}

/* Prints every value that differs between two snapshots. */
static void demo_diff(const char *what, uint64_t a, uint64_t b, int *changed)
{
    if (a != b) {
        printf("  changed  %-16s %#" PRIx64 " -> %#" PRIx64 "\n", what, a, b);
        (*changed)++;
    }
}

static void demo_compare(const demo_state_t *a, const demo_state_t *b)
{
    int changed = 0;
    char name[32];
    static const char *const gpr[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                        "R8",  "R9",  "R10", "R11", "R12", "R13", "R14", "R15"};
    for (int i = 0; i < 16; i++)
        demo_diff(gpr[i], a->regs.gpr[i], b->regs.gpr[i], &changed);
    demo_diff("RIP", a->regs.rip, b->regs.rip, &changed);
    demo_diff("RFLAGS", a->regs.rflags, b->regs.rflags, &changed);
    demo_diff("CR0", a->sregs.cr0, b->sregs.cr0, &changed);
    demo_diff("CR3", a->sregs.cr3, b->sregs.cr3, &changed);
    demo_diff("CR4", a->sregs.cr4, b->sregs.cr4, &changed);
    demo_diff("EFER", a->sregs.efer, b->sregs.efer, &changed);
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++) {
        snprintf(name, sizeof(name), "%s.sel", demo_seg_names[i]);
        demo_diff(name, a->sregs.seg[i].selector, b->sregs.seg[i].selector, &changed);
        snprintf(name, sizeof(name), "%s.base", demo_seg_names[i]);
        demo_diff(name, a->sregs.seg[i].base, b->sregs.seg[i].base, &changed);
        snprintf(name, sizeof(name), "%s.ar", demo_seg_names[i]);
        demo_diff(name, a->sregs.seg[i].ar, b->sregs.seg[i].ar, &changed);
    }
    demo_diff("DR7", a->dregs.dr7, b->dregs.dr7, &changed);
    printf("  INIT kept:");
    for (int i = 0; i < 8; i++)
        if (a->msr[i] == b->msr[i])
            printf(" %s", demo_msr_names[i]);
    printf(" XCR0=%#" PRIx64 " FCW=%#x MXCSR=%#x CR0.CD/NW=%#" PRIx64 "\n", b->xcr0, b->fpu.fcw,
           b->fpu.mxcsr, b->sregs.cr0 & 0x60000000u);
    for (int i = 0; i < 8; i++)
        demo_diff(demo_msr_names[i], a->msr[i], b->msr[i], &changed);
    printf("  %d values changed\n", changed);
}

/* A small but complete CPUID table: an Intel 64 CPU with XSAVE/AVX, x2APIC, PCID. */
static uint32_t demo_cpuid(vcore_cpuid_entry_t *t)
{
    uint32_t n = 0;
    const uint32_t sig = 0x000906ea; /* family 6, model 0x9e, stepping 10 */
    /* "GenuineIntel" in EBX, EDX, ECX */
    t[n++] = (vcore_cpuid_entry_t){0x0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69};
    t[n++] = (vcore_cpuid_entry_t){0x1, 0, 0, sig, 0x00000800,
                                   (1u << 0) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 28),
                                   (1u << 0) | (1u << 5) | (1u << 6) | (1u << 9) | (1u << 25) |
                                       (1u << 26)};
    t[n++] = (vcore_cpuid_entry_t){0x7, 0, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0, (1u << 0), 0, 0};
    /* XSAVE: x87 | SSE | AVX, 832-byte area */
    t[n++] = (vcore_cpuid_entry_t){0xd, 0, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0x7, 576, 832, 0};
    t[n++] = (vcore_cpuid_entry_t){0xd, 1, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0, 0, 0, 0};
    t[n++] = (vcore_cpuid_entry_t){0xd, 2, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 256, 576, 0, 0};
    t[n++] = (vcore_cpuid_entry_t){0x80000000, 0, 0, 0x80000008, 0, 0, 0};
    t[n++] = (vcore_cpuid_entry_t){0x80000001, 0, 0, 0, 0, 1, (1u << 11) | (1u << 20) | (1u << 29)};
    t[n++] = (vcore_cpuid_entry_t){0x80000008, 0, 0, 0x3027, 0, 0, 0}; /* 39-bit PA, 48-bit VA */
    return n;
}

int main(void)
{
    const vcore_backend_t *be = vcore_backend_best(VCORE_ARCH_X86_64, NULL);
    if (!be) {
        fprintf(stderr, "demo: no backend can run here\n");
        return 1;
    }
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = be;
    vcore_vm_t *vm = NULL;
    vcore_vcpu_t *vcpu = NULL;
    if (check(vcore_vm_create(&cfg, &vm), "create VM") ||
        check(vcore_vcpu_create(vm, NULL, &vcpu), "create vCPU"))
        return 1;
    printf("libvirtcore %s demo on the '%s' backend%s\n", vcore_version_string(),
           vcore_vm_backend_name(vm),
           vcore_backend_available("kvm") ? " (/dev/kvm is usable)" : " (no usable /dev/kvm)");

    demo_state_t reset, before, after;
    if (demo_read(vcpu, &reset))
        return 1;
    printf("\nRESET state (SDM \"Processor States Following Power-up, Reset, or INIT\"):\n");
    demo_print(&reset);

    vcore_cpuid_entry_t table[16];
    uint32_t n = demo_cpuid(table);
    if (check(vcore_vcpu_set_cpuid(vcpu, table, n), "set CPUID"))
        return 1;
    vcore_x86_cpu_model_t model = {.size = sizeof(model)};
    if (check(vcore_vcpu_get_cpu_model(vcpu, &model), "CPU model"))
        return 1;
    printf("\nCPUID table applied (%u entries): vendor=%s MAXPHYADDR=%u linear=%u "
           "supported XCR0=%#" PRIx64 " CR4 reserved=%#" PRIx64 " EFER reserved=%#" PRIx64 "\n",
           n, model.vendor == VCORE_X86_VENDOR_INTEL ? "Intel" : "other", model.maxphyaddr,
           model.linear_bits, model.supported_xcr0, model.cr4_reserved, model.efer_reserved);

    /* An illegal value is refused with a named rule, and changes nothing. */
    vcore_x86_sregs_t sregs = reset.sregs;
    sregs.cr0 |= 1u << 31; /* PG without PE */
    int err = vcore_vcpu_set_sregs(vcpu, &sregs);
    vcore_diag_t diag = {.size = sizeof(diag)};
    if (check(vcore_vcpu_last_diag(vcpu, &diag), "last_diag"))
        return 1;
    printf("\nCR0.PG without PE -> %s: %s [%s] (%s)\n", vcore_err_name(err), diag.name,
           diag.message, diag.manual);

    /* Runtime CPUID bits follow the vCPU state: CR4.OSXSAVE -> CPUID.1:ECX.OSXSAVE. */
    vcore_cpuid_entry_t leaf1;
    if (check(vcore_vcpu_cpuid_query(vcpu, 1, 0, &leaf1), "CPUID query"))
        return 1;
    printf("CPUID.1:ECX.OSXSAVE before CR4.OSXSAVE: %u\n", (leaf1.ecx >> 27) & 1);
    sregs = reset.sregs;
    sregs.cr4 |= 1u << 18;
    if (check(vcore_vcpu_set_sregs(vcpu, &sregs), "set CR4.OSXSAVE") ||
        check(vcore_vcpu_set_xcr(vcpu, 0, 0x7), "set XCR0"))
        return 1;
    vcore_cpuid_entry_t leafd;
    if (check(vcore_vcpu_cpuid_query(vcpu, 1, 0, &leaf1), "CPUID query") ||
        check(vcore_vcpu_cpuid_query(vcpu, 0xd, 0, &leafd), "CPUID query"))
        return 1;
    printf("CPUID.1:ECX.OSXSAVE after:  %u; CPUID.0DH:EBX (XSAVE size for XCR0=7) = %u\n",
           (leaf1.ecx >> 27) & 1, leafd.ebx);

    /* Some state INIT must keep, some it must clear. */
    sregs.cr0 = 0x60000011; /* PE with caches still disabled (CD|NW) */
    sregs.efer = 0;
    if (check(vcore_vcpu_set_sregs(vcpu, &sregs), "set CR0") ||
        check(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, 0x0007010600070106ull), "set PAT") ||
        check(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_SYSENTER_CS, 0x10), "set SYSENTER_CS") ||
        check(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_LSTAR, 0xffffffff81000000ull), "set LSTAR"))
        return 1;
    vcore_x86_regs_t regs = reset.regs;
    regs.rip = 0x7c00;
    regs.gpr[VCORE_X86_RAX] = 0x1234;
    if (check(vcore_vcpu_set_regs(vcpu, &regs), "set regs") || demo_read(vcpu, &before))
        return 1;
    if (check(vcore_vcpu_init_signal(vcpu), "INIT") || demo_read(vcpu, &after))
        return 1;
    printf("\nINIT (RDX now carries CPUID.1:EAX = %#x):\n", model.signature);
    demo_compare(&before, &after);

    vcore_vm_destroy(vm);
    printf("\ndemo: ok\n");
    return 0;
}
