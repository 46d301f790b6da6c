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
#include "x86/cpuid.h"
#include "x86/regs.h"

VCORE_BEGIN_DECLS

/** @brief Configuration for a vCPU. Initialise with vcore_vcpu_config_init(). */
typedef struct vcore_vcpu_config {
    size_t size;     /**< sizeof(vcore_vcpu_config_t). */
    uint32_t id;     /**< vCPU index (also the initial APIC ID); unique in the VM. */
    uint32_t vendor; /**< vcore_x86_vendor_t used until a CPUID table says otherwise; default Intel. */
    bool bsp;        /**< Boot processor: RESET sets IA32_APIC_BASE.BSP. Default: id == 0. */
    uint32_t flags;  /**< Reserved, must be 0. */
} vcore_vcpu_config_t;

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
 * @retval VCORE_ERR_HWFAIL The backend could not create the vCPU.
 */
VCORE_API int vcore_vcpu_create(vcore_vm_t *vm, const vcore_vcpu_config_t *cfg,
                                vcore_vcpu_t **out);

/**
 * @brief Destroys a vCPU made by vcore_vcpu_create().
 * @param[in] vcpu The vCPU; NULL is ignored.
 */
VCORE_API void vcore_vcpu_destroy(vcore_vcpu_t *vcpu);

/**
 * @brief Bytes of caller storage vcore_vcpu_init_static() needs.
 * @param[in] vm The VM the vCPU will belong to (its backend decides the size).
 * @param[out] out Receives the size in bytes.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 */
VCORE_API int vcore_vcpu_storage_size(const vcore_vm_t *vm, size_t *out);

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
VCORE_API int vcore_vcpu_init_static(vcore_vm_t *vm, void *mem, size_t len,
                                     const vcore_vcpu_config_t *cfg, vcore_vcpu_t **out);

/**
 * @brief Tears down a vCPU made by vcore_vcpu_init_static().
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL or not a vCPU.
 * @retval VCORE_ERR_STATE The vCPU was made by vcore_vcpu_create().
 */
VCORE_API int vcore_vcpu_fini(vcore_vcpu_t *vcpu);

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
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL.
 * @retval VCORE_ERR_HWFAIL The backend failed to take the state.
 */
VCORE_API int vcore_vcpu_reset(vcore_vcpu_t *vcpu);

/**
 * @brief Delivers INIT: like RESET, but keeps what the manual says INIT keeps.
 *
 * Kept: CR0.CD/NW, XCR0, the MSRs (PAT, APIC base, MISC_ENABLE, SYSENTER,
 * SYSCALL, TSC ...), x87/SSE state, SMBASE. EFER (including SVME) is cleared.
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL.
 * @retval VCORE_ERR_HWFAIL The backend failed to read or take the state.
 */
VCORE_API int vcore_vcpu_init_signal(vcore_vcpu_t *vcpu);

/**
 * @brief Reads GPRs, RIP and RFLAGS.
 * @param[in] vcpu The vCPU.
 * @param[out] regs Destination; @c regs->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p regs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API int vcore_vcpu_get_regs(vcore_vcpu_t *vcpu, vcore_x86_regs_t *regs);

/**
 * @brief Writes GPRs, RIP and RFLAGS (RFLAGS reserved bits are checked).
 * @param[in] vcpu The vCPU.
 * @param[in] regs Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_ABI @p regs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API int vcore_vcpu_set_regs(vcore_vcpu_t *vcpu, const vcore_x86_regs_t *regs);

/**
 * @brief Reads segments, descriptor tables, control registers and EFER.
 * @param[in] vcpu The vCPU.
 * @param[out] sregs Destination; @c sregs->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p sregs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API int vcore_vcpu_get_sregs(vcore_vcpu_t *vcpu, vcore_x86_sregs_t *sregs);

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
VCORE_API int vcore_vcpu_set_sregs(vcore_vcpu_t *vcpu, const vcore_x86_sregs_t *sregs);

/**
 * @brief Reads the debug registers.
 * @param[in] vcpu The vCPU.
 * @param[out] dregs Destination; @c dregs->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p dregs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API int vcore_vcpu_get_dregs(vcore_vcpu_t *vcpu, vcore_x86_dregs_t *dregs);

/**
 * @brief Writes the debug registers (DR0-3 canonical, DR6/DR7 upper halves zero).
 * @param[in] vcpu The vCPU.
 * @param[in] dregs Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value.
 * @retval VCORE_ERR_ABI @p dregs->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API int vcore_vcpu_set_dregs(vcore_vcpu_t *vcpu, const vcore_x86_dregs_t *dregs);

/**
 * @brief Reads the x87/SSE control and status words.
 * @param[in] vcpu The vCPU.
 * @param[out] fpu Destination; @c fpu->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p fpu->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API int vcore_vcpu_get_fpu(vcore_vcpu_t *vcpu, vcore_x86_fpu_t *fpu);

/**
 * @brief Writes the x87/SSE control and status words (MXCSR checked against MXCSR_MASK).
 * @param[in] vcpu The vCPU.
 * @param[in] fpu Source.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value.
 * @retval VCORE_ERR_ABI @p fpu->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API int vcore_vcpu_set_fpu(vcore_vcpu_t *vcpu, const vcore_x86_fpu_t *fpu);

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
VCORE_API int vcore_vcpu_get_xcr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value);

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
VCORE_API int vcore_vcpu_set_xcr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value);

/**
 * @brief Reads a modelled MSR (see x86/msr.h for the list).
 * @param[in] vcpu The vCPU.
 * @param[in] index MSR index.
 * @param[out] value Receives the value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_NOENT The MSR is not modelled.
 * @retval VCORE_ERR_HWFAIL The backend could not read the state.
 */
