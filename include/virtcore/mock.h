/**
 * @file mock.h
 * @brief Mock backend controls: script exits, inspect operation counts.
 *
 * The mock backend holds the vCPU state in a software model and returns the
 * exits a test pushes, in order. An unscripted run fails with
 * VCORE_ERR_UNSCRIPTED; an op it does not support fails with
 * VCORE_ERR_UNSUPPORTED. Every backend operation is counted by kind, so a
 * test (or benchmark) can prove how many state transfers a path costs.
 *
 * Typical use in a VMM's unit test:
 * @code
 * vcore_vm_config_t cfg; vcore_vm_config_init(&cfg);
 * cfg.backend = vcore_backend_mock();
 * vcore_vm_create(&cfg, &vm);  vcore_vcpu_create(vm, NULL, &vcpu);
 * vcore_exit_t e = { .size = sizeof e, .reason = VCORE_EXIT_HLT };
 * vcore_mock_push_exit(vcpu, &e);
 * vcore_vcpu_run(vcpu, &out);   // out.reason == VCORE_EXIT_HLT
 * @endcode
 */
#ifndef VIRTCORE_MOCK_H
#define VIRTCORE_MOCK_H

#include "common.h"
#include "exit.h"
#include "vcpu.h"

VCORE_BEGIN_DECLS

struct vcore_hw_vmcs; /* a backend's hardware VMCS (backend.h: vcore_hw_vmcs_t) */
struct vcore_hw_vmcb; /* a backend's hardware VMCB (backend.h: vcore_hw_vmcb_t) */

/** @brief Most exits that can be queued per vCPU. */
#define VCORE_MOCK_MAX_SCRIPT 64u

/** @brief Kinds of backend operations the mock counts. */
typedef enum vcore_mock_op {
    VCORE_MOCK_OP_VM_INIT = 0,   /**< vm_init */
    VCORE_MOCK_OP_VM_MAP,        /**< vm_map */
    VCORE_MOCK_OP_VM_UNMAP,      /**< vm_unmap */
    VCORE_MOCK_OP_VCPU_INIT,     /**< vcpu_init */
    VCORE_MOCK_OP_GET_STATE,     /**< vcpu_get_state (any class) */
    VCORE_MOCK_OP_SET_STATE,     /**< vcpu_set_state (any class) */
    VCORE_MOCK_OP_SET_CPUID,     /**< vcpu_set_cpuid */
    VCORE_MOCK_OP_RUN,           /**< vcpu_run */
    VCORE_MOCK_OP_KICK,          /**< vcpu_kick */
    VCORE_MOCK_OP_REPLY,         /**< a reply consumed by run */
    VCORE_MOCK_OP_DELIVER_EXCEPTION, /**< an injected exception delivered */
    VCORE_MOCK_OP_DELIVER_INTERRUPT, /**< an injected external interrupt delivered */
    VCORE_MOCK_OP_DELIVER_NMI,   /**< an injected NMI delivered */
    VCORE_MOCK_OP_VMCS_ALLOC,    /**< vmcs_alloc */
    VCORE_MOCK_OP_VMCS_FREE,     /**< vmcs_free */
    VCORE_MOCK_OP_VMCS_LOAD,     /**< vmcs_load (VMPTRLD) */
    VCORE_MOCK_OP_VMCS_CLEAR,    /**< vmcs_clear (VMCLEAR) */
    VCORE_MOCK_OP_VMCS_READ,     /**< vmcs_read (VMREAD) that reached the store */
    VCORE_MOCK_OP_VMCS_WRITE,    /**< vmcs_write (VMWRITE) that reached the store */
    VCORE_MOCK_OP_VMCS_WRITE_SKIPPED, /**< vmcs_write of an unchanged major control (not issued) */
    VCORE_MOCK_OP_VMCS_ENTER,    /**< vmcs_enter (VMLAUNCH/VMRESUME) */
    VCORE_MOCK_OP_VMCS_VIOLATION, /**< a VMCS access the SDM does not allow (a test failure) */
    VCORE_MOCK_OP_FLUSH_TLB,     /**< vcpu_flush_tlb (a TLB flush before an entry) */
    VCORE_MOCK_OP_INVEPT,        /**< vcpu_invept (a shadow EPT invalidated) */
    VCORE_MOCK_OP_VMCS_SHADOW_LINK, /**< vmcs_shadow_link (VMCS shadowing of vmcs01 set or cleared) */
    VCORE_MOCK_OP_GUEST_VMCS_ACCESS, /**< a guest VMREAD/VMWRITE the shadow VMCS served without a VM exit */
    VCORE_MOCK_OP_VMCB_ALLOC,    /**< vmcb_alloc */
    VCORE_MOCK_OP_VMCB_FREE,     /**< vmcb_free */
    VCORE_MOCK_OP_VMCB_READ,     /**< vmcb_read of a named field */
    VCORE_MOCK_OP_VMCB_WRITE,    /**< vmcb_write that changed a field (its clean bit cleared) */
    VCORE_MOCK_OP_VMCB_WRITE_SAME, /**< vmcb_write of the value the field held (clean bit kept) */
    VCORE_MOCK_OP_VMCB_SETUP,    /**< vmcb_setup */
    VCORE_MOCK_OP_VMCB_NPT_MAP,  /**< vmcb_npt_map that mapped a page */
    VCORE_MOCK_OP_VMCB_RUN,      /**< vmcb_run (VMRUN of a hardware VMCB) */
    VCORE_MOCK_OP_VMCB_VIOLATION, /**< a VMCB access the backend ABI does not allow (a test failure) */
    VCORE_MOCK_OP_FLUSH_VPID02,  /**< vcpu_flush_vpid02 (the translations of the vCPU's vpid02 invalidated) */
    VCORE_MOCK_OP_RUN_SYNC,      /**< vcpu_run_sync (its load, run and fetch also count as SET_STATE, RUN, GET_STATE) */
    VCORE_MOCK_OP_COUNT          /**< Number of kinds. */
} vcore_mock_op_t;

