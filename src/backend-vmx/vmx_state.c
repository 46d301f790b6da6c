/*
 * vmx_state.c - lazy synchronisation of the core's register model with vmcs01.
 *
 * The backend remembers, per group of fields, the guest values the VMCS
 * holds (c->vm, valid where c->known says so). A read from the VMCS happens
 * only when the core asks for a class; a write happens only for a field
 * whose value differs from the one the VMCS is known to hold. After every
 * VM exit the groups the processor may have changed are forgotten.
 *
 * Guest GPRs other than RSP are not VMCS fields: they live in c->g, saved
 * and restored by the entry primitive, so they cost nothing to read.
 */
#include "vmx.h"

/* VMCS encodings of each segment register, indexed like vcore_x86_sregs_t::seg. */
static const struct {
    uint32_t sel, base, limit, ar;
} vcore__vmx_seg_fields[VCORE_X86_NR_SEGS] = {
    {VCORE_VMCS_GUEST_ES_SELECTOR, VCORE_VMCS_GUEST_ES_BASE, VCORE_VMCS_GUEST_ES_LIMIT, VCORE_VMCS_GUEST_ES_AR_BYTES},
    {VCORE_VMCS_GUEST_CS_SELECTOR, VCORE_VMCS_GUEST_CS_BASE, VCORE_VMCS_GUEST_CS_LIMIT, VCORE_VMCS_GUEST_CS_AR_BYTES},
    {VCORE_VMCS_GUEST_SS_SELECTOR, VCORE_VMCS_GUEST_SS_BASE, VCORE_VMCS_GUEST_SS_LIMIT, VCORE_VMCS_GUEST_SS_AR_BYTES},
    {VCORE_VMCS_GUEST_DS_SELECTOR, VCORE_VMCS_GUEST_DS_BASE, VCORE_VMCS_GUEST_DS_LIMIT, VCORE_VMCS_GUEST_DS_AR_BYTES},
    {VCORE_VMCS_GUEST_FS_SELECTOR, VCORE_VMCS_GUEST_FS_BASE, VCORE_VMCS_GUEST_FS_LIMIT, VCORE_VMCS_GUEST_FS_AR_BYTES},
    {VCORE_VMCS_GUEST_GS_SELECTOR, VCORE_VMCS_GUEST_GS_BASE, VCORE_VMCS_GUEST_GS_LIMIT, VCORE_VMCS_GUEST_GS_AR_BYTES},
    {VCORE_VMCS_GUEST_LDTR_SELECTOR, VCORE_VMCS_GUEST_LDTR_BASE, VCORE_VMCS_GUEST_LDTR_LIMIT, VCORE_VMCS_GUEST_LDTR_AR_BYTES},
    {VCORE_VMCS_GUEST_TR_SELECTOR, VCORE_VMCS_GUEST_TR_BASE, VCORE_VMCS_GUEST_TR_LIMIT, VCORE_VMCS_GUEST_TR_AR_BYTES},
};

/* Reads one field into *dst (of the given width) if the group is not known. */
static int vcore__vmx_rd(uint32_t field, uint64_t *dst)
{
    return vcore__vmx_vmread(field, dst);
}

/* Writes a field unless the VMCS is known to hold the value already. */
static int vcore__vmx_wr(bool known, uint64_t old, uint64_t neu, uint32_t field)
{
    if (known && old == neu)
        return VCORE_OK;
    return vcore__vmx_vmwrite(field, neu);
}

int vcore__vmx_state_rip(vcore__vmx_vcpu_t *c, uint64_t *rip)
{
    if (!(c->known & VCORE__VMX_K_RIP)) {
        int err = vcore__vmx_rd(VCORE_VMCS_GUEST_RIP, &c->vm.regs.rip);
        if (err)
            return err;
        c->known |= VCORE__VMX_K_RIP;
    }
    *rip = c->vm.regs.rip;
    return VCORE_OK;
}

int vcore__vmx_state_skip(vcore__vmx_vcpu_t *c)
{
    uint64_t rip;
    int err = vcore__vmx_state_rip(c, &rip);
    if (err)
        return err;
    /* Outside 64-bit mode the instruction pointer wraps at 32 bits. */
    rip += c->instr_len;
    if (!(c->entry_ctls != UINT32_MAX && (c->entry_ctls & VCORE__ENTRY_IA32E)))
        rip &= 0xffffffffull;
    err = vcore__vmx_vmwrite(VCORE_VMCS_GUEST_RIP, rip);
    if (err)
        return err;
    c->vm.regs.rip = rip;
    return VCORE_OK;
}

