/**
 * @file svm_checks.h
 * @brief The VMRUN consistency checks as a pure function: the verdict an
 *        AMD processor gives for a VMCB, and every failing check on request.
 *
 * APM Vol. 2, "Canonicalization and Consistency Checks" (with "Event
 * Injection" and "Nested Paging and VMRUN/\#VMEXIT", which add to its list):
 * VMRUN refuses an illegal guest state with \#VMEXIT and the exit code
 * VMEXIT_INVALID (-1). The input is a snapshot (::vcore_svm_check_input_t):
 * a VMCB image (vmcb.h), the SVM features L1 sees (CPUID Fn8000_000A_EDX),
 * L1's physical-address width, L1's EFER and L1's CPUID table.
 *
 * The checks have no side effects, read no guest memory and allocate
 * nothing: the VMCB is copied once and only the copy is examined. They do
 * not cover the faults of the VMRUN instruction itself (\#UD without
 * EFER.SVME, \#GP at CPL > 0 or for a bad rAX), which come before any of
 * them.
 *
 * Every check has a stable identifier, a class, the title of the APM
 * section that states it and a one-line message (svm_check_list.h;
 * vcore_svm_check_describe(), vcore_svm_check_at()). The identifiers are
 * also diagnostic identifiers: vcore_diag_describe() knows them.
 */
#ifndef VIRTCORE_X86_SVM_CHECKS_H
#define VIRTCORE_X86_SVM_CHECKS_H

#include "../common.h"
#include "../error.h"
#include "cpuid.h"
#include "svm_check_list.h"
#include "vmcb.h"

VCORE_BEGIN_DECLS

/** @brief Check identifiers (values pinned, see svm_check_list.h). */
typedef enum vcore_svm_check_id {
#define VCORE__SVM_CHECK_ENUM(name, value, cls, sec, msg) VCORE_SVM_CHECK_##name = (value),
    VCORE_SVM_CHECK_LIST(VCORE__SVM_CHECK_ENUM)
#undef VCORE__SVM_CHECK_ENUM
    VCORE_SVM_CHECK_NONE_ = 0 /**< No check (the verdict VMRUN_OK). */
} vcore_svm_check_id_t;

/** @brief What a failure of a check produces. */
typedef enum vcore_svm_check_class {
    VCORE_SVM_CLASS_VMEXIT_INVALID = 1 /**< \#VMEXIT with EXITCODE VMEXIT_INVALID (-1). */
} vcore_svm_check_class_t;

/** @brief Kinds of verdict. */
typedef enum vcore_svm_verdict_kind {
    VCORE_SVM_VMRUN_OK = 1,        /**< Every check passed: the processor would enter the guest. */
    VCORE_SVM_VMRUN_INVALID = 2    /**< \#VMEXIT with ::VCORE_VMEXIT_INVALID_CODE. */
} vcore_svm_verdict_kind_t;

/**
 * @brief The snapshot the checks look at.
 *
 * Without a CPUID table (@c ncpuid 0) L1 is taken to be an AMD64 processor
 * with SVM and nothing optional: long mode, NX and SYSCALL; the CR4 bits
 * every x86-64 processor implements (VME through OSXMMEXCPT); no CET, no
 * SEV. With a table, long mode, the EFER and CR4 features and the optional
 * exception vectors follow what it enumerates.
 */
typedef struct vcore_svm_check_input {
    size_t size;                      /**< sizeof(vcore_svm_check_input_t). */
    const void *vmcb12;               /**< The VMCB: ::VCORE_VMCB_SIZE bytes (copied once). */
    uint32_t svm_features;            /**< CPUID Fn8000_000A_EDX as L1 sees it (VCORE_SVM_FEAT_*). */
    uint32_t maxphyaddr;              /**< L1's physical-address width, 32..52. */
    uint64_t l1_efer;                 /**< L1's EFER at VMRUN: LMA selects the nCR3 format of nested paging. */
    const vcore_cpuid_entry_t *cpuid; /**< L1's CPUID table (may be NULL when @c ncpuid is 0). */
    uint32_t ncpuid;                  /**< Entries at @c cpuid. */
} vcore_svm_check_input_t;

