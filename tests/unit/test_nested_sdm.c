/*
 * test_nested_sdm.c - what L1 sees when L2 exits to it, checked against the
 * manual rule by rule, as black-box tests of the pipeline on the mock.
 *
 * Every expected value comes from SDM Vol. 3: "Conditions for VM Exits"
 * ("Instructions That Cause VM Exits Conditionally", "Other Causes of VM
 * Exits"), "VM-Execution Controls" ("Exception Bitmap", "I/O-Bitmap
 * Addresses", "MSR-Bitmap Address", "Guest/Host Masks and Read Shadows for
 * CR0 and CR4", "CR3-Target Controls"), and "VM Exits" ("Basic VM-Exit
 * Information", "Information for VM Exits Due to Vectored Events",
 * "Information for VM Exits That Occur During Event Delivery",
 * "Information for VM Exits Due to Instruction Execution", "Saving Guest
 * State", "Loading Host State").
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define PROC12 0x04006172u /* the reference vmcs12's primary controls */
#define PROC_UNCOND_IO (1u << 24)
#define PROC_USE_IO_BITMAPS (1u << 25)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_CR3_LOAD (1u << 15)
#define CR0_PE 0x1u
#define CR0_MP 0x2u
#define CR0_TS 0x8u
#define CR0_NE 0x20u

/* "Exit Qualification for I/O Instructions": size - 1 in bits 2:0,
 * direction in bit 3 (1 = IN), port in bits 31:16. */
#define IOQ(port, size, in) (((uint64_t)(port) << 16) | ((uint64_t)(size)-1u) | ((in) ? 8u : 0u))

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* Who owns an exit from L2 by the current vmcs12 (vcore_nvmx_exit_owner()). */
static uint32_t owner_of(uint32_t reason, uint64_t qual, uint32_t intr, uint32_t err, uint32_t ecx, uint64_t gpr)
{
    vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
    ck_assert_int_eq(vcore_nvmx_mem_from_vm(vm, &mem), VCORE_OK);
    vcore_nvmx_l2_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = reason;
    e.qualification = qual;
    e.intr_info = intr;
    e.intr_error = err;
    e.msr_index = ecx;
    e.gpr_value = gpr;
    vcore_nvmx_decision_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_exit_owner(nv, &mem, &e, &d), VCORE_OK);
    return d.owner;
}

/* L1's VMWRITE of one vmcs12 field (register operands). */
static void vmwrite(uint32_t enc, uint64_t v)
{
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, enc, v);
    ck_assert_uint_eq(last().in_l2, false);
}

static uint32_t io(uint32_t port, uint32_t size)
{
    return owner_of(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(port, size, false), 0, 0, 0, 0);
}

#define L1 VCORE_NVMX_OWNER_L1
#define L0 VCORE_NVMX_OWNER_L0

/* ---- "Instructions That Cause VM Exits Conditionally": IN/OUT ---- */

/* With "use I/O bitmaps", an access exits if any port it touches has its
 * bit set: bitmap A holds ports 0000H-7FFFH, bitmap B 8000H-FFFFH. A word
 * access at 7FFFH touches 8000H (bit 0 of bitmap B); a dword at 80H
 * touches 80H-83H but not 84H. */
START_TEST(io_bitmap_multibyte_access_into_a_set_port)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_USE_IO_BITMAPS);
    set12(VCORE_VMCS_IO_BITMAP_A, IOBM_A);
    set12(VCORE_VMCS_IO_BITMAP_B, IOBM_B);
    put(IOBM_B, 0x01, 1);                 /* port 8000H */
    put(IOBM_A + 0x83 / 8, 1u << 3, 1);   /* port 83H */
    put(IOBM_A + 0x200 / 8, 1u << 4, 1);  /* port 204H */
    load_vmcs12();
    ck_assert_uint_eq(io(0x7fff, 1), L0);
    ck_assert_uint_eq(io(0x7fff, 2), L1);
    ck_assert_uint_eq(io(0x7ffe, 2), L0);
    ck_assert_uint_eq(io(0x7ffd, 4), L1);
    ck_assert_uint_eq(io(0x80, 4), L1);
    ck_assert_uint_eq(io(0x83, 1), L1);
    ck_assert_uint_eq(io(0x84, 4), L0);
    ck_assert_uint_eq(io(0x7f, 4), L0);  /* 7FH-82H */
    ck_assert_uint_eq(io(0x201, 4), L1); /* 201H-204H */
    ck_assert_uint_eq(io(0x200, 4), L0);
}
END_TEST

/* "If an I/O operation 'wraps around' the 16-bit I/O-port space (accesses
 * ports FFFFH and 0000H), the I/O instruction causes a VM exit" - with
 * every bit of both bitmaps clear. */
