/*
 * test_x86_reset.c - RESET and INIT of the x86 model (src/core/x86/reset.c),
 * field by field, for Intel and AMD/Hygon.
 *
 * Expected values: SDM Vol. 3, table "IA-32 and Intel 64 Processor States
 * Following Power-up, Reset, or INIT"; APM Vol. 2, "Processor Initialization
 * State"; the vendor encodings listed in the brief (VMX-style access rights).
 */
#include "support.h"

#include "core/x86/x86.h"

typedef struct {
    uint32_t vendor;
    uint32_t cs_ar, data_ar, tr_ar, ldtr_ar;
} vendor_case_t;

static const vendor_case_t vendors[] = {
    {VCORE_X86_VENDOR_INTEL, 0x9b, 0x93, 0x8b, 0x82},
    {VCORE_X86_VENDOR_AMD, 0x9a, 0x92, 0x83, 0x82},
    {VCORE_X86_VENDOR_HYGON, 0x9a, 0x92, 0x83, 0x82},
    {VCORE_X86_VENDOR_UNKNOWN, 0x9b, 0x93, 0x8b, 0x82},
};

static vcore_x86_cpu_model_t model_with_signature(uint32_t vendor, uint32_t sig)
{
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(vendor, &m);
    m.signature = sig;
    return m;
}

/* Everything RESET and INIT set identically. */
static void check_common(const vcore_x86_state_t *st, const vendor_case_t *v, uint32_t sig)
{
    ck_assert_uint_eq(st->regs.size, sizeof(st->regs));
    for (int i = 0; i < VCORE_X86_NR_GPRS; i++) {
        uint64_t expect = i == VCORE_X86_RDX ? sig : 0;
        ck_assert_msg(st->regs.gpr[i] == expect, "GPR %d = %#llx", i,
                      (unsigned long long)st->regs.gpr[i]);
    }
    ck_assert_uint_eq(st->regs.rip, 0xfff0);
    ck_assert_uint_eq(st->regs.rflags, 0x2);

    const vcore_x86_sregs_t *s = &st->sregs;
    ck_assert_uint_eq(s->size, sizeof(*s));
    /* CS */
    ck_assert_uint_eq(s->seg[VCORE_X86_CS].selector, 0xf000);
    ck_assert_uint_eq(s->seg[VCORE_X86_CS].base, 0xffff0000ull);
    ck_assert_uint_eq(s->seg[VCORE_X86_CS].limit, 0xffff);
    ck_assert_uint_eq(s->seg[VCORE_X86_CS].ar, v->cs_ar);
    ck_assert_uint_eq(s->seg[VCORE_X86_CS].pad, 0);
    /* data segments */
    static const int data[] = {VCORE_X86_ES, VCORE_X86_SS, VCORE_X86_DS, VCORE_X86_FS,
                               VCORE_X86_GS};
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
        const vcore_x86_segment_t *g = &s->seg[data[i]];
        ck_assert_msg(g->selector == 0 && g->base == 0 && g->limit == 0xffff && g->ar == v->data_ar &&
                          g->pad == 0,
                      "segment %d: sel %#x base %#llx limit %#x ar %#x", data[i], g->selector,
                      (unsigned long long)g->base, g->limit, g->ar);
    }
    /* LDTR, TR */
    const vcore_x86_segment_t *l = &s->seg[VCORE_X86_LDTR];
    ck_assert(l->selector == 0 && l->base == 0 && l->limit == 0xffff && l->ar == v->ldtr_ar);
    const vcore_x86_segment_t *t = &s->seg[VCORE_X86_TR];
    ck_assert(t->selector == 0 && t->base == 0 && t->limit == 0xffff);
    ck_assert_uint_eq(t->ar, v->tr_ar);
    /* descriptor tables */
    ck_assert_uint_eq(s->gdtr.base, 0);
    ck_assert_uint_eq(s->gdtr.limit, 0xffff);
    ck_assert_uint_eq(s->idtr.base, 0);
    ck_assert_uint_eq(s->idtr.limit, 0xffff);
    /* control registers other than CR0, EFER */
    ck_assert_uint_eq(s->cr2, 0);
    ck_assert_uint_eq(s->cr3, 0);
    ck_assert_uint_eq(s->cr4, 0);
    ck_assert_uint_eq(s->cr8, 0);
    ck_assert_uint_eq(s->efer, 0);
    /* debug registers */
    ck_assert_uint_eq(st->dregs.size, sizeof(st->dregs));
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(st->dregs.dr[i], 0);
    ck_assert_uint_eq(st->dregs.dr6, 0xffff0ff0ull);
    ck_assert_uint_eq(st->dregs.dr7, 0x400);
    ck_assert_uint_eq(st->fpu.size, sizeof(st->fpu));
}

