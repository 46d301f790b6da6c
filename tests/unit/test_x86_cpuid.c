/*
 * test_x86_cpuid.c - the CPUID table of the x86 model (src/core/x86/cpuid.c):
 * lookup, phase 1 (check), phase 2 (runtime bits), phase 3 (derived model),
 * XSAVE sizes and what CPUID returns for leaves outside the table.
 */
#include "support.h"

#include "core/x86/x86.h"

#define BIT(n) (1ull << (n))
#define SIG VCORE_CPUID_FLAG_INDEX_SIGNIFICANT

/* "GenuineIntel" / "AuthenticAMD" / "HygonGenuine" as EBX, EDX, ECX. */
#define FOURCC(s) ((uint32_t)(s)[0] | (uint32_t)(s)[1] << 8 | (uint32_t)(s)[2] << 16 | (uint32_t)(s)[3] << 24)

static vcore_cpuid_entry_t leaf0(uint32_t max, const char *v)
{
    vcore_cpuid_entry_t e = {0, 0, 0, max, FOURCC(v), FOURCC(v + 8), FOURCC(v + 4)};
    return e;
}

static vcore_cpuid_entry_t ent(uint32_t f, uint32_t i, uint32_t flags, uint32_t a, uint32_t b,
                               uint32_t c, uint32_t d)
{
    vcore_cpuid_entry_t e = {f, i, flags, a, b, c, d};
    return e;
}

/* ------------------------------------------------------------------ find */

START_TEST(test_find)
{
    vcore_cpuid_entry_t t[] = {
        ent(7, 0, SIG, 1, 2, 3, 4),
        ent(7, 1, SIG, 5, 6, 7, 8),
        ent(1, 0, 0, 9, 10, 11, 12),
        ent(0xd, 2, SIG, 256, 576, 0, 0),
    };
    ck_assert_ptr_eq(vcore__cpuid_find(t, 4, 7, 0), &t[0]);
    ck_assert_ptr_eq(vcore__cpuid_find(t, 4, 7, 1), &t[1]);
    ck_assert_ptr_null(vcore__cpuid_find(t, 4, 7, 2));
    /* Sub-leaf ignored for a non-significant entry. */
    ck_assert_ptr_eq(vcore__cpuid_find(t, 4, 1, 0), &t[2]);
    ck_assert_ptr_eq(vcore__cpuid_find(t, 4, 1, 0x1234), &t[2]);
    ck_assert_ptr_eq(vcore__cpuid_find(t, 4, 0xd, 2), &t[3]);
    ck_assert_ptr_null(vcore__cpuid_find(t, 4, 0xd, 0));
    ck_assert_ptr_null(vcore__cpuid_find(t, 4, 2, 0));
    /* n bounds the search. */
    ck_assert_ptr_null(vcore__cpuid_find(t, 3, 0xd, 2));
    ck_assert_ptr_null(vcore__cpuid_find(t, 0, 7, 0));
    ck_assert_ptr_null(vcore__cpuid_find(NULL, 4, 7, 0));
}
END_TEST

/* ----------------------------------------------------------------- check */

