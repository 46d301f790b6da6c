/*
 * test_nested_ug.c - unrestricted guest for L2 on the mock: the capability
 * MSRs L1 reads, the VM-entry rules that change with it, vmcs02, and the
 * exits L0 completes for an L2 in real-address mode or in protected mode
 * without paging, where a linear address is the L2 guest-physical address
 * that L1's EPT (ept12, composed into ept02) translates.
 *
 * Expected values come from the manuals: SDM Vol. 3, "Unrestricted
 * Guests", "Checks on VMX Controls" (unrestricted guest needs EPT),
 * "Checks on Guest Control Registers, Debug Registers, and MSRs" (PE and
 * PG not checked; PG needs PE), "Checks on Guest Segment Registers",
 * "Checks on VM-Entry Control Fields" (no error code with CR0.PE = 0),
 * "Exit Qualification for I/O Instructions", "Exit Qualification for EPT
 * Violations", "Format of the VM-Entry Interruption-Information Field";
 * SDM Vol. 2, "OUTS/OUTSB/OUTSW/OUTSD" ("Real-Address Mode Exceptions":
 * #GP for an operand past the segment limit, no error code), "MOV",
 * "Instruction Format" (16-bit ModR/M addressing).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define P2_EPT (1u << 1)
#define P2_URG (1u << 7)

/* ept12 in L1 memory, and where it sends L2's pages. */
#define EPT12_PML4 0x50000u
#define EPT12_PDPT 0x51000u
#define EPT12_PD 0x52000u
#define EPT12_PT 0x53000u
#define EPTP12 (EPT12_PML4 | 6u | (3u << 3)) /* WB, 4 levels */
#define L2_CODE 0x7000u                       /* CS base (selector 0700H) */
#define L1_CODE 0x74000u
#define L2_DATA 0x1000u                       /* DS base (selector 0100H) */
#define L1_DATA 0x81000u
#define L2_MMIO 0x9000u
#define L1_MMIO 0xfee00000ull                 /* no memory behind it */

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS | VCORE_NVMX_OPT_NO_HW_SHADOW);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static void ept12_map(uint64_t l2, uint64_t leaf)
{
    put(EPT12_PML4 + ((l2 >> 39) & 511) * 8, EPT12_PDPT | 7, 8);
    put(EPT12_PDPT + ((l2 >> 30) & 511) * 8, EPT12_PD | 7, 8);
    put(EPT12_PD + ((l2 >> 21) & 511) * 8, EPT12_PT | 7, 8);
    put(EPT12_PT + ((l2 >> 12) & 511) * 8, leaf, 8);
}

static void seg12(uint32_t sel_field, uint64_t sel, uint64_t base, uint64_t limit, uint64_t ar)
{
    /* Guest segment fields: selector 08xxH, limit 48xxH, AR 48xxH + 14H, base 68xxH. */
    uint32_t i = (sel_field - VCORE_VMCS_GUEST_ES_SELECTOR) / 2u;
    set12(sel_field, sel);
    set12(VCORE_VMCS_GUEST_ES_BASE + 2u * i, base);
    set12(VCORE_VMCS_GUEST_ES_LIMIT + 2u * i, limit);
    set12(VCORE_VMCS_GUEST_ES_AR_BYTES + 2u * i, ar);
}

/* L2 in real-address mode as L1 sets it up with unrestricted guest (the
 * state after RESET, less the high CS base): CR0 NE|ET (PE = PG = 0),
 * CR4.VMXE (fixed 1), 16-bit segments with base = selector << 4, limit
 * FFFFH, present accessed data (93H) and code (9BH, DPL 0), at 0700:0000.
 * ept12 maps L2's code, data and MMIO pages. */
static void vmcs12_real_mode(void)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, P2_EPT | P2_URG);
    set12(VCORE_VMCS_EPT_POINTER, EPTP12);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb); /* not IA-32e mode */
    set12(VCORE_VMCS_GUEST_CR0, 0x30);
    set12(VCORE_VMCS_GUEST_CR3, 0);
    set12(VCORE_VMCS_GUEST_CR4, 0x2000);
    set12(VCORE_VMCS_GUEST_RIP, 0);
    set12(VCORE_VMCS_GUEST_RSP, 0xfffe);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2);
    seg12(VCORE_VMCS_GUEST_CS_SELECTOR, L2_CODE >> 4, L2_CODE, 0xffff, 0x9b);
    seg12(VCORE_VMCS_GUEST_SS_SELECTOR, 0, 0, 0xffff, 0x93);
    seg12(VCORE_VMCS_GUEST_DS_SELECTOR, L2_DATA >> 4, L2_DATA, 0xffff, 0x93);
    seg12(VCORE_VMCS_GUEST_ES_SELECTOR, L2_DATA >> 4, L2_DATA, 0xffff, 0x93);
    seg12(VCORE_VMCS_GUEST_FS_SELECTOR, 0, 0, 0xffff, 0x93);
    seg12(VCORE_VMCS_GUEST_GS_SELECTOR, 0, 0, 0xffff, 0x93);
    set12(VCORE_VMCS_GUEST_IDTR_BASE, 0);
    set12(VCORE_VMCS_GUEST_IDTR_LIMIT, 0x3ff);
    ept12_map(L2_CODE, L1_CODE | 7 | (6u << 3));
    ept12_map(L2_DATA, L1_DATA | 7 | (6u << 3));
    ept12_map(L2_MMIO, L1_MMIO | 7);
}

