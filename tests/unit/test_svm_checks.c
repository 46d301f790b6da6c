/* VMRUN consistency checks: one test per rule of APM Vol. 2, "Canonicalization
 * and Consistency Checks", "Event Injection" and "Nested Paging and
 * VMRUN/#VMEXIT", each with the failing value and the nearest legal one. The
 * expected verdicts come from the APM's text, never from running the code. */
#include "support.h"

#include <string.h>
#include <virtcore/x86/svm_checks.h>

/* L1: an AMD64 processor whose CPUID enumerates long mode, NX, SYSCALL,
 * FFXSR, SVM, XSAVE, FSGSBASE, SMEP, SMAP, UMIP - and neither PCID, PKU,
 * CET, LA57 nor SEV. */
static const vcore_cpuid_entry_t l1_cpuid[] = {
    {0x00000000u, 0, 0, 0x0000000du, 0x68747541u, 0x444d4163u, 0x69746e65u}, /* AuthenticAMD */
    {0x00000001u, 0, 0, 0x00800f11u, 0, (1u << 26), 0x178bfbffu},          /* XSAVE */
    {0x00000007u, 0, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0, (1u << 0) | (1u << 7) | (1u << 20),
     (1u << 2), 0},                                                          /* FSGSBASE SMEP SMAP UMIP */
    {0x80000000u, 0, 0, 0x8000001fu, 0, 0, 0},
    {0x80000001u, 0, 0, 0, (1u << 2), 0, (1u << 29) | (1u << 20) | (1u << 11) | (1u << 25)},
    {0x80000008u, 0, 0, 0x00003030u, 0, 0, 0},
    {0x8000000au, 0, 0, 1, 0x10, 0, 0x0000003fu},
};
#define NCPUID (sizeof(l1_cpuid) / sizeof(l1_cpuid[0]))

#define MAXPHY 40u
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define EFER_SVME (1ull << 12)
#define EFER_FFXSR (1ull << 14)
#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)

static vcore_vmcb_t vmcb;
static vcore_cpuid_entry_t cpuid[16];
static uint32_t ncpuid;
static uint32_t features;
static uint64_t l1_efer;

/* A legal 64-bit guest: long mode, flat segments, maps inside MAXPHYADDR. */
static void setup(void)
{
    memset(&vmcb, 0, sizeof(vmcb));
    vcore_vmcb_control_t *c = &vmcb.control;
    vcore_vmcb_save_t *s = &vmcb.save;
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_VMRUN, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_HLT, true);
    c->iopm_base_pa = 0x100000;
    c->msrpm_base_pa = 0x104000;
    c->asid = 1;
    s->efer = EFER_SVME | EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    s->cr0 = CR0_PG | CR0_NE | CR0_ET | CR0_PE;
    s->cr3 = 0x1000;
    s->cr4 = CR4_PAE;
    s->dr6 = 0xffff0ff0;
    s->dr7 = 0x400;
    s->rflags = 2;
    s->cs.attrib = VCORE_VMCB_ATTR_P | VCORE_VMCB_ATTR_S | VCORE_VMCB_ATTR_L | 0xb;
    s->ss.attrib = VCORE_VMCB_ATTR_P | VCORE_VMCB_ATTR_S | 0x3;
    s->g_pat = 0x0007040600070406ull;
    memcpy(cpuid, l1_cpuid, sizeof(l1_cpuid));
    ncpuid = (uint32_t)NCPUID;
    features = VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS;
    l1_efer = EFER_SVME | EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
}

static vcore_svm_check_input_t input(void)
{
    vcore_svm_check_input_t in;
    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.vmcb12 = &vmcb;
    in.svm_features = features;
    in.maxphyaddr = MAXPHY;
    in.l1_efer = l1_efer;
    in.cpuid = cpuid;
    in.ncpuid = ncpuid;
    return in;
}

