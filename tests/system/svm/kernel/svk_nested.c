/*
 * svk_nested.c - the L0 -> L1 -> L2 suite on AMD SVM: the L1 hypervisor of
 * l1/ (its own SVM code, no libvirtcore) runs
 *   - bare on the emulated processor (the test kernel calls it at ring 0):
 *     the processor's own SVM answers, which checks L1's expectations
 *     (written from the APM) against the emulator; where the emulator
 *     departs from the APM, a row of svk_nested_devs explains it;
 *   - nested, as the guest of a libvirtcore vCPU with nested SVM on the svm
 *     backend: the library must give L1 the APM's answers.
 * One CASE line per L1 case and per broken VMCB, a boot of its own
 * (svk-nested.img).
 */
#include "svk.h"

#include "l1/l1svm.h"
#include "l1_boot.h"

extern const uint8_t svk_l1_image[], svk_l1_image_end[];

/*
 * What the library does for L1 on the svm backend. L1's SVM instructions
 * (CLGI, VMSAVE, VMLOAD, VMRUN, STGI) are emulated by the core
 * (vcore_nsvm_emulate()) once the backend hands them to it; running L2
 * needs the pipeline that runs vmcb02. Until each is 1, the cases that
 * need it are run and reported but not asserted (SKIP with what L1 saw).
 */
#ifndef SVK_NESTED_SVM_INSNS
#define SVK_NESTED_SVM_INSNS 1
#endif
#ifndef SVK_NESTED_RUNS_L2
#define SVK_NESTED_RUNS_L2 1
#endif

static const char *const svk_l1_case_names[] = {
#define SVK_L1_NAME(id, name, why) name,
    L1S_CASE_LIST(SVK_L1_NAME)
#undef SVK_L1_NAME
};

static const struct {
    const char *name;
    uint64_t code;
} svk_l1_vars[] = {
#define SVK_L1_VAR(id, name, code) {name, code},
    L1S_VAR_LIST(SVK_L1_VAR)
#undef SVK_L1_VAR
};

/* ---- known deviations of the emulators from the APM ----
 * X(ID, emulators (SVK_EMU_BOCHS, SVK_EMU_QEMU), case or variant name,
 *   exactly what L1 reports there, what the emulator does). A bare case
 * that fails is explained only by a row of this emulator naming that case
 * with L1's exact report; docs/svm-conformance.md quotes the APM. */
#define SVK_EMU_BOCHS 1u
#define SVK_EMU_QEMU 2u
#define SVK_NESTED_DEVIATIONS(X)                                                                   \
    X(IOIO_NO_ADDR_SIZE_OUT, SVK_EMU_QEMU, "l2.io_out_imm", "EXITINFO1 0x900040",                  \
      "IOIO EXITINFO1 of a non-string OUT has no address-size bit (A64, bit 9)")                   \
    X(IOIO_NO_ADDR_SIZE_IN, SVK_EMU_QEMU, "l2.io_in_dx", "EXITINFO1 0x3f80011",                    \
      "IOIO EXITINFO1 of a non-string IN has no address-size bit (A64, bit 9)")                    \
    X(GPAT_NOT_LOADED, SVK_EMU_QEMU, "l2.rdmsr_passthrough", "L2 read PAT 0x7040600070406",        \
      "VMRUN with nested paging does not load G_PAT: L2 reads L1's (power-up) PAT")               \
    X(EXITCODE_32BIT, SVK_EMU_QEMU, "vmrun", "EXITCODE 0xffffffff",                                \
      "VMEXIT_INVALID stored as the 32-bit FFFF_FFFFh, not -1 in 64 bits")

static const struct {
    const char *id;
    uint32_t emu;
    const char *where;
    const char *saw;
} svk_nested_devs[] = {
#define SVK_NDEV_ROW(id, emu, where, saw, what) {#id, (emu), (where), (saw)},
    SVK_NESTED_DEVIATIONS(SVK_NDEV_ROW)
#undef SVK_NDEV_ROW
};
#define SVK_NDEVS (sizeof(svk_nested_devs) / sizeof(svk_nested_devs[0]))

/* ---- result lines ---- */

static vtk_tally_t svk_tally;

static void svk_line(const char *prefix, const char *name, int res, const char *detail)
{
    vtk_tally_case(&svk_tally, prefix, name, res, detail);
}

