/*
 * cases.c - the case table: guests run through the public API, and raw
 * VMCS states recorded with the primitives.
 */
#include "cases.h"

#include "backend-vmx/vmx_prim.h"

#define GCODE 0x10000ull  /* where guest code is copied */
#define GSTACK 0x1ff000ull
#define GMMIO 0x10000000ull
#define GRO 0x400000ull   /* read-only RAM page */

#define SNIPPET(name)                                                                               \
    extern const uint8_t name[];                                                                    \
    extern const uint8_t name##_end[];
SNIPPET(g64_cpuid)
SNIPPET(g64_io)
SNIPPET(g64_outs)
SNIPPET(g64_vmcall)
SNIPPET(g64_msr)
SNIPPET(g64_mmio)
SNIPPET(g64_ud)
SNIPPET(g64_lazy)
SNIPPET(g64_ro)
SNIPPET(g64_triple)
SNIPPET(g64_lstar)
SNIPPET(g16_real)
SNIPPET(g64_ev)
extern const uint8_t g64_outs_msg[], g64_outs_buf[];
extern const uint8_t g64_ev_gp[], g64_ev_irq[], g64_ev_nmi[], g64_ev_main_irq[], g64_ev_main_nmi[],
    g64_ev_main_sti[], g64_ev_sti_after[], g64_ev_main_cr4[], g64_ev_main_efer[], g64_ev_main_hlt[];

/* Fails the case with a message and a value. */
#define EXPECT(cond, msg, val)                                                                      \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            vtk_why_str(why, msg);                                                                  \
            vtk_why_str(why, " ");                                                                  \
            vtk_why_hex(why, (uint64_t)(val));                                                      \
            return VTK_FAIL;                                                                        \
        }                                                                                           \
    } while (0)

static vcore_x86_segment_t vtk_seg(uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
    vcore_x86_segment_t s;
    memset(&s, 0, sizeof(s));
    s.selector = sel;
    s.base = base;
    s.limit = limit;
    s.ar = ar;
    return s;
}

/* Identity-maps the first 1 GiB of guest memory with 2 MiB pages at GPA 1000H-3FFFH. */
static void vtk_guest_paging(vtk_env_t *env)
{
    uint64_t *pml4 = (uint64_t *)(void *)(env->ram + 0x1000);
    uint64_t *pdpt = (uint64_t *)(void *)(env->ram + 0x2000);
    uint64_t *pd = (uint64_t *)(void *)(env->ram + 0x3000);
    memset(pml4, 0, 0x3000);
    pml4[0] = 0x2000 | 3; /* present, writable */
    pdpt[0] = 0x3000 | 3;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | 0x83; /* 2 MiB page, present, writable */
}

/* Loads a snippet and puts the vCPU in 64-bit mode at its start. */
static int vtk_load64(vtk_env_t *env, const uint8_t *start, const uint8_t *end, vtk_why_t *why)
{
    vtk_guest_paging(env);
    memcpy(env->ram + GCODE, start, (size_t)(end - start));
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    int err = vcore_vcpu_get_sregs(env->vcpu, &sr);
    EXPECT(err == 0, "get_sregs", err);
    uint32_t data_ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
        sr.seg[i] = vtk_seg(0x10, 0, 0xffffffffu, data_ar);
    sr.seg[VCORE_X86_CS] =
        vtk_seg(0x08, 0, 0xffffffffu, VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_L | VCORE_X86_AR_G);
    sr.seg[VCORE_X86_LDTR] = vtk_seg(0, 0, 0, VCORE_X86_AR_UNUSABLE);
    sr.seg[VCORE_X86_TR] = vtk_seg(0x18, 0, 0x67, VCORE_X86_AR_P | 0xbu);
    sr.gdtr.base = 0;
    sr.gdtr.limit = 0;
    sr.idtr.base = 0;
    sr.idtr.limit = 0;
    sr.cr0 = 0x80000031ull; /* PG, NE, ET, PE */
    sr.cr3 = 0x1000;
    sr.cr4 = 0x20;          /* PAE */
    sr.efer = 0x500;        /* LMA, LME */
    err = vcore_vcpu_set_sregs(env->vcpu, &sr);
    EXPECT(err == 0, "set_sregs (64-bit)", err);
    vcore_x86_regs_t r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.rip = GCODE;
    r.gpr[VCORE_X86_RSP] = GSTACK;
    r.rflags = 2;
    err = vcore_vcpu_set_regs(env->vcpu, &r);
    EXPECT(err == 0, "set_regs", err);
    return VTK_PASS;
}

static int vtk_get_regs(vtk_env_t *env, vcore_x86_regs_t *r)
{
    r->size = sizeof(*r);
    return vcore_vcpu_get_regs(env->vcpu, r);
}

