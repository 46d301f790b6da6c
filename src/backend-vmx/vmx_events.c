/*
 * vmx_events.c - the events state group on vmcs01.
 *
 * The core decides which event goes in (vcpu_events.c); the backend
 * delivers what the state marks "injected" through VM-entry event
 * injection (SDM Vol. 3, "VM-Entry Controls for Event Injection"), maps
 * blocking by STI, by MOV SS and by NMI to the interruptibility state
 * ("Guest Non-Register State"; with "virtual NMIs" bit 3 is the guest's
 * own NMI blocking), turns the interrupt and NMI window requests into
 * interrupt-window and NMI-window exiting, and after an exit that hit an
 * event delivery reports that event as injected again from the
 * IDT-vectoring information ("Information for VM Exits That Occur During
 * Event Delivery").
 */
#include "vmx.h"

/* The interruptibility bits the events state owns. */
#define VCORE__INTR_STATE_EVENTS (VCORE__INTR_STI | VCORE__INTR_MOVSS | VCORE__INTR_NMI)

int vcore__vmx_events_get(vcore__vmx_vcpu_t *c, vcore_x86_events_t *out)
{
    uint64_t intr = 0;
    int err = vcore__vmx_field_get(c, VCORE__VMX_F_INTR_STATE, &intr);
    if (err)
        return err;
    c->ev.sti_blocking = (intr & VCORE__INTR_STI) ? 1u : 0u;
    c->ev.movss_blocking = (intr & VCORE__INTR_MOVSS) ? 1u : 0u;
    c->ev.nmi_masked = (intr & VCORE__INTR_NMI) ? 1u : 0u;
    *out = c->ev;
    out->size = sizeof(*out);
    return VCORE_OK;
}

int vcore__vmx_events_set(vcore__vmx_vcpu_t *c, const vcore_x86_events_t *in)
{
    uint64_t intr = 0;
    c->ev = *in; /* the core checked it (vcore__x86_events_check) */
    /* Bits 2 (SMI) and 4 (enclave interruption) are the processor's: kept. */
    int err = vcore__vmx_field_get(c, VCORE__VMX_F_INTR_STATE, &intr);
    if (err)
        return err;
    intr &= ~(uint64_t)VCORE__INTR_STATE_EVENTS;
    if (in->sti_blocking)
        intr |= VCORE__INTR_STI;
    if (in->movss_blocking)
        intr |= VCORE__INTR_MOVSS;
    if (in->nmi_masked)
        intr |= VCORE__INTR_NMI;
    return vcore__vmx_field_put(c, VCORE__VMX_F_INTR_STATE, intr);
}

int vcore__vmx_events_end_blocking(vcore__vmx_vcpu_t *c)
{
    uint64_t intr = 0;
    int err = vcore__vmx_field_get(c, VCORE__VMX_F_INTR_STATE, &intr);
    if (err)
        return err;
    c->ev.sti_blocking = 0;
    c->ev.movss_blocking = 0;
    if (!(intr & (VCORE__INTR_STI | VCORE__INTR_MOVSS)))
        return VCORE_OK;
    return vcore__vmx_field_put(c, VCORE__VMX_F_INTR_STATE,
                                intr & ~(uint64_t)(VCORE__INTR_STI | VCORE__INTR_MOVSS));
}

/* The VM-entry interruption information for the injected event (0: none). */
static uint32_t vcore__vmx_events_info(const vcore_x86_events_t *e, bool *soft)
{
    uint32_t type, vector;
    *soft = false;
    if (e->exception_injected) {
        vector = e->exception_vector;
        type = VCORE__INTR_TYPE_HW_EXC;
        /* An exception raised by an instruction that the core re-delivers
         * with its length: INT3 / INTO are software exceptions, INT1 a
         * privileged software exception ("Event Injection"). */
        if (e->soft_insn_len && (vector == VCORE__VEC_BP || vector == VCORE__VEC_OF))
            type = VCORE__INTR_TYPE_SOFT_EXC;
        else if (e->soft_insn_len && vector == VCORE__VEC_DB)
            type = VCORE__INTR_TYPE_PRIV_SOFT_EXC;
        *soft = type != VCORE__INTR_TYPE_HW_EXC;
        return VCORE__INTR_VALID | (type << 8) | vector |
               (e->exception_has_error_code ? VCORE__INTR_HAS_ERR : 0u);
    }
    if (e->nmi_injected)
        return VCORE__INTR_VALID | (VCORE__INTR_TYPE_NMI << 8) | VCORE__VEC_NMI;
    if (e->interrupt_injected) {
        *soft = e->interrupt_soft != 0;
        type = *soft ? VCORE__INTR_TYPE_SOFT_INT : VCORE__INTR_TYPE_EXT;
        return VCORE__INTR_VALID | (type << 8) | e->interrupt_vector;
    }
    return 0;
}

