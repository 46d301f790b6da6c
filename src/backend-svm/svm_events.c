/*
 * svm_events.c - the events state group on VMCB01.
 *
 * The core decides which event goes in (vcpu_events.c); the backend
 * delivers what the state marks "injected" through EVENTINJ (APM Vol. 2,
 * "Event Injection") and reads back from EXITINTINFO an event whose
 * delivery an intercept interrupted ("Event Injection", EXITINTINFO), so
 * it is injected again, unchanged.
 *
 * Interruptibility: SVM keeps one interrupt-shadow bit for STI and MOV SS
 * ("Interrupt Shadows"); it reads back as blocking by STI. NMI blocking is
 * not in the VMCB: the processor blocks NMIs from the delivery of an NMI
 * until the next IRET ("NMI Support"), so the backend records it when an
 * injected NMI is delivered and intercepts IRET while it lasts.
 *
 * Windows: the interrupt window is a virtual interrupt the guest can take
 * (V_IRQ with V_IGN_TPR) whose delivery is intercepted (VINTR intercept,
 * "Virtual Interrupt Intercept"). SVM has no NMI window; it opens when the
 * interrupt shadow and NMI blocking are over. An IRET intercept comes
 * before the IRET executes, so the instruction that ends the blocking (the
 * IRET, or the one in the interrupt shadow) is single-stepped with
 * RFLAGS.TF and the #DB intercept, and the window is reported after it.
 */
#include "svm.h"

void vcore__svm_events_get(vcore__svm_vcpu_t *c, vcore_x86_events_t *out)
{
    uint32_t is = VCORE__SVM_RD(c, control.int_state);
    c->ev.sti_blocking = (is & VCORE_VMCB_STATE_INTERRUPT_SHADOW) ? 1u : 0u;
    c->ev.movss_blocking = 0;
    *out = c->ev;
    out->size = sizeof(*out);
}

void vcore__svm_events_set(vcore__svm_vcpu_t *c, const vcore_x86_events_t *in)
{
    c->ev = *in; /* the core checked it (vcore__x86_events_check) */
    uint32_t is = VCORE__SVM_RD(c, control.int_state);
    uint32_t neu = (in->sti_blocking || in->movss_blocking) ? (is | VCORE_VMCB_STATE_INTERRUPT_SHADOW)
                                                           : (is & ~VCORE_VMCB_STATE_INTERRUPT_SHADOW);
    if (neu != is)
        VCORE__SVM_WR(c, control.int_state, neu);
}

/* The EVENTINJ value for the injected event (0: none); *soft_len is the
 * length of the instruction whose event it is (0 for other events). */
static uint64_t vcore__svm_events_inj(const vcore_x86_events_t *e, uint8_t *soft_len)
{
    *soft_len = 0;
    if (e->exception_injected) {
        /* INT3 / INTO re-delivered with their length behave as traps. */
        if (e->exception_vector == VCORE__VEC_BP || e->exception_vector == VCORE__VEC_OF)
            *soft_len = e->soft_insn_len;
        return vcore_vmcb_event(e->exception_vector, VCORE_VMCB_EVENT_TYPE_EXCEPTION,
                                e->exception_has_error_code != 0, e->exception_error_code);
    }
    if (e->nmi_injected)
        return vcore_vmcb_event(VCORE__VEC_NMI, VCORE_VMCB_EVENT_TYPE_NMI, false, 0);
    if (e->interrupt_injected) {
        if (e->interrupt_soft)
            *soft_len = e->soft_insn_len;
        return vcore_vmcb_event(e->interrupt_vector,
                                e->interrupt_soft ? VCORE_VMCB_EVENT_TYPE_SOFT_INT : VCORE_VMCB_EVENT_TYPE_INTR,
                                false, 0);
    }
    return 0;
}

/* Starts a single step of the guest's next instruction. */
static void vcore__svm_events_step(vcore__svm_vcpu_t *c)
{
    uint64_t rf = VCORE__SVM_RD(c, save.rflags);
    c->step_rflags = rf & VCORE__RFLAGS_TF;
    c->step_dr6 = VCORE__SVM_RD(c, save.dr6) & VCORE__DR6_BS;
    VCORE__SVM_WR(c, save.rflags, rf | VCORE__RFLAGS_TF);
    c->nmi_step = true;
}

