/*
 * vcpu_nested_state.c - a vCPU's nested VMX state in KVM's nested-state
 * format (KVM API, "KVM_GET_NESTED_STATE" / "KVM_SET_NESTED_STATE"),
 * including guest mode: L2 running.
 *
 * Export: vmcs12 is first brought up to date from vmcs02 (every guest
 * field, the lazily synced ones too, as an exit to L1 would save them;
 * L1's writes held in L0's shadow VMCS), so the blob describes L2 exactly
 * where it stands. RUN_PENDING says an imported VM entry has not happened
 * yet; MTF_PENDING that a monitor-trap-flag VM exit is owed to L1 before
 * L2 runs again. With L1's VMX-preemption timer active the header carries
 * the timer's deadline (KVM's preemption_timer_deadline, flag
 * KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE): the value of L1's TSC at which
 * the timer, which counts down by 1 every 2^rate TSC ticks (rate:
 * IA32_VMX_MISC bits 4:0, "VMX-Preemption Timer"), reaches 0 - the TSC now
 * plus vmcs02's remaining count shifted by the rate. vmcs12's field keeps
 * what L1 put there (or what an exit saved): that is the value the next
 * VMLAUNCH/VMRESUME of L1 starts from.
 *
 * Import: the blob is copied once and checked whole before anything
 * changes - KVM's rules on the header, then in guest mode every VM-entry
 * check of VMLAUNCH/VMRESUME on the copy and the pipeline's own limits.
 * Then vmcs02 is rebuilt from vmcs12 by the code VMLAUNCH uses, ept02
 * starts empty, and the next vcore_vcpu_run() enters L2. Unlike VMLAUNCH
 * nothing of the VM entry is performed again: the VM-entry MSR-load list
 * is not loaded (L2 already runs with it, "Loading MSRs"), and without
 * RUN_PENDING the event in the VM-entry interruption-information field
 * was delivered when L2 first entered, so vmcs02 injects nothing
 * ("Event Injection"). With a deadline the timer continues: vmcs02's count
 * is what remains of it at L1's TSC now (0 when it is past: the timer
 * expires before L2 executes anything). Without one it starts again from
 * vmcs12's value, as KVM does. MTF_PENDING makes the next run deliver the
 * monitor-trap-flag VM exit to L1 before L2 executes anything.
 */
#include "vcpu_nested.h"

#include "virtcore/x86/vmx_checks.h"
#include "x86/vmx/check_priv.h"

/* What an import the backend could not complete restores: the state
 * vcore__nvmx_kvm_commit() and the entry change besides vmcs12. */
typedef struct nested_state_saved {
    bool vmx_operation, shadow_loaded, rare_stale, chk_passed, hw_sync;
    uint64_t vmxon_ptr, current_vmptr, shadow_ptr, vmcs02_for;
    uint64_t dirty[VCORE__DIRTY_WORDS];
} nested_state_saved_t;

static void vcore__vcpu_nested_state_save(const vcore_nvmx_t *nv, nested_state_saved_t *s)
{
    s->vmx_operation = nv->vmx_operation;
    s->shadow_loaded = nv->shadow_loaded;
    s->rare_stale = nv->rare_stale;
    s->chk_passed = nv->chk_passed;
    s->hw_sync = nv->hw_sync;
    s->vmxon_ptr = nv->vmxon_ptr;
    s->current_vmptr = nv->current_vmptr;
    s->shadow_ptr = nv->shadow_ptr;
    s->vmcs02_for = nv->vmcs02_for;
    vcore__memcpy(s->dirty, nv->dirty, sizeof(s->dirty));
}

static void vcore__vcpu_nested_state_restore(vcore_vcpu_t *vcpu, const nested_state_saved_t *s)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    nv->vmx_operation = s->vmx_operation;
    nv->shadow_loaded = s->shadow_loaded;
    nv->rare_stale = s->rare_stale;
    nv->chk_passed = s->chk_passed;
    nv->hw_sync = s->hw_sync;
    vcore__nvmx_shadow_stale_all(nv); /* vmcs12 is the previous one again */
    nv->vmxon_ptr = s->vmxon_ptr;
    nv->current_vmptr = s->current_vmptr;
    nv->shadow_ptr = s->shadow_ptr;
    vcore__memcpy(nv->dirty, s->dirty, sizeof(nv->dirty));
    /* vmcs02 holds part of the new vmcs12 now: an L2 that ran before is
     * lost with it, so L1 runs next; vmcs02 is rebuilt in full. */
    nv->in_l2 = false;
    nv->run_pending = false;
    nv->mtf_pending = false;
    nv->init_pending = false;
    nv->vmcs02_for = VCORE__INVALID_PTR;
    vcore__vcpu_nested_efer_exit(vcpu);
    vcore__vcpu_nested_pat_exit(vcpu);
    vcore__vcpu_nested_debugctl_exit(vcpu);
}