START_TEST(io_bitmap_port_wrap_at_ffff_exits)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_USE_IO_BITMAPS);
    set12(VCORE_VMCS_IO_BITMAP_A, IOBM_A);
    set12(VCORE_VMCS_IO_BITMAP_B, IOBM_B);
    load_vmcs12();
    ck_assert_uint_eq(io(0xffff, 1), L0);
    ck_assert_uint_eq(io(0xffff, 2), L1);
    ck_assert_uint_eq(io(0xfffe, 2), L0);
    ck_assert_uint_eq(io(0xfffd, 4), L1);
    ck_assert_uint_eq(io(0xfffc, 4), L0);
    ck_assert_uint_eq(io(0x0000, 4), L0);
}
END_TEST

/* "The 'unconditional I/O exiting' VM-execution control is ignored if the
 * 'use I/O bitmaps' VM-execution control is 1"; without bitmaps it alone
 * decides. */
START_TEST(io_unconditional_exiting_ignored_with_bitmaps)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_USE_IO_BITMAPS | PROC_UNCOND_IO);
    set12(VCORE_VMCS_IO_BITMAP_A, IOBM_A);
    set12(VCORE_VMCS_IO_BITMAP_B, IOBM_B);
    load_vmcs12();
    ck_assert_uint_eq(io(0x3f8, 1), L0);
    vmwrite(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_UNCOND_IO);
    ck_assert_uint_eq(io(0x3f8, 1), L1);
    vmwrite(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12);
    ck_assert_uint_eq(io(0x3f8, 1), L0);
    ck_assert_uint_eq(io(0xffff, 2), L0); /* the wrap rule is the bitmaps' */
}
END_TEST

/* ---- RDMSR/WRMSR and "MSR-Bitmap Address" ---- */

static uint32_t msr(bool write, uint32_t ecx)
{
    return owner_of(write ? VCORE_VMX_EXIT_WRMSR : VCORE_VMX_EXIT_RDMSR, 0, 0, 0, ecx, 0);
}

/* Read bitmap for high MSRs (C0000000H-C0001FFFH) at byte 1024, write
 * bitmap for high MSRs at byte 3072; ECX in neither range always exits;
 * without "use MSR bitmaps" every RDMSR/WRMSR exits. */
START_TEST(msr_bitmap_high_range_and_outside_ranges)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_USE_MSR_BITMAPS);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    put(MSRBM + 1024 + 0x80 / 8, 1u << 0, 1);     /* read C0000080H */
    put(MSRBM + 3072 + 0x102 / 8, 1u << 2, 1);    /* write C0000102H */
    put(MSRBM + 3072 + 0x1fff / 8, 1u << 7, 1);   /* write C0001FFFH */
    put(MSRBM + 2048 + 0x10 / 8, 1u << 0, 1);     /* write 10H */
    load_vmcs12();
    ck_assert_uint_eq(msr(false, 0xc0000080), L1);
    ck_assert_uint_eq(msr(true, 0xc0000080), L0);
    ck_assert_uint_eq(msr(false, 0x80), L0); /* low range, same offset */
    ck_assert_uint_eq(msr(true, 0xc0000102), L1);
    ck_assert_uint_eq(msr(false, 0xc0000102), L0);
    ck_assert_uint_eq(msr(true, 0x102), L0);
    ck_assert_uint_eq(msr(true, 0xc0001fff), L1);
    ck_assert_uint_eq(msr(false, 0xc0001fff), L0);
    ck_assert_uint_eq(msr(true, 0x10), L1);
    ck_assert_uint_eq(msr(false, 0x10), L0);
    ck_assert_uint_eq(msr(false, 0x1fff), L0);
    /* Outside both ranges: always. */
    ck_assert_uint_eq(msr(false, 0x2000), L1);
    ck_assert_uint_eq(msr(true, 0x2000), L1);
    ck_assert_uint_eq(msr(false, 0xc0002000), L1);
    ck_assert_uint_eq(msr(false, 0xbfffffff), L1);
    ck_assert_uint_eq(msr(true, 0x40000000), L1);
    vmwrite(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12);
    ck_assert_uint_eq(msr(false, 0x1fff), L1);
    ck_assert_uint_eq(msr(false, 0xc0000081), L1);
}
END_TEST

/* ---- MOV to CR3, CR0/CR4 masks and shadows, CLTS, LMSW ---- */

/* "Exit Qualification for Control-Register Accesses": CR number in 3:0,
 * access type in 5:4 (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW), the
 * register in 11:8, the LMSW source in 31:16. */
static uint32_t cr(uint32_t n, uint32_t type, uint64_t val, uint32_t lmsw)
{
    uint64_t q = n | (type << 4) | ((uint64_t)lmsw << 16);
    return owner_of(VCORE_VMX_EXIT_CR_ACCESS, q, 0, 0, 0, val);
}

