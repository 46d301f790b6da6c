/**
 * @file vmcs.h
 * @brief VMCS field encodings, field metadata and vmcs12 (software VMCS) access.
 *
 * One X-macro list per (width, type) group names every field the SDM
 * defines in appendix "Field Encoding in VMCS" (SDM Vol. 3). From it the
 * library generates, at compile time: the ::vcore_vmcs_field_t encoding
 * constants (plus a @c _HIGH constant for every 64-bit field), the metadata
 * table (name, width, type, read-only, offset in vmcs12) and an O(1) lookup
 * indexed by the encoding bits (width 14:13, type 11:10, index 9:1, access
 * type 0).
 *
 * vmcs12 is the library's private, software copy of an L1 VMCS: one 4 KiB
 * page laid out in KVM's `struct vmcs12` order (revision
 * ::VCORE_VMCS12_REVISION) so it can travel in KVM nested-state blobs
 * unchanged. Fields KVM does not hold live in an extension area at offset
 * ::VCORE_VMCS12_EXT_OFFSET, which the KVM conversion clears on export.
 */
#ifndef VIRTCORE_X86_VMCS_H
#define VIRTCORE_X86_VMCS_H

#include "../common.h"
#include "../error.h"

VCORE_BEGIN_DECLS

/**
 * @name Field lists: X(NAME, encoding)
 * Grouped as SDM Vol. 3, "Field Encoding in VMCS" groups them.
 * @{
 */
/** @brief 16-bit fields (control, guest state, host state). */
#define VCORE_VMCS_FIELDS_16(X)                                                \
    X(VIRTUAL_PROCESSOR_ID, 0x0000)                                            \
    X(POSTED_INTR_NV, 0x0002)                                                  \
    X(EPTP_INDEX, 0x0004)                                                      \
    X(HLAT_PREFIX_SIZE, 0x0006)                                                \
    X(LAST_PID_POINTER_INDEX, 0x0008)                                          \
    X(GUEST_ES_SELECTOR, 0x0800)                                               \
    X(GUEST_CS_SELECTOR, 0x0802)                                               \
    X(GUEST_SS_SELECTOR, 0x0804)                                               \
    X(GUEST_DS_SELECTOR, 0x0806)                                               \
    X(GUEST_FS_SELECTOR, 0x0808)                                               \
    X(GUEST_GS_SELECTOR, 0x080a)                                               \
    X(GUEST_LDTR_SELECTOR, 0x080c)                                             \
    X(GUEST_TR_SELECTOR, 0x080e)                                               \
    X(GUEST_INTR_STATUS, 0x0810)                                               \
    X(GUEST_PML_INDEX, 0x0812)                                                 \
    X(GUEST_UINV, 0x0814)                                                      \
    X(HOST_ES_SELECTOR, 0x0c00)                                                \
    X(HOST_CS_SELECTOR, 0x0c02)                                                \
    X(HOST_SS_SELECTOR, 0x0c04)                                                \
    X(HOST_DS_SELECTOR, 0x0c06)                                                \
    X(HOST_FS_SELECTOR, 0x0c08)                                                \
    X(HOST_GS_SELECTOR, 0x0c0a)                                                \
    X(HOST_TR_SELECTOR, 0x0c0c)

