/*
 * kbackend.c - the arm64 backend on QEMU at EL2, through the public API
 * only: VMs and vCPUs in static storage (vcore_vm_init_static,
 * vcore_vcpu_init_static), guest memory through vcore_vm_map_memory,
 * registers through vcore_vcpu_set_arm64_regs / _sysregs, guests run by
 * vcore_vcpu_run. Every exit the backend reports is checked against what
 * the Arm ARM says the guest's instruction does.
 */
#include <virtcore/arm64/el2.h>
#include <virtcore/arm64/stage2.h>
#include <virtcore/backends.h>
#include <virtcore/diag.h>
#include <virtcore/error.h>
#include <virtcore/exit.h>
#include <virtcore/vcpu.h>
#include <virtcore/vm.h>

#include "s2t.h"

#define MB(x) ((uint64_t)(x) << 20)
#define GB(x) ((uint64_t)(x) << 30)

/* ESR_EL2 classes and ESR_EL1 values the cases expect. */
#define EC_HVC 0x16u
#define EC_SMC 0x17u
#define EC_WFX 0x01u
#define EC_SYS 0x18u
#define EC_DABT 0x24u
#define ESR_EL1_UNDEF 0x02000000ull      /* EC 0 (Unknown reason), IL */
#define ESR_EL1_SVC42 0x56000042ull      /* EC 0x15 (SVC64), IL, imm16 0x42 */
#define PSTATE_EL1H_MASKED 0x3c5ull      /* EL1h, D A I F masked (the RESET state) */
#define VEC_CUR_SPX 0x200u               /* VBAR_EL1 offset: current EL with SP_EL1, synchronous */
#define GUEST_VECTOR_HVC 0xe1u           /* boot.S: every guest vector does HVC #0xe1 */
/* MMIO window of the cases: not RAM for any VM. */
#define DEV 0x0a000000ull

typedef struct bvm {
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
    const vcore_arm64_s2_geom_t *g;
    uint64_t gsz;
    vcore_exit_t ex;
} bvm_t;

static uint8_t vm_store[2][32768] __attribute__((aligned(16)));
static uint8_t vcpu_store[2][8192] __attribute__((aligned(16)));
static uint64_t mmfr0, mmfr1;

static uint32_t ec(const vcore_exit_t *e) { return (uint32_t)(e->raw.qualification >> 26) & 0x3fu; }
static uint64_t addr(const char *p) { return (uint64_t)(uintptr_t)p; }

static int map(bvm_t *b, uint64_t gpa, const void *hva, uint64_t len, uint32_t flags)
{
    vcore_mem_region_t r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.gpa = gpa;
    r.len = len;
    r.hva = (void *)(uintptr_t)hva;
    r.flags = flags;
    return vcore_vm_map_memory(b->vm, &r);
}

/* A VM of the arm64 backend in slot `k`, one vCPU, the guest code mapped
 * read-only at its own address and the guest's vectors installed. */
static int bvm_up(bvm_t *b, int k, uint32_t ipa, uint32_t granule)
{
    memset(b, 0, sizeof(*b));
    b->ex.size = sizeof(b->ex);
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_arm64();
    cfg.host = s2t_host();
    cfg.arch = VCORE_ARCH_ARM64;
    cfg.ipa_bits = ipa;
    cfg.granule = granule;
    size_t need = 0;
    int rc = vcore_vm_storage_size(&cfg, &need);
    if (rc != VCORE_OK || need > sizeof(vm_store[k])) {
        s2t_detail(" vm-storage");
        return rc ? rc : VCORE_ERR_BUFSZ;
    }
    rc = vcore_vm_init_static(vm_store[k], sizeof(vm_store[k]), &cfg, &b->vm);
    if (rc != VCORE_OK) {
        s2t_detail_dec("vm_init", rc);
        return rc;
    }
    rc = vcore_vcpu_init_static(b->vm, vcpu_store[k], sizeof(vcpu_store[k]), NULL, &b->vcpu);
    if (rc != VCORE_OK) {
        s2t_detail_dec("vcpu_init", rc);
        if (vcore_vm_fini(b->vm) != VCORE_OK)
            s2t_detail(" vm_fini-failed");
        b->vm = NULL;
        return rc;
    }
    b->g = vcore_arm64_s2_get_geom(vcore_arm64_el2_stage2(b->vm));
    b->gsz = 1ull << b->g->granule_shift;
    rc = map(b, addr(__guest_start), __guest_start, b->gsz, VCORE_MEM_READONLY);
    vcore_arm64_sysregs_t s = {.size = sizeof(s)};
    if (!rc)
        rc = vcore_vcpu_get_arm64_sysregs(b->vcpu, &s);
    s.vbar_el1 = addr(s2t_guest_vectors);
    if (!rc)
        rc = vcore_vcpu_set_arm64_sysregs(b->vcpu, &s);
    if (rc)
        s2t_detail_dec("setup", rc);
    return rc;
}

