/*
 * test_nested_msrload.c - the VM-entry MSR-load list of L1's VMLAUNCH /
 * VMRESUME on the mock: the entries become L2's MSRs in order, the first
 * that cannot be loaded fails the entry as a VM exit to L1, and what the
 * VMM models is asked for (test_nested_msrlist.c).
 *
 * Expected values come from SDM Vol. 3: "Loading MSRs" (the reasons an
 * entry fails, in order), "VM-Entry Failures During or After Loading Guest
 * State" (exit reason 34 with bit 31 set = 80000022H, the 1-based index of
 * the entry as the exit qualification, the entries before it loaded, L1's
 * host state and VM-exit MSR-load list, launch state unchanged),
 * "Miscellaneous Data" (IA32_VMX_MISC[27:25]: 512 * (N + 1) entries), "VMX
 * Aborts" (reads of nonexistent memory return all ones); SDM Vol. 2,
 * "WRMSR" (#GP(0) for a non-canonical address MSR, an MSR that does not
 * exist); SDM Vol. 3, "x2APIC State Transitions" (x2APIC to xAPIC mode
 * directly is #GP).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define KGS VCORE_MSR_IA32_KERNEL_GS_BASE
#define STAR VCORE_MSR_IA32_STAR
#define LSTAR VCORE_MSR_IA32_LSTAR
#define CSTAR VCORE_MSR_IA32_CSTAR
#define EXITLIST (MSRLIST + 0x4000u)
#define EFER VCORE_MSR_IA32_EFER
#define EFER_SCE 0x001ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull
#define EFER_NXE 0x800ull
#define L1_EFER (EFER_NXE | EFER_LME | EFER_LMA) /* the fixture's 64-bit L1 */
#define EXIT12 (0x00036dfbu | (1u << 9))         /* the reference vmcs12's: 64-bit host */
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
/* L1's own values of the shared MSRs before any entry. */
#define L1_STAR 0x0023001000000000ull
#define L1_LSTAR 0xffffffff81000000ull
#define L1_CSTAR 0xffffffff81000100ull
#define L1_KGS 0xffff888000001000ull

static void setup(void)
{
    /* Every entry also runs all the VM-entry checks. */
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, STAR, L1_STAR), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, LSTAR, L1_LSTAR), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, CSTAR, L1_CSTAR), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, KGS, L1_KGS), VCORE_OK);
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

/* Entry i (0-based) of the list at gpa: first quadword, data. */
static void entry(uint64_t gpa, uint32_t i, uint64_t lo, uint64_t data)
{
    put(gpa + 16u * i, lo, 8);
    put(gpa + 16u * i + 8u, data, 8);
}

/* vmcs12's VM-entry MSR-load list: n entries at MSRLIST. */
static void entry_list(uint32_t n)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, n);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
}

static void launch_then_l1_cpuid(uint32_t op)
{
    push_insn(op, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}

/* The failed entry as L1 sees it: exit reason 80000022H, qualification i,
 * at HOST_RIP, launch state unchanged (clear), the processor never entered. */
static void assert_failed_entry(uint32_t i, uint32_t check)
{
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), i);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, HOST_RIP);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSP], HOST_RSP);
    ck_assert_uint_eq(r.rflags, 0x2);
    ck_assert_uint_eq(sregs().seg[VCORE_X86_FS].base, 0x7000);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 0);
    vcore_nvmx_last_t l = last();
    ck_assert(!l.in_l2);
    ck_assert_uint_eq(l.check, check);
    ck_assert_uint_eq(l.exit_reason, 0x80000022u);
}

/* One entry: IA32_KERNEL_GS_BASE is L2's while it runs (the VMM answering
 * L2's RDMSR reads it from the vCPU) and stays after the exit to L1, which
 * has no VM-exit MSR-load list to put its own back. */
START_TEST(one_entry_is_l2s_value)
{
    entry_list(1);
    entry(MSRLIST, 0, KGS, 0xffff800012345000ull);
    /* L1's MSR bitmap leaves every MSR to L0. */
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    load_vmcs12_rflags(0x2);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RCX] = KGS;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {0, 2};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_RDMSR, 0, 2, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.msr.index, KGS);
    ck_assert_uint_eq(msr(KGS), 0xffff800012345000ull);
    e.u.msr.value = msr(KGS);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t after = regs();
    ck_assert_uint_eq(after.rip, HOST_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(msr(KGS), 0xffff800012345000ull);
    ck_assert_uint_eq(msr(STAR), L1_STAR);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 1);
}
END_TEST

