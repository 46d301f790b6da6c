/**
 * @file x86/vmx_exits.h
 * @brief Intel VMX exit information: basic exit reasons, the
 *        VM-exit instruction-information field, and how the vmx backend
 *        reports the exits it does not decode further.
 *
 * SDM Vol. 3, appendix "VMX Basic Exit Reasons" and "VM-Exit
 * Instruction-Information Field". A VMM that emulates VMX instructions
 * itself (the toolkit functions of nvmx.h) uses these instead of hand-made
 * constants.
 *
 * What the vmx backend reports (vcore_exit_t::raw.source ==
 * VCORE_EXIT_SRC_VMX):
 * - raw.reason is the full exit-reason field (bit 31: VM-entry failure);
 *   raw.qualification the exit qualification where the reason defines one;
 *   raw.data[0] the VM-exit instruction length, raw.data[1] the VM-exit
 *   interruption information, raw.data[2] its error code, raw.data[3] the
 *   IDT-vectoring information, raw.data[4] its error code, raw.data[5] the
 *   guest-physical address (EPT violations), raw.data[6] the guest RIP where
 *   it was read, raw.data[7] the VM-exit instruction-information field
 *   (VMX instructions, INS/OUTS). Fields the reason does not define are 0.
 * - VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMREAD, VMRESUME, VMWRITE, VMXOFF,
 *   VMXON, INVEPT and INVVPID executed by the guest come back as
 *   VCORE_EXIT_VMX_INSN with u.vmx_insn filled (operation, basic reason,
 *   instruction information, length, qualification). With nested VMX
 *   enabled on the vCPU the library emulates them inside vcore_vcpu_run()
 *   and the VMM never sees them; otherwise the instruction is not
 *   completed, and a VMM that offers no VMX injects \#UD.
 * - MOV to/from CR0, CR3, CR4, CR8, CLTS and LMSW come back as
 *   VCORE_EXIT_CR_ACCESS; the library completes them itself.
 * - The interrupt and NMI windows come back as VCORE_EXIT_IRQ_WINDOW and
 *   VCORE_EXIT_NMI_WINDOW.
 * - A host NMI or machine check that interrupts the guest is handed to the
 *   host's own handler and the guest resumes: the VMM never sees it.
 * - What the backend cannot decode comes back as VCORE_EXIT_INTERNAL_ERROR
 *   with a vcore_vmx_internal_t sub-error, u.internal.data[0] the address
 *   concerned and data[1] the exit qualification.
 * - Every other reason the backend does not complete itself comes back as
 *   VCORE_EXIT_RAW with the raw fields above.
 */
#ifndef VIRTCORE_X86_VMX_EXITS_H
#define VIRTCORE_X86_VMX_EXITS_H

#include "../common.h"

VCORE_BEGIN_DECLS

/**
 * @brief Basic exit reasons: X(name, value). SDM Vol. 3, appendix "VMX Basic Exit Reasons".
 */
