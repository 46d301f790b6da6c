/**
 * @file stage2.h
 * @brief AArch64 stage-2 translation: geometry and VTCR_EL2, the page-table
 *        builder, 52-bit address encodings, and abort decoding.
 *
 * Everything here is pure: the library never executes a system instruction.
 * A hypervisor running at EL2 (or the arm64 backend) asks for a geometry
 * (vcore_arm64_s2_geometry()), builds tables with a ::vcore_arm64_s2_t,
 * writes VTCR_EL2 / VTTBR_EL2 itself, performs the TLB maintenance the
 * builder asks for, and hands ESR_EL2 / FAR_EL2 / HPFAR_EL2 of a guest abort
 * to vcore_arm64_abort_decode().
 *
 * The rules implemented are those of the Arm Architecture Reference Manual
 * for A-profile (Arm ARM), chapter D8 "The AArch64 Virtual Memory System
 * Architecture", and the register descriptions of VTCR_EL2, VTTBR_EL2,
 * HPFAR_EL2, PAR_EL1, ESR_EL2 and ID_AA64MMFR0_EL1 / ID_AA64MMFR1_EL1.
 */
#ifndef VIRTCORE_ARM64_STAGE2_H
#define VIRTCORE_ARM64_STAGE2_H

#include "../common.h"
#include "../diag.h"
#include "../error.h"
#include "../exit.h"
#include "../host.h"

VCORE_BEGIN_DECLS

/* Chapter title the stage-2 diagnostics cite. */
#define VCORE__ARM64_D8 "Arm ARM D8, \"The AArch64 Virtual Memory System Architecture\""

/**
 * @brief Stage-2 diagnostics: X(name, value, message, manual section).
 *
 * Range 0x2000-0x20ff. Every refusal of the functions in this header records
 * one of these in the caller's ::vcore_diag_t, with the offending value.
 */
