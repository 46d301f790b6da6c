/*
 * test_nested_vmfunc.c - L2's VMFUNC on the mock: EPTP switching performed
 * by L0 for L1, and the outcomes L1's processor would give instead.
 *
 * Expected values come from the manuals: SDM Vol. 3, "VM Functions" (#UD
 * without "enable VM functions"; a VM exit, reason 59, for EAX above 63 or
 * a VM-function control that is 0), "EPTP Switching" (ECX above 511 or an
 * EPTP-list entry that is not a valid EPT pointer: VM exit; else the EPT
 * pointer is the entry and L2 continues), "Checks on VMX Controls" (what a
 * valid EPT pointer is; "enable VM functions" and the VM-function controls
 * allowed by IA32_VMX_VMFUNC), "VMFUNC-Invoke VM function" (0F 01 D4,
 * three bytes), "Basic VM-Exit Information" (the VM-exit instruction
 * length of a VMFUNC exit; exit qualification cleared for reasons that do
 * not define one), "Format of the VM-Entry Interruption-Information Field"
 * (#UD: vector 6, hardware exception, no error code).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define P2_EPT (1u << 1)
#define P2_VMFUNC (1u << 13)
#define EPTP_A (0x50000u | 6u | (3u << 3)) /* WB, walk length 4 */
#define EPTP_B (0x54000u | 6u | (3u << 3))
#define EPTP_LIST 0x58000u
#define VMFUNC_LEN 3u /* 0F 01 D4 */
#define L2_RIP 0x401000u /* ref_vmcs12's guest RIP */

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* vmcs12 with EPT on EPTP_A, "enable VM functions" (when vmfunc) with the
 * VM-function controls fn and the EPTP list at EPTP_LIST: entry 0 EPTP_A,
 * entry 1 EPTP_B. */
static void vmcs12_vmfunc(bool vmfunc, uint64_t fn)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, P2_EPT | (vmfunc ? P2_VMFUNC : 0u));
    set12(VCORE_VMCS_EPT_POINTER, EPTP_A);
    set12(VCORE_VMCS_VM_FUNCTION_CONTROL, fn);
    set12(VCORE_VMCS_EPTP_LIST_ADDRESS, EPTP_LIST);
    put(EPTP_LIST, EPTP_A, 8);
    put(EPTP_LIST + 8, EPTP_B, 8);
}

/* L1's VMLAUNCH or VMRESUME (op), L2's VMFUNC (when vmfunc) and, unless
 * the VMFUNC ends in L1, L2's CPUID to L1; L1 halts. */
static void enter_l2(uint32_t op, bool vmfunc)
{
    push_insn(op, 0, 3);
    if (vmfunc)
        push_l2_exit(VCORE_VMX_EXIT_VMFUNC, VMFUNC_LEN);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

/* ... VMLAUNCH of vmcs12, and L2's VMFUNC with EAX = eax, RCX = rcx. */
static void run_vmfunc(uint32_t eax, uint64_t rcx)
{
    nested_set_gpr(VCORE_X86_RAX, eax);
    nested_set_gpr(VCORE_X86_RCX, rcx);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH, true);
}

/* L1 is offered "enable VM functions" with EPTP switching only
 * (IA32_VMX_VMFUNC = 1), since the mock's host backs ept02. */
START_TEST(vmfunc_offered_with_eptp_switching)
{
    const uint64_t *m = vcore_nvmx_caps(nv)->msr;
    ck_assert_uint_eq((m[VCORE_NVMX_CAP_PROCBASED2] >> 32) & P2_VMFUNC, P2_VMFUNC);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_VMFUNC], 1);
}
END_TEST

/* vmcs02 has "enable VM functions" as vmcs12 does, with VM-function
 * controls 0 (so every VMFUNC of L2 exits to L0), and never L1's EPTP
 * list. */
START_TEST(vmcs02_enables_vm_functions_without_functions)
{
    vmcs12_vmfunc(true, 1);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH, false);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & P2_VMFUNC, P2_VMFUNC);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_FUNCTION_CONTROL), 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_EPTP_LIST_ADDRESS), 0);
    vmcs12_vmfunc(false, 0);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH, false);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & P2_VMFUNC, 0);
}
END_TEST

/* VMFUNC(0, 1): vmcs12's EPT pointer is EPTP-list entry 1, L2 continues
 * past the three bytes on another ept02, L1 sees only the CPUID after it;
 * L1's VMREAD of the EPT pointer gives the entry. VMFUNC(0, 0) switches
 * back. Bits 63:32 of RCX are not ECX's. */
