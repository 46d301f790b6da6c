/*
 * test_nested_vid.c - L1's "virtual-interrupt delivery" (secondary
 * processor-based control 9) for L2 through the vCPU pipeline on the mock.
 *
 * The mock's processor does not execute L2: a test plays it. Where the SDM
 * says the processor changes the guest interrupt status while the guest
 * runs ("Virtual-Interrupt Delivery": SVI takes the delivered vector, RVI
 * the next one; "Virtualizing EOI": SVI the highest bit left in VISR) and
 * saves it at a VM exit ("Saving Non-Register State"), the scripted exit
 * stores the new value in vmcs02; where it says a VM exit happens
 * ("Virtualizing EOI": with the vector's bit set in the EOI-exit bitmap,
 * a virtualized-EOI VM exit, reason 45, trap-like, the vector in
 * qualification bits 7:0), the test scripts it.
 * Expected values: SDM Vol. 3, "Guest Non-Register State" (guest interrupt
 * status: RVI in bits 7:0, SVI in bits 15:8), "EOI-Exit Bitmap" (four
 * 64-bit fields 201CH-2022H, vectors 0-63 in the first),
 * "Checks on VMX Controls" (virtual-interrupt delivery needs "use TPR
 * shadow" and "external-interrupt exiting": VMfailValid 7), "Exit
 * Qualification for EOI Virtualization" (Vol. 3, "Basic VM-Exit
 * Information").
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define VAPIC_A 0x40000u  /* L1's virtual-APIC page */
#define APIC_ACC 0x42000u /* L1's APIC-access page */
#define PIN_REF 0x16u     /* the reference vmcs12's pin-based controls */
#define EXT_INT 1u        /* pin-based 0: external-interrupt exiting */
#define PROC_REF 0x04006172u
#define TPR_SHADOW (1u << 21)
#define SECONDARY (1u << 31)
#define APIC_ACCESS (1u << 0)
#define VID (1u << 9)
#define V 0x31u           /* the virtual interrupt of the tests */
/* Guest interrupt status: RVI bits 7:0, SVI bits 15:8. */
#define GIS(rvi, svi) ((uint64_t)(rvi) | ((uint64_t)(svi) << 8))

static const uint32_t eoi_enc[4] = {VCORE_VMCS_EOI_EXIT_BITMAP0, VCORE_VMCS_EOI_EXIT_BITMAP1,
                                    VCORE_VMCS_EOI_EXIT_BITMAP2, VCORE_VMCS_EOI_EXIT_BITMAP3};
/* Vector 31H is bit 49 of the first bitmap; the others a value each. */
static const uint64_t eoi_val[4] = {1ull << 49, 0x0123456789abcdefull, 0xfedcba9876543210ull, 1ull << 63};

/* Without L0's VMCS shadowing (L1's VMREAD/VMWRITE exit and are emulated),
 * so a field's write count is vmcs02's alone; the shadow tests switch it
 * on (with_hw_shadow). */
static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_NO_HW_SHADOW);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static void with_hw_shadow(void)
{
    teardown();
    nested_vm(NULL, NULL, NULL, 0);
}

static uint64_t writes(uint32_t enc)
{
    uint64_t r = 0, w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, enc, &r, &w), VCORE_OK);
    return w;
}

/* vmcs12 with L1's virtual-interrupt delivery and what it requires: the
 * TPR shadow on L1's virtual-APIC page, external-interrupt exiting; with
 * APIC-access virtualization (L2's EOI writes reach the APIC-access page).
 * RVI = 31H, and its bit in VIRR (IRR at 200H: vector 31H is bit 17 of the
 * register at 210H). */
static void with_vid(void)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN_REF | EXT_INT);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC_REF | TPR_SHADOW | SECONDARY);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, APIC_ACCESS | VID);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC_A);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, APIC_ACC);
    set12(VCORE_VMCS_GUEST_INTR_STATUS, GIS(V, 0));
    for (int i = 0; i < 4; i++)
        set12(eoi_enc[i], eoi_val[i]);
    put(VAPIC_A + 0x210, 1u << (V % 32), 4);
}

