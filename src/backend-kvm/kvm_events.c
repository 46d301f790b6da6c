/*
 * kvm_events.c - the core's event state (vcore_x86_events_t) <-> KVM's
 * struct kvm_vcpu_events (KVM API, "KVM_GET_VCPU_EVENTS",
 * "KVM_SET_VCPU_EVENTS").
 *
 * Pure conversions; kvm_state.c issues the ioctls. What maps where:
 *
 *   exception_pending / _injected  <-> exception.pending / .injected
 *   exception_vector, error code   <-> exception.nr, .has_error_code, .error_code
 *   exception_has_payload, payload <-> exception_has_payload, exception_payload
 *   interrupt_injected, vector     <-> interrupt.injected, interrupt.nr
 *   interrupt_soft                 <-> interrupt.soft
 *   sti_blocking / movss_blocking  <-> interrupt.shadow (KVM_X86_SHADOW_INT_STI / _MOV_SS)
 *   nmi_injected / _pending / _masked <-> nmi.injected / .pending / .masked
 *
 * KVM does not hold the rest: the interrupt-window request lives in
 * kvm_run.request_interrupt_window, and an interrupt that waits for the
 * window is the VMM's (here: the core's) until it can be delivered. SMM,
 * the SIPI vector and a pending triple fault are KVM's alone: the flags
 * that would overwrite them are never set.
 *
 * Without KVM_CAP_EXCEPTION_PAYLOAD, KVM's interface has one exception
 * state, "injected", that covers both a raised exception and one whose
 * delivery started; KVM_GET_VCPU_EVENTS then reports a pending exception
 * as injected, its payload already applied to CR2 / DR6.
 */
#include <string.h>

#include "kvm_priv.h"

#include "core/x86/x86_bits.h"

#if defined(__x86_64__)

/*
 * DR6.RTM, bit 16 (SDM Vol. 3, "Debug Status Register (DR6)"): it reads 1
 * and is cleared only by a debug exception inside an RTM region. In the
 * core's payload (the DR6 bits to set) it is a no-op; in KVM's payload,
 * which follows the VMX pending-debug-exceptions layout, bit 16 means
 * "clear DR6.RTM". It is therefore never handed over in either direction.
 */
#define KVM_EVENTS_DR6_RTM VCORE__BIT(16)

/* The payload as the other side reads it (see KVM_EVENTS_DR6_RTM). */
static uint64_t kvm_events_payload(uint8_t vector, uint64_t payload)
{
    return vector == VCORE__VEC_DB ? payload & ~KVM_EVENTS_DR6_RTM : payload;
}

const char *vcore__kvm_events_refusal(const vcore_x86_events_t *e, bool payload_cap)
{
    if (payload_cap || !e->exception_pending)
        return NULL;
    /* Without the capability a raised exception can only be handed over as
     * "injected", which KVM delivers as it is: the payload would never
     * reach CR2 / DR6 ... */
    if (e->exception_has_payload)
        return "a pending exception with a payload needs KVM_CAP_EXCEPTION_PAYLOAD";
    /* ... and it would go in before the event already being delivered,
     * which must be completed first (SDM Vol. 3, "Event Injection"). */
    if (e->interrupt_injected || e->nmi_injected)
        return "a pending exception behind an injected event needs KVM_CAP_EXCEPTION_PAYLOAD";
    return NULL;
}

void vcore__kvm_events_to_kvm(const vcore_x86_events_t *e, bool payload_cap, uint8_t nmis,
                              struct kvm_vcpu_events *k)
{
    memset(k, 0, sizeof *k);
    /* Flags: which optional parts of the structure KVM must take. SMM,
     * SIPI and triple-fault state stay KVM's. */
    k->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;

