/**
 * @file hyperv.h
 * @brief Hyper-V enlightenments of an x86 VM: the "Hv#1" identity, the
 *        hypercall MSRs, and the PV IPI and PV TLB-flush hypercalls, handled
 *        inside vcore_vcpu_run().
 *
 * Enabled per VM (vcore_hv_enable() or vcore_hv_enable_static()) before its
 * first vCPU is created. The library then
 * - composes the hypervisor CPUID leaves 40000000H-40000006H into every
 *   vCPU's table through the atomic CPUID flow (vcore_vcpu_set_cpuid()),
 *   replacing whatever the VMM's table holds in 40000000H-400000FFH, and sets
 *   CPUID.1:ECX[31] ("hypervisor present") where leaf 1 exists
 *   (Hyper-V TLFS, "Feature and Interface Discovery");
 * - completes guest RDMSR/WRMSR of HV_X64_MSR_GUEST_OS_ID,
 *   HV_X64_MSR_HYPERCALL and HV_X64_MSR_VP_INDEX with their \#GP rules
 *   (TLFS, "Hypercall Interface", "Virtual Processor Properties");
 * - handles the VMCALL/VMMCALL exits of a guest that has set its guest OS
 *   identity: HvCallFlushVirtualAddressSpace, HvCallFlushVirtualAddressList,
 *   HvCallSendSyntheticClusterIpi and their Ex forms in every calling
 *   convention (memory, fast, XMM fast; 64-bit and 32-bit callers). Known
 *   calls the library does not implement (or that the configuration leaves
 *   out) reach the VMM as a VCORE_EXIT_HYPERCALL with VCORE_EXIT_F_HYPERV
 *   and the decoded input in vcore_exit_t::u.hypercall.hv; unknown call
 *   codes get HV_STATUS_INVALID_HYPERCALL_CODE.
 *
 * Delivery. An IPI sets the vector in the target vCPU's pending-vector
 * bitmap (the model of a local APIC's IRR), and kicks the target if it is
 * in guest mode; the target's own run loop moves the highest pending vector
 * into its event state (vcore_vcpu_inject_interrupt() semantics: a fixed
 * external interrupt delivered when RFLAGS.IF allows) and opens the
 * interrupt window for the rest, one vector per window. A TLB flush marks
 * each target; the target performs it (backend op vcpu_flush_tlb) before
 * it next enters the guest, and the caller does not return to its guest
 * until every target that was in guest mode has left it or flushed: when
 * the call returns, no target runs guest code on a stale translation
 * (TLFS, "HvCallFlushVirtualAddressSpace": "by the time control returns
 * back to the caller, the observable effects of all flushes ... have
 * occurred"). A VMM hook (vcore_hv_config_t::hook) sees every call before
 * delivery and may let it proceed, deliver it itself, or refuse it.
 *
 * Locking contract: the calls run on the caller's vCPU thread and touch
 * other vCPUs only through atomics (pending bitmap, flush requests) and
 * vcore_vcpu_kick(). VP indexes and the configuration are read from every
 * vCPU thread: change them (vcore_hv_set_msr() of HV_X64_MSR_VP_INDEX) only
 * while no vCPU of the VM runs, like other VM-wide changes (vm.h).
 *
 * On the kvm backend, KVM's in-kernel implementation serves the guest
 * (KVM_CAP_HYPERV_SEND_IPI, KVM_CAP_HYPERV_TLBFLUSH); the library composes
 * the CPUID leaves KVM_SET_CPUID2 receives and forwards VP indexes. The hook
 * is not called there.
 */
#ifndef VIRTCORE_X86_HYPERV_H
#define VIRTCORE_X86_HYPERV_H

#include "../common.h"
#include "../diag.h"
#include "../vm.h"

VCORE_BEGIN_DECLS

/**
 * @brief Hyper-V diagnostics: X(name, value, message, manual section).
 *
 * Range 0x3800-0x38ff. Every refusal of a hypercall, a synthetic MSR access
 * or an API call records one of these on the vCPU (vcore_vcpu_last_diag())
 * or the VM (vcore_vm_last_diag()).
 */
