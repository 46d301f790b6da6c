/*
 * test_arm64_backend.c - the arm64 (EL2) backend's pure C against the strict
 * fake of its primitives (arm64_fake.c), through the public API.
 *
 * Expected values come from the Arm ARM (DDI 0487): ESR_EL2 encodings
 * ("ISS encoding for an exception from HVC or SVC / SMC / WFI or WFE / MSR,
 * MRS or System instruction / a Data Abort"), "Preferred exception return
 * address" (a trapped SMC and trapped WFx return to the instruction itself,
 * HVC to the next one), "Exception vectors" (offsets 0x000 / 0x200 / 0x400
 * from VBAR_EL1), "AArch64.TakeException" (SPSR_EL1, ELR_EL1, PSTATE),
 * VTCR_EL2 / VTTBR_EL2 / HCR_EL2 / VMPIDR_EL2 fields, PSCI (DEN0022)
 * function identifiers SYSTEM_OFF 0x84000008, SYSTEM_RESET 0x84000009,
 * SYSTEM_RESET2 0x84000012 / 0xC4000012.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm64_fake.h"
#include "support.h"
#include <virtcore/arm64/el2.h>

extern const vcore_backend_t vcore__backend_arm64_ops;

/* ---- host: physical address = virtual address ---- */
static long pages_out;

static void *h_alloc(void *ctx, size_t len)
{
    (void)ctx;
    return calloc(1, len);
}

static void h_free(void *ctx, void *p, size_t len)
{
    (void)ctx;
    (void)len;
    free(p);
}

static void *h_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    (void)ctx;
    void *p = NULL;
    if (posix_memalign(&p, 4096, count * 4096) != 0)
        return NULL;
    memset(p, 0x5a, count * 4096); /* the library must not rely on zeroed pages */
    *phys = (uint64_t)(uintptr_t)p;
    pages_out += (long)count;
    return p;
}

static void h_free_pages(void *ctx, void *va, size_t count)
{
    (void)ctx;
    pages_out -= (long)count;
    free(va);
}

/* Host addresses from v2p_skew_from on translate 4 KiB higher (memory that
 * is not physically contiguous); 0 = identity everywhere. */
static uintptr_t v2p_skew_from;

static uint64_t h_v2p(void *ctx, const void *va)
{
    (void)ctx;
    uintptr_t a = (uintptr_t)va;
    return (uint64_t)a + (v2p_skew_from && a >= v2p_skew_from ? 4096u : 0u);
}

static vcore_host_t host = {
    .size = sizeof(vcore_host_t),
    .alloc = h_alloc,
    .free = h_free,
    .alloc_pages = h_alloc_pages,
    .free_pages = h_free_pages,
    .virt_to_phys = h_v2p,
};

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;

static int make_vm(uint32_t ipa, uint32_t granule, vcore_vm_t **out)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_arm64_ops;
    cfg.host = &host;
    cfg.arch = VCORE_ARCH_ARM64;
    cfg.max_vcpus = 4;
    cfg.ipa_bits = ipa;
    cfg.granule = granule;
    return vcore_vm_create(&cfg, out);
}

static void up(void)
{
    arm64_fake_reset();
    pages_out = 0;
    v2p_skew_from = 0;
    ck_assert_int_eq(make_vm(40, 0, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
}

static void down(void)
{
    if (vm)
        vcore_vm_destroy(vm);
    vm = NULL;
    ck_assert_int_eq(pages_out, 0);
}

/* Guest memory: `len` bytes aligned to `align`. */
static void *guest_mem(size_t len, size_t align)
{
    void *p = NULL;
    ck_assert_int_eq(posix_memalign(&p, align, len), 0);
    memset(p, 0, len);
    return p;
}

static void map(uint64_t gpa, void *hva, uint64_t len, uint32_t flags)
{
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = gpa, .len = len, .hva = hva, .flags = flags};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
}

static vcore_arm64_regs_t get_regs(void)
{
    vcore_arm64_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_OK);
    return r;
}

static void set_pc(uint64_t pc)
{
    vcore_arm64_regs_t r = get_regs();
    r.pc = pc;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
}

/* ---- scripted guests ---- */

/* One step of a guest: what it does at the PC it is entered at. */
typedef struct step {
    uint64_t pc;             /* expected PC at entry */
    uint64_t kind;           /* exit kind */
    uint32_t ec, iss;        /* syndrome (sync, not an abort) */
    int access;              /* 0 none, 1 load, 2 store */
    uint64_t ipa;
    uint32_t size, reg;
    bool sext;
    uint64_t set_x0;         /* value the guest puts in X0 before exiting (if set_x0_valid) */
    bool set_x0_valid;
    uint64_t seen_x[8];      /* X0..X7 at entry */
    uint64_t seen_pstate;
    vcore__arm64_el1_t seen_el1;
    vcore__arm64_el2_t seen_el2;
    uint64_t advance;        /* bytes the guest executes before the exception (PC moves) */
    bool clear_span;         /* the guest clears SCTLR_EL1.SPAN (bit 23) first */
} step_t;

typedef struct script {
    step_t s[8];
    int n, at;
} script_t;

static script_t sc;

