/*
 * l1svm.h - the SVM L1 hypervisor of the nested system test, and what the
 * SVM test kernel (L0) shares with it.
 *
 * L1 is a separate freestanding program with its own small SVM code (it
 * does not use libvirtcore). It is linked at a fixed address inside a
 * 2 MiB region and runs either
 *   - bare: the test kernel calls its entry at ring 0 on the emulated CPU
 *     (the emulated processor's own SVM answers), or
 *   - nested: as the guest of a libvirtcore vCPU with nested SVM, the
 *     region mapped at the same guest-physical address.
 * It writes its verdicts to a report at a fixed address of the region; the
 * test kernel prints them as CASE lines.
 */
#ifndef SVK_L1SVM_H
#define SVK_L1SVM_H

#include <stdint.h>

/* The region: 2 MiB at 56 MiB (above the kernel's page arena, kmem.c). */
#define L1S_BASE 0x3800000ull
#define L1S_SIZE 0x200000ull
/* Boot area the test kernel fills for a nested run: 64-bit paging of the
 * first 1 GiB and a GDT (null, code 08H, data 10H, TSS 18H). */
#define L1S_BOOT_PML4 (L1S_BASE + 0x0000)
#define L1S_BOOT_PDPT (L1S_BASE + 0x1000)
#define L1S_BOOT_PD (L1S_BASE + 0x2000)
#define L1S_BOOT_GDT (L1S_BASE + 0x3000)
#define L1S_BOOT_TSS (L1S_BASE + 0x3100)
#define L1S_REPORT (L1S_BASE + 0x4000)  /* struct l1s_report */
#define L1S_STACK_TOP (L1S_BASE + 0x10000)
#define L1S_IMAGE (L1S_BASE + 0x10000)  /* struct l1s_header, then the code */

/* First argument of the entry: what to run. */
#define L1S_MODE_NESTED 1u /* running as a guest (only changes the log prefix) */
#define L1S_MODE_VMRUN_CHECKS 2u /* the broken-VMCB program instead of the L2 exit program */
#define L1S_MODE_NO_NP 4u  /* run L2 without nested paging even if offered */
#define L1S_MODE_QUIET 8u  /* no narration lines */

/*
 * The L2 exit program: one case per step, in the order L2 executes them.
 * X(id, name, what makes it exit to L1 or not: the VMCB12 control that decides)
 */
#define L1S_CASE_LIST(X)                                                                           \
    X(SVM_ON, "l1.svm_enable", "CPUID 8000_0001h:ECX.SVM, VM_CR.SVMDIS clear, EFER.SVME, VM_HSAVE_PA") \
    X(VMCB, "l1.vmcb_setup", "a complete 64-bit guest in the VMCB, VMSAVE/VMLOAD")                  \
    X(VMRUN, "l1.vmrun", "VMRUN enters L2")                                                         \
    X(CPUID, "l2.cpuid", "intercept CPUID (vector 3 bit 18) set")                                   \
    X(IO_OUT, "l2.io_out_imm", "IOIO_PROT set and IOPM bit 90h set")                                \
    X(IO_IN, "l2.io_in_dx", "IOIO_PROT set and IOPM bit 3F8h set")                                  \
    X(IO_PASS, "l2.io_passthrough", "IOPM bit 80h clear: no exit to L1")                            \
    X(RDMSR, "l2.rdmsr", "MSR_PROT set and MSRPM read bit of 174h set")                             \
    X(MSR_PASS, "l2.rdmsr_passthrough", "MSRPM read bits of 277h (PAT) and C001_0114h (VM_CR) clear: L2 reads its own PAT and L1's VM_CR") \
    X(WRMSR, "l2.wrmsr", "MSR_PROT set and MSRPM write bit of 175h set")                            \
    X(EXC_EXIT, "l2.exception_intercepted", "exception intercept bit 6 (#UD) set")                  \
    X(EXC_PASS, "l2.exception_not_intercepted", "exception intercept bit 0 (#DE) clear: L2's IDT")  \
    X(NPF, "l2.npf", "nested paging: a guest-physical address outside L1's nested page table")      \
    X(VMMCALL, "l2.vmmcall", "intercept VMMCALL (vector 4 bit 1) set")                              \
    X(HLT, "l2.hlt", "intercept HLT (vector 3 bit 24) set")                                         \
    X(FINISH, "l2.finish", "L2 reports done with VMMCALL")

enum l1s_case_id {
#define L1S_CASE_ENUM(id, name, why) L1S_CASE_##id,
    L1S_CASE_LIST(L1S_CASE_ENUM)
#undef L1S_CASE_ENUM
    L1S_NCASES
};

/*
 * The broken-VMCB program: each variant is one VMRUN of the complete L2
 * state with one rule of APM Vol. 2 "Canonicalization and Consistency
 * Checks" (or "Event Injection") broken; the valid state enters L2, which
 * exits at once with VMMCALL. X(id, name, EXITCODE the APM gives).
 */
