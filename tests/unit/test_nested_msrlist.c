/*
 * test_nested_msrlist.c - entries of L1's VMX MSR lists naming an MSR the
 * VMM models (not in the vCPU model: MTRRs, any MSR the library does not
 * know), answered by the VMM through RDMSR/WRMSR exits flagged
 * VCORE_EXIT_F_MSR_LIST, on the mock.
 *
 * Expected values come from SDM Vol. 3: "Loading MSRs" (VM entry: entries
 * in order after the guest state, each as WRMSR at CPL 0), "VM-Entry
 * Failures During or After Loading Guest State" (an entry that cannot be
 * loaded: exit reason 34 with bit 31 set = 80000022H, its 1-based index as
 * the qualification, the entries before it loaded, L1's host state), "Saving
 * MSRs" (VM exit: each entry's MSR as RDMSR reads it into bytes 15:8 of the
 * entry, before the host state), "Loading MSRs" of "VM Exits" (after L1's
 * host state), "VMX Aborts" (an MSR that cannot be saved: indicator 1,
 * loaded: indicator 4, at byte 4 of the VMCS region; the processor shuts
 * down); SDM Vol. 2, "WRMSR" (#GP(0) for an MSR that does not exist). The
 * list entries are no instructions: neither L1's nor L2's RIP moves.
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define STAR VCORE_MSR_IA32_STAR
#define LSTAR VCORE_MSR_IA32_LSTAR
#define CSTAR VCORE_MSR_IA32_CSTAR
#define MTRR_DEF_TYPE 0x2ffu   /* IA32_MTRR_DEF_TYPE: not in the vCPU model */
#define MTRR_FIX64K 0x250u     /* IA32_MTRR_FIX64K_00000 */
#define EXITLIST (MSRLIST + 0x4000u)
#define STORELIST (MSRLIST + 0x8000u)
#define L1_STAR 0x0023001000000000ull
#define L1_LSTAR 0xffffffff81000000ull
#define L1_CSTAR 0xffffffff81000100ull
#define L2_RIP12 0x7000u /* vmcs12's guest RIP in these tests */

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, STAR, L1_STAR), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, LSTAR, L1_LSTAR), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, CSTAR, L1_CSTAR), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_RIP12);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static uint64_t msr(uint32_t index)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, index, &v), VCORE_OK);
    return v;
}

static uint64_t mem64(uint64_t gpa)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, gpa, &v, 8), VCORE_OK);
    return v;
}

static void entry(uint64_t gpa, uint32_t i, uint64_t lo, uint64_t data)
{
    put(gpa + 16u * i, lo, 8);
    put(gpa + 16u * i + 8u, data, 8);
}

static void entry_list(uint32_t n)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, n);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
}

static void exit_store_list(uint32_t n)
{
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, n);
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR, STORELIST);
}

static void exit_load_list(uint32_t n)
{
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, n);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, EXITLIST);
}

/* The exit asks the VMM about a list entry: RDMSR or WRMSR (write) of
 * index, value (WRMSR), list why, a reply due. */
static void assert_asked(const vcore_exit_t *e, bool write, uint32_t why, uint32_t index, uint64_t value)
{
    ck_assert_uint_eq(e->reason, write ? VCORE_EXIT_WRMSR : VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(e->flags, VCORE_EXIT_F_NEEDS_REPLY | VCORE_EXIT_F_MSR_LIST);
    ck_assert_uint_eq(e->u.msr.why, why);
    ck_assert_uint_eq(e->u.msr.index, index);
    if (write)
        ck_assert_uint_eq(e->u.msr.value, value);
}

/* The reply to such an exit: error, or value (RDMSR). */
static vcore_exit_t reply(vcore_exit_t e, uint8_t error, uint64_t value)
{
    e.u.msr.error = error;
    if (e.reason == VCORE_EXIT_RDMSR)
        e.u.msr.value = value;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    return e;
}

static void assert_abort(uint32_t indicator)
{
    uint32_t ind = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, VMCS_GPA + 4, &ind, 4), VCORE_OK);
    ck_assert_uint_eq(ind, indicator);
    ck_assert_uint_eq(last().vmx_aborts, 1);
}

/* VM-entry MSR-load list with two MSRs the VMM models among the model's:
 * one WRMSR exit per such entry, in list order, with its data; the
 * model's entries before each are loaded when it is asked, those after it
 * are not yet; L1 is still at its VMLAUNCH, L2 not entered. Then L2 runs
 * at vmcs12's guest RIP and its exit reaches L1 at HOST_RIP. */