/** @brief 64-bit fields (full encodings; each also has a _HIGH encoding = full + 1). */
#define VCORE_VMCS_FIELDS_64(X)                                                \
    X(IO_BITMAP_A, 0x2000)                                                     \
    X(IO_BITMAP_B, 0x2002)                                                     \
    X(MSR_BITMAP, 0x2004)                                                      \
    X(VM_EXIT_MSR_STORE_ADDR, 0x2006)                                          \
    X(VM_EXIT_MSR_LOAD_ADDR, 0x2008)                                           \
    X(VM_ENTRY_MSR_LOAD_ADDR, 0x200a)                                          \
    X(EXECUTIVE_VMCS_POINTER, 0x200c)                                          \
    X(PML_ADDRESS, 0x200e)                                                     \
    X(TSC_OFFSET, 0x2010)                                                      \
    X(VIRTUAL_APIC_PAGE_ADDR, 0x2012)                                          \
    X(APIC_ACCESS_ADDR, 0x2014)                                                \
    X(POSTED_INTR_DESC_ADDR, 0x2016)                                           \
    X(VM_FUNCTION_CONTROL, 0x2018)                                             \
    X(EPT_POINTER, 0x201a)                                                     \
    X(EOI_EXIT_BITMAP0, 0x201c)                                                \
    X(EOI_EXIT_BITMAP1, 0x201e)                                                \
    X(EOI_EXIT_BITMAP2, 0x2020)                                                \
    X(EOI_EXIT_BITMAP3, 0x2022)                                                \
    X(EPTP_LIST_ADDRESS, 0x2024)                                               \
    X(VMREAD_BITMAP, 0x2026)                                                   \
    X(VMWRITE_BITMAP, 0x2028)                                                  \
    X(VE_INFORMATION_ADDRESS, 0x202a)                                          \
    X(XSS_EXIT_BITMAP, 0x202c)                                                 \
    X(ENCLS_EXITING_BITMAP, 0x202e)                                            \
    X(SPP_TABLE_POINTER, 0x2030)                                               \
    X(TSC_MULTIPLIER, 0x2032)                                                  \
    X(TERTIARY_VM_EXEC_CONTROL, 0x2034)                                        \
    X(ENCLV_EXITING_BITMAP, 0x2036)                                            \
    X(LOW_PASID_DIRECTORY, 0x2038)                                             \
    X(HIGH_PASID_DIRECTORY, 0x203a)                                            \
    X(SHARED_EPT_POINTER, 0x203c)                                              \
    X(PCONFIG_EXITING_BITMAP, 0x203e)                                          \
    X(HLAT_POINTER, 0x2040)                                                    \
    X(PID_POINTER_TABLE_ADDR, 0x2042)                                          \
    X(SECONDARY_VM_EXIT_CONTROLS, 0x2044)                                      \
    X(IA32_SPEC_CTRL_MASK, 0x204a)                                             \
    X(IA32_SPEC_CTRL_SHADOW, 0x204c)                                           \
    X(GUEST_PHYSICAL_ADDRESS, 0x2400)                                          \
    X(VMCS_LINK_POINTER, 0x2800)                                               \
    X(GUEST_IA32_DEBUGCTL, 0x2802)                                             \
    X(GUEST_IA32_PAT, 0x2804)                                                  \
    X(GUEST_IA32_EFER, 0x2806)                                                 \
    X(GUEST_IA32_PERF_GLOBAL_CTRL, 0x2808)                                     \
    X(GUEST_PDPTR0, 0x280a)                                                    \
    X(GUEST_PDPTR1, 0x280c)                                                    \
    X(GUEST_PDPTR2, 0x280e)                                                    \
    X(GUEST_PDPTR3, 0x2810)                                                    \
    X(GUEST_BNDCFGS, 0x2812)                                                   \
    X(GUEST_IA32_RTIT_CTL, 0x2814)                                             \
    X(GUEST_IA32_LBR_CTL, 0x2816)                                              \
    X(GUEST_IA32_PKRS, 0x2818)                                                 \
    X(HOST_IA32_PAT, 0x2c00)                                                   \
    X(HOST_IA32_EFER, 0x2c02)                                                  \
    X(HOST_IA32_PERF_GLOBAL_CTRL, 0x2c04)                                      \
    X(HOST_IA32_PKRS, 0x2c06)

