/* VMX instruction emulation: each instruction x each failure class
 * (SDM Vol. 3, "VMX Instruction Reference"). */
#include "support.h"
#include "test_nvmx_fixture.h"

static fx_t F;
static void setup(void) { fx_setup(&F); }
static void teardown(void) { fx_teardown(&F); }

/* ---- #UD / #GP classes shared by all instructions ---------------------- */

static const uint32_t all_ops[] = {VCORE_NVMX_VMXOFF, VCORE_NVMX_VMCLEAR, VCORE_NVMX_VMPTRLD,
                                   VCORE_NVMX_VMPTRST, VCORE_NVMX_VMREAD, VCORE_NVMX_VMWRITE,
                                   VCORE_NVMX_INVEPT, VCORE_NVMX_INVVPID, VCORE_NVMX_VMLAUNCH,
                                   VCORE_NVMX_VMRESUME};

START_TEST(ud_outside_vmx_operation)
{
    for (unsigned i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
        ck_assert_int_eq(fx_run_mem(&F, all_ops[i], FX_VMCS_A), VCORE_OK);
        ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_NOT_IN_VMX);
        ck_assert_uint_eq(F.res.rip, F.in.regs.rip); /* faults do not advance RIP */
    }
}
END_TEST

START_TEST(ud_modes_in_vmx_operation)
{
    fx_current(&F);
    for (unsigned i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
        fx_t *f = &F;
        vcore_nvmx_insn_t saved = f->in;
        f->in.sregs.cr0 &= ~1ull; /* real mode */
        ck_assert_int_eq(fx_run_mem(f, all_ops[i], FX_VMCS_A), VCORE_OK);
        ck_exception(f, 6, 0, VCORE_DIAG_NVMX_UD_REAL_MODE);
        f->in = saved;
        f->in.regs.rflags |= 1u << 17; /* virtual-8086 */
        ck_assert_int_eq(fx_run_mem(f, all_ops[i], FX_VMCS_A), VCORE_OK);
        ck_exception(f, 6, 0, VCORE_DIAG_NVMX_UD_V86);
        f->in = saved;
        f->in.sregs.seg[VCORE_X86_CS].ar &= ~VCORE_X86_AR_L; /* compatibility mode */
        ck_assert_int_eq(fx_run_mem(f, all_ops[i], FX_VMCS_A), VCORE_OK);
        ck_exception(f, 6, 0, VCORE_DIAG_NVMX_UD_COMPAT_MODE);
        f->in = saved;
        f->in.sregs.seg[VCORE_X86_SS].ar |= 3u << 5; /* CPL 3 */
        ck_assert_int_eq(fx_run_mem(f, all_ops[i], FX_VMCS_A), VCORE_OK);
        ck_exception(f, 13, 0, VCORE_DIAG_NVMX_GP_CPL);
        f->in = saved;
    }
}
END_TEST

START_TEST(ud_register_operand_for_memory_only)
{
    static const uint32_t mem_ops[] = {VCORE_NVMX_VMCLEAR, VCORE_NVMX_VMPTRLD, VCORE_NVMX_VMPTRST,
                                       VCORE_NVMX_INVEPT, VCORE_NVMX_INVVPID};
    fx_current(&F);
    for (unsigned i = 0; i < 5; i++) {
        F.in.insn_info = (1u << 10) | (2u << 7);
        ck_assert_int_eq(fx_run(&F, mem_ops[i]), VCORE_OK);
        ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_REGISTER_OPERAND);
    }
}
END_TEST

/* ---- VMXON --------------------------------------------------------------- */

START_TEST(vmxon_ud_and_gp)
{
    vcore_nvmx_insn_t saved = F.in;
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION);
    F.in.sregs.cr4 &= ~0x2000ull;
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_VMXE_CLEAR);
    F.in = saved;
    F.in.sregs.seg[VCORE_X86_CS].ar &= ~VCORE_X86_AR_L;
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_COMPAT_MODE);
    F.in = saved;
    F.in.insn_info = 1u << 10;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_REGISTER_OPERAND);
    F.in = saved;
    F.in.sregs.seg[VCORE_X86_SS].ar |= 1u << 5; /* CPL 1 */
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CPL);
    F.in = saved;
    F.in.feature_control = 0x4; /* not locked */
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_FEATURE_CONTROL);
    F.in.feature_control = 0x1; /* locked, VMX outside SMX disabled */
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_FEATURE_CONTROL);
    F.in = saved;
    F.in.sregs.cr0 &= ~(1ull << 5); /* CR0.NE is fixed to 1 */
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CR_FIXED);
    F.in = saved;
    F.in.sregs.cr0 |= 1ull << 32; /* beyond CR0_FIXED1 */
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CR_FIXED);
}
END_TEST

START_TEST(vmxon_fail_invalid)
{
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION);
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON + 8);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMXON_ADDR);
    fx_run_mem(&F, VCORE_NVMX_VMXON, 1ull << 40); /* MAXPHYADDR is 40 */
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMXON_ADDR);
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION + 1);
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMXON_REVISION);
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMXON_REVISION);
    /* unbacked physical memory reads as all ones: wrong revision */
    fx_run_mem(&F, VCORE_NVMX_VMXON, 0x800000);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMXON_REVISION);
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert(!info.vmx_operation);
}
END_TEST

START_TEST(vmxon_success_then_in_root)
{
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    fx_vmxon(&F);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert(info.vmx_operation);
    ck_assert_uint_eq(info.vmxon_ptr, FX_VMXON);
    ck_assert_uint_eq(info.current_vmptr, ~0ull);
    /* VMXON in root without a current VMCS: VMfailInvalid */
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMXON_IN_ROOT);
    /* with a current VMCS: VMfailValid(15) written to VM_INSTRUCTION_ERROR */
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_A);
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_failvalid(&F, 15, VCORE_DIAG_NVMX_FAIL_VMXON_IN_ROOT);
    fx_vmread(&F, VCORE_VMCS_VM_INSTRUCTION_ERROR);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.gpr_value, 15);
    /* CPL > 0 in root: #GP(0) */
    F.in.sregs.seg[VCORE_X86_SS].ar |= 3u << 5;
    fx_run_mem(&F, VCORE_NVMX_VMXON, FX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_CPL);
}
END_TEST

