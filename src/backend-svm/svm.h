/*
 * svm.h - private state and internal functions of the svm backend.
 *
 * Everything declared here is pure C over state; the only way to the
 * processor is svm_prim.h. File map:
 *   svm_cpu.c     SVM per physical processor: EFER.SVME, VM_HSAVE_PA, ASIDs
 *   svm_pool.c    per-VM page pool over the host's alloc_pages
 *   svm_npt.c     nested page tables (prepare / commit, 4 KiB and 2 MiB)
 *   svm_vmcb.c    VMCB01: intercepts, permission maps, clean bits, the run
 *   svm_state.c   field-group sync between the core model and VMCB01
 *   svm_events.c  EVENTINJ, EXITINTINFO, interrupt and NMI windows
 *   svm_guest.c   guest memory, instruction fetch and decoding
 *   svm_exit.c    exit decoding into vcore_exit_t, completion of the answered exit
 *   svm_fpu.c     the guest's x87/SSE state (FXSAVE image, core/x86/fxsave.h)
 *   svm_tlb.c     the vcpu_flush_tlb op (TLB_CONTROL, new ASID, INVLPGA)
 *   svm_kick.c    the vcpu_kick op (core/kick.h)
 *   svm_vmcb02.c  the core's hardware VMCBs (vmcb02 of nested SVM), shadow nested tables
 *   svm_backend.c the ops table
 */
#ifndef VCORE_BACKEND_SVM_H
#define VCORE_BACKEND_SVM_H

#include "core/deps.h"
#include "core/kick.h"
#include "core/x86/decode.h"
#include "core/x86/x86_bits.h"
#include "svm_prim.h"
#include "virtcore/backend.h"
#include "virtcore/error.h"
#include "virtcore/x86/msr.h"
#include "virtcore/x86/vmcb.h"

/* ---- MSRs (APM Vol. 2, "SVM Related MSRs") ---- */
#define VCORE__MSR_VM_CR 0xc0010114u     /* VM_CR: bit 4 SVMDIS (SVM disabled by firmware) */
#define VCORE__MSR_VM_HSAVE_PA 0xc0010117u /* physical address of the host save area */
#define VCORE__VM_CR_SVMDIS (1ull << 4)

/* Exceptions the backend intercepts: #DB and #BP for the VMM's debugger,
 * #UD for the VMM to emulate, #AC (a guest could otherwise loop on it
 * forever, the host never regaining control), and #MC, which belongs to
 * the platform (APM Vol. 2, "Exception Intercepts"). */
#define VCORE__VEC_AC 17u
#define VCORE__VEC_MC 18u
#define VCORE__SVM_EXC_INTERCEPTS                                                                   \
    ((1u << VCORE__VEC_DB) | (1u << VCORE__VEC_BP) | (1u << VCORE__VEC_UD) | (1u << VCORE__VEC_AC) | \
     (1u << VCORE__VEC_MC))

/* Page pool: chunks from the host's alloc_pages, handed out page by page. */
#define VCORE__SVM_POOL_CHUNKS 64u
#define VCORE__SVM_POOL_CHUNK_PAGES 8u
typedef struct vcore__svm_pool {
    const vcore_host_t *host;
    struct {
        uint8_t *va;
        uint64_t pa;
    } chunk[VCORE__SVM_POOL_CHUNKS];
    uint32_t nchunks;
    void *free_list; /* free pages linked through their first 8 bytes */
} vcore__svm_pool_t;

/* Nested page tables of one VM (long-mode format: the host runs in long mode). */
typedef struct vcore__svm_npt {
    uint64_t *root;  /* PML4 */
    uint64_t root_pa; /* nCR3 */
    uint32_t gen;     /* bumped when translations are removed: vCPUs flush their ASID */
} vcore__svm_npt_t;

