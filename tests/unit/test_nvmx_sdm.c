/* Black-box conformance of the emulated VMX instructions with the
 * Operation pseudo-code of SDM Vol. 3, "VMX Instruction Reference", and the
 * table "VM-Instruction Error Numbers". One test per rule; expected values
 * come from the manual, not from the emulation. */
#include "support.h"
#include "test_nvmx_fixture.h"
/* internal: the run loop's fast-path state (before the fixture's macros) */
#include "core/x86/vmx/nvmx_priv.h"
#include "nested_fixture.h"

static fx_t F;
static void setup(void) { fx_setup(&F); }
static void teardown(void) { fx_teardown(&F); }

#define UNMAPPED 0x200000u /* linear 2 MiB: PDE 1 is not present */

static void set_cpl(fx_t *f, uint32_t cpl)
{
    f->in.sregs.seg[VCORE_X86_SS].ar = (f->in.sregs.seg[VCORE_X86_SS].ar & ~(3u << 5)) | (cpl << 5);
    f->in.sregs.seg[VCORE_X86_CS].ar = (f->in.sregs.seg[VCORE_X86_CS].ar & ~(3u << 5)) | (cpl << 5);
}

/* 32-bit protected mode, PAE paging, flat segments. */
static void to_protected32(fx_t *f)
{
    f->in.sregs.efer = 0;
    f->in.sregs.cr0 = 0x80000033;
    f->in.sregs.cr4 = 0x2020;
    f->in.sregs.cr3 = 0x4000;
    fx_put64(f, 0x4000, FX_PD | 1); /* PDPTE 0 -> the identity PD */
    f->in.sregs.seg[VCORE_X86_CS].ar = 0x9b | VCORE_X86_AR_DB | VCORE_X86_AR_G;
}

/* A memory operand at linear address la (DS:[RBX], 64-bit address size). */
static int run_at(fx_t *f, uint32_t op, uint64_t la)
{
    f->in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2) | (VCORE_X86_RCX << 28);
    f->in.qualification = 0;
    f->in.regs.gpr[VCORE_X86_RBX] = la;
    return fx_run(f, op);
}

static uint64_t vmptrst(fx_t *f)
{
    fx_put64(f, FX_DATA, 0x5a5a5a5a5a5a5a5aull);
    ck_assert_int_eq(run_at(f, VCORE_NVMX_VMPTRST, FX_DATA), VCORE_OK);
    ck_succeed(f);
    return fx_get64(f, FX_DATA);
}

static uint64_t read_field(fx_t *f, uint32_t enc)
{
    ck_assert_int_eq(fx_vmread(f, enc), VCORE_OK);
    ck_succeed(f);
    return f->res.gpr_value;
}

static void inv(fx_t *f, uint32_t op, uint64_t type, uint64_t lo, uint64_t hi)
{
    fx_put64(f, FX_DATA, lo);
    fx_put64(f, FX_DATA + 8, hi);
    f->in.regs.gpr[VCORE_X86_RCX] = type;
    ck_assert_int_eq(run_at(f, op, FX_DATA), VCORE_OK);
}

/* ---- #UD / #GP(0) priority (each instruction's Operation section) -------- */

/* "IF (not in VMX operation) ... THEN #UD; ... ELSIF CPL > 0 THEN #GP(0)":
 * outside VMX operation CPL 3 is #UD, never #GP. */
START_TEST(not_in_vmx_operation_ud_precedes_cpl_gp)
{
    static const uint32_t ops[] = {VCORE_NVMX_VMXOFF,  VCORE_NVMX_VMCLEAR,  VCORE_NVMX_VMPTRLD,
                                   VCORE_NVMX_VMPTRST, VCORE_NVMX_VMREAD,   VCORE_NVMX_VMWRITE,
                                   VCORE_NVMX_INVEPT,  VCORE_NVMX_INVVPID,  VCORE_NVMX_VMLAUNCH,
                                   VCORE_NVMX_VMRESUME};
    set_cpl(&F, 3);
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        ck_assert_int_eq(fx_run_mem(&F, ops[i], FX_VMCS_A), VCORE_OK);
        ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_NOT_IN_VMX);
    }
}
END_TEST

/* "VMXON-Enter VMX Operation": CR4.VMXE = 0 is #UD before the CPL check. */
START_TEST(vmxon_vmxe_clear_ud_precedes_cpl_gp)
{
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION);
    F.in.sregs.cr4 &= ~0x2000ull;
    set_cpl(&F, 3);
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_VMXE_CLEAR);
}
END_TEST

/* RFLAGS.VM = 1 (CPL 3 in virtual-8086 mode) is #UD, before #GP(0). */
START_TEST(v86_ud_precedes_cpl_gp)
{
    fx_current(&F);
    F.in.regs.rflags |= 1u << 17;
    set_cpl(&F, 3);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_V86);
}
END_TEST

/* "VMXON": (CPL > 0) -> #GP(0) comes before "addr := contents of 64-bit
 * in-memory source operand": no #PF from an unmapped operand. */
START_TEST(vmxon_cpl_gp_precedes_operand_fetch)
{
    set_cpl(&F, 3);
    run_at(&F, VCORE_NVMX_VMXON, UNMAPPED);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CPL);
}
END_TEST

/* "VMXON": IA32_FEATURE_CONTROL lock bit clear -> #GP(0), before the operand is read. */
START_TEST(vmxon_feature_control_gp_precedes_operand_fetch)
{
    F.in.feature_control = 0x4;
    run_at(&F, VCORE_NVMX_VMXON, UNMAPPED);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_FEATURE_CONTROL);
}
END_TEST

/* "VMPTRLD": CPL > 0 -> #GP(0) before "addr := contents of ... operand". */
START_TEST(vmptrld_cpl_gp_precedes_operand_fetch)
{
    fx_vmxon(&F);
    set_cpl(&F, 3);
    run_at(&F, VCORE_NVMX_VMPTRLD, UNMAPPED);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CPL);
}
END_TEST

/* ---- VMXON ------------------------------------------------------------------ */

