/*
 * test_nested_apic.c - L1's "use TPR shadow" and "virtualize APIC accesses"
 * for L2 through the vCPU pipeline on the mock.
 *
 * The mock's processor does not execute L2: a test plays it. Where the SDM
 * says the processor writes VTPR without a VM exit (SDM Vol. 3,
 * "Virtualizing MOV to CR8": bits 7:4 of VTPR take bits 3:0 of the source,
 * bits 3:0 and 31:8 are cleared), the test writes the page vmcs02 names;
 * where it says a VM exit happens ("TPR Threshold": exit 43 when VTPR[7:4]
 * drops below TPR threshold[3:0]; "APIC-Access VM Exits": exit 44 with the
 * page offset in qualification bits 11:0 and the access type in 15:12;
 * "CR8-load exiting"), the test scripts it. Expected values: SDM Vol. 3,
 * "Virtual-APIC Page" (VTPR at 080H), "Checks on VMX Controls"
 * (VMfailValid 7 for a misaligned virtual-APIC address and for a TPR
 * threshold above VTPR without APIC-access virtualization),
 * "Exit Qualification for Control-Register Accesses".
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define VAPIC_A 0x40000u /* L1's virtual-APIC pages */
#define VAPIC_B 0x41000u
#define APIC_ACC 0x42000u /* L1's APIC-access page */
#define TPR_SHADOW (1u << 21)
#define CR8_LOAD (1u << 19)
#define CR8_STORE (1u << 20)
#define PROC_REF 0x04006172u /* the reference vmcs12's primary controls */
#define SECONDARY (1u << 31)
#define VTPR 0x80u

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* The page vmcs02's virtual-APIC address names (the hosted host's
 * physical addresses are its virtual ones). */
static uint8_t *page02(void)
{
    uint64_t pa = nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR);
    ck_assert_uint_ne(pa, 0);
    return (uint8_t *)(uintptr_t)pa;
}

static uint64_t writes(uint32_t enc)
{
    uint64_t r = 0, w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, enc, &r, &w), VCORE_OK);
    return w;
}

static uint32_t l1_vtpr(uint64_t vapic)
{
    uint32_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, vapic + VTPR, &v, 4), VCORE_OK);
    return v;
}

static uint32_t vtpr02(void)
{
    uint32_t v;
    memcpy(&v, page02() + VTPR, 4);
    return v;
}

/* L2's MOV to CR8 as "Virtualizing MOV to CR8" writes VTPR. */
static void l2_mov_to_cr8(uint64_t src)
{
    uint32_t v = (uint32_t)(src & 0xfu) << 4;
    memcpy(page02() + VTPR, &v, 4);
}

/* An L2 exit with one field (or none) in the mock's processor. */
static void l2_exit1(uint32_t reason, uint32_t n, uint32_t enc, uint64_t val)
{
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, n, &enc, &val);
}

/* OUT to port 80H: L1 does not intercept it (no I/O exiting): the VMM's. */
static void push_l2_out80(void)
{
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {0x80ull << 16, 2}; /* OUT, 1 byte, port 80H; 2 bytes */
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_INSTRUCTION, 0, 2, enc, val);
}

/* vmcs12 with the TPR shadow: virtual-APIC page, VTPR, TPR threshold. */
static void with_tpr_shadow(uint32_t extra_proc, uint64_t vapic, uint32_t vtpr, uint32_t threshold)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC_REF | TPR_SHADOW | extra_proc);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, vapic);
    set12(VCORE_VMCS_TPR_THRESHOLD, threshold);
    put(vapic + VTPR, vtpr, 4);
}

/* ---- TPR shadow ---- */

/* vmcs02 runs L1's TPR shadow on L1's own virtual-APIC page (the host
 * page behind vmcs12's address): no CR8 exiting (L2's MOV to/from CR8 does
 * not exit), L1's threshold. */
START_TEST(tpr_shadow_vmcs02_on_l1_page)
{
    with_tpr_shadow(0, VAPIC_A, 0x50, 3);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    uint64_t proc02 = nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    ck_assert_uint_eq(proc02 & TPR_SHADOW, TPR_SHADOW);
    ck_assert_uint_eq(proc02 & (CR8_LOAD | CR8_STORE), 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_TPR_THRESHOLD), 3);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), (uint64_t)(uintptr_t)(ram + VAPIC_A));
    ck_assert_uint_eq(writes(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), 1);
    ck_assert_uint_eq(vtpr02(), 0x50);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x50);
}
END_TEST

/* CVE-2017-12154 class kept: without L1's TPR shadow vmcs02 exits on CR8
 * both ways and has no TPR shadow. */
