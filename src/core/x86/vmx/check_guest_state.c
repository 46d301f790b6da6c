/*
 * check_guest_state.c - SDM Vol. 3, "Checks on Guest RIP, RFLAGS, and SSP",
 * "Checks on Guest Non-Register State" (activity state, interruptibility,
 * pending debug exceptions, VMCS link pointer) and "Checks on Guest
 * Page-Directory-Pointer-Table Entries". Failures are VM-entry failures
 * with exit reason 33: qualification 0, 4 for the VMCS link pointer, 2 for
 * the PDPTEs ("VM-Entry Failures During or After Loading Guest State").
 */
#include "check_priv.h"

/* RFLAGS bits 63:22, 15, 5 and 3 are reserved (SDM Vol. 1, "EFLAGS Register"). */
#define RFLAGS_RESERVED_MASK (VCORE__BIT(3) | VCORE__BIT(5) | VCORE__BIT(15) | ~(VCORE__BIT(22) - 1u))
/* Pending debug exceptions: bits 11:4, 13, 15 and 63:17 are reserved. */
#define PENDDBG_RESERVED_MASK (0xff0ull | VCORE__BIT(13) | VCORE__BIT(15) | ~(VCORE__BIT(17) - 1u))
/* With RTM pending, bits 11:0 and 15:13 must be 0 as well. */
#define PENDDBG_RTM_CLEAR_MASK (0xfffull | 0xe000ull)
/* PAE PDPTE bits 2:1 and 8:5 are reserved (SDM Vol. 3, "PAE Paging"). */
#define PDPTE_RESERVED_MASK 0x1e6ull

/* 64-bit mode after the entry: IA-32e mode guest with CS.L. */
static bool guest_long64(bool ia32e, const vcore__vmcs12_t *v)
{
    return ia32e && (v->GUEST_CS_AR_BYTES & VCORE_X86_AR_L);
}

/* The table's rules reading guest RIP are the two below: the RIP-only run
 * (vcore__vmx_check_rip_only) decides exactly those. */
#define RIP_RULE(run, name, value, cls, sec, msg, in) +(((in) & VCORE_VMX_IN_RIP) != 0)
#define RIP_SEC(name, rows, run, b) rows(RIP_RULE, run)
VCORE__STATIC_ASSERT(0 VCORE__VMX_SECTIONS(RIP_SEC, -) == 2, rip_rules_are_two);
#undef RIP_SEC
#undef RIP_RULE

bool vcore__vmx_check_rip_only(const vcore__vmcs12_t *v)
{
    if (guest_long64((v->VM_ENTRY_CONTROLS & VCORE__ENTRY_IA32E) != 0, v))
        return vcore__vmx_upper_identical48(v->GUEST_RIP);
    return (v->GUEST_RIP >> 32) == 0;
}

void vcore__vmx_check_guest_rip(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    uint64_t rflags = v->GUEST_RFLAGS, info = v->VM_ENTRY_INTR_INFO_FIELD;
    bool long64 = guest_long64(c->ia32e, v);

    VCORE__CHK(c, !long64 && (v->GUEST_RIP >> 32), GUEST_RIP_HIGH, v->GUEST_RIP);
    VCORE__CHK(c, long64 && !vcore__vmx_chk_upper_identical(c, v->GUEST_RIP), GUEST_RIP_LINEAR_WIDTH,
               v->GUEST_RIP);
    VCORE__CHK(c, rflags & RFLAGS_RESERVED_MASK, GUEST_RFLAGS_RESERVED, rflags);
    VCORE__CHK(c, !(rflags & VCORE__RFLAGS_FIXED1), GUEST_RFLAGS_BIT1, rflags);
    VCORE__CHK(c, (rflags & VCORE__RFLAGS_VM) && c->ia32e, GUEST_RFLAGS_VM_IA32E, rflags);
    VCORE__CHK(c, (rflags & VCORE__RFLAGS_VM) && !(v->GUEST_CR0 & VCORE__CR0_PE), GUEST_RFLAGS_VM_REAL, rflags);
    VCORE__CHK(c, (info & VCORE__IINFO_VALID) && VCORE__IINFO_TYPE(info) == VCORE__ITYPE_EXT_INT &&
                      !(rflags & VCORE__RFLAGS_IF),
               GUEST_RFLAGS_IF_EXTINT, rflags);
    if (c->entry & VCORE__ENTRY_LOAD_CET) {
        VCORE__CHK(c, v->GUEST_SSP & 3u, GUEST_SSP_ALIGN, v->GUEST_SSP);
        VCORE__CHK(c, !long64 && (v->GUEST_SSP >> 32), GUEST_SSP_HIGH, v->GUEST_SSP);
        VCORE__CHK(c, long64 && !vcore__vmx_chk_upper_identical(c, v->GUEST_SSP), GUEST_SSP_LINEAR_WIDTH,
                   v->GUEST_SSP);
    }
}

/* SDM "Guest Non-Register State": which injected events each activity
 * state allows. HLT: external interrupts, NMIs, #DB (hardware exception 1),
 * #MC (18) and pending MTF (other event 0); shutdown: NMIs and #MC;
 * wait-for-SIPI: nothing. */
