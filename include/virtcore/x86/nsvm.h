/**
 * @file nsvm.h
 * @brief Nested SVM: L1's SVM instructions, VMRUN into L2 (VMCB12 copied
 *        once, checked, merged into vmcb02), \#VMEXIT reflection to L1, the
 *        nested page-table walk of L1's tables and the KVM nested-state
 *        interchange (AMD APM Vol. 2, "Secure Virtual Machine").
 *
 * The state (::vcore_nsvm_t) lives in caller memory (vcore_nsvm_size()
 * bytes, 8-byte aligned); nothing is allocated and nothing is global. Guest
 * memory is reached through the accessor of nvmx.h (::vcore_nvmx_mem_t):
 * guest-physical reads and writes of L1's memory.
 *
 * Guest-controlled data is copied once and only the copy is used: VMRUN
 * reads the VMCB12 page in one access, checks that copy
 * (vcore_svm_check_vmrun()) and builds vmcb02 and L2's registers from it;
 * L1's MSR and I/O permission maps are read once into the merged maps; each
 * nested page-table entry is read once per walk. Nothing that L1 controls is
 * read again between a check and its use.
 *
 * What the library keeps for itself: the host state VMRUN saves (APM
 * "VMRUN": "saves a subset of host processor state to the host state-save
 * area specified by the physical address in the VM_HSAVE_PA MSR") is kept in
 * ::vcore_nsvm_t, not in L1's memory, where L1 or L2 could change it; the
 * APM leaves its format to the implementation and forbids software to use it.
 */
#ifndef VIRTCORE_X86_NSVM_H
#define VIRTCORE_X86_NSVM_H

#include "../common.h"
#include "../diag.h"
#include "../error.h"
#include "cpuid.h"
#include "nvmx.h"
#include "regs.h"
#include "svm_checks.h"
#include "vmcb.h"

VCORE_BEGIN_DECLS

/**
 * @brief Nested-SVM diagnostics: X(name, value, message, manual section).
 *        Range 0x1100-0x11ff (include/virtcore/diag.h).
 */
#define VCORE_DIAG_NSVM_LIST(X)                                                                     \
    X(NSVM_UD_SVME_CLEAR, 0x1101, "SVM instruction with EFER.SVME clear",                          \
      "APM Vol. 2, \"Enabling SVM\"")                                                              \
    X(NSVM_UD_REAL_MODE, 0x1102, "SVM instruction outside protected mode (CR0.PE clear or RFLAGS.VM set)", \
      "APM Vol. 3, \"VMRUN\"")                                                                     \
    X(NSVM_GP_CPL, 0x1103, "SVM instruction at CPL above 0", "APM Vol. 3, \"VMRUN\"")              \
    X(NSVM_GP_RAX_ALIGN, 0x1104, "rAX is not 4-KiB aligned", "APM Vol. 3, \"VMRUN\"")              \
    X(NSVM_GP_RAX_PHYS, 0x1105, "rAX is beyond the physical-address width",                        \
      "APM Vol. 3, \"VMRUN\"")                                                                     \
    X(NSVM_VMCB12_READ, 0x1106, "the VMCB12 page is not in guest memory",                          \
      "APM Vol. 2, \"VMRUN Instruction\"")                                                         \
    X(NSVM_PDPTE_LOAD, 0x1107, "a PAE PDPTE could not be loaded or has a reserved bit set",        \
      "APM Vol. 2, \"PAE Paging\"")                                                                \
    X(NSVM_HSAVE_PA, 0x1108, "VM_HSAVE_PA written with bits 11:0 set or beyond the physical-address width", \
      "APM Vol. 2, \"VM_HSAVE_PA MSR (C001_0117h)\"")                                              \
    X(NSVM_HOST_CR3, 0x1109, "L1's CR3 could not be restored on #VMEXIT: L1 shuts down",          \
      "APM Vol. 2, \"#VMEXIT\"")                                                                   \
    X(NSVM_FEATURES, 0x110a, "an SVM feature the library does not emulate for L1",                 \
      "APM Vol. 3, \"Function 8000_000Ah - SVM Revision and Feature Identification\"")             \
    X(NSVM_NOT_IN_GUEST, 0x110b, "no L2 is running", "APM Vol. 2, \"#VMEXIT\"")                    \
    X(NSVM_STATE_FORMAT, 0x1110, "nested state: not the SVM format or a bad size",                 \
      "APM Vol. 2, \"Secure Virtual Machine\"")                                                    \
    X(NSVM_STATE_FLAGS, 0x1111, "nested state: unknown flags or guest mode without EFER.SVME",     \
      "APM Vol. 2, \"Enabling SVM\"")                                                              \
    X(NSVM_STATE_VMCB_PA, 0x1112, "nested state: VMCB12 address not 4-KiB aligned or beyond the physical-address width", \
      "APM Vol. 2, \"VMRUN Instruction\"")                                                         \
    X(NSVM_STATE_CONTROLS, 0x1113, "nested state: the VMCB12 controls fail the VMRUN checks",      \
      "APM Vol. 2, \"Canonicalization and Consistency Checks\"")                                   \
    X(NSVM_STATE_HOST, 0x1114, "nested state: L1's saved state is not a protected-mode paging state", \
      "APM Vol. 2, \"VMRUN Instruction\"")                                                         \
    X(NSVM_VMCB02_FAILED, 0x1115, "VMRUN undone: the backend could not allocate or write vmcb02; the value is the error", \
      "APM Vol. 2, \"VMRUN Instruction\"")

