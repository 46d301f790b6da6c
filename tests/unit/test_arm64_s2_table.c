/*
 * Unit tests: the stage-2 page-table builder (src/core/arm64/s2_table.c,
 * s2_desc.c, s2_pool.c) over a strict fake host.
 *
 * Expected descriptors are composed from the Arm ARM's stage-2 descriptor
 * fields: bits[1:0] 0b11 page/table, 0b01 block; MemAttr[5:2] 0b1111 Normal
 * Write-Back, 0b0001 Device-nGnRE; S2AP[7:6] (bit 6 read, bit 7 write);
 * SH[9:8] 0b11; AF bit 10; XN[54:53] 0b00 exec EL1+EL0, 0b10 none,
 * 0b11 EL1 only, 0b01 EL0 only (FEAT_XNX). Block sizes: 4KB L1 1 GiB,
 * L2 2 MiB; 16KB L2 32 MiB; 64KB L2 512 MiB.
 */
#define _POSIX_C_SOURCE 200809L
#include <virtcore/arm64/stage2.h>

#include "core/arm64/arm64.h"
#include "s2_fake_host.h"
#include "support.h"

#define MMFR0_QEMU_MAX 0x0000032310201126ull
#define MMFR1_VMID16_XNX ((2ull << 4) | (1ull << 28))
#define KB(x) ((uint64_t)(x) << 10)
#define MB(x) ((uint64_t)(x) << 20)
#define GB(x) ((uint64_t)(x) << 30)

/* Descriptor field values (Arm ARM, stage 2 block and page descriptors). */
#define D_PAGE 0x3ull
#define D_BLOCK 0x1ull
#define D_NORMAL (0xfull << 2)
#define D_DEVICE (0x1ull << 2)
#define D_R (1ull << 6)
#define D_W (1ull << 7)
#define D_SH (3ull << 8)
#define D_AF (1ull << 10)
#define D_XN_NONE (2ull << 53)
#define D_XN_EL0 (3ull << 53) /* EL1 may execute, EL0 may not */
#define D_XN_EL1 (1ull << 53) /* EL0 may execute, EL1 may not */

static fake_host_t fh;
static uint8_t store[64 * 1024] __attribute__((aligned(16)));

/* TLB callback recorder: what was asked, and what the table looked like. */
static struct {
    int calls;
    vcore_arm64_s2_tlbi_t last;
    vcore_arm64_s2_t *s2;
    uint64_t probe;           /* IPA looked up during the callback */
    bool probe_mapped;
    uint64_t probe_desc;
} rec;

static void rec_tlbi(void *ctx, const vcore_arm64_s2_tlbi_t *t)
{
    (void)ctx;
    rec.calls++;
    rec.last = *t;
    if (rec.s2) {
        vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
        ck_assert_int_eq(vcore_arm64_s2_lookup(rec.s2, rec.probe, &l), VCORE_OK);
        rec.probe_mapped = l.mapped;
        rec.probe_desc = l.desc;
    }
}

static vcore_arm64_s2_t *mk(uint32_t ipa, uint32_t granule, uint32_t flags, uint64_t pa_base)
{
    vcore_arm64_s2_table_config_t c;
    vcore_arm64_s2_t *s2 = NULL;
    vcore_diag_t d = {.size = sizeof(d)};
    memset(&rec, 0, sizeof(rec));
    fh_init(&fh, pa_base);
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.geometry.size = sizeof(c.geometry);
    c.geometry.ipa_bits = ipa;
    c.geometry.granule = granule;
    c.geometry.mmfr0 = MMFR0_QEMU_MAX;
    c.geometry.mmfr1 = MMFR1_VMID16_XNX;
    c.geometry.flags = flags;
    c.host = &fh.host;
    c.tlbi = rec_tlbi;
    ck_assert_uint_le(vcore_arm64_s2_storage_size(), sizeof(store));
    ck_assert_int_eq(vcore_arm64_s2_init(store, sizeof(store), &c, &s2, &d), VCORE_OK);
    rec.s2 = s2;
    return s2;
}

static void done(vcore_arm64_s2_t *s2)
{
    vcore_arm64_s2_fini(s2);
    ck_assert_uint_eq(fh.outstanding, 0); /* every page went back to the host */
}

static vcore_arm64_s2_stats_t stats(const vcore_arm64_s2_t *s2)
{
    vcore_arm64_s2_stats_t st = {.size = sizeof(st)};
    ck_assert_int_eq(vcore_arm64_s2_stats(s2, &st), VCORE_OK);
    /* The pool's accounting always matches what is reachable. */
    ck_assert_uint_eq(st.tables, st.tables_in_use);
    return st;
}

static vcore_arm64_s2_lookup_t look(const vcore_arm64_s2_t *s2, uint64_t ipa)
{
    vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
    ck_assert_int_eq(vcore_arm64_s2_lookup(s2, ipa, &l), VCORE_OK);
    return l;
}