static void bvm_down(bvm_t *b)
{
    if (!b->vm)
        return;
    if (b->vcpu && vcore_vcpu_fini(b->vcpu) != VCORE_OK)
        s2t_detail(" vcpu_fini-failed");
    if (vcore_vm_fini(b->vm) != VCORE_OK)
        s2t_detail(" vm_fini-failed");
    b->vm = NULL;
}

/* Runs `entry` at EL1h with X0, X1. The previous exit's structure goes back
 * with the run: a pending hypercall is answered with X0's new value (the
 * reply is applied after the register write). */
static int go(bvm_t *b, const char *entry, uint64_t x0, uint64_t x1)
{
    if (b->ex.reason == VCORE_EXIT_HYPERCALL)
        b->ex.u.hypercall.ret = x0;
    vcore_arm64_regs_t r = {.size = sizeof(r)};
    int rc = vcore_vcpu_get_arm64_regs(b->vcpu, &r);
    if (rc)
        return rc;
    for (unsigned i = 0; i < 31; i++)
        r.x[i] = 0;
    r.x[0] = x0;
    r.x[1] = x1;
    r.pc = addr(entry);
    r.pstate = PSTATE_EL1H_MASKED;
    rc = vcore_vcpu_set_arm64_regs(b->vcpu, &r);
    if (rc)
        return rc;
    return vcore_vcpu_run(b->vcpu, &b->ex);
}

/* Continues with the reply in b->ex. */
static int cont(bvm_t *b) { return vcore_vcpu_run(b->vcpu, &b->ex); }

static uint64_t reg(bvm_t *b, unsigned i)
{
    vcore_arm64_regs_t r = {.size = sizeof(r)};
    if (vcore_vcpu_get_arm64_regs(b->vcpu, &r) != VCORE_OK)
        return 0xbadbadbadull;
    return i == 99 ? r.pc : r.x[i];
}

static bool is_hvc(const bvm_t *b, uint64_t nr)
{
    return b->ex.reason == VCORE_EXIT_HYPERCALL && ec(&b->ex) == EC_HVC && b->ex.u.hypercall.nr == nr;
}

static void show(const bvm_t *b)
{
    s2t_detail_dec("reason", b->ex.reason);
    s2t_detail_hex("esr", b->ex.raw.qualification);
    s2t_detail_hex("elr", b->ex.raw.data[4]);
}

/* ---- exits ---- */

static void case_hvc(void)
{
    const char *name = "backend.hvc.args_reply";
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, 0) == VCORE_OK) {
        vcore_arm64_regs_t r = {.size = sizeof(r)};
        ok = go(&b, s2t_guest_hvc, 0x10, 0x11) == VCORE_OK && is_hvc(&b, 0x4711) &&
             (b.ex.flags & VCORE_EXIT_F_NEEDS_REPLY) && b.ex.u.hypercall.args[0] == 0x10 &&
             b.ex.u.hypercall.args[1] == 0x11 && b.ex.raw.reason == EC_HVC &&
             b.ex.raw.source == VCORE_EXIT_SRC_ARM64 &&
             /* HVC: ELR_EL2 is the next instruction. */
             b.ex.raw.data[4] == addr(s2t_guest_hvc) + 4 &&
             vcore_vcpu_get_arm64_regs(b.vcpu, &r) == VCORE_OK && r.pc == addr(s2t_guest_hvc) + 4;
        show(&b);
        b.ex.u.hypercall.ret = 0xfeedull;
        ok = ok && cont(&b) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 1) == 0xfeedull;
        s2t_detail_hex("x1", reg(&b, 1));
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