/** @brief Nested-SVM diagnostic identifiers. */
typedef enum vcore_nsvm_diag_id {
#define VCORE__NSVM_DIAG_ENUM(name, value, msg, sec) VCORE_DIAG_##name = (value),
    VCORE_DIAG_NSVM_LIST(VCORE__NSVM_DIAG_ENUM)
#undef VCORE__NSVM_DIAG_ENUM
    VCORE_DIAG_NSVM_END_ = 0x11ff /**< End of the nested-SVM range. */
} vcore_nsvm_diag_id_t;

/** @brief MSR number of VM_HSAVE_PA (APM Vol. 2, "VM_HSAVE_PA MSR (C001_0117h)"). */
#define VCORE_MSR_VM_HSAVE_PA 0xc0010117u

/**
 * @brief The SVM features (CPUID Fn8000_000A_EDX) the library emulates for
 *        L1: nested paging (L1's tables are walked, vcore_nsvm_npt_walk()),
 *        nRIP save, VMCB clean bits and flush by ASID.
 */
#define VCORE_NSVM_FEATURES_EMULATED                                                                \
    (VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS | VCORE_SVM_FEAT_VMCB_CLEAN | VCORE_SVM_FEAT_FLUSH_BY_ASID)

/** @brief Nested-SVM state of one vCPU (opaque; vcore_nsvm_size() bytes). */
typedef struct vcore_nsvm vcore_nsvm_t;

/** @brief What L0 runs L2 with (copied at vcore_nsvm_init()). */
typedef struct vcore_nsvm_config {
    size_t size;            /**< sizeof(vcore_nsvm_config_t). */
    uint32_t svm_features;  /**< CPUID Fn8000_000A_EDX L1 sees; a subset of ::VCORE_NSVM_FEATURES_EMULATED. */
    uint32_t maxphyaddr;    /**< L1's physical-address width, 32..52. */
    uint32_t l2_asid;       /**< The ASID L0 gives L2 in vmcb02 (not 0). */
    bool skinit;            /**< CPUID Fn8000_0001_ECX[SKINIT] as L1 sees it (STGI and SKINIT without EFER.SVME). */
    /**
     * L0's own controls for its guest: the intercepts it needs (merged into
     * vmcb02 with L1's), its int_ctl bits, TSC offset, PAUSE filter. NULL:
     * none of L0's own beyond the ones the library always forces.
     */
    const vcore_vmcb_control_t *l0;
    const void *l0_msrpm; /**< L0's MSR permission map (8 KiB) or NULL (none of L0's). */
    const void *l0_iopm;  /**< L0's I/O permission map (12 KiB) or NULL (none of L0's). */
} vcore_nsvm_config_t;

/** @brief Bytes a ::vcore_nsvm_t needs.
 * @return sizeof the state. */
VCORE_API size_t vcore_nsvm_size(void);

