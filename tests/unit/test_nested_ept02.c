/*
 * test_nested_ept02.c - the shadow EPT (ept02) builder on its own: the
 * composition of L1's EPT with L0's view (address, page size, rights,
 * memory type), the routing of each fault class, L1's accessed/dirty flags,
 * INVEPT exactness, pool exhaustion, and hostile ept12 contents.
 *
 * Expected values: SDM Vol. 3, "EPT Translation Mechanism" (entry formats,
 * page sizes), "EPT Misconfigurations", "EPT Violations", "Exit
 * Qualification for EPT Violations" (bits 2:0 access, 5:3 the AND of the
 * R/W/X bits of the entries walked, 7/8/12 and 11:9 as reported),
 * "Accessed and Dirty Flags for EPT", "EPT and Memory Typing", "INVEPT"
 * (single-context: mappings of EPTP bits 51:12; all-context: every one).
 */
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_ept02.h>
#include <virtcore/x86/nvmx_pipeline.h>

#define L1MEM (1u << 20)
static uint8_t l1[L1MEM];
static vcore_nvmx_mem_t mem;

static int l1_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= L1MEM || len > L1MEM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, l1 + gpa, len);
    return VCORE_OK;
}

static int l1_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= L1MEM || len > L1MEM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(l1 + gpa, buf, len);
    return VCORE_OK;
}

static void put(uint64_t gpa, uint64_t v) { memcpy(l1 + gpa, &v, 8); }
static uint64_t get(uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, l1 + gpa, 8);
    return v;
}

/* ept12 structures in L1 memory. */
#define PML4 0x10000u
#define PDPT 0x11000u
#define PD 0x12000u
#define PT 0x13000u
#define PML4_B 0x20000u
#define PDPT_B 0x21000u
#define PD_B 0x22000u
#define PT_B 0x23000u
#define EPTP (PML4 | 6u | (3u << 3))     /* WB structures, 4 levels */
#define EPTP_B (PML4_B | 6u | (3u << 3))
#define EPTP_AD (EPTP | (1u << 6))
#define R 1u
#define W 2u
#define X 4u
#define RWX 7u
#define MT(t) ((uint64_t)(t) << 3)
#define IPAT (1ull << 6)
#define PS (1ull << 7)
#define A_BIT (1ull << 8)
#define D_BIT (1ull << 9)
#define MAXPA 40u

/* The pool: 16 pages with made-up physical addresses. */
#define NPAGES 16u
#define POOL_PA 0x7f000000ull
static uint8_t pool[NPAGES][4096] __attribute__((aligned(4096)));
static vcore_nvmx_ept02_page_t pages[NPAGES];
static uint8_t store[16384] __attribute__((aligned(16)));
static vcore_nvmx_ept02_t *ep;
static uint64_t flushed[32];
static uint32_t nflushed;

static void on_flush(void *ctx, uint64_t eptp02)
{
    (void)ctx;
    if (nflushed < 32)
        flushed[nflushed] = eptp02;
    nflushed++;
}

/* L0's view: L1 memory at host-physical HOST_OFF + address; a hole is the
 * VMM's MMIO; a read-only range; page size and memory type chosen by the test. */
#define HOST_OFF 0x100000000ull
#define HOLE 0x90000000ull
#define ROM 0xa0000000ull
static uint64_t l0_size = 4096;
static uint8_t l0_mt = 6;
static bool l0_ipat;
static uint32_t l0_calls;

static int l0_view(void *ctx, uint64_t gpa, vcore_nvmx_ept02_l0_t *out)
{
    (void)ctx;
    l0_calls++;
    ck_assert_uint_eq(out->size, sizeof(*out));
    if (gpa >= HOLE && gpa < HOLE + 0x200000) {
        out->mapped = false;
        return VCORE_OK;
    }
    out->mapped = true;
    out->perms = (gpa >= ROM && gpa < ROM + 0x200000) ? (R | X) : RWX;
    out->memtype = l0_mt;
    out->ipat = l0_ipat;
    out->page_size = l0_size;
    out->hpa = (HOST_OFF + gpa) & ~(l0_size - 1);
    return VCORE_OK;
}

static void setup(void)
{
    memset(l1, 0, sizeof(l1));
    mem.size = sizeof(mem);
    mem.read = l1_read;
    mem.write = l1_write;
    mem.ctx = NULL;
    for (uint32_t i = 0; i < NPAGES; i++) {
        memset(pool[i], 0xcc, 4096); /* garbage: the builder must clear what it takes */
        pages[i].va = pool[i];
        pages[i].pa = POOL_PA + i * 4096ull;
    }
    vcore_nvmx_ept02_config_t cfg = {.size = sizeof(cfg), .pages = pages, .npages = NPAGES, .flush = on_flush};
    ck_assert_uint_le(vcore_nvmx_ept02_storage_size(), sizeof(store));
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, sizeof(store), &cfg, &ep), VCORE_OK);
    nflushed = 0;
    l0_size = 4096;
    l0_mt = 6;
    l0_ipat = false;
    l0_calls = 0;
}

