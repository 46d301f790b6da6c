/*
 * vcpu_nested_pi.c - L1's "process posted interrupts" (pin-based control 7)
 * for L2, performed by L0 (SDM Vol. 3, "Posted-Interrupt Processing",
 * "Virtual-Interrupt Delivery", "Evaluation of Pending Virtual Interrupts").
 *
 * vmcs02 never has the control (rule ZERO of VCORE_NVMX_CTL_RULES): L1's
 * notification reaches the vCPU as an interrupt the VMM makes pending
 * (vcore_vcpu_inject_interrupt()), never as a physical interrupt on the
 * processor running L2, so no descriptor of L1's is handed to the
 * processor. Where the vCPU recognizes that interrupt for L2 - before L2
 * runs again (vcore__vcpu_nested_pending_intr()) and at L1's VM entry
 * (vcore__vcpu_nested_pi_entry()) - L0 takes the SDM's steps itself:
 *  1. the interrupt is acknowledged: the VMM's pending interrupt is
 *     consumed (its vector is "the physical vector");
 *  2. a vector other than vmcs12's notification vector is the ordinary
 *     external-interrupt VM exit to L1 (the caller's);
 *  3. ON (descriptor bit 256) is cleared with a locked AND, leaving the
 *     rest of the descriptor as it is;
 *  4. the EOI that dismisses the notification goes to the local APIC,
 *     which the VMM models: the next exit the VMM gets carries
 *     VCORE_EXIT_F_APIC_EOI (whatever its reason), and the VMM's APIC
 *     model performs the EOI then, before it handles the exit - no
 *     instruction of L1 or L2 writes it;
 *  5. PIR (bits 255:0) is ORed into VIRR (offsets 200H-270H of L1's
 *     virtual-APIC page, 32 vectors per 16 bytes) and cleared: each 64-bit
 *     word of PIR is read and cleared by one locked exchange, so a bit L1
 *     posts from another vCPU meanwhile is either taken here or left for
 *     the next notification, never lost;
 *  6. RVI := max(RVI, highest PIR bit set), unchanged when PIR was 0;
 *  7. pending virtual interrupts are evaluated: vmcs02 has L1's
 *     virtual-interrupt delivery (which the control requires) and the new
 *     RVI, so the processor evaluates them at the VM entry that follows
 *     (VM entry is one of the evaluation's triggers) and delivers the
 *     interrupt through L2's IDT, with no exit to L1.
 * The descriptor and VIRR are L1 memory, written where the VM's memory
 * map keeps it (the locked operations need the memory itself; the
 * descriptor is the one structure the SDM lets other agents modify while
 * L2 runs). Both must be writable memory: the SDM defines no fault for a
 * descriptor that is not memory, and KVM ends the run with an internal
 * error to its VMM (its "vmx_pi_mmio_test"); here the run returns
 * VCORE_ERR_UNSUPPORTED with NVMX_PI_DESC_UNBACKED, the interrupt still
 * pending and nothing changed (at L1's VM entry the entry completes
 * first). vmcs02's guest interrupt status is written
 * before VIRR: should that write fail, what was taken from the descriptor
 * is posted back and the interrupt stays pending.
 *
 * At VM entry the processor does not read the descriptor: posted-interrupt
 * processing is invoked by the notification interrupt alone ("Posted-
 * Interrupt Processing"), and VM entry evaluates pending virtual interrupts
 * from RVI only. An ON bit set when L1 enters L2 therefore stays set until
 * a notification arrives; what the processor does at entry - and so the
 * library - is take a notification that is still pending (L1 entered with
 * RFLAGS.IF = 0): external-interrupt exiting makes it recognized as soon as
 * L2 is entered, which processes it before L2's first instruction. It is
 * processed just before vmcs02 is entered, after every check of the
 * library; should the processor itself still fail that entry (which the
 * checks exist to rule out), everything the processing did is undone
 * (vcore__vcpu_nested_pi_undo()): L1's processor would have left the
 * notification pending.
 *
 * Nothing of this needs the processor's own posted interrupts, so L1 is
 * offered the control whenever virtual-interrupt delivery is offered
 * (vcore__nvmx_caps_l0_only()).
 */
#include "vcpu_nested.h"

