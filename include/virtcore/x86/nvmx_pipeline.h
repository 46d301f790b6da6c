/**
 * @file x86/nvmx_pipeline.h
 * @brief The nested VMX pipeline run inside vcore_vcpu_run(): who owns an
 *        exit from L2, how vmcs02's controls are merged, the pipeline's
 *        options and what it reports about the last L2 exit.
 *
 * A vCPU created with nested VMX (vcore_vcpu_config_t::nested) on a backend
 * with hardware VMCS objects (backend.h) runs L1's VMLAUNCH/VMRESUME itself:
 * SDM Vol. 3, "VM Entries" (checks, then vmcs02, then the guest), and
 * handles each exit from L2 by the table of this header: an exit L1 wants
 * is reflected to L1 (SDM Vol. 3, "VM Exits"), an exit L0 handles itself
 * re-enters L2, and an exit only the VMM can handle is returned with
 * ::VCORE_EXIT_F_L2 set.
 *
 * The decision and the merge rules are pure functions over the vmcs12 page
 * (and L1 memory for the I/O and MSR bitmaps), so VMMs and tools can ask the
 * same question the pipeline asks.
 */
#ifndef VIRTCORE_X86_NVMX_PIPELINE_H
#define VIRTCORE_X86_NVMX_PIPELINE_H

#include "../common.h"
#include "../error.h"
#include "nvmx.h"
#include "vmx_exits.h"

VCORE_BEGIN_DECLS

/** @brief vcore_exit_t::flags: the exit came from L2 and L1 does not want it. It is decoded as for L1
 *  (port I/O, RDMSR/WRMSR, HLT, MMIO; others raw); a reply goes to L2's registers and the next run
 *  re-enters L2 past the instruction. */
#define VCORE_EXIT_F_L2 (1u << 2)
/** @brief vcore_exit_t::flags: before this exit, the vCPU wrote 0 to its local APIC's EOI register,
 *  as "Posted-Interrupt Processing" (SDM Vol. 3, step 4) does when the library processes L1's
 *  posted-interrupt notification for L2: the interrupt the VMM made pending with
 *  vcore_vcpu_inject_interrupt() (the notification vector) was accepted and is dismissed at once,
 *  with no EOI write of the guest's own. A VMM with a local APIC model performs that EOI before it
 *  handles the exit; the flag comes with any exit reason, on the first exit returned after the
 *  processing. */
#define VCORE_EXIT_F_APIC_EOI (1u << 4)

/**
 * @brief Rule kinds deciding whether L1 wants an exit from L2.
 *
 * SDM Vol. 3, "Instructions That Cause VM Exits Unconditionally",
 * "Instructions That Cause VM Exits Conditionally", "Other Causes of VM Exits".
 */
typedef enum vcore_nvmx_rule_kind {
    VCORE_NVMX_RULE_L0 = 0,        /**< Always L0's (host interrupts and SMIs, L0's own paging structures). */
    VCORE_NVMX_RULE_ALWAYS = 1,    /**< Always L1's: the instruction or event exits unconditionally. */
    VCORE_NVMX_RULE_PIN = 2,       /**< L1's when pin-based control bit @c arg is 1. */
    VCORE_NVMX_RULE_PROC = 3,      /**< L1's when primary processor-based control bit @c arg is 1. */
    VCORE_NVMX_RULE_PROC2 = 4,     /**< L1's when the secondary controls are active and bit @c arg is 1. */
    VCORE_NVMX_RULE_EXCEPTION = 5, /**< Exception bitmap, \#PF error-code mask/match; NMI: NMI exiting. */
    VCORE_NVMX_RULE_IO = 6,        /**< Unconditional I/O exiting, or the I/O bitmaps. */
    VCORE_NVMX_RULE_MSR = 7,       /**< MSR bitmaps (without "use MSR bitmaps": every RDMSR/WRMSR). */
    VCORE_NVMX_RULE_CR = 8,        /**< CR0/CR4 guest/host masks and read shadows, CR3-load/store with CR3-target values, CR8-load/store. */
    VCORE_NVMX_RULE_INVPCID = 9,   /**< "INVLPG exiting" and "enable INVPCID". */
    VCORE_NVMX_RULE_PAUSE = 10,    /**< "PAUSE exiting", or "PAUSE-loop exiting". */
    VCORE_NVMX_RULE_L1_EPT = 11,   /**< L1's when L1 enables EPT (its EPT decides); L0's otherwise. */
    /** VMREAD/VMWRITE: L1's without "VMCS shadowing" (secondary control @c arg); with it L0's,
     * whose emulation (vcore_nvmx_emulate() with @c in_l2) reads L1's VMREAD/VMWRITE bitmap
     * and gives the exit to L1 when the field's bit is 1 or encoding bits 63:15 are not 0. */
    VCORE_NVMX_RULE_VMCS_SHADOW = 12,
    VCORE_NVMX_RULE_KIND_COUNT = 13 /**< Number of kinds. */
} vcore_nvmx_rule_kind_t;

