/*
 * /dev/kvm: a vCPU's nested state through the library on the running
 * kernel (KVM API, "KVM_GET_NESTED_STATE", "KVM_SET_NESTED_STATE"). What
 * the kernel offers is asked of it directly, not through the library:
 *   - no KVM_CAP_NESTED_STATE (a kernel without nested virtualization, e.g.
 *     kvm_pvm): both calls are VCORE_ERR_UNSUPPORTED;
 *   - a VMX blob (format 0): a fresh vCPU is outside VMX operation (VMXON
 *     pointer -1); the library reads it, writes it back, and the kernel
 *     then reports the same blob;
 *   - an SVM blob (format 1, an AMD host): refused with KVM_STATE_FORMAT,
 *     nothing imported.
 * The fake-kernel test (kvm.kvm_fake) covers guest-mode blobs and the
 * kernel's refusals; this one shows the ioctls' real layout agrees.
 */
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "backend-kvm/kvm_priv.h"
#include "kvm_support.h"
#include "virtcore/x86/nvmx.h"

#define NESTED_MAX (128 + 2 * 4096) /* header + vmcs12 + shadow vmcs12 */

static kt_env_t env;
static uint8_t raw[NESTED_MAX] __attribute__((aligned(8)));
static uint8_t raw2[NESTED_MAX] __attribute__((aligned(8)));

static void setup(void)
{
    kt_up(&env);
}

static void teardown(void)
{
    kt_down(&env);
}

/* KVM_GET_NESTED_STATE straight to the kernel: struct kvm_nested_state is
 * flags (u16), format (u16), size (u32), then the per-format header. */
static uint32_t raw_get(uint8_t *buf, uint16_t *format)
{
    const vcore_kvm_vcpu_t *kv = vcore_vcpu_backend_priv(env.vcpu);
    uint32_t size = NESTED_MAX;
    memset(buf, 0, NESTED_MAX);
    memcpy(buf + 4, &size, 4);
    ck_assert_int_eq(ioctl(kv->fd, KVM_GET_NESTED_STATE, buf), 0);
    memcpy(format, buf + 2, 2);
    memcpy(&size, buf + 4, 4);
    ck_assert_uint_le(size, NESTED_MAX);
    return size;
}

START_TEST(nested_state_on_this_kernel)
{
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(env.vcpu);
    int cap = ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
    vcore_nvmx_t *n = kt_nvmx_object();
    vcore_diag_t d = {.size = sizeof d};
    if (cap <= 0) {
        ck_assert_int_eq(vcore_nvmx_kvm_get_nested_state(env.vcpu, n, &d), VCORE_ERR_UNSUPPORTED);
        ck_assert_int_eq(vcore_nvmx_kvm_set_nested_state(env.vcpu, n), VCORE_ERR_UNSUPPORTED);
        return;
    }
    uint16_t format = 0;
    uint32_t size = raw_get(raw, &format);
    int err = vcore_nvmx_kvm_get_nested_state(env.vcpu, n, &d);
    vcore_nvmx_info_t info = {.size = sizeof info};
    ck_assert_int_eq(vcore_nvmx_get_info(n, &info), VCORE_OK);
    if (format != VCORE_KVM_NESTED_FORMAT_VMX) {
        ck_assert_int_eq(err, VCORE_ERR_INVAL);
        ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_FORMAT);
        ck_assert(!info.vmx_operation);
        return;
    }
    ck_assert_int_eq(err, VCORE_OK);
    ck_assert(!info.vmx_operation);
    ck_assert_uint_eq(info.vmxon_ptr, ~0ull);
    ck_assert_uint_eq(vcore_nvmx_kvm_state_size(n), size);
    ck_assert_int_eq(vcore_nvmx_kvm_set_nested_state(env.vcpu, n), VCORE_OK);
    uint16_t format2 = 0;
    ck_assert_uint_eq(raw_get(raw2, &format2), size);
    ck_assert_int_eq(memcmp(raw, raw2, size), 0);
}
END_TEST

int main(void)
{
    kt_require_kvm();
    Suite *s = suite_create("kvm_nested");
    TCase *tc = tcase_create("nested");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, nested_state_on_this_kernel);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
