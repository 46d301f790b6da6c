/*
 * test_nested_pipeline.c - the nested VMX pipeline inside vcore_vcpu_run on
 * the mock: L1's VMLAUNCH/VMRESUME outcomes, vmcs02 construction with exact
 * VMCS-access counts, exits from L2 reflected to L1 or kept by L0, L1's host
 * state after the exit, VMX abort, and the CVE classes of the field.
 *
 * Expected values come from SDM Vol. 3: "Conventions" (VMfail flags),
 * "VM-Instruction Error Numbers", "VM Entries", "VM-Entry Failures During or
 * After Loading Guest State", "VM Exits", "Loading Host State", "VMX Aborts",
 * "Instructions That Cause VM Exits Conditionally".
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

/* The fixture's VM on a given host (NULL: the library's default). */
static void setup_on(const vcore_host_t *host)
{
    /* Every entry also runs all the VM-entry checks: a changed-input run
     * that decides otherwise fails the run. The exact counts below are of
     * the emulated VMREAD/VMWRITE path: L0's VMCS shadowing is off here
     * (the hw_shadow cases turn it on). */
    nested_vm(host, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS | VCORE_NVMX_OPT_NO_HW_SHADOW);
}

static void setup(void)
{
    setup_on(NULL);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}
static uint64_t major_writes(void)
{
    uint64_t w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_group_count(vcpu, VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS, NULL, &w), VCORE_OK);
    return w;
}

static uint64_t vmcs_accesses(void)
{
    return vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ) + vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_WRITE);
}

/* SDM "Conventions": VMfailValid sets ZF, clears CF PF AF SF OF; RIP past the instruction. */
static void assert_vmfail_valid(uint32_t error, uint64_t rip)
{
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, rip);
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0x40u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), error);
}

/* L1 after a VM exit ("Loading Host State"). */
static void assert_l1_host_state(void)
{
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, HOST_RIP);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSP], HOST_RSP);
    ck_assert_uint_eq(r.rflags, 0x2);
    vcore_x86_sregs_t s = sregs();
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].selector, 0x08);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].ar, 0xa09b); /* type 11, S, P, L, G */
    ck_assert_uint_eq(s.seg[VCORE_X86_SS].ar, 0xc093);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].ar & VCORE_X86_AR_UNUSABLE, VCORE_X86_AR_UNUSABLE);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].base, 0x7000);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].selector, 0x18);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].base, 0x4000);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].limit, 0x67);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].ar, 0x8b);
    /* Seed 003: LDTR selector 0 and unusable on every VM exit. */
    ck_assert_uint_eq(s.seg[VCORE_X86_LDTR].selector, 0);
    ck_assert_uint_eq(s.seg[VCORE_X86_LDTR].ar & VCORE_X86_AR_UNUSABLE, VCORE_X86_AR_UNUSABLE);
    ck_assert_uint_eq(s.gdtr.base, 0x5000);
    ck_assert_uint_eq(s.gdtr.limit, 0xffff);
    ck_assert_uint_eq(s.idtr.base, 0x6000);
    ck_assert_uint_eq(s.idtr.limit, 0xffff);
    ck_assert_uint_eq(s.cr3, 0x1000);
    ck_assert_uint_eq(s.efer & 0x500u, 0x500u); /* LMA, LME from the host address-space size */
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr7, 0x400);
}

START_TEST(vmlaunch_invalid_control_is_vmfail_7)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0); /* allowed-0 bits 1, 2, 4 must be 1 */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_CONTROL, L1_RIP + 3);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    ck_assert(!last().in_l2);
}
END_TEST

START_TEST(vmlaunch_invalid_host_is_vmfail_8)
{
    set12(VCORE_VMCS_HOST_CR4, 0x20); /* CR4.VMXE is fixed to 1 */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_HOST, L1_RIP + 3);
}
END_TEST

START_TEST(vmresume_of_clear_vmcs_is_vmfail_5)
{
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMRESUME, 0, 3);
    assert_vmfail_valid(VCORE_VMXERR_VMRESUME_NONLAUNCHED, L1_RIP + 3);
}
END_TEST

START_TEST(invalid_guest_state_is_exit_33_to_l1)
{
    set12(VCORE_VMCS_GUEST_RFLAGS, 0); /* bit 1 must be 1 */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000021u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    assert_l1_host_state();
    /* A failed entry leaves the launch state clear: VMLAUNCH is still the one to use. */
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 0);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

START_TEST(msr_load_failure_is_exit_34_with_index)
{
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 2);
    set12(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, VCORE_MSR_IA32_SYSENTER_CS, 8);
    put(MSRLIST + 16, 0x808, 8); /* x2APIC TPR: may not be loaded */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000022u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2);
    assert_l1_host_state();
}
END_TEST

/* L2 executes CPUID: always L1's ("Instructions That Cause VM Exits Unconditionally"). */
START_TEST(cpuid_from_l2_is_reflected)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt(); /* L1, at HOST_RIP, halts */
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    assert_l1_host_state();
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 1);
    vcore_nvmx_last_t l = last();
    ck_assert(!l.in_l2);
    ck_assert_uint_eq(l.owner, VCORE_NVMX_OWNER_L1);
    ck_assert_uint_eq(l.kind, VCORE_NVMX_RULE_ALWAYS);
    ck_assert_uint_eq(l.reflected, 1);
    /* vmcs02: L2's state from vmcs12, merged controls (CR8 exiting forced
     * without L1's TPR shadow, unconditional I/O exiting, no MSR bitmaps). */
    uint64_t v;
    vcore_nvmx_last_t unused = l;
    (void)unused;
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ALLOC), 1);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    (void)v;
}
END_TEST

/* A second round trip: L1 advances L2's RIP (VMWRITE) and VMRESUMEs; the
 * vmcs02 writes are exactly the one dirty field, no control word is
 * rewritten, no rarely-read guest field is read. */
START_TEST(round_trip_counts)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    /* L1's handler: VMWRITE GUEST_RIP <- RIP + 2 (register form), VMRESUME. */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RIP;
    r.gpr[VCORE_X86_RCX] = 0x401002;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    push_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(major_writes(), 0);
    uint64_t gr = 0, gw = 0, v;
    ck_assert_int_eq(vcore_mock_vmcs_group_count(vcpu, VCORE_MOCK_VMCS_GROUP_GUEST, &gr, &gw), VCORE_OK);
    /* GUEST_RIP, and GUEST_DR7: L1 does not intercept MOV-DR, so L2 may
     * have changed vmcs02's DR7 without an exit; it is written rather than
     * read back at every exit. */
    ck_assert_uint_eq(gw, 2);
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_RIP, NULL, &v), VCORE_OK);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_ES_SELECTOR, &v, NULL), VCORE_OK);
    ck_assert_uint_eq(v, 0); /* rarely-read: not synced */
    /* Exit: instruction length, 9 eager guest fields and the activity state
     * (without HLT exiting L2 may halt by itself); entry: 2 writes. */
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_ACTIVITY_STATE, &v, NULL), VCORE_OK);
    ck_assert_uint_eq(v, 1);
    ck_assert_uint_eq(vmcs_accesses(), 13);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    /* L1 reads a rarely-read field: now it comes from vmcs02. */
    r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_ES_SELECTOR;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_ES_SELECTOR, &v, NULL), VCORE_OK);
    ck_assert_uint_eq(v, 1);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x10);
}
END_TEST

/* After an entry that passed, L1 breaks one rule with a VMWRITE of a
 * shadowed field (completed in the run loop): VMRESUME runs that rule and
 * fails with the SDM's outcome. "Checks on Guest RIP, RFLAGS, and SSP":
 * RFLAGS bit 1 must be 1; a failure is a VM exit with reason 33 | 80000000H,
 * qualification 0 ("VM-Entry Failures During or After Loading Guest State"). */
START_TEST(changed_rule_fails_after_pass)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RFLAGS;
    r.gpr[VCORE_X86_RCX] = 0;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RFLAGS), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000000u | 33u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_GUEST_RFLAGS_BIT1);
}
END_TEST

/* Seed 001: the rarely-read guest fields (8 selectors, 10 limits, 6 access
 * rights, 10 bases, pending debug exceptions, BNDCFGS) come from vmcs02
 * on L1's first VMREAD of any of them, all 36 at once; a VMREAD of an eager
 * field (CS access rights) costs no VMCS access. */
START_TEST(lazy_sync_of_rare_fields)
{
    static const uint32_t rare[] = {
        0x0800, 0x0802, 0x0804, 0x0806, 0x0808, 0x080a, 0x080c, 0x080e, 0x4800, 0x4802, 0x4804, 0x4806,
        0x4808, 0x480a, 0x480c, 0x480e, 0x4810, 0x4812, 0x4814, 0x481a, 0x481c, 0x481e, 0x4820, 0x4822,
        0x6806, 0x6808, 0x680a, 0x680c, 0x680e, 0x6810, 0x6812, 0x6814, 0x6816, 0x6818, 0x6822, 0x2812};
    for (size_t i = 0; i < sizeof(rare) / sizeof(rare[0]); i++) {
        teardown();
        setup();
        load_vmcs12();
        push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        vcore_x86_regs_t r = regs();
        r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_CS_AR_BYTES;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
        l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ), 0);
        r = regs();
        r.gpr[VCORE_X86_RDX] = rare[i];
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ), 36);
        l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ), 36);
    }
}
END_TEST

/* SDM "VMREAD": the value is the current VMCS's field, i.e. what L1's last
 * VMWRITE put there. A rarely-read guest field L1 wrote after the exit keeps
 * L1's value when L1's next VMREAD of a rare field pulls the others from
 * vmcs02 (where the field still holds L2's 10H). */
START_TEST(lazy_sync_keeps_l1_written_rare_field)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_ES_SELECTOR;
    r.gpr[VCORE_X86_RCX] = 0x33;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_DS_SELECTOR;
    r.gpr[VCORE_X86_RCX] = 0;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x10); /* pulled from vmcs02 */
    r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_ES_SELECTOR;
    r.gpr[VCORE_X86_RCX] = 0;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x33);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_ES_SELECTOR), 0x33);
}
END_TEST

START_TEST(late_vmfail_from_hardware_unwinds_to_l1)
{
    load_vmcs12();
    vcore_x86_sregs_t before = sregs();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_FAIL_VALID, 0, VCORE_VMXERR_ENTRY_INVALID_CONTROL, 0, NULL, NULL);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_CONTROL, L1_RIP + 3);
    vcore_x86_sregs_t after = sregs();
    ck_assert_mem_eq(&before, &after, sizeof(before)); /* L0's view of L1 unchanged */
    ck_assert(!last().in_l2);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 0);
}
END_TEST

START_TEST(late_failed_entry_from_hardware_is_exit_to_l1)
{
    load_vmcs12();
    uint32_t enc[1] = {VCORE_VMCS_EXIT_QUALIFICATION};
    uint64_t val[1] = {VCORE_VMX_QUAL_DEFAULT};
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, 0x80000021u, 0, 1, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000021u);
    assert_l1_host_state();
    ck_assert(!last().in_l2);
}
END_TEST

START_TEST(early_hardware_check_passes_invisibly)
{
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_EARLY_HW_CHECK), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, 0x80000021u, 0, 0, NULL, NULL); /* the expected exit 33 */
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(last().early_checks, 1);
    uint64_t rf = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, NULL, VCORE_VMCS_GUEST_RFLAGS, &rf), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
}
END_TEST

/* The software check is switched off; the hardware's VMfail reaches L1. */
START_TEST(early_hardware_check_catches_a_skipped_check)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 5)); /* virtual NMIs without NMI exiting */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_CONTROL, L1_RIP + 3);
    uint32_t check = last().check;
    ck_assert_uint_ne(check, 0);
    vcore_vmx_check_info_t ci = {.size = sizeof(ci)};
    ck_assert_int_eq(vcore_vmx_check_describe(check, &ci), VCORE_OK);
    ck_assert_uint_eq(ci.cls, VCORE_VMX_CLASS_VMFAIL_CTL);
    ck_assert_int_eq(vcore_nvmx_test_skip_check(nv, check), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_EARLY_HW_CHECK), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_FAIL_VALID, 0, VCORE_VMXERR_ENTRY_INVALID_CONTROL, 0, NULL, NULL);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_CONTROL, L1_RIP + 3);
    ck_assert_uint_eq(last().early_checks, 0);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
}
END_TEST

/* CVE-2017-12154 class: without L1's TPR shadow, vmcs02 exits on CR8. */
START_TEST(cve_2017_12154_cr8_exiting_forced)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint32_t l1[5] = {0x16, 0x04006172, 0, 0x00036dfb, 0x000011fb}, l0[5] = {0}, m[5];
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[1] & (3u << 19), 3u << 19);
    ck_assert_uint_eq(m[1] & (1u << 24), 1u << 24); /* unconditional I/O exiting */
    ck_assert_uint_eq(m[1] & (1u << 28), 1u << 28); /* vmcs02's own MSR bitmap */
    ck_assert_uint_eq(m[0] & 9u, 9u);               /* external-interrupt and NMI exiting */
    l1[1] |= 1u << 21; /* with the TPR shadow, L1's CR8 bits count */
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[1] & (3u << 19), 0);
    l0[3] = 1u << 15; /* acknowledge interrupt on exit is L0's */
    l1[3] = 1u << 9;
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[3], (1u << 15) | (1u << 2)); /* and "save debug controls" (rule ONE) */
}
END_TEST

/* CVE-2019-3887 class: no MSR L0 intercepts (x2APIC 800H-8FFH) becomes pass-through. */
START_TEST(cve_2019_3887_msr_bitmap_merge)
{
    /* L0 (the mock's vmcs01) lets IA32_FS_BASE through and intercepts the
     * x2APIC TPR (808H); L1 lets every MSR through (its bitmap all clear).
     * vmcs02's bitmap ("MSR-Bitmap Address": read-low at byte 0, read-high
     * at 1024, write-low at 2048, write-high at 3072) must intercept 808H. */
    ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu, 0xc0000100u, true, true), VCORE_OK);
    memset(&ram[MSRBM], 0, 4096);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    nested_launch_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & (1u << 28), 1u << 28);
    const uint8_t *bm = (const uint8_t *)(uintptr_t)nested_peek02(VCORE_VMCS_MSR_BITMAP);
    ck_assert(bm[0x808 / 8] & (1u << (0x808 % 8)));
    ck_assert(bm[2048 + 0x808 / 8] & (1u << (0x808 % 8)));
    ck_assert(!(bm[1024 + 0x100 / 8] & (1u << (0x100 % 8))));
    ck_assert(!(bm[3072 + 0x100 / 8] & (1u << (0x100 % 8))));
}
END_TEST

/* The same with L1's "virtualize x2APIC mode" (secondary 4, with the TPR
 * shadow it needs): L0 lets 802H, 808H, 80BH and 830H through, L1 every
 * MSR. Only what the processor virtualizes on the virtual-APIC page (L1's)
 * may pass ("Virtualizing MSR-Based APIC Accesses": without APIC-register
 * virtualization and virtual-interrupt delivery, RDMSR and WRMSR of 808H);
 * reads of 802H and writes of 80BH (EOI) and 830H (ICR) would reach the
 * real x2APIC and must be intercepted. */
