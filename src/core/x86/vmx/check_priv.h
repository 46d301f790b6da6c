/*
 * check_priv.h - the context shared by the VM-entry check files (private).
 *
 * One file per SDM section of chapter "VM Entries" fills in failures through
 * vcore__vmx_chk_fail(); check.c runs the sections in architectural order
 * and turns the first failure into the verdict.
 */
#ifndef VCORE_CORE_X86_VMX_CHECK_PRIV_H
#define VCORE_CORE_X86_VMX_CHECK_PRIV_H

#include "../x86.h"
#include "../x86_bits.h"
#include "vmcs_layout.h"
#include "virtcore/x86/vmx_checks.h"

typedef struct vcore__vmx_chk {
    const vcore__vmcs12_t *v;   /* the vmcs12 the checks read: a copy the library owns */
    vcore__vmcs12_t copy;       /* the public entry point's copy of the caller's vmcs12 */
    const vcore_vmx_check_input_t *in; /* the input: in_copy, or the library's own read in place */
    vcore_vmx_check_input_t in_copy;    /* the public entry point's copy of the caller's input */
    const uint64_t *caps;       /* in.caps->msr (VMM data, not guest-controlled) */
    uint32_t ptr_width;         /* width of VMCS pointers: MAXPHYADDR, or 32 with IA32_VMX_BASIC[48] */
    /* Controls in force: set in vmcs12 and allowed by the capabilities. A
     * check tied to a control applies only when the control is in force;
     * a set but disallowed control is the reserved-bit check's business. */
    uint32_t pin, proc, proc2, exit, entry;
    /* The inputs that changed since an entry that passed every rule
     * (VCORE_VMX_IN_* bits, all ones: unknown): a rule none of whose inputs
     * changed still passes and is not run. */
    uint32_t run;
    bool ia32e;                 /* "IA-32e mode guest" in force */
    bool urg;                   /* "unrestricted guest" in force */
    /* CPUID.(EAX=07H,ECX=0), read once on first use. */
    bool leaf7_read;
    uint32_t leaf7[3];          /* EBX, ECX, EDX */
    /* Outcome bookkeeping. */
    bool report_all;            /* record every failure */
    bool stop;                  /* nothing more to check */
    vcore_vmx_check_failure_t *fail;
    uint32_t cap, n;            /* capacity of fail[], failures seen */
    vcore_vmx_check_failure_t first; /* the deciding failure (check 0: none yet) */
} vcore__vmx_chk_t;

/* The context for the caller's input, vmcs12 read in place (verdict-only
 * mode, every rule); VCORE_ERR_INVAL/_ABI for an input the checks cannot
 * run on. */
int vcore__vmx_chk_init(vcore__vmx_chk_t *c, const vcore_vmx_check_input_t *in);

/* Records a failure (index: 1-based MSR-load entry, else 0). In verdict-only
 * mode the first failure stops the checks. */
void vcore__vmx_chk_fail(vcore__vmx_chk_t *c, uint32_t id, uint32_t index, uint64_t value);

/* Fails check `idval` with `value` when `cond` holds; returns from the
 * calling section function once the checks are to stop. */
#define VCORE__CHK_ID(c, cond, idval, value)                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            vcore__vmx_chk_fail((c), (uint32_t)(idval), 0, (uint64_t)(value));                    \
            if ((c)->stop)                                                                         \
                return;                                                                            \
        }                                                                                          \
    } while (0)
/* The same with a check name from the table, run only when one of the
 * rule's inputs (its column in the table) changed. */
