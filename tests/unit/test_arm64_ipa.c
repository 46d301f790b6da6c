/* Unit tests: AArch64 IPA size encoding (src/core/arm64/ipa.c). */
#include <virtcore/arm64/ipa.h>

#include "support.h"

/* One row: what vcore_arm64_ipa_vm_type() must do for (bits, limit). */
struct ipa_case {
    uint32_t bits, limit;
    int rc;
    uint64_t type;
};

static const struct ipa_case cases[] = {
    /* Default: type 0 = 40 bits, fine on any host that allows 40. */
    {0, 0, VCORE_OK, 0},
    {0, 40, VCORE_OK, 0},
    {0, 48, VCORE_OK, 0},
    {0, 52, VCORE_OK, 0},
    /* A host limited below 40 bits refuses the implicit default. */
    {0, 36, VCORE_ERR_UNSUPPORTED, 0},
    {0, 32, VCORE_ERR_UNSUPPORTED, 0},
    /* Explicit sizes within [32, limit]. */
    {32, 48, VCORE_OK, 32},
    {36, 36, VCORE_OK, 36},
    {40, 40, VCORE_OK, 40},
    {44, 48, VCORE_OK, 44},
    {48, 48, VCORE_OK, 48},
    {52, 52, VCORE_OK, 52},
    /* Outside the range. */
    {31, 48, VCORE_ERR_RANGE, 0},
    {1, 48, VCORE_ERR_RANGE, 0},
    {49, 48, VCORE_ERR_RANGE, 0},
    {52, 48, VCORE_ERR_RANGE, 0},
    {255, 52, VCORE_ERR_RANGE, 0},
    /* Host without the capability: only the default exists. */
    {40, 0, VCORE_ERR_UNSUPPORTED, 0},
    {32, 0, VCORE_ERR_UNSUPPORTED, 0},
    /* Does not fit the 8-bit field. */
    {256, 52, VCORE_ERR_INVAL, 0},
    {0x10028, 52, VCORE_ERR_INVAL, 0},
};

START_TEST(vm_type_table)
{
    const struct ipa_case *c = &cases[_i];
    uint64_t type = 0xdeadbeefull;
    int rc = vcore_arm64_ipa_vm_type(c->bits, c->limit, &type);
    ck_assert_msg(rc == c->rc, "bits %u limit %u: rc %d, expected %d", c->bits, c->limit, rc,
                  c->rc);
    if (rc == VCORE_OK)
        ck_assert_uint_eq(type, c->type);
    else
        ck_assert_uint_eq(type, 0xdeadbeefull); /* untouched on failure */
}
END_TEST

START_TEST(vm_type_null)
{
    ck_assert_int_eq(vcore_arm64_ipa_vm_type(40, 48, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_ipa_from_vm_type(0, 48, NULL), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(decode_round_trip)
{
    /* Every size the encoder accepts decodes back to itself. */
    for (uint32_t limit = 0; limit <= 52; limit++) {
        for (uint32_t bits = 0; bits <= 300; bits++) {
            uint64_t type = 0;
            uint32_t back = 0;
            int rc = vcore_arm64_ipa_vm_type(bits, limit, &type);
            if (bits > 255) {
                ck_assert_int_eq(rc, VCORE_ERR_INVAL);
                continue;
            }
            ck_assert_int_eq(vcore_arm64_ipa_from_vm_type((uint64_t)bits, limit, &back), rc);
            if (rc == VCORE_OK)
                ck_assert_uint_eq(back, bits ? bits : VCORE_ARM64_IPA_DEFAULT_BITS);
        }
    }
}
END_TEST

START_TEST(decode_undefined_bits_first)
{
    uint32_t bits = 7;
    /* Bits above 7:0 are refused before the size is even looked at. */
    ck_assert_int_eq(vcore_arm64_ipa_from_vm_type(0x100, 48, &bits), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_ipa_from_vm_type(0x128, 48, &bits), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_arm64_ipa_from_vm_type(1ull << 63, 0, &bits), VCORE_ERR_INVAL);
    ck_assert_uint_eq(bits, 7);
    ck_assert_int_eq(vcore_arm64_ipa_from_vm_type(0, 48, &bits), VCORE_OK);
    ck_assert_uint_eq(bits, 40);
    ck_assert_int_eq(vcore_arm64_ipa_from_vm_type(48, 48, &bits), VCORE_OK);
    ck_assert_uint_eq(bits, 48);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arm64_ipa");
    TCase *tc = tcase_create("ipa");
    tcase_add_loop_test(tc, vm_type_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, vm_type_null);
    tcase_add_test(tc, decode_round_trip);
    tcase_add_test(tc, decode_undefined_bits_first);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
