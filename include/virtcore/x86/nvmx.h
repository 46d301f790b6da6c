/**
 * @file nvmx.h
 * @brief Nested VMX for L1: capability MSRs, VMX instruction emulation,
 *        shadow VMCS sets, KVM nested-state interchange.
 *
 * The per-vCPU nested state ::vcore_nvmx_t lives in caller storage
 * (vcore_nvmx_storage_size() / vcore_nvmx_init()); the library never
 * allocates. Instruction emulation is a pure function of (a copy of) the
 * vCPU registers, the exit information and the nested state, with guest
 * memory reached through ::vcore_nvmx_mem_t. It returns a structured
 * ::vcore_nvmx_result_t that the VMM or backend applies
 * (vcore_nvmx_result_apply()).
 *
 * A vCPU created with nested VMX (vcore_vcpu_config_t::nested) runs this
 * emulation inside vcore_vcpu_run(); the functions here serve VMMs that
 * drive it themselves. VMLAUNCH/VMRESUME stop after their pre-entry checks
 * (outcome VCORE_NVMX_OUT_ENTRY).
 */
#ifndef VIRTCORE_X86_NVMX_H
#define VIRTCORE_X86_NVMX_H

#include "../common.h"
#include "../error.h"
#include "../diag.h"
#include "../vm.h"
#include "msr.h"
#include "regs.h"
#include "vmcs.h"

VCORE_BEGIN_DECLS

/**
 * @brief Nested-VMX diagnostics: X(name, value, message, manual section).
 *
 * Range 0x1000-0x10ff. Each VMX instruction outcome carries one of these
 * in ::vcore_nvmx_result_t::diag, naming the exact rule that decided it.
 */