#define VCORE_DIAG_ARM64_S2_LIST(X)                                            \
    X(ARM64_S2_GRANULE_INVALID, 0x2001,                                        \
      "translation granule is not 4KB, 16KB or 64KB",                          \
      "Arm ARM, \"VTCR_EL2\" (TG0)")                     \
    X(ARM64_S2_GRANULE_NOT_IMPLEMENTED, 0x2002,                                \
      "the PE does not support this granule at stage 2 (ID_AA64MMFR0_EL1.TGran<N>_2)", \
      "Arm ARM, \"ID_AA64MMFR0_EL1\" (TGran4_2, TGran16_2, TGran64_2)")        \
    X(ARM64_S2_PARANGE_RESERVED, 0x2003,                                       \
      "ID_AA64MMFR0_EL1.PARange holds a reserved value",                       \
      "Arm ARM, \"ID_AA64MMFR0_EL1\" (PARange)")                               \
    X(ARM64_S2_LPA2_NOT_IMPLEMENTED, 0x2004,                                   \
      "52-bit descriptors (VTCR_EL2.DS) need FEAT_LPA2 at stage 2 with the 4KB or 16KB granule", \
      "Arm ARM, \"VTCR_EL2\" (DS); \"ID_AA64MMFR0_EL1\" (TGran4_2, TGran16_2)") \
    X(ARM64_S2_IPA_BELOW_MIN, 0x2005,                                          \
      "IPA size below 32 bits",                                                \
      "Arm ARM, \"ID_AA64MMFR0_EL1\" (PARange 0b0000: 32 bits)")               \
    X(ARM64_S2_IPA_ABOVE_PARANGE, 0x2006,                                      \
      "IPA size above the implemented physical address size",                  \
      VCORE__ARM64_D8 " (AArch64.S2MinTxSZ); \"VTCR_EL2\" (T0SZ)") \
    X(ARM64_S2_IPA_ABOVE_48, 0x2007,                                           \
      "IPA size above 48 bits needs the 64KB granule with FEAT_LPA, or FEAT_LPA2 (DS=1)", \
      VCORE__ARM64_D8 " (AArch64.S2MinTxSZ); \"VTCR_EL2\" (T0SZ, DS)")          \
    X(ARM64_S2_CONCAT_LIMIT, 0x2008,                                           \
      "within the level cap the start level would need more than 16 concatenated tables", \
      VCORE__ARM64_D8 " (AArch64.S2InconsistentSL: up to 16 concatenated tables)") \
    X(ARM64_S2_LEVELS_ABOVE_CAP, 0x2009,                                       \
      "the IPA size needs more lookup levels than the cap (the library builds at least two)", \
      "Arm ARM, \"VTCR_EL2\" (SL0, SL2); AArch64.S2InvalidSL, AArch64.S2InconsistentSL") \
    X(ARM64_S2_CAP_INVALID, 0x200a,                                            \
      "level cap must be 0 (none) or 1..5",                                    \
      VCORE__ARM64_D8 " (lookup levels -1 to 3)")                       \
    X(ARM64_S2_VMID_WIDTH, 0x200b,                                             \
      "VMID wider than the implemented VMID size (ID_AA64MMFR1_EL1.VMIDBits)", \
      "Arm ARM, \"VTTBR_EL2\" (VMID); \"VTCR_EL2\" (VS)")                      \
    X(ARM64_S2_BADDR_INVALID, 0x200c,                                          \
      "translation table base not aligned to the start-level table size, or above the output address size", \
      "Arm ARM, \"VTTBR_EL2\" (BADDR)")                                        \
    X(ARM64_S2_FLAGS_INVALID, 0x200d,                                          \
      "unknown stage-2 configuration flag",                                    \
      "Arm ARM, \"VTCR_EL2\"")                                                 \
    X(ARM64_S2_MAP_ALIGN, 0x2010,                                              \
      "IPA, output address or length is not a multiple of the granule, or the length is 0", \
      VCORE__ARM64_D8 " (translation granule)")                                   \
    X(ARM64_S2_MAP_IPA_RANGE, 0x2011,                                          \
      "range lies outside the IPA space of the stage-2 configuration",         \
      "Arm ARM, \"VTCR_EL2\" (T0SZ)")                                          \
    X(ARM64_S2_MAP_OA_RANGE, 0x2012,                                           \
      "output address range lies above the stage-2 output address size (VTCR_EL2.PS)", \
      VCORE__ARM64_D8 " (Address size fault); \"VTCR_EL2\" (PS)")                \
    X(ARM64_S2_MAP_XN_PER_EL, 0x2013,                                          \
      "execute permission for only one of EL1 and EL0 needs FEAT_XNX",         \
      VCORE__ARM64_D8 " (stage 2 XN[1:0]); \"ID_AA64MMFR1_EL1\" (XNX)")   \
    X(ARM64_S2_MAP_PROT_INVALID, 0x2014,                                       \
      "unknown permission or memory-attribute flag",                           \
      VCORE__ARM64_D8 " (stage 2 S2AP, MemAttr)")                      \
    X(ARM64_S2_ABORT_NOT_LOWER_EL, 0x2020,                                     \
      "ESR_EL2 is not a data or instruction abort from a lower Exception level", \
      "Arm ARM, \"ESR_EL2\" (EC 0b100000, 0b100100)")                          \
    X(ARM64_S2_MMIO_NOT_READ, 0x2021,                                          \
      "the exit is not a decoded MMIO read with a load syndrome",              \
      "Arm ARM, \"ESR_EL2\" (ISS encoding for a Data Abort: ISV, SAS, SSE, SRT, SF)")

/** @brief Stage-2 diagnostic identifiers (values pinned). */
typedef enum vcore_arm64_s2_diag_id {
#define VCORE__ARM64_S2_DIAG_ENUM(name, value, msg, manual) VCORE_DIAG_##name = (value),
    VCORE_DIAG_ARM64_S2_LIST(VCORE__ARM64_S2_DIAG_ENUM)
#undef VCORE__ARM64_S2_DIAG_ENUM
    VCORE_DIAG_ARM64_S2_END_ = 0x20ff /**< End of the stage-2 range. */
} vcore_arm64_s2_diag_id_t;

/* ------------------------------------------------------------------------- */
/** @name Translation granules (bytes)
 * @{ */
#define VCORE_ARM64_GRANULE_4K 4096u   /**< 4KB granule, 9 bits resolved per level. */
#define VCORE_ARM64_GRANULE_16K 16384u /**< 16KB granule, 11 bits per level. */
#define VCORE_ARM64_GRANULE_64K 65536u /**< 64KB granule, 13 bits per level. */
/** @} */