START_TEST(no_tpr_shadow_forces_cr8_exiting)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t proc02 = nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    ck_assert_uint_eq(proc02 & (CR8_LOAD | CR8_STORE | TPR_SHADOW), CR8_LOAD | CR8_STORE);
}
END_TEST

/* L2 lowers its TPR below L1's threshold: the processor writes L1's page
 * itself, L0 handles another exit of L2 in between, then TPR below
 * threshold (43) is L1's: trap-like, no qualification, L1's host state,
 * and L1's page holds the new VTPR. */
START_TEST(tpr_below_threshold_reflected_with_vtpr)
{
    with_tpr_shadow(0, VAPIC_A, 0x50, 3);
    set12(VCORE_VMCS_EXIT_QUALIFICATION, 0x1234); /* exit 43 has none: it reads 0 */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_out80();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    /* L2: MOV CR8, 4 (no exit: 4 >= 3), then the VMM's OUT completes. */
    l2_mov_to_cr8(4);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x40);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x40);
    /* L1 resumes L2, which exits to the VMM again: L2 sees L1's VTPR.
     * Then L2: MOV CR8, 2 -> VTPR 20H, below threshold 3: exit 43. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_out80();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(vtpr02(), 0x40);
    l2_mov_to_cr8(2);
    l2_exit1(VCORE_VMX_EXIT_TPR_BELOW_THRESHOLD, 0, 0, 0);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_TPR_BELOW_THRESHOLD);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
    ck_assert_uint_eq(last().kind, VCORE_NVMX_RULE_PROC);
    ck_assert_uint_eq(last().arg, 21);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x20);
}
END_TEST

/* With the TPR shadow, "CR8-load exiting" is L1's: vmcs02 has it (and not
 * CR8-store exiting), and L2's MOV to CR8 (qualification: CR 8, access
 * type 0, RAX) is an exit 28 to L1. */
START_TEST(cr8_load_exiting_with_tpr_shadow_is_l1s)
{
    with_tpr_shadow(CR8_LOAD, VAPIC_A, 0x50, 0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_exit1(VCORE_VMX_EXIT_CR_ACCESS, 1, VCORE_VMCS_EXIT_QUALIFICATION, 8);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t proc02 = nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    ck_assert_uint_eq(proc02 & (CR8_LOAD | CR8_STORE | TPR_SHADOW), CR8_LOAD | TPR_SHADOW);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CR_ACCESS);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 8);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* CVE-2018-16882 class: L1 points the virtual-APIC address elsewhere
 * (VMWRITE) and resumes: the next entry runs L2 on the new page; the old
 * page is left alone. */
START_TEST(new_virtual_apic_address_used_at_next_entry)
{
    with_tpr_shadow(0, VAPIC_A, 0x50, 0);
    put(VAPIC_B + VTPR, 0x70, 4);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_out80();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(vtpr02(), 0x50);
    l2_mov_to_cr8(6);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x60);
    /* L1: VMWRITE VIRTUAL_APIC_PAGE_ADDR <- B; VMRESUME. */
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC_B);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_out80();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(vtpr02(), 0x70);
    l2_mov_to_cr8(1);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(l1_vtpr(VAPIC_B), 0x10);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x60);
    /* vmcs02's address was written once per page of L1. */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), (uint64_t)(uintptr_t)(ram + VAPIC_B));
    ck_assert_uint_eq(writes(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), 2);
}
END_TEST

/* "Checks on VMX Controls": bits 11:0 of the virtual-APIC address must be
 * 0 - VMfailValid 7 through the pipeline, L2 never entered. */
START_TEST(misaligned_virtual_apic_address_is_vmfail)
{
    with_tpr_shadow(0, VAPIC_A, 0x50, 0);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC_A + 0x10);
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_assert_vmfail7(VCORE_VMX_CHECK_EXEC_VAPIC_ALIGN);
}
END_TEST

/* Without APIC-access virtualization, a TPR threshold above VTPR[7:4] is
 * VMfailValid 7; with it, the entry proceeds (the processor then exits 43
 * right after the entry, "VM Exits Induced by the TPR Threshold"). */
START_TEST(threshold_above_vtpr)
{
    with_tpr_shadow(0, VAPIC_A, 0x20, 3);
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_assert_vmfail7(VCORE_VMX_CHECK_EXEC_TPR_THRESHOLD_VTPR);
}
END_TEST

START_TEST(threshold_above_vtpr_with_apic_access)
{
    with_tpr_shadow(SECONDARY, VAPIC_A, 0x20, 3);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, APIC_ACC);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_exit1(VCORE_VMX_EXIT_TPR_BELOW_THRESHOLD, 0, 0, 0);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_TPR_BELOW_THRESHOLD);
    ck_assert_uint_eq(vtpr02(), 0x20);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x20);
}
END_TEST

