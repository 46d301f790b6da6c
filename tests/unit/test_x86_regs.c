/*
 * test_x86_regs.c - canonical/MAXPHYADDR helpers and the register-block
 * validators of the x86 model (src/core/x86/addr.c, regs.c), tested directly.
 *
 * Expected values are written from the manuals (bit lists below), not
 * computed with the library's own masks.
 */
#include "support.h"

#include "core/x86/x86.h"

#define BIT(n) (1ull << (n))

/* CR0 bits the SDM defines (Vol. 3, "Control Registers"). */
#define T_CR0_PE BIT(0)
#define T_CR0_ET BIT(4)
#define T_CR0_WP BIT(16)
#define T_CR0_NW BIT(29)
#define T_CR0_CD BIT(30)
#define T_CR0_PG BIT(31)
static const unsigned cr0_defined_bits[] = {0, 1, 2, 3, 4, 5, 16, 18, 29, 30, 31};

#define T_CR4_PAE BIT(5)
#define T_CR4_LA57 BIT(12)
#define T_CR4_PCIDE BIT(17)
#define T_CR4_CET BIT(23)

#define T_EFER_SCE BIT(0)
#define T_EFER_LME BIT(8)
#define T_EFER_LMA BIT(10)
#define T_EFER_NXE BIT(11)
#define T_EFER_SVME BIT(12)

/* Long mode: PE|ET|WP|PG, PAE, SCE|LME|LMA|NXE. */
#define LM_CR0 (T_CR0_PE | T_CR0_ET | T_CR0_WP | T_CR0_PG)
#define LM_CR4 T_CR4_PAE
#define LM_EFER (T_EFER_SCE | T_EFER_LME | T_EFER_LMA | T_EFER_NXE)
/* Protected mode without paging. */
#define PM_CR0 (T_CR0_PE | T_CR0_ET)
/* 32-bit protected mode with paging (no long mode). */
#define PG_CR0 (T_CR0_PE | T_CR0_ET | T_CR0_PG)

/* A model that allows every CR4 feature bit (0-14 except 15, 16-24), the
 * EFER bits SCE/LME/LMA/NXE/SVME, MAXPHYADDR 40 and 48-bit linear addresses. */
static vcore_x86_cpu_model_t full_model(void)
{
    vcore_x86_cpu_model_t m;
    memset(&m, 0, sizeof(m));
    m.size = sizeof(m);
    m.vendor = VCORE_X86_VENDOR_INTEL;
    m.signature = 0x600;
    m.maxphyaddr = 40;
    m.linear_bits = 48;
    m.cr0_reserved = ~0ull;
    for (size_t i = 0; i < sizeof(cr0_defined_bits) / sizeof(cr0_defined_bits[0]); i++)
        m.cr0_reserved &= ~BIT(cr0_defined_bits[i]);
    m.cr4_reserved = ~((BIT(25) - 1) & ~BIT(15));
    m.efer_reserved = ~(T_EFER_SCE | T_EFER_LME | T_EFER_LMA | T_EFER_NXE | T_EFER_SVME);
    m.supported_xcr0 = 0x600ffull;
    return m;
}

/* Well-formed segments (32-bit flat data/code, TSS, LDT) with zero bases. */
static vcore_x86_sregs_t base_sregs(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    vcore_x86_sregs_t s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++) {
        s.seg[i].limit = 0xffffffffu;
        s.seg[i].ar = 0xc093u; /* G | DB | P | S | data RW accessed */
    }
    s.seg[VCORE_X86_CS].ar = 0xa09bu; /* G | L | P | S | code XR accessed */
    s.seg[VCORE_X86_TR].ar = 0x008bu;
    s.seg[VCORE_X86_LDTR].ar = 0x0082u;
    s.gdtr.limit = 0xffff;
    s.idtr.limit = 0xffff;
    s.cr0 = cr0;
    s.cr4 = cr4;
    s.efer = efer;
    s.cr3 = 0x1000;
    return s;
}

/* ---------------------------------------------------------------- addr.c */

typedef struct {
    uint64_t va;
    uint32_t bits;
    bool ok;
} canon_case_t;