/** @brief Most start-level tables the architecture lets stage 2 concatenate. */
#define VCORE_ARM64_S2_MAX_CONCAT 16u

/** @name vcore_arm64_s2_config_t::flags
 * @{ */
/** Use FEAT_LPA2 descriptors (VTCR_EL2.DS = 1) with the 4KB or 16KB granule. */
#define VCORE_ARM64_S2_F_LPA2 (1u << 0)
/** @} */

/**
 * @brief What a stage-2 configuration is asked to be.
 *
 * The ID register values are the host's (sanitised) values: the library reads
 * PARange, TGran4/16/64 and TGran4_2/16_2/64_2 from @c mmfr0, and VMIDBits
 * and XNX from @c mmfr1.
 */
typedef struct vcore_arm64_s2_config {
    size_t size;         /**< sizeof(vcore_arm64_s2_config_t). */
    uint32_t ipa_bits;   /**< IPA size in bits, 32..52; 0 = the 40-bit default (as for KVM VM type 0). */
    uint32_t granule;    /**< VCORE_ARM64_GRANULE_4K, _16K or _64K. */
    uint64_t mmfr0;      /**< ID_AA64MMFR0_EL1 of the host. */
    uint64_t mmfr1;      /**< ID_AA64MMFR1_EL1 of the host. */
    uint32_t max_levels; /**< Cap on lookup levels: 0 = none, else 1..5 (a cap below 2 refuses every IPA size). */
    uint32_t flags;      /**< VCORE_ARM64_S2_F_*. */
} vcore_arm64_s2_config_t;

/**
 * @brief A stage-2 geometry and the VTCR_EL2 value that selects it.
 *
 * The library chooses the fewest lookup levels (at least two, so that the
 * granule's block sizes below the start level stay usable) and concatenates
 * up to 16 start-level tables instead of adding a level, as the Arm ARM
 * allows for stage 2 only.
 */
typedef struct vcore_arm64_s2_geom {
    size_t size;               /**< sizeof(vcore_arm64_s2_geom_t). */
    uint32_t ipa_bits;         /**< Input (IPA) size in bits. */
    uint32_t granule_shift;    /**< log2 of the granule: 12, 14 or 16. */
    uint32_t levels;           /**< Lookup levels walked, start level to level 3. */
    int32_t start_level;       /**< Initial lookup level, -1..3. */
    uint32_t concat;           /**< Concatenated start-level tables, 1..16. */
    uint32_t root_entries;     /**< Descriptors in the initial lookup (all concatenated tables). */
    uint32_t baddr_align_shift; /**< VTTBR_EL2.BADDR must be aligned to 2^this bytes. */
    uint32_t pa_bits;          /**< Output address size selected by VTCR_EL2.PS. */
    uint32_t vmid_bits;        /**< VMID width: 8 or 16 (VTCR_EL2.VS). */
    uint32_t t0sz;             /**< VTCR_EL2.T0SZ = 64 - ipa_bits. */
    uint32_t sl0;              /**< VTCR_EL2.SL0 encoding of the start level. */
    uint32_t sl2;              /**< VTCR_EL2.SL2: always 0 (level -1 is never needed: 4KB level 0 with 16 tables resolves 52 bits). */
    uint32_t tg0;              /**< VTCR_EL2.TG0: 0 = 4KB, 1 = 64KB, 2 = 16KB. */
    uint32_t ps;               /**< VTCR_EL2.PS (PARange encoding of pa_bits). */
    bool ds;                   /**< VTCR_EL2.DS: FEAT_LPA2 descriptor format. */
    bool lpa;                  /**< 64KB granule with 52-bit output: OA[51:48] in descriptor bits[15:12]. */
    bool xnx;                  /**< FEAT_XNX: separate EL1/EL0 execute-never at stage 2. */
    uint64_t vtcr;             /**< The complete VTCR_EL2 value. */
} vcore_arm64_s2_geom_t;