static void map_ok(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa, uint64_t len, uint32_t prot)
{
    vcore_diag_t d = {.size = sizeof(d)};
    int rc = vcore_arm64_s2_map(s2, ipa, pa, len, prot, NULL, &d);
    ck_assert_msg(rc == VCORE_OK, "map %llx: %d %s", (unsigned long long)ipa, rc,
                  d.name ? d.name : "-");
}

START_TEST(init_root)
{
    /* 4KB IPA 40: two concatenated level-1 tables, aligned to 8 KiB; the
     * fake host's first placement is misaligned, so the pool draws again. */
    fake_host_t *f = &fh;
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    /* An aligned placement: exactly the two root pages. */
    ck_assert_uint_eq(stats(s2).host_pages, 2);
    done(s2);
    fh_init(f, 0x80000000ull);
    f->misalign = 4096;
    vcore_arm64_s2_table_config_t c;
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.geometry.size = sizeof(c.geometry);
    c.geometry.ipa_bits = 40;
    c.geometry.granule = VCORE_ARM64_GRANULE_4K;
    c.geometry.mmfr0 = MMFR0_QEMU_MAX;
    c.host = &f->host;
    c.tlbi = rec_tlbi;
    ck_assert_int_eq(vcore_arm64_s2_init(store, sizeof(store), &c, &s2, NULL), VCORE_OK);
    ck_assert_uint_eq(vcore_arm64_s2_root_pa(s2) & 0x1fff, 0);
    ck_assert_uint_eq(vcore_arm64_s2_get_geom(s2)->concat, 2);
    vcore_arm64_s2_stats_t st = stats(s2);
    ck_assert_uint_eq(st.tables, 2);
    ck_assert_uint_eq(st.table_bytes, KB(8));
    /* Drawn again with one page of slack to align the 8 KiB root. */
    ck_assert_uint_eq(st.host_pages, 3);
    done(s2);
    /* No pages at all: NOMEM, nothing kept. */
    fh_init(f, 0x80000000ull);
    f->fail_after = 0;
    ck_assert_int_eq(vcore_arm64_s2_init(store, sizeof(store), &c, &s2, NULL), VCORE_ERR_NOMEM);
    ck_assert_uint_eq(f->outstanding, 0);
    /* Configuration errors. */
    c.tlbi = NULL;
    ck_assert_int_eq(vcore_arm64_s2_init(store, sizeof(store), &c, &s2, NULL), VCORE_ERR_INVAL);
    c.tlbi = rec_tlbi;
    fake_host_t nofree = *f;
    nofree.host.ctx = f;
    nofree.host.free_pages = NULL;
    c.host = &nofree.host;
    ck_assert_int_eq(vcore_arm64_s2_init(store, sizeof(store), &c, &s2, NULL), VCORE_ERR_INVAL);
    c.host = &f->host;
    ck_assert_int_eq(vcore_arm64_s2_init(store, 16, &c, &s2, NULL), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_arm64_s2_init(store, vcore_arm64_s2_storage_size() - 1, &c, &s2, NULL), VCORE_ERR_BUFSZ);
    f->fail_after = -1;
    ck_assert_int_eq(vcore_arm64_s2_init(store, vcore_arm64_s2_storage_size(), &c, &s2, NULL), VCORE_OK);
    vcore_arm64_s2_lookup_t lk = {.size = sizeof(lk)};
    vcore_arm64_s2_stats_t stn = {.size = sizeof(stn)};
    ck_assert_int_eq(vcore_arm64_s2_lookup(s2, 0, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_s2_lookup(NULL, 0, &lk), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_s2_stats(s2, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_s2_stats(NULL, &stn), VCORE_ERR_INVAL);
    vcore_arm64_s2_fini(s2);
    ck_assert_uint_eq(f->outstanding, 0);
    ck_assert_int_eq(vcore_arm64_s2_init(store + 8, sizeof(store) - 8, &c, &s2, NULL), VCORE_ERR_BUFSZ);
    c.geometry.ipa_bits = 60; /* above the implemented 52 bits */
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_arm64_s2_init(store, sizeof(store), &c, &s2, &d), VCORE_ERR_RANGE);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_IPA_ABOVE_PARANGE);
}
END_TEST

