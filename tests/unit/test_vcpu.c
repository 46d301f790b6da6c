/*
 * vCPUs through the public API on the mock backend: lifecycle, every
 * accessor with its error paths, lazy state sync, RESET/INIT for both
 * vendors, and the atomic CPUID flow (each rule, rollback in each phase,
 * identical-after-run, runtime-bit mirroring).
 */
#include <string.h>

#include "support.h"

static vcore_test_env_t env;

static void up_intel(void)
{
    vcore_test_env_up(&env, VCORE_X86_VENDOR_INTEL);
}

static void down(void)
{
    vcore_test_env_down(&env);
}

/* ---- CPUID tables used below ------------------------------------------------ */

#define SIG_INTEL 0x000906eau
#define SIG_AMD 0x00a20f10u

/* A table with XSAVE (x87|SSE|AVX), PKU, PCID, x2APIC, MONITOR, LM/NX, 39-bit PA. */
static uint32_t table_intel(vcore_cpuid_entry_t *t)
{
    uint32_t n = 0;
    t[n++] = (vcore_cpuid_entry_t){0x0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69};
    t[n++] = (vcore_cpuid_entry_t){0x1, 0, 0, SIG_INTEL, 0,
                                   (1u << 3) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 28),
                                   (1u << 0) | (1u << 6) | (1u << 9) | (1u << 25) | (1u << 26)};
    t[n++] = (vcore_cpuid_entry_t){0x7, 0, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0, 0, (1u << 3), 0};
    t[n++] = (vcore_cpuid_entry_t){0xd, 0, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0x7, 576, 832, 0};
    t[n++] = (vcore_cpuid_entry_t){0xd, 1, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0, 0, 0, 0};
    t[n++] = (vcore_cpuid_entry_t){0xd, 2, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 256, 576, 0, 0};
    t[n++] = (vcore_cpuid_entry_t){0x80000000, 0, 0, 0x80000008, 0, 0, 0};
    t[n++] = (vcore_cpuid_entry_t){0x80000001, 0, 0, 0, 0, 0, (1u << 11) | (1u << 20) | (1u << 29)};
    t[n++] = (vcore_cpuid_entry_t){0x80000008, 0, 0, 0x3027, 0, 0, 0};
    return n;
}

static uint32_t table_amd(vcore_cpuid_entry_t *t)
{
    uint32_t n = 0;
    /* "AuthenticAMD" */
    t[n++] = (vcore_cpuid_entry_t){0x0, 0, 0, 0x1, 0x68747541, 0x444d4163, 0x69746e65};
    t[n++] = (vcore_cpuid_entry_t){0x1, 0, 0, SIG_AMD, 0, 0, (1u << 9)};
    t[n++] = (vcore_cpuid_entry_t){0x80000000, 0, 0, 0x80000008, 0, 0, 0};
    t[n++] = (vcore_cpuid_entry_t){0x80000001, 0, 0, 0, 0, (1u << 2), (1u << 29)};
    t[n++] = (vcore_cpuid_entry_t){0x80000008, 0, 0, 0x3030, 0, 0, 0};
    return n;
}

static vcore_cpuid_entry_t leaf(vcore_vcpu_t *v, uint32_t fn, uint32_t idx)
{
    vcore_cpuid_entry_t e;
    ck_assert_int_eq(vcore_vcpu_cpuid_query(v, fn, idx, &e), VCORE_OK);
    return e;
}

static vcore_x86_cpu_model_t model_of(vcore_vcpu_t *v)
{
    vcore_x86_cpu_model_t m = {.size = sizeof(m)};
    ck_assert_int_eq(vcore_vcpu_get_cpu_model(v, &m), VCORE_OK);
    return m;
}

static vcore_x86_sregs_t sregs_of(vcore_vcpu_t *v)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(v, &s), VCORE_OK);
    return s;
}

static vcore_x86_regs_t regs_of(vcore_vcpu_t *v)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(v, &r), VCORE_OK);
    return r;
}

static uint64_t msr_of(vcore_vcpu_t *v, uint32_t idx)
{
    uint64_t val = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(v, idx, &val), VCORE_OK);
    return val;
}

/* Runs one scripted HLT so the vCPU has run (and its model is invalidated). */
static void run_once(vcore_vcpu_t *v)
{
    vcore_exit_t e = {.size = sizeof(e), .reason = VCORE_EXIT_HLT};
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
}

/* ---- lifecycle ---------------------------------------------------------------- */

