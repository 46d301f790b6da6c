/*
 * s2_table.c - the stage-2 page-table builder: prepare / commit of map and
 * unmap, lookups and statistics.
 *
 * One walker serves three passes over the range of a change:
 *  COUNT (prepare): reads the tables, changes nothing, and counts the tables
 *        the change will need (new tables, and blocks split into tables). It
 *        walks "virtual" tables where a real one would be created: an empty
 *        table, or the split of a block (every entry the block's mapping at
 *        the next level).
 *  BREAK (commit): applies everything that needs no break-before-make and
 *        performs the "break" of everything that does: a valid entry whose
 *        address, size or memory type changes becomes invalid (a table
 *        being replaced is marked "retired" so its pages can be freed later);
 *        a block that must become a table gets its new table built offline
 *        (not yet reachable) and the entry is marked "pending". New tables
 *        under empty entries are built offline and linked at once.
 *  then, if anything valid was changed, one call of the TLB callback
 *        (Arm ARM D8, "Using break-before-make when updating translation
 *        table entries"),
 *  MAKE (commit): writes the new leaves where breaks were, makes pending
 *        tables valid, and returns retired subtrees to the pool.
 * COUNT and BREAK take the same decisions from the same table contents, so
 * a commit consumes exactly the tables its prepare reserved.
 */
#include "arm64.h"

enum { VCORE__S2_COUNT = 0, VCORE__S2_BREAK = 1, VCORE__S2_MAKE = 2 };

typedef struct vcore__s2_walk {
    vcore_arm64_s2_t *s2;
    const vcore_arm64_s2_geom_t *g;
    int mode;
    uint32_t op;          /* VCORE__S2_OP_MAP / _UNMAP */
    uint64_t start, end;  /* IPA range [start, end) */
    uint64_t pa;          /* MAP: output address of `start` */
    uint32_t prot;        /* MAP: permissions and attributes */
    uint64_t need;        /* COUNT: tables needed */
    bool need_make;       /* BREAK: something is left for MAKE */
    bool tlbi;            /* BREAK: a valid entry changed */
    uint64_t t_lo, t_hi, t_stride;
} vcore__s2_walk_t;

/* What a walk reads: a real table, or (COUNT only) a virtual one. */
typedef struct vcore__s2_src {
    uint64_t *t;    /* real table, or NULL */
    uint64_t split; /* virtual: the block being split (0 = an empty table) */
} vcore__s2_src_t;

static uint64_t vcore__s2_entries(const vcore_arm64_s2_geom_t *g, int32_t level)
{
    if (level == g->start_level)
        return g->root_entries;
    return 1ull << (g->granule_shift - 3u);
}

static uint64_t vcore__s2_size(const vcore_arm64_s2_geom_t *g, int32_t level)
{
    return 1ull << vcore__arm64_s2_level_shift(g, level);
}

/* Entry i of the table at `level` that splits block `d` (one level up). */
static uint64_t vcore__s2_split_entry(const vcore_arm64_s2_geom_t *g, uint64_t d, int32_t level,
                                      uint64_t i)
{
    uint64_t oa = vcore_arm64_s2_desc_to_oa(g, d, level - 1) + i * vcore__s2_size(g, level);
    return vcore__arm64_s2_leaf(g, level, oa, vcore__arm64_s2_leaf_prot(g, d));
}

static uint64_t vcore__s2_get(const vcore__s2_walk_t *w, const vcore__s2_src_t *src,
                              int32_t level, uint64_t i)
{
    if (src->t)
        return src->t[i];
    if (src->split)
        return vcore__s2_split_entry(w->g, src->split, level, i);
    return 0;
}

/* Table a valid table descriptor points to. */
static uint64_t *vcore__s2_child(const vcore_arm64_s2_t *s2, uint64_t d, int32_t level)
{
    return vcore__arm64_s2_pool_va(&s2->pool, vcore_arm64_s2_desc_to_oa(&s2->geom, d, level));
}

/* Takes one reserved table (zeroed; only its link word was used). */
static uint64_t *vcore__s2_take(vcore_arm64_s2_t *s2, uint64_t *pa)
{
    uint64_t *t = s2->reserve;
    vcore__memcpy(&s2->reserve, t, sizeof(void *));
    s2->nreserve--;
    t[0] = 0;
    s2->tables_in_use++;
    *pa = vcore__arm64_s2_pool_pa(&s2->pool, t);
    return t;
}

