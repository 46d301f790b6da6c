/*
 * test_nested_events.c - the order of events on L2's instruction boundaries
 * when L0 makes the VM exit to L1 itself (an NMI or external interrupt for
 * the vCPU, INIT), on the mock.
 *
 * Expected values come from SDM Vol. 3: "Priority Among Concurrent Events"
 * (traps on the previous instruction, priority 4, before NMIs, 5, and
 * maskable interrupts, 6), "Delivery of Pending Debug Exceptions after VM
 * Entry" (such a #DB "takes priority over any pending non-maskable interrupt
 * (NMI) or external interrupt"; a VM exit when exception bitmap bit 1 is
 * set, else DR6 is updated), "Exit Qualification for Debug Exceptions"
 * (bit 14 BS), "Debug Status Register (DR6)" (BS is bit 14; bits 31:16 and
 * 11:4 read as 1), "Information for VM Exits Due to Vectored Events"
 * (interruption information: vector, type 2 NMI / 3 hardware exception /
 * 0 external interrupt, bit 31 valid), "Information for VM Exits That Occur
 * During Event Delivery", "Event Blocking" and "Interruptibility State"
 * (blocking by MOV SS and by NMI, virtual-NMI blocking), "Saving
 * Non-Register State" (the activity state is saved as it was before the
 * exit - 1 for HLT -; pending debug exceptions are saved clear for exits
 * caused by a debug exception, an NMI or an external interrupt),
 * "Architectural State Before a VM Exit" (an event that causes a VM exit
 * directly ends the HLT state only after the exit), SDM Vol. 2 "HLT"
 * (execution resumes at the instruction after it).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define PIN12 0x16u               /* the reference vmcs12's pin-based controls */
#define PIN_EXT_INT (1u << 0)     /* external-interrupt exiting */
#define PIN_NMI (1u << 3)         /* NMI exiting */
#define PIN_VNMI (1u << 5)        /* virtual NMIs */
#define EXIT12 (0x00036dfbu | (1u << 9))
#define EXIT_ACK (1u << 15)       /* acknowledge interrupt on exit */
#define RFLAGS_TF 0x100u
#define EXC_DB (1u << 1)          /* exception bitmap bit 1 */
#define BS (1u << 14)             /* pending debug exceptions / qualification / DR6: single step */
#define INFO_DB 0x80000301u       /* valid, type 3 (hardware exception), vector 1 */
#define INFO_NMI 0x80000202u      /* valid, type 2 (NMI), vector 2 */
#define INFO_INT30 0x80000030u    /* valid, type 0 (external interrupt), vector 30H */
#define DR6_INIT 0xffff0ff0ull    /* DR6 after RESET */
#define ACT_ACTIVE 0u
#define ACT_HLT 1u
#define L2_RIP 0x401000u

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static vcore_x86_events_t events(void)
{
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    return ev;
}

static uint64_t dr6(void)
{
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    return d.dr6;
}

/* L1's VMREAD of a vmcs12 field (what L1 sees, lazily synced fields included). */
static uint64_t l1_vmread(uint32_t enc)
{
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, enc, 0);
    return regs().gpr[VCORE_X86_RCX];
}

static uint64_t enters(void)
{
    return vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
}

/* L1 runs its NMI handler (blocking by NMI): an NMI for the vCPU stays
 * pending while L1 runs. */
static void l1_nmis_blocked(void)
{
    vcore_x86_events_t ev = events();
    ev.nmi_masked = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
}

/* L1's VMLAUNCH (L1's NMIs blocked), then L2's OUT 80H (1 byte), which L1
 * does not intercept: the VMM's; it completes it (no reply data). */
static vcore_exit_t launch_out_to_vmm(void)
{
    load_vmcs12();
    l1_nmis_blocked();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, 0x80ull << 16, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    return e;
}

/* L0 intercepts HLT itself (vmcs01's HLT exiting, primary control 7, which
 * vmcs02 takes by the merge rule OR): L2's HLT that L1 lets through is
 * L0's, as on a processor. */
static void l0_hlt_exiting(void)
{
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 7), VCORE_OK);
}