/* Guest SREGS from the VMCS into c->vm.sregs. */
static int vcore__vmx_sregs_load(vcore__vmx_vcpu_t *c)
{
    vcore_x86_sregs_t *s = &c->vm.sregs;
    uint64_t v;
    int err = VCORE_OK;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS && !err; i++) {
        err = vcore__vmx_rd(vcore__vmx_seg_fields[i].sel, &v);
        s->seg[i].selector = (uint16_t)v;
        if (!err)
            err = vcore__vmx_rd(vcore__vmx_seg_fields[i].base, &s->seg[i].base);
        if (!err)
            err = vcore__vmx_rd(vcore__vmx_seg_fields[i].limit, &v);
        s->seg[i].limit = (uint32_t)v;
        if (!err)
            err = vcore__vmx_rd(vcore__vmx_seg_fields[i].ar, &v);
        s->seg[i].ar = (uint32_t)v;
    }
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_GDTR_BASE, &s->gdtr.base);
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_GDTR_LIMIT, &v);
    s->gdtr.limit = (uint16_t)v;
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_IDTR_BASE, &s->idtr.base);
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_IDTR_LIMIT, &v);
    s->idtr.limit = (uint16_t)v;
    /* The guest sees the read shadow in the bits the host owns ("Guest/Host
     * Masks and Read Shadows for CR0 and CR4"); the shadows are what we wrote. */
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_CR0, &v);
    s->cr0 = (v & ~c->cr0_mask) | (s->cr0 & c->cr0_mask);
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_CR3, &s->cr3);
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_CR4, &v);
    s->cr4 = (v & ~c->cr4_mask) | (s->cr4 & c->cr4_mask);
    if (!err)
        err = vcore__vmx_rd(VCORE_VMCS_GUEST_IA32_EFER, &s->efer);
    if (!err)
        c->known |= VCORE__VMX_K_SREGS;
    return err;
}

int vcore__vmx_state_get(vcore__vmx_vcpu_t *c, vcore_x86_state_t *st, uint32_t classes)
{
    int err = VCORE_OK;
    if (classes & VCORE_X86_STATE_REGS) {
        uint64_t rip;
        err = vcore__vmx_state_rip(c, &rip);
        if (!err && !(c->known & VCORE__VMX_K_RSP)) {
            err = vcore__vmx_rd(VCORE_VMCS_GUEST_RSP, &c->vm.regs.gpr[VCORE_X86_RSP]);
            if (!err)
                c->known |= VCORE__VMX_K_RSP;
        }
        if (!err && !(c->known & VCORE__VMX_K_RFLAGS)) {
            err = vcore__vmx_rd(VCORE_VMCS_GUEST_RFLAGS, &c->vm.regs.rflags);
            if (!err)
                c->known |= VCORE__VMX_K_RFLAGS;
        }
        if (err)
            return err;
        st->regs.size = sizeof(st->regs);
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            st->regs.gpr[i] = (i == VCORE_X86_RSP) ? c->vm.regs.gpr[i] : c->g.gpr[i];
        st->regs.rip = c->vm.regs.rip;
        st->regs.rflags = c->vm.regs.rflags;
    }
    if (classes & VCORE_X86_STATE_SREGS) {
        if (!(c->known & VCORE__VMX_K_SREGS))
            err = vcore__vmx_sregs_load(c);
        if (err)
            return err;
        st->sregs = c->vm.sregs;
        st->sregs.size = sizeof(st->sregs);
        st->sregs.cr2 = c->g.cr2;
    }
    if (classes & VCORE_X86_STATE_DREGS) {
        if (!(c->known & VCORE__VMX_K_DR7)) {
            err = vcore__vmx_rd(VCORE_VMCS_GUEST_DR7, &c->vm.dregs.dr7);
            if (err)
                return err;
            c->known |= VCORE__VMX_K_DR7;
        }
        st->dregs = c->vm.dregs;
    }
    if (classes & VCORE_X86_STATE_MSRS) {
        if (!(c->known & VCORE__VMX_K_MSRS)) {
            vcore_x86_msrs_t *m = &c->vm.msrs;
            err = vcore__vmx_rd(VCORE_VMCS_GUEST_SYSENTER_CS, &m->sysenter_cs);
            if (!err)
                err = vcore__vmx_rd(VCORE_VMCS_GUEST_SYSENTER_ESP, &m->sysenter_esp);
            if (!err)
                err = vcore__vmx_rd(VCORE_VMCS_GUEST_SYSENTER_EIP, &m->sysenter_eip);
            if (!err)
                err = vcore__vmx_rd(VCORE_VMCS_GUEST_IA32_PAT, &m->pat);
            if (err)
                return err;
            c->known |= VCORE__VMX_K_MSRS;
        }
        st->msrs = c->vm.msrs;
        /* The list MSRs: the exit stored the guest's values in memory. */
        st->msrs.star = c->msr_area[0].value;
        st->msrs.lstar = c->msr_area[1].value;
        st->msrs.cstar = c->msr_area[2].value;
        st->msrs.sfmask = c->msr_area[3].value;
        st->msrs.kernel_gs_base = c->msr_area[4].value;
    }
    /* Not switched by this backend (see docs/embedding.md): returned as last set. */
    if (classes & VCORE_X86_STATE_FPU)
        st->fpu = c->vm.fpu;
    if (classes & VCORE_X86_STATE_XCR0)
        st->xcr0 = c->vm.xcr0;
    return VCORE_OK;
}

