/* host.c - validation of host-services structures. */
#include "deps.h"
#include "virtcore/error.h"
#include "virtcore/host.h"

int vcore_host_validate(const vcore_host_t *host, bool need_alloc)
{
    if (!host)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(host))
        return VCORE_ERR_ABI;
    if (need_alloc && (!host->alloc || !host->free))
        return VCORE_ERR_INVAL;
    /* Pages come and go in pairs: one without the other is a broken host. */
    if (!host->alloc_pages != !host->free_pages)
        return VCORE_ERR_INVAL;
    return VCORE_OK;
}

#if defined(VCORE_FREESTANDING)
/* A kernel has no default services: the embedder passes its own. */
const vcore_host_t *vcore_host_default(void)
{
    return NULL;
}
#endif