START_TEST(cve_2019_3887_x2apic_mode_passes_only_virtualized)
{
    static const uint32_t l0_pass[] = {0x802u, 0x808u, 0x80bu, 0x830u};
    for (size_t i = 0; i < sizeof(l0_pass) / sizeof(l0_pass[0]); i++)
        ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu, l0_pass[i], true, true), VCORE_OK);
    memset(&ram[MSRBM], 0, 4096);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 21) | (1u << 28) | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 4);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, 0x40000);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    nested_launch_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (1u << 4), 1u << 4);
    const uint8_t *bm = (const uint8_t *)(uintptr_t)nested_peek02(VCORE_VMCS_MSR_BITMAP);
    ck_assert(!(bm[0x808 / 8] & (1u << (0x808 % 8))));
    ck_assert(!(bm[2048 + 0x808 / 8] & (1u << (0x808 % 8))));
    ck_assert(bm[0x802 / 8] & (1u << (0x802 % 8)));
    ck_assert(bm[2048 + 0x802 / 8] & (1u << (0x802 % 8)));
    ck_assert(bm[2048 + 0x80b / 8] & (1u << (0x80b % 8)));
    ck_assert(bm[0x830 / 8] & (1u << (0x830 % 8)));
    ck_assert(bm[2048 + 0x830 / 8] & (1u << (0x830 % 8)));
}
END_TEST

/* HLT without L1's HLT exiting: L0's; the VMM sees it, then L2 resumes past it. */
START_TEST(hlt_not_wanted_by_l1_goes_to_vmm)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_HLT, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert(last().in_l2);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L0);
    /* Next run: L2 again, RIP past the HLT; an external interrupt is L0's (re-entered), CPUID is L1's. */
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INTR_INFO};
    uint64_t val[1] = {0x80000020u};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, 0, 1, enc, val);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401001);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 1);
    ck_assert_uint_eq(l.reflected, 1);
    ck_assert_uint_eq(l.l2_exits, 3);
}
END_TEST

/* HLT with L1's HLT exiting: L1's. */
START_TEST(hlt_wanted_by_l1_is_reflected)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 7));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_HLT, 1);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_HLT);
    ck_assert_uint_eq(last().field, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
}
END_TEST

/* CVE-2016-9588 class: #BP from L2 reaches L1 as a software exception with its length. */
START_TEST(cve_2016_9588_bp_reflected_with_type_and_length)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 3);
    load_vmcs12();
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {0x80000603u, 1}; /* valid, type 6 (software exception), vector 3 */
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 2, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000603u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 1);
}
END_TEST

/* CVE-2022-3344 class: L2's triple fault always exits to L1; RESET frees vmcs02. */
START_TEST(cve_2022_3344_triple_fault_then_reset)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_TRIPLE_FAULT, 0, 0, NULL, NULL);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_TRIPLE_FAULT);
    assert_l1_host_state();
    ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_FREE), 1);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_VIOLATION), 0);
    ck_assert(!last().in_l2);
}
END_TEST

/* "VMX Aborts": a VM-exit MSR-load entry that cannot be loaded. */
START_TEST(vm_exit_msr_load_failure_is_vmx_abort)
{
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, 0xc0000100u, 8); /* IA32_FS_BASE may not be in the VM-exit MSR-load list */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_SHUTDOWN);
    uint32_t ind = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, VMCS_GPA + 4, &ind, 4), VCORE_OK);
    ck_assert_uint_eq(ind, 4);
    ck_assert_uint_eq(last().vmx_aborts, 1);
}
END_TEST

/* The VM-exit MSR-store list gets the values the MSRs have at the exit
 * (SDM "Saving MSRs"): IA32_SYSENTER_ESP is L2's, loaded from vmcs12's
 * guest state at the entry ("Loading Guest State") and held in vmcs02, not
 * L1's; IA32_LSTAR is the vCPU's own, which L1 and L2 share. */
START_TEST(vm_exit_msr_store_list)
{
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, 2);
    set12(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR, MSRLIST);
    set12(VCORE_VMCS_GUEST_SYSENTER_ESP, 0xffff800000005000ull);
    put(MSRLIST, VCORE_MSR_IA32_SYSENTER_ESP, 8);
    put(MSRLIST + 16, VCORE_MSR_IA32_LSTAR, 8);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_SYSENTER_ESP, 0x1234), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_LSTAR, 0xffffffff81000000ull), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, MSRLIST + 8, &v, 8), VCORE_OK);
    ck_assert_uint_eq(v, 0xffff800000005000ull);
    ck_assert_int_eq(vcore_vm_read_guest(vm, MSRLIST + 24, &v, 8), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffff81000000ull);
}
END_TEST

/* IA32_PERF_GLOBAL_CTRL and IA32_BNDCFGS are not held by the vCPU model:
 * loading them for L2 (VM-entry 13, 16) would reach the processor's own
 * MSRs, and loading or clearing them at the exit to L1 (VM-exit 12, 23)
 * has nowhere to go. Each is allowed-0 for L1, so VMLAUNCH fails with
 * VMfailValid 7 ("Checks on VM-Exit Control Fields", "Checks on VM-Entry
 * Control Fields") and nothing is entered; with the allowed-1 checks
 * switched off the pipeline still refuses each by name. */
START_TEST(msr_controls_without_a_model_are_refused)
{
    static const struct {
        uint32_t field, bit, word;
    } cases[] = {
        {VCORE_VMCS_VM_EXIT_CONTROLS, 12, 3},
        {VCORE_VMCS_VM_EXIT_CONTROLS, 23, 3},
        {VCORE_VMCS_VM_ENTRY_CONTROLS, 13, 4},
        {VCORE_VMCS_VM_ENTRY_CONTROLS, 16, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        teardown();
        setup();
        uint64_t ctl = 0; /* the reference vmcs12's controls (not yet loaded) */
        ck_assert_int_eq(vcore_vmcs12_get(page, cases[i].field, &ctl), VCORE_OK);
        ctl |= 1ull << cases[i].bit;
        set12(cases[i].field, ctl);
        load_vmcs12();
        l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_CONTROL, L1_RIP + 3);
        uint32_t allowed1 = cases[i].word == 3 ? VCORE_VMX_CHECK_EXIT_CTL_ALLOWED1 : VCORE_VMX_CHECK_ENTRY_CTL_ALLOWED1;
        ck_assert_uint_eq(last().check, allowed1);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
        teardown();
        setup();
        ck_assert_int_eq(vcore_nvmx_test_skip_check(nv, allowed1), VCORE_OK);
        set12(cases[i].field, ctl);
        load_vmcs12();
        push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_UNSUPPORTED);
        vcore_diag_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
        ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_PIPELINE_UNSUPPORTED);
        ck_assert_uint_eq(d.value, (cases[i].word << 8) | cases[i].bit);
    }
}
END_TEST

/* The secondary processor-based controls the vCPU pipeline runs for L2
 * (SDM Vol. 3, "Secondary Processor-Based VM-Execution Controls"), each
 * with its reason, and the ones it does not. */
#define P2_RUN ((1u << 0) |  /* virtualize APIC accesses: the host page behind L1's address */ \
                (1u << 1) |  /* enable EPT: shadow EPT (mock has INVEPT and host pages) */ \
                (1u << 2) |  /* descriptor-table exiting: exit reflection */            \
                (1u << 3) |  /* enable RDTSCP */                                         \
                (1u << 4) |  /* virtualize x2APIC mode: vmcs02's MSR bitmap, L1's page */  \
                (1u << 5) |  /* enable VPID: vmcs02 on the vCPU's vpid02 */              \
                (1u << 6) |  /* WBINVD exiting */                                        \
                (1u << 7) |  /* unrestricted guest: with EPT (ept02) */                  \
                (1u << 8) |  /* APIC-register virtualization: L1's virtual-APIC page */  \
                (1u << 9) |  /* virtual-interrupt delivery: RVI/SVI and EOI-exit bitmaps */ \
                (1u << 10) | /* PAUSE-loop exiting */                                    \
                (1u << 11) | /* RDRAND exiting */                                        \
                (1u << 12) | /* enable INVPCID */                                        \
                (1u << 13) | /* enable VM functions: EPTP switching by L0 */              \
                (1u << 14) | /* VMCS shadowing: L2's VMREAD/VMWRITE on L1's shadow VMCS */ \
                (1u << 16) | /* RDSEED exiting */                                        \
                (1u << 17) | /* enable PML: L1's log kept by L0's walk of L1's EPT */     \
                (1u << 20) | /* enable XSAVES/XRSTORS */                                 \
                (1u << 25) | /* use TSC scaling */                                       \
                (1u << 26))  /* enable user wait and pause */
/* Not run: every bit the emulated processor lacks. */

START_TEST(proc2_caps_match_the_pipeline)
{
    const uint64_t *m = vcore_nvmx_caps(nv)->msr;
    ck_assert_uint_eq((uint32_t)(m[VCORE_NVMX_CAP_PROCBASED2] >> 32), P2_RUN);
    ck_assert_uint_eq((uint32_t)m[VCORE_NVMX_CAP_PROCBASED2], 0); /* no secondary control must be 1 */
    /* "VPID and EPT Capabilities": EPT bits kept, VPID bits 32 (INVVPID) and
     * 43:40 (its four types) kept since "enable VPID" may be 1. */
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_EPT_VPID], 0x00000f0106334141ull);
    /* "VM Functions": EPTP switching (bit 0) is the one function offered. */
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_VMFUNC], 1);
    /* Posted interrupts (pin 7, processed by L0 with virtual-interrupt
     * delivery) are allowed-1, in the TRUE MSRs too; so is the TPR shadow
     * (primary 21). */
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_PINBASED] >> 32, 0xff);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_TRUE_PINBASED] >> 32, 0xff);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_PROCBASED] >> 32, 0xfff9fffe);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_TRUE_PROCBASED] >> 32, 0xfff9fffe);
}
END_TEST

/* Loop over all 32 secondary controls: an advertised bit is accepted by
 * VMLAUNCH (L2 runs and its CPUID exit reaches L1), any other is
 * VMfailValid 7 ("Checks on VMX Controls"). */
START_TEST(proc2_each_bit_launches_or_fails)
{
    uint32_t bit = 1u << _i;
    /* Virtualize x2APIC mode, APIC-register virtualization and
     * virtual-interrupt delivery need the TPR shadow, virtual-interrupt
     * delivery external-interrupt exiting, unrestricted guest and PML need
     * EPT ("Checks on VMX Controls"). */
    bool apic = bit == (1u << 4) || bit == (1u << 8) || bit == (1u << 9);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31) | (apic ? 1u << 21 : 0u));
    if (bit == (1u << 9))
        set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, 0x40000);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, bit == (1u << 7) || bit == (1u << 17) ? bit | (1u << 1) : bit);
    set12(VCORE_VMCS_EPT_POINTER, 0x5000 | 6 | (3 << 3)); /* WB, 4 levels */
    set12(VCORE_VMCS_VIRTUAL_PROCESSOR_ID, 1);            /* "enable VPID" needs VPID != 0 */
    load_vmcs12();
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> (32 + _i)) & 1u,
                      (P2_RUN & bit) != 0);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    if (P2_RUN & bit) {
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        ck_assert_uint_eq(regs().rip, HOST_RIP);
    } else {
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_CONTROL, L1_RIP + 3);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    }
}
END_TEST


/* ---- every row of the reflection table, from the SDM's list of exit causes ----
 * For each basic reason: who owns it with the reference vmcs12 (no optional
 * exiting control set), and the vmcs12 change that makes L1 want it
 * ("Instructions That Cause VM Exits Conditionally", "Other Causes of VM
 * Exits", "Exception Bitmap", "I/O-Bitmap Addresses", "MSR-Bitmap Address",
 * "Guest/Host Masks and Read Shadows for CR0 and CR4", "CR3-Target Controls").
 * pipe: the changed vmcs12 is one the pipeline runs (others are checked
 * through vcore_nvmx_exit_owner() only: the pipeline refuses them). */
typedef struct row {
    uint32_t reason;
    bool l1_default;
    uint32_t enc;      /* field to OR bits into (0: none) */
    uint64_t bits;
    uint32_t enc2;     /* a second field to set (0: none) */
    uint64_t val2;
    uint64_t qual;
    uint32_t intr;
    uint64_t gpr;      /* RAX: the MOV-to-CR source, or ECX for RDMSR/WRMSR */
    bool pipe;
} row_t;

#define PROC VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL
#define PIN VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL
#define P2 VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL
#define SEC(bit) PROC, (1ull << 31), P2, (1ull << (bit))

static const row_t rows[] = {
    {VCORE_VMX_EXIT_EXCEPTION_NMI, false, VCORE_VMCS_EXCEPTION_BITMAP, 1u << 6, 0, 0, 0, 0x80000306u, 0, true},
    {VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, false, 0, 0, 0, 0, 0, 0x80000020u, 0, true},
    {VCORE_VMX_EXIT_TRIPLE_FAULT, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_INIT, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_SIPI, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_IO_SMI, false, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_OTHER_SMI, false, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_INTERRUPT_WINDOW, false, PROC, 1u << 2, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_NMI_WINDOW, false, PROC, 1u << 22, PIN, 0x16 | 0x28, 0, 0, 0, true},
    {VCORE_VMX_EXIT_TASK_SWITCH, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_CPUID, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_GETSEC, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_HLT, false, PROC, 1u << 7, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_INVD, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_INVLPG, false, PROC, 1u << 9, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_RDPMC, false, PROC, 1u << 11, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_RDTSC, false, PROC, 1u << 12, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_RSM, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMCALL, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMCLEAR, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMLAUNCH, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMPTRLD, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMPTRST, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMREAD, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMRESUME, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMWRITE, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMXOFF, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_VMXON, true, 0, 0, 0, 0, 0, 0, 0, true},
    /* MOV to CR3 (qualification 3): CR3-load exiting */
    {VCORE_VMX_EXIT_CR_ACCESS, false, PROC, 1u << 15, 0, 0, 3, 0, 0x5000, true},
    {VCORE_VMX_EXIT_DR_ACCESS, false, PROC, 1u << 23, 0, 0, 0, 0, 0, true},
    /* OUT to port 60H, 1 byte */
    {VCORE_VMX_EXIT_IO_INSTRUCTION, false, PROC, 1u << 24, 0, 0, 0x60ull << 16, 0, 0, true},
    /* without "use MSR bitmaps" every RDMSR/WRMSR exits */
    {VCORE_VMX_EXIT_RDMSR, true, 0, 0, 0, 0, 0, 0, 0x10, true},
    {VCORE_VMX_EXIT_WRMSR, true, 0, 0, 0, 0, 0, 0, 0x10, true},
    {VCORE_VMX_EXIT_MWAIT, false, PROC, 1u << 10, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_MONITOR_TRAP_FLAG, false, PROC, 1u << 27, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_MONITOR, false, PROC, 1u << 29, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_PAUSE, false, PROC, 1u << 30, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_TPR_BELOW_THRESHOLD, false, PROC, 1u << 21, 0, 0, 0, 0, 0, false},
    {VCORE_VMX_EXIT_APIC_ACCESS, false, SEC(0), 0, 0, 0, false},
    {VCORE_VMX_EXIT_VIRTUALIZED_EOI, false, SEC(9), 0, 0, 0, false},
    {VCORE_VMX_EXIT_GDTR_IDTR_ACCESS, false, SEC(2), 0, 0, 0, true},
    {VCORE_VMX_EXIT_LDTR_TR_ACCESS, false, SEC(2), 0, 0, 0, true},
    {VCORE_VMX_EXIT_EPT_VIOLATION, false, SEC(1), 0, 0, 0, false},
    {VCORE_VMX_EXIT_EPT_MISCONFIG, false, SEC(1), 0, 0, 0, false},
    {VCORE_VMX_EXIT_INVEPT, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_RDTSCP, false, PROC, 1u << 12, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_PREEMPTION_TIMER, false, PIN, 1u << 6, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_INVVPID, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_WBINVD, false, SEC(6), 0, 0, 0, true},
    {VCORE_VMX_EXIT_XSETBV, true, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_APIC_WRITE, false, SEC(8), 0, 0, 0, false},
    {VCORE_VMX_EXIT_RDRAND, false, SEC(11), 0, 0, 0, true},
    /* INVPCID: "INVLPG exiting" with "enable INVPCID" */
    {VCORE_VMX_EXIT_INVPCID, false, PROC, (1ull << 31) | (1u << 9), P2, 1u << 12, 0, 0, 0, true},
    /* VMFUNC: without "enable VM functions" #UD in L2, not an exit ("VM Functions"); with it and
     * no VM-function control set (EAX 0 names a function that is 0), exit 59 to L1. */
    {VCORE_VMX_EXIT_VMFUNC, true, SEC(13), 0, 0, 0, true},
    {VCORE_VMX_EXIT_ENCLS, false, SEC(15), 0, 0, 0, false},
    {VCORE_VMX_EXIT_RDSEED, false, SEC(16), 0, 0, 0, true},
    {VCORE_VMX_EXIT_PML_FULL, false, SEC(17), 0, 0, 0, false},
    {VCORE_VMX_EXIT_XSAVES, false, SEC(20), 0, 0, 0, true},
    {VCORE_VMX_EXIT_XRSTORS, false, SEC(20), 0, 0, 0, true},
    {VCORE_VMX_EXIT_BUS_LOCK, false, 0, 0, 0, 0, 0, 0, 0, true},
    {VCORE_VMX_EXIT_NOTIFY, false, 0, 0, 0, 0, 0, 0, 0, true},
};

