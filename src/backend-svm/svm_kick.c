/*
 * svm_kick.c - the vcpu_kick op on the svm backend: the shared protocol of
 * core/kick.h.
 *
 * The run checks for a kick after CLGI, just before VMRUN (svm_vmcb.c):
 * with GIF clear the processor holds a physical interrupt pending (APM
 * Vol. 2, "Global Interrupt Flag"), so the interrupt a kicker sends
 * through the host's kick_cpu once it has seen the vCPU past the check is
 * not lost: VMRUN sets GIF, the interrupt is recognised in the guest, and
 * the INTR intercept ("Physical Interrupts") ends the run with
 * VCORE_EXIT_INTERRUPTED. With V_INTR_MASKING the host's RFLAGS.IF, saved
 * at VMRUN, masks physical interrupts while the guest runs ("Virtualizing
 * INTR"): the embedder calls vcore_vcpu_run with interrupts enabled.
 */
#include "svm.h"

#include "virtcore/vm.h"

int vcore__svm_kick(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__svm_vcpu_t *c = priv;
    (void)vcpu;
    vcore__kick_send(&c->kick, vcore_vm_host(c->vmobj));
    return VCORE_OK;
}

bool vcore__svm_kick_check(vcore__svm_vcpu_t *c)
{
    return vcore__kick_check(&c->kick, c->cpu_index);
}

void vcore__svm_kick_left(vcore__svm_vcpu_t *c)
{
    vcore__kick_left(&c->kick);
}
