/*
 * deps.h - the only place src/core touches the C library.
 *
 * The core is freestanding: it may use memcpy, memset, memmove and memcmp
 * and nothing else from libc (the freestanding archive is checked with
 * nm -u for exactly that). Everything else the core needs comes from the
 * per-VM host services (host.h).
 */
#ifndef VCORE_CORE_DEPS_H
#define VCORE_CORE_DEPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(VCORE_FREESTANDING)
/* No <string.h> in a freestanding environment: declare the four functions
 * every freestanding C compiler may emit calls to anyway. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#else
#include <string.h>
#endif

/* The compiler's builtins: a freestanding build (-fno-builtin) would turn
 * every 2-, 4- or 8-byte field copy into an out-of-line memcpy call; the
 * builtin is inlined for small constant sizes and calls the function above
 * for the rest, so the only external symbols stay these four. */
#if defined(__GNUC__)
#define vcore__memcpy __builtin_memcpy
#define vcore__memset __builtin_memset
#define vcore__memmove __builtin_memmove
#define vcore__memcmp __builtin_memcmp
#else
#define vcore__memcpy memcpy
#define vcore__memset memset
#define vcore__memmove memmove
#define vcore__memcmp memcmp
#endif

/* Number of elements of an array. */
#define VCORE__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A compile-time assertion in C99: a negative array size stops the build. */
#define VCORE__STATIC_ASSERT(cond, name) typedef char vcore__static_assert_##name[(cond) ? 1 : -1]

/* Checks the leading size field of a public struct. */
#define VCORE__SIZE_OK(p) ((p)->size == sizeof(*(p)))

#endif /* VCORE_CORE_DEPS_H */
