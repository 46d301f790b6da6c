/*
 * kvm_cpuid.c - KVM_SET_CPUID2 of the core's final table, and
 * KVM_GET_SUPPORTED_CPUID for VMMs.
 *
 * The core runs check -> update -> after-set on its copy first and calls
 * vcpu_set_cpuid with the table it wants in force. If KVM refuses it, the
 * op fails and the core keeps its previous table and model; KVM itself
 * unwinds a refused KVM_SET_CPUID2 (the previous table stays live), so the
 * pair stays consistent.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_priv.h"

#if defined(__x86_64__)
/* struct kvm_cpuid2 with room for the largest table the core accepts. */
struct cpuid_buf {
    struct kvm_cpuid2 hdr;
    struct kvm_cpuid_entry2 e[VCORE_CPUID_MAX_ENTRIES];
};
#endif

int vcore__kvm_vcpu_set_cpuid(vcore_vcpu_t *vcpu, void *priv, const vcore_cpuid_entry_t *e,
                              uint32_t nent)
{
#if defined(__x86_64__)
    vcore_kvm_vcpu_t *kv = priv;
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    struct cpuid_buf b;

    if (nent > VCORE_CPUID_MAX_ENTRIES || (nent && !e))
        return VCORE_ERR_INVAL;
    memset(&b, 0, sizeof(b.hdr) + nent * sizeof(b.e[0]));
    b.hdr.nent = nent;
    for (uint32_t i = 0; i < nent; i++) {
        b.e[i].function = e[i].function;
        b.e[i].index = e[i].index;
        /* Same bit 0 in both: the sub-leaf index is significant. */
        b.e[i].flags = (e[i].flags & VCORE_CPUID_FLAG_INDEX_SIGNIFICANT)
                           ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX
                           : 0;
        b.e[i].eax = e[i].eax;
        b.e[i].ebx = e[i].ebx;
        b.e[i].ecx = e[i].ecx;
        b.e[i].edx = e[i].edx;
    }
    int r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_CPUID2, (unsigned long)&b);
    if (r < 0) {
        vcore__kvm_log_errno(vcore_vcpu_vm(vcpu), "KVM_SET_CPUID2", r);
        /* Whatever the reason (EINVAL, E2BIG, ENOMEM, EFAULT), KVM kept its
         * previous table: report the refusal so the core keeps its own. */
        return r == -ENOMEM ? VCORE_ERR_NOMEM : VCORE_ERR_HWFAIL;
    }
    return VCORE_OK;
#else
    (void)vcpu;
    (void)priv;
    (void)e;
    (void)nent;
    return VCORE_ERR_UNSUPPORTED;
#endif
}

bool vcore_kvm_is_kvm_vm(const vcore_vm_t *vm)
{
    if (!vm)
        return false;
    const vcore_vm_config_t *cfg = vcore_vm_config(vm);
    /* Tests run the backend through a copy of the ops with wrapped entries;
     * the run op identifies the backend. */
    return cfg && cfg->backend && cfg->backend->vcpu_run == vcore__kvm_vcpu_run;
}

int vcore_kvm_get_supported_cpuid(vcore_vm_t *vm, vcore_cpuid_entry_t *entries, uint32_t cap,
                                  uint32_t *nent)
{
    if (!nent || (cap && !entries))
        return VCORE_ERR_INVAL;
    if (vm && !vcore_kvm_is_kvm_vm(vm))
        return VCORE_ERR_INVAL;
#if defined(__x86_64__)
    struct cpuid_buf b;
    int r;
    memset(&b, 0, sizeof b);
    b.hdr.nent = VCORE_CPUID_MAX_ENTRIES;
    if (vm) {
        const vcore_kvm_vm_t *kvm = vcore_vm_backend_priv(vm);
        r = vcore__kvm_ioctl(kvm, kvm->kvm_fd, KVM_GET_SUPPORTED_CPUID, (unsigned long)&b);
    } else {
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return VCORE_ERR_NODEV;
        do {
            r = ioctl(fd, KVM_GET_SUPPORTED_CPUID, &b);
            if (r < 0)
                r = -errno;
        } while (r == -EINTR);
        close(fd);
    }
    if (r < 0)
        return r == -E2BIG ? VCORE_ERR_BUFSZ : r == -ENOMEM ? VCORE_ERR_NOMEM : VCORE_ERR_HWFAIL;
    /* The count comes from the kernel: never trust it past our buffer. */
    uint32_t n = b.hdr.nent;
    if (n > VCORE_CPUID_MAX_ENTRIES)
        return VCORE_ERR_HWFAIL;
    *nent = n;
    if (cap < n)
        return VCORE_ERR_BUFSZ;
    for (uint32_t i = 0; i < n; i++) {
        entries[i].function = b.e[i].function;
        entries[i].index = b.e[i].index;
        entries[i].flags = (b.e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX)
                               ? VCORE_CPUID_FLAG_INDEX_SIGNIFICANT
                               : 0;
        entries[i].eax = b.e[i].eax;
        entries[i].ebx = b.e[i].ebx;
        entries[i].ecx = b.e[i].ecx;
        entries[i].edx = b.e[i].edx;
    }
    return VCORE_OK;
#else
    (void)entries;
    return VCORE_ERR_UNSUPPORTED;
#endif
}