    /* ---- exception ---- */
    bool exc = e->exception_pending || e->exception_injected;
    if (payload_cap) {
        k->flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
        k->exception.pending = e->exception_pending ? 1 : 0;
        k->exception.injected = e->exception_injected ? 1 : 0;
        /* KVM keeps a payload only with a pending exception: once
         * delivery started it has been applied. */
        if (e->exception_pending && e->exception_has_payload) {
            k->exception_has_payload = 1;
            k->exception_payload = kvm_events_payload(e->exception_vector, e->exception_payload);
        }
    } else {
        k->exception.injected = exc ? 1 : 0;
    }
    if (exc) {
        k->exception.nr = e->exception_vector;
        k->exception.has_error_code = e->exception_has_error_code ? 1 : 0;
        k->exception.error_code = e->exception_has_error_code ? e->exception_error_code : 0;
    }

    /* ---- external or software interrupt whose delivery started ---- */
    if (e->interrupt_injected) {
        k->interrupt.injected = 1;
        k->interrupt.nr = e->interrupt_vector;
        k->interrupt.soft = e->interrupt_soft ? 1 : 0;
    }
    /* Interruptibility (SDM Vol. 3, "Guest Non-Register State"). */
    k->interrupt.shadow = (uint8_t)((e->sti_blocking ? KVM_X86_SHADOW_INT_STI : 0) |
                                    (e->movss_blocking ? KVM_X86_SHADOW_INT_MOV_SS : 0));

    /* ---- NMI ---- */
    k->nmi.injected = e->nmi_injected ? 1 : 0;
    k->nmi.pending = e->nmi_pending ? (nmis ? nmis : 1) : 0;
    k->nmi.masked = e->nmi_masked ? 1 : 0;
}

void vcore__kvm_events_from_kvm(const struct kvm_vcpu_events *k, vcore_x86_events_t *e)
{
    /* ---- exception: KVM reports "pending" only with the capability on ---- */
    bool pending = (k->flags & KVM_VCPUEVENT_VALID_PAYLOAD) && k->exception.pending;
    bool injected = k->exception.injected && !pending;
    e->exception_pending = pending ? 1 : 0;
    e->exception_injected = injected ? 1 : 0;
    e->exception_vector = (pending || injected) ? k->exception.nr : 0;
    e->exception_has_error_code = (pending || injected) && k->exception.has_error_code ? 1 : 0;
    e->exception_error_code = e->exception_has_error_code ? k->exception.error_code : 0;
    e->exception_has_payload = pending && k->exception_has_payload ? 1 : 0;
    e->exception_payload =
        e->exception_has_payload ? kvm_events_payload(k->exception.nr, k->exception_payload) : 0;

    /* ---- interrupt: KVM never reports a software one (its instruction
     * re-executes), so soft is 0 here on current kernels ---- */
    if (k->interrupt.injected) {
        e->interrupt_injected = 1;
        e->interrupt_vector = k->interrupt.nr;
        e->interrupt_soft = k->interrupt.soft ? 1 : 0;
    } else {
        e->interrupt_injected = 0;
        if (!e->interrupt_pending) {
            e->interrupt_vector = 0;
            e->interrupt_soft = 0;
        }
    }
    /* One interruptibility bit on AMD: KVM reports it as both STI and MOV
     * SS. MOV-SS blocking is the stronger of the two (it also holds NMIs
     * and debug traps back, SDM Vol. 3, "Interruptibility State"), and a
     * state with both bits is not one VM entry accepts ("Checks on Guest
     * Non-Register State"): keep MOV SS. */
    if (k->flags & KVM_VCPUEVENT_VALID_SHADOW) {
        e->movss_blocking = (k->interrupt.shadow & KVM_X86_SHADOW_INT_MOV_SS) ? 1 : 0;
        e->sti_blocking =
            (k->interrupt.shadow & KVM_X86_SHADOW_INT_STI) && !e->movss_blocking ? 1 : 0;
    } else {
        e->movss_blocking = 0;
        e->sti_blocking = 0;
    }

    /* ---- NMI: the model latches one (KVM counts up to two) ---- */
    e->nmi_injected = k->nmi.injected ? 1 : 0;
    e->nmi_pending = (k->flags & KVM_VCPUEVENT_VALID_NMI_PENDING) && k->nmi.pending ? 1 : 0;
    e->nmi_masked = k->nmi.masked ? 1 : 0;
}

#endif /* __x86_64__ */
