/*
 * nvmx_priv.h - private layout of the nested-VMX state and the internal
 * interfaces between the nvmx_*.c files.
 */
#ifndef VCORE_CORE_X86_NVMX_PRIV_H
#define VCORE_CORE_X86_NVMX_PRIV_H

#include "../x86.h"
#include "../x86_bits.h"
#include "vmcs_layout.h"
#include "virtcore/error.h"
#include "virtcore/x86/nvmx.h"
#include "virtcore/x86/nvmx_pipeline.h"
#include "virtcore/x86/nvmx_ept02.h"

struct vcore_hw_vmcs;

/* The exit information of vmcs02's last VM exit, read once from vmcs02 and
 * kept here until the exit is known to be L1's: an exit L0 keeps leaves
 * vmcs12 as L1 wrote it (L1 sees nothing of an exit it does not get). */
typedef struct vcore__nvmx_exit02 {
    uint32_t have;       /* VCORE__X02_* of the fields read from vmcs02 */
    uint32_t reason;     /* exit reason */
    uint32_t intr_info;  /* VM-exit interruption information */
    uint32_t intr_error; /* VM-exit interruption error code */
    uint32_t idt;        /* IDT-vectoring information */
    uint32_t idt_error;  /* IDT-vectoring error code */
    uint32_t insn_len;   /* VM-exit instruction length */
    uint32_t insn_info;  /* VM-exit instruction information */
    uint64_t qual;       /* exit qualification */
    uint64_t gla;        /* guest-linear address */
    uint64_t gpa;        /* guest-physical address */
} vcore__nvmx_exit02_t;

#define VCORE__X02_QUAL (1u << 0)
#define VCORE__X02_INTR (1u << 1)
#define VCORE__X02_INTR_ERR (1u << 2)
#define VCORE__X02_IDT (1u << 3)
#define VCORE__X02_IDT_ERR (1u << 4)
#define VCORE__X02_LEN (1u << 5)
#define VCORE__X02_II (1u << 6)
#define VCORE__X02_GLA (1u << 7)
#define VCORE__X02_GPA (1u << 8)

/* The VMX MSR lists of a nested VM entry or exit being processed
 * (vcpu_nested_msrload.c, vcpu_nested_msrlist.c): where an entry naming an
 * MSR the VMM models waits for the VMM's reply, and what the VM-entry
 * MSR-load list has done so far. */
typedef struct vcore__nvmx_msrlist {
    uint32_t list;          /* VCORE_EXIT_MSR_LIST_* of the entry waiting for the VMM's reply; 0: none */
    uint32_t at;            /* its 0-based position in the list */
    vcore_nvmx_insn_t in;   /* VM-entry list: L1's VMLAUNCH/VMRESUME */
    uint32_t failed;        /* VM-entry list: 1-based index of the entry that failed the VM entry; 0: none */
    uint32_t check;         /* ... its VCORE_VMX_CHECK_MSR_LOAD_* */
    bool model;             /* ... the vCPU model's MSRs changed (undo holds them before the list) */
    bool tsc;               /* ... an entry named IA32_TIME_STAMP_COUNTER: tsc_value goes to the vCPU's TSC after the list */
    uint64_t tsc_value;     /* ... the last such entry's value */
    vcore_x86_msrs_t undo;  /* ... the model's MSRs before the list */
} vcore__nvmx_msrlist_t;

#define VCORE__NVMX_MAGIC 0x6e766d78u /* "nvmx" */
#define VCORE__INVALID_PTR (~0ull)
#define VCORE__DIRTY_WORDS ((VCORE__VMCS_NROWS + 63) / 64)

struct vcore_nvmx {
    size_t size;            /* sizeof(struct vcore_nvmx) */
    uint32_t magic;         /* VCORE__NVMX_MAGIC while initialised */
    uint32_t maxphyaddr;    /* L1's physical-address width */
    uint32_t linear_bits;   /* L1's processor's linear-address width: 57 with 5-level paging, else 48 */
    uint32_t walk_1g;       /* VCORE__WALK_NO_1G when L1's processor has no 1-GByte pages, else 0 */
    bool vmx_operation;     /* after VMXON, before VMXOFF */
    bool shadow_loaded;     /* shadow_vmcs12 holds the link-pointer VMCS */
    bool shadow_written;    /* ... and differs from its region (L2's VMWRITE, an import) */
    uint64_t vmxon_ptr;     /* VMXON pointer, VCORE__INVALID_PTR outside VMX operation */
    uint64_t current_vmptr; /* current-VMCS pointer or VCORE__INVALID_PTR */
    uint64_t shadow_ptr;    /* address shadow_vmcs12 was loaded from */
    vcore_nvmx_caps_t caps; /* what L1 sees in MSRs 480H-491H */
    uint64_t dirty[VCORE__DIRTY_WORDS]; /* one bit per table row written since last entry */
    /* The VM-entry checks run only the rules whose inputs changed since
     * the last entry that passed them all (check_inputs.c): the rows L1 or
     * the library wrote since then, and what the rules read outside
     * vmcs12 (IA32_EFER of L1; CPUID and this vmcs12 reset chk_passed). */
    uint64_t chk_dirty[VCORE__DIRTY_WORDS];
    bool chk_passed;        /* the current vmcs12 passed every rule at the last entry */
    uint64_t chk_efer;      /* L1's IA32_EFER at that entry */
    bool chk_resume;        /* ... whether it was VMRESUME */
    uint32_t chk_launch;    /* ... the launch state of vmcs12 then */
    /* Cached copy of the current VMCS region (valid while current_vmptr is). */
    uint64_t vmcs12[VCORE_VMCS12_SIZE / 8];
    /* Cached shadow VMCS named by the VMCS link pointer (L1's VMCS shadowing). */
    uint64_t shadow_vmcs12[VCORE_VMCS12_SIZE / 8];
    /* VMPTRLD reads the new region here once, checks the copy, then
     * commits it: a refused VMPTRLD leaves the current VMCS untouched. */
    uint64_t scratch[VCORE_VMCS12_SIZE / 8];