static uint64_t guest_script(arm64_fake_t *f, vcore__arm64_gprs_t *g, void *arg)
{
    script_t *s = arg;
    ck_assert_msg(s->at < s->n, "guest entered more often than scripted");
    step_t *st = &s->s[s->at++];
    ck_assert_msg(g->pc == st->pc, "entered at 0x%llx, expected 0x%llx", (unsigned long long)g->pc,
                  (unsigned long long)st->pc);
    memcpy(st->seen_x, g->x, sizeof(st->seen_x));
    st->seen_pstate = g->pstate;
    st->seen_el1 = f->el1;
    st->seen_el2 = f->el2;
    g->pc += st->advance;
    if (st->clear_span)
        f->el1.sctlr &= ~(1ull << 23);
    if (st->set_x0_valid)
        g->x[0] = st->set_x0;
    if (st->access) {
        bool done = arm64_fake_access(g, st->ipa, st->size, st->reg, st->access == 2, st->sext);
        ck_assert_msg(!done, "the scripted access did not fault");
        return VCORE__ARM64_EXIT_SYNC;
    }
    if (st->kind == VCORE__ARM64_EXIT_SYNC) {
        g->esr = arm64_fake_esr(st->ec, st->iss);
        /* HVC returns past itself; the others to the instruction. */
        if (st->ec == 0x16)
            g->pc += 4;
    } else if (st->kind == VCORE__ARM64_EXIT_SERROR) {
        g->esr = 0xbe000000ull | 0x11; /* EC 0x2F SError, IL, ISS */
    }
    return st->kind;
}

static step_t *add_step(uint64_t pc, uint32_t ec, uint32_t iss)
{
    step_t *st = &sc.s[sc.n++];
    memset(st, 0, sizeof(*st));
    st->pc = pc;
    st->kind = VCORE__ARM64_EXIT_SYNC;
    st->ec = ec;
    st->iss = iss;
    arm64_fake.guest = guest_script;
    arm64_fake.guest_arg = &sc;
    return st;
}

static void script_reset(void)
{
    memset(&sc, 0, sizeof(sc));
}

static vcore_exit_t run(void)
{
    vcore_exit_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    return e;
}

static void run_reply(vcore_exit_t *e)
{
    ck_assert_int_eq(vcore_vcpu_run(vcpu, e), VCORE_OK);
}

/* ---- probe, VM, geometry ---- */

START_TEST(probe_needs_el2_without_vhe)
{
    long base = pages_out;
    arm64_fake_reset();
    vcore_vm_t *v = NULL;
    arm64_fake.current_el = 1;
    ck_assert_int_eq(make_vm(40, 0, &v), VCORE_ERR_NODEV);
    arm64_fake.current_el = 2;
    arm64_fake.host_hcr = 1ull << 34; /* E2H */
    ck_assert_int_eq(make_vm(40, 0, &v), VCORE_ERR_NODEV);
    arm64_fake.host_hcr = 0;
    ck_assert_int_eq(make_vm(40, 0, &v), VCORE_OK);
    vcore_vm_destroy(v);
    ck_assert_int_eq(pages_out, base);
}
END_TEST

/* VTCR_EL2 for IPA 40 on a 52-bit PE with 16-bit VMIDs: T0SZ 24, SL0 = start
 * level 1 (4KB: 0b01; 16KB/64KB level 2: 0b01), IRGN0 = ORGN0 = 0b01, SH0 =
 * 0b11, TG0 (4KB 0b00, 64KB 0b01, 16KB 0b10), PS = 0b101 (48 bits) for 4KB
 * and 16KB without 52-bit descriptors, 0b110 (52 bits) for 64KB, whose
 * descriptors hold OA[51:48] with FEAT_LPA; VS, bit 31 RES1. */
static uint64_t first_run_vtcr(uint32_t granule)
{
    arm64_fake_reset();
    vcore_vm_t *v = NULL;
    vcore_vcpu_t *c = NULL;
    ck_assert_int_eq(make_vm(40, granule, &v), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(v, NULL, &c), VCORE_OK);
    script_reset();
    add_step(0, 0x01, 0); /* WFI at 0 */
    vcore_exit_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_run(c, &e), VCORE_OK);
    uint64_t vtcr = sc.s[0].seen_el2.vtcr;
    vcore_vm_destroy(v);
    return vtcr;
}

START_TEST(vtcr_per_granule)
{
    ck_assert_uint_eq(first_run_vtcr(0), 0x800D3558ull); /* default: 4KB */
    ck_assert_uint_eq(first_run_vtcr(VCORE_ARM64_GRANULE_4K), 0x800D3558ull);
    ck_assert_uint_eq(first_run_vtcr(VCORE_ARM64_GRANULE_64K), 0x800E7558ull);
    ck_assert_uint_eq(first_run_vtcr(VCORE_ARM64_GRANULE_16K), 0x800DB558ull);
}
END_TEST

START_TEST(granule_refusals)
{
    long base = pages_out;
    arm64_fake_reset();
    vcore_vm_t *v = NULL;
    /* Not a granule: the core refuses it. */
    ck_assert_int_eq(make_vm(40, 8192, &v), VCORE_ERR_INVAL);
    /* 4KB not implemented at stage 2 (TGran4_2 = 0b0001): refused when asked
     * for, and the default falls back to 64KB. */
    arm64_fake.mmfr0 = (arm64_fake.mmfr0 & ~(0xfull << 40)) | (1ull << 40);
    ck_assert_int_eq(make_vm(40, VCORE_ARM64_GRANULE_4K, &v), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(make_vm(40, 0, &v), VCORE_OK);
    vcore_vcpu_t *c = NULL;
    ck_assert_int_eq(vcore_vcpu_create(v, NULL, &c), VCORE_OK);
    script_reset();
    add_step(0, 0x01, 0);
    vcore_exit_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_run(c, &e), VCORE_OK);
    ck_assert_uint_eq((sc.s[0].seen_el2.vtcr >> 14) & 3u, 1u); /* TG0 = 64KB */
    vcore_vm_destroy(v);
    /* An IPA above the implemented PA size (PARange 0b0010 = 40 bits). */
    arm64_fake.mmfr0 = (arm64_fake.mmfr0 & ~0xfull) | 2u;
    ck_assert_int_eq(make_vm(42, 0, &v), VCORE_ERR_RANGE);
    ck_assert_int_eq(pages_out, base);
}
END_TEST

