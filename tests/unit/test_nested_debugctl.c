/*
 * test_nested_debugctl.c - L2's DR7 and IA32_DEBUGCTL on vmcs02, and
 * IA32_DEBUGCTL in the vCPU model, on the mock.
 *
 * Expected values come from SDM Vol. 3, "Loading Guest Control Registers,
 * Debug Registers, and MSRs" (with VM-entry control 2, "load debug
 * controls", the entry loads DR7 and IA32_DEBUGCTL from the guest-state
 * area; without it neither changes, so L2 has L1's), "Saving Guest State"
 * (VM-exit control 2, "save debug controls", saves L2's DR7 and
 * IA32_DEBUGCTL), "Loading Host State" (DR7 is set to 400H and
 * IA32_DEBUGCTL is cleared, whatever the controls), "Loading MSRs" and
 * "VM-Entry Failures During or After Loading Guest State" (a list entry is
 * WRMSR at CPL 0; a value WRMSR refuses fails the entry with exit reason 34
 * and bit 31, the entry's 1-based index as qualification), and SDM Vol. 4,
 * "IA32_DEBUGCTL" (bits 3-5 and 16-63 are reserved: WRMSR of them is
 * #GP(0)).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define LOAD_DEBUG (1u << 2) /* VM-entry control 2 and VM-exit control 2 alike */
#define ENTRY12 (0x000011fbu | (1u << 9)) /* the reference vmcs12's */
#define EXIT12 (0x00036dfbu | (1u << 9))
/* DR7 values: bit 10 is 1, L0 (local enable 0), G0 (global enable 0), L1. */
#define L1_DR7 0x401ull
#define GUEST12_DR7 0x402ull
#define L2_DR7 0x404ull
/* IA32_DEBUGCTL values with defined bits only: LBR (0), BTF (1), TR (6),
 * FREEZE_LBRS_ON_PMI (11). */
#define L1_DEBUGCTL 0x1ull
#define GUEST12_DEBUGCTL 0x800ull
#define WRMSR_DEBUGCTL 0x40ull
#define LIST_DEBUGCTL 0x801ull
#define BAD_DEBUGCTL 0x8ull /* bit 3: reserved */

static void set_l1_dr7(uint64_t dr7)
{
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    d.dr7 = dr7;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &d), VCORE_OK);
}

static uint64_t l1_dr7(void)
{
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    return d.dr7;
}

static uint64_t debugctl(void)
{
    uint64_t v = ~0ull;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_DEBUGCTL, &v), VCORE_OK);
    return v;
}

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
    set_l1_dr7(L1_DR7);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_DEBUGCTL, L1_DEBUGCTL), VCORE_OK);
    set12(VCORE_VMCS_GUEST_DR7, GUEST12_DR7);
    set12(VCORE_VMCS_GUEST_IA32_DEBUGCTL, GUEST12_DEBUGCTL);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* VMLAUNCH, n L2 exits of reason L0 completes, then L2's CPUID (L1's)
 * whose exit leaves L2's DR7 as dr7 in vmcs02 (what the processor saves
 * with vmcs02's "save debug controls"), L1 halts. */
static void launch_then_cpuid(uint32_t n, uint32_t reason, uint64_t dr7)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    for (uint32_t i = 0; i < n; i++)
        nested_push_l2_q(reason, 0, 2);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_GUEST_DR7};
    uint64_t val[2] = {2, dr7};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 2, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

/* vmcs02's guest DR7 and IA32_DEBUGCTL with and without L1's "load debug
 * controls": vmcs12's, else L1's; vmcs02 loads and saves them whatever L1
 * says (rules X(4, 2, ONE) and X(3, 2, ONE)). After the exit L1 has DR7
 * 400H and IA32_DEBUGCTL 0; without "save debug controls" vmcs12 keeps
 * what L1 wrote. */
