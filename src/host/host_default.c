/*
 * host_default.c - host services for a Linux (or any POSIX) process.
 *
 * Lives outside src/core because it uses libc; the freestanding archive
 * does not contain it and vcore_host_default() returns NULL there.
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtcore/host.h"

static void *vcore__host_alloc(void *ctx, size_t len)
{
    (void)ctx;
    return calloc(1, len ? len : 1);
}

static void vcore__host_free(void *ctx, void *ptr, size_t len)
{
    (void)ctx;
    (void)len;
    free(ptr);
}

static void *vcore__host_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    (void)ctx;
    if (count == 0 || count > SIZE_MAX / VCORE_PAGE_SIZE)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, VCORE_PAGE_SIZE, count * VCORE_PAGE_SIZE) != 0)
        return NULL;
    memset(p, 0, count * VCORE_PAGE_SIZE);
    if (phys)
        *phys = (uint64_t)(uintptr_t)p; /* no physical addresses in user space */
    return p;
}

static void vcore__host_free_pages(void *ctx, void *va, size_t count)
{
    (void)ctx;
    (void)count;
    free(va);
}

static uint64_t vcore__host_virt_to_phys(void *ctx, const void *va)
{
    (void)ctx;
    return (uint64_t)(uintptr_t)va;
}

static void vcore__host_log(void *ctx, int level, const char *msg)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    (void)ctx;
    const char *name = (level >= 0 && level <= VCORE_LOG_DEBUG) ? names[level] : "log";
    fprintf(stderr, "virtcore: %s: %s\n", name, msg);
}

/* Read-only: the defaults are shared, never modified (no mutable globals). */
static const vcore_host_t vcore__host_default_services = {
    .size = sizeof(vcore_host_t),
    .ctx = NULL,
    .alloc = vcore__host_alloc,
    .free = vcore__host_free,
    .alloc_pages = vcore__host_alloc_pages,
    .free_pages = vcore__host_free_pages,
    .virt_to_phys = vcore__host_virt_to_phys,
    .log = vcore__host_log,
    .log_level = VCORE_LOG_ERROR,
};

const vcore_host_t *vcore_host_default(void)
{
    return &vcore__host_default_services;
}
