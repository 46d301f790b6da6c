/*
 * hv.h - private interface of the Hyper-V enlightenments (src/core/x86/hyperv).
 *
 * hv_vm.c       enablement, per-vCPU lifecycle, the run-loop hooks
 * hv_vpindex.c  VP index <-> vCPU mapping and the mismatch count
 * hv_cpuid.c    the hypervisor CPUID leaves 40000000H-40000006H
 * hv_msr.c      HV_X64_MSR_GUEST_OS_ID / HYPERCALL / VP_INDEX
 * hv_decode.c   hypercall environment, input value, input copy, result
 * hv_vpset.c    HV_VP_SET and 64-bit processor masks -> target vCPUs
 * hv_ipi.c      HvCallSendSyntheticClusterIpi(Ex), pending vectors
 * hv_flush.c    HvCallFlushVirtualAddress{Space,List}(Ex), flush requests
 *
 * The per-VM block lives in host or caller storage; everything another
 * vCPU's thread may touch (pending vectors, flush requests, in-guest flag)
 * is accessed with atomics.
 */
#ifndef VCORE_CORE_HV_H
#define VCORE_CORE_HV_H

#include "../../vcpu_x86.h"
#include "../x86_bits.h"
#include "virtcore/x86/hyperv.h"

#define VCORE__HV_MAGIC 0x76487643u /* "CvHv" */

/* Pending GVA ranges one vCPU keeps for flushes other vCPUs asked of it;
 * more than this becomes a full flush (over-flushing is allowed). */
#define VCORE__HV_FLUSH_SLOTS 16u

/* vcore__hv_vcpu_t::flush_kind bits: what the pending request needs. */
#define VCORE__HV_FLUSH_REQ_ALL (1u << 0)       /* everything, global entries included */
#define VCORE__HV_FLUSH_REQ_NON_GLOBAL (1u << 1) /* everything but global entries */
#define VCORE__HV_FLUSH_REQ_LIST (1u << 2)      /* the ranges in slots */

/* Hyper-V state of one vCPU slot (indexed by vCPU id). */
typedef struct vcore__hv_vcpu {
    uint32_t vp_index;      /* HV_X64_MSR_VP_INDEX (written by the VMM only) */
    uint32_t in_guest;      /* atomic: 1 from the pre-entry drain until the backend run returned */
    uint64_t pending[4];    /* atomic: IPI vectors waiting (the model of a local APIC's IRR) */
    uint32_t flush_lock;    /* atomic spin lock over flush_kind / nranges / ranges */
    uint32_t flush_kind;    /* VCORE__HV_FLUSH_REQ_* */
    uint32_t nranges;
    uint32_t flush_req;     /* atomic: requests made (a ticket counter) */
    uint32_t flush_done;    /* atomic: requests performed before an entry */
    uint64_t ranges[VCORE__HV_FLUSH_SLOTS];
    /* The vCPU's own thread only: a Hyper-V call went to the VMM, its
     * reply needs the 32-bit result convention. */
    bool forwarded;
    bool forwarded_32;
} vcore__hv_vcpu_t;

struct vcore__hv {
    uint32_t magic;
    bool allocated;          /* made by vcore_hv_enable (host allocator) */
    bool host;               /* the backend's host serves Hyper-V (vm_hv_host) */
    size_t block_size;
    vcore_hv_config_t cfg;   /* features = the ones in force */
    uint64_t guest_os_id;    /* atomic: HV_X64_MSR_GUEST_OS_ID (partition-wide) */
    uint64_t hypercall;      /* atomic: HV_X64_MSR_HYPERCALL (partition-wide) */
    uint32_t mismatched;     /* vCPUs whose VP index differs from their id */
    uint32_t nslots;         /* the VM's max_vcpus */
    uint64_t exists[VCORE_HV_TARGET_WORDS]; /* vCPU ids that exist */
    vcore__hv_vcpu_t vcpu[]; /* nslots */
};
typedef struct vcore__hv vcore__hv_t;

/* Bits set in v. Written out: the compiler's builtin may call a libgcc
 * helper, and the freestanding archive links against nothing. */
static inline uint32_t vcore__hv_popcount(uint64_t v)
{
    v = v - ((v >> 1) & 0x5555555555555555ull);
    v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (uint32_t)((v * 0x0101010101010101ull) >> 56);
}

/* hv_vm.c */
/* The VM goes away: its Hyper-V block is released (vm.c). */
void vcore__hv_vm_teardown(vcore_vm_t *vm);
vcore__hv_vcpu_t *vcore__hv_slot(const vcore_vcpu_t *vcpu);
/* A vCPU was set up on a Hyper-V VM: VP index = id, CPUID leaves composed. */
int vcore__hv_vcpu_created(vcore_vcpu_t *vcpu);
/* A vCPU leaves the VM: the mismatch count forgets it. */
void vcore__hv_vcpu_gone(vcore_vcpu_t *vcpu);
/* RESET/INIT: no vector or flush stays pending. */
void vcore__hv_vcpu_reset(vcore_vcpu_t *vcpu);

