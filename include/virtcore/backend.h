/**
 * @file backend.h
 * @brief Implementer-facing: the ops table a backend fills in.
 *
 * VMM authors do not need this header; it is for those who write a backend
 * (and for the library's own). The core calls the ops; the ops never call
 * back into the public vCPU API, only into the accessors declared here and
 * the VM's guest-memory access (vcore_vm_read_guest(), vcore_vm_write_guest()).
 *
 * Optional ops may be NULL: the core then returns VCORE_ERR_UNSUPPORTED
 * for the public function that needs them.
 *
 * State protocol: the core keeps the architectural model of each vCPU (an
 * x86 vCPU: vcore_x86_state_t; an arm64 vCPU: vcore_arm64_state_t) and
 * tracks, per state group (VCORE_X86_STATE_*, VCORE_ARM64_STATE_*), whether
 * the model is up to date (valid) and whether it holds changes the backend
 * has not seen (dirty). Before a run the core passes the dirty groups to
 * @c vcpu_set_state; after a run every group is invalid and is fetched with
 * @c vcpu_get_state only when somebody asks for it. @c vcpu_get_state writes
 * exactly the groups it is asked for (never others: they may hold dirty
 * values); @c vcpu_set_state may read any valid group of the model it is
 * given, and must fetch itself what it needs from groups it was not given.
 *
 * ABI growth: a table whose @c size is at least VCORE_BACKEND_SIZE_V1 is
 * accepted; the ops past its @c size count as NULL. New ops are only ever
 * appended.
 */
#ifndef VIRTCORE_BACKEND_H
#define VIRTCORE_BACKEND_H

#include "common.h"
#include "exit.h"
#include "host.h"
#include "vcpu.h"
#include "vm.h"
#include "arm64/regs.h"
#include "x86/cpuid.h"
#include "x86/nvmx.h"
#include "x86/regs.h"

VCORE_BEGIN_DECLS

/** @brief ABI version of vcore_backend_t; bumped on any incompatible change. */
#define VCORE_BACKEND_ABI_VERSION 2u

/** @name Architecture bits for vcore_backend_t::arches
 * @{ */
#define VCORE_BACKEND_ARCH_X86_64 (1u << VCORE_ARCH_X86_64) /**< Runs x86-64 guests. */
#define VCORE_BACKEND_ARCH_ARM64 (1u << VCORE_ARCH_ARM64)   /**< Runs AArch64 guests. */
/** @} */

/** @name Backend features (vcore_backend_t::features)
 * @{ */
/**
 * The backend reports the NMI window (VCORE_EXIT_NMI_WINDOW) when
 * vcore_x86_events_t::request_nmi_window is set. Without it the core leaves
 * a pending NMI to the backend, which must deliver it itself once NMIs are
 * unblocked (as KVM does).
 */
#define VCORE_BACKEND_FEAT_NMI_WINDOW (1u << 0)
/**
 * The backend makes RDMSR/WRMSR fault with \#GP(0) itself when a reply sets
 * @c u.msr.error (KVM does). Without it the core raises the \#GP(0) through
 * the event state and the backend leaves the instruction uncompleted.
 */
#define VCORE_BACKEND_FEAT_MSR_FAULT (1u << 1)
/** @} */

/**
 * @brief A vCPU's architectural state, tagged with its architecture.
 *
 * Exactly the member named by @c arch is valid.
 */
typedef struct vcore_vcpu_state {
    uint32_t arch; /**< vcore_arch_t of the vCPU. */
    uint32_t pad;  /**< Reserved. */
    union {
        vcore_x86_state_t *x86;     /**< VCORE_ARCH_X86_64. */
        vcore_arm64_state_t *arm64; /**< VCORE_ARCH_ARM64. */
    } u;                            /**< The state. */
} vcore_vcpu_state_t;

/** @brief A backend's hardware VMCS object (opaque; see the VMCS ops of vcore_backend_t). */
typedef struct vcore_hw_vmcs vcore_hw_vmcs_t;

