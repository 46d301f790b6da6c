/*
 * regs.c - validation of the architectural register blocks.
 *
 * Each checker is pure: it looks at a proposed value (and for the system
 * registers at the value in force) and either accepts it or names the most
 * specific rule it breaks through vcore__diag_set(). Nothing is modified, so
 * the caller can validate a whole block before it applies any of it.
 */
#include "x86.h"
#include "x86_bits.h"

/* SDM Vol. 1, "EFLAGS Register": bit 1 is always 1; bits 3, 5, 15 and
 * 63:22 are reserved and must be written as 0. */
int vcore__x86_check_regs(const vcore_x86_regs_t *r, vcore_diag_t *d)
{
    if (r == NULL)
        return VCORE_ERR_INVAL;
    if ((r->rflags & VCORE__RFLAGS_FIXED1) == 0 || (r->rflags & VCORE__RFLAGS_RESERVED) != 0)
        return vcore__diag_set(d, VCORE_DIAG_RFLAGS_RESERVED, r->rflags);
    return VCORE_OK;
}

/*
 * CR0 on its own. SDM Vol. 3, "Control Registers": reserved bits (63:32,
 * 28:19, 17, 15:6) must be 0; setting PG with PE clear and NW with CD clear
 * is a #GP(0) combination.
 */
static int regs_check_cr0(const vcore_x86_cpu_model_t *m, uint64_t cr0, vcore_diag_t *d)
{
    if ((cr0 & (m->cr0_reserved | 0xffffffff00000000ull)) != 0)
        return vcore__diag_set(d, VCORE_DIAG_CR0_RESERVED, cr0);
    if ((cr0 & VCORE__CR0_PG) != 0 && (cr0 & VCORE__CR0_PE) == 0)
        return vcore__diag_set(d, VCORE_DIAG_CR0_PG_WITHOUT_PE, cr0);
    if ((cr0 & VCORE__CR0_NW) != 0 && (cr0 & VCORE__CR0_CD) == 0)
        return vcore__diag_set(d, VCORE_DIAG_CR0_NW_WITHOUT_CD, cr0);
    return VCORE_OK;
}

/*
 * EFER against CR0.PG. SDM Vol. 3, "Initializing IA-32e Mode": LMA is set by
 * the processor exactly when LME=1 and CR0.PG=1, so a state where LMA differs
 * from (LME && PG) cannot exist; and LME may not be changed while paging is
 * on (WRMSR #GP). The LME check comes first because it is the more specific
 * explanation when both fire.
 */
static int regs_check_efer_mode(const vcore_x86_sregs_t *old, const vcore_x86_sregs_t *neu,
                                vcore_diag_t *d)
{
    bool pg = (neu->cr0 & VCORE__CR0_PG) != 0;
    bool lme = (neu->efer & VCORE__EFER_LME) != 0;
    bool lma = (neu->efer & VCORE__EFER_LMA) != 0;

    if (old != NULL && (old->cr0 & VCORE__CR0_PG) != 0 && pg &&
        ((old->efer ^ neu->efer) & VCORE__EFER_LME) != 0)
        return vcore__diag_set(d, VCORE_DIAG_EFER_LME_CHANGE_WITH_PAGING, neu->efer);
    /* With paging off LMA must be 0; with paging on it must equal LME. */
    if (lma != (pg && lme))
        return vcore__diag_set(d, VCORE_DIAG_EFER_LMA_MISMATCH, neu->efer);
    return VCORE_OK;
}

/*
 * CR4 and its interactions. SDM Vol. 3, "Control Registers", "Initializing
 * IA-32e Mode" and "Process-Context Identifiers (PCIDs)".
 */
static int regs_check_cr4(const vcore_x86_cpu_model_t *m, const vcore_x86_sregs_t *old,
                          const vcore_x86_sregs_t *neu, vcore_diag_t *d)
{
    uint64_t cr4 = neu->cr4;
    bool lma = (neu->efer & VCORE__EFER_LMA) != 0;
    bool old_lma = old != NULL && (old->efer & VCORE__EFER_LMA) != 0;

    /* Reserved bits and bits whose feature the vCPU's CPUID does not enumerate. */
    if ((cr4 & m->cr4_reserved) != 0)
        return vcore__diag_set(d, VCORE_DIAG_CR4_RESERVED, cr4);
    /* IA-32e mode requires PAE paging: clearing PAE with LMA=1 is #GP. */
    if (lma && (cr4 & VCORE__CR4_PAE) == 0)
        return vcore__diag_set(d, VCORE_DIAG_CR4_PAE_CLEAR_IN_LONG_MODE, cr4);
    if ((cr4 & VCORE__CR4_PCIDE) != 0) {
        /* PCIDs exist only in IA-32e mode. */
        if (!lma)
            return vcore__diag_set(d, VCORE_DIAG_CR4_PCIDE_WITHOUT_LONG_MODE, cr4);
        /* Setting PCIDE while the current PCID (CR3[11:0]) is not 0 is #GP. */
        if (old != NULL && (old->cr4 & VCORE__CR4_PCIDE) == 0 && (neu->cr3 & 0xfffu) != 0)
            return vcore__diag_set(d, VCORE_DIAG_CR4_PCIDE_WITH_CR3_PCID, cr4);
    }
    /* The paging depth cannot change under a running IA-32e mode. */
    if (old_lma && lma && ((old->cr4 ^ cr4) & VCORE__CR4_LA57) != 0)
        return vcore__diag_set(d, VCORE_DIAG_CR4_LA57_CHANGE_IN_LONG_MODE, cr4);
    /* CET needs supervisor write protection: CR4.CET=1 requires CR0.WP=1.
     * When the request clears WP under an existing CET=1, the CR0 write is
     * the offending one and is named as such. */
    if ((cr4 & VCORE__CR4_CET) != 0 && (neu->cr0 & VCORE__CR0_WP) == 0) {
        if (old != NULL && (old->cr4 & VCORE__CR4_CET) != 0 && (old->cr0 & VCORE__CR0_WP) != 0)
            return vcore__diag_set(d, VCORE_DIAG_CR0_WP_CLEAR_WITH_CET, neu->cr0);
        return vcore__diag_set(d, VCORE_DIAG_CR4_CET_WITHOUT_WP, cr4);
    }
    return VCORE_OK;
}

