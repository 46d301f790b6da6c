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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-kvm/kvm_priv.h"
#include "kvm_support.h"

#define FK_MAX_INJECT 8
#define FK_MAX_SCRIPT 16
#define FK_RUN_SIZE (3 * 4096)
#define FK_MAX_MSRS 32
#define FK_MAX_LOG 64

typedef struct fake_exit {
    uint32_t reason;
    uint8_t u[256];     /* the exit union */
    uint64_t rflags;    /* if not 0: the guest's RFLAGS at this exit */
} fake_exit_t;

#define FK_MAX_RUNS 32

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
    int msrs_get_none;       /* KVM_GET_MSRS processes no entry (a refused MSR) */
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_debugregs dregs;
    struct kvm_fpu fpu;
    struct kvm_xcrs xcrs;
    uint32_t msr_index[FK_MAX_MSRS];
    uint64_t msr_value[FK_MAX_MSRS];
    int msr_writes[FK_MAX_MSRS]; /* KVM_SET_MSRS entries per MSR */
    int msr_reads[FK_MAX_MSRS];  /* KVM_GET_MSRS entries per MSR */
    int nmsrs;
    /* Calls per ioctl (indexed by _IOC_NR, every KVM ioctl has its own)
     * and the order of the vCPU state ioctls. */
    int calls[256];
    unsigned long log[FK_MAX_LOG];
    int nlog;
    /* KVM_GET/SET_VCPU_EVENTS with the kernel's rules (x86.c,
     * kvm_vcpu_ioctl_x86_{get,set}_vcpu_events). */
    struct kvm_vcpu_events events;
    int no_payload_cap;      /* KVM_CAP_EXCEPTION_PAYLOAD absent */
    long absent_cap;         /* one more capability the kernel lacks (0: none) */
    int payload_enabled;     /* KVM_ENABLE_CAP(KVM_CAP_EXCEPTION_PAYLOAD) done */
    uint32_t set_events_flags; /* flags of the last KVM_SET_VCPU_EVENTS */
    struct kvm_vcpu_events seen_ev[FK_MAX_RUNS]; /* the events each KVM_RUN found */
    uint8_t seen_win[FK_MAX_RUNS];               /* request_interrupt_window each KVM_RUN found */
    int deliver;             /* KVM_RUN delivers injected events (as the CPU would) */
    uint32_t hv_edx3;        /* 40000003H:EDX in KVM_GET_SUPPORTED_HV_CPUID */
    int hv_no_leaf3;         /* ... which then lists 40000000H only */
    int xsave;               /* KVM_CAP_XSAVE offered: KVM_GET/SET_XSAVE on xs */
    struct kvm_xsave xs;
    /* KVM_GET/SET_NESTED_STATE (KVM API): the capability's value is the
     * largest state; the vCPU's state is the blob below. */
    int nested_cap;
    uint32_t nested_len;
    uint8_t nested[128 + 2 * 4096];
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
    if (fk->run_calls <= FK_MAX_RUNS) {
        fk->seen_ev[fk->run_calls - 1] = fk->events;
        fk->seen_win[fk->run_calls - 1] = run->request_interrupt_window;
    }
    if (fk->deliver) {
        /* The entry delivers the injected event (SDM Vol. 3, "Event
         * Injection"): an NMI leaves NMIs blocked until IRET; a handler
         * runs, so no STI / MOV-SS blocking is left. */
        struct kvm_vcpu_events *ev = &fk->events;
        if (ev->nmi.injected)
            ev->nmi.masked = 1;
        if (ev->exception.injected || ev->nmi.injected || ev->interrupt.injected)
            ev->interrupt.shadow = 0;
        ev->exception.injected = 0;
        ev->nmi.injected = 0;
        ev->interrupt.injected = 0;
    }
    fake_exit_t *e = &fk->script[fk->next++];
    if (e->rflags)
        fk->regs.rflags = e->rflags;
    run->exit_reason = e->reason;
    memcpy(&run->hw, e->u, 256);
    return 0;
}

/* KVM_GET_VCPU_EVENTS as the kernel answers it. */
static int fk_get_events(fake_kernel_t *fk, struct kvm_vcpu_events *out)
{
    struct kvm_vcpu_events ev = fk->events;
    uint8_t vec = ev.exception.nr;
    /* Without KVM_CAP_EXCEPTION_PAYLOAD the payload is delivered first and
     * a pending exception is reported as injected. */
    if (!fk->payload_enabled && ev.exception.pending && ev.exception_has_payload) {
        if (vec == 14)
            fk->sregs.cr2 = ev.exception_payload;
        ev.exception_has_payload = 0;
        ev.exception_payload = 0;
        fk->events.exception_has_payload = 0;
        fk->events.exception_payload = 0;
    }
    /* Software exceptions (#BP, #OF) and soft interrupts are not reported. */
    if (vec == 3 || vec == 4) {
        ev.exception.injected = 0;
        ev.exception.pending = 0;
    } else if (!fk->payload_enabled) {
        ev.exception.injected |= ev.exception.pending;
        ev.exception.pending = 0;
    }
    ev.interrupt.injected = ev.interrupt.injected && !ev.interrupt.soft;
    ev.interrupt.soft = 0;
    ev.sipi_vector = 0;
    ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
               KVM_VCPUEVENT_VALID_SMM | (fk->payload_enabled ? KVM_VCPUEVENT_VALID_PAYLOAD : 0);
    memcpy(out, &ev, sizeof ev);
    return 0;
}

/* KVM_SET_VCPU_EVENTS as the kernel takes it; what the library must never
 * send (SMM, SIPI vector, triple fault) fails the test. */
static int fk_set_events(fake_kernel_t *fk, const struct kvm_vcpu_events *in)
{
    struct kvm_vcpu_events ev;
    memcpy(&ev, in, sizeof ev);
    fk->set_events_flags = ev.flags;
    ck_assert_msg(!(ev.flags & (KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
                                KVM_VCPUEVENT_VALID_TRIPLE_FAULT)),
                  "KVM_SET_VCPU_EVENTS flags %#x touch state the library does not own", ev.flags);
    if (ev.flags & ~(uint32_t)(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW |
                               KVM_VCPUEVENT_VALID_PAYLOAD))
        return -EINVAL;
    if (ev.flags & KVM_VCPUEVENT_VALID_PAYLOAD) {
        if (!fk->payload_enabled)
            return -EINVAL;
        if (ev.exception.pending)
            ev.exception.injected = 0;
        else
            ev.exception_has_payload = 0;
    } else {
        ev.exception.pending = 0;
        ev.exception_has_payload = 0;
    }
    if ((ev.exception.injected || ev.exception.pending) &&
        (ev.exception.nr > 31 || ev.exception.nr == 2))
        return -EINVAL;
    fk->events.exception = ev.exception;
    fk->events.exception_has_payload = ev.exception_has_payload;
    fk->events.exception_payload = ev.exception_payload;
    fk->events.interrupt.injected = ev.interrupt.injected;
    fk->events.interrupt.nr = ev.interrupt.nr;
    fk->events.interrupt.soft = ev.interrupt.soft;
    if (ev.flags & KVM_VCPUEVENT_VALID_SHADOW)
        fk->events.interrupt.shadow = ev.interrupt.shadow;
    fk->events.nmi.injected = ev.nmi.injected;
    if (ev.flags & KVM_VCPUEVENT_VALID_NMI_PENDING)
        fk->events.nmi.pending = ev.nmi.pending;
    fk->events.nmi.masked = ev.nmi.masked;
    return 0;
}

/* KVM API, "KVM_GET_NESTED_STATE": a state larger than the caller's size
 * field is -E2BIG with the needed size written back. "KVM_SET_NESTED_STATE"
 * here keeps the blob (the kernel's own checks are not modelled). */
static int fk_nested(fake_kernel_t *fk, unsigned long req, void *p)
{
    uint32_t size;
    ck_assert_int_gt(fk->nested_cap, 0);
    memcpy(&size, (uint8_t *)p + 4, 4);
    if (req == KVM_GET_NESTED_STATE) {
        if (size < fk->nested_len) {
            memcpy((uint8_t *)p + 4, &fk->nested_len, 4);
            return -E2BIG;
        }
        memcpy(p, fk->nested, fk->nested_len);
        return 0;
    }
    if (size < 128 || size > sizeof(fk->nested))
        return -EINVAL;
    memcpy(fk->nested, p, size);
    fk->nested_len = size;
    return 0;
}