#define VCORE_DIAG_HYPERV_LIST(X)                                              \
    X(HV_UD_REAL_MODE, 0x3801, "hypercall in real mode or virtual-8086 mode (#UD)", \
      "Hyper-V TLFS, \"Legal Hypercall Environments\"")                        \
    X(HV_UD_CPL, 0x3802, "hypercall at CPL > 0 (#UD)",                         \
      "Hyper-V TLFS, \"Legal Hypercall Environments\"")                        \
    X(HV_UD_XMM_INPUT, 0x3803, "XMM fast hypercall input used but not advertised in CPUID 40000003H:EDX[4] (#UD)", \
      "Hyper-V TLFS, \"XMM Fast Hypercall Input\"")                            \
    X(HV_CONTROL_RESERVED, 0x3810, "hypercall input value sets a reserved bit (31:27, 47:44 or 63:60)", \
      "Hyper-V TLFS, \"Hypercall Inputs\"")                                    \
    X(HV_UNKNOWN_CODE, 0x3811, "hypercall call code is not a known hypercall", \
      "Hyper-V TLFS, \"Hypercall Reference\"")                                 \
    X(HV_REP_COUNT, 0x3812, "rep count or rep start index non-zero for a simple call, or rep count zero for a rep call", \
      "Hyper-V TLFS, \"Hypercall Inputs\"")                                    \
    X(HV_REP_START, 0x3813, "rep start index not less than the rep count",     \
      "Hyper-V TLFS, \"Hypercall Inputs\"")                                    \
    X(HV_VAR_HEADER, 0x3814, "variable header size non-zero for a call without one, or not one QWORD per valid bank", \
      "Hyper-V TLFS, \"Variable Sized Hypercall Input Headers\"")              \
    X(HV_FAST_TOO_LARGE, 0x3815, "fast hypercall input larger than the registers can carry (16 bytes, 112 with XMM)", \
      "Hyper-V TLFS, \"XMM Fast Hypercall Input\"")                            \
    X(HV_INPUT_ALIGNMENT, 0x3816, "input parameters GPA is not 8-byte aligned", \
      "Hyper-V TLFS, \"Alignment Requirements\"")                              \
    X(HV_INPUT_CROSSES_PAGE, 0x3817, "input parameter list crosses a page boundary", \
      "Hyper-V TLFS, \"Alignment Requirements\"")                              \
    X(HV_INPUT_OUTSIDE_GPA, 0x3818, "input parameters GPA is beyond the guest-physical address width or not in guest memory", \
      "Hyper-V TLFS, \"Alignment Requirements\"")                              \
    X(HV_FLUSH_FLAGS, 0x3820, "flush flags set a reserved bit, or NON_GLOBAL_MAPPINGS_ONLY on a List call", \
      "Hyper-V TLFS, \"HvCallFlushVirtualAddressList\"")                       \
    X(HV_VP_SET_FORMAT, 0x3821, "HV_VP_SET format is neither 0 (sparse) nor 1 (all)", \
      "Hyper-V TLFS, \"HV_VP_SET\"")                                           \
    X(HV_IPI_VECTOR, 0x3822, "IPI vector outside 10H-FFH",                     \
      "Hyper-V TLFS, \"HvCallSendSyntheticClusterIpi\"")                       \
    X(HV_IPI_VTL, 0x3823, "IPI target VTL is not VTL 0 or sets reserved bits 7:5", \
      "Hyper-V TLFS, \"HV_INPUT_VTL\"")                                        \
    X(HV_HOOK_REFUSED, 0x3824, "the VMM's hook refused the call",              \
      "libvirtcore, \"vcore_hv_config_t\"")                                    \
    X(HV_MSR_VP_INDEX_WRITE, 0x3830, "guest WRMSR to the read-only HV_X64_MSR_VP_INDEX (#GP)", \
      "Hyper-V TLFS, \"Virtual Processor Properties\"")                        \
    X(HV_MSR_HYPERCALL_GPA, 0x3831, "hypercall page GPFN beyond the guest-physical address width (#GP)", \
      "Hyper-V TLFS, \"Establishing the Hypercall Interface\"")                \
    X(HV_MSR_HYPERCALL_PAGE, 0x3832, "hypercall page is not in writable guest memory, so the library cannot fill it (#GP)", \
      "Hyper-V TLFS, \"Establishing the Hypercall Interface\"")                \
    X(HV_VP_INDEX_INVALID, 0x3833, "VP index is HV_ANY_VP or HV_VP_INDEX_SELF", \
      "Hyper-V TLFS, \"Virtual Processor Properties\"")                        \
    X(HV_NOT_ENABLED, 0x3840, "Hyper-V is not enabled on this VM",             \
      "libvirtcore, \"vcore_hv_enable\"")                                      \
    X(HV_ENABLE_LATE, 0x3841, "Hyper-V must be enabled before the VM's first vCPU exists, and only once", \
      "libvirtcore, \"vcore_hv_enable\"")                                      \
    X(HV_BACKEND_UNSUPPORTED, 0x3842, "the backend cannot provide a requested enlightenment (kick, event state, XMM registers, TLB flush, or the host's Hyper-V)", \
      "libvirtcore, \"vcore_hv_enable\"")                                      \
    X(HV_CPUID_FULL, 0x3843, "no room for the hypervisor CPUID leaves in the vCPU's table", \
      "Hyper-V TLFS, \"Feature and Interface Discovery\"")