/**
 * @brief The reflection table: X(exit name, rule kind, control bit).
 *
 * One row per basic exit reason of vmx_exits.h that can occur while L2
 * runs. docs/nested.md is generated from it. Reasons not listed (the
 * VM-entry failures 33, 34, 41) never come from a running L2: a failed
 * entry of vmcs02 is handled by the entry pipeline.
 */
#define VCORE_NVMX_EXIT_RULES(X)                                               \
    X(EXCEPTION_NMI, EXCEPTION, 0)                                             \
    X(EXTERNAL_INTERRUPT, L0, 0)                                               \
    X(TRIPLE_FAULT, ALWAYS, 0)                                                 \
    X(INIT, ALWAYS, 0)                                                         \
    X(SIPI, ALWAYS, 0)                                                         \
    X(IO_SMI, L0, 0)                                                           \
    X(OTHER_SMI, L0, 0)                                                        \
    X(INTERRUPT_WINDOW, PROC, 2)                                               \
    X(NMI_WINDOW, PROC, 22)                                                    \
    X(TASK_SWITCH, ALWAYS, 0)                                                  \
    X(CPUID, ALWAYS, 0)                                                        \
    X(GETSEC, ALWAYS, 0)                                                       \
    X(HLT, PROC, 7)                                                            \
    X(INVD, ALWAYS, 0)                                                         \
    X(INVLPG, PROC, 9)                                                         \
    X(RDPMC, PROC, 11)                                                         \
    X(RDTSC, PROC, 12)                                                         \
    X(RSM, ALWAYS, 0)                                                          \
    X(VMCALL, ALWAYS, 0)                                                       \
    X(VMCLEAR, ALWAYS, 0)                                                      \
    X(VMLAUNCH, ALWAYS, 0)                                                     \
    X(VMPTRLD, ALWAYS, 0)                                                      \
    X(VMPTRST, ALWAYS, 0)                                                      \
    X(VMREAD, VMCS_SHADOW, 14)                                                 \
    X(VMRESUME, ALWAYS, 0)                                                     \
    X(VMWRITE, VMCS_SHADOW, 14)                                                \
    X(VMXOFF, ALWAYS, 0)                                                       \
    X(VMXON, ALWAYS, 0)                                                        \
    X(CR_ACCESS, CR, 0)                                                        \
    X(DR_ACCESS, PROC, 23)                                                     \
    X(IO_INSTRUCTION, IO, 0)                                                   \
    X(RDMSR, MSR, 0)                                                           \
    X(WRMSR, MSR, 0)                                                           \
    X(MWAIT, PROC, 10)                                                         \
    X(MONITOR_TRAP_FLAG, PROC, 27)                                             \
    X(MONITOR, PROC, 29)                                                       \
    X(PAUSE, PAUSE, 0)                                                         \
    X(TPR_BELOW_THRESHOLD, PROC, 21)                                           \
    X(APIC_ACCESS, PROC2, 0)                                                   \
    X(VIRTUALIZED_EOI, PROC2, 9)                                               \
    X(GDTR_IDTR_ACCESS, PROC2, 2)                                              \
    X(LDTR_TR_ACCESS, PROC2, 2)                                                \
    X(EPT_VIOLATION, L1_EPT, 0)                                                \
    X(EPT_MISCONFIG, L1_EPT, 0)                                                \
    X(INVEPT, ALWAYS, 0)                                                       \
    X(RDTSCP, PROC, 12)                                                        \
    X(PREEMPTION_TIMER, PIN, 6)                                                \
    X(INVVPID, ALWAYS, 0)                                                      \
    X(WBINVD, PROC2, 6)                                                        \
    X(XSETBV, ALWAYS, 0)                                                       \
    X(APIC_WRITE, PROC2, 8)                                                    \
    X(RDRAND, PROC2, 11)                                                       \
    X(INVPCID, INVPCID, 0)                                                     \
    X(VMFUNC, ALWAYS, 0)                                                       \
    X(ENCLS, PROC2, 15)                                                        \
    X(RDSEED, PROC2, 16)                                                       \
    X(PML_FULL, PROC2, 17)                                                     \
    X(XSAVES, PROC2, 20)                                                       \
    X(XRSTORS, PROC2, 20)                                                      \
    X(BUS_LOCK, L0, 0)                                                         \
    X(NOTIFY, L0, 0)

