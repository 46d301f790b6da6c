/*
 * s2_desc.c - composing and reading stage-2 block, page and table
 * descriptors (Arm ARM D8, VMSAv8-64 descriptor formats, stage 2 attribute
 * fields), with HCR_EL2.FWB = 0.
 */
#include "arm64.h"

#define VCORE__S2_PROT_ALL (VCORE_ARM64_S2_RWX | VCORE_ARM64_S2_DEVICE)

int vcore__arm64_s2_prot_check(const vcore_arm64_s2_geom_t *g, uint32_t prot, vcore_diag_t *d)
{
    if (prot & ~VCORE__S2_PROT_ALL)
        return vcore__diag_set(d, VCORE_DIAG_ARM64_S2_MAP_PROT_INVALID, prot);
    /* Without FEAT_XNX, bit 53 is RES0 and XN (bit 54) covers EL1 and EL0 alike. */
    uint32_t x = prot & VCORE_ARM64_S2_X;
    if (!g->xnx && x != 0 && x != VCORE_ARM64_S2_X)
        return vcore__diag_set(d, VCORE_DIAG_ARM64_S2_MAP_XN_PER_EL, prot);
    return VCORE_OK;
}

/* XN[1:0] for the execute permissions asked for. */
static uint64_t vcore__s2_xn(uint32_t prot)
{
    switch (prot & VCORE_ARM64_S2_X) {
    case VCORE_ARM64_S2_X: return VCORE__S2D_XN_ALLOW;
    case VCORE_ARM64_S2_X_EL1: return VCORE__S2D_XN_EL0_BLOCKED;
    case VCORE_ARM64_S2_X_EL0: return VCORE__S2D_XN_EL1_ONLY_BLOCKED;
    default: return VCORE__S2D_XN_NONE;
    }
}

uint64_t vcore__arm64_s2_leaf(const vcore_arm64_s2_geom_t *g, int32_t level, uint64_t oa,
                              uint32_t prot)
{
    uint64_t d = VCORE__S2D_VALID;
    if (level == 3)
        d |= VCORE__S2D_TABLE; /* bits[1:0] = 0b11: page; 0b01 at levels < 3: block */
    uint64_t attr = (prot & VCORE_ARM64_S2_DEVICE) ? VCORE__S2D_MEMATTR_DEVICE_NGNRE
                                                   : VCORE__S2D_MEMATTR_NORMAL_WB;
    d |= attr << VCORE__S2D_MEMATTR_SHIFT;              /* MemAttr */
    if (prot & VCORE_ARM64_S2_R)
        d |= VCORE__S2D_S2AP_R;                         /* S2AP[0] */
    if (prot & VCORE_ARM64_S2_W)
        d |= VCORE__S2D_S2AP_W;                         /* S2AP[1] */
    if (!g->ds)
        d |= VCORE__S2D_SH_INNER << VCORE__S2D_SH_SHIFT; /* SH: Inner Shareable (DS = 1: from VTCR_EL2.SH0) */
    d |= VCORE__S2D_AF;                                 /* AF set: no Access flag faults */
    d |= vcore__s2_xn(prot) << VCORE__S2D_XN_SHIFT;     /* XN[1:0] */
    d |= vcore_arm64_s2_oa_to_desc(g, oa);              /* output address */
    return d;
}

uint64_t vcore__arm64_s2_table_desc(const vcore_arm64_s2_geom_t *g, uint64_t pa)
{
    /* Stage-2 table descriptors carry no attributes: valid, table, address. */
    return VCORE__S2D_VALID | VCORE__S2D_TABLE | vcore_arm64_s2_oa_to_desc(g, pa);
}

uint32_t vcore__arm64_s2_leaf_prot(const vcore_arm64_s2_geom_t *g, uint64_t desc)
{
    uint32_t prot = 0;
    if (desc & VCORE__S2D_S2AP_R)
        prot |= VCORE_ARM64_S2_R;
    if (desc & VCORE__S2D_S2AP_W)
        prot |= VCORE_ARM64_S2_W;
    uint64_t xn = (desc >> VCORE__S2D_XN_SHIFT) & 3u;
    if (!g->xnx)
        xn &= 2u; /* bit 53 RES0: only XN[1] counts */
    switch (xn) {
    case VCORE__S2D_XN_ALLOW: prot |= VCORE_ARM64_S2_X; break;
    case VCORE__S2D_XN_EL1_ONLY_BLOCKED: prot |= VCORE_ARM64_S2_X_EL0; break;
    case VCORE__S2D_XN_EL0_BLOCKED: prot |= VCORE_ARM64_S2_X_EL1; break;
    default: break;
    }
    /* MemAttr[3:2] = 0b00 is Device memory. */
    if (((desc >> VCORE__S2D_MEMATTR_SHIFT) & 0xcu) == 0)
        prot |= VCORE_ARM64_S2_DEVICE;
    return prot;
}
