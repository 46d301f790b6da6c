/*
 * string_io.c - addressing of the string I/O instructions (INS, OUTS):
 * where element k of a (REP) INS/OUTS is and how RSI/RDI/RCX move.
 *
 * SDM Vol. 2, "INS/INSB/INSW/INSD", "OUTS/OUTSB/OUTSW/OUTSD", "REP/REPE/
 * REPZ/REPNE/REPNZ"; Vol. 1, "Address-Size Attributes" and
 * "General-Purpose Registers in 64-Bit Mode".
 */
#include "x86.h"

uint64_t vcore__x86_str_step(uint64_t reg, uint64_t delta, uint32_t asize)
{
    /* The register is updated at the address size: a 32-bit result is
     * zero-extended to 64 bits, a 16-bit one leaves bits 63:16 alone. */
    uint64_t sum = reg + delta;
    if (asize == 64)
        return sum;
    if (asize == 32)
        return sum & 0xffffffffull;
    return (reg & ~0xffffull) | (sum & 0xffffull);
}

uint64_t vcore__x86_str_off(const vcore__x86_str_t *s, uint64_t reg, uint32_t k)
{
    /* Element k lies k elements further in the direction RFLAGS.DF gives;
     * the offset wraps at the address size. */
    uint64_t delta = (uint64_t)k * s->width;
    uint64_t off = vcore__x86_str_step(reg, s->down ? (uint64_t)0 - delta : delta, s->asize);
    return off & vcore__x86_str_mask(s->asize);
}

uint64_t vcore__x86_str_elem(const vcore__x86_str_t *s, uint64_t reg, uint32_t k)
{
    /* The linear address wraps at 32 bits outside 64-bit mode. */
    uint64_t lin = s->base + vcore__x86_str_off(s, reg, k);
    return s->long64 ? lin : (lin & 0xffffffffull);
}

uint64_t vcore__x86_str_mask(uint32_t asize)
{
    return asize == 64 ? ~0ull : asize == 32 ? 0xffffffffull : 0xffffull;
}