static const canon_case_t canon_cases[] = {
    {0, 48, true},
    {0x00007fffffffffffull, 48, true},  /* highest lower-half address */
    {0x0000800000000000ull, 48, false}, /* first non-canonical */
    {0xffff7fffffffffffull, 48, false}, /* last non-canonical */
    {0xffff800000000000ull, 48, true},  /* lowest upper-half address */
    {0xffffffffffffffffull, 48, true},
    {0x8000000000000000ull, 48, false},
    {0x0001000000000000ull, 48, false},
    {0x00ffffffffffffffull, 57, true},  /* 2^56-1: canonical with LA57 */
    {0x0000800000000000ull, 57, true},  /* non-canonical at 48, fine at 57 */
    {0x0100000000000000ull, 57, false}, /* 2^56 */
    {0xff00000000000000ull, 57, true},
    {0xfeffffffffffffffull, 57, false},
    {0xffff800000000000ull, 57, true},
};

START_TEST(test_canonical)
{
    const canon_case_t *c = &canon_cases[_i];
    ck_assert_msg(vcore__x86_is_canonical(c->va, c->bits) == c->ok, "va %#llx bits %u",
                  (unsigned long long)c->va, c->bits);
}
END_TEST

typedef struct {
    uint64_t pa;
    uint32_t maxphyaddr;
    bool ok;
} phys_case_t;

static const phys_case_t phys_cases[] = {
    {0, 36, true},
    {(1ull << 36) - 1, 36, true},
    {1ull << 36, 36, false},
    {(1ull << 40) - 1, 40, true},
    {1ull << 40, 40, false},
    {(1ull << 52) - 1, 52, true},
    {1ull << 52, 52, false},
    {1ull << 63, 52, false},
    {(1ull << 32) - 1, 32, true},
    {1ull << 32, 32, false},
};

START_TEST(test_phys_ok)
{
    const phys_case_t *c = &phys_cases[_i];
    ck_assert_msg(vcore__x86_phys_ok(c->pa, c->maxphyaddr) == c->ok, "pa %#llx maxphyaddr %u",
                  (unsigned long long)c->pa, c->maxphyaddr);
}
END_TEST

/* ---------------------------------------------------------------- RFLAGS */

START_TEST(test_rflags_bits)
{
    /* _i = bit number. Bit 1 must be 1; 3, 5, 15 and 63:22 are reserved. */
    unsigned bit = (unsigned)_i;
    bool reserved = bit == 3 || bit == 5 || bit == 15 || bit >= 22;
    vcore_x86_regs_t r;
    vcore_diag_t d = {.size = sizeof(d)};
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.rflags = 0x2 | BIT(bit);
    int rc = vcore__x86_check_regs(&r, &d);
    if (reserved) {
        ck_assert_int_eq(rc, VCORE_ERR_INVAL);
        ck_assert_uint_eq(d.id, VCORE_DIAG_RFLAGS_RESERVED);
        ck_assert_uint_eq(d.value, r.rflags);
    } else {
        ck_assert_int_eq(rc, VCORE_OK);
    }
}
END_TEST