    /* ---- KVM nested-state interchange (nvmx_kvm.c, vcpu_nested_state.c) ---- */
    bool vcpu_owned;        /* a vCPU's run loop owns this state (vcpu_nested.c) */
    bool run_pending;       /* L2 entered by an import with RUN_PENDING and not run yet */
    bool init_pending;      /* an INIT arrived while L2 ran: its VM exit (reason 3) to L1 is owed */
    bool mtf_pending;       /* a monitor-trap-flag VM exit to L1 is owed before L2 runs (MTF_PENDING) */
    /* A state no vCPU runs (the toolkit, the kvm backend) keeps a
     * guest-mode blob as data so that it exports again unchanged. */
    bool kvm_guest_mode;    /* the imported blob had GUEST_MODE */
    bool kvm_run_pending;   /* ... and RUN_PENDING */
    bool kvm_mtf_pending;   /* ... and MTF_PENDING */
    uint32_t kvm_vmx_flags; /* its VMX header flags (preemption-timer deadline) */
    uint64_t kvm_deadline;  /* its preemption-timer deadline */

    /* ---- the nested entry/exit pipeline (vcpu_nested_entry.c, vcpu_nested_exit.c) ---- */
    struct vcore_hw_vmcs *vmcs02; /* the backend's VMCS L2 runs on; NULL until the first entry */
    bool in_l2;             /* the next run enters L2 (vmcs02) */
    bool vmcs02_const;      /* vmcs02's constant state is written */
    bool rare_stale;        /* vmcs12's rarely-read guest fields are behind vmcs02 */
    uint64_t vmcs02_for;    /* the vmcs12 pointer vmcs02 was last built from */
    uint32_t ctl01[5];      /* vmcs01's control words (L0's needs), read once per vmcs02 */
    uint32_t exc01;         /* vmcs01's exception bitmap */
    uint32_t hw_allowed1[5]; /* the backend processor's allowed-1 control settings (which fields vmcs02 has) */
    uint64_t tsc01;         /* L0's TSC offset for L1 (vmcs01's, 0 without "use TSC offsetting") */
    uint64_t tscm01;        /* L0's TSC multiplier for L1 (vmcs01's, 1.0 = 1 << 48 without "use TSC scaling") */
    uint64_t tsc02[2];      /* vmcs02's TSC offset and multiplier as last written (vcpu_nested_tsc.c) */
    bool tsc_stale;         /* vmcs12's TSC controls, offset or multiplier changed since tsc02 was computed */
    uint32_t tsc01_gen;     /* the vCPU's tsc_writes when tsc01 and tscm01 were read from vmcs01 */
    uint64_t efer02;        /* vmcs02's guest IA32_EFER as last written (vcpu_nested_efer.c) */
    bool efer02_live;       /* L2's EFER was loaded by the entry and not yet replaced by L1's */
    uint64_t pat02;         /* vmcs02's guest IA32_PAT as last written (vcpu_nested_pat.c) */
    bool pat02_live;        /* L2's PAT was loaded by the entry and not yet handed to L1 */
    uint64_t dr702;         /* vmcs02's guest DR7 as last written or read back at an exit (vcpu_nested_debugctl.c) */
    bool dr702_known;       /* vmcs02's guest DR7 is dr702 (L2 could not change it since, or it was read back) */
    uint64_t debugctl02;    /* vmcs02's guest IA32_DEBUGCTL as last written or read back */
    bool debugctl02_live;   /* L2's IA32_DEBUGCTL was loaded by the entry and not yet replaced by L1's */
    uint32_t opts;          /* VCORE_NVMX_OPT_*, and VCORE__NVMX_OPT_SHADOW12 */
    uint32_t skip_check;    /* test hook: a VM-entry check the software ignores */
    uint32_t l2_insn_len;   /* an L2 exit given to the VMM: instruction length to skip on re-entry */
    bool l2_done;           /* L0 completed an iteration of an L2 REP string instruction (MTF: vcpu_nested_entry.c) */
    bool event02;           /* vmcs02's VM-entry interruption information holds an event L0 put there for L2 (re-delivery or an exception of its own), not yet entered */
    bool l2_halted;         /* L2's HLT completed by the VMM: L2 is in the HLT state until vmcs02 is entered or an exit to L1 (vcpu_nested_l0.c) */
    uint32_t l2_pending;    /* the VCORE_EXIT_* of that exit, whose reply goes to L2 (0: none) */
    uint8_t l2_io_width;    /* its I/O access width (1, 2 or 4) */
    bool l2_rdtsc;          /* it is L2's RDMSR of IA32_TIME_STAMP_COUNTER: the VMM answers with L1's TSC */
    uint8_t l2_io[256];     /* its I/O data: OUT(S)'s bytes, IN(S)'s reply (vcore_exit_t::u.io.data) */
    bool l2_str;            /* the I/O exit is INS/OUTS: */
    bool l2_str_rep;        /*   REP prefixed */
    bool l2_str_in;         /*   INS (ES:rDI) rather than OUTS */
    uint32_t l2_str_count;  /*   elements the VMM moves in this exit */
    uint32_t l2_str_len;    /*   instruction length */
    vcore__x86_str_t l2_strx; /*  its addressing (x86.h) */
    uint8_t l2_mmio_reg;    /* its MMIO load: destination register (vcore_x86_gpr) */
    bool l2_mmio_high8;     /* the destination is AH, CH, DH or BH */
    uint8_t l2_mmio_len;    /* bytes loaded (0: a store, nothing to merge) */
    bool l2_mmio_vmwrite;   /* the load is L2's VMWRITE operand at l2_mmio_gpa: the reply completes the VMWRITE */
    uint64_t l2_mmio_gpa;   /*   its L1-physical address */
    vcore_nvmx_last_t last; /* what the pipeline did last (nvmx_pipeline.h) */
    vcore__nvmx_msrlist_t ml; /* the MSR lists of the VM entry or exit being made */
    vcore__nvmx_exit02_t x02; /* vmcs02's last exit, copied into vmcs12 only when reflected */
    /* L1's preemption timer on a processor without "save VMX-preemption timer
     * value" (vcpu_nested_timer.c): the count vmcs02 was last entered with
     * and L1's TSC it counts from. */
    uint32_t timer_count;
    uint64_t timer_tsc;
    /* ---- nested EPT (vcpu_nested_ept.c) ---- */
    vcore_nvmx_ept02_t *ept02; /* the shadow EPT builder, at the start of ept02_pool; NULL before */
    void *ept02_pool;       /* the builder and its pages, drawn from the host at the first entry with L1's EPT */
    uint64_t eptp01;        /* vmcs01's EPT pointer, 0 when L0 runs without EPT */
    uint64_t eptp02_cur;    /* what vmcs02's EPT-pointer field holds */
    uint32_t ept02_map_gen; /* the VM memory-map generation ept02 was built under */
    int ept02_flush_err;    /* the first failed INVEPT of the backend since the last check */
    /* ---- vpid02: L2's VPID on the processor (vcpu_nested_vpid.c) ---- */
    uint16_t vpid02;        /* the backend's second VPID of the vCPU; 0: vmcs02 runs without VPID */
    bool vpid02_asked;      /* the backend was asked for it */
    bool vpid_live;         /* vmcs02's controls run it on vpid02 (set with the control words) */
    /* vmcs12's VPID whose translations vpid02 may hold (the one L2 last
     * ran with); 0: vpid02 holds nothing L2 may use, the next entry with
     * VPID flushes it. */
    uint16_t vpid12_last;
    /* ---- L1's TPR shadow and APIC-access page for L2 (vcpu_nested_apic.c) ---- */
    bool vapic02_known;     /* vmcs02's virtual-APIC address field holds vapic02_cur */
    uint64_t vapic02_cur;   /* host-physical virtual-APIC address written into vmcs02 (L1's page) */
    bool apic02_known;      /* vmcs02's APIC-access address field holds apic02_cur */
    uint64_t apic02_cur;    /* host-physical APIC-access address written into vmcs02 */
    uint32_t apic_map_gen;  /* the VM memory-map generation both were looked up under */
    /* ---- vmcs02's MSR bitmap (vcpu_nested_msrbmp.c) ---- */
    uint8_t *msrbmp02;      /* the page vmcs02 names, drawn from the host with vmcs02; NULL: no bitmap */
    uint64_t msrbmp02_pa;   /* its physical address */
    uint32_t msrbmp_l0;     /* candidate accesses vmcs01 lets through (L0's answer, asked once) */
    uint32_t msrbmp02_cur;  /* candidate accesses the page lets through */
    bool msrbmp02_x2apic;   /* the page's x2APIC range holds L1's bits (L1's "virtualize x2APIC mode") */
    uint64_t msrbmp12_gpa;  /* L1's bitmap address msrbmp12 maps (valid with msrbmp12) */
    const uint8_t *msrbmp12; /* L1's bitmap page in L0's memory; NULL: looked up at the next entry */
    uint32_t msrbmp12_gen;  /* the VM memory-map generation msrbmp12 was looked up under */

