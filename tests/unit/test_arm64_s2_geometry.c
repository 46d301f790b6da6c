/*
 * Unit tests: stage-2 geometry and VTCR_EL2 (src/core/arm64/s2_geometry.c),
 * VTTBR_EL2 / descriptor / HPFAR / PAR address encodings (s2_addr.c).
 *
 * Expected values come from the Arm ARM, not from the code: a walk starting
 * at level s resolves (3 - s) * stride + granule bits below the start level,
 * and the start level resolves 1 .. stride + 4 bits (AArch64.S2InconsistentSL),
 * so with s = the fewest-levels start level (at least two levels):
 *   4KB  (stride 9):  L2 for IPA 22..34, L1 31..43, L0 40..52
 *   16KB (stride 11): L2 26..40, L1 37..51, L0 48..62 (DS = 1)
 *   64KB (stride 13): L2 30..46, L1 43..59
 * concatenated tables = 2^(start bits - stride) when positive; BADDR
 * alignment x = start bits + 3 (VTTBR_EL2: the size of the start table).
 * SL0 (VTCR_EL2): 4KB 0 = L2, 1 = L1, 2 = L0; 16KB/64KB 1 = L2, 2 = L1, 3 = L0.
 */
#include <virtcore/arm64/stage2.h>

#include "support.h"

/* ID_AA64MMFR0_EL1 that QEMU's "-cpu max" reports: PARange 52, TGran4 = 1
 * (52-bit), TGran16 = 2 (52-bit), TGran64 = 0, TGran4_2 = 3, TGran16_2 = 3,
 * TGran64_2 = 2. */
#define MMFR0_QEMU_MAX 0x0000032310201126ull
/* A host with PARange 48 and all three granules at stage 2 (TGranN_2 = 2). */
#define MMFR0_PA48 ((2ull << 40) | (2ull << 36) | (2ull << 32) | (1ull << 20) | 5ull)
/* ID_AA64MMFR1_EL1: VMIDBits = 0b0010 (16 bits), XNX = 1. */
#define MMFR1_VMID16_XNX ((2ull << 4) | (1ull << 28))

struct geo_row {
    uint32_t ipa;
    int32_t start;
    uint32_t concat, x;
};

/* 4KB, every IPA size from 32 to 52 (49..52 with FEAT_LPA2, DS = 1). */
static const struct geo_row rows_4k[] = {
    {32, 2, 4, 14},  {33, 2, 8, 15},  {34, 2, 16, 16},
    {35, 1, 1, 8},   {36, 1, 1, 9},   {37, 1, 1, 10},  {38, 1, 1, 11}, {39, 1, 1, 12},
    {40, 1, 2, 13},  {41, 1, 4, 14},  {42, 1, 8, 15},  {43, 1, 16, 16},
    {44, 0, 1, 8},   {45, 0, 1, 9},   {46, 0, 1, 10},  {47, 0, 1, 11}, {48, 0, 1, 12},
    {49, 0, 2, 13},  {50, 0, 4, 14},  {51, 0, 8, 15},  {52, 0, 16, 16},
};
static const struct geo_row rows_16k[] = {
    {32, 2, 1, 10},  {33, 2, 1, 11},  {34, 2, 1, 12},  {35, 2, 1, 13}, {36, 2, 1, 14},
    {37, 2, 2, 15},  {38, 2, 4, 16},  {39, 2, 8, 17},  {40, 2, 16, 18},
    {41, 1, 1, 8},   {42, 1, 1, 9},   {43, 1, 1, 10},  {44, 1, 1, 11}, {45, 1, 1, 12},
    {46, 1, 1, 13},  {47, 1, 1, 14},  {48, 1, 2, 15},  {49, 1, 4, 16}, {50, 1, 8, 17},
    {51, 1, 16, 18}, {52, 0, 1, 8},
};
static const struct geo_row rows_64k[] = {
    {32, 2, 1, 6},   {33, 2, 1, 7},   {34, 2, 1, 8},   {35, 2, 1, 9},  {36, 2, 1, 10},
    {37, 2, 1, 11},  {38, 2, 1, 12},  {39, 2, 1, 13},  {40, 2, 1, 14}, {41, 2, 1, 15},
    {42, 2, 1, 16},  {43, 2, 2, 17},  {44, 2, 4, 18},  {45, 2, 8, 19}, {46, 2, 16, 20},
    {47, 1, 1, 8},   {48, 1, 1, 9},   {49, 1, 1, 10},  {50, 1, 1, 11}, {51, 1, 1, 12},
    {52, 1, 1, 13},
};