/* The EL2 controls of the first entry and the RESET state the guest sees. */
START_TEST(first_entry_state)
{
    vcore_vcpu_t *second = NULL;
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &second), VCORE_OK); /* id 1 */
    script_reset();
    add_step(0, 0x01, 0);
    vcore_exit_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_run(second, &e), VCORE_OK);
    const step_t *st = &sc.s[0];
    /* HCR_EL2: VM, SWIO, PTW, FMO, IMO, AMO, FB, BSU = IS, TWI, TWE, TID3,
     * TSC, TIDCP, TACR, RW; TGE, E2H, API, APK clear. */
    uint64_t hcr = (1ull << 0) | (1ull << 1) | (1ull << 2) | (1ull << 3) | (1ull << 4) | (1ull << 5) |
                   (1ull << 9) | (1ull << 10) | (1ull << 13) | (1ull << 14) | (1ull << 18) |
                   (1ull << 19) | (1ull << 20) | (1ull << 21) | (1ull << 31);
    ck_assert_uint_eq(st->seen_el2.hcr, hcr);
    /* VMPIDR_EL2: bit 31 RES1, Aff0 = vCPU id 1. */
    ck_assert_uint_eq(st->seen_el2.vmpidr, 0x80000001ull);
    /* VTTBR_EL2: VMID 1 in bits 63:48, BADDR aligned to 2^13 (4KB, IPA 40:
     * two concatenated level-1 tables). */
    ck_assert_uint_eq(st->seen_el2.vttbr >> 48, 1u);
    ck_assert_uint_eq(st->seen_el2.vttbr & 0x1fffu, 0);
    /* CPTR_EL2: TFP (bit 10) clear, TZ (bit 8) set: FP/SIMD free, SVE trapped. */
    ck_assert_uint_eq(st->seen_el2.cptr & (1u << 10), 0);
    ck_assert_uint_eq(st->seen_el2.cptr & (1u << 8), 1u << 8);
    /* RESET: EL1h with D, A, I, F masked; SCTLR_EL1 with its RES1 bits, MMU off. */
    ck_assert_uint_eq(st->seen_pstate, 0x3c5u);
    ck_assert_uint_eq(st->seen_el1.sctlr, 0x30d00800ull);
    ck_assert_uint_eq(st->seen_el1.cpacr, 0);
}
END_TEST

/* ---- memory map ---- */

START_TEST(map_blocks_pages_readonly)
{
    /* 2 MiB of 2 MiB-aligned memory: one level-2 block. */
    uint8_t *big = guest_mem(2u << 20, 2u << 20);
    map(0x40000000ull, big, 2u << 20, 0);
    /* 8 KiB at a page-aligned address: level-3 pages; read-only. */
    uint8_t *small = guest_mem(8192, 4096);
    map(0x80000000ull, small, 8192, VCORE_MEM_READONLY);
    script_reset();
    add_step(0, 0x01, 0);
    (void)run();
    arm64_fake_walk_t w = arm64_fake_s2_walk(0x40000000ull + 0x12345);
    ck_assert(w.mapped);
    ck_assert_int_eq(w.level, 2);
    ck_assert_uint_eq(w.pa, (uint64_t)(uintptr_t)big + 0x12345);
    ck_assert(w.read && w.write && w.exec_el1);
    w = arm64_fake_s2_walk(0x80001008ull);
    ck_assert(w.mapped);
    ck_assert_int_eq(w.level, 3);
    ck_assert_uint_eq(w.pa, (uint64_t)(uintptr_t)small + 0x1008);
    ck_assert(w.read && !w.write && w.exec_el1);
    /* Outside every region: no translation. */
    w = arm64_fake_s2_walk(0x40200000ull);
    ck_assert(!w.mapped);
    /* Unmap the read-only pages: one request by IPA (two 4 KiB pages; their
     * level-3 table stays, the level-2 block shares its parent), for VMID 1. */
    uint64_t before = arm64_fake.n_tlbi_s2;
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0x80000000ull), VCORE_OK);
    ck_assert_uint_eq(arm64_fake.n_tlbi_s2, before + 1);
    ck_assert_uint_eq(arm64_fake.last_tlbi_vttbr >> 48, 1u);
    ck_assert(!arm64_fake_s2_walk(0x80000000ull).mapped);
    ck_assert(!arm64_fake_s2_walk(0x80001000ull).mapped);
    /* Unmap the block: its level-2 table empties and is freed; invalidating
     * it takes one TLBI per 4 KiB under it (512 > 64): the whole VMID. */
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0x40000000ull), VCORE_OK);
    ck_assert_uint_eq(arm64_fake.n_tlbi_s2, before + 2);
    ck_assert_uint_eq(arm64_fake.last_tlbi.scope, VCORE_ARM64_S2_TLBI_VMID);
    ck_assert(!arm64_fake_s2_walk(0x40000000ull).mapped);
    down();
    /* Teardown invalidates the whole VMID. */
    ck_assert_uint_eq(arm64_fake.last_tlbi.scope, VCORE_ARM64_S2_TLBI_VMID);
    free(big);
    free(small);
}
END_TEST

