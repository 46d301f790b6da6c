/*
 * check_msr_load.c - SDM Vol. 3, "Loading MSRs": the VM-entry MSR-load
 * list, processed in order after the guest state is loaded. The first entry
 * that cannot be loaded fails the VM entry with exit reason 34 and its
 * 1-based index as the exit qualification.
 *
 * An entry fails when its index is IA32_FS_BASE or IA32_GS_BASE, an x2APIC
 * MSR (800H-8FFH), an MSR writable only in SMM, one the processor does not
 * load for model-specific reasons; when bits 63:32 of its first quadword
 * are not 0; or when WRMSR of its value at CPL 0 would raise #GP. Each
 * 16-byte entry is read once from L1 memory.
 */
#include "check_priv.h"

#define MSR_IA32_BIOS_UPDT_TRIG 0x79u    /* microcode update trigger */
#define MSR_IA32_BIOS_SIGN_ID 0x8bu      /* microcode revision */
#define MSR_IA32_SMM_MONITOR_CTL 0x9bu
#define MSR_IA32_TSC_ADJUST 0x3bu
#define MSR_IA32_SPEC_CTRL 0x48u
#define MSR_IA32_PRED_CMD 0x49u
#define MSR_IA32_FLUSH_CMD 0x10bu
#define MSR_IA32_PMC0 0xc1u
#define MSR_IA32_PERFEVTSEL0 0x186u
#define MSR_IA32_DEBUGCTL 0x1d9u
#define MSR_IA32_FIXED_CTR0 0x309u
#define MSR_IA32_FIXED_CTR_CTRL 0x38du
#define MSR_IA32_PERF_GLOBAL_CTRL 0x38fu
#define MSR_IA32_U_CET 0x6a0u
#define MSR_IA32_S_CET 0x6a2u
#define MSR_IA32_PL0_SSP 0x6a4u
#define MSR_IA32_PL3_SSP 0x6a7u
#define MSR_IA32_INTERRUPT_SSP_TABLE_ADDR 0x6a8u
#define MSR_IA32_TSC_DEADLINE 0x6e0u
#define MSR_IA32_PKRS 0x6e1u
#define MSR_IA32_BNDCFGS 0xd90u
#define MSR_IA32_XSS 0xda0u

/* General-purpose counters and event selects sit at fixed indices for at
 * most eight counters (SDM Vol. 4, "Architectural MSRs"). */
#define MSR_MAX_GP_COUNTERS 8u

static uint32_t msr_load_wrmsr_pmu(vcore__vmx_chk_t *c, uint32_t index, uint64_t value, bool *known)
{
    uint32_t eax = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PMU, 0, 0);
    uint32_t version = eax & 0xffu, ngp = (eax >> 8) & 0xffu;
    uint32_t nfixed = vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_PMU, 0, 3) & 0x1fu;

    *known = true;
    if (ngp > MSR_MAX_GP_COUNTERS)
        ngp = MSR_MAX_GP_COUNTERS;
    if (version >= 1 && index >= MSR_IA32_PMC0 && index < MSR_IA32_PMC0 + ngp)
        return 0;
    /* IA32_PERFEVTSELx: bits 63:32 are reserved. */
    if (version >= 1 && index >= MSR_IA32_PERFEVTSEL0 && index < MSR_IA32_PERFEVTSEL0 + ngp)
        return (value >> 32) ? VCORE_VMX_CHECK_MSR_LOAD_HIGH_BITS : 0u;
    if (version >= 2 && index >= MSR_IA32_FIXED_CTR0 && index < MSR_IA32_FIXED_CTR0 + nfixed)
        return 0;
    if (version >= 2 && index == MSR_IA32_FIXED_CTR_CTRL) {
        /* Four control bits per fixed counter. */
        uint64_t valid = nfixed >= 16 ? ~0ull : (1ull << (4u * nfixed)) - 1u;
        return (value & ~valid) ? VCORE_VMX_CHECK_MSR_LOAD_FIXED_CTR_CTRL : 0u;
    }
    if (version >= 2 && index == MSR_IA32_PERF_GLOBAL_CTRL)
        return (value & ~vcore__vmx_perf_global_ctrl_valid(c)) ? VCORE_VMX_CHECK_MSR_LOAD_PERF_GLOBAL_CTRL : 0u;
    *known = false;
    return 0;
}

