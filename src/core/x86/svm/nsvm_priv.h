/*
 * nsvm_priv.h - the nested-SVM state of one vCPU and the helpers its files
 * share (private). The state lives in caller memory; the big members are
 * the VMCB12 copy, vmcb02 and the merged permission maps.
 */
#ifndef VCORE_CORE_X86_SVM_NSVM_PRIV_H
#define VCORE_CORE_X86_SVM_NSVM_PRIV_H

#include "../x86.h"
#include "../x86_bits.h"
#include "virtcore/x86/nsvm.h"

/* What VMRUN saves of L1 and #VMEXIT restores (APM Vol. 2, "VMRUN
 * Instruction": ES, CS, SS, DS, GDTR, IDTR, EFER, CR0, CR4, CR3, RFLAGS,
 * RIP (the next instruction), RSP, RAX). The rest of L1's state is kept
 * by the vCPU while L2 runs. */
typedef struct vcore__nsvm_host {
    vcore_x86_regs_t regs;   /* RIP = past VMRUN, RSP, RAX, RFLAGS (other GPRs: L1's at VMRUN) */
    vcore_x86_sregs_t sregs; /* segments, descriptor tables, CR0/CR3/CR4/EFER */
    uint64_t pat;            /* L1's PAT (L2 has G_PAT under nested paging) */
    uint64_t dr6;            /* L1's DR6 (#VMEXIT keeps the host's DR6) */
} vcore__nsvm_host_t;

struct vcore_nsvm {
    uint32_t magic;            /* VCORE__NSVM_MAGIC once initialised */
    uint32_t features;         /* CPUID Fn8000_000A_EDX L1 sees */
    uint32_t maxphyaddr;       /* L1's physical-address width */
    bool no_pages_1g;          /* L1's CPUID lacks Page1GB: PS in a nested PDPE is reserved */
    uint32_t l2_asid;          /* vmcb02's ASID */
    bool skinit;               /* CPUID Fn8000_0001_ECX[SKINIT] */
    bool gif;                  /* global interrupt flag */
    bool guest_mode;           /* L2 is running */
    bool cache_valid;          /* vmcb12 holds the save fields last loaded from last_vmcb12_pa */
    bool run_pending;          /* VMRUN emulated, L2 not run yet (KVM_STATE_NESTED_RUN_PENDING) */
    uint64_t hsave_pa;         /* VM_HSAVE_PA as L1 wrote it */
    uint64_t vmcb12_pa;        /* VMCB12 of the running L2 */
    uint64_t last_vmcb12_pa;   /* VMCB12 whose save fields vmcb12 caches */
    vcore__nsvm_host_t host;   /* L1's state saved by VMRUN */
    vcore_vmcb_t vmcb12;       /* the copy of VMCB12 in use (only it is read) */
    vcore_vmcb_t vmcb02;       /* what L0 runs L2 with */
    vcore_vmcb_control_t l0;   /* L0's controls (config) */
    bool l0_msrpm_valid, l0_iopm_valid;
    uint8_t l0_msrpm[VCORE_VMCB_MSRPM_SIZE];
    uint8_t l0_iopm[VCORE_VMCB_IOPM_SIZE];
    uint8_t msrpm02[VCORE_VMCB_MSRPM_SIZE];
    uint8_t iopm02[VCORE_VMCB_IOPM_SIZE];
    bool maps_changed;         /* msrpm02/iopm02 differ from what the last vmcb_setup stated */
    bool pat_np_intercept;     /* L0 intercepts L2's PAT accesses under L1's nested paging */
    vcore_vmcb_t scratch;      /* the VMCB12 page as read, before the clean-bit merge */
    /* The vCPU run layer (core/vcpu_nested_svm_run.c): the backend's
     * hardware vmcb02 and what the core knows it holds. */
    struct vcore_hw_vmcb *hw02; /* NULL until the first VMRUN on a backend with VMCB ops */
    bool hw02_active;          /* L2 runs on hw02 (the run loop drives it) */
    uint32_t hw02_flush;       /* VCORE_HW_VMCB_FLUSH_* for hw02's next run */
    bool hw02_exit_out;        /* an exit of L2 went to the VMM: hw02's next run completes it */
    uint64_t hw02_known[2];    /* bit i: named VMCB field i of hw02_img is what hw02 holds */
    vcore_x86_regs_t l2gprs;   /* L2's GPRs but RAX and RSP (VMCB fields) */
    vcore_vmcb_t hw02_img;     /* hw02's fields as last written or read */
    vcore_x86_state_t l2view;  /* L2's state as a #VMEXIT sees it (scratch of the run layer) */
    /* An MMIO access of L2 the core decoded (under L1's nested paging) and
     * completes itself at the next run, not the backend. */
    bool l2_mmio;              /* the exit out is such an access */
    bool l2_mmio_high8;        /* its register is AH..BH */
    uint8_t l2_mmio_reg;       /* its register */
    uint8_t l2_mmio_len;       /* bytes a read loads (0: a write) */
    uint64_t l2_mmio_next;     /* RIP after the instruction */
};

