/*
 * nvmx_insn.c - emulation of the VMX instructions L1 executes, following
 * the "Operation" pseudo-code of each instruction in SDM Vol. 3, "VMX
 * Instruction Reference", and the VMsucceed / VMfailInvalid / VMfailValid
 * conventions of its "Conventions" section.
 *
 * Every function reads the caller's input once (a copy in the context),
 * records the outcome in the result and changes the nested state only
 * after the last check or memory-operand access that can fail.
 */
#include "nvmx_priv.h"
#include "check_priv.h"

/* ---- outcome helpers ------------------------------------------------------ */

static void nvmx_insn_advance(vcore__nvmx_ctx_t *c, uint32_t outcome, uint64_t set_flags)
{
    uint64_t rip = c->in.regs.rip + c->in.insn_len;

    c->res->outcome = outcome;
    /* Outside 64-bit mode the instruction pointer is 32 bits. */
    c->res->rip = c->long64 ? rip : (uint64_t)(uint32_t)rip;
    c->res->rflags = (c->in.regs.rflags & ~VCORE__RFLAGS_ARITH) | set_flags;
}

/* VMsucceed: CF, PF, AF, ZF, SF, OF := 0. */
static int nvmx_insn_succeed(vcore__nvmx_ctx_t *c)
{
    nvmx_insn_advance(c, VCORE_NVMX_OUT_SUCCEED, 0);
    return VCORE_OK;
}

/* VMfailInvalid: CF := 1; PF, AF, ZF, SF, OF := 0. */
static int nvmx_insn_fail_invalid(vcore__nvmx_ctx_t *c, uint32_t diag)
{
    nvmx_insn_advance(c, VCORE_NVMX_OUT_FAIL_INVALID, VCORE__RFLAGS_CF);
    c->res->diag = diag;
    return VCORE_OK;
}

/* VMfail(n): VMfailValid(n) if there is a current VMCS (ZF := 1 and the
 * VM-instruction error field := n), otherwise VMfailInvalid. */
static int nvmx_insn_fail(vcore__nvmx_ctx_t *c, uint32_t error, uint32_t diag, uint8_t *vmcs)
{
    const vcore__vmcs_row_t *r = vcore__vmcs_row(VCORE_VMCS_VM_INSTRUCTION_ERROR);

    if (!vmcs)
        return nvmx_insn_fail_invalid(c, diag);
    nvmx_insn_advance(c, VCORE_NVMX_OUT_FAIL_VALID, VCORE__RFLAGS_ZF);
    c->res->diag = diag;
    c->res->vm_error = error;
    vcore__vmcs12_store(vmcs, r, error);
    if (vmcs == (uint8_t *)c->n->vmcs12)
        vcore__nvmx_mark_dirty(c->n, r);
    return VCORE_OK;
}

static uint8_t *nvmx_insn_current(vcore__nvmx_ctx_t *c)
{
    return c->n->current_vmptr != VCORE__INVALID_PTR ? (uint8_t *)c->n->vmcs12 : NULL;
}

static int nvmx_insn_ud(vcore__nvmx_ctx_t *c, uint32_t diag)
{
    vcore__nvmx_exception(c, VCORE__VEC_UD, false, 0, diag);
    return VCORE_OK;
}

static int nvmx_insn_gp0(vcore__nvmx_ctx_t *c, uint32_t diag)
{
    vcore__nvmx_exception(c, VCORE__VEC_GP, true, 0, diag);
    return VCORE_OK;
}

/* Turns an operand-access status into the emulate() status: an exception
 * outcome is a successful emulation. */
static int nvmx_insn_access_status(int err)
{
    return err == VCORE_ERR_INVAL ? VCORE_OK : err;
}

/* ---- shared checks -------------------------------------------------------- */

static uint32_t nvmx_insn_cpl(const vcore__nvmx_ctx_t *c)
{
    /* SDM "Guest Register State": SS.DPL is always the CPL. */
    return (c->in.sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK) >> VCORE_X86_AR_DPL_SHIFT;
}

/* The mode part of the #UD conditions shared by every VMX instruction. */
static uint32_t nvmx_insn_mode_ud(const vcore__nvmx_ctx_t *c)
{
    if (!(c->in.sregs.cr0 & VCORE__CR0_PE))
        return VCORE_DIAG_NVMX_UD_REAL_MODE;
    if (c->in.regs.rflags & VCORE__RFLAGS_VM)
        return VCORE_DIAG_NVMX_UD_V86;
    if ((c->in.sregs.efer & VCORE__EFER_LMA) && !(c->in.sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L))
        return VCORE_DIAG_NVMX_UD_COMPAT_MODE;
    return 0;
}

/* "IF (not in VMX operation) or (CR0.PE = 0) or (RFLAGS.VM = 1) or
 *  (IA32_EFER.LMA = 1 and CS.L = 0) THEN #UD; ELSIF in VMX non-root
 *  operation THEN VM exit; ELSIF CPL > 0 THEN #GP(0)". Returns true when
 *  an outcome was recorded. */
