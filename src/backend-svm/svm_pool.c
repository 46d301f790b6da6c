/*
 * svm_pool.c - per-VM page pool for the nested page tables.
 *
 * Pages come from the host's alloc_pages in chunks and are handed out one
 * at a time. Every page keeps its physical address (the chunk's base plus
 * the offset), so tables can be walked from the physical addresses stored
 * in their entries.
 */
#include "svm.h"

void vcore__svm_pool_init(vcore__svm_pool_t *p, const vcore_host_t *host)
{
    vcore__memset(p, 0, sizeof(*p));
    p->host = host;
}

/* Adds a chunk of pages to the free list. */
static int vcore__svm_pool_grow(vcore__svm_pool_t *p)
{
    if (p->nchunks == VCORE__SVM_POOL_CHUNKS)
        return VCORE_ERR_NOMEM;
    uint64_t pa = 0;
    uint8_t *va = p->host->alloc_pages(p->host->ctx, VCORE__SVM_POOL_CHUNK_PAGES, &pa);
    if (!va)
        return VCORE_ERR_NOMEM;
    if (((uintptr_t)va | pa) & (VCORE_PAGE_SIZE - 1)) {
        /* The host broke its contract (4 KiB alignment): refuse the pages. */
        p->host->free_pages(p->host->ctx, va, VCORE__SVM_POOL_CHUNK_PAGES);
        return VCORE_ERR_HWFAIL;
    }
    p->chunk[p->nchunks].va = va;
    p->chunk[p->nchunks].pa = pa;
    p->nchunks++;
    for (uint32_t i = 0; i < VCORE__SVM_POOL_CHUNK_PAGES; i++) {
        uint8_t *page = va + (size_t)i * VCORE_PAGE_SIZE;
        vcore__memcpy(page, &p->free_list, sizeof(void *));
        p->free_list = page;
    }
    return VCORE_OK;
}

int vcore__svm_pool_get(vcore__svm_pool_t *p, uint64_t **va, uint64_t *pa)
{
    if (!p->free_list) {
        int err = vcore__svm_pool_grow(p);
        if (err)
            return err;
    }
    uint8_t *page = p->free_list;
    vcore__memcpy(&p->free_list, page, sizeof(void *));
    vcore__memset(page, 0, VCORE_PAGE_SIZE);
    *pa = 0;
    for (uint32_t i = 0; i < p->nchunks; i++) {
        uint8_t *base = p->chunk[i].va;
        if (page >= base && page < base + (size_t)VCORE__SVM_POOL_CHUNK_PAGES * VCORE_PAGE_SIZE) {
            *pa = p->chunk[i].pa + (uint64_t)(page - base);
            break;
        }
    }
    *va = (uint64_t *)(void *)page;
    return VCORE_OK;
}

void vcore__svm_pool_put(vcore__svm_pool_t *p, void *va)
{
    vcore__memcpy(va, &p->free_list, sizeof(void *));
    p->free_list = va;
}

uint64_t *vcore__svm_pool_va(const vcore__svm_pool_t *p, uint64_t pa)
{
    for (uint32_t i = 0; i < p->nchunks; i++) {
        uint64_t base = p->chunk[i].pa;
        if (pa >= base && pa < base + (uint64_t)VCORE__SVM_POOL_CHUNK_PAGES * VCORE_PAGE_SIZE)
            return (uint64_t *)(void *)(p->chunk[i].va + (pa - base));
    }
    return NULL;
}

void vcore__svm_pool_fini(vcore__svm_pool_t *p)
{
    for (uint32_t i = 0; i < p->nchunks; i++)
        p->host->free_pages(p->host->ctx, p->chunk[i].va, VCORE__SVM_POOL_CHUNK_PAGES);
    p->nchunks = 0;
    p->free_list = NULL;
}
