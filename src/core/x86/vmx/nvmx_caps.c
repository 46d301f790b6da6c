/*
 * nvmx_caps.c - the VMX capability MSRs (480H-491H) exposed to L1.
 *
 * SDM Vol. 3, "VMX Capability Reporting Facility": each control MSR holds
 * allowed-0 settings in bits 31:0 (a 1 means the control must be 1) and
 * allowed-1 settings in bits 63:32 (a 0 means the control must be 0). A
 * smaller feature set therefore has more allowed-0 bits and fewer
 * allowed-1 bits; the intersection and the override rules below follow
 * from that.
 */
#include "nvmx_priv.h"

#define LO(v) ((uint32_t)(v))
#define HI(v) ((uint32_t)((v) >> 32))
#define MK(hi, lo) (((uint64_t)(hi) << 32) | (uint64_t)(lo))

/* IA32_VMX_BASIC fields (SDM "Basic VMX Information"). */
#define BASIC_FEATURES (VCORE__VMX_BASIC_DUAL_MONITOR | VCORE__VMX_BASIC_INS_OUTS_INFO | VCORE_VMX_BASIC_TRUE_CTLS | VCORE__VMX_BASIC_NO_ERRCODE_CHECK)

/* IA32_VMX_MISC fields (SDM "Miscellaneous Data"). */
#define MISC_TIMER_RATE 0x1full
#define MISC_CR3_TARGETS (0x1ffull << 16)
#define MISC_MSR_LIST (0x7ull << 25)
#define MISC_MSEG (0xffffffffull << 32)
#define MISC_FLAGS ((1ull << 5) | (7ull << 6) | (1ull << 14) | (1ull << 15) | (1ull << 28) | \
                    VCORE_VMX_MISC_VMWRITE_ANY | (1ull << 30))

/* IA32_VMX_VMCS_ENUM bits 9:1: highest index. */
#define ENUM_INDEX (0x1ffull << 1)

/* Control MSRs (allowed-0 / allowed-1 pairs). */
static const uint8_t nvmx_caps_ctl[] = {
    VCORE_NVMX_CAP_PINBASED,      VCORE_NVMX_CAP_PROCBASED,      VCORE_NVMX_CAP_EXIT,
    VCORE_NVMX_CAP_ENTRY,         VCORE_NVMX_CAP_PROCBASED2,     VCORE_NVMX_CAP_TRUE_PINBASED,
    VCORE_NVMX_CAP_TRUE_PROCBASED, VCORE_NVMX_CAP_TRUE_EXIT,     VCORE_NVMX_CAP_TRUE_ENTRY,
};

/* What the emulation supports. Controls the nested pipeline cannot emulate
 * are left out of allowed-1: dual-monitor SMM treatment, entry to SMM,
 * tertiary controls, secondary exit controls, Intel PT concealment,
 * sub-page permissions, PCONFIG/ENCLV exiting, EPT-violation #VE, and the
 * CET/PKRS/LBR/UINV load/clear controls. */