START_TEST(vcpu_lifecycle_and_ids)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.max_vcpus = 3;
    vcore_vm_t *vm;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    ck_assert_uint_eq(vc.size, sizeof(vc));
    ck_assert(vc.bsp);
    ck_assert_uint_eq(vc.vendor, VCORE_X86_VENDOR_INTEL);
    vc.id = 2;
    vc.bsp = false;
    vcore_vcpu_t *a, *b, *c, *d;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &a), VCORE_OK);
    ck_assert_uint_eq(vcore_vcpu_id(a), 2);
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &b), VCORE_ERR_EXISTS);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &b), VCORE_OK); /* lowest free id */
    ck_assert_uint_eq(vcore_vcpu_id(b), 0);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &c), VCORE_OK);
    ck_assert_uint_eq(vcore_vcpu_id(c), 1);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &d), VCORE_ERR_RANGE); /* full */
    vc.id = 7;
    vcore_vcpu_destroy(c);
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &d), VCORE_ERR_RANGE); /* id >= max */
    vc.id = 1;
    vc.size = 1;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &d), VCORE_ERR_ABI);
    vcore_vcpu_config_init(&vc);
    vc.id = 1;
    vc.flags = 4;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &d), VCORE_ERR_INVAL);
    vc.flags = 0;
    vc.vendor = 99;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &d), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_create(NULL, NULL, &d), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, NULL), VCORE_ERR_INVAL);
    ck_assert_uint_eq(vcore_vcpu_id(NULL), UINT32_MAX);
    ck_assert_int_eq(vcore_vcpu_fini(a), VCORE_ERR_STATE); /* made by create */
    ck_assert_ptr_eq(vcore_vcpu_vm(a), vm);
    ck_assert_ptr_eq(vcore_vcpu_backend(a), vcore_backend_mock());
    ck_assert_ptr_nonnull(vcore_vcpu_model(a));
    ck_assert_ptr_null(vcore_vcpu_model(NULL));
    ck_assert(!vcore_vcpu_has_run(a));
    ck_assert_int_eq(vcore_vcpu_storage_size(NULL, NULL), VCORE_ERR_INVAL);
    vcore_vm_destroy(vm);
}
END_TEST

/* ---- accessors: size, NULL, and refusals leave state unchanged ------------------ */

START_TEST(vcpu_accessor_errors)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_x86_regs_t r = {.size = sizeof(r) + 1};
    ck_assert_int_eq(vcore_vcpu_get_regs(v, &r), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &r), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_get_regs(v, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_get_regs(NULL, &r), VCORE_ERR_INVAL);
    vcore_x86_sregs_t s = {.size = 0};
    ck_assert_int_eq(vcore_vcpu_get_sregs(v, &s), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, NULL), VCORE_ERR_INVAL);
    vcore_x86_dregs_t d = {.size = 0};
    ck_assert_int_eq(vcore_vcpu_get_dregs(v, &d), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_set_dregs(v, &d), VCORE_ERR_ABI);
    vcore_x86_fpu_t f = {.size = 0};
    ck_assert_int_eq(vcore_vcpu_get_fpu(v, &f), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_set_fpu(v, &f), VCORE_ERR_ABI);
    uint64_t x;
    ck_assert_int_eq(vcore_vcpu_get_xcr(v, 1, &x), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vcpu_set_xcr(v, 1, 1), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vcpu_get_xcr(v, 0, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_set_xcr(NULL, 0, 1), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_get_msr(v, 0x12345678, &x), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, 0x12345678, 0), VCORE_ERR_NOENT);
    ck_assert_diag(v, VCORE_DIAG_MSR_UNKNOWN);
    ck_assert_int_eq(vcore_vcpu_get_msr(v, VCORE_MSR_IA32_PAT, NULL), VCORE_ERR_INVAL);
    vcore_x86_cpu_model_t m = {.size = 2};
    ck_assert_int_eq(vcore_vcpu_get_cpu_model(v, &m), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_get_cpu_model(v, NULL), VCORE_ERR_INVAL);
    vcore_diag_t dg = {.size = 0};
    ck_assert_int_eq(vcore_vcpu_last_diag(v, &dg), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_last_diag(v, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_reset(NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_init_signal(NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_kick(NULL), VCORE_ERR_INVAL);
    vcore_exit_t e = {.size = 3};
    ck_assert_int_eq(vcore_vcpu_run(v, &e), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_run(v, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_cpuid_query(v, 0, 0, NULL), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(vcpu_refused_values_change_nothing)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_x86_sregs_t before = sregs_of(v);
    vcore_x86_sregs_t s = before;
    s.cr0 |= 1ull << 31; /* PG without PE */
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CR0_PG_WITHOUT_PE);
    vcore_x86_sregs_t after = sregs_of(v);
    ck_assert_mem_eq(&after, &before, sizeof(before));
    s = before;
    s.cr0 = (s.cr0 & ~(1ull << 30)) | (1ull << 29); /* NW without CD */
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CR0_NW_WITHOUT_CD);
    s = before;
    s.cr4 |= 1ull << 13; /* VMXE with no VMX in CPUID */
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CR4_RESERVED);
    s = before;
    s.efer |= 1ull << 8; /* LME without LM in CPUID */
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_EFER_RESERVED);
    vcore_x86_regs_t r = regs_of(v);
    vcore_x86_regs_t rb = r;
    r.rflags = 0; /* bit 1 must be set */
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &r), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_RFLAGS_RESERVED);
    r = regs_of(v);
    ck_assert_mem_eq(&r, &rb, sizeof(r));
    uint64_t pat = msr_of(v, VCORE_MSR_IA32_PAT);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_PAT, 0x02), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_PAT_INVALID);
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_PAT), pat);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_APIC_BASE, 0xfee00001ull),
                     VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_APIC_BASE_RESERVED);
    ck_assert_int_eq(vcore_vcpu_set_xcr(v, 0, 0), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_XCR0_INVALID);
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(v, &d), VCORE_OK);
    d.dr7 |= 1ull << 40;
    ck_assert_int_eq(vcore_vcpu_set_dregs(v, &d), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_DR7_RESERVED);
    vcore_x86_fpu_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(v, &f), VCORE_OK);
    f.mxcsr = 0xffffffffu;
    ck_assert_int_eq(vcore_vcpu_set_fpu(v, &f), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_MXCSR_RESERVED);
}
END_TEST