/**
 * @brief Creates the nested-SVM state in @p mem: GIF set, no L2, VM_HSAVE_PA 0.
 * @param mem Caller memory for the state (8-byte aligned).
 * @param len Bytes at @p mem.
 * @param cfg What L1 is offered and what L0 runs L2 with.
 * @param[out] out The state.
 * @param[out] diag Receives the diagnostic of a refusal or of the failing rule (may be NULL).
 * @retval VCORE_ERR_NOMEM @p len is below vcore_nsvm_size().
 * @retval VCORE_ERR_INVAL a NULL argument, misaligned @p mem, ASID 0, a
 *         MAXPHYADDR outside 32..52, or a feature outside
 *         ::VCORE_NSVM_FEATURES_EMULATED (diagnostic NSVM_FEATURES).
 * @return VCORE_OK or an error above.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_init(void *mem, size_t len, const vcore_nsvm_config_t *cfg,
                                                vcore_nsvm_t **out, vcore_diag_t *diag);

/** @brief The instructions emulated for L1 (APM Vol. 3, "System Instruction Reference"). */
typedef enum vcore_nsvm_op {
    VCORE_NSVM_VMRUN = 1, /**< VMRUN rAX */
    VCORE_NSVM_VMLOAD,    /**< VMLOAD rAX */
    VCORE_NSVM_VMSAVE,    /**< VMSAVE rAX */
    VCORE_NSVM_STGI,      /**< STGI */
    VCORE_NSVM_CLGI,      /**< CLGI */
    VCORE_NSVM_INVLPGA,   /**< INVLPGA rAX, ECX */
    VCORE_NSVM_SKINIT,    /**< SKINIT EAX */
    VCORE_NSVM_VMMCALL    /**< VMMCALL */
} vcore_nsvm_op_t;

/** @brief L1's state at one of its SVM instructions. */
typedef struct vcore_nsvm_insn {
    size_t size;              /**< sizeof(vcore_nsvm_insn_t). */
    uint32_t op;              /**< ::vcore_nsvm_op_t. */
    uint32_t insn_len;        /**< Instruction length (3 for every SVM instruction). */
    vcore_x86_regs_t regs;    /**< L1's registers. */
    vcore_x86_sregs_t sregs;  /**< L1's segment and control registers. */
    vcore_x86_msrs_t msrs;    /**< L1's MSRs (VMLOAD/VMSAVE: STAR, LSTAR, CSTAR, SFMASK, KernelGsBase, SYSENTER_*). */
    uint64_t dr6;             /**< L1's DR6 (kept across L2). */
    uint64_t dr7;             /**< L1's DR7. */
    const vcore_cpuid_entry_t *cpuid; /**< L1's CPUID table (VMRUN checks of CR4); may be NULL with 0 entries. */
    uint32_t ncpuid;          /**< Entries at @c cpuid. */
} vcore_nsvm_insn_t;

/** @brief What an emulated instruction, VMRUN or a \#VMEXIT did. */
typedef enum vcore_nsvm_outcome {
    VCORE_NSVM_OUT_DONE = 1,    /**< Completed: apply @c regs / @c sregs / @c msrs (RIP is past the instruction). */
    VCORE_NSVM_OUT_EXCEPTION,   /**< Raise @c vector (with @c error_code if @c has_error_code); nothing changed. */
    VCORE_NSVM_OUT_ENTER_L2,    /**< VMRUN entered L2: @c regs / @c sregs are L2's, vmcb02 is built (vcore_nsvm_vmcb02()). */
    VCORE_NSVM_OUT_VMEXIT,      /**< \#VMEXIT to L1 (VMRUN refused with VMEXIT_INVALID, or a reflected L2 exit): @c regs / @c sregs are L1's, GIF = 0. */
    VCORE_NSVM_OUT_TO_VMM,      /**< Not the library's to finish (SKINIT, L1's VMMCALL, an L2 exit L1 does not intercept): the VMM handles it. */
    VCORE_NSVM_OUT_SHUTDOWN     /**< The vCPU shuts down (L1's state could not be restored; L2 shutdown L1 does not intercept). */
} vcore_nsvm_outcome_t;

