/* The built-in backend table. */
#include "support.h"

START_TEST(backends_getters)
{
    const vcore_backend_t *m = vcore_backend_mock();
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(vcore_backend_validate(m), VCORE_OK);
    ck_assert_ptr_eq(vcore_backend_by_name("mock"), m);
    ck_assert_ptr_null(vcore_backend_by_name("nope"));
    ck_assert_ptr_null(vcore_backend_by_name(NULL));
    ck_assert(vcore_backend_available("mock"));
    ck_assert(!vcore_backend_available("nope"));
    /* Each getter exists; a backend that is there validates and has its name. */
    const vcore_backend_t *(*getters[])(void) = {vcore_backend_kvm, vcore_backend_vmx,
                                                 vcore_backend_svm, vcore_backend_arm64};
    const char *names[] = {"kvm", "vmx", "svm", "arm64"};
    for (int i = 0; i < 4; i++) {
        const vcore_backend_t *b = getters[i]();
        if (b) {
            ck_assert_int_eq(vcore_backend_validate(b), VCORE_OK);
            ck_assert_ptr_eq(vcore_backend_by_name(names[i]), b);
        } else {
            ck_assert_ptr_null(vcore_backend_by_name(names[i]));
            ck_assert(!vcore_backend_available(names[i]));
        }
    }
}
END_TEST

START_TEST(backends_best)
{
    const vcore_backend_t *b = vcore_backend_best(VCORE_ARCH_X86_64, NULL);
    ck_assert_ptr_nonnull(b);
    /* The mock is chosen only when no hardware backend can run. */
    if (b == vcore_backend_mock())
        ck_assert(!vcore_backend_available("kvm"));
    ck_assert_ptr_null(vcore_backend_best(1234, NULL));
    ck_assert_int_eq(vcore_backend_validate(NULL), VCORE_ERR_INVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backends");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, backends_getters);
    tcase_add_test(tc, backends_best);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