/* L1's VMLAUNCH, then L2's HLT, which L1 does not intercept: the VMM's
 * (VCORE_EXIT_HLT, flag L2), which completes it. */
static vcore_exit_t launch_hlt_to_vmm(void)
{
    l0_hlt_exiting();
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_HLT, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & (1u << 7), 1u << 7);
    return e;
}

/* The VMM's next run after an exit of L2: L0 makes a VM exit to L1 before
 * L2 runs again (vmcs02 not entered), L1 halts. */
static void run_to_l1_without_entering_l2(vcore_exit_t *e)
{
    uint64_t n = enters();
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, e), VCORE_OK);
    ck_assert_uint_eq(e->reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e->flags & VCORE_EXIT_F_L2, 0);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(enters(), n);
}

/* L2 ran OUT under RFLAGS.TF and the VMM completed it: its single-step trap
 * is pending on the boundary after it when an external interrupt (_i & 2:
 * an NMI) arrives for the vCPU and L1 has "external-interrupt exiting"
 * ("NMI exiting"). The trap (priority 4) comes first:
 * - L1's exception bitmap without bit 1 (_i & 1 = 0): the #DB is delivered
 *   to L2 - DR6.BS set - and the interrupt's VM exit follows, reporting the
 *   #DB as the event L1 has to deliver first (IDT-vectoring information
 *   80000301H); pending debug exceptions saved clear.
 * - with bit 1 (_i & 1 = 1): the #DB is exit 0 to L1, interruption
 *   information 80000301H, qualification BS; DR6 unchanged; the interrupt
 *   (NMI) is still pending (L1 runs with RFLAGS.IF = 0, in its NMI
 *   handler), and L1's VMRESUME takes it right after the entry, before L2
 *   executes anything.
 * RIP is past the OUT either way (a trap). */
START_TEST(single_step_trap_before_interrupt_or_nmi_exit)
{
    bool l1_db = (_i & 1) != 0, nmi = (_i & 2) != 0;
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | (nmi ? PIN_NMI : PIN_EXT_INT));
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2u | RFLAGS_TF);
    if (l1_db)
        set12(VCORE_VMCS_EXCEPTION_BITMAP, EXC_DB);
    vcore_exit_t e = launch_out_to_vmm();
    if (nmi)
        ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    else
        ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    run_to_l1_without_entering_l2(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + 1);
    ck_assert_uint_eq(l1_vmread(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 0);
    if (!l1_db) {
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON),
                          nmi ? VCORE_VMX_EXIT_EXCEPTION_NMI : VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), nmi ? INFO_NMI : INFO_INT30);
        ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), INFO_DB);
        ck_assert_uint_eq(dr6(), DR6_INIT | BS);
        ck_assert_uint_eq((nmi ? events().nmi_pending : events().interrupt_pending), 0);
        return;
    }
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), INFO_DB);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), BS);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD) >> 31, 0);
    ck_assert_uint_eq(dr6(), DR6_INIT);
    ck_assert_uint_eq((nmi ? events().nmi_pending : events().interrupt_pending), 1);
    /* L1 resumes L2: the NMI or interrupt is the exit right after the entry. */
    uint64_t n = enters();
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(enters(), n);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON),
                      nmi ? VCORE_VMX_EXIT_EXCEPTION_NMI : VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), nmi ? INFO_NMI : INFO_INT30);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + 1);
}
END_TEST

/* Without RFLAGS.TF nothing is pending: the interrupt exit comes at once,
 * nothing being delivered (IDT-vectoring information not valid). */
START_TEST(no_trap_without_tf)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | PIN_EXT_INT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, EXC_DB);
    vcore_exit_t e = launch_out_to_vmm();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    run_to_l1_without_entering_l2(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD) >> 31, 0);
    ck_assert_uint_eq(dr6(), DR6_INIT);
}
END_TEST

/* L1 enters L2 with pending debug exceptions in vmcs12 (BS, enabled
 * breakpoint with B0, or B0 alone, which is not a valid pending debug
 * exception) while an NMI is pending, L1 intercepting #DB: a valid one is
 * delivered after the entry before the NMI ("Delivery of Pending Debug
 * Exceptions after VM Entry") - exit 0, #DB, qualification B3-B0 and BS as
 * pending -, the NMI still pending; B0 alone is not delivered: the NMI
 * exit. Case 3: BS in the shutdown activity state, where pending debug
 * exceptions are not delivered ("Delivery of Pending Debug Exceptions
 * after VM Entry") and an NMI is not blocked: the NMI exit. */