#define L1S_EXITCODE_INVALID 0xffffffffffffffffull /* VMEXIT_INVALID: -1 in all 64 bits */
#define L1S_VAR_LIST(X)                                                                            \
    X(EFER_SVME, "vmrun.efer_svme_clear", L1S_EXITCODE_INVALID)                                    \
    X(CR0_NW, "vmrun.cr0_nw_without_cd", L1S_EXITCODE_INVALID)                                     \
    X(CR0_HIGH, "vmrun.cr0_bit32", L1S_EXITCODE_INVALID)                                           \
    X(CR4_HIGH, "vmrun.cr4_bit32", L1S_EXITCODE_INVALID)                                           \
    X(DR6_HIGH, "vmrun.dr6_bit32", L1S_EXITCODE_INVALID)                                           \
    X(DR7_HIGH, "vmrun.dr7_bit32", L1S_EXITCODE_INVALID)                                           \
    X(EFER_RSVD, "vmrun.efer_bit32", L1S_EXITCODE_INVALID)                                         \
    X(LME_NO_PAE, "vmrun.lme_pg_without_pae", L1S_EXITCODE_INVALID)                                \
    X(CS_L_D, "vmrun.long_mode_cs_l_and_d", L1S_EXITCODE_INVALID)                                  \
    X(NO_VMRUN_ICPT, "vmrun.vmrun_intercept_clear", L1S_EXITCODE_INVALID)                          \
    X(ASID0, "vmrun.asid_zero", L1S_EXITCODE_INVALID)                                              \
    X(MSRPM_HIGH, "vmrun.msrpm_beyond_maxphyaddr", L1S_EXITCODE_INVALID)                           \
    X(IOPM_HIGH, "vmrun.iopm_beyond_maxphyaddr", L1S_EXITCODE_INVALID)                             \
    X(EVENT_TYPE, "vmrun.eventinj_type_1", L1S_EXITCODE_INVALID)                                   \
    X(EVENT_NMI_VEC, "vmrun.eventinj_exception_vector_2", L1S_EXITCODE_INVALID)                    \
    X(VALID, "vmrun.valid_state_enters", 0x81u)

enum l1s_var_id {
#define L1S_VAR_ENUM(id, name, code) L1S_VAR_##id,
    L1S_VAR_LIST(L1S_VAR_ENUM)
#undef L1S_VAR_ENUM
    L1S_NVARS
};

enum { L1S_NOT_RUN = 0, L1S_PASS = 1, L1S_FAIL = 2, L1S_SKIP = 3 };

typedef struct l1s_result {
    uint32_t state;   /* L1S_NOT_RUN / PASS / FAIL / SKIP */
    uint32_t len;
    char detail[160]; /* what L1 saw */
} l1s_result_t;

typedef struct l1s_outcome {
    uint32_t state;     /* L1S_NOT_RUN, or L1S_PASS once recorded */
    uint32_t gp;        /* VMRUN raised #GP instead (not expected by any variant) */
    uint64_t exitcode;  /* EXITCODE of the VMCB after VMRUN returned */
} l1s_outcome_t;

#define L1S_REPORT_MAGIC 0x4c315356u /* "L1SV" */

typedef struct l1s_report {
    uint32_t magic;
    uint32_t done;        /* set when the program ran to its end */
    uint32_t np;          /* L1 ran L2 with nested paging */
    uint32_t nrips;       /* the processor offered NRIP save (CPUID 8000_000Ah:EDX[3]) */
    uint32_t l1_exits;    /* #VMEXITs from L2 that L1 saw */
    uint32_t next_var;    /* broken-VMCB program: the variant being run */
    uint64_t svm_edx;     /* CPUID 8000_000Ah:EDX as L1 saw it */
    uint64_t maxphyaddr;  /* CPUID 8000_0008h:EAX[7:0] as L1 saw it */
    l1s_result_t cases[L1S_NCASES];
    l1s_outcome_t vars[L1S_NVARS];
} l1s_report_t;

/* The start of the image (L1S_IMAGE). */
#define L1S_HEADER_MAGIC 0x4d5653314c4d4f4cull
typedef struct l1s_header {
    uint64_t magic;
    uint64_t entry; /* void entry(uint64_t mode, uint64_t first_var) (SysV ABI) */
    uint64_t halt;  /* HLT loop: the return address of a nested run */
    uint64_t end;   /* end of the image's memory (.bss included) */
} l1s_header_t;

/* Ports of L2 (and the message port of L1: E9H, the emulators' debug console). */
#define L1S_PORT_LOG 0xe9u
#define L2S_PORT_PASS 0x80u /* not intercepted by L1 */
#define L2S_PORT_OUT 0x90u
#define L2S_PORT_IN 0x3f8u
#define L2S_PASS_VALUE 0x2au /* what L2 writes to L2S_PORT_PASS */
#define L2S_NPF_HOLE 0x10000000ull /* a guest-physical address L1's nested table does not map */

#endif /* SVK_L1SVM_H */