/* ept12 of EPTP: one path of tables down to the level of the leaf. */
static void map12(uint64_t l2, uint64_t leaf, int level)
{
    put(PML4 + ((l2 >> 39) & 511) * 8, PDPT | RWX);
    if (level == 3) {
        put(PDPT + ((l2 >> 30) & 511) * 8, leaf | PS);
        return;
    }
    put(PDPT + ((l2 >> 30) & 511) * 8, PD | RWX);
    if (level == 2) {
        put(PD + ((l2 >> 21) & 511) * 8, leaf | PS);
        return;
    }
    put(PD + ((l2 >> 21) & 511) * 8, PT | RWX);
    put(PT + ((l2 >> 12) & 511) * 8, leaf);
}

static vcore_nvmx_ept02_result_t fault_q(uint64_t eptp, uint64_t l2, uint64_t qual, bool adv)
{
    vcore_nvmx_ept02_fault_t in = {.size = sizeof(in), .eptp12 = eptp, .l2_gpa = l2, .hw_qualification = qual,
                                   .maxphyaddr = MAXPA, .advanced_info = adv, .l1_mem = &mem, .l0 = l0_view};
    vcore_nvmx_ept02_result_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_OK);
    return r;
}

static vcore_nvmx_ept02_result_t fault(uint64_t l2, uint32_t access)
{
    return fault_q(EPTP, l2, access, false);
}

static vcore_nvmx_ept02_lookup_t look(uint64_t eptp, uint64_t l2)
{
    vcore_nvmx_ept02_lookup_t l = {.size = sizeof(l)};
    ck_assert_int_eq(vcore_nvmx_ept02_lookup(ep, eptp, l2, &l), VCORE_OK);
    return l;
}

static uint32_t pages_free(void)
{
    vcore_nvmx_ept02_stats_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_nvmx_ept02_stats(ep, &s), VCORE_OK);
    return s.pages_free;
}

/* The largest pool (VCORE_NVMX_EPT02_MAX_PAGES) in storage of exactly
 * vcore_nvmx_ept02_storage_size() bytes from the heap: every table built,
 * followed, dropped and looked up stays inside the builder's storage and
 * the lent pages (the sanitizer build sees any byte beyond). */
static uint8_t big_pool[VCORE_NVMX_EPT02_MAX_PAGES][4096] __attribute__((aligned(4096)));
static vcore_nvmx_ept02_page_t big_pages[VCORE_NVMX_EPT02_MAX_PAGES];

START_TEST(max_pool_in_exact_storage)
{
    for (uint32_t i = 0; i < VCORE_NVMX_EPT02_MAX_PAGES; i++) {
        big_pages[i].va = big_pool[i];
        big_pages[i].pa = POOL_PA + i * 4096ull;
    }
    vcore_nvmx_ept02_config_t cfg = {.size = sizeof(cfg), .pages = big_pages,
                                     .npages = VCORE_NVMX_EPT02_MAX_PAGES, .flush = on_flush};
    void *st = malloc(vcore_nvmx_ept02_storage_size());
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(vcore_nvmx_ept02_init(st, vcore_nvmx_ept02_storage_size(), &cfg, &ep), VCORE_OK);
    map12(0x1000, 0x5000 | RWX | MT(6), 1);
    ck_assert_uint_eq(fault(0x1234, R).kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(fault(0x1234, W).kind, VCORE_NVMX_EPT02_FIXED); /* walks ept02's own tables */
    ck_assert(look(EPTP, 0x1abc).present);
    ck_assert_uint_eq(pages_free(), VCORE_NVMX_EPT02_MAX_PAGES - 4);
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(ep, 2, 0), VCORE_OK);
    ck_assert_uint_eq(pages_free(), VCORE_NVMX_EPT02_MAX_PAGES);
    ck_assert(!look(EPTP, 0x1abc).present);
    free(st);
}
END_TEST

/* ---- composition: address and page size ---- */

START_TEST(compose_4k)
{
    map12(0x1000, 0x5000 | RWX | MT(6), 1);
    vcore_nvmx_ept02_result_t r = fault(0x1234, R);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(r.l1_gpa, 0x5234);
    vcore_nvmx_ept02_lookup_t l = look(EPTP, 0x1abc);
    ck_assert(l.present);
    ck_assert_uint_eq(l.hpa, HOST_OFF + 0x5abc);
    ck_assert_uint_eq(l.page_size, 4096);
    ck_assert_uint_eq(l.perms, RWX);
    ck_assert_uint_eq(l.memtype, 6);
    ck_assert(!l.ipat);
    /* Only that page: the next one is not mapped. */
    ck_assert(!look(EPTP, 0x2000).present);
    ck_assert(!look(EPTP, 0x0fff).present);
    /* root + PDPT + PD + PT. */
    ck_assert_uint_eq(pages_free(), NPAGES - 4);
    /* The EPTP of ept02: root page, WB, 4 levels, no A/D. */
    uint64_t e02 = 0;
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, EPTP, &e02), VCORE_OK);
    ck_assert_uint_eq(e02 & 0xfff, 0x1e);
    ck_assert_uint_ge(e02 & ~0xfffull, POOL_PA);
    ck_assert_uint_lt(e02 & ~0xfffull, POOL_PA + NPAGES * 4096);
}
END_TEST