START_TEST(test_rflags_bit1_clear)
{
    vcore_x86_regs_t r;
    vcore_diag_t d = {.size = sizeof(d)};
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.rflags = 0;
    ck_assert_int_eq(vcore__x86_check_regs(&r, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_RFLAGS_RESERVED);
    r.rflags = 0x246; /* a typical value: IF ZF PF bit1 */
    ck_assert_int_eq(vcore__x86_check_regs(&r, &d), VCORE_OK);
    ck_assert_int_eq(vcore__x86_check_regs(&r, NULL), VCORE_OK);
    r.rflags = 0x8;
    ck_assert_int_eq(vcore__x86_check_regs(&r, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_check_regs(NULL, NULL), VCORE_ERR_INVAL);
}
END_TEST

/* ---------------------------------------------------------------- sregs */

START_TEST(test_cr0_each_bit)
{
    /* Protected mode without paging, plus one CR0 bit (_i). */
    unsigned bit = (unsigned)_i;
    bool defined = false;
    for (size_t i = 0; i < sizeof(cr0_defined_bits) / sizeof(cr0_defined_bits[0]); i++)
        defined |= cr0_defined_bits[i] == bit;
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t old = base_sregs(PM_CR0, 0, 0);
    vcore_x86_sregs_t neu = old;
    vcore_diag_t d = {.size = sizeof(d)};
    neu.cr0 |= BIT(bit);
    int rc = vcore__x86_check_sregs(&m, &old, &neu, &d);
    uint32_t expect = !defined ? VCORE_DIAG_CR0_RESERVED
                      : BIT(bit) == T_CR0_NW ? VCORE_DIAG_CR0_NW_WITHOUT_CD
                                             : VCORE_DIAG_NONE;
    if (expect == VCORE_DIAG_NONE) {
        ck_assert_msg(rc == VCORE_OK, "CR0 bit %u refused (diag %#x)", bit, d.id);
    } else {
        ck_assert_int_eq(rc, VCORE_ERR_INVAL);
        ck_assert_msg(d.id == expect, "CR0 bit %u: diag %#x expected %#x", bit, d.id, expect);
        ck_assert_uint_eq(d.value, neu.cr0);
    }
}
END_TEST

START_TEST(test_cr4_each_bit_full_model)
{
    /* Protected mode without paging, no WP, plus one CR4 bit (_i). */
    unsigned bit = (unsigned)_i;
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t old = base_sregs(PM_CR0, 0, 0);
    vcore_x86_sregs_t neu = old;
    vcore_diag_t d = {.size = sizeof(d)};
    neu.cr4 = BIT(bit);
    uint32_t expect = (bit == 15 || bit >= 25) ? VCORE_DIAG_CR4_RESERVED
                      : BIT(bit) == T_CR4_PCIDE ? VCORE_DIAG_CR4_PCIDE_WITHOUT_LONG_MODE
                      : BIT(bit) == T_CR4_CET   ? VCORE_DIAG_CR4_CET_WITHOUT_WP
                                                : VCORE_DIAG_NONE;
    int rc = vcore__x86_check_sregs(&m, &old, &neu, &d);
    if (expect == VCORE_DIAG_NONE) {
        ck_assert_msg(rc == VCORE_OK, "CR4 bit %u refused (diag %#x)", bit, d.id);
    } else {
        ck_assert_int_eq(rc, VCORE_ERR_INVAL);
        ck_assert_msg(d.id == expect, "CR4 bit %u: diag %#x expected %#x", bit, d.id, expect);
        ck_assert_uint_eq(d.value, neu.cr4);
    }
}
END_TEST

START_TEST(test_cr4_each_bit_default_model)
{
    /* No CPUID table: only VME..OSXMMEXCPT (bits 0-10) exist. */
    unsigned bit = (unsigned)_i;
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(VCORE_X86_VENDOR_INTEL, &m);
    vcore_x86_sregs_t old = base_sregs(PM_CR0, 0, 0);
    vcore_x86_sregs_t neu = old;
    vcore_diag_t d = {.size = sizeof(d)};
    neu.cr4 = BIT(bit);
    int rc = vcore__x86_check_sregs(&m, &old, &neu, &d);
    if (bit <= 10) {
        ck_assert_msg(rc == VCORE_OK, "CR4 bit %u refused (diag %#x)", bit, d.id);
    } else {
        ck_assert_int_eq(rc, VCORE_ERR_INVAL);
        ck_assert_msg(d.id == VCORE_DIAG_CR4_RESERVED, "CR4 bit %u: diag %#x", bit, d.id);
    }
}
END_TEST

START_TEST(test_efer_each_bit)
{
    /* Protected mode without paging, plus one EFER bit (_i). */
    unsigned bit = (unsigned)_i;
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t old = base_sregs(PM_CR0, 0, 0);
    vcore_x86_sregs_t neu = old;
    vcore_diag_t d = {.size = sizeof(d)};
    neu.efer = BIT(bit);
    uint64_t allowed = T_EFER_SCE | T_EFER_LME | T_EFER_NXE | T_EFER_SVME;
    uint32_t expect = BIT(bit) == T_EFER_LMA    ? VCORE_DIAG_EFER_LMA_MISMATCH
                      : (BIT(bit) & allowed) != 0 ? VCORE_DIAG_NONE
                                                  : VCORE_DIAG_EFER_RESERVED;
    int rc = vcore__x86_check_sregs(&m, &old, &neu, &d);
    if (expect == VCORE_DIAG_NONE) {
        ck_assert_msg(rc == VCORE_OK, "EFER bit %u refused (diag %#x)", bit, d.id);
    } else {
        ck_assert_int_eq(rc, VCORE_ERR_INVAL);
        ck_assert_msg(d.id == expect, "EFER bit %u: diag %#x expected %#x", bit, d.id, expect);
        ck_assert_uint_eq(d.value, neu.efer);
    }
}
END_TEST

enum { V_NONE, V_CR0, V_CR3, V_CR4, V_CR8, V_EFER };

typedef struct {
    const char *what;
    uint64_t old_cr0, old_cr4, old_efer, old_cr3;
    uint64_t cr0, cr4, efer, cr3, cr8;
    uint32_t expect;
    int value_of; /* which register the diagnostic value must hold */
} sregs_case_t;

static const sregs_case_t sregs_cases[] = {
    {"long mode unchanged", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER, 0x1000, 0,
     VCORE_DIAG_NONE, V_NONE},
    {"RESET state", 0x60000010, 0, 0, 0, 0x60000010, 0, 0, 0, 0, VCORE_DIAG_NONE, V_NONE},
    {"CD|NW without PE", PM_CR0, 0, 0, 0, T_CR0_ET | T_CR0_CD | T_CR0_NW, 0, 0, 0, 0,
     VCORE_DIAG_NONE, V_NONE},
    {"CD alone", PM_CR0, 0, 0, 0, PM_CR0 | T_CR0_CD, 0, 0, 0, 0, VCORE_DIAG_NONE, V_NONE},
    {"NW without CD", PM_CR0, 0, 0, 0, PM_CR0 | T_CR0_NW, 0, 0, 0, 0, VCORE_DIAG_CR0_NW_WITHOUT_CD,
     V_CR0},
    {"PG without PE", PM_CR0, 0, 0, 0, T_CR0_ET | T_CR0_PG, 0, 0, 0, 0, VCORE_DIAG_CR0_PG_WITHOUT_PE,
     V_CR0},
    {"32-bit paging", PM_CR0, 0, 0, 0x1000, PG_CR0, 0, 0, 0x1000, 0, VCORE_DIAG_NONE, V_NONE},
    {"enter long mode wholesale", PM_CR0, 0, 0, 0, LM_CR0, LM_CR4, LM_EFER, 0x1000, 0,
     VCORE_DIAG_NONE, V_NONE},
    {"leave long mode wholesale", LM_CR0, LM_CR4, LM_EFER, 0x1000, PM_CR0, 0, T_EFER_LME, 0, 0,
     VCORE_DIAG_NONE, V_NONE},
    {"LME set while paging", PG_CR0, 0, 0, 0x1000, PG_CR0, T_CR4_PAE, T_EFER_LME | T_EFER_LMA,
     0x1000, 0, VCORE_DIAG_EFER_LME_CHANGE_WITH_PAGING, V_EFER},
    {"LME cleared while paging", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4,
     T_EFER_SCE | T_EFER_NXE, 0x1000, 0, VCORE_DIAG_EFER_LME_CHANGE_WITH_PAGING, V_EFER},
    {"LME && PG but LMA=0", PM_CR0, 0, 0, 0, LM_CR0, LM_CR4, T_EFER_LME, 0x1000, 0,
     VCORE_DIAG_EFER_LMA_MISMATCH, V_EFER},
    {"LMA without LME, paging", PM_CR0, 0, 0, 0, LM_CR0, LM_CR4, T_EFER_LMA, 0x1000, 0,
     VCORE_DIAG_EFER_LMA_MISMATCH, V_EFER},
    {"LMA with paging off", PM_CR0, 0, 0, 0, PM_CR0, T_CR4_PAE, T_EFER_LME | T_EFER_LMA, 0, 0,
     VCORE_DIAG_EFER_LMA_MISMATCH, V_EFER},
    {"LME without paging", PM_CR0, 0, 0, 0, PM_CR0, 0, T_EFER_LME, 0, 0, VCORE_DIAG_NONE, V_NONE},
    {"PAE clear in long mode", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, 0, LM_EFER, 0x1000, 0,
     VCORE_DIAG_CR4_PAE_CLEAR_IN_LONG_MODE, V_CR4},
    {"PCIDE set, CR3[11:0]=0", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4 | T_CR4_PCIDE,
     LM_EFER, 0x1000, 0, VCORE_DIAG_NONE, V_NONE},
    {"PCIDE 0->1 with PCID in CR3", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4 | T_CR4_PCIDE,
     LM_EFER, 0x1001, 0, VCORE_DIAG_CR4_PCIDE_WITH_CR3_PCID, V_CR4},
    {"PCIDE 0->1 with CR3 bit 11", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4 | T_CR4_PCIDE,
     LM_EFER, 0x1800, 0, VCORE_DIAG_CR4_PCIDE_WITH_CR3_PCID, V_CR4},
    {"PCIDE stays 1 with PCID in CR3", LM_CR0, LM_CR4 | T_CR4_PCIDE, LM_EFER, 0x1000, LM_CR0,
     LM_CR4 | T_CR4_PCIDE, LM_EFER, 0x1fff, 0, VCORE_DIAG_NONE, V_NONE},
    {"PCIDE outside long mode", PG_CR0, T_CR4_PAE, 0, 0x1000, PG_CR0, T_CR4_PAE | T_CR4_PCIDE, 0,
     0x1000, 0, VCORE_DIAG_CR4_PCIDE_WITHOUT_LONG_MODE, V_CR4},
    {"LA57 set in long mode", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4 | T_CR4_LA57, LM_EFER,
     0x1000, 0, VCORE_DIAG_CR4_LA57_CHANGE_IN_LONG_MODE, V_CR4},
    {"LA57 cleared in long mode", LM_CR0, LM_CR4 | T_CR4_LA57, LM_EFER, 0x1000, LM_CR0, LM_CR4,
     LM_EFER, 0x1000, 0, VCORE_DIAG_CR4_LA57_CHANGE_IN_LONG_MODE, V_CR4},
    {"LA57 kept in long mode", LM_CR0, LM_CR4 | T_CR4_LA57, LM_EFER, 0x1000, LM_CR0,
     LM_CR4 | T_CR4_LA57, LM_EFER, 0x1000, 0, VCORE_DIAG_NONE, V_NONE},
    {"LA57 with entry to long mode", PM_CR0, 0, 0, 0, LM_CR0, LM_CR4 | T_CR4_LA57, LM_EFER, 0x1000,
     0, VCORE_DIAG_NONE, V_NONE},
    {"CET with WP", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4 | T_CR4_CET, LM_EFER, 0x1000, 0,
     VCORE_DIAG_NONE, V_NONE},
    {"CET without WP", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0 & ~T_CR0_WP, LM_CR4 | T_CR4_CET,
     LM_EFER, 0x1000, 0, VCORE_DIAG_CR4_CET_WITHOUT_WP, V_CR4},
    {"WP cleared under CET", LM_CR0, LM_CR4 | T_CR4_CET, LM_EFER, 0x1000, LM_CR0 & ~T_CR0_WP,
     LM_CR4 | T_CR4_CET, LM_EFER, 0x1000, 0, VCORE_DIAG_CR0_WP_CLEAR_WITH_CET, V_CR0},
    {"CR3 at MAXPHYADDR-1", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER,
     (1ull << 40) - 0x1000, 0, VCORE_DIAG_NONE, V_NONE},
    {"CR3 bit MAXPHYADDR", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER, 1ull << 40, 0,
     VCORE_DIAG_CR3_RESERVED, V_CR3},
    {"CR3 bit 63", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER, (1ull << 63) | 0x1000,
     0, VCORE_DIAG_CR3_RESERVED, V_CR3},
    {"CR8 = 15", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER, 0x1000, 15,
     VCORE_DIAG_NONE, V_NONE},
    {"CR8 = 16", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER, 0x1000, 16,
     VCORE_DIAG_CR8_RESERVED, V_CR8},
    {"CR8 bit 63", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER, 0x1000, 1ull << 63,
     VCORE_DIAG_CR8_RESERVED, V_CR8},
    {"CR0 bit 32", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0 | BIT(32), LM_CR4, LM_EFER, 0x1000, 0,
     VCORE_DIAG_CR0_RESERVED, V_CR0},
    {"SVME allowed by model", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4,
     LM_EFER | T_EFER_SVME, 0x1000, 0, VCORE_DIAG_NONE, V_NONE},
    {"EFER bit 9", LM_CR0, LM_CR4, LM_EFER, 0x1000, LM_CR0, LM_CR4, LM_EFER | BIT(9), 0x1000, 0,
     VCORE_DIAG_EFER_RESERVED, V_EFER},
};

START_TEST(test_sregs_table)
{
    const sregs_case_t *c = &sregs_cases[_i];
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t old = base_sregs(c->old_cr0, c->old_cr4, c->old_efer);
    vcore_x86_sregs_t neu = base_sregs(c->cr0, c->cr4, c->efer);
    vcore_diag_t d = {.size = sizeof(d)};
    old.cr3 = c->old_cr3;
    neu.cr3 = c->cr3;
    neu.cr8 = c->cr8;
    int rc = vcore__x86_check_sregs(&m, &old, &neu, &d);
    if (c->expect == VCORE_DIAG_NONE) {
        ck_assert_msg(rc == VCORE_OK, "%s: refused with diag %#x", c->what, d.id);
        return;
    }
    ck_assert_msg(rc == VCORE_ERR_INVAL, "%s: accepted", c->what);
    ck_assert_msg(d.id == c->expect, "%s: diag %#x expected %#x", c->what, d.id, c->expect);
    uint64_t v = c->value_of == V_CR0   ? neu.cr0
                 : c->value_of == V_CR3 ? neu.cr3
                 : c->value_of == V_CR4 ? neu.cr4
                 : c->value_of == V_CR8 ? neu.cr8
                                        : neu.efer;
    ck_assert_msg(d.value == v, "%s: diag value %#llx expected %#llx", c->what,
                  (unsigned long long)d.value, (unsigned long long)v);
}
END_TEST

START_TEST(test_sregs_null_args)
{
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t s = base_sregs(LM_CR0, LM_CR4, LM_EFER);
    ck_assert_int_eq(vcore__x86_check_sregs(NULL, &s, &s, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_check_sregs(&m, &s, NULL, NULL), VCORE_ERR_INVAL);
    /* Without an old state only the static rules apply. */
    ck_assert_int_eq(vcore__x86_check_sregs(&m, NULL, &s, NULL), VCORE_OK);
    s.cr8 = 16;
    ck_assert_int_eq(vcore__x86_check_sregs(&m, NULL, &s, NULL), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(test_segment_ar_reserved_bits)
{
    /* _i walks segment (8) x reserved bit (bits 11:8 and 31:17 = 19 bits). */
    static const unsigned rbits[] = {8, 9, 10, 11, 17, 18, 19, 20, 21, 22,
                                     23, 24, 25, 26, 27, 28, 29, 30, 31};
    int seg = _i / 19;
    unsigned bit = rbits[_i % 19];
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t old = base_sregs(LM_CR0, LM_CR4, LM_EFER);
    vcore_x86_sregs_t neu = old;
    vcore_diag_t d = {.size = sizeof(d)};
    neu.seg[seg].ar |= (uint32_t)BIT(bit);
    ck_assert_int_eq(vcore__x86_check_sregs(&m, &old, &neu, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_SEGMENT_INVALID);
    ck_assert_uint_eq(d.value, neu.seg[seg].ar);
    /* An unusable segment's other bits carry no meaning. */
    neu.seg[seg].ar |= VCORE_X86_AR_UNUSABLE;
    ck_assert_int_eq(vcore__x86_check_sregs(&m, &old, &neu, &d), VCORE_OK);
}
END_TEST

START_TEST(test_segment_defined_ar_bits_ok)
{
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t s = base_sregs(LM_CR0, LM_CR4, LM_EFER);
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++)
        s.seg[i].ar = 0x1f0ffu & ~VCORE_X86_AR_UNUSABLE; /* type, S, DPL, P, AVL, L, DB, G */
    ck_assert_int_eq(vcore__x86_check_sregs(&m, NULL, &s, NULL), VCORE_OK);
    s.seg[VCORE_X86_DS].pad = 1;
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore__x86_check_sregs(&m, NULL, &s, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_SEGMENT_INVALID);
}
END_TEST

typedef struct {
    const char *what;
    int target; /* 0 GDTR, 1 IDTR, else 2 + segment index */
} base_target_t;

static const base_target_t base_targets[] = {
    {"GDTR", 0}, {"IDTR", 1}, {"FS", 2 + VCORE_X86_FS}, {"GS", 2 + VCORE_X86_GS},
    {"TR", 2 + VCORE_X86_TR}, {"LDTR", 2 + VCORE_X86_LDTR},
};

static void set_base(vcore_x86_sregs_t *s, int target, uint64_t v)
{
    if (target == 0)
        s->gdtr.base = v;
    else if (target == 1)
        s->idtr.base = v;
    else
        s->seg[target - 2].base = v;
}

START_TEST(test_long_mode_bases_canonical)
{
    const base_target_t *t = &base_targets[_i];
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_sregs_t old = base_sregs(LM_CR0, LM_CR4, LM_EFER);
    vcore_x86_sregs_t neu = old;
    vcore_diag_t d = {.size = sizeof(d)};

    set_base(&neu, t->target, 0x00007ffffffff000ull);
    ck_assert_msg(vcore__x86_check_sregs(&m, &old, &neu, &d) == VCORE_OK, "%s low half", t->what);
    set_base(&neu, t->target, 0xffff800000000000ull);
    ck_assert_msg(vcore__x86_check_sregs(&m, &old, &neu, &d) == VCORE_OK, "%s high half", t->what);
    set_base(&neu, t->target, 0x0000800000000000ull);
    ck_assert_msg(vcore__x86_check_sregs(&m, &old, &neu, &d) == VCORE_ERR_INVAL, "%s noncanon",
                  t->what);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NONCANONICAL);
    ck_assert_uint_eq(d.value, 0x0000800000000000ull);
    /* 57-bit model: the same address is canonical, 2^56 is not. */
    m.linear_bits = 57;
    ck_assert_int_eq(vcore__x86_check_sregs(&m, &old, &neu, &d), VCORE_OK);
    set_base(&neu, t->target, 1ull << 56);
    ck_assert_int_eq(vcore__x86_check_sregs(&m, &old, &neu, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NONCANONICAL);
    /* An unusable LDTR's base is not used, so not checked. */
    if (t->target == 2 + VCORE_X86_LDTR) {
        neu.seg[VCORE_X86_LDTR].ar |= VCORE_X86_AR_UNUSABLE;
        ck_assert_int_eq(vcore__x86_check_sregs(&m, &old, &neu, &d), VCORE_OK);
    }
    /* Outside long mode the base is not checked. */
    m.linear_bits = 48;
    vcore_x86_sregs_t pm = base_sregs(PM_CR0, 0, 0);
    set_base(&pm, t->target, 0x0000800000000000ull);
    ck_assert_int_eq(vcore__x86_check_sregs(&m, &pm, &pm, &d), VCORE_OK);
}
END_TEST

/* ---------------------------------------------------------------- dregs */

START_TEST(test_dregs)
{
    vcore_x86_cpu_model_t m = full_model();
    vcore_x86_dregs_t dr;
    vcore_diag_t d = {.size = sizeof(d)};
    memset(&dr, 0, sizeof(dr));
    dr.size = sizeof(dr);
    dr.dr6 = 0xffff0ff0;
    dr.dr7 = 0x400;
    ck_assert_int_eq(vcore__x86_check_dregs(&m, &dr, &d), VCORE_OK);
    for (int i = 0; i < 4; i++) {
        vcore_x86_dregs_t x = dr;
        x.dr[i] = 0xffff800000000000ull;
        ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_OK);
        x.dr[i] = 0x00007fffffffffffull;
        ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_OK);
        x.dr[i] = 0x0000800000000000ull;
        ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_ERR_INVAL);
        ck_assert_uint_eq(d.id, VCORE_DIAG_NONCANONICAL);
        ck_assert_uint_eq(d.value, x.dr[i]);
        m.linear_bits = 57;
        ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_OK);
        x.dr[i] = 1ull << 56;
        ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_ERR_INVAL);
        m.linear_bits = 48;
    }
    vcore_x86_dregs_t x = dr;
    x.dr6 = 0xffffffffull;
    ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_OK);
    x.dr6 = 1ull << 32;
    ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_DR6_RESERVED);
    ck_assert_uint_eq(d.value, 1ull << 32);
    x = dr;
    x.dr7 = 0xffffffffull;
    ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_OK);
    x.dr7 = 1ull << 63;
    ck_assert_int_eq(vcore__x86_check_dregs(&m, &x, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_DR7_RESERVED);
    ck_assert_int_eq(vcore__x86_check_dregs(NULL, &x, &d), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_check_dregs(&m, NULL, &d), VCORE_ERR_INVAL);
}
END_TEST