/** @brief 32-bit fields. */
#define VCORE_VMCS_FIELDS_32(X)                                                \
    X(PIN_BASED_VM_EXEC_CONTROL, 0x4000)                                       \
    X(CPU_BASED_VM_EXEC_CONTROL, 0x4002)                                       \
    X(EXCEPTION_BITMAP, 0x4004)                                                \
    X(PAGE_FAULT_ERROR_CODE_MASK, 0x4006)                                      \
    X(PAGE_FAULT_ERROR_CODE_MATCH, 0x4008)                                     \
    X(CR3_TARGET_COUNT, 0x400a)                                                \
    X(VM_EXIT_CONTROLS, 0x400c)                                                \
    X(VM_EXIT_MSR_STORE_COUNT, 0x400e)                                         \
    X(VM_EXIT_MSR_LOAD_COUNT, 0x4010)                                          \
    X(VM_ENTRY_CONTROLS, 0x4012)                                               \
    X(VM_ENTRY_MSR_LOAD_COUNT, 0x4014)                                         \
    X(VM_ENTRY_INTR_INFO_FIELD, 0x4016)                                        \
    X(VM_ENTRY_EXCEPTION_ERROR_CODE, 0x4018)                                   \
    X(VM_ENTRY_INSTRUCTION_LEN, 0x401a)                                        \
    X(TPR_THRESHOLD, 0x401c)                                                   \
    X(SECONDARY_VM_EXEC_CONTROL, 0x401e)                                       \
    X(PLE_GAP, 0x4020)                                                         \
    X(PLE_WINDOW, 0x4022)                                                      \
    X(NOTIFY_WINDOW, 0x4024)                                                   \
    X(VM_INSTRUCTION_ERROR, 0x4400)                                            \
    X(VM_EXIT_REASON, 0x4402)                                                  \
    X(VM_EXIT_INTR_INFO, 0x4404)                                               \
    X(VM_EXIT_INTR_ERROR_CODE, 0x4406)                                         \
    X(IDT_VECTORING_INFO_FIELD, 0x4408)                                        \
    X(IDT_VECTORING_ERROR_CODE, 0x440a)                                        \
    X(VM_EXIT_INSTRUCTION_LEN, 0x440c)                                         \
    X(VMX_INSTRUCTION_INFO, 0x440e)                                            \
    X(GUEST_ES_LIMIT, 0x4800)                                                  \
    X(GUEST_CS_LIMIT, 0x4802)                                                  \
    X(GUEST_SS_LIMIT, 0x4804)                                                  \
    X(GUEST_DS_LIMIT, 0x4806)                                                  \
    X(GUEST_FS_LIMIT, 0x4808)                                                  \
    X(GUEST_GS_LIMIT, 0x480a)                                                  \
    X(GUEST_LDTR_LIMIT, 0x480c)                                                \
    X(GUEST_TR_LIMIT, 0x480e)                                                  \
    X(GUEST_GDTR_LIMIT, 0x4810)                                                \
    X(GUEST_IDTR_LIMIT, 0x4812)                                                \
    X(GUEST_ES_AR_BYTES, 0x4814)                                               \
    X(GUEST_CS_AR_BYTES, 0x4816)                                               \
    X(GUEST_SS_AR_BYTES, 0x4818)                                               \
    X(GUEST_DS_AR_BYTES, 0x481a)                                               \
    X(GUEST_FS_AR_BYTES, 0x481c)                                               \
    X(GUEST_GS_AR_BYTES, 0x481e)                                               \
    X(GUEST_LDTR_AR_BYTES, 0x4820)                                             \
    X(GUEST_TR_AR_BYTES, 0x4822)                                               \
    X(GUEST_INTERRUPTIBILITY_INFO, 0x4824)                                     \
    X(GUEST_ACTIVITY_STATE, 0x4826)                                            \
    X(GUEST_SMBASE, 0x4828)                                                    \
    X(GUEST_SYSENTER_CS, 0x482a)                                               \
    X(VMX_PREEMPTION_TIMER_VALUE, 0x482e)                                      \
    X(HOST_IA32_SYSENTER_CS, 0x4c00)