static void or12(uint32_t enc, uint64_t bits)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(page, enc, &v), VCORE_OK);
    set12(enc, v | bits);
}

static void apply_row(const row_t *r)
{
    if (r->enc)
        or12(r->enc, r->bits);
    if (r->enc2)
        or12(r->enc2, r->val2);
}

/* The pure decision on the vCPU's current vmcs12. */
static uint32_t owner_of(const row_t *r)
{
    vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
    ck_assert_int_eq(vcore_nvmx_mem_from_vm(vm, &mem), VCORE_OK);
    vcore_nvmx_l2_exit_t e = {.size = sizeof(e)};
    e.reason = r->reason;
    e.qualification = r->qual;
    e.intr_info = r->intr;
    e.msr_index = (uint32_t)r->gpr;
    e.gpr_value = r->gpr;
    vcore_nvmx_decision_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_exit_owner(nv, &mem, &e, &d), VCORE_OK);
    return d.owner;
}

/* Through the run loop: VMLAUNCH, L2 exits with the row's reason. Returns
 * the owner the pipeline chose; an exit L0 keeps either goes to the VMM
 * (F_L2) or, for host events, re-enters L2 (which then exits on CPUID). */
static uint32_t run_row(const row_t *r)
{
    vcore_x86_regs_t g = regs();
    g.gpr[VCORE_X86_RAX] = r->gpr;
    g.gpr[VCORE_X86_RCX] = r->gpr;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &g), VCORE_OK);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[3] = {r->qual, r->intr, 2};
    uint64_t reflected = last().reflected;
    /* vmcs12 as L1 left it, launched: what an exit L0 keeps must leave
     * (L1 sees nothing of an exit it does not get). */
    uint8_t before[VCORE_VMCS12_SIZE];
    memcpy(before, vcore_nvmx_vmcs12(nv), sizeof(before));
    before[VCORE_VMCS12_OFF_LAUNCH_STATE] = 1;
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, r->reason, 0, 3, enc, val);
    bool reenter = r->reason == VCORE_VMX_EXIT_EXTERNAL_INTERRUPT || r->reason == VCORE_VMX_EXIT_PREEMPTION_TIMER;
    if (reenter)
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    vcore_exit_t e = run();
    if (last().l0_handled) {
        ck_assert(reenter);
        ck_assert_uint_eq(last().l0_handled, 1);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        return VCORE_NVMX_OWNER_L0;
    }
    if (last().reflected > reflected) {
        ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), r->reason);
        assert_l1_host_state();
        return VCORE_NVMX_OWNER_L1;
    }
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.raw.reason, r->reason);
    ck_assert(last().in_l2);
    ck_assert_mem_eq(vcore_nvmx_vmcs12(nv), before, sizeof(before));
    return VCORE_NVMX_OWNER_L0;
}

START_TEST(every_reflection_row)
{
    const row_t *r = &rows[_i];
    /* The row exists in the library's table. */
    bool found = false;
    for (uint32_t i = 0; i < vcore_nvmx_rule_count(); i++) {
        vcore_nvmx_rule_info_t ri = {.size = sizeof(ri)};
        ck_assert_int_eq(vcore_nvmx_rule_at(i, &ri), VCORE_OK);
        found |= ri.reason == r->reason;
    }
    ck_assert(found);
    uint32_t want_default = r->l1_default ? VCORE_NVMX_OWNER_L1 : VCORE_NVMX_OWNER_L0;
    load_vmcs12();
    ck_assert_uint_eq(owner_of(r), want_default);
    if (r->reason != VCORE_VMX_EXIT_VMFUNC) /* #UD in L2 (test_nested_vmfunc.c) */
        ck_assert_uint_eq(run_row(r), want_default);
    if (!r->enc)
        return;
    /* With the control set, L1 wants it. */
    teardown();
    setup();
    apply_row(r);
    load_vmcs12();
    ck_assert_uint_eq(owner_of(r), VCORE_NVMX_OWNER_L1);
    if (r->pipe)
        ck_assert_uint_eq(run_row(r), VCORE_NVMX_OWNER_L1);
}
END_TEST

/* The finer rules of the conditional rows. */
static uint32_t decide(const vcore_nvmx_mem_t *mem, const vcore_nvmx_l2_exit_t *e, vcore_nvmx_decision_t *d)
{
    ck_assert_int_eq(vcore_nvmx_exit_owner(nv, mem, e, d), VCORE_OK);
    return d->owner;
}

START_TEST(conditional_rules)
{
    load_vmcs12();
    /* #PF, bit 14 set: exit iff PFEC & mask == match. */
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MASK, 1);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 1);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 25) | (1u << 28) | (1u << 15));
    set12(VCORE_VMCS_IO_BITMAP_A, IOBM_A);
    set12(VCORE_VMCS_IO_BITMAP_B, IOBM_B);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    set12(VCORE_VMCS_CR3_TARGET_COUNT, 1);
    set12(VCORE_VMCS_CR3_TARGET_VALUE0, 0x7000);
    set12(VCORE_VMCS_CR0_GUEST_HOST_MASK, 0x9); /* PE, TS owned by L1 */
    set12(VCORE_VMCS_CR0_READ_SHADOW, 0x8);     /* L2 believes PE = 0, TS = 1 */
    set12(VCORE_VMCS_CR4_GUEST_HOST_MASK, 0x2000);
    set12(VCORE_VMCS_CR4_READ_SHADOW, 0x2000);
    put(IOBM_A + 0x60 / 8, 1u << (0x60 % 8), 1);
    put(IOBM_B + 0x0 / 8, 1u << 1, 1);              /* port 8001H */
    put(MSRBM + 2048 + 0x10 / 8, 1u << (0x10 % 8), 1); /* WRMSR of TSC */
    put(MSRBM + 1024 + 0x80 / 8, 1u << (0x80 % 8), 1); /* RDMSR of C0000080H */
    load_vmcs12();
    vcore_nvmx_l2_exit_t e = {.size = sizeof(e)};
    vcore_nvmx_decision_t d = {.size = sizeof(d)};
    vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
    ck_assert_int_eq(vcore_nvmx_mem_from_vm(vm, &mem), VCORE_OK);
#define OWNER(reason_, qual_, intr_, err_, gpr_)                                                  \
    (e.reason = (reason_), e.qualification = (qual_), e.intr_info = (intr_), e.intr_error = (err_), \
     e.gpr_value = (gpr_), e.msr_index = (uint32_t)(gpr_), decide(&mem, &e, &d))
    const uint32_t L0 = VCORE_NVMX_OWNER_L0, L1 = VCORE_NVMX_OWNER_L1;
    ck_assert_uint_eq(OWNER(0, 0, 0x80000b0eu, 1, 0), L1);
    ck_assert_uint_eq(OWNER(0, 0, 0x80000b0eu, 0, 0), L0);
    ck_assert_uint_eq(d.field, VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH);
    /* NMI (type 2): "NMI exiting", not the exception bitmap. */
    ck_assert_uint_eq(OWNER(0, 0, 0x80000202u, 0, 0), L0);
    /* I/O bitmaps: bit of each byte accessed; wrap past FFFFH exits. */
    ck_assert_uint_eq(OWNER(30, 0x60ull << 16, 0, 0, 0), L1);
    ck_assert_uint_eq(OWNER(30, 0x61ull << 16, 0, 0, 0), L0);
    ck_assert_uint_eq(OWNER(30, (0x5full << 16) | 1, 0, 0, 0), L1); /* 2 bytes: 5FH, 60H */
    ck_assert_uint_eq(OWNER(30, 0x8001ull << 16, 0, 0, 0), L1);
    ck_assert_uint_eq(d.field, VCORE_VMCS_IO_BITMAP_B);
    ck_assert_uint_eq(OWNER(30, (0xffffull << 16) | 1, 0, 0, 0), L1);
    /* MSR bitmaps: write-low at 2048, read-high at 1024; outside the ranges: exit. */
    ck_assert_uint_eq(OWNER(32, 0, 0, 0, 0x10), L1);
    ck_assert_uint_eq(OWNER(31, 0, 0, 0, 0x10), L0);
    ck_assert_uint_eq(OWNER(31, 0, 0, 0, 0xc0000080u), L1);
    ck_assert_uint_eq(OWNER(32, 0, 0, 0, 0xc0000080u), L0);
    ck_assert_uint_eq(OWNER(31, 0, 0, 0, 0x40000000u), L1);
    /* CR3-load with a CR3-target value: no exit for the target. */
    ck_assert_uint_eq(OWNER(28, 3, 0, 0, 0x7000), L0);
    ck_assert_uint_eq(OWNER(28, 3, 0, 0, 0x8000), L1);
    /* MOV to CR0: a masked bit differing from the shadow exits. */
    ck_assert_uint_eq(OWNER(28, 0, 0, 0, 0x8), L0);
    ck_assert_uint_eq(OWNER(28, 0, 0, 0, 0x9), L1);
    ck_assert_uint_eq(OWNER(28, 0, 0, 0, 0x0), L1);
    ck_assert_uint_eq(OWNER(28, 4, 0, 0, 0x2020), L0);
    ck_assert_uint_eq(OWNER(28, 4, 0, 0, 0x20), L1);
    /* CLTS: TS owned by L1 and set in the shadow. */
    ck_assert_uint_eq(OWNER(28, 2u << 4, 0, 0, 0), L1);
    /* LMSW: setting PE that L1 owns and shadows as 0; keeping TS as shadowed does not exit. */
    ck_assert_uint_eq(OWNER(28, (3u << 4) | (0x9ull << 16), 0, 0, 0), L1);
    ck_assert_uint_eq(OWNER(28, (3u << 4) | (0x8ull << 16), 0, 0, 0), L0);
    /* MOV from CR3 without CR3-store exiting, MOV to CR8 without CR8-load exiting. */
    ck_assert_uint_eq(OWNER(28, (1u << 4) | 3, 0, 0, 0), L0);
    ck_assert_uint_eq(OWNER(28, 8, 0, 0, 0), L0);
    /* PAUSE-loop exiting counts at CPL 0 only. */
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1ull << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 10);
    load_vmcs12();
    e.cpl = 0;
    ck_assert_uint_eq(OWNER(40, 0, 0, 0, 0), L1);
    e.cpl = 3;
    ck_assert_uint_eq(OWNER(40, 0, 0, 0, 0), L0);
    /* Secondary controls without "activate secondary controls" act as 0. */
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 6);
    load_vmcs12();
    ck_assert_uint_eq(OWNER(54, 0, 0, 0, 0), L0);
#undef OWNER
}
END_TEST


/* CVE-2018-12904 class: VMLAUNCH at CPL 3 is #GP(0) before any check or entry. */
START_TEST(cve_2018_12904_vmlaunch_at_cpl3)
{
    load_vmcs12();
    vcore_x86_sregs_t sr = sregs();
    sr.seg[VCORE_X86_SS].ar |= 3u << VCORE_X86_AR_DPL_SHIFT;
    sr.seg[VCORE_X86_CS].selector |= 3;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 13);
    ck_assert_uint_eq(regs().rip, L1_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ALLOC), 0);
}
END_TEST

/* CVE-2021-29657 class (time of check / time of use): once VMPTRLD copied
 * the VMCS region, L1 writing the region in memory changes nothing; the
 * entry checks and vmcs02 use the copy. */
START_TEST(cve_2021_29657_vmcs12_not_reread)
{
    load_vmcs12();
    uint32_t zero = 0;
    uint64_t off = 0;
    /* Offset of the pin-based controls in the region = its vmcs12 offset. */
    vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, &fi), VCORE_OK);
    off = fi.offset;
    ck_assert_int_eq(vcore_vm_write_guest(vm, VMCS_GPA + off, &zero, 4), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL), 0x16);
}
END_TEST

/* CVE-2020-2732 class: an L2 instruction L1 intercepts goes to L1 before L0
 * does anything with it: MOV to CR0 under L1's mask is reflected, L1's CR0
 * is its host CR0, nothing of L2's value reaches L0's model. */
START_TEST(cve_2020_2732_l1_intercept_first)
{
    set12(VCORE_VMCS_CR0_GUEST_HOST_MASK, 1u << 31);
    set12(VCORE_VMCS_CR0_READ_SHADOW, 1u << 31);
    load_vmcs12();
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 0x00050033; /* L2 clears PG */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {0, 3}; /* MOV CR0, RAX */
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CR_ACCESS, 0, 2, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CR_ACCESS);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(last().field, VCORE_VMCS_CR0_GUEST_HOST_MASK);
    ck_assert_uint_eq(sregs().cr0, 0x80050033);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* CVE-2019-7221 class: L1's preemption timer lives in vmcs02 only; RESET
 * while L2 runs releases vmcs02 and the next run is L1's, with nothing of
 * the timer left to fire. */
START_TEST(cve_2019_7221_timer_gone_at_teardown)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 6));
    set12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, 1000);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL); /* L0's: to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    uint64_t t = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, NULL, &t), VCORE_OK);
    ck_assert_uint_eq(t, 1);
    ck_assert(last().in_l2);
    ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_FREE), 1);
    push_hlt();
    uint64_t enters = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), enters);
}
END_TEST

/* CVE-2018-16882 class: the library keeps no L1 page mapped for L2; a
 * changed bitmap address takes effect at the next decision (the new page is
 * read, the old one is not). */
START_TEST(cve_2018_16882_new_bitmap_address_used)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    put(MSRBM + 0x10 / 8, 1u << (0x10 % 8), 1); /* old bitmap: RDMSR TSC exits */
    load_vmcs12();
    vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
    ck_assert_int_eq(vcore_nvmx_mem_from_vm(vm, &mem), VCORE_OK);
    vcore_nvmx_l2_exit_t e = {.size = sizeof(e)};
    vcore_nvmx_decision_t d = {.size = sizeof(d)};
    e.reason = VCORE_VMX_EXIT_RDMSR;
    e.msr_index = 0x10;
    ck_assert_int_eq(vcore_nvmx_exit_owner(nv, &mem, &e, &d), VCORE_OK);
    ck_assert_uint_eq(d.owner, VCORE_NVMX_OWNER_L1);
    /* L1 points the bitmap elsewhere (a zero page) with VMWRITE. */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_MSR_BITMAP;
    r.gpr[VCORE_X86_RCX] = MSRBM + 0x1000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    ck_assert_int_eq(vcore_nvmx_exit_owner(nv, &mem, &e, &d), VCORE_OK);
    ck_assert_uint_eq(d.owner, VCORE_NVMX_OWNER_L0);
}
END_TEST