START_TEST(blocks_4k)
{
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    /* An aligned 1 GiB is one level-1 block: no table below the root. */
    map_ok(s2, GB(1), GB(2), GB(1), VCORE_ARM64_S2_RWX);
    vcore_arm64_s2_lookup_t l = look(s2, GB(1) + 0x12345);
    ck_assert(l.mapped);
    ck_assert_int_eq(l.level, 1);
    ck_assert_uint_eq(l.pa, GB(2) + 0x12345);
    ck_assert_uint_eq(l.leaf_size, GB(1));
    ck_assert_uint_eq(l.desc, GB(2) | D_BLOCK | D_NORMAL | D_R | D_W | D_SH | D_AF);
    vcore_arm64_s2_stats_t st = stats(s2);
    ck_assert_uint_eq(st.block_entries[2], 1);
    ck_assert_uint_eq(st.tables, 2);
    /* 2 MiB aligned: one level-2 block under one new level-2 table. */
    map_ok(s2, GB(4) + MB(2), GB(8), MB(2), VCORE_ARM64_S2_R);
    l = look(s2, GB(4) + MB(3));
    ck_assert_int_eq(l.level, 2);
    ck_assert_uint_eq(l.desc, (GB(8)) | D_BLOCK | D_NORMAL | D_R | D_SH | D_AF | D_XN_NONE);
    /* 4 KiB: a page under a new level-3 table. */
    map_ok(s2, GB(5) + KB(4), 0x90001000ull, KB(4), VCORE_ARM64_S2_R | VCORE_ARM64_S2_W |
                                                   VCORE_ARM64_S2_DEVICE);
    l = look(s2, GB(5) + KB(4));
    ck_assert_int_eq(l.level, 3);
    ck_assert_uint_eq(l.desc, 0x90001000ull | D_PAGE | D_DEVICE | D_R | D_W | D_SH | D_AF | D_XN_NONE);
    ck_assert_uint_eq(l.prot, VCORE_ARM64_S2_R | VCORE_ARM64_S2_W | VCORE_ARM64_S2_DEVICE);
    st = stats(s2);
    ck_assert_uint_eq(st.block_entries[2], 1);
    ck_assert_uint_eq(st.block_entries[3], 1);
    ck_assert_uint_eq(st.page_entries, 1);
    ck_assert_uint_eq(st.table_entries[2], 2);
    ck_assert_uint_eq(st.table_entries[3], 1);
    ck_assert_uint_eq(st.tables, 2 + 2 + 1);
    /* 1 GiB + 2 MiB + 4 KiB from 1 GiB - 4 KiB: page, 511 pages, ... the edges in pages,
     * the aligned middle in blocks. Range [1G-4K, 2G+2M+4K) over PA shifted alike. */
    map_ok(s2, GB(16) - KB(4), GB(32) - KB(4), GB(1) + MB(2) + KB(8), VCORE_ARM64_S2_RWX);
    l = look(s2, GB(16) - KB(4));
    ck_assert_int_eq(l.level, 3);
    l = look(s2, GB(16));
    ck_assert_int_eq(l.level, 1);
    l = look(s2, GB(17));
    ck_assert_int_eq(l.level, 2);
    l = look(s2, GB(17) + MB(2));
    ck_assert_int_eq(l.level, 3);
    ck_assert_uint_eq(l.pa, GB(33) + MB(2));
    /* Same range with an output address that is only page aligned: pages only. */
    map_ok(s2, GB(64), GB(128) + KB(4), MB(2), VCORE_ARM64_S2_RWX);
    st = stats(s2);
    l = look(s2, GB(64) + MB(2) - 1);
    ck_assert_int_eq(l.level, 3);
    ck_assert_uint_eq(l.pa, GB(128) + MB(2) + KB(4) - 1);
    /* New mappings into empty entries need no TLB maintenance. */
    ck_assert_int_eq(rec.calls, 0);
    done(s2);
}
END_TEST

