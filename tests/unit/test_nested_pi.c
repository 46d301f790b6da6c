/*
 * test_nested_pi.c - L1's "process posted interrupts" (pin-based control 7)
 * for L2 through the vCPU pipeline on the mock.
 *
 * The mock's processor does not execute L2: the test plays it (scripted
 * exits) and makes L1's notification pending the way a VMM does
 * (vcore_vcpu_inject_interrupt). Expected values: SDM Vol. 3,
 * "Posted-Interrupt Processing" (steps: the notification vector is not an
 * exit; ON, bit 256 of the descriptor, is cleared; PIR, bits 255:0, is ORed
 * into VIRR and cleared; RVI := max(RVI, highest PIR bit), unchanged if
 * PIR was 0), "Posted-Interrupt Descriptor" (64 bytes, PIR bit n is vector
 * n), "Virtual Interrupt Request Register" (VIRR at 200H-270H of the
 * virtual-APIC page, vector v is bit v % 32 of the register at
 * 200H + 16 * (v / 32)), "Guest Non-Register State" (guest interrupt
 * status: RVI bits 7:0, SVI bits 15:8), "Checks on VM-Execution Control
 * Fields" (the control requires virtual-interrupt delivery and "acknowledge
 * interrupt on exit", a vector with bits 15:8 clear, a 64-byte aligned
 * descriptor address within the physical-address width: VMfailValid 7),
 * "Basic VM-Exit Information" (exit 1 with "acknowledge interrupt on exit"
 * stores the vector, type 0, valid).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define VAPIC_A 0x40000u  /* L1's virtual-APIC page */
#define APIC_ACC 0x42000u /* L1's APIC-access page */
#define DESC 0x43040u     /* L1's posted-interrupt descriptor (64-byte aligned) */
#define PIN_REF 0x16u
#define EXT_INT 1u        /* pin-based 0: external-interrupt exiting */
#define PI (1u << 7)      /* pin-based 7: process posted interrupts */
#define PROC_REF 0x04006172u
#define TPR_SHADOW (1u << 21)
#define SECONDARY (1u << 31)
#define APIC_ACCESS (1u << 0)
#define VID (1u << 9)
#define EXIT_REF 0x00036dfbu
#define HOST_64 (1u << 9)
#define ACK_INTR (1u << 15)
#define NV 0xf2u          /* the notification vector of the tests */
#define MAXPHY 40u        /* L1's width: the fixture's CPUID.80000008H:EAX[7:0] = 28H */
#define GIS(rvi, svi) ((uint64_t)(rvi) | ((uint64_t)(svi) << 8))

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_NO_HW_SHADOW);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static uint64_t writes(uint32_t enc)
{
    uint64_t r = 0, w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, enc, &r, &w), VCORE_OK);
    return w;
}

/* A 32-bit word of L1 memory as the processor reads it (little endian). */
static uint32_t rd32(uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, ram + gpa, 4);
    return v;
}

static uint64_t rd64(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, ram + gpa, 8);
    return v;
}

/* VIRR's bit for vector v ("Virtual Interrupt Request Register"). */
static bool virr(uint32_t v)
{
    return (rd32(VAPIC_A + 0x200u + 16u * (v / 32u)) >> (v % 32u)) & 1u;
}

/* Posts vector v in the descriptor at desc: PIR bit v. */
static void post(uint64_t desc, uint32_t v)
{
    uint64_t w = rd64(desc + 8u * (v / 64u));
    put(desc + 8u * (v / 64u), w | (1ull << (v % 64u)), 8);
}

/* ON: descriptor bit 256, bit 0 of byte 32. */
static void set_on(uint64_t desc)
{
    put(desc + 32u, 1u, 1);
}

static bool on(uint64_t desc)
{
    return ram[desc + 32u] & 1u;
}

/* vmcs12 with L1's posted interrupts and what they require: virtual-
 * interrupt delivery (with the TPR shadow on L1's virtual-APIC page and
 * external-interrupt exiting), "acknowledge interrupt on exit", vector
 * F2H, the descriptor at DESC. RVI 31H with its VIRR bit, SVI 20H. */
