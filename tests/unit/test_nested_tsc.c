/*
 * test_nested_tsc.c - L2's time-stamp counter on vmcs02, on the mock.
 *
 * Expected values come from SDM Vol. 3, "Changes to Instruction Behavior
 * in VMX Non-Root Operation" (RDTSC, RDTSCP, RDMSR of IA32_TIME_STAMP_COUNTER:
 * with "use TSC offsetting" the guest reads TSC + offset, with "use TSC
 * scaling" too ((TSC * multiplier) >> 48) + offset, the multiplier having
 * 48 fraction bits; scaling without offsetting changes nothing) applied
 * twice: L1 reads f01(TSC) by vmcs01's controls and L2 f12(f01(TSC)) by
 * vmcs12's, so vmcs02 holds multiplier m01 * m12 / 2^48 and offset
 * o01 * m12 / 2^48 + o12 (signed offsets, results modulo 2^64).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/msr.h>
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define PROC_TSC_OFFSET (1u << 3)
#define PROC_MSR_BITMAPS (1u << 28)
#define PROC_SECONDARY (1u << 31)
#define PROC2_TSC_SCALING (1u << 25)
#define PROC12 0x04006172u /* the reference vmcs12's primary controls */
#define ONE (1ull << 48)   /* multiplier 1.0 */

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* One level's TSC function: offsetting with offset, scaling with mult. */
typedef struct {
    bool offset_on, scale_on;
    uint64_t offset, mult;
} tsc_fn_t;

/* vmcs01's (L0's for L1). */
static void set01(const tsc_fn_t *f)
{
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL,
                                          (f->offset_on ? PROC_TSC_OFFSET : 0u) | PROC_SECONDARY),
                     VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL,
                                          f->scale_on ? PROC2_TSC_SCALING : 0u),
                     VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_TSC_OFFSET, f->offset), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_TSC_MULTIPLIER, f->mult), VCORE_OK);
}

/* vmcs12's (L1's for L2), with extra primary controls. */
static void set12_tsc(const tsc_fn_t *f, uint32_t proc)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | proc | (f->offset_on ? PROC_TSC_OFFSET : 0u) |
                                                    (f->scale_on ? PROC_SECONDARY : 0u));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, f->scale_on ? PROC2_TSC_SCALING : 0u);
    set12(VCORE_VMCS_TSC_OFFSET, f->offset);
    set12(VCORE_VMCS_TSC_MULTIPLIER, f->mult);
}

