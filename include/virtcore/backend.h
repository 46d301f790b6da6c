/**
 * @file backend.h
 * @brief Implementer-facing: the ops table a backend fills in.
 *
 * VMM authors do not need this header; it is for those who write a backend
 * (and for the library's own). The core calls the ops; the ops never call
 * back into the public VM/vCPU API, only into the accessors declared here.
 *
 * Optional ops may be NULL: the core then returns VCORE_ERR_UNSUPPORTED
 * for the public function that needs them.
 *
 * State protocol: the core keeps the architectural model
 * (vcore_x86_state_t) and tracks, per state class, whether the model is
 * up to date (valid) and whether it holds changes the backend has not seen
 * (dirty). Before a run the core passes the dirty classes to
 * @c vcpu_set_state; after a run every class is invalid and is fetched
 * with @c vcpu_get_state only when somebody asks for it.
 */
#ifndef VIRTCORE_BACKEND_H
#define VIRTCORE_BACKEND_H

#include "common.h"
#include "exit.h"
#include "host.h"
#include "vcpu.h"
#include "vm.h"
#include "x86/cpuid.h"
#include "x86/regs.h"

VCORE_BEGIN_DECLS

/** @brief ABI version of vcore_backend_t; bumped on any incompatible change. */
#define VCORE_BACKEND_ABI_VERSION 1u

/** @name Architecture bits for vcore_backend_t::arches
 * @{ */
#define VCORE_BACKEND_ARCH_X86_64 (1u << VCORE_ARCH_X86_64) /**< Runs x86-64 guests. */
#define VCORE_BACKEND_ARCH_ARM64 (1u << VCORE_ARCH_ARM64)   /**< Runs AArch64 guests. */
/** @} */

/** @brief The operations of one backend. */
struct vcore_backend {
    size_t size;           /**< sizeof(vcore_backend_t). */
    uint32_t abi_version;  /**< VCORE_BACKEND_ABI_VERSION. */
    uint32_t arches;       /**< VCORE_BACKEND_ARCH_* bits. */
    const char *name;      /**< Short name: "mock", "kvm", "vmx", "svm", "arm64". */
    size_t vm_priv_size;   /**< Bytes of private state per VM (placed after the core's). */
    size_t vcpu_priv_size; /**< Bytes of private state per vCPU. */

    /** Tells whether the backend can run here. VCORE_OK or VCORE_ERR_NODEV. Optional. */
    int (*probe)(const vcore_host_t *host);
    /** Initialises @p priv (zeroed) for a new VM. Required. */
    int (*vm_init)(vcore_vm_t *vm, void *priv);
    /** Releases what vm_init acquired. Required. */
    void (*vm_fini)(vcore_vm_t *vm, void *priv);
    /** Maps @p region in slot @p slot (already validated by the core). Optional. */
    int (*vm_map)(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *region);
    /** Unmaps slot @p slot. Optional (required if vm_map is set). */
    int (*vm_unmap)(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *region);
    /** Reads and clears the dirty bitmap of slot @p slot. Optional. */
    int (*vm_dirty_log)(vcore_vm_t *vm, void *priv, uint32_t slot,
                        const vcore_mem_region_t *region, uint64_t *bitmap, size_t bitmap_len);

    /** Initialises @p priv (zeroed) for a new vCPU. Required. */
    int (*vcpu_init)(vcore_vcpu_t *vcpu, void *priv);
    /** Releases what vcpu_init acquired. Required. */
    void (*vcpu_fini)(vcore_vcpu_t *vcpu, void *priv);
    /** Copies the state classes @p classes from the backend into @p state. Required. */
    int (*vcpu_get_state)(vcore_vcpu_t *vcpu, void *priv, vcore_x86_state_t *state,
                          uint32_t classes);
    /** Loads the state classes @p classes of @p state into the backend. Required. */
    int (*vcpu_set_state)(vcore_vcpu_t *vcpu, void *priv, const vcore_x86_state_t *state,
                          uint32_t classes);
    /** Installs a CPUID table the core has already checked. Optional. */
    int (*vcpu_set_cpuid)(vcore_vcpu_t *vcpu, void *priv, const vcore_cpuid_entry_t *entries,
                          uint32_t nent);
    /** Runs until an exit; @p exit carries the previous exit's reply in and the new exit out. Required. */
    int (*vcpu_run)(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit);
    /** Interrupts a run from another thread. Optional. */
    int (*vcpu_kick)(vcore_vcpu_t *vcpu, void *priv);
};

/**
 * @brief Checks that a backend's ops table is well formed.
 * @param[in] backend The table.
 * @return VCORE_OK if usable.
 * @retval VCORE_ERR_INVAL @p backend is NULL or a required op is missing.
 * @retval VCORE_ERR_ABI The size or ABI version is not this library's.
 */
VCORE_API int vcore_backend_validate(const vcore_backend_t *backend);

/**
 * @brief The host services of a VM (for backends).
 * @param[in] vm The VM.
 * @return The services the VM was created with.
 */
VCORE_API const vcore_host_t *vcore_vm_host(const vcore_vm_t *vm);

/**
 * @brief The configuration a VM was created with (for backends).
 * @param[in] vm The VM.
 * @return A copy owned by the VM.
 */
VCORE_API const vcore_vm_config_t *vcore_vm_config(const vcore_vm_t *vm);

/**
 * @brief The private state of a VM's backend.
 * @param[in] vm The VM.
 * @return The vm_priv_size bytes reserved for the backend.
 */
VCORE_API void *vcore_vm_backend_priv(vcore_vm_t *vm);

/**
 * @brief The VM a vCPU belongs to.
 * @param[in] vcpu The vCPU.
 * @return The VM.
 */
VCORE_API vcore_vm_t *vcore_vcpu_vm(const vcore_vcpu_t *vcpu);

/**
 * @brief The private state of a vCPU's backend.
 * @param[in] vcpu The vCPU.
 * @return The vcpu_priv_size bytes reserved for the backend; NULL if @p vcpu is NULL.
 */
VCORE_API void *vcore_vcpu_backend_priv(const vcore_vcpu_t *vcpu);

/**
 * @brief The backend a vCPU runs on.
 * @param[in] vcpu The vCPU.
 * @return The ops table; NULL if @p vcpu is NULL.
 */
VCORE_API const vcore_backend_t *vcore_vcpu_backend(const vcore_vcpu_t *vcpu);

/**
 * @brief The core's model of a vCPU's state, as last synchronised (for backends).
 *
 * Backends may read it (e.g. to compare), but must change state only through
 * their own get/set ops.
 * @param[in] vcpu The vCPU.
 * @return The model.
 */
VCORE_API const vcore_x86_state_t *vcore_vcpu_model(const vcore_vcpu_t *vcpu);

/**
 * @brief Emits a log line through a VM's host services, if its level is enabled.
 * @param[in] vm The VM.
 * @param[in] level A vcore_log_level_t.
 * @param[in] msg The text.
 */
VCORE_API void vcore_vm_log(const vcore_vm_t *vm, int level, const char *msg);

VCORE_END_DECLS

#endif /* VIRTCORE_BACKEND_H */