/* MOV to CR3 with "CR3-load exiting" exits unless the source equals one of
 * the first n CR3-target values, n the CR3-target count. */
START_TEST(cr3_load_target_values_first_n_only)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | PROC_CR3_LOAD);
    set12(VCORE_VMCS_CR3_TARGET_COUNT, 1);
    set12(VCORE_VMCS_CR3_TARGET_VALUE0, 0x5000);
    set12(VCORE_VMCS_CR3_TARGET_VALUE1, 0x6000);
    load_vmcs12();
    ck_assert_uint_eq(cr(3, 0, 0x5000, 0), L0);
    ck_assert_uint_eq(cr(3, 0, 0x6000, 0), L1);
    ck_assert_uint_eq(cr(3, 0, 0x7000, 0), L1);
    vmwrite(VCORE_VMCS_CR3_TARGET_COUNT, 2);
    ck_assert_uint_eq(cr(3, 0, 0x6000, 0), L0);
    vmwrite(VCORE_VMCS_CR3_TARGET_COUNT, 0);
    ck_assert_uint_eq(cr(3, 0, 0x5000, 0), L1);
    vmwrite(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 & ~(PROC_CR3_LOAD | (1u << 16)));
    ck_assert_uint_eq(cr(3, 0, 0x7000, 0), L0);
}
END_TEST

/* MOV to CR0/CR4 exits unless the source matches the read shadow in every
 * bit set in the guest/host mask; bits outside the mask never matter. */
START_TEST(cr0_cr4_mov_mask_and_shadow)
{
    set12(VCORE_VMCS_CR0_GUEST_HOST_MASK, CR0_TS | CR0_NE);
    set12(VCORE_VMCS_CR0_READ_SHADOW, CR0_NE);
    set12(VCORE_VMCS_CR4_GUEST_HOST_MASK, 0x2000); /* VMXE */
    set12(VCORE_VMCS_CR4_READ_SHADOW, 0);
    load_vmcs12();
    ck_assert_uint_eq(cr(0, 0, 0x80050033, 0), L0);          /* NE=1, TS=0 */
    ck_assert_uint_eq(cr(0, 0, 0x80050033 | CR0_TS, 0), L1);
    ck_assert_uint_eq(cr(0, 0, 0x80050033 & ~CR0_NE, 0), L1);
    ck_assert_uint_eq(cr(0, 0, 0x20, 0), L0);                 /* PG/PE off: not masked */
    ck_assert_uint_eq(cr(4, 0, 0x20, 0), L0);
    ck_assert_uint_eq(cr(4, 0, 0x2020, 0), L1);
    /* MOV from CR0/CR4 never exits (reads return the shadow). */
    ck_assert_uint_eq(cr(0, 1, 0, 0), L0);
    ck_assert_uint_eq(cr(4, 1, 0, 0), L0);
}
END_TEST

/* CLTS exits iff bit 3 (TS) is set in both the CR0 guest/host mask and the
 * CR0 read shadow. */
START_TEST(clts_mask_and_shadow_both_ts)
{
    set12(VCORE_VMCS_CR0_GUEST_HOST_MASK, CR0_TS);
    set12(VCORE_VMCS_CR0_READ_SHADOW, CR0_TS);
    load_vmcs12();
    ck_assert_uint_eq(cr(0, 2, 0, 0), L1);
    vmwrite(VCORE_VMCS_CR0_READ_SHADOW, 0);
    ck_assert_uint_eq(cr(0, 2, 0, 0), L0);
    vmwrite(VCORE_VMCS_CR0_GUEST_HOST_MASK, ~(uint64_t)CR0_TS);
    vmwrite(VCORE_VMCS_CR0_READ_SHADOW, ~0ull);
    ck_assert_uint_eq(cr(0, 2, 0, 0), L0);
}
END_TEST

/* LMSW exits if PE is set in the mask and the source and clear in the
 * shadow (LMSW can set PE, never clear it), or if for a bit of 3:1 set in
 * the mask the source and the shadow differ. Mask bits above 3 never
 * matter: LMSW writes only bits 3:0. */