static bool svk_streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* ---- loading L1 ---- */

static const l1s_header_t *svk_l1_load(uint8_t *region)
{
    size_t n = (size_t)(svk_l1_image_end - svk_l1_image);
    memset(region, 0, L1S_SIZE);
    memcpy(region + (L1S_IMAGE - L1S_BASE), svk_l1_image, n);
    const l1s_header_t *h = (const l1s_header_t *)(const void *)(region + (L1S_IMAGE - L1S_BASE));
    if (h->magic != L1S_HEADER_MAGIC || h->end > L1S_BASE + L1S_SIZE)
        return NULL;
    return h;
}

/* Bare: L1 at its link address, called at ring 0 on the emulated
 * processor. L1 restores EFER and VM_HSAVE_PA as it found them. */
static const l1s_report_t *svk_l1_bare(uint64_t mode)
{
    const l1s_header_t *h = svk_l1_load((uint8_t *)(uintptr_t)L1S_BASE);
    if (!h)
        return NULL;
    void (*entry)(uint64_t, uint64_t) = (void (*)(uint64_t, uint64_t))(uintptr_t)h->entry;
    entry(mode, 0);
    return (const l1s_report_t *)(uintptr_t)L1S_REPORT;
}

/* ---- nested: L1 as the guest of a libvirtcore vCPU ---- */

typedef struct svk_l1_vm {
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
    uint8_t *mem;
    const l1s_header_t *h;
    uint32_t vmm_exits;  /* exits the run loop returned to this VMM */
    uint32_t l0_io80;    /* L2's OUT to port 80H seen by the VMM */
    uint8_t l0_io80_val; /* the byte it wrote */
    /* What the vCPU's accessors showed at that exit (L2's state while L2
     * runs): AL, CR3, and L1's CR3 before L1 ran, for comparison. */
    uint64_t l0_io80_rax, l0_io80_cr3, l1_cr3;
    bool l0_io80_flag;   /* the exit carried VCORE_EXIT_F_L2 */
    svk_why_t stop;      /* why the run stopped, if not at L1's end */
} svk_l1_vm_t;

static const vtk_l1_layout_t svk_l1_layout = {L1S_BASE, L1S_BOOT_PML4, L1S_BOOT_PDPT, L1S_BOOT_PD,
                                              L1S_BOOT_GDT, L1S_BOOT_TSS, L1S_STACK_TOP};

/* Puts the vCPU at L1's entry in 64-bit mode. */
static int svk_l1_start(svk_l1_vm_t *v, uint64_t mode, uint64_t first)
{
    return vtk_l1_boot_start(v->vcpu, v->mem, &svk_l1_layout, v->h->entry, v->h->halt, mode, first);
}

/* L1's CPUID: the processor's basic and extended leaves up to 8000_000Ah,
 * vendor AMD, SVM set in 8000_0001h:ECX and 8000_000Ah saying what the
 * library offers L1 (revision 1, 16 ASIDs, @p features). */
static int svk_l1_cpuid(vcore_vcpu_t *vcpu, uint32_t features)
{
    static const uint32_t leaves[] = {0, 1, 0x80000000u, 0x80000001u, 0x80000008u, 0x8000000au};
    vcore_cpuid_entry_t t[6];
    for (unsigned i = 0; i < 6; i++) {
        uint32_t r[4];
        svk_cpuid(leaves[i], 0, r);
        t[i].function = leaves[i];
        t[i].index = 0;
        t[i].flags = 0;
        t[i].eax = r[0];
        t[i].ebx = r[1];
        t[i].ecx = r[2];
        t[i].edx = r[3];
    }
    t[0].eax = 1;
    t[2].eax = 0x8000000au;
    t[3].ecx |= 1u << 2; /* SVM */
    t[5].eax = 1;        /* SVM revision */
    t[5].ebx = 16;       /* NASID */
    t[5].ecx = 0;
    t[5].edx = features;
    return vcore_vcpu_set_cpuid(vcpu, t, 6);
}