#define VCORE_DIAG_NVMX_LIST(X)                                                \
    X(NVMX_UD_NOT_IN_VMX, 0x1001, "VMX instruction outside VMX operation",     \
      "SDM Vol. 3, \"VMX Instruction Reference\"")                             \
    X(NVMX_UD_VMXE_CLEAR, 0x1002, "VMXON with CR4.VMXE clear",                 \
      "SDM Vol. 3, \"VMXON-Enter VMX Operation\"")                             \
    X(NVMX_UD_REAL_MODE, 0x1003, "VMX instruction with CR0.PE clear",          \
      "SDM Vol. 3, \"VMX Instruction Reference\"")                             \
    X(NVMX_UD_V86, 0x1004, "VMX instruction in virtual-8086 mode",            \
      "SDM Vol. 3, \"VMX Instruction Reference\"")                             \
    X(NVMX_UD_COMPAT_MODE, 0x1005, "VMX instruction in compatibility mode",    \
      "SDM Vol. 3, \"VMX Instruction Reference\"")                             \
    X(NVMX_UD_REGISTER_OPERAND, 0x1006, "register operand where only memory is allowed", \
      "SDM Vol. 3, \"VMX Instruction Reference\"")                             \
    X(NVMX_UD_NOT_SUPPORTED, 0x1007, "INVEPT/INVVPID not supported by the capabilities exposed to L1", \
      "SDM Vol. 3, \"INVEPT-Invalidate Translations Derived from EPT\"")      \
    X(NVMX_GP_CPL, 0x1010, "VMX instruction at CPL > 0",                       \
      "SDM Vol. 3, \"VMX Instruction Reference\"")                             \
    X(NVMX_GP_FEATURE_CONTROL, 0x1011,                                         \
      "VMXON while IA32_FEATURE_CONTROL is unlocked or disallows VMX outside SMX", \
      "SDM Vol. 3, \"Enabling and Entering VMX Operation\"")                   \
    X(NVMX_GP_CR_FIXED, 0x1012, "VMXON with CR0/CR4 not allowed by the VMX fixed-bit MSRs", \
      "SDM Vol. 3, \"Restrictions on VMX Operation\"")                         \
    X(NVMX_GP_SEGMENT, 0x1013,                                                 \
      "memory operand: unusable segment, wrong segment type, limit or canonical violation", \
      "SDM Vol. 3, \"VMX Instruction Reference\" (Protected Mode / 64-Bit Mode Exceptions)") \
    X(NVMX_SS_SEGMENT, 0x1014, "memory operand through SS: limit or canonical violation", \
      "SDM Vol. 3, \"VMX Instruction Reference\" (Protected Mode / 64-Bit Mode Exceptions)") \
    X(NVMX_PF, 0x1015, "page fault on a memory operand",                       \
      "SDM Vol. 3, \"Paging\"")                                               \
    X(NVMX_UD_BAD_INSN_INFO, 0x1016, "instruction information names an invalid register, segment or address size", \
      "SDM Vol. 3, \"VM-Exit Instruction-Information Field\"")                 \
    X(NVMX_FAIL_VMXON_ADDR, 0x1020, "VMXON pointer not 4-KByte aligned or beyond the physical-address width", \
      "SDM Vol. 3, \"VMXON-Enter VMX Operation\"")                             \
    X(NVMX_FAIL_VMXON_REVISION, 0x1021, "VMXON region revision id wrong or shadow bit set", \
      "SDM Vol. 3, \"VMXON-Enter VMX Operation\"")                             \
    X(NVMX_FAIL_NO_CURRENT_VMCS, 0x1022, "no current VMCS (VMfailInvalid)",    \
      "SDM Vol. 3, \"Conventions\" (VMfailInvalid)")                           \
    X(NVMX_FAIL_SHADOW_CURRENT, 0x1023, "VMLAUNCH/VMRESUME with a shadow VMCS current", \
      "SDM Vol. 3, \"VMLAUNCH/VMRESUME-Launch/Resume Virtual Machine\"")       \
    X(NVMX_FAIL_VMXON_IN_ROOT, 0x1024, "VMXON in VMX root operation (error 15)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_VMCLEAR_ADDR, 0x1025, "VMCLEAR with invalid physical address (error 2)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_VMCLEAR_VMXON, 0x1026, "VMCLEAR with the VMXON pointer (error 3)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_VMPTRLD_ADDR, 0x1027, "VMPTRLD with invalid physical address (error 9)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_VMPTRLD_VMXON, 0x1028, "VMPTRLD with the VMXON pointer (error 10)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_VMPTRLD_REVISION, 0x1029, "VMPTRLD with incorrect VMCS revision id (error 11)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_UNSUPPORTED_FIELD, 0x102a, "VMREAD/VMWRITE of an unsupported VMCS component (error 12)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_READ_ONLY_FIELD, 0x102b, "VMWRITE to a read-only VMCS component (error 13)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_MOV_SS, 0x102c, "VM entry with events blocked by MOV SS (error 26)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_LAUNCH_NONCLEAR, 0x102d, "VMLAUNCH with non-clear VMCS (error 4)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_RESUME_NONLAUNCHED, 0x102e, "VMRESUME with non-launched VMCS (error 5)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_FAIL_INV_OPERAND, 0x102f, "invalid operand to INVEPT/INVVPID (error 28)", \
      "SDM Vol. 3, \"VM-Instruction Error Numbers\"")                          \
    X(NVMX_EXIT_TO_L1, 0x1030, "VMREAD/VMWRITE in L2 intercepted by L1's VMCS-shadowing bitmaps", \
      "SDM Vol. 3, \"VMCS Shadowing\"")                                        \
    X(NVMX_CAPS_ADDS_FEATURE, 0x1040, "capability override enables something the base capabilities do not", \
      "SDM Vol. 3, \"VMX Capability Reporting Facility\"")                     \
    X(NVMX_CAPS_ALLOWED_01, 0x1041, "a control bit is required (allowed-0) but not allowed-1, or a fixed-1 CR bit is not allowed-1", \
      "SDM Vol. 3, \"VMX Capability Reporting Facility\"")                     \
    X(NVMX_CAPS_TRUE_MISMATCH, 0x1042, "TRUE control MSR inconsistent with its non-TRUE MSR", \
      "SDM Vol. 3, \"VM-Execution Controls\" (default1 class)")               \
    X(NVMX_CAPS_FIXED_FIELD, 0x1043, "override changes a field that must equal the base (revision, region size, memory type, timer rate, MSEG)", \
      "SDM Vol. 3, \"Basic VMX Information\"")                                 \
    X(NVMX_MSR_READ_ONLY, 0x1044, "WRMSR by L1 to a read-only VMX capability MSR", \
      "SDM Vol. 3, \"VMX Capability Reporting Facility\"")                     \
    X(NVMX_MSR_UNKNOWN, 0x1045, "MSR is not a VMX capability MSR (480H-491H)", \
      "SDM Vol. 3, \"VMX Capability Reporting Facility\"")                     \
    X(KVM_STATE_SIZE, 0x1050, "nested-state blob too small or size field inconsistent", \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_FLAGS, 0x1051, "nested-state flags unknown, or RUN_PENDING without GUEST_MODE", \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_FORMAT, 0x1052, "nested-state format is not VMX (0)",          \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_VMXON_ADDR, 0x1053, "vmxon_pa not 4-KByte aligned or beyond MAXPHYADDR, or -1 with a VMCS", \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_VMCS12_ADDR, 0x1054, "vmcs12_pa invalid or equal to vmxon_pa", \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_REVISION, 0x1055, "vmcs12 revision is not 0x11e57ed0",         \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_SMM, 0x1056, "SMM nested flags unsupported or inconsistent",   \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_GUEST_MODE, 0x1057, "guest-mode state (L2 running) of a vCPU's nested state goes through vcore_nvmx_vcpu_get_state() / vcore_nvmx_vcpu_set_state()", \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_EVMCS, 0x1058, "enlightened VMCS state is not supported",      \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_VMX_FLAGS, 0x1059, "VMX header flags unknown or set outside guest mode", \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_MTF_PENDING, 0x105a, "MTF_PENDING (a pending monitor-trap-flag VM exit) outside guest mode", \
      "KVM API, \"KVM_SET_NESTED_STATE\"")                                     \
    X(KVM_STATE_SHADOW, 0x105b, "guest mode with VMCS shadowing: the shadow vmcs12 page is missing, or its revision or shadow-VMCS indicator is wrong", \
      "SDM Vol. 3, \"VMCS Shadowing\"")                                        \
    X(KVM_STATE_NOT_LAUNCHED, 0x105c, "guest mode without RUN_PENDING (L2 ran) but the vmcs12 launch state is clear", \
      "SDM Vol. 3, \"VMLAUNCH/VMRESUME-Launch/Resume Virtual Machine\"")      \
    X(KVM_STATE_REPLY_PENDING, 0x105d, "an exit from L2 awaits the VMM's reply: run the vCPU to complete it before reading the nested state", \
      "KVM API, \"KVM_RUN\" (immediate_exit)")                                 \
    X(KVM_STATE_INIT_PENDING, 0x105e, "an INIT signalled while L2 ran is still owed to L1 as a VM exit: run the vCPU to take it before reading the nested state", \
      "SDM Vol. 3, \"Other Causes of VM Exits\"")                              \
    X(KVM_STATE_MSR_LIST_PENDING, 0x105f, "an entry of a VMX MSR list of L1 (VM-entry MSR-load, VM-exit MSR-store or MSR-load) awaits the VMM's reply: the VM entry or exit is half done; run the vCPU to complete it before reading the nested state (value: VCORE_EXIT_MSR_LIST_* << 32 | 0-based entry)", \
      "SDM Vol. 3, \"Loading MSRs\"")                                          \
    X(NVMX_PIPELINE_UNSUPPORTED, 0x1060,                                       \
      "vmcs12 enables what the nested pipeline does not give L2 (value: control word << 8 | bit)", \
      "SDM Vol. 3, \"VM-Execution Control Fields\"")                          \
    X(NVMX_L2_EPT_VIOLATION, 0x1061, "L2's memory operand is not mapped, or not writable, by L1's EPT (EPT violation: exit to L1)", \
      "SDM Vol. 3, \"EPT Violations\"")                                        \
    X(NVMX_L2_EPT_MISCONFIG, 0x1062, "L1's EPT entry for L2's memory operand is misconfigured (exit to L1)", \
      "SDM Vol. 3, \"EPT Misconfigurations\"")                                   \
    X(NVMX_EPT02_POOL_EMPTY, 0x1063, "the shadow EPT for L2 needs more pages than its pool holds, even when emptied (value: L2 guest-physical address)", \
      "SDM Vol. 3, \"EPT Translation Mechanism\"") \
    X(NVMX_APIC_ACCESS_UNBACKED, 0x1064, "vmcs12's APIC-access address is not memory in the VM's memory map, so there is no host page for the processor to compare L2's accesses with (value: the address)", \
      "SDM Vol. 3, \"APIC-Access Page\"") \
    X(NVMX_VAPIC_UNBACKED, 0x1066, "vmcs12's virtual-APIC address is not writable memory in the VM's memory map, so there is no host page for the processor to read and write while L2 runs (value: the address)", \
      "SDM Vol. 3, \"Virtual-APIC Page\"") \
    X(NVMX_PI_DESC_UNBACKED, 0x1067, "a posted-interrupt notification for L2 arrived, but vmcs12's posted-interrupt descriptor (64 bytes) or virtual-APIC page is not writable memory in the VM's memory map: the notification stays pending and nothing of the descriptor, VIRR or RVI changed (value: the address)", \
      "SDM Vol. 3, \"Posted-Interrupt Processing\"") \
    X(NVMX_MSR_LOAD_UNHELD, 0x1065, "no longer produced: a VM-entry MSR-load list entry naming IA32_TIME_STAMP_COUNTER sets the vCPU's TSC, one naming an MSR the VMM models is a WRMSR exit with VCORE_EXIT_F_MSR_LIST (value was: 1-based entry << 32 | MSR index)", \
      "SDM Vol. 3, \"Loading MSRs\"") \
    X(NVMX_L2_PML_FULL, 0x1068, "an access of L2's memory operand had to set an accessed or dirty flag of L1's EPT while L1's PML index was outside 0-511 (page-modification log-full event: exit 62 to L1, that flag not set, the operand not accessed)", \
      "SDM Vol. 3, \"Page-Modification Logging\"") \
    X(NVMX_CHECK_GATING, 0x1070, "the VM-entry rules whose inputs changed gave another verdict than all rules (value: all rules' deciding check << 16 | the changed-input run's)", \
      "SDM Vol. 3, \"VM Entries\"")

/** @brief Nested-VMX diagnostic identifiers (values pinned). */
typedef enum vcore_nvmx_diag_id {
#define VCORE__NVMX_DIAG_ENUM(name, value, msg, manual) VCORE_DIAG_##name = (value),
    VCORE_DIAG_NVMX_LIST(VCORE__NVMX_DIAG_ENUM)
#undef VCORE__NVMX_DIAG_ENUM
    VCORE_DIAG_NVMX_END_ = 0x10ff /**< End of the nested-VMX range. */
} vcore_nvmx_diag_id_t;

