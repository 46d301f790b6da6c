/*
 * nsvm_vmrun.c - VMRUN for L1 (APM Vol. 2, "VMRUN Instruction"): the VMCB12
 * page is read once into a copy; the state-save fields whose VMCB clean bit
 * L1 left set keep the values last loaded from the same VMCB12 ("VMCB State
 * Caching"); the resulting image is checked ("Canonicalization and
 * Consistency Checks") together with the CR3 load, and only then does L1's
 * state go to the host-save copy and L2's come from the image. A failure is
 * #VMEXIT with VMEXIT_INVALID.
 */
#include "nsvm_priv.h"

/* The state-save fields a VMCB clean bit covers: X(clean bit, offset in the
 * save area, bytes). The control area is always taken from the copy. */
#define VCORE__NSVM_CACHED_LIST(X)                                                                  \
    X(SEG, 0x000, 0x40) /* ES, CS, SS, DS */                                                        \
    X(SEG, 0x0cb, 1)    /* CPL */                                                                   \
    X(DT, 0x060, 0x10)  /* GDTR */                                                                  \
    X(DT, 0x080, 0x10)  /* IDTR */                                                                  \
    X(CRX, 0x0d0, 8)    /* EFER */                                                                  \
    X(CRX, 0x148, 0x18) /* CR4, CR3, CR0 */                                                         \
    X(DRX, 0x160, 0x10) /* DR7, DR6 */                                                              \
    X(CR2, 0x240, 8)    /* CR2 */                                                                   \
    X(NP, 0x268, 8)     /* G_PAT */