/* CVE-2023-30456 class: the CR0/CR4 consistency checks run on nested entry:
 * CR0.PG without CR0.PE is an invalid guest state (exit 33). */
START_TEST(cve_2023_30456_guest_cr0_checked)
{
    set12(VCORE_VMCS_GUEST_CR0, 0x80050032); /* PG, not PE */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000021u);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* CVE-2026-46032 class: a host CR3 L1 could not be restored to (beyond its
 * physical-address width) is refused at entry (VMfailValid 8), so no exit
 * can ever load it. */
START_TEST(cve_2026_46032_host_cr3_checked_at_entry)
{
    set12(VCORE_VMCS_HOST_CR3, 1ull << 40); /* MAXPHYADDR 40 */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_HOST, L1_RIP + 3);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST


/* "VMX-Preemption Timer": without "save VMX-preemption timer value" every
 * entry starts the timer from vmcs12's value; with it, L1 sees the value
 * the timer had at the exit and the next entry continues from there. */
START_TEST(preemption_timer_restart_and_save)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 6));
    set12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, 1000);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t w = 0, r = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, &r, &w), VCORE_OK);
    ck_assert_uint_eq(w, 2);
    ck_assert_uint_eq(r, 0);
    teardown();
    setup();
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 6));
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 22));
    set12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, 1000);
    load_vmcs12();
    uint32_t enc[2] = {VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {400, 2};
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 2, enc, val);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 400);
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, &r, &w), VCORE_OK);
    ck_assert_uint_eq(w, 1); /* only the first entry wrote it */
    ck_assert_uint_eq(r, 2); /* saved at both exits */
    uint32_t m[5] = {0x16 | (1u << 6), 0x04006172, 0, 1u << 22, 0x11fb}, l0[5] = {0}, out[5];
    vcore_nvmx_merge_controls(m, l0, out);
    ck_assert_uint_eq(out[3] & (1u << 22), 1u << 22);
}
END_TEST


/* An exit L0 keeps while L2 was delivering an event (here a host interrupt
 * during #BP delivery): the event goes back into L2 on the re-entry with
 * its type, vector and instruction length ("IDT-Vectoring Information",
 * "VM-Entry Controls for Event Injection"). */
START_TEST(event_reinjected_after_l0_exit)
{
    load_vmcs12();
    uint32_t enc[3] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_IDT_VECTORING_INFO_FIELD,
                       VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[3] = {0x80000020u, 0x80000603u, 1}; /* #BP, software exception, INT3 */
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, 0, 3, enc, val);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    const struct vcore_hw_vmcs *v02 = vcore_mock_vmcs_last_entered(vcpu);
    ck_assert_ptr_nonnull(v02);
    uint64_t x = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, &x), VCORE_OK);
    ck_assert_uint_eq(x, 0x80000603u);
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, &x), VCORE_OK);
    ck_assert_uint_eq(x, 1);
    ck_assert_uint_eq(last().l0_handled, 1);
    /* vmcs02 carries L2's state from vmcs12, and its merged controls. */
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_GUEST_RIP, &x), VCORE_OK);
    ck_assert_uint_eq(x, 0x401000);
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, &x), VCORE_OK);
    ck_assert_uint_eq(x & ((3u << 19) | (1u << 24) | (1u << 28)), (3u << 19) | (1u << 24) | (1u << 28));
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, &x), VCORE_OK);
    ck_assert_uint_eq(x & 9u, 9u);
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_VMCS_LINK_POINTER, &x), VCORE_OK);
    ck_assert_uint_eq(x, ~0ull);
}
END_TEST

/* An interrupt for the vCPU while L2 runs, L1 with "external-interrupt
 * exiting": exit 1 to L1; with "acknowledge interrupt on exit" the vector
 * is in the exit interruption information and the interrupt is taken,
 * without it the information is not valid and the interrupt stays pending. */
START_TEST(external_interrupt_to_l1_with_and_without_ack)
{
    for (int ack = 0; ack < 2; ack++) {
        if (ack) {
            teardown();
            setup();
        }
        set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
        set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (ack ? 1u << 15 : 0));
        load_vmcs12();
        push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL); /* to the VMM, L2 stays */
        vcore_exit_t e = run();
        ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
        ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
        uint64_t enters = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), enters); /* L2 did not run */
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), ack ? 0x80000030u : 0);
        vcore_x86_events_t ev = {.size = sizeof(ev)};
        ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
        ck_assert_uint_eq(ev.interrupt_pending, ack ? 0 : 1);
        assert_l1_host_state();
    }
}
END_TEST

/* An interrupt the VMM made pending while L1 ran with RFLAGS.IF = 0, then
 * L1's VMLAUNCH with "external-interrupt exiting": recognized right after
 * the entry, before L2 executes anything ("Event Blocking": RFLAGS.IF does
 * not block it in VMX non-root operation) - exit 1 to L1, the vector with
 * "acknowledge interrupt on exit", vmcs12 launched, L2's RIP as the entry
 * loaded it, vmcs02 never entered. Case 1: L2's blocking by MOV SS
 * (guest interruptibility bit 1) holds it off: L2 runs to its CPUID exit. */
START_TEST(interrupt_pending_at_vmlaunch)
{
    bool sti = _i != 0; /* blocking by MOV SS */
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 15));
    if (sti)
        set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, 2);
    load_vmcs12();
    ck_assert_uint_eq(regs().rflags & 0x200u, 0);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    if (sti)
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), (sti ? 1u : 0u));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON),
                      (sti ? VCORE_VMX_EXIT_CPUID : VCORE_VMX_EXIT_EXTERNAL_INTERRUPT));
    ck_assert_uint_eq(((const uint8_t *)vcore_nvmx_vmcs12(nv))[VCORE_VMCS12_OFF_LAUNCH_STATE], 1);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    if (sti) {
        ck_assert_uint_eq(ev.interrupt_pending, 1);
        return;
    }
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000030u);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(ev.interrupt_pending, 0);
    assert_l1_host_state();
}
END_TEST

/* An INIT for the vCPU while L2 runs (SDM Vol. 3, "Other Causes of VM
 * Exits": in VMX non-root operation INIT causes a VM exit, reason 3,
 * qualification 0, no register changed and no pending event cleared;
 * "Priority Among Events": INIT above external interrupts). Case 0: the
 * exit to L1 is taken by the next run before L2 executes anything, an
 * interrupt pending as well stays pending (L1's "external-interrupt
 * exiting" is on), L2's RBX is L1's after the exit as any GPR; until then
 * the nested state cannot be read (the exit is owed); a second INIT, now
 * in VMX root operation, is latched ("Restrictions on VMX Operation").
 * Case 1: L2 in the wait-for-SIPI activity state blocks INIT: latched,
 * and L2 goes on to its next exit. */
START_TEST(init_while_l2_runs)
{
    bool sipi = _i != 0;
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
    if (sipi)
        set12(VCORE_VMCS_GUEST_ACTIVITY_STATE, 3);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RBX] = 0x5151;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    uint64_t enters = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
    if (sipi) {
        ck_assert_uint_eq(d.id, VCORE_DIAG_INIT_LATCHED);
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), enters + 1);
        return;
    }
    ck_assert_uint_ne(d.id, VCORE_DIAG_INIT_LATCHED);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    static uint8_t blob[VCORE_KVM_NESTED_MAX_SIZE];
    uint32_t len = 0;
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &len), VCORE_ERR_STATE);
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_INIT_PENDING);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), enters); /* L2 did not run */
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_INIT);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], 0x5151);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 1);
    assert_l1_host_state();
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &len), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_INIT_LATCHED);
    assert_l1_host_state();
}
END_TEST

/* The same exit (external interrupt, "acknowledge interrupt on exit") with
 * a VM-exit MSR-load entry that cannot be loaded: "Loading MSRs" fails
 * after the host state, so the exit ends in a VMX abort ("VMX Aborts":
 * indicator 4 in the VMCS region, the logical processor shuts down). The
 * run returns the shutdown to the VMM; L2 is not entered again and the
 * interrupt was acknowledged with the exit. */
START_TEST(external_interrupt_exit_with_bad_msr_load_is_vmx_abort)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 15));
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, 1);
    set12(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, MSRLIST);
    put(MSRLIST, 0xc0000100u, 8); /* IA32_FS_BASE may not be in the VM-exit MSR-load list */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    uint64_t enters = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_SHUTDOWN);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), enters);
    ck_assert_uint_eq(vcore_mock_pending(vcpu), 0);
    uint32_t ind = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, VMCS_GPA + 4, &ind, 4), VCORE_OK);
    ck_assert_uint_eq(ind, 4);
    ck_assert_uint_eq(last().vmx_aborts, 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000030u);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 0);
}
END_TEST


/* vmcs02 takes L0's needs from vmcs01: its HLT exiting (OR), its EPT
 * (L2-physical = L1-physical), its #PF intercept (then every #PF exits:
 * mask = match = 0), its TSC offset plus L1's. */
static uint64_t peek02(const struct vcore_hw_vmcs *v02, uint32_t enc)
{
    uint64_t x = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, enc, &x), VCORE_OK);
    return x;
}

START_TEST(vmcs02_takes_l0_needs_from_vmcs01)
{
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, (1u << 3) | (1u << 7) | (1u << 31)),
                     VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_EPT_POINTER, 0xabc05e), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_TSC_OFFSET, 1000), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_VM_EXIT_CONTROLS, (1u << 9) | (1u << 15)), VCORE_OK);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 3));
    set12(VCORE_VMCS_TSC_OFFSET, 5);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 6);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MASK, 1);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 1);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    const struct vcore_hw_vmcs *v02 = vcore_mock_vmcs_last_entered(vcpu);
#define PEEK(f) peek02(v02, VCORE_VMCS_##f)
    ck_assert_uint_eq(PEEK(TSC_OFFSET), 1005);
    ck_assert_uint_eq(PEEK(EXCEPTION_BITMAP), (1u << 14) | (1u << 6));
    ck_assert_uint_eq(PEEK(PAGE_FAULT_ERROR_CODE_MASK), 0);
    ck_assert_uint_eq(PEEK(PAGE_FAULT_ERROR_CODE_MATCH), 0);
    ck_assert_uint_eq(PEEK(EPT_POINTER), 0xabc05e);
    ck_assert_uint_eq(PEEK(CPU_BASED_VM_EXEC_CONTROL) & ((1u << 3) | (1u << 7) | (1u << 31)), (1u << 3) | (1u << 7) | (1u << 31));
    ck_assert_uint_eq(PEEK(SECONDARY_VM_EXEC_CONTROL), 1u << 1);
    /* "save debug controls" and "load debug controls", "load IA32_PAT" and
     * "load IA32_EFER": vmcs02 always has them (rules ONE). */
    ck_assert_uint_eq(PEEK(VM_EXIT_CONTROLS), (1u << 2) | (1u << 9) | (1u << 15));
    ck_assert_uint_eq(PEEK(VM_ENTRY_CONTROLS), 0x000011fb | (1u << 2) | (1u << 9) | (1u << 14) | (1u << 15));
#undef PEEK
    /* vmcs01 was read, never written. */
    uint64_t w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, NULL, VCORE_VMCS_TSC_OFFSET, &w), VCORE_OK);
    ck_assert_uint_eq(w, 1000);
}
END_TEST

/* The test hook skips the deciding check: the next failure decides, by its
 * own class (here the VMCS link pointer: exit 33, qualification 4). */
START_TEST(skipped_check_lets_the_next_one_decide)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 5));
    set12(VCORE_VMCS_VMCS_LINK_POINTER, 0x1234); /* not 4-KByte aligned */
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    assert_vmfail_valid(VCORE_VMXERR_ENTRY_INVALID_CONTROL, L1_RIP + 3);
    ck_assert_int_eq(vcore_nvmx_test_skip_check(nv, last().check), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000021u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), VCORE_VMX_QUAL_LINK_POINTER);
    assert_l1_host_state();
    /* Skipping that one too: nothing else fails, the entry happens. */
    vcore_vmx_check_info_t ci = {.size = sizeof(ci)};
    ck_assert_int_eq(vcore_vmx_check_describe(last().check, &ci), VCORE_OK);
    ck_assert_uint_eq(ci.cls, VCORE_VMX_CLASS_EXIT_LINK);
}
END_TEST

/* A backend failure in the middle of the entry leaves nothing half done:
 * the run reports it, L1 is not in L2, and the next VMLAUNCH works. */
START_TEST(backend_failure_during_entry_is_clean)
{
    load_vmcs12();
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_VMCS_LOAD, VCORE_ERR_HWFAIL), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    ck_assert(!last().in_l2);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert_uint_eq(info.launch_state, 0);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_VMCS_ENTER, VCORE_ERR_HWFAIL), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    ck_assert(!last().in_l2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
}
END_TEST


/* ---- nested EPT: ept02 for vmcs02, EPT exits of L2, INVEPT ----
 * SDM Vol. 3, "EPT Translation Mechanism", "EPT Violations", "EPT
 * Misconfigurations", "Exit Qualification for EPT Violations", "INVEPT".
 * The hosted default host's physical addresses are its virtual ones, so
 * the test walks vmcs02's EPT the way the processor would. */
#define EPT12_PML4 0x50000u
#define EPT12_PDPT 0x51000u
#define EPT12_PD 0x52000u
#define EPT12_PT 0x53000u
#define EPTP12 (EPT12_PML4 | 6u | (3u << 3))

static void ept12_map(uint64_t l2, uint64_t leaf)
{
    put(EPT12_PML4 + ((l2 >> 39) & 511) * 8, EPT12_PDPT | 7, 8);
    put(EPT12_PDPT + ((l2 >> 30) & 511) * 8, EPT12_PD | 7, 8);
    put(EPT12_PD + ((l2 >> 21) & 511) * 8, EPT12_PT | 7, 8);
    put(EPT12_PT + ((l2 >> 12) & 511) * 8, leaf, 8);
}

static void vmcs12_with_ept(uint64_t eptp)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1);
    set12(VCORE_VMCS_EPT_POINTER, eptp);
}

/* Walks the EPT at eptp02 (host memory) for gpa: the leaf entry, 0 if none. */
static uint64_t walk02(uint64_t eptp02, uint64_t gpa, uint64_t *size)
{
    const uint64_t *t = (const uint64_t *)(uintptr_t)(eptp02 & 0x000ffffffffff000ull);
    for (int l = 4; l >= 1; l--) {
        uint64_t e = t[(gpa >> (12 + 9 * (l - 1))) & 511];
        if (!(e & 7))
            return 0;
        if (l == 1 || (e & (1u << 7))) {
            *size = 1ull << (12 + 9 * (l - 1));
            return e;
        }
        t = (const uint64_t *)(uintptr_t)(e & 0x000ffffffffff000ull);
    }
    return 0;
}

static void push_ept_exit(uint32_t reason, uint64_t qual, uint64_t gpa, uint64_t gla)
{
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS};
    uint64_t val[3] = {qual, gpa, gla};
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, 3, enc, val);
}

static uint64_t eptp02_of_last_entry(void)
{
    const struct vcore_hw_vmcs *v02 = vcore_mock_vmcs_last_entered(vcpu);
    ck_assert_ptr_nonnull(v02);
    uint64_t x = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, &x), VCORE_OK);
    ck_assert_uint_eq(x & 2u, 2u); /* enable EPT in vmcs02 */
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_EPT_POINTER, &x), VCORE_OK);
    return x;
}

/* ept12 maps the page: L0 fills ept02 and L2 resumes; L1 sees only the
 * exit after it (CPUID). vmcs02 runs on ept02, never on L1's pointer. */
