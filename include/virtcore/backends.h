/**
 * @file backends.h
 * @brief The backends built into this library.
 *
 * Each getter exists in every build; it returns NULL when the backend was
 * not compiled in (CMake option VIRTCORE_BACKENDS).
 */
#ifndef VIRTCORE_BACKENDS_H
#define VIRTCORE_BACKENDS_H

#include "common.h"
#include "vm.h"

VCORE_BEGIN_DECLS

/**
 * @brief The mock backend: a software model with scripted exits (see mock.h).
 * @return The ops table, or NULL if not built in.
 */
VCORE_API const vcore_backend_t *vcore_backend_mock(void);

/**
 * @brief The Linux /dev/kvm backend.
 * @return The ops table, or NULL if not built in.
 */
VCORE_API const vcore_backend_t *vcore_backend_kvm(void);

/**
 * @brief The ring-0 Intel VMX backend.
 * @return The ops table, or NULL if not built in.
 */
VCORE_API const vcore_backend_t *vcore_backend_vmx(void);

/**
 * @brief The ring-0 AMD SVM backend.
 * @return The ops table, or NULL if not built in.
 */
VCORE_API const vcore_backend_t *vcore_backend_svm(void);

/**
 * @brief The AArch64 EL2 backend.
 * @return The ops table, or NULL if not built in.
 */
VCORE_API const vcore_backend_t *vcore_backend_arm64(void);

/**
 * @brief Finds a built-in backend by name.
 * @param[in] name "mock", "kvm", "vmx", "svm" or "arm64".
 * @return The ops table, or NULL if unknown or not built in.
 */
VCORE_API const vcore_backend_t *vcore_backend_by_name(const char *name);

/**
 * @brief Tells whether a backend is built in and can run on this machine.
 * @param[in] name Backend name.
 * @return true if built in and its probe succeeds with the default host services.
 */
VCORE_API bool vcore_backend_available(const char *name);

/**
 * @brief Picks the best backend that can run here for @p arch.
 *
 * Preference: hardware backends (kvm, vmx, svm, arm64) before mock.
 * @param[in] arch A vcore_arch_t.
 * @param[in] host Host services for the probes; NULL means the default.
 * @return The ops table; NULL if none can run.
 */
VCORE_API const vcore_backend_t *vcore_backend_best(uint32_t arch, const vcore_host_t *host);

VCORE_END_DECLS

#endif /* VIRTCORE_BACKENDS_H */
