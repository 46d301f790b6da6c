/*
 * test_nested_pat.c - L2's IA32_PAT on vmcs02, on the mock.
 *
 * Expected values come from SDM Vol. 3, "Loading Guest Control Registers,
 * Debug Registers, and MSRs" (with VM-entry control 14, "load IA32_PAT",
 * the entry loads vmcs12's guest IA32_PAT; without it the PAT is not
 * changed, so L2 has L1's), "Saving Guest State" (VM-exit control 18,
 * "save IA32_PAT", saves L2's PAT), "Loading Host State" (VM-exit control
 * 19, "load IA32_PAT", loads vmcs12's host IA32_PAT; without it the PAT is
 * left as L2 had it), "Saving MSRs" / "Loading MSRs" (the lists see and
 * write the MSR as RDMSR/WRMSR would), "VM-Entry Failures During or After
 * Loading Guest State", and "IA32_PAT MSR" (an undefined memory type, 2, 3
 * or 8 and above, in any entry is WRMSR's #GP(0)).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define ENTRY_LOAD_PAT (1u << 14)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_LOAD_PAT (1u << 19)
#define ENTRY12 (0x000011fbu | (1u << 9)) /* the reference vmcs12's */
#define EXIT12 (0x00036dfbu | (1u << 9))
/* Valid PATs, every byte a defined type (0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-),
 * each different from the others and from the power-up value. */
#define L1_PAT 0x0007010600070106ull
#define GUEST12_PAT 0x0505050505050505ull
#define WRMSR_PAT 0x0004000100040001ull
#define HOST12_PAT 0x0606060606060606ull
#define LIST_PAT 0x0701060504000100ull

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, L1_PAT), VCORE_OK);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static uint64_t l1_pat(void)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &v), VCORE_OK);
    return v;
}

/* VMLAUNCH or VMRESUME, the given L2 exits L0 completes (n of them), then
 * L2's CPUID (L1's), L1 halts. */
static void enter_then_cpuid(uint32_t op, uint32_t n, uint32_t reason)
{
    push_insn(op, 0, 3);
    for (uint32_t i = 0; i < n; i++)
        nested_push_l2_q(reason, 0, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

static void launch_then_cpuid(uint32_t n, uint32_t reason)
{
    load_vmcs12();
    enter_then_cpuid(VCORE_NVMX_VMLAUNCH, n, reason);
}

/* L1 lets L2 read and write every MSR (bitmap all clear). */
static void msr_bitmap_clear(void)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
}

/* L2's WRMSR of IA32_PAT with value (EDX:EAX). */
static void l2_wrmsr_pat(uint64_t value)
{
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_PAT);
    nested_set_gpr(VCORE_X86_RAX, (uint32_t)value);
    nested_set_gpr(VCORE_X86_RDX, value >> 32);
}

/* vmcs02's guest IA32_PAT with and without L1's "load IA32_PAT"; with
 * neither "save" nor "load IA32_PAT" at exit, L1 goes on with the PAT L2
 * had. */
START_TEST(vmcs02_loads_l2_pat)
{
    bool load = _i != 0;
    uint64_t want = load ? GUEST12_PAT : L1_PAT;
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | (load ? ENTRY_LOAD_PAT : 0u));
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    launch_then_cpuid(0, 0);
    /* Rule X(4, 14, ONE): vmcs02 always loads IA32_PAT. */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_CONTROLS) & ENTRY_LOAD_PAT, ENTRY_LOAD_PAT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), want);
    ck_assert_uint_eq(l1_pat(), want);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_PAT), GUEST12_PAT);
}
END_TEST

/* L1 changes its own PAT between two entries of the same vmcs12 (no
 * vmcs12 field changes): L2's follows; unchanged at a third entry, the
 * field is not written again. */
