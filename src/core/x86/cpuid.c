/*
 * cpuid.c - the per-vCPU CPUID table: lookup, the three set phases, and
 * what the CPUID instruction returns.
 *
 * The set flow is split into pure phases so that vcpu.c can make it atomic:
 *   1. vcore__cpuid_check()          legality of the whole table, no side effect;
 *   2. vcore__cpuid_update_runtime() rewrite the bits that mirror vCPU state
 *                                    (on the caller's private copy);
 *   3. vcore__cpuid_after_set()      derive the vCPU model into a caller buffer.
 * Only when all three succeeded does the caller swap the table and model in.
 */
#include "x86.h"
#include "x86_bits.h"

/* Index of the entry CPUID(function, index) selects; -1 if none. An entry
 * without INDEX_SIGNIFICANT answers every sub-leaf of its function. */
static int cpuid_find_idx(const vcore_cpuid_entry_t *e, uint32_t n, uint32_t function,
                          uint32_t index)
{
    uint32_t i;

    if (e == NULL)
        return -1;
    for (i = 0; i < n && i < VCORE_CPUID_MAX_ENTRIES; i++) {
        if (e[i].function != function)
            continue;
        if ((e[i].flags & VCORE_CPUID_FLAG_INDEX_SIGNIFICANT) == 0 || e[i].index == index)
            return (int)i;
    }
    return -1;
}

const vcore_cpuid_entry_t *vcore__cpuid_find(const vcore_cpuid_entry_t *e, uint32_t n,
                                             uint32_t function, uint32_t index)
{
    int i = cpuid_find_idx(e, n, function, index);
    return i < 0 ? NULL : &e[i];
}

/* One output register of a leaf, 0 when the leaf is absent. */
static uint32_t cpuid_reg(const vcore_cpuid_entry_t *e, uint32_t n, uint32_t function,
                          uint32_t index, unsigned reg)
{
    const vcore_cpuid_entry_t *x = vcore__cpuid_find(e, n, function, index);

    if (x == NULL)
        return 0;
    switch (reg) {
    case 0:
        return x->eax;
    case 1:
        return x->ebx;
    case 2:
        return x->ecx;
    default:
        return x->edx;
    }
}
#define CPUID_EAX(e, n, f, i) cpuid_reg((e), (n), (f), (i), 0)
#define CPUID_EBX(e, n, f, i) cpuid_reg((e), (n), (f), (i), 1)
#define CPUID_ECX(e, n, f, i) cpuid_reg((e), (n), (f), (i), 2)
#define CPUID_EDX(e, n, f, i) cpuid_reg((e), (n), (f), (i), 3)

/* Components listed by CPUID.0DH.0 EDX:EAX (the XCR0-supported bitmap). */
static uint64_t cpuid_xsave_components(const vcore_cpuid_entry_t *e, uint32_t n)
{
    return ((uint64_t)CPUID_EDX(e, n, VCORE__CPUID_LEAF_XSAVE, 0) << 32) |
           CPUID_EAX(e, n, VCORE__CPUID_LEAF_XSAVE, 0);
}

/*
 * XSAVE area size. SDM Vol. 1, "XSAVE Area" and "Compacted Form of XSAVE
 * Area": 576 bytes of legacy region and header, then for every enabled
 * component i >= 2 its size CPUID.0DH.i:EAX at its standard offset
 * CPUID.0DH.i:EBX, or in the compacted form packed in order, 64-byte aligned
 * when CPUID.0DH.i:ECX[1] says so. Computed in 64 bits and saturated, so a
 * hostile table cannot wrap the result.
 */
uint32_t vcore__cpuid_xsave_size(const vcore_cpuid_entry_t *e, uint32_t n, uint64_t xcr0,
                                 bool compacted)
{
    uint64_t size = VCORE__XSAVE_LEGACY_AND_HEADER;
    uint32_t i;

    for (i = 2; i < 64; i++) {
        const vcore_cpuid_entry_t *c;
        uint64_t off;

        if ((xcr0 & (1ull << i)) == 0)
            continue;
        c = vcore__cpuid_find(e, n, VCORE__CPUID_LEAF_XSAVE, i);
        if (c == NULL)
            continue;
        if (compacted)
            off = (c->ecx & VCORE__CPUID_DI_ECX_ALIGN64) != 0 ? (size + 63u) & ~63ull : size;
        else
            off = c->ebx;
        if (off + c->eax > size)
            size = off + c->eax;
    }
    return size > 0xffffffffull ? 0xffffffffu : (uint32_t)size;
}