VCORE_API int vcore_vcpu_get_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value);

/**
 * @brief Writes a modelled MSR with the architectural checks of WRMSR.
 * @param[in] vcpu The vCPU.
 * @param[in] index MSR index.
 * @param[in] value New value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or a refused value (see vcore_vcpu_last_diag()).
 * @retval VCORE_ERR_NOENT The MSR is not modelled.
 * @retval VCORE_ERR_HWFAIL The backend could not read the current state.
 */
VCORE_API int vcore_vcpu_set_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value);

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
VCORE_API int vcore_vcpu_set_cpuid(vcore_vcpu_t *vcpu, const vcore_cpuid_entry_t *entries,
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
VCORE_API int vcore_vcpu_get_cpuid(vcore_vcpu_t *vcpu, vcore_cpuid_entry_t *entries,
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
VCORE_API int vcore_vcpu_cpuid_query(vcore_vcpu_t *vcpu, uint32_t function, uint32_t index,
                                     vcore_cpuid_entry_t *out);

/**
 * @brief Reads the vCPU model derived from the CPUID table.
 * @param[in] vcpu The vCPU.
 * @param[out] model Destination; @c model->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p model->size is wrong.
 */
VCORE_API int vcore_vcpu_get_cpu_model(vcore_vcpu_t *vcpu, vcore_x86_cpu_model_t *model);

/**
 * @brief Runs the vCPU until the next exit the VMM must see.
 *
 * If the previous exit had VCORE_EXIT_F_NEEDS_REPLY, @p exit must be that
 * same structure with its reply slot filled; the reply completes the
 * instruction before the guest resumes.
 * @param[in] vcpu The vCPU.
 * @param[in,out] exit In: the reply to the previous exit; out: the new exit.
 * @return VCORE_OK when an exit was returned (an exit is not an error).
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p exit->size is wrong.
 * @retval VCORE_ERR_HWFAIL The backend failed to write state or run.
 * @retval VCORE_ERR_UNSCRIPTED Mock backend: no exit was scripted.
 */
VCORE_API int vcore_vcpu_run(vcore_vcpu_t *vcpu, vcore_exit_t *exit);

/**
 * @brief Makes a running (or the next) vcore_vcpu_run() return VCORE_EXIT_INTERRUPTED.
 *
 * The only function that may be called from another thread.
 * @param[in] vcpu The vCPU.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL.
 * @retval VCORE_ERR_UNSUPPORTED The backend cannot interrupt a run.
 */
VCORE_API int vcore_vcpu_kick(vcore_vcpu_t *vcpu);

/**
 * @brief Copies the diagnostic of the last refused value on this vCPU.
 * @param[in] vcpu The vCPU.
 * @param[out] out Receives the diagnostic; @c out->size must be set.
 * @return VCORE_OK on success (id 0 if nothing was refused yet).
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 */
VCORE_API int vcore_vcpu_last_diag(const vcore_vcpu_t *vcpu, vcore_diag_t *out);

/**
 * @brief Tells whether the vCPU has entered the guest at least once.
 * @param[in] vcpu The vCPU.
 * @return true after the first successful backend run; false otherwise or if NULL.
 */
VCORE_API bool vcore_vcpu_has_run(const vcore_vcpu_t *vcpu);

VCORE_END_DECLS

#endif /* VIRTCORE_VCPU_H */
