/*
 * diff.c - differential test of the VM-entry checks: seeded states made
 * from a valid reference by one to three mutations each, VMLAUNCHed on the
 * emulated processor and decided by vcore_vmx_check_entry() on the same
 * state, in the same kernel. Verdicts (kind, VM-instruction error, exit
 * reason, qualification) must agree, except where the emulator departs from
 * the SDM in one of the ways listed in diff_deviations[] (documented with
 * the SDM text in docs/vmx-checks.md, "Bochs 2.7 deviations").
 *
 * What the library sees is what the processor holds: every field is read
 * back with VMREAD after the VMWRITEs (a field the processor does not
 * support reads as 0 in both), L1 memory is this kernel's physical memory,
 * the capabilities are the processor's MSRs 480H-491H and its CPUID.
 *
 * The reference state keeps the kernel safe whatever a mutated state does
 * once it has entered: every exception exits (exception bitmap all ones),
 * the guest IDT is empty, the VMX-preemption timer ends a halted or
 * looping guest, and VM exit reloads the host's EFER and PAT. Mutations
 * of the host state only produce states the SDM rejects (a host state the
 * processor accepted would be loaded at the next VM exit). Event injection
 * of type 7 ("other event") is never generated: Bochs 2.7 panics on it.
 *
 * Output: CAPS (the capability MSRs), one MISMATCH or DEVIATION line per
 * disagreement (with the fields that differ from the reference), DIFF-CLASS
 * (states per mutation class) and DIFF (the verdict distribution). The case
 * fails on any unexplained mismatch; run_bochs.sh asserts the DIFF line.
 */
#include "cases.h"

#include "backend-vmx/vmx_prim.h"
#include "virtcore/x86/vmcs.h"
#include "virtcore/x86/vmx_checks.h"

#define DIFF_STATES 1200u   /* states per boot (issue: at least 1,000) */
#define DIFF_MAX_FIELDS 160u
#define DIFF_RAM (64ull << 20) /* megs: 64 in bochsrc.in */

/* ---- random numbers (xorshift64*) -------------------------------------------- */
static uint64_t diff_rng;

static uint64_t diff_rand(void)
{
    diff_rng ^= diff_rng >> 12;
    diff_rng ^= diff_rng << 25;
    diff_rng ^= diff_rng >> 27;
    return diff_rng * 0x2545f4914f6cdd1dull;
}

static uint32_t diff_below(uint32_t n)
{
    return (uint32_t)(diff_rand() % n);
}

/* A random set bit of mask (0 if mask is 0). */
static uint64_t diff_bit_of(uint64_t mask)
{
    uint32_t n = 0, k;
    for (uint64_t m = mask; m; m &= m - 1)
        n++;
    if (!n)
        return 0;
    k = diff_below(n);
    for (uint64_t m = mask;; m &= m - 1)
        if (k-- == 0)
            return m & (~m + 1);
}

/* ---- the processor ------------------------------------------------------------- */
static vcore_nvmx_caps_t diff_caps;
static uint32_t diff_maxphy;
static vcore_cpuid_entry_t diff_cpuid[48];
static uint32_t diff_ncpuid;
static uint64_t diff_efer, diff_pat;

static uint64_t diff_rdmsr(uint32_t msr)
{
    return vcore__vmx_rdmsr(msr);
}