/* ---- memory operands: segmentation and paging ----------------------------- */

START_TEST(operand_noncanonical_gp_and_ss)
{
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x0000800000000000ull;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
    F.in.insn_info = fx_ii_mem(VCORE_X86_SS, VCORE_X86_RBX, 2);
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 12, 0, VCORE_DIAG_NVMX_SS_SEGMENT);
    /* the last byte counts too: 8 bytes ending past the canonical hole */
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x00007ffffffffffcull;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
}
END_TEST

START_TEST(operand_fs_base_index_scale_disp)
{
    /* [FS:RBX + RSI*8 + disp] in 64-bit mode: FS base applies */
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION);
    fx_put64(&F, FX_DATA + 0x100 + 4 * 8 + 0x10, FX_VMXON);
    F.in.sregs.seg[VCORE_X86_FS].base = FX_DATA;
    F.in.regs.gpr[VCORE_X86_RBX] = 0x100;
    F.in.regs.gpr[VCORE_X86_RSI] = 4;
    F.in.qualification = 0x10;
    F.in.insn_info = (3u) | (2u << 7) | (VCORE_X86_FS << 15) | (VCORE_X86_RSI << 18) |
                     (VCORE_X86_RBX << 23);
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_succeed(&F);
}
END_TEST

START_TEST(operand_page_fault)
{
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    fx_vmxon(&F);
    /* linear 2 MiB is not mapped (PDE 1 not present) */
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x200000;
    fx_run(&F, VCORE_NVMX_VMPTRLD);
    ck_exception(&F, 14, 0, VCORE_DIAG_NVMX_PF);
    ck_assert_uint_eq(F.res.cr2, 0x200000);
    /* a write spanning into the unmapped page faults with W set and
     * writes nothing to the first page */
    F.in.regs.gpr[VCORE_X86_RBX] = 0x1ffffc;
    F.ram[0x1ffffc] = 0xaa;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_exception(&F, 14, 2, VCORE_DIAG_NVMX_PF);
    ck_assert_uint_eq(F.res.cr2, 0x200000);
    ck_assert_uint_eq(F.ram[0x1ffffc], 0xaa);
    /* read-only page with CR0.WP: P|W */
    fx_put64(&F, FX_PD, 0x81); /* present, read-only */
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_exception(&F, 14, 3, VCORE_DIAG_NVMX_PF);
    /* reserved bit (above MAXPHYADDR) in the PDE: P|RSVD */
    fx_put64(&F, FX_PD, 0x83 | (1ull << 45));
    fx_run(&F, VCORE_NVMX_VMPTRLD);
    ck_exception(&F, 14, 9, VCORE_DIAG_NVMX_PF);
    /* SMAP: user page, CR4.SMAP, AC clear */
    fx_put64(&F, FX_PML4, FX_PDPT | 0x7);
    fx_put64(&F, FX_PDPT, FX_PD | 0x7);
    fx_put64(&F, FX_PD, 0x87);
    F.in.sregs.cr4 |= 1ull << 21;
    fx_run(&F, VCORE_NVMX_VMPTRLD);
    ck_exception(&F, 14, 1, VCORE_DIAG_NVMX_PF);
    F.in.regs.rflags |= 1u << 18; /* AC: allowed */
    fx_put64(&F, FX_DATA, FX_VMCS_A);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_run(&F, VCORE_NVMX_VMPTRLD);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert_uint_eq(info.current_vmptr, FX_VMCS_A);
}
END_TEST

START_TEST(operand_unbacked_is_fault_error)
{
    fx_vmxon(&F);
    /* map linear 2 MiB to GPA 64 MiB, where the fake has no RAM */
    fx_put64(&F, FX_PD + 8, 0x4000000 | 0x83);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x200000;
    ck_assert_int_eq(fx_run(&F, VCORE_NVMX_VMPTRLD), VCORE_ERR_FAULT);
}
END_TEST

/* 32-bit protected mode with PAE paging (VMXON needs CR0.PG), flat 4 GiB
 * except DS limited to 0x2ffff. */
static void to_protected32(fx_t *f)
{
    f->in.sregs.efer = 0;
    f->in.sregs.cr0 = 0x80000033;
    f->in.sregs.cr4 = 0x2020;
    f->in.sregs.cr3 = 0x4000;
    fx_put64(f, 0x4000, FX_PD | 1); /* PDPTE 0 -> the identity PD */
    f->in.sregs.seg[VCORE_X86_CS].ar = 0x9b | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    f->in.sregs.seg[VCORE_X86_DS].limit = 0x2ffff;
}

START_TEST(operand_protected_mode_segments)
{
    to_protected32(&F);
    fx_region(&F, FX_VMXON, VCORE_VMCS12_REVISION);
    fx_put64(&F, FX_DATA, FX_VMXON);
    /* 32-bit address size, DS:[EBX] */
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x2fffc; /* 8 bytes cross the limit */
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
    /* 64-bit address size outside 64-bit mode is not a valid encoding */
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_BAD_INSN_INFO);
    /* unusable segment */
    F.in.insn_info = fx_ii_mem(VCORE_X86_ES, VCORE_X86_RBX, 1);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    F.in.sregs.seg[VCORE_X86_ES].ar = VCORE_X86_AR_UNUSABLE;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
    /* SS limit: #SS */
    F.in.insn_info = fx_ii_mem(VCORE_X86_SS, VCORE_X86_RBX, 1);
    F.in.sregs.seg[VCORE_X86_SS].limit = 0xfff;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 12, 0, VCORE_DIAG_NVMX_SS_SEGMENT);
    /* expand-down DS, limit 0x1ffff: offsets 0x20000.. are valid (D/B=1) */
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1);
    F.in.sregs.seg[VCORE_X86_DS].ar = 0x97 | VCORE_X86_AR_DB;
    F.in.sregs.seg[VCORE_X86_DS].limit = 0x1ffff;
    F.in.regs.gpr[VCORE_X86_RBX] = 0x1fff0;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    fx_run(&F, VCORE_NVMX_VMXON);
    ck_succeed(&F);
    /* VMPTRST through a read-only data segment: #GP */
    F.in.sregs.seg[VCORE_X86_DS].ar = 0x91 | VCORE_X86_AR_DB;
    F.in.sregs.seg[VCORE_X86_DS].limit = 0xffffffff;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
    /* through CS (code, readable): readable for VMPTRLD, not writable */
    F.in.insn_info = fx_ii_mem(VCORE_X86_CS, VCORE_X86_RBX, 1);
    F.in.sregs.seg[VCORE_X86_CS].limit = 0xffffffff;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_exception(&F, 13, 0, VCORE_DIAG_NVMX_GP_SEGMENT);
}
END_TEST