/* "VMXON": in VMX root operation the operand is not read:
 * VMfail(VMXON executed in VMX root operation), error 15, no #PF. */
START_TEST(vmxon_in_root_fails_without_reading_operand)
{
    fx_current(&F);
    run_at(&F, VCORE_NVMX_VMXON, UNMAPPED);
    ck_failvalid(&F, 15, VCORE_DIAG_NVMX_FAIL_VMXON_IN_ROOT);
}
END_TEST

/* "VMXON": success sets the current-VMCS pointer to FFFFFFFF_FFFFFFFFH,
 * also when VMX operation is entered again after VMXOFF. */
START_TEST(vmxon_makes_current_vmcs_invalid)
{
    fx_current(&F);
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_succeed(&F);
    fx_vmxon(&F);
    ck_assert_uint_eq(vmptrst(&F), ~0ull);
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
}
END_TEST

/* "VMXON": the operand is always 64 bits - in 32-bit mode too, so a
 * pointer with bits above the physical-address width is VMfailInvalid. */
START_TEST(vmxon_operand_is_64_bits_in_32bit_mode)
{
    to_protected32(&F);
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION);
    fx_put64(&F, FX_DATA, (1ull << 44) | FX_VMXON);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMXON_ADDR);
}
END_TEST

/* "VMXON": "IF (register operand) or ... THEN #UD" comes first, in VMX
 * root operation too (no VMfail 15). */
START_TEST(vmxon_register_operand_ud_in_root)
{
    fx_current(&F);
    F.in.insn_info = (1u << 10) | (2u << 7);
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_REGISTER_OPERAND);
}
END_TEST

/* "VMXOFF" ends VMX operation: a later VMXON names a new VMXON region, and
 * the old one is an ordinary address for VMPTRLD (no error 10). */
START_TEST(vmxon_again_replaces_vmxon_pointer)
{
    fx_vmxon(&F);
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_succeed(&F);
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMCS_B);
    ck_succeed(&F);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMXON);
    ck_succeed(&F);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B);
    ck_failvalid(&F, 10, VCORE_DIAG_NVMX_FAIL_VMPTRLD_VMXON);
}
END_TEST

/* "Conventions": VMsucceed, VMfailInvalid and VMfailValid change only CF,
 * PF, AF, ZF, SF and OF; TF, IF, DF and the rest of RFLAGS stay. */
START_TEST(vmx_outcomes_keep_other_rflags)
{
    const uint64_t other = (1u << 8) | (1u << 9) | (1u << 10) | (1u << 14) | (1u << 18) | 0x2;
    fx_vmxon(&F);
    F.in.regs.rflags = other | 0x8d5;
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP); /* VMfailInvalid */
    ck_assert_uint_eq(F.res.rflags, other | 0x1);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_A);
    ck_assert_uint_eq(F.res.rflags, other);
    fx_vmread(&F, 0x7fff); /* VMfailValid */
    ck_assert_uint_eq(F.res.rflags, other | 0x40);
}
END_TEST

/* ---- VMXOFF ----------------------------------------------------------------- */

/* "VMXOFF": outside VMX operation #UD even at CPL 0; in VMX operation at
 * CPL 3 #GP(0); otherwise VMsucceed. */
START_TEST(vmxoff_outcomes)
{
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_NOT_IN_VMX);
    fx_vmxon(&F);
    set_cpl(&F, 3);
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CPL);
    set_cpl(&F, 0);
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_succeed(&F);
}
END_TEST

/* ---- VMCLEAR ---------------------------------------------------------------- */

/* "VMCLEAR": the pseudo-code checks alignment, width and the VMXON pointer
 * only - never the revision identifier of the region. */
START_TEST(vmclear_does_not_check_revision)
{
    fx_vmxon(&F);
    fx_region(&F, FX_VMCS_B, 0x12345678u);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_B);
    ck_succeed(&F);
}
END_TEST

/* "VMCLEAR": "IF operand addr = current-VMCS pointer THEN current-VMCS
 * pointer := FFFFFFFF_FFFFFFFFH". */
START_TEST(vmclear_current_makes_pointer_invalid)
{
    fx_current(&F);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A);
    ck_succeed(&F);
    ck_assert_uint_eq(vmptrst(&F), ~0ull);
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
}
END_TEST

/* "VMCLEAR": a VMCLEAR of another VMCS leaves the current-VMCS pointer alone. */
START_TEST(vmclear_other_keeps_current)
{
    fx_current(&F);
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_B);
    ck_succeed(&F);
    ck_assert_uint_eq(vmptrst(&F), FX_VMCS_A);
}
END_TEST

/* "VMCLEAR": "ensure that data for VMCS referenced by the operand is in
 * memory" - the VMCS keeps its contents across VMCLEAR and VMPTRLD. */
START_TEST(vmclear_keeps_vmcs_data)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 0xfeedf00dull);
    ck_succeed(&F);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A);
    ck_succeed(&F);
    fx_vmptrld(&F, FX_VMCS_A);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_RIP), 0xfeedf00dull);
}
END_TEST

/* "VMCLEAR": launch state := "clear"; then VMLAUNCH passes the launch-state
 * check and VMRESUME fails with error 5 ("VMRESUME with non-launched VMCS"). */
START_TEST(vmclear_makes_launch_state_clear)
{
    fx_current(&F);
    ck_assert_int_eq(vcore_nvmx_mark_launched(F.n), VCORE_OK);
    fx_run(&F, VCORE_NVMX_VMRESUME);
    ck_outcome(&F, VCORE_NVMX_OUT_ENTRY, 0);
    /* VMCLEAR of the launched VMCS while another one is current */
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_B);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A);
    ck_succeed(&F);
    fx_vmptrld(&F, FX_VMCS_A);
    fx_run(&F, VCORE_NVMX_VMRESUME);
    ck_failvalid(&F, 5, VCORE_DIAG_NVMX_FAIL_RESUME_NONLAUNCHED);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_outcome(&F, VCORE_NVMX_OUT_ENTRY, 0);
}
END_TEST

