/*
 * events.c - exceptions, interrupts and NMIs on their way into the guest:
 * validation of an event state, the double-fault rules for a second
 * exception, and whether the guest can take an interrupt or an NMI now.
 *
 * Pure functions over vcore_x86_events_t; the vCPU layer (vcpu_events.c)
 * decides when to call them and the backend delivers what is marked
 * "injected".
 */
#include "x86.h"
#include "x86_bits.h"

/* SDM Vol. 3, "Exception and Interrupt Reference": the exceptions that push
 * an error code (#DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17,
 * #CP 21). */
#define EVENTS_ERROR_CODE_VECTORS                                                                   \
    ((1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 17) |     \
     (1u << 21))

/* Vectors 0-31 that are not exceptions one can raise: 2 is the NMI (its own
 * event type), 15 and 22-27, 31 are reserved ("Exception and Interrupt
 * Vectors"). 28-30 are AMD's #HV, #VC and #SX. */
#define EVENTS_NOT_EXCEPTIONS ((1u << 2) | (1u << 15) | (0x3fu << 22) | (1u << 31))

/* SDM Vol. 3, "Interrupt 8-Double Fault Exception (#DF)", table "Conditions
 * for Generating a Double Fault": contributory exceptions are #DE, #TS, #NP,
 * #SS, #GP (and #CP); the page-fault class is #PF and #VE. */
#define EVENTS_CONTRIBUTORY ((1u << 0) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 21))
#define EVENTS_PAGE_FAULT_CLASS ((1u << 14) | (1u << 20))

bool vcore__x86_exc_vector_valid(uint32_t vector)
{
    return vector < 32 && !((EVENTS_NOT_EXCEPTIONS >> vector) & 1u);
}

bool vcore__x86_exc_has_error_code(uint32_t vector)
{
    return vector < 32 && ((EVENTS_ERROR_CODE_VECTORS >> vector) & 1u);
}

/* SDM Vol. 3, "Debug Status Register (DR6)": a debug exception may clear
 * B0-B3 and sets its condition bits (B0-B3, BD, BS, BT); the processor
 * never clears the others. RTM (bit 16) is active low: a payload bit 16
 * (the pending-debug-exceptions layout) clears it. */
uint64_t vcore__x86_events_dr6(uint64_t dr6, uint64_t payload)
{
    uint64_t v = (dr6 & ~0xfull) | (payload & VCORE__DR6_CONDITIONS) | VCORE__DR6_FIXED1;
    return (payload & VCORE__DR6_RTM) ? (v & ~VCORE__DR6_RTM) : v;
}

static bool events_flag_ok(uint8_t f)
{
    return f <= 1;
}

