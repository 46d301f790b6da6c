/* Shared pieces of the stage-2 fuzz targets: a byte reader over the fuzzer input. */
#ifndef VCORE_FUZZ_COMMON_S2_H
#define VCORE_FUZZ_COMMON_S2_H

#include <stddef.h>
#include <stdint.h>

typedef struct fz2_in {
    const uint8_t *d;
    size_t n, off;
} fz2_in_t;

static uint64_t fz2_take(fz2_in_t *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)(in->off < in->n ? in->d[in->off++] : 0) << (8 * i);
    return v;
}

#endif