static void cfg_init(vcore_arm64_s2_config_t *c, uint32_t ipa, uint32_t granule, uint64_t mmfr0)
{
    memset(c, 0, sizeof(*c));
    c->size = sizeof(*c);
    c->ipa_bits = ipa;
    c->granule = granule;
    c->mmfr0 = mmfr0;
    c->mmfr1 = MMFR1_VMID16_XNX;
}

static int geom(const vcore_arm64_s2_config_t *c, vcore_arm64_s2_geom_t *g, vcore_diag_t *d)
{
    memset(g, 0, sizeof(*g));
    g->size = sizeof(*g);
    memset(d, 0, sizeof(*d));
    return vcore_arm64_s2_geometry(c, g, d);
}

/* VTCR_EL2 from its fields (Arm ARM, "VTCR_EL2"): IRGN0 = ORGN0 = 0b01,
 * SH0 = 0b11, bit 31 RES1, VS = 1 (16-bit VMID). */
static uint64_t vtcr_expected(uint32_t t0sz, uint32_t sl0, uint32_t tg0, uint32_t ps, bool ds)
{
    return (uint64_t)t0sz | ((uint64_t)sl0 << 6) | (1ull << 8) | (1ull << 10) | (3ull << 12) |
           ((uint64_t)tg0 << 14) | ((uint64_t)ps << 16) | (1ull << 19) | (1ull << 31) |
           (ds ? 1ull << 32 : 0);
}

static void check_rows(const struct geo_row *rows, size_t n, uint32_t granule, uint32_t gshift,
                       uint32_t tg0)
{
    for (size_t i = 0; i < n; i++) {
        const struct geo_row *r = &rows[i];
        vcore_arm64_s2_config_t c;
        vcore_arm64_s2_geom_t g;
        vcore_diag_t d;
        cfg_init(&c, r->ipa, granule, MMFR0_QEMU_MAX);
        /* Above 48 bits the 4KB and 16KB granules need DS = 1. */
        bool ds = r->ipa > 48 && granule != VCORE_ARM64_GRANULE_64K;
        if (ds)
            c.flags = VCORE_ARM64_S2_F_LPA2;
        ck_assert_msg(geom(&c, &g, &d) == VCORE_OK, "gran %u ipa %u: diag %s", granule, r->ipa,
                      d.name ? d.name : "-");
        ck_assert_uint_eq(g.ipa_bits, r->ipa);
        ck_assert_uint_eq(g.granule_shift, gshift);
        ck_assert_int_eq(g.start_level, r->start);
        ck_assert_uint_eq(g.levels, (uint32_t)(4 - r->start));
        ck_assert_msg(g.concat == r->concat, "gran %u ipa %u concat %u", granule, r->ipa, g.concat);
        ck_assert_msg(g.baddr_align_shift == r->x, "gran %u ipa %u x %u", granule, r->ipa,
                      g.baddr_align_shift);
        ck_assert_uint_eq(g.root_entries, 1u << (r->x - 3));
        ck_assert_uint_eq(g.t0sz, 64 - r->ipa);
        uint32_t sl0 = gshift == 12 ? (uint32_t)(2 - r->start) : (uint32_t)(3 - r->start);
        ck_assert_uint_eq(g.sl0, sl0);
        ck_assert_uint_eq(g.sl2, 0);
        /* PS: the host's 52 bits only where descriptors hold 52-bit addresses. */
        bool oa52 = ds || granule == VCORE_ARM64_GRANULE_64K;
        uint32_t ps = oa52 ? 6 : 5;
        ck_assert_uint_eq(g.ps, ps);
        ck_assert_uint_eq(g.pa_bits, oa52 ? 52 : 48);
        ck_assert_uint_eq(g.tg0, tg0);
        ck_assert(g.ds == ds);
        ck_assert(g.lpa == (granule == VCORE_ARM64_GRANULE_64K));
        ck_assert_uint_eq(g.vmid_bits, 16);
        ck_assert(g.xnx);
        ck_assert_uint_eq(g.vtcr, vtcr_expected(64 - r->ipa, sl0, tg0, ps, ds));
    }
}