START_TEST(test_reset_fields)
{
    /* _i: vendor x bsp */
    const vendor_case_t *v = &vendors[_i / 2];
    bool bsp = (_i % 2) == 0;
    vcore_x86_cpu_model_t m = model_with_signature(v->vendor, 0x000906eau);
    vcore_x86_state_t st;
    memset(&st, 0xa5, sizeof(st)); /* garbage everywhere */
    vcore__x86_reset(&st, &m, v->vendor, false, bsp);

    check_common(&st, v, 0x000906eau);
    ck_assert_uint_eq(st.sregs.cr0, 0x60000010ull);
    ck_assert_uint_eq(st.xcr0, 1);
    /* x87/SSE */
    ck_assert_uint_eq(st.fpu.fcw, 0x037f);
    ck_assert_uint_eq(st.fpu.fsw, 0);
    ck_assert_uint_eq(st.fpu.ftw, 0xffff);
    ck_assert_uint_eq(st.fpu.fop, 0);
    ck_assert_uint_eq(st.fpu.mxcsr, 0x1f80);
    ck_assert_uint_eq(st.fpu.mxcsr_mask, 0xffff);
    /* MSRs */
    ck_assert_uint_eq(st.msrs.apic_base, 0xfee00800ull | (bsp ? 0x100u : 0));
    ck_assert_uint_eq(st.msrs.pat, 0x0007040600070406ull);
    ck_assert_uint_eq(st.msrs.misc_enable, 0x1800);
    ck_assert_uint_eq(st.msrs.smbase, 0x30000);
    ck_assert_uint_eq(st.msrs.tsc, 0);
    ck_assert_uint_eq(st.msrs.sysenter_cs, 0);
    ck_assert_uint_eq(st.msrs.sysenter_esp, 0);
    ck_assert_uint_eq(st.msrs.sysenter_eip, 0);
    ck_assert_uint_eq(st.msrs.star, 0);
    ck_assert_uint_eq(st.msrs.lstar, 0);
    ck_assert_uint_eq(st.msrs.cstar, 0);
    ck_assert_uint_eq(st.msrs.sfmask, 0);
    ck_assert_uint_eq(st.msrs.kernel_gs_base, 0);
    ck_assert_uint_eq(st.msrs.tsc_aux, 0);
}
END_TEST

START_TEST(test_reset_signature_default)
{
    /* No CPUID table: the default model's signature 600H; NULL model too. */
    const vendor_case_t *v = &vendors[_i];
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(v->vendor, &m);
    vcore_x86_state_t st;
    memset(&st, 0x5a, sizeof(st));
    vcore__x86_reset(&st, &m, v->vendor, false, true);
    ck_assert_uint_eq(st.regs.gpr[VCORE_X86_RDX], 0x600);
    memset(&st, 0x5a, sizeof(st));
    vcore__x86_reset(&st, NULL, v->vendor, false, true);
    ck_assert_uint_eq(st.regs.gpr[VCORE_X86_RDX], 0x600);
    check_common(&st, v, 0x600);
}
END_TEST

