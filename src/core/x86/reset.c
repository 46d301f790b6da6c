/*
 * reset.c - RESET (power-up) and INIT of an x86 vCPU.
 *
 * One implementation serves both events; the few vendor differences are in a
 * const hook table. Sources:
 *   SDM Vol. 3, table "IA-32 and Intel 64 Processor States Following
 *     Power-up, Reset, or INIT";
 *   APM Vol. 2, "Processor Initialization State";
 *   SDM Vol. 3, "x2APIC State Transitions" (APIC base at RESET/INIT).
 * INIT differs from RESET in what it keeps: the SDM table says caches (so
 * CR0.CD/NW), MSRs, MTRRs, XCR0 and the x87/SSE state are left unchanged,
 * while everything else takes its power-up value. EFER, including SVME, is
 * cleared on INIT like every other part of the processor mode.
 */
#include "x86.h"
#include "x86_bits.h"

/* Per-vendor segment access rights (VMCS layout, regs.h). */
typedef struct reset_vendor_hooks {
    uint32_t cs_ar;   /* CS access rights. */
    uint32_t data_ar; /* DS/ES/FS/GS/SS access rights. */
    uint32_t tr_ar;   /* TR access rights. */
    uint32_t ldtr_ar; /* LDTR access rights. */
} reset_vendor_hooks_t;

/*
 * Intel: VMX needs CS to be a code segment, so the SDM's "present, R/W,
 * accessed" is expressed as P|S|type 0xB (execute/read, accessed) = 0x9B;
 * data segments P|S|type 3 (read/write, accessed) = 0x93; TR a busy 32-bit
 * TSS (type 0xB) = 0x8B.
 */
static const reset_vendor_hooks_t reset_hooks_intel = {
    .cs_ar = 0x9bu,
    .data_ar = 0x93u,
    .tr_ar = 0x8bu,
    .ldtr_ar = 0x82u, /* P | type 2 (LDT). */
};

/*
 * AMD/Hygon (APM Vol. 2, "Processor Initialization State"): the attributes
 * are P|S|code|read (0x9A) for CS and P|S|write (0x92) for data segments,
 * without the accessed bit; TR is a busy 16-bit TSS (type 3) = 0x83.
 */
static const reset_vendor_hooks_t reset_hooks_amd = {
    .cs_ar = 0x9au,
    .data_ar = 0x92u,
    .tr_ar = 0x83u,
    .ldtr_ar = 0x82u, /* P | type 2 (LDT). */
};

static const reset_vendor_hooks_t *reset_hooks(uint32_t vendor)
{
    /* Hygon processors follow the AMD architecture. An unknown vendor gets
     * the Intel encodings (the SDM table is the more widely emulated one). */
    if (vendor == VCORE_X86_VENDOR_AMD || vendor == VCORE_X86_VENDOR_HYGON)
        return &reset_hooks_amd;
    return &reset_hooks_intel;
}

static void reset_segment(vcore_x86_segment_t *s, uint16_t selector, uint64_t base, uint32_t ar)
{
    s->selector = selector;
    s->pad = 0;
    s->base = base;
    /* Every segment limit is FFFFH after RESET and INIT. */
    s->limit = 0xffffu;
    s->ar = ar;
}

/* x87/SSE control state after RESET. FCW 037FH is the FNINIT value (SDM
 * Vol. 1, "x87 FPU Control Word"), all registers tagged empty (FTW FFFFH in
 * the full 16-bit form), MXCSR 1F80H (all exceptions masked, round to
 * nearest). MXCSR_MASK is fixed at FFFFH (DAZ supported): the model does not
 * derive it from CPUID, and FFFFH is what every SSE2-era and later processor
 * reports in FXSAVE. */
static void reset_fpu(vcore_x86_fpu_t *f)
{
    vcore__memset(f, 0, sizeof(*f));
    f->size = sizeof(*f);
    f->fcw = 0x037fu;
    f->fsw = 0;
    f->ftw = 0xffffu;
    f->fop = 0;
    f->mxcsr = 0x1f80u;
    f->mxcsr_mask = 0xffffu;
}

