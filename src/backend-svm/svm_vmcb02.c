/*
 * svm_vmcb02.c - hardware VMCB objects for the core (backend.h, VMCB ops):
 * the VMCB nested SVM runs L2 on.
 *
 * Each object is a VMCB page with its own permission maps, ASID, clean
 * bits and, when L1 gives L2 nested paging, a shadow nested page table
 * (L2 guest-physical -> host-physical, filled page by page by the core
 * from L1's table composed with the VM's own). The run borrows the vCPU's
 * machinery: the object's VMCB, ASID, clean-bit state and pending exit are
 * swapped into the vCPU for the VMRUN, the exit decoding and the
 * completion of the reply, then swapped back, so vmcb01 and the vCPU's
 * own events are untouched (APM Vol. 2, "VMRUN Instruction", "VMCB Clean
 * Field", "TLB Control").
 */
#include "svm.h"

#include "virtcore/x86/nvmx_pipeline.h"

/* TSC_OFFSET (APM Vol. 2, "VMCB Layout, Control Area"). */
#define VCORE__SVM_TSC_OFFSET 0x050u

/* The vCPU state a hardware VMCB object brings to its run. */
static void vcore__svm_vmcb02_swap(vcore__svm_vcpu_t *c, struct vcore_hw_vmcb *o)
{
#define VCORE__SVM_SWAP(type, f)                                                                    \
    do {                                                                                            \
        type t_ = c->f;                                                                             \
        c->f = o->f;                                                                                \
        o->f = t_;                                                                                  \
    } while (0)
    VCORE__SVM_SWAP(vcore_vmcb_t *, vmcb);
    VCORE__SVM_SWAP(uint64_t, vmcb_pa);
    VCORE__SVM_SWAP(uint32_t, asid);
    VCORE__SVM_SWAP(uint32_t, asid_generation);
    VCORE__SVM_SWAP(uint32_t, npt_gen);
    VCORE__SVM_SWAP(uint32_t, dirty);
    VCORE__SVM_SWAP(bool, ran);
    VCORE__SVM_SWAP(uint32_t, pending);
    VCORE__SVM_SWAP(uint64_t, next_rip);
#undef VCORE__SVM_SWAP
}

static struct vcore_hw_vmcb *vcore__svm_vmcb02_obj(vcore__svm_vcpu_t *c, vcore_hw_vmcb_t *vmcb)
{
    for (uint32_t i = 0; i < VCORE__SVM_NVMCB; i++)
        if (vmcb == &c->vmcb02[i] && c->vmcb02[i].in_use)
            return vmcb;
    return NULL;
}

static void vcore__svm_vmcb02_release(struct vcore_hw_vmcb *o, vcore__svm_vm_t *v, const vcore_host_t *host)
{
    if (o->vmcb)
        host->free_pages(host->ctx, o->vmcb, 1);
    if (o->msrpm)
        host->free_pages(host->ctx, o->msrpm, 2);
    if (o->iopm)
        host->free_pages(host->ctx, o->iopm, 3);
    if (o->shadow.root) {
        vcore__svm_npt_clear(&o->shadow, &v->pool);
        vcore__svm_pool_put(&v->pool, o->shadow.root);
    }
    vcore__memset(o, 0, sizeof(*o));
}

int vcore__svm_hw_vmcb_alloc(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t **out)
{
    vcore__svm_vcpu_t *c = priv;
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);
    vcore__svm_vm_t *v = vcore_vm_backend_priv(vm);
    const vcore_host_t *host = vcore_vm_host(vm);
    struct vcore_hw_vmcb *o = NULL;
    for (uint32_t i = 0; i < VCORE__SVM_NVMCB && !o; i++)
        if (!c->vmcb02[i].in_use)
            o = &c->vmcb02[i];
    if (!o)
        return VCORE_ERR_NOMEM;
    vcore__memset(o, 0, sizeof(*o));
    o->vmcb = host->alloc_pages(host->ctx, 1, &o->vmcb_pa);
    o->msrpm = host->alloc_pages(host->ctx, 2, &o->msrpm_pa);
    o->iopm = host->alloc_pages(host->ctx, 3, &o->iopm_pa);
    if (!o->vmcb || !o->msrpm || !o->iopm) {
        vcore__svm_vmcb02_release(o, v, host);
        return VCORE_ERR_NOMEM;
    }
    vcore__memset(o->vmcb, 0, VCORE_PAGE_SIZE);
    /* Until set up, every MSR and port exits ("MSR Intercepts", "I/O Intercepts"). */
    vcore__memset(o->msrpm, 0xff, 2 * VCORE_PAGE_SIZE);
    vcore__memset(o->iopm, 0xff, 3 * VCORE_PAGE_SIZE);
    /* The backend-owned fields: the maps, nested paging on the VM's table. */
    o->vmcb->control.iopm_base_pa = o->iopm_pa;
    o->vmcb->control.msrpm_base_pa = o->msrpm_pa;
    o->vmcb->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    o->vmcb->control.n_cr3 = v->npt.root_pa;
    o->npt_gen = v->npt.gen;
    o->dirty = VCORE_VMCB_CLEAN_ALL_;
    o->in_use = true;
    *out = o;
    return VCORE_OK;
}

