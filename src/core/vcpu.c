/* vcpu.c - vCPU objects: lifecycle, RESET/INIT, run loop, model sync. */
#include "object.h"
#include "x86/x86.h"

void vcore_vcpu_config_init(vcore_vcpu_config_t *cfg)
{
    if (!cfg)
        return;
    vcore__memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->vendor = VCORE_X86_VENDOR_INTEL;
    cfg->bsp = true;
}

static size_t vcore__vcpu_block_size(const vcore_vm_t *vm)
{
    return vcore__align_up(sizeof(struct vcore_vcpu)) + vcore__align_up(vm->be->vcpu_priv_size);
}

int vcore_vcpu_storage_size(const vcore_vm_t *vm, size_t *out)
{
    if (!vcore__vm_ok(vm) || !out)
        return VCORE_ERR_INVAL;
    *out = vcore__vcpu_block_size(vm);
    return VCORE_OK;
}

/* Resolves the configuration: NULL means defaults with the lowest free id. */
static int vcore__vcpu_resolve_config(const vcore_vm_t *vm, const vcore_vcpu_config_t *cfg,
                                      vcore_vcpu_config_t *res)
{
    if (cfg) {
        if (!VCORE__SIZE_OK(cfg))
            return VCORE_ERR_ABI;
        if (cfg->flags != 0 || cfg->vendor == VCORE_X86_VENDOR_UNKNOWN ||
            cfg->vendor > VCORE_X86_VENDOR_HYGON)
            return VCORE_ERR_INVAL;
        *res = *cfg;
    } else {
        vcore_vcpu_config_init(res);
        uint32_t id = 0;
        while (id < vm->cfg.max_vcpus && vm->vcpus[id])
            id++;
        res->id = id;
        res->bsp = id == 0;
    }
    if (res->id >= vm->cfg.max_vcpus || vm->nvcpus >= vm->cfg.max_vcpus)
        return VCORE_ERR_RANGE;
    if (vm->vcpus[res->id])
        return VCORE_ERR_EXISTS;
    return VCORE_OK;
}

static int vcore__vcpu_setup(vcore_vm_t *vm, void *mem, size_t block,
                             const vcore_vcpu_config_t *cfg, bool allocated, vcore_vcpu_t **out)
{
    vcore_vcpu_t *vcpu = mem;
    vcore__memset(vcpu, 0, block);
    vcpu->block_size = block;
    vcpu->allocated = allocated;
    vcpu->vm = vm;
    vcpu->id = cfg->id;
    vcpu->bsp = cfg->bsp;
    vcpu->cfg_vendor = cfg->vendor;
    vcpu->priv = (uint8_t *)mem + vcore__align_up(sizeof(struct vcore_vcpu));
    vcpu->last_diag.size = sizeof(vcpu->last_diag);
    vcore__cpuid_model_default(cfg->vendor, &vcpu->model);
    vcpu->magic = VCORE__VCPU_MAGIC;
    int err = vm->be->vcpu_init(vcpu, vcpu->priv);
    if (err) {
        vcpu->magic = 0;
        return err;
    }
    vm->vcpus[vcpu->id] = vcpu;
    vm->nvcpus++;
    /* The vCPU starts from the architectural RESET state, written to the
     * backend in full before the first run (every class dirty). */
    (void)vcore_vcpu_reset(vcpu);
    *out = vcpu;
    return VCORE_OK;
}

int vcore_vcpu_create(vcore_vm_t *vm, const vcore_vcpu_config_t *cfg, vcore_vcpu_t **out)
{
    vcore_vcpu_config_t res;
    if (!vcore__vm_ok(vm) || !out)
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_resolve_config(vm, cfg, &res);
    if (err)
        return err;
    if (!vm->host.alloc)
        return VCORE_ERR_INVAL;
    size_t block = vcore__vcpu_block_size(vm);
    void *mem = vm->host.alloc(vm->host.ctx, block);
    if (!mem)
        return VCORE_ERR_NOMEM;
    err = vcore__vcpu_setup(vm, mem, block, &res, true, out);
    if (err)
        vm->host.free(vm->host.ctx, mem, block);
    return err;
}

