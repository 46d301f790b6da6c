/*
 * hv_msr.c - the synthetic MSRs of the hypercall interface (TLFS,
 * "Reporting the Guest OS Identity", "Establishing the Hypercall
 * Interface", "Virtual Processor Properties"):
 *
 * HV_X64_MSR_GUEST_OS_ID (40000000H)  partition-wide; zeroing it disables
 *                                      the hypercall page
 * HV_X64_MSR_HYPERCALL   (40000001H)  partition-wide; 63:12 GPFN, 11:2
 *                                      RsvdP (kept as written), 1 Locked,
 *                                      0 Enable (stays 0 without a guest
 *                                      OS identity); a GPFN beyond the GPA
 *                                      space is #GP
 * HV_X64_MSR_VP_INDEX    (40000002H)  per VP, read-only to the guest (#GP)
 *
 * Guest accesses are completed in the run loop like the model MSRs
 * (vcpu_msr.c): the reply slot carries the value or the #GP flag.
 */
#include "hv.h"

/* The hypercall page: the vendor's hypercall instruction, then RET (the
 * guest CALLs the start of the page and expects a near return). */
static const uint8_t vcore__hv_page_intel[4] = {0x0f, 0x01, 0xc1, 0xc3}; /* VMCALL; RET */
static const uint8_t vcore__hv_page_amd[4] = {0x0f, 0x01, 0xd9, 0xc3};   /* VMMCALL; RET */

static uint64_t vcore__hv_msr_read(vcore_vcpu_t *vcpu, uint32_t index)
{
    vcore__hv_t *hv = vcpu->vm->hv;
    switch (index) {
    case VCORE_HV_MSR_GUEST_OS_ID:
        return __atomic_load_n(&hv->guest_os_id, __ATOMIC_SEQ_CST);
    case VCORE_HV_MSR_HYPERCALL:
        return __atomic_load_n(&hv->hypercall, __ATOMIC_SEQ_CST);
    default:
        return vcore__hv_slot(vcpu)->vp_index;
    }
}

static int vcore__hv_write_hypercall(vcore_vcpu_t *vcpu, uint64_t value)
{
    vcore__hv_t *hv = vcpu->vm->hv;
    uint64_t gpa = value & ~(uint64_t)0xfff;
    /* "If the guest attempts to move the hypercall page beyond the bounds
     * of the GPA space, a #GP fault will result when the MSR is written." */
    if (!vcore__x86_phys_ok(gpa, vcpu->x86->model.maxphyaddr))
        return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_HV_MSR_HYPERCALL_GPA, value);
    uint64_t old = __atomic_load_n(&hv->hypercall, __ATOMIC_SEQ_CST);
    for (;;) {
        /* Locked: immutable until a system reset (vcore_hv_reset()). */
        if (old & VCORE_HV_HYPERCALL_LOCKED)
            return VCORE_OK;
        uint64_t neu = value;
        /* Without a guest OS identity "the enable bit will remain zero". */
        if (__atomic_load_n(&hv->guest_os_id, __ATOMIC_SEQ_CST) == 0)
            neu &= ~VCORE_HV_HYPERCALL_ENABLE;
        if (neu & VCORE_HV_HYPERCALL_ENABLE) {
            uint32_t v = vcore__vcpu_vendor(vcpu);
            bool amd = v == VCORE_X86_VENDOR_AMD || v == VCORE_X86_VENDOR_HYGON;
            /* The library has no overlay pages: it writes the sequence into
             * guest memory, which must be there and writable. */
            if (vcore_vm_write_guest(vcpu->vm, gpa, amd ? vcore__hv_page_amd : vcore__hv_page_intel,
                                     sizeof(vcore__hv_page_intel)) != VCORE_OK)
                return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_HV_MSR_HYPERCALL_PAGE, gpa);
        }
        if (__atomic_compare_exchange_n(&hv->hypercall, &old, neu, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return VCORE_OK;
    }
}

/* A write with the guest's rules (guest) or the VMM's (VP index writable). */
static int vcore__hv_msr_write(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value, bool guest)
{
    vcore__hv_t *hv = vcpu->vm->hv;
    switch (index) {
    case VCORE_HV_MSR_GUEST_OS_ID:
        __atomic_store_n(&hv->guest_os_id, value, __ATOMIC_SEQ_CST);
        /* "If this register is subsequently zeroed, the hypercall code page
         * will be disabled." */
        if (value == 0)
            __atomic_and_fetch(&hv->hypercall, ~VCORE_HV_HYPERCALL_ENABLE, __ATOMIC_SEQ_CST);
        return VCORE_OK;
    case VCORE_HV_MSR_HYPERCALL:
        return vcore__hv_write_hypercall(vcpu, value);
    default:
        if (guest)
            return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_HV_MSR_VP_INDEX_WRITE, value);
        return vcore__hv_set_vp_index(vcpu, value);
    }
}

static bool vcore__hv_msr_is_synthetic(uint32_t index)
{
    return index >= VCORE_HV_MSR_GUEST_OS_ID && index <= VCORE_HV_MSR_VP_INDEX;
}

int vcore__hv_msr_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    uint32_t index = exit->u.msr.index;
    if (vcpu->vm->hv->host || !vcore__hv_msr_is_synthetic(index))
        return VCORE_OK;
    *handled = true;
    if (exit->reason == VCORE_EXIT_RDMSR) {
        exit->u.msr.value = vcore__hv_msr_read(vcpu, index);
        exit->u.msr.error = 0;
        return VCORE_OK;
    }
    int err = vcore__hv_msr_write(vcpu, index, exit->u.msr.value, true);
    if (err && err != VCORE_ERR_INVAL)
        return err;
    exit->u.msr.error = err ? 1u : 0u; /* refused: #GP(0) */
    return VCORE_OK;
}

/* Front half of the VMM accessors: a vCPU of a Hyper-V VM, a synthetic MSR. */
static int vcore__hv_msr_prepare(vcore_vcpu_t *vcpu, uint32_t index)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    if (!vcpu->vm->hv)
        return vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_HV_NOT_ENABLED, index);
    if (!vcore__hv_msr_is_synthetic(index))
        return VCORE_ERR_NOENT;
    /* With the host's Hyper-V the partition-wide MSRs live in the host. */
    if (vcpu->vm->hv->host && index != VCORE_HV_MSR_VP_INDEX)
        return VCORE_ERR_UNSUPPORTED;
    return VCORE_OK;
}

int vcore_hv_get_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value)
{
    if (!value)
        return VCORE_ERR_INVAL;
    int err = vcore__hv_msr_prepare(vcpu, index);
    if (err)
        return err;
    *value = vcore__hv_msr_read(vcpu, index);
    return VCORE_OK;
}

int vcore_hv_set_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value)
{
    int err = vcore__hv_msr_prepare(vcpu, index);
    if (err)
        return err;
    return vcore__hv_msr_write(vcpu, index, value, false);
}