static int vcore__vcpu_nested_state_refuse(vcore_vcpu_t *vcpu, vcore_diag_t *diag, uint32_t id, uint64_t value,
                                           int err)
{
    (void)vcore__diag_set(&vcpu->last_diag, id, value);
    if (diag && diag->size == sizeof(*diag))
        *diag = vcpu->last_diag;
    return err;
}

/* Pin-based control 6: L1's VMX-preemption timer counts while L2 runs. */
static bool vcore__vcpu_nested_state_timer_on(vcore_vcpu_t *vcpu)
{
    return (vcore__vcpu_nested_v12(vcpu)->PIN_BASED_VM_EXEC_CONTROL & (1u << 6)) != 0;
}

/* The deadline of the timer counting in vmcs02 (after an exit of L2 the
 * processor saved its count there, "Saving Guest State" with vmcs02's
 * "save VMX-preemption timer value"). */
static int vcore__vcpu_nested_state_deadline(vcore_vcpu_t *vcpu, uint64_t *deadline)
{
    uint64_t left = 0, tsc = 0;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, &left);
    if (!err)
        err = vcore__vcpu_nested_timer_tsc(vcpu, &tsc);
    if (!err)
        *deadline = tsc + ((left & 0xffffffffull) << vcore__vcpu_nested_timer_rate(vcpu->nvmx));
    return err;
}

/* An imported deadline into vmcs02: what remains of the timer at L1's TSC
 * now, in timer ticks (0 once the deadline is past; at most 2^32 - 1). */
static int vcore__vcpu_nested_state_timer_in(vcore_vcpu_t *vcpu, uint64_t deadline)
{
    uint64_t tsc = 0;
    int err = vcore__vcpu_nested_timer_tsc(vcpu, &tsc);
    if (err)
        return err;
    uint64_t left = deadline > tsc ? (deadline - tsc) >> vcore__vcpu_nested_timer_rate(vcpu->nvmx) : 0u;
    if (left > 0xffffffffull)
        left = 0xffffffffull;
    err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, left);
    return err ? err : vcore__vcpu_nested_timer_start(vcpu, (uint32_t)left);
}