static void diff_cpuid_raw(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static void diff_cpuid_add(uint32_t leaf, uint32_t sub)
{
    uint32_t r[4];
    vcore_cpuid_entry_t *e;
    if (diff_ncpuid >= sizeof(diff_cpuid) / sizeof(diff_cpuid[0]))
        return;
    diff_cpuid_raw(leaf, sub, r);
    e = &diff_cpuid[diff_ncpuid++];
    e->function = leaf;
    e->index = sub;
    e->flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
    e->eax = r[0];
    e->ebx = r[1];
    e->ecx = r[2];
    e->edx = r[3];
}

/* The capability MSRs that exist (reading another one raises #GP). */
static void diff_read_caps(void)
{
    uint64_t *m = diff_caps.msr;
    uint32_t r[4];
    memset(&diff_caps, 0, sizeof(diff_caps));
    diff_caps.size = sizeof(diff_caps);
    for (uint32_t i = 0; i <= VCORE_NVMX_CAP_VMCS_ENUM; i++)
        m[i] = diff_rdmsr(0x480u + i);
    if (m[VCORE_NVMX_CAP_PROCBASED] >> 63)
        m[VCORE_NVMX_CAP_PROCBASED2] = diff_rdmsr(0x48b);
    if (m[VCORE_NVMX_CAP_PROCBASED2] & ((1ull << 33) | (1ull << 37)))
        m[VCORE_NVMX_CAP_EPT_VPID] = diff_rdmsr(0x48c);
    if (m[VCORE_NVMX_CAP_BASIC] & (1ull << 55))
        for (uint32_t i = VCORE_NVMX_CAP_TRUE_PINBASED; i <= VCORE_NVMX_CAP_TRUE_ENTRY; i++)
            m[i] = diff_rdmsr(0x480u + i);
    if (m[VCORE_NVMX_CAP_PROCBASED2] & (1ull << 45))
        m[VCORE_NVMX_CAP_VMFUNC] = diff_rdmsr(0x491);
    diff_cpuid_raw(0x80000008u, 0, r);
    diff_maxphy = r[0] & 0xffu;
    diff_efer = diff_rdmsr(0xc0000080u);
    diff_pat = diff_rdmsr(0x277);
    /* L1's CPUID: the basic and extended leaves the checks consult. */
    diff_cpuid_raw(0, 0, r);
    for (uint32_t l = 0; l <= r[0] && l <= 0x1f; l++)
        diff_cpuid_add(l, 0);
    diff_cpuid_add(7, 1);
    diff_cpuid_add(0xd, 1);
    diff_cpuid_raw(0x80000000u, 0, r);
    for (uint32_t l = 0x80000000u; l <= r[0] && l <= 0x80000008u; l++)
        diff_cpuid_add(l, 0);
}

/* ---- states ---------------------------------------------------------------------- */
static vtk_vmcs_field_t diff_ref[DIFF_MAX_FIELDS], diff_st[DIFF_MAX_FIELDS];
static uint32_t diff_nref, diff_n;

/* L1 pages a state may name. */
static uint8_t *pg_msr, *pg_link, *pg_pdpt, *pg_vapic, *pg_apic, *pg_bitmap, *pg_ept, *pg_exit_store,
    *pg_exit_load, *pg_vmrw;

static uint64_t pa(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static void set(uint32_t field, uint64_t v)
{
    for (uint32_t i = 0; i < diff_n; i++) {
        if (diff_st[i].field == field) {
            diff_st[i].value = v;
            return;
        }
    }
    if (diff_n < DIFF_MAX_FIELDS) {
        diff_st[diff_n].field = field;
        diff_st[diff_n].value = v;
        diff_n++;
    }
}

static uint64_t get(uint32_t field)
{
    for (uint32_t i = 0; i < diff_n; i++)
        if (diff_st[i].field == field)
            return diff_st[i].value;
    return 0;
}

#define S(f, v) set(VCORE_VMCS_##f, (v))
#define G(f) get(VCORE_VMCS_##f)
#define OR(f, v) set(VCORE_VMCS_##f, get(VCORE_VMCS_##f) | (v))
#define ANDN(f, v) set(VCORE_VMCS_##f, get(VCORE_VMCS_##f) & ~(uint64_t)(v))
#define XOR(f, v) set(VCORE_VMCS_##f, get(VCORE_VMCS_##f) ^ (v))

/* Allowed-1 settings of a control (TRUE MSR when IA32_VMX_BASIC[55]). */
static uint32_t allowed1(uint32_t plain)
{
    return (uint32_t)(diff_caps.msr[plain] >> 32);
}

static uint32_t allowed0(uint32_t plain, uint32_t true_idx)
{
    return (uint32_t)((diff_caps.msr[VCORE_NVMX_CAP_BASIC] & (1ull << 55)) ? diff_caps.msr[true_idx]
                                                                             : diff_caps.msr[plain]);
}

/* The reference state: records.c's minimal 64-bit state made safe for any
 * mutation (see the file comment). */
static void diff_reference(void)
{
    diff_n = vtk_vmcs_reference(diff_st, DIFF_MAX_FIELDS);
    if (allowed1(VCORE_NVMX_CAP_PINBASED) & (1u << 6)) {
        OR(PIN_BASED_VM_EXEC_CONTROL, 1u << 6); /* activate VMX-preemption timer */
        S(VMX_PREEMPTION_TIMER_VALUE, 20000);
    }
    S(EXCEPTION_BITMAP, 0xffffffffu);
    S(GUEST_IDTR_LIMIT, 0);
    /* Exit: load host IA32_PAT (19) and IA32_EFER (21). Entry: load guest IA32_PAT (14) and IA32_EFER (15). */
    OR(VM_EXIT_CONTROLS, allowed1(VCORE_NVMX_CAP_EXIT) & ((1u << 19) | (1u << 21)));
    OR(VM_ENTRY_CONTROLS, allowed1(VCORE_NVMX_CAP_ENTRY) & ((1u << 14) | (1u << 15)));
    S(HOST_IA32_PAT, diff_pat);
    S(HOST_IA32_EFER, diff_efer);
    S(GUEST_IA32_PAT, diff_pat);
    S(GUEST_IA32_EFER, diff_efer);
    S(VM_ENTRY_MSR_LOAD_ADDR, pa(pg_msr));
    S(VM_EXIT_MSR_STORE_ADDR, pa(pg_exit_store));
    S(VM_EXIT_MSR_LOAD_ADDR, pa(pg_exit_load));
    memcpy(diff_ref, diff_st, sizeof(diff_st));
    diff_nref = diff_n;
}

/* Memory the states use, reset before each state. */
static void diff_memory_reset(void)
{
    uint32_t rev = (uint32_t)diff_caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu;
    memset(pg_msr, 0, 4096);
    memset(pg_link, 0, 4096);
    memcpy(pg_link, &rev, 4);
    memset(pg_pdpt, 0, 4096);
    memset(pg_vapic, 0, 4096);
    /* The VM-exit MSR-store and MSR-load lists name the host's own
     * SYSENTER_CS (a list entry naming an MSR the processor lacks would
     * make the VM exit abort). */
    for (uint32_t i = 0; i < 8; i++) {
        uint64_t e[2] = {0x174, diff_rdmsr(0x174)};
        memcpy(pg_exit_load + 16 * i, e, 16);
        memcpy(pg_exit_store + 16 * i, e, 16);
    }
}

/* ---- mutations ---------------------------------------------------------------------- */

/* A physical address for a field that needs `align`-byte alignment: valid,
 * unaligned, at bit MAXPHYADDR, just below it, all ones, or bit 63. */
static uint64_t diff_addr(uint64_t valid, uint64_t align)
{
    switch (diff_below(7)) {
    case 0: return valid;
    case 1: return valid + (align > 1 ? 1u + diff_below((uint32_t)align - 1u) : 0u);
    case 2: return 1ull << diff_maxphy;
    case 3: return (1ull << diff_maxphy) - (align > 1 ? align : 4096u);
    case 4: return ~0ull;
    case 5: return valid | (1ull << 63);
    default: return (1ull << (diff_maxphy - 1)) | valid;
    }
}

/* A linear address: canonical, non-canonical, at the 48-bit edge, all ones... */
static uint64_t diff_la(uint64_t valid)
{
    static const uint64_t v[] = {0x0000800000000000ull, 0x00007fffffffffffull, 0xffff800000000000ull,
                                 0xffff7fffffffffffull, 0x8000000000000000ull, 0x0001000000000000ull,
                                 0xfffffffffffff000ull, 0x0100000000000000ull};
    uint32_t k = diff_below(9);
    return k < 8 ? v[k] : valid;
}

/* Mutation classes, for the DIFF-CLASS distribution. */
#define DIFF_CLASSES(X) X(CTL) X(HOST) X(ADDR) X(GUEST_CR) X(SEG) X(DT) X(RIP) X(NONREG) X(LINK) X(PDPTE) X(MSR) X(INJECT) X(MODE)
enum {
#define DIFF_CLASS_ENUM(n) DC_##n,
    DIFF_CLASSES(DIFF_CLASS_ENUM)
#undef DIFF_CLASS_ENUM
    DC_COUNT
};
static const char *const diff_class_names[] = {
#define DIFF_CLASS_NAME(n) #n,
    DIFF_CLASSES(DIFF_CLASS_NAME)
#undef DIFF_CLASS_NAME
};

static const uint32_t diff_seg_sel[8] = {
    VCORE_VMCS_GUEST_ES_SELECTOR, VCORE_VMCS_GUEST_CS_SELECTOR, VCORE_VMCS_GUEST_SS_SELECTOR,
    VCORE_VMCS_GUEST_DS_SELECTOR, VCORE_VMCS_GUEST_FS_SELECTOR, VCORE_VMCS_GUEST_GS_SELECTOR,
    VCORE_VMCS_GUEST_LDTR_SELECTOR, VCORE_VMCS_GUEST_TR_SELECTOR};
/* Base, limit and access-rights encodings follow the selector's at fixed distances. */
#define SEG_BASE(s) (VCORE_VMCS_GUEST_ES_BASE + (diff_seg_sel[s] - VCORE_VMCS_GUEST_ES_SELECTOR))
#define SEG_LIMIT(s) (VCORE_VMCS_GUEST_ES_LIMIT + (diff_seg_sel[s] - VCORE_VMCS_GUEST_ES_SELECTOR))
#define SEG_AR(s) (VCORE_VMCS_GUEST_ES_AR_BYTES + (diff_seg_sel[s] - VCORE_VMCS_GUEST_ES_SELECTOR))

/* Puts entry i of the VM-entry MSR-load list and makes the count cover it. */
static void msr_entry(uint32_t i, uint64_t lo, uint64_t data)
{
    memcpy(pg_msr + 16 * i, &lo, 8);
    memcpy(pg_msr + 16 * i + 8, &data, 8);
    if (G(VM_ENTRY_MSR_LOAD_COUNT) < i + 1)
        S(VM_ENTRY_MSR_LOAD_COUNT, i + 1);
}

/* An MSR-load entry: allowed, forbidden, reserved bits, or a value WRMSR refuses. */
static void diff_msr_entry(uint32_t i)
{
    static const uint32_t idx[] = {0x174, 0x175, 0x176, 0xc0000081u, 0xc0000082u, 0xc0000083u, 0xc0000084u,
                                   0xc0000102u, 0xc0000100u, 0xc0000101u, 0x808, 0x80b, 0x9e, 0x9b,
                                   0x79, 0x8b, 0x277, 0xc0000080u};
    uint32_t k = diff_below(sizeof(idx) / sizeof(idx[0]));
    uint64_t lo = idx[k], data;
    switch (diff_below(4)) {
    case 0: data = 0; break;
    case 1: data = diff_la(0x1000); break;
    case 2: data = diff_rand(); break;
    default: data = idx[k] == 0x277 ? diff_pat : idx[k] == 0xc0000080u ? diff_efer : 0x10; break;
    }
    if (idx[k] == 0x277 && diff_below(2))
        data = diff_pat ^ (2ull << (8 * diff_below(8))); /* memory type 2 or 3 (reserved) in one entry */
    if (idx[k] == 0xc0000080u && diff_below(2))
        data = diff_efer ^ (diff_below(2) ? (1ull << 8) : (1ull << (12 + diff_below(20))));
    if (diff_below(8) == 0)
        lo |= (uint64_t)(1u + diff_below(0xffff)) << 32;
    msr_entry(i, lo, data);
}

/* Presets that put the guest in another mode (other mutations follow). */
static void mode_pae32(void)
{
    ANDN(VM_ENTRY_CONTROLS, 1u << 9);
    S(GUEST_IA32_EFER, diff_efer & ~((1ull << 8) | (1ull << 10)));
    S(GUEST_CS_AR_BYTES, 0xc09b);
    S(GUEST_CR3, pa(pg_pdpt));
    for (uint32_t i = 0; i < 4; i++) {
        uint64_t e = pa(pg_ept) | 1u;
        memcpy(pg_pdpt + 8 * i, &e, 8);
    }
}

static void mode_v86(void)
{
    mode_pae32();
    S(GUEST_RFLAGS, 0x20002);
    for (uint32_t s = 0; s < 6; s++) {
        set(diff_seg_sel[s], 0x1000);
        set(SEG_BASE(s), 0x10000);
        set(SEG_LIMIT(s), 0xffff);
        set(SEG_AR(s), 0xf3);
    }
    S(GUEST_RIP, 0x100);
}

static bool diff_has_ept_ug(void)
{
    return (allowed1(VCORE_NVMX_CAP_PROCBASED2) & 0x82u) == 0x82u;
}

static void ept_on(void)
{
    OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
    OR(SECONDARY_VM_EXEC_CONTROL, 1u << 1);
    S(EPT_POINTER, pa(pg_ept) | 0x1e); /* WB, 4-level walk */
}

static void mode_real_ug(void)
{
    if (!diff_has_ept_ug())
        return;
    ept_on();
    OR(SECONDARY_VM_EXEC_CONTROL, 1u << 7);
    ANDN(VM_ENTRY_CONTROLS, 1u << 9);
    S(GUEST_IA32_EFER, diff_efer & ~((1ull << 8) | (1ull << 10)));
    S(GUEST_CR0, 0x30);
    S(GUEST_CS_SELECTOR, 0xf000);
    S(GUEST_CS_BASE, 0xf0000);
    S(GUEST_CS_LIMIT, 0xffff);
    S(GUEST_CS_AR_BYTES, 0x9b);
    for (uint32_t s = 0; s < 6; s++) {
        if (s == 1)
            continue;
        set(diff_seg_sel[s], 0);
        set(SEG_BASE(s), 0);
        set(SEG_LIMIT(s), 0xffff);
        set(SEG_AR(s), 0x93);
    }
    S(GUEST_RIP, 0xfff0);
}

static const uint32_t diff_ar_values[] = {0x10000, 0x9b, 0x93, 0x8b, 0x83, 0x82, 0x89, 0xf3, 0xfb, 0x3, 0x13, 0x1b,
                                         0xa09b, 0xc093, 0xe09b, 0x409b, 0x809b, 0x19b, 0x2093, 0x93 | (1u << 17),
                                         0x9b & ~0x80u, 0xd3, 0xb3, 0x97, 0x9f, 0x99};

/* One mutation of class cls. */
static void diff_mutate(uint32_t cls)
{
    uint32_t s = diff_below(8);
    switch (cls) {
    case DC_CTL:
        switch (diff_below(24)) {
        case 0: ANDN(PIN_BASED_VM_EXEC_CONTROL, diff_bit_of(allowed0(VCORE_NVMX_CAP_PINBASED, VCORE_NVMX_CAP_TRUE_PINBASED))); break;
        case 1: OR(PIN_BASED_VM_EXEC_CONTROL, diff_bit_of(~allowed1(VCORE_NVMX_CAP_PINBASED) & 0xffffffffu)); break;
        case 2: ANDN(CPU_BASED_VM_EXEC_CONTROL, diff_bit_of(allowed0(VCORE_NVMX_CAP_PROCBASED, VCORE_NVMX_CAP_TRUE_PROCBASED))); break;
        case 3: OR(CPU_BASED_VM_EXEC_CONTROL, diff_bit_of(~allowed1(VCORE_NVMX_CAP_PROCBASED) & 0xffffffffu)); break;
        case 4: ANDN(VM_EXIT_CONTROLS, diff_bit_of(allowed0(VCORE_NVMX_CAP_EXIT, VCORE_NVMX_CAP_TRUE_EXIT))); break;
        case 5: OR(VM_EXIT_CONTROLS, diff_bit_of(~allowed1(VCORE_NVMX_CAP_EXIT) & 0xffffffffu)); break;
        case 6: ANDN(VM_ENTRY_CONTROLS, diff_bit_of(allowed0(VCORE_NVMX_CAP_ENTRY, VCORE_NVMX_CAP_TRUE_ENTRY))); break;
        case 7: OR(VM_ENTRY_CONTROLS, diff_bit_of(~allowed1(VCORE_NVMX_CAP_ENTRY) & 0xffffffffu)); break;
        case 8: /* secondary controls: any bit, allowed or not */
            OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
            OR(SECONDARY_VM_EXEC_CONTROL, 1ull << diff_below(32));
            break;
        case 9: S(CR3_TARGET_COUNT, diff_below(7)); break;
        case 10: OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 25); S(IO_BITMAP_A, diff_addr(pa(pg_bitmap), 4096)); S(IO_BITMAP_B, diff_addr(pa(pg_bitmap), 4096)); break;
        case 11: OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 28); S(MSR_BITMAP, diff_addr(pa(pg_bitmap), 4096)); break;
        case 12: /* TPR shadow: address, threshold, VTPR */
            OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 21);
            S(VIRTUAL_APIC_PAGE_ADDR, diff_addr(pa(pg_vapic), 4096));
            S(TPR_THRESHOLD, diff_below(3) ? diff_below(16) : diff_rand() & 0xffffffffu);
            pg_vapic[0x80] = (uint8_t)diff_rand();
            break;
        case 13: OR(PIN_BASED_VM_EXEC_CONTROL, 1u << 5); if (diff_below(2)) ANDN(PIN_BASED_VM_EXEC_CONTROL, 1u << 3); break;
        case 14: OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 22); if (diff_below(2)) OR(PIN_BASED_VM_EXEC_CONTROL, (1u << 5) | (1u << 3)); break;
        case 15: /* APIC virtualization family */
            OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
            OR(SECONDARY_VM_EXEC_CONTROL, diff_bit_of(0x311u));
            if (diff_below(2)) OR(SECONDARY_VM_EXEC_CONTROL, diff_bit_of(0x311u));
            if (diff_below(2)) { OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 21); S(VIRTUAL_APIC_PAGE_ADDR, pa(pg_vapic)); }
            if (diff_below(2)) OR(PIN_BASED_VM_EXEC_CONTROL, 1u);
            S(APIC_ACCESS_ADDR, diff_addr(pa(pg_apic), 4096));
            break;
        case 16: /* posted interrupts */
            OR(PIN_BASED_VM_EXEC_CONTROL, 1u << 7);
            S(POSTED_INTR_NV, diff_below(2) ? 0xf2 : 0x1f2);
            S(POSTED_INTR_DESC_ADDR, diff_addr(pa(pg_apic), 64));
            break;
        case 17: OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 31); OR(SECONDARY_VM_EXEC_CONTROL, 1u << 5); S(VIRTUAL_PROCESSOR_ID, diff_below(3)); break;
        case 18: /* EPT pointer */
            ept_on();
            switch (diff_below(6)) {
            case 0: XOR(EPT_POINTER, (uint64_t)diff_below(8)); break;                    /* memory type */
            case 1: XOR(EPT_POINTER, (uint64_t)diff_below(8) << 3); break;               /* walk length - 1 */
            case 2: OR(EPT_POINTER, 1u << 6); break;                                     /* A/D flags */
            case 3: OR(EPT_POINTER, diff_bit_of(0xf80)); break;                          /* reserved 11:7 */
            case 4: S(EPT_POINTER, (diff_addr(pa(pg_ept), 4096) & ~0xfffull) | 0x1e); break;
            default: break;
            }
            break;
        case 19: OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 31); OR(SECONDARY_VM_EXEC_CONTROL, 1u << 7); if (diff_below(2)) ept_on(); break;
        case 20: /* VMCS shadowing */
            OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
            OR(SECONDARY_VM_EXEC_CONTROL, 1u << 14);
            S(VMREAD_BITMAP, diff_addr(pa(pg_vmrw), 4096));
            S(VMWRITE_BITMAP, diff_addr(pa(pg_vmrw), 4096));
            break;
        case 21: ANDN(PIN_BASED_VM_EXEC_CONTROL, 1u << 6); OR(VM_EXIT_CONTROLS, 1u << 22); break;
        case 22: /* VM-exit MSR-store / MSR-load lists */
            if (diff_below(2)) { S(VM_EXIT_MSR_STORE_COUNT, 1 + diff_below(4)); S(VM_EXIT_MSR_STORE_ADDR, diff_addr(pa(pg_exit_store), 16)); }
            else { /* a list the processor would accept must be ours: a bad entry aborts the next VM exit */
                uint64_t a = diff_addr(pa(pg_exit_load), 16);
                if (!(a & 0xf) && a < (1ull << diff_maxphy))
                    a = pa(pg_exit_load);
                S(VM_EXIT_MSR_LOAD_COUNT, 1 + diff_below(4));
                S(VM_EXIT_MSR_LOAD_ADDR, a);
            }
            break;
        default: /* VM-entry MSR-load address */
            S(VM_ENTRY_MSR_LOAD_COUNT, 1 + diff_below(3));
            msr_entry(0, 0x174, diff_rdmsr(0x174));
            S(VM_ENTRY_MSR_LOAD_ADDR, diff_addr(pa(pg_msr), 16));
            break;
        }
        break;
    case DC_HOST: /* only states the SDM rejects */
        switch (diff_below(12)) {
        case 0: ANDN(HOST_CR0, diff_bit_of(diff_caps.msr[VCORE_NVMX_CAP_CR0_FIXED0])); break;
        case 1: OR(HOST_CR0, 1ull << (32 + diff_below(32))); break;
        case 2: ANDN(HOST_CR4, diff_bit_of(diff_caps.msr[VCORE_NVMX_CAP_CR4_FIXED0] | 0x20u)); break;
        case 3: OR(HOST_CR4, diff_bit_of(~diff_caps.msr[VCORE_NVMX_CAP_CR4_FIXED1])); break;
        case 4: OR(HOST_CR3, diff_below(2) ? (1ull << diff_maxphy) : ~0ull << diff_below(64 - diff_maxphy) << diff_maxphy); break;
        case 5: S(HOST_IA32_SYSENTER_ESP, 0x0000800000000000ull); if (diff_below(2)) S(HOST_IA32_SYSENTER_EIP, 0xfff0000000000000ull); break;
        case 6: { /* selector RPL/TI, or a null CS/TR */
            static const uint32_t hs[] = {VCORE_VMCS_HOST_ES_SELECTOR, VCORE_VMCS_HOST_CS_SELECTOR, VCORE_VMCS_HOST_SS_SELECTOR,
                                          VCORE_VMCS_HOST_DS_SELECTOR, VCORE_VMCS_HOST_FS_SELECTOR, VCORE_VMCS_HOST_GS_SELECTOR,
                                          VCORE_VMCS_HOST_TR_SELECTOR};
            uint32_t k = diff_below(7);
            if (diff_below(3) == 0 && (k == 1 || k == 6))
                set(hs[k], 0);
            else
                set(hs[k], get(hs[k]) | (1u + diff_below(7)));
            break;
        }
        case 7: { /* non-canonical base */
            static const uint32_t hb[] = {VCORE_VMCS_HOST_FS_BASE, VCORE_VMCS_HOST_GS_BASE, VCORE_VMCS_HOST_TR_BASE,
                                          VCORE_VMCS_HOST_GDTR_BASE, VCORE_VMCS_HOST_IDTR_BASE};
            set(hb[diff_below(5)], 0x0000800000000000ull << diff_below(8));
            break;
        }
        case 8: S(HOST_IA32_PAT, diff_pat ^ (2ull << (8 * diff_below(8)))); break;
        case 9: S(HOST_IA32_EFER, diff_efer ^ (diff_below(2) ? (1ull << 8) : (1ull << 10)) ^ (diff_below(2) ? (1ull << 9) : 0)); break;
        case 10: OR(VM_EXIT_CONTROLS, 1u << 12); S(HOST_IA32_PERF_GLOBAL_CTRL, 1ull << (diff_below(2) ? 40 : 8)); break;
        default: ANDN(VM_EXIT_CONTROLS, 1u << 9); break;
        }
        break;
    case DC_ADDR:
        switch (diff_below(5)) {
        case 0: S(HOST_RIP, 0x0000800000000000ull | G(HOST_RIP)); break;
        case 1: ANDN(VM_ENTRY_CONTROLS, 1u << 9); break;
        case 2: ANDN(HOST_CR4, 0x20u); break;
        case 3: S(GUEST_CR4, G(GUEST_CR4) & ~0x20ull); break;
        default: ANDN(VM_EXIT_CONTROLS, 1u << 9); ANDN(HOST_CR4, diff_below(2) ? 0x20000u : 0); break;
        }
        break;
    case DC_GUEST_CR:
        switch (diff_below(14)) {
        case 0: ANDN(GUEST_CR0, diff_bit_of(diff_caps.msr[VCORE_NVMX_CAP_CR0_FIXED0] | 0x20u)); break;
        case 1: OR(GUEST_CR0, 1ull << (32 + diff_below(32))); break;
        case 2: OR(GUEST_CR0, 1u << 29); ANDN(GUEST_CR0, diff_below(2) ? (1u << 30) : 0); break; /* NW, CD */
        case 3: ANDN(GUEST_CR4, diff_bit_of(diff_caps.msr[VCORE_NVMX_CAP_CR4_FIXED0] | 0x20u)); break;
        case 4: OR(GUEST_CR4, diff_bit_of(~diff_caps.msr[VCORE_NVMX_CAP_CR4_FIXED1])); break;
        case 5: OR(GUEST_CR4, 1u << (diff_below(2) ? 17 : 12)); break; /* PCIDE, LA57 */
        case 6: OR(GUEST_CR3, 1ull << (diff_maxphy + diff_below(64 - diff_maxphy))); break;
        case 7: OR(VM_ENTRY_CONTROLS, 1u << 2); S(GUEST_DR7, diff_below(2) ? (1ull << (32 + diff_below(32))) : 0x400 | diff_bit_of(0xffff)); break;
        case 8: OR(VM_ENTRY_CONTROLS, 1u << 2); S(GUEST_IA32_DEBUGCTL, 1ull << diff_below(64)); break;
        case 9: set(diff_below(2) ? VCORE_VMCS_GUEST_SYSENTER_ESP : VCORE_VMCS_GUEST_SYSENTER_EIP, diff_la(0x1000)); break;
        case 10: S(GUEST_IA32_PAT, diff_pat ^ ((uint64_t)(2u + diff_below(6)) << (8 * diff_below(8)))); break;
        case 11: S(GUEST_IA32_EFER, diff_efer ^ (1ull << (diff_below(3) == 0 ? 10 : diff_below(2) ? 8 : 1u + diff_below(63)))); break;
        case 12: OR(VM_ENTRY_CONTROLS, 1u << 13); S(GUEST_IA32_PERF_GLOBAL_CTRL, 1ull << diff_below(64)); break;
        default: /* any entry control but "entry to SMM" (10): Bochs 2.7 accepts it outside SMM and then panics */
            OR(VM_ENTRY_CONTROLS, (1u << diff_below(32)) & ~(1u << 10));
            break;
        }
        break;
    case DC_SEG:
        switch (diff_below(8)) {
        case 0: set(diff_seg_sel[s], get(diff_seg_sel[s]) ^ (1u + diff_below(7))); break; /* RPL / TI */
        case 1: set(diff_seg_sel[s], diff_rand() & 0xffff); break;
        case 2: set(SEG_BASE(s), diff_la(0x1000) | (diff_below(2) ? (1ull << 32) : 0)); break;
        case 3: set(SEG_LIMIT(s), diff_below(2) ? 0xfffff : diff_below(2) ? 0xfff00000u : 0xffffffu); break;
        case 4: set(SEG_AR(s), diff_ar_values[diff_below(sizeof(diff_ar_values) / sizeof(diff_ar_values[0]))]); break;
        case 5: set(SEG_AR(s), get(SEG_AR(s)) ^ diff_bit_of(0x1ffff)); break;
        case 6: set(SEG_AR(s), get(SEG_AR(s)) ^ (1ull << (17 + diff_below(15)))); break;
        default: set(SEG_AR(s), get(SEG_AR(s)) ^ (0x60u & (diff_rand() | 0x20u))); break; /* DPL */
        }
        break;
    case DC_DT:
        switch (diff_below(4)) {
        case 0: S(GUEST_GDTR_BASE, diff_la(G(GUEST_GDTR_BASE))); break;
        case 1: S(GUEST_IDTR_BASE, diff_la(G(GUEST_IDTR_BASE))); break;
        case 2: S(GUEST_GDTR_LIMIT, 0x27 | (1ull << (16 + diff_below(16)))); break;
        default: S(GUEST_IDTR_LIMIT, 1ull << (16 + diff_below(16))); break;
        }
        break;
    case DC_RIP:
        switch (diff_below(6)) {
        case 0: S(GUEST_RIP, diff_la(G(GUEST_RIP))); break;
        case 1: S(GUEST_RIP, G(GUEST_RIP) | (1ull << (32 + diff_below(16)))); break;
        case 2: S(GUEST_RFLAGS, 2 | diff_bit_of(0xffffffffffc08028ull)); break; /* reserved 63:22, 15, 5, 3 */
        case 3: S(GUEST_RFLAGS, G(GUEST_RFLAGS) & ~2ull); break;
        case 4: S(GUEST_RFLAGS, G(GUEST_RFLAGS) | (1u << 17)); break; /* VM */
        default: S(GUEST_RFLAGS, G(GUEST_RFLAGS) ^ (1u << 9) ^ (diff_below(2) ? 0x100u : 0)); break; /* IF, TF */
        }
        break;
    case DC_NONREG:
        switch (diff_below(8)) {
        case 0: S(GUEST_ACTIVITY_STATE, diff_below(3) ? diff_below(2) + 1 : 4 + diff_below(8)); break; /* HLT, shutdown, reserved */
        case 1: S(GUEST_INTERRUPTIBILITY_INFO, diff_bit_of(0x1f)); break;
        case 2: S(GUEST_INTERRUPTIBILITY_INFO, diff_below(2) ? 3u : 1ull << (5 + diff_below(27))); break;
        case 3: S(GUEST_PENDING_DBG_EXCEPTIONS, 1ull << diff_below(64)); break;
        case 4: /* BS against TF/BTF: checked under STI blocking or in HLT */
            S(GUEST_PENDING_DBG_EXCEPTIONS, diff_below(2) ? 0x4000 : 0);
            if (diff_below(2))
                OR(GUEST_RFLAGS, 0x100);
            if (diff_below(2)) {
                OR(GUEST_RFLAGS, 0x200);
                S(GUEST_INTERRUPTIBILITY_INFO, 1);
            } else {
                S(GUEST_ACTIVITY_STATE, 1);
            }
            break;
        case 5: S(GUEST_PENDING_DBG_EXCEPTIONS, 0x10000 | (diff_below(2) ? 0x1000 : 0)); break;
        case 6: OR(VM_ENTRY_CONTROLS, 1u << 2); S(GUEST_IA32_DEBUGCTL, 2); S(GUEST_PENDING_DBG_EXCEPTIONS, diff_below(2) ? 0x4000 : 0); break;
        default: S(GUEST_INTERRUPTIBILITY_INFO, 8); if (diff_below(2)) OR(PIN_BASED_VM_EXEC_CONTROL, 0x28); break;
        }
        break;
    case DC_LINK: {
        uint32_t rev;
        switch (diff_below(6)) {
        case 0: S(VMCS_LINK_POINTER, diff_addr(pa(pg_link), 4096)); break;
        case 1: S(VMCS_LINK_POINTER, pa(pg_link)); break;
        case 2: S(VMCS_LINK_POINTER, pa(pg_link)); memcpy(&rev, pg_link, 4); rev ^= 1u << diff_below(32); memcpy(pg_link, &rev, 4); break;
        case 3: /* shadow-VMCS indicator against the "VMCS shadowing" control */
            S(VMCS_LINK_POINTER, pa(pg_link));
            pg_link[3] |= 0x80;
            if (diff_below(2)) { OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 31); OR(SECONDARY_VM_EXEC_CONTROL, 1u << 14); S(VMREAD_BITMAP, pa(pg_vmrw)); S(VMWRITE_BITMAP, pa(pg_vmrw)); }
            break;
        case 4: S(VMCS_LINK_POINTER, DIFF_RAM + 0x1000 * diff_below(16)); break; /* beyond RAM: reads all ones */
        default: S(VMCS_LINK_POINTER, 0); break;
        }
        break;
    }
    case DC_PDPTE: {
        uint32_t k = diff_below(4);
        uint64_t e;
        mode_pae32();
        memcpy(&e, pg_pdpt + 8 * k, 8);
        switch (diff_below(4)) {
        case 0: e |= diff_bit_of(0x1e6); break;                           /* reserved 2:1, 8:5 */
        case 1: e |= 1ull << (diff_maxphy + diff_below(63 - diff_maxphy)); break;
        case 2: e = diff_rand() & ~1ull; break;                             /* not present: anything goes */
        default: e |= 1ull << 63; break;
        }
        memcpy(pg_pdpt + 8 * k, &e, 8);
        if (diff_below(4) == 0)
            ept_on(); /* with EPT the PDPTEs come from the VMCS fields */
        break;
    }
    case DC_MSR: {
        uint32_t n = 1 + diff_below(3);
        for (uint32_t i = 0; i < n; i++)
            diff_msr_entry(i);
        break;
    }
    case DC_INJECT: {
        /* Types 0-6; type 7 makes Bochs 2.7 panic (documented deviation). */
        uint32_t type = diff_below(7), vec = diff_below(4) ? diff_below(32) : diff_below(256);
        uint32_t info = (1u << 31) | (type << 8) | vec;
        if (type == 2 && diff_below(2))
            info = (info & ~0xffu) | 2u;
        if (diff_below(2))
            info |= 1u << 11; /* deliver error code */
        if (diff_below(8) == 0)
            info |= 1u << (12 + diff_below(19));
        S(VM_ENTRY_INTR_INFO_FIELD, info);
        S(VM_ENTRY_EXCEPTION_ERROR_CODE, diff_below(4) ? diff_below(0x8000) : diff_rand() & 0xffffffffu);
        S(VM_ENTRY_INSTRUCTION_LEN, diff_below(3) ? 1 + diff_below(15) : diff_below(2) ? 0 : 16 + diff_below(16));
        if (diff_below(3) == 0)
            S(GUEST_RFLAGS, 2);
        break;
    }
    default: /* DC_MODE */
        switch (diff_below(3)) {
        case 0: mode_pae32(); break;
        case 1: mode_v86(); break;
        default: mode_real_ug(); break;
        }
        break;
    }
}

