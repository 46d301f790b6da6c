/*
 * vcpu_nested_vpid.c - L2's VPID: vmcs02 runs on vpid02, a VPID the backend
 * gives the vCPU besides its vmcs01's, so an entry to L2 keeps L2's cached
 * translations and L1's stay apart (SDM Vol. 3, "Virtual-Processor
 * Identifiers (VPIDs)", "VPIDs and TLBs").
 *
 * L1 tags L2's translations with vmcs12's VPID; vpid02 stands for one of
 * them at a time, the one L2 last ran with. vpid02 is flushed exactly when
 * what it holds could differ from what L1's processor would hold for the
 * VPID L2 is about to run with:
 *  - an entry whose vmcs12 VPID is not the one L2 last ran with: vpid02
 *    held another VPID's translations (single-context);
 *  - L1's INVVPID ("INVVPID-Invalidate Translations Based on VPID"):
 *    individual-address (type 0), single-context (1) and
 *    single-context-retaining-globals (3) naming the VPID vpid02 stands
 *    for flush that address, everything, or everything but globals;
 *    all-context (2) flushes vpid02. One naming another VPID has nothing
 *    to flush: that VPID's translations left vpid02 when L2 last switched.
 * vmcs12 without "enable VPID" runs vmcs02 without VPID: the processor
 * flushes VPID 0000H at every entry and exit of vmcs02. L1's processor
 * would also flush L1's own translations then ("Operations that Invalidate
 * Cached Mappings": with "enable VPID" 0, VM entries and VM exits
 * invalidate the mappings of VPID 0000H, which are L1's as well), but
 * those live under vmcs01's VPID: each exit to L1 asks the backend to
 * flush them (vcpu_flush_tlb), which covers the entry too, as L1 runs no
 * instruction in between. After VMXOFF or RESET vpid02 is flushed before
 * its next use.
 */
#include "vcpu_nested.h"

#define NESTED_VPID_INVVPID_ADDR 0u      /* individual-address */
#define NESTED_VPID_INVVPID_SINGLE 1u    /* single-context */
#define NESTED_VPID_INVVPID_ALL 2u       /* all-context */
#define NESTED_VPID_INVVPID_SINGLE_NG 3u /* single-context, retaining globals */

int vcore__vcpu_nested_vpid_setup(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    if (nv->vpid02_asked)
        return VCORE_OK;
    uint16_t vpid = 0;
    int err = ops->vcpu_vpid02 ? ops->vcpu_vpid02(vcpu, vcpu->priv, &vpid) : VCORE_ERR_UNSUPPORTED;
    if (err == VCORE_ERR_UNSUPPORTED)
        vpid = 0;
    else if (err)
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    /* vmcs02 needs the control on the backend's processor, and VPID 0000H
     * is the host's ("Checks on VMX Controls"). */
    if (!(nv->hw_allowed1[VCORE__VMCS_CTL_PROC2] & VCORE__PROC2_VPID))
        vpid = 0;
    nv->vpid02 = vpid;
    nv->vpid12_last = 0;
    nv->vpid02_asked = true;
    return VCORE_OK;
}

/* vmcs12's "enable VPID" (a secondary control: off without them). */
static bool vcore__vcpu_nested_vpid12(const vcore__vmcs12_t *v)
{
    return (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
           (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_VPID);
}

bool vcore__vcpu_nested_vpid_on(vcore_vcpu_t *vcpu)
{
    return vcpu->nvmx->vpid02 && vcore__vcpu_nested_vpid12(vcore__vcpu_nested_v12(vcpu));
}

/* One request to the backend; a failure leaves vpid02 to be flushed whole
 * at the next entry. */
static int vcore__vcpu_nested_vpid_flush(vcore_vcpu_t *vcpu, uint32_t kind, const uint64_t *range)
{
    vcore_tlb_flush_t req;
    req.kind = kind;
    req.count = range ? 1u : 0u;
    req.ranges = range;
    int err = vcpu->vm->ops.vcpu_flush_vpid02(vcpu, vcpu->priv, &req);
    if (err) {
        vcpu->nvmx->vpid12_last = 0;
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    }
    return VCORE_OK;
}

int vcore__vcpu_nested_vpid_enter(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!vcore__vcpu_nested_vpid_on(vcpu))
        return VCORE_OK;
    uint16_t vpid12 = vcore__vcpu_nested_v12(vcpu)->VIRTUAL_PROCESSOR_ID;
    if (vpid12 == nv->vpid12_last)
        return VCORE_OK;
    int err = vcore__vcpu_nested_vpid_flush(vcpu, VCORE_TLB_FLUSH_ALL, NULL);
    if (!err)
        nv->vpid12_last = vpid12;
    return err;
}

int vcore__vcpu_nested_vpid_invvpid(vcore_vcpu_t *vcpu, uint32_t type, uint16_t vpid, uint64_t addr)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv->vpid02 || !nv->vpid12_last)
        return VCORE_OK; /* vpid02 holds nothing of L1's VPIDs */
    if (type != NESTED_VPID_INVVPID_ALL && vpid != nv->vpid12_last)
        return VCORE_OK;
    switch (type) {
    case NESTED_VPID_INVVPID_ADDR: {
        /* One page (Hyper-V range encoding: bits 11:0 = 0 more pages). */
        uint64_t range = addr & ~0xfffull;
        return vcore__vcpu_nested_vpid_flush(vcpu, VCORE_TLB_FLUSH_LIST, &range);
    }
    case NESTED_VPID_INVVPID_SINGLE_NG:
        return vcore__vcpu_nested_vpid_flush(vcpu, VCORE_TLB_FLUSH_NON_GLOBAL, NULL);
    default:
        return vcore__vcpu_nested_vpid_flush(vcpu, VCORE_TLB_FLUSH_ALL, NULL);
    }
}

int vcore__vcpu_nested_vpid_leave(vcore_vcpu_t *vcpu)
{
    const vcore_backend_t *ops = &vcpu->vm->ops;
    if (vcore__vcpu_nested_vpid12(vcore__vcpu_nested_v12(vcpu)) || !ops->vcpu_flush_tlb)
        return VCORE_OK;
    vcore_tlb_flush_t req;
    req.kind = VCORE_TLB_FLUSH_ALL;
    req.count = 0;
    req.ranges = NULL;
    int err = ops->vcpu_flush_tlb(vcpu, vcpu->priv, &req);
    return err ? (err < 0 ? err : VCORE_ERR_HWFAIL) : VCORE_OK;
}