/** @brief Result of vcore_nsvm_emulate() and vcore_nsvm_reflect(). */
typedef struct vcore_nsvm_result {
    size_t size;             /**< sizeof(vcore_nsvm_result_t). */
    uint32_t outcome;        /**< ::vcore_nsvm_outcome_t. */
    uint8_t vector;          /**< OUT_EXCEPTION: the vector (6 = \#UD, 13 = \#GP). */
    uint8_t has_error_code;  /**< OUT_EXCEPTION: @c error_code is pushed. */
    uint8_t gif;             /**< GIF after the operation. */
    uint8_t paging_changed;  /**< The paging roots or mode changed: L0 must reload its translations (no reload otherwise). */
    uint32_t error_code;     /**< OUT_EXCEPTION: the error code. */
    uint32_t check;          /**< VMEXIT_INVALID: the deciding check (::vcore_svm_check_id_t), or the NSVM diagnostic. */
    uint64_t flush_va;       /**< INVLPGA: the linear address to invalidate. */
    uint32_t flush_asid;     /**< INVLPGA: L1's ASID (ECX); L0 invalidates the translation of its guest using that ASID. */
    uint32_t tlb_flush;      /**< ENTER_L2: L0 flushes L2's ASID before the run (VMCB12 TLB_CONTROL or a new ASID context). */
    vcore_x86_regs_t regs;   /**< Registers after the operation. */
    vcore_x86_sregs_t sregs; /**< Segment and control registers after the operation. */
    vcore_x86_msrs_t msrs;   /**< MSRs after the operation (VMLOAD's; VMRUN: PAT = G_PAT with nested paging; \#VMEXIT: L1's PAT back). */
    uint64_t dr6;            /**< DR6 after the operation. */
    uint64_t dr7;            /**< DR7 after the operation (\#VMEXIT: 400H, breakpoints off). */
    uint64_t pdptes[4];      /**< PAE paging without nested paging: the PDPTEs loaded with CR3. */
} vcore_nsvm_result_t;

/**
 * @brief Emulates one of L1's SVM instructions with its \#UD and \#GP
 *        conditions (APM Vol. 3, "VMRUN", "VMLOAD", "VMSAVE", "STGI",
 *        "CLGI", "INVLPGA", "SKINIT", "VMMCALL").
 *
 * VMRUN copies the VMCB12 page once, checks the copy with
 * vcore_svm_check_vmrun() plus the CR3 load (PAE PDPTEs when L1 does not
 * use nested paging for L2; nCR3[4:0] ignored for a PAE nested table),
 * saves L1's state in the library's host-save copy and builds vmcb02. A
 * failure is \#VMEXIT with VMEXIT_INVALID written to VMCB12 (OUT_VMEXIT).
 *
 * @param n The nested-SVM state.
 * @param mem L1's guest-physical memory.
 * @param in L1's state at the instruction.
 * @param[out] res Receives the outcome.
 * @param[out] diag Receives the diagnostic of a refusal or of the failing rule (may be NULL).
 * @retval VCORE_OK the outcome is in @p res.
 * @retval VCORE_ERR_STATE an instruction of L1 while L2 runs.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_emulate(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem,
                                                   const vcore_nsvm_insn_t *in, vcore_nsvm_result_t *res,
                                                   vcore_diag_t *diag);

/**
 * @brief WRMSR to VM_HSAVE_PA: bits 11:0 must be clear and the address within
 *        MAXPHYADDR, otherwise \#GP (VCORE_ERR_INVAL, diagnostic NSVM_HSAVE_PA).
 * @param n The nested-SVM state.
 * @param pa The value L1 writes.
 * @param[out] diag Receives the diagnostic of a refusal or of the failing rule (may be NULL).
 * @return VCORE_OK or VCORE_ERR_INVAL.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_set_hsave_pa(vcore_nsvm_t *n, uint64_t pa, vcore_diag_t *diag);

/** @brief VM_HSAVE_PA as L1 last wrote it.
 * @param n The nested-SVM state.
 * @return The address (0 after creation). */
VCORE_API uint64_t vcore_nsvm_hsave_pa(const vcore_nsvm_t *n);

/** @brief GIF (global interrupt flag): interrupts, NMIs and SMIs are held while clear.
 * @param n The nested-SVM state.
 * @return GIF. */
VCORE_API bool vcore_nsvm_gif(const vcore_nsvm_t *n);

/** @brief Whether L2 runs (between a successful VMRUN and its \#VMEXIT).
 * @param n The nested-SVM state.
 * @return true in guest mode. */
VCORE_API bool vcore_nsvm_in_guest(const vcore_nsvm_t *n);

