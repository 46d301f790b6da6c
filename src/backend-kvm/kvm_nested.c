/*
 * kvm_nested.c - KVM_GET/SET_NESTED_STATE on top of the core's nested-state
 * conversion (src/core/x86/nvmx_kvm.c). KVM API, "KVM_GET_NESTED_STATE" /
 * "KVM_SET_NESTED_STATE"; the ioctls exist only when KVM_CHECK_EXTENSION
 * reports KVM_CAP_NESTED_STATE (its value is the largest blob size).
 * Guest-mode states (L2 running in KVM) pass through: the import keeps
 * them as data, the export gives the same blob back.
 */
#include "kvm_priv.h"

#include <string.h>

#include "virtcore/x86/nvmx.h"

/* struct kvm_nested_state exists only in the x86 uapi headers; elsewhere
 * (arm64) the ioctl numbers may be visible but unusable. */
#if defined(__x86_64__) && defined(KVM_CAP_NESTED_STATE) && defined(KVM_GET_NESTED_STATE)
#define VCORE__KVM_HAS_NESTED 1
#else
#define VCORE__KVM_HAS_NESTED 0
#endif

/* Largest VMX blob: header + vmcs12 + shadow vmcs12. */
#define KVM_NESTED_BUF VCORE_KVM_NESTED_MAX_SIZE

/* Checks the vCPU and the capability; returns the kvm vCPU context. */
static int kvm_nested_prepare(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t **kv_out)
{
    vcore_vm_t *vm;
    vcore_kvm_vm_t *kvm;
    int cap;

    if (!vcpu)
        return VCORE_ERR_INVAL;
    vm = vcore_vcpu_vm(vcpu);
    if (!vcore_kvm_is_kvm_vm(vm))
        return VCORE_ERR_INVAL;
    kvm = vcore__kvm_vm_of(vcpu);
#if VCORE__KVM_HAS_NESTED
    cap = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
#else
    (void)kvm;
    cap = 0;
#endif
    /* 0: no nested state on this host; a size too small for a VMX header
     * would be a kernel we do not understand. */
    if (cap < (int)VCORE_KVM_NESTED_HDR_SIZE)
        return VCORE_ERR_UNSUPPORTED;
    *kv_out = (vcore_kvm_vcpu_t *)vcore_vcpu_backend_priv(vcpu);
    return VCORE_OK;
}

int vcore_nvmx_kvm_get_nested_state(vcore_vcpu_t *vcpu, vcore_nvmx_t *nvmx, vcore_diag_t *diag)
{
    uint8_t buf[KVM_NESTED_BUF];
    vcore_kvm_vcpu_t *kv = NULL;
    uint32_t size = KVM_NESTED_BUF;
    int err;

    if (!nvmx)
        return VCORE_ERR_INVAL;
    err = kvm_nested_prepare(vcpu, &kv);
    if (err)
        return err;
#if VCORE__KVM_HAS_NESTED
    memset(buf, 0, sizeof(buf));
    memcpy(buf + 4, &size, 4); /* kvm_nested_state.size: room we offer */
    err = vcore__kvm_ioctl(vcore__kvm_vm_of(vcpu), kv->fd, KVM_GET_NESTED_STATE,
                           (unsigned long)(uintptr_t)buf);
    if (err < 0)
        return vcore__kvm_err(err);
    memcpy(&size, buf + 4, 4);
    if (size > sizeof(buf))
        return VCORE_ERR_HWFAIL;
    return vcore_nvmx_kvm_import(nvmx, buf, size, diag);
#else
    (void)buf;
    (void)size;
    (void)diag;
    return VCORE_ERR_UNSUPPORTED;
#endif
}

int vcore_nvmx_kvm_set_nested_state(vcore_vcpu_t *vcpu, const vcore_nvmx_t *nvmx)
{
    uint8_t buf[KVM_NESTED_BUF];
    vcore_kvm_vcpu_t *kv = NULL;
    uint32_t size = 0;
    int err;

    if (!nvmx)
        return VCORE_ERR_INVAL;
    err = kvm_nested_prepare(vcpu, &kv);
    if (err)
        return err;
    err = vcore_nvmx_kvm_export(nvmx, buf, sizeof(buf), &size);
    if (err)
        return err;
#if VCORE__KVM_HAS_NESTED
    err = vcore__kvm_ioctl(vcore__kvm_vm_of(vcpu), kv->fd, KVM_SET_NESTED_STATE,
                           (unsigned long)(uintptr_t)buf);
    /* Entering or leaving guest mode changes the registers KVM holds. */
    vcore__kvm_state_forget(kv);
    return err < 0 ? vcore__kvm_err(err) : VCORE_OK;
#else
    return VCORE_ERR_UNSUPPORTED;
#endif
}