START_TEST(every_ipa_4k)
{
    check_rows(rows_4k, sizeof(rows_4k) / sizeof(rows_4k[0]), VCORE_ARM64_GRANULE_4K, 12, 0);
}
END_TEST

START_TEST(every_ipa_16k)
{
    check_rows(rows_16k, sizeof(rows_16k) / sizeof(rows_16k[0]), VCORE_ARM64_GRANULE_16K, 14, 2);
}
END_TEST

START_TEST(every_ipa_64k)
{
    check_rows(rows_64k, sizeof(rows_64k) / sizeof(rows_64k[0]), VCORE_ARM64_GRANULE_64K, 16, 1);
}
END_TEST

/* KVM's worked value (4KB, IPA 40, PARange 48, 16-bit VMID) without HA:
 * 0x802D3558 & ~HA(bit 21) = 0x800D3558. 4KB IPA 52 with LPA2: 0x1800E358C. */
START_TEST(vtcr_worked_values)
{
    vcore_arm64_s2_config_t c;
    vcore_arm64_s2_geom_t g;
    vcore_diag_t d;
    cfg_init(&c, 40, VCORE_ARM64_GRANULE_4K, MMFR0_PA48);
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.vtcr, 0x800D3558ull);
    cfg_init(&c, 52, VCORE_ARM64_GRANULE_4K, MMFR0_QEMU_MAX);
    c.flags = VCORE_ARM64_S2_F_LPA2;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.vtcr, 0x1800E358Cull);
    /* 8-bit VMIDs: VS clear; no FEAT_XNX. */
    cfg_init(&c, 40, VCORE_ARM64_GRANULE_4K, MMFR0_PA48);
    c.mmfr1 = 0;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.vtcr, 0x80053558ull);
    ck_assert_uint_eq(g.vmid_bits, 8);
    ck_assert(!g.xnx);
    /* IPA 0 is the 40-bit default. */
    cfg_init(&c, 0, VCORE_ARM64_GRANULE_4K, MMFR0_PA48);
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.ipa_bits, 40);
}
END_TEST

/* PS follows the host PARange (not the IPA); 48-bit cap without 52-bit descriptors. */
START_TEST(ps_from_host)
{
    static const struct {
        uint32_t parange, granule, ipa, ps;
    } r[] = {
        {0, VCORE_ARM64_GRANULE_4K, 32, 0}, {1, VCORE_ARM64_GRANULE_4K, 32, 1},
        {2, VCORE_ARM64_GRANULE_16K, 36, 2}, {3, VCORE_ARM64_GRANULE_64K, 40, 3},
        {4, VCORE_ARM64_GRANULE_4K, 44, 4}, {5, VCORE_ARM64_GRANULE_4K, 32, 5},
        {6, VCORE_ARM64_GRANULE_4K, 32, 5}, {6, VCORE_ARM64_GRANULE_16K, 48, 5},
        {6, VCORE_ARM64_GRANULE_64K, 32, 6},
    };
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        vcore_arm64_s2_config_t c;
        vcore_arm64_s2_geom_t g;
        vcore_diag_t d;
        cfg_init(&c, r[i].ipa, r[i].granule, (MMFR0_PA48 & ~0xfull) | r[i].parange);
        ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
        ck_assert_msg(g.ps == r[i].ps, "row %zu ps %u", i, g.ps);
        ck_assert_uint_eq((g.vtcr >> 16) & 7, r[i].ps);
    }
}
END_TEST