START_TEST(vcpu_round_trips)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16];
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    vcore_x86_regs_t r = regs_of(v);
    for (int i = 0; i < VCORE_X86_NR_GPRS; i++)
        r.gpr[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
    r.rip = 0x401000;
    r.rflags = 0x202;
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &r), VCORE_OK);
    run_once(v); /* forces a write to and a read back from the "hardware" */
    vcore_x86_regs_t r2 = regs_of(v);
    ck_assert_mem_eq(&r2, &r, sizeof(r));
    /* Protected mode with paging and long mode: a full, legal sregs. */
    vcore_x86_sregs_t s = sregs_of(v);
    s.cr0 = 0x80050033; /* PG|AM|WP|NE|ET|MP|PE */
    s.cr3 = 0x1000;
    s.cr4 = 0x20 | (1u << 18); /* PAE | OSXSAVE */
    s.efer = 0x500;           /* LME | LMA */
    s.seg[VCORE_X86_CS] = (vcore_x86_segment_t){0, 0xffffffff, 0x8, 0, 0xa09b};
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_xcr(v, 0, 7), VCORE_OK);
    vcore_x86_dregs_t d = {.size = sizeof(d), .dr = {0x1000, 0x2000, 0x3000, 0x4000},
                           .dr6 = 0xffff0ff1, .dr7 = 0x401};
    ck_assert_int_eq(vcore_vcpu_set_dregs(v, &d), VCORE_OK);
    vcore_x86_fpu_t f = {.size = sizeof(f), .fcw = 0x27f, .ftw = 0xffff, .mxcsr = 0x1fa0,
                         .mxcsr_mask = 0xffff};
    ck_assert_int_eq(vcore_vcpu_set_fpu(v, &f), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_LSTAR, 0xffffffff81000000ull),
                     VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_FS_BASE, 0x7f0000001000ull), VCORE_OK);
    run_once(v);
    vcore_x86_sregs_t s2 = sregs_of(v);
    s.seg[VCORE_X86_FS].base = 0x7f0000001000ull; /* FS_BASE is FS's hidden base */
    ck_assert_mem_eq(&s2, &s, sizeof(s));
    uint64_t x = 0;
    ck_assert_int_eq(vcore_vcpu_get_xcr(v, 0, &x), VCORE_OK);
    ck_assert_uint_eq(x, 7);
    vcore_x86_dregs_t d2 = {.size = sizeof(d2)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(v, &d2), VCORE_OK);
    ck_assert_mem_eq(&d2, &d, sizeof(d));
    vcore_x86_fpu_t f2 = {.size = sizeof(f2)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(v, &f2), VCORE_OK);
    ck_assert_mem_eq(&f2, &f, sizeof(f));
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_LSTAR), 0xffffffff81000000ull);
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_FS_BASE), 0x7f0000001000ull);
}
END_TEST

