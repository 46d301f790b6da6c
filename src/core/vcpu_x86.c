/*
 * vcpu_x86.c - the x86 part of a vCPU: setup, RESET/INIT of the model, and
 * the run loop's dispatch step (which exits the core completes itself).
 */
#include "vcpu_x86.h"

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
    vcpu->valid = VCORE_X86_STATE_ALL;
    vcore__vcpu_cpuid_refresh(vcpu);
}

int vcore__vcpu_x86_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    switch (exit->reason) {
    case VCORE_EXIT_IRQ_WINDOW:
    case VCORE_EXIT_NMI_WINDOW:
        return vcore__vcpu_events_window(vcpu, exit, handled);
    case VCORE_EXIT_VMX_INSN:
    case VCORE_EXIT_RDMSR:
    case VCORE_EXIT_WRMSR:
        if (vcpu->nvmx)
            return vcore__vcpu_nested_dispatch(vcpu, exit, handled);
        return VCORE_OK;
    default:
        return VCORE_OK;
    }
}