/** @brief Hyper-V diagnostic identifiers (values pinned). */
typedef enum vcore_hv_diag_id {
#define VCORE__HV_DIAG_ENUM(name, value, msg, manual) VCORE_DIAG_##name = (value),
    VCORE_DIAG_HYPERV_LIST(VCORE__HV_DIAG_ENUM)
#undef VCORE__HV_DIAG_ENUM
    VCORE_DIAG_HYPERV_END_ = 0x38ff /**< End of the Hyper-V range. */
} vcore_hv_diag_id_t;

/**
 * @brief HV_STATUS codes of the hypercall result value: X(name, value).
 * Hyper-V TLFS, "Hypercall Status Codes" and the HV_STATUS data type.
 */
#define VCORE_HV_STATUS_LIST(X)            \
    X(SUCCESS, 0x0000)                     \
    X(INVALID_HYPERCALL_CODE, 0x0002)      \
    X(INVALID_HYPERCALL_INPUT, 0x0003)     \
    X(INVALID_ALIGNMENT, 0x0004)           \
    X(INVALID_PARAMETER, 0x0005)           \
    X(ACCESS_DENIED, 0x0006)               \
    X(INVALID_PARTITION_STATE, 0x0007)     \
    X(OPERATION_DENIED, 0x0008)            \
    X(INSUFFICIENT_MEMORY, 0x000b)         \
    X(INVALID_VP_INDEX, 0x000e)            \
    X(INVALID_VP_STATE, 0x0015)

/** @brief HV_STATUS values (HV_STATUS_<name>). */
typedef enum vcore_hv_status {
#define VCORE__HV_STATUS_ENUM(name, value) VCORE_HV_STATUS_##name = (value),
    VCORE_HV_STATUS_LIST(VCORE__HV_STATUS_ENUM)
#undef VCORE__HV_STATUS_ENUM
} vcore_hv_status_t;

/**
 * @brief The hypercalls the TLFS lists, X(name, code, rep): rep is 1 for
 *        a rep call, 0 for a simple one ("Hypercall Reference"). Codes not
 *        in this list get HV_STATUS_INVALID_HYPERCALL_CODE.
 */
#define VCORE_HV_CALL_LIST(X)                                  \
    X(SWITCH_VIRTUAL_ADDRESS_SPACE, 0x0001, 0)                 \
    X(FLUSH_VIRTUAL_ADDRESS_SPACE, 0x0002, 0)                  \
    X(FLUSH_VIRTUAL_ADDRESS_LIST, 0x0003, 1)                   \
    X(NOTIFY_LONG_SPIN_WAIT, 0x0008, 0)                        \
    X(SEND_SYNTHETIC_CLUSTER_IPI, 0x000b, 0)                   \
    X(MODIFY_VTL_PROTECTION_MASK, 0x000c, 1)                   \
    X(ENABLE_PARTITION_VTL, 0x000d, 0)                         \
    X(ENABLE_VP_VTL, 0x000f, 0)                                \
    X(VTL_CALL, 0x0011, 0)                                     \
    X(VTL_RETURN, 0x0012, 0)                                   \
    X(FLUSH_VIRTUAL_ADDRESS_SPACE_EX, 0x0013, 0)               \
    X(FLUSH_VIRTUAL_ADDRESS_LIST_EX, 0x0014, 1)                \
    X(SEND_SYNTHETIC_CLUSTER_IPI_EX, 0x0015, 0)                \
    X(GET_VP_REGISTERS, 0x0050, 1)                             \
    X(SET_VP_REGISTERS, 0x0051, 1)                             \
    X(POST_MESSAGE, 0x005c, 0)                                 \
    X(SIGNAL_EVENT, 0x005d, 0)                                 \
    X(RETARGET_DEVICE_INTERRUPT, 0x007e, 0)                    \
    X(START_VIRTUAL_PROCESSOR, 0x0099, 0)                      \
    X(GET_VP_INDEX_FROM_APIC_ID, 0x009a, 1)                    \
    X(FLUSH_GUEST_PHYSICAL_ADDRESS_SPACE, 0x00af, 0)           \
    X(FLUSH_GUEST_PHYSICAL_ADDRESS_LIST, 0x00b0, 1)            \
    X(EXT_QUERY_CAPABILITIES, 0x8001, 0)                       \
    X(EXT_GET_BOOT_ZEROED_MEMORY, 0x8002, 0)                   \
    X(EXT_MEMORY_HEAT_HINT, 0x8003, 0)                         \
    X(EXT_EPF_SETUP, 0x8004, 0)                                \
    X(EXT_MEMORY_HEAT_HINT_ASYNC, 0x8006, 0)