/* ---- lazy synchronisation with the backend ---------------------------------- */

START_TEST(vcpu_sync_is_lazy)
{
    vcore_vcpu_t *v = env.vcpu;
    ck_assert_int_eq(vcore_mock_reset_counts(v), VCORE_OK);
    /* After RESET the model is current: reads cost no backend op. */
    (void)regs_of(v);
    (void)sregs_of(v);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_GET_STATE), 0);
    /* The first run writes the dirty RESET state once. */
    run_once(v);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_SET_STATE), 1);
    /* After a run nothing is read until asked, and each class once. */
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_GET_STATE), 0);
    (void)regs_of(v);
    (void)regs_of(v);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_GET_STATE), 1);
    /* A clean run writes nothing. */
    run_once(v);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_SET_STATE), 1);
    /* A backend that fails to read reports it, and nothing is marked valid. */
    ck_assert_int_eq(vcore_mock_fail_next(v, VCORE_MOCK_OP_GET_STATE, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(v, &r), VCORE_ERR_HWFAIL);
    ck_assert_int_eq(vcore_vcpu_get_regs(v, &r), VCORE_OK);
    /* A failed write before run keeps the state dirty for the next try. */
    r.gpr[VCORE_X86_RBX] = 42;
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &r), VCORE_OK);
    ck_assert_int_eq(vcore_mock_fail_next(v, VCORE_MOCK_OP_SET_STATE, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_exit_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_run(v, &e), VCORE_ERR_HWFAIL);
    run_once(v);
    ck_assert_uint_eq(regs_of(v).gpr[VCORE_X86_RBX], 42);
}
END_TEST

/* ---- RESET / INIT through the API, both vendors ------------------------------- */

static void check_reset_common(vcore_vcpu_t *v, uint32_t rdx)
{
    vcore_x86_regs_t r = regs_of(v);
    ck_assert_uint_eq(r.rip, 0xfff0);
    ck_assert_uint_eq(r.rflags, 0x2);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], rdx);
    for (int i = 0; i < VCORE_X86_NR_GPRS; i++)
        if (i != VCORE_X86_RDX)
            ck_assert_uint_eq(r.gpr[i], 0);
    vcore_x86_sregs_t s = sregs_of(v);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].selector, 0xf000);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].base, 0xffff0000);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].limit, 0xffff);
    ck_assert_uint_eq(s.cr3, 0);
    ck_assert_uint_eq(s.cr4, 0);
    ck_assert_uint_eq(s.efer, 0);
    ck_assert_uint_eq(s.gdtr.limit, 0xffff);
    ck_assert_uint_eq(s.idtr.limit, 0xffff);
    ck_assert_uint_eq(s.seg[VCORE_X86_LDTR].ar, 0x82);
}

START_TEST(vcpu_reset_intel_and_amd)
{
    /* Intel (default vendor, no table): RDX 600H, VMX-style access rights. */
    vcore_vcpu_t *v = env.vcpu;
    check_reset_common(v, 0x600);
    vcore_x86_sregs_t s = sregs_of(v);
    ck_assert_uint_eq(s.cr0, 0x60000010);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].ar, 0x9b);
    ck_assert_uint_eq(s.seg[VCORE_X86_DS].ar, 0x93);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].ar, 0x8b);
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_APIC_BASE), 0xfee00900ull); /* BSP | EN */
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_PAT), VCORE_PAT_DEFAULT);
    /* With a table, RDX is CPUID.1:EAX. */
    vcore_cpuid_entry_t t[16];
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_reset(v), VCORE_OK);
    check_reset_common(v, SIG_INTEL);

    /* AMD by configuration, then by CPUID vendor string. */
    vcore_test_env_t amd;
    vcore_test_env_up(&amd, VCORE_X86_VENDOR_AMD);
    check_reset_common(amd.vcpu, 0x600);
    s = sregs_of(amd.vcpu);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].ar, 0x9a);
    ck_assert_uint_eq(s.seg[VCORE_X86_DS].ar, 0x92);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].ar, 0x83);
    vcore_test_env_down(&amd);
    /* An Intel-configured vCPU given an AMD table resets with AMD rules. */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_amd(t)), VCORE_OK);
    ck_assert_uint_eq(model_of(v).vendor, VCORE_X86_VENDOR_AMD);
    ck_assert_int_eq(vcore_vcpu_reset(v), VCORE_OK);
    check_reset_common(v, SIG_AMD);
    ck_assert_uint_eq(sregs_of(v).seg[VCORE_X86_TR].ar, 0x83);
}
END_TEST

