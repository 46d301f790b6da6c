/*
 * test_nested_check_gating.c - the VM-entry rules that read what lies
 * outside vmcs12 (L1 memory, the instruction, the launch state) after an
 * entry that passed: L1 changes one such input and the next VMRESUME or
 * VMLAUNCH must end as the SDM says, and as it does with every rule run
 * (VCORE_NVMX_OPT_ALL_CHECKS); each test runs both ways (loop index 0:
 * gated, 1: every rule), the guest-RIP tests also with both compared
 * (VCORE_NVMX_OPT_VERIFY_CHECKS).
 *
 * Expected outcomes: SDM Vol. 3, "Checks on VM-Execution Control Fields"
 * (TPR threshold against VTPR: VMfailValid 7), "Checks on Guest
 * Non-Register State" (the VMCS link pointer: exit 33, qualification 4),
 * "Checks on Guest Page-Directory-Pointer-Table Entries" (exit 33,
 * qualification 2), "Checks on Guest RIP, RFLAGS, and SSP" (exit 33,
 * qualification 0; L1's usual change, guest RIP alone), "VM-Entry Failures During or After Loading Guest
 * State", "VM-Instruction Error Numbers" and "Conventions".
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define VAPIC 0x40000u    /* L1's virtual-APIC page */
#define PDPT_PAE 0x44000u /* L2's PAE page-directory-pointer table */
#define LINKED 0x46000u   /* the VMCS the link pointer names */
#define TPR_SHADOW (1u << 21)

/* Loop index 0: gated; 1: every rule; 2: both, compared (a difference
 * fails the run). */
static void start(int i)
{
    static const uint32_t opts[] = {0, VCORE_NVMX_OPT_ALL_CHECKS, VCORE_NVMX_OPT_VERIFY_CHECKS};
    nested_vm(NULL, NULL, NULL, opts[i]);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* VMLAUNCH that enters L2, which exits to L1 on CPUID; L1 then halts at
 * HOST_RIP. */
static void launch_passes(void)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(last().check, 0);
}

/* L1's VMRESUME that enters L2 again (CPUID exit to L1, then HLT). */
static void resume_enters_l2(void)
{
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(last().check, 0);
}

/* L1's VMRESUME (or VMLAUNCH) at HOST_RIP, then HLT. */
static void l1_entry(uint32_t op)
{
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    l1_insn(op, 0, 3);
}

/* "VM-Entry Failures During or After Loading Guest State": exit 33 with
 * bit 31 set, L1 at its host state. */
static void assert_exit33(uint64_t qual, uint32_t check)
{
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000000u | VCORE_VMX_EXIT_INVALID_GUEST_STATE);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), qual);
    ck_assert_uint_eq(last().check, check);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}

/* L1 lowers VTPR below the TPR threshold in its virtual-APIC page (L1
 * memory, no VMWRITE): VMRESUME is VMfailValid 7. */
START_TEST(vtpr_lowered_after_pass)
{
    start(_i);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | TPR_SHADOW);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC);
    set12(VCORE_VMCS_TPR_THRESHOLD, 3);
    put(VAPIC + 0x80u, 0x50, 4);
    launch_passes();
    resume_enters_l2(); /* unchanged */
    put(VAPIC + 0x80u, 0x20, 4); /* VTPR[7:4] = 2 < threshold 3 */
    l1_entry(VCORE_NVMX_VMRESUME);
    nested_assert_vmfail(HOST_RIP + 3, VCORE_VMXERR_ENTRY_INVALID_CONTROL, VCORE_VMX_CHECK_EXEC_TPR_THRESHOLD_VTPR);
}
END_TEST

/* L2 in 32-bit PAE paging (not IA-32e mode, no EPT): L1 sets a reserved
 * bit (bit 1) in a present PDPTE at guest CR3: exit 33, qualification 2. */