/* WRMSR(index, value) at CPL 0 right after the guest state is loaded:
 * 0 when it succeeds, else the check it fails. */
static uint32_t msr_load_wrmsr(vcore__vmx_chk_t *c, uint32_t index, uint64_t value)
{
    uint32_t l7b = vcore__vmx_chk_leaf7(c, 0), l7c = vcore__vmx_chk_leaf7(c, 1), l7d = vcore__vmx_chk_leaf7(c, 2);
    bool cet_ss = (l7c & VCORE__CPUID_7_ECX_CET_SS) != 0, cet = cet_ss || (l7d & VCORE__CPUID_7_EDX_CET_IBT);
    uint32_t id;
    bool known;

#define MSR_ABSENT VCORE_VMX_CHECK_MSR_LOAD_UNKNOWN
    switch (index) {
    case VCORE_MSR_IA32_TSC:
    case VCORE_MSR_IA32_STAR:
    case VCORE_MSR_IA32_SYSENTER_CS:
    case VCORE_MSR_IA32_MISC_ENABLE:
        /* No value WRMSR refuses architecturally. */
        return 0;
    case VCORE_MSR_IA32_APIC_BASE:
        /* SDM "Local APIC Status and Location" and "x2APIC State
         * Transitions": bits 7:0, 9 and those beyond MAXPHYADDR reserved;
         * EXTD needs an x2APIC and EN. */
        if ((value & 0x2ffull) || !vcore__x86_phys_ok(value, c->in->maxphyaddr) ||
            ((value & VCORE_APIC_BASE_EXTD) &&
             (!(vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_FEATURES, 0, 2) & VCORE__CPUID_1_ECX_X2APIC) ||
              !(value & VCORE_APIC_BASE_EN))))
            return VCORE_VMX_CHECK_MSR_LOAD_APIC_BASE;
        return 0;
    case MSR_IA32_TSC_ADJUST:
        return (l7b & VCORE__CPUID_7_EBX_TSC_ADJUST) ? 0u : MSR_ABSENT;
    case MSR_IA32_SPEC_CTRL: {
        /* IBRS (0), STIBP (1), SSBD (2), each as CPUID enumerates it. */
        uint64_t valid = ((l7d & VCORE__CPUID_7_EDX_IBRS) ? 1u : 0u) |
                         ((l7d & (VCORE__CPUID_7_EDX_IBRS | VCORE__CPUID_7_EDX_STIBP)) ? 2u : 0u) |
                         ((l7d & VCORE__CPUID_7_EDX_SSBD) ? 4u : 0u);
        if (!valid)
            return MSR_ABSENT;
        return (value & ~valid) ? VCORE_VMX_CHECK_MSR_LOAD_SPEC_CTRL : 0u;
    }
    case MSR_IA32_PRED_CMD:
        if (!(l7d & VCORE__CPUID_7_EDX_IBRS))
            return MSR_ABSENT;
        return (value & ~1ull) ? VCORE_VMX_CHECK_MSR_LOAD_COMMAND : 0u;
    case MSR_IA32_FLUSH_CMD:
        if (!(l7d & VCORE__CPUID_7_EDX_L1D_FLUSH))
            return MSR_ABSENT;
        return (value & ~1ull) ? VCORE_VMX_CHECK_MSR_LOAD_COMMAND : 0u;
    case VCORE_MSR_IA32_SYSENTER_ESP:
    case VCORE_MSR_IA32_SYSENTER_EIP:
    case VCORE_MSR_IA32_LSTAR:
    case VCORE_MSR_IA32_CSTAR:
    case VCORE_MSR_IA32_KERNEL_GS_BASE:
        return vcore__vmx_chk_canonical(c, value) ? 0u : VCORE_VMX_CHECK_MSR_LOAD_NONCANONICAL;
    case MSR_IA32_DEBUGCTL:
        return (value & ~vcore__vmx_debugctl_valid(c)) ? VCORE_VMX_CHECK_MSR_LOAD_DEBUGCTL : 0u;
    case VCORE_MSR_IA32_PAT:
        return vcore__x86_pat_ok(value) ? 0u : VCORE_VMX_CHECK_MSR_LOAD_PAT;
    case MSR_IA32_U_CET:
    case MSR_IA32_S_CET:
        if (!cet)
            return MSR_ABSENT;
        return (vcore__vmx_s_cet_reserved(value) || vcore__vmx_s_cet_suppress_tracker(value) ||
                !vcore__vmx_chk_canonical(c, value))
                   ? VCORE_VMX_CHECK_MSR_LOAD_CET
                   : 0u;
    case MSR_IA32_INTERRUPT_SSP_TABLE_ADDR:
        if (!cet_ss)
            return MSR_ABSENT;
        return vcore__vmx_chk_canonical(c, value) ? 0u : VCORE_VMX_CHECK_MSR_LOAD_NONCANONICAL;
    case MSR_IA32_TSC_DEADLINE:
        return (vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_FEATURES, 0, 2) & VCORE__CPUID_1_ECX_TSC_DEADLINE)
                   ? 0u
                   : MSR_ABSENT;
    case MSR_IA32_PKRS:
        if (!(l7c & VCORE__CPUID_7_ECX_PKS))
            return MSR_ABSENT;
        return (value >> 32) ? VCORE_VMX_CHECK_MSR_LOAD_HIGH_BITS : 0u;
    case MSR_IA32_BNDCFGS:
        if (!(l7b & VCORE__CPUID_7_EBX_MPX))
            return MSR_ABSENT;
        return (vcore__vmx_bndcfgs_reserved(value) || !vcore__vmx_chk_canonical(c, value & ~0xfffull))
                   ? VCORE_VMX_CHECK_MSR_LOAD_BNDCFGS
                   : 0u;
    case MSR_IA32_XSS: {
        /* The supervisor state components CPUID.(EAX=0DH,ECX=1) EDX:ECX lists. */
        uint64_t supported = ((uint64_t)vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_XSAVE, 1, 3) << 32) |
                             vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_XSAVE, 1, 2);
        if (!(vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_XSAVE, 1, 0) & VCORE__CPUID_D1_EAX_XSAVES))
            return MSR_ABSENT;
        return (value & ~supported) ? VCORE_VMX_CHECK_MSR_LOAD_XSS : 0u;
    }
    case VCORE_MSR_IA32_EFER:
        if (vcore__vmx_efer_reserved(value))
            return VCORE_VMX_CHECK_MSR_LOAD_EFER_RESERVED;
        /* SDM "Initializing IA-32e Mode": LME cannot change while paging
         * is on; after the guest state is loaded LME equals IA-32e mode
         * guest when the guest CR0.PG is 1. */
        if ((c->v->GUEST_CR0 & VCORE__CR0_PG) && ((value & VCORE__EFER_LME) != 0) != c->ia32e)
            return VCORE_VMX_CHECK_MSR_LOAD_EFER_LME;
        return 0;
    case VCORE_MSR_IA32_FMASK:
        return (value >> 32) ? VCORE_VMX_CHECK_MSR_LOAD_HIGH_BITS : 0u;
    case VCORE_MSR_IA32_TSC_AUX:
        if (!(vcore__vmx_chk_cpuid(c, VCORE__CPUID_LEAF_EXT_INFO, 0, 3) & VCORE__CPUID_81_EDX_RDTSCP) &&
            !(l7c & VCORE__CPUID_7_ECX_RDPID))
            return MSR_ABSENT;
        return (value >> 32) ? VCORE_VMX_CHECK_MSR_LOAD_HIGH_BITS : 0u;
    default:
        break;
    }
    if (index >= MSR_IA32_PL0_SSP && index <= MSR_IA32_PL3_SSP) {
        if (!cet_ss)
            return MSR_ABSENT;
        return ((value & 3u) || !vcore__vmx_chk_canonical(c, value)) ? VCORE_VMX_CHECK_MSR_LOAD_SSP : 0u;
    }
    id = msr_load_wrmsr_pmu(c, index, value, &known);
    if (known)
        return id;
    /* An MSR the library does not model: the VMM decides, if it can. */
    if (c->in->msr_writable)
        return c->in->msr_writable(c->in->msr_ctx, index, value) ? 0u : VCORE_VMX_CHECK_MSR_LOAD_REFUSED;
    return MSR_ABSENT;