/* L2 in protected mode without paging (CR0 PE|NE|ET): flat 32-bit segments. */
static void vmcs12_protected_no_paging(void)
{
    vmcs12_real_mode();
    set12(VCORE_VMCS_GUEST_CR0, 0x31);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    seg12(VCORE_VMCS_GUEST_CS_SELECTOR, 0x08, 0, 0xffffffff, 0xc09b);
    seg12(VCORE_VMCS_GUEST_SS_SELECTOR, 0x10, 0, 0xffffffff, 0xc093);
    seg12(VCORE_VMCS_GUEST_DS_SELECTOR, 0x10, 0, 0xffffffff, 0xc093);
    seg12(VCORE_VMCS_GUEST_ES_SELECTOR, 0x10, 0, 0xffffffff, 0xc093);
    seg12(VCORE_VMCS_GUEST_FS_SELECTOR, 0x10, 0, 0xffffffff, 0xc093);
    seg12(VCORE_VMCS_GUEST_GS_SELECTOR, 0x10, 0, 0xffffffff, 0xc093);
}

/* VMLAUNCH of the test's vmcs12 with L2's code at L1_CODE, then one exit. */
static vcore_exit_t launch_then(const uint8_t *code, size_t n, uint32_t reason, uint64_t qual)
{
    ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE, code, n), VCORE_OK); /* L2's CS:IP (linear L2_CODE) */
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(reason, qual, (uint32_t)n);
    return run();
}

/* After the VMM's reply: L2 runs again; its next exit (CPUID) is L1's, L1 halts. */
static void reply_then_cpuid(vcore_exit_t *e)
{
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, e), VCORE_OK);
    ck_assert_uint_eq(e->reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

#define IOQ_OUTS(port, size, rep) (((uint64_t)(port) << 16) | ((uint64_t)(size)-1u) | 0x10u | ((rep) ? 0x20u : 0u))

/* ---- what L1 is offered ---- */

/* "Secondary Processor-Based VM-Execution Controls": bit 7 is allowed-1
 * when the processor has it and L1 may enable EPT; IA32_VMX_MISC bit 5
 * (VM exits store EFER.LMA into "IA-32e mode guest", read as 1 wherever
 * unrestricted guest is supported, "Miscellaneous Data"); CR0_FIXED0 still
 * reports PE and PG (the relaxation is the entry check's, not the MSR's). */
START_TEST(caps_offer_ug_with_ept)
{
    const uint64_t *m = vcore_nvmx_caps(nv)->msr;
    ck_assert_uint_eq((m[VCORE_NVMX_CAP_PROCBASED2] >> 32) & (P2_EPT | P2_URG), P2_EPT | P2_URG);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_MISC] & (1u << 5), 1u << 5);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_CR0_FIXED0], 0x80000021ull);
}
END_TEST

/* A processor without unrestricted guest: L1 is not offered it, and a
 * vmcs12 that sets it fails with VMfailValid 7. */
START_TEST(caps_without_hardware_ug_refuse_it)
{
    nested_vm_destroy(0);
    vcore_nvmx_caps_t hw = {.size = sizeof(hw)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&hw), VCORE_OK);
    hw.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)P2_URG << 32);
    nested_vm(NULL, &hw, NULL, 0);
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & P2_URG, 0);
    vmcs12_real_mode();
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_EXEC_PROC2_ALLOWED1);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* Without EPT for L1 (a processor without it), no unrestricted guest
 * either ("Checks on VMX Controls": it requires "enable EPT"). */
START_TEST(caps_without_ept_offer_no_ug)
{
    nested_vm_destroy(0);
    vcore_nvmx_caps_t hw = {.size = sizeof(hw)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&hw), VCORE_OK);
    hw.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)P2_EPT << 32);
    nested_vm(NULL, &hw, NULL, 0);
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & (P2_EPT | P2_URG), 0);
}
END_TEST