static const uint64_t nvmx_caps_emul[VCORE_NVMX_NR_CAPS] = {
    [VCORE_NVMX_CAP_BASIC] = VCORE_VMCS12_REVISION | ((uint64_t)VCORE_VMCS12_SIZE << 32) |
                             (6ull << 50) | VCORE__VMX_BASIC_INS_OUTS_INFO | VCORE_VMX_BASIC_TRUE_CTLS |
                             VCORE__VMX_BASIC_NO_ERRCODE_CHECK,
    [VCORE_NVMX_CAP_PINBASED] = MK(0x000000ffu, 0x00000016u),
    [VCORE_NVMX_CAP_PROCBASED] = MK(0xfff9fffeu, 0x0401e172u),
    [VCORE_NVMX_CAP_EXIT] = MK(0x00ffffffu, 0x00036dffu),
    [VCORE_NVMX_CAP_ENTRY] = MK(0x0001f3ffu, 0x000011ffu),
    [VCORE_NVMX_CAP_MISC] = (1ull << 5) | (7ull << 6) | (4ull << 16) | VCORE_VMX_MISC_VMWRITE_ANY |
                            (1ull << 30),
    [VCORE_NVMX_CAP_CR0_FIXED0] = 0x80000021ull,
    [VCORE_NVMX_CAP_CR0_FIXED1] = 0xffffffffull,
    [VCORE_NVMX_CAP_CR4_FIXED0] = 0x00002000ull,
    [VCORE_NVMX_CAP_CR4_FIXED1] = 0xffffffffull,
    [VCORE_NVMX_CAP_VMCS_ENUM] = ENUM_INDEX, /* replaced by the table's highest index */
    [VCORE_NVMX_CAP_PROCBASED2] = MK(0x06137fffu, 0),
    [VCORE_NVMX_CAP_EPT_VPID] = 0x00000f0106334141ull,
    [VCORE_NVMX_CAP_TRUE_PINBASED] = MK(0x000000ffu, 0x00000016u),
    [VCORE_NVMX_CAP_TRUE_PROCBASED] = MK(0xfff9fffeu, 0x04006172u),
    [VCORE_NVMX_CAP_TRUE_EXIT] = MK(0x00ffffffu, 0x00036dfbu),
    [VCORE_NVMX_CAP_TRUE_ENTRY] = MK(0x0001f3ffu, 0x000011fbu),
    [VCORE_NVMX_CAP_VMFUNC] = 0x1ull,
};

/* REFUSED rows of the merge-rule table, expanded here so the capability
 * MSRs and the entry pipeline read the same rows. */
#define NVMX_CAPS_IS_REFUSED_REFUSED 1u
#define NVMX_CAPS_IS_REFUSED_ZERO 0u
#define NVMX_CAPS_IS_REFUSED_ONE 0u
#define NVMX_CAPS_IS_REFUSED_L0 0u
#define NVMX_CAPS_IS_REFUSED_L1 0u
#define NVMX_CAPS_IS_REFUSED_OR 0u
#define NVMX_CAPS_IS_REFUSED_CR8 0u
#define NVMX_CAPS_IS_REFUSED_TIMER 0u

/* Per control word, its REFUSED bits: constants, folded at compile time
 * (every VM entry asks for them). */
#define NVMX_CAPS_REFUSED_IN(word, w, b, r) | ((NVMX_CAPS_IS_REFUSED_##r && (uint32_t)(w) == (word)) ? 1u << (b) : 0u)
#define NVMX_CAPS_R0(w, b, r, why) NVMX_CAPS_REFUSED_IN(0u, w, b, r)
#define NVMX_CAPS_R1(w, b, r, why) NVMX_CAPS_REFUSED_IN(1u, w, b, r)
#define NVMX_CAPS_R2(w, b, r, why) NVMX_CAPS_REFUSED_IN(2u, w, b, r)
#define NVMX_CAPS_R3(w, b, r, why) NVMX_CAPS_REFUSED_IN(3u, w, b, r)
#define NVMX_CAPS_R4(w, b, r, why) NVMX_CAPS_REFUSED_IN(4u, w, b, r)
const uint32_t vcore__nvmx_refused_words[5] = {
    0u VCORE_NVMX_CTL_RULES(NVMX_CAPS_R0), 0u VCORE_NVMX_CTL_RULES(NVMX_CAPS_R1),
    0u VCORE_NVMX_CTL_RULES(NVMX_CAPS_R2), 0u VCORE_NVMX_CTL_RULES(NVMX_CAPS_R3),
    0u VCORE_NVMX_CTL_RULES(NVMX_CAPS_R4)};
#undef NVMX_CAPS_REFUSED_IN
#undef NVMX_CAPS_R0
#undef NVMX_CAPS_R1
#undef NVMX_CAPS_R2
#undef NVMX_CAPS_R3
#undef NVMX_CAPS_R4

uint32_t vcore__nvmx_refused(uint32_t word)
{
    return word < 5u ? vcore__nvmx_refused_words[word] : 0u;
}

