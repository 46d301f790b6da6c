/**
 * @file arm64/regs.h
 * @brief AArch64 vCPU register model: general-purpose registers, PC, PSTATE
 *        and the EL1 system registers a VMM sets up and migrates.
 *
 * Arm ARM (DDI 0487), "AArch64 Registers" (C5 "The A64 System Instruction
 * Class" names, D17 register descriptions) and "Process state, PSTATE".
 * An arm64 vCPU carries this model instead of the x86 one; the backend
 * receives it through the ops table (backend.h).
 */
#ifndef VIRTCORE_ARM64_REGS_H
#define VIRTCORE_ARM64_REGS_H

#include "../common.h"

VCORE_BEGIN_DECLS

/** @brief Number of general-purpose registers X0..X30. */
#define VCORE_ARM64_NR_X 31u

/** @name PSTATE (SPSR_ELx layout, Arm ARM "Saved Program Status Registers")
 * @{ */
#define VCORE_ARM64_PSTATE_M_MASK 0x1fu     /**< M[4:0]: execution state and mode. */
#define VCORE_ARM64_PSTATE_M_EL0T 0x0u      /**< EL0 with SP_EL0. */
#define VCORE_ARM64_PSTATE_M_EL1T 0x4u      /**< EL1 with SP_EL0. */
#define VCORE_ARM64_PSTATE_M_EL1H 0x5u      /**< EL1 with SP_EL1. */
#define VCORE_ARM64_PSTATE_NRW (1u << 4)    /**< M[4]: 1 = AArch32 (not modelled). */
#define VCORE_ARM64_PSTATE_F (1u << 6)      /**< FIQ mask. */
#define VCORE_ARM64_PSTATE_I (1u << 7)      /**< IRQ mask. */
#define VCORE_ARM64_PSTATE_A (1u << 8)      /**< SError mask. */
#define VCORE_ARM64_PSTATE_D (1u << 9)      /**< Debug mask. */
#define VCORE_ARM64_PSTATE_DAIF 0x3c0u      /**< D, A, I, F together. */
/** @} */

/** @brief SCTLR_EL1 bits that are RES1 in Armv8.0 (bits 29:28, 23:22, 20, 11). */
#define VCORE_ARM64_SCTLR_EL1_RES1 0x30d00800ull

/** @brief General-purpose registers, stack pointers, PC, PSTATE and the exception-return pair. */
typedef struct vcore_arm64_regs {
    size_t size;                 /**< sizeof(vcore_arm64_regs_t). */
    uint64_t x[VCORE_ARM64_NR_X]; /**< X0..X30 (X30 is the link register). */
    uint64_t sp_el0;             /**< SP_EL0. */
    uint64_t sp_el1;             /**< SP_EL1. */
    uint64_t pc;                 /**< Program counter. */
    uint64_t pstate;             /**< PSTATE in SPSR_ELx layout (NZCV, DAIF, M ...). */
    uint64_t elr_el1;            /**< ELR_EL1: return address of an exception taken to EL1. */
    uint64_t spsr_el1;           /**< SPSR_EL1: PSTATE saved on an exception taken to EL1. */
} vcore_arm64_regs_t;

/** @brief EL1 system registers of the guest's translation and exception regime. */
typedef struct vcore_arm64_sysregs {
    size_t size;          /**< sizeof(vcore_arm64_sysregs_t). */
    uint64_t sctlr_el1;   /**< SCTLR_EL1: MMU enable (M), caches (C, I), alignment, endianness. */
    uint64_t tcr_el1;     /**< TCR_EL1: stage-1 translation control. */
    uint64_t ttbr0_el1;   /**< TTBR0_EL1: stage-1 table base, lower VA range. */
    uint64_t ttbr1_el1;   /**< TTBR1_EL1: stage-1 table base, upper VA range. */
    uint64_t mair_el1;    /**< MAIR_EL1: memory attribute encodings. */
    uint64_t vbar_el1;    /**< VBAR_EL1: EL1 exception vector base (bits 10:0 RES0). */
    uint64_t esr_el1;     /**< ESR_EL1: syndrome of the last exception taken to EL1. */
    uint64_t far_el1;     /**< FAR_EL1: faulting virtual address. */
    uint64_t cntvoff_el2; /**< CNTVOFF_EL2: virtual counter offset the hypervisor applies. */
} vcore_arm64_sysregs_t;

/** @name State groups (valid/dirty tracking between the core and a backend)
 * @{ */
#define VCORE_ARM64_STATE_REGS (1u << 0)    /**< vcore_arm64_regs_t. */
#define VCORE_ARM64_STATE_SYSREGS (1u << 1) /**< vcore_arm64_sysregs_t. */
#define VCORE_ARM64_STATE_ALL 0x3u          /**< Every group. */
/** @} */

/** @brief The complete architectural state the library models for an arm64 vCPU. */
typedef struct vcore_arm64_state {
    vcore_arm64_regs_t regs;   /**< Registers. */
    vcore_arm64_sysregs_t sys; /**< EL1 system registers. */
} vcore_arm64_state_t;

VCORE_END_DECLS

#endif /* VIRTCORE_ARM64_REGS_H */