static int fk_ioctl(void *ctx, int fd, unsigned long req, unsigned long arg)
{
    fake_kernel_t *fk = ctx;
    void *p = (void *)arg;
    ck_assert_uint_eq(_IOC_TYPE(req), KVMIO);
    fk->calls[_IOC_NR(req)]++;
    if (fd >= 100 && req != KVM_CHECK_EXTENSION && fk->nlog < FK_MAX_LOG)
        fk->log[fk->nlog++] = req;
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
        if (arg == KVM_CAP_EXCEPTION_PAYLOAD)
            return fk->no_payload_cap ? 0 : 1;
        if (fk->absent_cap && arg == (unsigned long)fk->absent_cap)
            return 0;
        if (arg == KVM_CAP_NESTED_STATE)
            return fk->nested_cap;
        return arg == KVM_CAP_XSAVE ? fk->xsave : 1;
    case KVM_CREATE_VM:
    case KVM_CREATE_VCPU:
        fk->open_fds++;
        return fk->next_fd++;
    case KVM_ENABLE_CAP: {
        const struct kvm_enable_cap *c = p;
        if (c->cap == KVM_CAP_EXCEPTION_PAYLOAD) {
            ck_assert_msg(!fk->no_payload_cap, "KVM_ENABLE_CAP of a capability the kernel lacks");
            fk->payload_enabled = c->args[0] != 0;
        }
        return 0;
    }
    case KVM_SET_USER_MEMORY_REGION:
        return 0;
    case KVM_GET_VCPU_EVENTS:
        return fk_get_events(fk, p);
    case KVM_SET_VCPU_EVENTS:
        return fk_set_events(fk, p);
    case KVM_GET_DIRTY_LOG: {
        struct kvm_dirty_log *l = p;
        ((uint64_t *)l->dirty_bitmap)[0] = 0x5;
        return 0;
    }
    case KVM_GET_REGS: memcpy(p, &fk->regs, sizeof fk->regs); return 0;
    case KVM_SET_REGS:
        memcpy(&fk->regs, p, sizeof fk->regs);
        /* KVM's __set_regs: a new RIP makes a pending exception moot. */
        fk->events.exception.pending = 0;
        return 0;
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
        if (req == KVM_GET_MSRS && fk->msrs_get_none)
            n = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t *v = fk_msr(fk, e[i].index);
            if (req == KVM_GET_MSRS) {
                e[i].data = *v;
                fk->msr_reads[v - fk->msr_value]++;
            } else {
                *v = e[i].data;
                fk->msr_writes[v - fk->msr_value]++;
            }
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
    case KVM_GET_XSAVE:
        ck_assert_msg(fk->xsave, "fake kernel: KVM_GET_XSAVE without KVM_CAP_XSAVE");
        memcpy(p, &fk->xs, sizeof fk->xs);
        return 0;
    case KVM_SET_XSAVE:
        ck_assert_msg(fk->xsave, "fake kernel: KVM_SET_XSAVE without KVM_CAP_XSAVE");
        memcpy(&fk->xs, p, sizeof fk->xs);
        return 0;
    case KVM_GET_SUPPORTED_HV_CPUID: {
        /* The kernel's Hyper-V leaves (api.rst): E2BIG when nent is too small. */
        struct kvm_cpuid2 *c = p;
        if (c->nent < 2)
            return -E2BIG;
        c->nent = 2;
        memset(&c->entries[0], 0, 2 * sizeof c->entries[0]);
        c->entries[0].function = 0x40000000u;
        c->entries[0].eax = 0x4000000au;
        c->entries[1].function = 0x40000003u;
        c->entries[1].edx = fk->hv_edx3;
        if (fk->hv_no_leaf3) {
            c->nent = 1;
            memset(&c->entries[1], 0, sizeof c->entries[1]);
        }
        return 0;
    }
    case KVM_RUN:
        return fk_run(fk);
    case KVM_GET_NESTED_STATE:
    case KVM_SET_NESTED_STATE:
        return fk_nested(fk, req, p);
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
    fk.deliver = 1;
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

/* ---- KVM_GET/SET_NESTED_STATE ------------------------------------------------ */

static void nested_put(size_t off, uint64_t v, size_t n)
{
    memcpy(fk.nested + off, &v, n);
}

/* A guest-mode state as KVM reports it while L2 runs (KVM API layout):
 * GUEST_MODE | RUN_PENDING, vmxon_pa, vmcs12_pa, the preemption-timer
 * deadline, vmcs12 (revision 0x11e57ed0, launched) using VMCS shadowing,
 * and the shadow vmcs12 page (revision with bit 31, the shadow-VMCS
 * indicator). */
static void nested_guest_blob(void)
{
    memset(fk.nested, 0, sizeof(fk.nested));
    nested_put(0, 3, 2);
    nested_put(4, 128 + 8192, 4);
    nested_put(8, 0x10000, 8);
    nested_put(16, 0x11000, 8);
    nested_put(28, 1, 4);
    nested_put(32, 0x0123456789abcdefull, 8);
    nested_put(128, 0x11e57ed0u, 4);
    nested_put(128 + 8, 1, 4); /* launch_state */
    ck_assert_int_eq(vcore_vmcs12_set(fk.nested + 128, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_set(fk.nested + 128, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_set(fk.nested + 128, VCORE_VMCS_VMCS_LINK_POINTER, 0x13000), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_set(fk.nested + 128, VCORE_VMCS_GUEST_RIP, 0x401000), VCORE_OK);
    nested_put(128 + 4096, 0x11e57ed0u | 0x80000000u, 4);
    ck_assert_int_eq(vcore_vmcs12_set(fk.nested + 128 + 4096, VCORE_VMCS_GUEST_RSP, 0x8000), VCORE_OK);
    fk.nested_len = 128 + 8192;
}

/* A guest-mode state read from the kernel goes back byte for byte (KVM's
 * part of each page: the first 998 bytes, the rest is zero both ways). */
START_TEST(nested_state_guest_mode_round_trip)
{
    fk.nested_cap = 128 + 2 * 4096;
    nested_guest_blob();
    static uint8_t want[128 + 8192];
    memcpy(want, fk.nested, sizeof want);
    vcore_nvmx_t *n = kt_nvmx_object();
    vcore_diag_t d = {.size = sizeof d};
    ck_assert_int_eq(vcore_nvmx_kvm_get_nested_state(vcpu, n, &d), VCORE_OK);
    ck_assert_uint_eq(vcore_nvmx_kvm_state_size(n), 128 + 8192);
    memset(fk.nested, 0xee, sizeof fk.nested);
    fk.nested_len = 0;
    ck_assert_int_eq(vcore_nvmx_kvm_set_nested_state(vcpu, n), VCORE_OK);
    ck_assert_uint_eq(fk.nested_len, 128 + 8192);
    ck_assert_int_eq(memcmp(fk.nested, want, sizeof want), 0);
    ck_assert_int_eq(fk.calls[_IOC_NR(KVM_GET_NESTED_STATE)], 1);
    ck_assert_int_eq(fk.calls[_IOC_NR(KVM_SET_NESTED_STATE)], 1);
}
END_TEST

/* A state the library does not import (MTF_PENDING: KVM_STATE_NESTED_MTF_PENDING
 * 8) is refused with its rule; the kernel's errors come back as such; a
 * host without KVM_CAP_NESTED_STATE has neither ioctl. */
START_TEST(nested_state_refusals)
{
    vcore_nvmx_t *n = kt_nvmx_object();
    vcore_diag_t d = {.size = sizeof d};
    fk.nested_cap = 0;
    ck_assert_int_eq(vcore_nvmx_kvm_get_nested_state(vcpu, n, &d), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_nvmx_kvm_set_nested_state(vcpu, n), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(fk.calls[_IOC_NR(KVM_GET_NESTED_STATE)], 0);
    fk.nested_cap = 128 + 2 * 4096;
    nested_guest_blob();
    nested_put(0, 8, 2); /* MTF_PENDING outside guest mode (and no VMX flags) */
    nested_put(28, 0, 4);
    ck_assert_int_eq(vcore_nvmx_kvm_get_nested_state(vcpu, n, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_MTF_PENDING);
    vcore_nvmx_info_t info = {.size = sizeof info};
    ck_assert_int_eq(vcore_nvmx_get_info(n, &info), VCORE_OK);
    ck_assert(!info.vmx_operation);
    fk_inject(&fk, KVM_SET_NESTED_STATE, EINVAL, 1);
    ck_assert_int_ne(vcore_nvmx_kvm_set_nested_state(vcpu, n), VCORE_OK);
}
END_TEST

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

/* ---- cost: ioctls per path --------------------------------------------------- */

typedef struct fk_snap {
    int c[256];
} fk_snap_t;

static void fk_snap(fk_snap_t *sn)
{
    memcpy(sn->c, fk.calls, sizeof sn->c);
}

/* Calls of `req` since the snapshot. */
static int fk_since(const fk_snap_t *sn, unsigned long req)
{
    return fk.calls[_IOC_NR(req)] - sn->c[_IOC_NR(req)];
}

/* Every ioctl since the snapshot. */
static int fk_total_since(const fk_snap_t *sn)
{
    int n = 0;
    for (int i = 0; i < 256; i++)
        n += fk.calls[i] - sn->c[i];
    return n;
}

static void fk_print_since(const char *what, const fk_snap_t *sn)
{
    static const struct {
        unsigned long req;
        const char *name;
    } names[] = {
        {KVM_RUN, "KVM_RUN"}, {KVM_GET_REGS, "GET_REGS"}, {KVM_SET_REGS, "SET_REGS"},
        {KVM_GET_SREGS, "GET_SREGS"}, {KVM_SET_SREGS, "SET_SREGS"}, {KVM_GET_MSRS, "GET_MSRS"},
        {KVM_SET_MSRS, "SET_MSRS"}, {KVM_GET_VCPU_EVENTS, "GET_VCPU_EVENTS"},
        {KVM_SET_VCPU_EVENTS, "SET_VCPU_EVENTS"}, {KVM_GET_DEBUGREGS, "GET_DEBUGREGS"},
        {KVM_SET_DEBUGREGS, "SET_DEBUGREGS"}, {KVM_GET_XCRS, "GET_XCRS"},
        {KVM_SET_XCRS, "SET_XCRS"},
    };
    printf("ioctls, %s: %d total", what, fk_total_since(sn));
    for (int nr = 0; nr < 256; nr++) {
        int n = fk.calls[nr] - sn->c[nr];
        if (!n)
            continue;
        const char *name = NULL;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (_IOC_NR(names[i].req) == (unsigned)nr)
                name = names[i].name;
        if (name)
            printf(", %s %d", name, n);
        else
            printf(", ioctl nr %#x %d", nr, n);
    }
    printf("\n");
}

/* Runs once so the RESET state is in the fake kernel, then stops at HLT. */
static void first_exit(void)
{
    vcore_exit_t ex = {.size = sizeof ex};
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
}

START_TEST(cost_register_round_trip)
{
    /* KVM completes CPUID itself; the same register round trip is what a
     * VMM does for any instruction it emulates after an exit: read the
     * inputs, write the outputs and the next RIP, run. */
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    fk_snap_t sn;
    fk_snap(&sn);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x756e6547;
    r.gpr[VCORE_X86_RBX] = 1;
    r.gpr[VCORE_X86_RCX] = 2;
    r.gpr[VCORE_X86_RDX] = 3;
    r.rip += 2;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    fk_print_since("register round trip", &sn);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_REGS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_REGS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_RUN), 1);
    ck_assert_int_eq(fk_total_since(&sn), 3);
    ck_assert_uint_eq(fk.regs.rax, 0x756e6547);
    ck_assert_uint_eq(fk.regs.rdx, 3);
}
END_TEST

START_TEST(cost_read_rip_after_exit)
{
    first_exit();
    const vcore_backend_t *be = vcore_vcpu_backend(vcpu);
    void *priv = vcore_vcpu_backend_priv(vcpu);
    vcore_x86_state_t x;
    memset(&x, 0, sizeof x);
    vcore_vcpu_state_t st = {.arch = VCORE_ARCH_X86_64, .u.x86 = &x};
    fk.regs.rip = 0x1234;
    fk.regs.rax = 0x77;
    fk.regs.rflags = 0x202;
    fk_snap_t sn;
    fk_snap(&sn);
    /* RIP alone, then the other groups of the same KVM block. */
    ck_assert_int_eq(be->vcpu_get_state(vcpu, priv, &st, VCORE_X86_STATE_RIP), VCORE_OK);
    ck_assert_uint_eq(x.regs.rip, 0x1234);
    ck_assert_uint_eq(x.regs.gpr[VCORE_X86_RAX], 0); /* not asked: untouched */
    fk_print_since("read RIP after an exit", &sn);
    ck_assert_int_eq(fk_total_since(&sn), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_REGS), 1);
    ck_assert_int_eq(be->vcpu_get_state(vcpu, priv, &st, VCORE_X86_STATE_GPRS), VCORE_OK);
    ck_assert_int_eq(be->vcpu_get_state(vcpu, priv, &st, VCORE_X86_STATE_RFLAGS), VCORE_OK);
    ck_assert_uint_eq(x.regs.gpr[VCORE_X86_RAX], 0x77);
    ck_assert_uint_eq(x.regs.rflags, 0x202);
    fk_print_since("then GPRs and RFLAGS", &sn);
    ck_assert_int_eq(fk_total_since(&sn), 1);
    /* Writing RIP alone: the rest of KVM's block is known, no fetch. */
    x.regs.rip = 0x1236;
    ck_assert_int_eq(be->vcpu_set_state(vcpu, priv, &st, VCORE_X86_STATE_RIP), VCORE_OK);
    fk_print_since("then write RIP", &sn);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_REGS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_REGS), 1);
    ck_assert_int_eq(fk_total_since(&sn), 2);
    ck_assert_uint_eq(fk.regs.rip, 0x1236);
    ck_assert_uint_eq(fk.regs.rax, 0x77);
    ck_assert_uint_eq(fk.regs.rflags, 0x202);
}
END_TEST

