/* vm.c - VM objects: creation in host or caller memory, guest memory map. */
#include "object.h"
#include "x86/x86.h"
#include "x86/hyperv/hv.h"
#include "virtcore/arm64/stage2.h"

#define VCORE__PAGE_MASK ((uint64_t)VCORE_PAGE_SIZE - 1)

void vcore_vm_config_init(vcore_vm_config_t *cfg)
{
    if (!cfg)
        return;
    vcore__memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->arch = VCORE_ARCH_X86_64;
    cfg->max_vcpus = 1;
}

/* The largest private size a backend may ask for: the core's part of a
 * block plus the private part must stay far from SIZE_MAX (no wrap in any
 * size computation, whatever the architecture or nested state adds). */
#define VCORE__MAX_PRIV_SIZE ((size_t)1 << (sizeof(size_t) * 8 - 4))

/* Copies a caller's table into a full-size one: ops past its size are NULL.
 * A table that ends before state_groups predates the event state: it holds
 * every x86 group but the events. */
static void vcore__backend_normalize(const vcore_backend_t *be, vcore_backend_t *out)
{
    size_t n = be->size < sizeof(*out) ? be->size : sizeof(*out);
    vcore__memset(out, 0, sizeof(*out));
    vcore__memcpy(out, be, n);
    if (n < offsetof(vcore_backend_t, state_groups) + sizeof(out->state_groups))
        out->state_groups = VCORE_X86_STATE_ALL & ~VCORE_X86_STATE_EVENTS;
    out->size = sizeof(*out);
}

int vcore_backend_validate(const vcore_backend_t *be)
{
    vcore_backend_t ops;
    if (!be)
        return VCORE_ERR_INVAL;
    if (be->size < VCORE_BACKEND_SIZE_V1 || be->abi_version != VCORE_BACKEND_ABI_VERSION)
        return VCORE_ERR_ABI;
    vcore__backend_normalize(be, &ops);
    if (!ops.name || !ops.vm_init || !ops.vm_fini || !ops.vcpu_init || !ops.vcpu_fini ||
        !ops.vcpu_get_state || !ops.vcpu_set_state || !ops.vcpu_run)
        return VCORE_ERR_INVAL;
    if (ops.vm_priv_size > VCORE__MAX_PRIV_SIZE || ops.vcpu_priv_size > VCORE__MAX_PRIV_SIZE)
        return VCORE_ERR_INVAL;
    /* A backend that maps must be able to unmap. */
    if (ops.vm_map && !ops.vm_unmap)
        return VCORE_ERR_INVAL;
    /* The hardware VMCS operations come as a group (backend.h). */
    bool any = ops.vmcs_alloc || ops.vmcs_free || ops.vmcs_load || ops.vmcs_clear ||
               ops.vmcs_read || ops.vmcs_write || ops.vmcs_enter;
    bool all = ops.vmcs_alloc && ops.vmcs_free && ops.vmcs_load && ops.vmcs_clear &&
               ops.vmcs_read && ops.vmcs_write && ops.vmcs_enter;
    if (any && !all)
        return VCORE_ERR_INVAL;
    /* A shadow VMCS is one of the group's objects; a batched read reads them. */
    if ((ops.vmcs_shadow_link || ops.vmcs_read_many) && !all)
        return VCORE_ERR_INVAL;
    /* So do the hardware VMCB operations. */
    any = ops.vmcb_alloc || ops.vmcb_free || ops.vmcb_read || ops.vmcb_write || ops.vmcb_setup ||
          ops.vmcb_npt_map || ops.vmcb_run;
    all = ops.vmcb_alloc && ops.vmcb_free && ops.vmcb_read && ops.vmcb_write && ops.vmcb_setup &&
          ops.vmcb_npt_map && ops.vmcb_run;
    if (any && !all)
        return VCORE_ERR_INVAL;
    /* A vpid02 the core cannot flush would keep stale translations. */
    if (ops.vcpu_vpid02 && !ops.vcpu_flush_vpid02)
        return VCORE_ERR_INVAL;
    /* A host that serves Hyper-V takes the VP indexes too. */
    if (ops.vm_hv_host && !ops.vcpu_hv_vp_index)
        return VCORE_ERR_INVAL;
    return VCORE_OK;
}

