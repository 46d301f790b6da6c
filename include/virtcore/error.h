/**
 * @file error.h
 * @brief Error codes: one list, pinned negative values, static strings.
 *
 * A VM exit is not an error: vcore_vcpu_run() returns VCORE_OK and fills a
 * vcore_exit_t. Errors describe misuse of the library (bad argument, wrong
 * ABI), missing resources, or a backend that cannot do what was asked.
 * Values are pinned and the list is append-only.
 */
#ifndef VIRTCORE_ERROR_H
#define VIRTCORE_ERROR_H

#include "common.h"

VCORE_BEGIN_DECLS

/**
 * @brief The error list: X(name, value, message).
 *
 * Append only; never renumber. The value of each entry is part of the ABI.
 */
#define VCORE_ERROR_LIST(X)                                                    \
    X(OK, 0, "success")                                                        \
    X(ERR_INVAL, -1, "invalid argument")                                       \
    X(ERR_NOMEM, -2, "out of memory")                                          \
    X(ERR_UNSUPPORTED, -3, "operation not supported by this backend")          \
    X(ERR_NODEV, -4, "virtualization device or hardware not available")        \
    X(ERR_STATE, -5, "operation not allowed in the current state")             \
    X(ERR_HWFAIL, -6, "the hardware or kernel refused the operation")          \
    X(ERR_ABI, -7, "structure size or ABI version mismatch")                   \
    X(ERR_RANGE, -8, "value or address out of range")                          \
    X(ERR_BUFSZ, -9, "buffer too small")                                       \
    X(ERR_EXISTS, -10, "object or mapping already exists / overlaps")          \
    X(ERR_NOENT, -11, "no such object, register or mapping")                   \
    X(ERR_FAULT, -12, "guest memory access failed")                            \
    X(ERR_BUSY, -13, "resource busy")                                          \
    X(ERR_INTR, -14, "interrupted")                                            \
    X(ERR_UNSCRIPTED, -15, "mock backend: operation not scripted")

/** @brief Error codes returned by every fallible function. */
typedef enum vcore_error {
#define VCORE__ERR_ENUM(name, value, msg) VCORE_##name = (value),
    VCORE_ERROR_LIST(VCORE__ERR_ENUM)
#undef VCORE__ERR_ENUM
} vcore_error_t;

/**
 * @brief Returns a human-readable, static description of an error code.
 * @param[in] err An error code (any int).
 * @return A static string; "unknown error" for values not in the list.
 */
VCORE_API const char *vcore_strerror(int err);

/**
 * @brief Returns the symbolic name of an error code, e.g. "VCORE_ERR_INVAL".
 * @param[in] err An error code (any int).
 * @return A static string; "VCORE_ERR_UNKNOWN" for values not in the list.
 */
VCORE_API const char *vcore_err_name(int err);

VCORE_END_DECLS

#endif /* VIRTCORE_ERROR_H */