/* Per-VM state. */
typedef struct vcore__svm_vm {
    uint32_t features;   /* CPUID Fn8000_000A_EDX (VCORE_SVM_FEAT_*) */
    uint32_t nasid;      /* CPUID Fn8000_000A_EBX: number of ASIDs */
    vcore__svm_pool_t pool;
    vcore__svm_npt_t npt;
    uint8_t *iopm;       /* I/O permission map, 3 pages: every port intercepted */
    uint64_t iopm_pa;
    uint8_t *msrpm;      /* MSR permission map, 2 pages */
    uint64_t msrpm_pa;
} vcore__svm_vm_t;

/* VMCB access counters: every field the backend reads or writes in VMCB01
 * goes through VCORE__SVM_RD / VCORE__SVM_WR, so a test or benchmark can
 * tell exactly what an exit costs. */
typedef struct vcore__svm_stats {
    uint64_t vmcb_reads;
    uint64_t vmcb_writes;
    uint64_t vmruns;
    uint64_t map_bytes; /* bytes of permission maps copied into hardware VMCBs' maps */
} vcore__svm_stats_t;

/* A hardware VMCB the core runs (backend.h, VMCB ops; svm_vmcb02.c). The
 * members from vmcb to next_rip are swapped with the vCPU's for a run. */
#define VCORE__SVM_NVMCB 2u
struct vcore_hw_vmcb {
    bool in_use;
    bool flush_asid;            /* the next run flushes the VMCB's ASID */
    uint32_t npt;               /* vcore_hw_vmcb_npt_t */
    uint8_t *msrpm;             /* its MSR permission map, 2 pages */
    uint64_t msrpm_pa;
    uint8_t *iopm;              /* its I/O permission map, 3 pages */
    uint64_t iopm_pa;
    vcore__svm_npt_t shadow;    /* the shadow nested table (root NULL until used) */
    vcore_vmcb_t *vmcb;
    uint64_t vmcb_pa;
    uint32_t asid, asid_generation, npt_gen, dirty;
    bool ran;
    uint32_t pending;
    uint64_t next_rip;
    /* TSC_OFFSET as the core states it: relative to the vCPU's own TSC.
     * The VMCB holds it plus vmcb01's offset, composed at each run. */
    uint64_t tsc_offset;
    bool maps_set;              /* msrpm/iopm hold a setup's maps */
};

/* Size of the string-I/O buffer. */
#define VCORE__SVM_IO_BUF 256u