START_TEST(map_refusals)
{
    /* 64KB granule: a region that is not a multiple of 64 KiB is refused and
     * nothing stays mapped. */
    vcore_vm_destroy(vm);
    ck_assert_int_eq(make_vm(40, VCORE_ARM64_GRANULE_64K, &vm), VCORE_OK);
    uint8_t *m = guest_mem(1u << 20, 1u << 16);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0x10000, .len = 0x1000, .hva = m};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_INVAL);
    /* Beyond the 40-bit IPA space. */
    r.gpa = 1ull << 40;
    r.len = 1u << 16;
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_INVAL);
    /* Dirty logging is not offered. */
    r.gpa = 0;
    r.flags = VCORE_MEM_LOG_DIRTY;
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_UNSUPPORTED);
    free(m);
}
END_TEST

/* ---- exits ---- */

START_TEST(hvc_round_trip)
{
    set_pc(0x1000);
    script_reset();
    step_t *a = add_step(0x1000, 0x16, 0x1234); /* HVC #0x1234 */
    step_t *b = add_step(0x1004, 0x16, 0x0);
    (void)b;
    vcore_arm64_regs_t r = get_regs();
    for (int i = 0; i < 7; i++)
        r.x[i] = 0x100 + (uint64_t)i;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = run();
    (void)a;
    ck_assert_uint_eq(e.u.hypercall.ret, 0); /* X6 is not an argument */
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.hypercall.nr, 0x1234);
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(e.u.hypercall.args[i], 0x100 + (uint64_t)i);
    ck_assert_uint_eq(e.raw.source, VCORE_EXIT_SRC_ARM64);
    ck_assert_uint_eq(e.raw.reason, 0x16);
    ck_assert_uint_eq(e.raw.qualification, 0x5a001234ull); /* EC 0x16, IL, imm16 */
    ck_assert_uint_eq(e.raw.data[4], 0x1004);              /* ELR_EL2: past the HVC */
    ck_assert_uint_eq(get_regs().pc, 0x1004);
    /* The reply goes to X0; the primitives used for the round trip. */
    arm64_fake_t before = arm64_fake;
    e.u.hypercall.ret = 0xabcdef;
    run_reply(&e);
    ck_assert_uint_eq(sc.s[1].seen_x[0], 0xabcdef);
    ck_assert_uint_eq(sc.s[1].seen_x[1], 0x101);
    uint64_t n_vttbr = arm64_fake.n_read_vttbr - before.n_read_vttbr;
    uint64_t n_el2 = arm64_fake.n_el2_load - before.n_el2_load;
    uint64_t n_el1l = arm64_fake.n_el1_load - before.n_el1_load;
    uint64_t n_enter = arm64_fake.n_enter - before.n_enter;
    uint64_t n_el1s = arm64_fake.n_el1_save - before.n_el1_save;
    uint64_t n_other = (arm64_fake.n_tlbi_local - before.n_tlbi_local) + (arm64_fake.n_tlbi_s2 - before.n_tlbi_s2) +
                       (arm64_fake.n_at - before.n_at) + (arm64_fake.n_id - before.n_id);
    printf("arm64 HVC round trip (exit, reply, re-entry): read_vttbr %llu, el2_load %llu, el1_load %llu, "
           "enter %llu, el1_save %llu, other %llu\n",
           (unsigned long long)n_vttbr, (unsigned long long)n_el2, (unsigned long long)n_el1l,
           (unsigned long long)n_enter, (unsigned long long)n_el1s, (unsigned long long)n_other);
    ck_assert_uint_eq(n_vttbr, 1);
    ck_assert_uint_eq(n_el2, 1);
    ck_assert_uint_eq(n_el1l, 1);
    ck_assert_uint_eq(n_enter, 1);
    ck_assert_uint_eq(n_el1s, 1);
    ck_assert_uint_eq(n_other, 0);
}
END_TEST

START_TEST(smc_psci_and_calls)
{
    static const struct {
        uint32_t fid;
        uint32_t reason, type;
    } cases[] = {
        {0x84000008u, VCORE_EXIT_SYSTEM_EVENT, 1}, /* SYSTEM_OFF: shutdown */
        {0x84000009u, VCORE_EXIT_SYSTEM_EVENT, 2}, /* SYSTEM_RESET */
        {0x84000012u, VCORE_EXIT_SYSTEM_EVENT, 2}, /* SYSTEM_RESET2, SMC32 */
        {0xc4000012u, VCORE_EXIT_SYSTEM_EVENT, 2}, /* SYSTEM_RESET2, SMC64 */
        {0x84000000u, VCORE_EXIT_HYPERCALL, 0},    /* PSCI_VERSION */
        {0xc4000003u, VCORE_EXIT_HYPERCALL, 0},    /* CPU_ON */
    };
    uint64_t pc = 0x2000;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vcore_arm64_regs_t r = get_regs();
        r.pc = pc;
        r.x[0] = 0xffffffff00000000ull | cases[i].fid; /* W0 holds the function id */
        r.x[1] = 0x11;
        r.x[2] = 0x22;
        ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
        script_reset();
        add_step(pc, 0x17, 0);
        vcore_exit_t e = run();
        ck_assert_uint_eq(e.reason, cases[i].reason);
        ck_assert_uint_eq(e.raw.reason, 0x17);
        /* A trapped SMC returns to itself: the backend completes it. */
        ck_assert_uint_eq(e.raw.data[4], pc);
        ck_assert_uint_eq(get_regs().pc, pc + 4);
        if (cases[i].reason == VCORE_EXIT_SYSTEM_EVENT) {
            ck_assert_uint_eq(e.u.system_event.type, cases[i].type);
            ck_assert_uint_eq(e.u.system_event.ndata, 3);
            ck_assert_uint_eq(e.u.system_event.data[0], cases[i].fid);
            ck_assert_uint_eq(e.u.system_event.data[1], 0x11);
            ck_assert_uint_eq(e.u.system_event.data[2], 0x22);
            ck_assert(!(e.flags & VCORE_EXIT_F_NEEDS_REPLY));
        } else {
            ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
            ck_assert_uint_eq(e.u.hypercall.args[0], r.x[0]);
            /* Reply: X0 = the result, guest resumes after the SMC. */
            script_reset();
            add_step(pc + 4, 0x01, 0);
            e.u.hypercall.ret = (uint64_t)-1; /* NOT_SUPPORTED */
            run_reply(&e);
            ck_assert_uint_eq(sc.s[0].seen_x[0], (uint64_t)-1);
        }
        pc += 0x100;
    }
}
END_TEST