START_TEST(test_check_count)
{
    static vcore_cpuid_entry_t t[257];
    vcore_diag_t d = {.size = sizeof(d)};
    for (uint32_t i = 0; i < 257; i++)
        t[i] = ent(0x40000000u + i, 0, 0, 0, 0, 0, 0);
    ck_assert_int_eq(vcore__cpuid_check(t, 256, &d), VCORE_OK);
    ck_assert_int_eq(vcore__cpuid_check(t, 257, &d), VCORE_ERR_RANGE);
    ck_assert_uint_eq(d.id, VCORE_DIAG_CPUID_TOO_MANY);
    ck_assert_uint_eq(d.value, 257);
    ck_assert_int_eq(vcore__cpuid_check(t, 0xffffffffu, &d), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore__cpuid_check(NULL, 0, &d), VCORE_OK);
    ck_assert_int_eq(vcore__cpuid_check(NULL, 1, &d), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(test_check_flags)
{
    vcore_diag_t d = {.size = sizeof(d)};
    vcore_cpuid_entry_t t[2] = {ent(0, 0, 0, 1, 0, 0, 0), ent(1, 0, SIG, 0, 0, 0, 0)};
    ck_assert_int_eq(vcore__cpuid_check(t, 2, &d), VCORE_OK);
    for (unsigned b = 1; b < 32; b++) {
        t[1].flags = SIG | (1u << b);
        ck_assert_int_eq(vcore__cpuid_check(t, 2, &d), VCORE_ERR_INVAL);
        ck_assert_uint_eq(d.id, VCORE_DIAG_CPUID_BAD_FLAGS);
        ck_assert_uint_eq(d.value, t[1].flags);
    }
}
END_TEST

typedef struct {
    const char *what;
    vcore_cpuid_entry_t a, b;
    bool dup;
} dup_case_t;

static const dup_case_t dup_cases[] = {
    {"same significant pair", {7, 0, SIG, 0, 0, 0, 0}, {7, 0, SIG, 1, 1, 1, 1}, true},
    {"different sub-leaf", {7, 0, SIG, 0, 0, 0, 0}, {7, 1, SIG, 0, 0, 0, 0}, false},
    {"non-significant vs significant", {7, 5, 0, 0, 0, 0, 0}, {7, 1, SIG, 0, 0, 0, 0}, true},
    {"significant vs non-significant", {7, 1, SIG, 0, 0, 0, 0}, {7, 9, 0, 0, 0, 0, 0}, true},
    {"two non-significant", {1, 0, 0, 0, 0, 0, 0}, {1, 3, 0, 0, 0, 0, 0}, true},
    {"different functions", {1, 0, 0, 0, 0, 0, 0}, {2, 0, 0, 0, 0, 0, 0}, false},
    {"same index, different function", {4, 1, SIG, 0, 0, 0, 0}, {0xb, 1, SIG, 0, 0, 0, 0}, false},
};

START_TEST(test_check_duplicates)
{
    const dup_case_t *c = &dup_cases[_i];
    vcore_cpuid_entry_t t[4] = {ent(0x80000000u, 0, 0, 0x80000001u, 0, 0, 0), c->a,
                                ent(0x40000000u, 0, 0, 0, 0, 0, 0), c->b};
    vcore_diag_t d = {.size = sizeof(d)};
    int rc = vcore__cpuid_check(t, 4, &d);
    if (!c->dup) {
        ck_assert_msg(rc == VCORE_OK, "%s: refused (diag %#x)", c->what, d.id);
        return;
    }
    ck_assert_msg(rc == VCORE_ERR_INVAL, "%s: accepted", c->what);
    ck_assert_uint_eq(d.id, VCORE_DIAG_CPUID_DUPLICATE);
    ck_assert_uint_eq(d.value >> 32, c->b.function);
}
END_TEST

/* The duplicate rule by its definition ("two entries answer the same CPUID
 * input"), pair by pair: the reference the fast check must agree with. */
static bool brute_duplicate(const vcore_cpuid_entry_t *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++)
            if (t[i].function == t[j].function &&
                (!(t[i].flags & SIG) || !(t[j].flags & SIG) || t[i].index == t[j].index))
                return true;
    return false;
}

START_TEST(test_check_duplicates_random)
{
    /* Random tables over few functions and sub-leaves (so clashes are
     * common), with byte values spread so every radix digit matters. */
    static const uint32_t funcs[] = {0, 1, 0xd, 0x40000000u, 0x40000001u, 0x80000000u, 0x80000008u,
                                     0x00010004u, 0x01000004u};
    static const uint32_t idx[] = {0, 1, 2, 0x100, 0x10000, 0x1000000u, 0xffffffffu};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES];
    uint32_t dups = 0;
    for (int round = 0; round < 3000; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t n = 1 + (uint32_t)((seed >> 33) % 40);
        if (round % 100 == 0)
            n = VCORE_CPUID_MAX_ENTRIES;
        for (uint32_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t r = (uint32_t)(seed >> 32);
            t[i] = ent(funcs[r % 9], idx[(r >> 4) % 7], ((r >> 8) % 8) ? SIG : 0, r, 0, 0, 0);
            if (n == VCORE_CPUID_MAX_ENTRIES) /* big tables: mostly distinct */
                t[i] = ent(0x100u + i * 0x01010101u, (r >> 12) % 4, SIG, 0, 0, 0, 0);
        }
        vcore_diag_t d = {.size = sizeof(d)};
        int rc = vcore__cpuid_check(t, n, &d);
        bool dup = rc == VCORE_ERR_INVAL && d.id == VCORE_DIAG_CPUID_DUPLICATE;
        ck_assert_msg(dup == brute_duplicate(t, n), "round %d (n %u): fast %d, reference %d", round, n,
                      dup, brute_duplicate(t, n));
        dups += dup;
    }
    ck_assert_uint_gt(dups, 100); /* both outcomes were exercised */
    ck_assert_uint_lt(dups, 2900);
}
END_TEST

typedef struct {
    uint32_t eax;
    uint32_t diag;
} addr_case_t;

static const addr_case_t addr_cases[] = {
    {0x0000, VCORE_DIAG_NONE},
    {0x3028, VCORE_DIAG_NONE}, /* 40 / 48 */
    {0x3020, VCORE_DIAG_NONE}, /* 32 */
    {0x301f, VCORE_DIAG_CPUID_MAXPHYADDR}, /* 31 */
    {0x3001, VCORE_DIAG_CPUID_MAXPHYADDR},
    {0x3034, VCORE_DIAG_NONE}, /* 52 */
    {0x3035, VCORE_DIAG_CPUID_MAXPHYADDR}, /* 53 */
    {0x30ff, VCORE_DIAG_CPUID_MAXPHYADDR},
    {0x3900, VCORE_DIAG_NONE}, /* 57 linear, no physical width */
    {0x3934, VCORE_DIAG_NONE},
    {0x2f28, VCORE_DIAG_CPUID_LINEAR_BITS}, /* 47 */
    {0x3128, VCORE_DIAG_CPUID_LINEAR_BITS}, /* 49 */
    {0x3828, VCORE_DIAG_CPUID_LINEAR_BITS}, /* 56 */
    {0x4028, VCORE_DIAG_CPUID_LINEAR_BITS}, /* 64 */
    {0x0028, VCORE_DIAG_NONE},             /* linear 0 */
    {0xffff3028u, VCORE_DIAG_NONE},        /* bits 31:16 are not checked */
};

START_TEST(test_check_address_sizes)
{
    const addr_case_t *c = &addr_cases[_i];
    vcore_cpuid_entry_t t[2] = {ent(0x80000000u, 0, 0, 0x80000008u, 0, 0, 0),
                                ent(0x80000008u, 0, 0, c->eax, 0, 0, 0)};
    vcore_diag_t d = {.size = sizeof(d)};
    int rc = vcore__cpuid_check(t, 2, &d);
    if (c->diag == VCORE_DIAG_NONE) {
        ck_assert_msg(rc == VCORE_OK, "eax %#x refused (diag %#x)", c->eax, d.id);
    } else {
        ck_assert_msg(rc == VCORE_ERR_INVAL, "eax %#x accepted", c->eax);
        ck_assert_uint_eq(d.id, c->diag);
        ck_assert_uint_eq(d.value, c->eax);
    }
}
END_TEST

/* A consistent XSAVE description: x87, SSE, AVX (256 bytes at 576), AVX-512
 * (opmask 64 @1088, ZMM_Hi256 512 @1152, Hi16_ZMM 1024 @1664), max 2688. */