START_TEST(vmcs02_loads_l2_debug_controls)
{
    bool load = _i != 0;
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | (load ? LOAD_DEBUG : 0u));
    launch_then_cpuid(0, 0, load ? GUEST12_DR7 : L1_DR7);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_CONTROLS) & LOAD_DEBUG, LOAD_DEBUG);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_EXIT_CONTROLS) & LOAD_DEBUG, LOAD_DEBUG);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_DEBUGCTL), load ? GUEST12_DEBUGCTL : L1_DEBUGCTL);
    ck_assert_uint_eq(l1_dr7(), 0x400);
    ck_assert_uint_eq(debugctl(), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_DR7), GUEST12_DR7);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_DEBUGCTL), GUEST12_DEBUGCTL);
}
END_TEST

/* The DR7 vmcs02 is entered with: checked at the entry, before the exit
 * overwrites vmcs02's field. The mock's L2 exit with no fields leaves
 * vmcs02's DR7 as the entry wrote it. */
START_TEST(vmcs02_dr7_is_l1s_without_load)
{
    bool load = _i != 0;
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | (load ? LOAD_DEBUG : 0u));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_DR7), load ? GUEST12_DR7 : L1_DR7);
}
END_TEST

/* L2 changed DR7 (MOV to DR7 does not exit) and wrote IA32_DEBUGCTL
 * through L0; the exit with "save debug controls" stores both in vmcs12,
 * without it vmcs12 keeps L1's values. L1 gets 400H and 0 either way. */
START_TEST(exit_saves_l2_debug_controls)
{
    bool save = _i != 0;
    nested_msr_bitmap_clear();
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | LOAD_DEBUG);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | (save ? LOAD_DEBUG : 0u));
    nested_l2_wrmsr(VCORE_MSR_IA32_DEBUGCTL, WRMSR_DEBUGCTL);
    launch_then_cpuid(1, VCORE_VMX_EXIT_WRMSR, L2_DR7);
    ck_assert_uint_eq(last().l0_handled, 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_DEBUGCTL), WRMSR_DEBUGCTL);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_DR7), save ? L2_DR7 : GUEST12_DR7);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_DEBUGCTL), save ? WRMSR_DEBUGCTL : GUEST12_DEBUGCTL);
    ck_assert_uint_eq(l1_dr7(), 0x400);
    ck_assert_uint_eq(debugctl(), 0);
}
END_TEST

/* The DR7 L2 had at an exit L1 does not save is not vmcs12's: the next
 * VMRESUME with "load debug controls" gives L2 vmcs12's DR7 again, though
 * L1 wrote no field. */
START_TEST(resume_reloads_dr7_l2_changed)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | LOAD_DEBUG);
    launch_then_cpuid(0, 0, L2_DR7);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_DR7), GUEST12_DR7);
}
END_TEST

/* With L1's "MOV-DR exiting" L2 cannot change DR7 without an exit to L1,
 * so vmcs02's DR7 is still what was written: a VMRESUME with the same
 * vmcs12 does not write it again. */
START_TEST(resume_keeps_dr7_with_mov_dr_exiting)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 23));
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | LOAD_DEBUG);
    launch_then_cpuid(0, 0, GUEST12_DR7);
    uint64_t r0 = 0, w0 = 0, r1 = 0, w1 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_DR7, &r0, &w0), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_DR7, &r1, &w1), VCORE_OK);
    ck_assert_uint_eq(w1, w0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_DR7), GUEST12_DR7);
}
END_TEST

/* L2's WRMSR of a reserved IA32_DEBUGCTL bit: #GP(0) injected into L2
 * (valid, hardware exception, error code, vector 13), RIP not advanced,
 * vmcs02's value unchanged. */
START_TEST(l2_wrmsr_debugctl_reserved_is_gp)
{
    nested_msr_bitmap_clear();
    nested_l2_wrmsr(VCORE_MSR_IA32_DEBUGCTL, _i ? (1ull << 16) : BAD_DEBUGCTL);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_WRMSR, 0, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_DEBUGCTL), L1_DEBUGCTL);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
}
END_TEST

