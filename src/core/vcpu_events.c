/*
 * vcpu_events.c - events on an x86 vCPU: the public get/set/inject
 * functions and the delivery policy the core applies before each entry.
 *
 * The policy is the same on every backend. A raised exception is delivered
 * at the next entry (its payload - CR2 for #PF, DR6 bits for #DB - is
 * written just before, as the processor does on delivery); an NMI when NMIs
 * are not blocked; an external interrupt when RFLAGS.IF = 1 and nothing
 * blocks it. One event is injected per entry (SDM Vol. 3, "Event
 * Injection"); for what must wait, the core opens the interrupt or NMI
 * window and completes that window exit itself (vcpu_x86.c).
 */
#include "vcpu_x86.h"

#include "x86/x86_bits.h"

/* vcore__x86_vcpu_t::queued */
#define VCORE__QUEUED_EXC (1u << 0)
#define VCORE__QUEUED_NMI (1u << 1)
#define VCORE__QUEUED_IRQ (1u << 2)

bool vcore__vcpu_events_queued(const vcore_vcpu_t *vcpu)
{
    return vcpu->x86->queued != 0 || vcpu->x86->shutdown_pending;
}

/* Front half of every public function: an x86 vCPU on a backend with events. */
static int vcore__vcpu_events_prepare(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    uint32_t groups = vcpu->vm->ops.state_groups;
    if (groups && !(groups & VCORE_X86_STATE_EVENTS))
        return VCORE_ERR_UNSUPPORTED;
    return vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_EVENTS);
}

/* The event state the backend sees asks for a window when the VMM or the core does. */
static void vcore__vcpu_events_windows(vcore_vcpu_t *vcpu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    x->st.events.request_interrupt_window = (x->vmm_irq_window || x->core_irq_window) ? 1u : 0u;
    x->st.events.request_nmi_window = (x->vmm_nmi_window || x->core_nmi_window) ? 1u : 0u;
}

int vcore_vcpu_get_events(vcore_vcpu_t *vcpu, vcore_x86_events_t *events)
{
    if (!events)
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_events_prepare(vcpu);
    if (err)
        return err;
    if (!VCORE__SIZE_OK(events))
        return VCORE_ERR_ABI;
    *events = vcpu->x86->st.events;
    /* The windows are the VMM's own requests, not the ones the core opened. */
    events->request_interrupt_window = vcpu->x86->vmm_irq_window ? 1u : 0u;
    events->request_nmi_window = vcpu->x86->vmm_nmi_window ? 1u : 0u;
    return VCORE_OK;
}

static uint32_t vcore__vcpu_events_pending_bits(const vcore_x86_events_t *e)
{
    return (e->exception_pending ? VCORE__QUEUED_EXC : 0u) | (e->nmi_pending ? VCORE__QUEUED_NMI : 0u) |
           (e->interrupt_pending ? VCORE__QUEUED_IRQ : 0u);
}

int vcore_vcpu_set_events(vcore_vcpu_t *vcpu, const vcore_x86_events_t *events)
{
    if (!events)
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_events_prepare(vcpu);
    if (err)
        return err;
    if (!VCORE__SIZE_OK(events))
        return VCORE_ERR_ABI;
    vcore_x86_events_t e = *events; /* copy once; check and use the copy */
    err = vcore__x86_events_check(&e, &vcpu->last_diag);
    if (err)
        return err;
    if (e.request_nmi_window && !(vcpu->vm->ops.features & VCORE_BACKEND_FEAT_NMI_WINDOW)) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_EVENT_WINDOW_UNSUPPORTED, 2);
        return VCORE_ERR_UNSUPPORTED;
    }
    vcore__x86_vcpu_t *x = vcpu->x86;
    x->st.events = e;
    x->vmm_irq_window = e.request_interrupt_window != 0;
    x->vmm_nmi_window = e.request_nmi_window != 0;
    x->queued = vcore__vcpu_events_pending_bits(&e);
    /* A window the core opened for an event the VMM just withdrew is closed. */
    x->core_irq_window = x->core_irq_window && (x->queued & VCORE__QUEUED_IRQ);
    x->core_nmi_window = x->core_nmi_window && (x->queued & VCORE__QUEUED_NMI);
    vcore__vcpu_events_windows(vcpu);
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
    return VCORE_OK;
}