/* Start levels that need a minimum implemented PA size (AArch64.S2InvalidSL):
 * 4KB level 0 needs PAMax >= 44, 16KB level 1 needs 42, 64KB level 1 needs 44.
 * With PARange 42 (0b0011), 4KB IPA 42 starts at L1 with 8 tables. */
START_TEST(start_level_needs_pamax)
{
    vcore_arm64_s2_config_t c;
    vcore_arm64_s2_geom_t g;
    vcore_diag_t d;
    cfg_init(&c, 42, VCORE_ARM64_GRANULE_16K, (MMFR0_PA48 & ~0xfull) | 3);
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_int_eq(g.start_level, 1);
    /* PARange 40: 16KB IPA 40 stays at L2 with 16 tables (L1 not encodable). */
    cfg_init(&c, 40, VCORE_ARM64_GRANULE_16K, (MMFR0_PA48 & ~0xfull) | 2);
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_int_eq(g.start_level, 2);
    ck_assert_uint_eq(g.concat, 16);
    /* Same IPA with a level cap of 2 on a 48-bit host: same answer. */
    cfg_init(&c, 40, VCORE_ARM64_GRANULE_16K, MMFR0_PA48);
    c.max_levels = 2;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.levels, 2);
}
END_TEST

static void refuse(uint32_t ipa, uint32_t granule, uint64_t mmfr0, uint32_t cap, uint32_t flags,
                   int rc, uint32_t diag, uint64_t value)
{
    vcore_arm64_s2_config_t c;
    vcore_arm64_s2_geom_t g;
    vcore_diag_t d;
    cfg_init(&c, ipa, granule, mmfr0);
    c.max_levels = cap;
    c.flags = flags;
    ck_assert_int_eq(geom(&c, &g, &d), rc);
    ck_assert_msg(d.id == diag, "ipa %u gran %u: got %s (0x%x)", ipa, granule,
                  d.name ? d.name : "-", d.id);
    ck_assert_uint_eq(d.value, value);
    ck_assert_ptr_nonnull(d.manual);
    ck_assert(strstr(d.manual, "Arm ARM") != NULL);
}