/**
 * @brief Queues an exit that the next vcore_vcpu_run() returns.
 * @param[in] vcpu A vCPU of a VM on the mock backend.
 * @param[in] exit The exit to return (copied; @c size must be set). For an
 *                 I/O exit the @c data pointer is ignored: the mock supplies
 *                 its own buffer, initialised from @c raw.data for OUT.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or @p vcpu is not on the mock backend.
 * @retval VCORE_ERR_ABI @p exit->size is wrong.
 * @retval VCORE_ERR_RANGE The queue is full.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_push_exit(vcore_vcpu_t *vcpu, const vcore_exit_t *exit);

/**
 * @brief Number of exits still queued.
 * @param[in] vcpu A vCPU on the mock backend.
 * @return The count; 0 if @p vcpu is NULL or not on the mock backend.
 */
VCORE_API uint32_t vcore_mock_pending(const vcore_vcpu_t *vcpu);

/**
 * @brief Number of operations of one kind: VM_* kinds count on the vCPU's VM, the others on the vCPU.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] op A vcore_mock_op_t.
 * @return The count; 0 for a bad argument.
 */
VCORE_API uint64_t vcore_mock_count(const vcore_vcpu_t *vcpu, uint32_t op);

/**
 * @brief Resets every operation counter of a vCPU (and of its VM) to zero.
 * @param[in] vcpu A vCPU on the mock backend.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL or not on the mock backend.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_reset_counts(vcore_vcpu_t *vcpu);

/**
 * @brief How often one state group reached the backend (vcpu_set_state, or the load of
 *        vcpu_run_sync) and was fetched from it (vcpu_get_state, or the fetch of vcpu_run_sync).
 *
 * The mock's table has vcpu_run_sync; a copy of it with that op NULL (or a
 * @c size ending before it) runs the same vCPU through vcpu_set_state,
 * vcpu_run and vcpu_get_state instead, for comparing the two.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] group One VCORE_X86_STATE_* or VCORE_ARM64_STATE_* bit.
 * @param[out] sets Loads of the group (may be NULL).
 * @param[out] gets Fetches of the group (may be NULL).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is not on the mock backend, or @p group is not one bit.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_state_count(const vcore_vcpu_t *vcpu, uint32_t group, uint64_t *sets,
                                                       uint64_t *gets);

/**
 * @brief Makes the next operation of a kind fail with a given error (fault injection).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] op A vcore_mock_op_t (GET_STATE, SET_STATE, SET_CPUID, RUN, FLUSH_TLB, INVEPT, VMCS_ALLOC, VMCS_LOAD, VMCS_WRITE, VMCS_ENTER, VMCS_SHADOW_LINK, VMCB_ALLOC, VMCB_SETUP or FLUSH_VPID02).
 * @param[in] err The error to return once (0 cancels).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A bad argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_fail_next(vcore_vcpu_t *vcpu, uint32_t op, int err);

/**
 * @brief The last reply the mock consumed (what the VMM answered to an exit).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] out Receives a copy of the exit with its reply slot; @c size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or not on the mock backend.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 * @retval VCORE_ERR_NOENT No reply was consumed yet.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_last_reply(const vcore_vcpu_t *vcpu, vcore_exit_t *out);

/** @brief An event the mock delivered into its guest. */
typedef struct vcore_mock_event {
    size_t size;             /**< sizeof(vcore_mock_event_t). */
    uint32_t kind;           /**< VCORE_MOCK_OP_DELIVER_EXCEPTION, _INTERRUPT or _NMI. */
    uint8_t vector;          /**< Vector (2 for an NMI). */
    uint8_t has_error_code;  /**< An error code was pushed. */
    uint8_t soft;            /**< A software interrupt (INT n). */
    uint8_t pad;             /**< Reserved. */
    uint32_t error_code;     /**< The error code. */
    uint64_t cr2;            /**< CR2 in the mock's state when the event was delivered. */
} vcore_mock_event_t;