/** @brief Hypercall call codes (VCORE_HV_CALL_<name>). */
typedef enum vcore_hv_call_code {
#define VCORE__HV_CALL_ENUM(name, code, rep) VCORE_HV_CALL_##name = (code),
    VCORE_HV_CALL_LIST(VCORE__HV_CALL_ENUM)
#undef VCORE__HV_CALL_ENUM
} vcore_hv_call_code_t;

/** @name Synthetic MSRs (TLFS, "Hypercall Interface", "Virtual Processor Properties")
 * @{ */
#define VCORE_HV_MSR_GUEST_OS_ID 0x40000000u /**< HV_X64_MSR_GUEST_OS_ID: partition-wide, initially 0. */
#define VCORE_HV_MSR_HYPERCALL 0x40000001u   /**< HV_X64_MSR_HYPERCALL: partition-wide hypercall page control. */
#define VCORE_HV_MSR_VP_INDEX 0x40000002u    /**< HV_X64_MSR_VP_INDEX: the VP index, read-only to the guest. */
#define VCORE_HV_HYPERCALL_ENABLE (1ull << 0) /**< HV_X64_MSR_HYPERCALL bit 0: hypercall page enabled. */
#define VCORE_HV_HYPERCALL_LOCKED (1ull << 1) /**< HV_X64_MSR_HYPERCALL bit 1: MSR immutable until reset. */
#define VCORE_HV_HYPERCALL_GPFN_SHIFT 12u     /**< HV_X64_MSR_HYPERCALL bits 63:12: GPFN of the page. */
/** @} */

/** @name Hypercall input value fields (TLFS, "Hypercall Inputs")
 * @{ */
#define VCORE_HV_CTL_CODE_MASK 0xffffull            /**< Bits 15:0: call code. */
#define VCORE_HV_CTL_FAST (1ull << 16)              /**< Bit 16: register-based (fast) calling convention. */
#define VCORE_HV_CTL_VARHEAD_SHIFT 17u              /**< Bits 26:17: variable header size in QWORDs. */
#define VCORE_HV_CTL_VARHEAD_MASK (0x3ffull << 17)  /**< Mask of the variable header size. */
#define VCORE_HV_CTL_REP_COUNT_SHIFT 32u            /**< Bits 43:32: rep count. */
#define VCORE_HV_CTL_REP_START_SHIFT 48u            /**< Bits 59:48: rep start index. */
#define VCORE_HV_CTL_REP_MASK 0xfffull              /**< Width of the rep fields (12 bits). */
/** RsvdZ bits 31:27, 47:44 and 63:60. */
#define VCORE_HV_CTL_RESERVED ((0x1full << 27) | (0xfull << 44) | (0xfull << 60))
#define VCORE_HV_RESULT_REPS_SHIFT 32u              /**< Result value bits 43:32: reps completed. */
/** @} */

/** @name HV_FLUSH_FLAGS (TLFS, "HvCallFlushVirtualAddressSpace")
 * @{ */
#define VCORE_HV_FLUSH_ALL_PROCESSORS (1ull << 0)             /**< Ignore the processor mask / set: every VP. */
#define VCORE_HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES (1ull << 1) /**< Ignore AddressSpace. */
#define VCORE_HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY (1ull << 2)   /**< Global mappings may stay (Space calls only). */
/** @} */

