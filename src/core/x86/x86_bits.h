/*
 * x86_bits.h - architectural bit positions used inside src/core/x86.
 *
 * Internal only: the public headers expose whole registers; the validators,
 * the CPUID flow and RESET/INIT share these names so that a bit is defined
 * exactly once.
 */
#ifndef VCORE_CORE_X86_BITS_H
#define VCORE_CORE_X86_BITS_H

#include <stdint.h>

#define VCORE__BIT(n) (1ull << (n))

/* ---- CR0 (SDM Vol. 3, "Control Registers") ---- */
#define VCORE__CR0_PE VCORE__BIT(0)  /* Protection enable. */
#define VCORE__CR0_MP VCORE__BIT(1)  /* Monitor coprocessor. */
#define VCORE__CR0_EM VCORE__BIT(2)  /* x87 emulation. */
#define VCORE__CR0_TS VCORE__BIT(3)  /* Task switched. */
#define VCORE__CR0_ET VCORE__BIT(4)  /* Extension type (hardwired 1 on modern CPUs). */
#define VCORE__CR0_NE VCORE__BIT(5)  /* Numeric error reporting. */
#define VCORE__CR0_WP VCORE__BIT(16) /* Supervisor write protect. */
#define VCORE__CR0_AM VCORE__BIT(18) /* Alignment mask. */
#define VCORE__CR0_NW VCORE__BIT(29) /* Not write-through. */
#define VCORE__CR0_CD VCORE__BIT(30) /* Cache disable. */
#define VCORE__CR0_PG VCORE__BIT(31) /* Paging. */
/* Every CR0 bit the architecture defines; the rest (63:32, 28:19, 17, 15:6)
 * are reserved. */
#define VCORE__CR0_DEFINED                                                     \
    (VCORE__CR0_PE | VCORE__CR0_MP | VCORE__CR0_EM | VCORE__CR0_TS |           \
     VCORE__CR0_ET | VCORE__CR0_NE | VCORE__CR0_WP | VCORE__CR0_AM |           \
     VCORE__CR0_NW | VCORE__CR0_CD | VCORE__CR0_PG)
#define VCORE__CR0_RESERVED (~VCORE__CR0_DEFINED)

/* ---- CR4 (SDM Vol. 3, "Control Registers") ---- */
#define VCORE__CR4_VME VCORE__BIT(0)         /* Virtual-8086 mode extensions. */
#define VCORE__CR4_PVI VCORE__BIT(1)         /* Protected-mode virtual interrupts. */
#define VCORE__CR4_TSD VCORE__BIT(2)         /* Time stamp disable. */
#define VCORE__CR4_DE VCORE__BIT(3)          /* Debugging extensions. */
#define VCORE__CR4_PSE VCORE__BIT(4)         /* Page size extensions. */
#define VCORE__CR4_PAE VCORE__BIT(5)         /* Physical address extension. */
#define VCORE__CR4_MCE VCORE__BIT(6)         /* Machine-check enable. */
#define VCORE__CR4_PGE VCORE__BIT(7)         /* Page global enable. */
#define VCORE__CR4_PCE VCORE__BIT(8)         /* Performance-monitoring counter enable. */
#define VCORE__CR4_OSFXSR VCORE__BIT(9)      /* FXSAVE/FXRSTOR support. */
#define VCORE__CR4_OSXMMEXCPT VCORE__BIT(10) /* Unmasked SIMD FP exceptions. */
#define VCORE__CR4_UMIP VCORE__BIT(11)       /* User-mode instruction prevention. */
#define VCORE__CR4_LA57 VCORE__BIT(12)       /* 57-bit linear addresses. */
#define VCORE__CR4_VMXE VCORE__BIT(13)       /* VMX enable. */
#define VCORE__CR4_SMXE VCORE__BIT(14)       /* SMX enable. */
#define VCORE__CR4_FSGSBASE VCORE__BIT(16)   /* RDFSBASE & co. */
#define VCORE__CR4_PCIDE VCORE__BIT(17)      /* PCID enable. */
#define VCORE__CR4_OSXSAVE VCORE__BIT(18)    /* XSAVE and processor extended states. */
#define VCORE__CR4_KL VCORE__BIT(19)         /* Key Locker enable. */
#define VCORE__CR4_SMEP VCORE__BIT(20)       /* Supervisor-mode execution prevention. */
#define VCORE__CR4_SMAP VCORE__BIT(21)       /* Supervisor-mode access prevention. */
#define VCORE__CR4_PKE VCORE__BIT(22)        /* Protection keys for user pages. */
#define VCORE__CR4_CET VCORE__BIT(23)        /* Control-flow enforcement. */
#define VCORE__CR4_PKS VCORE__BIT(24)        /* Protection keys for supervisor pages. */
/* Bits every x86-64 processor implements, whatever its CPUID says. */
#define VCORE__CR4_ALWAYS                                                      \
    (VCORE__CR4_VME | VCORE__CR4_PVI | VCORE__CR4_TSD | VCORE__CR4_DE |        \
     VCORE__CR4_PSE | VCORE__CR4_PAE | VCORE__CR4_MCE | VCORE__CR4_PGE |       \
     VCORE__CR4_PCE | VCORE__CR4_OSFXSR | VCORE__CR4_OSXMMEXCPT)

