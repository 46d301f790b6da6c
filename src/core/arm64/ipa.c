/*
 * ipa.c - AArch64 IPA size <-> KVM VM type, with the host-limit checks.
 *
 * The order of the checks follows the kernel's documented behaviour for
 * KVM_CREATE_VM on arm64 (Documentation/virt/kvm/api.rst, "KVM_CREATE_VM"):
 * undefined type bits first, then an explicit size against [32, limit], then
 * the implicit 40-bit default against the limit. The 32-bit floor is the
 * smallest PARange the architecture defines (Arm ARM, "ID_AA64MMFR0_EL1",
 * PARange 0b0000 = 32 bits).
 */
#include "virtcore/arm64/ipa.h"

#include "arm64.h"
#include "virtcore/error.h"

/* Shared by both directions and by the stage-2 geometry (s2_geometry.c):
 * checks a decoded size, returns the effective one. */
int vcore__arm64_ipa_check(uint32_t bits, uint32_t host_limit, uint32_t *effective)
{
    if (bits != 0) {
        /* A limit of 0 means KVM_CAP_ARM_VM_IPA_SIZE is absent: only the
         * fixed default exists and an explicit size cannot be honoured. */
        if (host_limit == 0)
            return VCORE_ERR_UNSUPPORTED;
        if (bits < VCORE_ARM64_IPA_MIN_BITS || bits > host_limit)
            return VCORE_ERR_RANGE;
        *effective = bits;
        return VCORE_OK;
    }
    /* Type 0 asks for the 40-bit default; a host that reports a smaller
     * limit refuses it (the kernel rejects VM creation in that case). */
    if (host_limit != 0 && host_limit < VCORE_ARM64_IPA_DEFAULT_BITS)
        return VCORE_ERR_UNSUPPORTED;
    *effective = VCORE_ARM64_IPA_DEFAULT_BITS;
    return VCORE_OK;
}

int vcore_arm64_ipa_vm_type(uint32_t ipa_bits, uint32_t host_limit, uint64_t *type)
{
    uint32_t eff = 0;
    int rc;

    if (!type)
        return VCORE_ERR_INVAL;
    if (ipa_bits > VCORE_ARM64_VM_TYPE_IPA_MASK)
        return VCORE_ERR_INVAL;
    rc = vcore__arm64_ipa_check(ipa_bits, host_limit, &eff);
    if (rc != VCORE_OK)
        return rc;
    /* Bits 7:0 hold log2 of the IPA size; 0 keeps the default encoding. */
    *type = (uint64_t)ipa_bits & VCORE_ARM64_VM_TYPE_IPA_MASK;
    return VCORE_OK;
}

int vcore_arm64_ipa_from_vm_type(uint64_t type, uint32_t host_limit, uint32_t *ipa_bits)
{
    if (!ipa_bits)
        return VCORE_ERR_INVAL;
    /* Bits above 7:0 are not defined for the IPA encoding. */
    if (type & ~VCORE_ARM64_VM_TYPE_IPA_MASK)
        return VCORE_ERR_INVAL;
    return vcore__arm64_ipa_check((uint32_t)(type & VCORE_ARM64_VM_TYPE_IPA_MASK), host_limit, ipa_bits);
}