/* L1's VMRESUME, L2's CPUID (L1's), L1 halts. */
static void resume_then_cpuid(void)
{
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

#define NEG(x) (0ull - (uint64_t)(x))

static const struct {
    tsc_fn_t l0, l1;
    bool offset_on, scale_on; /* vmcs02's controls */
    uint64_t offset, mult;    /* vmcs02's fields (mult where vmcs02 scales) */
} composed[] = {
    /* L1 offsets only. */
    {{false, false, 0, 0}, {true, false, 5, 0}, true, false, 5, 0},
    /* L0 offsets only: L2 reads L1's TSC, so vmcs02 offsets by L0's. */
    {{true, false, 1000, 0}, {false, false, 77, 0}, true, false, 1000, 0},
    /* Both, signed: -100 + 50. */
    {{true, false, NEG(100), 0}, {true, false, 50, 0}, true, false, NEG(50), 0},
    /* L1 scales by 2.0: L0's offset doubles. */
    {{true, false, 1000, 0}, {true, true, 7, 2 * ONE}, true, true, 2007, 2 * ONE},
    {{true, false, NEG(1000), 0}, {true, true, 7, 2 * ONE}, true, true, NEG(1993), 2 * ONE},
    /* L1 scales by 0.5: 1001 / 2 = 500.5, the product shifted right. */
    {{true, false, 1001, 0}, {true, true, 0, ONE / 2}, true, true, 500, ONE / 2},
    /* L1's scaling without its offsetting does nothing: multiplier 1.0. */
    {{true, false, 1000, 0}, {false, true, 7, 2 * ONE}, true, true, 1000, ONE},
    /* L0 scales by 1.5, L1 by 2.0: 3.0, L0's offset doubled plus L1's. */
    {{true, true, 1000, 3 * ONE / 2}, {true, true, 7, 2 * ONE}, true, true, 2007, 3 * ONE},
    /* L0 scales by 1.5, L1 offsets only: L0's multiplier stays. */
    {{true, true, 1000, 3 * ONE / 2}, {true, false, 7, 0}, true, true, 1007, 3 * ONE / 2},
};

/* vmcs02's TSC controls and fields for each composition above. */
START_TEST(vmcs02_composes_tsc_functions)
{
    set01(&composed[_i].l0);
    set12_tsc(&composed[_i].l1, 0);
    nested_launch_cpuid();
    uint64_t proc = nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    uint64_t proc2 = (proc & PROC_SECONDARY) ? nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) : 0;
    ck_assert_uint_eq((proc & PROC_TSC_OFFSET) != 0, composed[_i].offset_on);
    ck_assert_uint_eq((proc2 & PROC2_TSC_SCALING) != 0, composed[_i].scale_on);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_OFFSET), composed[_i].offset);
    if (composed[_i].scale_on)
        ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_MULTIPLIER), composed[_i].mult);
    /* vmcs01 was read, never written. */
    uint64_t w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, NULL, VCORE_VMCS_TSC_OFFSET, &w), VCORE_OK);
    ck_assert_uint_eq(w, composed[_i].l0.offset);
}
END_TEST

/* L1 changes its offset, then turns offsetting off, between entries of
 * the same vmcs12 (its VMWRITEs): vmcs02 follows each time. */
START_TEST(l1_tsc_changes_reach_vmcs02)
{
    tsc_fn_t l0 = {true, false, 1000, 0}, l1 = {true, false, 5, 0};
    set01(&l0);
    set12_tsc(&l1, 0);
    nested_launch_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_OFFSET), 1005);
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_TSC_OFFSET, 9);
    resume_then_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_OFFSET), 1009);
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12);
    resume_then_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_OFFSET), 1000);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & PROC_TSC_OFFSET, PROC_TSC_OFFSET);
}
END_TEST

/* A processor without "use TSC scaling" has no TSC-multiplier field
 * ("VM-Execution Control Fields"): vmcs02's is never written (the mock's
 * strict VMCS store counts a write of it as a violation), the offset is. */
START_TEST(no_multiplier_without_tsc_scaling)
{
    nested_vm_destroy(0);
    vcore_nvmx_caps_t c = {.size = sizeof(c)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&c), VCORE_OK);
    c.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)PROC2_TSC_SCALING << 32);
    nested_vm(NULL, &c, NULL, 0);
    tsc_fn_t l0 = {true, false, 1000, 0}, l1 = {true, false, 5, 0};
    set01(&l0);
    set12_tsc(&l1, 0);
    nested_launch_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_OFFSET), 1005);
    uint64_t r = 0, w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_TSC_MULTIPLIER, &r, &w), VCORE_OK);
    ck_assert_uint_eq(w, 0);
}
END_TEST

/* L2's RDMSR of IA32_TIME_STAMP_COUNTER that L1 does not intercept: the
 * VMM answers with the vCPU's (L1's) TSC, and L2 gets it through L1's
 * offset and multiplier - or unchanged without L1's offsetting. */
static const struct {
    tsc_fn_t l1;
    uint64_t l1_tsc, l2_tsc;
} rdmsr_cases[] = {
    {{false, false, 0, 0}, 0x123456789ull, 0x123456789ull},
    {{true, false, NEG(0x100), 0}, 0x123456789ull, 0x123456689ull},
    {{true, true, 3, 3 * ONE}, 0x100000000ull, 0x300000003ull},
    /* 2^63 * 4.0 is 2^65: the low 64 bits of the shifted product, 0. */
    {{true, true, 1, 4 * ONE}, 1ull << 63, 1},
};

