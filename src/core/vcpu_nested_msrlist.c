/*
 * vcpu_nested_msrlist.c - the entries of L1's VMX MSR lists that name an
 * MSR the VMM models, answered by the VMM.
 *
 * SDM Vol. 3, "Loading MSRs" (VM entry: after the guest state, each entry
 * as WRMSR at CPL 0 writes it), "Saving MSRs" (VM exit: each entry as
 * RDMSR reads it, before the host state) and "Loading MSRs" of "VM Exits"
 * (after the host state). An MSR the vCPU model does not hold - MTRRs,
 * x2APIC, PMU, machine-check MSRs, whatever the VMM models - exists for L1
 * as for L1's own RDMSR/WRMSR: the library asks the VMM with the exit it
 * uses for those instructions, flagged VCORE_EXIT_F_MSR_LIST with the list
 * in u.msr.why (exit.h). It is no instruction: the reply moves no RIP, and
 * the VM entry or exit goes on from the entry after it (nv->ml holds
 * where). A reply error is the list's architectural failure: a failed VM
 * entry (exit reason 34, qualification the entry's 1-based index: "VM-Entry
 * Failures During or After Loading Guest State") or a VMX abort (indicator
 * 1 for the MSR-store list, 4 for the VM-exit MSR-load list: "VMX Aborts").
 *
 * While an entry waits, the vCPU is between L1 and L2: the nested-state
 * export refuses (KVM_STATE_MSR_LIST_PENDING), an import, RESET or the
 * vCPU's teardown drops the wait with everything of L2; an INIT is
 * latched (L1 is in VMX root operation, "Restrictions on VMX Operation").
 */
#include "vcpu_nested.h"

bool vcore__vcpu_nested_msrlist_vmm(uint32_t index)
{
    return vcore__x86_msr_classes(index) == 0;
}

void vcore__vcpu_nested_msrlist_ask(vcore_vcpu_t *vcpu, uint32_t list, uint32_t at, uint32_t index, bool write,
                                    uint64_t value, vcore_exit_t *exit)
{
    vcore__nvmx_msrlist_t *ml = &vcpu->nvmx->ml;
    ml->list = list;
    ml->at = at;
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    exit->reason = write ? VCORE_EXIT_WRMSR : VCORE_EXIT_RDMSR;
    exit->flags = VCORE_EXIT_F_NEEDS_REPLY | VCORE_EXIT_F_MSR_LIST;
    exit->u.msr.index = index;
    exit->u.msr.value = write ? value : 0;
    exit->u.msr.why = list;
}

int vcore__vcpu_nested_msrlist_reply(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *l1)
{
    vcore__nvmx_msrlist_t *ml = &vcpu->nvmx->ml;
    uint32_t list = ml->list, at = ml->at;
    bool handled = false, stop = false;
    int err;
    *l1 = false;
    ml->list = 0;
    if (list == VCORE_EXIT_MSR_LIST_VMENTRY_LOAD) {
        err = vcore__vcpu_nested_msrload_reply(vcpu, at, exit, &handled);
        *l1 = handled;
    } else {
        err = vcore__vcpu_nested_exit_lists_reply(vcpu, list, at, exit, &stop);
        *l1 = !stop;
    }
    /* A failure of the backend abandons the entry or exit: the reply it
     * consumed is not asked for again. */
    if (err)
        vcpu->reply_pending = 0;
    return err;
}
