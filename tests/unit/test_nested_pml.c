/*
 * test_nested_pml.c - L1's page-modification log for L2 on the mock: L0
 * logs where its fill of ept02 sets the dirty flag of an ept12 leaf.
 *
 * Expected values come from the manuals: SDM Vol. 3, "Page-Modification
 * Logging" (the 4-KByte-aligned guest-physical address written at PML
 * address + 8 * PML index, the index decremented; an index outside 0-511
 * when a flag is to be set is a VM exit and the access does not happen),
 * "Accessed and Dirty Flags for EPT", "Exit Qualification for
 * Page-Modification Log Full" (bit 12: NMI unblocking due to IRET),
 * "Checks on VMX Controls" ("enable PML" needs "enable EPT").
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define P2_EPT (1u << 1)
#define P2_PML (1u << 17)
#define E_PML4 0x50000u
#define E_PDPT 0x51000u
#define E_PD 0x52000u
#define E_PT 0x53000u
#define EPTP_AD (E_PML4 | 6u | (3u << 3) | (1u << 6)) /* WB, 4 levels, A/D flags */
#define PML_LOG 0x58000u
#define D_BIT (1ull << 9)
#define QUAL_WRITE (2u | (1u << 7) | (1u << 8)) /* a data write to the final translation */

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static uint64_t get64(uint64_t gpa)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, gpa, &v, 8), VCORE_OK);
    return v;
}

/* vmcs12 with EPT (A/D flags) and "enable PML", index `index`; ept12 maps
 * L2 0x1000-0x3fff to L1 0x60000-0x62fff, clean. */
static void vmcs12_pml(uint16_t index)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, P2_EPT | P2_PML);
    set12(VCORE_VMCS_EPT_POINTER, EPTP_AD);
    set12(VCORE_VMCS_PML_ADDRESS, PML_LOG);
    set12(VCORE_VMCS_GUEST_PML_INDEX, index);
    put(E_PML4, E_PDPT | 7, 8);
    put(E_PDPT, E_PD | 7, 8);
    put(E_PD, E_PT | 7, 8);
    for (uint64_t p = 1; p <= 3; p++)
        put(E_PT + p * 8, (0x5f000 + p * 0x1000) | 7 | (6u << 3), 8);
}

static void push_write_fault(uint64_t gpa, uint64_t extra_qual)
{
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS};
    uint64_t val[3] = {QUAL_WRITE | extra_qual, gpa, 0x400000 + gpa};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 3, enc, val);
}

/* "enable PML" is offered with EPT; vmcs02 never has it. */
START_TEST(pml_offered_and_not_in_vmcs02)
{
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & P2_PML, P2_PML);
    vmcs12_pml(511);
    nested_launch_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (P2_EPT | P2_PML), P2_EPT);
}
END_TEST

/* L2 writes three clean pages: three entries from index 511 down, the
 * index 508 after them, no exit to L1 for them; L1's VMREAD sees 508. */
START_TEST(three_writes_three_entries)
{
    vmcs12_pml(511);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_write_fault(0x1008, 0);
    push_write_fault(0x2ff0, 0);
    push_write_fault(0x3000, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(last().l0_handled, 3);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0x1000);
    ck_assert_uint_eq(get64(PML_LOG + 510 * 8), 0x2000);
    ck_assert_uint_eq(get64(PML_LOG + 509 * 8), 0x3000);
    ck_assert_uint_eq(get64(PML_LOG + 508 * 8), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 508);
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, VCORE_VMCS_GUEST_PML_INDEX, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 508);
    for (uint64_t p = 1; p <= 3; p++)
        ck_assert_uint_eq(get64(E_PT + p * 8) & D_BIT, D_BIT);
}
END_TEST

/* Index FFFFH (the log is full): the write is exit 62 to L1, qualification
 * bit 12 as the processor reported it, RIP at the instruction, no dirty
 * flag, nothing logged, the index as it was. */
START_TEST(full_log_exits_62)
{
    vmcs12_pml(0xffff);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_write_fault(0x1008, 1u << 12);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_PML_FULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 1u << 12);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 0xffff);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(get64(E_PT + 8) & D_BIT, 0);
    ck_assert_uint_eq(last().l0_handled, 0);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* The same write without "enable PML" in vmcs12 (EPT with A/D flags
 * still on): the dirty flag is set, nothing is logged, the index stays. */
START_TEST(no_log_without_pml)
{
    vmcs12_pml(511);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, P2_EPT);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_write_fault(0x1008, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get64(E_PT + 8) & D_BIT, D_BIT);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 511);
}
END_TEST

static Suite *pml_suite(void)
{
    Suite *s = suite_create("nested_pml");
    TCase *tc = tcase_create("pml");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, pml_offered_and_not_in_vmcs02);
    tcase_add_test(tc, three_writes_three_entries);
    tcase_add_test(tc, full_log_exits_62);
    tcase_add_test(tc, no_log_without_pml);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(pml_suite());
}