#define VCORE_VMX_EXIT_REASON_LIST(X)                                          \
    X(EXCEPTION_NMI, 0)                                                        \
    X(EXTERNAL_INTERRUPT, 1)                                                   \
    X(TRIPLE_FAULT, 2)                                                         \
    X(INIT, 3)                                                                 \
    X(SIPI, 4)                                                                 \
    X(IO_SMI, 5)                                                               \
    X(OTHER_SMI, 6)                                                            \
    X(INTERRUPT_WINDOW, 7)                                                     \
    X(NMI_WINDOW, 8)                                                           \
    X(TASK_SWITCH, 9)                                                          \
    X(CPUID, 10)                                                               \
    X(GETSEC, 11)                                                              \
    X(HLT, 12)                                                                 \
    X(INVD, 13)                                                                \
    X(INVLPG, 14)                                                              \
    X(RDPMC, 15)                                                               \
    X(RDTSC, 16)                                                               \
    X(RSM, 17)                                                                 \
    X(VMCALL, 18)                                                              \
    X(VMCLEAR, 19)                                                             \
    X(VMLAUNCH, 20)                                                            \
    X(VMPTRLD, 21)                                                             \
    X(VMPTRST, 22)                                                             \
    X(VMREAD, 23)                                                              \
    X(VMRESUME, 24)                                                            \
    X(VMWRITE, 25)                                                             \
    X(VMXOFF, 26)                                                              \
    X(VMXON, 27)                                                               \
    X(CR_ACCESS, 28)                                                           \
    X(DR_ACCESS, 29)                                                           \
    X(IO_INSTRUCTION, 30)                                                      \
    X(RDMSR, 31)                                                               \
    X(WRMSR, 32)                                                               \
    X(ENTRY_FAIL_GUEST_STATE, 33)                                              \
    X(ENTRY_FAIL_MSR_LOADING, 34)                                              \
    X(MWAIT, 36)                                                               \
    X(MONITOR_TRAP_FLAG, 37)                                                   \
    X(MONITOR, 39)                                                             \
    X(PAUSE, 40)                                                               \
    X(ENTRY_FAIL_MACHINE_CHECK, 41)                                            \
    X(TPR_BELOW_THRESHOLD, 43)                                                 \
    X(APIC_ACCESS, 44)                                                         \
    X(VIRTUALIZED_EOI, 45)                                                     \
    X(GDTR_IDTR_ACCESS, 46)                                                    \
    X(LDTR_TR_ACCESS, 47)                                                      \
    X(EPT_VIOLATION, 48)                                                       \
    X(EPT_MISCONFIG, 49)                                                       \
    X(INVEPT, 50)                                                              \
    X(RDTSCP, 51)                                                              \
    X(PREEMPTION_TIMER, 52)                                                    \
    X(INVVPID, 53)                                                             \
    X(WBINVD, 54)                                                              \
    X(XSETBV, 55)                                                              \
    X(APIC_WRITE, 56)                                                          \
    X(RDRAND, 57)                                                              \
    X(INVPCID, 58)                                                             \
    X(VMFUNC, 59)                                                              \
    X(ENCLS, 60)                                                               \
    X(RDSEED, 61)                                                              \
    X(PML_FULL, 62)                                                            \
    X(XSAVES, 63)                                                              \
    X(XRSTORS, 64)                                                             \
    X(PCONFIG, 65)                                                             \
    X(SPP_EVENT, 66)                                                           \
    X(UMWAIT, 67)                                                              \
    X(TPAUSE, 68)                                                              \
    X(LOADIWKEY, 69)                                                           \
    X(ENCLV, 70)                                                               \
    X(ENQCMD_PASID, 72)                                                        \
    X(ENQCMDS_PASID, 73)                                                       \
    X(BUS_LOCK, 74)                                                            \
    X(NOTIFY, 75)                                                              \
    X(SEAMCALL, 76)                                                            \
    X(TDCALL, 77)

/** @brief Basic exit reasons (bits 15:0 of the exit-reason field). */
typedef enum vcore_vmx_exit_reason {
#define VCORE__VMX_EXIT_ENUM(name, value) VCORE_VMX_EXIT_##name = (value),
    VCORE_VMX_EXIT_REASON_LIST(VCORE__VMX_EXIT_ENUM)
#undef VCORE__VMX_EXIT_ENUM
    VCORE_VMX_EXIT_MAX_ = 78 /**< One past the highest reason listed. */
} vcore_vmx_exit_reason_t;

