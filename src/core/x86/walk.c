/*
 * walk.c - guest linear -> guest physical translation for the memory
 * operands of emulated instructions (SDM Vol. 3, "Paging").
 *
 * Data accesses only: the walk checks presence, reserved bits and the
 * access rights of a supervisor-mode access (write protection with CR0.WP,
 * SMAP with CR4.SMAP and RFLAGS.AC clear) or of a user-mode one (CPL 3:
 * the page must be a user page, and writable for a write). It records the accessed and dirty
 * flags the access sets (SDM "Accessed and Dirty Flags"); the caller
 * commits them once every page of the access is known to be reachable, so
 * a refused access changes nothing. Protection keys (PKS) are left for a
 * general emulator.
 */
#include "x86.h"
#include "x86_bits.h"

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)

/* #PF error-code bits (SDM "Exception and Interrupt Reference", #PF). */
#define PFEC_P (1u << 0)
#define PFEC_W (1u << 1)
#define PFEC_US (1u << 2)
#define PFEC_RSVD (1u << 3)

static int walk_fault(vcore__walk_fault_t *f, uint64_t la, uint32_t access, uint32_t bits)
{
    f->vector = VCORE__VEC_PF;
    f->error_code = bits | ((access & VCORE__WALK_WRITE) ? PFEC_W : 0u) | ((access & VCORE__WALK_USER) ? PFEC_US : 0u);
    f->cr2 = la;
    return VCORE_ERR_INVAL;
}

/* Reads one entry and records it as used (accessed flag to set). */
static int walk_entry(const vcore_nvmx_mem_t *m, uint64_t pa, uint32_t bytes, uint64_t *e,
                      vcore__walk_ad_t *ad)
{
    uint64_t v = 0;

    if (m->read(m->ctx, pa, &v, bytes) != VCORE_OK)
        return VCORE_ERR_FAULT;
    *e = v;
    if (ad && ad->n < VCORE__ARRAY_SIZE(ad->pa)) {
        ad->pa[ad->n] = pa;
        ad->byte0[ad->n] = (uint8_t)v;
        ad->set[ad->n] = (uint8_t)PTE_A;
        ad->n++;
    }
    return VCORE_OK;
}

/* The last entry recorded maps the page: a write sets its dirty flag. */
static void walk_mark_dirty(vcore__walk_ad_t *ad, bool write)
{
    if (ad && write && ad->n > 0)
        ad->set[ad->n - 1] |= (uint8_t)PTE_D;
}

void vcore__walk_commit_ad(const vcore_nvmx_mem_t *m, const vcore__walk_ad_t *ad)
{
    uint32_t i;
    uint8_t b;

    for (i = 0; i < ad->n; i++) {
        b = (uint8_t)(ad->byte0[i] | ad->set[i]);
        if (b != ad->byte0[i])
            (void)m->write(m->ctx, ad->pa[i], &b, 1);
    }
}

