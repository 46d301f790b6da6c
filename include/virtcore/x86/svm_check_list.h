/**
 * @file svm_check_list.h
 * @brief The table of VMRUN consistency checks: one row per rule of APM
 *        Vol. 2, "Canonicalization and Consistency Checks", "Event
 *        Injection" and "Nested Paging and VMRUN/\#VMEXIT".
 *
 * Each row is X(NAME, value, CLASS, "manual section title", "message"):
 * - NAME: the stable name (enum ::vcore_svm_check_id_t gets VCORE_SVM_CHECK_NAME);
 * - value: the pinned identifier (range 0x5000-0x5fff, append-only, shared
 *   with the diagnostic identifiers of diag.h);
 * - CLASS: the outcome a failure produces (::vcore_svm_check_class_t without
 *   its prefix): every VMRUN consistency check fails with \#VMEXIT and the
 *   exit code VMEXIT_INVALID;
 * - the title of the APM Vol. 2 section that states the rule;
 * - a one-line description of what is required.
 *
 * The APM gives no order among the checks (they all have the same outcome);
 * the table lists the state-save rules in the order of the APM's list, then
 * the control-area rules, event injection and nested paging. The verdict is
 * the first failing row.
 */
#ifndef VIRTCORE_X86_SVM_CHECK_LIST_H
#define VIRTCORE_X86_SVM_CHECK_LIST_H

/** @name Manual section titles (APM Vol. 2, chapter "Secure Virtual Machine")
 * @{ */
#define VCORE_SVM_SEC_CONSISTENCY "Canonicalization and Consistency Checks" /**< The VMRUN list. */
#define VCORE_SVM_SEC_EVENT "Event Injection"                               /**< Illegal EVENTINJ. */
#define VCORE_SVM_SEC_NPT "Nested Paging and VMRUN/#VMEXIT"                 /**< nCR3 and G_PAT. */
/** @} */

/** @brief Rules on the state-save area ("Canonicalization and Consistency Checks"). */
#define VCORE_SVM_CHECKS_SAVE(X)                                                                    \
    X(EFER_SVME, 0x5000, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                 \
      "EFER.SVME must be 1")                                                                        \
    X(CR0_CD_NW, 0x5001, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                 \
      "CR0.NW must be 0 while CR0.CD is 0")                                                         \
    X(CR0_HIGH, 0x5002, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                  \
      "CR0 bits 63:32 must be 0")                                                                   \
    X(CR3_MBZ, 0x5003, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                   \
      "with EFER.LME and CR0.PG set, CR3 bits 63:52 and the bits at or above MAXPHYADDR must be 0") \
    X(CR4_HIGH, 0x5004, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                  \
      "CR4 bits 63:32 must be 0")                                                                   \
    X(CR4_UNSUPPORTED, 0x5005, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                           \
      "CR4 bits 31:0 that are reserved or whose feature the processor lacks (e.g. PCIDE without PCID) must be 0") \
    X(DR6_HIGH, 0x5006, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                  \
      "DR6 bits 63:32 must be 0")                                                                   \
    X(DR7_HIGH, 0x5007, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                  \
      "DR7 bits 63:32 must be 0")                                                                   \
    X(EFER_MBZ, 0x5008, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                  \
      "EFER bits that are reserved or whose feature the processor lacks (e.g. NXE without NX) must be 0") \
    X(EFER_LONG_MODE_UNSUPPORTED, 0x5009, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                \
      "EFER.LMA and EFER.LME must be 0 on a processor without long mode")                           \
    X(LME_PG_NO_PAE, 0x500a, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                             \
      "with EFER.LME and CR0.PG set, CR4.PAE must be 1")                                            \
    X(LME_PG_NO_PE, 0x500b, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                              \
      "with EFER.LME and CR0.PG set, CR0.PE must be 1")                                             \
    X(LONG_CS_L_D, 0x500c, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                               \
      "with EFER.LME, CR0.PG and CR4.PAE set, CS.L and CS.D must not both be 1")

/** @brief Rules on the control area ("Canonicalization and Consistency Checks"). */
#define VCORE_SVM_CHECKS_CONTROL(X)                                                                 \
    X(VMRUN_INTERCEPT, 0x5010, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                           \
      "the VMRUN intercept must be set")                                                            \
    X(MSRPM_RANGE, 0x5011, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                               \
      "the MSR permission map (8 KiB from MSRPM_BASE_PA[51:12]) must end below the maximum physical address") \
    X(IOPM_RANGE, 0x5012, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                \
      "the I/O permission map (12 KiB from IOPM_BASE_PA[51:12]) must end below the maximum physical address") \
    X(ASID_ZERO, 0x5013, VMEXIT_INVALID, VCORE_SVM_SEC_CONSISTENCY,                                 \
      "the guest ASID must not be 0 (the host's)")

/** @brief Rules on EVENTINJ ("Event Injection"). */
#define VCORE_SVM_CHECKS_EVENT(X)                                                                   \
    X(EVENTINJ_TYPE, 0x5020, VMEXIT_INVALID, VCORE_SVM_SEC_EVENT,                                   \
      "a valid EVENTINJ must not use a reserved TYPE (1, 5, 6, 7)")                                 \
    X(EVENTINJ_VECTOR, 0x5021, VMEXIT_INVALID, VCORE_SVM_SEC_EVENT,                                 \
      "EVENTINJ of TYPE 3 (exception) must name an exception vector (not 2, a reserved vector, or above 31)")

/** @brief Rules that apply with nested paging ("Nested Paging and VMRUN/\#VMEXIT"). */
#define VCORE_SVM_CHECKS_NPT(X)                                                                     \
    X(NCR3_MBZ, 0x5030, VMEXIT_INVALID, VCORE_SVM_SEC_NPT,                                          \
      "with nested paging in a long-mode host, nCR3 bits 63:52 and the bits at or above MAXPHYADDR must be 0") \
    X(G_PAT_INVALID, 0x5031, VMEXIT_INVALID, VCORE_SVM_SEC_NPT,                                     \
      "with nested paging, every G_PAT entry must be a supported type (0, 1, 4, 5, 6, 7) with its reserved bits 0")

/** @brief Every VMRUN consistency check, in table order. */
#define VCORE_SVM_CHECK_LIST(X)                                                                     \
    VCORE_SVM_CHECKS_SAVE(X)                                                                        \
    VCORE_SVM_CHECKS_CONTROL(X)                                                                     \
    VCORE_SVM_CHECKS_EVENT(X)                                                                       \
    VCORE_SVM_CHECKS_NPT(X)

#endif /* VIRTCORE_X86_SVM_CHECK_LIST_H */
