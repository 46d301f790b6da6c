/*
 * kvm_kick.c - stopping a vCPU that runs in another thread.
 *
 * Two mechanisms together, because neither is enough alone
 * (api.rst, "immediate_exit" in struct kvm_run):
 *  - kvm_run.immediate_exit = 1 makes the next KVM_RUN return -EINTR at
 *    once, which covers a kick that lands just before the ioctl;
 *  - a signal (VCORE_KVM_KICK_SIGNAL, SIGUSR1) to the thread inside KVM_RUN
 *    makes the kernel leave the guest with -EINTR.
 * The signal needs a handler, or its default action ends the process: the
 * backend installs an empty one (no SA_RESTART: KVM_RUN is never restarted
 * anyway) when the process has none. An existing handler is kept.
 *
 * Ordering (all __atomic, sequentially consistent):
 *   kicker:  immediate_exit = 1; kick_pending = 1; if (in_run) signal
 *   runner:  in_run = 1; if (kick_pending) immediate_exit = 1; KVM_RUN; in_run = 0
 * Either the runner sees kick_pending, or the kicker sees in_run and the
 * immediate_exit it stored is still set when KVM_RUN starts.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "kvm_priv.h"

static void kvm_kick_handler(int signo)
{
    /* Empty: the only purpose of the signal is to interrupt KVM_RUN. */
    (void)signo;
}

int vcore__kvm_kick_prepare(int signo)
{
    struct sigaction old;
    if (sigaction(signo, NULL, &old) != 0)
        return VCORE_ERR_INVAL;
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
        return VCORE_OK; /* the process handles it already */
    if (old.sa_flags & SA_SIGINFO)
        return VCORE_OK;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kvm_kick_handler;
    sigemptyset(&sa.sa_mask);
    return sigaction(signo, &sa, NULL) == 0 ? VCORE_OK : VCORE_ERR_INVAL;
}

void vcore__kvm_kick_enter(vcore_kvm_vcpu_t *kv)
{
    /* Published by the sequentially consistent store of in_run below. */
    __atomic_store_n(&kv->thread, pthread_self(), __ATOMIC_RELAXED);
    __atomic_store_n(&kv->in_run, 1u, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&kv->kick_pending, __ATOMIC_SEQ_CST))
        __atomic_store_n(&kv->run->immediate_exit, (uint8_t)1, __ATOMIC_SEQ_CST);
}

void vcore__kvm_kick_leave(vcore_kvm_vcpu_t *kv)
{
    /* A kicker that still sees 1 only sends a harmless extra signal. */
    __atomic_store_n(&kv->in_run, 0u, __ATOMIC_RELEASE);
}

bool vcore__kvm_kick_consume(vcore_kvm_vcpu_t *kv)
{
    if (!__atomic_exchange_n(&kv->kick_pending, 0u, __ATOMIC_SEQ_CST))
        return false;
    __atomic_store_n(&kv->run->immediate_exit, (uint8_t)0, __ATOMIC_SEQ_CST);
    /* A kick that raced with this one sets kick_pending again and is seen
     * by the next kick_enter. */
    return true;
}

int vcore__kvm_vcpu_kick(vcore_vcpu_t *vcpu, void *priv)
{
    vcore_kvm_vcpu_t *kv = priv;
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    if (!kv->run)
        return VCORE_ERR_STATE;
    __atomic_store_n(&kv->run->immediate_exit, (uint8_t)1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&kv->kick_pending, 1u, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&kv->in_run, __ATOMIC_SEQ_CST)) {
        int r = pthread_kill(__atomic_load_n(&kv->thread, __ATOMIC_SEQ_CST), kvm->kick_signal);
        if (r != 0 && r != ESRCH)
            return VCORE_ERR_HWFAIL;
    }
    return VCORE_OK;
}