/* L2's RDMSR of IA32_DEBUGCTL that L1 does not intercept: L2's value
 * (vmcs12's under "load debug controls"), answered by L0. */
START_TEST(l2_rdmsr_debugctl_sees_l2_value)
{
    nested_msr_bitmap_clear();
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | LOAD_DEBUG);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_DEBUGCTL);
    nested_set_gpr(VCORE_X86_RAX, ~0ull);
    nested_set_gpr(VCORE_X86_RDX, ~0ull);
    launch_then_cpuid(1, VCORE_VMX_EXIT_RDMSR, GUEST12_DR7);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], GUEST12_DEBUGCTL);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0);
    ck_assert_uint_eq(last().l0_handled, 1);
}
END_TEST

/* A VM-entry MSR-load list entry for IA32_DEBUGCTL overrides the value the
 * guest state loaded; "save debug controls" stores it in vmcs12. */
START_TEST(msr_load_list_entry_loads_l2_debugctl)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | LOAD_DEBUG);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | LOAD_DEBUG);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_DEBUGCTL, 8);
    put(MSRLIST + 8, LIST_DEBUGCTL, 8);
    launch_then_cpuid(0, 0, GUEST12_DR7);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_DEBUGCTL), LIST_DEBUGCTL);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_DEBUGCTL), LIST_DEBUGCTL);
    ck_assert_uint_eq(debugctl(), 0);
}
END_TEST

/* A reserved bit in entry 2 of the list fails the entry: exit reason 34
 * with bit 31, qualification 2; L1 has IA32_DEBUGCTL 0 and DR7 400H. */
START_TEST(msr_load_list_reserved_debugctl_fails_entry)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_DEBUGCTL, 8);
    put(MSRLIST + 8, LIST_DEBUGCTL, 8);
    put(MSRLIST + 16, VCORE_MSR_IA32_DEBUGCTL, 8);
    put(MSRLIST + 24, BAD_DEBUGCTL, 8);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_MSR_LOAD_DEBUGCTL);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(debugctl(), 0);
    ck_assert_uint_eq(l1_dr7(), 0x400);
}
END_TEST

/* The VMM while L2 runs: vcore_vcpu_get_msr/set_msr act on L2's
 * IA32_DEBUGCTL; a reserved bit is refused as L2's WRMSR would be; the
 * written value is what "save debug controls" stores at the next exit. */
START_TEST(vmm_reads_and_writes_l2_debugctl)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | LOAD_DEBUG);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | LOAD_DEBUG);
    nested_launch_to_vmm();
    ck_assert_uint_eq(debugctl(), GUEST12_DEBUGCTL);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_DEBUGCTL, BAD_DEBUGCTL), VCORE_ERR_INVAL);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_VMX_CHECK_MSR_LOAD_DEBUGCTL);
    ck_assert_uint_eq(debugctl(), GUEST12_DEBUGCTL);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_DEBUGCTL, WRMSR_DEBUGCTL), VCORE_OK);
    ck_assert_uint_eq(debugctl(), WRMSR_DEBUGCTL);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_DEBUGCTL), WRMSR_DEBUGCTL);
    ck_assert_uint_eq(debugctl(), 0);
}
END_TEST

/* The VMM while L2 runs: vcore_vcpu_get_dregs/set_dregs see L2's DR7 -
 * what vmcs02 saved at the exit, L2 having written it without exiting (no
 * MOV-DR exiting) - and write it into vmcs02; a DR7 with bits 63:32 set is
 * refused and changes nothing. DR0-DR3 and DR6 are shared with L1 (no VM
 * entry or exit switches them). "Save debug controls" then stores the
 * VMM's DR7 in vmcs12 at the exit to L1, and L1 has 400H. */
