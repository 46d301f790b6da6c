/*
 * svm_prim.h - the SVM instruction primitives of the svm backend.
 *
 * This is the only interface between the backend's pure C logic and the
 * processor. svm_prim.c implements it with the real instructions; the host
 * unit tests link tests/unit/svm_fake.c instead, a strict in-memory model
 * that fails the test on anything it does not model.
 *
 * The SVM instructions (APM Vol. 3, "VMRUN", "VMLOAD", "VMSAVE", "CLGI",
 * "STGI", "INVLPGA") report no status: a fault would be a bug of the
 * caller (EFER.SVME clear, CPL > 0, a bad physical address), so the
 * primitives return nothing. What VMRUN did is in the VMCB's EXITCODE.
 */
#ifndef VCORE_BACKEND_SVM_PRIM_H
#define VCORE_BACKEND_SVM_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest general-purpose registers the VMCB does not hold, exchanged by
 * vcore__svm_vmrun(). RAX and RSP are VMCB fields (the save area), so
 * gpr[0] and gpr[4] are not used. The layout is fixed: svm_prim.c
 * addresses it from assembly (8 bytes per register, hardware order).
 */
typedef struct vcore__svm_gprs {
    uint64_t gpr[16]; /* RAX..R15; [0] (RAX) and [4] (RSP) unused */
} vcore__svm_gprs_t;

/* ---- SVM instructions ---- */
/* CLGI / STGI: clear / set the global interrupt flag (APM Vol. 2, "Global Interrupt Flag"). */
void vcore__svm_clgi(void);
void vcore__svm_stgi(void);
/* VMLOAD / VMSAVE of the state VMRUN does not switch (FS, GS, TR, LDTR and
 * their hidden parts, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK,
 * SYSENTER_CS/ESP/EIP) from / to the VMCB at vmcb_pa. */
void vcore__svm_vmload(uint64_t vmcb_pa);
void vcore__svm_vmsave(uint64_t vmcb_pa);
/*
 * VMRUN of the VMCB at vmcb_pa with the guest registers in *g; returns after
 * the #VMEXIT with the guest's registers saved back into *g (RAX, RSP, RIP
 * and the rest of the guest state are in the VMCB). The host's
 * callee-saved registers are preserved.
 */
void vcore__svm_vmrun(vcore__svm_gprs_t *g, uint64_t vmcb_pa);
/* INVLPGA: invalidates the TLB entry of a guest virtual address in an ASID. */
void vcore__svm_invlpga(uint64_t va, uint32_t asid);
/* A machine check intercepted while the guest ran belongs to the platform
 * (APM Vol. 2, "Exception Intercepts": with #MC intercepted the guest does
 * not see it): the host's handler runs it (INT 18 through the host's IDT). */
void vcore__svm_host_mc(void);

/*
 * FXSAVE64 / FXRSTOR64 of the x87, MMX and SSE state to / from a 512-byte,
 * 16-byte aligned area (APM Vol. 5, "FXSAVE", "FXRSTOR": 64-bit layout).
 * The host must run with CR4.OSFXSR = 1, CR0.EM = 0 and CR0.TS = 0; FXRSTOR
 * of an image whose MXCSR sets a bit outside MXCSR_MASK is #GP, so callers
 * validate images before restoring them.
 */
void vcore__svm_fxsave(void *area);
void vcore__svm_fxrstor(const void *area);

/* ---- privileged registers and identification ---- */
uint64_t vcore__svm_read_cr0(void);
uint64_t vcore__svm_read_cr4(void);
uint64_t vcore__svm_rdmsr(uint32_t msr);
void vcore__svm_wrmsr(uint32_t msr, uint64_t value);
uint64_t vcore__svm_rdtsc(void);
/* Current privilege level (CS.RPL): the backend runs only at CPL 0. */
uint32_t vcore__svm_cpl(void);
/* CPUID(leaf, 0): out[0..3] = EAX, EBX, ECX, EDX. */
void vcore__svm_cpuid(uint32_t leaf, uint32_t out[4]);

#endif /* VCORE_BACKEND_SVM_PRIM_H */