/** @brief vmcb02, the VMCB L0 runs L2 with (valid while in guest mode).
 * @param n The nested-SVM state.
 * @return The VMCB, NULL for a bad argument. */
VCORE_API const vcore_vmcb_t *vcore_nsvm_vmcb02(const vcore_nsvm_t *n);

/** @brief The merged MSR permission map of vmcb02 (8 KiB).
 * @param n The nested-SVM state.
 * @return The map, NULL for a bad argument. */
VCORE_API const uint8_t *vcore_nsvm_msrpm02(const vcore_nsvm_t *n);
/** @brief The merged I/O permission map of vmcb02 (12 KiB).
 * @param n The nested-SVM state.
 * @return The map, NULL for a bad argument. */
VCORE_API const uint8_t *vcore_nsvm_iopm02(const vcore_nsvm_t *n);

/** @brief Who handles an exit of L2 (vcore_nsvm_route()). */
typedef enum vcore_nsvm_owner {
    VCORE_NSVM_L0 = 1, /**< L0 handles it and resumes L2 (L1 does not intercept it). */
    VCORE_NSVM_L1 = 2  /**< L1 intercepts it: reflect it with vcore_nsvm_reflect(). */
} vcore_nsvm_owner_t;

/** @brief How vcore_nsvm_route() decides an exit code (::VCORE_NSVM_ROUTE_LIST). */
typedef enum vcore_nsvm_rule {
    VCORE_NSVM_RULE_INTERCEPT = 1, /**< L1 when its intercept bit (base + code - first) is set. */
    VCORE_NSVM_RULE_MSRPM,         /**< L1 when MSR_PROT is set and its MSR permission map bit for ECX (read/write) is set. */
    VCORE_NSVM_RULE_IOPM,          /**< L1 when IOIO_PROT is set and a bit of its I/O permission map for a port accessed is set. */
    VCORE_NSVM_RULE_NPT,           /**< L1 when it uses nested paging and the address faults in its nested table. */
    VCORE_NSVM_RULE_SHUTDOWN,      /**< Always L1's processor: a \#VMEXIT when intercepted, L1's shutdown otherwise. */
    VCORE_NSVM_RULE_HOST           /**< Always L0: physical events and the processor's own conditions. */
} vcore_nsvm_rule_t;

/**
 * @brief Who wants an exit of L2, by EXITCODE range (APM Vol. 2,
 *        "Intercept Operation" and the "SVM Intercept Exit Codes" appendix):
 *        X(name, first code, last code, ::vcore_nsvm_rule_t suffix,
 *        first intercept (::vcore_vmcb_intercept_t suffix or END_), description).
 *        Codes in no row are L0's.
 */
#define VCORE_NSVM_ROUTE_LIST(X)                                                                    \
    X(CR_READ, 0x000, 0x00f, INTERCEPT, CR0_READ, "CR0-CR15 reads: the CR read vector")             \
    X(CR_WRITE, 0x010, 0x01f, INTERCEPT, CR0_WRITE, "CR0-CR15 writes: the CR write vector")         \
    X(DR_READ, 0x020, 0x02f, INTERCEPT, DR0_READ, "DR0-DR15 reads: the DR read vector")             \
    X(DR_WRITE, 0x030, 0x03f, INTERCEPT, DR0_WRITE, "DR0-DR15 writes: the DR write vector")         \
    X(EXCP_LOW, 0x040, 0x051, INTERCEPT, EXC0, "exceptions 0-17: the exception vector")             \
    X(EXCP_MC, 0x052, 0x052, HOST, END_, "machine check: the platform's, never L1's")               \
    X(EXCP_HIGH, 0x053, 0x05f, INTERCEPT, EXC19, "exceptions 19-31: the exception vector")          \
    X(PHYS_EVENT, 0x060, 0x063, HOST, END_, "INTR, NMI, SMI, INIT: physical events are the host's") \
    X(MISC1, 0x064, 0x07a, INTERCEPT, VINTR, "VINTR .. INVLPGA: intercept word 3")                  \
    X(IOIO, 0x07b, 0x07b, IOPM, END_, "IN/OUT/INS/OUTS: the I/O permission map")                    \
    X(MSR, 0x07c, 0x07c, MSRPM, END_, "RDMSR/WRMSR: the MSR permission map")                        \
    X(MISC1_HIGH, 0x07d, 0x07e, INTERCEPT, TASK_SWITCH, "task switch, FERR_FREEZE")                 \
    X(SHUTDOWN, 0x07f, 0x07f, SHUTDOWN, SHUTDOWN, "shutdown: L1's if intercepted, else L1 shuts down") \
    X(MISC2, 0x080, 0x08f, INTERCEPT, VMRUN, "VMRUN .. EFER write trap: intercept word 4")          \
    X(CR_TRAP, 0x090, 0x09f, INTERCEPT, CR0_WRITE_TRAP, "CR write traps: intercept word 4")         \
    X(MISC3, 0x0a0, 0x0a6, INTERCEPT, INVLPGB, "INVLPGB .. IDLE_HLT: intercept word 5")             \
    X(NPF, 0x400, 0x400, NPT, END_, "nested page fault: L1's nested table, else L0's")