/**
 * @brief Computes a stage-2 geometry and its VTCR_EL2 value.
 *
 * VTCR_EL2 gets T0SZ, SL0, TG0, PS (the host PARange, limited to
 * 48 bits unless 52-bit descriptors are in use), VS (16-bit VMIDs when
 * implemented), DS, walks Inner/Outer Write-Back Write-Allocate cacheable and
 * Inner Shareable (IRGN0 = ORGN0 = 0b01, SH0 = 0b11), bit 31 (RES1), and
 * leaves hardware Access-flag/dirty management (HA, HD) off.
 * @param[in] cfg The request; @c cfg->size must be set.
 * @param[out] out Receives the geometry; @c out->size must be set.
 * @param[out] diag Optional; receives the rule that refused the request.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL NULL pointer, or a granule, flag or cap value the architecture does not define.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_UNSUPPORTED The host lacks the granule at stage 2 or FEAT_LPA2.
 * @retval VCORE_ERR_RANGE The IPA size is outside what the host and the granule allow,
 *         or needs more than 16 concatenated tables or more levels than the cap.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_geometry(const vcore_arm64_s2_config_t *cfg,
                                      vcore_arm64_s2_geom_t *out, vcore_diag_t *diag);

/* ------------------------------------------------------------------------- */
/** @name 52-bit addresses
 * @{ */

/**
 * @brief Encodes an output address (table or block/page base) into descriptor bits.
 *
 * 48-bit format: OA[47:granule] in place. 64KB with FEAT_LPA: OA[51:48] in
 * bits[15:12]. FEAT_LPA2 (DS = 1): OA[49:granule] in place, OA[51:50] in
 * bits[9:8].
 * @param[in] g The geometry.
 * @param[in] oa A granule-aligned output address within @c g->pa_bits.
 * @return The address bits of a descriptor (no other bits set).
 */
VCORE_API uint64_t vcore_arm64_s2_oa_to_desc(const vcore_arm64_s2_geom_t *g, uint64_t oa);

/**
 * @brief Extracts the output address of a table, block or page descriptor.
 * @param[in] g The geometry.
 * @param[in] desc A descriptor.
 * @param[in] level The lookup level the descriptor was read at (block sizes differ per level).
 * @return The output address (base of the next table, block or page).
 */
VCORE_API uint64_t vcore_arm64_s2_desc_to_oa(const vcore_arm64_s2_geom_t *g, uint64_t desc,
                                             int32_t level);

/**
 * @brief Composes VTTBR_EL2 for a stage-2 root table.
 *
 * With a 52-bit output size, BADDR[51:48] goes into register bits[5:2] and
 * the table must be aligned to at least 64 bytes (Arm ARM, "VTTBR_EL2").
 * @param[in] g The geometry.
 * @param[in] root_pa Physical address of the (concatenated) start-level table.
 * @param[in] vmid The VMID (at most @c g->vmid_bits wide).
 * @param[in] cnp Common-not-Private (bit 0).
 * @param[out] vttbr Receives the register value.
 * @param[out] diag Optional diagnostic.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL NULL pointer, misaligned or too large @p root_pa, or a VMID too wide.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_vttbr(const vcore_arm64_s2_geom_t *g, uint64_t root_pa, uint32_t vmid,
                                   bool cnp, uint64_t *vttbr, vcore_diag_t *diag);

/**
 * @brief The faulting IPA held in HPFAR_EL2 (FIPA, bits[43:4] = IPA[51:12]).
 * @param[in] hpfar HPFAR_EL2.
 * @param[in] far FAR_EL2 (its bits[11:0] are the offset within the 4KB page).
 * @return The byte address of the fault in the IPA space.
 */
VCORE_API uint64_t vcore_arm64_hpfar_to_ipa(uint64_t hpfar, uint64_t far);

/**
 * @brief The output address of a successful AT instruction held in PAR_EL1.
 *
 * PAR_EL1.F = 0: PA[51:12] is in bits[51:12] (bits[51:48] with FEAT_LPA or
 * FEAT_LPA2, RES0 otherwise). For AT S1E1R/W the output is an IPA.
 * @param[in] par PAR_EL1 after the AT instruction.
 * @param[in] far The address that was translated (its bits[11:0] are kept).
 * @param[out] ipa Receives the byte address.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p ipa is NULL.
 * @retval VCORE_ERR_FAULT PAR_EL1.F = 1: the translation aborted.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_par_to_ipa(uint64_t par, uint64_t far, uint64_t *ipa);
/** @} */

/* ------------------------------------------------------------------------- */
/** @name Stage-2 page tables
 * @{ */

/** @name Mapping permissions and attributes (vcore_arm64_s2_prepare_map() @p prot)
 * @{ */
