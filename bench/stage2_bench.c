/*
 * stage2_bench.c - what stage-2 tables cost: entries and pages to map
 * 1 GiB, 4 GiB and a fragmented 1 GiB per granule (exact counts from the
 * table), and a loop of map/unmap operations of one page and of 2 MiB whose
 * instruction counts callgrind measures (bench/stage2_callgrind.sh runs it
 * and divides each op_* function's inclusive count by its calls).
 *
 *   bench_stage2                    print the table-usage figures
 *   bench_stage2 --ops N GRANULE    run N of each measured operation (callgrind)
 * Prints numbers only; never fails on time.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/arm64/stage2.h>

#include "../tests/unit/s2_fake_host.h"

#define GB(x) ((uint64_t)(x) << 30)
#define MB(x) ((uint64_t)(x) << 20)

static fake_host_t fh;
static uint8_t store[64 * 1024] __attribute__((aligned(16)));
static uint64_t tlbi_requests;

static void tlbi_count(void *ctx, const vcore_arm64_s2_tlbi_t *req)
{
    (void)ctx;
    (void)req;
    tlbi_requests++;
}

static vcore_arm64_s2_t *mk(uint32_t granule)
{
    vcore_arm64_s2_table_config_t c;
    vcore_arm64_s2_t *s2 = NULL;
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.geometry.size = sizeof(c.geometry);
    c.geometry.ipa_bits = 40;
    c.geometry.granule = granule;
    c.geometry.mmfr0 = 0x0000032310201126ull; /* QEMU -cpu max */
    c.geometry.mmfr1 = (2ull << 4) | (1ull << 28);
    c.host = &fh.host;
    c.tlbi = tlbi_count;
    fh_init(&fh, 0x100000000ull);
    if (vcore_arm64_s2_init(store, sizeof(store), &c, &s2, NULL) != VCORE_OK) {
        fprintf(stderr, "init failed\n");
        exit(1);
    }
    return s2;
}

static void must(int rc, const char *what)
{
    if (rc != VCORE_OK) {
        fprintf(stderr, "%s failed: %d\n", what, rc);
        exit(1);
    }
}

static void report(const char *gran, const char *what, vcore_arm64_s2_t *s2)
{
    vcore_arm64_s2_stats_t st = {.size = sizeof(st)};
    must(vcore_arm64_s2_stats(s2, &st), "stats");
    uint64_t tables = 0, blocks = 0;
    for (int i = 0; i < 5; i++) {
        tables += st.table_entries[i];
        blocks += st.block_entries[i];
    }
    printf("%-4s %-22s entries=%-8llu (table %llu, block %llu [L1 %llu L2 %llu], page %llu) "
           "tables=%-5llu table_KiB=%-6llu host_pages=%llu\n",
           gran, what, (unsigned long long)(tables + blocks + st.page_entries),
           (unsigned long long)tables, (unsigned long long)blocks,
           (unsigned long long)st.block_entries[2], (unsigned long long)st.block_entries[3],
           (unsigned long long)st.page_entries, (unsigned long long)st.tables,
           (unsigned long long)(st.table_bytes >> 10), (unsigned long long)st.host_pages);
}

