/*
 * vmcs_bench.c - nanoseconds per emulated VMREAD / VMWRITE and per shadow
 * sync, against a linear-search baseline in the same binary.
 *
 * The baseline resolves encodings the way a table without an index would:
 * a scan over {encoding, offset, bytes} rows built from the public
 * metadata API. Prints numbers only; never fails on time.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nvmx.h>
#include <virtcore/x86/vmcs.h>

#define ITERS 2000000u

typedef struct row {
    uint32_t enc, offset, bytes, high;
} row_t;

static row_t rows[512];
static uint32_t nrows;
static uint8_t ram[64 * 1024];
static uint8_t store[5 * 4096] __attribute__((aligned(16)));
static volatile uint64_t sink;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= sizeof(ram) || len > sizeof(ram) - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, ram + gpa, len);
    return VCORE_OK;
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= sizeof(ram) || len > sizeof(ram) - gpa)
        return VCORE_ERR_FAULT;
    memcpy(ram + gpa, buf, len);
    return VCORE_OK;
}

/* Linear-search baseline of a raw vmcs12 read. */
static uint64_t linear_get(const uint8_t *page, uint32_t enc)
{
    for (uint32_t i = 0; i < nrows; i++) {
        if (rows[i].enc == enc) {
            uint64_t v = 0;
            memcpy(&v, page + rows[i].offset, rows[i].bytes);
            return rows[i].high ? v >> 32 : v;
        }
    }
    return ~0ull;
}

static int nop_write(void *ctx, uint32_t enc, uint64_t v)
{
    (void)ctx;
    sink += enc ^ v;
    return VCORE_OK;
}

static int nop_read(void *ctx, uint32_t enc, uint64_t *v)
{
    (void)ctx;
    *v = enc;
    return VCORE_OK;
}