/* ---- APIC-access page ---- */

/* vmcs02's APIC-access address is the host page behind L1's; an APIC
 * access of L2 (linear write, type 1, at offset 300H) is exit 44 to L1
 * with the processor's qualification. */
START_TEST(apic_access_exit_reflected_with_qualification)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC_REF | SECONDARY);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, APIC_ACC);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_exit1(VCORE_VMX_EXIT_APIC_ACCESS, 1, VCORE_VMCS_EXIT_QUALIFICATION, (1u << 12) | 0x300u);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & 1u, 1u);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_APIC_ACCESS_ADDR), (uint64_t)(uintptr_t)(ram + APIC_ACC));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_APIC_ACCESS);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), (1u << 12) | 0x300u);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
    ck_assert_uint_eq(last().kind, VCORE_NVMX_RULE_PROC2);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* An APIC-access address with no memory behind it: refused by name, L2
 * not entered - alone (_i = 0) and with the TPR shadow (_i = 1). */
START_TEST(apic_access_unbacked_is_refused)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC_REF | SECONDARY);
    if (_i)
        with_tpr_shadow(SECONDARY, VAPIC_A, 0x50, 0);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, 0xfee00000u);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_assert_refused(VCORE_DIAG_NVMX_APIC_ACCESS_UNBACKED, 0xfee00000u);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* "Secondary Processor-Based VM-Execution Controls": without "activate
 * secondary controls" bit 0 acts as 0, so an address with no memory behind
 * it is no reason to refuse; vmcs02 gets no APIC-access address. */
START_TEST(apic_access_inactive_without_secondary)
{
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, 0xfee00000u);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(writes(VCORE_VMCS_APIC_ACCESS_ADDR), 0);
}
END_TEST

/* L0's memory map moves L1's page to another host page while L2 runs: the
 * next entry of L2 compares with the new host page. */
static uint8_t ram2[RAM] __attribute__((aligned(4096)));

START_TEST(apic_access_follows_memory_map)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC_REF | SECONDARY);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u);
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, APIC_ACC);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_out80();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_APIC_ACCESS_ADDR), (uint64_t)(uintptr_t)(ram + APIC_ACC));
    memcpy(ram2, ram, RAM);
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0), VCORE_OK);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram2};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    l2_exit1(VCORE_VMX_EXIT_APIC_ACCESS, 1, VCORE_VMCS_EXIT_QUALIFICATION, 0x80u);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_APIC_ACCESS_ADDR), (uint64_t)(uintptr_t)(ram2 + APIC_ACC));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_APIC_ACCESS);
    ck_assert_uint_eq(writes(VCORE_VMCS_APIC_ACCESS_ADDR), 2); /* once per host page */
    /* VMRESUME on the same map: nothing rewritten. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(writes(VCORE_VMCS_APIC_ACCESS_ADDR), 2);
}
END_TEST

/* A virtual-APIC address the processor could not write as L1's memory -
 * no memory behind it (_i = 0) or read-only memory (_i = 1): refused by
 * name, L2 not entered, nothing written to vmcs02's address. */
START_TEST(vapic_unbacked_is_refused)
{
    uint64_t gpa = _i ? VAPIC_A : 0xfee00000u;
    with_tpr_shadow(0, VAPIC_A, 0x50, 0);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, gpa);
    load_vmcs12();
    if (_i) {
        ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0), VCORE_OK);
        vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram,
                                .flags = VCORE_MEM_READONLY};
        ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    }
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_assert_refused(VCORE_DIAG_NVMX_VAPIC_UNBACKED, gpa);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    ck_assert_uint_eq(writes(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), 0);
}
END_TEST

/* The virtual-APIC page L2 runs on follows L0's memory map like the
 * APIC-access page: moved while L2 runs, the next entry of L2 names the new
 * host page, and L1 reads L2's VTPR there. */
START_TEST(vapic_follows_memory_map)
{
    with_tpr_shadow(0, VAPIC_A, 0x50, 0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_out80();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), (uint64_t)(uintptr_t)(ram + VAPIC_A));
    memcpy(ram2, ram, RAM);
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0), VCORE_OK);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram2};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    push_l2_out80();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), (uint64_t)(uintptr_t)(ram2 + VAPIC_A));
    ck_assert_uint_eq(writes(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), 2);
    l2_mov_to_cr8(9);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(l1_vtpr(VAPIC_A), 0x90);
    ck_assert_uint_eq(writes(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), 2);
}
END_TEST

/* ---- APIC-register virtualization ---- */