/* ---- running a state ------------------------------------------------------------------ */

/* Loads the state into a clear VMCS, reads every field back into a vmcs12
 * page, VMLAUNCHes. */
static uint8_t *scratch; /* the current VMCS of every state */

static int diff_run(uint8_t *page, vtk_outcome_t *out)
{
    uint64_t prev = ~0ull, v;
    vcore__vmx_gprs_t g;
    vcore__vmx_rc_t rc;
    uint32_t rev = (uint32_t)diff_caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu;

    memset(out, 0, sizeof(*out));
    if (!scratch && !(scratch = vtk_alloc_pages(1)))
        return -1;
    memset(scratch, 0, 4096);
    memcpy(scratch, &rev, 4);
    (void)vcore__vmx_ptrst(&prev);
    if (vcore__vmx_clear(pa(scratch)).kind || vcore__vmx_ptrld(pa(scratch)).kind)
        return -1;
    (void)vcore__vmx_write(VCORE_VMCS_HOST_RIP, vcore__vmx_exit_rip());
    for (uint32_t i = 0; i < diff_n; i++)
        if (vcore__vmx_write(diff_st[i].field, diff_st[i].value).kind && !out->write_fail)
            out->write_fail = i + 1;
    memset(page, 0, VCORE_VMCS12_SIZE);
    memcpy(page, &rev, 4);
    for (uint32_t i = 0; i <= diff_n; i++) {
        uint32_t f = i < diff_n ? diff_st[i].field : VCORE_VMCS_HOST_RIP;
        vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
        v = 0;
        if (vcore__vmx_read(f, &v).kind || vcore_vmcs_field_lookup(f, &fi) != VCORE_OK)
            continue; /* the processor has no such field: both see 0 */
        /* Raw bytes: what VMREAD returns, reserved bits included. */
        memcpy(page + fi.offset + ((fi.flags & VCORE_VMCS_FIELD_F_HIGH) ? 4u : 0u), &v,
               (fi.flags & VCORE_VMCS_FIELD_F_HIGH) ? 4u : fi.bytes);
    }
    memset(&g, 0, sizeof(g));
    rc = vcore__vmx_enter(&g);
    out->kind = rc.kind;
    out->error = rc.error;
    if (rc.kind == 0) {
        (void)vcore__vmx_read(VCORE_VMCS_VM_EXIT_REASON, &out->exit_reason);
        (void)vcore__vmx_read(VCORE_VMCS_EXIT_QUALIFICATION, &out->qualification);
    }
    (void)vcore__vmx_clear(pa(scratch));
    if (prev != ~0ull)
        (void)vcore__vmx_ptrld(prev);
    return 0;
}

