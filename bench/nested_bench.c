/*
 * nested_bench.c - the cost of the nested VMX pipeline on the mock.
 *
 *   bench_nested counts
 *       per L2 CPUID round trip (L2 exits, L1 reads the exit reason and
 *       advances L2's RIP, L1 VMRESUMEs): hardware VMCS accesses, writes of
 *       the 5 major control words, reads of rarely-accessed guest fields,
 *       with every seed optimisation on and with each one switched off.
 *   bench_nested OP ITERATIONS        (for bench/nested_callgrind.sh)
 *       roundtrip[_nosplit|_eager|_noshadow|_allchecks|_nohwshadow|_nofast|_early|_nofastentry]
 *                                             one round trip per iteration
 *                                             (_allchecks: every VM-entry check on
 *                                             every VMRESUME, not only changed inputs;
 *                                             _nohwshadow: L1's VMREAD/VMWRITE exit and
 *                                             are emulated, no hardware VMCS shadowing;
 *                                             _nofast: that, without the run loop's
 *                                             VMREAD/VMWRITE fast path; _early: the
 *                                             early hardware check on every entry;
 *                                             _nofastentry: VMRESUME through the full
 *                                             instruction emulation)
 *       l1exit                                L1 only: one HLT exit (the baseline)
 *       vmread63[_nofast|_nosync] / vmread0[_nofast|_nosync]
 *                                             63 (0) emulated VMREADs with a register
 *                                             operand, then HLT, per iteration
 *       vmwrite63[_nofast|_nosync] / vmwrite0[_nofast|_nosync]
 *                                             the same with VMWRITEs (of GUEST_RIP)
 *                                             (_nosync: the mock without vcpu_run_sync,
 *                                             the run loop's separate state calls)
 *       roundtrip_nosync                      roundtrip_nohwshadow, the same way
 * Callgrind's collection is on around vcore_vcpu_run() only (scripting the
 * mock is outside it); without valgrind the ops print nothing but run.
 * With hardware VMCS shadowing (the default where the backend offers it, as
 * the mock does) L1's VMREAD/VMWRITE of shadowed fields are run by the
 * mock's processor on the shadow VMCS without an exit
 * (vcore_mock_guest_vmx_access(), outside the measured runs); without it
 * they exit and are emulated through the run loop, with register operands
 * of a shadowed field on the run loop's fast path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>
#include <virtcore/backend.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nvmx_pipeline.h>

#define RAM (2u << 20)
#define VMXON_GPA 0x10000u
#define VMCS_GPA 0x11000u
#define OPND_GPA 0x20000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static vcore_nvmx_t *nv;
static uint8_t ram[RAM] __attribute__((aligned(4096)));
static uint8_t page[4096];
static uint64_t l2_rip = 0x401000;

static const uint32_t MEM_RBX = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23);
/* VMREAD RCX <- field in RDX / VMWRITE field in RDX <- RCX. */
static const uint32_t REGS = (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28);

static void check(int err, const char *what)
{
    if (err) {
        fprintf(stderr, "bench_nested: %s: %s\n", what, vcore_err_name(err));
        exit(1);
    }
}

static void set12(uint32_t enc, uint64_t v)
{
    check(vcore_vmcs12_set(page, enc, v), "vmcs12_set");
}

static void push(uint32_t reason, uint32_t op, uint32_t info)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = reason;
    e.u.vmx_insn.op = op;
    /* The basic exit reason, as a processor reports it, where the core
     * reads it: the emulated VMREAD/VMWRITE loop keys on it. */
    e.u.vmx_insn.basic_reason = op == VCORE_NVMX_VMWRITE ? VCORE_VMX_EXIT_VMWRITE
                                : op == VCORE_NVMX_VMREAD ? VCORE_VMX_EXIT_VMREAD
                                                         : 0;
    e.u.vmx_insn.insn_info = info;
    e.u.vmx_insn.insn_len = 3;
    check(vcore_mock_push_exit(vcpu, &e), "push_exit");
}

static bool early; /* the early hardware check runs: the processor answers it with exit 33 first */
static bool hwshadow; /* L0's hardware VMCS shadowing is on: L1's shadowed accesses do not exit */
static bool nobatch;  /* the mock without its batched VMCS read (backend.h: vmcs_read_many) */
static vcore_backend_t backend;

