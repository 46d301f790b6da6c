/*
 * svk_diff.c - differential conformance of the VMRUN consistency checks
 * (APM Vol. 2, "Canonicalization and Consistency Checks", "Event
 * Injection", "Nested Paging and VMRUN/#VMEXIT").
 *
 * In one boot, hundreds of VMCBs - legal base states of every paging mode,
 * each with one mutation drawn from a class per rule (or two at once) -
 * are given to the emulated processor's VMRUN and to the library's
 * vcore_svm_check_vmrun() with the same processor's CPUID, MAXPHYADDR and
 * EFER. The processor either refuses the state (#VMEXIT with
 * VMEXIT_INVALID) or runs the guest, which exits at once: every exception
 * and event is intercepted, guest memory holds nothing but HLT (F4H), and
 * its page tables hold only not-present entries.
 *
 * A disagreement is either a known deviation of that emulator from the
 * APM (the table below; docs/svm-conformance.md gives the APM text) or
 * unexplained, which fails the case. A few states crash or stop Bochs
 * (emulators.md) and are not given to it.
 */
#include "svk.h"

#include "backend-svm/svm_prim.h"

/* ---- the mutation classes ---- */
#define SVK_KINDS(X)                                                                               \
    X(VALID, "a legal state, random legal variations")                                             \
    X(EFER_SVME, "EFER.SVME clear")                                                                 \
    X(CR0_NW, "CR0.NW without CR0.CD")                                                              \
    X(CR0_CD_OK, "CR0.CD with or without NW")                                                      \
    X(CR0_HIGH, "a CR0 bit in 63:32")                                                               \
    X(CR3_LM_HIGH, "long mode: a CR3 bit at or above MAXPHYADDR")                                  \
    X(CR3_LM_OK, "long mode: CR3 up to MAXPHYADDR-1, low bits")                                     \
    X(CR3_LEGACY_HIGH, "legacy paging: CR3 bits 63:32")                                             \
    X(CR4_HIGH, "a CR4 bit in 63:32")                                                               \
    X(CR4_RESERVED, "a CR4 bit no AMD processor defines (13, 14, 15, 19, 24-31)")                   \
    X(CR4_FEATURE, "a CR4 bit of a feature the processor lacks")                                   \
    X(CR4_FEATURE_OK, "CR4 bits of features the processor has")                                    \
    X(DR6_HIGH, "a DR6 bit in 63:32")                                                               \
    X(DR7_HIGH, "a DR7 bit in 63:32")                                                               \
    X(EFER_RESERVED, "a reserved EFER bit")                                                        \
    X(EFER_FEATURE, "an EFER bit of a feature the processor lacks")                                \
    X(LME_NO_PAE, "EFER.LME and CR0.PG without CR4.PAE")                                           \
    X(LME_NO_PE, "EFER.LME and CR0.PG without CR0.PE")                                             \
    X(LME_NO_PG, "EFER.LME without paging (legal)")                                                \
    X(CS_LD_LONG, "long mode with CS.L and CS.D")                                                  \
    X(CS_LD_LEGACY, "CS.L and CS.D outside long mode (legal)")                                     \
    X(CS_COMPAT, "compatibility mode: CS.D without CS.L (legal)")                                  \
    X(VMRUN_INTERCEPT, "the VMRUN intercept clear")                                                \
    X(MSRPM, "MSRPM_BASE_PA: inside, at the edge, straddling, beyond")                             \
    X(IOPM, "IOPM_BASE_PA: inside, at the edge, straddling, beyond")                               \
    X(ASID_ZERO, "ASID 0")                                                                          \
    X(EVENT_TYPE, "EVENTINJ of every TYPE")                                                        \
    X(EVENT_VECTOR, "EVENTINJ TYPE 3 with every vector 0-31 and above")                           \
    X(NCR3, "nested paging: nCR3 with bits at or above MAXPHYADDR, or low bits")                   \
    X(GPAT, "G_PAT with a reserved type, with and without nested paging")                          \
    X(PDPTE, "legacy PAE paging: PDPTEs with reserved bits (no nested paging)")                     \
    X(PAGED_REAL, "CR0.PG with CR0.PE clear outside long mode")                                    \
    X(COMBO, "two mutations at once")

enum {
#define SVK_KIND_ENUM(name, desc) K_##name,
    SVK_KINDS(SVK_KIND_ENUM)
#undef SVK_KIND_ENUM
        K_COUNT
};

static const char *const svk_kind_names[K_COUNT] = {
#define SVK_KIND_NAME(name, desc) #name,
    SVK_KINDS(SVK_KIND_NAME)
#undef SVK_KIND_NAME
};

