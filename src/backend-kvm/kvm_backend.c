/*
 * kvm_backend.c - the ops table of the Linux /dev/kvm backend.
 *
 * src/backends.c returns &vcore__backend_kvm_ops from vcore_backend_kvm().
 * The table only names the entry points; each lives in the file of its
 * concern (see kvm_priv.h).
 */
#include "kvm_priv.h"

const vcore_backend_t vcore__backend_kvm_ops = {
    .size = sizeof(vcore_backend_t),
    .abi_version = VCORE_BACKEND_ABI_VERSION,
#if defined(__aarch64__)
    .arches = VCORE_BACKEND_ARCH_ARM64,
#else
    .arches = VCORE_BACKEND_ARCH_X86_64,
#endif
    .name = "kvm",
    .vm_priv_size = sizeof(vcore_kvm_vm_t),
    .vcpu_priv_size = sizeof(vcore_kvm_vcpu_t),
    .probe = vcore__kvm_probe,
    .vm_init = vcore__kvm_vm_init,
    .vm_fini = vcore__kvm_vm_fini,
    .vm_map = vcore__kvm_vm_map,
    .vm_unmap = vcore__kvm_vm_unmap,
    .vm_dirty_log = vcore__kvm_vm_dirty_log,
    .vcpu_init = vcore__kvm_vcpu_init,
    .vcpu_fini = vcore__kvm_vcpu_fini,
    .vcpu_get_state = vcore__kvm_get_state,
    .vcpu_set_state = vcore__kvm_set_state,
    .vcpu_set_cpuid = vcore__kvm_vcpu_set_cpuid,
    .vcpu_run = vcore__kvm_vcpu_run,
    .vcpu_kick = vcore__kvm_vcpu_kick,
#if defined(__aarch64__)
    /* The arm64 register model through KVM_GET/SET_ONE_REG (kvm_arm64.c). */
    .state_groups = VCORE_ARM64_STATE_ALL,
#else
    /* Every group, events (kvm_events.c) and XMM0-XMM15 (kvm_state.c) included. */
    .state_groups = VCORE_X86_STATE_ALL | VCORE_X86_STATE_XMM,
#endif
    /* No NMI window: KVM delivers a pending NMI itself as soon as NMIs are
     * unblocked, so the core hands it over as pending. A refused
     * RDMSR/WRMSR (reply u.msr.error) becomes #GP in KVM: api.rst,
     * KVM_EXIT_X86_RDMSR/WRMSR, "This will inject a #GP into the guest
     * when the VCPU is executed again". */
    .features = VCORE_BACKEND_FEAT_MSR_FAULT,
#if defined(__x86_64__)
    /* Hyper-V: served by KVM itself (kvm_hyperv.c). */
    .vm_hv_host = vcore__kvm_vm_hv_host,
    .vcpu_hv_vp_index = vcore__kvm_vcpu_hv_vp_index,
#endif
};