/** @brief Natural-width fields (64 bits wide in the library's storage). */
#define VCORE_VMCS_FIELDS_NATURAL(X)                                           \
    X(CR0_GUEST_HOST_MASK, 0x6000)                                             \
    X(CR4_GUEST_HOST_MASK, 0x6002)                                             \
    X(CR0_READ_SHADOW, 0x6004)                                                 \
    X(CR4_READ_SHADOW, 0x6006)                                                 \
    X(CR3_TARGET_VALUE0, 0x6008)                                               \
    X(CR3_TARGET_VALUE1, 0x600a)                                               \
    X(CR3_TARGET_VALUE2, 0x600c)                                               \
    X(CR3_TARGET_VALUE3, 0x600e)                                               \
    X(EXIT_QUALIFICATION, 0x6400)                                              \
    X(IO_RCX, 0x6402)                                                          \
    X(IO_RSI, 0x6404)                                                          \
    X(IO_RDI, 0x6406)                                                          \
    X(IO_RIP, 0x6408)                                                          \
    X(GUEST_LINEAR_ADDRESS, 0x640a)                                            \
    X(GUEST_CR0, 0x6800)                                                       \
    X(GUEST_CR3, 0x6802)                                                       \
    X(GUEST_CR4, 0x6804)                                                       \
    X(GUEST_ES_BASE, 0x6806)                                                   \
    X(GUEST_CS_BASE, 0x6808)                                                   \
    X(GUEST_SS_BASE, 0x680a)                                                   \
    X(GUEST_DS_BASE, 0x680c)                                                   \
    X(GUEST_FS_BASE, 0x680e)                                                   \
    X(GUEST_GS_BASE, 0x6810)                                                   \
    X(GUEST_LDTR_BASE, 0x6812)                                                 \
    X(GUEST_TR_BASE, 0x6814)                                                   \
    X(GUEST_GDTR_BASE, 0x6816)                                                 \
    X(GUEST_IDTR_BASE, 0x6818)                                                 \
    X(GUEST_DR7, 0x681a)                                                       \
    X(GUEST_RSP, 0x681c)                                                       \
    X(GUEST_RIP, 0x681e)                                                       \
    X(GUEST_RFLAGS, 0x6820)                                                    \
    X(GUEST_PENDING_DBG_EXCEPTIONS, 0x6822)                                    \
    X(GUEST_SYSENTER_ESP, 0x6824)                                              \
    X(GUEST_SYSENTER_EIP, 0x6826)                                              \
    X(GUEST_S_CET, 0x6828)                                                     \
    X(GUEST_SSP, 0x682a)                                                       \
    X(GUEST_INTR_SSP_TABLE_ADDR, 0x682c)                                       \
    X(HOST_CR0, 0x6c00)                                                        \
    X(HOST_CR3, 0x6c02)                                                        \
    X(HOST_CR4, 0x6c04)                                                        \
    X(HOST_FS_BASE, 0x6c06)                                                    \
    X(HOST_GS_BASE, 0x6c08)                                                    \
    X(HOST_TR_BASE, 0x6c0a)                                                    \
    X(HOST_GDTR_BASE, 0x6c0c)                                                  \
    X(HOST_IDTR_BASE, 0x6c0e)                                                  \
    X(HOST_IA32_SYSENTER_ESP, 0x6c10)                                          \
    X(HOST_IA32_SYSENTER_EIP, 0x6c12)                                          \
    X(HOST_RSP, 0x6c14)                                                        \
    X(HOST_RIP, 0x6c16)                                                        \
    X(HOST_S_CET, 0x6c18)                                                      \
    X(HOST_SSP, 0x6c1a)                                                        \
    X(HOST_INTR_SSP_TABLE_ADDR, 0x6c1c)

/** @brief Every field (without the _HIGH encodings), all widths. */
#define VCORE_VMCS_FIELD_LIST(X)                                               \
    VCORE_VMCS_FIELDS_16(X)                                                    \
    VCORE_VMCS_FIELDS_64(X)                                                    \
    VCORE_VMCS_FIELDS_32(X)                                                    \
    VCORE_VMCS_FIELDS_NATURAL(X)
/** @} */

/**
 * @brief Field encodings: VCORE_VMCS_\<NAME\> and, for 64-bit fields,
 *        VCORE_VMCS_\<NAME\>_HIGH (the access-type-high encoding).
 */