/* Writes the SREGS class, field by field, skipping what the VMCS already holds. */
static int vcore__vmx_sregs_store(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v,
                                  const vcore_x86_sregs_t *n)
{
    bool k = (c->known & VCORE__VMX_K_SREGS) != 0;
    vcore_x86_sregs_t *o = &c->vm.sregs;
    int err = VCORE_OK;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS && !err; i++) {
        err = vcore__vmx_wr(k, o->seg[i].selector, n->seg[i].selector, vcore__vmx_seg_fields[i].sel);
        if (!err)
            err = vcore__vmx_wr(k, o->seg[i].base, n->seg[i].base, vcore__vmx_seg_fields[i].base);
        if (!err)
            err = vcore__vmx_wr(k, o->seg[i].limit, n->seg[i].limit, vcore__vmx_seg_fields[i].limit);
        if (!err)
            err = vcore__vmx_wr(k, o->seg[i].ar, n->seg[i].ar, vcore__vmx_seg_fields[i].ar);
    }
    if (!err)
        err = vcore__vmx_wr(k, o->gdtr.base, n->gdtr.base, VCORE_VMCS_GUEST_GDTR_BASE);
    if (!err)
        err = vcore__vmx_wr(k, o->gdtr.limit, n->gdtr.limit, VCORE_VMCS_GUEST_GDTR_LIMIT);
    if (!err)
        err = vcore__vmx_wr(k, o->idtr.base, n->idtr.base, VCORE_VMCS_GUEST_IDTR_BASE);
    if (!err)
        err = vcore__vmx_wr(k, o->idtr.limit, n->idtr.limit, VCORE_VMCS_GUEST_IDTR_LIMIT);
    /* CR0/CR4: the hardware value carries the bits VMX operation forces
     * ("VMX-Fixed Bits in CR0/CR4"), the read shadow the guest's own. */
    if (!err && (!k || o->cr0 != n->cr0)) {
        uint64_t hw = (n->cr0 | c->cr0_forced) & v->caps.cr0_fixed1;
        err = vcore__vmx_vmwrite(VCORE_VMCS_GUEST_CR0, hw);
        if (!err)
            err = vcore__vmx_vmwrite(VCORE_VMCS_CR0_READ_SHADOW, n->cr0);
    }
    if (!err && (!k || o->cr4 != n->cr4)) {
        uint64_t hw = (n->cr4 | c->cr4_mask) & v->caps.cr4_fixed1;
        err = vcore__vmx_vmwrite(VCORE_VMCS_GUEST_CR4, hw);
        if (!err)
            err = vcore__vmx_vmwrite(VCORE_VMCS_CR4_READ_SHADOW, n->cr4);
    }
    if (!err)
        err = vcore__vmx_wr(k, o->cr3, n->cr3, VCORE_VMCS_GUEST_CR3);
    if (!err)
        err = vcore__vmx_wr(k, o->efer, n->efer, VCORE_VMCS_GUEST_IA32_EFER);
    if (err) {
        c->known &= ~VCORE__VMX_K_SREGS;
        return err;
    }
    /* "IA-32e mode guest" must equal EFER.LMA ("Checks on VM-Entry Control Fields"). */
    uint32_t entry = v->ctls.entry & ~VCORE__ENTRY_IA32E;
    if (n->efer & (1ull << 10))
        entry |= VCORE__ENTRY_IA32E;
    if (entry != c->entry_ctls) {
        err = vcore__vmx_vmwrite(VCORE_VMCS_VM_ENTRY_CONTROLS, entry);
        if (err)
            return err;
        c->entry_ctls = entry;
    }
    *o = *n;
    c->g.cr2 = n->cr2;
    c->known |= VCORE__VMX_K_SREGS;
    return VCORE_OK;
}

