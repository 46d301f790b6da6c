/*
 * vmx_ept.c - EPT builder for a VM's guest-physical memory map.
 *
 * SDM Vol. 3, "EPT Translation Mechanism": a 4-level walk (PML4, PDPT, PD,
 * PT), 4 KiB leaves in the PT and 2 MiB leaves in the PD (bit 7).
 *
 * Updates are two-phase. prepare() makes sure every paging structure the
 * region needs exists, linking new, empty tables: an empty table maps
 * nothing, so the set of translations is unchanged whether prepare
 * succeeds or fails half-way (the empty tables are simply reused later).
 * commit() then only writes leaf entries into tables that exist, and
 * cannot fail.
 */
#include "vmx.h"

/* EPT entry bits ("EPT Paging-Structure Entries"). */
#define VCORE__EPT_R (1ull << 0)          /* read access */
#define VCORE__EPT_W (1ull << 1)          /* write access */
#define VCORE__EPT_X (1ull << 2)          /* supervisor execute access */
#define VCORE__EPT_MT_WB (6ull << 3)      /* leaf bits 5:3: memory type write-back */
#define VCORE__EPT_LEAF (1ull << 7)       /* PDE/PDPTE bit 7: maps a page */
#define VCORE__EPT_ADDR 0x000ffffffffff000ull /* bits 51:12: physical address */
#define VCORE__EPT_2M (2ull * 1024 * 1024)

/* EPTP ("Extended-Page-Table Pointer"): bits 2:0 memory type, 5:3 walk length - 1. */
#define VCORE__EPTP_MT_WB 6ull
#define VCORE__EPTP_WALK4 (3ull << 3)

int vcore__vmx_ept_init(vcore__vmx_ept_t *e, vcore__vmx_pool_t *p, const vcore__vmx_caps_t *caps)
{
    vcore__memset(e, 0, sizeof(*e));
    e->allow_2m = (caps->ept_vpid & VCORE__EPT_CAP_2M) != 0;
    return vcore__vmx_pool_get(p, &e->root, &e->root_pa);
}

uint64_t vcore__vmx_ept_eptp(const vcore__vmx_ept_t *e)
{
    return e->root_pa | VCORE__EPTP_WALK4 | VCORE__EPTP_MT_WB;
}

/* Index of gpa in the table of the given level (4 = PML4 .. 1 = PT). */
static unsigned vcore__vmx_ept_index(uint64_t gpa, unsigned level)
{
    return (unsigned)((gpa >> (12 + 9 * (level - 1))) & 511u);
}

/* Whether the 2 MiB at gpa can be one leaf: aligned in both spaces and physically contiguous. */
static bool vcore__vmx_ept_can_2m(const vcore__vmx_ept_t *e, const vcore_host_t *host,
                                  const vcore_mem_region_t *r, uint64_t off)
{
    uint64_t gpa = r->gpa + off;
    if (!e->allow_2m || (gpa & (VCORE__EPT_2M - 1)) || r->len - off < VCORE__EPT_2M)
        return false;
    const uint8_t *hva = (const uint8_t *)r->hva + off;
    uint64_t base = host->virt_to_phys(host->ctx, hva);
    if (base & (VCORE__EPT_2M - 1))
        return false;
    for (uint64_t o = VCORE_PAGE_SIZE; o < VCORE__EPT_2M; o += VCORE_PAGE_SIZE)
        if (host->virt_to_phys(host->ctx, hva + o) != base + o)
            return false;
    return true;
}

/*
 * The table at `level` (3 = PDPT, 2 = PD, 1 = PT) covering gpa, creating
 * missing ones when `create` is set. NULL if absent (or a leaf is in the way).
 */
static uint64_t *vcore__vmx_ept_table(const vcore__vmx_ept_t *e, vcore__vmx_pool_t *p,
                                      const vcore__vmx_pool_t *ro, uint64_t gpa, unsigned level,
                                      int *err)
{
    uint64_t *t = e->root;
    for (unsigned l = 4; l > level; l--) {
        uint64_t *ent = &t[vcore__vmx_ept_index(gpa, l)];
        if (!(*ent & (VCORE__EPT_R | VCORE__EPT_W | VCORE__EPT_X))) {
            if (!p)
                return NULL;
            uint64_t *nt;
            uint64_t pa;
            int rc = vcore__vmx_pool_get(p, &nt, &pa);
            if (rc) {
                *err = rc;
                return NULL;
            }
            /* Non-leaf entries grant everything; the leaves restrict. */
            *ent = pa | VCORE__EPT_R | VCORE__EPT_W | VCORE__EPT_X;
        } else if (*ent & VCORE__EPT_LEAF) {
            *err = VCORE_ERR_EXISTS;
            return NULL;
        }
        t = vcore__vmx_pool_va(p ? p : ro, *ent & VCORE__EPT_ADDR);
        if (!t) {
            *err = VCORE_ERR_HWFAIL;
            return NULL;
        }
    }
    return t;
}

