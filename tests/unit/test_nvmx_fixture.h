/* Shared fixture for the nested-VMX tests: fake guest memory with an
 * identity map, a 64-bit L1 register state, and instruction builders. */
#ifndef VCORE_TEST_NVMX_FIXTURE_H
#define VCORE_TEST_NVMX_FIXTURE_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nvmx.h>
#include <virtcore/x86/vmcs.h>

#define FX_MEM_SIZE (2u << 20) /* 2 MiB of guest RAM at GPA 0 */
#define FX_PML4 0x1000u
#define FX_PDPT 0x2000u
#define FX_PD 0x3000u
#define FX_VMXON 0x10000u
#define FX_VMCS_A 0x11000u
#define FX_VMCS_B 0x12000u
#define FX_SHADOW 0x13000u
#define FX_BITMAP_R 0x14000u
#define FX_BITMAP_W 0x15000u
#define FX_DATA 0x20000u /* memory operands live here */

typedef struct fx {
    uint8_t *ram;
    vcore_nvmx_mem_t mem;
    uint8_t nvmx_store[3 * 4096 + 4096] __attribute__((aligned(16)));
    vcore_nvmx_t *n;
    vcore_nvmx_insn_t in;
    vcore_nvmx_result_t res;
    uint32_t reads, writes;
} fx_t;

static inline int fx_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    fx_t *f = ctx;
    f->reads++;
    if (gpa >= FX_MEM_SIZE || len > FX_MEM_SIZE - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, f->ram + gpa, len);
    return VCORE_OK;
}

static inline int fx_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    fx_t *f = ctx;
    f->writes++;
    if (gpa >= FX_MEM_SIZE || len > FX_MEM_SIZE - gpa)
        return VCORE_ERR_FAULT;
    memcpy(f->ram + gpa, buf, len);
    return VCORE_OK;
}

static inline uint64_t fx_get64(fx_t *f, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, f->ram + gpa, 8);
    return v;
}

static inline void fx_put64(fx_t *f, uint64_t gpa, uint64_t v)
{
    memcpy(f->ram + gpa, &v, 8);
}

static inline uint32_t fx_get32(fx_t *f, uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, f->ram + gpa, 4);
    return v;
}

static inline void fx_put32(fx_t *f, uint64_t gpa, uint32_t v)
{
    memcpy(f->ram + gpa, &v, 4);
}

/* Emulated capabilities, or Bochs-backed when bochs is true. */
static inline void fx_caps(vcore_nvmx_caps_t *c)
{
    c->size = sizeof(*c);
    ck_assert_int_eq(vcore_nvmx_caps_emulated(c), VCORE_OK);
}

/* Sets up RAM (identity map of 2 MiB with one large page), a 64-bit
 * CPL-0 register state and the nested state. */
static inline void fx_setup_caps_flags(fx_t *f, const vcore_nvmx_caps_t *caps, uint32_t flags)
{
    vcore_nvmx_config_t cfg;

    memset(f, 0, sizeof(*f));
    f->ram = calloc(1, FX_MEM_SIZE);
    ck_assert_ptr_nonnull(f->ram);
    fx_put64(f, FX_PML4, FX_PDPT | 0x3);
    fx_put64(f, FX_PDPT, FX_PD | 0x3);
    fx_put64(f, FX_PD, 0x0 | 0x83); /* 2 MiB page at 0, present, writable, supervisor */
    f->mem.size = sizeof(f->mem);
    f->mem.ctx = f;
    f->mem.read = fx_read;
    f->mem.write = fx_write;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.caps = *caps;
    cfg.maxphyaddr = 40;
    cfg.flags = flags;
    ck_assert_uint_le(vcore_nvmx_storage_size(), sizeof(f->nvmx_store));
    ck_assert_int_eq(vcore_nvmx_init(f->nvmx_store, sizeof(f->nvmx_store), &cfg, &f->n, NULL),
                     VCORE_OK);

    memset(&f->in, 0, sizeof(f->in));
    f->in.size = sizeof(f->in);
    f->in.regs.size = sizeof(f->in.regs);
    f->in.sregs.size = sizeof(f->in.sregs);
    f->in.regs.rip = 0x1000;
    f->in.regs.rflags = 0x2 | 0x8d5; /* all arithmetic flags set: outcomes must clear them */
    f->in.insn_len = 3;
    f->in.feature_control = 0x5;
    f->in.sregs.cr0 = 0x80050033ull; /* PG WP NE ET MP PE */
    f->in.sregs.cr3 = FX_PML4;
    f->in.sregs.cr4 = 0x2020;        /* VMXE PAE */
    f->in.sregs.efer = 0xd00;        /* NXE LMA LME */
    for (int i = 0; i < 8; i++) {
        f->in.sregs.seg[i].ar = 0x93 | (1u << 15); /* data RW accessed, present */
        f->in.sregs.seg[i].limit = 0xffffffffu;
    }
    f->in.sregs.seg[VCORE_X86_CS].ar = 0x9b | VCORE_X86_AR_L | VCORE_X86_AR_G;
    f->res.size = sizeof(f->res);
}

static inline void fx_setup_caps(fx_t *f, const vcore_nvmx_caps_t *caps)
{
    fx_setup_caps_flags(f, caps, 0);
}

static inline void fx_setup(fx_t *f)
{
    vcore_nvmx_caps_t c;
    fx_caps(&c);
    fx_setup_caps(f, &c);
}