/* ---- VMXOFF ---------------------------------------------------------------- */

START_TEST(vmxoff_leaves)
{
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    fx_current(&F);
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert(!info.vmx_operation);
    ck_assert_uint_eq(info.current_vmptr, ~0ull);
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_NOT_IN_VMX);
}
END_TEST

/* ---- VMCLEAR ----------------------------------------------------------------- */

START_TEST(vmclear_errors_and_effects)
{
    fx_vmxon(&F);
    /* no current VMCS: the VMfail is VMfailInvalid */
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A + 0x10);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMCLEAR_ADDR);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_A);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A + 0x10);
    ck_failvalid(&F, 2, VCORE_DIAG_NVMX_FAIL_VMCLEAR_ADDR);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, 1ull << 40);
    ck_failvalid(&F, 2, VCORE_DIAG_NVMX_FAIL_VMCLEAR_ADDR);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMXON);
    ck_failvalid(&F, 3, VCORE_DIAG_NVMX_FAIL_VMCLEAR_VMXON);
    /* VMCLEAR of another region: its launch state in memory becomes 0 */
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_put32(&F, FX_VMCS_B + 8, 1);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_B);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get32(&F, FX_VMCS_B + 8), 0);
    /* VMCLEAR of the current VMCS writes vmcs12 back and drops it */
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 0xfeedf00d);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_mark_launched(F.n), VCORE_OK);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A);
    ck_succeed(&F);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(F.ram + FX_VMCS_A, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xfeedf00d);
    ck_assert_uint_eq(fx_get32(&F, FX_VMCS_A + 8), 0);
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
}
END_TEST

/* ---- VMPTRLD / VMPTRST ------------------------------------------------------ */

START_TEST(vmptrld_errors)
{
    fx_vmxon(&F);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_A | 0x800);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMPTRLD_ADDR);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_A);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B | 0x800);
    ck_failvalid(&F, 9, VCORE_DIAG_NVMX_FAIL_VMPTRLD_ADDR);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, 1ull << 41);
    ck_failvalid(&F, 9, VCORE_DIAG_NVMX_FAIL_VMPTRLD_ADDR);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMXON);
    ck_failvalid(&F, 10, VCORE_DIAG_NVMX_FAIL_VMPTRLD_VMXON);
    fx_region(&F, FX_VMCS_B, 0x12345678);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B);
    ck_failvalid(&F, 11, VCORE_DIAG_NVMX_FAIL_VMPTRLD_REVISION);
    /* the failed VMPTRLD left VMCS A current */
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert_uint_eq(info.current_vmptr, FX_VMCS_A);
}
END_TEST

START_TEST(vmptrld_shadow_needs_capability)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~VCORE_VMX_PROC2_SHADOW_VMCS;
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_vmxon(&F);
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_SHADOW);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_VMPTRLD_REVISION);
}
END_TEST

START_TEST(vmptrld_copies_once)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RSP, 0x1234);
    /* L1 scribbling over the region does not change the current VMCS */
    memset(F.ram + FX_VMCS_A, 0x5a, 4096);
    fx_vmread(&F, VCORE_VMCS_GUEST_RSP);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.gpr_value, 0x1234);
    /* switching VMCS writes the old one back (our cache holds one) */
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_B);
    uint64_t v;
    ck_assert_int_eq(vcore_vmcs12_get(F.ram + FX_VMCS_A, VCORE_VMCS_GUEST_RSP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x1234);
    fx_vmread(&F, VCORE_VMCS_GUEST_RSP);
    ck_assert_uint_eq(F.res.gpr_value, 0);
}
END_TEST

START_TEST(vmptrst_stores_pointer)
{
    fx_vmxon(&F);
    fx_run_mem(&F, VCORE_NVMX_VMPTRST, 0);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_DATA), ~0ull);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_A);
    fx_run_mem(&F, VCORE_NVMX_VMPTRST, 0);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_DATA), FX_VMCS_A);
}
END_TEST

/* ---- VMREAD / VMWRITE ------------------------------------------------------- */

START_TEST(vmread_vmwrite_failures)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_MISC] &= ~VCORE_VMX_MISC_VMWRITE_ANY;
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_vmxon(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 1);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_A);
    fx_vmread(&F, 0x6fff);
    ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    ck_assert(!F.res.gpr_written);
    fx_vmwrite(&F, 0x1ull << 32 | VCORE_VMCS_GUEST_RIP, 1); /* bits 63:32 set */
    ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP | 0x8000, 1);
    ck_failvalid(&F, 12, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD);
    fx_vmwrite(&F, VCORE_VMCS_VM_EXIT_REASON, 1);
    ck_failvalid(&F, 13, VCORE_DIAG_NVMX_FAIL_READ_ONLY_FIELD);
    fx_vmread(&F, VCORE_VMCS_VM_INSTRUCTION_ERROR);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.gpr_value, 13);
    ck_assert(F.res.gpr_written);
    ck_assert_uint_eq(F.res.gpr, VCORE_X86_RDX);
}
END_TEST