/* ---- IA32_EFER (SDM Vol. 3 / APM Vol. 2, "Extended Feature Enable Register") ---- */
#define VCORE__EFER_SCE VCORE__BIT(0)    /* SYSCALL enable. */
#define VCORE__EFER_LME VCORE__BIT(8)    /* Long mode enable. */
#define VCORE__EFER_LMA VCORE__BIT(10)   /* Long mode active. */
#define VCORE__EFER_NXE VCORE__BIT(11)   /* No-execute enable. */
#define VCORE__EFER_SVME VCORE__BIT(12)  /* SVM enable (AMD). */
#define VCORE__EFER_LMSLE VCORE__BIT(13) /* Long mode segment limit enable (AMD, withdrawn). */
#define VCORE__EFER_FFXSR VCORE__BIT(14) /* Fast FXSAVE/FXRSTOR (AMD). */
#define VCORE__EFER_TCE VCORE__BIT(15)   /* Translation cache extension (AMD). */

/* ---- RFLAGS (SDM Vol. 1, "EFLAGS Register") ---- */
#define VCORE__RFLAGS_FIXED1 VCORE__BIT(1) /* Bit 1 reads as 1. */
/* Bits 3, 5, 15 and 63:22 are reserved and must be 0. */
#define VCORE__RFLAGS_RESERVED                                                 \
    (VCORE__BIT(3) | VCORE__BIT(5) | VCORE__BIT(15) | ~((1ull << 22) - 1u))

/* ---- XCR0 components (SDM Vol. 1, "XSAVE-Supported Features and
 *      State-Component Bitmaps") ---- */
#define VCORE__XCR0_X87 VCORE__BIT(0)      /* x87 state. */
#define VCORE__XCR0_SSE VCORE__BIT(1)      /* SSE state (XMM, MXCSR). */
#define VCORE__XCR0_AVX VCORE__BIT(2)      /* Upper halves of YMM0-15. */
#define VCORE__XCR0_BNDREGS VCORE__BIT(3)  /* MPX BND0-3. */
#define VCORE__XCR0_BNDCSR VCORE__BIT(4)   /* MPX BNDCFGU/BNDSTATUS. */
#define VCORE__XCR0_OPMASK VCORE__BIT(5)   /* AVX-512 k0-k7. */
#define VCORE__XCR0_ZMM_HI256 VCORE__BIT(6) /* Upper halves of ZMM0-15. */
#define VCORE__XCR0_HI16_ZMM VCORE__BIT(7) /* ZMM16-31. */
#define VCORE__XCR0_AVX512                                                     \
    (VCORE__XCR0_OPMASK | VCORE__XCR0_ZMM_HI256 | VCORE__XCR0_HI16_ZMM)
#define VCORE__XCR0_TILECFG VCORE__BIT(17)  /* AMX TILECFG. */
#define VCORE__XCR0_TILEDATA VCORE__BIT(18) /* AMX TILEDATA. */

/* Size of the legacy FXSAVE region plus the XSAVE header (SDM Vol. 1,
 * "XSAVE Area"): 512 + 64. */
#define VCORE__XSAVE_LEGACY_AND_HEADER 576u

/* ---- CPUID leaves and feature bits (SDM Vol. 2A, "CPUID-CPU Identification";
 *      APM Vol. 3, "Obtaining Processor Information Via the CPUID Instruction") ---- */
#define VCORE__CPUID_LEAF_VENDOR 0x00000000u /* Max basic leaf, vendor string. */
#define VCORE__CPUID_LEAF_FEATURES 0x00000001u /* Signature and feature flags. */
#define VCORE__CPUID_LEAF_EXT_FEATURES 0x00000007u /* Structured extended features (sub-leaf 0). */
#define VCORE__CPUID_LEAF_XSAVE 0x0000000du /* Processor extended state enumeration. */
#define VCORE__CPUID_LEAF_EXT_MAX 0x80000000u /* Max extended leaf. */
#define VCORE__CPUID_LEAF_EXT_INFO 0x80000001u /* Extended feature flags. */
#define VCORE__CPUID_LEAF_ADDR_SIZES 0x80000008u /* Physical/linear address sizes. */