static inline void fx_teardown(fx_t *f)
{
    free(f->ram);
    f->ram = NULL;
}

/* Instruction information for a memory operand [base + disp] through seg. */
static inline uint32_t fx_ii_mem(uint32_t seg, uint32_t base, uint32_t asize)
{
    return (asize << 7) | (seg << 15) | (1u << 22) | (base << 23);
}

/* Runs op with a memory operand at FX_DATA (RBX = base, disp 0). */
static inline int fx_run(fx_t *f, uint32_t op)
{
    f->in.op = op;
    memset(&f->res, 0, sizeof(f->res));
    f->res.size = sizeof(f->res);
    return vcore_nvmx_emulate(f->n, &f->mem, &f->in, &f->res);
}

static inline int fx_run_mem(fx_t *f, uint32_t op, uint64_t operand_value)
{
    fx_put64(f, FX_DATA, operand_value);
    f->in.insn_info = fx_ii_mem(VCORE_X86_DS, VCORE_X86_RBX, 2);
    f->in.qualification = 0;
    f->in.regs.gpr[VCORE_X86_RBX] = FX_DATA;
    return fx_run(f, op);
}

/* Writes a VMCS region header (revision id) in guest memory. */
static inline void fx_region(fx_t *f, uint64_t gpa, uint32_t rev)
{
    memset(f->ram + gpa, 0, 4096);
    fx_put32(f, gpa, rev);
}

/* VMXON at FX_VMXON, then VMCLEAR+VMPTRLD of FX_VMCS_A. */
static inline void fx_vmxon(fx_t *f)
{
    fx_region(f, FX_VMXON, VCORE_VMCS12_REVISION);
    ck_assert_int_eq(fx_run_mem(f, VCORE_NVMX_VMXON, FX_VMXON), VCORE_OK);
    ck_assert_uint_eq(f->res.outcome, VCORE_NVMX_OUT_SUCCEED);
}

static inline void fx_vmptrld(fx_t *f, uint64_t gpa)
{
    ck_assert_int_eq(fx_run_mem(f, VCORE_NVMX_VMPTRLD, gpa), VCORE_OK);
    ck_assert_msg(f->res.outcome == VCORE_NVMX_OUT_SUCCEED, "vmptrld outcome %u diag %#x",
                  f->res.outcome, f->res.diag);
}

static inline void fx_current(fx_t *f)
{
    fx_vmxon(f);
    fx_region(f, FX_VMCS_A, VCORE_VMCS12_REVISION);
    fx_vmptrld(f, FX_VMCS_A);
}

/* VMWRITE/VMREAD with register operands: encoding in RCX, value in RDX. */
static inline int fx_vmwrite(fx_t *f, uint64_t enc, uint64_t value)
{
    f->in.insn_info = (1u << 10) | (VCORE_X86_RDX << 3) | (VCORE_X86_RCX << 28) | (2u << 7);
    f->in.regs.gpr[VCORE_X86_RCX] = enc;
    f->in.regs.gpr[VCORE_X86_RDX] = value;
    return fx_run(f, VCORE_NVMX_VMWRITE);
}

static inline int fx_vmread(fx_t *f, uint64_t enc)
{
    f->in.insn_info = (1u << 10) | (VCORE_X86_RDX << 3) | (VCORE_X86_RCX << 28) | (2u << 7);
    f->in.regs.gpr[VCORE_X86_RCX] = enc;
    return fx_run(f, VCORE_NVMX_VMREAD);
}

#define ck_outcome(f, o, d)                                                    \
    ck_assert_msg((f)->res.outcome == (uint32_t)(o) && (f)->res.diag == (uint32_t)(d), \
                  "outcome %u diag %#x, expected %u %#x", (f)->res.outcome, (f)->res.diag, \
                  (unsigned)(o), (unsigned)(d))

#define ck_exception(f, vec, ec, d)                                            \
    do {                                                                       \
        ck_outcome(f, VCORE_NVMX_OUT_EXCEPTION, d);                            \
        ck_assert_uint_eq((f)->res.vector, (vec));                             \
        ck_assert_uint_eq((f)->res.error_code, (ec));                          \
    } while (0)

#define ck_failvalid(f, err, d)                                                \
    do {                                                                       \
        ck_outcome(f, VCORE_NVMX_OUT_FAIL_VALID, d);                           \
        ck_assert_uint_eq((f)->res.vm_error, (err));                           \
        ck_assert_uint_eq((f)->res.rflags & 0x8d5u, 0x40u); /* ZF only */      \
        ck_assert_uint_eq((f)->res.rip, (f)->in.regs.rip + (f)->in.insn_len);  \
    } while (0)

#define ck_failinvalid(f, d)                                                   \
    do {                                                                       \
        ck_outcome(f, VCORE_NVMX_OUT_FAIL_INVALID, d);                         \
        ck_assert_uint_eq((f)->res.rflags & 0x8d5u, 0x1u); /* CF only */       \
    } while (0)

#define ck_succeed(f)                                                          \
    do {                                                                       \
        ck_outcome(f, VCORE_NVMX_OUT_SUCCEED, 0);                              \
        ck_assert_uint_eq((f)->res.rflags & 0x8d5u, 0u);                       \
        ck_assert_uint_eq((f)->res.rip, (f)->in.regs.rip + (f)->in.insn_len);  \
    } while (0)

#endif