/* ------------------------------------------------------------------------- */
/** @name Capability MSRs (SDM Vol. 3, "VMX Capability Reporting Facility")
 * @{ */
#define VCORE_MSR_IA32_VMX_BASIC 0x480u        /**< First VMX capability MSR. */
#define VCORE_MSR_IA32_VMX_VMFUNC 0x491u       /**< Last VMX capability MSR handled here. */
#define VCORE_NVMX_NR_CAPS 18u                 /**< MSRs 480H..491H. */
/** @} */

/** @brief Index of each MSR in ::vcore_nvmx_caps_t::msr (MSR index - 480H). */
enum vcore_nvmx_cap {
    VCORE_NVMX_CAP_BASIC = 0,          /**< 480H IA32_VMX_BASIC. */
    VCORE_NVMX_CAP_PINBASED = 1,       /**< 481H IA32_VMX_PINBASED_CTLS. */
    VCORE_NVMX_CAP_PROCBASED = 2,      /**< 482H IA32_VMX_PROCBASED_CTLS. */
    VCORE_NVMX_CAP_EXIT = 3,           /**< 483H IA32_VMX_EXIT_CTLS. */
    VCORE_NVMX_CAP_ENTRY = 4,          /**< 484H IA32_VMX_ENTRY_CTLS. */
    VCORE_NVMX_CAP_MISC = 5,           /**< 485H IA32_VMX_MISC. */
    VCORE_NVMX_CAP_CR0_FIXED0 = 6,     /**< 486H IA32_VMX_CR0_FIXED0. */
    VCORE_NVMX_CAP_CR0_FIXED1 = 7,     /**< 487H IA32_VMX_CR0_FIXED1. */
    VCORE_NVMX_CAP_CR4_FIXED0 = 8,     /**< 488H IA32_VMX_CR4_FIXED0. */
    VCORE_NVMX_CAP_CR4_FIXED1 = 9,     /**< 489H IA32_VMX_CR4_FIXED1. */
    VCORE_NVMX_CAP_VMCS_ENUM = 10,     /**< 48AH IA32_VMX_VMCS_ENUM. */
    VCORE_NVMX_CAP_PROCBASED2 = 11,    /**< 48BH IA32_VMX_PROCBASED_CTLS2. */
    VCORE_NVMX_CAP_EPT_VPID = 12,      /**< 48CH IA32_VMX_EPT_VPID_CAP. */
    VCORE_NVMX_CAP_TRUE_PINBASED = 13, /**< 48DH IA32_VMX_TRUE_PINBASED_CTLS. */
    VCORE_NVMX_CAP_TRUE_PROCBASED = 14,/**< 48EH IA32_VMX_TRUE_PROCBASED_CTLS. */
    VCORE_NVMX_CAP_TRUE_EXIT = 15,     /**< 48FH IA32_VMX_TRUE_EXIT_CTLS. */
    VCORE_NVMX_CAP_TRUE_ENTRY = 16,    /**< 490H IA32_VMX_TRUE_ENTRY_CTLS. */
    VCORE_NVMX_CAP_VMFUNC = 17         /**< 491H IA32_VMX_VMFUNC. */
};

/** @name Capability bits used by the emulation
 * @{ */
#define VCORE_VMX_BASIC_TRUE_CTLS (1ull << 55)         /**< BASIC[55]: TRUE control MSRs exist. */
#define VCORE_VMX_BASIC_32BIT_PA (1ull << 48)          /**< BASIC[48]: VMCS-related addresses limited to 32 bits. */
#define VCORE_VMX_MISC_VMWRITE_ANY (1ull << 29)        /**< MISC[29]: VMWRITE may write VM-exit information fields. */
#define VCORE_VMX_PROC2_SHADOW_VMCS (1ull << (32 + 14)) /**< PROCBASED2 allowed-1 bit 14: VMCS shadowing. */
#define VCORE_VMX_PROC_ACTIVATE_SECONDARY (1u << 31)   /**< Primary control 31: activate secondary controls. */
#define VCORE_VMX_PROC2_SHADOW_VMCS_CTL (1u << 14)     /**< Secondary control 14: VMCS shadowing. */
#define VCORE_VMX_EPT_INVEPT (1ull << 20)              /**< EPT_VPID_CAP[20]: INVEPT supported. */
#define VCORE_VMX_EPT_INVEPT_SINGLE (1ull << 25)       /**< EPT_VPID_CAP[25]: single-context INVEPT. */
#define VCORE_VMX_EPT_INVEPT_ALL (1ull << 26)          /**< EPT_VPID_CAP[26]: all-context INVEPT. */
#define VCORE_VMX_VPID_INVVPID (1ull << 32)            /**< EPT_VPID_CAP[32]: INVVPID supported. */
#define VCORE_VMX_VPID_INVVPID_ADDR (1ull << 40)       /**< EPT_VPID_CAP[40]: individual-address INVVPID. */
#define VCORE_VMX_VPID_INVVPID_SINGLE (1ull << 41)     /**< EPT_VPID_CAP[41]: single-context INVVPID. */
#define VCORE_VMX_VPID_INVVPID_ALL (1ull << 42)        /**< EPT_VPID_CAP[42]: all-context INVVPID. */
#define VCORE_VMX_VPID_INVVPID_SINGLE_GLOBALS (1ull << 43) /**< EPT_VPID_CAP[43]: single-context-retaining-globals INVVPID. */
/** @} */

/** @brief The values of MSRs 480H-491H as one L1 sees them. */
typedef struct vcore_nvmx_caps {
    size_t size;                       /**< sizeof(vcore_nvmx_caps_t). */
    uint64_t msr[VCORE_NVMX_NR_CAPS];  /**< msr[i] is MSR 480H + i, see ::vcore_nvmx_cap. */
} vcore_nvmx_caps_t;

/**
 * @brief Fills @p out with what the library's nested-VMX emulation supports.
 * @param[out] out Receives the capabilities; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p out is NULL.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_caps_emulated(vcore_nvmx_caps_t *out);

/**
 * @brief Capabilities L1 may see: the backend's real ones intersected with the emulated ones.
 *
 * Controls: allowed-0 bits are OR-ed, allowed-1 bits AND-ed; CR fixed-0
 * OR-ed, fixed-1 AND-ed; feature bitmaps AND-ed; counts take the minimum;
 * revision id and region size come from @p emulated (L1's VMCS is vmcs12).
 * @param[in] backend The backend's capability MSRs.
 * @param[in] emulated What the library emulates (vcore_nvmx_caps_emulated()).
 * @param[out] out Receives the intersection; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_caps_intersect(const vcore_nvmx_caps_t *backend,
                                        const vcore_nvmx_caps_t *emulated,
                                        vcore_nvmx_caps_t *out);

/**
 * @brief Checks the internal consistency rules of a capability set.
 *
 * Allowed-0 within allowed-1 for every control MSR; TRUE MSRs with the same
 * allowed-1 bits as the non-TRUE ones and allowed-0 bits within theirs; CR
 * fixed-0 within fixed-1.
 * @param[in] caps The capability set.
 * @param[out] diag Receives the broken rule (may be NULL; @c size must be set otherwise).
 * @return VCORE_OK when consistent.
 * @retval VCORE_ERR_INVAL @p caps is NULL or a rule is broken (see @p diag).
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_caps_check(const vcore_nvmx_caps_t *caps, vcore_diag_t *diag);

/**
 * @brief Whether a VMCS field exists on a processor with these capabilities.
 *
 * SDM Vol. 3, "Guest-State Area", "Host-State Area", "VM-Execution Control
 * Fields": several fields (guest and host IA32_PAT, IA32_EFER,
 * IA32_PERF_GLOBAL_CTRL, IA32_BNDCFGS, IA32_RTIT_CTL, IA32_LBR_CTL, PKRS, the
 * CET state, the PDPTEs, the VMX-preemption timer value, the guest
 * interrupt status, the PML index) are "supported only on processors that
 * support the 1-setting of" a control. Such a field exists when the
 * allowed-1 setting (bits 63:32) of one of its controls is 1 (secondary
 * controls count only when "activate secondary controls" may be 1);
 * VMREAD/VMWRITE of a field that does not exist fail with VMfailValid 12.
 * @param[in] caps The processor's capability MSRs.
 * @param[in] encoding A field encoding (either half of a 64-bit field).
 * @return true when the field exists; false when it does not, or @p caps
 *         or @p encoding is not valid.
 */