/* The control word (0 pin-based .. 4 VM-entry) a control MSR describes. */
static uint32_t nvmx_caps_word(uint8_t k)
{
    switch (k) {
    case VCORE_NVMX_CAP_PINBASED:
    case VCORE_NVMX_CAP_TRUE_PINBASED:
        return 0;
    case VCORE_NVMX_CAP_PROCBASED:
    case VCORE_NVMX_CAP_TRUE_PROCBASED:
        return 1;
    case VCORE_NVMX_CAP_PROCBASED2:
        return 2;
    case VCORE_NVMX_CAP_EXIT:
    case VCORE_NVMX_CAP_TRUE_EXIT:
        return 3;
    default:
        return 4;
    }
}

static uint64_t nvmx_caps_min(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int vcore_nvmx_caps_emulated(vcore_nvmx_caps_t *out)
{
    if (!out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    vcore__memcpy(out->msr, nvmx_caps_emul, sizeof(out->msr));
    out->msr[VCORE_NVMX_CAP_VMCS_ENUM] = (uint64_t)vcore_vmcs_enum_max_index() << 1;
    return VCORE_OK;
}

/* "Checks on VMX Controls": "unrestricted guest" needs "enable EPT", so
 * it is offered only where EPT is. */
static void nvmx_caps_urg_needs_ept(uint64_t *m)
{
    if (!(HI(m[VCORE_NVMX_CAP_PROCBASED2]) & VCORE__PROC2_EPT))
        m[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)VCORE__PROC2_URG << 32);
}

/* "Checks on VMX Controls": "process posted interrupts" needs
 * "virtual-interrupt delivery" (L0's processing of the descriptor ends in
 * a virtual interrupt the processor delivers to L2), so it is offered only
 * where that is, in the plain and TRUE pin-based MSRs alike. */
static void nvmx_caps_pi_needs_vid(uint64_t *m)
{
    if (!(HI(m[VCORE_NVMX_CAP_PROCBASED2]) & VCORE__PROC2_VID)) {
        m[VCORE_NVMX_CAP_PINBASED] &= ~((uint64_t)VCORE__PIN_POSTED_INTR << 32);
        m[VCORE_NVMX_CAP_TRUE_PINBASED] &= ~((uint64_t)VCORE__PIN_POSTED_INTR << 32);
    }
}

void vcore__nvmx_caps_refuse(vcore_nvmx_caps_t *caps, uint32_t extra_proc, uint32_t extra_proc2)
{
    uint64_t *m = caps->msr;
    /* The controls the pipeline refuses (REFUSED rows of the merge-rule
     * table) are allowed-0 in the plain and TRUE MSRs alike. */
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(nvmx_caps_ctl); i++) {
        uint8_t k = nvmx_caps_ctl[i];
        uint32_t refused = vcore__nvmx_refused(nvmx_caps_word(k));
        if (k == VCORE_NVMX_CAP_PROCBASED2)
            refused |= extra_proc2;
        if (nvmx_caps_word(k) == 1)
            refused |= extra_proc;
        m[k] &= ~((uint64_t)refused << 32);
    }
    nvmx_caps_urg_needs_ept(m);
    nvmx_caps_pi_needs_vid(m);
    /* "enable VM functions" is run for EPTP switching alone, and "enable
     * PML" by L0's walk of L1's EPT; both need "enable EPT" ("Checks on VMX
     * Controls"): offered only with EPT. */
    if (!(HI(m[VCORE_NVMX_CAP_PROCBASED2]) & VCORE__PROC2_EPT))
        m[VCORE_NVMX_CAP_PROCBASED2] &= ~((uint64_t)(VCORE__PROC2_VMFUNC | VCORE__PROC2_PML) << 32);
    uint32_t proc2 = HI(m[VCORE_NVMX_CAP_PROCBASED2]);
    /* "VPID and EPT Capabilities": bits 31:0 describe EPT, bits 43:32 VPID
     * and INVVPID; a feature L1 cannot enable has no capabilities. */
    if (!(proc2 & VCORE__PROC2_EPT))
        m[VCORE_NVMX_CAP_EPT_VPID] &= ~0xffffffffull;
    if (!(proc2 & VCORE__PROC2_VPID))
        m[VCORE_NVMX_CAP_EPT_VPID] &= 0xffffffffull;
    /* "VM Functions": IA32_VMX_VMFUNC lists the functions "enable VM
     * functions" may turn on; none without that control. */
    if (!(proc2 & VCORE__PROC2_VMFUNC))
        m[VCORE_NVMX_CAP_VMFUNC] = 0;
}

