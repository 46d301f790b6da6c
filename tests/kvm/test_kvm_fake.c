/*
 * The kvm backend against a fake kernel: every failure the real kernel can
 * report (open refused, ENOMEM, EFAULT, EINTR, EAGAIN, a refused
 * KVM_SET_CPUID2) and every exit reason, without /dev/kvm.
 *
 * How the fake gets in without global state: the test builds its own
 * vcore_backend_t, a copy of the kvm ops whose vm_init first fills the
 * private system-call table (vcore_kvm_sys_t) with the fake and then calls
 * the real vm_init, which keeps entries that are already set. The fake
 * kernel itself is the host services' ctx.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend-kvm/kvm_priv.h"
#include "kvm_support.h"

#define FK_MAX_INJECT 8
#define FK_MAX_SCRIPT 16
#define FK_RUN_SIZE (3 * 4096)
#define FK_MAX_MSRS 32

typedef struct fake_exit {
    uint32_t reason;
    uint8_t u[256]; /* the exit union */
} fake_exit_t;

typedef struct fake_kernel {
    int next_fd;
    int open_fds;
    int mapped;
    int open_err;
    int mmap_err;
    struct {
        unsigned long req;
        int err;
        int times;
    } inject[FK_MAX_INJECT];
    struct kvm_run *run;
    fake_exit_t script[FK_MAX_SCRIPT];
    int nscript, next;
    int run_calls, eintr_runs, eagain_runs;
    struct kvm_run seen;     /* the kvm_run page as KVM_RUN found it (replies) */
    uint8_t seen_io[8];      /* the I/O data slot as KVM_RUN found it */
    uint8_t seen_immediate;
    int set_cpuid_calls;
    int msrs_short;          /* KVM_SET_MSRS processes only this many (if > 0) */
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_debugregs dregs;
    struct kvm_fpu fpu;
    struct kvm_xcrs xcrs;
    uint32_t msr_index[FK_MAX_MSRS];
    uint64_t msr_value[FK_MAX_MSRS];
    int nmsrs;
} fake_kernel_t;

static void fk_inject(fake_kernel_t *fk, unsigned long req, int err, int times)
{
    for (int i = 0; i < FK_MAX_INJECT; i++) {
        if (fk->inject[i].times == 0) {
            fk->inject[i].req = req;
            fk->inject[i].err = err;
            fk->inject[i].times = times;
            return;
        }
    }
    ck_abort_msg("too many injections");
}

static void fk_push(fake_kernel_t *fk, uint32_t reason, const void *u, size_t len)
{
    ck_assert_int_lt(fk->nscript, FK_MAX_SCRIPT);
    fake_exit_t *e = &fk->script[fk->nscript++];
    memset(e, 0, sizeof *e);
    e->reason = reason;
    if (u)
        memcpy(e->u, u, len);
}

static int fk_open(void *ctx, const char *path, int flags)
{
    fake_kernel_t *fk = ctx;
    (void)flags;
    ck_assert_str_eq(path, "/dev/kvm");
    if (fk->open_err)
        return -fk->open_err;
    fk->open_fds++;
    return fk->next_fd++;
}

static int fk_close(void *ctx, int fd)
{
    fake_kernel_t *fk = ctx;
    ck_assert_int_ge(fd, 100);
    fk->open_fds--;
    return 0;
}

static void *fk_mmap(void *ctx, size_t len, int fd, int *err)
{
    fake_kernel_t *fk = ctx;
    (void)fd;
    if (fk->mmap_err) {
        *err = fk->mmap_err;
        return NULL;
    }
    ck_assert_uint_eq(len, FK_RUN_SIZE);
    void *p = aligned_alloc(4096, len);
    memset(p, 0, len);
    fk->run = p;
    fk->mapped++;
    return p;
}

static int fk_munmap(void *ctx, void *addr, size_t len)
{
    fake_kernel_t *fk = ctx;
    ck_assert_uint_eq(len, FK_RUN_SIZE);
    free(addr);
    if (addr == fk->run)
        fk->run = NULL;
    fk->mapped--;
    return 0;
}

