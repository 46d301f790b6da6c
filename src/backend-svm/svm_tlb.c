/*
 * svm_tlb.c - the vcpu_flush_tlb op: invalidating the guest's cached
 * translations (APM Vol. 2, "TLB Control", "TLB Flush", "INVLPGA").
 *
 * TLB entries are tagged with the ASID of the guest that made them and
 * survive VMRUN and #VMEXIT; the backend removes a vCPU's on its own
 * processor, before its next VMRUN:
 *   ALL         TLB_CONTROL = 3, "flush this guest's TLB entries", where
 *               CPUID Fn8000_000A_EDX[FlushByAsid] offers it; otherwise
 *               the vCPU gives up its ASID and the next VMRUN takes a fresh
 *               one, which holds no entries (svm_cpu.c: ASIDs of a
 *               generation are handed out once; a new generation starts
 *               with TLB_CONTROL = 1) - cheaper than TLB_CONTROL = 1, which
 *               would flush every guest and the host;
 *   NON_GLOBAL  TLB_CONTROL = 7, "flush this guest's non-global TLB
 *               entries", with FlushByAsid; otherwise as ALL;
 *   LIST        INVLPGA of each page with the vCPU's ASID when the list has
 *               at most VCORE__TLB_LIST_MAX_PAGES pages: a few INVLPGAs are
 *               cheaper than losing every other translation the guest has
 *               (each would cost a nested page walk to refill); a longer
 *               list is flushed as ALL (flushing more is allowed).
 * A vCPU whose ASID is of an old generation gets a fresh ASID at its next
 * VMRUN anyway: nothing is left to flush.
 */
#include "svm.h"

#include "core/tlb_list.h"
#include "virtcore/vm.h"

/* Strength of a TLB_CONTROL value: 1 flushes every ASID, 3 this guest's
 * entries, 7 its non-global ones, 0 nothing. */
static uint32_t vcore__svm_tlb_rank(uint8_t tlb)
{
    switch (tlb) {
    case VCORE_VMCB_TLB_FLUSH_ALL:
        return 3;
    case VCORE_VMCB_TLB_FLUSH_ASID:
        return 2;
    case VCORE_VMCB_TLB_FLUSH_LOCAL:
        return 1;
    default:
        return 0;
    }
}

uint8_t vcore__svm_tlb_merge(uint8_t a, uint8_t b)
{
    return vcore__svm_tlb_rank(a) >= vcore__svm_tlb_rank(b) ? a : b;
}

/* The whole guest TLB of the vCPU, or its non-global part. */
static void vcore__svm_tlb_whole(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, bool non_global)
{
    if (!(v->features & VCORE_SVM_FEAT_FLUSH_BY_ASID)) {
        c->asid = 0; /* a fresh ASID at the next VMRUN (svm_cpu.c) */
        return;
    }
    uint8_t tlb = non_global ? VCORE_VMCB_TLB_FLUSH_LOCAL : VCORE_VMCB_TLB_FLUSH_ASID;
    c->tlb_request = vcore__svm_tlb_merge(c->tlb_request, tlb);
}

int vcore__svm_flush_tlb(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req)
{
    vcore__svm_vcpu_t *c = priv;
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);
    const vcore__svm_vm_t *v = vcore_vm_backend_priv(vm);
    if (vcore__tlb_list_bad(req))
        return VCORE_ERR_INVAL;
    /* The ASID and INVLPGA are the processor's: the vCPU's own. */
    int err = vcore__svm_cpu_here(c, vcore_vm_host(vm));
    if (err)
        return err;
    if (c->asid == 0 || c->asid_generation != c->cpu->asid_generation)
        return VCORE_OK; /* the next VMRUN takes a fresh ASID */
    if (req->kind != VCORE_TLB_FLUSH_LIST ||
        vcore__tlb_list_pages(req, VCORE__TLB_LIST_MAX_PAGES) > VCORE__TLB_LIST_MAX_PAGES) {
        vcore__svm_tlb_whole(c, v, req->kind == VCORE_TLB_FLUSH_NON_GLOBAL);
        return VCORE_OK;
    }
    /* "INVLPGA": invalidates the TLB mapping of the virtual page in rAX for
     * the ASID in ECX (a large page holding it goes whole). */
    for (uint32_t i = 0; i < req->count; i++) {
        uint64_t page = VCORE__TLB_RANGE_PAGE(req->ranges[i]);
        for (uint32_t k = 0; k <= VCORE__TLB_RANGE_EXTRA(req->ranges[i]); k++) {
            uint64_t gva = page + ((uint64_t)k << 12);
            if (gva < page)
                break; /* past the top of the address space */
            vcore__svm_invlpga(gva, c->asid);
        }
    }
    return VCORE_OK;
}
