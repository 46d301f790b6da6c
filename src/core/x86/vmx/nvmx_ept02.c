/*
 * nvmx_ept02.c - the shadow EPT (ept02) of nested VMX: L2 guest-physical to
 * host-physical, the composition of L1's EPT (ept12) with L0's view of L1
 * memory, filled one leaf per EPT violation (x86/nvmx_ept02.h).
 *
 * Where the work is split: this file is pure. It walks ept12 (through
 * nvmx_ept.c: each entry read once from L1 memory and checked), asks L0's
 * view through a callback (the run loop answers from the VM's memory map),
 * composes address, page size, rights and memory type, and writes the
 * tables itself in pages the caller lent it. The backend only runs the
 * instruction the tables need: INVEPT on an ept02 that lost or narrowed a
 * translation (the flush callback; backend op vcpu_invept) and the
 * VMWRITE of the EPT pointer into vmcs02. So every rule is tested on the
 * host, and a backend does not need a table builder of its own.
 *
 * Updates are two-phase: a fault first counts the tables it must create
 * and fails with VCORE_ERR_NOMEM before touching anything; then it writes.
 * ept02 is a 4-level EPT ("EPT Translation Mechanism") with write-back
 * paging structures; non-leaf entries grant everything, leaves restrict.
 */
#include "nvmx_priv.h"

#define VCORE__EPT02_MAGIC 0x65707432u /* "ept2" */
struct vcore_nvmx_ept02 {
    size_t size;     /* sizeof(struct vcore_nvmx_ept02) */
    uint32_t magic;  /* VCORE__EPT02_MAGIC while initialised */
    uint32_t npages; /* pages of the pool */
    uint32_t nfree;  /* of those, free */
    vcore_nvmx_ept02_flush_fn flush;
    void *flush_ctx;
    uint64_t tick;   /* use counter for least-recently-used eviction */
    struct {
        bool used;
        uint32_t root;   /* page index of the PML4 */
        uint64_t eptp12; /* L1's EPT pointer it shadows */
        uint64_t last;   /* tick of the last use */
    } ctx[VCORE_NVMX_EPT02_CONTEXTS];
    vcore_nvmx_ept02_stats_t stats;
    vcore_nvmx_ept02_page_t page[VCORE_NVMX_EPT02_MAX_PAGES];
    uint8_t owner[VCORE_NVMX_EPT02_MAX_PAGES]; /* 0 free, else context index + 1 */
};


#define E_R (1ull << 0)             /* read access */
#define E_W (1ull << 1)             /* write access */
#define E_X (1ull << 2)             /* execute access */
#define E_RWX 7ull
#define E_MT_SHIFT 3                /* leaf bits 5:3: memory type */
#define E_IPAT (1ull << 6)          /* leaf bit 6: ignore PAT memory type */
#define E_PS (1ull << 7)            /* PDPTE/PDE bit 7: maps a page */
#define E_A (1ull << 8)             /* accessed flag (EPTP bit 6) */
#define E_D (1ull << 9)             /* dirty flag of a leaf (EPTP bit 6) */
#define E_ADDR 0x000ffffffffff000ull /* bits 51:12 */
#define EPTP_EP4TA 0x000ffffffffff000ull /* EPTP bits 51:12 */
/* ept02's own pointer: write-back (6) paging structures, walk length 4 (3 in bits 5:3). */
#define EPT02_EPTP_BITS (6ull | (3ull << 3))
#define MT_WB 6u

/* Exit-qualification bits passed on from the violation of ept02 ("Exit
 * Qualification for EPT Violations"): 7 linear address valid, 8 access to
 * the final translation, 12 NMI unblocking due to IRET; 11:9 (user/
 * supervisor, writable, execute-disable of the linear address) only with
 * "advanced VM-exit information for EPT violations". */
#define QUAL_PASS ((1ull << 7) | (1ull << 8) | (1ull << 12))
#define QUAL_ADV (7ull << 9)
#define QUAL_NMI_UNBLOCK (1ull << 12) /* NMI unblocking due to IRET */

static bool ept02_ok(const vcore_nvmx_ept02_t *p)
{
    return p && p->size == sizeof(*p) && p->magic == VCORE__EPT02_MAGIC;
}

size_t vcore_nvmx_ept02_storage_size(void)
{
    return sizeof(struct vcore_nvmx_ept02);
}