/* ept12 2 MiB, L0 4 KiB: a 4 KiB leaf (the smaller). */
START_TEST(compose_2m_over_4k)
{
    map12(0x200000, 0x400000 | RWX | MT(6), 2);
    vcore_nvmx_ept02_result_t r = fault(0x203456, X);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(r.page_size, 4096);
    ck_assert_uint_eq(r.l1_gpa, 0x403456);
    vcore_nvmx_ept02_lookup_t l = look(EPTP, 0x203fff);
    ck_assert(l.present);
    ck_assert_uint_eq(l.page_size, 4096);
    ck_assert_uint_eq(l.hpa, HOST_OFF + 0x403fff);
    ck_assert(!look(EPTP, 0x204000).present);
}
END_TEST

/* ept12 1 GiB, L0 2 MiB: a 2 MiB leaf at the right offset. */
START_TEST(compose_1g_over_2m)
{
    l0_size = 2u << 20;
    map12(0x40000000, 0x80000000ull | RWX | MT(6), 3);
    vcore_nvmx_ept02_result_t r = fault(0x40312345, R);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(r.page_size, 2u << 20);
    ck_assert_uint_eq(r.hpa, HOST_OFF + 0x80200000ull);
    vcore_nvmx_ept02_lookup_t l = look(EPTP, 0x403fffff);
    ck_assert(l.present);
    ck_assert_uint_eq(l.page_size, 2u << 20);
    ck_assert_uint_eq(l.hpa, HOST_OFF + 0x803fffffull);
    ck_assert(!look(EPTP, 0x40400000).present);
    ck_assert(!look(EPTP, 0x401fffff).present);
    /* A 2 MiB leaf needs no PT: root, PDPT, PD. */
    ck_assert_uint_eq(pages_free(), NPAGES - 3);
}
END_TEST

/* ept12 2 MiB, L0 1 GiB: 2 MiB. ept12 1 GiB, L0 1 GiB: 1 GiB. */
START_TEST(compose_2m_under_1g_and_1g)
{
    l0_size = 1u << 30;
    map12(0x600000, 0x1e00000 | RWX | MT(6), 2);
    vcore_nvmx_ept02_result_t r = fault(0x6abcde, W);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(r.page_size, 2u << 20);
    ck_assert_uint_eq(look(EPTP, 0x600000).hpa, HOST_OFF + 0x1e00000);
    map12(0x80000000ull, 0xc0000000ull | RWX | MT(6), 3);
    r = fault(0x80000000ull + 0x12345678, R);
    ck_assert_uint_eq(r.page_size, 1u << 30);
    vcore_nvmx_ept02_lookup_t l = look(EPTP, 0xbfffffffull);
    ck_assert(l.present);
    ck_assert_uint_eq(l.page_size, 1u << 30);
    ck_assert_uint_eq(l.hpa, HOST_OFF + 0xffffffffull);
}
END_TEST

/* ---- rights: the intersection ---- */

START_TEST(rights_intersection)
{
    /* PML4E RWX, PDPTE RW, PDE RWX, PTE RX: the walk grants R only. */
    put(PML4, PDPT | RWX);
    put(PDPT, PD | R | W);
    put(PD, PT | RWX);
    put(PT + 8 * 1, 0x9000 | R | X | MT(6));
    vcore_nvmx_ept02_result_t r = fault(0x1000, R);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(r.perms, R);
    ck_assert_uint_eq(look(EPTP, 0x1000).perms, R);
    /* Fetch: L1's violation, bits 2:0 = 4 (fetch), 5:3 = 001 (readable only). */
    r = fault(0x1000, X);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L1_VIOLATION);
    ck_assert_uint_eq(r.qualification, 0x4u | (1u << 3));
    /* Write: bits 2:0 = 2, 5:3 = 001. */
    r = fault(0x1000, W);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L1_VIOLATION);
    ck_assert_uint_eq(r.qualification, 0x2u | (1u << 3));
    /* L0 read-only (RX) and ept12 RWX: RX; a write is L0's (the VMM's). */
    map12(0x5000, ROM | RWX | MT(6), 1);
    r = fault(0x5000, R);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(r.perms, R | X);
    r = fault(0x5008, W);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L0_MMIO);
    ck_assert_uint_eq(r.l1_gpa, ROM + 8);
    /* Execute-only leaf (ept12 X): a fetch is mapped X only. */
    map12(0x6000, 0x6000 | X | MT(6), 1);
    r = fault(0x6000, X);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(look(EPTP, 0x6000).perms, X);
}
END_TEST

/* ---- routing of every fault class ---- */

