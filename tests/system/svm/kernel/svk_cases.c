/*
 * svk_cases.c - guests run through the public API on the svm backend: each
 * case loads a 64-bit snippet (svk_guests.S) and checks every exit it
 * produces and the registers it leaves; then the differential check of
 * VMRUN (svk_diff.c).
 */
#include "svk.h"

#define GCODE 0x10000ull    /* where guest code is copied */
#define GSTACK 0x1ff000ull
#define GGDT 0x4000ull
#define GIDT 0x5000ull
#define GHANDLERS 0x6000ull
#define GMMIO 0x10000000ull /* outside RAM */

#define SNIPPET(name)                                                                               \
    extern const uint8_t name[];                                                                    \
    extern const uint8_t name##_end[];
SNIPPET(s64_cpuid)
SNIPPET(s64_io)
SNIPPET(s64_outs)
SNIPPET(s64_vmmcall)
SNIPPET(s64_msr)
SNIPPET(s64_mmio)
SNIPPET(s64_idle)
SNIPPET(s64_sti)
SNIPPET(s64_cr4)
SNIPPET(s64_nmi_main)
SNIPPET(s64_handlers)
extern const uint8_t s64_outs_msg[], s64_outs_buf[];
extern const uint8_t s64_h_default[], s64_h_gp[], s64_h_irq[], s64_h_nmi[];

/* Fails the case with a message and a value. */
#define EXPECT(cond, msg, val)                                                                      \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            svk_why_str(why, msg);                                                                  \
            svk_why_str(why, " ");                                                                  \
            svk_why_hex(why, (uint64_t)(val));                                                      \
            return SVK_FAIL;                                                                        \
        }                                                                                           \
    } while (0)

/* Runs the vCPU and expects an exit reason. */
#define RUN_EXPECT(env, e, want)                                                                    \
    do {                                                                                            \
        int err_ = vcore_vcpu_run((env)->vcpu, (e));                                                \
        EXPECT(err_ == VCORE_OK, "run", err_);                                                      \
        if ((e)->reason != (uint32_t)(want)) {                                                      \
            svk_why_str(why, "exit ");                                                              \
            svk_why_str(why, vcore_exit_reason_name((e)->reason));                                  \
            svk_why_str(why, " code ");                                                             \
            svk_why_hex(why, (e)->raw.data[0]);                                                     \
            svk_why_str(why, " info1 ");                                                            \
            svk_why_hex(why, (e)->raw.qualification);                                               \
            svk_why_str(why, " rip ");                                                              \
            svk_why_hex(why, (e)->raw.data[3]);                                                     \
            svk_why_str(why, " intinfo ");                                                          \
            svk_why_hex(why, (e)->raw.data[2]);                                                     \
            svk_why_str(why, ", expected ");                                                        \
            svk_why_str(why, vcore_exit_reason_name(want));                                         \
            svk_why_str(why, " at line ");                                                          \
            svk_why_dec(why, __LINE__);                                                             \
            return SVK_FAIL;                                                                        \
        }                                                                                           \
    } while (0)

static vcore_x86_segment_t svk_seg(uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
    vcore_x86_segment_t s;
    memset(&s, 0, sizeof(s));
    s.selector = sel;
    s.base = base;
    s.limit = limit;
    s.ar = ar;
    return s;
}

/* The guest's tables: identity paging of the first 1 GiB with 2 MiB pages
 * (1000H-3FFFH), a GDT with a 64-bit code and a data segment, an IDT whose
 * gates lead to the handlers of svk_guests.S. */
