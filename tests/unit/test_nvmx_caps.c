/* Capability MSRs exposed to L1: intersection (Bochs corei7_skylake_x
 * fixture), consistency rules, override toward fewer features, RDMSR/WRMSR. */
#include "support.h"
#include "test_nvmx_fixture.h"

/* corei7_skylake_x, read inside Bochs (reference/emulators.md). */
static const uint64_t bochs[18] = {
    0x00d810000000002bull, 0x0000007f00000016ull, 0xf7f9fffe0401e172ull, 0x007fffff00036dffull,
    0x0000ffff000011ffull, 0x00000000600401e0ull, 0x0000000080000021ull, 0x00000000ffffffffull,
    0x0000000000002000ull, 0x00000000003727ffull, 0x0000000000000034ull, 0x02177fff00000000ull,
    0x00000f0106334141ull, 0x0000007f00000016ull, 0xf7f9fffe04006172ull, 0x007fffff00036dfbull,
    0x0000ffff000011fbull, 0x0000000000000001ull,
};

static void bochs_caps(vcore_nvmx_caps_t *c)
{
    c->size = sizeof(*c);
    memcpy(c->msr, bochs, sizeof(bochs));
}

static void l1_caps(vcore_nvmx_caps_t *out)
{
    vcore_nvmx_caps_t b, e;
    bochs_caps(&b);
    fx_caps(&e);
    out->size = sizeof(*out);
    ck_assert_int_eq(vcore_nvmx_caps_intersect(&b, &e, out), VCORE_OK);
}

START_TEST(bochs_is_consistent)
{
    vcore_nvmx_caps_t b;
    vcore_diag_t d = {.size = sizeof(d)};
    bochs_caps(&b);
    ck_assert_int_eq(vcore_nvmx_caps_check(&b, &d), VCORE_OK);
    fx_caps(&b);
    ck_assert_int_eq(vcore_nvmx_caps_check(&b, &d), VCORE_OK);
}
END_TEST

START_TEST(intersect_with_bochs)
{
    static const uint64_t want[18] = {
        0x00d8100011e57ed0ull, /* vmcs12 revision, WB, INS/OUTS, TRUE; no any-error-code */
        0x0000007f00000016ull, 0xf7f9fffe0401e172ull, 0x007fffff00036dffull,
        0x0000f3ff000011ffull, /* no SMM entry / dual-monitor deactivation */
        0x00000000600401e0ull, 0x0000000080000021ull, 0x00000000ffffffffull,
        0x0000000000002000ull, 0x00000000003727ffull, 0x0000000000000034ull,
        0x02137fff00000000ull, /* no EPT-violation #VE */
        0x00000f0106334141ull, 0x0000007f00000016ull, 0xf7f9fffe04006172ull,
        0x007fffff00036dfbull, 0x0000f3ff000011fbull, 0x0000000000000001ull,
    };
    vcore_nvmx_caps_t c;
    l1_caps(&c);
    for (int i = 0; i < 18; i++)
        ck_assert_msg(c.msr[i] == want[i], "MSR %#x: %#llx != %#llx", 0x480 + i,
                      (unsigned long long)c.msr[i], (unsigned long long)want[i]);
    ck_assert_int_eq(vcore_nvmx_caps_check(&c, NULL), VCORE_OK);
}
END_TEST

START_TEST(intersect_without_true_ctls)
{
    vcore_nvmx_caps_t b, e, c = {.size = sizeof(c)};
    bochs_caps(&b);
    fx_caps(&e);
    b.msr[0] &= ~VCORE_VMX_BASIC_TRUE_CTLS;
    ck_assert_int_eq(vcore_nvmx_caps_intersect(&b, &e, &c), VCORE_OK);
    ck_assert_uint_eq(c.msr[0] & VCORE_VMX_BASIC_TRUE_CTLS, 0);
    ck_assert_uint_eq(c.msr[VCORE_NVMX_CAP_TRUE_PROCBASED], c.msr[VCORE_NVMX_CAP_PROCBASED]);
    ck_assert_int_eq(vcore_nvmx_caps_check(&c, NULL), VCORE_OK);
}
END_TEST