/* The verdict (its deciding check id; 0 when VMRUN would enter). */
static uint32_t verdict(void)
{
    vcore_svm_check_input_t in = input();
    vcore_svm_verdict_t out = {.size = sizeof(out)};
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_OK);
    if (out.check == 0) {
        ck_assert_uint_eq(out.kind, VCORE_SVM_VMRUN_OK);
        ck_assert_uint_eq(out.exit_code, 0);
        ck_assert_uint_eq(out.failures, 0);
    } else {
        ck_assert_uint_eq(out.kind, VCORE_SVM_VMRUN_INVALID);
        ck_assert_uint_eq(out.exit_code, 0xffffffffffffffffull);
        ck_assert_uint_eq(out.failures, 1);
    }
    return out.check;
}

/* The whole failing set in report-all mode, as a bit set of table rows. */
static uint32_t fail_count(uint32_t *first)
{
    vcore_svm_check_input_t in = input();
    vcore_svm_verdict_t out = {.size = sizeof(out)};
    vcore_svm_check_failure_t f[32];
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, f, 32), VCORE_OK);
    if (out.failures)
        ck_assert_uint_eq(f[0].check, out.check);
    *first = out.check;
    return out.failures;
}

#define OK() ck_assert_msg(verdict() == 0, "expected VMRUN to enter, check %#x failed", verdict())
#define FAILS(id) ck_assert_msg(verdict() == VCORE_SVM_CHECK_##id, "expected " #id ", got %#x", verdict())

START_TEST(baseline_enters)
{
    OK();
    /* a 32-bit protected-mode guest, a real-mode guest, paged legacy modes */
    vmcb.save.efer = EFER_SVME;
    vmcb.save.cr0 = CR0_PE | CR0_ET;
    vmcb.save.cr4 = 0;
    vmcb.save.cs.attrib = VCORE_VMCB_ATTR_P | VCORE_VMCB_ATTR_S | VCORE_VMCB_ATTR_DB | 0xb;
    OK();
    vmcb.save.cr0 = CR0_ET;
    OK();
    vmcb.save.cr0 = CR0_PG | CR0_PE;
    vmcb.save.cr4 = CR4_PAE;
    OK();
    vmcb.save.cr4 = 0;
    OK();
}
END_TEST

/* "EFER.SVME is zero." */
START_TEST(efer_svme)
{
    vmcb.save.efer &= ~EFER_SVME;
    FAILS(EFER_SVME);
    vmcb.save.efer = EFER_SVME;
    vmcb.save.cr0 = CR0_PE;
    OK();
}
END_TEST

/* "CR0.CD is zero and CR0.NW is set." */
START_TEST(cr0_cd_nw)
{
    vmcb.save.cr0 |= CR0_NW;
    FAILS(CR0_CD_NW);
    vmcb.save.cr0 |= CR0_CD;
    OK();
    vmcb.save.cr0 &= ~CR0_NW;
    OK();
}
END_TEST

/* "CR0[63:32] are not zero." The other reserved CR0 bits are not on the list. */
START_TEST(cr0_high)
{
    vmcb.save.cr0 |= 1ull << 32;
    FAILS(CR0_HIGH);
    vmcb.save.cr0 ^= (1ull << 32) | (1ull << 63);
    FAILS(CR0_HIGH);
    vmcb.save.cr0 &= 0xffffffffull;
    vmcb.save.cr0 |= (1ull << 28) | (1ull << 17) | (1ull << 6);
    OK();
}
END_TEST