/* Per-vCPU state. */
typedef struct vcore__svm_vcpu {
    vcore__svm_gprs_t g;        /* guest GPRs the VMCB does not hold (the entry primitive moves them) */
    vcore_vmcb_t *vmcb;         /* VMCB01: the VMCB the guest runs on */
    uint64_t vmcb_pa;
    void *host_save;            /* the host's VMLOAD/VMSAVE state while the guest runs */
    uint64_t host_save_pa;
    vcore_host_cpu_t *cpu;      /* the processor's record (host cpus[]) */
    uint32_t cpu_index;         /* the processor the vCPU lives on */
    bool cpu_held;              /* counted in cpu->users */
    uint32_t asid;              /* the VMCB's ASID (0: none handed out yet) */
    uint32_t asid_generation;   /* cpu->asid_generation when it was handed out */
    uint32_t npt_gen;           /* NPT generation last flushed */
    uint32_t dirty;             /* VMCB clean bits to clear at the next VMRUN */
    bool ran;                   /* VMRUN'd with the current ASID: the clean bits may be used */
    bool guest_svme;            /* EFER.SVME as the guest set it (VMCB01 always runs with it set) */
    /* Guest state the VMCB does not hold (kept as last set). */
    vcore_x86_dregs_t dregs;    /* DR0-3 (DR6, DR7 are VMCB fields) */
    /* x87/SSE state (svm_fpu.c): one page, the guest's FXSAVE image at 0,
     * the host's at VCORE__SVM_FX_HOST while the guest runs. */
    uint8_t *fx;
    uint32_t mxcsr_mask;        /* the processor's MXCSR_MASK */
    uint8_t tlb_request;        /* TLB_CONTROL the next VMRUN needs for vcpu_flush_tlb (svm_tlb.c) */
    vcore__kick_t kick;         /* svm_kick.c */
    uint64_t xcr0;
    vcore_x86_msrs_t msrs;      /* APIC_BASE, MISC_ENABLE, SMBASE, TSC_AUX, FEATURE_CONTROL */
    /* Events (svm_events.c). */
    vcore_x86_events_t ev;      /* the events group; the interrupt shadow is the VMCB's */
    bool injected;              /* the last VMRUN injected an event through EVENTINJ */
    bool soft_advanced;         /* RIP was moved past a software event's instruction (no NRIPS) */
    uint8_t soft_len;           /* ... by this many bytes */
    bool iret_pending;          /* an IRET was intercepted: NMIs unblock once it has executed */
    bool nmi_step;              /* single-stepping the guest to open the NMI window */
    bool step_ended;            /* the last exit ended a single step */
    uint64_t step_rflags;       /* TF and RF as the guest had them before the step */
    uint64_t step_dr6;          /* DR6.BS as the guest had it before the step */
    /* Exit being answered: VCORE_EXIT_* reason that needs completing, 0 if none. */
    uint32_t pending;
    uint64_t next_rip;          /* where the exited instruction ends */
    /* MMIO completion data. */
    uint8_t mmio_reg;           /* destination GPR of an MMIO read */
    uint8_t mmio_high8;         /* AH..BH form of an 8-bit register */
    uint32_t mmio_len;
    /* Port I/O completion data. */
    uint32_t io_count;          /* elements moved by this exit */
    uint8_t io_width;           /* element size */
    uint8_t io_string, io_rep;  /* INS/OUTS, REP prefix */
    uint8_t io_in;              /* IN / INS */
    uint8_t io_asize;           /* address size of a string instruction: 16, 32 or 64 */
    bool io_down;               /* RFLAGS.DF: the string walks downwards */
    bool io_long64;             /* executed in 64-bit mode */
    uint64_t io_base;           /* base of the segment of the string's memory operand */
    uint8_t iobuf[VCORE__SVM_IO_BUF];
    vcore__svm_stats_t stats;
    struct vcore_hw_vmcb vmcb02[VCORE__SVM_NVMCB]; /* the core's hardware VMCBs */
    vcore_vcpu_t *vcpu;
    vcore_vm_t *vmobj;
} vcore__svm_vcpu_t;

/* ---- counted VMCB01 access ---- */
#define VCORE__SVM_RD(c, field) ((c)->stats.vmcb_reads++, (c)->vmcb->field)
#define VCORE__SVM_WR(c, field, v) ((void)((c)->stats.vmcb_writes++, (c)->vmcb->field = (v)))
/* Writes a field only when it changes, marking the clean bit that covers it
 * (0 for fields no clean bit covers). */
#define VCORE__SVM_PUT(c, field, v, clean)                                                          \
    do {                                                                                            \
        if (VCORE__SVM_RD(c, field) != (v)) {                                                       \
            VCORE__SVM_WR(c, field, v);                                                             \
            (c)->dirty |= (uint32_t)(clean);                                                        \
        }                                                                                           \
    } while (0)

/* ---- svm_cpu.c ---- */
/* CPUID Fn8000_000A (features, ASIDs) and whether this processor can run
 * guests: SVM present and not disabled by firmware, nested paging.
 * VCORE_ERR_NODEV otherwise. */
int vcore__svm_cpu_caps(uint32_t *features, uint32_t *nasid);
/* Counts the vCPU as a user of SVM on the current processor, enabling it
 * (EFER.SVME, VM_HSAVE_PA) for the first user. */