#define VCORE_ARM64_S2_R (1u << 0)      /**< Data reads allowed (S2AP[0]). */
#define VCORE_ARM64_S2_W (1u << 1)      /**< Data writes allowed (S2AP[1]). */
#define VCORE_ARM64_S2_X_EL1 (1u << 2)  /**< Instruction fetch allowed at EL1. */
#define VCORE_ARM64_S2_X_EL0 (1u << 3)  /**< Instruction fetch allowed at EL0. */
#define VCORE_ARM64_S2_X (VCORE_ARM64_S2_X_EL1 | VCORE_ARM64_S2_X_EL0) /**< Fetch allowed at EL1 and EL0. */
#define VCORE_ARM64_S2_RWX (VCORE_ARM64_S2_R | VCORE_ARM64_S2_W | VCORE_ARM64_S2_X) /**< Everything. */
#define VCORE_ARM64_S2_DEVICE (1u << 8) /**< Device-nGnRE instead of Normal Inner/Outer Write-Back. */
/** @} */

/** @brief Scope of a TLB maintenance request. */
typedef enum vcore_arm64_s2_tlbi_scope {
    VCORE_ARM64_S2_TLBI_NONE = 0, /**< Nothing to invalidate. */
    VCORE_ARM64_S2_TLBI_IPA = 1,  /**< TLBI IPAS2E1IS at every @c stride in [ipa, ipa + len). */
    VCORE_ARM64_S2_TLBI_VMID = 2  /**< TLBI VMALLS12E1IS: everything of the VMID. */
} vcore_arm64_s2_tlbi_scope_t;

/**
 * @brief TLB maintenance the builder needs before it may continue.
 *
 * The caller performs, for scope IPA (Arm ARM D8, "General TLB maintenance requirements" and
 * "Using break-before-make when updating translation table entries"):
 * DSB ISHST; TLBI IPAS2E1IS for each ipa + k * stride below ipa + len;
 * DSB ISH; TLBI VMALLE1IS (entries combining stage 1 and stage 2 are not
 * removed by invalidation by IPA); DSB ISH; ISB. For scope VMID: DSB ISHST;
 * TLBI VMALLS12E1IS; DSB ISH; ISB. Both for the VMID of the tables.
 */
typedef struct vcore_arm64_s2_tlbi {
    uint32_t scope;  /**< vcore_arm64_s2_tlbi_scope_t. */
    uint32_t pad;    /**< Reserved (0). */
    uint64_t ipa;    /**< First IPA of the range (scope IPA). */
    uint64_t len;    /**< Bytes of the range (scope IPA). */
    uint64_t stride; /**< Step between invalidations: the smallest entry changed (scope IPA). */
} vcore_arm64_s2_tlbi_t;

/** @brief Above this many invalidations by IPA the builder asks for a whole-VMID one. */
#define VCORE_ARM64_S2_TLBI_MAX_OPS 64u

/**
 * @brief Performs TLB maintenance; called by vcore_arm64_s2_commit().
 *
 * Called between the "break" and the "make" writes of a commit; it must not
 * return before the maintenance is complete. It cannot fail.
 */
typedef void (*vcore_arm64_s2_tlbi_fn)(void *ctx, const vcore_arm64_s2_tlbi_t *req);

/** @brief Configuration of a stage-2 table. */
typedef struct vcore_arm64_s2_table_config {
    size_t size;                      /**< sizeof(vcore_arm64_s2_table_config_t). */
    vcore_arm64_s2_config_t geometry; /**< The geometry request (see vcore_arm64_s2_geometry()). */
    const vcore_host_t *host;         /**< Page source (alloc_pages / free_pages / virt_to_phys); copied. */
    vcore_arm64_s2_tlbi_fn tlbi;      /**< TLB maintenance callback (required). */
    void *tlbi_ctx;                   /**< Passed to @c tlbi. */
    uint32_t chunk_tables;            /**< Tables drawn from the host at a time at first (0 = 4); doubles up to 256. */
} vcore_arm64_s2_table_config_t;

/** @brief A stage-2 page table over its own page pool (opaque, in caller storage). */
typedef struct vcore_arm64_s2 vcore_arm64_s2_t;

/**
 * @brief Bytes of caller storage a ::vcore_arm64_s2_t needs.
 * @return The size; storage must be 16-byte aligned.
 */