/** @brief Outcome classes of vcore_backend_t::vmcs_enter. */
typedef enum vcore_hw_entry_kind {
    VCORE_HW_ENTRY_EXIT = 0,         /**< The guest ran (or the entry failed with bit 31 set) and exited. */
    VCORE_HW_ENTRY_FAIL_INVALID = 1, /**< VMfailInvalid. */
    VCORE_HW_ENTRY_FAIL_VALID = 2    /**< VMfailValid: @c vm_error holds the VM-instruction error. */
} vcore_hw_entry_kind_t;

/** @brief What VMLAUNCH/VMRESUME of a hardware VMCS did. */
typedef struct vcore_hw_entry {
    uint32_t kind;        /**< vcore_hw_entry_kind_t. */
    uint32_t vm_error;    /**< VM-instruction error number (FAIL_VALID). */
    uint32_t exit_reason; /**< The full exit-reason field (EXIT). */
    uint32_t launched;    /**< The instruction was VMLAUNCH (1) or VMRESUME (0). */
} vcore_hw_entry_t;

/**
 * @brief Shadow of the five major VMX control words of one VMCS.
 *
 * SDM Vol. 3, "VM-Execution Controls", "VM-Exit Controls", "VM-Entry
 * Controls": the pin-based, primary and secondary processor-based, exit
 * and entry controls. A write of a value the VMCS already holds is skipped
 * (on processors with VMCS caching, writing any of them makes the next
 * VM entry re-run every consistency check). Backends keep one per hardware
 * VMCS and ask vcore_vmcs_ctl_shadow_write() before each VMWRITE.
 */
typedef struct vcore_vmcs_ctl_shadow {
    uint32_t value[5]; /**< Pin, primary, secondary, exit, entry controls as last written. */
    uint32_t valid;    /**< Bit i: value[i] is what the VMCS holds. */
} vcore_vmcs_ctl_shadow_t;

/** @brief A backend's hardware VMCB object (opaque; see the VMCB ops of vcore_backend_t). */
typedef struct vcore_hw_vmcb vcore_hw_vmcb_t;

/** @brief Which nested page table a hardware VMCB runs with (vcore_hw_vmcb_setup_t::npt). */
typedef enum vcore_hw_vmcb_npt {
    /** The VM's own nested page table: the guest's physical addresses are the VM's (L1 gives L2 no nested paging). */
    VCORE_HW_VMCB_NPT_VM = 0,
    /** A table of this VMCB's own, empty until vmcb_npt_map fills it (L2 addresses through L1's nested table). */
    VCORE_HW_VMCB_NPT_SHADOW = 1
} vcore_hw_vmcb_npt_t;

/** @name Flush requests of vcore_hw_vmcb_setup_t::flush
 * @{ */
#define VCORE_HW_VMCB_FLUSH_ASID (1u << 0)   /**< The next run drops every translation cached for the VMCB's ASID. */
#define VCORE_HW_VMCB_FLUSH_SHADOW (1u << 1) /**< Empty the VMCB's shadow nested table (and flush its ASID). */
/** @} */

/**
 * @brief What only the backend can put in a hardware VMCB: host-physical
 *        addresses and its ASID (vcore_backend_t::vmcb_setup).
 *
 * The fields IOPM_BASE_PA, MSRPM_BASE_PA, GUEST_ASID, TLB_CONTROL,
 * NESTED_CTL, N_CR3 and CLEAN_BITS belong to the backend: the core never
 * writes them, it states here what they must achieve.
 */
typedef struct vcore_hw_vmcb_setup {
    size_t size;          /**< sizeof(vcore_hw_vmcb_setup_t). */
    const uint8_t *msrpm; /**< MSR permission map (8 KiB) the VMCB uses, copied by the backend and ORed with the backend's own map for the guest, so an intercept the backend keeps for the VM is never lost; NULL intercepts every MSR. */
    const uint8_t *iopm;  /**< I/O permission map (12 KiB), copied and ORed with the backend's own map for the guest; NULL intercepts every port. */
    uint32_t npt;         /**< ::vcore_hw_vmcb_npt_t. */
    uint32_t flush;       /**< VCORE_HW_VMCB_FLUSH_* bits for the next run. */
    /** Nonzero: @c msrpm and @c iopm hold what the last setup of this VMCB stated; the backend may keep the copies it made then. */
    uint32_t maps_unchanged;
} vcore_hw_vmcb_setup_t;