static int svk_l1_vm_create(svk_l1_vm_t *v, uint32_t features, svk_why_t *why)
{
    static uint8_t *mem;
    vcore_vm_config_t cfg;
    memset(v, 0, sizeof(*v));
    if (!mem)
        mem = vtk_alloc_2m(1);
    if (!mem) {
        svk_why_str(why, "no memory for L1");
        return -1;
    }
    v->mem = mem;
    v->h = svk_l1_load(mem);
    if (!v->h) {
        svk_why_str(why, "bad L1 image");
        return -1;
    }
    vtk_l1_boot_area(mem, &svk_l1_layout);
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_svm();
    cfg.host = &svk_host;
    int err = vcore_vm_create(&cfg, &v->vm);
    if (!err) {
        vcore_mem_region_t r = {sizeof(r), L1S_BASE, L1S_SIZE, mem, 0};
        err = vcore_vm_map_memory(v->vm, &r);
    }
    if (!err) {
        vcore_vcpu_config_t vc;
        vcore_vcpu_config_init(&vc);
        vc.vendor = VCORE_X86_VENDOR_AMD;
        vc.nested = VCORE_NESTED_SVM;
        vc.nsvm_features = features;
        err = vcore_vcpu_create(v->vm, &vc, &v->vcpu);
    }
    if (!err)
        err = svk_l1_cpuid(v->vcpu, features);
    if (err) {
        svk_why_str(why, "VM/vCPU setup: ");
        svk_why_str(why, vcore_err_name(err));
        return -1;
    }
    return 0;
}

static void svk_l1_vm_destroy(svk_l1_vm_t *v)
{
    if (v->vcpu)
        vcore_vcpu_destroy(v->vcpu);
    if (v->vm)
        vcore_vm_destroy(v->vm);
    v->vcpu = NULL;
    v->vm = NULL;
}

/* The SVM instruction of an EXITCODE (APM "SVM Intercept Exit Codes"). */
static const char *svk_svm_insn_name(uint64_t code)
{
    static const char *const n[] = {"VMRUN", "VMMCALL", "VMLOAD", "VMSAVE", "STGI", "CLGI", "SKINIT"};
    return code >= 0x80 && code <= 0x86 ? n[code - 0x80] : NULL;
}

/* Runs L1 until it halts (returns 0) or stops for another reason (1, with
 * v->stop saying what L0 saw). L1's console bytes (port E9H) are copied to
 * the kernel's console. */