static void push_l2_cpuid(void)
{
    vcore_mock_vmcs_exit_t x;
    if (early) {
        memset(&x, 0, sizeof(x));
        x.size = sizeof(x);
        x.exit_reason = 0x80000021u;
        check(vcore_mock_push_vmcs_exit(vcpu, &x), "push_vmcs_exit");
    }
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.kind = 0; /* VCORE_HW_ENTRY_EXIT (backend.h) */
    x.exit_reason = 10; /* CPUID */
    x.nfields = 1;
    x.fields[0].encoding = VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN;
    x.fields[0].value = 2;
    check(vcore_mock_push_vmcs_exit(vcpu, &x), "push_vmcs_exit");
}

static void set_gprs(uint64_t rdx, uint64_t rcx, uint64_t rbx)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    check(vcore_vcpu_get_regs(vcpu, &r), "get_regs");
    r.gpr[2] = rdx;
    r.gpr[1] = rcx;
    r.gpr[3] = rbx;
    check(vcore_vcpu_set_regs(vcpu, &r), "set_regs");
}

/* Set once setup and the warm-up trip are done: only the measured
 * iterations are collected. */
static bool measuring;

/* Runs until the VMM sees an exit; collection only around the run. */
static uint32_t run(void)
{
    vcore_exit_t out;
    memset(&out, 0, sizeof(out));
    out.size = sizeof(out);
    if (measuring)
        CALLGRIND_TOGGLE_COLLECT;
    int err = vcore_vcpu_run(vcpu, &out);
    if (measuring)
        CALLGRIND_TOGGLE_COLLECT;
    check(err, "run");
    return out.reason;
}

/* The mock's table without vcpu_run_sync (the _nosync ops). */
static bool nosync;