static uint64_t l1_vmread(uint32_t enc)
{
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, enc, 0);
    ck_assert_uint_eq(regs().rflags & 0x8d5u, 0); /* VMsucceed */
    return regs().gpr[VCORE_X86_RCX];
}

/* VMLAUNCH (or VMRESUME), L2 exits with reason and up to two stored fields,
 * L1 halts. */
static void trip(uint32_t op, uint32_t reason, uint32_t n, const uint32_t *enc, const uint64_t *val)
{
    push_insn(op, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, n, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

static void trip_cpuid(uint32_t op)
{
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[1] = {2};
    trip(op, VCORE_VMX_EXIT_CPUID, 1, enc, val);
}

/* ---- the merge rule ---- */

/* Secondary 9 is L1's: vmcs01's bit does not reach vmcs02, vmcs12's does,
 * and vmcs02 has the external-interrupt exiting it requires whatever L1
 * and L0 say (L0's own interrupts). */
START_TEST(vid_merge_is_l1s)
{
    uint32_t l1[5] = {PIN_REF | EXT_INT, PROC_REF | TPR_SHADOW | SECONDARY, 0, 0x00036dfb, 0x000011fb};
    uint32_t l0[5] = {0, SECONDARY, VID, 0, 0}, m[5];
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[2] & VID, 0);
    l1[2] = VID;
    l0[2] = 0;
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[2] & VID, VID);
    ck_assert_uint_eq(m[0] & EXT_INT, EXT_INT);
    ck_assert_uint_eq(m[1] & TPR_SHADOW, TPR_SHADOW);
}
END_TEST

/* ---- vmcs02 at the entry ---- */

/* VMLAUNCH: vmcs02 has L1's control, its guest interrupt status and its
 * four EOI-exit bitmaps, each written once. */
START_TEST(vid_vmcs02_takes_guest_interrupt_status_and_eoi_bitmaps)
{
    with_vid();
    load_vmcs12();
    trip_cpuid(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (VID | APIC_ACCESS), VID | APIC_ACCESS);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL) & EXT_INT, EXT_INT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(V, 0));
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 1);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(nested_peek02(eoi_enc[i]), eoi_val[i]);
        ck_assert_uint_eq(writes(eoi_enc[i]), 1);
    }
    /* the processor left RVI/SVI alone: vmcs12 keeps L1's value */
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(V, 0));
}
END_TEST

/* L1 changes RVI and one EOI-exit bitmap between entries (emulated
 * VMWRITEs): the VMRESUME gives vmcs02 the new values; a VMRESUME with no
 * change rewrites nothing (the fields are written when L1 writes them). */
START_TEST(vid_l1_vmwrite_reaches_vmcs02)
{
    with_vid();
    load_vmcs12();
    trip_cpuid(VCORE_NVMX_VMLAUNCH);
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_GUEST_INTR_STATUS, GIS(0x41, 0));
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_EOI_EXIT_BITMAP2, 0x5555);
    trip_cpuid(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x41, 0));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_EOI_EXIT_BITMAP2), 0x5555);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_EOI_EXIT_BITMAP0), eoi_val[0]);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x41, 0));
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 2);
    ck_assert_uint_eq(writes(VCORE_VMCS_EOI_EXIT_BITMAP2), 2);
    ck_assert_uint_eq(writes(VCORE_VMCS_EOI_EXIT_BITMAP0), 1);
    trip_cpuid(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 2);
    ck_assert_uint_eq(writes(VCORE_VMCS_EOI_EXIT_BITMAP2), 2);
}
END_TEST