/* MSRs after power-up RESET. */
static void reset_msrs(vcore_x86_msrs_t *msrs, bool bsp)
{
    vcore__memset(msrs, 0, sizeof(*msrs));
    /* SDM Vol. 3, "IA32_PAT MSR": power-up value 0007040600070406H. */
    msrs->pat = VCORE_PAT_DEFAULT;
    /* BTS and PEBS are not provided by the model: their "unavailable" flags
     * are set and read-only. */
    msrs->misc_enable = VCORE_MISC_ENABLE_BTS_UNAVAIL | VCORE_MISC_ENABLE_PEBS_UNAVAIL;
    /* SDM Vol. 3, "SMRAM": default SMBASE 30000H. */
    msrs->smbase = 0x30000u;
    /* SDM Vol. 3, "Local APIC Status and Location": APIC enabled in xAPIC
     * mode at the default page; BSP set only on the bootstrap processor. */
    msrs->apic_base = VCORE_APIC_BASE_DEFAULT | VCORE_APIC_BASE_EN | (bsp ? VCORE_APIC_BASE_BSP : 0);
    /* TSC, SYSENTER_*, STAR/LSTAR/CSTAR/FMASK, KERNEL_GS_BASE, TSC_AUX and
     * IA32_FEATURE_CONTROL (unlocked, VMX disabled until firmware or the
     * guest enables it): 0. */
}

void vcore__x86_reset(vcore_x86_state_t *st, const vcore_x86_cpu_model_t *m, uint32_t vendor,
                      bool init, bool bsp)
{
    const reset_vendor_hooks_t *h = reset_hooks(vendor);
    uint64_t keep_cr0 = 0;
    size_t i;

    if (st == NULL)
        return;

    /* ---- GPRs, RIP, RFLAGS: identical for RESET and INIT ---- */
    vcore__memset(&st->regs, 0, sizeof(st->regs));
    st->regs.size = sizeof(st->regs);
    /* EDX holds the processor signature (family/model/stepping): the
     * model's CPUID.1:EAX, 600H when there is no CPUID table. */
    st->regs.gpr[VCORE_X86_RDX] = m != NULL ? m->signature : 0x600u;
    st->regs.rip = 0xfff0u;
    st->regs.rflags = VCORE__RFLAGS_FIXED1; /* 00000002H */

    /* ---- system registers ---- */
    if (init) /* INIT leaves the caches alone: CD and NW keep their values. */
        keep_cr0 = st->sregs.cr0 & (VCORE__CR0_CD | VCORE__CR0_NW);
    vcore__memset(&st->sregs, 0, sizeof(st->sregs));
    st->sregs.size = sizeof(st->sregs);
    /* RESET: CR0 = 60000010H (ET, CD, NW). INIT: ET plus the old CD/NW. */
    st->sregs.cr0 = init ? (VCORE__CR0_ET | keep_cr0)
                         : (VCORE__CR0_ET | VCORE__CR0_CD | VCORE__CR0_NW);
    /* CR2, CR3, CR4, CR8 and EFER (SVME included) are 0 after both events. */
    /* CS: selector F000H, base FFFF0000H, so the first fetch is at FFFFFFF0H. */
    reset_segment(&st->sregs.seg[VCORE_X86_CS], 0xf000u, 0xffff0000ull, h->cs_ar);
    for (i = 0; i < VCORE_X86_NR_SEGS; i++) {
        if (i == VCORE_X86_CS || i == VCORE_X86_LDTR || i == VCORE_X86_TR)
            continue;
        /* ES, SS, DS, FS, GS: selector 0, base 0 (FS/GS bases included). */
        reset_segment(&st->sregs.seg[i], 0, 0, h->data_ar);
    }
    reset_segment(&st->sregs.seg[VCORE_X86_LDTR], 0, 0, h->ldtr_ar);
    reset_segment(&st->sregs.seg[VCORE_X86_TR], 0, 0, h->tr_ar);
    /* GDTR, IDTR: base 0, limit FFFFH. */
    st->sregs.gdtr.limit = 0xffffu;
    st->sregs.idtr.limit = 0xffffu;

    /* ---- debug registers: same for RESET and INIT ---- */
    vcore__memset(&st->dregs, 0, sizeof(st->dregs));
    st->dregs.size = sizeof(st->dregs);
    st->dregs.dr6 = 0xffff0ff0ull; /* Reserved-as-1 bits set, no condition. */
    st->dregs.dr7 = 0x400ull;      /* Bit 10 reserved-as-1, no breakpoint. */

    /* ---- events: nothing pending or being delivered, no blocking ---- */
    vcore__memset(&st->events, 0, sizeof(st->events));
    st->events.size = sizeof(st->events);

    if (init) {
        /* INIT keeps XCR0, every MSR and the x87/SSE state; only the size
         * fields are refreshed so the blocks stay well-formed. */
        st->fpu.size = sizeof(st->fpu);
        return;
    }

    /* ---- RESET only ---- */
    reset_fpu(&st->fpu);
    st->xcr0 = VCORE__XCR0_X87; /* x87 state always enabled, nothing else. */
    reset_msrs(&st->msrs, bsp);
}
