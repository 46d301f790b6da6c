/*
 * test_nested_shadow12.c - L1's VMCS shadowing for L2 on the mock: L2's
 * VMREAD and VMWRITE completed by L0 on L1's shadow VMCS, and the exits
 * and failures L1's processor would give instead.
 *
 * Expected values come from the manuals: SDM Vol. 3, "VMCS Shadowing" and
 * "Changes to Instruction Behavior in VMX Non-Root Operation" (a VMREAD or
 * VMWRITE in VMX non-root operation exits when "VMCS shadowing" is 0, when
 * bits 63:15 of the encoding are not all 0, or when the bitmap bit for bits
 * 14:0 is 1; otherwise it accesses the VMCS the link pointer references),
 * "VMREAD-Read Field from Virtual-Machine Control Structure" and
 * "VMWRITE-Write Field to Virtual-Machine Control Structure" (Operation:
 * VMfailInvalid when the link pointer is not valid, VMfailValid 12 for an
 * unsupported component, 13 for a VM-exit information field without
 * IA32_VMX_MISC bit 29), "Conventions" (VMsucceed clears CF PF AF ZF SF OF;
 * VMfailValid sets ZF and the VM-instruction error of the current VMCS;
 * VMfailInvalid sets CF), "Checks on Guest Non-Register State" (the link
 * pointer's VMCS: L1's revision with bit 31 set when "VMCS shadowing" is 1;
 * else VM-entry failure, exit 33, qualification 4), "VM-Exit Instruction-
 * Information Field" (VMREAD/VMWRITE: reg1 bits 6:3, bit 10 register
 * operand, reg2 bits 31:28), "Exit Qualification for EPT Violations" (bit 1
 * data write, 7 linear address valid, 8 access to the translation).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

#define P2_EPT (1u << 1)
#define P2_SHADOW (1u << 14)
#define SHADOW_GPA 0x60000u
#define BM_READ 0x61000u
#define BM_WRITE 0x62000u
#define L2_RIP 0x401000u  /* ref_vmcs12's guest RIP */
#define L2_RFLAGS 0x8d7u  /* bit 1 and every arithmetic flag: VMsucceed/VMfail visibly change them */
#define RW_LEN 3u         /* VMREAD r64, r64: 0F 78 /r */
#define SHADOW_RIP 0x777u /* GUEST_RIP in L1's shadow VMCS */
/* VMREAD/VMWRITE with register operands: reg1 RCX (the value), reg2 RDX
 * (the encoding), register operand, 64-bit address size. */
#define II_REG ((1u << 3) | (1u << 10) | (2u << 7) | (2u << 28))
/* ... with a memory operand DS:[RBX] and the encoding in RDX. */
#define II_MEM ((2u << 7) | (3u << 15) | (1u << 22) | (3u << 23) | (2u << 28))

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* A shadow VMCS region (revision rev) at SHADOW_GPA with GUEST_RIP SHADOW_RIP. */
static void shadow_region(uint32_t rev)
{
    static uint8_t s[4096];
    memset(s, 0, sizeof(s));
    memcpy(s, &rev, 4);
    ck_assert_int_eq(vcore_vmcs12_set(s, VCORE_VMCS_GUEST_RIP, SHADOW_RIP), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(vm, SHADOW_GPA, s, sizeof(s)), VCORE_OK);
}

/* A field of the shadow VMCS as L1 memory holds it. */
static uint64_t shadow_mem(uint32_t enc)
{
    static uint8_t s[4096];
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, SHADOW_GPA, s, sizeof(s)), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(s, enc, &v), VCORE_OK);
    return v;
}

/* The bit of field enc (bits 14:0) in the bitmap at gpa: exit (1) or not. */
static void bitmap_bit(uint64_t gpa, uint32_t enc, bool exit)
{
    uint8_t b = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, gpa + ((enc & 0x7fffu) >> 3), &b, 1), VCORE_OK);
    b = (uint8_t)(exit ? (b | (1u << (enc & 7u))) : (b & ~(1u << (enc & 7u))));
    put(gpa + ((enc & 0x7fffu) >> 3), b, 1);
}

/* vmcs12 with "VMCS shadowing" (and extra secondary controls), link
 * pointer `link`, both bitmaps all ones but GUEST_RIP's bits; a shadow
 * VMCS region at SHADOW_GPA; L2's RFLAGS with the arithmetic flags set. */
static void vmcs12_shadowing(uint32_t proc2, uint64_t link)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, P2_SHADOW | proc2);
    set12(VCORE_VMCS_VMCS_LINK_POINTER, link);
    set12(VCORE_VMCS_VMREAD_BITMAP, BM_READ);
    set12(VCORE_VMCS_VMWRITE_BITMAP, BM_WRITE);
    set12(VCORE_VMCS_GUEST_RFLAGS, L2_RFLAGS);
    static uint8_t ones[4096];
    memset(ones, 0xff, sizeof(ones));
    ck_assert_int_eq(vcore_vm_write_guest(vm, BM_READ, ones, sizeof(ones)), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(vm, BM_WRITE, ones, sizeof(ones)), VCORE_OK);
    bitmap_bit(BM_READ, VCORE_VMCS_GUEST_RIP, false);
    bitmap_bit(BM_WRITE, VCORE_VMCS_GUEST_RIP, false);
    shadow_region(VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
}

