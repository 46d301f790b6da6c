/*
 * vmx_caps.c - VMX capability probing and control adjustment.
 *
 * SDM Vol. 3, "VMX Capability Reporting Facility": each control MSR reports
 * the allowed 0-settings in bits 31:0 (a 1 there means the control must be
 * 1) and the allowed 1-settings in bits 63:32 (a 0 there means the control
 * must be 0). When IA32_VMX_BASIC bit 55 is set the TRUE_* MSRs report the
 * real allowed 0-settings of the default1 controls and are used instead.
 */
#include "vmx.h"

int vcore__vmx_caps_read(vcore__vmx_caps_t *caps)
{
    /* SDM Vol. 3, "Discovering Support for VMX": CPUID.1:ECX.VMX[bit 5]. */
    if (!(vcore__vmx_cpuid1_ecx() & VCORE__CPUID_1_ECX_VMX))
        return VCORE_ERR_NODEV;
    /* SDM Vol. 3, "Enabling and Entering VMX Operation": VMXON outside SMX
     * needs IA32_FEATURE_CONTROL locked with bit 2 set. The library never
     * writes the lock: that is firmware's job. */
    uint64_t fc = vcore__vmx_rdmsr(VCORE__MSR_FEATURE_CONTROL);
    if (!(fc & VCORE__FEATCTL_LOCK) || !(fc & VCORE__FEATCTL_VMX_OUTSIDE_SMX))
        return VCORE_ERR_NODEV;
    vcore__memset(caps, 0, sizeof(*caps));
    uint64_t *m = caps->msr;
    /* 480H-48AH exist on every processor with VMX. */
    for (uint32_t i = VCORE_NVMX_CAP_BASIC; i <= VCORE_NVMX_CAP_VMCS_ENUM; i++)
        m[i] = vcore__vmx_rdmsr(VCORE__MSR_VMX_BASIC + i);
    /* The others only where "VMX Capability Reporting Facility" says they
     * do (reading an absent MSR is #GP): the secondary controls if the
     * primary ones can activate them, EPT/VPID if either can be enabled,
     * the TRUE_* MSRs with BASIC bit 55, VMFUNC with "enable VM functions". */
    if ((m[VCORE_NVMX_CAP_PROCBASED] >> 32) & VCORE__PROC_SECONDARY) {
        m[VCORE_NVMX_CAP_PROCBASED2] = vcore__vmx_rdmsr(VCORE__MSR_VMX_PROCBASED2);
        uint32_t may1 = (uint32_t)(m[VCORE_NVMX_CAP_PROCBASED2] >> 32);
        if (may1 & (VCORE__PROC2_EPT | VCORE__PROC2_VPID))
            m[VCORE_NVMX_CAP_EPT_VPID] = vcore__vmx_rdmsr(VCORE__MSR_VMX_EPT_VPID_CAP);
        if (may1 & VCORE__PROC2_VMFUNC)
            m[VCORE_NVMX_CAP_VMFUNC] = vcore__vmx_rdmsr(VCORE__MSR_VMX_VMFUNC);
    }
    bool true_ctls = (m[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_TRUE_CTLS) != 0;
    if (true_ctls)
        for (uint32_t i = VCORE_NVMX_CAP_TRUE_PINBASED; i <= VCORE_NVMX_CAP_TRUE_ENTRY; i++)
            m[i] = vcore__vmx_rdmsr(VCORE__MSR_VMX_BASIC + i);
    caps->basic = m[VCORE_NVMX_CAP_BASIC];
    caps->pin = m[true_ctls ? VCORE_NVMX_CAP_TRUE_PINBASED : VCORE_NVMX_CAP_PINBASED];
    caps->proc = m[true_ctls ? VCORE_NVMX_CAP_TRUE_PROCBASED : VCORE_NVMX_CAP_PROCBASED];
    caps->exit = m[true_ctls ? VCORE_NVMX_CAP_TRUE_EXIT : VCORE_NVMX_CAP_EXIT];
    caps->entry = m[true_ctls ? VCORE_NVMX_CAP_TRUE_ENTRY : VCORE_NVMX_CAP_ENTRY];
    caps->misc = m[VCORE_NVMX_CAP_MISC];
    caps->cr0_fixed0 = m[VCORE_NVMX_CAP_CR0_FIXED0];
    caps->cr0_fixed1 = m[VCORE_NVMX_CAP_CR0_FIXED1];
    caps->cr4_fixed0 = m[VCORE_NVMX_CAP_CR4_FIXED0];
    caps->cr4_fixed1 = m[VCORE_NVMX_CAP_CR4_FIXED1];
    caps->proc2 = m[VCORE_NVMX_CAP_PROCBASED2];
    caps->ept_vpid = m[VCORE_NVMX_CAP_EPT_VPID];
    return VCORE_OK;
}

int vcore__vmx_ctl_adjust(uint64_t cap, uint32_t required, uint32_t optional, uint32_t *out)
{
    uint32_t must1 = (uint32_t)cap;          /* allowed 0-settings: 1 = must be 1 */
    uint32_t may1 = (uint32_t)(cap >> 32);   /* allowed 1-settings: 0 = must be 0 */
    if ((required & ~may1) != 0)
        return VCORE_ERR_UNSUPPORTED;
    if ((must1 & ~may1) != 0)
        return VCORE_ERR_HWFAIL; /* an inconsistent capability MSR */
    *out = must1 | required | (optional & may1);
    return VCORE_OK;
}

int vcore__vmx_caps_choose(const vcore__vmx_caps_t *caps, vcore__vmx_ctls_t *out)
{
    int err;
    /* External interrupts must reach the host: they exit and stay pending
     * (no acknowledge-on-exit), delivered once the embedder sets RFLAGS.IF.
     * NMIs too ("NMI exiting"): without it a host NMI would be delivered
     * through the guest's IDT. Virtual NMIs give the guest its own NMI
     * blocking, which NMI-window exiting needs. */
    err = vcore__vmx_ctl_adjust(caps->pin, VCORE__PIN_EXT_INT_EXITING | VCORE__PIN_NMI_EXITING | VCORE__PIN_VIRTUAL_NMIS,
                                0, &out->pin);
    if (err)
        return err;
    /* HLT and all port I/O exit (the I/O bitmaps are all ones); MSR bitmaps
     * let the VMCS-switched MSRs pass; EPT needs the secondary controls; the
     * guest's TSC is the host's plus vmcs01's TSC offset (vmx_state.c).
     * CR3 accesses need not exit with EPT: they are cleared where the TRUE
     * MSRs allow it (they are default1 otherwise). The interrupt- and
     * NMI-window controls are set per entry, but must be available. */
    uint32_t windows = 0;
    err = vcore__vmx_ctl_adjust(caps->proc, VCORE__PROC_IRQ_WINDOW | VCORE__PROC_NMI_WINDOW, 0,
                                &windows);
    if (err)
        return err;
    err = vcore__vmx_ctl_adjust(caps->proc,
                                VCORE__PROC_HLT | VCORE__PROC_CR8_LOAD | VCORE__PROC_CR8_STORE |
                                    VCORE__PROC_IO_BITMAPS | VCORE__PROC_MSR_BITMAPS |
                                    VCORE__PROC_SECONDARY | VCORE__PROC_TSC_OFFSET,
                                0, &out->proc);
    if (err)
        return err;
    if (out->proc & (VCORE__PROC_IRQ_WINDOW | VCORE__PROC_NMI_WINDOW))
        return VCORE_ERR_HWFAIL; /* a window control that cannot be 0: the guest could never run */
    err = vcore__vmx_ctl_adjust(caps->proc2, VCORE__PROC2_EPT,
                                VCORE__PROC2_VPID | VCORE__PROC2_URG | VCORE__PROC2_RDTSCP |
                                    VCORE__PROC2_INVPCID,
                                &out->proc2);
    if (err)
        return err;
    /* VPID without single-context INVVPID cannot be flushed per vCPU. */
    if ((out->proc2 & VCORE__PROC2_VPID) &&
        !((caps->ept_vpid & VCORE__EPT_CAP_INVVPID) && (caps->ept_vpid & VCORE__EPT_CAP_INVVPID_SINGLE)))
        out->proc2 &= ~VCORE__PROC2_VPID;
    /* DR7 and IA32_DEBUGCTL are the guest's while it runs ("Loading Guest
     * Control Registers, Debug Registers, and MSRs"; "Saving Control
     * Registers, Debug Registers, and MSRs"). */
    err = vcore__vmx_ctl_adjust(caps->exit,
                                VCORE__EXIT_HOST_64 | VCORE__EXIT_SAVE_DEBUG | VCORE__EXIT_SAVE_EFER |
                                    VCORE__EXIT_LOAD_EFER | VCORE__EXIT_SAVE_PAT | VCORE__EXIT_LOAD_PAT,
                                0, &out->exit);
    if (err)
        return err;
    err = vcore__vmx_ctl_adjust(caps->entry,
                                VCORE__ENTRY_LOAD_DEBUG | VCORE__ENTRY_LOAD_EFER | VCORE__ENTRY_LOAD_PAT,
                                0, &out->entry);
    if (err)
        return err;
    /* "IA-32e mode guest" follows the guest's EFER.LMA at every entry. */
    out->entry &= ~VCORE__ENTRY_IA32E;
    /* EPT with a 4-level walk and write-back paging structures is the only
     * layout the builder produces ("EPT Capabilities"). */
    if (!(caps->ept_vpid & VCORE__EPT_CAP_WALK4) || !(caps->ept_vpid & VCORE__EPT_CAP_WB) ||
        !(caps->ept_vpid & VCORE__EPT_CAP_INVEPT) ||
        !(caps->ept_vpid & (VCORE__EPT_CAP_INVEPT_SINGLE | VCORE__EPT_CAP_INVEPT_ALL)))
        return VCORE_ERR_UNSUPPORTED;
    return VCORE_OK;
}

uint64_t vcore__vmx_cr0_forced(const vcore__vmx_caps_t *caps, bool unrestricted)
{
    uint64_t f = caps->cr0_fixed0;
    /* SDM Vol. 3, "VMX-Fixed Bits in CR0": with unrestricted guest, PE and
     * PG may be 0 in the guest even though they are fixed to 1 in VMX operation. */
    if (unrestricted)
        f &= ~(VCORE__CR0_PE | VCORE__CR0_PG);
    return f;
}

int vcore__vmx_caps_op(vcore_vm_t *vm, void *priv, vcore_nvmx_caps_t *out)
{
    const vcore__vmx_vm_t *v = priv;
    (void)vm;
    if (!out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    vcore__memcpy(out->msr, v->caps.msr, sizeof(out->msr));
    return VCORE_OK;
}
