/**
 * @file vmx_checks.h
 * @brief The VM-entry consistency checks of VMLAUNCH/VMRESUME as a pure
 *        function: the verdict an Intel processor gives, and every failing
 *        check on request.
 *
 * SDM Vol. 3, chapter "VM Entries": "Basic VM-Entry Checks", "Checks on VMX
 * Controls and Host-State Area", "Checking and Loading Guest State" and
 * "Loading MSRs". The input is a snapshot (::vcore_vmx_check_input_t): a
 * vmcs12 page in the library's layout (vmcs.h), the capability MSRs L1 sees,
 * L1's physical-address width, IA32_EFER and CPUID table, the state the
 * instruction starts from (MOV-SS blocking, VMLAUNCH or VMRESUME, launch
 * state, current-VMCS pointer) and a guest-memory accessor for the few
 * checks that read L1 memory (VM-entry MSR-load list, the VMCS referenced by
 * the link pointer, PAE PDPTEs without EPT, VTPR in the virtual-APIC page).
 *
 * The checks have no side effects and allocate nothing: the vmcs12 page is
 * copied once and only the copy is examined; each guest-memory datum is read
 * once. A tool builds a snapshot from a vmcs12 image (vcore_vmcs12_set()),
 * capability values, a memory map and a CPUID table.
 *
 * Every check has a stable identifier, a class, the title of the SDM
 * section that states it and a one-line message (vmx_check_list.h;
 * vcore_vmx_check_describe(), vcore_vmx_check_at()). The identifiers are
 * also diagnostic identifiers: vcore_diag_describe() knows them.
 */
#ifndef VIRTCORE_X86_VMX_CHECKS_H
#define VIRTCORE_X86_VMX_CHECKS_H

#include "../common.h"
#include "../error.h"
#include "cpuid.h"
#include "nvmx.h"
#include "vmx_check_list.h"

VCORE_BEGIN_DECLS

/** @brief Check identifiers (values pinned, see vmx_check_list.h). */
typedef enum vcore_vmx_check_id {
#define VCORE__VMX_CHECK_ENUM(name, value, cls, sec, msg) VCORE_VMX_CHECK_##name = (value),
    VCORE_VMX_CHECK_LIST(VCORE__VMX_CHECK_ENUM)
#undef VCORE__VMX_CHECK_ENUM
    VCORE_VMX_CHECK_NONE_ = 0 /**< No check (the verdict ENTRY_OK). */
} vcore_vmx_check_id_t;

/** @brief What a failure of a check produces. */
typedef enum vcore_vmx_check_class {
    VCORE_VMX_CLASS_PRE = 1,          /**< Before the VMCS checks: VMfailInvalid, or VMfailValid 26, 4, 5. */
    VCORE_VMX_CLASS_VMFAIL_CTL = 2,   /**< VMfailValid 7: invalid control field(s). */
    VCORE_VMX_CLASS_VMFAIL_HOST = 3,  /**< VMfailValid 8: invalid host-state field(s). */
    VCORE_VMX_CLASS_EXIT_GUEST = 4,   /**< VM-entry failure: exit reason 33, qualification 0. */
    VCORE_VMX_CLASS_EXIT_PDPTE = 5,   /**< VM-entry failure: exit reason 33, qualification 2 (PDPTE). */
    VCORE_VMX_CLASS_EXIT_LINK = 6,    /**< VM-entry failure: exit reason 33, qualification 4 (VMCS link pointer). */
    VCORE_VMX_CLASS_EXIT_MSR_LOAD = 7 /**< VM-entry failure: exit reason 34, qualification = 1-based entry index. */
} vcore_vmx_check_class_t;

/** @brief Kinds of verdict. */
typedef enum vcore_vmx_verdict_kind {
    VCORE_VMX_ENTRY_OK = 1,        /**< Every check passed: the processor would enter the guest. */
    VCORE_VMX_VMFAIL_INVALID = 2,  /**< VMfailInvalid (CF=1). */
    VCORE_VMX_VMFAIL_VALID = 3,    /**< VMfailValid with ::vcore_vmx_verdict_t::vm_error (ZF=1). */
    VCORE_VMX_ENTRY_FAIL_EXIT = 4  /**< VM exit with the "VM-entry failure" bit: ::vcore_vmx_verdict_t::exit_reason. */
} vcore_vmx_verdict_kind_t;

/** @name Exit reasons of a failed VM entry (SDM Vol. 3, "VM-Entry Failures During or After Loading Guest State")
 * @{ */