/* L1's "APIC-register virtualization" (secondary 8) reaches vmcs02 with
 * L1's virtual-APIC page, from which the processor virtualizes L2's reads
 * of the APIC-access page ("Virtualizing Reads from the APIC-Access
 * Page"). L2's write to offset 380H (initial count) is an APIC-write VM
 * exit (56), trap-like, with the page offset in qualification bits 11:0
 * ("APIC-Write VM Exits", "Exit Qualification for APIC-Write VM
 * Exits"): L1's, with L1's host state. */
START_TEST(apic_write_exit_reflected_with_offset)
{
    with_tpr_shadow(SECONDARY, VAPIC_A, 0x50, 0);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u | (1u << 8));
    set12(VCORE_VMCS_APIC_ACCESS_ADDR, APIC_ACC);
    set12(VCORE_VMCS_EXIT_QUALIFICATION, 0xffff);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_exit1(VCORE_VMX_EXIT_APIC_WRITE, 1, VCORE_VMCS_EXIT_QUALIFICATION, 0x380u);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & 0x301u, 0x101u);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR), (uint64_t)(uintptr_t)(ram + VAPIC_A));
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_APIC_ACCESS_ADDR), (uint64_t)(uintptr_t)(ram + APIC_ACC));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_APIC_WRITE);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x380u);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L1);
    ck_assert_uint_eq(last().kind, VCORE_NVMX_RULE_PROC2);
    ck_assert_uint_eq(last().arg, 8);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* The merge rule of secondary 8 is L1's: L0's bit (vmcs01's) does not
 * reach vmcs02, L1's does. */
START_TEST(apic_register_virtualization_merge_is_l1s)
{
    uint32_t l1[5] = {0x16, PROC_REF | TPR_SHADOW | SECONDARY, 1u, 0x00036dfb, 0x000011fb};
    uint32_t l0[5] = {0, SECONDARY, 1u << 8, 0, 0}, m[5];
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[2] & (1u << 8), 0);
    l1[2] |= 1u << 8;
    l0[2] = 0;
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[2] & (1u << 8), 1u << 8);
}
END_TEST

/* The merge rule: L0 intercepting CR8 for L1 (the vmx backend keeps L1's
 * TPR in software) does not reach vmcs02 when L1 uses the TPR shadow; it
 * is forced when L1 does not. */
START_TEST(cr8_exiting_merge_with_tpr_shadow)
{
    uint32_t l1[5] = {0x16, PROC_REF | TPR_SHADOW, 0, 0x00036dfb, 0x000011fb};
    uint32_t l0[5] = {0, CR8_LOAD | CR8_STORE, 0, 0, 0}, m[5];
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[1] & (CR8_LOAD | CR8_STORE | TPR_SHADOW), TPR_SHADOW);
    l1[1] |= CR8_STORE;
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[1] & (CR8_LOAD | CR8_STORE | TPR_SHADOW), CR8_STORE | TPR_SHADOW);
    l1[1] = PROC_REF;
    l0[1] = 0;
    vcore_nvmx_merge_controls(l1, l0, m);
    ck_assert_uint_eq(m[1] & (CR8_LOAD | CR8_STORE | TPR_SHADOW), CR8_LOAD | CR8_STORE);
}
END_TEST

static Suite *apic_suite(void)
{
    Suite *s = suite_create("nested_apic");
    TCase *t = tcase_create("tpr_shadow");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, tpr_shadow_vmcs02_on_l1_page);
    tcase_add_test(t, no_tpr_shadow_forces_cr8_exiting);
    tcase_add_test(t, tpr_below_threshold_reflected_with_vtpr);
    tcase_add_test(t, cr8_load_exiting_with_tpr_shadow_is_l1s);
    tcase_add_test(t, cr8_exiting_merge_with_tpr_shadow);
    tcase_add_test(t, new_virtual_apic_address_used_at_next_entry);
    tcase_add_test(t, misaligned_virtual_apic_address_is_vmfail);
    tcase_add_test(t, threshold_above_vtpr);
    tcase_add_test(t, threshold_above_vtpr_with_apic_access);
    suite_add_tcase(s, t);
    TCase *a = tcase_create("apic_access");
    tcase_add_checked_fixture(a, setup, teardown);
    tcase_add_test(a, apic_access_exit_reflected_with_qualification);
    tcase_add_loop_test(a, apic_access_unbacked_is_refused, 0, 2);
    tcase_add_test(a, apic_access_inactive_without_secondary);
    tcase_add_test(a, apic_access_follows_memory_map);
    tcase_add_loop_test(a, vapic_unbacked_is_refused, 0, 2);
    tcase_add_test(a, vapic_follows_memory_map);
    tcase_add_test(a, apic_write_exit_reflected_with_offset);
    tcase_add_test(a, apic_register_virtualization_merge_is_l1s);
    suite_add_tcase(s, a);
    return s;
}

int main(void)
{
    return vcore_test_run(apic_suite());
}