/* ---- known deviations of the emulators from the APM ----
 * X(ID, emulators (1 Bochs, 2 QEMU), the emulator enters (1) or refuses (0), "what").
 * Each has a precise condition on the state (svk_dev_applies): a
 * disagreement is explained only by a row of this emulator whose
 * condition holds and whose direction is the one observed.
 * docs/svm-conformance.md quotes the APM for each. */
#define SVK_BOCHS 1u
#define SVK_QEMU 2u
#define SVK_DEVIATIONS(X)                                                                          \
    X(CR3_LM_NOT_CHECKED, SVK_BOCHS, 1, "long-mode CR3 bits at or above MAXPHYADDR are accepted")  \
    X(CR3_LEGACY_CHECKED, SVK_QEMU, 0, "CR3 bits above MAXPHYADDR are refused outside long mode") \
    X(CS_LD_LEGACY_REFUSED, SVK_BOCHS, 0, "CS.L with CS.D is refused outside long mode")           \
    X(MSRPM_BASE_ONLY, SVK_BOCHS, 1, "an MSRPM whose base is inside but whose end is not is accepted") \
    X(MSRPM_EDGE, SVK_QEMU, 0, "an MSRPM that ends at the last byte below MAXPHYADDR is refused")  \
    X(IOPM_BASE_ONLY, SVK_BOCHS, 1, "an IOPM whose base is inside but whose end is not is accepted") \
    X(EVENT_RESERVED_VECTOR, SVK_BOCHS | SVK_QEMU, 1,                                              \
      "EVENTINJ exceptions with vector 9, 15 or 20-29 the processor does not define are injected") \
    X(EVENT_VECTOR_31, SVK_BOCHS, 1, "an EVENTINJ exception with vector 31 is injected")           \
    X(NCR3_NOT_CHECKED, SVK_QEMU, 1, "nCR3 bits at or above MAXPHYADDR are accepted")              \
    X(GPAT_NOT_CHECKED, SVK_QEMU, 1, "a G_PAT with a reserved type is accepted")                   \
    X(CR4_PCIDE_NOT_CHECKED, SVK_QEMU, 1, "CR4.PCIDE without PCID is accepted")                    \
    X(EFER_FFXSR_NOT_CHECKED, SVK_QEMU, 1, "EFER.FFXSR without FFXSR is accepted")                 \
    X(PDPTE_CHECKED, SVK_BOCHS, 0, "present PAE PDPTEs with reserved bits are refused")

enum {
#define SVK_DEV_ENUM(id, emu, enters, what) D_##id,
    SVK_DEVIATIONS(SVK_DEV_ENUM)
#undef SVK_DEV_ENUM
        D_COUNT
};

static const struct {
    const char *id;
    uint32_t emu, enters;
} svk_devs[D_COUNT] = {
#define SVK_DEV_ROW(id, emu, enters, what) {#id, (emu), (enters)},
    SVK_DEVIATIONS(SVK_DEV_ROW)
#undef SVK_DEV_ROW
};

/* ---- the environment of the generated states ---- */
#define SVK_STATES 620u
#define GUEST_BYTES (4u << 20)

typedef struct svk_diff_env {
    uint8_t *region;       /* 4 MiB of HLT: guest memory (GPA 0 with nested paging) */
    uint64_t region_pa;
    uint64_t *npt;         /* nested tables: PML4, PDPT, PD mapping GPA 0..4 MiB */
    uint64_t npt_pa;
    uint64_t msrpm_pa, iopm_pa;
    vcore_vmcb_t *vmcb;
    uint64_t vmcb_pa;
    uint32_t maxphy;
    uint32_t features;
    uint64_t host_efer, host_cr0, host_cr3, host_cr4;
    vcore_cpuid_entry_t cpuid[12];
    uint32_t ncpuid;
    uint32_t cpuid7_ebx, cpuid7_ecx, cpuid1_ecx, cpuid81_ecx, cpuid81_edx;
    uint64_t rng;
} svk_diff_env_t;

static uint64_t svk_rand(svk_diff_env_t *d)
{
    /* xorshift64: the same states every boot */
    uint64_t x = d->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    d->rng = x;
    return x;
}

static uint32_t svk_pick(svk_diff_env_t *d, uint32_t n)
{
    return (uint32_t)(svk_rand(d) % n);
}