/** @brief Who handles an exit from L2. */
typedef enum vcore_nvmx_owner {
    VCORE_NVMX_OWNER_L0 = 0, /**< L0 (the library, or the VMM through an exit with ::VCORE_EXIT_F_L2). */
    VCORE_NVMX_OWNER_L1 = 1  /**< L1: the exit is reflected (vmcs12 exit information, L1's host state). */
} vcore_nvmx_owner_t;

/** @brief The exit information of an exit from L2 that the decision reads. */
typedef struct vcore_nvmx_l2_exit {
    size_t size;             /**< sizeof(vcore_nvmx_l2_exit_t). */
    uint32_t reason;         /**< Exit-reason field (basic reason in bits 15:0). */
    uint32_t intr_info;      /**< VM-exit interruption information (EXCEPTION_NMI). */
    uint32_t intr_error;     /**< VM-exit interruption error code (\#PF: the page-fault error code). */
    uint32_t msr_index;      /**< RDMSR/WRMSR: ECX. */
    uint64_t qualification;  /**< Exit qualification. */
    uint64_t gpr_value;      /**< MOV to CR: the source register's value. */
    uint32_t cpl;            /**< L2's CPL (PAUSE-loop exiting applies at CPL 0 only). */
    uint32_t pad;            /**< Reserved. */
} vcore_nvmx_l2_exit_t;

/** @brief The decision for one exit from L2. */
typedef struct vcore_nvmx_decision {
    size_t size;      /**< sizeof(vcore_nvmx_decision_t). */
    uint32_t owner;   /**< ::vcore_nvmx_owner_t. */
    uint32_t kind;    /**< ::vcore_nvmx_rule_kind_t of the row that decided. */
    uint32_t arg;     /**< The row's control bit. */
    uint32_t field;   /**< The vmcs12 field that decided (encoding; 0 when no field did). */
} vcore_nvmx_decision_t;

/**
 * @brief Decides whether L1 wants an exit from L2, from the current vmcs12.
 *
 * Reads the vmcs12 controls; for the I/O and MSR bitmaps it reads the one
 * byte of L1's bitmap that decides (unbacked memory reads as all ones,
 * i.e. "exit"). A reason outside the table is L0's.
 * @param[in] nvmx The nested state (its current vmcs12).
 * @param[in] mem L1 memory.
 * @param[in] e The exit.
 * @param[out] out The decision; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI A size field is wrong.
 * @retval VCORE_ERR_STATE No current VMCS.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_exit_owner(const vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem,
                                                      const vcore_nvmx_l2_exit_t *e, vcore_nvmx_decision_t *out);

/** @brief One row of the reflection table. */
typedef struct vcore_nvmx_rule_info {
    size_t size;        /**< sizeof(vcore_nvmx_rule_info_t). */
    uint32_t reason;    /**< Basic exit reason. */
    uint32_t kind;      /**< ::vcore_nvmx_rule_kind_t. */
    uint32_t arg;       /**< Control bit of PIN/PROC/PROC2 rows. */
    const char *name;   /**< Exit name, e.g. "CPUID" (static). */
    const char *rule;   /**< What decides, in words, with the SDM section title (static). */
} vcore_nvmx_rule_info_t;