static void setup(uint32_t opts, bool ctl_shadow)
{
    early = (opts & VCORE_NVMX_OPT_EARLY_HW_CHECK) != 0;
    hwshadow = !(opts & VCORE_NVMX_OPT_NO_HW_SHADOW);
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    backend = *vcore_backend_mock();
    if (nobatch)
        backend.vmcs_read_many = NULL; /* the core reads one field per backend call */
    if (nosync)
        backend.vcpu_run_sync = NULL; /* the run loop's separate state calls */
    cfg.backend = &backend;
    check(vcore_vm_create(&cfg, &vm), "vm_create");
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram};
    check(vcore_vm_map_memory(vm, &r), "map");
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    check(vcore_vcpu_create(vm, &vc, &vcpu), "vcpu_create");
    nv = vcore_vcpu_nvmx(vcpu);
    check(vcore_nvmx_set_options(nv, opts), "options");
    check(vcore_mock_set_ctl_shadow(vcpu, ctl_shadow), "ctl_shadow");
    /* L1: 64-bit, CPL 0, identity-mapped first 1 GiB, VMX on. */
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    check(vcore_vcpu_set_cpuid(vcpu, c, 5), "cpuid");
    uint64_t pte[3] = {0x2000 | 3, 0x3000 | 3, 0x83};
    check(vcore_vm_write_guest(vm, 0x1000, &pte[0], 8), "pml4");
    check(vcore_vm_write_guest(vm, 0x2000, &pte[1], 8), "pdpt");
    check(vcore_vm_write_guest(vm, 0x3000, &pte[2], 8), "pd");
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    check(vcore_vcpu_get_sregs(vcpu, &s), "get_sregs");
    s.cr0 = 0x80050033ull;
    s.cr3 = 0x1000;
    s.cr4 = 0x2020;
    s.efer = 0xd00;
    for (int i = 0; i < 6; i++) {
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffff;
        s.seg[i].selector = 0x10;
        s.seg[i].ar = 0xc093;
    }
    s.seg[1].selector = 0x8;
    s.seg[1].ar = 0xa09b;
    check(vcore_vcpu_set_sregs(vcpu, &s), "set_sregs");
    check(vcore_vcpu_set_msr(vcpu, 0x3a, 5), "feature_control");
    /* vmcs12: the reference state every entry check accepts. */
    memset(page, 0, sizeof(page));
    uint32_t rev = VCORE_VMCS12_REVISION;
    memcpy(page, &rev, 4);
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9));
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb | (1u << 9));
    set12(VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    set12(VCORE_VMCS_HOST_CR0, 0x80050033);
    set12(VCORE_VMCS_HOST_CR3, 0x1000);
    set12(VCORE_VMCS_HOST_CR4, 0x2020);
    set12(VCORE_VMCS_HOST_CS_SELECTOR, 0x08);
    set12(VCORE_VMCS_HOST_SS_SELECTOR, 0x10);
    set12(VCORE_VMCS_HOST_TR_SELECTOR, 0x18);
    set12(VCORE_VMCS_HOST_RIP, 0x200000);
    set12(VCORE_VMCS_GUEST_CR0, 0x80050033);
    set12(VCORE_VMCS_GUEST_CR3, 0x1000);
    set12(VCORE_VMCS_GUEST_CR4, 0x2020);
    set12(VCORE_VMCS_GUEST_DR7, 0x400);
    set12(VCORE_VMCS_GUEST_RIP, l2_rip);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2);
    set12(VCORE_VMCS_GUEST_CS_SELECTOR, 0x08);
    set12(VCORE_VMCS_GUEST_CS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa09b);
    set12(VCORE_VMCS_GUEST_SS_SELECTOR, 0x10);
    set12(VCORE_VMCS_GUEST_SS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc093);
    set12(VCORE_VMCS_GUEST_DS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_ES_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_FS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_GS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_LDTR_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_TR_SELECTOR, 0x18);
    set12(VCORE_VMCS_GUEST_TR_LIMIT, 0x67);
    set12(VCORE_VMCS_GUEST_TR_AR_BYTES, 0x8b);
    uint32_t v = VCORE_VMCS12_REVISION;
    check(vcore_vm_write_guest(vm, VMXON_GPA, &v, 4), "vmxon region");
    check(vcore_vm_write_guest(vm, VMCS_GPA, page, sizeof(page)), "vmcs region");
    uint64_t p = VMXON_GPA;
    check(vcore_vm_write_guest(vm, OPND_GPA, &p, 8), "operand");
    set_gprs(0, 0, OPND_GPA);
    push(VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMXON, MEM_RBX);
    p = VMCS_GPA;
    push(VCORE_EXIT_HLT, 0, 0);
    if (run() != VCORE_EXIT_HLT)
        exit(2);
    check(vcore_vm_write_guest(vm, OPND_GPA, &p, 8), "operand");
    push(VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMPTRLD, MEM_RBX);
    push(VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMLAUNCH, 0);
    push_l2_cpuid();
    push(VCORE_EXIT_HLT, 0, 0);
    if (run() != VCORE_EXIT_HLT)
        exit(3);
}

/* One round trip: L1 VMREADs the exit reason, VMWRITEs GUEST_RIP + 2,
 * VMRESUMEs; L2 exits on CPUID; L1 (at HOST_RIP) halts to the VMM. */
static void round_trip(void)
{
    l2_rip += 2;
    set_gprs(VCORE_VMCS_VM_EXIT_REASON, 0, 0);
    uint64_t v = 0;
    bool exits = true;
    if (hwshadow)
        check(vcore_mock_guest_vmx_access(vcpu, false, VCORE_VMCS_VM_EXIT_REASON, &v, &exits), "guest vmread");
    if (exits)
        push(VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMREAD, REGS);
    else if (v != 10)
        exit(6);
    push(VCORE_EXIT_HLT, 0, 0);
    if (run() != VCORE_EXIT_HLT)
        exit(4);
    set_gprs(VCORE_VMCS_GUEST_RIP, l2_rip, 0);
    v = l2_rip;
    exits = true;
    if (hwshadow)
        check(vcore_mock_guest_vmx_access(vcpu, true, VCORE_VMCS_GUEST_RIP, &v, &exits), "guest vmwrite");
    if (exits)
        push(VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMWRITE, REGS);
    push(VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMRESUME, 0);
    push_l2_cpuid();
    push(VCORE_EXIT_HLT, 0, 0);
    if (run() != VCORE_EXIT_HLT)
        exit(5);
}