/* An exit of L2's VMREAD or VMWRITE (basic reason) as the processor
 * reports it: instruction information ii, displacement qual, length. */
static void push_l2_rw(uint32_t reason, uint32_t ii, uint64_t qual)
{
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN,
                       VCORE_VMCS_VMX_INSTRUCTION_INFO};
    uint64_t val[3] = {qual, RW_LEN, ii};
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, 3, enc, val);
}

/* L1 launches the loaded vmcs12 with L2's RDX = enc, RCX = rcx, RBX = rbx;
 * L2 executes the instruction (reason 23 or 25) and, when L0 completes it
 * (then), CPUID, which is L1's; L1 halts. */
static void launch_rw(uint32_t reason, uint32_t ii, uint64_t enc, uint64_t rcx, uint64_t rbx, bool then)
{
    nested_set_gpr(VCORE_X86_RDX, enc);
    nested_set_gpr(VCORE_X86_RCX, rcx);
    nested_set_gpr(VCORE_X86_RBX, rbx);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(reason, ii, 0);
    if (then)
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

/* L0 completed L2's instruction: L2 went on past it (RIP + 3) with rflags,
 * and the one exit L1 got is the CPUID after it. */
static void assert_completed(uint64_t rflags)
{
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + RW_LEN);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RFLAGS), rflags);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 1);
    ck_assert_uint_eq(l.reflected, 1);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}

/* L1 is offered "VMCS shadowing"; vmcs02 never has it and links no VMCS,
 * so every VMREAD/VMWRITE of L2 reaches L0. */
START_TEST(shadowing_offered_vmcs02_without_it)
{
    ck_assert_uint_eq((vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_PROCBASED2] >> 32) & P2_SHADOW, P2_SHADOW);
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & P2_SHADOW, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VMCS_LINK_POINTER), ~0ull);
}
END_TEST

/* VMREAD of a field whose bitmap bit is 0: the shadow VMCS's value in the
 * destination register (L2's RCX, which L1 shares after the exit), VMsucceed,
 * no exit to L1 for it. */
START_TEST(l2_vmread_reads_shadow_without_exit)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_REG, VCORE_VMCS_GUEST_RIP, 0x1234, 0, true);
    assert_completed(0x2u);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], SHADOW_RIP);
    /* L1's own GUEST_RIP (vmcs12's) is not the shadow's */
    ck_assert_uint_ne(get12(VCORE_VMCS_GUEST_RIP), SHADOW_RIP);
}
END_TEST

/* What completing L2's VMREAD costs in accesses to vmcs02, beyond an exit
 * the VMM sees: the exit information of an instruction exit (qualification,
 * instruction length, instruction information: "Information for VM Exits
 * Due to Instruction Execution"), the state the instruction's Operation
 * reads (RIP, RSP, RFLAGS, CR0, CR3, CR4, CS and SS access rights), RFLAGS
 * written (VMsucceed), and before the next entry RIP moved past it, the
 * interruptibility state read (blocking by STI or MOV SS ends with the
 * instruction) and RFLAGS read for its single-step trap (TF clear here):
 * 3 + 8 + 3 = 14 reads, 1 + 1 = 2 writes; nothing of L1. */
static uint64_t count_of(uint32_t op)
{
    return vcore_mock_count(vcpu, op);
}

START_TEST(completion_vmcs_access_counts)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_l2_ud_to_vmm();
    uint64_t r0 = count_of(VCORE_MOCK_OP_VMCS_READ), w0 = count_of(VCORE_MOCK_OP_VMCS_WRITE);
    nested_l2_ud_to_vmm();
    uint64_t r1 = count_of(VCORE_MOCK_OP_VMCS_READ), w1 = count_of(VCORE_MOCK_OP_VMCS_WRITE);
    push_l2_rw(VCORE_VMX_EXIT_VMREAD, II_REG, 0);
    nested_l2_ud_to_vmm();
    uint64_t r2 = count_of(VCORE_MOCK_OP_VMCS_READ), w2 = count_of(VCORE_MOCK_OP_VMCS_WRITE);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], SHADOW_RIP);
    ck_assert_uint_eq((r2 - r1) - (r1 - r0), 14);
    ck_assert_uint_eq((w2 - w1) - (w1 - w0), 2);
}
END_TEST

/* VMREAD to memory: L2's DS:[RBX] gets the 8 bytes. */
START_TEST(l2_vmread_to_memory)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    put(0x70000, 0xdeadbeefdeadbeefull, 8);
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70000, true);
    assert_completed(0x2u);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, 0x70000, &v, 8), VCORE_OK);
    ck_assert_uint_eq(v, SHADOW_RIP);
}
END_TEST

/* VMREAD to memory through another segment: GS:[RBX] is GS's base plus
 * RBX in 64-bit mode ("Segmentation in IA-32e Mode"). */
START_TEST(l2_vmread_to_memory_gs)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    set12(VCORE_VMCS_GUEST_GS_BASE, 0x10000);
    set12(VCORE_VMCS_GUEST_GS_SELECTOR, 0x10);
    set12(VCORE_VMCS_GUEST_GS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_GS_AR_BYTES, 0xc093);
    load_vmcs12();
    put(0x60008, 0, 8);
    put(0x70008, 0, 8);
    launch_rw(VCORE_VMX_EXIT_VMREAD, (II_MEM & ~(7u << 15)) | (5u << 15), VCORE_VMCS_GUEST_RIP, 0, 0x60008, true);
    assert_completed(0x2u);
    uint64_t v = 1;
    ck_assert_int_eq(vcore_vm_read_guest(vm, 0x70008, &v, 8), VCORE_OK);
    ck_assert_uint_eq(v, SHADOW_RIP);
    ck_assert_int_eq(vcore_vm_read_guest(vm, 0x60008, &v, 8), VCORE_OK);
    ck_assert_uint_eq(v, 0);
}
END_TEST