/* Phase 1 helper: leaf 0DH against CPUID.1 and against itself. SDM Vol. 1,
 * "Enumeration of CPU Support for XSAVE Instructions and XSAVE-Supported
 * Features". The diagnostic value is the 0DH.0 bitmap for a leaf-wide
 * problem, or the number of the component whose sub-leaf is wrong. */
static int cpuid_check_xsave(const vcore_cpuid_entry_t *e, uint32_t n, vcore_diag_t *d)
{
    uint64_t comps = cpuid_xsave_components(e, n);
    uint32_t max_size = CPUID_ECX(e, n, VCORE__CPUID_LEAF_XSAVE, 0);
    uint32_t i;

    if (comps == 0)
        return VCORE_OK;
    /* Components listed but XSAVE itself not enumerated. */
    if ((CPUID_ECX(e, n, VCORE__CPUID_LEAF_FEATURES, 0) & VCORE__CPUID_1_ECX_XSAVE) == 0)
        return vcore__diag_set(d, VCORE_DIAG_CPUID_XSAVE_INCONSISTENT, comps);
    /* x87 and SSE state are always part of XSAVE. */
    if ((comps & (VCORE__XCR0_X87 | VCORE__XCR0_SSE)) != (VCORE__XCR0_X87 | VCORE__XCR0_SSE))
        return vcore__diag_set(d, VCORE_DIAG_CPUID_XSAVE_INCONSISTENT, comps);
    for (i = 2; i < 64; i++) {
        const vcore_cpuid_entry_t *c;

        if ((comps & (1ull << i)) == 0)
            continue;
        c = vcore__cpuid_find(e, n, VCORE__CPUID_LEAF_XSAVE, i);
        if (c == NULL || c->eax == 0 || (uint64_t)c->ebx + c->eax > max_size)
            return vcore__diag_set(d, VCORE_DIAG_CPUID_XSAVE_INCONSISTENT, i);
    }
    return VCORE_OK;
}

/* Two entries answer the same CPUID input: same function and either one
 * ignores the sub-leaf or both have the same sub-leaf. */
static bool cpuid_same_input(const vcore_cpuid_entry_t *a, const vcore_cpuid_entry_t *b)
{
    if (a->function != b->function)
        return false;
    if ((a->flags & VCORE_CPUID_FLAG_INDEX_SIGNIFICANT) == 0 ||
        (b->flags & VCORE_CPUID_FLAG_INDEX_SIGNIFICANT) == 0)
        return true;
    return a->index == b->index;
}

/* Byte d of an entry's 64-bit sort key (function << 32 | index). */
static uint32_t cpuid_key_byte(const vcore_cpuid_entry_t *x, unsigned d)
{
    uint32_t w = d < 4 ? x->index : x->function;
    return (w >> (8u * (d & 3u))) & 0xffu;
}

/* The first entry (in sorted order) that answers the same input as another
 * one; -1 if every input is answered once. An LSD radix sort of an index
 * permutation by (function, index), a byte at a time, skipping the bytes
 * every entry shares: O(n), 768 bytes of stack, no allocation. */
static int cpuid_find_duplicate(const vcore_cpuid_entry_t *e, uint32_t n)
{
    uint8_t a[VCORE_CPUID_MAX_ENTRIES], b[VCORE_CPUID_MAX_ENTRIES];
    uint16_t count[256];
    uint8_t *ix = a, *out = b;
    uint32_t i;

    for (i = 0; i < n; i++)
        ix[i] = (uint8_t)i;
    for (unsigned d = 0; d < 8 && n > 1; d++) {
        uint32_t first = cpuid_key_byte(&e[0], d);
        bool same = true;
        vcore__memset(count, 0, sizeof(count));
        for (i = 0; i < n; i++) {
            uint32_t k = cpuid_key_byte(&e[i], d);
            count[k]++;
            same = same && k == first;
        }
        if (same)
            continue; /* this byte orders nothing */
        for (uint32_t k = 0, sum = 0; k < 256; k++) {
            uint16_t c = count[k];
            count[k] = (uint16_t)sum;
            sum += c;
        }
        for (i = 0; i < n; i++)
            out[count[cpuid_key_byte(&e[ix[i]], d)]++] = ix[i];
        uint8_t *t = ix;
        ix = out;
        out = t;
    }
    /* Sorted, the entries of one function are adjacent and equal sub-leaves
     * neighbours; a sub-leaf-agnostic entry in a group of two or more has a
     * neighbour of its function. So every clash shows between neighbours. */
    for (i = 0; i + 1 < n; i++) {
        if (cpuid_same_input(&e[ix[i]], &e[ix[i + 1]]))
            return ix[i + 1];
    }
    return -1;
}

