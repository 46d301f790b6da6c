/*
 * test_x86_msr.c - RDMSR/WRMSR semantics of the x86 model (src/core/x86/msr.c):
 * round trips, where each MSR is stored, each refused value with its
 * diagnostic, and that a refused write leaves the state untouched.
 */
#include "support.h"

#include "core/x86/x86.h"

#define BIT(n) (1ull << (n))
#define NONCANON 0x0000800000000000ull
#define CANON_HI 0xffff800000000000ull

/* Intel model with x2APIC, MAXPHYADDR 40, 48-bit addresses, EFER SCE/LME/
 * LMA/NXE (no SVME), CR4 bits 0-24 except 15. */
static vcore_x86_cpu_model_t test_model(void)
{
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(VCORE_X86_VENDOR_INTEL, &m);
    m.features |= VCORE_X86_FEAT_X2APIC | VCORE_X86_FEAT_LM | VCORE_X86_FEAT_NX;
    m.maxphyaddr = 40;
    m.linear_bits = 48;
    m.cr4_reserved = ~((BIT(25) - 1) & ~BIT(15));
    m.efer_reserved = ~(BIT(0) | BIT(8) | BIT(10) | BIT(11));
    return m;
}

static vcore_x86_state_t reset_state(void)
{
    vcore_x86_state_t st;
    vcore_x86_cpu_model_t m = test_model();
    memset(&st, 0, sizeof(st));
    vcore__x86_reset(&st, &m, VCORE_X86_VENDOR_INTEL, false, true);
    return st;
}

/* The state a 64-bit guest kernel runs in. */
static vcore_x86_state_t long_mode_state(void)
{
    vcore_x86_state_t st = reset_state();
    st.sregs.cr0 = 0x80010011ull; /* PG WP ET PE */
    st.sregs.cr4 = 0x20;          /* PAE */
    st.sregs.efer = 0xd01;        /* NXE LMA LME SCE */
    st.sregs.cr3 = 0x1000;
    return st;
}

/* Where each MSR must be stored. */
static uint64_t *field_of(vcore_x86_state_t *st, uint32_t index)
{
    switch (index) {
    case VCORE_MSR_IA32_TSC: return &st->msrs.tsc;
    case VCORE_MSR_IA32_APIC_BASE: return &st->msrs.apic_base;
    case VCORE_MSR_IA32_SMBASE: return &st->msrs.smbase;
    case VCORE_MSR_IA32_SYSENTER_CS: return &st->msrs.sysenter_cs;
    case VCORE_MSR_IA32_SYSENTER_ESP: return &st->msrs.sysenter_esp;
    case VCORE_MSR_IA32_SYSENTER_EIP: return &st->msrs.sysenter_eip;
    case VCORE_MSR_IA32_MISC_ENABLE: return &st->msrs.misc_enable;
    case VCORE_MSR_IA32_PAT: return &st->msrs.pat;
    case VCORE_MSR_IA32_EFER: return &st->sregs.efer;
    case VCORE_MSR_IA32_STAR: return &st->msrs.star;
    case VCORE_MSR_IA32_LSTAR: return &st->msrs.lstar;
    case VCORE_MSR_IA32_CSTAR: return &st->msrs.cstar;
    case VCORE_MSR_IA32_FMASK: return &st->msrs.sfmask;
    case VCORE_MSR_IA32_FS_BASE: return &st->sregs.seg[VCORE_X86_FS].base;
    case VCORE_MSR_IA32_GS_BASE: return &st->sregs.seg[VCORE_X86_GS].base;
    case VCORE_MSR_IA32_KERNEL_GS_BASE: return &st->msrs.kernel_gs_base;
    case VCORE_MSR_IA32_TSC_AUX: return &st->msrs.tsc_aux;
    case VCORE_MSR_IA32_FEATURE_CONTROL: return &st->msrs.feature_control;
    default: return NULL;
    }
}

typedef struct {
    uint32_t index;
    uint64_t value; /* a legal value different from the RESET value */
    uint32_t cls;
} msr_ok_case_t;