START_TEST(lmsw_can_set_pe_but_not_clear_it)
{
    set12(VCORE_VMCS_CR0_GUEST_HOST_MASK, CR0_PE);
    set12(VCORE_VMCS_CR0_READ_SHADOW, 0);
    load_vmcs12();
    ck_assert_uint_eq(cr(0, 3, 0, CR0_PE), L1);
    ck_assert_uint_eq(cr(0, 3, 0, 0), L0);
    vmwrite(VCORE_VMCS_CR0_READ_SHADOW, CR0_PE);
    ck_assert_uint_eq(cr(0, 3, 0, 0), L0); /* would clear PE: it cannot */
    ck_assert_uint_eq(cr(0, 3, 0, CR0_PE), L0);
    vmwrite(VCORE_VMCS_CR0_GUEST_HOST_MASK, CR0_MP | CR0_NE);
    vmwrite(VCORE_VMCS_CR0_READ_SHADOW, 0);
    ck_assert_uint_eq(cr(0, 3, 0, CR0_MP), L1);
    ck_assert_uint_eq(cr(0, 3, 0, CR0_TS | CR0_PE), L0);
    vmwrite(VCORE_VMCS_CR0_READ_SHADOW, CR0_MP | CR0_NE);
    ck_assert_uint_eq(cr(0, 3, 0, 0), L1);
    ck_assert_uint_eq(cr(0, 3, 0, CR0_MP), L0); /* NE differs: LMSW does not write it */
}
END_TEST

/* ---- "Exception Bitmap" ---- */

static uint32_t pf(uint32_t pfec)
{
    return owner_of(VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 0x80000b0eu, pfec, 0, 0);
}

/* #PF: with bit 14 set it exits iff PFEC & mask == match; with bit 14
 * clear iff PFEC & mask != match. */
START_TEST(pf_error_code_mask_match_with_bit_14)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MASK, 0x3);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 0x3);
    load_vmcs12();
    ck_assert_uint_eq(pf(0x3), L1);
    ck_assert_uint_eq(pf(0x7), L1);
    ck_assert_uint_eq(pf(0x1), L0);
    ck_assert_uint_eq(pf(0x2), L0);
    vmwrite(VCORE_VMCS_EXCEPTION_BITMAP, 0);
    ck_assert_uint_eq(pf(0x3), L0);
    ck_assert_uint_eq(pf(0x7), L0);
    ck_assert_uint_eq(pf(0x1), L1);
    ck_assert_uint_eq(pf(0x0), L1);
    /* mask 0, match 0: bit 14 alone decides. */
    vmwrite(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MASK, 0);
    vmwrite(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 0);
    ck_assert_uint_eq(pf(0x1f), L0);
    vmwrite(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    ck_assert_uint_eq(pf(0x1f), L1);
    /* mask 0, match 1: PFEC & 0 is never 1. */
    vmwrite(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH, 1);
    ck_assert_uint_eq(pf(0x1), L0);
    vmwrite(VCORE_VMCS_EXCEPTION_BITMAP, 0);
    ck_assert_uint_eq(pf(0x1), L1);
}
END_TEST

/* An NMI exits by "NMI exiting", never by bit 2 of the exception bitmap;
 * other exceptions by their bit. */
START_TEST(nmi_by_nmi_exiting_not_the_bitmap)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 2);
    load_vmcs12();
    ck_assert_uint_eq(owner_of(VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 0x80000202u, 0, 0, 0), L0);
    ck_assert_uint_eq(owner_of(VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 0x80000603u, 0, 0, 0), L0);
    vmwrite(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 3));
    vmwrite(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 3);
    ck_assert_uint_eq(owner_of(VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 0x80000202u, 0, 0, 0), L1);
    ck_assert_uint_eq(owner_of(VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 0x80000603u, 0, 0, 0), L1);
}
END_TEST

/* A processor NMI (_i = 0) or machine check (_i = 1) that ends a run of
 * vmcs02 is the host's (vmcs02 always has "NMI exiting"; the backend hands
 * both to the host's handlers, backend.h), not L1's, even with L1's "NMI
 * exiting" and #MC bit: L2 is entered again and its next exit (CPUID)
 * is what L1 sees. The vCPU's own NMIs reach L1 as events
 * (nmi_for_the_vcpu_exits_to_l1_with_nmi_exiting). */
START_TEST(host_nmi_and_machine_check_stay_with_l0)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 3));
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 18);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INTR_INFO};
    uint64_t val[1] = {_i ? 0x80000312u : 0x80000202u};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
}
END_TEST

/* ---- the exit information L1 reads ---- */

/* L1's VMLAUNCH; L2 exits with reason and the vmcs02 fields given; L1,
 * which takes the exit, then halts. */
static void launch_exit_to_l1(uint32_t reason, uint32_t n, const uint32_t *enc, const uint64_t *val)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, n, enc, val);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(last().owner, L1);
}

/* "Information for VM Exits Due to Vectored Events": INT3 (#BP, vector 3)
 * is a software exception, type 6; "VM-Exit Instruction Length": saved
 * for software exceptions. "Saving RIP": RIP of the INT3. */