static uint32_t xsave_table(vcore_cpuid_entry_t *t)
{
    uint32_t n = 0;
    t[n++] = leaf0(0xd, "GenuineIntel");
    t[n++] = ent(1, 0, 0, 0x000906ea, 0, (1u << 26), 0);
    t[n++] = ent(0xd, 0, SIG, 0xe7, 0, 2688, 0);
    t[n++] = ent(0xd, 1, SIG, 0xf /* XSAVEOPT XSAVEC XGETBV1 XSAVES */, 0, 0, 0);
    t[n++] = ent(0xd, 2, SIG, 256, 576, 0, 0);
    t[n++] = ent(0xd, 5, SIG, 64, 1088, 0, 0);
    t[n++] = ent(0xd, 6, SIG, 512, 1152, 0, 0);
    t[n++] = ent(0xd, 7, SIG, 1024, 1664, 0, 0);
    return n;
}

START_TEST(test_check_xsave_ok)
{
    vcore_cpuid_entry_t t[16];
    uint32_t n = xsave_table(t);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore__cpuid_check(t, n, &d), VCORE_OK);
    /* No components listed: nothing to check, even without XSAVE. */
    t[1].ecx = 0;
    t[2].eax = 0;
    ck_assert_int_eq(vcore__cpuid_check(t, n, &d), VCORE_OK);
}
END_TEST

enum { XS_NO_XSAVE, XS_NO_X87, XS_NO_SSE, XS_MISSING_SUB, XS_ZERO_SIZE, XS_PAST_END,
       XS_EDX_COMPONENT, XS_NCASES };

START_TEST(test_check_xsave_inconsistent)
{
    vcore_cpuid_entry_t t[16];
    uint32_t n = xsave_table(t);
    vcore_diag_t d = {.size = sizeof(d)};
    uint64_t expect_value = 0;
    switch (_i) {
    case XS_NO_XSAVE: t[1].ecx = 0; expect_value = 0xe7; break;
    case XS_NO_X87: t[2].eax = 0xe6; expect_value = 0xe6; break;
    case XS_NO_SSE: t[2].eax = 0xe5; expect_value = 0xe5; break;
    case XS_MISSING_SUB: t[6].function = 0x40000000u; expect_value = 6; break;
    case XS_ZERO_SIZE: t[4].eax = 0; expect_value = 2; break;
    case XS_PAST_END: t[2].ecx = 2687; expect_value = 7; break;
    case XS_EDX_COMPONENT: t[2].edx = 1; expect_value = 32; break; /* component 32, no sub-leaf */
    }
    ck_assert_int_eq(vcore__cpuid_check(t, n, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_CPUID_XSAVE_INCONSISTENT);
    ck_assert_uint_eq(d.value, expect_value);
}
END_TEST

/* ------------------------------------------------------------ xsave size */

START_TEST(test_xsave_size)
{
    vcore_cpuid_entry_t t[16];
    uint32_t n = xsave_table(t);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0x1, false), 576);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0x3, false), 576);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0x7, false), 832);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0xe7, false), 2688);
    /* Standard form: the size is the end of the furthest component. */
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0x83, false), 2688);
    /* Compacted: packed in order. */
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0x7, true), 832);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0xe7, true), 576 + 256 + 64 + 512 + 1024);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0x83, true), 576 + 1024);
    /* Components without a sub-leaf contribute nothing. */
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, n, 0x203, false), 576);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(NULL, 0, 0xe7, true), 576);
}
END_TEST

START_TEST(test_xsave_size_compacted_alignment)
{
    vcore_cpuid_entry_t t[3] = {
        ent(0xd, 2, SIG, 100, 576, 0, 0),
        ent(0xd, 3, SIG, 64, 704, 0, 0),
        ent(0xd, 4, SIG, 64, 768, 0x2 /* 64-byte aligned */, 0),
    };
    /* 576 + 100 = 676; component 3 packed at 676 -> 740. */
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, 3, 0xf, true), 740);
    /* Component 4 aligned: 676 -> 704, +64 = 768. */
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, 3, 0x17, true), 768);
    /* 2,3,4: 740 -> 768 aligned, +64 = 832. */
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, 3, 0x1f, true), 832);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, 3, 0x1f, false), 832);
}
END_TEST

START_TEST(test_xsave_size_saturates)
{
    vcore_cpuid_entry_t t[2] = {
        ent(0xd, 2, SIG, 0xffffffffu, 0xffffffffu, 0, 0),
        ent(0xd, 3, SIG, 0xffffffffu, 0, 0, 0),
    };
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, 2, 0x7, false), 0xffffffffu);
    ck_assert_uint_eq(vcore__cpuid_xsave_size(t, 2, 0xf, true), 0xffffffffu);
}
END_TEST

/* ------------------------------------------------------- update_runtime */

static vcore_x86_state_t blank_state(void)
{
    vcore_x86_state_t st;
    memset(&st, 0, sizeof(st));
    st.xcr0 = 1;
    return st;
}

START_TEST(test_runtime_osxsave)
{
    vcore_cpuid_entry_t t[1] = {ent(1, 0, 0, 0, 0, 1u << 26, 0)};
    vcore_x86_state_t st = blank_state();
    st.sregs.cr4 = BIT(18);
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, (1u << 26) | (1u << 27));
    st.sregs.cr4 = 0;
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 1u << 26);
    /* Without XSAVE the bit is left as it is. */
    t[0].ecx = 0;
    st.sregs.cr4 = BIT(18);
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 0);
}
END_TEST

START_TEST(test_runtime_apic)
{
    vcore_cpuid_entry_t t[1] = {ent(1, 0, 0, 0, 0, 0, 0x0)};
    vcore_x86_state_t st = blank_state();
    st.msrs.apic_base = 0xfee00800ull;
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].edx, 1u << 9);
    st.msrs.apic_base = 0xfee00000ull;
    t[0].edx = 0xffffffffu;
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].edx, 0xffffffffu & ~(1u << 9));
}
END_TEST

