/*
 * check_control.c - the VMRUN rules on the control area (APM Vol. 2,
 * "Canonicalization and Consistency Checks"): the VMRUN intercept, the
 * extent of the MSR and I/O permission maps, and the ASID.
 */
#include "svm_chk.h"

/* "The MSR or IOIO intercept tables extend to a physical address that is
 * greater than or equal to the maximum supported physical address": the
 * whole table counts, not only its base. Bits 11:0 of the base are ignored
 * ("MSR Intercepts", "I/O Intercepts": the maps are 4-KiB aligned). Returns
 * true when the last byte of the table lies at or above 2^MAXPHYADDR. */
static bool check_control_table_beyond(const vcore__svm_chk_t *c, uint64_t base, uint64_t bytes)
{
    uint64_t limit = 1ull << c->in.maxphyaddr;
    base &= ~0xfffull;
    /* base + bytes > limit, without overflow (base may be anything up to 2^64 - 4 KiB). */
    return base > limit - bytes;
}

void vcore__svm_check_control(vcore__svm_chk_t *c)
{
    const vcore_vmcb_control_t *k = &c->ctl;

    VCORE__SVM_CHK(c, !vcore_vmcb_intercept_test(k, VCORE_VMCB_INTERCEPT_VMRUN), VMRUN_INTERCEPT,
                   k->intercept[4]);
    VCORE__SVM_CHK(c, check_control_table_beyond(c, k->msrpm_base_pa, VCORE_VMCB_MSRPM_SIZE),
                   MSRPM_RANGE, k->msrpm_base_pa);
    VCORE__SVM_CHK(c, check_control_table_beyond(c, k->iopm_base_pa, VCORE_VMCB_IOPM_SIZE),
                   IOPM_RANGE, k->iopm_base_pa);
    VCORE__SVM_CHK(c, k->asid == 0, ASID_ZERO, k->asid);
}