/**
 * @brief The last event the mock delivered.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] out Receives the event; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or not on the mock backend.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 * @retval VCORE_ERR_NOENT No event was delivered yet.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_last_event(const vcore_vcpu_t *vcpu, vcore_mock_event_t *out);

/**
 * @brief Sets the VMX capability MSRs the mock reports for nested VMX (vmx_caps op).
 *
 * Default: the library's emulated capabilities (vcore_nvmx_caps_emulated()).
 * Takes effect for vCPUs created afterwards.
 * @param[in] vm A VM on the mock backend.
 * @param[in] caps The capability MSRs; @c caps->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or not a mock VM.
 * @retval VCORE_ERR_ABI @p caps->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_set_vmx_caps(vcore_vm_t *vm, const vcore_nvmx_caps_t *caps);

/** @brief Most fields one scripted VMCS exit stores. */
#define VCORE_MOCK_VMCS_EXIT_FIELDS 16u

/** @brief The outcome of the next VM entry of a mock hardware VMCS. */
typedef struct vcore_mock_vmcs_exit {
    size_t size;          /**< sizeof(vcore_mock_vmcs_exit_t). */
    uint32_t kind;        /**< vcore_hw_entry_kind_t (backend.h): 0 exit, 1 VMfailInvalid, 2 VMfailValid. */
    uint32_t vm_error;    /**< VM-instruction error for FAIL_VALID (stored in VM_INSTRUCTION_ERROR). */
    uint32_t exit_reason; /**< Exit-reason field for EXIT (stored in VM_EXIT_REASON; bit 31 = failed entry). */
    uint32_t nfields;     /**< Valid entries of @c fields. */
    struct {
        uint32_t encoding; /**< Field encoding. */
        uint32_t pad;      /**< Reserved. */
        uint64_t value;    /**< Value the "processor" stores on the exit (exit information, guest state). */
    } fields[VCORE_MOCK_VMCS_EXIT_FIELDS]; /**< Fields the exit stores in the current VMCS. */
} vcore_mock_vmcs_exit_t;