/** @name HV_VP_SET formats (TLFS, "HV_VP_SET")
 * @{ */
#define VCORE_HV_VP_SET_SPARSE_4K 0u /**< One bank (64 VP indexes) per set bit of ValidBanksMask. */
#define VCORE_HV_VP_SET_ALL 1u       /**< Every VP of the partition. */
/** @} */

/** @name VP index special values and limits
 * @{ */
#define VCORE_HV_ANY_VP 0xffffffffu       /**< HV_ANY_VP: never a VP's own index. */
#define VCORE_HV_VP_INDEX_SELF 0xfffffffeu /**< HV_VP_INDEX_SELF: never a VP's own index. */
#define VCORE_HV_SPARSE_BANKS 64u          /**< Banks of a sparse HV_VP_SET (VP indexes 0-4095). */
/** @} */

/** @name CPUID leaves composed into each vCPU (TLFS, "Feature and Interface Discovery")
 * @{ */
#define VCORE_HV_CPUID_VENDOR 0x40000000u     /**< Max leaf, vendor signature. */
#define VCORE_HV_CPUID_INTERFACE 0x40000001u  /**< "Hv#1". */
#define VCORE_HV_CPUID_IDENTITY 0x40000002u   /**< Hypervisor system identity. */
#define VCORE_HV_CPUID_FEATURES 0x40000003u   /**< Partition privileges and features. */
#define VCORE_HV_CPUID_HINTS 0x40000004u      /**< Implementation recommendations. */
#define VCORE_HV_CPUID_LIMITS 0x40000005u     /**< Implementation limits. */
#define VCORE_HV_CPUID_HW_FEATURES 0x40000006u /**< Hardware features in use. */
#define VCORE_HV_INTERFACE_HV1 0x31237648u    /**< "Hv#1" in EAX of 40000001H. */
#define VCORE_HV_PRIV_HYPERCALL_MSRS (1u << 5) /**< 40000003H:EAX[5] AccessHypercallMsrs. */
#define VCORE_HV_PRIV_VP_INDEX (1u << 6)       /**< 40000003H:EAX[6] AccessVpIndex. */
#define VCORE_HV_FEAT_XMM_INPUT (1u << 4)      /**< 40000003H:EDX[4] XMM fast hypercall input. */
#define VCORE_HV_FEAT_MSR_LOCK (1u << 18)      /**< 40000003H:EDX[18] HypercallMsrLockAvailable. */
#define VCORE_HV_HINT_REMOTE_TLB_FLUSH (1u << 2) /**< 40000004H:EAX[2] hypercall for remote TLB flushes. */
#define VCORE_HV_HINT_CLUSTER_IPI (1u << 10)   /**< 40000004H:EAX[10] SyntheticClusterIpi hypercall. */
#define VCORE_HV_HINT_EX_PROCESSOR_MASKS (1u << 11) /**< 40000004H:EAX[11] ExProcessorMasks interface. */
/** @} */

/** @name Enlightenments (vcore_hv_config_t::features)
 * @{ */
#define VCORE_HV_F_TLB_FLUSH (1u << 0)  /**< HvCallFlushVirtualAddressSpace / List. */
#define VCORE_HV_F_IPI (1u << 1)        /**< HvCallSendSyntheticClusterIpi. */
#define VCORE_HV_F_EX (1u << 2)         /**< The Ex forms (HV_VP_SET) of the enabled calls. */
#define VCORE_HV_F_XMM_INPUT (1u << 3)  /**< XMM fast input (the backend must hold VCORE_X86_STATE_XMM). */
#define VCORE_HV_F_ALL 0xfu             /**< Every enlightenment above. */
/** @} */

/** @brief Kind of a call the hook sees. */
typedef enum vcore_hv_call_kind {
    VCORE_HV_KIND_IPI = 1,  /**< HvCallSendSyntheticClusterIpi(Ex). */
    VCORE_HV_KIND_FLUSH = 2 /**< HvCallFlushVirtualAddress{Space,List}(Ex). */
} vcore_hv_call_kind_t;

/** @brief Hook verdicts. */
typedef enum vcore_hv_verdict {
    VCORE_HV_DELIVER = 0, /**< Let the library deliver the call. */
    VCORE_HV_DONE = 1,    /**< The VMM delivered it itself: the guest gets HV_STATUS_SUCCESS. */
    VCORE_HV_REFUSE = 2   /**< Refuse: nothing is delivered; the guest gets vcore_hv_call_t::status. */
} vcore_hv_verdict_t;

