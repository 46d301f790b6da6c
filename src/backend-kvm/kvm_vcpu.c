/*
 * kvm_vcpu.c - vCPU lifecycle: KVM_CREATE_VCPU and the kvm_run mapping.
 *
 * The core writes its RESET state right after vcpu_init (every class is
 * dirty), so nothing here loads registers: what KVM chose for a fresh vCPU
 * is replaced before the first KVM_RUN.
 */
#include <errno.h>
#include <string.h>

#include "kvm_priv.h"

/* SDM Vol. 1, "Guidelines for Writing to the MXCSR Register": an FXSAVE
 * image with MXCSR_MASK = 0 means the default mask 0000FFBFH (no DAZ). */
#define VCORE_KVM_MXCSR_MASK_DEFAULT 0xffbfu

#if defined(__x86_64__)
/* Reads MXCSR_MASK (FXSAVE image bytes 31:28) once: it never changes. */
static uint32_t kvm_read_mxcsr_mask(const vcore_kvm_vm_t *kvm, int fd)
{
    struct kvm_xsave xs;
    if (!(kvm->features & VCORE_KVM_F_XSAVE))
        return VCORE_KVM_MXCSR_MASK_DEFAULT;
    memset(&xs, 0, sizeof xs);
    if (vcore__kvm_ioctl(kvm, fd, KVM_GET_XSAVE, (unsigned long)&xs) < 0)
        return VCORE_KVM_MXCSR_MASK_DEFAULT;
    uint32_t mask = xs.region[7];
    if (mask)
        return mask;
    /* A fresh image may not hold it yet. The guest runs on this CPU: its
     * FXSAVE reports the same mask. */
    uint8_t img[512] __attribute__((aligned(16)));
    memset(img, 0, sizeof img);
    __asm__ volatile("fxsave %0" : "=m"(img));
    memcpy(&mask, img + 28, sizeof mask);
    return mask ? mask : VCORE_KVM_MXCSR_MASK_DEFAULT;
}
#endif

#if defined(__aarch64__)
/* arm64 vCPUs need KVM_ARM_VCPU_INIT with the host's preferred target
 * before they can run (api.rst, "KVM_ARM_VCPU_INIT"). KVM_ARM_VCPU_PSCI_0_2:
 * the guest gets PSCI 0.2 and later (SYSTEM_OFF / SYSTEM_RESET become
 * KVM_EXIT_SYSTEM_EVENT) instead of the 0.1 function ids. */
static int kvm_arm_vcpu_init(const vcore_kvm_vm_t *kvm, int fd)
{
    struct kvm_vcpu_init init;
    memset(&init, 0, sizeof init);
    int r = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_ARM_PREFERRED_TARGET, (unsigned long)&init);
    if (r < 0)
        return r;
    init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
    return vcore__kvm_ioctl(kvm, fd, KVM_ARM_VCPU_INIT, (unsigned long)&init);
}
#endif

int vcore__kvm_vcpu_init(vcore_vcpu_t *vcpu, void *priv)
{
    vcore_kvm_vcpu_t *kv = priv;
    vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);

    kv->fd = -1;
    kv->id = vcore_vcpu_id(vcpu);
    int r = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_CREATE_VCPU, (unsigned long)kv->id);
    if (r < 0) {
        vcore__kvm_log_errno(vm, "KVM_CREATE_VCPU", r);
        int err = vcore__kvm_err(r);
        return err == VCORE_ERR_NOMEM ? err : VCORE_ERR_HWFAIL;
    }
    kv->fd = r;

    int merr = 0;
    void *run = kvm->sys.mmap(kvm->sys.ctx, kvm->run_size, kv->fd, &merr);
    if (!run) {
        vcore__kvm_log_errno(vm, "mmap(kvm_run)", -merr);
        (void)kvm->sys.close(kvm->sys.ctx, kv->fd);
        kv->fd = -1;
        return merr == ENOMEM ? VCORE_ERR_NOMEM : VCORE_ERR_HWFAIL;
    }
    kv->run = run;
    kv->run_size = kvm->run_size;
    kv->reply = VCORE_KVM_REPLY_NONE;
    kv->events_own.size = sizeof kv->events_own;

#if defined(__x86_64__)
    kv->mxcsr_mask = kvm_read_mxcsr_mask(kvm, kv->fd);
    vcore__kvm_probe_msrs(vcpu, kv);
#elif defined(__aarch64__)
    r = kvm_arm_vcpu_init(kvm, kv->fd);
    if (r < 0) {
        vcore__kvm_log_errno(vm, "KVM_ARM_VCPU_INIT", r);
        vcore__kvm_vcpu_fini(vcpu, priv);
        return VCORE_ERR_HWFAIL;
    }
#endif
    return VCORE_OK;
}

void vcore__kvm_vcpu_fini(vcore_vcpu_t *vcpu, void *priv)
{
    vcore_kvm_vcpu_t *kv = priv;
    vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    if (kv->run) {
        (void)kvm->sys.munmap(kvm->sys.ctx, kv->run, kv->run_size);
        kv->run = NULL;
    }
    if (kv->fd >= 0) {
        (void)kvm->sys.close(kvm->sys.ctx, kv->fd);
        kv->fd = -1;
    }
}