START_TEST(pending_debug_exception_at_entry_before_nmi)
{
    static const uint64_t pend[4] = {BS, (1u << 12) | 1u, 1u, BS};
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | PIN_NMI);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, EXC_DB);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2u | (_i == 0 ? RFLAGS_TF : 0u));
    set12(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, pend[_i]);
    if (_i == 3)
        set12(VCORE_VMCS_GUEST_ACTIVITY_STATE, 2); /* shutdown */
    load_vmcs12();
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    l1_nmis_blocked();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(enters(), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    if (_i >= 2) {
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), INFO_NMI);
        ck_assert_uint_eq(events().nmi_pending, 0);
        return;
    }
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), INFO_DB);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), _i == 0 ? BS : 1u);
    ck_assert_uint_eq(events().nmi_pending, 1);
    ck_assert_uint_eq(l1_vmread(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 0);
}
END_TEST

/* An NMI pending for the vCPU when L1 (its NMIs blocked: it runs its NMI
 * handler) executes VMLAUNCH with "NMI exiting": the NMI exit (reason 0,
 * 80000202H) comes right after the entry, before L2 executes anything -
 * vmcs02 never entered, L2's RIP as the entry loaded it, vmcs12 launched,
 * the NMI taken and NMIs blocked after the exit. Case 1: blocking by MOV SS
 * in L2's interruptibility state holds it off; case 2: blocking by NMI
 * without "virtual NMIs" too - L2 runs to its CPUID exit, the NMI still
 * pending. Case 3: bit 3 with "virtual NMIs" is virtual-NMI blocking, which
 * does not block NMIs: the exit as in case 0. Case 4: an external interrupt
 * pending as well, with "external-interrupt exiting": the NMI first, the
 * interrupt still pending. Case 5: the entry injects an event: no exit
 * before vmcs02 is entered. */
START_TEST(nmi_pending_at_vmlaunch)
{
    static const uint32_t intr[6] = {0, 2, 8, 8, 0, 0};
    bool held = _i == 1 || _i == 2 || _i == 5;
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL,
          PIN12 | PIN_NMI | (_i == 3 ? PIN_VNMI : 0u) | (_i == 4 ? PIN_EXT_INT : 0u));
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK);
    set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, intr[_i]);
    if (_i == 5)
        set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0x80000306u); /* #UD */
    load_vmcs12();
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    if (_i == 4)
        ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    l1_nmis_blocked();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    if (held)
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(((const uint8_t *)vcore_nvmx_vmcs12(nv))[VCORE_VMCS12_OFF_LAUNCH_STATE], 1);
    if (held) {
        ck_assert_uint_eq(enters(), 1);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        ck_assert_uint_eq(events().nmi_pending, 1);
        return;
    }
    ck_assert_uint_eq(enters(), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), INFO_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    vcore_x86_events_t ev = events();
    ck_assert_uint_eq(ev.nmi_pending, 0);
    ck_assert_uint_eq(ev.nmi_masked, 1);
    ck_assert_uint_eq(ev.interrupt_pending, _i == 4 ? 1 : 0);
}
END_TEST

/* L2's HLT, which L1 does not intercept, completed by the VMM: L2 is in
 * the HLT state. An external interrupt (case 0), an NMI (case 1) or an INIT
 * (case 2) for the vCPU, which L1 gets as a VM exit, ends it only after the
 * exit: vmcs12's activity state is 1 (HLT), RIP past the HLT; vmcs02 is not
 * entered. L1's VMRESUME then resumes L2 in the HLT state. */
START_TEST(hlt_completed_by_vmm_then_exit_saves_hlt)
{
    static const uint32_t reason[3] = {VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, VCORE_VMX_EXIT_EXCEPTION_NMI,
                                       VCORE_VMX_EXIT_INIT};
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | PIN_EXT_INT | PIN_NMI);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK);
    vcore_exit_t e = launch_hlt_to_vmm();
    if (_i == 0)
        ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    else if (_i == 1)
        ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    else
        ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    run_to_l1_without_entering_l2(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), reason[_i]);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + 1);
    if (_i == 2)
        return;
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_HLT);
}
END_TEST