VCORE_API bool vcore_nvmx_caps_has_field(const vcore_nvmx_caps_t *caps, uint32_t encoding);

/**
 * @brief Applies a VMM override that may only remove features.
 *
 * The override is refused if it enables anything @p base does not, changes
 * a field that must stay equal, or breaks the allowed-0/allowed-1 rules.
 * @param[in] base The capabilities computed by vcore_nvmx_caps_intersect().
 * @param[in] override The VMM's wanted capabilities.
 * @param[out] out Receives @p override when accepted (may alias neither input).
 * @param[out] diag Receives the broken rule (may be NULL).
 * @return VCORE_OK when accepted.
 * @retval VCORE_ERR_INVAL A NULL argument or the override is refused (see @p diag).
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_caps_restrict(const vcore_nvmx_caps_t *base,
                                       const vcore_nvmx_caps_t *override,
                                       vcore_nvmx_caps_t *out, vcore_diag_t *diag);

/* ------------------------------------------------------------------------- */
/** @brief Opaque per-vCPU nested-VMX state (caller storage, value type). */
typedef struct vcore_nvmx vcore_nvmx_t;

/** @brief Configuration of a ::vcore_nvmx_t. */
typedef struct vcore_nvmx_config {
    size_t size;             /**< sizeof(vcore_nvmx_config_t). */
    vcore_nvmx_caps_t caps;  /**< Capability MSRs L1 sees (checked with vcore_nvmx_caps_check()). */
    uint32_t maxphyaddr;     /**< L1's physical-address width, 32..52. */
    uint32_t flags;          /**< VCORE_NVMX_CFG_*; other bits reserved, must be 0. */
} vcore_nvmx_config_t;

/**
 * @brief vcore_nvmx_config_t flag: L1's processor supports 5-level paging
 * (CPUID.(EAX=07H,ECX=0):ECX.LA57). The linear address of an
 * individual-address INVVPID is then canonical in 57 bits whatever CR4.LA57
 * says, in 48 bits without it: like INVLPG and INVPCID, the check is against
 * the processor's linear-address width, not the current paging mode (SDM
 * Vol. 3, "INVVPID": "not canonical"; KVM models the same).
 */
#define VCORE_NVMX_CFG_LA57 (1u << 0)
/**
 * @brief vcore_nvmx_config_t flag: L1's processor has no 1-GByte pages
 * (CPUID.80000001H:EDX.Page1GB[26] = 0). The page walks of emulated memory
 * operands then take PS in a PDPTE as a reserved bit (\#PF with RSVD: SDM
 * Vol. 3, "4-Level Paging"); without the flag it maps a 1-GByte page.
 */
#define VCORE_NVMX_CFG_NO_PAGE1GB (1u << 1)

/**
 * @brief Bytes of caller storage a ::vcore_nvmx_t needs (two 4 KiB pages and bookkeeping).
 * @return The size in bytes.
 */
VCORE_API size_t vcore_nvmx_storage_size(void);

/**
 * @brief Initialises nested state in caller storage: not in VMX operation.
 * @param[in] mem Storage, 8-byte aligned.
 * @param[in] len Bytes at @p mem (at least vcore_nvmx_storage_size()).
 * @param[in] cfg Configuration (copied).
 * @param[out] out Receives the handle (points into @p mem).
 * @param[out] diag Receives the reason a capability set is refused (may be NULL).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, misaligned @p mem, bad maxphyaddr,
 *         non-zero flags or inconsistent capabilities.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_BUFSZ @p len is too small.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_init(void *mem, size_t len, const vcore_nvmx_config_t *cfg,
                              vcore_nvmx_t **out, vcore_diag_t *diag);

/** @brief Snapshot of the architectural nested state. */
typedef struct vcore_nvmx_info {
    size_t size;            /**< sizeof(vcore_nvmx_info_t). */
    bool vmx_operation;     /**< In VMX (root) operation. */
    uint64_t vmxon_ptr;     /**< VMXON pointer; ~0 when not in VMX operation. */
    uint64_t current_vmptr; /**< Current-VMCS pointer; ~0 when none. */
    bool current_is_shadow; /**< The current VMCS has the shadow-VMCS indicator set. */
    uint32_t launch_state;  /**< Launch state of the current VMCS: 0 clear, 1 launched. */
} vcore_nvmx_info_t;

/**
 * @brief Reads the nested state summary.
 * @param[in] nvmx The state.
 * @param[out] info Receives it; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_get_info(const vcore_nvmx_t *nvmx, vcore_nvmx_info_t *info);

/**
 * @brief The capability MSRs L1 sees.
 * @param[in] nvmx The state.
 * @return Pointer to the capability set inside @p nvmx; NULL if @p nvmx is NULL.
 */
VCORE_API const vcore_nvmx_caps_t *vcore_nvmx_caps(const vcore_nvmx_t *nvmx);

/**
 * @brief L1's RDMSR of a VMX capability MSR (480H-491H), or IA32_FEATURE_CONTROL is not handled here.
 * @param[in] nvmx The state.
 * @param[in] index MSR index.
 * @param[out] value Receives the value.
 * @param[out] diag Receives the reason on refusal (may be NULL).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT Not a VMX capability MSR (the caller injects \#GP or handles it).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_rdmsr(const vcore_nvmx_t *nvmx, uint32_t index, uint64_t *value,
                               vcore_diag_t *diag);

/**
 * @brief L1's WRMSR of a VMX capability MSR: always refused (read-only, \#GP(0) for L1).
 * @param[in] nvmx The state.
 * @param[in] index MSR index.
 * @param[in] value Ignored.
 * @param[out] diag Receives NVMX_MSR_READ_ONLY or NVMX_MSR_UNKNOWN (may be NULL).
 * @return Never VCORE_OK.
 * @retval VCORE_ERR_INVAL A NULL argument or a capability MSR (inject \#GP(0)).
 * @retval VCORE_ERR_NOENT Not a VMX capability MSR.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_wrmsr(const vcore_nvmx_t *nvmx, uint32_t index, uint64_t value,
                               vcore_diag_t *diag);

/**
 * @brief The current vmcs12 page (read-only view), for the entry pipeline and tools.
 * @param[in] nvmx The state.
 * @return The ::VCORE_VMCS12_SIZE-byte page; NULL if @p nvmx is NULL.
 */