static void case_smc(const char *name, uint32_t fid, uint32_t want_reason, uint32_t want_type)
{
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, 0) == VCORE_OK && go(&b, s2t_guest_smc, fid, 0) == VCORE_OK) {
        show(&b);
        /* A trapped SMC reports the SMC itself in ELR_EL2; the backend completes it. */
        ok = b.ex.reason == want_reason && ec(&b.ex) == EC_SMC && b.ex.raw.data[4] == addr(s2t_guest_smc) &&
             reg(&b, 99) == addr(s2t_guest_smc) + 4;
        if (want_reason == VCORE_EXIT_SYSTEM_EVENT) {
            ok = ok && b.ex.u.system_event.type == want_type && b.ex.u.system_event.data[0] == fid;
        } else {
            ok = ok && b.ex.u.hypercall.nr == 0x12 && b.ex.u.hypercall.args[0] == fid;
            b.ex.u.hypercall.ret = 0x10000; /* PSCI 1.0 */
            ok = ok && cont(&b) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 1) == 0x10000;
        }
    } else if (b.vm) {
        show(&b);
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

static void case_wfx(void)
{
    const char *name = "backend.wfi_wfe";
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, 0) == VCORE_OK && go(&b, s2t_guest_wfx, 0, 0) == VCORE_OK) {
        show(&b);
        /* WFI trapped by HCR_EL2.TWI: ESR_EL2.ISS.TI = 0b00, returns to the WFI. */
        ok = b.ex.reason == VCORE_EXIT_HLT && ec(&b.ex) == EC_WFX && (b.ex.raw.qualification & 3u) == 0 &&
             b.ex.raw.data[4] == addr(s2t_guest_wfx) && reg(&b, 99) == addr(s2t_guest_wfx) + 4;
        ok = ok && cont(&b) == VCORE_OK;
        if (ok && b.ex.reason == VCORE_EXIT_HLT) {
            /* WFE trapped by HCR_EL2.TWE: TI = 0b01. */
            ok = ec(&b.ex) == EC_WFX && (b.ex.raw.qualification & 3u) == 1 && cont(&b) == VCORE_OK &&
                 is_hvc(&b, 0);
            s2t_detail(" wfe=trapped");
        } else if (ok) {
            /* TWE traps a WFE only when it would enter a low-power state;
             * QEMU never does for WFE (a hint it treats as YIELD). */
            ok = is_hvc(&b, 0);
            s2t_detail(" wfe=completes(qemu:no-low-power-state)");
        }
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

static void case_mrs(bool refuse)
{
    const char *name = refuse ? "backend.sysreg.mrs_refused_undef_at_el1" : "backend.sysreg.mrs_reply";
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, 0) == VCORE_OK && go(&b, s2t_guest_mrs, 0, 0) == VCORE_OK) {
        show(&b);
        /* MRS X3, ID_AA64MMFR0_EL1 = (3, 0, c0, c7, 0), HCR_EL2.TID3. */
        ok = b.ex.reason == VCORE_EXIT_RDMSR && ec(&b.ex) == EC_SYS && b.ex.u.msr.index == 0xc038u &&
             (b.ex.flags & VCORE_EXIT_F_NEEDS_REPLY);
        if (!refuse) {
            b.ex.u.msr.value = 0x1234;
            ok = ok && cont(&b) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 4) == 0x1234;
        } else {
            b.ex.u.msr.error = 1;
            vcore_arm64_sysregs_t s = {.size = sizeof(s)};
            vcore_arm64_regs_t r = {.size = sizeof(r)};
            ok = ok && cont(&b) == VCORE_OK && is_hvc(&b, GUEST_VECTOR_HVC) &&
                 vcore_vcpu_get_arm64_sysregs(b.vcpu, &s) == VCORE_OK &&
                 vcore_vcpu_get_arm64_regs(b.vcpu, &r) == VCORE_OK;
            s2t_detail_hex("esr_el1", s.esr_el1);
            s2t_detail_hex("elr_el1", r.elr_el1);
            s2t_detail_hex("spsr_el1", r.spsr_el1);
            /* UNDEFINED at EL1: ESR_EL1 EC 0, ELR_EL1 = the MRS, the vector at
             * VBAR_EL1 + 0x200 (the HVC after it brought the guest back). */
            ok = ok && s.esr_el1 == ESR_EL1_UNDEF && r.elr_el1 == addr(s2t_guest_mrs) &&
                 r.spsr_el1 == PSTATE_EL1H_MASKED && r.pc == addr(s2t_guest_vectors) + VEC_CUR_SPX + 4;
        }
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

