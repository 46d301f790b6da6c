/*
 * s2_pool.c - the page pool of one stage-2 table.
 *
 * Translation tables are granule sized and granule aligned (4, 16 or
 * 64 KiB), but the host hands out 4 KiB-aligned runs of pages. The pool
 * draws chunks of tables from vcore_host_t::alloc_pages; when a chunk's
 * physical address is not aligned to the granule it draws a larger run and
 * uses the aligned part (the slack is counted in host_pages). Chunks start
 * small and double up to VCORE__ARM64_S2_POOL_MAX_CHUNK tables, so a small
 * VM takes little and a large one needs few chunks. The chunk records stay
 * sorted by physical address: a table walk maps each descriptor's address
 * back to the table's virtual address with a binary search.
 *
 * Free tables are linked through their first word; a table handed out is
 * zeroed first. Nothing is given back to the host before fini.
 */
#include "arm64.h"

void vcore__arm64_s2_pool_init(vcore__arm64_s2_pool_t *p, const vcore_host_t *host,
                               uint32_t table_bytes, uint32_t first_chunk_tables)
{
    vcore__memset(p, 0, sizeof(*p));
    p->host = *host;
    p->table_bytes = table_bytes;
    p->next_tables = first_chunk_tables ? first_chunk_tables : 4u;
    if (p->next_tables > VCORE__ARM64_S2_POOL_MAX_CHUNK)
        p->next_tables = VCORE__ARM64_S2_POOL_MAX_CHUNK;
}

/* Draws `bytes` aligned to `align` from the host: first exactly, and if the
 * host's placement is not aligned, again with room to align inside. */
static int vcore__s2_pool_draw(vcore__arm64_s2_pool_t *p, uint64_t bytes, uint64_t align,
                               vcore__arm64_s2_chunk_t *c)
{
    if (p->nchunks == VCORE__ARM64_S2_POOL_CHUNKS)
        return VCORE_ERR_NOMEM;
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t slack = attempt == 0 ? 0 : align - VCORE_PAGE_SIZE;
        uint64_t pages = (bytes + slack) / VCORE_PAGE_SIZE;
        uint64_t pa = 0;
        uint8_t *va = p->host.alloc_pages(p->host.ctx, (size_t)pages, &pa);
        if (!va)
            return VCORE_ERR_NOMEM;
        uint64_t skip = (align - (pa & (align - 1u))) & (align - 1u);
        if (((uintptr_t)va | pa) & (VCORE_PAGE_SIZE - 1u)) {
            /* The host broke its contract (4 KiB alignment): refuse the pages. */
            p->host.free_pages(p->host.ctx, va, (size_t)pages);
            return VCORE_ERR_HWFAIL;
        }
        if (skip + bytes <= pages * VCORE_PAGE_SIZE) {
            c->host_va = va;
            c->pa = pa + skip;
            c->va = va + skip;
            c->pages = (uint32_t)pages;
            c->tables = 0;
            return VCORE_OK;
        }
        p->host.free_pages(p->host.ctx, va, (size_t)pages);
    }
    return VCORE_ERR_NOMEM;
}

/* Inserts a chunk record keeping the array sorted by pa. */
static void vcore__s2_pool_insert(vcore__arm64_s2_pool_t *p, const vcore__arm64_s2_chunk_t *c)
{
    uint32_t i = p->nchunks;
    while (i > 0 && p->chunk[i - 1].pa > c->pa) {
        p->chunk[i] = p->chunk[i - 1];
        i--;
    }
    p->chunk[i] = *c;
    p->nchunks++;
    p->host_pages += c->pages;
}

int vcore__arm64_s2_pool_alloc_block(vcore__arm64_s2_pool_t *p, uint64_t bytes, uint64_t align,
                                     uint8_t **va, uint64_t *pa)
{
    vcore__arm64_s2_chunk_t c;
    if (align < VCORE_PAGE_SIZE)
        align = VCORE_PAGE_SIZE;
    int rc = vcore__s2_pool_draw(p, bytes, align, &c);
    if (rc != VCORE_OK)
        return rc;
    vcore__memset(c.va, 0, (size_t)bytes);
    vcore__s2_pool_insert(p, &c);
    *va = c.va;
    *pa = c.pa;
    return VCORE_OK;
}

/* Adds a chunk of tables to the free list. */
static int vcore__s2_pool_grow(vcore__arm64_s2_pool_t *p)
{
    vcore__arm64_s2_chunk_t c;
    uint64_t bytes = (uint64_t)p->next_tables * p->table_bytes;
    int rc = vcore__s2_pool_draw(p, bytes, p->table_bytes, &c);
    if (rc != VCORE_OK)
        return rc;
    c.tables = p->next_tables;
    vcore__s2_pool_insert(p, &c);
    for (uint32_t i = 0; i < c.tables; i++)
        vcore__arm64_s2_pool_put(p, c.va + (size_t)i * p->table_bytes);
    p->ntotal += c.tables;
    if (p->next_tables < VCORE__ARM64_S2_POOL_MAX_CHUNK)
        p->next_tables *= 2u;
    return VCORE_OK;
}

uint64_t *vcore__arm64_s2_pool_va(const vcore__arm64_s2_pool_t *p, uint64_t pa)
{
    uint32_t lo = 0, hi = p->nchunks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2u;
        const vcore__arm64_s2_chunk_t *c = &p->chunk[mid];
        if (pa < c->pa) {
            hi = mid;
        } else if (pa - c->pa >= (uint64_t)c->pages * VCORE_PAGE_SIZE) {
            lo = mid + 1u;
        } else {
            return (uint64_t *)(void *)(c->va + (pa - c->pa));
        }
    }
    return NULL;
}

int vcore__arm64_s2_pool_get(vcore__arm64_s2_pool_t *p, uint64_t **va, uint64_t *pa)
{
    if (!p->free_list) {
        int rc = vcore__s2_pool_grow(p);
        if (rc != VCORE_OK)
            return rc;
    }
    uint8_t *t = p->free_list;
    vcore__memcpy(&p->free_list, t, sizeof(void *));
    p->nfree--;
    vcore__memset(t, 0, p->table_bytes);
    *pa = vcore__arm64_s2_pool_pa(p, t);
    *va = (uint64_t *)(void *)t;
    return VCORE_OK;
}

uint64_t vcore__arm64_s2_pool_pa(const vcore__arm64_s2_pool_t *p, const void *va)
{
    const uint8_t *t = va;
    for (uint32_t i = 0; i < p->nchunks; i++) {
        const vcore__arm64_s2_chunk_t *c = &p->chunk[i];
        if (t >= c->va && t < c->va + (size_t)c->pages * VCORE_PAGE_SIZE)
            return c->pa + (uint64_t)(t - c->va);
    }
    return 0;
}

void vcore__arm64_s2_pool_put(vcore__arm64_s2_pool_t *p, void *va)
{
    vcore__memcpy(va, &p->free_list, sizeof(void *));
    p->free_list = va;
    p->nfree++;
}

void vcore__arm64_s2_pool_fini(vcore__arm64_s2_pool_t *p)
{
    for (uint32_t i = 0; i < p->nchunks; i++)
        p->host.free_pages(p->host.ctx, p->chunk[i].host_va, p->chunk[i].pages);
    p->nchunks = 0;
    p->free_list = NULL;
    p->nfree = 0;
    p->ntotal = 0;
    p->host_pages = 0;
}
