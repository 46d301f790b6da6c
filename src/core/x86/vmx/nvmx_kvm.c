/*
 * nvmx_kvm.c - import/export of KVM's nested-state format (KVM API,
 * "KVM_GET_NESTED_STATE" / "KVM_SET_NESTED_STATE"): a 128-byte
 * `struct kvm_nested_state` header with the VMX header at offset 8, then
 * the vmcs12 page (KVM's `struct vmcs12` layout, which our vmcs12 shares
 * for its first 998 bytes) and, in guest mode with VMCS shadowing, the
 * shadow vmcs12 page.
 *
 * The blob is parsed and checked into scratch copies first
 * (vcore__nvmx_kvm_parse) and made the state only when every rule passed
 * (vcore__nvmx_kvm_commit): a refused blob changes nothing. A vCPU's
 * guest-mode state (L2 running) needs the entry pipeline and goes through
 * vcpu_nested_state.c; the toolkit functions here keep a guest-mode blob
 * as data for a state no vCPU runs, so that it exports again unchanged.
 */
#include "nvmx_priv.h"

/* Header offsets (struct kvm_nested_state / kvm_vmx_nested_state_hdr). */
#define KST_FLAGS 0u
#define KST_FORMAT 2u
#define KST_SIZE 4u
#define KST_VMXON_PA 8u
#define KST_VMCS12_PA 16u
#define KST_SMM_FLAGS 24u
#define KST_VMX_FLAGS 28u
#define KST_DEADLINE 32u
#define KST_DATA 128u
#define KST_SHADOW (KST_DATA + VCORE_VMCS12_SIZE)

#define KST_KNOWN_FLAGS (VCORE_KVM_NESTED_GUEST_MODE | VCORE_KVM_NESTED_RUN_PENDING | \
                         VCORE_KVM_NESTED_EVMCS | VCORE_KVM_NESTED_MTF_PENDING |    \
                         VCORE_KVM_NESTED_GIF_SET)

/* "VMCS Shadowing": the shadow VMCS is used when secondary control 14 is
 * in force (primary control 31 activates the secondary controls) and the
 * VMCS link pointer is not all ones. */
