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

/* ---- L0's own accesses for L2: the re-fetch of the instruction ---- */

#define L2_CODE 0x70000u   /* L2's code page, L1's 0x74000 */
#define L1_CODE 0x74000u
#define L2_MMIO 0x9000u    /* ept12: L1's 0xfee00000, no memory (MMIO) */
#define A_BIT (1ull << 8)

/* vmcs12_pml(index), ept12 also mapping L2's paging structures (L2
 * 0x1000-0x3fff, identity: the fixture's L2 tables), its code page and
 * the MMIO page; the ept12 entries the exit's own translation of L2_MMIO
 * uses already accessed, L2's paging-structure pages and code clean. L2
 * at L2_CODE runs `insn`. */
static void refetch_setup(uint16_t index, const uint8_t *insn, size_t n)
{
    vmcs12_pml(index);
    for (uint64_t p = 1; p <= 3; p++)
        put(E_PT + p * 8, (p << 12) | 7 | (6u << 3), 8);
    put(E_PT + (L2_CODE >> 12) * 8, L1_CODE | 7 | (6u << 3), 8);
    put(E_PML4, E_PDPT | 7 | A_BIT, 8);
    put(E_PDPT, E_PD | 7 | A_BIT, 8);
    put(E_PD, E_PT | 7 | A_BIT, 8);
    put(E_PT + (L2_MMIO >> 12) * 8, 0xfee00000ull | 7 | A_BIT, 8);
    ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE, insn, n), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
}

/* L2's MOV ECX, [RBX] (8B 0B) at L2_CODE reads L2's 0x90f0 (L1's
 * 0xfee000f0, MMIO) (_i 0); L2's OUTSB (6E) to port 3F8H that L1 lets
 * through (_i 1). L0 fetches the instruction again through L2's paging and
 * ept12, and with EPT accessed and dirty flags the walk's reads of L2's
 * paging structures are writes that must set dirty flags; with the log
 * full (index 512) that is a page-modification log-full event: exit 62 to
 * L1 instead of the instruction ("Page-Modification Logging"), its
 * qualification 0 (not an IRET: "Exit Qualification for Page-Modification
 * Log Full Event"; the processor's EPT-violation qualification is not
 * L1's), RIP at the instruction, no flag set, nothing logged, the index
 * as it was; the VMM sees nothing of it. */
START_TEST(refetch_full_log_exits_62)
{
    static const uint8_t mov[] = {0x8b, 0x0b};
    static const uint8_t outsb[] = {0x6e};
    refetch_setup(512, _i ? outsb : mov, _i ? 1 : 2);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    if (_i) {
        uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
        uint64_t val[2] = {(0x3f8ull << 16) | 0x10u, 1};
        push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_INSTRUCTION, 0, 2, enc, val);
    } else {
        uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                           VCORE_VMCS_GUEST_LINEAR_ADDRESS};
        uint64_t val[3] = {1u | (1u << 7) | (1u << 8), L2_MMIO + 0xf0, 0x4090f0};
        push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 3, enc, val);
    }
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_PML_FULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 512);
    for (uint64_t p = 1; p <= 3; p++)
        ck_assert_uint_eq(get64(E_PT + p * 8) & (A_BIT | D_BIT), 0);
    ck_assert_uint_eq(get64(E_PT + (L2_CODE >> 12) * 8) & (A_BIT | D_BIT), 0);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0);
    ck_assert_uint_eq(last().reflected, 1);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* The same re-fetch with room in the log (index 511): the walk's writes
 * log L2's paging-structure pages 0x1000, 0x2000, 0x3000 and the index
 * is 508; the fetch of the code sets its accessed flag only; the MOV
 * becomes the VMM's MMIO read of L1's 0xfee000f0. */
START_TEST(refetch_logs_walk_then_mmio)
{
    static const uint8_t mov[] = {0x8b, 0x0b};
    refetch_setup(511, mov, sizeof(mov));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS};
    uint64_t val[3] = {1u | (1u << 7) | (1u << 8), L2_MMIO + 0xf0, 0x4090f0};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 3, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.gpa, 0xfee000f0ull);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0x1000);
    ck_assert_uint_eq(get64(PML_LOG + 510 * 8), 0x2000);
    ck_assert_uint_eq(get64(PML_LOG + 509 * 8), 0x3000);
    ck_assert_uint_eq(get64(PML_LOG + 508 * 8), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 508);
    ck_assert_uint_eq(get64(E_PT + (L2_CODE >> 12) * 8) & (A_BIT | D_BIT), A_BIT);
}
END_TEST

/* The MOV is the last two bytes of L2's code page (L2 0x70ffe) and the
 * next page (L2 0x71000, L1 0x75000) is clean, the log full: L0 reads 15
 * bytes, the processor only the two of the instruction, whose page and
 * walk have their flags already. The read-ahead into the next page is no
 * access of the processor's, so no log-full event: the MOV is the VMM's
 * MMIO read, the next page's accessed flag stays clear. */
START_TEST(refetch_read_ahead_is_no_event)
{
    static const uint8_t mov[] = {0x8b, 0x0b};
    refetch_setup(512, mov, 0);
    for (uint64_t p = 1; p <= 3; p++)
        put(E_PT + p * 8, (p << 12) | 7 | (6u << 3) | A_BIT | D_BIT, 8);
    put(E_PT + (L2_CODE >> 12) * 8, L1_CODE | 7 | (6u << 3) | A_BIT, 8);
    put(E_PT + ((L2_CODE >> 12) + 1) * 8, (L1_CODE + 0x1000) | 7 | (6u << 3), 8);
    ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE + 0xffe, mov, sizeof(mov)), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE + 0xffe);
    /* L2's own paging entries are accessed and dirty already: nothing to write */
    put(0x1000, get64(0x1000) | 0x60, 8);
    put(0x2000, get64(0x2000) | 0x60, 8);
    put(0x3000, get64(0x3000) | 0x60, 8);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS};
    uint64_t val[3] = {1u | (1u << 7) | (1u << 8), L2_MMIO + 0xf0, 0x4090f0};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 3, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    ck_assert_uint_eq(get64(E_PT + ((L2_CODE >> 12) + 1) * 8) & A_BIT, 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 512);
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
    tcase_add_loop_test(tc, refetch_full_log_exits_62, 0, 2);
    tcase_add_test(tc, refetch_logs_walk_then_mmio);
    tcase_add_test(tc, refetch_read_ahead_is_no_event);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(pml_suite());
}