START_TEST(not_present_is_l1_violation_with_sdm_qualification)
{
    /* Nothing mapped: the PML4E grants nothing, bits 5:3 are 0. Bits 7, 8
     * and 12 of the processor's report are passed on; 11:9 only with the
     * advanced information. */
    uint64_t hw = W | (1u << 7) | (1u << 8) | (5u << 9) | (1u << 12) | (1ull << 63);
    vcore_nvmx_ept02_result_t r = fault_q(EPTP, 0x7000, hw, false);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L1_VIOLATION);
    ck_assert_uint_eq(r.qualification, W | (1u << 7) | (1u << 8) | (1u << 12));
    r = fault_q(EPTP, 0x7000, hw, true);
    ck_assert_uint_eq(r.qualification, W | (1u << 7) | (1u << 8) | (5u << 9) | (1u << 12));
    /* A leaf present but denying the access: bits 5:3 from the walk (R W X = 011). */
    map12(0x8000, 0x8000 | R | W | MT(6), 1);
    r = fault_q(EPTP, 0x8000, X | (1u << 7), false);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L1_VIOLATION);
    ck_assert_uint_eq(r.qualification, X | (3u << 3) | (1u << 7));
    /* L1's faults never reach L0's view and install nothing. */
    ck_assert_uint_eq(l0_calls, 0);
    ck_assert(!look(EPTP, 0x8000).present);
}
END_TEST

START_TEST(l0_hole_goes_to_vmm)
{
    map12(0x3000, (HOLE + 0x1000) | RWX | MT(6), 1);
    vcore_nvmx_ept02_result_t r = fault(0x3010, R);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L0_MMIO);
    ck_assert_uint_eq(r.l1_gpa, HOLE + 0x1010);
    ck_assert(!look(EPTP, 0x3000).present);
}
END_TEST