START_TEST(nested_ept_l0_fills_ept02)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0x1000, 0x60000 | 7 | (6u << 3));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u | (1u << 7) | (1u << 8), 0x1234, 0x401234);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 1);
    ck_assert_uint_eq(l.reflected, 1);
    uint64_t eptp02 = eptp02_of_last_entry();
    ck_assert_uint_ne(eptp02, EPTP12);
    ck_assert_uint_eq(eptp02 & 0xfff, 0x1e); /* WB, 4 levels, no A/D */
    uint64_t size = 0;
    uint64_t leaf = walk02(eptp02, 0x1234, &size);
    ck_assert_uint_eq(leaf & 0x000ffffffffff000ull, (uint64_t)(uintptr_t)(ram + 0x60000));
    /* RWX, WB (6 << 3), IPAT 0, bit 7 clear in a 4 KiB leaf. */
    ck_assert_uint_eq(leaf & 0xff, 0x37);
    ck_assert_uint_eq(size, 4096);
    ck_assert_uint_eq(walk02(eptp02, 0x2000, &size), 0);
    /* Nothing of L0's fault reached the processor's INVEPT: ept02 only grew. */
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 0);
}
END_TEST

/* ept12 does not map the page, or denies the access: exit 48 to L1 with the
 * SDM qualification and the L2 guest-physical and linear addresses. */
START_TEST(nested_ept_violation_reflected)
{
    const vcore_nvmx_caps_t *caps = vcore_nvmx_caps(nv);
    ck_assert_ptr_nonnull(caps);
    uint64_t adv = (caps->msr[VCORE_NVMX_CAP_EPT_VPID] >> 22) & 1u;
    vmcs12_with_ept(EPTP12);
    ept12_map(0x3000, 0x61000 | 1 | (6u << 3)); /* read-only */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    /* A write to 0x7000 (not mapped): bits 2:0 = 2, 5:3 = 0. */
    uint64_t hw = 2u | (1u << 7) | (1u << 8) | (3u << 9) | (1u << 12);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, hw, 0x7008, 0x407008);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION),
                      2u | (1u << 7) | (1u << 8) | (1u << 12) | (adv ? (3u << 9) : 0u));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), 0x7008);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), 0x407008);
    assert_l1_host_state();
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
    /* A write to the read-only page: bits 5:3 = 001 (readable). */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 2u, 0x3010, 0);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2u | (1u << 3));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), 0x3010);
}
END_TEST

/* An EPT violation while L2 delivered a software interrupt (INT 80H, type 4,
 * 2 bytes): L1 gets the IDT-vectoring information and the instruction's
 * length ("Information for VM Exits That Occur During Event Delivery"). */
START_TEST(nested_ept_violation_during_software_interrupt)
{
    vmcs12_with_ept(EPTP12);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[5] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS, VCORE_VMCS_IDT_VECTORING_INFO_FIELD,
                       VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[5] = {2u | (1u << 7) | (1u << 8), 0x6000, 0x406000, 0x80000480u, 2};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 5, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0x80000480u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2u | (1u << 7) | (1u << 8));
}
END_TEST

/* ept12 misconfigured (write without read): exit 49 to L1, no qualification. */
START_TEST(nested_ept_misconfig_reflected)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0x5000, 0x62000 | 2 | (6u << 3));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u | (1u << 7) | (1u << 8), 0x5000, 0x405000);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_MISCONFIG);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), 0x5000);
    ck_assert_uint_eq(last().exit_reason, VCORE_VMX_EXIT_EPT_MISCONFIG);
    assert_l1_host_state();
}
END_TEST

/* ept12 maps the page to an L1 address without memory: the VMM's (MMIO of L2). */
START_TEST(nested_ept_l0_mmio_goes_to_vmm)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0x9000, 0xfee00000ull | 7 | (0u << 3));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 2u | (1u << 7) | (1u << 8), 0x90f0, 0x4090f0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.raw.reason, VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(e.raw.data[0], 0x90f0);
    ck_assert_uint_eq(e.raw.data[1], 0xfee000f0ull);
    ck_assert_uint_eq(last().reflected, 0);
    ck_assert(last().in_l2);
}
END_TEST

/* The same with a MOV the VMM can complete: L2's paging structures and
 * code are at L2 guest-physical addresses ept12 maps elsewhere in L1
 * memory (code: L2 0x70000 -> L1 0x74000), so the instruction is fetched
 * through L2's paging and ept12. MOV ECX, [RBX] (8B 0B) reads 4 bytes at
 * L1-physical 0xfee000f0 (SDM "Exit Qualification for EPT Violations":
 * bit 0 read, bits 7 and 8 the linear address's translation). The reply
 * zero-extends into RCX, RIP moves past the 2 bytes, L1 sees nothing. */
START_TEST(nested_ept_l0_mmio_decoded_for_vmm)
{
    static const uint8_t mov[] = {0x8b, 0x0b};
    static const uint8_t junk[] = {0x90, 0x90};
    vmcs12_with_ept(EPTP12);
    set12(VCORE_VMCS_GUEST_RIP, 0x70000);
    for (uint64_t pt = PML4; pt <= PD; pt += 0x1000)
        ept12_map(pt, pt | 7 | (6u << 3));
    ept12_map(0x70000, 0x74000 | 7 | (6u << 3));
    ept12_map(0x9000, 0xfee00000ull | 7 | (0u << 3));
    ck_assert_int_eq(vcore_vm_write_guest(vm, 0x74000, mov, sizeof(mov)), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(vm, 0x70000, junk, sizeof(junk)), VCORE_OK);
    vcore_x86_regs_t g = regs();
    g.gpr[VCORE_X86_RCX] = ~0ull;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &g), VCORE_OK);
    load_vmcs12();
    uint8_t before[VCORE_VMCS12_SIZE];
    memcpy(before, vcore_nvmx_vmcs12(nv), sizeof(before));
    before[VCORE_VMCS12_OFF_LAUNCH_STATE] = 1;
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u | (1u << 7) | (1u << 8), 0x90f0, 0x4090f0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.mmio.gpa, 0xfee000f0ull);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    ck_assert_uint_eq(e.u.mmio.is_write, 0);
    ck_assert_uint_eq(e.raw.data[1], 0xfee000f0ull);
    ck_assert_uint_eq(e.raw.data[5], 0x90f0);
    ck_assert_mem_eq(vcore_nvmx_vmcs12(nv), before, sizeof(before));
    e.u.mmio.data[0] = 0x78;
    e.u.mmio.data[1] = 0x56;
    e.u.mmio.data[2] = 0x34;
    e.u.mmio.data[3] = 0x12;
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x12345678ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x70002);
}
END_TEST

/* REP OUTSB of L2 with L1's EPT: the code (L2 0x70000 -> L1 0x74000) and
 * the string (L2 0x80000 -> L1 0x85000) are found through L2's paging and
 * ept12 ("EPT Translation Mechanism"); the VMM gets L1 0x85000's bytes. */
START_TEST(nested_ept_string_io_through_ept12)
{
    static const uint8_t outsb[] = {0xf3, 0x6e};
    vmcs12_with_ept(EPTP12);
    set12(VCORE_VMCS_GUEST_RIP, 0x70000);
    for (uint64_t pt = PML4; pt <= PD; pt += 0x1000)
        ept12_map(pt, pt | 7 | (6u << 3));
    ept12_map(0x70000, 0x74000 | 7 | (6u << 3));
    ept12_map(0x80000, 0x85000 | 7 | (6u << 3));
    ck_assert_int_eq(vcore_vm_write_guest(vm, 0x74000, outsb, sizeof(outsb)), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(vm, 0x85000, "xyz", 3), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(vm, 0x80000, "abc", 3), VCORE_OK);
    vcore_x86_regs_t g = regs();
    g.gpr[VCORE_X86_RSI] = 0x80000;
    g.gpr[VCORE_X86_RCX] = 3;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &g), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {(0x80ull << 16) | 0x10u | 0x20u, 2};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_INSTRUCTION, 0, 2, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.io.count, 3);
    ck_assert_mem_eq(e.u.io.data, "xyz", 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x70002);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RSI], 0x80003);
}
END_TEST

/* The first element of L2's string I/O and L1's EPT ("EPT Violations",
 * "Exit Qualification for EPT Violations", "Accessed and Dirty Flags for
 * EPT"): ept12 not mapping the element, or denying the access, is exit 48
 * to L1 with bits 2:0 the access (read for OUTS, write for INS), 5:3 what
 * ept12 grants, 7 (linear address valid) and 8 (the access was to the
 * translation) set, the L2 guest-physical and linear addresses; a
 * paging-structure entry of L2 ept12 does not map is the same exit with
 * bit 8 clear, and with EPT A/D (EPTP bit 6) the access counts as a write
 * too (bits 0 and 1). A misconfigured leaf is exit 49. */
typedef struct ept_string_case {
    uint8_t opcode;     /* 6C INSB, 6E OUTSB */
    uint64_t eptp;
    uint64_t data_leaf; /* ept12 leaf of L2 0x80000; 0: not present */
    bool pd_unmapped;   /* the element is at 0x40080000, whose PD (L2 0x3a000) ept12 does not map */
    uint32_t reason;
    uint64_t qual, gpa;
} ept_string_case_t;
#define EPT_LEAF(pa, rwx) ((pa) | (rwx) | (6u << 3))
static const ept_string_case_t ept_string_cases[] = {
    {0x6e, EPTP12, 0, false, VCORE_VMX_EXIT_EPT_VIOLATION, 0x181, 0x80000},
    {0x6c, EPTP12, EPT_LEAF(0x85000, 5), false, VCORE_VMX_EXIT_EPT_VIOLATION, 0x182 | (5u << 3), 0x80000},
    {0x6e, EPTP12, EPT_LEAF(0x85000, 7), true, VCORE_VMX_EXIT_EPT_VIOLATION, 0x81, 0x3a000},
    {0x6e, EPTP12 | (1u << 6), EPT_LEAF(0x85000, 7), true, VCORE_VMX_EXIT_EPT_VIOLATION, 0x83, 0x3a000},
    {0x6c, EPTP12, 0x85000 | 2u, false, VCORE_VMX_EXIT_EPT_MISCONFIG, 0, 0x80000}, /* write without read */
    /* ept12 allows it, but L0 has no memory at L1 0x1f000000 (an MMIO string): the VMM's, raw */
    {0x6e, EPTP12, EPT_LEAF(0x1f000000, 7), false, 0, 0, 0},
};

START_TEST(nested_ept_string_first_element_exits_to_l1)
{
    const ept_string_case_t *c = &ept_string_cases[_i];
    uint8_t insn[1] = {c->opcode};
    bool in = c->opcode == 0x6c;
    vmcs12_with_ept(c->eptp);
    set12(VCORE_VMCS_GUEST_RIP, 0x70000);
    for (uint64_t pt = PML4; pt <= PD; pt += 0x1000)
        ept12_map(pt, pt | 7 | (6u << 3));
    ept12_map(0x70000, 0x74000 | 7 | (6u << 3));
    if (c->data_leaf)
        ept12_map(0x80000, c->data_leaf);
    uint64_t la = 0x80000;
    if (c->pd_unmapped) {
        put(PDPT + 8, 0x3a000 | 3, 8); /* 1-2 GiB: a PD at L2 0x3a000 */
        put(0x3a000, 0x83, 8);
        la = 0x40080000;
    }
    ck_assert_int_eq(vcore_vm_write_guest(vm, 0x74000, insn, 1), VCORE_OK);
    vcore_x86_regs_t g = regs();
    g.gpr[in ? VCORE_X86_RDI : VCORE_X86_RSI] = la;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &g), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {(0x80ull << 16) | 0x10u | (in ? 8u : 0u), 1};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_INSTRUCTION, 0, 2, enc, val);
    if (!c->reason) {
        vcore_exit_t e = run();
        ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
        ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
        ck_assert_uint_eq(e.raw.reason, VCORE_VMX_EXIT_IO_INSTRUCTION);
        ck_assert(last().in_l2);
        return;
    }
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), c->reason);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), c->qual);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), c->gpa);
    if (c->reason == VCORE_VMX_EXIT_EPT_VIOLATION)
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), la);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x70000);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    vcore_nvmx_last_t l = last();
    ck_assert(!l.in_l2);
    ck_assert_uint_eq(l.reflected, 1);
}
END_TEST

/* L1's page-modification log and the dirty flags L0 sets while it performs
 * L2's INSB itself ("Page-Modification Logging": before an access that
 * must set an EPT accessed or dirty flag the index is examined - outside
 * 0-511 it is a log-full event, VM exit 62, no flag set and the access not
 * done; in range the flags are set and a dirty flag set 0 to 1 writes the
 * 4-KByte-aligned guest-physical address at PML address + 8 * index and
 * lowers the index; "Exit Qualification for Page-Modification Log Full":
 * bit 12 only, not an IRET here). Every ept12 entry L2's paging and code
 * use has its flags set already (the processor's fetch of the INSB set
 * them), so only the element's page (L2 0x80000,
 * L1 0x85000, clean) can log. Case 0: index 5, the entry lands at 5, the
 * index is 4 at the next exit to L1, the byte is written. Case 1: index
 * FFFFH, exit 62 to L1 at the INSB, nothing written, the leaf still clean.
 * Case 2: as 0 with the page holding L2's PD clean too. */
#define PIPE_PML_LOG 0x58000u
START_TEST(nested_ept_string_ins_logs_pml)
{
    static const uint8_t insb[] = {0x6c};
    bool full = _i == 1, ps_clean = _i == 2;
    uint64_t ad = (1ull << 8) | (1ull << 9);
    vmcs12_with_ept(EPTP12 | (1u << 6));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, (1u << 1) | (1u << 17));
    set12(VCORE_VMCS_PML_ADDRESS, PIPE_PML_LOG);
    set12(VCORE_VMCS_GUEST_PML_INDEX, full ? 0xffff : 5);
    set12(VCORE_VMCS_GUEST_RIP, 0x70000);
    for (uint64_t pt = PML4; pt <= PD; pt += 0x1000)
        ept12_map(pt, pt | 7 | (6u << 3) | (ps_clean && pt == PD ? 0u : ad));
    ept12_map(0x70000, 0x74000 | 7 | (6u << 3) | ad);
    ept12_map(0x80000, 0x85000 | 7 | (6u << 3));
    /* the non-leaf entries of all of them (PML4E, PDPTE, PDE 0) accessed */
    put(EPT12_PML4, EPT12_PDPT | 7 | (1u << 8), 8);
    put(EPT12_PDPT, EPT12_PD | 7 | (1u << 8), 8);
    put(EPT12_PD, EPT12_PT | 7 | (1u << 8), 8);
    ck_assert_int_eq(vcore_vm_write_guest(vm, 0x74000, insb, sizeof(insb)), VCORE_OK);
    vcore_x86_regs_t g = regs();
    g.gpr[VCORE_X86_RDI] = 0x80000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &g), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {(0x80ull << 16) | 0x10u | 8u, 1};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_INSTRUCTION, 0, 2, enc, val);
    uint64_t leaf12 = 0, logged = 0;
    if (full) {
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_PML_FULL);
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x70000);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 0xffff);
        memcpy(&leaf12, ram + EPT12_PT + 0x80 * 8, 8);
        ck_assert_uint_eq(leaf12 & ad, 0);
        for (uint32_t i = 0; i < 512; i++) {
            memcpy(&logged, ram + PIPE_PML_LOG + 8 * i, 8);
            ck_assert_uint_eq(logged, 0);
        }
        return;
    }
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.is_in, 1);
    e.u.io.data[0] = 0x5a;
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(ram[0x85000], 0x5a);
    memcpy(&leaf12, ram + EPT12_PT + 0x80 * 8, 8);
    ck_assert_uint_eq(leaf12 & ad, ad);
    uint16_t at = 5;
    if (ps_clean) {
        /* L0's walk of L2's paging reads the PD through ept12 first:
         * with EPT A/D that counts as a write ("Accessed and Dirty Flags
         * for EPT"), its dirty flag is set and logged before the element's. */
        memcpy(&logged, ram + PIPE_PML_LOG + 8 * at--, 8);
        ck_assert_uint_eq(logged, PD);
    }
    memcpy(&logged, ram + PIPE_PML_LOG + 8 * at--, 8);
    ck_assert_uint_eq(logged, 0x80000);
    memcpy(&logged, ram + PIPE_PML_LOG + 8 * at, 8);
    ck_assert_uint_eq(logged, 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), at);
}
END_TEST

