/*
 * l1svm_vmcb.h - what L1 needs of the VMCB, written from AMD APM Vol. 2,
 * Appendix B "Layout of VMCB" and Appendix C "SVM Intercept Exit Codes"
 * (L1 does not use the library's vmcb.h: it is an independent hypervisor).
 */
#ifndef SVK_L1SVM_VMCB_H
#define SVK_L1SVM_VMCB_H

#include <stdint.h>

/* ---- control area ("VMCB Layout, Control Area") ---- */
#define V_ICPT_CR 0x000u      /* u32: CR reads 15:0, CR writes 31:16 */
#define V_ICPT_DR 0x004u      /* u32: DR reads 15:0, DR writes 31:16 */
#define V_ICPT_EXC 0x008u     /* u32: one bit per exception vector */
#define V_ICPT_MISC3 0x00cu   /* u32: intercept vector 3 (INTR .. SHUTDOWN) */
#define V_ICPT_MISC4 0x010u   /* u32: intercept vector 4 (VMRUN .. CR write traps) */
#define V_IOPM_PA 0x040u      /* u64: I/O permission map, 12 KiB */
#define V_MSRPM_PA 0x048u     /* u64: MSR permission map, 8 KiB */
#define V_TSC_OFFSET 0x050u   /* u64 */
#define V_ASID 0x058u         /* u32: guest ASID, never 0 */
#define V_TLB_CTL 0x05cu      /* u8: 1 = flush the whole TLB at VMRUN */
#define V_INT_CTL 0x060u      /* u32: V_TPR, V_IRQ, V_INTR_MASKING ... */
#define V_INT_STATE 0x068u    /* u32: interrupt shadow */
#define V_EXITCODE 0x070u     /* u64 */
#define V_EXITINFO1 0x078u    /* u64 */
#define V_EXITINFO2 0x080u    /* u64 */
#define V_EXITINTINFO 0x088u  /* u64: event being delivered at the intercept, bit 31 valid */
#define V_NP_CTL 0x090u       /* u64: bit 0 NP_ENABLE */
#define V_EVENTINJ 0x0a8u     /* u64: event injection */
#define V_NCR3 0x0b0u         /* u64: nested page table root */
#define V_CLEAN 0x0c0u        /* u32: VMCB clean bits */
#define V_NRIP 0x0c8u         /* u64: next sequential RIP (NRIP save) */

/* ---- state-save area ("VMCB Layout, State Save Area") ----
 * Segments: selector u16, attrib u16, limit u32, base u64, 16 bytes each. */
#define V_ES 0x400u
#define V_CS 0x410u
#define V_SS 0x420u
#define V_DS 0x430u
#define V_FS 0x440u
#define V_GS 0x450u
#define V_GDTR 0x460u
#define V_LDTR 0x470u
#define V_IDTR 0x480u
#define V_TR 0x490u
#define V_CPL 0x4cbu          /* u8 */
#define V_EFER 0x4d0u
#define V_CR4 0x548u
#define V_CR3 0x550u
#define V_CR0 0x558u
#define V_DR7 0x560u
#define V_DR6 0x568u
#define V_RFLAGS 0x570u
#define V_RIP 0x578u
#define V_RSP 0x5d8u
#define V_RAX 0x5f8u
#define V_STAR 0x600u
#define V_LSTAR 0x608u
#define V_CSTAR 0x610u
#define V_SFMASK 0x618u
#define V_KGSBASE 0x620u
#define V_SYSENTER_CS 0x628u
#define V_SYSENTER_ESP 0x630u
#define V_SYSENTER_EIP 0x638u
#define V_CR2 0x640u
#define V_GPAT 0x668u

/* Segment attributes: descriptor bits 47:40 in 7:0, 55:52 in 11:8 ("Segment State"). */
#define ATTR_CODE64 0x029bu /* P, S, type 1011b (execute/read, accessed), L */
#define ATTR_DATA 0x0c93u   /* P, S, type 0011b (read/write, accessed), D/B, G */
#define ATTR_TSS64 0x008bu  /* P, type 1011b (busy 64-bit TSS) */

/* Intercept vector 3 ("VMCB Layout, Control Area", offset 0Ch). */
#define ICPT3_CPUID (1u << 18)
#define ICPT3_HLT (1u << 24)
#define ICPT3_IOIO (1u << 27)     /* IOIO_PROT: the IOPM decides */
#define ICPT3_MSR (1u << 28)      /* MSR_PROT: the MSRPM decides */
#define ICPT3_SHUTDOWN (1u << 31)
/* Intercept vector 4 (offset 10h). */
#define ICPT4_VMRUN (1u << 0)     /* must be set, or VMRUN fails */
#define ICPT4_VMMCALL (1u << 1)

/* Exit codes ("SVM Intercept Exit Codes"). */
#define EXIT_EXCP_BASE 0x40u
#define EXIT_CPUID 0x72u
#define EXIT_HLT 0x78u
#define EXIT_IOIO 0x7bu
#define EXIT_MSR 0x7cu
#define EXIT_SHUTDOWN 0x7fu
#define EXIT_VMMCALL 0x81u
#define EXIT_NPF 0x400u

/* IOIO EXITINFO1 ("IOIO Intercepts"): TYPE (1 = IN), STR, REP, SZ8/16/32,
 * A16/A32/A64, SEG (bits 12:10), port in 31:16. */
#define IOIO_TYPE_IN (1u << 0)
#define IOIO_SZ8 (1u << 4)
#define IOIO_SZ32 (1u << 6)
#define IOIO_A64 (1u << 9)
#define IOIO_SEG_MASK (7u << 10)

/* #NPF EXITINFO1 ("Nested versus Guest Page Faults, Fault Ordering"): the
 * page-fault error code bits, plus bit 32 for the final guest-physical
 * address and bit 33 for a guest page-table access. */
#define NPF_P (1ull << 0)
#define NPF_RW (1ull << 1)
#define NPF_US (1ull << 2)
#define NPF_FINAL (1ull << 32)
#define NPF_TABLE (1ull << 33)

/* CPUID 8000_000Ah:EDX ("Function 8000_000Ah - SVM Revision and Feature Identification"). */
#define SVMF_NP (1u << 0)
#define SVMF_NRIPS (1u << 3)

/* MSRs. */
#define MSR_EFER 0xc0000080u
#define MSR_VM_CR 0xc0010114u     /* bit 4 SVMDIS */
#define MSR_VM_HSAVE_PA 0xc0010117u
#define MSR_PAT 0x277u
#define EFER_SVME (1ull << 12)

#endif /* SVK_L1SVM_VMCB_H */
