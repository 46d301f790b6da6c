/*
 * hv_vm.c - Hyper-V on a VM: enablement (which enlightenments the backend
 * can carry), the per-vCPU slots, and the run loop's pre-entry and
 * post-exit steps.
 */
#include "hv.h"

void vcore_hv_config_init(vcore_hv_config_t *cfg)
{
    if (!cfg)
        return;
    vcore__memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->features = VCORE_HV_F_ALL;
    vcore__memcpy(cfg->vendor, "VirtCore Hv ", sizeof(cfg->vendor));
}

static size_t vcore__hv_block_size(const vcore_vm_t *vm)
{
    return sizeof(vcore__hv_t) + (size_t)vm->cfg.max_vcpus * sizeof(vcore__hv_vcpu_t);
}

int vcore_hv_storage_size(const vcore_vm_t *vm, size_t *out)
{
    if (!vcore__vm_ok(vm) || !out)
        return VCORE_ERR_INVAL;
    *out = vcore__hv_block_size(vm);
    return VCORE_OK;
}

static int vcore__hv_unsupported(vcore_vm_t *vm, uint32_t feature)
{
    (void)vcore__diag_set(&vm->last_diag, VCORE_DIAG_HV_BACKEND_UNSUPPORTED, feature);
    vcore_vm_log(vm, VCORE_LOG_WARN, vm->last_diag.message);
    return VCORE_ERR_UNSUPPORTED;
}

/* The configuration is usable on this VM and backend: a library-served
 * enlightenment needs what carries it (backend.h), a host-served one the
 * host's word. Nothing is changed here. */
static int vcore__hv_check(vcore_vm_t *vm, const vcore_hv_config_t *cfg, bool *host)
{
    const vcore_backend_t *ops = &vm->ops;
    if (vm->cfg.arch != VCORE_ARCH_X86_64 || (cfg->features & ~VCORE_HV_F_ALL) || cfg->pad)
        return VCORE_ERR_INVAL;
    if (vm->hv || vm->nvcpus) {
        (void)vcore__diag_set(&vm->last_diag, VCORE_DIAG_HV_ENABLE_LATE, vm->nvcpus);
        return VCORE_ERR_STATE;
    }
    *host = ops->vm_hv_host != NULL;
    if (*host) {
        if (!ops->vcpu_hv_vp_index || ops->vm_hv_host(vm, vm->priv, cfg->features) != VCORE_OK)
            return vcore__hv_unsupported(vm, cfg->features);
        return VCORE_OK;
    }
    uint32_t groups = ops->state_groups ? ops->state_groups : ~(uint32_t)VCORE_X86_STATE_XMM;
    if ((cfg->features & VCORE_HV_F_TLB_FLUSH) && !ops->vcpu_flush_tlb)
        return vcore__hv_unsupported(vm, VCORE_HV_F_TLB_FLUSH);
    if ((cfg->features & VCORE_HV_F_IPI) && !(groups & VCORE_X86_STATE_EVENTS))
        return vcore__hv_unsupported(vm, VCORE_HV_F_IPI);
    /* XMM input reads XMM0-5 from the backend; a model copy would be stale. */
    if ((cfg->features & VCORE_HV_F_XMM_INPUT) && !(ops->state_groups & VCORE_X86_STATE_XMM))
        return vcore__hv_unsupported(vm, VCORE_HV_F_XMM_INPUT);
    /* Without vcpu_kick a target running on another processor takes an IPI
     * or flush at its next exit, whenever that comes (hv.h). */
    return VCORE_OK;
}

static int vcore__hv_setup(vcore_vm_t *vm, void *mem, const vcore_hv_config_t *in, bool allocated,
                           bool dry_run)
{
    vcore_hv_config_t cfg;
    vcore_hv_config_init(&cfg);
    if (in) {
        if (!VCORE__SIZE_OK(in))
            return VCORE_ERR_ABI;
        cfg = *in; /* copy once; check and use the copy */
    }
    bool host = false;
    int err = vcore__hv_check(vm, &cfg, &host);
    if (err || dry_run)
        return err;
    size_t block = vcore__hv_block_size(vm);
    vcore__hv_t *hv = mem;
    vcore__memset(hv, 0, block);
    hv->magic = VCORE__HV_MAGIC;
    hv->allocated = allocated;
    hv->host = host;
    hv->block_size = block;
    hv->cfg = cfg;
    hv->nslots = vm->cfg.max_vcpus;
    for (uint32_t i = 0; i < hv->nslots; i++)
        hv->vcpu[i].vp_index = i;
    vm->hv = hv;
    return VCORE_OK;
}

int vcore_hv_enable(vcore_vm_t *vm, const vcore_hv_config_t *cfg)
{
    if (!vcore__vm_ok(vm))
        return VCORE_ERR_INVAL;
    /* Everything is checked before the allocation. */
    int err = vcore__hv_setup(vm, NULL, cfg, true, true);
    if (err)
        return err;
    if (!vm->host.alloc)
        return VCORE_ERR_INVAL;
    size_t block = vcore__hv_block_size(vm);
    void *mem = vm->host.alloc(vm->host.ctx, block);
    if (!mem)
        return VCORE_ERR_NOMEM;
    err = vcore__hv_setup(vm, mem, cfg, true, false);
    if (err)
        vm->host.free(vm->host.ctx, mem, block);
    return err;
}

