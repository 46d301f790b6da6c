/*
 * check_ctls.c - SDM Vol. 3, "Checks on VMX Controls": "Checks on
 * VM-Execution Control Fields", "Checks on VM-Exit Control Fields" and
 * "Checks on VM-Entry Control Fields" (event injection included). Every
 * failure is VMfailValid 7.
 *
 * A check tied to a control applies only when the control is in force (set
 * and allowed, see check.c). Capability-dependent limits come from the
 * capability MSRs of the snapshot: allowed settings (TRUE MSRs with
 * IA32_VMX_BASIC[55]), the CR3-target count, the EPT memory types and
 * page-walk lengths, and the width of VMCS-referenced addresses
 * (IA32_VMX_BASIC[48] limits them to 32 bits).
 */
#include "check_priv.h"

/* The EPTP failure bits of vcore__vmx_eptp_faults() are the check ids from
 * EXEC_EPTP_MEMTYPE on, in table order. */
typedef char vcore__vmx_eptp_ids_contiguous[(VCORE_VMX_CHECK_EXEC_EPTP_WIDTH -
                                              VCORE_VMX_CHECK_EXEC_EPTP_MEMTYPE == 5)
                                                 ? 1
                                                 : -1];

/* SDM "Checks on VM-Execution Control Fields", the EPT pointer; also the
 * validity of the EPTP operand of a single-context INVEPT. Bit k of the
 * result is check EXEC_EPTP_MEMTYPE + k. */
uint32_t vcore__vmx_eptp_faults(const uint64_t *caps, uint32_t maxphyaddr, uint64_t eptp)
{
    uint64_t cap = caps[VCORE_NVMX_CAP_EPT_VPID];
    uint64_t memtype = eptp & 7u, walk = (eptp >> 3) & 7u;
    uint32_t f = 0;

    /* Bits 2:0: a memory type IA32_VMX_EPT_VPID_CAP allows (UC 0, WB 6). */
    if (!((memtype == 0 && (cap & VCORE__EPT_CAP_UC)) || (memtype == 6 && (cap & VCORE__EPT_CAP_WB))))
        f |= 1u << 0;
    /* Bits 5:3: page-walk length minus 1, 3 (4 levels) or 4 (5 levels). */
    if (!((walk == 3 && (cap & VCORE__EPT_CAP_WALK4)) || (walk == 4 && (cap & VCORE__EPT_CAP_WALK5))))
        f |= 1u << 1;
    /* Bit 6: accessed and dirty flags; bit 7: supervisor shadow-stack control. */
    if ((eptp & VCORE__BIT(6)) && !(cap & VCORE__EPT_CAP_AD))
        f |= 1u << 2;
    if ((eptp & VCORE__BIT(7)) && !(cap & VCORE__EPT_CAP_SSS))
        f |= 1u << 3;
    /* Bits 11:8 reserved; bits 63:N beyond the physical-address width. */
    if (eptp & 0xf00u)
        f |= 1u << 4;
    if (!vcore__x86_phys_ok(eptp, maxphyaddr))
        f |= 1u << 5;
    return f;
}

/* A page-aligned VMCS pointer: the _ALIGN check, then the _WIDTH check
 * (ids consecutive in the table). Returns from the section when told to stop. */
