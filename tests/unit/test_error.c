/* Error codes, version and diagnostics: pinned values and static strings. */
#include <string.h>

#include "support.h"
#include <virtcore/arm64/stage2.h>
#include <virtcore/x86/hyperv.h>
#include <virtcore/x86/nsvm.h>
#include <virtcore/x86/svm_checks.h>
#include <virtcore/x86/vmx_checks.h>

START_TEST(error_values_are_pinned)
{
    ck_assert_int_eq(VCORE_OK, 0);
    ck_assert_int_eq(VCORE_ERR_INVAL, -1);
    ck_assert_int_eq(VCORE_ERR_NOMEM, -2);
    ck_assert_int_eq(VCORE_ERR_UNSUPPORTED, -3);
    ck_assert_int_eq(VCORE_ERR_NODEV, -4);
    ck_assert_int_eq(VCORE_ERR_STATE, -5);
    ck_assert_int_eq(VCORE_ERR_HWFAIL, -6);
    ck_assert_int_eq(VCORE_ERR_ABI, -7);
    ck_assert_int_eq(VCORE_ERR_RANGE, -8);
    ck_assert_int_eq(VCORE_ERR_BUFSZ, -9);
    ck_assert_int_eq(VCORE_ERR_EXISTS, -10);
    ck_assert_int_eq(VCORE_ERR_NOENT, -11);
    ck_assert_int_eq(VCORE_ERR_FAULT, -12);
    ck_assert_int_eq(VCORE_ERR_BUSY, -13);
    ck_assert_int_eq(VCORE_ERR_INTR, -14);
    ck_assert_int_eq(VCORE_ERR_UNSCRIPTED, -15);
}
END_TEST

START_TEST(error_names_and_messages)
{
    ck_assert_str_eq(vcore_err_name(VCORE_OK), "VCORE_OK");
    ck_assert_str_eq(vcore_err_name(VCORE_ERR_INVAL), "VCORE_ERR_INVAL");
    ck_assert_str_eq(vcore_err_name(VCORE_ERR_UNSCRIPTED), "VCORE_ERR_UNSCRIPTED");
    ck_assert_str_eq(vcore_strerror(VCORE_ERR_NOMEM), "out of memory");
    /* Every listed value has a distinct, non-empty name and message. */
    for (int e = 0; e >= VCORE_ERR_UNSCRIPTED; e--) {
        ck_assert_str_ne(vcore_err_name(e), "VCORE_ERR_UNKNOWN");
        ck_assert_str_ne(vcore_strerror(e), "unknown error");
        ck_assert_uint_gt(strlen(vcore_strerror(e)), 3);
        for (int f = e - 1; f >= VCORE_ERR_UNSCRIPTED; f--)
            ck_assert_str_ne(vcore_err_name(e), vcore_err_name(f));
    }
}
END_TEST

START_TEST(error_unknown_values)
{
    ck_assert_str_eq(vcore_err_name(1), "VCORE_ERR_UNKNOWN");
    ck_assert_str_eq(vcore_err_name(-1000), "VCORE_ERR_UNKNOWN");
    ck_assert_str_eq(vcore_err_name(-2147483647 - 1), "VCORE_ERR_UNKNOWN");
    ck_assert_str_eq(vcore_strerror(42), "unknown error");
}
END_TEST

START_TEST(version_matches_headers)
{
    ck_assert_uint_eq(vcore_version(), VCORE_VERSION_NUMBER);
    ck_assert_uint_eq(VCORE_VERSION_NUMBER, 100); /* 0.1.0 */
    ck_assert_str_eq(vcore_version_string(), VCORE_VERSION_STRING);
    ck_assert_str_eq(vcore_version_string(), "0.1.0");
}
END_TEST