int vcore__cpuid_check(const vcore_cpuid_entry_t *e, uint32_t n, vcore_diag_t *d)
{
    const vcore_cpuid_entry_t *x;
    uint32_t i;
    int dup;

    /* Same limit as KVM_SET_CPUID2 (KVM API, "KVM_SET_CPUID2"). */
    if (n > VCORE_CPUID_MAX_ENTRIES) {
        vcore__diag_set(d, VCORE_DIAG_CPUID_TOO_MANY, n);
        return VCORE_ERR_RANGE;
    }
    if (n != 0 && e == NULL)
        return VCORE_ERR_INVAL;
    for (i = 0; i < n; i++) {
        if ((e[i].flags & ~VCORE_CPUID_FLAG_INDEX_SIGNIFICANT) != 0)
            return vcore__diag_set(d, VCORE_DIAG_CPUID_BAD_FLAGS, e[i].flags);
    }
    dup = cpuid_find_duplicate(e, n);
    if (dup >= 0)
        return vcore__diag_set(d, VCORE_DIAG_CPUID_DUPLICATE,
                               ((uint64_t)e[dup].function << 32) | e[dup].index);
    /* SDM Vol. 2A, "CPUID-CPU Identification", leaf 80000008H: EAX[7:0] is
     * the physical-address width (0 = not reported; real parts are 32..52,
     * 52 being the architectural limit of the paging structures) and
     * EAX[15:8] the linear-address width (48 or 57). */
    x = vcore__cpuid_find(e, n, VCORE__CPUID_LEAF_ADDR_SIZES, 0);
    if (x != NULL) {
        uint32_t pa = x->eax & 0xffu;
        uint32_t va = (x->eax >> 8) & 0xffu;
        if (pa != 0 && (pa < 32 || pa > 52))
            return vcore__diag_set(d, VCORE_DIAG_CPUID_MAXPHYADDR, x->eax);
        if (va != 0 && va != 48 && va != 57)
            return vcore__diag_set(d, VCORE_DIAG_CPUID_LINEAR_BITS, x->eax);
    }
    return cpuid_check_xsave(e, n, d);
}

/* Sets or clears `bit` in *reg. */
static void cpuid_change(uint32_t *reg, uint32_t bit, bool on)
{
    if (on)
        *reg |= bit;
    else
        *reg &= ~bit;
}

/*
 * Phase 2: the bits of the table that reflect the current vCPU state rather
 * than a capability (SDM Vol. 2A, "CPUID-CPU Identification"):
 *   1.ECX[27] OSXSAVE  = CR4.OSXSAVE, when XSAVE (1.ECX[26]) is enumerated;
 *   1.EDX[9]  APIC     = IA32_APIC_BASE.EN (a disabled APIC is not reported);
 *   7.0.ECX[4] OSPKE   = CR4.PKE, when PKU (7.0.ECX[3]) is enumerated;
 *   1.ECX[3]  MONITOR  = IA32_MISC_ENABLE.ENABLE_MONITOR_FSM (bit 18). SDM
 *                      Vol. 4, "IA32_MISC_ENABLE": with bit 18 clear the
 *                      MONITOR flag reads 0, with it set it reads 1. The bit
 *                      is therefore runtime-owned like OSXSAVE: the value in
 *                      the table is overwritten, and a VMM that wants to hide
 *                      MONITOR/MWAIT keeps MISC_ENABLE bit 18 clear (its RESET
 *                      value). A one-way rule (only clearing) cannot work on
 *                      an in-place table: a bit cleared at RESET would never
 *                      come back when the guest sets bit 18.
 *   0DH.0 EBX = XSAVE size (standard form) for the current XCR0;
 *   0DH.1 EBX = XSAVE size (compacted form) for XCR0, when XSAVEC or XSAVES
 *               is enumerated (0DH.1:EAX bit 1 or 3). IA32_XSS is not
 *               modelled, so only XCR0 components count.
 */
