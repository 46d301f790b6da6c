/*
 * msr.c - the MSRs the vCPU model holds: RDMSR/WRMSR semantics.
 *
 * A write is validated against a private copy of the state and committed
 * only when every rule passed, so a refused write leaves the vCPU untouched.
 * EFER and the FS/GS bases are not in vcore_x86_msrs_t: EFER lives in the
 * system registers and FS_BASE/GS_BASE are the hidden bases of FS and GS
 * (SDM Vol. 3, "Segment Loading Instructions in IA-32e Mode").
 */
#include "x86.h"
#include "x86_bits.h"

/* IA32_APIC_BASE bits 7:0 and 9 are reserved (SDM Vol. 3, "Local APIC Status
 * and Location"); bits at or above MAXPHYADDR are checked separately. */
#define MSR_APIC_BASE_LOW_RESERVED 0x2ffull

/* IA32_MISC_ENABLE bits software cannot change (SDM Vol. 4, "IA32_MISC_ENABLE"):
 * branch trace storage unavailable (11) and PEBS unavailable (12). */
#define MSR_MISC_ENABLE_READ_ONLY                                              \
    (VCORE_MISC_ENABLE_BTS_UNAVAIL | VCORE_MISC_ENABLE_PEBS_UNAVAIL)

uint32_t vcore__x86_msr_classes(uint32_t index)
{
    switch (index) {
    case VCORE_MSR_IA32_EFER:
        return VCORE_X86_STATE_EFER;
    case VCORE_MSR_IA32_FS_BASE:
    case VCORE_MSR_IA32_GS_BASE:
        return VCORE_X86_STATE_SEG_DATA;
    case VCORE_MSR_IA32_TSC:
        /* Its own group: writing another MSR never re-sends a stale TSC. */
        return VCORE_X86_STATE_TSC;
    case VCORE_MSR_IA32_FEATURE_CONTROL:
    case VCORE_MSR_IA32_APIC_BASE:
    case VCORE_MSR_IA32_SMBASE:
    case VCORE_MSR_IA32_SYSENTER_CS:
    case VCORE_MSR_IA32_SYSENTER_ESP:
    case VCORE_MSR_IA32_SYSENTER_EIP:
    case VCORE_MSR_IA32_MISC_ENABLE:
    case VCORE_MSR_IA32_PAT:
    case VCORE_MSR_IA32_DEBUGCTL:
    case VCORE_MSR_IA32_STAR:
    case VCORE_MSR_IA32_LSTAR:
    case VCORE_MSR_IA32_CSTAR:
    case VCORE_MSR_IA32_FMASK:
    case VCORE_MSR_IA32_KERNEL_GS_BASE:
    case VCORE_MSR_IA32_TSC_AUX:
        return VCORE_X86_STATE_MSRS;
    default:
        return 0;
    }
}

/* Where an MSR is stored in the state; NULL for an index not modelled. */
static uint64_t *msr_slot(vcore_x86_state_t *st, uint32_t index)
{
    switch (index) {
    case VCORE_MSR_IA32_TSC:
        return &st->msrs.tsc;
    case VCORE_MSR_IA32_APIC_BASE:
        return &st->msrs.apic_base;
    case VCORE_MSR_IA32_SMBASE:
        return &st->msrs.smbase;
    case VCORE_MSR_IA32_SYSENTER_CS:
        return &st->msrs.sysenter_cs;
    case VCORE_MSR_IA32_SYSENTER_ESP:
        return &st->msrs.sysenter_esp;
    case VCORE_MSR_IA32_SYSENTER_EIP:
        return &st->msrs.sysenter_eip;
    case VCORE_MSR_IA32_MISC_ENABLE:
        return &st->msrs.misc_enable;
    case VCORE_MSR_IA32_PAT:
        return &st->msrs.pat;
    case VCORE_MSR_IA32_DEBUGCTL:
        return &st->msrs.debugctl;
    case VCORE_MSR_IA32_EFER:
        return &st->sregs.efer;
    case VCORE_MSR_IA32_STAR:
        return &st->msrs.star;
    case VCORE_MSR_IA32_LSTAR:
        return &st->msrs.lstar;
    case VCORE_MSR_IA32_CSTAR:
        return &st->msrs.cstar;
    case VCORE_MSR_IA32_FMASK:
        return &st->msrs.sfmask;
    case VCORE_MSR_IA32_FS_BASE:
        return &st->sregs.seg[VCORE_X86_FS].base;
    case VCORE_MSR_IA32_GS_BASE:
        return &st->sregs.seg[VCORE_X86_GS].base;
    case VCORE_MSR_IA32_KERNEL_GS_BASE:
        return &st->msrs.kernel_gs_base;
    case VCORE_MSR_IA32_TSC_AUX:
        return &st->msrs.tsc_aux;
    case VCORE_MSR_IA32_FEATURE_CONTROL:
        return &st->msrs.feature_control;
    default:
        return NULL;
    }
}

