/*
 * kvm_hyperv.c - Hyper-V on KVM: KVM implements the hypercalls and the
 * synthetic MSRs in the kernel (a VMCALL never reaches user space as a
 * Hyper-V call), so the library only checks that the kernel serves what
 * the VM asks for, composes the CPUID leaves KVM_SET_CPUID2 receives (KVM
 * turns its Hyper-V emulation on for a vCPU whose 40000001H:EAX is "Hv#1"),
 * and gives KVM each vCPU's VP index.
 *
 * KVM API: KVM_CAP_HYPERV (the synthetic MSRs), KVM_CAP_HYPERV_VP_INDEX
 * (host-initiated writes of HV_X64_MSR_VP_INDEX), KVM_CAP_HYPERV_TLBFLUSH
 * (HvFlushVirtualAddress{Space,List}{,Ex}), KVM_CAP_HYPERV_SEND_IPI
 * (HvCallSendSyntheticClusterIpi{,Ex}). XMM fast input (TLFS "XMM Fast
 * Hypercall Input") is the kernel's to accept: KVM_GET_SUPPORTED_HV_CPUID
 * (KVM_CAP_SYS_HYPERV_CPUID) lists HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE,
 * 40000003H:EDX bit 4, when it does. The guest's XMM registers are the
 * XMM state group either way (kvm_state.c).
 * Hyper-V is x86: an arm64 build has none of this (the table leaves the
 * ops NULL there).
 */
#include <errno.h>
#include <string.h>

#include "kvm_priv.h"

#include "virtcore/x86/hyperv.h"

#if defined(__x86_64__)

static bool vcore__kvm_hv_cap(vcore_vm_t *vm, vcore_kvm_vm_t *kvm, long cap, const char *name)
{
    int r = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_CHECK_EXTENSION, (unsigned long)cap);
    if (r > 0)
        return true;
    char msg[96];
    size_t n = 0;
    static const char pre[] = "kvm: Hyper-V needs ";
    for (const char *s = pre; *s && n < sizeof(msg) - 1; s++)
        msg[n++] = *s;
    for (const char *s = name; *s && n < sizeof(msg) - 1; s++)
        msg[n++] = *s;
    msg[n] = '\0';
    vcore_vm_log(vm, VCORE_LOG_WARN, msg);
    return false;
}

/* 40000003H:EDX bit 4 in the kernel's supported Hyper-V leaves. */
static bool vcore__kvm_hv_xmm(vcore_vm_t *vm, vcore_kvm_vm_t *kvm)
{
    if (!vcore__kvm_hv_cap(vm, kvm, KVM_CAP_SYS_HYPERV_CPUID, "KVM_CAP_SYS_HYPERV_CPUID"))
        return false;
    struct {
        struct kvm_cpuid2 h;
        struct kvm_cpuid_entry2 e[64];
    } b;
    memset(&b, 0, sizeof(b));
    b.h.nent = 64;
    int r = vcore__kvm_ioctl(kvm, kvm->kvm_fd, KVM_GET_SUPPORTED_HV_CPUID, (unsigned long)&b);
    if (r < 0) {
        vcore__kvm_log_errno(vm, "KVM_GET_SUPPORTED_HV_CPUID", r);
        return false;
    }
    for (uint32_t i = 0; i < b.h.nent && i < 64; i++)
        if (b.e[i].function == VCORE_HV_CPUID_FEATURES)
            return (b.e[i].edx & VCORE_HV_FEAT_XMM_INPUT) != 0;
    vcore_vm_log(vm, VCORE_LOG_WARN, "kvm: Hyper-V XMM fast input is not offered by the kernel");
    return false;
}

int vcore__kvm_vm_hv_host(vcore_vm_t *vm, void *priv, uint32_t features)
{
    vcore_kvm_vm_t *kvm = priv;
    if (!vcore__kvm_hv_cap(vm, kvm, KVM_CAP_HYPERV, "KVM_CAP_HYPERV") ||
        !vcore__kvm_hv_cap(vm, kvm, KVM_CAP_HYPERV_VP_INDEX, "KVM_CAP_HYPERV_VP_INDEX"))
        return VCORE_ERR_UNSUPPORTED;
    if ((features & VCORE_HV_F_TLB_FLUSH) &&
        !vcore__kvm_hv_cap(vm, kvm, KVM_CAP_HYPERV_TLBFLUSH, "KVM_CAP_HYPERV_TLBFLUSH"))
        return VCORE_ERR_UNSUPPORTED;
    if ((features & VCORE_HV_F_IPI) &&
        !vcore__kvm_hv_cap(vm, kvm, KVM_CAP_HYPERV_SEND_IPI, "KVM_CAP_HYPERV_SEND_IPI"))
        return VCORE_ERR_UNSUPPORTED;
    if ((features & VCORE_HV_F_XMM_INPUT) && !vcore__kvm_hv_xmm(vm, kvm))
        return VCORE_ERR_UNSUPPORTED;
    return VCORE_OK;
}

int vcore__kvm_vcpu_hv_vp_index(vcore_vcpu_t *vcpu, void *priv, uint32_t vp_index)
{
    vcore_kvm_vcpu_t *kv = priv;
    const vcore_kvm_vm_t *kvm = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    struct {
        struct kvm_msrs h;
        struct kvm_msr_entry e;
    } b;
    memset(&b, 0, sizeof(b));
    b.h.nmsrs = 1;
    b.e.index = VCORE_HV_MSR_VP_INDEX;
    b.e.data = vp_index;
    /* KVM_SET_MSRS returns the number of MSRs it set: 1, or the write was refused. */
    int r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_MSRS, (unsigned long)&b);
    if (r == 1)
        return VCORE_OK;
    vcore__kvm_log_errno(vcore_vcpu_vm(vcpu), "KVM_SET_MSRS(HV_X64_MSR_VP_INDEX)", r < 0 ? r : -EINVAL);
    return r < 0 ? vcore__kvm_err(r) : VCORE_ERR_HWFAIL;
}

#else
/* ISO C wants a translation unit to declare something. */
typedef int vcore__kvm_hyperv_none_t;
#endif /* __x86_64__ */
