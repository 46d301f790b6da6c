/*
 * backend_fixture.h - the host services the hardware-backend tests (vmx and
 * svm against the strict fakes of their primitives) give the library: page
 * allocation that counts what is out and can be told to fail, one page of
 * per-processor storage for every processor of the fake, the fake's current
 * processor as cpu_index, and a kick_cpu that records whom it kicked.
 *
 * Before including it a test defines FIXTURE_MAX_CPUS (processors of the
 * fake) and FIXTURE_THIS_CPU (an expression: the fake's current processor).
 * Included by one test file each (its definitions are static).
 */
#ifndef VCORE_TEST_BACKEND_FIXTURE_H
#define VCORE_TEST_BACKEND_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "support.h"

static vcore_host_t host;
static int pages_left; /* > 0: alloc_pages fails after this many calls */
static long pages_out; /* pages handed out and not yet given back */
static vcore_host_cpu_t test_cpus[FIXTURE_MAX_CPUS];
static uint8_t cpu_pages[FIXTURE_MAX_CPUS][4096] __attribute__((aligned(4096)));
static uint32_t kicked_cpu, n_kick_cpu; /* the last processor kicked, and how many kicks */

static inline void *amem(size_t align, size_t len)
{
    void *p = NULL;
    ck_assert_int_eq(posix_memalign(&p, align, len), 0);
    return p;
}

static void *test_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    if (pages_left > 0 && --pages_left == 0)
        return NULL;
    void *p = vcore_host_default()->alloc_pages(ctx, count, phys);
    if (p)
        pages_out += (long)count;
    return p;
}

static void test_free_pages(void *ctx, void *va, size_t count)
{
    ck_assert_ptr_nonnull(va);
    pages_out -= (long)count;
    vcore_host_default()->free_pages(ctx, va, count);
}

static uint32_t test_cpu_index(void *ctx)
{
    (void)ctx;
    return FIXTURE_THIS_CPU;
}

static void test_kick_cpu(void *ctx, uint32_t cpu)
{
    (void)ctx;
    kicked_cpu = cpu;
    n_kick_cpu++;
}

/* Host services with the per-processor storage the backends need. */
static void host_init(void)
{
    host = *vcore_host_default();
    host.alloc_pages = test_alloc_pages;
    host.free_pages = test_free_pages;
    pages_out = 0;
    pages_left = 0;
    memset(test_cpus, 0, sizeof(test_cpus));
    memset(cpu_pages, 0, sizeof(cpu_pages));
    for (unsigned i = 0; i < FIXTURE_MAX_CPUS; i++) {
        test_cpus[i].page = cpu_pages[i];
        test_cpus[i].page_phys = (uint64_t)(uintptr_t)cpu_pages[i];
    }
    host.cpu_index = test_cpu_index;
    host.cpus = test_cpus;
    host.ncpus = FIXTURE_MAX_CPUS;
    host.kick_cpu = test_kick_cpu;
    kicked_cpu = ~0u;
    n_kick_cpu = 0;
}

#endif /* VCORE_TEST_BACKEND_FIXTURE_H */
