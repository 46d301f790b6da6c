/*
 * vmx_kick.c - the vcpu_kick op: makes a run of the vCPU return
 * VCORE_EXIT_INTERRUPTED, from any thread.
 *
 * The kicker sets a flag, then looks whether the vCPU is past its last
 * check of the flag (in_guest, set before that check); the run loop sets
 * in_guest, then checks the flag. Both sides use sequentially consistent
 * atomics, so either the run sees the flag before it enters, or the kicker
 * sees in_guest and interrupts the vCPU's processor through the host's
 * kick_cpu: the external interrupt makes the guest exit (external-interrupt
 * exiting, SDM Vol. 3, "Pin-Based VM-Execution Controls"), and the run
 * returns VCORE_EXIT_INTERRUPTED. The interrupt must stay pending until the
 * processor enters the guest or enables interrupts: the embedder runs
 * vCPUs with interrupts disabled, as for any ring-0 VMX monitor. Without
 * kick_cpu a vCPU in the guest sees the kick at its next exit.
 */
#include "vmx.h"

#include "virtcore/vm.h"

int vcore__vmx_kick(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    __atomic_store_n(&c->kick, 1u, __ATOMIC_SEQ_CST);
    uint32_t where = __atomic_load_n(&c->in_guest, __ATOMIC_SEQ_CST);
    const vcore_host_t *host = vcore_vm_host(c->vmobj);
    if (where && host->kick_cpu)
        host->kick_cpu(host->ctx, where - 1u);
    return VCORE_OK;
}

bool vcore__vmx_kick_check(vcore__vmx_vcpu_t *c)
{
    __atomic_store_n(&c->in_guest, c->cpu_index + 1u, __ATOMIC_SEQ_CST);
    if (!__atomic_exchange_n(&c->kick, 0u, __ATOMIC_SEQ_CST))
        return false;
    __atomic_store_n(&c->in_guest, 0u, __ATOMIC_SEQ_CST);
    return true;
}

void vcore__vmx_kick_left(vcore__vmx_vcpu_t *c)
{
    __atomic_store_n(&c->in_guest, 0u, __ATOMIC_SEQ_CST);
}
