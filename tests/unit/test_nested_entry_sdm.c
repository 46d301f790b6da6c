/*
 * test_nested_entry_sdm.c - what L2 is given by L1's VMLAUNCH/VMRESUME and
 * what exit L1 gets right after it, checked against the manual rule by
 * rule, as black-box tests of the pipeline on the mock.
 *
 * Every expected value comes from SDM Vol. 3, chapter "VM Entries":
 * "Checks on the Guest State Area" ("Checks on Guest RIP, RFLAGS, and SSP",
 * "Checks on Guest Non-Register State"), "Loading Guest State", "Event
 * Injection" ("Vectored-Event Injection", "Injection of Pending MTF VM
 * Exits"), "Special Features of VM Entry" ("Interruptibility State",
 * "Activity State", "VMX-Preemption Timer", "Interrupt-Window Exiting",
 * "NMI-Window Exiting", "VM Exits Induced by the TPR Threshold") and
 * "VM-Entry Failures During or After Loading Guest State"; and chapter
 * "VMX Non-Root Operation" ("Other Causes of VM Exits", "Monitor Trap
 * Flag").
 *
 * The mock "processor" does what the SDM's processor does with vmcs02 only
 * as far as a test scripts it: a test reads vmcs02 (what the processor
 * would be given) and scripts the exit the processor would then make.
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define PIN12 0x16u        /* the reference vmcs12's pin-based controls */
#define PIN_EXT_INT (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PIN_VIRTUAL_NMIS (1u << 5)
#define PIN_TIMER (1u << 6)
#define PROC12 0x04006172u /* its primary processor-based controls */
#define PROC_INTR_WINDOW (1u << 2)
#define PROC_TPR_SHADOW (1u << 21)
#define PROC_NMI_WINDOW (1u << 22)
#define PROC_MTF (1u << 27)
#define PROC_SECONDARY (1u << 31)
#define PROC2_APIC_ACCESS (1u << 0)
#define EXIT12 (0x00036dfbu | (1u << 9))
#define EXIT_ACK_INTR (1u << 15)
#define ENTRY12 (0x000011fbu | (1u << 9))
#define ENTRY_LOAD_EFER (1u << 15)

#define VAPIC_GPA 0x34000u
#define APIC_ACCESS_GPA 0x35000u

/* "Format of the VM-Entry Interruption-Information Field": vector 7:0,
 * type 10:8, deliver error code 11, valid 31. */
#define EV(type, vector) ((1u << 31) | ((uint32_t)(type) << 8) | (uint32_t)(vector))
#define EV_ERR (1u << 11)
#define T_EXT 0u
#define T_NMI 2u
#define T_HW 3u
#define T_SWINT 4u
#define T_OTHER 7u

#define EXIT_FAIL(basic) (0x80000000u | (basic))

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static uint64_t enters(void)
{
    return vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
}

static bool interrupt_pending(void)
{
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    return ev.interrupt_pending != 0;
}

/* L1's VMLAUNCH of the loaded vmcs12; the processor exits L2 with reason
 * (and fields); the exit is L1's, which then halts. */
static void launch_to_l1(uint32_t reason, uint32_t n, const uint32_t *enc, const uint64_t *val)
{
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, n, enc, val);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
    ck_assert(!last().in_l2);
}

/* L1's VMLAUNCH fails after the instruction's own checks: an exit to L1
 * (L1 halts at HOST_RIP) and vmcs02 never entered. */
static void launch_fails_to_l1(void)
{
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(enters(), 0);
}

/* ---- "VM-Entry Failures During or After Loading Guest State" ---- */

/* Step 1 records the exit reason and the exit qualification: "All other
 * VM-exit information fields are unmodified". And "the guest-state area is
 * not modified". Here they hold what an earlier exit (a #PF during the
 * delivery of external interrupt 30H) left. */
START_TEST(failed_entry_leaves_other_exit_information_unmodified)
{
    set12(VCORE_VMCS_GUEST_RFLAGS, 0); /* bit 1 must be 1 */
    set12(VCORE_VMCS_VM_EXIT_INTR_INFO, EV(T_HW, 14) | EV_ERR);
    set12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE, 2);
    set12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD, EV(T_EXT, 0x30));
    set12(VCORE_VMCS_IDT_VECTORING_ERROR_CODE, 7);
    set12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, 2);
    set12(VCORE_VMCS_EXIT_QUALIFICATION, 0x1234);
    load_vmcs12();
    launch_fails_to_l1();
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_INVALID_GUEST_STATE));
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), EV(T_HW, 14) | EV_ERR);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), EV(T_EXT, 0x30));
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_ERROR_CODE), 7);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RFLAGS), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x8000);
}
END_TEST

/* "The valid bit in the VM-entry interruption-information field is not
 * cleared" by a failed entry - neither exit 33 (case 0: RFLAGS bit 1
 * clear) nor exit 34 (case 1: the second MSR-load entry names the x2APIC
 * TPR, qualification 2) - while the exit after a successful entry clears it
 * ("Clearing the VM-Entry Interruption-Information Valid Bit", case 2). */