START_TEST(vmwrite_read_only_with_vmwrite_any)
{
    fx_current(&F); /* the emulated caps expose VMWRITE to any field */
    fx_vmwrite(&F, VCORE_VMCS_VM_EXIT_REASON, 0x30);
    ck_succeed(&F);
    fx_vmread(&F, VCORE_VMCS_VM_EXIT_REASON);
    ck_assert_uint_eq(F.res.gpr_value, 0x30);
    ck_assert(vcore_nvmx_is_dirty(F.n, VCORE_VMCS_VM_EXIT_REASON));
}
END_TEST

START_TEST(vmread_vmwrite_widths_64bit_mode)
{
    fx_current(&F);
    vcore_nvmx_clear_dirty(F.n);
    ck_assert_uint_eq(vcore_nvmx_dirty_count(F.n), 0);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_ES_SELECTOR, 0xffffffffffff1234ull);
    fx_vmread(&F, VCORE_VMCS_GUEST_ES_SELECTOR);
    ck_assert_uint_eq(F.res.gpr_value, 0x1234);
    fx_vmwrite(&F, VCORE_VMCS_TSC_OFFSET, 0x8877665544332211ull);
    fx_vmread(&F, VCORE_VMCS_TSC_OFFSET_HIGH);
    ck_assert_uint_eq(F.res.gpr_value, 0x88776655u);
    fx_vmwrite(&F, VCORE_VMCS_TSC_OFFSET_HIGH, 0xffffffff00000001ull);
    fx_vmread(&F, VCORE_VMCS_TSC_OFFSET);
    ck_assert_uint_eq(F.res.gpr_value, 0x0000000144332211ull);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_SS_AR_BYTES, 0xffffffffu);
    fx_vmread(&F, VCORE_VMCS_GUEST_SS_AR_BYTES);
    ck_assert_uint_eq(F.res.gpr_value, 0x1f0ffu);
    ck_assert(vcore_nvmx_is_dirty(F.n, VCORE_VMCS_TSC_OFFSET));
    ck_assert(vcore_nvmx_is_dirty(F.n, VCORE_VMCS_TSC_OFFSET_HIGH));
    ck_assert(!vcore_nvmx_is_dirty(F.n, VCORE_VMCS_GUEST_RIP));
    ck_assert_uint_eq(vcore_nvmx_dirty_count(F.n), 4);
    /* memory operands: VMWRITE from memory, VMREAD to memory (8 bytes) */
    fx_put64(&F, FX_DATA, 0xabcdef0123ull);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2) | (VCORE_X86_RCX << 28);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    F.in.regs.gpr[VCORE_X86_RCX] = VCORE_VMCS_GUEST_RSP;
    fx_run(&F, VCORE_NVMX_VMWRITE);
    ck_succeed(&F);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA + 0x40;
    fx_run(&F, VCORE_NVMX_VMREAD);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_DATA + 0x40), 0xabcdef0123ull);
}
END_TEST

START_TEST(vmread_vmwrite_32bit_mode)
{
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 0x1122334455667788ull);
    fx_vmwrite(&F, VCORE_VMCS_EPT_POINTER, 0x1122334455667788ull);
    to_protected32(&F);
    F.in.sregs.seg[VCORE_X86_DS].limit = 0xffffffff;
    /* natural width: the high half is not read */
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.gpr_value, 0x55667788u);
    /* 64-bit field written with a 32-bit operand: high half cleared */
    F.in.regs.gpr[VCORE_X86_RDX] = 0xffffffff99999999ull;
    fx_vmwrite(&F, VCORE_VMCS_EPT_POINTER, 0xffffffff99999999ull);
    ck_succeed(&F);
    fx_vmread(&F, VCORE_VMCS_EPT_POINTER_HIGH);
    ck_assert_uint_eq(F.res.gpr_value, 0);
    fx_vmwrite(&F, VCORE_VMCS_EPT_POINTER_HIGH, 0x42);
    fx_vmread(&F, VCORE_VMCS_EPT_POINTER);
    ck_assert_uint_eq(F.res.gpr_value, 0x99999999u); /* low half only */
    uint64_t v;
    ck_assert_int_eq(vcore_vmcs12_get(vcore_nvmx_vmcs12(F.n), VCORE_VMCS_EPT_POINTER, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x0000004299999999ull);
    /* encoding register is 32 bits: upper garbage ignored */
    fx_vmread(&F, 0xdead000000000000ull | VCORE_VMCS_GUEST_RIP);
    ck_succeed(&F);
    /* VMREAD to memory writes 4 bytes */
    fx_put64(&F, FX_DATA, ~0ull);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1) | (VCORE_X86_RCX << 28);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    F.in.regs.gpr[VCORE_X86_RCX] = VCORE_VMCS_GUEST_RIP;
    fx_run(&F, VCORE_NVMX_VMREAD);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_DATA), 0xffffffff55667788ull);
    /* RIP advance wraps at 32 bits */
    F.in.regs.rip = 0xfffffffe;
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_assert_uint_eq(F.res.rip, 1);
}
END_TEST

START_TEST(result_apply)
{
    vcore_x86_regs_t r = F.in.regs;
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_CR3, 0x5000);
    fx_vmread(&F, VCORE_VMCS_GUEST_CR3);
    ck_assert_int_eq(vcore_nvmx_result_apply(&F.res, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0x5000);
    ck_assert_uint_eq(r.rip, F.in.regs.rip + F.in.insn_len);
    ck_assert_uint_eq(r.rflags & 0x8d5, 0);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_outcome(&F, VCORE_NVMX_OUT_ENTRY, 0);
    ck_assert_int_eq(vcore_nvmx_result_apply(&F.res, &r), VCORE_ERR_STATE);
    ck_assert_int_eq(vcore_nvmx_result_apply(NULL, &r), VCORE_ERR_INVAL);
}
END_TEST

/* ---- INVEPT / INVVPID -------------------------------------------------------- */

