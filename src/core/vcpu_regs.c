/*
 * vcpu_regs.c - register get/set on a vCPU.
 *
 * Every set follows one pattern: make the model current for what the check
 * needs, check the new value against the architecture (x86/regs.c,
 * x86/msr.c), and only then apply it and mark its class dirty. A refused
 * value leaves the state untouched and records the rule in last_diag.
 */
#include "vcpu_x86.h"

/* Shared front half of every accessor: handle, architecture, struct size, model sync. */
static int vcore__vcpu_prepare(vcore_vcpu_t *vcpu, const void *p, size_t size, size_t want,
                               uint32_t groups)
{
    if (!vcore__vcpu_ok(vcpu) || !p)
        return VCORE_ERR_INVAL;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    if (size != want)
        return VCORE_ERR_ABI;
    return vcore__vcpu_sync_in(vcpu, groups);
}

/* Logs a refusal through the host and returns err. */
static int vcore__vcpu_refused(vcore_vcpu_t *vcpu, int err)
{
    if (err == VCORE_ERR_INVAL)
        vcore_vm_log(vcpu->vm, VCORE_LOG_WARN, vcpu->last_diag.message);
    return err;
}

/* Applies a checked change: the groups become dirty; runtime CPUID bits follow. */
static void vcore__vcpu_applied(vcore_vcpu_t *vcpu, uint32_t groups)
{
    vcore__vcpu_mark_dirty(vcpu, groups);
    if (groups & VCORE__RUNTIME_GROUPS)
        vcore__vcpu_cpuid_refresh(vcpu);
}

/* The state the accessors act on. While nested SVM runs L2 on a hardware
 * vmcb02, the vCPU is L2: what L2 holds in vmcb02 (its registers,
 * segments, CRs, DR6/DR7 and the VMCB-held MSRs, APM Vol. 2 "VMCB Layout,
 * State Save Area") over the state L1 and L2 share; L1's own state is
 * reached through the nested-state API (x86/nsvm.h) only. *st is the
 * model itself otherwise. */
static int vcore__vcpu_view(vcore_vcpu_t *vcpu, vcore_x86_state_t *tmp, vcore_x86_state_t **st)
{
    *st = &vcpu->x86->st;
    if (!vcpu->nsvm || !vcore__vcpu_nsvm_in_l2(vcpu))
        return VCORE_OK;
    *st = tmp;
    return vcore__vcpu_nsvm_l2_load(vcpu, tmp);
}

/* Applies a checked change made in the view. */
static int vcore__vcpu_view_applied(vcore_vcpu_t *vcpu, const vcore_x86_state_t *st, uint32_t groups)
{
    if (st != &vcpu->x86->st)
        return vcore__vcpu_nsvm_l2_store(vcpu, st);
    vcore__vcpu_applied(vcpu, groups);
    return VCORE_OK;
}

int vcore_vcpu_get_regs(vcore_vcpu_t *vcpu, vcore_x86_regs_t *regs)
{
    int err = vcore__vcpu_prepare(vcpu, regs, regs ? regs->size : 0, sizeof(*regs),
                                  VCORE_X86_STATE_REGS);
    vcore_x86_state_t tmp, *st = NULL;
    if (!err)
        err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    *regs = st->regs;
    return VCORE_OK;
}

int vcore_vcpu_set_regs(vcore_vcpu_t *vcpu, const vcore_x86_regs_t *regs)
{
    int err = vcore__vcpu_prepare(vcpu, regs, regs ? regs->size : 0, sizeof(*regs),
                                  VCORE_X86_STATE_REGS);
    if (err)
        return err;
    vcore_x86_state_t tmp, *st = NULL;
    err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    err = vcore__x86_check_regs(regs, &vcpu->last_diag);
    if (err)
        return vcore__vcpu_refused(vcpu, err);
    st->regs = *regs;
    return vcore__vcpu_view_applied(vcpu, st, VCORE_X86_STATE_REGS);
}

int vcore_vcpu_get_sregs(vcore_vcpu_t *vcpu, vcore_x86_sregs_t *sregs)
{
    int err = vcore__vcpu_prepare(vcpu, sregs, sregs ? sregs->size : 0, sizeof(*sregs),
                                  VCORE_X86_STATE_SREGS);
    vcore_x86_state_t tmp, *st = NULL;
    if (!err)
        err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    *sregs = st->sregs;
    return VCORE_OK;
}

int vcore_vcpu_set_sregs(vcore_vcpu_t *vcpu, const vcore_x86_sregs_t *sregs)
{
    int err = vcore__vcpu_prepare(vcpu, sregs, sregs ? sregs->size : 0, sizeof(*sregs),
                                  VCORE__RUNTIME_GROUPS);
    /* SREGS is a whole block: nothing of the old value is kept. */
    if (err)
        return err;
    /* A VMM loads whole states (migration, INIT-SIPI, tests): what must hold
     * is the consistency of the new state, not the rules of the instruction
     * that would get there from the old one (MOV CR4 setting PCIDE with a
     * nonzero PCID, LA57 toggling in long mode), so no old state is passed. */
    vcore_x86_state_t tmp, *st = NULL;
    err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    err = vcore__x86_check_sregs(&vcpu->x86->model, NULL, sregs, &vcpu->last_diag);
    if (err)
        return vcore__vcpu_refused(vcpu, err);
    st->sregs = *sregs;
    return vcore__vcpu_view_applied(vcpu, st, VCORE_X86_STATE_SREGS);
}

