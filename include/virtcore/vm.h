/**
 * @file vm.h
 * @brief Virtual machines: creation, guest memory map, guest memory access.
 *
 * Locking contract: VM-wide functions (memory map changes, vCPU creation)
 * must not run concurrently with each other or with vcore_vcpu_run() of the
 * VM's vCPUs; the caller serialises them. vcore_vm_read_guest() and
 * vcore_vm_write_guest() only read the map and may run concurrently with
 * each other.
 */
#ifndef VIRTCORE_VM_H
#define VIRTCORE_VM_H

#include "common.h"
#include "diag.h"
#include "host.h"

VCORE_BEGIN_DECLS

/** @brief Opaque VM handle. */
typedef struct vcore_vm vcore_vm_t;
/** @brief Opaque vCPU handle. */
typedef struct vcore_vcpu vcore_vcpu_t;
/** @brief A backend (ops table), see backend.h. */
typedef struct vcore_backend vcore_backend_t;

/** @brief Guest architectures. */
typedef enum vcore_arch {
    VCORE_ARCH_X86_64 = 1, /**< x86-64 guest (Intel or AMD model). */
    VCORE_ARCH_ARM64 = 2   /**< AArch64 guest. */
} vcore_arch_t;

/** @brief Most guest-physical regions a VM can map. */
#define VCORE_VM_MAX_REGIONS 32u
/** @brief Most vCPUs a VM can have. */
#define VCORE_VM_MAX_VCPUS 256u

/** @brief Configuration for a VM. Initialise with vcore_vm_config_init(). */
typedef struct vcore_vm_config {
    size_t size;                    /**< sizeof(vcore_vm_config_t). */
    const vcore_backend_t *backend; /**< Backend that runs the VM (required). */
    const vcore_host_t *host;       /**< Host services; NULL means vcore_host_default(). */
    uint32_t arch;                  /**< vcore_arch_t; default VCORE_ARCH_X86_64. */
    uint32_t max_vcpus;             /**< 1..VCORE_VM_MAX_VCPUS; default 1. */
    uint32_t ipa_bits;              /**< arm64: IPA size; 0 = backend default (40). */
    uint32_t flags;                 /**< Reserved, must be 0. */
    /** arm64: stage-2 translation granule in bytes (VCORE_ARM64_GRANULE_4K,
     *  _16K or _64K); 0 = the backend's choice. Must be 0 for x86-64. */
    uint32_t granule;
} vcore_vm_config_t;

/** @name Guest memory region flags
 * @{ */
#define VCORE_MEM_READONLY (1u << 0)  /**< Guest writes exit as MMIO writes. */
#define VCORE_MEM_LOG_DIRTY (1u << 1) /**< Track written pages (backend support optional). */
/** @} */

/** @brief A guest-physical range backed by caller memory. */
typedef struct vcore_mem_region {
    size_t size;  /**< sizeof(vcore_mem_region_t). */
    uint64_t gpa; /**< Guest-physical start, 4 KiB aligned. */
    uint64_t len; /**< Length in bytes, a non-zero multiple of 4 KiB. */
    void *hva;    /**< Host virtual address of the backing memory, 4 KiB aligned. */
    uint32_t flags; /**< VCORE_MEM_* flags. */
} vcore_mem_region_t;

/**
 * @brief Fills a configuration with defaults (size set, x86-64, one vCPU).
 * @param[out] cfg The configuration to initialise; ignored if NULL.
 */
VCORE_API void vcore_vm_config_init(vcore_vm_config_t *cfg);

/**
 * @brief Creates a VM, allocating through the host services.
 * @param[in] cfg The configuration.
 * @param[out] out Receives the VM handle.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p cfg or @p out is NULL, no backend, bad field.
 * @retval VCORE_ERR_ABI A size field or the backend ABI version is wrong.
 * @retval VCORE_ERR_UNSUPPORTED The backend does not run @p cfg->arch.
 * @retval VCORE_ERR_NOMEM The host allocator failed.
 * @retval VCORE_ERR_NODEV The backend's hardware or device is missing.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_create(const vcore_vm_config_t *cfg, vcore_vm_t **out);

/**
 * @brief Destroys a VM made by vcore_vm_create() and all its vCPUs.
 * @param[in] vm The VM; NULL is ignored.
 */
VCORE_API void vcore_vm_destroy(vcore_vm_t *vm);