/* "EPT Misconfigurations" from L1's tables: reported, nothing installed. */
START_TEST(misconfigurations_are_l1s)
{
    /* Write without read in a leaf. */
    map12(0x1000, 0x1000 | W | MT(6), 1);
    ck_assert_uint_eq(fault(0x1000, R).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    /* Write+execute without read. */
    map12(0x1000, 0x1000 | W | X | MT(6), 1);
    ck_assert_uint_eq(fault(0x1000, X).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    /* Reserved memory types 2, 3, 7 in a leaf. */
    map12(0x1000, 0x1000 | RWX | MT(2), 1);
    ck_assert_uint_eq(fault(0x1000, R).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    map12(0x1000, 0x1000 | RWX | MT(7), 1);
    ck_assert_uint_eq(fault(0x1000, R).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    /* An address bit at or above MAXPHYADDR (40). */
    map12(0x1000, (1ull << 40) | 0x1000 | RWX | MT(6), 1);
    ck_assert_uint_eq(fault(0x1000, R).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    /* Bit 7 in a PML4E. */
    put(PML4, PDPT | RWX | PS);
    ck_assert_uint_eq(fault(0x1000, R).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    /* A 2 MiB leaf with reserved bits 20:12. */
    put(PML4, PDPT | RWX);
    put(PDPT, PD | RWX);
    put(PD + 8, 0x400000 | 0x1000 | RWX | MT(6) | PS);
    ck_assert_uint_eq(fault(0x200000, R).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    ck_assert_uint_eq(l0_calls, 0);
    ck_assert_uint_eq(pages_free(), NPAGES);
}
END_TEST

/* Hostile ept12: tables outside L1 memory (read as all ones: reserved bits,
 * a misconfiguration), a table pointing at itself (a walk reads 4 entries,
 * no more), entries pointing outside L1 memory (L0's hole: the VMM's). */
START_TEST(hostile_ept12)
{
    /* EPTP outside L1 memory. */
    vcore_nvmx_ept02_result_t r = fault_q((0xfff00000ull) | 6u | (3u << 3), 0x1000, R, false);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    /* A PDPTE pointing outside L1 memory. */
    put(PML4, 0xfffff000ull | RWX);
    ck_assert_uint_eq(fault(0x1000, R).kind, VCORE_NVMX_EPT02_L1_MISCONFIG);
    /* A loop: the PML4E points at the PML4; its entry 0 serves every level.
     * At level 1 it is a 4 KiB leaf (type 0, UC) mapping the PML4 page. */
    put(PML4, PML4 | RWX);
    r = fault(0x0, R);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(r.l1_gpa, PML4);
    ck_assert_uint_eq(r.memtype, 0);
    /* A leaf pointing at an L1 address L0 has no memory for. */
    map12(0x2000, (HOLE) | RWX | MT(6), 1);
    ck_assert_uint_eq(fault(0x2000, R).kind, VCORE_NVMX_EPT02_L0_MMIO);
}
END_TEST

/* ---- memory type ("EPT and Memory Typing") ---- */

START_TEST(memory_type)
{
    /* L0 ordinary WB: L1's type and IPAT. */
    map12(0x1000, 0x1000 | RWX | MT(0) | IPAT, 1);
    vcore_nvmx_ept02_result_t r = fault(0x1000, R);
    ck_assert_uint_eq(r.memtype, 0);
    ck_assert(r.ipat);
    vcore_nvmx_ept02_lookup_t l = look(EPTP, 0x1000);
    ck_assert_uint_eq(l.memtype, 0);
    ck_assert(l.ipat);
    map12(0x2000, 0x2000 | RWX | MT(4), 1);
    l0_calls = 0;
    ck_assert_uint_eq(fault(0x2000, R).memtype, 4);
    ck_assert(!look(EPTP, 0x2000).ipat);
    /* L0 says UC with IPAT (device memory): L0's, whatever L1 asks. */
    l0_mt = 0;
    l0_ipat = true;
    map12(0x3000, 0x3000 | RWX | MT(6), 1);
    r = fault(0x3000, R);
    ck_assert_uint_eq(r.memtype, 0);
    ck_assert(r.ipat);
    /* L0 WB with IPAT is not "ordinary": L0's. */
    l0_mt = 6;
    map12(0x4000, 0x4000 | RWX | MT(1), 1);
    r = fault(0x4000, R);
    ck_assert_uint_eq(r.memtype, 6);
    ck_assert(r.ipat);
}
END_TEST

/* ---- accessed and dirty flags of ept12 (EPTP bit 6) ---- */

START_TEST(accessed_dirty_flags)
{
    map12(0x1000, 0x1000 | RWX | MT(6), 1);
    vcore_nvmx_ept02_result_t r = fault_q(EPTP_AD, 0x1000, R, false);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    /* Every entry used: accessed; the leaf not dirty on a read. */
    ck_assert_uint_eq(get(PML4) & A_BIT, A_BIT);
    ck_assert_uint_eq(get(PDPT) & A_BIT, A_BIT);
    ck_assert_uint_eq(get(PD) & A_BIT, A_BIT);
    ck_assert_uint_eq(get(PT + 8) & (A_BIT | D_BIT), A_BIT);
    /* Clean leaf: installed without write, so the first write comes back. */
    ck_assert_uint_eq(r.perms, R | X);
    ck_assert_uint_eq(look(EPTP_AD, 0x1000).perms, R | X);
    uint32_t before = nflushed;
    r = fault_q(EPTP_AD, 0x1000, W, false);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(get(PT + 8) & D_BIT, D_BIT);
    ck_assert_uint_eq(look(EPTP_AD, 0x1000).perms, RWX);
    /* Widening rights needs no invalidation. */
    ck_assert_uint_eq(nflushed, before);
    /* Without EPTP bit 6 nothing is written to ept12, and a read maps RWX. */
    map12(0x3000, 0x3000 | RWX | MT(6), 1);
    uint64_t pt = get(PT + 24);
    r = fault(0x3000, R);
    ck_assert_uint_eq(r.perms, RWX);
    ck_assert_uint_eq(get(PT + 24), pt);
    /* A violation sets no flag. */
    put(PT + 32, 0x4000 | R | MT(6));
    uint64_t pml4 = get(PML4_B);
    (void)pml4;
    uint64_t leaf = get(PT + 32);
    ck_assert_uint_eq(fault_q(EPTP_AD, 0x4000, W, false).kind, VCORE_NVMX_EPT02_L1_VIOLATION);
    ck_assert_uint_eq(get(PT + 32), leaf);
}
END_TEST

/* ---- page-modification logging for L1 ("Page-Modification Logging") ---- */

#define PML_LOG 0x30000u

static vcore_nvmx_ept02_result_t fault_pml(uint64_t l2, uint32_t access, uint16_t index, uint64_t qual)
{
    vcore_nvmx_ept02_fault_t in = {.size = sizeof(in), .eptp12 = EPTP_AD, .l2_gpa = l2, .hw_qualification = access | qual,
                                   .maxphyaddr = MAXPA, .l1_mem = &mem, .l0 = l0_view, .pml = true,
                                   .pml_index = index, .pml_address = PML_LOG};
    vcore_nvmx_ept02_result_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_OK);
    return r;
}

/* A write that sets the dirty flag of a clean leaf writes the 4-KByte
 * aligned guest-physical address at PML address + 8 * index; a read sets
 * no dirty flag and logs nothing; a leaf already dirty logs nothing. */
START_TEST(pml_logs_the_dirty_flag_it_sets)
{
    map12(0x5000, 0x5000 | RWX | MT(6), 1);
    vcore_nvmx_ept02_result_t r = fault_pml(0x5000, R, 7, 0);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert(!r.pml_logged);
    ck_assert_uint_eq(get(PML_LOG + 7 * 8), 0);
    r = fault_pml(0x5abc, W, 7, 0);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert(r.pml_logged);
    ck_assert_uint_eq(get(PML_LOG + 7 * 8), 0x5000);
    ck_assert_uint_eq(get(PT + 5 * 8) & D_BIT, D_BIT);
    put(PML_LOG + 6 * 8, 0);
    r = fault_pml(0x5000, W, 6, 0);
    ck_assert(!r.pml_logged);
    ck_assert_uint_eq(get(PML_LOG + 6 * 8), 0);
    /* Without "enable PML" (pml false) nothing is logged. */
    map12(0x6000, 0x6000 | RWX | MT(6), 1);
    ck_assert(!fault_q(EPTP_AD, 0x6000, W, false).pml_logged);
}
END_TEST

/* An index outside 0-511 when the access must set a flag: log full (exit
 * 62, qualification bit 12 passed on, the others 0); no flag set, nothing
 * installed or logged. Nothing to set (all flags already 1): no exit. */
START_TEST(pml_full_when_a_flag_is_to_be_set)
{
    map12(0x7000, 0x7000 | RWX | MT(6), 1);
    uint64_t pt = get(PT + 7 * 8), pml4 = get(PML4);
    vcore_nvmx_ept02_result_t r = fault_pml(0x7000, W, 0xffff, (1u << 12) | (1u << 7) | (1u << 8));
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L1_PML_FULL);
    ck_assert_uint_eq(r.qualification, 1u << 12);
    ck_assert_uint_eq(get(PT + 7 * 8), pt);
    ck_assert_uint_eq(get(PML4), pml4);
    ck_assert(!look(EPTP_AD, 0x7000).present);
    ck_assert_uint_eq(fault_pml(0x7000, R, 512, 0).kind, VCORE_NVMX_EPT02_L1_PML_FULL);
    /* Index 0: logged at the log's first entry. */
    r = fault_pml(0x7000, W, 0, 0);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert(r.pml_logged);
    ck_assert_uint_eq(get(PML_LOG), 0x7000);
    /* Every flag set now: no flag to set, so no log-full exit. */
    r = fault_pml(0x7000, W, 0xffff, 0);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert(!r.pml_logged);
}
END_TEST

/* ---- INVEPT ---- */

static void map12_b(uint64_t l2, uint64_t leaf)
{
    put(PML4_B + ((l2 >> 39) & 511) * 8, PDPT_B | RWX);
    put(PDPT_B + ((l2 >> 30) & 511) * 8, PD_B | RWX);
    put(PD_B + ((l2 >> 21) & 511) * 8, PT_B | RWX);
    put(PT_B + ((l2 >> 12) & 511) * 8, leaf);
}

START_TEST(invept_single_context_is_exact)
{
    map12(0x1000, 0x5000 | RWX | MT(6), 1);
    map12_b(0x1000, 0x6000 | RWX | MT(6));
    ck_assert_uint_eq(fault(0x1000, R).kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(fault_q(EPTP_B, 0x1000, R, false).kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(look(EPTP, 0x1000).hpa, HOST_OFF + 0x5000);
    ck_assert_uint_eq(look(EPTP_B, 0x1000).hpa, HOST_OFF + 0x6000);
    uint64_t e02a = 0, e02b = 0;
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, EPTP, &e02a), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, EPTP_B, &e02b), VCORE_OK);
    ck_assert_uint_ne(e02a, e02b);
    ck_assert_uint_eq(nflushed, 0);
    /* Single-context on B's bits 51:12 (memory type and A/D bits differ:
     * they are not part of the match). */
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(ep, 1, (EPTP_B & ~0xfffull) | (1u << 6)), VCORE_OK);
    ck_assert(!look(EPTP_B, 0x1000).present);
    ck_assert(look(EPTP, 0x1000).present);
    ck_assert_uint_eq(look(EPTP, 0x1000).hpa, HOST_OFF + 0x5000);
    ck_assert_uint_eq(nflushed, 1);
    ck_assert_uint_eq(flushed[0], e02b);
    ck_assert_uint_eq(pages_free(), NPAGES - 4);
    /* An EPTP with no ept02: nothing happens. */
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(ep, 1, 0x55000), VCORE_OK);
    ck_assert_uint_eq(nflushed, 1);
    ck_assert(look(EPTP, 0x1000).present);
    /* All-context. */
    ck_assert_uint_eq(fault_q(EPTP_B, 0x1000, R, false).kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(ep, 2, 0), VCORE_OK);
    ck_assert(!look(EPTP, 0x1000).present);
    ck_assert(!look(EPTP_B, 0x1000).present);
    ck_assert_uint_eq(nflushed, 3);
    ck_assert_uint_eq(pages_free(), NPAGES);
    /* Types 0 and 3 are not INVEPT types. */
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(ep, 0, EPTP), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(ep, 3, EPTP), VCORE_ERR_INVAL);
}
END_TEST

/* More EPTPs than contexts: the least recently used one is dropped (and flushed). */
START_TEST(context_eviction_lru)
{
    uint64_t e02[VCORE_NVMX_EPT02_CONTEXTS + 1];
    for (uint32_t i = 0; i < VCORE_NVMX_EPT02_CONTEXTS; i++)
        ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, EPTP + 0x1000 * i, &e02[i]), VCORE_OK);
    /* Use the first again: the second is now the oldest. */
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, EPTP, &e02[0]), VCORE_OK);
    ck_assert_uint_eq(nflushed, 0);
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, 0x80000 | 0x1e, &e02[VCORE_NVMX_EPT02_CONTEXTS]), VCORE_OK);
    ck_assert_uint_eq(nflushed, 1);
    ck_assert_uint_eq(flushed[0], e02[1]);
    vcore_nvmx_ept02_stats_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_nvmx_ept02_stats(ep, &s), VCORE_OK);
    ck_assert_uint_eq(s.contexts, VCORE_NVMX_EPT02_CONTEXTS);
    ck_assert_uint_eq(s.dropped, 1);
}
END_TEST

