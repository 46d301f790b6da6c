/*
 * vmx_fpu.c - the guest's x87, MMX and SSE state.
 *
 * VMX transitions leave these registers alone: the VMCS has no field for
 * them (SDM Vol. 3, "Guest-State Area", "Host-State Area"), so whatever the
 * processor holds at VM entry is what the guest sees, and at VM exit it
 * holds the guest's values. Several vCPUs (and the host) share one
 * processor, so each vCPU keeps its guest state in an FXSAVE image and the
 * backend swaps it with the host's around every entry: FXSAVE the host,
 * FXRSTOR the guest, enter, FXSAVE the guest, FXRSTOR the host. The
 * library is compiled with -mgeneral-regs-only, so no code between the swap
 * and the entry touches these registers; the host's own discipline (a
 * kernel's "FPU in use" section) must allow FXSAVE while vcore_vcpu_run
 * runs: CR4.OSFXSR = 1 (else FXSAVE may leave the XMM registers and MXCSR
 * out: SDM Vol. 2, "FXSAVE"), CR0.EM = 0 and CR0.TS = 0 (else #UD / #NM).
 *
 * The image is the 64-bit FXSAVE layout (SDM Vol. 2, "FXSAVE", table
 * "Layout of the 64-bit mode FXSAVE64 Map"). AVX state (XSAVE components
 * above SSE) is not switched.
 */
#include "vmx.h"

#include "virtcore/vm.h"

/* Byte offsets in an FXSAVE64 image. */
#define VCORE__FX_FCW 0u         /* x87 control word (16 bits) */
#define VCORE__FX_FSW 2u         /* x87 status word (16 bits) */
#define VCORE__FX_FTW 4u         /* abridged tag word: bit i = physical register i not empty */
#define VCORE__FX_FOP 6u         /* last x87 opcode (11 bits) */
#define VCORE__FX_MXCSR 24u      /* MXCSR */
#define VCORE__FX_MXCSR_MASK 28u /* MXCSR_MASK (0: the processor's default mask FFBFH) */
#define VCORE__FX_ST 32u         /* ST0-ST7 / MM0-MM7, 16 bytes each (80 bits used) */
#define VCORE__FX_XMM 160u       /* XMM0-XMM15, 16 bytes each */

/* "Guidelines for Writing to the MXCSR Register" (SDM Vol. 1): an FXSAVE
 * MXCSR_MASK of 0 means the default mask, FFBFH (no DAZ). */
#define VCORE__MXCSR_DEFAULT_MASK 0xffbfu
/* Power-up / FINIT state ("x87 FPU Initialization", "MXCSR Control and Status Register"). */
#define VCORE__FCW_INIT 0x037fu
#define VCORE__MXCSR_INIT 0x1f80u
/* FSW bits 13:11: TOP, the physical register that is ST(0). */
#define VCORE__FSW_TOP(fsw) (((fsw) >> 11) & 7u)
/* Full tag values ("x87 FPU Tag Word"). */
#define VCORE__TAG_VALID 0u
#define VCORE__TAG_ZERO 1u
#define VCORE__TAG_SPECIAL 2u
#define VCORE__TAG_EMPTY 3u

static uint16_t vcore__fx16(const uint8_t *fx, uint32_t off)
{
    return (uint16_t)(fx[off] | (uint16_t)(fx[off + 1u] << 8));
}

static uint32_t vcore__fx32(const uint8_t *fx, uint32_t off)
{
    return (uint32_t)vcore__fx16(fx, off) | ((uint32_t)vcore__fx16(fx, off + 2u) << 16);
}

static uint64_t vcore__fx64(const uint8_t *fx, uint32_t off)
{
    return (uint64_t)vcore__fx32(fx, off) | ((uint64_t)vcore__fx32(fx, off + 4u) << 32);
}