/* CPUID.1:ECX */
#define VCORE__CPUID_1_ECX_MONITOR (1u << 3) /* MONITOR/MWAIT. */
#define VCORE__CPUID_1_ECX_VMX (1u << 5) /* Virtual machine extensions. */
#define VCORE__CPUID_1_ECX_SMX (1u << 6) /* Safer mode extensions. */
#define VCORE__CPUID_1_ECX_PCID (1u << 17) /* Process-context identifiers. */
#define VCORE__CPUID_1_ECX_X2APIC (1u << 21) /* x2APIC. */
#define VCORE__CPUID_1_ECX_XSAVE (1u << 26) /* XSAVE/XRSTOR/XSETBV/XGETBV. */
#define VCORE__CPUID_1_ECX_OSXSAVE (1u << 27) /* Mirror of CR4.OSXSAVE. */
/* CPUID.1:EDX */
#define VCORE__CPUID_1_EDX_APIC (1u << 9) /* On-chip APIC (enabled). */
/* CPUID.7.0:EBX */
#define VCORE__CPUID_7_EBX_FSGSBASE (1u << 0) /* RDFSBASE & co. */
#define VCORE__CPUID_7_EBX_SMEP (1u << 7) /* Supervisor-mode execution prevention. */
#define VCORE__CPUID_7_EBX_SMAP (1u << 20) /* Supervisor-mode access prevention. */
/* CPUID.7.0:ECX */
#define VCORE__CPUID_7_ECX_UMIP (1u << 2) /* User-mode instruction prevention. */
#define VCORE__CPUID_7_ECX_PKU (1u << 3) /* Protection keys for user pages. */
#define VCORE__CPUID_7_ECX_OSPKE (1u << 4) /* Mirror of CR4.PKE. */
#define VCORE__CPUID_7_ECX_CET_SS (1u << 7) /* CET shadow stack. */
#define VCORE__CPUID_7_ECX_LA57 (1u << 16) /* 5-level paging. */
#define VCORE__CPUID_7_ECX_KL (1u << 23) /* Key Locker. */
#define VCORE__CPUID_7_ECX_PKS (1u << 31) /* Protection keys for supervisor pages. */
/* CPUID.7.0:EDX */
#define VCORE__CPUID_7_EDX_CET_IBT (1u << 20) /* CET indirect branch tracking. */
/* CPUID.0DH.1:EAX */
#define VCORE__CPUID_D1_EAX_XSAVEC (1u << 1) /* XSAVEC (compacted form). */
#define VCORE__CPUID_D1_EAX_XSAVES (1u << 3) /* XSAVES/XRSTORS (compacted form). */
/* CPUID.0DH.i:ECX (i >= 2) */
#define VCORE__CPUID_DI_ECX_ALIGN64 (1u << 1) /* Component 64-byte aligned in compacted form. */
/* CPUID.80000001H:ECX */
#define VCORE__CPUID_81_ECX_SVM (1u << 2) /* Secure virtual machine. */
#define VCORE__CPUID_81_ECX_TCE (1u << 17) /* Translation cache extension. */
/* CPUID.80000001H:EDX */
#define VCORE__CPUID_81_EDX_SYSCALL (1u << 11) /* SYSCALL/SYSRET. */
#define VCORE__CPUID_81_EDX_NX (1u << 20) /* No-execute pages. */
#define VCORE__CPUID_81_EDX_FFXSR (1u << 25) /* Fast FXSAVE/FXRSTOR (AMD). */
#define VCORE__CPUID_81_EDX_PAGE1GB (1u << 26) /* 1-GiB pages. */
#define VCORE__CPUID_81_EDX_LM (1u << 29) /* Long mode. */
/* CPUID.8000000AH (APM Vol. 3, "CPUID Fn8000_000A SVM Revision and Feature
 * Identification"): EDX holds the SVM features (virtcore/x86/vmcb.h,
 * VCORE_SVM_FEAT_*). CPUID.8000001FH: AMD memory encryption. */