static uint64_t *fk_msr(fake_kernel_t *fk, uint32_t index)
{
    for (int i = 0; i < fk->nmsrs; i++) {
        if (fk->msr_index[i] == index)
            return &fk->msr_value[i];
    }
    ck_assert_int_lt(fk->nmsrs, FK_MAX_MSRS);
    fk->msr_index[fk->nmsrs] = index;
    fk->msr_value[fk->nmsrs] = 0;
    return &fk->msr_value[fk->nmsrs++];
}

static int fk_run(fake_kernel_t *fk)
{
    struct kvm_run *run = fk->run;
    fk->run_calls++;
    memcpy(&fk->seen, run, sizeof fk->seen);
    fk->seen_immediate = run->immediate_exit;
    if (run->exit_reason == KVM_EXIT_IO && run->io.data_offset + 8 <= FK_RUN_SIZE)
        memcpy(fk->seen_io, (uint8_t *)run + run->io.data_offset, 8);
    if (run->immediate_exit) {
        run->exit_reason = KVM_EXIT_INTR;
        return -EINTR;
    }
    if (fk->eintr_runs > 0) {
        fk->eintr_runs--;
        run->exit_reason = KVM_EXIT_INTR;
        return -EINTR;
    }
    if (fk->eagain_runs > 0) {
        fk->eagain_runs--;
        return -EAGAIN;
    }
    ck_assert_msg(fk->next < fk->nscript, "KVM_RUN without a scripted exit");
    fake_exit_t *e = &fk->script[fk->next++];
    run->exit_reason = e->reason;
    memcpy(&run->hw, e->u, 256);
    return 0;
}

static int fk_ioctl(void *ctx, int fd, unsigned long req, unsigned long arg)
{
    fake_kernel_t *fk = ctx;
    void *p = (void *)arg;
    (void)fd;
    for (int i = 0; i < FK_MAX_INJECT; i++) {
        if (fk->inject[i].times > 0 && fk->inject[i].req == req) {
            fk->inject[i].times--;
            return -fk->inject[i].err;
        }
    }
    switch (req) {
    case KVM_GET_API_VERSION:
        return 12;
    case KVM_GET_VCPU_MMAP_SIZE:
        return FK_RUN_SIZE;
    case KVM_CHECK_EXTENSION:
        /* Everything but XSAVE (so the FPU class uses KVM_GET/SET_FPU). */
        return arg == KVM_CAP_XSAVE ? 0 : 1;
    case KVM_CREATE_VM:
    case KVM_CREATE_VCPU:
        fk->open_fds++;
        return fk->next_fd++;
    case KVM_ENABLE_CAP:
    case KVM_SET_USER_MEMORY_REGION:
        return 0;
    case KVM_GET_DIRTY_LOG: {
        struct kvm_dirty_log *l = p;
        ((uint64_t *)l->dirty_bitmap)[0] = 0x5;
        return 0;
    }
    case KVM_GET_REGS: memcpy(p, &fk->regs, sizeof fk->regs); return 0;
    case KVM_SET_REGS: memcpy(&fk->regs, p, sizeof fk->regs); return 0;
    case KVM_GET_SREGS: memcpy(p, &fk->sregs, sizeof fk->sregs); return 0;
    case KVM_SET_SREGS: memcpy(&fk->sregs, p, sizeof fk->sregs); return 0;
    case KVM_GET_DEBUGREGS: memcpy(p, &fk->dregs, sizeof fk->dregs); return 0;
    case KVM_SET_DEBUGREGS: memcpy(&fk->dregs, p, sizeof fk->dregs); return 0;
    case KVM_GET_FPU: memcpy(p, &fk->fpu, sizeof fk->fpu); return 0;
    case KVM_SET_FPU: {
        /* Like the real kernel: KVM_SET_FPU does not take MXCSR. */
        uint32_t mxcsr = fk->fpu.mxcsr;
        memcpy(&fk->fpu, p, sizeof fk->fpu);
        fk->fpu.mxcsr = mxcsr;
        return 0;
    }
    case KVM_GET_XCRS: memcpy(p, &fk->xcrs, sizeof fk->xcrs); return 0;
    case KVM_SET_XCRS: memcpy(&fk->xcrs, p, sizeof fk->xcrs); return 0;
    case KVM_GET_MSRS:
    case KVM_SET_MSRS: {
        struct kvm_msrs *m = p;
        struct kvm_msr_entry *e = (struct kvm_msr_entry *)(m + 1);
        uint32_t n = m->nmsrs;
        if (req == KVM_SET_MSRS && fk->msrs_short > 0 && (uint32_t)fk->msrs_short < n)
            n = (uint32_t)fk->msrs_short;
        for (uint32_t i = 0; i < n; i++) {
            if (req == KVM_GET_MSRS)
                e[i].data = *fk_msr(fk, e[i].index);
            else
                *fk_msr(fk, e[i].index) = e[i].data;
        }
        return (int)n;
    }
    case KVM_SET_CPUID2:
        fk->set_cpuid_calls++;
        return 0;
    case KVM_GET_SUPPORTED_CPUID: {
        struct kvm_cpuid2 *c = p;
        c->nent = 1;
        memset(&c->entries[0], 0, sizeof c->entries[0]);
        c->entries[0].eax = 0x1;
        return 0;
    }
    case KVM_RUN:
        return fk_run(fk);
    default:
        ck_abort_msg("fake kernel: unexpected ioctl %#lx", req);
        return -ENOTTY;
    }
}