#define VCORE_VMX_EXIT_INVALID_GUEST_STATE 33u  /**< Basic exit reason: invalid guest state. */
#define VCORE_VMX_EXIT_MSR_LOADING 34u          /**< Basic exit reason: MSR loading failed. */
#define VCORE_VMX_EXIT_REASON_ENTRY_FAIL (1u << 31) /**< Exit-reason bit 31: VM-entry failure. */
#define VCORE_VMX_QUAL_DEFAULT 0u               /**< Qualification: a guest-state check failed. */
#define VCORE_VMX_QUAL_PDPTE 2u                 /**< Qualification: a PDPTE check failed. */
#define VCORE_VMX_QUAL_LINK_POINTER 4u          /**< Qualification: the VMCS link pointer is invalid. */
/** @} */

/** @brief "No current VMCS": the value of ::vcore_vmx_check_input_t::current_vmptr. */
#define VCORE_VMX_NO_VMCS (~0ull)

/** @brief The snapshot the checks look at. */
typedef struct vcore_vmx_check_input {
    size_t size;                      /**< sizeof(vcore_vmx_check_input_t). */
    const void *vmcs12;               /**< The current VMCS: a ::VCORE_VMCS12_SIZE-byte page in the library's layout (copied). */
    const vcore_nvmx_caps_t *caps;    /**< The capability MSRs L1 sees (TRUE controls when IA32_VMX_BASIC[55]). */
    uint32_t maxphyaddr;              /**< L1's physical-address width, 32..52. */
    uint32_t launch_state;            /**< Launch state of the current VMCS: 0 clear, 1 launched. */
    uint64_t l1_efer;                 /**< L1's IA32_EFER at the instruction (LMA decides the address-space checks). */
    uint64_t current_vmptr;           /**< Current-VMCS pointer, ::VCORE_VMX_NO_VMCS when there is none. */
    uint64_t vmxon_ptr;               /**< The VMXON pointer (recorded for tools; no rule outside SMM uses it). */
    bool movss_blocking;              /**< Events are blocked by MOV SS at the instruction. */
    bool resume;                      /**< false: VMLAUNCH; true: VMRESUME. */
    const vcore_cpuid_entry_t *cpuid; /**< L1's CPUID table (may be NULL when @c ncpuid is 0): RTM, CET, PKS, LA57, PMU, ... */
    uint32_t ncpuid;                  /**< Entries at @c cpuid. */
    /** L1 memory (may be NULL: every read then sees all ones, as unbacked physical memory does). */
    const vcore_nvmx_mem_t *mem;
    /**
     * Optional: the VMM's WRMSR rule for MSRs the library does not model
     * (may be NULL). Called for a VM-entry MSR-load entry whose index passed
     * every other check and that the library does not know; returns true
     * when WRMSR(index, value) at CPL 0 would succeed in L1. Without it such
     * an MSR is treated as absent (WRMSR raises \#GP).
     */
    bool (*msr_writable)(void *ctx, uint32_t index, uint64_t value);
    void *msr_ctx;                    /**< Passed to @c msr_writable. */
} vcore_vmx_check_input_t;

/** @brief The outcome of VMLAUNCH/VMRESUME that the checks predict. */
typedef struct vcore_vmx_verdict {
    size_t size;             /**< sizeof(vcore_vmx_verdict_t). */
    uint32_t kind;           /**< ::vcore_vmx_verdict_kind_t. */
    uint32_t vm_error;       /**< VMFAIL_VALID: the VM-instruction error number (26, 4, 5, 7 or 8). */
    uint32_t exit_reason;    /**< ENTRY_FAIL_EXIT: the full exit reason (33 or 34 with bit 31 set). */
    uint64_t qualification;  /**< ENTRY_FAIL_EXIT: the exit qualification (0, 2, 4, or the MSR entry index). */
    uint32_t check;          /**< The deciding check (::vcore_vmx_check_id_t); 0 for ENTRY_OK. */
    uint64_t value;          /**< The offending value of the deciding check. */
    uint32_t failures;       /**< Report-all mode: the number of failing checks (also when the array was too small). */
} vcore_vmx_verdict_t;

/** @brief One failing check in report-all mode. */
typedef struct vcore_vmx_check_failure {
    uint32_t check;  /**< ::vcore_vmx_check_id_t. */
    uint32_t index;  /**< "Loading MSRs": 1-based index of the entry; 0 otherwise. */
    uint64_t value;  /**< The offending value (field, address, MSR index or MSR value). */
} vcore_vmx_check_failure_t;