/** @brief An exit of L2 as the processor reported it in vmcb02. */
typedef struct vcore_nsvm_l2_exit {
    size_t size;            /**< sizeof(vcore_nsvm_l2_exit_t). */
    uint64_t exit_code;     /**< EXITCODE (::vcore_vmexit_code_t). */
    uint64_t exit_info1;    /**< EXITINFO1. */
    uint64_t exit_info2;    /**< EXITINFO2. */
    uint64_t exit_int_info; /**< EXITINTINFO. */
    uint64_t next_rip;      /**< nRIP. */
    uint32_t int_ctl;       /**< vmcb02 V_TPR / V_IRQ after the exit. */
    uint32_t int_state;     /**< vmcb02 interrupt shadow after the exit. */
    uint32_t ecx;           /**< MSR exits: the MSR number (L2's ECX). */
    uint32_t cpl;           /**< L2's CPL. */
    vcore_x86_regs_t regs;  /**< L2's registers at the exit. */
    vcore_x86_sregs_t sregs; /**< L2's segment and control registers at the exit. */
    vcore_x86_msrs_t msrs;  /**< The vCPU's MSRs at the exit (L2 shares L1's, but PAT is G_PAT under nested paging). */
    uint64_t dr6;           /**< L2's DR6. */
    uint64_t dr7;           /**< L2's DR7. */
} vcore_nsvm_l2_exit_t;

/**
 * @brief Decides who handles an exit of L2: L1 when its VMCB12 intercepts
 *        it (intercept vectors, MSR and I/O permission maps read from L1's
 *        memory, CR/DR read and write vectors, exception vectors, nested
 *        page faults in L1's tables), L0 otherwise. SHUTDOWN that L1 does not
 *        intercept is L0's: L1 shuts down (vcore_nsvm_reflect() says so).
 * @param n The nested-SVM state.
 * @param mem L1's guest-physical memory.
 * @param ex The exit as vmcb02 reported it, with L2's state.
 * @param[out] owner ::vcore_nsvm_owner_t.
 * @retval VCORE_OK @p owner is set.
 * @retval VCORE_ERR_STATE no L2 is running.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_route(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem,
                                                 const vcore_nsvm_l2_exit_t *ex, uint32_t *owner);

/**
 * @brief \#VMEXIT to L1 (APM Vol. 2, "\#VMEXIT"): writes L2's state, EXITCODE,
 *        EXITINFO1/2, EXITINTINFO and nRIP into VMCB12 in L1's memory,
 *        reloads L1's state from the host-save copy with GIF = 0, DR7 = 400H
 *        and CPL 0. A failed restore of L1's CR3 (PAE PDPTEs) gives
 *        OUT_SHUTDOWN, never a half-restored L1.
 * @param n The nested-SVM state.
 * @param mem L1's guest-physical memory.
 * @param ex The exit as vmcb02 reported it, with L2's state.
 * @param[out] res Receives the outcome.
 * @param[out] diag Receives the diagnostic of a refusal or of the failing rule (may be NULL).
 * @return VCORE_OK (outcome in @p res) or VCORE_ERR_STATE when no L2 runs.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_reflect(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem,
                                                   const vcore_nsvm_l2_exit_t *ex, vcore_nsvm_result_t *res,
                                                   vcore_diag_t *diag);

/** @brief A guest-physical access of L2 (vcore_nsvm_npt_walk()). */
typedef enum vcore_nsvm_access {
    VCORE_NSVM_READ = 0,  /**< Data read. */
    VCORE_NSVM_WRITE = 1, /**< Data write. */
    VCORE_NSVM_FETCH = 2  /**< Instruction fetch. */
} vcore_nsvm_access_t;