    /* ---- L0's hardware VMCS shadowing for L1 (vcpu_nested_shadow.c) ---- */
    /* Entries of the shadowed-field table (nvmx_shadow.c, read-write rows
     * first) the backend's processor keeps in the shadow VMCS; 0 when it
     * offers no VMCS shadowing or the backend cannot link one. */
    uint64_t hw_mask;
    uint64_t hw_known;      /* entries whose hw_val is what the shadow VMCS holds */
    /* Entries whose vmcs12 value may differ from hw_val: set by every
     * writer of a shadowed vmcs12 field (vcore__nvmx_changed_id(), the
     * exit-information commit) and wholesale (vcore__nvmx_shadow_stale_all())
     * where vmcs12 changes in many places; the push visits only these and
     * the entries not known. */
    uint64_t hw_stale;
    uint64_t hw_val[VCORE_NVMX_SHADOW_RW_COUNT + VCORE_NVMX_SHADOW_RO_COUNT]; /* as last written or read */
    struct vcore_hw_vmcs *hw_shadow; /* the shadow VMCS; NULL until first linked */
    bool hw_linked;         /* vmcs01 shadows L1's VMREAD/VMWRITE into hw_shadow */
    bool hw_bitmaps;        /* the backend holds the VMREAD/VMWRITE bitmaps */
    bool hw_sync;           /* before L1 runs again: link or unlink, then vmcs12 -> shadow */
};

