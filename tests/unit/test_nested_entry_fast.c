/*
 * test_nested_entry_fast.c - L1's VMLAUNCH/VMRESUME through the run loop's
 * direct entry and through the full emulation (VCORE_NVMX_OPT_NO_FAST_ENTRY)
 * give the SDM's outcome in every case the direct entry checks or relies
 * on. Each case runs twice (loop index 0: direct entry, 1: full emulation)
 * and asserts the manual's values both times.
 *
 * Expected values come from SDM Vol. 3: "VMLAUNCH/VMRESUME-Launch/Resume
 * Virtual Machine" (Operation: #UD in real-address or virtual-8086 mode and
 * in compatibility mode, #GP(0) at CPL > 0, VMfailInvalid without a current
 * VMCS, VMfailValid 26 with blocking by MOV SS, 4 for VMLAUNCH of a launched
 * VMCS, 5 for VMRESUME of a clear one), "Conventions" (VMfail: RIP past the
 * instruction, CF or ZF set, the other arithmetic flags clear),
 * "VM-Instruction Error Numbers", "Interruptibility State" (blocking by
 * MOV SS ends with the next instruction).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "core/vcpu_x86.h"

#include "nested_fixture.h"

#define RFLAGS_ARITH 0x8d5u
#define RFLAGS_CF 0x1u
#define RFLAGS_ZF 0x40u

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* vmcs12 current (VMXON, VMPTRLD), the direct entry on (_i = 0) or off. */
static void start(int full)
{
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_VERIFY_CHECKS |
                                                    (full ? VCORE_NVMX_OPT_NO_FAST_ENTRY : 0u)),
                     VCORE_OK);
    load_vmcs12();
}

/* The instruction's VMfail outcome: RIP past it (3 bytes), only `flag`
 * of the arithmetic flags set, VM_INSTRUCTION_ERROR `error` (VMfailValid). */
static void assert_vmfail(uint64_t rip, uint64_t flag, uint64_t error)
{
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, rip + 3);
    ck_assert_uint_eq(r.rflags, 0x2 | flag);
    if (flag == RFLAGS_ZF)
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), error);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}

/* The instruction faulted: the exception delivered, RIP and RFLAGS as they
 * were, L2 never entered. */
static void assert_fault(uint32_t vector, bool error_code)
{
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, vector);
    ck_assert_uint_eq(ev.has_error_code, error_code);
    ck_assert_uint_eq(ev.error_code, 0);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}

/* VMLAUNCH of the reference vmcs12 enters L2; L2's CPUID is L1's
 * (reflected: L1 continues at HOST_RIP with exit reason 10); then VMLAUNCH
 * again is VMfailValid 4 and VMRESUME enters L2. */
START_TEST(launch_then_resume)
{
    start(_i);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(10, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 10);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail(HOST_RIP, RFLAGS_ZF, 4);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(10, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(last().exit_reason, 10);
}
END_TEST

/* VMRESUME of a VMCS whose launch state is clear: VMfailValid 5. */
START_TEST(resume_clear_is_vmfail_5)
{
    start(_i);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMRESUME, 0, 3);
    assert_vmfail(L1_RIP, RFLAGS_ZF, 5);
}
END_TEST

/* Blocking by MOV SS: VMfailValid 26, which ends the blocking; blocking by
 * STI alone does not stop the entry. */
START_TEST(movss_is_vmfail_26)
{
    start(_i);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail(L1_RIP, RFLAGS_ZF, 26);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.movss_blocking, 0);
    ev.sti_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(10, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
}
END_TEST

/* No current VMCS (VMCLEAR of the current one): VMfailInvalid. */
START_TEST(no_current_vmcs_is_vmfail_invalid)
{
    start(_i);
    put(OPND_GPA, VMCS_GPA, 8);
    l1_insn(VCORE_NVMX_VMCLEAR, MEM_RBX, 4);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    r.rflags = 0x2 | RFLAGS_ARITH;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail(L1_RIP, RFLAGS_CF, 0);
}
END_TEST

/* CPL 3 (SS.DPL): #GP(0). */
START_TEST(cpl3_is_gp0)
{
    start(_i);
    vcore_x86_sregs_t s = sregs();
    s.seg[VCORE_X86_SS].ar |= 3u << VCORE_X86_AR_DPL_SHIFT;
    s.seg[VCORE_X86_CS].selector |= 3;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_fault(13, true);
}
END_TEST