#define VCORE__CPUID_LEAF_SVM 0x8000000au /* SVM revision and features. */
#define VCORE__CPUID_LEAF_SEV 0x8000001fu /* Encrypted memory capabilities. */
#define VCORE__CPUID_SEV_EAX_SEV_ES (1u << 3) /* SEV-ES: #VC (vector 29) exists. */
#define VCORE__CPUID_SEV_EAX_SNP (1u << 4)    /* SEV-SNP: #HV (vector 28) exists. */

/* The four ASCII bytes of a vendor-string register, little-endian. */
#define VCORE__FOURCC(a, b, c, d)                                              \
    ((uint32_t)(uint8_t)(a) | ((uint32_t)(uint8_t)(b) << 8) |                  \
     ((uint32_t)(uint8_t)(c) << 16) | ((uint32_t)(uint8_t)(d) << 24))

/* RFLAGS status and mode bits (SDM Vol. 1, "EFLAGS Register") and the
 * exception vectors the VMX instruction emulation raises (SDM Vol. 3,
 * "Exception and Interrupt Vectors"). */
#define VCORE__RFLAGS_CF (1ull << 0)
#define VCORE__RFLAGS_PF (1ull << 2)
#define VCORE__RFLAGS_AF (1ull << 4)
#define VCORE__RFLAGS_ZF (1ull << 6)
#define VCORE__RFLAGS_SF (1ull << 7)
#define VCORE__RFLAGS_OF (1ull << 11)
#define VCORE__RFLAGS_TF (1ull << 8)
#define VCORE__RFLAGS_IF (1ull << 9)
#define VCORE__RFLAGS_DF (1ull << 10)
#define VCORE__RFLAGS_AC (1ull << 18)
#define VCORE__RFLAGS_VM (1ull << 17)
#define VCORE__RFLAGS_ARITH (VCORE__RFLAGS_CF | VCORE__RFLAGS_PF | VCORE__RFLAGS_AF | \
                             VCORE__RFLAGS_ZF | VCORE__RFLAGS_SF | VCORE__RFLAGS_OF)

#define VCORE__VEC_DB 1u
#define VCORE__VEC_NMI 2u
#define VCORE__VEC_BP 3u
#define VCORE__VEC_OF 4u
#define VCORE__VEC_UD 6u
#define VCORE__VEC_DF 8u
#define VCORE__VEC_SS 12u
#define VCORE__VEC_GP 13u
#define VCORE__VEC_PF 14u
#define VCORE__VEC_MC 18u
#define VCORE__VEC_VE 20u
#define VCORE__VEC_CP 21u

/* IA32_FEATURE_CONTROL (SDM Vol. 3, "Enabling and Entering VMX Operation"). */
#define VCORE__FEATCTL_LOCK VCORE__BIT(0)            /* Lock: further writes #GP. */
#define VCORE__FEATCTL_VMX_IN_SMX VCORE__BIT(1)      /* VMXON allowed inside SMX operation. */
#define VCORE__FEATCTL_VMX_OUTSIDE_SMX VCORE__BIT(2) /* VMXON allowed outside SMX operation. */
#define VCORE__FEATCTL_SENTER 0xff00ull              /* SENTER local function enables (14:8) and global enable (15). */

/* DR6 (SDM Vol. 3, "Debug Status Register (DR6)"): the bits that read as 1,
 * the condition bits a debug exception sets (B0-B3, BD, BS, BT), and RTM
 * (bit 16, active low). */
#define VCORE__DR6_FIXED1 0xffff0ff0ull
#define VCORE__DR6_CONDITIONS 0xe00full
#define VCORE__DR6_RTM VCORE__BIT(16)
#define VCORE__DR6_BS VCORE__BIT(14) /* Single step. */


/* ---- VMX control fields (SDM Vol. 3, "VM-Execution Control Fields",
 *      "VM-Exit Control Fields", "VM-Entry Control Fields"); 32-bit fields ---- */