void vcore__svm_events_entry(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, bool *window_now)
{
    vcore_x86_events_t *e = &c->ev;
    uint8_t soft_len;
    uint64_t inj = vcore__svm_events_inj(e, &soft_len);
    *window_now = false;
    if (e->request_nmi_window && !e->nmi_masked) {
        bool shadow = (VCORE__SVM_RD(c, control.int_state) & VCORE_VMCB_STATE_INTERRUPT_SHADOW) != 0;
        if (!shadow && !c->iret_pending) {
            /* Nothing blocks an NMI: the window is open before the guest runs. */
            e->request_nmi_window = 0;
            *window_now = true;
            return;
        }
        /* Not while an event goes in: its delivery would push RFLAGS.TF
         * into the guest's stack. The window is looked at again after it. */
        if (!c->nmi_step && !inj)
            vcore__svm_events_step(c);
    }
    /* NMI blocking ends with an IRET, which only an intercept reveals. */
    vcore__svm_vmcb_intercept(c, VCORE_VMCB_INTERCEPT_IRET, e->nmi_masked != 0);

    if (soft_len) {
        /* A software interrupt (or INT3/INTO) pushes the address after its
         * instruction. With NRIPS the processor takes it from nRIP; without
         * it the guest's RIP is moved past the instruction, and moved back
         * if the delivery does not complete ("Event Injection"). */
        uint64_t rip = VCORE__SVM_RD(c, save.rip);
        uint64_t next = rip + soft_len;
        if (!vcore__svm_state_long64(c))
            next &= 0xffffffffull;
        if (v->features & VCORE_SVM_FEAT_NRIPS) {
            VCORE__SVM_WR(c, control.next_rip, next);
        } else {
            VCORE__SVM_WR(c, save.rip, next);
            c->soft_advanced = true;
            c->soft_len = soft_len;
        }
    }
    /* #VMEXIT clears the valid bit: with nothing to inject the field is
     * written only when it may still be valid. */
    if (VCORE__SVM_RD(c, control.event_inj) != inj)
        VCORE__SVM_WR(c, control.event_inj, inj);
    c->injected = inj != 0;

    /* The interrupt window: a virtual interrupt of any priority whose
     * delivery exits ("Virtual Interrupt Intercept"). */
    uint32_t ic = VCORE__SVM_RD(c, control.int_ctl);
    uint32_t want = VCORE_VMCB_INT_V_IRQ | VCORE_VMCB_INT_V_IGN_TPR;
    uint32_t neu = e->request_interrupt_window ? (ic | want) : (ic & ~want);
    if (neu != ic) {
        VCORE__SVM_WR(c, control.int_ctl, neu);
        c->dirty |= VCORE_VMCB_CLEAN_TPR;
    }
    vcore__svm_vmcb_intercept(c, VCORE_VMCB_INTERCEPT_VINTR, e->request_interrupt_window != 0);
}

/* Length of the instruction at RIP whose event EXITINTINFO holds, for the
 * software events (INTn; INT3 and INTO, which record type 3); 0 when the
 * event is not one or the instruction cannot be read. */
static uint8_t vcore__svm_events_soft_len(vcore__svm_vcpu_t *c, uint32_t type, uint32_t vector)
{
    vcore__x86_insn_t in;
    if (type != VCORE_VMCB_EVENT_TYPE_SOFT_INT &&
        !(type == VCORE_VMCB_EVENT_TYPE_EXCEPTION && (vector == VCORE__VEC_BP || vector == VCORE__VEC_OF)))
        return 0;
    if (vcore__svm_guest_decode(c, &in) != VCORE_OK)
        return 0;
    if (in.opcode == 0xcd || in.opcode == 0xcc || in.opcode == 0xce)
        return in.len;
    return 0;
}