START_TEST(int3_reflected_as_software_exception_with_length)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 3);
    uint32_t enc[3] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_GUEST_RIP};
    uint64_t val[3] = {0x80000603u, 1, 0x401234};
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 3, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000603u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD) >> 31, 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401234);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* ICEBP (INT1) is a privileged software exception: #DB, type 5, with
 * the instruction length ("VM-Exit Instruction Length": "VM exits due to
 * ... privileged software exceptions"). */
START_TEST(icebp_reflected_as_privileged_software_exception_with_length)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 1);
    set12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, 9);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {0x80000501u, 1};
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 2, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000501u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 1);
}
END_TEST

/* #PF: type 3 with an error code (bit 11), the error code in the
 * interruption error code, the faulting linear address in the exit
 * qualification. */
START_TEST(pf_reflected_with_error_code_and_cr2)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    uint32_t enc[3] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE,
                       VCORE_VMCS_EXIT_QUALIFICATION};
    uint64_t val[3] = {0x80000b0eu, 0x6, 0x7fffdead0000ull};
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 3, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000b0eu);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE), 0x6);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x7fffdead0000ull);
}
END_TEST

/* "Information for VM Exits That Occur During Event Delivery": a #PF while
 * delivering a #GP (hardware exception with error code): IDT-vectoring
 * information valid, vector 13, type 3, bit 11, and the IDT-vectoring
 * error code. */
START_TEST(exception_during_delivery_of_hardware_exception)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    uint32_t enc[4] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE,
                       VCORE_VMCS_IDT_VECTORING_INFO_FIELD, VCORE_VMCS_IDT_VECTORING_ERROR_CODE};
    uint64_t val[4] = {0x80000b0eu, 0x2, 0x80000b0du, 0x18};
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 4, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_ERROR_CODE), 0x18);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000b0eu);
}
END_TEST

/* "VM-Exit Instruction Length": saved "for VM exits due to faults
 * encountered during delivery of a software interrupt, privileged software
 * exception, or software exception" - here a #PF (itself a hardware
 * exception, type 3) while delivering INT 80H (type 4) of a 2-byte
 * instruction. L1 needs the length to re-inject the INT. */
START_TEST(fault_during_software_interrupt_delivery_saves_length)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    uint32_t enc[4] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE,
                       VCORE_VMCS_IDT_VECTORING_INFO_FIELD, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[4] = {0x80000b0eu, 0x0, 0x80000480u, 2};
    set12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, 0);
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 4, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0x80000480u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
}
END_TEST

/* The same for INT3 (software exception, type 6) and ICEBP (privileged
 * software exception, type 5) being delivered when a #GP exits. */
START_TEST(fault_during_software_exception_delivery_saves_length)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    uint32_t enc[4] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE,
                       VCORE_VMCS_IDT_VECTORING_INFO_FIELD, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[4] = {0x80000b0du, 0x1a, 0x80000603u, 1};
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 4, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 1);
    nested_vm_destroy(0);
    setup();
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    val[2] = 0x80000501u;
    val[3] = 1;
    set12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, 7);
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 4, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 1);
}
END_TEST

/* An exit not during event delivery has IDT-vectoring information invalid
 * (bit 31 clear), whatever an earlier exit left there. */
START_TEST(idt_vectoring_invalid_when_not_during_delivery)
{
    set12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD, 0x80000b0du);
    launch_exit_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD) >> 31, 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}
END_TEST

/* Every VM exit clears the valid bit of the VM-entry interruption-
 * information field ("Updating Non-Register State"); the other bits stay. */
START_TEST(entry_interruption_valid_bit_cleared)
{
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    set12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0x80000030u);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x202); /* "Checks on VM-Entry Control Fields": IF for an external interrupt */
    uint32_t enc[3] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_IDT_VECTORING_INFO_FIELD,
                       VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE};
    uint64_t val[3] = {0x80000b0eu, 0x80000030u, 0};
    launch_exit_to_l1(VCORE_VMX_EXIT_EXCEPTION_NMI, 3, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x30u);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0x80000030u);
}
END_TEST

/* "Saving Non-Register State": the interruptibility state (blocking by
 * STI, bit 0) is saved. */
START_TEST(interruptibility_saved)
{
    uint32_t enc[2] = {VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {1, 2};
    launch_exit_to_l1(VCORE_VMX_EXIT_CPUID, 2, enc, val);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO), 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
}
END_TEST

/* "Information for VM Exits That Occur During Event Delivery": L2 was
 * delivering a #PF (error code 2) when an interrupt L0 owns stopped it;
 * L0 resumes the delivery, but first an interrupt for the vCPU is
 * recognized and L1 has "external-interrupt exiting" (L2 had blocking by
 * MOV SS at the entry, so it was not taken then). To L1 that is an
 * external-interrupt exit during the #PF's delivery: IDT-vectoring
 * information valid with the #PF and its error code - the event is L1's
 * to re-inject now. L1 then resumes L2 without injecting anything: L2
 * gets no event (vmcs02's VM-entry interruption information not valid). */
