/*
 * addr.c - canonical linear addresses and MAXPHYADDR checks.
 *
 * Both helpers are pure bit arithmetic; every validator in src/core/x86 uses
 * them so the definition of "canonical" and "above MAXPHYADDR" lives in one
 * place.
 */
#include "x86.h"

/*
 * SDM Vol. 1, "Canonical Addressing": an address is canonical when bits
 * 63 through (linear_bits - 1) are all equal (all 0 or all 1). With 4-level
 * paging linear_bits is 48, with 5-level paging (LA57) it is 57.
 */
bool vcore__x86_is_canonical(uint64_t va, uint32_t linear_bits)
{
    uint64_t top;

    /* A width of 64 (or a nonsense width) leaves nothing to check; a zero
     * width would make every address but 0/-1 non-canonical, which is never
     * what a model means, so it is treated as the architectural minimum 48. */
    if (linear_bits == 0)
        linear_bits = 48;
    if (linear_bits >= 64)
        return true;
    /* Bits 63..(linear_bits-1) shifted down: all zeros or all ones. */
    top = va >> (linear_bits - 1u);
    return top == 0 || top == (~0ull >> (linear_bits - 1u));
}

/*
 * SDM Vol. 3, "Linear-Address Translation" (MAXPHYADDR): a physical address
 * is usable when no bit at or above MAXPHYADDR is set.
 */
bool vcore__x86_phys_ok(uint64_t pa, uint32_t maxphyaddr)
{
    if (maxphyaddr >= 64)
        return true;
    return (pa >> maxphyaddr) == 0;
}