int vcore__x86_msr_get(const vcore_x86_state_t *st, uint32_t index, uint64_t *value)
{
    const uint64_t *slot;

    if (st == NULL || value == NULL)
        return VCORE_ERR_INVAL;
    /* msr_slot() only computes an address; the const is restored here. */
    slot = msr_slot((vcore_x86_state_t *)(uintptr_t)st, index);
    if (slot == NULL)
        return VCORE_ERR_NOENT;
    *value = *slot;
    return VCORE_OK;
}

/*
 * IA32_APIC_BASE. SDM Vol. 3, "Local APIC Status and Location" (reserved
 * bits) and "x2APIC State Transitions": EN=0/EXTD=1 is the invalid state;
 * EXTD needs an x2APIC-capable CPUID; from x2APIC mode the only legal write
 * is to "disabled", and from "disabled" the only legal write is to xAPIC.
 */
static int msr_check_apic_base(const vcore_x86_cpu_model_t *m, uint64_t old, uint64_t val,
                               vcore_diag_t *d)
{
    bool en = (val & VCORE_APIC_BASE_EN) != 0;
    bool extd = (val & VCORE_APIC_BASE_EXTD) != 0;
    bool old_en = (old & VCORE_APIC_BASE_EN) != 0;
    bool old_extd = (old & VCORE_APIC_BASE_EXTD) != 0;

    if ((val & MSR_APIC_BASE_LOW_RESERVED) != 0 || !vcore__x86_phys_ok(val, m->maxphyaddr))
        return vcore__diag_set(d, VCORE_DIAG_APIC_BASE_RESERVED, val);
    if (extd && (m->features & VCORE_X86_FEAT_X2APIC) == 0)
        return vcore__diag_set(d, VCORE_DIAG_APIC_BASE_X2APIC_INVALID, val);
    if (extd && !en)
        return vcore__diag_set(d, VCORE_DIAG_APIC_BASE_X2APIC_INVALID, val);
    /* x2APIC -> xAPIC directly. */
    if (old_en && old_extd && en && !extd)
        return vcore__diag_set(d, VCORE_DIAG_APIC_BASE_X2APIC_INVALID, val);
    /* disabled -> x2APIC directly. */
    if (!old_en && !old_extd && en && extd)
        return vcore__diag_set(d, VCORE_DIAG_APIC_BASE_X2APIC_INVALID, val);
    return VCORE_OK;
}

/* SDM Vol. 3, "IA32_PAT MSR": each of the eight entries (bits 2:0 of each
 * byte, upper bits reserved) must be UC (0), WC (1), WT (4), WP (5), WB (6)
 * or UC- (7); 2, 3 and anything >= 8 is #GP. */
bool vcore__x86_pat_ok(uint64_t pat)
{
    unsigned i;

    for (i = 0; i < 8; i++) {
        uint64_t type = (pat >> (i * 8u)) & 0xffu;
        if (type == 2 || type == 3 || type >= 8)
            return false;
    }
    return true;
}

/* IA32_DEBUGCTL (SDM Vol. 4, "Architectural MSRs"): LBR (0), BTF (1),
 * TR (6), BTS (7), BTINT (8), BTS_OFF_OS (9), BTS_OFF_USR (10),
 * FREEZE_LBRS_ON_PMI (11), FREEZE_PERFMON_ON_PMI (12), ENABLE_UNCORE_PMI
 * (13), FREEZE_WHILE_SMM (14); bus-lock detection (2) with
 * CPUID.(EAX=07H,ECX=0):ECX[24]; RTM_DEBUG (15) with RTM (EBX[11]). */
uint64_t vcore__x86_debugctl_valid(uint32_t ebx7, uint32_t ecx7)
{
    uint64_t valid = 0x7fc3ull;

    if ((ecx7 & VCORE__CPUID_7_ECX_BUS_LOCK) != 0)
        valid |= VCORE__BIT(2);
    if ((ebx7 & VCORE__CPUID_7_EBX_RTM) != 0)
        valid |= VCORE__BIT(15);
    return valid;
}

/*
 * IA32_FEATURE_CONTROL. SDM Vol. 3, "Enabling and Entering VMX Operation":
 * once bit 0 (lock) is set, WRMSR to the MSR is #GP until the next RESET;
 * bit 1 (VMX inside SMX) needs SMX and VMX, bit 2 (VMX outside SMX) VMX,
 * and the SENTER enables 15:8 SMX (SDM Vol. 4, "IA32_FEATURE_CONTROL").
 * Every other bit is reserved here.
 */
static int msr_check_feature_control(const vcore_x86_cpu_model_t *m, uint64_t old, uint64_t val,
                                     vcore_diag_t *d)
{
    uint64_t ok = VCORE__FEATCTL_LOCK;
    bool vmx = (m->features & VCORE_X86_FEAT_VMX) != 0;
    bool smx = (m->features & VCORE_X86_FEAT_SMX) != 0;

    if (old & VCORE__FEATCTL_LOCK)
        return vcore__diag_set(d, VCORE_DIAG_FEATURE_CONTROL_LOCKED, val);
    if (vmx)
        ok |= VCORE__FEATCTL_VMX_OUTSIDE_SMX;
    if (vmx && smx)
        ok |= VCORE__FEATCTL_VMX_IN_SMX;
    if (smx)
        ok |= VCORE__FEATCTL_SENTER;
    if (val & ~ok)
        return vcore__diag_set(d, VCORE_DIAG_MSR_RESERVED, val);
    return VCORE_OK;
}

