/**
 * @file x86/nvmx_ept02.h
 * @brief The shadow EPT of nested VMX (ept02): L2 guest-physical to
 *        host-physical, composed from L1's EPT (ept12) and L0's view of L1
 *        memory, built on demand from EPT violations.
 *
 * When L1 enables EPT for L2, the processor running L2 needs one EPT that
 * translates L2 guest-physical addresses all the way to host-physical ones.
 * L1's EPT (ept12, in L1 memory) maps L2 to L1 guest-physical; L0 maps L1
 * guest-physical to host-physical (ept01, or the VM's memory map). ept02 is
 * their composition, filled one translation at a time: L2 runs on an empty
 * ept02, every EPT violation of ept02 walks ept12 (each entry read once and
 * checked: SDM Vol. 3, "EPT Translation Mechanism", "EPT Misconfigurations",
 * "EPT Violations"), asks L0's view for the L1 page and installs the
 * composition. A fault that is L1's (ept12 does not map the address, does not
 * grant the access, or is misconfigured) is reported for reflection; a fault
 * L0 cannot serve (no memory of L0 behind the L1 address) is reported for
 * the VMM.
 *
 * Composition rules (one leaf of ept02 per fault):
 *  - address: L0's host-physical page plus the offset of the L1 address;
 *  - page size: the smaller of ept12's leaf (4 KiB, 2 MiB, 1 GiB) and L0's;
 *  - access rights: the intersection of ept12's (the AND over every entry
 *    of the walk) and L0's; with EPTP bit 6 ("Accessed and Dirty Flags for
 *    EPT") a leaf whose dirty flag is clear is installed without write
 *    access after a read, so the first write faults again and sets it;
 *  - memory type (SDM "EPT and Memory Typing"): when L0 maps the page as
 *    ordinary write-back memory without "ignore PAT", L1's memory type and
 *    IPAT bit from ept12's leaf; when L0 gives the page another type, L0's
 *    type and IPAT bit (L1 cannot make L0's device memory cacheable).
 *
 * Memory: the tables live in pages the caller gives at init (4 KiB, aligned,
 * with their physical addresses); the builder never allocates. When the pool
 * runs out a fault reports VCORE_ERR_NOMEM having changed nothing; the caller
 * drops ept02 (vcore_nvmx_ept02_invalidate() with type 2) and retries.
 *
 * Several ept02s are kept, one per EPT pointer of L1 (up to
 * ::VCORE_NVMX_EPT02_CONTEXTS, least recently used one dropped first), so
 * L1 switching between L2s keeps each one's translations, as the processor
 * keeps cached mappings per EPTP until INVEPT ("Invalidation of TLBs and
 * Paging-Structure Caches"). Whenever a translation of ept02 is removed or
 * narrowed, or a table is given back to the pool, the flush callback runs
 * with that ept02's EPT pointer before the function returns: the processor
 * must not use the old translation again (INVEPT single-context on it).
 */
#ifndef VIRTCORE_X86_NVMX_EPT02_H
#define VIRTCORE_X86_NVMX_EPT02_H

#include "../common.h"
#include "../error.h"
#include "nvmx.h"

VCORE_BEGIN_DECLS

/** @brief ept02s kept at once (one per EPT pointer of L1). */
#define VCORE_NVMX_EPT02_CONTEXTS 4u
/** @brief Most pages a pool can hold. */
#define VCORE_NVMX_EPT02_MAX_PAGES 512u

/** @brief One 4 KiB page of the pool. */
typedef struct vcore_nvmx_ept02_page {
    void *va;    /**< Where the builder writes it (4 KiB aligned). */
    uint64_t pa; /**< Its physical address, as the processor reads the tables (4 KiB aligned). */
} vcore_nvmx_ept02_page_t;

/**
 * @brief Invalidates what the processor caches for one ept02 (INVEPT single-context).
 * @param ctx The callback's context.
 * @param eptp02 The EPT pointer of the ept02 changed (as vcore_nvmx_ept02_eptp() gave it).
 */
typedef void (*vcore_nvmx_ept02_flush_fn)(void *ctx, uint64_t eptp02);