int vcore_vcpu_init_static(vcore_vm_t *vm, void *mem, size_t len, const vcore_vcpu_config_t *cfg,
                           vcore_vcpu_t **out)
{
    vcore_vcpu_config_t res;
    if (!vcore__vm_ok(vm) || !mem || !out || ((uintptr_t)mem & (VCORE__ALIGN - 1)))
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_resolve_config(vm, cfg, &res);
    if (err)
        return err;
    size_t block = vcore__vcpu_block_size(vm);
    if (len < block)
        return VCORE_ERR_BUFSZ;
    return vcore__vcpu_setup(vm, mem, block, &res, false, out);
}

static void vcore__vcpu_teardown(vcore_vcpu_t *vcpu)
{
    vcore_vm_t *vm = vcpu->vm;
    vm->be->vcpu_fini(vcpu, vcpu->priv);
    vm->vcpus[vcpu->id] = NULL;
    vm->nvcpus--;
    vcpu->magic = 0;
}

void vcore_vcpu_destroy(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu) || !vcpu->allocated)
        return;
    vcore_vm_t *vm = vcpu->vm;
    size_t block = vcpu->block_size;
    vcore__vcpu_teardown(vcpu);
    vm->host.free(vm->host.ctx, vcpu, block);
}

int vcore_vcpu_fini(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (vcpu->allocated)
        return VCORE_ERR_STATE;
    vcore__vcpu_teardown(vcpu);
    return VCORE_OK;
}

uint32_t vcore_vcpu_id(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? vcpu->id : UINT32_MAX;
}

int vcore__vcpu_sync_in(vcore_vcpu_t *vcpu, uint32_t classes)
{
    uint32_t missing = classes & ~vcpu->valid;
    if (!missing)
        return VCORE_OK;
    int err = vcpu->vm->be->vcpu_get_state(vcpu, vcpu->priv, &vcpu->st, missing);
    if (err)
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    vcpu->valid |= missing;
    return VCORE_OK;
}

/* Common part of RESET and INIT: the x86 model does the architecture. */
static int vcore__vcpu_reset(vcore_vcpu_t *vcpu, bool init)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (init) {
        /* INIT keeps part of the state: it must be current first. */
        int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_ALL);
        if (err)
            return err;
    }
    vcore__x86_reset(&vcpu->st, &vcpu->model, vcore__vcpu_vendor(vcpu), init, vcpu->bsp);
    vcpu->valid = VCORE_X86_STATE_ALL;
    vcpu->dirty = VCORE_X86_STATE_ALL;
    vcore__vcpu_cpuid_refresh(vcpu);
    return VCORE_OK;
}

int vcore_vcpu_reset(vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_reset(vcpu, false);
}

int vcore_vcpu_init_signal(vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_reset(vcpu, true);
}

int vcore_vcpu_run(vcore_vcpu_t *vcpu, vcore_exit_t *exit)
{
    if (!vcore__vcpu_ok(vcpu) || !exit)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(exit))
        return VCORE_ERR_ABI;
    const vcore_backend_t *be = vcpu->vm->be;
    if (vcpu->dirty) {
        int err = be->vcpu_set_state(vcpu, vcpu->priv, &vcpu->st, vcpu->dirty);
        if (err)
            return err < 0 ? err : VCORE_ERR_HWFAIL;
        vcpu->dirty = 0;
    }
    int err = be->vcpu_run(vcpu, vcpu->priv, exit);
    /* Whatever happened, the guest may have changed any register. */
    vcpu->valid = 0;
    if (err)
        return err;
    vcpu->has_run = true;
    return VCORE_OK;
}

int vcore_vcpu_kick(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (!vcpu->vm->be->vcpu_kick)
        return VCORE_ERR_UNSUPPORTED;
    return vcpu->vm->be->vcpu_kick(vcpu, vcpu->priv);
}

int vcore_vcpu_last_diag(const vcore_vcpu_t *vcpu, vcore_diag_t *out)
{
    if (!vcore__vcpu_ok(vcpu) || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    *out = vcpu->last_diag;
    return VCORE_OK;
}

bool vcore_vcpu_has_run(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) && vcpu->has_run;
}

vcore_vm_t *vcore_vcpu_vm(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? vcpu->vm : NULL;
}

void *vcore_vcpu_backend_priv(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? vcpu->priv : NULL;
}

const vcore_backend_t *vcore_vcpu_backend(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? vcpu->vm->be : NULL;
}

const vcore_x86_state_t *vcore_vcpu_model(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? &vcpu->st : NULL;
}