void vcore__svm_hw_vmcb_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb)
{
    vcore__svm_vcpu_t *c = priv;
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);
    struct vcore_hw_vmcb *o = vcore__svm_vmcb02_obj(c, vmcb);
    if (o)
        vcore__svm_vmcb02_release(o, vcore_vm_backend_priv(vm), vcore_vm_host(vm));
}

/* A named field at exactly this offset and width. */
static bool vcore__svm_vmcb02_named(uint32_t offset, uint32_t bytes)
{
    vcore_vmcb_field_info_t info;
    info.size = sizeof(info);
    return vcore_vmcb_field_lookup(offset, &info) == VCORE_OK && info.bytes == bytes;
}

int vcore__svm_hw_vmcb_read(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                         uint64_t *value)
{
    (void)vcpu;
    vcore__svm_vcpu_t *c = priv;
    struct vcore_hw_vmcb *o = vcore__svm_vmcb02_obj(c, vmcb);
    if (!o || !value)
        return VCORE_ERR_INVAL;
    if (!vcore__svm_vmcb02_named(offset, bytes))
        return VCORE_ERR_NOENT;
    c->stats.vmcb_reads++;
    if (offset == VCORE__SVM_TSC_OFFSET) {
        *value = o->tsc_offset;
        return VCORE_OK;
    }
    return vcore_vmcb_read(o->vmcb, offset, bytes, value);
}

int vcore__svm_hw_vmcb_write(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                          uint64_t value)
{
    (void)vcpu;
    vcore__svm_vcpu_t *c = priv;
    struct vcore_hw_vmcb *o = vcore__svm_vmcb02_obj(c, vmcb);
    if (!o)
        return VCORE_ERR_INVAL;
    if (!vcore__svm_vmcb02_named(offset, bytes))
        return VCORE_ERR_NOENT;
    if (vcore_vmcb_field_backend_owned(offset))
        return VCORE_ERR_STATE;
    if (offset == VCORE__SVM_TSC_OFFSET) {
        o->tsc_offset = value; /* composed into the VMCB at the run */
        return VCORE_OK;
    }
    uint64_t old = 0;
    int err = vcore_vmcb_read(o->vmcb, offset, bytes, &old);
    if (err)
        return err;
    c->stats.vmcb_reads++;
    uint64_t mask = bytes == 8 ? ~0ull : (1ull << (8u * bytes)) - 1u;
    if (old == (value & mask))
        return VCORE_OK; /* unchanged: its clean bit stays */
    c->stats.vmcb_writes++;
    o->dirty |= vcore_vmcb_clean_bit(offset);
    return vcore_vmcb_write(o->vmcb, offset, bytes, value);
}

/*
 * One permission map of vmcb02: the core's map (L1's wishes, already merged
 * with what the VMM asked for), or every access intercepted without one, ORed
 * with the VM's own map. The VM's map holds what this backend intercepts for
 * L1 (every I/O port, the MSRs it does not pass through); an access L2 makes
 * must never bypass an intercept L0 keeps for L1, whatever VMCB12 asks (APM
 * Vol. 2 "MSR Intercepts", "I/O Intercepts"; the CVE-2021-3653 class of bugs
 * is L2 reaching what L1 itself may not).
 */
static void svm_vmcb02_map(uint8_t *dst, const uint8_t *core, const uint8_t *l0, size_t len)
{
    if (core)
        vcore__memcpy(dst, core, len);
    else
        vcore__memset(dst, 0xff, len);
    for (size_t i = 0; i < len; i++)
        dst[i] = (uint8_t)(dst[i] | l0[i]);
}

