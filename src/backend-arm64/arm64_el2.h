/*
 * arm64_el2.h - private state and internal functions of the arm64 (EL2)
 * backend.
 *
 * Everything declared here is pure C over state; the only way to the
 * processor is arm64_prim.h. File map:
 *   arm64_vm.c      VM: granule and stage-2 geometry, the stage-2 table,
 *                   guest memory map -> stage-2 mappings, TLB maintenance
 *   arm64_state.c   vCPU: reset of the backend-only registers, the core's
 *                   register model <-> the saved guest context
 *   arm64_exit.c    exit decoding into vcore_exit_t, reply completion,
 *                   exceptions raised in the guest
 *   arm64_backend.c the ops table and the run loop
 */
#ifndef VCORE_BACKEND_ARM64_EL2_H
#define VCORE_BACKEND_ARM64_EL2_H

#include "core/deps.h"
#include "core/arm64/arm64_bits.h"
#include "virtcore/arm64/stage2.h"
#include "virtcore/backend.h"
#include "virtcore/error.h"
#include "arm64_prim.h"

/* ---- HCR_EL2 (Arm ARM, "HCR_EL2") ---- */
#define VCORE__HCR_VM VCORE__A64_BIT(0)     /* VM: stage-2 translation for EL1&0 */
#define VCORE__HCR_SWIO VCORE__A64_BIT(1)   /* SWIO: set/way invalidation becomes clean+invalidate */
#define VCORE__HCR_PTW VCORE__A64_BIT(2)    /* PTW: stage-1 walks to Device memory fault */
#define VCORE__HCR_FMO VCORE__A64_BIT(3)    /* FMO: physical FIQs go to EL2 */
#define VCORE__HCR_IMO VCORE__A64_BIT(4)    /* IMO: physical IRQs go to EL2 */
#define VCORE__HCR_AMO VCORE__A64_BIT(5)    /* AMO: physical SErrors go to EL2 */
#define VCORE__HCR_FB VCORE__A64_BIT(9)     /* FB: guest TLB/IC maintenance broadcast (the vCPU may move between PEs) */
#define VCORE__HCR_BSU_IS (1ull << 10)      /* BSU[11:10] = 0b01: barriers at least Inner Shareable */
#define VCORE__HCR_TWI VCORE__A64_BIT(13)   /* TWI: trap WFI */
#define VCORE__HCR_TWE VCORE__A64_BIT(14)   /* TWE: trap WFE */
#define VCORE__HCR_TID3 VCORE__A64_BIT(18)  /* TID3: trap reads of the ID group 3 registers (ID_AA64*) */
#define VCORE__HCR_TSC VCORE__A64_BIT(19)   /* TSC: trap SMC */
#define VCORE__HCR_TIDCP VCORE__A64_BIT(20) /* TIDCP: trap IMPLEMENTATION DEFINED system registers */
#define VCORE__HCR_TACR VCORE__A64_BIT(21)  /* TACR: trap ACTLR_EL1 accesses */
#define VCORE__HCR_RW VCORE__A64_BIT(31)    /* RW: EL1 is AArch64 */
#define VCORE__HCR_E2H VCORE__A64_BIT(34)   /* E2H: host at EL2 with VHE */
/* What every guest runs under. Not trapped, hence switched by the backend:
 * the EL1 registers of vcore__arm64_el1_t and FP/SIMD. Left trapped to EL2
 * (HCR_EL2.API/APK = 0, CPTR_EL2.TZ/TSM = 1) because the backend does not
 * switch their state: pointer authentication keys, SVE, SME. */
#define VCORE__HCR_GUEST                                                                           \
    (VCORE__HCR_VM | VCORE__HCR_SWIO | VCORE__HCR_PTW | VCORE__HCR_FMO | VCORE__HCR_IMO |           \
     VCORE__HCR_AMO | VCORE__HCR_FB | VCORE__HCR_BSU_IS | VCORE__HCR_TWI | VCORE__HCR_TWE |        \
     VCORE__HCR_TID3 | VCORE__HCR_TSC | VCORE__HCR_TIDCP | VCORE__HCR_TACR | VCORE__HCR_RW)

/* CPTR_EL2 with HCR_EL2.E2H = 0 ("CPTR_EL2"): bits 13:12 and 9:0 RES1 (bit 8
 * is TZ and bit 12 TSM where implemented: 1 = SVE / SME trapped), TFP (bit
 * 10) = 0: FP/SIMD not trapped, TTA/TAM/TCPAC = 0. */
#define VCORE__CPTR_GUEST 0x33ffull
/* CNTHCTL_EL2 with E2H = 0: EL1PCTEN (bit 0) = 1, the physical counter is
 * readable; EL1PCEN (bit 1) = 0, the physical timer traps (EC 0x18). */
#define VCORE__CNTHCTL_GUEST 0x1ull
/* VMPIDR_EL2: bit 31 RES1; Aff0 = the vCPU id ("MPIDR_EL1"). */
#define VCORE__VMPIDR_RES1 VCORE__A64_BIT(31)
/* Every VM tags its TLB entries with this VMID (see arm64_vm.c). */
#define VCORE__ARM64_VMID 1u