START_TEST(entry_list_vmm_msrs_in_order)
{
    entry_list(4);
    entry(MSRLIST, 0, STAR, 0x0033002000000000ull);
    entry(MSRLIST, 1, MTRR_DEF_TYPE, 0xc06);
    entry(MSRLIST, 2, LSTAR, 0xffffffff82000000ull);
    entry(MSRLIST, 3, MTRR_FIX64K, 0x0606060606060606ull);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t e = run();
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMENTRY_LOAD, MTRR_DEF_TYPE, 0xc06);
    ck_assert_uint_eq(msr(STAR), 0x0033002000000000ull);
    ck_assert_uint_eq(msr(LSTAR), L1_LSTAR);
    ck_assert_uint_eq(regs().rip, L1_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    e = reply(e, 0, 0);
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMENTRY_LOAD, MTRR_FIX64K, 0x0606060606060606ull);
    ck_assert_uint_eq(msr(LSTAR), 0xffffffff82000000ull);
    /* The VMM changes an MSR L1 and L2 share while it answers: L2 runs with it. */
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, CSTAR, 0xffffffff87000000ull), VCORE_OK);
    ck_assert_uint_eq(regs().rip, L1_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    e = reply(e, 0, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    /* L2 began at vmcs12's guest RIP; the CPUID exit saved it there. */
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP12);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 1);
    ck_assert_uint_eq(vcore_mock_pending(vcpu), 0);
    ck_assert_uint_eq(msr(CSTAR), 0xffffffff87000000ull);
    ck_assert_uint_eq(msr(LSTAR), 0xffffffff82000000ull);
}
END_TEST

/* The VMM refuses the entry at position k (1-based) - WRMSR's #GP, an MSR
 * it does not have (an index nobody defines among them): the VM entry
 * fails with exit 80000022H, qualification k, the entries before it
 * loaded, those after not, at HOST_RIP, launch state clear. */
static const struct {
    uint32_t index;
    uint32_t k;
} refused[] = {
    {MTRR_DEF_TYPE, 1},
    {MTRR_DEF_TYPE, 2},
    {0x12345678u, 3},
};

START_TEST(entry_list_vmm_refusal_is_exit_34)
{
    uint32_t k = refused[_i].k;
    /* STAR and LSTAR, in that order, at the positions other than k. */
    uint32_t pos_star = k == 1 ? 2u : 1u, pos_lstar = k == 3 ? 2u : 3u;
    entry_list(3);
    entry(MSRLIST, k - 1u, refused[_i].index, 1);
    entry(MSRLIST, pos_star - 1u, STAR, 0x0033002000000000ull);
    entry(MSRLIST, pos_lstar - 1u, LSTAR, 0xffffffff82000000ull);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t e = run();
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMENTRY_LOAD, refused[_i].index, 1);
    push_hlt();
    e = reply(e, 1, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), k);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_MSR_LOAD_REFUSED);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    /* Loaded exactly when before entry k. */
    ck_assert_uint_eq(msr(STAR), pos_star < k ? 0x0033002000000000ull : L1_STAR);
    ck_assert_uint_eq(msr(LSTAR), pos_lstar < k ? 0xffffffff82000000ull : L1_LSTAR);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 0);
}
END_TEST

/* A VMX capability MSR (IA32_VMX_VMFUNC, the last, read-only: WRMSR's #GP(0), "VMX
 * Capability Reporting Facility") in the VM-entry list fails the entry
 * without asking the VMM. */
START_TEST(entry_list_vmx_capability_msr_fails)
{
    entry_list(2);
    entry(MSRLIST, 0, STAR, 0x0033002000000000ull);
    entry(MSRLIST, 1, VCORE_MSR_IA32_VMX_VMFUNC, 0);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_MSR_LOAD_REFUSED);
    ck_assert_uint_eq(msr(STAR), 0x0033002000000000ull);
}
END_TEST

/* VM-exit MSR-store list: an MSR the VMM models is its RDMSR; the reply's
 * value lands in bytes 15:8 of that entry, the model's entries before and
 * after it hold their MSRs, a VMX capability MSR reads as L1's RDMSR does;
 * then L1's host state (HOST_RIP). */