int vcore__vmx_events_entry(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v)
{
    struct vcore_hw_vmcs *o = &c->vmcs01;
    const vcore_x86_events_t *e = &c->ev;
    /* "Interrupt-window exiting": an exit before the first instruction the
     * guest can take an external interrupt at; "NMI-window exiting": before
     * the first one without virtual-NMI blocking. Armed while requested. */
    uint32_t proc = v->ctls.proc | (e->request_interrupt_window ? VCORE__PROC_IRQ_WINDOW : 0u) |
                    (e->request_nmi_window ? VCORE__PROC_NMI_WINDOW : 0u);
    int err = vcore__vmx_field_ctl(o, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, proc);
    if (err)
        return err;
    bool soft;
    uint32_t info = vcore__vmx_events_info(e, &soft);
    c->injected = info != 0;
    if (info & VCORE__INTR_HAS_ERR)
        err = vcore__vmx_field_write(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, e->exception_error_code);
    /* A software interrupt or exception pushes the address after the
     * instruction: VM entry needs its length. */
    if (!err && soft)
        err = vcore__vmx_field_write(VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, e->soft_insn_len);
    if (err)
        return err;
    /* Exits clear the valid bit (vmx_vmcs.c): with nothing to inject the
     * field is written only when it may still be valid. */
    if (o->entry_intr_known && o->entry_intr == info)
        return VCORE_OK;
    if (!info && o->entry_intr_known && !(o->entry_intr & VCORE__INTR_VALID))
        return VCORE_OK;
    o->entry_intr = info;
    o->entry_intr_known = false; /* until the VMWRITE succeeds */
    err = vcore__vmx_field_write(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, info);
    if (err)
        return err;
    o->entry_intr_known = true;
    return VCORE_OK;
}

void vcore__vmx_events_exited(vcore__vmx_vcpu_t *c, bool failed_entry)
{
    /* A failed entry delivered nothing: the event stays injected. */
    if (failed_entry || !c->injected)
        return;
    /* The event was delivered, or its delivery was interrupted by this exit
     * and the IDT-vectoring information brings it back. */
    vcore_x86_events_t *e = &c->ev;
    e->exception_injected = 0;
    e->nmi_injected = 0;
    e->interrupt_injected = 0;
    e->interrupt_soft = 0;
    e->soft_insn_len = 0;
    c->injected = false;
}

int vcore__vmx_events_idt_vectoring(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t idt = 0, code = 0, len = 0;
    int err = vcore__vmx_field_read(VCORE_VMCS_IDT_VECTORING_INFO_FIELD, &idt);
    if (err)
        return err;
    exit->raw.data[3] = idt;
    if (!(idt & VCORE__INTR_VALID))
        return VCORE_OK;
    uint32_t type = VCORE__INTR_TYPE(idt);
    uint8_t vector = VCORE__INTR_VECTOR(idt);
    if (idt & VCORE__INTR_HAS_ERR)
        err = vcore__vmx_field_read(VCORE_VMCS_IDT_VECTORING_ERROR_CODE, &code);
    /* For software interrupts and exceptions the VM-exit instruction length
     * is that of the instruction whose event was being delivered. */
    if (!err && type >= VCORE__INTR_TYPE_SOFT_INT)
        err = vcore__vmx_field_read(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &len);
    if (err)
        return err;
    exit->raw.data[4] = code;
    vcore_x86_events_t *e = &c->ev;
    e->exception_injected = 0;
    e->nmi_injected = 0;
    e->interrupt_injected = 0;
    e->interrupt_soft = 0;
    e->soft_insn_len = 0;
    switch (type) {
    case VCORE__INTR_TYPE_EXT:
    case VCORE__INTR_TYPE_SOFT_INT:
        e->interrupt_injected = 1;
        e->interrupt_vector = vector;
        e->interrupt_soft = type == VCORE__INTR_TYPE_SOFT_INT ? 1u : 0u;
        e->soft_insn_len = (uint8_t)len;
        break;
    case VCORE__INTR_TYPE_NMI: {
        e->nmi_injected = 1;
        /* Re-injecting an NMI needs virtual-NMI blocking clear ("Checks on
         * Guest Non-Register State"); its delivery had not completed, so the
         * blocking it would set is not in force yet. */
        uint64_t intr = 0;
        err = vcore__vmx_field_get(c, VCORE__VMX_F_INTR_STATE, &intr);
        if (!err)
            err = vcore__vmx_field_put(c, VCORE__VMX_F_INTR_STATE, intr & ~(uint64_t)VCORE__INTR_NMI);
        e->nmi_masked = 0;
        break;
    }
    case VCORE__INTR_TYPE_HW_EXC:
    case VCORE__INTR_TYPE_PRIV_SOFT_EXC:
    case VCORE__INTR_TYPE_SOFT_EXC:
        e->exception_injected = 1;
        e->exception_vector = vector;
        e->exception_has_error_code = (idt & VCORE__INTR_HAS_ERR) ? 1u : 0u;
        e->exception_error_code = (uint32_t)code;
        e->soft_insn_len = (uint8_t)len;
        break;
    default:
        break; /* types 1 and 7 are never recorded for an event delivery */
    }
    return err;
}