static void svk_guest_tables(svk_env_t *env)
{
    uint64_t *pml4 = (uint64_t *)(void *)(env->ram + 0x1000);
    uint64_t *pdpt = (uint64_t *)(void *)(env->ram + 0x2000);
    uint64_t *pd = (uint64_t *)(void *)(env->ram + 0x3000);
    memset(pml4, 0, 0x3000);
    pml4[0] = 0x2000 | 3; /* present, writable */
    pdpt[0] = 0x3000 | 3;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | 0x83; /* 2 MiB page, present, writable */
    uint64_t *gdt = (uint64_t *)(void *)(env->ram + GGDT);
    gdt[0] = 0;
    gdt[1] = 0x00209a0000000000ull; /* 08H: 64-bit code, DPL 0 */
    gdt[2] = 0x00cf92000000ffffull; /* 10H: data */
    memcpy(env->ram + GHANDLERS, s64_handlers, (size_t)(s64_handlers_end - s64_handlers));
    uint64_t *idt = (uint64_t *)(void *)(env->ram + GIDT);
    for (uint32_t v = 0; v < 256; v++) {
        const uint8_t *h = v == 2 ? s64_h_nmi : v == 13 ? s64_h_gp : v == 0x30 ? s64_h_irq : s64_h_default;
        uint64_t off = GHANDLERS + (uint64_t)(h - s64_handlers);
        /* 64-bit interrupt gate: offset, selector 08H, present, type 0EH */
        idt[2 * v] = (off & 0xffffu) | (0x08ull << 16) | (0x8eull << 40) | ((off >> 16 & 0xffffu) << 48);
        idt[2 * v + 1] = off >> 32;
    }
}

/* Loads a snippet and puts the vCPU in 64-bit mode at its start. */
static int svk_load64(svk_env_t *env, const uint8_t *start, const uint8_t *end, uint64_t rflags,
                      svk_why_t *why)
{
    svk_guest_tables(env);
    memcpy(env->ram + GCODE, start, (size_t)(end - start));
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    int err = vcore_vcpu_get_sregs(env->vcpu, &sr);
    EXPECT(err == 0, "get_sregs", err);
    uint32_t data_ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
        sr.seg[i] = svk_seg(0x10, 0, 0xffffffffu, data_ar);
    sr.seg[VCORE_X86_CS] = svk_seg(0x08, 0, 0xffffffffu,
                                   VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_L | VCORE_X86_AR_G);
    sr.seg[VCORE_X86_LDTR] = svk_seg(0, 0, 0, VCORE_X86_AR_UNUSABLE);
    sr.seg[VCORE_X86_TR] = svk_seg(0x18, 0, 0x67, VCORE_X86_AR_P | 0xbu);
    sr.gdtr.base = GGDT;
    sr.gdtr.limit = 23;
    sr.idtr.base = GIDT;
    sr.idtr.limit = 256 * 16 - 1;
    sr.cr0 = 0x80000031ull; /* PG NE ET PE */
    sr.cr3 = 0x1000;
    sr.cr4 = 0x20;          /* PAE */
    sr.efer = 0x500;        /* LME LMA */
    err = vcore_vcpu_set_sregs(env->vcpu, &sr);
    EXPECT(err == 0, "set_sregs", err);
    vcore_x86_regs_t r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.rip = GCODE;
    r.rflags = rflags;
    r.gpr[VCORE_X86_RSP] = GSTACK;
    err = vcore_vcpu_set_regs(env->vcpu, &r);
    EXPECT(err == 0, "set_regs", err);
    vcore_x86_events_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.size = sizeof(ev);
    err = vcore_vcpu_set_events(env->vcpu, &ev);
    EXPECT(err == 0, "set_events", err);
    return SVK_PASS;
}

static vcore_exit_t svk_exit(void)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    return e;
}

static int svk_regs(svk_env_t *env, vcore_x86_regs_t *r, svk_why_t *why)
{
    r->size = sizeof(*r);
    int err = vcore_vcpu_get_regs(env->vcpu, r);
    EXPECT(err == 0, "get_regs", err);
    return SVK_PASS;
}

/* CPUID: the VMM's answer lands in EAX..EDX and the guest goes on. */
static int case_cpuid(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_cpuid, s64_cpuid_end, 2, why))
        return SVK_FAIL;
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_CPUID);
    EXPECT(e.u.cpuid.function == 0x40000001u, "function", e.u.cpuid.function);
    EXPECT(e.u.cpuid.index == 3, "index", e.u.cpuid.index);
    EXPECT(e.raw.data[0] == 0x72, "exit code", e.raw.data[0]);
    e.u.cpuid.eax = 0x11;
    e.u.cpuid.ebx = 0x22;
    e.u.cpuid.ecx = 0x33;
    e.u.cpuid.edx = 0x44;
    RUN_EXPECT(env, &e, VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RAX] == 0x11 && r.gpr[VCORE_X86_RBX] == 0x22, "eax/ebx", r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RCX] == 0x33 && r.gpr[VCORE_X86_RDX] == 0x44, "ecx/edx", r.gpr[VCORE_X86_RDX]);
    EXPECT(r.rip == GCODE + (uint64_t)(s64_cpuid_end - s64_cpuid) - 1, "rip at the HLT", r.rip);
    return SVK_PASS;
}

