/*
 * svm_npt.c - the nested page tables of a VM's guest-physical memory map.
 *
 * APM Vol. 2, "Nested Paging Facility": the nested tables have the format
 * of the host's paging mode - here long mode, a 4-level walk (PML4, PDPT,
 * PD, PT) with 4 KiB leaves in the PT and 2 MiB leaves in the PD (PS, bit
 * 7). Nested table walks are user accesses ("Nested Table Walk"), so every
 * entry sets U/S; a read-only region clears R/W in its leaves, and the
 * guest's writes to it become nested page faults.
 *
 * Updates are two-phase. prepare() makes sure every table the region needs
 * exists, linking new, empty tables: an empty table maps nothing, so the
 * set of translations is unchanged whether prepare succeeds or fails
 * half-way. commit() then only writes leaf entries into tables that exist,
 * and cannot fail.
 */
#include "svm.h"

/* Long-mode paging entry bits ("Long-Mode Page Translation"). */
#define VCORE__NPT_P (1ull << 0)              /* present */
#define VCORE__NPT_RW (1ull << 1)             /* writable */
#define VCORE__NPT_US (1ull << 2)             /* user: required for nested walks */
#define VCORE__NPT_PS (1ull << 7)             /* PDE: maps a 2 MiB page */
#define VCORE__NPT_ADDR 0x000ffffffffff000ull /* bits 51:12: physical address */
#define VCORE__NPT_2M (2ull * 1024 * 1024)

int vcore__svm_npt_init(vcore__svm_npt_t *n, vcore__svm_pool_t *p)
{
    vcore__memset(n, 0, sizeof(*n));
    return vcore__svm_pool_get(p, &n->root, &n->root_pa);
}

/* Index of gpa in the table of the given level (4 = PML4 .. 1 = PT). */
static unsigned vcore__svm_npt_index(uint64_t gpa, unsigned level)
{
    return (unsigned)((gpa >> (12 + 9 * (level - 1))) & 511u);
}

/* Whether the 2 MiB at gpa can be one leaf: aligned in both spaces and physically contiguous. */
static bool vcore__svm_npt_can_2m(const vcore_host_t *host, const vcore_mem_region_t *r, uint64_t off)
{
    uint64_t gpa = r->gpa + off;
    if ((gpa & (VCORE__NPT_2M - 1)) || r->len - off < VCORE__NPT_2M)
        return false;
    const uint8_t *hva = (const uint8_t *)r->hva + off;
    uint64_t base = host->virt_to_phys(host->ctx, hva);
    if (base & (VCORE__NPT_2M - 1))
        return false;
    for (uint64_t o = VCORE_PAGE_SIZE; o < VCORE__NPT_2M; o += VCORE_PAGE_SIZE)
        if (host->virt_to_phys(host->ctx, hva + o) != base + o)
            return false;
    return true;
}

/* The table at `level` (3 = PDPT, 2 = PD, 1 = PT) covering gpa, creating
 * missing ones when p is given. NULL if absent (or a leaf is in the way). */
static uint64_t *vcore__svm_npt_table(const vcore__svm_npt_t *n, vcore__svm_pool_t *p,
                                      const vcore__svm_pool_t *ro, uint64_t gpa, unsigned level, int *err)
{
    uint64_t *t = n->root;
    for (unsigned l = 4; l > level; l--) {
        uint64_t *ent = &t[vcore__svm_npt_index(gpa, l)];
        if (!(*ent & VCORE__NPT_P)) {
            if (!p)
                return NULL;
            uint64_t *nt;
            uint64_t pa;
            int rc = vcore__svm_pool_get(p, &nt, &pa);
            if (rc) {
                *err = rc;
                return NULL;
            }
            /* Non-leaf entries grant everything; the leaves restrict. */
            *ent = pa | VCORE__NPT_P | VCORE__NPT_RW | VCORE__NPT_US;
        } else if (*ent & VCORE__NPT_PS) {
            *err = VCORE_ERR_EXISTS;
            return NULL;
        }
        t = vcore__svm_pool_va(p ? p : ro, *ent & VCORE__NPT_ADDR);
        if (!t) {
            *err = VCORE_ERR_HWFAIL;
            return NULL;
        }
    }
    return t;
}

int vcore__svm_npt_prepare(vcore__svm_npt_t *n, vcore__svm_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r)
{
    for (uint64_t off = 0; off < r->len;) {
        int err = VCORE_OK;
        bool big = vcore__svm_npt_can_2m(host, r, off);
        if (!vcore__svm_npt_table(n, p, NULL, r->gpa + off, big ? 2u : 1u, &err))
            return err ? err : VCORE_ERR_HWFAIL;
        if (big) {
            off += VCORE__NPT_2M;
        } else {
            /* One PT covers up to the next 2 MiB boundary. */
            uint64_t next = ((r->gpa + off) | (VCORE__NPT_2M - 1)) + 1 - r->gpa;
            off = next < r->len ? next : r->len;
        }
    }
    return VCORE_OK;
}