START_TEST(test_runtime_ospke)
{
    vcore_cpuid_entry_t t[1] = {ent(7, 0, SIG, 0, 0, 1u << 3, 0)};
    vcore_x86_state_t st = blank_state();
    st.sregs.cr4 = BIT(22);
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, (1u << 3) | (1u << 4));
    st.sregs.cr4 = 0;
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 1u << 3);
    /* No PKU: left alone. */
    t[0].ecx = 0;
    st.sregs.cr4 = BIT(22);
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 0);
    /* Only sub-leaf 0 carries OSPKE. */
    vcore_cpuid_entry_t t2[1] = {ent(7, 1, SIG, 0, 0, 1u << 3, 0)};
    vcore__cpuid_update_runtime(t2, 1, &st);
    ck_assert_uint_eq(t2[0].ecx, 1u << 3);
}
END_TEST

START_TEST(test_runtime_monitor)
{
    /* MONITOR mirrors MISC_ENABLE.ENABLE_MONITOR_FSM in both directions. */
    vcore_cpuid_entry_t t[1] = {ent(1, 0, 0, 0, 0, 1u << 3, 0)};
    vcore_x86_state_t st = blank_state();
    st.msrs.misc_enable = BIT(18);
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 1u << 3); /* kept */
    st.msrs.misc_enable = 0x1800;
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 0); /* cleared */
    st.msrs.misc_enable = 0x1800 | BIT(18);
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 1u << 3); /* back */
    t[0].ecx = 0xffffffffu;
    st.msrs.misc_enable = 0;
    vcore__cpuid_update_runtime(t, 1, &st);
    ck_assert_uint_eq(t[0].ecx, 0xffffffffu & ~((1u << 3) | (1u << 27))); /* only MONITOR, OSXSAVE */
}
END_TEST

START_TEST(test_runtime_xsave_sizes)
{
    vcore_cpuid_entry_t t[16];
    uint32_t n = xsave_table(t);
    vcore_x86_state_t st = blank_state();
    st.xcr0 = 0x7;
    vcore__cpuid_update_runtime(t, n, &st);
    ck_assert_uint_eq(t[2].ebx, 832);
    ck_assert_uint_eq(t[3].ebx, 832);
    st.xcr0 = 0xe7;
    vcore__cpuid_update_runtime(t, n, &st);
    ck_assert_uint_eq(t[2].ebx, 2688);
    ck_assert_uint_eq(t[3].ebx, 576 + 256 + 64 + 512 + 1024);
    st.xcr0 = 0x1;
    vcore__cpuid_update_runtime(t, n, &st);
    ck_assert_uint_eq(t[2].ebx, 576);
    ck_assert_uint_eq(t[3].ebx, 576);
    /* Without XSAVEC/XSAVES, 0DH.1 EBX is not touched. */
    t[3].eax = 0x1; /* XSAVEOPT only */
    t[3].ebx = 1234;
    st.xcr0 = 0x7;
    vcore__cpuid_update_runtime(t, n, &st);
    ck_assert_uint_eq(t[3].ebx, 1234);
    ck_assert_uint_eq(t[2].ebx, 832);
    /* XSAVES alone (bit 3) is enough. */
    t[3].eax = 0x8;
    vcore__cpuid_update_runtime(t, n, &st);
    ck_assert_uint_eq(t[3].ebx, 832);
    /* Other sub-leaves untouched. */
    ck_assert_uint_eq(t[4].ebx, 576);
    ck_assert_uint_eq(t[5].ebx, 1088);
}
END_TEST

START_TEST(test_runtime_untouched_rest)
{
    /* Only the runtime bits change. */
    vcore_cpuid_entry_t t[4] = {
        ent(1, 0, 0, 0x906ea, 0x12345678, ~((1u << 27) | (1u << 3)), ~(1u << 9)),
        ent(7, 0, SIG, 0xaaaa, 0xbbbb, ~(1u << 4), 0xdddd),
        ent(0x80000001u, 0, 0, 1, 2, 3, 4),
        ent(0x40000000u, 0, 0, 5, 6, 7, 8),
    };
    vcore_cpuid_entry_t before[4];
    memcpy(before, t, sizeof(t));
    vcore_x86_state_t st = blank_state();
    st.sregs.cr4 = BIT(18) | BIT(22);
    st.msrs.apic_base = 0xfee00800ull;
    st.msrs.misc_enable = BIT(18);
    vcore__cpuid_update_runtime(t, 4, &st);
    ck_assert_uint_eq(t[0].ecx, 0xffffffffu); /* OSXSAVE and MONITOR on */
    ck_assert_uint_eq(t[0].edx, 0xffffffffu);
    ck_assert_uint_eq(t[1].ecx, 0xffffffffu);
    ck_assert_uint_eq(t[0].eax, before[0].eax);
    ck_assert_uint_eq(t[0].ebx, before[0].ebx);
    ck_assert(memcmp(&t[2], &before[2], 2 * sizeof(t[0])) == 0);
    vcore__cpuid_update_runtime(NULL, 4, &st); /* must not crash */
    vcore__cpuid_update_runtime(t, 4, NULL);
}
END_TEST

/* ------------------------------------------------------------ after_set */

START_TEST(test_after_set_vendor)
{
    static const struct { const char *s; uint32_t v; } vs[] = {
        {"GenuineIntel", VCORE_X86_VENDOR_INTEL},
        {"AuthenticAMD", VCORE_X86_VENDOR_AMD},
        {"HygonGenuine", VCORE_X86_VENDOR_HYGON},
        {"GenuineIntex", 99},
        {"AuthenticAMX", 99},
        {"KVMKVMKVM\0\0\0", 99},
    };
    vcore_x86_cpu_model_t m;
    for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
        vcore_cpuid_entry_t t[1] = {leaf0(1, vs[i].s)};
        vcore__cpuid_after_set(t, 1, 99, 1, &m);
        ck_assert_msg(m.vendor == vs[i].v, "%.12s -> %u", vs[i].s, m.vendor);
        ck_assert_uint_eq(m.size, sizeof(m));
    }
    vcore__cpuid_after_set(NULL, 0, VCORE_X86_VENDOR_AMD, 1, &m);
    ck_assert_uint_eq(m.vendor, VCORE_X86_VENDOR_AMD);
}
END_TEST

