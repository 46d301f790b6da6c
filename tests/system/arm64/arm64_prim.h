/*
 * arm64_prim.h - the EL2 primitives: system-register access, guest entry
 * and the EL2 vector that brings the guest back, TLB maintenance with its
 * barriers, address translation (AT).
 *
 * This is the only interface between pure C and the processor at EL2. The
 * system-test image uses it today; the arm64 backend's primitives are this
 * file (its pure C logic will be tested on the host against a strict fake of
 * exactly these functions).
 */
#ifndef VCORE_ARM64_PRIM_H
#define VCORE_ARM64_PRIM_H

#include <stdint.h>
#include <virtcore/arm64/stage2.h>

/*
 * Guest general-purpose registers exchanged by vcore__arm64_prim_enter(),
 * and the host's callee-saved registers kept across the guest's run. The
 * layout is fixed: arm64_prim.S addresses it with these offsets.
 */
typedef struct vcore__arm64_gprs {
    uint64_t x[31];    /* X0..X30 of the guest */
    uint64_t pad;
    uint64_t host[13]; /* X19..X30 and SP of the host (EL2) */
} vcore__arm64_gprs_t;

#define VCORE__ARM64_GPRS_OFF_HOST 256

/* What brought the guest back (the vector offset's exception type). */
#define VCORE__ARM64_EXIT_SYNC 0u
#define VCORE__ARM64_EXIT_IRQ 1u
#define VCORE__ARM64_EXIT_FIQ 2u
#define VCORE__ARM64_EXIT_SERROR 3u

/* Enters the guest at ELR_EL2 / SPSR_EL2 with its registers from *g (DSB ISH
 * first, so table updates are visible to the walker), returns when an
 * exception from a lower EL reaches EL2, with the guest registers saved in
 * *g. Returns VCORE__ARM64_EXIT_*. */
uint64_t vcore__arm64_prim_enter(vcore__arm64_gprs_t *g);
/* Installs the EL2 vector table (VBAR_EL2). */
void vcore__arm64_prim_install_vectors(void);

/* ---- system registers ---- */
uint64_t vcore__arm64_prim_current_el(void);
uint64_t vcore__arm64_prim_read_mmfr0(void);   /* ID_AA64MMFR0_EL1 */
uint64_t vcore__arm64_prim_read_mmfr1(void);   /* ID_AA64MMFR1_EL1 */
uint64_t vcore__arm64_prim_read_esr(void);     /* ESR_EL2 */
uint64_t vcore__arm64_prim_read_far(void);     /* FAR_EL2 */
uint64_t vcore__arm64_prim_read_hpfar(void);   /* HPFAR_EL2 */
uint64_t vcore__arm64_prim_read_elr(void);     /* ELR_EL2 */
void vcore__arm64_prim_write_elr(uint64_t v);  /* ELR_EL2 */
void vcore__arm64_prim_write_spsr(uint64_t v); /* SPSR_EL2 */
void vcore__arm64_prim_write_hcr(uint64_t v);  /* HCR_EL2 */
void vcore__arm64_prim_write_vtcr(uint64_t v); /* VTCR_EL2 */
void vcore__arm64_prim_write_vttbr(uint64_t v); /* VTTBR_EL2 */
void vcore__arm64_prim_write_sctlr_el1(uint64_t v);
void vcore__arm64_prim_write_vbar_el1(uint64_t v);
/* AT S1E1R / AT S1E1W of a guest VA, then PAR_EL1 (the IPA of a stage-1 walk). */
uint64_t vcore__arm64_prim_at_s1e1r(uint64_t va);
uint64_t vcore__arm64_prim_at_s1e1w(uint64_t va);

/* ---- TLB maintenance (for the VMID in VTTBR_EL2) ---- */
/* Performs a stage-2 request as stage2.h describes it: DSB ISHST; TLBI
 * IPAS2E1IS per stride; DSB ISH; TLBI VMALLE1IS; DSB ISH; ISB (scope IPA), or
 * DSB ISHST; TLBI VMALLS12E1IS; DSB ISH; ISB (scope VMID). */
void vcore__arm64_prim_tlbi_s2(const vcore_arm64_s2_tlbi_t *req);
/* Everything of the current VMID, stage 1 and 2. */
void vcore__arm64_prim_tlbi_vmid(void);

#endif