/* OUT, IN with a reply (32-bit, then 8-bit merging into AL). */
static int case_io(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_io, s64_io_end, 2, why))
        return SVK_FAIL;
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x80 && !e.u.io.is_in && e.u.io.width == 1, "out port", e.u.io.port);
    EXPECT(e.u.io.data[0] == 0x42, "out data", e.u.io.data[0]);
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x3f8 && e.u.io.is_in && e.u.io.width == 4, "in port", e.u.io.port);
    EXPECT(e.flags & VCORE_EXIT_F_NEEDS_REPLY, "needs reply", e.flags);
    memcpy(e.u.io.data, "\xbe\xba\xfe\xca", 4);
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x61 && e.u.io.width == 1, "in8 port", e.u.io.port);
    e.u.io.data[0] = 0x5a;
    RUN_EXPECT(env, &e, VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RBX] == 0xcafebabeu, "rbx", r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RAX] == 0xcafeba5au, "rax", r.gpr[VCORE_X86_RAX]);
    return SVK_PASS;
}

/* REP OUTSB and REP INSW through guest memory. */
static int case_string_io(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_outs, s64_outs_end, 2, why))
        return SVK_FAIL;
    uint64_t msg = GCODE + (uint64_t)(s64_outs_msg - s64_outs);
    uint64_t buf = GCODE + (uint64_t)(s64_outs_buf - s64_outs);
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x500 && e.u.io.count == 5 && !e.u.io.is_in, "outs", e.u.io.count);
    EXPECT(memcmp(e.u.io.data, "hello", 5) == 0, "outs data (EXITINFO1)", e.raw.qualification);
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x502 && e.u.io.count == 2 && e.u.io.width == 2 && e.u.io.is_in, "ins",
           e.u.io.count);
    memcpy(e.u.io.data, "\x34\x12\x78\x56", 4);
    RUN_EXPECT(env, &e, VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RBX] == msg + 5, "rsi after outs", r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RDI] == buf + 4, "rdi after ins", r.gpr[VCORE_X86_RDI]);
    EXPECT(r.gpr[VCORE_X86_RCX] == 0, "rcx", r.gpr[VCORE_X86_RCX]);
    EXPECT(memcmp(env->ram + buf, "\x34\x12\x78\x56", 4) == 0, "ins data", env->ram[buf]);
    return SVK_PASS;
}

/* VMMCALL as a hypercall: number and arguments out, return value in. */
static int case_vmmcall(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_vmmcall, s64_vmmcall_end, 2, why))
        return SVK_FAIL;
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_HYPERCALL);
    EXPECT(e.u.hypercall.nr == 7 && e.u.hypercall.args[0] == 11 && e.u.hypercall.args[1] == 22, "args",
           e.u.hypercall.args[0]);
    EXPECT(e.u.hypercall.longmode == 1, "longmode", e.u.hypercall.longmode);
    e.u.hypercall.ret = 0x1234;
    RUN_EXPECT(env, &e, VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RAX] == 0x1234, "rax", r.gpr[VCORE_X86_RAX]);
    return SVK_PASS;
}

/* RDMSR/WRMSR: unknown MSRs to the VMM; EFER answered by the core with SVME hidden. */
static int case_msr(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_msr, s64_msr_end, 2, why))
        return SVK_FAIL;
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_RDMSR);
    EXPECT(e.u.msr.index == 0x40000010u, "rdmsr index", e.u.msr.index);
    e.u.msr.value = 0x0123456789abcdefull;
    RUN_EXPECT(env, &e, VCORE_EXIT_WRMSR);
    EXPECT(e.u.msr.index == 0x40000011u, "wrmsr index", e.u.msr.index);
    EXPECT(e.u.msr.value == 0x0123456789abcdefull, "wrmsr value", e.u.msr.value);
    RUN_EXPECT(env, &e, VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RBX] == 0x89abcdefu && r.gpr[VCORE_X86_RSI] == 0x01234567u, "rdmsr result",
           r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RDI] == 0x500, "efer as the guest reads it", r.gpr[VCORE_X86_RDI]);
    return SVK_PASS;
}

