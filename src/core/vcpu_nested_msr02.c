/*
 * vcpu_nested_msr02.c - the vCPU's IA32_EFER, IA32_PAT and IA32_DEBUGCTL
 * while vmcs02 holds L2's (vcpu_nested_efer.c, vcpu_nested_pat.c,
 * vcpu_nested_debugctl.c), for L2's own
 * RDMSR/WRMSR that L1 lets through and for the VMM's vcore_vcpu_get_msr()
 * / vcore_vcpu_set_msr().
 *
 * The processor has one IA32_PAT and one IA32_EFER. SDM Vol. 3, "Loading
 * Guest Control Registers, Debug Registers, and MSRs": a VM entry with
 * "load IA32_PAT" / "load IA32_EFER" overwrites the register with
 * vmcs12's guest value, and without the control L2 runs on the register
 * as L1 left it (EFER's LMA and LME from "IA-32e mode guest"). "Loading
 * Host State": the exit gives L1 vmcs12's host value with "load IA32_PAT"
 * / "load IA32_EFER", and without it leaves the register as L2 had it
 * (EFER's LMA and LME from "host address-space size"). "VM-Entry Failures
 * During or After Loading Guest State": an entry failing in its MSR-load
 * list exits the same way after the guest state was loaded. So once L2's
 * value is loaded, the value L1 had before the entry is never seen again:
 * the register is L2's until the exit to L1, and the VMM reads and writes
 * L2's value - as KVM's vCPU MSRs are L2's in guest mode. IA32_DEBUGCTL
 * likewise: loaded from vmcs12 or left as L1 had it at the entry, and
 * cleared by every exit to L1 ("Loading Host State"), so L1's value before
 * the entry is not needed again either. A write by the
 * VMM follows WRMSR's rules for L2 (a value WRMSR would refuse with #GP(0)
 * is refused), and L1 then sees it at the exit as the SDM says, exactly
 * as if L2 had written it.
 */
#include "vcpu_nested.h"

#include "virtcore/x86/msr.h"

bool vcore__vcpu_nested_msr02_held(const vcore_vcpu_t *vcpu, uint32_t index)
{
    const vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv)
        return false;
    return (index == VCORE_MSR_IA32_EFER && nv->efer02_live) || (index == VCORE_MSR_IA32_PAT && nv->pat02_live) ||
           (index == VCORE_MSR_IA32_DEBUGCTL && nv->debugctl02_live);
}

uint64_t vcore__vcpu_nested_msr02_get(const vcore_vcpu_t *vcpu, uint32_t index)
{
    const vcore_nvmx_t *nv = vcpu->nvmx;
    if (index == VCORE_MSR_IA32_DEBUGCTL)
        return nv->debugctl02;
    return index == VCORE_MSR_IA32_EFER ? nv->efer02 : nv->pat02;
}

int vcore__vcpu_nested_msr02_write(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value, uint32_t *why)
{
    if (index == VCORE_MSR_IA32_EFER)
        return vcore__vcpu_nested_efer_write(vcpu, value, why);
    if (index == VCORE_MSR_IA32_DEBUGCTL)
        return vcore__vcpu_nested_debugctl_write(vcpu, value, why);
    return vcore__vcpu_nested_pat_write(vcpu, value, why);
}

int vcore__vcpu_nested_msr02_set(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value)
{
    /* The VMM calls between runs: vmcs02 may not be the backend's current VMCS. */
    uint32_t why = 0;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_msr02_write(vcpu, index, value, &why);
    if (err || !why)
        return err;
    /* The rule WRMSR would fault on names the refusal. */
    return vcore__diag_set(&vcpu->last_diag, why, value);
}