/* Pin-based VM-execution controls. */
#define VCORE__PIN_EXT_INT_EXITING (1u << 0)  /* External-interrupt exiting. */
#define VCORE__PIN_NMI_EXITING (1u << 3)      /* NMI exiting. */
#define VCORE__PIN_VIRTUAL_NMIS (1u << 5)     /* Virtual NMIs. */
#define VCORE__PIN_PREEMPT_TIMER (1u << 6)    /* Activate VMX-preemption timer. */
#define VCORE__PIN_POSTED_INTR (1u << 7)      /* Process posted interrupts. */
/* Primary processor-based VM-execution controls. */
#define VCORE__PROC_IRQ_WINDOW (1u << 2)      /* Interrupt-window exiting. */
#define VCORE__PROC_TSC_OFFSET (1u << 3)      /* Use TSC offsetting. */
#define VCORE__PROC_HLT (1u << 7)             /* HLT exiting. */
#define VCORE__PROC_CR3_LOAD (1u << 15)       /* CR3-load exiting. */
#define VCORE__PROC_CR3_STORE (1u << 16)      /* CR3-store exiting. */
#define VCORE__PROC_TERTIARY (1u << 17)       /* Activate tertiary controls. */
#define VCORE__PROC_CR8_LOAD (1u << 19)       /* CR8-load exiting. */
#define VCORE__PROC_CR8_STORE (1u << 20)      /* CR8-store exiting. */
#define VCORE__PROC_TPR_SHADOW (1u << 21)     /* Use TPR shadow. */
/* SDM Vol. 3, "TPR Threshold": VTPR (byte 80H of the virtual-APIC page)
 * bits 7:4 below TPR threshold bits 3:0 - what VM entry refuses without
 * "virtualize APIC accesses" ("Checks on VMX Controls") and turns into a
 * TPR-below-threshold VM exit right after the entry with it ("VM Exits
 * Induced by the TPR Threshold"). */
#define VCORE__VTPR_BELOW_THRESHOLD(threshold, vtpr) (((threshold) & 0xfu) > ((uint32_t)(vtpr) >> 4))
#define VCORE__PROC_NMI_WINDOW (1u << 22)     /* NMI-window exiting. */
#define VCORE__PROC_IO_BITMAPS (1u << 25)     /* Use I/O bitmaps. */
#define VCORE__PROC_UNCOND_IO (1u << 24)      /* Unconditional I/O exiting. */
#define VCORE__PROC_MTF (1u << 27)            /* Monitor trap flag. */
#define VCORE__PROC_MSR_BITMAPS (1u << 28)    /* Use MSR bitmaps. */
#define VCORE__PROC_SECONDARY (1u << 31)      /* Activate secondary controls. */
/* Secondary processor-based VM-execution controls. */
#define VCORE__PROC2_APIC_ACCESS (1u << 0)    /* Virtualize APIC accesses. */
#define VCORE__PROC2_EPT (1u << 1)            /* Enable EPT. */
#define VCORE__PROC2_RDTSCP (1u << 3)         /* Enable RDTSCP. */
#define VCORE__PROC2_X2APIC (1u << 4)         /* Virtualize x2APIC mode. */
#define VCORE__PROC2_VPID (1u << 5)           /* Enable VPID. */
#define VCORE__PROC2_URG (1u << 7)            /* Unrestricted guest. */
#define VCORE__PROC2_APIC_REG (1u << 8)       /* APIC-register virtualization. */
#define VCORE__PROC2_VID (1u << 9)            /* Virtual-interrupt delivery. */
#define VCORE__PROC2_INVPCID (1u << 12)       /* Enable INVPCID. */
#define VCORE__PROC2_VMFUNC (1u << 13)        /* Enable VM functions. */
#define VCORE__PROC2_SHADOW_VMCS (1u << 14)   /* VMCS shadowing. */
#define VCORE__PROC2_PML (1u << 17)           /* Enable PML. */
#define VCORE__PROC2_EPT_VE (1u << 18)        /* EPT-violation #VE. */
#define VCORE__PROC2_MBEC (1u << 22)          /* Mode-based execute control for EPT. */
#define VCORE__PROC2_SPP (1u << 23)           /* Sub-page write permissions for EPT. */
#define VCORE__PROC2_PT_GPA (1u << 24)        /* Intel PT uses guest physical addresses. */
#define VCORE__PROC2_TSC_SCALING (1u << 25)   /* Use TSC scaling. */
/* Primary VM-exit controls. */
#define VCORE__EXIT_SAVE_DEBUG (1u << 2)      /* Save debug controls. */
#define VCORE__EXIT_HOST_64 (1u << 9)         /* Host address-space size. */
#define VCORE__EXIT_LOAD_PERF_GLOBAL (1u << 12) /* Load IA32_PERF_GLOBAL_CTRL. */
#define VCORE__EXIT_ACK_INTR (1u << 15)       /* Acknowledge interrupt on exit. */
#define VCORE__EXIT_SAVE_PAT (1u << 18)       /* Save IA32_PAT. */
#define VCORE__EXIT_LOAD_PAT (1u << 19)       /* Load IA32_PAT. */
#define VCORE__EXIT_SAVE_EFER (1u << 20)      /* Save IA32_EFER. */
#define VCORE__EXIT_LOAD_EFER (1u << 21)      /* Load IA32_EFER. */
#define VCORE__EXIT_SAVE_TIMER (1u << 22)     /* Save VMX-preemption timer value. */
#define VCORE__EXIT_CLEAR_RTIT (1u << 25)     /* Clear IA32_RTIT_CTL. */
#define VCORE__EXIT_LOAD_CET (1u << 28)       /* Load CET state. */
#define VCORE__EXIT_LOAD_PKRS (1u << 29)      /* Load PKRS. */
#define VCORE__EXIT_SECONDARY (1u << 31)      /* Activate secondary controls. */
/* VM-entry controls. */
#define VCORE__ENTRY_LOAD_DEBUG (1u << 2)     /* Load debug controls. */
#define VCORE__ENTRY_IA32E (1u << 9)          /* IA-32e mode guest. */
#define VCORE__ENTRY_SMM (1u << 10)           /* Entry to SMM. */
#define VCORE__ENTRY_DUAL_MONITOR (1u << 11)  /* Deactivate dual-monitor treatment. */
#define VCORE__ENTRY_LOAD_PERF_GLOBAL (1u << 13) /* Load IA32_PERF_GLOBAL_CTRL. */
#define VCORE__ENTRY_LOAD_PAT (1u << 14)      /* Load IA32_PAT. */
#define VCORE__ENTRY_LOAD_EFER (1u << 15)     /* Load IA32_EFER. */
#define VCORE__ENTRY_LOAD_BNDCFGS (1u << 16)  /* Load IA32_BNDCFGS. */
#define VCORE__ENTRY_LOAD_RTIT (1u << 18)     /* Load IA32_RTIT_CTL. */
#define VCORE__ENTRY_LOAD_UINV (1u << 19)     /* Load UINV. */
#define VCORE__ENTRY_LOAD_CET (1u << 20)      /* Load CET state. */
#define VCORE__ENTRY_LOAD_LBR_CTL (1u << 21)  /* Load guest IA32_LBR_CTL. */
#define VCORE__ENTRY_LOAD_PKRS (1u << 22)     /* Load PKRS. */
/* VM-function controls (64 bits). */
#define VCORE__VMFUNC_EPTP_SWITCHING VCORE__BIT(0) /* EPTP switching. */

