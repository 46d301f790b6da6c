/*
 * vcpu_nested_pat.c - L2's IA32_PAT on vmcs02.
 *
 * SDM Vol. 3, "Loading Guest Control Registers, Debug Registers, and
 * MSRs": with VM-entry control 14 ("load IA32_PAT") the entry loads
 * vmcs12's guest IA32_PAT; without it the PAT is not changed, so L2 runs
 * on L1's. vmcs02 therefore always loads IA32_PAT (rule X(4, 14, ONE) of
 * x86/nvmx_pipeline.h): otherwise the processor would keep the PAT it has
 * after the exit from L1, which on a backend running L1 in its own VMCS is
 * L0's host PAT. A backend processor without the control cannot give L2
 * L1's PAT, and the entry is refused (NVMX_PIPELINE_UNSUPPORTED, control
 * 4:14; vcore__vcpu_nested_supported).
 *
 * The exit side follows the same register: "Saving Guest State" with
 * VM-exit control 18 ("save IA32_PAT") stores L2's value in vmcs12;
 * "Loading Host State" loads vmcs12's host IA32_PAT with control 19
 * ("load IA32_PAT") and otherwise leaves the PAT alone, so L1 goes on
 * with L2's.
 *
 * L2 writes it in two ways, one rule for both (pat_write): its own WRMSR,
 * which L1 lets through to L0, and an entry of L1's VM-entry MSR-load list
 * ("Loading MSRs": processed as WRMSR at CPL 0 after the guest state).
 */
#include "vcpu_nested.h"

#include "virtcore/x86/msr.h"
#include "virtcore/x86/vmx_checks.h"

#define NESTED_PAT_ENTRY_LOAD (1u << 14) /* VM-entry control "load IA32_PAT" */

bool vcore__vcpu_nested_pat_forced(const vcore_nvmx_t *nv)
{
    return (nv->hw_allowed1[VCORE__VMCS_CTL_ENTRY] & NESTED_PAT_ENTRY_LOAD) != 0;
}

uint64_t vcore__vcpu_nested_pat_value(const vcore__vmcs12_t *v, uint64_t l1_pat)
{
    return (v->VM_ENTRY_CONTROLS & NESTED_PAT_ENTRY_LOAD) ? v->GUEST_IA32_PAT : l1_pat;
}

int vcore__vcpu_nested_pat_enter(vcore_vcpu_t *vcpu, bool full)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!vcore__vcpu_nested_pat_forced(nv))
        return VCORE_OK;
    uint64_t pat = vcore__vcpu_nested_pat_value(vcore__vcpu_nested_v12(vcpu), vcpu->x86->st.msrs.pat);
    /* vmcs02 keeps what was written last unless L2 wrote PAT through L0
     * (vcore__vcpu_nested_pat_write keeps pat02 equal to vmcs02's field). */
    int err = vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_IA32_PAT, pat, full, &nv->pat02);
    if (err)
        return err;
    nv->pat02_live = true;
    return VCORE_OK;
}

int vcore__vcpu_nested_pat_write(vcore_vcpu_t *vcpu, uint64_t value, uint32_t *gp)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    /* SDM Vol. 3, "IA32_PAT MSR": writing an undefined memory type (2, 3,
     * or 8 and above) into any entry is #GP(0). */
    *gp = vcore__x86_pat_ok(value) ? 0u : VCORE_VMX_CHECK_MSR_LOAD_PAT;
    if (*gp)
        return VCORE_OK;
    return vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_IA32_PAT, value, true, &nv->pat02);
}