/** @brief Most vCPU-id bits of a target set (VCORE_VM_MAX_VCPUS). */
#define VCORE_HV_TARGET_WORDS (VCORE_VM_MAX_VCPUS / 64u)

/** @brief A validated PV IPI or TLB-flush call, as the hook sees it. */
typedef struct vcore_hv_call {
    size_t size;        /**< sizeof(vcore_hv_call_t). */
    uint32_t kind;      /**< vcore_hv_call_kind_t. */
    uint16_t code;      /**< The call code (VCORE_HV_CALL_*). */
    uint16_t status;    /**< Out, with VCORE_HV_REFUSE: the HV_STATUS the guest gets (0 becomes ACCESS_DENIED). */
    uint32_t vector;    /**< IPI: the vector (10H-FFH). */
    uint32_t rep_count; /**< Flush List: GVA ranges in the call (rep count - rep start). */
    uint64_t flags;     /**< Flush: HV_FLUSH_FLAGS. */
    uint64_t address_space; /**< Flush: AddressSpace (a CR3 value). */
    /** Target vCPUs by vCPU id (bit i of word i/64 = vCPU i), after the VP-index mapping. */
    uint64_t targets[VCORE_HV_TARGET_WORDS];
} vcore_hv_call_t;

/**
 * @brief The VMM's hook: called on the caller's vCPU thread after the call
 *        was validated, before anything is delivered.
 * @param ctx vcore_hv_config_t::hook_ctx.
 * @param caller The vCPU that made the hypercall.
 * @param call The call; only @c status may be written.
 * @return A vcore_hv_verdict_t.
 */
typedef int (*vcore_hv_hook_fn)(void *ctx, vcore_vcpu_t *caller, vcore_hv_call_t *call);

/** @brief Hyper-V configuration of a VM. Initialise with vcore_hv_config_init(). */
typedef struct vcore_hv_config {
    size_t size;           /**< sizeof(vcore_hv_config_t). */
    uint32_t features;     /**< VCORE_HV_F_* enlightenments offered to the guest. */
    uint32_t pad;          /**< Reserved, zero. */
    char vendor[12];       /**< Vendor signature of CPUID 40000000H EBX:ECX:EDX (informational). */
    vcore_hv_hook_fn hook; /**< Optional hook; NULL lets every call through. */
    void *hook_ctx;        /**< Passed to @c hook. */
} vcore_hv_config_t;

/**
 * @brief Fills a configuration with defaults: every enlightenment
 *        (VCORE_HV_F_ALL), vendor "VirtCore Hv ", no hook.
 * @param[out] cfg The configuration; ignored if NULL.
 */
VCORE_API void vcore_hv_config_init(vcore_hv_config_t *cfg);

/**
 * @brief Bytes of caller storage vcore_hv_enable_static() needs for a VM.
 * @param[in] vm The VM (its max_vcpus decides the size).
 * @param[out] out Receives the size.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_storage_size(const vcore_vm_t *vm, size_t *out);

/**
 * @brief Enables Hyper-V on a VM, allocating its state through the VM's host services.
 *
 * Enlightenments the backend cannot provide are refused, never silently
 * dropped: TLB flush needs the backend's vcpu_flush_tlb op (or the host's
 * own Hyper-V); IPIs need the event state; XMM input needs
 * VCORE_X86_STATE_XMM. Without vcpu_kick, a target in guest mode on another
 * processor takes an IPI or a flush only at its next exit (and a flush
 * waits for that exit): such a backend suits VMs whose vCPUs share one
 * processor.
 * @param[in] vm An x86 VM without vCPUs.
 * @param[in] cfg The configuration (copied); NULL means defaults.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL VM, a bad field, or an arm64 VM.
 * @retval VCORE_ERR_ABI @p cfg->size is wrong.
 * @retval VCORE_ERR_STATE The VM already has vCPUs or Hyper-V (diagnostic HV_ENABLE_LATE).
 * @retval VCORE_ERR_UNSUPPORTED The backend cannot provide a requested enlightenment (HV_BACKEND_UNSUPPORTED).
 * @retval VCORE_ERR_NOMEM Allocation failed.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_enable(vcore_vm_t *vm, const vcore_hv_config_t *cfg);

/**
 * @brief Enables Hyper-V on a VM in caller storage; never allocates.
 * @param[in] vm An x86 VM without vCPUs.
 * @param[in] mem Storage, 16-byte aligned, at least vcore_hv_storage_size() bytes; it must outlive the VM.
 * @param[in] len Bytes at @p mem.
 * @param[in] cfg The configuration (copied); NULL means defaults.
 * @return As vcore_hv_enable(), with VCORE_ERR_BUFSZ when @p len is too small.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_enable_static(vcore_vm_t *vm, void *mem, size_t len,
                                                     const vcore_hv_config_t *cfg);

/**
 * @brief The enlightenments in force on a VM (the requested ones the backend provides).
 * @param[in] vm The VM.
 * @return VCORE_HV_F_* bits; 0 when Hyper-V is not enabled.
 */
