/**
 * @file regs.h
 * @brief x86 architectural register state: register blocks and the vCPU state.
 *
 * The register blocks are value types exchanged with vcore_vcpu_get_regs() and
 * friends. vcore_x86_state_t is the complete architectural state the library
 * models for one vCPU; backends receive it through the ops table (backend.h).
 */
#ifndef VIRTCORE_X86_REGS_H
#define VIRTCORE_X86_REGS_H

#include "../common.h"

VCORE_BEGIN_DECLS

/** @brief Index of each general-purpose register in vcore_x86_regs_t::gpr. */
enum vcore_x86_gpr {
    VCORE_X86_RAX = 0, /**< RAX */
    VCORE_X86_RCX,     /**< RCX */
    VCORE_X86_RDX,     /**< RDX */
    VCORE_X86_RBX,     /**< RBX */
    VCORE_X86_RSP,     /**< RSP */
    VCORE_X86_RBP,     /**< RBP */
    VCORE_X86_RSI,     /**< RSI */
    VCORE_X86_RDI,     /**< RDI */
    VCORE_X86_R8,      /**< R8 */
    VCORE_X86_R9,      /**< R9 */
    VCORE_X86_R10,     /**< R10 */
    VCORE_X86_R11,     /**< R11 */
    VCORE_X86_R12,     /**< R12 */
    VCORE_X86_R13,     /**< R13 */
    VCORE_X86_R14,     /**< R14 */
    VCORE_X86_R15,     /**< R15 */
    VCORE_X86_NR_GPRS  /**< Number of GPRs (16). */
};

/**
 * @brief General-purpose registers, RIP and RFLAGS.
 *
 * GPRs are indexed in the hardware encoding order (the order of the ModRM
 * reg field), so instruction decoders can index the array directly.
 */
typedef struct vcore_x86_regs {
    size_t size;                        /**< sizeof(vcore_x86_regs_t). */
    uint64_t gpr[VCORE_X86_NR_GPRS];    /**< RAX..R15, see vcore_x86_gpr. */
    uint64_t rip;                       /**< Instruction pointer. */
    uint64_t rflags;                    /**< RFLAGS; bit 1 is always 1. */
} vcore_x86_regs_t;

/**
 * @name Segment access rights
 * Access rights use the layout of the VMCS guest access-rights fields
 * (SDM Vol. 3, "Guest Register State"), which is a superset of what SVM's
 * VMCB attribute field holds: the library converts at the backend edge.
 * @{
 */
#define VCORE_X86_AR_TYPE_MASK 0x000fu  /**< Bits 3:0: segment type. */
#define VCORE_X86_AR_S (1u << 4)        /**< Bit 4: descriptor type (0 system, 1 code/data). */
#define VCORE_X86_AR_DPL_SHIFT 5        /**< Bits 6:5: descriptor privilege level. */
#define VCORE_X86_AR_DPL_MASK (3u << 5) /**< Mask of the DPL field. */
#define VCORE_X86_AR_P (1u << 7)        /**< Bit 7: segment present. */
#define VCORE_X86_AR_AVL (1u << 12)     /**< Bit 12: available for system software. */
#define VCORE_X86_AR_L (1u << 13)       /**< Bit 13: 64-bit code segment (CS only). */
#define VCORE_X86_AR_DB (1u << 14)      /**< Bit 14: default operation size (0 = 16-bit, 1 = 32-bit). */
#define VCORE_X86_AR_G (1u << 15)       /**< Bit 15: granularity. */
#define VCORE_X86_AR_UNUSABLE (1u << 16) /**< Bit 16: segment unusable (null selector loaded). */
/** Bits that are reserved in the access-rights layout (11:8 and 31:17). */
#define VCORE_X86_AR_RESERVED 0xfffe0f00u
/** @} */

/** @brief One segment register with its hidden (descriptor-cache) part. */
typedef struct vcore_x86_segment {
    uint64_t base;     /**< Segment base address. */
    uint32_t limit;    /**< Segment limit in bytes (already scaled by G). */
    uint16_t selector; /**< Visible selector. */
    uint16_t pad;      /**< Reserved, must be zero. */
    uint32_t ar;       /**< Access rights, VMCS layout (VCORE_X86_AR_*). */
} vcore_x86_segment_t;

/** @brief A descriptor-table register (GDTR or IDTR). */
typedef struct vcore_x86_dtable {
    uint64_t base;  /**< Linear base address. */
    uint16_t limit; /**< Table limit. */
} vcore_x86_dtable_t;

