/*
 * arm64.h - internal interface of the AArch64 core (src/core/arm64): the vCPU
 * register model and stage 2.
 *
 * Pure functions over state: nothing here executes a system instruction or
 * allocates except through the host services a table was given.
 */
#ifndef VCORE_CORE_ARM64_H
#define VCORE_CORE_ARM64_H

#include "../deps.h"
#include "arm64_bits.h"
#include "virtcore/arm64/ipa.h"
#include "virtcore/arm64/regs.h"
#include "virtcore/arm64/stage2.h"
#include "virtcore/diag.h"
#include "virtcore/error.h"
#include "../diag_set.h"

/* ---- regs.c: the vCPU register model ---- */
/* The reset state of an AArch64 vCPU entering at EL1. */
void vcore__arm64_reset(vcore_arm64_state_t *st);
/* Register checks: VCORE_OK or VCORE_ERR_INVAL with a diagnostic. */
int vcore__arm64_check_regs(const vcore_arm64_regs_t *r, vcore_diag_t *d);
int vcore__arm64_check_sysregs(const vcore_arm64_sysregs_t *s, vcore_diag_t *d);

/* ipa.c: checks an IPA size against a host limit (0 = the 40-bit default). */
int vcore__arm64_ipa_check(uint32_t bits, uint32_t host_limit, uint32_t *effective);

/* ---- s2_geometry.c ---- */
/* Bits of the IPA one entry at `level` maps (its block/page size is 1 << this). */
uint32_t vcore__arm64_s2_level_shift(const vcore_arm64_s2_geom_t *g, int32_t level);
/* Whether a leaf at `level` can be a block (level 3 is always a page). */
bool vcore__arm64_s2_block_ok(const vcore_arm64_s2_geom_t *g, int32_t level);

/* ---- s2_pool.c: per-table page pool ---- */
#define VCORE__ARM64_S2_POOL_CHUNKS 40u
#define VCORE__ARM64_S2_POOL_MAX_CHUNK 256u /* tables */

typedef struct vcore__arm64_s2_chunk {
    uint8_t *host_va;  /* what alloc_pages returned (for free_pages) */
    uint64_t pa;       /* physical address of the first table */
    uint8_t *va;       /* first table (granule aligned) */
    uint32_t pages;    /* 4 KiB pages drawn from the host */
    uint32_t tables;   /* tables carved from the chunk */
} vcore__arm64_s2_chunk_t;

typedef struct vcore__arm64_s2_pool {
    vcore_host_t host;         /* copy of the host services */
    uint32_t table_bytes;      /* granule size */
    uint32_t next_tables;      /* tables of the next chunk */
    uint32_t nchunks;
    vcore__arm64_s2_chunk_t chunk[VCORE__ARM64_S2_POOL_CHUNKS]; /* sorted by pa */
    void *free_list;           /* free tables, linked through their first word */
    uint64_t nfree;            /* tables on the free list */
    uint64_t ntotal;           /* tables carved from chunks */
    uint64_t host_pages;       /* pages drawn from the host */
} vcore__arm64_s2_pool_t;

void vcore__arm64_s2_pool_init(vcore__arm64_s2_pool_t *p, const vcore_host_t *host,
                               uint32_t table_bytes, uint32_t first_chunk_tables);
/* Draws `bytes` contiguous bytes aligned to `align` as its own chunk (the root). */
int vcore__arm64_s2_pool_alloc_block(vcore__arm64_s2_pool_t *p, uint64_t bytes, uint64_t align,
                                     uint8_t **va, uint64_t *pa);
/* Takes one zeroed table (growing the pool from the host when empty). */
int vcore__arm64_s2_pool_get(vcore__arm64_s2_pool_t *p, uint64_t **va, uint64_t *pa);
/* Gives a table back (its contents are overwritten). */
void vcore__arm64_s2_pool_put(vcore__arm64_s2_pool_t *p, void *va);
/* Physical address of a pool table from its virtual address (0 if not the pool's). */
uint64_t vcore__arm64_s2_pool_pa(const vcore__arm64_s2_pool_t *p, const void *va);
/* Virtual address of a pool table from its physical address; NULL if not the pool's. */
uint64_t *vcore__arm64_s2_pool_va(const vcore__arm64_s2_pool_t *p, uint64_t pa);
void vcore__arm64_s2_pool_fini(vcore__arm64_s2_pool_t *p);

/* ---- s2_desc.c: descriptor composition ---- */
/* Checks prot against the geometry; VCORE_OK or VCORE_ERR_INVAL + diag. */
int vcore__arm64_s2_prot_check(const vcore_arm64_s2_geom_t *g, uint32_t prot, vcore_diag_t *d);
/* Leaf (block or page) descriptor for `oa` at `level` with `prot`. */
uint64_t vcore__arm64_s2_leaf(const vcore_arm64_s2_geom_t *g, int32_t level, uint64_t oa,
                              uint32_t prot);
/* Table descriptor pointing at the table at `pa`. */
uint64_t vcore__arm64_s2_table_desc(const vcore_arm64_s2_geom_t *g, uint64_t pa);
/* VCORE_ARM64_S2_* permissions and attributes a leaf descriptor grants. */
uint32_t vcore__arm64_s2_leaf_prot(const vcore_arm64_s2_geom_t *g, uint64_t desc);
/* Whether a valid descriptor at `level` points to a table. */
static inline bool vcore__arm64_s2_is_table(uint64_t desc, int32_t level)
{
    return level < 3 && (desc & (VCORE__S2D_VALID | VCORE__S2D_TABLE)) ==
                            (VCORE__S2D_VALID | VCORE__S2D_TABLE);
}
/* Whether a descriptor at `level` is a valid block or page. */
static inline bool vcore__arm64_s2_is_leaf(uint64_t desc, int32_t level)
{
    if (!(desc & VCORE__S2D_VALID))
        return false;
    /* Level 3: bits[1:0] = 0b01 is reserved (treated as invalid). */
    return level == 3 ? (desc & VCORE__S2D_TABLE) != 0 : (desc & VCORE__S2D_TABLE) == 0;
}

/* ---- s2_table.c ---- */
typedef enum vcore__arm64_s2_opkind {
    VCORE__S2_OP_NONE = 0,
    VCORE__S2_OP_MAP = 1,
    VCORE__S2_OP_UNMAP = 2
} vcore__arm64_s2_opkind_t;

struct vcore_arm64_s2 {
    uint32_t magic;
    vcore_arm64_s2_geom_t geom;
    vcore__arm64_s2_pool_t pool;
    vcore_arm64_s2_tlbi_fn tlbi;
    void *tlbi_ctx;
    uint64_t *root;            /* concatenated start-level tables (virtual) */
    uint64_t root_pa;
    uint64_t root_bytes;
    uint64_t tables_in_use;    /* pool tables linked into the tree (root excluded) */
    /* The prepared change (one at a time). */
    uint32_t op;               /* vcore__arm64_s2_opkind_t */
    uint32_t op_prot;
    uint64_t op_ipa, op_pa, op_len;
    void *reserve;             /* reserved tables, linked through their first word */
    uint64_t nreserve;
};

#define VCORE__ARM64_S2_MAGIC 0x53324136u /* "6A2S" */

/* Atomic single-copy store of a descriptor, ordered after every earlier store
 * (a table's contents are written before the entry that links it). */
static inline void vcore__arm64_s2_store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

#endif /* VCORE_CORE_ARM64_H */