static uint64_t group(uint32_t g, bool write)
{
    uint64_t r = 0, w = 0;
    check(vcore_mock_vmcs_group_count(vcpu, g, &r, &w), "group_count");
    return write ? w : r;
}

static void counts(const char *name, uint32_t opts, bool ctl_shadow)
{
    setup(opts, ctl_shadow);
    round_trip(); /* warm: vmcs02 exists, controls written once */
    check(vcore_mock_reset_counts(vcpu), "reset_counts");
    const uint32_t n = 10;
    for (uint32_t i = 0; i < n; i++)
        round_trip();
    static const uint32_t rare[] = {
        VCORE_VMCS_GUEST_ES_SELECTOR, VCORE_VMCS_GUEST_CS_SELECTOR, VCORE_VMCS_GUEST_SS_SELECTOR,
        VCORE_VMCS_GUEST_DS_SELECTOR, VCORE_VMCS_GUEST_FS_SELECTOR, VCORE_VMCS_GUEST_GS_SELECTOR,
        VCORE_VMCS_GUEST_LDTR_SELECTOR, VCORE_VMCS_GUEST_TR_SELECTOR, VCORE_VMCS_GUEST_ES_LIMIT,
        VCORE_VMCS_GUEST_CS_LIMIT, VCORE_VMCS_GUEST_SS_LIMIT, VCORE_VMCS_GUEST_DS_LIMIT,
        VCORE_VMCS_GUEST_FS_LIMIT, VCORE_VMCS_GUEST_GS_LIMIT, VCORE_VMCS_GUEST_LDTR_LIMIT,
        VCORE_VMCS_GUEST_TR_LIMIT, VCORE_VMCS_GUEST_GDTR_LIMIT, VCORE_VMCS_GUEST_IDTR_LIMIT,
        VCORE_VMCS_GUEST_ES_AR_BYTES, VCORE_VMCS_GUEST_DS_AR_BYTES, VCORE_VMCS_GUEST_FS_AR_BYTES,
        VCORE_VMCS_GUEST_GS_AR_BYTES, VCORE_VMCS_GUEST_LDTR_AR_BYTES, VCORE_VMCS_GUEST_TR_AR_BYTES,
        VCORE_VMCS_GUEST_ES_BASE, VCORE_VMCS_GUEST_CS_BASE, VCORE_VMCS_GUEST_SS_BASE,
        VCORE_VMCS_GUEST_DS_BASE, VCORE_VMCS_GUEST_FS_BASE, VCORE_VMCS_GUEST_GS_BASE,
        VCORE_VMCS_GUEST_LDTR_BASE, VCORE_VMCS_GUEST_TR_BASE, VCORE_VMCS_GUEST_GDTR_BASE,
        VCORE_VMCS_GUEST_IDTR_BASE, VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS,
        VCORE_VMCS_GUEST_BNDCFGS, VCORE_VMCS_GUEST_DR7};
    uint64_t rare_reads = 0;
    for (size_t i = 0; i < sizeof(rare) / sizeof(rare[0]); i++) {
        uint64_t r = 0;
        check(vcore_mock_vmcs_count(vcpu, rare[i], &r, NULL), "vmcs_count");
        rare_reads += r;
    }
    uint64_t acc = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ) + vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_WRITE);
    /* L0 exits: runs of L1 on vmcs01 (2 of them per trip end in the
     * bench's HLT to the VMM) and entries of L2 on vmcs02. */
    printf("%-34s %8.1f %8.1f %8.1f %10.1f %8.1f %8.1f %8.1f\n", name, (double)acc / n,
           (double)vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ) / n,
           (double)vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_WRITE) / n,
           (double)group(VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS, true) / n, (double)rare_reads / n,
           (double)(vcore_mock_count(vcpu, VCORE_MOCK_OP_RUN) - 2 * n) / n,
           (double)vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER) / n);
    vcore_vm_destroy(vm);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "counts")) {
        printf("Per L2 CPUID round trip on the mock (10 trips after a warm-up; L1 does 1 VMREAD, 1 VMWRITE, VMRESUME;\n"
               "L1-exits: L1 exits to L0 besides the bench's 2 HLTs; L2-runs: entries of vmcs02):\n");
        printf("%-34s %8s %8s %8s %10s %8s %8s %8s\n", "configuration", "VMCS", "reads", "writes", "major-ctl", "rare-rd",
               "L1-exits", "L2-runs");
        counts("all optimisations on", 0, true);
        counts("no hardware VMCS shadowing", VCORE_NVMX_OPT_NO_HW_SHADOW, true);
        counts("no hw shadowing, no fast path", VCORE_NVMX_OPT_NO_HW_SHADOW | VCORE_NVMX_OPT_NO_FAST_PATH, true);
        counts("every entry check (no gating)", VCORE_NVMX_OPT_ALL_CHECKS, true);
        counts("no constant/dirty split (full)", VCORE_NVMX_OPT_NO_DIRTY_SPLIT, true);
        counts("full + no control shadow", VCORE_NVMX_OPT_NO_DIRTY_SPLIT, false);
        counts("eager rare-field sync", VCORE_NVMX_OPT_EAGER_RARE_SYNC, true);
        counts("early hardware check", VCORE_NVMX_OPT_EARLY_HW_CHECK, true);
        counts("VMRESUME fully emulated", VCORE_NVMX_OPT_NO_FAST_ENTRY, true);
        nobatch = true;
        counts("backend without vmcs_read_many", 0, true);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: bench_nested counts | OP ITERATIONS\n");
        return 2;
    }
    const char *op = argv[1];
    unsigned long n = strtoul(argv[2], NULL, 0);
    uint32_t opts = 0;
    bool shadow = true;
    bool nofast = strstr(op, "_nofast") != NULL;
    nobatch = !strcmp(op, "roundtrip_nobatch");
    nosync = strstr(op, "_nosync") != NULL;
    if (!strcmp(op, "roundtrip_nosplit"))
        opts = VCORE_NVMX_OPT_NO_DIRTY_SPLIT;
    else if (!strcmp(op, "roundtrip_eager"))
        opts = VCORE_NVMX_OPT_EAGER_RARE_SYNC;
    else if (!strcmp(op, "roundtrip_noshadow"))
        opts = VCORE_NVMX_OPT_NO_DIRTY_SPLIT, shadow = false;
    else if (!strcmp(op, "roundtrip_allchecks"))
        opts = VCORE_NVMX_OPT_ALL_CHECKS;
    else if (!strcmp(op, "roundtrip_early"))
        opts = VCORE_NVMX_OPT_EARLY_HW_CHECK;
    else if (!strcmp(op, "roundtrip_nofastentry"))
        opts = VCORE_NVMX_OPT_NO_FAST_ENTRY;
    else if (!strcmp(op, "roundtrip_nohwshadow") || !strcmp(op, "roundtrip_nofast") ||
             !strcmp(op, "roundtrip_nosync") || !strncmp(op, "vmread", 6) || !strncmp(op, "vmwrite", 7))
        opts = VCORE_NVMX_OPT_NO_HW_SHADOW; /* the emulated VMREAD is what vmreadN measures */
    if (nofast)
        opts |= VCORE_NVMX_OPT_NO_FAST_PATH;
    setup(opts, shadow);
    round_trip();
    measuring = true;
    for (unsigned long i = 0; i < n; i++) {
        if (!strncmp(op, "roundtrip", 9)) {
            round_trip();
        } else if (!strcmp(op, "l1exit")) {
            push(VCORE_EXIT_HLT, 0, 0);
            (void)run();
        } else if (!strncmp(op, "vmread", 6) || !strncmp(op, "vmwrite", 7)) {
            bool write = op[2] == 'w';
            unsigned k = (unsigned)strtoul(op + (write ? 7 : 6), NULL, 10);
            set_gprs(VCORE_VMCS_GUEST_RIP, l2_rip, 0);
            for (unsigned j = 0; j < k; j++)
                push(VCORE_EXIT_VMX_INSN, write ? VCORE_NVMX_VMWRITE : VCORE_NVMX_VMREAD, REGS);
            push(VCORE_EXIT_HLT, 0, 0);
            (void)run();
        } else {
            fprintf(stderr, "unknown op %s\n", op);
            return 2;
        }
    }
    vcore_vm_destroy(vm);
    return 0;
}