static void with_pi(void)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN_REF | EXT_INT | PI);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC_REF | TPR_SHADOW | SECONDARY);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, APIC_ACCESS | VID);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT_REF | HOST_64 | ACK_INTR);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC_A);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, APIC_ACC);
    set12(VCORE_VMCS_POSTED_INTR_NV, NV);
    set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, DESC);
    set12(VCORE_VMCS_GUEST_INTR_STATUS, GIS(0x31, 0x20));
    put(VAPIC_A + 0x210, 1u << (0x31 % 32), 4);
}

static bool intr_pending(void)
{
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    return ev.interrupt_pending != 0;
}

/* An L2 exit the VMM sees (L2 stays the context). */
static void l2_to_vmm(void)
{
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert(last().in_l2);
}

/* L1 launches L2, which exits to the VMM; the VMM makes vector vec pending;
 * the next run gets to L2 again and L2 exits to the VMM again. */
static void launch_then_notify(uint8_t vec)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_to_vmm();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, vec), VCORE_OK);
}

/* ---- the merge rule and what L1 is offered ---- */

/* vmcs02 never has the control, whatever L1 and L0 say, and never gets a
 * descriptor address or notification vector. */
START_TEST(pi_vmcs02_never_has_it)
{
    uint32_t l1[5] = {PIN_REF | EXT_INT | PI, PROC_REF | TPR_SHADOW | SECONDARY, VID, EXIT_REF | ACK_INTR, 0x000011fb};
    uint32_t l0[5] = {PI, SECONDARY, VID, 0, 0}, m[5];
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[0] & PI, 0);
    with_pi();
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_to_vmm();
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL) & PI, 0);
    ck_assert_uint_eq(writes(VCORE_VMCS_POSTED_INTR_DESC_ADDR), 0);
    ck_assert_uint_eq(writes(VCORE_VMCS_POSTED_INTR_NV), 0);
}
END_TEST

/* Offered (allowed-1 in IA32_VMX_PINBASED_CTLS and the TRUE MSR) with
 * virtual-interrupt delivery; not without it: a processor without VID
 * (_i = 0), a host without physical addresses (_i = 1, no VID then). */
START_TEST(pi_offered_only_with_vid)
{
    const vcore_nvmx_caps_t *c = vcore_nvmx_caps(nv);
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_PINBASED] >> 32) & PI, PI);
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_TRUE_PINBASED] >> 32) & PI, PI);
    teardown();
    if (_i == 0) {
        vcore_nvmx_caps_t hw = {.size = sizeof(hw)};
        ck_assert_int_eq(vcore_nvmx_caps_emulated(&hw), VCORE_OK);
        hw.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)VID << 32);
        nested_vm(NULL, &hw, NULL, 0);
    } else {
        vcore_host_t h = *vcore_host_default();
        h.virt_to_phys = NULL;
        nested_vm(&h, NULL, NULL, 0);
    }
    c = vcore_nvmx_caps(nv);
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & VID, 0);
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_PINBASED] >> 32) & PI, 0);
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_TRUE_PINBASED] >> 32) & PI, 0);
}
END_TEST

/* A processor without posted interrupts (pin-based 7 allowed-0) but with
 * virtual-interrupt delivery: L1 is offered the control all the same (L0
 * processes the descriptor; vmcs02 never has it), and a notification is
 * processed. */
START_TEST(pi_offered_without_processor_support)
{
    teardown();
    vcore_nvmx_caps_t hw = {.size = sizeof(hw)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&hw), VCORE_OK);
    hw.msr[VCORE_NVMX_CAP_PINBASED] &= ~((uint64_t)PI << 32);
    hw.msr[VCORE_NVMX_CAP_TRUE_PINBASED] &= ~((uint64_t)PI << 32);
    nested_vm(NULL, &hw, NULL, VCORE_NVMX_OPT_NO_HW_SHADOW);
    const vcore_nvmx_caps_t *c = vcore_nvmx_caps(nv);
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_PINBASED] >> 32) & PI, PI);
    ck_assert_uint_eq((c->msr[VCORE_NVMX_CAP_TRUE_PINBASED] >> 32) & PI, PI);
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    launch_then_notify(NV);
    l2_to_vmm();
    ck_assert(!on(DESC));
    ck_assert(virr(0x45));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x45, 0x20));
}
END_TEST

