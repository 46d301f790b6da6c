/*
 * test_kvm_arm64_fake.c - the kvm backend's arm64 path against a fake
 * kernel: an AArch64 binary (cross-compiled, run under qemu-aarch64 by
 * tests/kvm/run_arm64_fake.sh), self-contained because the test framework
 * of the host is not available for aarch64.
 *
 * The fake follows Documentation/virt/kvm/api.rst: KVM_CREATE_VM with the
 * IPA size in type bits 7:0, KVM_ARM_PREFERRED_TARGET / KVM_ARM_VCPU_INIT
 * before KVM_RUN (-ENOEXEC otherwise), KVM_GET/SET_ONE_REG on a register
 * file indexed by register id (an id it does not know is -ENOENT),
 * KVM_HAS/SET_DEVICE_ATTR for the SMCCC filter (devices/vm.rst: -EPERM on
 * the reserved Arm Architecture Calls, -EEXIST on overlaps), KVM_RUN with
 * scripted exits; KVM_EXIT_MMIO reads are completed by the "kernel" from
 * kvm_run.mmio.data at the next KVM_RUN.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-kvm/kvm_priv.h"
#include "virtcore/virtcore.h"

#if !defined(__aarch64__)
#error "test_kvm_arm64_fake is an AArch64 program"
#endif

/* ---- a minimal test harness ---- */
static int failed_checks;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            failed_checks++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)
#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: 0x%llx != 0x%llx\n", __FILE__, __LINE__, #a,   \
                    #b, a_, b_);                                                                   \
            failed_checks++;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- the fake kernel ---- */
#define FK_RUN_SIZE 8192
#define FK_MAX_REGS 64
#define FK_MAX_SCRIPT 8
#define FK_MAX_FILTERS 8

typedef struct fk {
    int next_fd, open_fds, mapped;
    uint32_t ipa_limit;        /* KVM_CAP_ARM_VM_IPA_SIZE */
    bool has_filter;           /* KVM_ARM_VM_SMCCC_CTRL known */
    uint64_t vm_type;
    bool vcpu_inited;
    uint32_t init_features;
    struct kvm_run *run;
    struct { uint64_t id, v; } reg[FK_MAX_REGS];
    int nreg;
    int get_one, set_one, runs;
    int get_err;               /* if not 0: every KVM_GET_ONE_REG fails with it */
    int set_attr_calls;
    struct { uint32_t base, n; uint8_t action; } filter[FK_MAX_FILTERS];
    int nfilter;
    struct { uint32_t reason; uint8_t u[256]; } script[FK_MAX_SCRIPT];
    int nscript, next;
    uint64_t mmio_completed;   /* the MMIO data the "kernel" found at the next KVM_RUN */
} fk_t;

static fk_t fk;

/* Register ids the fake knows: X0-X30, SP, PC, PSTATE, SP_EL1, ELR_EL1,
 * SPSR_EL1 (core) and the eight EL1 system registers. */
static uint64_t core_id(size_t off) { return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (off / 4); }
static uint64_t sys_id(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2)
{
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG | (uint64_t)op0 << 14 |
           (uint64_t)op1 << 11 | (uint64_t)crn << 7 | (uint64_t)crm << 3 | op2;
}

static void fk_add_reg(uint64_t id, uint64_t v)
{
    fk.reg[fk.nreg].id = id;
    fk.reg[fk.nreg].v = v;
    fk.nreg++;
}

static uint64_t *fk_reg(uint64_t id)
{
    for (int i = 0; i < fk.nreg; i++)
        if (fk.reg[i].id == id)
            return &fk.reg[i].v;
    return NULL;
}