START_TEST(test_after_set_signature)
{
    vcore_x86_cpu_model_t m;
    vcore_cpuid_entry_t t[2] = {leaf0(1, "GenuineIntel"), ent(1, 0, 0, 0x000906ea, 0, 0, 0)};
    vcore__cpuid_after_set(t, 2, 0, 1, &m);
    ck_assert_uint_eq(m.signature, 0x000906ea);
    vcore__cpuid_after_set(t, 1, 0, 1, &m);
    ck_assert_uint_eq(m.signature, 0x600);
}
END_TEST

typedef struct {
    const char *what;
    bool ext_max_present;
    uint32_t ext_max;
    bool leaf_present;
    uint32_t eax;
    uint32_t maxphyaddr;
    uint64_t pte_reserved;
} phys_case_t;

static const phys_case_t phys_cases[] = {
    {"no leaves", false, 0, false, 0, 36, 0x000ffff000000000ull},
    {"leaf in range", true, 0x80000008u, true, 0x3028, 40, 0x000fff0000000000ull},
    {"leaf above max", true, 0x80000007u, true, 0x3028, 36, 0x000ffff000000000ull},
    {"max above leaf", true, 0x80000021u, true, 0x3034, 52, 0},
    {"width 0", true, 0x80000008u, true, 0x3000, 36, 0x000ffff000000000ull},
    {"no 80000000H", false, 0, true, 0x3028, 36, 0x000ffff000000000ull},
    {"32 bits", true, 0x80000008u, true, 0x3020, 32, 0x000fffff00000000ull},
    {"46 bits", true, 0x80000008u, true, 0x302e, 46, 0x000fc00000000000ull},
};

START_TEST(test_after_set_maxphyaddr)
{
    const phys_case_t *c = &phys_cases[_i];
    vcore_cpuid_entry_t t[2];
    uint32_t n = 0;
    vcore_x86_cpu_model_t m;
    if (c->ext_max_present)
        t[n++] = ent(0x80000000u, 0, 0, c->ext_max, 0, 0, 0);
    if (c->leaf_present)
        t[n++] = ent(0x80000008u, 0, 0, c->eax, 0, 0, 0);
    vcore__cpuid_after_set(t, n, 0, 1, &m);
    ck_assert_msg(m.maxphyaddr == c->maxphyaddr, "%s: %u", c->what, m.maxphyaddr);
    ck_assert_msg(m.pte_reserved == c->pte_reserved, "%s: pte %#llx", c->what,
                  (unsigned long long)m.pte_reserved);
}
END_TEST

START_TEST(test_after_set_linear_bits)
{
    vcore_x86_cpu_model_t m;
    vcore_cpuid_entry_t t[1] = {ent(7, 0, SIG, 0, 0, 1u << 16, 0)};
    vcore__cpuid_after_set(t, 1, 0, 1, &m);
    ck_assert_uint_eq(m.linear_bits, 57);
    ck_assert(m.features & VCORE_X86_FEAT_LA57);
    t[0].ecx = 0;
    vcore__cpuid_after_set(t, 1, 0, 1, &m);
    ck_assert_uint_eq(m.linear_bits, 48);
    ck_assert(!(m.features & VCORE_X86_FEAT_LA57));
}
END_TEST

START_TEST(test_after_set_cr0_reserved)
{
    vcore_x86_cpu_model_t m;
    vcore__cpuid_after_set(NULL, 0, 0, 1, &m);
    /* Bits 63:32, 28:19, 17, 15:6 (SDM Vol. 3, "Control Registers"). */
    ck_assert_uint_eq(m.cr0_reserved, 0xffffffff1ffaffc0ull);
}
END_TEST

typedef struct {
    const char *what;
    uint32_t leaf, sub; /* where the feature bit is */
    int reg;            /* 1 ebx, 2 ecx, 3 edx */
    uint32_t bit;
    unsigned cr4_bit;
} cr4_feature_t;

static const cr4_feature_t cr4_features[] = {
    {"UMIP", 7, 0, 2, 1u << 2, 11},
    {"LA57", 7, 0, 2, 1u << 16, 12},
    {"VMXE", 1, 0, 2, 1u << 5, 13},
    {"SMXE", 1, 0, 2, 1u << 6, 14},
    {"FSGSBASE", 7, 0, 1, 1u << 0, 16},
    {"PCIDE", 1, 0, 2, 1u << 17, 17},
    {"OSXSAVE", 1, 0, 2, 1u << 26, 18},
    {"KL", 7, 0, 2, 1u << 23, 19},
    {"SMEP", 7, 0, 1, 1u << 7, 20},
    {"SMAP", 7, 0, 1, 1u << 20, 21},
    {"PKE", 7, 0, 2, 1u << 3, 22},
    {"CET (SHSTK)", 7, 0, 2, 1u << 7, 23},
    {"CET (IBT)", 7, 0, 3, 1u << 20, 23},
    {"PKS", 7, 0, 2, 1u << 31, 24},
};

static void set_reg(vcore_cpuid_entry_t *e, int reg, uint32_t v)
{
    if (reg == 1)
        e->ebx = v;
    else if (reg == 2)
        e->ecx = v;
    else
        e->edx = v;
}