/**
 * @brief Queues the outcome of the next vmcs_enter on this vCPU.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] ex The outcome (copied).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, not on the mock, bad kind, too many
 *         fields or an unsupported field encoding.
 * @retval VCORE_ERR_ABI @p ex->size is wrong.
 * @retval VCORE_ERR_RANGE The queue is full.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_push_vmcs_exit(vcore_vcpu_t *vcpu, const vcore_mock_vmcs_exit_t *ex);

/** @brief Field groups counted by vcore_mock_vmcs_group_count(). */
typedef enum vcore_mock_vmcs_group {
    VCORE_MOCK_VMCS_GROUP_CONTROL = 0,    /**< Control fields (every ::VCORE_VMCS_TYPE_CONTROL field). */
    VCORE_MOCK_VMCS_GROUP_EXIT_INFO = 1,  /**< Read-only data fields (VM-exit information). */
    VCORE_MOCK_VMCS_GROUP_GUEST = 2,      /**< Guest-state fields. */
    VCORE_MOCK_VMCS_GROUP_HOST = 3,       /**< Host-state fields. */
    VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS = 4, /**< The five major control words (also counted in CONTROL). */
    VCORE_MOCK_VMCS_GROUP_COUNT = 5       /**< Number of groups. */
} vcore_mock_vmcs_group_t;

/**
 * @brief VMREADs and VMWRITEs of one field that reached the store (a _HIGH access counts for its field).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] encoding The field encoding.
 * @param[out] reads Receives the VMREAD count (may be NULL).
 * @param[out] writes Receives the VMWRITE count (may be NULL).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL Not on the mock, or an unknown encoding.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcs_count(const vcore_vcpu_t *vcpu, uint32_t encoding, uint64_t *reads,
                                    uint64_t *writes);

/**
 * @brief VMREADs and VMWRITEs of a field group that reached the store.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] group A vcore_mock_vmcs_group_t.
 * @param[out] reads Receives the VMREAD count (may be NULL).
 * @param[out] writes Receives the VMWRITE count (may be NULL).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL Not on the mock, or an unknown group.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcs_group_count(const vcore_vcpu_t *vcpu, uint32_t group, uint64_t *reads,
                                          uint64_t *writes);

/**
 * @brief Reads a field of a mock hardware VMCS without counting or changing anything (for test assertions).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] vmcs The VMCS (NULL: the vCPU's vmcs01).
 * @param[in] encoding The field encoding.
 * @param[out] value Receives the value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, not on the mock, or an unknown encoding.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcs_peek(const vcore_vcpu_t *vcpu, const struct vcore_hw_vmcs *vmcs,
                                   uint32_t encoding, uint64_t *value);

/**
 * @brief Switches the mock's per-VMCS control shadows off or on (measurement).
 *
 * Off, every VMWRITE of a major control word reaches the store and is
 * counted, as on a processor without the library's write avoidance.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] enabled false to write every control word.
 * @return VCORE_OK, or VCORE_ERR_INVAL when @p vcpu is not on the mock.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_set_ctl_shadow(vcore_vcpu_t *vcpu, bool enabled);

/**
 * @brief The VMCS the last vmcs_enter ran (for peeking at vmcs02 in tests).
 * @param[in] vcpu A vCPU on the mock backend.
 * @return The handle; NULL before any entry or when @p vcpu is not on the mock.
 */
VCORE_API const struct vcore_hw_vmcs *vcore_mock_vmcs_last_entered(const vcore_vcpu_t *vcpu);