static int fake_vm_init(vcore_vm_t *vm, void *priv)
{
    vcore_kvm_vm_t *kvm = priv;
    kvm->sys.ctx = vcore_vm_host(vm)->ctx;
    kvm->sys.open = fk_open;
    kvm->sys.ioctl = fk_ioctl;
    kvm->sys.mmap = fk_mmap;
    kvm->sys.munmap = fk_munmap;
    kvm->sys.close = fk_close;
    return vcore__backend_kvm_ops.vm_init(vm, priv);
}

static void *fk_alloc(void *ctx, size_t len)
{
    (void)ctx;
    void *p = aligned_alloc(64, (len + 63) / 64 * 64);
    if (p)
        memset(p, 0, len);
    return p;
}

static void fk_free(void *ctx, void *ptr, size_t len)
{
    (void)ctx;
    (void)len;
    free(ptr);
}

/* Test fixture: a fake kernel, the wrapped backend, a VM and a vCPU. */
static fake_kernel_t fk;
static vcore_backend_t fake_backend;
static vcore_host_t fake_host;
static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;

static int make_vm(vcore_vm_t **out)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &fake_backend;
    cfg.host = &fake_host;
    return vcore_vm_create(&cfg, out);
}

static void fk_reset(void)
{
    memset(&fk, 0, sizeof fk);
    fk.next_fd = 100;
    fk.fpu.fcw = 0x37f;
    fk.fpu.mxcsr = 0x1f80;
    fake_backend = vcore__backend_kvm_ops;
    fake_backend.vm_init = fake_vm_init;
    fake_backend.probe = NULL; /* the real probe opens /dev/kvm */
    memset(&fake_host, 0, sizeof fake_host);
    fake_host.size = sizeof fake_host;
    fake_host.ctx = &fk;
    fake_host.alloc = fk_alloc;
    fake_host.free = fk_free;
    fake_host.log_level = -1;
}