START_TEST(cost_sregs_round_trip)
{
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    fk_snap_t sn;
    fk_snap(&sn);
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    s.cr2 = 0x5000;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    fk_print_since("sregs round trip", &sn);
    /* One read of the block serves the write (and its IA32_APIC_BASE);
     * the core also reads the MSRs and XCR0 its CPUID bits mirror. */
    ck_assert_int_eq(fk_since(&sn, KVM_GET_SREGS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_SREGS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_MSRS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_XCRS), 1);
    ck_assert_int_eq(fk_total_since(&sn), 5);
    ck_assert_uint_eq(fk.sregs.cr2, 0x5000);
    ck_assert_uint_eq(fk.sregs.apic_base, VCORE_APIC_BASE_DEFAULT | VCORE_APIC_BASE_EN |
                                              VCORE_APIC_BASE_BSP);
}
END_TEST

START_TEST(cost_msr_write_leaves_tsc)
{
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    uint64_t *tsc = fk_msr(&fk, VCORE_MSR_IA32_TSC);
    int tsc_writes = fk.msr_writes[tsc - fk.msr_value];
    fk_snap_t sn;
    fk_snap(&sn);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_LSTAR, 0xffffffff81000000ull), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    fk_print_since("MSR write", &sn);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_MSRS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_MSRS), 1);
    ck_assert_int_eq(fk.msr_writes[tsc - fk.msr_value], tsc_writes);
    ck_assert_uint_eq(*fk_msr(&fk, VCORE_MSR_IA32_LSTAR), 0xffffffff81000000ull);
}
END_TEST

START_TEST(tsc_written_only_when_set)
{
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    uint64_t *tsc = fk_msr(&fk, VCORE_MSR_IA32_TSC);
    int writes = fk.msr_writes[tsc - fk.msr_value];
    int reads = fk.msr_reads[tsc - fk.msr_value];
    /* Reading and writing other MSRs neither reads nor writes the TSC. */
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &v), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_STAR, 0x0023001000000000ull), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_int_eq(fk.msr_writes[tsc - fk.msr_value], writes);
    ck_assert_int_eq(fk.msr_reads[tsc - fk.msr_value], reads);
    /* Set, it is written once with the value set. */
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, 0x123456789ull), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_int_eq(fk.msr_writes[tsc - fk.msr_value], writes + 1);
    ck_assert_uint_eq(*tsc, 0x123456789ull);
    /* Read twice in one stop: two reads (it counts, nothing is kept). */
    const vcore_backend_t *be = vcore_vcpu_backend(vcpu);
    vcore_x86_state_t x;
    memset(&x, 0, sizeof x);
    vcore_vcpu_state_t st = {.arch = VCORE_ARCH_X86_64, .u.x86 = &x};
    reads = fk.msr_reads[tsc - fk.msr_value];
    *tsc = 1000;
    ck_assert_int_eq(be->vcpu_get_state(vcpu, vcore_vcpu_backend_priv(vcpu), &st,
                                        VCORE_X86_STATE_TSC), VCORE_OK);
    ck_assert_uint_eq(x.msrs.tsc, 1000);
    *tsc = 2000;
    ck_assert_int_eq(be->vcpu_get_state(vcpu, vcore_vcpu_backend_priv(vcpu), &st,
                                        VCORE_X86_STATE_TSC), VCORE_OK);
    ck_assert_uint_eq(x.msrs.tsc, 2000);
    ck_assert_int_eq(fk.msr_reads[tsc - fk.msr_value], reads + 2);
}
END_TEST