START_TEST(test_after_set_cr4_features)
{
    const cr4_feature_t *f = &cr4_features[_i];
    vcore_x86_cpu_model_t m;
    vcore_cpuid_entry_t t[1] = {ent(f->leaf, f->sub, f->leaf == 7 ? SIG : 0, 0, 0, 0, 0)};
    vcore__cpuid_after_set(t, 1, 0, 1, &m);
    ck_assert_msg(m.cr4_reserved & BIT(f->cr4_bit), "%s allowed without the feature", f->what);
    set_reg(&t[0], f->reg, f->bit);
    vcore__cpuid_after_set(t, 1, 0, 1, &m);
    ck_assert_msg(!(m.cr4_reserved & BIT(f->cr4_bit)), "%s refused with the feature", f->what);
    /* Only that bit (and the always-allowed ones) opened up. */
    ck_assert_uint_eq(~m.cr4_reserved, 0x7ffull | BIT(f->cr4_bit));
}
END_TEST

START_TEST(test_after_set_cr4_always_and_never)
{
    vcore_x86_cpu_model_t m;
    /* Every feature flag set: still 15 and 63:25 reserved. */
    vcore_cpuid_entry_t t[2] = {ent(1, 0, 0, 0, 0, 0xffffffffu, 0xffffffffu),
                                ent(7, 0, SIG, 0, 0xffffffffu, 0xffffffffu, 0xffffffffu)};
    vcore__cpuid_after_set(t, 2, 0, 1, &m);
    ck_assert_uint_eq(m.cr4_reserved, ~((BIT(25) - 1) & ~BIT(15)));
    vcore__cpuid_after_set(NULL, 0, 0, 1, &m);
    ck_assert_uint_eq(m.cr4_reserved, ~0x7ffull);
}
END_TEST

typedef struct {
    const char *what;
    uint32_t vendor;
    int reg; /* 2 ecx, 3 edx of 80000001H */
    uint32_t bit;
    uint64_t efer_bits;
} efer_feature_t;

static const efer_feature_t efer_features[] = {
    {"SCE", VCORE_X86_VENDOR_INTEL, 3, 1u << 11, BIT(0)},
    {"LME/LMA", VCORE_X86_VENDOR_INTEL, 3, 1u << 29, BIT(8) | BIT(10)},
    {"NXE", VCORE_X86_VENDOR_INTEL, 3, 1u << 20, BIT(11)},
    {"SVME", VCORE_X86_VENDOR_AMD, 2, 1u << 2, BIT(12)},
    {"FFXSR on AMD", VCORE_X86_VENDOR_AMD, 3, 1u << 25, BIT(14)},
    {"FFXSR on Hygon", VCORE_X86_VENDOR_HYGON, 3, 1u << 25, BIT(14)},
    {"FFXSR on Intel", VCORE_X86_VENDOR_INTEL, 3, 1u << 25, 0},
    {"TCE", VCORE_X86_VENDOR_AMD, 2, 1u << 17, BIT(15)},
};

START_TEST(test_after_set_efer_features)
{
    const efer_feature_t *f = &efer_features[_i];
    vcore_x86_cpu_model_t m;
    vcore_cpuid_entry_t t[1] = {ent(0x80000001u, 0, 0, 0, 0, 0, 0)};
    vcore__cpuid_after_set(t, 1, f->vendor, 1, &m);
    ck_assert_uint_eq(m.efer_reserved, ~0ull);
    set_reg(&t[0], f->reg, f->bit);
    vcore__cpuid_after_set(t, 1, f->vendor, 1, &m);
    ck_assert_msg(m.efer_reserved == ~f->efer_bits, "%s: efer_reserved %#llx", f->what,
                  (unsigned long long)m.efer_reserved);
}
END_TEST

START_TEST(test_after_set_efer_lmsle_never)
{
    vcore_x86_cpu_model_t m;
    vcore_cpuid_entry_t t[1] = {ent(0x80000001u, 0, 0, 0, 0, 0xffffffffu, 0xffffffffu)};
    vcore__cpuid_after_set(t, 1, VCORE_X86_VENDOR_AMD, 1, &m);
    ck_assert_uint_eq(~m.efer_reserved, BIT(0) | BIT(8) | BIT(10) | BIT(11) | BIT(12) | BIT(14) | BIT(15));
    ck_assert(m.efer_reserved & BIT(13));
}
END_TEST

START_TEST(test_after_set_xcr0_and_size)
{
    vcore_cpuid_entry_t t[16];
    uint32_t n = xsave_table(t);
    vcore_x86_cpu_model_t m;
    vcore__cpuid_after_set(t, n, 0, 0x7, &m);
    ck_assert_uint_eq(m.supported_xcr0, 0xe7);
    ck_assert_uint_eq(m.xsave_size_xcr0, 832);
    vcore__cpuid_after_set(t, n, 0, 0xe7, &m);
    ck_assert_uint_eq(m.xsave_size_xcr0, 2688);
    t[2].edx = 0x1; /* component 32 */
    vcore__cpuid_after_set(t, n, 0, 0x7, &m);
    ck_assert_uint_eq(m.supported_xcr0, 0x1000000e7ull);
    /* XSAVE not enumerated: x87 only. */
    t[1].ecx = 0;
    vcore__cpuid_after_set(t, n, 0, 0x1, &m);
    ck_assert_uint_eq(m.supported_xcr0, 1);
    ck_assert(!(m.features & VCORE_X86_FEAT_XSAVE));
}
END_TEST

typedef struct {
    uint32_t leaf;
    int reg;
    uint32_t bit;
    uint32_t feat;
} feat_case_t;

static const feat_case_t feat_cases[] = {
    {1, 2, 1u << 26, VCORE_X86_FEAT_XSAVE},
    {1, 2, 1u << 21, VCORE_X86_FEAT_X2APIC},
    {0x80000001u, 3, 1u << 29, VCORE_X86_FEAT_LM},
    {0x80000001u, 3, 1u << 20, VCORE_X86_FEAT_NX},
    {1, 2, 1u << 5, VCORE_X86_FEAT_VMX},
    {0x80000001u, 2, 1u << 2, VCORE_X86_FEAT_SVM},
    {1, 2, 1u << 17, VCORE_X86_FEAT_PCID},
    {7, 2, 1u << 16, VCORE_X86_FEAT_LA57},
    {7, 2, 1u << 3, VCORE_X86_FEAT_PKU},
    {1, 3, 1u << 9, VCORE_X86_FEAT_APIC},
};