/** @name Permissions of vcore_backend_t::vmcb_npt_map
 * @{ */
#define VCORE_HW_NPT_WRITE (1u << 0) /**< Writes are allowed. */
#define VCORE_HW_NPT_EXEC (1u << 1)  /**< Instruction fetches are allowed. */
/** @} */

/** @brief What vcore_backend_t::vcpu_flush_tlb must invalidate. */
typedef enum vcore_tlb_flush_kind {
    /** Every cached linear translation of the vCPU's guest, global ones included (INVVPID single-context; an ASID flush). */
    VCORE_TLB_FLUSH_ALL = 0,
    /** As ALL, but global translations may stay (INVVPID single-context retaining globals). */
    VCORE_TLB_FLUSH_NON_GLOBAL = 1,
    /** The pages of @c ranges (INVVPID individual-address per page; INVLPGA); a large page holding one goes whole. */
    VCORE_TLB_FLUSH_LIST = 2
} vcore_tlb_flush_kind_t;

/**
 * @brief A TLB flush the core asks of a backend before a vCPU's next entry.
 *
 * Flushing more than asked is always allowed (a TLB is a cache): a backend
 * that cannot flush single pages flushes everything.
 */
typedef struct vcore_tlb_flush {
    uint32_t kind;          /**< vcore_tlb_flush_kind_t. */
    uint32_t count;         /**< LIST: entries at @c ranges. */
    /** LIST: GVA ranges in the Hyper-V encoding: bits 63:12 the first page, bits 11:0 the number of additional pages. */
    const uint64_t *ranges;
} vcore_tlb_flush_t;

/** @brief The operations of one backend. */
struct vcore_backend {
    size_t size;           /**< sizeof(vcore_backend_t) the backend was built with (at least VCORE_BACKEND_SIZE_V1). */
    uint32_t abi_version;  /**< VCORE_BACKEND_ABI_VERSION. */
    uint32_t arches;       /**< VCORE_BACKEND_ARCH_* bits. */
    const char *name;      /**< Short name: "mock", "kvm", "vmx", "svm", "arm64". */
    size_t vm_priv_size;   /**< Bytes of private state per VM (placed after the core's). */
    size_t vcpu_priv_size; /**< Bytes of private state per vCPU. */

    /** Tells whether the backend can run here. VCORE_OK or VCORE_ERR_NODEV. Optional. */
    int (*probe)(const vcore_host_t *host);
    /** Initialises @p priv (zeroed) for a new VM. Required. */
    int (*vm_init)(vcore_vm_t *vm, void *priv);
    /** Releases what vm_init acquired. Required. */
    void (*vm_fini)(vcore_vm_t *vm, void *priv);
    /** Maps @p region in slot @p slot (already validated by the core). Optional. */
    int (*vm_map)(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *region);
    /** Unmaps slot @p slot. Optional (required if vm_map is set). */
    int (*vm_unmap)(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *region);
    /** Reads and clears the dirty bitmap of slot @p slot. Optional. */
    int (*vm_dirty_log)(vcore_vm_t *vm, void *priv, uint32_t slot,
                        const vcore_mem_region_t *region, uint64_t *bitmap, size_t bitmap_len);