static bool nvmx_insn_common(vcore__nvmx_ctx_t *c)
{
    uint32_t d;

    if (!c->n->vmx_operation) {
        nvmx_insn_ud(c, VCORE_DIAG_NVMX_UD_NOT_IN_VMX);
        return true;
    }
    d = nvmx_insn_mode_ud(c);
    if (d) {
        nvmx_insn_ud(c, d);
        return true;
    }
    if (c->in.in_l2) {
        /* Every VMX instruction executed in VMX non-root operation exits
         * (VMREAD/VMWRITE with VMCS shadowing are handled before this). */
        vcore__nvmx_exit_to_l1(c);
        return true;
    }
    if (nvmx_insn_cpl(c) > 0) {
        nvmx_insn_gp0(c, VCORE_DIAG_NVMX_GP_CPL);
        return true;
    }
    return false;
}

/* Memory-only instructions raise #UD for a register operand. */
static bool nvmx_insn_need_mem(vcore__nvmx_ctx_t *c)
{
    if (VCORE__II_IS_REG(c->in.insn_info)) {
        nvmx_insn_ud(c, VCORE_DIAG_NVMX_UD_REGISTER_OPERAND);
        return false;
    }
    return true;
}

/* A VMCS-region address: 4-KByte aligned, within the physical-address
 * width (and below 4 GiB when IA32_VMX_BASIC[48] says so). */