typedef enum vcore_vmcs_field {
#define VCORE__VMCS_ENUM(name, enc) VCORE_VMCS_##name = (enc),
#define VCORE__VMCS_ENUM_HIGH(name, enc) VCORE_VMCS_##name##_HIGH = (enc) + 1,
    VCORE_VMCS_FIELD_LIST(VCORE__VMCS_ENUM)
    VCORE_VMCS_FIELDS_64(VCORE__VMCS_ENUM_HIGH)
#undef VCORE__VMCS_ENUM
#undef VCORE__VMCS_ENUM_HIGH
    VCORE_VMCS_FIELD_INVALID_ = 0x7fffffff /**< Not an encoding; forces int width. */
} vcore_vmcs_field_t;

/** @name Encoding bits (SDM Vol. 3, "Field Encoding in VMCS")
 * @{ */
#define VCORE_VMCS_ENC_HIGH 0x1u             /**< Bit 0: access type (1 = high 32 bits of a 64-bit field). */
#define VCORE_VMCS_ENC_INDEX_SHIFT 1         /**< Bits 9:1: index. */
#define VCORE_VMCS_ENC_INDEX_MASK 0x1ffu     /**< Mask of the index after shifting. */
#define VCORE_VMCS_ENC_TYPE_SHIFT 10         /**< Bits 11:10: type. */
#define VCORE_VMCS_ENC_WIDTH_SHIFT 13        /**< Bits 14:13: width. */
#define VCORE_VMCS_ENC_RESERVED 0xffff9000u  /**< Bit 12 and bits 31:15 must be zero. */
/** @} */

/** @brief Field width, the value of encoding bits 14:13. */
typedef enum vcore_vmcs_width {
    VCORE_VMCS_WIDTH_16 = 0,     /**< 16-bit field. */
    VCORE_VMCS_WIDTH_64 = 1,     /**< 64-bit field (a _HIGH access is 32 bits). */
    VCORE_VMCS_WIDTH_32 = 2,     /**< 32-bit field. */
    VCORE_VMCS_WIDTH_NATURAL = 3 /**< Natural width: 64 bits on 64-bit processors. */
} vcore_vmcs_width_t;

/** @brief Field type, the value of encoding bits 11:10. */
typedef enum vcore_vmcs_type {
    VCORE_VMCS_TYPE_CONTROL = 0, /**< VM-execution, exit and entry control fields. */
    VCORE_VMCS_TYPE_RO_DATA = 1, /**< VM-exit information (read-only data) fields. */
    VCORE_VMCS_TYPE_GUEST = 2,   /**< Guest-state fields. */
    VCORE_VMCS_TYPE_HOST = 3     /**< Host-state fields. */
} vcore_vmcs_type_t;

/** @name VM-instruction error numbers (SDM Vol. 3, "VM-Instruction Error Numbers")
 * @{ */
