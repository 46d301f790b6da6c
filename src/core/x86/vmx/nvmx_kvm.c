/*
 * nvmx_kvm.c - import/export of KVM's nested-state format (KVM API,
 * "KVM_GET_NESTED_STATE" / "KVM_SET_NESTED_STATE"): a 128-byte
 * `struct kvm_nested_state` header with the VMX header at offset 8, then
 * the vmcs12 page (KVM's `struct vmcs12` layout, which our vmcs12 shares
 * for its first 998 bytes) and, in guest mode, the shadow vmcs12 page.
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
#define KST_DATA 128u

#define KST_KNOWN_FLAGS (VCORE_KVM_NESTED_GUEST_MODE | VCORE_KVM_NESTED_RUN_PENDING | \
                         VCORE_KVM_NESTED_EVMCS | VCORE_KVM_NESTED_MTF_PENDING |    \
                         VCORE_KVM_NESTED_GIF_SET)

uint32_t vcore_nvmx_kvm_state_size(const vcore_nvmx_t *nvmx)
{
    if (!vcore__nvmx_ok(nvmx))
        return 0;
    return VCORE_KVM_NESTED_HDR_SIZE +
           (nvmx->current_vmptr != VCORE__INVALID_PTR ? VCORE_VMCS12_SIZE : 0u);
}

int vcore_nvmx_kvm_export(const vcore_nvmx_t *nvmx, void *buf, size_t len, uint32_t *out_len)
{
    uint8_t *b = (uint8_t *)buf;
    uint32_t size;
    uint64_t vmxon, vmcs;

    if (!vcore__nvmx_ok(nvmx) || !buf || !out_len)
        return VCORE_ERR_INVAL;
    size = vcore_nvmx_kvm_state_size(nvmx);
    *out_len = size;
    if (len < size)
        return VCORE_ERR_BUFSZ;
    vcore__memset(b, 0, size);
    /* flags 0 (not in guest mode: L2 never ran), format 0 (VMX). */
    vcore__memcpy(b + KST_SIZE, &size, 4);
    vmxon = nvmx->vmx_operation ? nvmx->vmxon_ptr : VCORE__INVALID_PTR;
    vmcs = nvmx->current_vmptr;
    vcore__memcpy(b + KST_VMXON_PA, &vmxon, 8);
    vcore__memcpy(b + KST_VMCS12_PA, &vmcs, 8);
    if (vmcs != VCORE__INVALID_PTR) {
        /* KVM's part as is; the extension area stays zero in the blob. The
         * header carries KVM's vmcs12 revision whatever revision the
         * capabilities give L1 (the shadow-VMCS indicator is kept). */
        uint32_t rev;
        vcore__memcpy(b + KST_DATA, nvmx->vmcs12, VCORE_VMCS12_KVM_END);
        vcore__memcpy(&rev, b + KST_DATA, 4);
        rev = VCORE_VMCS12_REVISION | (rev & VCORE_VMCS12_SHADOW_BIT);
        vcore__memcpy(b + KST_DATA, &rev, 4);
    }
    return VCORE_OK;
}

static bool nvmx_kvm_addr_ok(const vcore_nvmx_t *n, uint64_t pa)
{
    return (pa & 0xfffu) == 0 && (pa >> n->maxphyaddr) == 0;
}

