/*
 * test_nested_vpid.c - L2's VPID on the mock: vmcs02 runs on the vCPU's
 * vpid02, and the backend is asked to flush vpid02 exactly when L1's
 * processor would drop the translations of the VPID L2 runs with.
 *
 * Expected values come from the manuals: SDM Vol. 3, "Virtual-Processor
 * Identifiers (VPIDs)", "VPIDs and TLBs", "Operations that Invalidate
 * Cached Mappings", "Checks on VMX Controls" (VPID 0000H with "enable
 * VPID" is VMfailValid 7), "INVVPID-Invalidate Translations Based on VPID"
 * (types 0-3, VMfailValid 28 for an unsupported type, VPID 0000H of types
 * 0, 1, 3, or a non-canonical address of type 0), "VM-Instruction Error
 * Numbers".
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define P2_VPID (1u << 5)
#define VPID02 0x8001u /* the mock's vpid02 of vCPU 0 */

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS | VCORE_NVMX_OPT_NO_HW_SHADOW);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static uint64_t flushes(void)
{
    return vcore_mock_count(vcpu, VCORE_MOCK_OP_FLUSH_VPID02);
}

static vcore_mock_flush_t last_flush02(void)
{
    vcore_mock_flush_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_mock_last_vpid02_flush(vcpu, &f), VCORE_OK);
    return f;
}

static void vmcs12_vpid(bool on, uint16_t vpid)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, on ? P2_VPID : 0u);
    set12(VCORE_VMCS_VIRTUAL_PROCESSOR_ID, vpid);
}

/* L1's VMLAUNCH (VMRESUME) of the loaded vmcs12, L2's CPUID to L1, L1's HLT. */
static void enter_l2(uint32_t op)
{
    push_insn(op, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

/* L1 changes vmcs12's VPID with VMWRITE (register operands: value in RAX,
 * encoding in RCX). */
static void vmwrite_vpid(uint16_t vpid)
{
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = vpid;
    r.gpr[VCORE_X86_RCX] = VCORE_VMCS_VIRTUAL_PROCESSOR_ID;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    /* Instruction information: register form (bit 10), reg1 RAX (bits 6:3), reg2 RCX (bits 31:28). */
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (0u << 3) | (1u << 28), 3);
    ck_assert_uint_eq(regs().rflags & 0x41u, 0);
}

/* vmcs02 runs on vpid02, never on vmcs12's VPID, with "enable VPID"; the
 * first entry flushes vpid02 (single-context: it may hold anything), the
 * next one with the same VPID does not. */
START_TEST(vmcs02_runs_on_vpid02)
{
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & P2_VPID, P2_VPID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VIRTUAL_PROCESSOR_ID), VPID02);
    ck_assert_uint_eq(flushes(), 1);
    vcore_mock_flush_t f = last_flush02();
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_ALL);
    ck_assert_uint_eq(f.count, 0);
    enter_l2(VCORE_NVMX_VMRESUME);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(flushes(), 1);
    /* vmcs12's own VPID field is L1's, untouched. */
    ck_assert_uint_eq(get12(VCORE_VMCS_VIRTUAL_PROCESSOR_ID), 5);
}
END_TEST

/* A different VPID in vmcs12 than the one L2 last ran with: vpid02 holds
 * the old VPID's translations, so it is flushed; the same VPID again is
 * not; back to the first one flushes again (vpid02 stands for one VPID). */
START_TEST(vpid_change_flushes_vpid02)
{
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(flushes(), 1);
    vmwrite_vpid(6);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(flushes(), 2);
    ck_assert_uint_eq(last_flush02().kind, VCORE_TLB_FLUSH_ALL);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(flushes(), 2);
    vmwrite_vpid(5);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(flushes(), 3);
    /* Another vmcs12 with the same VPID shares its translations: no flush. */
    load_vmcs12(); /* VMCLEAR, VMPTRLD: vmcs12 again with VPID 5 */
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(flushes(), 3);
}
END_TEST

/* Without "enable VPID" in vmcs12 vmcs02 runs without VPID (the processor
 * flushes VPID 0000H at each entry and exit): no request to the backend.
 * Turning it on later flushes vpid02 before first use. */
START_TEST(vpid_disabled_in_vmcs12_runs_without_vpid)
{
    vmcs12_vpid(false, 0);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & P2_VPID, 0);
    ck_assert_uint_eq(flushes(), 0);
    vmcs12_vpid(true, 9);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & P2_VPID, P2_VPID);
    ck_assert_uint_eq(flushes(), 1);
}
END_TEST

/* "Operations that Invalidate Cached Mappings": with "enable VPID" 0 the VM
 * entry and the VM exit invalidate the mappings of VPID 0000H - L1's own
 * too. L1's live under vmcs01's VPID, so each exit to L1 asks the backend
 * for an all-context flush of the vCPU (vcpu_flush_tlb); with "enable
 * VPID" 1 L1's translations stay. */
