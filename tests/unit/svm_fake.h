/*
 * svm_fake.h - a strict in-memory model of the svm backend's primitives
 * (src/backend-svm/svm_prim.h), linked instead of svm_prim.c in host tests.
 *
 * It follows the APM's rules for the SVM instructions on several logical
 * processors: VMRUN, VMLOAD and VMSAVE need EFER.SVME and a page-aligned
 * VMCB, VMRUN a host save area (VM_HSAVE_PA) and a VMCB that passes the
 * consistency checks (the library's own model of them: a backend must
 * never build an illegal VMCB, so an invalid one fails the test unless the
 * test asks for it). It holds the backend to its protocol as well: VMRUN
 * with GIF clear and the guest's VMLOAD state loaded, the host's VMLOAD
 * state back before STGI, and no clean bit set for a field that changed
 * since the last #VMEXIT or on the first VMRUN with an ASID ("VMCB Clean
 * Field"). Anything it does not model - an MSR it does not know, a VMRUN
 * without a guest - fails the test.
 *
 * The guest is a callback: at each VMRUN that passes, the injected event
 * is recorded and the callback plays the guest (changes the state-save
 * area and the registers) and describes the #VMEXIT with svm_fake_exit().
 */
#ifndef VCORE_TEST_SVM_FAKE_H
#define VCORE_TEST_SVM_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend-svm/svm_prim.h"
#include <virtcore/x86/vmcb.h>

#define SVM_FAKE_MAX_CPUS 4
#define SVM_FAKE_MAX_VMCBS 16
#define SVM_FAKE_MAXPHYADDR 48

/* The VMLOAD/VMSAVE state of a processor ("VMSAVE and VMLOAD Instructions"). */
typedef struct svm_fake_ls {
    vcore_vmcb_seg_t fs, gs, tr, ldtr;
    uint64_t kernel_gs_base, star, lstar, cstar, sfmask, sysenter_cs, sysenter_esp, sysenter_eip;
} svm_fake_ls_t;

typedef struct svm_fake_cpu {
    uint64_t efer, hsave_pa, vm_cr;
    uint64_t cr0, cr4;  /* the host's control registers (FXSAVE needs OSFXSR, no EM/TS) */
    uint8_t fx[512];    /* the processor's x87/SSE state as FXSAVE writes it */
    bool gif;           /* the global interrupt flag (set at RESET) */
    svm_fake_ls_t ls;   /* the VMLOAD state the processor holds */
    uint64_t ls_from;   /* VMCB the state was last loaded from (0: the host's own) */
    uint64_t n_vmrun;
} svm_fake_cpu_t;

/* What the fake remembers of a VMCB it ran. */
typedef struct svm_fake_vmcb {
    uint64_t pa;
    int cpu;            /* processor it last ran on, -1 never */
    uint32_t asid;      /* ASID it last ran with */
    vcore_vmcb_t after; /* the VMCB as the last #VMEXIT left it */
} svm_fake_vmcb_t;

typedef struct svm_fake svm_fake_t;
/* Plays the guest for one VMRUN; must call svm_fake_exit(). */
typedef void (*svm_fake_guest_fn)(svm_fake_t *f, vcore_vmcb_t *vmcb, vcore__svm_gprs_t *g, void *arg);

struct svm_fake {
    svm_fake_cpu_t cpu[SVM_FAKE_MAX_CPUS];
    uint32_t this_cpu;          /* the processor the code runs on (what the test host's cpu_index says) */
    uint32_t max_ext_leaf;      /* CPUID 8000_0000H:EAX, the highest extended leaf */
    uint32_t cpuid_81_ecx;      /* CPUID 8000_0001H:ECX (SVM bit 2) */
    uint32_t svm_features;      /* CPUID 8000_000AH:EDX */
    uint32_t nasid;             /* CPUID 8000_000AH:EBX */
    uint64_t tsc;               /* RDTSC returns it and advances it by 10 */
    svm_fake_vmcb_t vmcb[SVM_FAKE_MAX_VMCBS];
    uint32_t nvmcb;
    svm_fake_ls_t host_ls;      /* the host's VMLOAD state, which must survive every run */
    /* the guest */
    svm_fake_guest_fn guest;
    void *guest_arg;
    bool exit_set;
    bool expect_invalid;        /* the next VMRUN may fail its consistency checks */
    /* what the last VMRUN saw */
    uint64_t inj;               /* EVENTINJ (valid bit set) it delivered, 0 if none */
    uint64_t n_injected;
    uint32_t clean;             /* the clean field */
    uint8_t tlb_control;        /* TLB_CONTROL */
    uint32_t asid;              /* the ASID */
    uint32_t check;             /* the failing check of a VMEXIT_INVALID, 0 otherwise */
    /* INVLPGA log: (virtual address, ASID, processor) of each, in order */
#define SVM_FAKE_MAX_INVLPGA 256
    struct {
        uint64_t va;
        uint32_t asid, cpu;
    } invlpga[SVM_FAKE_MAX_INVLPGA];
    /* counters */
    uint64_t n_vmrun, n_vmload, n_vmsave, n_clgi, n_stgi, n_invlpga, n_rdmsr, n_wrmsr, n_host_mc,
        n_invalid, n_flush, n_fxsave, n_fxrstor;
};

extern svm_fake_t svm_fake;

/* The processor the code runs on. */
#define SVM_FAKE_CPU (svm_fake.cpu[svm_fake.this_cpu])

/* Resets the model: processors with SVM, nested paging, NRIPS, clean bits,
 * flush by ASID and decode assists, 16 ASIDs, EFER.SVME clear. */
void svm_fake_reset(void);
/* Describes the #VMEXIT the guest callback produced: EXITCODE, EXITINFO1,
 * EXITINFO2, and nRIP (written when NRIPS is offered). */
void svm_fake_exit(uint64_t code, uint64_t info1, uint64_t info2, uint64_t next_rip);

#endif
