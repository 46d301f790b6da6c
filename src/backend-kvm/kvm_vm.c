/*
 * kvm_vm.c - VM lifecycle on /dev/kvm: probe, KVM_CREATE_VM, capabilities.
 *
 * Machine type: 0 on x86. On arm64 the IPA size is encoded in the type
 * (bits 7:0) after the core's pure check against the host limit that
 * KVM_CAP_ARM_VM_IPA_SIZE reports (src/core/arm64/ipa.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_priv.h"
#include "virtcore/arm64/ipa.h"

/* KVM_GET_API_VERSION has returned 12 since Linux 2.6.22 and never changes. */
#define VCORE_KVM_API_VERSION 12

int vcore__kvm_probe(const vcore_host_t *host)
{
    (void)host;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return VCORE_ERR_NODEV;
    int api = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    return api == VCORE_KVM_API_VERSION ? VCORE_OK : VCORE_ERR_NODEV;
}

/* KVM_CHECK_EXTENSION on fd; 0 when absent or on error. */
static int kvm_cap(const vcore_kvm_vm_t *kvm, int fd, long cap)
{
    int r = vcore__kvm_ioctl(kvm, fd, KVM_CHECK_EXTENSION, (unsigned long)cap);
    return r < 0 ? 0 : r;
}

/* Picks the machine type for KVM_CREATE_VM. */
static int kvm_vm_type(vcore_vm_t *vm, vcore_kvm_vm_t *kvm)
{
    const vcore_vm_config_t *cfg = vcore_vm_config(vm);
#if defined(__aarch64__)
    if (cfg->arch != VCORE_ARCH_ARM64)
        return VCORE_ERR_UNSUPPORTED;
    /* KVM's stage-2 granule is the host's page size: not the VMM's choice. */
    if (cfg->granule != 0)
        return VCORE_ERR_UNSUPPORTED;
    /* The host limit; 0 = the kernel cannot change the IPA size. */
    uint32_t limit = (uint32_t)kvm_cap(kvm, kvm->kvm_fd, KVM_CAP_ARM_VM_IPA_SIZE);
    int err = vcore_arm64_ipa_vm_type(cfg->ipa_bits, limit, &kvm->vm_type);
    if (err)
        return err;
    return vcore_arm64_ipa_from_vm_type(kvm->vm_type, limit, &kvm->ipa_bits);
#else
    if (cfg->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    /* x86 has no IPA-size encoding; refuse a request we cannot honour. */
    if (cfg->ipa_bits != 0)
        return VCORE_ERR_INVAL;
    kvm->vm_type = 0;
    kvm->ipa_bits = 0;
    return VCORE_OK;
#endif
}

static void kvm_close_fd(vcore_kvm_vm_t *kvm, int *fd)
{
    if (*fd >= 0)
        (void)kvm->sys.close(kvm->sys.ctx, *fd);
    *fd = -1;
}

/* Enables what the run loop relies on; only absent features are tolerated. */
static void kvm_vm_features(vcore_vm_t *vm, vcore_kvm_vm_t *kvm)
{
    if (kvm_cap(kvm, kvm->kvm_fd, KVM_CAP_IMMEDIATE_EXIT) > 0)
        kvm->features |= VCORE_KVM_F_IMMEDIATE_EXIT;
    if (kvm_cap(kvm, kvm->vm_fd, KVM_CAP_READONLY_MEM) > 0)
        kvm->features |= VCORE_KVM_F_READONLY_MEM;
#if defined(__x86_64__)
    if (kvm_cap(kvm, kvm->kvm_fd, KVM_CAP_XSAVE) > 0)
        kvm->features |= VCORE_KVM_F_XSAVE;
    if (kvm_cap(kvm, kvm->kvm_fd, KVM_CAP_XCRS) > 0)
        kvm->features |= VCORE_KVM_F_XCRS;
    if (kvm_cap(kvm, kvm->kvm_fd, KVM_CAP_DEBUGREGS) > 0)
        kvm->features |= VCORE_KVM_F_DEBUGREGS;
    /* Keeps a raised exception apart from one being delivered (and its
     * CR2/DR6 payload unapplied until delivery), as the event state does. */
    if (kvm_cap(kvm, kvm->vm_fd, KVM_CAP_EXCEPTION_PAYLOAD) > 0) {
        struct kvm_enable_cap cap = {0};
        cap.cap = KVM_CAP_EXCEPTION_PAYLOAD;
        cap.args[0] = 1;
        int r = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap);
        if (r == 0)
            kvm->features |= VCORE_KVM_F_EXC_PAYLOAD;
        else
            vcore__kvm_log_errno(vm, "KVM_ENABLE_CAP(EXCEPTION_PAYLOAD)", r);
    }
    /* MSRs the kernel does not implement (or refuses, or filters) exit to
     * user space instead of injecting #GP, so the VMM can model them. */
    int usable = kvm_cap(kvm, kvm->vm_fd, KVM_CAP_X86_USER_SPACE_MSR);
    uint32_t want = KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN |
                    KVM_MSR_EXIT_REASON_FILTER;
    if (usable > 0) {
        struct kvm_enable_cap cap = {0};
        cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
        cap.args[0] = want;
        int r = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap);
        if (r == 0) {
            kvm->features |= VCORE_KVM_F_USER_MSR;
            kvm->msr_exit_mask = want;
        } else {
            vcore__kvm_log_errno(vm, "KVM_ENABLE_CAP(X86_USER_SPACE_MSR)", r);
        }
    }