/** @brief Configuration of an ept02 builder. */
typedef struct vcore_nvmx_ept02_config {
    size_t size;                          /**< sizeof(vcore_nvmx_ept02_config_t). */
    const vcore_nvmx_ept02_page_t *pages; /**< The pool (the array is copied; the pages are used until fini). */
    uint32_t npages;                      /**< Pages at @c pages, 1..::VCORE_NVMX_EPT02_MAX_PAGES. */
    uint32_t pad;                         /**< Reserved. */
    vcore_nvmx_ept02_flush_fn flush;      /**< Required. */
    void *flush_ctx;                      /**< Passed to @c flush. */
} vcore_nvmx_ept02_config_t;

/** @brief An ept02 builder (opaque, in caller storage). */
typedef struct vcore_nvmx_ept02 vcore_nvmx_ept02_t;

/**
 * @brief Bytes of storage vcore_nvmx_ept02_init() needs.
 * @return The size; storage must be 16-byte aligned.
 */
VCORE_API size_t vcore_nvmx_ept02_storage_size(void);

/**
 * @brief Initialises a builder with every page free and no ept02.
 * @param[in] mem Storage of vcore_nvmx_ept02_storage_size() bytes.
 * @param[in] len Bytes at @p mem.
 * @param[in] cfg Configuration (copied).
 * @param[out] out The handle (== @p mem).
 * @return VCORE_OK.
 * @retval VCORE_ERR_INVAL NULL, no flush callback, no pages or too many, a page not 4 KiB aligned.
 * @retval VCORE_ERR_BUFSZ @p len too small or @p mem misaligned.
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_ept02_init(void *mem, size_t len, const vcore_nvmx_ept02_config_t *cfg,
                                                      vcore_nvmx_ept02_t **out);

/**
 * @brief The EPT pointer of the ept02 for one EPT pointer of L1, created empty if needed.
 *
 * The result is what vmcs02's EPT-pointer field holds while L2 runs with
 * @p eptp12: a 4-level table, write-back paging structures, and bit 6
 * (accessed and dirty flags) exactly when @p eptp12 has it. With bit 6 the
 * processor treats L2's accesses to its paging structures as writes (SDM
 * Vol. 3, "EPT Violations"), so they fault on a leaf installed read-only
 * for a clean ept12 leaf, and the fault sets ept12's dirty flag. The
 * processor must support the flags (IA32_VMX_EPT_VPID_CAP bit 21): the
 * VM-entry checks refuse bit 6 in vmcs12 when L1's capabilities, a subset
 * of the processor's, lack it.
 * @param[in,out] ept02 The builder.
 * @param[in] eptp12 vmcs12's EPT pointer (checked by the VM-entry checks).
 * @param[out] eptp02 The EPT pointer for vmcs02.
 * @return VCORE_OK.
 * @retval VCORE_ERR_INVAL NULL.
 * @retval VCORE_ERR_NOMEM No free page for a new root (nothing changed).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_ept02_eptp(vcore_nvmx_ept02_t *ept02, uint64_t eptp12, uint64_t *eptp02);

/** @brief L0's view of one L1 guest-physical page (filled by a ::vcore_nvmx_ept02_l0_fn). */
typedef struct vcore_nvmx_ept02_l0 {
    size_t size;        /**< sizeof(vcore_nvmx_ept02_l0_t), set by the builder. */
    bool mapped;        /**< L0 has memory at the address (false: the VMM's MMIO). */
    bool ipat;          /**< L0's "ignore PAT" for the page. */
    uint8_t memtype;    /**< L0's EPT memory type (0 UC, 1 WC, 4 WT, 5 WP, 6 WB). */
    uint8_t perms;      /**< L0's access rights: VCORE_NVMX_EPT_READ / _WRITE / _FETCH. */
    uint64_t page_size; /**< 4 KiB, 2 MiB or 1 GiB: L0's mapping holding the address, aligned alike in both spaces. */
    uint64_t hpa;       /**< Host-physical address of that mapping's first byte (aligned to @c page_size). */
} vcore_nvmx_ept02_l0_t;

/**
 * @brief L0's view of L1 memory: what holds one L1 guest-physical address.
 * @return VCORE_OK (mapped or not); any error aborts the fault with that error.
 */
typedef int (*vcore_nvmx_ept02_l0_fn)(void *ctx, uint64_t l1_gpa, vcore_nvmx_ept02_l0_t *out);