void vcore__svm_events_exited(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, uint64_t exit_code,
                              vcore_exit_t *exit)
{
    vcore_x86_events_t *e = &c->ev;
    (void)v;
    /* A single step ends with any exit: the guest's TF comes back. */
    c->step_ended = c->nmi_step;
    if (c->nmi_step) {
        uint64_t rf = VCORE__SVM_RD(c, save.rflags);
        VCORE__SVM_WR(c, save.rflags, (rf & ~VCORE__RFLAGS_TF) | c->step_rflags);
        c->nmi_step = false;
    }
    if (exit_code != VCORE_VMEXIT_IRET)
        c->iret_pending = false;
    if (exit_code == VCORE_VMEXIT_INVALID_CODE) {
        /* VMRUN failed its checks: nothing was delivered, the event stays injected. */
        if (c->soft_advanced)
            VCORE__SVM_WR(c, save.rip, VCORE__SVM_RD(c, save.rip) - c->soft_len);
        c->soft_advanced = false;
        c->injected = false;
        return;
    }
    uint64_t ii = VCORE__SVM_RD(c, control.exit_int_info);
    exit->raw.data[2] = ii;
    if (c->injected) {
        /* Delivered - or interrupted, and EXITINTINFO brings it back. An
         * NMI that was delivered blocks NMIs until the guest's IRET. */
        bool nmi = e->nmi_injected != 0;
        e->exception_injected = 0;
        e->nmi_injected = 0;
        e->interrupt_injected = 0;
        e->interrupt_soft = 0;
        e->soft_insn_len = 0;
        if (nmi && !((ii & VCORE_VMCB_EVENT_V) &&
                     ((ii & VCORE_VMCB_EVENT_TYPE_MASK) >> VCORE_VMCB_EVENT_TYPE_SHIFT) == VCORE_VMCB_EVENT_TYPE_NMI))
            e->nmi_masked = 1;
    }
    c->injected = false;
    if (ii & VCORE_VMCB_EVENT_V) {
        uint32_t type = (uint32_t)((ii & VCORE_VMCB_EVENT_TYPE_MASK) >> VCORE_VMCB_EVENT_TYPE_SHIFT);
        uint8_t vector = (uint8_t)(ii & VCORE_VMCB_EVENT_VECTOR_MASK);
        /* The RIP moved past a software event's instruction goes back: its
         * re-delivery moves it again. */
        if (c->soft_advanced)
            VCORE__SVM_WR(c, save.rip, VCORE__SVM_RD(c, save.rip) - c->soft_len);
        e->exception_injected = 0;
        e->nmi_injected = 0;
        e->interrupt_injected = 0;
        e->interrupt_soft = 0;
        e->soft_insn_len = 0;
        switch (type) {
        case VCORE_VMCB_EVENT_TYPE_INTR:
        case VCORE_VMCB_EVENT_TYPE_SOFT_INT:
            e->interrupt_injected = 1;
            e->interrupt_vector = vector;
            e->interrupt_soft = type == VCORE_VMCB_EVENT_TYPE_SOFT_INT ? 1u : 0u;
            e->soft_insn_len = vcore__svm_events_soft_len(c, type, vector);
            break;
        case VCORE_VMCB_EVENT_TYPE_NMI:
            e->nmi_injected = 1;
            break;
        case VCORE_VMCB_EVENT_TYPE_EXCEPTION:
            e->exception_injected = 1;
            e->exception_vector = vector;
            e->exception_has_error_code = (ii & VCORE_VMCB_EVENT_EV) ? 1u : 0u;
            e->exception_error_code = (uint32_t)(ii >> VCORE_VMCB_EVENT_ERRCODE_SHIFT);
            e->soft_insn_len = vcore__svm_events_soft_len(c, type, vector);
            break;
        default:
            break; /* reserved types are never recorded */
        }
    }
    c->soft_advanced = false;
}

void vcore__svm_events_iret(vcore__svm_vcpu_t *c)
{
    /* The IRET has not executed yet: NMIs unblock with it. */
    c->ev.nmi_masked = 0;
    c->iret_pending = true;
}

bool vcore__svm_events_step_done(vcore__svm_vcpu_t *c)
{
    if (!c->step_ended)
        return false;
    uint64_t dr6 = VCORE__SVM_RD(c, save.dr6);
    /* The backend's TF was the only single-step source when the guest's own
     * TF was clear: the #DB is the step's unless DR6 names a breakpoint
     * (B0-B3, BD). DR6.BS says so too, where the processor updates DR6
     * before the intercept (Bochs does not: docs/svm-conformance.md). */
    bool ours = (dr6 & VCORE__DR6_BS) ||
                (!(c->step_rflags & VCORE__RFLAGS_TF) && !(dr6 & (VCORE__DR6_CONDITIONS & ~VCORE__DR6_BS)));
    if (!ours)
        return false;
    if (dr6 & VCORE__DR6_BS) {
        /* The guest's DR6.BS stays as it was. */
        VCORE__SVM_WR(c, save.dr6, (dr6 & ~VCORE__DR6_BS) | c->step_dr6);
        c->dirty |= VCORE_VMCB_CLEAN_DRX;
    }
    return true;
}