/* Validates a write of `val` to `index` against the current state. */
static int msr_check(const vcore_x86_cpu_model_t *m, const vcore_x86_state_t *st,
                     uint32_t index, uint64_t val, vcore_diag_t *d)
{
    switch (index) {
    case VCORE_MSR_IA32_TSC:
    case VCORE_MSR_IA32_STAR:
        /* Any 64-bit value: TSC is a free-running counter; STAR holds two
         * selectors and a legacy EIP with no reserved encoding. */
        return VCORE_OK;
    case VCORE_MSR_IA32_SYSENTER_CS:
        /* Selector in bits 15:0; the MSR has no architecturally checked
         * reserved bits (SDM Vol. 2B, "SYSENTER"). */
        return VCORE_OK;
    case VCORE_MSR_IA32_APIC_BASE:
        return msr_check_apic_base(m, st->msrs.apic_base, val, d);
    case VCORE_MSR_IA32_FEATURE_CONTROL:
        return msr_check_feature_control(m, st->msrs.feature_control, val, d);
    case VCORE_MSR_IA32_SMBASE:
        /* Read-only to the guest (only RSM reloads it); the VMM may restore
         * it. SMBASE is a 32-bit physical address. SDM Vol. 3, "SMBASE
         * Relocation". */
        if ((val >> 32) != 0)
            return vcore__diag_set(d, VCORE_DIAG_MSR_RESERVED, val);
        return VCORE_OK;
    case VCORE_MSR_IA32_SYSENTER_ESP:
    case VCORE_MSR_IA32_SYSENTER_EIP:
    case VCORE_MSR_IA32_LSTAR:
    case VCORE_MSR_IA32_CSTAR:
    case VCORE_MSR_IA32_FS_BASE:
    case VCORE_MSR_IA32_GS_BASE:
    case VCORE_MSR_IA32_KERNEL_GS_BASE:
        /* Linear addresses: WRMSR of a non-canonical value is #GP
         * (SDM Vol. 4, "Model-Specific Registers"; SDM Vol. 2B, "WRMSR"). */
        if (!vcore__x86_is_canonical(val, m->linear_bits))
            return vcore__diag_set(d, VCORE_DIAG_NONCANONICAL, val);
        return VCORE_OK;
    case VCORE_MSR_IA32_MISC_ENABLE:
        if (((val ^ st->msrs.misc_enable) & MSR_MISC_ENABLE_READ_ONLY) != 0)
            return vcore__diag_set(d, VCORE_DIAG_MSR_READ_ONLY, val);
        return VCORE_OK;
    case VCORE_MSR_IA32_PAT:
        if (!vcore__x86_pat_ok(val))
            return vcore__diag_set(d, VCORE_DIAG_PAT_INVALID, val);
        return VCORE_OK;
    case VCORE_MSR_IA32_DEBUGCTL:
        /* SDM Vol. 2, "WRMSR": setting a reserved bit is #GP(0). */
        if ((val & m->debugctl_reserved) != 0)
            return vcore__diag_set(d, VCORE_DIAG_MSR_RESERVED, val);
        return VCORE_OK;
    case VCORE_MSR_IA32_EFER: {
        /* Same rules as a system-register write that changes only EFER:
         * the control-register part (EFER against CR0/CR4). */
        vcore_x86_sregs_t neu = st->sregs;
        neu.efer = val;
        return vcore__x86_check_crs(m, &st->sregs, &neu, d);
    }
    case VCORE_MSR_IA32_FMASK:
    case VCORE_MSR_IA32_TSC_AUX:
        /* 32-bit registers in a 64-bit MSR: bits 63:32 reserved (SDM Vol. 4,
         * "IA32_FMASK", "IA32_TSC_AUX"). */
        if ((val >> 32) != 0)
            return vcore__diag_set(d, VCORE_DIAG_MSR_RESERVED, val);
        return VCORE_OK;
    default:
        break;
    }
    vcore__diag_set(d, VCORE_DIAG_MSR_UNKNOWN, index);
    return VCORE_ERR_NOENT;
}

int vcore__x86_msr_set(const vcore_x86_cpu_model_t *m, vcore_x86_state_t *st, uint32_t index,
                       uint64_t value, vcore_diag_t *d)
{
    uint64_t *slot;
    int rc;

    if (m == NULL || st == NULL)
        return VCORE_ERR_INVAL;
    rc = msr_check(m, st, index, value, d);
    if (rc != VCORE_OK)
        return rc;
    slot = msr_slot(st, index);
    if (slot == NULL) /* unreachable: msr_check() knows the same indices */
        return VCORE_ERR_NOENT;
    *slot = value;
    return VCORE_OK;
}