#elif defined(__aarch64__)
    vcore__kvm_arm64_vm_features(vm, kvm);
#else
    (void)vm;
#endif
}

int vcore__kvm_vm_init(vcore_vm_t *vm, void *priv)
{
    vcore_kvm_vm_t *kvm = priv;
    /* Test fakes, if any, were installed before us: keep them. */
    vcore__kvm_sys_defaults(&kvm->sys);
    kvm->kvm_fd = -1;
    kvm->vm_fd = -1;
    kvm->kick_signal = VCORE_KVM_KICK_SIGNAL;

    int fd = kvm->sys.open(kvm->sys.ctx, "/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        vcore__kvm_log_errno(vm, "open(/dev/kvm)", fd);
        return fd == -ENOMEM ? VCORE_ERR_NOMEM : VCORE_ERR_NODEV;
    }
    kvm->kvm_fd = fd;

    int err;
    int r = vcore__kvm_ioctl(kvm, fd, KVM_GET_API_VERSION, 0);
    if (r != VCORE_KVM_API_VERSION) {
        err = VCORE_ERR_NODEV;
        goto fail;
    }
    r = vcore__kvm_ioctl(kvm, fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (r < (int)sizeof(struct kvm_run)) {
        vcore__kvm_log_errno(vm, "KVM_GET_VCPU_MMAP_SIZE", r < 0 ? r : -EINVAL);
        err = r < 0 ? vcore__kvm_err(r) : VCORE_ERR_HWFAIL;
        goto fail;
    }
    kvm->run_size = (size_t)r;

    err = kvm_vm_type(vm, kvm);
    if (err)
        goto fail;

    r = vcore__kvm_ioctl(kvm, fd, KVM_CREATE_VM, (unsigned long)kvm->vm_type);
    if (r < 0) {
        vcore__kvm_log_errno(vm, "KVM_CREATE_VM", r);
        err = vcore__kvm_err(r);
        if (err == VCORE_ERR_NODEV || err == VCORE_ERR_UNSUPPORTED)
            err = VCORE_ERR_HWFAIL;
        goto fail;
    }
    kvm->vm_fd = r;
    kvm_vm_features(vm, kvm);

    /* The kick needs a handler for its signal, or the signal kills us. */
    if (vcore__kvm_kick_prepare(kvm->kick_signal) != VCORE_OK)
        vcore_vm_log(vm, VCORE_LOG_WARN, "kvm: cannot install the kick signal handler");
    return VCORE_OK;

fail:
    kvm_close_fd(kvm, &kvm->vm_fd);
    kvm_close_fd(kvm, &kvm->kvm_fd);
    return err;
}

void vcore__kvm_vm_fini(vcore_vm_t *vm, void *priv)
{
    (void)vm;
    vcore_kvm_vm_t *kvm = priv;
    kvm_close_fd(kvm, &kvm->vm_fd);
    kvm_close_fd(kvm, &kvm->kvm_fd);
}