/* Three entries, in order (the same MSR twice: the later one wins), one of
 * them IA32_SYSENTER_ESP, which is vmcs02's guest state for L2. */
START_TEST(three_entries_in_order)
{
    entry_list(3);
    entry(MSRLIST, 0, LSTAR, 0xffffffff82000000ull);
    entry(MSRLIST, 1, VCORE_MSR_IA32_SYSENTER_ESP, 0xffff800000008000ull);
    entry(MSRLIST, 2, LSTAR, 0xffffffff83000000ull);
    set12(VCORE_VMCS_GUEST_SYSENTER_ESP, 0x1000);
    load_vmcs12_rflags(0x2);
    launch_then_l1_cpuid(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(msr(LSTAR), 0xffffffff83000000ull);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_SYSENTER_ESP), 0xffff800000008000ull);
    ck_assert_uint_eq(msr(CSTAR), L1_CSTAR);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
}
END_TEST

/* Each reason of "Loading MSRs" for the third entry: exit 34 with
 * qualification 3, the first two entries loaded, the fourth not; then L1's
 * host state and its VM-exit MSR-load list (which sets CSTAR). */
static const struct {
    uint64_t lo, data;
    uint32_t check;
} bad[] = {
    {0xc0000100u, 0, VCORE_VMX_CHECK_MSR_LOAD_FS_GS_BASE},        /* IA32_FS_BASE */
    {0xc0000101u, 0, VCORE_VMX_CHECK_MSR_LOAD_FS_GS_BASE},        /* IA32_GS_BASE */
    {0x800u, 0, VCORE_VMX_CHECK_MSR_LOAD_X2APIC},                 /* first x2APIC MSR */
    {0x808u, 0, VCORE_VMX_CHECK_MSR_LOAD_X2APIC},                 /* x2APIC TPR */
    {0x8ffu, 0, VCORE_VMX_CHECK_MSR_LOAD_X2APIC},                 /* last of the range */
    {0x9eu, 0, VCORE_VMX_CHECK_MSR_LOAD_SMM},                     /* IA32_SMBASE */
    {0x9bu, 0, VCORE_VMX_CHECK_MSR_LOAD_SMM},                     /* IA32_SMM_MONITOR_CTL */
    {(1ull << 32) | KGS, 0, VCORE_VMX_CHECK_MSR_LOAD_RESERVED},   /* bits 63:32 of the index quadword */
    {(1ull << 63) | STAR, 0, VCORE_VMX_CHECK_MSR_LOAD_RESERVED},  /* bit 63 alone */
    {KGS, 0x0000800000000000ull, VCORE_VMX_CHECK_MSR_LOAD_NONCANONICAL}, /* WRMSR: #GP */
    {VCORE_MSR_IA32_FMASK, 1ull << 32, VCORE_VMX_CHECK_MSR_LOAD_HIGH_BITS}, /* WRMSR: #GP */
    {VCORE_MSR_IA32_TSC_AUX, 1, VCORE_VMX_CHECK_MSR_LOAD_UNKNOWN}, /* no RDTSCP/RDPID in CPUID: #GP */
    /* An MSR the checks do not know is the VMM's to refuse (test_nested_msrlist.c). */
};

START_TEST(failing_entry_is_exit_34)
{
    entry_list(4);
    entry(MSRLIST, 0, STAR, 0x0033002000000000ull);
    entry(MSRLIST, 1, VCORE_MSR_IA32_SYSENTER_EIP, 0xffff800000009000ull);
    entry(MSRLIST, 2, bad[_i].lo, bad[_i].data);
    entry(MSRLIST, 3, LSTAR, 0xffffffff84000000ull);
    /* L1's VM-exit MSR-load list: processed after its host state. */
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, EXITLIST);
    entry(EXITLIST, 0, CSTAR, 0xffffffff85000000ull);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(3, bad[_i].check);
    ck_assert_uint_eq(msr(STAR), 0x0033002000000000ull); /* entry 1 stayed loaded */
    ck_assert_uint_eq(msr(LSTAR), L1_LSTAR);             /* entry 4 never loaded */
    ck_assert_uint_eq(msr(CSTAR), 0xffffffff85000000ull);
    ck_assert_uint_eq(msr(KGS), L1_KGS);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    /* A failed entry saves no guest state: vmcs12 keeps L1's SYSENTER_EIP. */
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_SYSENTER_EIP), 0);
}
END_TEST

/* The first entry fails: nothing of the list is loaded. */
START_TEST(first_entry_fails)
{
    entry_list(2);
    entry(MSRLIST, 0, 0x808u, 0);
    entry(MSRLIST, 1, STAR, 0x0033002000000000ull);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(1, VCORE_VMX_CHECK_MSR_LOAD_X2APIC);
    ck_assert_uint_eq(msr(STAR), L1_STAR);
}
END_TEST