START_TEST(interrupt_exit_during_resumed_event_delivery)
{
    /* Case 1: INT3 (software exception, type 6) of 1 byte being delivered:
     * its length is the VM-exit instruction length ("Information for VM
     * Exits Due to Instruction Execution"). */
    bool sw = _i != 0;
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 15));
    set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, 2);
    load_vmcs12();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[4] = {VCORE_VMCS_IDT_VECTORING_INFO_FIELD, VCORE_VMCS_IDT_VECTORING_ERROR_CODE,
                       VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[4] = {sw ? 0x80000603u : 0x80000b0eu, 2, 0, 1};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, 0, 4, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000030u);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), sw ? 0x80000603u : 0x80000b0eu);
    if (sw)
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 1);
    else
        ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_ERROR_CODE), 2);
    /* L1 resumes L2 injecting nothing. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD) >> 31, 0);
}
END_TEST

/* The same for an exception L0 raises in L2 itself: L2's RDMSR that the VMM
 * refuses is #GP(0) for L2 (SDM Vol. 2, "RDMSR"), which L1 does not
 * intercept; an interrupt for the vCPU made pending meanwhile, with L1's
 * "external-interrupt exiting", exits to L1 first: the #GP is the
 * IDT-vectoring information (type 3, error code 0), L2's RIP still at the
 * RDMSR. */
START_TEST(interrupt_exit_before_l0_injected_exception)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 15));
    nested_msr_bitmap_clear();
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    nested_push_l2_q(VCORE_VMX_EXIT_RDMSR, 0, 2);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    e.u.msr.error = 1;
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXTERNAL_INTERRUPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000030u);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_ERROR_CODE), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD) >> 31, 0);
}
END_TEST

/* An INIT for the vCPU ("Other Causes of VM Exits": exit 3 to L1) taken
 * before the #GP(0) L0 raised in L2 for a refused RDMSR is delivered: the
 * #GP is the IDT-vectoring information, as for an interrupt. */
START_TEST(init_exit_before_l0_injected_exception)
{
    nested_msr_bitmap_clear();
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    nested_push_l2_q(VCORE_VMX_EXIT_RDMSR, 0, 2);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    e.u.msr.error = 1;
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_INIT);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_ERROR_CODE), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
}
END_TEST

/* "Other Causes of VM Exits": with "NMI exiting" an NMI causes a VM exit,
 * reason 0, interruption information vector 2, type 2 (NMI), valid
 * ("Information for VM Exits Due to Vectored Events"); the NMI is not
 * delivered to L2 and no longer pending, and NMIs are blocked after the
 * exit, as if it had been delivered (L1 unblocks them with IRET). Here an
 * NMI the VMM raises for the vCPU while L2 runs. */
START_TEST(nmi_for_the_vcpu_exits_to_l1_with_nmi_exiting)
{
    /* Case 1: L2 has blocking by MOV SS (interruptibility bit 1): the NMI
     * waits, L2 runs on. Case 2: blocking by NMI (bit 3) without "virtual
     * NMIs": the same ("Interruptibility State"). Case 3: bit 3 with
     * "virtual NMIs" is virtual-NMI blocking, which does not block NMIs:
     * the exit as in case 0. */
    bool vnmi = _i == 3;
    uint32_t intr = _i == 1 ? 2u : _i >= 2 ? 8u : 0u;
    uint32_t block = vnmi ? 0u : intr;
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 3) | (vnmi ? 1u << 5 : 0u));
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_GUEST_RIP, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO};
    uint64_t val[2] = {0x401234, intr};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 2, enc, val); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    if (block) {
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        /* L2 ran to its CPUID exit; the NMI is then L1's to take. */
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
        return;
    }
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401234); /* "Saving RIP": L2's next instruction */
    ck_assert(!last().in_l2);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000202u);
    ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD) >> 31, 0);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.nmi_pending, 0);
    ck_assert_uint_eq(ev.nmi_masked, 1);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* "Activity State": in the wait-for-SIPI state all events other than SIPI
 * are blocked - an interrupt or an NMI for the vCPU, with L1's
 * "external-interrupt exiting" and "NMI exiting", causes no VM exit; L2's
 * next exit is the processor's (here one for the VMM). Case 1: an NMI. */
START_TEST(wait_for_sipi_blocks_interrupt_and_nmi_exits)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17 | (1u << 3));
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 15));
    set12(VCORE_VMCS_GUEST_ACTIVITY_STATE, 3);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL); /* to the VMM, L2 stays */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    if (_i)
        ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    else
        ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_SMI, 0, 0, NULL, NULL);
    e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert(last().in_l2);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
}
END_TEST