static int diff_mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    /* Physical memory the emulator has; above it reads fail (all ones). */
    if (gpa >= DIFF_RAM || len > DIFF_RAM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, (const void *)(uintptr_t)gpa, len);
    return VCORE_OK;
}

static int diff_mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    (void)gpa;
    (void)buf;
    (void)len;
    return VCORE_ERR_FAULT;
}

/* A verdict in the processor's terms: kind 0 entered, 1 VMfailInvalid,
 * 2 VMfailValid (num = error), 3 failed entry (num = basic reason, qual). */
typedef struct diff_v {
    uint32_t kind, num;
    uint64_t qual;
} diff_v_t;

static diff_v_t diff_from_cpu(const vtk_outcome_t *o)
{
    diff_v_t d = {0, 0, 0};
    if (o->kind == 1) {
        d.kind = 1;
    } else if (o->kind == 2) {
        d.kind = 2;
        d.num = o->error;
    } else if (o->exit_reason & (1ull << 31)) {
        d.kind = 3;
        d.num = (uint32_t)(o->exit_reason & 0xffff);
        d.qual = o->qualification;
    }
    return d;
}

/* The verdict a failing check gives (its class decides). */
static diff_v_t diff_from_check(uint32_t id, uint32_t index, const vcore_vmx_verdict_t *whole)
{
    vcore_vmx_check_info_t info = {.size = sizeof(info)};
    diff_v_t d = {0, 0, 0};
    if (vcore_vmx_check_describe(id, &info) != VCORE_OK)
        return d;
    switch (info.cls) {
    case VCORE_VMX_CLASS_PRE:
        /* Only the deciding check can be a basic one here (the harness never makes them fail). */
        d.kind = whole->kind == VCORE_VMX_VMFAIL_INVALID ? 1u : 2u;
        d.num = whole->vm_error;
        break;
    case VCORE_VMX_CLASS_VMFAIL_CTL: d.kind = 2; d.num = 7; break;
    case VCORE_VMX_CLASS_VMFAIL_HOST: d.kind = 2; d.num = 8; break;
    case VCORE_VMX_CLASS_EXIT_GUEST: d.kind = 3; d.num = 33; break;
    case VCORE_VMX_CLASS_EXIT_PDPTE: d.kind = 3; d.num = 33; d.qual = 2; break;
    case VCORE_VMX_CLASS_EXIT_LINK: d.kind = 3; d.num = 33; d.qual = 4; break;
    default: d.kind = 3; d.num = 34; d.qual = index; break;
    }
    return d;
}