#define VCORE__CHK(c, cond, id, value)                                                             \
    VCORE__CHK_ID(c, ((c)->run & (uint32_t)VCORE__VMX_IN_##id) && (cond), VCORE_VMX_CHECK_##id, value)

/* The run bit of the MSR-load section (no VCORE_VMX_IN_* bit): a run word
 * without it leaves the list to a caller that loads it entry by entry. */
#define VCORE__VMX_RUN_MSR_LOAD (1u << 31)
/* The table's VCORE_VMX_IN_ALWAYS rules read what lies outside vmcs12 (the
 * instruction, the launch state, L1 memory). A run word asks for those of
 * one section with its bit below (VCORE_VMX_IN_ALWAYS: those of every
 * section), so the entry pipeline asks only for the sections whose
 * architectural condition can hold (vcore__vmx_check_outside()). */
#define VCORE__VMX_RUN_BASIC (1u << 26) /* "Basic VM-Entry Checks" */
#define VCORE__VMX_RUN_VTPR (1u << 27)  /* TPR threshold against VTPR (virtual-APIC page) */
#define VCORE__VMX_RUN_LINK (1u << 28)  /* the VMCS the link pointer references */
#define VCORE__VMX_RUN_PDPTE (1u << 29) /* the PDPTEs at guest CR3 */
/* The run bits whose rules read L1 memory: a run word without any of them
 * needs no memory accessor. */
#define VCORE__VMX_RUN_READS_MEM                                                                   \
    (VCORE_VMX_IN_ALWAYS | VCORE_VMX_IN_OTHER | VCORE__VMX_RUN_VTPR | VCORE__VMX_RUN_LINK |        \
     VCORE__VMX_RUN_PDPTE | VCORE__VMX_RUN_MSR_LOAD)

/* The sections, in architectural order: X(name, rows, run, b), with the
 * section's rows (vmx_check_list.h) and the run bit standing for
 * VCORE_VMX_IN_ALWAYS in them (0u: none; the MSR-load list has its own run
 * bit for the whole section, VCORE__VMX_RUN_MSR_LOAD, see check.c). */
#define VCORE__VMX_SECTIONS(X, b)                                                                  \
    X(basic, VCORE_VMX_CHECK_ROWS_BASIC, VCORE__VMX_RUN_BASIC, b)                                  \
    X(exec, VCORE_VMX_CHECK_ROWS_EXEC, VCORE__VMX_RUN_VTPR, b)                                     \
    X(exit, VCORE_VMX_CHECK_ROWS_EXIT, 0u, b)                                                      \
    X(entry_ctls, VCORE_VMX_CHECK_ROWS_ENTRY, 0u, b)                                               \
    X(host_cr, VCORE_VMX_CHECK_ROWS_HOST_CR, 0u, b)                                                \
    X(host_seg, VCORE_VMX_CHECK_ROWS_HOST_SEG, 0u, b)                                              \
    X(addr_size, VCORE_VMX_CHECK_ROWS_ADDR, 0u, b)                                                 \
    X(guest_cr, VCORE_VMX_CHECK_ROWS_GUEST_CR, 0u, b)                                              \
    X(guest_seg, VCORE_VMX_CHECK_ROWS_GUEST_SEG, 0u, b)                                            \
    X(guest_dt, VCORE_VMX_CHECK_ROWS_GUEST_DT, 0u, b)                                              \
    X(guest_rip, VCORE_VMX_CHECK_ROWS_GUEST_RIP, 0u, b)                                            \
    X(guest_nonreg, VCORE_VMX_CHECK_ROWS_GUEST_NONREG, 0u, b)                                      \
    X(guest_link, VCORE_VMX_CHECK_ROWS_GUEST_LINK, VCORE__VMX_RUN_LINK, b)                         \
    X(guest_pdpte, VCORE_VMX_CHECK_ROWS_GUEST_PDPTE, VCORE__VMX_RUN_PDPTE, b)                      \
    X(msr_load, VCORE_VMX_CHECK_ROWS_MSR_LOAD, 0u, b)

/* A rule's inputs: its column, the implied OTHER, and for an ALWAYS rule
 * its section's run bit. */
#define VCORE__VMX_ROW_IN(run, in)                                                                 \
    ((uint32_t)(in) | VCORE_VMX_IN_OTHER | (((uint32_t)(in) & VCORE_VMX_IN_ALWAYS) ? (uint32_t)(run) : 0u))

/* Each rule's inputs, in table order. */
enum vcore__vmx_check_in {
#define VCORE__VMX_IN_ENUM(run, name, value, cls, sec, msg, in) VCORE__VMX_IN_##name = (int)VCORE__VMX_ROW_IN(run, in),
#define VCORE__VMX_IN_SEC(name, rows, run, b) rows(VCORE__VMX_IN_ENUM, run)
    VCORE__VMX_SECTIONS(VCORE__VMX_IN_SEC, -)
#undef VCORE__VMX_IN_SEC
#undef VCORE__VMX_IN_ENUM
    VCORE__VMX_IN_END
};
VCORE__STATIC_ASSERT(((VCORE__VMX_RUN_BASIC | VCORE__VMX_RUN_VTPR | VCORE__VMX_RUN_LINK | VCORE__VMX_RUN_PDPTE |
                       VCORE__VMX_RUN_MSR_LOAD) &
                      (VCORE_VMX_IN_ALWAYS | VCORE_VMX_IN_RIP | VCORE_VMX_IN_RFLAGS | VCORE_VMX_IN_CR0 |
                       VCORE_VMX_IN_CR3 | VCORE_VMX_IN_CR4 | VCORE_VMX_IN_EFER | VCORE_VMX_IN_CSSS |
                       VCORE_VMX_IN_INTR | VCORE_VMX_IN_ACT | VCORE_VMX_IN_EVENT | VCORE_VMX_IN_OTHER)) == 0,
                     vmx_run_bits_distinct);

/* ---- facts about L1 (check.c) ---- */
/* CPUID.(EAX=07H,ECX=0) register: 0 EBX, 1 ECX, 2 EDX. */
uint32_t vcore__vmx_chk_leaf7(vcore__vmx_chk_t *c, unsigned reg);
/* Any CPUID leaf register (0 EAX .. 3 EDX); 0 when the leaf is absent. */
uint32_t vcore__vmx_chk_cpuid(const vcore__vmx_chk_t *c, uint32_t leaf, uint32_t sub, unsigned reg);
/* Canonical for L1's linear-address width (57 with LA57, else 48). A
 * 48-bit canonical address is canonical for both: that common case needs
 * no CPUID. */
bool vcore__vmx_chk_canonical_slow(vcore__vmx_chk_t *c, uint64_t la);
static inline bool vcore__vmx_chk_canonical(vcore__vmx_chk_t *c, uint64_t la)
{
    return ((la + (1ull << 47)) >> 48) == 0 || vcore__vmx_chk_canonical_slow(c, la);
}
/* Bits 63:N identical, N the linear-address width ("RIP", "SSP" checks).
 * Bits 63:48 identical holds for both widths (48, or 57 with LA57): that
 * common case needs no CPUID. */
static inline bool vcore__vmx_upper_identical48(uint64_t la)
{
    return ((la + (1ull << 48)) >> 49) == 0;
}
bool vcore__vmx_chk_upper_identical_slow(vcore__vmx_chk_t *c, uint64_t la);
static inline bool vcore__vmx_chk_upper_identical(vcore__vmx_chk_t *c, uint64_t la)
{
    return vcore__vmx_upper_identical48(la) || vcore__vmx_chk_upper_identical_slow(c, la);
}
/* A VMCS pointer within the width of VMCS-referenced structures. */
static inline bool vcore__vmx_chk_ptr_ok(const vcore__vmx_chk_t *c, uint64_t pa)
{
    return vcore__x86_phys_ok(pa, c->ptr_width);
}
/* Physical read of L1 memory with abort semantics: unbacked bytes (or no
 * accessor) read as all ones. */
void vcore__vmx_chk_read(const vcore__vmx_chk_t *c, uint64_t gpa, void *buf, size_t len);

/* ---- capability MSRs ---- */
static inline uint32_t vcore__vmx_allowed0(uint64_t cap)
{
    return (uint32_t)cap;
}
static inline uint32_t vcore__vmx_allowed1(uint64_t cap)
{
    return (uint32_t)(cap >> 32);
}

/* ---- value rules shared by host state, guest state and MSR loading (check_values.c) ---- */
bool vcore__vmx_efer_reserved(uint64_t efer);
uint64_t vcore__vmx_perf_global_ctrl_valid(const vcore__vmx_chk_t *c);
uint64_t vcore__vmx_debugctl_valid(vcore__vmx_chk_t *c);
bool vcore__vmx_s_cet_reserved(uint64_t cet);
bool vcore__vmx_s_cet_suppress_tracker(uint64_t cet);
bool vcore__vmx_bndcfgs_reserved(uint64_t v);
uint64_t vcore__vmx_rtit_ctl_valid(const vcore__vmx_chk_t *c);
uint64_t vcore__vmx_lbr_ctl_valid(const vcore__vmx_chk_t *c);

/* EPT pointer rules (check_ctls.c), shared with INVEPT: bit k set when
 * check EXEC_EPTP_MEMTYPE + k fails; 0 for a valid EPTP. */
uint32_t vcore__vmx_eptp_faults(const uint64_t *caps, uint32_t maxphyaddr, uint64_t eptp);

/* ---- the sections, in architectural order ---- */
void vcore__vmx_check_basic(vcore__vmx_chk_t *c);        /* check_basic.c */
void vcore__vmx_check_exec(vcore__vmx_chk_t *c);         /* check_ctls.c */
void vcore__vmx_check_exit(vcore__vmx_chk_t *c);         /* check_ctls.c */
void vcore__vmx_check_entry_ctls(vcore__vmx_chk_t *c);   /* check_ctls.c */
void vcore__vmx_check_host_cr(vcore__vmx_chk_t *c);      /* check_host.c */
void vcore__vmx_check_host_seg(vcore__vmx_chk_t *c);     /* check_host.c */
void vcore__vmx_check_addr_size(vcore__vmx_chk_t *c);    /* check_host.c */
void vcore__vmx_check_guest_cr(vcore__vmx_chk_t *c);     /* check_guest_cr.c */
void vcore__vmx_check_guest_seg(vcore__vmx_chk_t *c);    /* check_guest_seg.c */
void vcore__vmx_check_guest_dt(vcore__vmx_chk_t *c);     /* check_guest_seg.c */
void vcore__vmx_check_guest_rip(vcore__vmx_chk_t *c);    /* check_guest_state.c */
void vcore__vmx_check_guest_nonreg(vcore__vmx_chk_t *c); /* check_guest_state.c */
void vcore__vmx_check_guest_link(vcore__vmx_chk_t *c);   /* check_guest_state.c */
void vcore__vmx_check_guest_pdpte(vcore__vmx_chk_t *c);  /* check_guest_state.c */
void vcore__vmx_check_msr_load(vcore__vmx_chk_t *c);     /* check_msr_load.c */

/* ---- MSR lists (check_msr_load.c) ---- */
/* SDM Vol. 3, "Loading MSRs" and "Saving MSRs": the rules on the first
 * quadword of an entry of a VM-entry or VM-exit MSR-load list (load) or of
 * the VM-exit MSR-store list (!load), which no value makes right: 0 or the
 * failing check. */
uint32_t vcore__vmx_msr_list_index(uint64_t lo, bool load);
/* Entry i (0-based) of vmcs12's VM-entry MSR-load list: read once from L1
 * memory into ent (unreadable bytes read as all ones), then checked on
 * that copy as VM entry loads it (after guest state: c->v is the vmcs12
 * being entered). 0 when the entry loads, else the failing check, with
 * the offending value in *value. */
uint32_t vcore__vmx_msr_load_entry(vcore__vmx_chk_t *c, uint32_t i, uint64_t ent[2], uint64_t *value);

/* ---- the table (check_table.c) ---- */
/* Class of a check id; 0 for an unknown id. */
uint32_t vcore__vmx_check_class(uint32_t id);
/* Row position of a check id in the table; -1 for an unknown id. */
int vcore__vmx_check_row(uint32_t id);

/* ---- inputs (check_inputs.c) ---- */
/* The VCORE_VMX_IN_* bit of a vmcs12 field: 0 for a field no rule reads. */
uint32_t vcore__vmx_check_field_input(uint32_t encoding);
/* The input bits of the table rows set in a row bitmap of `words` words,
 * with VCORE_VMX_IN_ALWAYS. */
uint32_t vcore__vmx_check_changed(const uint64_t *rows, uint32_t words);
/* A rule's inputs (VCORE__VMX_ROW_IN); 0 for an unknown id. */
uint32_t vcore__vmx_check_inputs(uint32_t id);
/* The run bits (VCORE__VMX_RUN_VTPR, _LINK, _PDPTE) of the rules reading L1
 * memory whose architectural condition can hold for vmcs12 v: VTPR with
 * "use TPR shadow" and neither "virtualize APIC accesses" nor
 * "virtual-interrupt delivery" ("Checks on VM-Execution Control Fields"),
 * the referenced VMCS with a link pointer other than all ones ("Checks on
 * Guest Non-Register State"), the PDPTEs with PAE paging outside IA-32e
 * mode ("Checks on Guest Page-Directory-Pointer-Table Entries"). The
 * controls are taken as set: a caller asks only after an entry that passed
 * with the same control fields (a change of them is OTHER, which runs
 * every rule), where set and in force agree. */
uint32_t vcore__vmx_check_outside(const vcore__vmcs12_t *v);
/* The run word that holds guest RIP's rules alone: the change of every
 * L1 exit handler that only advances L2 past an instruction. */
#define VCORE__VMX_RUN_RIP_ONLY VCORE_VMX_IN_RIP
/* RIP's rules ("Checks on Guest RIP, RFLAGS, and SSP") on vmcs12 v, for a
 * caller whose run word is VCORE__VMX_RUN_RIP_ONLY after an entry that
 * passed every rule with the same controls and CS access rights (so the
 * controls in force are v's): true when both pass with bits 63:48 of RIP
 * identical, which holds for either linear-address width. False leaves the
 * verdict to vcore__vmx_check_run(), which names a failure or finds that
 * LA57 allows the address. */
bool vcore__vmx_check_rip_only(const vcore__vmcs12_t *v);
/* The checks with only the rules whose inputs are in `run` (verdict only;
 * vmcs12 is read in place: the caller owns it). The input is the library's
 * own (vcore_vmx_check_input_from_nvmx() or a test's well-formed one): it
 * is not validated again. */
int vcore__vmx_check_run(const vcore_vmx_check_input_t *in, uint32_t run, vcore_vmx_verdict_t *out);

#endif /* VCORE_CORE_X86_VMX_CHECK_PRIV_H */
