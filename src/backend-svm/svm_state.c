/*
 * svm_state.c - synchronisation of the core's state groups with VMCB01.
 *
 * backend.h: get_state writes exactly the groups asked for, set_state
 * writes what it is given. VMCB01 is memory, so reading a field costs no
 * more than a cache would; set_state compares before it writes, so a field
 * that keeps its value keeps its clean bit (APM Vol. 2, "VMCB Clean
 * Field"). One table maps every VMCB field to its place in the model, its
 * group and its clean bit.
 *
 * VMRUN and #VMEXIT switch what the state-save area holds; FS, GS, TR,
 * LDTR, KernelGsBase and the SYSCALL/SYSENTER MSRs are VMLOAD/VMSAVE state,
 * which the run moves between VMCB01 and the processor around every VMRUN
 * (svm_vmcb.c), so VMCB01 always holds the guest's values. The other GPRs
 * live in c->g; DR0-3, the x87/SSE control words, XCR0 and the MSRs
 * without a VMCB field are kept as last set (docs/embedding.md).
 */
#include "svm.h"

#include <stddef.h>

/* How a table entry converts between VMCB and model. */
enum {
    VCORE__SVM_K_PLAIN, /* same value (truncated to the narrower width) */
    VCORE__SVM_K_ATTR,  /* VMCB attribute word <-> VMCS-layout access rights */
    VCORE__SVM_K_EFER,  /* SVME is VMCB01's, not the guest's; LMA follows LME and CR0.PG */
};

#define VCORE__SVM_V(m) offsetof(vcore_vmcb_t, m), (uint8_t)sizeof(((vcore_vmcb_t *)0)->m)
#define VCORE__SVM_M(m) offsetof(vcore_x86_state_t, m), (uint8_t)sizeof(((vcore_x86_state_t *)0)->m)
#define VCORE__SVM_SEG(s, i, grp, clean)                                                            \
    {VCORE__SVM_V(save.s.selector), VCORE__SVM_M(sregs.seg[i].selector), grp, VCORE__SVM_K_PLAIN, clean}, \
    {VCORE__SVM_V(save.s.base), VCORE__SVM_M(sregs.seg[i].base), grp, VCORE__SVM_K_PLAIN, clean},          \
    {VCORE__SVM_V(save.s.limit), VCORE__SVM_M(sregs.seg[i].limit), grp, VCORE__SVM_K_PLAIN, clean}
#define VCORE__SVM_ATTR(s, i, grp, clean)                                                           \
    {VCORE__SVM_V(save.s.attrib), VCORE__SVM_M(sregs.seg[i].ar), grp, VCORE__SVM_K_ATTR, clean}