START_TEST(failed_entry_keeps_entry_interruption_valid_bit)
{
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(T_EXT, 0x30));
    set12(VCORE_VMCS_GUEST_RFLAGS, _i == 0 ? 0x200 : 0x202);
    if (_i == 1) {
        set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
        set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
        put(MSRLIST, VCORE_MSR_IA32_SYSENTER_CS, 8);
        put(MSRLIST + 16, 0x808, 8);
    }
    load_vmcs12();
    if (_i == 2) {
        launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), EV(T_EXT, 0x30));
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x30u);
        return;
    }
    launch_fails_to_l1();
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON),
                      EXIT_FAIL(_i == 0 ? VCORE_VMX_EXIT_INVALID_GUEST_STATE : VCORE_VMX_EXIT_MSR_LOADING));
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), _i == 0 ? 0u : 2u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), EV(T_EXT, 0x30));
}
END_TEST

/* Exit 34: the list's entries before the failing one stay loaded (here
 * IA32_KERNEL_GS_BASE, which the host state does not load); "No MSRs are
 * saved into the VM-exit MSR-store area"; "MSRs are loaded as specified in
 * the VM-exit MSR-load area" (IA32_LSTAR). */
START_TEST(failed_entry_msr_lists)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_KERNEL_GS_BASE, 8);
    put(MSRLIST + 8, 0x123456789000ull, 8);
    put(MSRLIST + 16, 0x808, 8); /* x2APIC TPR: may not be loaded */
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR, MSRLIST + 0x100);
    put(MSRLIST + 0x100, VCORE_MSR_IA32_KERNEL_GS_BASE, 8);
    put(MSRLIST + 0x108, 0x5a5a5a5a, 8);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, MSRLIST + 0x200);
    put(MSRLIST + 0x200, VCORE_MSR_IA32_LSTAR, 8);
    put(MSRLIST + 0x208, 0xffffffff81000000ull, 8);
    load_vmcs12();
    launch_fails_to_l1();
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_MSR_LOADING));
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
    uint64_t x = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_KERNEL_GS_BASE, &x), VCORE_OK);
    ck_assert_uint_eq(x, 0x123456789000ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_LSTAR, &x), VCORE_OK);
    ck_assert_uint_eq(x, 0xffffffff81000000ull);
    ck_assert_int_eq(vcore_vm_read_guest(vm, MSRLIST + 0x108, &x, 8), VCORE_OK);
    ck_assert_uint_eq(x, 0x5a5a5a5a);
}
END_TEST

/* "Checks on Guest Non-Register State" / "Loading Page-Directory-Pointer-
 * Table Entries": L2 with PAE paging (CR0.PG, CR4.PAE, not "IA-32e mode
 * guest") and no EPT has its four PDPTEs loaded from CR3; a reserved bit
 * set (bits 2:1 of PDPTE1 here) fails the entry with exit 33,
 * qualification 2 (case 0); valid PDPTEs enter L2 (case 1). */
START_TEST(pae_pdpte_reserved_bit_fails_entry)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 & ~(1u << 9));
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b); /* 32-bit code: D, not L */
    set12(VCORE_VMCS_GUEST_CR3, 0x36000);
    put(0x36000, 0x37001, 8);
    put(0x36008, _i == 0 ? 0x38003 : 0x38001, 8);
    load_vmcs12();
    if (_i == 0) {
        launch_fails_to_l1();
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_INVALID_GUEST_STATE));
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
        return;
    }
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CR3), 0x36000);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER) & 0x500u, 0); /* LMA, LME: not IA-32e */
}
END_TEST

/* "Loading Page-Directory-Pointer-Table Entries": with EPT ("enable EPT",
 * L1's) a PAE-paging L2 takes its PDPTEs from the guest PDPTE fields, not
 * from memory at CR3 (which holds reserved bits here): the fields are
 * checked ("Checks on Guest Page-Directory-Pointer-Table Entries": a
 * reserved bit in PDPTE1 fails the entry, exit 33, qualification 2, case
 * 0) and reach vmcs02 as they are (case 1). */
START_TEST(pae_pdpte_fields_with_ept)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_SECONDARY);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1);
    set12(VCORE_VMCS_EPT_POINTER, 0x50000u | 6u | (3u << 3)); /* WB, 4 levels */
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 & ~(1u << 9));
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);
    set12(VCORE_VMCS_GUEST_CR3, 0x36000);
    put(0x36000, 0x37007, 8);
    put(0x36008, 0x38007, 8);
    set12(VCORE_VMCS_GUEST_PDPTR0, 0x37001);
    set12(VCORE_VMCS_GUEST_PDPTR1, _i == 0 ? 0x38003 : 0x38001);
    load_vmcs12();
    if (_i == 0) {
        launch_fails_to_l1();
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_INVALID_GUEST_STATE));
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
        return;
    }
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR0), 0x37001);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR1), 0x38001);
}
END_TEST

