/**
 * @file kvm.h
 * @brief Linux /dev/kvm backend: what is specific to it.
 *
 * The backend itself is obtained with vcore_backend_kvm() and used through
 * the generic VM/vCPU API. This header adds what only KVM has.
 *
 * Behaviour worth knowing:
 * - x86 VMs are created with machine type 0. arm64 VMs encode the IPA size
 *   of vcore_vm_config_t::ipa_bits in the type (see arm64/ipa.h).
 * - User-space MSR exits (KVM_CAP_X86_USER_SPACE_MSR) are enabled for MSRs
 *   the kernel does not know (KVM_MSR_EXIT_REASON_UNKNOWN / _INVAL) and for
 *   filtered ones: they arrive as VCORE_EXIT_RDMSR / VCORE_EXIT_WRMSR exits with
 *   the kernel's reason in @c u.msr.why.
 * - No in-kernel interrupt controller is created, so HLT exits to the VMM.
 * - Kick: vcore_vcpu_kick() sets @c immediate_exit in the vCPU's kvm_run
 *   page and sends ::VCORE_KVM_KICK_SIGNAL (SIGUSR1) to the thread inside
 *   KVM_RUN. At VM creation the backend installs an empty handler for that
 *   signal if the process has none (SIG_DFL or SIG_IGN); a handler the
 *   process installed itself is left alone. The thread that runs the vCPU
 *   must not block the signal.
 * - Register classes map to KVM_GET/SET_REGS, SREGS, DEBUGREGS, XCRS, MSRS;
 *   the x87/SSE control words go through the XSAVE image (KVM_SET_FPU
 *   cannot change MXCSR). A modelled MSR the kernel does not implement
 *   (found with KVM_GET_MSRS at vCPU creation, e.g. SMBASE without SMM)
 *   keeps the core's value and is not sent to KVM.
 * - The raw part of every exit holds the kvm_run exit reason in
 *   @c raw.reason and a copy of the 256-byte kvm_run exit union in
 *   @c raw.data; @c raw.qualification holds the hardware reason for
 *   KVM_EXIT_FAIL_ENTRY and KVM_EXIT_UNKNOWN (and ESR_EL2 on arm64).
 */
#ifndef VIRTCORE_KVM_H
#define VIRTCORE_KVM_H

#include "common.h"
#include "error.h"
#include "vm.h"
#include "x86/cpuid.h"

VCORE_BEGIN_DECLS

/** @brief Signal number vcore_vcpu_kick() sends on KVM (SIGUSR1 on Linux x86-64 and arm64). */
#define VCORE_KVM_KICK_SIGNAL 10

/**
 * @brief Reads the CPUID leaves the host KVM supports (KVM_GET_SUPPORTED_CPUID).
 *
 * A VMM typically starts from this table, changes what it wants, and passes
 * the result to vcore_vcpu_set_cpuid(). x86 hosts only.
 * @param[in] vm A VM on the kvm backend whose /dev/kvm handle is used, or
 *               NULL to open /dev/kvm for the call.
 * @param[out] entries Destination array (may be NULL when @p cap is 0).
 * @param[in] cap Capacity of @p entries.
 * @param[out] nent Receives the number of entries the host reports.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p nent is NULL, @p entries is NULL with a non-zero
 *         @p cap, or @p vm is not a VM of the kvm backend.
 * @retval VCORE_ERR_BUFSZ @p cap is smaller than the table; @p nent says how many are needed.
 * @retval VCORE_ERR_NODEV /dev/kvm cannot be opened.
 * @retval VCORE_ERR_UNSUPPORTED Not an x86 host.
 * @retval VCORE_ERR_HWFAIL The kernel refused the request.
 * @retval VCORE_ERR_NOMEM The kernel or the host allocator ran out of memory.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_kvm_get_supported_cpuid(vcore_vm_t *vm, vcore_cpuid_entry_t *entries,
                                            uint32_t cap, uint32_t *nent);

/**
 * @brief Tells whether a VM runs on the kvm backend.
 * @param[in] vm The VM (may be NULL).
 * @return true if @p vm is a VM whose backend is the kvm backend (or a copy of its ops).
 */
VCORE_API bool vcore_kvm_is_kvm_vm(const vcore_vm_t *vm);

VCORE_END_DECLS

#endif /* VIRTCORE_KVM_H */
