/*
 * test_arm64_vcpu.c - the arm64 vCPU register model on the mock: RESET
 * values, register access, the checks, and the x86/arm64 API boundary.
 *
 * Expected values: Arm ARM (DDI 0487), "Process state, PSTATE" (M[4:0]
 * encodings: 0b00000 EL0t, 0b00100 EL1t, 0b00101 EL1h; M[4] = 1 is
 * AArch32), "Saved Program Status Registers (SPSRs)" (DAIF at bits 9:6,
 * RES0 bits), SCTLR_EL1 (RES1 bits 29:28, 23:22, 20, 11 in Armv8.0; M, C, I
 * at bits 0, 2, 12), VBAR_EL1 (bits 10:0 RES0).
 */
#include <string.h>

#include "support.h"

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;

static void up(void)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.arch = VCORE_ARCH_ARM64;
    cfg.max_vcpus = 2;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
}

static void down(void)
{
    vcore_vm_destroy(vm);
}

static vcore_arm64_regs_t regs(void)
{
    vcore_arm64_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_OK);
    return r;
}

static vcore_arm64_sysregs_t sys(void)
{
    vcore_arm64_sysregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_arm64_sysregs(vcpu, &s), VCORE_OK);
    return s;
}

START_TEST(reset_state)
{
    vcore_arm64_regs_t r = regs();
    for (unsigned i = 0; i < VCORE_ARM64_NR_X; i++)
        ck_assert_uint_eq(r.x[i], 0);
    ck_assert_uint_eq(r.pc, 0);
    ck_assert_uint_eq(r.sp_el0, 0);
    ck_assert_uint_eq(r.sp_el1, 0);
    /* EL1h (M = 0b00101) with D, A, I, F masked (bits 9:6). */
    ck_assert_uint_eq(r.pstate, 0x3c5);
    vcore_arm64_sysregs_t s = sys();
    /* MMU and caches off (M bit 0, C bit 2, I bit 12 clear), RES1 bits set. */
    ck_assert_uint_eq(s.sctlr_el1 & ((1u << 0) | (1u << 2) | (1u << 12)), 0);
    ck_assert_uint_eq(s.sctlr_el1 & 0x30d00800ull, 0x30d00800ull);
    ck_assert_uint_eq(s.vbar_el1, 0);
    ck_assert_uint_eq(s.tcr_el1, 0);
    ck_assert_uint_eq(s.cntvoff_el2, 0);
}
END_TEST

START_TEST(registers_round_trip_through_the_backend)
{
    vcore_arm64_regs_t r = regs();
    for (unsigned i = 0; i < VCORE_ARM64_NR_X; i++)
        r.x[i] = 0x1000u + i;
    r.pc = 0x40080000u;
    r.sp_el1 = 0x40100000u;
    r.pstate = 0x3c4; /* EL1t */
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    vcore_arm64_sysregs_t s = sys();
    s.vbar_el1 = 0x40000800u;
    s.sctlr_el1 |= 1u; /* MMU on */
    ck_assert_int_eq(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_OK);
    /* A run pushes the dirty groups to the backend and forgets the model. */
    vcore_exit_t e = {.size = sizeof(e), .reason = VCORE_EXIT_HYPERCALL};
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    vcore_exit_t out = {.size = sizeof(out)};
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    uint64_t gets = vcore_mock_count(vcpu, VCORE_MOCK_OP_GET_STATE);
    vcore_arm64_regs_t g = regs();
    ck_assert_mem_eq(&g, &r, sizeof(r));
    ck_assert_uint_eq(sys().vbar_el1, 0x40000800u);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_GET_STATE), gets + 2);
}
END_TEST

static const struct {
    uint64_t pstate;
    int ok;
} pstate_cases[] = {
    {0x000, 1},                 /* EL0t */
    {0x004, 1},                 /* EL1t */
    {0x005, 1},                 /* EL1h */
    {0x3c5 | (0xfull << 28), 1}, /* NZCV set */
    {0x3c5 | (1ull << 22), 1},  /* PAN (FEAT_PAN) */
    {0x009, 0},                 /* EL2h: not a guest mode */
    {0x00d, 0},                 /* EL3h */
    {0x010, 0},                 /* M[4]: AArch32 */
    {0x006, 0},                 /* M[1] RES0 in AArch64 */
    {0x3c5 | (1ull << 5), 0},   /* bit 5 RES0 */
    {0x3c5 | (1ull << 16), 0},  /* bits 19:14 RES0 */
    {0x3c5 | (1ull << 26), 0},  /* bits 27:26 RES0 */
    {0x3c5 | (1ull << 32), 0},  /* bits 63:32 RES0 */
};