/* EPT A/D of L1 for L2's paging-structure accesses ("Accessed and Dirty
 * Flags for EPT": with EPTP bit 6, accesses to guest paging-structure
 * entries are treated as writes; "EPT Violations" / "Exit Qualification for
 * EPT Violations": such an access that faults sets bits 0 and 1, bit 7, and
 * leaves bit 8 clear). L2 first reads data in the page holding its PD (L2
 * 0x3000): a clean ept12 leaf is installed read-only. Then the processor
 * walks L2's paging through that page: with bit 6 in ept02's pointer it
 * faults as a write, L0 sets the dirty flag of L1's leaf and gives ept02's
 * leaf write access; L1 sees neither fault. */
START_TEST(nested_ept_ad_paging_structure_access_sets_dirty)
{
    vmcs12_with_ept(EPTP12 | (1u << 6));
    ept12_map(0x3000, 0x3000 | 7 | (6u << 3)); /* clean: D (bit 9) clear */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u | (1u << 7) | (1u << 8), 0x3008, 0x403008);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t eptp02 = eptp02_of_last_entry();
    ck_assert_uint_eq(eptp02 & 0xfff, 0x5e); /* WB, 4 levels, A/D (bit 6) */
    uint64_t size = 0, leaf12 = 0;
    ck_assert_uint_eq(walk02(eptp02, 0x3000, &size) & 7u, 5u); /* R, X: no write yet */
    memcpy(&leaf12, ram + EPT12_PT + 3 * 8, 8);
    ck_assert_uint_eq(leaf12 & (3u << 8), 1u << 8); /* accessed, not dirty */

    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 3u | (1u << 7), 0x3000, 0x7fff000);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    memcpy(&leaf12, ram + EPT12_PT + 3 * 8, 8);
    ck_assert_uint_eq(leaf12 & (3u << 8), 3u << 8); /* accessed and dirty */
    ck_assert_uint_eq(walk02(eptp02_of_last_entry(), 0x3000, &size) & 7u, 7u);
    vcore_nvmx_last_t l = last(); /* counts since the vCPU was made */
    ck_assert_uint_eq(l.l0_handled, 2);
    ck_assert_uint_eq(l.reflected, 2);
}
END_TEST

/* Without EPTP bit 6 in L1's pointer, ept02's has none either and nothing
 * is ever written to L1's EPT: the entries stay byte for byte. */
START_TEST(nested_ept_without_ad_leaves_ept12_alone)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0x3000, 0x3000 | 7 | (6u << 3));
    uint8_t before[0x4000];
    memcpy(before, ram + EPT12_PML4, sizeof(before));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u | (1u << 7), 0x3000, 0x7fff000);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 2u | (1u << 7) | (1u << 8), 0x3008, 0x403008);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t eptp02 = eptp02_of_last_entry(), size = 0;
    ck_assert_uint_eq(eptp02 & 0xfff, 0x1e);
    ck_assert_uint_eq(walk02(eptp02, 0x3000, &size) & 7u, 7u);
    ck_assert_mem_eq(ram + EPT12_PML4, before, sizeof(before));
    ck_assert_uint_eq(last().l0_handled, 2);
}
END_TEST

/* L1's INVEPT drops exactly the ept02 it names; VMXOFF drops all. */
START_TEST(nested_ept_invept_from_l1)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0x1000, 0x60000 | 7 | (6u << 3));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, 0x1000, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t eptp02 = eptp02_of_last_entry();
    uint64_t size;
    ck_assert_uint_ne(walk02(eptp02, 0x1000, &size), 0);
    /* INVEPT type in RAX (operand 2 = register 0), descriptor at [RBX]. */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 1;
    r.gpr[VCORE_X86_RBX] = OPND_GPA;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    put(OPND_GPA, 0x70000 | 6 | (3u << 3), 8); /* another EPTP: nothing of ept02 goes */
    put(OPND_GPA + 8, 0, 8);
    l1_insn(VCORE_NVMX_INVEPT, MEM_RBX, 5);
    ck_assert_uint_eq(regs().rflags & 0x41u, 0); /* VMsucceed */
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 0);
    ck_assert_uint_ne(walk02(eptp02, 0x1000, &size), 0);
    /* Single-context on L1's EPTP: that ept02 is invalidated on the processor. */
    put(OPND_GPA, EPTP12, 8);
    l1_insn(VCORE_NVMX_INVEPT, MEM_RBX, 5);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 1);
    uint64_t inv = 0;
    ck_assert_int_eq(vcore_mock_last_invept(vcpu, &inv), VCORE_OK);
    ck_assert_uint_eq(inv, eptp02);
    /* A single-context INVEPT with a reserved EPTP memory type: VMfailValid(28), nothing invalidated. */
    put(OPND_GPA, 0x50000 | 2 | (3u << 3), 8);
    l1_insn(VCORE_NVMX_INVEPT, MEM_RBX, 5);
    ck_assert_uint_eq(regs().rflags & 0x41u, 0x40u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 28);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 1);
    /* L2 again: ept02 rebuilt from an empty table. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, 0x1000, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    eptp02 = eptp02_of_last_entry();
    ck_assert_uint_ne(walk02(eptp02, 0x1000, &size), 0);
    /* All-context. */
    r = regs();
    r.gpr[VCORE_X86_RAX] = 2;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_INVEPT, MEM_RBX, 5);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 2);
    /* VMXOFF with an ept02 built: dropped. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, 0x1000, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    l1_insn(VCORE_NVMX_VMXOFF, 0, 3);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 3);
}
END_TEST

/* L1 switching EPTP: vmcs02 follows; memory L0 unmaps drops every ept02. */
START_TEST(nested_ept_eptp_switch_and_unmap)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0x1000, 0x60000 | 7 | (6u << 3));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, 0x1000, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t a = eptp02_of_last_entry();
    /* L1 writes another EPTP (VMWRITE 201AH): a fresh ept02 for it. */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 0x70000 | 6 | (3u << 3);
    r.gpr[VCORE_X86_RCX] = VCORE_VMCS_EPT_POINTER;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (0u << 3) | (1u << 28), 3); /* VMWRITE rcx, rax */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t b = eptp02_of_last_entry();
    ck_assert_uint_ne(a, b);
    uint64_t size;
    ck_assert_uint_eq(walk02(b, 0x1000, &size), 0);
    /* Back to the first: its translations are kept (cached per EPTP until INVEPT). */
    r = regs();
    r.gpr[VCORE_X86_RAX] = EPTP12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (0u << 3) | (1u << 28), 3);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(eptp02_of_last_entry(), a);
    ck_assert_uint_ne(walk02(a, 0x1000, &size), 0);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 0);
    /* L0 unmaps memory: every ept02 goes before L2 runs again. */
    static uint8_t extra[4096] __attribute__((aligned(4096)));
    vcore_mem_region_t x = {.size = sizeof(x), .gpa = 0x10000000, .len = 4096, .hva = extra};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &x), VCORE_OK);
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0x10000000), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 2);
    ck_assert_uint_eq(walk02(eptp02_of_last_entry(), 0x1000, &size), 0);
}
END_TEST

/* L1's EPT is in use only when both controls say so: SDM Vol. 3,
 * "Primary Processor-Based VM-Execution Controls" (activate secondary
 * controls, bit 31: "If this control is 0, the logical processor operates
 * as if all the secondary processor-based VM-execution controls were also
 * 0") and "Secondary Processor-Based VM-Execution Controls" (enable EPT,
 * bit 1). Otherwise L2-physical is L1-physical: vmcs02 keeps L0's own EPT
 * pointer from vmcs01 and no ept02 is built. */
static void ept_controls_run(uint32_t proc, uint32_t proc2)
{
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_EPT_POINTER, 0xabc05e), VCORE_OK);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, proc);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, proc2);
    set12(VCORE_VMCS_EPT_POINTER, EPTP12);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(peek02(vcore_mock_vmcs_last_entered(vcpu), VCORE_VMCS_EPT_POINTER), 0xabc05e);
}

START_TEST(nested_ept_off_without_activate_secondary)
{
    ept_controls_run(0x04006172, 1u << 1); /* enable EPT set, secondary controls not activated */
}
END_TEST

START_TEST(nested_ept_off_without_enable_ept)
{
    ept_controls_run(0x04006172 | (1u << 31), 0); /* secondary controls active, enable EPT clear */
}
END_TEST

/* A failed INVEPT leaves stale translations of an ept02 the processor may
 * still use (SDM Vol. 3, "Invalidation of TLBs and Paging-Structure
 * Caches", "INVEPT"): L2 must not run on it. Here L0 unmapped memory, so
 * every ept02 must be invalidated before L2's next entry; the processor's
 * INVEPT fails: the run fails and vmcs02 is not entered. */
START_TEST(nested_ept_failed_invept_stops_l2)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0x1000, 0x60000 | 7 | (6u << 3));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, 0x1000, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    static uint8_t extra[4096] __attribute__((aligned(4096)));
    vcore_mem_region_t x = {.size = sizeof(x), .gpa = 0x10000000, .len = 4096, .hva = extra};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &x), VCORE_OK);
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0x10000000), VCORE_OK);
    uint64_t entries = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_INVEPT, VCORE_ERR_HWFAIL), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), entries);
}
END_TEST

/* ept02's pool comes from the host's pages at the first entry with L1's
 * EPT and goes back, whole, when the vCPU goes; a vCPU that never used L1's
 * EPT gives back nothing it did not take. */
static long ept_pages_out;

static void *ept_count_alloc(void *ctx, size_t count, uint64_t *phys)
{
    void *p = vcore_host_default()->alloc_pages(ctx, count, phys);
    if (p)
        ept_pages_out += (long)count;
    return p;
}

static void ept_count_free(void *ctx, void *va, size_t count)
{
    ck_assert_ptr_nonnull(va);
    ept_pages_out -= (long)count;
    vcore_host_default()->free_pages(ctx, va, count);
}

static void ept_pool_run(bool with_ept)
{
    static vcore_host_t h;
    h = *vcore_host_default();
    h.alloc_pages = ept_count_alloc;
    h.free_pages = ept_count_free;
    vcore_vm_destroy(vm);
    ept_pages_out = 0;
    setup_on(&h);
    if (with_ept) {
        vmcs12_with_ept(EPTP12);
        ept12_map(0x1000, 0x60000 | 7 | (6u << 3));
    }
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    if (with_ept)
        push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, 0x1000, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    long held = ept_pages_out;
    vcore_vm_destroy(vm);
    ck_assert_int_eq(ept_pages_out, 0);
    setup_on(NULL); /* for teardown */
    if (with_ept)
        ck_assert_int_gt(held, 0);
}

START_TEST(nested_ept_pool_returned_at_teardown)
{
    ept_pool_run(true);
}
END_TEST

START_TEST(nested_no_ept_no_pool)
{
    ept_pool_run(false);
}
END_TEST

/* L0's view of L1 memory gives a 2 MiB page where the VM's region backs
 * the whole aligned 2 MiB with physically contiguous memory, 4 KiB pages
 * otherwise (vcpu_nested_ept.c); ept02's leaf is the smaller of L1's and
 * L0's pages ("EPT Translation Mechanism": a PDE with bit 7 set maps a
 * 2-MByte page). The host here translates every address as it is, except
 * the page just past the 2 MiB region: no contiguity may be read from it. */
static uint8_t big_region[4u << 20] __attribute__((aligned(2u << 20)));

static uint64_t big_virt_to_phys(void *ctx, const void *va)
{
    (void)ctx;
    if ((const uint8_t *)va == big_region + (2u << 20))
        return 0x7000000000ull; /* another allocation's page */
    return (uint64_t)(uintptr_t)va;
}

static uint64_t big_region_run(uint64_t region_len)
{
    static vcore_host_t h;
    h = *vcore_host_default();
    h.virt_to_phys = big_virt_to_phys;
    vcore_vm_destroy(vm);
    setup_on(&h);
    vcore_mem_region_t x = {.size = sizeof(x), .gpa = 0x200000, .len = region_len, .hva = big_region};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &x), VCORE_OK);
    vmcs12_with_ept(EPTP12);
    put(EPT12_PML4, EPT12_PDPT | 7, 8);
    put(EPT12_PDPT, EPT12_PD | 7, 8);
    put(EPT12_PD, 0x200000 | (1u << 7) | (6u << 3) | 7, 8); /* L2 0-2M -> L1 2M-4M, a 2 MiB page */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, 0x101234, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t size = 0;
    uint64_t leaf = walk02(eptp02_of_last_entry(), 0x101234, &size);
    ck_assert_uint_eq(leaf & 7, 7);
    if (size == (2u << 20)) {
        ck_assert_uint_eq(leaf & 0x000fffffffe00000ull, (uint64_t)(uintptr_t)big_region);
        ck_assert_uint_eq(leaf & 0xff, 0xb7); /* RWX, WB, bit 7 */
    } else {
        ck_assert_uint_eq(leaf & 0x000ffffffffff000ull, (uint64_t)(uintptr_t)big_region + 0x101000);
        ck_assert_uint_eq(leaf & 0xff, 0x37);
    }
    return size;
}

START_TEST(nested_ept_l0_2m_page_when_region_backs_it)
{
    ck_assert_uint_eq(big_region_run(2u << 20), 2u << 20);
}
END_TEST

START_TEST(nested_ept_l0_4k_pages_when_region_is_short)
{
    ck_assert_uint_eq(big_region_run((2u << 20) - 4096), 4096);
}
END_TEST

/* ept02's pool (64 pages) full: the fault that needs a page drops every
 * ept02 (the processor forgets them first: INVEPT, "Guidelines for Use of
 * the INVEPT Instruction") and builds again; that fault is served. 2 MiB
 * regions of L2 each need a page table of their own: the PML4, PDPT and PD
 * plus 61 tables fill the pool, the 62nd region finds it empty. With
 * fail_invept the processor's INVEPT fails: L2 must not run on. */
static void pool_full_run(bool fail_invept)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(0, 0x60000 | 7 | (6u << 3));
    for (uint32_t i = 1; i < 72; i++) /* each 2 MiB region's first page -> L1 60000H too */
        put(EPT12_PD + i * 8u, EPT12_PT | 7, 8);
    load_vmcs12();
    if (fail_invept)
        ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_INVEPT, VCORE_ERR_HWFAIL), VCORE_OK);
    for (uint32_t round = 0; round < 6; round++) {
        push_insn(round ? VCORE_NVMX_VMRESUME : VCORE_NVMX_VMLAUNCH, 0, 3);
        for (uint32_t k = 0; k < 12; k++)
            push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1u, (uint64_t)(round * 12 + k) << 21, 0);
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        push_hlt();
        vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
        int err = vcore_vcpu_run(vcpu, &out);
        if (fail_invept && round == 5) { /* faults 60..71: the 62nd (61) needs the page */
            ck_assert_int_eq(err, VCORE_ERR_HWFAIL);
            return;
        }
        ck_assert_int_eq(err, VCORE_OK);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), round == 5 ? 1 : 0);
    }
    ck_assert(!fail_invept);
    uint64_t eptp02 = eptp02_of_last_entry(), size = 0;
    ck_assert_uint_eq(walk02(eptp02, 0, &size), 0);               /* dropped with the rest */
    ck_assert_uint_ne(walk02(eptp02, 61ull << 21, &size), 0);     /* the fault that started over */
    ck_assert_uint_ne(walk02(eptp02, 71ull << 21, &size), 0);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_ne(d.id, VCORE_DIAG_NVMX_EPT02_POOL_EMPTY);
}