static const struct {
    uint16_t voff;   /* offset in the VMCB */
    uint8_t vw;      /* its width */
    uint16_t moff;   /* offset in vcore_x86_state_t */
    uint8_t mw;      /* its width */
    uint32_t group;  /* VCORE_X86_STATE_* */
    uint8_t kind;    /* VCORE__SVM_K_* */
    uint16_t clean;  /* the clean bit covering the field (0: none) */
} vcore__svm_fields[] = {
    {VCORE__SVM_V(save.rax), VCORE__SVM_M(regs.gpr[VCORE_X86_RAX]), VCORE_X86_STATE_GPRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.rsp), VCORE__SVM_M(regs.gpr[VCORE_X86_RSP]), VCORE_X86_STATE_GPRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.rip), VCORE__SVM_M(regs.rip), VCORE_X86_STATE_RIP, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.rflags), VCORE__SVM_M(regs.rflags), VCORE_X86_STATE_RFLAGS, VCORE__SVM_K_PLAIN, 0},
    VCORE__SVM_SEG(cs, VCORE_X86_CS, VCORE_X86_STATE_SEG_CS, VCORE_VMCB_CLEAN_SEG),
    VCORE__SVM_SEG(ss, VCORE_X86_SS, VCORE_X86_STATE_SEG_SS, VCORE_VMCB_CLEAN_SEG),
    VCORE__SVM_SEG(es, VCORE_X86_ES, VCORE_X86_STATE_SEG_DATA, VCORE_VMCB_CLEAN_SEG),
    VCORE__SVM_ATTR(es, VCORE_X86_ES, VCORE_X86_STATE_SEG_DATA, VCORE_VMCB_CLEAN_SEG),
    VCORE__SVM_SEG(ds, VCORE_X86_DS, VCORE_X86_STATE_SEG_DATA, VCORE_VMCB_CLEAN_SEG),
    VCORE__SVM_ATTR(ds, VCORE_X86_DS, VCORE_X86_STATE_SEG_DATA, VCORE_VMCB_CLEAN_SEG),
    VCORE__SVM_SEG(fs, VCORE_X86_FS, VCORE_X86_STATE_SEG_DATA, 0),
    VCORE__SVM_ATTR(fs, VCORE_X86_FS, VCORE_X86_STATE_SEG_DATA, 0),
    VCORE__SVM_SEG(gs, VCORE_X86_GS, VCORE_X86_STATE_SEG_DATA, 0),
    VCORE__SVM_ATTR(gs, VCORE_X86_GS, VCORE_X86_STATE_SEG_DATA, 0),
    VCORE__SVM_SEG(ldtr, VCORE_X86_LDTR, VCORE_X86_STATE_SEG_SYS, 0),
    VCORE__SVM_ATTR(ldtr, VCORE_X86_LDTR, VCORE_X86_STATE_SEG_SYS, 0),
    VCORE__SVM_SEG(tr, VCORE_X86_TR, VCORE_X86_STATE_SEG_SYS, 0),
    VCORE__SVM_ATTR(tr, VCORE_X86_TR, VCORE_X86_STATE_SEG_SYS, 0),
    VCORE__SVM_ATTR(cs, VCORE_X86_CS, VCORE_X86_STATE_MODE, VCORE_VMCB_CLEAN_SEG),
    VCORE__SVM_ATTR(ss, VCORE_X86_SS, VCORE_X86_STATE_MODE, VCORE_VMCB_CLEAN_SEG),
    {VCORE__SVM_V(save.gdtr.base), VCORE__SVM_M(sregs.gdtr.base), VCORE_X86_STATE_DTABLES, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_DT},
    {VCORE__SVM_V(save.gdtr.limit), VCORE__SVM_M(sregs.gdtr.limit), VCORE_X86_STATE_DTABLES, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_DT},
    {VCORE__SVM_V(save.idtr.base), VCORE__SVM_M(sregs.idtr.base), VCORE_X86_STATE_DTABLES, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_DT},
    {VCORE__SVM_V(save.idtr.limit), VCORE__SVM_M(sregs.idtr.limit), VCORE_X86_STATE_DTABLES, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_DT},
    {VCORE__SVM_V(save.cr0), VCORE__SVM_M(sregs.cr0), VCORE_X86_STATE_CR0, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_CRX},
    {VCORE__SVM_V(save.cr2), VCORE__SVM_M(sregs.cr2), VCORE_X86_STATE_CR2, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_CR2},
    {VCORE__SVM_V(save.cr3), VCORE__SVM_M(sregs.cr3), VCORE_X86_STATE_CR3, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_CRX},
    {VCORE__SVM_V(save.cr4), VCORE__SVM_M(sregs.cr4), VCORE_X86_STATE_CR4, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_CRX},
    {VCORE__SVM_V(save.efer), VCORE__SVM_M(sregs.efer), VCORE_X86_STATE_EFER | VCORE_X86_STATE_CR0, VCORE__SVM_K_EFER, VCORE_VMCB_CLEAN_CRX},
    {VCORE__SVM_V(save.dr6), VCORE__SVM_M(dregs.dr6), VCORE_X86_STATE_DREGS, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_DRX},
    {VCORE__SVM_V(save.dr7), VCORE__SVM_M(dregs.dr7), VCORE_X86_STATE_DREGS, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_DRX},
    {VCORE__SVM_V(save.star), VCORE__SVM_M(msrs.star), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.lstar), VCORE__SVM_M(msrs.lstar), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.cstar), VCORE__SVM_M(msrs.cstar), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.sfmask), VCORE__SVM_M(msrs.sfmask), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.kernel_gs_base), VCORE__SVM_M(msrs.kernel_gs_base), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.sysenter_cs), VCORE__SVM_M(msrs.sysenter_cs), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.sysenter_esp), VCORE__SVM_M(msrs.sysenter_esp), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.sysenter_eip), VCORE__SVM_M(msrs.sysenter_eip), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, 0},
    {VCORE__SVM_V(save.g_pat), VCORE__SVM_M(msrs.pat), VCORE_X86_STATE_MSRS, VCORE__SVM_K_PLAIN, VCORE_VMCB_CLEAN_NP},
};
#define VCORE__SVM_NFIELDS VCORE__ARRAY_SIZE(vcore__svm_fields)

static uint64_t vcore__svm_load(const void *base, uint16_t off, uint8_t w)
{
    const uint8_t *p = (const uint8_t *)base + off;
    switch (w) {
    case 1:
        return *p;
    case 2: {
        uint16_t v;
        vcore__memcpy(&v, p, sizeof(v));
        return v;
    }
    case 4: {
        uint32_t v;
        vcore__memcpy(&v, p, sizeof(v));
        return v;
    }
    default: {
        uint64_t v;
        vcore__memcpy(&v, p, sizeof(v));
        return v;
    }
    }
}

