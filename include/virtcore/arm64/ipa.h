/**
 * @file ipa.h
 * @brief AArch64 guest IPA size: encoding into a VM type and validation.
 *
 * The stage-2 input address (IPA) size of an AArch64 VM is chosen when the VM
 * is created. Linux KVM encodes it in bits 7:0 of the KVM_CREATE_VM machine
 * type (0 keeps the historical 40-bit default) and publishes the host limit
 * through KVM_CAP_ARM_VM_IPA_SIZE (0 = the kernel cannot change the size).
 * The smallest size is 32 bits: the smallest physical-address range the
 * architecture defines (Arm ARM, ID_AA64MMFR0_EL1.PARange, value 0b0000).
 * These functions are pure: they encode and check, they never touch KVM.
 */
#ifndef VIRTCORE_ARM64_IPA_H
#define VIRTCORE_ARM64_IPA_H

#include "../common.h"
#include "../error.h"

VCORE_BEGIN_DECLS

/** @brief Smallest IPA size in bits (PARange 0b0000, 4 GiB). */
#define VCORE_ARM64_IPA_MIN_BITS 32u
/** @brief IPA size a VM type of 0 stands for. */
#define VCORE_ARM64_IPA_DEFAULT_BITS 40u
/** @brief Bits of the VM type that hold the IPA size. */
#define VCORE_ARM64_VM_TYPE_IPA_MASK 0xffull

/**
 * @brief Computes the VM type for a requested IPA size on a host.
 *
 * Checks, in this order: the size fits the 8-bit field; an explicit size
 * needs a host that can change it (@p host_limit != 0) and must lie in
 * [::VCORE_ARM64_IPA_MIN_BITS, @p host_limit]; the default (0) needs a host
 * limit of at least ::VCORE_ARM64_IPA_DEFAULT_BITS when the host reports one.
 * @param[in] ipa_bits Requested IPA size in bits; 0 asks for the default (40).
 * @param[in] host_limit The host's largest IPA size (KVM_CAP_ARM_VM_IPA_SIZE); 0 if unknown/fixed.
 * @param[out] type Receives the VM type (the IPA size in bits 7:0, or 0).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p type is NULL, or @p ipa_bits does not fit bits 7:0.
 * @retval VCORE_ERR_RANGE An explicit size below 32 or above @p host_limit.
 * @retval VCORE_ERR_UNSUPPORTED The host cannot change the IPA size (limit 0) and a
 *         size was requested, or the host limit is below the 40-bit default.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_ipa_vm_type(uint32_t ipa_bits, uint32_t host_limit, uint64_t *type);

/**
 * @brief Validates a VM type and returns the IPA size it selects.
 *
 * Same rules as vcore_arm64_ipa_vm_type(), applied to an encoded type; any
 * bit outside 7:0 is refused first.
 * @param[in] type A VM type value.
 * @param[in] host_limit The host's largest IPA size; 0 if the host cannot change it.
 * @param[out] ipa_bits Receives the effective IPA size (40 for type 0).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p ipa_bits is NULL or bits above 7:0 are set.
 * @retval VCORE_ERR_RANGE The encoded size is below 32 or above @p host_limit.
 * @retval VCORE_ERR_UNSUPPORTED As for vcore_arm64_ipa_vm_type().
 */
VCORE_API VCORE_WARN_UNUSED int vcore_arm64_ipa_from_vm_type(uint64_t type, uint32_t host_limit, uint32_t *ipa_bits);

VCORE_END_DECLS

#endif /* VIRTCORE_ARM64_IPA_H */
