/*
 * hv_ipi.c - HvCallSendSyntheticClusterIpi (0x000b) and its Ex form
 * (0x0015): "sends a virtual fixed interrupt to the specified virtual
 * processor set. It does not support NMIs." (TLFS).
 *
 * Input (TLFS): Vector 0:4 (10H-FFH), TargetVtl 4:1 (HV_INPUT_VTL), padding
 * 5:3 (ignored, "Hypercall Interface"), then ProcessorMask 8:8, or for Ex
 * an HV_VP_SET at 8.
 *
 * Delivery is asynchronous, like an IPI: the vector is set in each
 * target's pending bitmap (atomically: the target may run on another
 * thread) and a target in guest mode is kicked; each target moves its
 * highest pending vector into its own event state before it enters
 * (vcore__hv_ipi_drain), one per entry, with the interrupt window open
 * while more wait - the model of a local APIC's IRR without an ISR.
 */
#include "hv.h"

/* HV_INPUT_VTL (TLFS, "HV_INPUT_VTL"): TargetVtl 3:0, UseTargetVtl 4, RsvdZ 7:5. */
#define VCORE__HV_VTL_TARGET 0x0fu
#define VCORE__HV_VTL_USE 0x10u
#define VCORE__HV_VTL_RSVD 0xe0u

static uint32_t vcore__hv_ipi_check(vcore_vcpu_t *vcpu, uint64_t w0)
{
    uint32_t vector = (uint32_t)w0;
    uint32_t vtl = (uint32_t)(w0 >> 32) & 0xffu;
    if (vector < 0x10u || vector > 0xffu)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_IPI_VECTOR, vector,
                                VCORE_HV_STATUS_INVALID_PARAMETER);
    /* Only VTL 0 exists (the library offers no Virtual Secure Mode). */
    if ((vtl & VCORE__HV_VTL_RSVD) || ((vtl & VCORE__HV_VTL_USE) && (vtl & VCORE__HV_VTL_TARGET)))
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_IPI_VTL, vtl, VCORE_HV_STATUS_INVALID_PARAMETER);
    return VCORE_HV_STATUS_SUCCESS;
}

uint32_t vcore__hv_ipi(vcore_vcpu_t *vcpu, vcore__hv_input_t *in)
{
    bool ex = in->code == VCORE_HV_CALL_SEND_SYNTHETIC_CLUSTER_IPI_EX;
    if (!ex && in->var_size)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_VAR_HEADER, in->var_size,
                                VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT);
    uint32_t st = vcore__hv_input_prepare(vcpu, in, ex ? 24u : 16u);
    if (st)
        return st;
    uint64_t w[2];
    st = vcore__hv_input_read(vcpu, in, 0, w, ex ? 1u : 2u);
    if (!st)
        st = vcore__hv_ipi_check(vcpu, w[0]);
    if (st)
        return st;
    vcore_hv_call_t call;
    vcore__memset(&call, 0, sizeof(call));
    if (ex) {
        st = vcore__hv_vpset_read(vcpu, in, 8, call.targets);
        if (st)
            return st;
    } else {
        vcore__hv_mask_targets(vcpu->vm, w[1], call.targets);
    }
    call.kind = VCORE_HV_KIND_IPI;
    call.code = in->code;
    call.vector = (uint32_t)w[0];
    int v = vcore__hv_hook(vcpu, &call, &st);
    if (v == VCORE_HV_REFUSE)
        return st;
    if (v == VCORE_HV_DONE)
        return VCORE_HV_STATUS_SUCCESS;
    vcore_vm_t *vm = vcpu->vm;
    vcore__hv_t *hv = vm->hv;
    /* The vector checked above, not the hook's copy: only call.status is
     * the hook's output, and the vector indexes the pending bitmap. */
    uint32_t vector = (uint32_t)w[0];
    for (uint32_t wd = 0; wd < VCORE_HV_TARGET_WORDS; wd++) {
        for (uint64_t bits = call.targets[wd]; bits; bits &= bits - 1) {
            uint32_t id = wd * 64u + (uint32_t)__builtin_ctzll(bits);
            vcore_vcpu_t *t = id < hv->nslots ? vm->vcpus[id] : NULL;
            if (!t)
                continue;
            vcore__hv_vcpu_t *s = &hv->vcpu[id];
            __atomic_or_fetch(&s->pending[vector / 64u], 1ull << (vector % 64u), __ATOMIC_SEQ_CST);
            if (t != vcpu)
                (void)vcore__hv_kick(t, s);
        }
    }
    return VCORE_HV_STATUS_SUCCESS;
}

int vcore_hv_pending_vectors(const vcore_vcpu_t *vcpu, uint64_t out[4])
{
    if (!vcore__vcpu_ok(vcpu) || !out || !vcpu->vm->hv)
        return VCORE_ERR_INVAL;
    const vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    for (int i = 0; i < 4; i++)
        out[i] = __atomic_load_n(&s->pending[i], __ATOMIC_SEQ_CST);
    return VCORE_OK;
}

int vcore__hv_ipi_drain(vcore_vcpu_t *vcpu)
{
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    int top = -1;
    for (int w = 3; w >= 0 && top < 0; w--) {
        uint64_t v = __atomic_load_n(&s->pending[w], __ATOMIC_SEQ_CST);
        if (v)
            top = w * 64 + 63 - __builtin_clzll(v);
    }
    if (top < 0)
        return VCORE_OK;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_EVENTS);
    if (err)
        return err;
    const vcore_x86_events_t *e = &vcpu->x86->st.events;
    /* One external interrupt at a time in the event state; the others wait
     * for the next window (SDM Vol. 3, "Interrupt-Window Exiting"). */
    if (!e->interrupt_pending && !e->interrupt_injected) {
        uint32_t w = (uint32_t)top / 64u;
        __atomic_and_fetch(&s->pending[w], ~(1ull << ((uint32_t)top % 64u)), __ATOMIC_SEQ_CST);
        err = vcore_vcpu_inject_interrupt(vcpu, (uint8_t)top);
        if (err)
            return err;
    }
    for (int w = 0; w < 4; w++) {
        if (__atomic_load_n(&s->pending[w], __ATOMIC_SEQ_CST)) {
            vcore__vcpu_events_want_irq_window(vcpu);
            break;
        }
    }
    return VCORE_OK;
}