static void setup(void)
{
    fk_reset();
    ck_assert_int_eq(make_vm(&vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
}

static void teardown(void)
{
    vcore_vm_destroy(vm);
    ck_assert_int_eq(fk.open_fds, 0);
    ck_assert_int_eq(fk.mapped, 0);
}

static void run_expect(vcore_exit_t *ex, uint32_t reason)
{
    ck_assert_int_eq(vcore_vcpu_run(vcpu, ex), VCORE_OK);
    ck_assert_msg(ex->reason == reason, "exit %s, expected %s", vcore_exit_reason_name(ex->reason),
                  vcore_exit_reason_name(reason));
}

/* ---- lifecycle and allocation failures ------------------------------------ */

START_TEST(lifecycle_no_leak)
{
    vcore_vcpu_t *more[3];
    for (uint32_t i = 0; i < 3; i++) {
        vcore_vcpu_config_t c;
        vcore_vcpu_config_init(&c);
        c.id = i + 1;
        /* max_vcpus defaults to 1: make a bigger VM for this. */
        (void)c;
    }
    vcore_vm_t *big = NULL;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &fake_backend;
    cfg.host = &fake_host;
    cfg.max_vcpus = 3;
    ck_assert_int_eq(vcore_vm_create(&cfg, &big), VCORE_OK);
    int fds = fk.open_fds;
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_int_eq(vcore_vcpu_create(big, NULL, &more[i]), VCORE_OK);
    ck_assert_int_eq(fk.open_fds, fds + 3);
    ck_assert_int_eq(fk.mapped, 1 + 3);
    vcore_vm_destroy(big);
    ck_assert_int_eq(fk.open_fds, 3); /* the fixture's /dev/kvm, VM and vCPU */
    ck_assert_int_eq(fk.mapped, 1);
}
END_TEST

START_TEST(open_failures)
{
    vcore_vm_t *v = NULL;
    fk.open_err = ENOENT;
    ck_assert_int_eq(make_vm(&v), VCORE_ERR_NODEV);
    fk.open_err = EACCES;
    ck_assert_int_eq(make_vm(&v), VCORE_ERR_NODEV);
    fk.open_err = ENOMEM;
    ck_assert_int_eq(make_vm(&v), VCORE_ERR_NOMEM);
    fk.open_err = 0;
    ck_assert_int_eq(fk.open_fds, 3);
}
END_TEST

START_TEST(create_vm_failures)
{
    vcore_vm_t *v = NULL;
    fk_inject(&fk, KVM_CREATE_VM, ENOMEM, 1);
    ck_assert_int_eq(make_vm(&v), VCORE_ERR_NOMEM);
    ck_assert_int_eq(fk.open_fds, 3); /* /dev/kvm closed again */
    fk_inject(&fk, KVM_CREATE_VM, EINVAL, 1);
    ck_assert_int_eq(make_vm(&v), VCORE_ERR_HWFAIL);
    /* EINTR is retried, not reported. */
    fk_inject(&fk, KVM_CREATE_VM, EINTR, 2);
    ck_assert_int_eq(make_vm(&v), VCORE_OK);
    vcore_vm_destroy(v);
    ck_assert_int_eq(fk.open_fds, 3);
}
END_TEST

START_TEST(create_vcpu_failures)
{
    vcore_vm_t *v = NULL;
    vcore_vcpu_t *c = NULL;
    ck_assert_int_eq(make_vm(&v), VCORE_OK);
    fk_inject(&fk, KVM_CREATE_VCPU, ENOMEM, 1);
    ck_assert_int_eq(vcore_vcpu_create(v, NULL, &c), VCORE_ERR_NOMEM);
    fk_inject(&fk, KVM_CREATE_VCPU, EEXIST, 1);
    ck_assert_int_eq(vcore_vcpu_create(v, NULL, &c), VCORE_ERR_HWFAIL);
    fk.mmap_err = ENOMEM;
    ck_assert_int_eq(vcore_vcpu_create(v, NULL, &c), VCORE_ERR_NOMEM);
    fk.mmap_err = EFAULT;
    ck_assert_int_eq(vcore_vcpu_create(v, NULL, &c), VCORE_ERR_HWFAIL);
    fk.mmap_err = 0;
    ck_assert_int_eq(fk.open_fds, 3 + 2); /* no vCPU fd left behind */
    ck_assert_int_eq(vcore_vcpu_create(v, NULL, &c), VCORE_OK);
    vcore_vm_destroy(v);
}
END_TEST

START_TEST(memory_failures)
{
    static uint8_t page[4096] __attribute__((aligned(4096)));
    vcore_mem_region_t r = {.size = sizeof r, .gpa = 0x1000, .len = 4096, .hva = page};
    fk_inject(&fk, KVM_SET_USER_MEMORY_REGION, ENOMEM, 1);
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_NOMEM);
    fk_inject(&fk, KVM_SET_USER_MEMORY_REGION, EINVAL, 1);
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_HWFAIL);
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    uint64_t bm = 0;
    ck_assert_int_ne(vcore_vm_get_dirty_log(vm, 0x1000, &bm, sizeof bm), VCORE_OK); /* not logged */
    r.gpa = 0x10000;
    r.flags = VCORE_MEM_LOG_DIRTY;
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vm_get_dirty_log(vm, 0x10000, &bm, sizeof bm), VCORE_OK);
    ck_assert_uint_eq(bm, 0x5);
    fk_inject(&fk, KVM_GET_DIRTY_LOG, EFAULT, 1);
    ck_assert_int_eq(vcore_vm_get_dirty_log(vm, 0x10000, &bm, sizeof bm), VCORE_ERR_FAULT);
}
END_TEST

