/*
 * check_guest_seg.c - SDM Vol. 3, "Checks on Guest Segment Registers" and
 * "Checks on Guest Descriptor-Table Registers". A failure is a VM-entry
 * failure: exit reason 33, qualification 0.
 *
 * Modes: virtual-8086 is the RFLAGS.VM bit of the guest RFLAGS field;
 * IA-32e mode is the "IA-32e mode guest" VM-entry control; "unrestricted
 * guest" relaxes the CS type, the DPL/RPL rules and CR0.PE. A register is
 * unusable when bit 16 of its access rights is 1; CS and TR are checked
 * whatever that bit says.
 */
#include "check_priv.h"

/* Access-rights fields (SDM "Guest Register State"). */
#define AR_TYPE(ar) ((ar) & VCORE_X86_AR_TYPE_MASK)
#define AR_DPL(ar) (((ar) & VCORE_X86_AR_DPL_MASK) >> VCORE_X86_AR_DPL_SHIFT)
#define AR_RESERVED_LOW 0xf00u        /* bits 11:8 */
#define AR_RESERVED_HIGH 0xfffe0000u  /* bits 31:17 */
#define USABLE(ar) (((ar) & VCORE_X86_AR_UNUSABLE) == 0)

typedef struct seg {
    uint16_t sel;
    uint32_t limit;
    uint32_t ar;
    uint64_t base;
} seg_t;

/* Index in the SDM's register order. */
enum { S_CS, S_SS, S_DS, S_ES, S_FS, S_GS, S_NR };

/* "If any bit in the limit field in the range 11:0 is 0, G must be 0";
 * "if any bit in the limit field in the range 31:20 is 1, G must be 1". */
static bool seg_g0_bad(const seg_t *s)
{
    return (s->limit & 0xfffu) != 0xfffu && (s->ar & VCORE_X86_AR_G);
}

static bool seg_g1_bad(const seg_t *s)
{
    return (s->limit & 0xfff00000u) && !(s->ar & VCORE_X86_AR_G);
}

/* The access-rights rules for CS, SS, DS, ES, FS, GS outside virtual-8086
 * mode, attribute by attribute as the SDM lists them. */
static void seg_access_rights(vcore__vmx_chk_t *c, const seg_t *s)
{
    uint32_t cs_type = AR_TYPE(s[S_CS].ar), cs_dpl = AR_DPL(s[S_CS].ar), ss_dpl = AR_DPL(s[S_SS].ar);
    uint32_t k, t;

    /* Type. */
    VCORE__CHK(c, !(cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15 || (c->urg && cs_type == 3)),
               GUEST_CS_TYPE, s[S_CS].ar);
    VCORE__CHK(c, USABLE(s[S_SS].ar) && AR_TYPE(s[S_SS].ar) != 3 && AR_TYPE(s[S_SS].ar) != 7, GUEST_SS_TYPE,
               s[S_SS].ar);
    for (k = S_DS; k < S_NR; k++)
        VCORE__CHK_ID(c, USABLE(s[k].ar) && !(AR_TYPE(s[k].ar) & 1u),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_DS_TYPE_ACCESSED + (k - S_DS), s[k].ar);
    for (k = S_DS; k < S_NR; k++) {
        t = AR_TYPE(s[k].ar);
        VCORE__CHK_ID(c, USABLE(s[k].ar) && (t & 8u) && !(t & 2u),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_DS_TYPE_READABLE + (k - S_DS), s[k].ar);
    }
    /* S: code or data segment. */
    for (k = S_CS; k < S_NR; k++)
        VCORE__CHK_ID(c, (k == S_CS || USABLE(s[k].ar)) && !(s[k].ar & VCORE_X86_AR_S),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_CS_S + k, s[k].ar);
    /* DPL. SS.DPL is the CPL, kept even for an unusable SS. */
    VCORE__CHK(c, cs_type == 3 && cs_dpl != 0, GUEST_CS_DPL_DATA, s[S_CS].ar);
    VCORE__CHK(c, (cs_type == 9 || cs_type == 11) && cs_dpl != ss_dpl, GUEST_CS_DPL_NONCONFORMING, s[S_CS].ar);
    VCORE__CHK(c, (cs_type == 13 || cs_type == 15) && cs_dpl > ss_dpl, GUEST_CS_DPL_CONFORMING, s[S_CS].ar);
    VCORE__CHK(c, !c->urg && ss_dpl != (s[S_SS].sel & 3u), GUEST_SS_DPL_RPL, s[S_SS].ar);
    VCORE__CHK(c, (cs_type == 3 || !(c->v->GUEST_CR0 & VCORE__CR0_PE)) && ss_dpl != 0, GUEST_SS_DPL_REAL,
               s[S_SS].ar);
    for (k = S_DS; k < S_NR; k++)
        VCORE__CHK_ID(c, !c->urg && USABLE(s[k].ar) && AR_TYPE(s[k].ar) <= 11 && AR_DPL(s[k].ar) < (s[k].sel & 3u),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_DS_DPL_RPL + (k - S_DS), s[k].ar);
    /* P, reserved bits 11:8. */
    for (k = S_CS; k < S_NR; k++)
        VCORE__CHK_ID(c, (k == S_CS || USABLE(s[k].ar)) && !(s[k].ar & VCORE_X86_AR_P),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_CS_P + k, s[k].ar);
    for (k = S_CS; k < S_NR; k++)
        VCORE__CHK_ID(c, (k == S_CS || USABLE(s[k].ar)) && (s[k].ar & AR_RESERVED_LOW),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_CS_AR_RESERVED_LOW + k, s[k].ar);
    /* D/B of a 64-bit code segment. */
    VCORE__CHK(c, c->ia32e && (s[S_CS].ar & VCORE_X86_AR_L) && (s[S_CS].ar & VCORE_X86_AR_DB), GUEST_CS_DB_LONG,
               s[S_CS].ar);
    /* G against the limit, reserved bits 31:17. */
    for (k = S_CS; k < S_NR; k++)
        VCORE__CHK_ID(c, (k == S_CS || USABLE(s[k].ar)) && seg_g0_bad(&s[k]),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_CS_LIMIT_G0 + k, s[k].limit);
    for (k = S_CS; k < S_NR; k++)
        VCORE__CHK_ID(c, (k == S_CS || USABLE(s[k].ar)) && seg_g1_bad(&s[k]),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_CS_LIMIT_G1 + k, s[k].limit);
    for (k = S_CS; k < S_NR; k++)
        VCORE__CHK_ID(c, (k == S_CS || USABLE(s[k].ar)) && (s[k].ar & AR_RESERVED_HIGH),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_CS_AR_RESERVED_HIGH + k, s[k].ar);
}