START_TEST(vcpu_reset_bsp_only_for_boot_vcpu)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.max_vcpus = 2;
    vcore_vm_t *vm;
    vcore_vcpu_t *bsp, *ap;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &bsp), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &ap), VCORE_OK);
    ck_assert_uint_eq(msr_of(bsp, VCORE_MSR_IA32_APIC_BASE) & VCORE_APIC_BASE_BSP,
                      VCORE_APIC_BASE_BSP);
    ck_assert_uint_eq(msr_of(ap, VCORE_MSR_IA32_APIC_BASE), 0xfee00800ull);
    vcore_vm_destroy(vm);
}
END_TEST

START_TEST(vcpu_init_keeps_what_the_manual_says)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16];
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    vcore_x86_sregs_t s = sregs_of(v);
    s.cr0 = 0x40000011; /* PE | ET | CD (NW clear) */
    s.cr4 = 1u << 18;
    s.efer = 1; /* SCE */
    s.seg[VCORE_X86_FS].base = 0x1234000;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_xcr(v, 0, 7), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_PAT, 0x0606060606060606ull), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_SYSENTER_EIP, 0x8000), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_APIC_BASE, 0xfec00800ull), VCORE_OK);
    vcore_x86_fpu_t f = {.size = sizeof(f), .fcw = 0x27f, .ftw = 0xffff, .mxcsr = 0x9fc0,
                         .mxcsr_mask = 0xffff};
    ck_assert_int_eq(vcore_vcpu_set_fpu(v, &f), VCORE_OK);
    run_once(v); /* INIT must read the live state back from the backend */
    ck_assert_int_eq(vcore_vcpu_init_signal(v), VCORE_OK);
    check_reset_common(v, SIG_INTEL);
    s = sregs_of(v);
    ck_assert_uint_eq(s.cr0, 0x40000010); /* CD kept, NW stayed clear, PE cleared */
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].base, 0);
    uint64_t x = 0;
    ck_assert_int_eq(vcore_vcpu_get_xcr(v, 0, &x), VCORE_OK);
    ck_assert_uint_eq(x, 7);
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_PAT), 0x0606060606060606ull);
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_SYSENTER_EIP), 0x8000);
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_APIC_BASE), 0xfec00800ull);
    vcore_x86_fpu_t f2 = {.size = sizeof(f2)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(v, &f2), VCORE_OK);
    ck_assert_uint_eq(f2.mxcsr, 0x9fc0);
    ck_assert_uint_eq(f2.fcw, 0x27f);
    /* RESET, by contrast, restores the power-up values. */
    ck_assert_int_eq(vcore_vcpu_reset(v), VCORE_OK);
    ck_assert_uint_eq(sregs_of(v).cr0, 0x60000010);
    ck_assert_uint_eq(msr_of(v, VCORE_MSR_IA32_PAT), VCORE_PAT_DEFAULT);
    ck_assert_int_eq(vcore_vcpu_get_xcr(v, 0, &x), VCORE_OK);
    ck_assert_uint_eq(x, 1);
    /* INIT fails cleanly when the live state cannot be read. */
    run_once(v);
    ck_assert_int_eq(vcore_mock_fail_next(v, VCORE_MOCK_OP_GET_STATE, VCORE_ERR_HWFAIL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_init_signal(v), VCORE_ERR_HWFAIL);
}
END_TEST

/* ---- CPUID flow ------------------------------------------------------------------ */

/* Snapshot of everything a CPUID set may change. */
typedef struct cpuid_snapshot {
    uint32_t n;
    vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES];
    vcore_x86_cpu_model_t model;
} cpuid_snapshot_t;

static void snapshot(vcore_vcpu_t *v, cpuid_snapshot_t *s)
{
    memset(s, 0, sizeof(*s));
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v, s->t, VCORE_CPUID_MAX_ENTRIES, &s->n), VCORE_OK);
    s->model = model_of(v);
}

