/*
 * s2_geometry.c - stage-2 geometry: levels, start level, concatenation,
 * VTCR_EL2, from (IPA size, granule, host ID registers, level cap).
 *
 * The rules are those of the Arm ARM pseudocode for stage 2 (D8, "The
 * AArch64 Virtual Memory System Architecture"):
 *  - AArch64.S2MinTxSZ: the IPA may not exceed the implemented PA size, and
 *    not 48 bits unless 52-bit descriptors are in use (64KB granule with
 *    FEAT_LPA, or FEAT_LPA2 with VTCR_EL2.DS = 1);
 *  - AArch64.S2InvalidSL: which start levels each granule can encode (and
 *    which need a minimum implemented PA size);
 *  - AArch64.S2InconsistentSL: a walk starting at level s resolves
 *    (3 - s) * stride + granule bits below the start level; the start level
 *    resolves at least 1 bit and at most stride + 4 bits, i.e. up to 16
 *    concatenated start-level tables.
 * Among the valid geometries the library takes the fewest levels, but at
 * least two (a single level could map no blocks at all). The walk resolving
 * the IPA always exists: 4KB level 0, 16KB level 0 and 64KB level 1 with up
 * to 16 tables cover 52 bits.
 */
#include "arm64.h"

/* PARange / VTCR_EL2.PS encodings -> bits (Arm ARM, "ID_AA64MMFR0_EL1"). */
static const uint8_t vcore__parange_bits[] = {32, 36, 40, 42, 44, 48, 52};

uint32_t vcore__arm64_s2_level_shift(const vcore_arm64_s2_geom_t *g, int32_t level)
{
    uint32_t stride = g->granule_shift - 3u;
    return (uint32_t)(3 - level) * stride + g->granule_shift;
}

/* Block descriptors exist at level 2 for every granule, at level 1 for 4KB,
 * and one level higher with 52-bit descriptors: level 0 for 4KB (DS = 1),
 * level 1 for 16KB (DS = 1) and for 64KB with FEAT_LPA (52-bit output). */
bool vcore__arm64_s2_block_ok(const vcore_arm64_s2_geom_t *g, int32_t level)
{
    int32_t first = 2;
    if (g->granule_shift == 12)
        first = g->ds ? 0 : 1;
    else if (g->granule_shift == 14)
        first = g->ds ? 1 : 2;
    else if (g->lpa)
        first = 1;
    return level >= first && level <= 3;
}

/*
 * Shallowest start level the library uses for a granule (VTCR_EL2.SL0).
 * AArch64.S2InvalidSL adds conditions to the shallow encodings: 4KB level 0
 * and 64KB level 1 need an implemented PA size of at least 44 bits, 16KB
 * level 1 at least 42, 16KB level 0 needs DS = 1. They always hold when the
 * IPA size needs that level, since the IPA is at most the implemented PA
 * size and above 48 bits only with 52-bit descriptors (DS = 1 for 16KB).
 * 4KB level -1 (SL2) is never needed: level 0 with 16 concatenated tables
 * resolves 52 bits. 64KB level 0 is reserved.
 */
static int32_t vcore__s2_top_level(uint32_t gshift)
{
    return gshift == 16 ? 1 : 0;
}

/* SL0: 4KB 0b00 = L2, 0b01 = L1, 0b10 = L0; 16KB/64KB 0b01 = L2, 0b10 = L1, 0b11 = L0. */
static uint32_t vcore__s2_sl0(uint32_t gshift, int32_t s)
{
    return gshift == 12 ? (uint32_t)(2 - s) : (uint32_t)(3 - s);
}

