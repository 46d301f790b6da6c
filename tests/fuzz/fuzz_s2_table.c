/* libFuzzer target: random map/unmap sequences on a stage-2 table against a
 * reference model: one entry per granule of the first 64 MiB of the IPA
 * space ("fine" inputs), or one entry per level-2 block (2 MiB, 32 MiB,
 * 512 MiB) over 2048 blocks ("coarse" inputs, where level-1 blocks and
 * whole-table replacements happen). Invariants, after every operation:
 *  - every granule translates exactly as the model says (mapped or not,
 *    output address, permissions and memory type);
 *  - a prepare that fails with VCORE_ERR_NOMEM (injected) changes nothing;
 *  - the tables reachable from the root are the tables the pool counts as
 *    in use (no leak, no double use); during the TLB callback the entries
 *    being replaced with a new address are not valid (break-before-make);
 * and at the end, unmapping everything leaves only the root and every page
 * goes back to the host. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/arm64/stage2.h>
#include <virtcore/error.h>

#include "../unit/s2_fake_host.h"
#include "fuzz_common_s2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION (64ull << 20)
#define MAXG (REGION / 4096u)
#define COARSE_UNITS 2048u

typedef struct ent {
    uint8_t mapped;
    uint32_t prot;
    uint64_t pa;
} ent_t;

static ent_t model[MAXG];
static fake_host_t fh;
static uint8_t store[64 * 1024] __attribute__((aligned(16)));
static vcore_arm64_s2_t *cur;
static uint64_t op_lo, op_hi;
static uint64_t unit, nunits; /* model granularity and size */

/* Break-before-make: while the TLB callback runs, no granule of the change's
 * range may translate to a new output address. */
static void tlbi_cb(void *ctx, const vcore_arm64_s2_tlbi_t *req)
{
    (void)ctx;
    if (req->scope == VCORE_ARM64_S2_TLBI_IPA && (req->stride == 0 || req->len == 0 ||
                                                   req->len / req->stride > VCORE_ARM64_S2_TLBI_MAX_OPS))
        abort();
    for (uint64_t ipa = op_lo; ipa < op_hi; ipa += unit) {
        vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
        if (vcore_arm64_s2_lookup(cur, ipa, &l) != VCORE_OK)
            abort();
        const ent_t *m = &model[ipa / unit];
        if (l.mapped && (!m->mapped || l.pa != m->pa))
            abort(); /* valid with an address the model no longer has, or never had */
    }
}

static void check_one(uint64_t gsz, uint64_t i)
{
    vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
    /* Probe a different granule of each unit, at a different offset. */
    uint64_t off = (unit / gsz > 1 ? (i * 40503u) % (unit / gsz) * gsz : 0) + (i % 7) * 8;
    if (vcore_arm64_s2_lookup(cur, i * unit + off, &l) != VCORE_OK)
        abort();
    if (l.mapped != model[i].mapped)
        abort();
    if (l.mapped && (l.pa != model[i].pa + off || l.prot != model[i].prot))
        abort();
}

/* After one change: its edges (where blocks split and tables merge) and a
 * spread of granules over the region; everything at the end of an input. */
static void check_some(uint64_t gsz, uint64_t first, uint64_t count)
{
    uint64_t n = nunits;
    for (uint64_t k = 0; k < 4; k++) {
        if (first >= k + 1)
            check_one(gsz, first - k - 1);
        if (first + count + k < n)
            check_one(gsz, first + count + k);
        if (k < count) {
            check_one(gsz, first + k);
            check_one(gsz, first + count - 1 - k);
        }
    }
    for (uint64_t i = (first * 2654435761u) % 97u; i < n; i += 97u)
        check_one(gsz, i);
    vcore_arm64_s2_stats_t st = {.size = sizeof(st)};
    if (vcore_arm64_s2_stats(cur, &st) != VCORE_OK || st.tables != st.tables_in_use)
        abort();
}

