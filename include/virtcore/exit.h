/**
 * @file exit.h
 * @brief VM exits: a generic reason, decoded details, raw hardware data, replies.
 *
 * vcore_vcpu_run() fills a vcore_exit_t. The @c u union holds the decoded
 * form for @c reason; @c raw always holds what the hardware or kernel
 * reported, so nothing is lost even for reasons the library does not decode.
 *
 * Exits that need an answer (I/O IN, MMIO read, CPUID, RDMSR, WRMSR,
 * hypercall) have VCORE_EXIT_F_NEEDS_REPLY set: the VMM writes the reply
 * slot of the same structure and passes it to the next vcore_vcpu_run()
 * call, which completes the instruction before resuming the guest. The core
 * enforces this contract the same way on every backend: a run whose exit
 * structure does not carry the reason of the exit being answered is refused
 * with VCORE_ERR_STATE and the diagnostic EXIT_REPLY_MISMATCH, and nothing
 * runs.
 */
#ifndef VIRTCORE_EXIT_H
#define VIRTCORE_EXIT_H

#include "common.h"

VCORE_BEGIN_DECLS

/**
 * @brief The generic exit reasons: X(name, value, description).
 *
 * Values are pinned and the list is append-only; vcore_exit_reason_name()
 * and the enum are generated from it.
 */
#define VCORE_EXIT_REASON_LIST(X)  \
    X(NONE, 0, "No exit (structure not filled).") \
    X(IO, 1, "Port I/O; see vcore_exit_t::u.io.") \
    X(MMIO, 2, "Access to unmapped guest-physical memory; u.mmio.") \
    X(HLT, 3, "The guest executed HLT.") \
    X(SHUTDOWN, 4, "Shutdown / triple fault.") \
    X(FAIL_ENTRY, 5, "The hardware refused VM entry; u.fail_entry.") \
    X(INTERNAL_ERROR, 6, "The backend could not handle an exit; u.internal.") \
    X(SYSTEM_EVENT, 7, "Reset / shutdown / crash request; u.system_event.") \
    X(CPUID, 8, "CPUID needing an answer; u.cpuid.") \
    X(RDMSR, 9, "RDMSR needing an answer; u.msr.") \
    X(WRMSR, 10, "WRMSR; u.msr (reply: error).") \
    X(HYPERCALL, 11, "VMCALL/VMMCALL/HVC; u.hypercall.") \
    X(DEBUG, 12, "Debug event; u.debug.") \
    X(EXCEPTION, 13, "Guest exception intercepted; u.exception.") \
    X(INTERRUPTED, 14, "vcore_vcpu_kick() or a signal stopped the run.") \
    X(HW_ERROR, 15, "VMfail or similar from the entry instruction; u.hw_error.") \
    X(RAW, 16, "Not decoded; see vcore_exit_t::raw.") \
    X(STAGE2_FAULT, 17, "arm64 stage-2 fault outside memory; u.mmio plus raw.") \
    X(INIT, 18, "INIT signal received while running.") \
    X(IRQ_WINDOW, 19, "The guest can take an external interrupt now (vcore_x86_events_t::request_interrupt_window).") \
    X(NMI_WINDOW, 20, "The guest can take an NMI now (vcore_x86_events_t::request_nmi_window).") \
    X(VMX_INSN, 21, "The guest executed a VMX instruction; u.vmx_insn (see x86/vmx_exits.h).") \
    X(CR_ACCESS, 22, "MOV to/from CR0, CR3, CR4 or CR8, CLTS or LMSW; u.cr (the core completes it).") \
    X(SVM_INSN, 23, "The guest executed an SVM instruction; u.svm_insn (see x86/nsvm.h).")

/** @brief Generic exit reasons (values pinned; see VCORE_EXIT_REASON_LIST). */
typedef enum vcore_exit_reason {
#define VCORE__EXIT_ENUM(name, value, desc) VCORE_EXIT_##name = (value),
    VCORE_EXIT_REASON_LIST(VCORE__EXIT_ENUM)
#undef VCORE__EXIT_ENUM
    VCORE_EXIT_REASON_END /**< One past the highest reason (the list is dense and ascending). */
} vcore_exit_reason_t;

