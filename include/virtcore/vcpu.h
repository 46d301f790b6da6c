/**
 * @file vcpu.h
 * @brief Virtual CPUs: lifecycle, x86 register state, RESET/INIT, CPUID, run.
 *
 * A vCPU is used by one thread at a time; only vcore_vcpu_kick() may be
 * called from another thread while vcore_vcpu_run() is in progress.
 *
 * Register writes are validated against the architecture and the vCPU's
 * CPUID-derived model. A refused write returns VCORE_ERR_INVAL, leaves the
 * state unchanged, and records the broken rule (vcore_vcpu_last_diag()).
 */
#ifndef VIRTCORE_VCPU_H
#define VIRTCORE_VCPU_H

#include "common.h"
#include "diag.h"
#include "exit.h"
#include "vm.h"
#include "arm64/regs.h"
#include "x86/cpuid.h"
#include "x86/nsvm.h"
#include "x86/nvmx.h"
#include "x86/regs.h"

VCORE_BEGIN_DECLS

/** @brief Nested virtualization a vCPU offers its guest (vcore_vcpu_config_t::nested). */
typedef enum vcore_nested {
    VCORE_NESTED_NONE = 0, /**< The guest's VMX instructions reach the VMM as exits. */
    VCORE_NESTED_VMX = 1,  /**< Intel VMX for L1: the library emulates L1's VMX instructions. */
    VCORE_NESTED_SVM = 2   /**< AMD SVM for L1: the library emulates L1's SVM instructions (x86/nsvm.h). */
} vcore_nested_t;

/**
 * @brief Configuration for a vCPU. Initialise with vcore_vcpu_config_init().
 *
 * A configuration whose @c size is at least VCORE_VCPU_CONFIG_SIZE_V1 is
 * accepted; members past its @c size take their defaults.
 */
typedef struct vcore_vcpu_config {
    size_t size;     /**< sizeof(vcore_vcpu_config_t). */
    uint32_t id;     /**< vCPU index (also the initial APIC ID); unique in the VM. */
    uint32_t vendor; /**< vcore_x86_vendor_t used until a CPUID table says otherwise; default Intel. */
    bool bsp;        /**< Boot processor: RESET sets IA32_APIC_BASE.BSP. Default: id == 0. */
    uint32_t flags;  /**< Reserved, must be 0. */
    uint32_t nested; /**< vcore_nested_t; default VCORE_NESTED_NONE. x86 only. */
    /**
     * With VCORE_NESTED_VMX: the capability MSRs (480H-491H) L1 may see at
     * most, or NULL for everything the backend's processor and the library's
     * emulation both support. It may only remove features
     * (vcore_nvmx_caps_restrict()). Copied at creation.
     */
    const vcore_nvmx_caps_t *nvmx_caps;
    /**
     * With VCORE_NESTED_SVM: the SVM features (CPUID Fn8000_000A_EDX) L1 is
     * told the processor has; a subset of VCORE_NSVM_FEATURES_EMULATED (the
     * default).
     */
    uint32_t nsvm_features;
} vcore_vcpu_config_t;

/** @brief Size of the first published vcore_vcpu_config_t (through @c flags). */
#define VCORE_VCPU_CONFIG_SIZE_V1 (offsetof(vcore_vcpu_config_t, flags) + sizeof(uint32_t))

/**
 * @brief Fills a vCPU configuration with defaults (id 0, Intel, BSP).
 * @param[out] cfg The configuration; ignored if NULL.
 */
VCORE_API void vcore_vcpu_config_init(vcore_vcpu_config_t *cfg);

/**
 * @brief Creates a vCPU, allocating through the VM's host services.
 *
 * The vCPU starts in the architectural RESET state (vcore_vcpu_reset()).
 * @param[in] vm The VM.
 * @param[in] cfg The configuration; NULL means defaults with the next free id.
 * @param[out] out Receives the handle.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a bad field.
 * @retval VCORE_ERR_ABI @p cfg->size is wrong.
 * @retval VCORE_ERR_EXISTS The id is taken.
 * @retval VCORE_ERR_RANGE The VM already has max_vcpus vCPUs, or id >= max_vcpus.
 * @retval VCORE_ERR_NOMEM Allocation failed.
 * @retval VCORE_ERR_UNSUPPORTED @c nested asks for what the backend or the architecture lacks.
 * @retval VCORE_ERR_HWFAIL The backend could not create the vCPU.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_create(vcore_vm_t *vm, const vcore_vcpu_config_t *cfg,
                                vcore_vcpu_t **out);

/**
 * @brief Destroys a vCPU made by vcore_vcpu_create().
 * @param[in] vcpu The vCPU; NULL is ignored.
 */