int vcore_nvmx_ept02_init(void *mem, size_t len, const vcore_nvmx_ept02_config_t *cfg, vcore_nvmx_ept02_t **out)
{
    if (!mem || !cfg || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(cfg))
        return VCORE_ERR_ABI;
    if (len < sizeof(struct vcore_nvmx_ept02) || ((uintptr_t)mem & 15u))
        return VCORE_ERR_BUFSZ;
    if (!cfg->flush || !cfg->pages || cfg->npages == 0 || cfg->npages > VCORE_NVMX_EPT02_MAX_PAGES)
        return VCORE_ERR_INVAL;
    for (uint32_t i = 0; i < cfg->npages; i++)
        if (!cfg->pages[i].va || ((uintptr_t)cfg->pages[i].va & 0xfffu) || (cfg->pages[i].pa & ~E_ADDR))
            return VCORE_ERR_INVAL;
    vcore_nvmx_ept02_t *p = mem;
    vcore__memset(p, 0, sizeof(*p));
    p->size = sizeof(*p);
    p->npages = p->nfree = cfg->npages;
    vcore__memcpy(p->page, cfg->pages, sizeof(p->page[0]) * cfg->npages);
    p->flush = cfg->flush;
    p->flush_ctx = cfg->flush_ctx;
    p->stats.size = sizeof(p->stats);
    p->magic = VCORE__EPT02_MAGIC;
    *out = p;
    return VCORE_OK;
}

static uint64_t *ept02_table(const vcore_nvmx_ept02_t *p, uint32_t idx)
{
    return (uint64_t *)p->page[idx].va;
}

/* The pool page whose physical address an entry holds (only ept02's own
 * entries are followed, so it is always found; NULL otherwise). */
static uint64_t *ept02_follow(const vcore_nvmx_ept02_t *p, uint64_t e)
{
    uint64_t pa = e & E_ADDR;
    for (uint32_t i = 0; i < p->npages; i++)
        if (p->owner[i] && p->page[i].pa == pa)
            return ept02_table(p, i);
    return NULL;
}

/* Takes a free page for context c (zeroed: an empty table maps nothing). */
static uint32_t ept02_take(vcore_nvmx_ept02_t *p, uint32_t c)
{
    for (uint32_t i = 0; i < p->npages; i++) {
        if (!p->owner[i]) {
            p->owner[i] = (uint8_t)(c + 1u);
            p->nfree--;
            vcore__memset(p->page[i].va, 0, VCORE_PAGE_SIZE);
            return i;
        }
    }
    return UINT32_MAX; /* unreachable: callers count free pages first */
}

/* ept02's pointer carries bit 6 when L1's does ("Accessed and Dirty Flags
 * for EPT"): the processor then treats L2's accesses to its own paging
 * structures as writes ("EPT Violations"), so such an access to a page
 * whose ept12 leaf is clean - read-only in ept02 - faults as a write and
 * the fault sets the dirty flag L1 expects. The processor also sets the
 * flags in ept02's own entries; nothing of ept02 reads them. An EPTP12
 * with bit 6 passed the VM-entry checks against L1's capabilities, which
 * offer bit 21 of IA32_VMX_EPT_VPID_CAP only when the processor has it. */
static uint64_t ept02_ctx_eptp(const vcore_nvmx_ept02_t *p, uint32_t c)
{
    return p->page[p->ctx[c].root].pa | EPT02_EPTP_BITS | (p->ctx[c].eptp12 & VCORE__EPTP_AD);
}

static void ept02_flush(vcore_nvmx_ept02_t *p, uint32_t c)
{
    p->stats.flushes++;
    p->flush(p->flush_ctx, ept02_ctx_eptp(p, c));
}

/* Drops one ept02: the processor forgets it first, then its pages are free. */
static void ept02_drop(vcore_nvmx_ept02_t *p, uint32_t c)
{
    if (!p->ctx[c].used)
        return;
    ept02_flush(p, c);
    for (uint32_t i = 0; i < p->npages; i++) {
        if (p->owner[i] == c + 1u) {
            p->owner[i] = 0;
            p->nfree++;
        }
    }
    p->ctx[c].used = false;
    p->stats.contexts--;
    p->stats.dropped++;
}

/* The context shadowing eptp12, or UINT32_MAX. */
static uint32_t ept02_find(const vcore_nvmx_ept02_t *p, uint64_t eptp12)
{
    for (uint32_t c = 0; c < VCORE_NVMX_EPT02_CONTEXTS; c++)
        if (p->ctx[c].used && p->ctx[c].eptp12 == eptp12)
            return c;
    return UINT32_MAX;
}