int vcore_nvmx_kvm_import(vcore_nvmx_t *nvmx, const void *buf, size_t len, vcore_diag_t *diag)
{
    uint8_t hdr[VCORE_KVM_NESTED_HDR_SIZE];
    uint16_t flags, format, smm;
    uint32_t size, vmx_flags, rev;
    uint64_t vmxon, vmcs;
    const vcore__vmcs12_t *copy;

    if (!vcore__nvmx_ok(nvmx) || !buf)
        return VCORE_ERR_INVAL;
#define REFUSE(id, val, err) return vcore__nvmx_diag(diag, (id), (uint64_t)(val), (err))
    if (len < VCORE_KVM_NESTED_HDR_SIZE)
        REFUSE(VCORE_DIAG_KVM_STATE_SIZE, len, VCORE_ERR_INVAL);
    /* The header is read once; every check below looks at this copy. */
    vcore__memcpy(hdr, buf, sizeof(hdr));
    vcore__memcpy(&flags, hdr + KST_FLAGS, 2);
    vcore__memcpy(&format, hdr + KST_FORMAT, 2);
    vcore__memcpy(&size, hdr + KST_SIZE, 4);
    vcore__memcpy(&vmxon, hdr + KST_VMXON_PA, 8);
    vcore__memcpy(&vmcs, hdr + KST_VMCS12_PA, 8);
    vcore__memcpy(&smm, hdr + KST_SMM_FLAGS, 2);
    vcore__memcpy(&vmx_flags, hdr + KST_VMX_FLAGS, 4);

    if (size < VCORE_KVM_NESTED_HDR_SIZE || size > len)
        REFUSE(VCORE_DIAG_KVM_STATE_SIZE, size, VCORE_ERR_INVAL);
    if ((flags & ~KST_KNOWN_FLAGS) ||
        ((flags & VCORE_KVM_NESTED_RUN_PENDING) && !(flags & VCORE_KVM_NESTED_GUEST_MODE)) ||
        (flags & VCORE_KVM_NESTED_GIF_SET))
        REFUSE(VCORE_DIAG_KVM_STATE_FLAGS, flags, VCORE_ERR_INVAL);
    if (format != VCORE_KVM_NESTED_FORMAT_VMX)
        REFUSE(VCORE_DIAG_KVM_STATE_FORMAT, format, VCORE_ERR_INVAL);
    if ((vmx_flags & ~VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE) ||
        (vmx_flags && !(flags & VCORE_KVM_NESTED_GUEST_MODE)))
        REFUSE(VCORE_DIAG_KVM_STATE_VMX_FLAGS, vmx_flags, VCORE_ERR_INVAL);
    if (flags & VCORE_KVM_NESTED_EVMCS)
        REFUSE(VCORE_DIAG_KVM_STATE_EVMCS, flags, VCORE_ERR_UNSUPPORTED);

    if (vmxon == VCORE__INVALID_PTR) {
        /* Not in VMX operation: nothing else may be set. */
        if (vmcs != VCORE__INVALID_PTR)
            REFUSE(VCORE_DIAG_KVM_STATE_VMCS12_ADDR, vmcs, VCORE_ERR_INVAL);
        if (smm)
            REFUSE(VCORE_DIAG_KVM_STATE_SMM, smm, VCORE_ERR_INVAL);
        if (flags & VCORE_KVM_NESTED_GUEST_MODE)
            REFUSE(VCORE_DIAG_KVM_STATE_FLAGS, flags, VCORE_ERR_INVAL);
        nvmx->vmx_operation = false;
        nvmx->vmxon_ptr = VCORE__INVALID_PTR;
        nvmx->current_vmptr = VCORE__INVALID_PTR;
        nvmx->shadow_loaded = false;
        nvmx->hw_sync = nvmx->hw_mask != 0; /* L0's shadow VMCS follows before L1 runs */
        return VCORE_OK;
    }
    if (!nvmx_kvm_addr_ok(nvmx, vmxon))
        REFUSE(VCORE_DIAG_KVM_STATE_VMXON_ADDR, vmxon, VCORE_ERR_INVAL);
    if ((smm & ~(VCORE_KVM_NESTED_SMM_GUEST_MODE | VCORE_KVM_NESTED_SMM_VMXON)) ||
        ((smm & VCORE_KVM_NESTED_SMM_GUEST_MODE) && !(smm & VCORE_KVM_NESTED_SMM_VMXON)))
        REFUSE(VCORE_DIAG_KVM_STATE_SMM, smm, VCORE_ERR_INVAL);
    if (smm)
        REFUSE(VCORE_DIAG_KVM_STATE_SMM, smm, VCORE_ERR_UNSUPPORTED);
    if ((flags & VCORE_KVM_NESTED_GUEST_MODE) && vmcs == VCORE__INVALID_PTR)
        REFUSE(VCORE_DIAG_KVM_STATE_VMCS12_ADDR, vmcs, VCORE_ERR_INVAL);
    if (vmcs != VCORE__INVALID_PTR) {
        if (!nvmx_kvm_addr_ok(nvmx, vmcs) || vmcs == vmxon)
            REFUSE(VCORE_DIAG_KVM_STATE_VMCS12_ADDR, vmcs, VCORE_ERR_INVAL);
        if (size < VCORE_KVM_NESTED_HDR_SIZE + VCORE_VMCS12_SIZE)
            REFUSE(VCORE_DIAG_KVM_STATE_SIZE, size, VCORE_ERR_INVAL);
        /* Copy the page once into scratch, check the copy. */
        vcore__memset(nvmx->scratch, 0, VCORE_VMCS12_SIZE);
        vcore__memcpy(nvmx->scratch, (const uint8_t *)buf + KST_DATA, VCORE_VMCS12_KVM_END);
        copy = (const vcore__vmcs12_t *)(const void *)nvmx->scratch;
        rev = copy->revision;
        if ((rev & 0x7fffffffu) != VCORE_VMCS12_REVISION ||
            ((rev & VCORE_VMCS12_SHADOW_BIT) &&
             !(nvmx->caps.msr[VCORE_NVMX_CAP_PROCBASED2] & VCORE_VMX_PROC2_SHADOW_VMCS)))
            REFUSE(VCORE_DIAG_KVM_STATE_REVISION, rev, VCORE_ERR_INVAL);
        /* In the library the VMCS carries the revision L1 sees (IA32_VMX_BASIC[30:0]). */
        rev = (uint32_t)(nvmx->caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu) | (rev & VCORE_VMCS12_SHADOW_BIT);
        vcore__memcpy(nvmx->scratch, &rev, 4);
    }
    if (flags & VCORE_KVM_NESTED_GUEST_MODE)
        REFUSE(VCORE_DIAG_KVM_STATE_GUEST_MODE, flags, VCORE_ERR_UNSUPPORTED);
#undef REFUSE

    nvmx->vmx_operation = true;
    nvmx->vmxon_ptr = vmxon;
    nvmx->current_vmptr = vmcs;
    nvmx->shadow_loaded = false;
    if (vmcs != VCORE__INVALID_PTR) {
        vcore__memcpy(nvmx->vmcs12, nvmx->scratch, VCORE_VMCS12_SIZE);
        vcore__memset(nvmx->dirty, 0xff, sizeof(nvmx->dirty));
    }
    nvmx->chk_passed = false;
    nvmx->hw_sync = nvmx->hw_mask != 0; /* L0's shadow VMCS follows before L1 runs */
    return VCORE_OK;
}