static void expect_unchanged(vcore_vcpu_t *v, const cpuid_snapshot_t *before)
{
    cpuid_snapshot_t now;
    snapshot(v, &now);
    ck_assert_uint_eq(now.n, before->n);
    ck_assert_mem_eq(now.t, before->t, sizeof(now.t));
    ck_assert_mem_eq(&now.model, &before->model, sizeof(now.model));
}

START_TEST(cpuid_phase1_rules_roll_back)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES + 1];
    uint32_t n = table_intel(t);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_OK);
    cpuid_snapshot_t before;
    snapshot(v, &before);
    ck_assert_uint_eq(before.model.maxphyaddr, 39);

    memset(t, 0, sizeof(t));
    for (uint32_t i = 0; i <= VCORE_CPUID_MAX_ENTRIES; i++)
        t[i].function = 0x40000000u + i;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, VCORE_CPUID_MAX_ENTRIES + 1), VCORE_ERR_RANGE);
    ck_assert_diag(v, VCORE_DIAG_CPUID_TOO_MANY);
    expect_unchanged(v, &before);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, VCORE_CPUID_MAX_ENTRIES), VCORE_OK); /* 256 is fine */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, NULL, 0), VCORE_OK); /* empty table */
    ck_assert_uint_eq(model_of(v).maxphyaddr, 36);

    n = table_intel(t);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_OK);
    snapshot(v, &before);
    t[n] = t[1]; /* duplicate leaf 1 */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n + 1), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CPUID_DUPLICATE);
    expect_unchanged(v, &before);

    n = table_intel(t);
    t[n - 1].eax = 0x3000 | 31; /* 31 physical-address bits */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CPUID_MAXPHYADDR);
    t[n - 1].eax = 0x3000 | 53;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_ERR_INVAL);
    t[n - 1].eax = 0x3900 | 40; /* 57 linear bits: fine */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    snapshot(v, &before);
    n = table_intel(t);
    t[n - 1].eax = 0x2800 | 40; /* 40 linear bits */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CPUID_LINEAR_BITS);
    expect_unchanged(v, &before);

    n = table_intel(t);
    t[1].ecx &= ~(1u << 26); /* XSAVE components listed but no XSAVE */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CPUID_XSAVE_INCONSISTENT);
    expect_unchanged(v, &before);

    n = table_intel(t);
    t[0].flags = 0x80;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CPUID_BAD_FLAGS);
    expect_unchanged(v, &before);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, NULL, 1), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(NULL, t, 1), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(cpuid_phase2_failure_rolls_back)
{
    /* Phase 2 needs the live state; if the backend cannot give it, nothing changes. */
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16];
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_amd(t)), VCORE_OK);
    cpuid_snapshot_t before;
    snapshot(v, &before);
    run_once(v);
    ck_assert_int_eq(vcore_mock_fail_next(v, VCORE_MOCK_OP_GET_STATE, VCORE_ERR_HWFAIL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_ERR_HWFAIL);
    expect_unchanged(v, &before);
}
END_TEST

START_TEST(cpuid_backend_refusal_rolls_back)
{
    /* Phase 3 is pure; the backend is the last step and may refuse. */
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16];
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    cpuid_snapshot_t before;
    snapshot(v, &before);
    ck_assert_int_eq(vcore_mock_fail_next(v, VCORE_MOCK_OP_SET_CPUID, VCORE_ERR_HWFAIL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_amd(t)), VCORE_ERR_HWFAIL);
    ck_assert_diag(v, VCORE_DIAG_CPUID_BACKEND_REFUSED);
    expect_unchanged(v, &before);
    ck_assert_uint_eq(model_of(v).vendor, VCORE_X86_VENDOR_INTEL);
    /* RESET still uses the table in force. */
    ck_assert_int_eq(vcore_vcpu_reset(v), VCORE_OK);
    ck_assert_uint_eq(regs_of(v).gpr[VCORE_X86_RDX], SIG_INTEL);
    /* And the next attempt goes through. */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_amd(t)), VCORE_OK);
    ck_assert_uint_eq(model_of(v).vendor, VCORE_X86_VENDOR_AMD);
}
END_TEST