START_TEST(wfi_wfe)
{
    set_pc(0x3000);
    script_reset();
    add_step(0x3000, 0x01, 0); /* WFI: TI = 0b00 */
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.raw.qualification, 0x06000000ull); /* EC 0x01, IL */
    ck_assert_uint_eq(get_regs().pc, 0x3004);
    script_reset();
    add_step(0x3004, 0x01, 1); /* WFE: TI = 0b01 */
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.raw.qualification & 3u, 1u);
    ck_assert_uint_eq(get_regs().pc, 0x3008);
}
END_TEST

/* ISS of a trapped MRS/MSR: Op0[21:20] Op2[19:17] Op1[16:14] CRn[13:10] Rt[9:5] CRm[4:1] Dir[0]. */
static uint32_t sys_iss(uint32_t op0, uint32_t op1, uint32_t crn, uint32_t crm, uint32_t op2, uint32_t rt,
                        bool read)
{
    return op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | (read ? 1u : 0u);
}

START_TEST(sysreg_read_write)
{
    set_pc(0x4000);
    script_reset();
    /* MRS X7, ID_AA64MMFR0_EL1 (3, 0, c0, c7, 0) under HCR_EL2.TID3. */
    add_step(0x4000, 0x18, sys_iss(3, 0, 0, 7, 0, 7, true));
    add_step(0x4004, 0x18, sys_iss(3, 0, 1, 0, 1, 9, false)); /* MSR ACTLR_EL1 (3,0,c1,c0,1), X9 (TACR) */
    add_step(0x4008, 0x18, sys_iss(3, 0, 1, 0, 1, 31, false)); /* MSR ACTLR_EL1, XZR */
    add_step(0x400c, 0x18, sys_iss(3, 0, 0, 7, 0, 31, true));  /* MRS XZR, ID_AA64MMFR0_EL1 */
    add_step(0x4010, 0x01, 0);
    vcore_arm64_regs_t r = get_regs();
    r.x[9] = 0x99;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.msr.index, (3u << 14) | (0u << 11) | (0u << 7) | (7u << 3) | 0u);
    ck_assert_uint_eq(get_regs().pc, 0x4004);
    e.u.msr.value = 0x1122;
    run_reply(&e);
    ck_assert_uint_eq(sc.s[1].seen_x[7], 0x1122);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(e.u.msr.index, (3u << 14) | (1u << 7) | 1u);
    ck_assert_uint_eq(e.u.msr.value, 0x99);
    run_reply(&e);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(e.u.msr.value, 0); /* XZR */
    run_reply(&e);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    /* A read into XZR is discarded: nothing past X30 is written. */
    e.u.msr.value = 0x1234;
    run_reply(&e);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(sc.s[4].pc, 0x4010);
    ck_assert_uint_eq(get_regs().pc, 0x4014);
}
END_TEST

/* A refused MRS is UNDEFINED: the guest takes it at EL1 ("AArch64.TakeException"). */
static void undef_from(uint64_t pstate, uint64_t vector, bool span0)
{
    vcore_arm64_regs_t r = get_regs();
    r.pc = 0x5000;
    r.pstate = pstate;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    vcore_arm64_sysregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_arm64_sysregs(vcpu, &s), VCORE_OK);
    s.vbar_el1 = 0x80000;
    ck_assert_int_eq(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_OK);
    script_reset();
    add_step(0x5000, 0x18, sys_iss(3, 0, 0, 7, 0, 3, true))->clear_span = span0;
    add_step(0x80000 + vector, 0x01, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    e.u.msr.error = 1;
    run_reply(&e);
    const step_t *st = &sc.s[1];
    ck_assert_uint_eq(st->seen_el1.esr, 0x02000000ull); /* EC 0 (Unknown reason), IL */
    ck_assert_uint_eq(st->seen_el1.elr, 0x5000);        /* the MRS itself */
    ck_assert_uint_eq(st->seen_el1.spsr, pstate);
    /* EL1h, D A I F masked, NZCV kept; PAN set only when SCTLR_EL1.SPAN is
     * 0 (FEAT_PAN; SPAN is among the reset RES1 bits). */
    ck_assert_uint_eq(st->seen_pstate, (pstate & 0xf0000000ull) | 0x3c5u | (span0 ? 1u << 22 : 0u));
    ck_assert_uint_eq(st->seen_x[3], 0); /* nothing written to X3 */
}

