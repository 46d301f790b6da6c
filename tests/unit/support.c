#include "support.h"

#include <stdlib.h>
#include <string.h>

int vcore_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void vcore_test_env_up(vcore_test_env_t *env, uint32_t vendor)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    ck_assert_ptr_nonnull(cfg.backend);
    ck_assert_int_eq(vcore_vm_create(&cfg, &env->vm), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.vendor = vendor;
    ck_assert_int_eq(vcore_vcpu_create(env->vm, &vc, &env->vcpu), VCORE_OK);
}

void vcore_test_env_down(vcore_test_env_t *env)
{
    vcore_vcpu_destroy(env->vcpu);
    vcore_vm_destroy(env->vm);
    env->vcpu = NULL;
    env->vm = NULL;
}

vcore_exit_t vcore_test_exit(uint32_t reason)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = reason;
    return e;
}