/* VMWRITE lands in the shadow VMCS: not in L1 memory while L2 runs (an exit
 * the VMM sees between), in it after the exit to L1; vmcs12 unchanged; no
 * register but RIP and RFLAGS changes. */
START_TEST(l2_vmwrite_reaches_l1_memory_at_exit)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RAX, 0xa5a5);
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RCX, 0x888);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMWRITE, II_REG, 0);
    nested_l2_ud_to_vmm();
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), SHADOW_RIP);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), 0x888);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + RW_LEN);
    ck_assert_uint_eq(last().l0_handled, 1);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0xa5a5);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x888);
    /* the next entry reads the region again: L2's VMREAD sees its write */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    nested_set_gpr(VCORE_X86_RCX, 0);
    push_l2_rw(VCORE_VMX_EXIT_VMREAD, II_REG, 0);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x888);
}
END_TEST

/* A VMREAD that only reads leaves L1 memory alone: the exit writes the
 * region back only when L2 wrote it (L1's own change to the region while
 * L2 ran is not overwritten by the copy). */
START_TEST(l2_vmread_does_not_write_back)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMREAD, II_REG, 0);
    nested_l2_ud_to_vmm();
    shadow_region(VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    put(SHADOW_GPA + 0x100, 0x5a5a5a5a, 4);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint32_t w = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, SHADOW_GPA + 0x100, &w, 4), VCORE_OK);
    ck_assert_uint_eq(w, 0x5a5a5a5a);
}
END_TEST

/* Bitmap bit 1, or encoding bits 63:15 not 0: the processor's exit is L1's
 * (23 VMREAD, 25 VMWRITE) with its qualification, instruction information
 * and length; L2 did not move; nothing was read or written. */
typedef struct exit_case {
    uint32_t reason;
    uint64_t enc;
} exit_case_t;
static const exit_case_t exit_cases[] = {
    {VCORE_VMX_EXIT_VMREAD, VCORE_VMCS_GUEST_RSP},
    {VCORE_VMX_EXIT_VMWRITE, VCORE_VMCS_GUEST_RSP},
    {VCORE_VMX_EXIT_VMREAD, (1ull << 15) | VCORE_VMCS_GUEST_RIP},
    {VCORE_VMX_EXIT_VMWRITE, (1ull << 32) | VCORE_VMCS_GUEST_RIP},
    {VCORE_VMX_EXIT_VMREAD, (1ull << 63) | VCORE_VMCS_GUEST_RIP},
};

START_TEST(bitmap_bit_set_exits_to_l1)
{
    const exit_case_t *c = &exit_cases[_i];
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, c->enc);
    nested_set_gpr(VCORE_X86_RCX, 0x999);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(c->reason, II_REG, 0x44);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), c->reason);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x44);
    ck_assert_uint_eq(get12(VCORE_VMCS_VMX_INSTRUCTION_INFO), II_REG);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), RW_LEN);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RFLAGS), L2_RFLAGS);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x999);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), SHADOW_RIP);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 0);
    ck_assert_uint_eq(l.reflected, 1);
    ck_assert_uint_eq(l.owner, VCORE_NVMX_OWNER_L1);
    ck_assert_uint_eq(l.kind, VCORE_NVMX_RULE_VMCS_SHADOW);
    ck_assert_uint_eq(l.field, c->reason == VCORE_VMX_EXIT_VMREAD ? VCORE_VMCS_VMREAD_BITMAP : VCORE_VMCS_VMWRITE_BITMAP);
}
END_TEST

/* vmcs02 cannot be had or written (the backend refuses it): the run fails
 * with the backend's error and nothing is entered, whether an earlier entry
 * read the shadow VMCS or not. */
START_TEST(entry_error_is_the_backends)
{
    /* without L0's shadow VMCS for L1, the entry's first VMCS load is vmcs02's */
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_VERIFY_CHECKS | VCORE_NVMX_OPT_NO_HW_SHADOW), VCORE_OK);
    vmcs12_shadowing(0, SHADOW_GPA);
    load_vmcs12();
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_VMCS_ALLOC, VCORE_ERR_NOMEM), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_NOMEM);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
    /* entered once; then vmcs02 cannot be made current */
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_REG, VCORE_VMCS_GUEST_RIP, 0, 0, true);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_VMCS_LOAD, VCORE_ERR_HWFAIL), VCORE_OK);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
}
END_TEST

/* Without "VMCS shadowing" every VMREAD of L2 is L1's, whatever the bitmaps. */
START_TEST(without_control_every_vmread_exits)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 0);
    set12(VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_REG, VCORE_VMCS_GUEST_RIP, 0x999, 0, false);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_VMREAD);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x999);
    ck_assert_uint_eq(last().l0_handled, 0);
}
END_TEST

/* VMWRITE of a VM-exit information field (VM_EXIT_REASON, read-only) whose
 * bitmap bit is 0: without IA32_VMX_MISC bit 29, VMfailValid 13 in L2 -
 * ZF set, the error in the current VMCS (vmcs12), the shadow unchanged; with
 * it, the field is written. */
