/*
 * hv_vpindex.c - VP indexes (TLFS, "Virtual Processor Properties",
 * "HV_VP_INDEX") and the mapping of processor masks and sparse VP sets onto
 * vCPUs.
 *
 * Every vCPU starts with VP index = vCPU id; the VMM may renumber. The VM
 * counts the vCPUs whose index differs from their id, exactly, on every
 * change: while the count is 0 a bank of VP indexes IS a word of vCPU ids,
 * so a set is copied, not searched. Otherwise each vCPU's index is looked
 * up in the set (one test per vCPU).
 */
#include "hv.h"

int vcore__hv_set_vp_index(vcore_vcpu_t *vcpu, uint64_t value)
{
    vcore__hv_t *hv = vcpu->vm->hv;
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    /* HV_VP_INDEX is 32 bits; HV_ANY_VP and HV_VP_INDEX_SELF name no VP. */
    if (value >= VCORE_HV_VP_INDEX_SELF)
        return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_HV_VP_INDEX_INVALID, value);
    uint32_t neu = (uint32_t)value, old = s->vp_index, id = vcpu->id;
    if (hv->host) {
        int err = vcpu->vm->ops.vcpu_hv_vp_index(vcpu, vcpu->priv, neu);
        if (err)
            return VCORE_ERR_HWFAIL;
    }
    if (old == id && neu != id)
        hv->mismatched++;
    else if (old != id && neu == id)
        hv->mismatched--;
    s->vp_index = neu;
    return VCORE_OK;
}

void vcore__hv_all_targets(const vcore_vm_t *vm, uint64_t t[VCORE_HV_TARGET_WORDS])
{
    for (uint32_t w = 0; w < VCORE_HV_TARGET_WORDS; w++)
        t[w] = vm->hv->exists[w];
}

void vcore__hv_mask_targets(const vcore_vm_t *vm, uint64_t mask, uint64_t t[VCORE_HV_TARGET_WORDS])
{
    const vcore__hv_t *hv = vm->hv;
    for (uint32_t w = 0; w < VCORE_HV_TARGET_WORDS; w++)
        t[w] = 0;
    if (hv->mismatched == 0) {
        t[0] = mask & hv->exists[0]; /* VP index i is vCPU i */
        return;
    }
    for (uint32_t id = 0; id < hv->nslots; id++) {
        uint32_t vp = hv->vcpu[id].vp_index;
        if (vm->vcpus[id] && vp < 64 && ((mask >> vp) & 1u))
            t[id / 64] |= 1ull << (id % 64);
    }
}

/* The bank word for VP bank b of a sparse set, 0 when the bank is absent
 * (TLFS, "HV_VP_SET": one element per set bit of ValidBanksMask, in order). */
static uint64_t vcore__hv_bank(uint64_t valid_mask, const uint64_t *banks, uint32_t b)
{
    if (!((valid_mask >> b) & 1u))
        return 0;
    uint64_t below = b ? valid_mask & ((1ull << b) - 1) : 0;
    return banks[vcore__hv_popcount(below)];
}

void vcore__hv_sparse_targets(const vcore_vm_t *vm, uint64_t valid_mask, const uint64_t *banks,
                              uint64_t t[VCORE_HV_TARGET_WORDS])
{
    const vcore__hv_t *hv = vm->hv;
    if (hv->mismatched == 0) {
        /* vCPU ids stop at VCORE_VM_MAX_VCPUS: the banks above hold no vCPU. */
        for (uint32_t w = 0; w < VCORE_HV_TARGET_WORDS; w++)
            t[w] = vcore__hv_bank(valid_mask, banks, w) & hv->exists[w];
        return;
    }
    for (uint32_t w = 0; w < VCORE_HV_TARGET_WORDS; w++)
        t[w] = 0;
    for (uint32_t id = 0; id < hv->nslots; id++) {
        uint32_t vp = hv->vcpu[id].vp_index;
        if (!vm->vcpus[id] || vp >= VCORE_HV_SPARSE_BANKS * 64u)
            continue;
        if ((vcore__hv_bank(valid_mask, banks, vp / 64) >> (vp % 64)) & 1u)
            t[id / 64] |= 1ull << (id % 64);
    }
}