int vcore__svm_cpu_enter(vcore__svm_vcpu_t *c, const vcore_host_t *host);
/* Drops the vCPU's use; the last user undoes what the library enabled. */
void vcore__svm_cpu_leave(vcore__svm_vcpu_t *c);
/* The call runs on the processor the vCPU lives on (VCORE_ERR_STATE otherwise). */
int vcore__svm_cpu_here(const vcore__svm_vcpu_t *c, const vcore_host_t *host);
/* Gives the vCPU an ASID of its processor's current generation if it has
 * none; returns the TLB_CONTROL value the next VMRUN needs. */
uint8_t vcore__svm_cpu_asid(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v);

/* ---- svm_pool.c ---- */
void vcore__svm_pool_init(vcore__svm_pool_t *p, const vcore_host_t *host);
/* A zeroed page (VCORE_ERR_NOMEM when the host has none). */
int vcore__svm_pool_get(vcore__svm_pool_t *p, uint64_t **va, uint64_t *pa);
/* Host-virtual address of a pool page from its physical address (NULL if foreign). */
uint64_t *vcore__svm_pool_va(const vcore__svm_pool_t *p, uint64_t pa);
void vcore__svm_pool_fini(vcore__svm_pool_t *p);
/* Returns a page got from the pool. */
void vcore__svm_pool_put(vcore__svm_pool_t *p, void *va);

/* ---- svm_npt.c ---- */
int vcore__svm_npt_init(vcore__svm_npt_t *n, vcore__svm_pool_t *p);
/* Phase 1: every table the region needs exists (may fail; translations unchanged). */
int vcore__svm_npt_prepare(vcore__svm_npt_t *n, vcore__svm_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r);
/* Phase 2: writes the leaves; cannot fail after a successful prepare. */
void vcore__svm_npt_commit(vcore__svm_npt_t *n, const vcore__svm_pool_t *p, const vcore_host_t *host,
                           const vcore_mem_region_t *r);
/* Removes the leaves of a region (and asks every vCPU to flush). */
void vcore__svm_npt_unmap(vcore__svm_npt_t *n, const vcore__svm_pool_t *p, const vcore_mem_region_t *r);
/* The leaf entry for gpa (0 if none) and its page size. */
uint64_t vcore__svm_npt_lookup(const vcore__svm_npt_t *n, const vcore__svm_pool_t *p, uint64_t gpa,
                               uint64_t *page_size);

/* Maps one 4 KiB page gpa -> hpa with perm (VCORE__NPT_RW, VCORE__NPT_NX
 * bits of the leaf): the tables first, the leaf last. */
#define VCORE__NPT_LEAF_RW (1ull << 1)
#define VCORE__NPT_LEAF_NX (1ull << 63)
int vcore__svm_npt_map_page(vcore__svm_npt_t *n, vcore__svm_pool_t *p, uint64_t gpa, uint64_t hpa, uint64_t perm);
/* Empties a table (its tables go back to the pool; the root stays). */
void vcore__svm_npt_clear(vcore__svm_npt_t *n, vcore__svm_pool_t *p);

/* ---- svm_vmcb.c ---- */
int vcore__svm_vm_setup(vcore__svm_vm_t *v, const vcore_host_t *host);
void vcore__svm_vm_teardown(vcore__svm_vm_t *v, const vcore_host_t *host);
/* SVM on this processor, VMCB01 and the host save page. */
int vcore__svm_vcpu_setup(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, const vcore_host_t *host);
void vcore__svm_vcpu_teardown(vcore__svm_vcpu_t *c, const vcore_host_t *host);
/* Sets or clears one intercept of VMCB01 (clean bit I when it changes). */
void vcore__svm_vmcb_intercept(vcore__svm_vcpu_t *c, uint32_t id, bool on);
/* VMRUN of VMCB01: ASID, TLB control, clean bits, then CLGI, VMSAVE (host),
 * VMLOAD (guest), VMRUN, VMSAVE (guest), VMLOAD (host), STGI. False when
 * a kick pending after CLGI stopped it before VMRUN (nothing ran). */
