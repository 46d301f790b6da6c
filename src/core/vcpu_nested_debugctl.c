/*
 * vcpu_nested_debugctl.c - L2's DR7 and IA32_DEBUGCTL on vmcs02.
 *
 * SDM Vol. 3, "Loading Guest Control Registers, Debug Registers, and
 * MSRs": with VM-entry control 2 ("load debug controls") the entry loads
 * DR7 and IA32_DEBUGCTL from vmcs12's guest-state area; without it neither
 * changes, so L2 runs on L1's. vmcs02 therefore always loads them (rule
 * X(4, 2, ONE) of x86/nvmx_pipeline.h), else the processor would keep
 * what it has after the exit from L1 - on a backend running L1 in its own
 * VMCS, L0's host values (DR7 400H, IA32_DEBUGCTL 0). vmcs02 always saves
 * them too (X(3, 2, ONE)): L2's MOV to DR7 does not exit unless L1 asks
 * for it, so only the exit's save tells L0 what DR7 L2 has, for the next
 * entry of the same L2 after an exit L0 handles. Both controls are in the
 * default1 class of their words ("VM-Entry Controls", "VM-Exit Controls"
 * in the appendix on VMX capability reporting): every processor has them.
 *
 * The exit to L1: "Saving Guest State" with VM-exit control 2 ("save
 * debug controls") stores L2's DR7 and IA32_DEBUGCTL in vmcs12 (read back
 * from vmcs02); "Loading Host State" then sets DR7 to 400H and clears
 * IA32_DEBUGCTL whatever the controls (vcpu_nested_exit.c). Every exit
 * reads vmcs02's DR7 with the other eager guest fields, so the next entry
 * writes DR7 only when it changes.
 *
 * L2 writes IA32_DEBUGCTL in two ways, one rule for both (debugctl_write):
 * its own WRMSR, which vmcs02's MSR bitmap always sends to L0 (IA32_DEBUGCTL
 * is not one of the MSRs it lets through, vcpu_nested_msrbmp.c), and an
 * entry of L1's VM-entry MSR-load list ("Loading MSRs": processed as WRMSR
 * at CPL 0 after the guest state). The rule is the vCPU model's
 * (vcore__x86_debugctl_valid on the vCPU's CPUID).
 *
 * The VMM's vcore_vcpu_get_dregs() / vcore_vcpu_set_dregs() reach L2's DR7
 * in vmcs02 while it is live (dr7_get, dr7_set), as vcore_vcpu_get_msr()
 * reaches L2's IA32_DEBUGCTL (vcpu_nested_msr02.c): the entry replaced
 * L1's DR7 and the exit to L1 sets DR7 to 400H ("Loading Host State"),
 * so L1's value before the entry is not needed again. DR0-DR3 and DR6
 * are not switched by VM entries and exits: L1 and L2 share them.
 */
#include "vcpu_nested.h"

#include "virtcore/x86/msr.h"
#include "virtcore/x86/vmx_checks.h"

#define NESTED_DEBUG_ENTRY_LOAD (1u << 2) /* VM-entry control "load debug controls" */
#define NESTED_DEBUG_EXIT_SAVE (1u << 2)  /* VM-exit control "save debug controls" */
#define NESTED_DEBUG_MOV_DR (1u << 23)    /* primary processor-based control "MOV-DR exiting" */

int vcore__vcpu_nested_debugctl_enter(vcore_vcpu_t *vcpu, bool full)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint64_t dr7 = v->GUEST_DR7, dbg = v->GUEST_IA32_DEBUGCTL;
    if (!(v->VM_ENTRY_CONTROLS & NESTED_DEBUG_ENTRY_LOAD)) {
        /* L1's own, the vCPU model's: fetching them may make vmcs01 the
         * backend's current VMCS again. */
        int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_DREGS | VCORE_X86_STATE_MSRS);
        if (!err)
            err = vcore__vcpu_nested_load02(vcpu);
        if (err)
            return err;
        dr7 = vcpu->x86->st.dregs.dr7;
        dbg = vcpu->x86->st.msrs.debugctl;
    }
    /* vmcs02's DR7 is dr702 only while L2 could not change it (MOV-DR
     * exiting, L1's) or the last exit read it back; otherwise it is written
     * without a read at every exit ("Saving Guest State" stores it in
     * vmcs02 whether or not anyone asks). */
    int err = vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_DR7, dr7, full || !nv->dr702_known, &nv->dr702);
    nv->dr702_known = (v->CPU_BASED_VM_EXEC_CONTROL & NESTED_DEBUG_MOV_DR) != 0;
    if (!err)
        err = vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_IA32_DEBUGCTL, dbg, full, &nv->debugctl02);
    if (err)
        return err;
    nv->debugctl02_live = true;
    return VCORE_OK;
}

int vcore__vcpu_nested_debugctl_save(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    if (!(v->VM_EXIT_CONTROLS & NESTED_DEBUG_EXIT_SAVE))
        return VCORE_OK;
    /* DR7 and IA32_DEBUGCTL as vmcs02 saved them: L2 writes DR7 without
     * exiting, and the processor may change IA32_DEBUGCTL too
     * (FREEZE_LBRS_ON_PMI clears LBR). Read only when L1 asks for them. */
    uint64_t dr7 = 0, dbg = 0;
    int err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_DR7, &dr7);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_IA32_DEBUGCTL, &dbg);
    if (err)
        return err;
    nv->dr702 = dr7;
    nv->dr702_known = true;
    nv->debugctl02 = dbg;
    if (v->GUEST_DR7 != dr7)
        vcore__nvmx_changed_id(nv, VCORE__ROW_GUEST_DR7);
    v->GUEST_DR7 = dr7;
    if (v->GUEST_IA32_DEBUGCTL != dbg)
        vcore__nvmx_changed_id(nv, VCORE__ROW_GUEST_IA32_DEBUGCTL);
    v->GUEST_IA32_DEBUGCTL = dbg;
    return VCORE_OK;
}

int vcore__vcpu_nested_debugctl_write(vcore_vcpu_t *vcpu, uint64_t value, uint32_t *gp)
{
    /* SDM Vol. 2, "WRMSR": a reserved bit (the vCPU's CPUID says which,
     * SDM Vol. 4, "IA32_DEBUGCTL") is #GP(0). */
    *gp = (value & vcpu->x86->model.debugctl_reserved) ? VCORE_VMX_CHECK_MSR_LOAD_DEBUGCTL : 0u;
    if (*gp)
        return VCORE_OK;
    return vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_IA32_DEBUGCTL, value, true, &vcpu->nvmx->debugctl02);
}

bool vcore__vcpu_nested_dr7_held(const vcore_vcpu_t *vcpu)
{
    return vcpu->nvmx && vcpu->nvmx->debugctl02_live;
}

int vcore__vcpu_nested_dr7_get(vcore_vcpu_t *vcpu, uint64_t *dr7)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (nv->dr702_known) {
        *dr7 = nv->dr702;
        return VCORE_OK;
    }
    /* L2 may have written it without an exit: vmcs02 saved it at the last
     * exit ("Saving Guest State"). Still not known after this read: L2
     * may write it again when it runs. */
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_DR7, dr7);
    return err;
}

int vcore__vcpu_nested_dr7_set(vcore_vcpu_t *vcpu, uint64_t dr7)
{
    /* The VMM calls between runs: vmcs02 may not be the backend's current VMCS. */
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_GUEST_DR7, dr7, true, &vcpu->nvmx->dr702);
    return err;
}