/* The same rule for a VMM's intersection of capability sets: the other
 * side without VID takes the control away. */
START_TEST(pi_intersection_needs_vid)
{
    vcore_nvmx_caps_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)}, out = {.size = sizeof(out)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&a), VCORE_OK);
    b = a;
    ck_assert_int_eq(vcore_nvmx_caps_intersect(&a, &b, &out), VCORE_OK);
    ck_assert_uint_eq((out.msr[VCORE_NVMX_CAP_PINBASED] >> 32) & PI, PI);
    b.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)VID << 32);
    ck_assert_int_eq(vcore_nvmx_caps_intersect(&a, &b, &out), VCORE_OK);
    ck_assert_uint_eq((out.msr[VCORE_NVMX_CAP_PINBASED] >> 32) & PI, 0);
    ck_assert_uint_eq((out.msr[VCORE_NVMX_CAP_TRUE_PINBASED] >> 32) & PI, 0);
}
END_TEST

/* ---- the notification while L2 runs ---- */

/* Vector F2H pending while in L2: no exit to L1; ON cleared; PIR (vector
 * 45H) moved into VIRR (register 220H, bit 5) and cleared; RVI 31H -> 45H
 * in vmcs02, SVI kept; the interrupt consumed; VIRR's 31H kept. */
START_TEST(pi_notification_processed_without_exit)
{
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    set12(VCORE_VMCS_VM_EXIT_REASON, 0);
    launch_then_notify(NV);
    l2_to_vmm();
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
    ck_assert_uint_eq(last().reflected, 0);
    ck_assert(!intr_pending());
    ck_assert(!on(DESC));
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_uint_eq(rd64(DESC + 8u * i), 0);
    ck_assert_uint_eq(rd32(VAPIC_A + 0x220), 1u << 5);
    ck_assert(virr(0x31));
    ck_assert_uint_eq(rd64(VAPIC_A + 0x280), 0); /* past VIRR: untouched */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x45, 0x20));
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 2);
    ck_assert_uint_eq(regs().rip != HOST_RIP, 1);
    /* the next exit to L1 saves the new RVI */
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x45, 0x20));
    ck_assert_uint_eq(last().reflected, 1);
}
END_TEST

/* Step 4 ("The logical processor writes zero to the EOI register in the
 * local APIC"): the VMM, whose APIC model made the notification pending,
 * learns it with the first exit it gets after the processing - here an
 * exit of L1 (HLT) after L2's CPUID went to L1 - and with no other: not
 * the exit before, not the next one, not for an interrupt that exits to
 * L1 (whose handler writes its own EOI). */
START_TEST(pi_eoi_flag_on_next_exit_only)
{
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_APIC_EOI, 0);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, NV), VCORE_OK);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_APIC_EOI, VCORE_EXIT_F_APIC_EOI);
    ck_assert(!intr_pending());
    ck_assert(virr(0x45));
    /* L1 runs on: the next exit has nothing owed */
    push_hlt();
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_APIC_EOI, 0);
    /* another vector is the external-interrupt exit to L1: no EOI of L0's */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL);
    e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x50), VCORE_OK);
    push_hlt();
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_APIC_EOI, 0);
}
END_TEST

/* Several PIR bits, one per 64-bit word and two in one VIRR register:
 * each lands in its VIRR bit, RVI is the highest (E3H). Other bytes of the
 * descriptor (bits 511:257) are left as they are (the locked AND). */