START_TEST(test_after_set_features)
{
    const feat_case_t *c = &feat_cases[_i];
    vcore_cpuid_entry_t t[1] = {ent(c->leaf, 0, c->leaf == 7 ? SIG : 0, 0, 0, 0, 0)};
    vcore_x86_cpu_model_t m;
    set_reg(&t[0], c->reg, c->bit);
    vcore__cpuid_after_set(t, 1, 0, 1, &m);
    ck_assert_uint_eq(m.features, c->feat);
    /* All other bits of that register set, this one clear: feature absent. */
    set_reg(&t[0], c->reg, ~c->bit);
    vcore__cpuid_after_set(t, 1, 0, 1, &m);
    ck_assert(!(m.features & c->feat));
}
END_TEST

START_TEST(test_model_default)
{
    static const uint32_t vendors[] = {VCORE_X86_VENDOR_INTEL, VCORE_X86_VENDOR_AMD,
                                       VCORE_X86_VENDOR_HYGON, VCORE_X86_VENDOR_UNKNOWN};
    for (size_t i = 0; i < 4; i++) {
        vcore_x86_cpu_model_t m;
        memset(&m, 0xcc, sizeof(m));
        vcore__cpuid_model_default(vendors[i], &m);
        ck_assert_uint_eq(m.size, sizeof(m));
        ck_assert_uint_eq(m.vendor, vendors[i]);
        ck_assert_uint_eq(m.signature, 0x600);
        ck_assert_uint_eq(m.maxphyaddr, 36);
        ck_assert_uint_eq(m.linear_bits, 48);
        ck_assert_uint_eq(m.cr0_reserved, 0xffffffff1ffaffc0ull);
        ck_assert_uint_eq(m.cr4_reserved, ~0x7ffull);
        ck_assert_uint_eq(m.efer_reserved, ~0ull);
        ck_assert_uint_eq(m.pte_reserved, 0x000ffff000000000ull);
        ck_assert_uint_eq(m.supported_xcr0, 1);
        ck_assert_uint_eq(m.xsave_size_xcr0, 576);
        ck_assert_uint_eq(m.features, 0);
    }
    vcore__cpuid_model_default(0, NULL); /* must not crash */
}
END_TEST

/* ---------------------------------------------------------------- query */

static uint32_t query_table(vcore_cpuid_entry_t *t)
{
    uint32_t n = 0;
    t[n++] = leaf0(0xd, "GenuineIntel");
    t[n++] = ent(1, 0, 0, 0x906ea, 0x11, 0x22, 0x33);
    t[n++] = ent(7, 0, SIG, 0, 0x44, 0x55, 0x66);
    t[n++] = ent(0xd, 0, SIG, 7, 832, 832, 0);
    t[n++] = ent(0xd, 1, SIG, 0xf, 832, 0, 0);
    t[n++] = ent(0x80000000u, 0, 0, 0x80000008u, 0, 0, 0);
    t[n++] = ent(0x80000008u, 0, 0, 0x3028, 0, 0, 0);
    t[n++] = ent(0x40000000u, 0, 0, 0x40000001u, 0x4b4d564b, 0x564b4d56, 0x4d);
    return n;
}

typedef struct {
    const char *what;
    uint32_t vendor, function, index;
    uint32_t eax, ebx, ecx, edx;
} query_case_t;

static const query_case_t query_cases[] = {
    {"present leaf", VCORE_X86_VENDOR_INTEL, 1, 0, 0x906ea, 0x11, 0x22, 0x33},
    {"present leaf AMD", VCORE_X86_VENDOR_AMD, 1, 5, 0x906ea, 0x11, 0x22, 0x33},
    {"present sub-leaf", VCORE_X86_VENDOR_INTEL, 0xd, 1, 0xf, 832, 0, 0},
    {"missing sub-leaf", VCORE_X86_VENDOR_INTEL, 7, 1, 0, 0, 0, 0},
    {"missing in basic range", VCORE_X86_VENDOR_INTEL, 5, 0, 0, 0, 0, 0},
    {"missing in basic range AMD", VCORE_X86_VENDOR_AMD, 5, 0, 0, 0, 0, 0},
    {"above basic Intel", VCORE_X86_VENDOR_INTEL, 0x14, 0, 7, 832, 832, 0},
    {"above basic Intel sub-leaf 1", VCORE_X86_VENDOR_INTEL, 0x14, 1, 0xf, 832, 0, 0},
    {"above basic unknown vendor", VCORE_X86_VENDOR_UNKNOWN, 0x14, 0, 7, 832, 832, 0},
    {"above basic AMD", VCORE_X86_VENDOR_AMD, 0x14, 0, 0, 0, 0, 0},
    {"above basic Hygon", VCORE_X86_VENDOR_HYGON, 0x14, 0, 0, 0, 0, 0},
    {"ext in range", VCORE_X86_VENDOR_INTEL, 0x80000008u, 0, 0x3028, 0, 0, 0},
    {"ext missing in range", VCORE_X86_VENDOR_INTEL, 0x80000007u, 0, 0, 0, 0, 0},
    {"above ext Intel", VCORE_X86_VENDOR_INTEL, 0x80000009u, 0, 7, 832, 832, 0},
    {"above ext AMD", VCORE_X86_VENDOR_AMD, 0x80000009u, 0, 0, 0, 0, 0},
    /* A hypervisor leaf the table lists is answered from it (an exact
     * match wins over the basic-range rule), on every vendor. */
    {"hypervisor leaf listed Intel", VCORE_X86_VENDOR_INTEL, 0x40000000u, 0, 0x40000001u, 0x4b4d564b, 0x564b4d56, 0x4d},
    {"hypervisor leaf listed AMD", VCORE_X86_VENDOR_AMD, 0x40000000u, 0, 0x40000001u, 0x4b4d564b, 0x564b4d56, 0x4d},
    /* Inside the hypervisor range (40000000H:EAX = 40000001H) but unlisted: zeros. */
    {"hypervisor leaf missing in range", VCORE_X86_VENDOR_INTEL, 0x40000001u, 0, 0, 0, 0, 0},
    /* Above the hypervisor range's maximum: Intel's highest basic leaf, AMD zeros. */
    {"above hypervisor range Intel", VCORE_X86_VENDOR_INTEL, 0x40000002u, 0, 7, 832, 832, 0},
    {"above hypervisor range AMD", VCORE_X86_VENDOR_AMD, 0x40000002u, 0, 0, 0, 0, 0},
    {"leaf 0", VCORE_X86_VENDOR_AMD, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69},
};