int vcore__walk_access(const vcore_nvmx_mem_t *m, const vcore_x86_sregs_t *s, uint64_t rflags,
                       uint32_t maxphyaddr, uint64_t la, uint32_t access, uint64_t *gpa,
                       vcore__walk_fault_t *fault, vcore__walk_ad_t *ad)
{
    bool write = (access & VCORE__WALK_WRITE) != 0;
    uint64_t phys_mask = ((1ull << maxphyaddr) - 1) & ~0xfffull; /* bits M-1:12 */
    /* Bits 51:MAXPHYADDR of every entry are reserved. */
    uint64_t rsvd_hi = ((1ull << 52) - 1) & ~((1ull << maxphyaddr) - 1);
    uint64_t table, e = 0;
    bool rw = true, us = true;
    int lvl, levels, err;

    if (ad)
        ad->n = 0;
    if (!(s->cr0 & VCORE__CR0_PG)) {
        *gpa = la;
        return VCORE_OK;
    }
    if (!(s->efer & VCORE__EFER_NXE))
        rsvd_hi |= PTE_XD;

    if (!(s->cr4 & VCORE__CR4_PAE)) {
        /* 32-bit paging: 4-byte entries, optional 4-MByte pages (CR4.PSE). */
        uint32_t la32 = (uint32_t)la;
        err = walk_entry(m, (s->cr3 & 0xfffff000ull) + ((la32 >> 22) & 0x3ffu) * 4u, 4, &e, ad);
        if (err)
            return err;
        if (!(e & PTE_P))
            return walk_fault(fault, la, access, 0);
        rw = (e & PTE_RW) != 0;
        us = (e & PTE_US) != 0;
        if ((e & PTE_PS) && (s->cr4 & VCORE__CR4_PSE)) {
            /* PDE bits 20:13 hold physical-address bits 39:32; bit 21 and
             * the bits above MAXPHYADDR are reserved. */
            uint64_t hi = (e >> 13) & 0xffu;
            if ((e & (1ull << 21)) || (maxphyaddr < 40 && (hi >> (maxphyaddr - 32))))
                return walk_fault(fault, la, access, PFEC_P | PFEC_RSVD);
            *gpa = (e & 0xffc00000ull) | (hi << 32) | (la32 & 0x3fffffu);
        } else {
            err = walk_entry(m, (e & 0xfffff000ull) + ((la32 >> 12) & 0x3ffu) * 4u, 4, &e, ad);
            if (err)
                return err;
            if (!(e & PTE_P))
                return walk_fault(fault, la, access, 0);
            rw = rw && (e & PTE_RW);
            us = us && (e & PTE_US);
            *gpa = (e & 0xfffff000ull) | (la32 & 0xfffu);
        }
        goto perms;
    }

    if (s->efer & VCORE__EFER_LMA) {
        levels = (s->cr4 & VCORE__CR4_LA57) ? 5 : 4;
        table = s->cr3 & phys_mask;
    } else {
        /* PAE paging: CR3 points at four PDPTEs. */
        uint32_t la32 = (uint32_t)la;
        /* PDPTEs have no accessed flag (PAE paging loads them with CR3). */
        err = walk_entry(m, (s->cr3 & 0xffffffe0ull) + ((la32 >> 30) & 3u) * 8u, 8, &e, NULL);
        if (err)
            return err;
        if (!(e & PTE_P))
            return walk_fault(fault, la, access, 0);
        /* PDPTE bits 2:1, 8:5 and 63:MAXPHYADDR are reserved. */
        if ((e & 0x1e6ull) || (e & ~((1ull << maxphyaddr) - 1)))
            return walk_fault(fault, la, access, PFEC_P | PFEC_RSVD);
        la = la32;
        table = e & phys_mask;
        levels = 2;
    }
    for (lvl = levels; lvl >= 1; lvl--) {
        uint32_t shift = 12u + 9u * (uint32_t)(lvl - 1);
        err = walk_entry(m, table + ((la >> shift) & 0x1ffu) * 8u, 8, &e, ad);
        if (err)
            return err;
        if (!(e & PTE_P))
            return walk_fault(fault, la, access, 0);
        if (e & rsvd_hi)
            return walk_fault(fault, la, access, PFEC_P | PFEC_RSVD);
        rw = rw && (e & PTE_RW);
        us = us && (e & PTE_US);
        if ((e & PTE_PS) && (lvl >= 4 || (lvl == 3 && (access & VCORE__WALK_NO_1G))))
            return walk_fault(fault, la, access, PFEC_P | PFEC_RSVD); /* no 512-GByte pages; 1-GByte ones optional */
        if ((e & PTE_PS) && lvl >= 2) {
            uint64_t page = 1ull << shift;
            /* Bits shift-1:13 of a large-page entry are reserved (bit 12 is PAT). */
            if (e & (page - 1) & ~0x1fffull)
                return walk_fault(fault, la, access, PFEC_P | PFEC_RSVD);
            *gpa = (e & phys_mask & ~(page - 1)) | (la & (page - 1));
            goto perms;
        }
        table = e & phys_mask;
    }
    *gpa = table | (la & 0xfffu);

perms:
    /* SDM "Access Rights": a user-mode access needs a user page (U/S = 1
     * at every level), and a writable one (R/W = 1 at every level) for a
     * write whatever CR0.WP says. Supervisor writes to read-only pages
     * fault when CR0.WP=1; supervisor data accesses to user pages fault
     * with SMAP unless RFLAGS.AC=1. */
    if (access & VCORE__WALK_USER) {
        if (!us || (write && !rw))
            return walk_fault(fault, la, access, PFEC_P);
        walk_mark_dirty(ad, write);
        return VCORE_OK;
    }
    if (write && !rw && (s->cr0 & VCORE__CR0_WP))
        return walk_fault(fault, la, access, PFEC_P);
    if (us && (s->cr4 & VCORE__CR4_SMAP) && !(rflags & VCORE__RFLAGS_AC))
        return walk_fault(fault, la, access, PFEC_P);
    walk_mark_dirty(ad, write);
    return VCORE_OK;
}