START_TEST(cpuid_after_run_only_identical)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16];
    uint32_t n = table_intel(t);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_OK);
    run_once(v);
    ck_assert(vcore_vcpu_has_run(v));
    uint64_t sets = vcore_mock_count(v, VCORE_MOCK_OP_SET_CPUID);
    /* Identical (even with different runtime bits in the input) is accepted. */
    t[1].ecx |= 1u << 27; /* OSXSAVE in the input: runtime-owned, CR4.OSXSAVE is 0 */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_SET_CPUID), sets);
    cpuid_snapshot_t before;
    snapshot(v, &before);
    t[1].eax = 0x806ec; /* a different CPU */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_ERR_STATE);
    ck_assert_diag(v, VCORE_DIAG_CPUID_CHANGED_AFTER_RUN);
    expect_unchanged(v, &before);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n - 1), VCORE_ERR_STATE);
}
END_TEST

START_TEST(cpuid_runtime_bits_mirror_state)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16];
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    /* OSXSAVE <- CR4.OSXSAVE, OSPKE <- CR4.PKE */
    ck_assert_uint_eq((leaf(v, 1, 0).ecx >> 27) & 1, 0);
    ck_assert_uint_eq((leaf(v, 7, 0).ecx >> 4) & 1, 0);
    vcore_x86_sregs_t s = sregs_of(v);
    s.cr4 |= (1u << 18) | (1u << 22);
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_OK);
    ck_assert_uint_eq((leaf(v, 1, 0).ecx >> 27) & 1, 1);
    ck_assert_uint_eq((leaf(v, 7, 0).ecx >> 4) & 1, 1);
    s.cr4 &= ~(uint64_t)((1u << 18) | (1u << 22));
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_OK);
    ck_assert_uint_eq((leaf(v, 1, 0).ecx >> 27) & 1, 0);
    ck_assert_uint_eq((leaf(v, 7, 0).ecx >> 4) & 1, 0);
    /* APIC <- APIC_BASE.EN */
    ck_assert_uint_eq((leaf(v, 1, 0).edx >> 9) & 1, 1);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_APIC_BASE, 0xfee00100ull), VCORE_OK);
    ck_assert_uint_eq((leaf(v, 1, 0).edx >> 9) & 1, 0);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_APIC_BASE, 0xfee00900ull), VCORE_OK);
    ck_assert_uint_eq((leaf(v, 1, 0).edx >> 9) & 1, 1);
    /* MONITOR <- MISC_ENABLE.MWAIT (bit 18) */
    uint64_t me = msr_of(v, VCORE_MSR_IA32_MISC_ENABLE);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_MISC_ENABLE, me | (1ull << 18)),
                     VCORE_OK);
    ck_assert_uint_eq((leaf(v, 1, 0).ecx >> 3) & 1, 1);
    ck_assert_int_eq(vcore_vcpu_set_msr(v, VCORE_MSR_IA32_MISC_ENABLE, me & ~(1ull << 18)),
                     VCORE_OK);
    ck_assert_uint_eq((leaf(v, 1, 0).ecx >> 3) & 1, 0);
    /* Leaf 0DH EBX <- XSAVE size for XCR0 */
    ck_assert_uint_eq(leaf(v, 0xd, 0).ebx, 576);
    ck_assert_int_eq(vcore_vcpu_set_xcr(v, 0, 7), VCORE_OK);
    ck_assert_uint_eq(leaf(v, 0xd, 0).ebx, 832);
    ck_assert_uint_eq(model_of(v).xsave_size_xcr0, 832);
    ck_assert_int_eq(vcore_vcpu_set_xcr(v, 0, 3), VCORE_OK);
    ck_assert_uint_eq(leaf(v, 0xd, 0).ebx, 576);
    /* The guest changing state while it runs is seen at the next read. */
    vcore_x86_sregs_t live = sregs_of(v);
    live.cr4 |= 1u << 18;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &live), VCORE_OK);
    run_once(v);
    ck_assert_uint_eq((leaf(v, 1, 0).ecx >> 27) & 1, 1);
}
END_TEST