static bool diff_same(diff_v_t a, diff_v_t b)
{
    return a.kind == b.kind && a.num == b.num && a.qual == b.qual;
}

/* Stages of VM entry whose order is architectural: the basic checks, then
 * the controls and host state (VMfailValid 7 or 8: "These checks may be
 * performed in any order"), then the guest state (exit 33 with
 * qualification 0, 2 or 4: "VM-entry checks on guest-state fields may be
 * performed in any order"), then the MSR-load list entry by entry. */
static uint32_t diff_stage(uint32_t id)
{
    vcore_vmx_check_info_t info = {.size = sizeof(info)};
    if (vcore_vmx_check_describe(id, &info) != VCORE_OK)
        return 0;
    switch (info.cls) {
    case VCORE_VMX_CLASS_PRE: return 0;
    case VCORE_VMX_CLASS_VMFAIL_CTL:
    case VCORE_VMX_CLASS_VMFAIL_HOST: return 1;
    case VCORE_VMX_CLASS_EXIT_MSR_LOAD: return 3;
    default: return 2;
    }
}

/* Known departures of Bochs 2.7 from the SDM: checks it does not make (or
 * makes on fewer bits). docs/vmx-checks.md, "Bochs 2.7 deviations", quotes
 * the SDM for each. A failure of such a check is excused only where the
 * predicate says Bochs skips it. */