static bool state_hlt_allows(uint32_t type, uint32_t vector)
{
    return type == VCORE__ITYPE_EXT_INT || type == VCORE__ITYPE_NMI ||
           (type == VCORE__ITYPE_HW_EXC && (vector == 1 || vector == 18)) ||
           (type == VCORE__ITYPE_OTHER && vector == 0);
}

static bool state_shutdown_allows(uint32_t type, uint32_t vector)
{
    return type == VCORE__ITYPE_NMI || (type == VCORE__ITYPE_HW_EXC && vector == 18);
}

void vcore__vmx_check_guest_nonreg(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    uint64_t misc = c->caps[VCORE_NVMX_CAP_MISC], pd = v->GUEST_PENDING_DBG_EXCEPTIONS;
    uint32_t act = v->GUEST_ACTIVITY_STATE, intr = v->GUEST_INTERRUPTIBILITY_INFO;
    uint32_t info = v->VM_ENTRY_INTR_INFO_FIELD;
    uint32_t type = VCORE__IINFO_TYPE(info), vector = VCORE__IINFO_VECTOR(info);
    bool inject = (info & VCORE__IINFO_VALID) != 0;
    bool nmi = inject && type == VCORE__ITYPE_NMI;
    bool supported = act == VCORE__ACT_ACTIVE || (act == VCORE__ACT_HLT && (misc & VCORE__VMX_MISC_ACT_HLT)) ||
                     (act == VCORE__ACT_SHUTDOWN && (misc & VCORE__VMX_MISC_ACT_SHUTDOWN)) ||
                     (act == VCORE__ACT_SIPI && (misc & VCORE__VMX_MISC_ACT_SIPI));

    /* Activity state. */
    VCORE__CHK(c, !supported, GUEST_ACTIVITY_STATE, act);
    VCORE__CHK(c, act == VCORE__ACT_HLT && (v->GUEST_SS_AR_BYTES & VCORE_X86_AR_DPL_MASK) != 0, GUEST_ACTIVITY_HLT_SS_DPL, v->GUEST_SS_AR_BYTES);
    VCORE__CHK(c, act != VCORE__ACT_ACTIVE && (intr & (VCORE__INTR_STI | VCORE__INTR_MOVSS)),
               GUEST_ACTIVITY_BLOCKING, intr);
    if (inject) {
        VCORE__CHK(c, act == VCORE__ACT_HLT && !state_hlt_allows(type, vector), GUEST_ACTIVITY_EVENT_HLT, info);
        VCORE__CHK(c, act == VCORE__ACT_SHUTDOWN && !state_shutdown_allows(type, vector),
                   GUEST_ACTIVITY_EVENT_SHUTDOWN, info);
        VCORE__CHK(c, act == VCORE__ACT_SIPI, GUEST_ACTIVITY_EVENT_SIPI, info);
    }
    VCORE__CHK(c, act == VCORE__ACT_SIPI && (c->entry & VCORE__ENTRY_SMM), GUEST_ACTIVITY_SIPI_SMM, act);

    /* Interruptibility state (the library's processor is never in SMM). */
    VCORE__CHK(c, intr & ~0x1fu, GUEST_INTR_RESERVED, intr);
    VCORE__CHK(c, (intr & (VCORE__INTR_STI | VCORE__INTR_MOVSS)) == (VCORE__INTR_STI | VCORE__INTR_MOVSS),
               GUEST_INTR_STI_MOVSS, intr);
    VCORE__CHK(c, (intr & VCORE__INTR_STI) && !(v->GUEST_RFLAGS & VCORE__RFLAGS_IF), GUEST_INTR_STI_IF, intr);
    VCORE__CHK(c, inject && type == VCORE__ITYPE_EXT_INT && (intr & (VCORE__INTR_STI | VCORE__INTR_MOVSS)),
               GUEST_INTR_EXTINT, intr);
    VCORE__CHK(c, nmi && (intr & VCORE__INTR_MOVSS), GUEST_INTR_NMI_MOVSS, intr);
    VCORE__CHK(c, intr & VCORE__INTR_SMI, GUEST_INTR_SMI, intr);
    VCORE__CHK(c, (c->entry & VCORE__ENTRY_SMM) && !(intr & VCORE__INTR_SMI), GUEST_INTR_SMI_ENTRY_SMM, intr);
    /* "A processor may require bit 0 (blocking by STI) to be 0" with NMI
     * injection: this model does, like the emulated processors it is
     * compared with. */
    VCORE__CHK(c, nmi && (intr & VCORE__INTR_STI), GUEST_INTR_NMI_STI, intr);
    VCORE__CHK(c, nmi && (c->pin & VCORE__PIN_VIRTUAL_NMIS) && (intr & VCORE__INTR_NMI), GUEST_INTR_VNMI_BLOCKED,
               intr);
    if (intr & VCORE__INTR_ENCLAVE) {
        VCORE__CHK(c, intr & VCORE__INTR_MOVSS, GUEST_INTR_ENCLAVE_MOVSS, intr);
        VCORE__CHK(c, !(vcore__vmx_chk_leaf7(c, 0) & VCORE__CPUID_7_EBX_SGX), GUEST_INTR_ENCLAVE_SGX, intr);
    }

    /* Pending debug exceptions. */
    VCORE__CHK(c, pd & PENDDBG_RESERVED_MASK, GUEST_PENDDBG_RESERVED, pd);
    if ((intr & (VCORE__INTR_STI | VCORE__INTR_MOVSS)) || act == VCORE__ACT_HLT) {
        bool tf = (v->GUEST_RFLAGS & VCORE__RFLAGS_TF) != 0;
        bool btf = (v->GUEST_IA32_DEBUGCTL & VCORE__DEBUGCTL_BTF) != 0;
        VCORE__CHK(c, tf && !btf && !(pd & VCORE__PENDDBG_BS), GUEST_PENDDBG_BS_SET, pd);
        VCORE__CHK(c, (!tf || btf) && (pd & VCORE__PENDDBG_BS), GUEST_PENDDBG_BS_CLEAR, pd);
    }
    if (pd & VCORE__PENDDBG_RTM) {
        VCORE__CHK(c, !(vcore__vmx_chk_leaf7(c, 0) & VCORE__CPUID_7_EBX_RTM), GUEST_PENDDBG_RTM_UNSUPPORTED, pd);
        VCORE__CHK(c, pd & PENDDBG_RTM_CLEAR_MASK, GUEST_PENDDBG_RTM_BITS, pd);
        VCORE__CHK(c, !(pd & VCORE__PENDDBG_ENABLED_BP), GUEST_PENDDBG_RTM_BIT12, pd);
        VCORE__CHK(c, intr & VCORE__INTR_MOVSS, GUEST_PENDDBG_RTM_MOVSS, intr);
    }
}