/* Runs once and checks the generic reason. */
static int vtk_run(vtk_env_t *env, vcore_exit_t *e, uint32_t want, vtk_why_t *why)
{
    int err = vcore_vcpu_run(env->vcpu, e);
    if (err) {
        vtk_why_str(why, "run error ");
        vtk_why_str(why, vcore_err_name(err));
        return VTK_FAIL;
    }
    if (e->reason != want) {
        vtk_why_str(why, "exit ");
        vtk_why_str(why, vcore_exit_reason_name(e->reason));
        vtk_why_str(why, " want ");
        vtk_why_str(why, vcore_exit_reason_name(want));
        vtk_why_str(why, " raw ");
        vtk_why_hex(why, e->raw.reason);
        vtk_why_str(why, " q ");
        vtk_why_hex(why, e->raw.qualification);
        if (e->reason == VCORE_EXIT_HW_ERROR) {
            vtk_why_str(why, " vmfail ");
            vtk_why_hex(why, (uint64_t)e->u.hw_error.kind);
            vtk_why_str(why, "/");
            vtk_why_hex(why, e->u.hw_error.instr_error);
        }
        return VTK_FAIL;
    }
    return VTK_PASS;
}

#define RUN(want)                                                                                   \
    do {                                                                                            \
        if (vtk_run(env, &e, (want), why) != VTK_PASS)                                              \
            return VTK_FAIL;                                                                        \
    } while (0)
#define LOAD64(name)                                                                                \
    do {                                                                                            \
        if (vtk_load64(env, name, name##_end, why) != VTK_PASS)                                     \
            return VTK_FAIL;                                                                        \
    } while (0)

static int case_cpuid(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_cpuid);
    RUN(VCORE_EXIT_CPUID);
    EXPECT(e.u.cpuid.function == 0x40000000u, "cpuid function", e.u.cpuid.function);
    EXPECT(e.u.cpuid.index == 7, "cpuid index", e.u.cpuid.index);
    EXPECT(e.flags & VCORE_EXIT_F_NEEDS_REPLY, "needs reply", e.flags);
    e.u.cpuid.eax = 0x11111111u;
    e.u.cpuid.ebx = 0x22222222u;
    e.u.cpuid.ecx = 0x33333333u;
    e.u.cpuid.edx = 0x44444444u;
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RAX] == 0x11111111u, "rax", r.gpr[VCORE_X86_RAX]);
    EXPECT(r.gpr[VCORE_X86_RBX] == 0x22222222u, "rbx", r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RCX] == 0x33333333u, "rcx", r.gpr[VCORE_X86_RCX]);
    EXPECT(r.gpr[VCORE_X86_RDX] == 0x44444444u, "rdx", r.gpr[VCORE_X86_RDX]);
    /* At a HLT exit RIP still points at the HLT. */
    EXPECT(r.rip == GCODE + (uint64_t)(g64_cpuid_end - g64_cpuid) - 1, "rip", r.rip);
    return VTK_PASS;
}

static int case_io(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_io);
    RUN(VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x80 && e.u.io.width == 1 && !e.u.io.is_in && e.u.io.count == 1, "out port",
           e.u.io.port);
    EXPECT(e.u.io.data && e.u.io.data[0] == 0x42, "out data", e.u.io.data ? e.u.io.data[0] : 0xff);
    RUN(VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x3f8 && e.u.io.width == 4 && e.u.io.is_in, "in port", e.u.io.port);
    EXPECT(e.flags & VCORE_EXIT_F_NEEDS_REPLY, "needs reply", e.flags);
    e.u.io.data[0] = 0xef;
    e.u.io.data[1] = 0xbe;
    e.u.io.data[2] = 0xad;
    e.u.io.data[3] = 0xde;
    RUN(VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x61 && e.u.io.width == 1 && e.u.io.is_in, "in8 port", e.u.io.port);
    e.u.io.data[0] = 0x5a;
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RBX] == 0xdeadbeefu, "rbx", r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RAX] == 0xdeadbe5au, "rax", r.gpr[VCORE_X86_RAX]);
    return VTK_PASS;
}

static int case_string_io(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_outs);
    RUN(VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x500 && e.u.io.width == 1 && !e.u.io.is_in, "outs port", e.u.io.port);
    EXPECT(e.u.io.count == 5, "outs count", e.u.io.count);
    EXPECT(memcmp(e.u.io.data, "hello", 5) == 0, "outs data", e.u.io.data[0]);
    RUN(VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x502 && e.u.io.width == 2 && e.u.io.is_in && e.u.io.count == 2, "ins",
           e.u.io.count);
    e.u.io.data[0] = 1;
    e.u.io.data[1] = 2;
    e.u.io.data[2] = 3;
    e.u.io.data[3] = 4;
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    uint64_t msg = GCODE + (uint64_t)(g64_outs_msg - g64_outs);
    uint64_t buf = GCODE + (uint64_t)(g64_outs_buf - g64_outs);
    EXPECT(r.gpr[VCORE_X86_RBX] == msg + 5, "rsi after outs", r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RDI] == buf + 4, "rdi after ins", r.gpr[VCORE_X86_RDI]);
    EXPECT(r.gpr[VCORE_X86_RCX] == 0, "rcx", r.gpr[VCORE_X86_RCX]);
    uint32_t got = 0;
    EXPECT(vcore_vm_read_guest(env->vm, buf, &got, 4) == 0, "read_guest", buf);
    EXPECT(got == 0x04030201u, "ins data", got);
    return VTK_PASS;
}

