/*
 * vcpu_nested_msrload.c - the VM-entry MSR-load list of L1's VMLAUNCH /
 * VMRESUME, loaded for L2.
 *
 * SDM Vol. 3, "Loading MSRs": after the guest state is loaded, the entries
 * are processed in order, each as WRMSR at CPL 0 would write it; the first
 * entry that cannot be loaded fails the VM entry ("VM-Entry Failures During
 * or After Loading Guest State": exit reason 34 with bit 31 set, its 1-based
 * index as the exit qualification) and the entries before it stay loaded.
 * Each 16-byte entry is read from L1 memory once, checked on that copy by
 * the VM-entry checks' rule (vcore__vmx_msr_load_entry), and only the copy
 * is loaded; the next entry reads the list again.
 *
 * Where the value goes for L2:
 * - IA32_SYSENTER_CS/ESP/EIP: vmcs02's guest state (the VM exit saves them
 *   into vmcs12, "Saving Processor State");
 * - IA32_EFER: vmcs02's guest IA32_EFER, which vmcs02 always loads
 *   (vcpu_nested_efer.c). "Loading Guest Control Registers, Debug
 *   Registers, and MSRs": an MSR the guest-state area loads is overwritten
 *   when the list names it. The write is WRMSR's (the rule L2's own WRMSR
 *   uses): LMA is read-only, so it keeps what the guest state loaded and
 *   L2's mode stays the one "IA-32e mode guest" chose - the guest-state
 *   checks ("Checks on Guest Control Registers, Debug Registers, and MSRs")
 *   compared LMA with that control before the list, and "Loading MSRs"
 *   notes that with CR0.PG = 1 a list entry changing LME is WRMSR's #GP,
 *   so a failed entry. The exit gives L1 back L2's value as for L2's own
 *   WRMSR ("save IA32_EFER", and "Loading Host State" without "load
 *   IA32_EFER": L2's bits other than LMA and LME stay);
 * - IA32_PAT: vmcs02's guest IA32_PAT, which vmcs02 always loads
 *   (vcpu_nested_pat.c), by the same WRMSR rule as L2's own WRMSR (an
 *   undefined memory type failed the entry's checks already). The exit
 *   gives L1 back L2's value ("save IA32_PAT", and "Loading Host State"
 *   without "load IA32_PAT" leaves the PAT alone);
 * - IA32_DEBUGCTL: vmcs02's guest IA32_DEBUGCTL, which vmcs02 always loads
 *   (vcpu_nested_debugctl.c), by the vCPU model's WRMSR rule as for L2's
 *   own WRMSR (a reserved bit failed the entry's checks already). The exit
 *   gives it to L1 only through "save debug controls" and clears it;
 * - the MSRs the vCPU model holds that no VMCS field switches (IA32_STAR,
 *   LSTAR, CSTAR, FMASK, KERNEL_GS_BASE, TSC_AUX, APIC_BASE, MISC_ENABLE):
 *   the vCPU's own, through the model's WRMSR rules (a value the model
 *   refuses fails the entry as #GP would). L1 shares them with L2: at the
 *   exit only L1's VM-exit MSR-load list puts its values back;
 * - any other MSR: the library does not hold L2's value, so the entry is
 *   refused (VCORE_ERR_UNSUPPORTED, NVMX_MSR_LOAD_UNHELD) and nothing of
 *   the list stays loaded: the TSC and the MSRs the VMM models.
 */
#include "vcpu_nested.h"

#include "x86/vmx/check_priv.h"

/* The vCPU model's MSRs that L1 and L2 share: the model holds them (state
 * group MSRS) and no VMCS field switches them. SYSENTER, IA32_PAT and
 * IA32_DEBUGCTL go to vmcs02. */
static bool vcore__vcpu_nested_msrload_shared(uint32_t index)
{
    return vcore__x86_msr_classes(index) == VCORE_X86_STATE_MSRS && index != VCORE_MSR_IA32_PAT &&
           index != VCORE_MSR_IA32_DEBUGCTL && !vcore__vcpu_nested_l0_msr_field(index);
}

/* One entry whose checks passed: *check stays 0 when it is loaded, becomes
 * MSR_LOAD_REFUSED when the model refuses the value (MSR_LOAD_EFER_* for
 * IA32_EFER, MSR_LOAD_PAT for IA32_PAT, MSR_LOAD_DEBUGCTL for
 * IA32_DEBUGCTL); VCORE_ERR_UNSUPPORTED (a refusal, nothing loaded) for an
 * MSR whose L2 value the library does not hold: the TSC and the MSRs the
 * VMM models. */
