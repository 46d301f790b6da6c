/*
 * vcpu_sync.c - the vCPU's register model against the backend's copy.
 *
 * The lowest layer of the vCPU files: every handler (registers, CRs, MSRs,
 * events, nested, Hyper-V) reads state through vcore__vcpu_sync_in() and
 * records changes with vcore__vcpu_mark_dirty(); the run loop in vcpu.c
 * writes dirty groups back before entry. Nothing here calls up.
 */
#include "object.h"

int vcore__vcpu_wrong_arch(vcore_vcpu_t *vcpu)
{
    (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_WRONG_ARCH, vcpu->arch);
    return VCORE_ERR_UNSUPPORTED;
}

uint32_t vcore__vcpu_backend_groups(const vcore_vcpu_t *vcpu)
{
    uint32_t g = vcpu->vm->ops.state_groups;
    return g ? g : ~0u;
}

int vcore__vcpu_sync_in(vcore_vcpu_t *vcpu, uint32_t groups)
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

void vcore__vcpu_mark_dirty(vcore_vcpu_t *vcpu, uint32_t groups)
{
    vcpu->valid |= groups;
    vcpu->dirty |= groups;
}