#define VCORE__CHK_PAGE_PTR(c, addr, align_id)                                                     \
    do {                                                                                           \
        uint64_t a_ = (addr);                                                                      \
        if (a_ & 0xfffu) {                                                                         \
            vcore__vmx_chk_fail((c), VCORE_VMX_CHECK_##align_id, 0, a_);                           \
            if ((c)->stop)                                                                         \
                return;                                                                            \
        }                                                                                          \
        if (!vcore__vmx_chk_ptr_ok((c), a_)) {                                                     \
            vcore__vmx_chk_fail((c), VCORE_VMX_CHECK_##align_id + 1u, 0, a_);                      \
            if ((c)->stop)                                                                         \
                return;                                                                            \
        }                                                                                          \
    } while (0)

/* An MSR area of `count` 16-byte entries: bits 3:0 of the address 0, the
 * address and the address of its last byte within the width (the sum is
 * computed with more bits than the width; a wrap past 2^64 is beyond it).
 * _ALIGN, _WIDTH, _END ids are consecutive. */
static void ctls_msr_area(vcore__vmx_chk_t *c, uint64_t addr, uint32_t count, uint32_t align_id)
{
    uint64_t last = addr + (uint64_t)count * 16u - 1u;

    if (count == 0)
        return;
    VCORE__CHK_ID(c, addr & 0xfu, align_id, addr);
    VCORE__CHK_ID(c, !vcore__vmx_chk_ptr_ok(c, addr), align_id + 1u, addr);
    VCORE__CHK_ID(c, last < addr || !vcore__vmx_chk_ptr_ok(c, last), align_id + 2u, last);
}

void vcore__vmx_check_exec(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    const uint64_t *m = c->caps;
    bool tru = (m[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_TRUE_CTLS) != 0;
    uint64_t pin_cap = m[tru ? VCORE_NVMX_CAP_TRUE_PINBASED : VCORE_NVMX_CAP_PINBASED];
    uint64_t proc_cap = m[tru ? VCORE_NVMX_CAP_TRUE_PROCBASED : VCORE_NVMX_CAP_PROCBASED];
    uint64_t proc2_cap = m[VCORE_NVMX_CAP_PROCBASED2];
    uint32_t pin = v->PIN_BASED_VM_EXEC_CONTROL, proc = v->CPU_BASED_VM_EXEC_CONTROL;
    uint32_t proc2 = v->SECONDARY_VM_EXEC_CONTROL;
    uint32_t f, k;

    /* Reserved bits of each control word set as the capability MSRs say:
     * allowed-0 bits (31:0) must be 1, bits clear in allowed-1 (63:32) 0. */
    VCORE__CHK(c, (pin & vcore__vmx_allowed0(pin_cap)) != vcore__vmx_allowed0(pin_cap),
               EXEC_PIN_ALLOWED0, pin);
    VCORE__CHK(c, pin & ~vcore__vmx_allowed1(pin_cap), EXEC_PIN_ALLOWED1, pin);
    VCORE__CHK(c, (proc & vcore__vmx_allowed0(proc_cap)) != vcore__vmx_allowed0(proc_cap),
               EXEC_PROC_ALLOWED0, proc);
    VCORE__CHK(c, proc & ~vcore__vmx_allowed1(proc_cap), EXEC_PROC_ALLOWED1, proc);
    /* Secondary controls are checked only under "activate secondary
     * controls"; otherwise the processor acts as if they were 0. */
    if (c->proc & VCORE__PROC_SECONDARY) {
        VCORE__CHK(c, (proc2 & vcore__vmx_allowed0(proc2_cap)) != vcore__vmx_allowed0(proc2_cap),
                   EXEC_PROC2_ALLOWED0, proc2);
        VCORE__CHK(c, proc2 & ~vcore__vmx_allowed1(proc2_cap), EXEC_PROC2_ALLOWED1, proc2);
    }
    /* Tertiary controls: the snapshot has no IA32_VMX_PROCBASED_CTLS3
     * (492H), so every tertiary control counts as reserved. */
    VCORE__CHK(c, (c->proc & VCORE__PROC_TERTIARY) && v->TERTIARY_VM_EXEC_CONTROL != 0,
               EXEC_PROC3_RESERVED, v->TERTIARY_VM_EXEC_CONTROL);
    VCORE__CHK(c, v->CR3_TARGET_COUNT > VCORE__VMX_MISC_CR3_TARGETS(m[VCORE_NVMX_CAP_MISC]),
               EXEC_CR3_TARGET_COUNT, v->CR3_TARGET_COUNT);
    if (c->proc & VCORE__PROC_IO_BITMAPS) {
        VCORE__CHK_PAGE_PTR(c, v->IO_BITMAP_A, EXEC_IO_BITMAP_A_ALIGN);
        VCORE__CHK_PAGE_PTR(c, v->IO_BITMAP_B, EXEC_IO_BITMAP_B_ALIGN);
    }
    if (c->proc & VCORE__PROC_MSR_BITMAPS)
        VCORE__CHK_PAGE_PTR(c, v->MSR_BITMAP, EXEC_MSR_BITMAP_ALIGN);
    if (c->proc & VCORE__PROC_TPR_SHADOW) {
        uint64_t vapic = v->VIRTUAL_APIC_PAGE_ADDR;
        bool vapic_ok = (vapic & 0xfffu) == 0 && vcore__vmx_chk_ptr_ok(c, vapic);

        VCORE__CHK_PAGE_PTR(c, vapic, EXEC_VAPIC_ALIGN);
        VCORE__CHK(c, !(c->proc2 & VCORE__PROC2_VID) && (v->TPR_THRESHOLD & ~0xfu),
                   EXEC_TPR_THRESHOLD_RESERVED, v->TPR_THRESHOLD);
        /* With neither APIC-access virtualization nor virtual-interrupt
         * delivery, TPR threshold[3:0] must not exceed VTPR[7:4] (byte 80H
         * of the virtual-APIC page, read once), once the address is valid. */
        if (vapic_ok && !(c->proc2 & (VCORE__PROC2_APIC_ACCESS | VCORE__PROC2_VID))) {
            uint8_t vtpr = 0;
            vcore__vmx_chk_read(c, vapic + 0x80u, &vtpr, 1);
            VCORE__CHK(c, VCORE__VTPR_BELOW_THRESHOLD(v->TPR_THRESHOLD, vtpr), EXEC_TPR_THRESHOLD_VTPR,
                       ((uint64_t)vtpr << 32) | v->TPR_THRESHOLD);
        }
    }
    VCORE__CHK(c, !(c->pin & VCORE__PIN_NMI_EXITING) && (c->pin & VCORE__PIN_VIRTUAL_NMIS),
               EXEC_VNMI_NMI_EXITING, pin);
    VCORE__CHK(c, !(c->pin & VCORE__PIN_VIRTUAL_NMIS) && (c->proc & VCORE__PROC_NMI_WINDOW),
               EXEC_NMI_WINDOW_VNMI, proc);
    if (c->proc2 & VCORE__PROC2_APIC_ACCESS)
        VCORE__CHK_PAGE_PTR(c, v->APIC_ACCESS_ADDR, EXEC_APIC_ACCESS_ALIGN);
    if (!(c->proc & VCORE__PROC_TPR_SHADOW)) {
        VCORE__CHK(c, c->proc2 & VCORE__PROC2_X2APIC, EXEC_X2APIC_TPR_SHADOW, proc2);
        VCORE__CHK(c, c->proc2 & VCORE__PROC2_APIC_REG, EXEC_APIC_REG_TPR_SHADOW, proc2);
        VCORE__CHK(c, c->proc2 & VCORE__PROC2_VID, EXEC_VID_TPR_SHADOW, proc2);
    }
    VCORE__CHK(c, (c->proc2 & VCORE__PROC2_X2APIC) && (c->proc2 & VCORE__PROC2_APIC_ACCESS),
               EXEC_X2APIC_APIC_ACCESS, proc2);
    VCORE__CHK(c, (c->proc2 & VCORE__PROC2_VID) && !(c->pin & VCORE__PIN_EXT_INT_EXITING),
               EXEC_VID_EXT_INT, pin);
    if (c->pin & VCORE__PIN_POSTED_INTR) {
        uint64_t desc = v->POSTED_INTR_DESC_ADDR;
        VCORE__CHK(c, !(c->proc2 & VCORE__PROC2_VID), EXEC_PI_VID, proc2);
        VCORE__CHK(c, !(c->exit & VCORE__EXIT_ACK_INTR), EXEC_PI_ACK_INTR, v->VM_EXIT_CONTROLS);
        VCORE__CHK(c, v->POSTED_INTR_NV & 0xff00u, EXEC_PI_VECTOR, v->POSTED_INTR_NV);
        VCORE__CHK(c, desc & 0x3fu, EXEC_PI_DESC_ALIGN, desc);
        VCORE__CHK(c, !vcore__vmx_chk_ptr_ok(c, desc), EXEC_PI_DESC_WIDTH, desc);
    }
    VCORE__CHK(c, (c->proc2 & VCORE__PROC2_VPID) && v->VIRTUAL_PROCESSOR_ID == 0, EXEC_VPID_ZERO, 0);
    if (c->proc2 & VCORE__PROC2_EPT) {
        f = vcore__vmx_eptp_faults(m, c->in->maxphyaddr, v->EPT_POINTER);
        for (k = 0; k < 6; k++)
            VCORE__CHK_ID(c, (f >> k) & 1u, (uint32_t)VCORE_VMX_CHECK_EXEC_EPTP_MEMTYPE + k, v->EPT_POINTER);
    }
    if (c->proc2 & VCORE__PROC2_PML) {
        VCORE__CHK(c, !(c->proc2 & VCORE__PROC2_EPT), EXEC_PML_EPT, proc2);
        VCORE__CHK_PAGE_PTR(c, v->PML_ADDRESS, EXEC_PML_ALIGN);
    }
    VCORE__CHK(c, (c->proc2 & VCORE__PROC2_URG) && !(c->proc2 & VCORE__PROC2_EPT), EXEC_URG_EPT, proc2);
    VCORE__CHK(c, (c->proc2 & VCORE__PROC2_MBEC) && !(c->proc2 & VCORE__PROC2_EPT), EXEC_MBEC_EPT, proc2);
    if (c->proc2 & VCORE__PROC2_SPP) {
        VCORE__CHK(c, !(c->proc2 & VCORE__PROC2_EPT), EXEC_SPP_EPT, proc2);
        VCORE__CHK_PAGE_PTR(c, v->SPP_TABLE_POINTER, EXEC_SPPTP_ALIGN);
    }
    if (c->proc2 & VCORE__PROC2_VMFUNC) {
        uint64_t fn = v->VM_FUNCTION_CONTROL;
        VCORE__CHK(c, fn & ~m[VCORE_NVMX_CAP_VMFUNC], EXEC_VMFUNC_RESERVED, fn);
        if (fn & m[VCORE_NVMX_CAP_VMFUNC] & VCORE__VMFUNC_EPTP_SWITCHING) {
            VCORE__CHK(c, !(c->proc2 & VCORE__PROC2_EPT), EXEC_EPTP_SWITCH_EPT, proc2);
            VCORE__CHK_PAGE_PTR(c, v->EPTP_LIST_ADDRESS, EXEC_EPTP_LIST_ALIGN);
        }
    }
    if (c->proc2 & VCORE__PROC2_SHADOW_VMCS) {
        VCORE__CHK_PAGE_PTR(c, v->VMREAD_BITMAP, EXEC_VMREAD_BITMAP_ALIGN);
        VCORE__CHK_PAGE_PTR(c, v->VMWRITE_BITMAP, EXEC_VMWRITE_BITMAP_ALIGN);
    }
    if (c->proc2 & VCORE__PROC2_EPT_VE)
        VCORE__CHK_PAGE_PTR(c, v->VE_INFORMATION_ADDRESS, EXEC_VE_INFO_ALIGN);
    if (c->proc2 & VCORE__PROC2_PT_GPA) {
        VCORE__CHK(c, !(c->proc2 & VCORE__PROC2_EPT), EXEC_PT_GPA_EPT, proc2);
        VCORE__CHK(c, !(c->entry & VCORE__ENTRY_LOAD_RTIT), EXEC_PT_GPA_LOAD_RTIT, v->VM_ENTRY_CONTROLS);
        VCORE__CHK(c, !(c->exit & VCORE__EXIT_CLEAR_RTIT), EXEC_PT_GPA_CLEAR_RTIT, v->VM_EXIT_CONTROLS);
    }
}

void vcore__vmx_check_exit(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    const uint64_t *m = c->caps;
    bool tru = (m[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_TRUE_CTLS) != 0;
    uint64_t cap = m[tru ? VCORE_NVMX_CAP_TRUE_EXIT : VCORE_NVMX_CAP_EXIT];
    uint32_t exit = v->VM_EXIT_CONTROLS;

    VCORE__CHK(c, (exit & vcore__vmx_allowed0(cap)) != vcore__vmx_allowed0(cap), EXIT_CTL_ALLOWED0, exit);
    VCORE__CHK(c, exit & ~vcore__vmx_allowed1(cap), EXIT_CTL_ALLOWED1, exit);
    /* No IA32_VMX_EXIT_CTLS2 (493H) in the snapshot: every secondary
     * VM-exit control counts as reserved. */
    VCORE__CHK(c, (c->exit & VCORE__EXIT_SECONDARY) && v->SECONDARY_VM_EXIT_CONTROLS != 0,
               EXIT_CTL2_RESERVED, v->SECONDARY_VM_EXIT_CONTROLS);
    VCORE__CHK(c, !(c->pin & VCORE__PIN_PREEMPT_TIMER) && (c->exit & VCORE__EXIT_SAVE_TIMER),
               EXIT_SAVE_TIMER, exit);
    ctls_msr_area(c, v->VM_EXIT_MSR_STORE_ADDR, v->VM_EXIT_MSR_STORE_COUNT, VCORE_VMX_CHECK_EXIT_MSR_STORE_ALIGN);
    if (c->stop)
        return;
    ctls_msr_area(c, v->VM_EXIT_MSR_LOAD_ADDR, v->VM_EXIT_MSR_LOAD_COUNT, VCORE_VMX_CHECK_EXIT_MSR_LOAD_ALIGN);
}

/* Hardware exceptions that push an error code (SDM Vol. 3, "Exception and
 * Interrupt Reference"): #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14,
 * #AC 17. (#CP 21 pushes one only on processors with CET, which report
 * IA32_VMX_BASIC[56] and so skip this consistency check.) */
static bool ctls_vector_has_error_code(uint32_t vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
}

void vcore__vmx_check_entry_ctls(vcore__vmx_chk_t *c)
{
    const vcore__vmcs12_t *v = c->v;
    const uint64_t *m = c->caps;
    bool tru = (m[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_TRUE_CTLS) != 0;
    uint64_t cap = m[tru ? VCORE_NVMX_CAP_TRUE_ENTRY : VCORE_NVMX_CAP_ENTRY];
    uint32_t entry = v->VM_ENTRY_CONTROLS, info = v->VM_ENTRY_INTR_INFO_FIELD;

    VCORE__CHK(c, (entry & vcore__vmx_allowed0(cap)) != vcore__vmx_allowed0(cap), ENTRY_CTL_ALLOWED0,
               entry);
    VCORE__CHK(c, entry & ~vcore__vmx_allowed1(cap), ENTRY_CTL_ALLOWED1, entry);

    /* Event injection ("VM-Entry Controls for Event Injection"). */
    if (info & VCORE__IINFO_VALID) {
        uint32_t type = VCORE__IINFO_TYPE(info), vector = VCORE__IINFO_VECTOR(info);
        bool mtf = (vcore__vmx_allowed1(m[tru ? VCORE_NVMX_CAP_TRUE_PROCBASED : VCORE_NVMX_CAP_PROCBASED]) &
                    VCORE__PROC_MTF) != 0;
        bool deliver = (info & VCORE__IINFO_ERRCODE) != 0;
        /* Protected mode for the error-code rule: CR0.PE in the guest CR0
         * field, which can be 0 only with unrestricted guest. */
        bool pm = !c->urg || (v->GUEST_CR0 & VCORE__CR0_PE);
        bool relaxed = (m[VCORE_NVMX_CAP_BASIC] & VCORE__VMX_BASIC_NO_ERRCODE_CHECK) != 0;
        bool must_set = type == VCORE__ITYPE_HW_EXC && pm && !relaxed && ctls_vector_has_error_code(vector);
        bool must_clear = type != VCORE__ITYPE_HW_EXC || !pm ||
                          (!relaxed && !ctls_vector_has_error_code(vector));

        /* Type 1 is reserved; type 7 (other event) needs monitor trap flag. */
        VCORE__CHK(c, type == 1 || (type == VCORE__ITYPE_OTHER && !mtf), ENTRY_INTR_TYPE, info);
        VCORE__CHK(c, type == VCORE__ITYPE_NMI && vector != 2, ENTRY_INTR_NMI_VECTOR, info);
        VCORE__CHK(c, type == VCORE__ITYPE_HW_EXC && vector > 31, ENTRY_INTR_HW_VECTOR, info);
        VCORE__CHK(c, type == VCORE__ITYPE_OTHER && vector != 0, ENTRY_INTR_OTHER_VECTOR, info);
        VCORE__CHK(c, !deliver && must_set, ENTRY_INTR_ERRCODE_SET, info);
        VCORE__CHK(c, deliver && must_clear, ENTRY_INTR_ERRCODE_CLEAR, info);
        VCORE__CHK(c, info & 0x7ffff000u, ENTRY_INTR_RESERVED, info);
        VCORE__CHK(c, deliver && (v->VM_ENTRY_EXCEPTION_ERROR_CODE & 0xffff0000u), ENTRY_INTR_ERRCODE_HIGH,
                   v->VM_ENTRY_EXCEPTION_ERROR_CODE);
        if (type == VCORE__ITYPE_SW_INT || type == VCORE__ITYPE_PRIV_SW_EXC || type == VCORE__ITYPE_SW_EXC) {
            VCORE__CHK(c, v->VM_ENTRY_INSTRUCTION_LEN > 15, ENTRY_INTR_LEN_RANGE, v->VM_ENTRY_INSTRUCTION_LEN);
            VCORE__CHK(c, v->VM_ENTRY_INSTRUCTION_LEN == 0 && !(m[VCORE_NVMX_CAP_MISC] & VCORE__VMX_MISC_ZERO_LEN_INJECT),
                       ENTRY_INTR_LEN_ZERO, 0);
        }
    }
    ctls_msr_area(c, v->VM_ENTRY_MSR_LOAD_ADDR, v->VM_ENTRY_MSR_LOAD_COUNT, VCORE_VMX_CHECK_ENTRY_MSR_LOAD_ALIGN);
    if (c->stop)
        return;
    /* The library's processor is never in SMM. */
    VCORE__CHK(c, c->entry & VCORE__ENTRY_SMM, ENTRY_SMM_OUTSIDE_SMM, entry);
    VCORE__CHK(c, c->entry & VCORE__ENTRY_DUAL_MONITOR, ENTRY_DUAL_MONITOR_OUTSIDE_SMM, entry);
    VCORE__CHK(c, (c->entry & (VCORE__ENTRY_SMM | VCORE__ENTRY_DUAL_MONITOR)) ==
                      (VCORE__ENTRY_SMM | VCORE__ENTRY_DUAL_MONITOR),
               ENTRY_SMM_AND_DUAL_MONITOR, entry);
}