/**
 * @brief Number of rows of the reflection table.
 * @return The count.
 */
VCORE_API uint32_t vcore_nvmx_rule_count(void);

/**
 * @brief The i-th row of the reflection table.
 * @param[in] i 0 .. vcore_nvmx_rule_count() - 1.
 * @param[out] out The row; @c out->size must be set.
 * @return VCORE_OK, VCORE_ERR_INVAL (NULL), VCORE_ERR_ABI (size) or VCORE_ERR_RANGE.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_rule_at(uint32_t i, vcore_nvmx_rule_info_t *out);

/* ------------------------------------------------------------------------- */
/**
 * @brief How vmcs02 takes a control bit: X(word, bit, rule, why).
 *
 * word: 0 pin-based, 1 primary processor-based, 2 secondary, 3 VM-exit,
 * 4 VM-entry controls. rule: L1 (vmcs12's bit), L0 (vmcs01's bit), OR
 * (either side), ONE (always 1), ZERO (always 0), CR8 (1 unless L1 uses
 * the TPR shadow, else L1's), TIMER (1 when L1's pin-based control 6,
 * "activate VMX-preemption timer", is 1 and the processor allows it; else
 * 0), REFUSED (L1 may not set it: the bit is allowed-0 in the
 * capability MSRs L1 reads, so VM entry fails with VMfailValid 7 as SDM
 * Vol. 3, "Checks on VMX Controls" says; vmcs02 never has it). A bit not
 * listed takes L1's value, except in the VM-exit
 * controls, which describe L0's host state: there an unlisted bit is L0's.
 */
