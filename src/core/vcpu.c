/* vcpu.c - vCPU objects: lifecycle, RESET/INIT, run loop, model sync. */
#include "object.h"
#include "arm64/arm64.h"
#include "vcpu_nested.h"
#include "vcpu_x86.h"
#include "x86/hyperv/hv.h"

void vcore_vcpu_config_init(vcore_vcpu_config_t *cfg)
{
    if (!cfg)
        return;
    vcore__memset(cfg, 0, sizeof(*cfg));
    cfg->size = sizeof(*cfg);
    cfg->vendor = VCORE_X86_VENDOR_INTEL;
    cfg->bsp = true;
    cfg->nested = VCORE_NESTED_NONE;
    cfg->nvmx_caps = NULL;
    cfg->nsvm_features = VCORE_NSVM_FEATURES_EMULATED;
}

/* The parts of a vCPU block, in order, each 16-byte aligned: the core's
 * struct, the architecture's model, the nested state (if enabled), the
 * backend's private state. */
typedef struct vcore__vcpu_layout {
    size_t arch_off, nested_off, priv_off, total;
} vcore__vcpu_layout_t;

static int vcore__vcpu_layout(const vcore_vm_t *vm, const vcore_vcpu_config_t *cfg,
                              vcore__vcpu_layout_t *l)
{
    size_t arch = vm->cfg.arch == VCORE_ARCH_ARM64 ? sizeof(vcore__arm64_vcpu_t)
                                                   : sizeof(vcore__x86_vcpu_t);
    size_t nested = 0;
    if (cfg->nested == VCORE_NESTED_VMX)
        nested = vcore_nvmx_storage_size();
    else if (cfg->nested == VCORE_NESTED_SVM)
        nested = vcore_nsvm_size();
    else if (cfg->nested != VCORE_NESTED_NONE)
        return VCORE_ERR_INVAL;
    l->arch_off = vcore__align_up(sizeof(struct vcore_vcpu));
    l->nested_off = l->arch_off + vcore__align_up(arch);
    l->priv_off = l->nested_off + vcore__align_up(nested);
    /* vcore_backend_validate() bounded vcpu_priv_size, so this cannot wrap. */
    l->total = l->priv_off + vcore__align_up(vm->ops.vcpu_priv_size);
    return VCORE_OK;
}

/* Copies a caller's configuration into a full-size one: members past its
 * size (a caller built against an older header) take their defaults. */
static int vcore__vcpu_config_copy(const vcore_vcpu_config_t *cfg, vcore_vcpu_config_t *res)
{
    vcore_vcpu_config_init(res);
    if (!cfg)
        return VCORE_OK;
    if (!VCORE__SIZE_AT_LEAST(cfg, VCORE_VCPU_CONFIG_SIZE_V1))
        return VCORE_ERR_ABI;
    size_t n = cfg->size < sizeof(*res) ? cfg->size : sizeof(*res);
    vcore__memcpy(res, cfg, n);
    res->size = sizeof(*res);
    return VCORE_OK;
}

int vcore_vcpu_storage_size(const vcore_vm_t *vm, size_t *out)
{
    return vcore_vcpu_config_storage_size(vm, NULL, out);
}

int vcore_vcpu_config_storage_size(const vcore_vm_t *vm, const vcore_vcpu_config_t *cfg,
                                   size_t *out)
{
    vcore_vcpu_config_t res;
    vcore__vcpu_layout_t l;
    if (!vcore__vm_ok(vm) || !out)
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_config_copy(cfg, &res);
    if (!err)
        err = vcore__vcpu_layout(vm, &res, &l);
    if (err)
        return err;
    *out = l.total;
    return VCORE_OK;
}