/** @brief Sub-errors of VCORE_EXIT_INTERNAL_ERROR from the vmx backend (u.internal.suberror). */
typedef enum vcore_vmx_internal {
    /** An MMIO access whose instruction could not be fetched or is not a MOV the backend decodes. */
    VCORE_VMX_INTERNAL_MMIO_DECODE = 1,
    /** An EPT misconfiguration: the backend built a bad EPT entry (data[0]: the guest-physical address). */
    VCORE_VMX_INTERNAL_EPT_MISCONFIG = 2,
    /** An instruction fetch from guest-physical memory that is not RAM. */
    VCORE_VMX_INTERNAL_EPT_FETCH = 3,
    /** String I/O whose memory operand is not guest RAM (data[0]: the linear address). */
    VCORE_VMX_INTERNAL_STRING_IO = 4,
    /**
     * An access to guest-physical memory that is not RAM and was not the
     * instruction's own data access: an entry of the guest's page tables
     * (EPT-violation qualification bit 8 clear), an access without a linear
     * address (bit 7 clear), or event delivery (IDT, stack; IDT-vectoring
     * information in raw.data[3]). SDM Vol. 3, "Exit Qualification for EPT
     * Violations".
     */
    VCORE_VMX_INTERNAL_EPT_NOT_DATA = 5
} vcore_vmx_internal_t;

/** @name Exit-reason field bits (SDM Vol. 3, "Basic VM-Exit Information")
 * @{ */
#define VCORE_VMX_EXIT_REASON_BASIC(r) ((uint32_t)(r)&0xffffu) /**< Bits 15:0: basic exit reason. */
#define VCORE_VMX_EXIT_REASON_ENCLAVE (1u << 27)               /**< Bit 27: exit from enclave mode. */
#define VCORE_VMX_EXIT_REASON_PENDING_MTF (1u << 28)           /**< Bit 28: pending MTF VM exit. */
#define VCORE_VMX_EXIT_REASON_FROM_ROOT (1u << 29)             /**< Bit 29: exit from VMX root operation (SMM). */
#define VCORE_VMX_EXIT_REASON_FAILED_ENTRY (1u << 31)          /**< Bit 31: VM-entry failure. */
/** @} */

/**
 * @brief Name of a basic exit reason, e.g. "VMREAD".
 * @param[in] basic A basic exit reason (bits 15:0; higher bits are ignored).
 * @return A static string; "UNKNOWN" for values the SDM does not define.
 */
VCORE_API const char *vcore_vmx_exit_reason_name(uint32_t basic);

/**
 * @brief The VM-exit instruction-information field of VMCLEAR, VMPTRLD,
 *        VMPTRST, VMREAD, VMWRITE, VMXON, INVEPT, INVVPID and INVPCID, decoded.
 *
 * SDM Vol. 3, "VM-Exit Instruction-Information Field", table for these
 * instructions: a memory operand's address is
 * segment base + base + index * 2^scale + displacement (the exit
 * qualification), truncated to @c address_size bits.
 */
typedef struct vcore_vmx_insn_info {
    size_t size;         /**< sizeof(vcore_vmx_insn_info_t). */
    uint8_t scale;       /**< Bits 1:0: scaling of the index (0 when @c is_register). */
    uint8_t reg1;        /**< Bits 6:3: register operand 1 (VMREAD source/destination register, VMWRITE source register when @c is_register). */
    uint8_t address_size; /**< Bits 9:7 decoded: 16, 32 or 64. */
    bool is_register;    /**< Bit 10: the operand is a register (VMREAD/VMWRITE only). */
    uint8_t segment;     /**< Bits 17:15: segment register (ES=0 .. GS=5, vcore_x86_seg). */
    uint8_t index_reg;   /**< Bits 21:18: index register. */
    bool index_valid;    /**< Bit 22 clear: the index register is used. */
    uint8_t base_reg;    /**< Bits 26:23: base register. */
    bool base_valid;     /**< Bit 27 clear: the base register is used. */
    uint8_t reg2;        /**< Bits 31:28: register operand 2 (VMREAD/VMWRITE field encoding, INVEPT/INVVPID/INVPCID type). */
} vcore_vmx_insn_info_t;

/**
 * @brief Decodes an instruction-information field (format of VMX instructions and INVEPT/INVVPID/INVPCID).
 * @param[in] info The 32-bit field.
 * @param[out] out The decoded form; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p out is NULL, or the field uses an encoding the SDM
 *         leaves undefined (address size 3 or above, segment 6 or 7).
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmx_insn_info_decode(uint32_t info, vcore_vmx_insn_info_t *out);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_VMX_EXITS_H */
