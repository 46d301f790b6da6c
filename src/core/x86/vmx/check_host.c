/*
 * check_host.c - SDM Vol. 3, "Checks on Host Control Registers, MSRs, and
 * SSP", "Checks on Host Segment and Descriptor-Table Registers" and "Checks
 * Related to Address-Space Size". Every failure is VMfailValid 8 (host EFER
 * included: it is loaded on VM exit, so it is host state, not a control).
 */
#include "check_priv.h"

void vcore__vmx_check_host_cr(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    const uint64_t *m = c->caps;
    uint64_t cr0 = v->HOST_CR0, cr4 = v->HOST_CR4;
    uint64_t f0 = m[VCORE_NVMX_CAP_CR0_FIXED0], f1 = m[VCORE_NVMX_CAP_CR0_FIXED1];
    uint64_t g0 = m[VCORE_NVMX_CAP_CR4_FIXED0], g1 = m[VCORE_NVMX_CAP_CR4_FIXED1];
    bool host64 = (c->exit & VCORE__EXIT_HOST_64) != 0;

    /* "Must not set any bit to a value not supported in VMX operation"
     * (SDM "VMX-Fixed Bits in CR0" / "in CR4"). */
    VCORE__CHK(c, (cr0 & f0) != f0, HOST_CR0_FIXED0, cr0);
    VCORE__CHK(c, cr0 & ~f1, HOST_CR0_FIXED1, cr0);
    VCORE__CHK(c, (cr4 & g0) != g0, HOST_CR4_FIXED0, cr4);
    VCORE__CHK(c, cr4 & ~g1, HOST_CR4_FIXED1, cr4);
    VCORE__CHK(c, (cr4 & VCORE__CR4_CET) && !(cr0 & VCORE__CR0_WP), HOST_CR4_CET_WP, cr4);
    VCORE__CHK(c, !vcore__x86_phys_ok(v->HOST_CR3, c->in->maxphyaddr), HOST_CR3_WIDTH, v->HOST_CR3);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_IA32_SYSENTER_ESP), HOST_SYSENTER_ESP_CANONICAL,
               v->HOST_IA32_SYSENTER_ESP);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_IA32_SYSENTER_EIP), HOST_SYSENTER_EIP_CANONICAL,
               v->HOST_IA32_SYSENTER_EIP);
    if (c->exit & VCORE__EXIT_LOAD_CET) {
        VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_S_CET), HOST_S_CET_CANONICAL, v->HOST_S_CET);
        VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_INTR_SSP_TABLE_ADDR), HOST_SSP_TABLE_CANONICAL,
                   v->HOST_INTR_SSP_TABLE_ADDR);
        VCORE__CHK(c, vcore__vmx_s_cet_reserved(v->HOST_S_CET), HOST_S_CET_RESERVED, v->HOST_S_CET);
        VCORE__CHK(c, vcore__vmx_s_cet_suppress_tracker(v->HOST_S_CET), HOST_S_CET_SUPPRESS_TRACKER,
                   v->HOST_S_CET);
        VCORE__CHK(c, v->HOST_SSP & 3u, HOST_SSP_ALIGN, v->HOST_SSP);
    }
    if (c->exit & VCORE__EXIT_LOAD_PERF_GLOBAL)
        VCORE__CHK(c, v->HOST_IA32_PERF_GLOBAL_CTRL & ~vcore__vmx_perf_global_ctrl_valid(c),
                   HOST_PERF_GLOBAL_CTRL, v->HOST_IA32_PERF_GLOBAL_CTRL);
    if (c->exit & VCORE__EXIT_LOAD_PAT)
        VCORE__CHK(c, !vcore__x86_pat_ok(v->HOST_IA32_PAT), HOST_PAT, v->HOST_IA32_PAT);
    if (c->exit & VCORE__EXIT_LOAD_EFER) {
        uint64_t efer = v->HOST_IA32_EFER;
        VCORE__CHK(c, vcore__vmx_efer_reserved(efer), HOST_EFER_RESERVED, efer);
        VCORE__CHK(c, ((efer & VCORE__EFER_LMA) != 0) != host64, HOST_EFER_LMA, efer);
        VCORE__CHK(c, ((efer & VCORE__EFER_LME) != 0) != host64, HOST_EFER_LME, efer);
    }
    if (c->exit & VCORE__EXIT_LOAD_PKRS)
        VCORE__CHK(c, v->HOST_IA32_PKRS >> 32, HOST_PKRS, v->HOST_IA32_PKRS);
}

