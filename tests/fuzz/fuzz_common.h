/* Shared pieces of the nested-VMX fuzz targets: a byte reader over the
 * fuzzer input, and a fake guest memory that never crashes. */
#ifndef VCORE_FUZZ_COMMON_H
#define VCORE_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/error.h>
#include <virtcore/x86/nvmx.h>

#define FZ_RAM (64u * 1024u)

typedef struct fz_in {
    const uint8_t *d;
    size_t n, off;
} fz_in_t;

static uint64_t fz_take(fz_in_t *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)(in->off < in->n ? in->d[in->off++] : 0) << (8 * i);
    return v;
}

static uint8_t fz_ram[FZ_RAM];

static int fz_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= FZ_RAM || len > FZ_RAM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, fz_ram + gpa, len);
    return VCORE_OK;
}

static int fz_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= FZ_RAM || len > FZ_RAM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(fz_ram + gpa, buf, len);
    return VCORE_OK;
}

static uint8_t fz_store[5 * 4096] __attribute__((aligned(16)));

/* A nested state with the emulated capabilities. */
static vcore_nvmx_t *fz_nvmx(uint32_t maxphy)
{
    vcore_nvmx_config_t cfg;
    vcore_nvmx_t *n = NULL;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.caps.size = sizeof(cfg.caps);
    if (vcore_nvmx_caps_emulated(&cfg.caps) != VCORE_OK)
        abort();
    cfg.maxphyaddr = maxphy;
    if (vcore_nvmx_storage_size() > sizeof(fz_store) ||
        vcore_nvmx_init(fz_store, sizeof(fz_store), &cfg, &n, NULL) != VCORE_OK)
        abort();
    return n;
}

/* 64-bit CPL-0 L1 state with the first 2 MiB identity-mapped (tables at
 * 0x1000..0x3fff of the fake RAM). */
static void fz_l1(vcore_nvmx_insn_t *in)
{
    uint64_t e;
    memset(in, 0, sizeof(*in));
    in->size = sizeof(*in);
    in->regs.size = sizeof(in->regs);
    in->sregs.size = sizeof(in->sregs);
    in->insn_len = 3;
    in->feature_control = 5;
    in->regs.rflags = 2;
    in->sregs.cr0 = 0x80050033ull;
    in->sregs.cr3 = 0x1000;
    in->sregs.cr4 = 0x2020;
    in->sregs.efer = 0xd00;
    for (int i = 0; i < 8; i++) {
        in->sregs.seg[i].ar = 0xc093;
        in->sregs.seg[i].limit = 0xffffffffu;
    }
    in->sregs.seg[1].ar = 0xa09b;
    e = 0x2003; memcpy(fz_ram + 0x1000, &e, 8);
    e = 0x3003; memcpy(fz_ram + 0x2000, &e, 8);
    e = 0x83;   memcpy(fz_ram + 0x3000, &e, 8);
}

#endif
