/*
 * nvmx_ept.c - L1's EPT (ept12): translating an L2 guest-physical address
 * into an L1 guest-physical address by walking L1's EPT paging structures
 * in L1 memory, each entry read once and checked before use.
 *
 * SDM Vol. 3, "EPT Translation Mechanism", "EPT Misconfigurations", "EPT
 * Violations", "Accessed and Dirty Flags for EPT", "Exit Qualification for
 * EPT Violations", "Page-Modification Logging" (L1's log, for the flags L0
 * sets while it performs L2's accesses).
 */
#include "nvmx_priv.h"

#define EPT_R (1ull << 0)       /* read access */
#define EPT_W (1ull << 1)       /* write access */
#define EPT_X (1ull << 2)       /* execute access */
#define EPT_MT(e) (((e) >> 3) & 7u) /* leaf: EPT memory type */
#define EPT_PS (1ull << 7)      /* PDPTE/PDE: maps a page */
#define EPT_A (1ull << 8)       /* accessed (EPTP bit 6) */
#define EPT_D (1ull << 9)       /* dirty, leaf only (EPTP bit 6) */

/* "EPT Misconfigurations": write without read, execute-only where the
 * processor does not support it (IA32_VMX_EPT_VPID_CAP bit 0), reserved
 * bits, a reserved memory type in a leaf, bit 7 in a PML4E/PML5E - and in
 * a PDPTE where the processor has no 1-GByte pages ("EPT Translation
 * Mechanism": not all processors allow it, IA32_VMX_EPT_VPID_CAP bit 17;
 * a bit that may not be 1 is reserved). */
static bool nvmx_ept_misconfig(uint64_t e, int level, bool leaf, uint64_t rsvd_hi, uint64_t ept_cap)
{
    uint64_t rwx = e & 7u;
    if (rwx == EPT_W || rwx == (EPT_W | EPT_X) || (rwx == EPT_X && !(ept_cap & VCORE__EPT_CAP_XO)))
        return true;
    if (e & rsvd_hi)
        return true;
    if (level == 3 && leaf && !(ept_cap & VCORE__EPT_CAP_1G))
        return true;
    if (!leaf)
        return (e & (0x1full << 3)) != 0 || (level >= 4 && (e & EPT_PS));
    uint32_t mt = EPT_MT(e);
    if (mt == 2u || mt == 3u || mt == 7u)
        return true;
    /* A 1-GByte page reserves bits 29:12, a 2-MByte page bits 20:12. */
    if (level == 3)
        return (e & 0x3ffff000ull) != 0;
    if (level == 2)
        return (e & 0x1ff000ull) != 0;
    return false;
}

int vcore__nvmx_ept_walk(const vcore_nvmx_mem_t *mem, uint64_t eptp, uint32_t maxphyaddr, uint64_t ept_cap,
                         uint64_t l2_gpa, uint32_t access, vcore__nvmx_ept_leaf_t *out)
{
    uint64_t addr_mask = ((1ull << maxphyaddr) - 1) & ~0xfffull;
    uint64_t rsvd_hi = ((1ull << 52) - 1) & ~((1ull << maxphyaddr) - 1);
    int levels = (int)((eptp >> 3) & 7u) + 1; /* EPTP bits 5:3: walk length - 1 */
    vcore__memset(out, 0, sizeof(*out));
    out->kind = VCORE_NVMX_EPT_OK;
    if (levels != 4 && levels != 5)
        return VCORE_ERR_INVAL; /* the VM-entry checks refuse such an EPTP */
    uint64_t table = eptp & addr_mask, e = 0, perms = 7u;
    for (int level = levels; level >= 1; level--) {
        uint64_t pa = table + ((l2_gpa >> (12 + 9 * (level - 1))) & 0x1ffu) * 8u;
        e = ~0ull;
        if (mem->read(mem->ctx, pa, &e, 8) != VCORE_OK)
            e = ~0ull; /* unbacked memory reads as all ones: a misconfiguration */
        out->used[out->nused++] = pa;
        perms &= e & 7u;
        out->perms = (uint32_t)perms;
        if (!(e & 7u)) { /* not present: bits 5:3 stay 0, the entry grants nothing */
            out->kind = VCORE_NVMX_EPT_VIOLATION;
            return VCORE_OK;
        }
        bool leaf = level == 1 || ((level == 2 || level == 3) && (e & EPT_PS));
        if (nvmx_ept_misconfig(e, level, leaf, rsvd_hi, ept_cap)) {
            out->kind = VCORE_NVMX_EPT_MISCONFIG;
            return VCORE_OK;
        }
        if (leaf) {
            uint64_t page_mask = (1ull << (12 + 9 * (level - 1))) - 1;
            out->gpa = (e & addr_mask & ~page_mask) | (l2_gpa & page_mask);
            out->level = (uint32_t)level;
            out->entry = e;
            break;
        }
        table = e & addr_mask;
    }
    bool ok = (!(access & VCORE_NVMX_EPT_READ) || (perms & EPT_R)) &&
              (!(access & VCORE_NVMX_EPT_WRITE) || (perms & EPT_W)) &&
              (!(access & VCORE_NVMX_EPT_FETCH) || (perms & EPT_X));
    if (!ok)
        out->kind = VCORE_NVMX_EPT_VIOLATION;
    return VCORE_OK;
}

