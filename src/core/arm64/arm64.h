/*
 * arm64.h - internal interface of the arm64 vCPU register model (src/core/arm64).
 *
 * Pure functions over state, like the x86 model: they never call a backend.
 */
#ifndef VCORE_CORE_ARM64_H
#define VCORE_CORE_ARM64_H

#include "../deps.h"
#include "virtcore/arm64/regs.h"
#include "virtcore/diag.h"
#include "virtcore/error.h"
#include "../diag_set.h"


/* The reset state of an AArch64 vCPU entering at EL1 (regs.c). */
void vcore__arm64_reset(vcore_arm64_state_t *st);
/* Register checks: VCORE_OK or VCORE_ERR_INVAL with a diagnostic. */
int vcore__arm64_check_regs(const vcore_arm64_regs_t *r, vcore_diag_t *d);
int vcore__arm64_check_sysregs(const vcore_arm64_sysregs_t *s, vcore_diag_t *d);

#endif /* VCORE_CORE_ARM64_H */