/* "VMCLEAR": the address checks come before the VMXON-pointer comparison:
 * a misaligned pointer inside the VMXON region is error 2, not 3. */
START_TEST(vmclear_address_check_precedes_vmxon_check)
{
    fx_current(&F);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMXON | 0x800);
    ck_failvalid(&F, 2, VCORE_DIAG_NVMX_FAIL_VMCLEAR_ADDR);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, (1ull << 63) | FX_VMCS_B);
    ck_failvalid(&F, 2, VCORE_DIAG_NVMX_FAIL_VMCLEAR_ADDR);
}
END_TEST

/* "Conventions" (VMfail): with no current VMCS every VMfail is
 * VMfailInvalid - VMCLEAR with the VMXON pointer included. */
START_TEST(vmclear_vmxon_pointer_without_current_is_failinvalid)
{
    fx_vmxon(&F);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMXON);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMCLEAR_VMXON);
}
END_TEST

/* "VMCLEAR" reads nothing of the region: an address with no RAM behind it
 * (within the physical-address width) succeeds. */
START_TEST(vmclear_unbacked_address_succeeds)
{
    fx_current(&F);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, 0x40000000ull);
    ck_succeed(&F);
    ck_assert_uint_eq(vmptrst(&F), FX_VMCS_A);
}
END_TEST

/* "VMPTRLD" of the current VMCS again: VMsucceed, the VMCS keeps its data. */
START_TEST(vmptrld_current_again_succeeds)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RSP, 0x7777);
    fx_vmptrld(&F, FX_VMCS_A);
    ck_succeed(&F);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_RSP), 0x7777);
}
END_TEST

/* ---- VMPTRLD ---------------------------------------------------------------- */

/* "VMPTRLD": a failing VMPTRLD does not change the current-VMCS pointer;
 * VMfailValid writes its error into the VMCS that stays current. */
START_TEST(vmptrld_failure_keeps_current_and_records_error)
{
    fx_current(&F);
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION + 1);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B);
    ck_failvalid(&F, 11, VCORE_DIAG_NVMX_FAIL_VMPTRLD_REVISION);
    ck_assert_uint_eq(vmptrst(&F), FX_VMCS_A);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_VM_INSTRUCTION_ERROR), 11);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMXON);
    ck_failvalid(&F, 10, VCORE_DIAG_NVMX_FAIL_VMPTRLD_VMXON);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_VM_INSTRUCTION_ERROR), 10);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B + 0x400);
    ck_failvalid(&F, 9, VCORE_DIAG_NVMX_FAIL_VMPTRLD_ADDR);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_VM_INSTRUCTION_ERROR), 9);
    ck_assert_uint_eq(vmptrst(&F), FX_VMCS_A);
}
END_TEST

/* "VMPTRLD": without a current VMCS the same failures are VMfailInvalid. */
START_TEST(vmptrld_failures_without_current_are_failinvalid)
{
    fx_vmxon(&F);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B + 0x400);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMPTRLD_ADDR);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMXON);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMPTRLD_VMXON);
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION + 1);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMPTRLD_REVISION);
    ck_assert_uint_eq(vmptrst(&F), ~0ull);
}
END_TEST

/* "VMPTRLD": the operand is always 64 bits; in 32-bit mode a pointer with
 * bits beyond the physical-address width is error 9. */
START_TEST(vmptrld_operand_is_64_bits_in_32bit_mode)
{
    fx_current(&F);
    to_protected32(&F);
    fx_put64(&F, FX_DATA, (1ull << 44) | FX_VMCS_B);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    fx_run(&F, VCORE_NVMX_VMPTRLD);
    ck_failvalid(&F, 9, VCORE_DIAG_NVMX_FAIL_VMPTRLD_ADDR);
}
END_TEST

/* "VMPTRLD" switches VMCSs; the data of the one made non-current stays. */
START_TEST(vmptrld_switch_keeps_both_vmcs_data)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RSP, 0xaaaa);
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_B);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_RSP), 0);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RSP, 0xbbbb);
    fx_vmptrld(&F, FX_VMCS_A);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_RSP), 0xaaaa);
    fx_vmptrld(&F, FX_VMCS_B);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_RSP), 0xbbbb);
}
END_TEST

/* ---- VMPTRST ---------------------------------------------------------------- */

/* "VMPTRST": stores the current-VMCS pointer, FFFFFFFF_FFFFFFFFH when
 * there is none, and VMsucceed either way. */
START_TEST(vmptrst_without_current_stores_all_ones)
{
    fx_vmxon(&F);
    ck_assert_uint_eq(vmptrst(&F), ~0ull);
}
END_TEST

/* "VMPTRST m64": the operand is 64 bits in 32-bit mode too. */
START_TEST(vmptrst_stores_8_bytes_in_32bit_mode)
{
    fx_vmxon(&F);
    to_protected32(&F);
    fx_put64(&F, FX_DATA, 0x1111111111111111ull);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_DATA), ~0ull);
}
END_TEST

/* ---- VMREAD ----------------------------------------------------------------- */

/* "VMREAD": "current-VMCS pointer is not valid -> VMfailInvalid" comes
 * before the field check. */
START_TEST(vmread_no_current_failinvalid_precedes_field_check)
{
    fx_vmxon(&F);
    fx_vmread(&F, 0x7fff);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
    ck_assert(!F.res.gpr_written);
}
END_TEST

/* "VMREAD": the field check (VMfailValid 12) precedes the store to the
 * destination: an unmapped memory destination is not accessed. */
START_TEST(vmread_unsupported_field_precedes_destination_write)
{
    fx_current(&F);
    F.in.regs.gpr[VCORE_X86_RCX] = 0x7fff;
    run_at(&F, VCORE_NVMX_VMREAD, UNMAPPED);
    ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A);
    F.in.regs.gpr[VCORE_X86_RCX] = VCORE_VMCS_GUEST_RIP;
    run_at(&F, VCORE_NVMX_VMREAD, UNMAPPED);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
}
END_TEST