START_TEST(refusals)
{
    const uint64_t m = MMFR0_QEMU_MAX;
    refuse(40, 8192, m, 0, 0, VCORE_ERR_INVAL, VCORE_DIAG_ARM64_S2_GRANULE_INVALID, 8192);
    refuse(40, VCORE_ARM64_GRANULE_4K, (m & ~0xfull) | 7, 0, 0, VCORE_ERR_INVAL,
           VCORE_DIAG_ARM64_S2_PARANGE_RESERVED, 7);
    /* TGran16_2 = 0b0001: not at stage 2. */
    refuse(40, VCORE_ARM64_GRANULE_16K, (m & ~(0xfull << 32)) | (1ull << 32), 0, 0,
           VCORE_ERR_UNSUPPORTED, VCORE_DIAG_ARM64_S2_GRANULE_NOT_IMPLEMENTED, 16384);
    /* TGran16_2 = 0 defers to TGran16 = 0 (not implemented). */
    refuse(40, VCORE_ARM64_GRANULE_16K, m & ~(0xfull << 32) & ~(0xfull << 20), 0, 0,
           VCORE_ERR_UNSUPPORTED, VCORE_DIAG_ARM64_S2_GRANULE_NOT_IMPLEMENTED, 16384);
    /* TGran4_2 = 0 defers to TGran4 = 0xF (not implemented). */
    refuse(40, VCORE_ARM64_GRANULE_4K, (m & ~(0xfull << 40)) | (0xfull << 28), 0, 0,
           VCORE_ERR_UNSUPPORTED, VCORE_DIAG_ARM64_S2_GRANULE_NOT_IMPLEMENTED, 4096);
    /* TGran64_2 = 0 defers to TGran64 = 0xF. */
    refuse(40, VCORE_ARM64_GRANULE_64K, (m & ~(0xfull << 36)) | (0xfull << 24), 0, 0,
           VCORE_ERR_UNSUPPORTED, VCORE_DIAG_ARM64_S2_GRANULE_NOT_IMPLEMENTED, 65536);
    /* LPA2: not for 64KB, and not when the stage-2 field says only "implemented". */
    refuse(48, VCORE_ARM64_GRANULE_64K, m, 0, VCORE_ARM64_S2_F_LPA2, VCORE_ERR_UNSUPPORTED,
           VCORE_DIAG_ARM64_S2_LPA2_NOT_IMPLEMENTED, 65536);
    refuse(48, VCORE_ARM64_GRANULE_4K, MMFR0_PA48, 0, VCORE_ARM64_S2_F_LPA2,
           VCORE_ERR_UNSUPPORTED, VCORE_DIAG_ARM64_S2_LPA2_NOT_IMPLEMENTED, 4096);
    refuse(40, VCORE_ARM64_GRANULE_4K, m, 0, 0x80, VCORE_ERR_INVAL,
           VCORE_DIAG_ARM64_S2_FLAGS_INVALID, 0x80);
    /* IPA limits. */
    refuse(31, VCORE_ARM64_GRANULE_4K, m, 0, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_IPA_BELOW_MIN, 31);
    refuse(49, VCORE_ARM64_GRANULE_64K, MMFR0_PA48, 0, 0, VCORE_ERR_RANGE,
           VCORE_DIAG_ARM64_S2_IPA_ABOVE_PARANGE, 49);
    refuse(44, VCORE_ARM64_GRANULE_4K, (m & ~0xfull) | 3, 0, 0, VCORE_ERR_RANGE,
           VCORE_DIAG_ARM64_S2_IPA_ABOVE_PARANGE, 44);
    refuse(0, VCORE_ARM64_GRANULE_4K, (m & ~0xfull) | 1, 0, 0, VCORE_ERR_RANGE,
           VCORE_DIAG_ARM64_S2_IPA_ABOVE_PARANGE, 40);
    refuse(49, VCORE_ARM64_GRANULE_4K, m, 0, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_IPA_ABOVE_48, 49);
    refuse(52, VCORE_ARM64_GRANULE_16K, m, 0, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_IPA_ABOVE_48, 52);
    /* Level cap. 4KB IPA 35 in two levels: L2 resolves 35 - 21 = 14 bits = 32 tables. */
    refuse(35, VCORE_ARM64_GRANULE_4K, m, 2, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_CONCAT_LIMIT, 32);
    refuse(44, VCORE_ARM64_GRANULE_4K, m, 3, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_CONCAT_LIMIT, 32);
    refuse(48, VCORE_ARM64_GRANULE_4K, m, 3, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_CONCAT_LIMIT, 512);
    refuse(41, VCORE_ARM64_GRANULE_16K, m, 2, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_CONCAT_LIMIT, 32);
    refuse(47, VCORE_ARM64_GRANULE_64K, m, 2, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_CONCAT_LIMIT, 32);
    refuse(32, VCORE_ARM64_GRANULE_64K, m, 1, 0, VCORE_ERR_RANGE, VCORE_DIAG_ARM64_S2_LEVELS_ABOVE_CAP, 2);
    refuse(40, VCORE_ARM64_GRANULE_4K, m, 6, 0, VCORE_ERR_INVAL, VCORE_DIAG_ARM64_S2_CAP_INVALID, 6);
}
END_TEST

/* At the limit: 16 tables are accepted (4KB IPA 34 at L2, cap 2). */
START_TEST(cap_at_sixteen_tables)
{
    vcore_arm64_s2_config_t c;
    vcore_arm64_s2_geom_t g;
    vcore_diag_t d;
    cfg_init(&c, 34, VCORE_ARM64_GRANULE_4K, MMFR0_QEMU_MAX);
    c.max_levels = 2;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.concat, 16);
    /* A cap of 5 or 4 changes nothing for 4KB IPA 48 (four levels). */
    c.max_levels = 5;
    c.ipa_bits = 48;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.levels, 4);
    c.max_levels = 4;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    c.max_levels = 3;
    c.ipa_bits = 43;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_uint_eq(g.concat, 16);
    ck_assert_int_eq(g.start_level, 1);
}
END_TEST