/* The same through L0's shadow VMCS: L1's VMWRITE of the guest interrupt
 * status does not exit (it is in the read-write set), and the read-back
 * before VMRESUME carries it to vmcs02. */
START_TEST(vid_shadow_vmwrite_reaches_vmcs02)
{
    with_hw_shadow();
    with_vid();
    load_vmcs12();
    trip_cpuid(VCORE_NVMX_VMLAUNCH);
    uint64_t v = GIS(0x52, 0);
    bool exits = true;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, true, VCORE_VMCS_GUEST_INTR_STATUS, &v, &exits), VCORE_OK);
    ck_assert(!exits);
    trip_cpuid(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x52, 0));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x52, 0));
}
END_TEST

/* ---- vmcs12 at the exit ---- */

/* L2 ran: the processor delivered 31H (SVI 31H, RVI 0) and saved that in
 * vmcs02 at the exit. The exit to L1 gives vmcs12 the saved value and L1's
 * VMREAD returns it; vmcs02 already holds it, so the next entry does not
 * write it again. */
static const uint32_t delivered_enc[2] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_GUEST_INTR_STATUS};
static const uint64_t delivered_val[2] = {2, GIS(0, V)};

START_TEST(vid_processor_change_reaches_vmcs12)
{
    with_vid();
    load_vmcs12();
    trip(VCORE_NVMX_VMLAUNCH, VCORE_VMX_EXIT_CPUID, 2, delivered_enc, delivered_val);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0, V));
    ck_assert_uint_eq(l1_vmread(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0, V));
    trip_cpuid(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0, V));
}
END_TEST

/* The same with L0's shadow VMCS: L1's VMREAD of the guest interrupt
 * status does not exit and reads the shadow VMCS, which holds the saved
 * value before L1 runs. */
START_TEST(vid_processor_change_reaches_shadow_vmcs)
{
    with_hw_shadow();
    with_vid();
    load_vmcs12();
    trip(VCORE_NVMX_VMLAUNCH, VCORE_VMX_EXIT_CPUID, 2, delivered_enc, delivered_val);
    uint64_t v = 0;
    bool exits = true;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, false, VCORE_VMCS_GUEST_INTR_STATUS, &v, &exits), VCORE_OK);
    ck_assert(!exits);
    ck_assert_uint_eq(v, GIS(0, V));
}
END_TEST

/* L0's own interrupt while L2 runs (exit 1 of vmcs02, L0's) re-enters L2
 * and leaves vmcs12 alone; the RVI/SVI the processor saved then stay in
 * vmcs02 and reach vmcs12 with the next exit to L1. */
START_TEST(vid_l0_interrupt_exit_unaffected)
{
    with_vid();
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[1] = {VCORE_VMCS_GUEST_INTR_STATUS};
    uint64_t val[1] = {GIS(0, V)};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, 0, 1, enc, val);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(last().l0_handled, 1);
    ck_assert_uint_eq(last().reflected, 1);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0, V));
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 1);
}
END_TEST

/* An interrupt L0 has for L1 while L2 runs: L1's external-interrupt
 * exiting (which virtual-interrupt delivery requires) makes it exit 1 to
 * L1, with RVI/SVI as the processor left them saved in vmcs12. */
START_TEST(vid_interrupt_for_l1_exits_to_l1)
{
    with_vid();
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 15));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[1] = {VCORE_VMCS_GUEST_INTR_STATUS};
    uint64_t val[1] = {GIS(0, V)};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 1, enc, val); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000030u);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0, V));
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* L2 writes EOI (APIC-access offset B0H) while servicing 31H, whose bit is
 * set in EOI-exit bitmap 0: the processor clears VISR's bit, SVI becomes 0,
 * and the virtualized-EOI VM exit (45) with the vector in the
 * qualification is L1's - L1's host state, vmcs12 with the new SVI. */