static bool nvmx_kvm_uses_shadow(const vcore__vmcs12_t *v)
{
    return (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
           (v->SECONDARY_VM_EXEC_CONTROL & VCORE_VMX_PROC2_SHADOW_VMCS_CTL) &&
           v->VMCS_LINK_POINTER != VCORE__INVALID_PTR;
}

/* A region of the library (first dword: L1's revision) into the blob with
 * KVM's vmcs12 revision; the shadow-VMCS indicator is kept. The extension
 * area beyond KVM's layout stays zero. */
static void nvmx_kvm_put_page(uint8_t *dst, const uint64_t *page)
{
    uint32_t rev;
    vcore__memcpy(dst, page, VCORE_VMCS12_KVM_END);
    vcore__memcpy(&rev, dst, 4);
    rev = VCORE_VMCS12_REVISION | (rev & VCORE_VMCS12_SHADOW_BIT);
    vcore__memcpy(dst, &rev, 4);
}

uint32_t vcore__nvmx_kvm_size(const vcore_nvmx_t *n, bool guest_mode)
{
    uint32_t size = VCORE_KVM_NESTED_HDR_SIZE;
    if (n->current_vmptr == VCORE__INVALID_PTR)
        return size;
    size += VCORE_VMCS12_SIZE;
    if (guest_mode && n->shadow_loaded && nvmx_kvm_uses_shadow((const vcore__vmcs12_t *)(const void *)n->vmcs12))
        size += VCORE_VMCS12_SIZE;
    return size;
}

int vcore__nvmx_kvm_write(const vcore_nvmx_t *n, const vcore__nvmx_kvm_hdr_t *h, void *buf, size_t len,
                          uint32_t *out_len)
{
    uint8_t *b = (uint8_t *)buf;
    bool guest = (h->flags & VCORE_KVM_NESTED_GUEST_MODE) != 0;
    uint32_t size = vcore__nvmx_kvm_size(n, guest);
    uint64_t vmxon = n->vmx_operation ? n->vmxon_ptr : VCORE__INVALID_PTR;
    uint64_t vmcs = n->current_vmptr;

    *out_len = size;
    if (len < size)
        return VCORE_ERR_BUFSZ;
    vcore__memset(b, 0, size);
    /* format 0 (VMX); SMM state is never exported (never imported). */
    vcore__memcpy(b + KST_FLAGS, &h->flags, 2);
    vcore__memcpy(b + KST_SIZE, &size, 4);
    vcore__memcpy(b + KST_VMXON_PA, &vmxon, 8);
    vcore__memcpy(b + KST_VMCS12_PA, &vmcs, 8);
    vcore__memcpy(b + KST_VMX_FLAGS, &h->vmx_flags, 4);
    vcore__memcpy(b + KST_DEADLINE, &h->deadline, 8);
    if (vmcs != VCORE__INVALID_PTR)
        nvmx_kvm_put_page(b + KST_DATA, n->vmcs12);
    if (size == KST_SHADOW + VCORE_VMCS12_SIZE)
        nvmx_kvm_put_page(b + KST_SHADOW, n->shadow_vmcs12);
    return VCORE_OK;
}

uint32_t vcore_nvmx_kvm_state_size(const vcore_nvmx_t *nvmx)
{
    if (!vcore__nvmx_ok(nvmx))
        return 0;
    return vcore__nvmx_kvm_size(nvmx, nvmx->kvm_guest_mode);
}

int vcore_nvmx_kvm_export(const vcore_nvmx_t *nvmx, void *buf, size_t len, uint32_t *out_len)
{
    vcore__nvmx_kvm_hdr_t h;

    if (!vcore__nvmx_ok(nvmx) || !buf || !out_len)
        return VCORE_ERR_INVAL;
    /* While a vCPU runs L2, vmcs12 is behind vmcs02: only the vCPU can
     * sync it (vcore_nvmx_vcpu_get_state()). */
    if (nvmx->vcpu_owned && nvmx->in_l2)
        return VCORE_ERR_STATE;
    vcore__memset(&h, 0, sizeof(h));
    if (nvmx->kvm_guest_mode) {
        h.flags = (uint16_t)(VCORE_KVM_NESTED_GUEST_MODE | (nvmx->kvm_run_pending ? VCORE_KVM_NESTED_RUN_PENDING : 0u) |
                             (nvmx->kvm_mtf_pending ? VCORE_KVM_NESTED_MTF_PENDING : 0u));
        h.vmx_flags = nvmx->kvm_vmx_flags;
        h.deadline = nvmx->kvm_deadline;
    }
    return vcore__nvmx_kvm_write(nvmx, &h, buf, len, out_len);
}

static bool nvmx_kvm_addr_ok(const vcore_nvmx_t *n, uint64_t pa)
{
    return (pa & 0xfffu) == 0 && (pa >> n->maxphyaddr) == 0;
}

/* The blob's copy of a VMCS region (at src, checked for KVM's revision by
 * the caller) into dst with the revision L1 sees (IA32_VMX_BASIC[30:0]). */
static void nvmx_kvm_get_page(const vcore_nvmx_t *n, uint64_t *dst, const uint8_t *src)
{
    uint32_t rev;
    vcore__memset(dst, 0, VCORE_VMCS12_SIZE);
    vcore__memcpy(dst, src, VCORE_VMCS12_KVM_END);
    vcore__memcpy(&rev, dst, 4);
    rev = (uint32_t)(n->caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu) | (rev & VCORE_VMCS12_SHADOW_BIT);
    vcore__memcpy(dst, &rev, 4);
}

int vcore__nvmx_kvm_parse(vcore_nvmx_t *nvmx, const void *buf, size_t len, vcore_diag_t *diag,
                          vcore__nvmx_kvm_hdr_t *h)
{
    uint8_t hdr[VCORE_KVM_NESTED_HDR_SIZE];
    uint16_t format, smm;
    uint32_t rev;
    const vcore__vmcs12_t *copy;
    const uint8_t *blob = (const uint8_t *)buf;

#define REFUSE(id, val, err) return vcore__nvmx_diag(diag, (id), (uint64_t)(val), (err))
    vcore__memset(h, 0, sizeof(*h));
    if (len < VCORE_KVM_NESTED_HDR_SIZE)
        REFUSE(VCORE_DIAG_KVM_STATE_SIZE, len, VCORE_ERR_INVAL);
    /* The header is read once; every check below looks at this copy. */
    vcore__memcpy(hdr, buf, sizeof(hdr));
    vcore__memcpy(&h->flags, hdr + KST_FLAGS, 2);
    vcore__memcpy(&format, hdr + KST_FORMAT, 2);
    vcore__memcpy(&h->size, hdr + KST_SIZE, 4);
    vcore__memcpy(&h->vmxon, hdr + KST_VMXON_PA, 8);
    vcore__memcpy(&h->vmcs, hdr + KST_VMCS12_PA, 8);
    vcore__memcpy(&smm, hdr + KST_SMM_FLAGS, 2);
    vcore__memcpy(&h->vmx_flags, hdr + KST_VMX_FLAGS, 4);
    vcore__memcpy(&h->deadline, hdr + KST_DEADLINE, 8);
    bool guest = (h->flags & VCORE_KVM_NESTED_GUEST_MODE) != 0;

    if (h->size < VCORE_KVM_NESTED_HDR_SIZE || h->size > len)
        REFUSE(VCORE_DIAG_KVM_STATE_SIZE, h->size, VCORE_ERR_INVAL);
    if ((h->flags & ~KST_KNOWN_FLAGS) || ((h->flags & VCORE_KVM_NESTED_RUN_PENDING) && !guest) ||
        (h->flags & VCORE_KVM_NESTED_GIF_SET))
        REFUSE(VCORE_DIAG_KVM_STATE_FLAGS, h->flags, VCORE_ERR_INVAL);
    if (format != VCORE_KVM_NESTED_FORMAT_VMX)
        REFUSE(VCORE_DIAG_KVM_STATE_FORMAT, format, VCORE_ERR_INVAL);
    if ((h->vmx_flags & ~VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE) || (h->vmx_flags && !guest))
        REFUSE(VCORE_DIAG_KVM_STATE_VMX_FLAGS, h->vmx_flags, VCORE_ERR_INVAL);
    if (h->flags & VCORE_KVM_NESTED_EVMCS)
        REFUSE(VCORE_DIAG_KVM_STATE_EVMCS, h->flags, VCORE_ERR_UNSUPPORTED);
    /* A monitor-trap-flag VM exit owed to L1 ("Monitor Trap Flag") is
     * owed by a running L2: only in guest mode. */
    if ((h->flags & VCORE_KVM_NESTED_MTF_PENDING) && !guest)
        REFUSE(VCORE_DIAG_KVM_STATE_MTF_PENDING, h->flags, VCORE_ERR_INVAL);

    if (h->vmxon == VCORE__INVALID_PTR) {
        /* Not in VMX operation: nothing else may be set. */
        if (h->vmcs != VCORE__INVALID_PTR)
            REFUSE(VCORE_DIAG_KVM_STATE_VMCS12_ADDR, h->vmcs, VCORE_ERR_INVAL);
        if (smm)
            REFUSE(VCORE_DIAG_KVM_STATE_SMM, smm, VCORE_ERR_INVAL);
        if (guest)
            REFUSE(VCORE_DIAG_KVM_STATE_FLAGS, h->flags, VCORE_ERR_INVAL);
        return VCORE_OK;
    }
    if (!nvmx_kvm_addr_ok(nvmx, h->vmxon))
        REFUSE(VCORE_DIAG_KVM_STATE_VMXON_ADDR, h->vmxon, VCORE_ERR_INVAL);
    if ((smm & ~(VCORE_KVM_NESTED_SMM_GUEST_MODE | VCORE_KVM_NESTED_SMM_VMXON)) ||
        ((smm & VCORE_KVM_NESTED_SMM_GUEST_MODE) && !(smm & VCORE_KVM_NESTED_SMM_VMXON)))
        REFUSE(VCORE_DIAG_KVM_STATE_SMM, smm, VCORE_ERR_INVAL);
    if (smm)
        REFUSE(VCORE_DIAG_KVM_STATE_SMM, smm, VCORE_ERR_UNSUPPORTED);
    if (guest && h->vmcs == VCORE__INVALID_PTR)
        REFUSE(VCORE_DIAG_KVM_STATE_VMCS12_ADDR, h->vmcs, VCORE_ERR_INVAL);
    if (h->vmcs == VCORE__INVALID_PTR)
        return VCORE_OK;
    if (!nvmx_kvm_addr_ok(nvmx, h->vmcs) || h->vmcs == h->vmxon)
        REFUSE(VCORE_DIAG_KVM_STATE_VMCS12_ADDR, h->vmcs, VCORE_ERR_INVAL);
    if (h->size < KST_DATA + VCORE_VMCS12_SIZE)
        REFUSE(VCORE_DIAG_KVM_STATE_SIZE, h->size, VCORE_ERR_INVAL);
    /* Copy the page once into scratch, check the copy. */
    vcore__memcpy(&rev, blob + KST_DATA, 4);
    if ((rev & 0x7fffffffu) != VCORE_VMCS12_REVISION ||
        ((rev & VCORE_VMCS12_SHADOW_BIT) &&
         !(nvmx->caps.msr[VCORE_NVMX_CAP_PROCBASED2] & VCORE_VMX_PROC2_SHADOW_VMCS)))
        REFUSE(VCORE_DIAG_KVM_STATE_REVISION, rev, VCORE_ERR_INVAL);
    nvmx_kvm_get_page(nvmx, nvmx->scratch, blob + KST_DATA);
    copy = (const vcore__vmcs12_t *)(const void *)nvmx->scratch;
    if (!guest)
        return VCORE_OK;
    /* L2 ran ("VMLAUNCH/VMRESUME": a successful VMLAUNCH sets the launch
     * state to launched); only a pending VMLAUNCH may still see it clear. */
    if (copy->launch_state != 1u && !(h->flags & VCORE_KVM_NESTED_RUN_PENDING))
        REFUSE(VCORE_DIAG_KVM_STATE_NOT_LAUNCHED, copy->launch_state, VCORE_ERR_INVAL);
    if (nvmx_kvm_uses_shadow(copy)) {
        /* The shadow VMCS L2's VMREAD/VMWRITE reach travels in the blob. */
        if (h->size < KST_SHADOW + VCORE_VMCS12_SIZE)
            REFUSE(VCORE_DIAG_KVM_STATE_SHADOW, h->size, VCORE_ERR_INVAL);
        vcore__memcpy(&rev, blob + KST_SHADOW, 4);
        if ((rev & 0x7fffffffu) != VCORE_VMCS12_REVISION || !(rev & VCORE_VMCS12_SHADOW_BIT))
            REFUSE(VCORE_DIAG_KVM_STATE_SHADOW, rev, VCORE_ERR_INVAL);
        h->shadow = blob + KST_SHADOW;
        h->shadow_rev = (uint32_t)(nvmx->caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu) | VCORE_VMCS12_SHADOW_BIT;
    }
#undef REFUSE
    return VCORE_OK;
}

void vcore__nvmx_kvm_swap(vcore_nvmx_t *n)
{
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(n->vmcs12); i++) {
        uint64_t t = n->vmcs12[i];
        n->vmcs12[i] = n->scratch[i];
        n->scratch[i] = t;
    }
}

