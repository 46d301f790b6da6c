/*
 * vcpu_sync.c - the vCPU layer's shared refusals; the register model's
 * synchronisation with the backend is inline in vcpu_sync.h.
 */
#include "object.h"

int vcore__vcpu_wrong_arch(vcore_vcpu_t *vcpu)
{
    (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_WRONG_ARCH, vcpu->arch);
    return VCORE_ERR_UNSUPPORTED;
}