static uint64_t x_id(unsigned n) { return core_id(offsetof(struct kvm_regs, regs.regs) + 8 * n); }
#define PC_ID core_id(offsetof(struct kvm_regs, regs.pc))
#define PSTATE_ID core_id(offsetof(struct kvm_regs, regs.pstate))
#define SP_ID core_id(offsetof(struct kvm_regs, regs.sp))
#define SP_EL1_ID core_id(offsetof(struct kvm_regs, sp_el1))
#define ELR_EL1_ID core_id(offsetof(struct kvm_regs, elr_el1))
#define SPSR_EL1_ID core_id(offsetof(struct kvm_regs, spsr[KVM_SPSR_EL1]))
#define SCTLR_ID sys_id(3, 0, 1, 0, 0)
#define TCR_ID sys_id(3, 0, 2, 0, 2)
#define TTBR0_ID sys_id(3, 0, 2, 0, 0)
#define TTBR1_ID sys_id(3, 0, 2, 0, 1)
#define MAIR_ID sys_id(3, 0, 10, 2, 0)
#define VBAR_ID sys_id(3, 0, 12, 0, 0)
#define ESR_ID sys_id(3, 0, 5, 2, 0)
#define FAR_ID sys_id(3, 0, 6, 0, 0)

static void fk_reset(void)
{
    memset(&fk, 0, sizeof fk);
    fk.next_fd = 100;
    fk.ipa_limit = 48;
    fk.has_filter = true;
    for (unsigned i = 0; i < 31; i++)
        fk_add_reg(x_id(i), 0);
    fk_add_reg(SP_ID, 0);
    fk_add_reg(PC_ID, 0);
    /* KVM's own vCPU reset: EL1h with D, A, I, F masked. */
    fk_add_reg(PSTATE_ID, 0x3c5);
    fk_add_reg(SP_EL1_ID, 0);
    fk_add_reg(ELR_EL1_ID, 0);
    fk_add_reg(SPSR_EL1_ID, 0);
    uint64_t sys[] = {SCTLR_ID, TCR_ID, TTBR0_ID, TTBR1_ID, MAIR_ID, VBAR_ID, ESR_ID, FAR_ID};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        fk_add_reg(sys[i], 0);
}

static void fk_push(uint32_t reason, const void *u, size_t len)
{
    fk.script[fk.nscript].reason = reason;
    memset(fk.script[fk.nscript].u, 0, 256);
    memcpy(fk.script[fk.nscript].u, u, len);
    fk.nscript++;
}

static int fk_open(void *ctx, const char *path, int flags)
{
    (void)ctx;
    (void)flags;
    if (strcmp(path, "/dev/kvm") != 0)
        return -ENOENT;
    fk.open_fds++;
    return fk.next_fd++;
}

static int fk_close(void *ctx, int fd)
{
    (void)ctx;
    (void)fd;
    fk.open_fds--;
    return 0;
}

static void *fk_mmap(void *ctx, size_t len, int fd, int *err)
{
    (void)ctx;
    (void)fd;
    (void)err;
    void *p = aligned_alloc(4096, len);
    memset(p, 0, len);
    fk.run = p;
    fk.mapped++;
    return p;
}

static int fk_munmap(void *ctx, void *addr, size_t len)
{
    (void)ctx;
    (void)len;
    free(addr);
    fk.mapped--;
    return 0;
}

static int fk_filter(const struct kvm_device_attr *a)
{
    if (a->group != 0 || a->attr != 0)
        return -ENXIO;
    const uint8_t *p = (const uint8_t *)(uintptr_t)a->addr;
    uint32_t base, n;
    memcpy(&base, p, 4);
    memcpy(&n, p + 4, 4);
    uint8_t action = p[8];
    if (!n || action > 2)
        return -EINVAL;
    uint64_t end = (uint64_t)base + n - 1;
    if (end > 0xffffffffull)
        return -EINVAL;
    /* Arm Architecture Calls are KVM's. */
    if ((base <= 0x8000ffffu && end >= 0x80000000u) || (base <= 0xc000ffffu && end >= 0xc0000000u))
        return -EPERM;
    for (int i = 0; i < fk.nfilter; i++)
        if (base <= (uint64_t)fk.filter[i].base + fk.filter[i].n - 1 && end >= fk.filter[i].base)
            return -EEXIST;
    fk.filter[fk.nfilter].base = base;
    fk.filter[fk.nfilter].n = n;
    fk.filter[fk.nfilter].action = action;
    fk.nfilter++;
    return 0;
}

