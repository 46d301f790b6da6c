/*
 * fuzz_ept02.c - the shadow EPT builder against hostile ept12 bytes: the
 * input writes L1's EPT entries (anywhere in four table pages, any value:
 * loops, reserved bits, addresses outside L1 memory) and drives faults of
 * any access, INVEPTs and EPTP changes over a small pool. After every step:
 * no crash; a FIXED fault is a translation ept12 really grants, and ept02
 * then maps the L2 address to L0's page of that L1 address with no right
 * ept12 and L0 do not both grant; an empty pool never leaves half a table
 * (the same fault succeeds once everything is dropped); pages are never
 * lost (all free after an all-context INVEPT).
 */
#include <virtcore/x86/nvmx_ept02.h>
#include <virtcore/x86/nvmx_pipeline.h>

#include "fuzz_common.h"

#define NPAGES 8u
#define HOST_OFF 0x100000000ull
static uint8_t pool[NPAGES][4096] __attribute__((aligned(4096)));
static uint8_t store[16384] __attribute__((aligned(16)));
static uint64_t l0_size;

static void on_flush(void *ctx, uint64_t eptp02)
{
    (void)ctx;
    (void)eptp02;
}

/* L0: L1 memory below 1 GiB, except a hole at 512 MiB; read-only above 256 MiB. */
static int l0_view(void *ctx, uint64_t gpa, vcore_nvmx_ept02_l0_t *out)
{
    (void)ctx;
    if (gpa >= (1ull << 30) || (gpa >= (512ull << 20) && gpa < (514ull << 20))) {
        out->mapped = false;
        return VCORE_OK;
    }
    out->mapped = true;
    out->perms = gpa >= (256ull << 20) ? 5u : 7u;
    out->memtype = 6;
    out->page_size = l0_size;
    out->hpa = (HOST_OFF + gpa) & ~(l0_size - 1u);
    return VCORE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t in = {data, size, 0};
    vcore_nvmx_mem_t mem = {.size = sizeof(mem), .read = fz_read, .write = fz_write};
    vcore_nvmx_ept02_page_t pages[NPAGES];
    for (uint32_t i = 0; i < NPAGES; i++) {
        pages[i].va = pool[i];
        pages[i].pa = 0x7f000000ull + i * 4096ull;
    }
    vcore_nvmx_ept02_config_t cfg = {.size = sizeof(cfg), .pages = pages, .npages = NPAGES, .flush = on_flush};
    vcore_nvmx_ept02_t *ep;
    if (vcore_nvmx_ept02_init(store, sizeof(store), &cfg, &ep) != VCORE_OK)
        abort();
    memset(fz_ram, 0, sizeof(fz_ram));
    l0_size = 4096;
    uint64_t eptp = 0x1000u | 6u | (3u << 3);
    while (in.off < in.n) {
        uint32_t op = (uint32_t)fz_take(&in, 1);
        switch (op % 5) {
        case 0: { /* an entry of a table page (0x1000..0x4fff) */
            uint64_t where = 0x1000u + (fz_take(&in, 2) & 0x3ff8u);
            uint64_t v = fz_take(&in, 8);
            memcpy(fz_ram + where, &v, 8);
            break;
        }
        case 1: { /* a fault */
            uint64_t l2 = fz_take(&in, 6) & ((1ull << 48) - 1);
            uint64_t qual = fz_take(&in, 2);
            if (!(qual & 7u))
                qual |= 1u;
            vcore_nvmx_ept02_fault_t f = {.size = sizeof(f), .eptp12 = eptp, .l2_gpa = l2, .hw_qualification = qual,
                                          .maxphyaddr = 36, .advanced_info = (op & 0x80) != 0,
                                          /* as the reference walk: execute-only and 1-GByte pages offered */
                                          .l1_mem = &mem, .l0 = l0_view};
            vcore_nvmx_ept02_result_t r = {.size = sizeof(r)};
            /* The reference: L1's walk alone, on a copy of memory (it sets A/D flags). */
            static uint8_t saved[FZ_RAM];
            memcpy(saved, fz_ram, sizeof(saved));
            vcore_nvmx_ept_walk_t w = {.size = sizeof(w)};
            if (vcore_nvmx_ept_translate(&mem, eptp, 36, l2, (uint32_t)(qual & 7u), &w) != VCORE_OK)
                abort();
            memcpy(fz_ram, saved, sizeof(saved));
            int err = vcore_nvmx_ept02_handle(ep, &f, &r);
            if (err == VCORE_ERR_NOMEM) {
                if (memcmp(saved, fz_ram, sizeof(saved)) != 0)
                    abort(); /* a refused fault wrote L1's flags */
                if (vcore_nvmx_ept02_invalidate(ep, 2, 0) != VCORE_OK)
                    abort();
                err = vcore_nvmx_ept02_handle(ep, &f, &r);
            }
            if (err != VCORE_OK)
                abort(); /* 4 levels fit an empty pool of 8 */
            uint32_t want = w.kind == VCORE_NVMX_EPT_OK ? VCORE_NVMX_EPT02_FIXED
                            : w.kind == VCORE_NVMX_EPT_VIOLATION ? VCORE_NVMX_EPT02_L1_VIOLATION
                                                                 : VCORE_NVMX_EPT02_L1_MISCONFIG;
            if (r.kind == VCORE_NVMX_EPT02_L0_MMIO && w.kind == VCORE_NVMX_EPT_OK)
                want = VCORE_NVMX_EPT02_L0_MMIO;
            if (r.kind != want)
                abort();
            if (r.kind == VCORE_NVMX_EPT02_L1_VIOLATION && (r.qualification & 0x3fu) != (w.qualification & 0x3fu))
                abort();
            if (r.kind == VCORE_NVMX_EPT02_FIXED) {
                vcore_nvmx_ept02_lookup_t l = {.size = sizeof(l)};
                if (vcore_nvmx_ept02_lookup(ep, eptp, l2, &l) != VCORE_OK || !l.present)
                    abort();
                if (l.hpa != HOST_OFF + w.gpa || r.l1_gpa != w.gpa)
                    abort();
                uint32_t l1perm = (uint32_t)((w.qualification >> 3) & 7u);
                uint32_t l0perm = w.gpa >= (256ull << 20) ? 5u : 7u;
                if (l.perms & ~(l1perm & l0perm))
                    abort();
                if (l.page_size > l0_size)
                    abort();
            }
            break;
        }
        case 2: { /* INVEPT */
            uint32_t type = (op >> 3) & 3u;
            int err = vcore_nvmx_ept02_invalidate(ep, type, fz_take(&in, 8));
            if ((type == 1 || type == 2) != (err == VCORE_OK))
                abort();
            if (type == 2) {
                vcore_nvmx_ept02_stats_t s = {.size = sizeof(s)};
                if (vcore_nvmx_ept02_stats(ep, &s) != VCORE_OK || s.pages_free != NPAGES || s.contexts)
                    abort();
            }
            break;
        }
        case 3: /* another EPTP of L1 (table pages 1..4, A/D on or off) */
            eptp = (0x1000u * (1u + ((op >> 3) & 3u))) | 6u | (3u << 3) | ((op & 0x80) ? 0x40u : 0u);
            break;
        default: /* L0's page size */
            l0_size = (op & 0x20) ? (2ull << 20) : (op & 0x40) ? (1ull << 30) : 4096u;
            break;
        }
    }
    return 0;
}