/** @brief One EPT violation of ept02 while L2 ran. */
typedef struct vcore_nvmx_ept02_fault {
    size_t size;              /**< sizeof(vcore_nvmx_ept02_fault_t). */
    uint64_t eptp12;          /**< vmcs12's EPT pointer. */
    uint64_t l2_gpa;          /**< The guest-physical address of the violation (vmcs02). */
    uint64_t hw_qualification; /**< The violation's exit qualification (vmcs02). */
    uint32_t maxphyaddr;      /**< L1's physical-address width, 32..52. */
    /** L1's IA32_VMX_EPT_VPID_CAP bit 22 ("advanced VM-exit information for EPT violations"): bits 11:9 are passed on. */
    bool advanced_info;
    /** L1's IA32_VMX_EPT_VPID_CAP bit 0 ("execute-only translations") is 0: an ept12 entry with
     *  bits 2:0 = 100b is an EPT misconfiguration (SDM "EPT Misconfigurations"). 0 (false): a translation. */
    bool no_execute_only;
    /** L1's IA32_VMX_EPT_VPID_CAP bit 17 (1-GByte pages) is 0: an ept12 PDPTE with bit 7 set is an EPT
     *  misconfiguration. 0 (false): a 1-GByte page. */
    bool no_pages_1g;
    uint8_t pad[1];           /**< Reserved. */
    const vcore_nvmx_mem_t *l1_mem; /**< L1 memory (ept12 lives there). */
    vcore_nvmx_ept02_l0_fn l0;      /**< L0's view of L1 memory. */
    void *l0_ctx;                   /**< Passed to @c l0. */
    /** L1's "enable PML" for L2 (SDM "Page-Modification Logging"): with EPTP bit 6, a fault that sets an
     *  ept12 flag checks @c pml_index, and one that sets the leaf's dirty flag logs the address. */
    bool pml;
    uint8_t pad2[1];                /**< Reserved. */
    uint16_t pml_index;             /**< vmcs12's PML index. */
    uint32_t pad3;                  /**< Reserved. */
    uint64_t pml_address;           /**< vmcs12's PML address (the 4-KByte log in L1 memory). */
} vcore_nvmx_ept02_fault_t;

/** @brief What a fault of ept02 was. */
typedef enum vcore_nvmx_ept02_kind {
    VCORE_NVMX_EPT02_FIXED = 0,        /**< L0's: ept02 now maps the address; resume L2. */
    VCORE_NVMX_EPT02_L1_VIOLATION = 1, /**< L1's: reflect exit 48 with @c qualification. */
    VCORE_NVMX_EPT02_L1_MISCONFIG = 2, /**< L1's: reflect exit 49 (ept12 is misconfigured). */
    VCORE_NVMX_EPT02_L0_MMIO = 3,      /**< L0 has no memory (or not the access) at @c l1_gpa: the VMM's. */
    /** L1's: reflect exit 62 ("page-modification log full") with @c qualification; nothing changed. */
    VCORE_NVMX_EPT02_L1_PML_FULL = 4
} vcore_nvmx_ept02_kind_t;

/** @brief The outcome of vcore_nvmx_ept02_handle(). */
typedef struct vcore_nvmx_ept02_result {
    size_t size;            /**< sizeof(vcore_nvmx_ept02_result_t). */
    uint32_t kind;          /**< ::vcore_nvmx_ept02_kind_t. */
    uint32_t perms;         /**< FIXED: the rights of the installed leaf (R/W/X bits). */
    /**
     * L1_VIOLATION: L1's exit qualification (SDM "Exit Qualification for
     * EPT Violations"): bits 2:0 the access, bits 5:3 the AND of ept12's
     * read/write/execute bits over the walk, bits 7, 8 and 12 (linear
     * address valid, access to the final translation, NMI unblocking) as
     * the processor reported them for L2, bits 11:9 only with @c advanced_info.
     * L1_PML_FULL: bit 12 (NMI unblocking due to IRET) as reported, the
     * others 0 ("Exit Qualification for Page-Modification Log Full").
     */
    uint64_t qualification;
    uint64_t l1_gpa;        /**< FIXED, L0_MMIO: the L1 guest-physical address. */
    uint64_t hpa;           /**< FIXED: host-physical address of the installed leaf's first byte. */
    uint64_t page_size;     /**< FIXED: bytes the installed leaf maps. */
    uint8_t memtype;        /**< FIXED: the leaf's memory type. */
    bool ipat;              /**< FIXED: the leaf's IPAT bit. */
    /** FIXED: the 4-KByte-aligned L2 address was written to PML-log entry @c pml_index; the caller
     *  decrements vmcs12's PML index. */
    bool pml_logged;
    uint8_t pad[5];         /**< Reserved. */
} vcore_nvmx_ept02_result_t;

