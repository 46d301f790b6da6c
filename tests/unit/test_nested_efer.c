/*
 * test_nested_efer.c - L2's IA32_EFER on vmcs02, on the mock.
 *
 * Expected values come from SDM Vol. 3, "Loading Guest Control Registers,
 * Debug Registers, and MSRs" (with VM-entry control 15, "load IA32_EFER",
 * the entry loads vmcs12's guest IA32_EFER; without it only LMA and LME
 * change, from control 9, "IA-32e mode guest", and the other bits stay
 * L1's), "Loading Host State" (without VM-exit control 21 only LMA and LME
 * change, from "host address-space size"), "Saving Guest State" (VM-exit
 * control 20 saves L2's IA32_EFER), and SDM Vol. 2, "RDMSR"/"WRMSR" with
 * Vol. 4, "IA32_EFER" (LMA read-only; LME may not change while paging is
 * on: #GP(0)).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define EFER_SCE 0x001ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull
#define EFER_NXE 0x800ull
#define ENTRY_IA32E (1u << 9)
#define ENTRY_LOAD_EFER (1u << 15)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
#define ENTRY12 (0x000011fbu | ENTRY_IA32E) /* the reference vmcs12's */
#define EXIT12 (0x00036dfbu | (1u << 9))

/* The fixture's L1 with SYSCALL in CPUID 80000001H:EDX (bit 11), so that
 * L1 may set EFER.SCE (SDM Vol. 4, "IA32_EFER"). */
static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
    nested_cpuid_syscall();
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* L1's own EFER (64-bit: LME and LMA stay set). */
static void l1_efer(uint64_t efer)
{
    vcore_x86_sregs_t s = sregs();
    s.efer = efer;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
}

/* VMLAUNCH, the given L2 exits L0 completes (n of them), then L2's CPUID
 * (L1's), L1 halts. */
static void launch_then_cpuid(uint32_t n, uint32_t reason)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    for (uint32_t i = 0; i < n; i++)
        nested_push_l2_q(reason, 0, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

/* L1 lets L2 read and write every MSR (bitmap all clear). */
static void msr_bitmap_clear(void)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
}

/* A 32-bit protected-mode L2 with 32-bit paging: "IA-32e mode guest" 0,
 * CS.L 0, CR4.PAE 0 ("Checks on Guest Control Registers..."). */
static void l2_legacy(void)
{
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 & ~ENTRY_IA32E);
    set12(VCORE_VMCS_GUEST_CR4, 0x2000);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);
}

/* The entry controls and EFER of vmcs02 for each combination of L1's
 * "load IA32_EFER" and "IA-32e mode guest". */
static const struct efer_case {
    uint32_t entry;     /* vmcs12's VM-entry controls */
    uint64_t guest12;   /* vmcs12's guest IA32_EFER */
    uint64_t want02;    /* vmcs02's guest IA32_EFER */
} efer_cases[] = {
    /* Without "load IA32_EFER": L1's SCE and NXE, LMA/LME from control 9. */
    {ENTRY12, 0, EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA},
    {ENTRY12 & ~ENTRY_IA32E, 0, EFER_SCE | EFER_NXE},
    /* With it: vmcs12's value (no SCE, no NXE), whatever L1 has. */
    {ENTRY12 | ENTRY_LOAD_EFER, EFER_LME | EFER_LMA, EFER_LME | EFER_LMA},
    {(ENTRY12 & ~ENTRY_IA32E) | ENTRY_LOAD_EFER, EFER_SCE, EFER_SCE},
};

START_TEST(vmcs02_loads_l2_efer)
{
    const struct efer_case *c = &efer_cases[_i];
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    if (!(c->entry & ENTRY_IA32E))
        l2_legacy();
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, c->entry);
    set12(VCORE_VMCS_GUEST_IA32_EFER, c->guest12);
    launch_then_cpuid(0, 0);
    /* Rule X(4, 15, ONE): vmcs02 always loads IA32_EFER; control 9 is L1's. */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_CONTROLS) & (ENTRY_LOAD_EFER | ENTRY_IA32E),
                      ENTRY_LOAD_EFER | (c->entry & ENTRY_IA32E));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), c->want02);
    /* L1's EFER is back after the exit: 64-bit host, no "load IA32_EFER"
     * at exit, so LMA and LME set and the other bits L2's. */
    ck_assert_uint_eq(sregs().efer, (c->want02 & ~(EFER_LMA | EFER_LME)) | EFER_LMA | EFER_LME);
}
END_TEST

/* L1 changes its own EFER between two entries of the same vmcs12 (no
 * vmcs12 field changes): L2's follows ("other bits unchanged" is L1's value
 * at the VM entry, not at the first one). */