/* ---- pool exhaustion: refused before any change, then drop and rebuild ---- */

START_TEST(pool_exhaustion)
{
    /* Fill the pool: each 1 GiB region of L2 needs its own PD and PT. */
    uint32_t ok = 0;
    int err = VCORE_OK;
    for (uint64_t g = 0; g < 16 && err == VCORE_OK; g++) {
        uint64_t l2 = g << 30;
        put(PML4, PDPT | RWX);
        put(PDPT + 8 * g, PD | RWX);
        put(PD, PT | RWX);
        put(PT, 0x5000 | RWX | MT(6));
        vcore_nvmx_ept02_fault_t in = {.size = sizeof(in), .eptp12 = EPTP, .l2_gpa = l2, .hw_qualification = R,
                                       .maxphyaddr = MAXPA, .l1_mem = &mem, .l0 = l0_view};
        vcore_nvmx_ept02_result_t r = {.size = sizeof(r)};
        err = vcore_nvmx_ept02_handle(ep, &in, &r);
        if (err == VCORE_OK)
            ok++;
    }
    /* root + PDPT + 2 per region: 7 regions fit in 16 pages, the 8th needs 2 of 0. */
    ck_assert_int_eq(err, VCORE_ERR_NOMEM);
    ck_assert_uint_eq(ok, 7);
    ck_assert_uint_eq(pages_free(), 0);
    /* Nothing of the refused fault is visible; the earlier ones are intact. */
    ck_assert(!look(EPTP, 7ull << 30).present);
    for (uint64_t g = 0; g < 7; g++)
        ck_assert_uint_eq(look(EPTP, g << 30).hpa, HOST_OFF + 0x5000);
    ck_assert_uint_eq(nflushed, 0);
    /* Drop and rebuild. */
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(ep, 2, 0), VCORE_OK);
    ck_assert_uint_eq(pages_free(), NPAGES);
    ck_assert_uint_eq(fault(7ull << 30, R).kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(look(EPTP, 7ull << 30).hpa, HOST_OFF + 0x5000);
    ck_assert(!look(EPTP, 0).present);
    /* A new context with no page left: refused. */
    vcore_nvmx_ept02_page_t one = {.va = pool[0], .pa = POOL_PA};
    vcore_nvmx_ept02_config_t cfg = {.size = sizeof(cfg), .pages = &one, .npages = 1, .flush = on_flush};
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, sizeof(store), &cfg, &ep), VCORE_OK);
    uint64_t e02;
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, EPTP, &e02), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(ep, EPTP_B, &e02), VCORE_ERR_NOMEM);
    map12(0x1000, 0x5000 | RWX | MT(6), 1);
    vcore_nvmx_ept02_fault_t in = {.size = sizeof(in), .eptp12 = EPTP, .l2_gpa = 0x1000, .hw_qualification = R,
                                   .maxphyaddr = MAXPA, .l1_mem = &mem, .l0 = l0_view};
    vcore_nvmx_ept02_result_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_NOMEM);
    /* No A/D written by a refused fault either. */
    in.eptp12 = EPTP_AD;
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_NOMEM);
    ck_assert_uint_eq(get(PML4) & A_BIT, 0);
}
END_TEST