static int case_vmcall(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_vmcall);
    RUN(VCORE_EXIT_HYPERCALL);
    EXPECT(e.u.hypercall.nr == 7, "nr", e.u.hypercall.nr);
    EXPECT(e.u.hypercall.args[0] == 11 && e.u.hypercall.args[1] == 22, "args", e.u.hypercall.args[0]);
    EXPECT(e.u.hypercall.longmode == 1, "longmode", e.u.hypercall.longmode);
    e.u.hypercall.ret = 99;
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RAX] == 99, "rax", r.gpr[VCORE_X86_RAX]);
    return VTK_PASS;
}

static int case_msr(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_msr);
    RUN(VCORE_EXIT_RDMSR);
    EXPECT(e.u.msr.index == 0x40000010u, "rdmsr index", e.u.msr.index);
    e.u.msr.value = 0x1122334455667788ull;
    e.u.msr.error = 0;
    RUN(VCORE_EXIT_WRMSR);
    EXPECT(e.u.msr.index == 0x40000011u, "wrmsr index", e.u.msr.index);
    EXPECT(e.u.msr.value == 0x0123456789abcdefull, "wrmsr value", e.u.msr.value);
    e.u.msr.error = 0;
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RBX] == 0x55667788u, "eax", r.gpr[VCORE_X86_RBX]);
    EXPECT(r.gpr[VCORE_X86_RSI] == 0x11223344u, "edx", r.gpr[VCORE_X86_RSI]);
    return VTK_PASS;
}

static int case_mmio(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_mmio);
    RUN(VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GMMIO && e.u.mmio.len == 4 && e.u.mmio.is_write, "mmio write imm", e.u.mmio.gpa);
    EXPECT(e.u.mmio.data[0] == 0xfe && e.u.mmio.data[1] == 0xca && e.u.mmio.data[2] == 0, "imm data",
           e.u.mmio.data[0]);
    RUN(VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GMMIO + 8 && e.u.mmio.len == 8 && e.u.mmio.is_write, "mmio write reg",
           e.u.mmio.gpa);
    uint64_t v = 0;
    memcpy(&v, e.u.mmio.data, 8);
    EXPECT(v == GMMIO, "reg data", v);
    RUN(VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GMMIO + 4 && e.u.mmio.len == 4 && !e.u.mmio.is_write, "mmio read", e.u.mmio.gpa);
    EXPECT(e.flags & VCORE_EXIT_F_NEEDS_REPLY, "needs reply", e.flags);
    e.u.mmio.data[0] = 0x21;
    e.u.mmio.data[1] = 0x43;
    e.u.mmio.data[2] = 0x65;
    e.u.mmio.data[3] = 0x87;
    RUN(VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GMMIO + 2 && e.u.mmio.len == 1 && !e.u.mmio.is_write, "mmio read8", e.u.mmio.gpa);
    e.u.mmio.data[0] = 0x77;
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RCX] == 0x87654321u, "rcx", r.gpr[VCORE_X86_RCX]);
    EXPECT(((r.gpr[VCORE_X86_RDX] >> 8) & 0xff) == 0x77, "dh", r.gpr[VCORE_X86_RDX]);
    return VTK_PASS;
}

static int case_readonly(vtk_env_t *env, vtk_why_t *why)
{
    static int mapped;
    static uint8_t *page;
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    if (!mapped) {
        page = vtk_alloc_pages(1);
        EXPECT(page != NULL, "alloc", 0);
        vcore_mem_region_t r = {sizeof(r), GRO, 4096, page, VCORE_MEM_READONLY};
        int err = vcore_vm_map_memory(env->vm, &r);
        EXPECT(err == 0, "map ro", err);
        mapped = 1;
    }
    page[0] = 0x3c;
    LOAD64(g64_ro);
    RUN(VCORE_EXIT_MMIO);
    EXPECT(e.u.mmio.gpa == GRO && e.u.mmio.len == 4 && e.u.mmio.is_write && e.u.mmio.data[0] == 5,
           "ro write", e.u.mmio.gpa);
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RAX] == 0x3c, "read through", r.gpr[VCORE_X86_RAX]);
    EXPECT(page[0] == 0x3c, "page unchanged", page[0]);
    return VTK_PASS;
}

static int case_exception(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_ud);
    RUN(VCORE_EXIT_EXCEPTION);
    EXPECT(e.u.exception.vector == 6 && !e.u.exception.has_error_code, "vector", e.u.exception.vector);
    EXPECT(e.raw.reason == 0, "raw reason", e.raw.reason);
    return VTK_PASS;
}

static int case_syscall_msrs(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000082u));
    uint64_t host_before = ((uint64_t)hi << 32) | lo;
    LOAD64(g64_lstar);
    int err = vcore_vcpu_set_msr(env->vcpu, 0xc0000082u, 0xffffffff80100000ull);
    EXPECT(err == 0, "set_msr", err);
    RUN(VCORE_EXIT_HLT);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RBX] == 0x80100000u && r.gpr[VCORE_X86_RSI] == 0xffffffffu, "guest saw",
           r.gpr[VCORE_X86_RBX]);
    uint64_t v = 0;
    EXPECT(vcore_vcpu_get_msr(env->vcpu, 0xc0000082u, &v) == 0, "get_msr", 0);
    EXPECT(v == 0xffffffff89abc000ull, "guest wrote", v);
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xc0000082u));
    EXPECT((((uint64_t)hi << 32) | lo) == host_before, "host LSTAR", ((uint64_t)hi << 32) | lo);
    return VTK_PASS;
}