START_TEST(bad_args)
{
    vcore_arm64_s2_config_t c;
    vcore_arm64_s2_geom_t g = {.size = sizeof(g)};
    cfg_init(&c, 40, VCORE_ARM64_GRANULE_4K, MMFR0_PA48);
    ck_assert_int_eq(vcore_arm64_s2_geometry(NULL, &g, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_s2_geometry(&c, NULL, NULL), VCORE_ERR_INVAL);
    c.size = 8;
    ck_assert_int_eq(vcore_arm64_s2_geometry(&c, &g, NULL), VCORE_ERR_ABI);
    c.size = sizeof(c);
    g.size = 8;
    ck_assert_int_eq(vcore_arm64_s2_geometry(&c, &g, NULL), VCORE_ERR_ABI);
    /* The diagnostic is described by the shared table. */
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_diag_describe(VCORE_DIAG_ARM64_S2_CONCAT_LIMIT, &d), VCORE_OK);
    ck_assert_str_eq(d.name, "ARM64_S2_CONCAT_LIMIT");
}
END_TEST

/* ---- addresses ---- */

static vcore_arm64_s2_geom_t geom_of(uint32_t ipa, uint32_t granule, uint32_t flags)
{
    vcore_arm64_s2_config_t c;
    vcore_arm64_s2_geom_t g;
    vcore_diag_t d;
    cfg_init(&c, ipa, granule, MMFR0_QEMU_MAX);
    c.flags = flags;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    return g;
}

START_TEST(oa_encodings)
{
    /* 48-bit: in place. */
    vcore_arm64_s2_geom_t g = geom_of(40, VCORE_ARM64_GRANULE_4K, 0);
    ck_assert_uint_eq(vcore_arm64_s2_oa_to_desc(&g, 0x0000123456789000ull), 0x0000123456789000ull);
    ck_assert_uint_eq(vcore_arm64_s2_desc_to_oa(&g, 0x0060123456789703ull, 3), 0x0000123456789000ull);
    /* 64KB with FEAT_LPA: OA[51:48] in bits[15:12]. */
    g = geom_of(52, VCORE_ARM64_GRANULE_64K, 0);
    ck_assert_uint_eq(vcore_arm64_s2_oa_to_desc(&g, 0x000a123456780000ull), 0x000012345678a000ull);
    ck_assert_uint_eq(vcore_arm64_s2_desc_to_oa(&g, 0x000012345678a003ull, 3), 0x000a123456780000ull);
    /* LPA2 (DS = 1): OA[49:12] in place, OA[51:50] in bits[9:8]. */
    g = geom_of(52, VCORE_ARM64_GRANULE_4K, VCORE_ARM64_S2_F_LPA2);
    ck_assert_uint_eq(vcore_arm64_s2_oa_to_desc(&g, 0x000f123456789000ull), 0x0003123456789300ull);
    ck_assert_uint_eq(vcore_arm64_s2_desc_to_oa(&g, 0x0003123456789303ull, 3), 0x000f123456789000ull);
    g = geom_of(52, VCORE_ARM64_GRANULE_16K, VCORE_ARM64_S2_F_LPA2);
    ck_assert_uint_eq(vcore_arm64_s2_oa_to_desc(&g, 0x0009000000004000ull), 0x0001000000004200ull);
    /* A level-2 4KB block (2 MiB): address bits below 21 are not part of the OA. */
    g = geom_of(40, VCORE_ARM64_GRANULE_4K, 0);
    ck_assert_uint_eq(vcore_arm64_s2_desc_to_oa(&g, 0x0000000040201001ull, 2), 0x40200000ull);
}
END_TEST