START_TEST(diag_describe)
{
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_diag_describe(VCORE_DIAG_CR0_PG_WITHOUT_PE, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_CR0_PG_WITHOUT_PE);
    ck_assert_str_eq(d.name, "CR0_PG_WITHOUT_PE");
    ck_assert_ptr_nonnull(strstr(d.manual, "Control Registers"));
    ck_assert_int_eq(vcore_diag_describe(0xdead, &d), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_diag_describe(VCORE_DIAG_NONE, NULL), VCORE_ERR_INVAL);
    d.size = 3;
    ck_assert_int_eq(vcore_diag_describe(VCORE_DIAG_NONE, &d), VCORE_ERR_ABI);
}
END_TEST

/* Every diagnostic of every list: inside the range diag.h assigns to its
 * list, unique across all lists, and described under its own name. */
typedef struct {
    uint32_t id, lo, hi;
    const char *name;
} diag_row_t;

static const diag_row_t all_diags[] = {
#define ROW(lo, hi) (lo), (hi)
#define D_X86(n, v, m, s) {(v), ROW(0x0000, 0x03ff), #n},
#define D_VCPU(n, v, m, s) {(v), ROW(0x0400, 0x04ff), #n},
#define D_NVMX(n, v, m, s) {(v), ROW(0x1000, 0x10ff), #n},
#define D_NSVM(n, v, m, s) {(v), ROW(0x1100, 0x11ff), #n},
#define D_S2(n, v, m, s) {(v), ROW(0x2000, 0x20ff), #n},
#define D_HV(n, v, m, s) {(v), ROW(0x3800, 0x38ff), #n},
#define D_CHK(n, v, c, s, m) {(v), ROW(0x4000, 0x4fff), #n},
#define D_SVM(n, v, c, s, m) {(v), ROW(0x5000, 0x5fff), #n},
    VCORE_DIAG_X86_LIST(D_X86) VCORE_DIAG_VCPU_LIST(D_VCPU) VCORE_DIAG_NVMX_LIST(D_NVMX)
    VCORE_DIAG_NSVM_LIST(D_NSVM)
    VCORE_DIAG_ARM64_S2_LIST(D_S2) VCORE_DIAG_HYPERV_LIST(D_HV) VCORE_VMX_CHECK_LIST(D_CHK)
    VCORE_SVM_CHECK_LIST(D_SVM)
#undef D_X86
#undef D_VCPU
#undef D_NVMX
#undef D_NSVM
#undef D_S2
#undef D_HV
#undef D_CHK
#undef D_SVM
#undef ROW
};

START_TEST(diag_ids_unique_and_in_range)
{
    size_t n = sizeof(all_diags) / sizeof(all_diags[0]);
    for (size_t i = 0; i < n; i++) {
        vcore_diag_t d = {.size = sizeof(d)};
        ck_assert_msg(all_diags[i].id >= all_diags[i].lo && all_diags[i].id <= all_diags[i].hi,
                      "%s (0x%x) outside its range", all_diags[i].name, all_diags[i].id);
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(all_diags[i].id != all_diags[j].id, "%s and %s share 0x%x", all_diags[i].name,
                          all_diags[j].name, all_diags[i].id);
        ck_assert_int_eq(vcore_diag_describe(all_diags[i].id, &d), VCORE_OK);
        ck_assert_str_eq(d.name, all_diags[i].name);
    }
}
END_TEST

START_TEST(exit_reason_names)
{
    ck_assert_str_eq(vcore_exit_reason_name(VCORE_EXIT_IO), "IO");
    ck_assert_str_eq(vcore_exit_reason_name(VCORE_EXIT_HW_ERROR), "HW_ERROR");
    ck_assert_str_eq(vcore_exit_reason_name(VCORE_EXIT_INIT), "INIT");
    ck_assert_str_eq(vcore_exit_reason_name(999), "UNKNOWN");
    for (uint32_t r = 0; r <= VCORE_EXIT_INIT; r++)
        ck_assert_str_ne(vcore_exit_reason_name(r), "UNKNOWN");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, error_values_are_pinned);
    tcase_add_test(tc, error_names_and_messages);
    tcase_add_test(tc, error_unknown_values);
    tcase_add_test(tc, version_matches_headers);
    tcase_add_test(tc, diag_describe);
    tcase_add_test(tc, diag_ids_unique_and_in_range);
    tcase_add_test(tc, exit_reason_names);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