/* A vCPU that has been running a 64-bit guest: every field off its RESET value. */
static vcore_x86_state_t dirty_state(uint64_t cr0_cache_bits)
{
    vcore_x86_state_t st;
    memset(&st, 0, sizeof(st));
    st.regs.size = sizeof(st.regs);
    for (int i = 0; i < VCORE_X86_NR_GPRS; i++)
        st.regs.gpr[i] = 0x1111111111111111ull * (uint64_t)(i + 1);
    st.regs.rip = 0xffffffff81000000ull;
    st.regs.rflags = 0x246;
    st.sregs.size = sizeof(st.sregs);
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++) {
        st.sregs.seg[i].base = 0xffff888000000000ull + (uint64_t)i;
        st.sregs.seg[i].limit = 0xffffffffu;
        st.sregs.seg[i].selector = (uint16_t)(0x10 + 8 * i);
        st.sregs.seg[i].ar = 0xc093;
    }
    st.sregs.gdtr.base = 0xfffffe0000001000ull;
    st.sregs.gdtr.limit = 0x7f;
    st.sregs.idtr.base = 0xfffffe0000000000ull;
    st.sregs.idtr.limit = 0xfff;
    st.sregs.cr0 = 0x80050033ull | cr0_cache_bits;
    st.sregs.cr2 = 0xdeadbeef;
    st.sregs.cr3 = 0x12345000;
    st.sregs.cr4 = 0x3606f0;
    st.sregs.cr8 = 0xf;
    st.sregs.efer = 0x1d01; /* SVME NXE LMA LME SCE */
    st.dregs.size = sizeof(st.dregs);
    for (int i = 0; i < 4; i++)
        st.dregs.dr[i] = 0x400000ull + (uint64_t)i;
    st.dregs.dr6 = 0xffff4ff1ull;
    st.dregs.dr7 = 0x7ff;
    st.fpu.size = sizeof(st.fpu);
    st.fpu.fcw = 0x027f;
    st.fpu.fsw = 0x3800;
    st.fpu.ftw = 0x00ff;
    st.fpu.fop = 0x5d9;
    st.fpu.mxcsr = 0x9fc0;
    st.fpu.mxcsr_mask = 0xffbf;
    st.xcr0 = 0x7;
    st.msrs.apic_base = 0xfee00c00ull; /* x2APIC, not BSP */
    st.msrs.pat = 0x0407050600070106ull;
    st.msrs.sysenter_cs = 0x10;
    st.msrs.sysenter_esp = 0xfffffe0000003000ull;
    st.msrs.sysenter_eip = 0xffffffff81a00000ull;
    st.msrs.star = 0x0023001000000000ull;
    st.msrs.lstar = 0xffffffff81c00000ull;
    st.msrs.cstar = 0xffffffff81c00100ull;
    st.msrs.sfmask = 0x47700;
    st.msrs.kernel_gs_base = 0x7f0012340000ull;
    st.msrs.tsc = 123456789012ull;
    st.msrs.misc_enable = 0x1801 | (1u << 18);
    st.msrs.smbase = 0xa0000;
    st.msrs.tsc_aux = 3;
    return st;
}

START_TEST(test_init_fields)
{
    /* _i: vendor x (CD|NW state: none, CD, CD|NW) */
    static const uint64_t cache[] = {0, 1ull << 30, (1ull << 30) | (1ull << 29)};
    const vendor_case_t *v = &vendors[_i / 3];
    uint64_t cd_nw = cache[_i % 3];
    vcore_x86_cpu_model_t m = model_with_signature(v->vendor, 0x00a20f12u);
    vcore_x86_state_t st = dirty_state(cd_nw);
    const vcore_x86_state_t before = st;

    vcore__x86_reset(&st, &m, v->vendor, true, true);
    check_common(&st, v, 0x00a20f12u);
    /* CR0: ET plus the old CD/NW, everything else cleared. */
    ck_assert_uint_eq(st.sregs.cr0, 0x10 | cd_nw);
    /* Kept: XCR0, x87/SSE state, every MSR (BSP argument ignored). */
    ck_assert_uint_eq(st.xcr0, before.xcr0);
    ck_assert(memcmp(&st.fpu, &before.fpu, sizeof(st.fpu)) == 0);
    ck_assert(memcmp(&st.msrs, &before.msrs, sizeof(st.msrs)) == 0);
    ck_assert_uint_eq(st.msrs.apic_base, 0xfee00c00ull);
    /* Cleared with the segments / system state: FS/GS bases, EFER (SVME too). */
    ck_assert_uint_eq(st.sregs.seg[VCORE_X86_FS].base, 0);
    ck_assert_uint_eq(st.sregs.seg[VCORE_X86_GS].base, 0);
    ck_assert_uint_eq(st.sregs.efer, 0);
}
END_TEST

