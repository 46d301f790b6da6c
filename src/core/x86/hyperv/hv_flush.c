/*
 * hv_flush.c - HvCallFlushVirtualAddressSpace (0x0002), ...List (0x0003,
 * rep) and their Ex forms (0x0013, 0x0014) (TLFS, "Virtual MMU").
 *
 * Input: AddressSpace 0:8, Flags 8:8, then ProcessorMask 16:8 or (Ex) an
 * HV_VP_SET at 16; the List calls follow the header (fixed + variable)
 * with one GVA range per rep: bits 63:12 the page, bits 11:0 the number of
 * additional pages. Flags: ALL_PROCESSORS ignores the mask/set,
 * ALL_VIRTUAL_ADDRESS_SPACES ignores AddressSpace, NON_GLOBAL_MAPPINGS_ONLY
 * may keep global entries (an invalid option for the List calls); "All
 * other flags are reserved and must be set to zero."
 *
 * Each target gets a request under its small lock: the ranges (up to
 * VCORE__HV_FLUSH_SLOTS pending, more become a full flush) or a full flush,
 * and a ticket. The target performs it before its next entry
 * (vcore__hv_flush_perform). The backend cannot flush by address space, so
 * AddressSpace widens to every address space; flushing more is allowed.
 * "This call guarantees that by the time control returns back to the
 * caller, the observable effects of all flushes on the specified virtual
 * processors have occurred": the caller kicks every target in guest mode
 * and waits until each one has left guest mode or performed its flush.
 */
#include "hv.h"

#define VCORE__HV_FLUSH_FLAGS_KNOWN                                                   \
    (VCORE_HV_FLUSH_ALL_PROCESSORS | VCORE_HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES |          \
     VCORE_HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY)

static void vcore__hv_lock(uint32_t *l)
{
    while (__atomic_exchange_n(l, 1u, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(l, __ATOMIC_RELAXED))
            ;
}

static void vcore__hv_unlock(uint32_t *l)
{
    __atomic_store_n(l, 0u, __ATOMIC_RELEASE);
}

/* Adds a request to a target: kind bits, and the ranges for a list. */
static void vcore__hv_flush_request(vcore__hv_vcpu_t *s, uint32_t kind, const uint64_t *ranges,
                                    uint32_t n)
{
    vcore__hv_lock(&s->flush_lock);
    if (kind == VCORE__HV_FLUSH_REQ_LIST && s->nranges + n > VCORE__HV_FLUSH_SLOTS)
        kind = VCORE__HV_FLUSH_REQ_ALL; /* no room: everything goes */
    if (kind == VCORE__HV_FLUSH_REQ_LIST) {
        for (uint32_t i = 0; i < n; i++)
            s->ranges[s->nranges + i] = ranges[i];
        s->nranges += n;
    }
    s->flush_kind |= kind;
    __atomic_add_fetch(&s->flush_req, 1u, __ATOMIC_SEQ_CST);
    vcore__hv_unlock(&s->flush_lock);
}

/* The target has flushed every request made so far, or is outside guest
 * mode (it flushes before it enters again). */
static bool vcore__hv_flush_settled(vcore__hv_vcpu_t *s)
{
    uint32_t req = __atomic_load_n(&s->flush_req, __ATOMIC_SEQ_CST);
    uint32_t done = __atomic_load_n(&s->flush_done, __ATOMIC_SEQ_CST);
    return !__atomic_load_n(&s->in_guest, __ATOMIC_SEQ_CST) || (int32_t)(done - req) >= 0;
}

uint32_t vcore__hv_flush(vcore_vcpu_t *vcpu, vcore__hv_input_t *in)
{
    bool ex = in->code == VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX ||
              in->code == VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX;
    bool list = in->code == VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_LIST ||
                in->code == VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX;
    if (!ex && in->var_size)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_VAR_HEADER, in->var_size,
                                VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT);
    uint32_t fixed = ex ? 32u : 24u;
    uint32_t st = vcore__hv_input_prepare(vcpu, in, fixed);
    if (st)
        return st;
    uint64_t hdr[3]; /* AddressSpace, Flags, ProcessorMask (non-Ex) */
    st = vcore__hv_input_read(vcpu, in, 0, hdr, ex ? 2u : 3u);
    if (st)
        return st;
    uint64_t flags = hdr[1];
    if ((flags & ~(uint64_t)VCORE__HV_FLUSH_FLAGS_KNOWN) ||
        (list && (flags & VCORE_HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY)))
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_FLUSH_FLAGS, flags,
                                VCORE_HV_STATUS_INVALID_PARAMETER);
    vcore_hv_call_t call;
    vcore__memset(&call, 0, sizeof(call));
    if (flags & VCORE_HV_FLUSH_ALL_PROCESSORS)
        vcore__hv_all_targets(vcpu->vm, call.targets);
    else if (ex)
        st = vcore__hv_vpset_read(vcpu, in, 16, call.targets);
    else
        vcore__hv_mask_targets(vcpu->vm, hdr[2], call.targets);
    if (st)
        return st;
    /* The GVA ranges of this invocation: reps rep_start .. rep_count - 1. */
    uint32_t n = list ? in->rep_count - in->rep_start : 0;
    uint64_t ranges[VCORE__HV_FLUSH_SLOTS];
    uint32_t kind = (flags & VCORE_HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY) ? VCORE__HV_FLUSH_REQ_NON_GLOBAL
                                                                       : VCORE__HV_FLUSH_REQ_ALL;
    if (list && n <= VCORE__HV_FLUSH_SLOTS) {
        st = vcore__hv_input_read(vcpu, in, fixed + 8u * (in->var_size + in->rep_start), ranges, n);
        if (st)
            return st;
        kind = VCORE__HV_FLUSH_REQ_LIST;
    }
    call.kind = VCORE_HV_KIND_FLUSH;
    call.code = in->code;
    call.flags = flags;
    call.address_space = hdr[0];
    call.rep_count = n;
    int v = vcore__hv_hook(vcpu, &call, &st);
    if (v == VCORE_HV_REFUSE)
        return st;
    if (v == VCORE_HV_DONE)
        return VCORE_HV_STATUS_SUCCESS;
    vcore_vm_t *vm = vcpu->vm;
    vcore__hv_t *hv = vm->hv;
    uint64_t kicked[VCORE_HV_TARGET_WORDS] = {0};
    for (uint32_t w = 0; w < VCORE_HV_TARGET_WORDS; w++) {
        for (uint64_t bits = call.targets[w]; bits; bits &= bits - 1) {
            uint32_t id = w * 64u + (uint32_t)__builtin_ctzll(bits);
            vcore_vcpu_t *t = id < hv->nslots ? vm->vcpus[id] : NULL;
            if (!t)
                continue;
            vcore__hv_vcpu_t *s = &hv->vcpu[id];
            vcore__hv_flush_request(s, kind, ranges, n);
            if (t != vcpu && vcore__hv_kick(t, s))
                kicked[w] |= 1ull << (id % 64u);
        }
    }
    for (uint32_t w = 0; w < VCORE_HV_TARGET_WORDS; w++)
        for (uint64_t bits = kicked[w]; bits; bits &= bits - 1)
            while (!vcore__hv_flush_settled(&hv->vcpu[w * 64u + (uint32_t)__builtin_ctzll(bits)]))
                ;
    return VCORE_HV_STATUS_SUCCESS;
}