void vcore__nvmx_caps_l0_only(vcore_nvmx_caps_t *caps, const vcore_nvmx_caps_t *emulated)
{
    uint64_t *m = caps->msr;
    const uint64_t pi = (uint64_t)VCORE__PIN_POSTED_INTR << 32;
    m[VCORE_NVMX_CAP_PINBASED] |= emulated->msr[VCORE_NVMX_CAP_PINBASED] & pi;
    m[VCORE_NVMX_CAP_TRUE_PINBASED] |= emulated->msr[VCORE_NVMX_CAP_TRUE_PINBASED] & pi;
    nvmx_caps_pi_needs_vid(m);
}

int vcore_nvmx_caps_intersect(const vcore_nvmx_caps_t *backend, const vcore_nvmx_caps_t *emulated,
                              vcore_nvmx_caps_t *out)
{
    const uint64_t *b, *e;
    uint64_t r[VCORE_NVMX_NR_CAPS];
    size_t i;

    if (!backend || !emulated || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(backend) || !VCORE__SIZE_OK(emulated) || !VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    b = backend->msr;
    e = emulated->msr;

    /* Revision and region size describe vmcs12, which L1 really uses; the
     * memory type is the backend's; features need both sides; the 32-bit
     * address limit applies if either side has it. */
    r[VCORE_NVMX_CAP_BASIC] = (e[0] & (VCORE__VMX_BASIC_REVISION_MASK | VCORE__VMX_BASIC_REGION_SIZE)) | (b[0] & VCORE__VMX_BASIC_MEMTYPE) |
                              (b[0] & e[0] & BASIC_FEATURES) |
                              ((b[0] | e[0]) & VCORE_VMX_BASIC_32BIT_PA);
    for (i = 0; i < VCORE__ARRAY_SIZE(nvmx_caps_ctl); i++) {
        uint8_t k = nvmx_caps_ctl[i];
        r[k] = MK(HI(b[k]) & HI(e[k]), LO(b[k]) | LO(e[k]));
    }
    /* Without TRUE MSRs on one side the TRUE values are the plain ones. */
    if (!(r[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_TRUE_CTLS)) {
        r[VCORE_NVMX_CAP_TRUE_PINBASED] = r[VCORE_NVMX_CAP_PINBASED];
        r[VCORE_NVMX_CAP_TRUE_PROCBASED] = r[VCORE_NVMX_CAP_PROCBASED];
        r[VCORE_NVMX_CAP_TRUE_EXIT] = r[VCORE_NVMX_CAP_EXIT];
        r[VCORE_NVMX_CAP_TRUE_ENTRY] = r[VCORE_NVMX_CAP_ENTRY];
    }
    /* The timer rate and MSEG revision describe the real processor. */
    r[VCORE_NVMX_CAP_MISC] = (b[5] & (MISC_TIMER_RATE | MISC_MSEG)) | (b[5] & e[5] & MISC_FLAGS) |
                             nvmx_caps_min(b[5] & MISC_CR3_TARGETS, e[5] & MISC_CR3_TARGETS) |
                             nvmx_caps_min(b[5] & MISC_MSR_LIST, e[5] & MISC_MSR_LIST);
    r[VCORE_NVMX_CAP_CR0_FIXED0] = b[6] | e[6];
    r[VCORE_NVMX_CAP_CR0_FIXED1] = b[7] & e[7];
    r[VCORE_NVMX_CAP_CR4_FIXED0] = b[8] | e[8];
    r[VCORE_NVMX_CAP_CR4_FIXED1] = b[9] & e[9];
    r[VCORE_NVMX_CAP_VMCS_ENUM] = nvmx_caps_min(b[10] & ENUM_INDEX, e[10] & ENUM_INDEX);
    r[VCORE_NVMX_CAP_EPT_VPID] = b[12] & e[12];
    r[VCORE_NVMX_CAP_VMFUNC] = b[17] & e[17];
    nvmx_caps_urg_needs_ept(r);
    nvmx_caps_pi_needs_vid(r);
    vcore__memcpy(out->msr, r, sizeof(r));
    return VCORE_OK;
}

int vcore_nvmx_caps_check(const vcore_nvmx_caps_t *caps, vcore_diag_t *diag)
{
    const uint64_t *m;
    size_t i;

    if (!caps)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(caps))
        return VCORE_ERR_ABI;
    m = caps->msr;
    for (i = 0; i < VCORE__ARRAY_SIZE(nvmx_caps_ctl); i++) {
        uint8_t k = nvmx_caps_ctl[i];
        if (LO(m[k]) & ~HI(m[k]))
            return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_CAPS_ALLOWED_01,
                                    VCORE_MSR_IA32_VMX_BASIC + k, VCORE_ERR_INVAL);
    }
    if (m[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_TRUE_CTLS) {
        /* SDM "VM-Execution Controls": the TRUE MSRs report the same
         * allowed-1 settings and may only relax default1 bits to 0. */
        static const uint8_t pairs[4][2] = {
            {VCORE_NVMX_CAP_PINBASED, VCORE_NVMX_CAP_TRUE_PINBASED},
            {VCORE_NVMX_CAP_PROCBASED, VCORE_NVMX_CAP_TRUE_PROCBASED},
            {VCORE_NVMX_CAP_EXIT, VCORE_NVMX_CAP_TRUE_EXIT},
            {VCORE_NVMX_CAP_ENTRY, VCORE_NVMX_CAP_TRUE_ENTRY},
        };
        for (i = 0; i < 4; i++) {
            uint64_t plain = m[pairs[i][0]], tru = m[pairs[i][1]];
            if (HI(plain) != HI(tru) || (LO(tru) & ~LO(plain)))
                return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_CAPS_TRUE_MISMATCH,
                                        VCORE_MSR_IA32_VMX_BASIC + pairs[i][1], VCORE_ERR_INVAL);
        }
    }
    /* SDM "VMX-Fixed Bits in CR0/CR4": a bit fixed to 1 must be allowed to be 1. */
    if (m[VCORE_NVMX_CAP_CR0_FIXED0] & ~m[VCORE_NVMX_CAP_CR0_FIXED1])
        return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_CAPS_ALLOWED_01, 0x486, VCORE_ERR_INVAL);
    if (m[VCORE_NVMX_CAP_CR4_FIXED0] & ~m[VCORE_NVMX_CAP_CR4_FIXED1])
        return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_CAPS_ALLOWED_01, 0x488, VCORE_ERR_INVAL);
    return VCORE_OK;
}