/* ---- ESR_EL2 exception classes the backend decodes ("ESR_EL2", EC) ---- */
#define VCORE__EC_UNKNOWN 0x00u  /* Unknown reason (an UNDEFINED instruction at EL1) */
#define VCORE__EC_WFX 0x01u      /* WFI / WFE trapped (HCR_EL2.TWI / TWE) */
#define VCORE__EC_HVC64 0x16u    /* HVC from AArch64 */
#define VCORE__EC_SMC64 0x17u    /* SMC from AArch64 trapped (HCR_EL2.TSC) */
#define VCORE__EC_SYS64 0x18u    /* MSR, MRS or System instruction trapped */
/* ISS of EC 0x01: TI[1:0], 0b00 WFI, 0b01 WFE (0b10 / 0b11: WFIT / WFET). */
#define VCORE__ISS_WFX_TI_MASK 3u
/* ISS of EC 0x18 ("ISS encoding for an exception from MSR, MRS, or System
 * instruction execution in AArch64 state"). */
#define VCORE__ISS_SYS_OP0_SHIFT 20 /* Op0[21:20] */
#define VCORE__ISS_SYS_OP2_SHIFT 17 /* Op2[19:17] */
#define VCORE__ISS_SYS_OP1_SHIFT 14 /* Op1[16:14] */
#define VCORE__ISS_SYS_CRN_SHIFT 10 /* CRn[13:10] */
#define VCORE__ISS_SYS_RT_SHIFT 5   /* Rt[9:5] */
#define VCORE__ISS_SYS_CRM_SHIFT 1  /* CRm[4:1] */
#define VCORE__ISS_SYS_READ 1u      /* Direction[0]: 1 = read (MRS) */
/* The imm16 of HVC / SMC (ISS[15:0]). */
#define VCORE__ISS_IMM16_MASK 0xffffu

/* ---- SMC Calling Convention / PSCI function identifiers (W0) ---- */
#define VCORE__PSCI_SYSTEM_OFF 0x84000008u
#define VCORE__PSCI_SYSTEM_RESET 0x84000009u
#define VCORE__PSCI_SYSTEM_RESET2_32 0x84000012u
#define VCORE__PSCI_SYSTEM_RESET2_64 0xc4000012u

/* Most stage-2 table storage the backend reserves in a VM (checked at vm_init). */
#define VCORE__ARM64_S2_STORE 4096u

/* Per-VM state. */
typedef struct vcore__arm64_vm {
    uint8_t s2_store[VCORE__ARM64_S2_STORE] __attribute__((aligned(16)));
    vcore_arm64_s2_t *s2;       /* the stage-2 table (in s2_store) */
    const vcore_arm64_s2_geom_t *geom;
    uint64_t vttbr;             /* VTTBR_EL2: root and VMID */
    uint64_t mmfr0, mmfr1;      /* ID registers read at vm_init */
    vcore_mem_region_t regions[VCORE_VM_MAX_REGIONS]; /* what the core mapped, by slot (len 0 = free) */
    vcore_vm_t *vm;
    uint64_t tlbi_requests;     /* TLB maintenance requests performed */
} vcore__arm64_vm_t;

/* The exit waiting for its completion at the next run. */
typedef struct vcore__arm64_pending {
    uint32_t reason;            /* VCORE_EXIT_* of the exit, 0 if none */
    uint32_t rt;                /* register of an MRS / MSR (31 = XZR) */
    uint64_t insn_pc;           /* address of the trapped instruction */
    vcore_exit_t mmio;          /* an MMIO read as decoded (register, size, extension) */
} vcore__arm64_pending_t;

/* Per-vCPU state. */
typedef struct vcore__arm64_vcpu {
    vcore__arm64_el1_t el1;     /* first: 16-byte aligned FP/SIMD block */
    vcore__arm64_gprs_t g;
    vcore__arm64_el2_t el2;
    vcore__arm64_pending_t pending;
    uint32_t id;
    vcore_vcpu_t *vcpu;
    vcore__arm64_vm_t *vm;
} vcore__arm64_vcpu_t;

/* ---- arm64_vm.c ---- */
int vcore__arm64_vm_setup(vcore__arm64_vm_t *v, vcore_vm_t *vm);
void vcore__arm64_vm_teardown(vcore__arm64_vm_t *v);
int vcore__arm64_vm_map(vcore__arm64_vm_t *v, uint32_t slot, const vcore_mem_region_t *r);
int vcore__arm64_vm_unmap(vcore__arm64_vm_t *v, uint32_t slot, const vcore_mem_region_t *r);
/* Whether an IPA is writable guest RAM (a mapped region without VCORE_MEM_READONLY). */
bool vcore__arm64_vm_is_ram(void *ctx, uint64_t ipa);

/* ---- arm64_state.c ---- */
/* The vCPU's context at creation: EL2 controls, EL1 registers the model does not hold. */
void vcore__arm64_state_init(vcore__arm64_vcpu_t *c, const vcore__arm64_vm_t *v, uint32_t id);
void vcore__arm64_state_get(const vcore__arm64_vcpu_t *c, vcore_arm64_state_t *st, uint32_t groups);
void vcore__arm64_state_set(vcore__arm64_vcpu_t *c, const vcore_arm64_state_t *st, uint32_t groups);

/* ---- arm64_exit.c ---- */
/* Decodes the exit of kind `kind` that just happened into *exit (the
 * guest's EL1 registers still live: AT may run). */
int vcore__arm64_exit_decode(vcore__arm64_vcpu_t *c, uint64_t kind, vcore_exit_t *exit);
/* Completes the previous exit with the VMM's reply in *exit. */
void vcore__arm64_exit_complete(vcore__arm64_vcpu_t *c, const vcore_exit_t *exit);
/* Takes an exception with syndrome `esr` to the guest's EL1, returning to
 * `ret_pc` (AArch64.TakeException to EL1, synchronous). */
void vcore__arm64_exit_raise_el1(vcore__arm64_vcpu_t *c, uint64_t esr, uint64_t ret_pc);

#endif /* VCORE_BACKEND_ARM64_EL2_H */