/* ---- VM-exit instruction-information field (SDM Vol. 3, "VM-Exit
 * Instruction-Information Field"; INS/OUTS and the VMX instructions) ---- */
#define VCORE__II_SCALE(i) ((uint32_t)(i)&3u)                   /* Bits 1:0: scaling (0 none, 1 x2, 2 x4, 3 x8). */
#define VCORE__II_REG1(i) (((uint32_t)(i) >> 3) & 0xfu)          /* Bits 6:3: reg1 (register operand). */
#define VCORE__II_ASIZE(i) (((uint32_t)(i) >> 7) & 7u)           /* Bits 9:7: address size (0 16, 1 32, 2 64). */
#define VCORE__II_IS_REG(i) (((uint32_t)(i) >> 10) & 1u)         /* Bit 10: 0 memory, 1 register operand. */
#define VCORE__II_SEG(i) (((uint32_t)(i) >> 15) & 7u)            /* Bits 17:15: segment (ES CS SS DS FS GS). */
#define VCORE__II_INDEX(i) (((uint32_t)(i) >> 18) & 0xfu)        /* Bits 21:18: index register. */
#define VCORE__II_INDEX_INVALID(i) (((uint32_t)(i) >> 22) & 1u)  /* Bit 22: index register invalid. */
#define VCORE__II_BASE(i) (((uint32_t)(i) >> 23) & 0xfu)         /* Bits 26:23: base register. */
#define VCORE__II_BASE_INVALID(i) (((uint32_t)(i) >> 27) & 1u)   /* Bit 27: base register invalid. */
#define VCORE__II_REG2(i) (((uint32_t)(i) >> 28) & 0xfu)         /* Bits 31:28: reg2. */

/* ---- IA32_VMX_MISC (SDM Vol. 3, "Miscellaneous Data") ---- */
#define VCORE__VMX_MISC_ACT_HLT VCORE__BIT(6)      /* Activity state HLT supported. */
#define VCORE__VMX_MISC_ACT_SHUTDOWN VCORE__BIT(7) /* Activity state shutdown supported. */
#define VCORE__VMX_MISC_ACT_SIPI VCORE__BIT(8)     /* Activity state wait-for-SIPI supported. */
#define VCORE__VMX_MISC_CR3_TARGETS(m) ((uint32_t)(((m) >> 16) & 0x1ffu)) /* Bits 24:16. */
#define VCORE__VMX_MISC_MSR_LIST(m) ((uint32_t)(((m) >> 25) & 7u))       /* Bits 27:25. */
#define VCORE__VMX_MISC_ZERO_LEN_INJECT VCORE__BIT(30) /* Software event injection with length 0. */

