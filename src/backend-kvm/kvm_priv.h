/*
 * kvm_priv.h - private interface of the Linux /dev/kvm backend.
 *
 * Shared by every file of src/backend-kvm: the private VM and vCPU
 * contexts, the system-call table, and the internal functions of each
 * file.
 *
 * System calls go through vcore_kvm_sys_t, which lives in the private VM
 * context: tests wrap vm_init, fill the table with fakes before the real
 * vm_init runs, and can then inject any kernel failure (ENOMEM, EFAULT,
 * EINTR, a refused KVM_SET_CPUID2) without /dev/kvm and without any global
 * state. vm_init fills only the entries that are still NULL.
 */
#ifndef VCORE_BACKEND_KVM_PRIV_H
#define VCORE_BACKEND_KVM_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <linux/kvm.h>
#include <pthread.h>

#include "virtcore/backend.h"
#include "virtcore/error.h"
#include "virtcore/kvm.h"

/*
 * The kernel interface, behind pointers. Conventions (no errno in between):
 * open/ioctl/close return >= 0 on success or a negative errno value;
 * mmap returns NULL and stores a positive errno in *err on failure.
 * Every entry receives `ctx` first (tests keep their fake kernel there).
 */
typedef struct vcore_kvm_sys {
    void *ctx; /* Passed back to every entry. */
    int (*open)(void *ctx, const char *path, int flags);
    int (*ioctl)(void *ctx, int fd, unsigned long request, unsigned long arg);
    void *(*mmap)(void *ctx, size_t len, int fd, int *err);
    int (*munmap)(void *ctx, void *addr, size_t len);
    int (*close)(void *ctx, int fd);
} vcore_kvm_sys_t;

/* Optional kernel features found at vm_init (KVM_CHECK_EXTENSION). */
#define VCORE_KVM_F_IMMEDIATE_EXIT (1u << 0) /* kvm_run.immediate_exit honoured. */
#define VCORE_KVM_F_USER_MSR (1u << 1)       /* User-space MSR exits enabled. */
#define VCORE_KVM_F_READONLY_MEM (1u << 2)   /* KVM_MEM_READONLY slots. */
#define VCORE_KVM_F_XSAVE (1u << 3)          /* KVM_GET_XSAVE. */
#define VCORE_KVM_F_XCRS (1u << 4)           /* KVM_GET/SET_XCRS. */
#define VCORE_KVM_F_DEBUGREGS (1u << 5)      /* KVM_GET/SET_DEBUGREGS. */
/* KVM_CAP_EXCEPTION_PAYLOAD enabled: KVM keeps a pending exception (and its
 * CR2/DR6 payload) apart from one whose delivery started. */
#define VCORE_KVM_F_EXC_PAYLOAD (1u << 6)
/* arm64: the SMCCC filter forwards hypercalls to the VMM (kvm_arm64.c). */
#define VCORE_KVM_F_SMCCC_FWD (1u << 7)

/* Private state of one VM. */
typedef struct vcore_kvm_vm {
    vcore_kvm_sys_t sys;  /* Kernel interface (defaults or test fakes). */
    int kvm_fd;           /* /dev/kvm; -1 when closed. */
    int vm_fd;            /* KVM_CREATE_VM result; -1 when closed. */
    size_t run_size;      /* KVM_GET_VCPU_MMAP_SIZE: bytes of each vCPU's kvm_run mapping. */
    uint64_t vm_type;     /* Machine type passed to KVM_CREATE_VM. */
    uint32_t features;    /* VCORE_KVM_F_*. */
    uint32_t ipa_bits;    /* arm64: effective IPA size; 0 on x86. */
    int kick_signal;      /* Signal vcpu_kick sends to the thread inside KVM_RUN. */
    uint32_t msr_exit_mask; /* KVM_MSR_EXIT_REASON_* enabled for user-space MSR exits. */
} vcore_kvm_vm_t;

/* What the previous exit expects back from the VMM (applied by the next run). */
enum vcore_kvm_reply {
    VCORE_KVM_REPLY_NONE = 0,
    VCORE_KVM_REPLY_IO_IN,
    VCORE_KVM_REPLY_MMIO_READ,
    VCORE_KVM_REPLY_RDMSR,
    VCORE_KVM_REPLY_WRMSR,
    VCORE_KVM_REPLY_HYPERCALL
};