/**
 * @brief Sets a field of a mock hardware VMCS without counting anything (the VMM's own setup of vmcs01, in tests).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] vmcs The VMCS (NULL: the vCPU's vmcs01).
 * @param[in] encoding The field encoding.
 * @param[in] value The value.
 * @return VCORE_OK, or VCORE_ERR_INVAL for a bad argument or an unknown encoding.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcs_poke(vcore_vcpu_t *vcpu, const struct vcore_hw_vmcs *vmcs,
                                                     uint32_t encoding, uint64_t value);

/**
 * @brief Makes the guest's TSC with vmcs01's TSC offset, as a backend on a processor with "use TSC offsetting" does.
 *
 * With @p on, each vCPU state write holding the TSC group sets vmcs01's TSC-offset field to the new TSC minus
 * @p host_tsc (the host's TSC, fixed in the mock), so that the guest reads the TSC it was given (SDM Vol. 3,
 * "Changes to Instruction Behavior in VMX Non-Root Operation", RDTSC). Off by default: the TSC is a stored value.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] on Whether state writes of the TSC rewrite vmcs01's TSC offset.
 * @param[in] host_tsc The host's TSC.
 * @return VCORE_OK, or VCORE_ERR_INVAL for a vCPU not on the mock.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_set_tsc_offsetting(vcore_vcpu_t *vcpu, bool on, uint64_t host_tsc);

/**
 * @brief The guest's VMREAD or VMWRITE in VMX non-root operation, as the mock's processor runs it.
 *
 * SDM Vol. 3, "VMREAD", "VMWRITE" (VMX non-root operation) and "VMCS
 * Shadowing": the access causes a VM exit when "VMCS shadowing" is 0 in
 * vmcs01, when bits 63:15 of @p encoding are not all 0, or when the bit of
 * the VMREAD (VMWRITE) bitmap for bits 14:0 of @p encoding is 1; the test
 * then scripts that exit. Otherwise it reads or writes the shadow VMCS
 * vmcs01's link pointer names, and counts VCORE_MOCK_OP_GUEST_VMCS_ACCESS.
 * The guest's CPL and mode are the caller's to get right (the \#UD/\#GP
 * checks come before these).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] write VMWRITE (true) or VMREAD.
 * @param[in] encoding The field encoding as the guest's register holds it.
 * @param[in,out] value VMWRITE: the value; VMREAD: receives the value.
 * @param[out] exits Receives true when the access causes a VM exit.
 * @return VCORE_OK when @p exits says what happened.
 * @retval VCORE_ERR_INVAL A NULL argument or not on the mock.
 * @retval VCORE_ERR_STATE VMfailInvalid: the link pointer is FFFFFFFF_FFFFFFFFH.
 * @retval VCORE_ERR_NOENT VMfailValid(12): no such field.
 * @retval VCORE_ERR_RANGE VMfailValid(13): VMWRITE of a read-only field without "VMWRITE to any supported field".
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_guest_vmx_access(vcore_vcpu_t *vcpu, bool write, uint64_t encoding,
                                                            uint64_t *value, bool *exits);

/**
 * @brief The shadow VMCS linked to the vCPU's vmcs01 (backend op vmcs_shadow_link).
 * @param[in] vcpu A vCPU on the mock backend.
 * @return The handle; NULL when "VMCS shadowing" is off or @p vcpu is not on the mock.
 */
VCORE_API const struct vcore_hw_vmcs *vcore_mock_vmcs_shadow_linked(const vcore_vcpu_t *vcpu);

/**
 * @brief VMREADs and VMWRITEs of one mock hardware VMCS that reached the store (since it was allocated).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] vmcs The VMCS (NULL: the vCPU's vmcs01).
 * @param[out] reads Receives the VMREAD count (may be NULL).
 * @param[out] writes Receives the VMWRITE count (may be NULL).
 * @return VCORE_OK, or VCORE_ERR_INVAL when @p vcpu is not on the mock or @p vmcs is not one of its live VMCSs.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcs_access_count(const vcore_vcpu_t *vcpu, const struct vcore_hw_vmcs *vmcs,
                                                             uint64_t *reads, uint64_t *writes);

/** @brief Most GVA ranges vcore_mock_flush_t keeps. */
#define VCORE_MOCK_FLUSH_RANGES 16u

/** @brief A TLB flush the core asked of the mock (backend.h, vcore_tlb_flush_t). */
typedef struct vcore_mock_flush {
    size_t size;      /**< sizeof(vcore_mock_flush_t). */
    uint32_t kind;    /**< vcore_tlb_flush_kind_t: 0 all, 1 non-global, 2 list. */
    uint32_t count;   /**< Ranges of a list flush. */
    uint64_t ranges[VCORE_MOCK_FLUSH_RANGES]; /**< The first ranges (TLFS GVA range encoding). */
} vcore_mock_flush_t;