/* ---- IA32_VMX_BASIC (SDM Vol. 3, "Basic VMX Information") ---- */
#define VCORE__VMX_BASIC_REVISION_MASK 0x7fffffffull /* Bits 30:0: VMCS revision identifier. */
#define VCORE__VMX_BASIC_REVISION(b) ((uint32_t)((b)&VCORE__VMX_BASIC_REVISION_MASK))
#define VCORE__VMX_BASIC_REGION_SIZE (0x1fffull << 32) /* Bits 44:32: VMCS region size. */
#define VCORE__VMX_BASIC_DUAL_MONITOR VCORE__BIT(49)  /* Dual-monitor treatment of SMIs and SMM. */
#define VCORE__VMX_BASIC_MEMTYPE (0xfull << 50)       /* Bits 53:50: VMCS memory type. */
#define VCORE__VMX_BASIC_INS_OUTS_INFO VCORE__BIT(54) /* INS/OUTS exits report instruction information. */
#define VCORE__VMX_BASIC_NO_ERRCODE_CHECK VCORE__BIT(56) /* Hardware exceptions injectable with or without error code. */
/* Bit 55 (TRUE_* capability MSRs) is public: VCORE_VMX_BASIC_TRUE_CTLS. */

/* ---- IA32_VMX_EPT_VPID_CAP (SDM Vol. 3, "VPID and EPT Capabilities") ---- */
#define VCORE__EPT_CAP_XO VCORE__BIT(0)      /* Execute-only EPT translations. */
#define VCORE__EPT_CAP_WALK4 VCORE__BIT(6)   /* Page-walk length 4 supported. */
#define VCORE__EPT_CAP_WALK5 VCORE__BIT(7)   /* Page-walk length 5 supported. */
#define VCORE__EPT_CAP_UC VCORE__BIT(8)      /* EPT paging structures may be UC. */
#define VCORE__EPT_CAP_WB VCORE__BIT(14)     /* EPT paging structures may be WB. */
#define VCORE__EPT_CAP_2M VCORE__BIT(16)     /* 2-MByte EPT pages. */
#define VCORE__EPT_CAP_1G VCORE__BIT(17)     /* 1-GByte EPT pages. */
#define VCORE__EPT_CAP_INVEPT VCORE__BIT(20) /* INVEPT supported. */
#define VCORE__EPT_CAP_AD VCORE__BIT(21)     /* Accessed and dirty flags for EPT. */
#define VCORE__EPT_CAP_SSS VCORE__BIT(23)    /* Supervisor shadow-stack control. */
#define VCORE__EPT_CAP_INVEPT_SINGLE VCORE__BIT(25)  /* Single-context INVEPT. */
#define VCORE__EPT_CAP_INVEPT_ALL VCORE__BIT(26)     /* All-context INVEPT. */
#define VCORE__EPT_CAP_INVVPID VCORE__BIT(32)        /* INVVPID supported. */
#define VCORE__EPT_CAP_INVVPID_ADDR VCORE__BIT(40)   /* Individual-address INVVPID. */
#define VCORE__EPT_CAP_INVVPID_SINGLE VCORE__BIT(41) /* Single-context INVVPID. */
#define VCORE__EPT_CAP_INVVPID_SINGLE_NG VCORE__BIT(43) /* Single-context-retaining-globals INVVPID. */

/* ---- EPT pointer (SDM Vol. 3, "Extended-Page-Table Pointer (EPTP)") ---- */
#define VCORE__EPTP_AD VCORE__BIT(6) /* Accessed and dirty flags for EPT enabled. */

/* ---- Guest interruptibility state (SDM Vol. 3, "Guest Non-Register State") ---- */
#define VCORE__INTR_STI (1u << 0)            /* Blocking by STI. */
#define VCORE__INTR_MOVSS (1u << 1)          /* Blocking by MOV SS. */
#define VCORE__INTR_SMI (1u << 2)            /* Blocking by SMI. */
#define VCORE__INTR_NMI (1u << 3)            /* Blocking by NMI. */
#define VCORE__INTR_ENCLAVE (1u << 4)        /* Enclave interruption. */