VCORE_API const void *vcore_nvmx_vmcs12(const vcore_nvmx_t *nvmx);

/**
 * @brief Tells whether a field was written since the last vcore_nvmx_clear_dirty().
 * @param[in] nvmx The state.
 * @param[in] encoding Field encoding (a _HIGH write marks the field and its _HIGH row).
 * @return true if written; false otherwise or for an unknown encoding.
 */
VCORE_API bool vcore_nvmx_is_dirty(const vcore_nvmx_t *nvmx, uint32_t encoding);

/**
 * @brief Number of table rows written since the last vcore_nvmx_clear_dirty().
 * @param[in] nvmx The state.
 * @return The count; 0 if @p nvmx is NULL.
 */
VCORE_API uint32_t vcore_nvmx_dirty_count(const vcore_nvmx_t *nvmx);

/**
 * @brief Forgets the dirty set (the entry pipeline calls this after a successful entry).
 * @param[in,out] nvmx The state; NULL is ignored.
 */
VCORE_API void vcore_nvmx_clear_dirty(vcore_nvmx_t *nvmx);

/**
 * @brief Marks the current VMCS "launched" (the entry pipeline calls this after a successful VMLAUNCH).
 * @param[in,out] nvmx The state.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p nvmx is NULL.
 * @retval VCORE_ERR_STATE No current VMCS.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_mark_launched(vcore_nvmx_t *nvmx);

/* ------------------------------------------------------------------------- */
/**
 * @brief Access to L1's guest-physical memory (fakeable in tests).
 *
 * Both callbacks return VCORE_OK or a negative error; a failure means the
 * address is not backed by RAM (physical accesses never fault on x86:
 * reads of such addresses see all ones, writes are dropped, and a linear
 * memory operand that lands there makes the emulation return
 * VCORE_ERR_FAULT so the VMM can treat it as MMIO).
 */
typedef struct vcore_nvmx_mem {
    size_t size; /**< sizeof(vcore_nvmx_mem_t). */
    void *ctx;   /**< Passed to the callbacks. */
    /** Reads @p len bytes at guest-physical @p gpa. */
    int (*read)(void *ctx, uint64_t gpa, void *buf, size_t len);
    /** Writes @p len bytes at guest-physical @p gpa. */
    int (*write)(void *ctx, uint64_t gpa, const void *buf, size_t len);
} vcore_nvmx_mem_t;

/** @brief The emulated instructions. */
typedef enum vcore_nvmx_op {
    VCORE_NVMX_VMXON = 1,  /**< VMXON m64 */
    VCORE_NVMX_VMXOFF,     /**< VMXOFF */
    VCORE_NVMX_VMCLEAR,    /**< VMCLEAR m64 */
    VCORE_NVMX_VMPTRLD,    /**< VMPTRLD m64 */
    VCORE_NVMX_VMPTRST,    /**< VMPTRST m64 */
    VCORE_NVMX_VMREAD,     /**< VMREAD r/m, r */
    VCORE_NVMX_VMWRITE,    /**< VMWRITE r, r/m */
    VCORE_NVMX_INVEPT,     /**< INVEPT r, m128 */
    VCORE_NVMX_INVVPID,    /**< INVVPID r, m128 */
    VCORE_NVMX_VMLAUNCH,   /**< VMLAUNCH (pre-entry part) */
    VCORE_NVMX_VMRESUME    /**< VMRESUME (pre-entry part) */
} vcore_nvmx_op_t;

/** @brief One VMX instruction to emulate: the exit information and the vCPU state. */
typedef struct vcore_nvmx_insn {
    size_t size;               /**< sizeof(vcore_nvmx_insn_t). */
    uint32_t op;               /**< ::vcore_nvmx_op_t. */
    uint32_t insn_info;        /**< VM-exit instruction-information field (operand registers, segment, scale, address size). */
    uint64_t qualification;    /**< Exit qualification: the memory operand's displacement. */
    uint32_t insn_len;         /**< Instruction length (RIP advance). */
    uint32_t interruptibility; /**< Guest interruptibility state (bit 1: blocking by MOV SS). */
    uint64_t feature_control;  /**< L1's IA32_FEATURE_CONTROL (VMXON checks bits 0 and 2). */
    bool in_l2;                /**< Executed by L2 (only VMREAD/VMWRITE through VMCS shadowing are handled). */
    vcore_x86_regs_t regs;     /**< GPRs, RIP, RFLAGS at the instruction (a copy). */
    vcore_x86_sregs_t sregs;   /**< Segments, CRs, EFER at the instruction (a copy). */
} vcore_nvmx_insn_t;

/** @brief Outcome classes of an emulated instruction. */
typedef enum vcore_nvmx_outcome {
    VCORE_NVMX_OUT_SUCCEED = 1,      /**< VMsucceed: advance RIP, clear CF PF AF ZF SF OF. */
    VCORE_NVMX_OUT_FAIL_INVALID = 2, /**< VMfailInvalid: advance RIP, CF=1, others clear. */
    VCORE_NVMX_OUT_FAIL_VALID = 3,   /**< VMfailValid(vm_error): advance RIP, ZF=1, others clear. */
    VCORE_NVMX_OUT_EXCEPTION = 4,    /**< Inject @c vector (with error code / CR2); RIP unchanged. */
    VCORE_NVMX_OUT_ENTRY = 5,        /**< VMLAUNCH/VMRESUME passed the pre-entry checks: run the entry pipeline. */
    VCORE_NVMX_OUT_EXIT_TO_L1 = 6    /**< L2's VMREAD/VMWRITE must exit to L1 (shadowing bitmaps, or L1's EPT: see @c diag). */
} vcore_nvmx_outcome_t;

/** @brief Structured result of vcore_nvmx_emulate(). */
typedef struct vcore_nvmx_result {
    size_t size;          /**< sizeof(vcore_nvmx_result_t). */
    uint32_t outcome;     /**< ::vcore_nvmx_outcome_t. */
    uint32_t diag;        /**< The rule that decided the outcome (VCORE_DIAG_NVMX_*; 0 on success). */
    uint32_t vm_error;    /**< VM-instruction error number for FAIL_VALID (also written to VM_INSTRUCTION_ERROR). */
    uint8_t vector;       /**< Exception vector for EXCEPTION (6 \#UD, 12 \#SS, 13 \#GP, 14 \#PF). */
    bool has_error_code;  /**< The exception pushes @c error_code. */
    uint32_t error_code;  /**< Exception error code. */
    uint64_t cr2;         /**< Faulting linear address for \#PF. */
    uint64_t rip;         /**< RIP after the instruction (SUCCEED / FAIL_*). */
    uint64_t rflags;      /**< RFLAGS after the instruction (SUCCEED / FAIL_*). */
    bool gpr_written;     /**< VMREAD with a register destination: write @c gpr_value to @c gpr. */
    uint32_t gpr;         /**< GPR index (::vcore_x86_gpr). */
    uint64_t gpr_value;   /**< Value for @c gpr (zero-extended to 64 bits). */
    uint32_t inv_type;    /**< INVEPT/INVVPID: the invalidation type that succeeded. */
    uint64_t inv_eptp;    /**< INVEPT: the EPTP of a single-context invalidation. */
    uint16_t inv_vpid;    /**< INVVPID: the VPID. */
    uint64_t inv_addr;    /**< INVVPID: the linear address of an individual-address invalidation. */
    uint64_t ept_gpa;     /**< EXIT_TO_L1 for L1's EPT (diag NVMX_L2_EPT_*, NVMX_L2_PML_FULL): the L2 guest-physical address. */
    uint64_t ept_qualification; /**< EXIT_TO_L1 for an EPT violation: exit qualification bits 5:0. */
    uint64_t ept_gla;     /**< EXIT_TO_L1 for an EPT violation: the linear address of the access that faulted. */
    bool ept_final;       /**< ... that access was to the operand itself (qualification bit 8), not to a paging structure. */
    uint64_t mmio_gpa;    /**< VCORE_ERR_FAULT at the memory operand itself, within one page: the L1-physical address the accessor cannot reach (MMIO). */
    uint32_t mmio_len;    /**< ... the operand's size in bytes; 0 when the unreachable access was another (a paging-structure entry, an operand across two pages). */
} vcore_nvmx_result_t;

