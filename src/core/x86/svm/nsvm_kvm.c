/*
 * nsvm_kvm.c - KVM_GET/SET_NESTED_STATE in KVM's SVM format (the KVM API's
 * struct kvm_nested_state with format KVM_STATE_NESTED_FORMAT_SVM): a
 * 128-byte header (u16 flags, u16 format, u32 size, u64 vmcb_pa in a
 * 120-byte union) and, in guest mode, one 4 KiB page holding VMCB12's
 * control area and L1's saved state in the state-save layout. Imports are
 * checked like a VMRUN and refused whole.
 */
#include "nsvm_priv.h"

#define NSVM_KVM_KNOWN_FLAGS (VCORE_NSVM_KVM_GUEST_MODE | VCORE_NSVM_KVM_RUN_PENDING | VCORE_NSVM_KVM_GIF_SET)

static void kvm_put(uint8_t *p, uint64_t v, uint32_t bytes)
{
    for (uint32_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8u * i));
}

static uint64_t kvm_get(const uint8_t *p, uint32_t bytes)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8u * i);
    return v;
}

/* L1's saved state in the state-save layout, and back. */
static void kvm_host_to_save(const vcore__nsvm_host_t *h, vcore_vmcb_save_t *s)
{
    vcore__memset(s, 0, sizeof(*s));
    vcore__nsvm_seg_to_vmcb(&s->es, &h->sregs.seg[VCORE_X86_ES]);
    vcore__nsvm_seg_to_vmcb(&s->cs, &h->sregs.seg[VCORE_X86_CS]);
    vcore__nsvm_seg_to_vmcb(&s->ss, &h->sregs.seg[VCORE_X86_SS]);
    vcore__nsvm_seg_to_vmcb(&s->ds, &h->sregs.seg[VCORE_X86_DS]);
    s->gdtr.base = h->sregs.gdtr.base;
    s->gdtr.limit = h->sregs.gdtr.limit;
    s->idtr.base = h->sregs.idtr.base;
    s->idtr.limit = h->sregs.idtr.limit;
    s->efer = h->sregs.efer;
    s->cr0 = h->sregs.cr0;
    s->cr3 = h->sregs.cr3;
    s->cr4 = h->sregs.cr4;
    s->dr6 = h->dr6;
    s->dr7 = 0x400;
    s->rflags = h->regs.rflags;
    s->rip = h->regs.rip;
    s->rsp = h->regs.gpr[VCORE_X86_RSP];
    s->rax = h->regs.gpr[VCORE_X86_RAX];
    s->g_pat = h->pat;
}

static void kvm_save_to_host(const vcore_vmcb_save_t *s, vcore__nsvm_host_t *h)
{
    vcore__memset(h, 0, sizeof(*h));
    h->regs.size = sizeof(h->regs);
    h->sregs.size = sizeof(h->sregs);
    vcore__nsvm_seg_from_vmcb(&h->sregs.seg[VCORE_X86_ES], &s->es);
    vcore__nsvm_seg_from_vmcb(&h->sregs.seg[VCORE_X86_CS], &s->cs);
    vcore__nsvm_seg_from_vmcb(&h->sregs.seg[VCORE_X86_SS], &s->ss);
    vcore__nsvm_seg_from_vmcb(&h->sregs.seg[VCORE_X86_DS], &s->ds);
    h->sregs.gdtr.base = s->gdtr.base;
    h->sregs.gdtr.limit = (uint16_t)s->gdtr.limit;
    h->sregs.idtr.base = s->idtr.base;
    h->sregs.idtr.limit = (uint16_t)s->idtr.limit;
    h->sregs.efer = s->efer;
    h->sregs.cr0 = s->cr0;
    h->sregs.cr3 = s->cr3;
    h->sregs.cr4 = s->cr4;
    h->dr6 = s->dr6;
    h->regs.rflags = s->rflags;
    h->regs.rip = s->rip;
    h->regs.gpr[VCORE_X86_RSP] = s->rsp;
    h->regs.gpr[VCORE_X86_RAX] = s->rax;
    h->pat = s->g_pat;
}