/** @name vcore_exit_t::flags
 * @{ */
#define VCORE_EXIT_F_NEEDS_REPLY (1u << 0) /**< Fill the reply slot before the next run. */
/** A Hyper-V hypercall the library decoded but leaves to the VMM: u.hypercall.hv holds it; the reply's
 *  @c ret is the hypercall result value (the core puts it in EDX:EAX for a 32-bit caller). */
#define VCORE_EXIT_F_HYPERV (1u << 1)
/** An RDMSR or WRMSR exit that is no guest instruction: an entry of one of the guest hypervisor's VMX MSR
 *  lists (SDM Vol. 3, "Loading MSRs", "Saving MSRs", "Loading MSRs" of "VM Exits") naming an MSR the VMM
 *  models. u.msr.why holds the list (VCORE_EXIT_MSR_LIST_*), u.msr.index the entry's MSR, u.msr.value
 *  (WRMSR) its data. The reply is the same as for the instruction - RDMSR: @c value, or @c error; WRMSR:
 *  @c error - but no RIP moves: the core goes on with the list where it stopped. A reply error is the
 *  list's failure: the VM entry fails (exit reason 34, the entry's 1-based index as qualification) for
 *  the VM-entry MSR-load list, a VMX abort (indicator 1 or 4) for the VM-exit lists. (Bits 2 and 4
 *  are VCORE_EXIT_F_L2 and VCORE_EXIT_F_APIC_EOI, x86/nvmx_pipeline.h.) */
#define VCORE_EXIT_F_MSR_LIST (1u << 3)
/** @} */

/** @name vcore_exit_t::u.msr.why with VCORE_EXIT_F_MSR_LIST (values pinned)
 * @{ */
/** WRMSR: an entry of the VM-entry MSR-load list of the guest hypervisor's VMLAUNCH/VMRESUME, loaded
 *  after the guest state (SDM Vol. 3, "Loading MSRs"): the value is the nested guest's. */
#define VCORE_EXIT_MSR_LIST_VMENTRY_LOAD 1u
/** RDMSR: an entry of the VM-exit MSR-store list, the nested guest's value at the VM exit (SDM Vol. 3,
 *  "Saving MSRs"); the reply value is stored in the list's entry (bytes 15:8). */
#define VCORE_EXIT_MSR_LIST_VMEXIT_STORE 2u
/** WRMSR: an entry of the VM-exit MSR-load list, loaded after the guest hypervisor's host state (SDM
 *  Vol. 3, "Loading MSRs" of "VM Exits"): the value is the guest hypervisor's. */
#define VCORE_EXIT_MSR_LIST_VMEXIT_LOAD 3u
/** @} */

/** @name vcore_exit_t::u.mmio.flags (AArch64 aborts)
 * @{ */
#define VCORE_EXIT_MMIO_F_SYNDROME (1u << 0)    /**< Instruction syndrome valid (ISV): len, reg, sign extension, SF, AR hold. */
#define VCORE_EXIT_MMIO_F_SIGN_EXTEND (1u << 1) /**< The load sign-extends (SSE). */
#define VCORE_EXIT_MMIO_F_REG64 (1u << 2)       /**< The register is 64-bit Xn (SF); else 32-bit Wn. */
#define VCORE_EXIT_MMIO_F_ACQ_REL (1u << 3)     /**< Acquire/release semantics (AR). */
#define VCORE_EXIT_MMIO_F_FETCH (1u << 4)       /**< Instruction fetch (instruction abort). */
#define VCORE_EXIT_MMIO_F_S1PTW (1u << 5)       /**< Stage-2 fault on a stage-1 translation table walk. */
#define VCORE_EXIT_MMIO_F_CACHE_MAINT (1u << 6) /**< Cache maintenance or address translation instruction (CM). */
#define VCORE_EXIT_MMIO_F_EXTERNAL (1u << 7)    /**< External abort type (EA). */
#define VCORE_EXIT_MMIO_F_IPA_VALID (1u << 8)   /**< @c gpa holds the faulting IPA (HPFAR_EL2 or PAR_EL1). */
#define VCORE_EXIT_MMIO_F_VA_VALID (1u << 9)    /**< @c va holds FAR_EL2 (FnV clear). */
/** @} */

