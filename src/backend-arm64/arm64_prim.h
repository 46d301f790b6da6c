/*
 * arm64_prim.h - the EL2 primitives of the arm64 backend.
 *
 * This is the only interface between the backend's pure C logic and the
 * processor. arm64_prim.c implements it with the real instructions (AArch64,
 * EL2, HCR_EL2.E2H = 0); the host unit tests link tests/unit/arm64_fake.c
 * instead, a strict model that fails the test on anything it does not model.
 * Each primitive is one instruction or one architectural sequence; every
 * decision (what to load, when to invalidate, how to decode) is C.
 *
 * Register state is moved in three blocks, all owned by the caller:
 *   vcore__arm64_el2_t   the EL2 controls of one vCPU (HCR_EL2, VTCR_EL2, ...)
 *   vcore__arm64_el1_t   the guest's EL1 context: system registers, FP/SIMD
 *   vcore__arm64_gprs_t  X0-X30, PC and PSTATE, and the syndrome of the exit
 */
#ifndef VCORE_BACKEND_ARM64_PRIM_H
#define VCORE_BACKEND_ARM64_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtcore/arm64/stage2.h"

/*
 * Guest registers exchanged by vcore__arm64_prim_enter(). The layout is fixed:
 * arm64_prim.c addresses it from assembly with the offsets below.
 */
typedef struct vcore__arm64_gprs {
    uint64_t x[31];    /* X0..X30 of the guest */
    uint64_t pc;       /* ELR_EL2: where the guest resumes; where it stopped after the exit */
    uint64_t pstate;   /* SPSR_EL2: the guest's PSTATE */
    uint64_t esr;      /* ESR_EL2 at the exit */
    uint64_t far;      /* FAR_EL2 at the exit */
    uint64_t hpfar;    /* HPFAR_EL2 at the exit */
    uint64_t host[16]; /* the host's X19..X30, SP, VBAR_EL2, DAIF while the guest runs */
} vcore__arm64_gprs_t;

#define VCORE__ARM64_GPRS_OFF_PC 248
#define VCORE__ARM64_GPRS_OFF_PSTATE 256
#define VCORE__ARM64_GPRS_OFF_ESR 264
#define VCORE__ARM64_GPRS_OFF_FAR 272
#define VCORE__ARM64_GPRS_OFF_HPFAR 280
#define VCORE__ARM64_GPRS_OFF_HOST 288

/* What brought the guest back: the exception type of the EL2 vector entry
 * ("Exception vectors": lower EL using AArch64, offsets 0x400-0x580). */
#define VCORE__ARM64_EXIT_SYNC 0u
#define VCORE__ARM64_EXIT_IRQ 1u
#define VCORE__ARM64_EXIT_FIQ 2u
#define VCORE__ARM64_EXIT_SERROR 3u

/* The EL2 controls one vCPU runs under (written before every entry: other
 * VMs and vCPUs share the PE's registers). */
typedef struct vcore__arm64_el2 {
    uint64_t hcr;     /* HCR_EL2 */
    uint64_t vtcr;    /* VTCR_EL2 */
    uint64_t vttbr;   /* VTTBR_EL2 */
    uint64_t vmpidr;  /* VMPIDR_EL2: what the guest reads as MPIDR_EL1 */
    uint64_t cntvoff; /* CNTVOFF_EL2 */
    uint64_t cnthctl; /* CNTHCTL_EL2 */
    uint64_t cptr;    /* CPTR_EL2 */
} vcore__arm64_el2_t;

/*
 * The guest's EL1 context: every EL1 (and EL0) register a guest can change
 * that the backend switches, and the FP/SIMD registers. The host at EL2 uses
 * none of them; they are loaded before each entry and saved after each exit.
 */