START_TEST(l1_pat_change_reaches_vmcs02)
{
    launch_then_cpuid(0, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), L1_PAT);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, HOST12_PAT), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    enter_then_cpuid(VCORE_NVMX_VMRESUME, 0, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), HOST12_PAT);
    uint64_t r0 = 0, w0 = 0, r1 = 0, w1 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_IA32_PAT, &r0, &w0), VCORE_OK);
    r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    enter_then_cpuid(VCORE_NVMX_VMRESUME, 0, 0);
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_IA32_PAT, &r1, &w1), VCORE_OK);
    ck_assert_uint_eq(w1, w0);
}
END_TEST

/* L2's RDMSR of IA32_PAT that L1 does not intercept: L2's value (vmcs12's
 * guest PAT under "load IA32_PAT", not L1's), in EDX:EAX, answered by L0
 * without the VMM. */
START_TEST(l2_rdmsr_pat_sees_l2_value)
{
    msr_bitmap_clear();
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | ENTRY_LOAD_PAT);
    set12(VCORE_VMCS_GUEST_IA32_PAT, LIST_PAT);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_PAT);
    nested_set_gpr(VCORE_X86_RAX, ~0ull);
    nested_set_gpr(VCORE_X86_RDX, ~0ull);
    launch_then_cpuid(1, VCORE_VMX_EXIT_RDMSR);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], LIST_PAT & 0xffffffffull);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], LIST_PAT >> 32);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    ck_assert_uint_eq(last().l0_handled, 1);
}
END_TEST

/* L2's WRMSR of IA32_PAT under L1's "load IA32_PAT", then an exit with
 * each combination of "save IA32_PAT" and "load IA32_PAT": vmcs12's guest
 * IA32_PAT is L2's with save, else as L1 wrote it; L1's PAT is vmcs12's
 * host IA32_PAT with load, else L2's. */
static const struct pat_exit_case {
    uint32_t exit;
    uint64_t guest12; /* vmcs12's guest IA32_PAT after the exit */
    uint64_t l1;      /* L1's PAT after the exit */
} pat_exits[] = {
    {EXIT12, GUEST12_PAT, WRMSR_PAT},
    {EXIT12 | EXIT_SAVE_PAT, WRMSR_PAT, WRMSR_PAT},
    {EXIT12 | EXIT_LOAD_PAT, GUEST12_PAT, HOST12_PAT},
    {EXIT12 | EXIT_SAVE_PAT | EXIT_LOAD_PAT, WRMSR_PAT, HOST12_PAT},
};

START_TEST(l2_wrmsr_pat_reaches_l1_as_the_sdm_says)
{
    const struct pat_exit_case *c = &pat_exits[_i];
    msr_bitmap_clear();
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | ENTRY_LOAD_PAT);
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, c->exit);
    set12(VCORE_VMCS_HOST_IA32_PAT, HOST12_PAT);
    l2_wrmsr_pat(WRMSR_PAT);
    launch_then_cpuid(1, VCORE_VMX_EXIT_WRMSR);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), WRMSR_PAT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_PAT), c->guest12);
    ck_assert_uint_eq(l1_pat(), c->l1);
}
END_TEST

/* "Saving MSRs": the VM-exit MSR-store list stores the PAT at the exit,
 * L2's after its own WRMSR - not L1's (L1 loads no PAT), and not vmcs12's
 * guest field (L1 saves none). */
START_TEST(exit_msr_store_list_stores_l2_pat)
{
    msr_bitmap_clear();
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_PAT, 8);
    put(MSRLIST + 8, 0x5a5a, 8);
    l2_wrmsr_pat(WRMSR_PAT);
    launch_then_cpuid(1, VCORE_VMX_EXIT_WRMSR);
    uint64_t stored = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, MSRLIST + 8, &stored, 8), VCORE_OK);
    ck_assert_uint_eq(stored, WRMSR_PAT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_PAT), GUEST12_PAT);
}
END_TEST

/* An undefined memory type in one entry of the PAT: 2 in entry 0, 3 in
 * entry 7, 8 in entry 3. */
static const uint64_t pat_bad[] = {0x0007040600070402ull, 0x0307040600070406ull, 0x0007040608070406ull};

/* WRMSR of an invalid PAT: #GP(0) injected into L2 (interruption
 * information valid, hardware exception, error code, vector 13), RIP not
 * advanced, vmcs02's PAT unchanged. */