/* IA32_VMX_MISC[27:25] = N: 512 * (N + 1) entries load, the next one fails
 * the entry (beyond the recommended maximum, the library's choice). */
START_TEST(count_above_misc_limit)
{
    const vcore_nvmx_caps_t *c = vcore_nvmx_caps(nv);
    uint32_t limit = 512u * ((uint32_t)((c->msr[VCORE_NVMX_CAP_MISC] >> 25) & 7u) + 1u);
    ck_assert_uint_le(16u * (limit + 1u), RAM - MSRLIST);
    for (uint32_t i = 0; i <= limit; i++)
        entry(MSRLIST, i, STAR, (uint64_t)i << 32);
    entry_list(limit + 1u);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(limit + 1u, VCORE_VMX_CHECK_MSR_LOAD_COUNT);
    ck_assert_uint_eq(msr(STAR), (uint64_t)(limit - 1u) << 32);
    /* Exactly the maximum loads. */
    entry_list(limit);
    load_vmcs12_rflags(0x2);
    launch_then_l1_cpuid(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(msr(STAR), (uint64_t)(limit - 1u) << 32);
}
END_TEST

/* A list where L1 has no memory: the reads return all ones, so bits 63:32
 * of the first entry are set ("Loading MSRs"). */
START_TEST(unreadable_list)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, 0x40000000u); /* 1 GiB: inside MAXPHYADDR, not backed */
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(1, VCORE_VMX_CHECK_MSR_LOAD_RESERVED);
}
END_TEST

/* Every entry reads the list again: what L1 wrote between two VMRESUMEs
 * is what loads, and a list that became bad fails the second entry. */
START_TEST(list_read_again_on_each_entry)
{
    entry_list(1);
    entry(MSRLIST, 0, KGS, 0xffff800000001000ull);
    load_vmcs12_rflags(0x2);
    launch_then_l1_cpuid(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(msr(KGS), 0xffff800000001000ull);
    entry(MSRLIST, 0, KGS, 0xffff800000002000ull);
    launch_then_l1_cpuid(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(msr(KGS), 0xffff800000002000ull);
    entry(MSRLIST, 0, 0x808u, 0);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 1);
    ck_assert_uint_eq(msr(KGS), 0xffff800000002000ull);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
}
END_TEST

/* A value the vCPU's MSR model refuses (x2APIC mode straight to xAPIC
 * mode) fails its entry as the #GP of WRMSR would. */
START_TEST(model_refusal_fails_the_entry)
{
    vcore_cpuid_entry_t cp[] = {
        {.function = 0, .eax = 1, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5) | (1u << 21), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, cp, 5), VCORE_OK);
    const uint64_t x2apic = 0xfee00000ull | VCORE_APIC_BASE_EN | VCORE_APIC_BASE_EXTD;
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_APIC_BASE, 0xfee00000ull | VCORE_APIC_BASE_EN),
                     VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_APIC_BASE, x2apic), VCORE_OK);
    entry_list(2);
    entry(MSRLIST, 0, STAR, 0x0033002000000000ull);
    entry(MSRLIST, 1, VCORE_MSR_IA32_APIC_BASE, 0xfee00000ull | VCORE_APIC_BASE_EN);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(2, VCORE_VMX_CHECK_MSR_LOAD_REFUSED);
    ck_assert_uint_eq(msr(VCORE_MSR_IA32_APIC_BASE), x2apic);
    ck_assert_uint_eq(msr(STAR), 0x0033002000000000ull);
    /* The model takes x2APIC to disabled: a value it accepts loads. */
    entry(MSRLIST, 1, VCORE_MSR_IA32_APIC_BASE, 0xfee00000ull);
    load_vmcs12_rflags(0x2);
    launch_then_l1_cpuid(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(msr(VCORE_MSR_IA32_APIC_BASE), 0xfee00000ull);
}
END_TEST

/* The processor fails vmcs02's entry (exit 33: guest state) after the
 * list was loaded: guest state comes before MSR loading, so L1's MSRs and
 * its EFER are as before the entry (not the list's). */