/* "Any MBZ bit of CR3 is set": long mode limits CR3 to MAXPHYADDR and 63:52. */
START_TEST(cr3_mbz)
{
    vmcb.save.cr3 = 1ull << MAXPHY;
    FAILS(CR3_MBZ);
    vmcb.save.cr3 = 1ull << 52;
    FAILS(CR3_MBZ);
    vmcb.save.cr3 = 1ull << 63;
    FAILS(CR3_MBZ);
    vmcb.save.cr3 = (1ull << MAXPHY) - 0x1000 + 0x18; /* highest table, PWT/PCD */
    OK();
    vmcb.save.cr3 = 0xfff;
    OK();
    /* legacy PAE and non-PAE paging: a 32-bit CR3 has no MBZ bits */
    vmcb.save.cr3 = 1ull << MAXPHY;
    vmcb.save.efer = EFER_SVME;
    OK();
    vmcb.save.cr4 = 0;
    OK();
    /* LME without paging is not long mode yet */
    vmcb.save.efer = EFER_SVME | EFER_LME;
    vmcb.save.cr0 &= ~CR0_PG;
    vmcb.save.cr3 = ~0ull;
    OK();
}
END_TEST

/* "Any MBZ bit of CR4 is set": bits 63:32. */
START_TEST(cr4_high)
{
    vmcb.save.cr4 |= 1ull << 32;
    FAILS(CR4_HIGH);
    vmcb.save.cr4 = CR4_PAE | (1ull << 63);
    FAILS(CR4_HIGH);
}
END_TEST

/* "Any MBZ bit of CR4 is set": reserved bits and features L1 lacks. */
START_TEST(cr4_unsupported)
{
    /* PCIDE (17) without CPUID.1:ECX.PCID */
    vmcb.save.cr4 |= 1ull << 17;
    FAILS(CR4_UNSUPPORTED);
    cpuid[1].ecx |= 1u << 17;
    OK();
    /* bit 15 is reserved everywhere; VMXE (13) is not an AMD feature */
    vmcb.save.cr4 = CR4_PAE | (1ull << 15);
    FAILS(CR4_UNSUPPORTED);
    vmcb.save.cr4 = CR4_PAE | (1ull << 13);
    FAILS(CR4_UNSUPPORTED);
    /* PKE (22) without PKU, LA57 (12) without it */
    vmcb.save.cr4 = CR4_PAE | (1ull << 22);
    FAILS(CR4_UNSUPPORTED);
    vmcb.save.cr4 = CR4_PAE | (1ull << 12);
    FAILS(CR4_UNSUPPORTED);
    /* enumerated features: OSXSAVE (XSAVE), FSGSBASE, SMEP, SMAP, UMIP, and the always-present bits */
    vmcb.save.cr4 = CR4_PAE | (1ull << 18) | (1ull << 16) | (1ull << 20) | (1ull << 21) | (1ull << 11) |
                    0x7dfull;
    OK();
    /* without a table: the baseline has no XSAVE */
    ncpuid = 0;
    FAILS(CR4_UNSUPPORTED);
    vmcb.save.cr4 = CR4_PAE | 0x7dfull;
    OK();
}
END_TEST

/* "DR6[63:32] are not zero." / "DR7[63:32] are not zero." */
START_TEST(dr6_dr7_high)
{
    vmcb.save.dr6 |= 1ull << 32;
    FAILS(DR6_HIGH);
    vmcb.save.dr6 = 0xffffffffull; /* bits 31:0 are not on the list */
    OK();
    vmcb.save.dr7 |= 1ull << 63;
    FAILS(DR7_HIGH);
    vmcb.save.dr7 = 0xffffffffull;
    OK();
}
END_TEST

/* "Any MBZ bit of EFER is set." */
START_TEST(efer_mbz)
{
    vmcb.save.efer |= 1ull << 1;
    FAILS(EFER_MBZ);
    vmcb.save.efer ^= (1ull << 1) | (1ull << 9);
    FAILS(EFER_MBZ);
    vmcb.save.efer ^= (1ull << 9) | (1ull << 63);
    FAILS(EFER_MBZ);
    vmcb.save.efer &= ~(1ull << 63);
    /* LMSLE (13) is not offered; FFXSR is (CPUID.80000001H:EDX[25]) */
    vmcb.save.efer |= 1ull << 13;
    FAILS(EFER_MBZ);
    vmcb.save.efer ^= (1ull << 13) | EFER_FFXSR;
    OK();
    /* NXE without NX */
    cpuid[4].edx &= ~(1u << 20);
    FAILS(EFER_MBZ);
    vmcb.save.efer &= ~EFER_NXE;
    OK();
}
END_TEST