START_TEST(l2_wrmsr_pat_invalid_is_gp)
{
    msr_bitmap_clear();
    l2_wrmsr_pat(pat_bad[_i]);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_WRMSR, 0, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), L1_PAT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(l1_pat(), L1_PAT);
}
END_TEST

/* The VMM between two runs of L2 (after an exit L0 handed to it): the
 * vCPU's PAT is L2's - vmcs12's guest IA32_PAT with "load IA32_PAT", else
 * L1's, which L2 runs on ("Loading Guest Control Registers, Debug
 * Registers, and MSRs") - and a write changes the PAT L2 runs with, refused
 * where L2's own WRMSR would be #GP(0). At the next exit L1 sees the
 * written value as L2's: "save IA32_PAT" (bit 1 of the case) stores it in
 * vmcs12, else vmcs12 keeps what L1 wrote; L1 goes on with it without
 * "load IA32_PAT" at exit (bit 2), else gets vmcs12's host PAT. Bit 0: L1's
 * "load IA32_PAT" at entry. */
START_TEST(vmm_reads_and_writes_l2_pat)
{
    bool entry_load = (_i & 1) != 0, save = (_i & 2) != 0, exit_load = (_i & 4) != 0;
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | (entry_load ? ENTRY_LOAD_PAT : 0u));
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | (save ? EXIT_SAVE_PAT : 0u) | (exit_load ? EXIT_LOAD_PAT : 0u));
    set12(VCORE_VMCS_HOST_IA32_PAT, HOST12_PAT);
    nested_launch_to_vmm();
    ck_assert_uint_eq(l1_pat(), entry_load ? GUEST12_PAT : L1_PAT);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, pat_bad[0]), VCORE_ERR_INVAL);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_VMX_CHECK_MSR_LOAD_PAT);
    ck_assert_uint_eq(l1_pat(), entry_load ? GUEST12_PAT : L1_PAT);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, WRMSR_PAT), VCORE_OK);
    ck_assert_uint_eq(l1_pat(), WRMSR_PAT);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), WRMSR_PAT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_PAT), save ? WRMSR_PAT : GUEST12_PAT);
    ck_assert_uint_eq(l1_pat(), exit_load ? HOST12_PAT : WRMSR_PAT);
}
END_TEST

/* The same with L1 intercepting #GP (exception bitmap bit 13): a VM exit
 * to L1, exception #GP(0) ("VM-Exit Interruption-Information Field"). */
START_TEST(l2_wrmsr_pat_invalid_with_l1_gp_intercept_exits_to_l1)
{
    msr_bitmap_clear();
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    l2_wrmsr_pat(pat_bad[0]);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_WRMSR, 0, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(l1_pat(), L1_PAT);
}
END_TEST

/* A VM-entry MSR-load list entry for IA32_PAT: written as WRMSR would, it
 * overrides the guest IA32_PAT the entry loaded; L2 runs with it and,
 * without "load IA32_PAT" at exit, L1 keeps it; "save IA32_PAT" stores
 * it in vmcs12. */
START_TEST(msr_load_list_entry_loads_l2_pat)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | ENTRY_LOAD_PAT);
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_SAVE_PAT);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_PAT, 8);
    put(MSRLIST + 8, LIST_PAT, 8);
    launch_then_cpuid(0, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), LIST_PAT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_PAT), LIST_PAT);
    ck_assert_uint_eq(l1_pat(), LIST_PAT);
}
END_TEST

/* "Loading MSRs" at the exit: the VM-exit MSR-load list is processed after
 * L1's host state, so an IA32_PAT entry is L1's PAT, over vmcs12's host
 * IA32_PAT that "load IA32_PAT" loaded; the PAT L2 had in vmcs02 stays. */
START_TEST(exit_msr_load_list_loads_l1_pat)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | ENTRY_LOAD_PAT);
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_LOAD_PAT);
    set12(VCORE_VMCS_HOST_IA32_PAT, HOST12_PAT);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_PAT, 8);
    put(MSRLIST + 8, LIST_PAT, 8);
    launch_then_cpuid(0, 0);
    ck_assert_uint_eq(l1_pat(), LIST_PAT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), GUEST12_PAT);
}
END_TEST

