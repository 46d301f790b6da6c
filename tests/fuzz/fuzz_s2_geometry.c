/* libFuzzer target: stage-2 geometry from arbitrary (IPA size, granule,
 * ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1, level cap, flags). Invariants:
 *  - an accepted configuration's VTCR_EL2 is one the architecture allows,
 *    checked by an independent decoder of VTCR_EL2 written here from the
 *    Arm ARM pseudocode (AArch64.S2MinTxSZ, AArch64.S2InvalidSL,
 *    AArch64.S2InconsistentSL) and the ID register field definitions;
 *  - the geometry fields agree with the VTCR_EL2 value;
 *  - with no cap, the geometry has the fewest levels (>= 2) any valid start
 *    level gives; a refusal for the cap means no valid start level within
 *    the cap exists;
 *  - every refusal names a diagnostic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/arm64/stage2.h>
#include <virtcore/error.h>

#include "fuzz_common_s2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t parange_bits[7] = {32, 36, 40, 42, 44, 48, 52};

/* Stage-2 support of a granule: 0 none, 1 yes, 2 yes with 52-bit (LPA2). */
static int support(uint64_t mmfr0, uint32_t gshift)
{
    uint32_t s2, s1;
    if (gshift == 12) {
        s2 = (mmfr0 >> 40) & 0xf;
        s1 = (mmfr0 >> 28) & 0xf; /* TGran4: 0 IMP, 1 52-bit, 0xF NI */
        s1 = s1 == 0 ? 1 : s1 == 1 ? 2 : 0;
    } else if (gshift == 14) {
        s2 = (mmfr0 >> 32) & 0xf;
        s1 = (mmfr0 >> 20) & 0xf; /* TGran16: 0 NI, 1 IMP, 2 52-bit */
        s1 = s1 == 1 ? 1 : s1 == 2 ? 2 : 0;
    } else {
        s2 = (mmfr0 >> 36) & 0xf;
        s1 = ((mmfr0 >> 24) & 0xf) == 0 ? 1 : 0; /* TGran64: 0 IMP, 0xF NI */
        if (s2 == 3)
            return 0;
    }
    return s2 == 0 ? (int)s1 : s2 == 2 ? 1 : s2 == 3 ? 2 : 0;
}

/* Start level a VTCR_EL2 encodes, or 99 if AArch64.S2InvalidSL. */
static int start_level(uint64_t vtcr, uint32_t gshift, uint32_t pamax, bool ds)
{
    uint32_t sl0 = (vtcr >> 6) & 3, sl2 = (vtcr >> 33) & 1;
    if (gshift == 12) {
        if (sl2) {
            if (!ds || sl0 != 0 || pamax < 52)
                return 99;
            return -1;
        }
        if (sl0 == 3)
            return 99; /* FEAT_TTST not offered by the library's inputs */
        if (sl0 == 2 && pamax < 44)
            return 99;
        return 2 - (int)sl0;
    }
    if (sl2)
        return 99; /* RES0 for 16KB/64KB */
    if (gshift == 14) {
        if (sl0 == 3 && (!ds || pamax < 52))
            return 99;
        if (sl0 == 2 && pamax < 42)
            return 99;
        return 3 - (int)sl0;
    }
    if (sl0 == 3 || (sl0 == 2 && pamax < 44))
        return 99;
    return 3 - (int)sl0;
}