START_TEST(nested_ept_pool_full_starts_over)
{
    pool_full_run(false);
}
END_TEST

START_TEST(nested_ept_pool_full_failed_invept_stops_l2)
{
    pool_full_run(true);
}
END_TEST

/* ======================= L0's hardware VMCS shadowing ======================= */
/* SDM Vol. 3, "VMCS Shadowing", "VMREAD Bitmap and VMWRITE Bitmap", and
 * "VMREAD"/"VMWRITE" in VMX non-root operation: with "VMCS shadowing" 1 in
 * vmcs01, L1's VMREAD (VMWRITE) of a field whose bitmap bit is 0 accesses
 * the VMCS the link pointer names without a VM exit; any other exits. The
 * mock's processor runs those accesses (vcore_mock_guest_vmx_access()). */

static void setup_hw(void)
{
    setup();
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_VERIFY_CHECKS), VCORE_OK);
}

/* L1's VMREAD / VMWRITE on the mock's processor: true when it exits. */
static bool guest_vmread(uint64_t enc, uint64_t *v)
{
    bool exits = false;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, false, enc, v, &exits), VCORE_OK);
    return exits;
}

static bool guest_vmwrite(uint64_t enc, uint64_t v)
{
    bool exits = false;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, true, enc, &v, &exits), VCORE_OK);
    return exits;
}

static uint64_t field_of(const void *vmcs12, uint32_t enc)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(vmcs12, enc, &v), VCORE_OK);
    return v;
}

/* Every shadowed field L1 reads without an exit holds vmcs12's value. */
static void assert_shadow_matches_vmcs12(void)
{
    for (int ro = 0; ro < 2; ro++) {
        uint32_t n = 0;
        const uint32_t *f = vcore_nvmx_shadow_fields(ro != 0, &n);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v = 0;
            ck_assert_msg(!guest_vmread(f[i], &v), "field %#x exits", f[i]);
            ck_assert_msg(v == get12(f[i]), "field %#x: shadow %#llx vmcs12 %#llx", f[i],
                          (unsigned long long)v, (unsigned long long)get12(f[i]));
        }
    }
}

START_TEST(hw_shadow_follows_the_current_vmcs)
{
    uint64_t v = 0;
    /* Before VMXON: vmcs01 shadows nothing. */
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(vcpu));
    ck_assert(guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    load_vmcs12();
    const struct vcore_hw_vmcs *sh = vcore_mock_vmcs_shadow_linked(vcpu);
    ck_assert_ptr_nonnull(sh);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_SHADOW_LINK), 1);
    /* The new shadow VMCS holds nothing known: every shadowed field is
     * written once (a _HIGH entry's field is the full one), under one VMPTRLD. */
    uint64_t full = 0, sw = 0;
    for (int ro = 0; ro < 2; ro++) {
        uint32_t k = 0;
        const uint32_t *f = vcore_nvmx_shadow_fields(ro != 0, &k);
        for (uint32_t i = 0; i < k; i++)
            full += !(f[i] & 1u);
    }
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, NULL, &sw), VCORE_OK);
    ck_assert_uint_eq(sw, full);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_LOAD), 1);
    /* The read-write set: VMREAD and VMWRITE without exits, vmcs12's values. */
    uint32_t n = 0;
    const uint32_t *rw = vcore_nvmx_shadow_fields(false, &n);
    ck_assert_uint_eq(n, VCORE_NVMX_SHADOW_RW_COUNT);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert(!guest_vmread(rw[i], &v));
        ck_assert_uint_eq(v, field_of(page, rw[i]));
        ck_assert(!guest_vmwrite(rw[i], v));
    }
    /* The read-only set: VMREAD only; VMWRITE exits. */
    const uint32_t *ro = vcore_nvmx_shadow_fields(true, &n);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert(!guest_vmread(ro[i], &v));
        ck_assert(guest_vmwrite(ro[i], 0));
    }
    /* Fields outside the sets exit: host state, a rarely-read guest field,
     * the VM-instruction error (the emulation writes it), and any encoding
     * with bits 63:15 set. */
    ck_assert(guest_vmread(VCORE_VMCS_HOST_CR3, &v));
    ck_assert(guest_vmread(VCORE_VMCS_GUEST_ES_SELECTOR, &v));
    ck_assert(guest_vmread(VCORE_VMCS_VM_INSTRUCTION_ERROR, &v));
    ck_assert(guest_vmread((1ull << 32) | VCORE_VMCS_GUEST_RIP, &v));
    ck_assert(guest_vmwrite(VCORE_VMCS_HOST_CR3, 0));
    ck_assert(guest_vmwrite(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL | (1ull << 15), 0));
}
END_TEST

START_TEST(hw_shadow_round_trip)
{
    load_vmcs12();
    const struct vcore_hw_vmcs *sh = vcore_mock_vmcs_shadow_linked(vcpu);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    /* L1's exit handler reads the exit from the shadow VMCS ("Basic VM-Exit
     * Information": reason 10 CPUID, instruction length 2) ... */
    uint64_t v = 0;
    ck_assert(!guest_vmread(VCORE_VMCS_VM_EXIT_REASON, &v));
    ck_assert_uint_eq(v, VCORE_VMX_EXIT_CPUID);
    ck_assert(!guest_vmread(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &v));
    ck_assert_uint_eq(v, 2);
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    ck_assert_uint_eq(v, 0x401000);
    assert_shadow_matches_vmcs12();
    /* ... and advances L2's RIP there: vmcs12 learns it at VMRESUME. */
    ck_assert(!guest_vmwrite(VCORE_VMCS_GUEST_RIP, 0x401002));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    /* What the shadow VMCS holds now: vmcs12 with L1's write. */
    uint8_t held[4096];
    memcpy(held, vcore_nvmx_vmcs12(nv), sizeof(held));
    ck_assert_int_eq(vcore_vmcs12_set(held, VCORE_VMCS_GUEST_RIP, 0x401002), VCORE_OK);
    uint64_t r0 = 0, w0 = 0, r1 = 0, w1 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, &r0, &w0), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    /* vmcs02 ran L2 at L1's new RIP. */
    uint64_t rip02 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, vcore_mock_vmcs_last_entered(vcpu), VCORE_VMCS_GUEST_RIP, &rip02),
                     VCORE_OK);
    ck_assert_uint_eq(rip02, 0x401002);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    /* At VMRESUME one VMREAD per field of the read-write set; after the
     * exit one VMWRITE per shadowed field whose vmcs12 value differs from
     * what the shadow VMCS held - no other access, no control write, no
     * relink. */
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, &r1, &w1), VCORE_OK);
    ck_assert_uint_eq(r1 - r0, VCORE_NVMX_SHADOW_RW_COUNT);
    uint64_t changed = 0;
    for (int ro = 0; ro < 2; ro++) {
        uint32_t n = 0;
        const uint32_t *f = vcore_nvmx_shadow_fields(ro != 0, &n);
        for (uint32_t i = 0; i < n; i++)
            if (!(f[i] & 1u) && field_of(held, f[i]) != get12(f[i])) /* a _HIGH encoding is odd */
                changed++;
    }
    ck_assert_uint_eq(w1 - w0, changed);
    ck_assert_uint_eq(major_writes(), 0);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_SHADOW_LINK), 0);
    assert_shadow_matches_vmcs12();
    /* A third identical trip: L1 writes the same RIP again; nothing of the
     * exit changes, so the shadow VMCS needs no VMWRITE at all. */
    ck_assert(!guest_vmwrite(VCORE_VMCS_GUEST_RIP, 0x401002));
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, &r0, &w0), VCORE_OK);
    ck_assert_uint_eq(r0 - r1, VCORE_NVMX_SHADOW_RW_COUNT);
    ck_assert_uint_eq(w0 - w1, 0);
}
END_TEST

/* Each exit reflected to L1 changes another part of vmcs12 - the exit
 * information ("Basic VM-Exit Information"; the qualification reads 0 where
 * the reason defines none), the guest state saved from vmcs02 ("Saving
 * Guest State"), the valid bit of the VM-entry interruption information
 * ("Clearing the VM-Entry Interruption-Information Valid Bit"): L1's VMREAD
 * in the shadow VMCS sees every one of them. */
START_TEST(hw_shadow_reflected_exits_follow)
{
    uint64_t v = 0;
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_shadow_matches_vmcs12();
    /* L2 moved on and executed VMPTRLD (qualification: displacement,
     * instruction information, length 5); L1 injects #UD (type 3, vector 6). */
    ck_assert(!guest_vmwrite(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0x80000306u));
    const uint32_t enc[] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_EXIT_QUALIFICATION,
                            VCORE_VMCS_VMX_INSTRUCTION_INFO, VCORE_VMCS_GUEST_RIP, VCORE_VMCS_GUEST_RSP,
                            VCORE_VMCS_GUEST_RFLAGS};
    const uint64_t val[] = {5, 0x18, 0x12345, 0x401234, 0x7ff0, 0x46};
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_VMPTRLD, 0, 6, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert(!guest_vmread(VCORE_VMCS_VM_EXIT_REASON, &v));
    ck_assert_uint_eq(v, VCORE_VMX_EXIT_VMPTRLD);
    ck_assert(!guest_vmread(VCORE_VMCS_EXIT_QUALIFICATION, &v));
    ck_assert_uint_eq(v, 0x18);
    ck_assert(!guest_vmread(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &v));
    ck_assert_uint_eq(v, 5);
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    ck_assert_uint_eq(v, 0x401234);
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RSP, &v));
    ck_assert_uint_eq(v, 0x7ff0);
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RFLAGS, &v));
    ck_assert_uint_eq(v, 0x46);
    ck_assert(!guest_vmread(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, &v));
    ck_assert_uint_eq(v, 0x306);
    assert_shadow_matches_vmcs12();
    /* CPUID again: no qualification, length 2. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert(!guest_vmread(VCORE_VMCS_VM_EXIT_REASON, &v));
    ck_assert_uint_eq(v, VCORE_VMX_EXIT_CPUID);
    ck_assert(!guest_vmread(VCORE_VMCS_EXIT_QUALIFICATION, &v));
    ck_assert_uint_eq(v, 0);
    ck_assert(!guest_vmread(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &v));
    ck_assert_uint_eq(v, 2);
    assert_shadow_matches_vmcs12();
}
END_TEST

/* A basic exit reason no rule names (SDM Vol. 3, "Basic Exit Reasons"
 * ends below 128; bits 15:0 reach 65535) is L0's, decided without a row. */
START_TEST(exit_owner_reason_without_rule_is_l0)
{
    load_vmcs12();
    const uint32_t reasons[] = {128u, 255u, 0xffffu};
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
        ck_assert_int_eq(vcore_nvmx_mem_from_vm(vm, &mem), VCORE_OK);
        vcore_nvmx_l2_exit_t e = {.size = sizeof(e)};
        e.reason = reasons[i];
        vcore_nvmx_decision_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_nvmx_exit_owner(nv, &mem, &e, &d), VCORE_OK);
        ck_assert_uint_eq(d.owner, VCORE_NVMX_OWNER_L0);
        ck_assert_uint_eq(d.kind, VCORE_NVMX_RULE_L0);
        ck_assert_uint_eq(d.arg, 0);
    }
}
END_TEST

/* SDM "VMCLEAR": the VMCS data is written to the region in memory - L1's
 * writes in the shadow VMCS included; with no current VMCS, L1's VMREAD
 * exits and is VMfailInvalid (CF set, "Conventions"). */
START_TEST(hw_shadow_vmclear_writes_back_and_unlinks)
{
    load_vmcs12();
    ck_assert(!guest_vmwrite(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, 0x33));
    ck_assert(!guest_vmwrite(VCORE_VMCS_HOST_RSP, 0x9800));
    put(OPND_GPA, VMCS_GPA, 8);
    l1_insn(VCORE_NVMX_VMCLEAR, MEM_RBX, 4);
    ck_assert_uint_eq(field_of(ram + VMCS_GPA, VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0x33);
    ck_assert_uint_eq(field_of(ram + VMCS_GPA, VCORE_VMCS_HOST_RSP), 0x9800);
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(vcpu));
    uint64_t v = 0;
    ck_assert(guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    ck_assert_uint_eq(regs().rflags & 0x8d5u, 1u); /* CF only */
    /* VMPTRLD again: the shadow VMCS holds the region's values. */
    put(OPND_GPA, VMCS_GPA, 8);
    l1_insn(VCORE_NVMX_VMPTRLD, MEM_RBX, 4);
    ck_assert_ptr_nonnull(vcore_mock_vmcs_shadow_linked(vcpu));
    ck_assert(!guest_vmread(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, &v));
    ck_assert_uint_eq(v, 0x33);
    assert_shadow_matches_vmcs12();
}
END_TEST

/* The fields L1 can VMWRITE without an exit are exactly those L0 reads back
 * before a VM entry; a field whose VMWRITE bit is 1 exits, is emulated into
 * vmcs12 ("VMWRITE": VMsucceed) and L1 reads the new value in the shadow
 * VMCS without an exit; nothing of it is read back. */
START_TEST(hw_shadow_rare_vmwrite_exits_and_is_not_read_back)
{
    load_vmcs12();
    const struct vcore_hw_vmcs *sh = vcore_mock_vmcs_shadow_linked(vcpu);
    /* L1 writes each shadowed field's own value: which ones exit. */
    uint32_t silent = 0, exiting = 0;
    for (int ro = 0; ro < 2; ro++) {
        uint32_t n = 0;
        const uint32_t *f = vcore_nvmx_shadow_fields(ro != 0, &n);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v = 0;
            if (f[i] & 1u) /* a _HIGH half */
                continue;
            ck_assert(!guest_vmread(f[i], &v));
            if (guest_vmwrite(f[i], v))
                exiting++;
            else
                silent++;
        }
    }
    ck_assert_uint_eq(silent, VCORE_NVMX_SHADOW_RW_COUNT);
    ck_assert_uint_eq(silent + exiting, VCORE_NVMX_SHADOW_RW_COUNT + VCORE_NVMX_SHADOW_RO_COUNT - 1u);
    /* A hypervisor's per-exit writes run without exits; its rare ones exit. */
    ck_assert(!guest_vmwrite(VCORE_VMCS_GUEST_RIP, 0x401000));
    ck_assert(!guest_vmwrite(VCORE_VMCS_GUEST_RFLAGS, 0x2));
    ck_assert(!guest_vmwrite(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0));
    ck_assert(!guest_vmwrite(VCORE_VMCS_HOST_RSP, HOST_RSP));
    ck_assert(!guest_vmwrite(VCORE_VMCS_HOST_RIP, HOST_RIP));
    ck_assert(guest_vmwrite(VCORE_VMCS_EXCEPTION_BITMAP, 0));
    ck_assert(guest_vmwrite(VCORE_VMCS_GUEST_CR3, 0x1000));
    ck_assert(guest_vmwrite(VCORE_VMCS_CR0_READ_SHADOW, 0));
    /* The exit: VMWRITE EXCEPTION_BITMAP <- RCX (#PF, bit 14), emulated. */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_EXCEPTION_BITMAP;
    r.gpr[VCORE_X86_RCX] = 1u << 14;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    uint64_t rip = regs().rip;
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    ck_assert_uint_eq(regs().rip, rip + 3);
    ck_assert_uint_eq(regs().rflags & 0x8d5u, 0); /* VMsucceed */
    ck_assert_uint_eq(get12(VCORE_VMCS_EXCEPTION_BITMAP), 1u << 14);
    uint64_t v = 0;
    ck_assert(!guest_vmread(VCORE_VMCS_EXCEPTION_BITMAP, &v));
    ck_assert_uint_eq(v, 1u << 14);
    /* VMLAUNCH: one VMREAD per field L1 could write without an exit, no more. */
    uint64_t r0 = 0, r1 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, &r0, NULL), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, &r1, NULL), VCORE_OK);
    ck_assert_uint_eq(r1 - r0, silent);
    /* L2 ran with #PF intercepted ("Exception Bitmap": bit 14). */
    uint64_t eb = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, vcore_mock_vmcs_last_entered(vcpu), VCORE_VMCS_EXCEPTION_BITMAP, &eb),
                     VCORE_OK);
    ck_assert_uint_eq(eb & (1u << 14), 1u << 14);
    assert_shadow_matches_vmcs12();
}
END_TEST