START_TEST(pi_several_bits_rvi_highest)
{
    static const uint32_t vec[6] = {0x21, 0x3f, 0x45, 0x80, 0xc1, 0xe3};
    with_pi();
    for (uint32_t i = 0; i < 6; i++)
        post(DESC, vec[i]);
    set_on(DESC);
    put(DESC + 32u, 0xabcd0001u, 4); /* ON and software-available bits */
    put(DESC + 56u, 0x1122334455667788ull, 8);
    launch_then_notify(NV);
    l2_to_vmm();
    for (uint32_t i = 0; i < 6; i++)
        ck_assert(virr(vec[i]));
    ck_assert_uint_eq(rd32(VAPIC_A + 0x210), (1u << 1) | (1u << 31) | (1u << 17));
    ck_assert_uint_eq(rd32(VAPIC_A + 0x270), 1u << 3);
    ck_assert_uint_eq(rd32(DESC + 32u), 0xabcd0000u);
    ck_assert_uint_eq(rd64(DESC + 56u), 0x1122334455667788ull);
    for (uint32_t i = 0; i < 4; i++)
        ck_assert_uint_eq(rd64(DESC + 8u * i), 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0xe3, 0x20));
}
END_TEST

/* PIR bits in the first 64-bit word only (vectors 21H and 3FH), RVI 10H:
 * RVI becomes 3FH, both in VIRR register 210H (bits 1 and 31). */
START_TEST(pi_first_word_only)
{
    with_pi();
    set12(VCORE_VMCS_GUEST_INTR_STATUS, GIS(0x10, 0));
    put(VAPIC_A + 0x210, 0, 4);
    post(DESC, 0x21);
    post(DESC, 0x3f);
    set_on(DESC);
    launch_then_notify(NV);
    l2_to_vmm();
    ck_assert_uint_eq(rd32(VAPIC_A + 0x210), (1u << 1) | (1u << 31));
    ck_assert_uint_eq(rd64(DESC), 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x3f, 0));
}
END_TEST

/* The descriptor in the last 64 bytes of its memory region (_i = 0), the
 * virtual-APIC page the last page of its region (_i = 1): memory, so the
 * notification is processed. */
START_TEST(pi_at_region_end)
{
    uint64_t desc = _i ? DESC : RAM - 64u, vapic = _i ? RAM - 0x1000u : VAPIC_A;
    with_pi();
    set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, desc);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, vapic);
    post(desc, 0x45);
    set_on(desc);
    launch_then_notify(NV);
    l2_to_vmm();
    ck_assert(!on(desc));
    ck_assert_uint_eq(rd64(desc + 8), 0);
    ck_assert_uint_eq(rd32(vapic + 0x220), 1u << 5);
    ck_assert(!intr_pending());
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x45, 0x20));
}
END_TEST

/* RVI above every PIR bit (60H > 45H) stays; PIR still moves. A PIR of 0
 * (_i = 1): ON cleared, RVI unchanged. RVI equal to the highest PIR bit
 * (_i = 2, both 45H): unchanged. vmcs02's status not rewritten. */
START_TEST(pi_rvi_kept_when_higher_or_pir_empty)
{
    with_pi();
    set12(VCORE_VMCS_GUEST_INTR_STATUS, GIS(_i == 2 ? 0x45 : 0x60, 0));
    if (_i != 1)
        post(DESC, 0x45);
    set_on(DESC);
    launch_then_notify(NV);
    l2_to_vmm();
    ck_assert(!on(DESC));
    ck_assert(!intr_pending());
    ck_assert_uint_eq(virr(0x45), _i != 1);
    ck_assert_uint_eq(rd64(DESC + 8), 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(_i == 2 ? 0x45 : 0x60, 0));
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 1);
    ck_assert_uint_eq(last().reflected, 0);
}
END_TEST

/* Another vector (30H) with the control: the external-interrupt exit to L1
 * as without it, the vector stored; the descriptor untouched. */
START_TEST(pi_other_vector_exits_to_l1)
{
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    launch_then_notify(0x30);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000030u);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert(on(DESC));
    ck_assert_uint_eq(rd64(DESC + 8), 1ull << 5);
    ck_assert(!virr(0x45));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x31, 0x20));
}
END_TEST

/* Without the control (vmcs12's vector field still F2H): F2H is the
 * external-interrupt exit to L1, the descriptor untouched. */
START_TEST(pi_control_clear_exits_to_l1)
{
    with_pi();
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, PIN_REF | EXT_INT);
    post(DESC, 0x45);
    set_on(DESC);
    launch_then_notify(NV);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000000u | NV);
    ck_assert(on(DESC));
    ck_assert(!virr(0x45));
}
END_TEST