VCORE_API size_t vcore_arm64_s2_storage_size(void);

/**
 * @brief Initialises a stage-2 table in caller storage and allocates its root.
 * @param[in] mem Storage of vcore_arm64_s2_storage_size() bytes, 16-byte aligned.
 * @param[in] len Bytes at @p mem.
 * @param[in] cfg The configuration (copied).
 * @param[out] out Receives the handle (== @p mem).
 * @param[out] diag Optional diagnostic.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL NULL pointer, missing host callbacks or TLBI callback, or a refused geometry.
 * @retval VCORE_ERR_BUFSZ @p len is too small or @p mem is misaligned.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_NOMEM The host gave no pages for the root table.
 * @retval VCORE_ERR_UNSUPPORTED, VCORE_ERR_RANGE As for vcore_arm64_s2_geometry().
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_init(void *mem, size_t len, const vcore_arm64_s2_table_config_t *cfg,
                                  vcore_arm64_s2_t **out, vcore_diag_t *diag);

/**
 * @brief Gives every page back to the host. The caller must have stopped
 *        every use of the tables (VTTBR_EL2 no longer points at them, the VMID invalidated).
 * @param[in] s2 The table (may be NULL).
 */
VCORE_API void vcore_arm64_s2_fini(vcore_arm64_s2_t *s2);

/**
 * @brief The geometry of a table.
 * @param[in] s2 The table.
 * @return A pointer into the table object (valid until vcore_arm64_s2_fini()); NULL if @p s2 is NULL.
 */
VCORE_API const vcore_arm64_s2_geom_t *vcore_arm64_s2_get_geom(const vcore_arm64_s2_t *s2);

/**
 * @brief Physical address of the (concatenated) start-level table, for VTTBR_EL2.BADDR.
 * @param[in] s2 The table.
 * @return The address; 0 if @p s2 is NULL.
 */
VCORE_API uint64_t vcore_arm64_s2_root_pa(const vcore_arm64_s2_t *s2);

/**
 * @brief Prepares mapping [ipa, ipa + len) to [pa, pa + len).
 *
 * Checks the request, works out every table the change needs (new tables,
 * blocks split into tables) and reserves them from the pool. The table is not
 * modified; a failure leaves it and the pool's accounting as they were, apart
 * from pages the pool drew from the host, which stay in the pool. Existing
 * mappings in the range are replaced. Blocks are used wherever the range
 * covers a whole, aligned block and @p pa is aligned alike.
 * @param[in] s2 The table.
 * @param[in] ipa First IPA (granule aligned).
 * @param[in] pa First output address (granule aligned).
 * @param[in] len Bytes (a non-zero multiple of the granule).
 * @param[in] prot VCORE_ARM64_S2_R/W/X_EL1/X_EL0/DEVICE.
 * @param[out] diag Optional diagnostic.
 * @return VCORE_OK when prepared; then vcore_arm64_s2_commit() or vcore_arm64_s2_cancel().
 * @retval VCORE_ERR_INVAL A refused argument (see @p diag).
 * @retval VCORE_ERR_STATE Another change is prepared and not committed.
 * @retval VCORE_ERR_NOMEM Not enough pages for the tables the change needs.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_prepare_map(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa,
                                         uint64_t len, uint32_t prot, vcore_diag_t *diag);

/**
 * @brief Prepares unmapping [ipa, ipa + len); blocks partly inside are split.
 * @param[in] s2 The table.
 * @param[in] ipa First IPA (granule aligned).
 * @param[in] len Bytes (a non-zero multiple of the granule).
 * @param[out] diag Optional diagnostic.
 * @return VCORE_OK when prepared.
 * @retval VCORE_ERR_INVAL A refused argument.
 * @retval VCORE_ERR_STATE Another change is prepared.
 * @retval VCORE_ERR_NOMEM Not enough pages to split the blocks at the range's ends.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_prepare_unmap(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t len,
                                           vcore_diag_t *diag);

/**
 * @brief Applies the prepared change. It cannot fail.
 *
 * Entries that change a valid mapping's address, size or attributes follow
 * break-before-make: they are invalidated first, the TLB callback runs once
 * for everything invalidated or restricted, then the new entries are
 * written and tables no longer used return to the pool.
 * @param[in] s2 The table.
 * @param[out] done Optional; receives the maintenance that was requested (scope NONE if none).
 * @return VCORE_OK.
 * @retval VCORE_ERR_INVAL @p s2 is NULL.
 * @retval VCORE_ERR_STATE Nothing is prepared.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_commit(vcore_arm64_s2_t *s2, vcore_arm64_s2_tlbi_t *done);

/**
 * @brief Drops a prepared change; its reserved tables return to the pool.
 * @param[in] s2 The table (nothing happens if no change is prepared).
 */