#define VCORE_NVMX_CTL_RULES(X)                                                                          \
    X(0, 0, ONE, "external-interrupt exiting: host interrupts must reach L0")                       \
    X(0, 3, ONE, "NMI exiting: host NMIs must reach L0")                                            \
    X(0, 5, L1, "virtual NMIs: L1's (requires NMI exiting)")                                        \
    X(0, 6, L1, "VMX-preemption timer: L1's timer, counted on vmcs02")                              \
    X(0, 7, ZERO, "process posted interrupts: vmcs02 never hands L1's posted-interrupt descriptor to the processor; L0 processes it (\"Posted-Interrupt Processing\"): an interrupt made pending for the vCPU while L2 runs whose vector is vmcs12's notification vector is acknowledged without an exit to L1, ON is cleared, the PIR is moved into VIRR of L1's virtual-APIC page and RVI raised to its highest bit in vmcs02, whose virtual-interrupt delivery then delivers it to L2; any other vector is exit 1 to L1; offered only with virtual-interrupt delivery") \
    X(1, 2, OR, "interrupt-window exiting: L1's window or L0's")                                    \
    X(1, 3, OR, "use TSC offsetting: L2 reads L1's TSC function of L0's; vmcs02's offset and multiplier compose the two (\"TSC Scaling\")") \
    X(1, 7, OR, "HLT exiting")                                                                      \
    X(1, 19, CR8, "CR8-load exiting: forced unless L1 uses the TPR shadow; with it L1's (L2's CR8 is VTPR, not L1's TPR)") \
    X(1, 20, CR8, "CR8-store exiting: forced unless L1 uses the TPR shadow; with it L1's (L2's CR8 is VTPR, not L1's TPR)") \
    X(1, 21, L1, "use TPR shadow: vmcs02's virtual-APIC address is the host page behind L1's, which the processor reads and writes itself") \
    X(1, 22, OR, "NMI-window exiting: L1's window or L0's")                                         \
    X(1, 24, ONE, "unconditional I/O exiting: L0 applies L1's I/O bitmaps")                         \
    X(1, 25, ZERO, "use I/O bitmaps: replaced by unconditional I/O exiting")                        \
    X(1, 28, ONE, "use MSR bitmaps: vmcs02's bitmap is the vCPU's own page, where an access passes through only when L1's bitmap and L0's (vmcs01's) both let it and the MSR is one whose value for L2 is in the processor while L2 runs (FS/GS base and SYSENTER in vmcs02's guest state; KERNEL_GS_BASE and the SYSCALL MSRs, which L1 and L2 share); every other bit is 1 (\"MSR-Bitmap Address\"); without the page from the host, 0 and every RDMSR/WRMSR exits") \
    X(1, 31, OR, "activate secondary controls")                                                     \
    X(2, 0, L1, "virtualize APIC accesses: vmcs02's APIC-access address is the host page behind L1's") \
    X(2, 4, L1, "virtualize x2APIC mode: the processor virtualizes L2's x2APIC MSR accesses on L1's virtual-APIC page (\"Virtualizing MSR-Based APIC Accesses\"), so vmcs02's MSR bitmap takes L1's bits for those: RDMSR of 800H-8FFH with APIC-register virtualization (else of 808H), WRMSR of 808H, and with virtual-interrupt delivery of 80BH and 83FH; every other x2APIC access exits (L1's by its bitmap, else to the VMM), and without the control the whole range does; offered with vmcs02's MSR bitmap and the TPR shadow") \
    X(2, 1, OR, "enable EPT: L0's EPT when L1 does not enable EPT; else the shadow EPT (ept02: L1's EPT composed with L0's)") \
    X(2, 5, L1, "enable VPID: vmcs02 runs with vpid02, the vCPU's second VPID, flushed when L1 changes vmcs12's VPID or runs INVVPID (\"Virtual-Processor Identifiers (VPIDs)\"); without one from the backend, without VPID (every entry flushes)") \
    X(2, 7, L1, "unrestricted guest: L2 in real mode or protected mode without paging, guest-physical = linear through ept02 (requires EPT, \"Unrestricted Guests\")") \
    X(2, 8, L1, "APIC-register virtualization: L2's reads of the APIC-access page come from L1's virtual-APIC page, and its writes there end in APIC-write exits (56) to L1 (\"Virtualizing Memory-Mapped APIC Accesses\")") \
    X(2, 9, L1, "virtual-interrupt delivery: vmcs02 takes vmcs12's guest interrupt status (RVI/SVI) and EOI-exit bitmaps and runs on L1's virtual-APIC page; each exit to L1 saves RVI/SVI into vmcs12; virtualized EOIs (45) are L1's (\"Virtual-Interrupt Delivery\", \"Virtualizing EOI\"); it requires external-interrupt exiting, which vmcs02 always has") \
    X(2, 13, L1, "enable VM functions: vmcs02 has it when L1 does, with VM-function controls 0: without it L2's VMFUNC is #UD, with it every VMFUNC exits (59) for a function not enabled (\"VM Functions\"), so L0 performs EPTP switching on vmcs12 (\"EPTP Switching\"): EPTP := the EPTP-list entry ECX, L2 on the ept02 of it; ECX above 511 or an entry the VM-entry EPTP checks reject is exit 59 to L1; offered only with EPT") \
    X(2, 14, ZERO, "VMCS shadowing: vmcs02 never uses the processor's, so every VMREAD/VMWRITE of L2 exits to L0 (\"VMCS Shadowing\"); L0 reads the bit of L1's VMREAD/VMWRITE bitmap for the field (one byte of L1 memory): set, or encoding bits 63:15 not 0, is exit 23/25 to L1; else L0 completes the instruction as its Operation section says for VMX non-root operation, on the link-pointer VMCS, which each VM entry reads once from L1 memory and the exit to L1 writes back when L2 wrote it") \
    X(2, 17, ZERO, "enable PML: vmcs02 never uses the processor's log; L0 keeps L1's (\"Page-Modification Logging\"): where its fill of ept02 or an access it performs for L2 sets the dirty flag of an ept12 leaf (EPTP bit 6; a clean leaf is read-only in ept02, so the first write faults), the 4-KByte-aligned L2 address goes to vmcs12's PML address + 8 * PML index and the index goes down; an index outside 0-511 when a flag is to be set is exit 62 to L1; offered only with EPT") \
    X(2, 25, OR, "use TSC scaling: vmcs02's multiplier is L0's times L1's (1.0 for a level that does not scale) and its offset L0's scaled by L1's multiplier plus L1's") \
    X(3, 2, ONE, "save debug controls: vmcs02 saves L2's DR7 and IA32_DEBUGCTL (L2's MOV to DR7 need not exit), and L0 stores them in vmcs12 when L1 sets the bit (\"Saving Guest State\"); the exit to L1 then sets DR7 to 400H and clears IA32_DEBUGCTL (\"Loading Host State\")") \
    X(3, 9, L0, "host address-space size: the exit returns to L0")                                  \
    X(3, 12, REFUSED, "load IA32_PERF_GLOBAL_CTRL: the vCPU model holds no IA32_PERF_GLOBAL_CTRL (the VMM models it), so the exit to L1 could not load L1's value") \
    X(3, 15, L0, "acknowledge interrupt on exit: host interrupts are L0's")                         \
    X(3, 18, L0, "save IA32_PAT: L0's")                                                             \
    X(3, 19, L0, "load IA32_PAT: L0's host state")                                                  \
    X(3, 20, L0, "save IA32_EFER: L0's")                                                            \
    X(3, 21, L0, "load IA32_EFER: L0's host state")                                                 \
    X(3, 22, TIMER, "save VMX-preemption timer value: 1 whenever L1 activates its timer, so an exit L0 handles keeps what is left of it for the next entry of L2; vmcs12's value is written back only when L1 sets the bit") \
    X(3, 23, REFUSED, "clear IA32_BNDCFGS: the vCPU model holds no IA32_BNDCFGS")                    \
    X(4, 2, ONE, "load debug controls: L2's DR7 and IA32_DEBUGCTL are vmcs12's guest values with L1's control, else L1's (\"Loading Guest Control Registers, Debug Registers, and MSRs\")") \
    X(4, 9, L1, "IA-32e mode guest: L2's mode")                                                     \
    X(4, 13, REFUSED, "load IA32_PERF_GLOBAL_CTRL: vmcs02 would load the processor's own MSR, which the VMM models for the vCPU; nothing restores it at the exit") \
    X(4, 14, ONE, "load IA32_PAT: L2's PAT is vmcs12's guest IA32_PAT with L1's control, else L1's PAT (\"Loading Guest Control Registers, Debug Registers, and MSRs\"); without the control on the processor the entry is refused") \
    X(4, 15, ONE, "load IA32_EFER: L2's EFER is vmcs12's guest IA32_EFER with L1's control, else L1's EFER with LMA and LME from \"IA-32e mode guest\" (\"Loading Guest Control Registers, Debug Registers, and MSRs\"); without the control on the processor the entry is refused") \
    X(4, 16, REFUSED, "load IA32_BNDCFGS: vmcs02 would load the processor's own MSR; the vCPU model holds none")