/* MOVs to and from guest-physical addresses outside RAM: nested page faults
 * decoded into MMIO exits. */
static int case_mmio(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_mmio, s64_mmio_end, 2, why))
        return SVK_FAIL;
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GMMIO && e.u.mmio.is_write && e.u.mmio.len == 4, "write", e.u.mmio.gpa);
    EXPECT(memcmp(e.u.mmio.data, "\xfe\xca\0\0", 4) == 0, "write data", e.u.mmio.data[0]);
    RUN_EXPECT(env, &e, VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GMMIO + 4 && !e.u.mmio.is_write && e.u.mmio.len == 4, "read", e.u.mmio.gpa);
    memcpy(e.u.mmio.data, "\x44\x33\x22\x11", 4);
    RUN_EXPECT(env, &e, VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GMMIO + 2 && e.u.mmio.len == 1, "read8", e.u.mmio.gpa);
    e.u.mmio.data[0] = 0x77;
    RUN_EXPECT(env, &e, VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RCX] == 0x11223344u, "rcx", r.gpr[VCORE_X86_RCX]);
    EXPECT((r.gpr[VCORE_X86_RDX] & 0xff00u) == 0x7700u, "dh", r.gpr[VCORE_X86_RDX]);
    return SVK_PASS;
}

/* An injected #GP with an error code reaches the guest's handler. */
static int case_inject_exception(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_idle, s64_idle_end, 2, why))
        return SVK_FAIL;
    int err = vcore_vcpu_inject_exception(env->vcpu, 13, true, 0x18, 0);
    EXPECT(err == 0, "inject", err);
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe0 && e.u.io.data[0] == 0x0d, "handler", e.u.io.port);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RBX] == 0x18, "error code", r.gpr[VCORE_X86_RBX]);
    return SVK_PASS;
}

/* An injected external interrupt, delivered at once (IF = 1). */
static int case_inject_interrupt(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_idle, s64_idle_end, 2 | (1u << 9), why))
        return SVK_FAIL;
    int err = vcore_vcpu_inject_interrupt(env->vcpu, 0x30);
    EXPECT(err == 0, "inject", err);
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe0 && e.u.io.data[0] == 0x30, "handler", e.u.io.port);
    return SVK_PASS;
}

/* An interrupt raised while IF = 0 waits for STI and its shadow: the
 * interrupt window (V_IRQ and the VINTR intercept) opens after them. */
static int case_interrupt_window(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_sti, s64_sti_end, 2, why))
        return SVK_FAIL;
    int err = vcore_vcpu_inject_interrupt(env->vcpu, 0x30);
    EXPECT(err == 0, "inject", err);
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe0 && e.u.io.data[0] == 0x30, "handler", e.u.io.port);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RBX] == 2, "after the shadow", r.gpr[VCORE_X86_RBX]);
    return SVK_PASS;
}

/* MOV to CR4 of a bit the vCPU's CPUID hides: the core refuses it with #GP(0). */
static int case_cr4_refused(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_cr4, s64_cr4_end, 2, why))
        return SVK_FAIL;
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe0 && e.u.io.data[0] == 0x0d, "#GP handler", e.u.io.port);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.gpr[VCORE_X86_RBX] == 0, "error code", r.gpr[VCORE_X86_RBX]);
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    int err = vcore_vcpu_get_sregs(env->vcpu, &sr);
    EXPECT(err == 0 && sr.cr4 == 0x20, "cr4 unchanged", sr.cr4);
    return SVK_PASS;
}

/* An NMI blocks the next one until its handler's IRET (IRET intercept,
 * single step, then the NMI window). */