/* Private state of one vCPU. */
typedef struct vcore_kvm_vcpu {
    int fd;                  /* KVM_CREATE_VCPU result; -1 when closed. */
    uint32_t id;             /* vCPU id given to KVM_CREATE_VCPU. */
    struct kvm_run *run;     /* The shared kvm_run page(s); NULL when unmapped. */
    size_t run_size;         /* Length of the mapping. */
    uint32_t reply;          /* enum vcore_kvm_reply for the exit last returned. */
    uint32_t mxcsr_mask;     /* MXCSR_MASK of the vCPU's FXSAVE image (read-only state). */
    uint32_t msr_absent;     /* Bit i: modelled MSR i (kvm_state.c list) is not implemented by KVM. */
    /* What KVM held at the last read of each register block since the last
     * KVM_RUN (kvm_state.c), so a block costs one ioctl per run however
     * many of its groups are asked for. Cleared by every KVM_RUN and by a
     * write of the block (KVM may normalise what it takes). */
    uint32_t cache_valid;    /* VCORE_X86_STATE_* groups of `cache` equal to KVM's (never the TSC). */
    bool apic_base_valid;    /* cache_apic_base is KVM's IA32_APIC_BASE (KVM_SET_SREGS writes it too). */
    uint8_t cache_nmis;      /* KVM's count of pending NMIs at the last KVM_GET_VCPU_EVENTS (up to 2). */
    uint64_t cache_apic_base;
    vcore_x86_state_t cache;
    /* The event state KVM does not hold (kvm_events.c): the window request
     * (kvm_run.request_interrupt_window), an interrupt that waits for it,
     * and the length of a software event. */
    vcore_x86_events_t events_own;
    /* Kick protocol (kvm_kick.c). Accessed with __atomic builtins. */
    uint32_t kick_pending;   /* 1 after vcpu_kick until the run reports INTERRUPTED. */
    uint32_t in_run;         /* 1 while a thread is inside (or entering) KVM_RUN. */
    pthread_t thread;        /* The thread inside KVM_RUN (valid while in_run). */
} vcore_kvm_vcpu_t;

/* The ops table (kvm_backend.c). */
extern const vcore_backend_t vcore__backend_kvm_ops;

/* ---- kvm_hyperv.c ---- */
int vcore__kvm_vm_hv_host(vcore_vm_t *vm, void *priv, uint32_t features);
int vcore__kvm_vcpu_hv_vp_index(vcore_vcpu_t *vcpu, void *priv, uint32_t vp_index);

/* ---- kvm_sys.c ---- */
/* Fills the NULL entries of sys with the real system calls. */
void vcore__kvm_sys_defaults(vcore_kvm_sys_t *sys);
/* Maps a negative errno from the kernel to a VCORE_ERR_* code. */
int vcore__kvm_err(int neg_errno);
/* ioctl that retries EINTR/EAGAIN (for every ioctl except KVM_RUN). */
int vcore__kvm_ioctl(const vcore_kvm_vm_t *kvm, int fd, unsigned long request, unsigned long arg);
/* Logs "kvm: <what> failed: <strerror>" through the VM's host services. */
void vcore__kvm_log_errno(const vcore_vm_t *vm, const char *what, int neg_errno);

/* ---- kvm_vm.c ---- */
int vcore__kvm_probe(const vcore_host_t *host);
int vcore__kvm_vm_init(vcore_vm_t *vm, void *priv);
void vcore__kvm_vm_fini(vcore_vm_t *vm, void *priv);

/* ---- kvm_mem.c ---- */
int vcore__kvm_vm_map(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r);
int vcore__kvm_vm_unmap(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r);
int vcore__kvm_vm_dirty_log(vcore_vm_t *vm, void *priv, uint32_t slot,
                            const vcore_mem_region_t *r, uint64_t *bitmap, size_t bitmap_len);

/* ---- kvm_vcpu.c ---- */
int vcore__kvm_vcpu_init(vcore_vcpu_t *vcpu, void *priv);
void vcore__kvm_vcpu_fini(vcore_vcpu_t *vcpu, void *priv);

