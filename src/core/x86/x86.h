/*
 * x86.h - internal interface of the x86 vCPU model (src/core/x86).
 *
 * Pure functions over state: they never call a backend and never allocate.
 * vcpu.c orchestrates them (validate -> apply -> mark dirty).
 */
#ifndef VCORE_CORE_X86_H
#define VCORE_CORE_X86_H

#include "../deps.h"
#include "virtcore/diag.h"
#include "virtcore/error.h"
#include "../diag_set.h"
#include "virtcore/x86/cpuid.h"
#include "virtcore/x86/msr.h"
#include "virtcore/x86/nvmx.h"
#include "virtcore/x86/regs.h"

/* Records a diagnostic (id, value) in *d; d may be NULL. Returns VCORE_ERR_INVAL. */

/* ---- canonical / physical address helpers (addr.c) ---- */
bool vcore__x86_is_canonical(uint64_t va, uint32_t linear_bits);
bool vcore__x86_phys_ok(uint64_t pa, uint32_t maxphyaddr);

/* ---- CPUID flow (cpuid.c) ---- */
/* Entry matching (function, index), honouring INDEX_SIGNIFICANT; NULL if none. */
const vcore_cpuid_entry_t *vcore__cpuid_find(const vcore_cpuid_entry_t *e, uint32_t n,
                                             uint32_t function, uint32_t index);
/* Phase 1: legality of a whole table. VCORE_OK or VCORE_ERR_INVAL/RANGE + diag. */
int vcore__cpuid_check(const vcore_cpuid_entry_t *e, uint32_t n, vcore_diag_t *d);
/* Phase 2: rewrite the runtime bits of a table from the vCPU state (in place). */
void vcore__cpuid_update_runtime(vcore_cpuid_entry_t *e, uint32_t n, const vcore_x86_state_t *st);
/* Phase 3: derive the model from a checked table. Cannot fail. */
void vcore__cpuid_after_set(const vcore_cpuid_entry_t *e, uint32_t n, uint32_t default_vendor,
                            uint64_t xcr0, vcore_x86_cpu_model_t *m);
/* The model of a vCPU without a CPUID table (an empty table). */
void vcore__cpuid_model_default(uint32_t vendor, vcore_x86_cpu_model_t *m);
/* What CPUID(function, index) returns on this table, as the vendor's hardware does. */
void vcore__cpuid_query(const vcore_cpuid_entry_t *e, uint32_t n, uint32_t vendor,
                        uint32_t function, uint32_t index, vcore_cpuid_entry_t *out);
/* XSAVE area size for the components in xcr0 (standard or compacted form). */
uint32_t vcore__cpuid_xsave_size(const vcore_cpuid_entry_t *e, uint32_t n, uint64_t xcr0,
                                 bool compacted);

/* ---- register validation (regs.c) ---- */
int vcore__x86_check_regs(const vcore_x86_regs_t *r, vcore_diag_t *d);
int vcore__x86_check_sregs(const vcore_x86_cpu_model_t *m, const vcore_x86_sregs_t *old,
                           const vcore_x86_sregs_t *neu, vcore_diag_t *d);
/* The control-register and EFER part of vcore__x86_check_sregs() alone (MOV
 * to CR, WRMSR EFER): reads CR0, CR3, CR4, CR8 and EFER of old and neu only. */
int vcore__x86_check_crs(const vcore_x86_cpu_model_t *m, const vcore_x86_sregs_t *old,
                         const vcore_x86_sregs_t *neu, vcore_diag_t *d);
int vcore__x86_check_dregs(const vcore_x86_cpu_model_t *m, const vcore_x86_dregs_t *dr,
                           vcore_diag_t *d);
int vcore__x86_check_fpu(const vcore_x86_fpu_t *f, vcore_diag_t *d);
int vcore__x86_check_xcr0(const vcore_x86_cpu_model_t *m, uint64_t xcr0, vcore_diag_t *d);

/* ---- MSRs (msr.c) ---- */
/* Which VCORE_X86_STATE_* classes an MSR lives in (0 if not modelled). */
uint32_t vcore__x86_msr_classes(uint32_t index);
int vcore__x86_msr_get(const vcore_x86_state_t *st, uint32_t index, uint64_t *value);
/* Validates and applies a WRMSR to st; st is unchanged on failure. */
int vcore__x86_msr_set(const vcore_x86_cpu_model_t *m, vcore_x86_state_t *st, uint32_t index,
                       uint64_t value, vcore_diag_t *d);
/* IA32_PAT: every entry a valid memory type (WRMSR, VMCS PAT fields, MSR-load lists). */
bool vcore__x86_pat_ok(uint64_t pat);
/* IA32_DEBUGCTL bits a processor with CPUID.(EAX=07H,ECX=0) EBX and ECX
 * defines (msr.c); the VM-entry checks use the same rule. */
uint64_t vcore__x86_debugctl_valid(uint32_t ebx7, uint32_t ecx7);

/* ---- events (events.c) ---- */
/* A vector one can raise as an exception (0-31 except 2, 15, 22-27, 31). */
bool vcore__x86_exc_vector_valid(uint32_t vector);
/* The exception pushes an error code (8, 10-14, 17, 21). */
bool vcore__x86_exc_has_error_code(uint32_t vector);
/* DR6 after the delivery of a #DB whose payload (DR6 / pending-debug-
 * exceptions layout: B0-B3, BD, BS, RTM) says what it reports. */
