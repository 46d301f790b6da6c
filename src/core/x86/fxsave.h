/*
 * fxsave.h - the guest's x87, MMX and SSE state as a 64-bit FXSAVE image,
 * for the ring-0 backends (vmx, svm).
 *
 * Neither VMX transitions (SDM Vol. 3, "Guest-State Area", "Host-State
 * Area") nor VMRUN / #VMEXIT (APM Vol. 2, "VMRUN": the state it saves and
 * loads) switch these registers: whatever the processor holds when the
 * guest starts is what the guest sees, and when it stops the processor
 * holds the guest's values. A backend therefore keeps each vCPU's state in
 * an FXSAVE image and swaps it with the host's around every entry: FXSAVE
 * the host, FXRSTOR the guest, enter, FXSAVE the guest, FXRSTOR the host.
 * The backend executes the two instructions (its primitives); this file
 * holds every rule about the image and about when the swap is allowed.
 *
 * The image is the 64-bit layout (SDM Vol. 2, "FXSAVE", table "Layout of
 * the 64-bit mode FXSAVE64 Map"; APM Vol. 5, "FXSAVE"). AVX state (XSAVE
 * components above SSE) is not part of it.
 */
#ifndef VCORE_CORE_X86_FXSAVE_H
#define VCORE_CORE_X86_FXSAVE_H

#include "../deps.h"
#include "virtcore/x86/regs.h"

/* Bytes of one FXSAVE area (16-byte aligned). */
#define VCORE__FX_SIZE 512u

/*
 * The host may execute FXSAVE / FXRSTOR with the XMM registers included:
 * CR4.OSFXSR = 1 (else FXSAVE may leave XMM0-15 and MXCSR out: SDM Vol. 2,
 * "FXSAVE"), CR0.EM = 0 (else #UD) and CR0.TS = 0 (else #NM).
 */
bool vcore__fx_host_ok(uint64_t cr0, uint64_t cr4);
/* The processor's MXCSR_MASK from an FXSAVE image of its own state (an
 * image field of 0 means the default mask FFBFH: SDM Vol. 1, "Guidelines
 * for Writing to the MXCSR Register"). */
uint32_t vcore__fx_mxcsr_mask(const uint8_t *fx);
/* The state power-up / FINIT leaves: FCW 037FH, every tag empty, MXCSR
 * 1F80H, every register 0. */
void vcore__fx_init(uint8_t *fx);
/* The FPU group in the model's form (full tag word from the abridged one). */
void vcore__fx_get_fpu(const uint8_t *fx, uint32_t mxcsr_mask, vcore_x86_fpu_t *out);
/* FXRSTOR of the group's MXCSR would not #GP (no bit outside the mask). */
bool vcore__fx_fpu_ok(uint32_t mxcsr_mask, const vcore_x86_fpu_t *in);
/* Writes the FPU group into the image (the register contents stay). */
void vcore__fx_set_fpu(uint8_t *fx, const vcore_x86_fpu_t *in);
/* XMM0-XMM15 of the image, low quadword first. */
void vcore__fx_get_xmm(const uint8_t *fx, uint64_t xmm[16][2]);
void vcore__fx_set_xmm(uint8_t *fx, const uint64_t xmm[16][2]);

#endif /* VCORE_CORE_X86_FXSAVE_H */