/* ---- the VM-entry rules ---- */

/* "Checks on VMX Controls": unrestricted guest without EPT is VMfailValid 7. */
START_TEST(ug_without_ept_is_vmfail_7)
{
    vmcs12_real_mode();
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, P2_URG);
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    ck_assert_uint_eq(last().check, VCORE_VMX_CHECK_EXEC_URG_EPT);
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
}
END_TEST

/* Guest CR0 with and without unrestricted guest ("Checks on Guest Control
 * Registers..."): PE = PG = 0 needs it (else CR0_FIXED0 fails: exit 33,
 * qualification 0); PG = 1 with PE = 0 fails even with it. */
typedef struct cr0_case {
    uint32_t proc2;
    uint64_t cr0;
    uint32_t check; /* 0: L2 runs */
} cr0_case_t;
static const cr0_case_t cr0_cases[] = {
    {P2_EPT | P2_URG, 0x30, 0},
    {P2_EPT, 0x30, VCORE_VMX_CHECK_GUEST_CR0_FIXED0},
    {P2_EPT | P2_URG, 0x80000030ull, VCORE_VMX_CHECK_GUEST_CR0_PG_PE},
};

START_TEST(guest_cr0_pe_pg_with_and_without_ug)
{
    const cr0_case_t *c = &cr0_cases[_i];
    vmcs12_real_mode();
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, c->proc2);
    set12(VCORE_VMCS_GUEST_CR0, c->cr0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    if (!c->check)
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    if (c->check) {
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_INVALID_GUEST_STATE | (1u << 31));
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
        ck_assert_uint_eq(last().check, c->check);
    } else {
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    }
}
END_TEST

/* ---- vmcs02 and the exit to L1 ---- */

/* vmcs02 has "unrestricted guest" and EPT (ept02, never L1's pointer), L2's
 * real-mode CR0 and CS; L1 gets the CPUID exit with its length and L2's
 * real-mode CS:IP, and "IA-32e mode guest" stays 0 (EFER.LMA of a
 * real-mode guest, IA32_VMX_MISC bit 5). */
START_TEST(real_mode_l2_runs_on_vmcs02_with_ug)
{
    static const uint8_t cpuid[] = {0x0f, 0xa2};
    vmcs12_real_mode();
    vcore_exit_t e;
    ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE, cpuid, sizeof(cpuid)), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_GUEST_RIP, VCORE_VMCS_GUEST_CS_SELECTOR};
    uint64_t val[3] = {2, 0, L2_CODE >> 4};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 3, enc, val);
    push_hlt();
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (P2_EPT | P2_URG), P2_EPT | P2_URG);
    ck_assert_uint_ne(nested_peek02(VCORE_VMCS_EPT_POINTER), EPTP12);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CR0), 0x30);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CS_BASE), L2_CODE);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CS_AR_BYTES), 0x9b);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_CS_SELECTOR), L2_CODE >> 4);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_CS_BASE), L2_CODE);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_CR0), 0x30);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_CONTROLS) & (1u << 9), 0);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* ---- exits L0 completes for a real-mode L2 ---- */

/* REP OUTSB at 0700:0000 with a 16-bit address size: the element is at
 * DS.base + SI (0x1000 + 0x10, L2-physical = linear, then ept12 to L1
 * 0x81010); only SI and CX count and change (bits 63:16 of RSI and RCX
 * stay), IP moves past F3 6E. */
START_TEST(real_mode_rep_outsb_16bit_addressing)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    vmcs12_real_mode();
    put(L1_DATA + 0x10, 0x7a7978, 3); /* "xyz" */
    put(L2_DATA + 0x10, 0x434241, 3); /* "ABC" at L1 0x1010: never read */
    nested_set_gpr(VCORE_X86_RSI, 0xdead0010ull);
    nested_set_gpr(VCORE_X86_RCX, 0xbeef0003ull);
    vcore_exit_t e = launch_then(insn, sizeof(insn), VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ_OUTS(0x3f8, 1, true));
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.io.port, 0x3f8);
    ck_assert_uint_eq(e.u.io.width, 1);
    ck_assert_uint_eq(e.u.io.count, 3);
    ck_assert_mem_eq(e.u.io.data, "xyz", 3);
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0xdead0013ull);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0xbeef0000ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 2);
}
END_TEST

/* OUTSW at SI = FFFFH: the word's second byte is past DS's limit (FFFFH):
 * #GP with no error code in real-address mode, injected into L2
 * (interruption information 80000300H | 13: valid, hardware exception,
 * deliver-error-code 0), IP stays; with L1 intercepting #GP, exit 0 to L1
 * with that interruption information. */