/* "VMREAD": in 64-bit mode bits 63:32 of the encoding register set is a
 * field that does not exist (error 12). */
START_TEST(vmread_encoding_bits_63_32_error_12)
{
    fx_current(&F);
    fx_vmread(&F, (1ull << 32) | VCORE_VMCS_GUEST_RIP);
    ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    ck_assert(!F.res.gpr_written);
}
END_TEST

/* "Field Encoding in VMCS": access type 1 (high) exists only for 64-bit
 * fields; bit 12 and bits 31:15 are reserved. Anything else is error 12. */
START_TEST(vmread_high_access_of_non_64bit_field_error_12)
{
    static const uint32_t bad[] = {
        VCORE_VMCS_GUEST_ES_SELECTOR | 1u, /* 16-bit */
        VCORE_VMCS_GUEST_CS_LIMIT | 1u,    /* 32-bit */
        VCORE_VMCS_GUEST_RIP | 1u,         /* natural width */
        VCORE_VMCS_EXCEPTION_BITMAP | 1u,
        VCORE_VMCS_GUEST_RIP | 0x1000u,    /* reserved bit 12 */
        VCORE_VMCS_TSC_OFFSET | 0x1000u,
        VCORE_VMCS_GUEST_RIP | 0x10000u,   /* bit 16 */
        VCORE_VMCS_GUEST_RIP | 0x80000000u,
    };
    fx_current(&F);
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fx_vmread(&F, bad[i]);
        ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
        fx_vmwrite(&F, bad[i], 0);
        ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    }
}
END_TEST

/* "VMREAD": a field shorter than the operand is zero-extended - in a
 * register and in a 64-bit memory destination alike. */
START_TEST(vmread_short_field_zero_extends)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_ES_SELECTOR, 0xbeef);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_CS_LIMIT, 0xfedcba98u);
    F.in.regs.gpr[VCORE_X86_RDX] = ~0ull;
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_ES_SELECTOR), 0xbeef);
    F.in.regs.gpr[VCORE_X86_RDX] = ~0ull;
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_CS_LIMIT), 0xfedcba98u);
    fx_put64(&F, FX_DATA, ~0ull);
    F.in.regs.gpr[VCORE_X86_RCX] = VCORE_VMCS_GUEST_ES_SELECTOR;
    run_at(&F, VCORE_NVMX_VMREAD, FX_DATA);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_DATA), 0xbeef);
}
END_TEST

/* "VMREAD": the high access type of a 64-bit field reads bits 63:32. */
START_TEST(vmread_high_access_returns_bits_63_32)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_TSC_OFFSET, 0x0123456789abcdefull);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_TSC_OFFSET_HIGH), 0x01234567u);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_TSC_OFFSET), 0x0123456789abcdefull);
}
END_TEST

/* "VMREAD": with a shadow VMCS current in VMX root operation, VMREAD and
 * VMWRITE work on it (only VM entry refuses a shadow VMCS). */
START_TEST(vmread_vmwrite_work_on_current_shadow_vmcs)
{
    fx_vmxon(&F);
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    fx_vmptrld(&F, FX_SHADOW);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 0x4242);
    ck_succeed(&F);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_RIP), 0x4242);
}
END_TEST

/* "Field Encoding in VMCS": fields "supported only on processors that
 * support the 1-setting of" a control do not exist when L1's capability
 * MSRs do not allow that setting; VMREAD and VMWRITE of them are
 * VMfailValid 12 ("VMREAD/VMWRITE from/to unsupported VMCS component"),
 * both access types of a 64-bit field alike. */
START_TEST(vmread_vmwrite_field_absent_from_caps_error_12)
{
    static const uint32_t absent[] = {
        VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, /* "activate VMX-preemption timer" */
        VCORE_VMCS_GUEST_PML_INDEX,            /* "enable PML" */
        VCORE_VMCS_GUEST_IA32_RTIT_CTL,        /* "load IA32_RTIT_CTL" / "clear IA32_RTIT_CTL" */
        VCORE_VMCS_GUEST_IA32_RTIT_CTL_HIGH,
        VCORE_VMCS_GUEST_IA32_PKRS,            /* "load PKRS" (entry) */
        VCORE_VMCS_HOST_IA32_PKRS,             /* "load PKRS" (exit) */
        VCORE_VMCS_GUEST_S_CET,                /* "load CET state" (entry) */
        VCORE_VMCS_HOST_SSP,                   /* "load CET state" (exit) */
    };
    const uint64_t entry_off = (1ull << 18) | (1ull << 20) | (1ull << 21) | (1ull << 22);
    const uint64_t exit_off = (1ull << 25) | (1ull << 26) | (1ull << 28) | (1ull << 29);
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_PINBASED] &= ~(1ull << (32 + 6));
    c.msr[VCORE_NVMX_CAP_TRUE_PINBASED] &= ~(1ull << (32 + 6));
    c.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 17));
    c.msr[VCORE_NVMX_CAP_ENTRY] &= ~(entry_off << 32);
    c.msr[VCORE_NVMX_CAP_TRUE_ENTRY] &= ~(entry_off << 32);
    c.msr[VCORE_NVMX_CAP_EXIT] &= ~(exit_off << 32);
    c.msr[VCORE_NVMX_CAP_TRUE_EXIT] &= ~(exit_off << 32);
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_current(&F);
    for (unsigned i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        fx_vmread(&F, absent[i]);
        ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
        ck_assert(!F.res.gpr_written);
        fx_vmwrite(&F, absent[i], 1);
        ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    }
    /* A guarded field whose control L1 may set exists. */
    fx_vmwrite(&F, VCORE_VMCS_GUEST_INTR_STATUS, 0x1234);
    ck_succeed(&F);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_INTR_STATUS), 0x1234);
}
END_TEST

/* "VMREAD"/"VMWRITE" in VMX non-root operation with VMCS shadowing: a
 * field L1's processor lacks whose bitmap bit is 0 does not exit; it is
 * VMfailValid 12, the error in the current (ordinary) VMCS. */
