/*
 * mock_events.c - the mock's model of event delivery: what a processor does
 * at VM entry with an injected event (SDM Vol. 3, "Event Injection"), and
 * the interrupt and NMI windows ("Interrupt-Window Exiting and Virtual-
 * Interrupt Delivery", "NMI-Window Exiting").
 */
#include "mock_priv.h"

/* RFLAGS.IF (SDM Vol. 1, "EFLAGS Register"). */
#define VCORE__MOCK_RFLAGS_IF (1ull << 9)

static void vcore__mock_record(vcore__mock_vcpu_t *m, uint32_t kind, uint8_t vector, bool has_ec,
                               uint32_t ec, bool soft)
{
    m->counts[kind]++;
    vcore__memset(&m->last_event, 0, sizeof(m->last_event));
    m->last_event.size = sizeof(m->last_event);
    m->last_event.kind = kind;
    m->last_event.vector = vector;
    m->last_event.has_error_code = has_ec ? 1u : 0u;
    m->last_event.error_code = has_ec ? ec : 0;
    m->last_event.soft = soft ? 1u : 0u;
    m->last_event.cr2 = m->st.sregs.cr2;
    m->have_event = true;
}

/* The injected event goes into the guest: delivery clears it and, for an
 * NMI, blocks further NMIs until the guest's IRET. */
static void vcore__mock_deliver(vcore__mock_vcpu_t *m)
{
    vcore_x86_events_t *e = &m->st.events;
    if (e->exception_injected) {
        vcore__mock_record(m, VCORE_MOCK_OP_DELIVER_EXCEPTION, e->exception_vector,
                           e->exception_has_error_code != 0, e->exception_error_code, false);
        e->exception_injected = 0;
    } else if (e->nmi_injected) {
        vcore__mock_record(m, VCORE_MOCK_OP_DELIVER_NMI, 2, false, 0, false);
        e->nmi_injected = 0;
        e->nmi_masked = 1;
    } else if (e->interrupt_injected) {
        vcore__mock_record(m, VCORE_MOCK_OP_DELIVER_INTERRUPT, e->interrupt_vector, false, 0,
                           e->interrupt_soft != 0);
        e->interrupt_injected = 0;
    } else {
        return;
    }
    /* Delivery ends any STI / MOV-SS blocking: the guest runs a handler. */
    e->sti_blocking = 0;
    e->movss_blocking = 0;
}

static void vcore__mock_window_exit(vcore_exit_t *exit, uint32_t reason)
{
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->reason = reason;
    exit->flags = 0;
    exit->raw.source = VCORE_EXIT_SRC_MOCK;
}

bool vcore__mock_events_run(vcore__mock_vcpu_t *m, vcore_exit_t *exit)
{
    vcore_x86_events_t *e = &m->st.events;
    vcore__mock_deliver(m);
    bool blocked = e->sti_blocking || e->movss_blocking;
    /* NMI window: open when no NMI is blocked (virtual NMIs, SDM "NMI-Window Exiting"). */
    if (e->request_nmi_window && !e->nmi_masked && !blocked) {
        e->request_nmi_window = 0;
        vcore__mock_window_exit(exit, VCORE_EXIT_NMI_WINDOW);
        return true;
    }
    if (e->request_interrupt_window && (m->st.regs.rflags & VCORE__MOCK_RFLAGS_IF) && !blocked) {
        e->request_interrupt_window = 0;
        vcore__mock_window_exit(exit, VCORE_EXIT_IRQ_WINDOW);
        return true;
    }
    return false;
}