/**
 * @brief The five control words of vmcs02 from vmcs12's and vmcs01's.
 * @param[in] l1 vmcs12's pin, primary, secondary, exit, entry controls.
 * @param[in] l0 vmcs01's, the same order.
 * @param[out] out vmcs02's, the same order.
 */
VCORE_API void vcore_nvmx_merge_controls(const uint32_t l1[5], const uint32_t l0[5], uint32_t out[5]);

/**
 * @brief Where the exit bit of an MSR access lies in a VMX MSR bitmap.
 *
 * SDM Vol. 3, "MSR-Bitmap Address": the 4 KiB page holds the read bitmap
 * for low MSRs (00000000H-00001FFFH) at byte 0, the read bitmap for high
 * MSRs (C0000000H-C0001FFFH) at byte 1024, and the write bitmaps for both
 * at bytes 2048 and 3072; bit n of a bitmap is MSR (range base + n), and a
 * set bit makes the access exit. An RDMSR or WRMSR of an MSR outside both
 * ranges always exits ("Instructions That Cause VM Exits Conditionally").
 * vmcs02's bitmap is built from it: an access passes through to L2 only
 * where L0's bitmap (vmcs01's) and L1's (vmcs12's) both have the bit clear,
 * so no MSR L0 intercepts (its x2APIC MSRs, say) ever reaches L2.
 * @param[in] msr The MSR index (ECX).
 * @param[in] write WRMSR (true) or RDMSR (false).
 * @param[out] byte Offset of the byte holding the bit in the page.
 * @param[out] bit Bit number in that byte (0-7).
 * @return true with @p byte and @p bit set; false when the MSR has no bit
 *         (its accesses always exit; @p byte and @p bit untouched).
 */