/* "EFER.LMA or EFER.LME is non-zero and this processor does not support long mode." */
START_TEST(efer_long_mode_unsupported)
{
    cpuid[4].edx &= ~(1u << 29);
    FAILS(EFER_LONG_MODE_UNSUPPORTED);
    /* only LMA */
    vmcb.save.efer = EFER_SVME | EFER_LMA;
    vmcb.save.cr0 = CR0_PE;
    vmcb.save.cr4 = 0;
    FAILS(EFER_LONG_MODE_UNSUPPORTED);
    vmcb.save.efer = EFER_SVME;
    OK();
    /* with long mode, LME alone (paging off) is legal */
    cpuid[4].edx |= 1u << 29;
    vmcb.save.efer = EFER_SVME | EFER_LME;
    OK();
}
END_TEST

/* "EFER.LME and CR0.PG are both set and CR4.PAE is zero." */
START_TEST(lme_pg_no_pae)
{
    vmcb.save.cr4 &= ~CR4_PAE;
    FAILS(LME_PG_NO_PAE);
    vmcb.save.cr0 &= ~CR0_PG;
    OK();
    vmcb.save.cr0 |= CR0_PG;
    vmcb.save.efer &= ~(EFER_LME | EFER_LMA);
    OK();
}
END_TEST

/* "EFER.LME and CR0.PG are both non-zero and CR0.PE is zero." */
START_TEST(lme_pg_no_pe)
{
    vmcb.save.cr0 &= ~CR0_PE;
    FAILS(LME_PG_NO_PE);
    /* paging without protection outside long mode is not on the list */
    vmcb.save.efer = EFER_SVME;
    OK();
}
END_TEST

/* "EFER.LME, CR0.PG, CR4.PAE, CS.L, and CS.D are all non-zero." */
START_TEST(long_cs_l_d)
{
    vmcb.save.cs.attrib |= VCORE_VMCB_ATTR_DB;
    FAILS(LONG_CS_L_D);
    vmcb.save.cs.attrib &= ~VCORE_VMCB_ATTR_L;
    OK(); /* compatibility mode */
    vmcb.save.cs.attrib |= VCORE_VMCB_ATTR_L;
    vmcb.save.efer = EFER_SVME; /* legacy mode: L and D mean nothing here */
    OK();
    vmcb.save.efer = EFER_SVME | EFER_LME;
    vmcb.save.cr0 &= ~CR0_PG;
    OK();
    /* LME + PG without PAE fails for PAE, not for CS */
    vmcb.save.cr0 |= CR0_PG;
    vmcb.save.cr4 = 0;
    uint32_t first;
    ck_assert_uint_eq(fail_count(&first), 1);
    ck_assert_uint_eq(first, VCORE_SVM_CHECK_LME_PG_NO_PAE);
}
END_TEST

/* "The VMRUN intercept bit is clear." */
START_TEST(vmrun_intercept)
{
    vcore_vmcb_intercept_set(&vmcb.control, VCORE_VMCB_INTERCEPT_VMRUN, false);
    FAILS(VMRUN_INTERCEPT);
    /* every other intercept set does not help */
    for (uint32_t w = 0; w < 6; w++)
        vmcb.control.intercept[w] = ~0u;
    vcore_vmcb_intercept_set(&vmcb.control, VCORE_VMCB_INTERCEPT_VMRUN, false);
    FAILS(VMRUN_INTERCEPT);
    vcore_vmcb_intercept_set(&vmcb.control, VCORE_VMCB_INTERCEPT_VMRUN, true);
    OK();
}
END_TEST