typedef struct vcore__arm64_el1 {
    uint64_t q[64] __attribute__((aligned(16))); /* V0..V31, 128 bits each (low, high) */
    uint64_t fpcr, fpsr;
    uint64_t sctlr;       /* SCTLR_EL1 */
    uint64_t tcr;         /* TCR_EL1 */
    uint64_t ttbr0;       /* TTBR0_EL1 */
    uint64_t ttbr1;       /* TTBR1_EL1 */
    uint64_t mair;        /* MAIR_EL1 */
    uint64_t amair;       /* AMAIR_EL1 */
    uint64_t vbar;        /* VBAR_EL1 */
    uint64_t esr;         /* ESR_EL1 */
    uint64_t far;         /* FAR_EL1 */
    uint64_t par;         /* PAR_EL1 */
    uint64_t afsr0;       /* AFSR0_EL1 */
    uint64_t afsr1;       /* AFSR1_EL1 */
    uint64_t contextidr;  /* CONTEXTIDR_EL1 */
    uint64_t tpidr;       /* TPIDR_EL1 */
    uint64_t tpidr_el0;   /* TPIDR_EL0 */
    uint64_t tpidrro_el0; /* TPIDRRO_EL0 */
    uint64_t cpacr;       /* CPACR_EL1 */
    uint64_t cntkctl;     /* CNTKCTL_EL1 */
    uint64_t csselr;      /* CSSELR_EL1 */
    uint64_t mdscr;       /* MDSCR_EL1 */
    uint64_t sp_el0;      /* SP_EL0 */
    uint64_t sp_el1;      /* SP_EL1 */
    uint64_t elr;         /* ELR_EL1 */
    uint64_t spsr;        /* SPSR_EL1 */
    uint64_t cntv_ctl;    /* CNTV_CTL_EL0 */
    uint64_t cntv_cval;   /* CNTV_CVAL_EL0 */
} vcore__arm64_el1_t;

/* ---- identification ---- */
uint64_t vcore__arm64_prim_current_el(void); /* CurrentEL.EL */
uint64_t vcore__arm64_prim_read_mmfr0(void); /* ID_AA64MMFR0_EL1 */
uint64_t vcore__arm64_prim_read_mmfr1(void); /* ID_AA64MMFR1_EL1 */
uint64_t vcore__arm64_prim_read_hcr(void);   /* HCR_EL2 (the host's E2H) */

/* ---- world switch ---- */
/* Writes the EL2 controls, then ISB. */
void vcore__arm64_prim_el2_load(const vcore__arm64_el2_t *c);
/* VTTBR_EL2 as the PE holds it (which VM's tables it walks). */
uint64_t vcore__arm64_prim_read_vttbr(void);
/* Loads the guest's EL1 context (needs CPTR_EL2.TFP = 0: el2_load first). */
void vcore__arm64_prim_el1_load(const vcore__arm64_el1_t *c);
/* Saves the guest's EL1 context after an exit, then disables the guest's
 * virtual timer (CNTV_CTL_EL0 = 0) so it cannot interrupt the host. The EL1
 * registers keep the guest's values until the next el1_load. */
void vcore__arm64_prim_el1_save(vcore__arm64_el1_t *c);
/*
 * Enters the guest: installs the backend's EL2 vector table for the run
 * (the host's VBAR_EL2 and DAIF are restored on return), masks DAIF, DSB ISH
 * (table updates reach the walker), loads ELR_EL2 = g->pc, SPSR_EL2 =
 * g->pstate and X0..X30, ERET. Returns when an exception from a lower EL
 * reaches EL2, with X0..X30, pc (ELR_EL2), pstate (SPSR_EL2), esr, far and
 * hpfar saved in *g. Returns VCORE__ARM64_EXIT_*.
 */
uint64_t vcore__arm64_prim_enter(vcore__arm64_gprs_t *g);

/* ---- TLB maintenance and address translation ---- */
/* Local invalidation of every stage-1 and stage-2 entry of the VMID in
 * VTTBR_EL2 on this PE: TLBI VMALLS12E1; DSB NSH; ISB. */
void vcore__arm64_prim_tlbi_local(void);
/* Performs a stage-2 request as stage2.h describes it, for the VMID of
 * `vttbr` (VTTBR_EL2 is set to it for the sequence and restored after):
 * DSB ISHST; TLBI IPAS2E1IS per stride; DSB ISH; TLBI VMALLE1IS; DSB ISH;
 * ISB (scope IPA), or DSB ISHST; TLBI VMALLS12E1IS; DSB ISH; ISB (scope VMID). */
void vcore__arm64_prim_tlbi_s2(uint64_t vttbr, const vcore_arm64_s2_tlbi_t *req);
/* AT S1E1R (write false) or AT S1E1W of a guest VA with the guest's EL1
 * registers live, ISB, then PAR_EL1. */
uint64_t vcore__arm64_prim_at_s1e1(uint64_t va, bool write);

#endif /* VCORE_BACKEND_ARM64_PRIM_H */