START_TEST(l2_shadow_access_of_absent_field_error_12)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_PINBASED] &= ~(1ull << (32 + 6));
    c.msr[VCORE_NVMX_CAP_TRUE_PINBASED] &= ~(1ull << (32 + 6));
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_current(&F);
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    memset(F.ram + FX_BITMAP_R, 0, 4096);
    memset(F.ram + FX_BITMAP_W, 0, 4096);
    fx_vmwrite(&F, VCORE_VMCS_VMCS_LINK_POINTER, FX_SHADOW);
    fx_vmwrite(&F, VCORE_VMCS_VMREAD_BITMAP, FX_BITMAP_R);
    fx_vmwrite(&F, VCORE_VMCS_VMWRITE_BITMAP, FX_BITMAP_W);
    fx_vmwrite(&F, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
    fx_vmwrite(&F, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_shadow_load(F.n, &F.mem), VCORE_OK);
    F.in.in_l2 = true;
    fx_vmread(&F, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE);
    ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    fx_vmwrite(&F, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, 5);
    ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 5);
    ck_succeed(&F);
    F.in.in_l2 = false;
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_VM_INSTRUCTION_ERROR), 12);
}
END_TEST

/* ---- VMWRITE ---------------------------------------------------------------- */

/* "VMWRITE": without IA32_VMX_MISC[29] every VM-exit information field
 * (type 1 in bits 11:10 of the encoding), both halves of a 64-bit one
 * included, is read-only: VMfailValid(13), field unchanged. */
START_TEST(vmwrite_exit_information_fields_read_only)
{
    static const uint32_t ro[] = {
        VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,      VCORE_VMCS_GUEST_PHYSICAL_ADDRESS_HIGH,
        VCORE_VMCS_VM_INSTRUCTION_ERROR,        VCORE_VMCS_VM_EXIT_REASON,
        VCORE_VMCS_EXIT_QUALIFICATION,          VCORE_VMCS_IO_RCX,
        VCORE_VMCS_GUEST_LINEAR_ADDRESS,        VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN,
    };
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_MISC] &= ~VCORE_VMX_MISC_VMWRITE_ANY;
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_current(&F);
    for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        fx_vmwrite(&F, ro[i], 0x77);
        ck_failvalid(&F, 13, VCORE_DIAG_NVMX_FAIL_READ_ONLY_FIELD);
        if (ro[i] != VCORE_VMCS_VM_INSTRUCTION_ERROR)
            ck_assert_uint_eq(read_field(&F, ro[i]), 0);
    }
}
END_TEST

/* "VMWRITE": with IA32_VMX_MISC[29] = 1 the exit-information fields are writable. */
START_TEST(vmwrite_any_field_with_misc_bit_29)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    ck_assert(c.msr[VCORE_NVMX_CAP_MISC] & VCORE_VMX_MISC_VMWRITE_ANY);
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS_HIGH, 0x12);
    ck_succeed(&F);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), 0x1200000000ull);
}
END_TEST

/* "VMWRITE": no current VMCS -> VMfailInvalid, before the field checks. */
START_TEST(vmwrite_no_current_failinvalid_precedes_field_check)
{
    fx_vmxon(&F);
    fx_vmwrite(&F, 0x7fff, 1);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
}
END_TEST

/* "VMWRITE": a field longer than the 32-bit operand (outside 64-bit mode)
 * has its high bits cleared - natural-width fields too. */
START_TEST(vmwrite_32bit_mode_clears_high_bits_of_natural_field)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RSP, 0xffffffff00000000ull);
    to_protected32(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RSP, 0x1234);
    ck_succeed(&F);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(vcore_nvmx_vmcs12(F.n), VCORE_VMCS_GUEST_RSP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x1234);
}
END_TEST

/* "VMWRITE": a field shorter than the operand ignores the operand's high bits. */
START_TEST(vmwrite_short_field_ignores_high_bits)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_CS_LIMIT, 0xaaaaaaaa12345678ull);
    ck_succeed(&F);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_GUEST_CS_LIMIT), 0x12345678u);
    fx_vmwrite(&F, VCORE_VMCS_VIRTUAL_PROCESSOR_ID, 0x55550007ull);
    ck_succeed(&F);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_VIRTUAL_PROCESSOR_ID), 7);
}
END_TEST

/* "VMWRITE" from memory in 32-bit mode reads 4 bytes (effective operand
 * size 32 bits); the bytes after them do not matter. */
START_TEST(vmwrite_memory_source_32bit_mode_reads_4_bytes)
{
    fx_current(&F);
    to_protected32(&F);
    fx_put64(&F, FX_DATA, 0xdddddddd00005678ull);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1) | (VCORE_X86_RCX << 28);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    F.in.regs.gpr[VCORE_X86_RCX] = VCORE_VMCS_TSC_OFFSET;
    fx_run(&F, VCORE_NVMX_VMWRITE);
    ck_succeed(&F);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(vcore_nvmx_vmcs12(F.n), VCORE_VMCS_TSC_OFFSET, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x5678);
}
END_TEST

/* ---- VMLAUNCH / VMRESUME (instruction-level outcomes) ----------------------- */

/* "VMLAUNCH/VMRESUME": blocking by MOV SS (error 26) is checked before
 * the launch state (errors 4 and 5). */
START_TEST(launch_mov_ss_precedes_launch_state)
{
    fx_current(&F);
    F.in.interruptibility = 2;
    fx_run(&F, VCORE_NVMX_VMRESUME); /* clear VMCS */
    ck_failvalid(&F, 26, VCORE_DIAG_NVMX_FAIL_MOV_SS);
    ck_assert_int_eq(vcore_nvmx_mark_launched(F.n), VCORE_OK);
    fx_run(&F, VCORE_NVMX_VMLAUNCH); /* launched VMCS */
    ck_failvalid(&F, 26, VCORE_DIAG_NVMX_FAIL_MOV_SS);
    ck_assert_uint_eq(read_field(&F, VCORE_VMCS_VM_INSTRUCTION_ERROR), 26);
}
END_TEST