int vcore__hv_flush_perform(vcore_vcpu_t *vcpu)
{
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    uint32_t req = __atomic_load_n(&s->flush_req, __ATOMIC_SEQ_CST);
    if (req == __atomic_load_n(&s->flush_done, __ATOMIC_SEQ_CST))
        return VCORE_OK;
    uint64_t ranges[VCORE__HV_FLUSH_SLOTS];
    vcore__hv_lock(&s->flush_lock);
    req = __atomic_load_n(&s->flush_req, __ATOMIC_SEQ_CST);
    uint32_t kind = s->flush_kind, n = s->nranges;
    for (uint32_t i = 0; i < n; i++)
        ranges[i] = s->ranges[i];
    s->flush_kind = 0;
    s->nranges = 0;
    vcore__hv_unlock(&s->flush_lock);
    vcore_tlb_flush_t f = {VCORE_TLB_FLUSH_ALL, 0, NULL};
    /* A non-global flush does not cover listed pages that may be global. */
    if (kind == VCORE__HV_FLUSH_REQ_NON_GLOBAL)
        f.kind = VCORE_TLB_FLUSH_NON_GLOBAL;
    else if (kind == VCORE__HV_FLUSH_REQ_LIST) {
        f.kind = VCORE_TLB_FLUSH_LIST;
        f.count = n;
        f.ranges = ranges;
    }
    if (kind) {
        int err = vcpu->vm->ops.vcpu_flush_tlb(vcpu, vcpu->priv, &f);
        if (err) {
            /* Not done: it stays pending, as a full flush. */
            vcore__hv_lock(&s->flush_lock);
            s->flush_kind |= VCORE__HV_FLUSH_REQ_ALL;
            vcore__hv_unlock(&s->flush_lock);
            return err < 0 ? err : VCORE_ERR_HWFAIL;
        }
    }
    __atomic_store_n(&s->flush_done, req, __ATOMIC_SEQ_CST);
    return VCORE_OK;
}