static void case_msr(void)
{
    const char *name = "backend.sysreg.msr_write";
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, 0) == VCORE_OK) {
        vcore_arm64_regs_t r = {.size = sizeof(r)};
        ok = vcore_vcpu_get_arm64_regs(b.vcpu, &r) == VCORE_OK;
        for (unsigned i = 0; i < 31; i++)
            r.x[i] = 0;
        r.x[5] = 0xabcull;
        r.pc = addr(s2t_guest_msr);
        r.pstate = PSTATE_EL1H_MASKED;
        ok = ok && vcore_vcpu_set_arm64_regs(b.vcpu, &r) == VCORE_OK && cont(&b) == VCORE_OK;
        show(&b);
        /* MSR ACTLR_EL1 = (3, 0, c1, c0, 1), X5; HCR_EL2.TACR. */
        ok = ok && b.ex.reason == VCORE_EXIT_WRMSR && ec(&b.ex) == EC_SYS && b.ex.u.msr.index == 0xc081u &&
             b.ex.u.msr.value == 0xabcull && cont(&b) == VCORE_OK && is_hvc(&b, 0);
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

/* The guest's own exceptions stay at EL1 (HCR_EL2.TGE = 0). */
static void case_guest_exception(const char *name, const char *entry, uint64_t esr_el1, uint64_t elr_el1)
{
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, 0) == VCORE_OK && go(&b, entry, 0, 0) == VCORE_OK) {
        vcore_arm64_sysregs_t s = {.size = sizeof(s)};
        vcore_arm64_regs_t r = {.size = sizeof(r)};
        ok = is_hvc(&b, GUEST_VECTOR_HVC) && vcore_vcpu_get_arm64_sysregs(b.vcpu, &s) == VCORE_OK &&
             vcore_vcpu_get_arm64_regs(b.vcpu, &r) == VCORE_OK && s.esr_el1 == esr_el1 &&
             r.elr_el1 == elr_el1 && r.pc == addr(s2t_guest_vectors) + VEC_CUR_SPX + 4;
        show(&b);
        s2t_detail_hex("esr_el1", s.esr_el1);
        s2t_detail_hex("elr_el1", r.elr_el1);
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

static void case_mmio_read(const char *name, const char *entry, uint32_t len, uint32_t rn, uint64_t reply,
                           uint64_t want)
{
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 36, 0) == VCORE_OK && go(&b, entry, DEV + 0x10, 0) == VCORE_OK) {
        show(&b);
        ok = b.ex.reason == VCORE_EXIT_MMIO && !b.ex.u.mmio.is_write && b.ex.u.mmio.len == len &&
             b.ex.u.mmio.reg == rn && b.ex.u.mmio.gpa == DEV + 0x10 && (b.ex.flags & VCORE_EXIT_F_NEEDS_REPLY) &&
             b.ex.u.mmio.fault == VCORE_EXIT_FAULT_TRANSLATION && ec(&b.ex) == EC_DABT &&
             reg(&b, 99) == addr(entry) + 4;
        for (unsigned i = 0; i < 8; i++)
            b.ex.u.mmio.data[i] = (uint8_t)(reply >> (8 * i));
        ok = ok && cont(&b) == VCORE_OK && is_hvc(&b, 0) && reg(&b, rn) == want;
        s2t_detail_hex("reg", reg(&b, rn));
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

static void case_mmio_write(void)
{
    const char *name = "backend.mmio.store";
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 36, 0) == VCORE_OK && go(&b, s2t_guest_store, DEV + 0x18, 0xfeedfacecafebeefull) == VCORE_OK) {
        show(&b);
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; i++)
            v |= (uint64_t)b.ex.u.mmio.data[i] << (8 * i);
        ok = b.ex.reason == VCORE_EXIT_MMIO && b.ex.u.mmio.is_write && b.ex.u.mmio.len == 8 &&
             b.ex.u.mmio.gpa == DEV + 0x18 && v == 0xfeedfacecafebeefull &&
             !(b.ex.flags & VCORE_EXIT_F_NEEDS_REPLY) && cont(&b) == VCORE_OK && is_hvc(&b, 0);
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