int vcore__svm_hw_vmcb_setup(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, const vcore_hw_vmcb_setup_t *s)
{
    vcore__svm_vcpu_t *c = priv;
    vcore__svm_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    struct vcore_hw_vmcb *o = vcore__svm_vmcb02_obj(c, vmcb);
    if (!o || !s || s->size != sizeof(*s) || s->npt > VCORE_HW_VMCB_NPT_SHADOW ||
        (s->flush & ~(VCORE_HW_VMCB_FLUSH_ASID | VCORE_HW_VMCB_FLUSH_SHADOW)))
        return VCORE_ERR_INVAL;
    /* The maps are read at each intercept check, not cached: no clean bit.
     * The VM's own maps do not change after the VM is set up (svm_vmcb.c),
     * so maps the core states unchanged need no new copy. */
    if (!o->maps_set || !s->maps_unchanged) {
        svm_vmcb02_map(o->msrpm, s->msrpm, v->msrpm, VCORE_VMCB_MSRPM_SIZE);
        svm_vmcb02_map(o->iopm, s->iopm, v->iopm, VCORE_VMCB_IOPM_SIZE);
        c->stats.map_bytes += VCORE_VMCB_MSRPM_SIZE + VCORE_VMCB_IOPM_SIZE;
        o->maps_set = true;
    }
    if (s->npt == VCORE_HW_VMCB_NPT_SHADOW && !o->shadow.root) {
        int err = vcore__svm_npt_init(&o->shadow, &v->pool);
        if (err)
            return err;
    }
    if ((s->flush & VCORE_HW_VMCB_FLUSH_SHADOW) && o->shadow.root)
        vcore__svm_npt_clear(&o->shadow, &v->pool);
    uint64_t ncr3 = s->npt == VCORE_HW_VMCB_NPT_SHADOW ? o->shadow.root_pa : v->npt.root_pa;
    if (o->vmcb->control.n_cr3 != ncr3) {
        c->stats.vmcb_writes++;
        o->vmcb->control.n_cr3 = ncr3;
        o->dirty |= VCORE_VMCB_CLEAN_NP;
        o->flush_asid = true; /* translations of the other table are cached under this ASID */
    }
    o->npt = s->npt;
    if (s->flush)
        o->flush_asid = true;
    return VCORE_OK;
}

int vcore__svm_hw_vmcb_npt_map(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint64_t gpa, uint64_t vm_gpa,
                            uint32_t prot)
{
    vcore__svm_vcpu_t *c = priv;
    vcore__svm_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    struct vcore_hw_vmcb *o = vcore__svm_vmcb02_obj(c, vmcb);
    if (!o || o->npt != VCORE_HW_VMCB_NPT_SHADOW || !o->shadow.root || (gpa & 0xfffu) || (vm_gpa & 0xfffu) ||
        (prot & ~(VCORE_HW_NPT_WRITE | VCORE_HW_NPT_EXEC)))
        return VCORE_ERR_INVAL;
    /* The VM's own leaf gives the host page and whether the VM may write it. */
    uint64_t size = 0;
    uint64_t leaf = vcore__svm_npt_lookup(&v->npt, &v->pool, vm_gpa, &size);
    if (!(leaf & 1u))
        return VCORE_ERR_NOENT;
    uint64_t hpa = (leaf & 0x000ffffffffff000ull & ~(size - 1u)) + (vm_gpa & (size - 1u));
    uint64_t perm = 0;
    if ((prot & VCORE_HW_NPT_WRITE) && (leaf & VCORE__NPT_LEAF_RW))
        perm |= VCORE__NPT_LEAF_RW;
    /* NX is a nested-table bit only with the host's EFER.NXE ("Nested Paging
     * and the NX Bit"); without it every page is executable. */
    if (!(prot & VCORE_HW_NPT_EXEC) && (vcore__svm_rdmsr(VCORE_MSR_IA32_EFER) & VCORE__EFER_NXE))
        perm |= VCORE__NPT_LEAF_NX;
    int err = vcore__svm_npt_map_page(&o->shadow, &v->pool, gpa, hpa, perm);
    if (err)
        return err;
    /* A changed leaf may be cached: flush L2's ASID before the next run. */
    o->flush_asid = true;
    return VCORE_OK;
}