int vcore_nvmx_vcpu_get_state(vcore_vcpu_t *vcpu, void *buf, size_t len, uint32_t *out_len)
{
    if (!vcore__vcpu_ok(vcpu) || !buf || !out_len)
        return VCORE_ERR_INVAL;
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv)
        return VCORE_ERR_UNSUPPORTED;
    uint32_t size = vcore__nvmx_kvm_size(nv, nv->in_l2);
    *out_len = size;
    if (len < size)
        return VCORE_ERR_BUFSZ;
    /* An L2 instruction the VMM has not completed (its reply, RIP past
     * it) is not in any field of the format. */
    if (nv->l2_pending || nv->l2_insn_len)
        return vcore__vcpu_nested_state_refuse(vcpu, NULL, VCORE_DIAG_KVM_STATE_REPLY_PENDING, nv->l2_pending,
                                               VCORE_ERR_STATE);
    /* Nor is a VM entry or exit half done, an entry of its MSR lists
     * waiting for the VMM (vcpu_nested_msrlist.c). */
    if (vcore__vcpu_nested_msrlist_due(vcpu))
        return vcore__vcpu_nested_state_refuse(vcpu, NULL, VCORE_DIAG_KVM_STATE_MSR_LIST_PENDING,
                                               ((uint64_t)nv->ml.list << 32) | nv->ml.at, VCORE_ERR_STATE);
    /* Nor is an INIT exit owed to L1 (KVM keeps INIT in its local APIC). */
    if (nv->init_pending)
        return vcore__vcpu_nested_state_refuse(vcpu, NULL, VCORE_DIAG_KVM_STATE_INIT_PENDING, 0, VCORE_ERR_STATE);
    int err = VCORE_OK;
    /* L1's VMWRITEs into L0's shadow VMCS belong in vmcs12. */
    if (nv->hw_mask && !nv->in_l2)
        err = vcore__vcpu_nested_shadow_pull(vcpu);
    if (err)
        return err;
    /* L2's state as an exit would save it (a pending entry has not run);
     * after an exit, the guest fields synced lazily. */
    if (nv->in_l2 && !nv->run_pending)
        err = vcore__vcpu_nested_sync_guest(vcpu);
    else if (nv->rare_stale)
        err = vcore__vcpu_nested_sync_rare(vcpu);
    if (err)
        return err;
    vcore__nvmx_kvm_hdr_t h;
    vcore__memset(&h, 0, sizeof(h));
    if (nv->in_l2) {
        h.flags = (uint16_t)(VCORE_KVM_NESTED_GUEST_MODE | (nv->run_pending ? VCORE_KVM_NESTED_RUN_PENDING : 0u) |
                             (nv->mtf_pending ? VCORE_KVM_NESTED_MTF_PENDING : 0u));
        /* A pending entry has not started the timer: none to export. */
        if (vcore__vcpu_nested_state_timer_on(vcpu) && !nv->run_pending) {
            err = vcore__vcpu_nested_state_deadline(vcpu, &h.deadline);
            if (err)
                return err;
            h.vmx_flags = VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE;
        }
    }
    return vcore__nvmx_kvm_write(nv, &h, buf, len, out_len);
}

/* Guest mode: the copy in nv->scratch passes every VM-entry check the
 * pipeline runs on VMLAUNCH/VMRESUME, with L1's IA32_EFER and CPUID as the
 * vCPU holds them, and asks for nothing the pipeline lacks. */
static int vcore__vcpu_nested_state_check(vcore_vcpu_t *vcpu, const vcore__nvmx_kvm_hdr_t *h, vcore_diag_t *diag)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore__vmcs12_t *copy = (const vcore__vmcs12_t *)(const void *)nv->scratch;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_EFER);
    if (err)
        return err;
    err = vcore__vcpu_nested_supported(vcpu, copy);
    if (err) {
        if (diag && diag->size == sizeof(*diag))
            *diag = vcpu->last_diag;
        return err;
    }
    vcore_nvmx_mem_t mem;
    vcore_vmx_check_input_t ci;
    vcore_vmx_verdict_t vd;
    mem.size = sizeof(mem);
    err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    vcore__memset(&ci, 0, sizeof(ci));
    ci.size = sizeof(ci);
    ci.vmcs12 = nv->scratch;
    ci.caps = &nv->caps;
    ci.maxphyaddr = nv->maxphyaddr;
    ci.launch_state = copy->launch_state;
    ci.l1_efer = x->st.sregs.efer;
    ci.current_vmptr = h->vmcs;
    ci.vmxon_ptr = h->vmxon;
    ci.movss_blocking = false; /* L1's VMLAUNCH/VMRESUME is behind us */
    ci.resume = copy->launch_state == 1u;
    ci.cpuid = x->cpuid;
    ci.ncpuid = x->ncpuid;
    ci.mem = &mem;
    vd.size = sizeof(vd);
    /* The VM-entry MSR-load list ("Loading MSRs") was loaded by the VM
     * entry L2 is past: it is neither read nor loaded again. */
    err = vcore__vmx_check_run(&ci, ~VCORE__VMX_RUN_MSR_LOAD, &vd);
    if (err)
        return err;
    if (vd.kind == VCORE_VMX_ENTRY_OK)
        return VCORE_OK;
    /* The check's identifier is a diagnostic naming the rule. */
    return vcore__vcpu_nested_state_refuse(vcpu, diag, vd.check, vd.value, VCORE_ERR_INVAL);
}

/* After the commit: vmcs02 from vmcs12 (full), the injection of a delivered
 * event withdrawn, vmcs12 launched; L2 runs at the next vcore_vcpu_run(). */