START_TEST(exit_store_list_vmm_msr)
{
    exit_store_list(4);
    entry(STORELIST, 0, LSTAR, 0);
    entry(STORELIST, 1, MTRR_DEF_TYPE, 0);
    entry(STORELIST, 2, CSTAR, 0);
    entry(STORELIST, 3, VCORE_MSR_IA32_VMX_BASIC, 0);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    vcore_exit_t e = run();
    assert_asked(&e, false, VCORE_EXIT_MSR_LIST_VMEXIT_STORE, MTRR_DEF_TYPE, 0);
    ck_assert_uint_eq(mem64(STORELIST + 8), L1_LSTAR);
    ck_assert_uint_eq(mem64(STORELIST + 16 + 8), 0);
    push_hlt();
    e = reply(e, 0, 0xc06);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(mem64(STORELIST + 16 + 8), 0xc06);
    ck_assert_uint_eq(mem64(STORELIST + 16), MTRR_DEF_TYPE); /* the index quadword untouched */
    ck_assert_uint_eq(mem64(STORELIST + 32 + 8), L1_CSTAR);
    uint64_t basic = 0;
    ck_assert_int_eq(vcore_nvmx_rdmsr(nv, VCORE_MSR_IA32_VMX_BASIC, &basic, NULL), VCORE_OK);
    ck_assert_uint_ne(basic, 0);
    ck_assert_uint_eq(mem64(STORELIST + 48 + 8), basic);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(last().vmx_aborts, 0);
}
END_TEST

/* ... a reply error: the MSR cannot be saved, VMX abort indicator 1. */
START_TEST(exit_store_list_vmm_error_is_abort_1)
{
    exit_store_list(1);
    entry(STORELIST, 0, MTRR_DEF_TYPE, 0);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    vcore_exit_t e = run();
    assert_asked(&e, false, VCORE_EXIT_MSR_LIST_VMEXIT_STORE, MTRR_DEF_TYPE, 0);
    e = reply(e, 1, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_SHUTDOWN);
    assert_abort(1);
}
END_TEST

/* VM-exit MSR-load list: the VMM's WRMSR comes after L1's host state is
 * loaded (L1 at HOST_RIP, the entry before it loaded), with the entry's
 * data; L1 runs on after the reply, the entry after it loaded. */
START_TEST(exit_load_list_vmm_msr)
{
    exit_load_list(3);
    entry(EXITLIST, 0, CSTAR, 0xffffffff85000000ull);
    entry(EXITLIST, 1, MTRR_DEF_TYPE, 0x806);
    entry(EXITLIST, 2, LSTAR, 0xffffffff86000000ull);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    vcore_exit_t e = run();
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMEXIT_LOAD, MTRR_DEF_TYPE, 0x806);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RSP], HOST_RSP);
    ck_assert_uint_eq(msr(CSTAR), 0xffffffff85000000ull);
    ck_assert_uint_eq(msr(LSTAR), L1_LSTAR);
    push_hlt();
    e = reply(e, 0, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(msr(LSTAR), 0xffffffff86000000ull);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(last().vmx_aborts, 0);
}
END_TEST

/* ... a reply error: the MSR cannot be loaded, VMX abort indicator 4. */
START_TEST(exit_load_list_vmm_error_is_abort_4)
{
    exit_load_list(1);
    entry(EXITLIST, 0, MTRR_DEF_TYPE, 0x806);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    vcore_exit_t e = run();
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMEXIT_LOAD, MTRR_DEF_TYPE, 0x806);
    e = reply(e, 1, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_SHUTDOWN);
    assert_abort(4);
}
END_TEST

/* A failed VM entry (an entry of the VM-entry list the VMM refuses) stores
 * no MSRs but loads the VM-exit MSR-load list, whose VMM entry is asked in
 * turn: two questions, then L1 at HOST_RIP. */
START_TEST(failed_entry_then_exit_load_list)
{
    entry_list(1);
    entry(MSRLIST, 0, MTRR_DEF_TYPE, 0xc06);
    exit_store_list(1);
    entry(STORELIST, 0, MTRR_DEF_TYPE, 0);
    exit_load_list(1);
    entry(EXITLIST, 0, MTRR_FIX64K, 0x0505050505050505ull);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t e = run();
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMENTRY_LOAD, MTRR_DEF_TYPE, 0xc06);
    e = reply(e, 1, 0);
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMEXIT_LOAD, MTRR_FIX64K, 0x0505050505050505ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    push_hlt();
    e = reply(e, 0, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* While an entry waits: the nested-state export is refused by name (the
 * list and the entry), the reply contract holds (another exit's reason is
 * refused), an INIT is latched (VMX root operation); after the reply the
 * entry completes and the export works. */
START_TEST(export_mid_list_refused)
{
    entry_list(2);
    entry(MSRLIST, 0, STAR, 0x0033002000000000ull);
    entry(MSRLIST, 1, MTRR_DEF_TYPE, 0xc06);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t e = run();
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMENTRY_LOAD, MTRR_DEF_TYPE, 0xc06);
    static uint8_t blob[3 * 4096 + 256];
    uint32_t len = 0;
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &len), VCORE_ERR_STATE);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_MSR_LIST_PENDING);
    ck_assert_uint_eq(d.value, ((uint64_t)VCORE_EXIT_MSR_LIST_VMENTRY_LOAD << 32) | 1u);
    vcore_exit_t other = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &other), VCORE_ERR_STATE);
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_INIT_LATCHED);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    e = reply(e, 0, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &len), VCORE_OK);
}
END_TEST