static int case_triple_fault(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_triple);
    RUN(VCORE_EXIT_SHUTDOWN);
    EXPECT(e.raw.reason == 2, "raw reason", e.raw.reason);
    return VTK_PASS;
}

static int case_regs_roundtrip(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_lazy);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    r.gpr[VCORE_X86_RAX] = 41;
    r.gpr[VCORE_X86_R15] = 0x0f0f;
    EXPECT(vcore_vcpu_set_regs(env->vcpu, &r) == 0, "set_regs", 0);
    RUN(VCORE_EXIT_HLT);
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RAX] == 42 && r.gpr[VCORE_X86_R15] == 0x0f0f, "rax", r.gpr[VCORE_X86_RAX]);
    RUN(VCORE_EXIT_HLT); /* HLT completed, JMP back, ADD, HLT */
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.gpr[VCORE_X86_RAX] == 43, "rax again", r.gpr[VCORE_X86_RAX]);
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    EXPECT(vcore_vcpu_get_sregs(env->vcpu, &sr) == 0, "get_sregs", 0);
    EXPECT(sr.cr0 == 0x80000031ull, "cr0 back", sr.cr0);
    EXPECT(sr.cr4 == 0x20, "cr4 back", sr.cr4);
    EXPECT(sr.efer == 0x500, "efer back", sr.efer);
    EXPECT(sr.seg[VCORE_X86_CS].selector == 0x08, "cs", sr.seg[VCORE_X86_CS].selector);
    return VTK_PASS;
}

static int case_entry_fail(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_lazy);
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    EXPECT(vcore_vcpu_get_sregs(env->vcpu, &sr) == 0, "get_sregs", 0);
    /* TR must be usable ("Checks on Guest Segment Registers"): the entry
     * fails with exit reason 33 (invalid guest state), qualification 0. */
    sr.seg[VCORE_X86_TR].ar = VCORE_X86_AR_UNUSABLE;
    int err = vcore_vcpu_set_sregs(env->vcpu, &sr);
    if (err) {
        vtk_why_str(why, "core refuses unusable TR");
        return VTK_SKIP;
    }
    RUN(VCORE_EXIT_FAIL_ENTRY);
    EXPECT(e.u.fail_entry.hw_reason == 0x80000021ull, "reason", e.u.fail_entry.hw_reason);
    EXPECT(e.u.fail_entry.qualification == 0, "qualification", e.u.fail_entry.qualification);
    /* The VMCS stays usable: a good state runs again (VMLAUNCH, not VMRESUME). */
    LOAD64(g64_lazy);
    RUN(VCORE_EXIT_HLT);
    return VTK_PASS;
}

static int case_realmode(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    if (!((env->proc2_caps >> 32) & (1u << 7))) {
        vtk_why_str(why, "no unrestricted guest");
        return VTK_SKIP;
    }
    memcpy(env->ram + 0x7000, g16_real, (size_t)(g16_real_end - g16_real));
    env->ram[0x7100] = 0x5c;
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    EXPECT(vcore_vcpu_get_sregs(env->vcpu, &sr) == 0, "get_sregs", 0);
    uint32_t data_ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
        sr.seg[i] = vtk_seg(0, 0, 0xffff, data_ar);
    sr.seg[VCORE_X86_CS] = vtk_seg(0, 0, 0xffff, VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu);
    sr.seg[VCORE_X86_LDTR] = vtk_seg(0, 0, 0xffff, VCORE_X86_AR_P | 2u);
    sr.seg[VCORE_X86_TR] = vtk_seg(0, 0, 0xffff, VCORE_X86_AR_P | 0xbu);
    sr.gdtr.base = 0;
    sr.gdtr.limit = 0xffff;
    sr.idtr.base = 0;
    sr.idtr.limit = 0x3ff;
    sr.cr0 = 0x10; /* ET: real mode, no paging */
    sr.cr3 = 0;
    sr.cr4 = 0;
    sr.efer = 0;
    int err = vcore_vcpu_set_sregs(env->vcpu, &sr);
    EXPECT(err == 0, "set_sregs (real)", err);
    vcore_x86_regs_t r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.rip = 0x7000;
    r.gpr[VCORE_X86_RSP] = 0x6000;
    r.rflags = 2;
    EXPECT(vcore_vcpu_set_regs(env->vcpu, &r) == 0, "set_regs", 0);
    RUN(VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x80 && e.u.io.width == 2 && e.u.io.data[0] == 0x34 && e.u.io.data[1] == 0x12,
           "out16", e.u.io.port);
    RUN(VCORE_EXIT_CPUID);
    EXPECT(e.u.cpuid.function == 0, "cpuid", e.u.cpuid.function);
    e.u.cpuid.eax = 1;
    e.u.cpuid.ebx = e.u.cpuid.ecx = e.u.cpuid.edx = 0;
    RUN(VCORE_EXIT_IO);
    EXPECT(e.u.io.port == 0x81 && e.u.io.width == 1 && e.u.io.data[0] == 0x5c, "out8", e.u.io.data[0]);
    RUN(VCORE_EXIT_HLT);
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    EXPECT(r.rip == 0x7000 + (uint64_t)(g16_real_end - g16_real) - 1, "rip", r.rip);
    return VTK_PASS;
}