/* "Checks on VMX Controls": the library's capability MSRs offer neither
 * "load IA32_PERF_GLOBAL_CTRL" (entry control 13) nor "load IA32_BNDCFGS"
 * (16) - allowed-0 - so an entry asking for one is VMfailValid 7 and L2 is
 * never entered. */
START_TEST(entry_controls_not_offered_vmfail_7)
{
    const vcore_nvmx_caps_t *c = vcore_nvmx_caps(nv);
    uint32_t bit = _i == 0 ? 13u : 16u;
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_TRUE_ENTRY] >> 32) & (1u << bit), 0);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | (1u << bit));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
    ck_assert_uint_eq(enters(), 0);
}
END_TEST

/* ---- "Event Injection" ---- */

/* "Vectored-Event Injection": a hardware exception with "deliver error
 * code" pushes the VM-entry exception error code - vmcs02 carries vmcs12's
 * interruption information and error code as they are; the next exit
 * clears only the valid bit in vmcs12. */
START_TEST(hardware_exception_injected_with_error_code)
{
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(T_HW, 13) | EV_ERR);
    set12(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, 0x18);
    load_vmcs12();
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), EV(T_HW, 13) | EV_ERR);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0x18);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), (3u << 8) | EV_ERR | 13u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0x18);
}
END_TEST

/* A software interrupt (type 4) is injected with the VM-entry instruction
 * length (RIP advances by it). Its delivery faults (#GP, error code 402H:
 * IDT entry 80H) and L1 intercepts #GP: the exit's IDT-vectoring
 * information is the injected event and the VM-exit instruction length its
 * length ("Information for VM Exits That Occur During Event Delivery",
 * "Information for VM Exits Due to Instruction Execution"). */
START_TEST(software_interrupt_injected_with_length_faults_to_l1)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(T_SWINT, 0x80));
    set12(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, 2);
    load_vmcs12();
    uint32_t enc[4] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE,
                       VCORE_VMCS_IDT_VECTORING_INFO_FIELD, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[4] = {EV(T_HW, 13) | EV_ERR, 0x402, EV(T_SWINT, 0x80), 2};
    launch_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 4, enc, val);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), EV(T_SWINT, 0x80));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), EV(T_HW, 13) | EV_ERR);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE), 0x402);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), EV(T_SWINT, 0x80));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), (T_SWINT << 8) | 0x80u);
}
END_TEST

/* A privileged software exception (type 5, INT1) is injected with the
 * VM-entry instruction length, as a software interrupt is ("VM-Entry
 * Controls for Event Injection"). */
START_TEST(privileged_software_exception_injected_with_length)
{
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(5u, 1));
    set12(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, 1);
    load_vmcs12();
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), EV(5u, 1));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN), 1);
}
END_TEST

/* "Interruptibility State": without "virtual NMIs" the NMI L1 injected
 * leaves blocking by NMI in L2 (the processor's interruptibility at the
 * next exit, bit 3), and while L2 runs in VMX non-root operation "such
 * blocking remains in effect": an NMI for the vCPU causes no exit to L1
 * (case 0). With "virtual NMIs" bit 3 is virtual-NMI blocking, and "NMIs
 * are not blocked in VMX non-root operation": exit 0, vector 2, type 2
 * (case 1). */
START_TEST(nmi_blocking_after_injected_nmi)
{
    bool vnmi = _i == 1;
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | PIN_NMI_EXITING | (vnmi ? PIN_VIRTUAL_NMIS : 0));
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(T_NMI, 2));
    load_vmcs12();
    uint32_t enc[1] = {VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO};
    uint64_t val[1] = {8};
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 1, enc, val); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    if (!vnmi) {
        push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL);
        e = run();
        ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
        ck_assert(last().in_l2);
        ck_assert_uint_eq(enters(), 2);
        return;
    }
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(enters(), 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), EV(T_NMI, 2));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO), 8);
}
END_TEST

/* "Injection of Pending MTF VM Exits": type 7 (other event), vector 0
 * makes an MTF VM exit pending on the boundary after the entry "even if
 * the 'monitor trap flag' VM-execution control is 0" - that exit (37) is
 * L1's: L1 asked for it by injecting it. Case 1: with the control 1 and a
 * vectored injection, the MTF VM exit pending after its delivery ("Monitor
 * Trap Flag") is L1's too. */
START_TEST(pending_mtf_injected_exit_is_l1s)
{
    if (_i == 0) {
        set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(T_OTHER, 0));
    } else {
        set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_MTF);
        set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(T_HW, 6));
    }
    load_vmcs12();
    launch_to_l1(VCORE_VMX_EXIT_MONITOR_TRAP_FLAG, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), _i == 0 ? EV(T_OTHER, 0) : EV(T_HW, 6));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_MONITOR_TRAP_FLAG);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
}
END_TEST

/* L1's VMLAUNCH ends in VMfailValid 7 (RIP past it, ZF) and L2 is never
 * entered. */