/* The VMM runs the vCPU again after L2's HLT with nothing for L1 (its run
 * after VCORE_EXIT_HLT is the wake-up, as for L1's HLT): L2 resumes
 * active past the HLT - vmcs02 entered with activity state 0, never left
 * halted where no event of the VMM's could reach it - and a later exit to
 * L1 (CPUID) saves activity state 0. With MTF the boundary after the HLT
 * is first L1's (MTF VM exit, in the HLT state: activity state 1). */
START_TEST(hlt_completed_by_vmm_run_again_wakes_l2)
{
    if (_i)
        set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 27));
    vcore_exit_t e = launch_hlt_to_vmm();
    if (_i) {
        run_to_l1_without_entering_l2(&e);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_MONITOR_TRAP_FLAG);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_HLT);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + 1);
        return;
    }
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_ACTIVE);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_ACTIVE);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + 1);
}
END_TEST

/* L2's HLT under RFLAGS.TF completed by the VMM: its single-step trap is
 * pending when an interrupt for L1 arrives. Case 0: L1 does not intercept
 * #DB - the #DB delivered to L2 ends the HLT state: the interrupt exit
 * saves activity state 0, the #DB as IDT-vectoring information. Case 1: L1
 * intercepts #DB - the #DB's VM exit, caused directly while L2 is halted,
 * saves activity state 1. */
START_TEST(hlt_trap_delivered_to_l2_wakes_it)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | PIN_EXT_INT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2u | RFLAGS_TF);
    if (_i)
        set12(VCORE_VMCS_EXCEPTION_BITMAP, EXC_DB);
    vcore_exit_t e = launch_hlt_to_vmm();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    run_to_l1_without_entering_l2(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + 1);
    if (_i) {
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), INFO_DB);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_HLT);
        return;
    }
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), INFO_DB);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_ACTIVE);
}
END_TEST

/* L1 not offered the HLT activity state (IA32_VMX_MISC bit 6 clear) could
 * not resume a halted L2: L2 runs on past the HLT, and the interrupt exit
 * saves activity state 0. */
START_TEST(hlt_without_l1_hlt_state_runs_on)
{
    vcore_nvmx_caps_t c = *vcore_nvmx_caps(nv);
    c.msr[VCORE_NVMX_CAP_MISC] &= ~(1ull << 6);
    nested_vm_destroy(0);
    nested_vm(NULL, NULL, &c, 0);
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | PIN_EXT_INT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK);
    vcore_exit_t e = launch_hlt_to_vmm();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    run_to_l1_without_entering_l2(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ACTIVITY_STATE), ACT_ACTIVE);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("nested_events");
    TCase *tt = tcase_create("trap_first");
    tcase_add_checked_fixture(tt, setup, teardown);
    tcase_add_loop_test(tt, single_step_trap_before_interrupt_or_nmi_exit, 0, 4);
    tcase_add_test(tt, no_trap_without_tf);
    tcase_add_loop_test(tt, pending_debug_exception_at_entry_before_nmi, 0, 4);
    suite_add_tcase(s, tt);
    TCase *tn = tcase_create("nmi_at_entry");
    tcase_add_checked_fixture(tn, setup, teardown);
    tcase_add_loop_test(tn, nmi_pending_at_vmlaunch, 0, 6);
    suite_add_tcase(s, tn);
    TCase *th = tcase_create("hlt");
    tcase_add_checked_fixture(th, setup, teardown);
    tcase_add_loop_test(th, hlt_completed_by_vmm_then_exit_saves_hlt, 0, 3);
    tcase_add_loop_test(th, hlt_completed_by_vmm_run_again_wakes_l2, 0, 2);
    tcase_add_loop_test(th, hlt_trap_delivered_to_l2_wakes_it, 0, 2);
    tcase_add_test(th, hlt_without_l1_hlt_state_runs_on);
    suite_add_tcase(s, th);
    return s;
}

int main(void)
{
    return vcore_test_run(suite());
}
