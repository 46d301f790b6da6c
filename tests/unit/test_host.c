/* Host services: validation and the hosted defaults. */
#include <stddef.h>
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

static uint32_t cpu0(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Growth by size: the first published layout (through log_level) is
 * accepted and the members after it count as absent; the per-processor
 * members come together. */
START_TEST(host_validate_growth_and_cpus)
{
    vcore_host_cpu_t cpus[2];
    memset(cpus, 0, sizeof(cpus));
    vcore_host_t h = *vcore_host_default();
    ck_assert_uint_eq(VCORE_HOST_SIZE_V1, offsetof(vcore_host_t, log_level) + sizeof(int));
    h.size = VCORE_HOST_SIZE_V1;
    h.cpu_index = cpu0; /* past the caller's size: not looked at */
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_OK);
    h.size = VCORE_HOST_SIZE_V1 - 1;
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_ERR_ABI);
    h.size = sizeof(h);
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_ERR_INVAL); /* index without storage */
    h.cpus = cpus;
    h.ncpus = 0;
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_ERR_INVAL); /* storage without entries */
    h.ncpus = 2;
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_OK);
    h.cpu_index = NULL;
    ck_assert_int_eq(vcore_host_validate(&h, true), VCORE_ERR_INVAL); /* storage without index */
    /* A VM made with an old-size structure sees the new members absent. */
    h = *vcore_host_default();
    h.size = VCORE_HOST_SIZE_V1;
    h.cpu_index = cpu0;
    h.cpus = cpus;
    h.ncpus = 2;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.host = &h;
    vcore_vm_t *vm = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    const vcore_host_t *in = vcore_vm_host(vm);
    ck_assert_uint_eq(in->size, sizeof(vcore_host_t));
    ck_assert_ptr_null(in->cpu_index);
    ck_assert_ptr_null(in->cpus);
    ck_assert_uint_eq(in->ncpus, 0);
    ck_assert_ptr_eq(in->alloc, h.alloc);
    vcore_vm_destroy(vm);
    /* With the full size they are kept. */
    h.size = sizeof(h);
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    in = vcore_vm_host(vm);
    ck_assert_ptr_eq(in->cpus, cpus);
    ck_assert_uint_eq(in->ncpus, 2);
    ck_assert_uint_eq(in->cpu_index(in->ctx), 0);
    vcore_vm_destroy(vm);
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
    tcase_add_test(tc, host_validate_growth_and_cpus);
    tcase_add_test(tc, host_default_services);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