static uint64_t svk_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static void svk_diff_cpuid(svk_diff_env_t *d)
{
    static const uint32_t leaves[] = {0, 1, 7, 0x80000000u, 0x80000001u, 0x80000008u, 0x8000000au, 0x8000001fu};
    uint32_t r[4];
    svk_cpuid(0x80000000u, 0, r);
    uint32_t maxext = r[0];
    d->ncpuid = 0;
    for (uint32_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        if (leaves[i] >= 0x80000000u && leaves[i] > maxext)
            continue;
        svk_cpuid(leaves[i], 0, r);
        vcore_cpuid_entry_t *e = &d->cpuid[d->ncpuid++];
        e->function = leaves[i];
        e->index = 0;
        e->flags = leaves[i] == 7 ? VCORE_CPUID_FLAG_INDEX_SIGNIFICANT : 0;
        e->eax = r[0];
        e->ebx = r[1];
        e->ecx = r[2];
        e->edx = r[3];
        if (leaves[i] == 1)
            d->cpuid1_ecx = r[2];
        if (leaves[i] == 7) {
            d->cpuid7_ebx = r[1];
            d->cpuid7_ecx = r[2];
        }
        if (leaves[i] == 0x80000001u) {
            d->cpuid81_ecx = r[2];
            d->cpuid81_edx = r[3];
        }
    }
}

static int svk_diff_setup(svk_env_t *env, svk_diff_env_t *d)
{
    d->region = vtk_alloc_2m(2);
    uint64_t *tables = vtk_alloc_pages(3);
    uint8_t *msrpm = vtk_alloc_pages(2), *iopm = vtk_alloc_pages(3);
    d->vmcb = vtk_alloc_pages(1);
    if (!d->region || !tables || !msrpm || !iopm || !d->vmcb)
        return -1;
    d->region_pa = (uint64_t)(uintptr_t)d->region;
    memset(d->region, 0xf4, GUEST_BYTES);
    /* Nested tables: GPA 0..4 MiB -> region, 2 MiB pages, user (nested
     * walks are user accesses: "Nested Table Walk"). */
    d->npt = tables;
    d->npt_pa = (uint64_t)(uintptr_t)tables;
    tables[0] = (d->npt_pa + 0x1000) | 7;
    tables[512] = (d->npt_pa + 0x2000) | 7;
    tables[1024] = d->region_pa | 0x87;
    tables[1025] = (d->region_pa + (2u << 20)) | 0x87;
    memset(msrpm, 0xff, 2 * 4096);
    memset(iopm, 0xff, 3 * 4096);
    d->msrpm_pa = (uint64_t)(uintptr_t)msrpm;
    d->iopm_pa = (uint64_t)(uintptr_t)iopm;
    d->vmcb_pa = (uint64_t)(uintptr_t)d->vmcb;
    d->maxphy = env->maxphyaddr;
    d->features = env->svm_features;
    d->rng = 0x5eed5eed12345678ull;
    svk_diff_cpuid(d);
    return 0;
}

/* ---- base states ---- */
enum { B_LONG_NP, B_PROT_NP, B_REAL_NP, B_LONG, B_PAE, B_PROT, B_COUNT };

static void svk_seg(vcore_vmcb_seg_t *s, uint16_t sel, uint16_t attrib, uint32_t limit, uint64_t base)
{
    s->selector = sel;
    s->attrib = attrib;
    s->limit = limit;
    s->base = base;
}

static void svk_base(svk_diff_env_t *d, uint32_t b)
{
    vcore_vmcb_t *v = d->vmcb;
    memset(v, 0, sizeof(*v));
    /* every event and most instructions intercepted: the guest exits at once */
    v->control.intercept[2] = 0xffffffffu;
    v->control.intercept[3] = 0xffffffffu;
    v->control.intercept[4] = 0x00003fffu; /* VMRUN .. RDPRU */
    v->control.iopm_base_pa = d->iopm_pa;
    v->control.msrpm_base_pa = d->msrpm_pa;
    v->control.asid = 1;
    v->control.tlb_control = VCORE_VMCB_TLB_FLUSH_ALL;
    v->control.int_ctl = VCORE_VMCB_INT_V_INTR_MASKING;
    bool np = b == B_LONG_NP || b == B_PROT_NP || b == B_REAL_NP;
    if (np) {
        v->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
        v->control.n_cr3 = d->npt_pa;
    }
    uint64_t gbase = np ? 0 : d->region_pa; /* guest-physical base of the HLTs */
    vcore_vmcb_save_t *s = &v->save;
    s->g_pat = 0x0007040600070406ull;
    s->dr6 = 0xffff0ff0u;
    s->dr7 = 0x400;
    s->rflags = 2;
    s->rsp = 0x100000;
    uint16_t data = 0x0c93; /* G, D/B, P, S, read/write accessed */
    svk_seg(&s->ss, 0x10, data, 0xffffffffu, 0);
    svk_seg(&s->ds, 0x10, data, 0xffffffffu, 0);
    svk_seg(&s->es, 0x10, data, 0xffffffffu, 0);
    s->gdtr.limit = 0x17;
    s->gdtr.base = gbase;
    s->idtr.limit = 0xfff;
    s->idtr.base = gbase;
    switch (b) {
    case B_LONG_NP:
    case B_LONG:
        /* SVME LMA LME, with NXE and SCE where the processor has them */
        s->efer = 0x1500u | ((d->cpuid81_edx & (1u << 20)) ? 0x800u : 0u) |
                  ((d->cpuid81_edx & (1u << 11)) ? 1u : 0u);
        s->cr0 = 0x80000031u; /* PG NE ET PE */
        s->cr4 = 0x20;        /* PAE */
        s->cr3 = gbase + 0x1000;
        svk_seg(&s->cs, 0x08, 0x029b, 0xffffffffu, 0);
        s->rip = 0x100;
        break;
    case B_PROT_NP:
    case B_PROT:
        s->efer = 0x1000;
        s->cr0 = 0x11; /* ET PE */
        svk_seg(&s->cs, 0x08, 0x0c9b, 0xffffffffu, gbase);
        s->rip = 0x100;
        break;
    case B_REAL_NP:
        s->efer = 0x1000;
        s->cr0 = 0x10;
        svk_seg(&s->cs, 0, 0x009b, 0xffff, 0);
        svk_seg(&s->ss, 0, 0x0093, 0xffff, 0);
        svk_seg(&s->ds, 0, 0x0093, 0xffff, 0);
        svk_seg(&s->es, 0, 0x0093, 0xffff, 0);
        s->rip = 0x100;
        break;
    default: /* B_PAE: legacy PAE paging, PDPT at region + 2000H (not present) */
        s->efer = 0x1000;
        s->cr0 = 0x80000011u;
        s->cr4 = 0x20;
        s->cr3 = d->region_pa + 0x2000;
        svk_seg(&s->cs, 0x08, 0x0c9b, 0xffffffffu, 0);
        s->rip = 0x100;
        break;
    }
}