static int svk_l1_run(svk_l1_vm_t *v)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    v->stop.len = 0;
    v->stop.buf[0] = '\0';
    v->vmm_exits = 0;
    vcore_x86_sregs_t l1s;
    l1s.size = sizeof(l1s);
    v->l1_cr3 = vcore_vcpu_get_sregs(v->vcpu, &l1s) == 0 ? l1s.cr3 : 0;
    for (uint32_t n = 0; n < 100000; n++) {
        int err = vcore_vcpu_run(v->vcpu, &e);
        if (err) {
            vcore_diag_t d;
            d.size = sizeof(d);
            svk_why_str(&v->stop, "vcore_vcpu_run: ");
            svk_why_str(&v->stop, vcore_err_name(err));
            if (vcore_vcpu_last_diag(v->vcpu, &d) == 0 && d.id) {
                svk_why_str(&v->stop, " diag ");
                svk_why_str(&v->stop, d.name);
            }
            return 1;
        }
        v->vmm_exits++;
        switch (e.reason) {
        case VCORE_EXIT_IO:
            if (!e.u.io.is_in && e.u.io.port == L1S_PORT_LOG) {
                for (uint32_t i = 0; i < e.u.io.width * e.u.io.count; i++)
                    vtk_putc((char)e.u.io.data[i]);
                continue;
            }
            if (!e.u.io.is_in && e.u.io.port == L2S_PORT_PASS && e.u.io.width == 1) {
                v->l0_io80++;
                v->l0_io80_val = e.u.io.data[0];
                v->l0_io80_flag = (e.flags & VCORE_EXIT_F_L2) != 0;
                vcore_x86_regs_t r2;
                vcore_x86_sregs_t s2;
                r2.size = sizeof(r2);
                s2.size = sizeof(s2);
                v->l0_io80_rax = vcore_vcpu_get_regs(v->vcpu, &r2) == 0 ? r2.gpr[VCORE_X86_RAX] : 0;
                v->l0_io80_cr3 = vcore_vcpu_get_sregs(v->vcpu, &s2) == 0 ? s2.cr3 : 0;
                vtk_puts("L0 (test kernel + libvirtcore): L2 exit OUT 80h = ");
                vtk_puthex(e.u.io.data[0]);
                vtk_puts(": handled by L0 because L1's IOPM bit 80h is clear\n");
                continue;
            }
            svk_why_str(&v->stop, "unexpected I/O exit, port ");
            svk_why_hex(&v->stop, e.u.io.port);
            return 1;
        case VCORE_EXIT_CPUID: {
            /* The VMM answers CPUID from the vCPU's table (L1 checks the SVM bit). */
            vcore_cpuid_entry_t ce;
            if (vcore_vcpu_cpuid_query(v->vcpu, e.u.cpuid.function, e.u.cpuid.index, &ce) != 0)
                memset(&ce, 0, sizeof(ce));
            e.u.cpuid.eax = ce.eax;
            e.u.cpuid.ebx = ce.ebx;
            e.u.cpuid.ecx = ce.ecx;
            e.u.cpuid.edx = ce.edx;
            continue;
        }
        case VCORE_EXIT_RDMSR:
            /* VM_CR ("VM_CR MSR (C001_0114h)"): SVMDIS clear, LOCK set - a
             * value the emulated processors do not give, so L2's read of it
             * (which L1 does not intercept) shows whether L0 answered it. */
            if (e.u.msr.index == 0xc0010114u) {
                e.u.msr.value = 0x8;
                e.u.msr.error = 0;
                continue;
            }
            svk_why_str(&v->stop, "unexpected RDMSR ");
            svk_why_hex(&v->stop, e.u.msr.index);
            return 1;
        case VCORE_EXIT_HLT:
            return 0;
        case VCORE_EXIT_SVM_INSN:
            svk_why_str(&v->stop, "vcore_vcpu_run returned L1's SVM instruction (op ");
            svk_why_dec(&v->stop, e.u.svm_insn.op);
            svk_why_str(&v->stop, ") to the VMM as VCORE_EXIT_SVM_INSN: L2 never ran");
            return 1;
        default: {
            const char *insn = e.reason == VCORE_EXIT_RAW ? svk_svm_insn_name(e.raw.reason) : NULL;
            if (insn) {
                svk_why_str(&v->stop, "the svm backend handed L1's ");
                svk_why_str(&v->stop, insn);
                svk_why_str(&v->stop, " (EXITCODE ");
                svk_why_hex(&v->stop, e.raw.reason);
                svk_why_str(&v->stop, ") to the VMM as a raw exit: the library did not emulate it");
                return 1;
            }
            svk_why_str(&v->stop, "unexpected exit ");
            svk_why_str(&v->stop, vcore_exit_reason_name(e.reason));
            svk_why_str(&v->stop, " raw ");
            svk_why_hex(&v->stop, e.raw.reason);
            svk_why_str(&v->stop, " info1 ");
            svk_why_hex(&v->stop, e.raw.qualification);
            return 1;
        }
        }
    }
    svk_why_str(&v->stop, "L1 did not finish in 100000 exits");
    return 1;
}

/* ---- printing L1's verdicts ---- */

/* The deviation row of this emulator for a case where L1 saw @p saw, or -1. */
static int svk_nested_dev(const svk_env_t *env, const char *name, const char *saw)
{
    uint32_t emu = env->qemu ? SVK_EMU_QEMU : SVK_EMU_BOCHS;
    for (uint32_t i = 0; i < SVK_NDEVS; i++)
        if ((svk_nested_devs[i].emu & emu) && svk_streq(svk_nested_devs[i].where, name) &&
            svk_streq(svk_nested_devs[i].saw, saw))
            return (int)i;
    return -1;
}

/* Cases the library must emulate L1's SVM instructions for (VMSAVE on). */
static bool svk_case_needs_insns(uint32_t c)
{
    return c >= L1S_CASE_VMCB;
}

/* Cases that need L2 to run (everything from a successful VMRUN on). */
static bool svk_case_needs_l2(uint32_t c)
{
    return c >= L1S_CASE_VMRUN;
}

