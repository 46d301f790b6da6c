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
 * is loaded; the next entry reads the list again (so does the list going
 * on after the VMM's reply to an entry it answers).
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
 * - IA32_TIME_STAMP_COUNTER: WRMSR at CPL 0 sets the processor's TSC, and
 *   TSC offsetting does not change WRMSR ("Changes to Instruction Behavior
 *   in VMX Non-Root Operation" lists RDMSR, RDTSC and RDTSCP only), so the
 *   entry sets the TSC of L1's processor: the vCPU's TSC (as
 *   vcore_vcpu_set_msr sets it). The write waits for the end of the list
 *   (the last entry naming it wins; one after a failing entry is not
 *   written), then vmcs02's TSC offset follows L1's new one
 *   (vcpu_nested_tsc.c) on this same entry: L2 reads f12(new TSC). A
 *   failure the processor reports after the list leaves the TSC written;
 * - the VMX capability MSRs (480H-491H), which L0 answers for L1: they are
 *   read-only, WRMSR's #GP(0), so the entry fails (MSR_LOAD_REFUSED);
 * - any other MSR is the VMM's: the entry is a WRMSR exit to the VMM with
 *   VCORE_EXIT_F_MSR_LIST (vcpu_nested_msrlist.c) and the list goes on
 *   with its reply; a reply error (WRMSR's #GP: the VMM has no such MSR,
 *   or refuses the value) fails the VM entry at that entry. The checks
 *   rule on the MSRs they know from CPUID (an absent one is #GP without
 *   asking); one they do not know is the VMM's to say. What the VMM wrote
 *   stays written whatever follows.
 */
#include "vcpu_nested.h"

#include "x86/vmx/check_priv.h"

/* One entry whose checks passed: *check stays 0 when it is loaded (or its
 * TSC noted), becomes MSR_LOAD_REFUSED when the model refuses the value
 * (MSR_LOAD_EFER_* for IA32_EFER, MSR_LOAD_PAT for IA32_PAT,
 * MSR_LOAD_DEBUGCTL for IA32_DEBUGCTL); *vmm for an MSR the VMM models
 * (nothing done). */
static int vcore__vcpu_nested_msrload_one(vcore_vcpu_t *vcpu, uint32_t index, uint64_t data, uint32_t *check,
                                          bool *vmm)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    vcore__nvmx_msrlist_t *ml = &vcpu->nvmx->ml;
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
    /* WRMSR of the TSC sets L1's: after the list (vcore__vcpu_nested_msrload_tsc). */
    if (index == VCORE_MSR_IA32_TSC) {
        ml->tsc = true;
        ml->tsc_value = data;
        return VCORE_OK;
    }
    /* "VMX Capability Reporting Facility": read-only, WRMSR is #GP(0). */
    if (vcore__nvmx_cap_msr(index)) {
        *check = VCORE_VMX_CHECK_MSR_LOAD_REFUSED;
        return VCORE_OK;
    }
    if (vcore__vcpu_nested_msrlist_vmm(index)) {
        *vmm = true;
        return VCORE_OK;
    }
    /* The model's MSRs that L1 and L2 share (state group MSRS). */
    int err = vcore__x86_msr_set(&x->model, &x->st, index, data, &vcpu->last_diag);
    if (err == VCORE_ERR_INVAL) {
        *check = VCORE_VMX_CHECK_MSR_LOAD_REFUSED;
        return VCORE_OK;
    }
    return err;
}

/* The model's MSRs back as they were before the list; the TSC is its own
 * state group, which the list writes after its end or the VMM while it
 * answers: it stays. */
static void vcore__vcpu_nested_msrload_restore(vcore_vcpu_t *vcpu)
{
    vcore_x86_msrs_t *m = &vcpu->x86->st.msrs;
    uint64_t tsc = m->tsc;
    *m = vcpu->nvmx->ml.undo;
    m->tsc = tsc;
}

/* The end of the list (all loaded, or failed at an entry): the model's
 * MSRs it changed go to the backend with the entry. */
static void vcore__vcpu_nested_msrload_model(vcore_vcpu_t *vcpu)
{
    vcore__nvmx_msrlist_t *ml = &vcpu->nvmx->ml;
    if (vcore__memcmp(&ml->undo, &vcpu->x86->st.msrs, sizeof(ml->undo)) != 0) {
        ml->model = true;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_MSRS);
        vcore__vcpu_cpuid_refresh(vcpu); /* IA32_APIC_BASE and IA32_MISC_ENABLE show in CPUID */
    }
}

/* An MSR the VM-entry checks do not know (vmx_checks.h msr_writable):
 * whether WRMSR of it succeeds is the VMM's to say, when the entry is
 * loaded (its WRMSR exit); the checks pass it. */
static bool vcore__vcpu_nested_msrload_vmm_says(void *ctx, uint32_t index, uint64_t value)
{
    (void)ctx;
    (void)index;
    (void)value;
    return true;
}

/* The list from entry from (0-based) on, until its end, a failing entry or
 * one the VMM answers (*asked, *exit its WRMSR). */