/* The posted-interrupt descriptor ("Posted-Interrupt Descriptor"): 64
 * bytes, PIR in 64-bit words 0-3, ON bit 0 of word 4 (bit 256). */
#define PI_DESC_LEN 64u
#define PI_ON_WORD 4u
#define PI_ON 1ull
/* VIRR: eight 32-bit registers from 200H, 16 bytes apart ("Virtual
 * Interrupt Request Register"). */
#define PI_VIRR 0x200u

/* Writable memory of the VM's map holding all of [gpa, gpa + len), or
 * NULL. */
static uint8_t *vcore__vcpu_nested_pi_mem(const vcore_vcpu_t *vcpu, uint64_t gpa, uint64_t len)
{
    const vcore_mem_region_t *r = vcore__vm_region_at(vcpu->vm, gpa);
    if (!r || (r->flags & VCORE_MEM_READONLY) || gpa - r->gpa + len > r->len)
        return NULL;
    return (uint8_t *)r->hva + (gpa - r->gpa);
}

/* The highest vector set in pir[4], or -1. */
static int vcore__vcpu_nested_pi_highest(const uint64_t pir[4])
{
    for (int i = 3; i >= 0; i--)
        if (pir[i])
            return i * 64 + 63 - __builtin_clzll(pir[i]);
    return -1;
}

/* Steps 3-6, then step 1's acknowledgment. Without the memory: with
 * `report`, NVMX_PI_DESC_UNBACKED; else nothing (the notification stays
 * pending). With `undo`, what it takes and changes is recorded there. */
static int vcore__vcpu_nested_pi_steps(vcore_vcpu_t *vcpu, bool report, vcore__nested_pi_undo_t *undo)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint64_t desc_gpa = v->POSTED_INTR_DESC_ADDR, vapic_gpa = v->VIRTUAL_APIC_PAGE_ADDR;
    uint8_t *desc = vcore__vcpu_nested_pi_mem(vcpu, desc_gpa, PI_DESC_LEN);
    uint8_t *vapic = desc ? vcore__vcpu_nested_pi_mem(vcpu, vapic_gpa, VCORE_PAGE_SIZE) : NULL;
    if (!vapic) {
        if (!report)
            return VCORE_OK;
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NVMX_PI_DESC_UNBACKED, desc ? vapic_gpa : desc_gpa);
        return VCORE_ERR_UNSUPPORTED;
    }
    /* 64-byte aligned (a VM-entry check) in 4-KByte aligned memory. */
    uint64_t *w = (uint64_t *)(void *)desc;
    /* Step 3. */
    uint64_t on = __atomic_fetch_and(&w[PI_ON_WORD], ~PI_ON, __ATOMIC_SEQ_CST) & PI_ON;
    /* Step 5: read and clear, one locked exchange a word. */
    uint64_t pir[4];
    for (uint32_t i = 0; i < 4; i++)
        pir[i] = __atomic_exchange_n(&w[i], 0ull, __ATOMIC_SEQ_CST);
    /* Step 6 (guest interrupt status: RVI bits 7:0, SVI bits 15:8). */
    int hi = vcore__vcpu_nested_pi_highest(pir);
    uint16_t gis = v->GUEST_INTR_STATUS;
    if (hi > (int)(gis & 0xffu)) {
        uint16_t ngis = (uint16_t)((gis & 0xff00u) | (uint32_t)hi);
        int err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_INTR_STATUS, ngis);
        if (err) {
            /* Nothing half-done: post back what was taken. */
            for (uint32_t i = 0; i < 4; i++)
                (void)__atomic_fetch_or(&w[i], pir[i], __ATOMIC_SEQ_CST);
            (void)__atomic_fetch_or(&w[PI_ON_WORD], on, __ATOMIC_SEQ_CST);
            return err;
        }
        v->GUEST_INTR_STATUS = ngis;
        vcore__nvmx_changed_id(nv, VCORE__ROW_GUEST_INTR_STATUS);
    }
    /* Step 5: VIRR |= PIR. */
    uint32_t added[8];
    for (uint32_t k = 0; k < 8; k++) {
        uint32_t bits = (uint32_t)(pir[k / 2] >> (32u * (k & 1u))), irr;
        added[k] = 0;
        if (!bits)
            continue;
        vcore__memcpy(&irr, vapic + PI_VIRR + 16u * k, 4);
        added[k] = bits & ~irr;
        irr |= bits;
        vcore__memcpy(vapic + PI_VIRR + 16u * k, &irr, 4);
    }
    if (undo) {
        undo->taken = true;
        undo->on = on;
        undo->gis = gis;
        vcore__memcpy(undo->pir, pir, sizeof(pir));
        vcore__memcpy(undo->added, added, sizeof(added));
    }
    /* Step 1: consumed; step 4's EOI reaches the VMM's local APIC with the
     * next exit. */
    vcore__vcpu_events_acked(vcpu);
    vcpu->exit_flags_owed |= VCORE_EXIT_F_APIC_EOI;
    return VCORE_OK;
}