/**
 * @brief Bytes of caller storage vcore_vm_init_static() needs for @p cfg.
 * @param[in] cfg The configuration.
 * @param[out] out Receives the size in bytes.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p cfg or @p out is NULL or @p cfg has no backend.
 * @retval VCORE_ERR_ABI A size field or the backend ABI version is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_storage_size(const vcore_vm_config_t *cfg, size_t *out);

/**
 * @brief Creates a VM in caller storage; never allocates.
 * @param[in] mem Storage, 16-byte aligned.
 * @param[in] len Bytes available at @p mem.
 * @param[in] cfg The configuration.
 * @param[out] out Receives the VM handle (which points into @p mem).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, misaligned @p mem, bad field.
 * @retval VCORE_ERR_BUFSZ @p len is smaller than vcore_vm_storage_size().
 * @retval VCORE_ERR_ABI A size field or the backend ABI version is wrong.
 * @retval VCORE_ERR_UNSUPPORTED The backend does not run @p cfg->arch.
 * @retval VCORE_ERR_NODEV The backend's hardware or device is missing.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_init_static(void *mem, size_t len, const vcore_vm_config_t *cfg,
                                   vcore_vm_t **out);

/**
 * @brief Tears down a VM made by vcore_vm_init_static().
 * @param[in] vm The VM.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vm is NULL or not a VM.
 * @retval VCORE_ERR_STATE The VM still has vCPUs, or was made by vcore_vm_create().
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_fini(vcore_vm_t *vm);

/**
 * @brief Maps caller memory at a guest-physical range.
 * @param[in] vm The VM.
 * @param[in] region The range; copied, the struct may be reused.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL NULL argument, zero length, misaligned range or
 *         host address, unknown flags, or the range wraps (diagnostic recorded).
 * @retval VCORE_ERR_ABI @p region->size is wrong.
 * @retval VCORE_ERR_EXISTS The range overlaps an existing mapping.
 * @retval VCORE_ERR_RANGE All VCORE_VM_MAX_REGIONS slots are used.
 * @retval VCORE_ERR_UNSUPPORTED A flag the backend cannot honour.
 * @retval VCORE_ERR_HWFAIL The backend refused the mapping.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_map_memory(vcore_vm_t *vm, const vcore_mem_region_t *region);

/**
 * @brief Removes a mapping made by vcore_vm_map_memory().
 * @param[in] vm The VM.
 * @param[in] gpa Start of the mapping, exactly as it was mapped.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vm is NULL.
 * @retval VCORE_ERR_NOENT No mapping starts at @p gpa.
 * @retval VCORE_ERR_HWFAIL The backend refused.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_unmap_memory(vcore_vm_t *vm, uint64_t gpa);

/**
 * @brief Copies guest-physical memory into a buffer.
 * @param[in] vm The VM.
 * @param[in] gpa Guest-physical address; the range may span regions.
 * @param[out] buf Destination.
 * @param[in] len Bytes to copy.
 * @return VCORE_OK on success; nothing is copied on failure.
 * @retval VCORE_ERR_INVAL NULL argument.
 * @retval VCORE_ERR_FAULT Part of the range is not mapped.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_read_guest(const vcore_vm_t *vm, uint64_t gpa, void *buf, size_t len);

/**
 * @brief Copies a buffer into guest-physical memory.
 * @param[in] vm The VM.
 * @param[in] gpa Guest-physical address; the range may span regions.
 * @param[in] buf Source.
 * @param[in] len Bytes to copy.
 * @return VCORE_OK on success; nothing is written on failure.
 * @retval VCORE_ERR_INVAL NULL argument.
 * @retval VCORE_ERR_FAULT Part of the range is not mapped, or is read-only.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_write_guest(vcore_vm_t *vm, uint64_t gpa, const void *buf, size_t len);

/**
 * @brief Reads and clears the dirty-page bitmap of a region mapped with VCORE_MEM_LOG_DIRTY.
 * @param[in] vm The VM.
 * @param[in] gpa Start of the mapping.
 * @param[out] bitmap One bit per 4 KiB page, bit 0 = first page.
 * @param[in] bitmap_len Bytes at @p bitmap; at least (pages + 63) / 64 * 8.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL NULL argument or the region does not log dirty pages.
 * @retval VCORE_ERR_NOENT No mapping starts at @p gpa.
 * @retval VCORE_ERR_BUFSZ @p bitmap_len is too small.
 * @retval VCORE_ERR_UNSUPPORTED The backend does not track dirty pages.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_get_dirty_log(vcore_vm_t *vm, uint64_t gpa, uint64_t *bitmap,
                                     size_t bitmap_len);

/**
 * @brief Returns the name of the VM's backend, e.g. "mock".
 * @param[in] vm The VM.
 * @return A static string; "" if @p vm is NULL.
 */
VCORE_API const char *vcore_vm_backend_name(const vcore_vm_t *vm);

/**
 * @brief Copies the diagnostic of the last VM-level refusal (memory map).
 * @param[in] vm The VM.
 * @param[out] out Receives the diagnostic; @c out->size must be set.
 * @return VCORE_OK on success (id 0 if nothing was refused yet).
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vm_last_diag(const vcore_vm_t *vm, vcore_diag_t *out);

VCORE_END_DECLS

#endif /* VIRTCORE_VM_H */