static int case_nmi_blocked_until_iret(svk_env_t *env, svk_why_t *why)
{
    if (svk_load64(env, s64_nmi_main, s64_nmi_main_end, 2, why))
        return SVK_FAIL;
    int err = vcore_vcpu_inject_nmi(env->vcpu);
    EXPECT(err == 0, "inject", err);
    vcore_exit_t e = svk_exit();
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe0 && e.u.io.data[0] == 2, "first NMI", e.u.io.port);
    err = vcore_vcpu_inject_nmi(env->vcpu);
    EXPECT(err == 0, "inject 2", err);
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe1, "handler not interrupted", e.u.io.port);
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe0 && e.u.io.data[0] == 2, "second NMI after IRET", e.u.io.port);
    RUN_EXPECT(env, &e, VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0xe1, "second handler", e.u.io.port);
    RUN_EXPECT(env, &e, VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    if (svk_regs(env, &r, why))
        return SVK_FAIL;
    EXPECT(r.rip == GCODE, "back at the HLT", r.rip);
    EXPECT((r.rflags & (1u << 8)) == 0, "TF not left set", r.rflags);
    return SVK_PASS;
}

/* The VMM exposes LA57, the processor lacks it: the core takes CR4.LA57, VMRUN
 * refuses it ("Any MBZ bit of CR4 is set"), reported as hardware-error data. */
static int case_vmexit_invalid(svk_env_t *env, svk_why_t *why)
{
    vcore_vcpu_t *v = NULL;
    int err = vcore_vcpu_create(env->vm, NULL, &v);
    EXPECT(err == 0, "vcpu", err);
    vcore_cpuid_entry_t t[3];
    uint32_t r[4];
    memset(t, 0, sizeof(t));
    svk_cpuid(0, 0, r);
    t[0].function = 0;
    t[0].eax = 7;
    t[0].ebx = r[1];
    t[0].ecx = r[2];
    t[0].edx = r[3];
    svk_cpuid(1, 0, r);
    t[1].function = 1;
    t[1].eax = r[0];
    t[1].edx = r[3];
    t[2].function = 7;
    t[2].flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
    t[2].ecx = 1u << 16; /* LA57 */
    err = vcore_vcpu_set_cpuid(v, t, 3);
    EXPECT(err == 0, "cpuid", err);
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    err = vcore_vcpu_get_sregs(v, &sr);
    EXPECT(err == 0, "get_sregs", err);
    sr.cr0 |= 1; /* protected mode, no paging */
    sr.cr4 = 1u << 12;
    err = vcore_vcpu_set_sregs(v, &sr);
    EXPECT(err == 0, "set_sregs", err);
    vcore_x86_segment_t cs = sr.seg[VCORE_X86_CS];
    (void)cs;
    vcore_exit_t e = svk_exit();
    err = vcore_vcpu_run(v, &e);
    EXPECT(err == 0, "run", err);
    EXPECT(e.reason == VCORE_EXIT_HW_ERROR, "exit code", e.raw.data[0]);
    EXPECT(e.u.hw_error.kind == 3, "kind", e.u.hw_error.kind);
    /* QEMU stores the 32-bit -1 (emulators.md); the APM's EXITCODE is 64 bits */
    EXPECT(e.raw.reason == 0xffffffffu, "exit code", e.raw.data[0]);
    svk_why_str(why, "exitcode ");
    svk_why_hex(why, e.raw.data[0]);
    vcore_vcpu_destroy(v);
    return SVK_PASS;
}

const svk_case_t svk_cases[] = {
    {"cpuid", case_cpuid},
    {"io_in_reply", case_io},
    {"string_io", case_string_io},
    {"vmmcall_hypercall", case_vmmcall},
    {"msr", case_msr},
    {"mmio_npf", case_mmio},
    {"inject_exception", case_inject_exception},
    {"inject_interrupt", case_inject_interrupt},
    {"interrupt_window", case_interrupt_window},
    {"cr4_refused", case_cr4_refused},
    {"nmi_blocked_until_iret", case_nmi_blocked_until_iret},
    {"vmexit_invalid", case_vmexit_invalid},
    {"vmrun_differential", svk_diff},
    {"hyperv.ipi_flush_9vcpus", svk_case_hyperv},
};
const uint32_t svk_ncases = sizeof(svk_cases) / sizeof(svk_cases[0]);