/* ---- ept12 changing under an existing ept02 ---- */

START_TEST(existing_tables_reused_and_large_leaf_split)
{
    /* A 4 KiB leaf first, then ept12 turns the region into one 2 MiB page:
     * the new leaf goes into the existing PT at 4 KiB (still correct). */
    l0_size = 2u << 20;
    map12(0x200000, 0x600000 | RWX | MT(6), 1);
    ck_assert_uint_eq(fault(0x200000, R).page_size, 4096);
    put(PD + 8, 0x800000 | RWX | MT(6) | PS);
    vcore_nvmx_ept02_result_t r = fault(0x201000, R);
    ck_assert_uint_eq(r.page_size, 4096);
    ck_assert_uint_eq(look(EPTP, 0x201000).hpa, HOST_OFF + 0x801000);
    ck_assert_uint_eq(look(EPTP, 0x200000).hpa, HOST_OFF + 0x600000);
    ck_assert_uint_eq(nflushed, 0);
    /* A 2 MiB leaf, then ept12 maps 4 KiB of it elsewhere: the large leaf
     * is replaced by a table (invalidated: the rest of it is gone). */
    map12(0x400000, 0xa00000 | RWX | MT(6), 2);
    ck_assert_uint_eq(fault(0x400000, R).page_size, 2u << 20);
    map12(0x400000, 0xc00000 | R | MT(6), 1);
    r = fault(0x400000, W); /* L1's now: the new leaf is read-only */
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_L1_VIOLATION);
    r = fault(0x400000, R);
    ck_assert_uint_eq(r.kind, VCORE_NVMX_EPT02_FIXED);
    ck_assert_uint_eq(nflushed, 1);
    vcore_nvmx_ept02_lookup_t l = look(EPTP, 0x400000);
    ck_assert_uint_eq(l.page_size, 4096);
    ck_assert_uint_eq(l.hpa, HOST_OFF + 0xc00000);
    ck_assert_uint_eq(l.perms, R);
    ck_assert(!look(EPTP, 0x401000).present);
    /* Narrowing a 4 KiB leaf (ept12 now read-only, same page) is invalidated. */
    map12(0x5000, 0x5000 | RWX | MT(6), 1);
    ck_assert_uint_eq(fault(0x5000, R).perms, RWX);
    map12(0x5000, 0x5000 | R | MT(6), 1);
    ck_assert_uint_eq(fault(0x5000, R).perms, R);
    ck_assert_uint_eq(nflushed, 2);
}
END_TEST