/**
 * @brief Runs the VM-entry checks of VMLAUNCH/VMRESUME on a snapshot.
 *
 * The checks run in architectural order: basic checks, VM-execution, VM-exit
 * and VM-entry control fields (VMfailValid 7), host state and address-space
 * size (VMfailValid 8), guest state (exit 33 with qualification 0, 4 or 2),
 * then the VM-entry MSR-load list (exit 34). The verdict is the first
 * failure. The assumed processor supports Intel 64 and is not in SMM.
 *
 * With @p failures non-NULL the function runs in report-all mode: every
 * failing check is recorded (the first @p cap of them in @p failures, in
 * architectural order; @c out->failures counts all of them) and
 * failures[0] is the deciding check. After VMfailInvalid nothing else is
 * checked (there is no VMCS). Without @p failures the function stops at
 * the first failure.
 * @param[in] in The snapshot (vmcs12 copied once; memory read once per datum).
 * @param[out] out The verdict; @c out->size must be set.
 * @param[out] failures Report-all array (may be NULL).
 * @param[in] cap Elements at @p failures.
 * @return VCORE_OK when @p out holds a verdict.
 * @retval VCORE_ERR_INVAL A NULL argument, @c maxphyaddr outside 32..52, or a
 *         CPUID table pointer missing for a non-zero count.
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmx_check_entry(const vcore_vmx_check_input_t *in, vcore_vmx_verdict_t *out,
                                    vcore_vmx_check_failure_t *failures, uint32_t cap);

/**
 * @brief Fills a snapshot from a nested-VMX state: its current vmcs12,
 *        capabilities, physical-address width, launch state, current-VMCS and
 *        VMXON pointers. The caller adds what the nested state does not hold.
 * @param[in] nvmx The nested state (must outlive the snapshot).
 * @param[in] mem L1 memory (may be NULL).
 * @param[in] l1_efer L1's IA32_EFER.
 * @param[in] movss_blocking Events blocked by MOV SS at the instruction.
 * @param[in] resume true for VMRESUME.
 * @param[in] cpuid L1's CPUID table (may be NULL if @p ncpuid is 0).
 * @param[in] ncpuid Entries at @p cpuid.
 * @param[out] out The snapshot; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @c out->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmx_check_input_from_nvmx(const vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem,
                                              uint64_t l1_efer, bool movss_blocking, bool resume,
                                              const vcore_cpuid_entry_t *cpuid, uint32_t ncpuid,
                                              vcore_vmx_check_input_t *out);

/** @brief Static description of one check. */
typedef struct vcore_vmx_check_info {
    size_t size;          /**< sizeof(vcore_vmx_check_info_t), set by the caller. */
    uint32_t id;          /**< ::vcore_vmx_check_id_t. */
    uint32_t cls;         /**< ::vcore_vmx_check_class_t. */
    const char *name;     /**< Name without prefix, e.g. "GUEST_CS_TYPE" (static). */
    const char *cls_name; /**< Class name, e.g. "EXIT_GUEST" (static). */
    const char *manual;   /**< Title of the SDM Vol. 3 section stating the rule (static). */
    const char *message;  /**< One-line description of the requirement (static). */
} vcore_vmx_check_info_t;

/**
 * @brief Number of checks in the table.
 * @return The count (constant).
 */
VCORE_API uint32_t vcore_vmx_check_count(void);

/**
 * @brief Describes the i-th check in architectural order (iteration over all checks).
 * @param[in] i Index, 0 .. vcore_vmx_check_count() - 1.
 * @param[out] info Receives the description; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_RANGE @p i is past the end of the table.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmx_check_at(uint32_t i, vcore_vmx_check_info_t *info);

/**
 * @brief Describes a check by identifier.
 * @param[in] id A ::vcore_vmx_check_id_t value.
 * @param[out] info Receives the description; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_NOENT No check has that identifier.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmx_check_describe(uint32_t id, vcore_vmx_check_info_t *info);

/**
 * @brief Finds a check by name ("GUEST_CS_TYPE").
 * @param[in] name NUL-terminated name, case sensitive, without prefix.
 * @param[out] id Receives the identifier.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT No check has that name.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmx_check_by_name(const char *name, uint32_t *id);

/**
 * @brief Name of a check class ("PRE", "VMFAIL_CTL", "VMFAIL_HOST",
 *        "EXIT_GUEST", "EXIT_PDPTE", "EXIT_LINK", "EXIT_MSR_LOAD").
 * @param[in] cls A ::vcore_vmx_check_class_t value.
 * @return A static string, or NULL for an unknown class.
 */
VCORE_API const char *vcore_vmx_check_class_name(uint32_t cls);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_VMX_CHECKS_H */