static int fk_ioctl(void *ctx, int fd, unsigned long req, unsigned long arg)
{
    (void)ctx;
    (void)fd;
    switch (req) {
    case KVM_GET_API_VERSION:
        return 12;
    case KVM_GET_VCPU_MMAP_SIZE:
        return FK_RUN_SIZE;
    case KVM_CHECK_EXTENSION:
        if (arg == KVM_CAP_ARM_VM_IPA_SIZE)
            return (int)fk.ipa_limit;
        if (arg == KVM_CAP_IMMEDIATE_EXIT || arg == KVM_CAP_READONLY_MEM)
            return 1;
        return 0;
    case KVM_CREATE_VM:
        fk.vm_type = arg;
        /* Type bits 7:0: the IPA size, 32..limit (0 = 40). */
        if ((arg & ~0xfful) || ((arg & 0xff) && ((arg & 0xff) < 32 || (arg & 0xff) > fk.ipa_limit)))
            return -EINVAL;
        fk.open_fds++;
        return fk.next_fd++;
    case KVM_HAS_DEVICE_ATTR: {
        const struct kvm_device_attr *a = (const void *)arg;
        return fk.has_filter && a->group == 0 && a->attr == 0 ? 0 : -ENXIO;
    }
    case KVM_SET_DEVICE_ATTR:
        fk.set_attr_calls++;
        return fk.has_filter ? fk_filter((const void *)arg) : -ENXIO;
    case KVM_CREATE_VCPU:
        fk.open_fds++;
        return fk.next_fd++;
    case KVM_ARM_PREFERRED_TARGET: {
        struct kvm_vcpu_init *init = (void *)arg;
        memset(init, 0, sizeof *init);
        init->target = KVM_ARM_TARGET_GENERIC_V8;
        return 0;
    }
    case KVM_ARM_VCPU_INIT: {
        const struct kvm_vcpu_init *init = (const void *)arg;
        if (init->target != KVM_ARM_TARGET_GENERIC_V8)
            return -EINVAL;
        fk.vcpu_inited = true;
        fk.init_features = init->features[0];
        return 0;
    }
    case KVM_GET_ONE_REG:
    case KVM_SET_ONE_REG: {
        const struct kvm_one_reg *r = (const void *)arg;
        uint64_t *v = fk_reg(r->id);
        if (!v)
            return -ENOENT;
        if (req == KVM_GET_ONE_REG) {
            if (fk.get_err)
                return fk.get_err;
            fk.get_one++;
            memcpy((void *)(uintptr_t)r->addr, v, 8);
        } else {
            fk.set_one++;
            memcpy(v, (const void *)(uintptr_t)r->addr, 8);
        }
        return 0;
    }
    case KVM_SET_USER_MEMORY_REGION:
        return 0;
    case KVM_RUN: {
        struct kvm_run *run = fk.run;
        if (!fk.vcpu_inited)
            return -ENOEXEC;
        fk.runs++;
        /* The kernel completes an MMIO read from mmio.data (api.rst). */
        if (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write)
            memcpy(&fk.mmio_completed, run->mmio.data, 8);
        if (fk.next >= fk.nscript)
            return -EINVAL;
        run->exit_reason = fk.script[fk.next].reason;
        memcpy(&run->hw, fk.script[fk.next].u, 256);
        fk.next++;
        return 0;
    }
    default:
        fprintf(stderr, "fake kernel: unexpected ioctl %#lx\n", req);
        abort();
    }
}

static int fake_vm_init(vcore_vm_t *vm, void *priv)
{
    vcore_kvm_vm_t *kvm = priv;
    kvm->sys.ctx = &fk;
    kvm->sys.open = fk_open;
    kvm->sys.ioctl = fk_ioctl;
    kvm->sys.mmap = fk_mmap;
    kvm->sys.munmap = fk_munmap;
    kvm->sys.close = fk_close;
    return vcore__backend_kvm_ops.vm_init(vm, priv);
}

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

static vcore_backend_t fake_backend;
static vcore_host_t host;
static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;

