/*
 * Unit tests: decoding guest aborts taken to EL2 (src/core/arm64/s2_fault.c).
 *
 * Syndromes are composed from the Arm ARM's ESR_EL2 fields: EC[31:26]
 * (0x24 Data Abort from a lower EL, 0x20 Instruction Abort from a lower EL),
 * IL[25], ISV[24], SAS[23:22], SSE[21], SRT[20:16], SF[15], AR[14], FnV[10],
 * EA[9], CM[8], S1PTW[7], WnR[6], DFSC/IFSC[5:0] (0b0001LL translation,
 * 0b0010LL access flag, 0b0011LL permission, 0b0000LL address size,
 * 0b101011 translation level -1, 0b101001 address size level -1,
 * 0b010000 synchronous external abort).
 */
#include <virtcore/arm64/stage2.h>

#include "support.h"

#define EC(x) ((uint64_t)(x) << 26)
#define IL (1ull << 25)
#define ISV (1ull << 24)
#define SAS(x) ((uint64_t)(x) << 22)
#define SSE (1ull << 21)
#define SRT(x) ((uint64_t)(x) << 16)
#define SF (1ull << 15)
#define AR (1ull << 14)
#define FNV (1ull << 10)
#define EA (1ull << 9)
#define CM (1ull << 8)
#define S1PTW (1ull << 7)
#define WNR (1ull << 6)
#define DABT EC(0x24)
#define IABT EC(0x20)

/* HPFAR_EL2 for an IPA: FIPA[43:4] = IPA[51:12]. */
#define HPFAR(ipa) (((uint64_t)(ipa) >> 12) << 4)

static bool ram_below_1g(void *ctx, uint64_t ipa)
{
    (void)ctx;
    return ipa < (1ull << 30);
}

static vcore_arm64_abort_t ab(uint64_t esr, uint64_t far, uint64_t ipa)
{
    vcore_arm64_abort_t a;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.esr = esr;
    a.far = far;
    a.hpfar = HPFAR(ipa);
    a.is_ram = ram_below_1g;
    return a;
}

static vcore_exit_t decode(const vcore_arm64_abort_t *a, int rc_expected)
{
    vcore_exit_t e;
    memset(&e, 0x5a, sizeof(e));
    e.size = sizeof(e);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_arm64_abort_decode(a, &e, &d), rc_expected);
    return e;
}

START_TEST(mmio_read)
{
    /* LDR W5, [X1] to IPA 0x4000_0123 + 1 GiB (device): translation fault at level 3. */
    uint64_t esr = DABT | IL | ISV | SAS(2) | SRT(5) | 0x07;
    vcore_arm64_abort_t a = ab(esr, 0xffff800012345123ull, 0x80000123ull);
    vcore_exit_t e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x80000123ull);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    ck_assert_uint_eq(e.u.mmio.is_write, 0);
    ck_assert_uint_eq(e.u.mmio.reg, 5);
    ck_assert_uint_eq(e.u.mmio.va, 0xffff800012345123ull);
    ck_assert_uint_eq(e.u.mmio.fault, VCORE_EXIT_FAULT_TRANSLATION);
    ck_assert_int_eq(e.u.mmio.level, 3);
    ck_assert_uint_eq(e.u.mmio.fsc, 0x07);
    ck_assert_uint_eq(e.u.mmio.flags, VCORE_EXIT_MMIO_F_SYNDROME | VCORE_EXIT_MMIO_F_IPA_VALID |
                                          VCORE_EXIT_MMIO_F_VA_VALID);
    ck_assert_uint_eq(e.raw.source, VCORE_EXIT_SRC_ARM64);
    ck_assert_uint_eq(e.raw.reason, 0x24);
    ck_assert_uint_eq(e.raw.qualification, esr);
    ck_assert_uint_eq(e.raw.data[0], 0xffff800012345123ull);
    ck_assert_uint_eq(e.raw.data[1], HPFAR(0x80000123ull));
    ck_assert_uint_eq(e.raw.data[2], 0);
    /* LDRSH X7 with acquire semantics: SSE, SF, AR. */
    esr = DABT | IL | ISV | SAS(1) | SSE | SRT(7) | SF | AR | 0x06;
    a = ab(esr, 0x1002, 0x90001002ull);
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.u.mmio.len, 2);
    ck_assert_int_eq(e.u.mmio.level, 2);
    ck_assert_uint_eq(e.u.mmio.flags & (VCORE_EXIT_MMIO_F_SIGN_EXTEND | VCORE_EXIT_MMIO_F_REG64 |
                                        VCORE_EXIT_MMIO_F_ACQ_REL),
                      VCORE_EXIT_MMIO_F_SIGN_EXTEND | VCORE_EXIT_MMIO_F_REG64 | VCORE_EXIT_MMIO_F_ACQ_REL);
}
END_TEST