START_TEST(sysreg_refused_is_undefined_at_el1)
{
    undef_from(0x600003c5ull, 0x200, false); /* from EL1h: current EL with SP_ELx */
    undef_from(0x80000004ull, 0x000, false); /* from EL1t: current EL with SP_EL0 */
    undef_from(0x00000000ull, 0x400, false); /* from EL0t: lower EL using AArch64 */
    undef_from(0x000003c5ull, 0x200, true);  /* SPAN = 0: PSTATE.PAN set */
}
END_TEST

START_TEST(mmio_read_write)
{
    set_pc(0x6000);
    script_reset();
    /* LDRSH W5, [0x9000010]: 2 bytes, sign-extended, 32-bit register. */
    step_t *a = add_step(0x6000, 0, 0);
    a->access = 1;
    a->ipa = 0x09000010;
    a->size = 2;
    a->reg = 5;
    a->sext = true;
    step_t *b = add_step(0x6004, 0, 0);
    b->access = 2; /* STR X6, [0x9000018] */
    b->ipa = 0x09000018;
    b->size = 8;
    b->reg = 6;
    add_step(0x6008, 0x01, 0);
    vcore_arm64_regs_t r = get_regs();
    r.x[5] = ~0ull;
    r.x[6] = 0xfeedfacecafebeefull;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x09000010);
    ck_assert_uint_eq(e.u.mmio.len, 2);
    ck_assert_uint_eq(e.u.mmio.reg, 5);
    ck_assert(!e.u.mmio.is_write);
    ck_assert_uint_eq(e.u.mmio.fault, VCORE_EXIT_FAULT_TRANSLATION);
    ck_assert_uint_eq(e.raw.reason, 0x24);
    ck_assert_uint_eq(get_regs().pc, 0x6004);
    /* The reply 0x8001 sign-extends into W5 (X5 bits 63:32 zero); a VMM that
     * rewrites the register number is not followed. */
    e.u.mmio.data[0] = 0x01;
    e.u.mmio.data[1] = 0x80;
    e.u.mmio.reg = 6;
    e.u.mmio.len = 8;
    run_reply(&e);
    ck_assert_uint_eq(sc.s[1].seen_x[5], 0xffff8001ull);
    ck_assert_uint_eq(sc.s[1].seen_x[6], 0xfeedfacecafebeefull);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert(e.u.mmio.is_write);
    ck_assert(!(e.flags & VCORE_EXIT_F_NEEDS_REPLY));
    ck_assert_uint_eq(e.u.mmio.len, 8);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x09000018);
    uint64_t v;
    memcpy(&v, e.u.mmio.data, 8);
    ck_assert_uint_eq(v, 0xfeedfacecafebeefull);
    run_reply(&e);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(readonly_write_is_mmio_write_with_at)
{
    uint8_t *m = guest_mem(4096, 4096);
    m[8] = 0x77;
    map(0x100000, m, 4096, VCORE_MEM_READONLY);
    set_pc(0x7000);
    script_reset();
    step_t *a = add_step(0x7000, 0, 0);
    a->access = 2; /* STR X1, [0x100008] */
    a->ipa = 0x100008;
    a->size = 8;
    a->reg = 1;
    vcore_arm64_regs_t r = get_regs();
    r.x[1] = 0x5555;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    uint64_t at_before = arm64_fake.n_at;
    vcore_exit_t e = run();
    /* HPFAR_EL2 is UNKNOWN for a permission fault: the IPA comes from AT,
     * AT S1E1W for a write. */
    ck_assert_uint_eq(arm64_fake.n_at, at_before + 1);
    ck_assert(arm64_fake.last_at_write);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.fault, VCORE_EXIT_FAULT_PERMISSION);
    ck_assert_uint_eq(e.u.mmio.level, 3);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x100008);
    ck_assert(e.u.mmio.is_write);
    /* ESR_EL2: EC 0x24, IL, ISV, SAS 0b11, SRT 1, SF, WnR, DFSC 0b001111. */
    ck_assert_uint_eq(e.raw.qualification, 0x93C1804Full);
    ck_assert_uint_eq(m[8], 0x77);
    free(m);
}
END_TEST

START_TEST(stage2_faults_and_others)
{
    uint8_t *m = guest_mem(4096, 4096);
    map(0x200000, m, 4096, 0);
    set_pc(0x8000);
    script_reset();
    /* A fetch from unmapped memory: instruction abort, translation fault
     * level 2 (4KB, IPA 40: the level-2 table of 0x200000 exists). */
    add_step(0x8000, 0x20, 0x06);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert(e.u.mmio.flags & VCORE_EXIT_MMIO_F_FETCH);
    ck_assert_uint_eq(get_regs().pc, 0x8000); /* not completed */
    /* A load pair (no ISV) outside RAM: a stage-2 fault, not MMIO. */
    script_reset();
    add_step(0x8000, 0x24, 0x04 | 1u); /* DFSC translation level 1, ISV clear */
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_STAGE2_FAULT);
    ck_assert_uint_eq(e.u.mmio.level, 1);
    ck_assert_uint_eq(get_regs().pc, 0x8000);
    /* A physical IRQ for the host; an SError; an exception class the
     * backend does not decode (EC 0x09, pointer authentication trapped). */
    script_reset();
    step_t *irq = add_step(0x8000, 0, 0);
    irq->kind = VCORE__ARM64_EXIT_IRQ;
    step_t *se = add_step(0x8000, 0, 0);
    se->kind = VCORE__ARM64_EXIT_SERROR;
    add_step(0x8000, 0x09, 0);
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_eq(e.raw.data[3], VCORE__ARM64_EXIT_IRQ);
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.raw.data[3], VCORE__ARM64_EXIT_SERROR);
    e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.raw.reason, 0x09);
    free(m);
}
END_TEST