/* A nested-state import while an entry waits (the blob taken before
 * VMLAUNCH: L1 in VMX root operation with the vmcs12): the VM entry is
 * dropped with the state it belonged to - no reply is due, the next run
 * runs L1 where the import's registers put it, L2 never entered. */
START_TEST(import_mid_list_drops_the_wait)
{
    entry_list(1);
    entry(MSRLIST, 0, MTRR_DEF_TYPE, 0xc06);
    load_vmcs12_rflags(0x2);
    static uint8_t blob[VCORE_KVM_NESTED_MAX_SIZE];
    uint32_t len = 0;
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &len), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t e = run();
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMENTRY_LOAD, MTRR_DEF_TYPE, 0xc06);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    ck_assert_uint_eq(vcore_mock_pending(vcpu), 0);
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &len), VCORE_OK);
}
END_TEST

/* RESET while an entry waits (an entry list's, then an exit list's): VMX
 * operation and L2 are gone, vmcs02 freed, no reply is due (a run with a
 * fresh exit runs the vCPU), nothing of the list is asked again. */
START_TEST(reset_mid_list_clean)
{
    for (uint32_t pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            entry_list(1);
            entry(MSRLIST, 0, MTRR_DEF_TYPE, 0xc06);
        } else {
            ref_vmcs12();
            exit_load_list(1);
            entry(EXITLIST, 0, MTRR_DEF_TYPE, 0x806);
        }
        load_vmcs12_rflags(0x2);
        push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        if (pass == 1)
            push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        vcore_exit_t e = run();
        assert_asked(&e, true, pass == 0 ? VCORE_EXIT_MSR_LIST_VMENTRY_LOAD : VCORE_EXIT_MSR_LIST_VMEXIT_LOAD,
                     MTRR_DEF_TYPE, pass == 0 ? 0xc06 : 0x806);
        uint64_t frees = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_FREE);
        ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
        ck_assert_uint_gt(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_FREE), frees); /* vmcs02 among them */
        ck_assert(!last().in_l2);
        vcore_nvmx_info_t info = {.size = sizeof(info)};
        ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
        ck_assert(!info.vmx_operation);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(vcore_mock_pending(vcpu), 0);
        l1_long_mode();
    }
}
END_TEST

/* The VMM's answer to L2's RDMSR is an error: #GP(0) in L2, which L1's
 * exception bitmap takes (exit reason 0, vector 13); that exit's MSR-load
 * list asks the VMM in turn before L1 runs. */
START_TEST(reflected_gp_then_exit_load_list)
{
    exit_load_list(1);
    entry(EXITLIST, 0, MTRR_DEF_TYPE, 0x806);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    nested_set_gpr(VCORE_X86_RCX, MTRR_FIX64K);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_RDMSR, 0, 2);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(e.flags & (VCORE_EXIT_F_L2 | VCORE_EXIT_F_MSR_LIST), VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.msr.index, MTRR_FIX64K);
    e.u.msr.error = 1;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    assert_asked(&e, true, VCORE_EXIT_MSR_LIST_VMEXIT_LOAD, MTRR_DEF_TYPE, 0x806);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO) & 0x800007ffu, 0x80000300u | 13u);
    push_hlt();
    e = reply(e, 0, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

static Suite *msrlist_suite(void)
{
    Suite *s = suite_create("nested_msrlist");
    TCase *tc = tcase_create("vmm_entries");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, entry_list_vmm_msrs_in_order);
    tcase_add_loop_test(tc, entry_list_vmm_refusal_is_exit_34, 0, (int)(sizeof(refused) / sizeof(refused[0])));
    tcase_add_test(tc, entry_list_vmx_capability_msr_fails);
    tcase_add_test(tc, exit_store_list_vmm_msr);
    tcase_add_test(tc, exit_store_list_vmm_error_is_abort_1);
    tcase_add_test(tc, exit_load_list_vmm_msr);
    tcase_add_test(tc, exit_load_list_vmm_error_is_abort_4);
    tcase_add_test(tc, failed_entry_then_exit_load_list);
    tcase_add_test(tc, export_mid_list_refused);
    tcase_add_test(tc, reset_mid_list_clean);
    tcase_add_test(tc, import_mid_list_drops_the_wait);
    tcase_add_test(tc, reflected_gp_then_exit_load_list);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(msrlist_suite());
}