/*
 * Segment registers. Access rights use the VMCS layout (regs.h): bits 11:8
 * and 31:17 are reserved unless the segment is unusable, in which case the
 * other bits carry no meaning. The pad word of the public struct is reserved.
 * SDM Vol. 3, "Segment Descriptors" and "Guest Register State".
 */
static int regs_check_segments(const vcore_x86_sregs_t *neu, vcore_diag_t *d)
{
    size_t i;

    for (i = 0; i < VCORE_X86_NR_SEGS; i++) {
        const vcore_x86_segment_t *s = &neu->seg[i];
        if (s->pad != 0)
            return vcore__diag_set(d, VCORE_DIAG_SEGMENT_INVALID, s->pad);
        if ((s->ar & VCORE_X86_AR_UNUSABLE) == 0 && (s->ar & VCORE_X86_AR_RESERVED) != 0)
            return vcore__diag_set(d, VCORE_DIAG_SEGMENT_INVALID, s->ar);
    }
    return VCORE_OK;
}

/*
 * In IA-32e mode the system-table bases and the FS/GS bases are 64-bit
 * linear addresses and must be canonical (SDM Vol. 1, "Canonical Addressing";
 * the same rule the VM-entry guest-state checks apply, SDM Vol. 3, "Checks on
 * Guest Segment Registers", which exempt an unusable LDTR).
 */
static int regs_check_long_mode_bases(const vcore_x86_cpu_model_t *m,
                                      const vcore_x86_sregs_t *neu, vcore_diag_t *d)
{
    static const unsigned segs[] = {VCORE_X86_FS, VCORE_X86_GS, VCORE_X86_TR, VCORE_X86_LDTR};
    size_t i;

    if ((neu->efer & VCORE__EFER_LMA) == 0)
        return VCORE_OK;
    if (!vcore__x86_is_canonical(neu->gdtr.base, m->linear_bits))
        return vcore__diag_set(d, VCORE_DIAG_NONCANONICAL, neu->gdtr.base);
    if (!vcore__x86_is_canonical(neu->idtr.base, m->linear_bits))
        return vcore__diag_set(d, VCORE_DIAG_NONCANONICAL, neu->idtr.base);
    for (i = 0; i < VCORE__ARRAY_SIZE(segs); i++) {
        uint64_t base = neu->seg[segs[i]].base;
        /* An unusable LDTR (null selector) has no base to use. */
        if (segs[i] == VCORE_X86_LDTR && (neu->seg[segs[i]].ar & VCORE_X86_AR_UNUSABLE) != 0)
            continue;
        if (!vcore__x86_is_canonical(base, m->linear_bits))
            return vcore__diag_set(d, VCORE_DIAG_NONCANONICAL, base);
    }
    return VCORE_OK;
}

int vcore__x86_check_crs(const vcore_x86_cpu_model_t *m, const vcore_x86_sregs_t *old,
                         const vcore_x86_sregs_t *neu, vcore_diag_t *d)
{
    int rc;

    if (m == NULL || neu == NULL)
        return VCORE_ERR_INVAL;
    rc = regs_check_cr0(m, neu->cr0, d);
    if (rc != VCORE_OK)
        return rc;
    /* EFER reserved bits: SDM Vol. 3 / APM Vol. 2, "Extended Feature Enable
     * Register" - a bit the vCPU's CPUID does not enumerate is reserved. */
    if ((neu->efer & m->efer_reserved) != 0)
        return vcore__diag_set(d, VCORE_DIAG_EFER_RESERVED, neu->efer);
    rc = regs_check_efer_mode(old, neu, d);
    if (rc != VCORE_OK)
        return rc;
    rc = regs_check_cr4(m, old, neu, d);
    if (rc != VCORE_OK)
        return rc;
    /* CR3 holds a physical address: no bit at or above MAXPHYADDR (the
     * register never holds the MOV-to-CR3 no-flush bit 63; LAM's bits 62:61
     * are not modelled). SDM Vol. 3, "Control Registers". */
    if (!vcore__x86_phys_ok(neu->cr3, m->maxphyaddr))
        return vcore__diag_set(d, VCORE_DIAG_CR3_RESERVED, neu->cr3);
    /* CR8 is the 4-bit task-priority class; bits 63:4 are reserved. */
    if ((neu->cr8 & ~0xfull) != 0)
        return vcore__diag_set(d, VCORE_DIAG_CR8_RESERVED, neu->cr8);
    return VCORE_OK;
}