/* ---- events: injection, windows, NMI blocking, #GP from the core's checks ---- */

#define GGDT 0x4000ull /* guest GDT: null, 64-bit code (08H), data (10H) */
#define GIDT 0x5000ull /* guest IDT: 256 16-byte gates */
#define EV_VEC_IRQ 0x40u

/* Guest-physical address of a label of the event snippet. */
#define EV(label) (GCODE + (uint64_t)((label) - g64_ev))

/* A 64-bit interrupt gate, DPL 0, selector 08H ("64-Bit Mode IDT"). */
static void vtk_gate(uint8_t *idt, unsigned vec, uint64_t off)
{
    uint8_t *g = idt + vec * 16u;
    memset(g, 0, 16);
    g[0] = (uint8_t)off;
    g[1] = (uint8_t)(off >> 8);
    g[2] = 0x08;
    g[5] = 0x8e; /* present, 64-bit interrupt gate */
    g[6] = (uint8_t)(off >> 16);
    g[7] = (uint8_t)(off >> 24);
    for (unsigned i = 0; i < 4; i++)
        g[8 + i] = (uint8_t)(off >> (32 + 8 * i));
}

/* Loads the event snippet, its GDT and IDT, and starts the vCPU at `start`. */
static int vtk_load_ev(vtk_env_t *env, const uint8_t *start, uint64_t rflags, vtk_why_t *why)
{
    if (vtk_load64(env, g64_ev, g64_ev_end, why) != VTK_PASS)
        return VTK_FAIL;
    uint64_t gdt[3] = {0, 0x00209a0000000000ull, 0x00cf92000000ffffull};
    memcpy(env->ram + GGDT, gdt, sizeof(gdt));
    uint8_t *idt = env->ram + GIDT;
    memset(idt, 0, 4096);
    vtk_gate(idt, 2, EV(g64_ev_nmi));
    vtk_gate(idt, 13, EV(g64_ev_gp));
    vtk_gate(idt, EV_VEC_IRQ, EV(g64_ev_irq));
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    EXPECT(vcore_vcpu_get_sregs(env->vcpu, &sr) == 0, "get_sregs", 0);
    sr.gdtr.base = GGDT;
    sr.gdtr.limit = sizeof(gdt) - 1;
    sr.idtr.base = GIDT;
    sr.idtr.limit = 4095;
    int err = vcore_vcpu_set_sregs(env->vcpu, &sr);
    EXPECT(err == 0, "set_sregs (tables)", err);
    vcore_x86_regs_t r;
    EXPECT(vtk_get_regs(env, &r) == 0, "get_regs", 0);
    r.rip = EV(start);
    r.rflags = rflags;
    EXPECT(vcore_vcpu_set_regs(env->vcpu, &r) == 0, "set_regs", 0);
    return VTK_PASS;
}

/* Runs to an OUT on `port` and returns its 32-bit data in *val. */
static int vtk_out(vtk_env_t *env, vcore_exit_t *e, uint16_t port, uint32_t *val, vtk_why_t *why)
{
    if (vtk_run(env, e, VCORE_EXIT_IO, why) != VTK_PASS)
        return VTK_FAIL;
    EXPECT(e->u.io.port == port && !e->u.io.is_in, "port", ((uint64_t)port << 32) | e->u.io.port);
    uint32_t v = 0;
    memcpy(&v, e->u.io.data, e->u.io.width < 4 ? e->u.io.width : 4);
    *val = v;
    return VTK_PASS;
}

#define OUT(port, val)                                                                              \
    do {                                                                                            \
        if (vtk_out(env, &e, (port), (val), why) != VTK_PASS)                                       \
            return VTK_FAIL;                                                                        \
    } while (0)
#define LOADEV(start, rflags)                                                                       \
    do {                                                                                            \
        if (vtk_load_ev(env, (start), (rflags), why) != VTK_PASS)                                   \
            return VTK_FAIL;                                                                        \
    } while (0)

/* #GP with an error code, injected by the VMM: the guest's handler finds
 * the error code on its stack ("Exception and Interrupt Reference",
 * "VM-Entry Controls for Event Injection"). */
static int case_inject_gp(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    uint32_t v = 0;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOADEV(g64_ev_main_hlt, 2);
    int err = vcore_vcpu_inject_exception(env->vcpu, 13, true, 0x1238, 0);
    EXPECT(err == 0, "inject_exception", err);
    OUT(0xe0, &v);
    EXPECT(v == 0x1238, "error code seen by the guest", v);
    return VTK_PASS;
}

/* An external interrupt through the guest's IDT, IF = 1: delivered before
 * the first instruction; its handler returns to the main code. */