/** @brief The outcome of VMRUN that the checks predict. */
typedef struct vcore_svm_verdict {
    size_t size;         /**< sizeof(vcore_svm_verdict_t). */
    uint32_t kind;       /**< ::vcore_svm_verdict_kind_t. */
    uint32_t check;      /**< The deciding check (::vcore_svm_check_id_t); 0 for VMRUN_OK. */
    uint64_t exit_code;  /**< VMRUN_INVALID: ::VCORE_VMEXIT_INVALID_CODE; 0 otherwise. */
    uint64_t value;      /**< The offending value of the deciding check. */
    uint32_t failures;   /**< Report-all mode: the number of failing checks (also when the array was too small). */
} vcore_svm_verdict_t;

/** @brief One failing check in report-all mode. */
typedef struct vcore_svm_check_failure {
    uint32_t check;  /**< ::vcore_svm_check_id_t. */
    uint32_t pad;    /**< Reserved, 0. */
    uint64_t value;  /**< The offending value (register, address, EVENTINJ ...). */
} vcore_svm_check_failure_t;

/**
 * @brief Runs the VMRUN consistency checks on a snapshot.
 *
 * The checks run in table order (svm_check_list.h); the verdict is the
 * first failure. With @p failures non-NULL the function runs in report-all
 * mode: every failing check is recorded (the first @p cap of them in
 * @p failures, in table order; @c out->failures counts all of them) and
 * failures[0] is the deciding check. Without @p failures the function
 * stops at the first failure.
 * @param[in] in The snapshot (the VMCB is copied once).
 * @param[out] out The verdict; @c out->size must be set.
 * @param[out] failures Report-all array (may be NULL).
 * @param[in] cap Elements at @p failures.
 * @return VCORE_OK when @p out holds a verdict.
 * @retval VCORE_ERR_INVAL A NULL argument, @c maxphyaddr outside 32..52, or a
 *         CPUID table pointer missing for a non-zero count.
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_svm_check_vmrun(const vcore_svm_check_input_t *in,
                                                      vcore_svm_verdict_t *out,
                                                      vcore_svm_check_failure_t *failures,
                                                      uint32_t cap);

/** @brief Static description of one check. */
typedef struct vcore_svm_check_info {
    size_t size;          /**< sizeof(vcore_svm_check_info_t), set by the caller. */
    uint32_t id;          /**< ::vcore_svm_check_id_t. */
    uint32_t cls;         /**< ::vcore_svm_check_class_t. */
    const char *name;     /**< Name without prefix, e.g. "ASID_ZERO" (static). */
    const char *cls_name; /**< Class name, "VMEXIT_INVALID" (static). */
    const char *manual;   /**< Title of the APM Vol. 2 section stating the rule (static). */
    const char *message;  /**< One-line description of the requirement (static). */
} vcore_svm_check_info_t;

/**
 * @brief Number of checks in the table.
 * @return The count (constant).
 */
VCORE_API uint32_t vcore_svm_check_count(void);

/**
 * @brief Describes the i-th check in table order (iteration over all checks).
 * @param[in] i Index, 0 .. vcore_svm_check_count() - 1.
 * @param[out] info Receives the description; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_RANGE @p i is past the end of the table.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_svm_check_at(uint32_t i, vcore_svm_check_info_t *info);

/**
 * @brief Describes a check by identifier.
 * @param[in] id A ::vcore_svm_check_id_t value.
 * @param[out] info Receives the description; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_NOENT No check has that identifier.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_svm_check_describe(uint32_t id, vcore_svm_check_info_t *info);

/**
 * @brief Finds a check by name ("ASID_ZERO").
 * @param[in] name NUL-terminated name, case sensitive, without prefix.
 * @param[out] id Receives the identifier.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT No check has that name.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_svm_check_by_name(const char *name, uint32_t *id);

/**
 * @brief Name of a check class ("VMEXIT_INVALID").
 * @param[in] cls A ::vcore_svm_check_class_t value.
 * @return A static string, or NULL for an unknown class.
 */
VCORE_API const char *vcore_svm_check_class_name(uint32_t cls);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_SVM_CHECKS_H */