void vcore__svm_npt_commit(vcore__svm_npt_t *n, const vcore__svm_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r)
{
    uint64_t perm = VCORE__NPT_P | VCORE__NPT_US | ((r->flags & VCORE_MEM_READONLY) ? 0 : VCORE__NPT_RW);
    for (uint64_t off = 0; off < r->len;) {
        int err = VCORE_OK;
        const uint8_t *hva = (const uint8_t *)r->hva + off;
        uint64_t gpa = r->gpa + off;
        if (vcore__svm_npt_can_2m(host, r, off)) {
            uint64_t *pd = vcore__svm_npt_table(n, NULL, p, gpa, 2, &err);
            if (pd)
                pd[vcore__svm_npt_index(gpa, 2)] = host->virt_to_phys(host->ctx, hva) | perm | VCORE__NPT_PS;
            off += VCORE__NPT_2M;
        } else {
            uint64_t *pt = vcore__svm_npt_table(n, NULL, p, gpa, 1, &err);
            if (pt)
                pt[vcore__svm_npt_index(gpa, 1)] = host->virt_to_phys(host->ctx, hva) | perm;
            off += VCORE_PAGE_SIZE;
        }
    }
}

void vcore__svm_npt_unmap(vcore__svm_npt_t *n, const vcore__svm_pool_t *p, const vcore_mem_region_t *r)
{
    for (uint64_t off = 0; off < r->len;) {
        uint64_t gpa = r->gpa + off;
        int err = VCORE_OK;
        uint64_t *pd = vcore__svm_npt_table(n, NULL, p, gpa, 2, &err);
        if (!pd) {
            off += VCORE_PAGE_SIZE;
            continue;
        }
        uint64_t *pde = &pd[vcore__svm_npt_index(gpa, 2)];
        if (*pde & VCORE__NPT_PS) {
            *pde = 0;
            off += VCORE__NPT_2M;
            continue;
        }
        uint64_t *pt = vcore__svm_npt_table(n, NULL, p, gpa, 1, &err);
        if (pt)
            pt[vcore__svm_npt_index(gpa, 1)] = 0;
        off += VCORE_PAGE_SIZE;
    }
    /* Cached translations of the removed range must go ("TLB Control"):
     * each vCPU flushes its ASID before its next VMRUN when it sees a new
     * generation. */
    n->gen++;
}

uint64_t vcore__svm_npt_lookup(const vcore__svm_npt_t *n, const vcore__svm_pool_t *p, uint64_t gpa,
                               uint64_t *page_size)
{
    int err = VCORE_OK;
    uint64_t *pd = vcore__svm_npt_table(n, NULL, p, gpa, 2, &err);
    if (!pd)
        return 0;
    uint64_t pde = pd[vcore__svm_npt_index(gpa, 2)];
    if (pde & VCORE__NPT_PS) {
        *page_size = VCORE__NPT_2M;
        return pde;
    }
    uint64_t *pt = vcore__svm_npt_table(n, NULL, p, gpa, 1, &err);
    if (!pt)
        return 0;
    *page_size = VCORE_PAGE_SIZE;
    return pt[vcore__svm_npt_index(gpa, 1)];
}

int vcore__svm_npt_map_page(vcore__svm_npt_t *n, vcore__svm_pool_t *p, uint64_t gpa, uint64_t hpa, uint64_t perm)
{
    /* Prepare: the page table exists (a failure changes no translation). */
    int err = VCORE_OK;
    uint64_t *pt = vcore__svm_npt_table(n, p, NULL, gpa, 1, &err);
    if (!pt)
        return err ? err : VCORE_ERR_HWFAIL;
    /* Commit: the leaf. */
    pt[vcore__svm_npt_index(gpa, 1)] = (hpa & VCORE__NPT_ADDR) | VCORE__NPT_P | VCORE__NPT_US | perm;
    return VCORE_OK;
}

/* Returns the tables below `t` (at `level`) to the pool. */
static void vcore__svm_npt_free_level(vcore__svm_pool_t *p, uint64_t *t, unsigned level)
{
    for (unsigned i = 0; i < 512; i++) {
        if (!(t[i] & VCORE__NPT_P) || level == 1 || (t[i] & VCORE__NPT_PS))
            continue;
        uint64_t *sub = vcore__svm_pool_va(p, t[i] & VCORE__NPT_ADDR);
        if (sub) {
            vcore__svm_npt_free_level(p, sub, level - 1);
            vcore__svm_pool_put(p, sub);
        }
        t[i] = 0;
    }
}

void vcore__svm_npt_clear(vcore__svm_npt_t *n, vcore__svm_pool_t *p)
{
    if (n->root)
        vcore__svm_npt_free_level(p, n->root, 4);
    n->gen++;
}
