/*
 * hv_vpset.c - HV_VP_SET (TLFS, "HV_VP_SET"): format 1 names every VP of
 * the partition; format 0 a sparse set, one 64-bit bank of VP indexes per
 * set bit of ValidBanksMask, in ascending bank order. The banks are the
 * variable part of the call's header ("Variable Sized Hypercall Input
 * Headers"), so the variable header size must be the number of banks.
 */
#include "hv.h"

uint32_t vcore__hv_vpset_read(vcore_vcpu_t *vcpu, const vcore__hv_input_t *in, uint32_t off,
                              uint64_t t[VCORE_HV_TARGET_WORDS])
{
    uint64_t head[2]; /* Format, ValidBanksMask */
    uint16_t st = vcore__hv_input_read(vcpu, in, off, head, 2);
    if (st)
        return st;
    if (head[0] == VCORE_HV_VP_SET_ALL) {
        vcore__hv_all_targets(vcpu->vm, t);
        return VCORE_HV_STATUS_SUCCESS;
    }
    if (head[0] != VCORE_HV_VP_SET_SPARSE_4K)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_VP_SET_FORMAT, head[0],
                                VCORE_HV_STATUS_INVALID_PARAMETER);
    uint32_t nbanks = vcore__hv_popcount(head[1]);
    if (in->var_size != nbanks)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_VAR_HEADER, in->var_size,
                                VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT);
    uint64_t banks[VCORE_HV_SPARSE_BANKS];
    if (nbanks) {
        st = vcore__hv_input_read(vcpu, in, off + 16u, banks, nbanks);
        if (st)
            return st;
    }
    vcore__hv_sparse_targets(vcpu->vm, head[1], banks, t);
    return VCORE_HV_STATUS_SUCCESS;
}