/* The context for eptp12, made (and the least recently used one evicted)
 * when needed. */
static int ept02_context(vcore_nvmx_ept02_t *p, uint64_t eptp12, uint32_t *out)
{
    uint32_t c = ept02_find(p, eptp12);
    if (c == UINT32_MAX) {
        uint32_t victim = 0;
        for (c = 0; c < VCORE_NVMX_EPT02_CONTEXTS && p->ctx[c].used; c++)
            if (p->ctx[c].last < p->ctx[victim].last)
                victim = c;
        if (c == VCORE_NVMX_EPT02_CONTEXTS) {
            ept02_drop(p, victim);
            c = victim;
        }
        if (p->nfree == 0)
            return VCORE_ERR_NOMEM;
        p->ctx[c].root = ept02_take(p, c);
        p->ctx[c].eptp12 = eptp12;
        p->ctx[c].used = true;
        p->stats.contexts++;
    }
    p->ctx[c].last = ++p->tick;
    *out = c;
    return VCORE_OK;
}

int vcore_nvmx_ept02_eptp(vcore_nvmx_ept02_t *ept02, uint64_t eptp12, uint64_t *eptp02)
{
    if (!ept02_ok(ept02) || !eptp02)
        return VCORE_ERR_INVAL;
    uint32_t c;
    int err = ept02_context(ept02, eptp12, &c);
    if (err)
        return err;
    *eptp02 = ept02_ctx_eptp(ept02, c);
    return VCORE_OK;
}

static uint32_t ept02_index(uint64_t gpa, uint32_t level)
{
    return (uint32_t)((gpa >> (12u + 9u * (level - 1u))) & 511u);
}

static uint64_t ept02_level_size(uint32_t level)
{
    return 1ull << (12u + 9u * (level - 1u));
}

static bool ept02_present(uint64_t e)
{
    return (e & E_RWX) != 0;
}

/* Whether entry e at level points to a table (not a page). */
static bool ept02_is_table(uint64_t e, uint32_t level)
{
    return ept02_present(e) && level > 1 && !(e & E_PS);
}

/*
 * Installs one leaf mapping gpa. `level` is the leaf's level as composed,
 * `base` the host-physical address of the page of that size holding gpa,
 * `attrs` the leaf's rights, memory type and IPAT. Where ept02 already has a
 * table below the leaf's level (an earlier, smaller composition), the leaf
 * goes into it at the smaller size: still a correct translation of gpa.
 * A page leaf in the way of a table is replaced (and the old page flushed).
 */
static int ept02_install(vcore_nvmx_ept02_t *p, uint32_t c, uint64_t gpa, uint32_t level, uint64_t base,
                         uint64_t attrs, vcore_nvmx_ept02_result_t *out)
{
    /* Phase 1: count the tables to create. */
    uint64_t *t = ept02_table(p, p->ctx[c].root);
    uint32_t l = 4, need = 0, at = level;
    for (;;) {
        uint64_t e = t[ept02_index(gpa, l)];
        if (l == at) {
            if (!ept02_is_table(e, l))
                break;
            at--; /* a smaller leaf in the existing table */
        } else if (!ept02_is_table(e, l)) {
            need = l - at;
            break;
        }
        t = ept02_follow(p, e);
        if (!t)
            return VCORE_ERR_STATE; /* an entry not made here: the tables were corrupted */
        l--;
    }
    if (need > p->nfree)
        return VCORE_ERR_NOMEM;
    /* Phase 2: create, then write the leaf. */
    bool flush = false;
    t = ept02_table(p, p->ctx[c].root);
    for (l = 4; l > at; l--) {
        uint64_t *ent = &t[ept02_index(gpa, l)];
        if (!ept02_is_table(*ent, l)) {
            flush |= ept02_present(*ent); /* a larger page leaf goes away */
            uint32_t n = ept02_take(p, c);
            *ent = p->page[n].pa | E_RWX;
        }
        t = ept02_follow(p, *ent);
    }
    uint64_t size = ept02_level_size(at);
    uint64_t hpa = base + ((gpa & (ept02_level_size(level) - 1u)) & ~(size - 1u));
    uint64_t leaf = hpa | attrs | (at > 1 ? E_PS : 0u);
    uint64_t *ent = &t[ept02_index(gpa, at)];
    /* The accessed and dirty flags the processor set in it are not ours. */
    uint64_t old = *ent & ~(E_A | E_D);
    /* Only a leaf that loses nothing (same page and type, no right taken
     * away) may change without invalidating ("Invalidation of TLBs and
     * Paging-Structure Caches": the processor may keep using the old one). */
    if (ept02_present(old) && ((old & ~E_RWX) != (leaf & ~E_RWX) || (old & E_RWX & ~leaf) != 0))
        flush = true;
    *ent = leaf;
    p->stats.installed++;
    if (flush)
        ept02_flush(p, c);
    out->hpa = hpa;
    out->page_size = size;
    return VCORE_OK;
}