/* Stage-2 support of a granule from ID_AA64MMFR0_EL1: 0 none, 1 yes, 2 yes with LPA2. */
static uint32_t vcore__s2_granule_support(uint64_t mmfr0, uint32_t gshift)
{
    uint32_t s2, s1;
    switch (gshift) {
    case 12:
        s2 = (uint32_t)VCORE__A64_FIELD(mmfr0, VCORE__MMFR0_TGRAN4_2_SHIFT, 4);
        s1 = (uint32_t)VCORE__A64_FIELD(mmfr0, VCORE__MMFR0_TGRAN4_SHIFT, 4);
        /* TGran4: 0b0000 IMP, 0b0001 IMP with 52-bit, 0b1111 NI. */
        s1 = s1 == 0 ? 1u : s1 == 1 ? 2u : 0u;
        break;
    case 14:
        s2 = (uint32_t)VCORE__A64_FIELD(mmfr0, VCORE__MMFR0_TGRAN16_2_SHIFT, 4);
        s1 = (uint32_t)VCORE__A64_FIELD(mmfr0, VCORE__MMFR0_TGRAN16_SHIFT, 4);
        /* TGran16: 0b0000 NI, 0b0001 IMP, 0b0010 IMP with 52-bit. */
        s1 = s1 == 1 ? 1u : s1 == 2 ? 2u : 0u;
        break;
    default:
        s2 = (uint32_t)VCORE__A64_FIELD(mmfr0, VCORE__MMFR0_TGRAN64_2_SHIFT, 4);
        s1 = (uint32_t)VCORE__A64_FIELD(mmfr0, VCORE__MMFR0_TGRAN64_SHIFT, 4);
        /* TGran64: 0b0000 IMP, 0b1111 NI. */
        s1 = s1 == 0 ? 1u : 0u;
        /* The 52-bit stage-2 value exists for 4KB and 16KB only. */
        if (s2 == VCORE__TGRAN_2_LPA2)
            s2 = VCORE__TGRAN_2_NI;
        break;
    }
    switch (s2) {
    case VCORE__TGRAN_2_AS_STAGE1:
        return s1;
    case VCORE__TGRAN_2_IMP:
        return 1;
    case VCORE__TGRAN_2_LPA2:
        return 2;
    default: /* NI, or a reserved value */
        return 0;
    }
}