/* "The MSR or IOIO intercept tables extend to a physical address that is
 * greater than or equal to the maximum supported physical address": the
 * MSRPM is 8 KiB, the IOPM 12 KiB; bits 11:0 of the bases are ignored. */
START_TEST(msrpm_range)
{
    const uint64_t top = 1ull << MAXPHY;
    vmcb.control.msrpm_base_pa = top - 0x2000;
    OK();
    vmcb.control.msrpm_base_pa = top - 0x2000 + 0xfff;
    OK();
    vmcb.control.msrpm_base_pa = top - 0x1000;
    FAILS(MSRPM_RANGE);
    vmcb.control.msrpm_base_pa = top;
    FAILS(MSRPM_RANGE);
    vmcb.control.msrpm_base_pa = 0xfffffffffffff000ull; /* base + size wraps 2^64 */
    FAILS(MSRPM_RANGE);
    vmcb.control.msrpm_base_pa = 0;
    OK();
}
END_TEST

START_TEST(iopm_range)
{
    const uint64_t top = 1ull << MAXPHY;
    vmcb.control.iopm_base_pa = top - 0x3000;
    OK();
    vmcb.control.iopm_base_pa = top - 0x3000 + 0xabc;
    OK();
    vmcb.control.iopm_base_pa = top - 0x2000; /* the third page would cross */
    FAILS(IOPM_RANGE);
    vmcb.control.iopm_base_pa = ~0ull;
    FAILS(IOPM_RANGE);
}
END_TEST

/* "ASID is equal to zero." */
START_TEST(asid_zero)
{
    vmcb.control.asid = 0;
    FAILS(ASID_ZERO);
    vmcb.control.asid = 0xffffffffu;
    OK();
}
END_TEST

/* "Reserved values of TYPE have been specified." */
START_TEST(eventinj_type)
{
    for (uint32_t type = 0; type < 8; type++) {
        vmcb.control.event_inj = VCORE_VMCB_EVENT_V | ((uint64_t)type << 8) | 13;
        if (type == 1 || type >= 5)
            FAILS(EVENTINJ_TYPE);
        else
            OK();
    }
    /* not valid: nothing is looked at */
    vmcb.control.event_inj = (7ull << 8) | 2;
    OK();
}
END_TEST

/* "TYPE = 3 (exception) has been specified with a vector that does not
 * correspond to an exception (this includes vector 2 ...)". */
START_TEST(eventinj_vector)
{
    /* AMD64 exceptions, and #SX (30) which SVM defines */
    static const uint8_t ok[] = {0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 30};
    static const uint8_t bad[] = {2, 9, 15, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31, 32, 0x80, 0xff};
    for (size_t i = 0; i < sizeof(ok); i++) {
        vmcb.control.event_inj = vcore_vmcb_event(ok[i], VCORE_VMCB_EVENT_TYPE_EXCEPTION, false, 0);
        ck_assert_msg(verdict() == 0, "vector %u", ok[i]);
    }
    for (size_t i = 0; i < sizeof(bad); i++) {
        vmcb.control.event_inj = vcore_vmcb_event(bad[i], VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0);
        ck_assert_msg(verdict() == VCORE_SVM_CHECK_EVENTINJ_VECTOR, "vector %u", bad[i]);
    }
    /* feature vectors: #CP with CET, #VC with SEV-ES, #HV with SEV-SNP */
    cpuid[2].ecx |= 1u << 7;
    vmcb.control.event_inj = vcore_vmcb_event(21, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0);
    OK();
    cpuid[ncpuid++] = (vcore_cpuid_entry_t){0x8000001fu, 0, 0, (1u << 3), 0, 0, 0};
    vmcb.control.event_inj = vcore_vmcb_event(29, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0);
    OK();
    vmcb.control.event_inj = vcore_vmcb_event(28, VCORE_VMCB_EVENT_TYPE_EXCEPTION, false, 0);
    FAILS(EVENTINJ_VECTOR);
    cpuid[ncpuid - 1].eax |= 1u << 4;
    OK();
    /* other types take any vector; the NMI's vector is ignored */
    vmcb.control.event_inj = vcore_vmcb_event(2, VCORE_VMCB_EVENT_TYPE_INTR, false, 0);
    OK();
    vmcb.control.event_inj = vcore_vmcb_event(0x77, VCORE_VMCB_EVENT_TYPE_NMI, false, 0);
    OK();
    vmcb.control.event_inj = vcore_vmcb_event(9, VCORE_VMCB_EVENT_TYPE_SOFT_INT, false, 0);
    OK();
}
END_TEST

