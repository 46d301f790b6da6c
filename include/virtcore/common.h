/**
 * @file common.h
 * @brief Basic definitions shared by every libvirtcore header.
 *
 * Public headers include only <stddef.h>, <stdint.h> and <stdbool.h>, so the
 * same headers serve a Linux process and a freestanding kernel.
 */
#ifndef VIRTCORE_COMMON_H
#define VIRTCORE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * @def VCORE_API
 * @brief Marks a symbol as part of the exported ABI of the shared library.
 *
 * The library is built with hidden visibility; only functions marked with
 * VCORE_API are exported. Static and freestanding builds define
 * VCORE_STATIC, which turns the macro into nothing.
 */
#if defined(VCORE_STATIC)
#define VCORE_API
#elif defined(VCORE_BUILDING_LIBRARY) && defined(__GNUC__)
#define VCORE_API __attribute__((visibility("default")))
#else
#define VCORE_API
#endif

/**
 * @def VCORE_WARN_UNUSED
 * @brief Asks the compiler to warn when an error code is ignored.
 */
#if defined(__GNUC__)
#define VCORE_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define VCORE_WARN_UNUSED
#endif

#ifdef __cplusplus
#define VCORE_BEGIN_DECLS extern "C" {
#define VCORE_END_DECLS }
#else
/** @brief Opens a block of C declarations (extern "C" for C++ callers). */
#define VCORE_BEGIN_DECLS
/** @brief Closes a block opened with VCORE_BEGIN_DECLS. */
#define VCORE_END_DECLS
#endif

/**
 * @brief Fills the @c size field of a public value struct.
 *
 * Every public struct starts with a @c size_t @c size member. Callers set it
 * to @c sizeof the struct they were compiled with; the library refuses a
 * struct whose size it does not know with VCORE_ERR_ABI.
 */
#define VCORE_STRUCT_INIT(p) ((p)->size = sizeof(*(p)))

#endif /* VIRTCORE_COMMON_H */
