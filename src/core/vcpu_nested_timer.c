/*
 * vcpu_nested_timer.c - L1's VMX-preemption timer while L2 runs.
 *
 * SDM Vol. 3, "VMX-Preemption Timer": with pin-based control 6 ("activate
 * VMX-preemption timer") each VM entry loads the timer from the VMCS; it
 * counts down only in VMX non-root operation, by 1 each time bit X of the
 * TSC changes (X: IA32_VMX_MISC bits 4:0), and causes a VM exit at 0.
 * VM-exit control 22 ("save VMX-preemption timer value") stores the count
 * at every exit ("Saving Guest State"). L1 only sees the exits it gets: an
 * exit L0 handles itself must not start L1's timer again, or L2 runs for
 * ever while L0 keeps taking exits. So vmcs02 saves the count at every exit
 * whenever L1 activates its timer (merge rule TIMER, x86/nvmx_pipeline.h)
 * and the next entry of vmcs02 continues from it; vmcs12's field is written
 * back only when L1 sets control 22 itself (vcpu_nested_exit.c).
 *
 * On a processor without control 22 L0 counts instead: it takes what L2
 * used from L1's TSC between the entry and the exit and enters again with
 * the rest. L0's own time between them counts as L2's, so the timer never
 * fires later than the processor would make it fire, only earlier.
 */
#include "vcpu_nested.h"

#define NESTED_TIMER_PIN (1u << 6)   /* pin-based control 6: activate VMX-preemption timer */
#define NESTED_TIMER_SAVE (1u << 22) /* VM-exit control 22: save VMX-preemption timer value */

uint32_t vcore__vcpu_nested_timer_rate(const vcore_nvmx_t *nv)
{
    return (uint32_t)(nv->caps.msr[VCORE_NVMX_CAP_MISC] & 0x1fu);
}

int vcore__vcpu_nested_timer_tsc(vcore_vcpu_t *vcpu, uint64_t *tsc)
{
    /* The TSC advances on its own: the backend's value, not a cached one. */
    vcpu->valid &= ~(VCORE_X86_STATE_TSC & ~vcpu->dirty);
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_TSC);
    if (!err)
        err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        *tsc = vcpu->x86->st.msrs.tsc;
    return err;
}

/* L1's timer is active and the processor cannot save it for L0. */
static bool vcore__vcpu_nested_timer_counted(vcore_vcpu_t *vcpu)
{
    const vcore_nvmx_t *nv = vcpu->nvmx;
    return (vcore__vcpu_nested_v12(vcpu)->PIN_BASED_VM_EXEC_CONTROL & NESTED_TIMER_PIN) &&
           !(nv->hw_allowed1[VCORE__VMCS_CTL_EXIT] & NESTED_TIMER_SAVE);
}

int vcore__vcpu_nested_timer_start(vcore_vcpu_t *vcpu, uint32_t count)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!vcore__vcpu_nested_timer_counted(vcpu))
        return VCORE_OK;
    nv->timer_count = count;
    return vcore__vcpu_nested_timer_tsc(vcpu, &nv->timer_tsc);
}

int vcore__vcpu_nested_timer_resume(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!vcore__vcpu_nested_timer_counted(vcpu))
        return VCORE_OK;
    uint64_t tsc = 0;
    int err = vcore__vcpu_nested_timer_tsc(vcpu, &tsc);
    if (err)
        return err;
    uint32_t rate = vcore__vcpu_nested_timer_rate(nv);
    uint64_t used = tsc > nv->timer_tsc ? (tsc - nv->timer_tsc) >> rate : 0u;
    /* The part of a tick not yet used stays with the next stretch. */
    nv->timer_tsc += used << rate;
    nv->timer_count = used < nv->timer_count ? nv->timer_count - (uint32_t)used : 0u;
    return vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, nv->timer_count);
}