/* "Any MBZ bit of nCR3 is set" (nested paging, long-mode host). */
START_TEST(ncr3_mbz)
{
    vmcb.control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    vmcb.control.n_cr3 = (1ull << MAXPHY) - 0x1000;
    OK();
    vmcb.control.n_cr3 = 1ull << MAXPHY;
    FAILS(NCR3_MBZ);
    vmcb.control.n_cr3 = (1ull << 52) | 0x1000;
    FAILS(NCR3_MBZ);
    /* nested paging off, or absent from L1's SVM features: no rule */
    vmcb.control.nested_ctl = 0;
    OK();
    vmcb.control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    features &= ~VCORE_SVM_FEAT_NP;
    OK();
    /* a legacy-mode host: a 32-bit nCR3 format without MBZ bits */
    features |= VCORE_SVM_FEAT_NP;
    l1_efer = EFER_SVME;
    OK();
}
END_TEST

/* "Any G_PAT.PA field has an unsupported type encoding or any reserved
 * field in G_PAT has a nonzero value." */
START_TEST(g_pat_invalid)
{
    vmcb.control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    vmcb.save.g_pat = 0x0706050401000706ull; /* every supported type */
    OK();
    for (unsigned byte = 0; byte < 8; byte++) {
        static const uint8_t bad[] = {2, 3, 8, 0x86, 0xff};
        for (size_t i = 0; i < sizeof(bad); i++) {
            vmcb.save.g_pat = 0x0606060606060606ull & ~(0xffull << (8 * byte));
            vmcb.save.g_pat |= (uint64_t)bad[i] << (8 * byte);
            ck_assert_msg(verdict() == VCORE_SVM_CHECK_G_PAT_INVALID, "byte %u value %#x", byte, bad[i]);
        }
    }
    /* without nested paging G_PAT is not used */
    vmcb.control.nested_ctl = 0;
    OK();
}
END_TEST