/**
 * @brief Translates an L2 guest-physical address through L1's nested page
 *        table (nCR3 of the VMCB12 copy, in the paging mode L1 had at VMRUN;
 *        APM Vol. 2, "Nested Paging"). Nested walks are user accesses.
 * @param n The nested-SVM state.
 * @param mem L1's guest-physical memory.
 * @param l2_gpa The L2 guest-physical address.
 * @param access ::vcore_nsvm_access_t.
 * @param[out] l1_gpa The L1 guest-physical address (L0 then translates it with its own tables).
 * @param[out] npf_info1 On a fault: EXITINFO1 of the \#NPF for L1 (VCORE_VMCB_NPF_*; FINAL for the final address, TABLE for @p table_walk).
 * @param table_walk The access is a page-table access of L2's own walk.
 * @retval VCORE_OK translated.
 * @retval VCORE_ERR_FAULT \#NPF for L1 (EXITINFO2 = @p l2_gpa).
 * @retval VCORE_ERR_STATE no L2 with nested paging is running.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_npt_walk(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem,
                                                    uint64_t l2_gpa, uint32_t access, bool table_walk,
                                                    uint64_t *l1_gpa, uint64_t *npf_info1);

/** @brief Flags of the KVM nested-state header for SVM (KVM API, KVM_GET_NESTED_STATE). */
#define VCORE_NSVM_KVM_FORMAT 1u             /**< KVM_STATE_NESTED_FORMAT_SVM. */
#define VCORE_NSVM_KVM_GUEST_MODE 0x1u       /**< KVM_STATE_NESTED_GUEST_MODE. */
#define VCORE_NSVM_KVM_RUN_PENDING 0x2u      /**< KVM_STATE_NESTED_RUN_PENDING. */
#define VCORE_NSVM_KVM_GIF_SET 0x100u        /**< KVM_STATE_NESTED_GIF_SET. */
#define VCORE_NSVM_KVM_HEADER_SIZE 128u      /**< Header: flags, format, size, 120-byte SVM header (vmcb_pa). */
#define VCORE_NSVM_KVM_SIZE (VCORE_NSVM_KVM_HEADER_SIZE + VCORE_VMCB_SIZE) /**< Header plus the VMCB data page. */

/**
 * @brief Exports the nested state in KVM's SVM format: a 128-byte header
 *        (u16 flags, u16 format = 1, u32 size, u64 VMCB12 address) and, in
 *        guest mode, a 4 KiB page with VMCB12's control area and L1's saved
 *        state in the state-save layout.
 * @param n The nested-SVM state.
 * @param l1_efer L1's EFER (the vCPU's).
 * @param[out] buf Receives the state.
 * @param[in,out] len In: bytes at @p buf; out: bytes written.
 * @retval VCORE_OK written.
 * @retval VCORE_ERR_RANGE @p buf is too small (@p len says how much is needed).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_kvm_export(const vcore_nsvm_t *n, uint64_t l1_efer, void *buf,
                                                      size_t *len);

/**
 * @brief Imports KVM's SVM nested state. Refusals (VCORE_ERR_INVAL with a
 *        named diagnostic): another format or a short size (NSVM_STATE_FORMAT),
 *        unknown flags or guest mode with EFER.SVME clear (NSVM_STATE_FLAGS), a bad
 *        VMCB12 address (NSVM_STATE_VMCB_PA), controls failing the VMRUN checks
 *        (NSVM_STATE_CONTROLS), a saved L1 state that is not protected mode
 *        with paging (NSVM_STATE_HOST). A refused import changes nothing.
 * @param n The nested-SVM state.
 * @param buf The state.
 * @param len Bytes at @p buf.
 * @param[out] diag Receives the diagnostic of a refusal or of the failing rule (may be NULL).
 * @param mem L1's memory (the merged permission maps of vmcb02 are rebuilt from it).
 * @param l1_efer L1's EFER (the vCPU's).
 * @return VCORE_OK or an error above.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nsvm_kvm_import(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem,
                                                      uint64_t l1_efer, const void *buf, size_t len,
                                                      vcore_diag_t *diag);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_NSVM_H */