START_TEST(l2_rdmsr_tsc_through_l1_function)
{
    set12_tsc(&rdmsr_cases[_i].l1, PROC_MSR_BITMAPS);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_TSC);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_RDMSR, 0, 2);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(e.u.msr.index, VCORE_MSR_IA32_TSC);
    e.u.msr.value = rdmsr_cases[_i].l1_tsc;
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    uint64_t want = rdmsr_cases[_i].l2_tsc;
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], want & 0xffffffffu);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RDX], want >> 32);
}
END_TEST

/* Another MSR's reply is L2's as the VMM gave it. */
START_TEST(l2_rdmsr_other_msr_unchanged)
{
    tsc_fn_t l1 = {true, true, 3, 3 * ONE};
    set12_tsc(&l1, PROC_MSR_BITMAPS);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_RDMSR, 0, 2);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    e.u.msr.value = 0x100000000ull;
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RDX], 1);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0);
}
END_TEST

/* ---- IA32_TIME_STAMP_COUNTER written for L1 ----
 * SDM Vol. 2, "WRMSR" (writing IA32_TIME_STAMP_COUNTER sets the TSC) and
 * Vol. 3, "Changes to Instruction Behavior in VMX Non-Root Operation"
 * (WRMSR is not changed by TSC offsetting): an entry of the VM-entry
 * MSR-load list naming the TSC ("Loading MSRs": as WRMSR at CPL 0) sets
 * the TSC L1 reads, the vCPU's. The mock's backend makes it with vmcs01's
 * offset (TSC = host TSC + offset), so vmcs02 then holds L1's new function
 * composed with vmcs12's, and L2 reads f12(new TSC). */
#define HOST_TSC 0x100000000ull
#define STAR VCORE_MSR_IA32_STAR

static void tsc_entry(uint32_t i, uint64_t lo, uint64_t data)
{
    put(MSRLIST + 16u * i, lo, 8);
    put(MSRLIST + 16u * i + 8u, data, 8);
}

static uint64_t vcpu_tsc(void)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_TSC, &v), VCORE_OK);
    return v;
}

static uint64_t peek01(uint32_t enc)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, NULL, enc, &v), VCORE_OK);
    return v;
}

/* What L2 reads by vmcs02's function at the mock's host TSC. */
static uint64_t l2_reads(void)
{
    uint64_t proc = nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    uint64_t proc2 = (proc & PROC_SECONDARY) ? nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) : 0;
    uint64_t t = HOST_TSC;
    if (proc2 & PROC2_TSC_SCALING) /* multipliers here are whole numbers: no rounding */
        t *= nested_peek02(VCORE_VMCS_TSC_MULTIPLIER) >> 48;
    return (proc & PROC_TSC_OFFSET) ? t + nested_peek02(VCORE_VMCS_TSC_OFFSET) : t;
}

static const struct {
    tsc_fn_t l1;      /* vmcs12's */
    uint64_t tsc;     /* the entry's value */
    uint64_t l2_tsc;  /* f12(tsc) */
} list_tsc[] = {
    {{true, false, 5, 0}, 0x500000000ull, 0x500000005ull},
    {{true, true, 7, 2 * ONE}, 0x500000000ull, 0xa00000007ull},
    {{false, false, 0, 0}, 0x300000000ull, 0x300000000ull},
};

