/*
 * vcpu_nested_efer.c - L2's IA32_EFER on vmcs02.
 *
 * SDM Vol. 3, "Loading Guest Control Registers, Debug Registers, and
 * MSRs": with VM-entry control 15 ("load IA32_EFER") the entry loads
 * vmcs12's guest IA32_EFER; without it, it sets only EFER.LMA and EFER.LME
 * from control 9 ("IA-32e mode guest") and leaves the other bits (SCE, NXE)
 * as L1 had them. vmcs02 therefore always loads IA32_EFER (rule X(4, 15,
 * ONE) of x86/nvmx_pipeline.h): otherwise the processor would keep L0's
 * own EFER for L2. A backend processor without the control cannot give L2
 * L1's EFER, and the entry is refused (NVMX_PIPELINE_UNSUPPORTED, control
 * 4:15; vcore__vcpu_nested_supported).
 *
 * The exit side follows the same register: "Loading Host State" without
 * VM-exit control 21 sets only LMA and LME from "host address-space size"
 * and keeps L2's other bits for L1; "Saving Guest State" with control 20
 * ("save IA32_EFER") stores L2's value in vmcs12.
 *
 * L2 writes it in two ways, one rule for both (efer_write): its own WRMSR,
 * which L1 lets through to L0, and an entry of L1's VM-entry MSR-load list
 * ("Loading MSRs": processed as WRMSR at CPL 0 after the guest state).
 */
#include "vcpu_nested.h"

#include "virtcore/x86/msr.h"
#include "virtcore/x86/vmx_checks.h"

#define NESTED_EFER_ENTRY_LOAD (1u << 15) /* VM-entry control "load IA32_EFER" */
#define NESTED_EFER_ENTRY_IA32E (1u << 9) /* VM-entry control "IA-32e mode guest" */
#define NESTED_EFER_LONG (VCORE__EFER_LMA | VCORE__EFER_LME)

bool vcore__vcpu_nested_efer_forced(const vcore_nvmx_t *nv)
{
    return (nv->hw_allowed1[VCORE__VMCS_CTL_ENTRY] & NESTED_EFER_ENTRY_LOAD) != 0;
}

uint64_t vcore__vcpu_nested_efer_value(const vcore__vmcs12_t *v, uint64_t l1_efer)
{
    if (v->VM_ENTRY_CONTROLS & NESTED_EFER_ENTRY_LOAD)
        return v->GUEST_IA32_EFER;
    return (l1_efer & ~NESTED_EFER_LONG) | ((v->VM_ENTRY_CONTROLS & NESTED_EFER_ENTRY_IA32E) ? NESTED_EFER_LONG : 0u);
}

int vcore__vcpu_nested_efer_enter(vcore_vcpu_t *vcpu, bool full)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!vcore__vcpu_nested_efer_forced(nv))
        return VCORE_OK;
    uint64_t efer = vcore__vcpu_nested_efer_value(vcore__vcpu_nested_v12(vcpu), vcpu->x86->st.sregs.efer);
    /* vmcs02 keeps what was written last unless L2 wrote EFER through L0
     * (vcore__vcpu_nested_efer_write keeps efer02 equal to vmcs02's field). */
    int err = vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_IA32_EFER, efer, full, &nv->efer02);
    if (err)
        return err;
    nv->efer02_live = true;
    return VCORE_OK;
}

int vcore__vcpu_nested_efer_write(vcore_vcpu_t *vcpu, uint64_t value, uint32_t *gp)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    /* SDM Vol. 4, "IA32_EFER": LMA is read-only (a write leaves it). SDM
     * Vol. 2, "WRMSR": #GP(0) for a reserved bit (the vCPU's CPUID says
     * which) and for a change of LME while paging is on ("Initializing
     * IA-32e Mode"). */
    uint64_t cr0 = 0;
    int err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_CR0, &cr0);
    if (err)
        return err;
    uint64_t efer = (value & ~VCORE__EFER_LMA) | (nv->efer02 & VCORE__EFER_LMA);
    *gp = 0;
    if (efer & vcpu->x86->model.efer_reserved)
        *gp = VCORE_VMX_CHECK_MSR_LOAD_EFER_RESERVED;
    else if ((cr0 & VCORE__CR0_PG) && ((efer ^ nv->efer02) & VCORE__EFER_LME))
        *gp = VCORE_VMX_CHECK_MSR_LOAD_EFER_LME;
    if (*gp)
        return VCORE_OK;
    return vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_IA32_EFER, efer, true, &nv->efer02);
}
