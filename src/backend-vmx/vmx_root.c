/*
 * vmx_root.c - VMX root operation, once per physical processor.
 *
 * SDM Vol. 3, "Enabling and Entering VMX Operation": a logical processor
 * enters VMX operation with VMXON (CR4.VMXE set, a VMXON region of its own)
 * and leaves it with VMXOFF. That state belongs to the processor, not to a
 * VM or a vCPU: every vCPU that lives on a processor uses it, whichever VM
 * it belongs to. The embedder's per-processor record (vcore_host_cpu_t)
 * holds the VMXON region and counts the users; the first one enters root
 * operation, the last one to go leaves it, in whatever order vCPUs and
 * VMs are destroyed. An embedder already in VMX operation keeps it: the
 * library then never executes VMXOFF or clears CR4.VMXE.
 */
#include "vmx.h"

/* vcore_host_cpu_t::flags */
#define VCORE__VMX_ROOT_ON (1u << 0)       /* root operation is in use by the library's vCPUs */
#define VCORE__VMX_ROOT_VMXON (1u << 1)    /* the library executed VMXON: the last user executes VMXOFF */
#define VCORE__VMX_ROOT_SET_VMXE (1u << 2) /* the library set CR4.VMXE: the last user clears it */

/* Enters VMX root operation on this processor (or finds the embedder's). */
static int vcore__vmx_root_on(vcore_host_cpu_t *cpu, const vcore__vmx_vm_t *v)
{
    const vcore__vmx_caps_t *caps = &v->caps;
    if (!cpu->page || ((uintptr_t)cpu->page & (VCORE_PAGE_SIZE - 1)) ||
        (cpu->page_phys & (VCORE_PAGE_SIZE - 1)))
        return VCORE_ERR_INVAL;
    uint32_t flags = VCORE__VMX_ROOT_ON;
    uint64_t cr4 = vcore__vmx_read_cr4();
    if (!(cr4 & VCORE__CR4_VMXE)) {
        /* SDM Vol. 3, "VMX-Fixed Bits in CR0 and CR4": VMXON needs CR0 and
         * CR4 to honour the fixed bits; the library sets CR4.VMXE but does
         * not change the embedder's CR0. */
        uint64_t cr0 = vcore__vmx_read_cr0();
        uint64_t cr4_on = cr4 | VCORE__CR4_VMXE;
        if ((cr0 & caps->cr0_fixed0) != caps->cr0_fixed0 || (cr0 & ~caps->cr0_fixed1) != 0 ||
            (cr4_on & caps->cr4_fixed0) != caps->cr4_fixed0 || (cr4_on & ~caps->cr4_fixed1) != 0)
            return VCORE_ERR_STATE;
        vcore__vmx_write_cr4(cr4_on);
        flags |= VCORE__VMX_ROOT_SET_VMXE;
    }
    /* The VMXON region: revision identifier in bits 30:0 of the first
     * dword, bit 31 clear ("VMXON Region"). */
    uint32_t rev = VCORE__VMX_BASIC_REVISION(caps->basic);
    vcore__memset(cpu->page, 0, VCORE_PAGE_SIZE);
    vcore__memcpy(cpu->page, &rev, sizeof(rev));
    vcore__vmx_rc_t rc = vcore__vmx_on(cpu->page_phys);
    if (rc.kind == VCORE__VMX_SUCCEED) {
        flags |= VCORE__VMX_ROOT_VMXON;
    } else if (flags & VCORE__VMX_ROOT_SET_VMXE) {
        vcore__vmx_write_cr4(cr4);
        return VCORE_ERR_HWFAIL;
    }
    /* Otherwise CR4.VMXE was already set and VMXON with a valid region
     * failed: VMfailValid 15 ("VMXON executed in VMX root operation") or,
     * without a current VMCS, VMfailInvalid. The embedder is in VMX
     * operation; the library uses it as it is. */
    cpu->flags = flags;
    return VCORE_OK;
}

int vcore__vmx_root_enter(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_host_t *host)
{
    /* vm_init made sure the host has cpu_index and cpus. */
    uint32_t idx = host->cpu_index(host->ctx);
    if (idx >= host->ncpus)
        return VCORE_ERR_RANGE;
    vcore_host_cpu_t *cpu = &host->cpus[idx];
    if (cpu->users == UINT32_MAX)
        return VCORE_ERR_RANGE;
    if (cpu->users == 0) {
        int err = vcore__vmx_root_on(cpu, v);
        if (err)
            return err;
    }
    cpu->users++;
    c->cpu = cpu;
    c->cpu_index = idx;
    c->root_held = true;
    return VCORE_OK;
}

void vcore__vmx_root_leave(vcore__vmx_vcpu_t *c)
{
    if (!c->root_held)
        return;
    vcore_host_cpu_t *cpu = c->cpu;
    c->root_held = false;
    if (cpu->users > 1) {
        cpu->users--;
        return;
    }
    /* The last user on this processor. VMXOFF leaves every VMCS that is
     * still active in an undefined state ("VMXOFF-Leave VMX Operation"):
     * the vCPUs VMCLEARed theirs before dropping their use. */
    if (cpu->flags & VCORE__VMX_ROOT_VMXON)
        (void)vcore__vmx_off();
    if (cpu->flags & VCORE__VMX_ROOT_SET_VMXE)
        vcore__vmx_write_cr4(vcore__vmx_read_cr4() & ~VCORE__CR4_VMXE);
    cpu->users = 0;
    cpu->flags = 0;
}

int vcore__vmx_root_here(const vcore__vmx_vcpu_t *c, const vcore_host_t *host)
{
    /* A VMCS is active on one processor only ("VMCS Life Cycle"): the vCPU
     * never runs, reads or writes it anywhere else. */
    if (!c->root_held || host->cpu_index(host->ctx) != c->cpu_index)
        return VCORE_ERR_STATE;
    return VCORE_OK;
}
