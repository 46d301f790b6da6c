/**
 * @file arm64/el2.h
 * @brief The arm64 backend (a hypervisor at EL2): what it adds to the
 *        generic VM and vCPU API.
 *
 * Available in a library built with the arm64 backend
 * (VIRTCORE_BACKENDS=arm64, freestanding, aarch64); docs/embedding.md
 * describes the environment it needs at EL2.
 */
#ifndef VIRTCORE_ARM64_EL2_H
#define VIRTCORE_ARM64_EL2_H

#include "../common.h"
#include "../vm.h"
#include "stage2.h"

VCORE_BEGIN_DECLS

/**
 * @brief The stage-2 table of a VM of the arm64 backend, for inspection.
 *
 * Read it with vcore_arm64_s2_get_geom(), vcore_arm64_s2_lookup() and
 * vcore_arm64_s2_stats() (start level, concatenation and VTCR_EL2 the
 * library chose; block and page entries). Change the guest's memory only
 * through vcore_vm_map_memory() / vcore_vm_unmap_memory(). Not to be used
 * concurrently with them.
 * @param[in] vm A VM.
 * @return The table; NULL if @p vm is not a VM of the arm64 backend.
 */
VCORE_API const vcore_arm64_s2_t *vcore_arm64_el2_stage2(vcore_vm_t *vm);

VCORE_END_DECLS

#endif /* VIRTCORE_ARM64_EL2_H */
