/* host.c - validation of host-services structures. */
#include "deps.h"
#include "virtcore/error.h"
#include "virtcore/host.h"
#include "object.h"

int vcore_host_validate(const vcore_host_t *host, bool need_alloc)
{
    vcore_host_t h;
    if (!host)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_AT_LEAST(host, VCORE_HOST_SIZE_V1))
        return VCORE_ERR_ABI;
    vcore__host_normalize(host, &h);
    if (need_alloc && (!h.alloc || !h.free))
        return VCORE_ERR_INVAL;
    /* Pages come and go in pairs: one without the other is a broken host. */
    if (!h.alloc_pages != !h.free_pages)
        return VCORE_ERR_INVAL;
    /* The processor index is only useful with the storage it indexes. */
    if (!h.cpu_index != !h.cpus || (h.cpus && h.ncpus == 0))
        return VCORE_ERR_INVAL;
    return VCORE_OK;
}

void vcore__host_normalize(const vcore_host_t *host, vcore_host_t *out)
{
    /* Members past the caller's size (an older header) count as absent. */
    size_t n = host->size < sizeof(*out) ? host->size : sizeof(*out);
    vcore__memset(out, 0, sizeof(*out));
    vcore__memcpy(out, host, n);
    out->size = sizeof(*out);
}

#if defined(VCORE_FREESTANDING)
/* A kernel has no default services: the embedder passes its own. */
const vcore_host_t *vcore_host_default(void)
{
    return NULL;
}
#endif