static const uint32_t svk_b_long[] = {B_LONG_NP, B_LONG};

/* Exception vectors the APM defines for every AMD64 processor. */
#define SVK_EXC_OK ((1u << 0) | (1u << 1) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | \
                    (1u << 8) | (1u << 10) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 14) |      \
                    (1u << 16) | (1u << 17) | (1u << 18) | (1u << 19) | (1u << 30))

/* Applies a mutation of class k; *bochs_skip when Bochs would crash or stop on the state. */
static void svk_mutate(svk_diff_env_t *d, uint32_t k, bool *bochs_skip)
{
    vcore_vmcb_t *v = d->vmcb;
    vcore_vmcb_save_t *s = &v->save;
    uint64_t top = 1ull << d->maxphy;
    switch (k) {
    case K_VALID: {
        /* CR0 bits 28:19, 17, 15:6 are reserved but not on the list; CR4 bits every processor has */
        static const uint64_t cr0_free[] = {1u << 28, 1u << 20, 1u << 17, 1u << 6, 1u << 1, 1u << 3};
        static const uint64_t cr4_free[] = {1u << 0, 1u << 1, 1u << 2, 1u << 3, 1u << 6, 1u << 7, 1u << 8, 1u << 9, 1u << 10};
        if (svk_pick(d, 2))
            s->cr0 |= cr0_free[svk_pick(d, 6)];
        s->cr4 |= cr4_free[svk_pick(d, 9)];
        s->dr7 |= (uint64_t)(svk_rand(d) & 0xffff0000u);
        break;
    }
    case K_EFER_SVME:
        s->efer &= ~0x1000ull;
        break;
    case K_CR0_NW:
        s->cr0 = (s->cr0 & ~(1ull << 30)) | (1ull << 29);
        break;
    case K_CR0_CD_OK:
        s->cr0 |= (1ull << 30) | (svk_pick(d, 2) ? (1ull << 29) : 0);
        break;
    case K_CR0_HIGH:
        s->cr0 |= 1ull << (32 + svk_pick(d, 32));
        break;
    case K_CR3_LM_HIGH:
        s->cr3 |= 1ull << (d->maxphy + svk_pick(d, 64 - d->maxphy));
        /* Bochs walks a CR3 above MAXPHYADDR without nested paging and crashes (emulators.md). */
        *bochs_skip = !(v->control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE);
        break;
    case K_CR3_LM_OK:
        s->cr3 = (top - 0x1000) | (svk_rand(d) & 0xfffu);
        break;
    case K_CR3_LEGACY_HIGH:
        s->cr3 |= 1ull << (32 + svk_pick(d, 32));
        break;
    case K_CR4_HIGH:
        s->cr4 |= 1ull << (32 + svk_pick(d, 32));
        break;
    case K_CR4_RESERVED: {
        static const uint8_t bits[] = {13, 14, 15, 19, 24, 25, 26, 27, 28, 29, 30, 31};
        s->cr4 |= 1ull << bits[svk_pick(d, sizeof(bits))];
        break;
    }
    case K_CR4_FEATURE:
    case K_CR4_FEATURE_OK: {
        /* bit, and whether the processor has its feature */
        const struct {
            uint8_t bit;
            bool has;
        } f[] = {
            {11, (d->cpuid7_ecx >> 2) & 1u},  /* UMIP */
            {12, (d->cpuid7_ecx >> 16) & 1u}, /* LA57 */
            {16, d->cpuid7_ebx & 1u},         /* FSGSBASE */
            {17, (d->cpuid1_ecx >> 17) & 1u}, /* PCIDE */
            {18, (d->cpuid1_ecx >> 26) & 1u}, /* OSXSAVE */
            {20, (d->cpuid7_ebx >> 7) & 1u},  /* SMEP */
            {21, (d->cpuid7_ebx >> 20) & 1u}, /* SMAP */
            {22, (d->cpuid7_ecx >> 3) & 1u},  /* PKE */
            {23, (d->cpuid7_ecx >> 7) & 1u},  /* CET */
        };
        bool want = k == K_CR4_FEATURE_OK;
        for (uint32_t tries = 0; tries < 32; tries++) {
            uint32_t i = svk_pick(d, 9);
            if (f[i].has == want) {
                s->cr4 |= 1ull << f[i].bit;
                break;
            }
        }
        break;
    }
    case K_DR6_HIGH:
        s->dr6 |= 1ull << (32 + svk_pick(d, 32));
        break;
    case K_DR7_HIGH:
        s->dr7 |= 1ull << (32 + svk_pick(d, 32));
        break;
    case K_EFER_RESERVED: {
        static const uint8_t bits[] = {1, 2, 3, 4, 5, 6, 7, 9, 16, 19, 22, 23, 31, 32, 40, 63};
        s->efer |= 1ull << bits[svk_pick(d, sizeof(bits))];
        break;
    }
    case K_EFER_FEATURE: {
        /* LMSLE (13) has no CPUID bit; FFXSR (14), TCE (15), NXE (11) when absent */
        uint32_t tries;
        for (tries = 0; tries < 8; tries++) {
            uint32_t i = svk_pick(d, 4);
            if (i == 0) {
                s->efer |= 1ull << 13;
                break;
            }
            if (i == 1 && !(d->cpuid81_edx & (1u << 25))) {
                s->efer |= 1ull << 14;
                break;
            }
            if (i == 2 && !(d->cpuid81_ecx & (1u << 17))) {
                s->efer |= 1ull << 15;
                break;
            }
            if (i == 3 && !(d->cpuid81_edx & (1u << 20))) {
                s->efer |= 1ull << 11;
                break;
            }
        }
        if (tries == 8)
            s->efer |= 1ull << 13;
        break;
    }
    case K_LME_NO_PAE:
        s->cr4 &= ~0x20ull;
        break;
    case K_LME_NO_PE:
        s->cr0 &= ~1ull;
        /* LME + PG without PE stops Bochs (a panic: emulators.md). */
        *bochs_skip = true;
        break;
    case K_LME_NO_PG:
        s->efer = (s->efer & ~0x400ull) | 0x100;
        s->cr0 &= ~(1ull << 31);
        break;
    case K_CS_LD_LONG:
        s->cs.attrib |= VCORE_VMCB_ATTR_DB | VCORE_VMCB_ATTR_L;
        break;
    case K_CS_LD_LEGACY:
        s->cs.attrib |= VCORE_VMCB_ATTR_DB | VCORE_VMCB_ATTR_L;
        break;
    case K_CS_COMPAT:
        s->cs.attrib = (uint16_t)((s->cs.attrib & ~VCORE_VMCB_ATTR_L) | VCORE_VMCB_ATTR_DB);
        break;
    case K_VMRUN_INTERCEPT:
        v->control.intercept[4] &= ~1u;
        break;
    case K_MSRPM:
    case K_IOPM: {
        uint64_t size = k == K_MSRPM ? 0x2000 : 0x3000;
        uint64_t choice[] = {top - size, top - size + 0xfff, top - 0x1000, top, top + 0x1000,
                             (svk_rand(d) % (top >> 12)) << 12, ~0ull & ~0xfffull,
                             1ull << (d->maxphy + svk_pick(d, 64 - d->maxphy))};
        uint64_t pa = choice[svk_pick(d, 8)];
        if (k == K_MSRPM)
            v->control.msrpm_base_pa = pa;
        else
            v->control.iopm_base_pa = pa;
        break;
    }
    case K_ASID_ZERO:
        v->control.asid = 0;
        break;
    case K_EVENT_TYPE: {
        uint32_t type = svk_pick(d, 8);
        uint32_t vec = type == 3 ? 13 : (uint32_t)(32 + svk_pick(d, 224));
        v->control.event_inj = VCORE_VMCB_EVENT_V | ((uint64_t)type << 8) | vec |
                               (type == 3 ? VCORE_VMCB_EVENT_EV : 0);
        break;
    }
    case K_EVENT_VECTOR: {
        uint32_t vec = svk_pick(d, 3) ? svk_pick(d, 32) : (uint32_t)(32 + svk_pick(d, 224));
        bool ec = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30;
        v->control.event_inj = vcore_vmcb_event((uint8_t)vec, VCORE_VMCB_EVENT_TYPE_EXCEPTION, ec, 0);
        break;
    }
    case K_NCR3:
        v->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
        if (svk_pick(d, 4) == 0)
            v->control.n_cr3 = d->npt_pa | (svk_rand(d) & 0xfffu); /* legal */
        else
            v->control.n_cr3 = d->npt_pa | (1ull << (d->maxphy + svk_pick(d, 64 - d->maxphy)));
        break;
    case K_GPAT: {
        static const uint8_t bad[] = {2, 3, 8, 0x0f, 0x80, 0xff};
        uint32_t byte = svk_pick(d, 8);
        s->g_pat = (s->g_pat & ~(0xffull << (8 * byte))) | ((uint64_t)bad[svk_pick(d, 6)] << (8 * byte));
        break;
    }
    case K_PDPTE: {
        /* present PDPTEs with a reserved bit: 2:1, 8:5 or 63:MAXPHYADDR */
        static const uint64_t rsvd[] = {1u << 1, 1u << 2, 1u << 5, 1u << 7, 1u << 8, 1ull << 63};
        uint64_t *pdpt = (uint64_t *)(void *)(d->region + 0x2000);
        for (int i = 0; i < 4; i++)
            pdpt[i] = (d->region_pa + 0x3000) | 1;
        pdpt[svk_pick(d, 4)] |= rsvd[svk_pick(d, 6)];
        break;
    }
    case K_PAGED_REAL:
        s->cr0 = (s->cr0 | (1ull << 31)) & ~1ull;
        s->efer &= ~0x500ull;
        s->cr4 &= ~0x20ull;
        break;
    default:
        break;
    }
}

