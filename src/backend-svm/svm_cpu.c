/*
 * svm_cpu.c - SVM on each physical processor: enabling it, the host save
 * area, and the processor's guest ASIDs.
 *
 * APM Vol. 2, "Enabling SVM": software sets EFER.SVME before executing any
 * SVM instruction, and "VM_HSAVE_PA MSR": VMRUN saves the host's state at
 * the physical address this MSR holds (a 4-KiB aligned page per
 * processor). That state belongs to the processor, not to a VM: the
 * embedder's per-processor record (vcore_host_cpu_t) holds the page and
 * counts the vCPUs using it; the first one enables SVM, the last one to go
 * undoes what the library did. An embedder that enabled SVM itself keeps
 * its EFER.SVME and its host save area.
 *
 * "TLB Control": TLB entries are tagged with the ASID of the guest that
 * made them, per processor. The processor's record hands out ASIDs 1 ..
 * nasid-1 in generations; when they run out a new generation starts with a
 * flush of every ASID, and each vCPU takes a fresh ASID when its
 * generation is old. Two VMs sharing a processor never share an ASID.
 */
#include "svm.h"

/* vcore_host_cpu_t::flags */
#define VCORE__SVM_CPU_ON (1u << 0)        /* SVM is in use by the library's vCPUs */
#define VCORE__SVM_CPU_SET_SVME (1u << 1)  /* the library set EFER.SVME: the last user clears it */
#define VCORE__SVM_CPU_SET_HSAVE (1u << 2) /* the library wrote VM_HSAVE_PA: the last user clears it */

int vcore__svm_cpu_caps(uint32_t *features, uint32_t *nasid)
{
    uint32_t r[4];
    /* APM Vol. 2, "Testing for SVM Support": CPUID Fn8000_0001_ECX[SVM]
     * and VM_CR.SVMDIS clear ("Enabling SVM"). */
    vcore__svm_cpuid(VCORE__CPUID_LEAF_EXT_MAX, r);
    if (r[0] < VCORE__CPUID_LEAF_SVM)
        return VCORE_ERR_NODEV;
    vcore__svm_cpuid(VCORE__CPUID_LEAF_EXT_INFO, r);
    if (!(r[2] & VCORE__CPUID_81_ECX_SVM))
        return VCORE_ERR_NODEV;
    if (vcore__svm_rdmsr(VCORE__MSR_VM_CR) & VCORE__VM_CR_SVMDIS)
        return VCORE_ERR_NODEV;
    vcore__svm_cpuid(VCORE__CPUID_LEAF_SVM, r);
    /* The backend maps guest memory with nested paging only. */
    if (!(r[3] & VCORE_SVM_FEAT_NP) || r[1] < 2)
        return VCORE_ERR_NODEV;
    *features = r[3];
    *nasid = r[1];
    return VCORE_OK;
}

/* Enables SVM on this processor (or finds the embedder's). */
static int vcore__svm_cpu_on(vcore_host_cpu_t *cpu)
{
    if (!cpu->page || ((uintptr_t)cpu->page & (VCORE_PAGE_SIZE - 1)) ||
        (cpu->page_phys & (VCORE_PAGE_SIZE - 1)) || cpu->page_phys == 0)
        return VCORE_ERR_INVAL;
    uint32_t flags = VCORE__SVM_CPU_ON;
    uint64_t efer = vcore__svm_rdmsr(VCORE_MSR_IA32_EFER);
    if (!(efer & VCORE__EFER_SVME)) {
        vcore__svm_wrmsr(VCORE_MSR_IA32_EFER, efer | VCORE__EFER_SVME);
        flags |= VCORE__SVM_CPU_SET_SVME;
    }
    /* "VM_HSAVE_PA MSR": an embedder that set it owns its host save area. */
    if (vcore__svm_rdmsr(VCORE__MSR_VM_HSAVE_PA) == 0) {
        vcore__svm_wrmsr(VCORE__MSR_VM_HSAVE_PA, cpu->page_phys);
        flags |= VCORE__SVM_CPU_SET_HSAVE;
    }
    cpu->flags = flags;
    return VCORE_OK;
}

int vcore__svm_cpu_enter(vcore__svm_vcpu_t *c, const vcore_host_t *host)
{
    /* vm_init made sure the host has per-processor storage. */
    uint32_t idx = host->cpu_index(host->ctx);
    if (idx >= host->ncpus)
        return VCORE_ERR_RANGE;
    vcore_host_cpu_t *cpu = &host->cpus[idx];
    if (cpu->users == UINT32_MAX)
        return VCORE_ERR_RANGE;
    if (cpu->users == 0) {
        int err = vcore__svm_cpu_on(cpu);
        if (err)
            return err;
    }
    cpu->users++;
    c->cpu = cpu;
    c->cpu_index = idx;
    c->cpu_held = true;
    return VCORE_OK;
}

void vcore__svm_cpu_leave(vcore__svm_vcpu_t *c)
{
    if (!c->cpu_held)
        return;
    vcore_host_cpu_t *cpu = c->cpu;
    c->cpu_held = false;
    if (cpu->users > 1) {
        cpu->users--;
        return;
    }
    /* The last user on this processor. */
    if (cpu->flags & VCORE__SVM_CPU_SET_HSAVE)
        vcore__svm_wrmsr(VCORE__MSR_VM_HSAVE_PA, 0);
    if (cpu->flags & VCORE__SVM_CPU_SET_SVME)
        vcore__svm_wrmsr(VCORE_MSR_IA32_EFER, vcore__svm_rdmsr(VCORE_MSR_IA32_EFER) & ~VCORE__EFER_SVME);
    cpu->users = 0;
    cpu->flags = 0;
}

int vcore__svm_cpu_here(const vcore__svm_vcpu_t *c, const vcore_host_t *host)
{
    /* The ASID, the clean bits and the host save area are the processor's:
     * a vCPU runs on the processor it was created on. */
    if (!c->cpu_held || host->cpu_index(host->ctx) != c->cpu_index)
        return VCORE_ERR_STATE;
    return VCORE_OK;
}

uint8_t vcore__svm_cpu_asid(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v)
{
    vcore_host_cpu_t *cpu = c->cpu;
    bool wrapped = false;
    if (c->asid != 0 && c->asid_generation == cpu->asid_generation)
        return VCORE_VMCB_TLB_NOTHING;
    /* ASID 0 is the host's; a new generation starts when none is left. */
    if (cpu->asid_generation == 0 || cpu->asid_next == 0 || cpu->asid_next >= v->nasid) {
        cpu->asid_generation++;
        if (cpu->asid_generation == 0)
            cpu->asid_generation = 1;
        cpu->asid_next = 1;
        wrapped = true;
    }
    c->asid = cpu->asid_next++;
    VCORE__SVM_WR(c, control.asid, c->asid);
    c->dirty |= VCORE_VMCB_CLEAN_ASID;
    c->asid_generation = cpu->asid_generation;
    /* A new ASID: the processor's cached copy of this VMCB is of no use ("VMCB Clean Field"). */
    c->ran = false;
    /* After a wrap every ASID may hold another guest's entries: flush all.
     * A fresh ASID of the current generation holds none. */
    return wrapped ? VCORE_VMCB_TLB_FLUSH_ALL : VCORE_VMCB_TLB_NOTHING;
}