static const msr_ok_case_t ok_cases[] = {
    /* The TSC is its own state group: it advances while the guest runs and
     * must never be re-sent because another MSR changed. */
    {VCORE_MSR_IA32_TSC, 0xffffffffffffffffull, VCORE_X86_STATE_TSC},
    {VCORE_MSR_IA32_APIC_BASE, 0xfed00000ull | BIT(11), VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_SMBASE, 0xffffffffull, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_SYSENTER_CS, 0x10, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_SYSENTER_ESP, CANON_HI | 0x1234, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_SYSENTER_EIP, 0x00007fffffffffffull, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_MISC_ENABLE, 0x1800 | BIT(18) | BIT(0), VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_PAT, 0x0706050401000706ull, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_EFER, BIT(0) | BIT(8) | BIT(11), VCORE_X86_STATE_EFER},
    {VCORE_MSR_IA32_STAR, 0xffffffffffffffffull, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_LSTAR, CANON_HI, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_CSTAR, 0x00007ffffffff000ull, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_FMASK, 0xffffffffull, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_FS_BASE, CANON_HI | 0x10, VCORE_X86_STATE_SEG_DATA},
    {VCORE_MSR_IA32_GS_BASE, 0x7f0000001000ull, VCORE_X86_STATE_SEG_DATA},
    {VCORE_MSR_IA32_KERNEL_GS_BASE, 0xffffffff80000000ull, VCORE_X86_STATE_MSRS},
    {VCORE_MSR_IA32_TSC_AUX, 0xffffffffull, VCORE_X86_STATE_MSRS},
};

START_TEST(test_round_trip)
{
    const msr_ok_case_t *c = &ok_cases[_i];
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = reset_state();
    vcore_x86_state_t before = st;
    vcore_diag_t d = {.size = sizeof(d)};
    uint64_t v = 0xdead;

    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, c->index, c->value, &d), VCORE_OK);
    ck_assert_int_eq(vcore__x86_msr_get(&st, c->index, &v), VCORE_OK);
    ck_assert_msg(v == c->value, "MSR %#x: read %#llx wrote %#llx", c->index,
                  (unsigned long long)v, (unsigned long long)c->value);
    /* Stored in the right field and nowhere else. */
    ck_assert_uint_eq(*field_of(&st, c->index), c->value);
    *field_of(&before, c->index) = c->value;
    ck_assert_msg(memcmp(&before, &st, sizeof(st)) == 0, "MSR %#x changed other state", c->index);
    ck_assert_uint_eq(vcore__x86_msr_classes(c->index), c->cls);
}
END_TEST

/* ------------------------------------------------------ IA32_FEATURE_CONTROL */

/* SDM Vol. 3, "Enabling and Entering VMX Operation"; SDM Vol. 4,
 * "IA32_FEATURE_CONTROL": bit 0 lock, bit 1 VMX inside SMX, bit 2 VMX
 * outside SMX, bits 14:8 SENTER local enables, bit 15 SENTER global. */
START_TEST(test_feature_control)
{
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = reset_state();
    vcore_diag_t d = {.size = sizeof(d)};
    uint64_t v = 1;
    /* Power-up value 0, in the MSRS group. */
    ck_assert_int_eq(vcore__x86_msr_get(&st, VCORE_MSR_IA32_FEATURE_CONTROL, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_uint_eq(vcore__x86_msr_classes(VCORE_MSR_IA32_FEATURE_CONTROL), VCORE_X86_STATE_MSRS);
    /* Without VMX in CPUID, the VMX enable bits are reserved; lock alone is fine. */
    m.features &= ~(VCORE_X86_FEAT_VMX | VCORE_X86_FEAT_SMX);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL, BIT(2), &d),
                     VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_MSR_RESERVED);
    /* VMX without SMX: bit 2 allowed, bit 1 (inside SMX) and SENTER not. */
    m.features |= VCORE_X86_FEAT_VMX;
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL, BIT(1), &d),
                     VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL, BIT(8), &d),
                     VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL, BIT(3), &d),
                     VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL, BIT(2), &d),
                     VCORE_OK);
    /* With SMX: bit 1 and the SENTER enables too. */
    m.features |= VCORE_X86_FEAT_SMX;
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL,
                                        BIT(1) | BIT(2) | 0xff00u, &d),
                     VCORE_OK);
    /* Locking is a write like any other; afterwards every write is #GP,
     * even one that leaves the value unchanged. */
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL, BIT(0) | BIT(2), &d),
                     VCORE_OK);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_FEATURE_CONTROL, BIT(0) | BIT(2), &d),
                     VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_FEATURE_CONTROL_LOCKED);
    ck_assert_int_eq(vcore__x86_msr_get(&st, VCORE_MSR_IA32_FEATURE_CONTROL, &v), VCORE_OK);
    ck_assert_uint_eq(v, BIT(0) | BIT(2));
    /* INIT keeps it (an MSR), RESET clears the lock. */
    vcore__x86_reset(&st, &m, VCORE_X86_VENDOR_INTEL, true, true);
    ck_assert_uint_eq(st.msrs.feature_control, BIT(0) | BIT(2));
    vcore__x86_reset(&st, &m, VCORE_X86_VENDOR_INTEL, false, true);
    ck_assert_uint_eq(st.msrs.feature_control, 0);
}
END_TEST

