/*
 * kmem.c - the embedder's side of libvirtcore: memory functions and host services.
 *
 * This is all the glue a kernel needs (docs/embedding.md): memcpy, memset,
 * memmove, memcmp, and a vcore_host_t. Pages come from a bump arena
 * between 4 MiB and 56 MiB; the kernel identity-maps memory, so
 * virt_to_phys is the identity.
 */
#include "kernel.h"

#include "virtcore/host.h"

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

#define VTK_ARENA_START 0x400000ull
#define VTK_ARENA_END 0x3800000ull
static uint64_t vtk_arena_next = VTK_ARENA_START;

void *vtk_alloc_pages(size_t count)
{
    uint64_t len = (uint64_t)count * 4096u;
    if (count == 0 || VTK_ARENA_END - vtk_arena_next < len)
        return NULL;
    void *p = (void *)(uintptr_t)vtk_arena_next;
    vtk_arena_next += len;
    memset(p, 0, (size_t)len);
    return p;
}

size_t vtk_arena_left(void)
{
    return (size_t)(VTK_ARENA_END - vtk_arena_next);
}

/* Aligns the arena to 2 MiB (guest RAM that EPT can map with 2 MiB pages). */
void *vtk_alloc_2m(size_t count2m)
{
    vtk_arena_next = (vtk_arena_next + 0x1fffffull) & ~0x1fffffull;
    return vtk_alloc_pages(count2m * 512u);
}

static void *vtk_host_alloc(void *ctx, size_t len)
{
    (void)ctx;
    return vtk_alloc_pages((len + 4095u) / 4096u);
}

static void vtk_host_free(void *ctx, void *ptr, size_t len)
{
    /* A bump arena never frees; the test kernel is short-lived. */
    (void)ctx;
    (void)ptr;
    (void)len;
}

static void *vtk_host_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    (void)ctx;
    void *p = vtk_alloc_pages(count);
    if (p)
        *phys = (uint64_t)(uintptr_t)p;
    return p;
}

static void vtk_host_free_pages(void *ctx, void *va, size_t count)
{
    (void)ctx;
    (void)va;
    (void)count;
}

static uint64_t vtk_host_virt_to_phys(void *ctx, const void *va)
{
    (void)ctx;
    return (uint64_t)(uintptr_t)va;
}

static void vtk_host_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    vtk_puts("LOG ");
    vtk_putdec((uint64_t)level);
    vtk_puts(" ");
    vtk_puts(msg);
    vtk_puts("\n");
}

/* One processor (Bochs runs with cpu count=1): its index and its storage,
 * shared by every VM, with the page that becomes its VMXON region. */
static uint32_t vtk_host_cpu_index(void *ctx)
{
    (void)ctx;
    return 0;
}

static uint8_t vtk_cpu0_page[4096] __attribute__((aligned(4096)));
vcore_host_cpu_t vtk_host_cpus[1];

void vtk_host_init(void)
{
    vtk_host_cpus[0].page = vtk_cpu0_page;
    vtk_host_cpus[0].page_phys = (uint64_t)(uintptr_t)vtk_cpu0_page; /* identity mapped */
}

extern const vcore_host_t vtk_host;
const vcore_host_t vtk_host = {
    .size = sizeof(vcore_host_t),
    .ctx = NULL,
    .alloc = vtk_host_alloc,
    .free = vtk_host_free,
    .alloc_pages = vtk_host_alloc_pages,
    .free_pages = vtk_host_free_pages,
    .virt_to_phys = vtk_host_virt_to_phys,
    .log = vtk_host_log,
    .log_level = VCORE_LOG_WARN,
    .cpu_index = vtk_host_cpu_index,
    .cpus = vtk_host_cpus,
    .ncpus = 1,
};