/**
 * @brief The last TLB flush the mock performed for a vCPU.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] out Receives it; @c out->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or not on the mock backend.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 * @retval VCORE_ERR_NOENT No flush yet.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_last_flush(const vcore_vcpu_t *vcpu, vcore_mock_flush_t *out);

/**
 * @brief The last invalidation of a vCPU's vpid02 the mock performed (backend.h, vcpu_flush_vpid02).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] out Receives it; @c out->size must be set.
 * @return VCORE_OK, VCORE_ERR_INVAL (NULL or not the mock), VCORE_ERR_ABI (size) or VCORE_ERR_NOENT (none yet).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_last_vpid02_flush(const vcore_vcpu_t *vcpu, vcore_mock_flush_t *out);

/**
 * @brief Whether the mock gives a vCPU a vpid02 (backend.h, vcpu_vpid02; on by default).
 *
 * The mock's vpid02 of the vCPU with id n is 8000H + n + 1. Off, it answers
 * VCORE_ERR_UNSUPPORTED, as a backend that runs guests without VPID. The
 * core asks once, before the vCPU's first entry to a nested guest.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] enabled false: no vpid02.
 * @return VCORE_OK or VCORE_ERR_INVAL (not the mock).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_set_vpid02(vcore_vcpu_t *vcpu, bool enabled);

/**
 * @brief Which accesses of an MSR the mock's vmcs01 lets its guest make without an exit (backend.h, vmx_msr_exits).
 *
 * By default every RDMSR and WRMSR exits (each answer is true). The core
 * asks when it first builds a vCPU's vmcs02, so set this before L1's first
 * VM entry.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] msr An MSR with a bit in an MSR bitmap (00000000H-00001FFFH or C0000000H-C0001FFFH).
 * @param[in] read_pass RDMSR does not exit.
 * @param[in] write_pass WRMSR does not exit.
 * @return VCORE_OK or VCORE_ERR_INVAL (not the mock, or an MSR outside both ranges).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_set_msr_pass(vcore_vcpu_t *vcpu, uint32_t msr, bool read_pass,
                                                        bool write_pass);

/**
 * @brief The EPT pointer of the last vcpu_invept the mock performed for a vCPU.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] eptp Receives it.
 * @return VCORE_OK, VCORE_ERR_INVAL (NULL or not the mock), VCORE_ERR_NOENT (none yet).
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_last_invept(const vcore_vcpu_t *vcpu, uint64_t *eptp);

/**
 * @brief Sets an XMM register of the mock's "hardware" (the guest wrote it).
 *
 * The core reads XMM registers (VCORE_X86_STATE_XMM) but never writes
 * them; this is how a test gives a guest its XMM fast hypercall input.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] index 0-15.
 * @param[in] lo Bits 63:0.
 * @param[in] hi Bits 127:64.
 * @return VCORE_OK, or VCORE_ERR_INVAL for a bad argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_set_xmm(vcore_vcpu_t *vcpu, uint32_t index, uint64_t lo, uint64_t hi);

/** @brief Most fields one scripted VMCB exit stores. */
#define VCORE_MOCK_VMCB_EXIT_FIELDS 24u

/**
 * @brief The \#VMEXIT the next vmcb_run of the mock reports.
 *
 * The mock stores EXITCODE, EXITINFO1/2, EXITINTINFO, NRIP and @c fields
 * in the VMCB (what the processor writes) and returns @c exit with its raw
 * part set from the codes, as backend.h says.
 */