/* Report-all: every failure in table order; the verdict is the first. */
START_TEST(report_all)
{
    vmcb.save.efer = EFER_LME | EFER_LMA | (1ull << 1);   /* EFER_SVME, EFER_MBZ */
    vmcb.save.cr0 = CR0_PG | CR0_NW | (1ull << 40);       /* CR0_CD_NW, CR0_HIGH, LME_PG_NO_PE */
    vmcb.save.cr4 = 0;                                     /* LME_PG_NO_PAE */
    vmcb.control.asid = 0;                                 /* ASID_ZERO */
    vmcb.control.event_inj = vcore_vmcb_event(2, 3, false, 0); /* EVENTINJ_VECTOR */
    vcore_svm_check_input_t in = input();
    vcore_svm_verdict_t out = {.size = sizeof(out)};
    vcore_svm_check_failure_t f[16];
    memset(f, 0xee, sizeof(f));
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, f, 16), VCORE_OK);
    static const uint32_t want[] = {
        VCORE_SVM_CHECK_EFER_SVME, VCORE_SVM_CHECK_CR0_CD_NW,    VCORE_SVM_CHECK_CR0_HIGH,
        VCORE_SVM_CHECK_EFER_MBZ,  VCORE_SVM_CHECK_LME_PG_NO_PAE, VCORE_SVM_CHECK_LME_PG_NO_PE,
        VCORE_SVM_CHECK_ASID_ZERO, VCORE_SVM_CHECK_EVENTINJ_VECTOR,
    };
    ck_assert_uint_eq(out.failures, 8);
    for (uint32_t i = 0; i < 8; i++) {
        ck_assert_uint_eq(f[i].check, want[i]);
        ck_assert_uint_eq(f[i].pad, 0);
    }
    ck_assert_uint_eq(f[0].value, vmcb.save.efer);
    ck_assert_uint_eq(f[2].value, vmcb.save.cr0);
    ck_assert_uint_eq(f[8].check, 0xeeeeeeeeu); /* nothing written past the failures */
    ck_assert_uint_eq(out.check, VCORE_SVM_CHECK_EFER_SVME);
    ck_assert_uint_eq(out.kind, VCORE_SVM_VMRUN_INVALID);
    /* a small array: the count still covers every failure */
    vcore_svm_check_failure_t g[4];
    memset(g, 0xee, sizeof(g));
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, g, 3), VCORE_OK);
    ck_assert_uint_eq(out.failures, 8);
    ck_assert_uint_eq(g[2].check, VCORE_SVM_CHECK_CR0_HIGH);
    ck_assert_uint_eq(g[3].check, 0xeeeeeeeeu); /* the capacity is respected */
    /* capacity 0 with an array: count only */
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, g, 0), VCORE_OK);
    ck_assert_uint_eq(out.failures, 8);
    ck_assert_uint_eq(out.check, VCORE_SVM_CHECK_EFER_SVME);
    /* verdict mode stops at the first and says so */
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(out.failures, 1);
    ck_assert_uint_eq(out.value, vmcb.save.efer);
}
END_TEST

START_TEST(input_validation)
{
    vcore_svm_check_input_t in = input();
    vcore_svm_verdict_t out = {.size = sizeof(out)};
    ck_assert_int_eq(vcore_svm_check_vmrun(NULL, &out, NULL, 0), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, NULL, NULL, 0), VCORE_ERR_INVAL);
    in.size = 8;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_ERR_ABI);
    in = input();
    out.size = 4;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_ERR_ABI);
    out.size = sizeof(out);
    in.vmcb12 = NULL;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_ERR_INVAL);
    in = input();
    in.maxphyaddr = 31;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_ERR_INVAL);
    in.maxphyaddr = 53;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_ERR_INVAL);
    in.maxphyaddr = 52;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_OK);
    in.maxphyaddr = 32;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_OK);
    in = input();
    in.cpuid = NULL;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_ERR_INVAL);
    in.ncpuid = 0;
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, NULL, 0), VCORE_OK);
}
END_TEST

/* The checks read a copy and never write the caller's VMCB. */
START_TEST(vmcb_not_written)
{
    static vcore_vmcb_t before;
    vmcb.control.asid = 0;
    memcpy(&before, &vmcb, sizeof(vmcb));
    vcore_svm_check_failure_t f[8];
    vcore_svm_check_input_t in = input();
    vcore_svm_verdict_t out = {.size = sizeof(out)};
    ck_assert_int_eq(vcore_svm_check_vmrun(&in, &out, f, 8), VCORE_OK);
    ck_assert_int_eq(memcmp(&before, &vmcb, sizeof(vmcb)), 0);
}
END_TEST