/* AArch64.S2InconsistentSL, inverted. */
static bool consistent(int s, uint32_t ia, uint32_t gshift)
{
    uint32_t stride = gshift - 3, levels_below = (uint32_t)(3 - s);
    uint32_t min = levels_below * stride + gshift + 1;
    uint32_t max = min + (stride - 1) + 4;
    return ia >= min && ia <= max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz2_in_t in = {data, size, 0};
    vcore_arm64_s2_config_t c;
    vcore_arm64_s2_geom_t g;
    vcore_diag_t d;
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.ipa_bits = (uint32_t)fz2_take(&in, 1) % 70u;
    static const uint32_t grans[5] = {4096, 16384, 65536, 8192, 0};
    c.granule = grans[fz2_take(&in, 1) % 5u];
    c.mmfr0 = fz2_take(&in, 8);
    if (fz2_take(&in, 1) & 1) /* mostly plausible PARange values */
        c.mmfr0 = (c.mmfr0 & ~0xfull) | (fz2_take(&in, 1) % 7u);
    c.mmfr1 = fz2_take(&in, 8);
    c.max_levels = (uint32_t)fz2_take(&in, 1) % 8u;
    c.flags = (uint32_t)fz2_take(&in, 1) & 0x81u;
    memset(&g, 0, sizeof(g));
    g.size = sizeof(g);
    memset(&d, 0, sizeof(d));
    d.size = sizeof(d);
    int rc = vcore_arm64_s2_geometry(&c, &g, &d);
    if (rc != VCORE_OK) {
        if (d.id == 0 || !d.name || !d.manual)
            abort();
        if (d.id == VCORE_DIAG_ARM64_S2_CONCAT_LIMIT || d.id == VCORE_DIAG_ARM64_S2_LEVELS_ABOVE_CAP) {
            /* No valid start level within the cap (and at least two levels). */
            uint32_t gshift = c.granule == 4096 ? 12 : c.granule == 16384 ? 14 : 16;
            uint32_t pamax = parange_bits[c.mmfr0 & 0xf];
            bool ds = c.flags & 1;
            uint32_t ia = c.ipa_bits ? c.ipa_bits : 40;
            for (uint32_t levels = 2; levels <= c.max_levels; levels++) {
                int s = 4 - (int)levels;
                uint32_t sl0 = gshift == 12 ? (s == -1 ? 0u : (uint32_t)(2 - s)) : (uint32_t)(3 - s);
                uint64_t v = ((uint64_t)sl0 << 6) | (s == -1 ? 1ull << 33 : 0);
                if (start_level(v, gshift, pamax, ds) == s && consistent(s, ia, gshift))
                    abort(); /* the library refused a valid geometry within the cap */
            }
        }
        return 0;
    }

    /* Decode VTCR_EL2 independently. */
    uint64_t v = g.vtcr;
    uint32_t tg0 = (v >> 14) & 3;
    uint32_t gshift = tg0 == 0 ? 12 : tg0 == 2 ? 14 : tg0 == 1 ? 16 : 0;
    if (!gshift || (1u << gshift) != c.granule)
        abort();
    int sup = support(c.mmfr0, gshift);
    bool ds = (v >> 32) & 1;
    if (sup == 0 || (ds && (sup != 2 || gshift == 16)))
        abort();
    uint32_t parange = c.mmfr0 & 0xf;
    if (parange > 6)
        abort();
    uint32_t pamax = parange_bits[parange];
    uint32_t ps = (v >> 16) & 7;
    if (ps > 6 || parange_bits[ps] > pamax)
        abort(); /* output size above the implemented PA size */
    uint32_t ia = 64 - (uint32_t)(v & 0x3f);
    /* AArch64.S2MinTxSZ: at most PAMax, and 48 bits unless 52-bit descriptors. */
    uint32_t ia_max = pamax;
    if (!(gshift == 16 || ds) && ia_max > 48)
        ia_max = 48;
    if (ia < 32 || ia > ia_max)
        abort();
    if (parange_bits[ps] == 52 && !(gshift == 16 || ds))
        abort(); /* PS 52 needs 52-bit descriptors */
    int s = start_level(v, gshift, pamax, ds);
    if (s == 99 || !consistent(s, ia, gshift))
        abort();
    if (!((v >> 31) & 1) || ((v >> 12) & 3) == 1 || ((v >> 21) & 3))
        abort(); /* RES1 bit 31; SH0 0b01 reserved; HA/HD not asked for */
    if (v >> 34)
        abort(); /* nothing above SL2 */
    /* Geometry fields agree with the register. */
    uint32_t stride = gshift - 3;
    uint32_t top = ia - ((uint32_t)(3 - s) * stride + gshift);
    if (g.start_level != s || g.levels != (uint32_t)(4 - s) || g.ipa_bits != ia ||
        g.concat != (top > stride ? 1u << (top - stride) : 1u) || g.concat > 16 ||
        g.root_entries != 1u << top || g.granule_shift != gshift || g.pa_bits != parange_bits[ps])
        abort();
    if (g.levels < 2 || (c.max_levels && g.levels > c.max_levels))
        abort();
    /* Fewest levels: no valid start level with fewer levels (>= 2). */
    for (int s2 = 2; s2 > s; s2--) {
        uint32_t sl0 = gshift == 12 ? (uint32_t)(2 - s2) : (uint32_t)(3 - s2);
        if (start_level((uint64_t)sl0 << 6, gshift, pamax, ds) == s2 && consistent(s2, ia, gshift))
            abort();
    }
    return 0;
}