/* Checks a configuration and resolves its host services into *host. */
static int vcore__vm_check_config(const vcore_vm_config_t *cfg, vcore_host_t *host,
                                  bool need_alloc)
{
    if (!cfg)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(cfg))
        return VCORE_ERR_ABI;
    int err = vcore_backend_validate(cfg->backend);
    if (err)
        return err;
    if (cfg->flags != 0 || cfg->max_vcpus == 0 || cfg->max_vcpus > VCORE_VM_MAX_VCPUS)
        return VCORE_ERR_INVAL;
    if (cfg->arch != VCORE_ARCH_X86_64 && cfg->arch != VCORE_ARCH_ARM64)
        return VCORE_ERR_INVAL;
    /* The stage-2 granule: 4KB, 16KB or 64KB (Arm ARM, "VTCR_EL2", TG0), arm64 only. */
    if (cfg->granule != 0 &&
        (cfg->arch != VCORE_ARCH_ARM64 ||
         (cfg->granule != VCORE_ARM64_GRANULE_4K && cfg->granule != VCORE_ARM64_GRANULE_16K &&
          cfg->granule != VCORE_ARM64_GRANULE_64K)))
        return VCORE_ERR_INVAL;
    if (!(cfg->backend->arches & (1u << cfg->arch)))
        return VCORE_ERR_UNSUPPORTED;
    const vcore_host_t *h = cfg->host ? cfg->host : vcore_host_default();
    err = vcore_host_validate(h, need_alloc);
    if (err)
        return err;
    if (host)
        vcore__host_normalize(h, host);
    return VCORE_OK;
}

static size_t vcore__vm_block_size(const vcore_backend_t *be)
{
    /* vcore_backend_validate() bounded vm_priv_size: no wrap. */
    return vcore__align_up(sizeof(struct vcore_vm)) + vcore__align_up(be->vm_priv_size);
}

int vcore_vm_storage_size(const vcore_vm_config_t *cfg, size_t *out)
{
    if (!out)
        return VCORE_ERR_INVAL;
    int err = vcore__vm_check_config(cfg, NULL, false);
    if (err)
        return err;
    *out = vcore__vm_block_size(cfg->backend);
    return VCORE_OK;
}

/* Builds a VM in a zeroed block and lets the backend initialise. */
static int vcore__vm_setup(void *mem, size_t block, const vcore_vm_config_t *cfg,
                           const vcore_host_t *host, bool allocated, vcore_vm_t **out)
{
    vcore_vm_t *vm = mem;
    vcore__memset(vm, 0, block);
    vm->block_size = block;
    vm->allocated = allocated;
    vm->cfg = *cfg;
    vm->host = *host;
    vm->cfg.host = &vm->host;
    vm->be = cfg->backend;
    vcore__backend_normalize(cfg->backend, &vm->ops);
    vm->priv = (uint8_t *)mem + vcore__align_up(sizeof(struct vcore_vm));
    (void)vcore__diag_set(&vm->last_diag, VCORE_DIAG_NONE, 0); /* name and message never NULL */
    vm->magic = VCORE__VM_MAGIC;
    if (vm->ops.probe) {
        int err = vm->ops.probe(&vm->host);
        if (err) {
            vm->magic = 0;
            return err;
        }
    }
    int err = vm->ops.vm_init(vm, vm->priv);
    if (err) {
        vm->magic = 0;
        return err;
    }
    *out = vm;
    return VCORE_OK;
}

int vcore_vm_create(const vcore_vm_config_t *cfg, vcore_vm_t **out)
{
    vcore_host_t host;
    if (!out)
        return VCORE_ERR_INVAL;
    int err = vcore__vm_check_config(cfg, &host, true);
    if (err)
        return err;
    size_t block = vcore__vm_block_size(cfg->backend);
    void *mem = host.alloc(host.ctx, block);
    if (!mem)
        return VCORE_ERR_NOMEM;
    err = vcore__vm_setup(mem, block, cfg, &host, true, out);
    if (err)
        host.free(host.ctx, mem, block);
    return err;
}