START_TEST(blocks_16k_64k_lpa)
{
    /* 16KB: 32 MiB blocks at level 2. */
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_16K, 0, 0x80000000ull);
    map_ok(s2, MB(64), GB(2), MB(32), VCORE_ARM64_S2_RWX);
    vcore_arm64_s2_lookup_t l = look(s2, MB(64));
    ck_assert_int_eq(l.level, 2);
    ck_assert_uint_eq(l.leaf_size, MB(32));
    map_ok(s2, MB(96), GB(3), KB(16), VCORE_ARM64_S2_RWX);
    l = look(s2, MB(96));
    ck_assert_int_eq(l.level, 3);
    ck_assert_uint_eq(l.desc, GB(3) | D_PAGE | D_NORMAL | D_R | D_W | D_SH | D_AF);
    done(s2);
    /* 64KB: 512 MiB blocks at level 2; FEAT_LPA: 4 TiB blocks at level 1 and
     * OA[51:48] in bits[15:12]. */
    s2 = mk(52, VCORE_ARM64_GRANULE_64K, 0, 0x80000000ull);
    map_ok(s2, MB(512), 0x000a000020000000ull, MB(512), VCORE_ARM64_S2_R | VCORE_ARM64_S2_X);
    l = look(s2, MB(512) + 5);
    ck_assert_int_eq(l.level, 2);
    ck_assert_uint_eq(l.pa, 0x000a000020000005ull);
    ck_assert_uint_eq(l.desc, 0x20000000ull | (0xaull << 12) | D_BLOCK | D_NORMAL | D_R | D_SH | D_AF);
    map_ok(s2, 1ull << 42, 1ull << 50, 1ull << 42, VCORE_ARM64_S2_R);
    l = look(s2, (1ull << 42) + 7);
    ck_assert_int_eq(l.level, 1);
    ck_assert_uint_eq(l.leaf_size, 1ull << 42);
    ck_assert_uint_eq(l.pa, (1ull << 50) + 7);
    done(s2);
    /* 4KB with LPA2: level-0 512 GiB blocks, OA[51:50] in bits[9:8], no SH bits. */
    s2 = mk(52, VCORE_ARM64_GRANULE_4K, VCORE_ARM64_S2_F_LPA2, 0x000c000000000000ull);
    map_ok(s2, GB(512), 0x000c008000000000ull, GB(512), VCORE_ARM64_S2_R);
    l = look(s2, GB(512));
    ck_assert_int_eq(l.level, 0);
    ck_assert_uint_eq(l.desc, 0x0000008000000000ull | (3ull << 8) | D_BLOCK | D_NORMAL | D_R | D_AF |
                                  D_XN_NONE);
    /* Tables above 2^48 are linked with their address bits [51:50] in [9:8]. */
    map_ok(s2, KB(4), 0x000f000000001000ull, KB(4), VCORE_ARM64_S2_R);
    l = look(s2, KB(4));
    ck_assert_int_eq(l.level, 3);
    ck_assert_uint_eq(l.pa, 0x000f000000001000ull);
    done(s2);
    /* 16KB with LPA2: level-1 64 GiB blocks. */
    s2 = mk(52, VCORE_ARM64_GRANULE_16K, VCORE_ARM64_S2_F_LPA2, 0x80000000ull);
    map_ok(s2, GB(64), GB(128), GB(64), VCORE_ARM64_S2_R);
    ck_assert_int_eq(look(s2, GB(100)).level, 1);
    done(s2);
}
END_TEST

START_TEST(permissions)
{
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    static const struct {
        uint32_t prot;
        uint64_t bits;
    } r[] = {
        {VCORE_ARM64_S2_R, D_R | D_XN_NONE},
        {VCORE_ARM64_S2_W, D_W | D_XN_NONE},
        {0, D_XN_NONE},
        {VCORE_ARM64_S2_X, 0},
        {VCORE_ARM64_S2_R | VCORE_ARM64_S2_X_EL1, D_R | D_XN_EL0},
        {VCORE_ARM64_S2_R | VCORE_ARM64_S2_X_EL0, D_R | D_XN_EL1},
    };
    for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        uint64_t ipa = MB(2) + i * KB(4);
        map_ok(s2, ipa, 0x40000000ull + i * KB(4), KB(4), r[i].prot);
        vcore_arm64_s2_lookup_t l = look(s2, ipa);
        ck_assert_uint_eq(l.desc, (0x40000000ull + i * KB(4)) | D_PAGE | D_NORMAL | D_SH | D_AF | r[i].bits);
        ck_assert_uint_eq(l.prot, r[i].prot);
    }
    done(s2);
    /* Without FEAT_XNX, execute at only one EL cannot be expressed. */
    vcore_arm64_s2_table_config_t c;
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.geometry.size = sizeof(c.geometry);
    c.geometry.ipa_bits = 40;
    c.geometry.granule = VCORE_ARM64_GRANULE_4K;
    c.geometry.mmfr0 = MMFR0_QEMU_MAX;
    c.host = &fh.host;
    c.tlbi = rec_tlbi;
    fh_init(&fh, 0x80000000ull);
    ck_assert_int_eq(vcore_arm64_s2_init(store, sizeof(store), &c, &s2, NULL), VCORE_OK);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_arm64_s2_map(s2, 0, 0, KB(4), VCORE_ARM64_S2_X_EL1, NULL, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_XN_PER_EL);
    map_ok(s2, 0, 0, KB(4), VCORE_ARM64_S2_X);
    ck_assert_uint_eq(look(s2, 0).desc, D_PAGE | D_NORMAL | D_SH | D_AF);
    done(s2);
}
END_TEST