/* Returns a subtree (the table at `level` and everything below) to the pool. */
static void vcore__s2_free_tree(vcore_arm64_s2_t *s2, uint64_t *t, int32_t level)
{
    uint64_t n = vcore__s2_entries(&s2->geom, level);
    for (uint64_t i = 0; i < n; i++) {
        if (vcore__arm64_s2_is_table(t[i], level)) {
            uint64_t *c = vcore__s2_child(s2, t[i], level);
            if (c)
                vcore__s2_free_tree(s2, c, level + 1);
        }
    }
    vcore__arm64_s2_pool_put(&s2->pool, t);
    s2->tables_in_use--;
}

static void vcore__s2_tlbi_add(vcore__s2_walk_t *w, uint64_t lo, uint64_t size, uint64_t stride)
{
    if (!w->tlbi) {
        w->tlbi = true;
        w->t_lo = lo;
        w->t_hi = lo + size;
        w->t_stride = stride;
        return;
    }
    if (lo < w->t_lo)
        w->t_lo = lo;
    if (lo + size > w->t_hi)
        w->t_hi = lo + size;
    if (stride < w->t_stride)
        w->t_stride = stride;
}

/* After unmapping [start, end), would every entry of table t be empty? */
static bool vcore__s2_will_empty(const vcore__s2_walk_t *w, const uint64_t *t, int32_t level,
                                 uint64_t base)
{
    uint64_t n = vcore__s2_entries(w->g, level), size = vcore__s2_size(w->g, level);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t lo = base + i * size, hi = lo + size;
        if (t[i] == 0 || (lo >= w->start && hi <= w->end))
            continue;
        if (hi <= w->start || lo >= w->end)
            return false; /* untouched and not empty */
        if (!vcore__arm64_s2_is_table(t[i], level))
            return false; /* a block partly kept */
        const uint64_t *c = vcore__s2_child(w->s2, t[i], level);
        if (!c || !vcore__s2_will_empty(w, c, level + 1, lo))
            return false;
    }
    return true;
}

static void vcore__s2_walk(vcore__s2_walk_t *w, const vcore__s2_src_t *src, int32_t level,
                           uint64_t base, bool live);

/* Recursion into the table below entry i (d is its current descriptor). */
static void vcore__s2_descend(vcore__s2_walk_t *w, const vcore__s2_src_t *src, uint64_t i,
                              int32_t level, uint64_t lo, uint64_t d, bool live)
{
    vcore_arm64_s2_t *s2 = w->s2;
    const vcore_arm64_s2_geom_t *g = w->g;
    uint64_t size = vcore__s2_size(g, level);

    if (w->mode == VCORE__S2_COUNT) {
        vcore__s2_src_t sub = {NULL, 0};
        if (src->t && vcore__arm64_s2_is_table(d, level)) {
            sub.t = vcore__s2_child(s2, d, level);
        } else {
            /* A new table: empty, or the split of a block. */
            w->need++;
            sub.split = vcore__arm64_s2_is_leaf(d, level) ? d : 0;
        }
        vcore__s2_walk(w, &sub, level + 1, lo, false);
        return;
    }
    if (w->mode == VCORE__S2_MAKE) {
        if (vcore__arm64_s2_is_table(d, level)) {
            vcore__s2_src_t sub = {vcore__s2_child(s2, d, level), 0};
            if (sub.t)
                vcore__s2_walk(w, &sub, level + 1, lo, true);
        } else if (d != 0 && !(d & VCORE__S2D_RETIRED)) {
            /* Pending: the new table is complete, the break is done. */
            vcore__arm64_s2_store(&src->t[i], d | VCORE__S2D_VALID);
        }
        return;
    }
    /* BREAK */
    if (vcore__arm64_s2_is_table(d, level)) {
        vcore__s2_src_t sub = {vcore__s2_child(s2, d, level), 0};
        if (sub.t)
            vcore__s2_walk(w, &sub, level + 1, lo, live);
        return;
    }
    uint64_t pa;
    uint64_t *t = vcore__s2_take(s2, &pa);
    bool block = vcore__arm64_s2_is_leaf(d, level);
    if (block) {
        uint64_t n = vcore__s2_entries(g, level + 1);
        for (uint64_t k = 0; k < n; k++)
            t[k] = vcore__s2_split_entry(g, d, level + 1, k);
    }
    vcore__s2_src_t sub = {t, 0};
    vcore__s2_walk(w, &sub, level + 1, lo, false); /* offline: not reachable yet */
    uint64_t td = vcore__arm64_s2_table_desc(g, pa);
    if (block && live) {
        /* Block -> table changes the size of a valid mapping: break first. */
        vcore__arm64_s2_store(&src->t[i], td & ~VCORE__S2D_VALID);
        vcore__s2_tlbi_add(w, lo, size, size);
        w->need_make = true;
    } else {
        vcore__arm64_s2_store(&src->t[i], td);
    }
}