int vcore_vm_init_static(void *mem, size_t len, const vcore_vm_config_t *cfg, vcore_vm_t **out)
{
    vcore_host_t host;
    if (!mem || !out || ((uintptr_t)mem & (VCORE__ALIGN - 1)))
        return VCORE_ERR_INVAL;
    int err = vcore__vm_check_config(cfg, &host, false);
    if (err)
        return err;
    size_t block = vcore__vm_block_size(cfg->backend);
    if (len < block)
        return VCORE_ERR_BUFSZ;
    return vcore__vm_setup(mem, block, cfg, &host, false, out);
}

/* Unmaps every region and releases the backend's VM state. */
static void vcore__vm_teardown(vcore_vm_t *vm)
{
    for (uint32_t slot = 0; slot < VCORE_VM_MAX_REGIONS; slot++) {
        if (vm->regions[slot].len && vm->ops.vm_unmap)
            (void)vm->ops.vm_unmap(vm, vm->priv, slot, &vm->regions[slot]);
        vm->regions[slot].len = 0;
    }
    vcore__hv_vm_teardown(vm);
    vm->ops.vm_fini(vm, vm->priv);
    vm->magic = 0;
}

void vcore_vm_destroy(vcore_vm_t *vm)
{
    if (!vcore__vm_ok(vm) || !vm->allocated)
        return;
    for (uint32_t i = 0; i < VCORE_VM_MAX_VCPUS && vm->nvcpus; i++) {
        vcore_vcpu_t *vcpu = vm->vcpus[i];
        if (!vcpu)
            continue;
        if (vcpu->allocated)
            vcore_vcpu_destroy(vcpu);
        else
            vcore__vcpu_teardown(vcpu); /* caller storage: only the teardown */
    }
    vcore_host_t host = vm->host;
    size_t block = vm->block_size;
    vcore__vm_teardown(vm);
    host.free(host.ctx, vm, block);
}

int vcore_vm_fini(vcore_vm_t *vm)
{
    if (!vcore__vm_ok(vm))
        return VCORE_ERR_INVAL;
    if (vm->allocated || vm->nvcpus)
        return VCORE_ERR_STATE;
    vcore__vm_teardown(vm);
    return VCORE_OK;
}

/* Records a VM-level refusal and returns err. */
static int vcore__vm_refuse(vcore_vm_t *vm, int err, uint32_t diag, uint64_t value)
{
    (void)vcore__diag_set(&vm->last_diag, diag, value);
    vcore_vm_log(vm, VCORE_LOG_WARN, vm->last_diag.message);
    return err;
}

int vcore_vm_map_memory(vcore_vm_t *vm, const vcore_mem_region_t *r)
{
    if (!vcore__vm_ok(vm) || !r)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(r))
        return VCORE_ERR_ABI;
    if (r->flags & ~(uint32_t)(VCORE_MEM_READONLY | VCORE_MEM_LOG_DIRTY))
        return VCORE_ERR_INVAL;
    if (!r->hva || r->len == 0 || (r->gpa & VCORE__PAGE_MASK) || (r->len & VCORE__PAGE_MASK) ||
        ((uintptr_t)r->hva & VCORE__PAGE_MASK))
        return vcore__vm_refuse(vm, VCORE_ERR_INVAL, VCORE_DIAG_MEM_ALIGN, r->gpa);
    uint64_t end = r->gpa + r->len;
    if (end < r->gpa)
        return vcore__vm_refuse(vm, VCORE_ERR_INVAL, VCORE_DIAG_MEM_ALIGN, r->gpa);
    /* The host range must not wrap the host address space either. */
    uintptr_t hva = (uintptr_t)r->hva;
    if (r->len - 1 > (uint64_t)(UINTPTR_MAX - hva))
        return vcore__vm_refuse(vm, VCORE_ERR_INVAL, VCORE_DIAG_MEM_ALIGN, (uint64_t)(uintptr_t)r->hva);
    uint32_t free_slot = VCORE_VM_MAX_REGIONS;
    for (uint32_t s = 0; s < VCORE_VM_MAX_REGIONS; s++) {
        const vcore_mem_region_t *o = &vm->regions[s];
        if (!o->len) {
            if (free_slot == VCORE_VM_MAX_REGIONS)
                free_slot = s;
            continue;
        }
        if (r->gpa < o->gpa + o->len && o->gpa < end)
            return vcore__vm_refuse(vm, VCORE_ERR_EXISTS, VCORE_DIAG_MEM_OVERLAP, r->gpa);
    }
    if (free_slot == VCORE_VM_MAX_REGIONS)
        return VCORE_ERR_RANGE;
    if ((r->flags & VCORE_MEM_LOG_DIRTY) && !vm->ops.vm_dirty_log)
        return VCORE_ERR_UNSUPPORTED;
    if (vm->ops.vm_map) {
        int err = vm->ops.vm_map(vm, vm->priv, free_slot, r);
        if (err)
            return err;
    }
    vm->regions[free_slot] = *r;
    return VCORE_OK;
}