START_TEST(feature_control_stays_in_the_model)
{
    /* IA32_FEATURE_CONTROL is the model's (SDM Vol. 3, "Enabling and
     * Entering VMX Operation"; VMXON checks it): it never goes to KVM. */
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    int before = fk.nmsrs;
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, 1), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    for (int i = 0; i < fk.nmsrs; i++)
        ck_assert_uint_ne(fk.msr_index[i], VCORE_MSR_IA32_FEATURE_CONTROL);
    ck_assert_int_eq(fk.nmsrs, before);
    /* After the run (every group stale), the value comes back from the model. */
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, &v), VCORE_OK);
    ck_assert_uint_eq(v, 1);
    /* Locked: a second write is refused as the SDM says. */
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, 0), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(sregs_write_keeps_kvm_apic_base)
{
    /* KVM_SET_SREGS writes IA32_APIC_BASE too: without the MSRs from the
     * model, KVM's own value must go back, never a stale one. */
    first_exit();
    const vcore_backend_t *be = vcore_vcpu_backend(vcpu);
    void *priv = vcore_vcpu_backend_priv(vcpu);
    vcore_x86_state_t x;
    memset(&x, 0, sizeof x);
    vcore_vcpu_state_t st = {.arch = VCORE_ARCH_X86_64, .u.x86 = &x};
    const uint64_t base = 0xfee00900ull; /* EN | BSP */
    *fk_msr(&fk, VCORE_MSR_IA32_APIC_BASE) = base;
    fk.sregs.apic_base = base;
    /* Nothing read since the run: one read of the MSR alone, then the write. */
    ck_assert_int_eq(be->vcpu_get_state(vcpu, priv, &st, VCORE_X86_STATE_SREGS), VCORE_OK);
    vcore_exit_t ex = {.size = sizeof ex};
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    fk_snap_t sn;
    fk_snap(&sn);
    x.sregs.cr2 = 0x7000;
    ck_assert_int_eq(be->vcpu_set_state(vcpu, priv, &st, VCORE_X86_STATE_SREGS), VCORE_OK);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_MSRS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_SREGS), 0);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_SREGS), 1);
    ck_assert_uint_eq(fk.sregs.apic_base, base);
    ck_assert_uint_eq(fk.sregs.cr2, 0x7000);
    /* The MSRs written in between (APIC moved): the next SREGS write
     * carries the new base, not the one read before. */
    ck_assert_int_eq(be->vcpu_get_state(vcpu, priv, &st, VCORE_X86_STATE_SREGS |
                                                             VCORE_X86_STATE_MSRS), VCORE_OK);
    x.msrs.apic_base = 0xfed00900ull;
    ck_assert_int_eq(be->vcpu_set_state(vcpu, priv, &st, VCORE_X86_STATE_MSRS), VCORE_OK);
    fk.sregs.apic_base = *fk_msr(&fk, VCORE_MSR_IA32_APIC_BASE); /* as KVM keeps one value */
    ck_assert_int_eq(be->vcpu_set_state(vcpu, priv, &st, VCORE_X86_STATE_SREGS), VCORE_OK);
    ck_assert_uint_eq(fk.sregs.apic_base, 0xfed00900ull);
    /* A kernel that refuses the read: the write does not happen. */
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    fk.msrs_get_none = 1;
    fk_snap(&sn);
    ck_assert_int_eq(be->vcpu_set_state(vcpu, priv, &st, VCORE_X86_STATE_SREGS), VCORE_ERR_HWFAIL);
    fk_inject(&fk, KVM_GET_MSRS, EFAULT, 1);
    fk.msrs_get_none = 0;
    ck_assert_int_eq(be->vcpu_set_state(vcpu, priv, &st, VCORE_X86_STATE_SREGS), VCORE_ERR_FAULT);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_SREGS), 0);
}
END_TEST

/* ---- events ---------------------------------------------------------------------- */

static void op_get(vcore_x86_state_t *x, uint32_t groups)
{
    vcore_vcpu_state_t st = {.arch = VCORE_ARCH_X86_64, .u.x86 = x};
    ck_assert_int_eq(vcore_vcpu_backend(vcpu)->vcpu_get_state(vcpu, vcore_vcpu_backend_priv(vcpu),
                                                               &st, groups),
                     VCORE_OK);
}

static int op_set(vcore_x86_state_t *x, uint32_t groups)
{
    vcore_vcpu_state_t st = {.arch = VCORE_ARCH_X86_64, .u.x86 = x};
    return vcore_vcpu_backend(vcpu)->vcpu_set_state(vcpu, vcore_vcpu_backend_priv(vcpu), &st,
                                                    groups);
}

static void events_zero(vcore_x86_state_t *x)
{
    memset(x, 0, sizeof *x);
    x->events.size = sizeof x->events;
}

#define FK_FLAGS_ALL (KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | \
                      KVM_VCPUEVENT_VALID_PAYLOAD)