START_TEST(entry_list_tsc_is_l1s_tsc)
{
    ck_assert_int_eq(vcore_mock_set_tsc_offsetting(vcpu, true, HOST_TSC), VCORE_OK);
    tsc_fn_t l0 = {true, false, 0, 0};
    set01(&l0);
    set12_tsc(&list_tsc[_i].l1, 0);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    tsc_entry(0, STAR, 0x0033002000000000ull);
    tsc_entry(1, VCORE_MSR_IA32_TSC, list_tsc[_i].tsc);
    nested_launch_cpuid();
    ck_assert_uint_eq(vcpu_tsc(), list_tsc[_i].tsc);
    ck_assert_uint_eq(peek01(VCORE_VMCS_TSC_OFFSET), list_tsc[_i].tsc - HOST_TSC);
    ck_assert_uint_eq(l2_reads(), list_tsc[_i].l2_tsc);
}
END_TEST

/* The last entry naming the TSC wins; an entry after a failing one is not
 * loaded, one before it is ("Loading MSRs": the entries before the failing
 * entry stay loaded). IA32_SMBASE (9EH) fails ("Loading MSRs": not in SMM). */
START_TEST(entry_list_tsc_last_wins_failure_stops)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    tsc_entry(0, VCORE_MSR_IA32_TSC, 0x1000);
    tsc_entry(1, VCORE_MSR_IA32_TSC, 0x2000);
    nested_launch_cpuid();
    ck_assert_uint_eq(vcpu_tsc(), 0x2000);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 3);
    tsc_entry(0, VCORE_MSR_IA32_TSC, 0x3000);
    tsc_entry(1, VCORE_MSR_IA32_SMBASE, 0);
    tsc_entry(2, VCORE_MSR_IA32_TSC, 0x4000);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
    ck_assert_uint_eq(vcpu_tsc(), 0x3000);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    tsc_entry(0, VCORE_MSR_IA32_SMBASE, 0);
    tsc_entry(1, VCORE_MSR_IA32_TSC, 0x5000);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 1);
    ck_assert_uint_eq(vcpu_tsc(), 0x3000);
}
END_TEST

/* The VMM writes L1's TSC between two entries of the same vmcs12: the
 * backend's new vmcs01 offset reaches vmcs02 at the next VMRESUME; without
 * such a write vmcs01's offset is not read again. */
START_TEST(vmm_tsc_write_reaches_vmcs02)
{
    ck_assert_int_eq(vcore_mock_set_tsc_offsetting(vcpu, true, HOST_TSC), VCORE_OK);
    tsc_fn_t l0 = {true, false, 0, 0}, l1 = {true, false, 5, 0};
    set01(&l0);
    set12_tsc(&l1, 0);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, 0x200000000ull), VCORE_OK);
    nested_launch_cpuid();
    ck_assert_uint_eq(l2_reads(), 0x200000005ull);
    uint64_t reads = 0, again = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_TSC_OFFSET, &reads, NULL), VCORE_OK);
    resume_then_cpuid();
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_TSC_OFFSET, &again, NULL), VCORE_OK);
    ck_assert_uint_eq(again, reads);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, 0x700000000ull), VCORE_OK);
    resume_then_cpuid();
    ck_assert_uint_eq(peek01(VCORE_VMCS_TSC_OFFSET), 0x700000000ull - HOST_TSC);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_OFFSET), 0x700000000ull - HOST_TSC + 5);
    ck_assert_uint_eq(l2_reads(), 0x700000005ull);
}
END_TEST

/* The VMM writes L1's TSC while it answers an entry of the list (an MSR
 * it models): vmcs02's offset follows before L2 runs. */
START_TEST(vmm_tsc_write_mid_list_reaches_vmcs02)
{
    ck_assert_int_eq(vcore_mock_set_tsc_offsetting(vcpu, true, HOST_TSC), VCORE_OK);
    tsc_fn_t l0 = {true, false, 0, 0}, l1 = {true, false, 5, 0};
    set01(&l0);
    set12_tsc(&l1, 0);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    tsc_entry(0, 0x2ffu, 0xc06); /* IA32_MTRR_DEF_TYPE: the VMM's */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_MSR_LIST, VCORE_EXIT_F_MSR_LIST);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, 0x900000000ull), VCORE_OK);
    e.u.msr.error = 0;
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TSC_OFFSET), 0x900000000ull - HOST_TSC + 5);
    ck_assert_uint_eq(l2_reads(), 0x900000005ull);
}
END_TEST