static uint32_t diff_msr_index(uint32_t entry)
{
    uint64_t lo = 0;
    if (entry >= 1 && entry <= 256)
        memcpy(&lo, pg_msr + 16 * (entry - 1), 8);
    return (uint32_t)lo;
}
static bool dev_always(uint64_t value, uint32_t index)
{
    (void)value;
    (void)index;
    return true;
}
/* Bochs reads the pending-debug field as 32 bits: only bits 63:32 go unchecked. */
static bool dev_penddbg_high(uint64_t value, uint32_t index)
{
    (void)index;
    return (value >> 32) != 0 && ((uint32_t)value & 0xffffaff0u) == 0;
}
/* Bochs' WRMSR of IA32_FMASK keeps bits 31:0 and drops the reserved bits 63:32 without #GP. */
static bool dev_fmask_high(uint64_t value, uint32_t index)
{
    (void)value;
    return diff_msr_index(index) == 0xc0000084u;
}
/* Processors with IA32_VMX_BASIC[56] (Bochs: the CET models) skip the whole
 * deliver-error-code rule in Bochs 2.7, also its "must be 0" half. */
static bool dev_basic56(uint64_t value, uint32_t index)
{
    (void)value;
    (void)index;
    return (diff_caps.msr[VCORE_NVMX_CAP_BASIC] >> 56) & 1u;
}
typedef struct diff_dev {
    const char *check;
    bool (*applies)(uint64_t value, uint32_t index);
} diff_dev_t;
static const diff_dev_t diff_deviations[] = {
    {"GUEST_RIP_LINEAR_WIDTH", dev_always}, /* non-canonical RIP of a 64-bit guest */
    {"GUEST_PENDDBG_BS_SET", dev_always},   /* BS clear with TF (or BTF) set */
    {"GUEST_PENDDBG_BS_CLEAR", dev_always}, /* BS set with TF and BTF clear */
    {"GUEST_PENDDBG_RESERVED", dev_penddbg_high},
    {"GUEST_DEBUGCTL", dev_always},         /* reserved IA32_DEBUGCTL bits not checked */
    {"GUEST_PERF_GLOBAL_CTRL", dev_always}, /* reserved IA32_PERF_GLOBAL_CTRL bits not checked */
    {"HOST_PERF_GLOBAL_CTRL", dev_always},
    {"GUEST_RFLAGS_VM_REAL", dev_always},   /* RFLAGS.VM with CR0.PE = 0 not refused */
    {"MSR_LOAD_HIGH_BITS", dev_fmask_high},
    {"ENTRY_INTR_ERRCODE_CLEAR", dev_basic56},
    {"GUEST_ACTIVITY_EVENT_HLT", dev_always}, /* events HLT does not allow, injected in HLT */
};
#define DIFF_NDEV (sizeof(diff_deviations) / sizeof(diff_deviations[0]))
static uint32_t diff_dev_id[DIFF_NDEV], diff_dev_count[DIFF_NDEV];