/* A read-only region: loads work; a store is a stage-2 permission fault,
 * reported as an MMIO write (vm.h) with ESR_EL2 = EC 0x24, IL, ISV, SAS
 * 0b11, SRT 1, SF, WnR, DFSC 0b001111 (permission, level 3) and the IPA from
 * AT (HPFAR_EL2 is UNKNOWN for it). */
static void case_read_only(uint32_t granule, const char *name)
{
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    uint64_t *p = NULL;
    if (bvm_up(&b, 0, 40, granule) == VCORE_OK) {
        p = s2t_alloc_aligned(b.gsz, b.gsz);
        p[1] = 0x0123456789abcdefull;
        uint64_t ipa = MB(16);
        ok = map(&b, ipa, p, b.gsz, VCORE_MEM_READONLY) == VCORE_OK &&
             go(&b, s2t_guest_load, ipa + 8, 0) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 1) == p[1] &&
             go(&b, s2t_guest_store, ipa + 8, 0xbad) == VCORE_OK;
        show(&b);
        s2t_detail_hex("ipa", b.ex.u.mmio.gpa);
        ok = ok && b.ex.reason == VCORE_EXIT_MMIO && b.ex.u.mmio.is_write &&
             b.ex.u.mmio.fault == VCORE_EXIT_FAULT_PERMISSION && b.ex.u.mmio.level == 3 &&
             b.ex.raw.qualification == 0x93C1804Full && b.ex.u.mmio.gpa == ipa + 8 &&
             b.ex.u.mmio.data[0] == 0xad && p[1] == 0x0123456789abcdefull;
    }
    bvm_down(&b);
    if (p)
        s2t_free(p, b.gsz);
    s2t_finish(name, ok);
}

/* Aborts the backend cannot turn into MMIO: a load pair (no syndrome) and a
 * fetch, outside RAM. */
