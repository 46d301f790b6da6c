/* Host services: validation and the hosted defaults. */
#include <stdint.h>
#include <string.h>

#include "support.h"

START_TEST(host_validate_rules)
{
    vcore_host_t h = *vcore_host_default();
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_OK);
    ck_assert_int_eq(vcore_host_validate(NULL, false), VCORE_ERR_INVAL);
    h.size = 8;
    ck_assert_int_eq(vcore_host_validate(&h, false), VCORE_ERR_ABI);
    h = *vcore_host_default();
    h.alloc = NULL;
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_host_validate(&h, false), VCORE_OK);
    h = *vcore_host_default();
    h.free_pages = NULL; /* pages without a way to free them */
    ck_assert_int_eq(vcore_host_validate(&h, false), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(host_default_services)
{
    const vcore_host_t *h = vcore_host_default();
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(h->size, sizeof(*h));
    unsigned char *p = h->alloc(h->ctx, 100);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(p[i], 0);
    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    h->free(h->ctx, p, 100);
    uint64_t phys = 0;
    unsigned char *pg = h->alloc_pages(h->ctx, 3, &phys);
    ck_assert_ptr_nonnull(pg);
    ck_assert_uint_eq((uintptr_t)pg % VCORE_PAGE_SIZE, 0);
    ck_assert_uint_eq(phys, h->virt_to_phys(h->ctx, pg));
    for (int i = 0; i < 3 * 4096; i++)
        ck_assert_uint_eq(pg[i], 0);
    h->free_pages(h->ctx, pg, 3);
    ck_assert_ptr_null(h->alloc_pages(h->ctx, 0, &phys));
    ck_assert_ptr_null(h->alloc_pages(h->ctx, SIZE_MAX, &phys));
    h->log(h->ctx, VCORE_LOG_DEBUG, "test_host: a log line on stderr");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, host_validate_rules);
    tcase_add_test(tc, host_default_services);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