/* Entry i becomes the leaf `nd` (MAP) or empty (UNMAP, nd = 0). */
static void vcore__s2_set_leaf(vcore__s2_walk_t *w, const vcore__s2_src_t *src, uint64_t i,
                               int32_t level, uint64_t lo, uint64_t d, uint64_t nd, bool live)
{
    vcore_arm64_s2_t *s2 = w->s2;
    const vcore_arm64_s2_geom_t *g = w->g;
    uint64_t size = vcore__s2_size(g, level);

    if (w->mode == VCORE__S2_COUNT)
        return;
    if (w->mode == VCORE__S2_MAKE) {
        if (d & VCORE__S2D_RETIRED) {
            uint64_t td = (d & ~VCORE__S2D_RETIRED) | VCORE__S2D_VALID;
            uint64_t *c = vcore__s2_child(s2, td, level);
            if (c)
                vcore__s2_free_tree(s2, c, level + 1);
            vcore__arm64_s2_store(&src->t[i], nd);
        } else if (d != nd) {
            vcore__arm64_s2_store(&src->t[i], nd);
        }
        return;
    }
    /* BREAK */
    if (d == nd)
        return;
    if (!live || !(d & VCORE__S2D_VALID)) {
        vcore__arm64_s2_store(&src->t[i], nd); /* nothing valid to break */
        return;
    }
    if (vcore__arm64_s2_is_table(d, level)) {
        /* A subtree goes: freed only after the TLB maintenance. */
        vcore__arm64_s2_store(&src->t[i], (d & ~VCORE__S2D_VALID) | VCORE__S2D_RETIRED);
        vcore__s2_tlbi_add(w, lo, size, 1ull << g->granule_shift);
        w->need_make = true;
        return;
    }
    uint64_t keep = ~(VCORE__S2D_S2AP_R | VCORE__S2D_S2AP_W | VCORE__A64_GENMASK(54, 53));
    if (nd != 0 && (d & keep) == (nd & keep)) {
        /* Same address, size and memory type: only permissions change,
         * which needs no break (the TLB maintenance follows). */
        vcore__arm64_s2_store(&src->t[i], nd);
        vcore__s2_tlbi_add(w, lo, size, size);
        return;
    }
    vcore__arm64_s2_store(&src->t[i], 0);
    vcore__s2_tlbi_add(w, lo, size, size);
    if (nd != 0)
        w->need_make = true;
}

static void vcore__s2_walk(vcore__s2_walk_t *w, const vcore__s2_src_t *src, int32_t level,
                           uint64_t base, bool live)
{
    const vcore_arm64_s2_geom_t *g = w->g;
    uint32_t shift = vcore__arm64_s2_level_shift(g, level);
    uint64_t size = 1ull << shift;
    uint64_t n = vcore__s2_entries(g, level);
    uint64_t first = w->start > base ? (w->start - base) >> shift : 0;

    for (uint64_t i = first; i < n; i++) {
        uint64_t lo = base + i * size, hi = lo + size;
        if (lo >= w->end)
            break;
        uint64_t a = lo > w->start ? lo : w->start;
        uint64_t b = hi < w->end ? hi : w->end;
        bool full = a == lo && b == hi;
        uint64_t d = vcore__s2_get(w, src, level, i);

        if (w->op == VCORE__S2_OP_MAP) {
            uint64_t oa = w->pa + (a - w->start);
            if (full && vcore__arm64_s2_block_ok(g, level) && (oa & (size - 1u)) == 0) {
                uint64_t nd = vcore__arm64_s2_leaf(g, level, oa, w->prot);
                vcore__s2_set_leaf(w, src, i, level, lo, d, nd, live);
            } else {
                vcore__s2_descend(w, src, i, level, lo, d, live);
            }
            continue;
        }
        /* UNMAP */
        if (w->mode == VCORE__S2_MAKE) {
            if (d & VCORE__S2D_RETIRED)
                vcore__s2_set_leaf(w, src, i, level, lo, d, 0, live);
            else if (d != 0)
                vcore__s2_descend(w, src, i, level, lo, d, live);
            continue;
        }
        if (d == 0)
            continue;
        if (!full && vcore__arm64_s2_is_table(d, level) && src->t) {
            const uint64_t *c = vcore__s2_child(w->s2, d, level);
            if (c && vcore__s2_will_empty(w, c, level + 1, lo))
                full = true; /* nothing would be left below: remove the table */
        }
        if (full)
            vcore__s2_set_leaf(w, src, i, level, lo, d, 0, live);
        else
            vcore__s2_descend(w, src, i, level, lo, d, live);
    }
}