VCORE_API void vcore_arm64_s2_cancel(vcore_arm64_s2_t *s2);

/**
 * @brief vcore_arm64_s2_prepare_map() then vcore_arm64_s2_commit().
 * @param[in] s2 The table.
 * @param[in] ipa First IPA.
 * @param[in] pa First output address.
 * @param[in] len Bytes.
 * @param[in] prot Permissions and attributes.
 * @param[out] done Optional; the TLB maintenance requested.
 * @param[out] diag Optional diagnostic.
 * @return As vcore_arm64_s2_prepare_map().
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_map(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa, uint64_t len,
                                 uint32_t prot, vcore_arm64_s2_tlbi_t *done, vcore_diag_t *diag);

/**
 * @brief vcore_arm64_s2_prepare_unmap() then vcore_arm64_s2_commit().
 * @param[in] s2 The table.
 * @param[in] ipa First IPA.
 * @param[in] len Bytes.
 * @param[out] done Optional; the TLB maintenance requested.
 * @param[out] diag Optional diagnostic.
 * @return As vcore_arm64_s2_prepare_unmap().
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_unmap(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t len,
                                   vcore_arm64_s2_tlbi_t *done, vcore_diag_t *diag);

/** @brief What the table says about one IPA. */
typedef struct vcore_arm64_s2_lookup {
    size_t size;      /**< sizeof(vcore_arm64_s2_lookup_t). */
    bool mapped;      /**< A valid block or page translates the IPA. */
    int32_t level;    /**< Level of the leaf, or of the invalid descriptor where a walk faults (translation fault level). */
    uint64_t pa;      /**< Output address of the IPA (mapped only). */
    uint64_t leaf_ipa; /**< First IPA the leaf (or the invalid entry) covers. */
    uint64_t leaf_size; /**< Bytes the leaf (or the invalid entry) covers. */
    uint32_t prot;    /**< VCORE_ARM64_S2_* of the leaf (mapped only). */
    uint32_t pad;     /**< Reserved. */
    uint64_t desc;    /**< The descriptor read at @c level. */
} vcore_arm64_s2_lookup_t;

/**
 * @brief Walks the table for one IPA, as the hardware would.
 * @param[in] s2 The table.
 * @param[in] ipa An IPA inside the IPA space.
 * @param[out] out The result; @c out->size must be set.
 * @return VCORE_OK (mapped or not).
 * @retval VCORE_ERR_INVAL NULL pointer.
 * @retval VCORE_ERR_ABI Wrong @c out->size.
 * @retval VCORE_ERR_RANGE @p ipa is outside the IPA space (the hardware gives a level-0 translation fault).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_lookup(const vcore_arm64_s2_t *s2, uint64_t ipa,
                                    vcore_arm64_s2_lookup_t *out);

/** @brief Entries and pages a table uses (index [level + 1] for levels -1..3). */
typedef struct vcore_arm64_s2_stats {
    size_t size;                /**< sizeof(vcore_arm64_s2_stats_t). */
    uint64_t table_entries[5];  /**< Valid table descriptors per level. */
    uint64_t block_entries[5];  /**< Valid block descriptors per level. */
    uint64_t page_entries;      /**< Valid level-3 page descriptors. */
    uint64_t tables;            /**< Translation tables reachable from the root (root tables included). */
    uint64_t tables_in_use;     /**< Tables the pool counts as in use (== @c tables unless something leaked). */
    uint64_t tables_free;       /**< Tables the pool holds free. */
    uint64_t table_bytes;       /**< Bytes of the reachable tables. */
    uint64_t host_pages;        /**< 4 KiB pages currently drawn from the host (alignment slack included). */
} vcore_arm64_s2_stats_t;