START_TEST(read_only_field_vmfailvalid_13)
{
    const vcore_nvmx_caps_t *base = vcore_nvmx_caps(nv);
    ck_assert_uint_ne(base->msr[VCORE_NVMX_CAP_MISC] & VCORE_VMX_MISC_VMWRITE_ANY, 0);
    vcore_nvmx_caps_t c = *base;
    c.msr[VCORE_NVMX_CAP_MISC] &= ~VCORE_VMX_MISC_VMWRITE_ANY;
    nested_vm_destroy(0);
    nested_vm(NULL, NULL, &c, VCORE_NVMX_OPT_VERIFY_CHECKS);
    vmcs12_shadowing(0, SHADOW_GPA);
    bitmap_bit(BM_WRITE, VCORE_VMCS_VM_EXIT_REASON, false);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMWRITE, II_REG, VCORE_VMCS_VM_EXIT_REASON, 0x1234, 0, true);
    assert_completed(0x2u | 0x40u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_VMWRITE_READ_ONLY);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_VM_EXIT_REASON), 0);
    /* with "VMWRITE to any supported field" it is written */
    nested_vm_destroy(0);
    setup();
    vmcs12_shadowing(0, SHADOW_GPA);
    bitmap_bit(BM_WRITE, VCORE_VMCS_VM_EXIT_REASON, false);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMWRITE, II_REG, VCORE_VMCS_VM_EXIT_REASON, 0x1234, 0, true);
    assert_completed(0x2u);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_VM_EXIT_REASON), 0x1234);
}
END_TEST

/* An encoding no field has (bits 14:0 with a clear bitmap bit):
 * VMfailValid 12 for VMREAD and VMWRITE alike. */
START_TEST(unsupported_field_vmfailvalid_12)
{
    const uint32_t none = 0x1ffeu; /* 16-bit host-state field, index 0x7ff: not defined */
    uint32_t reason = _i ? VCORE_VMX_EXIT_VMWRITE : VCORE_VMX_EXIT_VMREAD;
    vmcs12_shadowing(0, SHADOW_GPA);
    bitmap_bit(_i ? BM_WRITE : BM_READ, none, false);
    load_vmcs12();
    launch_rw(reason, II_REG, none, 0x5555, 0, true);
    assert_completed(0x2u | 0x40u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), VCORE_VMXERR_UNSUPPORTED_FIELD);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x5555); /* VMREAD wrote no register */
}
END_TEST

/* "VMCS shadowing" with the link pointer all ones: the entry is valid, and
 * an unexiting VMREAD is VMfailInvalid (CF set). */
START_TEST(no_link_pointer_vmfailinvalid)
{
    vmcs12_shadowing(0, ~0ull);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_REG, VCORE_VMCS_GUEST_RIP, 0x5555, 0, true);
    assert_completed(0x2u | 0x1u);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x5555);
}
END_TEST

/* A link pointer whose VMCS is not a shadow VMCS (bit 31 clear) or has
 * another revision: VM-entry failure, exit 33 with qualification 4, L1 at
 * its host RIP, L2 never entered. */
START_TEST(bad_link_pointer_fails_entry)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    shadow_region(_i ? (VCORE_VMCS12_REVISION ^ 1u) | VCORE_VMCS12_SHADOW_BIT : VCORE_VMCS12_REVISION);
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000000u | VCORE_VMX_EXIT_INVALID_GUEST_STATE);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), VCORE_VMX_QUAL_LINK_POINTER);
    ck_assert_uint_eq(last().check, _i ? VCORE_VMX_CHECK_GUEST_LINK_REVISION : VCORE_VMX_CHECK_GUEST_LINK_SHADOW);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* The VMCS the entry reads is checked on its copy: with the VM-entry check
 * of the header switched off (a region changed after the check read it),
 * the copy still fails the entry the same way. */
START_TEST(link_copy_checked_at_load)
{
    uint32_t check = _i ? VCORE_VMX_CHECK_GUEST_LINK_REVISION : VCORE_VMX_CHECK_GUEST_LINK_SHADOW;
    ck_assert_int_eq(vcore_nvmx_test_skip_check(nv, check), VCORE_OK);
    vmcs12_shadowing(0, SHADOW_GPA);
    shadow_region(_i ? (VCORE_VMCS12_REVISION ^ 1u) | VCORE_VMCS12_SHADOW_BIT : VCORE_VMCS12_REVISION);
    load_vmcs12();
    l1_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x80000000u | VCORE_VMX_EXIT_INVALID_GUEST_STATE);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), VCORE_VMX_QUAL_LINK_POINTER);
    ck_assert_uint_eq(last().check, check);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}
END_TEST

/* L1's EPT for L2 (4 levels at 0x50000): identity for the first 2 MiB in
 * 4-KByte pages, except L2's page 0x70000, which is L1's 0x78000, and L2's
 * page 0x71000, which is not present. */