/* Not an option: vmcs12 has "VMCS shadowing" (set with vmcs02's control
 * words; vcpu_nested_shadow12.c). Kept in opts beside
 * VCORE_NVMX_OPT_EARLY_HW_CHECK so that one test per VM entry finds that
 * neither is due; vcore_nvmx_set_options() leaves it alone. */
#define VCORE__NVMX_OPT_SHADOW12 (1u << 31)
/* Internal option: L1's capabilities lack a field of the fast path's table
 * (vcore__nvmx_shadow_l1_fields()): its VMREAD/VMWRITE take the emulation. */
#define VCORE__NVMX_OPT_NO_FAST_FIELDS (1u << 30)
#define VCORE__NVMX_OPT_INTERNAL (VCORE__NVMX_OPT_SHADOW12 | VCORE__NVMX_OPT_NO_FAST_FIELDS)

/* Validates a handle: non-NULL, right size and magic. */
static inline bool vcore__nvmx_ok(const vcore_nvmx_t *n)
{
    return n && n->size == sizeof(*n) && n->magic == VCORE__NVMX_MAGIC;
}

/* The VMX capability MSRs L0 answers for L1 (480H-491H, "VMX Capability
 * Reporting Facility"): read-only, from n->caps (vcore_nvmx_rdmsr()). */
static inline bool vcore__nvmx_cap_msr(uint32_t index)
{
    return index >= VCORE_MSR_IA32_VMX_BASIC && index <= VCORE_MSR_IA32_VMX_VMFUNC;
}

/* Leaves VMX operation (RESET): capabilities and MAXPHYADDR stay. */
void vcore__nvmx_leave(vcore_nvmx_t *n);

/* The allowed-1 settings of the five control words (vmcs_layout.h order). */
void vcore__nvmx_caps_allowed1(const vcore_nvmx_caps_t *caps, uint32_t out[5]);
/* The bits of control word `word` (0 pin-based .. 4 VM-entry) whose rule in
 * VCORE_NVMX_CTL_RULES is REFUSED: the capability MSRs L1 reads have them
 * allowed-0 (nvmx_caps.c) and the entry pipeline never runs them. */
uint32_t vcore__nvmx_refused(uint32_t word);
/* The same, as constants per word (read on every VM entry). */
extern const uint32_t vcore__nvmx_refused_words[5];

/* Makes `caps` describe what the vCPU pipeline runs: the REFUSED controls
 * and the primary and secondary controls in `extra_proc` and `extra_proc2`
 * allowed-0, no EPT/VPID
 * capabilities for a feature that is allowed-0, "enable VM functions" only
 * with "enable EPT", no VM functions without "enable VM functions". */
void vcore__nvmx_caps_refuse(vcore_nvmx_caps_t *caps, uint32_t extra_proc, uint32_t extra_proc2);

/* Adds to `caps` (an intersection with the processor's) the controls the
 * vCPU pipeline performs in L0 alone, which the processor need not have,
 * where `emulated` (after vcore__nvmx_caps_refuse()) offers them:
 * "process posted interrupts" (rule ZERO, vcpu_nested_pi.c), with
 * virtual-interrupt delivery, which the processor runs for L2. */
void vcore__nvmx_caps_l0_only(vcore_nvmx_caps_t *caps, const vcore_nvmx_caps_t *emulated);

/* Row id -> the bits of the shadowed-field table (nvmx_shadow.c) that hold
 * the row's field (0: not shadowed); a _HIGH row maps to its full field too. */
extern const uint64_t vcore__nvmx_shadow_row_bit[VCORE__VMCS_NROWS];

/* The library changed the vmcs12 field of row id (a compile-time
 * VCORE__ROW_* or a table index): the VM-entry rules reading it run at the
 * next entry, and the shadow VMCS takes it before L1 runs again. */
static inline void vcore__nvmx_changed_id(vcore_nvmx_t *n, uint32_t id)
{
    n->chk_dirty[id / 64] |= 1ull << (id % 64);
    n->hw_stale |= vcore__nvmx_shadow_row_bit[id];
}

/* vmcs12 changed in ways no one recorded field by field (a new current
 * VMCS, an import, an emulated instruction, an exit made up by the
 * library): the push compares every shadowed field again. */
static inline void vcore__nvmx_shadow_stale_all(vcore_nvmx_t *n)
{
    n->hw_stale = ~0ull;
}

