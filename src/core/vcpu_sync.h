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
}

/* One backend run: dirty state out, the guest in, every group the backend
 * holds stale after. */
static inline int vcore__vcpu_enter(vcore_vcpu_t *vcpu, vcore_exit_t *exit)
{
    const vcore_backend_t *ops = &vcpu->vm->ops;
    uint32_t held = vcore__vcpu_backend_groups(vcpu);
    if (vcpu->dirty & held) {
        int err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, vcpu->dirty & held);
        if (err)
            return err < 0 ? err : VCORE_ERR_HWFAIL;
    }
    vcpu->dirty = 0;
    int err = ops->vcpu_run(vcpu, vcpu->priv, exit);
    /* Whatever happened, the guest may have changed any register the
     * backend holds; the model's own groups stay valid. */
    vcpu->valid &= ~held;
    if (err)
        return err;
    vcpu->has_run = true;
    return VCORE_OK;
}

#endif /* VCORE_CORE_VCPU_SYNC_H */