/* "VMLAUNCH/VMRESUME": an invalid current-VMCS pointer (none, or a shadow
 * VMCS) is VMfailInvalid, before the MOV SS check. */
START_TEST(launch_invalid_current_precedes_mov_ss)
{
    fx_vmxon(&F);
    F.in.interruptibility = 2;
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    fx_vmptrld(&F, FX_SHADOW);
    fx_run(&F, VCORE_NVMX_VMRESUME);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_SHADOW_CURRENT);
}
END_TEST

/* "VMLAUNCH/VMRESUME": CPL > 0 is #GP(0) even without a current VMCS. */
START_TEST(launch_cpl_gp_precedes_vmfail)
{
    fx_vmxon(&F);
    set_cpl(&F, 3);
    fx_run(&F, VCORE_NVMX_VMRESUME);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CPL);
}
END_TEST

/* ---- INVEPT ----------------------------------------------------------------- */

/* "INVEPT": VMfail without a current VMCS is VMfailInvalid. */
START_TEST(invept_fail_without_current_is_failinvalid)
{
    fx_vmxon(&F);
    inv(&F, VCORE_NVMX_INVEPT, 0, 0, 0);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 2, 0, 0);
    ck_succeed(&F);
}
END_TEST

/* "INVEPT": the type is the full 64-bit register in 64-bit mode: bits
 * 63:32 set name an unsupported type (error 28). */
START_TEST(invept_type_bits_63_32_error_28)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVEPT, (1ull << 32) | 2, 0, 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
}
END_TEST

/* "INVEPT": outside 64-bit mode the register operand is 32 bits. */
START_TEST(invept_type_is_32_bits_in_32bit_mode)
{
    fx_current(&F);
    to_protected32(&F);
    fx_put64(&F, FX_DATA, 0);
    fx_put64(&F, FX_DATA + 8, 0);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1) | (VCORE_X86_RCX << 28);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    F.in.regs.gpr[VCORE_X86_RCX] = 0xffffffff00000002ull;
    fx_run(&F, VCORE_NVMX_INVEPT);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.inv_type, 2);
}
END_TEST

/* "INVEPT" all-context (type 2): the EPTP of the descriptor is not checked. */
START_TEST(invept_all_context_ignores_descriptor)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVEPT, 2, ~0ull, ~0ull);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.inv_type, 2);
}
END_TEST

/* "INVEPT" single-context: an EPTP VM entry would refuse ("VM-Execution
 * Control Fields" checks on the EPTP: reserved bits 11:7) is error 28. */
START_TEST(invept_single_context_reserved_eptp_bits_error_28)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVEPT, 1, 0x5000 | 0x1e | (1u << 8), 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 1, 0x5000 | 0x1e | (1u << 11), 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 1, 0x5000 | 0x1e, 0);
    ck_succeed(&F);
}
END_TEST

/* "INVEPT": a type IA32_VMX_EPT_VPID_CAP does not list (single-context,
 * bit 25) is error 28, while the other type still works. */
START_TEST(invept_type_not_in_caps_error_28)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_EPT_VPID] &= ~VCORE_VMX_EPT_INVEPT_SINGLE;
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVEPT, 1, 0x5000 | 0x1e, 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 2, 0, 0);
    ck_succeed(&F);
}
END_TEST

/* ---- INVVPID ---------------------------------------------------------------- */

/* "INVVPID": "IF INVVPID_DESC[63:16] != 0 THEN VMfail" for every type,
 * all-context (2) included. */
START_TEST(invvpid_reserved_descriptor_bits_any_type_error_28)
{
    fx_current(&F);
    for (uint64_t type = 0; type <= 3; type++) {
        inv(&F, VCORE_NVMX_INVVPID, type, (1ull << 63) | 5, 0);
        ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
        inv(&F, VCORE_NVMX_INVVPID, type, (1ull << 16) | 5, 0);
        ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    }
}
END_TEST

/* "INVVPID": VPID 0 is refused by types 0, 1 and 3. */
START_TEST(invvpid_vpid_zero_error_28_except_all_context)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVVPID, 0, 0, 0x1000);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVVPID, 3, 0, 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVVPID, 2, 0, 0);
    ck_succeed(&F);
}
END_TEST

/* "INVVPID": the linear address is checked only by individual-address
 * invalidation; the other types ignore bits 127:64. */
START_TEST(invvpid_address_ignored_except_individual)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVVPID, 1, 3, 0x8000000000000000ull);
    ck_succeed(&F);
    inv(&F, VCORE_NVMX_INVVPID, 2, 0, 0x8000000000000000ull);
    ck_succeed(&F);
    inv(&F, VCORE_NVMX_INVVPID, 3, 3, 0x8000000000000000ull);
    ck_succeed(&F);
}
END_TEST

/* "INVVPID": without a current VMCS its VMfail is VMfailInvalid. */
START_TEST(invvpid_fail_without_current_is_failinvalid)
{
    fx_vmxon(&F);
    inv(&F, VCORE_NVMX_INVVPID, 1, 0, 0);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
}
END_TEST

/* "INVVPID": a type IA32_VMX_EPT_VPID_CAP does not list is error 28. */
START_TEST(invvpid_type_not_in_caps_error_28)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_EPT_VPID] &= ~VCORE_VMX_VPID_INVVPID_ADDR;
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVVPID, 0, 5, 0x1000);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVVPID, 1, 5, 0);
    ck_succeed(&F);
}
END_TEST

/* "INVVPID": the type is 64 bits in 64-bit mode. */
START_TEST(invvpid_type_bits_63_32_error_28)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVVPID, (1ull << 32) | 2, 0, 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
}
END_TEST

/* ---- the vCPU pipeline (mock backend): L1's VMREAD/VMWRITE exits -------- */

/* L1 offered no VMX-preemption timer and no PML while the processor has
 * both; nested options opts. */