START_TEST(mmio_write)
{
    uint64_t x[31];
    for (int i = 0; i < 31; i++)
        x[i] = 0x1111111111111111ull * (uint64_t)i;
    x[3] = 0x8877665544332211ull;
    /* STR X3, [..]: SAS 3, SF, WnR. */
    vcore_arm64_abort_t a = ab(DABT | IL | ISV | SAS(3) | SRT(3) | SF | WNR | 0x05, 0x2000, 0x40000000ull + (1ull << 30));
    a.x = x;
    vcore_exit_t e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, 0);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    static const uint8_t want[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    ck_assert_mem_eq(e.u.mmio.data, want, 8);
    /* STRB W3: one byte. */
    a.esr = DABT | IL | ISV | SAS(0) | SRT(3) | WNR | 0x07;
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.u.mmio.len, 1);
    ck_assert_uint_eq(e.u.mmio.data[0], 0x11);
    ck_assert_uint_eq(e.u.mmio.data[1], 0);
    /* STR WZR: register 31 stores zero. */
    a.esr = DABT | IL | ISV | SAS(2) | SRT(31) | WNR | 0x07;
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.u.mmio.reg, 31);
    static const uint8_t zero[8] = {0};
    ck_assert_mem_eq(e.u.mmio.data, zero, 8);
}
END_TEST

START_TEST(not_mmio)
{
    /* Inside RAM: a stage-2 fault for the VMM (lazy mapping). */
    vcore_arm64_abort_t a = ab(DABT | IL | ISV | SAS(2) | 0x07, 0x10, 0x1000ull);
    vcore_exit_t e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.flags, 0);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x1010);
    /* No instruction syndrome outside RAM (e.g. LDP): the VMM must decode. */
    a = ab(DABT | IL | 0x07, 0x10, 0x80001000ull);
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_SYNDROME, 0);
    ck_assert_uint_eq(e.u.mmio.len, 0);
    /* Cache maintenance to MMIO: not an access. */
    a = ab(DABT | IL | CM | WNR | 0x07, 0x10, 0x80001000ull);
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_CACHE_MAINT, VCORE_EXIT_MMIO_F_CACHE_MAINT);
    /* Stage-2 fault on a stage-1 table walk: never MMIO. */
    a = ab(DABT | IL | S1PTW | 0x06, 0x10, 0x80001000ull);
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_S1PTW, VCORE_EXIT_MMIO_F_S1PTW);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x80001010ull);
    /* Instruction abort, translation fault at level 0 (a refused geometry). */
    a = ab(IABT | IL | 0x04, 0x40080000ull, 0x40080000ull);
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.u.mmio.fault, VCORE_EXIT_FAULT_TRANSLATION);
    ck_assert_int_eq(e.u.mmio.level, 0);
    ck_assert_uint_eq(e.u.mmio.flags, VCORE_EXIT_MMIO_F_FETCH | VCORE_EXIT_MMIO_F_IPA_VALID |
                                          VCORE_EXIT_MMIO_F_VA_VALID);
    ck_assert_uint_eq(e.raw.reason, 0x20);
    /* Without an is_ram callback nothing is RAM. */
    a = ab(DABT | IL | ISV | SAS(2) | 0x07, 0x10, 0x1000ull);
    a.is_ram = NULL;
    ck_assert_uint_eq(decode(&a, VCORE_OK).reason, VCORE_EXIT_MMIO);
}
END_TEST