/* ---- CPUID ------------------------------------------------------------------ */

START_TEST(set_cpuid2_refused_keeps_previous)
{
    vcore_cpuid_entry_t a[2] = {
        {0, 0, 0, 1, 0x756e6547, 0x6c65746e, 0x49656e69}, /* GenuineIntel, max leaf 1 */
        {1, 0, 0, 0x000506e3, 0, 0, 0},
    };
    vcore_cpuid_entry_t b[2] = {
        {0, 0, 0, 1, 0x68747541, 0x444d4163, 0x69746e65}, /* AuthenticAMD */
        {1, 0, 0, 0x00a00f11, 0, 0, 0},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, a, 2), VCORE_OK);
    ck_assert_int_eq(fk.set_cpuid_calls, 1);
    fk_inject(&fk, KVM_SET_CPUID2, EINVAL, 1);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, b, 2), VCORE_ERR_HWFAIL);
    ck_assert_diag(vcpu, VCORE_DIAG_CPUID_BACKEND_REFUSED);
    vcore_cpuid_entry_t now[4];
    uint32_t n = 0;
    ck_assert_int_eq(vcore_vcpu_get_cpuid(vcpu, now, 4, &n), VCORE_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(now[0].ebx, a[0].ebx);
    vcore_x86_cpu_model_t m = {.size = sizeof m};
    ck_assert_int_eq(vcore_vcpu_get_cpu_model(vcpu, &m), VCORE_OK);
    ck_assert_uint_eq(m.vendor, VCORE_X86_VENDOR_INTEL);
    ck_assert_uint_eq(m.signature, 0x000506e3);
    /* ENOMEM and EFAULT from the kernel: refused as well (the core reports
     * every backend refusal of a table as VCORE_ERR_HWFAIL). */
    fk_inject(&fk, KVM_SET_CPUID2, ENOMEM, 1);
    ck_assert_int_ne(vcore_vcpu_set_cpuid(vcpu, b, 2), VCORE_OK);
    fk_inject(&fk, KVM_SET_CPUID2, EFAULT, 1);
    ck_assert_int_ne(vcore_vcpu_set_cpuid(vcpu, b, 2), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_cpu_model(vcpu, &m), VCORE_OK);
    ck_assert_uint_eq(m.vendor, VCORE_X86_VENDOR_INTEL);
    /* Accepted once the kernel agrees. */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, b, 2), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_cpu_model(vcpu, &m), VCORE_OK);
    ck_assert_uint_eq(m.vendor, VCORE_X86_VENDOR_AMD);
    /* The supported table through the VM's handle (fake: one entry). */
    vcore_cpuid_entry_t s[2];
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(vm, s, 2, &n), VCORE_OK);
    ck_assert_uint_eq(n, 1);
    fk_inject(&fk, KVM_GET_SUPPORTED_CPUID, E2BIG, 1);
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(vm, s, 2, &n), VCORE_ERR_BUFSZ);
}
END_TEST

/* ---- state ------------------------------------------------------------------ */

START_TEST(state_errors)
{
    vcore_exit_t ex = {.size = sizeof ex};
    /* The first run writes the RESET state; a refused SREGS fails the run. */
    fk_inject(&fk, KVM_SET_SREGS, EINVAL, 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &ex), VCORE_ERR_HWFAIL);
    ck_assert_int_eq(fk.run_calls, 0);
    /* Retried on the next run (the state is still dirty). */
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.regs.rip, 0xfff0);
    ck_assert_uint_eq(fk.sregs.cs.base, 0xffff0000ull);
    ck_assert_uint_eq(fk.sregs.cs.selector, 0xf000);
    /* EFAULT while fetching: reported, and the next read works. */
    vcore_x86_regs_t r = {.size = sizeof r};
    fk_inject(&fk, KVM_GET_REGS, EFAULT, 1);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_ERR_FAULT);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.rip, 0xfff0);
    /* ENOMEM while fetching SREGS. */
    vcore_x86_sregs_t s = {.size = sizeof s};
    fk_inject(&fk, KVM_GET_SREGS, ENOMEM, 1);
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_ERR_NOMEM);
    /* EINTR on a state ioctl is retried. */
    fk_inject(&fk, KVM_GET_SREGS, EINTR, 3);
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    /* KVM_SET_MSRS stopping early is a refusal. */
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_LSTAR, 0x1000), VCORE_OK);
    fk.msrs_short = 2;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &ex), VCORE_ERR_HWFAIL);
    fk.msrs_short = 0;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(*fk_msr(&fk, VCORE_MSR_IA32_LSTAR), 0x1000);
    /* The FPU class without XSAVE: KVM_SET_FPU cannot change MXCSR. */
    vcore_x86_fpu_t f = {.size = sizeof f};
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpu, &f), VCORE_OK);
    f.fcw = 0x27f;
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpu, &f), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.fpu.fcw, 0x27f);
    f.mxcsr = 0x1f81;
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpu, &f), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &ex), VCORE_ERR_UNSUPPORTED);
}
END_TEST