static bool nvmx_insn_addr_ok(const vcore__nvmx_ctx_t *c, uint64_t pa)
{
    uint32_t width = c->n->maxphyaddr;

    if (c->n->caps.msr[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_32BIT_PA)
        width = 32;
    return (pa & 0xfffu) == 0 && (pa >> width) == 0;
}

static uint32_t nvmx_insn_revision(const vcore__nvmx_ctx_t *c)
{
    return (uint32_t)(c->n->caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu);
}

static uint32_t nvmx_insn_opsize(const vcore__nvmx_ctx_t *c)
{
    return c->long64 ? 8u : 4u;
}

/* ---- the instructions ----------------------------------------------------- */

/* SDM "VMXON-Enter VMX Operation". */
static int nvmx_insn_vmxon(vcore__nvmx_ctx_t *c)
{
    const uint64_t *caps = c->n->caps.msr;
    uint64_t cr0 = c->in.sregs.cr0, cr4 = c->in.sregs.cr4, addr = 0;
    uint32_t d, rev = 0;
    int err;

    if (!nvmx_insn_need_mem(c))
        return VCORE_OK;
    if (!(cr4 & VCORE__CR4_VMXE))
        return nvmx_insn_ud(c, VCORE_DIAG_NVMX_UD_VMXE_CLEAR);
    d = nvmx_insn_mode_ud(c);
    if (d)
        return nvmx_insn_ud(c, d);
    if (c->n->vmx_operation) {
        if (c->in.in_l2) {
            vcore__nvmx_exit_to_l1(c);
            return VCORE_OK;
        }
        if (nvmx_insn_cpl(c) > 0)
            return nvmx_insn_gp0(c, VCORE_DIAG_NVMX_GP_CPL);
        return nvmx_insn_fail(c, VCORE_VMXERR_VMXON_IN_ROOT, VCORE_DIAG_NVMX_FAIL_VMXON_IN_ROOT,
                              nvmx_insn_current(c));
    }
    if (nvmx_insn_cpl(c) > 0)
        return nvmx_insn_gp0(c, VCORE_DIAG_NVMX_GP_CPL);
    /* SDM "Restrictions on VMX Operation" (fixed CR0/CR4 bits). */
    if ((cr0 & caps[VCORE_NVMX_CAP_CR0_FIXED0]) != caps[VCORE_NVMX_CAP_CR0_FIXED0] ||
        (cr0 & ~caps[VCORE_NVMX_CAP_CR0_FIXED1]) ||
        (cr4 & caps[VCORE_NVMX_CAP_CR4_FIXED0]) != caps[VCORE_NVMX_CAP_CR4_FIXED0] ||
        (cr4 & ~caps[VCORE_NVMX_CAP_CR4_FIXED1]))
        return nvmx_insn_gp0(c, VCORE_DIAG_NVMX_GP_CR_FIXED);
    /* IA32_FEATURE_CONTROL: bit 0 lock, bit 2 VMX outside SMX (the library
     * does not model SMX operation). */
    if ((c->in.feature_control & 0x5u) != 0x5u)
        return nvmx_insn_gp0(c, VCORE_DIAG_NVMX_GP_FEATURE_CONTROL);

    err = vcore__nvmx_mem_read(c, &addr, 8);
    if (err)
        return nvmx_insn_access_status(err);
    if (!nvmx_insn_addr_ok(c, addr))
        return nvmx_insn_fail_invalid(c, VCORE_DIAG_NVMX_FAIL_VMXON_ADDR);
    vcore__nvmx_phys_read(c->mem, addr, &rev, 4);
    if ((rev & 0x7fffffffu) != nvmx_insn_revision(c) || (rev & VCORE_VMCS12_SHADOW_BIT))
        return nvmx_insn_fail_invalid(c, VCORE_DIAG_NVMX_FAIL_VMXON_REVISION);

    c->n->vmx_operation = true;
    c->n->vmxon_ptr = addr;
    c->n->current_vmptr = VCORE__INVALID_PTR;
    c->n->shadow_loaded = false;
    return nvmx_insn_succeed(c);
}

/* Writes the cached current VMCS back to its region. */
static void nvmx_insn_flush_current(vcore__nvmx_ctx_t *c)
{
    if (c->n->current_vmptr != VCORE__INVALID_PTR)
        vcore__nvmx_phys_write(c->mem, c->n->current_vmptr, c->n->vmcs12, VCORE_VMCS12_SIZE);
}

/* The cached shadow VMCS (the current VMCS's link-pointer VMCS, with L2's
 * shadowed VMWRITEs) goes back to its region before the library stops
 * caching it: a VMCS's data is never dropped while it stays in use. A copy
 * nothing wrote is the region already. */
static void nvmx_insn_flush_shadow(vcore__nvmx_ctx_t *c)
{
    if (!c->n->shadow_loaded)
        return;
    if (c->n->shadow_written)
        vcore__nvmx_phys_write(c->mem, c->n->shadow_ptr, c->n->shadow_vmcs12, VCORE_VMCS12_SIZE);
    c->n->shadow_loaded = false;
    c->n->shadow_written = false;
}

/* SDM "VMXOFF-Leave VMX Operation". */
static int nvmx_insn_vmxoff(vcore__nvmx_ctx_t *c)
{
    if (nvmx_insn_common(c))
        return VCORE_OK;
    /* Dual-monitor treatment of SMIs is not offered (error 23 cannot occur).
     * Software should VMCLEAR before VMXOFF; the cached VMCSs are written
     * back all the same, so nothing L1 or L2 wrote is lost. */
    nvmx_insn_flush_shadow(c);
    nvmx_insn_flush_current(c);
    c->n->vmx_operation = false;
    c->n->vmxon_ptr = VCORE__INVALID_PTR;
    c->n->current_vmptr = VCORE__INVALID_PTR;
    c->n->shadow_loaded = false;
    return nvmx_insn_succeed(c);
}

/*
 * The VMCS-pointer operand shared by VMCLEAR and VMPTRLD: fetch the 64-bit
 * memory operand, then the checks both instructions make in the same order
 * (4-KiB aligned and within the physical-address width, not the VMXON
 * pointer), each with the instruction's own error number. Returns true with
 * *addr when the instruction goes on; false when an outcome (fault or
 * VMfail) is recorded, with the value to return in *status.
 */
static bool nvmx_insn_vmcs_ptr(vcore__nvmx_ctx_t *c, uint64_t *addr, uint32_t bad_err,
                               uint32_t bad_diag, uint32_t vmxon_err, uint32_t vmxon_diag,
                               int *status)
{
    *status = VCORE_OK;
    if (nvmx_insn_common(c) || !nvmx_insn_need_mem(c))
        return false;
    int err = vcore__nvmx_mem_read(c, addr, 8);
    if (err) {
        *status = nvmx_insn_access_status(err);
        return false;
    }
    if (!nvmx_insn_addr_ok(c, *addr)) {
        *status = nvmx_insn_fail(c, bad_err, bad_diag, nvmx_insn_current(c));
        return false;
    }
    if (*addr == c->n->vmxon_ptr) {
        *status = nvmx_insn_fail(c, vmxon_err, vmxon_diag, nvmx_insn_current(c));
        return false;
    }
    return true;
}

/* SDM "VMCLEAR-Clear Virtual-Machine Control Structure". */
static int nvmx_insn_vmclear(vcore__nvmx_ctx_t *c)
{
    vcore__vmcs12_t *v = (vcore__vmcs12_t *)(void *)c->n->vmcs12;
    uint64_t addr = 0;
    uint32_t zero = 0;
    int status;

    if (!nvmx_insn_vmcs_ptr(c, &addr, VCORE_VMXERR_VMCLEAR_INVALID_ADDR,
                            VCORE_DIAG_NVMX_FAIL_VMCLEAR_ADDR, VCORE_VMXERR_VMCLEAR_VMXON_PTR,
                            VCORE_DIAG_NVMX_FAIL_VMCLEAR_VMXON, &status))
        return status;
    /* Clearing the shadow VMCS or the VMCS that links it: the cached shadow
     * goes back first (the VMCLEAR of the current VMCS ends its link). */
    if (c->n->shadow_loaded && (addr == c->n->shadow_ptr || addr == c->n->current_vmptr))
        nvmx_insn_flush_shadow(c);
    if (addr == c->n->current_vmptr) {
        /* "ensure that data for VMCS referenced by the operand is in
         * memory"; launch state := clear; no current VMCS any more. */
        v->launch_state = 0;
        nvmx_insn_flush_current(c);
        c->n->current_vmptr = VCORE__INVALID_PTR;
    } else {
        vcore__nvmx_phys_write(c->mem, addr + VCORE_VMCS12_OFF_LAUNCH_STATE, &zero, 4);
    }
    return nvmx_insn_succeed(c);
}

/* SDM "VMPTRLD-Load Pointer to Virtual-Machine Control Structure". */
static int nvmx_insn_vmptrld(vcore__nvmx_ctx_t *c)
{
    const vcore__vmcs12_t *copy = (const vcore__vmcs12_t *)(const void *)c->n->scratch;
    uint64_t addr = 0;
    uint32_t rev;
    int status;

    if (!nvmx_insn_vmcs_ptr(c, &addr, VCORE_VMXERR_VMPTRLD_INVALID_ADDR,
                            VCORE_DIAG_NVMX_FAIL_VMPTRLD_ADDR, VCORE_VMXERR_VMPTRLD_VMXON_PTR,
                            VCORE_DIAG_NVMX_FAIL_VMPTRLD_VMXON, &status))
        return status;
    if (addr == c->n->current_vmptr)
        return nvmx_insn_succeed(c); /* already current: the cached copy is the VMCS */

    /* Read the region once into scratch and check only the copy: L1 may
     * change its memory concurrently, the copy cannot change. */
    vcore__nvmx_phys_read(c->mem, addr, c->n->scratch, VCORE_VMCS12_SIZE);
    rev = copy->revision;
    if ((rev & 0x7fffffffu) != nvmx_insn_revision(c) ||
        ((rev & VCORE_VMCS12_SHADOW_BIT) &&
         !(c->n->caps.msr[VCORE_NVMX_CAP_PROCBASED2] & VCORE_VMX_PROC2_SHADOW_VMCS)))
        return nvmx_insn_fail(c, VCORE_VMXERR_VMPTRLD_BAD_REVISION,
                              VCORE_DIAG_NVMX_FAIL_VMPTRLD_REVISION, nvmx_insn_current(c));
    /* The old current VMCS keeps its data: the library caches one VMCS, so
     * it goes back to its region before the switch. */
    nvmx_insn_flush_shadow(c);
    nvmx_insn_flush_current(c);
    vcore__memcpy(c->n->vmcs12, c->n->scratch, VCORE_VMCS12_SIZE);
    c->n->current_vmptr = addr;
    /* A new VMCS: everything is new to the entry pipeline. */
    vcore__memset(c->n->dirty, 0xff, sizeof(c->n->dirty));
    c->n->chk_passed = false;
    return nvmx_insn_succeed(c);
}

/* SDM "VMPTRST-Store Pointer to Virtual-Machine Control Structure". */
static int nvmx_insn_vmptrst(vcore__nvmx_ctx_t *c)
{
    uint64_t ptr;
    int err;

    if (nvmx_insn_common(c) || !nvmx_insn_need_mem(c))
        return VCORE_OK;
    ptr = c->n->current_vmptr;
    err = vcore__nvmx_mem_write(c, &ptr, 8);
    if (err)
        return nvmx_insn_access_status(err);
    return nvmx_insn_succeed(c);
}

/* VMREAD/VMWRITE by L2 with L1's VMCS shadowing (SDM "VMCS Shadowing"):
 * returns true when L1 intercepts (outcome recorded). */
static bool nvmx_insn_l2_intercepted(vcore__nvmx_ctx_t *c, uint64_t enc, bool write)
{
    const vcore__vmcs12_t *v = (const vcore__vmcs12_t *)(const void *)c->n->vmcs12;
    uint64_t bitmap = write ? v->VMWRITE_BITMAP : v->VMREAD_BITMAP;
    uint8_t byte = 0xff;
    bool shadowing = c->n->current_vmptr != VCORE__INVALID_PTR &&
                     (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
                     (v->SECONDARY_VM_EXEC_CONTROL & VCORE_VMX_PROC2_SHADOW_VMCS_CTL);

    /* The bitmap addresses passed the VM-entry checks ("Checks on
     * VM-Execution Control Fields") before L2 ran; one that would fail them
     * is never read through: the access exits to L1. */
    if (shadowing && (enc >> 15) == 0 && nvmx_insn_addr_ok(c, bitmap))
        vcore__nvmx_phys_read(c->mem, bitmap + ((enc & 0x7fffu) >> 3), &byte, 1);
    if (!shadowing || (enc >> 15) != 0 || (((uint32_t)byte >> (enc & 7u)) & 1u)) {
        vcore__nvmx_exit_to_l1(c);
        return true;
    }
    return false;
}

/* Checks shared by VMREAD and VMWRITE up to VMfailInvalid; *vmcs receives
 * the VMCS the access targets (current, or the shadow for L2). A VMfailValid
 * of L2's access still goes to the current VMCS, the ordinary one L2 runs
 * on: "Conventions" (VMfailValid sets the VM-instruction error field of the
 * current VMCS), which the VMCS link pointer does not replace. */
static bool nvmx_insn_rw_prologue(vcore__nvmx_ctx_t *c, uint64_t enc, bool write, uint8_t **vmcs)
{
    uint32_t d;

    if (!c->in.in_l2 || !c->n->vmx_operation) {
        if (nvmx_insn_common(c))
            return true;
        *vmcs = nvmx_insn_current(c);
        if (!*vmcs) {
            nvmx_insn_fail_invalid(c, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
            return true;
        }
        return false;
    }
    d = nvmx_insn_mode_ud(c);
    if (d) {
        nvmx_insn_ud(c, d);
        return true;
    }
    if (nvmx_insn_l2_intercepted(c, enc, write))
        return true;
    if (nvmx_insn_cpl(c) > 0) {
        nvmx_insn_gp0(c, VCORE_DIAG_NVMX_GP_CPL);
        return true;
    }
    if (!c->n->shadow_loaded) {
        nvmx_insn_fail_invalid(c, VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS);
        return true;
    }
    *vmcs = (uint8_t *)c->n->shadow_vmcs12;
    return false;
}

/* The table row of a VMREAD/VMWRITE encoding, or NULL when the field does
 * not exist on L1's processor: an unknown encoding (bits 63:32 set in 64-bit
 * mode included), or a field "supported only on processors that support the
 * 1-setting of" a control L1's capability MSRs do not allow (SDM Vol. 3,
 * "Field Encoding in VMCS"; VMREAD/VMWRITE: "does not correspond to any
 * VMCS field", VMfailValid 12). Unguarded fields skip the capability test. */
static const vcore__vmcs_row_t *nvmx_insn_field(const vcore__nvmx_ctx_t *c, uint64_t enc)
{
    const vcore__vmcs_row_t *r = (enc >> 32) ? NULL : vcore__vmcs_row((uint32_t)enc);

    if (!r || !vcore__vmcs_guards[r - vcore__vmcs_rows])
        return r;
    return vcore_nvmx_caps_has_field(&c->n->caps, (uint32_t)enc) ? r : NULL;
}

/* SDM "VMREAD-Read Field from Virtual-Machine Control Structure". */
static int nvmx_insn_vmread(vcore__nvmx_ctx_t *c)
{
    uint32_t ii = c->in.insn_info;
    uint64_t enc = vcore__nvmx_reg(c, VCORE__II_REG2(ii)), value;
    const vcore__vmcs_row_t *r;
    uint8_t *vmcs = NULL;
    int err;

    if (nvmx_insn_rw_prologue(c, enc, false, &vmcs))
        return VCORE_OK;
    r = nvmx_insn_field(c, enc);
    if (!r)
        return nvmx_insn_fail(c, VCORE_VMXERR_UNSUPPORTED_FIELD, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD,
                              nvmx_insn_current(c));
    value = vcore__vmcs12_load(vmcs, r);
    /* Operand size is 64 bits in 64-bit mode, 32 otherwise: a longer field
     * has its high bits not read, a shorter one is zero-extended. */
    if (!c->long64)
        value = (uint32_t)value;
    if (VCORE__II_IS_REG(ii)) {
        c->res->gpr_written = true;
        c->res->gpr = VCORE__II_REG1(ii);
        c->res->gpr_value = value;
    } else {
        err = vcore__nvmx_mem_write(c, &value, nvmx_insn_opsize(c));
        if (err)
            return nvmx_insn_access_status(err);
    }
    return nvmx_insn_succeed(c);
}

/* SDM "VMWRITE-Write Field to Virtual-Machine Control Structure". */
static int nvmx_insn_vmwrite(vcore__nvmx_ctx_t *c)
{
    uint32_t ii = c->in.insn_info;
    uint64_t enc = vcore__nvmx_reg(c, VCORE__II_REG2(ii)), value = 0;
    const vcore__vmcs_row_t *r;
    uint8_t *vmcs = NULL;
    int err;

    if (nvmx_insn_rw_prologue(c, enc, true, &vmcs))
        return VCORE_OK;
    if (VCORE__II_IS_REG(ii)) {
        value = vcore__nvmx_reg(c, VCORE__II_REG1(ii));
    } else {
        err = vcore__nvmx_mem_read(c, &value, nvmx_insn_opsize(c));
        if (err)
            return nvmx_insn_access_status(err);
    }
    r = nvmx_insn_field(c, enc);
    if (!r)
        return nvmx_insn_fail(c, VCORE_VMXERR_UNSUPPORTED_FIELD, VCORE_DIAG_NVMX_FAIL_UNSUPPORTED_FIELD,
                              nvmx_insn_current(c));
    if ((r->flags & VCORE_VMCS_FIELD_F_READ_ONLY) &&
        !(c->n->caps.msr[VCORE_NVMX_CAP_MISC] & VCORE_VMX_MISC_VMWRITE_ANY))
        return nvmx_insn_fail(c, VCORE_VMXERR_VMWRITE_READ_ONLY, VCORE_DIAG_NVMX_FAIL_READ_ONLY_FIELD,
                              nvmx_insn_current(c));
    /* Outside 64-bit mode the source is 32 bits: a 64-bit or natural-width
     * field gets its high half cleared (value is already zero-extended). */
    vcore__vmcs12_store(vmcs, r, value);
    if (vmcs == (uint8_t *)c->n->vmcs12)
        vcore__nvmx_mark_dirty(c->n, r);
    else
        c->n->shadow_written = true; /* the region is behind the cached shadow VMCS */
    return nvmx_insn_succeed(c);
}

/* SDM "VMLAUNCH/VMRESUME-Launch/Resume Virtual Machine" (Operation), the
 * checks after the #UD and #GP(0) ones and before the VM-entry checks, in
 * the pseudo-code's order: 0 when the instruction goes on to VM entry, else
 * the diagnostic of its VMfail with the VM-instruction error in *error (0:
 * VMfailInvalid). Bit 1 of interruptibility is blocking by MOV SS. */
static uint32_t nvmx_insn_launch_fail(const vcore_nvmx_t *n, bool resume, uint32_t interruptibility, uint32_t *error)
{
    const vcore__vmcs12_t *v = (const vcore__vmcs12_t *)(const void *)n->vmcs12;

    *error = 0;
    if (n->current_vmptr == VCORE__INVALID_PTR)
        return VCORE_DIAG_NVMX_FAIL_NO_CURRENT_VMCS;
    if (v->revision & VCORE_VMCS12_SHADOW_BIT)
        return VCORE_DIAG_NVMX_FAIL_SHADOW_CURRENT;
    if (interruptibility & 0x2u) {
        *error = VCORE_VMXERR_ENTRY_MOV_SS;
        return VCORE_DIAG_NVMX_FAIL_MOV_SS;
    }
    if (!resume && v->launch_state != 0) {
        *error = VCORE_VMXERR_VMLAUNCH_NONCLEAR;
        return VCORE_DIAG_NVMX_FAIL_LAUNCH_NONCLEAR;
    }
    if (resume && v->launch_state != 1) {
        *error = VCORE_VMXERR_VMRESUME_NONLAUNCHED;
        return VCORE_DIAG_NVMX_FAIL_RESUME_NONLAUNCHED;
    }
    return 0;
}

/* An instruction of L1 means L2 no longer runs: an imported guest-mode
 * blob kept as data (nvmx_kvm.c) is out of date. */
static void nvmx_insn_l1(vcore_nvmx_t *n)
{
    n->kvm_guest_mode = n->kvm_run_pending = n->kvm_mtf_pending = false;
}

bool vcore__nvmx_insn_launch_ready(vcore_nvmx_t *n, bool resume, uint32_t interruptibility)
{
    uint32_t error;

    if (!n->vmx_operation || nvmx_insn_launch_fail(n, resume, interruptibility, &error) != 0)
        return false;
    nvmx_insn_l1(n);
    return true;
}

/* SDM "VMLAUNCH/VMRESUME-Launch/Resume Virtual Machine", up to the point
 * where the VM-entry checks start. */
static int nvmx_insn_launch(vcore__nvmx_ctx_t *c, bool resume)
{
    uint32_t d, error;

    if (nvmx_insn_common(c))
        return VCORE_OK;
    d = nvmx_insn_launch_fail(c->n, resume, c->in.interruptibility, &error);
    if (d)
        return error ? nvmx_insn_fail(c, error, d, nvmx_insn_current(c)) : nvmx_insn_fail_invalid(c, d);
    c->res->outcome = VCORE_NVMX_OUT_ENTRY;
    c->res->rip = c->in.regs.rip;
    c->res->rflags = c->in.regs.rflags;
    return VCORE_OK;
}

/* EPTP validity for a single-context INVEPT: the same rules as the EPT
 * pointer at VM entry ("Checks on VM-Execution Control Fields"). */
static bool nvmx_insn_eptp_ok(const vcore__nvmx_ctx_t *c, uint64_t eptp)
{
    return vcore__vmx_eptp_faults(c->n->caps.msr, c->n->maxphyaddr, eptp) == 0;
}

/* SDM "INVEPT-Invalidate Translations Derived from EPT" and "INVVPID-
 * Invalidate Translations Based on VPID". */
static int nvmx_insn_inv(vcore__nvmx_ctx_t *c, bool vpid)
{
    const uint64_t *caps = c->n->caps.msr;
    uint64_t type, desc[2] = {0, 0};
    uint32_t proc2_bit = vpid ? 5u : 1u;
    uint64_t insn_bit = vpid ? VCORE_VMX_VPID_INVVPID : VCORE_VMX_EPT_INVEPT;
    bool supported;
    int err;

    /* #UD when the (virtual) processor lacks EPT/VPID or the instruction. */
    if (!(caps[VCORE_NVMX_CAP_PROCBASED2] & (1ull << (32 + proc2_bit))) ||
        !(caps[VCORE_NVMX_CAP_EPT_VPID] & insn_bit))
        return nvmx_insn_ud(c, VCORE_DIAG_NVMX_UD_NOT_SUPPORTED);
    if (nvmx_insn_common(c) || !nvmx_insn_need_mem(c))
        return VCORE_OK;
    type = vcore__nvmx_reg(c, VCORE__II_REG2(c->in.insn_info));
    if (vpid)
        supported = type <= 3 && (caps[VCORE_NVMX_CAP_EPT_VPID] & (1ull << (40 + type)));
    else
        supported = (type == 1 && (caps[VCORE_NVMX_CAP_EPT_VPID] & VCORE_VMX_EPT_INVEPT_SINGLE)) ||
                    (type == 2 && (caps[VCORE_NVMX_CAP_EPT_VPID] & VCORE_VMX_EPT_INVEPT_ALL));
    if (!supported)
        return nvmx_insn_fail(c, VCORE_VMXERR_INVALID_INVEPT_INVVPID, VCORE_DIAG_NVMX_FAIL_INV_OPERAND,
                              nvmx_insn_current(c));
    err = vcore__nvmx_mem_read(c, desc, 16);
    if (err)
        return nvmx_insn_access_status(err);
    if (vpid) {
        uint16_t id = (uint16_t)desc[0];
        /* Descriptor bits 63:16 are reserved; VPID 0 is L0's own; the
         * address is canonical in the processor's linear-address width,
         * whatever CR4.LA57 (VCORE_NVMX_CFG_LA57). */
        if ((desc[0] >> 16) != 0 || (type != 2 && id == 0) ||
            (type == 0 && !vcore__x86_is_canonical(desc[1], c->n->linear_bits)))
            return nvmx_insn_fail(c, VCORE_VMXERR_INVALID_INVEPT_INVVPID,
                                  VCORE_DIAG_NVMX_FAIL_INV_OPERAND, nvmx_insn_current(c));
        c->res->inv_vpid = id;
        c->res->inv_addr = type == 0 ? desc[1] : 0;
    } else {
        if (type == 1 && !nvmx_insn_eptp_ok(c, desc[0]))
            return nvmx_insn_fail(c, VCORE_VMXERR_INVALID_INVEPT_INVVPID,
                                  VCORE_DIAG_NVMX_FAIL_INV_OPERAND, nvmx_insn_current(c));
        c->res->inv_eptp = type == 1 ? desc[0] : 0;
    }
    c->res->inv_type = (uint32_t)type;
    return nvmx_insn_succeed(c);
}

static int nvmx_insn_dispatch(vcore__nvmx_ctx_t *c);

/* What L2's operand accesses wrote to L1's page-modification log: vmcs12's
 * PML index follows, lowered by one per entry ("Page-Modification
 * Logging"). */
static void nvmx_insn_pml_done(vcore_nvmx_t *n, const vcore__nvmx_pml_t *pml)
{
    if (!pml->logged)
        return;
    ((vcore__vmcs12_t *)(void *)n->vmcs12)->GUEST_PML_INDEX = pml->index;
    vcore__nvmx_changed_id(n, VCORE__ROW_GUEST_PML_INDEX);
}

/* L1's EPT stopped an access of L2's operand: the access exits to L1
 * before the operand was written - an EPT violation or misconfiguration,
 * or a page-modification log-full event ("Page-Modification Logging": the
 * flag is not set and the access does not happen; exit 62, whose
 * qualification has only bit 12, NMI unblocking due to IRET, which a
 * VMREAD or VMWRITE never sets: "Exit Qualification for Page-Modification
 * Log Full Event"). */
static int nvmx_insn_ept_exit(vcore__nvmx_ctx_t *c, const vcore__nvmx_ept_view_t *view)
{
    vcore_nvmx_result_t *res = c->res;
    vcore__memset(res, 0, sizeof(*res));
    res->size = sizeof(*res);
    res->outcome = VCORE_NVMX_OUT_EXIT_TO_L1;
    if (view->fault == VCORE__NVMX_EPT_PML_FULL) {
        res->diag = VCORE_DIAG_NVMX_L2_PML_FULL;
        res->ept_gpa = view->fault_gpa;
        return VCORE_OK;
    }
    res->diag = view->fault == VCORE_NVMX_EPT_MISCONFIG ? VCORE_DIAG_NVMX_L2_EPT_MISCONFIG
                                                       : VCORE_DIAG_NVMX_L2_EPT_VIOLATION;
    res->ept_gpa = view->fault_gpa;
    res->ept_qualification = view->qualification;
    /* "Exit Qualification for EPT Violations": a paging-structure access
     * treated as a write (EPT accessed and dirty flags) sets bits 0 and 1. */
    if (view->fault == VCORE_NVMX_EPT_VIOLATION && c->ps_write && !c->op_final)
        res->ept_qualification |= VCORE_NVMX_EPT_READ;
    res->ept_gla = c->op_la;
    res->ept_final = c->op_final;
    return VCORE_OK;
}

int vcore_nvmx_emulate(vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem, const vcore_nvmx_insn_t *insn,
                       vcore_nvmx_result_t *res)
{
    vcore__nvmx_ctx_t c;
    vcore__nvmx_ept_view_t view;
    vcore_nvmx_mem_t l2mem;

    if (!vcore__nvmx_ok(nvmx) || !mem || !insn || !res || !mem->read || !mem->write)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(mem) || !VCORE__SIZE_OK(insn) || !VCORE__SIZE_OK(res) ||
        !VCORE__SIZE_OK(&insn->regs) || !VCORE__SIZE_OK(&insn->sregs))
        return VCORE_ERR_ABI;
    if (insn->op < VCORE_NVMX_VMXON || insn->op > VCORE_NVMX_VMRESUME)
        return VCORE_ERR_INVAL;
    if (!insn->in_l2)
        nvmx_insn_l1(nvmx);
    c.n = nvmx;
    c.mem = mem;
    c.opmem = mem;
    c.op_write = false;
    c.ps_write = false;
    c.op_la = 0;
    c.op_final = false;
    c.in = *insn; /* guest-derived input: copied once, only the copy is used */
    c.res = res;
    c.long64 = (c.in.sregs.efer & VCORE__EFER_LMA) && (c.in.sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L);
    vcore__memset(res, 0, sizeof(*res));
    res->size = sizeof(*res);
    /* L2 with L1's EPT in force: L2's addresses go through it. */
    vcore__vmcs12_t *v12 = (vcore__vmcs12_t *)(void *)nvmx->vmcs12;
    if (c.in.in_l2 && nvmx->current_vmptr != VCORE__INVALID_PTR &&
        (v12->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
        (v12->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_EPT)) {
        /* "Page-Modification Logging": with L1's "enable PML" the EPT
         * dirty flags the operand's accesses set are logged as L1's
         * processor would log them (vmcs02 never logs for L1). */
        vcore__nvmx_pml_t pml;
        pml.on = (v12->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_PML) != 0;
        pml.logged = false;
        pml.index = v12->GUEST_PML_INDEX;
        pml.address = v12->PML_ADDRESS;
        vcore__nvmx_ept_view(&view, mem, v12->EPT_POINTER, nvmx->maxphyaddr,
                             nvmx->caps.msr[VCORE_NVMX_CAP_EPT_VPID], &c.op_write, &pml, &l2mem);
        c.opmem = &l2mem;
        c.ps_write = (v12->EPT_POINTER & VCORE__EPTP_AD) != 0;
        int err = nvmx_insn_dispatch(&c);
        /* Entries written stay written, whatever follows (a later access
         * of the instruction may still fault or find the log full). */
        nvmx_insn_pml_done(nvmx, &pml);
        if (view.fault && (err == VCORE_ERR_FAULT || err == VCORE_OK))
            return nvmx_insn_ept_exit(&c, &view);
        /* The operand's L2 address is ept12's L1 address for the caller. */
        if (err == VCORE_ERR_FAULT && res->mmio_len)
            res->mmio_gpa = view.l1_gpa;
        return err;
    }
    return nvmx_insn_dispatch(&c);
}

static int nvmx_insn_dispatch(vcore__nvmx_ctx_t *cp)
{
    switch (cp->in.op) {
    case VCORE_NVMX_VMXON:
        return nvmx_insn_vmxon(cp);
    case VCORE_NVMX_VMXOFF:
        return nvmx_insn_vmxoff(cp);
    case VCORE_NVMX_VMCLEAR:
        return nvmx_insn_vmclear(cp);
    case VCORE_NVMX_VMPTRLD:
        return nvmx_insn_vmptrld(cp);
    case VCORE_NVMX_VMPTRST:
        return nvmx_insn_vmptrst(cp);
    case VCORE_NVMX_VMREAD:
        return nvmx_insn_vmread(cp);
    case VCORE_NVMX_VMWRITE:
        return nvmx_insn_vmwrite(cp);
    case VCORE_NVMX_INVEPT:
        return nvmx_insn_inv(cp, false);
    case VCORE_NVMX_INVVPID:
        return nvmx_insn_inv(cp, true);
    case VCORE_NVMX_VMLAUNCH:
        return nvmx_insn_launch(cp, false);
    default:
        return nvmx_insn_launch(cp, true);
    }
}


int vcore_nvmx_result_apply(const vcore_nvmx_result_t *res, vcore_x86_regs_t *regs)
{
    if (!res || !regs)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(res) || !VCORE__SIZE_OK(regs))
        return VCORE_ERR_ABI;
    if (res->outcome != VCORE_NVMX_OUT_SUCCEED && res->outcome != VCORE_NVMX_OUT_FAIL_INVALID &&
        res->outcome != VCORE_NVMX_OUT_FAIL_VALID)
        return VCORE_ERR_STATE;
    regs->rip = res->rip;
    regs->rflags = res->rflags;
    if (res->gpr_written && res->gpr < VCORE_X86_NR_GPRS)
        regs->gpr[res->gpr] = res->gpr_value;
    return VCORE_OK;
}

int vcore_nvmx_mark_launched(vcore_nvmx_t *nvmx)
{
    vcore__vmcs12_t *v;

    if (!vcore__nvmx_ok(nvmx))
        return VCORE_ERR_INVAL;
    if (nvmx->current_vmptr == VCORE__INVALID_PTR)
        return VCORE_ERR_STATE;
    v = (vcore__vmcs12_t *)(void *)nvmx->vmcs12;
    v->launch_state = 1;
    return VCORE_OK;
}
