/*
 * vmx_kick.c - the vcpu_kick op on the vmx backend: the shared protocol of
 * core/kick.h. The interrupt the kicker sends through the host's kick_cpu
 * makes the guest exit (external-interrupt exiting, SDM Vol. 3, "Pin-Based
 * VM-Execution Controls"), and the run returns VCORE_EXIT_INTERRUPTED. It
 * must stay pending until the processor enters the guest or enables
 * interrupts: the embedder runs vCPUs with interrupts disabled, as for any
 * ring-0 VMX monitor.
 */
#include "vmx.h"

#include "virtcore/vm.h"

int vcore__vmx_kick(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    vcore__kick_send(&c->kick, vcore_vm_host(c->vmobj));
    return VCORE_OK;
}

bool vcore__vmx_kick_check(vcore__vmx_vcpu_t *c)
{
    return vcore__kick_check(&c->kick, c->cpu_index);
}

void vcore__vmx_kick_left(vcore__vmx_vcpu_t *c)
{
    vcore__kick_left(&c->kick);
}
