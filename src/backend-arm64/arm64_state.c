/*
 * arm64_state.c - a vCPU's context: the EL2 controls it runs under, and the
 * core's register model (include/virtcore/arm64/regs.h) <-> the guest
 * context the primitives load and save.
 *
 * The context lives in memory between runs (the primitives save it at every
 * exit), so both state groups are plain copies:
 *   VCORE_ARM64_STATE_REGS    X0-X30 <-> gprs.x, PC <-> ELR_EL2, PSTATE <->
 *                             SPSR_EL2, SP_EL0, SP_EL1, ELR_EL1, SPSR_EL1
 *   VCORE_ARM64_STATE_SYSREGS SCTLR_EL1, TCR_EL1, TTBR0/1_EL1, MAIR_EL1,
 *                             VBAR_EL1, ESR_EL1, FAR_EL1, CNTVOFF_EL2
 * The registers the model does not hold (vcore__arm64_el1_t: CPACR_EL1,
 * TPIDR*, CONTEXTIDR_EL1, the virtual timer, FP/SIMD ...) start at zero
 * when the vCPU is created; the core's RESET state covers the rest.
 */
#include "arm64_el2.h"

/* X0..X30 move as one block between the model and the saved context. */
typedef char vcore__arm64_state_x_fits[sizeof(((vcore_arm64_regs_t *)0)->x) ==
                                               sizeof(((vcore__arm64_gprs_t *)0)->x)
                                           ? 1
                                           : -1];

void vcore__arm64_state_init(vcore__arm64_vcpu_t *c, const vcore__arm64_vm_t *v, uint32_t id)
{
    vcore__memset(&c->el1, 0, sizeof(c->el1));
    vcore__memset(&c->g, 0, sizeof(c->g));
    c->id = id;
    c->el2.hcr = VCORE__HCR_GUEST;
    c->el2.vtcr = v->geom->vtcr;
    c->el2.vttbr = v->vttbr;
    /* MPIDR_EL1 as the guest reads it: Aff0 = id[7:0], Aff1 = id[15:8]. */
    c->el2.vmpidr = VCORE__VMPIDR_RES1 | (uint64_t)(id & 0xffu) | (uint64_t)((id >> 8) & 0xffu) << 8;
    c->el2.cntvoff = 0;
    c->el2.cnthctl = VCORE__CNTHCTL_GUEST;
    c->el2.cptr = VCORE__CPTR_GUEST;
}

void vcore__arm64_state_get(const vcore__arm64_vcpu_t *c, vcore_arm64_state_t *st, uint32_t groups)
{
    if (groups & VCORE_ARM64_STATE_REGS) {
        vcore_arm64_regs_t *r = &st->regs;
        vcore__memcpy(r->x, c->g.x, sizeof(r->x));
        r->sp_el0 = c->el1.sp_el0;
        r->sp_el1 = c->el1.sp_el1;
        r->pc = c->g.pc;
        r->pstate = c->g.pstate;
        r->elr_el1 = c->el1.elr;
        r->spsr_el1 = c->el1.spsr;
    }
    if (groups & VCORE_ARM64_STATE_SYSREGS) {
        vcore_arm64_sysregs_t *s = &st->sys;
        s->sctlr_el1 = c->el1.sctlr;
        s->tcr_el1 = c->el1.tcr;
        s->ttbr0_el1 = c->el1.ttbr0;
        s->ttbr1_el1 = c->el1.ttbr1;
        s->mair_el1 = c->el1.mair;
        s->vbar_el1 = c->el1.vbar;
        s->esr_el1 = c->el1.esr;
        s->far_el1 = c->el1.far;
        s->cntvoff_el2 = c->el2.cntvoff;
    }
}

void vcore__arm64_state_set(vcore__arm64_vcpu_t *c, const vcore_arm64_state_t *st, uint32_t groups)
{
    if (groups & VCORE_ARM64_STATE_REGS) {
        const vcore_arm64_regs_t *r = &st->regs;
        vcore__memcpy(c->g.x, r->x, sizeof(c->g.x));
        c->el1.sp_el0 = r->sp_el0;
        c->el1.sp_el1 = r->sp_el1;
        c->g.pc = r->pc;
        c->g.pstate = r->pstate;
        c->el1.elr = r->elr_el1;
        c->el1.spsr = r->spsr_el1;
    }
    if (groups & VCORE_ARM64_STATE_SYSREGS) {
        const vcore_arm64_sysregs_t *s = &st->sys;
        c->el1.sctlr = s->sctlr_el1;
        c->el1.tcr = s->tcr_el1;
        c->el1.ttbr0 = s->ttbr0_el1;
        c->el1.ttbr1 = s->ttbr1_el1;
        c->el1.mair = s->mair_el1;
        c->el1.vbar = s->vbar_el1;
        c->el1.esr = s->esr_el1;
        c->el1.far = s->far_el1;
        c->el2.cntvoff = s->cntvoff_el2;
    }
}
