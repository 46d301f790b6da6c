/*
 * vcpu_arm64.c - register access on an arm64 vCPU: the same pattern as the
 * x86 accessors (sync what is missing, check, apply, mark dirty).
 */
#include "object.h"
#include "arm64/arm64.h"

/* Front half of every accessor: an arm64 vCPU, a sized struct, the group current. */
static int vcore__vcpu_arm64_prepare(vcore_vcpu_t *vcpu, const void *p, size_t size, size_t want,
                                     uint32_t group)
{
    if (!vcore__vcpu_ok(vcpu) || !p)
        return VCORE_ERR_INVAL;
    if (!vcpu->arm64)
        return vcore__vcpu_wrong_arch(vcpu);
    if (size != want)
        return VCORE_ERR_ABI;
    return vcore__vcpu_sync_in(vcpu, group);
}

int vcore_vcpu_get_arm64_regs(vcore_vcpu_t *vcpu, vcore_arm64_regs_t *regs)
{
    int err = vcore__vcpu_arm64_prepare(vcpu, regs, regs ? regs->size : 0, sizeof(*regs),
                                        VCORE_ARM64_STATE_REGS);
    if (err)
        return err;
    *regs = vcpu->arm64->st.regs;
    return VCORE_OK;
}

int vcore_vcpu_set_arm64_regs(vcore_vcpu_t *vcpu, const vcore_arm64_regs_t *regs)
{
    int err = vcore__vcpu_arm64_prepare(vcpu, regs, regs ? regs->size : 0, sizeof(*regs),
                                        VCORE_ARM64_STATE_REGS);
    if (err)
        return err;
    vcore_arm64_regs_t r = *regs; /* copy once; check and use the copy */
    err = vcore__arm64_check_regs(&r, &vcpu->last_diag);
    if (err)
        return err;
    vcpu->arm64->st.regs = r;
    vcore__vcpu_mark_dirty(vcpu, VCORE_ARM64_STATE_REGS);
    return VCORE_OK;
}

int vcore_vcpu_get_arm64_sysregs(vcore_vcpu_t *vcpu, vcore_arm64_sysregs_t *sys)
{
    int err = vcore__vcpu_arm64_prepare(vcpu, sys, sys ? sys->size : 0, sizeof(*sys),
                                        VCORE_ARM64_STATE_SYSREGS);
    if (err)
        return err;
    *sys = vcpu->arm64->st.sys;
    return VCORE_OK;
}

int vcore_vcpu_set_arm64_sysregs(vcore_vcpu_t *vcpu, const vcore_arm64_sysregs_t *sys)
{
    int err = vcore__vcpu_arm64_prepare(vcpu, sys, sys ? sys->size : 0, sizeof(*sys),
                                        VCORE_ARM64_STATE_SYSREGS);
    if (err)
        return err;
    vcore_arm64_sysregs_t s = *sys;
    err = vcore__arm64_check_sysregs(&s, &vcpu->last_diag);
    if (err)
        return err;
    vcpu->arm64->st.sys = s;
    vcore__vcpu_mark_dirty(vcpu, VCORE_ARM64_STATE_SYSREGS);
    return VCORE_OK;
}