START_TEST(events_model_to_kvm)
{
    first_exit();
    vcore_x86_state_t x;
    const struct kvm_vcpu_events *k = &fk.events;

    /* A raised #PF with its error code and CR2 payload: pending, payload kept. */
    events_zero(&x);
    x.events.exception_pending = 1;
    x.events.exception_vector = 14;
    x.events.exception_has_error_code = 1;
    x.events.exception_error_code = 2;
    x.events.exception_has_payload = 1;
    x.events.exception_payload = 0xdead000;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(fk.set_events_flags, FK_FLAGS_ALL);
    ck_assert_uint_eq(k->exception.pending, 1);
    ck_assert_uint_eq(k->exception.injected, 0);
    ck_assert_uint_eq(k->exception.nr, 14);
    ck_assert_uint_eq(k->exception.has_error_code, 1);
    ck_assert_uint_eq(k->exception.error_code, 2);
    ck_assert_uint_eq(k->exception_has_payload, 1);
    ck_assert_uint_eq(k->exception_payload, 0xdead000);

    /* A #GP whose delivery started, with error code: injected. */
    events_zero(&x);
    x.events.exception_injected = 1;
    x.events.exception_vector = 13;
    x.events.exception_has_error_code = 1;
    x.events.exception_error_code = 0x1234;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->exception.pending, 0);
    ck_assert_uint_eq(k->exception.injected, 1);
    ck_assert_uint_eq(k->exception.nr, 13);
    ck_assert_uint_eq(k->exception.has_error_code, 1);
    ck_assert_uint_eq(k->exception.error_code, 0x1234);
    ck_assert_uint_eq(k->exception_has_payload, 0);

    /* A raised #UD: no error code, no payload (whatever the payload
     * field holds). */
    events_zero(&x);
    x.events.exception_pending = 1;
    x.events.exception_vector = 6;
    x.events.exception_payload = 0x5555;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->exception.pending, 1);
    ck_assert_uint_eq(k->exception.nr, 6);
    ck_assert_uint_eq(k->exception.has_error_code, 0);
    ck_assert_uint_eq(k->exception_has_payload, 0);

    /* A pending #DB: its DR6 bits go over, DR6.RTM (bit 16) never does
     * (KVM reads bit 16 of its payload as "clear DR6.RTM"). */
    events_zero(&x);
    x.events.exception_pending = 1;
    x.events.exception_vector = 1;
    x.events.exception_has_payload = 1;
    x.events.exception_payload = 0x14001; /* RTM, BS, B0 */
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->exception.nr, 1);
    ck_assert_uint_eq(k->exception.has_error_code, 0);
    ck_assert_uint_eq(k->exception_payload, 0x4001);

    /* An external interrupt being delivered, STI blocking, NMI masked. */
    events_zero(&x);
    x.events.interrupt_injected = 1;
    x.events.interrupt_vector = 0x30;
    x.events.sti_blocking = 1;
    x.events.nmi_masked = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->exception.injected | k->exception.pending, 0);
    ck_assert_uint_eq(k->interrupt.injected, 1);
    ck_assert_uint_eq(k->interrupt.nr, 0x30);
    ck_assert_uint_eq(k->interrupt.soft, 0);
    ck_assert_uint_eq(k->interrupt.shadow, KVM_X86_SHADOW_INT_STI);
    ck_assert_uint_eq(k->nmi.masked, 1);
    ck_assert_uint_eq(k->nmi.pending, 0);
    ck_assert_uint_eq(k->nmi.injected, 0);

    /* A software interrupt (INT n) being delivered, MOV-SS blocking. */
    events_zero(&x);
    x.events.interrupt_injected = 1;
    x.events.interrupt_vector = 0x80;
    x.events.interrupt_soft = 1;
    x.events.movss_blocking = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->interrupt.injected, 1);
    ck_assert_uint_eq(k->interrupt.nr, 0x80);
    ck_assert_uint_eq(k->interrupt.soft, 1);
    ck_assert_uint_eq(k->interrupt.shadow, KVM_X86_SHADOW_INT_MOV_SS);
    ck_assert_uint_eq(k->nmi.masked, 0);

    /* NMIs: one being delivered, one pending. */
    events_zero(&x);
    x.events.nmi_injected = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->nmi.injected, 1);
    ck_assert_uint_eq(k->nmi.pending, 0);
    ck_assert_uint_eq(k->interrupt.injected, 0);
    ck_assert_uint_eq(k->interrupt.shadow, 0);
    events_zero(&x);
    x.events.nmi_pending = 1;
    x.events.nmi_masked = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->nmi.injected, 0);
    ck_assert_uint_eq(k->nmi.pending, 1);
    ck_assert_uint_eq(k->nmi.masked, 1);

    /* An interrupt waiting for its window is not KVM's: nothing injected;
     * the window request goes into kvm_run at the next KVM_RUN. */
    events_zero(&x);
    x.events.interrupt_pending = 1;
    x.events.interrupt_vector = 0x41;
    x.events.request_interrupt_window = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(k->interrupt.injected, 0);
    ck_assert_uint_eq(k->nmi.pending, 0);
    vcore_x86_state_t y;
    events_zero(&y);
    op_get(&y, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(y.events.interrupt_pending, 1);
    ck_assert_uint_eq(y.events.interrupt_vector, 0x41);
    ck_assert_uint_eq(y.events.request_interrupt_window, 1);
    ck_assert_uint_eq(y.events.interrupt_injected, 0);
}
END_TEST

START_TEST(events_kvm_to_model)
{
    first_exit();
    vcore_x86_state_t x;
    struct kvm_vcpu_events *k = &fk.events;
    fk.payload_enabled = 1;

    memset(k, 0, sizeof *k);
    k->exception.pending = 1;
    k->exception.nr = 14;
    k->exception.has_error_code = 1;
    k->exception.error_code = 6;
    k->exception_has_payload = 1;
    k->exception_payload = 0x7000;
    k->interrupt.shadow = KVM_X86_SHADOW_INT_MOV_SS;
    k->nmi.pending = 1;
    k->nmi.masked = 1;
    memset(&x, 0xcc, sizeof x);
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.exception_pending, 1);
    ck_assert_uint_eq(x.events.exception_injected, 0);
    ck_assert_uint_eq(x.events.exception_vector, 14);
    ck_assert_uint_eq(x.events.exception_has_error_code, 1);
    ck_assert_uint_eq(x.events.exception_error_code, 6);
    ck_assert_uint_eq(x.events.exception_has_payload, 1);
    ck_assert_uint_eq(x.events.exception_payload, 0x7000);
    ck_assert_uint_eq(x.events.interrupt_injected, 0);
    ck_assert_uint_eq(x.events.movss_blocking, 1);
    ck_assert_uint_eq(x.events.sti_blocking, 0);
    ck_assert_uint_eq(x.events.nmi_pending, 1);
    ck_assert_uint_eq(x.events.nmi_injected, 0);
    ck_assert_uint_eq(x.events.nmi_masked, 1);
    ck_assert_uint_eq(x.events.size, sizeof x.events);
    /* Groups not asked for are not touched. */
    ck_assert_uint_eq(x.regs.rip, 0xccccccccccccccccull);

    /* The next reads come from KVM again after a run. */
    vcore_exit_t ex = {.size = sizeof ex};
    fk.deliver = 0;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    memset(k, 0, sizeof *k);
    k->exception.injected = 1;
    k->exception.nr = 13;
    k->exception.has_error_code = 1;
    k->exception.error_code = 0x18;
    k->interrupt.shadow = KVM_X86_SHADOW_INT_STI;
    k->nmi.injected = 1;
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.exception_pending, 0);
    ck_assert_uint_eq(x.events.exception_injected, 1);
    ck_assert_uint_eq(x.events.exception_vector, 13);
    ck_assert_uint_eq(x.events.exception_error_code, 0x18);
    ck_assert_uint_eq(x.events.exception_has_payload, 0);
    ck_assert_uint_eq(x.events.sti_blocking, 1);
    ck_assert_uint_eq(x.events.movss_blocking, 0);
    ck_assert_uint_eq(x.events.nmi_injected, 1);
    ck_assert_uint_eq(x.events.nmi_pending, 0);
    ck_assert_uint_eq(x.events.nmi_masked, 0);

    /* After delivery KVM leaves the last vector and error code in place;
     * with neither flag set they mean nothing and are not reported. */
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    memset(k, 0, sizeof *k);
    k->exception.nr = 13;
    k->exception.has_error_code = 1;
    k->exception.error_code = 5;
    k->exception_has_payload = 1;
    k->exception_payload = 0x9000;
    k->interrupt.nr = 0x33;
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.exception_pending | x.events.exception_injected, 0);
    ck_assert_uint_eq(x.events.exception_vector, 0);
    ck_assert_uint_eq(x.events.exception_has_error_code, 0);
    ck_assert_uint_eq(x.events.exception_error_code, 0);
    ck_assert_uint_eq(x.events.exception_has_payload, 0);
    ck_assert_uint_eq(x.events.exception_payload, 0);
    ck_assert_uint_eq(x.events.interrupt_injected, 0);
    ck_assert_uint_eq(x.events.interrupt_vector, 0);
    /* A raised #UD (no error code) and an injected one: neither has a
     * payload or an error code. */
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    memset(k, 0, sizeof *k);
    k->exception.pending = 1;
    k->exception.nr = 6;
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.exception_pending, 1);
    ck_assert_uint_eq(x.events.exception_vector, 6);
    ck_assert_uint_eq(x.events.exception_has_error_code, 0);
    ck_assert_uint_eq(x.events.exception_has_payload, 0);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    k->exception.pending = 0;
    k->exception.injected = 1;
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.exception_injected, 1);
    ck_assert_uint_eq(x.events.exception_has_error_code, 0);

    /* An interrupt being delivered; KVM's one AMD shadow bit comes as both
     * STI and MOV SS: kept as MOV-SS blocking alone (VM entry refuses both). */
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    memset(k, 0, sizeof *k);
    k->interrupt.injected = 1;
    k->interrupt.nr = 0x51;
    k->interrupt.shadow = KVM_X86_SHADOW_INT_STI | KVM_X86_SHADOW_INT_MOV_SS;
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.interrupt_injected, 1);
    ck_assert_uint_eq(x.events.interrupt_vector, 0x51);
    ck_assert_uint_eq(x.events.interrupt_soft, 0);
    ck_assert_uint_eq(x.events.movss_blocking, 1);
    ck_assert_uint_eq(x.events.sti_blocking, 0);
    ck_assert_uint_eq(x.events.exception_injected, 0);
    ck_assert_uint_eq(x.events.exception_vector, 0);
}
END_TEST

