/*
 * vcpu_cr.c - control-register accesses of an x86 guest, completed by the
 * core with the architectural checks of the instruction: MOV to/from CR0,
 * CR3, CR4, CR8, CLTS and LMSW (SDM Vol. 2, "MOV-Move to/from Control
 * Registers", "CLTS", "LMSW"; SDM Vol. 3, "Control Registers").
 *
 * A refused write raises #GP(0) and leaves the instruction uncompleted; an
 * accepted one changes the model, advances RIP and ends STI / MOV-SS
 * blocking, like any completed instruction. Backends report the access
 * (VCORE_EXIT_CR_ACCESS) and never decide it themselves, so the rules exist
 * once and see the vCPU's CPUID model.
 */
#include "vcpu_x86.h"

#include "x86/x86_bits.h"

/* An instruction completed: RIP past it, blocking by STI / MOV SS over. */
int vcore__vcpu_x86_complete(vcore_vcpu_t *vcpu, uint32_t insn_len)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_RIP | VCORE_X86_STATE_MODE |
                                            VCORE_X86_STATE_EFER | VCORE_X86_STATE_EVENTS);
    /* (MODE and EFER decide the width of RIP.) */
    if (err)
        return err;
    uint64_t rip = x->st.regs.rip + insn_len;
    /* Outside 64-bit mode the instruction pointer is 32 bits wide. */
    bool long64 = (x->st.sregs.efer & VCORE__EFER_LMA) && (x->st.sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L);
    x->st.regs.rip = long64 ? rip : (uint32_t)rip;
    uint32_t dirty = VCORE_X86_STATE_RIP;
    if (x->st.events.sti_blocking || x->st.events.movss_blocking) {
        x->st.events.sti_blocking = 0;
        x->st.events.movss_blocking = 0;
        dirty |= VCORE_X86_STATE_EVENTS;
    }
    vcore__vcpu_mark_dirty(vcpu, dirty);
    return VCORE_OK;
}

/* The value of a GPR operand at the width of the current mode. */
static uint64_t vcore__vcpu_cr_gpr(const vcore__x86_vcpu_t *x, uint32_t gpr)
{
    uint64_t v = x->st.regs.gpr[gpr & 15u];
    bool long64 = (x->st.sregs.efer & VCORE__EFER_LMA) && (x->st.sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L);
    return long64 ? v : (uint32_t)v;
}

/* MOV to CR0/CR3/CR4/CR8, CLTS, LMSW: the new system registers, checked as
 * the instruction checks them. Returns VCORE_ERR_INVAL (with a diagnostic)
 * for #GP(0). */
static int vcore__vcpu_cr_write(vcore_vcpu_t *vcpu, const vcore_exit_t *exit, vcore_x86_sregs_t *neu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore_x86_sregs_t *old = &x->st.sregs;
    uint64_t v = vcore__vcpu_cr_gpr(x, exit->u.cr.gpr);
    *neu = *old;
    switch (exit->u.cr.type) {
    case 2: /* CLTS: CR0.TS := 0 */
        neu->cr0 &= ~VCORE__CR0_TS;
        return VCORE_OK;
    case 3: /* LMSW: loads PE, MP, EM, TS; it can set PE but never clear it. */
        neu->cr0 = (old->cr0 & ~0xeull) | (exit->u.cr.lmsw_source & 0xfu) | (old->cr0 & VCORE__CR0_PE);
        break;
    default:
        switch (exit->u.cr.cr) {
        case 0:
            /* MOV to CR0 writes bits 31:0 outside 64-bit mode; in 64-bit mode
             * setting a bit in 63:32 is #GP (checked as reserved). */
            neu->cr0 = v;
            /* "64-Bit Mode Exceptions": clearing CR0.PG in 64-bit mode is #GP(0). */
            if ((old->efer & VCORE__EFER_LMA) && (old->seg[VCORE_X86_CS].ar & VCORE_X86_AR_L) &&
                !(v & VCORE__CR0_PG))
                return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CR0_PG_CLEAR_64BIT, v);
            break;
        case 3:
            /* Bit 63 with CR4.PCIDE is the "do not flush" hint, not part of CR3. */
            neu->cr3 = (old->cr4 & VCORE__CR4_PCIDE) ? (v & ~(1ull << 63)) : v;
            break;
        case 4:
            neu->cr4 = v;
            break;
        case 8:
            neu->cr8 = v;
            break;
        default:
            return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CR0_RESERVED, exit->u.cr.cr);
        }
        break;
    }
    /* SDM Vol. 3, "Initializing IA-32e Mode": with EFER.LME = 1, setting
     * CR0.PG activates IA-32e mode (LMA = 1) and clearing it leaves it. */
    if (neu->efer & VCORE__EFER_LME) {
        if (neu->cr0 & VCORE__CR0_PG)
            neu->efer |= VCORE__EFER_LMA;
        else
            neu->efer &= ~VCORE__EFER_LMA;
    }
    return vcore__x86_check_crs(&x->model, old, neu, &vcpu->last_diag);
}

int vcore__vcpu_cr_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    /* What MOV CR / CLTS / LMSW read: the GPR operand, the control
     * registers and EFER, CS for the mode - never the other segments. */
    uint32_t gpr_group = vcore__x86_gpr_group(exit->u.cr.gpr);
    int err = vcore__vcpu_sync_in(vcpu, gpr_group | VCORE__CR_GROUPS | VCORE_X86_STATE_MODE);
    if (err)
        return err;
    *handled = true;
    if (exit->u.cr.type == 1) { /* MOV from CR */
        const vcore_x86_sregs_t *s = &x->st.sregs;
        uint32_t cr = exit->u.cr.cr;
        uint64_t v = cr == 0 ? s->cr0 : cr == 3 ? s->cr3 : cr == 4 ? s->cr4 : s->cr8;
        x->st.regs.gpr[exit->u.cr.gpr & 15u] = v;
        vcore__vcpu_mark_dirty(vcpu, gpr_group);
        return vcore__vcpu_x86_complete(vcpu, exit->u.cr.insn_len);
    }
    vcore_x86_sregs_t neu;
    err = vcore__vcpu_cr_write(vcpu, exit, &neu);
    if (err == VCORE_ERR_INVAL)
        return vcore__vcpu_raise_exception(vcpu, VCORE__VEC_GP, 0, false, 0);
    if (err)
        return err;
    /* Only the control registers and EFER changed (the rest of neu is the
     * model's, possibly not current: it must not reach the backend). */
    x->st.sregs.cr0 = neu.cr0;
    x->st.sregs.cr3 = neu.cr3;
    x->st.sregs.cr4 = neu.cr4;
    x->st.sregs.cr8 = neu.cr8;
    x->st.sregs.efer = neu.efer;
    vcore__vcpu_mark_dirty(vcpu, VCORE__CR_GROUPS & ~VCORE_X86_STATE_CR2);
    vcore__vcpu_cpuid_refresh(vcpu); /* CR4.OSXSAVE / PKE are mirrored in CPUID */
    return vcore__vcpu_x86_complete(vcpu, exit->u.cr.insn_len);
}