static void usage_figures(void)
{
    static const struct {
        uint32_t g;
        const char *name;
    } gr[3] = {{4096, "4K"}, {16384, "16K"}, {65536, "64K"}};
    printf("== stage-2 table usage (IPA 40 bits, root included)\n");
    for (int i = 0; i < 3; i++) {
        uint64_t gsz = gr[i].g;
        vcore_arm64_s2_t *s2 = mk(gr[i].g);
        must(vcore_arm64_s2_map(s2, GB(1), GB(4), GB(1), VCORE_ARM64_S2_RWX, NULL, NULL), "map 1G");
        report(gr[i].name, "1GiB aligned", s2);
        vcore_arm64_s2_fini(s2);
        s2 = mk(gr[i].g);
        must(vcore_arm64_s2_map(s2, GB(4), GB(8), GB(4), VCORE_ARM64_S2_RWX, NULL, NULL), "map 4G");
        report(gr[i].name, "4GiB aligned", s2);
        vcore_arm64_s2_fini(s2);
        /* Fragmented: 1 GiB of IPA backed by scattered granules (a
         * permutation of host frames), so no block fits anywhere. */
        s2 = mk(gr[i].g);
        uint64_t n = GB(1) / gsz;
        for (uint64_t k = 0; k < n; k++) {
            uint64_t frame = (k * 2654435761ull) % (n * 4);
            must(vcore_arm64_s2_map(s2, GB(1) + k * gsz, GB(16) + frame * gsz, gsz,
                                    VCORE_ARM64_S2_RWX, NULL, NULL), "map fragment");
        }
        report(gr[i].name, "1GiB fragmented", s2);
        /* The same 1 GiB mapped contiguously but 1 granule off block alignment. */
        vcore_arm64_s2_fini(s2);
        s2 = mk(gr[i].g);
        must(vcore_arm64_s2_map(s2, GB(1), GB(4) + gsz, GB(1), VCORE_ARM64_S2_RWX, NULL, NULL),
             "map misaligned");
        report(gr[i].name, "1GiB pa-misaligned", s2);
        vcore_arm64_s2_fini(s2);
    }
}

/* The measured operations: one call each, not inlined, so callgrind can
 * attribute their inclusive instruction counts. */
__attribute__((noinline)) void op_map_page(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa, uint64_t len);
__attribute__((noinline)) void op_unmap_page(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t len);
__attribute__((noinline)) void op_map_2m(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa);
__attribute__((noinline)) void op_unmap_2m(vcore_arm64_s2_t *s2, uint64_t ipa);

void op_map_page(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa, uint64_t len)
{
    must(vcore_arm64_s2_map(s2, ipa, pa, len, VCORE_ARM64_S2_R | VCORE_ARM64_S2_W, NULL, NULL), "map page");
}

void op_unmap_page(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t len)
{
    must(vcore_arm64_s2_unmap(s2, ipa, len, NULL, NULL), "unmap page");
}

void op_map_2m(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa)
{
    must(vcore_arm64_s2_map(s2, ipa, pa, MB(2), VCORE_ARM64_S2_R | VCORE_ARM64_S2_W, NULL, NULL), "map 2M");
}

void op_unmap_2m(vcore_arm64_s2_t *s2, uint64_t ipa)
{
    must(vcore_arm64_s2_unmap(s2, ipa, MB(2), NULL, NULL), "unmap 2M");
}

static void ops(uint64_t n, uint32_t granule)
{
    {
        uint64_t gsz = granule;
        vcore_arm64_s2_t *s2 = mk(granule);
        /* Keep the tables of the measured regions alive: a neighbour stays
         * mapped, so each op is a steady-state change of entries. */
        must(vcore_arm64_s2_map(s2, GB(8), GB(16), gsz, VCORE_ARM64_S2_R, NULL, NULL), "neighbour");
        must(vcore_arm64_s2_map(s2, GB(12), GB(32), MB(2), VCORE_ARM64_S2_R, NULL, NULL), "neighbour");
        for (uint64_t k = 0; k < n; k++) {
            uint64_t off = (1 + k % 64) * gsz;
            op_map_page(s2, GB(8) + off, GB(16) + off, gsz);
            op_unmap_page(s2, GB(8) + off, gsz);
            uint64_t boff = MB(2) * (1 + k % 8);
            op_map_2m(s2, GB(12) + boff, GB(32) + boff);
            op_unmap_2m(s2, GB(12) + boff);
        }
        vcore_arm64_s2_fini(s2);
    }
    printf("== ops: %llu of each (map/unmap of one %u-byte granule and of 2 MiB); "
           "TLB requests %llu\n", (unsigned long long)n, granule, (unsigned long long)tlbi_requests);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--ops") == 0) {
        uint32_t g = (uint32_t)strtoul(argv[3], NULL, 10);
        if (g != 4096 && g != 16384 && g != 65536)
            return 2;
        ops(strtoull(argv[2], NULL, 10), g);
        return 0;
    }
    usage_figures();
    return 0;
}