VCORE_API bool vcore_nvmx_msr_bitmap_pos(uint32_t msr, bool write, uint32_t *byte, uint32_t *bit);

/* ------------------------------------------------------------------------- */
/** @name Accesses for vcore_nvmx_ept_translate() (exit-qualification bits 2:0)
 * @{ */
#define VCORE_NVMX_EPT_READ 1u  /**< Data read. */
#define VCORE_NVMX_EPT_WRITE 2u /**< Data write. */
#define VCORE_NVMX_EPT_FETCH 4u /**< Instruction fetch. */
/** @} */

/** @brief Outcomes of an L1 EPT walk. */
typedef enum vcore_nvmx_ept_kind {
    VCORE_NVMX_EPT_OK = 0,        /**< Translated: @c gpa holds the L1 guest-physical address. */
    VCORE_NVMX_EPT_VIOLATION = 1, /**< EPT violation (exit 48 to L1 with @c qualification). */
    VCORE_NVMX_EPT_MISCONFIG = 2  /**< EPT misconfiguration (exit 49 to L1). */
} vcore_nvmx_ept_kind_t;

/** @brief The result of walking L1's EPT for one L2 guest-physical address. */
typedef struct vcore_nvmx_ept_walk {
    size_t size;            /**< sizeof(vcore_nvmx_ept_walk_t). */
    uint32_t kind;          /**< ::vcore_nvmx_ept_kind_t. */
    uint32_t pad;           /**< Reserved. */
    uint64_t gpa;           /**< OK: the L1 guest-physical address. */
    /** VIOLATION: exit qualification bits 5:0 (SDM "Exit Qualification for EPT Violations": the
     * access in bits 2:0, the AND of the read/write/execute bits of the entries walked in bits
     * 5:3); the caller adds bits 7 and 8 (guest linear address valid, final access). */
    uint64_t qualification;
} vcore_nvmx_ept_walk_t;

/**
 * @brief Translates an L2 guest-physical address through L1's EPT (ept12).
 *
 * SDM Vol. 3, "EPT Translation Mechanism": 4- or 5-level walk from EPTP
 * bits 51:12, 1-GByte and 2-MByte pages, "EPT Misconfigurations" (write
 * without read, reserved bits, reserved memory types; execute-only entries
 * and 1-GByte pages are translations, as with IA32_VMX_EPT_VPID_CAP bits 0
 * and 17), "EPT Violations"
 * (not present or access not granted); with EPTP bit 6 the accessed flags
 * of the entries used and the dirty flag of the leaf (on a write) are set
 * in L1 memory when the translation succeeds. Each entry is read once.
 * @param[in] mem L1 memory.
 * @param[in] eptp vmcs12's EPT pointer.
 * @param[in] maxphyaddr L1's physical-address width, 32..52.
 * @param[in] l2_gpa The L2 guest-physical address.
 * @param[in] access VCORE_NVMX_EPT_READ / _WRITE / _FETCH bits.
 * @param[out] out The result; @c out->size must be set.
 * @return VCORE_OK when @p out holds a result.
 * @retval VCORE_ERR_INVAL A NULL argument, no access, a width outside 32..52, or a walk length other than 4 or 5.
 * @retval VCORE_ERR_ABI A size field is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_ept_translate(const vcore_nvmx_mem_t *mem, uint64_t eptp, uint32_t maxphyaddr,
                                                         uint64_t l2_gpa, uint32_t access, vcore_nvmx_ept_walk_t *out);

/* ------------------------------------------------------------------------- */
/** @name Pipeline options (vcore_nvmx_set_options())
 * @{ */