/**
 * @brief Counts the entries and pages of a table by walking it.
 * @param[in] s2 The table.
 * @param[out] out The counts; @c out->size must be set.
 * @return VCORE_OK.
 * @retval VCORE_ERR_INVAL NULL pointer.
 * @retval VCORE_ERR_ABI Wrong @c out->size.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_s2_stats(const vcore_arm64_s2_t *s2, vcore_arm64_s2_stats_t *out);
/** @} */

/* ------------------------------------------------------------------------- */
/** @name Guest aborts
 * @{ */

/** @brief An abort taken to EL2 from the guest, as read from the system registers. */
typedef struct vcore_arm64_abort {
    size_t size;        /**< sizeof(vcore_arm64_abort_t). */
    uint64_t esr;       /**< ESR_EL2. */
    uint64_t far;       /**< FAR_EL2. */
    uint64_t hpfar;     /**< HPFAR_EL2. */
    uint64_t par;       /**< PAR_EL1 after AT S1E1R/W of @c far (see vcore_arm64_abort_needs_at()). */
    bool par_valid;     /**< @c par was captured for this abort. */
    /** Optional X0..X30 of the guest: gives the data of an MMIO write. */
    const uint64_t *x;
    /** Optional: whether an IPA is guest RAM (NULL: no IPA is RAM). */
    bool (*is_ram)(void *ctx, uint64_t ipa);
    void *ctx;          /**< Passed to @c is_ram. */
} vcore_arm64_abort_t;

/**
 * @brief Whether HPFAR_EL2 holds no faulting IPA for this abort, so the IPA
 *        must come from AT S1E1R/W of FAR_EL2 (PAR_EL1).
 *
 * HPFAR_EL2 is written for stage-2 translation, Access-flag and Address-size
 * faults, and for stage-2 faults on a stage-1 table walk; for other aborts it
 * is UNKNOWN (Arm ARM, "HPFAR_EL2"). No AT is needed when FAR_EL2 is not
 * valid either (ESR.FnV).
 * @param[in] esr ESR_EL2 of a data or instruction abort from a lower EL.
 * @return true if the backend should run AT and fill vcore_arm64_abort_t::par.
 */
VCORE_API bool vcore_arm64_abort_needs_at(uint64_t esr);

/**
 * @brief Decodes a data or instruction abort from a lower EL into a VM exit.
 *
 * A data abort with a valid instruction syndrome (ISV) on a stage-2
 * translation, Access-flag or Permission fault at an IPA that is not RAM
 * becomes VCORE_EXIT_MMIO (length, direction, register, sign extension, SF,
 * AR; write data from @c x). Every other abort becomes
 * VCORE_EXIT_STAGE2_FAULT with the fault kind and level. Both keep ESR_EL2 in
 * raw.qualification and raw.reason (EC), FAR_EL2 in raw.data[0], HPFAR_EL2 in
 * raw.data[1], PAR_EL1 in raw.data[2] (0 if not captured); raw.source is
 * VCORE_EXIT_SRC_ARM64.
 * @param[in] in The abort; @c in->size must be set.
 * @param[out] exit Filled on success; @c exit->size must be set.
 * @param[out] diag Optional diagnostic.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL NULL pointer, or ESR_EL2 is not an abort from a lower EL (nothing written).
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_abort_decode(const vcore_arm64_abort_t *in, vcore_exit_t *exit,
                                       vcore_diag_t *diag);

/**
 * @brief Completes an MMIO read: writes the reply (exit->u.mmio.data) to the
 *        target register, sign- or zero-extended as the syndrome says.
 *
 * SSE = 1 sign-extends from the access size to 64 bits (SF = 1) or to 32 bits
 * with bits[63:32] zero (SF = 0); SSE = 0 zero-extends. Register 31 is XZR:
 * nothing is written. The caller advances the PC by 4 (the syndrome's IL).
 * @param[in] exit A VCORE_EXIT_MMIO read decoded by vcore_arm64_abort_decode().
 * @param[in,out] x X0..X30 of the guest.
 * @param[out] diag Optional diagnostic.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL NULL pointer, or @p exit is not such a read.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_mmio_complete(const vcore_exit_t *exit, uint64_t *x, vcore_diag_t *diag);
/** @} */

VCORE_END_DECLS

#endif /* VIRTCORE_ARM64_STAGE2_H */