START_TEST(check_rules)
{
    vcore_nvmx_caps_t c;
    vcore_diag_t d = {.size = sizeof(d)};
    l1_caps(&c);
    c.msr[VCORE_NVMX_CAP_PINBASED] |= 1u << 8; /* required but not allowed-1 */
    ck_assert_int_eq(vcore_nvmx_caps_check(&c, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_CAPS_ALLOWED_01);
    ck_assert_uint_eq(d.value, 0x481);
    ck_assert_str_eq(d.name, "NVMX_CAPS_ALLOWED_01");
    l1_caps(&c);
    c.msr[VCORE_NVMX_CAP_TRUE_PROCBASED] |= 1ull << (32 + 17); /* TRUE allowed-1 differs */
    ck_assert_int_eq(vcore_nvmx_caps_check(&c, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_CAPS_TRUE_MISMATCH);
    l1_caps(&c);
    c.msr[VCORE_NVMX_CAP_TRUE_EXIT] |= 1u << 22; /* TRUE allowed-0 beyond plain */
    ck_assert_int_eq(vcore_nvmx_caps_check(&c, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_CAPS_TRUE_MISMATCH);
    l1_caps(&c);
    c.msr[VCORE_NVMX_CAP_CR4_FIXED0] |= 1ull << 30; /* fixed-1 not allowed-1 */
    ck_assert_int_eq(vcore_nvmx_caps_check(&c, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_CAPS_ALLOWED_01);
    /* init refuses an inconsistent set */
    vcore_nvmx_config_t cfg = {.size = sizeof(cfg), .caps = c, .maxphyaddr = 40};
    static uint8_t mem[16384] __attribute__((aligned(16)));
    vcore_nvmx_t *n;
    ck_assert_int_eq(vcore_nvmx_init(mem, sizeof(mem), &cfg, &n, &d), VCORE_ERR_INVAL);
    l1_caps(&cfg.caps);
    cfg.maxphyaddr = 60;
    ck_assert_int_eq(vcore_nvmx_init(mem, sizeof(mem), &cfg, &n, &d), VCORE_ERR_INVAL);
    cfg.maxphyaddr = 40;
    ck_assert_int_eq(vcore_nvmx_init(mem, 100, &cfg, &n, &d), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_nvmx_init(mem, sizeof(mem), &cfg, &n, &d), VCORE_OK);
}
END_TEST

START_TEST(override_fewer_accepted)
{
    vcore_nvmx_caps_t base, o, out = {.size = sizeof(out)};
    l1_caps(&base);
    o = base;
    o.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 1)); /* no EPT */
    o.msr[VCORE_NVMX_CAP_EPT_VPID] = 0;
    o.msr[VCORE_NVMX_CAP_PROCBASED] |= 1u << 7;               /* HLT exiting forced on */
    o.msr[VCORE_NVMX_CAP_TRUE_PROCBASED] |= 1u << 7;
    o.msr[VCORE_NVMX_CAP_MISC] &= ~VCORE_VMX_MISC_VMWRITE_ANY;
    o.msr[VCORE_NVMX_CAP_CR4_FIXED1] &= ~(1ull << 21);        /* no SMAP for L1 */
    o.msr[VCORE_NVMX_CAP_VMCS_ENUM] = 0x2e;
    o.msr[0] |= VCORE_VMX_BASIC_32BIT_PA;
    ck_assert_int_eq(vcore_nvmx_caps_restrict(&base, &o, &out, NULL), VCORE_OK);
    ck_assert_mem_eq(out.msr, o.msr, sizeof(o.msr));
}
END_TEST

START_TEST(override_more_refused)
{
    struct { int idx; uint64_t xor_bits; uint32_t diag; } cases[] = {
        {VCORE_NVMX_CAP_PROCBASED, 1ull << (32 + 17), VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE}, /* tertiary */
        {VCORE_NVMX_CAP_PROCBASED, 1u << 1, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},          /* default1 relaxed */
        {VCORE_NVMX_CAP_PROCBASED2, 1ull << (32 + 18), VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},
        {VCORE_NVMX_CAP_EPT_VPID, 1ull << 7, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},
        {VCORE_NVMX_CAP_VMFUNC, 2, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},
        {VCORE_NVMX_CAP_CR0_FIXED0, 1, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},             /* PE no longer fixed */
        {VCORE_NVMX_CAP_VMCS_ENUM, 0x34 ^ 0x40, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},
        {VCORE_NVMX_CAP_MISC, 1ull << 28, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},
        {VCORE_NVMX_CAP_MISC, 1, VCORE_DIAG_NVMX_CAPS_FIXED_FIELD},                     /* timer rate */
        {VCORE_NVMX_CAP_BASIC, 1, VCORE_DIAG_NVMX_CAPS_FIXED_FIELD},                    /* revision */
        {VCORE_NVMX_CAP_BASIC, 1ull << 56, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},
        {VCORE_NVMX_CAP_ENTRY, 1ull << 42, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE},         /* entry to SMM */
        {VCORE_NVMX_CAP_PINBASED, 1u << 9, VCORE_DIAG_NVMX_CAPS_ALLOWED_01},            /* breaks 0/1 rule */
        {VCORE_NVMX_CAP_TRUE_ENTRY, 1ull << 34, VCORE_DIAG_NVMX_CAPS_TRUE_MISMATCH},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vcore_nvmx_caps_t base, o, out = {.size = sizeof(out)};
        vcore_diag_t d = {.size = sizeof(d)};
        l1_caps(&base);
        o = base;
        o.msr[cases[i].idx] ^= cases[i].xor_bits;
        /* keep the TRUE MSR in step with its plain MSR */
        if (cases[i].idx >= VCORE_NVMX_CAP_PINBASED && cases[i].idx <= VCORE_NVMX_CAP_ENTRY)
            o.msr[cases[i].idx + 12] ^= cases[i].xor_bits;
        ck_assert_msg(vcore_nvmx_caps_restrict(&base, &o, &out, &d) == VCORE_ERR_INVAL, "case %u", i);
        ck_assert_msg(d.id == cases[i].diag, "case %u: diag %#x", i, d.id);
    }
}
END_TEST

START_TEST(l1_rdmsr_wrmsr)
{
    fx_t f;
    vcore_nvmx_caps_t c;
    vcore_diag_t d = {.size = sizeof(d)};
    uint64_t v;
    l1_caps(&c);
    fx_setup_caps(&f, &c);
    for (uint32_t i = 0; i < 18; i++) {
        ck_assert_int_eq(vcore_nvmx_rdmsr(f.n, 0x480 + i, &v, &d), VCORE_OK);
        ck_assert_uint_eq(v, c.msr[i]);
        ck_assert_int_eq(vcore_nvmx_wrmsr(f.n, 0x480 + i, v, &d), VCORE_ERR_INVAL);
        ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_MSR_READ_ONLY);
    }
    ck_assert_int_eq(vcore_nvmx_rdmsr(f.n, 0x492, &v, &d), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_nvmx_wrmsr(f.n, 0x47f, 0, &d), VCORE_ERR_NOENT);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_MSR_UNKNOWN);
    fx_teardown(&f);
    /* without BASIC[55] the TRUE MSRs do not exist */
    c.msr[0] &= ~VCORE_VMX_BASIC_TRUE_CTLS;
    fx_setup_caps(&f, &c);
    ck_assert_int_eq(vcore_nvmx_rdmsr(f.n, 0x48e, &v, &d), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_nvmx_rdmsr(f.n, 0x48c, &v, &d), VCORE_OK);
    fx_teardown(&f);
}
END_TEST

static Suite *caps_suite(void)
{
    Suite *s = suite_create("nvmx_caps");
    TCase *tc = tcase_create("caps");
    tcase_add_test(tc, bochs_is_consistent);
    tcase_add_test(tc, intersect_with_bochs);
    tcase_add_test(tc, intersect_without_true_ctls);
    tcase_add_test(tc, check_rules);
    tcase_add_test(tc, override_fewer_accepted);
    tcase_add_test(tc, override_more_refused);
    tcase_add_test(tc, l1_rdmsr_wrmsr);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(caps_suite());
}
