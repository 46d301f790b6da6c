/*
 * kvm_run.c - KVM_RUN: apply the VMM's reply, run, decode the exit.
 *
 * Replies (api.rst, "KVM_RUN" exit descriptions): the data of an I/O IN
 * lives in the kvm_run page at io.data_offset, an MMIO read's data in
 * mmio.data, an RDMSR's value in msr.data and a refusal (#GP) in msr.error,
 * a hypercall's return value in hypercall.ret. KVM completes the pending
 * instruction with them at the start of the next KVM_RUN, before it looks at
 * immediate_exit.
 *
 * Every exit keeps the kernel's own view in vcore_exit_t::raw: reason =
 * kvm_run.exit_reason, data = the 256-byte exit union, verbatim.
 *
 * The interrupt window: the event state's request_interrupt_window goes
 * into kvm_run.request_interrupt_window before each KVM_RUN; KVM returns
 * KVM_EXIT_IRQ_WINDOW_OPEN once the guest can take an external interrupt
 * (RFLAGS.IF = 1, no STI or MOV-SS blocking, nothing else being
 * delivered), and the request is then spent (one exit per request).
 */
#include <errno.h>
#include <string.h>

#include "kvm_priv.h"

/* The exit union starts at the first member of the anonymous union. */
#define RUN_UNION(run) ((const uint8_t *)&(run)->hw)
#define RUN_UNION_SIZE 256u

/* Guards against a kvm_run layout that would not fit raw.data. */
typedef char vcore_kvm_raw_fits[(sizeof(((vcore_exit_t *)0)->raw.data) == RUN_UNION_SIZE) ? 1
                                                                                          : -1];

/* Puts the reply of the exit last returned into the kvm_run page. The VMM
 * answers in the same vcore_exit_t it received; a structure of another
 * reason is not a reply to this exit and is ignored (KVM then completes the
 * instruction with what the page holds). */
static int kvm_apply_reply(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv, const vcore_exit_t *exit)
{
    struct kvm_run *run = kv->run;
    int err = VCORE_OK;
    (void)vcpu;
    switch (kv->reply) {
    case VCORE_KVM_REPLY_IO_IN:
        if (exit->reason == VCORE_EXIT_IO && exit->u.io.is_in && exit->u.io.data) {
            uint8_t *slot = (uint8_t *)run + run->io.data_offset;
            size_t len = (size_t)run->io.size * run->io.count;
            /* The VMM may have written into the page already (data points
             * there) or into its own buffer: copy only in the second case. */
            if (exit->u.io.data != slot && len <= kv->run_size - run->io.data_offset)
                memmove(slot, exit->u.io.data, len);
        }
        break;
    case VCORE_KVM_REPLY_MMIO_READ:
        if (exit->reason == VCORE_EXIT_MMIO && !exit->u.mmio.is_write)
            memcpy(run->mmio.data, exit->u.mmio.data, sizeof run->mmio.data);
        break;
#if defined(__x86_64__)
    case VCORE_KVM_REPLY_RDMSR:
        if (exit->reason == VCORE_EXIT_RDMSR) {
            run->msr.data = exit->u.msr.value;
            run->msr.error = exit->u.msr.error ? 1 : 0;
        }
        break;
    case VCORE_KVM_REPLY_WRMSR:
        if (exit->reason == VCORE_EXIT_WRMSR)
            run->msr.error = exit->u.msr.error ? 1 : 0;
        break;
#endif
    case VCORE_KVM_REPLY_HYPERCALL:
#if defined(__aarch64__)
        /* arm64 KVM ignores hypercall.ret: the result goes into X0. */
        if (exit->reason == VCORE_EXIT_HYPERCALL)
            err = vcore__kvm_arm64_reply(vcpu, kv, exit);
#else
        if (exit->reason == VCORE_EXIT_HYPERCALL)
            run->hypercall.ret = exit->u.hypercall.ret;
#endif
        break;
    default:
        break;
    }
    kv->reply = VCORE_KVM_REPLY_NONE;
    return err;
}

static void fill_words(uint64_t *dst, uint32_t *ndst, const __u64 *src, uint32_t n)
{
    if (n > VCORE_EXIT_MAX_DATA)
        n = VCORE_EXIT_MAX_DATA;
    for (uint32_t i = 0; i < n; i++)
        dst[i] = src[i];
    *ndst = n;
}