/* nested: NULL for a bare run, else the VM L1 ran in (what L0's VMM saw). */
static void svk_print_cases(const svk_env_t *env, const char *prefix, const l1s_report_t *r, const char *stop,
                            const svk_l1_vm_t *nested, bool np)
{
    for (uint32_t c = 0; c < L1S_NCASES; c++) {
        svk_why_t l;
        l.len = 0;
        l.buf[0] = '\0';
        uint32_t st = r ? r->cases[c].state : L1S_NOT_RUN;
        int res = st == L1S_PASS ? SVK_PASS : st == L1S_SKIP ? SVK_SKIP : SVK_FAIL;
        if (st == L1S_FAIL || st == L1S_SKIP)
            svk_why_str(&l, r->cases[c].detail);
        /* L1 must use nested paging exactly when it was offered and asked for. */
        if (c == L1S_CASE_NPF && st != L1S_NOT_RUN && (st == L1S_SKIP) == np) {
            svk_why_str(&l, np ? " (but nested paging was offered to L1)" : " (but nested paging was not offered)");
            res = SVK_FAIL;
        }
        /* An access of L2 that L1 does not intercept is L1's own access,
         * which L0 intercepts (its IOPM has every port): L2's OUT to port
         * 80h reaches L0's VMM once, with L2's byte, and nothing else sees it. */
        if (nested && c == L1S_CASE_IO_PASS && st == L1S_PASS &&
            (nested->l0_io80 != 1 || nested->l0_io80_val != L2S_PASS_VALUE)) {
            svk_why_str(&l, "L0's VMM saw ");
            svk_why_dec(&l, nested->l0_io80);
            svk_why_str(&l, " OUT to port 80h (want 1 of ");
            svk_why_hex(&l, L2S_PASS_VALUE);
            svk_why_str(&l, "): L2 reached the port L0 intercepts for L1 without L0");
            res = SVK_FAIL;
        }
        /* That exit is L2's (flag F_L2) and the vCPU's accessors show L2:
         * AL is the byte L2 wrote, CR3 is L2's (L1 gave it its own tables),
         * not L1's. */
        if (nested && c == L1S_CASE_IO_PASS && st == L1S_PASS && nested->l0_io80 == 1 &&
            (!nested->l0_io80_flag || (nested->l0_io80_rax & 0xffu) != L2S_PASS_VALUE ||
             nested->l0_io80_cr3 == nested->l1_cr3)) {
            svk_why_str(&l, "L0's VMM saw flag L2 ");
            svk_why_dec(&l, nested->l0_io80_flag ? 1u : 0u);
            svk_why_str(&l, ", RAX ");
            svk_why_hex(&l, nested->l0_io80_rax);
            svk_why_str(&l, ", CR3 ");
            svk_why_hex(&l, nested->l0_io80_cr3);
            svk_why_str(&l, " (L1's ");
            svk_why_hex(&l, nested->l1_cr3);
            svk_why_str(&l, "): the accessors did not show L2's state");
            res = SVK_FAIL;
        }
        if (st == L1S_NOT_RUN) {
            svk_why_str(&l, "not reached: ");
            svk_why_str(&l, stop && *stop ? stop : "L1 stopped earlier");
        }
        if (!nested && res == SVK_FAIL && st == L1S_FAIL) {
            int d = svk_nested_dev(env, svk_l1_case_names[c], r->cases[c].detail);
            if (d >= 0) {
                svk_why_str(&l, " (known deviation ");
                svk_why_str(&l, svk_nested_devs[d].id);
                svk_why_str(&l, ")");
                res = SVK_PASS;
            }
        }
        if (nested && ((!SVK_NESTED_SVM_INSNS && svk_case_needs_insns(c)) ||
                       (!SVK_NESTED_RUNS_L2 && svk_case_needs_l2(c)))) {
            svk_why_t s;
            s.len = 0;
            svk_why_str(&s, svk_case_needs_l2(c) ? "not asserted (needs L2 run by the library); L1 saw "
                                                  : "not asserted (needs L1's SVM instructions emulated); L1 saw ");
            svk_why_str(&s, st == L1S_PASS ? "PASS" : st == L1S_SKIP ? "SKIP" : st == L1S_FAIL ? "FAIL" : "nothing");
            svk_why_str(&s, ": ");
            svk_why_str(&s, l.buf);
            l = s;
            res = SVK_SKIP;
        }
        svk_line(prefix, svk_l1_case_names[c], res, l.buf);
    }
}

/* ---- the suite ---- */

static void svk_bare_l2(const svk_env_t *env, const char *prefix, uint64_t mode)
{
    const l1s_report_t *r = svk_l1_bare(mode);
    bool np = !(mode & L1S_MODE_NO_NP) && (env->svm_features & VCORE_SVM_FEAT_NP);
    svk_print_cases(env, prefix, r, r && r->done ? "" : "L1 did not finish", NULL, np);
}