/* A reply completes the instruction at the next run, after any register
 * write of the VMM (so a call can return more than X0); a reset cancels it
 * (the core hands the backend no exit then). */
START_TEST(reset_cancels_completion)
{
    set_pc(0x6000);
    script_reset();
    step_t *a = add_step(0x6000, 0, 0);
    a->access = 1; /* LDR X5, [0x9000010] */
    a->ipa = 0x09000010;
    a->size = 8;
    a->reg = 5;
    add_step(0, 0x01, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
    e.u.mmio.data[0] = 0x42;
    run_reply(&e);
    ck_assert_uint_eq(sc.s[1].seen_x[5], 0);
    ck_assert_uint_eq(sc.s[1].seen_pstate, 0x3c5u);
    /* Registers written between the exit and the reply: both count. */
    set_pc(0x6100);
    script_reset();
    a = add_step(0x6100, 0, 0);
    a->access = 1;
    a->ipa = 0x09000010;
    a->size = 8;
    a->reg = 5;
    add_step(0x6104, 0x01, 0);
    e = run();
    vcore_arm64_regs_t r = get_regs();
    r.x[5] = 0x55;
    r.x[7] = 0x77;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    e.u.mmio.data[0] = 0x42;
    run_reply(&e);
    ck_assert_uint_eq(sc.s[1].seen_x[5], 0x42);
    ck_assert_uint_eq(sc.s[1].seen_x[7], 0x77);
}
END_TEST

/* Registers in and out of the world the primitives switch. */
START_TEST(register_groups_round_trip)
{
    vcore_arm64_regs_t r = get_regs();
    for (unsigned i = 0; i < VCORE_ARM64_NR_X; i++)
        r.x[i] = 0x1000 + i;
    r.sp_el0 = 0xa0;
    r.sp_el1 = 0xa1;
    r.pc = 0x9000;
    r.pstate = 0x3c4; /* EL1t */
    r.elr_el1 = 0xe1;
    r.spsr_el1 = 0x5;
    ck_assert_int_eq(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    vcore_arm64_sysregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_arm64_sysregs(vcpu, &s), VCORE_OK);
    s.tcr_el1 = 0x7c;
    s.ttbr0_el1 = 0x7000;
    s.ttbr1_el1 = 0x8000;
    s.mair_el1 = 0xff44;
    s.vbar_el1 = 0x800;
    s.esr_el1 = 0x56000000;
    s.far_el1 = 0xfa;
    s.cntvoff_el2 = 0x123456;
    ck_assert_int_eq(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_OK);
    script_reset();
    step_t *st = add_step(0x9000, 0x16, 0);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(st->seen_x[7], 0x1007);
    ck_assert_uint_eq(st->seen_pstate, 0x3c4);
    ck_assert_uint_eq(st->seen_el1.sp_el0, 0xa0);
    ck_assert_uint_eq(st->seen_el1.sp_el1, 0xa1);
    ck_assert_uint_eq(st->seen_el1.elr, 0xe1);
    ck_assert_uint_eq(st->seen_el1.spsr, 0x5);
    ck_assert_uint_eq(st->seen_el1.tcr, 0x7c);
    ck_assert_uint_eq(st->seen_el1.ttbr0, 0x7000);
    ck_assert_uint_eq(st->seen_el1.ttbr1, 0x8000);
    ck_assert_uint_eq(st->seen_el1.mair, 0xff44);
    ck_assert_uint_eq(st->seen_el1.vbar, 0x800);
    ck_assert_uint_eq(st->seen_el1.esr, 0x56000000);
    ck_assert_uint_eq(st->seen_el1.far, 0xfa);
    ck_assert_uint_eq(st->seen_el2.cntvoff, 0x123456);
    /* What the guest changed comes back. */
    vcore_arm64_regs_t after = get_regs();
    ck_assert_uint_eq(after.pc, 0x9004);
    ck_assert_uint_eq(after.x[30], 0x1000 + 30);
    vcore_arm64_sysregs_t s2 = {.size = sizeof(s2)};
    ck_assert_int_eq(vcore_vcpu_get_arm64_sysregs(vcpu, &s2), VCORE_OK);
    ck_assert_uint_eq(s2.mair_el1, 0xff44);
    ck_assert_uint_eq(s2.cntvoff_el2, 0x123456);
}
END_TEST

/* Above 48 bits the 4KB and 16KB granules use FEAT_LPA2 descriptors
 * (VTCR_EL2.DS, bit 32); the 64KB granule holds 52-bit addresses without it
 * (FEAT_LPA). T0SZ = 64 - 52 = 12. */
START_TEST(ipa52_descriptor_formats)
{
    static const struct {
        uint32_t granule;
        bool ds;
    } cases[] = {{VCORE_ARM64_GRANULE_4K, true}, {VCORE_ARM64_GRANULE_16K, true}, {VCORE_ARM64_GRANULE_64K, false}};
    for (size_t i = 0; i < 3; i++) {
        vcore_vm_t *v = NULL;
        ck_assert_int_eq(make_vm(52, cases[i].granule, &v), VCORE_OK);
        const vcore_arm64_s2_geom_t *g = vcore_arm64_s2_get_geom(vcore_arm64_el2_stage2(v));
        ck_assert_ptr_nonnull(g);
        ck_assert_uint_eq(g->vtcr & 0x3fu, 12);
        ck_assert_uint_eq((g->vtcr >> 32) & 1u, cases[i].ds ? 1u : 0u);
        ck_assert_uint_eq((g->vtcr >> 16) & 7u, 6u); /* PS = 52 bits */
        vcore_vm_destroy(v);
    }
}
END_TEST

/* The stage-2 accessor names only VMs of this backend. */
START_TEST(stage2_accessor)
{
    const vcore_arm64_s2_t *s2 = vcore_arm64_el2_stage2(vm);
    ck_assert_ptr_nonnull(s2);
    ck_assert_uint_eq(vcore_arm64_s2_get_geom(s2)->ipa_bits, 40);
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.arch = VCORE_ARCH_ARM64;
    vcore_vm_t *m = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &m), VCORE_OK);
    ck_assert_ptr_null(vcore_arm64_el2_stage2(m));
    ck_assert_ptr_null(vcore_arm64_el2_stage2(NULL));
    vcore_vm_destroy(m);
}
END_TEST

