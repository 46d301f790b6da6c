/*
 * kick.h - the kick protocol of the ring-0 backends (vmx, svm): makes a
 * run of a vCPU return VCORE_EXIT_INTERRUPTED, from any thread.
 *
 * The kicker sets a flag, then looks whether the vCPU is past its last
 * check of the flag (in_guest, set before that check); the run loop sets
 * in_guest, then checks the flag. Both sides use sequentially consistent
 * atomics, so either the run sees the flag before it enters, or the kicker
 * sees in_guest and interrupts the vCPU's processor through the host's
 * kick_cpu. The backend makes sure that interrupt ends the guest's run
 * (an intercepted external interrupt) and is not lost between the check
 * and the entry (held pending: interrupts disabled, or GIF clear on SVM).
 * Without kick_cpu a vCPU in the guest sees the kick at its next exit.
 */
#ifndef VCORE_CORE_KICK_H
#define VCORE_CORE_KICK_H

#include "deps.h"
#include "virtcore/host.h"

typedef struct vcore__kick {
    uint32_t kick;     /* a kick is pending (atomic) */
    uint32_t in_guest; /* processor index + 1 while past the last check, 0 outside (atomic) */
} vcore__kick_t;

/* The kicker's side: flag, and interrupt the processor of a vCPU in the guest. */
void vcore__kick_send(vcore__kick_t *k, const vcore_host_t *host);
/* The run loop before an entry on processor cpu: marks the vCPU in guest
 * mode; true (and the mark undone, the flag consumed) when a kick is pending. */
bool vcore__kick_check(vcore__kick_t *k, uint32_t cpu);
/* The run loop after the entry returned. */
void vcore__kick_left(vcore__kick_t *k);
/* The run returns to its caller: a kick made meanwhile has what it asked for. */
void vcore__kick_done(vcore__kick_t *k);

#endif /* VCORE_CORE_KICK_H */