/** @brief Kinds of stage-2 faults (vcore_exit_t::u.mmio.fault). Values are pinned. */
typedef enum vcore_exit_fault {
    VCORE_EXIT_FAULT_NONE = 0,         /**< Not a fault (x86 MMIO). */
    VCORE_EXIT_FAULT_TRANSLATION = 1,  /**< Translation fault (no valid descriptor). */
    VCORE_EXIT_FAULT_ACCESS_FLAG = 2,  /**< Access flag fault. */
    VCORE_EXIT_FAULT_PERMISSION = 3,   /**< Permission fault. */
    VCORE_EXIT_FAULT_ADDRESS_SIZE = 4, /**< Address size fault. */
    VCORE_EXIT_FAULT_EXTERNAL = 5,     /**< Synchronous external abort or parity/ECC error. */
    VCORE_EXIT_FAULT_ALIGNMENT = 6,    /**< Alignment fault. */
    VCORE_EXIT_FAULT_OTHER = 7         /**< TLB conflict, unsupported atomic update, tag check, granule protection, IMPLEMENTATION DEFINED. */
} vcore_exit_fault_t;

/** @brief vcore_exit_t::u.mmio.level when the fault has no lookup level. */
#define VCORE_EXIT_LEVEL_NONE (-128)

/** @brief Where vcore_exit_t::raw came from. */
typedef enum vcore_exit_source {
    VCORE_EXIT_SRC_NONE = 0,  /**< No raw data. */
    VCORE_EXIT_SRC_MOCK = 1,  /**< Mock backend: raw is whatever the test scripted. */
    VCORE_EXIT_SRC_KVM = 2,   /**< kvm_run: reason = exit_reason, data = the exit union. */
    VCORE_EXIT_SRC_VMX = 3,   /**< VMCS exit-information fields. */
    VCORE_EXIT_SRC_SVM = 4,   /**< VMCB EXITCODE / EXITINFO1 / EXITINFO2 / EXITINTINFO. */
    VCORE_EXIT_SRC_ARM64 = 5  /**< ESR_EL2 / FAR_EL2 / HPFAR_EL2. */
} vcore_exit_source_t;

/** @brief Words of raw data kept per exit (256 bytes). */
#define VCORE_EXIT_RAW_WORDS 32

/** @brief Most data words in internal-error and system-event exits. */
#define VCORE_EXIT_MAX_DATA 16