uint32_t vcore__nvmx_ept_set_ad(const vcore_nvmx_mem_t *mem, uint64_t eptp, const vcore__nvmx_ept_leaf_t *w,
                                uint32_t access, bool apply)
{
    /* "Accessed and Dirty Flags for EPT": with EPTP bit 6, every entry used
     * gets its accessed flag, the leaf its dirty flag on a write. */
    uint32_t set = 0;
    if (!(eptp & VCORE__EPTP_AD))
        return 0;
    for (uint32_t i = 0; i < w->nused; i++) {
        uint64_t x = 0;
        if (mem->read(mem->ctx, w->used[i], &x, 8) != VCORE_OK)
            continue;
        bool leaf = i + 1 == w->nused;
        uint64_t y = x | EPT_A | ((leaf && (access & VCORE_NVMX_EPT_WRITE)) ? EPT_D : 0u);
        if (y == x)
            continue;
        set |= VCORE__EPT_AD_SET | (((y ^ x) & EPT_D) ? VCORE__EPT_AD_DIRTY : 0u);
        if (apply)
            (void)mem->write(mem->ctx, w->used[i], &y, 8);
    }
    return set;
}

void vcore__nvmx_pml_log(const vcore_nvmx_mem_t *mem, vcore__nvmx_pml_t *pml, uint32_t ad, uint64_t l2_gpa)
{
    if (!pml || !pml->on || !(ad & VCORE__EPT_AD_DIRTY))
        return;
    uint64_t entry = l2_gpa & ~0xfffull;
    (void)mem->write(mem->ctx, pml->address + 8u * pml->index, &entry, sizeof(entry));
    pml->index = (uint16_t)(pml->index - 1u); /* from 0 to FFFFH: the next one finds it full */
    pml->logged = true;
}

int vcore_nvmx_ept_translate(const vcore_nvmx_mem_t *mem, uint64_t eptp, uint32_t maxphyaddr, uint64_t l2_gpa,
                             uint32_t access, vcore_nvmx_ept_walk_t *out)
{
    /* No capability MSR here: execute-only entries and 1-GByte pages are translations. */
    return vcore__nvmx_ept_translate_pml(mem, eptp, maxphyaddr, VCORE__EPT_CAP_XO | VCORE__EPT_CAP_1G, l2_gpa,
                                         access, NULL, out);
}