/* The base states a class is tried on. */
static uint32_t svk_base_for(svk_diff_env_t *d, uint32_t k)
{
    switch (k) {
    case K_CR3_LM_HIGH:
    case K_CR3_LM_OK:
    case K_LME_NO_PAE:
    case K_LME_NO_PE:
    case K_CS_LD_LONG:
    case K_CS_COMPAT:
        return svk_b_long[svk_pick(d, 2)];
    case K_CR3_LEGACY_HIGH:
        return svk_pick(d, 2) ? B_PAE : B_PROT_NP;
    case K_CS_LD_LEGACY:
    case K_LME_NO_PG:
        return svk_pick(d, 2) ? B_PROT_NP : B_PROT;
    case K_NCR3:
        return svk_pick(d, 2) ? B_LONG_NP : B_PROT_NP;
    case K_GPAT:
        return svk_pick(d, B_COUNT);
    case K_PDPTE:
        return B_PAE;
    case K_PAGED_REAL:
        return svk_pick(d, 2) ? B_REAL_NP : B_PROT_NP;
    case K_EVENT_TYPE:
    case K_EVENT_VECTOR:
        /* injected events are delivered through the IDT: only where guest
         * physical memory is the HLT region (nested paging) */
        return svk_pick(d, 3) == 0 ? B_REAL_NP : svk_pick(d, 2) ? B_LONG_NP : B_PROT_NP;
    default:
        return svk_pick(d, B_COUNT);
    }
}