void vcore__kvm_decode_exit(struct kvm_run *run, size_t run_size, vcore_exit_t *exit,
                            uint32_t *reply)
{
    /* Every field is rewritten: raw.data is covered by the union copy, the
     * rest is cleared (this runs once per exit, so no blanket memset). */
    exit->reason = VCORE_EXIT_NONE;
    exit->flags = 0;
    memset(&exit->u, 0, sizeof exit->u);
    *reply = VCORE_KVM_REPLY_NONE;

    exit->raw.source = VCORE_EXIT_SRC_KVM;
    exit->raw.reason = run->exit_reason;
    exit->raw.qualification = 0;
    memcpy(exit->raw.data, RUN_UNION(run), RUN_UNION_SIZE);

    switch (run->exit_reason) {
    case KVM_EXIT_IO: {
        uint64_t off = run->io.data_offset;
        uint64_t len = (uint64_t)run->io.size * run->io.count;
        /* The data must lie inside the mapping we own. */
        if (off > run_size || len > run_size - off ||
            (run->io.size != 1 && run->io.size != 2 && run->io.size != 4)) {
            exit->reason = VCORE_EXIT_RAW;
            break;
        }
        exit->reason = VCORE_EXIT_IO;
        exit->u.io.port = run->io.port;
        exit->u.io.width = run->io.size;
        exit->u.io.is_in = run->io.direction == KVM_EXIT_IO_IN;
        exit->u.io.count = run->io.count;
        exit->u.io.data = (uint8_t *)run + off;
        if (exit->u.io.is_in) {
            exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
            *reply = VCORE_KVM_REPLY_IO_IN;
        }
        break;
    }
    case KVM_EXIT_MMIO:
        if (run->mmio.len == 0 || run->mmio.len > sizeof run->mmio.data) {
            exit->reason = VCORE_EXIT_RAW;
            break;
        }
        exit->reason = VCORE_EXIT_MMIO;
        exit->u.mmio.gpa = run->mmio.phys_addr;
        exit->u.mmio.len = run->mmio.len;
        exit->u.mmio.is_write = run->mmio.is_write ? 1 : 0;
        if (run->mmio.is_write) {
            memcpy(exit->u.mmio.data, run->mmio.data, run->mmio.len);
        } else {
            exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
            *reply = VCORE_KVM_REPLY_MMIO_READ;
        }
        break;
    case KVM_EXIT_HLT:
        exit->reason = VCORE_EXIT_HLT;
        break;
    case KVM_EXIT_SHUTDOWN:
        exit->reason = VCORE_EXIT_SHUTDOWN;
        break;
    case KVM_EXIT_FAIL_ENTRY:
        exit->reason = VCORE_EXIT_FAIL_ENTRY;
        exit->u.fail_entry.hw_reason = run->fail_entry.hardware_entry_failure_reason;
        exit->u.fail_entry.cpu = run->fail_entry.cpu;
        exit->raw.qualification = run->fail_entry.hardware_entry_failure_reason;
        break;
    case KVM_EXIT_UNKNOWN:
        /* The hardware exit reason KVM did not handle. */
        exit->reason = VCORE_EXIT_RAW;
        exit->raw.qualification = run->hw.hardware_exit_reason;
        break;
    case KVM_EXIT_INTERNAL_ERROR:
        exit->reason = VCORE_EXIT_INTERNAL_ERROR;
        exit->u.internal.suberror = run->internal.suberror;
        fill_words(exit->u.internal.data, &exit->u.internal.ndata, run->internal.data,
                   run->internal.ndata);
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        exit->reason = VCORE_EXIT_SYSTEM_EVENT;
        exit->u.system_event.type = run->system_event.type;
        /* Kernels before KVM_CAP_SYSTEM_EVENT_DATA report ndata = 0 and put
         * flags in data[0]; raw.data keeps that word in every case. */
        fill_words(exit->u.system_event.data, &exit->u.system_event.ndata,
                   run->system_event.data, run->system_event.ndata);
        break;
    case KVM_EXIT_HYPERCALL:
        exit->reason = VCORE_EXIT_HYPERCALL;
        exit->u.hypercall.nr = run->hypercall.nr;
        for (unsigned i = 0; i < 6; i++)
            exit->u.hypercall.args[i] = run->hypercall.args[i];
        exit->u.hypercall.ret = run->hypercall.ret;
        exit->u.hypercall.longmode = run->hypercall.longmode;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        *reply = VCORE_KVM_REPLY_HYPERCALL;
        break;
    case KVM_EXIT_DEBUG:
        exit->reason = VCORE_EXIT_DEBUG;
#if defined(__x86_64__)
        exit->u.debug.exception = run->debug.arch.exception;
        exit->u.debug.pc = run->debug.arch.pc;
        exit->u.debug.dr6 = run->debug.arch.dr6;
        exit->u.debug.dr7 = run->debug.arch.dr7;
#elif defined(__aarch64__)
        /* ESR_EL2 (hsr, hsr_high = bits 61:32) and FAR for watchpoints. */
        exit->raw.qualification =
            (uint64_t)run->debug.arch.hsr | (uint64_t)run->debug.arch.hsr_high << 32;
        exit->u.debug.pc = run->debug.arch.far;
#endif
        break;
    case KVM_EXIT_EXCEPTION:
        exit->reason = VCORE_EXIT_EXCEPTION;
        exit->u.exception.vector = (uint8_t)run->ex.exception;
        exit->u.exception.has_error_code = 1;
        exit->u.exception.error_code = run->ex.error_code;
        break;
    case KVM_EXIT_INTR:
        exit->reason = VCORE_EXIT_INTERRUPTED;
        break;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        exit->reason = VCORE_EXIT_IRQ_WINDOW;
        break;
#if defined(__x86_64__)
    case KVM_EXIT_X86_RDMSR:
        exit->reason = VCORE_EXIT_RDMSR;
        exit->u.msr.index = run->msr.index;
        exit->u.msr.why = run->msr.reason;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        *reply = VCORE_KVM_REPLY_RDMSR;
        break;
    case KVM_EXIT_X86_WRMSR:
        exit->reason = VCORE_EXIT_WRMSR;
        exit->u.msr.index = run->msr.index;
        exit->u.msr.value = run->msr.data;
        exit->u.msr.why = run->msr.reason;
        /* The reply (error) is optional: 0 completes the WRMSR. */
        *reply = VCORE_KVM_REPLY_WRMSR;
        break;
#endif
#if defined(__aarch64__)
    case KVM_EXIT_ARM_NISV:
        /* A data abort outside memory slots without a valid syndrome. */
        exit->reason = VCORE_EXIT_STAGE2_FAULT;
        exit->u.mmio.gpa = run->arm_nisv.fault_ipa;
        exit->raw.qualification = run->arm_nisv.esr_iss;
        break;
#endif
    default:
        exit->reason = VCORE_EXIT_RAW;
        break;
    }
}