START_TEST(real_mode_limit_fault_is_gp_without_error_code)
{
    static const uint8_t insn[] = {0x6f};
    for (int l1_gp = 0; l1_gp < 2; l1_gp++) {
        if (l1_gp) {
            nested_vm_destroy(0);
            setup();
        }
        vmcs12_real_mode();
        if (l1_gp)
            set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
        nested_set_gpr(VCORE_X86_RSI, 0xffff);
        ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE, insn, sizeof(insn)), VCORE_OK);
        load_vmcs12();
        push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
        nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ_OUTS(0x80, 2, false), 1);
        if (!l1_gp)
            push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        if (l1_gp) {
            ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
            ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x8000030du);
        } else {
            ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
            ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x8000030du);
            ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0);
        }
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RSI], 0xffff);
    }
}
END_TEST

/* MOV AX, [BX+SI+1234H] (8B 80 34 12: mod 2, rm 0 = [BX+SI] + disp16) to
 * L2's MMIO page: a 2-byte read (16-bit operand size), 4 bytes long; the
 * reply goes into AX only (bits 63:16 of RAX stay), IP += 4. The VMM sees
 * the L1-physical address ept12 gives (EPT violation at L2 0x9010, bits 0,
 * 7 and 8: a read of the linear address's translation). */
START_TEST(real_mode_mmio_16bit_modrm)
{
    static const uint8_t insn[] = {0x8b, 0x80, 0x34, 0x12};
    vmcs12_real_mode();
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE, insn, sizeof(insn)), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS};
    uint64_t val[3] = {1u | (1u << 7) | (1u << 8), L2_MMIO + 0x10, L2_MMIO + 0x10};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 3, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.mmio.gpa, L1_MMIO + 0x10);
    ck_assert_uint_eq(e.u.mmio.len, 2);
    ck_assert_uint_eq(e.u.mmio.is_write, 0);
    ck_assert_uint_eq(e.raw.data[0], 4);
    e.u.mmio.data[0] = 0xcd;
    e.u.mmio.data[1] = 0xab;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x112233445566abcdull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 4);
}
END_TEST

/* ---- protected mode without paging ---- */

/* OUTSB at EIP = 0x7000, ESI = 0x1010: linear = L2-physical (no paging),
 * ept12 gives L1 0x81010; a 32-bit address size moves ESI by 1. */
START_TEST(protected_no_paging_outsb_through_ept12)
{
    static const uint8_t insn[] = {0x6e};
    vmcs12_protected_no_paging();
    put(L1_DATA + 0x10, 'q', 1);
    nested_set_gpr(VCORE_X86_RSI, L2_DATA + 0x10);
    vcore_exit_t e = launch_then(insn, sizeof(insn), VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ_OUTS(0x80, 1, false));
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 1);
    ck_assert_uint_eq(e.u.io.data[0], 'q');
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RSI], L2_DATA + 0x11);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 1);
}
END_TEST

/* In protected mode the same limit fault keeps its error code (0):
 * interruption information 80000B0DH ("Protected Mode Exceptions"). */
START_TEST(protected_no_paging_limit_fault_has_error_code)
{
    static const uint8_t insn[] = {0x6e};
    vmcs12_protected_no_paging();
    set12(VCORE_VMCS_GUEST_DS_LIMIT, 0xfff);
    set12(VCORE_VMCS_GUEST_DS_AR_BYTES, 0x4093); /* byte granular */
    nested_set_gpr(VCORE_X86_RSI, 0x1000);
    ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE, insn, sizeof(insn)), VCORE_OK);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ_OUTS(0x80, 1, false), 1);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0);
}
END_TEST

static Suite *ug_suite(void)
{
    Suite *s = suite_create("nested_ug");
    TCase *tc = tcase_create("ug");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, caps_offer_ug_with_ept);
    tcase_add_test(tc, caps_without_hardware_ug_refuse_it);
    tcase_add_test(tc, caps_without_ept_offer_no_ug);
    tcase_add_test(tc, ug_without_ept_is_vmfail_7);
    tcase_add_loop_test(tc, guest_cr0_pe_pg_with_and_without_ug, 0, (int)(sizeof(cr0_cases) / sizeof(cr0_cases[0])));
    tcase_add_test(tc, real_mode_l2_runs_on_vmcs02_with_ug);
    tcase_add_test(tc, real_mode_rep_outsb_16bit_addressing);
    tcase_add_test(tc, real_mode_limit_fault_is_gp_without_error_code);
    tcase_add_test(tc, real_mode_mmio_16bit_modrm);
    tcase_add_test(tc, protected_no_paging_outsb_through_ept12);
    tcase_add_test(tc, protected_no_paging_limit_fault_has_error_code);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(ug_suite());
}