static void inv(fx_t *f, uint32_t op, uint64_t type, uint64_t lo, uint64_t hi)
{
    fx_put64(f, FX_DATA, lo);
    fx_put64(f, FX_DATA + 8, hi);
    f->in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2) | (VCORE_X86_RCX << 28);
    f->in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    f->in.regs.gpr[VCORE_X86_RCX] = type;
    ck_assert_int_eq(fx_run(f, op), VCORE_OK);
}

START_TEST(invept_cases)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVEPT, 0, 0, 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 3, 0, 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 1, 0x5000 | 0x1e | 0x7, 0); /* memory type 7 */
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 1, 0x5000 | (2 << 3) | 6, 0); /* 3-level walk */
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 1, (1ull << 45) | 0x1e, 0); /* beyond MAXPHYADDR */
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVEPT, 1, 0x5000 | 0x5e, 0); /* WB, 4-level, A/D */
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.inv_type, 1);
    ck_assert_uint_eq(F.res.inv_eptp, 0x505e);
    inv(&F, VCORE_NVMX_INVEPT, 2, 0, 0);
    ck_succeed(&F);
    /* descriptor fetch faults like any memory operand */
    F.in.regs.gpr[VCORE_X86_RBX] = 0x1ffff8; /* crosses into the unmapped page */
    fx_run(&F, VCORE_NVMX_INVEPT);
    ck_exception(&F, 14, 0, VCORE_DIAG_NVMX_PF);
}
END_TEST

START_TEST(invvpid_cases)
{
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVVPID, 4, 1, 0);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVVPID, 1, 1ull << 16 | 1, 0); /* reserved bits 63:16 */
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVVPID, 1, 0, 0); /* VPID 0 */
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVVPID, 0, 5, 0x0000800000000000ull); /* non-canonical address */
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    inv(&F, VCORE_NVMX_INVVPID, 0, 5, 0xffff800000001000ull);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.inv_vpid, 5);
    ck_assert_uint_eq(F.res.inv_addr, 0xffff800000001000ull);
    inv(&F, VCORE_NVMX_INVVPID, 2, 0, 0); /* all-context: VPID 0 is fine */
    ck_succeed(&F);
    inv(&F, VCORE_NVMX_INVVPID, 3, 7, 0);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.inv_type, 3);
}
END_TEST

/* SDM Vol. 2, "INVVPID": an individual-address invalidation of a linear
 * address that is not canonical is VMfailValid 28. Canonical is relative to
 * the processor's linear-address width (57 bits with 5-level paging,
 * CPUID.(EAX=07H,ECX=0):ECX.LA57), as for INVLPG and INVPCID, not to
 * CR4.LA57: 00FF800000000000H is canonical on an LA57 processor running
 * 4-level paging, and not on a processor without 5-level paging. */
START_TEST(invvpid_canonical_in_processor_width)
{
    const uint64_t la57_only = 0x00ff800000000000ull, neither = 0x0100000000000000ull;
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVVPID, 0, 5, la57_only);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    fx_teardown(&F);
    fx_setup_caps_flags(&F, &c, VCORE_NVMX_CFG_LA57);
    fx_current(&F);
    ck_assert_uint_eq(F.in.sregs.cr4 & (1u << 12), 0); /* 4-level paging */
    inv(&F, VCORE_NVMX_INVVPID, 0, 5, la57_only);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.inv_addr, la57_only);
    inv(&F, VCORE_NVMX_INVVPID, 0, 5, neither);
    ck_failvalid(&F, 28, VCORE_DIAG_NVMX_FAIL_INV_OPERAND);
    /* Flags vcore_nvmx_config_t does not define are reserved. */
    vcore_nvmx_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.caps = c;
    cfg.maxphyaddr = 40;
    cfg.flags = 1u << 31;
    vcore_nvmx_t *n = NULL;
    static uint8_t store[sizeof(F.nvmx_store)] __attribute__((aligned(8)));
    ck_assert_int_eq(vcore_nvmx_init(store, sizeof(store), &cfg, &n, NULL), VCORE_ERR_INVAL);
}
END_TEST

/* SDM Vol. 3, "4-Level Paging": PS in a PDPTE maps a 1-GByte page on a
 * processor with CPUID.80000001H:EDX.Page1GB[26], and is a reserved bit on
 * one without: the memory operand's read is then #PF with P and RSVD set
 * (error code 9), CR2 the operand's address. */
START_TEST(operand_1g_page_needs_page1gb)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    for (int no_1g = 0; no_1g < 2; no_1g++) {
        fx_teardown(&F);
        fx_setup_caps_flags(&F, &c, no_1g ? VCORE_NVMX_CFG_NO_PAGE1GB : 0u);
        fx_current(&F);
        fx_put64(&F, FX_PDPT, 0x0 | 0x83); /* 1 GiB page at 0, present, writable */
        inv(&F, VCORE_NVMX_INVEPT, 2, 0, 0);
        if (no_1g) {
            ck_exception(&F, 14, 0x9u, VCORE_DIAG_NVMX_PF);
            ck_assert_uint_eq(F.res.cr2, F.in.regs.gpr[VCORE_X86_RBX]);
        } else {
            ck_succeed(&F);
        }
    }
}
END_TEST

START_TEST(inv_unsupported_is_ud)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    c.msr[VCORE_NVMX_CAP_EPT_VPID] &= ~(VCORE_VMX_EPT_INVEPT | VCORE_VMX_VPID_INVVPID);
    fx_teardown(&F);
    fx_setup_caps(&F, &c);
    fx_current(&F);
    inv(&F, VCORE_NVMX_INVEPT, 2, 0, 0);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_NOT_SUPPORTED);
    inv(&F, VCORE_NVMX_INVVPID, 2, 0, 0);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_NOT_SUPPORTED);
}
END_TEST

/* ---- VMLAUNCH / VMRESUME pre-entry ------------------------------------------ */