/* ------------------------------------------------------------------------- */

size_t vcore_arm64_s2_storage_size(void)
{
    return sizeof(vcore_arm64_s2_t);
}

static bool vcore__s2_ok(const vcore_arm64_s2_t *s2)
{
    return s2 && s2->magic == VCORE__ARM64_S2_MAGIC;
}

int vcore_arm64_s2_init(void *mem, size_t len, const vcore_arm64_s2_table_config_t *cfg,
                        vcore_arm64_s2_t **out, vcore_diag_t *diag)
{
    if (!mem || !cfg || !out)
        return VCORE_ERR_INVAL;
    if (len < sizeof(vcore_arm64_s2_t) || ((uintptr_t)mem & 15u))
        return VCORE_ERR_BUFSZ;
    if (!VCORE__SIZE_OK(cfg))
        return VCORE_ERR_ABI;
    if (!cfg->host || !cfg->tlbi)
        return VCORE_ERR_INVAL;
    if (cfg->host->size != sizeof(vcore_host_t))
        return VCORE_ERR_ABI;
    if (!cfg->host->alloc_pages || !cfg->host->free_pages)
        return VCORE_ERR_INVAL;

    vcore_arm64_s2_t *s2 = mem;
    vcore__memset(s2, 0, sizeof(*s2));
    s2->geom.size = sizeof(s2->geom);
    int rc = vcore_arm64_s2_geometry(&cfg->geometry, &s2->geom, diag);
    if (rc != VCORE_OK)
        return rc;
    vcore__arm64_s2_pool_init(&s2->pool, cfg->host, 1u << s2->geom.granule_shift,
                              cfg->chunk_tables);
    s2->tlbi = cfg->tlbi;
    s2->tlbi_ctx = cfg->tlbi_ctx;
    /* The concatenated start-level tables are contiguous and aligned to
     * their total size (Arm ARM, "VTTBR_EL2": BADDR alignment). */
    s2->root_bytes = (uint64_t)s2->geom.concat << s2->geom.granule_shift;
    uint8_t *root = NULL;
    rc = vcore__arm64_s2_pool_alloc_block(&s2->pool, s2->root_bytes, s2->root_bytes, &root,
                                          &s2->root_pa);
    if (rc != VCORE_OK) {
        vcore__arm64_s2_pool_fini(&s2->pool);
        return rc;
    }
    s2->root = (uint64_t *)(void *)root;
    s2->magic = VCORE__ARM64_S2_MAGIC;
    *out = s2;
    return VCORE_OK;
}

void vcore_arm64_s2_fini(vcore_arm64_s2_t *s2)
{
    if (!vcore__s2_ok(s2))
        return;
    vcore__arm64_s2_pool_fini(&s2->pool);
    s2->magic = 0;
}

const vcore_arm64_s2_geom_t *vcore_arm64_s2_get_geom(const vcore_arm64_s2_t *s2)
{
    return vcore__s2_ok(s2) ? &s2->geom : NULL;
}

uint64_t vcore_arm64_s2_root_pa(const vcore_arm64_s2_t *s2)
{
    return vcore__s2_ok(s2) ? s2->root_pa : 0;
}

