/* KVM_GET/SET_NESTED_STATE through the kvm backend. The expected result
 * follows what the host reports for KVM_CAP_NESTED_STATE: without it (the
 * CI host) both calls must say VCORE_ERR_UNSUPPORTED. Skips (77) when
 * /dev/kvm cannot be used. */
#include "support.h"
#include "test_nvmx_fixture.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int host_cap(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int cap = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
    close(fd);
    return cap;
}

START_TEST(nested_state_ioctls)
{
    vcore_vm_config_t cfg;
    vcore_vm_t *vm = NULL;
    vcore_vcpu_t *vcpu = NULL;
    fx_t f;
    int cap = host_cap();

    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    fx_setup(&f);
    int get = vcore_nvmx_kvm_get_nested_state(vcpu, f.n, NULL);
    int set = vcore_nvmx_kvm_set_nested_state(vcpu, f.n);
    if (cap <= 0) {
        ck_assert_int_eq(get, VCORE_ERR_UNSUPPORTED);
        ck_assert_int_eq(set, VCORE_ERR_UNSUPPORTED);
    } else {
        /* a vCPU that never ran VMXON: not in VMX operation */
        vcore_nvmx_info_t info = {.size = sizeof(info)};
        ck_assert_int_eq(get, VCORE_OK);
        ck_assert_int_eq(vcore_nvmx_get_info(f.n, &info), VCORE_OK);
        ck_assert(!info.vmx_operation);
        ck_assert_int_eq(set, VCORE_OK);
    }
    ck_assert_int_eq(vcore_nvmx_kvm_get_nested_state(vcpu, NULL, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_kvm_get_nested_state(NULL, f.n, NULL), VCORE_ERR_INVAL);
    fx_teardown(&f);
    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
}
END_TEST

START_TEST(not_a_kvm_vcpu)
{
    vcore_test_env_t env;
    fx_t f;
    vcore_test_env_up(&env, VCORE_X86_VENDOR_INTEL);
    fx_setup(&f);
    ck_assert_int_eq(vcore_nvmx_kvm_get_nested_state(env.vcpu, f.n, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_kvm_set_nested_state(env.vcpu, f.n), VCORE_ERR_INVAL);
    fx_teardown(&f);
    vcore_test_env_down(&env);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nvmx_kvm_backend");
    TCase *tc = tcase_create("kvm");
    tcase_add_test(tc, not_a_kvm_vcpu);
    if (host_cap() >= 0)
        tcase_add_test(tc, nested_state_ioctls);
    suite_add_tcase(s, tc);
    int rc = vcore_test_run(s);
    return rc == 0 && host_cap() < 0 ? 77 : rc;
}