/* An invalid PAT in entry 2 of the list fails the entry: exit reason 34
 * with bit 31 set, qualification 2; entry 1 stays loaded, so without
 * "load IA32_PAT" at exit L1 has entry 1's PAT ("VM-Entry Failures During
 * or After Loading Guest State"); no guest state is saved. */
START_TEST(msr_load_list_invalid_pat_fails_entry)
{
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_SAVE_PAT);
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_PAT, 8);
    put(MSRLIST + 8, LIST_PAT, 8);
    put(MSRLIST + 16, VCORE_MSR_IA32_PAT, 8);
    put(MSRLIST + 24, pat_bad[1], 8);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_MSR_LOAD_PAT);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(l1_pat(), LIST_PAT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_PAT), GUEST12_PAT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* The processor fails the entry on guest state (exit 33 with bit 31):
 * guest state was not loaded, so L1 keeps its own PAT though vmcs02 held
 * vmcs12's guest IA32_PAT. */
START_TEST(failed_entry_before_guest_state_keeps_l1_pat)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | ENTRY_LOAD_PAT);
    set12(VCORE_VMCS_GUEST_IA32_PAT, GUEST12_PAT);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_INVALID_GUEST_STATE | VCORE_VMX_EXIT_REASON_ENTRY_FAIL, 0, 0, NULL,
            NULL);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON),
                      VCORE_VMX_EXIT_INVALID_GUEST_STATE | VCORE_VMX_EXIT_REASON_ENTRY_FAIL);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(l1_pat(), L1_PAT);
}
END_TEST

/* A processor without "load IA32_PAT": vmcs02 cannot give L2 L1's PAT, so
 * the entry is refused by name (control word 4, bit 14), not run on L0's
 * PAT. */
START_TEST(processor_without_load_pat_refuses_entry)
{
    nested_assert_entry_control_required(14);
}
END_TEST

/* The merge rule itself: vmcs02's bit 14 is 1 whatever L1 and L0 say. */
START_TEST(merge_forces_load_pat)
{
    uint32_t l1[5] = {0, 0, 0, 0, 0}, l0[5] = {0, 0, 0, 0, 0}, out[5];
    vcore_nvmx_merge_controls(l1, l0, out);
    ck_assert_uint_eq(out[4] & ENTRY_LOAD_PAT, ENTRY_LOAD_PAT);
}
END_TEST

static Suite *pat_suite(void)
{
    Suite *s = suite_create("nested_pat");
    TCase *t = tcase_create("pat");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_loop_test(t, vmcs02_loads_l2_pat, 0, 2);
    tcase_add_test(t, l1_pat_change_reaches_vmcs02);
    tcase_add_test(t, l2_rdmsr_pat_sees_l2_value);
    tcase_add_loop_test(t, l2_wrmsr_pat_reaches_l1_as_the_sdm_says, 0,
                        (int)(sizeof(pat_exits) / sizeof(pat_exits[0])));
    tcase_add_test(t, exit_msr_store_list_stores_l2_pat);
    tcase_add_loop_test(t, l2_wrmsr_pat_invalid_is_gp, 0, (int)(sizeof(pat_bad) / sizeof(pat_bad[0])));
    tcase_add_test(t, l2_wrmsr_pat_invalid_with_l1_gp_intercept_exits_to_l1);
    tcase_add_loop_test(t, vmm_reads_and_writes_l2_pat, 0, 8);
    tcase_add_test(t, msr_load_list_entry_loads_l2_pat);
    tcase_add_test(t, exit_msr_load_list_loads_l1_pat);
    tcase_add_test(t, msr_load_list_invalid_pat_fails_entry);
    tcase_add_test(t, failed_entry_before_guest_state_keeps_l1_pat);
    tcase_add_test(t, processor_without_load_pat_refuses_entry);
    tcase_add_test(t, merge_forces_load_pat);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(pat_suite());
}