static void assert_launch_vmfail_7(void)
{
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
    ck_assert_uint_eq(regs().rflags & 0x8d5u, 0x40u);
    ck_assert_uint_eq(enters(), 0);
}

/* "Checks on VM-Entry Control Fields", event injection: type 1 is
 * reserved; an NMI has vector 2; a hardware exception a vector up to 31;
 * an other event vector 0; "deliver error code" only for a hardware
 * exception; bits 30:12 are reserved; bits 31:16 of the error code are 0; a software
 * interrupt's or exception's instruction length is at most 15. Each
 * violation is VMfailValid 7. */
START_TEST(event_injection_field_checks)
{
    static const struct {
        uint32_t info, err, len;
    } c[] = {
        {EV(1u, 0x30), 0, 0},
        {EV(T_NMI, 3), 0, 0},
        {EV(T_HW, 32), 0, 0},
        {EV(T_OTHER, 1), 0, 0},
        {EV(T_EXT, 0x30) | EV_ERR, 0, 0},
        {EV(T_HW, 13) | (1u << 12), 0, 0},
        {EV(T_HW, 14) | EV_ERR, 0x10000, 0},
        {EV(T_SWINT, 0x80), 0, 16},
    };
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x202);
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, c[_i].info);
    set12(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, c[_i].err);
    set12(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, c[_i].len);
    load_vmcs12();
    assert_launch_vmfail_7();
}
END_TEST

/* "Deliver error code" must be 1 exactly for a hardware exception with
 * vector 8, 10-14, 17 or 21 in protected mode ("Checks on VM-Entry Control
 * Fields") - unless IA32_VMX_BASIC bit 56 is 1: then "software can use VM
 * entry to deliver a hardware exception with or without an error code,
 * regardless of vector" ("Basic VMX Information"). Cases 0, 1: #UD with an
 * error code, #GP without, L1 offered no bit 56: VMfailValid 7; cases 2,
 * 3: the same with bit 56, injected as they are. */
START_TEST(error_code_rule_follows_basic_bit_56)
{
    bool b56 = _i >= 2;
    uint32_t info = (_i & 1) ? EV(T_HW, 13) : EV(T_HW, 6) | EV_ERR;
    const vcore_nvmx_caps_t *have = vcore_nvmx_caps(nv);
    ck_assert_uint_ne(have->msr[VCORE_NVMX_CAP_BASIC] & (1ull << 56), 0);
    vcore_nvmx_caps_t c = *have;
    if (!b56)
        c.msr[VCORE_NVMX_CAP_BASIC] &= ~(1ull << 56);
    nested_vm_destroy(0);
    nested_vm(NULL, NULL, &c, 0);
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, info);
    load_vmcs12();
    if (!b56) {
        assert_launch_vmfail_7();
        return;
    }
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), info);
}
END_TEST

/* IA32_VMX_MISC bit 30 ("Miscellaneous Data"): without it a software
 * interrupt, software exception or privileged software exception may not
 * be injected with instruction length 0 - VMfailValid 7 (case 0); with it
 * the entry injects it so (case 1). */
START_TEST(zero_length_software_injection_needs_misc_bit_30)
{
    const vcore_nvmx_caps_t *have = vcore_nvmx_caps(nv);
    ck_assert_uint_ne(have->msr[VCORE_NVMX_CAP_MISC] & (1ull << 30), 0); /* offered on the mock */
    vcore_nvmx_caps_t c = *have;
    if (_i == 0)
        c.msr[VCORE_NVMX_CAP_MISC] &= ~(1ull << 30);
    nested_vm_destroy(0);
    nested_vm(NULL, NULL, &c, 0);
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EV(6u, 3)); /* #BP, software exception */
    set12(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, 0);
    load_vmcs12();
    if (_i == 0) {
        assert_launch_vmfail_7();
        return;
    }
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), EV(6u, 3));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN), 0);
}
END_TEST

/* "Checks on Guest Non-Register State": an injected event must be one the
 * activity state does not block - HLT allows external interrupts, NMIs,
 * #DB (vector 1), #MC (vector 18) and the pending MTF VM exit (type 7,
 * vector 0); shutdown only NMIs and #MC; wait-for-SIPI nothing. Otherwise
 * the entry fails with exit 33. */
static const struct {
    uint32_t activity, info;
    bool ok;
} activity_injection[] = {
    {1, EV(T_EXT, 0x30), true},  {1, EV(T_NMI, 2), true},       {1, EV(T_HW, 1), true},
    {1, EV(T_HW, 18), true},     {1, EV(T_OTHER, 0), true},     {1, EV(T_HW, 6), false},
    {1, EV(T_SWINT, 0x80), false}, {2, EV(T_NMI, 2), true},     {2, EV(T_HW, 18), true},
    {2, EV(T_EXT, 0x30), false}, {2, EV(T_HW, 1), false},       {3, EV(T_NMI, 2), false},
    {3, EV(T_EXT, 0x30), false},
};

