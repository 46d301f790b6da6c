/*
 * check_save.c - the VMRUN rules on the state-save area (APM Vol. 2,
 * "Canonicalization and Consistency Checks"), in the order of the APM's
 * list: EFER.SVME, CR0, CR3, CR4, DR6, DR7, EFER, and the long-mode
 * combinations of EFER.LME, CR0.PG, CR0.PE, CR4.PAE, CS.L and CS.D.
 *
 * "Long mode" here is what the guest state asks for - EFER.LME and CR0.PG
 * both set - because VMRUN computes EFER.LMA from them; the LMA bit of the
 * VMCB is not trusted.
 */
#include "svm_chk.h"

void vcore__svm_check_save(vcore__svm_chk_t *c)
{
    const vcore_vmcb_save_t *s = &c->save;
    uint64_t efer = s->efer, cr0 = s->cr0, cr4 = s->cr4;
    bool lme_pg = (efer & VCORE__EFER_LME) && (cr0 & VCORE__CR0_PG);

    VCORE__SVM_CHK(c, !(efer & VCORE__EFER_SVME), EFER_SVME, efer);
    VCORE__SVM_CHK(c, (cr0 & VCORE__CR0_NW) && !(cr0 & VCORE__CR0_CD), CR0_CD_NW, cr0);
    VCORE__SVM_CHK(c, (cr0 >> 32) != 0, CR0_HIGH, cr0);
    /* "Any MBZ bit of CR3 is set": the long-mode format reserves bits 63:52
     * and limits the table base to the implemented physical address; the
     * legacy formats (32 bits) have no MBZ bits. */
    VCORE__SVM_CHK(c, lme_pg && vcore__svm_chk_pa_mbz(c, s->cr3) != 0, CR3_MBZ, s->cr3);
    /* "Any MBZ bit of CR4 is set": bits 63:32, and in 31:0 the reserved
     * bits and those of features L1's processor does not have. */
    VCORE__SVM_CHK(c, (cr4 >> 32) != 0, CR4_HIGH, cr4);
    VCORE__SVM_CHK(c, (cr4 & c->cr4_unsupported) != 0, CR4_UNSUPPORTED, cr4);
    VCORE__SVM_CHK(c, (s->dr6 >> 32) != 0, DR6_HIGH, s->dr6);
    VCORE__SVM_CHK(c, (s->dr7 >> 32) != 0, DR7_HIGH, s->dr7);
    VCORE__SVM_CHK(c, (efer & c->efer_mbz) != 0, EFER_MBZ, efer);
    VCORE__SVM_CHK(c, (efer & (VCORE__EFER_LME | VCORE__EFER_LMA)) && !c->long_mode,
                   EFER_LONG_MODE_UNSUPPORTED, efer);
    VCORE__SVM_CHK(c, lme_pg && !(cr4 & VCORE__CR4_PAE), LME_PG_NO_PAE, cr4);
    VCORE__SVM_CHK(c, lme_pg && !(cr0 & VCORE__CR0_PE), LME_PG_NO_PE, cr0);
    VCORE__SVM_CHK(c, lme_pg && (cr4 & VCORE__CR4_PAE) && (s->cs.attrib & VCORE_VMCB_ATTR_L) &&
                          (s->cs.attrib & VCORE_VMCB_ATTR_DB),
                   LONG_CS_L_D, s->cs.attrib);
}