int vcore__vmx_state_set(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_x86_state_t *st,
                         uint32_t classes)
{
    int err = VCORE_OK;
    if (classes & VCORE_X86_STATE_REGS) {
        const vcore_x86_regs_t *r = &st->regs;
        /* A VMM that moves RIP has redirected the vCPU: the exited
         * instruction is no longer completed at the next run. */
        if (c->pending && (!(c->known & VCORE__VMX_K_RIP) || r->rip != c->vm.regs.rip)) {
            c->pending = 0;
            c->pending_reply = false;
        }
        err = vcore__vmx_wr(c->known & VCORE__VMX_K_RIP, c->vm.regs.rip, r->rip, VCORE_VMCS_GUEST_RIP);
        if (!err)
            err = vcore__vmx_wr(c->known & VCORE__VMX_K_RSP, c->vm.regs.gpr[VCORE_X86_RSP],
                                r->gpr[VCORE_X86_RSP], VCORE_VMCS_GUEST_RSP);
        if (!err)
            err = vcore__vmx_wr(c->known & VCORE__VMX_K_RFLAGS, c->vm.regs.rflags, r->rflags,
                                VCORE_VMCS_GUEST_RFLAGS);
        if (err) {
            c->known &= ~(VCORE__VMX_K_RIP | VCORE__VMX_K_RSP | VCORE__VMX_K_RFLAGS);
            return err;
        }
        c->vm.regs = *r;
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            if (i != VCORE_X86_RSP)
                c->g.gpr[i] = r->gpr[i];
        c->known |= VCORE__VMX_K_RIP | VCORE__VMX_K_RSP | VCORE__VMX_K_RFLAGS;
    }
    if (classes & VCORE_X86_STATE_SREGS) {
        err = vcore__vmx_sregs_store(c, v, &st->sregs);
        if (err)
            return err;
    }
    if (classes & VCORE_X86_STATE_DREGS) {
        err = vcore__vmx_wr(c->known & VCORE__VMX_K_DR7, c->vm.dregs.dr7, st->dregs.dr7,
                            VCORE_VMCS_GUEST_DR7);
        if (err)
            return err;
        c->vm.dregs = st->dregs;
        c->known |= VCORE__VMX_K_DR7;
    }
    if (classes & VCORE_X86_STATE_MSRS) {
        const vcore_x86_msrs_t *n = &st->msrs;
        vcore_x86_msrs_t *o = &c->vm.msrs;
        bool k = (c->known & VCORE__VMX_K_MSRS) != 0;
        err = vcore__vmx_wr(k, o->sysenter_cs, n->sysenter_cs, VCORE_VMCS_GUEST_SYSENTER_CS);
        if (!err)
            err = vcore__vmx_wr(k, o->sysenter_esp, n->sysenter_esp, VCORE_VMCS_GUEST_SYSENTER_ESP);
        if (!err)
            err = vcore__vmx_wr(k, o->sysenter_eip, n->sysenter_eip, VCORE_VMCS_GUEST_SYSENTER_EIP);
        if (!err)
            err = vcore__vmx_wr(k, o->pat, n->pat, VCORE_VMCS_GUEST_IA32_PAT);
        if (err) {
            c->known &= ~VCORE__VMX_K_MSRS;
            return err;
        }
        *o = *n;
        c->msr_area[0].value = n->star;
        c->msr_area[1].value = n->lstar;
        c->msr_area[2].value = n->cstar;
        c->msr_area[3].value = n->sfmask;
        c->msr_area[4].value = n->kernel_gs_base;
        c->known |= VCORE__VMX_K_MSRS;
    }
    if (classes & VCORE_X86_STATE_FPU)
        c->vm.fpu = st->fpu;
    if (classes & VCORE_X86_STATE_XCR0)
        c->vm.xcr0 = st->xcr0;
    return VCORE_OK;
}