START_TEST(refusals)
{
    vcore_arm64_s2_t *s2 = mk(36, VCORE_ARM64_GRANULE_16K, 0, 0x80000000ull);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_arm64_s2_prepare_map(s2, KB(4), 0, KB(16), VCORE_ARM64_S2_R, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_ALIGN);
    ck_assert_int_eq(vcore_arm64_s2_prepare_map(s2, 0, KB(4), KB(16), VCORE_ARM64_S2_R, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_ALIGN);
    ck_assert_int_eq(vcore_arm64_s2_prepare_map(s2, 0, 0, 0, VCORE_ARM64_S2_R, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_ALIGN);
    ck_assert_int_eq(vcore_arm64_s2_prepare_unmap(s2, KB(8), KB(16), &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_ALIGN);
    /* The IPA space is [0, 64 GiB). */
    ck_assert_int_eq(vcore_arm64_s2_prepare_map(s2, GB(64) - KB(16), 0, KB(32), VCORE_ARM64_S2_R, &d),
                     VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_IPA_RANGE);
    ck_assert_int_eq(vcore_arm64_s2_prepare_unmap(s2, GB(64), KB(16), &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_IPA_RANGE);
    ck_assert_int_eq(vcore_arm64_s2_prepare_unmap(s2, KB(16), ~0ull - KB(16) + 1, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_IPA_RANGE);
    /* Output addresses stop at 2^48 (PS = 48 bits for 16KB without LPA2). */
    ck_assert_int_eq(vcore_arm64_s2_prepare_map(s2, 0, (1ull << 48) - KB(16), KB(32), VCORE_ARM64_S2_R, &d),
                     VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_OA_RANGE);
    ck_assert_int_eq(vcore_arm64_s2_prepare_map(s2, 0, 0, KB(16), 1u << 5, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MAP_PROT_INVALID);
    /* The last granule of the IPA space is fine. */
    map_ok(s2, GB(64) - KB(16), GB(1), KB(16), VCORE_ARM64_S2_R);
    /* One change at a time. */
    ck_assert_int_eq(vcore_arm64_s2_commit(s2, NULL), VCORE_ERR_STATE);
    ck_assert_int_eq(vcore_arm64_s2_prepare_map(s2, 0, 0, KB(16), VCORE_ARM64_S2_R, &d), VCORE_OK);
    ck_assert_int_eq(vcore_arm64_s2_prepare_unmap(s2, 0, KB(16), &d), VCORE_ERR_STATE);
    vcore_arm64_s2_cancel(s2);
    ck_assert(!look(s2, 0).mapped);
    vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
    ck_assert_int_eq(vcore_arm64_s2_lookup(s2, GB(64), &l), VCORE_ERR_RANGE);
    stats(s2);
    done(s2);
}
END_TEST

/* Unmapping 4 KiB inside a 1 GiB block: prepare reserves the level-2 and
 * level-3 tables; commit breaks the block, asks for one TLBI of the block,
 * then installs the new tables. */
START_TEST(unmap_splits_block)
{
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    map_ok(s2, GB(3), GB(5), GB(1), VCORE_ARM64_S2_RWX);
    vcore_arm64_s2_stats_t before = stats(s2);
    uint64_t hole = GB(3) + MB(10) + KB(4);
    ck_assert_int_eq(vcore_arm64_s2_prepare_unmap(s2, hole, KB(4), NULL), VCORE_OK);
    vcore_arm64_s2_stats_t mid = stats(s2);
    ck_assert_uint_eq(mid.tables, before.tables); /* nothing linked yet */
    /* Two tables reserved: they are neither free nor reachable. */
    ck_assert_uint_eq(before.tables_free + (mid.host_pages - before.host_pages) - mid.tables_free, 2);
    rec.probe = GB(3);
    vcore_arm64_s2_tlbi_t t;
    ck_assert_int_eq(vcore_arm64_s2_commit(s2, &t), VCORE_OK);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert(!rec.probe_mapped); /* the block was invalid during the TLB maintenance */
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_IPA);
    ck_assert_uint_eq(t.ipa, GB(3));
    ck_assert_uint_eq(t.len, GB(1));
    ck_assert_uint_eq(t.stride, GB(1));
    ck_assert(!look(s2, hole).mapped);
    ck_assert_int_eq(look(s2, hole).level, 3);
    vcore_arm64_s2_lookup_t l = look(s2, hole - KB(4));
    ck_assert(l.mapped);
    ck_assert_int_eq(l.level, 3);
    ck_assert_uint_eq(l.pa, GB(5) + MB(10));
    l = look(s2, hole + KB(4));
    ck_assert_uint_eq(l.pa, GB(5) + MB(10) + KB(8));
    ck_assert_uint_eq(l.desc, (GB(5) + MB(10) + KB(8)) | D_PAGE | D_NORMAL | D_R | D_W | D_SH | D_AF);
    l = look(s2, GB(4) - 1);
    ck_assert_int_eq(l.level, 2);
    ck_assert_uint_eq(l.pa, GB(6) - 1);
    vcore_arm64_s2_stats_t st = stats(s2);
    ck_assert_uint_eq(st.block_entries[2], 0);
    ck_assert_uint_eq(st.block_entries[3], 511);
    ck_assert_uint_eq(st.page_entries, 511);
    ck_assert_uint_eq(st.tables, before.tables + 2);
    /* Unmapping the rest of the 1 GiB removes both tables again. */
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, GB(3), GB(1), &t, NULL), VCORE_OK);
    st = stats(s2);
    ck_assert_uint_eq(st.tables, 2);
    ck_assert_uint_eq(st.page_entries, 0);
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_VMID); /* 4 KiB stride over 1 GiB */
    done(s2);
}
END_TEST

/* Copies every reachable table, in walk order, into buf; returns the new offset. */
static size_t snap_tree(const vcore_arm64_s2_t *s2, const uint64_t *t, int32_t level, uint8_t *buf,
                        size_t off, size_t cap)
{
    const vcore_arm64_s2_geom_t *g = &s2->geom;
    size_t n = level == g->start_level ? g->root_entries : (1u << (g->granule_shift - 3));
    ck_assert_uint_le(off + n * 8, cap);
    memcpy(buf + off, t, n * 8);
    off += n * 8;
    for (size_t i = 0; i < n; i++) {
        if (level < 3 && (t[i] & 3) == 3) {
            const uint64_t *c = vcore__arm64_s2_pool_va(&s2->pool, vcore_arm64_s2_desc_to_oa(g, t[i], level));
            ck_assert_ptr_nonnull(c);
            off = snap_tree(s2, c, level + 1, buf, off, cap);
        }
    }
    return off;
}

static uint8_t snap_a[1 << 20], snap_b[1 << 20];

/* NOMEM during prepare: the tables and the pool's accounting are untouched. */
START_TEST(prepare_nomem_leaves_table)
{
    vcore_arm64_s2_t *s2 = mk(36, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    map_ok(s2, GB(1), GB(2), GB(1), VCORE_ARM64_S2_RWX);
    map_ok(s2, GB(2) + MB(2), GB(9), MB(2), VCORE_ARM64_S2_R);
    map_ok(s2, GB(3), GB(10), KB(4), VCORE_ARM64_S2_R);
    vcore_arm64_s2_stats_t before = stats(s2);
    const vcore_arm64_s2_geom_t *g = vcore_arm64_s2_get_geom(s2);
    ck_assert_uint_eq(g->root_entries, 64);
    /* The free tables of the pool are used up first; then the host fails. */
    for (int attempt = 0; attempt < 3; attempt++) {
        size_t na = snap_tree(s2, s2->root, g->start_level, snap_a, 0, sizeof(snap_a));
        uint64_t in_use = s2->tables_in_use, nfree = s2->pool.nfree;
        fh.fail_after = 0;
        /* Unmapping 4 KiB inside the 1 GiB block needs two new tables, plus
         * mapping a page inside the 2 MiB block needs one: more than the pool
         * holds (it grows in chunks of 4, 8, ... and the host refuses). */
        vcore_diag_t d = {.size = sizeof(d)};
        int rc = vcore_arm64_s2_prepare_unmap(s2, GB(1) + MB(6) + KB(4) * (uint64_t)attempt, KB(4), &d);
        if (rc == VCORE_OK) {
            vcore_arm64_s2_cancel(s2);
            /* The pool had enough free tables: drain it with a map of many pages. */
            rc = vcore_arm64_s2_prepare_map(s2, GB(4) + KB(4), GB(12) + KB(4), MB(64) - KB(8),
                                            VCORE_ARM64_S2_R, &d);
        }
        ck_assert_int_eq(rc, VCORE_ERR_NOMEM);
        size_t nb = snap_tree(s2, s2->root, g->start_level, snap_b, 0, sizeof(snap_b));
        ck_assert_uint_eq(s2->tables_in_use, in_use);
        ck_assert_uint_eq(s2->pool.nfree, nfree);
        ck_assert_uint_eq(s2->nreserve, 0);
        ck_assert_uint_eq(na, nb);
        ck_assert(memcmp(snap_a, snap_b, na) == 0);
        vcore_arm64_s2_stats_t after = stats(s2);
        ck_assert_uint_eq(after.tables, before.tables);
        ck_assert_uint_eq(after.tables_in_use, before.tables_in_use);
        ck_assert_uint_eq(memcmp(after.block_entries, before.block_entries, sizeof(before.block_entries)), 0);
        ck_assert_uint_eq(after.page_entries, before.page_entries);
        /* Every table drawn is either reachable or free: none is lost. */
        uint64_t per_table = 1;
        ck_assert_uint_ge(after.host_pages * per_table, after.tables + after.tables_free);
        ck_assert_int_eq(rec.calls, 0);
    }
    /* With memory again, the same change works. */
    fh.fail_after = -1;
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, GB(1) + MB(6), KB(4), NULL, NULL), VCORE_OK);
    ck_assert(!look(s2, GB(1) + MB(6)).mapped);
    ck_assert(look(s2, GB(1) + MB(6) + KB(4)).mapped);
    done(s2);
}
END_TEST

/* Break-before-make: a remap to another output address is invalid while the
 * TLB callback runs; a permission-only change is not broken. */
START_TEST(remap_bbm)
{
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    map_ok(s2, MB(8), GB(1), KB(4), VCORE_ARM64_S2_RWX);
    ck_assert_int_eq(rec.calls, 0);
    rec.probe = MB(8);
    vcore_arm64_s2_tlbi_t t;
    ck_assert_int_eq(vcore_arm64_s2_map(s2, MB(8), GB(1) + KB(4), KB(4), VCORE_ARM64_S2_RWX, &t, NULL), VCORE_OK);
    ck_assert_int_eq(rec.calls, 1);
    ck_assert(!rec.probe_mapped);
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_IPA);
    ck_assert_uint_eq(t.ipa, MB(8));
    ck_assert_uint_eq(t.len, KB(4));
    ck_assert_uint_eq(t.stride, KB(4));
    ck_assert_uint_eq(look(s2, MB(8)).pa, GB(1) + KB(4));
    /* Read-only: same address, new permissions, written before the TLBI. */
    ck_assert_int_eq(vcore_arm64_s2_map(s2, MB(8), GB(1) + KB(4), KB(4), VCORE_ARM64_S2_R, &t, NULL), VCORE_OK);
    ck_assert_int_eq(rec.calls, 2);
    ck_assert(rec.probe_mapped);
    ck_assert_uint_eq(rec.probe_desc, (GB(1) + KB(4)) | D_PAGE | D_NORMAL | D_R | D_SH | D_AF | D_XN_NONE);
    /* Same mapping again: nothing to do. */
    ck_assert_int_eq(vcore_arm64_s2_map(s2, MB(8), GB(1) + KB(4), KB(4), VCORE_ARM64_S2_R, &t, NULL), VCORE_OK);
    ck_assert_int_eq(rec.calls, 2);
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_NONE);
    /* Normal -> Device changes the memory type: broken first. */
    ck_assert_int_eq(vcore_arm64_s2_map(s2, MB(8), GB(1) + KB(4), KB(4), VCORE_ARM64_S2_R | VCORE_ARM64_S2_DEVICE, &t, NULL), VCORE_OK);
    ck_assert_int_eq(rec.calls, 3);
    ck_assert(!rec.probe_mapped);
    ck_assert_uint_eq(look(s2, MB(8)).prot, VCORE_ARM64_S2_R | VCORE_ARM64_S2_DEVICE);
    /* 512 pages become one 2 MiB block: the level-3 table is retired and
     * freed only after the TLB maintenance (4 KiB stride: 512 ops -> VMID). */
    map_ok(s2, MB(8), GB(2) + KB(4), MB(2), VCORE_ARM64_S2_RWX);
    vcore_arm64_s2_stats_t st = stats(s2);
    ck_assert_uint_eq(st.page_entries, 512);
    uint64_t tables = st.tables;
    ck_assert_int_eq(vcore_arm64_s2_map(s2, MB(8), GB(2), MB(2), VCORE_ARM64_S2_RWX, &t, NULL), VCORE_OK);
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_VMID);
    ck_assert(!rec.probe_mapped);
    st = stats(s2);
    ck_assert_uint_eq(st.tables, tables - 1);
    ck_assert_uint_eq(st.page_entries, 0);
    ck_assert_uint_eq(st.block_entries[3], 1);
    ck_assert_uint_eq(look(s2, MB(9)).pa, GB(2) + MB(1));
    done(s2);
}
END_TEST