#define VCORE_VMXERR_VMCALL_IN_ROOT 1u            /**< VMCALL executed in VMX root operation. */
#define VCORE_VMXERR_VMCLEAR_INVALID_ADDR 2u      /**< VMCLEAR with invalid physical address. */
#define VCORE_VMXERR_VMCLEAR_VMXON_PTR 3u         /**< VMCLEAR with VMXON pointer. */
#define VCORE_VMXERR_VMLAUNCH_NONCLEAR 4u         /**< VMLAUNCH with non-clear VMCS. */
#define VCORE_VMXERR_VMRESUME_NONLAUNCHED 5u      /**< VMRESUME with non-launched VMCS. */
#define VCORE_VMXERR_VMRESUME_AFTER_VMXOFF 6u     /**< VMRESUME after VMXOFF. */
#define VCORE_VMXERR_ENTRY_INVALID_CONTROL 7u     /**< VM entry with invalid control field(s). */
#define VCORE_VMXERR_ENTRY_INVALID_HOST 8u        /**< VM entry with invalid host-state field(s). */
#define VCORE_VMXERR_VMPTRLD_INVALID_ADDR 9u      /**< VMPTRLD with invalid physical address. */
#define VCORE_VMXERR_VMPTRLD_VMXON_PTR 10u        /**< VMPTRLD with VMXON pointer. */
#define VCORE_VMXERR_VMPTRLD_BAD_REVISION 11u     /**< VMPTRLD with incorrect VMCS revision identifier. */
#define VCORE_VMXERR_UNSUPPORTED_FIELD 12u        /**< VMREAD/VMWRITE from/to unsupported VMCS component. */
#define VCORE_VMXERR_VMWRITE_READ_ONLY 13u        /**< VMWRITE to read-only VMCS component. */
#define VCORE_VMXERR_VMXON_IN_ROOT 15u            /**< VMXON executed in VMX root operation. */
#define VCORE_VMXERR_ENTRY_BAD_EXEC_VMCS 16u      /**< VM entry with invalid executive-VMCS pointer. */
#define VCORE_VMXERR_ENTRY_NONLAUNCHED_EXEC 17u   /**< VM entry with non-launched executive VMCS. */
#define VCORE_VMXERR_ENTRY_EXEC_NOT_VMXON 18u     /**< VM entry with executive-VMCS pointer not VMXON pointer. */
#define VCORE_VMXERR_VMCALL_NONCLEAR 19u          /**< VMCALL with non-clear VMCS. */
#define VCORE_VMXERR_VMCALL_INVALID_EXIT_CTL 20u  /**< VMCALL with invalid VM-exit control fields. */
#define VCORE_VMXERR_VMCALL_BAD_MSEG_REV 22u      /**< VMCALL with incorrect MSEG revision identifier. */
#define VCORE_VMXERR_VMXOFF_IN_SMM 23u            /**< VMXOFF under dual-monitor treatment of SMIs and SMM. */
#define VCORE_VMXERR_VMCALL_BAD_SMM_FEATURES 24u  /**< VMCALL with invalid SMM-monitor features. */
#define VCORE_VMXERR_ENTRY_BAD_EXEC_CTL_RETURN 25u /**< VM entry with invalid VM-execution control fields in executive VMCS. */
#define VCORE_VMXERR_ENTRY_MOV_SS 26u             /**< VM entry with events blocked by MOV SS. */
#define VCORE_VMXERR_INVALID_INVEPT_INVVPID 28u   /**< Invalid operand to INVEPT/INVVPID. */
/** @} */

/** @name vmcs12 (software VMCS page)
 * @{ */
#define VCORE_VMCS12_SIZE 4096u               /**< Bytes in a vmcs12 page (and in a VMCS region). */
#define VCORE_VMCS12_REVISION 0x11e57ed0u     /**< Revision id of the vmcs12 layout (KVM's VMCS12_REVISION). */
#define VCORE_VMCS12_SHADOW_BIT 0x80000000u   /**< Bit 31 of the first dword: shadow-VMCS indicator. */
#define VCORE_VMCS12_KVM_END 998u             /**< End of the part laid out as KVM's struct vmcs12. */
#define VCORE_VMCS12_EXT_OFFSET 1024u         /**< Start of the fields KVM's layout does not hold. */
#define VCORE_VMCS12_OFF_REVISION 0u          /**< Offset of the revision id dword (bit 31 = shadow). */
#define VCORE_VMCS12_OFF_ABORT 4u             /**< Offset of the VMX-abort indicator. */
#define VCORE_VMCS12_OFF_LAUNCH_STATE 8u      /**< Offset of the launch state (0 clear, 1 launched). */
/** @} */

/** @brief Flags of ::vcore_vmcs_field_info_t. */
#define VCORE_VMCS_FIELD_F_READ_ONLY (1u << 0) /**< VM-exit information field: VMWRITE fails unless L1 may write any field. */
#define VCORE_VMCS_FIELD_F_HIGH (1u << 1)      /**< The _HIGH (access type 1) half of a 64-bit field. */
#define VCORE_VMCS_FIELD_F_AR (1u << 2)        /**< Guest segment access rights: reserved bits are dropped on write. */
#define VCORE_VMCS_FIELD_F_KVM (1u << 3)       /**< Stored in the KVM-compatible part of vmcs12. */