START_TEST(launch_resume_preentry)
{
    fx_vmxon(&F);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
    fx_run(&F, VCORE_NVMX_VMRESUME);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(&F, FX_VMCS_A);
    F.in.interruptibility = 2; /* blocking by MOV SS */
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_failvalid(&F, 26, VCORE_DIAG_NVMX_FAIL_MOV_SS);
    F.in.interruptibility = 1; /* STI blocking is fine */
    fx_run(&F, VCORE_NVMX_VMRESUME);
    ck_failvalid(&F, 5, VCORE_DIAG_NVMX_FAIL_RESUME_NONLAUNCHED);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_outcome(&F, VCORE_NVMX_OUT_ENTRY, 0);
    ck_assert_uint_eq(F.res.rip, F.in.regs.rip);
    ck_assert_int_eq(vcore_nvmx_mark_launched(F.n), VCORE_OK);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_failvalid(&F, 4, VCORE_DIAG_NVMX_FAIL_LAUNCH_NONCLEAR);
    fx_run(&F, VCORE_NVMX_VMRESUME);
    ck_outcome(&F, VCORE_NVMX_OUT_ENTRY, 0);
    /* launch state travels with the region: VMPTRLD of a launched region */
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_put32(&F, FX_VMCS_B + 8, 1);
    fx_vmptrld(&F, FX_VMCS_B);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_failvalid(&F, 4, VCORE_DIAG_NVMX_FAIL_LAUNCH_NONCLEAR);
    /* a shadow VMCS cannot be launched: VMfailInvalid */
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    fx_vmptrld(&F, FX_SHADOW);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert(info.current_is_shadow);
    fx_run(&F, VCORE_NVMX_VMLAUNCH);
    ck_failinvalid(&F, VCORE_DIAG_NVMX_FAIL_SHADOW_CURRENT);
}
END_TEST

/* ---- L2 with L1's VMCS shadowing ---------------------------------------------- */

START_TEST(l2_vmread_vmwrite_through_shadow)
{
    fx_current(&F);
    /* L1 prepares a shadow VMCS and links it */
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    ck_assert_int_eq(vcore_vmcs12_set(F.ram + FX_SHADOW, VCORE_VMCS_GUEST_RIP, 0x777), VCORE_OK);
    memset(F.ram + FX_BITMAP_R, 0xff, 4096);
    memset(F.ram + FX_BITMAP_W, 0xff, 4096);
    F.ram[FX_BITMAP_R + (VCORE_VMCS_GUEST_RIP >> 3)] &= (uint8_t) ~(1u << (VCORE_VMCS_GUEST_RIP & 7));
    fx_vmwrite(&F, VCORE_VMCS_VMCS_LINK_POINTER, FX_SHADOW);
    fx_vmwrite(&F, VCORE_VMCS_VMREAD_BITMAP, FX_BITMAP_R);
    fx_vmwrite(&F, VCORE_VMCS_VMWRITE_BITMAP, FX_BITMAP_W);
    fx_vmwrite(&F, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
    fx_vmwrite(&F, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_shadow_load(F.n, &F.mem), VCORE_OK);
    F.in.in_l2 = true;
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_succeed(&F);
    ck_assert_uint_eq(F.res.gpr_value, 0x777);
    fx_vmread(&F, VCORE_VMCS_GUEST_RSP); /* bitmap bit set: exit to L1 */
    ck_outcome(&F, VCORE_NVMX_OUT_EXIT_TO_L1, VCORE_DIAG_NVMX_EXIT_TO_L1);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 1);
    ck_outcome(&F, VCORE_NVMX_OUT_EXIT_TO_L1, VCORE_DIAG_NVMX_EXIT_TO_L1);
    F.ram[FX_BITMAP_W + (VCORE_VMCS_GUEST_RIP >> 3)] &= (uint8_t) ~(1u << (VCORE_VMCS_GUEST_RIP & 7));
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 0x888);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_shadow_flush(F.n, &F.mem), VCORE_OK);
    uint64_t v;
    ck_assert_int_eq(vcore_vmcs12_get(F.ram + FX_SHADOW, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x888);
    /* other VMX instructions in L2 always exit */
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B);
    ck_outcome(&F, VCORE_NVMX_OUT_EXIT_TO_L1, VCORE_DIAG_NVMX_EXIT_TO_L1);
    /* a link pointer that is not a shadow VMCS is refused */
    F.in.in_l2 = false;
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_vmwrite(&F, VCORE_VMCS_VMCS_LINK_POINTER, FX_VMCS_B);
    ck_assert_int_eq(vcore_nvmx_shadow_load(F.n, &F.mem), VCORE_ERR_INVAL);
}
END_TEST

/* A shadow VMCS L2 wrote through VMCS shadowing is written back, not
 * dropped, when L1 switches (VMPTRLD), clears (VMCLEAR of the shadow or of
 * the current VMCS) or leaves VMX operation. */
static void shadow_linked_and_written(uint64_t value)
{
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    if (!info.vmx_operation)
        fx_current(&F);
    else
        fx_vmptrld(&F, FX_VMCS_A);
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    memset(F.ram + FX_BITMAP_R, 0xff, 4096);
    memset(F.ram + FX_BITMAP_W, 0xff, 4096);
    F.ram[FX_BITMAP_W + (VCORE_VMCS_GUEST_RIP >> 3)] &= (uint8_t) ~(1u << (VCORE_VMCS_GUEST_RIP & 7));
    fx_vmwrite(&F, VCORE_VMCS_VMCS_LINK_POINTER, FX_SHADOW);
    fx_vmwrite(&F, VCORE_VMCS_VMREAD_BITMAP, FX_BITMAP_R);
    fx_vmwrite(&F, VCORE_VMCS_VMWRITE_BITMAP, FX_BITMAP_W);
    fx_vmwrite(&F, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
    fx_vmwrite(&F, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14);
    ck_assert_int_eq(vcore_nvmx_shadow_load(F.n, &F.mem), VCORE_OK);
    F.in.in_l2 = true;
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, value);
    ck_succeed(&F);
    F.in.in_l2 = false;
}

static uint64_t shadow_rip_in_memory(void)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(F.ram + FX_SHADOW, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    return v;
}