int vcore__vcpu_nested_pi_process(vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_nested_pi_steps(vcpu, true, NULL);
}

bool vcore__vcpu_nested_pi_notification(vcore_vcpu_t *vcpu)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    return (v->PIN_BASED_VM_EXEC_CONTROL & VCORE__PIN_POSTED_INTR) &&
           vcpu->x86->st.events.interrupt_vector == v->POSTED_INTR_NV;
}

int vcore__vcpu_nested_pi_entry(vcore_vcpu_t *vcpu, vcore__nested_pi_undo_t *undo)
{
    const vcore_x86_events_t *ev = &vcpu->x86->st.events;
    /* Pin-based control 0 (which virtual-interrupt delivery, required by
     * the control, requires): RFLAGS.IF does not block the interrupt, STI
     * and MOV-SS blocking of L2's interruptibility state do ("Event
     * Blocking"). */
    if (!(vcpu->valid & VCORE_X86_STATE_EVENTS) || !ev->interrupt_pending || !vcore__vcpu_nested_pi_notification(vcpu) ||
        (vcore__vcpu_nested_v12(vcpu)->GUEST_INTERRUPTIBILITY_INFO & 3u))
        return VCORE_OK;
    /* Without the memory the entry completes and the notification stays
     * pending: the run reports it before L2 runs again, L2's state then
     * whole (as KVM, whose entry maps the descriptor but fails only the
     * notification). */
    return vcore__vcpu_nested_pi_steps(vcpu, false, undo);
}

/* The processor failed L1's VM entry after the processing: L2 was never
 * entered, so the notification was never recognized ("VM-Entry Failures
 * During or After Loading Guest State", "Posted-Interrupt Processing" is
 * invoked by a recognized interrupt). Everything goes back: what was taken
 * from PIR and ON is ORed back in (the locked operations; bits L1 posted
 * meanwhile stay), the VIRR bits the processing set are cleared, vmcs12's
 * guest interrupt status is restored, the interrupt is pending again and
 * no EOI is owed to the VMM. */
void vcore__vcpu_nested_pi_undo(vcore_vcpu_t *vcpu, const vcore__nested_pi_undo_t *undo)
{
    if (!undo->taken)
        return;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint8_t *desc = vcore__vcpu_nested_pi_mem(vcpu, v->POSTED_INTR_DESC_ADDR, PI_DESC_LEN);
    uint8_t *vapic = vcore__vcpu_nested_pi_mem(vcpu, v->VIRTUAL_APIC_PAGE_ADDR, VCORE_PAGE_SIZE);
    if (desc) {
        uint64_t *w = (uint64_t *)(void *)desc;
        for (uint32_t i = 0; i < 4; i++)
            (void)__atomic_fetch_or(&w[i], undo->pir[i], __ATOMIC_SEQ_CST);
        (void)__atomic_fetch_or(&w[PI_ON_WORD], undo->on, __ATOMIC_SEQ_CST);
    }
    for (uint32_t k = 0; vapic && k < 8; k++) {
        uint32_t irr;
        vcore__memcpy(&irr, vapic + PI_VIRR + 16u * k, 4);
        irr &= ~undo->added[k];
        vcore__memcpy(vapic + PI_VIRR + 16u * k, &irr, 4);
    }
    if (v->GUEST_INTR_STATUS != undo->gis) {
        v->GUEST_INTR_STATUS = undo->gis;
        vcore__nvmx_changed_id(vcpu->nvmx, VCORE__ROW_GUEST_INTR_STATUS);
    }
    vcore__vcpu_events_unacked(vcpu);
    vcpu->exit_flags_owed &= ~VCORE_EXIT_F_APIC_EOI;
}