/* ---- Guest activity state ---- */
#define VCORE__ACT_ACTIVE 0u                 /* Active. */
#define VCORE__ACT_HLT 1u                    /* HLT. */
#define VCORE__ACT_SHUTDOWN 2u               /* Shutdown. */
#define VCORE__ACT_SIPI 3u                   /* Wait-for-SIPI. */

/* ---- VM-entry interruption-information field (SDM Vol. 3, "VM-Entry Controls for Event Injection") ---- */
#define VCORE__IINFO_VECTOR(i) ((i) & 0xffu)        /* Bits 7:0: vector. */
#define VCORE__IINFO_TYPE(i) (((i) >> 8) & 7u)      /* Bits 10:8: interruption type. */
#define VCORE__IINFO_ERRCODE (1u << 11)             /* Deliver error code. */
#define VCORE__IINFO_VALID (1u << 31)               /* Valid. */
#define VCORE__ITYPE_EXT_INT 0u                     /* External interrupt. */
#define VCORE__ITYPE_NMI 2u                         /* Non-maskable interrupt. */
#define VCORE__ITYPE_HW_EXC 3u                      /* Hardware exception. */
#define VCORE__ITYPE_SW_INT 4u                      /* Software interrupt. */
#define VCORE__ITYPE_PRIV_SW_EXC 5u                 /* Privileged software exception. */
#define VCORE__ITYPE_SW_EXC 6u                      /* Software exception. */
#define VCORE__ITYPE_OTHER 7u                       /* Other event (pending MTF VM exit). */

/* ---- Pending debug exceptions (SDM Vol. 3, "Guest Non-Register State") ---- */
#define VCORE__PENDDBG_B0_3 0xfull           /* B3-B0. */
#define VCORE__PENDDBG_ENABLED_BP VCORE__BIT(12) /* Enabled breakpoint. */
#define VCORE__PENDDBG_BS VCORE__BIT(14)     /* Single step. */
#define VCORE__PENDDBG_RTM VCORE__BIT(16)    /* Debug exception inside an RTM region. */
/* The bits that make pending debug exceptions valid, delivered after a VM
 * entry ("Delivery of Pending Debug Exceptions after VM Entry"): enabled
 * breakpoint, single step, RTM; B3-B0 alone are not. */
#define VCORE__PENDDBG_VALID (VCORE__PENDDBG_ENABLED_BP | VCORE__PENDDBG_BS | VCORE__PENDDBG_RTM)

/* ---- More RFLAGS and debug bits used by the VM-entry checks ---- */
#define VCORE__RFLAGS_TF (1ull << 8)          /* Trap flag. */
#define VCORE__RFLAGS_IF (1ull << 9)          /* Interrupt enable. */
#define VCORE__DEBUGCTL_BTF VCORE__BIT(1)     /* IA32_DEBUGCTL.BTF: single-step on branches. */

/* ---- More CPUID bits used by the VM-entry checks ---- */
#define VCORE__CPUID_1_ECX_TSC_DEADLINE (1u << 24) /* TSC-deadline timer. */
#define VCORE__CPUID_7_EBX_TSC_ADJUST (1u << 1)    /* IA32_TSC_ADJUST. */
#define VCORE__CPUID_7_EBX_SGX (1u << 2)           /* Software Guard Extensions. */
#define VCORE__CPUID_7_EBX_RTM (1u << 11)          /* Restricted transactional memory. */
#define VCORE__CPUID_7_EBX_MPX (1u << 14)          /* Memory protection extensions. */
#define VCORE__CPUID_7_ECX_RDPID (1u << 22)        /* RDPID. */
#define VCORE__CPUID_7_ECX_BUS_LOCK (1u << 24)     /* Bus-lock detection (IA32_DEBUGCTL[2]). */
#define VCORE__CPUID_7_EDX_IBRS (1u << 26)         /* IBRS and IBPB. */
#define VCORE__CPUID_7_EDX_STIBP (1u << 27)        /* STIBP. */
#define VCORE__CPUID_7_EDX_L1D_FLUSH (1u << 28)    /* IA32_FLUSH_CMD. */
#define VCORE__CPUID_7_EDX_SSBD (1u << 31)         /* SSBD. */
#define VCORE__CPUID_81_EDX_RDTSCP (1u << 27)      /* RDTSCP and IA32_TSC_AUX. */
#define VCORE__CPUID_LEAF_PMU 0x0000000au          /* Architectural performance monitoring. */
#define VCORE__CPUID_LEAF_PT 0x00000014u           /* Intel Processor Trace. */


#endif /* VCORE_CORE_X86_BITS_H */