void vcore__vmx_check_guest_seg(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    const seg_t s[S_NR] = {
        {v->GUEST_CS_SELECTOR, v->GUEST_CS_LIMIT, v->GUEST_CS_AR_BYTES, v->GUEST_CS_BASE},
        {v->GUEST_SS_SELECTOR, v->GUEST_SS_LIMIT, v->GUEST_SS_AR_BYTES, v->GUEST_SS_BASE},
        {v->GUEST_DS_SELECTOR, v->GUEST_DS_LIMIT, v->GUEST_DS_AR_BYTES, v->GUEST_DS_BASE},
        {v->GUEST_ES_SELECTOR, v->GUEST_ES_LIMIT, v->GUEST_ES_AR_BYTES, v->GUEST_ES_BASE},
        {v->GUEST_FS_SELECTOR, v->GUEST_FS_LIMIT, v->GUEST_FS_AR_BYTES, v->GUEST_FS_BASE},
        {v->GUEST_GS_SELECTOR, v->GUEST_GS_LIMIT, v->GUEST_GS_AR_BYTES, v->GUEST_GS_BASE},
    };
    const seg_t tr = {v->GUEST_TR_SELECTOR, v->GUEST_TR_LIMIT, v->GUEST_TR_AR_BYTES, v->GUEST_TR_BASE};
    const seg_t ldtr = {v->GUEST_LDTR_SELECTOR, v->GUEST_LDTR_LIMIT, v->GUEST_LDTR_AR_BYTES, v->GUEST_LDTR_BASE};
    bool v86 = (v->GUEST_RFLAGS & VCORE__RFLAGS_VM) != 0;
    bool ldtr_usable = USABLE(ldtr.ar);
    uint32_t k, t;

    /* Selector fields. */
    VCORE__CHK(c, tr.sel & 4u, GUEST_TR_SELECTOR_TI, tr.sel);
    VCORE__CHK(c, ldtr_usable && (ldtr.sel & 4u), GUEST_LDTR_SELECTOR_TI, ldtr.sel);
    VCORE__CHK(c, !v86 && !c->urg && (s[S_SS].sel & 3u) != (s[S_CS].sel & 3u), GUEST_SS_RPL_CS_RPL,
               s[S_SS].sel);
    /* Base-address fields. */
    if (v86)
        for (k = S_CS; k < S_NR; k++)
            VCORE__CHK_ID(c, s[k].base != (uint64_t)s[k].sel << 4, (uint32_t)VCORE_VMX_CHECK_GUEST_CS_V86_BASE + k,
                          s[k].base);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, tr.base), GUEST_TR_BASE_CANONICAL, tr.base);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, s[S_FS].base), GUEST_FS_BASE_CANONICAL, s[S_FS].base);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, s[S_GS].base), GUEST_GS_BASE_CANONICAL, s[S_GS].base);
    VCORE__CHK(c, ldtr_usable && !vcore__vmx_chk_canonical(c, ldtr.base), GUEST_LDTR_BASE_CANONICAL, ldtr.base);
    VCORE__CHK(c, s[S_CS].base >> 32, GUEST_CS_BASE_HIGH, s[S_CS].base);
    for (k = S_SS; k <= S_ES; k++)
        VCORE__CHK_ID(c, USABLE(s[k].ar) && (s[k].base >> 32), (uint32_t)VCORE_VMX_CHECK_GUEST_CS_BASE_HIGH + k,
                      s[k].base);
    /* Limit fields, then access rights. */
    if (v86) {
        for (k = S_CS; k < S_NR; k++)
            VCORE__CHK_ID(c, s[k].limit != 0xffffu, (uint32_t)VCORE_VMX_CHECK_GUEST_CS_V86_LIMIT + k, s[k].limit);
        for (k = S_CS; k < S_NR; k++)
            VCORE__CHK_ID(c, s[k].ar != 0xf3u, (uint32_t)VCORE_VMX_CHECK_GUEST_CS_V86_AR + k, s[k].ar);
    } else {
        seg_access_rights(c, s);
        if (c->stop)
            return;
    }
    /* TR: a busy TSS, 32/64-bit in IA-32e mode. */
    t = AR_TYPE(tr.ar);
    VCORE__CHK(c, c->ia32e ? t != 11 : (t != 3 && t != 11), GUEST_TR_TYPE, tr.ar);
    VCORE__CHK(c, tr.ar & VCORE_X86_AR_S, GUEST_TR_S, tr.ar);
    VCORE__CHK(c, !(tr.ar & VCORE_X86_AR_P), GUEST_TR_P, tr.ar);
    VCORE__CHK(c, tr.ar & AR_RESERVED_LOW, GUEST_TR_AR_RESERVED_LOW, tr.ar);
    VCORE__CHK(c, seg_g0_bad(&tr), GUEST_TR_LIMIT_G0, tr.limit);
    VCORE__CHK(c, seg_g1_bad(&tr), GUEST_TR_LIMIT_G1, tr.limit);
    VCORE__CHK(c, !USABLE(tr.ar), GUEST_TR_UNUSABLE, tr.ar);
    VCORE__CHK(c, tr.ar & AR_RESERVED_HIGH, GUEST_TR_AR_RESERVED_HIGH, tr.ar);
    /* LDTR, if usable: an LDT descriptor. */
    if (ldtr_usable) {
        VCORE__CHK(c, AR_TYPE(ldtr.ar) != 2, GUEST_LDTR_TYPE, ldtr.ar);
        VCORE__CHK(c, ldtr.ar & VCORE_X86_AR_S, GUEST_LDTR_S, ldtr.ar);
        VCORE__CHK(c, !(ldtr.ar & VCORE_X86_AR_P), GUEST_LDTR_P, ldtr.ar);
        VCORE__CHK(c, ldtr.ar & AR_RESERVED_LOW, GUEST_LDTR_AR_RESERVED_LOW, ldtr.ar);
        VCORE__CHK(c, seg_g0_bad(&ldtr), GUEST_LDTR_LIMIT_G0, ldtr.limit);
        VCORE__CHK(c, seg_g1_bad(&ldtr), GUEST_LDTR_LIMIT_G1, ldtr.limit);
        VCORE__CHK(c, ldtr.ar & AR_RESERVED_HIGH, GUEST_LDTR_AR_RESERVED_HIGH, ldtr.ar);
    }
}

void vcore__vmx_check_guest_dt(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;

    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->GUEST_GDTR_BASE), GUEST_GDTR_BASE_CANONICAL,
               v->GUEST_GDTR_BASE);
    VCORE__CHK(c, !vcore__vmx_chk_canonical(c, v->GUEST_IDTR_BASE), GUEST_IDTR_BASE_CANONICAL,
               v->GUEST_IDTR_BASE);
    VCORE__CHK(c, v->GUEST_GDTR_LIMIT >> 16, GUEST_GDTR_LIMIT, v->GUEST_GDTR_LIMIT);
    VCORE__CHK(c, v->GUEST_IDTR_LIMIT >> 16, GUEST_IDTR_LIMIT, v->GUEST_IDTR_LIMIT);
}