START_TEST(table)
{
    uint32_t n = vcore_svm_check_count();
    ck_assert_uint_eq(n, 21);
    for (uint32_t i = 0; i < n; i++) {
        vcore_svm_check_info_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
        uint32_t id = 0;
        ck_assert_int_eq(vcore_svm_check_at(i, &a), VCORE_OK);
        ck_assert_uint_ge(a.id, 0x5000);
        ck_assert_uint_le(a.id, 0x5fff);
        ck_assert_uint_eq(a.cls, VCORE_SVM_CLASS_VMEXIT_INVALID);
        ck_assert_str_eq(a.cls_name, "VMEXIT_INVALID");
        ck_assert_int_eq(vcore_svm_check_describe(a.id, &b), VCORE_OK);
        ck_assert_str_eq(a.name, b.name);
        ck_assert_int_eq(vcore_svm_check_by_name(a.name, &id), VCORE_OK);
        ck_assert_uint_eq(id, a.id);
        ck_assert(strlen(a.message) > 10);
        ck_assert(strcmp(a.manual, "Canonicalization and Consistency Checks") == 0 ||
                  strcmp(a.manual, "Event Injection") == 0 ||
                  strcmp(a.manual, "Nested Paging and VMRUN/#VMEXIT") == 0);
        for (uint32_t j = 0; j < i; j++) {
            vcore_svm_check_info_t c = {.size = sizeof(c)};
            ck_assert_int_eq(vcore_svm_check_at(j, &c), VCORE_OK);
            ck_assert_uint_ne(c.id, a.id);
            ck_assert_str_ne(c.name, a.name);
        }
        /* every check is a diagnostic that cites the APM */
        vcore_diag_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_diag_describe(a.id, &d), VCORE_OK);
        ck_assert_str_eq(d.name, a.name);
        ck_assert_ptr_nonnull(strstr(d.manual, "APM Vol. 2"));
    }
    vcore_svm_check_info_t x = {.size = sizeof(x)};
    uint32_t id;
    ck_assert_int_eq(vcore_svm_check_at(n, &x), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_svm_check_describe(0x5fff, &x), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_svm_check_describe(0, &x), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_svm_check_by_name("ASID", &id), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_svm_check_by_name(NULL, &id), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_svm_check_by_name("ASID_ZERO", NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_svm_check_at(0, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_svm_check_describe(0x5000, NULL), VCORE_ERR_INVAL);
    x.size = 3;
    ck_assert_int_eq(vcore_svm_check_at(0, &x), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_svm_check_describe(0x5000, &x), VCORE_ERR_ABI);
    ck_assert_str_eq(vcore_svm_check_class_name(VCORE_SVM_CLASS_VMEXIT_INVALID), "VMEXIT_INVALID");
    ck_assert_ptr_null(vcore_svm_check_class_name(0));
    ck_assert_ptr_null(vcore_svm_check_class_name(2));
}
END_TEST

static Suite *svm_checks_suite(void)
{
    Suite *s = suite_create("svm_checks");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, baseline_enters);
    tcase_add_test(tc, efer_svme);
    tcase_add_test(tc, cr0_cd_nw);
    tcase_add_test(tc, cr0_high);
    tcase_add_test(tc, cr3_mbz);
    tcase_add_test(tc, cr4_high);
    tcase_add_test(tc, cr4_unsupported);
    tcase_add_test(tc, dr6_dr7_high);
    tcase_add_test(tc, efer_mbz);
    tcase_add_test(tc, efer_long_mode_unsupported);
    tcase_add_test(tc, lme_pg_no_pae);
    tcase_add_test(tc, lme_pg_no_pe);
    tcase_add_test(tc, long_cs_l_d);
    tcase_add_test(tc, vmrun_intercept);
    tcase_add_test(tc, msrpm_range);
    tcase_add_test(tc, iopm_range);
    tcase_add_test(tc, asid_zero);
    tcase_add_test(tc, eventinj_type);
    tcase_add_test(tc, eventinj_vector);
    tcase_add_test(tc, ncr3_mbz);
    tcase_add_test(tc, g_pat_invalid);
    tcase_add_test(tc, report_all);
    tcase_add_test(tc, input_validation);
    tcase_add_test(tc, vmcb_not_written);
    tcase_add_test(tc, table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(svm_checks_suite());
}