static int vcore__vm_find_slot(const vcore_vm_t *vm, uint64_t gpa, uint32_t *slot)
{
    for (uint32_t s = 0; s < VCORE_VM_MAX_REGIONS; s++) {
        if (vm->regions[s].len && vm->regions[s].gpa == gpa) {
            *slot = s;
            return VCORE_OK;
        }
    }
    return VCORE_ERR_NOENT;
}

int vcore_vm_unmap_memory(vcore_vm_t *vm, uint64_t gpa)
{
    uint32_t slot;
    if (!vcore__vm_ok(vm))
        return VCORE_ERR_INVAL;
    if (vcore__vm_find_slot(vm, gpa, &slot))
        return vcore__vm_refuse(vm, VCORE_ERR_NOENT, VCORE_DIAG_MEM_UNMAPPED, gpa);
    if (vm->ops.vm_unmap) {
        int err = vm->ops.vm_unmap(vm, vm->priv, slot, &vm->regions[slot]);
        if (err)
            return err;
    }
    vm->regions[slot].len = 0;
    vm->map_gen++;
    return VCORE_OK;
}

/* The region holding gpa, or NULL. The slot of the last hit is tried
 * first: guest accesses come in runs on the same region. */
const vcore_mem_region_t *vcore__vm_region_at(const vcore_vm_t *vm, uint64_t gpa)
{
    uint32_t hint = __atomic_load_n(&vm->last_region, __ATOMIC_RELAXED);
    const vcore_mem_region_t *r = &vm->regions[hint % VCORE_VM_MAX_REGIONS];
    if (r->len && gpa >= r->gpa && gpa - r->gpa < r->len)
        return r;
    for (uint32_t s = 0; s < VCORE_VM_MAX_REGIONS; s++) {
        r = &vm->regions[s];
        if (r->len && gpa >= r->gpa && gpa - r->gpa < r->len) {
            /* A hint only, shared by concurrent readers: relaxed atomics. */
            __atomic_store_n(&((vcore_vm_t *)(uintptr_t)vm)->last_region, s, __ATOMIC_RELAXED);
            return r;
        }
    }
    return NULL;
}

/*
 * Walks [gpa, gpa+len) region by region. With copy == false it only checks
 * that the whole range is mapped (and writable); the copy pass runs only
 * after the check pass, so a failed access changes nothing.
 */
static int vcore__vm_access(const vcore_vm_t *vm, uint64_t gpa, uint8_t *buf, size_t len,
                            bool write, bool copy)
{
    while (len) {
        const vcore_mem_region_t *r = vcore__vm_region_at(vm, gpa);
        if (!r || (write && (r->flags & VCORE_MEM_READONLY)))
            return VCORE_ERR_FAULT;
        uint64_t off = gpa - r->gpa;
        uint64_t avail = r->len - off;
        size_t chunk = len < avail ? len : (size_t)avail;
        if (copy) {
            uint8_t *host = (uint8_t *)r->hva + off;
            if (write)
                vcore__memcpy(host, buf, chunk);
            else
                vcore__memcpy(buf, host, chunk);
            buf += chunk;
        }
        gpa += chunk;
        len -= chunk;
        if (len && gpa == 0) /* wrapped past the top of the address space */
            return VCORE_ERR_FAULT;
    }
    return VCORE_OK;
}

/* The common case, one region holding the whole range: one lookup, no
 * check pass. Returns the region or NULL (then the general walk decides). */