#define VCORE__NSVM_MAGIC 0x4e53564du /* "NSVM" */

static inline bool vcore__nsvm_ok(const vcore_nsvm_t *n)
{
    return n && n->magic == VCORE__NSVM_MAGIC;
}

/* #UD/#GP checks shared by the instructions (nsvm_insn.c). Returns true when
 * the instruction may execute; otherwise fills the exception into res. */
bool vcore__nsvm_permitted(const vcore_nsvm_t *n, const vcore_nsvm_insn_t *in, vcore_nsvm_result_t *res,
                           vcore_diag_t *diag);

/* rAX as the instruction's address operand: RAX in 64-bit mode, EAX
 * otherwise (APM Vol. 3, "VMRUN": "rAX"). */
static inline uint64_t vcore__nsvm_rax(const vcore_nsvm_insn_t *in)
{
    bool mode64 = (in->sregs.efer & VCORE__EFER_LMA) && (in->sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L);
    return mode64 ? in->regs.gpr[VCORE_X86_RAX] : (in->regs.gpr[VCORE_X86_RAX] & 0xffffffffu);
}

/* VMRUN (nsvm_vmrun.c). */
int vcore__nsvm_vmrun(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_insn_t *in,
                      vcore_nsvm_result_t *res, vcore_diag_t *diag);

/* vmcb02 controls from L0's and the VMCB12 copy's (nsvm_merge.c). */
void vcore__nsvm_merge_controls(vcore_nsvm_t *n);
/* The merged maps: L0's | L1's; L1's maps are read once per VMRUN, page by
 * page, and maps_changed is set when the result differs from before. */
void vcore__nsvm_merge_maps(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem);

/* Loads the four PAE PDPTEs at base (bits 4:0 ignored); fails on a read
 * outside RAM or a present entry with reserved bits (nsvm_vmrun.c). */
int vcore__nsvm_load_pdptes(const vcore_nvmx_mem_t *mem, uint64_t base, uint32_t maxphyaddr, uint64_t out[4]);

/* PAE paging without long mode (CR0.PG, CR4.PAE, EFER.LMA clear). */
static inline bool vcore__nsvm_pae_legacy(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    return (cr0 & VCORE__CR0_PG) && (cr4 & VCORE__CR4_PAE) && !(efer & VCORE__EFER_LMA);
}

/* The paging inputs that change translations (APM Vol. 2, "Page
 * Translation and Protection"): any difference makes L0 reload them. */
bool vcore__nsvm_paging_differs(const vcore_x86_sregs_t *a, const vcore_x86_sregs_t *b);

/* Converts between the VMCB segment layout and the model's. */
void vcore__nsvm_seg_from_vmcb(vcore_x86_segment_t *s, const vcore_vmcb_seg_t *v);
void vcore__nsvm_seg_to_vmcb(vcore_vmcb_seg_t *v, const vcore_x86_segment_t *s);

/* Writes one VMCB12 field into L1's memory at vmcb12_pa + offset. */
int vcore__nsvm_write12(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, uint32_t offset, uint64_t value,
                        uint32_t bytes);

/* Restores L1 from the host-save copy (#VMEXIT); the outcome is VMEXIT or
 * SHUTDOWN (nsvm_exit.c). */
int vcore__nsvm_restore_l1(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, vcore_nsvm_result_t *res,
                           vcore_diag_t *diag);

#endif /* VCORE_CORE_X86_SVM_NSVM_PRIV_H */