START_TEST(injection_allowed_by_activity_state)
{
    set12(VCORE_VMCS_GUEST_ACTIVITY_STATE, activity_injection[_i].activity);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x202); /* IF: an external interrupt may be injected */
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, activity_injection[_i].info);
    set12(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, 2);
    load_vmcs12();
    if (!activity_injection[_i].ok) {
        launch_fails_to_l1();
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_INVALID_GUEST_STATE));
        return;
    }
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(enters(), 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_ACTIVITY_STATE), activity_injection[_i].activity);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), activity_injection[_i].info);
}
END_TEST

/* "Checks on Guest RIP, RFLAGS, and SSP" / "Checks on Guest Non-Register
 * State": an injected external interrupt needs RFLAGS.IF = 1 (case 0) and
 * neither blocking by STI (case 1) nor by MOV SS (case 2); an injected NMI
 * no blocking by MOV SS (case 3) and, with "virtual NMIs", no blocking by
 * NMI (case 4). Case 5: without "virtual NMIs" blocking by NMI does not
 * fail the injection of an NMI. */
START_TEST(injection_blocked_by_guest_state_fails_entry)
{
    static const struct {
        uint32_t pin, rflags, intr, info;
        bool ok;
    } c[] = {
        {PIN12, 0x002, 0, EV(T_EXT, 0x30), false},
        {PIN12, 0x202, 1, EV(T_EXT, 0x30), false},
        {PIN12, 0x202, 2, EV(T_EXT, 0x30), false},
        {PIN12 | PIN_NMI_EXITING, 0x202, 2, EV(T_NMI, 2), false},
        {PIN12 | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS, 0x202, 8, EV(T_NMI, 2), false},
        {PIN12 | PIN_NMI_EXITING, 0x202, 8, EV(T_NMI, 2), true},
    };
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, c[_i].pin);
    set12(VCORE_VMCS_GUEST_RFLAGS, c[_i].rflags);
    set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, c[_i].intr);
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, c[_i].info);
    load_vmcs12();
    if (c[_i].ok) {
        launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        return;
    }
    launch_fails_to_l1();
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_INVALID_GUEST_STATE));
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
}
END_TEST

/* ---- "Special Features of VM Entry": exits right after the entry ---- */

/* An external interrupt the VMM made pending while L1 ran (RFLAGS.IF = 0)
 * with L1's "external-interrupt exiting" and "acknowledge interrupt on
 * exit", then L1's VMLAUNCH with pin-based controls pin and primary
 * controls proc. */
static void interrupt_then_launch(uint32_t pin, uint32_t proc)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, pin | PIN_EXT_INT);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, proc);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK_INTR);
    load_vmcs12();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
}

/* The pending interrupt's exit, taken right after the entry: exit 1 with
 * vector 30H (acknowledged), vmcs02 never run. */
static void assert_interrupt_exit_at_entry(void)
{
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(enters(), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), EV(T_EXT, 0x30));
    ck_assert(!interrupt_pending());
}

/* The processor's exit `reason` right after the entry is L1's and comes
 * first: the interrupt stays pending. */
static void assert_exit_before_interrupt(uint32_t reason)
{
    launch_to_l1(reason, 0, NULL, NULL);
    ck_assert_uint_eq(enters(), 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), reason);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
    ck_assert(interrupt_pending());
}

/* "Interrupt-Window Exiting": with RFLAGS.IF = 1 and no blocking by STI or
 * MOV SS the exit occurs immediately after the entry, and "VM exits caused
 * by this control take priority over external interrupts" (case 0). With
 * RFLAGS.IF = 0 there is no window: the interrupt's exit comes (case 1). */
START_TEST(interrupt_window_exit_before_pending_interrupt)
{
    set12(VCORE_VMCS_GUEST_RFLAGS, _i == 0 ? 0x202 : 0x2);
    interrupt_then_launch(PIN12, PROC12 | PROC_INTR_WINDOW);
    if (_i == 1) {
        assert_interrupt_exit_at_entry();
        return;
    }
    assert_exit_before_interrupt(VCORE_VMX_EXIT_INTERRUPT_WINDOW);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & PROC_INTR_WINDOW, PROC_INTR_WINDOW);
}
END_TEST

/* "NMI-Window Exiting": with "virtual NMIs" and no virtual-NMI blocking
 * the exit occurs immediately after the entry, and it takes "priority over
 * non-maskable interrupts (NMIs) and lower priority events" - external
 * interrupts among them (case 0). With virtual-NMI blocking (interruptibility
 * bit 3) there is no window: the interrupt's exit comes (case 1). */
START_TEST(nmi_window_exit_before_pending_interrupt)
{
    set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, _i == 0 ? 0 : 8);
    interrupt_then_launch(PIN12 | PIN_NMI_EXITING | PIN_VIRTUAL_NMIS, PROC12 | PROC_NMI_WINDOW);
    if (_i == 1) {
        assert_interrupt_exit_at_entry();
        return;
    }
    assert_exit_before_interrupt(VCORE_VMX_EXIT_NMI_WINDOW);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & PROC_NMI_WINDOW, PROC_NMI_WINDOW);
}
END_TEST

