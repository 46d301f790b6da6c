/*
 * check_basic.c - SDM Vol. 3, "Basic VM-Entry Checks": what VMLAUNCH and
 * VMRESUME check before they look at the VMCS contents.
 *
 * The #UD, VM-exit (non-root) and #GP(0) conditions come first in the SDM's
 * list; they belong to instruction emulation (nvmx_insn.c) and have already
 * been decided when these checks run.
 */
#include "check_priv.h"

void vcore__vmx_check_basic(vcore__vmx_chk_t *c)
{
    /* "VMfailInvalid if the current-VMCS pointer is not valid"; a shadow
     * VMCS cannot be launched or resumed either (SDM "VMCS Shadowing").
     * Without a usable VMCS nothing else can be checked. */
    if (c->in->current_vmptr == VCORE_VMX_NO_VMCS) {
        vcore__vmx_chk_fail(c, VCORE_VMX_CHECK_BASIC_NO_CURRENT_VMCS, 0, c->in->current_vmptr);
        c->stop = true;
        return;
    }
    if (c->v->revision & VCORE_VMCS12_SHADOW_BIT) {
        vcore__vmx_chk_fail(c, VCORE_VMX_CHECK_BASIC_SHADOW_CURRENT, 0, c->v->revision);
        c->stop = true;
        return;
    }
    /* VM-instruction error 26, then 4 or 5. */
    VCORE__CHK(c, c->in->movss_blocking, BASIC_MOV_SS, 1);
    VCORE__CHK(c, !c->in->resume && c->in->launch_state != 0, BASIC_LAUNCH_NOT_CLEAR,
               c->in->launch_state);
    VCORE__CHK(c, c->in->resume && c->in->launch_state != 1, BASIC_RESUME_NOT_LAUNCHED,
               c->in->launch_state);
}