/* Puts the cached value of every group L1 marked clean into the image. */
static void nsvm_apply_clean(const vcore_nsvm_t *n, vcore_vmcb_t *img)
{
    uint32_t clean = img->control.clean;
    uint8_t *dst = (uint8_t *)&img->save;
    const uint8_t *src = (const uint8_t *)&n->vmcb12.save;
#define VCORE__NSVM_CACHED_ROW(bit, off, len)                                                       \
    if (clean & VCORE_VMCB_CLEAN_##bit)                                                             \
        vcore__memcpy(dst + (off), src + (off), (len));
    VCORE__NSVM_CACHED_LIST(VCORE__NSVM_CACHED_ROW)
#undef VCORE__NSVM_CACHED_ROW
}

int vcore__nsvm_load_pdptes(const vcore_nvmx_mem_t *mem, uint64_t base, uint32_t maxphyaddr, uint64_t out[4])
{
    uint8_t b[32];
    /* "PAE Paging": CR3[31:5] locates the page-directory-pointer table;
     * bits 4:0 are ignored (also for nCR3 of a PAE nested table). */
    int err = mem->read(mem->ctx, base & 0xffffffe0ull, b, sizeof(b));
    if (err)
        return err;
    for (uint32_t i = 0; i < 4; i++) {
        uint64_t e = 0;
        for (uint32_t k = 0; k < 8; k++)
            e |= (uint64_t)b[i * 8 + k] << (8u * k);
        /* A present PDPTE with bits 2:1, 8:5 or 63:MAXPHYADDR set is a
         * reserved-bit violation at the load. */
        if ((e & 1u) && ((e & 0x1e6ull) || !vcore__x86_phys_ok(e & ~0xfffull, maxphyaddr)))
            return VCORE_ERR_INVAL;
        out[i] = e;
    }
    return VCORE_OK;
}

/* #VMEXIT(VMEXIT_INVALID): VMCB12 gets the exit code, L1 goes on after its
 * VMRUN with GIF clear. Writes outside RAM are dropped like any physical
 * write. */
static int nsvm_vmrun_fail(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_insn_t *in,
                           uint64_t vmcb12_pa, uint32_t check, vcore_nsvm_result_t *res)
{
    uint64_t saved = n->vmcb12_pa;
    n->vmcb12_pa = vmcb12_pa;
    (void)vcore__nsvm_write12(n, mem, 0x070, VCORE_VMEXIT_INVALID_CODE, 8);
    (void)vcore__nsvm_write12(n, mem, 0x078, 0, 8);
    (void)vcore__nsvm_write12(n, mem, 0x080, 0, 8);
    n->vmcb12_pa = saved;
    n->gif = false;
    res->gif = 0;
    res->check = check;
    res->regs.rip = in->regs.rip + in->insn_len;
    /* "#VMEXIT": the host's DR7 disables every breakpoint. */
    res->dr7 = 0x400;
    res->outcome = VCORE_NSVM_OUT_VMEXIT;
    return VCORE_OK;
}

/* L2's registers from the checked image. */
static void nsvm_load_l2(const vcore_vmcb_t *v, vcore_nsvm_result_t *res)
{
    const vcore_vmcb_save_t *s = &v->save;
    vcore__nsvm_seg_from_vmcb(&res->sregs.seg[VCORE_X86_ES], &s->es);
    vcore__nsvm_seg_from_vmcb(&res->sregs.seg[VCORE_X86_CS], &s->cs);
    vcore__nsvm_seg_from_vmcb(&res->sregs.seg[VCORE_X86_SS], &s->ss);
    vcore__nsvm_seg_from_vmcb(&res->sregs.seg[VCORE_X86_DS], &s->ds);
    res->sregs.gdtr.base = s->gdtr.base;
    res->sregs.gdtr.limit = (uint16_t)s->gdtr.limit;
    res->sregs.idtr.base = s->idtr.base;
    res->sregs.idtr.limit = (uint16_t)s->idtr.limit;
    res->sregs.efer = s->efer;
    res->sregs.cr0 = s->cr0;
    res->sregs.cr2 = s->cr2;
    res->sregs.cr3 = s->cr3;
    res->sregs.cr4 = s->cr4;
    res->dr6 = s->dr6;
    res->dr7 = s->dr7;
    res->regs.rflags = s->rflags;
    res->regs.rip = s->rip;
    res->regs.gpr[VCORE_X86_RSP] = s->rsp;
    res->regs.gpr[VCORE_X86_RAX] = s->rax;
    /* Under nested paging the guest's PAT is G_PAT ("Nested Paging"). */
    if (v->control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE)
        res->msrs.pat = s->g_pat;
}

/* vmcb02's state-save area: L2's state from the image (the VMLOAD/VMSAVE
 * fields are L0's to load with VMLOAD around the run). */
static void nsvm_vmcb02_save(vcore_nsvm_t *n)
{
    const vcore_vmcb_save_t *s = &n->vmcb12.save;
    vcore_vmcb_save_t *d = &n->vmcb02.save;
    vcore__memset(d, 0, sizeof(*d));
    d->es = s->es;
    d->cs = s->cs;
    d->ss = s->ss;
    d->ds = s->ds;
    d->gdtr = s->gdtr;
    d->idtr = s->idtr;
    d->cpl = s->cpl;
    d->efer = s->efer;
    d->cr4 = s->cr4;
    d->cr3 = s->cr3;
    d->cr0 = s->cr0;
    d->dr7 = s->dr7;
    d->dr6 = s->dr6;
    d->rflags = s->rflags;
    d->rip = s->rip;
    d->rsp = s->rsp;
    d->rax = s->rax;
    d->cr2 = s->cr2;
    d->g_pat = s->g_pat;
}

int vcore__nsvm_vmrun(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_insn_t *in,
                      vcore_nsvm_result_t *res, vcore_diag_t *diag)
{
    uint64_t pa = vcore__nsvm_rax(in);
    vcore_vmcb_t *img = &n->scratch;
    /* The one read of VMCB12 (CVE-2021-29657 class: nothing below reads
     * L1's page again). */
    if (mem->read(mem->ctx, pa, img, sizeof(*img)) != VCORE_OK) {
        (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_VMCB12_READ, pa);
        return nsvm_vmrun_fail(n, mem, in, pa, VCORE_DIAG_NSVM_VMCB12_READ, res);
    }
    bool same = n->cache_valid && n->last_vmcb12_pa == pa;
    if (same && (n->features & VCORE_SVM_FEAT_VMCB_CLEAN))
        nsvm_apply_clean(n, img);

    vcore_svm_check_input_t ci;
    vcore_svm_verdict_t v;
    vcore__memset(&ci, 0, sizeof(ci));
    ci.size = sizeof(ci);
    ci.vmcb12 = img;
    ci.svm_features = n->features;
    ci.maxphyaddr = n->maxphyaddr;
    ci.l1_efer = in->sregs.efer;
    ci.cpuid = in->cpuid;
    ci.ncpuid = in->ncpuid;
    v.size = sizeof(v);
    int err = vcore_svm_check_vmrun(&ci, &v, NULL, 0);
    if (err)
        return err;
    if (v.kind != VCORE_SVM_VMRUN_OK) {
        (void)vcore__diag_set(diag, v.check, v.value);
        return nsvm_vmrun_fail(n, mem, in, pa, v.check, res);
    }
    /* NP_ENABLE means nothing to an L1 not offered nested paging
     * (CPUID Fn8000_000A_EDX[NP] clear): L2 then runs on L1's shadow
     * view, and the bit is not used anywhere below. */
    if (!(n->features & VCORE_SVM_FEAT_NP))
        img->control.nested_ctl &= ~VCORE_VMCB_NESTED_NP_ENABLE;
    /* The CR3 load can fail (APM "PAE Paging": the PDPTEs are loaded with
     * CR3): L2's CR3 when L1 gives it no nested paging, L1's nCR3 when L1's
     * nested table is a PAE table (L1 in legacy PAE mode). */
    bool np = (img->control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE) != 0;
    uint64_t pdptes[4] = {0, 0, 0, 0};
    if (!np && vcore__nsvm_pae_legacy(img->save.cr0, img->save.cr4, img->save.efer))
        err = vcore__nsvm_load_pdptes(mem, img->save.cr3, n->maxphyaddr, pdptes);
    else if (np && vcore__nsvm_pae_legacy(in->sregs.cr0, in->sregs.cr4, in->sregs.efer))
        err = vcore__nsvm_load_pdptes(mem, img->control.n_cr3, n->maxphyaddr, pdptes);
    if (err) {
        (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_PDPTE_LOAD, np ? img->control.n_cr3 : img->save.cr3);
        return nsvm_vmrun_fail(n, mem, in, pa, VCORE_DIAG_NSVM_PDPTE_LOAD, res);
    }

    /* Committed: from here on nothing fails. */
    uint32_t old_asid = n->vmcb12.control.asid;
    n->host.regs = in->regs;
    n->host.regs.rip = in->regs.rip + in->insn_len;
    n->host.sregs = in->sregs;
    n->host.pat = in->msrs.pat;
    n->host.dr6 = in->dr6;
    vcore__memcpy(&n->vmcb12, img, sizeof(n->vmcb12));
    n->vmcb12_pa = pa;
    n->last_vmcb12_pa = pa;
    n->cache_valid = true;
    vcore__nsvm_merge_controls(n);
    vcore__nsvm_merge_maps(n, mem);
    nsvm_vmcb02_save(n);
    nsvm_load_l2(&n->vmcb12, res);
    if (!np)
        vcore__memcpy(res->pdptes, pdptes, sizeof(pdptes));
    /* A TLB flush for L2 when L1 asks for one (TLB_CONTROL) or runs another
     * of its ASIDs on this vCPU; otherwise L2's translations stay. */
    res->tlb_flush = (n->vmcb12.control.tlb_control != VCORE_VMCB_TLB_NOTHING || !same ||
                      old_asid != n->vmcb12.control.asid)
                         ? 1u
                         : 0u;
    /* L0 reloads its translations only when the roots or the mode change;
     * with nested paging, L2 runs on other roots than L1 by definition. */
    res->paging_changed = (np || vcore__nsvm_paging_differs(&in->sregs, &res->sregs)) ? 1u : 0u;
    /* "VMRUN": GIF is set on entry to the guest. */
    n->gif = true;
    n->guest_mode = true;
    n->run_pending = true;
    res->gif = 1;
    res->outcome = VCORE_NSVM_OUT_ENTER_L2;
    return VCORE_OK;
}
