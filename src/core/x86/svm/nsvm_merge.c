/*
 * nsvm_merge.c - vmcb02's controls: L0's needs united with L1's, the ones
 * L0 must always have forced, and the VMCB12 bits L2 may influence taken
 * through a filter (APM Vol. 2, "VMCB Layout, Control Area").
 */
#include "nsvm_priv.h"

/* Intercepts vmcb02 always has, whatever L1 and L0's own controls say:
 * - the SVM instructions: L2 executing them is emulated (or reflected), and
 *   L2's VMLOAD/VMSAVE must never run on the processor with an L2 address
 *   taken as a host-physical one (CVE-2021-3656 class);
 * - SHUTDOWN: an L2 shutdown L1 does not intercept shuts L1 down, it must
 *   not reach the processor (CVE-2022-3344 class);
 * - MSR_PROT and IOIO_PROT: the merged permission maps decide;
 * - INTR, NMI, SMI, INIT: physical events are the host's. */
#define VCORE__NSVM_FORCED_LIST(X)                                                                  \
    X(VMRUN) X(VMLOAD) X(VMSAVE) X(STGI) X(CLGI) X(SKINIT) X(INVLPGA) X(VMMCALL) X(SHUTDOWN)        \
    X(MSR_PROT) X(IOIO_PROT) X(INTR) X(NMI) X(SMI) X(INIT)

/* int_ctl bits VMCB12 controls (CVE-2021-3653 class): V_TPR and the
 * virtual interrupt L1 injects. V_INTR_MASKING, V_GIF_ENABLE, V_NMI_ENABLE
 * and AVIC_ENABLE never come from VMCB12: the library emulates none of
 * them for L1, and V_INTR_MASKING is L0's (physical interrupts stay the
 * host's while L2 runs). */
#define VCORE__NSVM_INT_CTL_L1                                                                      \
    (VCORE_VMCB_INT_V_TPR_MASK | VCORE_VMCB_INT_V_IRQ | VCORE_VMCB_INT_V_INTR_PRIO_MASK |          \
     VCORE_VMCB_INT_V_IGN_TPR)

void vcore__nsvm_merge_controls(vcore_nsvm_t *n)
{
    const vcore_vmcb_control_t *c12 = &n->vmcb12.control;
    const vcore_vmcb_control_t *l0 = &n->l0;
    vcore_vmcb_control_t *c = &n->vmcb02.control;
    vcore__memset(c, 0, sizeof(*c));
    for (uint32_t i = 0; i < 6; i++)
        c->intercept[i] = l0->intercept[i] | c12->intercept[i];
#define VCORE__NSVM_FORCE(name) vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_##name, true);
    VCORE__NSVM_FORCED_LIST(VCORE__NSVM_FORCE)
#undef VCORE__NSVM_FORCE
    /* "TSC_OFFSET": L2 reads L0's offset for L1 plus L1's for L2. */
    c->tsc_offset = l0->tsc_offset + c12->tsc_offset;
    c->asid = n->l2_asid;
    /* Any flush L1 asks for concerns L1's guests only: L2's ASID. */
    c->tlb_control = c12->tlb_control != VCORE_VMCB_TLB_NOTHING ? (uint8_t)VCORE_VMCB_TLB_FLUSH_ASID
                                                                 : (uint8_t)VCORE_VMCB_TLB_NOTHING;
    c->int_ctl = (c12->int_ctl & VCORE__NSVM_INT_CTL_L1) | VCORE_VMCB_INT_V_INTR_MASKING;
    c->int_vector = c12->int_vector & 0xffu;
    c->int_state = c12->int_state & VCORE_VMCB_STATE_INTERRUPT_SHADOW;
    c->event_inj = c12->event_inj; /* checked by the VMRUN checks */
    /* L0 runs every guest with nested paging; the backend sets nCR3 to its
     * table for L2 (L1's table composed with its own) and the map
     * addresses to msrpm02/iopm02. SEV, SEV-ES and GMET never come from
     * VMCB12 (not offered to L1). */
    c->nested_ctl = l0->nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE;
    /* LBR and VMSAVE/VMLOAD virtualization are not offered to L1. */
    c->virt_ext = 0;
    /* "Pause Intercept Filtering": L1 is not offered the filter, so each
     * PAUSE of L2 is L1's #VMEXIT when it intercepts PAUSE; L0's filter
     * would hide all but every count-th one. It applies only to L0's own
     * intercept. */
    if (!vcore_vmcb_intercept_test(c12, VCORE_VMCB_INTERCEPT_PAUSE)) {
        c->pause_filter_count = l0->pause_filter_count;
        c->pause_filter_threshold = l0->pause_filter_threshold;
    }
    c->clean = 0; /* a new vmcb02 content: nothing cached is valid */
}