/**
 * @brief Emulates one VMX instruction executed by L1.
 *
 * Follows the pseudo-code of SDM Vol. 3, "VMX Instruction Reference" for
 * the instruction: \#UD and \#GP(0) checks, operand decoding, memory-operand
 * segmentation and paging (faults become an EXCEPTION outcome), VMfailInvalid
 * / VMfailValid with the error number. Updates @p nvmx (VMX operation,
 * current VMCS, vmcs12) and guest memory (VMCLEAR write-back, VMPTRST,
 * VMREAD to memory) but never the vCPU: the caller applies @p res.
 * @param[in,out] nvmx Nested state.
 * @param[in] mem Guest memory accessor.
 * @param[in] insn The instruction and vCPU state (copied before use).
 * @param[out] res Receives the outcome; @c res->size must be set.
 * @return VCORE_OK when @p res holds an outcome.
 * @retval VCORE_ERR_INVAL A NULL argument or unknown @c op.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_FAULT A linear memory operand maps to guest-physical memory
 *         the accessor cannot reach (MMIO); the instruction did nothing (L1's
 *         EPT accessed and dirty flags, and page-modification log entries, of
 *         the translations that succeeded stay set, as the processor's would).
 *         @c res->mmio_gpa and @c res->mmio_len say where when the operand
 *         itself is the access: run the instruction again with an accessor
 *         that reads (VMWRITE) or takes the write of (VMREAD) those bytes.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_emulate(vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem,
                                 const vcore_nvmx_insn_t *insn, vcore_nvmx_result_t *res);

/**
 * @brief Applies a SUCCEED/FAIL outcome to a register block (RIP, RFLAGS, VMREAD GPR).
 * @param[in] res The outcome.
 * @param[in,out] regs Registers to update.
 * @return VCORE_OK when applied.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_STATE The outcome is not SUCCEED/FAIL_* (nothing to apply to registers).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_result_apply(const vcore_nvmx_result_t *res, vcore_x86_regs_t *regs);

/**
 * @brief Fills a memory accessor that reaches a VM's guest-physical memory
 *        through vcore_vm_read_guest() / vcore_vm_write_guest().
 * @param[in] vm The VM (must outlive the accessor).
 * @param[out] out The accessor; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_mem_from_vm(vcore_vm_t *vm, vcore_nvmx_mem_t *out);

/**
 * @brief Emulates a VMX instruction of a vCPU and applies the register part of the outcome.
 *
 * Reads the vCPU's registers and system registers (the @c regs and @c sregs
 * of @p exit_info are ignored), emulates with the VM's guest memory, and for
 * SUCCEED / FAIL_* writes RIP, RFLAGS and a VMREAD destination register back
 * with vcore_vcpu_set_regs(). EXCEPTION, ENTRY and EXIT_TO_L1 outcomes leave
 * the vCPU untouched: the caller injects the exception or runs the entry.
 * @param[in,out] nvmx The vCPU's nested state.
 * @param[in] vcpu The vCPU.
 * @param[in] exit_info Operation and exit information (op, insn_info, qualification, insn_len, interruptibility, feature_control, in_l2).
 * @param[out] res Receives the outcome; @c res->size must be set.
 * @return VCORE_OK when @p res holds an outcome.
 * @retval VCORE_ERR_INVAL A NULL argument or unknown operation.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_FAULT A memory operand is not in guest RAM.
 * @retval VCORE_ERR_HWFAIL The backend could not read or write the vCPU state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_vcpu_emulate(vcore_nvmx_t *nvmx, vcore_vcpu_t *vcpu,
                                      const vcore_nvmx_insn_t *exit_info, vcore_nvmx_result_t *res);

/* ------------------------------------------------------------------------- */
/** @name Shadow VMCS (the read-write and read-only field sets)
 * @{ */
#define VCORE_NVMX_SHADOW_RW_COUNT 13u /**< Fields L1 reads and writes without exits (written on most exits L1 handles). */
#define VCORE_NVMX_SHADOW_RO_COUNT 25u /**< Fields L1 reads without exits (VMWRITE exits): exit information, and fields L1 writes rarely. */
#define VCORE_NVMX_BITMAP_SIZE 4096u   /**< Bytes of a VMREAD or VMWRITE bitmap. */
/** @} */

/**
 * @brief Encodings of a shadowing set.
 * @param[in] read_only false: the read-write set; true: the read-only set.
 * @param[out] count Receives the number of encodings (may be NULL).
 * @return A static array of encodings.
 */
VCORE_API const uint32_t *vcore_nvmx_shadow_fields(bool read_only, uint32_t *count);

/**
 * @brief Builds the VMREAD and VMWRITE bitmaps for the hardware shadow VMCS.
 *
 * A set bit (bit = encoding bits 14:0) makes L1's access exit. Every bit is
 * set except: the read-write set in both bitmaps, the read-only set in the
 * VMREAD bitmap; a field is left out if the backend cannot hold it
 * (virtual-interrupt delivery, PML, preemption timer) and the exit-information
 * fields of the read-only set are left out if the backend lacks
 * VMWRITE-to-any-field (L0 could not fill them). The read-only set holds the
 * fields L1 writes rarely: their VMWRITE exits, so vmcs12 always holds them
 * and only the read-write set must be read back before a VM entry.
 * A field L1's own capabilities lack (vcore_nvmx_caps_has_field()) must
 * exit too, so that the emulation gives VMfailValid 12: when L1 is offered
 * less than the backend, pass capabilities without those features (the
 * vCPU pipeline shadows only the fields both have).
 * @param[in] backend The backend's capability MSRs.
 * @param[out] vmread_bitmap 4096 bytes.
 * @param[out] vmwrite_bitmap 4096 bytes.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p backend->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_shadow_bitmaps(const vcore_nvmx_caps_t *backend, uint8_t *vmread_bitmap,
                                        uint8_t *vmwrite_bitmap);

/** @brief Callback writing one field of the hardware shadow VMCS (VMWRITE by L0). */
typedef int (*vcore_nvmx_vmwrite_fn)(void *ctx, uint32_t encoding, uint64_t value);
/** @brief Callback reading one field of the hardware shadow VMCS (VMREAD by L0). */
typedef int (*vcore_nvmx_vmread_fn)(void *ctx, uint32_t encoding, uint64_t *value);