int vcore__vmx_ept_prepare(vcore__vmx_ept_t *e, vcore__vmx_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r)
{
    for (uint64_t off = 0; off < r->len;) {
        int err = VCORE_OK;
        bool big = vcore__vmx_ept_can_2m(e, host, r, off);
        if (!vcore__vmx_ept_table(e, p, NULL, r->gpa + off, big ? 2u : 1u, &err))
            return err ? err : VCORE_ERR_HWFAIL;
        if (big) {
            off += VCORE__EPT_2M;
        } else {
            /* One PT covers up to the next 2 MiB boundary. */
            uint64_t next = ((r->gpa + off) | (VCORE__EPT_2M - 1)) + 1 - r->gpa;
            off = next < r->len ? next : r->len;
        }
    }
    return VCORE_OK;
}

void vcore__vmx_ept_commit(vcore__vmx_ept_t *e, const vcore__vmx_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r)
{
    /* Read-only regions: guest writes become EPT violations, reported as MMIO writes. */
    uint64_t perm = VCORE__EPT_R | VCORE__EPT_X | ((r->flags & VCORE_MEM_READONLY) ? 0 : VCORE__EPT_W);
    for (uint64_t off = 0; off < r->len;) {
        int err = VCORE_OK;
        const uint8_t *hva = (const uint8_t *)r->hva + off;
        uint64_t gpa = r->gpa + off;
        if (vcore__vmx_ept_can_2m(e, host, r, off)) {
            uint64_t *pd = vcore__vmx_ept_table(e, NULL, p, gpa, 2, &err);
            if (pd)
                pd[vcore__vmx_ept_index(gpa, 2)] = host->virt_to_phys(host->ctx, hva) | perm |
                                                   VCORE__EPT_MT_WB | VCORE__EPT_LEAF;
            off += VCORE__EPT_2M;
        } else {
            uint64_t *pt = vcore__vmx_ept_table(e, NULL, p, gpa, 1, &err);
            if (pt)
                pt[vcore__vmx_ept_index(gpa, 1)] =
                    host->virt_to_phys(host->ctx, hva) | perm | VCORE__EPT_MT_WB;
            off += VCORE_PAGE_SIZE;
        }
    }
}

void vcore__vmx_ept_unmap(vcore__vmx_ept_t *e, const vcore__vmx_pool_t *p, const vcore_mem_region_t *r)
{
    for (uint64_t off = 0; off < r->len;) {
        uint64_t gpa = r->gpa + off;
        int err = VCORE_OK;
        uint64_t *pd = vcore__vmx_ept_table(e, NULL, p, gpa, 2, &err);
        if (!pd) {
            off += VCORE_PAGE_SIZE;
            continue;
        }
        uint64_t *pde = &pd[vcore__vmx_ept_index(gpa, 2)];
        if (*pde & VCORE__EPT_LEAF) {
            *pde = 0;
            off += VCORE__EPT_2M;
            continue;
        }
        uint64_t *pt = vcore__vmx_ept_table(e, NULL, p, gpa, 1, &err);
        if (pt)
            pt[vcore__vmx_ept_index(gpa, 1)] = 0;
        off += VCORE_PAGE_SIZE;
    }
    /* Cached translations of the removed range must go ("Invalidation of
     * TLBs and Paging-Structure Caches"): each vCPU runs INVEPT before its
     * next entry when it sees a new generation. */
    e->gen++;
}

uint64_t vcore__vmx_ept_lookup(const vcore__vmx_ept_t *e, const vcore__vmx_pool_t *p, uint64_t gpa,
                               uint64_t *page_size)
{
    int err = VCORE_OK;
    uint64_t *pd = vcore__vmx_ept_table(e, NULL, p, gpa, 2, &err);
    if (!pd)
        return 0;
    uint64_t pde = pd[vcore__vmx_ept_index(gpa, 2)];
    if (pde & VCORE__EPT_LEAF) {
        *page_size = VCORE__EPT_2M;
        return pde;
    }
    uint64_t *pt = vcore__vmx_ept_table(e, NULL, p, gpa, 1, &err);
    if (!pt)
        return 0;
    *page_size = VCORE_PAGE_SIZE;
    return pt[vcore__vmx_ept_index(gpa, 1)];
}