START_TEST(pdpte_changed_after_pass)
{
    start(_i);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fbu); /* no IA-32e mode guest */
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);       /* 32-bit code */
    set12(VCORE_VMCS_GUEST_CR3, PDPT_PAE);
    put(PDPT_PAE, 0x48001, 8); /* present, no reserved bit */
    launch_passes();
    resume_enters_l2();
    put(PDPT_PAE + 16u, 0x49003, 8); /* PDPTE2: present with bit 1 */
    l1_entry(VCORE_NVMX_VMRESUME);
    assert_exit33(VCORE_VMX_QUAL_PDPTE, VCORE_VMX_CHECK_GUEST_PDPTE2_RESERVED);
}
END_TEST

/* The same guest with IA-32e mode: no PDPTE is checked, whatever L1's
 * memory holds at CR3. */
START_TEST(pdpte_ignored_in_ia32e_mode)
{
    start(_i);
    set12(VCORE_VMCS_GUEST_CR3, PDPT_PAE);
    launch_passes();
    put(PDPT_PAE, 0x49003, 8);
    resume_enters_l2();
}
END_TEST

/* A link pointer naming a VMCS of the right revision passes; L1 then
 * changes that VMCS's revision identifier in memory: exit 33,
 * qualification 4. */
START_TEST(link_target_changed_after_pass)
{
    start(_i);
    set12(VCORE_VMCS_VMCS_LINK_POINTER, LINKED);
    put(LINKED, VCORE_VMCS12_REVISION, 4);
    launch_passes();
    resume_enters_l2();
    put(LINKED, VCORE_VMCS12_REVISION + 1u, 4);
    l1_entry(VCORE_NVMX_VMRESUME);
    assert_exit33(VCORE_VMX_QUAL_LINK_POINTER, VCORE_VMX_CHECK_GUEST_LINK_REVISION);
}
END_TEST

/* Bit 31 of the referenced VMCS set without "VMCS shadowing". */
START_TEST(link_target_shadow_bit_after_pass)
{
    start(_i);
    set12(VCORE_VMCS_VMCS_LINK_POINTER, LINKED);
    put(LINKED, VCORE_VMCS12_REVISION, 4);
    launch_passes();
    put(LINKED, VCORE_VMCS12_REVISION | 0x80000000u, 4);
    l1_entry(VCORE_NVMX_VMRESUME);
    assert_exit33(VCORE_VMX_QUAL_LINK_POINTER, VCORE_VMX_CHECK_GUEST_LINK_SHADOW);
}
END_TEST

/* The launch state changed with the VMLAUNCH that passed: VMLAUNCH again
 * is VMfailValid 4; VMRESUME then enters L2. */
START_TEST(launch_state_after_pass)
{
    start(_i);
    launch_passes();
    l1_entry(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(regs().rip, HOST_RIP + 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_VMLAUNCH_NONCLEAR);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    resume_enters_l2();
}
END_TEST

/* Blocking by MOV SS at VMRESUME: VMfailValid 26 ("Basic VM-Entry
 * Checks"). */
START_TEST(movss_after_pass)
{
    start(_i);
    launch_passes();
    vcore_x86_events_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &e), VCORE_OK);
    e.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &e), VCORE_OK);
    l1_entry(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(regs().rip, HOST_RIP + 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_MOV_SS);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* L1 leaves IA-32e mode after the entry that passed (IA32_EFER.LMA = 0,
 * 32-bit code): "Checks Related to Address-Space Size" now fail on the
 * vmcs12 that passed ("host address-space size" and "IA-32e mode guest"
 * must be 0 outside IA-32e mode): VMfailValid 8. */
START_TEST(l1_efer_changed_after_pass)
{
    start(_i);
    launch_passes();
    vcore_x86_sregs_t s = sregs();
    s.efer = 0;
    s.cr4 = 0x2030; /* PAE paging for L1 now */
    s.seg[VCORE_X86_CS].ar = 0xc09b;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    l1_entry(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(regs().rip, HOST_RIP + 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_INVALID_HOST);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* L1's exit handler moves L2 on: VMWRITE GUEST_RIP <- rip (register
 * form: field in RDX, value in RCX), then VMRESUME. */
static void l1_resume_at(uint64_t rip)
{
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RIP;
    r.gpr[VCORE_X86_RCX] = rip;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    push_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
}

/* The VMRESUME after l1_resume_at() enters L2 at rip (CPUID exit to L1). */
static void resume_at_enters_l2(uint64_t rip)
{
    l1_resume_at(rip);
    resume_enters_l2();
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), rip);
}

