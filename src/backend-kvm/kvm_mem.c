/*
 * kvm_mem.c - guest memory slots: KVM_SET_USER_MEMORY_REGION and dirty log.
 *
 * The core validates alignment and overlaps and picks the slot number; the
 * backend only tells KVM. A slot is deleted by setting its size to 0
 * (api.rst, "KVM_SET_USER_MEMORY_REGION").
 */
#include <errno.h>
#include <string.h>

#include "kvm_priv.h"

static int kvm_set_slot(vcore_vm_t *vm, vcore_kvm_vm_t *kvm, uint32_t slot,
                        const vcore_mem_region_t *r, bool remove)
{
    struct kvm_userspace_memory_region m;
    memset(&m, 0, sizeof m);
    m.slot = slot;
    m.guest_phys_addr = r->gpa;
    m.memory_size = remove ? 0 : r->len;
    m.userspace_addr = (uint64_t)(uintptr_t)r->hva;
    if (!remove) {
        if (r->flags & VCORE_MEM_READONLY)
            m.flags |= KVM_MEM_READONLY; /* guest writes exit as MMIO writes */
        if (r->flags & VCORE_MEM_LOG_DIRTY)
            m.flags |= KVM_MEM_LOG_DIRTY_PAGES;
    }
    int rc = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&m);
    if (rc < 0) {
        vcore__kvm_log_errno(vm, remove ? "KVM_SET_USER_MEMORY_REGION(delete)"
                                        : "KVM_SET_USER_MEMORY_REGION",
                             rc);
        int err = vcore__kvm_err(rc);
        /* EEXIST = overlap KVM found; keep it. Everything else is a refusal. */
        return err == VCORE_ERR_NOMEM || err == VCORE_ERR_EXISTS ? err : VCORE_ERR_HWFAIL;
    }
    return VCORE_OK;
}

int vcore__kvm_vm_map(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r)
{
    vcore_kvm_vm_t *kvm = priv;
    if (!r)
        return VCORE_ERR_INVAL;
    if ((r->flags & VCORE_MEM_READONLY) && !(kvm->features & VCORE_KVM_F_READONLY_MEM))
        return VCORE_ERR_UNSUPPORTED;
    if (r->flags & ~(VCORE_MEM_READONLY | VCORE_MEM_LOG_DIRTY))
        return VCORE_ERR_UNSUPPORTED;
    return kvm_set_slot(vm, kvm, slot, r, false);
}

int vcore__kvm_vm_unmap(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r)
{
    if (!r)
        return VCORE_ERR_INVAL;
    return kvm_set_slot(vm, priv, slot, r, true);
}

int vcore__kvm_vm_dirty_log(vcore_vm_t *vm, void *priv, uint32_t slot,
                            const vcore_mem_region_t *r, uint64_t *bitmap, size_t bitmap_len)
{
    vcore_kvm_vm_t *kvm = priv;
    if (!r || !bitmap)
        return VCORE_ERR_INVAL;
    /* KVM writes one bit per 4 KiB page, rounded up to whole 64-bit words. */
    uint64_t pages = r->len / VCORE_PAGE_SIZE;
    if (bitmap_len < (size_t)((pages + 63) / 64 * 8))
        return VCORE_ERR_BUFSZ;
    if (!(r->flags & VCORE_MEM_LOG_DIRTY))
        return VCORE_ERR_STATE;
    struct kvm_dirty_log log;
    memset(&log, 0, sizeof log);
    log.slot = slot;
    log.dirty_bitmap = bitmap;
    int rc = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&log);
    if (rc < 0) {
        vcore__kvm_log_errno(vm, "KVM_GET_DIRTY_LOG", rc);
        return rc == -EFAULT ? VCORE_ERR_FAULT : VCORE_ERR_HWFAIL;
    }
    return VCORE_OK;
}