/* L1 writes its host RSP and RIP before each entry, without exits: the VM
 * exit after VMLAUNCH loads them ("Loading Host State": RIP and RSP from the
 * host-state area). */
START_TEST(hw_shadow_host_rsp_rip_written_in_the_shadow)
{
    load_vmcs12();
    ck_assert(!guest_vmwrite(VCORE_VMCS_HOST_RSP, 0x9800));
    ck_assert(!guest_vmwrite(VCORE_VMCS_HOST_RIP, 0x210000));
    ck_assert_uint_eq(get12(VCORE_VMCS_HOST_RIP), HOST_RIP); /* not read back yet */
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, 0x210000);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSP], 0x9800);
    ck_assert_uint_eq(get12(VCORE_VMCS_HOST_RSP), 0x9800);
    ck_assert_uint_eq(get12(VCORE_VMCS_HOST_RIP), 0x210000);
}
END_TEST

/* Without VMCS shadowing, L1's VMREAD/VMWRITE with register operands give
 * the same architectural result on the run loop's fast path and on the full
 * emulation (VCORE_NVMX_OPT_NO_FAST_PATH): VMsucceed clears CF PF AF ZF SF
 * OF ("Conventions"), RIP moves past the instruction, the destination
 * register receives the field; the fast path reads no state group the full
 * path needs beyond the registers and mode. */
START_TEST(fast_path_and_full_emulation_agree)
{
    for (int full = 0; full < 2; full++) {
        ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_NO_HW_SHADOW |
                                                        (full ? VCORE_NVMX_OPT_NO_FAST_PATH : 0u)),
                         VCORE_OK);
        load_vmcs12();
        vcore_x86_regs_t r = regs();
        r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RSP;
        r.gpr[VCORE_X86_RCX] = 0;
        r.rflags = 0x8d7u; /* CF PF AF ZF SF OF set */
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        uint64_t rip = r.rip;
        ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
        l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
        r = regs();
        ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x8000);
        ck_assert_uint_eq(r.rip, rip + 3);
        ck_assert_uint_eq(r.rflags, 0x2);
        /* VMWRITE GUEST_RSP <- RCX + 0x100. */
        r.gpr[VCORE_X86_RCX] = 0x8100;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x8100);
        ck_assert_uint_eq(regs().rip, rip + 6);
        /* An unsupported field (encoding bit 0 set on a 32-bit field):
         * VMfailValid(12) on both paths ("VMREAD"), RCX unchanged. */
        r = regs();
        r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RSP | 1u;
        r.gpr[VCORE_X86_RCX] = 0x1234;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        l1_insn(VCORE_NVMX_VMREAD, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 12);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x1234);
        ck_assert_uint_eq(regs().rflags & 0x8d5u, 0x40u);
        /* vmcs01 unlinked, and no VMCS access for either path. */
        ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(vcpu));
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ), 0);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_WRITE), 0);
    }
}
END_TEST

/* VMPTRLD of another VMCS: the old one is written back with L1's shadow
 * writes ("VMPTRLD" keeps the old VMCS's data for its next use); the shadow
 * VMCS then shows the new one. */
START_TEST(hw_shadow_vmptrld_switches_vmcs)
{
    const uint64_t other = VMCS_GPA + 0x1000u;
    load_vmcs12();
    ck_assert(!guest_vmwrite(VCORE_VMCS_GUEST_RSP, 0x7000));
    set12(VCORE_VMCS_GUEST_RSP, 0x8000);
    set12(VCORE_VMCS_GUEST_RIP, 0x402000);
    ck_assert_int_eq(vcore_vm_write_guest(vm, other, page, sizeof(page)), VCORE_OK);
    put(OPND_GPA, other, 8);
    l1_insn(VCORE_NVMX_VMPTRLD, MEM_RBX, 4);
    put(OPND_GPA, VMCS_GPA, 8);
    l1_insn(VCORE_NVMX_VMCLEAR, MEM_RBX, 4); /* the first VMCS's data in memory */
    ck_assert_uint_eq(field_of(ram + VMCS_GPA, VCORE_VMCS_GUEST_RSP), 0x7000);
    uint64_t v = 0;
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RSP, &v));
    ck_assert_uint_eq(v, 0x8000);
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    ck_assert_uint_eq(v, 0x402000);
    assert_shadow_matches_vmcs12();
    /* L1's VMWRITE of a read-only field exits (its VMWRITE bit is 1) and is
     * emulated ("VMWRITE to any supported field" is offered to L1); the
     * backend fails while the shadow VMCS is brought up to date: the run
     * reports it, and the next run completes the update. */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_EXIT_QUALIFICATION;
    r.gpr[VCORE_X86_RCX] = 0x5a5a;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    push_hlt();
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_VMCS_LOAD, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x5a5a);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert(!guest_vmread(VCORE_VMCS_EXIT_QUALIFICATION, &v));
    ck_assert_uint_eq(v, 0x5a5a);
    assert_shadow_matches_vmcs12();
}
END_TEST

/* Switched off by the option: L1's writes so far are kept, then every
 * access exits; back on, the shadow VMCS is linked again. VMXOFF and RESET
 * leave nothing linked and free the shadow VMCS (no violation: teardown). */
START_TEST(hw_shadow_option_vmxoff_reset)
{
    load_vmcs12();
    ck_assert(!guest_vmwrite(VCORE_VMCS_GUEST_RIP, 0x405000));
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_VERIFY_CHECKS | VCORE_NVMX_OPT_NO_HW_SHADOW),
                     VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(vcpu));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x405000);
    uint64_t v = 0;
    ck_assert(guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_VERIFY_CHECKS), VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_ptr_nonnull(vcore_mock_vmcs_shadow_linked(vcpu));
    assert_shadow_matches_vmcs12();
    l1_insn(VCORE_NVMX_VMXOFF, 0, 3);
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(vcpu));
    ck_assert(guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    load_vmcs12();
    ck_assert_ptr_nonnull(vcore_mock_vmcs_shadow_linked(vcpu));
    uint64_t freed = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_FREE);
    ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(vcpu));
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_FREE), freed + 1);
}
END_TEST

/* VMCS shadowing switched off by the option: L1's VMWRITEs exit and the run
 * loop's fast path writes vmcs12 (register operands), recording nothing for
 * the shadow VMCS. Back on, the shadow VMCS is linked again and holds what
 * L1 wrote ("VMCS Shadowing": L1's VMREAD of a shadowed field reads the
 * shadow VMCS without an exit). */
START_TEST(hw_shadow_relinked_after_fast_vmwrite)
{
    load_vmcs12();
    uint64_t v = 0;
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    ck_assert(!guest_vmread(VCORE_VMCS_EXCEPTION_BITMAP, &v));
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_VERIFY_CHECKS | VCORE_NVMX_OPT_NO_HW_SHADOW),
                     VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RIP;
    r.gpr[VCORE_X86_RCX] = 0x406000;
    r.gpr[VCORE_X86_RSI] = VCORE_VMCS_EXCEPTION_BITMAP;
    r.gpr[VCORE_X86_RBX] = 0x4000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
    push_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (3u << 3) | (2u << 7) | (6u << 28), 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(vcpu));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x406000);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXCEPTION_BITMAP), 0x4000);
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_VERIFY_CHECKS), VCORE_OK);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_ptr_nonnull(vcore_mock_vmcs_shadow_linked(vcpu));
    ck_assert(!guest_vmread(VCORE_VMCS_GUEST_RIP, &v));
    ck_assert_uint_eq(v, 0x406000);
    ck_assert(!guest_vmread(VCORE_VMCS_EXCEPTION_BITMAP, &v));
    ck_assert_uint_eq(v, 0x4000);
    assert_shadow_matches_vmcs12();
}
END_TEST

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("nested_pipeline");
    TCase *tc = tcase_create("entry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vmlaunch_invalid_control_is_vmfail_7);
    tcase_add_test(tc, vmlaunch_invalid_host_is_vmfail_8);
    tcase_add_test(tc, vmresume_of_clear_vmcs_is_vmfail_5);
    tcase_add_test(tc, invalid_guest_state_is_exit_33_to_l1);
    tcase_add_test(tc, msr_load_failure_is_exit_34_with_index);
    tcase_add_test(tc, late_vmfail_from_hardware_unwinds_to_l1);
    tcase_add_test(tc, late_failed_entry_from_hardware_is_exit_to_l1);
    tcase_add_test(tc, early_hardware_check_passes_invisibly);
    tcase_add_test(tc, early_hardware_check_catches_a_skipped_check);
    tcase_add_test(tc, msr_controls_without_a_model_are_refused);
    tcase_add_test(tc, proc2_caps_match_the_pipeline);
    tcase_add_loop_test(tc, proc2_each_bit_launches_or_fails, 0, 32);
    tcase_add_test(tc, vmcs02_takes_l0_needs_from_vmcs01);
    tcase_add_test(tc, skipped_check_lets_the_next_one_decide);
    tcase_add_test(tc, backend_failure_during_entry_is_clean);
    suite_add_tcase(s, tc);
    TCase *tx = tcase_create("exit");
    tcase_add_checked_fixture(tx, setup, teardown);
    tcase_add_test(tx, cpuid_from_l2_is_reflected);
    tcase_add_test(tx, round_trip_counts);
    tcase_add_test(tx, changed_rule_fails_after_pass);
    tcase_add_test(tx, lazy_sync_of_rare_fields);
    tcase_add_test(tx, lazy_sync_keeps_l1_written_rare_field);
    tcase_add_test(tx, preemption_timer_restart_and_save);
    tcase_add_test(tx, event_reinjected_after_l0_exit);
    tcase_add_test(tx, external_interrupt_to_l1_with_and_without_ack);
    tcase_add_loop_test(tx, init_while_l2_runs, 0, 2);
    tcase_add_loop_test(tx, interrupt_pending_at_vmlaunch, 0, 2);
    tcase_add_test(tx, external_interrupt_exit_with_bad_msr_load_is_vmx_abort);
    tcase_add_test(tx, hlt_not_wanted_by_l1_goes_to_vmm);
    tcase_add_test(tx, hlt_wanted_by_l1_is_reflected);
    tcase_add_test(tx, vm_exit_msr_load_failure_is_vmx_abort);
    tcase_add_test(tx, vm_exit_msr_store_list);
    tcase_add_test(tx, conditional_rules);
    tcase_add_loop_test(tx, every_reflection_row, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    suite_add_tcase(s, tx);
    TCase *tv = tcase_create("cve");
    tcase_add_checked_fixture(tv, setup, teardown);
    tcase_add_test(tv, cve_2017_12154_cr8_exiting_forced);
    tcase_add_test(tv, cve_2019_3887_msr_bitmap_merge);
    tcase_add_test(tv, cve_2019_3887_x2apic_mode_passes_only_virtualized);
    tcase_add_test(tv, cve_2016_9588_bp_reflected_with_type_and_length);
    tcase_add_test(tv, cve_2022_3344_triple_fault_then_reset);
    tcase_add_test(tv, cve_2018_12904_vmlaunch_at_cpl3);
    tcase_add_test(tv, cve_2021_29657_vmcs12_not_reread);
    tcase_add_test(tv, cve_2020_2732_l1_intercept_first);
    tcase_add_test(tv, cve_2019_7221_timer_gone_at_teardown);
    tcase_add_test(tv, cve_2018_16882_new_bitmap_address_used);
    tcase_add_test(tv, cve_2023_30456_guest_cr0_checked);
    tcase_add_test(tv, cve_2026_46032_host_cr3_checked_at_entry);
    suite_add_tcase(s, tv);
    TCase *te = tcase_create("ept");
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_add_test(te, nested_ept_l0_fills_ept02);
    tcase_add_test(te, nested_ept_violation_reflected);
    tcase_add_test(te, nested_ept_misconfig_reflected);
    tcase_add_test(te, nested_ept_violation_during_software_interrupt);
    tcase_add_test(te, nested_ept_l0_mmio_goes_to_vmm);
    tcase_add_test(te, nested_ept_l0_mmio_decoded_for_vmm);
    tcase_add_test(te, nested_ept_string_io_through_ept12);
    tcase_add_test(te, nested_ept_ad_paging_structure_access_sets_dirty);
    tcase_add_test(te, nested_ept_without_ad_leaves_ept12_alone);
    tcase_add_loop_test(te, nested_ept_string_ins_logs_pml, 0, 3);
    tcase_add_loop_test(te, nested_ept_string_first_element_exits_to_l1, 0,
                        (int)(sizeof(ept_string_cases) / sizeof(ept_string_cases[0])));
    tcase_add_test(te, nested_ept_invept_from_l1);
    tcase_add_test(te, nested_ept_eptp_switch_and_unmap);
    tcase_add_test(te, nested_ept_off_without_activate_secondary);
    tcase_add_test(te, nested_ept_off_without_enable_ept);
    tcase_add_test(te, nested_ept_failed_invept_stops_l2);
    tcase_add_test(te, nested_ept_pool_returned_at_teardown);
    tcase_add_test(te, nested_no_ept_no_pool);
    tcase_add_test(te, nested_ept_l0_2m_page_when_region_backs_it);
    tcase_add_test(te, nested_ept_l0_4k_pages_when_region_is_short);
    tcase_add_test(te, nested_ept_pool_full_starts_over);
    tcase_add_test(te, nested_ept_pool_full_failed_invept_stops_l2);
    suite_add_tcase(s, te);
    TCase *th = tcase_create("hw_shadow");
    tcase_add_checked_fixture(th, setup_hw, teardown);
    tcase_add_test(th, hw_shadow_follows_the_current_vmcs);
    tcase_add_test(th, hw_shadow_round_trip);
    tcase_add_test(th, hw_shadow_reflected_exits_follow);
    tcase_add_test(th, exit_owner_reason_without_rule_is_l0);
    tcase_add_test(th, hw_shadow_rare_vmwrite_exits_and_is_not_read_back);
    tcase_add_test(th, hw_shadow_host_rsp_rip_written_in_the_shadow);
    tcase_add_test(th, fast_path_and_full_emulation_agree);
    tcase_add_test(th, hw_shadow_vmclear_writes_back_and_unlinks);
    tcase_add_test(th, hw_shadow_vmptrld_switches_vmcs);
    tcase_add_test(th, hw_shadow_option_vmxoff_reset);
    tcase_add_test(th, hw_shadow_relinked_after_fast_vmwrite);
    suite_add_tcase(s, th);
    return s;
}

int main(void)
{
    return vcore_test_run(pipeline_suite());
}
