/**
 * @file diag.h
 * @brief Named diagnostics: which architectural rule a rejected value broke.
 *
 * Every rule the library enforces has a stable identifier, a symbolic name,
 * a one-line message and the title of the manual section it implements
 * (section numbers move between editions of the SDM/APM; titles do not).
 * A function that refuses a value with VCORE_ERR_INVAL records the rule in
 * the object it was called on (see vcore_vcpu_last_diag()); there is no global
 * "last error".
 *
 * Identifiers are grouped in ranges by area and are append-only within a
 * range, like error codes. The ranges are fixed:
 *
 * | Range           | Area                                        | Table                       |
 * |-----------------|---------------------------------------------|-----------------------------|
 * | 0x0000-0x03ff   | x86 register state, CPUID, guest memory     | VCORE_DIAG_X86_LIST         |
 * | 0x0400-0x04ff   | vCPU API (run loop, events, arm64 registers)| VCORE_DIAG_VCPU_LIST        |
 * | 0x1000-0x10ff   | nested VMX instructions                     | VCORE_DIAG_NVMX_LIST        |
 * | 0x1100-0x11ff   | nested SVM instructions and nested state    | VCORE_DIAG_NSVM_LIST        |
 * | 0x2000-0x20ff   | ARM64 stage-2 translation                   | VCORE_DIAG_ARM64_S2_LIST    |
 * | 0x3800-0x38ff   | Hyper-V hypercalls and synthetic MSRs       | VCORE_DIAG_HYPERV_LIST      |
 * | 0x4000-0x4fff   | VMX VM-entry consistency checks             | VCORE_VMX_CHECK_LIST        |
 * | 0x5000-0x5fff   | SVM VMRUN consistency checks                | VCORE_SVM_CHECK_LIST        |
 *
 * vcore_diag_name() knows every identifier of every range; an identifier
 * outside them is unknown.
 */
#ifndef VIRTCORE_DIAG_H
#define VIRTCORE_DIAG_H

#include "common.h"

VCORE_BEGIN_DECLS

/**
 * @brief x86 register-state rules: X(name, value, message, manual section).
 */