static void vcore__svm_store(void *base, uint16_t off, uint8_t w, uint64_t value)
{
    uint8_t *p = (uint8_t *)base + off;
    switch (w) {
    case 1:
        *p = (uint8_t)value;
        break;
    case 2: {
        uint16_t v = (uint16_t)value;
        vcore__memcpy(p, &v, sizeof(v));
        break;
    }
    case 4: {
        uint32_t v = (uint32_t)value;
        vcore__memcpy(p, &v, sizeof(v));
        break;
    }
    default:
        vcore__memcpy(p, &value, sizeof(value));
        break;
    }
}

/* A counted VMCB01 field access by table entry. */
static uint64_t vcore__svm_state_read(vcore__svm_vcpu_t *c, size_t f)
{
    c->stats.vmcb_reads++;
    return vcore__svm_load(c->vmcb, vcore__svm_fields[f].voff, vcore__svm_fields[f].vw);
}

static void vcore__svm_state_write(vcore__svm_vcpu_t *c, size_t f, uint64_t value)
{
    c->stats.vmcb_writes++;
    vcore__svm_store(c->vmcb, vcore__svm_fields[f].voff, vcore__svm_fields[f].vw, value);
    c->dirty |= vcore__svm_fields[f].clean;
}

int vcore__svm_state_get(vcore__svm_vcpu_t *c, vcore_x86_state_t *st, uint32_t groups)
{
    for (size_t f = 0; f < VCORE__SVM_NFIELDS; f++) {
        uint32_t g = vcore__svm_fields[f].group;
        if (vcore__svm_fields[f].kind == VCORE__SVM_K_EFER)
            g = VCORE_X86_STATE_EFER; /* read for its own group only */
        if (!(g & groups))
            continue;
        uint64_t v = vcore__svm_state_read(c, f);
        if (vcore__svm_fields[f].kind == VCORE__SVM_K_ATTR)
            v = vcore_vmcb_attr_to_ar((uint16_t)v);
        else if (vcore__svm_fields[f].kind == VCORE__SVM_K_EFER)
            v = (v & ~VCORE__EFER_SVME) | (c->guest_svme ? VCORE__EFER_SVME : 0u);
        vcore__svm_store(st, vcore__svm_fields[f].moff, vcore__svm_fields[f].mw, v);
    }
    if (groups & VCORE_X86_STATE_GPRS)
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            if (i != VCORE_X86_RAX && i != VCORE_X86_RSP)
                st->regs.gpr[i] = c->g.gpr[i];
    if (groups & VCORE_X86_STATE_CR8)
        st->sregs.cr8 = VCORE__SVM_RD(c, control.int_ctl) & 0xfu;
    if (groups & VCORE_X86_STATE_DREGS) {
        st->dregs.size = sizeof(st->dregs);
        for (unsigned i = 0; i < 4; i++)
            st->dregs.dr[i] = c->dregs.dr[i];
    }
    if (groups & VCORE_X86_STATE_FPU)
        vcore__svm_fpu_get(c, &st->fpu);
    if (groups & VCORE_X86_STATE_XMM)
        vcore__svm_fpu_get_xmm(c, st->xmm);
    if (groups & VCORE_X86_STATE_XCR0)
        st->xcr0 = c->xcr0;
    if (groups & VCORE_X86_STATE_MSRS) {
        st->msrs.apic_base = c->msrs.apic_base;
        st->msrs.misc_enable = c->msrs.misc_enable;
        st->msrs.smbase = c->msrs.smbase;
        st->msrs.tsc_aux = c->msrs.tsc_aux;
        st->msrs.feature_control = c->msrs.feature_control;
    }
    if (groups & VCORE_X86_STATE_TSC)
        st->msrs.tsc = vcore__svm_rdtsc() + VCORE__SVM_RD(c, control.tsc_offset);
    if (groups & VCORE_X86_STATE_EVENTS)
        vcore__svm_events_get(c, &st->events);
    return VCORE_OK;
}