/* The VMCS link pointer: all ones, or the address of a VMCS whose header
 * says what "VMCS shadowing" expects. The 4 header bytes are read once and
 * only when the address itself is valid. */
void vcore__vmx_check_guest_link(vcore__vmx_chk_t *c)
{
    uint64_t lp = c->v->VMCS_LINK_POINTER;
    bool addr_ok = (lp & 0xfffu) == 0 && vcore__vmx_chk_ptr_ok(c, lp);
    uint32_t hdr = 0;

    if (lp == ~0ull)
        return;
    VCORE__CHK(c, lp & 0xfffu, GUEST_LINK_ALIGN, lp);
    VCORE__CHK(c, !vcore__vmx_chk_ptr_ok(c, lp), GUEST_LINK_WIDTH, lp);
    if (addr_ok) {
        vcore__vmx_chk_read(c, lp, &hdr, sizeof(hdr));
        VCORE__CHK(c, VCORE__VMX_BASIC_REVISION(hdr) != VCORE__VMX_BASIC_REVISION(c->caps[VCORE_NVMX_CAP_BASIC]),
                   GUEST_LINK_REVISION, hdr);
        VCORE__CHK(c, ((hdr & VCORE_VMCS12_SHADOW_BIT) != 0) != ((c->proc2 & VCORE__PROC2_SHADOW_VMCS) != 0),
                   GUEST_LINK_SHADOW, hdr);
    }
    VCORE__CHK(c, lp == c->in->current_vmptr, GUEST_LINK_CURRENT, lp);
}

/* PAE paging outside IA-32e mode: the four PDPTEs come from the PDPTE
 * fields with EPT, otherwise from the 32 bytes CR3[31:5] points at (read
 * once). A present PDPTE must not set reserved bits. */
void vcore__vmx_check_guest_pdpte(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    uint64_t pdpte[4];
    uint32_t i;

    if (!(v->GUEST_CR0 & VCORE__CR0_PG) || !(v->GUEST_CR4 & VCORE__CR4_PAE) || c->ia32e)
        return;
    if (c->proc2 & VCORE__PROC2_EPT) {
        pdpte[0] = v->GUEST_PDPTR0;
        pdpte[1] = v->GUEST_PDPTR1;
        pdpte[2] = v->GUEST_PDPTR2;
        pdpte[3] = v->GUEST_PDPTR3;
    } else {
        vcore__vmx_chk_read(c, v->GUEST_CR3 & 0xffffffe0ull, pdpte, sizeof(pdpte));
    }
    for (i = 0; i < 4; i++) {
        if (!(pdpte[i] & 1u))
            continue;
        VCORE__CHK_ID(c, pdpte[i] & PDPTE_RESERVED_MASK, (uint32_t)VCORE_VMX_CHECK_GUEST_PDPTE0_RESERVED + 2u * i,
                      pdpte[i]);
        VCORE__CHK_ID(c, !vcore__x86_phys_ok(pdpte[i], c->in->maxphyaddr),
                      (uint32_t)VCORE_VMX_CHECK_GUEST_PDPTE0_WIDTH + 2u * i, pdpte[i]);
    }
}