START_TEST(virtualized_eoi_exit_reflected_with_vector)
{
    with_vid();
    set12(VCORE_VMCS_GUEST_INTR_STATUS, GIS(0, V));
    set12(VCORE_VMCS_EXIT_QUALIFICATION, 0xffff);
    load_vmcs12();
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_INTR_STATUS};
    uint64_t val[2] = {V, GIS(0, 0)};
    trip(VCORE_NVMX_VMLAUNCH, VCORE_VMX_EXIT_VIRTUALIZED_EOI, 2, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_VIRTUALIZED_EOI);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), V);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0, 0));
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
    ck_assert_uint_eq(last().kind, VCORE_NVMX_RULE_PROC2);
    ck_assert_uint_eq(last().arg, 9);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* ---- what L1 may set ---- */

/* The entry checks on the control still fire for L1: without
 * external-interrupt exiting (_i = 0) or without the TPR shadow (_i = 1),
 * VMfailValid 7 and L2 is not entered. */
START_TEST(vid_entry_checks_fire)
{
    with_vid();
    if (_i == 0)
        set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN_REF);
    else
        set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC_REF | SECONDARY);
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_assert_vmfail7(_i == 0 ? VCORE_VMX_CHECK_EXEC_VID_EXT_INT : VCORE_VMX_CHECK_EXEC_VID_TPR_SHADOW);
}
END_TEST

/* A processor without virtual-interrupt delivery: L1 is not offered it
 * (IA32_VMX_PROCBASED_CTLS2 bit 41 clear), a vmcs12 with it is
 * VMfailValid 7; one without it launches and vmcs02 gets neither the guest
 * interrupt status nor the EOI-exit bitmaps, which that processor does not
 * have ("supported only on processors that support the 1-setting of the
 * virtual-interrupt delivery VM-execution control"), whatever vmcs12 holds. */
START_TEST(vid_refused_without_processor_support)
{
    teardown();
    vcore_nvmx_caps_t hw = {.size = sizeof(hw)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&hw), VCORE_OK);
    hw.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)VID << 32);
    nested_vm(NULL, &hw, NULL, 0);
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & VID, 0);
    with_vid();
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_assert_vmfail7(VCORE_VMX_CHECK_EXEC_PROC2_ALLOWED1);
    /* without the control: L2 runs, nothing of it in vmcs02 */
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, APIC_ACCESS);
    load_vmcs12();
    trip_cpuid(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(writes(eoi_enc[i]), 0);
}
END_TEST

/* A host without physical addresses cannot give vmcs02 L1's virtual-APIC
 * page, where VIRR and VISR are: the control is not offered. */
START_TEST(vid_not_offered_without_physical_addresses)
{
    teardown();
    vcore_host_t h = *vcore_host_default();
    h.virt_to_phys = NULL;
    nested_vm(&h, NULL, NULL, 0);
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & VID, 0);
}
END_TEST

static Suite *vid_suite(void)
{
    Suite *s = suite_create("nested_vid");
    TCase *t = tcase_create("vid");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, vid_merge_is_l1s);
    tcase_add_test(t, vid_vmcs02_takes_guest_interrupt_status_and_eoi_bitmaps);
    tcase_add_test(t, vid_l1_vmwrite_reaches_vmcs02);
    tcase_add_test(t, vid_shadow_vmwrite_reaches_vmcs02);
    tcase_add_test(t, vid_processor_change_reaches_vmcs12);
    tcase_add_test(t, vid_processor_change_reaches_shadow_vmcs);
    tcase_add_test(t, vid_l0_interrupt_exit_unaffected);
    tcase_add_test(t, vid_interrupt_for_l1_exits_to_l1);
    tcase_add_test(t, virtualized_eoi_exit_reflected_with_vector);
    tcase_add_loop_test(t, vid_entry_checks_fire, 0, 2);
    tcase_add_test(t, vid_refused_without_processor_support);
    tcase_add_test(t, vid_not_offered_without_physical_addresses);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(vid_suite());
}
