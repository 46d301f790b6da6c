/*
 * vcpu_sync.h - the vCPU's register model against the backend's copy.
 *
 * The lowest layer of the vCPU files: every handler (registers, CRs, MSRs,
 * events, nested, Hyper-V) reads state through vcore__vcpu_sync_in() and
 * records changes with vcore__vcpu_mark_dirty(); the run loop in vcpu.c
 * writes dirty groups back before entry (vcore__vcpu_enter). Nothing here
 * calls up. Inline: the run loop's emulated VMREAD/VMWRITE (vcpu_nested.c)
 * pays for them on every instruction L1 executes there.
 */
#ifndef VCORE_CORE_VCPU_SYNC_H
#define VCORE_CORE_VCPU_SYNC_H

/* The groups the backend holds; the others live in the model alone. */
static inline uint32_t vcore__vcpu_backend_groups(const vcore_vcpu_t *vcpu)
{
    return vcpu->held;
}

/* Pulls the groups the model does not hold from the backend. */
static inline int vcore__vcpu_sync_in(vcore_vcpu_t *vcpu, uint32_t groups)
{
    uint32_t missing = groups & ~vcpu->valid & vcore__vcpu_backend_groups(vcpu);
    if (!missing)
        return VCORE_OK;
    int err = vcpu->vm->ops.vcpu_get_state(vcpu, vcpu->priv, &vcpu->state, missing);
    if (err)
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    vcpu->valid |= missing;
    return VCORE_OK;
}

/* Marks groups the core changed: they go to the backend before the next run. */
static inline void vcore__vcpu_mark_dirty(vcore_vcpu_t *vcpu, uint32_t groups)
{
    vcpu->valid |= groups;
    vcpu->dirty |= groups;
    /* Folded away for a constant groups without the TSC. */
    if (groups & VCORE_X86_STATE_TSC)
        vcpu->tsc_writes++;
}

/* One backend run: dirty state out, the guest in, the groups pull (the
 * ones the caller reads next) back with the exit where the backend can
 * deliver them in the same call, every other group the backend holds
 * stale after. With vcpu_run_sync (backend.h) that is one backend call;
 * without it vcpu_set_state and vcpu_run, and pull is fetched lazily by
 * vcore__vcpu_sync_in() (same outcome, more calls). */
static inline int vcore__vcpu_enter_pull(vcore_vcpu_t *vcpu, vcore_exit_t *exit, uint32_t pull)
{
    const vcore_backend_t *ops = &vcpu->vm->ops;
    uint32_t held = vcore__vcpu_backend_groups(vcpu);
    uint32_t push = vcpu->dirty & held;
    int err;
    if (ops->vcpu_run_sync) {
        pull &= held;
        err = ops->vcpu_run_sync(vcpu, vcpu->priv, &vcpu->state, push, &pull, exit);
        if (err) {
            /* backend.h: nothing of push reached the backend; the rest of
             * what it holds is unknown. */
            vcpu->valid = (vcpu->valid & ~held) | push;
            return err < 0 ? err : VCORE_ERR_HWFAIL;
        }
        vcpu->dirty = 0;
        vcpu->valid = (vcpu->valid & ~held) | (pull & held);
        vcpu->has_run = true;
        return VCORE_OK;
    }
    if (push) {
        err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, push);
        if (err)
            return err < 0 ? err : VCORE_ERR_HWFAIL;
    }
    vcpu->dirty = 0;
    err = ops->vcpu_run(vcpu, vcpu->priv, exit);
    /* Whatever happened, the guest may have changed any register the
     * backend holds; the model's own groups stay valid. */
    vcpu->valid &= ~held;
    if (err)
        return err;
    vcpu->has_run = true;
    return VCORE_OK;
}

/* A run loop's copy of what vcore__vcpu_enter_pull() reads from the VM on
 * every call, for a loop that enters many times after a first run
 * (vcpu_nested.c: has_run is already set). */
typedef struct vcore__vcpu_runner {
    int (*run_sync)(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state, uint32_t push,
                    uint32_t *pull, vcore_exit_t *exit);
    void *priv;
    uint32_t held;
    uint32_t pull; /* the groups brought back with each exit, held ones only */
} vcore__vcpu_runner_t;

static inline void vcore__vcpu_runner(vcore_vcpu_t *vcpu, vcore__vcpu_runner_t *r, uint32_t pull)
{
    r->run_sync = vcpu->vm->ops.vcpu_run_sync;
    r->priv = vcpu->priv;
    r->held = vcore__vcpu_backend_groups(vcpu);
    r->pull = pull & r->held;
}

/* A failed vcpu_run_sync: the groups the core changed (dirty) stay dirty,
 * and of the held groups only those pushed are known to the model; the
 * backend's error, a positive one as VCORE_ERR_HWFAIL. */
static inline int vcore__vcpu_runner_failed(vcore_vcpu_t *vcpu, const vcore__vcpu_runner_t *r, uint32_t dirty,
                                            uint32_t push, int err)
{
    vcpu->dirty |= dirty;
    vcpu->valid = (vcpu->valid & ~r->held) | push;
    return err < 0 ? err : VCORE_ERR_HWFAIL;
}

/* vcore__vcpu_enter_pull() through a runner whose backend has
 * vcpu_run_sync, with the groups dirty marked dirty first. */
static inline int vcore__vcpu_runner_enter(vcore_vcpu_t *vcpu, const vcore__vcpu_runner_t *r, uint32_t dirty,
                                           vcore_exit_t *exit)
{
    uint32_t push = (vcpu->dirty | dirty) & r->held, pull = r->pull;
    int err = r->run_sync(vcpu, r->priv, &vcpu->state, push, &pull, exit);
    if (err)
        return vcore__vcpu_runner_failed(vcpu, r, dirty, push, err);
    vcpu->dirty = 0;
    vcpu->valid = (vcpu->valid & ~r->held) | pull;
    return VCORE_OK;
}

/* One backend run that brings back no state with the exit. */
static inline int vcore__vcpu_enter(vcore_vcpu_t *vcpu, vcore_exit_t *exit)
{
    return vcore__vcpu_enter_pull(vcpu, exit, 0);
}

#endif /* VCORE_CORE_VCPU_SYNC_H */