VCORE_API void vcore_vcpu_destroy(vcore_vcpu_t *vcpu);

/**
 * @brief Bytes of caller storage vcore_vcpu_init_static() needs for a default configuration.
 * @param[in] vm The VM the vCPU will belong to (its architecture and backend decide the size).
 * @param[out] out Receives the size in bytes.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_storage_size(const vcore_vm_t *vm, size_t *out);

/**
 * @brief Bytes of caller storage vcore_vcpu_init_static() needs for @p cfg
 *        (nested virtualization adds the nested state).
 * @param[in] vm The VM the vCPU will belong to.
 * @param[in] cfg The configuration; NULL means defaults.
 * @param[out] out Receives the size in bytes.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or an unknown @c nested value.
 * @retval VCORE_ERR_ABI @p cfg->size is below VCORE_VCPU_CONFIG_SIZE_V1.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_config_storage_size(const vcore_vm_t *vm, const vcore_vcpu_config_t *cfg,
                                             size_t *out);

/**
 * @brief Creates a vCPU in caller storage; never allocates.
 * @param[in] vm The VM.
 * @param[in] mem Storage, 16-byte aligned.
 * @param[in] len Bytes at @p mem.
 * @param[in] cfg The configuration; NULL means defaults with the next free id.
 * @param[out] out Receives the handle.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument, misaligned @p mem, or a bad field.
 * @retval VCORE_ERR_BUFSZ @p len is too small.
 * @retval VCORE_ERR_ABI @p cfg->size is wrong.
 * @retval VCORE_ERR_EXISTS The id is taken.
 * @retval VCORE_ERR_RANGE The VM is full or id >= max_vcpus.
 * @retval VCORE_ERR_HWFAIL The backend could not create the vCPU.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_init_static(vcore_vm_t *vm, void *mem, size_t len,
                                     const vcore_vcpu_config_t *cfg, vcore_vcpu_t **out);

/**
 * @brief Tears down a vCPU made by vcore_vcpu_init_static().
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL or not a vCPU.
 * @retval VCORE_ERR_STATE The vCPU was made by vcore_vcpu_create().
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_fini(vcore_vcpu_t *vcpu);

/**
 * @brief Returns the vCPU's id.
 * @param[in] vcpu The vCPU.
 * @return The id; UINT32_MAX if @p vcpu is NULL.
 */
VCORE_API uint32_t vcore_vcpu_id(const vcore_vcpu_t *vcpu);