/**
 * @brief vmcs12 -> hardware shadow VMCS: writes exactly the shadowed fields.
 * @param[in] nvmx The state (its current vmcs12).
 * @param[in] bitmap_vmread The VMREAD bitmap in force: fields whose bit is set are skipped.
 * @param[in] fn Write callback.
 * @param[in] ctx Callback context.
 * @return VCORE_OK on success, or the first callback error.
 * @retval VCORE_ERR_INVAL A NULL argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_shadow_sync_to(const vcore_nvmx_t *nvmx, const uint8_t *bitmap_vmread,
                                        vcore_nvmx_vmwrite_fn fn, void *ctx);

/**
 * @brief Hardware shadow VMCS -> vmcs12: reads back what L1 could have written there.
 *
 * The fields L1 may write (the read-write set and the rarely-written fields
 * of the read-only set) whose VMWRITE bit is clear; never the exit-information
 * fields. With the bitmaps of vcore_nvmx_shadow_bitmaps() that is the
 * read-write set.
 * @param[in,out] nvmx The state (its current vmcs12; changed fields are marked dirty).
 * @param[in] bitmap_vmwrite The VMWRITE bitmap in force: fields whose bit is set are skipped.
 * @param[in] fn Read callback.
 * @param[in] ctx Callback context.
 * @return VCORE_OK on success, or the first callback error.
 * @retval VCORE_ERR_INVAL A NULL argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_shadow_sync_from(vcore_nvmx_t *nvmx, const uint8_t *bitmap_vmwrite,
                                          vcore_nvmx_vmread_fn fn, void *ctx);

/**
 * @brief Loads the shadow VMCS named by the current vmcs12's VMCS link pointer (L1's VMCS shadowing).
 *
 * Called by the entry pipeline before running L2 with "VMCS shadowing" set;
 * L2's VMREAD/VMWRITE (insn.in_l2) then reach this copy.
 * @param[in,out] nvmx The state.
 * @param[in] mem Guest memory.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, the link pointer is invalid, or the
 *         region's revision or shadow indicator is wrong.
 * @retval VCORE_ERR_STATE No current VMCS.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_shadow_load(vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem);

/**
 * @brief Writes the loaded shadow VMCS back to L1 memory (on exit from L2).
 * @param[in,out] nvmx The state.
 * @param[in] mem Guest memory.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_STATE No shadow VMCS is loaded.
 * @retval VCORE_ERR_FAULT The write failed.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_shadow_flush(vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem);

/* ------------------------------------------------------------------------- */
/** @name KVM nested-state interchange (KVM API, "KVM_GET/SET_NESTED_STATE")
 * @{ */
#define VCORE_KVM_NESTED_HDR_SIZE 128u          /**< sizeof(struct kvm_nested_state). */
#define VCORE_KVM_NESTED_FORMAT_VMX 0u          /**< format: VMX. */
#define VCORE_KVM_NESTED_GUEST_MODE 0x1u        /**< flags: L2 was running. */
#define VCORE_KVM_NESTED_RUN_PENDING 0x2u       /**< flags: a VM entry is pending. */
#define VCORE_KVM_NESTED_EVMCS 0x4u             /**< flags: enlightened VMCS in use. */
#define VCORE_KVM_NESTED_MTF_PENDING 0x8u       /**< flags: monitor-trap-flag exit pending. */
#define VCORE_KVM_NESTED_GIF_SET 0x100u         /**< flags: SVM GIF (refused for VMX). */
#define VCORE_KVM_NESTED_SMM_GUEST_MODE 0x1u    /**< smm.flags: L2 was in SMM. */
#define VCORE_KVM_NESTED_SMM_VMXON 0x2u         /**< smm.flags: VMXON was active before SMM. */
#define VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE 0x1u /**< vmx.flags: preemption deadline valid. */
#define VCORE_KVM_NESTED_MAX_SIZE (128u + 2u * 4096u) /**< Largest VMX blob. */
/** @} */

/**
 * @brief Size of the blob vcore_nvmx_kvm_export() would produce now.
 * @param[in] nvmx The state.
 * @return 128, plus 4096 with a current VMCS, plus 4096 for a guest-mode
 *         state whose vmcs12 uses VMCS shadowing; 0 if @p nvmx is NULL.
 */
VCORE_API uint32_t vcore_nvmx_kvm_state_size(const vcore_nvmx_t *nvmx);

