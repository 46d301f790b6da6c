/*
 * kick.c - the kick protocol of the ring-0 backends (kick.h).
 */
#include "kick.h"

void vcore__kick_send(vcore__kick_t *k, const vcore_host_t *host)
{
    __atomic_store_n(&k->kick, 1u, __ATOMIC_SEQ_CST);
    uint32_t where = __atomic_load_n(&k->in_guest, __ATOMIC_SEQ_CST);
    if (where && host->kick_cpu)
        host->kick_cpu(host->ctx, where - 1u);
}

bool vcore__kick_check(vcore__kick_t *k, uint32_t cpu)
{
    __atomic_store_n(&k->in_guest, cpu + 1u, __ATOMIC_SEQ_CST);
    if (!__atomic_exchange_n(&k->kick, 0u, __ATOMIC_SEQ_CST))
        return false;
    __atomic_store_n(&k->in_guest, 0u, __ATOMIC_SEQ_CST);
    return true;
}

void vcore__kick_left(vcore__kick_t *k)
{
    __atomic_store_n(&k->in_guest, 0u, __ATOMIC_SEQ_CST);
}

void vcore__kick_done(vcore__kick_t *k)
{
    __atomic_store_n(&k->kick, 0u, __ATOMIC_SEQ_CST);
}