static void case_stage2_faults(void)
{
    const char *name = "backend.stage2_fault.ldp_and_fetch";
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, 0) == VCORE_OK && go(&b, s2t_guest_ldp, DEV, 0) == VCORE_OK) {
        vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
        ok = vcore_arm64_s2_lookup(vcore_arm64_el2_stage2(b.vm), DEV, &l) == VCORE_OK && !l.mapped &&
             b.ex.reason == VCORE_EXIT_STAGE2_FAULT && b.ex.u.mmio.fault == VCORE_EXIT_FAULT_TRANSLATION &&
             b.ex.u.mmio.level == l.level && b.ex.u.mmio.gpa == DEV &&
             !(b.ex.u.mmio.flags & VCORE_EXIT_MMIO_F_SYNDROME) && reg(&b, 99) == addr(s2t_guest_ldp);
        show(&b);
        s2t_detail_dec("level", b.ex.u.mmio.level);
        ok = ok && go(&b, (const char *)(uintptr_t)(DEV + 0x1000), 0, 0) == VCORE_OK &&
             b.ex.reason == VCORE_EXIT_STAGE2_FAULT && (b.ex.u.mmio.flags & VCORE_EXIT_MMIO_F_FETCH) &&
             b.ex.u.mmio.gpa == DEV + 0x1000 && b.ex.raw.reason == 0x20;
        show(&b);
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

/* Unmap, remap elsewhere, read-only: the guest sees every change (QEMU keeps
 * stale stage-2 entries without the maintenance: INFO tlb.skipped_maintenance). */
static void case_remap(uint32_t granule, const char *name)
{
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    uint64_t *a = NULL, *c = NULL;
    if (bvm_up(&b, 0, 40, granule) == VCORE_OK) {
        uint64_t g = b.gsz, x = MB(32) + g;
        a = s2t_alloc_aligned(g, g);
        c = s2t_alloc_aligned(g, g);
        a[0] = 0x1111;
        c[0] = 0x2222;
        ok = map(&b, x, a, g, 0) == VCORE_OK && go(&b, s2t_guest_load, x, 0) == VCORE_OK && is_hvc(&b, 0) &&
             reg(&b, 1) == 0x1111;
        /* Unmapped: the load is now outside RAM (MMIO, translation fault). */
        ok = ok && vcore_vm_unmap_memory(b.vm, x) == VCORE_OK && go(&b, s2t_guest_load, x, 0) == VCORE_OK &&
             b.ex.reason == VCORE_EXIT_MMIO && b.ex.u.mmio.fault == VCORE_EXIT_FAULT_TRANSLATION;
        s2t_detail(ok ? " unmap=seen" : " unmap=NOT-seen");
        /* Another page at the same IPA. */
        ok = ok && map(&b, x, c, g, 0) == VCORE_OK && go(&b, s2t_guest_load, x, 0) == VCORE_OK &&
             is_hvc(&b, 0) && reg(&b, 1) == 0x2222;
        s2t_detail(ok ? " remap=seen" : " remap=NOT-seen");
        /* Read-only now: the store exits, the page keeps its value. */
        ok = ok && vcore_vm_unmap_memory(b.vm, x) == VCORE_OK && map(&b, x, c, g, VCORE_MEM_READONLY) == VCORE_OK &&
             go(&b, s2t_guest_store, x, 0x3333) == VCORE_OK && b.ex.reason == VCORE_EXIT_MMIO &&
             b.ex.u.mmio.fault == VCORE_EXIT_FAULT_PERMISSION && c[0] == 0x2222;
        s2t_detail(ok ? " readonly=seen" : " readonly=NOT-seen");
    }
    bvm_down(&b);
    if (a) {
        s2t_free(a, b.gsz);
        s2t_free(c, b.gsz);
    }
    s2t_finish(name, ok);
}

/* Blocks through the memory map: one block entry, no pages. */
static void case_blocks(const char *name, uint32_t granule, uint64_t ipa, uint64_t pa, uint64_t size, int32_t level)
{
    s2t_begin(name);
    bvm_t b;
    bool ok = false;
    if (bvm_up(&b, 0, 40, granule) == VCORE_OK) {
        const vcore_arm64_s2_t *s2 = vcore_arm64_el2_stage2(b.vm);
        vcore_arm64_s2_stats_t s0 = {.size = sizeof(s0)}, s1 = {.size = sizeof(s1)};
        uint64_t magic = 0x5eed0000ull ^ size;
        *(volatile uint64_t *)(uintptr_t)(pa + size - 8) = magic;
        ok = vcore_arm64_s2_stats(s2, &s0) == VCORE_OK &&
             map(&b, ipa, (const void *)(uintptr_t)pa, size, VCORE_MEM_READONLY) == VCORE_OK &&
             vcore_arm64_s2_stats(s2, &s1) == VCORE_OK;
        uint64_t blocks = s1.block_entries[level + 1] - s0.block_entries[level + 1];
        uint64_t pages = s1.page_entries - s0.page_entries;
        s2t_detail_dec("level", level);
        s2t_detail_dec("block_entries", (int64_t)blocks);
        s2t_detail_dec("page_entries", (int64_t)pages);
        s2t_detail_dec("tables", (int64_t)s1.tables);
        ok = ok && blocks == 1 && pages == 0 && s1.tables == s1.tables_in_use &&
             go(&b, s2t_guest_load, ipa + size - 8, 0) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 1) == magic;
    }
    bvm_down(&b);
    s2t_finish(name, ok);
}

/* Two VMs take turns on this PE with different pages at the same IPA. They
 * share VMID 1: the backend invalidates this PE's TLB when the other VM's
 * tables come in, so each guest reads its own page. */
