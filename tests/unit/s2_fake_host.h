/* A strict fake of the host page services for the stage-2 tests: physical
 * addresses differ from virtual ones (a configurable base, optionally
 * misaligned), allocations can be made to fail, and every page handed out
 * must come back. Shared by the unit tests and the benchmark. The includer
 * defines _POSIX_C_SOURCE (posix_memalign) before any system header. */
#ifndef VCORE_TEST_S2_FAKE_HOST_H
#define VCORE_TEST_S2_FAKE_HOST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/host.h>

#define FH_MAX 4096

typedef struct fake_host {
    vcore_host_t host;
    uint64_t next_pa;      /* physical address of the next allocation */
    uint64_t misalign;     /* added once to the next allocation's pa (bytes) */
    long fail_after;       /* allocations left before failing; -1 = never */
    uint64_t outstanding;  /* pages handed out and not freed */
    uint64_t allocs;
    struct { void *va; size_t count; } live[FH_MAX];
} fake_host_t;

static void *fh_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    fake_host_t *f = ctx;
    if (f->fail_after == 0)
        return NULL;
    if (f->fail_after > 0)
        f->fail_after--;
    void *va = NULL;
    if (posix_memalign(&va, 4096, count * 4096) != 0)
        return NULL;
    memset(va, 0xa5, count * 4096); /* the library must not rely on zeroed pages */
    f->next_pa += f->misalign;
    f->misalign = 0;
    *phys = f->next_pa;
    f->next_pa += count * 4096;
    f->outstanding += count;
    f->allocs++;
    for (int i = 0; i < FH_MAX; i++)
        if (!f->live[i].va) {
            f->live[i].va = va;
            f->live[i].count = count;
            return va;
        }
    abort();
}

static void fh_free_pages(void *ctx, void *va, size_t count)
{
    fake_host_t *f = ctx;
    for (int i = 0; i < FH_MAX; i++)
        if (f->live[i].va == va) {
            if (f->live[i].count != count) {
                fprintf(stderr, "fake host: free_pages with count %zu, allocated %zu\n", count,
                        f->live[i].count);
                abort();
            }
            f->live[i].va = NULL;
            f->outstanding -= count;
            free(va);
            return;
        }
    fprintf(stderr, "fake host: free_pages of a pointer never allocated\n");
    abort();
}

static void fh_init(fake_host_t *f, uint64_t pa_base)
{
    memset(f, 0, sizeof(*f));
    f->host.size = sizeof(f->host);
    f->host.ctx = f;
    f->host.alloc_pages = fh_alloc_pages;
    f->host.free_pages = fh_free_pages;
    f->next_pa = pa_base;
    f->fail_after = -1;
}

#endif
