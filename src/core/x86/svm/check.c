/*
 * check.c - the VMRUN check engine (APM Vol. 2, "Canonicalization and
 * Consistency Checks").
 *
 * Every rule has the same outcome, #VMEXIT with VMEXIT_INVALID, so the
 * order of the groups decides only which check a verdict names: the table
 * order of svm_check_list.h. What the rules need to know about L1's
 * processor (its CR4 and EFER features, long mode, the exception vectors
 * it defines) is derived once from its CPUID table, with the model the
 * vCPU's own register checks use (cpuid.c).
 */
#include "svm_chk.h"

void vcore__svm_chk_fail(vcore__svm_chk_t *c, uint32_t id, uint64_t value)
{
    if (c->first.check == 0) {
        c->first.check = id;
        c->first.value = value;
    }
    if (c->report_all) {
        if (c->n < c->cap) {
            c->fail[c->n].check = id;
            c->fail[c->n].pad = 0;
            c->fail[c->n].value = value;
        }
        /* A count, not an index: it saturates rather than wraps. */
        if (c->n != UINT32_MAX)
            c->n++;
    } else {
        c->n = 1;
        c->stop = true;
    }
}

/* APM Vol. 2, "Exception and Interrupt Vectors" (table "Interrupt Vector
 * Source and Cause"): the exceptions every AMD64 processor defines - #DE 0,
 * #DB 1, #BP 3, #OF 4, #BR 5, #UD 6, #NM 7, #DF 8, #TS 10, #NP 11, #SS 12,
 * #GP 13, #PF 14, #MF 16, #AC 17, #MC 18, #XF 19 - and #SX 30, which SVM
 * itself defines (INIT redirection). Vector 2 is the NMI, an interrupt; 9,
 * 15, 20, 22-27 and 31 are reserved. */
#define VCORE__SVM_EXC_ALWAYS                                                                       \
    ((1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) | \
     (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14) | (1u << 16) | (1u << 17) |      \
     (1u << 18) | (1u << 19) | (1u << 30))
#define VCORE__SVM_VEC_CP 21u /* #CP: control-protection (CET) */
#define VCORE__SVM_VEC_HV 28u /* #HV: hypervisor injection (SEV-SNP) */
#define VCORE__SVM_VEC_VC 29u /* #VC: VMM communication (SEV-ES) */

/* The processor L1 sees, from its CPUID table (or the documented baseline
 * without one: an AMD64 processor with SVM, long mode, NX and SYSCALL). */
static void check_facts(vcore__svm_chk_t *c)
{
    static const vcore_cpuid_entry_t baseline[] = {
        {VCORE__CPUID_LEAF_EXT_MAX, 0, 0, VCORE__CPUID_LEAF_EXT_INFO, 0, 0, 0},
        {VCORE__CPUID_LEAF_EXT_INFO, 0, 0, 0, 0, VCORE__CPUID_81_ECX_SVM,
         VCORE__CPUID_81_EDX_LM | VCORE__CPUID_81_EDX_NX | VCORE__CPUID_81_EDX_SYSCALL},
    };
    const vcore_cpuid_entry_t *t = c->in.ncpuid ? c->in.cpuid : baseline;
    uint32_t n = c->in.ncpuid ? c->in.ncpuid : (uint32_t)VCORE__ARRAY_SIZE(baseline);
    vcore_x86_cpu_model_t m;
    const vcore_cpuid_entry_t *e;

    vcore__cpuid_after_set(t, n, VCORE_X86_VENDOR_AMD, VCORE__XCR0_X87, &m);
    c->cr4_unsupported = m.cr4_reserved & 0xffffffffull;
    c->efer_mbz = m.efer_reserved & ~(VCORE__EFER_LME | VCORE__EFER_LMA | VCORE__EFER_SVME);
    c->long_mode = (m.features & VCORE_X86_FEAT_LM) != 0;
    c->exc_vectors = VCORE__SVM_EXC_ALWAYS;
    e = vcore__cpuid_find(t, n, VCORE__CPUID_LEAF_EXT_FEATURES, 0);
    if (e && ((e->ecx & VCORE__CPUID_7_ECX_CET_SS) || (e->edx & VCORE__CPUID_7_EDX_CET_IBT)))
        c->exc_vectors |= 1u << VCORE__SVM_VEC_CP;
    e = vcore__cpuid_find(t, n, VCORE__CPUID_LEAF_SEV, 0);
    if (e && (e->eax & VCORE__CPUID_SEV_EAX_SEV_ES))
        c->exc_vectors |= 1u << VCORE__SVM_VEC_VC;
    if (e && (e->eax & VCORE__CPUID_SEV_EAX_SNP))
        c->exc_vectors |= 1u << VCORE__SVM_VEC_HV;
}

int vcore_svm_check_vmrun(const vcore_svm_check_input_t *in, vcore_svm_verdict_t *out,
                          vcore_svm_check_failure_t *failures, uint32_t cap)
{
    vcore__svm_chk_t c;

    if (!in || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(in) || !VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (!in->vmcb12)
        return VCORE_ERR_INVAL;
    /* APM Vol. 3, CPUID Fn8000_0008_EAX: PhysAddrSize; 32..52 on AMD64. */
    if (in->maxphyaddr < 32 || in->maxphyaddr > 52 || (in->ncpuid != 0 && !in->cpuid))
        return VCORE_ERR_INVAL;

    /* The VMCB is copied once; every check reads the copy only. */
    vcore__memcpy(&c.ctl, in->vmcb12, sizeof(c.ctl));
    vcore__memcpy(&c.save, (const uint8_t *)in->vmcb12 + VCORE_VMCB_SAVE_OFFSET, sizeof(c.save));
    c.in = *in;
    c.report_all = failures != NULL;
    c.stop = false;
    c.fail = failures;
    c.cap = failures ? cap : 0u;
    c.n = 0;
    c.first.check = 0;
    c.first.pad = 0;
    c.first.value = 0;
    check_facts(&c);

    /* The groups, in table order. */
    vcore__svm_check_save(&c);
    if (!c.stop)
        vcore__svm_check_control(&c);
    if (!c.stop)
        vcore__svm_check_event(&c);
    if (!c.stop)
        vcore__svm_check_npt(&c);

    out->check = c.first.check;
    out->value = c.first.value;
    out->failures = c.report_all ? c.n : (c.first.check != 0);
    if (c.first.check == 0) {
        out->kind = VCORE_SVM_VMRUN_OK;
        out->exit_code = 0;
    } else {
        /* APM Vol. 2, "Canonicalization and Consistency Checks": "Illegal
         * guest state combinations cause a #VMEXIT with error code
         * VMEXIT_INVALID" - every row of the table has that class. */
        out->kind = VCORE_SVM_VMRUN_INVALID;
        out->exit_code = VCORE_VMEXIT_INVALID_CODE;
    }
    return VCORE_OK;
}