    /** Initialises @p priv (zeroed) for a new vCPU. Required. */
    int (*vcpu_init)(vcore_vcpu_t *vcpu, void *priv);
    /** Releases what vcpu_init acquired. Required. */
    void (*vcpu_fini)(vcore_vcpu_t *vcpu, void *priv);
    /** Copies exactly the state groups @p groups from the backend into @p state. Required. */
    int (*vcpu_get_state)(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                          uint32_t groups);
    /** Loads the state groups @p groups of @p state into the backend. Required. */
    int (*vcpu_set_state)(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                          uint32_t groups);
    /** Installs a CPUID table the core has already checked (x86). Optional. */
    int (*vcpu_set_cpuid)(vcore_vcpu_t *vcpu, void *priv, const vcore_cpuid_entry_t *entries,
                          uint32_t nent);
    /**
     * Runs until an exit; @p exit carries the previous exit's reply in and
     * the new exit out. Required. On an arm64 vCPU the core passes an exit
     * whose reason is VCORE_EXIT_NONE when no reply is due (the first run,
     * after vcore_vcpu_reset(), after an exit that needs none).
     */
    int (*vcpu_run)(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit);
    /** Interrupts a run from another thread. Optional. */
    int (*vcpu_kick)(vcore_vcpu_t *vcpu, void *priv);

    /* ---- Appended in ABI version 2 (absent when @c size ends before them). ---- */

    /** State groups this backend implements (an x86 backend without events leaves out VCORE_X86_STATE_EVENTS). 0 means every group. */
    uint32_t state_groups;
    uint32_t features;     /**< VCORE_BACKEND_FEAT_* bits. */