static uint64_t l1_flushes(void)
{
    return vcore_mock_count(vcpu, VCORE_MOCK_OP_FLUSH_TLB);
}

START_TEST(vpid_disabled_flushes_l1_at_each_exit)
{
    vmcs12_vpid(false, 0);
    load_vmcs12();
    uint64_t f0 = l1_flushes();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(l1_flushes() - f0, 1);
    vcore_mock_flush_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_mock_last_flush(vcpu, &f), VCORE_OK);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_ALL);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(l1_flushes() - f0, 2);
    /* without secondary controls at all: the same */
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(l1_flushes() - f0, 3);
    /* with "enable VPID": L1's translations are not L2's to flush */
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(l1_flushes() - f0, 3);
}
END_TEST

/* A backend that refuses the flush: the exit to L1 stops before L1's
 * state changes (L1 is not at HOST_RIP), and the error reaches the VMM. */
START_TEST(refused_l1_flush_leaves_l1_unchanged)
{
    vmcs12_vpid(false, 0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_FLUSH_TLB, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_exit_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_ERR_HWFAIL);
    ck_assert_uint_ne(regs().rip, HOST_RIP);
}
END_TEST

/* A backend without a second VPID: L1 may still enable VPID (INVVPID is
 * emulated), vmcs02 runs without it and nothing is flushed by request. */
START_TEST(backend_without_vpid02)
{
    ck_assert_int_eq(vcore_mock_set_vpid02(vcpu, false), VCORE_OK);
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & P2_VPID, P2_VPID);
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    vmwrite_vpid(6);
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & P2_VPID, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VIRTUAL_PROCESSOR_ID), 0);
    ck_assert_uint_eq(flushes(), 0);
}
END_TEST

/* INVVPID from L1 after L2 ran with VPID 5 (type in RAX, 16-byte
 * descriptor at [RBX]: VPID in bits 15:0, linear address in bits 127:64):
 * each type flushes vpid02 as it names, one naming another VPID flushes
 * nothing, an invalid one is VMfailValid 28 and flushes nothing. */
typedef struct inv_case {
    uint64_t type;
    uint64_t vpid;
    uint64_t addr;
    uint32_t vm_error; /* 0: VMsucceed */
    int flush;         /* -1: none, else the vcore_tlb_flush_kind_t */
    uint64_t range;    /* LIST: the page */
} inv_case_t;
static const inv_case_t inv_cases[] = {
    {0, 5, 0x12345678, 0, VCORE_TLB_FLUSH_LIST, 0x12345000},
    {0, 7, 0x12345678, 0, -1, 0},
    {1, 5, 0, 0, VCORE_TLB_FLUSH_ALL, 0},
    {1, 7, 0, 0, -1, 0},
    {2, 0, 0, 0, VCORE_TLB_FLUSH_ALL, 0},
    {2, 7, 0, 0, VCORE_TLB_FLUSH_ALL, 0},
    {3, 5, 0, 0, VCORE_TLB_FLUSH_NON_GLOBAL, 0},
    {3, 7, 0, 0, -1, 0},
    /* INVVPID's pseudocode: VMfailValid(28) */
    {1, 0, 0, 28, -1, 0},                    /* VPID 0000H, single-context */
    {3, 0, 0, 28, -1, 0},                    /* ... retaining globals */
    {0, 0, 0x1000, 28, -1, 0},               /* ... individual-address */
    {0, 5, 0x0000800000000000ull, 28, -1, 0}, /* a non-canonical address */
    {1, 0x10005, 0, 28, -1, 0},              /* descriptor bits 63:16 reserved */
    {4, 5, 0, 28, -1, 0},                    /* no type 4 */
};

START_TEST(invvpid_flushes_vpid02_as_it_names)
{
    const inv_case_t *c = &inv_cases[_i];
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(flushes(), 1);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = c->type;
    r.gpr[VCORE_X86_RBX] = OPND_GPA;
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    put(OPND_GPA, c->vpid, 8);
    put(OPND_GPA + 8, c->addr, 8);
    l1_insn(VCORE_NVMX_INVVPID, MEM_RBX, 5);
    if (c->vm_error) {
        ck_assert_uint_eq(regs().rflags & 0x41u, 0x40u);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), c->vm_error);
    } else {
        ck_assert_uint_eq(regs().rflags & 0x41u, 0);
    }
    ck_assert_uint_eq(regs().rip, L1_RIP + 5);
    if (c->flush < 0) {
        ck_assert_uint_eq(flushes(), 1);
    } else {
        ck_assert_uint_eq(flushes(), 2);
        vcore_mock_flush_t f = last_flush02();
        ck_assert_uint_eq(f.kind, (uint32_t)c->flush);
        ck_assert_uint_eq(f.count, c->flush == VCORE_TLB_FLUSH_LIST ? 1u : 0u);
        if (c->flush == VCORE_TLB_FLUSH_LIST)
            ck_assert_uint_eq(f.ranges[0], c->range);
    }
    /* L2 again with the same VPID: nothing more. */
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(flushes(), c->flush < 0 ? 1u : 2u);
}
END_TEST

