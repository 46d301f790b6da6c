/**
 * @file msr.h
 * @brief Indices and bits of the MSRs the vCPU model knows.
 */
#ifndef VIRTCORE_X86_MSR_H
#define VIRTCORE_X86_MSR_H

#include "../common.h"

/** @name MSR indices (SDM Vol. 4, "Model-Specific Registers")
 * @{ */
#define VCORE_MSR_IA32_TSC 0x00000010u            /**< Time-stamp counter. */
#define VCORE_MSR_IA32_FEATURE_CONTROL 0x0000003au /**< Feature control: lock, VMX enables (Intel). */
#define VCORE_MSR_IA32_APIC_BASE 0x0000001bu      /**< Local APIC base and state. */
#define VCORE_MSR_IA32_SMBASE 0x0000009eu         /**< SMRAM base (read-only to software). */
#define VCORE_MSR_IA32_SYSENTER_CS 0x00000174u    /**< SYSENTER target CS. */
#define VCORE_MSR_IA32_SYSENTER_ESP 0x00000175u   /**< SYSENTER target ESP. */
#define VCORE_MSR_IA32_SYSENTER_EIP 0x00000176u   /**< SYSENTER target EIP. */
#define VCORE_MSR_IA32_MISC_ENABLE 0x000001a0u    /**< Miscellaneous feature enables. */
#define VCORE_MSR_IA32_DEBUGCTL 0x000001d9u       /**< Debug control (LBR, BTF, branch trace). */
#define VCORE_MSR_IA32_PAT 0x00000277u            /**< Page attribute table. */
#define VCORE_MSR_IA32_EFER 0xc0000080u           /**< Extended feature enables. */
#define VCORE_MSR_IA32_STAR 0xc0000081u           /**< SYSCALL target (legacy). */
#define VCORE_MSR_IA32_LSTAR 0xc0000082u          /**< SYSCALL target RIP, 64-bit mode. */
#define VCORE_MSR_IA32_CSTAR 0xc0000083u          /**< SYSCALL target RIP, compatibility mode. */
#define VCORE_MSR_IA32_FMASK 0xc0000084u          /**< SYSCALL RFLAGS mask. */
#define VCORE_MSR_IA32_FS_BASE 0xc0000100u        /**< FS base (same as the FS hidden base). */
#define VCORE_MSR_IA32_GS_BASE 0xc0000101u        /**< GS base (same as the GS hidden base). */
#define VCORE_MSR_IA32_KERNEL_GS_BASE 0xc0000102u /**< SWAPGS source. */
#define VCORE_MSR_IA32_TSC_AUX 0xc0000103u        /**< RDTSCP / RDPID auxiliary value. */
/** @} */

/** @name IA32_APIC_BASE bits (SDM Vol. 3, "Local APIC Status and Location")
 * @{ */
#define VCORE_APIC_BASE_BSP (1ull << 8)   /**< Bit 8: processor is the bootstrap processor. */
#define VCORE_APIC_BASE_EXTD (1ull << 10) /**< Bit 10: x2APIC mode enable. */
#define VCORE_APIC_BASE_EN (1ull << 11)   /**< Bit 11: APIC global enable. */
#define VCORE_APIC_BASE_DEFAULT 0xfee00000ull /**< Default APIC page address. */
/** @} */

/** @name IA32_MISC_ENABLE bits (SDM Vol. 4, "IA32_MISC_ENABLE")
 * @{ */
#define VCORE_MISC_ENABLE_FAST_STRINGS (1ull << 0)  /**< Bit 0: fast-strings enable. */
#define VCORE_MISC_ENABLE_BTS_UNAVAIL (1ull << 11)  /**< Bit 11: branch trace storage unavailable (RO). */
#define VCORE_MISC_ENABLE_PEBS_UNAVAIL (1ull << 12) /**< Bit 12: PEBS unavailable (RO). */
#define VCORE_MISC_ENABLE_MWAIT (1ull << 18)        /**< Bit 18: ENABLE MONITOR FSM (mirrored in CPUID.1:ECX[3]). */
/** @} */

/** @brief IA32_PAT value after RESET (SDM Vol. 3, "IA32_PAT MSR"). */
#define VCORE_PAT_DEFAULT 0x0007040600070406ull

#endif /* VIRTCORE_X86_MSR_H */