int vcore_nsvm_kvm_export(const vcore_nsvm_t *n, uint64_t l1_efer, void *buf, size_t *len)
{
    if (!vcore__nsvm_ok(n) || !len || (!buf && *len))
        return VCORE_ERR_INVAL;
    size_t need = n->guest_mode ? VCORE_NSVM_KVM_SIZE : VCORE_NSVM_KVM_HEADER_SIZE;
    if (*len < need) {
        *len = need;
        return VCORE_ERR_RANGE;
    }
    uint8_t *p = (uint8_t *)buf;
    vcore__memset(p, 0, need);
    uint32_t flags = n->gif ? VCORE_NSVM_KVM_GIF_SET : 0u;
    (void)l1_efer;
    if (n->guest_mode) {
        flags |= VCORE_NSVM_KVM_GUEST_MODE | (n->run_pending ? VCORE_NSVM_KVM_RUN_PENDING : 0u);
        kvm_put(p + 8, n->vmcb12_pa, 8);
        vcore__memcpy(p + VCORE_NSVM_KVM_HEADER_SIZE, &n->vmcb12.control, sizeof(n->vmcb12.control));
        vcore_vmcb_save_t s;
        kvm_host_to_save(&n->host, &s);
        vcore__memcpy(p + VCORE_NSVM_KVM_HEADER_SIZE + VCORE_VMCB_SAVE_OFFSET, &s, sizeof(s));
    }
    kvm_put(p + 0, flags, 2);
    kvm_put(p + 2, VCORE_NSVM_KVM_FORMAT, 2);
    kvm_put(p + 4, need, 4);
    *len = need;
    return VCORE_OK;
}

int vcore_nsvm_kvm_import(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, uint64_t l1_efer, const void *buf,
                          size_t len, vcore_diag_t *diag)
{
    if (!vcore__nsvm_ok(n) || !mem || !buf || !mem->read)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(mem))
        return VCORE_ERR_ABI;
    const uint8_t *p = (const uint8_t *)buf;
    if (len < VCORE_NSVM_KVM_HEADER_SIZE)
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_FORMAT, len);
    uint32_t flags = (uint32_t)kvm_get(p, 2), format = (uint32_t)kvm_get(p + 2, 2);
    uint64_t size = kvm_get(p + 4, 4), vmcb_pa = kvm_get(p + 8, 8);
    if (format != VCORE_NSVM_KVM_FORMAT || size > len || size < VCORE_NSVM_KVM_HEADER_SIZE)
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_FORMAT, format);
    /* Unknown flags, and anything but GIF without EFER.SVME ("Enabling
     * SVM": no guest mode while SVM is disabled). */
    if ((flags & ~NSVM_KVM_KNOWN_FLAGS) ||
        (!(l1_efer & VCORE__EFER_SVME) && (flags & ~(uint32_t)VCORE_NSVM_KVM_GIF_SET)))
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_FLAGS, flags);
    if (!(flags & VCORE_NSVM_KVM_GUEST_MODE)) {
        if (flags & VCORE_NSVM_KVM_RUN_PENDING)
            return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_FLAGS, flags);
        n->guest_mode = false;
        n->run_pending = false;
        n->gif = (flags & VCORE_NSVM_KVM_GIF_SET) != 0;
        return VCORE_OK;
    }
    if ((vmcb_pa & 0xfffu) || !vcore__x86_phys_ok(vmcb_pa, n->maxphyaddr))
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_VMCB_PA, vmcb_pa);
    if (size < VCORE_NSVM_KVM_SIZE)
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_FORMAT, size);
    /* One copy of the data page; everything below reads the copy. */
    vcore_vmcb_t *img = &n->scratch;
    vcore__memcpy(img, p + VCORE_NSVM_KVM_HEADER_SIZE, sizeof(*img));
    /* L1's saved state must be one VMRUN could have saved: protected mode
     * with paging, not virtual-8086 ("VMRUN Instruction"). */
    const vcore_vmcb_save_t *s = &img->save;
    if (!(s->cr0 & VCORE__CR0_PG) || !(s->cr0 & VCORE__CR0_PE) || (s->rflags & VCORE__RFLAGS_VM))
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_HOST, s->cr0);
    /* The controls, with L1's saved state as the save area, pass the VMRUN
     * checks (L1's state passed them when L1 itself was entered). */
    vcore_svm_check_input_t ci;
    vcore_svm_verdict_t v;
    vcore__memset(&ci, 0, sizeof(ci));
    ci.size = sizeof(ci);
    ci.vmcb12 = img;
    ci.svm_features = n->features;
    ci.maxphyaddr = n->maxphyaddr;
    ci.l1_efer = l1_efer;
    v.size = sizeof(v);
    int err = vcore_svm_check_vmrun(&ci, &v, NULL, 0);
    if (err)
        return err;
    if (v.kind != VCORE_SVM_VMRUN_OK)
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_STATE_CONTROLS, v.check);
    /* Accepted: from here on nothing fails. */
    kvm_save_to_host(s, &n->host);
    vcore__memcpy(&n->vmcb12.control, &img->control, sizeof(img->control));
    vcore__memset(&n->vmcb12.save, 0, sizeof(n->vmcb12.save));
    n->vmcb12_pa = vmcb_pa;
    n->cache_valid = false; /* L2's save fields are in the vCPU, not cached */
    n->guest_mode = true;
    n->run_pending = (flags & VCORE_NSVM_KVM_RUN_PENDING) != 0;
    n->gif = (flags & VCORE_NSVM_KVM_GIF_SET) != 0;
    vcore__nsvm_merge_controls(n);
    vcore__nsvm_merge_maps(n, mem);
    return VCORE_OK;
}