int main(void)
{
    static uint8_t page[4096], bm_r[4096], bm_w[4096];
    uint32_t encs[64];
    uint32_t nenc = 0, n = vcore_vmcs_field_count();
    vcore_nvmx_config_t cfg;
    vcore_nvmx_t *nv = NULL;
    vcore_nvmx_insn_t in;
    vcore_nvmx_result_t res;
    vcore_nvmx_mem_t mem = {sizeof(mem), NULL, mem_read, mem_write};
    double t0, t_o1, t_lin, t_rd, t_wr, t_sto, t_sfrom, t_sync_lin;
    uint32_t nrw, nro;
    const uint32_t *rw, *ro;

    for (uint32_t i = 0; i < n; i++) {
        vcore_vmcs_field_info_t a = {.size = sizeof(a)};
        if (vcore_vmcs_field_at(i, &a) != VCORE_OK)
            abort();
        rows[nrows++] = (row_t){a.encoding, a.offset, a.bytes, (a.flags & VCORE_VMCS_FIELD_F_HIGH) != 0};
    }
    /* a spread of encodings across the table (early, middle, late rows) */
    for (uint32_t i = 0; i < n && nenc < 64; i += n / 64 + 1)
        encs[nenc++] = rows[i].enc;

    /* raw lookup: O(1) index vs linear scan */
    t0 = now_ns();
    for (uint32_t i = 0; i < ITERS; i++) {
        uint64_t v;
        if (vcore_vmcs12_get(page, encs[i % nenc], &v) != VCORE_OK)
            abort();
        sink += v;
    }
    t_o1 = (now_ns() - t0) / ITERS;
    t0 = now_ns();
    for (uint32_t i = 0; i < ITERS; i++)
        sink += linear_get(page, encs[i % nenc]);
    t_lin = (now_ns() - t0) / ITERS;

    /* emulated VMREAD / VMWRITE (register operands, 64-bit L1) */
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.caps.size = sizeof(cfg.caps);
    if (vcore_nvmx_caps_emulated(&cfg.caps) != VCORE_OK)
        abort();
    cfg.maxphyaddr = 40;
    if (vcore_nvmx_init(store, sizeof(store), &cfg, &nv, NULL) != VCORE_OK)
        return 1;
    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.regs.size = sizeof(in.regs);
    in.sregs.size = sizeof(in.sregs);
    in.feature_control = 5;
    in.insn_len = 3;
    in.regs.rflags = 2;
    in.sregs.cr0 = 0x80050033ull;
    in.sregs.cr3 = 0x1000;
    in.sregs.cr4 = 0x2020;
    in.sregs.efer = 0xd00;
    for (int i = 0; i < 8; i++) {
        in.sregs.seg[i].ar = 0xc093;
        in.sregs.seg[i].limit = 0xffffffffu;
    }
    in.sregs.seg[VCORE_X86_CS].ar = 0xa09b;
    {
        uint64_t e;
        uint32_t rev = VCORE_VMCS12_REVISION;
        e = 0x2003; memcpy(ram + 0x1000, &e, 8);
        e = 0x3003; memcpy(ram + 0x2000, &e, 8);
        e = 0x83;   memcpy(ram + 0x3000, &e, 8);
        memcpy(ram + 0x8000, &rev, 4);
        memcpy(ram + 0x9000, &rev, 4);
        res.size = sizeof(res);
        in.insn_info = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23);
        in.regs.gpr[VCORE_X86_RBX] = 0xa000;
        e = 0x8000; memcpy(ram + 0xa000, &e, 8);
        in.op = VCORE_NVMX_VMXON;
        if (vcore_nvmx_emulate(nv, &mem, &in, &res) != VCORE_OK)
            abort();
        e = 0x9000; memcpy(ram + 0xa000, &e, 8);
        in.op = VCORE_NVMX_VMPTRLD;
        if (vcore_nvmx_emulate(nv, &mem, &in, &res) != VCORE_OK)
            abort();
        if (res.outcome != VCORE_NVMX_OUT_SUCCEED)
            return 1;
    }
    in.insn_info = (1u << 10) | (VCORE_X86_RDX << 3) | (2u << 7) | (VCORE_X86_RCX << 28);
    in.op = VCORE_NVMX_VMREAD;
    t0 = now_ns();
    for (uint32_t i = 0; i < ITERS; i++) {
        in.regs.gpr[VCORE_X86_RCX] = encs[i % nenc];
        if (vcore_nvmx_emulate(nv, &mem, &in, &res) != VCORE_OK)
            abort();
        sink += res.gpr_value;
    }
    t_rd = (now_ns() - t0) / ITERS;
    in.op = VCORE_NVMX_VMWRITE;
    t0 = now_ns();
    for (uint32_t i = 0; i < ITERS; i++) {
        in.regs.gpr[VCORE_X86_RCX] = encs[i % nenc];
        in.regs.gpr[VCORE_X86_RDX] = i;
        if (vcore_nvmx_emulate(nv, &mem, &in, &res) != VCORE_OK)
            abort();
        sink += res.outcome;
    }
    t_wr = (now_ns() - t0) / ITERS;

    /* shadow sync: precomputed offsets vs per-field linear lookup */
    if (vcore_nvmx_shadow_bitmaps(&cfg.caps, bm_r, bm_w) != VCORE_OK)
        abort();
    rw = vcore_nvmx_shadow_fields(false, &nrw);
    ro = vcore_nvmx_shadow_fields(true, &nro);
    t0 = now_ns();
    for (uint32_t i = 0; i < ITERS / 20; i++)
        if (vcore_nvmx_shadow_sync_to(nv, bm_r, nop_write, NULL) != VCORE_OK)
            abort();
    t_sto = (now_ns() - t0) / (ITERS / 20);
    t0 = now_ns();
    for (uint32_t i = 0; i < ITERS / 20; i++)
        if (vcore_nvmx_shadow_sync_from(nv, bm_w, nop_read, NULL) != VCORE_OK)
            abort();
    t_sfrom = (now_ns() - t0) / (ITERS / 20);
    t0 = now_ns();
    for (uint32_t i = 0; i < ITERS / 20; i++) {
        const uint8_t *pg = vcore_nvmx_vmcs12(nv);
        for (uint32_t k = 0; k < nrw; k++)
            nop_write(NULL, rw[k], linear_get(pg, rw[k]));
        for (uint32_t k = 0; k < nro; k++)
            nop_write(NULL, ro[k], linear_get(pg, ro[k]));
    }
    t_sync_lin = (now_ns() - t0) / (ITERS / 20);

    printf("vmcs_bench: %u table rows, %u encodings in the mix, %u iterations\n", n, nenc, ITERS);
    printf("  field read, O(1) index            %8.2f ns/op\n", t_o1);
    printf("  field read, linear search         %8.2f ns/op   (linear/O(1) = %.1fx)\n", t_lin,
           t_lin / t_o1);
    printf("  emulated VMREAD  (reg, 64-bit)    %8.2f ns/op   (est. with linear search %.2f, %.2fx)\n",
           t_rd, t_rd - t_o1 + t_lin, (t_rd - t_o1 + t_lin) / t_rd);
    printf("  emulated VMWRITE (reg, 64-bit)    %8.2f ns/op   (est. with linear search %.2f, %.2fx)\n",
           t_wr, t_wr - t_o1 + t_lin, (t_wr - t_o1 + t_lin) / t_wr);
    printf("  shadow sync vmcs12->shadow (35)   %8.2f ns/sync\n", t_sto);
    printf("  shadow sync shadow->vmcs12 (24)   %8.2f ns/sync\n", t_sfrom);
    printf("  sync 36 fields, linear lookups    %8.2f ns/sync  (linear/precomputed = %.1fx)\n",
           t_sync_lin, t_sync_lin / t_sto);
    return 0;
}
