/*
 * s2_addr.c - 52-bit address encodings of stage 2: output addresses in
 * descriptors, VTTBR_EL2.BADDR, and fault IPAs from HPFAR_EL2 and PAR_EL1.
 *
 * Descriptor formats (Arm ARM D8, VMSAv8-64 descriptor formats): with a
 * 48-bit output address the address sits in bits[47:granule]. The 64KB
 * granule with FEAT_LPA and a 52-bit output size puts OA[51:48] in
 * bits[15:12]. FEAT_LPA2 (VTCR_EL2.DS = 1, 4KB/16KB) uses bits[49:granule]
 * and puts OA[51:50] in bits[9:8], where shareability used to be.
 */
#include "arm64.h"

uint64_t vcore_arm64_s2_oa_to_desc(const vcore_arm64_s2_geom_t *g, uint64_t oa)
{
    uint32_t gs = g->granule_shift;
    if (g->ds)
        return (oa & VCORE__A64_GENMASK(49, gs)) |
               (((oa >> 50) & 3u) << VCORE__S2D_LPA2_OA_SHIFT);
    if (g->lpa)
        return (oa & VCORE__A64_GENMASK(47, 16)) |
               (((oa >> 48) & 0xfu) << VCORE__S2D_LPA_OA_SHIFT);
    return oa & VCORE__A64_GENMASK(47, gs);
}

uint64_t vcore_arm64_s2_desc_to_oa(const vcore_arm64_s2_geom_t *g, uint64_t desc, int32_t level)
{
    uint64_t oa;
    uint32_t gs = g->granule_shift;
    if (g->ds)
        oa = (desc & VCORE__A64_GENMASK(49, gs)) |
             (((desc >> VCORE__S2D_LPA2_OA_SHIFT) & 3u) << 50);
    else if (g->lpa)
        oa = (desc & VCORE__A64_GENMASK(47, 16)) |
             (((desc >> VCORE__S2D_LPA_OA_SHIFT) & 0xfu) << 48);
    else
        oa = desc & VCORE__A64_GENMASK(47, gs);
    /* A block's address bits below its size are RES0: not part of the OA. */
    if (vcore__arm64_s2_is_leaf(desc, level) && level < 3)
        oa &= ~((1ull << vcore__arm64_s2_level_shift(g, level)) - 1u);
    return oa;
}

int vcore_arm64_s2_vttbr(const vcore_arm64_s2_geom_t *g, uint64_t root_pa, uint32_t vmid,
                         bool cnp, uint64_t *vttbr, vcore_diag_t *diag)
{
    if (!g || !vttbr)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(g))
        return VCORE_ERR_ABI;
    /* BADDR holds A[pa_bits-1:x]; A[x-1:0] are zero (Arm ARM, "VTTBR_EL2"). */
    if ((root_pa & ((1ull << g->baddr_align_shift) - 1u)) != 0 ||
        (g->pa_bits < 64 && (root_pa >> g->pa_bits) != 0))
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_BADDR_INVALID, root_pa);
    if (g->vmid_bits < 32 && (vmid >> g->vmid_bits) != 0)
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_VMID_WIDTH, vmid);
    uint64_t v;
    if (g->pa_bits == 52)
        /* 52-bit output: BADDR[47:6] in place, BADDR[51:48] in bits[5:2]. */
        v = (root_pa & VCORE__A64_GENMASK(47, 6)) |
            (((root_pa >> 48) & 0xfu) << VCORE__VTTBR_BADDR_HI_SHIFT);
    else
        v = root_pa & VCORE__A64_GENMASK(47, 1);
    v |= (uint64_t)vmid << VCORE__VTTBR_VMID_SHIFT; /* VMID */
    if (cnp)
        v |= VCORE__VTTBR_CNP;                      /* CnP */
    *vttbr = v;
    return VCORE_OK;
}

uint64_t vcore_arm64_hpfar_to_ipa(uint64_t hpfar, uint64_t far)
{
    /* FIPA[43:4] holds IPA[51:12] (bits[43:40] RES0 without 52-bit IPAs). */
    uint64_t fipa = VCORE__A64_FIELD(hpfar, VCORE__HPFAR_FIPA_SHIFT, VCORE__HPFAR_FIPA_WIDTH);
    return (fipa << 12) | (far & 0xfffu);
}

int vcore_arm64_par_to_ipa(uint64_t par, uint64_t far, uint64_t *ipa)
{
    if (!ipa)
        return VCORE_ERR_INVAL;
    if (par & VCORE__PAR_F)
        return VCORE_ERR_FAULT;
    *ipa = (par & VCORE__PAR_PA_MASK) | (far & 0xfffu);
    return VCORE_OK;
}