/* "VMX-Preemption Timer" (VM Entries): a timer value of zero makes the
 * exit occur before any instruction after the entry, and "VM exits caused
 * by the VMX-preemption timer take priority over" the NMI-window exits,
 * hence over external interrupts ("Other Causes of VM Exits") (case 0).
 * A timer not yet expired leaves the interrupt's exit first (case 1). */
START_TEST(preemption_timer_zero_exit_before_pending_interrupt)
{
    set12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, _i == 0 ? 0 : 1000);
    interrupt_then_launch(PIN12 | PIN_TIMER, PROC12);
    if (_i == 1) {
        assert_interrupt_exit_at_entry();
        return;
    }
    assert_exit_before_interrupt(VCORE_VMX_EXIT_PREEMPTION_TIMER);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 0);
}
END_TEST

/* "VM Exits Induced by the TPR Threshold": with "use TPR shadow",
 * "virtualize APIC accesses" and no virtual-interrupt delivery, bits 3:0
 * of the TPR threshold above VTPR[7:4] make an exit (43) immediately after
 * the entry, which takes "priority over ... any interrupts ... that may be
 * pending at the time of VM entry" (case 0: threshold 5, VTPR 20H). With
 * the threshold not above VTPR[7:4] the interrupt's exit comes (case 1:
 * threshold 2). */
START_TEST(tpr_threshold_exit_before_pending_interrupt)
{
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, PROC2_APIC_ACCESS);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC_GPA);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, APIC_ACCESS_GPA);
    set12(VCORE_VMCS_TPR_THRESHOLD, _i == 0 ? 5 : 2);
    put(VAPIC_GPA + 0x80, 0x20, 1);
    interrupt_then_launch(PIN12, PROC12 | PROC_TPR_SHADOW | PROC_SECONDARY);
    if (_i == 1) {
        assert_interrupt_exit_at_entry();
        return;
    }
    assert_exit_before_interrupt(VCORE_VMX_EXIT_TPR_BELOW_THRESHOLD);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TPR_THRESHOLD), 5);
}
END_TEST

/* "Delivery of Pending Debug Exceptions after VM Entry": a valid pending
 * debug exception (BS, bit 14) without blocking by MOV SS is delivered
 * after the entry with the priority of a trap on the previous instruction,
 * which "takes priority over any pending ... external interrupt": the
 * processor's #DB exit (L1 intercepts #DB: exception bitmap bit 1) comes
 * first, the interrupt stays pending (case 0). With blocking by MOV SS
 * the #DB is held and the interrupt blocked too: L2 runs (case 1). */
START_TEST(pending_debug_exception_before_pending_interrupt)
{
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x302); /* IF, TF */
    set12(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 1u << 14);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 1);
    if (_i == 1)
        set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, 2);
    interrupt_then_launch(PIN12, PROC12);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_EXIT_QUALIFICATION};
    uint64_t val[2] = {EV(T_HW, 1), 1u << 14};
    if (_i == 1) {
        launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        ck_assert(interrupt_pending());
        return;
    }
    launch_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 2, enc, val);
    ck_assert_uint_eq(enters(), 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 1u << 14);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), EV(T_HW, 1));
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 1u << 14);
    ck_assert(interrupt_pending());
}
END_TEST

/* The same priority on a later boundary: L2 enters with RFLAGS.IF = 0
 * (no window), sets IF and exits to the VMM; an interrupt then made
 * pending still yields to the interrupt-window exit the processor makes
 * when L2 is entered again ("Interrupt-Window Exiting") (case 0). With
 * "virtual NMIs" and NMI-window exiting, the NMI window is open as soon as
 * virtual-NMI blocking ends (case 1: L2 entered with it, the exit shows it
 * gone). */
START_TEST(window_opened_in_l2_exit_before_pending_interrupt)
{
    bool nmi = _i == 1;
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2);
    set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, nmi ? 8 : 0);
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL,
          PIN12 | PIN_EXT_INT | (nmi ? PIN_NMI_EXITING | PIN_VIRTUAL_NMIS : 0));
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | (nmi ? PROC_NMI_WINDOW : PROC_INTR_WINDOW));
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK_INTR);
    load_vmcs12();
    uint32_t enc[2] = {VCORE_VMCS_GUEST_RFLAGS, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO};
    uint64_t val[2] = {nmi ? 0x2 : 0x202, 0};
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 2, enc, val); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    uint32_t reason = nmi ? VCORE_VMX_EXIT_NMI_WINDOW : VCORE_VMX_EXIT_INTERRUPT_WINDOW;
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, 0, NULL, NULL);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(enters(), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), reason);
    ck_assert(interrupt_pending());
}
END_TEST

/* "Activity State": HLT does not block external interrupts (only
 * shutdown and wait-for-SIPI do), so with "external-interrupt exiting" the
 * interrupt pending at the entry exits to L1 right away (as in the active
 * state), saving the activity state L2 was in: HLT ("Saving Non-Register
 * State"). */