/** @brief One VM exit. */
typedef struct vcore_exit {
    size_t size;     /**< sizeof(vcore_exit_t), set by the caller. */
    uint32_t reason; /**< vcore_exit_reason_t. */
    uint32_t flags;  /**< VCORE_EXIT_F_*. */
    /** Decoded details; which member is valid depends on @c reason. */
    union {
        /** VCORE_EXIT_IO. */
        struct {
            uint16_t port;  /**< I/O port. */
            uint8_t width;  /**< Access width in bytes: 1, 2 or 4. */
            uint8_t is_in;  /**< 1 for IN/INS (needs reply), 0 for OUT/OUTS. */
            uint32_t count; /**< Repetitions (string I/O); 1 otherwise. */
            /** width * count bytes: OUT data, or the reply buffer for IN. Valid until the next run. */
            uint8_t *data;
        } io;
        /** VCORE_EXIT_MMIO and VCORE_EXIT_STAGE2_FAULT. */
        struct {
            uint64_t gpa;     /**< Guest-physical address. */
            uint32_t len;     /**< Access length in bytes (1..8). */
            uint8_t is_write; /**< 1 for a write. */
            uint8_t pad[3];   /**< Reserved. */
            uint8_t data[8];  /**< Written data, or the reply for a read. */
            /* Filled for AArch64 aborts (raw.source VCORE_EXIT_SRC_ARM64); zero otherwise. */
            uint64_t va;      /**< FAR_EL2: the guest virtual address (if VCORE_EXIT_MMIO_F_VA_VALID). */
            uint32_t flags;   /**< VCORE_EXIT_MMIO_F_*. */
            uint8_t reg;      /**< Register of the load/store (ESR ISS.SRT; 31 = XZR), with VCORE_EXIT_MMIO_F_SYNDROME. */
            uint8_t fault;    /**< vcore_exit_fault_t: what kind of fault. */
            int8_t level;     /**< Lookup level of the fault (-1..3), or -128 if the fault has none. */
            uint8_t fsc;      /**< Raw fault status code (ESR ISS.DFSC / IFSC). */
        } mmio;
        /** VCORE_EXIT_CPUID. */
        struct {
            uint32_t function; /**< EAX input. */
            uint32_t index;    /**< ECX input. */
            uint32_t eax;      /**< Reply: EAX output. */
            uint32_t ebx;      /**< Reply: EBX output. */
            uint32_t ecx;      /**< Reply: ECX output. */
            uint32_t edx;      /**< Reply: EDX output. */
        } cpuid;
        /** VCORE_EXIT_RDMSR and VCORE_EXIT_WRMSR; on arm64 a trapped MRS and MSR. */
        struct {
            uint32_t index; /**< MSR index (ECX); arm64: the system register's op0:op1:CRn:CRm:op2 in bits [15:14][13:11][10:7][6:3][2:0]. */
            uint8_t error;  /**< Reply: 1 = inject \#GP(0) (arm64: the instruction is UNDEFINED at EL1) instead of completing. */
            uint8_t pad[3]; /**< Reserved. */
            uint64_t value; /**< WRMSR: value written; RDMSR: reply value. */
            uint32_t why;   /**< Backend-specific reason the MSR exited (e.g. KVM_MSR_EXIT_REASON_*); with VCORE_EXIT_F_MSR_LIST the list (VCORE_EXIT_MSR_LIST_*). */
            uint32_t pad2;  /**< Reserved. */
        } msr;
        /** VCORE_EXIT_HYPERCALL. */
        struct {
            uint64_t nr;      /**< Call number (RAX on x86); arm64: the HVC/SMC immediate. */
            uint64_t args[6]; /**< Arguments (arm64: X0..X5; X0 holds an SMCCC function id). */
            uint64_t ret;     /**< Reply: return value. */
            uint32_t longmode;/**< x86: caller was in 64-bit mode. */
            /**
             * Reply: 1 = the instruction faults instead of completing (an
             * exception was raised through the event state, e.g. the \#UD of
             * a hypercall from CPL > 0): the backend leaves RAX and RIP
             * unchanged. 0 = complete it (RAX = @c ret, RIP past it).
             */
            uint8_t fault;
            uint8_t insn_len; /**< Length of the VMCALL/VMMCALL (3); 0 when the backend does not know it. */
            uint16_t pad;     /**< Reserved. */
            /** With VCORE_EXIT_F_HYPERV: the Hyper-V hypercall as the core decoded it (x86/hyperv.h). */
            struct {
                uint64_t control;   /**< Hypercall input value (RCX; EDX:EAX for a 32-bit caller). */
                uint64_t input;     /**< Input parameters GPA, or fast input parameter (RDX; EBX:ECX). */
                uint64_t output;    /**< Output parameters GPA, or fast output parameter (R8; EDI:ESI). */
                uint16_t code;      /**< Call code, bits 15:0. */
                uint8_t fast;       /**< Fast bit (16). */
                uint8_t pad;        /**< Reserved. */
                uint16_t var_size;  /**< Variable header size in QWORDs, bits 26:17. */
                uint16_t rep_count; /**< Rep count, bits 43:32. */
                uint16_t rep_start; /**< Rep start index, bits 59:48. */
                uint16_t pad2[3];   /**< Reserved. */
            } hv;
        } hypercall;
        /** VCORE_EXIT_FAIL_ENTRY. */
        struct {
            uint64_t hw_reason;    /**< Hardware entry-failure reason (e.g. VMX exit reason | bit 31). */
            uint64_t qualification; /**< Exit qualification, if any. */
            uint32_t cpu;          /**< Host CPU, if known. */
            uint32_t pad;          /**< Reserved. */
        } fail_entry;
        /** VCORE_EXIT_INTERNAL_ERROR. */
        struct {
            uint32_t suberror;                  /**< Backend sub-error (e.g. KVM_INTERNAL_ERROR_*). */
            uint32_t ndata;                     /**< Valid words in @c data. */
            uint64_t data[VCORE_EXIT_MAX_DATA]; /**< Extra data. */
        } internal;
        /** VCORE_EXIT_SYSTEM_EVENT. */
        struct {
            uint32_t type;                      /**< Event type (backend encoding, e.g. KVM_SYSTEM_EVENT_*). */
            uint32_t ndata;                     /**< Valid words in @c data. */
            uint64_t data[VCORE_EXIT_MAX_DATA]; /**< Extra data. */
        } system_event;
        /** VCORE_EXIT_DEBUG. */
        struct {
            uint32_t exception; /**< Vector (1 = \#DB, 3 = \#BP). */
            uint32_t pad;       /**< Reserved. */
            uint64_t pc;        /**< Guest RIP/PC. */
            uint64_t dr6;       /**< DR6 at the event. */
            uint64_t dr7;       /**< DR7 at the event. */
        } debug;
        /** VCORE_EXIT_EXCEPTION. */
        struct {
            uint8_t vector;         /**< Exception vector. */
            uint8_t has_error_code; /**< 1 if @c error_code is valid. */
            uint8_t pad[2];         /**< Reserved. */
            uint32_t error_code;    /**< Error code. */
            uint64_t cr2;           /**< Faulting address for \#PF. */
        } exception;
        /** VCORE_EXIT_VMX_INSN: the VM-exit information of a VMX instruction (SDM Vol. 3, "VM Exits"). */
        struct {
            uint32_t op;            /**< vcore_nvmx_op_t (x86/nvmx.h). */
            uint32_t basic_reason;  /**< SDM basic exit reason (VCORE_VMX_EXIT_VMCLEAR ...): the one of @c op. */
            uint32_t insn_info;     /**< VM-exit instruction-information field (0 where the SDM defines none). */
            uint32_t insn_len;      /**< VM-exit instruction length. */
            uint64_t qualification; /**< Exit qualification: the memory operand's displacement. */
        } vmx_insn;
        /** VCORE_EXIT_SVM_INSN: an intercepted SVM instruction (AMD APM Vol. 3). */
        struct {
            uint32_t op;       /**< vcore_nsvm_op_t (x86/nsvm.h). */
            uint32_t insn_len; /**< Instruction length (3). */
        } svm_insn;
        /** VCORE_EXIT_CR_ACCESS: SDM Vol. 3, "Exit Qualification for Control-Register Accesses". */
        struct {
            uint8_t cr;           /**< Control register: 0, 3, 4 or 8. */
            uint8_t type;         /**< 0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW. */
            uint8_t gpr;          /**< General-purpose register operand (vcore_x86_gpr). */
            uint8_t pad;          /**< Reserved. */
            uint16_t lmsw_source; /**< LMSW source data. */
            uint16_t pad2;        /**< Reserved. */
            uint32_t insn_len;    /**< Instruction length. */
        } cr;
        /** VCORE_EXIT_HW_ERROR. */
        struct {
            int32_t kind;        /**< 1 = VMfailInvalid, 2 = VMfailValid, 3 = other. */
            uint32_t instr_error; /**< VM-instruction error number for VMfailValid. */
        } hw_error;
        uint64_t pad[24]; /**< Keeps the union size fixed across versions. */
    } u;
    /** What the hardware or kernel reported, verbatim. */
    struct {
        uint32_t source;                     /**< vcore_exit_source_t. */
        uint32_t reason;                     /**< Hardware/kernel exit code. */
        uint64_t qualification;              /**< Exit qualification / EXITINFO1 / ESR. */
        uint64_t data[VCORE_EXIT_RAW_WORDS]; /**< Further raw words (backend-documented layout). */
    } raw;
} vcore_exit_t;

/**
 * @brief Returns the name of an exit reason, e.g. "IO".
 * @param[in] reason A vcore_exit_reason_t value.
 * @return A static string; "UNKNOWN" for values not in the list.
 */
VCORE_API const char *vcore_exit_reason_name(uint32_t reason);

VCORE_END_DECLS

#endif /* VIRTCORE_EXIT_H */