/* L2 in STI blocking (interruptibility bit 0) when the notification is
 * pending: not recognized, so not processed (nor an exit); L2 runs. */
START_TEST(pi_blocked_by_sti)
{
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    /* L2 exits to the VMM with STI blocking in its interruptibility state */
    uint32_t enc[1] = {VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO};
    uint64_t val[1] = {1};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 1, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, NV), VCORE_OK);
    l2_to_vmm();
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
    ck_assert(on(DESC));
    ck_assert(!virr(0x45));
    ck_assert(intr_pending());
    ck_assert_uint_eq(last().reflected, 0);
}
END_TEST

/* A descriptor with no memory behind it (_i = 0) or in read-only memory
 * (_i = 1): the run is refused by name, the interrupt stays pending, no
 * exit to L1, nothing of VIRR or vmcs02 changed, and (_i = 1) the
 * descriptor neither. */
START_TEST(pi_descriptor_unbacked)
{
    static uint8_t ro[4096] __attribute__((aligned(4096)));
    uint64_t desc = _i ? 0x400040u : 0x800040u;
    with_pi();
    set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, desc);
    if (_i) {
        memset(ro, 0, sizeof(ro));
        ro[0x40 + 8] = 1u << 5; /* PIR: vector 45H */
        ro[0x40 + 32] = 1;      /* ON */
        vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0x400000u, .len = sizeof(ro), .hva = ro,
                                .flags = VCORE_MEM_READONLY};
        ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    }
    launch_then_notify(NV);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_UNSUPPORTED);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_PI_DESC_UNBACKED);
    ck_assert_uint_eq(d.value, desc);
    ck_assert(intr_pending());
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert_uint_eq(last().reflected, 0);
    ck_assert(last().in_l2);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x31, 0x20));
    ck_assert_uint_eq(writes(VCORE_VMCS_GUEST_INTR_STATUS), 1);
    ck_assert_uint_eq(rd32(VAPIC_A + 0x220), 0);
    if (_i) {
        ck_assert_uint_eq(ro[0x40 + 8], 1u << 5);
        ck_assert_uint_eq(ro[0x40 + 32], 1);
    }
}
END_TEST

/* vmcs02's write of the new guest interrupt status fails: the run returns
 * the error and nothing is half-done - ON and PIR posted back, VIRR and
 * vmcs02 as they were, the interrupt still pending. The next run
 * processes it. */
START_TEST(pi_vmcs02_write_failure_undone)
{
    with_pi();
    post(DESC, 0x45);
    post(DESC, 0x81);
    set_on(DESC);
    launch_then_notify(NV);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_VMCS_WRITE, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    ck_assert_uint_eq(rd64(DESC), 0);
    ck_assert_uint_eq(rd64(DESC + 8), 1ull << 5);
    ck_assert_uint_eq(rd64(DESC + 16), 1ull << 1);
    ck_assert_uint_eq(rd64(DESC + 24), 0);
    for (uint32_t i = 32; i < 64; i += 8) /* ON and nothing else */
        ck_assert_uint_eq(rd64(DESC + i), i == 32 ? 1u : 0u);
    ck_assert(!virr(0x45));
    ck_assert(!virr(0x81));
    ck_assert(intr_pending());
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x31, 0x20));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x31, 0x20));
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    l2_to_vmm();
    ck_assert(!on(DESC));
    ck_assert(virr(0x45));
    ck_assert(virr(0x81));
    ck_assert(!intr_pending());
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x81, 0x20));
}
END_TEST

/* The memory map changed while L2 ran and L1's virtual-APIC page is no
 * longer memory: refused by name (value: that address), nothing of the
 * descriptor changed. */
