/*
 * hv_vmx.c - the Hyper-V case (hv_case.h) on the vmx backend: VMCALL in
 * the hypercall page (Intel).
 */
#include "cases.h"
#include "hv_case.h"

static int hv_vmx_cpuid(vcore_vcpu_t *vcpu)
{
    return vtk_set_cpuid(vcpu, true);
}

int vtk_case_hyperv(vtk_env_t *env, vtk_why_t *why)
{
    static const hv_case_cfg_t cfg = {NULL, &vtk_host, hv_vmx_cpuid, 0xc1};
    hv_case_cfg_t c = cfg;
    (void)env;
    c.backend = vcore_backend_vmx();
    int r = hv_case_run(&c, why->buf, sizeof(why->buf));
    why->len = 0;
    while (why->buf[why->len])
        why->len++;
    return r ? VTK_FAIL : VTK_PASS;
}