int vcore_arm64_s2_geometry(const vcore_arm64_s2_config_t *cfg, vcore_arm64_s2_geom_t *out,
                            vcore_diag_t *diag)
{
    if (!cfg || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(cfg) || !VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;

    uint32_t gshift;
    switch (cfg->granule) {
    case VCORE_ARM64_GRANULE_4K: gshift = 12; break;
    case VCORE_ARM64_GRANULE_16K: gshift = 14; break;
    case VCORE_ARM64_GRANULE_64K: gshift = 16; break;
    default:
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_GRANULE_INVALID, cfg->granule);
    }
    if (cfg->flags & ~VCORE_ARM64_S2_F_LPA2)
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_FLAGS_INVALID, cfg->flags);

    uint32_t parange = (uint32_t)VCORE__A64_FIELD(cfg->mmfr0, VCORE__MMFR0_PARANGE_SHIFT, 4);
    if (parange >= VCORE__ARRAY_SIZE(vcore__parange_bits))
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_PARANGE_RESERVED, parange);
    uint32_t pamax = vcore__parange_bits[parange];

    uint32_t support = vcore__s2_granule_support(cfg->mmfr0, gshift);
    if (support == 0) {
        vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_GRANULE_NOT_IMPLEMENTED, cfg->granule);
        return VCORE_ERR_UNSUPPORTED;
    }
    bool ds = (cfg->flags & VCORE_ARM64_S2_F_LPA2) != 0;
    if (ds && (gshift == 16 || support != 2)) {
        vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_LPA2_NOT_IMPLEMENTED, cfg->granule);
        return VCORE_ERR_UNSUPPORTED;
    }
    if (cfg->max_levels > 5)
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_CAP_INVALID, cfg->max_levels);

    /* Output size: the host PARange, limited to 48 bits unless descriptors
     * can hold a 52-bit address (AArch64.S2MinTxSZ uses the same limit for
     * the input size). */
    bool lpa = gshift == 16 && pamax == 52;
    bool oa52 = ds || lpa;
    uint32_t pa_bits = (!oa52 && pamax > 48) ? 48u : pamax;
    uint32_t ipa = 0;
    int rc = vcore__arm64_ipa_check(cfg->ipa_bits, pa_bits, &ipa);
    if (rc != VCORE_OK) {
        uint32_t asked = cfg->ipa_bits ? cfg->ipa_bits : VCORE_ARM64_IPA_DEFAULT_BITS;
        uint32_t id = asked < VCORE_ARM64_IPA_MIN_BITS ? VCORE_DIAG_ARM64_S2_IPA_BELOW_MIN
                      : asked > pamax                  ? VCORE_DIAG_ARM64_S2_IPA_ABOVE_PARANGE
                                                       : VCORE_DIAG_ARM64_S2_IPA_ABOVE_48;
        vcore__diag_set(diag, id, asked);
        return VCORE_ERR_RANGE;
    }

    /* Fewest levels first, from 2 to the granule's shallowest start level. */
    uint32_t stride = gshift - 3u;
    int32_t start = 2;
    while (ipa > (uint32_t)(3 - start) * stride + gshift + stride + 4u &&
           start > vcore__s2_top_level(gshift))
        start--;
    uint32_t levels = (uint32_t)(4 - start);
    uint32_t top_bits = ipa - ((levels - 1u) * stride + gshift); /* bits the start level resolves */
    if (cfg->max_levels && levels > cfg->max_levels) {
        /* With the levels the cap allows, the start level would have to
         * resolve more than stride + 4 bits: more than 16 tables. */
        uint32_t cap = cfg->max_levels;
        if (cap < 2) {
            vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_LEVELS_ABOVE_CAP, levels);
        } else {
            uint32_t below = (cap - 1u) * stride + gshift;
            vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_CONCAT_LIMIT, 1ull << (ipa - below - stride));
        }
        return VCORE_ERR_RANGE;
    }

    vcore_arm64_s2_geom_t g;
    vcore__memset(&g, 0, sizeof(g));
    g.size = sizeof(g);
    g.ipa_bits = ipa;
    g.granule_shift = gshift;
    g.levels = levels;
    g.start_level = start;
    g.concat = top_bits > stride ? 1u << (top_bits - stride) : 1u;
    g.root_entries = 1u << top_bits;
    /* VTTBR_EL2.BADDR: aligned to the size of the start-level table(s);
     * with a 52-bit output address at least 64 bytes (bits[5:2] hold
     * BADDR[51:48]). */
    g.baddr_align_shift = top_bits + 3u;
    if (oa52 && g.baddr_align_shift < 6u)
        g.baddr_align_shift = 6u;
    g.pa_bits = pa_bits;
    g.vmid_bits = VCORE__A64_FIELD(cfg->mmfr1, VCORE__MMFR1_VMIDBITS_SHIFT, 4) ==
                          VCORE__MMFR1_VMIDBITS_16 ? 16u : 8u;
    g.t0sz = 64u - ipa;
    g.sl0 = vcore__s2_sl0(gshift, start);
    g.sl2 = 0; /* level -1 is never used */
    g.tg0 = gshift == 12 ? VCORE__VTCR_TG0_4K : gshift == 14 ? VCORE__VTCR_TG0_16K
                                                              : VCORE__VTCR_TG0_64K;
    g.ps = 0;
    while (vcore__parange_bits[g.ps] != pa_bits)
        g.ps++;
    g.ds = ds;
    g.lpa = lpa;
    g.xnx = VCORE__A64_FIELD(cfg->mmfr1, VCORE__MMFR1_XNX_SHIFT, 4) == 1u;

    uint64_t v = 0;
    v |= (uint64_t)g.t0sz << VCORE__VTCR_T0SZ_SHIFT;           /* T0SZ */
    v |= (uint64_t)g.sl0 << VCORE__VTCR_SL0_SHIFT;             /* SL0 */
    v |= (uint64_t)VCORE__VTCR_WBWA << VCORE__VTCR_IRGN0_SHIFT; /* walks inner WB WA */
    v |= (uint64_t)VCORE__VTCR_WBWA << VCORE__VTCR_ORGN0_SHIFT; /* walks outer WB WA */
    v |= (uint64_t)VCORE__VTCR_SH_INNER << VCORE__VTCR_SH0_SHIFT; /* walks Inner Shareable */
    v |= (uint64_t)g.tg0 << VCORE__VTCR_TG0_SHIFT;             /* TG0 */
    v |= (uint64_t)g.ps << VCORE__VTCR_PS_SHIFT;               /* PS */
    if (g.vmid_bits == 16)
        v |= VCORE__VTCR_VS;                                   /* 16-bit VMID */
    v |= VCORE__VTCR_RES1;                                     /* bit 31 RES1 */
    if (g.ds)
        v |= VCORE__VTCR_DS;                                   /* LPA2 descriptors */
    g.vtcr = v;
    *out = g;
    return VCORE_OK;
}