/* ---------------------------------------------------------------- fpu */

typedef struct {
    uint32_t mxcsr, mask;
    bool ok;
} fpu_case_t;

static const fpu_case_t fpu_cases[] = {
    {0x1f80, 0xffff, true},
    {0x1f80, 0, true},
    {0x1fc0, 0xffff, true},  /* DAZ (bit 6) with DAZ in the mask */
    {0x1fc0, 0, false},      /* DAZ with the default mask FFBFH */
    {0x1fc0, 0xffbf, false},
    {0xffbf, 0, true},
    {0xffff, 0xffff, true},
    {0x10000, 0xffff, false}, /* bit 16 */
    {0x80000000u, 0xffff, false},
    {0x0, 0xffff, true},
};

START_TEST(test_fpu_mxcsr)
{
    const fpu_case_t *c = &fpu_cases[_i];
    vcore_x86_fpu_t f;
    vcore_diag_t d = {.size = sizeof(d)};
    memset(&f, 0, sizeof(f));
    f.size = sizeof(f);
    f.mxcsr = c->mxcsr;
    f.mxcsr_mask = c->mask;
    int rc = vcore__x86_check_fpu(&f, &d);
    if (c->ok) {
        ck_assert_msg(rc == VCORE_OK, "mxcsr %#x mask %#x refused", c->mxcsr, c->mask);
    } else {
        ck_assert_msg(rc == VCORE_ERR_INVAL, "mxcsr %#x mask %#x accepted", c->mxcsr, c->mask);
        ck_assert_uint_eq(d.id, VCORE_DIAG_MXCSR_RESERVED);
        ck_assert_uint_eq(d.value, c->mxcsr);
    }
}
END_TEST