START_TEST(shadow_written_back_on_vmptrld)
{
    shadow_linked_and_written(0x4242);
    ck_assert_uint_ne(shadow_rip_in_memory(), 0x4242); /* still cached */
    fx_region(&F, FX_VMCS_B, VCORE_VMCS12_REVISION);
    fx_run_mem(&F, VCORE_NVMX_VMPTRLD, FX_VMCS_B);
    ck_succeed(&F);
    ck_assert_uint_eq(shadow_rip_in_memory(), 0x4242);
}
END_TEST

START_TEST(shadow_written_back_on_vmclear)
{
    shadow_linked_and_written(0x5151);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_VMCS_A); /* the VMCS that links it */
    ck_succeed(&F);
    ck_assert_uint_eq(shadow_rip_in_memory(), 0x5151);
    shadow_linked_and_written(0x6161);
    fx_run_mem(&F, VCORE_NVMX_VMCLEAR, FX_SHADOW); /* the shadow itself */
    ck_succeed(&F);
    ck_assert_uint_eq(shadow_rip_in_memory(), 0x6161);
    shadow_linked_and_written(0x7171);
    fx_run(&F, VCORE_NVMX_VMXOFF);
    ck_succeed(&F);
    ck_assert_uint_eq(shadow_rip_in_memory(), 0x7171);
}
END_TEST

/* SDM "VM-Exit Instruction-Information Field" and "64-Bit Mode Address
 * Calculation": in 64-bit mode the 67H prefix gives a 32-bit address size;
 * the effective address is truncated to 32 bits, then FS/GS bases apply.
 * 16-bit addressing does not exist in 64-bit mode. */
START_TEST(operand_addr32_in_64bit_mode)
{
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    fx_vmxon(&F);
    fx_region(&F, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_put64(&F, FX_DATA, FX_VMCS_A);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 1);
    F.in.regs.gpr[VCORE_X86_RBX] = 0xffffffff00000000ull | FX_DATA;
    F.in.qualification = 0;
    fx_run(&F, VCORE_NVMX_VMPTRLD);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert_uint_eq(info.current_vmptr, FX_VMCS_A);
    /* the sum wraps at 4 GiB before the FS base is added */
    F.in.insn_info = fx_ii_mem(VCORE_X86_FS, VCORE_X86_RBX, 1);
    F.in.sregs.seg[VCORE_X86_FS].base = FX_DATA;
    F.in.regs.gpr[VCORE_X86_RBX] = 0xfffffff0u;
    F.in.qualification = 0x10;
    fx_put64(&F, FX_DATA, 0);
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_DATA), FX_VMCS_A);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 0);
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_exception(&F, 6, 0, VCORE_DIAG_NVMX_UD_BAD_INSN_INFO);
}
END_TEST

/* SDM "Accessed and Dirty Flags": every paging-structure entry used sets
 * its accessed flag; a write sets the dirty flag of the entry that maps
 * the page. */
START_TEST(operand_walk_sets_accessed_dirty)
{
    fx_vmxon(&F); /* reads the operand at FX_DATA through the 2-MiB page */
    ck_assert_uint_eq(fx_get64(&F, FX_PML4), FX_PDPT | 0x23);
    ck_assert_uint_eq(fx_get64(&F, FX_PDPT), FX_PD | 0x23);
    ck_assert_uint_eq(fx_get64(&F, FX_PD), 0x83 | 0x20);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    F.in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, FX_PD), 0x83 | 0x60);
    ck_assert_uint_eq(fx_get64(&F, FX_PDPT), FX_PD | 0x23);
    /* a 4-KByte page: the PTE gets A and D, the PDE above it only A */
    fx_put64(&F, FX_PD + 8, 0x5000 | 3);
    fx_put64(&F, 0x5000, 0x30000 | 3);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x200010;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, 0x5000), 0x30000 | 0x63);
    ck_assert_uint_eq(fx_get64(&F, FX_PD + 8), 0x5000 | 0x23);
    ck_assert_uint_eq(fx_get64(&F, 0x30010), 0xffffffffffffffffull);
    /* a read leaves D alone */
    fx_put64(&F, 0x5000, 0x30000 | 3);
    fx_run(&F, VCORE_NVMX_VMPTRLD);
    ck_assert_uint_eq(fx_get64(&F, 0x5000), 0x30000 | 0x23);
}
END_TEST

/* Writes of the second page fail for this fake: a read-only slot. */
static int fx_write_ro_31000(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    if (gpa + len > 0x31000 && gpa < 0x32000)
        return VCORE_ERR_FAULT;
    return fx_write(ctx, gpa, buf, len);
}

/* A memory operand that straddles two pages is written completely or not at
 * all: with the second page unbacked or read-only nothing changes. */
START_TEST(operand_write_all_or_nothing)
{
    fx_vmxon(&F);
    fx_put64(&F, FX_PD + 8, 0x5000 | 3);
    fx_put64(&F, 0x5000, 0x30000 | 3);
    fx_put64(&F, 0x5008, 0x4000000 | 3); /* no RAM there */
    memset(F.ram + 0x30ff8, 0xaa, 8);
    F.in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x200ffc;
    ck_assert_int_eq(fx_run(&F, VCORE_NVMX_VMPTRST), VCORE_ERR_FAULT);
    ck_assert_uint_eq(fx_get64(&F, 0x30ff8), 0xaaaaaaaaaaaaaaaaull);
    ck_assert_uint_eq(fx_get64(&F, 0x5000), 0x30000 | 3); /* no A/D for a write that did not happen */
    /* second page in RAM but read-only */
    fx_put64(&F, 0x5008, 0x31000 | 3);
    memset(F.ram + 0x31000, 0xbb, 8);
    F.mem.write = fx_write_ro_31000;
    ck_assert_int_eq(fx_run(&F, VCORE_NVMX_VMPTRST), VCORE_ERR_FAULT);
    ck_assert_uint_eq(fx_get64(&F, 0x30ff8), 0xaaaaaaaaaaaaaaaaull);
    ck_assert_uint_eq(fx_get64(&F, 0x31000), 0xbbbbbbbbbbbbbbbbull);
    /* both pages writable: both halves written */
    F.mem.write = fx_write;
    fx_run(&F, VCORE_NVMX_VMPTRST);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get32(&F, 0x30ffc), 0xffffffffu);
    ck_assert_uint_eq(fx_get32(&F, 0x31000), 0xffffffffu);
}
END_TEST