START_TEST(l1_efer_change_reaches_vmcs02)
{
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    launch_then_cpuid(0, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    l1_efer(EFER_NXE | EFER_LME | EFER_LMA);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), EFER_NXE | EFER_LME | EFER_LMA);
    /* Unchanged at a third entry: not written again. */
    uint64_t r0 = 0, w0 = 0, r1 = 0, w1 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_IA32_EFER, &r0, &w0), VCORE_OK);
    r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_IA32_EFER, &r1, &w1), VCORE_OK);
    ck_assert_uint_eq(w1, w0);
}
END_TEST

/* L2's RDMSR of IA32_EFER that L1 does not intercept: L2's value (L1's
 * SCE/NXE, not L0's), answered from vmcs02 without the VMM. */
START_TEST(l2_rdmsr_efer_sees_l2_value)
{
    msr_bitmap_clear();
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_EFER);
    nested_set_gpr(VCORE_X86_RAX, ~0ull);
    nested_set_gpr(VCORE_X86_RDX, ~0ull);
    launch_then_cpuid(1, VCORE_VMX_EXIT_RDMSR);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    ck_assert_uint_eq(last().l0_handled, 1);
}
END_TEST

/* L2's WRMSR of IA32_EFER clearing SCE: vmcs02's value changes (LMA kept
 * though the write clears it); at the exit to L1 without "load IA32_EFER"
 * L1 keeps L2's SCE ("Loading Host State"), and with "save IA32_EFER"
 * vmcs12 holds L2's value ("Saving Guest State"). */
START_TEST(l2_wrmsr_efer_reaches_l1_as_the_sdm_says)
{
    msr_bitmap_clear();
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_SAVE_EFER);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_EFER);
    nested_set_gpr(VCORE_X86_RAX, EFER_NXE | EFER_LME);
    nested_set_gpr(VCORE_X86_RDX, 0);
    launch_then_cpuid(1, VCORE_VMX_EXIT_WRMSR);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), EFER_NXE | EFER_LME | EFER_LMA);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_EFER), EFER_NXE | EFER_LME | EFER_LMA);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    ck_assert_uint_eq(sregs().efer, EFER_NXE | EFER_LME | EFER_LMA);
}
END_TEST

/* "Saving MSRs": the VM-exit MSR-store list stores the value IA32_EFER has
 * at the exit, which is L2's after L2's own WRMSR (SCE cleared), not L1's,
 * and not vmcs12's guest field (L1 loads no EFER and saves none). */
START_TEST(exit_msr_store_list_stores_l2_efer)
{
    msr_bitmap_clear();
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_EFER, 8);
    put(MSRLIST + 8, 0x5a5a, 8);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_EFER);
    nested_set_gpr(VCORE_X86_RAX, EFER_NXE | EFER_LME);
    nested_set_gpr(VCORE_X86_RDX, 0);
    launch_then_cpuid(1, VCORE_VMX_EXIT_WRMSR);
    uint64_t stored = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, MSRLIST + 8, &stored, 8), VCORE_OK);
    ck_assert_uint_eq(stored, EFER_NXE | EFER_LME | EFER_LMA);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_EFER), 0);
}
END_TEST

/* With "load IA32_EFER" at exit, L1 gets vmcs12's host value instead. */
START_TEST(exit_load_efer_gives_host_value)
{
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | ENTRY_LOAD_EFER);
    set12(VCORE_VMCS_GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_LOAD_EFER);
    set12(VCORE_VMCS_HOST_IA32_EFER, EFER_NXE | EFER_LME | EFER_LMA);
    launch_then_cpuid(0, 0);
    ck_assert_uint_eq(sregs().efer, EFER_NXE | EFER_LME | EFER_LMA);
}
END_TEST

/* WRMSR changing LME while L2's paging is on, or setting a reserved bit:
 * #GP(0) for L2, vmcs02's EFER unchanged. */
START_TEST(l2_wrmsr_efer_refused_is_gp)
{
    static const uint64_t bad[2] = {EFER_SCE | EFER_NXE, EFER_SCE | EFER_NXE | EFER_LME | (1ull << 1)};
    msr_bitmap_clear();
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_EFER);
    nested_set_gpr(VCORE_X86_RAX, bad[_i]);
    nested_set_gpr(VCORE_X86_RDX, 0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_WRMSR, 0, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
}
END_TEST

/* The same refused WRMSR with L1 intercepting #GP (exception bitmap bit
 * 13): a VM exit to L1, exception #GP(0) ("Exit Qualification ... for
 * Exceptions"; "VM-Exit Interruption-Information Field": valid, hardware
 * exception, error code valid, vector 13); L1 runs on and halts. */