/* TLB requests: one TLBI per changed entry up to 64, then the whole VMID. */
START_TEST(tlbi_scope)
{
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    map_ok(s2, MB(4) + KB(4), GB(1) + KB(4), KB(4) * 200, VCORE_ARM64_S2_RWX);
    vcore_arm64_s2_tlbi_t t;
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, MB(4) + KB(4), KB(4) * 64, &t, NULL), VCORE_OK);
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_IPA);
    ck_assert_uint_eq(t.ipa, MB(4) + KB(4));
    ck_assert_uint_eq(t.len, KB(4) * 64);
    ck_assert_uint_eq(t.stride, KB(4));
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, MB(4) + KB(4) * 65, KB(4) * 65, &t, NULL), VCORE_OK);
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_VMID);
    /* Unmapping what is not mapped asks for nothing. */
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, GB(100), GB(1), &t, NULL), VCORE_OK);
    ck_assert_uint_eq(t.scope, VCORE_ARM64_S2_TLBI_NONE);
    ck_assert_int_eq(rec.calls, 2);
    /* Unmap the remaining 71 pages: the level-3 and level-2 tables go. */
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, 0, GB(1), &t, NULL), VCORE_OK);
    vcore_arm64_s2_stats_t st = stats(s2);
    ck_assert_uint_eq(st.tables, 2);
    ck_assert_uint_eq(st.tables_free + st.tables, st.tables_free + 2);
    done(s2);
}
END_TEST