START_TEST(events_nmi_count_kept)
{
    /* KVM latches up to two NMIs; the model says "pending". Writing the
     * events back must not drop KVM's second one. */
    first_exit();
    vcore_x86_state_t x;
    fk.events.nmi.pending = 2;
    events_zero(&x);
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.nmi_pending, 1);
    fk_snap_t sn;
    fk_snap(&sn);
    /* Unchanged for KVM: no write at all. */
    x.events.request_interrupt_window = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_VCPU_EVENTS), 0);
    ck_assert_uint_eq(fk.events.nmi.pending, 2);
    /* Changed (MOV-SS blocking): written, the count kept. */
    op_get(&x, VCORE_X86_STATE_EVENTS);
    x.events.movss_blocking = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_VCPU_EVENTS), 1);
    ck_assert_uint_eq(fk.events.nmi.pending, 2);
    ck_assert_uint_eq(fk.events.interrupt.shadow, KVM_X86_SHADOW_INT_MOV_SS);
    /* Cleared by the model: gone. */
    op_get(&x, VCORE_X86_STATE_EVENTS);
    x.events.nmi_pending = 0;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(fk.events.nmi.pending, 0);
}
END_TEST

START_TEST(events_regs_written_before_events)
{
    /* KVM_SET_REGS drops a pending exception: a write of both must leave
     * the exception pending in KVM. */
    first_exit();
    vcore_x86_state_t x;
    events_zero(&x);
    op_get(&x, VCORE_X86_STATE_REGS);
    x.regs.rip = 0x2000;
    x.events.exception_pending = 1;
    x.events.exception_vector = 6; /* #UD */
    fk.nlog = 0;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_REGS | VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(fk.regs.rip, 0x2000);
    ck_assert_uint_eq(fk.events.exception.pending, 1);
    ck_assert_uint_eq(fk.events.exception.nr, 6);
    ck_assert_int_eq(fk.nlog, 2);
    ck_assert_uint_eq(fk.log[0], KVM_SET_REGS);
    ck_assert_uint_eq(fk.log[1], KVM_SET_VCPU_EVENTS);
}
END_TEST

START_TEST(events_without_payload_cap)
{
    /* A kernel without KVM_CAP_EXCEPTION_PAYLOAD: one exception state. */
    vcore_vm_destroy(vm);
    fk_reset();
    fk.no_payload_cap = 1;
    ck_assert_int_eq(make_vm(&vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    first_exit();
    vcore_x86_state_t x;
    events_zero(&x);
    x.events.exception_pending = 1;
    x.events.exception_vector = 13;
    x.events.exception_has_error_code = 1;
    x.events.exception_error_code = 0x20;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(fk.set_events_flags,
                      KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW);
    ck_assert_uint_eq(fk.events.exception.injected, 1);
    ck_assert_uint_eq(fk.events.exception.pending, 0);
    ck_assert_uint_eq(fk.events.exception.error_code, 0x20);
    /* Read back: reported as injected (KVM's interface has no "pending"). */
    fk.deliver = 0;
    vcore_exit_t ex = {.size = sizeof ex};
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    events_zero(&x);
    op_get(&x, VCORE_X86_STATE_EVENTS);
    ck_assert_uint_eq(x.events.exception_injected, 1);
    ck_assert_uint_eq(x.events.exception_pending, 0);
    ck_assert_uint_eq(x.events.exception_vector, 13);

    /* What that interface cannot carry is refused before anything is
     * written: a payload, or a raised exception behind an injected NMI. */
    op_get(&x, VCORE_X86_STATE_REGS);
    x.regs.rip = 0x4444;
    events_zero(&x);
    x.events.exception_pending = 1;
    x.events.exception_vector = 14;
    x.events.exception_has_error_code = 1;
    x.events.exception_has_payload = 1;
    x.events.exception_payload = 0x1000;
    fk_snap_t sn;
    fk_snap(&sn);
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_REGS | VCORE_X86_STATE_EVENTS),
                     VCORE_ERR_UNSUPPORTED);
    x.events.exception_has_payload = 0;
    x.events.exception_payload = 0;
    x.events.nmi_injected = 1;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(fk_total_since(&sn), 0);
    ck_assert_uint_ne(fk.regs.rip, 0x4444);
    /* Without the NMI it goes (as injected). */
    x.events.nmi_injected = 0;
    ck_assert_int_eq(op_set(&x, VCORE_X86_STATE_EVENTS), VCORE_OK);
    ck_assert_uint_eq(fk.events.exception.injected, 1);
    ck_assert_uint_eq(fk.events.exception.nr, 14);
}
END_TEST

/* Protected mode as the guest would have set it: CR0.PE = 1 in KVM. */
static void guest_protected_mode(void)
{
    fk.sregs.cr0 |= 1;
}

START_TEST(inject_gp_reaches_kvm)
{
    first_exit();
    guest_protected_mode();
    vcore_exit_t ex = {.size = sizeof ex};
    fk_snap_t sn;
    fk_snap(&sn);
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 13, true, 0x1234, 0), VCORE_OK);
    int run = fk.run_calls;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    fk_print_since("inject #GP and run", &sn);
    const struct kvm_vcpu_events *k = &fk.seen_ev[run];
    ck_assert_uint_eq(k->exception.injected, 1);
    ck_assert_uint_eq(k->exception.pending, 0);
    ck_assert_uint_eq(k->exception.nr, 13);
    ck_assert_uint_eq(k->exception.has_error_code, 1);
    ck_assert_uint_eq(k->exception.error_code, 0x1234);
    /* The core reads the events, RFLAGS and CR0 (is an error code
     * pushed?) to decide; one ioctl per block. */
    ck_assert_int_eq(fk_since(&sn, KVM_GET_VCPU_EVENTS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_REGS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_SREGS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_VCPU_EVENTS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_RUN), 1);
    ck_assert_int_eq(fk_total_since(&sn), 5);
    /* Delivered: nothing left. */
    vcore_x86_events_t e = {.size = sizeof e};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.exception_pending | e.exception_injected, 0);
}
END_TEST

START_TEST(inject_in_real_mode_drops_error_code)
{
    /* SDM Vol. 3, "Exception and Interrupt Handling in Real-Address Mode":
     * no error code is pushed. */
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 13, true, 0x1234, 0), VCORE_OK);
    int run = fk.run_calls;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.seen_ev[run].exception.injected, 1);
    ck_assert_uint_eq(fk.seen_ev[run].exception.nr, 13);
    ck_assert_uint_eq(fk.seen_ev[run].exception.has_error_code, 0);
}
END_TEST

START_TEST(inject_pf_writes_cr2_first)
{
    /* SDM Vol. 3, "Interrupt 14-Page-Fault Exception (#PF)": CR2 holds the
     * address when the handler starts. */
    first_exit();
    guest_protected_mode();
    vcore_exit_t ex = {.size = sizeof ex};
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 14, true, 0x2, 0xbad000), VCORE_OK);
    int run = fk.run_calls;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.sregs.cr2, 0xbad000);
    ck_assert_uint_eq(fk.seen_ev[run].exception.injected, 1);
    ck_assert_uint_eq(fk.seen_ev[run].exception.nr, 14);
    ck_assert_uint_eq(fk.seen_ev[run].exception.error_code, 2);
    ck_assert_uint_eq(fk.seen_ev[run].exception_has_payload, 0);
}
END_TEST

START_TEST(interrupt_waits_for_window)
{
    first_exit();
    fk.regs.rflags = 0x2; /* IF = 0 */
    vcore_exit_t ex = {.size = sizeof ex};
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x40), VCORE_OK);
    int run = fk.run_calls;
    /* The guest keeps IF = 0 through an I/O exit ... */
    struct kvm_run u;
    memset(&u, 0, sizeof u);
    u.io.direction = KVM_EXIT_IO_OUT;
    u.io.size = 1;
    u.io.port = 0x65;
    u.io.count = 1;
    u.io.data_offset = 4096;
    fk_push(&fk, KVM_EXIT_IO, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(fk.seen_win[run], 1);
    ck_assert_uint_eq(fk.seen_ev[run].interrupt.injected, 0);
    /* ... and one more stop costs no event write (nothing KVM holds changed). */
    fk_snap_t sn;
    fk_snap(&sn);
    fk_push(&fk, KVM_EXIT_IO, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_IO);
    fk_print_since("run while the interrupt waits", &sn);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_VCPU_EVENTS), 0);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_VCPU_EVENTS), 1);
    ck_assert_int_eq(fk_since(&sn, KVM_GET_REGS), 1);
    ck_assert_int_eq(fk_total_since(&sn), 3);
    ck_assert_uint_eq(fk.seen_win[run + 1], 1);
    /* Then STI: KVM reports the window; the core injects and re-enters
     * without returning the window exit. */
    fk_push(&fk, KVM_EXIT_IRQ_WINDOW_OPEN, NULL, 0);
    fk.script[fk.nscript - 1].rflags = 0x202;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run = fk.run_calls;
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_int_eq(fk.run_calls, run + 2);
    ck_assert_uint_eq(fk.seen_win[run], 1);
    ck_assert_uint_eq(fk.seen_ev[run + 1].interrupt.injected, 1);
    ck_assert_uint_eq(fk.seen_ev[run + 1].interrupt.nr, 0x40);
    ck_assert_uint_eq(fk.seen_ev[run + 1].interrupt.soft, 0);
    ck_assert_uint_eq(fk.seen_win[run + 1], 0);
}
END_TEST