/* The backend refuses the TSC the list gives L1: the VM entry is an error
 * with nothing of the list kept - the MSR before it (IA32_STAR) as L1 had
 * it, the TSC the backend's - and L1 not past its VMLAUNCH. */
START_TEST(tsc_push_refused_keeps_nothing)
{
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, STAR, 0x0023001000000000ull), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, 0x1234), VCORE_OK);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    tsc_entry(0, STAR, 0x0033002000000000ull);
    tsc_entry(1, VCORE_MSR_IA32_TSC, 0x5000);
    load_vmcs12();
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT); /* L1's state reaches the backend */
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_SET_STATE, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_ERR_HWFAIL);
    uint64_t star = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, STAR, &star), VCORE_OK);
    ck_assert_uint_eq(star, 0x0023001000000000ull);
    ck_assert_uint_eq(vcpu_tsc(), 0x1234);
    ck_assert_uint_eq(regs().rip, L1_RIP);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* The processor fails vmcs02's entry after the list (exit 33): the MSRs
 * of the list go back to L1's values, the TSC stays what the backend was
 * given (it cannot be taken back), and the vCPU says so while the exit's
 * VM-exit MSR-load list asks the VMM (no backend run in between). */
START_TEST(hw_failure_after_list_keeps_tsc_consistent)
{
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, STAR, 0x0023001000000000ull), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, 0x1234), VCORE_OK);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    tsc_entry(0, STAR, 0x0033002000000000ull);
    tsc_entry(1, VCORE_MSR_IA32_TSC, 0x6000);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, MSRLIST + 0x100u);
    put(MSRLIST + 0x100u, 0x2ffu, 8); /* IA32_MTRR_DEF_TYPE: the VMM's */
    put(MSRLIST + 0x108u, 0x806, 8);
    load_vmcs12();
    uint32_t enc[1] = {VCORE_VMCS_EXIT_QUALIFICATION};
    uint64_t val[1] = {0};
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, 0x80000021u, 0, 1, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(e.u.msr.why, VCORE_EXIT_MSR_LIST_VMEXIT_LOAD);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000021u);
    uint64_t star = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, STAR, &star), VCORE_OK);
    ck_assert_uint_eq(star, 0x0023001000000000ull);
    ck_assert_uint_eq(vcpu_tsc(), 0x6000);
    e.u.msr.error = 0;
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcpu_tsc(), 0x6000);
}
END_TEST

static Suite *tsc_suite(void)
{
    Suite *s = suite_create("nested_tsc");
    TCase *t = tcase_create("tsc");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_loop_test(t, vmcs02_composes_tsc_functions, 0, (int)(sizeof(composed) / sizeof(composed[0])));
    tcase_add_test(t, l1_tsc_changes_reach_vmcs02);
    tcase_add_test(t, no_multiplier_without_tsc_scaling);
    tcase_add_loop_test(t, l2_rdmsr_tsc_through_l1_function, 0, (int)(sizeof(rdmsr_cases) / sizeof(rdmsr_cases[0])));
    tcase_add_test(t, l2_rdmsr_other_msr_unchanged);
    tcase_add_loop_test(t, entry_list_tsc_is_l1s_tsc, 0, (int)(sizeof(list_tsc) / sizeof(list_tsc[0])));
    tcase_add_test(t, entry_list_tsc_last_wins_failure_stops);
    tcase_add_test(t, vmm_tsc_write_reaches_vmcs02);
    tcase_add_test(t, vmm_tsc_write_mid_list_reaches_vmcs02);
    tcase_add_test(t, tsc_push_refused_keeps_nothing);
    tcase_add_test(t, hw_failure_after_list_keeps_tsc_consistent);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(tsc_suite());
}