    /**
     * @name Hardware VMCS objects (Intel VMX; NULL elsewhere)
     * A vCPU owns vmcs01, the VMCS its guest runs on; these ops let the core
     * create more (vmcs02, shadow VMCSs) and drive them as the SDM's "VMCS
     * Life Cycle" says. Each object keeps its own launch state and control
     * shadow (vcore_vmcs_ctl_shadow_t). vcpu_run, vcpu_get_state and
     * vcpu_set_state always work on vmcs01 and make it current again.
     * @{
     */
    /** The VMX capability MSRs 480H-491H of the processor the backend drives (for nested VMX). */
    int (*vmx_caps)(vcore_vm_t *vm, void *priv, vcore_nvmx_caps_t *out);
    /** Allocates a VMCS region (revision id set, shadow-VMCS indicator when @p shadow), VMCLEARed. */
    int (*vmcs_alloc)(vcore_vcpu_t *vcpu, void *priv, bool shadow, vcore_hw_vmcs_t **out);
    /** VMCLEARs and frees a VMCS made by vmcs_alloc (never the vCPU's vmcs01). */
    void (*vmcs_free)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
    /** VMPTRLD: makes @p vmcs current (NULL: the vCPU's vmcs01). */
    int (*vmcs_load)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
    /** VMCLEAR: writes @p vmcs back, makes its launch state clear and, if it was current, leaves no current VMCS. */
    int (*vmcs_clear)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
    /** VMREAD of the current VMCS. VCORE_ERR_STATE without one; VCORE_ERR_NOENT for an unsupported field. */
    int (*vmcs_read)(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t *value);
    /** VMWRITE of the current VMCS (a major control word equal to its shadow is not written). */
    int (*vmcs_write)(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t value);
    /** VMLAUNCH (launch state clear) or VMRESUME (launched) of the current VMCS with the vCPU's GPRs.
     *  A processor NMI or machine check (vector 18) that ends the run (basic exit reason 0) belongs to
     *  the host: the backend hands it to the host's handler before it returns the exit, as for the
     *  vCPU's own VMCS; the core then re-enters the guest. */
    int (*vmcs_enter)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_entry_t *out);
    /** @} */

    /**
     * @name TLB flush and Hyper-V (appended; absent when @c size ends before them)
     * @{
     */
    /**
     * Invalidates the vCPU's cached guest translations as @p req says. The
     * core calls it on the vCPU's own thread, just before an entry
     * (x86/hyperv.h PV TLB flush); the guest must not run on a translation
     * it removes. Optional: without it the core offers no PV TLB flush.
     */
    int (*vcpu_flush_tlb)(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req);
    /**
     * The backend's host implements Hyper-V itself (KVM): VCORE_OK when it
     * serves every enlightenment in @p features (VCORE_HV_F_*), else
     * VCORE_ERR_UNSUPPORTED. The core then composes the CPUID leaves the host
     * receives through vcpu_set_cpuid and handles no hypercall itself. Optional.
     */
    int (*vm_hv_host)(vcore_vm_t *vm, void *priv, uint32_t features);
    /** With vm_hv_host: gives the host a vCPU's VP index (after its CPUID table is set). */
    int (*vcpu_hv_vp_index)(vcore_vcpu_t *vcpu, void *priv, uint32_t vp_index);
    /** @} */

    /**
     * @name Nested EPT (appended; absent when @c size ends before it)
     * The core builds the shadow EPT L2 runs on (x86/nvmx_ept02.h) in pages
     * it draws from the host; the backend only invalidates what the
     * processor caches from it.
     * @{
     */
    /**
     * INVEPT for the vCPU's processor: single-context for the EPT whose
     * pointer is @p eptp (all-context where single-context is missing;
     * flushing more is allowed), before the core reuses or narrows a table
     * the processor may have cached. Optional: without it L1 cannot enable
     * EPT for L2 (the entry is refused with NVMX_PIPELINE_UNSUPPORTED).
     */
    int (*vcpu_invept)(vcore_vcpu_t *vcpu, void *priv, uint64_t eptp);
    /** @} */

    /**
     * @name VMCS shadowing for the guest (appended; absent when @c size ends before it)
     * @{
     */
    /**
     * Links a shadow VMCS to the vCPU's vmcs01 (SDM Vol. 3, "VMCS
     * Shadowing"): with @p shadow (a VMCS from vmcs_alloc with @c shadow
     * true) sets "VMCS shadowing" (secondary processor-based control 14) in
     * vmcs01 and its VMCS link pointer to the region of @p shadow; when
     * @p vmread_bitmap and @p vmwrite_bitmap are non-NULL, first copies them
     * (VCORE_NVMX_BITMAP_SIZE bytes each, bit n for the field with encoding
     * bits 14:0 = n, SDM "VMREAD Bitmap and VMWRITE Bitmap") into the pages
     * vmcs01's VMREAD-bitmap and VMWRITE-bitmap addresses name. The first link
     * must pass both bitmaps; later ones may pass NULL to keep them. A NULL
     * @p shadow clears "VMCS shadowing" and sets the link pointer to
     * FFFFFFFF_FFFFFFFFH, so every VMREAD and VMWRITE of the guest exits
     * again. vmcs01 need not be current; the current VMCS afterwards is
     * unspecified. VCORE_ERR_UNSUPPORTED without VMCS shadowing. Optional.
     */
    int (*vmcs_shadow_link)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *shadow,
                            const uint8_t *vmread_bitmap, const uint8_t *vmwrite_bitmap);
    /** @} */

    /**
     * @name Hardware VMCB objects (AMD SVM; NULL elsewhere)
     * A vCPU runs its guest on vmcb01, which the backend keeps to itself;
     * these ops let the core create and run more VMCBs (vmcb02 for nested
     * SVM). A VMCB is a page in memory, not a processor-resident object: no
     * current-VMCB state and no launch state, hence a group of its own
     * rather than the VMCS ops (APM Vol. 2, "VMRUN Instruction").
     *
     * Fields are named by their offset and width in the 4 KiB VMCB
     * (x86/vmcb.h: VCORE_VMCB_FIELD_LIST); an offset and width that is not a
     * named field, or a write to a backend-owned field
     * (vcore_hw_vmcb_setup_t), is refused with VCORE_ERR_NOENT /
     * VCORE_ERR_PERM. Clean bits are the backend's ("VMCB Clean Field"): a
     * write of the value the VMCB already holds leaves its clean bit set,
     * any other write clears the bit covering the field
     * (vcore_vmcb_clean_bit()). TSC_OFFSET is relative to the vCPU's own
     * TSC (what vmcb01's guest reads): the backend adds vmcb01's offset
     * when it runs the VMCB ("TSC Offset"), so the guest of the VMCB reads
     * the vCPU's TSC plus the field.
     * @{
     */
    /** Allocates a zeroed VMCB, with its own ASID distinct from vmcb01's. */
    int (*vmcb_alloc)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t **out);
    /** Frees a VMCB made by vmcb_alloc, with its shadow nested table. */
    void (*vmcb_free)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb);
    /** Reads a named field (@p bytes 1, 2, 4 or 8 as the field list says). */
    int (*vmcb_read)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                     uint64_t *value);
    /** Writes a named field; an unchanged value is not written and keeps its clean bit. */
    int (*vmcb_write)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                      uint64_t value);
    /** Installs the backend-owned part (permission maps, nested table, flushes) before a run. */
    int (*vmcb_setup)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, const vcore_hw_vmcb_setup_t *setup);
    /**
     * Maps the 4 KiB page holding @p gpa in the VMCB's shadow nested table
     * to the VM's guest-physical page @p vm_gpa with @p prot
     * (VCORE_HW_NPT_*; reads always allowed). Two phases as the VM's own
     * table: the tables are made first, the leaf written last, so a failure
     * changes no translation. VCORE_ERR_NOENT when @p vm_gpa is not RAM of
     * the VM (nothing mapped: the access is the VMM's).
     */
    int (*vmcb_npt_map)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint64_t gpa, uint64_t vm_gpa,
                        uint32_t prot);
    /**
     * VMRUN of @p vmcb ("VMRUN Instruction"). @p gprs carries the
     * registers the VMCB does not hold (every GPR but RAX and RSP; RAX, RSP,
     * RIP and RFLAGS are VMCB fields) in and out. @p exit carries in the
     * reply to the previous exit of this VMCB (reason VCORE_EXIT_NONE: no
     * reply due, nothing to complete) and out the exit decoded as
     * vcpu_run decodes exits of vmcb01, with raw.source VCORE_EXIT_SRC_SVM,
     * raw.data[0] EXITCODE (64 bits), raw.qualification EXITINFO1,
     * raw.data[1] EXITINFO2, raw.data[2] EXITINTINFO, raw.data[4] the
     * address of the next instruction when the exit is an instruction
     * intercept the backend decodes (nRIP, or the decoded length where the
     * processor saves no nRIP), else 0. The vCPU's own event
     * state is not injected: EVENTINJ is the core's field.
     */
    int (*vmcb_run)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, vcore_x86_regs_t *gprs,
                    vcore_exit_t *exit);
    /** @} */

    /**
     * @name Batched VMCS reads (appended; absent when @c size ends before it)
     * @{
     */
    /**
     * Makes @p vmcs current as vmcs_load does (NULL: the vCPU's vmcs01; no
     * VMPTRLD is needed when it already is) and VMREADs @p count fields of
     * it: @p values[i] receives the field @p fields[i] as vmcs_read would.
     * Each field is one VMREAD (one VMCS access). On the first failure the
     * op stops and returns what vmcs_load or vmcs_read would have returned;
     * the values of that field and the ones after it are then unspecified.
     * Optional, and only with the hardware VMCS group: without it the core
     * calls vmcs_load and vmcs_read once per field.
     */
    int (*vmcs_read_many)(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs, const uint32_t *fields,
                          uint64_t *values, uint32_t count);
    /** @} */

    /**
     * @name A second VPID for nested VMX (appended; absent when @c size ends before it)
     * SDM Vol. 3, "Virtual-Processor Identifiers (VPIDs)": the processor
     * keeps linear and combined mappings tagged with the VPID of the VMCS
     * that made them, so L2 on a VPID of its own (vpid02) keeps its
     * translations across the exits L0 handles, and L1's stay apart.
     * @{
     */
    /**
     * The vCPU's vpid02: nonzero, different from the VPID of every vCPU's
     * vmcs01 of the VM and from the vpid02 of its other vCPUs, the same for
     * the vCPU's life. VCORE_ERR_UNSUPPORTED when the backend runs guests
     * without VPID. Optional: without it vmcs02 runs without VPID.
     */
    int (*vcpu_vpid02)(vcore_vcpu_t *vcpu, void *priv, uint16_t *vpid);
    /**
     * Invalidates the mappings tagged with the vCPU's vpid02 as @p req says
     * (INVVPID on the vCPU's own processor; the kinds and the latitude of
     * vcpu_flush_tlb). Required with vcpu_vpid02.
     */
    int (*vcpu_flush_vpid02)(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req);
    /** @} */

    /**
     * @name Run with state transfer (appended; absent when @c size ends before it)
     * @{
     */
    /**
     * One run with the state transfers around it, as KVM's kvm_run
     * "sync_regs" (kvm_dirty_regs / kvm_valid_regs) does: loads the groups
     * @p push of @p state exactly as @c vcpu_set_state would, runs exactly
     * as @c vcpu_run would (@p exit carries the reply in and the exit out),
     * then writes into @p state the groups of @c *pull it can read cheaply
     * after the exit, exactly as @c vcpu_get_state would, and stores in
     * @c *pull the groups it wrote (a subset of the request; possibly 0).
     * The core fetches the groups left out with @c vcpu_get_state when it
     * needs them, so a backend may always answer 0. @p push and @c *pull
     * only name groups the backend holds (@c state_groups).
     * On error the core assumes nothing of @p push reached the backend: it
     * keeps those groups dirty (they are loaded again before the next run)
     * and treats every other group the backend holds as unknown; @c *pull
     * and @p exit are then ignored.
     * Optional: without it the core calls @c vcpu_set_state, @c vcpu_run
     * and @c vcpu_get_state itself, with the same outcome. A table copied
     * from another backend's with @c vcpu_run replaced must replace or
     * clear this op too: the core runs the guest through it when present.
     */
    int (*vcpu_run_sync)(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state, uint32_t push,
                         uint32_t *pull, vcore_exit_t *exit);
    /** @} */

    /**
     * @name L0's MSR intercepts for nested VMX (appended; absent when @c size ends before it)
     * @{
     */
    /**
     * Whether the vCPU's own guest (L1, on vmcs01) exits on RDMSR (@p write
     * false) or WRMSR (@p write true) of MSR @p msr: its bit in vmcs01's MSR
     * bitmap (SDM Vol. 3, "MSR-Bitmap Address"), true for every MSR without
     * one. The answer must not change for the vCPU's life. The core lets an
     * access of L2 through vmcs02 only where this says false and L1 lets it
     * through too. Optional: without it every MSR counts as intercepted and
     * every RDMSR/WRMSR of L2 exits.
     */
    bool (*vmx_msr_exits)(vcore_vcpu_t *vcpu, void *priv, uint32_t msr, bool write);
    /** @} */
};