#define VCORE_DIAG_X86_LIST(X)                                                 \
    X(NONE, 0x0000, "no diagnostic", "")                                       \
    X(CR0_RESERVED, 0x0101, "CR0 reserved bit set (bits 63:32, 28:19, 17, 15:6)", \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR0_PG_WITHOUT_PE, 0x0102, "CR0.PG set while CR0.PE is clear",          \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR0_NW_WITHOUT_CD, 0x0103, "CR0.NW set while CR0.CD is clear",          \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR0_PG_CLEAR_64BIT, 0x0106, "MOV to CR0 clears PG in 64-bit mode",     \
      "SDM Vol. 2, \"MOV-Move to/from Control Registers\" (64-Bit Mode Exceptions)") \
    X(CR4_RESERVED, 0x0111,                                                    \
      "CR4 bit set that is reserved or not enumerated in the vCPU's CPUID",    \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR4_PAE_CLEAR_IN_LONG_MODE, 0x0112, "CR4.PAE cleared while EFER.LMA=1", \
      "SDM Vol. 3, \"Initializing IA-32e Mode\"")                              \
    X(CR4_PCIDE_WITHOUT_LONG_MODE, 0x0113,                                     \
      "CR4.PCIDE set while EFER.LMA=0", "SDM Vol. 3, \"Process-Context Identifiers (PCIDs)\"") \
    X(CR4_PCIDE_WITH_CR3_PCID, 0x0114,                                         \
      "CR4.PCIDE set from 0 to 1 while CR3[11:0] is not zero",                 \
      "SDM Vol. 3, \"Process-Context Identifiers (PCIDs)\"")                   \
    X(CR4_LA57_CHANGE_IN_LONG_MODE, 0x0115, "CR4.LA57 changed while EFER.LMA=1", \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR4_CET_WITHOUT_WP, 0x0116, "CR4.CET set while CR0.WP is clear",        \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR0_WP_CLEAR_WITH_CET, 0x0105, "CR0.WP cleared while CR4.CET is set",   \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR3_RESERVED, 0x0121, "CR3 sets bits above the vCPU's MAXPHYADDR",       \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(CR8_RESERVED, 0x0122, "CR8 bits 63:4 are reserved",                      \
      "SDM Vol. 3, \"Control Registers\"")                                     \
    X(EFER_RESERVED, 0x0131,                                                   \
      "EFER bit set that is reserved or not enumerated in the vCPU's CPUID",   \
      "SDM Vol. 3, \"Extended Feature Enable Register\"; APM Vol. 2, \"Extended Feature Enable Register (EFER)\"") \
    X(EFER_LME_CHANGE_WITH_PAGING, 0x0132, "EFER.LME changed while CR0.PG=1", \
      "SDM Vol. 3, \"Initializing IA-32e Mode\"")                              \
    X(EFER_LMA_MISMATCH, 0x0133, "EFER.LMA differs from EFER.LME && CR0.PG",   \
      "SDM Vol. 3, \"Initializing IA-32e Mode\"")                              \
    X(NONCANONICAL, 0x0141,                                                    \
      "address is not canonical for the vCPU's linear-address width",          \
      "SDM Vol. 1, \"Canonical Addressing\"")                                  \
    X(PHYS_ADDR_WIDTH, 0x0142, "physical address above the vCPU's MAXPHYADDR", \
      "SDM Vol. 3, \"Linear-Address Translation\" (MAXPHYADDR)")               \
    X(APIC_BASE_RESERVED, 0x0151,                                              \
      "IA32_APIC_BASE reserved bit set (bits 7:0, 9, or above MAXPHYADDR)",    \
      "SDM Vol. 3, \"Local APIC Status and Location\"")                        \
    X(APIC_BASE_X2APIC_INVALID, 0x0152,                                        \
      "IA32_APIC_BASE mode change not allowed: EXTD without x2APIC support or with EN clear, x2APIC -> xAPIC, or disabled -> x2APIC", \
      "SDM Vol. 3, \"x2APIC State Transitions\"")                              \
    X(PAT_INVALID, 0x0161, "IA32_PAT entry holds a reserved memory type (2, 3 or >= 8)", \
      "SDM Vol. 3, \"IA32_PAT MSR\"")                                          \
    X(MSR_UNKNOWN, 0x0171, "MSR index is not modelled by the vCPU",            \
      "SDM Vol. 4, \"Model-Specific Registers\"")                              \
    X(MSR_READ_ONLY, 0x0172, "MSR is read-only",                               \
      "SDM Vol. 4, \"Model-Specific Registers\"")                              \
    X(MSR_RESERVED, 0x0173, "MSR reserved bit set",                            \
      "SDM Vol. 4, \"Model-Specific Registers\"")                              \
    X(DR6_RESERVED, 0x0181, "DR6 bits 63:32 must be zero",                     \
      "SDM Vol. 3, \"Debug Status Register (DR6)\"")                           \
    X(DR7_RESERVED, 0x0182, "DR7 bits 63:32 must be zero",                     \
      "SDM Vol. 3, \"Debug Control Register (DR7)\"")                          \
    X(XCR0_INVALID, 0x0191,                                                    \
      "XCR0 value not allowed (x87 clear, AVX without SSE, unsupported component, or AVX-512/AMX/BNDREG pairing broken)", \
      "SDM Vol. 1, \"Enabling the XSAVE Feature Set and XSAVE-Enabled Features\"") \
    X(SEGMENT_INVALID, 0x01a1, "segment access rights use reserved bits",      \
      "SDM Vol. 3, \"Segment Descriptors\"")                                   \
    X(RFLAGS_RESERVED, 0x01b1, "RFLAGS reserved bit set or bit 1 clear",       \
      "SDM Vol. 1, \"EFLAGS Register\"")                                       \
    X(MXCSR_RESERVED, 0x01c1, "MXCSR sets bits outside MXCSR_MASK",            \
      "SDM Vol. 1, \"MXCSR Control and Status Register\"")                     \
    X(CPUID_TOO_MANY, 0x0201, "CPUID table has more than 256 entries",         \
      "KVM API, \"KVM_SET_CPUID2\"")                                           \
    X(CPUID_DUPLICATE, 0x0202, "CPUID table lists the same (function, index) twice", \
      "SDM Vol. 2A, \"CPUID-CPU Identification\"")                             \
    X(CPUID_MAXPHYADDR, 0x0203,                                                \
      "CPUID.80000008H:EAX[7:0] (physical-address bits) must be 0 or 32..52",  \
      "SDM Vol. 2A, \"CPUID-CPU Identification\" (leaf 80000008H)")            \
    X(CPUID_LINEAR_BITS, 0x0204,                                               \
      "CPUID.80000008H:EAX[15:8] (linear-address bits) must be 0, 48 or 57",   \
      "SDM Vol. 2A, \"CPUID-CPU Identification\" (leaf 80000008H)")            \
    X(CPUID_XSAVE_INCONSISTENT, 0x0205,                                        \
      "CPUID leaf 0DH is inconsistent (XSAVE absent but components listed, x87/SSE missing, or a component size/offset past the area)", \
      "SDM Vol. 1, \"Enumeration of CPU Support for XSAVE Instructions and XSAVE-Supported Features\"") \
    X(CPUID_CHANGED_AFTER_RUN, 0x0206,                                         \
      "CPUID table differs from the one in force and the vCPU has already run", \
      "KVM API, \"KVM_SET_CPUID2\" (only identical tables after KVM_RUN)")    \
    X(CPUID_BAD_FLAGS, 0x0207, "CPUID entry has unknown flag bits",            \
      "KVM API, \"KVM_SET_CPUID2\"")                                           \
    X(CPUID_BACKEND_REFUSED, 0x0208,                                           \
      "the backend refused the CPUID table; the previous table stays in force", \
      "KVM API, \"KVM_SET_CPUID2\"")                                           \
    X(MEM_OVERLAP, 0x0301, "guest-physical range overlaps an existing mapping", \
      "libvirtcore, \"vcore_vm_map_memory\"")                                  \
    X(MEM_ALIGN, 0x0302, "guest-physical range or host address is not page aligned", \
      "libvirtcore, \"vcore_vm_map_memory\"")                                  \
    X(MEM_UNMAPPED, 0x0303, "guest-physical address is not mapped",            \
      "libvirtcore, \"vcore_vm_read_guest\"")                                  \
    X(MEM_READ_ONLY, 0x0304, "write to a read-only guest-physical range",     \
      "libvirtcore, \"vcore_vm_write_guest\"")

/**
 * @brief vCPU API rules (run loop, events, nested enablement, arm64 registers):
 *        X(name, value, message, manual section). Range 0x0400-0x04ff.
 */
#define VCORE_DIAG_VCPU_LIST(X)                                                \
    X(EXIT_REPLY_MISMATCH, 0x0401,                                             \
      "the exit passed to vcore_vcpu_run is not the one waiting for a reply",  \
      "libvirtcore, \"vcore_vcpu_run\" (reply contract)")                    \
    X(EVENT_VECTOR_INVALID, 0x0411,                                            \
      "exception vector above 31, reserved (15, 22-27, 31), or 2 (NMI is not an exception)", \
      "SDM Vol. 3, \"Checks on VM-Entry Control Fields\"")                    \
    X(EVENT_ERROR_CODE, 0x0412,                                                \
      "error-code flag does not match the vector (8, 10-14, 17 and 21 push one, others none)", \
      "SDM Vol. 3, \"Exception and Interrupt Reference\"")                    \
    X(EVENT_BLOCKING_BOTH, 0x0413, "blocking by STI and blocking by MOV SS both set", \
      "SDM Vol. 3, \"Checks on Guest Non-Register State\"")                   \
    X(EVENT_FLAG, 0x0414, "an event-state flag is not 0 or 1, or a reserved byte is set", \
      "libvirtcore, \"vcore_vcpu_set_events\"")                              \
    X(EVENT_TWO_EVENTS, 0x0415,                                                \
      "more than one event is being delivered (exception, interrupt and NMI injection are exclusive)", \
      "SDM Vol. 3, \"Event Injection\"")                                      \
    X(EVENT_INTERRUPT_VECTOR, 0x0416, "external interrupt vector below 16 (the exception vectors)", \
      "SDM Vol. 3, \"Exception and Interrupt Vectors\"")                      \
    X(EVENT_BUSY, 0x0417, "an external interrupt is already queued or being delivered", \
      "libvirtcore, \"vcore_vcpu_inject_interrupt\"")                        \
    X(EVENT_WINDOW_UNSUPPORTED, 0x0418, "the backend cannot report this event window", \
      "libvirtcore, \"vcore_vcpu_set_events\"")                              \
    X(INIT_LATCHED, 0x0421, "INIT latched: INIT is blocked in VMX root operation", \
      "SDM Vol. 3, \"Restrictions on VMX Operation\"")                        \
    X(NESTED_UNSUPPORTED, 0x0431,                                              \
      "nested VMX needs an x86 vCPU on a backend with VMX capabilities and hardware VMCS operations", \
      "libvirtcore, \"vcore_vcpu_config_t\"")                                \
    X(FEATURE_CONTROL_LOCKED, 0x0441, "WRMSR to IA32_FEATURE_CONTROL while its lock bit is set", \
      "SDM Vol. 3, \"Enabling and Entering VMX Operation\"")                  \
    X(WRONG_ARCH, 0x0451, "the function does not apply to the vCPU's architecture", \
      "libvirtcore, \"vcpu.h\"")                                              \
    X(ARM64_PSTATE_INVALID, 0x0481,                                            \
      "PSTATE names AArch32, EL2 or EL3, or sets a RES0 bit",                  \
      "Arm ARM, \"Saved Program Status Registers (SPSRs)\"")                  \
    X(ARM64_SCTLR_RES1, 0x0482, "SCTLR_EL1 clears a RES1 bit",                 \
      "Arm ARM, \"SCTLR_EL1, System Control Register (EL1)\"")                \
    X(ARM64_VBAR_RES0, 0x0483, "VBAR_EL1 sets a bit in 10:0 (RES0)",           \
      "Arm ARM, \"VBAR_EL1, Vector Base Address Register (EL1)\"")

/** @brief Diagnostic identifiers (values are pinned). */
typedef enum vcore_diag_id {
#define VCORE__DIAG_ENUM(name, value, msg, manual) VCORE_DIAG_##name = (value),
    VCORE_DIAG_X86_LIST(VCORE__DIAG_ENUM)
    VCORE_DIAG_VCPU_LIST(VCORE__DIAG_ENUM)
#undef VCORE__DIAG_ENUM
} vcore_diag_id_t;

/**
 * @brief One diagnostic: the rule that refused a value, and the value.
 */
typedef struct vcore_diag {
    size_t size;         /**< sizeof(vcore_diag_t), set by the caller. */
    uint32_t id;         /**< A vcore_diag_id_t value; 0 if none. */
    const char *name;    /**< Symbolic name, e.g. "CR0_PG_WITHOUT_PE" (static). */
    const char *message; /**< One-line human message (static). */
    const char *manual;  /**< Manual section title the rule implements (static). */
    uint64_t value;      /**< The offending value (register value, address, index). */
} vcore_diag_t;

/**
 * @brief Looks up the static description of a diagnostic identifier.
 * @param[in] id A vcore_diag_id_t value.
 * @param[out] out Receives name, message and manual section; @c out->size must
 *                 be set by the caller. @c value is set to 0.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p out is NULL.
 * @retval VCORE_ERR_ABI @p out->size is not sizeof(vcore_diag_t).
 * @retval VCORE_ERR_NOENT @p id is not a known diagnostic.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_diag_describe(uint32_t id, vcore_diag_t *out);

VCORE_END_DECLS

#endif /* VIRTCORE_DIAG_H */