/* L1's VMLAUNCH (resume false) or VMRESUME, known to have passed its #UD
 * and #GP(0) checks, in VMX operation: whether every check of the
 * instruction before the VM-entry checks passes (current VMCS, not a shadow
 * VMCS, no blocking by MOV SS, launch state; nvmx_insn.c). When it does,
 * the instruction is L1's (an imported guest-mode blob is out of date);
 * when not, vcore_nvmx_emulate() gives the outcome. */
bool vcore__nvmx_insn_launch_ready(vcore_nvmx_t *n, bool resume, uint32_t interruptibility);

/* Marks a row dirty (and its sibling full/_HIGH row). */
void vcore__nvmx_mark_dirty(vcore_nvmx_t *n, const vcore__vmcs_row_t *r);
/* The library wrote a vmcs12 field (exit reflection): the VM-entry rules
 * reading it run at the next entry. */
void vcore__nvmx_mark_changed(vcore_nvmx_t *n, const vcore__vmcs_row_t *r);

/* ---- KVM nested-state interchange (nvmx_kvm.c) ---- */
/* The header of a blob as parsed (host byte order). */
typedef struct vcore__nvmx_kvm_hdr {
    uint16_t flags;     /* VCORE_KVM_NESTED_GUEST_MODE, _RUN_PENDING, _MTF_PENDING */
    uint32_t size;      /* the blob's size field */
    uint64_t vmxon;     /* vmxon_pa, VCORE__INVALID_PTR outside VMX operation */
    uint64_t vmcs;      /* vmcs12_pa, VCORE__INVALID_PTR without a current VMCS */
    uint32_t vmx_flags; /* VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE */
    uint64_t deadline;  /* the preemption-timer deadline (with that flag) */
    /* Guest mode with VMCS shadowing: the blob's shadow vmcs12 page (its
     * revision checked; copied once by the commit, which sets the revision). */
    const uint8_t *shadow;
    uint32_t shadow_rev; /* the revision the commit gives it (L1's, shadow bit set) */
} vcore__nvmx_kvm_hdr_t;

/* Checks a blob in KVM's order, copying the vmcs12 page into n->scratch;
 * nothing else of n changes. VCORE_OK, or the error with the rule in diag. */
int vcore__nvmx_kvm_parse(vcore_nvmx_t *n, const void *buf, size_t len, vcore_diag_t *diag,
                          vcore__nvmx_kvm_hdr_t *h);
/* Makes a parsed blob the state (VMX operation, pointers, vmcs12, shadow
 * vmcs12); the guest-mode part is the caller's. The new vmcs12 is swapped
 * in: scratch keeps the previous one (vcore__nvmx_kvm_swap() undoes it). */
void vcore__nvmx_kvm_commit(vcore_nvmx_t *n, const vcore__nvmx_kvm_hdr_t *h);
/* vmcs12 and scratch trade places. */
void vcore__nvmx_kvm_swap(vcore_nvmx_t *n);
/* The blob size for the current state (guest_mode: the shadow page is
 * included when vmcs12 uses a loaded shadow VMCS). */
uint32_t vcore__nvmx_kvm_size(const vcore_nvmx_t *n, bool guest_mode);
/* Writes the blob with h's flags, VMX flags and deadline; *out_len gets
 * its size (VCORE_ERR_BUFSZ when len is smaller). */
int vcore__nvmx_kvm_write(const vcore_nvmx_t *n, const vcore__nvmx_kvm_hdr_t *h, void *buf, size_t len,
                          uint32_t *out_len);

/* Records diagnostic id and value when d is non-NULL and sized, and returns
 * err. A caller's diag of another ABI size is left alone, not overwritten. */
static inline int vcore__nvmx_diag(vcore_diag_t *d, uint32_t id, uint64_t value, int err)
{
    if (d && d->size == sizeof(*d))
        (void)vcore__diag_set(d, id, value);
    return err;
}

/* ---- guest memory through the accessor (nvmx_mem.c) ---- */
/* Physical read with abort semantics: unbacked bytes read as all ones. */
void vcore__nvmx_phys_read(const vcore_nvmx_mem_t *m, uint64_t gpa, void *buf, size_t len);
/* Physical write; unbacked writes are dropped. */
void vcore__nvmx_phys_write(const vcore_nvmx_mem_t *m, uint64_t gpa, const void *buf, size_t len);

/* ---- operand decoding (nvmx_operand.c) ---- */
typedef struct vcore__nvmx_ctx {
    vcore_nvmx_t *n;
    const vcore_nvmx_mem_t *mem;   /* L1 memory (VMCS regions, bitmaps: L1-physical addresses) */
    const vcore_nvmx_mem_t *opmem; /* memory operands: mem, or L2 memory through L1's EPT */
    vcore_nvmx_insn_t in;     /* the caller's input, copied once */
    vcore_nvmx_result_t *res;
    bool long64;              /* 64-bit mode (EFER.LMA && CS.L) */
    bool op_write;            /* the operand accesses under way belong to a write (probe included) */
    /* L1's EPT has accessed and dirty flags (EPTP bit 6): the walk's
     * accesses to L2's paging structures count as writes ("Accessed and
     * Dirty Flags for EPT"). */
    bool ps_write;
    /* The access under way, for an EPT violation of L2's operand ("Exit
     * Qualification for EPT Violations"): its linear address, and whether
     * it is the access to the translation (true) or to a paging structure. */
    uint64_t op_la;
    bool op_final;
} vcore__nvmx_ctx_t;