/** @brief Size of the first published ops table (through @c vcpu_kick): the smallest accepted @c size. */
#define VCORE_BACKEND_SIZE_V1 (offsetof(vcore_backend_t, vcpu_kick) + sizeof(void (*)(void)))

/**
 * @brief Copies the x86 state groups @p groups from @p src to @p dst, and nothing else.
 *
 * For backends whose hardware moves state in larger units than the core's
 * groups (KVM's register ioctls): fetch a whole unit into a scratch block,
 * then copy exactly the groups the core asked for.
 * @param[out] dst Destination.
 * @param[in] src Source.
 * @param[in] groups VCORE_X86_STATE_* groups.
 */
VCORE_API void vcore_x86_state_copy(vcore_x86_state_t *dst, const vcore_x86_state_t *src,
                                    uint32_t groups);

/**
 * @brief Decides whether a VMWRITE must reach the VMCS, keeping the control shadow current.
 *
 * For the five major control words the write is needed only when the value
 * differs from the one the shadow says the VMCS holds; every other field is
 * always written.
 * @param[in,out] shadow The control shadow of the VMCS being written.
 * @param[in] field The field encoding.
 * @param[in] value The value to write.
 * @return true if the VMWRITE must be issued (the shadow then records @p value); false to skip it.
 */