uint64_t vcore__x86_events_dr6(uint64_t dr6, uint64_t payload);
/* Consistency of a whole event state (set_events). VCORE_OK or VCORE_ERR_INVAL + diag. */
int vcore__x86_events_check(const vcore_x86_events_t *e, vcore_diag_t *d);
/* Raises an exception on top of what is pending (double-fault rules).
 * Returns true when the combination is a triple fault (shutdown). */
bool vcore__x86_events_raise(vcore_x86_events_t *e, uint32_t vector, uint32_t error_code,
                             bool has_payload, uint64_t payload);
/* The guest can take an external interrupt / an NMI at the next entry. */
bool vcore__x86_can_take_interrupt(uint64_t rflags, const vcore_x86_events_t *e);
bool vcore__x86_can_take_nmi(const vcore_x86_events_t *e);

/* ---- RESET / INIT (reset.c) ---- */
/* One implementation for both: init == false is power-up RESET. */
void vcore__x86_reset(vcore_x86_state_t *st, const vcore_x86_cpu_model_t *m, uint32_t vendor,
                      bool init, bool bsp);

/* ---- guest page-table walk (walk.c) ---- */
typedef struct vcore__walk_fault {
    uint8_t vector;      /* 14 (#PF) or 13 (#GP, e.g. PAE PDPTE reserved bits) */
    uint32_t error_code; /* #PF error code */
    uint64_t cr2;        /* faulting linear address */
} vcore__walk_fault_t;
/* The paging-structure entries a translation used and the accessed/dirty
 * flags it must set in them (SDM Vol. 3, "Accessed and Dirty Flags"). The
 * flags live in byte 0 of every entry format, so committing writes one
 * byte per entry that lacks them. */
typedef struct vcore__walk_ad {
    uint32_t n;         /* entries recorded */
    uint64_t pa[5];     /* guest-physical address of each entry */
    uint8_t byte0[5];   /* byte 0 of the entry as the walk read it */
    uint8_t set[5];     /* flags to set: A, and D in the entry mapping the page of a write */
} vcore__walk_ad_t;
/* Translates one linear address for a data access described by
 * VCORE__WALK_* flags: a write; user mode (CPL 3: "Access Rights"; the #PF
 * error code gets U/S); a processor without 1-GByte pages
 * (CPUID.80000001H:EDX.Page1GB[26] = 0), where PS in a PDPTE is a reserved
 * bit ("4-Level Paging": "If the PS flag ... 1-GByte page ... not
 * supported, the PS flag is reserved"). Returns VCORE_OK with *gpa,
 * VCORE_ERR_INVAL with *fault filled, or VCORE_ERR_FAULT when a paging
 * structure is not in readable guest memory. Nothing is written: the
 * accessed/dirty flags to set are recorded in *ad (may be NULL) for
 * vcore__walk_commit_ad() once the access is known to happen. */
#define VCORE__WALK_WRITE (1u << 0)
#define VCORE__WALK_USER (1u << 1)
#define VCORE__WALK_NO_1G (1u << 2)
int vcore__walk_access(const vcore_nvmx_mem_t *m, const vcore_x86_sregs_t *s, uint64_t rflags,
                       uint32_t maxphyaddr, uint64_t la, uint32_t access, uint64_t *gpa,
                       vcore__walk_fault_t *fault, vcore__walk_ad_t *ad);
/* Sets the recorded accessed/dirty flags that are not set yet. */
void vcore__walk_commit_ad(const vcore_nvmx_mem_t *m, const vcore__walk_ad_t *ad);

/* ---- segmentation of a data access (seg.c) ---- */
#define VCORE__SEG_MODE_REAL 0u /* real-address or virtual-8086 mode: limit checks only */
#define VCORE__SEG_MODE_PROT 1u /* protected mode outside 64-bit mode: usability, type, limit */
#define VCORE__SEG_MODE_64 2u   /* 64-bit mode: canonical checks only */
/* The linear address of a len-byte access at offset ea through segment s
 * (with the base the mode uses), or false when the access faults: #SS(0)
 * through SS, #GP(0) otherwise. la_bits: 48, or 57 with CR4.LA57. */
bool vcore__x86_seg_linear(const vcore_x86_segment_t *s, uint32_t mode, uint64_t ea, uint32_t len, bool write,
                           uint32_t la_bits, uint64_t *la);

/* ---- string I/O addressing (string_io.c) ---- */
typedef struct vcore__x86_str {
    uint64_t base;  /* base of the segment used (0 for ES/DS in 64-bit mode) */
    uint32_t width; /* element size: 1, 2 or 4 */
    uint32_t asize; /* address size: 16, 32 or 64 */
    bool down;      /* RFLAGS.DF: the string walks downwards */
    bool long64;    /* executed in 64-bit mode */
} vcore__x86_str_t;
/* reg + delta as the string instructions update RSI, RDI and RCX. */
uint64_t vcore__x86_str_step(uint64_t reg, uint64_t delta, uint32_t asize);
/* The offset (effective address) of element k when the offset register
 * holds reg: it wraps at the address size. */
uint64_t vcore__x86_str_off(const vcore__x86_str_t *s, uint64_t reg, uint32_t k);
/* The linear address of element k when the offset register holds reg. */
uint64_t vcore__x86_str_elem(const vcore__x86_str_t *s, uint64_t reg, uint32_t k);
/* The bits of RCX/RSI/RDI the address size uses. */
uint64_t vcore__x86_str_mask(uint32_t asize);

#endif /* VCORE_CORE_X86_H */
