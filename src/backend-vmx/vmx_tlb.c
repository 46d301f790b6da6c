/*
 * vmx_tlb.c - the vcpu_flush_tlb op: invalidating the guest's cached
 * linear translations (SDM Vol. 3, "Invalidating Cached Translation
 * Information", "VPIDs and TLBs", "INVVPID").
 *
 * With VPID enabled the processor keeps the guest's linear and combined
 * mappings across VM exits and entries, tagged by the vCPU's VPID, so the
 * backend invalidates them with INVVPID on the vCPU's own processor (the
 * instruction acts on the logical processor that executes it):
 *   ALL         single-context (type 1): every mapping of the VPID;
 *   NON_GLOBAL  single-context-retaining-globals (type 3) where
 *               IA32_VMX_EPT_VPID_CAP bit 43 says it exists, else type 1;
 *   LIST        individual-address (type 0) for each page of each range
 *               where bit 40 says it exists and the list is short, else
 *               type 1 (flushing more than asked is allowed).
 * Without VPID, "VM entries and VM exits invalidate all linear and
 * combined mappings associated with VPID 0000H" ("Operations that
 * Invalidate Cached Mappings"): the entry the core is about to make is the
 * full flush, and nothing is left to do.
 *
 * A nested guest (L2 on vmcs02) runs on the vCPU's vpid02: its vmcs01 VPID
 * with bit 15 set (vmcs01 VPIDs are vCPU id + 1, below 8000H), so it is
 * distinct from every vmcs01 VPID and every other vCPU's vpid02; the
 * vcpu_flush_vpid02 op invalidates it the same way.
 */
#include "vmx.h"

#include "core/tlb_list.h"
#include "core/x86/x86.h"
#include "virtcore/vm.h"

/* INVVPID types ("INVVPID"). */
#define VCORE__INVVPID_ADDR 0u
#define VCORE__INVVPID_SINGLE 1u
#define VCORE__INVVPID_SINGLE_NG 3u

static int vcore__vmx_invvpid_ok(uint64_t type, uint16_t vpid, uint64_t gla)
{
    return vcore__vmx_invvpid(type, vpid, gla).kind == VCORE__VMX_SUCCEED ? VCORE_OK
                                                                           : VCORE_ERR_HWFAIL;
}

#define VCORE__VMX_VPID02_BIT 0x8000u

/* Invalidates what the processor caches for `vpid` as req says. */
static int vcore__vmx_flush_vpid(vcore_vcpu_t *vcpu, vcore__vmx_vcpu_t *c, uint16_t vpid, const vcore_tlb_flush_t *req)
{
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    if (vcore__tlb_list_bad(req))
        return VCORE_ERR_INVAL;
    /* INVVPID acts on the processor that executes it: the vCPU's own. */
    int err = vcore__vmx_root_here(c, vcore_vm_host(c->vmobj));
    if (err)
        return err;
    if (!vpid)
        return VCORE_OK; /* the next VM entry flushes VPID 0000H */
    uint64_t cap = v->caps.ept_vpid;
    if (req->kind == VCORE_TLB_FLUSH_NON_GLOBAL && (cap & VCORE__EPT_CAP_INVVPID_SINGLE_NG))
        return vcore__vmx_invvpid_ok(VCORE__INVVPID_SINGLE_NG, vpid, 0);
    if (req->kind != VCORE_TLB_FLUSH_LIST || !(cap & VCORE__EPT_CAP_INVVPID_ADDR) ||
        vcore__tlb_list_pages(req, VCORE__TLB_LIST_MAX_PAGES) > VCORE__TLB_LIST_MAX_PAGES)
        return vcore__vmx_invvpid_ok(VCORE__INVVPID_SINGLE, vpid, 0);
    /* A 4-level guest has 48-bit linear addresses; a non-canonical one is
     * never cached, and INVVPID type 0 would VMfail on it. */
    for (uint32_t i = 0; i < req->count; i++) {
        uint64_t page = VCORE__TLB_RANGE_PAGE(req->ranges[i]);
        for (uint32_t k = 0; k <= VCORE__TLB_RANGE_EXTRA(req->ranges[i]); k++) {
            uint64_t gla = page + ((uint64_t)k << 12);
            if (gla < page)
                break; /* past the top of the address space */
            if (!vcore__x86_is_canonical(gla, 48))
                continue;
            err = vcore__vmx_invvpid_ok(VCORE__INVVPID_ADDR, vpid, gla);
            if (err)
                return err;
        }
    }
    return VCORE_OK;
}

int vcore__vmx_flush_tlb(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req)
{
    vcore__vmx_vcpu_t *c = priv;
    return vcore__vmx_flush_vpid(vcpu, c, c->vpid, req);
}

int vcore__vmx_vpid02(vcore_vcpu_t *vcpu, void *priv, uint16_t *vpid)
{
    (void)vcpu;
    const vcore__vmx_vcpu_t *c = priv;
    if (!c->vpid || (c->vpid & VCORE__VMX_VPID02_BIT))
        return VCORE_ERR_UNSUPPORTED;
    *vpid = (uint16_t)(c->vpid | VCORE__VMX_VPID02_BIT);
    return VCORE_OK;
}

int vcore__vmx_flush_vpid02(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req)
{
    vcore__vmx_vcpu_t *c = priv;
    uint16_t vpid = 0;
    if (vcore__vmx_vpid02(vcpu, priv, &vpid) != VCORE_OK)
        return VCORE_ERR_STATE;
    return vcore__vmx_flush_vpid(vcpu, c, vpid, req);
}

/* INVEPT types ("INVEPT"). */
#define VCORE__INVEPT_SINGLE 1u
#define VCORE__INVEPT_ALL 2u

/*
 * The vcpu_invept op: the core changed or gave back tables of a shadow EPT
 * (ept02) and the processor must forget what it cached from them: the
 * guest-physical and combined mappings tagged with that EPTP's bits 51:12
 * ("Invalidation of TLBs and Paging-Structure Caches"). Single-context
 * INVEPT names exactly that EPT; without it, all-context (more than asked,
 * which is allowed). INVEPT acts on the processor executing it: the vCPU's.
 */
int vcore__vmx_invept_op(vcore_vcpu_t *vcpu, void *priv, uint64_t eptp)
{
    vcore__vmx_vcpu_t *c = priv;
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    int err = vcore__vmx_root_here(c, vcore_vm_host(c->vmobj));
    if (err)
        return err;
    uint64_t type = (v->caps.ept_vpid & VCORE__EPT_CAP_INVEPT_SINGLE) ? VCORE__INVEPT_SINGLE : VCORE__INVEPT_ALL;
    return vcore__vmx_invept(type, eptp).kind == VCORE__VMX_SUCCEED ? VCORE_OK : VCORE_ERR_HWFAIL;
}