START_TEST(test_init_after_reset_bsp_bit)
{
    /* RESET sets BSP only for the boot vCPU; INIT never changes it. */
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(VCORE_X86_VENDOR_INTEL, &m);
    vcore_x86_state_t ap, bsp;
    memset(&ap, 0, sizeof(ap));
    memset(&bsp, 0, sizeof(bsp));
    vcore__x86_reset(&ap, &m, VCORE_X86_VENDOR_INTEL, false, false);
    vcore__x86_reset(&bsp, &m, VCORE_X86_VENDOR_INTEL, false, true);
    ck_assert_uint_eq(ap.msrs.apic_base & 0x100, 0);
    ck_assert_uint_eq(bsp.msrs.apic_base & 0x100, 0x100);
    vcore__x86_reset(&ap, &m, VCORE_X86_VENDOR_INTEL, true, true);
    vcore__x86_reset(&bsp, &m, VCORE_X86_VENDOR_INTEL, true, false);
    ck_assert_uint_eq(ap.msrs.apic_base & 0x100, 0);
    ck_assert_uint_eq(bsp.msrs.apic_base & 0x100, 0x100);
    /* INIT right after RESET: CR0 keeps CD|NW from RESET, so it stays 60000010H. */
    ck_assert_uint_eq(bsp.sregs.cr0, 0x60000010ull);
}
END_TEST

START_TEST(test_reset_clears_init_kept_state)
{
    /* RESET after a dirty run resets what INIT would keep. */
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(VCORE_X86_VENDOR_AMD, &m);
    vcore_x86_state_t st = dirty_state(1ull << 30);
    vcore__x86_reset(&st, &m, VCORE_X86_VENDOR_AMD, false, false);
    ck_assert_uint_eq(st.sregs.cr0, 0x60000010ull);
    ck_assert_uint_eq(st.xcr0, 1);
    ck_assert_uint_eq(st.fpu.fcw, 0x037f);
    ck_assert_uint_eq(st.fpu.ftw, 0xffff);
    ck_assert_uint_eq(st.fpu.fsw, 0);
    ck_assert_uint_eq(st.fpu.fop, 0);
    ck_assert_uint_eq(st.fpu.mxcsr, 0x1f80);
    ck_assert_uint_eq(st.msrs.apic_base, 0xfee00800ull);
    ck_assert_uint_eq(st.msrs.tsc, 0);
    ck_assert_uint_eq(st.msrs.smbase, 0x30000);
    ck_assert_uint_eq(st.msrs.misc_enable, 0x1800);
    ck_assert_uint_eq(st.msrs.lstar, 0);
    ck_assert_uint_eq(st.msrs.kernel_gs_base, 0);
    ck_assert_uint_eq(st.msrs.pat, 0x0007040600070406ull);
}
END_TEST

START_TEST(test_reset_state_passes_validators)
{
    /* The RESET state must be accepted by the model's own checks. */
    const vendor_case_t *v = &vendors[_i];
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(v->vendor, &m);
    vcore_x86_state_t st;
    memset(&st, 0, sizeof(st));
    vcore__x86_reset(&st, &m, v->vendor, false, true);
    ck_assert_int_eq(vcore__x86_check_regs(&st.regs, NULL), VCORE_OK);
    ck_assert_int_eq(vcore__x86_check_sregs(&m, &st.sregs, &st.sregs, NULL), VCORE_OK);
    ck_assert_int_eq(vcore__x86_check_dregs(&m, &st.dregs, NULL), VCORE_OK);
    ck_assert_int_eq(vcore__x86_check_fpu(&st.fpu, NULL), VCORE_OK);
    ck_assert_int_eq(vcore__x86_check_xcr0(&m, st.xcr0, NULL), VCORE_OK);
}
END_TEST

START_TEST(test_reset_null_state)
{
    vcore__x86_reset(NULL, NULL, VCORE_X86_VENDOR_INTEL, false, true); /* must not crash */
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *x86_reset_suite(void)
{
    Suite *s = suite_create("x86_reset");
    TCase *tc = tcase_create("reset");
    tcase_add_loop_test(tc, test_reset_fields, 0, 2 * N(vendors));
    tcase_add_loop_test(tc, test_reset_signature_default, 0, N(vendors));
    tcase_add_test(tc, test_reset_clears_init_kept_state);
    tcase_add_loop_test(tc, test_reset_state_passes_validators, 0, N(vendors));
    tcase_add_test(tc, test_reset_null_state);
    suite_add_tcase(s, tc);
    tc = tcase_create("init");
    tcase_add_loop_test(tc, test_init_fields, 0, 3 * N(vendors));
    tcase_add_test(tc, test_init_after_reset_bsp_bit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(x86_reset_suite());
}