/** Before consuming guest state, enter vmcs02 with an invalid guest state and expect exit 33 (SDM "VM Entries": VMfail checks come first). */
#define VCORE_NVMX_OPT_EARLY_HW_CHECK (1u << 0)
/** Measurement only: write every vmcs02 field on every entry (no constant / dirty split). */
#define VCORE_NVMX_OPT_NO_DIRTY_SPLIT (1u << 1)
/** Measurement only: read every rarely-accessed guest field from vmcs02 on every exit to L1. */
#define VCORE_NVMX_OPT_EAGER_RARE_SYNC (1u << 2)
/** Measurement only: run every VM-entry check on every entry from L1, not only those whose inputs changed since the last entry that passed them. */
#define VCORE_NVMX_OPT_ALL_CHECKS (1u << 3)
/** Self-test: run the changed-input checks and every check on each entry; a different verdict fails the run with VCORE_ERR_STATE (diagnostic NVMX_CHECK_GATING). */
#define VCORE_NVMX_OPT_VERIFY_CHECKS (1u << 4)
/** Measurement only: no hardware VMCS shadowing for L1 even where the backend offers it (SDM "VMCS Shadowing"): every VMREAD and VMWRITE of L1 exits and is emulated. */
#define VCORE_NVMX_OPT_NO_HW_SHADOW (1u << 5)
/** Measurement only: L1's VMREAD/VMWRITE with register operands take the full emulation (state groups, vcore_nvmx_emulate()) instead of the run loop's in-place completion. */
#define VCORE_NVMX_OPT_NO_FAST_PATH (1u << 6)
/** Measurement only: L1's VMLAUNCH/VMRESUME take the full emulation (every state group, vcore_nvmx_emulate()) instead of the run loop's direct entry (SDM "VMLAUNCH/VMRESUME": no operand, and the invalid-opcode conditions precede the VM exit, "Relative Priority of Faults and VM Exits"). */
#define VCORE_NVMX_OPT_NO_FAST_ENTRY (1u << 7)
/** @} */

/**
 * @brief Sets the pipeline options of a nested-VMX vCPU.
 * @param[in,out] nvmx The nested state.
 * @param[in] flags VCORE_NVMX_OPT_* bits.
 * @return VCORE_OK, or VCORE_ERR_INVAL for NULL or unknown bits.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_set_options(vcore_nvmx_t *nvmx, uint32_t flags);

/**
 * @brief Test hook: the software VM-entry checks ignore one check (so the hardware's verdict shows).
 * @param[in,out] nvmx The nested state.
 * @param[in] check A ::vcore_vmx_check_id_t (x86/vmx_checks.h), 0 for none.
 * @return VCORE_OK, or VCORE_ERR_INVAL for NULL.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_test_skip_check(vcore_nvmx_t *nvmx, uint32_t check);

/** @brief What the pipeline did with the last exit from L2 (or the last nested entry). */
typedef struct vcore_nvmx_last {
    size_t size;            /**< sizeof(vcore_nvmx_last_t). */
    bool in_l2;             /**< L2 is the context the next run enters. */
    uint32_t exit_reason;   /**< Exit-reason field of the last exit from L2 (or of the failed entry given to L1). */
    uint32_t owner;         /**< ::vcore_nvmx_owner_t. */
    uint32_t kind;          /**< ::vcore_nvmx_rule_kind_t that decided. */
    uint32_t arg;           /**< The deciding control bit. */
    uint32_t field;         /**< The deciding vmcs12 field, 0 if none. */
    uint32_t check;         /**< A failed entry: the deciding VM-entry check (::vcore_vmx_check_id_t). */
    uint64_t l2_exits;      /**< Exits from L2 since the vCPU was created. */
    uint64_t reflected;     /**< Of those, reflected to L1. */
    uint64_t l0_handled;    /**< Of those, handled by L0 without returning. */
    uint64_t early_checks;  /**< Early hardware checks that ended in the expected exit 33. */
    uint64_t vmx_aborts;    /**< VMX aborts (a failed VM-exit MSR load). */
} vcore_nvmx_last_t;

/**
 * @brief Reads what the pipeline did last.
 * @param[in] nvmx The nested state.
 * @param[out] out Receives it; @c out->size must be set.
 * @return VCORE_OK, VCORE_ERR_INVAL (NULL) or VCORE_ERR_ABI (size).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_nvmx_last(const vcore_nvmx_t *nvmx, vcore_nvmx_last_t *out);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_NVMX_PIPELINE_H */
