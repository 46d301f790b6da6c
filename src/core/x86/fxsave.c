/*
 * fxsave.c - rules of the 64-bit FXSAVE image (fxsave.h).
 */
#include "fxsave.h"

#include "x86_bits.h"

/* Byte offsets in an FXSAVE64 image (SDM Vol. 2, "FXSAVE"). */
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

bool vcore__fx_host_ok(uint64_t cr0, uint64_t cr4)
{
    return (cr4 & VCORE__CR4_OSFXSR) && !(cr0 & (VCORE__CR0_EM | VCORE__CR0_TS));
}

uint32_t vcore__fx_mxcsr_mask(const uint8_t *fx)
{
    uint32_t mask = vcore__fx32(fx, VCORE__FX_MXCSR_MASK);
    return mask ? mask : VCORE__MXCSR_DEFAULT_MASK;
}

void vcore__fx_init(uint8_t *fx)
{
    /* Tags all empty: the abridged tag byte is 0. */
    vcore__memset(fx, 0, VCORE__FX_SIZE);
    vcore__fx_put(fx, VCORE__FX_FCW, VCORE__FCW_INIT, 2);
    vcore__fx_put(fx, VCORE__FX_MXCSR, VCORE__MXCSR_INIT, 4);
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

void vcore__fx_get_fpu(const uint8_t *fx, uint32_t mxcsr_mask, vcore_x86_fpu_t *out)
{
    out->size = sizeof(*out);
    out->fcw = vcore__fx16(fx, VCORE__FX_FCW);
    out->fsw = vcore__fx16(fx, VCORE__FX_FSW);
    out->fop = vcore__fx16(fx, VCORE__FX_FOP);
    out->mxcsr = vcore__fx32(fx, VCORE__FX_MXCSR);
    out->mxcsr_mask = mxcsr_mask;
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

bool vcore__fx_fpu_ok(uint32_t mxcsr_mask, const vcore_x86_fpu_t *in)
{
    /* FXRSTOR of an MXCSR with a bit outside MXCSR_MASK is #GP. */
    return (in->mxcsr & ~mxcsr_mask) == 0;
}

void vcore__fx_set_fpu(uint8_t *fx, const vcore_x86_fpu_t *in)
{
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

void vcore__fx_get_xmm(const uint8_t *fx, uint64_t xmm[16][2])
{
    for (uint32_t i = 0; i < 16; i++) {
        xmm[i][0] = vcore__fx64(fx, VCORE__FX_XMM + 16u * i);
        xmm[i][1] = vcore__fx64(fx, VCORE__FX_XMM + 16u * i + 8u);
    }
}

void vcore__fx_set_xmm(uint8_t *fx, const uint64_t xmm[16][2])
{
    for (uint32_t i = 0; i < 16; i++) {
        vcore__fx_put(fx, VCORE__FX_XMM + 16u * i, xmm[i][0], 8);
        vcore__fx_put(fx, VCORE__FX_XMM + 16u * i + 8u, xmm[i][1], 8);
    }
}