/* ---- "Loading Host State" ---- */

/* After any exit to L1: CS = host selector, base 0, limit FFFFFFFFH, type
 * 11, S, DPL 0, P, L (host address-space size 1), D/B 0, G; SS/DS/ES/FS/GS
 * with a non-null selector type 3, S, P, D/B, G, limit FFFFFFFFH, base 0
 * (FS/GS: host bases, loaded also for a null selector on an exit to 64-bit
 * mode); a null selector unusable; TR limit 67H, type 11, S 0, P 1, base
 * from the host state; LDTR selector 0 and unusable; GDTR and IDTR limits
 * FFFFH; RFLAGS 2; RIP/RSP from the host state; DR7 400H; IA32_DEBUGCTL 0;
 * the SYSENTER MSRs from the host state; IA32_PAT with "load IA32_PAT". */
START_TEST(host_state_after_exit)
{
    set12(VCORE_VMCS_HOST_DS_SELECTOR, 0);
    set12(VCORE_VMCS_HOST_ES_SELECTOR, 0x10);
    set12(VCORE_VMCS_HOST_FS_SELECTOR, 0);
    set12(VCORE_VMCS_HOST_FS_BASE, 0x7000);
    set12(VCORE_VMCS_HOST_GS_SELECTOR, 0x10);
    set12(VCORE_VMCS_HOST_GS_BASE, 0xffff800000001000ull);
    set12(VCORE_VMCS_HOST_IA32_SYSENTER_CS, 0x23);
    set12(VCORE_VMCS_HOST_IA32_SYSENTER_ESP, 0xffff800000002000ull);
    set12(VCORE_VMCS_HOST_IA32_SYSENTER_EIP, 0xffff800000003000ull);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 19));
    set12(VCORE_VMCS_HOST_IA32_PAT, 0x0007010600070106ull);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2 | 0x200 | 0x8d5);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_DEBUGCTL, 1), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, 0x0606060606060606ull), VCORE_OK);
    vcore_x86_dregs_t dr = {.size = sizeof(dr)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &dr), VCORE_OK);
    dr.dr7 = 0x403;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &dr), VCORE_OK);
    launch_exit_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);

    vcore_x86_sregs_t s = sregs();
    const vcore_x86_segment_t *cs = &s.seg[VCORE_X86_CS];
    ck_assert_uint_eq(cs->selector, 0x08);
    ck_assert_uint_eq(cs->base, 0);
    ck_assert_uint_eq(cs->limit, 0xffffffffu);
    ck_assert_uint_eq(cs->ar & ~VCORE_X86_AR_AVL, 0xa09bu);
    const vcore_x86_segment_t *ss = &s.seg[VCORE_X86_SS];
    ck_assert_uint_eq(ss->selector, 0x10);
    ck_assert_uint_eq(ss->base, 0);
    ck_assert_uint_eq(ss->limit, 0xffffffffu);
    ck_assert_uint_eq(ss->ar & ~VCORE_X86_AR_AVL, 0xc093u);
    ck_assert_uint_eq(s.seg[VCORE_X86_ES].ar & ~VCORE_X86_AR_AVL, 0xc093u);
    ck_assert_uint_eq(s.seg[VCORE_X86_ES].base, 0);
    ck_assert_uint_eq(s.seg[VCORE_X86_DS].selector, 0);
    ck_assert_uint_eq(s.seg[VCORE_X86_DS].ar & VCORE_X86_AR_UNUSABLE, VCORE_X86_AR_UNUSABLE);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].selector, 0);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].ar & VCORE_X86_AR_UNUSABLE, VCORE_X86_AR_UNUSABLE);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].base, 0x7000);
    ck_assert_uint_eq(s.seg[VCORE_X86_GS].base, 0xffff800000001000ull);
    ck_assert_uint_eq(s.seg[VCORE_X86_GS].ar & ~VCORE_X86_AR_AVL, 0xc093u);
    const vcore_x86_segment_t *tr = &s.seg[VCORE_X86_TR];
    ck_assert_uint_eq(tr->selector, 0x18);
    ck_assert_uint_eq(tr->base, 0x4000);
    ck_assert_uint_eq(tr->limit, 0x67);
    ck_assert_uint_eq(tr->ar & ~VCORE_X86_AR_AVL, 0x8bu);
    ck_assert_uint_eq(s.seg[VCORE_X86_LDTR].selector, 0);
    ck_assert_uint_eq(s.seg[VCORE_X86_LDTR].ar & VCORE_X86_AR_UNUSABLE, VCORE_X86_AR_UNUSABLE);
    ck_assert_uint_eq(s.gdtr.base, 0x5000);
    ck_assert_uint_eq(s.gdtr.limit, 0xffff);
    ck_assert_uint_eq(s.idtr.base, 0x6000);
    ck_assert_uint_eq(s.idtr.limit, 0xffff);
    ck_assert_uint_eq(s.cr0, 0x80050033);
    ck_assert_uint_eq(s.cr3, 0x1000);
    ck_assert_uint_eq(s.cr4, 0x2020);
    ck_assert_uint_eq(s.efer & 0x500, 0x500); /* LME, LMA = host address-space size */
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, HOST_RIP);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSP], HOST_RSP);
    ck_assert_uint_eq(r.rflags, 0x2);
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &dr), VCORE_OK);
    ck_assert_uint_eq(dr.dr7, 0x400);
    uint64_t m = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_DEBUGCTL, &m), VCORE_OK);
    ck_assert_uint_eq(m, 0);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_SYSENTER_CS, &m), VCORE_OK);
    ck_assert_uint_eq(m, 0x23);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_SYSENTER_ESP, &m), VCORE_OK);
    ck_assert_uint_eq(m, 0xffff800000002000ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_SYSENTER_EIP, &m), VCORE_OK);
    ck_assert_uint_eq(m, 0xffff800000003000ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &m), VCORE_OK);
    ck_assert_uint_eq(m, 0x0007010600070106ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_FS_BASE, &m), VCORE_OK);
    ck_assert_uint_eq(m, 0x7000);
}
END_TEST