START_TEST(pi_vapic_unbacked)
{
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    launch_then_notify(NV);
    /* RAM again without the page at VAPIC_A */
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0), VCORE_OK);
    vcore_mem_region_t lo = {.size = sizeof(lo), .gpa = 0, .len = VAPIC_A, .hva = ram};
    vcore_mem_region_t hi = {.size = sizeof(hi), .gpa = VAPIC_A + 0x1000u, .len = RAM - VAPIC_A - 0x1000u,
                             .hva = ram + VAPIC_A + 0x1000u};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &lo), VCORE_OK);
    ck_assert_int_eq(vcore_vm_map_memory(vm, &hi), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_UNSUPPORTED);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_PI_DESC_UNBACKED);
    ck_assert_uint_eq(d.value, VAPIC_A);
    ck_assert(on(DESC));
    ck_assert_uint_eq(rd64(DESC + 8), 1ull << 5);
    ck_assert(intr_pending());
}
END_TEST

/* ---- at L1's VM entry ---- */

/* ON set and PIR bits when L1 enters L2, no notification pending: the
 * processor does not read the descriptor at VM entry, nor does the
 * library: ON and PIR stay, RVI is vmcs12's. */
START_TEST(pi_entry_with_on_set_leaves_descriptor)
{
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_to_vmm();
    ck_assert(on(DESC));
    ck_assert_uint_eq(rd64(DESC + 8), 1ull << 5);
    ck_assert(!virr(0x45));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x31, 0x20));
}
END_TEST

/* The notification pending when L1 (RFLAGS.IF = 0) executes VMLAUNCH:
 * recognized as soon as L2 is entered, processed before L2 runs - the
 * first entry of vmcs02 already has RVI 45H. With STI blocking in vmcs12's
 * guest interruptibility state (_i = 1) it is not recognized: the
 * descriptor stays, the interrupt pending. */
START_TEST(pi_entry_with_notification_pending)
{
    with_pi();
    post(DESC, 0x45);
    set_on(DESC);
    if (_i) { /* STI blocking needs L2's RFLAGS.IF = 1 ("Checks on Guest Non-Register State") */
        set12(VCORE_VMCS_GUEST_RFLAGS, 0x202);
        set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, 1);
    }
    load_vmcs12();
    ck_assert_uint_eq(regs().rflags & 0x200u, 0);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, NV), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    /* step 4: the EOI comes with the first exit after the processing */
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_APIC_EOI, _i ? 0u : VCORE_EXIT_F_APIC_EOI);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert_uint_eq(on(DESC), _i == 1);
    ck_assert_uint_eq(virr(0x45), _i == 0);
    ck_assert_uint_eq(intr_pending(), _i == 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), _i ? GIS(0x31, 0x20) : GIS(0x45, 0x20));
    ck_assert_uint_eq(last().reflected, 0);
}
END_TEST

/* The notification pending at VMLAUNCH, processed, and then the processor
 * fails the entry - VMfailValid 7 (_i = 0) or a VM-entry failure, exit 33
 * (_i = 1): L2 was never entered, so the notification was never
 * recognized ("VM-Entry Failures During or After Loading Guest State"). The
 * descriptor has its PIR bit and ON again, VIRR loses only the bit the
 * processing set (31H stays), vmcs12's RVI is 31H, the interrupt is
 * pending again and the VMM is owed no EOI. */
START_TEST(pi_entry_failure_undone)
{
    with_pi();
    post(DESC, 0x21);
    post(DESC, 0x45);
    set_on(DESC);
    put(VAPIC_A + 0x280, 0xffffffffu, 4); /* past VIRR (TMR): never touched */
    load_vmcs12();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, NV), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[1] = {VCORE_VMCS_EXIT_QUALIFICATION};
    uint64_t val[1] = {VCORE_VMX_QUAL_DEFAULT};
    if (_i)
        push_l2(VCORE_HW_ENTRY_EXIT, 0x80000021u, 0, 1, enc, val);
    else
        push_l2(VCORE_HW_ENTRY_FAIL_VALID, 0, VCORE_VMXERR_ENTRY_INVALID_CONTROL, 0, NULL, NULL);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    if (_i)
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000021u);
    else
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    ck_assert(on(DESC));
    ck_assert_uint_eq(rd64(DESC), 1ull << 0x21);
    ck_assert_uint_eq(rd64(DESC + 8u), 1ull << (0x45 - 64));
    ck_assert_uint_eq(rd64(DESC + 32u), 1); /* ON alone: bits 319:257 as they were */
    ck_assert(!virr(0x21));
    ck_assert(!virr(0x45));
    ck_assert_uint_eq(rd32(VAPIC_A + 0x280), 0xffffffffu);
    ck_assert(virr(0x31));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), GIS(0x31, 0x20));
    ck_assert(intr_pending());
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_APIC_EOI, 0);
}
END_TEST