static int make_vm_granule(uint32_t ipa, uint32_t granule);
static int make_vm(uint32_t ipa) { return make_vm_granule(ipa, 0); }

static int make_vm_granule(uint32_t ipa, uint32_t granule)
{
    fake_backend = vcore__backend_kvm_ops;
    fake_backend.vm_init = fake_vm_init;
    fake_backend.probe = NULL;
    memset(&host, 0, sizeof host);
    host.size = sizeof host;
    host.alloc = h_alloc;
    host.free = h_free;
    host.log_level = -1;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &fake_backend;
    cfg.host = &host;
    cfg.arch = VCORE_ARCH_ARM64;
    cfg.ipa_bits = ipa;
    cfg.granule = granule;
    int rc = vcore_vm_create(&cfg, &vm);
    if (rc)
        return rc;
    return vcore_vcpu_create(vm, NULL, &vcpu);
}

static void down(void)
{
    vcore_vm_destroy(vm);
    vm = NULL;
}

/* ---- tests ---- */

static void vm_type_and_vcpu_init(void)
{
    fk_reset();
    CHECK_EQ(make_vm(44), VCORE_OK);
    CHECK_EQ(fk.vm_type, 44);           /* KVM_VM_TYPE_ARM_IPA_SIZE(44) */
    CHECK(fk.vcpu_inited);
    CHECK_EQ(fk.init_features, 1u << 2); /* KVM_ARM_VCPU_PSCI_0_2 */
    down();
    CHECK_EQ(fk.open_fds, 0);
    CHECK_EQ(fk.mapped, 0);
    /* A stage-2 granule is KVM's (the host page size): refused. */
    fk_reset();
    CHECK_EQ(make_vm_granule(40, 16384), VCORE_ERR_UNSUPPORTED);
    CHECK_EQ(fk.vm_type, 0);
    CHECK_EQ(fk.open_fds, 0);
    /* Above the host's limit: refused before KVM_CREATE_VM. */
    fk_reset();
    CHECK(make_vm(52) != VCORE_OK);
    CHECK_EQ(fk.vm_type, 0);
    CHECK_EQ(fk.open_fds, 0);
}

/* The filter forwards everything but the Arm Architecture Calls and PSCI. */
static void smccc_filter_installed(void)
{
    fk_reset();
    CHECK_EQ(make_vm(40), VCORE_OK);
    CHECK_EQ(fk.nfilter, 5);
    CHECK_EQ(fk.set_attr_calls, 5);
    CHECK(((const vcore_kvm_vm_t *)vcore_vm_backend_priv(vm))->features & VCORE_KVM_F_SMCCC_FWD);
    uint64_t covered = 0;
    for (int i = 0; i < fk.nfilter; i++) {
        CHECK_EQ(fk.filter[i].action, 2); /* KVM_SMCCC_FILTER_FWD_TO_USER */
        covered += fk.filter[i].n;
    }
    /* 2^32 ids minus 2 x 0x10000 reserved minus 2 x 0x20 PSCI. */
    CHECK_EQ(covered, 0x100000000ull - 0x20000ull - 0x40ull);
    for (int i = 0; i < fk.nfilter; i++) {
        uint64_t end = (uint64_t)fk.filter[i].base + fk.filter[i].n;
        CHECK(!(fk.filter[i].base <= 0x84000000u && end > 0x84000000u)); /* PSCI_VERSION stays KVM's */
        CHECK(!(fk.filter[i].base <= 0xc4000003u && end > 0xc4000003u)); /* CPU_ON (SMC64) stays KVM's */
    }
    down();
    /* A kernel without the filter: no error, KVM keeps every call. */
    fk_reset();
    fk.has_filter = false;
    CHECK_EQ(make_vm(40), VCORE_OK);
    CHECK_EQ(fk.nfilter, 0);
    CHECK(!(((const vcore_kvm_vm_t *)vcore_vm_backend_priv(vm))->features & VCORE_KVM_F_SMCCC_FWD));
    down();
}

