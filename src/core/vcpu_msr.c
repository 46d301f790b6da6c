/*
 * vcpu_msr.c - guest RDMSR/WRMSR of the MSRs the vCPU model holds,
 * answered by the core with the model's WRMSR rules (x86/msr.c): the VMM
 * sees only the MSRs the library does not model, as with KVM.
 *
 * The answer goes into the exit's reply slot, like a VMM's, and the backend
 * completes the instruction at the next run; a refused access sets the
 * error flag and becomes #GP(0) (SDM Vol. 2, "RDMSR", "WRMSR").
 */
#include "vcpu_x86.h"
#include "x86/vmx/nvmx_priv.h"

/* Guest accesses the model answers: everything it holds but the TSC, which
 * only the backend's hardware knows while the guest runs. */
static bool vcore__vcpu_msr_modelled(uint32_t index)
{
    return vcore__x86_msr_classes(index) != 0 && index != VCORE_MSR_IA32_TSC;
}

int vcore__vcpu_msr_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    uint32_t index = exit->u.msr.index;
    bool rd = exit->reason == VCORE_EXIT_RDMSR;
    if (vcpu->nvmx && vcore__nvmx_cap_msr(index))
        return vcore__vcpu_nested_msr(vcpu, exit, handled);
    if (vcpu->nsvm && index == VCORE_MSR_VM_HSAVE_PA)
        return vcore__vcpu_nsvm_msr(vcpu, exit, handled);
    if (!vcore__vcpu_msr_modelled(index))
        return VCORE_OK;
    *handled = true;
    /* SDM Vol. 3, "SMBASE Relocation": IA32_SMBASE is accessible only in
     * SMM; RDMSR or WRMSR of it elsewhere is #GP(0). */
    if (index == VCORE_MSR_IA32_SMBASE) {
        exit->u.msr.error = 1;
        return VCORE_OK;
    }
    uint32_t groups = vcore__x86_msr_classes(index);
    int err = vcore__vcpu_sync_in(vcpu, groups | VCORE__RUNTIME_GROUPS |
                                            (index == VCORE_MSR_IA32_EFER ? VCORE__CR_GROUPS : 0));
    if (err)
        return err;
    if (rd) {
        err = vcore__x86_msr_get(&x->st, index, &exit->u.msr.value);
        exit->u.msr.error = err ? 1u : 0u;
        return VCORE_OK;
    }
    uint64_t value = exit->u.msr.value;
    /* IA32_EFER.LMA is read-only: WRMSR leaves it as the processor has it. */
    if (index == VCORE_MSR_IA32_EFER)
        value = (value & ~(1ull << 10)) | (x->st.sregs.efer & (1ull << 10));
    err = vcore__x86_msr_set(&x->model, &x->st, index, value, &vcpu->last_diag);
    if (err && err != VCORE_ERR_INVAL)
        return err;
    exit->u.msr.error = err ? 1u : 0u;
    if (!err) {
        vcore__vcpu_mark_dirty(vcpu, groups);
        vcore__vcpu_cpuid_refresh(vcpu);
    }
    return VCORE_OK;
}
