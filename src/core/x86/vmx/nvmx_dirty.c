/*
 * nvmx_dirty.c - vmcs12's dirty tracking: the bitmap of fields L1 wrote
 * since the library last built vmcs02 from them (the split of vmcs02 by
 * change frequency reads it), and the rows whose VM-entry rules run again
 * at the next entry.
 */
#include "nvmx_priv.h"

void vcore__nvmx_mark_changed(vcore_nvmx_t *n, const vcore__vmcs_row_t *r)
{
    vcore__nvmx_changed_id(n, (uint32_t)(r - vcore__vmcs_rows));
}

void vcore__nvmx_mark_dirty(vcore_nvmx_t *n, const vcore__vmcs_row_t *r)
{
    uint32_t id = (uint32_t)(r - vcore__vmcs_rows);

    vcore__nvmx_mark_changed(n, r);
    n->dirty[id / 64] |= 1ull << (id % 64);
    /* Full and _HIGH rows of a 64-bit field are adjacent: the field changed
     * either way, so both read as dirty. */
    if (r->width == VCORE_VMCS_WIDTH_64) {
        id = (r->flags & VCORE_VMCS_FIELD_F_HIGH) ? id - 1 : id + 1;
        n->dirty[id / 64] |= 1ull << (id % 64);
    }
}

bool vcore_nvmx_is_dirty(const vcore_nvmx_t *nvmx, uint32_t encoding)
{
    const vcore__vmcs_row_t *r;
    uint32_t id;

    if (!vcore__nvmx_ok(nvmx))
        return false;
    r = vcore__vmcs_row(encoding);
    if (!r)
        return false;
    id = (uint32_t)(r - vcore__vmcs_rows);
    return (nvmx->dirty[id / 64] >> (id % 64)) & 1u;
}

uint32_t vcore_nvmx_dirty_count(const vcore_nvmx_t *nvmx)
{
    uint32_t i, c = 0;
    uint64_t w;

    if (!vcore__nvmx_ok(nvmx))
        return 0;
    for (i = 0; i < VCORE__DIRTY_WORDS; i++) {
        for (w = nvmx->dirty[i]; w; w &= w - 1)
            c++;
    }
    return c;
}

void vcore_nvmx_clear_dirty(vcore_nvmx_t *nvmx)
{
    if (vcore__nvmx_ok(nvmx))
        vcore__memset(nvmx->dirty, 0, sizeof(nvmx->dirty));
}