START_TEST(pending_interrupt_wakes_hlt_guest_at_entry)
{
    set12(VCORE_VMCS_GUEST_ACTIVITY_STATE, 1);
    interrupt_then_launch(PIN12, PROC12);
    assert_interrupt_exit_at_entry();
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ACTIVITY_STATE), 1);
}
END_TEST

/* "Activity State": "The shutdown state blocks external interrupts ...
 * [they] do not cause VM exits even if the 'external-interrupt exiting'
 * VM-execution control is 1" - neither at the entry (case 0: pending
 * before VMLAUNCH) nor while L2 stays in that state (case 1: made pending
 * after an exit the VMM took). */
START_TEST(shutdown_state_blocks_interrupt_exit)
{
    set12(VCORE_VMCS_GUEST_ACTIVITY_STATE, 2);
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN12 | PIN_EXT_INT);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_ACK_INTR);
    load_vmcs12();
    if (_i == 0)
        ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(enters(), 1);
    if (_i == 1) {
        ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
        push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL);
        e = run();
        ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
        ck_assert_uint_eq(enters(), 2);
    }
    ck_assert(last().in_l2);
    ck_assert(interrupt_pending());
}
END_TEST

/* ---- "Loading Guest State" ---- */

/* "Loading Guest Non-Register State" / "Delivery of Pending Debug
 * Exceptions after VM Entry": vmcs02 carries L2's interruptibility state
 * (blocking by STI), pending debug exceptions (BS with RFLAGS.TF) and
 * activity state as vmcs12 holds them; an unusable segment stays unusable
 * ("Loading Guest Segment Registers and Descriptor-Table Registers"). */
START_TEST(guest_non_register_state_reaches_vmcs02)
{
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x302); /* IF, TF */
    set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, 1);
    set12(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 1u << 14);
    load_vmcs12();
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RFLAGS), 0x302);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO), 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 1u << 14);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_ACTIVITY_STATE), 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_FS_AR_BYTES) & 0x10000u, 0x10000u);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RSP), 0x8000);
}
END_TEST

/* "Checks on Guest Control Registers, Debug Registers, and MSRs": guest
 * CR0 and CR4 must hold the bits IA32_VMX_CR0_FIXED0/CR4_FIXED0 fix to 1
 * (without "unrestricted guest": CR0.PE, NE, PG; CR4.VMXE) - else exit
 * 33, qualification 0: CR0.NE clear (case 0), CR4.VMXE clear (case 1);
 * "Loading Guest Control Registers": vmcs02 then carries them as vmcs12
 * holds them (case 2). */
START_TEST(guest_cr0_cr4_fixed_bits)
{
    const vcore_nvmx_caps_t *c = vcore_nvmx_caps(nv);
    ck_assert_uint_ne(c->msr[VCORE_NVMX_CAP_CR0_FIXED0] & 0x20u, 0);
    ck_assert_uint_ne(c->msr[VCORE_NVMX_CAP_CR4_FIXED0] & 0x2000u, 0);
    if (_i == 0)
        set12(VCORE_VMCS_GUEST_CR0, 0x80050033u & ~0x20u);
    if (_i == 1)
        set12(VCORE_VMCS_GUEST_CR4, 0x2020u & ~0x2000u);
    load_vmcs12();
    if (_i < 2) {
        launch_fails_to_l1();
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_INVALID_GUEST_STATE));
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
        return;
    }
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CR0), 0x80050033u);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CR4), 0x2020u);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CR3), 0x1000u);
}
END_TEST

/* "Loading MSRs": after the guest state, each VM-entry MSR-load entry is
 * loaded as by WRMSR - L2 runs with it, and L1, which shares the MSR, has
 * it after the exit (no VM-exit MSR-load entry names it). Case 1: an MSR
 * the vCPU does not have (IA32_TSC_AUX without RDTSCP or RDPID in CPUID)
 * would be WRMSR's #GP: the entry fails at it, exit 34, qualification 2,
 * the entry before it loaded. */
START_TEST(entry_msr_load_list_loaded)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_KERNEL_GS_BASE, 8);
    put(MSRLIST + 8, 0xffff800000001000ull, 8);
    put(MSRLIST + 16, VCORE_MSR_IA32_LSTAR, 8);
    put(MSRLIST + 24, 0xffffffff81000000ull, 8);
    if (_i == 1)
        put(MSRLIST + 16, VCORE_MSR_IA32_TSC_AUX, 8);
    load_vmcs12();
    uint64_t x = 0;
    if (_i == 1) {
        launch_fails_to_l1();
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), EXIT_FAIL(VCORE_VMX_EXIT_MSR_LOADING));
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
        ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_KERNEL_GS_BASE, &x), VCORE_OK);
        ck_assert_uint_eq(x, 0xffff800000001000ull);
        return;
    }
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_KERNEL_GS_BASE, &x), VCORE_OK);
    ck_assert_uint_eq(x, 0xffff800000001000ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_LSTAR, &x), VCORE_OK);
    ck_assert_uint_eq(x, 0xffffffff81000000ull);
}
END_TEST

