/* s2t.h - the EL2 stage-2 test image: console, memory, cases. */
#ifndef S2T_H
#define S2T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtcore/host.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void s2t_exit(uint64_t status) __attribute__((noreturn));
void s2t_putc(char c);
void s2t_puts(const char *s);
void s2t_puthex(uint64_t v);
void s2t_putdec(uint64_t v);
void s2t_mmu_init(void);
void s2t_heap_init(void);
const vcore_host_t *s2t_host(void);
uint64_t s2t_heap_used_pages(void);
void *s2t_alloc_aligned(uint64_t bytes, uint64_t align);
void s2t_free(void *p, uint64_t bytes);
void s2t_main(void) __attribute__((noreturn));
void s2t_el2_trap(uint64_t kind) __attribute__((noreturn));
/* kbackend.c: the cases run through the public API on the arm64 backend. */
uint32_t s2t_backend_cases(void);
void s2t_backend_run(uint64_t mmfr0, uint64_t mmfr1);
/* kmain.c: one result line per case. */
void s2t_begin(const char *name);
void s2t_finish(const char *name, bool ok);
void s2t_detail(const char *s);
void s2t_detail_hex(const char *k, uint64_t v);
void s2t_detail_dec(const char *k, int64_t v);
void s2t_info(const char *name, const char *what);

extern char s2t_guest_vectors[], s2t_guest_load[], s2t_guest_store[], s2t_guest_load_w[];
extern char s2t_guest_ldrsh[], s2t_guest_ldp[], s2t_guest_hvc[], s2t_guest_smc[], s2t_guest_wfx[];
extern char s2t_guest_mrs[], s2t_guest_msr[], s2t_guest_svc[], s2t_guest_udf[];
extern char __guest_start[];

#endif