/* ---- run loop --------------------------------------------------------------- */

START_TEST(run_eintr_eagain_retried)
{
    vcore_exit_t ex = {.size = sizeof ex};
    fk.eintr_runs = 3;
    fk.eagain_runs = 2;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_int_eq(fk.run_calls, 6);
    ck_assert_uint_eq(ex.raw.source, VCORE_EXIT_SRC_KVM);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_HLT);
}
END_TEST

START_TEST(run_kick)
{
    vcore_exit_t ex = {.size = sizeof ex};
    /* A kick before the run: immediate_exit makes KVM_RUN return EINTR. */
    ck_assert_int_eq(vcore_vcpu_kick(vcpu), VCORE_OK);
    run_expect(&ex, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_eq(fk.seen_immediate, 1);
    ck_assert_uint_eq(fk.run->immediate_exit, 0); /* consumed */
    /* The next run is a normal one. */
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.seen_immediate, 0);
    /* An EINTR that is not a kick is not reported. */
    fk.eintr_runs = 1;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(run_errors)
{
    vcore_exit_t ex = {.size = sizeof ex};
    fk_inject(&fk, KVM_RUN, EFAULT, 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &ex), VCORE_ERR_FAULT);
    fk_inject(&fk, KVM_RUN, ENOMEM, 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &ex), VCORE_ERR_NOMEM);
    fk_inject(&fk, KVM_RUN, EINVAL, 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &ex), VCORE_ERR_HWFAIL);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(replies_reach_the_page)
{
    vcore_exit_t ex = {.size = sizeof ex};
    struct kvm_run u;
    /* I/O IN of 4 bytes, data at offset 4096. */
    memset(&u, 0, sizeof u);
    u.io.direction = KVM_EXIT_IO_IN;
    u.io.size = 4;
    u.io.port = 0x71;
    u.io.count = 1;
    u.io.data_offset = 4096;
    fk_push(&fk, KVM_EXIT_IO, &u.hw, 256);
    /* MMIO read of 8 bytes. */
    memset(&u, 0, sizeof u);
    u.mmio.phys_addr = 0xfee00030;
    u.mmio.len = 8;
    fk_push(&fk, KVM_EXIT_MMIO, &u.hw, 256);
    /* RDMSR, then WRMSR. */
    memset(&u, 0, sizeof u);
    u.msr.index = 0x4b564dff;
    u.msr.reason = KVM_MSR_EXIT_REASON_UNKNOWN;
    fk_push(&fk, KVM_EXIT_X86_RDMSR, &u.hw, 256);
    u.msr.data = 0x55;
    fk_push(&fk, KVM_EXIT_X86_WRMSR, &u.hw, 256);
    /* Hypercall. */
    memset(&u, 0, sizeof u);
    u.hypercall.nr = 12;
    u.hypercall.args[0] = 0x1000;
    u.hypercall.args[5] = 6;
    u.hypercall.longmode = 1;
    fk_push(&fk, KVM_EXIT_HYPERCALL, &u.hw, 256);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);

    run_expect(&ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x71);
    ck_assert(ex.u.io.is_in);
    ck_assert_ptr_eq(ex.u.io.data, (uint8_t *)fk.run + 4096);
    uint8_t mine[4] = {1, 2, 3, 4};
    ex.u.io.data = mine; /* reply from the VMM's buffer: copied into the page */
    run_expect(&ex, VCORE_EXIT_MMIO);
    ck_assert_mem_eq(fk.seen_io, mine, 4);
    ck_assert_uint_eq(ex.u.mmio.gpa, 0xfee00030);
    ck_assert(ex.flags & VCORE_EXIT_F_NEEDS_REPLY);
    memcpy(ex.u.mmio.data, "\x10\x20\x30\x40\x50\x60\x70\x80", 8);
    run_expect(&ex, VCORE_EXIT_RDMSR);
    ck_assert_mem_eq(fk.seen.mmio.data, "\x10\x20\x30\x40\x50\x60\x70\x80", 8);
    ck_assert_uint_eq(ex.u.msr.index, 0x4b564dff);
    ck_assert_uint_eq(ex.u.msr.why, KVM_MSR_EXIT_REASON_UNKNOWN);
    ex.u.msr.value = 0x1122334455667788ull;
    ex.u.msr.error = 0;
    run_expect(&ex, VCORE_EXIT_WRMSR);
    {
        const struct kvm_run *seen = &fk.seen;
        ck_assert_uint_eq(seen->msr.data, 0x1122334455667788ull);
        ck_assert_uint_eq(seen->msr.error, 0);
    }
    ck_assert_uint_eq(ex.u.msr.value, 0x55);
    ck_assert(!(ex.flags & VCORE_EXIT_F_NEEDS_REPLY));
    ex.u.msr.error = 1; /* refuse the WRMSR: #GP */
    run_expect(&ex, VCORE_EXIT_HYPERCALL);
    {
        const struct kvm_run *seen = &fk.seen;
        ck_assert_uint_eq(seen->msr.error, 1);
    }
    ck_assert_uint_eq(ex.u.hypercall.nr, 12);
    ck_assert_uint_eq(ex.u.hypercall.args[0], 0x1000);
    ck_assert_uint_eq(ex.u.hypercall.args[5], 6);
    ck_assert_uint_eq(ex.u.hypercall.longmode, 1);
    ck_assert(ex.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ex.u.hypercall.ret = 0xabc;
    run_expect(&ex, VCORE_EXIT_HLT);
    {
        const struct kvm_run *seen = &fk.seen;
        ck_assert_uint_eq(seen->hypercall.ret, 0xabc);
    }
}
END_TEST