/* Unmaps that empty a table remove it, also when the range only partly
 * covers the parent entry; an unmap of one page of a full table keeps the
 * other 511 pages. */
START_TEST(unmap_frees_empty_tables)
{
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    map_ok(s2, GB(5) + KB(4), GB(7), KB(12), VCORE_ARM64_S2_R);
    vcore_arm64_s2_stats_t st = stats(s2);
    ck_assert_uint_eq(st.tables, 2 + 2); /* one level-2 and one level-3 table */
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, GB(5) + KB(4), KB(12), NULL, NULL), VCORE_OK);
    st = stats(s2);
    ck_assert_uint_eq(st.tables, 2);
    ck_assert_int_eq(look(s2, GB(5) + KB(4)).level, 1);
    /* A full level-3 table (pages only: the output is not 2 MiB aligned). */
    map_ok(s2, GB(6), GB(9) + KB(4), MB(2), VCORE_ARM64_S2_R);
    map_ok(s2, GB(6) + MB(2), GB(10), KB(4), VCORE_ARM64_S2_R);
    st = stats(s2);
    ck_assert_uint_eq(st.page_entries, 513);
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, GB(6) + MB(1), KB(4), NULL, NULL), VCORE_OK);
    st = stats(s2);
    ck_assert_uint_eq(st.page_entries, 512);
    ck_assert_uint_eq(st.tables, 2 + 1 + 2);
    ck_assert(look(s2, GB(6)).mapped);
    ck_assert(look(s2, GB(6) + MB(2) - KB(4)).mapped);
    ck_assert(!look(s2, GB(6) + MB(1)).mapped);
    /* The first of two level-3 tables emptied by a range that ends inside the second. */
    ck_assert_int_eq(vcore_arm64_s2_unmap(s2, GB(6), MB(2) + KB(4), NULL, NULL), VCORE_OK);
    st = stats(s2);
    ck_assert_uint_eq(st.page_entries, 0);
    ck_assert_uint_eq(st.tables, 2);
    done(s2);
}
END_TEST