/**
 * @brief Puts the vCPU in the power-up RESET state.
 *
 * SDM Vol. 3, table "IA-32 and Intel 64 Processor States Following Power-up,
 * Reset, or INIT"; APM Vol. 2, "Processor Initialization State".
 * RDX = CPUID.1:EAX of the vCPU's table, or 600H without one.
 * The vCPU leaves VMX operation (nested state back to "not in VMX operation").
 * An arm64 vCPU takes the Arm ARM reset state: EL1h with D, A, I, F masked,
 * MMU and caches off; registers the architecture leaves UNKNOWN are zero.
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL.
 * @retval VCORE_ERR_HWFAIL The backend failed to take the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_reset(vcore_vcpu_t *vcpu);

/**
 * @brief Delivers INIT: like RESET, but keeps what the manual says INIT keeps.
 *
 * Kept: CR0.CD/NW, XCR0, the MSRs (PAT, APIC base, MISC_ENABLE, SYSENTER,
 * SYSCALL, TSC, IA32_FEATURE_CONTROL ...), x87/SSE state, SMBASE. EFER
 * (including SVME) is cleared.
 *
 * SDM Vol. 3, "VMX Operation" ("INIT signals are blocked whenever a logical
 * processor is in VMX root operation"): in VMX root operation the INIT is
 * latched instead and nothing changes; it is delivered when the guest
 * leaves VMX operation (VMXOFF), and vcore_vcpu_run() then returns
 * VCORE_EXIT_INIT. While nested VMX runs L2 (VMX non-root operation) an
 * INIT is a VM exit to L1 instead ("Other Causes of VM Exits": exit reason
 * 3, qualification 0, no register of L2 changed, no pending event
 * cleared), taken by the next vcore_vcpu_run() before L2 executes anything
 * more; with L2 in the wait-for-SIPI activity state the INIT is blocked
 * and latched as in VMX root operation.
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success (also when the INIT was latched).
 * @retval VCORE_ERR_INVAL @p vcpu is NULL.
 * @retval VCORE_ERR_UNSUPPORTED The vCPU is not x86 (arm64 has no INIT).
 * @retval VCORE_ERR_HWFAIL The backend failed to read or take the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_init_signal(vcore_vcpu_t *vcpu);

/**
 * @brief Reads GPRs, RIP and RFLAGS.
 * @param[in] vcpu The vCPU.
 * @param[out] regs Destination; @c regs->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p regs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_regs(vcore_vcpu_t *vcpu, vcore_x86_regs_t *regs);

/**
 * @brief Writes GPRs, RIP and RFLAGS (RFLAGS reserved bits are checked).
 * @param[in] vcpu The vCPU.
 * @param[in] regs Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_ABI @p regs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_regs(vcore_vcpu_t *vcpu, const vcore_x86_regs_t *regs);

/**
 * @brief Reads segments, descriptor tables, control registers and EFER.
 * @param[in] vcpu The vCPU.
 * @param[out] sregs Destination; @c sregs->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p sregs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_sregs(vcore_vcpu_t *vcpu, vcore_x86_sregs_t *sregs);

/**
 * @brief Writes segments, descriptor tables, control registers and EFER.
 *
 * Checked: CR0/CR4/CR8/EFER reserved bits (per CPUID), illegal CR0/CR4/EFER
 * combinations, CR3 and descriptor-table bases against MAXPHYADDR and the
 * canonical form, segment access-rights reserved bits.
 * @param[in] vcpu The vCPU.
 * @param[in] sregs Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_ABI @p sregs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_sregs(vcore_vcpu_t *vcpu, const vcore_x86_sregs_t *sregs);

/**
 * @brief Reads the debug registers.
 *
 * While nested VMX runs L2 (from L1's VM entry until the VM exit to L1,
 * also when an exit from L2 returned to the VMM), DR7 is L2's: the VM
 * entry gave it vmcs12's guest DR7 ("load debug controls") or left L1's,
 * L2 may have changed it since, and the exit to L1 sets 400H (SDM Vol. 3,
 * "Loading Guest Control Registers, Debug Registers, and MSRs", "Loading
 * Host State"). DR0-DR3 and DR6 are shared by L1 and L2.
 * vcore_vcpu_set_dregs() writes L2's DR7 likewise.
 * @param[in] vcpu The vCPU.
 * @param[out] dregs Destination; @c dregs->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p dregs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_dregs(vcore_vcpu_t *vcpu, vcore_x86_dregs_t *dregs);

/**
 * @brief Writes the debug registers (DR0-3 canonical, DR6/DR7 upper halves zero).
 * @param[in] vcpu The vCPU.
 * @param[in] dregs Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value.
 * @retval VCORE_ERR_ABI @p dregs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_dregs(vcore_vcpu_t *vcpu, const vcore_x86_dregs_t *dregs);

/**
 * @brief Reads the x87/SSE control and status words.
 * @param[in] vcpu The vCPU.
 * @param[out] fpu Destination; @c fpu->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p fpu->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_fpu(vcore_vcpu_t *vcpu, vcore_x86_fpu_t *fpu);

/**
 * @brief Writes the x87/SSE control and status words (MXCSR checked against MXCSR_MASK).
 * @param[in] vcpu The vCPU.
 * @param[in] fpu Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value.
 * @retval VCORE_ERR_ABI @p fpu->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_fpu(vcore_vcpu_t *vcpu, const vcore_x86_fpu_t *fpu);

/**
 * @brief Reads an extended control register (only XCR0 exists).
 * @param[in] vcpu The vCPU.
 * @param[in] index XCR index; must be 0.
 * @param[out] value Receives the value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT @p index is not 0.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_xcr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value);

/**
 * @brief Writes XCR0, checked against the guest-supported XCR0 and the XSETBV rules.
 * @param[in] vcpu The vCPU.
 * @param[in] index XCR index; must be 0.
 * @param[in] value New value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value.
 * @retval VCORE_ERR_NOENT @p index is not 0.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_xcr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value);

/**
 * @brief Reads a modelled MSR (see x86/msr.h for the list).
 *
 * While nested VMX runs L2 (from L1's VM entry until the VM exit to L1,
 * also when an exit from L2 returned to the VMM), IA32_EFER and IA32_PAT
 * are L2's: the vCPU has one of each, the VM entry loaded L2's and the exit
 * to L1 gives L1 vmcs12's host value or leaves L2's (SDM Vol. 3, "Loading
 * Guest Control Registers, Debug Registers, and MSRs", "Loading Host
 * State"). vcore_vcpu_get_sregs() keeps L1's EFER with L1's control
 * registers. See vcore_nvmx_vcpu_get_state() for migrating such a vCPU.
 * @param[in] vcpu The vCPU.
 * @param[in] index MSR index.
 * @param[out] value Receives the value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT The MSR is not modelled.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value);

/**
 * @brief Writes a modelled MSR with the architectural checks of WRMSR.
 *
 * While nested VMX runs L2, IA32_EFER and IA32_PAT are L2's (see
 * vcore_vcpu_get_msr()): the write changes the value L2 runs with, checked
 * as L2's own WRMSR would be, and the next VM exit to L1 treats it as
 * L2's ("save IA32_EFER" / "save IA32_PAT" store it in vmcs12; without
 * "load IA32_EFER" / "load IA32_PAT" L1 goes on with it).
 * @param[in] vcpu The vCPU.
 * @param[in] index MSR index.
 * @param[in] value New value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_NOENT The MSR is not modelled.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value);

/**
 * @brief Sets the vCPU's CPUID table through the check / update / after-set flow.
 *
 * Atomic: on failure the previous table and the model derived from it are
 * unchanged. After the vCPU has run, only a table identical to the one in
 * force (after runtime-bit update) is accepted.
 * @param[in] vcpu The vCPU.
 * @param[in] entries The table; copied. May be NULL when @p nent is 0.
 * @param[in] nent Number of entries, at most VCORE_CPUID_MAX_ENTRIES.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or an illegal table (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_RANGE @p nent is above VCORE_CPUID_MAX_ENTRIES.
 * @retval VCORE_ERR_STATE The vCPU has run and the table differs.
 * @retval VCORE_ERR_HWFAIL The backend refused the table; the previous one is in force.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_cpuid(vcore_vcpu_t *vcpu, const vcore_cpuid_entry_t *entries,
                                   uint32_t nent);

/**
 * @brief Copies the CPUID table in force, with runtime bits up to date.
 * @param[in] vcpu The vCPU.
 * @param[out] entries Destination array (may be NULL when @p cap is 0).
 * @param[in] cap Capacity of @p entries.
 * @param[out] nent Receives the number of entries in the table.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_BUFSZ @p cap is smaller than the table; @p nent says how many are needed.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_cpuid(vcore_vcpu_t *vcpu, vcore_cpuid_entry_t *entries,
                                   uint32_t cap, uint32_t *nent);

/**
 * @brief Answers a CPUID query the way the vCPU's table does.
 *
 * A leaf above the maximum basic/extended leaf returns the data of the
 * highest basic leaf on Intel and zeros on AMD, as the hardware does.
 * @param[in] vcpu The vCPU.
 * @param[in] function EAX input.
 * @param[in] index ECX input.
 * @param[out] out Receives the entry (runtime bits up to date).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_cpuid_query(vcore_vcpu_t *vcpu, uint32_t function, uint32_t index,
                                     vcore_cpuid_entry_t *out);

/**
 * @brief Reads the vCPU model derived from the CPUID table.
 * @param[in] vcpu The vCPU.
 * @param[out] model Destination; @c model->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p model->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_cpu_model(vcore_vcpu_t *vcpu, vcore_x86_cpu_model_t *model);

/**
 * @brief Runs the vCPU until the next exit the VMM must see.
 *
 * If the previous exit had VCORE_EXIT_F_NEEDS_REPLY, @p exit must be that
 * same structure with its reply slot filled; the reply completes the
 * instruction before the guest resumes.
 *
 * Between the backend's exit and the caller the core completes what belongs
 * to it and re-enters the guest without returning: with nested VMX enabled,
 * L1's VMX instructions (VMXON ... INVVPID) and its RDMSR/WRMSR of the VMX
 * capability MSRs and IA32_FEATURE_CONTROL; the interrupt and NMI windows
 * the core itself opened to deliver a queued event. Every other exit reaches
 * the caller unchanged.
 * @param[in] vcpu The vCPU.
 * @param[in,out] exit In: the reply to the previous exit; out: the new exit.
 * @return VCORE_OK when an exit was returned (an exit is not an error).
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p exit->size is wrong.
 * @retval VCORE_ERR_STATE The previous exit needs a reply and @p exit does not
 *         carry its reason (diagnostic EXIT_REPLY_MISMATCH); nothing ran.
 * @retval VCORE_ERR_HWFAIL The backend failed to write state or run.
 * @retval VCORE_ERR_UNSCRIPTED Mock backend: no exit was scripted.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_run(vcore_vcpu_t *vcpu, vcore_exit_t *exit);

/**
 * @brief Makes a running (or the next) vcore_vcpu_run() return VCORE_EXIT_INTERRUPTED.
 *
 * The only function that may be called from another thread.
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL.
 * @retval VCORE_ERR_UNSUPPORTED The backend cannot interrupt a run.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_kick(vcore_vcpu_t *vcpu);

/**
 * @brief Reads the event state (pending and injected events, interruptibility, window requests).
 * @param[in] vcpu An x86 vCPU.
 * @param[out] events Destination; @c events->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p events->size is wrong.
 * @retval VCORE_ERR_UNSUPPORTED Not an x86 vCPU, or the backend has no event state.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_events(vcore_vcpu_t *vcpu, vcore_x86_events_t *events);

/**
 * @brief Writes the whole event state (migration, or a VMM's own event logic).
 *
 * Checked as VM entry would check it (SDM Vol. 3, "Checks on VM-Entry Control
 * Fields" and "Checks on Guest Non-Register State"): one exception at most,
 * a valid exception vector (0-31 except 2), no error code for a vector that
 * never pushes one (a vector that pushes one may come without it: delivery in
 * real-address mode), not both STI and MOV-SS blocking, flags 0 or 1.
 * @param[in] vcpu An x86 vCPU.
 * @param[in] events Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused state (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_ABI @p events->size is wrong.
 * @retval VCORE_ERR_UNSUPPORTED Not an x86 vCPU, or the backend lacks events or a requested window.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_events(vcore_vcpu_t *vcpu, const vcore_x86_events_t *events);

/**
 * @brief Raises an exception in the guest; it is delivered before the guest's next instruction.
 *
 * If an exception is already pending or being delivered, the two combine
 * as the SDM's table "Conditions for Generating a Double Fault" says: a
 * pending \#DF and any new exception give a triple fault (shutdown,
 * VCORE_EXIT_SHUTDOWN at the next run); contributory after contributory,
 * or contributory or page fault after a page fault, give \#DF(0); in every
 * other case the exceptions are handled serially: the new one replaces the
 * pending one (re-executing the instruction raises the first again).
 * @param[in] vcpu An x86 vCPU.
 * @param[in] vector 0-31 except 2 (NMI: use vcore_vcpu_inject_nmi()), 15 and 22-27, 31 (reserved).
 * @param[in] has_error_code Must be true exactly for \#DF, \#TS, \#NP, \#SS, \#GP, \#PF, \#AC, \#CP (8, 10-14, 17, 21).
 * @param[in] error_code The error code (ignored without one; not pushed while CR0.PE = 0).
 * @param[in] payload \#PF: the faulting address, written to CR2 on delivery; \#DB: DR6 bits to set; otherwise ignored.
 * @return VCORE_OK when the exception is queued.
 * @retval VCORE_ERR_INVAL A NULL vCPU, a refused vector or error-code flag (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_UNSUPPORTED Not an x86 vCPU, or the backend has no event state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_inject_exception(vcore_vcpu_t *vcpu, uint8_t vector, bool has_error_code,
                                          uint32_t error_code, uint64_t payload);

/**
 * @brief Queues an external interrupt (delivered through the guest's IDT).
 *
 * It is delivered as soon as the guest can take it (RFLAGS.IF = 1, no STI or
 * MOV-SS blocking, no other event being delivered): the core opens the
 * interrupt window itself and completes that window exit inside
 * vcore_vcpu_run(). One interrupt at a time.
 * @param[in] vcpu An x86 vCPU.
 * @param[in] vector The vector (16-255; 0-15 are the exception vectors).
 * @return VCORE_OK when queued.
 * @retval VCORE_ERR_INVAL A NULL vCPU or a vector below 16.
 * @retval VCORE_ERR_BUSY An interrupt is already queued or being delivered.
 * @retval VCORE_ERR_UNSUPPORTED Not an x86 vCPU, or the backend has no event state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_inject_interrupt(vcore_vcpu_t *vcpu, uint8_t vector);

/**
 * @brief Raises an NMI.
 *
 * Delivered when NMIs are not blocked (no NMI handler running, no MOV-SS
 * or STI blocking); like the processor, the vCPU latches one NMI at most
 * while another waits, so a second call before delivery has no effect.
 * @param[in] vcpu An x86 vCPU.
 * @return VCORE_OK when raised (or already latched).
 * @retval VCORE_ERR_INVAL A NULL vCPU.
 * @retval VCORE_ERR_UNSUPPORTED Not an x86 vCPU, or the backend has no event state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_inject_nmi(vcore_vcpu_t *vcpu);

/**
 * @brief Reads an arm64 vCPU's registers.
 * @param[in] vcpu An arm64 vCPU.
 * @param[out] regs Destination; @c regs->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p regs->size is wrong.
 * @retval VCORE_ERR_UNSUPPORTED Not an arm64 vCPU.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_arm64_regs(vcore_vcpu_t *vcpu, vcore_arm64_regs_t *regs);

/**
 * @brief Writes an arm64 vCPU's registers.
 *
 * PSTATE must name an AArch64 EL0 or EL1 mode (EL0t, EL1t, EL1h) and leave
 * its RES0 bits clear (Arm ARM, "Saved Program Status Registers").
 * @param[in] vcpu An arm64 vCPU.
 * @param[in] regs Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_ABI @p regs->size is wrong.
 * @retval VCORE_ERR_UNSUPPORTED Not an arm64 vCPU.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_arm64_regs(vcore_vcpu_t *vcpu, const vcore_arm64_regs_t *regs);

/**
 * @brief Reads an arm64 vCPU's EL1 system registers.
 * @param[in] vcpu An arm64 vCPU.
 * @param[out] sys Destination; @c sys->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p sys->size is wrong.
 * @retval VCORE_ERR_UNSUPPORTED Not an arm64 vCPU.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_get_arm64_sysregs(vcore_vcpu_t *vcpu, vcore_arm64_sysregs_t *sys);

/**
 * @brief Writes an arm64 vCPU's EL1 system registers.
 *
 * SCTLR_EL1 keeps its RES1 bits set; VBAR_EL1 bits 10:0 are RES0.
 * @param[in] vcpu An arm64 vCPU.
 * @param[in] sys Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_ABI @p sys->size is wrong.
 * @retval VCORE_ERR_UNSUPPORTED Not an arm64 vCPU.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_set_arm64_sysregs(vcore_vcpu_t *vcpu, const vcore_arm64_sysregs_t *sys);

/**
 * @brief The nested-VMX state of a vCPU created with VCORE_NESTED_VMX.
 *
 * For inspection and for the nested-state functions of nvmx.h (KVM
 * nested-state export, vcore_nvmx_get_info()). The run loop owns it: do not
 * pass it to vcore_nvmx_emulate() for this vCPU.
 * @param[in] vcpu The vCPU.
 * @return The state; NULL if @p vcpu is NULL or nested VMX is not enabled.
 */