START_TEST(vttbr)
{
    vcore_diag_t d = {.size = sizeof(d)};
    uint64_t v = 0;
    /* 4KB IPA 40: two tables, 8 KiB alignment (x = 13). */
    vcore_arm64_s2_geom_t g = geom_of(40, VCORE_ARM64_GRANULE_4K, 0);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x80002000ull, 0x1234, true, &v, &d), VCORE_OK);
    ck_assert_uint_eq(v, 0x1234000080002001ull);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x80001000ull, 1, false, &v, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_BADDR_INVALID);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 1ull << 48, 1, false, &v, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_BADDR_INVALID);
    /* 52-bit output: BADDR[51:48] in bits[5:2]. */
    g = geom_of(52, VCORE_ARM64_GRANULE_64K, 0);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x000b000012340000ull, 7, false, &v, &d), VCORE_OK);
    ck_assert_uint_eq(v, 0x000700001234002cull);
    /* 64KB IPA 32: 8-entry start table, 64-byte alignment (x = 6) with 52-bit output. */
    g = geom_of(32, VCORE_ARM64_GRANULE_64K, 0);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x40000040ull, 0, false, &v, &d), VCORE_OK);
    ck_assert_uint_eq(v, 0x40000040ull);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x40000020ull, 0, false, &v, &d), VCORE_ERR_INVAL);
    /* 8-bit VMIDs. */
    vcore_arm64_s2_config_t c;
    cfg_init(&c, 40, VCORE_ARM64_GRANULE_4K, MMFR0_PA48);
    c.mmfr1 = 0;
    ck_assert_int_eq(geom(&c, &g, &d), VCORE_OK);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x2000, 255, false, &v, &d), VCORE_OK);
    ck_assert_uint_eq(v, 0x00ff000000002000ull);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x2000, 256, false, &v, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_VMID_WIDTH);
    ck_assert_int_eq(vcore_arm64_s2_vttbr(&g, 0x2000, 0, false, NULL, &d), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(hpfar_par)
{
    /* HPFAR_EL2.FIPA[43:4] = IPA[51:12]; page offset from FAR_EL2[11:0]. */
    ck_assert_uint_eq(vcore_arm64_hpfar_to_ipa(0x0000000000400010ull, 0xffff000012345678ull),
                      0x40001678ull);
    ck_assert_uint_eq(vcore_arm64_hpfar_to_ipa(0x80000fedcba98760ull, 0xabc), 0x000fedcba9876abcull);
    uint64_t ipa = 0;
    /* PAR_EL1.F = 0: PA[51:12] in bits[51:12]; attributes in 63:56 and SH in 8:7 are dropped. */
    ck_assert_int_eq(vcore_arm64_par_to_ipa(0xff0f123456789f80ull, 0x1234, &ipa), VCORE_OK);
    ck_assert_uint_eq(ipa, 0x000f123456789234ull);
    ck_assert_int_eq(vcore_arm64_par_to_ipa(0x809, 0, &ipa), VCORE_ERR_FAULT);
    ck_assert_int_eq(vcore_arm64_par_to_ipa(0, 0, NULL), VCORE_ERR_INVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("arm64_s2_geometry");
    TCase *t = tcase_create("geometry");
    tcase_add_test(t, every_ipa_4k);
    tcase_add_test(t, every_ipa_16k);
    tcase_add_test(t, every_ipa_64k);
    tcase_add_test(t, vtcr_worked_values);
    tcase_add_test(t, ps_from_host);
    tcase_add_test(t, start_level_needs_pamax);
    tcase_add_test(t, refusals);
    tcase_add_test(t, cap_at_sixteen_tables);
    tcase_add_test(t, bad_args);
    suite_add_tcase(s, t);
    TCase *a = tcase_create("addresses");
    tcase_add_test(a, oa_encodings);
    tcase_add_test(a, vttbr);
    tcase_add_test(a, hpfar_par);
    suite_add_tcase(s, a);
    return s;
}

int main(void)
{
    return vcore_test_run(suite());
}