static void vcore__s2_walk_init(vcore__s2_walk_t *w, vcore_arm64_s2_t *s2, int mode)
{
    vcore__memset(w, 0, sizeof(*w));
    w->s2 = s2;
    w->g = &s2->geom;
    w->mode = mode;
    w->op = s2->op;
    w->start = s2->op_ipa;
    w->end = s2->op_ipa + s2->op_len;
    w->pa = s2->op_pa;
    w->prot = s2->op_prot;
}

/* Checks a range and reserves the tables a change needs. */
static int vcore__s2_prepare(vcore_arm64_s2_t *s2, uint32_t op, uint64_t ipa, uint64_t pa,
                             uint64_t len, uint32_t prot, vcore_diag_t *diag)
{
    if (!vcore__s2_ok(s2))
        return VCORE_ERR_INVAL;
    if (s2->op != VCORE__S2_OP_NONE)
        return VCORE_ERR_STATE;
    const vcore_arm64_s2_geom_t *g = &s2->geom;
    uint64_t gmask = (1ull << g->granule_shift) - 1u;
    if (len == 0 || ((ipa | len) & gmask) || (op == VCORE__S2_OP_MAP && (pa & gmask)))
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_MAP_ALIGN, (ipa | len | pa) & gmask);
    uint64_t ipa_limit = 1ull << g->ipa_bits;
    if (ipa >= ipa_limit || len > ipa_limit - ipa)
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_MAP_IPA_RANGE, ipa);
    if (op == VCORE__S2_OP_MAP) {
        uint64_t pa_limit = 1ull << g->pa_bits;
        if (pa >= pa_limit || len > pa_limit - pa)
            return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_MAP_OA_RANGE, pa);
        int rc = vcore__arm64_s2_prot_check(g, prot, diag);
        if (rc != VCORE_OK)
            return rc;
    }

    s2->op = op;
    s2->op_ipa = ipa;
    s2->op_pa = pa;
    s2->op_len = len;
    s2->op_prot = prot;
    vcore__s2_walk_t w;
    vcore__s2_walk_init(&w, s2, VCORE__S2_COUNT);
    vcore__s2_src_t root = {s2->root, 0};
    vcore__s2_walk(&w, &root, g->start_level, 0, true);

    while (s2->nreserve < w.need) {
        uint64_t *t;
        uint64_t tpa;
        if (vcore__arm64_s2_pool_get(&s2->pool, &t, &tpa) != VCORE_OK) {
            vcore_arm64_s2_cancel(s2);
            return VCORE_ERR_NOMEM;
        }
        vcore__memcpy(t, &s2->reserve, sizeof(void *));
        s2->reserve = t;
        s2->nreserve++;
    }
    return VCORE_OK;
}

int vcore_arm64_s2_prepare_map(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa, uint64_t len,
                               uint32_t prot, vcore_diag_t *diag)
{
    return vcore__s2_prepare(s2, VCORE__S2_OP_MAP, ipa, pa, len, prot, diag);
}

int vcore_arm64_s2_prepare_unmap(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t len,
                                 vcore_diag_t *diag)
{
    return vcore__s2_prepare(s2, VCORE__S2_OP_UNMAP, ipa, 0, len, 0, diag);
}

void vcore_arm64_s2_cancel(vcore_arm64_s2_t *s2)
{
    if (!vcore__s2_ok(s2))
        return;
    while (s2->reserve) {
        void *t = s2->reserve;
        vcore__memcpy(&s2->reserve, t, sizeof(void *));
        vcore__arm64_s2_pool_put(&s2->pool, t);
    }
    s2->nreserve = 0;
    s2->op = VCORE__S2_OP_NONE;
}

int vcore_arm64_s2_commit(vcore_arm64_s2_t *s2, vcore_arm64_s2_tlbi_t *done)
{
    if (!vcore__s2_ok(s2))
        return VCORE_ERR_INVAL;
    if (s2->op == VCORE__S2_OP_NONE)
        return VCORE_ERR_STATE;
    vcore__s2_walk_t w;
    vcore__s2_src_t root = {s2->root, 0};
    vcore__s2_walk_init(&w, s2, VCORE__S2_BREAK);
    vcore__s2_walk(&w, &root, s2->geom.start_level, 0, true);

    vcore_arm64_s2_tlbi_t req;
    vcore__memset(&req, 0, sizeof(req));
    if (w.tlbi) {
        req.scope = VCORE_ARM64_S2_TLBI_IPA;
        req.ipa = w.t_lo;
        req.len = w.t_hi - w.t_lo;
        req.stride = w.t_stride;
        if (req.len / req.stride > VCORE_ARM64_S2_TLBI_MAX_OPS) {
            req.scope = VCORE_ARM64_S2_TLBI_VMID;
            req.ipa = req.len = req.stride = 0;
        }
        s2->tlbi(s2->tlbi_ctx, &req);
    }
    if (w.need_make) {
        w.mode = VCORE__S2_MAKE;
        vcore__s2_walk(&w, &root, s2->geom.start_level, 0, true);
    }
    /* Prepare reserved exactly what BREAK took; anything left goes back. */
    vcore_arm64_s2_cancel(s2);
    if (done)
        *done = req;
    return VCORE_OK;
}