void vcore__cpuid_update_runtime(vcore_cpuid_entry_t *e, uint32_t n, const vcore_x86_state_t *st)
{
    int i;

    if (e == NULL || st == NULL)
        return;
    if (n > VCORE_CPUID_MAX_ENTRIES)
        n = VCORE_CPUID_MAX_ENTRIES;

    i = cpuid_find_idx(e, n, VCORE__CPUID_LEAF_FEATURES, 0);
    if (i >= 0) {
        vcore_cpuid_entry_t *l1 = &e[i];
        if ((l1->ecx & VCORE__CPUID_1_ECX_XSAVE) != 0)
            cpuid_change(&l1->ecx, VCORE__CPUID_1_ECX_OSXSAVE,
                         (st->sregs.cr4 & VCORE__CR4_OSXSAVE) != 0);
        cpuid_change(&l1->edx, VCORE__CPUID_1_EDX_APIC,
                     (st->msrs.apic_base & VCORE_APIC_BASE_EN) != 0);
        cpuid_change(&l1->ecx, VCORE__CPUID_1_ECX_MONITOR,
                     (st->msrs.misc_enable & VCORE_MISC_ENABLE_MWAIT) != 0);
    }

    i = cpuid_find_idx(e, n, VCORE__CPUID_LEAF_EXT_FEATURES, 0);
    if (i >= 0 && (e[i].ecx & VCORE__CPUID_7_ECX_PKU) != 0)
        cpuid_change(&e[i].ecx, VCORE__CPUID_7_ECX_OSPKE, (st->sregs.cr4 & VCORE__CR4_PKE) != 0);

    i = cpuid_find_idx(e, n, VCORE__CPUID_LEAF_XSAVE, 0);
    if (i >= 0)
        e[i].ebx = vcore__cpuid_xsave_size(e, n, st->xcr0, false);
    i = cpuid_find_idx(e, n, VCORE__CPUID_LEAF_XSAVE, 1);
    /* Only a real sub-leaf 1: a sub-leaf-agnostic 0DH entry is sub-leaf 0's. */
    if (i >= 0 && (e[i].flags & VCORE_CPUID_FLAG_INDEX_SIGNIFICANT) != 0 &&
        (e[i].eax & (VCORE__CPUID_D1_EAX_XSAVEC | VCORE__CPUID_D1_EAX_XSAVES)) != 0)
        e[i].ebx = vcore__cpuid_xsave_size(e, n, st->xcr0, true);
}

/* Vendor from the leaf 0 string EBX-EDX-ECX. */
static uint32_t cpuid_vendor(const vcore_cpuid_entry_t *e, uint32_t n, uint32_t default_vendor)
{
    const vcore_cpuid_entry_t *l0 = vcore__cpuid_find(e, n, VCORE__CPUID_LEAF_VENDOR, 0);

    if (l0 == NULL)
        return default_vendor;
    if (l0->ebx == VCORE__FOURCC('G', 'e', 'n', 'u') && l0->edx == VCORE__FOURCC('i', 'n', 'e', 'I') &&
        l0->ecx == VCORE__FOURCC('n', 't', 'e', 'l'))
        return VCORE_X86_VENDOR_INTEL;
    if (l0->ebx == VCORE__FOURCC('A', 'u', 't', 'h') && l0->edx == VCORE__FOURCC('e', 'n', 't', 'i') &&
        l0->ecx == VCORE__FOURCC('c', 'A', 'M', 'D'))
        return VCORE_X86_VENDOR_AMD;
    if (l0->ebx == VCORE__FOURCC('H', 'y', 'g', 'o') && l0->edx == VCORE__FOURCC('n', 'G', 'e', 'n') &&
        l0->ecx == VCORE__FOURCC('u', 'i', 'n', 'e'))
        return VCORE_X86_VENDOR_HYGON;
    return default_vendor;
}