static int case_inject_irq(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    uint32_t v = 0;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOADEV(g64_ev_main_irq, 2 | (1u << 9));
    int err = vcore_vcpu_inject_interrupt(env->vcpu, EV_VEC_IRQ);
    EXPECT(err == 0, "inject_interrupt", err);
    OUT(0xe1, &v);
    EXPECT(v == (uint32_t)EV(g64_ev_main_irq), "return RIP", v);
    OUT(0xe4, &v);
    RUN(VCORE_EXIT_HLT);
    return VTK_PASS;
}

/* An NMI runs the guest's NMI handler; a second NMI raised while that
 * handler runs waits for its IRET (blocking by NMI: with "virtual NMIs"
 * the guest's own blocking, the core opening the NMI window). */
static int case_inject_nmi(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    uint32_t v = 0;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOADEV(g64_ev_main_nmi, 2);
    memset(env->ram + EV(g64_ev_end) - 4, 0, 4); /* the NMI count */
    int err = vcore_vcpu_inject_nmi(env->vcpu);
    EXPECT(err == 0, "inject_nmi", err);
    OUT(0xe2, &v);
    EXPECT(v == 1, "first NMI entry", v);
    vcore_x86_events_t ev;
    ev.size = sizeof(ev);
    err = vcore_vcpu_get_events(env->vcpu, &ev);
    EXPECT(err == 0 && ev.nmi_masked, "NMI blocking in the handler", ev.nmi_masked);
    err = vcore_vcpu_inject_nmi(env->vcpu);
    EXPECT(err == 0, "inject_nmi 2", err);
    OUT(0xe3, &v);
    EXPECT(v == 1, "first handler finished before the second NMI", v);
    OUT(0xe2, &v);
    EXPECT(v == 2, "second NMI after IRET", v);
    OUT(0xe3, &v);
    EXPECT(v == 2, "second handler end", v);
    OUT(0xe4, &v);
    RUN(VCORE_EXIT_HLT);
    return VTK_PASS;
}

/* An interrupt raised while the guest runs with IF = 0 is delivered when
 * it executes STI, after the one instruction STI blocking covers
 * ("Interruptibility State"): the handler's return RIP is past that
 * instruction. The core's interrupt window does it. */
static int case_irq_after_sti(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    uint32_t v = 0;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOADEV(g64_ev_main_sti, 2);
    OUT(0xe5, &v); /* after CLI */
    int err = vcore_vcpu_inject_interrupt(env->vcpu, EV_VEC_IRQ);
    EXPECT(err == 0, "inject_interrupt", err);
    OUT(0xe1, &v);
    EXPECT(v == (uint32_t)EV(g64_ev_sti_after), "delivered after STI + 1", v);
    OUT(0xe4, &v);
    RUN(VCORE_EXIT_HLT);
    return VTK_PASS;
}

/* MOV to CR4 setting SMEP, which the vCPU's CPUID (no leaf 7) hides, is
 * #GP(0) in the guest (SDM Vol. 2, "MOV-Move to/from Control Registers":
 * reserved CR4 bits). Without the backend owning every CR4 bit the write
 * would reach the (emulated) processor, which has SMEP. */
static int case_cr4_hidden_bit(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    uint32_t v = 0xffffffffu;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOADEV(g64_ev_main_cr4, 2);
    OUT(0xe0, &v);
    EXPECT(v == 0, "#GP error code", v);
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    EXPECT(vcore_vcpu_get_sregs(env->vcpu, &sr) == 0, "get_sregs", 0);
    EXPECT(!(sr.cr4 & (1u << 20)), "CR4.SMEP stayed clear", sr.cr4);
    return VTK_PASS;
}

/* A second VM (it has a vCPU with another CPUID) on the same processor. */
static int vtk_env2(vtk_env_t *e2, uint32_t nvcpus, bool nx, vtk_why_t *why)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_vmx();
    cfg.host = &vtk_host;
    cfg.max_vcpus = 2;
    memset(e2, 0, sizeof(*e2));
    int err = vcore_vm_create(&cfg, &e2->vm);
    EXPECT(err == 0, "vm_create", err);
    e2->ram_size = 2u << 20;
    e2->ram = vtk_alloc_2m(1);
    EXPECT(e2->ram != NULL, "ram", 0);
    vcore_mem_region_t r = {sizeof(r), 0, e2->ram_size, e2->ram, 0};
    err = vcore_vm_map_memory(e2->vm, &r);
    EXPECT(err == 0, "map", err);
    if (nvcpus) {
        err = vcore_vcpu_create(e2->vm, NULL, &e2->vcpu);
        EXPECT(err == 0, "vcpu_create", err);
        err = vtk_set_cpuid(e2->vcpu, nx);
        EXPECT(err == 0, "set_cpuid", err);
    }
    return VTK_PASS;
}

/* WRMSR of IA32_EFER.NXE on a vCPU whose CPUID has no NX is #GP(0) ("IA32_EFER
 * MSR": reserved bits); the write exits (MSR bitmap) and the core refuses it. */