START_TEST(test_get_reads_state)
{
    /* get must read the live field, not a cached copy. */
    const msr_ok_case_t *c = &ok_cases[_i];
    vcore_x86_state_t st = reset_state();
    uint64_t v = 0;
    *field_of(&st, c->index) = 0x123456789ull + _i;
    ck_assert_int_eq(vcore__x86_msr_get(&st, c->index, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x123456789ull + (uint64_t)_i);
}
END_TEST

START_TEST(test_unknown_index)
{
    static const uint32_t unknown[] = {0, 0x11, 0x1a1, 0x277 + 1, 0xc0000085u, 0xc0000104u,
                                       0x40000000u, 0xffffffffu, 0x3b};
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = reset_state();
    vcore_x86_state_t before = st;
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        vcore_diag_t d = {.size = sizeof(d)};
        uint64_t v = 77;
        ck_assert_int_eq(vcore__x86_msr_get(&st, unknown[i], &v), VCORE_ERR_NOENT);
        ck_assert_uint_eq(v, 77);
        ck_assert_int_eq(vcore__x86_msr_set(&m, &st, unknown[i], 0, &d), VCORE_ERR_NOENT);
        ck_assert_uint_eq(d.id, VCORE_DIAG_MSR_UNKNOWN);
        ck_assert_uint_eq(d.value, unknown[i]);
        ck_assert_uint_eq(vcore__x86_msr_classes(unknown[i]), 0);
    }
    ck_assert(memcmp(&before, &st, sizeof(st)) == 0);
}
END_TEST

START_TEST(test_null_args)
{
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = reset_state();
    uint64_t v;
    ck_assert_int_eq(vcore__x86_msr_get(NULL, VCORE_MSR_IA32_TSC, &v), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_msr_get(&st, VCORE_MSR_IA32_TSC, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_msr_set(NULL, &st, VCORE_MSR_IA32_TSC, 1, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_msr_set(&m, NULL, VCORE_MSR_IA32_TSC, 1, NULL), VCORE_ERR_INVAL);
    /* A NULL diagnostic is allowed on both paths. */
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_TSC, 1, NULL), VCORE_OK);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_PAT, 2, NULL), VCORE_ERR_INVAL);
}
END_TEST

typedef struct {
    const char *what;
    int start; /* 0 RESET state, 1 long mode, 2 x2APIC mode, 3 APIC disabled */
    uint32_t index;
    uint64_t value;
    uint32_t diag; /* VCORE_DIAG_NONE = accepted */
} msr_case_t;

#define APIC_XAPIC (0xfee00000ull | BIT(11))
#define APIC_X2APIC (0xfee00000ull | BIT(11) | BIT(10))