START_TEST(eptp_switch_without_exit_to_l1)
{
    vmcs12_vmfunc(true, 1);
    load_vmcs12();
    enter_l2(VCORE_NVMX_VMLAUNCH, false);
    uint64_t eptp02_a = nested_peek02(VCORE_VMCS_EPT_POINTER);

    nested_set_gpr(VCORE_X86_RAX, 0);
    nested_set_gpr(VCORE_X86_RCX, 0x100000001ull);
    enter_l2(VCORE_NVMX_VMRESUME, true);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + VMFUNC_LEN);
    ck_assert_uint_eq(get12(VCORE_VMCS_EPT_POINTER), EPTP_B);
    uint64_t eptp02_b = nested_peek02(VCORE_VMCS_EPT_POINTER);
    ck_assert_uint_ne(eptp02_b, eptp02_a);
    ck_assert_uint_ne(eptp02_b, EPTP_B);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 1);
    ck_assert_uint_eq(l.reflected, 2);
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, VCORE_VMCS_EPT_POINTER, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], EPTP_B);

    nested_set_gpr(VCORE_X86_RAX, 0);
    nested_set_gpr(VCORE_X86_RCX, 0);
    enter_l2(VCORE_NVMX_VMRESUME, true);
    ck_assert_uint_eq(get12(VCORE_VMCS_EPT_POINTER), EPTP_A);
    ck_assert_uint_ne(nested_peek02(VCORE_VMCS_EPT_POINTER), eptp02_b);
}
END_TEST

/* The VMFUNCs that end in a VM exit to L1 (reason 59, the instruction's
 * length, qualification 0), RIP at the VMFUNC, vmcs12's EPT pointer
 * unchanged. */
typedef struct fail_case {
    uint64_t fn;    /* vmcs12's VM-function controls */
    uint32_t eax;
    uint64_t rcx;
    uint64_t entry; /* EPTP-list entry 1 */
} fail_case_t;
static const fail_case_t fail_cases[] = {
    {1, 1, 1, EPTP_B},                                  /* function 1 not enabled */
    {1, 64, 1, EPTP_B},                                 /* EAX above 63 */
    {1, 0xffffffffu, 1, EPTP_B},                        /* ... */
    {1, 0, 512, EPTP_B},                                /* ECX above 511 */
    {1, 0, 0xffffffffull, EPTP_B},                      /* ... */
    {1, 0, 1, 0x54000u | 3u | (3u << 3)},               /* memory type 3 */
    {1, 0, 1, 0x54000u | 6u | (4u << 3)},               /* walk length 5, not offered */
    {1, 0, 1, 0x54000u | 6u | (3u << 3) | (1u << 7)},   /* bit 7 reserved */
    {1, 0, 1, 0x54000u | 6u | (3u << 3) | (1ull << 40)}, /* beyond MAXPHYADDR */
    {1, 0, 1, 0},                                       /* an empty entry */
};

START_TEST(vmfunc_failures_exit_to_l1)
{
    const fail_case_t *c = &fail_cases[_i];
    vmcs12_vmfunc(true, c->fn);
    put(EPTP_LIST + 8, c->entry, 8);
    put(EPTP_LIST + 4096, EPTP_B, 8); /* where an entry 512 would be */
    run_vmfunc(c->eax, c->rcx);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_VMFUNC);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), VMFUNC_LEN);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_EPT_POINTER), EPTP_A);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 0);
    ck_assert_uint_eq(l.reflected, 1);
}
END_TEST

/* An EPTP list where L1 has no memory reads as all ones: not a valid EPT
 * pointer, exit 59 to L1. */
START_TEST(eptp_list_outside_memory_exits_to_l1)
{
    vmcs12_vmfunc(true, 1);
    set12(VCORE_VMCS_EPTP_LIST_ADDRESS, 0x10000000u);
    run_vmfunc(0, 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_VMFUNC);
    ck_assert_uint_eq(get12(VCORE_VMCS_EPT_POINTER), EPTP_A);
}
END_TEST

/* Without "enable VM functions" in vmcs12 VMFUNC is #UD in L2: injected
 * (vector 6, hardware exception, no error code), RIP at the VMFUNC; with
 * L1's exception bitmap bit 6 a VM exit to L1, reason 0, with the same
 * interruption information. */
START_TEST(vmfunc_without_control_is_ud)
{
    vmcs12_vmfunc(false, 0);
    run_vmfunc(0, 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000306u);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_EPT_POINTER), EPTP_A);
    ck_assert_uint_eq(last().l0_handled, 1);

    vmcs12_vmfunc(false, 0);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 6);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_VMFUNC, VMFUNC_LEN);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000306u);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
}
END_TEST

static Suite *vmfunc_suite(void)
{
    Suite *s = suite_create("nested_vmfunc");
    TCase *tc = tcase_create("eptp_switching");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vmfunc_offered_with_eptp_switching);
    tcase_add_test(tc, vmcs02_enables_vm_functions_without_functions);
    tcase_add_test(tc, eptp_switch_without_exit_to_l1);
    tcase_add_loop_test(tc, vmfunc_failures_exit_to_l1, 0, (int)(sizeof(fail_cases) / sizeof(fail_cases[0])));
    tcase_add_test(tc, eptp_list_outside_memory_exits_to_l1);
    tcase_add_test(tc, vmfunc_without_control_is_ud);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(vmfunc_suite());
}