/* true if every bit of `sub` is in `super` */
static bool nvmx_caps_subset(uint64_t sub, uint64_t super)
{
    return (sub & ~super) == 0;
}

int vcore_nvmx_caps_restrict(const vcore_nvmx_caps_t *base, const vcore_nvmx_caps_t *override,
                             vcore_nvmx_caps_t *out, vcore_diag_t *diag)
{
    const uint64_t *b, *o;
    size_t i;
    int err;
    bool use_true;

    if (!base || !override || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(base) || !VCORE__SIZE_OK(override) || !VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    err = vcore_nvmx_caps_check(override, diag);
    if (err != VCORE_OK)
        return err;
    b = base->msr;
    o = override->msr;

#define REFUSE(id, msr) return vcore__nvmx_diag(diag, (id), (msr), VCORE_ERR_INVAL)
    /* BASIC: vmcs12's revision/size and the memory type are facts, not features. */
    if ((o[0] ^ b[0]) & (VCORE__VMX_BASIC_REVISION_MASK | VCORE__VMX_BASIC_REGION_SIZE | VCORE__VMX_BASIC_MEMTYPE))
        REFUSE(VCORE_DIAG_NVMX_CAPS_FIXED_FIELD, 0x480);
    if (!nvmx_caps_subset(o[0] & BASIC_FEATURES, b[0]))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x480);
    if (o[0] & ~(VCORE__VMX_BASIC_REVISION_MASK | VCORE__VMX_BASIC_REGION_SIZE | VCORE__VMX_BASIC_MEMTYPE | BASIC_FEATURES |
                 VCORE_VMX_BASIC_32BIT_PA))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x480);
    if (!(o[0] & VCORE_VMX_BASIC_32BIT_PA) && (b[0] & VCORE_VMX_BASIC_32BIT_PA))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x480);

    use_true = (o[0] & VCORE_VMX_BASIC_TRUE_CTLS) != 0;
    for (i = 0; i < VCORE__ARRAY_SIZE(nvmx_caps_ctl); i++) {
        uint8_t k = nvmx_caps_ctl[i];
        if (!use_true && k >= VCORE_NVMX_CAP_TRUE_PINBASED)
            continue;
        /* Fewer features: allowed-1 shrinks, allowed-0 grows. */
        if (!nvmx_caps_subset(HI(o[k]), HI(b[k])) || !nvmx_caps_subset(LO(b[k]), LO(o[k])))
            REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, VCORE_MSR_IA32_VMX_BASIC + k);
    }
    if ((o[5] ^ b[5]) & (MISC_TIMER_RATE | MISC_MSEG))
        REFUSE(VCORE_DIAG_NVMX_CAPS_FIXED_FIELD, 0x485);
    if (!nvmx_caps_subset(o[5] & MISC_FLAGS, b[5]) ||
        (o[5] & MISC_CR3_TARGETS) > (b[5] & MISC_CR3_TARGETS) ||
        (o[5] & MISC_MSR_LIST) > (b[5] & MISC_MSR_LIST) ||
        (o[5] & ~(MISC_FLAGS | MISC_TIMER_RATE | MISC_MSEG | MISC_CR3_TARGETS | MISC_MSR_LIST)))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x485);
    if (!nvmx_caps_subset(b[6], o[6]) || !nvmx_caps_subset(o[7], b[7]))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x486);
    if (!nvmx_caps_subset(b[8], o[8]) || !nvmx_caps_subset(o[9], b[9]))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x488);
    if ((o[10] & ~ENUM_INDEX) || (o[10] & ENUM_INDEX) > (b[10] & ENUM_INDEX))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x48a);
    if (!nvmx_caps_subset(o[12], b[12]))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x48c);
    if (!nvmx_caps_subset(o[17], b[17]))
        REFUSE(VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE, 0x491);