void vcore__nvmx_kvm_commit(vcore_nvmx_t *nvmx, const vcore__nvmx_kvm_hdr_t *h)
{
    if (h->vmxon == VCORE__INVALID_PTR) {
        vcore__nvmx_leave(nvmx);
    } else {
        nvmx->vmx_operation = true;
        nvmx->vmxon_ptr = h->vmxon;
        nvmx->current_vmptr = h->vmcs;
        nvmx->shadow_loaded = false;
        nvmx->shadow_written = false;
        nvmx->shadow_ptr = VCORE__INVALID_PTR;
        if (h->vmcs != VCORE__INVALID_PTR) {
            vcore__nvmx_kvm_swap(nvmx);
            vcore__memset(nvmx->dirty, 0xff, sizeof(nvmx->dirty));
        }
        if (h->shadow) {
            /* The one copy of the shadow page; its revision is the checked one. */
            const vcore__vmcs12_t *v = (const vcore__vmcs12_t *)(const void *)nvmx->vmcs12;
            nvmx_kvm_get_page(nvmx, nvmx->shadow_vmcs12, h->shadow);
            vcore__memcpy(nvmx->shadow_vmcs12, &h->shadow_rev, 4);
            nvmx->shadow_ptr = v->VMCS_LINK_POINTER;
            nvmx->shadow_loaded = true;
            nvmx->shadow_written = true; /* the blob's page, not yet in L1 memory */
        }
        nvmx->chk_passed = false;
    }
    nvmx->hw_sync = nvmx->hw_mask != 0; /* L0's shadow VMCS follows before L1 runs */
    vcore__nvmx_shadow_stale_all(nvmx);
}