int vcore_vcpu_get_dregs(vcore_vcpu_t *vcpu, vcore_x86_dregs_t *dregs)
{
    int err = vcore__vcpu_prepare(vcpu, dregs, dregs ? dregs->size : 0, sizeof(*dregs),
                                  VCORE_X86_STATE_DREGS);
    vcore_x86_state_t tmp, *st = NULL;
    if (!err)
        err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    /* While L2 runs under nested VMX its DR7 is the vCPU's
     * (vcpu_nested_debugctl.c); DR0-DR3 and DR6 are shared. */
    uint64_t dr7 = st->dregs.dr7;
    if (vcore__vcpu_nested_dr7_held(vcpu)) {
        err = vcore__vcpu_nested_dr7_get(vcpu, &dr7);
        if (err)
            return err;
    }
    *dregs = st->dregs;
    dregs->dr7 = dr7;
    return VCORE_OK;
}

int vcore_vcpu_set_dregs(vcore_vcpu_t *vcpu, const vcore_x86_dregs_t *dregs)
{
    int err = vcore__vcpu_prepare(vcpu, dregs, dregs ? dregs->size : 0, sizeof(*dregs),
                                  VCORE_X86_STATE_DREGS);
    if (err)
        return err;
    vcore_x86_state_t tmp, *st = NULL;
    err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    err = vcore__x86_check_dregs(&vcpu->x86->model, dregs, &vcpu->last_diag);
    if (err)
        return vcore__vcpu_refused(vcpu, err);
    uint64_t dr7 = dregs->dr7;
    if (vcore__vcpu_nested_dr7_held(vcpu)) {
        /* L2's DR7 (vcpu_nested_debugctl.c); the model's stays L1's. */
        err = vcore__vcpu_nested_dr7_set(vcpu, dr7);
        if (err)
            return err;
        dr7 = st->dregs.dr7;
    }
    st->dregs = *dregs;
    st->dregs.dr7 = dr7;
    return vcore__vcpu_view_applied(vcpu, st, VCORE_X86_STATE_DREGS);
}

int vcore_vcpu_get_fpu(vcore_vcpu_t *vcpu, vcore_x86_fpu_t *fpu)
{
    int err = vcore__vcpu_prepare(vcpu, fpu, fpu ? fpu->size : 0, sizeof(*fpu),
                                  VCORE_X86_STATE_FPU);
    if (err)
        return err;
    *fpu = vcpu->x86->st.fpu;
    return VCORE_OK;
}

int vcore_vcpu_set_fpu(vcore_vcpu_t *vcpu, const vcore_x86_fpu_t *fpu)
{
    int err = vcore__vcpu_prepare(vcpu, fpu, fpu ? fpu->size : 0, sizeof(*fpu),
                                  VCORE_X86_STATE_FPU);
    if (err)
        return err;
    err = vcore__x86_check_fpu(fpu, &vcpu->last_diag);
    if (err)
        return vcore__vcpu_refused(vcpu, err);
    vcpu->x86->st.fpu = *fpu;
    vcore__vcpu_applied(vcpu, VCORE_X86_STATE_FPU);
    return VCORE_OK;
}

int vcore_vcpu_get_xcr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value)
{
    if (!vcore__vcpu_ok(vcpu) || !value)
        return VCORE_ERR_INVAL;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    if (index != 0)
        return VCORE_ERR_NOENT;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_XCR0);
    if (err)
        return err;
    *value = vcpu->x86->st.xcr0;
    return VCORE_OK;
}

int vcore_vcpu_set_xcr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    if (index != 0)
        return VCORE_ERR_NOENT;
    int err = vcore__vcpu_sync_in(vcpu, VCORE__RUNTIME_GROUPS);
    if (err)
        return err;
    err = vcore__x86_check_xcr0(&vcpu->x86->model, value, &vcpu->last_diag);
    if (err)
        return vcore__vcpu_refused(vcpu, err);
    vcpu->x86->st.xcr0 = value;
    vcore__vcpu_applied(vcpu, VCORE_X86_STATE_XCR0);
    return VCORE_OK;
}

int vcore_vcpu_get_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value)
{
    if (!vcore__vcpu_ok(vcpu) || !value)
        return VCORE_ERR_INVAL;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    uint32_t classes = vcore__x86_msr_classes(index);
    if (!classes)
        return VCORE_ERR_NOENT;
    /* While L2 runs under nested VMX its IA32_EFER and IA32_PAT are the
     * vCPU's (vcpu_nested_msr02.c). */
    if (vcore__vcpu_nested_msr02_held(vcpu, index)) {
        *value = vcore__vcpu_nested_msr02_get(vcpu, index);
        return VCORE_OK;
    }
    vcore_x86_state_t tmp, *st = NULL;
    int err = vcore__vcpu_sync_in(vcpu, classes);
    if (!err)
        err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    return vcore__x86_msr_get(st, index, value);
}

int vcore_vcpu_set_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    uint32_t classes = vcore__x86_msr_classes(index);
    if (!classes) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_MSR_UNKNOWN, index);
        return VCORE_ERR_NOENT;
    }
    if (vcore__vcpu_nested_msr02_held(vcpu, index))
        return vcore__vcpu_refused(vcpu, vcore__vcpu_nested_msr02_set(vcpu, index, value));
    /* EFER and the FS/GS bases are checked against the segment state
     * (EFER: vcore__x86_check_sregs() needs the whole system-register block). */
    int err = vcore__vcpu_sync_in(vcpu, classes | VCORE__RUNTIME_GROUPS |
                                            (index == VCORE_MSR_IA32_EFER ? VCORE__CR_GROUPS : 0));
    vcore_x86_state_t tmp, *st = NULL;
    if (!err)
        err = vcore__vcpu_view(vcpu, &tmp, &st);
    if (err)
        return err;
    err = vcore__x86_msr_set(&vcpu->x86->model, st, index, value, &vcpu->last_diag);
    if (err)
        return vcore__vcpu_refused(vcpu, err);
    return vcore__vcpu_view_applied(vcpu, st, classes);
}