typedef struct vcore_mock_vmcb_exit {
    size_t size;            /**< sizeof(vcore_mock_vmcb_exit_t). */
    uint64_t exit_code;     /**< EXITCODE. */
    uint64_t exit_info1;    /**< EXITINFO1. */
    uint64_t exit_info2;    /**< EXITINFO2. */
    uint64_t exit_int_info; /**< EXITINTINFO. */
    uint64_t next_rip;      /**< NRIP. */
    vcore_exit_t exit;      /**< The decoded exit (reason, flags, u); @c size must be set. */
    uint32_t nfields;       /**< Valid entries of @c fields. */
    uint32_t pad;           /**< Reserved. */
    struct {
        uint32_t offset;    /**< Named field offset. */
        uint32_t bytes;     /**< Its width. */
        uint64_t value;     /**< The value the "processor" stores. */
    } fields[VCORE_MOCK_VMCB_EXIT_FIELDS]; /**< Guest state the exit stores. */
    uint64_t gprs[16];      /**< GPRs the guest leaves (those named by @c gpr_mask). */
    uint32_t gpr_mask;      /**< Bit i: gprs[i] replaces GPR i (RAX and RSP are VMCB fields: not used). */
} vcore_mock_vmcb_exit_t;

/**
 * @brief Queues the outcome of the next vmcb_run on this vCPU.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] ex The exit (copied).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, not on the mock, too many fields or a field that is not named.
 * @retval VCORE_ERR_ABI A size is wrong.
 * @retval VCORE_ERR_RANGE The queue is full.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_push_vmcb_exit(vcore_vcpu_t *vcpu, const vcore_mock_vmcb_exit_t *ex);

/**
 * @brief vmcb_read and vmcb_write calls of one named field (all VMCBs of the vCPU).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] offset The field's offset.
 * @param[out] reads Receives the reads (may be NULL).
 * @param[out] writes Receives the writes, changing or not (may be NULL).
 * @return VCORE_OK, or VCORE_ERR_INVAL for a bad argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcb_count(const vcore_vcpu_t *vcpu, uint32_t offset, uint64_t *reads,
                                                      uint64_t *writes);

/** @brief What the mock recorded of the last vmcb_run and the VMCB it ran. */
typedef struct vcore_mock_vmcb_info {
    size_t size;          /**< sizeof(vcore_mock_vmcb_info_t). */
    uint32_t clean;       /**< CLEAN_BITS the last run used (0 on a VMCB's first run). */
    uint32_t npt;         /**< vcore_hw_vmcb_setup_t::npt as last set up. */
    uint32_t flushes;     /**< Runs that flushed the VMCB's ASID. */
    uint32_t shadow_resets; /**< Runs that emptied the shadow nested table. */
    uint32_t npt_maps;    /**< Pages in the shadow nested table. */
    uint32_t last_prot;   /**< Permissions of the last vmcb_npt_map. */
    uint64_t last_gpa;    /**< The last mapped page. */
    uint64_t last_vm_gpa; /**< ... and the VM page it maps to. */
    uint64_t msrpm_first; /**< The first 8 bytes of the MSR permission map set up. */
    uint64_t iopm_first;  /**< The first 8 bytes of the I/O permission map set up. */
    uint64_t event_inj;   /**< EVENTINJ the last run started with. */
    uint32_t map_copies;  /**< Setups that copied the permission maps (not stated unchanged). */
} vcore_mock_vmcb_info_t;

/**
 * @brief What the mock recorded of the last vmcb_run.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] out Receives it; @c out->size must be set.
 * @return VCORE_OK; VCORE_ERR_NOENT before any run; VCORE_ERR_INVAL / ABI for bad arguments.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcb_info(const vcore_vcpu_t *vcpu, vcore_mock_vmcb_info_t *out);

/**
 * @brief Reads a field of the VMCB the last vmcb_run ran, without counting (test assertions).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] offset Byte offset.
 * @param[in] bytes 1, 2, 4 or 8.
 * @param[out] value Receives the value.
 * @return VCORE_OK; VCORE_ERR_NOENT before any run; VCORE_ERR_INVAL for bad arguments.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcb_peek(const vcore_vcpu_t *vcpu, uint32_t offset, uint32_t bytes,
                                                     uint64_t *value);

/**
 * @brief The GPRs the last vmcb_run left (RAX and RSP are VMCB fields).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] gprs Receives 16 registers.
 * @return VCORE_OK, or VCORE_ERR_INVAL for a bad argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_mock_vmcb_gprs(const vcore_vcpu_t *vcpu, uint64_t gprs[16]);

VCORE_END_DECLS

#endif /* VIRTCORE_MOCK_H */