/* Resolves the configuration: NULL means defaults with the lowest free id. */
static int vcore__vcpu_resolve_config(const vcore_vm_t *vm, const vcore_vcpu_config_t *cfg,
                                      vcore_vcpu_config_t *res)
{
    int err = vcore__vcpu_config_copy(cfg, res);
    if (err)
        return err;
    if (cfg) {
        if (res->flags != 0 || res->vendor == VCORE_X86_VENDOR_UNKNOWN ||
            res->vendor > VCORE_X86_VENDOR_HYGON || res->nested > VCORE_NESTED_SVM)
            return VCORE_ERR_INVAL;
    } else {
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

static int vcore__vcpu_setup(vcore_vm_t *vm, void *mem, const vcore__vcpu_layout_t *l,
                             const vcore_vcpu_config_t *cfg, bool allocated, vcore_vcpu_t **out)
{
    vcore_vcpu_t *vcpu = mem;
    uint8_t *base = mem;
    vcore__memset(vcpu, 0, l->total);
    vcpu->block_size = l->total;
    vcpu->allocated = allocated;
    vcpu->vm = vm;
    vcpu->held = vm->ops.state_groups ? vm->ops.state_groups : ~0u;
    vcpu->id = cfg->id;
    vcpu->bsp = cfg->bsp;
    vcpu->arch = vm->cfg.arch;
    vcpu->priv = base + l->priv_off;
    (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NONE, 0);
    vcpu->state.arch = vcpu->arch;
    if (vcpu->arch == VCORE_ARCH_ARM64) {
        vcpu->arm64 = (vcore__arm64_vcpu_t *)(void *)(base + l->arch_off);
        vcpu->state.u.arm64 = &vcpu->arm64->st;
    } else {
        vcpu->x86 = (vcore__x86_vcpu_t *)(void *)(base + l->arch_off);
        vcpu->state.u.x86 = &vcpu->x86->st;
        vcore__vcpu_x86_setup(vcpu, cfg->vendor);
    }
    if (cfg->nested != VCORE_NESTED_NONE) {
        int err = cfg->nested == VCORE_NESTED_SVM
                      ? vcore__vcpu_nsvm_setup(vcpu, base + l->nested_off, l->priv_off - l->nested_off, cfg)
                      : vcore__vcpu_nested_setup(vcpu, base + l->nested_off, l->priv_off - l->nested_off,
                                                 cfg);
        if (err) {
            /* The vCPU does not exist: its VM keeps the reason. */
            vm->last_diag = vcpu->last_diag;
            return err;
        }
    }
    vcpu->hv = vm->hv != NULL;
    vcpu->entry_always = vcpu->arm64 || vcpu->nsvm || vcpu->hv;
    vcpu->magic = VCORE__VCPU_MAGIC;
    int err = vm->ops.vcpu_init(vcpu, vcpu->priv);
    if (err) {
        vcpu->magic = 0;
        return err;
    }
    vm->vcpus[vcpu->id] = vcpu;
    vm->nvcpus++;
    /* The vCPU starts from the architectural RESET state, written to the
     * backend in full before the first run (every group dirty). */
    vcore__vcpu_reset(vcpu);
    /* Hyper-V: VP index = id, the hypervisor CPUID leaves in its table. */
    if (vm->hv) {
        err = vcore__hv_vcpu_created(vcpu);
        if (err) {
            vm->last_diag = vcpu->last_diag;
            vcore__vcpu_teardown(vcpu);
            return err;
        }
    }
    *out = vcpu;
    return VCORE_OK;
}

int vcore_vcpu_create(vcore_vm_t *vm, const vcore_vcpu_config_t *cfg, vcore_vcpu_t **out)
{
    vcore_vcpu_config_t res;
    vcore__vcpu_layout_t l;
    if (!vcore__vm_ok(vm) || !out)
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_resolve_config(vm, cfg, &res);
    if (!err)
        err = vcore__vcpu_layout(vm, &res, &l);
    if (err)
        return err;
    if (!vm->host.alloc)
        return VCORE_ERR_INVAL;
    void *mem = vm->host.alloc(vm->host.ctx, l.total);
    if (!mem)
        return VCORE_ERR_NOMEM;
    err = vcore__vcpu_setup(vm, mem, &l, &res, true, out);
    if (err)
        vm->host.free(vm->host.ctx, mem, l.total);
    return err;
}

int vcore_vcpu_init_static(vcore_vm_t *vm, void *mem, size_t len, const vcore_vcpu_config_t *cfg,
                           vcore_vcpu_t **out)
{
    vcore_vcpu_config_t res;
    vcore__vcpu_layout_t l;
    if (!vcore__vm_ok(vm) || !mem || !out || ((uintptr_t)mem & (VCORE__ALIGN - 1)))
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_resolve_config(vm, cfg, &res);
    if (!err)
        err = vcore__vcpu_layout(vm, &res, &l);
    if (err)
        return err;
    if (len < l.total)
        return VCORE_ERR_BUFSZ;
    return vcore__vcpu_setup(vm, mem, &l, &res, false, out);
}

void vcore__vcpu_teardown(vcore_vcpu_t *vcpu)
{
    vcore_vm_t *vm = vcpu->vm;
    if (vm->hv)
        vcore__hv_vcpu_gone(vcpu);
    if (vcpu->nvmx)
        vcore__vcpu_nested_teardown(vcpu); /* vmcs02 goes back before the backend's vCPU */
    if (vcpu->nsvm && vm->ops.vmcb_free)
        vcore__vcpu_nsvm_teardown(vcpu); /* so does vmcb02 */
    vm->ops.vcpu_fini(vcpu, vcpu->priv);
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

/* Every group of the vCPU's architecture. */
static uint32_t vcore__vcpu_all_groups(const vcore_vcpu_t *vcpu)
{
    return vcpu->arch == VCORE_ARCH_ARM64 ? VCORE_ARM64_STATE_ALL : VCORE_X86_STATE_ALL;
}

void vcore__vcpu_reset(vcore_vcpu_t *vcpu)
{
    if (vcpu->arm64)
        vcore__arm64_reset(&vcpu->arm64->st);
    else
        vcore__vcpu_x86_reset(vcpu, false);
    vcore__vcpu_mark_dirty(vcpu, vcore__vcpu_all_groups(vcpu));
    vcpu->reply_pending = 0;
    vcpu->exit_flags_owed = 0; /* the local APIC is reset too */
}

int vcore_vcpu_reset(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    vcore__vcpu_reset(vcpu);
    return VCORE_OK;
}

int vcore_vcpu_init_signal(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    bool to_l1 = false;
    int err = vcore__vcpu_nested_init_l2(vcpu, &to_l1);
    if (err || to_l1)
        return err;
    if (vcore__vcpu_nested_blocks_init(vcpu)) {
        vcpu->x86->init_latched = true;
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_INIT_LATCHED, 0);
        return VCORE_OK;
    }
    /* INIT keeps part of the state: it must be current first. */
    err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_ALL);
    if (err)
        return err;
    vcore__vcpu_x86_reset(vcpu, true);
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_ALL);
    vcpu->reply_pending = 0;
    return VCORE_OK;
}