/* The notification pending at VMLAUNCH with a descriptor that is not
 * memory: the entry completes (L2 entered once), the next run is refused
 * by name before L2 runs again, the interrupt still pending. */
START_TEST(pi_entry_unbacked_reported_after_entry)
{
    with_pi();
    set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, 0x800040u);
    load_vmcs12();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, NV), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_to_vmm();
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert(intr_pending());
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_UNSUPPORTED);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_PI_DESC_UNBACKED);
    ck_assert_uint_eq(d.value, 0x800040u);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert(intr_pending());
}
END_TEST

/* ---- the VM-entry checks ("Checks on VM-Execution Control Fields") ---- */

/* Each requirement of the control, broken alone: VMfailValid 7 by its
 * check, L2 not entered. _i = 5: a descriptor at the last 64 bytes below
 * the physical-address width, with no memory there, passes (KVM launches
 * such an L2 too; only a notification needs the memory). */
START_TEST(pi_entry_checks)
{
    static const uint32_t check[5] = {VCORE_VMX_CHECK_EXEC_PI_VID, VCORE_VMX_CHECK_EXEC_PI_ACK_INTR,
                                      VCORE_VMX_CHECK_EXEC_PI_VECTOR, VCORE_VMX_CHECK_EXEC_PI_DESC_ALIGN,
                                      VCORE_VMX_CHECK_EXEC_PI_DESC_WIDTH};
    uint32_t width = MAXPHY;
    with_pi();
    switch (_i) {
    case 0:
        set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, APIC_ACCESS);
        break;
    case 1:
        set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT_REF | HOST_64);
        break;
    case 2:
        set12(VCORE_VMCS_POSTED_INTR_NV, 0x100u | NV);
        break;
    case 3:
        set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, DESC + 0x20u);
        break;
    case 4:
        set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, 1ull << width);
        break;
    default:
        set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, (1ull << width) - 64u);
        break;
    }
    load_vmcs12();
    if (_i < 5) {
        l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        nested_assert_vmfail7(check[_i]);
    } else {
        push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        l2_to_vmm();
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    }
}
END_TEST

static Suite *pi_suite(void)
{
    Suite *s = suite_create("nested_pi");
    TCase *t = tcase_create("pi");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, pi_vmcs02_never_has_it);
    tcase_add_loop_test(t, pi_offered_only_with_vid, 0, 2);
    tcase_add_test(t, pi_intersection_needs_vid);
    tcase_add_test(t, pi_offered_without_processor_support);
    tcase_add_test(t, pi_notification_processed_without_exit);
    tcase_add_test(t, pi_eoi_flag_on_next_exit_only);
    tcase_add_test(t, pi_several_bits_rvi_highest);
    tcase_add_test(t, pi_first_word_only);
    tcase_add_loop_test(t, pi_at_region_end, 0, 2);
    tcase_add_loop_test(t, pi_rvi_kept_when_higher_or_pir_empty, 0, 3);
    tcase_add_test(t, pi_other_vector_exits_to_l1);
    tcase_add_test(t, pi_control_clear_exits_to_l1);
    tcase_add_test(t, pi_blocked_by_sti);
    tcase_add_loop_test(t, pi_descriptor_unbacked, 0, 2);
    tcase_add_test(t, pi_vmcs02_write_failure_undone);
    tcase_add_test(t, pi_vapic_unbacked);
    tcase_add_test(t, pi_entry_with_on_set_leaves_descriptor);
    tcase_add_loop_test(t, pi_entry_with_notification_pending, 0, 2);
    tcase_add_test(t, pi_entry_unbacked_reported_after_entry);
    tcase_add_loop_test(t, pi_entry_failure_undone, 0, 2);
    tcase_add_loop_test(t, pi_entry_checks, 0, 6);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(pi_suite());
}
