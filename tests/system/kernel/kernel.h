/*
 * kernel.h - the VMX system-test kernel: console, CPU setup, host services,
 * and the case table.
 *
 * The kernel runs in 64-bit mode with the first 1 GiB identity mapped, so a
 * virtual address is its physical address.
 */
#ifndef VTK_KERNEL_H
#define VTK_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* ---- the C library functions the kernel provides (kmem.c) ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ---- port I/O and console (kcons.c) ---- */
static inline void vtk_outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
void vtk_putc(char c);
void vtk_puts(const char *s);
void vtk_puthex(uint64_t v);
void vtk_putdec(uint64_t v);
/* Ends the Bochs run (string "Shutdown" to port 8900H). */
void vtk_shutdown(void) __attribute__((noreturn));
/* Reads the time-stamp counter. */
uint64_t vtk_rdtsc(void);

/* ---- result lines (kresult.c) ---- */
/* A case's result as the case tables give it (VTK_PASS / SVK_PASS ...). */
#define VTK_RESULT_PASS 0
#define VTK_RESULT_FAIL 1
#define VTK_RESULT_SKIP 2
typedef struct vtk_tally {
    uint32_t pass, fail, skip; /* CASE lines printed, by result */
    uint32_t rec;              /* RECORD lines (VMX case table) */
} vtk_tally_t;
/* Prints "CASE <prefix><name> PASS|FAIL|SKIP <detail>" and counts it. */
void vtk_tally_case(vtk_tally_t *t, const char *prefix, const char *name, int result, const char *detail);
/* Prints "SUMMARY pass= fail= skip= [record= ]tsc=" (TSC ticks since t0) and "VTK-END". */
void vtk_tally_summary(const vtk_tally_t *t, bool records, uint64_t t0);

/* ---- CPU tables (kcpu.c) ---- */
/* Installs the kernel's GDT (with a TSS: VMX host state needs a non-null TR) and IDT. */
void vtk_cpu_init(void);
/* Selectors of the kernel GDT. */
#define VTK_SEL_CODE 0x08u
#define VTK_SEL_DATA 0x10u
#define VTK_SEL_TSS 0x18u

/* ---- memory (kmem.c) ---- */
/* Pages from the bump arena (zeroed, 4 KiB aligned); NULL when exhausted. */
void *vtk_alloc_pages(size_t count);
/* 2 MiB-aligned pages (guest RAM EPT can map with 2 MiB leaves). */
void *vtk_alloc_2m(size_t count2m);
/* Bytes left in the arena. */
size_t vtk_arena_left(void);
/* Fills in the per-processor storage of the host services (kmem.c). */
void vtk_host_init(void);

#endif /* VTK_KERNEL_H */