/* The condition under which a deviation explains a disagreement, on the
 * state as it was given to VMRUN (v: a copy taken before; the emulators
 * write the save area back on #VMEXIT, VMEXIT_INVALID included). */
static bool svk_dev_applies(const svk_diff_env_t *d, const vcore_vmcb_t *v, uint32_t dev)
{
    const vcore_vmcb_save_t *s = &v->save;
    uint64_t top = 1ull << d->maxphy;
    bool np = (v->control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE) != 0;
    bool lm = (s->efer & 0x100) && (s->cr0 & (1ull << 31));
    uint64_t msrpm = v->control.msrpm_base_pa & ~0xfffull, iopm = v->control.iopm_base_pa & ~0xfffull;
    uint32_t type = (uint32_t)((v->control.event_inj >> 8) & 7u), vec = (uint32_t)(v->control.event_inj & 0xffu);
    bool exc = (v->control.event_inj & VCORE_VMCB_EVENT_V) && type == 3;
    switch (dev) {
    case D_CR3_LM_NOT_CHECKED:
        return lm && (s->cr3 >> d->maxphy) != 0;
    case D_CR3_LEGACY_CHECKED:
        return !lm && (s->cr3 >> d->maxphy) != 0;
    case D_CS_LD_LEGACY_REFUSED:
        return !lm && (s->cs.attrib & VCORE_VMCB_ATTR_L) && (s->cs.attrib & VCORE_VMCB_ATTR_DB);
    case D_MSRPM_BASE_ONLY:
        return msrpm < top && msrpm > top - 0x2000;
    case D_MSRPM_EDGE:
        return msrpm == top - 0x2000;
    case D_IOPM_BASE_ONLY:
        return iopm < top && iopm > top - 0x3000;
    case D_EVENT_RESERVED_VECTOR:
        return exc && (vec == 9 || vec == 15 || (vec >= 20 && vec <= 29));
    case D_EVENT_VECTOR_31:
        return exc && vec == 31;
    case D_NCR3_NOT_CHECKED:
        return np && (v->control.n_cr3 >> d->maxphy) != 0;
    case D_GPAT_NOT_CHECKED: {
        bool bad = false;
        for (unsigned i = 0; i < 8; i++) {
            uint64_t t = (s->g_pat >> (8 * i)) & 0xffu;
            bad = bad || t == 2 || t == 3 || t > 7;
        }
        return np && bad;
    }
    case D_CR4_PCIDE_NOT_CHECKED:
        return (s->cr4 & (1ull << 17)) && !(d->cpuid1_ecx & (1u << 17));
    case D_EFER_FFXSR_NOT_CHECKED:
        return (s->efer & (1ull << 14)) && !(d->cpuid81_edx & (1u << 25));
    case D_PDPTE_CHECKED:
        return !np && !lm && (s->cr0 & (1ull << 31)) && (s->cr4 & 0x20);
    default:
        return false;
    }
}