static void case_vm_switch(void)
{
    const char *name = "backend.vm_switch.same_ipa_two_vms";
    s2t_begin(name);
    bvm_t a, b;
    bool ok = false;
    uint64_t *pa = s2t_alloc_aligned(4096, 4096), *pb = s2t_alloc_aligned(4096, 4096);
    pa[0] = 0xaaaa;
    pb[0] = 0xbbbb;
    b.vm = NULL;
    if (bvm_up(&a, 0, 40, 0) == VCORE_OK && bvm_up(&b, 1, 36, 0) == VCORE_OK &&
        map(&a, MB(64), pa, 4096, 0) == VCORE_OK && map(&b, MB(64), pb, 4096, 0) == VCORE_OK) {
        ok = true;
        for (int i = 0; i < 3 && ok; i++) {
            ok = go(&a, s2t_guest_load, MB(64), 0) == VCORE_OK && is_hvc(&a, 0) && reg(&a, 1) == 0xaaaa &&
                 go(&b, s2t_guest_load, MB(64), 0) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 1) == 0xbbbb;
        }
        s2t_detail_hex("a", reg(&a, 1));
        s2t_detail_hex("b", reg(&b, 1));
    }
    bvm_down(&b);
    bvm_down(&a);
    s2t_free(pa, 4096);
    s2t_free(pb, 4096);
    s2t_finish(name, ok);
}

/* ---- geometries ---- */

static const char *gname(uint32_t granule)
{
    return granule == 4096u ? "4k" : granule == 16384u ? "16k" : "64k";
}

static void name_geom(char *out, uint32_t granule, uint32_t ipa)
{
    const char *parts[3] = {"backend.geom.", gname(granule), ".ipa"};
    size_t k = 0;
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p; p++)
            out[k++] = *p;
    out[k++] = (char)('0' + ipa / 10);
    out[k++] = (char)('0' + ipa % 10);
    out[k] = '\0';
}

/* A load outside RAM must come back as an MMIO exit for a translation fault
 * at the level the library's table says. */
static bool hole(bvm_t *b, uint64_t ipa, const char *tag)
{
    vcore_arm64_s2_lookup_t l = {.size = sizeof(l)};
    if (vcore_arm64_s2_lookup(vcore_arm64_el2_stage2(b->vm), ipa, &l) != VCORE_OK || l.mapped)
        return false;
    bool ok = go(b, s2t_guest_load, ipa, 0) == VCORE_OK && b->ex.reason == VCORE_EXIT_MMIO &&
              b->ex.u.mmio.fault == VCORE_EXIT_FAULT_TRANSLATION && b->ex.u.mmio.level == l.level &&
              b->ex.u.mmio.gpa == ipa;
    s2t_detail_dec(tag, l.level);
    if (!ok)
        show(b);
    return ok;
}

/* Every IPA size with a granule: the library's geometry (compared with the
 * public geometry function), first and last page of the IPA space through
 * the memory map, two holes. */
static void case_geom(uint32_t granule, uint32_t ipa)
{
    char name[48];
    name_geom(name, granule, ipa);
    s2t_begin(name);
    uint64_t base = s2t_heap_used_pages();
    bvm_t b;
    bool ok = false;
    uint64_t *p0 = NULL, *p1 = NULL;
    if (bvm_up(&b, 0, ipa, granule) == VCORE_OK) {
        vcore_arm64_s2_config_t c;
        memset(&c, 0, sizeof(c));
        c.size = sizeof(c);
        c.ipa_bits = ipa;
        c.granule = granule;
        c.mmfr0 = mmfr0;
        c.mmfr1 = mmfr1;
        vcore_arm64_s2_geom_t want;
        memset(&want, 0, sizeof(want));
        want.size = sizeof(want);
        bool same = vcore_arm64_s2_geometry(&c, &want, NULL) == VCORE_OK && want.vtcr == b.g->vtcr &&
                    want.start_level == b.g->start_level && want.concat == b.g->concat;
        s2t_detail_dec("start", b.g->start_level);
        s2t_detail_dec("levels", b.g->levels);
        s2t_detail_dec("concat", b.g->concat);
        s2t_detail_hex("vtcr", b.g->vtcr);
        uint64_t top = 1ull << ipa, g = b.gsz;
        p0 = s2t_alloc_aligned(g, g);
        p1 = s2t_alloc_aligned(g, g);
        p0[0] = 0xa0a0a0a000000000ull | ipa;
        p1[g / 8 - 1] = 0xb1b1b1b100000000ull | ipa;
        ok = same && map(&b, 0, p0, g, 0) == VCORE_OK && map(&b, top - g, p1, g, 0) == VCORE_OK &&
             go(&b, s2t_guest_load, 0, 0) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 1) == p0[0] &&
             go(&b, s2t_guest_load, top - 8, 0) == VCORE_OK && is_hvc(&b, 0) && reg(&b, 1) == p1[g / 8 - 1] &&
             go(&b, s2t_guest_store, g / 2, 0x5705e5705e5705e5ull) == VCORE_OK && is_hvc(&b, 0) &&
             p0[g / 16] == 0x5705e5705e5705e5ull && hole(&b, (top >> 1) + 0x18, "hole_mid_level") &&
             hole(&b, g + 0x40, "hole_next_level");
        if (!same)
            s2t_detail(" geometry-differs");
    }
    bvm_down(&b);
    if (p0) {
        s2t_free(p0, b.gsz);
        s2t_free(p1, b.gsz);
    }
    if (s2t_heap_used_pages() != base) {
        s2t_detail(" leak");
        ok = false;
    }
    s2t_finish(name, ok);
}

