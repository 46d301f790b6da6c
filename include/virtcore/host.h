/**
 * @file host.h
 * @brief Host services: memory, address translation and logging, per instance.
 *
 * The library never calls malloc or printf itself. Every VM is given a
 * vcore_host_t and uses only it; a kernel passes its own allocator and
 * console, a Linux process can use vcore_host_default(). Nothing is global.
 */
#ifndef VIRTCORE_HOST_H
#define VIRTCORE_HOST_H

#include "common.h"

VCORE_BEGIN_DECLS

/** @brief Log levels passed to vcore_host_t::log. */
typedef enum vcore_log_level {
    VCORE_LOG_ERROR = 0, /**< Something failed. */
    VCORE_LOG_WARN = 1,  /**< Something is suspicious (e.g. a refused guest value). */
    VCORE_LOG_INFO = 2,  /**< Lifecycle events. */
    VCORE_LOG_DEBUG = 3  /**< Detailed tracing. */
} vcore_log_level_t;

/** @brief Size of the pages handed out by vcore_host_t::alloc_pages. */
#define VCORE_PAGE_SIZE 4096u

/**
 * @brief Storage for one physical processor, provided by the embedder.
 *
 * Ring-0 backends keep per-processor state here that outlives any single
 * VM: the vmx backend enters VMX root operation once per processor (SDM
 * Vol. 3, "Enabling and Entering VMX Operation": one VMXON region per
 * logical processor) and leaves it when the last vCPU using that processor
 * is destroyed, whichever VM it belongs to. The svm backend enables SVM
 * (EFER.SVME) and points VM_HSAVE_PA at @c page once per processor (APM
 * Vol. 2, "Enabling SVM", "VM_HSAVE_PA MSR"), and hands out the
 * processor's guest ASIDs: they tag TLB entries per processor, so two VMs
 * sharing a processor must not share one ("TLB Control").
 *
 * The embedder allocates one entry per processor (an array indexed by
 * vcore_host_t::cpu_index), zero-fills it, sets @c page and @c page_phys,
 * and passes the same array to every VM. The members marked "library" are
 * written only by the library, and only on the processor the entry
 * describes, so no lock is needed as long as the calls for one processor
 * are not interleaved (a processor runs one call at a time).
 */
typedef struct vcore_host_cpu {
    void *page;         /**< A zeroed 4 KiB page, 4 KiB aligned (vmx: the processor's VMXON region; svm: its host save area). */
    uint64_t page_phys; /**< Physical address of @c page. */
    uint32_t users;     /**< Library: vCPUs that use this processor's virtualization state. */
    uint32_t flags;     /**< Library: how the state was entered (e.g. VMXON executed by the library). */
    uint32_t asid_next; /**< Library (svm): the next guest ASID to hand out on this processor. */
    uint32_t asid_generation; /**< Library (svm): bumped when the ASIDs wrap and the TLB is flushed. */
} vcore_host_cpu_t;

/**
 * @brief Host services for one VM (and its vCPUs).
 *
 * All callbacks receive @c ctx as their first argument. @c alloc and @c free
 * are required for vcore_vm_create() / vcore_vcpu_create(); objects made in
 * caller storage (the *_init_static functions) never allocate through them.
 * @c alloc_pages is required by backends that hand memory to hardware
 * (VMXON region, VMCS, page tables).
 */
typedef struct vcore_host {
    size_t size; /**< sizeof(vcore_host_t). */
    void *ctx;   /**< Opaque pointer passed to every callback. */
    /** Allocates @p len bytes, zeroed, aligned to 16 bytes; NULL on failure. */
    void *(*alloc)(void *ctx, size_t len);
    /** Frees memory from @c alloc; @p len is the size that was requested. */
    void (*free)(void *ctx, void *ptr, size_t len);
    /** Allocates @p count zeroed, physically contiguous 4 KiB pages; stores the physical address in @p phys. */
    void *(*alloc_pages)(void *ctx, size_t count, uint64_t *phys);
    /** Frees pages from @c alloc_pages. */
    void (*free_pages)(void *ctx, void *va, size_t count);
    /** Translates a host virtual address to a physical address. */
    uint64_t (*virt_to_phys)(void *ctx, const void *va);
    /** Emits one pre-formatted line of text (no trailing newline). May be NULL. */
    void (*log)(void *ctx, int level, const char *msg);
    int log_level; /**< Highest vcore_log_level_t passed to @c log. */

    /* ---- Appended after the first published layout (absent when @c size ends before them). ---- */

    /**
     * Index of the physical processor executing the call, in 0 .. ncpus - 1.
     * The caller must not migrate between processors during any library
     * call. Required (with @c cpus) by the ring-0 backends (vmx, svm).
     */
    uint32_t (*cpu_index)(void *ctx);
    /** Per-processor storage, @c ncpus entries indexed by @c cpu_index; the same array for every VM. */
    vcore_host_cpu_t *cpus;
    uint32_t ncpus; /**< Number of entries in @c cpus. */
    /**
     * Interrupts processor @p cpu (an index as @c cpu_index gives) with an
     * interrupt that stays pending until that processor accepts it, so a
     * vCPU in guest mode there exits (vmx: external-interrupt exiting).
     * Called by vcore_vcpu_kick() from any thread. Optional: without it a
     * kicked vCPU in guest mode returns at its next exit.
     */
    void (*kick_cpu)(void *ctx, uint32_t cpu);
} vcore_host_t;

/** @brief Size of the first published vcore_host_t (through @c log_level): the smallest accepted @c size. */
#define VCORE_HOST_SIZE_V1 (offsetof(vcore_host_t, log_level) + sizeof(int))

/**
 * @brief Returns the hosted default services (malloc, aligned pages, stderr).
 *
 * In a hosted build @c virt_to_phys returns the virtual address unchanged: a
 * Linux process has no access to physical addresses and the backends that
 * need them (vmx, svm, arm64) do not run in user space.
 * @return A pointer to static, read-only services; NULL in a freestanding
 *         build, where the embedder must supply its own.
 */
VCORE_API const vcore_host_t *vcore_host_default(void);

/**
 * @brief Checks that a host-services structure is usable.
 *
 * A structure whose @c size is at least VCORE_HOST_SIZE_V1 is accepted
 * (one built against an older header); members past its @c size count as
 * absent. @c cpu_index and @c cpus come together, and @c cpus needs a
 * non-zero @c ncpus.
 * @param[in] host The services to check.
 * @param[in] need_alloc Whether @c alloc and @c free are required.
 * @return VCORE_OK if usable.
 * @retval VCORE_ERR_INVAL @p host is NULL, a required callback is NULL, or
 *         the per-processor members are inconsistent.
 * @retval VCORE_ERR_ABI @p host->size is below VCORE_HOST_SIZE_V1.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_host_validate(const vcore_host_t *host, bool need_alloc);

VCORE_END_DECLS

#endif /* VIRTCORE_HOST_H */