/* VMRUN on the (emulated) processor: 1 if it refused the state
 * (VMEXIT_INVALID), 0 if the guest ran; *code is EXITCODE. */
static int svk_vmrun(svk_diff_env_t *d, uint64_t *code)
{
    vcore__svm_gprs_t g;
    memset(&g, 0, sizeof(g));
    vcore__svm_clgi();
    vcore__svm_vmrun(&g, d->vmcb_pa);
    /* QEMU does not always give back the host's CR0 (emulators.md): every
     * control register the kernel runs with is reloaded. */
    __asm__ volatile("mov %0, %%cr4" : : "r"(d->host_cr4) : "memory");
    __asm__ volatile("mov %0, %%cr3" : : "r"(d->host_cr3) : "memory");
    __asm__ volatile("mov %0, %%cr0" : : "r"(d->host_cr0) : "memory");
    vcore__svm_stgi();
    *code = d->vmcb->control.exit_code;
    /* VMEXIT_INVALID is -1 in 64 bits; QEMU stores it in 32 (emulators.md). */
    return *code == 0xffffffffffffffffull || *code == 0xffffffffull;
}

static void svk_put_check(uint32_t id)
{
    vcore_svm_check_info_t info;
    info.size = sizeof(info);
    if (id && vcore_svm_check_describe(id, &info) == VCORE_OK)
        vtk_puts(info.name);
    else
        vtk_puts("OK");
}