static void pipeline_without_timer_and_pml(uint32_t opts)
{
    nested_vm(NULL, NULL, NULL, 0);
    vcore_nvmx_caps_t c = *vcore_nvmx_caps(nv);
    nested_vm_destroy(0);
    ck_assert_uint_ne(c.msr[VCORE_NVMX_CAP_PINBASED] & (1ull << (32 + 6)), 0);
    ck_assert_uint_ne(c.msr[VCORE_NVMX_CAP_PROCBASED2] & (1ull << (32 + 17)), 0);
    c.msr[VCORE_NVMX_CAP_PINBASED] &= ~(1ull << (32 + 6));
    c.msr[VCORE_NVMX_CAP_TRUE_PINBASED] &= ~(1ull << (32 + 6));
    c.msr[VCORE_NVMX_CAP_EXIT] &= ~(1ull << (32 + 22)); /* "save VMX-preemption timer value" */
    c.msr[VCORE_NVMX_CAP_TRUE_EXIT] &= ~(1ull << (32 + 22));
    c.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 17));
    nested_vm(NULL, NULL, &c, opts);
    load_vmcs12();
}

/* "Field Encoding in VMCS" through vcore_vcpu_run(): a field L1's processor
 * lacks is VMfailValid 12 for L1's VMREAD and VMWRITE, on the run loop's
 * completion of register-operand accesses too (ZF, VM-instruction error 12). */
START_TEST(pipeline_field_absent_from_l1_caps_error_12)
{
    static const uint32_t absent[] = {VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, VCORE_VMCS_GUEST_PML_INDEX};
    /* without L0's shadow VMCS: the run loop's own completion is in play */
    pipeline_without_timer_and_pml(VCORE_NVMX_OPT_NO_HW_SHADOW);
    for (unsigned i = 0; i < 2; i++) {
        for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
            vcore_x86_regs_t r = regs();
            r.rflags = 0x2 | 0x8d5;
            ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
            nested_l1_vmx_reg(op, absent[i], 0x55);
            r = regs();
            ck_assert_uint_eq(r.rflags & 0x8d5u, 0x40u);
            ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 12);
            set12(VCORE_VMCS_VM_INSTRUCTION_ERROR, 0);
        }
    }
    /* a field L1 has: VMsucceed */
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_GUEST_RIP, 0x1234);
    ck_assert_uint_eq(regs().rflags & 0x8d5u, 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x1234);
    nested_vm_destroy(0);
}
END_TEST

/* "VMCS Shadowing": L0's shadow VMCS answers L1's VMREAD/VMWRITE without a
 * VM exit only for fields L1's processor has; the others exit, so that the
 * emulation gives VMfailValid 12. */
START_TEST(pipeline_hw_shadow_skips_fields_absent_from_l1_caps)
{
    pipeline_without_timer_and_pml(0);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_ptr_nonnull(vcore_mock_vmcs_shadow_linked(vcpu));
    uint64_t v = 0;
    bool exits = false;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, false, VCORE_VMCS_GUEST_RIP, &v, &exits), VCORE_OK);
    ck_assert(!exits); /* shadowing is on */
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, false, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, &v, &exits),
                     VCORE_OK);
    ck_assert(exits);
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, false, VCORE_VMCS_GUEST_PML_INDEX, &v, &exits), VCORE_OK);
    ck_assert(exits);
    v = 1;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, true, VCORE_VMCS_GUEST_PML_INDEX, &v, &exits), VCORE_OK);
    ck_assert(exits);
    nested_vm_destroy(0);
}
END_TEST

/* "Conventions" through vcore_vcpu_run(): L1's VMREAD/VMWRITE without a
 * current VMCS is VMfailInvalid (CF), whichever path completes it. */
START_TEST(pipeline_no_current_vmcs_failinvalid)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_NO_HW_SHADOW);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RBX] = OPND_GPA;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    put(VMXON_GPA, VCORE_VMCS12_REVISION, 4);
    put(OPND_GPA, VMXON_GPA, 8);
    l1_insn(VCORE_NVMX_VMXON, MEM_RBX, 4);
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        r = regs();
        r.rflags = 0x2 | 0x8d5;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        nested_l1_vmx_reg(op, VCORE_VMCS_GUEST_RIP, 0x55);
        ck_assert_uint_eq(regs().rflags & 0x8d5u, 0x1u);
    }
    nested_vm_destroy(0);
}
END_TEST

/* The run loop's own VMREAD/VMWRITE completion stays on while L1 has every
 * field of its table (a performance path: the emulated capabilities have
 * them all), and goes off when L1 lacks one. */
START_TEST(pipeline_fast_path_follows_l1_fields)
{
    vcore_nvmx_caps_t c = {.size = sizeof(c)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&c), VCORE_OK);
    ck_assert_uint_eq(vcore__nvmx_shadow_l1_fields(&c), VCORE__NVMX_SHADOW_ALL);
    nested_vm(NULL, NULL, NULL, 0);
    ck_assert_uint_eq(nv->opts & VCORE__NVMX_OPT_NO_FAST_FIELDS, 0);
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_NO_FAST_PATH), VCORE_OK);
    ck_assert_uint_eq(nv->opts, VCORE_NVMX_OPT_NO_FAST_PATH);
    nested_vm_destroy(0);
    pipeline_without_timer_and_pml(0);
    ck_assert_uint_ne(nv->opts & VCORE__NVMX_OPT_NO_FAST_FIELDS, 0);
    /* the VMM's options do not turn it back on */
    ck_assert_int_eq(vcore_nvmx_set_options(nv, 0), VCORE_OK);
    ck_assert_uint_ne(nv->opts & VCORE__NVMX_OPT_NO_FAST_FIELDS, 0);
    nested_vm_destroy(0);
}
END_TEST

/* vcore_nvmx_shadow_bitmaps(): the size field is checked (VCORE_ERR_ABI);
 * a processor without "VMCS shadowing" shadows nothing (every bit set). */