int vcore__svm_hw_vmcb_run(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, vcore_x86_regs_t *gprs,
                        vcore_exit_t *exit)
{
    vcore__svm_vcpu_t *c = priv;
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);
    vcore__svm_vm_t *v = vcore_vm_backend_priv(vm);
    struct vcore_hw_vmcb *o = vcore__svm_vmcb02_obj(c, vmcb);
    if (!o || !gprs || !exit)
        return VCORE_ERR_INVAL;
    int err = vcore__svm_cpu_here(c, vcore_vm_host(vm));
    if (err)
        return err;
    /* The vCPU's GPRs and its event machinery are vmcb01's: kept aside. */
    vcore__svm_gprs_t l1_gprs = c->g;
    vcore_x86_events_t l1_ev = c->ev;
    bool injected = c->injected, soft_advanced = c->soft_advanced, iret = c->iret_pending;
    bool nmi_step = c->nmi_step, step_ended = c->step_ended;
    for (uint32_t i = 0; i < 16; i++)
        if (i != VCORE_X86_RAX && i != VCORE_X86_RSP)
            c->g.gpr[i] = gprs->gpr[i];
    c->injected = c->soft_advanced = c->iret_pending = c->nmi_step = false;
    /* The VM's table lost translations: the shadow one may hold them too. */
    if (o->npt_gen != v->npt.gen && o->shadow.root)
        vcore__svm_npt_clear(&o->shadow, &v->pool);
    /* "TSC Offset": L2 reads the TSC L1 reads (the host's plus vmcb01's
     * offset) plus the offset the core states for L2 (L1's TSC_OFFSET).
     * vmcb01's offset may have changed since the last run (the VMM set
     * L1's TSC): the sum is recomputed at each run. The TSC ratio is not
     * used (not offered to L1; L0 runs L1 unscaled). */
    uint64_t tsc = VCORE__SVM_RD(c, control.tsc_offset) + o->tsc_offset;
    if (o->vmcb->control.tsc_offset != tsc) {
        c->stats.vmcb_writes++;
        o->vmcb->control.tsc_offset = tsc;
        o->dirty |= vcore_vmcb_clean_bit(VCORE__SVM_TSC_OFFSET);
    }
    vcore__svm_vmcb02_swap(c, o);
    /* backend.h: a NONE exit answers nothing. */
    if (exit->reason == VCORE_EXIT_NONE)
        c->pending = 0;
    err = vcore__svm_exit_complete(c, exit);
    for (;;) {
        if (err)
            break;
        /* A flush the core or a new shadow leaf asked for ("TLB Control"). */
        if (o->flush_asid) {
            c->npt_gen = ~v->npt.gen; /* vcore__svm_vmcb_run then flushes the ASID */
            o->flush_asid = false;
        }
        if (!vcore__svm_vmcb_run(c, v)) {
            /* Kicked before VMRUN (svm_kick.c): the reply above is done,
             * the guest did not run; the core decides what comes next. */
            vcore__memset(&exit->u, 0, sizeof(exit->u));
            vcore__memset(&exit->raw, 0, sizeof(exit->raw));
            exit->reason = VCORE_EXIT_INTERRUPTED;
            exit->flags = 0;
            exit->raw.source = VCORE_EXIT_SRC_SVM;
            c->pending = 0;
            break;
        }
        uint64_t code = VCORE__SVM_RD(c, control.exit_code);
        bool again = false;
        vcore__svm_exit_decode(c, v, exit, &again);
        /* EXITINTINFO is in raw.data[2] (svm_events.c), but for VMEXIT_INVALID. */
        if (code == VCORE_VMEXIT_INVALID_CODE || code == 0xffffffffull)
            exit->raw.data[2] = 0;
        /* "IOIO Intercept": EXITINFO1 bits 9:7 give the address size of
         * every IN/OUT. An emulator that leaves them clear (QEMU,
         * docs/svm-conformance.md) would pass that on to L1: the
         * instruction tells. */
        if (code == VCORE_VMEXIT_IOIO &&
            !(exit->raw.qualification & (VCORE_VMCB_IOIO_A16 | VCORE_VMCB_IOIO_A32 | VCORE_VMCB_IOIO_A64))) {
            vcore__x86_insn_t in;
            if (vcore__svm_guest_decode(c, &in) == VCORE_OK)
                exit->raw.qualification |= in.addr_bits == 64   ? VCORE_VMCB_IOIO_A64
                                           : in.addr_bits == 32 ? VCORE_VMCB_IOIO_A32
                                                                : VCORE_VMCB_IOIO_A16;
        }
        /* Host events only re-enter here; everything else is the core's
         * (an IRET L1 intercepts, a single step that is not the backend's). */
        if (!again || code == VCORE_VMEXIT_IRET || code == VCORE_VMEXIT_EXCP0 + VCORE__VEC_DB) {
            vcore__kick_done(&c->kick); /* a kick made meanwhile has what it asked for */
            break;
        }
    }
    vcore__svm_vmcb02_swap(c, o);
    for (uint32_t i = 0; i < 16; i++)
        if (i != VCORE_X86_RAX && i != VCORE_X86_RSP)
            gprs->gpr[i] = c->g.gpr[i];
    c->g = l1_gprs;
    c->ev = l1_ev;
    c->injected = injected;
    c->soft_advanced = soft_advanced;
    c->iret_pending = iret;
    c->nmi_step = nmi_step;
    c->step_ended = step_ended;
    return err;
}
