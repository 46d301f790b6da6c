/*
 * svk_hv.c - the Hyper-V case (tests/system/kernel/hv_case.h) on the svm
 * backend: VMMCALL in the hypercall page (AMD), the same guests and
 * expectations as on the vmx backend.
 */
#include "svk.h"

#include "hv_case.h"

int svk_case_hyperv(svk_env_t *env, svk_why_t *why)
{
    hv_case_cfg_t cfg = {vcore_backend_svm(), &svk_host, svk_set_cpuid, 0xd9};
    (void)env;
    int r = hv_case_run(&cfg, why->buf, sizeof(why->buf));
    why->len = 0;
    while (why->buf[why->len])
        why->len++;
    return r ? SVK_FAIL : SVK_PASS;
}
