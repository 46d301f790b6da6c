/*
 * vmx_prim.h - the VMX instruction primitives of the vmx backend.
 *
 * This is the only interface between the backend's pure C logic and the
 * processor. vmx_prim.c implements it with the real instructions; the host
 * unit tests link tests/unit/vmx_fake.c instead, a strict in-memory model
 * that fails the test on anything it does not model.
 *
 * Every VMX instruction reports its outcome the way the processor does
 * (SDM Vol. 3, "Conventions" in "VMX Instruction Reference"): VMsucceed,
 * VMfailInvalid (CF = 1, no current VMCS) or VMfailValid (ZF = 1, error
 * number in the VM-instruction error field). Nothing pretends it cannot fail.
 */
#ifndef VCORE_BACKEND_VMX_PRIM_H
#define VCORE_BACKEND_VMX_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcome kinds; equal to vcore_exit_t::u.hw_error.kind for the failures. */
#define VCORE__VMX_SUCCEED 0u
#define VCORE__VMX_FAIL_INVALID 1u
#define VCORE__VMX_FAIL_VALID 2u

/* Outcome of one VMX instruction. */
typedef struct vcore__vmx_rc {
    uint32_t kind;  /* VCORE__VMX_SUCCEED / _FAIL_INVALID / _FAIL_VALID */
    uint32_t error; /* VM-instruction error number when kind is _FAIL_VALID, else 0 */
} vcore__vmx_rc_t;

/*
 * Guest registers the VMCS does not hold, exchanged by vcore__vmx_enter().
 * The layout is fixed: vmx_prim.c addresses it from assembly with the
 * offsets below.
 */
typedef struct vcore__vmx_gprs {
    uint64_t gpr[16];  /* RAX..R15 in hardware order; gpr[4] (RSP) is unused: RSP is GUEST_RSP */
    uint64_t cr2;      /* guest CR2: not part of the VMCS, loaded and saved by hand */
    uint64_t host_rsp; /* HOST_RSP last written to the current VMCS (rewritten only on change) */
    uint64_t launched; /* 0: enter with VMLAUNCH, 1: with VMRESUME */
} vcore__vmx_gprs_t;

#define VCORE__VMX_GPRS_OFF_CR2 128
#define VCORE__VMX_GPRS_OFF_HOST_RSP 136
#define VCORE__VMX_GPRS_OFF_LAUNCHED 144

/* Host register state the VMCS host-state area needs (SDM Vol. 3, "Host-State Area"). */
typedef struct vcore__vmx_host_regs {
    uint64_t cr0, cr3, cr4;             /* control registers */
    uint16_t cs, ss, ds, es, fs, gs, tr; /* selectors */
    uint64_t fs_base, gs_base, tr_base; /* bases (TR base from the GDT descriptor) */
    uint64_t gdtr_base, idtr_base;      /* descriptor-table bases */
} vcore__vmx_host_regs_t;

/* ---- VMX instructions ---- */
vcore__vmx_rc_t vcore__vmx_on(uint64_t vmxon_pa);
vcore__vmx_rc_t vcore__vmx_off(void);
vcore__vmx_rc_t vcore__vmx_clear(uint64_t vmcs_pa);
vcore__vmx_rc_t vcore__vmx_ptrld(uint64_t vmcs_pa);
vcore__vmx_rc_t vcore__vmx_ptrst(uint64_t *vmcs_pa);
vcore__vmx_rc_t vcore__vmx_read(uint32_t field, uint64_t *value);
vcore__vmx_rc_t vcore__vmx_write(uint32_t field, uint64_t value);
/* INVEPT type 1 (single context) / 2 (all contexts) with the given EPTP. */
vcore__vmx_rc_t vcore__vmx_invept(uint64_t type, uint64_t eptp);
/* INVVPID type 0..3 for vpid / linear address. */
vcore__vmx_rc_t vcore__vmx_invvpid(uint64_t type, uint16_t vpid, uint64_t gla);
/*
 * VMLAUNCH (g->launched == 0) or VMRESUME on the current VMCS with the guest
 * registers in *g. Returns VMsucceed after a VM exit (or a VM-entry failure,
 * which is also a VM exit, with bit 31 of the exit reason set) with the guest
 * registers saved back into *g; a VMfail otherwise (*g unchanged).
 */
vcore__vmx_rc_t vcore__vmx_enter(vcore__vmx_gprs_t *g);
/* Address of the VM-exit entry point (for HOST_RIP). */
uint64_t vcore__vmx_exit_rip(void);

/*
 * Hand an event that exited to the host's own handler, as if it had been
 * delivered to the host: an NMI with NMI exiting on (SDM Vol. 3, "NMI
 * Exiting" in "Changes to Instruction Behavior in VMX Non-Root Operation":
 * the NMI is not delivered, software must invoke the handler) and a
 * machine check intercepted through the exception bitmap or reported by a
 * VM-entry failure (exit reason 41). They execute INT 2 and INT 18 through
 * the host's IDT.
 */
void vcore__vmx_host_nmi(void);
void vcore__vmx_host_mc(void);

/*
 * FXSAVE64 / FXRSTOR64 of the x87, MMX and SSE state to / from a 512-byte,
 * 16-byte aligned area (SDM Vol. 2, "FXSAVE", "FXRSTOR": 64-bit layout).
 * The host must run with CR4.OSFXSR = 1, CR0.EM = 0 and CR0.TS = 0; FXRSTOR
 * of an image whose MXCSR sets a bit outside MXCSR_MASK is #GP, so callers
 * validate images before restoring them.
 */
void vcore__vmx_fxsave(void *area);
void vcore__vmx_fxrstor(const void *area);

/* ---- privileged registers ---- */
/* RDTSC: the host's time-stamp counter (SDM Vol. 2, "RDTSC"). */
uint64_t vcore__vmx_rdtsc(void);
uint64_t vcore__vmx_rdmsr(uint32_t msr);
void vcore__vmx_wrmsr(uint32_t msr, uint64_t value);
uint64_t vcore__vmx_read_cr0(void);
uint64_t vcore__vmx_read_cr4(void);
void vcore__vmx_write_cr4(uint64_t value);
/* Current privilege level (CS.RPL): the backend runs only at CPL 0. */
uint32_t vcore__vmx_cpl(void);
/* CPUID.1:ECX, for the VMX feature bit (SDM Vol. 3, "Discovering Support for VMX"). */
uint32_t vcore__vmx_cpuid1_ecx(void);
void vcore__vmx_host_regs(vcore__vmx_host_regs_t *out);

#endif /* VCORE_BACKEND_VMX_PRIM_H */