/* Reports a kick as an exit of its own; the reply (if any) was consumed. */
static void kvm_interrupted(vcore_kvm_vcpu_t *kv, vcore_exit_t *exit)
{
    size_t size = exit->size;
    memset(exit, 0, sizeof *exit);
    exit->size = size;
    exit->reason = VCORE_EXIT_INTERRUPTED;
    exit->raw.source = VCORE_EXIT_SRC_KVM;
    exit->raw.reason = KVM_EXIT_INTR;
    kv->reply = VCORE_KVM_REPLY_NONE;
}

int vcore__kvm_vcpu_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    vcore_kvm_vcpu_t *kv = priv;
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    if (!exit || !kv->run)
        return VCORE_ERR_INVAL;

    int rerr = kvm_apply_reply(vcpu, kv, exit);
    if (rerr)
        return rerr;
    kv->run->request_interrupt_window = kv->events_own.request_interrupt_window ? 1 : 0;
    /* From here on the guest may change anything KVM holds. */
    vcore__kvm_state_forget(kv);
    for (unsigned spins = 0;; spins++) {
        vcore__kvm_kick_enter(kv);
        int r = kvm->sys.ioctl(kvm->sys.ctx, kv->fd, KVM_RUN, 0);
        vcore__kvm_kick_leave(kv);
        if (r >= 0)
            break;
        if (r == -EINTR || r == -EAGAIN) {
            /* A kick (now or before this run) ends the run; any other
             * signal or a transient EAGAIN just means "enter again". */
            if (vcore__kvm_kick_consume(kv)) {
                kvm_interrupted(kv, exit);
                return VCORE_OK;
            }
            if (spins < 1000000u)
                continue;
        }
        vcore__kvm_log_errno(vcore_vcpu_vm(vcpu), "KVM_RUN", r);
        int err = vcore__kvm_err(r);
        return err == VCORE_ERR_NOMEM || err == VCORE_ERR_FAULT ? err : VCORE_ERR_HWFAIL;
    }
    vcore__kvm_decode_exit(kv->run, kv->run_size, exit, &kv->reply);
#if defined(__aarch64__)
    /* The call's arguments are in the guest's X0..X5 (api.rst, KVM_EXIT_HYPERCALL on arm64). */
    if (exit->reason == VCORE_EXIT_HYPERCALL) {
        int herr = vcore__kvm_arm64_hypercall(vcpu, kv, exit);
        if (herr)
            return herr;
    }
#endif
    if (exit->reason == VCORE_EXIT_INTERRUPTED)
        (void)vcore__kvm_kick_consume(kv);
    if (exit->reason == VCORE_EXIT_IRQ_WINDOW)
        kv->events_own.request_interrupt_window = 0; /* one-shot */
    return VCORE_OK;
}