static int case_efer_nxe_hidden(vtk_env_t *env_unused, vtk_why_t *why)
{
    (void)env_unused;
    static vtk_env_t e2;
    vtk_env_t *env = &e2;
    if (vtk_env2(&e2, 1, false, why) != VTK_PASS)
        return VTK_FAIL;
    vcore_exit_t e;
    uint32_t v = 0xffffffffu;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOADEV(g64_ev_main_efer, 2);
    OUT(0xe0, &v);
    EXPECT(v == 0, "#GP error code", v);
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    EXPECT(vcore_vcpu_get_sregs(env->vcpu, &sr) == 0, "get_sregs", 0);
    EXPECT(sr.efer == 0x500, "EFER unchanged", sr.efer);
    vcore_vcpu_destroy(e2.vcpu);
    vcore_vm_destroy(e2.vm);
    return VTK_PASS;
}

/* Runs one vCPU of a VM to its HLT. */
static int vtk_hlt_once(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_lazy);
    RUN(VCORE_EXIT_HLT);
    return VTK_PASS;
}

/* Several vCPUs of two VMs on this one processor, created and destroyed in
 * an order that is neither creation nor reverse order: VMX root operation
 * stays (the case environment's vCPU still uses it) and every vCPU keeps
 * running, each on its own VMCS. */
static int case_vcpus_two_vms(vtk_env_t *env, vtk_why_t *why)
{
    static vtk_env_t a0, a1, b0;
    uint32_t users = vtk_host_cpus[0].users; /* the case environment's vCPU */
    if (vtk_env2(&a0, 1, true, why) != VTK_PASS || vtk_env2(&b0, 1, true, why) != VTK_PASS)
        return VTK_FAIL;
    a1 = a0;
    int err = vcore_vcpu_create(a0.vm, NULL, &a1.vcpu);
    EXPECT(err == 0, "second vCPU of VM a", err);
    err = vtk_set_cpuid(a1.vcpu, true);
    EXPECT(err == 0, "set_cpuid", err);
    EXPECT(vtk_host_cpus[0].users == users + 3, "users", vtk_host_cpus[0].users);
    /* Interleaved runs: each switch makes another VMCS current. */
    vtk_env_t *order[] = {&a0, &b0, &a1, env, &a1, &a0, &b0};
    for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (vtk_hlt_once(order[i], why) != VTK_PASS)
            return VTK_FAIL;
    vcore_vcpu_destroy(a0.vcpu);
    if (vtk_hlt_once(&a1, why) != VTK_PASS || vtk_hlt_once(&b0, why) != VTK_PASS)
        return VTK_FAIL;
    vcore_vcpu_destroy(b0.vcpu);
    vcore_vm_destroy(b0.vm);
    if (vtk_hlt_once(&a1, why) != VTK_PASS)
        return VTK_FAIL;
    vcore_vcpu_destroy(a1.vcpu);
    vcore_vm_destroy(a0.vm);
    EXPECT(vtk_host_cpus[0].users == users, "users after", vtk_host_cpus[0].users);
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    EXPECT(cr4 & (1u << 13), "CR4.VMXE", cr4);
    return vtk_hlt_once(env, why);
}

/* The last vCPU on the processor leaves VMX operation (VMXOFF, CR4.VMXE
 * cleared: the library set it); a new vCPU enters it again. Runs last: it
 * destroys the case environment. */
static int case_last_vcpu_leaves_root(vtk_env_t *env, vtk_why_t *why)
{
    uint64_t cr4;
    vcore_vcpu_destroy(env->vcpu);
    vcore_vm_destroy(env->vm);
    env->vcpu = NULL;
    env->vm = NULL;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    EXPECT(!(cr4 & (1u << 13)), "CR4.VMXE after the last vCPU", cr4);
    EXPECT(vtk_host_cpus[0].users == 0 && vtk_host_cpus[0].flags == 0, "per-CPU record",
           vtk_host_cpus[0].users);
    static vtk_env_t e2;
    if (vtk_env2(&e2, 1, true, why) != VTK_PASS || vtk_hlt_once(&e2, why) != VTK_PASS)
        return VTK_FAIL;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    EXPECT(cr4 & (1u << 13), "CR4.VMXE again", cr4);
    vcore_vcpu_destroy(e2.vcpu);
    vcore_vm_destroy(e2.vm);
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    EXPECT(!(cr4 & (1u << 13)) && vtk_host_cpus[0].users == 0, "left again", cr4);
    return VTK_PASS;
}

/* ---- raw VMCS states (VTK_RECORD) ---- */

int vtk_vmcs_record(const vtk_vmcs_field_t *f, uint32_t n, vtk_outcome_t *out)
{
    static uint8_t *scratch;
    static uint64_t scratch_pa;
    uint64_t prev = ~0ull;
    memset(out, 0, sizeof(*out));
    if (!scratch) {
        scratch = vtk_alloc_pages(1);
        if (!scratch)
            return -1;
        scratch_pa = (uint64_t)(uintptr_t)scratch;
    }
    uint32_t rev;
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x480u));
    rev = lo & 0x7fffffffu;
    memset(scratch, 0, 4096);
    memcpy(scratch, &rev, 4);
    (void)vcore__vmx_ptrst(&prev);
    if (vcore__vmx_clear(scratch_pa).kind || vcore__vmx_ptrld(scratch_pa).kind)
        return -1;
    /* The host state returns to the kernel unless the state overrides it. */
    (void)vcore__vmx_write(0x6c16 /* HOST_RIP */, vcore__vmx_exit_rip());
    for (uint32_t i = 0; i < n; i++) {
        vcore__vmx_rc_t rc = vcore__vmx_write(f[i].field, f[i].value);
        if (rc.kind && !out->write_fail)
            out->write_fail = i + 1;
    }
    vcore__vmx_gprs_t g;
    memset(&g, 0, sizeof(g));
    vcore__vmx_rc_t rc = vcore__vmx_enter(&g);
    out->kind = rc.kind;
    out->error = rc.error;
    if (rc.kind == 0) {
        (void)vcore__vmx_read(0x4402 /* VM_EXIT_REASON */, &out->exit_reason);
        (void)vcore__vmx_read(0x6400 /* EXIT_QUALIFICATION */, &out->qualification);
    }
    (void)vcore__vmx_clear(scratch_pa);
    if (prev != ~0ull)
        (void)vcore__vmx_ptrld(prev);
    return 0;
}