bool vcore__svm_vmcb_run(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v);

/* ---- svm_state.c ---- */
/* The state groups this backend reads and writes in VMCB01 or keeps itself. */
#define VCORE__SVM_GROUPS (VCORE_X86_STATE_ALL | VCORE_X86_STATE_XMM)
/* Copies exactly the groups asked for into st. */
int vcore__svm_state_get(vcore__svm_vcpu_t *c, vcore_x86_state_t *st, uint32_t groups);
/* Writes the groups of st into VMCB01, only the fields that change. */
int vcore__svm_state_set(vcore__svm_vcpu_t *c, const vcore_x86_state_t *st, uint32_t groups);
/* The guest executes 64-bit code (EFER.LMA and CS.L). Inline, like the
 * VMCB accessors it is made of: the event and decode files read the mode
 * without calling into the state file that calls them. */
static inline bool vcore__svm_state_long64(vcore__svm_vcpu_t *c)
{
    return (VCORE__SVM_RD(c, save.efer) & VCORE__EFER_LMA) && (VCORE__SVM_RD(c, save.cs.attrib) & VCORE_VMCB_ATTR_L);
}
/* The code size (16, 32, 64) of the guest. */
static inline uint32_t vcore__svm_state_code_bits(vcore__svm_vcpu_t *c)
{
    if (vcore__svm_state_long64(c))
        return 64;
    /* Real mode and virtual-8086 mode execute 16-bit code. */
    if (!(VCORE__SVM_RD(c, save.cr0) & VCORE__CR0_PE) || (VCORE__SVM_RD(c, save.rflags) & VCORE__RFLAGS_VM))
        return 16;
    return (VCORE__SVM_RD(c, save.cs.attrib) & VCORE_VMCB_ATTR_DB) ? 32u : 16u;
}
/* Completes the exited instruction: RIP to c->next_rip; its interrupt
 * shadow is over (blocking by STI / MOV SS lasts one instruction). */
void vcore__svm_state_skip(vcore__svm_vcpu_t *c);

/* ---- svm_events.c ---- */
void vcore__svm_events_get(vcore__svm_vcpu_t *c, vcore_x86_events_t *out);
void vcore__svm_events_set(vcore__svm_vcpu_t *c, const vcore_x86_events_t *in);
/* Before VMRUN: EVENTINJ, the interrupt window (V_IRQ + VINTR intercept),
 * the NMI window (IRET intercept, single step). *window_now when the NMI
 * window is open already: the run reports it without entering. */
void vcore__svm_events_entry(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, bool *window_now);
/* After #VMEXIT (also VMEXIT_INVALID): what became of the injected event,
 * EXITINTINFO, the end of a single step. */
void vcore__svm_events_exited(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, uint64_t exit_code,
                              vcore_exit_t *exit);
/* An IRET intercept: NMIs are unblocked once the IRET completes. */
void vcore__svm_events_iret(vcore__svm_vcpu_t *c);
/* A #DB that ends the NMI-window single step: true when it was the step's. */
bool vcore__svm_events_step_done(vcore__svm_vcpu_t *c);

/* ---- svm_guest.c ---- */
/* Translates a guest linear address with the guest's paging (VCORE_ERR_FAULT when it cannot). */
int vcore__svm_guest_translate(vcore__svm_vcpu_t *c, uint64_t gla, uint64_t *gpa);
/* Reads up to len bytes at a guest linear address (stops at an unmapped page). */
size_t vcore__svm_guest_read(vcore__svm_vcpu_t *c, uint64_t gla, uint8_t *buf, size_t len);
/* Writes len bytes at a guest linear address (VCORE_ERR_FAULT if a page is not guest RAM). */
int vcore__svm_guest_write(vcore__svm_vcpu_t *c, uint64_t gla, const uint8_t *buf, size_t len);
/* Decodes the instruction at CS:RIP (the decode-assist bytes when the VMCB has them). */
int vcore__svm_guest_decode(vcore__svm_vcpu_t *c, vcore__x86_insn_t *out);
/* The linear address of string element k. */
uint64_t vcore__svm_guest_elem(const vcore__svm_vcpu_t *c, uint64_t reg, uint32_t k);

