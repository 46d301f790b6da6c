/*
 * vmx_state.c - synchronisation of the core's state groups with vmcs01.
 *
 * backend.h: get_state writes exactly the groups asked for, set_state
 * writes what it is given. Each guest field of vmcs01 that a group maps to
 * is cached in the VMCS object (struct vcore_hw_vmcs) together with a
 * "known" bit: a VMREAD happens only for a field whose value the backend
 * does not know, a VMWRITE only for a field whose value changes. After a VM
 * exit the fields the guest can change are forgotten; CR0, CR4 and EFER
 * stay known, because every guest write to them exits.
 *
 * Guest GPRs other than RSP, and CR2, are not VMCS fields: they live in
 * c->g, saved and restored by the entry primitive, so they cost nothing.
 * The x87/SSE state (FPU and XMM groups) lives in the vCPU's FXSAVE image
 * (vmx_fpu.c). The TSC is the host's plus vmcs01's TSC offset, which a
 * written TSC sets. State the backend does not switch (DR0-3, DR6, XCR0,
 * MSRs outside the VMCS and the MSR lists) is kept as last set.
 */
#include "vmx.h"

#include "virtcore/vm.h"

/* The member a field maps to, read or written at its own width. */
static uint64_t vcore__vmx_state_load(const vcore_x86_state_t *st, uint32_t f)
{
    const uint8_t *p = (const uint8_t *)st + vcore__vmx_fields[f].offset;
    switch (vcore__vmx_fields[f].width) {
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

static void vcore__vmx_state_store(vcore_x86_state_t *st, uint32_t f, uint64_t value)
{
    uint8_t *p = (uint8_t *)st + vcore__vmx_fields[f].offset;
    switch (vcore__vmx_fields[f].width) {
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

int vcore__vmx_state_get(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, vcore_x86_state_t *st,
                         uint32_t groups)
{
    (void)v;
    for (uint32_t f = 0; f < VCORE__VMX_NR_FIELDS; f++) {
        uint32_t kind = vcore__vmx_fields[f].kind;
        /* The hardware CR0/CR4 carry forced bits; the guest's values are the read shadows. */
        if (!(vcore__vmx_fields[f].group & groups) ||
            (kind != VCORE__VMX_K_PLAIN && kind != VCORE__VMX_K_EFER))
            continue;
        uint64_t value;
        int err = vcore__vmx_field_get(c, f, &value);
        if (err)
            return err;
        vcore__vmx_state_store(st, f, value);
    }
    if (groups & VCORE_X86_STATE_GPRS)
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            if (i != VCORE_X86_RSP)
                st->regs.gpr[i] = c->g.gpr[i];
    if (groups & VCORE_X86_STATE_CR2)
        st->sregs.cr2 = c->g.cr2;
    if (groups & VCORE_X86_STATE_CR8)
        st->sregs.cr8 = c->cr8;
    if (groups & VCORE_X86_STATE_DREGS) {
        st->dregs.size = sizeof(st->dregs);
        for (unsigned i = 0; i < 4; i++)
            st->dregs.dr[i] = c->dregs.dr[i];
        st->dregs.dr6 = c->dregs.dr6;
    }
    if (groups & VCORE_X86_STATE_FPU)
        vcore__vmx_fpu_get(c, &st->fpu);
    if (groups & VCORE_X86_STATE_XMM)
        vcore__vmx_fpu_get_xmm(c, st->xmm);
    if (groups & VCORE_X86_STATE_XCR0)
        st->xcr0 = c->xcr0;
    if (groups & VCORE_X86_STATE_MSRS) {
        vcore_x86_msrs_t *m = &st->msrs;
        m->apic_base = c->msrs.apic_base;
        m->misc_enable = c->msrs.misc_enable;
        m->smbase = c->msrs.smbase;
        m->tsc_aux = c->msrs.tsc_aux;
        m->feature_control = c->msrs.feature_control;
        /* The list MSRs: the last exit stored the guest's values in memory. */
        m->star = c->msr_area[0].value;
        m->lstar = c->msr_area[1].value;
        m->cstar = c->msr_area[2].value;
        m->sfmask = c->msr_area[3].value;
        m->kernel_gs_base = c->msr_area[4].value;
    }
    /* "use TSC offsetting" ("Changes to Instruction Behavior in VMX
     * Non-Root Operation", RDTSC and RDMSR): the guest reads the host's TSC
     * plus the offset, which a written TSC chose. */
    if (groups & VCORE_X86_STATE_TSC)
        st->msrs.tsc = vcore__vmx_rdtsc() + c->tsc_offset;
    if (groups & VCORE_X86_STATE_EVENTS)
        return vcore__vmx_events_get(c, &st->events);
    return VCORE_OK;
}

/* EFER as the guest runs with it: LMA follows LME and CR0.PG ("Initializing
 * IA-32e Mode"), whichever of the two the core changed. */
static int vcore__vmx_state_efer(vcore__vmx_vcpu_t *c, const vcore_x86_state_t *st, uint32_t groups)
{
    /* CR0 is in the cache by now (written before, or known). */
    uint64_t efer = st->sregs.efer, cr0 = 0;
    int err = vcore__vmx_field_get(c, VCORE__VMX_F_CR0_SHADOW, &cr0);
    if (!err && !(groups & VCORE_X86_STATE_EFER))
        err = vcore__vmx_field_get(c, VCORE__VMX_F_EFER, &efer);
    if (err)
        return err;
    if ((efer & VCORE__EFER_LME) && (cr0 & VCORE__CR0_PG))
        efer |= VCORE__EFER_LMA;
    else
        efer &= ~VCORE__EFER_LMA;
    return vcore__vmx_field_put(c, VCORE__VMX_F_EFER, efer);
}

/*
 * PAE paging with EPT: VM entry loads the four PDPTEs from the VMCS, not
 * from memory ("Loading Page-Directory-Pointer-Table Entries"); MOV to CR3
 * in the guest loads them itself and VM exits save them. When the core
 * changes the paging registers into (or within) PAE paging, the backend
 * loads them from guest memory, as MOV to CR3 would (once: the copy goes
 * to the VMCS; a table outside RAM gives not-present entries).
 */
static int vcore__vmx_state_pdptes(vcore__vmx_vcpu_t *c)
{
    static const uint32_t fields[4] = {VCORE_VMCS_GUEST_PDPTR0, VCORE_VMCS_GUEST_PDPTR1,
                                       VCORE_VMCS_GUEST_PDPTR2, VCORE_VMCS_GUEST_PDPTR3};
    uint64_t cr0, cr3, cr4, efer;
    int err = vcore__vmx_field_get(c, VCORE__VMX_F_CR0_SHADOW, &cr0);
    if (!err)
        err = vcore__vmx_field_get(c, VCORE__VMX_F_CR4_SHADOW, &cr4);
    if (!err)
        err = vcore__vmx_field_get(c, VCORE__VMX_F_EFER, &efer);
    if (err || !(cr0 & VCORE__CR0_PG) || !(cr4 & VCORE__CR4_PAE) || (efer & VCORE__EFER_LMA))
        return err;
    err = vcore__vmx_field_get(c, VCORE__VMX_F_CR3, &cr3);
    if (err)
        return err;
    uint64_t pdpte[4];
    /* CR3 bits 31:5 locate the table in PAE paging ("PAE Paging"). */
    if (vcore_vm_read_guest(c->vmobj, cr3 & 0xffffffe0ull, pdpte, sizeof(pdpte)) != VCORE_OK)
        vcore__memset(pdpte, 0, sizeof(pdpte));
    for (unsigned i = 0; i < 4 && !err; i++)
        err = vcore__vmx_field_write(fields[i], pdpte[i]);
    return err;
}

int vcore__vmx_state_set(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_x86_state_t *st,
                         uint32_t groups)
{
    struct vcore_hw_vmcs *o = &c->vmcs01;
    /* Refused before anything changes: FXRSTOR would #GP on it. */
    if ((groups & VCORE_X86_STATE_FPU) && !vcore__vmx_fpu_ok(c, &st->fpu))
        return VCORE_ERR_INVAL;
    /* A VMM that moves RIP has redirected the vCPU: the exited instruction
     * is no longer completed at the next run. */
    if ((groups & VCORE_X86_STATE_RIP) && c->pending &&
        (!(o->known & VCORE__VMX_FBIT(RIP)) || o->cache[VCORE__VMX_F_RIP] != st->regs.rip)) {
        c->pending = 0;
        c->pending_reply = false;
    }
    for (uint32_t f = 0; f < VCORE__VMX_NR_FIELDS; f++) {
        if (!(vcore__vmx_fields[f].group & groups))
            continue;
        uint64_t value = vcore__vmx_state_load(st, f);
        switch (vcore__vmx_fields[f].kind) {
        case VCORE__VMX_K_CR0_HW:
            /* The guest runs with the bits VMX operation forces ("VMX-Fixed
             * Bits in CR0 and CR4"); it reads its own value from the shadow. */
            value = (value | c->cr0_forced) & v->caps.cr0_fixed1;
            break;
        case VCORE__VMX_K_CR4_HW:
            value = (value | v->caps.cr4_fixed0) & v->caps.cr4_fixed1;
            break;
        case VCORE__VMX_K_PLAIN:
            break;
        default:
            continue; /* EFER below, the interruptibility state with the events */
        }
        int err = vcore__vmx_field_put(c, f, value);
        if (err)
            return err;
    }
    if (groups & (VCORE_X86_STATE_CR0 | VCORE_X86_STATE_EFER)) {
        int err = vcore__vmx_state_efer(c, st, groups);
        if (err)
            return err;
    }
    if (groups & (VCORE_X86_STATE_CR0 | VCORE_X86_STATE_CR3 | VCORE_X86_STATE_CR4 |
                  VCORE_X86_STATE_EFER)) {
        int err = vcore__vmx_state_pdptes(c);
        if (err)
            return err;
    }
    if (groups & VCORE_X86_STATE_GPRS)
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            if (i != VCORE_X86_RSP)
                c->g.gpr[i] = st->regs.gpr[i];
    if (groups & VCORE_X86_STATE_CR2)
        c->g.cr2 = st->sregs.cr2;
    if (groups & VCORE_X86_STATE_CR8)
        c->cr8 = st->sregs.cr8;
    if (groups & VCORE_X86_STATE_DREGS) {
        for (unsigned i = 0; i < 4; i++)
            c->dregs.dr[i] = st->dregs.dr[i];
        c->dregs.dr6 = st->dregs.dr6;
    }
    if (groups & VCORE_X86_STATE_FPU)
        vcore__vmx_fpu_set(c, &st->fpu);
    if (groups & VCORE_X86_STATE_XMM)
        vcore__vmx_fpu_set_xmm(c, st->xmm);
    if (groups & VCORE_X86_STATE_XCR0)
        c->xcr0 = st->xcr0;
    if (groups & VCORE_X86_STATE_MSRS) {
        const vcore_x86_msrs_t *m = &st->msrs;
        c->msrs.apic_base = m->apic_base;
        c->msrs.misc_enable = m->misc_enable;
        c->msrs.smbase = m->smbase;
        c->msrs.tsc_aux = m->tsc_aux;
        c->msrs.feature_control = m->feature_control;
        c->msr_area[0].value = m->star;
        c->msr_area[1].value = m->lstar;
        c->msr_area[2].value = m->cstar;
        c->msr_area[3].value = m->sfmask;
        c->msr_area[4].value = m->kernel_gs_base;
    }
    if (groups & VCORE_X86_STATE_TSC) {
        uint64_t offset = st->msrs.tsc - vcore__vmx_rdtsc();
        int err = vcore__vmx_field_write(VCORE_VMCS_TSC_OFFSET, offset);
        if (err)
            return err;
        c->tsc_offset = offset;
    }
    if (groups & VCORE_X86_STATE_EVENTS)
        return vcore__vmx_events_set(c, &st->events);
    return VCORE_OK;
}

int vcore__vmx_state_long64(vcore__vmx_vcpu_t *c, bool *long64)
{
    uint64_t efer, cs_ar = 0;
    int err = vcore__vmx_field_get(c, VCORE__VMX_F_EFER, &efer);
    if (!err && (efer & VCORE__EFER_LMA))
        err = vcore__vmx_field_get(c, VCORE__VMX_F_CS_AR, &cs_ar);
    *long64 = !err && (efer & VCORE__EFER_LMA) && (cs_ar & VCORE_X86_AR_L);
    return err;
}

int vcore__vmx_state_skip(vcore__vmx_vcpu_t *c)
{
    uint64_t rip = 0, efer = 0;
    int err = vcore__vmx_field_get(c, VCORE__VMX_F_RIP, &rip);
    if (!err)
        err = vcore__vmx_field_get(c, VCORE__VMX_F_EFER, &efer);
    if (err)
        return err;
    uint64_t next = rip + c->instr_len;
    /* Outside 64-bit mode the instruction pointer is EIP and wraps at 32
     * bits. In IA-32e mode, compatibility mode (CS.L = 0) runs with RIP
     * below 4 GiB ("Checks on Guest RIP and RFLAGS"), so CS.L matters (and
     * costs a VMREAD) only when the sum crosses 4 GiB. */
    bool wrap32 = !(efer & VCORE__EFER_LMA);
    if (!wrap32 && (rip >> 32) == 0 && (next >> 32) != 0) {
        bool long64;
        err = vcore__vmx_state_long64(c, &long64);
        if (err)
            return err;
        wrap32 = !long64;
    }
    if (wrap32)
        next &= 0xffffffffull;
    err = vcore__vmx_field_put(c, VCORE__VMX_F_RIP, next);
    if (err)
        return err;
    /* SDM Vol. 3, "Interruptibility State": blocking by STI or MOV SS lasts
     * until the end of the next instruction, which this one was. */
    return vcore__vmx_events_end_blocking(c);
}