static int diff_dev_index(const vcore_vmx_check_failure_t *f)
{
    for (uint32_t i = 0; i < DIFF_NDEV; i++)
        if (diff_dev_id[i] == f->check && diff_deviations[i].applies(f->value, f->index))
            return (int)i;
    return -1;
}

static void diff_print_v(const char *who, diff_v_t d)
{
    vtk_puts(who);
    switch (d.kind) {
    case 0: vtk_puts("ENTRY_OK"); break;
    case 1: vtk_puts("VMFAIL_INVALID"); break;
    case 2: vtk_puts("VMFAIL_VALID/"); vtk_putdec(d.num); break;
    default: vtk_puts("EXIT/"); vtk_putdec(d.num); vtk_puts("/"); vtk_puthex(d.qual); break;
    }
}

static void diff_print_state(void)
{
    /* The fields that differ from the reference (enough to rebuild the state). */
    for (uint32_t i = 0; i < diff_n; i++) {
        bool same = false;
        for (uint32_t j = 0; j < diff_nref; j++)
            if (diff_ref[j].field == diff_st[i].field && diff_ref[j].value == diff_st[i].value)
                same = true;
        if (same)
            continue;
        vtk_puts(" ");
        vtk_puts(vcore_vmcs_field_name(diff_st[i].field));
        vtk_puts("=");
        vtk_puthex(diff_st[i].value);
    }
}

static const char *diff_check_name(uint32_t id)
{
    vcore_vmx_check_info_t info = {.size = sizeof(info)};
    return vcore_vmx_check_describe(id, &info) == VCORE_OK ? info.name : "-";
}