static const msr_case_t cases[] = {
    /* IA32_APIC_BASE */
    {"apic bit 0", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(0), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 1", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(1), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 2", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(2), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 3", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(3), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 4", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(4), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 5", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(5), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 6", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(6), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 7", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(7), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic bit 9", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(9), VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic BSP bit", 0, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC | BIT(8), VCORE_DIAG_NONE},
    {"apic base MAXPHYADDR-1", 0, VCORE_MSR_IA32_APIC_BASE, ((1ull << 40) - 0x1000) | BIT(11),
     VCORE_DIAG_NONE},
    {"apic base bit MAXPHYADDR", 0, VCORE_MSR_IA32_APIC_BASE, (1ull << 40) | APIC_XAPIC,
     VCORE_DIAG_APIC_BASE_RESERVED},
    {"apic base bit 63", 0, VCORE_MSR_IA32_APIC_BASE, BIT(63) | APIC_XAPIC,
     VCORE_DIAG_APIC_BASE_RESERVED},
    {"xAPIC -> x2APIC", 0, VCORE_MSR_IA32_APIC_BASE, APIC_X2APIC, VCORE_DIAG_NONE},
    {"xAPIC -> disabled", 0, VCORE_MSR_IA32_APIC_BASE, 0xfee00000ull, VCORE_DIAG_NONE},
    {"xAPIC -> EXTD without EN", 0, VCORE_MSR_IA32_APIC_BASE, 0xfee00000ull | BIT(10),
     VCORE_DIAG_APIC_BASE_X2APIC_INVALID},
    {"x2APIC -> xAPIC", 2, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC,
     VCORE_DIAG_APIC_BASE_X2APIC_INVALID},
    {"x2APIC -> disabled", 2, VCORE_MSR_IA32_APIC_BASE, 0xfee00000ull, VCORE_DIAG_NONE},
    {"x2APIC -> x2APIC", 2, VCORE_MSR_IA32_APIC_BASE, APIC_X2APIC | BIT(8), VCORE_DIAG_NONE},
    {"x2APIC -> EXTD without EN", 2, VCORE_MSR_IA32_APIC_BASE, 0xfee00000ull | BIT(10),
     VCORE_DIAG_APIC_BASE_X2APIC_INVALID},
    {"disabled -> xAPIC", 3, VCORE_MSR_IA32_APIC_BASE, APIC_XAPIC, VCORE_DIAG_NONE},
    {"disabled -> x2APIC", 3, VCORE_MSR_IA32_APIC_BASE, APIC_X2APIC,
     VCORE_DIAG_APIC_BASE_X2APIC_INVALID},
    /* SMBASE */
    {"smbase 32-bit", 0, VCORE_MSR_IA32_SMBASE, 0xa0000, VCORE_DIAG_NONE},
    {"smbase bit 32", 0, VCORE_MSR_IA32_SMBASE, BIT(32), VCORE_DIAG_MSR_RESERVED},
    {"smbase bit 63", 0, VCORE_MSR_IA32_SMBASE, BIT(63) | 0x30000, VCORE_DIAG_MSR_RESERVED},
    /* canonical address MSRs */
    {"sysenter_esp", 0, VCORE_MSR_IA32_SYSENTER_ESP, NONCANON, VCORE_DIAG_NONCANONICAL},
    {"sysenter_eip", 0, VCORE_MSR_IA32_SYSENTER_EIP, NONCANON, VCORE_DIAG_NONCANONICAL},
    {"lstar", 0, VCORE_MSR_IA32_LSTAR, NONCANON, VCORE_DIAG_NONCANONICAL},
    {"cstar", 0, VCORE_MSR_IA32_CSTAR, 0xffff7fffffffffffull, VCORE_DIAG_NONCANONICAL},
    {"fs_base", 0, VCORE_MSR_IA32_FS_BASE, NONCANON, VCORE_DIAG_NONCANONICAL},
    {"gs_base", 0, VCORE_MSR_IA32_GS_BASE, BIT(63), VCORE_DIAG_NONCANONICAL},
    {"kernel_gs_base", 0, VCORE_MSR_IA32_KERNEL_GS_BASE, NONCANON, VCORE_DIAG_NONCANONICAL},
    {"sysenter_cs any", 0, VCORE_MSR_IA32_SYSENTER_CS, 0xffffffffffffffffull, VCORE_DIAG_NONE},
    /* MISC_ENABLE */
    {"misc clear BTS_UNAVAIL", 0, VCORE_MSR_IA32_MISC_ENABLE, 0x1000, VCORE_DIAG_MSR_READ_ONLY},
    {"misc clear PEBS_UNAVAIL", 0, VCORE_MSR_IA32_MISC_ENABLE, 0x0800, VCORE_DIAG_MSR_READ_ONLY},
    {"misc clear both", 0, VCORE_MSR_IA32_MISC_ENABLE, 0, VCORE_DIAG_MSR_READ_ONLY},
    {"misc set MWAIT", 0, VCORE_MSR_IA32_MISC_ENABLE, 0x1800 | BIT(18), VCORE_DIAG_NONE},
    {"misc set fast strings", 0, VCORE_MSR_IA32_MISC_ENABLE, 0x1801, VCORE_DIAG_NONE},
    /* FMASK, TSC_AUX */
    {"fmask bit 32", 0, VCORE_MSR_IA32_FMASK, BIT(32), VCORE_DIAG_MSR_RESERVED},
    {"tsc_aux bit 32", 0, VCORE_MSR_IA32_TSC_AUX, BIT(32) | 1, VCORE_DIAG_MSR_RESERVED},
    {"tsc_aux bit 63", 0, VCORE_MSR_IA32_TSC_AUX, BIT(63), VCORE_DIAG_MSR_RESERVED},
    /* EFER, through the system-register rules */
    {"efer LME from RESET", 0, VCORE_MSR_IA32_EFER, BIT(8), VCORE_DIAG_NONE},
    {"efer LMA from RESET", 0, VCORE_MSR_IA32_EFER, BIT(10), VCORE_DIAG_EFER_LMA_MISMATCH},
    {"efer SVME not enumerated", 0, VCORE_MSR_IA32_EFER, BIT(12), VCORE_DIAG_EFER_RESERVED},
    {"efer bit 1", 0, VCORE_MSR_IA32_EFER, BIT(1), VCORE_DIAG_EFER_RESERVED},
    {"efer bit 63", 0, VCORE_MSR_IA32_EFER, BIT(63), VCORE_DIAG_EFER_RESERVED},
    {"efer NXE in long mode", 1, VCORE_MSR_IA32_EFER, 0xd01, VCORE_DIAG_NONE},
    {"efer clear NXE in long mode", 1, VCORE_MSR_IA32_EFER, 0x501, VCORE_DIAG_NONE},
    {"efer clear LME in long mode", 1, VCORE_MSR_IA32_EFER, 0x801,
     VCORE_DIAG_EFER_LME_CHANGE_WITH_PAGING},
    {"efer clear LMA in long mode", 1, VCORE_MSR_IA32_EFER, 0x901, VCORE_DIAG_EFER_LMA_MISMATCH},
};

START_TEST(test_msr_rules)
{
    const msr_case_t *c = &cases[_i];
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = c->start == 1 ? long_mode_state() : reset_state();
    if (c->start == 2)
        st.msrs.apic_base = APIC_X2APIC;
    if (c->start == 3)
        st.msrs.apic_base = 0xfee00000ull;
    vcore_x86_state_t before = st;
    vcore_diag_t d = {.size = sizeof(d)};
    int rc = vcore__x86_msr_set(&m, &st, c->index, c->value, &d);
    if (c->diag == VCORE_DIAG_NONE) {
        ck_assert_msg(rc == VCORE_OK, "%s: refused, diag %#x", c->what, d.id);
        ck_assert_uint_eq(*field_of(&st, c->index), c->value);
        return;
    }
    ck_assert_msg(rc == VCORE_ERR_INVAL, "%s: rc %d", c->what, rc);
    ck_assert_msg(d.id == c->diag, "%s: diag %#x expected %#x", c->what, d.id, c->diag);
    ck_assert_msg(d.value == c->value, "%s: diag value %#llx", c->what,
                  (unsigned long long)d.value);
    ck_assert_msg(memcmp(&before, &st, sizeof(st)) == 0, "%s: state changed", c->what);
}
END_TEST

START_TEST(test_apic_extd_needs_x2apic_feature)
{
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = reset_state();
    vcore_diag_t d = {.size = sizeof(d)};
    m.features &= ~VCORE_X86_FEAT_X2APIC;
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_APIC_BASE, APIC_X2APIC, &d),
                     VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_APIC_BASE_X2APIC_INVALID);
    ck_assert_uint_eq(st.msrs.apic_base, APIC_XAPIC | BIT(8));
    m.features |= VCORE_X86_FEAT_X2APIC;
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_APIC_BASE, APIC_X2APIC, &d),
                     VCORE_OK);
}
END_TEST