int svk_diff(svk_env_t *env, svk_why_t *why)
{
    static svk_diff_env_t d;
    static vcore_vmcb_t given;
    uint32_t agree = 0, deviations = 0, unexplained = 0, skipped = 0, entered = 0, refused = 0;
    uint32_t per_kind[K_COUNT], per_skip[K_COUNT], per_dev[D_COUNT];
    uint32_t emu = env->qemu ? SVK_QEMU : SVK_BOCHS;

    memset(per_kind, 0, sizeof(per_kind));
    memset(per_skip, 0, sizeof(per_skip));
    memset(per_dev, 0, sizeof(per_dev));
    if (svk_diff_setup(env, &d) != 0) {
        svk_why_str(why, "no memory");
        return SVK_FAIL;
    }
    __asm__ volatile("mov %%cr0, %0" : "=r"(d.host_cr0));
    __asm__ volatile("mov %%cr3, %0" : "=r"(d.host_cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(d.host_cr4));
    d.host_efer = svk_rdmsr(0xc0000080u);
    if (!(d.host_efer & (1u << 12))) {
        svk_why_str(why, "EFER.SVME is not set");
        return SVK_FAIL;
    }

    for (uint32_t i = 0; i < SVK_STATES; i++) {
        /* every class in turn, then the rest at random */
        uint32_t k = i < 2 * K_COUNT ? i % K_COUNT : svk_pick(&d, K_COUNT);
        bool bochs_skip = false;
        svk_base(&d, svk_base_for(&d, k));
        if (k == K_COMBO) {
            uint32_t k1 = 1 + svk_pick(&d, K_COUNT - 2), k2 = 1 + svk_pick(&d, K_COUNT - 2);
            /* a combination keeps to the classes every base state takes */
            if (k1 == K_PDPTE || k1 == K_PAGED_REAL || k1 == K_CR3_LM_HIGH || k1 == K_LME_NO_PE)
                k1 = K_ASID_ZERO;
            if (k2 == K_PDPTE || k2 == K_PAGED_REAL || k2 == K_CR3_LM_HIGH || k2 == K_LME_NO_PE)
                k2 = K_DR7_HIGH;
            if ((k1 == K_EVENT_TYPE || k1 == K_EVENT_VECTOR || k2 == K_EVENT_TYPE || k2 == K_EVENT_VECTOR) &&
                !(d.vmcb->control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE))
                k1 = K_EFER_SVME;
            svk_mutate(&d, k1, &bochs_skip);
            svk_mutate(&d, k2, &bochs_skip);
        } else {
            svk_mutate(&d, k, &bochs_skip);
        }
        per_kind[k]++;

        /* The library's verdict, from the same processor's facts. */
        vcore_svm_check_input_t in;
        vcore_svm_verdict_t out;
        memset(&in, 0, sizeof(in));
        memset(&out, 0, sizeof(out));
        in.size = sizeof(in);
        out.size = sizeof(out);
        in.vmcb12 = d.vmcb;
        in.svm_features = d.features;
        in.maxphyaddr = d.maxphy;
        in.l1_efer = d.host_efer;
        in.cpuid = d.cpuid;
        in.ncpuid = d.ncpuid;
        if (vcore_svm_check_vmrun(&in, &out, NULL, 0) != VCORE_OK) {
            svk_why_str(why, "check input refused");
            return SVK_FAIL;
        }
        bool lib_refuses = out.kind == VCORE_SVM_VMRUN_INVALID;
        if (emu == SVK_BOCHS && bochs_skip) {
            skipped++;
            per_skip[k]++;
            continue;
        }
        memcpy(&given, d.vmcb, sizeof(given));
        uint64_t code = 0;
        bool emu_refuses = svk_vmrun(&d, &code) != 0;
        /* what a state wrote into guest memory (PDPTEs, the stacks of event
         * deliveries) goes back to HLT for the next one */
        memset(d.region + 0x2000, 0xf4, 0x20);
        memset(d.region + 0xf000, 0xf4, 0x1000);
        memset(d.region + 0xff000, 0xf4, 0x1000);
        if (emu_refuses)
            refused++;
        else
            entered++;
        if (lib_refuses == emu_refuses) {
            agree++;
            continue;
        }
        /* A disagreement: a known deviation of this emulator? */
        int dev = -1;
        for (uint32_t j = 0; j < D_COUNT && dev < 0; j++)
            if ((svk_devs[j].emu & emu) && (svk_devs[j].enters != 0) == !emu_refuses && svk_dev_applies(&d, &given, j))
                dev = (int)j;
        vtk_puts("DIFF ");
        vtk_putdec(i);
        vtk_puts(" ");
        vtk_puts(svk_kind_names[k]);
        vtk_puts(" lib=");
        svk_put_check(out.check);
        vtk_puts(" value=");
        vtk_puthex(out.value);
        vtk_puts(" emu=");
        if (emu_refuses)
            vtk_puts("INVALID");
        else
            vtk_puthex(code);
        if (dev >= 0) {
            deviations++;
            per_dev[dev]++;
            vtk_puts(" deviation=");
            vtk_puts(svk_devs[dev].id);
        } else {
            unexplained++;
            vtk_puts(" UNEXPLAINED");
        }
        vtk_puts("\n");
    }
    for (uint32_t j = 0; j < D_COUNT; j++) {
        if (!per_dev[j])
            continue;
        vtk_puts("DIFF-DEVIATION ");
        vtk_puts(svk_devs[j].id);
        vtk_puts(" ");
        vtk_putdec(per_dev[j]);
        vtk_puts("\n");
    }
    for (uint32_t k = 0; k < K_COUNT; k++) {
        vtk_puts("DIFF-CLASS ");
        vtk_puts(svk_kind_names[k]);
        vtk_puts(" ");
        vtk_putdec(per_kind[k]);
        if (per_skip[k]) {
            vtk_puts(" skipped ");
            vtk_putdec(per_skip[k]);
        }
        vtk_puts("\n");
    }
    svk_why_str(why, "states=");
    svk_why_dec(why, SVK_STATES);
    svk_why_str(why, " run=");
    svk_why_dec(why, SVK_STATES - skipped);
    svk_why_str(why, " entered=");
    svk_why_dec(why, entered);
    svk_why_str(why, " refused=");
    svk_why_dec(why, refused);
    svk_why_str(why, " agree=");
    svk_why_dec(why, agree);
    svk_why_str(why, " deviations=");
    svk_why_dec(why, deviations);
    svk_why_str(why, " unexplained=");
    svk_why_dec(why, unexplained);
    svk_why_str(why, " skipped=");
    svk_why_dec(why, skipped);
    return unexplained ? SVK_FAIL : SVK_PASS;
}