/*
 * Reads one of L1's maps once and ORs L0's into it, page by page through a
 * one-page buffer, into dst; true when dst changed. A map L1 does not
 * enable (its PROT intercept clear) contributes nothing; a map outside RAM
 * reads as all ones, as physical reads there do.
 *
 * L1's map is read at every VMRUN: the processor may read the maps at any
 * time while the guest runs and no clean bit covers their contents ("VMCB
 * Clean Field": bit I covers only the base addresses), so a change L1 made
 * in memory since the last VMRUN must be seen, and without write tracking
 * of L1's pages only reading it tells. What is saved is everything after
 * the read: an unchanged result is not handed to the backend again.
 */
static bool nsvm_merge_map(uint8_t *dst, size_t len, const vcore_nvmx_mem_t *mem, bool l1_on, uint64_t base,
                           const uint8_t *l0, bool l0_valid, uint8_t *page, size_t force_byte, uint8_t force_mask)
{
    bool changed = false;
    for (size_t off = 0; off < len; off += 0x1000u) {
        if (!l1_on)
            vcore__memset(page, 0, 0x1000u);
        else if (mem->read(mem->ctx, (base & ~0xfffull) + off, page, 0x1000u) != VCORE_OK)
            vcore__memset(page, 0xff, 0x1000u);
        if (l0_valid)
            for (size_t i = 0; i < 0x1000u; i++)
                page[i] = (uint8_t)(page[i] | l0[off + i]);
        if (force_byte >= off && force_byte - off < 0x1000u)
            page[force_byte - off] = (uint8_t)(page[force_byte - off] | force_mask);
        if (vcore__memcmp(dst + off, page, 0x1000u) != 0) {
            vcore__memcpy(dst + off, page, 0x1000u);
            changed = true;
        }
    }
    return changed;
}

void vcore__nsvm_merge_maps(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem)
{
    const vcore_vmcb_control_t *c12 = &n->vmcb12.control;
    uint8_t *page = (uint8_t *)&n->scratch; /* free once VMCB12's copy is taken */
    /* L2's PAT under L1's nested paging is G_PAT, which L0 serves itself
     * when its run layer asks (vcpu_nested_svm_run.c): both its bits set. */
    uint32_t byte = 0, bit = 0;
    uint8_t pat = 0;
    if (n->pat_np_intercept && (c12->nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE) &&
        vcore_vmcb_msrpm_pos(VCORE_MSR_IA32_PAT, &byte, &bit))
        pat = (uint8_t)(3u << bit);
    bool changed = nsvm_merge_map(n->msrpm02, sizeof(n->msrpm02), mem,
                                  vcore_vmcb_intercept_test(c12, VCORE_VMCB_INTERCEPT_MSR_PROT), c12->msrpm_base_pa,
                                  n->l0_msrpm, n->l0_msrpm_valid, page, byte, pat);
    if (nsvm_merge_map(n->iopm02, sizeof(n->iopm02), mem,
                       vcore_vmcb_intercept_test(c12, VCORE_VMCB_INTERCEPT_IOIO_PROT), c12->iopm_base_pa, n->l0_iopm,
                       n->l0_iopm_valid, page, 0, 0))
        changed = true;
    if (changed)
        n->maps_changed = true;
}