START_TEST(shadow_bitmaps_arguments)
{
    static uint8_t rd[4096], wr[4096];
    vcore_nvmx_caps_t c = {.size = sizeof(c)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&c), VCORE_OK);
    c.size = sizeof(c) - 1;
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&c, rd, wr), VCORE_ERR_ABI);
    c.size = sizeof(c);
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&c, NULL, wr), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&c, rd, wr), VCORE_OK);
    ck_assert_uint_eq((rd[VCORE_VMCS_GUEST_RIP >> 3] >> (VCORE_VMCS_GUEST_RIP & 7)) & 1u, 0);
    c.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~VCORE_VMX_PROC2_SHADOW_VMCS;
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&c, rd, wr), VCORE_OK);
    for (unsigned i = 0; i < 4096; i++)
        ck_assert_uint_eq(rd[i] & wr[i], 0xff);
}
END_TEST

static Suite *nvmx_sdm_suite(void)
{
    Suite *s = suite_create("nvmx_sdm");
    TCase *t = tcase_create("sdm");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, not_in_vmx_operation_ud_precedes_cpl_gp);
    tcase_add_test(t, vmxon_vmxe_clear_ud_precedes_cpl_gp);
    tcase_add_test(t, v86_ud_precedes_cpl_gp);
    tcase_add_test(t, vmxon_cpl_gp_precedes_operand_fetch);
    tcase_add_test(t, vmxon_feature_control_gp_precedes_operand_fetch);
    tcase_add_test(t, vmptrld_cpl_gp_precedes_operand_fetch);
    tcase_add_test(t, vmxon_in_root_fails_without_reading_operand);
    tcase_add_test(t, vmxon_makes_current_vmcs_invalid);
    tcase_add_test(t, vmxon_operand_is_64_bits_in_32bit_mode);
    tcase_add_test(t, vmxon_register_operand_ud_in_root);
    tcase_add_test(t, vmxon_again_replaces_vmxon_pointer);
    tcase_add_test(t, vmx_outcomes_keep_other_rflags);
    tcase_add_test(t, vmxoff_outcomes);
    tcase_add_test(t, vmclear_does_not_check_revision);
    tcase_add_test(t, vmclear_current_makes_pointer_invalid);
    tcase_add_test(t, vmclear_other_keeps_current);
    tcase_add_test(t, vmclear_keeps_vmcs_data);
    tcase_add_test(t, vmclear_makes_launch_state_clear);
    tcase_add_test(t, vmclear_address_check_precedes_vmxon_check);
    tcase_add_test(t, vmclear_vmxon_pointer_without_current_is_failinvalid);
    tcase_add_test(t, vmptrld_failure_keeps_current_and_records_error);
    tcase_add_test(t, vmptrld_failures_without_current_are_failinvalid);
    tcase_add_test(t, vmptrld_operand_is_64_bits_in_32bit_mode);
    tcase_add_test(t, vmptrld_switch_keeps_both_vmcs_data);
    tcase_add_test(t, vmptrst_without_current_stores_all_ones);
    tcase_add_test(t, vmptrst_stores_8_bytes_in_32bit_mode);
    tcase_add_test(t, vmread_no_current_failinvalid_precedes_field_check);
    tcase_add_test(t, vmread_unsupported_field_precedes_destination_write);
    tcase_add_test(t, vmread_encoding_bits_63_32_error_12);
    tcase_add_test(t, vmread_high_access_of_non_64bit_field_error_12);
    tcase_add_test(t, vmread_short_field_zero_extends);
    tcase_add_test(t, vmread_high_access_returns_bits_63_32);
    tcase_add_test(t, vmread_vmwrite_work_on_current_shadow_vmcs);
    tcase_add_test(t, vmread_vmwrite_field_absent_from_caps_error_12);
    tcase_add_test(t, l2_shadow_access_of_absent_field_error_12);
    tcase_add_test(t, vmclear_unbacked_address_succeeds);
    tcase_add_test(t, vmptrld_current_again_succeeds);
    tcase_add_test(t, vmwrite_exit_information_fields_read_only);
    tcase_add_test(t, vmwrite_any_field_with_misc_bit_29);
    tcase_add_test(t, vmwrite_no_current_failinvalid_precedes_field_check);
    tcase_add_test(t, vmwrite_32bit_mode_clears_high_bits_of_natural_field);
    tcase_add_test(t, vmwrite_short_field_ignores_high_bits);
    tcase_add_test(t, vmwrite_memory_source_32bit_mode_reads_4_bytes);
    tcase_add_test(t, launch_mov_ss_precedes_launch_state);
    tcase_add_test(t, launch_invalid_current_precedes_mov_ss);
    tcase_add_test(t, launch_cpl_gp_precedes_vmfail);
    tcase_add_test(t, invept_fail_without_current_is_failinvalid);
    tcase_add_test(t, invept_type_bits_63_32_error_28);
    tcase_add_test(t, invept_type_is_32_bits_in_32bit_mode);
    tcase_add_test(t, invept_all_context_ignores_descriptor);
    tcase_add_test(t, invept_single_context_reserved_eptp_bits_error_28);
    tcase_add_test(t, invept_type_not_in_caps_error_28);
    tcase_add_test(t, invvpid_reserved_descriptor_bits_any_type_error_28);
    tcase_add_test(t, invvpid_vpid_zero_error_28_except_all_context);
    tcase_add_test(t, invvpid_address_ignored_except_individual);
    tcase_add_test(t, invvpid_fail_without_current_is_failinvalid);
    tcase_add_test(t, invvpid_type_not_in_caps_error_28);
    tcase_add_test(t, invvpid_type_bits_63_32_error_28);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("pipeline");
    tcase_add_test(p, pipeline_field_absent_from_l1_caps_error_12);
    tcase_add_test(p, pipeline_hw_shadow_skips_fields_absent_from_l1_caps);
    tcase_add_test(p, pipeline_no_current_vmcs_failinvalid);
    tcase_add_test(p, pipeline_fast_path_follows_l1_fields);
    tcase_add_test(p, shadow_bitmaps_arguments);
    suite_add_tcase(s, p);
    return s;
}

int main(void)
{
    return vcore_test_run(nvmx_sdm_suite());
}