static void check_all(uint64_t gsz)
{
    for (uint64_t i = 0; i < nunits; i++)
        check_one(gsz, i);
    vcore_arm64_s2_stats_t st = {.size = sizeof(st)};
    if (vcore_arm64_s2_stats(cur, &st) != VCORE_OK || st.tables != st.tables_in_use)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz2_in_t in = {data, size, 0};
    static const uint32_t grans[3] = {4096, 16384, 65536};
    uint32_t sel = (uint32_t)fz2_take(&in, 1);
    uint64_t gsz = grans[sel % 3u];
    bool coarse = (sel & 0x10) != 0;
    /* Coarse: a level-2 block (2 MiB, 32 MiB, 512 MiB) per model entry. */
    unit = coarse ? gsz << (__builtin_ctzll(gsz) - 3) : gsz;
    nunits = coarse ? COARSE_UNITS : REGION / gsz;
    vcore_arm64_s2_table_config_t c;
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.geometry.size = sizeof(c.geometry);
    c.geometry.ipa_bits = 48;
    c.geometry.granule = (uint32_t)gsz;
    c.geometry.mmfr0 = 0x0000032310201126ull;
    c.geometry.mmfr1 = (fz2_take(&in, 1) & 1) ? (1ull << 28) : 0; /* with or without FEAT_XNX */
    c.host = &fh.host;
    c.tlbi = tlbi_cb;
    c.chunk_tables = 1;
    fh_init(&fh, 0x100000000ull);
    memset(model, 0, sizeof(model));
    if (vcore_arm64_s2_init(store, sizeof(store), &c, &cur, NULL) != VCORE_OK)
        abort();
    uint64_t n = nunits;
    while (in.off < in.n) {
        uint8_t op = (uint8_t)fz2_take(&in, 1);
        uint64_t first = fz2_take(&in, 2) % n;
        uint64_t count = 1 + fz2_take(&in, 2) % (n - first);
        /* Output addresses: congruent with the IPA to 4 TiB (blocks of every
         * size possible), or shifted by a few granules (pages only; then few
         * units, or a coarse input would map millions of pages). */
        bool shifted = !(op & 2);
        if (coarse && shifted && count > 4)
            count = 1 + count % 4;
        uint64_t ipa = first * unit, len = count * unit;
        uint64_t pa = shifted ? (1ull << 44) + ipa + gsz * (1 + (op >> 4)) : (1ull << 42) + ipa;
        uint32_t prot = (uint32_t)fz2_take(&in, 1) & (VCORE_ARM64_S2_RWX | VCORE_ARM64_S2_DEVICE);
        bool nomem = (op & 0x0c) == 0x0c;
        op_lo = ipa;
        op_hi = ipa + len;
        fh.fail_after = nomem ? 0 : -1;
        vcore_diag_t d = {.size = sizeof(d)};
        int rc = (op & 1) ? vcore_arm64_s2_prepare_unmap(cur, ipa, len, &d)
                          : vcore_arm64_s2_prepare_map(cur, ipa, pa, len, prot, &d);
        fh.fail_after = -1;
        if (rc == VCORE_ERR_INVAL) {
            /* Only per-EL execute without FEAT_XNX is refused here. */
            if ((op & 1) || d.id != VCORE_DIAG_ARM64_S2_MAP_XN_PER_EL)
                abort();
            check_some(gsz, first, count);
            continue;
        }
        if (rc == VCORE_ERR_NOMEM) {
            if (!nomem)
                abort();
            check_some(gsz, first, count); /* nothing changed */
            continue;
        }
        if (rc != VCORE_OK)
            abort();
        /* Update the model before the commit: the callback checks against it. */
        for (uint64_t i = first; i < first + count; i++) {
            model[i].mapped = !(op & 1);
            model[i].prot = prot;
            model[i].pa = pa + (i - first) * unit;
        }
        if (vcore_arm64_s2_commit(cur, NULL) != VCORE_OK)
            abort();
        check_some(gsz, first, count);
    }
    check_all(gsz);
    if (vcore_arm64_s2_unmap(cur, 0, 1ull << 40, NULL, NULL) != VCORE_OK)
        abort();
    vcore_arm64_s2_stats_t st = {.size = sizeof(st)};
    if (vcore_arm64_s2_stats(cur, &st) != VCORE_OK)
        abort();
    if (st.tables != vcore_arm64_s2_get_geom(cur)->concat || st.tables_in_use != st.tables)
        abort();
    vcore_arm64_s2_fini(cur);
    if (fh.outstanding != 0)
        abort();
    return 0;
}