/* Pool growth: chunks of 4, 8, ... 256 tables, then 256 at a time. A 1 GiB
 * mapping in pages (output not 2 MiB aligned) needs 512 level-3 tables and
 * one level-2 table: 513 = 508 from the first seven chunks + 5 of an eighth
 * chunk of 256. */
START_TEST(pool_growth)
{
    vcore_arm64_s2_t *s2 = mk(40, VCORE_ARM64_GRANULE_4K, 0, 0x80000000ull);
    map_ok(s2, GB(1), GB(4) + KB(4), GB(1), VCORE_ARM64_S2_R);
    vcore_arm64_s2_stats_t st = stats(s2);
    ck_assert_uint_eq(st.tables, 2 + 1 + 512);
    ck_assert_uint_eq(st.page_entries, 262144);
    ck_assert_uint_eq(st.host_pages, 2 + 4 + 8 + 16 + 32 + 64 + 128 + 256 + 256);
    ck_assert_uint_eq(st.tables_free, 508 + 256 - 513);
    done(s2);
}
END_TEST

/* Accounting over a mixed sequence: after unmapping everything only the
 * root is in use, every other table is free, nothing leaks at fini. */
START_TEST(accounting)
{
    static const uint32_t grans[] = {VCORE_ARM64_GRANULE_4K, VCORE_ARM64_GRANULE_16K,
                                     VCORE_ARM64_GRANULE_64K};
    for (unsigned gi = 0; gi < 3; gi++) {
        vcore_arm64_s2_t *s2 = mk(44, grans[gi], 0, 0x100000000ull);
        uint64_t gsz = grans[gi];
        uint64_t seed = 12345;
        for (int i = 0; i < 300; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t ipa = ((seed >> 20) % 4096) * gsz * 37 % (GB(16));
            uint64_t len = (((seed >> 40) % 700) + 1) * gsz;
            ipa &= ~(gsz - 1);
            if (seed & 1)
                map_ok(s2, ipa, GB(64) + ipa, len, VCORE_ARM64_S2_RWX);
            else
                ck_assert_int_eq(vcore_arm64_s2_unmap(s2, ipa, len, NULL, NULL), VCORE_OK);
            stats(s2);
        }
        ck_assert_int_eq(vcore_arm64_s2_unmap(s2, 0, 1ull << 44, NULL, NULL), VCORE_OK);
        vcore_arm64_s2_stats_t st = stats(s2);
        ck_assert_uint_eq(st.tables, vcore_arm64_s2_get_geom(s2)->concat);
        ck_assert_uint_eq(st.page_entries, 0);
        done(s2);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("arm64_s2_table");
    TCase *t = tcase_create("table");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, init_root);
    tcase_add_test(t, blocks_4k);
    tcase_add_test(t, blocks_16k_64k_lpa);
    tcase_add_test(t, permissions);
    tcase_add_test(t, refusals);
    tcase_add_test(t, unmap_splits_block);
    tcase_add_test(t, prepare_nomem_leaves_table);
    tcase_add_test(t, remap_bbm);
    tcase_add_test(t, tlbi_scope);
    tcase_add_test(t, unmap_frees_empty_tables);
    tcase_add_test(t, pool_growth);
    tcase_add_test(t, accounting);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(suite());
}