/* CR4 bits the vCPU may set: the always-present ones plus each bit whose
 * feature flag the table enumerates (SDM Vol. 3, "Control Registers", and the
 * CPUID feature table in SDM Vol. 2A). */
static uint64_t cpuid_cr4_allowed(uint32_t ecx1, uint32_t ebx7, uint32_t ecx7, uint32_t edx7)
{
    uint64_t ok = VCORE__CR4_ALWAYS;

    if ((ecx7 & VCORE__CPUID_7_ECX_UMIP) != 0)
        ok |= VCORE__CR4_UMIP;
    if ((ecx7 & VCORE__CPUID_7_ECX_LA57) != 0)
        ok |= VCORE__CR4_LA57;
    if ((ecx1 & VCORE__CPUID_1_ECX_VMX) != 0)
        ok |= VCORE__CR4_VMXE;
    if ((ecx1 & VCORE__CPUID_1_ECX_SMX) != 0)
        ok |= VCORE__CR4_SMXE;
    if ((ebx7 & VCORE__CPUID_7_EBX_FSGSBASE) != 0)
        ok |= VCORE__CR4_FSGSBASE;
    if ((ecx1 & VCORE__CPUID_1_ECX_PCID) != 0)
        ok |= VCORE__CR4_PCIDE;
    if ((ecx1 & VCORE__CPUID_1_ECX_XSAVE) != 0)
        ok |= VCORE__CR4_OSXSAVE;
    if ((ecx7 & VCORE__CPUID_7_ECX_KL) != 0)
        ok |= VCORE__CR4_KL;
    if ((ebx7 & VCORE__CPUID_7_EBX_SMEP) != 0)
        ok |= VCORE__CR4_SMEP;
    if ((ebx7 & VCORE__CPUID_7_EBX_SMAP) != 0)
        ok |= VCORE__CR4_SMAP;
    if ((ecx7 & VCORE__CPUID_7_ECX_PKU) != 0)
        ok |= VCORE__CR4_PKE;
    if ((ecx7 & VCORE__CPUID_7_ECX_CET_SS) != 0 || (edx7 & VCORE__CPUID_7_EDX_CET_IBT) != 0)
        ok |= VCORE__CR4_CET;
    if ((ecx7 & VCORE__CPUID_7_ECX_PKS) != 0)
        ok |= VCORE__CR4_PKS;
    return ok;
}

/* EFER bits the vCPU may set (SDM Vol. 3, "Extended Feature Enable
 * Register"; APM Vol. 2, "Extended Feature Enable Register (EFER)"). LMSLE
 * (13) is never offered: AMD withdrew it and no CPUID bit enumerates it.
 * FFXSR is an AMD feature; 80000001H:EDX[25] is reserved on Intel, so it is
 * honoured only for AMD/Hygon. */
static uint64_t cpuid_efer_allowed(uint32_t vendor, uint32_t ecx81, uint32_t edx81)
{
    uint64_t ok = 0;

    if ((edx81 & VCORE__CPUID_81_EDX_SYSCALL) != 0)
        ok |= VCORE__EFER_SCE;
    if ((edx81 & VCORE__CPUID_81_EDX_LM) != 0)
        ok |= VCORE__EFER_LME | VCORE__EFER_LMA;
    if ((edx81 & VCORE__CPUID_81_EDX_NX) != 0)
        ok |= VCORE__EFER_NXE;
    if ((ecx81 & VCORE__CPUID_81_ECX_SVM) != 0)
        ok |= VCORE__EFER_SVME;
    if ((edx81 & VCORE__CPUID_81_EDX_FFXSR) != 0 &&
        (vendor == VCORE_X86_VENDOR_AMD || vendor == VCORE_X86_VENDOR_HYGON))
        ok |= VCORE__EFER_FFXSR;
    if ((ecx81 & VCORE__CPUID_81_ECX_TCE) != 0)
        ok |= VCORE__EFER_TCE;
    return ok;
}