/* SDM Vol. 2, "INVVPID": an individual-address invalidation of a
 * non-canonical linear address is VMfailValid 28; canonical is relative to
 * the processor's linear-address width, as for INVLPG and INVPCID, not to
 * CR4.LA57 (L1 runs 4-level paging here): 00FF800000001000H is canonical on
 * a vCPU whose CPUID has 5-level paging, and not on one without. */
START_TEST(invvpid_canonical_in_cpuid_width)
{
    const uint64_t addr = 0x00ff800000001000ull;
    nested_cpuid_la57(_i != 0);
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(sregs().cr4 & (1u << 12), 0);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 0;
    r.gpr[VCORE_X86_RBX] = OPND_GPA;
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    put(OPND_GPA, 5, 8);
    put(OPND_GPA + 8, addr, 8);
    l1_insn(VCORE_NVMX_INVVPID, MEM_RBX, 5);
    if (_i) {
        ck_assert_uint_eq(regs().rflags & 0x41u, 0);
        ck_assert_uint_eq(flushes(), 2);
        ck_assert_uint_eq(last_flush02().ranges[0], addr);
    } else {
        ck_assert_uint_eq(regs().rflags & 0x41u, 0x40u);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 28);
        ck_assert_uint_eq(flushes(), 1);
    }
}
END_TEST

/* Before L2 ran with VPID (it ran without: vmcs02 and vpid02 exist),
 * vpid02 holds nothing of L1's: even all-context INVVPID asks nothing. */
START_TEST(invvpid_before_l2_ran_flushes_nothing)
{
    vmcs12_vpid(false, 0);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 2;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    put(OPND_GPA, 0, 8);
    put(OPND_GPA + 8, 0, 8);
    l1_insn(VCORE_NVMX_INVVPID, MEM_RBX, 5);
    ck_assert_uint_eq(regs().rflags & 0x41u, 0);
    ck_assert_uint_eq(flushes(), 0);
}
END_TEST

/* The backend failing the flush: the run fails with its error, and the
 * next entry flushes vpid02 whole (what it holds is not known). */
START_TEST(failed_flush_is_retried_at_the_next_entry)
{
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 1;
    r.gpr[VCORE_X86_RBX] = OPND_GPA;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    put(OPND_GPA, 5, 8);
    put(OPND_GPA + 8, 0, 8);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_FLUSH_VPID02, VCORE_ERR_HWFAIL), VCORE_OK);
    push_insn(VCORE_NVMX_INVVPID, MEM_RBX, 5);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    uint64_t before = flushes();
    enter_l2(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(flushes(), before + 1);
    ck_assert_uint_eq(last_flush02().kind, VCORE_TLB_FLUSH_ALL);
}
END_TEST

/* VMXOFF and VMXON again: vpid02 is flushed before L2 uses it again. */
START_TEST(vmxoff_forgets_vpid02_contents)
{
    vmcs12_vpid(true, 5);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(flushes(), 1);
    l1_insn(VCORE_NVMX_VMXOFF, 0, 3);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(flushes(), 2);
}
END_TEST

static Suite *vpid_suite(void)
{
    Suite *s = suite_create("nested_vpid");
    TCase *tc = tcase_create("vpid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vmcs02_runs_on_vpid02);
    tcase_add_test(tc, vpid_change_flushes_vpid02);
    tcase_add_test(tc, vpid_disabled_in_vmcs12_runs_without_vpid);
    tcase_add_test(tc, vpid_disabled_flushes_l1_at_each_exit);
    tcase_add_test(tc, refused_l1_flush_leaves_l1_unchanged);
    tcase_add_test(tc, backend_without_vpid02);
    tcase_add_loop_test(tc, invvpid_flushes_vpid02_as_it_names, 0, (int)(sizeof(inv_cases) / sizeof(inv_cases[0])));
    tcase_add_loop_test(tc, invvpid_canonical_in_cpuid_width, 0, 2);
    tcase_add_test(tc, invvpid_before_l2_ran_flushes_nothing);
    tcase_add_test(tc, failed_flush_is_retried_at_the_next_entry);
    tcase_add_test(tc, vmxoff_forgets_vpid02_contents);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(vpid_suite());
}