START_TEST(pstate_rules)
{
    vcore_arm64_regs_t r = regs();
    vcore_arm64_regs_t before = r;
    r.pstate = pstate_cases[_i].pstate;
    int err = vcore_vcpu_set_arm64_regs(vcpu, &r);
    if (pstate_cases[_i].ok) {
        ck_assert_int_eq(err, VCORE_OK);
        ck_assert_uint_eq(regs().pstate, pstate_cases[_i].pstate);
    } else {
        ck_assert_int_eq(err, VCORE_ERR_INVAL);
        ck_assert_diag(vcpu, VCORE_DIAG_ARM64_PSTATE_INVALID);
        vcore_arm64_regs_t after = regs();
        ck_assert_mem_eq(&after, &before, sizeof(before));
    }
}
END_TEST

START_TEST(sysreg_rules)
{
    vcore_arm64_sysregs_t s = sys();
    s.sctlr_el1 &= ~(1ull << 11);
    ck_assert_int_eq(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_ERR_INVAL);
    ck_assert_diag(vcpu, VCORE_DIAG_ARM64_SCTLR_RES1);
    s = sys();
    s.vbar_el1 = 0x40000400u; /* bit 10 set */
    ck_assert_int_eq(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_ERR_INVAL);
    ck_assert_diag(vcpu, VCORE_DIAG_ARM64_VBAR_RES0);
    s.vbar_el1 = 0x40000800u;
    ck_assert_int_eq(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_OK);
    /* RESET brings back the reset state. */
    ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
    ck_assert_uint_eq(sys().vbar_el1, 0);
}
END_TEST

START_TEST(architecture_boundary)
{
    vcore_x86_regs_t xr = {.size = sizeof(xr)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &xr), VCORE_ERR_UNSUPPORTED);
    ck_assert_diag(vcpu, VCORE_DIAG_WRONG_ARCH);
    vcore_x86_sregs_t xs = {.size = sizeof(xs)};
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &xs), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, NULL, 0), VCORE_ERR_UNSUPPORTED);
    uint64_t v;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &v), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_ERR_UNSUPPORTED);
    /* Nested VMX is x86 only. */
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.id = 1;
    vc.nested = VCORE_NESTED_VMX;
    vcore_vcpu_t *v2;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &v2), VCORE_ERR_UNSUPPORTED);
    /* And the arm64 functions on an x86 vCPU. */
    vcore_test_env_t x86;
    vcore_test_env_up(&x86, VCORE_X86_VENDOR_INTEL);
    vcore_arm64_regs_t ar = {.size = sizeof(ar)};
    ck_assert_int_eq(vcore_vcpu_get_arm64_regs(x86.vcpu, &ar), VCORE_ERR_UNSUPPORTED);
    ck_assert_diag(x86.vcpu, VCORE_DIAG_WRONG_ARCH);
    vcore_test_env_down(&x86);
}
END_TEST

START_TEST(storage_is_smaller_than_x86)
{
    /* An arm64 vCPU carries no x86 model and no CPUID tables. */
    size_t a, x;
    ck_assert_int_eq(vcore_vcpu_storage_size(vm, &a), VCORE_OK);
    vcore_test_env_t x86;
    vcore_test_env_up(&x86, VCORE_X86_VENDOR_INTEL);
    ck_assert_int_eq(vcore_vcpu_storage_size(x86.vm, &x), VCORE_OK);
    ck_assert_uint_lt(a + 2 * VCORE_CPUID_MAX_ENTRIES * sizeof(vcore_cpuid_entry_t), x + 1);
    vcore_test_env_down(&x86);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void)
{
    Suite *s = suite_create("arm64_vcpu");
    TCase *tc = tcase_create("regs");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, reset_state);
    tcase_add_test(tc, registers_round_trip_through_the_backend);
    tcase_add_loop_test(tc, pstate_rules, 0, N(pstate_cases));
    tcase_add_test(tc, sysreg_rules);
    tcase_add_test(tc, architecture_boundary);
    tcase_add_test(tc, storage_is_smaller_than_x86);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