/* Register operand value: 64 bits in 64-bit mode, 32 otherwise. */
uint64_t vcore__nvmx_reg(const vcore__nvmx_ctx_t *c, uint32_t reg);
/* Reads/writes `len` bytes at the memory operand described by insn_info
 * and the displacement. VCORE_OK; VCORE_ERR_INVAL when an exception
 * outcome was recorded in c->res; VCORE_ERR_FAULT for unreachable memory. */
int vcore__nvmx_mem_read(vcore__nvmx_ctx_t *c, void *buf, uint32_t len);
int vcore__nvmx_mem_write(vcore__nvmx_ctx_t *c, const void *buf, uint32_t len);

/* The instruction's outcome is an exception in L1 (RIP and RFLAGS unchanged:
 * faults are reported before the instruction completes). */
static inline void vcore__nvmx_exception(vcore__nvmx_ctx_t *c, uint8_t vector, bool has_ec, uint32_t ec,
                                         uint32_t diag)
{
    c->res->outcome = VCORE_NVMX_OUT_EXCEPTION;
    c->res->vector = vector;
    c->res->has_error_code = has_ec;
    c->res->error_code = ec;
    c->res->diag = diag;
    c->res->rip = c->in.regs.rip;
    c->res->rflags = c->in.regs.rflags;
}

/* The instruction executed in VMX non-root operation causes a VM exit to L1
 * (SDM "Instructions That Cause VM Exits Unconditionally"): nothing of L1's
 * state changes here; the exit carries the instruction as it was. */
static inline void vcore__nvmx_exit_to_l1(vcore__nvmx_ctx_t *c)
{
    c->res->outcome = VCORE_NVMX_OUT_EXIT_TO_L1;
    c->res->diag = VCORE_DIAG_NVMX_EXIT_TO_L1;
    c->res->rip = c->in.regs.rip;
    c->res->rflags = c->in.regs.rflags;
}

/* ---- L1's EPT walk (nvmx_ept.c), shared with the shadow EPT (nvmx_ept02.c) ---- */
typedef struct vcore__nvmx_ept_leaf {
    uint32_t kind;    /* vcore_nvmx_ept_kind_t */
    uint32_t perms;   /* AND of bits 2:0 (R, W, X) of every entry read */
    uint32_t level;   /* OK: level of the leaf (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB) */
    uint32_t nused;   /* entries read */
    uint64_t entry;   /* OK: the leaf entry as read (memory type, IPAT, dirty flag) */
    uint64_t gpa;     /* OK: the L1 guest-physical address */
    uint64_t used[5]; /* L1-physical addresses of the entries read, root first */
} vcore__nvmx_ept_leaf_t;

/* Walks ept12 once per entry; VCORE_ERR_INVAL for a walk length other than
 * 4 or 5. Sets no accessed/dirty flag. ept_cap: L1's IA32_VMX_EPT_VPID_CAP
 * (bit 0 execute-only translations, bit 17 1-GByte pages). */
int vcore__nvmx_ept_walk(const vcore_nvmx_mem_t *mem, uint64_t eptp, uint32_t maxphyaddr, uint64_t ept_cap,
                         uint64_t l2_gpa, uint32_t access, vcore__nvmx_ept_leaf_t *out);
/* With EPTP bit 6: the accessed flags of the entries of a successful walk,
 * the dirty flag of its leaf on a write. Returns what was 0 of them
 * (VCORE__EPT_AD_*); with apply false only that, nothing written. */
#define VCORE__EPT_AD_SET 1u   /* some flag is set by the access */
#define VCORE__EPT_AD_DIRTY 2u /* ... the leaf's dirty flag among them */
uint32_t vcore__nvmx_ept_set_ad(const vcore_nvmx_mem_t *mem, uint64_t eptp, const vcore__nvmx_ept_leaf_t *w,
                                uint32_t access, bool apply);

/* L1's page-modification log for L2 ("Page-Modification Logging") while
 * L0 performs L2's accesses itself (nvmx_ept.c, nvmx_ept02.c): on with
 * L1's "enable PML"; index is vmcs12's PML index, lowered by one per entry
 * written; logged once an entry was written (the caller stores index back
 * into vmcs12). full: a log-full event - an access that must first set an
 * EPT accessed or dirty flag (ad: what vcore__nvmx_ept_set_ad() would set)
 * while the index is outside 0-511 is a VM exit, nothing is set and the
 * access does not happen. log: after the flags were set, a dirty flag set
 * (0 to 1) writes the 4-KByte-aligned L2 guest-physical address at address
 * + 8 * index and lowers the index. */
typedef struct vcore__nvmx_pml {
    bool on;
    bool logged;
    uint16_t index;
    uint64_t address;
} vcore__nvmx_pml_t;
#define VCORE__NVMX_PML_ENTRIES 512u /* a 4-KByte log of 8-byte entries */
static inline bool vcore__nvmx_pml_full(const vcore__nvmx_pml_t *pml, uint32_t ad)
{
    return pml && pml->on && ad && pml->index >= VCORE__NVMX_PML_ENTRIES;
}
void vcore__nvmx_pml_log(const vcore_nvmx_mem_t *mem, vcore__nvmx_pml_t *pml, uint32_t ad, uint64_t l2_gpa);
/* vcore_nvmx_ept_translate() with L1's log (pml NULL: none): a log-full
 * event is out->kind VCORE__NVMX_EPT_PML_FULL (exit 62 to L1). */