void vcore__vmx_check_host_seg(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    /* In the SDM's order: CS, SS, DS, ES, FS, GS, TR. */
    const uint16_t sel[7] = {v->HOST_CS_SELECTOR, v->HOST_SS_SELECTOR, v->HOST_DS_SELECTOR,
                             v->HOST_ES_SELECTOR, v->HOST_FS_SELECTOR, v->HOST_GS_SELECTOR,
                             v->HOST_TR_SELECTOR};
    uint32_t k;

    /* RPL (bits 1:0) and TI (bit 2) of every host selector must be 0. */
    for (k = 0; k < 7; k++)
        VCORE__CHK_ID(c, sel[k] & 7u, (uint32_t)VCORE_VMX_CHECK_HOST_CS_SELECTOR + k, sel[k]);
    VCORE__CHK(c, v->HOST_CS_SELECTOR == 0, HOST_CS_NULL, 0);
    VCORE__CHK(c, v->HOST_TR_SELECTOR == 0, HOST_TR_NULL, 0);
    VCORE__CHK(c, v->HOST_SS_SELECTOR == 0 && !(c->exit & VCORE__EXIT_HOST_64), HOST_SS_NULL, 0);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_FS_BASE), HOST_FS_BASE_CANONICAL, v->HOST_FS_BASE);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_GS_BASE), HOST_GS_BASE_CANONICAL, v->HOST_GS_BASE);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_GDTR_BASE), HOST_GDTR_BASE_CANONICAL,
               v->HOST_GDTR_BASE);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_IDTR_BASE), HOST_IDTR_BASE_CANONICAL,
               v->HOST_IDTR_BASE);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_TR_BASE), HOST_TR_BASE_CANONICAL, v->HOST_TR_BASE);
}

/* L1's IA32_EFER.LMA at the VMLAUNCH/VMRESUME decides which address-space
 * sizes the host and the guest may have. */
void vcore__vmx_check_addr_size(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    bool l1_long = (c->in->l1_efer & VCORE__EFER_LMA) != 0;
    bool host64 = (c->exit & VCORE__EXIT_HOST_64) != 0;
    bool cet = (c->exit & VCORE__EXIT_LOAD_CET) != 0;

    VCORE__CHK(c, !l1_long && c->ia32e, ADDR_IA32E_GUEST_L1_LEGACY, c->in->l1_efer);
    VCORE__CHK(c, !l1_long && host64, ADDR_HOST_64_L1_LEGACY, c->in->l1_efer);
    VCORE__CHK(c, l1_long && !host64, ADDR_HOST_32_L1_LONG, c->in->l1_efer);
    if (!host64) {
        VCORE__CHK(c, c->ia32e, ADDR_HOST_32_IA32E_GUEST, v->VM_ENTRY_CONTROLS);
        VCORE__CHK(c, v->HOST_CR4 & VCORE__CR4_PCIDE, ADDR_HOST_32_PCIDE, v->HOST_CR4);
        VCORE__CHK(c, v->HOST_RIP >> 32, ADDR_HOST_32_RIP_HIGH, v->HOST_RIP);
        VCORE__CHK(c, cet && (v->HOST_S_CET >> 32), ADDR_HOST_32_S_CET_HIGH, v->HOST_S_CET);
        VCORE__CHK(c, cet && (v->HOST_SSP >> 32), ADDR_HOST_32_SSP_HIGH, v->HOST_SSP);
    } else {
        VCORE__CHK(c, !(v->HOST_CR4 & VCORE__CR4_PAE), ADDR_HOST_64_PAE, v->HOST_CR4);
        VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->HOST_RIP), ADDR_HOST_64_RIP_CANONICAL, v->HOST_RIP);
        VCORE__CHK(c, cet && !vcore__vmx_chk_canonical(c, v->HOST_SSP), ADDR_HOST_64_SSP_CANONICAL,
                   v->HOST_SSP);
    }
}