/* A region refused part-way (its second 64 KiB granule is not physically
 * contiguous with an aligned base) leaves nothing mapped. */
START_TEST(map_refused_midway_undone)
{
    vcore_vm_destroy(vm);
    ck_assert_int_eq(make_vm(40, VCORE_ARM64_GRANULE_64K, &vm), VCORE_OK);
    uint8_t *m = guest_mem(2u << 16, 1u << 16);
    v2p_skew_from = (uintptr_t)m + (1u << 16);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0x200000, .len = 2u << 16, .hva = m};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_INVAL);
    vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
    ck_assert_int_eq(vcore_arm64_s2_lookup(vcore_arm64_el2_stage2(vm), 0x200000, &l), VCORE_OK);
    ck_assert(!l.mapped);
    free(m);
}
END_TEST

/* What is RAM for the abort decode follows the map: an unmapped region and
 * the first byte after a region are not RAM (MMIO exits). */
START_TEST(ram_follows_the_map)
{
    uint8_t *m = guest_mem(8192, 4096);
    map(0x100000, m, 4096, 0);
    map(0x300000, m + 4096, 4096, 0);
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0x300000), VCORE_OK);
    set_pc(0xa000);
    script_reset();
    step_t *a = add_step(0xa000, 0, 0);
    a->access = 1; /* LDR X2, [0x101000]: one past the region */
    a->ipa = 0x101000;
    a->size = 8;
    a->reg = 2;
    step_t *b = add_step(0xa004, 0, 0);
    b->access = 1; /* LDR X2, [0x300000]: the unmapped region */
    b->ipa = 0x300000;
    b->size = 8;
    b->reg = 2;
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x101000);
    run_reply(&e);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.gpa, 0x300000);
    free(m);
}
END_TEST

/* Two VMs on one PE share VMID 1: switching tables invalidates locally. */
START_TEST(vm_switch_invalidates_locally)
{
    vcore_vm_t *vm2 = NULL;
    vcore_vcpu_t *c2 = NULL;
    ck_assert_int_eq(make_vm(36, 0, &vm2), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm2, NULL, &c2), VCORE_OK);
    script_reset();
    for (int i = 0; i < 4; i++)
        add_step(0, 0x01, 0);
    /* PCs advance by 4 per WFI: keep each vCPU's script in step. */
    sc.s[1].pc = 4;
    sc.s[2].pc = 0;
    sc.s[3].pc = 4;
    vcore_exit_t e = {.size = sizeof(e)};
    uint64_t l0 = arm64_fake.n_tlbi_local;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK); /* PE held no table: invalidate */
    ck_assert_uint_eq(arm64_fake.n_tlbi_local, l0 + 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK); /* same VM again: nothing */
    ck_assert_uint_eq(arm64_fake.n_tlbi_local, l0 + 1);
    ck_assert_int_eq(vcore_vcpu_run(c2, &e), VCORE_OK); /* other VM: invalidate */
    ck_assert_uint_eq(arm64_fake.n_tlbi_local, l0 + 2);
    ck_assert_uint_eq(sc.s[2].seen_el2.vttbr >> 48, 1u);
    ck_assert_uint_ne(sc.s[2].seen_el2.vttbr, sc.s[1].seen_el2.vttbr);
    ck_assert_int_eq(vcore_vcpu_run(c2, &e), VCORE_OK);
    ck_assert_uint_eq(arm64_fake.n_tlbi_local, l0 + 2);
    vcore_vm_destroy(vm2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arm64_backend");
    TCase *tc = tcase_create("el2");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, probe_needs_el2_without_vhe);
    tcase_add_test(tc, vtcr_per_granule);
    tcase_add_test(tc, granule_refusals);
    tcase_add_test(tc, first_entry_state);
    tcase_add_test(tc, map_blocks_pages_readonly);
    tcase_add_test(tc, map_refusals);
    tcase_add_test(tc, hvc_round_trip);
    tcase_add_test(tc, smc_psci_and_calls);
    tcase_add_test(tc, wfi_wfe);
    tcase_add_test(tc, sysreg_read_write);
    tcase_add_test(tc, sysreg_refused_is_undefined_at_el1);
    tcase_add_test(tc, mmio_read_write);
    tcase_add_test(tc, readonly_write_is_mmio_write_with_at);
    tcase_add_test(tc, stage2_faults_and_others);
    tcase_add_test(tc, register_groups_round_trip);
    tcase_add_test(tc, reset_cancels_completion);
    tcase_add_test(tc, vm_switch_invalidates_locally);
    tcase_add_test(tc, ipa52_descriptor_formats);
    tcase_add_test(tc, stage2_accessor);
    tcase_add_test(tc, map_refused_midway_undone);
    tcase_add_test(tc, ram_follows_the_map);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
