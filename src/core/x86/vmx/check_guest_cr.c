/*
 * check_guest_cr.c - SDM Vol. 3, "Checks on Guest Control Registers, Debug
 * Registers, and MSRs". A failure is a VM-entry failure: exit reason 33,
 * qualification 0.
 */
#include "check_priv.h"

void vcore__vmx_check_guest_cr(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    const uint64_t *m = c->caps;
    uint64_t cr0 = v->GUEST_CR0, cr4 = v->GUEST_CR4;
    uint64_t f0 = m[VCORE_NVMX_CAP_CR0_FIXED0], f1 = m[VCORE_NVMX_CAP_CR0_FIXED1];
    uint64_t g0 = m[VCORE_NVMX_CAP_CR4_FIXED0], g1 = m[VCORE_NVMX_CAP_CR4_FIXED1];
    /* NW and CD are never checked: VM entry does not change them ("Loading
     * Guest Control Registers, Debug Registers, and MSRs"). PE and PG are
     * not checked with unrestricted guest. */
    uint64_t never = VCORE__CR0_NW | VCORE__CR0_CD;

    f0 &= ~never;
    f1 |= never;
    if (c->urg)
        f0 &= ~(VCORE__CR0_PE | VCORE__CR0_PG);
    VCORE__CHK(c, (cr0 & f0) != f0, GUEST_CR0_FIXED0, cr0);
    VCORE__CHK(c, cr0 & ~f1, GUEST_CR0_FIXED1, cr0);
    VCORE__CHK(c, (cr0 & VCORE__CR0_PG) && !(cr0 & VCORE__CR0_PE), GUEST_CR0_PG_PE, cr0);
    VCORE__CHK(c, (cr4 & g0) != g0, GUEST_CR4_FIXED0, cr4);
    VCORE__CHK(c, cr4 & ~g1, GUEST_CR4_FIXED1, cr4);
    VCORE__CHK(c, (cr4 & VCORE__CR4_CET) && !(cr0 & VCORE__CR0_WP), GUEST_CR4_CET_WP, cr4);
    if (c->entry & VCORE__ENTRY_LOAD_DEBUG)
        VCORE__CHK(c, v->GUEST_IA32_DEBUGCTL & ~vcore__vmx_debugctl_valid(c), GUEST_DEBUGCTL,
                   v->GUEST_IA32_DEBUGCTL);
    if (c->ia32e) {
        VCORE__CHK(c, !(cr0 & VCORE__CR0_PG), GUEST_IA32E_PG, cr0);
        VCORE__CHK(c, !(cr4 & VCORE__CR4_PAE), GUEST_IA32E_PAE, cr4);
    } else {
        VCORE__CHK(c, cr4 & VCORE__CR4_PCIDE, GUEST_CR4_PCIDE, cr4);
    }
    VCORE__CHK(c, !vcore__x86_phys_ok(v->GUEST_CR3, c->in->maxphyaddr), GUEST_CR3_WIDTH, v->GUEST_CR3);
    if (c->entry & VCORE__ENTRY_LOAD_DEBUG)
        VCORE__CHK(c, v->GUEST_DR7 >> 32, GUEST_DR7_HIGH, v->GUEST_DR7);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->GUEST_SYSENTER_ESP), GUEST_SYSENTER_ESP_CANONICAL,
               v->GUEST_SYSENTER_ESP);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->GUEST_SYSENTER_EIP), GUEST_SYSENTER_EIP_CANONICAL,
               v->GUEST_SYSENTER_EIP);
    if (c->entry & VCORE__ENTRY_LOAD_CET) {
        VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->GUEST_S_CET), GUEST_S_CET_CANONICAL, v->GUEST_S_CET);
        VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->GUEST_INTR_SSP_TABLE_ADDR), GUEST_SSP_TABLE_CANONICAL,
                   v->GUEST_INTR_SSP_TABLE_ADDR);
        VCORE__CHK(c, vcore__vmx_s_cet_reserved(v->GUEST_S_CET), GUEST_S_CET_RESERVED, v->GUEST_S_CET);
        VCORE__CHK(c, vcore__vmx_s_cet_suppress_tracker(v->GUEST_S_CET), GUEST_S_CET_SUPPRESS_TRACKER,
                   v->GUEST_S_CET);
    }
    if (c->entry & VCORE__ENTRY_LOAD_PERF_GLOBAL)
        VCORE__CHK(c, v->GUEST_IA32_PERF_GLOBAL_CTRL & ~vcore__vmx_perf_global_ctrl_valid(c),
                   GUEST_PERF_GLOBAL_CTRL, v->GUEST_IA32_PERF_GLOBAL_CTRL);
    if (c->entry & VCORE__ENTRY_LOAD_PAT)
        VCORE__CHK(c, !vcore__x86_pat_ok(v->GUEST_IA32_PAT), GUEST_PAT, v->GUEST_IA32_PAT);
    if (c->entry & VCORE__ENTRY_LOAD_EFER) {
        uint64_t efer = v->GUEST_IA32_EFER;
        VCORE__CHK(c, vcore__vmx_efer_reserved(efer), GUEST_EFER_RESERVED, efer);
        VCORE__CHK(c, ((efer & VCORE__EFER_LMA) != 0) != c->ia32e, GUEST_EFER_LMA, efer);
        VCORE__CHK(c, (cr0 & VCORE__CR0_PG) && ((efer & VCORE__EFER_LME) != 0) != c->ia32e, GUEST_EFER_LME,
                   efer);
    }
    if (c->entry & VCORE__ENTRY_LOAD_BNDCFGS) {
        VCORE__CHK(c, vcore__vmx_bndcfgs_reserved(v->GUEST_BNDCFGS), GUEST_BNDCFGS_RESERVED, v->GUEST_BNDCFGS);
        VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->GUEST_BNDCFGS & ~0xfffull), GUEST_BNDCFGS_CANONICAL,
                   v->GUEST_BNDCFGS);
    }
    if (c->entry & VCORE__ENTRY_LOAD_RTIT)
        VCORE__CHK(c, v->GUEST_IA32_RTIT_CTL & ~vcore__vmx_rtit_ctl_valid(c), GUEST_RTIT_CTL,
                   v->GUEST_IA32_RTIT_CTL);
    if (c->entry & VCORE__ENTRY_LOAD_LBR_CTL)
        VCORE__CHK(c, v->GUEST_IA32_LBR_CTL & ~vcore__vmx_lbr_ctl_valid(c), GUEST_LBR_CTL,
                   v->GUEST_IA32_LBR_CTL);
    if (c->entry & VCORE__ENTRY_LOAD_PKRS)
        VCORE__CHK(c, v->GUEST_IA32_PKRS >> 32, GUEST_PKRS, v->GUEST_IA32_PKRS);
    if (c->entry & VCORE__ENTRY_LOAD_UINV)
        VCORE__CHK(c, v->GUEST_UINV & 0xff00u, GUEST_UINV, v->GUEST_UINV);
}
