/*
 * check_values.c - which values an MSR accepts, for the MSRs VM entry
 * checks in three places: the host-state area (loaded at VM exit), the
 * guest-state area, and the VM-entry MSR-load list (where a value WRMSR
 * would refuse fails the entry). One copy of each rule; IA32_PAT's is
 * vcore__x86_pat_ok() in msr.c, the canonical rule is in addr.c.
 */
#include "check_priv.h"

/* IA32_EFER bits an Intel 64 processor defines: SCE (0), LME (8), LMA (10),
 * NXE (11). The rest are reserved (SDM Vol. 3, "IA32_EFER MSR"). */
bool vcore__vmx_efer_reserved(uint64_t efer)
{
    return (efer & ~(VCORE__EFER_SCE | VCORE__EFER_LME | VCORE__EFER_LMA | VCORE__EFER_NXE)) != 0;
}

/* IA32_PERF_GLOBAL_CTRL (SDM Vol. 3, "Architectural Performance Monitoring
 * Version 2"): bit i enables general-purpose counter i (CPUID.0AH:EAX[15:8]
 * of them), bit 32+i fixed counter i (CPUID.0AH:EDX[4:0] of them, or the
 * CPUID.0AH:ECX bitmap from version 5). The MSR exists from version 2
 * (CPUID.0AH:EAX[7:0]); without it every bit is reserved. */
uint64_t vcore__vmx_perf_global_ctrl_valid(const vcore__vmx_chk_t *c)
{
    uint32_t eax = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PMU, 0, 0);
    uint32_t version = eax & 0xffu, ngp = (eax >> 8) & 0xffu;
    uint32_t nfixed = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PMU, 0, 3) & 0x1fu;
    uint64_t gp, fixed;

    if (version < 2)
        return 0;
    gp = ngp >= 32 ? 0xffffffffull : (1ull << ngp) - 1u;
    fixed = (1ull << nfixed) - 1u;
    if (version >= 5)
        fixed |= vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PMU, 0, 2);
    return gp | ((fixed & 0xffffffffull) << 32);
}

/* IA32_DEBUGCTL: the vCPU model's WRMSR rule (vcore__x86_debugctl_valid)
 * on the checked CPUID's leaf 7. */
uint64_t vcore__vmx_debugctl_valid(vcore__vmx_chk_t *c)
{
    return vcore__x86_debugctl_valid(vcore__vmx_chk_leaf7(c, 0), vcore__vmx_chk_leaf7(c, 1));
}

/* IA32_U_CET / IA32_S_CET (SDM Vol. 1, "Control-flow Enforcement
 * Technology"): bits 9:6 are reserved; SUPPRESS (10) and TRACKER (11)
 * cannot both be 1. */
bool vcore__vmx_s_cet_reserved(uint64_t cet)
{
    return (cet & 0x3c0ull) != 0;
}

bool vcore__vmx_s_cet_suppress_tracker(uint64_t cet)
{
    return (cet & 0xc00ull) == 0xc00ull;
}

/* IA32_BNDCFGS (SDM Vol. 1, "Intel MPX"): EN (0), BNDPRESERVE (1), bits
 * 11:2 reserved, base in bits 63:12. */
bool vcore__vmx_bndcfgs_reserved(uint64_t v)
{
    return (v & 0xffcull) != 0;
}

/* IA32_RTIT_CTL (SDM Vol. 3, "IA32_RTIT_CTL MSR"): the bits every Intel PT
 * implementation has, plus those CPUID leaf 14H enumerates. Without Intel PT
 * (CPUID.(EAX=07H,ECX=0):EBX[25]) the MSR does not exist. */
uint64_t vcore__vmx_rtit_ctl_valid(const vcore__vmx_chk_t *c)
{
    uint32_t pt = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_EXT_FEATURES, 0, 1) & (1u << 25);
    uint32_t ebx = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PT, 0, 1);
    uint32_t ecx = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PT, 0, 2);
    uint32_t nranges = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PT, 1, 0) & 7u, i;
    /* TraceEn (0), OS (2), User (3), TSCEn (10), DisRETC (11), BranchEn (13). */
    uint64_t valid = 0x2c0dull;

    if (!pt)
        return 0;
    if (ebx & (1u << 0))
        valid |= VCORE__BIT(7); /* CR3Filter */
    if (ebx & (1u << 1))
        valid |= VCORE__BIT(1) | (0xfull << 19) | (0xfull << 24); /* CYCEn, CycThresh, PSBFreq */
    if (ebx & (1u << 2))
        for (i = 0; i < nranges && i < 4; i++)
            valid |= 0xfull << (32u + 4u * i); /* ADDRn_CFG */
    if (ebx & (1u << 3))
        valid |= VCORE__BIT(9) | (0xfull << 14); /* MTCEn, MTCFreq */
    if (ebx & (1u << 4))
        valid |= VCORE__BIT(12) | VCORE__BIT(5); /* PTWEn, FUPonPTW */
    if (ebx & (1u << 5))
        valid |= VCORE__BIT(4); /* PwrEvtEn */
    if (ebx & (1u << 6))
        valid |= VCORE__BIT(56); /* InjectPsbPmiOnEnable */
    if (ebx & (1u << 7))
        valid |= VCORE__BIT(31); /* EventEn */
    if (ebx & (1u << 8))
        valid |= VCORE__BIT(55); /* DisTNT */
    if (ecx & (1u << 0))
        valid |= VCORE__BIT(8); /* ToPA */
    if (ecx & (1u << 3))
        valid |= VCORE__BIT(6); /* FabricEn */
    return valid;
}

/* IA32_LBR_CTL (SDM Vol. 3, "Architectural Last Branch Records"): LBREn (0);
 * OS (1) and USR (2) with CPL filtering (CPUID.(EAX=1CH,ECX=0):EBX[0]);
 * CALL_STACK (3) with call-stack mode (EBX[2]); the branch-type filters
 * (22:16) with branch filtering (EBX[1]). */
uint64_t vcore__vmx_lbr_ctl_valid(const vcore__vmx_chk_t *c)
{
    uint32_t ebx = vcore__vmx_chk_cpuid(c, 0x1cu, 0, 1);
    uint64_t valid = VCORE__BIT(0);

    if (ebx & (1u << 0))
        valid |= VCORE__BIT(1) | VCORE__BIT(2);
    if (ebx & (1u << 1))
        valid |= 0x7full << 16;
    if (ebx & (1u << 2))
        valid |= VCORE__BIT(3);
    return valid;
}