/* "Loading Guest Control Registers, Debug Registers, and MSRs": without
 * "load IA32_EFER", L2's IA32_EFER is L1's with LMA and LME set to the
 * "IA-32e mode guest" control (case 0: L1's D00H with the control 1); with
 * it, vmcs12's guest IA32_EFER (case 1: 500H, NXE clear). */
START_TEST(guest_efer_loaded_by_control)
{
    if (_i == 1) {
        set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | ENTRY_LOAD_EFER);
        set12(VCORE_VMCS_GUEST_IA32_EFER, 0x500);
    }
    load_vmcs12();
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), _i == 0 ? 0xd00u : 0x500u);
}
END_TEST

/* "Loading Guest Control Registers, Debug Registers, and MSRs": with
 * "load debug controls" DR7 is loaded from vmcs12's guest DR7 (case 0);
 * without it L2 keeps L1's DR7 (400H here) whatever the field holds
 * (case 1). */
START_TEST(guest_dr7_loaded_by_control)
{
    set12(VCORE_VMCS_GUEST_DR7, 0x403);
    if (_i == 0)
        set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | (1u << 2));
    load_vmcs12();
    launch_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_DR7), _i == 0 ? 0x403u : 0x400u);
}
END_TEST

static Suite *entry_sdm_suite(void)
{
    Suite *s = suite_create("nested_entry_sdm");
    TCase *tf = tcase_create("failure");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_add_test(tf, failed_entry_leaves_other_exit_information_unmodified);
    tcase_add_loop_test(tf, failed_entry_keeps_entry_interruption_valid_bit, 0, 3);
    tcase_add_test(tf, failed_entry_msr_lists);
    tcase_add_loop_test(tf, pae_pdpte_reserved_bit_fails_entry, 0, 2);
    tcase_add_loop_test(tf, pae_pdpte_fields_with_ept, 0, 2);
    tcase_add_loop_test(tf, entry_controls_not_offered_vmfail_7, 0, 2);
    suite_add_tcase(s, tf);
    TCase *ti = tcase_create("injection");
    tcase_add_checked_fixture(ti, setup, teardown);
    tcase_add_test(ti, hardware_exception_injected_with_error_code);
    tcase_add_test(ti, software_interrupt_injected_with_length_faults_to_l1);
    tcase_add_test(ti, privileged_software_exception_injected_with_length);
    tcase_add_loop_test(ti, nmi_blocking_after_injected_nmi, 0, 2);
    tcase_add_loop_test(ti, pending_mtf_injected_exit_is_l1s, 0, 2);
    tcase_add_loop_test(ti, event_injection_field_checks, 0, 8);
    tcase_add_loop_test(ti, error_code_rule_follows_basic_bit_56, 0, 4);
    tcase_add_loop_test(ti, zero_length_software_injection_needs_misc_bit_30, 0, 2);
    tcase_add_loop_test(ti, injection_allowed_by_activity_state, 0,
                        (int)(sizeof(activity_injection) / sizeof(activity_injection[0])));
    tcase_add_loop_test(ti, injection_blocked_by_guest_state_fails_entry, 0, 6);
    suite_add_tcase(s, ti);
    TCase *tp = tcase_create("after_entry");
    tcase_add_checked_fixture(tp, setup, teardown);
    tcase_add_loop_test(tp, interrupt_window_exit_before_pending_interrupt, 0, 2);
    tcase_add_loop_test(tp, nmi_window_exit_before_pending_interrupt, 0, 2);
    tcase_add_loop_test(tp, preemption_timer_zero_exit_before_pending_interrupt, 0, 2);
    tcase_add_loop_test(tp, tpr_threshold_exit_before_pending_interrupt, 0, 2);
    tcase_add_loop_test(tp, window_opened_in_l2_exit_before_pending_interrupt, 0, 2);
    tcase_add_loop_test(tp, pending_debug_exception_before_pending_interrupt, 0, 2);
    tcase_add_test(tp, pending_interrupt_wakes_hlt_guest_at_entry);
    tcase_add_loop_test(tp, shutdown_state_blocks_interrupt_exit, 0, 2);
    suite_add_tcase(s, tp);
    TCase *tg = tcase_create("guest_state");
    tcase_add_checked_fixture(tg, setup, teardown);
    tcase_add_test(tg, guest_non_register_state_reaches_vmcs02);
    tcase_add_loop_test(tg, guest_cr0_cr4_fixed_bits, 0, 3);
    tcase_add_loop_test(tg, entry_msr_load_list_loaded, 0, 2);
    tcase_add_loop_test(tg, guest_efer_loaded_by_control, 0, 2);
    tcase_add_loop_test(tg, guest_dr7_loaded_by_control, 0, 2);
    suite_add_tcase(s, tg);
    return s;
}

int main(void)
{
    return vcore_test_run(entry_sdm_suite());
}