/* ---- kvm_state.c (x86 register classes) ---- */
int vcore__kvm_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups);
int vcore__kvm_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups);
/* Forgets what was read from KVM (the guest is about to run). */
void vcore__kvm_state_forget(vcore_kvm_vcpu_t *kv);
/* Finds the modelled MSRs this kernel does not implement (sets kv->msr_absent). */
void vcore__kvm_probe_msrs(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv);

#if defined(__x86_64__)
/* ---- kvm_events.c (pure: vcore_x86_events_t <-> struct kvm_vcpu_events) ---- */
/* Fills `k` (flags included) from the model's event state. `payload_cap`:
 * VCORE_KVM_F_EXC_PAYLOAD is on; `nmis`: KVM's count of pending NMIs to keep
 * when the model says one is pending (KVM latches up to two). */
void vcore__kvm_events_to_kvm(const vcore_x86_events_t *e, bool payload_cap, uint8_t nmis,
                              struct kvm_vcpu_events *k);
/* Writes the fields KVM holds into `e`; the others are left as they are. */
void vcore__kvm_events_from_kvm(const struct kvm_vcpu_events *k, vcore_x86_events_t *e);
/* NULL if KVM can take `e`; otherwise why not (for the log). */
const char *vcore__kvm_events_refusal(const vcore_x86_events_t *e, bool payload_cap);
#endif

#if defined(__aarch64__)
/* ---- kvm_arm64.c (the arm64 register model, hypercall exits) ---- */
/* Installs the SMCCC filter that forwards hypercalls, where KVM has one. */
void vcore__kvm_arm64_vm_features(vcore_vm_t *vm, vcore_kvm_vm_t *kvm);
/* Completes a decoded KVM_EXIT_HYPERCALL: args = X0..X5 of the vCPU. */
int vcore__kvm_arm64_hypercall(vcore_vcpu_t *vcpu, const vcore_kvm_vcpu_t *kv, vcore_exit_t *exit);
/* The reply of a hypercall: X0 = ret. */
int vcore__kvm_arm64_reply(vcore_vcpu_t *vcpu, const vcore_kvm_vcpu_t *kv, const vcore_exit_t *exit);
#endif

/* ---- kvm_fpu.c (pure: x87 tag word forms) ---- */
/* Full 16-bit tag word from FXSAVE's abridged byte, classifying the
 * non-empty registers from their contents; fpr[i] is ST(i) (80-bit, 16-byte slots). */
uint16_t vcore__kvm_ftw_from_abridged(uint8_t ftwx, uint16_t fsw, const uint8_t fpr[8][16]);
/* Abridged byte from a full tag word: bit i = physical register i is not empty. */
uint8_t vcore__kvm_ftw_to_abridged(uint16_t ftw);

/* ---- kvm_cpuid.c ---- */
int vcore__kvm_vcpu_set_cpuid(vcore_vcpu_t *vcpu, void *priv, const vcore_cpuid_entry_t *e,
                              uint32_t nent);

/* ---- kvm_run.c ---- */
int vcore__kvm_vcpu_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit);
/* Decodes the exit in `run` into `exit` (pure over the page; run_size bounds I/O data). */
void vcore__kvm_decode_exit(struct kvm_run *run, size_t run_size, vcore_exit_t *exit,
                            uint32_t *reply);

/* ---- kvm_kick.c ---- */
int vcore__kvm_vcpu_kick(vcore_vcpu_t *vcpu, void *priv);
/* Installs an empty handler for the kick signal if it has none (SIG_DFL/SIG_IGN). */
int vcore__kvm_kick_prepare(int signo);
/* Called by the run loop around KVM_RUN. */
void vcore__kvm_kick_enter(vcore_kvm_vcpu_t *kv);
void vcore__kvm_kick_leave(vcore_kvm_vcpu_t *kv);
/* True (and the kick consumed) if a kick is pending. */
bool vcore__kvm_kick_consume(vcore_kvm_vcpu_t *kv);

/* The VM context of a vCPU. */
static inline vcore_kvm_vm_t *vcore__kvm_vm_of(const vcore_vcpu_t *vcpu)
{
    return (vcore_kvm_vm_t *)vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
}

#endif /* VCORE_BACKEND_KVM_PRIV_H */