START_TEST(fault_kinds)
{
    static const struct {
        uint32_t fsc;
        uint8_t kind;
        int8_t level;
    } r[] = {
        {0x00, VCORE_EXIT_FAULT_ADDRESS_SIZE, 0},   {0x02, VCORE_EXIT_FAULT_ADDRESS_SIZE, 2},
        {0x29, VCORE_EXIT_FAULT_ADDRESS_SIZE, -1},  {0x04, VCORE_EXIT_FAULT_TRANSLATION, 0},
        {0x07, VCORE_EXIT_FAULT_TRANSLATION, 3},    {0x2b, VCORE_EXIT_FAULT_TRANSLATION, -1},
        {0x08, VCORE_EXIT_FAULT_ACCESS_FLAG, 0},    {0x09, VCORE_EXIT_FAULT_ACCESS_FLAG, 1},
        {0x0b, VCORE_EXIT_FAULT_ACCESS_FLAG, 3},    {0x0c, VCORE_EXIT_FAULT_PERMISSION, 0},
        {0x0f, VCORE_EXIT_FAULT_PERMISSION, 3},     {0x10, VCORE_EXIT_FAULT_EXTERNAL, VCORE_EXIT_LEVEL_NONE},
        {0x13, VCORE_EXIT_FAULT_EXTERNAL, -1},      {0x15, VCORE_EXIT_FAULT_EXTERNAL, 1},
        {0x18, VCORE_EXIT_FAULT_EXTERNAL, VCORE_EXIT_LEVEL_NONE}, {0x1e, VCORE_EXIT_FAULT_EXTERNAL, 2},
        {0x21, VCORE_EXIT_FAULT_ALIGNMENT, VCORE_EXIT_LEVEL_NONE},
        {0x30, VCORE_EXIT_FAULT_OTHER, VCORE_EXIT_LEVEL_NONE}, {0x31, VCORE_EXIT_FAULT_OTHER, VCORE_EXIT_LEVEL_NONE},
        {0x11, VCORE_EXIT_FAULT_OTHER, VCORE_EXIT_LEVEL_NONE}, {0x25, VCORE_EXIT_FAULT_OTHER, 1},
    };
    for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        vcore_arm64_abort_t a = ab(DABT | IL | r[i].fsc, 0x20, 0x2000);
        vcore_exit_t e = decode(&a, VCORE_OK);
        ck_assert_msg(e.u.mmio.fault == r[i].kind && e.u.mmio.level == r[i].level,
                      "fsc 0x%x: kind %u level %d", r[i].fsc, e.u.mmio.fault, e.u.mmio.level);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    }
}
END_TEST

/* HPFAR_EL2 is UNKNOWN for a stage-2 Permission fault on the access itself:
 * the IPA comes from AT S1E1x (PAR_EL1). */
START_TEST(permission_fault_ipa)
{
    uint64_t esr = DABT | IL | ISV | SAS(3) | SRT(2) | SF | WNR | 0x0f;
    ck_assert(vcore_arm64_abort_needs_at(esr));
    ck_assert(!vcore_arm64_abort_needs_at(DABT | IL | 0x07));
    ck_assert(!vcore_arm64_abort_needs_at(DABT | IL | S1PTW | 0x0f));
    ck_assert(!vcore_arm64_abort_needs_at(DABT | IL | FNV | EA | 0x10));
    ck_assert(vcore_arm64_abort_needs_at(DABT | IL | 0x10));
    ck_assert(!vcore_arm64_abort_needs_at(EC(0x16)));
    vcore_arm64_abort_t a = ab(esr, 0xffff000000007008ull, 0);
    a.hpfar = 0xdead0; /* UNKNOWN: must not be used */
    vcore_exit_t e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_IPA_VALID, 0);
    a.par = 0x0000000000123000ull; /* F = 0; an IPA in RAM */
    a.par_valid = true;
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_IPA_VALID, VCORE_EXIT_MMIO_F_IPA_VALID);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x123008ull);
    ck_assert_uint_eq(e.u.mmio.fault, VCORE_EXIT_FAULT_PERMISSION);
    ck_assert_int_eq(e.u.mmio.level, 3);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    ck_assert_uint_eq(e.raw.data[2], 0x0000000000123000ull);
    /* A write to read-only MMIO outside RAM with a syndrome is an MMIO write. */
    a.par = 0x0000000080123000ull;
    uint64_t x[31] = {0};
    x[2] = 0xabcdef;
    a.x = x;
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.data[0], 0xef);
    /* PAR_EL1.F = 1: no IPA. */
    a.par = 0x809;
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_IPA_VALID, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    /* FnV: FAR not valid, no VA and no page offset. */
    a = ab(DABT | IL | FNV | EA | 0x07, 0xfff, 0x3000);
    e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_VA_VALID, 0);
    ck_assert_uint_eq(e.u.mmio.flags & VCORE_EXIT_MMIO_F_EXTERNAL, VCORE_EXIT_MMIO_F_EXTERNAL);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x3000);
    ck_assert_uint_eq(e.u.mmio.va, 0);
}
END_TEST