#define EPT_PML4 0x50000u
#define EPT_PDPT 0x51000u
#define EPT_PD 0x52000u
#define EPT_PT 0x53000u
static void l1_ept(void)
{
    put(EPT_PML4, EPT_PDPT | 7u, 8);
    put(EPT_PDPT, EPT_PD | 7u, 8);
    put(EPT_PD, EPT_PT | 7u, 8);
    for (uint64_t i = 0; i < 512; i++)
        put(EPT_PT + 8 * i, (i << 12) | 7u | (6u << 3), 8); /* RWX, WB */
    put(EPT_PT + 8 * 0x70, 0x78000u | 7u | (6u << 3), 8);
    put(EPT_PT + 8 * 0x71, 0, 8);
    set12(VCORE_VMCS_EPT_POINTER, EPT_PML4 | 6u | (3u << 3)); /* WB, 4 levels */
}

/* A memory operand goes through L2's paging and L1's EPT: VMREAD to L2's
 * 0x70000 writes L1's 0x78000. */
START_TEST(memory_operand_through_l1_ept)
{
    vmcs12_shadowing(P2_EPT, SHADOW_GPA);
    l1_ept();
    load_vmcs12();
    put(0x70000, 0, 8);
    put(0x78000, 0, 8);
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70000, true);
    assert_completed(0x2u);
    uint64_t v = 1;
    ck_assert_int_eq(vcore_vm_read_guest(vm, 0x78000, &v, 8), VCORE_OK);
    ck_assert_uint_eq(v, SHADOW_RIP);
    ck_assert_int_eq(vcore_vm_read_guest(vm, 0x70000, &v, 8), VCORE_OK);
    ck_assert_uint_eq(v, 0);
}
END_TEST

/* ... and an operand L1's EPT does not map is an EPT violation (48) to L1:
 * a data write (bit 1), linear address valid (7), the access to the
 * translation (8), no access granted (5:3 clear); the L2 guest-physical and
 * linear addresses; the instruction not executed. */
START_TEST(memory_operand_ept_violation_to_l1)
{
    vmcs12_shadowing(P2_EPT, SHADOW_GPA);
    l1_ept();
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x71008, false);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), (1u << 1) | (1u << 7) | (1u << 8));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), 0x71008);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), 0x71008);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RFLAGS), L2_RFLAGS);
    ck_assert_uint_eq(last().reflected, 1);
}
END_TEST

/* A #PF of L2's operand (L2's page not present) is L2's exception: with
 * L1's exception bitmap bit 14 an exit 0 to L1 with vector 14, a write
 * error code (bit 1) and the linear address as qualification. */
START_TEST(memory_operand_page_fault)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 14);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x40000000ull, false);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000b0eu);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE), 2u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x40000000ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
}
END_TEST

/* L2 at CPL 3 (CS and SS DPL 3): its VMREAD with the bitmap bit clear does
 * not exit on the bitmap but faults ("IF CPL > 0 THEN #GP(0)" comes after
 * the VM-exit conditions in the Operation section): #GP(0), an exit 0 to
 * L1 with L1's exception bitmap bit 13 (vector 13, hardware exception,
 * error code 0), RIP at the instruction, the register unchanged. */
START_TEST(cpl3_vmread_is_gp)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    set12(VCORE_VMCS_GUEST_CS_SELECTOR, 0x0b);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa0fb);
    set12(VCORE_VMCS_GUEST_SS_SELECTOR, 0x13);
    set12(VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc0f3);
    set12(VCORE_VMCS_GUEST_DS_SELECTOR, 0x13);
    set12(VCORE_VMCS_GUEST_DS_AR_BYTES, 0xc0f3);
    set12(VCORE_VMCS_GUEST_ES_SELECTOR, 0x13);
    set12(VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc0f3);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_REG, VCORE_VMCS_GUEST_RIP, 0x4444, 0, false);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x4444);
}
END_TEST

/* ---- L1's page-modification log ("enable PML", secondary control 17) ---- */

#define P2_PML (1u << 17)
#define PML_LOG 0x64000u
#define EPT_A (1ull << 8)         /* "Accessed and Dirty Flags for EPT": accessed */
#define EPT_D (1ull << 9)         /* ... dirty (leaf) */
#define EPTP_AD (1ull << 6)       /* EPTP bit 6: accessed and dirty flags enabled */
#define L2_PD_ENTRY 0x3000u       /* L2's PDE for its first 2 MBytes (fixture: 0x83) */

static uint64_t get64(uint64_t gpa)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, gpa, &v, 8), VCORE_OK);
    return v;
}

/* VMCS shadowing with L1's EPT (accessed and dirty flags on) and, with
 * pml, "enable PML" at PML index `index`, the log at PML_LOG (clean). */
static void vmcs12_pml(uint16_t index, bool pml)
{
    vmcs12_shadowing(P2_EPT | (pml ? P2_PML : 0u), SHADOW_GPA);
    l1_ept();
    set12(VCORE_VMCS_EPT_POINTER, EPT_PML4 | 6u | (3u << 3) | EPTP_AD);
    set12(VCORE_VMCS_PML_ADDRESS, PML_LOG);
    set12(VCORE_VMCS_GUEST_PML_INDEX, index);
    static uint8_t zero[4096];
    ck_assert_int_eq(vcore_vm_write_guest(vm, PML_LOG, zero, sizeof(zero)), VCORE_OK);
}

/* The flags L2's walk of 0x70008 needs in L1's EPT are set already (L2's
 * paging structures at L2 0x1000-0x3fff): only the operand's page has
 * flags left to set. */