VCORE_API bool vcore_vmcs_ctl_shadow_write(vcore_vmcs_ctl_shadow_t *shadow, uint32_t field,
                                           uint64_t value);

/**
 * @brief Forgets a control shadow (after VMCLEAR, or when the VMCS was written behind its back).
 * @param[out] shadow The shadow; NULL is ignored.
 */
VCORE_API void vcore_vmcs_ctl_shadow_reset(vcore_vmcs_ctl_shadow_t *shadow);

/**
 * @brief Checks that a backend's ops table is well formed.
 *
 * Sizes: at least VCORE_BACKEND_SIZE_V1; ops past @c size count as NULL.
 * The private sizes must leave room for the core's own part of a VM or
 * vCPU block (no size_t overflow). The VMCS ops come as a group: all or none;
 * so do the VMCB ops.
 * @param[in] backend The table.
 * @return VCORE_OK if usable.
 * @retval VCORE_ERR_INVAL @p backend is NULL, a required op is missing, a
 *         private size is too large, or the VMCS or VMCB group is incomplete.
 * @retval VCORE_ERR_ABI The size is below VCORE_BACKEND_SIZE_V1 or the ABI version is not this library's.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_backend_validate(const vcore_backend_t *backend);

/**
 * @brief The host services of a VM (for backends).
 * @param[in] vm The VM.
 * @return The services the VM was created with.
 */