START_TEST(hardware_failure_undoes_the_list)
{
    entry_list(2);
    entry(MSRLIST, 0, KGS, 0xffff800000003000ull);
    entry(MSRLIST, 1, EFER, EFER_LME | EFER_LMA); /* NXE cleared */
    load_vmcs12_rflags(0x2);
    uint32_t enc[1] = {VCORE_VMCS_EXIT_QUALIFICATION};
    uint64_t val[1] = {VCORE_VMX_QUAL_DEFAULT};
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, 0x80000021u, 0, 1, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000021u);
    ck_assert_uint_eq(msr(KGS), L1_KGS);
    ck_assert_uint_eq(sregs().efer, L1_EFER);
    /* ... and after a VMfailValid the instruction completes with L1's MSRs. */
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_FAIL_VALID, 0, VCORE_VMXERR_ENTRY_INVALID_CONTROL, 0, NULL, NULL);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    ck_assert_uint_eq(msr(KGS), L1_KGS);
    ck_assert_uint_eq(sregs().efer, L1_EFER);
    /* An entry the processor makes loads the list again into vmcs02. */
    load_vmcs12_rflags(0x2);
    launch_then_l1_cpuid(VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), EFER_LME | EFER_LMA);
    ck_assert_uint_eq(sregs().efer, EFER_LME | EFER_LMA);
}
END_TEST

/* IA32_EFER in the list ("Loading MSRs": WRMSR after the guest state),
 * clearing L1's NXE: L2's EFER is the entry's value with LMA as the guest
 * state loaded it (read-only to WRMSR: the value's LMA 0 is ignored). L2's
 * RDMSR, which L1 lets through, reads it; at the exit L1 gets what "Saving
 * Guest State" and "Loading Host State" say for each of L1's exit
 * controls: without "load IA32_EFER" L2's bits (NXE clear) with LMA and
 * LME from "host address-space size" (1), with it vmcs12's host
 * IA32_EFER; with "save IA32_EFER" vmcs12 holds L2's value, without it its
 * guest field is left. */
static const struct {
    uint32_t exit;    /* vmcs12's VM-exit controls */
    uint64_t l1;      /* L1's EFER after the exit */
    uint64_t guest12; /* vmcs12's guest IA32_EFER after the exit */
} efer_exits[] = {
    {EXIT12, EFER_LME | EFER_LMA, 0},
    {EXIT12 | EXIT_SAVE_EFER, EFER_LME | EFER_LMA, EFER_LME | EFER_LMA},
    {EXIT12 | EXIT_SAVE_EFER | EXIT_LOAD_EFER, L1_EFER, EFER_LME | EFER_LMA},
};

START_TEST(list_loads_l2_efer)
{
    entry_list(2);
    entry(MSRLIST, 0, STAR, 0x0033002000000000ull);
    entry(MSRLIST, 1, EFER, EFER_LME);
    set12(VCORE_VMCS_GUEST_IA32_EFER, 0);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, efer_exits[_i].exit);
    set12(VCORE_VMCS_HOST_IA32_EFER, L1_EFER);
    /* L1's MSR bitmap leaves every MSR to L0. */
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    load_vmcs12_rflags(0x2);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RCX] = EFER;
    r.gpr[VCORE_X86_RAX] = r.gpr[VCORE_X86_RDX] = ~0ull;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {0, 2};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_RDMSR, 0, 2, enc, val);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), EFER_LME | EFER_LMA);
    r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], EFER_LME | EFER_LMA); /* L2's RDMSR: EDX:EAX */
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0);
    ck_assert_uint_eq(r.rip, HOST_RIP);
    ck_assert_uint_eq(sregs().efer, efer_exits[_i].l1);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_EFER), efer_exits[_i].guest12);
    ck_assert_uint_eq(msr(STAR), 0x0033002000000000ull);
}
END_TEST

/* An IA32_EFER entry WRMSR would refuse fails the entry (exit 34, its
 * index) after an earlier IA32_EFER entry (NXE cleared) was loaded for L2:
 * the failed entry loads L1's host state from L2's loaded state ("VM-Entry
 * Failures During or After Loading Guest State"), so without "load
 * IA32_EFER" at exit L1 keeps NXE clear, with LMA and LME from the host
 * address-space size. Refused: a bit no Intel 64 processor defines (1), a
 * change of LME while the guest CR0.PG is 1 ("Initializing IA-32e Mode";
 * the reference L2 pages in IA-32e mode). */
static const struct {
    uint64_t data;
    uint32_t check;
} efer_bad[] = {
    {EFER_LME | EFER_LMA | (1ull << 1), VCORE_VMX_CHECK_MSR_LOAD_EFER_RESERVED},
    {0, VCORE_VMX_CHECK_MSR_LOAD_EFER_LME},
};