VCORE_API vcore_nvmx_t *vcore_vcpu_nvmx(vcore_vcpu_t *vcpu);

/**
 * @brief The nested-SVM state of a vCPU created with VCORE_NESTED_SVM.
 *
 * The run loop emulates L1's SVM instructions with it. A VMRUN that passes
 * its checks leaves the state in guest mode with vmcb02 built and reaches
 * the VMM as the VCORE_EXIT_SVM_INSN exit, the vCPU's registers still L1's:
 * running L2 (vmcb02), deciding its exits (vcore_nsvm_route()) and
 * reflecting them (vcore_nsvm_reflect()) are the VMM's with this state.
 *
 * @param vcpu The vCPU.
 * @return The state; NULL if @p vcpu is NULL or nested SVM is not enabled.
 */
VCORE_API vcore_nsvm_t *vcore_vcpu_nsvm(vcore_vcpu_t *vcpu);

/**
 * @brief Copies the diagnostic of the last refused value on this vCPU.
 * @param[in] vcpu The vCPU.
 * @param[out] out Receives the diagnostic; @c out->size must be set.
 * @return VCORE_OK on success (id 0 if nothing was refused yet).
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vcpu_last_diag(const vcore_vcpu_t *vcpu, vcore_diag_t *out);

/**
 * @brief Tells whether the vCPU has entered the guest at least once.
 * @param[in] vcpu The vCPU.
 * @return true after the first successful backend run; false otherwise or if NULL.
 */
VCORE_API bool vcore_vcpu_has_run(const vcore_vcpu_t *vcpu);

VCORE_END_DECLS

#endif /* VIRTCORE_VCPU_H */