START_TEST(refused)
{
    vcore_exit_t e;
    memset(&e, 0x5a, sizeof(e));
    e.size = sizeof(e);
    vcore_diag_t d = {.size = sizeof(d)};
    /* Data abort from the same EL (0x25), HVC (0x16): not guest aborts. */
    vcore_arm64_abort_t a = ab(EC(0x25) | IL | 0x07, 0, 0);
    ck_assert_int_eq(vcore_arm64_abort_decode(&a, &e, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_ABORT_NOT_LOWER_EL);
    ck_assert_uint_eq(e.reason, 0x5a5a5a5au); /* untouched */
    a.esr = EC(0x16) | IL;
    ck_assert_int_eq(vcore_arm64_abort_decode(&a, &e, &d), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_abort_decode(NULL, &e, &d), VCORE_ERR_INVAL);
    a.size = 4;
    ck_assert_int_eq(vcore_arm64_abort_decode(&a, &e, &d), VCORE_ERR_ABI);
}
END_TEST

static vcore_exit_t read_exit(uint32_t sas, bool sse, bool sf, uint32_t reg, uint64_t reply)
{
    uint64_t esr = DABT | IL | ISV | SAS(sas) | SRT(reg) | (sse ? SSE : 0) | (sf ? SF : 0) | 0x07;
    vcore_arm64_abort_t a = ab(esr, 0, 0x80000000ull);
    vcore_exit_t e = decode(&a, VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    for (int i = 0; i < 8; i++)
        e.u.mmio.data[i] = (uint8_t)(reply >> (8 * i));
    return e;
}

START_TEST(mmio_complete)
{
    uint64_t x[32]; /* X0..X30, and a guard word the completion must never touch */
    for (int i = 0; i < 32; i++)
        x[i] = 0xdeaddeaddeaddeadull;
    /* LDRSB W1: sign-extend 8 -> 32 bits, bits[63:32] zero. */
    vcore_exit_t e = read_exit(0, true, false, 1, 0x80);
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, NULL), VCORE_OK);
    ck_assert_uint_eq(x[1], 0xffffff80ull);
    /* LDRSH X2: sign-extend 16 -> 64. */
    e = read_exit(1, true, true, 2, 0x8001);
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, NULL), VCORE_OK);
    ck_assert_uint_eq(x[2], 0xffffffffffff8001ull);
    /* LDRSW X3 with a positive value. */
    e = read_exit(2, true, true, 3, 0x7fffffff);
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, NULL), VCORE_OK);
    ck_assert_uint_eq(x[3], 0x7fffffffull);
    /* LDRH W4: zero-extend; only 2 bytes of the reply count. */
    e = read_exit(1, false, false, 4, 0xffffffffffff8001ull);
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, NULL), VCORE_OK);
    ck_assert_uint_eq(x[4], 0x8001ull);
    /* LDR X5. */
    e = read_exit(3, false, true, 5, 0x0123456789abcdefull);
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, NULL), VCORE_OK);
    ck_assert_uint_eq(x[5], 0x0123456789abcdefull);
    /* LDR XZR: nothing written. */
    e = read_exit(3, false, true, 31, 0x55);
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, NULL), VCORE_OK);
    ck_assert_uint_eq(x[30], 0xdeaddeaddeaddeadull);
    ck_assert_uint_eq(x[31], 0xdeaddeaddeaddeadull);
    /* A write exit cannot be completed as a read. */
    vcore_arm64_abort_t a = ab(DABT | IL | ISV | SAS(3) | SRT(3) | SF | WNR | 0x05, 0, 0x80000000ull);
    e = decode(&a, VCORE_OK);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_ARM64_S2_MMIO_NOT_READ);
    e.reason = VCORE_EXIT_STAGE2_FAULT;
    ck_assert_int_eq(vcore_arm64_mmio_complete(&e, x, &d), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_mmio_complete(NULL, x, &d), VCORE_ERR_INVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("arm64_s2_fault");
    TCase *t = tcase_create("fault");
    tcase_add_test(t, mmio_read);
    tcase_add_test(t, mmio_write);
    tcase_add_test(t, not_mmio);
    tcase_add_test(t, fault_kinds);
    tcase_add_test(t, permission_fault_ipa);
    tcase_add_test(t, refused);
    tcase_add_test(t, mmio_complete);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(suite());
}