START_TEST(refused_inputs)
{
    vcore_nvmx_ept02_fault_t in = {.size = sizeof(in), .eptp12 = EPTP, .l2_gpa = 0x1000, .hw_qualification = 0,
                                   .maxphyaddr = MAXPA, .l1_mem = &mem, .l0 = l0_view};
    vcore_nvmx_ept02_result_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_INVAL); /* no access */
    in.hw_qualification = R;
    in.eptp12 = PML4 | 6u | (2u << 3); /* walk length 3 */
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_INVAL);
    in.eptp12 = EPTP;
    in.l2_gpa = 1ull << 48;
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_RANGE);
    in.l2_gpa = 0;
    in.maxphyaddr = 53;
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_INVAL);
    in.maxphyaddr = 31;
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_INVAL);
    /* 32 and 52 are widths a processor can have. */
    in.maxphyaddr = 32;
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_OK);
    in.maxphyaddr = 52;
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_OK);
    in.maxphyaddr = MAXPA;
    r.size = 1;
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, &in, &r), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_nvmx_ept02_handle(NULL, &in, &r), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_ept02_handle(ep, NULL, &r), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_ept02_lookup(ep, EPTP, 0, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_ept02_stats(ep, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_ept02_invalidate(NULL, 2, 0), VCORE_ERR_INVAL);
    vcore_nvmx_ept02_lookup_t lk = {.size = 3};
    ck_assert_int_eq(vcore_nvmx_ept02_lookup(ep, EPTP, 0, &lk), VCORE_ERR_ABI);
    vcore_nvmx_ept02_stats_t st = {.size = 3};
    ck_assert_int_eq(vcore_nvmx_ept02_stats(ep, &st), VCORE_ERR_ABI);
    vcore_nvmx_ept02_config_t cfg = {.size = sizeof(cfg), .pages = pages, .npages = NPAGES, .flush = NULL};
    vcore_nvmx_ept02_t *x;
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, sizeof(store), &cfg, &x), VCORE_ERR_INVAL);
    cfg.flush = on_flush;
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, 64, &cfg, &x), VCORE_ERR_BUFSZ);
    cfg.npages = VCORE_NVMX_EPT02_MAX_PAGES + 1;
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, sizeof(store), &cfg, &x), VCORE_ERR_INVAL);
    /* Storage of exactly the size asked for is enough; one byte less is not. */
    cfg.npages = NPAGES;
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, vcore_nvmx_ept02_storage_size() - 1, &cfg, &x), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, vcore_nvmx_ept02_storage_size(), &cfg, &x), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_ept02_init(store + 8, sizeof(store) - 8, &cfg, &x), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(x, EPTP, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_ept02_eptp(NULL, EPTP, &in.l2_gpa), VCORE_ERR_INVAL);
    vcore_nvmx_ept02_page_t bad = {.va = pool[0] + 8, .pa = POOL_PA};
    cfg.pages = &bad;
    cfg.npages = 1;
    ck_assert_int_eq(vcore_nvmx_ept02_init(store, sizeof(store), &cfg, &x), VCORE_ERR_INVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nested_ept02");
    TCase *tc = tcase_create("ept02");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, compose_4k);
    tcase_add_test(tc, compose_2m_over_4k);
    tcase_add_test(tc, compose_1g_over_2m);
    tcase_add_test(tc, compose_2m_under_1g_and_1g);
    tcase_add_test(tc, rights_intersection);
    tcase_add_test(tc, not_present_is_l1_violation_with_sdm_qualification);
    tcase_add_test(tc, l0_hole_goes_to_vmm);
    tcase_add_test(tc, misconfigurations_are_l1s);
    tcase_add_test(tc, hostile_ept12);
    tcase_add_test(tc, memory_type);
    tcase_add_test(tc, accessed_dirty_flags);
    tcase_add_test(tc, pml_logs_the_dirty_flag_it_sets);
    tcase_add_test(tc, pml_full_when_a_flag_is_to_be_set);
    tcase_add_test(tc, invept_single_context_is_exact);
    tcase_add_test(tc, context_eviction_lru);
    tcase_add_test(tc, pool_exhaustion);
    tcase_add_test(tc, existing_tables_reused_and_large_leaf_split);
    tcase_add_test(tc, refused_inputs);
    tcase_add_test(tc, max_pool_in_exact_storage);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