int vcore__nvmx_ept_translate_pml(const vcore_nvmx_mem_t *mem, uint64_t eptp, uint32_t maxphyaddr, uint64_t ept_cap,
                                  uint64_t l2_gpa, uint32_t access, vcore__nvmx_pml_t *pml,
                                  vcore_nvmx_ept_walk_t *out)
{
    if (!mem || !out || !mem->read || !mem->write)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(mem) || !VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (maxphyaddr < 32 || maxphyaddr > 52 || !access || (access & ~7u))
        return VCORE_ERR_INVAL;
    vcore__nvmx_ept_leaf_t w;
    out->kind = VCORE_NVMX_EPT_OK;
    out->gpa = 0;
    out->qualification = access & 7u; /* bits 2:0: the access */
    int err = vcore__nvmx_ept_walk(mem, eptp, maxphyaddr, ept_cap, l2_gpa, access, &w);
    if (err)
        return err;
    out->kind = w.kind;
    if (w.kind == VCORE_NVMX_EPT_MISCONFIG) {
        out->qualification = 0;
        return VCORE_OK;
    }
    /* Bits 5:3: the access rights the whole walk grants. */
    out->qualification |= (uint64_t)w.perms << 3;
    if (w.kind != VCORE_NVMX_EPT_OK)
        return VCORE_OK;
    uint32_t ad = (pml && pml->on) ? vcore__nvmx_ept_set_ad(mem, eptp, &w, access, false) : 0u;
    if (vcore__nvmx_pml_full(pml, ad)) {
        out->kind = VCORE__NVMX_EPT_PML_FULL;
        out->qualification = 0;
        return VCORE_OK;
    }
    out->gpa = w.gpa;
    (void)vcore__nvmx_ept_set_ad(mem, eptp, &w, access, true);
    vcore__nvmx_pml_log(mem, pml, ad, l2_gpa);
    return VCORE_OK;
}

/* L2's memory seen through L1's EPT: every access translates its L2
 * guest-physical address with ept12 (one walk per page touched) and then
 * uses L1 memory. The first failed translation is recorded and every
 * access after it fails. */
static int nvmx_ept_view_access(void *ctx, uint64_t gpa, void *buf, size_t len, bool write)
{
    vcore__nvmx_ept_view_t *v = ctx;
    uint8_t *p = buf;
    if (v->fault)
        return VCORE_ERR_FAULT;
    while (len) {
        size_t n = 0x1000u - (size_t)(gpa & 0xfffu);
        if (n > len)
            n = len;
        vcore_nvmx_ept_walk_t w;
        w.size = sizeof(w);
        bool wr = write || (v->op_write && *v->op_write);
        int err = vcore__nvmx_ept_translate_pml(v->l1, v->eptp, v->maxphyaddr, v->ept_cap, gpa,
                                                wr ? VCORE_NVMX_EPT_WRITE : VCORE_NVMX_EPT_READ, v->pml, &w);
        if (err)
            return err;
        if (w.kind != VCORE_NVMX_EPT_OK) {
            v->fault = w.kind;
            v->fault_gpa = gpa;
            v->qualification = w.qualification;
            return VCORE_ERR_FAULT;
        }
        v->l1_gpa = w.gpa;
        err = write ? v->l1->write(v->l1->ctx, w.gpa, p, n) : v->l1->read(v->l1->ctx, w.gpa, p, n);
        if (err)
            return err;
        gpa += n;
        p += n;
        len -= n;
    }
    return VCORE_OK;
}

static int nvmx_ept_view_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    return nvmx_ept_view_access(ctx, gpa, buf, len, false);
}

static int nvmx_ept_view_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    return nvmx_ept_view_access(ctx, gpa, (void *)(uintptr_t)buf, len, true);
}

void vcore__nvmx_ept_view(vcore__nvmx_ept_view_t *v, const vcore_nvmx_mem_t *l1, uint64_t eptp, uint32_t maxphyaddr,
                          uint64_t ept_cap, const bool *op_write, vcore__nvmx_pml_t *pml, vcore_nvmx_mem_t *out)
{
    vcore__memset(v, 0, sizeof(*v));
    v->l1 = l1;
    v->op_write = op_write;
    v->pml = pml;
    v->eptp = eptp;
    v->maxphyaddr = maxphyaddr;
    v->ept_cap = ept_cap;
    out->size = sizeof(*out);
    out->ctx = v;
    out->read = nvmx_ept_view_read;
    out->write = nvmx_ept_view_write;
}