/* IA32_EFER.LMA = 1 with CS.L = 0 (compatibility mode): #UD. */
START_TEST(compat_mode_is_ud)
{
    start(_i);
    vcore_x86_sregs_t s = sregs();
    s.seg[VCORE_X86_CS].ar = 0xc09b;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_fault(6, false);
}
END_TEST

/* RFLAGS.VM = 1 (virtual-8086 mode; L1 in legacy protected mode): #UD. */
START_TEST(v86_is_ud)
{
    start(_i);
    vcore_x86_sregs_t s = sregs();
    s.efer = 0;
    s.seg[VCORE_X86_CS].ar = 0xc09b;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rflags |= 1u << 17;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_fault(6, false);
}
END_TEST

/* Outside VMX operation (after VMXOFF): #UD. */
START_TEST(outside_vmx_operation_is_ud)
{
    start(_i);
    l1_insn(VCORE_NVMX_VMXOFF, 0, 3);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_fault(6, false);
}
END_TEST

/* The direct entry reads only the state groups the instruction needs:
 * called as the run loop does after L1's VMLAUNCH exit, with a pin-based
 * control word missing its allowed-0 bits (VMfailValid 7, "Checks on
 * VM-Execution Control Fields", decided by the VM-entry checks), it leaves
 * the general-purpose registers and CR0 in the backend; the full emulation
 * fetches them (the registers: its generic input; CR0: the #UD check on
 * CR0.PE). */
START_TEST(direct_entry_reads_only_its_groups)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0);
    start(_i);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcpu->valid & (VCORE_X86_STATE_GPRS | VCORE_X86_STATE_CR0), 0);
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_VMX_INSN);
    e.u.vmx_insn.op = VCORE_NVMX_VMLAUNCH;
    e.u.vmx_insn.insn_len = 3;
    bool handled = false;
    ck_assert_int_eq(vcore__vcpu_nested_dispatch(vcpu, &e, &handled), VCORE_OK);
    ck_assert(handled);
    uint32_t fetched = vcpu->valid & (VCORE_X86_STATE_GPRS | VCORE_X86_STATE_CR0);
    ck_assert_uint_eq(fetched, _i ? (VCORE_X86_STATE_GPRS | VCORE_X86_STATE_CR0) : 0u);
    assert_vmfail(L1_RIP, RFLAGS_ZF, 7);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0);
}
END_TEST

/* The backend refusing the direct entry's state fetch: the instruction
 * goes to the full emulation, which fetches its state again (here it
 * succeeds) and gives the same outcome. */
START_TEST(refused_fetch_takes_the_full_emulation)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0);
    start(0);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_GET_STATE, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_VMX_INSN);
    e.u.vmx_insn.op = VCORE_NVMX_VMLAUNCH;
    e.u.vmx_insn.insn_len = 3;
    bool handled = false;
    ck_assert_int_eq(vcore__vcpu_nested_dispatch(vcpu, &e, &handled), VCORE_OK);
    ck_assert(handled);
    ck_assert_uint_eq(vcpu->valid & (VCORE_X86_STATE_GPRS | VCORE_X86_STATE_CR0),
                      VCORE_X86_STATE_GPRS | VCORE_X86_STATE_CR0);
    assert_vmfail(L1_RIP, RFLAGS_ZF, 7);
}
END_TEST

static Suite *entry_fast_suite(void)
{
    Suite *s = suite_create("nested_entry_fast");
    TCase *t = tcase_create("entry");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_loop_test(t, launch_then_resume, 0, 2);
    tcase_add_loop_test(t, resume_clear_is_vmfail_5, 0, 2);
    tcase_add_loop_test(t, movss_is_vmfail_26, 0, 2);
    tcase_add_loop_test(t, no_current_vmcs_is_vmfail_invalid, 0, 2);
    tcase_add_loop_test(t, cpl3_is_gp0, 0, 2);
    tcase_add_loop_test(t, compat_mode_is_ud, 0, 2);
    tcase_add_loop_test(t, v86_is_ud, 0, 2);
    tcase_add_loop_test(t, outside_vmx_operation_is_ud, 0, 2);
    tcase_add_loop_test(t, direct_entry_reads_only_its_groups, 0, 2);
    tcase_add_test(t, refused_fetch_takes_the_full_emulation);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(entry_fast_suite());
}