/* ---------------------------------------------------------------- xcr0 */

typedef struct {
    uint64_t xcr0;
    bool ok;
} xcr0_case_t;

/* Model supports bits 0-7, 17, 18 (x87 SSE AVX BNDREGS BNDCSR opmask ZMM_Hi256
 * Hi16_ZMM TILECFG TILEDATA). */
static const xcr0_case_t xcr0_cases[] = {
    {0x1, true},
    {0x3, true},
    {0x7, true},
    {0x0, false},            /* x87 clear */
    {0x2, false},            /* x87 clear */
    {0x5, false},            /* AVX without SSE */
    {0x1f, true},            /* BNDREGS + BNDCSR */
    {0xb, false},            /* BNDREGS alone */
    {0x13, false},           /* BNDCSR alone */
    {0xe7, true},            /* AVX-512 complete */
    {0x27, false},           /* opmask only */
    {0x47, false},           /* ZMM_Hi256 only */
    {0x87, false},           /* Hi16_ZMM only */
    {0x67, false},           /* two of three */
    {0xe3, false},           /* AVX-512 without AVX */
    {0x60007, true},         /* AMX pair */
    {0x20007, false},        /* TILECFG alone */
    {0x40007, false},        /* TILEDATA alone */
    {0x200, false},          /* unsupported component (PKRU) */
    {0x201, false},          /* unsupported component with x87 */
    {1ull << 63 | 1, false}, /* bit 63 */
    {0x600ff, true},         /* everything */
};

