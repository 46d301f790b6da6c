/*
 * check_npt.c - the rules nested paging adds to VMRUN's list (APM Vol. 2,
 * "Nested Paging and VMRUN/#VMEXIT"): "Any MBZ bit of nCR3 is set" and
 * "Any G_PAT.PA field has an unsupported type encoding or any reserved
 * field in G_PAT has a nonzero value".
 *
 * Nested paging is in force when NP_ENABLE is set and L1's processor has
 * it (CPUID Fn8000_000A_EDX[NP]); without the feature the enable bit has
 * no effect and neither rule applies. The nested page tables use the
 * host's paging mode ("Nested Paging Facility"): in a long-mode host nCR3
 * has the long-mode CR3 format, whose bits 63:52 and bits above the
 * implemented physical address are MBZ; the legacy formats hold a 32-bit
 * root and have no MBZ bits.
 */
#include "svm_chk.h"

void vcore__svm_check_npt(vcore__svm_chk_t *c)
{
    if (!(c->ctl.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE) || !(c->in.svm_features & VCORE_SVM_FEAT_NP))
        return;
    VCORE__SVM_CHK(c, (c->in.l1_efer & VCORE__EFER_LMA) && vcore__svm_chk_pa_mbz(c, c->ctl.n_cr3) != 0,
                   NCR3_MBZ, c->ctl.n_cr3);
    /* G_PAT has the IA32_PAT format: the rule of a PAT write (msr.c). */
    VCORE__SVM_CHK(c, !vcore__x86_pat_ok(c->save.g_pat), G_PAT_INVALID, c->save.g_pat);
}