static void ept12_walk_flags_set(void)
{
    put(EPT_PML4, get64(EPT_PML4) | EPT_A, 8);
    put(EPT_PDPT, get64(EPT_PDPT) | EPT_A, 8);
    put(EPT_PD, get64(EPT_PD) | EPT_A, 8);
    for (uint64_t p = 1; p <= 3; p++)
        put(EPT_PT + 8 * p, get64(EPT_PT + 8 * p) | EPT_A | EPT_D, 8);
}

/* VMREAD to L2's 0x70008 with PML index 511: with EPT accessed and dirty
 * flags the walk's accesses to L2's PML4E, PDPTE and PDE are writes
 * ("Accessed and Dirty Flags for EPT"), so each sets the dirty flag of
 * its page and logs it, then the operand's write logs 0x70000: the
 * 4-KByte-aligned guest-physical addresses from index 511 down, the index
 * 507 after them in vmcs12 ("Page-Modification Logging"). */
START_TEST(pml_vmread_logs_walk_and_operand)
{
    vmcs12_pml(511, true);
    load_vmcs12();
    put(0x78008, 0, 8);
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70008, true);
    assert_completed(0x2u);
    ck_assert_uint_eq(get64(0x78008), SHADOW_RIP);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0x1000);
    ck_assert_uint_eq(get64(PML_LOG + 510 * 8), 0x2000);
    ck_assert_uint_eq(get64(PML_LOG + 509 * 8), 0x3000);
    ck_assert_uint_eq(get64(PML_LOG + 508 * 8), 0x70000);
    ck_assert_uint_eq(get64(PML_LOG + 507 * 8), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 507);
    ck_assert_uint_eq(get64(EPT_PT + 8 * 0x70) & (EPT_A | EPT_D), EPT_A | EPT_D);
    /* L1's VMREAD of the index sees it too */
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, VCORE_VMCS_GUEST_PML_INDEX, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 507);
}
END_TEST

/* A VMWRITE reads its operand: the accessed flag only, no dirty flag, no
 * entry; the index stays. */
START_TEST(pml_vmwrite_read_logs_nothing)
{
    vmcs12_pml(511, true);
    ept12_walk_flags_set();
    load_vmcs12();
    put(0x78008, 0x4321, 8);
    launch_rw(VCORE_VMX_EXIT_VMWRITE, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70008, true);
    assert_completed(0x2u);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), 0x4321);
    ck_assert_uint_eq(get64(EPT_PT + 8 * 0x70) & (EPT_A | EPT_D), EPT_A);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 511);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0);
}
END_TEST

/* PML index 512 (outside 0-511) when the operand's access must set a flag
 * (_i 0: VMREAD, the dirty flag; 1: VMWRITE, the accessed flag): a
 * page-modification log-full event - exit 62 to L1 before the access,
 * qualification 0 (bit 12 is for IRET only: "Exit Qualification for
 * Page-Modification Log Full Event"); no flag set, nothing logged, the
 * index as it was, the operand (or the shadow VMCS) unchanged, L2's RIP
 * and RFLAGS at the instruction. */
START_TEST(pml_full_exits_62_before_the_access)
{
    bool write = _i != 0;
    vmcs12_pml(512, true);
    ept12_walk_flags_set();
    load_vmcs12();
    put(0x78008, 0x5a5a, 8);
    launch_rw(write ? VCORE_VMX_EXIT_VMWRITE : VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70008,
              false);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_PML_FULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RFLAGS), L2_RFLAGS);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 512);
    ck_assert_uint_eq(get64(EPT_PT + 8 * 0x70) & (EPT_A | EPT_D), 0);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0);
    ck_assert_uint_eq(get64(0x78008), 0x5a5a);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), SHADOW_RIP);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 0);
    ck_assert_uint_eq(l.reflected, 1);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}
END_TEST

/* The same with index 0: the one entry left takes the operand's page, the
 * index wraps to FFFFH ("from 0 to FFFFH"), and the next dirty flag finds
 * the log full. */
START_TEST(pml_last_entry_then_full)
{
    vmcs12_pml(0, true);
    ept12_walk_flags_set();
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70008, true);
    assert_completed(0x2u);
    ck_assert_uint_eq(get64(PML_LOG), 0x70000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 0xffff);
}
END_TEST

/* "enable PML" clear, EPT accessed and dirty flags on: the dirty flag is
 * set, nothing is logged, the index stays. */
START_TEST(pml_off_sets_dirty_logs_nothing)
{
    vmcs12_pml(511, false);
    ept12_walk_flags_set();
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70008, true);
    assert_completed(0x2u);
    ck_assert_uint_eq(get64(EPT_PT + 8 * 0x70) & (EPT_A | EPT_D), EPT_A | EPT_D);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 511);
}
END_TEST

/* L2's PD page (L2 0x3000) not present in L1's EPT: the walk's read of
 * the PDE is the EPT violation, exit 48 with the PDE's guest-physical
 * address and the operand's linear address, bit 7 set and bit 8 clear
 * (a paging-structure access). With EPT accessed and dirty flags the
 * access counts as a write and bits 0 and 1 are both set ("Exit
 * Qualification for EPT Violations"); without them bit 0 alone. */
START_TEST(walk_ept_violation_qualification)
{
    bool ad = _i == 0;
    vmcs12_pml(511, false);
    if (!ad)
        set12(VCORE_VMCS_EPT_POINTER, EPT_PML4 | 6u | (3u << 3));
    put(EPT_PT + 8 * 3, 0, 8);
    load_vmcs12();
    launch_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, VCORE_VMCS_GUEST_RIP, 0, 0x70008, false);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), (ad ? 3u : 1u) | (1u << 7));
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), L2_PD_ENTRY);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), 0x70008);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
}
END_TEST