START_TEST(every_exit_decoded)
{
    vcore_exit_t ex = {.size = sizeof ex};
    struct kvm_run u;

    memset(&u, 0, sizeof u);
    u.fail_entry.hardware_entry_failure_reason = 0x80000021;
    u.fail_entry.cpu = 3;
    fk_push(&fk, KVM_EXIT_FAIL_ENTRY, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_FAIL_ENTRY);
    ck_assert_uint_eq(ex.u.fail_entry.hw_reason, 0x80000021);
    ck_assert_uint_eq(ex.u.fail_entry.cpu, 3);
    ck_assert_mem_eq(ex.raw.data, &u.hw, 256);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_FAIL_ENTRY);

    memset(&u, 0, sizeof u);
    u.internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
    u.internal.ndata = 3;
    u.internal.data[0] = 1;
    u.internal.data[2] = 0xfeed;
    fk_push(&fk, KVM_EXIT_INTERNAL_ERROR, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_INTERNAL_ERROR);
    ck_assert_uint_eq(ex.u.internal.suberror, KVM_INTERNAL_ERROR_EMULATION);
    ck_assert_uint_eq(ex.u.internal.ndata, 3);
    ck_assert_uint_eq(ex.u.internal.data[2], 0xfeed);

    /* ndata beyond the 16 words that exist is clamped, never trusted. */
    u.internal.ndata = 400;
    fk_push(&fk, KVM_EXIT_INTERNAL_ERROR, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_INTERNAL_ERROR);
    ck_assert_uint_eq(ex.u.internal.ndata, VCORE_EXIT_MAX_DATA);

    memset(&u, 0, sizeof u);
    u.system_event.type = KVM_SYSTEM_EVENT_RESET;
    u.system_event.ndata = 1;
    u.system_event.data[0] = 7;
    fk_push(&fk, KVM_EXIT_SYSTEM_EVENT, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_SYSTEM_EVENT);
    ck_assert_uint_eq(ex.u.system_event.type, KVM_SYSTEM_EVENT_RESET);
    ck_assert_uint_eq(ex.u.system_event.ndata, 1);
    ck_assert_uint_eq(ex.u.system_event.data[0], 7);

    memset(&u, 0, sizeof u);
    u.debug.arch.exception = 1;
    u.debug.arch.pc = 0xfff3;
    u.debug.arch.dr6 = 0xffff4ff0;
    u.debug.arch.dr7 = 0x401;
    fk_push(&fk, KVM_EXIT_DEBUG, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_DEBUG);
    ck_assert_uint_eq(ex.u.debug.exception, 1);
    ck_assert_uint_eq(ex.u.debug.pc, 0xfff3);
    ck_assert_uint_eq(ex.u.debug.dr6, 0xffff4ff0);
    ck_assert_uint_eq(ex.u.debug.dr7, 0x401);

    memset(&u, 0, sizeof u);
    u.ex.exception = 14;
    u.ex.error_code = 2;
    fk_push(&fk, KVM_EXIT_EXCEPTION, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_EXCEPTION);
    ck_assert_uint_eq(ex.u.exception.vector, 14);
    ck_assert_uint_eq(ex.u.exception.error_code, 2);

    fk_push(&fk, KVM_EXIT_SHUTDOWN, NULL, 0);
    run_expect(&ex, VCORE_EXIT_SHUTDOWN);

    memset(&u, 0, sizeof u);
    u.hw.hardware_exit_reason = 0x7b;
    fk_push(&fk, KVM_EXIT_UNKNOWN, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_RAW);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_UNKNOWN);
    ck_assert_uint_eq(ex.raw.qualification, 0x7b);

    /* A reason the library does not decode arrives raw, bytes intact. */
    memset(&u, 0, sizeof u);
    memset(&u.hw, 0x6d, 256);
    fk_push(&fk, 99, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_RAW);
    ck_assert_uint_eq(ex.raw.reason, 99);
    ck_assert_mem_eq(ex.raw.data, &u.hw, 256);

    /* Kernel data that does not fit what we own is not decoded. */
    memset(&u, 0, sizeof u);
    u.io.size = 4;
    u.io.count = 2;
    u.io.data_offset = FK_RUN_SIZE - 4;
    fk_push(&fk, KVM_EXIT_IO, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_RAW);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_IO);
    memset(&u, 0, sizeof u);
    u.mmio.len = 9;
    fk_push(&fk, KVM_EXIT_MMIO, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_RAW);
}
END_TEST