int vcore__svm_state_set(vcore__svm_vcpu_t *c, const vcore_x86_state_t *st, uint32_t groups)
{
    /* Refused before anything changes: FXRSTOR would #GP on it. */
    if ((groups & VCORE_X86_STATE_FPU) && !vcore__svm_fpu_ok(c, &st->fpu))
        return VCORE_ERR_INVAL;
    /* A VMM that moves RIP has redirected the vCPU: the exited instruction
     * is no longer completed at the next run. */
    if ((groups & VCORE_X86_STATE_RIP) && c->pending && VCORE__SVM_RD(c, save.rip) != st->regs.rip) {
        c->pending = 0;
    }
    if (groups & VCORE_X86_STATE_EFER)
        c->guest_svme = (st->sregs.efer & VCORE__EFER_SVME) != 0;
    for (size_t f = 0; f < VCORE__SVM_NFIELDS; f++) {
        if (!(vcore__svm_fields[f].group & groups))
            continue;
        uint64_t v = vcore__svm_load(st, vcore__svm_fields[f].moff, vcore__svm_fields[f].mw);
        uint64_t cur = vcore__svm_state_read(c, f);
        uint8_t vw = vcore__svm_fields[f].vw;
        switch (vcore__svm_fields[f].kind) {
        case VCORE__SVM_K_ATTR:
            v = vcore_vmcb_attr_from_ar((uint32_t)v);
            break;
        case VCORE__SVM_K_EFER: {
            /* EFER as the guest runs with it: SVME set (VMRUN refuses
             * anything else), LMA = LME && CR0.PG ("Enabling and Activating
             * Long Mode"), whichever of EFER and CR0 the core changed. */
            uint64_t efer = (groups & VCORE_X86_STATE_EFER) ? v : cur;
            uint64_t cr0 = (groups & VCORE_X86_STATE_CR0) ? st->sregs.cr0 : VCORE__SVM_RD(c, save.cr0);
            efer |= VCORE__EFER_SVME;
            if ((efer & VCORE__EFER_LME) && (cr0 & VCORE__CR0_PG))
                efer |= VCORE__EFER_LMA;
            else
                efer &= ~VCORE__EFER_LMA;
            v = efer;
            break;
        }
        default:
            break;
        }
        /* Compared at the VMCB field's width (a model value may be wider). */
        if (vw < 8)
            v &= (1ull << (8u * vw)) - 1u;
        if (cur != v)
            vcore__svm_state_write(c, f, v);
    }
    /* CPL is SS.DPL ("Segment State in the VMCB"). */
    if (groups & VCORE_X86_STATE_MODE) {
        uint8_t cpl = (uint8_t)((st->sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK) >> VCORE_X86_AR_DPL_SHIFT);
        VCORE__SVM_PUT(c, save.cpl, cpl, VCORE_VMCB_CLEAN_SEG);
    }
    if (groups & VCORE_X86_STATE_GPRS)
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            if (i != VCORE_X86_RAX && i != VCORE_X86_RSP)
                c->g.gpr[i] = st->regs.gpr[i];
    if (groups & VCORE_X86_STATE_CR8) {
        /* "Virtual Interrupts": with V_INTR_MASKING the guest's CR8 is V_TPR. */
        uint32_t ic = VCORE__SVM_RD(c, control.int_ctl);
        uint32_t neu = (ic & ~VCORE_VMCB_INT_V_TPR_MASK) | (uint32_t)(st->sregs.cr8 & 0xfu);
        if (neu != ic) {
            VCORE__SVM_WR(c, control.int_ctl, neu);
            c->dirty |= VCORE_VMCB_CLEAN_TPR;
        }
    }
    if (groups & VCORE_X86_STATE_DREGS)
        for (unsigned i = 0; i < 4; i++)
            c->dregs.dr[i] = st->dregs.dr[i];
    if (groups & VCORE_X86_STATE_FPU)
        vcore__svm_fpu_set(c, &st->fpu);
    if (groups & VCORE_X86_STATE_XMM)
        vcore__svm_fpu_set_xmm(c, st->xmm);
    if (groups & VCORE_X86_STATE_XCR0)
        c->xcr0 = st->xcr0;
    if (groups & VCORE_X86_STATE_MSRS) {
        c->msrs.apic_base = st->msrs.apic_base;
        c->msrs.misc_enable = st->msrs.misc_enable;
        c->msrs.smbase = st->msrs.smbase;
        c->msrs.tsc_aux = st->msrs.tsc_aux;
        c->msrs.feature_control = st->msrs.feature_control;
    }
    if (groups & VCORE_X86_STATE_TSC) {
        /* The guest reads TSC + TSC_OFFSET ("TSC Offset"). */
        uint64_t off = st->msrs.tsc - vcore__svm_rdtsc();
        VCORE__SVM_WR(c, control.tsc_offset, off);
        c->dirty |= VCORE_VMCB_CLEAN_I;
    }
    if (groups & VCORE_X86_STATE_EVENTS)
        vcore__svm_events_set(c, &st->events);
    return VCORE_OK;
}


void vcore__svm_state_skip(vcore__svm_vcpu_t *c)
{
    VCORE__SVM_WR(c, save.rip, c->next_rip);
    /* "Interrupt Shadows": blocking by STI or MOV SS lasts until the end of
     * the next instruction, which this one was. */
    uint32_t is = VCORE__SVM_RD(c, control.int_state);
    if (is & VCORE_VMCB_STATE_INTERRUPT_SHADOW)
        VCORE__SVM_WR(c, control.int_state, is & ~VCORE_VMCB_STATE_INTERRUPT_SHADOW);
    c->ev.sti_blocking = 0;
    c->ev.movss_blocking = 0;
}