int vcore_nvmx_ept02_handle(vcore_nvmx_ept02_t *ept02, const vcore_nvmx_ept02_fault_t *in,
                            vcore_nvmx_ept02_result_t *out)
{
    if (!ept02_ok(ept02) || !in || !out || !in->l1_mem || !in->l1_mem->read || !in->l1_mem->write || !in->l0)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(in) || !VCORE__SIZE_OK(out) || !VCORE__SIZE_OK(in->l1_mem))
        return VCORE_ERR_ABI;
    uint32_t access = (uint32_t)(in->hw_qualification & 7u);
    if (!access || in->maxphyaddr < 32 || in->maxphyaddr > 52)
        return VCORE_ERR_INVAL;
    uint32_t walk = (uint32_t)((in->eptp12 >> 3) & 7u) + 1u;
    if (walk != 4 && walk != 5)
        return VCORE_ERR_INVAL;
    if (in->l2_gpa >> 48)
        return VCORE_ERR_RANGE;
    size_t sz = out->size;
    vcore__memset(out, 0, sz);
    out->size = sz;

    /* ept12: L1's verdict comes first; L0 is asked only for what L1 maps. */
    vcore__nvmx_ept_leaf_t w;
    uint64_t ept_cap = 0;
    if (!in->no_execute_only)
        ept_cap |= VCORE__EPT_CAP_XO;
    if (!in->no_pages_1g)
        ept_cap |= VCORE__EPT_CAP_1G;
    int err = vcore__nvmx_ept_walk(in->l1_mem, in->eptp12, in->maxphyaddr, ept_cap, in->l2_gpa, access, &w);
    if (err)
        return err;
    if (w.kind == VCORE_NVMX_EPT_MISCONFIG) {
        out->kind = VCORE_NVMX_EPT02_L1_MISCONFIG;
        return VCORE_OK;
    }
    if (w.kind == VCORE_NVMX_EPT_VIOLATION) {
        out->kind = VCORE_NVMX_EPT02_L1_VIOLATION;
        out->qualification = access | ((uint64_t)w.perms << 3) | (in->hw_qualification & QUAL_PASS) |
                             (in->advanced_info ? (in->hw_qualification & QUAL_ADV) : 0u);
        return VCORE_OK;
    }
    out->l1_gpa = w.gpa;
    /* "Page-Modification Logging": an access that must first set an ept12
     * flag finds a PML index outside 0-511 a log-full event: a VM exit, no
     * flag set, the access not done. */
    vcore__nvmx_pml_t pml = {in->pml, false, in->pml_index, in->pml_address};
    uint32_t ad = in->pml ? vcore__nvmx_ept_set_ad(in->l1_mem, in->eptp12, &w, access, false) : 0u;
    if (vcore__nvmx_pml_full(&pml, ad)) {
        out->kind = VCORE_NVMX_EPT02_L1_PML_FULL;
        out->qualification = in->hw_qualification & QUAL_NMI_UNBLOCK;
        return VCORE_OK;
    }

    /* L0's view of the L1 page. */
    vcore_nvmx_ept02_l0_t l0;
    vcore__memset(&l0, 0, sizeof(l0));
    l0.size = sizeof(l0);
    err = in->l0(in->l0_ctx, w.gpa, &l0);
    if (err)
        return err;
    if (!l0.mapped || (access & ~(uint32_t)l0.perms)) {
        out->kind = VCORE_NVMX_EPT02_L0_MMIO;
        return VCORE_OK;
    }
    if ((l0.page_size != (1ull << 12) && l0.page_size != (1ull << 21) && l0.page_size != (1ull << 30)) ||
        (l0.hpa & (l0.page_size - 1u)) || (l0.hpa & ~E_ADDR))
        return VCORE_ERR_INVAL; /* the L0 view broke its contract */

    /* Page size: the smaller mapping. */
    uint32_t level = w.level;
    uint32_t l0_level = l0.page_size == (1ull << 30) ? 3u : l0.page_size == (1ull << 21) ? 2u : 1u;
    if (l0_level < level)
        level = l0_level;
    uint64_t size = ept02_level_size(level);
    uint64_t base = l0.hpa + ((w.gpa & (l0.page_size - 1u)) & ~(size - 1u));

    /* Rights: the intersection; with L1's A/D flags on, a clean leaf stays
     * read-only until a write faults and sets its dirty flag. */
    uint64_t perms = w.perms & l0.perms & E_RWX;
    if ((in->eptp12 & VCORE__EPTP_AD) && !(w.entry & E_D) && !(access & VCORE_NVMX_EPT_WRITE))
        perms &= ~E_W;

    /* Memory type ("EPT and Memory Typing"): L1's for L0's ordinary
     * write-back memory, L0's otherwise. */
    uint64_t mt, ipat;
    if (l0.memtype == MT_WB && !l0.ipat) {
        mt = (w.entry >> E_MT_SHIFT) & 7u;
        ipat = w.entry & E_IPAT;
    } else {
        mt = l0.memtype & 7u;
        ipat = l0.ipat ? E_IPAT : 0u;
    }
    uint32_t c;
    err = ept02_context(ept02, in->eptp12, &c);
    if (!err)
        err = ept02_install(ept02, c, in->l2_gpa, level, base, perms | (mt << E_MT_SHIFT) | ipat, out);
    if (err)
        return err;
    /* The translation is in place: now L1's flags, as the processor sets
     * them when it uses the entries. */
    (void)vcore__nvmx_ept_set_ad(in->l1_mem, in->eptp12, &w, access, true);
    /* A dirty flag set (0 to 1) is logged; the caller lowers vmcs12's index. */
    vcore__nvmx_pml_log(in->l1_mem, &pml, ad, in->l2_gpa);
    out->pml_logged = pml.logged;
    out->kind = VCORE_NVMX_EPT02_FIXED;
    out->perms = (uint32_t)perms;
    out->memtype = (uint8_t)mt;
    out->ipat = ipat != 0;
    return VCORE_OK;
}