static bool svk_var_is_apm(const l1s_outcome_t *o, uint32_t v)
{
    return o->state == L1S_PASS && o->exitcode == svk_l1_vars[v].code;
}

static l1s_outcome_t svk_bare_vars[L1S_NVARS];

/* The broken VMCBs on the emulated processor, compared with the APM. */
static void svk_bare_vmrun(const svk_env_t *env)
{
    const l1s_report_t *r = svk_l1_bare(L1S_MODE_VMRUN_CHECKS);
    for (uint32_t v = 0; v < L1S_NVARS; v++) {
        svk_why_t l;
        l.len = 0;
        l.buf[0] = '\0';
        int res = SVK_FAIL;
        if (r && r->vars[v].state == L1S_PASS) {
            svk_bare_vars[v] = r->vars[v];
            svk_why_str(&l, "EXITCODE ");
            svk_why_hex(&l, r->vars[v].exitcode);
            if (svk_var_is_apm(&r->vars[v], v)) {
                res = SVK_PASS;
            } else {
                svk_why_str(&l, " APM ");
                svk_why_hex(&l, svk_l1_vars[v].code);
                /* QEMU's 32-bit VMEXIT_INVALID: the same refusal, stored short. */
                svk_why_t saw;
                saw.len = 0;
                svk_why_str(&saw, "EXITCODE ");
                svk_why_hex(&saw, r->vars[v].exitcode);
                int d = svk_nested_dev(env, "vmrun", saw.buf);
                if (d >= 0 && svk_l1_vars[v].code == L1S_EXITCODE_INVALID) {
                    svk_why_str(&l, " (known deviation ");
                    svk_why_str(&l, svk_nested_devs[d].id);
                    svk_why_str(&l, ")");
                    res = SVK_PASS;
                }
            }
        } else {
            svk_why_str(&l, "not run");
        }
        svk_line("bare.", svk_l1_vars[v].name, res, l.buf);
    }
}

static void svk_nested_l2(const svk_env_t *env, const char *prefix, uint32_t features)
{
    static svk_l1_vm_t v;
    svk_why_t why;
    why.len = 0;
    why.buf[0] = '\0';
    const l1s_report_t *r = NULL;
    const char *stop = why.buf;
    if (svk_l1_vm_create(&v, features, &why) == 0 && svk_l1_start(&v, L1S_MODE_NESTED, 0) == 0) {
        int rc = svk_l1_run(&v);
        r = (const l1s_report_t *)(const void *)(v.mem + (L1S_REPORT - L1S_BASE));
        if (r->magic != L1S_REPORT_MAGIC)
            r = NULL;
        stop = rc ? v.stop.buf : "";
        if (rc) {
            vtk_puts("L0 (test kernel + libvirtcore): L1 stopped: ");
            vtk_puts(v.stop.buf);
            vtk_puts("\n");
        }
    }
    svk_print_cases(env, prefix, r, stop, &v, (features & VCORE_SVM_FEAT_NP) != 0);
    svk_l1_vm_destroy(&v);
}

/* The broken VMCBs through the library: VMEXIT_INVALID exactly as the APM
 * says (-1 in all 64 bits). When the run stops at an instruction the
 * library hands to the VMM, L1 is restarted at the next variant. */