START_TEST(efer_entry_fails_after_one_loaded)
{
    entry_list(3);
    entry(MSRLIST, 0, EFER, EFER_LME | EFER_LMA);
    entry(MSRLIST, 1, EFER, efer_bad[_i].data);
    entry(MSRLIST, 2, LSTAR, 0xffffffff84000000ull);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(2, efer_bad[_i].check);
    ck_assert_uint_eq(sregs().efer, EFER_LME | EFER_LMA);
    ck_assert_uint_eq(msr(LSTAR), L1_LSTAR);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_EFER), 0); /* no guest state saved */
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    /* With "load IA32_EFER" at exit, L1 gets vmcs12's host value instead. */
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, EXIT12 | EXIT_LOAD_EFER);
    set12(VCORE_VMCS_HOST_IA32_EFER, L1_EFER);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(2, efer_bad[_i].check);
    ck_assert_uint_eq(sregs().efer, L1_EFER);
}
END_TEST

/* SCE where the vCPU's CPUID has no SYSCALL: WRMSR's #GP(0) for a reserved
 * bit (SDM Vol. 4, "IA32_EFER"), so entry 2 fails the entry; entry 1
 * stays loaded, L1's EFER is its own (no EFER entry was loaded). */
START_TEST(efer_bit_the_vcpu_lacks_fails_the_entry)
{
    entry_list(2);
    entry(MSRLIST, 0, STAR, 0x0033002000000000ull);
    entry(MSRLIST, 1, EFER, EFER_SCE | L1_EFER);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_failed_entry(2, VCORE_VMX_CHECK_MSR_LOAD_EFER_RESERVED);
    ck_assert_uint_eq(msr(STAR), 0x0033002000000000ull);
    ck_assert_uint_eq(sregs().efer, L1_EFER);
}
END_TEST

/* vcore_vmx_check_entry() names the failing entry the same way: its
 * 1-based index as qualification, and as value the MSR index for a rule on
 * the index, the whole first quadword for set bits 63:32. */
START_TEST(check_entry_reports_the_entry)
{
    entry_list(2);
    entry(MSRLIST, 0, (1ull << 32) | 0x808u, 0); /* x2APIC index comes before bits 63:32 */
    entry(MSRLIST, 1, (1ull << 32) | KGS, 0);
    load_vmcs12_rflags(0x2);
    vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
    vcore_vmx_check_input_t in = {.size = sizeof(in)};
    ck_assert_int_eq(vcore_nvmx_mem_from_vm(vm, &mem), VCORE_OK);
    ck_assert_int_eq(vcore_vmx_check_input_from_nvmx(nv, &mem, 0xd00, false, false, NULL, 0, &in), VCORE_OK);
    vcore_vmx_verdict_t vd = {.size = sizeof(vd)};
    vcore_vmx_check_failure_t f[4];
    ck_assert_int_eq(vcore_vmx_check_entry(&in, &vd, f, 4), VCORE_OK);
    ck_assert_uint_eq(vd.exit_reason, 0x80000022u);
    ck_assert_uint_eq(vd.qualification, 1);
    ck_assert_uint_eq(vd.failures, 2);
    ck_assert_uint_eq(f[0].check, VCORE_VMX_CHECK_MSR_LOAD_X2APIC);
    ck_assert_uint_eq(f[0].index, 1);
    ck_assert_uint_eq(f[0].value, 0x808u);
    ck_assert_uint_eq(f[1].check, VCORE_VMX_CHECK_MSR_LOAD_RESERVED);
    ck_assert_uint_eq(f[1].index, 2);
    ck_assert_uint_eq(f[1].value, (1ull << 32) | KGS);
}
END_TEST

static Suite *msrload_suite(void)
{
    Suite *s = suite_create("nested_msrload");
    TCase *tc = tcase_create("entry_list");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, one_entry_is_l2s_value);
    tcase_add_test(tc, three_entries_in_order);
    tcase_add_loop_test(tc, failing_entry_is_exit_34, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, first_entry_fails);
    tcase_add_test(tc, count_above_misc_limit);
    tcase_add_test(tc, unreadable_list);
    tcase_add_test(tc, list_read_again_on_each_entry);
    tcase_add_test(tc, model_refusal_fails_the_entry);
    tcase_add_test(tc, hardware_failure_undoes_the_list);
    tcase_add_test(tc, check_entry_reports_the_entry);
    tcase_add_loop_test(tc, list_loads_l2_efer, 0, (int)(sizeof(efer_exits) / sizeof(efer_exits[0])));
    tcase_add_loop_test(tc, efer_entry_fails_after_one_loaded, 0, (int)(sizeof(efer_bad) / sizeof(efer_bad[0])));
    tcase_add_test(tc, efer_bit_the_vcpu_lacks_fails_the_entry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(msrload_suite());
}