void vtk_print_outcome(const vtk_outcome_t *o)
{
    vtk_puts(" write_fail=");
    vtk_putdec(o->write_fail);
    if (o->kind) {
        vtk_puts(o->kind == 1 ? " vmfail=invalid" : " vmfail=valid error=");
        if (o->kind == 2)
            vtk_putdec(o->error);
    } else {
        vtk_puts(" exit=");
        vtk_puthex(o->exit_reason);
        vtk_puts(" qual=");
        vtk_puthex(o->qualification);
    }
    vtk_puts("\n");
}

/* An all-zero VMCS: the default1 pin-based controls are clear, so the
 * processor must answer VMfailValid 7 ("Checks on VM-Execution Control Fields"). */
static int case_vmfail_empty(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    vtk_outcome_t o;
    EXPECT(vtk_vmcs_record(NULL, 0, &o) == 0, "record", 0);
    EXPECT(o.kind == 2 && o.error == 7, "outcome", ((uint64_t)o.kind << 32) | o.error);
    return VTK_PASS;
}

static int record_empty_vmcs(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    vtk_outcome_t o;
    EXPECT(vtk_vmcs_record(NULL, 0, &o) == 0, "record", 0);
    vtk_puts("RECORD record.empty_vmcs");
    vtk_print_outcome(&o);
    return VTK_PASS;
}

/* After raw VMCS work, the backend's vCPU must still run (it reloads its VMCS). */
static int case_after_raw(vtk_env_t *env, vtk_why_t *why)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    LOAD64(g64_lazy);
    RUN(VCORE_EXIT_HLT);
    return VTK_PASS;
}

const vtk_case_t vtk_cases[] = {
    {"guest64.cpuid", VTK_CHECK, case_cpuid},
    {"guest64.io", VTK_CHECK, case_io},
    {"guest64.string_io", VTK_CHECK, case_string_io},
    {"guest64.vmcall", VTK_CHECK, case_vmcall},
    {"guest64.msr", VTK_CHECK, case_msr},
    {"guest64.mmio", VTK_CHECK, case_mmio},
    {"guest64.readonly", VTK_CHECK, case_readonly},
    {"guest64.exception", VTK_CHECK, case_exception},
    {"guest64.syscall_msrs", VTK_CHECK, case_syscall_msrs},
    {"guest64.triple_fault", VTK_CHECK, case_triple_fault},
    {"guest64.regs_roundtrip", VTK_CHECK, case_regs_roundtrip},
    {"guest64.entry_fail_33", VTK_CHECK, case_entry_fail},
    {"guest16.realmode", VTK_CHECK, case_realmode},
    {"vmcs.vmfail_empty", VTK_CHECK, case_vmfail_empty},
    {"record.empty_vmcs", VTK_RECORD, record_empty_vmcs},
    {"vmcs.minimal_enters", VTK_CHECK, vtk_case_vmcs_minimal},
    {"record.vmcs_minimal", VTK_RECORD, vtk_record_vmcs_minimal},
    {"record.guest_cs_unusable", VTK_RECORD, vtk_record_guest_cs_unusable},
    {"record.host_cr3_wide", VTK_RECORD, vtk_record_host_cr3_wide},
    {"record.link_pointer_bad", VTK_RECORD, vtk_record_link_pointer},
    {"diff.vmx_entry_checks", VTK_CHECK, vtk_case_diff_checks},
    {"guest64.after_raw", VTK_CHECK, case_after_raw},
    {"events.inject_gp_error_code", VTK_CHECK, case_inject_gp},
    {"events.inject_interrupt", VTK_CHECK, case_inject_irq},
    {"events.inject_nmi_blocked_until_iret", VTK_CHECK, case_inject_nmi},
    {"events.interrupt_waits_for_sti", VTK_CHECK, case_irq_after_sti},
    {"checks.cr4_bit_cpuid_hides", VTK_CHECK, case_cr4_hidden_bit},
    {"checks.efer_nxe_without_nx", VTK_CHECK, case_efer_nxe_hidden},
    {"root.vcpus_two_vms", VTK_CHECK, case_vcpus_two_vms},
    {"root.last_vcpu_leaves", VTK_CHECK, case_last_vcpu_leaves_root}, /* keep last */
};
const uint32_t vtk_ncases = sizeof(vtk_cases) / sizeof(vtk_cases[0]);