static void svk_nested_vmrun(const svk_env_t *env)
{
    (void)env;
    static svk_l1_vm_t v;
    static svk_why_t stops[L1S_NVARS];
    svk_why_t w;
    w.len = 0;
    w.buf[0] = '\0';
    const l1s_report_t *r = NULL;
    for (uint32_t i = 0; i < L1S_NVARS; i++)
        stops[i].len = 0, stops[i].buf[0] = '\0';
    if (svk_l1_vm_create(&v, VCORE_NSVM_FEATURES_EMULATED, &w) == 0) {
        r = (const l1s_report_t *)(const void *)(v.mem + (L1S_REPORT - L1S_BASE));
        uint64_t first = 0;
        while (first < L1S_NVARS) {
            if (first && vcore_vcpu_reset(v.vcpu) != 0) {
                svk_why_str(&w, "vcore_vcpu_reset failed");
                break;
            }
            if (svk_l1_start(&v, L1S_MODE_VMRUN_CHECKS | L1S_MODE_NESTED | (first ? L1S_MODE_QUIET : 0), first) != 0) {
                svk_why_str(&w, "cannot start L1");
                break;
            }
            if (svk_l1_run(&v) == 0)
                break;
            uint32_t at = r->magic == L1S_REPORT_MAGIC ? r->next_var : 0;
            if (r->magic != L1S_REPORT_MAGIC || at >= L1S_NVARS || at < first) {
                svk_why_str(&w, v.stop.buf);
                break;
            }
            stops[at] = v.stop;
            first = at + 1;
        }
        if (r->magic != L1S_REPORT_MAGIC)
            r = NULL;
    }
    for (uint32_t i = 0; i < L1S_NVARS; i++) {
        svk_why_t l;
        l.len = 0;
        l.buf[0] = '\0';
        const l1s_outcome_t *o = r ? &r->vars[i] : NULL;
        bool apm = o && svk_var_is_apm(o, i);
        int res = apm ? SVK_PASS : SVK_FAIL;
        svk_why_str(&l, "l1-saw=");
        if (o && o->state == L1S_PASS)
            svk_why_hex(&l, o->exitcode);
        else
            svk_why_str(&l, "not-run");
        svk_why_str(&l, " emulated-cpu=");
        if (svk_bare_vars[i].state == L1S_PASS)
            svk_why_hex(&l, svk_bare_vars[i].exitcode);
        else
            svk_why_str(&l, "not-run");
        svk_why_str(&l, " apm=");
        svk_why_hex(&l, svk_l1_vars[i].code);
        if (!o || o->state != L1S_PASS) {
            svk_why_str(&l, "; ");
            svk_why_str(&l, stops[i].len ? stops[i].buf : w.buf);
        }
        bool needs_l2 = svk_l1_vars[i].code != L1S_EXITCODE_INVALID;
        if (!SVK_NESTED_SVM_INSNS || (needs_l2 && !SVK_NESTED_RUNS_L2)) {
            svk_why_t s;
            s.len = 0;
            svk_why_str(&s, needs_l2 ? "not asserted (needs L2 run by the library): "
                                     : "not asserted (needs L1's SVM instructions emulated): ");
            svk_why_str(&s, l.buf);
            l = s;
            res = SVK_SKIP;
        }
        svk_line("nested.", svk_l1_vars[i].name, res, l.buf);
    }
    svk_l1_vm_destroy(&v);
}

/* The boot: bare runs first (the processor's SVM as L1 alone uses it),
 * then the same L1 through the library. */
void svk_nested_main(svk_env_t *env)
{
    uint64_t t0 = vtk_rdtsc();
    uint32_t total = 4 * L1S_NCASES + 2 * L1S_NVARS;
    vtk_puts("VTK-BEGIN cases=");
    vtk_putdec(total);
    vtk_puts("\n");
    uint32_t r[4];
    svk_cpuid(0x8000000au, 0, r);
    env->svm_features = r[3];
    svk_cpuid(0x80000008u, 0, r);
    env->maxphyaddr = r[0] & 0xffu;
    env->qemu = svk_is_qemu();
    vtk_puts("SETUP emulator=");
    vtk_puts(env->qemu ? "qemu" : "bochs");
    vtk_puts(" svm-features=");
    vtk_puthex(env->svm_features);
    vtk_puts(" maxphyaddr=");
    vtk_putdec(env->maxphyaddr);
    vtk_puts("\n");

    vtk_puts("RUN bare.l2\n");
    svk_bare_l2(env, "bare.", 0);
    vtk_puts("RUN bare_nonp.l2\n");
    svk_bare_l2(env, "bare_nonp.", L1S_MODE_NO_NP | L1S_MODE_QUIET);
    vtk_puts("RUN bare.vmrun\n");
    svk_bare_vmrun(env);
    vtk_puts("RUN nested.l2\n");
    svk_nested_l2(env, "nested.", VCORE_NSVM_FEATURES_EMULATED);
    vtk_puts("RUN nested_nonp.l2\n");
    svk_nested_l2(env, "nested_nonp.", VCORE_NSVM_FEATURES_EMULATED & ~VCORE_SVM_FEAT_NP);
    vtk_puts("RUN nested.vmrun\n");
    svk_nested_vmrun(env);

    vtk_tally_summary(&svk_tally, false, t0);
    vtk_shutdown();
}