START_TEST(test_apic_maxphyaddr_follows_model)
{
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = reset_state();
    m.maxphyaddr = 36;
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_APIC_BASE,
                                        (1ull << 36) | APIC_XAPIC, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_APIC_BASE,
                                        ((1ull << 36) - 0x1000) | BIT(11), NULL), VCORE_OK);
    m.maxphyaddr = 52;
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_APIC_BASE,
                                        ((1ull << 52) - 0x1000) | BIT(11), NULL), VCORE_OK);
}
END_TEST

START_TEST(test_pat_each_entry)
{
    /* _i = entry (0-7). Types 0,1,4,5,6,7 valid; 2,3,8,0x80,0xff refused. */
    static const struct { uint64_t type; bool ok; } types[] = {
        {0, true}, {1, true}, {2, false}, {3, false}, {4, true}, {5, true},
        {6, true}, {7, true}, {8, false}, {0x0f, false}, {0x80, false}, {0xff, false}};
    unsigned entry = (unsigned)_i;
    vcore_x86_cpu_model_t m = test_model();
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        vcore_x86_state_t st = reset_state();
        vcore_diag_t d = {.size = sizeof(d)};
        uint64_t pat = VCORE_PAT_DEFAULT & ~(0xffull << (entry * 8));
        pat |= types[t].type << (entry * 8);
        int rc = vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_PAT, pat, &d);
        if (types[t].ok) {
            ck_assert_msg(rc == VCORE_OK, "PAT entry %u type %#llx refused", entry,
                          (unsigned long long)types[t].type);
            ck_assert_uint_eq(st.msrs.pat, pat);
        } else {
            ck_assert_msg(rc == VCORE_ERR_INVAL, "PAT entry %u type %#llx accepted", entry,
                          (unsigned long long)types[t].type);
            ck_assert_uint_eq(d.id, VCORE_DIAG_PAT_INVALID);
            ck_assert_uint_eq(d.value, pat);
            ck_assert_uint_eq(st.msrs.pat, VCORE_PAT_DEFAULT);
        }
    }
}
END_TEST