/** @brief Index of each segment register in vcore_x86_sregs_t::seg. */
enum vcore_x86_seg {
    VCORE_X86_ES = 0, /**< ES */
    VCORE_X86_CS,     /**< CS */
    VCORE_X86_SS,     /**< SS */
    VCORE_X86_DS,     /**< DS */
    VCORE_X86_FS,     /**< FS */
    VCORE_X86_GS,     /**< GS */
    VCORE_X86_LDTR,   /**< LDTR */
    VCORE_X86_TR,     /**< TR */
    VCORE_X86_NR_SEGS /**< Number of segment registers (8). */
};

/** @brief System registers: segments, descriptor tables, control registers, EFER. */
typedef struct vcore_x86_sregs {
    size_t size;                             /**< sizeof(vcore_x86_sregs_t). */
    vcore_x86_segment_t seg[VCORE_X86_NR_SEGS]; /**< ES..TR, see vcore_x86_seg (hardware encoding order). */
    vcore_x86_dtable_t gdtr;                 /**< Global descriptor table register. */
    vcore_x86_dtable_t idtr;                 /**< Interrupt descriptor table register. */
    uint64_t cr0;                            /**< CR0. */
    uint64_t cr2;                            /**< CR2 (page-fault linear address). */
    uint64_t cr3;                            /**< CR3. */
    uint64_t cr4;                            /**< CR4. */
    uint64_t cr8;                            /**< CR8 (task-priority register, bits 3:0). */
    uint64_t efer;                           /**< IA32_EFER (MSR C000_0080H). */
} vcore_x86_sregs_t;

/** @brief Debug registers. */
typedef struct vcore_x86_dregs {
    size_t size;   /**< sizeof(vcore_x86_dregs_t). */
    uint64_t dr[4]; /**< DR0..DR3 breakpoint linear addresses. */
    uint64_t dr6;  /**< DR6 debug status. */
    uint64_t dr7;  /**< DR7 debug control. */
} vcore_x86_dregs_t;

/**
 * @brief x87 and SSE control and status words.
 *
 * The library models the control state a VMM must set up or migrate; the
 * data registers themselves stay in the backend (XSAVE area).
 */
typedef struct vcore_x86_fpu {
    size_t size;         /**< sizeof(vcore_x86_fpu_t). */
    uint16_t fcw;        /**< x87 control word (FINIT value 037FH). */
    uint16_t fsw;        /**< x87 status word. */
    uint16_t ftw;        /**< x87 tag word, full 16-bit form (FFFFH = all empty). */
    uint16_t fop;        /**< Last x87 opcode. */
    uint32_t mxcsr;      /**< SSE control/status register (reset value 1F80H). */
    uint32_t mxcsr_mask; /**< Writable MXCSR bits (FXSAVE MXCSR_MASK; FFBFH if no DAZ). */
} vcore_x86_fpu_t;

/**
 * @brief MSRs modelled per vCPU (the ones a VMM needs to set up and migrate).
 *
 * EFER lives in vcore_x86_sregs_t. Access individual MSRs by index with
 * vcore_vcpu_get_msr() / vcore_vcpu_set_msr().
 */
typedef struct vcore_x86_msrs {
    uint64_t apic_base;       /**< IA32_APIC_BASE (1BH). */
    uint64_t pat;             /**< IA32_PAT (277H). */
    uint64_t sysenter_cs;     /**< IA32_SYSENTER_CS (174H). */
    uint64_t sysenter_esp;    /**< IA32_SYSENTER_ESP (175H). */
    uint64_t sysenter_eip;    /**< IA32_SYSENTER_EIP (176H). */
    uint64_t star;            /**< IA32_STAR (C000_0081H). */
    uint64_t lstar;           /**< IA32_LSTAR (C000_0082H). */
    uint64_t cstar;           /**< IA32_CSTAR (C000_0083H). */
    uint64_t sfmask;          /**< IA32_FMASK (C000_0084H). */
    uint64_t kernel_gs_base;  /**< IA32_KERNEL_GS_BASE (C000_0102H). */
    uint64_t tsc;             /**< IA32_TIME_STAMP_COUNTER (10H); its own state group (VCORE_X86_STATE_TSC). */
    uint64_t misc_enable;     /**< IA32_MISC_ENABLE (1A0H). */
    uint64_t smbase;          /**< SMBASE (IA32_SMBASE 9EH on Intel, read-only to software). */
    uint64_t tsc_aux;         /**< IA32_TSC_AUX (C000_0103H). */
    uint64_t feature_control; /**< IA32_FEATURE_CONTROL (3AH): lock (bit 0), VMX in SMX (1), VMX outside SMX (2), SENTER (15:8). */
    uint64_t debugctl;        /**< IA32_DEBUGCTL (1D9H); a VM exit to L1 clears it (SDM Vol. 3, "Loading Host State"). */
} vcore_x86_msrs_t;