VCORE_API const vcore_host_t *vcore_vm_host(const vcore_vm_t *vm);

/**
 * @brief The configuration a VM was created with (for backends).
 * @param[in] vm The VM.
 * @return A copy owned by the VM.
 */
VCORE_API const vcore_vm_config_t *vcore_vm_config(const vcore_vm_t *vm);

/**
 * @brief The backend a VM runs on (the table it was created with).
 * @param[in] vm The VM.
 * @return The ops table; NULL if @p vm is NULL.
 */
VCORE_API const vcore_backend_t *vcore_vm_backend(const vcore_vm_t *vm);

/**
 * @brief The private state of a VM's backend.
 * @param[in] vm The VM.
 * @return The vm_priv_size bytes reserved for the backend.
 */
VCORE_API void *vcore_vm_backend_priv(vcore_vm_t *vm);

/**
 * @brief The VM a vCPU belongs to.
 * @param[in] vcpu The vCPU.
 * @return The VM.
 */
VCORE_API vcore_vm_t *vcore_vcpu_vm(const vcore_vcpu_t *vcpu);

/**
 * @brief The private state of a vCPU's backend.
 * @param[in] vcpu The vCPU.
 * @return The vcpu_priv_size bytes reserved for the backend; NULL if @p vcpu is NULL.
 */
VCORE_API void *vcore_vcpu_backend_priv(const vcore_vcpu_t *vcpu);

/**
 * @brief The backend a vCPU runs on.
 * @param[in] vcpu The vCPU.
 * @return The ops table; NULL if @p vcpu is NULL.
 */
VCORE_API const vcore_backend_t *vcore_vcpu_backend(const vcore_vcpu_t *vcpu);

/**
 * @brief The core's model of a vCPU's state, as last synchronised (for backends).
 *
 * Backends may read it (e.g. to compare), but must change state only through
 * their own get/set ops.
 * @param[in] vcpu The vCPU.
 * @return The model, tagged with the vCPU's architecture; NULL if @p vcpu is NULL.
 */
VCORE_API const vcore_vcpu_state_t *vcore_vcpu_model(const vcore_vcpu_t *vcpu);

/**
 * @brief The architecture of a vCPU (for backends).
 * @param[in] vcpu The vCPU.
 * @return A vcore_arch_t; 0 if @p vcpu is NULL.
 */
VCORE_API uint32_t vcore_vcpu_arch(const vcore_vcpu_t *vcpu);

/**
 * @brief Emits a log line through a VM's host services, if its level is enabled.
 * @param[in] vm The VM.
 * @param[in] level A vcore_log_level_t.
 * @param[in] msg The text.
 */
VCORE_API void vcore_vm_log(const vcore_vm_t *vm, int level, const char *msg);

VCORE_END_DECLS

#endif /* VIRTCORE_BACKEND_H */