#undef REFUSE
    vcore__memcpy(out->msr, o, sizeof(out->msr));
    return VCORE_OK;
}

void vcore__nvmx_caps_allowed1(const vcore_nvmx_caps_t *caps, uint32_t out[5])
{
    const uint64_t *m = caps->msr;
    out[VCORE__VMCS_CTL_PIN] = HI(m[VCORE_NVMX_CAP_PINBASED]);
    out[VCORE__VMCS_CTL_PROC] = HI(m[VCORE_NVMX_CAP_PROCBASED]);
    /* "Secondary Processor-Based VM-Execution Controls": IA32_VMX_PROCBASED_CTLS2
     * exists only if "activate secondary controls" may be 1. */
    out[VCORE__VMCS_CTL_PROC2] =
        (out[VCORE__VMCS_CTL_PROC] & VCORE_VMX_PROC_ACTIVATE_SECONDARY) ? HI(m[VCORE_NVMX_CAP_PROCBASED2]) : 0u;
    out[VCORE__VMCS_CTL_EXIT] = HI(m[VCORE_NVMX_CAP_EXIT]);
    out[VCORE__VMCS_CTL_ENTRY] = HI(m[VCORE_NVMX_CAP_ENTRY]);
}

bool vcore_nvmx_caps_has_field(const vcore_nvmx_caps_t *caps, uint32_t encoding)
{
    if (!caps || !VCORE__SIZE_OK(caps))
        return false;
    const vcore__vmcs_row_t *r = vcore__vmcs_row(encoding);
    if (!r)
        return false;
    uint32_t a1[5];
    vcore__nvmx_caps_allowed1(caps, a1);
    return vcore__vmcs_row_present(r, a1);
}