#define VCORE__NVMX_EPT_PML_FULL 3u
int vcore__nvmx_ept_translate_pml(const vcore_nvmx_mem_t *mem, uint64_t eptp, uint32_t maxphyaddr, uint64_t ept_cap,
                                  uint64_t l2_gpa, uint32_t access, vcore__nvmx_pml_t *pml,
                                  vcore_nvmx_ept_walk_t *out);

/* L2's memory seen through L1's EPT (nvmx_ept.c): L2 guest-physical
 * addresses (L2's VMREAD/VMWRITE operands, L2's paging structures, the
 * instruction and string-I/O data of an L2 exit L0 completes) mapped by
 * ept12 into L1 memory ("EPT Translation Mechanism"). */
typedef struct vcore__nvmx_ept_view {
    const vcore_nvmx_mem_t *l1;
    const bool *op_write; /* reads are part of a write (probes); NULL: never */
    vcore__nvmx_pml_t *pml; /* L1's page-modification log; NULL: none kept */
    uint64_t eptp;
    uint32_t maxphyaddr;
    uint64_t ept_cap;     /* L1's IA32_VMX_EPT_VPID_CAP (what the walk accepts) */
    uint32_t fault;       /* vcore_nvmx_ept_kind_t of the first failure, 0 if none */
    uint64_t fault_gpa;   /* its L2 guest-physical address */
    uint64_t qualification; /* its EPT-violation qualification */
    uint64_t l1_gpa;      /* the L1 address of the last translation (an access L1 memory then refuses: MMIO) */
} vcore__nvmx_ept_view_t;
/* Sets up v and the accessor *out that reads and writes through it. */
void vcore__nvmx_ept_view(vcore__nvmx_ept_view_t *v, const vcore_nvmx_mem_t *l1, uint64_t eptp, uint32_t maxphyaddr,
                          uint64_t ept_cap, const bool *op_write, vcore__nvmx_pml_t *pml, vcore_nvmx_mem_t *out);

/* Instruction-information fields: VCORE__II_* in x86_bits.h. */

/* The shadowed fields for the emulated VMREAD/VMWRITE fast path
 * (nvmx_shadow.c), reached from an encoding in two loads:
 * vcore__nvmx_fast.index[VCORE__NVMX_FAST_SLOT(enc)] is the byte offset of
 * the field's entry in vcore__nvmx_fast.field (an offset rather than a
 * number: no scaling on the way), entry 0 for a slot no field has. The
 * slot keeps the encoding's bits 14:13, 11:10 and 6:0, the only ones a
 * shadowed field sets, as bits 11:5 (bits 6:0) and 4:0 (bits 14:10) of one
 * product: enc << 25 and enc << 10 do not overlap below bit 32 for an
 * encoding of bits 14:10 and 6:0 alone, so the sum has no carries. Many
 * values share a slot (every other bit is dropped): the entry names the one
 * operand value, all 64 bits, it answers for, per direction. */
#define VCORE__NVMX_FAST_SLOT(enc) ((uint32_t)((uint32_t)(enc) * 0x2000400u) >> 20)
#define VCORE__NVMX_FAST_NSLOTS 0x1000u
typedef struct vcore__nvmx_fast_field {
    uint64_t enc_r;   /* VMREAD: the operand value of this field; for entry 0 a value no lookup reaches it with */
    uint64_t enc_w;   /* VMWRITE: the same where the field is writable, else such a value */
    uint64_t mask;    /* the field's bits in an 8-byte load at offset (its size) */
    uint64_t written; /* VMWRITE: the entry's bit in a record of writes (entry k: bit k - 1) */
    uint64_t bit;     /* its row's bit in word of the dirty bitmaps */
    size_t offset;    /* in vmcs12 (pointer-sized: added to the page's address as it is) */
    uint16_t word;    /* its row's word of the dirty bitmaps */
    uint16_t pad[3];
} vcore__nvmx_fast_field_t;
/* Entry 0 (none) and at most every shadowed field but the _HIGH halves;
 * the writable ones first (entries 1 to 64 at most: one bit each). */
#define VCORE__NVMX_FAST_NFIELDS (1u + VCORE_NVMX_SHADOW_RW_COUNT + VCORE_NVMX_SHADOW_RO_COUNT)
/* Both tables in one object: one base address for the two loads. */
typedef struct vcore__nvmx_fast_table {
    vcore__nvmx_fast_field_t field[VCORE__NVMX_FAST_NFIELDS];
    uint16_t index[VCORE__NVMX_FAST_NSLOTS];
} vcore__nvmx_fast_table_t;
extern const vcore__nvmx_fast_table_t vcore__nvmx_fast;

/* The emulated VMREAD/VMWRITE of a shadowed field of the current vmcs12 once
 * every #UD, #GP and VMfail condition but the field's is known to be
 * absent: false when the operand is not the encoding of a shadowed field
 * (any other bit set, reserved ones included), or (write) of one not
 * writable without an exit; the ordinary emulation decides those. One
 * comparison of the whole operand with the entry its slot leads to settles
 * all of it. Inline: two table loads and one 8-byte access cut to the
 * field's size (vmcs12 is stored little-endian and the page extends past
 * every field by 8 bytes; a VMWRITE stores the bytes around the field back
 * unchanged). A VMWRITE records the field in *written, one bit per writable
 * field, for vcore__nvmx_fast_written(), which marks the rows dirty: a run
 * of VMWRITEs marks them once, before anything reads the bitmaps. */