/* The core's RESET state reaches KVM through KVM_SET_ONE_REG; reads come back by id. */
static void registers_by_one_reg(void)
{
    fk_reset();
    CHECK_EQ(make_vm(40), VCORE_OK);
    vcore_arm64_regs_t r = {.size = sizeof r};
    CHECK_EQ(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_OK);
    for (unsigned i = 0; i < 31; i++)
        r.x[i] = 0x1000 + i;
    r.sp_el0 = 0xa0;
    r.sp_el1 = 0xa1;
    r.pc = 0x40080000;
    r.pstate = 0x3c4;
    r.elr_el1 = 0xe1;
    r.spsr_el1 = 0x5;
    CHECK_EQ(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    vcore_arm64_sysregs_t s = {.size = sizeof s};
    CHECK_EQ(vcore_vcpu_get_arm64_sysregs(vcpu, &s), VCORE_OK);
    s.tcr_el1 = 0x7c;
    s.ttbr0_el1 = 0x7000;
    s.ttbr1_el1 = 0x8000;
    s.mair_el1 = 0xff44;
    s.vbar_el1 = 0x800;
    s.esr_el1 = 0x56000000;
    s.far_el1 = 0xfa;
    CHECK_EQ(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_OK);
    uint8_t hlt[256] = {0};
    fk_push(KVM_EXIT_HLT, hlt, sizeof hlt);
    vcore_exit_t e = {.size = sizeof e};
    int sets_before = fk.set_one;
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(e.reason, VCORE_EXIT_HLT);
    /* 37 registers of REGS and 8 of SYSREGS, one KVM_SET_ONE_REG each. */
    CHECK_EQ(fk.set_one - sets_before, 37 + 8);
    CHECK_EQ(*fk_reg(x_id(7)), 0x1007);
    CHECK_EQ(*fk_reg(x_id(30)), 0x101e);
    CHECK_EQ(*fk_reg(SP_ID), 0xa0);
    CHECK_EQ(*fk_reg(SP_EL1_ID), 0xa1);
    CHECK_EQ(*fk_reg(PC_ID), 0x40080000);
    CHECK_EQ(*fk_reg(PSTATE_ID), 0x3c4);
    CHECK_EQ(*fk_reg(ELR_EL1_ID), 0xe1);
    CHECK_EQ(*fk_reg(SPSR_EL1_ID), 0x5);
    /* RESET SCTLR_EL1: the RES1 bits, MMU and caches off. */
    CHECK_EQ(*fk_reg(SCTLR_ID), 0x30d00800ull);
    CHECK_EQ(*fk_reg(TCR_ID), 0x7c);
    CHECK_EQ(*fk_reg(TTBR0_ID), 0x7000);
    CHECK_EQ(*fk_reg(TTBR1_ID), 0x8000);
    CHECK_EQ(*fk_reg(MAIR_ID), 0xff44);
    CHECK_EQ(*fk_reg(VBAR_ID), 0x800);
    CHECK_EQ(*fk_reg(ESR_ID), 0x56000000);
    CHECK_EQ(*fk_reg(FAR_ID), 0xfa);
    /* The guest moved: reads come from KVM (only the asked group). */
    *fk_reg(PC_ID) = 0x40080004;
    *fk_reg(x_id(3)) = 0x33;
    *fk_reg(VBAR_ID) = 0x1000;
    int gets_before = fk.get_one;
    CHECK_EQ(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_OK);
    CHECK_EQ(fk.get_one - gets_before, 37);
    CHECK_EQ(r.pc, 0x40080004);
    CHECK_EQ(r.x[3], 0x33);
    CHECK_EQ(vcore_vcpu_get_arm64_sysregs(vcpu, &s), VCORE_OK);
    CHECK_EQ(s.vbar_el1, 0x1000);
    CHECK_EQ(s.cntvoff_el2, 0);
    /* CNTVOFF_EL2 is KVM's: a non-zero value is refused, nothing written. */
    s.cntvoff_el2 = 5;
    CHECK_EQ(vcore_vcpu_set_arm64_sysregs(vcpu, &s), VCORE_OK); /* the model takes it ... */
    fk_push(KVM_EXIT_HLT, hlt, sizeof hlt);
    sets_before = fk.set_one;
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_ERR_UNSUPPORTED);   /* ... KVM cannot */
    CHECK_EQ(fk.set_one, sets_before);
    down();
}