#define NGEOM (3u * 17u)

uint32_t s2t_backend_cases(void) { return NGEOM + 25u; }

void s2t_backend_run(uint64_t m0, uint64_t m1)
{
    mmfr0 = m0;
    mmfr1 = m1;
    case_hvc();
    case_smc("backend.smc.psci_version", 0x84000000u, VCORE_EXIT_HYPERCALL, 0);
    case_smc("backend.smc.psci_system_off", 0x84000008u, VCORE_EXIT_SYSTEM_EVENT, 1);
    case_smc("backend.smc.psci_system_reset", 0x84000009u, VCORE_EXIT_SYSTEM_EVENT, 2);
    case_wfx();
    case_mrs(false);
    case_mrs(true);
    case_msr();
    case_guest_exception("backend.guest_exception.svc_at_el1", s2t_guest_svc, ESR_EL1_SVC42,
                         addr(s2t_guest_svc) + 4);
    case_guest_exception("backend.guest_exception.udf_at_el1", s2t_guest_udf, ESR_EL1_UNDEF, addr(s2t_guest_udf));
    case_mmio_read("backend.mmio.load_w", s2t_guest_load_w, 4, 5, 0x8badf00dull, 0x8badf00dull);
    case_mmio_read("backend.mmio.ldrsh_sign_extends", s2t_guest_ldrsh, 2, 6, 0x8001, 0xffff8001ull);
    case_mmio_write();
    case_read_only(VCORE_ARM64_GRANULE_4K, "backend.ro.write_fault.4k");
    case_read_only(VCORE_ARM64_GRANULE_16K, "backend.ro.write_fault.16k");
    case_read_only(VCORE_ARM64_GRANULE_64K, "backend.ro.write_fault.64k");
    case_stage2_faults();
    case_remap(VCORE_ARM64_GRANULE_4K, "backend.tlb.unmap_remap.4k");
    case_remap(VCORE_ARM64_GRANULE_16K, "backend.tlb.unmap_remap.16k");
    case_remap(VCORE_ARM64_GRANULE_64K, "backend.tlb.unmap_remap.64k");
    case_blocks("backend.block.4k.l1_1g", VCORE_ARM64_GRANULE_4K, GB(2), 0x40000000ull, GB(1), 1);
    case_blocks("backend.block.4k.l2_2m", VCORE_ARM64_GRANULE_4K, GB(3), 0x40000000ull, MB(2), 2);
    case_blocks("backend.block.16k.l2_32m", VCORE_ARM64_GRANULE_16K, GB(2), 0x40000000ull, MB(32), 2);
    case_blocks("backend.block.64k.l2_512m", VCORE_ARM64_GRANULE_64K, GB(2), 0x60000000ull, MB(512), 2);
    case_vm_switch();
    static const uint32_t grans[3] = {VCORE_ARM64_GRANULE_4K, VCORE_ARM64_GRANULE_16K, VCORE_ARM64_GRANULE_64K};
    for (int gi = 0; gi < 3; gi++)
        for (uint32_t ipa = 32; ipa <= 48; ipa++)
            case_geom(grans[gi], ipa);
}
