/*
 * tlb_list.h - the page list of a VCORE_TLB_FLUSH_LIST request (backend.h),
 * for backends that flush page by page (INVVPID individual-address on
 * VMX, INVLPGA on SVM).
 *
 * A range is the Hyper-V GVA range encoding (TLFS, "HvCallFlushVirtual
 * AddressList"): bits 63:12 the first page, bits 11:0 the number of
 * additional pages, so one range names 1 to 4096 pages.
 */
#ifndef VCORE_CORE_TLB_LIST_H
#define VCORE_CORE_TLB_LIST_H

#include "deps.h"
#include "virtcore/backend.h"

/* Pages of a list flushed one by one at most; a longer list costs more
 * single-page invalidations than refilling the guest's whole TLB is worth,
 * and is flushed whole. */
#define VCORE__TLB_LIST_MAX_PAGES 64u

/* The first page and the number of additional pages of one range. */
#define VCORE__TLB_RANGE_PAGE(r) ((r) & ~(uint64_t)0xfff)
#define VCORE__TLB_RANGE_EXTRA(r) ((uint32_t)((r)&0xfffu))

/* A request the core could not have made: unknown kind, a list without ranges. */
static inline bool vcore__tlb_list_bad(const vcore_tlb_flush_t *req)
{
    return !req || req->kind > VCORE_TLB_FLUSH_LIST ||
           (req->kind == VCORE_TLB_FLUSH_LIST && req->count && !req->ranges);
}

/* Pages the list names, counted up to just past limit (then it saturates):
 * a backend flushes a long list whole instead of page by page. */
static inline uint32_t vcore__tlb_list_pages(const vcore_tlb_flush_t *req, uint32_t limit)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < req->count && n <= limit; i++)
        n += VCORE__TLB_RANGE_EXTRA(req->ranges[i]) + 1u;
    return n;
}

#endif /* VCORE_CORE_TLB_LIST_H */
