/*
 * vmx_fpu.c - the guest's x87, MMX and SSE state on the vmx backend.
 *
 * VMX transitions leave these registers alone: the VMCS has no field for
 * them (SDM Vol. 3, "Guest-State Area", "Host-State Area"), so each vCPU
 * keeps its guest state in an FXSAVE image swapped with the host's around
 * every entry. The rules of the image and of the swap are shared with the
 * svm backend (core/x86/fxsave.h); this file executes the instructions.
 * The library is compiled with -mgeneral-regs-only, so no code between the
 * swap and the entry touches these registers; the host's own discipline (a
 * kernel's "FPU in use" section) must allow FXSAVE while vcore_vcpu_run
 * runs (vcore__fx_host_ok).
 */
#include "vmx.h"

#include "core/x86/fxsave.h"
#include "virtcore/vm.h"

int vcore__vmx_fpu_setup(vcore__vmx_vcpu_t *c, const vcore_host_t *host)
{
    uint64_t pa = 0;
    c->fx = host->alloc_pages(host->ctx, 1, &pa);
    if (!c->fx)
        return VCORE_ERR_NOMEM;
    vcore__memset(c->fx, 0, VCORE_PAGE_SIZE);
    /* The processor's MXCSR_MASK, from an FXSAVE of the host's state. */
    int err = vcore__vmx_fpu_enter(c); /* checks the host's CR0/CR4 first */
    if (err) {
        vcore__vmx_fpu_teardown(c, host);
        return err;
    }
    vcore__vmx_fpu_exit(c);
    c->mxcsr_mask = vcore__fx_mxcsr_mask(c->fx + VCORE__VMX_FX_HOST);
    vcore__fx_init(c->fx);
    return VCORE_OK;
}

void vcore__vmx_fpu_teardown(vcore__vmx_vcpu_t *c, const vcore_host_t *host)
{
    if (c->fx)
        host->free_pages(host->ctx, c->fx, 1);
    c->fx = NULL;
}

int vcore__vmx_fpu_enter(vcore__vmx_vcpu_t *c)
{
    if (!vcore__fx_host_ok(vcore__vmx_read_cr0(), vcore__vmx_read_cr4())) {
        vcore_vm_log(c->vmobj, VCORE_LOG_ERROR,
                     "vmx: the host must run vCPUs with CR4.OSFXSR = 1, CR0.EM = 0, CR0.TS = 0 "
                     "(the guest's x87/SSE state is switched with FXSAVE/FXRSTOR)");
        return VCORE_ERR_STATE;
    }
    vcore__vmx_fxsave(c->fx + VCORE__VMX_FX_HOST);
    vcore__vmx_fxrstor(c->fx);
    return VCORE_OK;
}

void vcore__vmx_fpu_exit(vcore__vmx_vcpu_t *c)
{
    vcore__vmx_fxsave(c->fx);
    vcore__vmx_fxrstor(c->fx + VCORE__VMX_FX_HOST);
}

void vcore__vmx_fpu_get(const vcore__vmx_vcpu_t *c, vcore_x86_fpu_t *out)
{
    vcore__fx_get_fpu(c->fx, c->mxcsr_mask, out);
}

bool vcore__vmx_fpu_ok(const vcore__vmx_vcpu_t *c, const vcore_x86_fpu_t *in)
{
    return vcore__fx_fpu_ok(c->mxcsr_mask, in);
}

void vcore__vmx_fpu_set(vcore__vmx_vcpu_t *c, const vcore_x86_fpu_t *in)
{
    vcore__fx_set_fpu(c->fx, in);
}

void vcore__vmx_fpu_get_xmm(const vcore__vmx_vcpu_t *c, uint64_t xmm[16][2])
{
    vcore__fx_get_xmm(c->fx, xmm);
}

void vcore__vmx_fpu_set_xmm(vcore__vmx_vcpu_t *c, const uint64_t xmm[16][2])
{
    vcore__fx_set_xmm(c->fx, xmm);
}