static void mmio_exit_and_completion(void)
{
    fk_reset();
    CHECK_EQ(make_vm(40), VCORE_OK);
    struct {
        uint64_t phys_addr;
        uint8_t data[8];
        uint32_t len;
        uint8_t is_write;
    } mm = {0x09000000, {0}, 4, 0};
    fk_push(KVM_EXIT_MMIO, &mm, sizeof mm);
    uint8_t hlt[256] = {0};
    fk_push(KVM_EXIT_HLT, hlt, sizeof hlt);
    vcore_exit_t e = {.size = sizeof e};
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(e.reason, VCORE_EXIT_MMIO);
    CHECK_EQ(e.u.mmio.gpa, 0x09000000);
    CHECK_EQ(e.u.mmio.len, 4);
    CHECK(!e.u.mmio.is_write);
    CHECK(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    CHECK_EQ(e.raw.reason, KVM_EXIT_MMIO);
    e.u.mmio.data[0] = 0x78;
    e.u.mmio.data[1] = 0x56;
    e.u.mmio.data[2] = 0x34;
    e.u.mmio.data[3] = 0x12;
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(fk.mmio_completed, 0x12345678);
    CHECK_EQ(e.reason, VCORE_EXIT_HLT);
    down();
}

/* KVM_EXIT_HYPERCALL (SMCCC filter): args from X0..X5, the reply into X0. */
static void hypercall_exit_and_reply(void)
{
    fk_reset();
    CHECK_EQ(make_vm(40), VCORE_OK);
    vcore_arm64_regs_t r = {.size = sizeof r};
    CHECK_EQ(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_OK);
    for (unsigned i = 0; i < 7; i++)
        r.x[i] = 0xc6000000u + i;
    CHECK_EQ(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    struct {
        uint64_t nr;
        uint64_t args[6];
        uint64_t ret;
        uint64_t flags;
    } hc = {0xc6000000u, {0}, 0, 1 /* KVM_HYPERCALL_EXIT_SMC */};
    fk_push(KVM_EXIT_HYPERCALL, &hc, sizeof hc);
    uint8_t hlt[256] = {0};
    fk_push(KVM_EXIT_HLT, hlt, sizeof hlt);
    vcore_exit_t e = {.size = sizeof e};
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(e.reason, VCORE_EXIT_HYPERCALL);
    CHECK(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    CHECK_EQ(e.u.hypercall.nr, 0);
    CHECK_EQ(e.u.hypercall.ret, 0); /* X6 is not an argument */
    for (unsigned i = 0; i < 6; i++)
        CHECK_EQ(e.u.hypercall.args[i], 0xc6000000u + i);
    /* raw keeps KVM's view: the function id and the SMC conduit flag. */
    uint64_t raw_nr, raw_flags;
    memcpy(&raw_nr, &e.raw.data[0], 8);
    memcpy(&raw_flags, &e.raw.data[8], 8);
    CHECK_EQ(raw_nr, 0xc6000000u);
    CHECK_EQ(raw_flags, 1);
    /* X1..X3 written by the VMM and X0 by the reply: both reach KVM. */
    CHECK_EQ(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_OK);
    r.x[1] = 0x11;
    CHECK_EQ(vcore_vcpu_set_arm64_regs(vcpu, &r), VCORE_OK);
    e.u.hypercall.ret = 0xfffffffffffffffeull; /* SMCCC NOT_REQUIRED */
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(*fk_reg(x_id(0)), 0xfffffffffffffffeull);
    CHECK_EQ(*fk_reg(x_id(1)), 0x11);
    /* After a reset nothing is answered: X0 keeps the RESET value. */
    fk_push(KVM_EXIT_HYPERCALL, &hc, sizeof hc);
    fk_push(KVM_EXIT_HLT, hlt, sizeof hlt);
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(e.reason, VCORE_EXIT_HYPERCALL);
    CHECK_EQ(vcore_vcpu_reset(vcpu), VCORE_OK);
    e.u.hypercall.ret = 0x99;
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(*fk_reg(x_id(0)), 0);
    down();
}

/* A refused KVM_GET_ONE_REG: the errno decides the error; nothing of the
 * model changes; a hypercall exit whose arguments cannot be read is an error. */
static void one_reg_failures(void)
{
    fk_reset();
    CHECK_EQ(make_vm(40), VCORE_OK);
    uint8_t hlt[256] = {0};
    fk_push(KVM_EXIT_HLT, hlt, sizeof hlt);
    vcore_exit_t e = {.size = sizeof e};
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vcore_arm64_regs_t r = {.size = sizeof r};
    fk.get_err = -ENOMEM;
    CHECK_EQ(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_ERR_NOMEM);
    fk.get_err = -EFAULT;
    CHECK_EQ(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_ERR_FAULT);
    fk.get_err = -EINVAL;
    CHECK_EQ(vcore_vcpu_get_arm64_regs(vcpu, &r), VCORE_ERR_HWFAIL);
    fk.get_err = 0;
    struct {
        uint64_t nr;
        uint64_t args[6];
        uint64_t ret;
        uint64_t flags;
    } hc = {0xc6000001u, {0}, 0, 0};
    fk_push(KVM_EXIT_HYPERCALL, &hc, sizeof hc);
    fk.get_err = -EINVAL;
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_ERR_HWFAIL);
    fk.get_err = 0;
    down();
}

/* KVM keeps the counter offset: a SYSREGS read reports 0 whatever the model held. */
static void cntvoff_reads_zero(void)
{
    fk_reset();
    CHECK_EQ(make_vm(40), VCORE_OK);
    vcore_arm64_state_t st;
    memset(&st, 0, sizeof st);
    st.regs.size = sizeof st.regs;
    st.sys.size = sizeof st.sys;
    st.sys.cntvoff_el2 = 0x55;
    st.regs.x[0] = 0x77;
    *fk_reg(VBAR_ID) = 0x800;
    vcore_vcpu_state_t s = {.arch = VCORE_ARCH_ARM64, .u.arm64 = &st};
    CHECK_EQ(vcore__backend_kvm_ops.vcpu_get_state(vcpu, vcore_vcpu_backend_priv(vcpu), &s,
                                                   VCORE_ARM64_STATE_SYSREGS),
             VCORE_OK);
    CHECK_EQ(st.sys.cntvoff_el2, 0);
    CHECK_EQ(st.sys.vbar_el1, 0x800);
    CHECK_EQ(st.regs.x[0], 0x77); /* a group not asked for is left alone */
    down();
}

/* PSCI SYSTEM_OFF handled by KVM: KVM_EXIT_SYSTEM_EVENT, shutdown (type 1). */
static void system_event(void)
{
    fk_reset();
    CHECK_EQ(make_vm(40), VCORE_OK);
    struct {
        uint32_t type;
        uint32_t ndata;
        uint64_t data[16];
    } se = {1 /* KVM_SYSTEM_EVENT_SHUTDOWN */, 1, {0}};
    fk_push(KVM_EXIT_SYSTEM_EVENT, &se, sizeof se);
    vcore_exit_t e = {.size = sizeof e};
    CHECK_EQ(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    CHECK_EQ(e.reason, VCORE_EXIT_SYSTEM_EVENT);
    CHECK_EQ(e.u.system_event.type, 1);
    down();
}

int main(void)
{
    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"vm_type_and_vcpu_init", vm_type_and_vcpu_init},
        {"smccc_filter_installed", smccc_filter_installed},
        {"registers_by_one_reg", registers_by_one_reg},
        {"mmio_exit_and_completion", mmio_exit_and_completion},
        {"hypercall_exit_and_reply", hypercall_exit_and_reply},
        {"system_event", system_event},
        {"one_reg_failures", one_reg_failures},
        {"cntvoff_reads_zero", cntvoff_reads_zero},
    };
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = failed_checks;
        tests[i].fn();
        if (failed_checks == before) {
            passed++;
            printf("PASS %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