START_TEST(test_canonical_msrs_la57)
{
    static const uint32_t idx[] = {VCORE_MSR_IA32_SYSENTER_ESP, VCORE_MSR_IA32_SYSENTER_EIP,
                                   VCORE_MSR_IA32_LSTAR, VCORE_MSR_IA32_CSTAR,
                                   VCORE_MSR_IA32_FS_BASE, VCORE_MSR_IA32_GS_BASE,
                                   VCORE_MSR_IA32_KERNEL_GS_BASE};
    vcore_x86_cpu_model_t m = test_model();
    m.linear_bits = 57;
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        vcore_x86_state_t st = reset_state();
        ck_assert_int_eq(vcore__x86_msr_set(&m, &st, idx[i], NONCANON, NULL), VCORE_OK);
        ck_assert_int_eq(vcore__x86_msr_set(&m, &st, idx[i], 0x00ffffffffffffffull, NULL),
                         VCORE_OK);
        ck_assert_int_eq(vcore__x86_msr_set(&m, &st, idx[i], 1ull << 56, NULL), VCORE_ERR_INVAL);
    }
}
END_TEST

START_TEST(test_misc_enable_read_only_from_other_values)
{
    /* The read-only rule compares with the current value, not a constant. */
    vcore_x86_cpu_model_t m = test_model();
    vcore_x86_state_t st = reset_state();
    st.msrs.misc_enable = 0; /* e.g. restored from a CPU that has BTS */
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_MISC_ENABLE, BIT(18), NULL),
                     VCORE_OK);
    ck_assert_int_eq(vcore__x86_msr_set(&m, &st, VCORE_MSR_IA32_MISC_ENABLE, BIT(11), NULL),
                     VCORE_ERR_INVAL);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *x86_msr_suite(void)
{
    Suite *s = suite_create("x86_msr");
    TCase *tc = tcase_create("access");
    tcase_add_loop_test(tc, test_round_trip, 0, N(ok_cases));
    tcase_add_test(tc, test_feature_control);
    tcase_add_loop_test(tc, test_get_reads_state, 0, N(ok_cases));
    tcase_add_test(tc, test_unknown_index);
    tcase_add_test(tc, test_null_args);
    suite_add_tcase(s, tc);

    tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_msr_rules, 0, N(cases));
    tcase_add_test(tc, test_apic_extd_needs_x2apic_feature);
    tcase_add_test(tc, test_apic_maxphyaddr_follows_model);
    tcase_add_loop_test(tc, test_pat_each_entry, 0, 8);
    tcase_add_test(tc, test_canonical_msrs_la57);
    tcase_add_test(tc, test_misc_enable_read_only_from_other_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(x86_msr_suite());
}