static const vcore_mem_region_t *vcore__vm_one_region(const vcore_vm_t *vm, uint64_t gpa, size_t len,
                                                      bool write)
{
    const vcore_mem_region_t *r = vcore__vm_region_at(vm, gpa);
    if (!r || (write && (r->flags & VCORE_MEM_READONLY)) || len > r->len - (gpa - r->gpa))
        return NULL;
    return r;
}

int vcore_vm_read_guest(const vcore_vm_t *vm, uint64_t gpa, void *buf, size_t len)
{
    if (!vcore__vm_ok(vm) || (!buf && len))
        return VCORE_ERR_INVAL;
    const vcore_mem_region_t *one = vcore__vm_one_region(vm, gpa, len, false);
    if (one) {
        vcore__memcpy(buf, (const uint8_t *)one->hva + (gpa - one->gpa), len);
        return VCORE_OK;
    }
    int err = vcore__vm_access(vm, gpa, buf, len, false, false);
    if (err)
        return err;
    return vcore__vm_access(vm, gpa, buf, len, false, true);
}

int vcore_vm_write_guest(vcore_vm_t *vm, uint64_t gpa, const void *buf, size_t len)
{
    if (!vcore__vm_ok(vm) || (!buf && len))
        return VCORE_ERR_INVAL;
    const vcore_mem_region_t *one = vcore__vm_one_region(vm, gpa, len, true);
    if (one) {
        vcore__memcpy((uint8_t *)one->hva + (gpa - one->gpa), buf, len);
        return VCORE_OK;
    }
    int err = vcore__vm_access(vm, gpa, (uint8_t *)(uintptr_t)buf, len, true, false);
    if (err) {
        /* Mapped throughout but refused for writing: a read-only region. */
        bool mapped = vcore__vm_access(vm, gpa, NULL, len, false, false) == VCORE_OK;
        return vcore__vm_refuse(vm, err, mapped ? VCORE_DIAG_MEM_READ_ONLY : VCORE_DIAG_MEM_UNMAPPED,
                                gpa);
    }
    return vcore__vm_access(vm, gpa, (uint8_t *)(uintptr_t)buf, len, true, true);
}

int vcore_vm_get_dirty_log(vcore_vm_t *vm, uint64_t gpa, uint64_t *bitmap, size_t bitmap_len)
{
    uint32_t slot;
    if (!vcore__vm_ok(vm) || !bitmap)
        return VCORE_ERR_INVAL;
    if (vcore__vm_find_slot(vm, gpa, &slot))
        return VCORE_ERR_NOENT;
    const vcore_mem_region_t *r = &vm->regions[slot];
    if (!(r->flags & VCORE_MEM_LOG_DIRTY))
        return VCORE_ERR_INVAL;
    if (!vm->ops.vm_dirty_log)
        return VCORE_ERR_UNSUPPORTED;
    uint64_t pages = r->len / VCORE_PAGE_SIZE;
    if (bitmap_len < (pages + 63) / 64 * 8)
        return VCORE_ERR_BUFSZ;
    return vm->ops.vm_dirty_log(vm, vm->priv, slot, r, bitmap, bitmap_len);
}

const char *vcore_vm_backend_name(const vcore_vm_t *vm)
{
    return vcore__vm_ok(vm) ? vm->ops.name : "";
}

int vcore_vm_last_diag(const vcore_vm_t *vm, vcore_diag_t *out)
{
    if (!vcore__vm_ok(vm) || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    *out = vm->last_diag;
    return VCORE_OK;
}

const vcore_host_t *vcore_vm_host(const vcore_vm_t *vm)
{
    return vcore__vm_ok(vm) ? &vm->host : NULL;
}

const vcore_vm_config_t *vcore_vm_config(const vcore_vm_t *vm)
{
    return vcore__vm_ok(vm) ? &vm->cfg : NULL;
}

const vcore_backend_t *vcore_vm_backend(const vcore_vm_t *vm)
{
    return vcore__vm_ok(vm) ? vm->be : NULL;
}

void *vcore_vm_backend_priv(vcore_vm_t *vm)
{
    return vcore__vm_ok(vm) ? vm->priv : NULL;
}

void vcore_vm_log(const vcore_vm_t *vm, int level, const char *msg)
{
    if (vcore__vm_ok(vm) && vm->host.log && msg && level <= vm->host.log_level)
        vm->host.log(vm->host.ctx, level, msg);
}