/* VMREAD/VMWRITE-bitmap addresses are VM-entry checks ("Checks on
 * VM-Execution Control Fields"): an L2 never runs with a bitmap address
 * that is not 4-KByte aligned, and the emulation never reads through one. */
START_TEST(l2_bitmap_address_checked)
{
    vcore_vmx_check_input_t in = {.size = sizeof(in)};
    vcore_vmx_verdict_t v = {.size = sizeof(v)};
    uint64_t bad = FX_BITMAP_R + 1;

    fx_current(&F);
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    memset(F.ram + FX_BITMAP_R, 0xff, 2 * 4096);
    memset(F.ram + FX_BITMAP_W, 0xff, 4096);
    /* the byte the misaligned bitmap would use for GUEST_RIP says "no exit" */
    F.ram[bad + (VCORE_VMCS_GUEST_RIP >> 3)] &= (uint8_t) ~(1u << (VCORE_VMCS_GUEST_RIP & 7));
    fx_vmwrite(&F, VCORE_VMCS_VMCS_LINK_POINTER, FX_SHADOW);
    fx_vmwrite(&F, VCORE_VMCS_VMREAD_BITMAP, bad);
    fx_vmwrite(&F, VCORE_VMCS_VMWRITE_BITMAP, FX_BITMAP_W);
    fx_vmwrite(&F, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
    fx_vmwrite(&F, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14);
    ck_assert_int_eq(vcore_vmx_check_input_from_nvmx(F.n, &F.mem, 0xd01, false, false, NULL, 0, &in), VCORE_OK);
    /* (the rest of this vmcs12 is not a valid state: look for the rule in report-all mode) */
    vcore_vmx_check_failure_t fl[64];
    bool found = false;
    ck_assert_int_eq(vcore_vmx_check_entry(&in, &v, fl, 64), VCORE_OK);
    for (uint32_t i = 0; i < v.failures && i < 64; i++)
        found = found || fl[i].check == VCORE_VMX_CHECK_EXEC_VMREAD_BITMAP_ALIGN;
    ck_assert(found);
    ck_assert_uint_eq(v.vm_error, 7);
    ck_assert_int_eq(vcore_nvmx_shadow_load(F.n, &F.mem), VCORE_OK);
    F.in.in_l2 = true;
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_outcome(&F, VCORE_NVMX_OUT_EXIT_TO_L1, VCORE_DIAG_NVMX_EXIT_TO_L1);
}
END_TEST

START_TEST(bad_arguments)
{
    vcore_nvmx_result_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_nvmx_emulate(NULL, &F.mem, &F.in, &r), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_emulate(F.n, NULL, &F.in, &r), VCORE_ERR_INVAL);
    F.in.op = 99;
    ck_assert_int_eq(vcore_nvmx_emulate(F.n, &F.mem, &F.in, &r), VCORE_ERR_INVAL);
    F.in.op = VCORE_NVMX_VMXOFF;
    r.size = 3;
    ck_assert_int_eq(vcore_nvmx_emulate(F.n, &F.mem, &F.in, &r), VCORE_ERR_ABI);
    r.size = sizeof(r);
    F.in.regs.size = 0;
    ck_assert_int_eq(vcore_nvmx_emulate(F.n, &F.mem, &F.in, &r), VCORE_ERR_ABI);
}
END_TEST

static Suite *nvmx_suite(void)
{
    Suite *s = suite_create("nvmx_insn");
    TCase *tc = tcase_create("insn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ud_outside_vmx_operation);
    tcase_add_test(tc, ud_modes_in_vmx_operation);
    tcase_add_test(tc, ud_register_operand_for_memory_only);
    tcase_add_test(tc, vmxon_ud_and_gp);
    tcase_add_test(tc, vmxon_fail_invalid);
    tcase_add_test(tc, vmxon_success_then_in_root);
    tcase_add_test(tc, operand_noncanonical_gp_and_ss);
    tcase_add_test(tc, invvpid_canonical_in_processor_width);
    tcase_add_test(tc, operand_1g_page_needs_page1gb);
    tcase_add_test(tc, operand_fs_base_index_scale_disp);
    tcase_add_test(tc, operand_page_fault);
    tcase_add_test(tc, operand_unbacked_is_fault_error);
    tcase_add_test(tc, operand_protected_mode_segments);
    tcase_add_test(tc, vmxoff_leaves);
    tcase_add_test(tc, vmclear_errors_and_effects);
    tcase_add_test(tc, vmptrld_errors);
    tcase_add_test(tc, vmptrld_shadow_needs_capability);
    tcase_add_test(tc, vmptrld_copies_once);
    tcase_add_test(tc, vmptrst_stores_pointer);
    tcase_add_test(tc, vmread_vmwrite_failures);
    tcase_add_test(tc, vmwrite_read_only_with_vmwrite_any);
    tcase_add_test(tc, vmread_vmwrite_widths_64bit_mode);
    tcase_add_test(tc, vmread_vmwrite_32bit_mode);
    tcase_add_test(tc, result_apply);
    tcase_add_test(tc, invept_cases);
    tcase_add_test(tc, invvpid_cases);
    tcase_add_test(tc, inv_unsupported_is_ud);
    tcase_add_test(tc, launch_resume_preentry);
    tcase_add_test(tc, l2_vmread_vmwrite_through_shadow);
    tcase_add_test(tc, shadow_written_back_on_vmptrld);
    tcase_add_test(tc, shadow_written_back_on_vmclear);
    tcase_add_test(tc, operand_addr32_in_64bit_mode);
    tcase_add_test(tc, operand_walk_sets_accessed_dirty);
    tcase_add_test(tc, operand_write_all_or_nothing);
    tcase_add_test(tc, l2_bitmap_address_checked);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(nvmx_suite());
}