START_TEST(bad_arguments)
{
    vcore_exit_t ex = {.size = sizeof ex};
    const vcore_backend_t *be = vcore_vcpu_backend(vcpu);
    void *priv = vcore_vcpu_backend_priv(vcpu);
    vcore_x86_state_t x;
    memset(&x, 0, sizeof x);
    vcore_vcpu_state_t st = {.arch = VCORE_ARCH_X86_64, .u.x86 = &x};
    ck_assert_int_eq(be->vcpu_get_state(vcpu, priv, NULL, VCORE_X86_STATE_REGS), VCORE_ERR_INVAL);
    ck_assert_int_eq(be->vcpu_get_state(vcpu, priv, &st, 1u << 31), VCORE_ERR_INVAL);
    ck_assert_int_eq(be->vcpu_set_state(vcpu, priv, &st, 1u << 31), VCORE_ERR_INVAL);
    ck_assert_int_eq(be->vcpu_run(vcpu, priv, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(be->vcpu_set_cpuid(vcpu, priv, NULL, 2), VCORE_ERR_INVAL);
    ck_assert_int_eq(be->vcpu_set_cpuid(vcpu, priv, NULL, VCORE_CPUID_MAX_ENTRIES + 1),
                     VCORE_ERR_INVAL);
    /* Still works. */
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kvm_fake");
    TCase *tc = tcase_create("fake");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, lifecycle_no_leak);
    tcase_add_test(tc, open_failures);
    tcase_add_test(tc, create_vm_failures);
    tcase_add_test(tc, create_vcpu_failures);
    tcase_add_test(tc, memory_failures);
    tcase_add_test(tc, set_cpuid2_refused_keeps_previous);
    tcase_add_test(tc, state_errors);
    tcase_add_test(tc, run_eintr_eagain_retried);
    tcase_add_test(tc, run_kick);
    tcase_add_test(tc, run_errors);
    tcase_add_test(tc, replies_reach_the_page);
    tcase_add_test(tc, every_exit_decoded);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