void vcore__cpuid_after_set(const vcore_cpuid_entry_t *e, uint32_t n, uint32_t default_vendor,
                            uint64_t xcr0, vcore_x86_cpu_model_t *m)
{
    uint32_t ecx1, edx1, ebx7, ecx7, edx7, ecx81, edx81, addr;
    uint32_t features = 0;
    const vcore_cpuid_entry_t *l1;

    if (m == NULL)
        return;
    if (e == NULL || n > VCORE_CPUID_MAX_ENTRIES)
        n = e == NULL ? 0 : VCORE_CPUID_MAX_ENTRIES;

    ecx1 = CPUID_ECX(e, n, VCORE__CPUID_LEAF_FEATURES, 0);
    edx1 = CPUID_EDX(e, n, VCORE__CPUID_LEAF_FEATURES, 0);
    ebx7 = CPUID_EBX(e, n, VCORE__CPUID_LEAF_EXT_FEATURES, 0);
    ecx7 = CPUID_ECX(e, n, VCORE__CPUID_LEAF_EXT_FEATURES, 0);
    edx7 = CPUID_EDX(e, n, VCORE__CPUID_LEAF_EXT_FEATURES, 0);
    ecx81 = CPUID_ECX(e, n, VCORE__CPUID_LEAF_EXT_INFO, 0);
    edx81 = CPUID_EDX(e, n, VCORE__CPUID_LEAF_EXT_INFO, 0);

    vcore__memset(m, 0, sizeof(*m));
    m->size = sizeof(*m);
    m->vendor = cpuid_vendor(e, n, default_vendor);

    /* Processor signature for RESET/INIT's EDX (SDM Vol. 3, "Processor
     * States Following Power-up, Reset, or INIT"): 600H without leaf 1. */
    l1 = vcore__cpuid_find(e, n, VCORE__CPUID_LEAF_FEATURES, 0);
    m->signature = l1 != NULL ? l1->eax : 0x600u;

    /* MAXPHYADDR: CPUID.80000008H:EAX[7:0] when the leaf is within the
     * enumerated extended range and reports a width, else 36 (SDM Vol. 3,
     * "Linear-Address Translation": 36 when the leaf is not supported). */
    m->maxphyaddr = 36;
    addr = CPUID_EAX(e, n, VCORE__CPUID_LEAF_ADDR_SIZES, 0) & 0xffu;
    if (CPUID_EAX(e, n, VCORE__CPUID_LEAF_EXT_MAX, 0) >= VCORE__CPUID_LEAF_ADDR_SIZES && addr != 0)
        m->maxphyaddr = addr;
    m->linear_bits = (ecx7 & VCORE__CPUID_7_ECX_LA57) != 0 ? 57u : 48u;

    m->cr0_reserved = VCORE__CR0_RESERVED;
    m->cr4_reserved = ~cpuid_cr4_allowed(ecx1, ebx7, ecx7, edx7);
    m->efer_reserved = ~cpuid_efer_allowed(m->vendor, ecx81, edx81);
    m->debugctl_reserved = ~vcore__x86_debugctl_valid(ebx7, ecx7);
    /* Paging-structure address bits MAXPHYADDR..51 are reserved (SDM Vol. 3,
     * "Paging" - reserved bits in paging-structure entries). */
    m->pte_reserved = m->maxphyaddr >= 52 ? 0 : (((1ull << 52) - 1u) & ~((1ull << m->maxphyaddr) - 1u));

    /* XCR0 may hold what 0DH.0 lists (x87 always); without XSAVE only x87. */
    m->supported_xcr0 = VCORE__XCR0_X87;
    if ((ecx1 & VCORE__CPUID_1_ECX_XSAVE) != 0)
        m->supported_xcr0 |= cpuid_xsave_components(e, n);
    m->xsave_size_xcr0 = vcore__cpuid_xsave_size(e, n, xcr0, false);

    if ((ecx1 & VCORE__CPUID_1_ECX_XSAVE) != 0)
        features |= VCORE_X86_FEAT_XSAVE;
    if ((ecx1 & VCORE__CPUID_1_ECX_X2APIC) != 0)
        features |= VCORE_X86_FEAT_X2APIC;
    if ((edx81 & VCORE__CPUID_81_EDX_LM) != 0)
        features |= VCORE_X86_FEAT_LM;
    if ((edx81 & VCORE__CPUID_81_EDX_NX) != 0)
        features |= VCORE_X86_FEAT_NX;
    if ((edx81 & VCORE__CPUID_81_EDX_PAGE1GB) != 0)
        features |= VCORE_X86_FEAT_PAGE1GB;
    if ((ecx1 & VCORE__CPUID_1_ECX_VMX) != 0)
        features |= VCORE_X86_FEAT_VMX;
    if ((ecx1 & VCORE__CPUID_1_ECX_SMX) != 0)
        features |= VCORE_X86_FEAT_SMX;
    if ((ecx81 & VCORE__CPUID_81_ECX_SVM) != 0)
        features |= VCORE_X86_FEAT_SVM;
    if ((ecx1 & VCORE__CPUID_1_ECX_PCID) != 0)
        features |= VCORE_X86_FEAT_PCID;
    if ((ecx7 & VCORE__CPUID_7_ECX_LA57) != 0)
        features |= VCORE_X86_FEAT_LA57;
    if ((ecx7 & VCORE__CPUID_7_ECX_PKU) != 0)
        features |= VCORE_X86_FEAT_PKU;
    if ((edx1 & VCORE__CPUID_1_EDX_APIC) != 0)
        features |= VCORE_X86_FEAT_APIC;
    m->features = features;
}