/* hv_vpindex.c */
int vcore__hv_set_vp_index(vcore_vcpu_t *vcpu, uint64_t value);
/* Target vCPUs of a 64-bit processor mask (bit i = VP index i). */
void vcore__hv_mask_targets(const vcore_vm_t *vm, uint64_t mask, uint64_t t[VCORE_HV_TARGET_WORDS]);
/* Target vCPUs of a sparse set: nbanks bank words, bank b of valid_mask at banks[k]. */
void vcore__hv_sparse_targets(const vcore_vm_t *vm, uint64_t valid_mask, const uint64_t *banks,
                              uint64_t t[VCORE_HV_TARGET_WORDS]);
/* Every vCPU of the VM. */
void vcore__hv_all_targets(const vcore_vm_t *vm, uint64_t t[VCORE_HV_TARGET_WORDS]);

/* hv_cpuid.c: replaces 40000000H-400000FFH of a candidate table by the
 * library's leaves and sets CPUID.1:ECX[31]; *n grows. VCORE_ERR_RANGE when full. */
int vcore__hv_cpuid_compose(vcore_vcpu_t *vcpu, vcore_cpuid_entry_t *e, uint32_t *n,
                            uint32_t cap);

/* hv_msr.c: guest RDMSR/WRMSR of a synthetic MSR; *handled when it was one. */
int vcore__hv_msr_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);

/* hv_decode.c: the decoded hypercall being handled. */
typedef struct vcore__hv_input {
    uint64_t control;
    uint16_t code;
    bool fast;
    bool long64;
    uint32_t var_size;   /* QWORDs */
    uint32_t rep_count;
    uint32_t rep_start;
    uint64_t param1;     /* input GPA or fast parameter */
    uint64_t param2;     /* output GPA or fast parameter */
    uint32_t size;       /* bytes the call may read: fixed + var + reps */
    uint64_t block[14];  /* fast: RDX, R8, XMM0.lo, XMM0.hi, ... XMM5.hi */
    uint32_t nblock;     /* fast: QWORDs valid in block (2, or 14 with XMM) */
    int err;             /* with VCORE__HV_ERROR: the backend's error */
} vcore__hv_input_t;

/* Copies QWORDs [off, off + 8n) of the input once into dst: from the
 * register block or guest memory; the range was bounded to the input by
 * vcore__hv_input_prepare(). Returns an HV status. */
uint16_t vcore__hv_input_read(vcore_vcpu_t *vcpu, const vcore__hv_input_t *in, uint32_t off,
                              uint64_t *dst, uint32_t n);
/* Bounds and locates the input of a call whose header is fixed bytes (plus
 * var_size QWORDs and rep_count QWORDs). Returns an HV status, or
 * VCORE__HV_UD when the call must #UD; records the diagnostic. */
#define VCORE__HV_UD 0x10000u
/* Not a status: the backend failed to give state (in->err holds its error). */
#define VCORE__HV_ERROR 0x40000u
uint32_t vcore__hv_input_prepare(vcore_vcpu_t *vcpu, vcore__hv_input_t *in, uint32_t fixed);
/* The run loop's hypercall exit. */
int vcore__hv_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);
/* The VMM's reply to a forwarded call, before the next entry. */
int vcore__hv_answer(vcore_vcpu_t *vcpu, vcore_exit_t *exit);
/* Records a refusal diagnostic on the vCPU and returns status. */
uint32_t vcore__hv_refuse(vcore_vcpu_t *vcpu, uint32_t diag, uint64_t value, uint32_t status);
/* Runs the VMM's hook: VCORE_HV_DELIVER, _DONE or _REFUSE (status in *status). */
int vcore__hv_hook(vcore_vcpu_t *vcpu, vcore_hv_call_t *call, uint32_t *status);

/* hv_vpset.c: reads an HV_VP_SET at byte offset off of the input into
 * target vCPUs. Returns an HV status. */
uint32_t vcore__hv_vpset_read(vcore_vcpu_t *vcpu, const vcore__hv_input_t *in, uint32_t off,
                              uint64_t t[VCORE_HV_TARGET_WORDS]);
/* Whether the vp set format at off says "all" (for the size of the input). */

/* hv_ipi.c */
uint32_t vcore__hv_ipi(vcore_vcpu_t *vcpu, vcore__hv_input_t *in);
/* Before an entry (vCPU's own thread): the highest pending vector goes into the event state. */
int vcore__hv_ipi_drain(vcore_vcpu_t *vcpu);

/* hv_flush.c */
uint32_t vcore__hv_flush(vcore_vcpu_t *vcpu, vcore__hv_input_t *in);
/* Before an entry (vCPU's own thread): performs a pending flush. */
int vcore__hv_flush_perform(vcore_vcpu_t *vcpu);

/* hv_vm.c: the run-loop hooks (vcpu.c). */
int vcore__hv_before_entry(vcore_vcpu_t *vcpu);
void vcore__hv_after_exit(vcore_vcpu_t *vcpu);
/* Kicks target t (slot s) when it is in guest mode; true when it was in guest mode. */
bool vcore__hv_kick(vcore_vcpu_t *t, vcore__hv_vcpu_t *s);

#endif /* VCORE_CORE_HV_H */