/**
 * @brief Exports the nested state as a KVM `struct kvm_nested_state` blob (VMX format).
 *
 * The vmcs12 page is written in KVM's layout with KVM's vmcs12 revision;
 * the library's extension area (fields KVM does not model) is zeroed in
 * the blob. A state that holds an imported guest-mode blob (a state no
 * vCPU runs) exports it again with its flags, VMX header flags, deadline
 * and shadow vmcs12 page. The state of a vCPU running L2 cannot be
 * exported from here: vmcs12 must first be synced from vmcs02, which
 * vcore_nvmx_vcpu_get_state() does.
 * @param[in] nvmx The state.
 * @param[out] buf Destination.
 * @param[in] len Bytes at @p buf.
 * @param[out] out_len Receives the blob size (also when @p len is too small).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_BUFSZ @p len is smaller than the blob.
 * @retval VCORE_ERR_STATE The state belongs to a vCPU that is running L2.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_kvm_export(const vcore_nvmx_t *nvmx, void *buf, size_t len,
                                    uint32_t *out_len);

/**
 * @brief Validates a KVM nested-state blob and, if valid, makes it the nested state.
 *
 * Checks in KVM's order: size, flags, format, VMX header flags, SMM flags,
 * vmxon_pa, vmcs12_pa, vmcs12 revision; in guest mode the vmcs12 launch
 * state (launched unless RUN_PENDING) and, when vmcs12 uses VMCS
 * shadowing, the shadow vmcs12 page (KVM's revision with the shadow-VMCS
 * indicator). The blob is copied once and only the copy is checked and
 * used; on refusal @p nvmx is unchanged. A guest-mode blob is kept as
 * data (for vcore_nvmx_kvm_export(), e.g. between two kvm vCPUs); to run
 * L2 from it on a vCPU, use vcore_nvmx_vcpu_set_state().
 * @param[in,out] nvmx The state.
 * @param[in] buf The blob.
 * @param[in] len Bytes at @p buf.
 * @param[out] diag Receives the reason on refusal (may be NULL).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a malformed blob (see @p diag).
 * @retval VCORE_ERR_UNSUPPORTED EVMCS or SMM state.
 * @retval VCORE_ERR_STATE The state belongs to a vCPU and the blob is in
 *         guest mode or the vCPU runs L2 (KVM_STATE_GUEST_MODE).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_kvm_import(vcore_nvmx_t *nvmx, const void *buf, size_t len,
                                    vcore_diag_t *diag);

/**
 * @brief Exports a vCPU's nested VMX state as a KVM nested-state blob, L2 running or not.
 *
 * While L2 runs (guest mode), vmcs12 is first brought up to date from
 * vmcs02 - every guest field, the lazily synced ones included, as a VM
 * exit would save them (SDM Vol. 3, "Saving Guest State") - and the blob
 * carries KVM_STATE_NESTED_GUEST_MODE; KVM_STATE_NESTED_RUN_PENDING when
 * an imported VM entry has not happened yet. The VMX-preemption timer
 * runs in vmcs02 on the backend's processor: no deadline is exported
 * (vmcs12 holds the timer value). L1's VMWRITEs held in L0's shadow VMCS
 * reach vmcs12 first. The vCPU's registers are not part of the blob: with
 * this library they are L1's while L2 runs, with these exceptions - L2's
 * general-purpose registers, which L1 and L2 share, DR0-DR3 and DR6,
 * which no VM entry or exit switches, and IA32_EFER, IA32_PAT and
 * IA32_DEBUGCTL as vcore_vcpu_get_msr() reads them and DR7 as
 * vcore_vcpu_get_dregs() reads it, which are L2's (the VM entry loaded
 * L2's into the one register and the exit to L1 either replaces it with
 * vmcs12's host value - DR7 400H, IA32_DEBUGCTL 0 - or leaves L2's to L1,
 * SDM Vol. 3, "Loading Guest Control Registers, Debug Registers, and MSRs"
 * and "Loading Host State": L1's earlier value is not needed again). A
 * value L2 wrote without "save IA32_EFER" / "save IA32_PAT" / "save debug
 * controls" is in no field of vmcs12 (L1's memory) and reaches the
 * importing vCPU only that way. The efer member of vcore_vcpu_get_sregs()
 * stays L1's, with the rest of that block. Save them with
 * vcore_vcpu_get_regs() / vcore_vcpu_get_sregs() / vcore_vcpu_get_dregs() /
 * vcore_vcpu_get_msr() and restore them as vcore_nvmx_vcpu_set_state() says.
 * @param[in] vcpu A vCPU created with VCORE_NESTED_VMX.
 * @param[out] buf Destination.
 * @param[in] len Bytes at @p buf (at most ::VCORE_KVM_NESTED_MAX_SIZE are needed).
 * @param[out] out_len Receives the blob size (also when @p len is too small).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_UNSUPPORTED The vCPU has no nested VMX.
 * @retval VCORE_ERR_BUFSZ @p len is smaller than the blob.
 * @retval VCORE_ERR_STATE An exit from L2 awaits the VMM's reply
 *         (VCORE_DIAG_KVM_STATE_REPLY_PENDING in vcore_vcpu_last_diag()),
 *         or an INIT signalled while L2 ran is still owed to L1
 *         (VCORE_DIAG_KVM_STATE_INIT_PENDING): run the vCPU once more to
 *         complete it, as KVM's API asks for KVM_RUN with immediate_exit
 *         before saving state.
 * @retval VCORE_ERR_HWFAIL The backend could not read vmcs02.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_vcpu_get_state(vcore_vcpu_t *vcpu, void *buf, size_t len,
                                        uint32_t *out_len);

/**
 * @brief Makes a KVM nested-state blob the vCPU's nested VMX state; in guest mode L2 runs next.
 *
 * The blob is copied once and every rule is checked on the copy before
 * anything changes: KVM's rules of vcore_nvmx_kvm_import(), then in guest
 * mode every VM-entry check VMLAUNCH/VMRESUME runs (SDM Vol. 3, "Checks on
 * VMX Controls and Host-State Area", "Checks on the Guest State Area"),
 * with L1's IA32_EFER and CPUID as the vCPU holds them - set L1's
 * registers first - and the limits of the library's nested pipeline
 * (VCORE_DIAG_NVMX_PIPELINE_UNSUPPORTED). A refused blob leaves the vCPU
 * exactly as it was; the diagnostic names the rule (for a VM-entry check,
 * the check's own identifier, see vmx_checks.h).
 *
 * In guest mode vmcs02 is then rebuilt from vmcs12 by the code VMLAUNCH
 * uses, the shadow EPT starts empty and the next vcore_vcpu_run() enters
 * L2. Nothing of the VM entry itself is performed again: the VM-entry
 * MSR-load list is not loaded (L2 already runs with it) and, without
 * RUN_PENDING, the event of the VM-entry interruption-information field
 * is not injected again (it was delivered when L2 first entered; SDM
 * Vol. 3, "Event Injection"). L2's IA32_EFER, IA32_PAT and IA32_DEBUGCTL
 * are what its VM entry gave it (vmcs12's guest values under "load
 * IA32_EFER" / "load IA32_PAT" / "load debug controls", else L1's as the
 * vCPU holds them) until the VMM sets them:
 * restore in this order - L1's registers (vcore_vcpu_set_sregs() with
 * L1's EFER, which the VM-entry checks read), the blob, then IA32_EFER and
 * IA32_PAT and IA32_DEBUGCTL with vcore_vcpu_set_msr() as vcore_vcpu_get_msr() read them
 * while L2 ran (L2's; checked as L2's WRMSR), and the debug registers with
 * vcore_vcpu_set_dregs() as vcore_vcpu_get_dregs() read them (DR7 L2's). A blob without guest mode
 * makes L1 run next; an L2 the vCPU was running is dropped without a VM
 * exit (L1's registers, EFER and PAT included, are whatever the VMM sets).
 * @param[in] vcpu A vCPU created with VCORE_NESTED_VMX.
 * @param[in] buf The blob.
 * @param[in] len Bytes at @p buf.
 * @param[out] diag Receives the reason on refusal (may be NULL; also in vcore_vcpu_last_diag()).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused blob (see @p diag).
 * @retval VCORE_ERR_UNSUPPORTED No nested VMX on the vCPU; EVMCS or SMM
 *         state; or vmcs12 needs what the pipeline lacks.
 * @retval VCORE_ERR_NOMEM vmcs02 could not be allocated (nothing changed), or
 *         the shadow EPT for L1's EPT pointer could not get pages while vmcs02
 *         was built (as for VCORE_ERR_HWFAIL).
 * @retval VCORE_ERR_HWFAIL The backend failed while vmcs02 was built from the
 *         accepted blob: the vCPU keeps its previous vmcs12 and VMX pointers but
 *         runs L1 next (an L2 it was running is lost with vmcs02).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_vcpu_set_state(vcore_vcpu_t *vcpu, const void *buf, size_t len,
                                        vcore_diag_t *diag);

/**
 * @brief Reads a KVM vCPU's nested state (KVM_GET_NESTED_STATE) into @p nvmx.
 *
 * Only in libraries built with the kvm backend. The blob goes through
 * vcore_nvmx_kvm_import(), so it is validated like any other; a guest-mode
 * state (L2 running in KVM) is kept as data and goes back unchanged with
 * vcore_nvmx_kvm_set_nested_state().
 * @param[in] vcpu A vCPU of a VM on the kvm backend.
 * @param[in,out] nvmx The nested state to fill.
 * @param[out] diag Receives the reason a blob is refused (may be NULL).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, not a kvm vCPU, or a refused blob.
 * @retval VCORE_ERR_UNSUPPORTED The host lacks KVM_CAP_NESTED_STATE, or the
 *         state is one the library does not import (EVMCS, SMM).
 * @retval VCORE_ERR_HWFAIL The kernel refused the ioctl.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_kvm_get_nested_state(vcore_vcpu_t *vcpu, vcore_nvmx_t *nvmx,
                                              vcore_diag_t *diag);

/**
 * @brief Writes @p nvmx to a KVM vCPU (KVM_SET_NESTED_STATE).
 *
 * Only in libraries built with the kvm backend.
 * @param[in] vcpu A vCPU of a VM on the kvm backend.
 * @param[in] nvmx The nested state, exported with vcore_nvmx_kvm_export().
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or not a kvm vCPU.
 * @retval VCORE_ERR_UNSUPPORTED The host lacks KVM_CAP_NESTED_STATE.
 * @retval VCORE_ERR_HWFAIL The kernel refused the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_kvm_set_nested_state(vcore_vcpu_t *vcpu, const vcore_nvmx_t *nvmx);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_NVMX_H */