int vcore_arm64_s2_map(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t pa, uint64_t len,
                       uint32_t prot, vcore_arm64_s2_tlbi_t *done, vcore_diag_t *diag)
{
    int rc = vcore_arm64_s2_prepare_map(s2, ipa, pa, len, prot, diag);
    if (rc != VCORE_OK)
        return rc;
    return vcore_arm64_s2_commit(s2, done);
}

int vcore_arm64_s2_unmap(vcore_arm64_s2_t *s2, uint64_t ipa, uint64_t len,
                         vcore_arm64_s2_tlbi_t *done, vcore_diag_t *diag)
{
    int rc = vcore_arm64_s2_prepare_unmap(s2, ipa, len, diag);
    if (rc != VCORE_OK)
        return rc;
    return vcore_arm64_s2_commit(s2, done);
}

/* ------------------------------------------------------------------------- */

int vcore_arm64_s2_lookup(const vcore_arm64_s2_t *s2, uint64_t ipa, vcore_arm64_s2_lookup_t *out)
{
    if (!vcore__s2_ok(s2) || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    const vcore_arm64_s2_geom_t *g = &s2->geom;
    if (ipa >> g->ipa_bits)
        return VCORE_ERR_RANGE;
    vcore__memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    const uint64_t *t = s2->root;
    int32_t level = g->start_level;
    for (;;) {
        uint32_t shift = vcore__arm64_s2_level_shift(g, level);
        uint64_t idx = (ipa >> shift) & (vcore__s2_entries(g, level) - 1u);
        uint64_t d = t[idx];
        out->level = level;
        out->desc = d;
        out->leaf_ipa = ipa & ~((1ull << shift) - 1u);
        out->leaf_size = 1ull << shift;
        if (vcore__arm64_s2_is_leaf(d, level)) {
            out->mapped = true;
            out->pa = vcore_arm64_s2_desc_to_oa(g, d, level) + (ipa - out->leaf_ipa);
            out->prot = vcore__arm64_s2_leaf_prot(g, d);
            return VCORE_OK;
        }
        if (!vcore__arm64_s2_is_table(d, level))
            return VCORE_OK; /* translation fault at this level */
        t = vcore__s2_child(s2, d, level);
        if (!t)
            return VCORE_OK;
        level++;
    }
}

static void vcore__s2_count(const vcore_arm64_s2_t *s2, const uint64_t *t, int32_t level,
                            vcore_arm64_s2_stats_t *st)
{
    uint64_t n = vcore__s2_entries(&s2->geom, level);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t d = t[i];
        if (vcore__arm64_s2_is_table(d, level)) {
            st->table_entries[level + 1]++;
            const uint64_t *c = vcore__s2_child(s2, d, level);
            if (c) {
                st->tables++;
                vcore__s2_count(s2, c, level + 1, st);
            }
        } else if (vcore__arm64_s2_is_leaf(d, level)) {
            if (level == 3)
                st->page_entries++;
            else
                st->block_entries[level + 1]++;
        }
    }
}

int vcore_arm64_s2_stats(const vcore_arm64_s2_t *s2, vcore_arm64_s2_stats_t *out)
{
    if (!vcore__s2_ok(s2) || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    vcore__memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    out->tables = s2->geom.concat;
    vcore__s2_count(s2, s2->root, s2->geom.start_level, out);
    out->tables_in_use = s2->tables_in_use + s2->geom.concat;
    out->tables_free = s2->pool.nfree;
    out->table_bytes = out->tables << s2->geom.granule_shift;
    out->host_pages = s2->pool.host_pages;
    return VCORE_OK;
}