static int vcore__vcpu_nested_state_enter(vcore_vcpu_t *vcpu, const vcore__nvmx_kvm_hdr_t *h)
{
    bool run_pending = (h->flags & VCORE_KVM_NESTED_RUN_PENDING) != 0;
    vcore_nvmx_t *nv = vcpu->nvmx;
    bool full = true;
    nv->vmcs02_for = VCORE__INVALID_PTR; /* every field: vmcs02 was not built from this vmcs12 */
    int err = vcore__vcpu_nested_prepare02(vcpu, &full);
    if (!err)
        err = vcore__vcpu_nested_fields(vcpu, true);
    if (!err && !run_pending)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0);
    if (!err && (h->vmx_flags & VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE) && vcore__vcpu_nested_state_timer_on(vcpu))
        err = vcore__vcpu_nested_state_timer_in(vcpu, h->deadline);
    else if (!err)
        err = vcore__vcpu_nested_timer_start(vcpu, vcore__vcpu_nested_v12(vcpu)->VMX_PREEMPTION_TIMER_VALUE);
    if (err)
        return err;
    nv->vmcs02_for = nv->current_vmptr;
    vcore_nvmx_clear_dirty(nv);
    vcore__vcpu_nested_v12(vcpu)->launch_state = 1;
    nv->in_l2 = true;
    nv->run_pending = run_pending;
    nv->mtf_pending = (h->flags & VCORE_KVM_NESTED_MTF_PENDING) != 0;
    return VCORE_OK;
}

int vcore_nvmx_vcpu_set_state(vcore_vcpu_t *vcpu, const void *buf, size_t len, vcore_diag_t *diag)
{
    if (!vcore__vcpu_ok(vcpu) || !buf)
        return VCORE_ERR_INVAL;
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv)
        return VCORE_ERR_UNSUPPORTED;
    vcore__nvmx_kvm_hdr_t h;
    vcore_diag_t d;
    d.size = sizeof(d);
    d.id = 0;
    int err = vcore__nvmx_kvm_parse(nv, buf, len, &d, &h);
    if (err) {
        if (d.id)
            return vcore__vcpu_nested_state_refuse(vcpu, diag, d.id, d.value, err);
        return err;
    }
    bool guest = (h.flags & VCORE_KVM_NESTED_GUEST_MODE) != 0;
    if (guest) {
        err = vcore__vcpu_nested_state_check(vcpu, &h, diag);
        /* vmcs02 exists before anything changes (VCORE_ERR_NOMEM refuses the blob). */
        if (!err)
            err = vcore__vcpu_nested_alloc02(vcpu);
        if (err)
            return err;
    }
    /* Accepted. What L2 was doing here before is dropped, with ept02 (a
     * cache of L1's EPT, rebuilt on demand). */
    nested_state_saved_t saved;
    vcore__vcpu_nested_state_save(nv, &saved);
    vcore__vcpu_nested_ept02_invept(vcpu, 2, 0);
    nv->l2_pending = 0;
    nv->l2_mmio_vmwrite = false;
    nv->l2_insn_len = 0;
    nv->in_l2 = false;
    /* A VM entry or exit waiting for the VMM's answer to an MSR-list entry
     * is dropped with the state it belonged to: no reply is due. */
    if (vcore__vcpu_nested_msrlist_due(vcpu)) {
        nv->ml.list = 0;
        vcpu->reply_pending = 0;
    }
    /* Its EFER, PAT and IA32_DEBUGCTL with it: the vCPU's are the model's again
     * (vcpu_nested_msr02.c). */
    vcore__vcpu_nested_efer_exit(vcpu);
    vcore__vcpu_nested_pat_exit(vcpu);
    vcore__vcpu_nested_debugctl_exit(vcpu);
    nv->run_pending = false;
    nv->mtf_pending = false;
    nv->init_pending = false;
    nv->rare_stale = false;
    nv->vmcs02_for = VCORE__INVALID_PTR;
    vcore__nvmx_kvm_commit(nv, &h); /* the old vmcs12 stays in scratch */
    if (!guest)
        return VCORE_OK;
    err = vcore__vcpu_nested_state_enter(vcpu, &h);
    if (err) {
        /* The backend failed building vmcs02: back to the state before. */
        vcore__nvmx_kvm_swap(nv);
        vcore__vcpu_nested_state_restore(vcpu, &saved);
    }
    return err;
}