/* ---- single-step ("Single-Step Exception Condition") ---- */

#define RFLAGS_TF 0x100u
#define PENDDBG_BS 0x4000u /* pending debug exceptions bit 14 */
#define DEBUGCTL_BTF 0x2u

/* L2 with RFLAGS.TF executes a VMREAD L0 completes: a single-step trap is
 * pending after it - vmcs02's pending debug exceptions with BS, which the
 * next entry delivers ("Delivery of Pending Debug Exceptions after VM
 * Entry") - RIP past the instruction, TF still set, the arithmetic flags
 * clear (VMsucceed). The processor's #DB that L1's exception bitmap (bit
 * 1) intercepts is exit 0 to L1: vector 1, hardware exception, the
 * qualification BS ("Exit Qualification for Debug Exceptions"). */
START_TEST(tf_pends_single_step_after_vmread)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    set12(VCORE_VMCS_GUEST_RFLAGS, L2_RFLAGS | RFLAGS_TF);
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 1);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMREAD, II_REG, 0);
    nested_l2_ud_to_vmm();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), PENDDBG_BS);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RIP), L2_RIP + RW_LEN);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RFLAGS), 0x2u | RFLAGS_TF);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], SHADOW_RIP);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_EXIT_QUALIFICATION};
    uint64_t val[2] = {0x80000301u, PENDDBG_BS};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 2, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000301u);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), PENDDBG_BS);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + RW_LEN);
}
END_TEST

/* No single-step trap after a completed VMWRITE: TF clear (_i 0); TF set
 * with L2's IA32_DEBUGCTL.BTF, which makes TF trap taken branches only
 * (_i 1). The pending debug exceptions stay 0. */
START_TEST(no_single_step_without_tf_or_with_btf)
{
    vmcs12_shadowing(0, SHADOW_GPA);
    if (_i == 1) {
        set12(VCORE_VMCS_GUEST_RFLAGS, L2_RFLAGS | RFLAGS_TF);
        set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb | (1u << 9) | (1u << 2)); /* load debug controls */
        set12(VCORE_VMCS_GUEST_IA32_DEBUGCTL, DEBUGCTL_BTF);
    }
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMWRITE, II_REG, 0);
    nested_l2_ud_to_vmm();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RIP), L2_RIP + RW_LEN);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 0);
}
END_TEST

/* With L1's monitor trap flag the MTF VM exit comes first on the boundary
 * after the instruction and saves the single-step trap in vmcs12's pending
 * debug exceptions (BS), which L1's VMREAD returns ("Saving Non-Register
 * State"; the next VM entry delivers it). A VMfail completes the
 * instruction all the same (VMfailValid 12 here). */
START_TEST(mtf_exit_saves_pending_single_step)
{
    const uint32_t none = 0x1ffeu;
    vmcs12_shadowing(0, SHADOW_GPA);
    bitmap_bit(BM_READ, none, false);
    set12(VCORE_VMCS_GUEST_RFLAGS, L2_RFLAGS | RFLAGS_TF);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31) | (1u << 27));
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, none);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMREAD, II_REG, 0);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_MONITOR_TRAP_FLAG);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP + RW_LEN);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RFLAGS), 0x2u | 0x40u | RFLAGS_TF);
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], PENDDBG_BS);
}
END_TEST

/* ---- memory operands with no memory behind them (the VMM's MMIO) ---- */

#define MMIO_L1 0xfee00010ull /* not in the VM's memory map */

/* L2's linear MMIO_L1 maps to L1-physical MMIO_L1: a PDPTE for its GByte
 * and a 2-MByte PDE (L2's paging, no EPT), or (ept) L2's 0x72010 through
 * L1's EPT to it. Returns the operand's linear address. */
static uint64_t mmio_operand(bool ept)
{
    if (ept) {
        vmcs12_shadowing(P2_EPT, SHADOW_GPA);
        l1_ept();
        put(EPT_PT + 8 * 0x72, (MMIO_L1 & ~0xfffull) | 7u, 8); /* RWX, UC */
        return 0x72010;
    }
    vmcs12_shadowing(0, SHADOW_GPA);
    put(PDPT + 8 * 3, 0x40000 | 3, 8);
    put(0x40000 + 8 * ((MMIO_L1 >> 21) & 0x1ff), (MMIO_L1 & ~0x1fffffull) | 0x83, 8);
    return MMIO_L1;
}

/* L2's VMWRITE whose 8-byte source is MMIO (_i 0: L2's paging, 1: through
 * L1's EPT): an MMIO read exit of 8 bytes at the L1-physical address, for
 * the VMM and flagged L2's; its reply is the value the VMWRITE writes
 * ("VMWRITE": the source operand is read, then the field written) -
 * VMsucceed, RIP past it, the shadow VMCS holding the reply. */
START_TEST(mmio_vmwrite_source_read_by_vmm)
{
    uint64_t la = mmio_operand(_i != 0);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, la);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMWRITE, II_MEM, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.mmio.gpa, MMIO_L1);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    ck_assert_uint_eq(e.u.mmio.is_write, 0);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), SHADOW_RIP);
    static const uint8_t reply[8] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
    memcpy(e.u.mmio.data, reply, 8);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    assert_completed(0x2u);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), 0x0123456789abcdefull);
}
END_TEST