VCORE_API uint32_t vcore_hv_features(const vcore_vm_t *vm);

/**
 * @brief Reads a synthetic MSR of a vCPU (VMM access, e.g. for migration).
 * @param[in] vcpu A vCPU of a Hyper-V VM.
 * @param[in] index VCORE_HV_MSR_GUEST_OS_ID, _HYPERCALL or _VP_INDEX.
 * @param[out] value Receives the value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, or Hyper-V is not enabled (HV_NOT_ENABLED).
 * @retval VCORE_ERR_NOENT @p index is not one of the three.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_get_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value);

/**
 * @brief Writes a synthetic MSR of a vCPU as the VMM (host-initiated).
 *
 * HV_X64_MSR_VP_INDEX is writable here only: any value but HV_ANY_VP and
 * HV_VP_INDEX_SELF (the VMM keeps indexes unique, TLFS "HV_VP_INDEX"; a set
 * names every vCPU holding an index in it). GUEST_OS_ID and HYPERCALL follow
 * the guest's rules, with VCORE_ERR_INVAL where the guest would get \#GP.
 * @param[in] vcpu A vCPU of a Hyper-V VM.
 * @param[in] index The MSR.
 * @param[in] value The value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A refused value (see vcore_vcpu_last_diag()), or Hyper-V is not enabled.
 * @retval VCORE_ERR_NOENT @p index is not one of the three.
 * @retval VCORE_ERR_HWFAIL The backend (host Hyper-V) refused the VP index.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_set_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value);

/**
 * @brief System reset of the partition-wide state: GUEST_OS_ID and
 *        HYPERCALL (including its lock) return to 0. VP indexes stay.
 * @param[in] vm A Hyper-V VM.
 * @return VCORE_OK, or VCORE_ERR_INVAL when Hyper-V is not enabled.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_reset(vcore_vm_t *vm);

/**
 * @brief Number of vCPUs whose VP index differs from their vCPU id.
 *
 * While it is 0, a VP set maps onto vCPUs without a per-vCPU scan.
 * @param[in] vm A Hyper-V VM.
 * @return The count; 0 when Hyper-V is not enabled.
 */
VCORE_API uint32_t vcore_hv_mismatched_vp_indexes(const vcore_vm_t *vm);

/**
 * @brief The IPI vectors waiting for a vCPU (its pending-vector bitmap).
 * @param[in] vcpu A vCPU of a Hyper-V VM.
 * @param[out] out Receives 256 bits: bit v of word v/64 = vector v pending.
 * @return VCORE_OK, or VCORE_ERR_INVAL for a NULL argument or no Hyper-V.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_pending_vectors(const vcore_vcpu_t *vcpu, uint64_t out[4]);

/**
 * @brief Reads XMM0-XMM5 of a vCPU (the XMM fast input of a forwarded hypercall).
 * @param[in] vcpu A vCPU of a Hyper-V VM on a backend with VCORE_X86_STATE_XMM.
 * @param[out] out Receives 12 QWORDs: XMM0 bits 63:0, XMM0 bits 127:64, XMM1 ...
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_UNSUPPORTED The backend does not hold the XMM registers.
 * @retval VCORE_ERR_HWFAIL The backend could not read them.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_hv_get_xmm(vcore_vcpu_t *vcpu, uint64_t out[12]);

/**
 * @brief The name of an HV_STATUS, e.g. "INVALID_HYPERCALL_INPUT".
 * @param[in] status An HV_STATUS value.
 * @return A static string; "UNKNOWN" for values not in VCORE_HV_STATUS_LIST.
 */
VCORE_API const char *vcore_hv_status_name(uint32_t status);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_HYPERV_H */