/** @brief Metadata of one field encoding. */
typedef struct vcore_vmcs_field_info {
    size_t size;        /**< sizeof(vcore_vmcs_field_info_t), set by the caller. */
    uint32_t encoding;  /**< The encoding (for _HIGH entries: full encoding + 1). */
    const char *name;   /**< Upper-snake name, e.g. "GUEST_CR0" or "EPT_POINTER_HIGH" (static). */
    uint32_t width;     /**< ::vcore_vmcs_width_t (the field's, also for _HIGH entries). */
    uint32_t type;      /**< ::vcore_vmcs_type_t. */
    uint32_t flags;     /**< VCORE_VMCS_FIELD_F_* flags. */
    uint32_t offset;    /**< Byte offset of the field in a vmcs12 page (of the low half for _HIGH). */
    uint32_t bytes;     /**< Bytes the field occupies in vmcs12: 2, 4 or 8. */
} vcore_vmcs_field_info_t;

/**
 * @brief Number of encodings in the table, _HIGH encodings included.
 * @return The count (constant).
 */
VCORE_API uint32_t vcore_vmcs_field_count(void);

/**
 * @brief Describes the i-th encoding of the table (iteration over all fields).
 * @param[in] i Index, 0 .. vcore_vmcs_field_count() - 1.
 * @param[out] info Receives the metadata; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_RANGE @p i is past the end of the table.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcs_field_at(uint32_t i, vcore_vmcs_field_info_t *info);

/**
 * @brief Looks an encoding up in O(1).
 * @param[in] encoding Any 32-bit value (VMREAD/VMWRITE take the encoding from a register).
 * @param[out] info Receives the metadata; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_NOENT The encoding names no field (reserved bits, unknown index, _HIGH of a non-64-bit field).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcs_field_lookup(uint32_t encoding, vcore_vmcs_field_info_t *info);

/**
 * @brief Returns the name of an encoding.
 * @param[in] encoding Any 32-bit value.
 * @return A static upper-snake name, or NULL if the encoding names no field.
 */
VCORE_API const char *vcore_vmcs_field_name(uint32_t encoding);

/**
 * @brief Finds the encoding with a given name ("GUEST_CR0", "EPT_POINTER_HIGH").
 * @param[in] name NUL-terminated name, case sensitive.
 * @param[out] encoding Receives the encoding.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT No field has that name.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcs_field_by_name(const char *name, uint32_t *encoding);

/**
 * @brief The highest index (encoding bits 9:1) of any field in the table.
 *
 * IA32_VMX_VMCS_ENUM bits 9:1 report this value (SDM Vol. 3, "VMCS
 * Enumeration").
 * @return The highest index.
 */
VCORE_API uint32_t vcore_vmcs_enum_max_index(void);

/**
 * @brief Reads a field of a vmcs12 page, by encoding, without VMREAD semantics.
 *
 * Returns the raw stored value: zero-extended for 16/32-bit fields, bits
 * 63:32 of the field for a _HIGH encoding.
 * @param[in] page A ::VCORE_VMCS12_SIZE-byte vmcs12 page.
 * @param[in] encoding Field encoding.
 * @param[out] value Receives the value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT Unknown encoding.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcs12_get(const void *page, uint32_t encoding, uint64_t *value);

/**
 * @brief Writes a field of a vmcs12 page, by encoding, truncating to the field width.
 *
 * No read-only check (that is VMWRITE's business); a _HIGH encoding writes
 * bits 63:32 of the field from bits 31:0 of @p value and keeps the low half;
 * access-rights fields drop their reserved bits as the processor does.
 * @param[in,out] page A ::VCORE_VMCS12_SIZE-byte vmcs12 page.
 * @param[in] encoding Field encoding.
 * @param[in] value The value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT Unknown encoding.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcs12_set(void *page, uint32_t encoding, uint64_t value);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_VMCS_H */
