/*
 * svm_chk.h - the context shared by the VMRUN check files (private).
 *
 * One file per group of rules fills in failures through vcore__svm_chk_fail();
 * check.c derives L1's facts once, runs the groups in table order and turns
 * the first failure into the verdict.
 */
#ifndef VCORE_CORE_X86_SVM_SVM_CHK_H
#define VCORE_CORE_X86_SVM_SVM_CHK_H

#include "../x86.h"
#include "../x86_bits.h"
#include "virtcore/x86/svm_checks.h"

typedef struct vcore__svm_chk {
    /* The copy of the VMCB: the only VMCB the checks read. Its control and
     * state-save areas (1.7 KiB), not the whole page: ring-0 stacks are small. */
    vcore_vmcb_control_t ctl;
    vcore_vmcb_save_t save;
    vcore_svm_check_input_t in; /* the caller's input, copied */
    /* L1's processor as its CPUID enumerates it (derived once). */
    uint64_t cr4_unsupported;   /* CR4 bits 31:0 that must be 0 */
    uint64_t efer_mbz;          /* EFER bits that must be 0 (LME, LMA and SVME excepted: own rules) */
    bool long_mode;             /* CPUID.80000001H:EDX.LM */
    uint32_t exc_vectors;       /* bit v: vector v is an exception EVENTINJ may name */
    /* Outcome bookkeeping. */
    bool report_all;            /* record every failure */
    bool stop;                  /* nothing more to check */
    vcore_svm_check_failure_t *fail;
    uint32_t cap, n;            /* capacity of fail[], failures seen */
    vcore_svm_check_failure_t first; /* the deciding failure (check 0: none yet) */
} vcore__svm_chk_t;

/* Records a failure. In verdict-only mode the first failure stops the checks. */
void vcore__svm_chk_fail(vcore__svm_chk_t *c, uint32_t id, uint64_t value);

/* Fails check `id` with `value` when `cond` holds; returns from the calling
 * group function once the checks are to stop. */
#define VCORE__SVM_CHK(c, cond, id, value)                                                          \
    do {                                                                                            \
        if (cond) {                                                                                 \
            vcore__svm_chk_fail((c), (uint32_t)VCORE_SVM_CHECK_##id, (uint64_t)(value));            \
            if ((c)->stop)                                                                          \
                return;                                                                             \
        }                                                                                           \
    } while (0)

/* Bits at or above MAXPHYADDR and bits 63:52 of a physical-address
 * register in long mode (APM Vol. 2, "CR3" in long mode: bits 63:52 are
 * reserved MBZ, the base is limited by the implemented physical address). */
static inline uint64_t vcore__svm_chk_pa_mbz(const vcore__svm_chk_t *c, uint64_t reg)
{
    return vcore__x86_phys_ok(reg, c->in.maxphyaddr) ? 0u : reg & ~((1ull << c->in.maxphyaddr) - 1u);
}

/* ---- the groups, in table order ---- */
void vcore__svm_check_save(vcore__svm_chk_t *c);    /* check_save.c */
void vcore__svm_check_control(vcore__svm_chk_t *c); /* check_control.c */
void vcore__svm_check_event(vcore__svm_chk_t *c);   /* check_event.c */
void vcore__svm_check_npt(vcore__svm_chk_t *c);     /* check_npt.c */

#endif /* VCORE_CORE_X86_SVM_SVM_CHK_H */