int vcore__x86_events_check(const vcore_x86_events_t *e, vcore_diag_t *d)
{
    const uint8_t flags[] = {
        e->exception_pending, e->exception_injected, e->exception_has_error_code,
        e->exception_has_payload, e->interrupt_pending, e->interrupt_injected,
        e->interrupt_soft, e->nmi_pending, e->nmi_injected, e->nmi_masked,
        e->sti_blocking, e->movss_blocking, e->request_interrupt_window,
        e->request_nmi_window};
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(flags); i++)
        if (!events_flag_ok(flags[i]))
            return vcore__diag_set(d, VCORE_DIAG_EVENT_FLAG, flags[i]);
    for (size_t i = 0; i < sizeof(e->pad); i++)
        if (e->pad[i])
            return vcore__diag_set(d, VCORE_DIAG_EVENT_FLAG, e->pad[i]);
    /* One exception at most: pending and injected are two stages of it. */
    if (e->exception_pending && e->exception_injected)
        return vcore__diag_set(d, VCORE_DIAG_EVENT_TWO_EVENTS, e->exception_vector);
    if (e->exception_pending || e->exception_injected) {
        if (!vcore__x86_exc_vector_valid(e->exception_vector))
            return vcore__diag_set(d, VCORE_DIAG_EVENT_VECTOR_INVALID, e->exception_vector);
        /* A vector that never pushes an error code cannot have one; one that
         * pushes it may come without it (delivered in real-address mode). */
        if (e->exception_has_error_code && !vcore__x86_exc_has_error_code(e->exception_vector))
            return vcore__diag_set(d, VCORE_DIAG_EVENT_ERROR_CODE, e->exception_vector);
    }
    /* SDM Vol. 3, "Event Injection": one event is injected per VM entry. */
    if ((e->exception_injected + e->interrupt_injected + e->nmi_injected) > 1)
        return vcore__diag_set(d, VCORE_DIAG_EVENT_TWO_EVENTS, 0);
    if (e->interrupt_pending && e->interrupt_injected)
        return vcore__diag_set(d, VCORE_DIAG_EVENT_TWO_EVENTS, e->interrupt_vector);
    if (e->interrupt_pending && e->interrupt_vector < 16)
        return vcore__diag_set(d, VCORE_DIAG_EVENT_INTERRUPT_VECTOR, e->interrupt_vector);
    /* SDM Vol. 3, "Checks on Guest Non-Register State": bits 0 and 1 of
     * the interruptibility state cannot both be 1. */
    if (e->sti_blocking && e->movss_blocking)
        return vcore__diag_set(d, VCORE_DIAG_EVENT_BLOCKING_BOTH, 3);
    return VCORE_OK;
}

static uint32_t events_class(uint32_t vector)
{
    if ((EVENTS_CONTRIBUTORY >> vector) & 1u)
        return 1; /* contributory */
    if ((EVENTS_PAGE_FAULT_CLASS >> vector) & 1u)
        return 2; /* page fault */
    return 0;     /* benign */
}

bool vcore__x86_events_raise(vcore_x86_events_t *e, uint32_t vector, uint32_t error_code,
                             bool has_payload, uint64_t payload)
{
    if (e->exception_pending || e->exception_injected) {
        uint32_t first = e->exception_vector;
        if (first == VCORE__VEC_DF)
            return true; /* a fault while delivering #DF: shutdown */
        uint32_t c1 = events_class(first), c2 = events_class(vector);
        if ((c1 == 1 && c2 == 1) || (c1 == 2 && c2 != 0)) {
            vector = VCORE__VEC_DF;
            error_code = 0;
            has_payload = false;
            payload = 0;
        }
        /* Otherwise the exceptions are handled serially: the new one replaces
         * the first, which the instruction's re-execution raises again. */
    }
    e->exception_pending = 1;
    e->exception_injected = 0;
    e->exception_vector = (uint8_t)vector;
    e->exception_has_error_code = vcore__x86_exc_has_error_code(vector) ? 1u : 0u;
    e->exception_error_code = e->exception_has_error_code ? error_code : 0;
    e->exception_has_payload = has_payload ? 1u : 0u;
    e->exception_payload = has_payload ? payload : 0;
    return false;
}

/* Another event is being delivered, or an exception must go first. */
static bool events_busy(const vcore_x86_events_t *e)
{
    return e->exception_pending || e->exception_injected || e->interrupt_injected ||
           e->nmi_injected;
}

bool vcore__x86_can_take_interrupt(uint64_t rflags, const vcore_x86_events_t *e)
{
    /* SDM Vol. 3, "Interruptibility State": external interrupts need
     * RFLAGS.IF = 1 and no blocking by STI or MOV SS. */
    return (rflags & VCORE__RFLAGS_IF) && !e->sti_blocking && !e->movss_blocking &&
           !events_busy(e);
}

bool vcore__x86_can_take_nmi(const vcore_x86_events_t *e)
{
    /* NMIs are blocked while the NMI handler runs and by MOV SS; whether STI
     * blocks them is model-specific and a VM entry that injects one under
     * STI blocking may fail ("Checks on Guest Non-Register State"), so an
     * STI shadow waits as well. */
    return !e->nmi_masked && !e->sti_blocking && !e->movss_blocking && !events_busy(e);
}