/**
 * @brief Handles one EPT violation of ept02.
 *
 * Walks ept12 for the access of bits 2:0 of the qualification (each entry
 * read once from L1 memory, unbacked reads as all ones, i.e. a
 * misconfiguration), then L0's view; installs the composed leaf, and only
 * then sets ept12's accessed/dirty flags (EPTP bit 6) and, with @c pml,
 * logs a dirty flag it set in L1's page-modification log. Nothing is
 * changed when the fault is L1's (the PML log full included) or the
 * VMM's, or when the pool is empty.
 * @param[in,out] ept02 The builder.
 * @param[in] in The fault.
 * @param[out] out The outcome; @c out->size must be set.
 * @return VCORE_OK when @p out holds an outcome.
 * @retval VCORE_ERR_INVAL NULL, no access in bits 2:0, a width outside 32..52, an EPTP walk length other than 4 or 5.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_RANGE The L2 address is beyond the 48 bits ept02 translates.
 * @retval VCORE_ERR_NOMEM The pool has too few free pages (nothing changed).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_ept02_handle(vcore_nvmx_ept02_t *ept02, const vcore_nvmx_ept02_fault_t *in,
                                                        vcore_nvmx_ept02_result_t *out);

/**
 * @brief Drops ept02s as L1's INVEPT names them (SDM "INVEPT-Invalidate Translations Derived from EPT").
 *
 * Type 1 (single-context): every ept02 whose L1 EPT pointer has bits 51:12
 * equal to @p eptp12's; type 2 (all-context): every ept02. Their pages go
 * back to the pool and the flush callback runs for each. Other ept02s keep
 * their translations.
 * @param[in,out] ept02 The builder.
 * @param[in] type 1 or 2.
 * @param[in] eptp12 Type 1: the descriptor's EPT pointer.
 * @return VCORE_OK, VCORE_ERR_INVAL (NULL or another type).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_ept02_invalidate(vcore_nvmx_ept02_t *ept02, uint32_t type, uint64_t eptp12);

/** @brief What ept02 maps at one L2 address (vcore_nvmx_ept02_lookup()). */
typedef struct vcore_nvmx_ept02_lookup {
    size_t size;        /**< sizeof(vcore_nvmx_ept02_lookup_t). */
    bool present;       /**< A leaf maps the address. */
    bool ipat;          /**< The leaf's IPAT bit. */
    uint8_t memtype;    /**< The leaf's memory type. */
    uint8_t perms;      /**< The leaf's R/W/X bits. */
    uint32_t pad;       /**< Reserved. */
    uint64_t hpa;       /**< Host-physical address of the L2 address. */
    uint64_t page_size; /**< Bytes the leaf maps. */
} vcore_nvmx_ept02_lookup_t;

/**
 * @brief Walks the ept02 of one L1 EPT pointer as the processor would.
 * @param[in] ept02 The builder.
 * @param[in] eptp12 L1's EPT pointer.
 * @param[in] l2_gpa The L2 guest-physical address.
 * @param[out] out The result (not present when no ept02 exists for @p eptp12).
 * @return VCORE_OK, VCORE_ERR_INVAL (NULL), VCORE_ERR_ABI (size).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_ept02_lookup(const vcore_nvmx_ept02_t *ept02, uint64_t eptp12,
                                                        uint64_t l2_gpa, vcore_nvmx_ept02_lookup_t *out);

/** @brief Counters of a builder. */
typedef struct vcore_nvmx_ept02_stats {
    size_t size;          /**< sizeof(vcore_nvmx_ept02_stats_t). */
    uint32_t contexts;    /**< ept02s in use. */
    uint32_t pages_free;  /**< Pool pages free. */
    uint64_t installed;   /**< Leaves installed since init. */
    uint64_t flushes;     /**< Flush callbacks since init. */
    uint64_t dropped;     /**< ept02s dropped since init (INVEPT, eviction). */
} vcore_nvmx_ept02_stats_t;

/**
 * @brief Reads the counters.
 * @param[in] ept02 The builder.
 * @param[out] out The counters; @c out->size must be set.
 * @return VCORE_OK, VCORE_ERR_INVAL (NULL), VCORE_ERR_ABI (size).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_ept02_stats(const vcore_nvmx_ept02_t *ept02, vcore_nvmx_ept02_stats_t *out);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_NVMX_EPT02_H */