START_TEST(vmm_reads_and_writes_l2_dr7)
{
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    d.dr[0] = 0x1000;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &d), VCORE_OK);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | LOAD_DEBUG);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | LOAD_DEBUG);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_GUEST_DR7};
    uint64_t val[2] = {0x80000306u, L2_DR7};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 2, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert(last().in_l2);
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr7, L2_DR7);
    ck_assert_uint_eq(d.dr[0], 0x1000);
    d.dr7 = 0x408;
    d.dr[1] = 0x2000;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_DR7), 0x408);
    d.dr7 = 0x100000400ull;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_DR7), 0x408);
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr7, 0x408);
    ck_assert_uint_eq(d.dr[1], 0x2000);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_DR7), 0x408);
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr7, 0x400);
    ck_assert_uint_eq(d.dr[0], 0x1000);
    ck_assert_uint_eq(d.dr[1], 0x2000);
}
END_TEST

/* L1's own RDMSR/WRMSR of IA32_DEBUGCTL: answered by the vCPU model (the
 * VMM sees only the HLT); a reserved bit is #GP(0) and changes nothing. */
START_TEST(l1_msr_debugctl_answered_by_model)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_WRMSR);
    e.u.msr.index = VCORE_MSR_IA32_DEBUGCTL;
    e.u.msr.value = WRMSR_DEBUGCTL;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    e = vcore_test_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = VCORE_MSR_IA32_DEBUGCTL;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_exit_t reply = {.size = sizeof(reply)};
    ck_assert_int_eq(vcore_mock_last_reply(vcpu, &reply), VCORE_OK);
    ck_assert_uint_eq(reply.u.msr.error, 0);
    ck_assert_uint_eq(reply.u.msr.value, WRMSR_DEBUGCTL);
    ck_assert_uint_eq(debugctl(), WRMSR_DEBUGCTL);
    e = vcore_test_exit(VCORE_EXIT_WRMSR);
    e.u.msr.index = VCORE_MSR_IA32_DEBUGCTL;
    e.u.msr.value = BAD_DEBUGCTL;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 13);
    ck_assert_uint_eq(debugctl(), WRMSR_DEBUGCTL);
}
END_TEST

/* The merge rules: vmcs02's entry and exit bit 2 are 1 whatever L1 and L0 say. */
START_TEST(merge_forces_debug_controls)
{
    uint32_t l1[5] = {0, 0, 0, 0, 0}, l0[5] = {0, 0, 0, 0, 0}, out[5];
    vcore_nvmx_merge_controls(l1, l0, out);
    ck_assert_uint_eq(out[3] & LOAD_DEBUG, LOAD_DEBUG);
    ck_assert_uint_eq(out[4] & LOAD_DEBUG, LOAD_DEBUG);
}
END_TEST

static Suite *debugctl_suite(void)
{
    Suite *s = suite_create("nested_debugctl");
    TCase *t = tcase_create("debugctl");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_loop_test(t, vmcs02_loads_l2_debug_controls, 0, 2);
    tcase_add_loop_test(t, vmcs02_dr7_is_l1s_without_load, 0, 2);
    tcase_add_loop_test(t, exit_saves_l2_debug_controls, 0, 2);
    tcase_add_test(t, resume_reloads_dr7_l2_changed);
    tcase_add_test(t, resume_keeps_dr7_with_mov_dr_exiting);
    tcase_add_loop_test(t, l2_wrmsr_debugctl_reserved_is_gp, 0, 2);
    tcase_add_test(t, l2_rdmsr_debugctl_sees_l2_value);
    tcase_add_test(t, msr_load_list_entry_loads_l2_debugctl);
    tcase_add_test(t, msr_load_list_reserved_debugctl_fails_entry);
    tcase_add_test(t, vmm_reads_and_writes_l2_debugctl);
    tcase_add_test(t, vmm_reads_and_writes_l2_dr7);
    tcase_add_test(t, l1_msr_debugctl_answered_by_model);
    tcase_add_test(t, merge_forces_debug_controls);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(debugctl_suite());
}