START_TEST(vmm_window_is_one_shot)
{
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    vcore_x86_events_t e = {.size = sizeof e};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &e), VCORE_OK);
    e.request_interrupt_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &e), VCORE_OK);
    int run = fk.run_calls;
    fk_push(&fk, KVM_EXIT_IRQ_WINDOW_OPEN, NULL, 0);
    run_expect(&ex, VCORE_EXIT_IRQ_WINDOW);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_IRQ_WINDOW_OPEN);
    ck_assert_uint_eq(ex.flags, 0);
    ck_assert_uint_eq(fk.seen_win[run], 1);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.request_interrupt_window, 0);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.seen_win[run + 1], 0);
}
END_TEST

START_TEST(nmi_injected_or_left_to_kvm)
{
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    /* NMIs not blocked: the core injects it. */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    int run = fk.run_calls;
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.seen_ev[run].nmi.injected, 1);
    ck_assert_uint_eq(fk.seen_ev[run].nmi.pending, 0);
    /* Delivered: the handler runs, NMIs blocked until IRET. */
    vcore_x86_events_t e = {.size = sizeof e};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.nmi_masked, 1);
    ck_assert_uint_eq(e.nmi_injected, 0);
    /* Blocked: KVM gets it pending (no NMI window here: KVM delivers it
     * after the IRET) and the core asks for no window. */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.seen_ev[run + 1].nmi.injected, 0);
    ck_assert_uint_eq(fk.seen_ev[run + 1].nmi.pending, 1);
    ck_assert_uint_eq(fk.seen_ev[run + 1].nmi.masked, 1);
    ck_assert_uint_eq(fk.seen_win[run + 1], 0);
}
END_TEST

START_TEST(refusals)
{
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    vcore_x86_events_t e = {.size = sizeof e};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &e), VCORE_OK);
    /* No NMI window on KVM. */
    e.request_nmi_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &e), VCORE_ERR_UNSUPPORTED);
    ck_assert_diag(vcpu, VCORE_DIAG_EVENT_WINDOW_UNSUPPORTED);
    fk_snap_t sn;
    fk_snap(&sn);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_VCPU_EVENTS), 0);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.request_nmi_window, 0);
    ck_assert_uint_eq(vcore_backend_kvm()->features & VCORE_BACKEND_FEAT_NMI_WINDOW, 0);
    /* An NMI vector as an exception. */
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 2, false, 0, 0), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(refused_msr_is_gp_from_kvm)
{
    /* The VMM refuses an RDMSR: KVM raises the #GP (msr.error = 1), the
     * core must not raise a second one through the event state. */
    first_exit();
    vcore_exit_t ex = {.size = sizeof ex};
    struct kvm_run u;
    memset(&u, 0, sizeof u);
    u.msr.index = 0x4b564dff;
    u.msr.reason = KVM_MSR_EXIT_REASON_UNKNOWN;
    fk_push(&fk, KVM_EXIT_X86_RDMSR, &u.hw, 256);
    run_expect(&ex, VCORE_EXIT_RDMSR);
    ex.u.msr.error = 1;
    int run = fk.run_calls;
    fk_snap_t sn;
    fk_snap(&sn);
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.seen.msr.error, 1);
    ck_assert_uint_eq(fk.seen_ev[run].exception.injected | fk.seen_ev[run].exception.pending, 0);
    ck_assert_int_eq(fk_since(&sn, KVM_SET_VCPU_EVENTS), 0);
    ck_assert_int_eq(fk_total_since(&sn), 1);
}
END_TEST

/* ---- Hyper-V served by KVM ------------------------------------------------ */

/* KVM implements the calls: the library checks the capabilities, gives
 * KVM_SET_CPUID2 the "Hv#1" leaves and KVM_SET_MSRS each VP index. */
START_TEST(hyperv_host)
{
    vcore_vm_t *w;
    vcore_vcpu_t *c;
    vcore_hv_config_t hc;
    vcore_hv_config_init(&hc);
    ck_assert_int_eq(make_vm(&w), VCORE_OK);
    /* XMM fast input: the kernel's Hyper-V leaves do not list it
     * (40000003H:EDX bit 4, HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE). */
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_ERR_UNSUPPORTED);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vm_last_diag(w, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_HV_BACKEND_UNSUPPORTED);
    ck_assert_int_eq(fk.calls[_IOC_NR(KVM_GET_SUPPORTED_HV_CPUID)], 1);
    hc.features = VCORE_HV_F_IPI | VCORE_HV_F_TLB_FLUSH | VCORE_HV_F_EX;
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_OK);
    int cpuid_before = fk.set_cpuid_calls;
    ck_assert_int_eq(vcore_vcpu_create(w, NULL, &c), VCORE_OK);
    ck_assert_int_eq(fk.set_cpuid_calls, cpuid_before + 1);
    vcore_cpuid_entry_t e;
    ck_assert_int_eq(vcore_vcpu_cpuid_query(c, 0x40000001u, 0, &e), VCORE_OK);
    ck_assert_uint_eq(e.eax, 0x31237648u);
    ck_assert_int_eq(vcore_vcpu_cpuid_query(c, 0x40000003u, 0, &e), VCORE_OK);
    ck_assert_uint_eq(e.edx, 0); /* neither XMM input nor the MSR lock */
    ck_assert_uint_eq(*fk_msr(&fk, 0x40000002u), 0);
    ck_assert_int_eq(vcore_hv_set_msr(c, VCORE_HV_MSR_VP_INDEX, 17), VCORE_OK);
    ck_assert_uint_eq(*fk_msr(&fk, 0x40000002u), 17);
    /* A refused write changes nothing. */
    fk.inject[0].req = KVM_SET_MSRS;
    fk.inject[0].err = EINVAL;
    fk.inject[0].times = 1;
    ck_assert_int_eq(vcore_hv_set_msr(c, VCORE_HV_MSR_VP_INDEX, 18), VCORE_ERR_HWFAIL);
    uint64_t vp;
    ck_assert_int_eq(vcore_hv_get_msr(c, VCORE_HV_MSR_VP_INDEX, &vp), VCORE_OK);
    ck_assert_uint_eq(vp, 17);
    /* The partition-wide MSRs live in KVM. */
    ck_assert_int_eq(vcore_hv_get_msr(c, VCORE_HV_MSR_GUEST_OS_ID, &vp), VCORE_ERR_UNSUPPORTED);
    vcore_vm_destroy(w);
    /* Each capability the calls need, missing in turn. */
    static const long caps[] = {KVM_CAP_HYPERV, KVM_CAP_HYPERV_VP_INDEX, KVM_CAP_HYPERV_TLBFLUSH,
                                KVM_CAP_HYPERV_SEND_IPI};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        fk.absent_cap = caps[i];
        ck_assert_int_eq(make_vm(&w), VCORE_OK);
        ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_ERR_UNSUPPORTED);
        vcore_vm_destroy(w);
    }
    /* XMM fast input where the kernel lists it: every enlightenment, and
     * the guest sees 40000003H:EDX bit 4. Without KVM_CAP_SYS_HYPERV_CPUID
     * nothing tells, and it is refused. */
    vcore_hv_config_init(&hc);
    fk.absent_cap = 0;
    fk.hv_edx3 = 1u << 4;
    ck_assert_int_eq(make_vm(&w), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(w, NULL, &c), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_cpuid_query(c, 0x40000003u, 0, &e), VCORE_OK);
    ck_assert_uint_eq(e.edx & (1u << 4), 1u << 4);
    vcore_vm_destroy(w);
    fk.absent_cap = KVM_CAP_SYS_HYPERV_CPUID;
    ck_assert_int_eq(make_vm(&w), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_ERR_UNSUPPORTED);
    vcore_vm_destroy(w);
    fk.absent_cap = 0;
    /* The kernel refuses the ioctl, or lists no 40000003H: refused too. */
    ck_assert_int_eq(make_vm(&w), VCORE_OK);
    fk_inject(&fk, KVM_GET_SUPPORTED_HV_CPUID, EINVAL, 1);
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_ERR_UNSUPPORTED);
    fk.hv_no_leaf3 = 1;
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_ERR_UNSUPPORTED);
    fk.hv_no_leaf3 = 0;
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_OK);
    vcore_vm_destroy(w);
    fk.hv_edx3 = 0;
    hc.features = VCORE_HV_F_IPI | VCORE_HV_F_TLB_FLUSH | VCORE_HV_F_EX;
    /* Without SEND_IPI, TLB flush alone is still served. */
    fk.absent_cap = KVM_CAP_HYPERV_SEND_IPI;
    hc.features = VCORE_HV_F_TLB_FLUSH;
    ck_assert_int_eq(make_vm(&w), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(w, &hc), VCORE_OK);
    vcore_vm_destroy(w);
    fk.absent_cap = 0;
}
END_TEST