static void vcore__fx_put(uint8_t *fx, uint32_t off, uint64_t v, uint32_t bytes)
{
    for (uint32_t i = 0; i < bytes; i++)
        fx[off + i] = (uint8_t)(v >> (8u * i));
}

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
    uint32_t mask = vcore__fx32(c->fx + VCORE__VMX_FX_HOST, VCORE__FX_MXCSR_MASK);
    c->mxcsr_mask = mask ? mask : VCORE__MXCSR_DEFAULT_MASK;
    /* The guest starts as FINIT / power-up leaves it: tags all empty
     * (abridged 0), every register 0. */
    vcore__memset(c->fx, 0, VCORE__VMX_FX_SIZE);
    vcore__fx_put(c->fx, VCORE__FX_FCW, VCORE__FCW_INIT, 2);
    vcore__fx_put(c->fx, VCORE__FX_MXCSR, VCORE__MXCSR_INIT, 4);
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
    uint64_t cr0 = vcore__vmx_read_cr0(), cr4 = vcore__vmx_read_cr4();
    if (!(cr4 & VCORE__CR4_OSFXSR) || (cr0 & (VCORE__CR0_EM | VCORE__CR0_TS))) {
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

/* The full tag of a non-empty register from its contents, as the SDM says
 * FXSAVE's abridged form is expanded (Vol. 2, "FXSAVE", tag recreation):
 * exponent all ones: special; exponent 0: zero if the significand is 0,
 * else special (denormal); otherwise valid if the integer bit J is set,
 * special (unnormal) if not. */
static uint32_t vcore__fx_tag(const uint8_t *reg)
{
    uint64_t sig = vcore__fx64(reg, 0);
    uint32_t exp = vcore__fx16(reg, 8) & 0x7fffu;
    if (exp == 0x7fffu)
        return VCORE__TAG_SPECIAL;
    if (exp == 0)
        return sig ? VCORE__TAG_SPECIAL : VCORE__TAG_ZERO;
    return (sig >> 63) ? VCORE__TAG_VALID : VCORE__TAG_SPECIAL;
}

void vcore__vmx_fpu_get(const vcore__vmx_vcpu_t *c, vcore_x86_fpu_t *out)
{
    const uint8_t *fx = c->fx;
    out->size = sizeof(*out);
    out->fcw = vcore__fx16(fx, VCORE__FX_FCW);
    out->fsw = vcore__fx16(fx, VCORE__FX_FSW);
    out->fop = vcore__fx16(fx, VCORE__FX_FOP);
    out->mxcsr = vcore__fx32(fx, VCORE__FX_MXCSR);
    out->mxcsr_mask = c->mxcsr_mask;
    /* Tag p belongs to physical register p; the image holds ST(i), which
     * is physical register (TOP + i) mod 8. */
    uint32_t top = VCORE__FSW_TOP(out->fsw), ftw = 0;
    for (uint32_t p = 0; p < 8; p++) {
        uint32_t tag = VCORE__TAG_EMPTY;
        if ((fx[VCORE__FX_FTW] >> p) & 1u)
            tag = vcore__fx_tag(fx + VCORE__FX_ST + 16u * ((p - top) & 7u));
        ftw |= tag << (2u * p);
    }
    out->ftw = (uint16_t)ftw;
}

bool vcore__vmx_fpu_ok(const vcore__vmx_vcpu_t *c, const vcore_x86_fpu_t *in)
{
    /* FXRSTOR of an MXCSR with a bit outside MXCSR_MASK is #GP. */
    return (in->mxcsr & ~c->mxcsr_mask) == 0;
}

void vcore__vmx_fpu_set(vcore__vmx_vcpu_t *c, const vcore_x86_fpu_t *in)
{
    uint8_t *fx = c->fx;
    vcore__fx_put(fx, VCORE__FX_FCW, in->fcw, 2);
    vcore__fx_put(fx, VCORE__FX_FSW, in->fsw, 2);
    vcore__fx_put(fx, VCORE__FX_FOP, in->fop & 0x7ffu, 2); /* FOP is 11 bits */
    vcore__fx_put(fx, VCORE__FX_MXCSR, in->mxcsr, 4);
    /* Abridged tag: 1 for every register whose full tag is not empty. */
    uint8_t ab = 0;
    for (uint32_t p = 0; p < 8; p++)
        if (((in->ftw >> (2u * p)) & 3u) != VCORE__TAG_EMPTY)
            ab = (uint8_t)(ab | (1u << p));
    fx[VCORE__FX_FTW] = ab;
}

void vcore__vmx_fpu_get_xmm(const vcore__vmx_vcpu_t *c, uint64_t xmm[16][2])
{
    for (uint32_t i = 0; i < 16; i++) {
        xmm[i][0] = vcore__fx64(c->fx, VCORE__FX_XMM + 16u * i);
        xmm[i][1] = vcore__fx64(c->fx, VCORE__FX_XMM + 16u * i + 8u);
    }
}

void vcore__vmx_fpu_set_xmm(vcore__vmx_vcpu_t *c, const uint64_t xmm[16][2])
{
    for (uint32_t i = 0; i < 16; i++) {
        vcore__fx_put(c->fx, VCORE__FX_XMM + 16u * i, xmm[i][0], 8);
        vcore__fx_put(c->fx, VCORE__FX_XMM + 16u * i + 8u, xmm[i][1], 8);
    }
}
