/*
 * kmem.c - what the embedder provides to the freestanding library: mem*,
 * host page services over a bitmap of 4 KiB pages, and the EL2 stage-1
 * identity map (so EL2 runs with caches on and Normal memory).
 */
#include "s2t.h"

/* ---- mem*: the only symbols the freestanding archive needs ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    if (c == 0 && ((uintptr_t)d & 7u) == 0) {
        for (; n >= 8; n -= 8, d += 8)
            *(volatile uint64_t *)(void *)d = 0;
    }
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

/* ---- pages: [0x42000000, 0x7ff00000) of the 1 GiB of RAM ---- */
#define HEAP_BASE 0x42000000ull
#define HEAP_END 0x7ff00000ull
#define HEAP_PAGES ((HEAP_END - HEAP_BASE) / 4096u)

static uint64_t heap_map[HEAP_PAGES / 64 + 1];
static uint64_t heap_used;
static uint64_t heap_hint;

static bool page_busy(uint64_t i) { return (heap_map[i / 64] >> (i % 64)) & 1u; }
static void page_set(uint64_t i, bool busy)
{
    if (busy)
        heap_map[i / 64] |= 1ull << (i % 64);
    else
        heap_map[i / 64] &= ~(1ull << (i % 64));
}

/* First fit from a moving hint, `align_pages`-aligned. */
static void *heap_alloc(uint64_t count, uint64_t align_pages)
{
    for (int pass = 0; pass < 2; pass++) {
        uint64_t i = pass == 0 ? heap_hint : 0;
        i = (i + align_pages - 1) / align_pages * align_pages;
        while (i + count <= HEAP_PAGES) {
            uint64_t k = 0;
            while (k < count && !page_busy(i + k))
                k++;
            if (k == count) {
                for (k = 0; k < count; k++)
                    page_set(i + k, true);
                heap_used += count;
                heap_hint = i + count;
                void *va = (void *)(uintptr_t)(HEAP_BASE + i * 4096u);
                memset(va, 0, count * 4096u);
                return va;
            }
            i = (i + k + 1 + align_pages - 1) / align_pages * align_pages;
        }
    }
    return NULL;
}

static void heap_free(void *va, uint64_t count)
{
    uint64_t i = ((uint64_t)(uintptr_t)va - HEAP_BASE) / 4096u;
    for (uint64_t k = 0; k < count; k++) {
        if (!page_busy(i + k)) {
            s2t_puts("KERNEL-TRAP double free of a page\n");
            s2t_exit(2);
        }
        page_set(i + k, false);
    }
    heap_used -= count;
}

static void *host_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    (void)ctx;
    void *va = heap_alloc(count, 1);
    *phys = (uint64_t)(uintptr_t)va; /* identity map */
    return va;
}

static void host_free_pages(void *ctx, void *va, size_t count)
{
    (void)ctx;
    heap_free(va, count);
}

static uint64_t host_virt_to_phys(void *ctx, const void *va)
{
    (void)ctx;
    return (uint64_t)(uintptr_t)va;
}

static const vcore_host_t s2t_host_services = {
    .size = sizeof(vcore_host_t),
    .alloc_pages = host_alloc_pages,
    .free_pages = host_free_pages,
    .virt_to_phys = host_virt_to_phys,
};

const vcore_host_t *s2t_host(void) { return &s2t_host_services; }
uint64_t s2t_heap_used_pages(void) { return heap_used; }
void s2t_heap_init(void) { heap_used = 0; heap_hint = 0; }

void *s2t_alloc_aligned(uint64_t bytes, uint64_t align)
{
    return heap_alloc((bytes + 4095u) / 4096u, align < 4096u ? 1 : align / 4096u);
}

void s2t_free(void *p, uint64_t bytes) { heap_free(p, (bytes + 4095u) / 4096u); }

/* ---- EL2 stage 1: 4 KiB granule, 39-bit VA, level-1 1 GiB blocks ----
 * [0, 1 GiB): Device-nGnRnE (PL011 at 0x09000000); [1, 2 GiB): Normal
 * Write-Back, Inner Shareable (RAM). */
static uint64_t el2_l1[512] __attribute__((aligned(4096)));

void s2t_mmu_init(void)
{
    el2_l1[0] = 0x0ull | (1ull << 10) | (0ull << 2) | 1ull | (1ull << 54);     /* AF, AttrIndx 0, block, XN */
    el2_l1[1] = 0x40000000ull | (1ull << 10) | (3ull << 8) | (1ull << 2) | 1ull; /* AF, SH inner, AttrIndx 1 */
    uint64_t mair = 0x00ull | (0xffull << 8);               /* attr0 Device-nGnRnE, attr1 Normal WB RWA */
    uint64_t tcr = 25ull | (1ull << 8) | (1ull << 10) | (3ull << 12) | (0ull << 14) |
                   (2ull << 16) | (1ull << 23) | (1ull << 31); /* T0SZ 25, WBWA, inner, 4K, PS 40 bits, RES1 */
    __asm__ volatile("msr mair_el2, %0\n\tmsr tcr_el2, %1\n\tmsr ttbr0_el2, %2\n\tisb\n\t"
                     "tlbi alle2\n\tdsb ish\n\tisb"
                     : : "r"(mair), "r"(tcr), "r"((uint64_t)(uintptr_t)el2_l1) : "memory");
    uint64_t sctlr = 0x30c50830ull | 1u | (1u << 2) | (1u << 12); /* RES1, M, C, I */
    __asm__ volatile("msr sctlr_el2, %0\n\tisb" : : "r"(sctlr) : "memory");
}