int vcore_nvmx_kvm_import(vcore_nvmx_t *nvmx, const void *buf, size_t len, vcore_diag_t *diag)
{
    vcore__nvmx_kvm_hdr_t h;

    if (!vcore__nvmx_ok(nvmx) || !buf)
        return VCORE_ERR_INVAL;
    /* A vCPU's state while L2 runs, or becoming a running L2, belongs to
     * the entry pipeline (vcore_nvmx_vcpu_set_state()). */
    if (nvmx->vcpu_owned && nvmx->in_l2)
        return vcore__nvmx_diag(diag, VCORE_DIAG_KVM_STATE_GUEST_MODE, 0, VCORE_ERR_STATE);
    int err = vcore__nvmx_kvm_parse(nvmx, buf, len, diag, &h);
    if (err)
        return err;
    if (nvmx->vcpu_owned && (h.flags & VCORE_KVM_NESTED_GUEST_MODE))
        return vcore__nvmx_diag(diag, VCORE_DIAG_KVM_STATE_GUEST_MODE, h.flags, VCORE_ERR_STATE);
    vcore__nvmx_kvm_commit(nvmx, &h);
    nvmx->kvm_guest_mode = (h.flags & VCORE_KVM_NESTED_GUEST_MODE) != 0;
    nvmx->kvm_run_pending = (h.flags & VCORE_KVM_NESTED_RUN_PENDING) != 0;
    nvmx->kvm_mtf_pending = (h.flags & VCORE_KVM_NESTED_MTF_PENDING) != 0;
    nvmx->kvm_vmx_flags = h.vmx_flags;
    nvmx->kvm_deadline = (h.vmx_flags & VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE) ? h.deadline : 0;
    return VCORE_OK;
}
