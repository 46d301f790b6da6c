/*
 * kvm_fpu.c - x87 tag word: full form (model) <-> abridged form (kvm_fpu).
 *
 * KVM's struct kvm_fpu carries the FXSAVE image's abridged tag byte: bit i
 * is 1 when physical register R_i is not empty. The model keeps the full
 * 16-bit tag word: two bits per physical register, 00 valid, 01 zero,
 * 10 special, 11 empty (SDM Vol. 1, "x87 FPU Tag Word"). Going from the
 * abridged to the full form needs the register contents, classified the way
 * the FSAVE/FSTENV tag is computed (SDM Vol. 2, "FXSAVE", table "Recreating
 * FSAVE Format" and the definition of the tag values).
 */
#include "kvm_priv.h"

/* Full-form tag values, two bits per physical register. */
#define TAG_VALID 0u
#define TAG_ZERO 1u
#define TAG_SPECIAL 2u
#define TAG_EMPTY 3u

/* Classifies one non-empty 80-bit register (bytes 0-7 significand with the
 * explicit integer bit J at bit 63, bytes 8-9 exponent 14:0 and sign 15). */
static uint16_t ftw_classify(const uint8_t reg[16])
{
    uint64_t mant = 0;
    for (int b = 7; b >= 0; b--)
        mant = (mant << 8) | reg[b];
    uint16_t exp = (uint16_t)((((unsigned)reg[9] << 8) | reg[8]) & 0x7fffu);
    if (exp == 0x7fffu)
        return TAG_SPECIAL; /* infinity or NaN */
    if (exp == 0)
        return mant == 0 ? TAG_ZERO : TAG_SPECIAL; /* zero, or (pseudo-)denormal */
    if (!(mant >> 63))
        return TAG_SPECIAL; /* unnormal: J = 0 with a non-zero exponent */
    return TAG_VALID;
}

uint16_t vcore__kvm_ftw_from_abridged(uint8_t ftwx, uint16_t fsw, const uint8_t fpr[8][16])
{
    /* FSW.TOP (bits 13:11): physical register R_p holds ST((p - TOP) mod 8). */
    unsigned top = (fsw >> 11) & 7u;
    uint16_t ftw = 0;
    for (unsigned p = 0; p < 8; p++) {
        uint16_t tag = TAG_EMPTY;
        if (ftwx & (1u << p))
            tag = ftw_classify(fpr[(p - top) & 7u]);
        ftw = (uint16_t)(ftw | ((unsigned)tag << (2u * p)));
    }
    return ftw;
}

uint8_t vcore__kvm_ftw_to_abridged(uint16_t ftw)
{
    uint8_t ftwx = 0;
    for (unsigned p = 0; p < 8; p++) {
        if ((((unsigned)ftw >> (2u * p)) & 3u) != TAG_EMPTY)
            ftwx = (uint8_t)(ftwx | (1u << p));
    }
    return ftwx;
}