static int vcore__vcpu_nested_msrload_from(vcore_vcpu_t *vcpu, uint32_t from, vcore_exit_t *exit, bool *asked)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__nvmx_msrlist_t *ml = &nv->ml;
    vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore_nvmx_insn_t *in = &ml->in;
    uint32_t count = vcore__vcpu_nested_v12(vcpu)->VM_ENTRY_MSR_LOAD_COUNT;
    vcore_nvmx_mem_t mem;
    vcore_vmx_check_input_t ci;
    vcore__vmx_chk_t c;
    mem.size = sizeof(mem);
    ci.size = sizeof(ci);
    *asked = false;
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err)
        err = vcore_vmx_check_input_from_nvmx(nv, &mem, x->st.sregs.efer, (in->interruptibility & 2u) != 0,
                                              in->op == VCORE_NVMX_VMRESUME, x->cpuid, x->ncpuid, &ci);
    ci.msr_writable = vcore__vcpu_nested_msrload_vmm_says;
    ci.msr_ctx = NULL;
    if (!err)
        err = vcore__vmx_chk_init(&c, &ci);
    uint32_t i;
    for (i = from; i < count && !err && !ml->check; i++) {
        uint64_t ent[2], value;
        bool vmm = false;
        ml->check = vcore__vmx_msr_load_entry(&c, i, ent, &value);
        if (!ml->check)
            err = vcore__vcpu_nested_msrload_one(vcpu, (uint32_t)ent[0], ent[1], &ml->check, &vmm);
        if (!err && vmm) {
            vcore__vcpu_nested_msrlist_ask(vcpu, VCORE_EXIT_MSR_LIST_VMENTRY_LOAD, i, (uint32_t)ent[0], true, ent[1],
                                           exit);
            *asked = true;
            return VCORE_OK;
        }
    }
    if (err) {
        vcore__vcpu_nested_msrload_restore(vcpu); /* nothing of the model's part of the list stays loaded */
        return err;
    }
    if (ml->check)
        ml->failed = i; /* the loop advanced past the failing entry: i is its 1-based index */
    vcore__vcpu_nested_msrload_model(vcpu);
    return VCORE_OK;
}

int vcore__vcpu_nested_msrload(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_exit_t *exit, bool *asked)
{
    vcore__nvmx_msrlist_t *ml = &vcpu->nvmx->ml;
    *asked = false;
    /* The model's MSRs as L1 left them, kept to undo the list; fetching
     * them may make vmcs01 the backend's current VMCS again. */
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_MSRS);
    if (!err)
        err = vcore__vcpu_nested_load02(vcpu);
    if (err)
        return err;
    ml->in = *in;
    ml->undo = vcpu->x86->st.msrs;
    return vcore__vcpu_nested_msrload_from(vcpu, 0, exit, asked);
}

int vcore__vcpu_nested_msrload_reply(vcore_vcpu_t *vcpu, uint32_t at, vcore_exit_t *exit, bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    vcore__nvmx_msrlist_t *ml = &nv->ml;
    *handled = false;
    /* "VM-Entry Failures During or After Loading Guest State": the VMM
     * could not load the entry (WRMSR's #GP), so the entry fails there. */
    if (exit->u.msr.error) {
        ml->check = VCORE_VMX_CHECK_MSR_LOAD_REFUSED;
        ml->failed = at + 1u;
        vcore__vcpu_nested_msrload_model(vcpu);
        return vcore__vcpu_nested_entry_loaded(vcpu, &ml->in, exit, handled);
    }
    /* What the VMM changed of the vCPU while it answered reaches the
     * backend before vmcs02 is written again (as prepare02 does). */
    uint32_t held = ops->state_groups ? ops->state_groups : VCORE_X86_STATE_ALL;
    int err = VCORE_OK;
    if (vcpu->dirty & held) {
        err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, vcpu->dirty & held);
        if (err)
            return err < 0 ? err : VCORE_ERR_HWFAIL;
        vcpu->dirty &= ~held;
    }
    /* A TSC the VMM wrote: L1's new offset in vmcs02 (vmcs02 current after). */
    if (nv->tsc01_gen != vcpu->tsc_writes) {
        err = vcore__vcpu_nested_tsc01_sync(vcpu);
        if (!err)
            err = vcore__vcpu_nested_tsc_enter(vcpu, false);
    } else {
        err = vcore__vcpu_nested_load02(vcpu);
    }
    bool asked = false;
    if (!err)
        err = vcore__vcpu_nested_msrload_from(vcpu, at + 1u, exit, &asked);
    if (err) {
        nv->vmcs02_for = VCORE__INVALID_PTR;
        return err;
    }
    if (asked)
        return VCORE_OK;
    return vcore__vcpu_nested_entry_loaded(vcpu, &ml->in, exit, handled);
}

int vcore__vcpu_nested_msrload_tsc(vcore_vcpu_t *vcpu)
{
    const vcore_backend_t *ops = &vcpu->vm->ops;
    vcore_nvmx_t *nv = vcpu->nvmx;
    nv->ml.tsc = false;
    int err = vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, nv->ml.tsc_value);
    if (err)
        return err;
    /* The backend makes L1's TSC with vmcs01's offset: it must have the
     * new TSC before vmcs01's offset is read again. */
    uint32_t held = ops->state_groups ? ops->state_groups : VCORE_X86_STATE_ALL;
    if (held & VCORE_X86_STATE_TSC) {
        err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, VCORE_X86_STATE_TSC);
        /* Refused: the backend keeps the TSC it had, the model drops the
         * list's (fetched again when read). */
        vcpu->valid &= err ? ~VCORE_X86_STATE_TSC : ~0u;
        vcpu->dirty &= ~VCORE_X86_STATE_TSC;
        if (err)
            return err < 0 ? err : VCORE_ERR_HWFAIL;
    }
    err = vcore__vcpu_nested_tsc01_sync(vcpu);
    if (!err)
        err = vcore__vcpu_nested_tsc_enter(vcpu, false);
    return err;
}

void vcore__vcpu_nested_msrload_undo(vcore_vcpu_t *vcpu)
{
    const vcore__nvmx_msrlist_t *ml = &vcpu->nvmx->ml;
    if (!ml->model)
        return;
    vcore__vcpu_nested_msrload_restore(vcpu);
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_MSRS);
    vcore__vcpu_cpuid_refresh(vcpu);
}