START_TEST(test_xcr0)
{
    const xcr0_case_t *c = &xcr0_cases[_i];
    vcore_x86_cpu_model_t m = full_model();
    vcore_diag_t d = {.size = sizeof(d)};
    int rc = vcore__x86_check_xcr0(&m, c->xcr0, &d);
    if (c->ok) {
        ck_assert_msg(rc == VCORE_OK, "xcr0 %#llx refused", (unsigned long long)c->xcr0);
    } else {
        ck_assert_msg(rc == VCORE_ERR_INVAL, "xcr0 %#llx accepted", (unsigned long long)c->xcr0);
        ck_assert_uint_eq(d.id, VCORE_DIAG_XCR0_INVALID);
        ck_assert_uint_eq(d.value, c->xcr0);
    }
}
END_TEST

START_TEST(test_xcr0_model_limits)
{
    /* Without XSAVE only x87 is supported. */
    vcore_x86_cpu_model_t m;
    vcore__cpuid_model_default(VCORE_X86_VENDOR_AMD, &m);
    ck_assert_int_eq(vcore__x86_check_xcr0(&m, 1, NULL), VCORE_OK);
    ck_assert_int_eq(vcore__x86_check_xcr0(&m, 3, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__x86_check_xcr0(NULL, 1, NULL), VCORE_ERR_INVAL);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *x86_regs_suite(void)
{
    Suite *s = suite_create("x86_regs");
    TCase *tc = tcase_create("addr");
    tcase_add_loop_test(tc, test_canonical, 0, N(canon_cases));
    tcase_add_loop_test(tc, test_phys_ok, 0, N(phys_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("regs");
    tcase_add_loop_test(tc, test_rflags_bits, 0, 64);
    tcase_add_test(tc, test_rflags_bit1_clear);
    suite_add_tcase(s, tc);

    tc = tcase_create("sregs");
    tcase_add_loop_test(tc, test_cr0_each_bit, 0, 64);
    tcase_add_loop_test(tc, test_cr4_each_bit_full_model, 0, 64);
    tcase_add_loop_test(tc, test_cr4_each_bit_default_model, 0, 64);
    tcase_add_loop_test(tc, test_efer_each_bit, 0, 64);
    tcase_add_loop_test(tc, test_sregs_table, 0, N(sregs_cases));
    tcase_add_test(tc, test_sregs_null_args);
    tcase_add_loop_test(tc, test_segment_ar_reserved_bits, 0, 8 * 19);
    tcase_add_test(tc, test_segment_defined_ar_bits_ok);
    tcase_add_loop_test(tc, test_long_mode_bases_canonical, 0, N(base_targets));
    suite_add_tcase(s, tc);

    tc = tcase_create("dregs_fpu_xcr0");
    tcase_add_test(tc, test_dregs);
    tcase_add_loop_test(tc, test_fpu_mxcsr, 0, N(fpu_cases));
    tcase_add_loop_test(tc, test_xcr0, 0, N(xcr0_cases));
    tcase_add_test(tc, test_xcr0_model_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(x86_regs_suite());
}