static int vcore__vcpu_nested_msrload_one(vcore_vcpu_t *vcpu, uint32_t index, uint64_t data, uint32_t *check)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    uint32_t field = vcore__vcpu_nested_l0_msr_field(index);
    if (field) /* IA32_FS_BASE and IA32_GS_BASE failed the checks already */
        return vcore__vcpu_nested_wr(vcpu, field, field == VCORE_VMCS_GUEST_SYSENTER_CS ? (uint32_t)data : data);
    /* L2's EFER is live: vcore__vcpu_nested_fields() loaded it (an entry
     * without "load IA32_EFER" on the processor was refused before). The
     * checks know the processor's reserved bits, WRMSR's rule the vCPU's. */
    if (index == VCORE_MSR_IA32_EFER)
        return vcore__vcpu_nested_efer_write(vcpu, data, check);
    /* L2's PAT is live likewise (vcore__vcpu_nested_pat_enter). */
    if (index == VCORE_MSR_IA32_PAT)
        return vcore__vcpu_nested_pat_write(vcpu, data, check);
    /* L2's IA32_DEBUGCTL likewise (vcore__vcpu_nested_debugctl_enter). */
    if (index == VCORE_MSR_IA32_DEBUGCTL)
        return vcore__vcpu_nested_debugctl_write(vcpu, data, check);
    if (!vcore__vcpu_nested_msrload_shared(index))
        return VCORE_ERR_UNSUPPORTED;
    int err = vcore__x86_msr_set(&x->model, &x->st, index, data, &vcpu->last_diag);
    if (err == VCORE_ERR_INVAL) {
        *check = VCORE_VMX_CHECK_MSR_LOAD_REFUSED;
        return VCORE_OK;
    }
    return err;
}

int vcore__vcpu_nested_msrload(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore__nested_msrload_t *r)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint32_t count = v->VM_ENTRY_MSR_LOAD_COUNT;
    r->failed = 0;
    r->check = 0;
    r->model = false;
    if (count == 0)
        return VCORE_OK;
    vcore_nvmx_mem_t mem;
    vcore_vmx_check_input_t ci;
    vcore__vmx_chk_t c;
    mem.size = sizeof(mem);
    ci.size = sizeof(ci);
    /* The model's MSRs as L1 left them, kept to undo the list; fetching
     * them may make vmcs01 the backend's current VMCS again. */
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_MSRS);
    if (!err)
        err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err)
        err = vcore_vmx_check_input_from_nvmx(nv, &mem, x->st.sregs.efer, (in->interruptibility & 2u) != 0,
                                              in->op == VCORE_NVMX_VMRESUME, x->cpuid, x->ncpuid, &ci);
    if (!err)
        err = vcore__vmx_chk_init(&c, &ci);
    if (err)
        return err;
    r->undo = x->st.msrs;
    uint32_t i;
    for (i = 0; i < count && !err && !r->check; i++) {
        uint64_t ent[2], value;
        r->check = vcore__vmx_msr_load_entry(&c, i, ent, &value);
        if (!r->check)
            err = vcore__vcpu_nested_msrload_one(vcpu, (uint32_t)ent[0], ent[1], &r->check);
        if (err == VCORE_ERR_UNSUPPORTED)
            (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NVMX_MSR_LOAD_UNHELD,
                                  ((uint64_t)(i + 1u) << 32) | (uint32_t)ent[0]);
    }
    if (err) {
        x->st.msrs = r->undo; /* nothing of the list stays loaded */
        return err;
    }
    if (r->check)
        r->failed = i; /* the loop advanced past the failing entry: i is its 1-based index */
    if (vcore__memcmp(&r->undo, &x->st.msrs, sizeof(r->undo)) != 0) {
        r->model = true;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_MSRS);
        vcore__vcpu_cpuid_refresh(vcpu); /* IA32_APIC_BASE and IA32_MISC_ENABLE show in CPUID */
    }
    return VCORE_OK;
}

void vcore__vcpu_nested_msrload_undo(vcore_vcpu_t *vcpu, const vcore__nested_msrload_t *r)
{
    if (!r->model)
        return;
    vcpu->x86->st.msrs = r->undo;
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_MSRS);
    vcore__vcpu_cpuid_refresh(vcpu);
}