int vcore__x86_check_sregs(const vcore_x86_cpu_model_t *m, const vcore_x86_sregs_t *old,
                           const vcore_x86_sregs_t *neu, vcore_diag_t *d)
{
    int rc = vcore__x86_check_crs(m, old, neu, d);
    if (rc != VCORE_OK)
        return rc;
    rc = regs_check_segments(neu, d);
    if (rc != VCORE_OK)
        return rc;
    return regs_check_long_mode_bases(m, neu, d);
}

/*
 * Debug registers. DR0-DR3 hold linear addresses (SDM Vol. 3, "Debug Address
 * Registers (DR0-DR3)"): canonical for the vCPU's width. The upper 32 bits of
 * DR6 and DR7 are reserved and must be 0 (SDM Vol. 3, "Debug Status Register
 * (DR6)", "Debug Control Register (DR7)").
 */
int vcore__x86_check_dregs(const vcore_x86_cpu_model_t *m, const vcore_x86_dregs_t *dr,
                           vcore_diag_t *d)
{
    size_t i;

    if (m == NULL || dr == NULL)
        return VCORE_ERR_INVAL;
    for (i = 0; i < 4; i++) {
        if (!vcore__x86_is_canonical(dr->dr[i], m->linear_bits))
            return vcore__diag_set(d, VCORE_DIAG_NONCANONICAL, dr->dr[i]);
    }
    if ((dr->dr6 >> 32) != 0)
        return vcore__diag_set(d, VCORE_DIAG_DR6_RESERVED, dr->dr6);
    if ((dr->dr7 >> 32) != 0)
        return vcore__diag_set(d, VCORE_DIAG_DR7_RESERVED, dr->dr7);
    return VCORE_OK;
}

/*
 * SDM Vol. 1, "MXCSR Control and Status Register": loading MXCSR with a bit
 * outside MXCSR_MASK raises #GP. A mask of 0 in the FXSAVE image means the
 * processor predates the field and the default mask FFBFH (no DAZ) applies
 * ("Guidelines for Writing to the MXCSR Register").
 */
int vcore__x86_check_fpu(const vcore_x86_fpu_t *f, vcore_diag_t *d)
{
    uint32_t mask;

    if (f == NULL)
        return VCORE_ERR_INVAL;
    mask = f->mxcsr_mask != 0 ? f->mxcsr_mask : 0xffbfu;
    if ((f->mxcsr & ~mask) != 0)
        return vcore__diag_set(d, VCORE_DIAG_MXCSR_RESERVED, f->mxcsr);
    return VCORE_OK;
}

/*
 * XSETBV rules, SDM Vol. 1, "Enabling the XSAVE Feature Set and
 * XSAVE-Enabled Features": x87 (bit 0) is always enabled; only supported
 * components may be set; AVX needs SSE; the two MPX components go together;
 * the three AVX-512 components go together and need AVX; the two AMX
 * components go together.
 */
int vcore__x86_check_xcr0(const vcore_x86_cpu_model_t *m, uint64_t xcr0, vcore_diag_t *d)
{
    uint64_t avx512;

    if (m == NULL)
        return VCORE_ERR_INVAL;
    if ((xcr0 & VCORE__XCR0_X87) == 0)
        return vcore__diag_set(d, VCORE_DIAG_XCR0_INVALID, xcr0);
    if ((xcr0 & ~m->supported_xcr0) != 0)
        return vcore__diag_set(d, VCORE_DIAG_XCR0_INVALID, xcr0);
    if ((xcr0 & VCORE__XCR0_AVX) != 0 && (xcr0 & VCORE__XCR0_SSE) == 0)
        return vcore__diag_set(d, VCORE_DIAG_XCR0_INVALID, xcr0);
    if (((xcr0 & VCORE__XCR0_BNDREGS) != 0) != ((xcr0 & VCORE__XCR0_BNDCSR) != 0))
        return vcore__diag_set(d, VCORE_DIAG_XCR0_INVALID, xcr0);
    avx512 = xcr0 & VCORE__XCR0_AVX512;
    if (avx512 != 0 && (avx512 != VCORE__XCR0_AVX512 || (xcr0 & VCORE__XCR0_AVX) == 0))
        return vcore__diag_set(d, VCORE_DIAG_XCR0_INVALID, xcr0);
    if (((xcr0 & VCORE__XCR0_TILECFG) != 0) != ((xcr0 & VCORE__XCR0_TILEDATA) != 0))
        return vcore__diag_set(d, VCORE_DIAG_XCR0_INVALID, xcr0);
    return VCORE_OK;
}