int vcore__vcpu_raise_exception(vcore_vcpu_t *vcpu, uint32_t vector, uint32_t error_code,
                                bool has_payload, uint64_t payload)
{
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_EVENTS);
    if (err)
        return err;
    vcore__x86_vcpu_t *x = vcpu->x86;
    if (vcore__x86_events_raise(&x->st.events, vector, error_code, has_payload, payload)) {
        /* SDM Vol. 3, "Interrupt 8-Double Fault Exception (#DF)": a fault
         * while delivering #DF shuts the processor down. The guest does not
         * run again; nothing stays pending. */
        x->shutdown_pending = true;
        x->st.events.exception_pending = 0;
        x->st.events.exception_injected = 0;
        x->queued &= ~VCORE__QUEUED_EXC;
    } else {
        x->queued |= VCORE__QUEUED_EXC;
    }
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
    return VCORE_OK;
}

int vcore_vcpu_inject_exception(vcore_vcpu_t *vcpu, uint8_t vector, bool has_error_code,
                                uint32_t error_code, uint64_t payload)
{
    int err = vcore__vcpu_events_prepare(vcpu);
    if (err)
        return err;
    if (!vcore__x86_exc_vector_valid(vector))
        return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_EVENT_VECTOR_INVALID, vector);
    if (has_error_code != vcore__x86_exc_has_error_code(vector))
        return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_EVENT_ERROR_CODE, vector);
    bool has_payload = vector == VCORE__VEC_PF || vector == VCORE__VEC_DB;
    return vcore__vcpu_raise_exception(vcpu, vector, error_code, has_payload, payload);
}

int vcore_vcpu_inject_interrupt(vcore_vcpu_t *vcpu, uint8_t vector)
{
    int err = vcore__vcpu_events_prepare(vcpu);
    if (err)
        return err;
    if (vector < 16)
        return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_EVENT_INTERRUPT_VECTOR, vector);
    vcore_x86_events_t *e = &vcpu->x86->st.events;
    if (e->interrupt_pending || e->interrupt_injected) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_EVENT_BUSY, e->interrupt_vector);
        return VCORE_ERR_BUSY;
    }
    e->interrupt_pending = 1;
    e->interrupt_vector = vector;
    e->interrupt_soft = 0;
    vcpu->x86->queued |= VCORE__QUEUED_IRQ;
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
    return VCORE_OK;
}

void vcore__vcpu_events_acked(vcore_vcpu_t *vcpu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    x->st.events.interrupt_pending = 0;
    x->queued &= ~VCORE__QUEUED_IRQ;
    x->core_irq_window = false;
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
}

void vcore__vcpu_events_nmi_exited(vcore_vcpu_t *vcpu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    x->st.events.nmi_pending = 0;
    x->st.events.nmi_masked = 1;
    x->queued &= ~VCORE__QUEUED_NMI;
    x->core_nmi_window = false;
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
}

void vcore__vcpu_events_unacked(vcore_vcpu_t *vcpu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    x->st.events.interrupt_pending = 1;
    x->queued |= VCORE__QUEUED_IRQ;
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
}

int vcore_vcpu_inject_nmi(vcore_vcpu_t *vcpu)
{
    int err = vcore__vcpu_events_prepare(vcpu);
    if (err)
        return err;
    /* SDM Vol. 3, "NMI Handling While in SMM" / "Nonmaskable Interrupt
     * (NMI)": one NMI is latched while another is blocked; more are lost. */
    vcore_x86_events_t *e = &vcpu->x86->st.events;
    if (e->nmi_pending)
        return VCORE_OK;
    e->nmi_pending = 1;
    vcpu->x86->queued |= VCORE__QUEUED_NMI;
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
    return VCORE_OK;
}

/* Starts the delivery of the pending exception: its payload first. */
static int vcore__vcpu_events_exception(vcore_vcpu_t *vcpu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    vcore_x86_events_t *e = &x->st.events;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_CR0);
    if (err)
        return err;
    if (e->exception_has_payload && e->exception_vector == VCORE__VEC_PF) {
        /* SDM Vol. 3, "Interrupt 14-Page-Fault Exception (#PF)": CR2 gets
         * the faulting linear address when the fault is delivered. */
        x->st.sregs.cr2 = e->exception_payload;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_CR2);
    } else if (e->exception_has_payload && e->exception_vector == VCORE__VEC_DB) {
        /* DR6 as the delivery leaves it (x86/events.c). */
        err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_DREGS);
        if (err)
            return err;
        x->st.dregs.dr6 = vcore__x86_events_dr6(x->st.dregs.dr6, e->exception_payload);
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_DREGS);
    }
    /* Real-address mode pushes no error code (SDM Vol. 3, "Exception and
     * Interrupt Handling in Real-Address Mode"), and VM entry refuses one
     * while CR0.PE = 0 ("Checks on VM-Entry Control Fields"). */
    if (!(x->st.sregs.cr0 & VCORE__CR0_PE)) {
        e->exception_has_error_code = 0;
        e->exception_error_code = 0;
    }
    e->exception_pending = 0;
    e->exception_injected = 1;
    e->exception_has_payload = 0;
    e->exception_payload = 0;
    x->queued &= ~VCORE__QUEUED_EXC;
    return VCORE_OK;
}