int vcore_nvmx_ept02_invalidate(vcore_nvmx_ept02_t *ept02, uint32_t type, uint64_t eptp12)
{
    if (!ept02_ok(ept02) || (type != 1 && type != 2))
        return VCORE_ERR_INVAL;
    /* Single-context: "all mappings associated with bits 51:12 of the EPT
     * pointer specified in the INVEPT descriptor". */
    for (uint32_t c = 0; c < VCORE_NVMX_EPT02_CONTEXTS; c++)
        if (ept02->ctx[c].used && (type == 2 || ((ept02->ctx[c].eptp12 ^ eptp12) & EPTP_EP4TA) == 0))
            ept02_drop(ept02, c);
    return VCORE_OK;
}

int vcore_nvmx_ept02_lookup(const vcore_nvmx_ept02_t *ept02, uint64_t eptp12, uint64_t l2_gpa,
                            vcore_nvmx_ept02_lookup_t *out)
{
    if (!ept02_ok(ept02) || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    size_t sz = out->size;
    vcore__memset(out, 0, sz);
    out->size = sz;
    uint32_t c = ept02_find(ept02, eptp12);
    if (c == UINT32_MAX || (l2_gpa >> 48))
        return VCORE_OK;
    const uint64_t *t = ept02_table(ept02, ept02->ctx[c].root);
    for (uint32_t l = 4; l >= 1 && t; l--) {
        uint64_t e = t[ept02_index(l2_gpa, l)];
        if (!ept02_present(e))
            return VCORE_OK;
        if (ept02_is_table(e, l)) {
            t = ept02_follow(ept02, e);
            continue;
        }
        uint64_t size = ept02_level_size(l);
        out->present = true;
        out->perms = (uint8_t)(e & E_RWX);
        out->memtype = (uint8_t)((e >> E_MT_SHIFT) & 7u);
        out->ipat = (e & E_IPAT) != 0;
        out->page_size = size;
        out->hpa = (e & E_ADDR & ~(size - 1u)) | (l2_gpa & (size - 1u));
        return VCORE_OK;
    }
    return VCORE_OK;
}

int vcore_nvmx_ept02_stats(const vcore_nvmx_ept02_t *ept02, vcore_nvmx_ept02_stats_t *out)
{
    if (!ept02_ok(ept02) || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    *out = ept02->stats;
    out->pages_free = ept02->nfree;
    return VCORE_OK;
}
