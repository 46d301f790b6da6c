/**
 * @file cpuid.h
 * @brief Per-vCPU CPUID table and the three-phase set flow.
 *
 * vcore_vcpu_set_cpuid() runs (1) check: legality of the whole table,
 * (2) update: the runtime bits that mirror vCPU state (OSXSAVE, APIC,
 * OSPKE, MONITOR, XSAVE sizes), (3) after-set: the vCPU model derived from
 * the table (MAXPHYADDR, reserved-bit masks, supported XCR0, vendor). The
 * set is atomic: on any failure the previous table and everything derived
 * from it stay in force.
 */
#ifndef VIRTCORE_X86_CPUID_H
#define VIRTCORE_X86_CPUID_H

#include "../common.h"

VCORE_BEGIN_DECLS

/** @brief Largest CPUID table a vCPU accepts (same limit as KVM). */
#define VCORE_CPUID_MAX_ENTRIES 256

/** @brief Entry flag: the sub-leaf index (ECX input) selects this entry. */
#define VCORE_CPUID_FLAG_INDEX_SIGNIFICANT (1u << 0)

/**
 * @brief One CPUID leaf/sub-leaf.
 *
 * An array element type with a pinned layout (seven 32-bit words); it never
 * grows, so it carries no @c size field. A future layout gets a new type.
 */
typedef struct vcore_cpuid_entry {
    uint32_t function; /**< EAX input (leaf). */
    uint32_t index;    /**< ECX input (sub-leaf); meaningful with INDEX_SIGNIFICANT. */
    uint32_t flags;    /**< VCORE_CPUID_FLAG_*. */
    uint32_t eax;      /**< EAX output. */
    uint32_t ebx;      /**< EBX output. */
    uint32_t ecx;      /**< ECX output. */
    uint32_t edx;      /**< EDX output. */
} vcore_cpuid_entry_t;

/** @brief CPU vendor as derived from CPUID leaf 0. */
typedef enum vcore_x86_vendor {
    VCORE_X86_VENDOR_UNKNOWN = 0, /**< No or unrecognised leaf 0. */
    VCORE_X86_VENDOR_INTEL = 1,   /**< "GenuineIntel". */
    VCORE_X86_VENDOR_AMD = 2,     /**< "AuthenticAMD". */
    VCORE_X86_VENDOR_HYGON = 3    /**< "HygonGenuine" (follows AMD rules). */
} vcore_x86_vendor_t;

/**
 * @brief The vCPU model derived from the CPUID table (phase 3, after-set).
 */
typedef struct vcore_x86_cpu_model {
    size_t size;               /**< sizeof(vcore_x86_cpu_model_t). */
    uint32_t vendor;           /**< vcore_x86_vendor_t. */
    uint32_t signature;        /**< CPUID.1:EAX (family/model/stepping), 0x600 if absent. */
    uint32_t maxphyaddr;       /**< Physical-address width; 36 when leaf 80000008H is absent. */
    uint32_t linear_bits;      /**< Linear-address width: 48, or 57 with LA57. */
    uint64_t cr0_reserved;     /**< CR0 bits that must be zero. */
    uint64_t cr4_reserved;     /**< CR4 bits that must be zero for this CPUID. */
    uint64_t efer_reserved;    /**< EFER bits that must be zero for this CPUID. */
    uint64_t pte_reserved;     /**< Physical-address bits reserved in paging entries (above MAXPHYADDR, below 52). */
    uint64_t supported_xcr0;   /**< XCR0 bits the guest may set (CPUID.0DH.0 EDX:EAX). */
    uint32_t xsave_size_xcr0;  /**< XSAVE area size for the current XCR0 (CPUID.0DH.0:EBX). */
    uint32_t features;         /**< VCORE_X86_FEAT_* summary bits. */
    uint64_t debugctl_reserved; /**< IA32_DEBUGCTL bits WRMSR refuses for this CPUID. */
} vcore_x86_cpu_model_t;

/**
 * @name Feature summary bits in vcore_x86_cpu_model_t::features
 * @{
 */
#define VCORE_X86_FEAT_XSAVE (1u << 0)  /**< CPUID.1:ECX.XSAVE[26]. */
#define VCORE_X86_FEAT_X2APIC (1u << 1) /**< CPUID.1:ECX.x2APIC[21]. */
#define VCORE_X86_FEAT_LM (1u << 2)     /**< CPUID.80000001H:EDX.LM[29]. */
#define VCORE_X86_FEAT_NX (1u << 3)     /**< CPUID.80000001H:EDX.NX[20]. */
#define VCORE_X86_FEAT_VMX (1u << 4)    /**< CPUID.1:ECX.VMX[5]. */
#define VCORE_X86_FEAT_SVM (1u << 5)    /**< CPUID.80000001H:ECX.SVM[2]. */
#define VCORE_X86_FEAT_PCID (1u << 6)   /**< CPUID.1:ECX.PCID[17]. */
#define VCORE_X86_FEAT_LA57 (1u << 7)   /**< CPUID.7.0:ECX.LA57[16]. */
#define VCORE_X86_FEAT_PKU (1u << 8)    /**< CPUID.7.0:ECX.PKU[3]. */
#define VCORE_X86_FEAT_APIC (1u << 9)   /**< CPUID.1:EDX.APIC[9] as enumerated (before mirroring). */
#define VCORE_X86_FEAT_SMX (1u << 10)   /**< CPUID.1:ECX.SMX[6]. */
#define VCORE_X86_FEAT_PAGE1GB (1u << 11) /**< CPUID.80000001H:EDX.Page1GB[26]. */
/** @} */

VCORE_END_DECLS

#endif /* VIRTCORE_X86_CPUID_H */