#undef MSR_ABSENT
}

uint32_t vcore__vmx_msr_list_index(uint64_t lo, bool load)
{
    uint32_t index = (uint32_t)lo;

    if (load && (index == VCORE_MSR_IA32_FS_BASE || index == VCORE_MSR_IA32_GS_BASE))
        return VCORE_VMX_CHECK_MSR_LOAD_FS_GS_BASE;
    if ((index >> 8) == 0x8u)
        return VCORE_VMX_CHECK_MSR_LOAD_X2APIC;
    /* IA32_SMBASE can be neither read nor written outside SMM; the
     * SMM-transfer monitor's control can be read. */
    if (index == VCORE_MSR_IA32_SMBASE || (load && index == MSR_IA32_SMM_MONITOR_CTL))
        return VCORE_VMX_CHECK_MSR_LOAD_SMM;
    if (load && (index == MSR_IA32_BIOS_UPDT_TRIG || index == MSR_IA32_BIOS_SIGN_ID))
        return VCORE_VMX_CHECK_MSR_LOAD_MODEL_SPECIFIC;
    return (lo >> 32) ? VCORE_VMX_CHECK_MSR_LOAD_RESERVED : 0u;
}

uint32_t vcore__vmx_msr_load_entry(vcore__vmx_chk_t *c, uint32_t i, uint64_t ent[2], uint64_t *value)
{
    /* SDM Vol. 3, "Miscellaneous Data": 512 * (IA32_VMX_MISC[27:25] + 1)
     * entries is the recommended maximum; beyond it the processor's
     * behavior is undefined, and the library fails the first entry past
     * it (nothing past it is read). */
    uint32_t limit = 512u * (VCORE__VMX_MISC_MSR_LIST(c->caps[VCORE_NVMX_CAP_MISC]) + 1u), id;

    if (i >= limit) {
        ent[0] = ent[1] = 0;
        *value = c->v->VM_ENTRY_MSR_LOAD_COUNT;
        return VCORE_VMX_CHECK_MSR_LOAD_COUNT;
    }
    vcore__vmx_chk_read(c, c->v->VM_ENTRY_MSR_LOAD_ADDR + 16u * (uint64_t)i, ent, 16);
    /* The SDM's order of the reasons: the index, bits 63:32, the value. */
    id = vcore__vmx_msr_list_index(ent[0], true);
    *value = id == VCORE_VMX_CHECK_MSR_LOAD_RESERVED ? ent[0] : (uint32_t)ent[0];
    if (id)
        return id;
    *value = ent[1];
    return msr_load_wrmsr(c, (uint32_t)ent[0], ent[1]);
}

void vcore__vmx_check_msr_load(vcore__vmx_chk_t *c)
{
    uint32_t count = c->v->VM_ENTRY_MSR_LOAD_COUNT, i, id;
    uint64_t addr = c->v->VM_ENTRY_MSR_LOAD_ADDR, last = addr + (uint64_t)count * 16u - 1u, ent[2], value;

    if (count == 0)
        return;
    /* A list at an invalid address failed the entry with error 7 already
     * ("Checks on VM-Entry Control Fields"): it is never loaded. */
    if ((addr & 0xfu) || !vcore__vmx_chk_ptr_ok(c, addr) || last < addr || !vcore__vmx_chk_ptr_ok(c, last))
        return;
    for (i = 0; i < count; i++) {
        id = vcore__vmx_msr_load_entry(c, i, ent, &value);
        if (id != 0) {
            vcore__vmx_chk_fail(c, id, i + 1u, value);
            /* Nothing past the recommended maximum is read. */
            if (c->stop || id == VCORE_VMX_CHECK_MSR_LOAD_COUNT)
                return;
        }
    }
}