static inline bool vcore__nvmx_fast_rw(vcore_nvmx_t *n, bool write, uint64_t enc, uint64_t *value, uint64_t *written)
{
    size_t i = vcore__nvmx_fast.index[VCORE__NVMX_FAST_SLOT(enc)];
    const vcore__nvmx_fast_field_t *f = (const vcore__nvmx_fast_field_t *)((const uint8_t *)vcore__nvmx_fast.field + i);
    uint64_t v;
    if (write) {
        if (f->enc_w != enc)
            return false;
        uint8_t *p = (uint8_t *)n->vmcs12 + f->offset;
        vcore__memcpy(&v, p, 8);
        v ^= (v ^ *value) & f->mask;
        vcore__memcpy(p, &v, 8);
        *written |= f->written;
        return true;
    }
    if (f->enc_r != enc)
        return false;
    vcore__memcpy(&v, (const uint8_t *)n->vmcs12 + f->offset, 8);
    *value = v & f->mask;
    return true;
}

/* The rows of the fields vcore__nvmx_fast_rw() recorded in written changed:
 * as vcore__nvmx_mark_changed() (the writable set has no 64-bit field, so
 * no _HIGH row), without hw_stale: the fast path runs only while no shadow
 * VMCS is linked (vcpu_nested_fast.c), and linking one compares every
 * entry (vcore__vcpu_nested_shadow_before_l1()). */
static inline void vcore__nvmx_fast_written(vcore_nvmx_t *n, uint64_t written)
{
    for (; written; written &= written - 1u) {
        const vcore__nvmx_fast_field_t *f = &vcore__nvmx_fast.field[1u + (uint32_t)__builtin_ctzll(written)];
        n->dirty[f->word] |= f->bit;
        n->chk_dirty[f->word] |= f->bit;
    }
}

/* L0's VMCS shadowing (nvmx_shadow.c). The entries of the shadowed-field
 * table a processor with capabilities hw keeps in a shadow VMCS (0 without
 * "VMCS shadowing"); the bitmaps of vcore_nvmx_shadow_bitmaps() follow it. */
uint64_t vcore__nvmx_shadow_mask(const vcore_nvmx_caps_t *hw);
/* The entries of that table whose field L1's processor has (capabilities
 * l1): a field "supported only on processors that support the 1-setting
 * of" a control L1 may not set is no field for L1's VMREAD/VMWRITE (SDM
 * Vol. 3, "Field Encoding in VMCS": VMfailValid 12), so no shadow VMCS of
 * L0's and no fast path may answer for it. */
uint64_t vcore__nvmx_shadow_l1_fields(const vcore_nvmx_caps_t *l1);
/* Every entry of the table. */
#define VCORE__NVMX_SHADOW_ALL (~0ull >> (64u - (VCORE_NVMX_SHADOW_RW_COUNT + VCORE_NVMX_SHADOW_RO_COUNT)))
/* The VMREAD and VMWRITE bitmaps (4 KiB each) shadowing the entries of m. */
void vcore__nvmx_shadow_fill(uint64_t m, uint8_t *vmread_bitmap, uint8_t *vmwrite_bitmap);
/* vmcs12 -> shadow VMCS through fn: every entry of n->hw_mask whose value
 * the shadow VMCS is not known to hold (n->hw_known, n->hw_val). */
int vcore__nvmx_shadow_push(vcore_nvmx_t *n, vcore_nvmx_vmwrite_fn fn, void *ctx);
/* vcore_nvmx_exit_owner() for the core's own callers, whose arguments are
 * valid by construction (a current vmcs12, sized structures); mem is read
 * only when vcore__nvmx_exit_reads_l1(e->reason). */
void vcore__nvmx_exit_owner(const vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem, const vcore_nvmx_l2_exit_t *e,
                            vcore_nvmx_decision_t *out);
/* Whether the rule for an exit reason reads L1 memory (the I/O and MSR bitmaps). */
bool vcore__nvmx_exit_reads_l1(uint32_t reason);

/* The read-write set's encodings in entry order (nvmx_shadow.c). */
extern const uint32_t vcore__nvmx_shadow_rw_enc[VCORE_NVMX_SHADOW_RW_COUNT];
/* The fields the pull reads back from the shadow VMCS: the read-write
 * entries of n->hw_mask as encodings, in entry order (*count of them; buf
 * holds VCORE_NVMX_SHADOW_RW_COUNT and is used only when the processor
 * lacks one of them). */
const uint32_t *vcore__nvmx_shadow_pull_fields(const vcore_nvmx_t *n, uint32_t *buf, uint32_t *count);
/* Shadow VMCS -> vmcs12: values holds what the shadow VMCS held for each
 * field of vcore__nvmx_shadow_pull_fields(), in its order; a value that
 * differs from vmcs12 is stored and its row marked dirty. */
void vcore__nvmx_shadow_pull(vcore_nvmx_t *n, const uint64_t *values);

#endif /* VCORE_CORE_X86_NVMX_PRIV_H */