/* "load IA32_EFER" (exit control 21): EFER is the host field's value. */
START_TEST(host_efer_loaded_with_control)
{
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 21));
    set12(VCORE_VMCS_HOST_IA32_EFER, 0x500);
    launch_exit_to_l1(VCORE_VMX_EXIT_CPUID, 0, NULL, NULL);
    ck_assert_uint_eq(sregs().efer, 0x500);
}
END_TEST

static Suite *sdm_suite(void)
{
    Suite *s = suite_create("nested_sdm");
    TCase *tc = tcase_create("owner");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, io_bitmap_multibyte_access_into_a_set_port);
    tcase_add_test(tc, io_bitmap_port_wrap_at_ffff_exits);
    tcase_add_test(tc, io_unconditional_exiting_ignored_with_bitmaps);
    tcase_add_test(tc, msr_bitmap_high_range_and_outside_ranges);
    tcase_add_test(tc, cr3_load_target_values_first_n_only);
    tcase_add_test(tc, cr0_cr4_mov_mask_and_shadow);
    tcase_add_test(tc, clts_mask_and_shadow_both_ts);
    tcase_add_test(tc, lmsw_can_set_pe_but_not_clear_it);
    tcase_add_test(tc, pf_error_code_mask_match_with_bit_14);
    tcase_add_test(tc, nmi_by_nmi_exiting_not_the_bitmap);
    tcase_add_loop_test(tc, host_nmi_and_machine_check_stay_with_l0, 0, 2);
    suite_add_tcase(s, tc);
    TCase *ti = tcase_create("info");
    tcase_add_checked_fixture(ti, setup, teardown);
    tcase_add_test(ti, int3_reflected_as_software_exception_with_length);
    tcase_add_test(ti, icebp_reflected_as_privileged_software_exception_with_length);
    tcase_add_test(ti, pf_reflected_with_error_code_and_cr2);
    tcase_add_test(ti, exception_during_delivery_of_hardware_exception);
    tcase_add_test(ti, fault_during_software_interrupt_delivery_saves_length);
    tcase_add_test(ti, fault_during_software_exception_delivery_saves_length);
    tcase_add_test(ti, idt_vectoring_invalid_when_not_during_delivery);
    tcase_add_test(ti, entry_interruption_valid_bit_cleared);
    tcase_add_test(ti, interruptibility_saved);
    tcase_add_loop_test(ti, interrupt_exit_during_resumed_event_delivery, 0, 2);
    tcase_add_test(ti, interrupt_exit_before_l0_injected_exception);
    tcase_add_test(ti, init_exit_before_l0_injected_exception);
    tcase_add_loop_test(ti, nmi_for_the_vcpu_exits_to_l1_with_nmi_exiting, 0, 4);
    tcase_add_loop_test(ti, wait_for_sipi_blocks_interrupt_and_nmi_exits, 0, 2);
    suite_add_tcase(s, ti);
    TCase *th = tcase_create("host");
    tcase_add_checked_fixture(th, setup, teardown);
    tcase_add_test(th, host_state_after_exit);
    tcase_add_test(th, host_efer_loaded_with_control);
    suite_add_tcase(s, th);
    return s;
}

int main(void)
{
    return vcore_test_run(sdm_suite());
}