START_TEST(test_query)
{
    const query_case_t *c = &query_cases[_i];
    vcore_cpuid_entry_t t[16];
    uint32_t n = query_table(t);
    vcore_cpuid_entry_t out;
    memset(&out, 0xee, sizeof(out));
    vcore__cpuid_query(t, n, c->vendor, c->function, c->index, &out);
    ck_assert_uint_eq(out.function, c->function);
    ck_assert_uint_eq(out.index, c->index);
    ck_assert_msg(out.eax == c->eax && out.ebx == c->ebx && out.ecx == c->ecx && out.edx == c->edx,
                  "%s: %#x %#x %#x %#x", c->what, out.eax, out.ebx, out.ecx, out.edx);
}
END_TEST

START_TEST(test_query_no_extended_leaves)
{
    vcore_cpuid_entry_t t[2] = {leaf0(1, "GenuineIntel"), ent(1, 0, 0, 0x906ea, 1, 2, 3)};
    vcore_cpuid_entry_t out;
    /* No 80000000H: every extended leaf is out of range. */
    vcore__cpuid_query(t, 2, VCORE_X86_VENDOR_INTEL, 0x80000000u, 0, &out);
    ck_assert_uint_eq(out.eax, 0x906ea);
    vcore__cpuid_query(t, 2, VCORE_X86_VENDOR_AMD, 0x80000000u, 0, &out);
    ck_assert_uint_eq(out.eax, 0);
    /* No 40000000H leaf: the hypervisor range is empty (Intel: highest basic). */
    vcore__cpuid_query(t, 2, VCORE_X86_VENDOR_INTEL, 0x40000003u, 0, &out);
    ck_assert_uint_eq(out.eax, 0x906ea);
    vcore__cpuid_query(t, 2, VCORE_X86_VENDOR_AMD, 0x40000003u, 0, &out);
    ck_assert_uint_eq(out.eax, 0);
    /* Empty table: zeros everywhere. */
    vcore__cpuid_query(NULL, 0, VCORE_X86_VENDOR_INTEL, 1, 0, &out);
    ck_assert(out.eax == 0 && out.ebx == 0 && out.ecx == 0 && out.edx == 0);
    vcore__cpuid_query(t, 2, VCORE_X86_VENDOR_INTEL, 1, 0, NULL); /* must not crash */
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *x86_cpuid_suite(void)
{
    Suite *s = suite_create("x86_cpuid");
    TCase *tc = tcase_create("find_check");
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_check_count);
    tcase_add_test(tc, test_check_flags);
    tcase_add_loop_test(tc, test_check_duplicates, 0, N(dup_cases));
    tcase_add_test(tc, test_check_duplicates_random);
    tcase_add_loop_test(tc, test_check_address_sizes, 0, N(addr_cases));
    tcase_add_test(tc, test_check_xsave_ok);
    tcase_add_loop_test(tc, test_check_xsave_inconsistent, 0, XS_NCASES);
    suite_add_tcase(s, tc);

    tc = tcase_create("xsave_size");
    tcase_add_test(tc, test_xsave_size);
    tcase_add_test(tc, test_xsave_size_compacted_alignment);
    tcase_add_test(tc, test_xsave_size_saturates);
    suite_add_tcase(s, tc);

    tc = tcase_create("runtime");
    tcase_add_test(tc, test_runtime_osxsave);
    tcase_add_test(tc, test_runtime_apic);
    tcase_add_test(tc, test_runtime_ospke);
    tcase_add_test(tc, test_runtime_monitor);
    tcase_add_test(tc, test_runtime_xsave_sizes);
    tcase_add_test(tc, test_runtime_untouched_rest);
    suite_add_tcase(s, tc);

    tc = tcase_create("after_set");
    tcase_add_test(tc, test_after_set_vendor);
    tcase_add_test(tc, test_after_set_signature);
    tcase_add_loop_test(tc, test_after_set_maxphyaddr, 0, N(phys_cases));
    tcase_add_test(tc, test_after_set_linear_bits);
    tcase_add_test(tc, test_after_set_cr0_reserved);
    tcase_add_loop_test(tc, test_after_set_cr4_features, 0, N(cr4_features));
    tcase_add_test(tc, test_after_set_cr4_always_and_never);
    tcase_add_loop_test(tc, test_after_set_efer_features, 0, N(efer_features));
    tcase_add_test(tc, test_after_set_efer_lmsle_never);
    tcase_add_test(tc, test_after_set_xcr0_and_size);
    tcase_add_loop_test(tc, test_after_set_features, 0, N(feat_cases));
    tcase_add_test(tc, test_model_default);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_loop_test(tc, test_query, 0, N(query_cases));
    tcase_add_test(tc, test_query_no_extended_leaves);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(x86_cpuid_suite());
}
