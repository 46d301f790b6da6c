/*
 * vcpu_nested_vmfunc.c - L2's VMFUNC: EPTP switching performed by L0 on
 * vmcs12.
 *
 * SDM Vol. 3, "VM Functions": with "enable VM functions" 0, VMFUNC is #UD;
 * with it 1, a VMFUNC whose EAX is above 63 or names a VM-function control
 * that is 0 causes a VM exit (reason 59). vmcs02 has "enable VM functions"
 * when vmcs12 has it, with VM-function controls 0 (merge rule of
 * VCORE_NVMX_CTL_RULES), so every VMFUNC of L2 reaches L0 here, and L0
 * does for L1 what L1's processor would, in the order of "EPTP Switching"
 * and the VMFUNC instruction's operation:
 *  - "enable VM functions" 0 in vmcs12: #UD in L2 (the processor raised it
 *    already; an exit 59 here is a backend's, answered as L1's processor
 *    would);
 *  - EAX above 63, or its VM-function control 0 in vmcs12: exit 59 to L1;
 *  - leaf 0, ECX above 511: exit 59 to L1;
 *  - the EPTP-list entry ECX (read once from L1 memory; unbacked memory
 *    reads as all ones) fails a VM-entry check of the EPT pointer ("Checks
 *    on VMX Controls"): exit 59 to L1;
 *  - else vmcs12's EPT pointer is the entry, L2 continues past VMFUNC on
 *    the ept02 of it (vcore__vcpu_nested_ept02_sync before the next entry)
 *    without an exit to L1. The EPTP index is written only with "EPT-
 *    violation #VE", which L1 is not offered.
 */
#include "vcpu_nested.h"

#include "virtcore/x86/vmx_exits.h"
#include "x86/vmx/check_priv.h"

#define VMFUNC_LEAVES 64u       /* "VM-Function Controls": bits 63:0, one per function */
#define VMFUNC_EPTP_ENTRIES 512u /* "EPTP Switching": the EPTP list holds 512 entries */

/* Entry ECX of L1's EPTP list, or all ones where L1 has no memory. */
static uint64_t vcore__vcpu_nested_vmfunc_entry(vcore_vcpu_t *vcpu, uint64_t list, uint32_t ecx)
{
    vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
    uint64_t e = ~0ull;
    if (vcore_nvmx_mem_from_vm(vcpu->vm, &mem) != VCORE_OK ||
        mem.read(mem.ctx, list + (uint64_t)ecx * 8u, &e, sizeof(e)) != VCORE_OK)
        return ~0ull;
    return e;
}

int vcore__vcpu_nested_vmfunc(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *again, bool *handled, bool *to_l1)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    *again = *handled = *to_l1 = false;
    uint32_t proc2 = (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) ? v->SECONDARY_VM_EXEC_CONTROL
                                                                                        : 0u;
    if (!(proc2 & VCORE__PROC2_VMFUNC)) {
        bool reflected = false;
        int err = vcore__vcpu_nested_l0_exception(vcpu, (uint8_t)VCORE__VEC_UD, 0, 0, exit, &reflected);
        if (err)
            return err;
        if (reflected) {
            *handled = vcore__vcpu_nested_l1_next(vcpu, exit);
            return VCORE_OK;
        }
        nv->last.owner = VCORE_NVMX_OWNER_L0;
        nv->last.l0_handled++;
        *again = true;
        return VCORE_OK;
    }
    /* EAX and ECX: the GPR file is L2's. */
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
    if (!err)
        err = vcore__vcpu_nested_load02(vcpu);
    if (err)
        return err;
    uint32_t eax = (uint32_t)vcpu->x86->st.regs.gpr[VCORE_X86_RAX];
    uint32_t ecx = (uint32_t)vcpu->x86->st.regs.gpr[VCORE_X86_RCX];
    *to_l1 = true;
    if (eax >= VMFUNC_LEAVES || !((v->VM_FUNCTION_CONTROL >> eax) & 1u))
        return VCORE_OK;
    /* Leaf 0 is the only function L1 is offered (IA32_VMX_VMFUNC). */
    if (eax != 0u || ecx >= VMFUNC_EPTP_ENTRIES)
        return VCORE_OK;
    uint64_t eptp = vcore__vcpu_nested_vmfunc_entry(vcpu, v->EPTP_LIST_ADDRESS, ecx);
    if (vcore__vmx_eptp_faults(nv->caps.msr, nv->maxphyaddr, eptp) != 0u)
        return VCORE_OK;
    *to_l1 = false;
    v->EPT_POINTER = eptp;
    vcore__nvmx_changed_id(nv, VCORE__ROW_EPT_POINTER);
    nv->l2_insn_len = nv->x02.insn_len;
    nv->last.owner = VCORE_NVMX_OWNER_L0;
    nv->last.kind = VCORE_NVMX_RULE_PROC2;
    nv->last.arg = 13;
    nv->last.field = VCORE_VMCS_VM_FUNCTION_CONTROL;
    nv->last.l0_handled++;
    *again = true;
    return VCORE_OK;
}