/* XMM0-XMM15 (VCORE_X86_STATE_XMM) without KVM_CAP_XSAVE: the xmm bytes of
 * struct kvm_fpu, little-endian, low quadword first; writing the FPU group
 * keeps them, writing the XMM group keeps the control words. */
START_TEST(xmm_group_through_kvm_fpu)
{
    const vcore_backend_t *ops = vcore_vcpu_backend(vcpu);
    ck_assert(ops->state_groups & VCORE_X86_STATE_XMM);
    vcore_x86_state_t st;
    memset(&st, 0, sizeof st);
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64};
    vs.u.x86 = &st;
    void *priv = vcore_vcpu_backend_priv(vcpu);
    for (int b = 0; b < 256; b++)
        fk.fpu.xmm[b / 16][b % 16] = (uint8_t)b;
    fk.fpu.fcw = 0x37f;
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, priv, &vs, VCORE_X86_STATE_XMM), VCORE_OK);
    ck_assert_uint_eq(st.xmm[0][0], 0x0706050403020100ull);
    ck_assert_uint_eq(st.xmm[0][1], 0x0f0e0d0c0b0a0908ull);
    ck_assert_uint_eq(st.xmm[15][1], 0xfffefdfcfbfaf9f8ull);
    st.xmm[3][0] = 0x1122334455667788ull;
    st.xmm[3][1] = 0x99aabbccddeeff00ull;
    ck_assert_int_eq(ops->vcpu_set_state(vcpu, priv, &vs, VCORE_X86_STATE_XMM), VCORE_OK);
    const uint8_t want3[16] = {0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
                               0x00, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99};
    ck_assert_mem_eq(fk.fpu.xmm[3], want3, 16);
    ck_assert_uint_eq(fk.fpu.xmm[2][5], 0x25);
    ck_assert_uint_eq(fk.fpu.fcw, 0x37f);
    vcore_x86_fpu_t f = {.size = sizeof f};
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpu, &f), VCORE_OK);
    f.fcw = 0x27f;
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpu, &f), VCORE_OK);
    vcore_exit_t ex = {.size = sizeof ex};
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(fk.fpu.fcw, 0x27f);
    ck_assert_mem_eq(fk.fpu.xmm[3], want3, 16);
    ck_assert_uint_eq(fk.fpu.xmm[15][15], 0xff);
}
END_TEST

/* With KVM_CAP_XSAVE the XMM group is the legacy region of the XSAVE image
 * (XMM0 at byte 160, SDM Vol. 1 "FXSAVE Save Area"; XSTATE_BV at 512). With
 * XSTATE_BV[1] clear the SSE component is in its init configuration: XMM
 * reads as zero whatever the bytes hold ("Processor Tracking of
 * XSAVE-Managed State"). Writing XMM sets XSTATE_BV[1] (else XRSTOR would
 * load the init values) and keeps MXCSR at its init value 1F80H; writing
 * only the FPU group leaves the XMM bytes. */
START_TEST(xmm_group_through_kvm_xsave)
{
    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
    vcpu = NULL;
    fk.xsave = 1;
    ck_assert_int_eq(make_vm(&vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    uint8_t *x = (uint8_t *)fk.xs.region;
    x[0] = 0x7f; /* FCW 037FH */
    x[1] = 0x03;
    uint64_t bv = 1; /* x87 only */
    memcpy(x + 512, &bv, 8);
    memset(x + 160, 0xee, 256);
    const vcore_backend_t *ops = vcore_vcpu_backend(vcpu);
    vcore_x86_state_t st;
    memset(&st, 0x77, sizeof st);
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64};
    vs.u.x86 = &st;
    void *priv = vcore_vcpu_backend_priv(vcpu);
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, priv, &vs, VCORE_X86_STATE_XMM), VCORE_OK);
    for (int i = 0; i < 16; i++)
        ck_assert(st.xmm[i][0] == 0 && st.xmm[i][1] == 0);
    for (int i = 0; i < 16; i++) {
        st.xmm[i][0] = 0x0101010101010101ull * (uint64_t)(i + 1);
        st.xmm[i][1] = 0x8000000000000000ull | (uint64_t)i;
    }
    ck_assert_int_eq(ops->vcpu_set_state(vcpu, priv, &vs, VCORE_X86_STATE_XMM), VCORE_OK);
    memcpy(&bv, x + 512, 8);
    ck_assert_uint_eq(bv, 3);
    uint32_t mxcsr;
    memcpy(&mxcsr, x + 24, 4);
    ck_assert_uint_eq(mxcsr, 0x1f80);
    uint64_t q[2];
    memcpy(q, x + 160 + 16 * 5, 16);
    ck_assert_uint_eq(q[0], 0x0606060606060606ull);
    ck_assert_uint_eq(q[1], 0x8000000000000005ull);
    ck_assert_uint_eq(x[0] | x[1] << 8, 0x37f); /* the x87 control word stays */
    memset(&st, 0, sizeof st);
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, priv, &vs, VCORE_X86_STATE_XMM), VCORE_OK);
    ck_assert_uint_eq(st.xmm[15][0], 0x1010101010101010ull);
    ck_assert_uint_eq(st.xmm[15][1], 0x800000000000000full);
    /* The FPU group alone keeps the XMM bytes. */
    vcore_x86_fpu_t f = {.size = sizeof f};
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpu, &f), VCORE_OK);
    f.fcw = 0x27f;
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpu, &f), VCORE_OK);
    vcore_exit_t ex = {.size = sizeof ex};
    fk_push(&fk, KVM_EXIT_HLT, NULL, 0);
    run_expect(&ex, VCORE_EXIT_HLT);
    ck_assert_uint_eq(x[0] | x[1] << 8, 0x27f);
    memcpy(q, x + 160 + 16 * 5, 16);
    ck_assert_uint_eq(q[0], 0x0606060606060606ull);
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
    tcase_add_test(tc, cost_register_round_trip);
    tcase_add_test(tc, cost_read_rip_after_exit);
    tcase_add_test(tc, cost_sregs_round_trip);
    tcase_add_test(tc, cost_msr_write_leaves_tsc);
    tcase_add_test(tc, tsc_written_only_when_set);
    tcase_add_test(tc, feature_control_stays_in_the_model);
    tcase_add_test(tc, sregs_write_keeps_kvm_apic_base);
    tcase_add_test(tc, events_model_to_kvm);
    tcase_add_test(tc, events_kvm_to_model);
    tcase_add_test(tc, events_nmi_count_kept);
    tcase_add_test(tc, events_regs_written_before_events);
    tcase_add_test(tc, events_without_payload_cap);
    tcase_add_test(tc, inject_gp_reaches_kvm);
    tcase_add_test(tc, inject_in_real_mode_drops_error_code);
    tcase_add_test(tc, inject_pf_writes_cr2_first);
    tcase_add_test(tc, interrupt_waits_for_window);
    tcase_add_test(tc, vmm_window_is_one_shot);
    tcase_add_test(tc, nmi_injected_or_left_to_kvm);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, refused_msr_is_gp_from_kvm);
    tcase_add_test(tc, hyperv_host);
    tcase_add_test(tc, xmm_group_through_kvm_fpu);
    tcase_add_test(tc, xmm_group_through_kvm_xsave);
    tcase_add_test(tc, nested_state_guest_mode_round_trip);
    tcase_add_test(tc, nested_state_refusals);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
