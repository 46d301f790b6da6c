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

/* SDM Vol. 3, "Basic Exit Reasons": the exit of each VMX instruction. */
static uint32_t vcore_test_vmx_basic(uint32_t op)
{
    switch (op) {
    case VCORE_NVMX_VMXON:
        return VCORE_VMX_EXIT_VMXON;
    case VCORE_NVMX_VMXOFF:
        return VCORE_VMX_EXIT_VMXOFF;
    case VCORE_NVMX_VMCLEAR:
        return VCORE_VMX_EXIT_VMCLEAR;
    case VCORE_NVMX_VMPTRLD:
        return VCORE_VMX_EXIT_VMPTRLD;
    case VCORE_NVMX_VMPTRST:
        return VCORE_VMX_EXIT_VMPTRST;
    case VCORE_NVMX_VMREAD:
        return VCORE_VMX_EXIT_VMREAD;
    case VCORE_NVMX_VMWRITE:
        return VCORE_VMX_EXIT_VMWRITE;
    case VCORE_NVMX_INVEPT:
        return VCORE_VMX_EXIT_INVEPT;
    case VCORE_NVMX_INVVPID:
        return VCORE_VMX_EXIT_INVVPID;
    case VCORE_NVMX_VMLAUNCH:
        return VCORE_VMX_EXIT_VMLAUNCH;
    case VCORE_NVMX_VMRESUME:
        return VCORE_VMX_EXIT_VMRESUME;
    default:
        return 0;
    }
}

vcore_exit_t vcore_test_vmx_exit(uint32_t op, uint32_t info, uint32_t len)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_VMX_INSN);
    e.u.vmx_insn.op = op;
    e.u.vmx_insn.basic_reason = vcore_test_vmx_basic(op);
    e.u.vmx_insn.insn_info = info;
    e.u.vmx_insn.insn_len = len;
    return e;
}