int vcore__vcpu_events_before_entry(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *made)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    if (x->shutdown_pending) {
        x->shutdown_pending = false;
        vcore__memset(&exit->u, 0, sizeof(exit->u));
        vcore__memset(&exit->raw, 0, sizeof(exit->raw));
        exit->reason = VCORE_EXIT_SHUTDOWN;
        exit->flags = 0;
        *made = true;
        return VCORE_OK;
    }
    if (!x->queued)
        return VCORE_OK;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_EVENTS | VCORE_X86_STATE_RFLAGS);
    if (err)
        return err;
    vcore_x86_events_t *e = &x->st.events;
    const vcore_x86_events_t before = *e;
    const bool before_irq = x->core_irq_window, before_nmi = x->core_nmi_window;
    bool busy = e->exception_injected || e->interrupt_injected || e->nmi_injected;
    /* APM Vol. 2, "Global Interrupt Flag, STGI and CLGI Instructions":
     * while GIF is clear, interrupts and NMIs are held pending (no window
     * either: they go in after the STGI the core emulates); exceptions are
     * not affected. */
    const bool gif = !vcpu->nsvm || vcore_nsvm_gif(vcpu->nsvm);
    /* Priority among the events the core holds (SDM Vol. 3, "Priority
     * Among Concurrent Events"): exceptions, then NMI, then INTR. */
    if (!busy && e->exception_pending) {
        err = vcore__vcpu_events_exception(vcpu);
        if (err)
            return err;
    } else if (!busy && gif && e->nmi_pending && vcore__x86_can_take_nmi(e)) {
        e->nmi_pending = 0;
        e->nmi_injected = 1;
        x->queued &= ~VCORE__QUEUED_NMI;
    } else if (!busy && gif && !e->nmi_pending && e->interrupt_pending &&
               vcore__x86_can_take_interrupt(x->st.regs.rflags, e)) {
        e->interrupt_pending = 0;
        e->interrupt_injected = 1;
        x->queued &= ~VCORE__QUEUED_IRQ;
    }
    /* What still waits gets its window, so the guest exits as soon as it
     * can take it; without an NMI window the backend delivers NMIs itself. */
    if ((x->queued & VCORE__QUEUED_NMI) && gif) {
        if (vcpu->vm->ops.features & VCORE_BACKEND_FEAT_NMI_WINDOW)
            x->core_nmi_window = true;
        else
            x->queued &= ~VCORE__QUEUED_NMI;
    }
    if ((x->queued & VCORE__QUEUED_IRQ) && gif)
        x->core_irq_window = true;
    vcore__vcpu_events_windows(vcpu);
    /* Only a change reaches the backend (a queued event that still waits
     * for its open window costs nothing). */
    if (vcore__memcmp(&before, e, sizeof(before)) != 0 || before_irq != x->core_irq_window ||
        before_nmi != x->core_nmi_window)
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
    return VCORE_OK;
}

void vcore__vcpu_events_want_irq_window(vcore_vcpu_t *vcpu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    if (x->core_irq_window)
        return;
    x->core_irq_window = true;
    vcore__vcpu_events_windows(vcpu);
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_EVENTS);
}

int vcore__vcpu_events_window(vcore_vcpu_t *vcpu, const vcore_exit_t *exit, bool *handled)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    bool *core = exit->reason == VCORE_EXIT_IRQ_WINDOW ? &x->core_irq_window : &x->core_nmi_window;
    bool *vmm = exit->reason == VCORE_EXIT_IRQ_WINDOW ? &x->vmm_irq_window : &x->vmm_nmi_window;
    /* The backend cleared the request with the exit; the core's own window
     * is complete: the guest re-enters and the queued event goes in. */
    bool was_core = *core;
    *core = false;
    if (*vmm) {
        *vmm = false; /* the VMM asked: it gets the exit (one-shot) */
        return VCORE_OK;
    }
    *handled = was_core;
    return VCORE_OK;
}

uint32_t vcore__vcpu_events_held(const vcore_vcpu_t *vcpu)
{
    const vcore__x86_vcpu_t *x = vcpu->x86;
    return ((x->queued & VCORE__QUEUED_NMI) ? VCORE__EVENTS_HELD_NMI : 0u) |
           ((x->queued & VCORE__QUEUED_IRQ) ? VCORE__EVENTS_HELD_INTR : 0u);
}