/**
 * @brief Event state: exceptions, interrupts and NMIs on their way into the
 *        guest, interruptibility, and window requests.
 *
 * SDM Vol. 3, "Event Injection" and "Guest Non-Register State"; APM Vol. 2,
 * "Event Injection". An event is @e pending when it has been raised but its
 * delivery has not started (it may still be blocked), and @e injected when
 * delivery started and was interrupted by an exit, so it must be delivered
 * again, unchanged, before the guest runs.
 */
typedef struct vcore_x86_events {
    size_t size;                       /**< sizeof(vcore_x86_events_t). */
    uint8_t exception_pending;         /**< An exception is raised and waits for delivery. */
    uint8_t exception_injected;        /**< An exception's delivery was interrupted: re-deliver it. */
    uint8_t exception_vector;          /**< Its vector (0-31, never 2). */
    uint8_t exception_has_error_code;  /**< It pushes an error code. */
    uint32_t exception_error_code;     /**< The error code. */
    uint8_t exception_has_payload;     /**< @c exception_payload is valid. */
    uint8_t interrupt_pending;         /**< An external interrupt waits for the guest to be interruptible. */
    uint8_t interrupt_injected;        /**< An interrupt's delivery was interrupted: re-deliver it. */
    uint8_t interrupt_vector;          /**< Its vector. */
    uint8_t interrupt_soft;            /**< The injected event is a software interrupt (INT n). */
    uint8_t nmi_pending;               /**< An NMI waits for the NMI window (one is latched at most). */
    uint8_t nmi_injected;              /**< An NMI's delivery was interrupted: re-deliver it. */
    uint8_t nmi_masked;                /**< Blocking by NMI: the guest runs its NMI handler (until IRET). */
    uint64_t exception_payload;        /**< \#PF: the faulting address (CR2); \#DB: the DR6 bits to set. */
    uint8_t sti_blocking;              /**< Blocking by STI (interruptibility bit 0). */
    uint8_t movss_blocking;            /**< Blocking by MOV SS / POP SS (interruptibility bit 1). */
    uint8_t request_interrupt_window;  /**< Exit with VCORE_EXIT_IRQ_WINDOW once an interrupt can be delivered (cleared then). */
    uint8_t request_nmi_window;        /**< Exit with VCORE_EXIT_NMI_WINDOW once an NMI can be delivered (cleared then). */
    uint8_t soft_insn_len;             /**< Length of the INT n / INT3 / INTO whose event is re-delivered (RIP advance). */
    uint8_t pad[3];                    /**< Reserved, zero. */
} vcore_x86_events_t;

/**
 * @name State groups
 * Bits naming parts of vcore_x86_state_t, used for valid/dirty tracking
 * between the core model and a backend. A group is the smallest unit the
 * core asks a backend to read or write, so reading RIP after an exit never
 * costs the segment registers. The register-block names (REGS, SREGS ...)
 * are unions of groups.
 * @{
 */