int vcore_hv_enable_static(vcore_vm_t *vm, void *mem, size_t len, const vcore_hv_config_t *cfg)
{
    if (!vcore__vm_ok(vm) || !mem || ((uintptr_t)mem & (VCORE__ALIGN - 1)))
        return VCORE_ERR_INVAL;
    int err = vcore__hv_setup(vm, NULL, cfg, false, true);
    if (err)
        return err;
    if (len < vcore__hv_block_size(vm))
        return VCORE_ERR_BUFSZ;
    return vcore__hv_setup(vm, mem, cfg, false, false);
}

void vcore__hv_vm_teardown(vcore_vm_t *vm)
{
    vcore__hv_t *hv = vm->hv;
    if (!hv)
        return;
    vm->hv = NULL;
    hv->magic = 0;
    if (hv->allocated)
        vm->host.free(vm->host.ctx, hv, hv->block_size);
}

uint32_t vcore_hv_features(const vcore_vm_t *vm)
{
    return vcore__vm_ok(vm) && vm->hv ? vm->hv->cfg.features : 0;
}

uint32_t vcore_hv_mismatched_vp_indexes(const vcore_vm_t *vm)
{
    return vcore__vm_ok(vm) && vm->hv ? vm->hv->mismatched : 0;
}

int vcore_hv_reset(vcore_vm_t *vm)
{
    if (!vcore__vm_ok(vm) || !vm->hv)
        return VCORE_ERR_INVAL;
    /* TLFS, "Establishing the Hypercall Interface": only a system reset
     * clears the lock bit. */
    __atomic_store_n(&vm->hv->guest_os_id, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&vm->hv->hypercall, 0, __ATOMIC_SEQ_CST);
    return VCORE_OK;
}

vcore__hv_vcpu_t *vcore__hv_slot(const vcore_vcpu_t *vcpu)
{
    return &vcpu->vm->hv->vcpu[vcpu->id];
}

int vcore__hv_vcpu_created(vcore_vcpu_t *vcpu)
{
    vcore__hv_t *hv = vcpu->vm->hv;
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    /* A new vCPU starts with VP index = vCPU id (matched), nothing pending. */
    vcore__memset(s, 0, sizeof(*s));
    s->vp_index = vcpu->id;
    hv->exists[vcpu->id / 64u] |= 1ull << (vcpu->id % 64u);
    /* The vCPU's (empty) table gets the hypervisor leaves at once. */
    int err = vcore_vcpu_set_cpuid(vcpu, NULL, 0);
    if (!err && hv->host)
        err = vcpu->vm->ops.vcpu_hv_vp_index(vcpu, vcpu->priv, s->vp_index);
    return err;
}

void vcore__hv_vcpu_gone(vcore_vcpu_t *vcpu)
{
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    vcpu->vm->hv->exists[vcpu->id / 64u] &= ~(1ull << (vcpu->id % 64u));
    if (s->vp_index != vcpu->id) {
        vcpu->vm->hv->mismatched--;
        s->vp_index = vcpu->id;
    }
    __atomic_store_n(&s->in_guest, 0, __ATOMIC_SEQ_CST);
}

void vcore__hv_vcpu_reset(vcore_vcpu_t *vcpu)
{
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    for (int i = 0; i < 4; i++)
        __atomic_store_n(&s->pending[i], 0, __ATOMIC_SEQ_CST);
}

int vcore__hv_before_entry(vcore_vcpu_t *vcpu)
{
    vcore__hv_t *hv = vcpu->vm->hv;
    if (hv->host)
        return VCORE_OK;
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    /* In guest mode from here: a vector or flush request made after this
     * store either is seen below or finds the flag set and kicks us
     * (sequentially consistent on both sides). */
    __atomic_store_n(&s->in_guest, 1, __ATOMIC_SEQ_CST);
    int err = vcore__hv_flush_perform(vcpu);
    if (!err)
        err = vcore__hv_ipi_drain(vcpu);
    return err;
}

bool vcore__hv_kick(vcore_vcpu_t *t, vcore__hv_vcpu_t *s)
{
    /* Only a target in guest mode needs it: one outside takes the work in
     * before it enters (vcore__hv_before_entry). Without a kick (or when it
     * fails) the target takes it after its next exit, whatever causes it. */
    if (!__atomic_load_n(&s->in_guest, __ATOMIC_SEQ_CST))
        return false;
    if (t->vm->ops.vcpu_kick && vcore_vcpu_kick(t) != VCORE_OK)
        vcore_vm_log(t->vm, VCORE_LOG_WARN, "hyperv: kick of a target vCPU failed");
    return true;
}

void vcore__hv_after_exit(vcore_vcpu_t *vcpu)
{
    if (vcpu->vm->hv->host)
        return;
    __atomic_store_n(&vcore__hv_slot(vcpu)->in_guest, 0, __ATOMIC_SEQ_CST);
}
