/*
 * regs.c - the AArch64 vCPU register model: reset state and the checks on
 * a register write.
 *
 * Arm ARM (DDI 0487): "Process state, PSTATE", "Saved Program Status
 * Registers (SPSRs)", and the SCTLR_EL1 / VBAR_EL1 register descriptions.
 * A guest vCPU starts like a processor whose reset is taken to EL1, as the
 * hypervisor presents it: AArch64, EL1 using SP_EL1, every exception class
 * masked, MMU and caches off. Registers the Arm ARM leaves UNKNOWN at reset
 * are set to 0, so two vCPUs reset alike; the VMM sets the entry point (PC)
 * and its arguments (X0 ...).
 */
#include "arm64.h"

/* SPSR_ELx bits RES0 for an AArch64 state whatever extensions the processor
 * has: 63:32, 27:26, 19:14 and 5. The bits later extensions gave meaning to
 * (TCO 25, DIT 24, UAO 23, PAN 22, ALLINT 13, SSBS 12, BTYPE 11:10) are
 * accepted: the backend's processor decides whether they stick. */
#define ARM64_PSTATE_RES0 ((0xffffffffull << 32) | (3ull << 26) | (0x3full << 14) | (1ull << 5))

void vcore__arm64_reset(vcore_arm64_state_t *st)
{
    vcore__memset(st, 0, sizeof(*st));
    st->regs.size = sizeof(st->regs);
    st->sys.size = sizeof(st->sys);
    st->regs.pstate = VCORE_ARM64_PSTATE_DAIF | VCORE_ARM64_PSTATE_M_EL1H;
    /* SCTLR_EL1: M (MMU), C and I (caches) 0; the RES1 bits 1. */
    st->sys.sctlr_el1 = VCORE_ARM64_SCTLR_EL1_RES1;
}

int vcore__arm64_check_regs(const vcore_arm64_regs_t *r, vcore_diag_t *d)
{
    uint64_t m = r->pstate & VCORE_ARM64_PSTATE_M_MASK;
    /* An EL1 guest runs at EL1 or EL0 in AArch64 state: M[4] = 0 and
     * M[3:0] one of EL0t, EL1t, EL1h. M[1] is RES0 in AArch64. */
    if (m != VCORE_ARM64_PSTATE_M_EL0T && m != VCORE_ARM64_PSTATE_M_EL1T &&
        m != VCORE_ARM64_PSTATE_M_EL1H)
        return vcore__diag_set(d, VCORE_DIAG_ARM64_PSTATE_INVALID, r->pstate);
    if (r->pstate & ARM64_PSTATE_RES0)
        return vcore__diag_set(d, VCORE_DIAG_ARM64_PSTATE_INVALID, r->pstate);
    return VCORE_OK;
}

int vcore__arm64_check_sysregs(const vcore_arm64_sysregs_t *s, vcore_diag_t *d)
{
    if ((s->sctlr_el1 & VCORE_ARM64_SCTLR_EL1_RES1) != VCORE_ARM64_SCTLR_EL1_RES1)
        return vcore__diag_set(d, VCORE_DIAG_ARM64_SCTLR_RES1, s->sctlr_el1);
    /* VBAR_EL1[10:0] are RES0: the vector table is 2 KiB aligned. */
    if (s->vbar_el1 & 0x7ffu)
        return vcore__diag_set(d, VCORE_DIAG_ARM64_VBAR_RES0, s->vbar_el1);
    return VCORE_OK;
}