/* L2's VMREAD whose destination is MMIO: the instruction completes with
 * its store an MMIO write exit of the field's 8 bytes (no reply needed);
 * after the VMM's run RIP is past it, VMsucceed. */
START_TEST(mmio_vmread_store_written_by_vmm)
{
    uint64_t la = mmio_operand(_i != 0);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, la);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.mmio.gpa, MMIO_L1);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    uint64_t v = 0;
    memcpy(&v, e.u.mmio.data, 8);
    ck_assert_uint_eq(v, SHADOW_RIP);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    assert_completed(0x2u);
}
END_TEST

/* An operand that straddles a page boundary with MMIO in one page is not
 * an access the VMM can take as one: the exit stays raw (reason 23), L2
 * not moved. */
START_TEST(mmio_operand_across_pages_is_raw)
{
    mmio_operand(true);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, 0x72ffc);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMREAD, II_MEM, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.raw.reason, VCORE_VMX_EXIT_VMREAD);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RIP), L2_RIP);
}
END_TEST

/* The VMM's reply to the VMWRITE's read comes while L1's bitmap now asks
 * for the exit (L1 changed it meanwhile): the completion runs the
 * instruction again on the current state, so the VMWRITE is exit 25 to L1,
 * the shadow VMCS untouched. */
START_TEST(mmio_vmwrite_reply_rechecks_bitmap)
{
    uint64_t la = mmio_operand(false);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, la);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMWRITE, II_MEM, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    bitmap_bit(BM_WRITE, VCORE_VMCS_GUEST_RIP, true);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_VMWRITE);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(shadow_mem(VCORE_VMCS_GUEST_RIP), SHADOW_RIP);
}
END_TEST

/* The VMWRITE the VMM's reply completes is completed like any: with
 * RFLAGS.TF set when it began, the single-step trap is pending in vmcs02
 * after it (pending debug exceptions BS), RIP past it. */
START_TEST(mmio_vmwrite_completion_single_steps)
{
    uint64_t la = mmio_operand(false);
    set12(VCORE_VMCS_GUEST_RFLAGS, L2_RFLAGS | RFLAGS_TF);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, la);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_rw(VCORE_VMX_EXIT_VMWRITE, II_MEM, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), 0);
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INTR_INFO};
    uint64_t val[1] = {0x80000306u};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS), PENDDBG_BS);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RIP), L2_RIP + RW_LEN);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RFLAGS), 0x2u | RFLAGS_TF);
}
END_TEST

static Suite *shadow12_suite(void)
{
    Suite *s = suite_create("nested_shadow12");
    TCase *tc = tcase_create("vmcs_shadowing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, shadowing_offered_vmcs02_without_it);
    tcase_add_test(tc, l2_vmread_reads_shadow_without_exit);
    tcase_add_test(tc, l2_vmread_to_memory);
    tcase_add_test(tc, completion_vmcs_access_counts);
    tcase_add_test(tc, l2_vmread_to_memory_gs);
    tcase_add_test(tc, entry_error_is_the_backends);
    tcase_add_test(tc, l2_vmwrite_reaches_l1_memory_at_exit);
    tcase_add_test(tc, l2_vmread_does_not_write_back);
    tcase_add_loop_test(tc, bitmap_bit_set_exits_to_l1, 0, (int)(sizeof(exit_cases) / sizeof(exit_cases[0])));
    tcase_add_test(tc, without_control_every_vmread_exits);
    tcase_add_test(tc, read_only_field_vmfailvalid_13);
    tcase_add_loop_test(tc, unsupported_field_vmfailvalid_12, 0, 2);
    tcase_add_test(tc, no_link_pointer_vmfailinvalid);
    tcase_add_loop_test(tc, bad_link_pointer_fails_entry, 0, 2);
    tcase_add_loop_test(tc, link_copy_checked_at_load, 0, 2);
    tcase_add_test(tc, memory_operand_through_l1_ept);
    tcase_add_test(tc, memory_operand_ept_violation_to_l1);
    tcase_add_test(tc, memory_operand_page_fault);
    tcase_add_test(tc, cpl3_vmread_is_gp);
    tcase_add_test(tc, pml_vmread_logs_walk_and_operand);
    tcase_add_test(tc, pml_vmwrite_read_logs_nothing);
    tcase_add_loop_test(tc, pml_full_exits_62_before_the_access, 0, 2);
    tcase_add_test(tc, pml_last_entry_then_full);
    tcase_add_test(tc, pml_off_sets_dirty_logs_nothing);
    tcase_add_loop_test(tc, walk_ept_violation_qualification, 0, 2);
    tcase_add_test(tc, tf_pends_single_step_after_vmread);
    tcase_add_loop_test(tc, no_single_step_without_tf_or_with_btf, 0, 2);
    tcase_add_test(tc, mtf_exit_saves_pending_single_step);
    tcase_add_loop_test(tc, mmio_vmwrite_source_read_by_vmm, 0, 2);
    tcase_add_loop_test(tc, mmio_vmread_store_written_by_vmm, 0, 2);
    tcase_add_test(tc, mmio_operand_across_pages_is_raw);
    tcase_add_test(tc, mmio_vmwrite_reply_rechecks_bitmap);
    tcase_add_test(tc, mmio_vmwrite_completion_single_steps);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(shadow12_suite());
}