START_TEST(cpuid_model_and_reserved_bits_follow_the_table)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16];
    /* Without LM, EFER.LME is reserved; with the Intel table it is not. */
    vcore_x86_sregs_t s = sregs_of(v);
    s.efer = 1u << 8;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_OK);
    vcore_x86_cpu_model_t m = model_of(v);
    ck_assert_uint_eq(m.vendor, VCORE_X86_VENDOR_INTEL);
    ck_assert_uint_eq(m.signature, SIG_INTEL);
    ck_assert_uint_eq(m.maxphyaddr, 39);
    ck_assert_uint_eq(m.linear_bits, 48);
    ck_assert_uint_eq(m.supported_xcr0, 7);
    ck_assert_uint_eq(m.efer_reserved & (1u << 12), 1u << 12); /* no SVM */
    ck_assert_uint_eq(m.cr4_reserved & (1u << 22), 0);         /* PKU enumerated */
    ck_assert_uint_eq(m.cr4_reserved & (1u << 13), 1u << 13);  /* no VMX */
    /* CR3 above MAXPHYADDR (39) is refused; at the edge it is accepted. */
    s = sregs_of(v);
    s.cr3 = 1ull << 39;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_CR3_RESERVED);
    s.cr3 = (1ull << 39) - 4096;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_OK);
    /* A whole long-mode state with PCIDE and a PCID in CR3 can be loaded at
     * once (a migration restore): only state consistency is checked. */
    s.cr0 = 0x80000011;
    s.cr4 = (1u << 5) | (1u << 17); /* PAE | PCIDE */
    s.efer = 0x500;
    s.cr3 = 0x5000 | 0x123;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_OK);
    s.efer = 0x100; /* LME with paging on but LMA clear: inconsistent */
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &s), VCORE_ERR_INVAL);
    ck_assert_diag(v, VCORE_DIAG_EFER_LMA_MISMATCH);
    /* AMD table: SVME allowed, 48-bit physical addresses. */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_amd(t)), VCORE_OK);
    m = model_of(v);
    ck_assert_uint_eq(m.vendor, VCORE_X86_VENDOR_AMD);
    ck_assert_uint_eq(m.maxphyaddr, 48);
    ck_assert_uint_eq(m.efer_reserved & (1u << 12), 0);
    /* Out-of-range leaves: AMD answers zeros. */
    vcore_cpuid_entry_t e = leaf(v, 0x20, 0);
    ck_assert_uint_eq(e.eax | e.ebx | e.ecx | e.edx, 0);
    /* Intel answers with the highest basic leaf. */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, table_intel(t)), VCORE_OK);
    e = leaf(v, 0x20, 0);
    vcore_cpuid_entry_t top = leaf(v, 0xd, 0);
    ck_assert_uint_eq(e.eax, top.eax);
    ck_assert_uint_eq(e.ebx, top.ebx);
}
END_TEST

START_TEST(cpuid_get_table_buffer)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_cpuid_entry_t t[16], out[16];
    uint32_t n = table_intel(t), got = 0;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, n), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v, out, 2, &got), VCORE_ERR_BUFSZ);
    ck_assert_uint_eq(got, n);
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v, NULL, 0, &got), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v, out, 16, &got), VCORE_OK);
    ck_assert_uint_eq(got, n);
    ck_assert_uint_eq(out[1].eax, SIG_INTEL);
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v, out, 16, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v, NULL, 3, &got), VCORE_ERR_INVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vcpu");
    TCase *life = tcase_create("lifecycle");
    tcase_add_test(life, vcpu_lifecycle_and_ids);
    tcase_add_test(life, vcpu_reset_bsp_only_for_boot_vcpu);
    suite_add_tcase(s, life);
    TCase *tc = tcase_create("state");
    tcase_add_checked_fixture(tc, up_intel, down);
    tcase_add_test(tc, vcpu_accessor_errors);
    tcase_add_test(tc, vcpu_refused_values_change_nothing);
    tcase_add_test(tc, vcpu_round_trips);
    tcase_add_test(tc, vcpu_sync_is_lazy);
    tcase_add_test(tc, vcpu_reset_intel_and_amd);
    tcase_add_test(tc, vcpu_init_keeps_what_the_manual_says);
    suite_add_tcase(s, tc);
    TCase *cp = tcase_create("cpuid");
    tcase_add_checked_fixture(cp, up_intel, down);
    tcase_add_test(cp, cpuid_phase1_rules_roll_back);
    tcase_add_test(cp, cpuid_phase2_failure_rolls_back);
    tcase_add_test(cp, cpuid_backend_refusal_rolls_back);
    tcase_add_test(cp, cpuid_after_run_only_identical);
    tcase_add_test(cp, cpuid_runtime_bits_mirror_state);
    tcase_add_test(cp, cpuid_model_and_reserved_bits_follow_the_table);
    tcase_add_test(cp, cpuid_get_table_buffer);
    suite_add_tcase(s, cp);
    return vcore_test_run(s);
}