int vtk_case_diff_checks(vtk_env_t *env, vtk_why_t *why)
{
    static uint8_t page[VCORE_VMCS12_SIZE] __attribute__((aligned(8)));
    static vcore_vmx_check_failure_t fails[512];
    static uint32_t by_class[DC_COUNT];
    vcore_nvmx_mem_t mem = {sizeof(mem), NULL, diff_mem_read, diff_mem_write};
    vcore_vmx_check_input_t in;
    uint32_t mism = 0, devs = 0, order = 0, dist[16], states = 0, cpu_kinds[4] = {0, 0, 0, 0};
    uint8_t *pages;
    (void)env;

    memset(dist, 0, sizeof(dist));
    memset(by_class, 0, sizeof(by_class));
    diff_read_caps();
    vtk_puts("CAPS");
    for (uint32_t i = 0; i < VCORE_NVMX_NR_CAPS; i++) {
        vtk_puts(" ");
        vtk_puthex(diff_caps.msr[i]);
    }
    vtk_puts(" maxphyaddr=");
    vtk_putdec(diff_maxphy);
    vtk_puts("\n");
    for (uint32_t i = 0; i < DIFF_NDEV; i++)
        if (vcore_vmx_check_by_name(diff_deviations[i].check, &diff_dev_id[i]) != VCORE_OK) {
            vtk_why_str(why, "unknown deviation check ");
            vtk_why_str(why, diff_deviations[i].check);
            return VTK_FAIL;
        }
    pages = vtk_alloc_pages(10);
    if (!pages) {
        vtk_why_str(why, "no memory");
        return VTK_FAIL;
    }
    pg_msr = pages;
    pg_link = pages + 0x1000;
    pg_pdpt = pages + 0x2000;
    pg_vapic = pages + 0x3000;
    pg_apic = pages + 0x4000;
    pg_bitmap = pages + 0x5000;
    pg_ept = pages + 0x6000;
    pg_exit_store = pages + 0x7000;
    pg_exit_load = pages + 0x8000;
    pg_vmrw = pages + 0x9000;
    diff_reference();

    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.vmcs12 = page;
    in.caps = &diff_caps;
    in.maxphyaddr = diff_maxphy;
    in.launch_state = 0;
    in.l1_efer = diff_efer;
    in.vmxon_ptr = VCORE_VMX_NO_VMCS;
    in.cpuid = diff_cpuid;
    in.ncpuid = diff_ncpuid;
    in.mem = &mem;

    diff_rng = 0x5eed0000c0ffee01ull ^ diff_caps.msr[VCORE_NVMX_CAP_PROCBASED2] ^ diff_maxphy;
    for (uint32_t n = 0; n <= DIFF_STATES; n++) {
        vtk_outcome_t o;
        vcore_vmx_verdict_t v = {.size = sizeof(v)};
        uint32_t nmut = 0, cls[3];
        diff_v_t cpu, lib, adj;
        int dev = -1;

        memcpy(diff_st, diff_ref, sizeof(diff_st));
        diff_n = diff_nref;
        diff_memory_reset();
        /* State 0 is the reference itself: both must enter. */
        if (n) {
            nmut = 1 + diff_below(3);
            for (uint32_t m = 0; m < nmut; m++) {
                cls[m] = diff_below(DC_COUNT);
                by_class[cls[m]]++;
                diff_mutate(cls[m]);
            }
        }
        if (diff_run(page, &o) != 0) {
            vtk_why_str(why, "VMCLEAR/VMPTRLD of the scratch VMCS failed");
            return VTK_FAIL;
        }
        in.current_vmptr = pa(scratch);
        if (vcore_vmx_check_entry(&in, &v, fails, 512) != VCORE_OK) {
            vtk_why_str(why, "vcore_vmx_check_entry refused the snapshot");
            return VTK_FAIL;
        }
        states++;
        cpu = diff_from_cpu(&o);
        cpu_kinds[cpu.kind]++;
        lib.kind = v.kind == VCORE_VMX_ENTRY_OK ? 0u : v.kind == VCORE_VMX_VMFAIL_INVALID ? 1u
                   : v.kind == VCORE_VMX_VMFAIL_VALID ? 2u : 3u;
        lib.num = v.kind == VCORE_VMX_VMFAIL_VALID ? v.vm_error : v.exit_reason & 0xffffu;
        lib.qual = v.kind == VCORE_VMX_ENTRY_FAIL_EXIT ? v.qualification : 0;
        if (lib.kind == 0)
            lib.num = 0;
        /* Distribution: 0 ok, 1 invalid, 2 vmfail 7, 3 vmfail 8, 4 other vmfail, 5 exit 33/0, 6 33/2, 7 33/4, 8 exit 34 */
        dist[lib.kind == 0 ? 0 : lib.kind == 1 ? 1 : lib.kind == 2 ? (lib.num == 7 ? 2 : lib.num == 8 ? 3 : 4)
             : lib.num == 34 ? 8 : lib.qual == 2 ? 6 : lib.qual == 4 ? 7 : 5]++;
        if (diff_same(cpu, lib))
            continue;
        /* The verdicts the SDM allows: any failure of the first failing
         * stage (order within a stage is implementation-specific), after
         * the failures of checks Bochs is known to skip. */
        {
            uint32_t nf = v.failures < 512 ? v.failures : 512, stage = 99;
            bool allowed = false;
            for (uint32_t i = 0; i < nf; i++) {
                int d = diff_dev_index(&fails[i]);
                if (d >= 0) {
                    if (dev < 0 && stage == 99)
                        dev = d;
                    continue;
                }
                if (stage == 99)
                    stage = diff_stage(fails[i].check);
                else if (diff_stage(fails[i].check) != stage || stage == 3)
                    break;
                adj = diff_from_check(fails[i].check, fails[i].index, &v);
                if (diff_same(cpu, adj))
                    allowed = true;
            }
            if (stage == 99 && cpu.kind == 0)
                allowed = true; /* every failure was one Bochs skips: it enters */
            if (allowed && dev < 0) {
                order++;
                vtk_puts("ORDER");
            } else if (allowed) {
                devs++;
                diff_dev_count[dev]++;
                vtk_puts("DEVIATION ");
                vtk_puts(diff_deviations[dev].check);
            } else {
                mism++;
                vtk_puts("MISMATCH");
            }
        }
        vtk_puts(" state=");
        vtk_putdec(n);
        diff_print_v(" bochs=", cpu);
        diff_print_v(" lib=", lib);
        vtk_puts(" check=");
        vtk_puts(diff_check_name(v.check));
        vtk_puts(" wf=");
        vtk_putdec(o.write_fail);
        vtk_puts(" muts=");
        for (uint32_t m = 0; m < nmut; m++) {
            vtk_puts(m ? "," : "");
            vtk_puts(diff_class_names[cls[m]]);
        }
        diff_print_state();
        vtk_puts("\n");
    }
    vtk_puts("DIFF-CLASS");
    for (uint32_t c = 0; c < DC_COUNT; c++) {
        vtk_puts(" ");
        vtk_puts(diff_class_names[c]);
        vtk_puts("=");
        vtk_putdec(by_class[c]);
    }
    vtk_puts("\nDIFF-DEVIATIONS");
    for (uint32_t i = 0; i < DIFF_NDEV; i++) {
        vtk_puts(" ");
        vtk_puts(diff_deviations[i].check);
        vtk_puts("=");
        vtk_putdec(diff_dev_count[i]);
    }
    vtk_puts("\nDIFF states=");
    vtk_putdec(states);
    vtk_puts(" entry_ok=");
    vtk_putdec(dist[0]);
    vtk_puts(" vmfail_invalid=");
    vtk_putdec(dist[1]);
    vtk_puts(" vmfail7=");
    vtk_putdec(dist[2]);
    vtk_puts(" vmfail8=");
    vtk_putdec(dist[3]);
    vtk_puts(" vmfail_other=");
    vtk_putdec(dist[4]);
    vtk_puts(" exit33=");
    vtk_putdec(dist[5]);
    vtk_puts(" exit33_pdpte=");
    vtk_putdec(dist[6]);
    vtk_puts(" exit33_link=");
    vtk_putdec(dist[7]);
    vtk_puts(" exit34=");
    vtk_putdec(dist[8]);
    vtk_puts(" bochs_entered=");
    vtk_putdec(cpu_kinds[0]);
    vtk_puts(" order=");
    vtk_putdec(order);
    vtk_puts(" deviations=");
    vtk_putdec(devs);
    vtk_puts(" mismatches=");
    vtk_putdec(mism);
    vtk_puts("\n");
    if (mism) {
        vtk_why_str(why, "unexplained mismatches: ");
        vtk_why_hex(why, mism);
        return VTK_FAIL;
    }
    vtk_why_str(why, "states ");
    vtk_why_hex(why, states);
    return VTK_PASS;
}