START_TEST(l2_wrmsr_efer_refused_with_l1_gp_intercept_exits_to_l1)
{
    msr_bitmap_clear();
    l1_efer(EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_EFER);
    nested_set_gpr(VCORE_X86_RAX, EFER_SCE | EFER_NXE); /* LME cleared with paging on */
    nested_set_gpr(VCORE_X86_RDX, 0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_WRMSR, 0, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* The VMM between two runs of L2 (after an exit L0 handed to it): the
 * vCPU's IA32_EFER (vcore_vcpu_get_msr) is L2's - vmcs12's guest value with
 * "load IA32_EFER" (bit 0 of the case), else L1's with LMA and LME from
 * "IA-32e mode guest" - while the system-register block stays L1's. A
 * write changes the EFER L2 runs with, refused where L2's WRMSR would be
 * #GP(0) (LME changed with paging on, a reserved bit). At the next exit L1
 * sees it as L2's: "save IA32_EFER" (bit 1) stores it in vmcs12, else
 * vmcs12 keeps what L1 wrote; without "load IA32_EFER" at exit (bit 2) L1
 * goes on with it (LMA and LME from "host address-space size", 1 here),
 * else gets vmcs12's host value. */
START_TEST(vmm_reads_and_writes_l2_efer)
{
    static const struct {
        uint64_t value;
        uint32_t check;
    } bad[2] = {{EFER_SCE | EFER_NXE, VCORE_VMX_CHECK_MSR_LOAD_EFER_LME},
                {EFER_SCE | EFER_NXE | EFER_LME | (1ull << 1), VCORE_VMX_CHECK_MSR_LOAD_EFER_RESERVED}};
    const uint64_t l1 = EFER_NXE | EFER_LME | EFER_LMA, guest12 = EFER_SCE | EFER_LME | EFER_LMA;
    const uint64_t vmm = EFER_SCE | EFER_NXE | EFER_LME | EFER_LMA, host12 = EFER_LME | EFER_LMA;
    bool entry_load = (_i & 1) != 0, save = (_i & 2) != 0, exit_load = (_i & 4) != 0;
    l1_efer(l1);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, ENTRY12 | (entry_load ? ENTRY_LOAD_EFER : 0u));
    set12(VCORE_VMCS_GUEST_IA32_EFER, guest12);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | (save ? EXIT_SAVE_EFER : 0u) | (exit_load ? EXIT_LOAD_EFER : 0u));
    set12(VCORE_VMCS_HOST_IA32_EFER, host12);
    nested_launch_to_vmm();
    uint64_t efer = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_EFER, &efer), VCORE_OK);
    ck_assert_uint_eq(efer, entry_load ? guest12 : l1);
    ck_assert_uint_eq(sregs().efer, l1);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_EFER, bad[i].value), VCORE_ERR_INVAL);
        vcore_diag_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
        ck_assert_uint_eq(d.id, bad[i].check);
    }
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_EFER, &efer), VCORE_OK);
    ck_assert_uint_eq(efer, entry_load ? guest12 : l1);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_EFER, vmm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_EFER, &efer), VCORE_OK);
    ck_assert_uint_eq(efer, vmm);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), vmm);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_EFER), save ? vmm : guest12);
    ck_assert_uint_eq(sregs().efer, exit_load ? host12 : vmm);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_EFER, &efer), VCORE_OK);
    ck_assert_uint_eq(efer, exit_load ? host12 : vmm);
}
END_TEST

/* A processor without "load IA32_EFER": vmcs02 cannot give L2 L1's EFER,
 * so the entry is refused by name (control word 4, bit 15), not run on
 * L0's EFER. */
START_TEST(processor_without_load_efer_refuses_entry)
{
    nested_assert_entry_control_required(15);
}
END_TEST

/* The merge rule itself: vmcs02's bit 15 is 1 whatever L1 and L0 say. */
START_TEST(merge_forces_load_efer)
{
    uint32_t l1[5] = {0, 0, 0, 0, 0}, l0[5] = {0, 0, 0, 0, 0}, out[5];
    vcore_nvmx_merge_controls(l1, l0, out);
    ck_assert_uint_eq(out[4] & ENTRY_LOAD_EFER, ENTRY_LOAD_EFER);
}
END_TEST

static Suite *efer_suite(void)
{
    Suite *s = suite_create("nested_efer");
    TCase *t = tcase_create("efer");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_loop_test(t, vmcs02_loads_l2_efer, 0, (int)(sizeof(efer_cases) / sizeof(efer_cases[0])));
    tcase_add_test(t, l1_efer_change_reaches_vmcs02);
    tcase_add_test(t, l2_rdmsr_efer_sees_l2_value);
    tcase_add_test(t, l2_wrmsr_efer_reaches_l1_as_the_sdm_says);
    tcase_add_test(t, exit_msr_store_list_stores_l2_efer);
    tcase_add_test(t, exit_load_efer_gives_host_value);
    tcase_add_loop_test(t, l2_wrmsr_efer_refused_is_gp, 0, 2);
    tcase_add_test(t, l2_wrmsr_efer_refused_with_l1_gp_intercept_exits_to_l1);
    tcase_add_loop_test(t, vmm_reads_and_writes_l2_efer, 0, 8);
    tcase_add_test(t, processor_without_load_efer_refuses_entry);
    tcase_add_test(t, merge_forces_load_efer);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(efer_suite());
}