/* ---- svm_vmcb02.c: the VMCB ops of backend.h ---- */
int vcore__svm_hw_vmcb_alloc(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t **out);
void vcore__svm_hw_vmcb_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb);
int vcore__svm_hw_vmcb_read(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                         uint64_t *value);
int vcore__svm_hw_vmcb_write(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                          uint64_t value);
int vcore__svm_hw_vmcb_setup(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, const vcore_hw_vmcb_setup_t *s);
int vcore__svm_hw_vmcb_npt_map(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint64_t gpa, uint64_t vm_gpa,
                            uint32_t prot);
int vcore__svm_hw_vmcb_run(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, vcore_x86_regs_t *gprs,
                        vcore_exit_t *exit);

/* ---- svm_exit.c ---- */
/* Decodes the #VMEXIT that just happened into *exit; *again when the
 * backend handled it itself (a host NMI or machine check, an IRET
 * intercept) and the guest re-enters. */
void vcore__svm_exit_decode(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, vcore_exit_t *exit,
                            bool *again);
/* Completes the previous exit with the reply in *exit before the next entry. */
int vcore__svm_exit_complete(vcore__svm_vcpu_t *c, const vcore_exit_t *exit);

/* ---- svm_fpu.c ---- */
#define VCORE__SVM_FX_HOST 512u /* offset of the host's image in c->fx */
/* Allocates and initialises the guest image (FINIT state, MXCSR 1F80H)
 * and reads the processor's MXCSR_MASK; VCORE_ERR_STATE when the host's
 * CR0/CR4 forbid FXSAVE. */
int vcore__svm_fpu_setup(vcore__svm_vcpu_t *c, const vcore_host_t *host);
void vcore__svm_fpu_teardown(vcore__svm_vcpu_t *c, const vcore_host_t *host);
/* Around each VMRUN: the host's state out, the guest's in, and back. */
int vcore__svm_fpu_enter(vcore__svm_vcpu_t *c);
void vcore__svm_fpu_exit(vcore__svm_vcpu_t *c);
/* The FPU and XMM groups from / into the guest image. */
void vcore__svm_fpu_get(const vcore__svm_vcpu_t *c, vcore_x86_fpu_t *out);
bool vcore__svm_fpu_ok(const vcore__svm_vcpu_t *c, const vcore_x86_fpu_t *in);
void vcore__svm_fpu_set(vcore__svm_vcpu_t *c, const vcore_x86_fpu_t *in);
void vcore__svm_fpu_get_xmm(const vcore__svm_vcpu_t *c, uint64_t xmm[16][2]);
void vcore__svm_fpu_set_xmm(vcore__svm_vcpu_t *c, const uint64_t xmm[16][2]);

/* ---- svm_tlb.c ---- */
int vcore__svm_flush_tlb(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req);
/* The stronger of two TLB_CONTROL values (a flush of more covers less). */
uint8_t vcore__svm_tlb_merge(uint8_t a, uint8_t b);

/* ---- svm_kick.c ---- */
int vcore__svm_kick(vcore_vcpu_t *vcpu, void *priv);
/* After CLGI, before VMRUN: marks the vCPU in guest mode; true (mark
 * undone) when a kick is pending and the VMRUN must not happen. */
bool vcore__svm_kick_check(vcore__svm_vcpu_t *c);
/* After #VMEXIT. */
void vcore__svm_kick_left(vcore__svm_vcpu_t *c);

#endif /* VCORE_BACKEND_SVM_H */