/* Whether any of the run loop's before-entry steps has work (DESIGN §5):
 * an answer to the previous exit, L2 to run (nested VMX or SVM), L0's
 * shadow VMCS to bring up to date, Hyper-V, an event or a shutdown the
 * core holds, or an arm64 vCPU. One test ahead of the steps, each of which
 * checks its own condition again; what cannot change after setup (arm64,
 * nested SVM, Hyper-V) is one flag. */
static inline bool vcore__vcpu_entry_work(const vcore_vcpu_t *vcpu, uint32_t answering)
{
    if (answering || vcpu->entry_always)
        return true;
    const vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore_nvmx_t *nv = vcpu->nvmx;
    return x->queued || x->shutdown_pending || (nv && (nv->in_l2 || nv->hw_sync));
}

/* Out of line: the run's return path pays one test for it. */
static __attribute__((noinline, cold)) void vcore__vcpu_exit_flags_give(vcore_vcpu_t *vcpu, vcore_exit_t *exit)
{
    exit->flags |= vcpu->exit_flags_owed;
    vcpu->exit_flags_owed = 0;
}

int vcore_vcpu_run(vcore_vcpu_t *vcpu, vcore_exit_t *exit)
{
    if (!vcore__vcpu_ok(vcpu) || !exit)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(exit))
        return VCORE_ERR_ABI;
    /* The reply contract (exit.h), the same on every backend: the exit
     * handed back must be the one that asked for an answer. */
    if (vcpu->reply_pending && exit->reason != vcpu->reply_pending) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_EXIT_REPLY_MISMATCH, exit->reason);
        return VCORE_ERR_STATE;
    }
    /* The exit being answered at the next entry: the VMM's, or one the core
     * answered itself in the dispatch step. */
    uint32_t answering = vcpu->reply_pending;
    /* backend.h: an arm64 backend completes the instruction of the exit it
     * is handed back; when nothing is being answered (first run, after a
     * reset, an exit without reply) it must see no exit. */
    if (vcpu->arm64 && !answering)
        exit->reason = VCORE_EXIT_NONE;
    for (;;) {
        bool made = false;
        int err = VCORE_OK;
        if (vcore__vcpu_entry_work(vcpu, answering)) {
            /* Nested VMX: the answer is to an entry of L1's VMX MSR lists
             * (vcpu_nested_msrlist.c), no instruction: the VM entry or exit
             * it belongs to goes on, then L1 or L2 runs. */
            if (answering && vcpu->nvmx && vcore__vcpu_nested_msrlist_due(vcpu)) {
                bool l1 = false;
                err = vcore__vcpu_nested_msrlist_reply(vcpu, exit, &l1);
                if (err)
                    return err;
                if (!l1)
                    break;
                answering = 0;
                continue;
            }
            /* Nested VMX: L2 runs on vmcs02 until an exit L1 wants (the loop
             * continues with L1) or one only the VMM can handle. */
            if (vcpu->nvmx && vcore__vcpu_nested_in_l2(vcpu)) {
                bool l1 = false;
                err = vcore__vcpu_nested_resume_l2(vcpu, exit, &l1);
                if (err)
                    return err;
                if (!l1)
                    break;
                answering = 0;
                continue;
            }
            /* Nested SVM: L2 runs on vmcb02 the same way. */
            if (vcpu->nsvm && vcore__vcpu_nsvm_in_l2(vcpu)) {
                bool l1 = false;
                err = vcore__vcpu_nsvm_run_l2(vcpu, exit, answering, &l1);
                if (err)
                    return err;
                if (!l1)
                    break;
                answering = 0;
                continue;
            }
            if (vcpu->x86 && answering)
                err = vcore__vcpu_x86_answer(vcpu, answering, exit);
            /* Nested VMX with L0's VMCS shadowing: what the pipeline changed in
             * vmcs12 reaches the shadow VMCS before L1 reads it there. */
            if (!err && vcpu->nvmx && vcore__vcpu_nested_shadow_due(vcpu))
                err = vcore__vcpu_nested_shadow_before_l1(vcpu);
            /* Hyper-V: the vCPU counts as in guest mode from here to the end of
             * the backend run; IPI vectors and TLB flushes other vCPUs left for
             * it are taken in (x86/hyperv/hv_vm.c). */
            if (!err && vcpu->hv)
                err = vcore__hv_before_entry(vcpu);
            /* The x86 core may deliver queued events, or produce the exit itself
             * (a triple fault from combining exceptions) without entering;
             * with neither held there is nothing to do (vcpu_events.c). */
            if (!err && vcpu->x86 && (vcpu->x86->queued || vcpu->x86->shutdown_pending))
                err = vcore__vcpu_events_before_entry(vcpu, exit, &made);
        }
        if (!err && !made)
            err = vcore__vcpu_enter(vcpu, exit);
        /* L1's VMREAD/VMWRITE of a shadowed field with register operands:
         * completed in place and the guest entered again (vcpu_nested.c)
         * while nothing of the loop's before-entry work is due. */
        if (!err && !made && exit->reason == VCORE_EXIT_VMX_INSN && vcpu->nvmx)
            err = vcore__vcpu_nested_fast(vcpu, exit);
        if (vcpu->hv)
            vcore__hv_after_exit(vcpu);
        if (err)
            return err;
        bool handled = false;
        /* The core's dispatch step (DESIGN §5): exits the core completes
         * itself re-enter the guest without returning. */
        if (vcpu->x86)
            err = vcore__vcpu_x86_dispatch(vcpu, exit, &handled);
        if (err)
            return err;
        if (!handled)
            break;
        answering = (exit->flags & VCORE_EXIT_F_NEEDS_REPLY) ? exit->reason : 0;
    }
    vcpu->reply_pending = (exit->flags & VCORE_EXIT_F_NEEDS_REPLY) ? exit->reason : 0;
    /* What happened on the way that the VMM learns with the exit (the EOI
     * of posted-interrupt processing: VCORE_EXIT_F_APIC_EOI). */
    if (__builtin_expect(vcpu->exit_flags_owed != 0, 0))
        vcore__vcpu_exit_flags_give(vcpu, exit);
    return VCORE_OK;
}

int vcore_vcpu_kick(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (!vcpu->vm->ops.vcpu_kick)
        return VCORE_ERR_UNSUPPORTED;
    return vcpu->vm->ops.vcpu_kick(vcpu, vcpu->priv);
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

const vcore_vcpu_state_t *vcore_vcpu_model(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? &vcpu->state : NULL;
}

uint32_t vcore_vcpu_arch(const vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? vcpu->arch : 0;
}

vcore_nsvm_t *vcore_vcpu_nsvm(vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? vcpu->nsvm : NULL;
}

vcore_nvmx_t *vcore_vcpu_nvmx(vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_ok(vcpu) ? vcpu->nvmx : NULL;
}