/* ... or fails with exit 33 (qualification 0) naming check. */
static void resume_at_fails(uint64_t rip, uint32_t check)
{
    l1_resume_at(rip);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_exit33(0, check);
}

/* "Checks on Guest RIP, RFLAGS, and SSP", L2 in 64-bit mode (IA-32e mode
 * guest, CS.L = 1) on a processor with 48 linear-address bits: RIP bits
 * 63:48 must be identical - not bits 63:47, so an address that is not
 * canonical may still pass. */
START_TEST(rip_only_64bit_after_pass)
{
    start(_i);
    launch_passes();
    resume_at_enters_l2(0x0000800000401000ull);
    resume_at_enters_l2(0xffff800000000000ull);
    resume_at_fails(0x0001000000401000ull, VCORE_VMX_CHECK_GUEST_RIP_LINEAR_WIDTH);
}
END_TEST

/* L2 in 32-bit protected mode with 32-bit paging (no IA-32e mode guest,
 * CS.L = 0, CR4.PAE = 0: no PDPTE rule is due): RIP bits 63:32 must be 0. */
START_TEST(rip_only_32bit_after_pass)
{
    start(_i);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fbu);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);
    set12(VCORE_VMCS_GUEST_CR4, 0x2000);
    launch_passes();
    resume_at_enters_l2(0xfffff000u);
    resume_at_fails(0x100401000ull, VCORE_VMX_CHECK_GUEST_RIP_HIGH);
}
END_TEST

/* L2 in compatibility mode (IA-32e mode guest, CS.L = 0, CS.D = 1): not
 * 64-bit mode, so RIP bits 63:32 must be 0. */
START_TEST(rip_only_compat_after_pass)
{
    start(_i);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);
    launch_passes();
    resume_at_enters_l2(0xfffff000u);
    resume_at_fails(0xffff800000401000ull, VCORE_VMX_CHECK_GUEST_RIP_HIGH);
}
END_TEST

/* With LA57 in CPUID leaf 7 (ECX bit 16) the processor has 57
 * linear-address bits: bits 63:57 must be identical. */
START_TEST(rip_only_la57_after_pass)
{
    start(_i);
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 7, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 7, .ecx = 1u << 16},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20)},
        {.function = 0x80000008, .eax = 0x3928},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, c, 6), VCORE_OK);
    launch_passes();
    resume_at_enters_l2(0x0001000000401000ull);
    resume_at_fails(0x0200000000401000ull, VCORE_VMX_CHECK_GUEST_RIP_LINEAR_WIDTH);
}
END_TEST

static Suite *nested_check_gating_suite(void)
{
    Suite *s = suite_create("nested_check_gating");
    TCase *tc = tcase_create("after_pass");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, vtpr_lowered_after_pass, 0, 2);
    tcase_add_loop_test(tc, pdpte_changed_after_pass, 0, 2);
    tcase_add_loop_test(tc, pdpte_ignored_in_ia32e_mode, 0, 2);
    tcase_add_loop_test(tc, link_target_changed_after_pass, 0, 2);
    tcase_add_loop_test(tc, link_target_shadow_bit_after_pass, 0, 2);
    tcase_add_loop_test(tc, launch_state_after_pass, 0, 2);
    tcase_add_loop_test(tc, movss_after_pass, 0, 2);
    tcase_add_loop_test(tc, l1_efer_changed_after_pass, 0, 2);
    tcase_add_loop_test(tc, rip_only_64bit_after_pass, 0, 3);
    tcase_add_loop_test(tc, rip_only_32bit_after_pass, 0, 3);
    tcase_add_loop_test(tc, rip_only_compat_after_pass, 0, 3);
    tcase_add_loop_test(tc, rip_only_la57_after_pass, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(nested_check_gating_suite());
}