void vcore__cpuid_model_default(uint32_t vendor, vcore_x86_cpu_model_t *m)
{
    /* An empty table with XCR0 at its RESET value (x87 only). */
    vcore__cpuid_after_set(NULL, 0, vendor, VCORE__XCR0_X87, m);
}

/*
 * What CPUID returns for (function, index). An entry of the table that
 * answers the input exactly always wins: the table is the vCPU's processor,
 * and a hypervisor range (40000000H-4FFFFFFFH) a VMM lists is answered from
 * it. Otherwise, SDM Vol. 2A, "CPUID-CPU Identification": on Intel an input
 * above the maximum of its range (basic leaves: CPUID.0:EAX; extended:
 * CPUID.80000000H:EAX; the hypervisor range: CPUID.40000000H:EAX when the
 * table lists that leaf) returns the data of the highest basic leaf.
 * APM Vol. 3, "CPUID": AMD returns zeros for an unsupported function. A
 * leaf inside its range that the table does not list reads as zeros on
 * both. An unknown vendor behaves like Intel.
 */
#define CPUID_LEAF_HV_BASE 0x40000000u
#define CPUID_LEAF_HV_END 0x4fffffffu

void vcore__cpuid_query(const vcore_cpuid_entry_t *e, uint32_t n, uint32_t vendor,
                        uint32_t function, uint32_t index, vcore_cpuid_entry_t *out)
{
    const vcore_cpuid_entry_t *x;
    uint32_t max_basic;
    bool in_range;

    if (out == NULL)
        return;
    if (e == NULL || n > VCORE_CPUID_MAX_ENTRIES)
        n = e == NULL ? 0 : VCORE_CPUID_MAX_ENTRIES;
    vcore__memset(out, 0, sizeof(*out));
    out->function = function;
    out->index = index;

    x = vcore__cpuid_find(e, n, VCORE__CPUID_LEAF_VENDOR, 0);
    max_basic = x != NULL ? x->eax : 0;
    if (function >= VCORE__CPUID_LEAF_EXT_MAX) {
        x = vcore__cpuid_find(e, n, VCORE__CPUID_LEAF_EXT_MAX, 0);
        in_range = x != NULL && function <= x->eax;
    } else if (function >= CPUID_LEAF_HV_BASE && function <= CPUID_LEAF_HV_END) {
        x = vcore__cpuid_find(e, n, CPUID_LEAF_HV_BASE, 0);
        in_range = x != NULL && function <= x->eax;
    } else {
        in_range = function <= max_basic;
    }

    x = vcore__cpuid_find(e, n, function, index);
    if (x == NULL && !in_range && vendor != VCORE_X86_VENDOR_AMD && vendor != VCORE_X86_VENDOR_HYGON)
        x = vcore__cpuid_find(e, n, max_basic, index); /* Intel: the highest basic leaf */
    if (x == NULL)
        return;
    out->flags = x->flags;
    out->eax = x->eax;
    out->ebx = x->ebx;
    out->ecx = x->ecx;
    out->edx = x->edx;
}