#define VCORE_X86_STATE_GPRS (1u << 0)       /**< RAX..R15 except RSP. */
#define VCORE_X86_STATE_RIP (1u << 1)        /**< RIP. */
#define VCORE_X86_STATE_RFLAGS (1u << 2)     /**< RFLAGS. */
#define VCORE_X86_STATE_SEG_CS (1u << 3)     /**< CS selector, base and limit (its access rights are in MODE). */
#define VCORE_X86_STATE_SEG_SS (1u << 4)     /**< SS selector, base and limit (its access rights are in MODE). */
#define VCORE_X86_STATE_SEG_DATA (1u << 5)   /**< ES, DS, FS, GS. */
#define VCORE_X86_STATE_SEG_SYS (1u << 6)    /**< LDTR, TR. */
#define VCORE_X86_STATE_DTABLES (1u << 7)    /**< GDTR, IDTR. */
#define VCORE_X86_STATE_CR0 (1u << 8)        /**< CR0. */
#define VCORE_X86_STATE_CR2 (1u << 9)        /**< CR2. */
#define VCORE_X86_STATE_CR3 (1u << 10)       /**< CR3. */
#define VCORE_X86_STATE_CR4 (1u << 11)       /**< CR4. */
#define VCORE_X86_STATE_CR8 (1u << 12)       /**< CR8 (TPR). */
#define VCORE_X86_STATE_EFER (1u << 13)      /**< IA32_EFER. */
#define VCORE_X86_STATE_DREGS (1u << 14)     /**< DR0-3, DR6, DR7. */
#define VCORE_X86_STATE_FPU (1u << 15)       /**< x87/SSE control words. */
#define VCORE_X86_STATE_XCR0 (1u << 16)      /**< XCR0. */
#define VCORE_X86_STATE_MSRS (1u << 17)      /**< vcore_x86_msrs_t except the TSC. */
#define VCORE_X86_STATE_TSC (1u << 18)       /**< IA32_TIME_STAMP_COUNTER: it advances on its own, so it is written only when set. */
#define VCORE_X86_STATE_EVENTS (1u << 19)    /**< vcore_x86_events_t. */
/**
 * The access rights of CS and SS: they fix the CPL (SS.DPL, SDM Vol. 3,
 * "Current Privilege Level") and the code size (CS.L, CS.D), which every
 * instruction emulation needs while the rest of the segments it rarely does.
 */
#define VCORE_X86_STATE_MODE (1u << 20)
/** RSP: on VMX it lives in the VMCS while the other GPRs do not, so an
 *  emulation that does not use it must not pay for it. */
#define VCORE_X86_STATE_RSP (1u << 21)
/** GPRs, RIP, RFLAGS (vcore_x86_regs_t). */
#define VCORE_X86_STATE_REGS                                                                        \
    (VCORE_X86_STATE_GPRS | VCORE_X86_STATE_RSP | VCORE_X86_STATE_RIP | VCORE_X86_STATE_RFLAGS)
/** Segment registers. */
#define VCORE_X86_STATE_SEGS                                                                        \
    (VCORE_X86_STATE_SEG_CS | VCORE_X86_STATE_SEG_SS | VCORE_X86_STATE_SEG_DATA |                     \
     VCORE_X86_STATE_SEG_SYS | VCORE_X86_STATE_MODE)
/** Control registers. */
#define VCORE_X86_STATE_CRS                                                                         \
    (VCORE_X86_STATE_CR0 | VCORE_X86_STATE_CR2 | VCORE_X86_STATE_CR3 | VCORE_X86_STATE_CR4 |         \
     VCORE_X86_STATE_CR8)
/** Segments, descriptor tables, CRs, EFER (vcore_x86_sregs_t). */
#define VCORE_X86_STATE_SREGS                                                                       \
    (VCORE_X86_STATE_SEGS | VCORE_X86_STATE_DTABLES | VCORE_X86_STATE_CRS | VCORE_X86_STATE_EFER)
/** Every modelled MSR (vcore_x86_msrs_t). */
#define VCORE_X86_STATE_ALL_MSRS (VCORE_X86_STATE_MSRS | VCORE_X86_STATE_TSC)
#define VCORE_X86_STATE_ALL 0x3fffffu        /**< Every group of the register model (not XMM). */
/**
 * XMM0-XMM15 (vcore_x86_state_t::xmm). Outside VCORE_X86_STATE_ALL: only a
 * backend that names it in vcore_backend_t::state_groups holds it, and the
 * core only reads it (XMM fast hypercall input, x86/hyperv.h).
 */
#define VCORE_X86_STATE_XMM (1u << 22)
/** @} */

/** @brief The complete architectural state the library models for a vCPU. */
typedef struct vcore_x86_state {
    vcore_x86_regs_t regs;     /**< GPRs, RIP, RFLAGS. */
    vcore_x86_sregs_t sregs;   /**< Segments, tables, CRs, EFER. */
    vcore_x86_dregs_t dregs;   /**< Debug registers. */
    vcore_x86_fpu_t fpu;       /**< x87/SSE control words. */
    uint64_t xcr0;             /**< XCR0 (XFEATURE_ENABLED_MASK). */
    vcore_x86_msrs_t msrs;     /**< Modelled MSRs. */
    vcore_x86_events_t events; /**< Event state. */
    /** XMM0-XMM15 (group VCORE_X86_STATE_XMM): xmm[i][0] = bits 63:0, xmm[i][1] = bits 127:64. */
    uint64_t xmm[16][2];
} vcore_x86_state_t;

VCORE_END_DECLS

#endif /* VIRTCORE_X86_REGS_H */
