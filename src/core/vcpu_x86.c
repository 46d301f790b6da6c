/*
 * vcpu_x86.c - the x86 part of a vCPU: setup, RESET/INIT of the model, and
 * the run loop's dispatch step (which exits the core completes itself).
 */
#include "vcpu_x86.h"
#include "x86/hyperv/hv.h"

void vcore__vcpu_x86_setup(vcore_vcpu_t *vcpu, uint32_t vendor)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    x->cfg_vendor = vendor;
    vcore__cpuid_model_default(vendor, &x->model);
}

void vcore__vcpu_x86_reset(vcore_vcpu_t *vcpu, bool init)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    vcore__x86_reset(&x->st, &x->model, vcore__vcpu_vendor(vcpu), init, vcpu->bsp);
    /* Nothing is queued, pending or being delivered after either event. */
    x->queued = 0;
    x->core_irq_window = x->core_nmi_window = false;
    x->vmm_irq_window = x->vmm_nmi_window = false;
    x->shutdown_pending = false;
    x->init_latched = false;
    if (!init && vcpu->nvmx)
        vcore__vcpu_nested_reset(vcpu);
    if (!init && vcpu->nsvm)
        vcore__vcpu_nsvm_reset(vcpu);
    if (vcpu->vm->hv)
        vcore__hv_vcpu_reset(vcpu); /* no IPI vector survives RESET or INIT */
    vcpu->valid = VCORE_X86_STATE_ALL;
    vcore__vcpu_cpuid_refresh(vcpu);
}

int vcore__vcpu_x86_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    switch (exit->reason) {
    case VCORE_EXIT_IRQ_WINDOW:
    case VCORE_EXIT_NMI_WINDOW:
        return vcore__vcpu_events_window(vcpu, exit, handled);
    case VCORE_EXIT_CR_ACCESS:
        return vcore__vcpu_cr_dispatch(vcpu, exit, handled);
    case VCORE_EXIT_RDMSR:
    case VCORE_EXIT_WRMSR:
        if (vcpu->vm->hv) {
            int err = vcore__hv_msr_dispatch(vcpu, exit, handled);
            if (err || *handled)
                return err;
        }
        return vcore__vcpu_msr_dispatch(vcpu, exit, handled);
    case VCORE_EXIT_HYPERCALL:
        return vcpu->vm->hv ? vcore__hv_dispatch(vcpu, exit, handled) : VCORE_OK;
    case VCORE_EXIT_VMX_INSN:
        return vcpu->nvmx ? vcore__vcpu_nested_dispatch(vcpu, exit, handled) : VCORE_OK;
    case VCORE_EXIT_SVM_INSN:
        return vcpu->nsvm ? vcore__vcpu_nsvm_dispatch(vcpu, exit, handled) : VCORE_OK;
    default:
        return VCORE_OK;
    }
}

int vcore__vcpu_x86_answer(vcore_vcpu_t *vcpu, uint32_t answering, vcore_exit_t *exit)
{
    /* A Hyper-V call the VMM answered: the result convention of its caller. */
    if (answering == VCORE_EXIT_HYPERCALL && vcpu->vm->hv && exit->reason == VCORE_EXIT_HYPERCALL)
        return vcore__hv_answer(vcpu, exit);
    if ((answering != VCORE_EXIT_RDMSR && answering != VCORE_EXIT_WRMSR) || !exit->u.msr.error ||
        (vcpu->vm->ops.features & VCORE_BACKEND_FEAT_MSR_FAULT))
        return VCORE_OK;
    /* SDM Vol. 2, "RDMSR"/"WRMSR": #GP(0), the instruction does not complete. */
    return vcore__vcpu_raise_exception(vcpu, 13, 0, false, 0);
}
