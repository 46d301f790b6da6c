/*
 * svm_vmcb.c - VMCB01 and the run of the guest on it.
 *
 * VMCB01 is the VMCB the vCPU's guest runs on. Its control area is written
 * once (intercepts, permission maps, nested paging); what changes between
 * runs - the guest state from the core's model, event injection, windows -
 * is written through the counted accessors of svm.h, and every write that
 * touches a field a clean bit covers clears that bit for the next VMRUN
 * (APM Vol. 2, "VMCB Clean Field"). The backend intercepts what it must
 * report or protect (docs/embedding.md lists why).
 */
#include "svm.h"

/* The reset value of IA32_PAT (APM Vol. 2, "PAT Register"): WB, WT, UC-, UC twice. */
#define VCORE__PAT_RESET 0x0007040600070406ull

/* Clears (pass) or sets (intercept) the read and write bits of one MSR. */
static void vcore__svm_msrpm_set(uint8_t *pm, uint32_t msr, bool read_pass, bool write_pass)
{
    uint32_t byte, bit;
    if (!vcore_vmcb_msrpm_pos(msr, &byte, &bit))
        return; /* outside the map: always intercepted */
    uint8_t *b = &pm[byte];
    uint8_t rmask = (uint8_t)(1u << bit), wmask = (uint8_t)(rmask << 1);
    *b = read_pass ? (uint8_t)(*b & ~rmask) : (uint8_t)(*b | rmask);
    *b = write_pass ? (uint8_t)(*b & ~wmask) : (uint8_t)(*b | wmask);
}

int vcore__svm_vm_setup(vcore__svm_vm_t *v, const vcore_host_t *host)
{
    int err = vcore__svm_cpu_caps(&v->features, &v->nasid);
    if (err)
        return err;
    if (!host->alloc_pages || !host->free_pages || !host->virt_to_phys)
        return VCORE_ERR_INVAL;
    vcore__svm_pool_init(&v->pool, host);
    err = vcore__svm_npt_init(&v->npt, &v->pool);
    if (err)
        goto fail;
    v->iopm = host->alloc_pages(host->ctx, 3, &v->iopm_pa);
    v->msrpm = host->alloc_pages(host->ctx, 2, &v->msrpm_pa);
    if (!v->iopm || !v->msrpm) {
        err = VCORE_ERR_NOMEM;
        goto fail;
    }
    /* Every port is intercepted ("I/O Intercepts"): the VMM owns all devices. */
    vcore__memset(v->iopm, 0xff, 3 * VCORE_PAGE_SIZE);
    /* Every MSR is intercepted except those VMCB01 switches itself: FS and
     * GS bases, KernelGsBase, the SYSCALL and SYSENTER MSRs (VMLOAD /
     * VMSAVE state) and PAT (G_PAT under nested paging). The TSC may be
     * read (TSC_OFFSET applies) but not written. EFER is intercepted both
     * ways: VMCB01 holds it with SVME set, which the guest must not see,
     * and the core checks every write against the vCPU's CPUID. */
    vcore__memset(v->msrpm, 0xff, 2 * VCORE_PAGE_SIZE);
    static const uint32_t pass[] = {
        VCORE_MSR_IA32_FS_BASE, VCORE_MSR_IA32_GS_BASE, VCORE_MSR_IA32_KERNEL_GS_BASE,
        VCORE_MSR_IA32_STAR, VCORE_MSR_IA32_LSTAR, VCORE_MSR_IA32_CSTAR, VCORE_MSR_IA32_FMASK,
        VCORE_MSR_IA32_SYSENTER_CS, VCORE_MSR_IA32_SYSENTER_ESP, VCORE_MSR_IA32_SYSENTER_EIP,
        VCORE_MSR_IA32_PAT,
    };
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(pass); i++)
        vcore__svm_msrpm_set(v->msrpm, pass[i], true, true);
    vcore__svm_msrpm_set(v->msrpm, VCORE_MSR_IA32_TSC, true, false);
    return VCORE_OK;
fail:
    vcore__svm_vm_teardown(v, host);
    return err;
}

void vcore__svm_vm_teardown(vcore__svm_vm_t *v, const vcore_host_t *host)
{
    if (v->iopm)
        host->free_pages(host->ctx, v->iopm, 3);
    if (v->msrpm)
        host->free_pages(host->ctx, v->msrpm, 2);
    v->iopm = NULL;
    v->msrpm = NULL;
    if (v->pool.host)
        vcore__svm_pool_fini(&v->pool);
}

void vcore__svm_vmcb_intercept(vcore__svm_vcpu_t *c, uint32_t id, bool on)
{
    uint32_t w = id / 32u, bit = 1u << (id % 32u);
    uint32_t old = VCORE__SVM_RD(c, control.intercept[w]);
    uint32_t neu = on ? (old | bit) : (old & ~bit);
    if (neu != old) {
        VCORE__SVM_WR(c, control.intercept[w], neu);
        c->dirty |= VCORE_VMCB_CLEAN_I;
    }
}

/* The control area, written once. */
static void vcore__svm_vmcb_build(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v)
{
    static const uint8_t always[] = {
        /* control registers the core completes (vcpu_cr.c) */
        VCORE_VMCB_INTERCEPT_CR0_WRITE, VCORE_VMCB_INTERCEPT_CR4_WRITE,
        /* the host's events, and what the VMM answers */
        VCORE_VMCB_INTERCEPT_INTR, VCORE_VMCB_INTERCEPT_NMI, VCORE_VMCB_INTERCEPT_SMI,
        VCORE_VMCB_INTERCEPT_INIT, VCORE_VMCB_INTERCEPT_CPUID, VCORE_VMCB_INTERCEPT_HLT,
        VCORE_VMCB_INTERCEPT_IOIO_PROT, VCORE_VMCB_INTERCEPT_MSR_PROT, VCORE_VMCB_INTERCEPT_SHUTDOWN,
        /* INVD would drop the host's dirty cache lines */
        VCORE_VMCB_INTERCEPT_INVD,
        /* the SVM instructions: VMCB01 runs the guest with EFER.SVME set */
        VCORE_VMCB_INTERCEPT_VMRUN, VCORE_VMCB_INTERCEPT_VMMCALL, VCORE_VMCB_INTERCEPT_VMLOAD,
        VCORE_VMCB_INTERCEPT_VMSAVE, VCORE_VMCB_INTERCEPT_STGI, VCORE_VMCB_INTERCEPT_CLGI,
        VCORE_VMCB_INTERCEPT_SKINIT, VCORE_VMCB_INTERCEPT_INVLPGA,
        /* XCR0 is not switched; MONITOR/MWAIT could stop the processor */
        VCORE_VMCB_INTERCEPT_XSETBV, VCORE_VMCB_INTERCEPT_MONITOR, VCORE_VMCB_INTERCEPT_MWAIT,
        VCORE_VMCB_INTERCEPT_MWAIT_ARMED,
    };
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(always); i++)
        vcore__svm_vmcb_intercept(c, always[i], true);
    VCORE__SVM_WR(c, control.intercept[2], VCORE__SVM_EXC_INTERCEPTS);
    VCORE__SVM_WR(c, control.iopm_base_pa, v->iopm_pa);
    VCORE__SVM_WR(c, control.msrpm_base_pa, v->msrpm_pa);
    /* "Virtual Interrupts": with V_INTR_MASKING the guest's RFLAGS.IF and
     * CR8 act on virtual interrupts only; physical ones stay the host's. */
    VCORE__SVM_WR(c, control.int_ctl, VCORE_VMCB_INT_V_INTR_MASKING);
    VCORE__SVM_WR(c, control.nested_ctl, VCORE_VMCB_NESTED_NP_ENABLE);
    VCORE__SVM_WR(c, control.n_cr3, v->npt.root_pa);
    VCORE__SVM_WR(c, save.g_pat, VCORE__PAT_RESET);
    c->dirty = VCORE_VMCB_CLEAN_ALL_;
    c->npt_gen = v->npt.gen;
}

int vcore__svm_vcpu_setup(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, const vcore_host_t *host)
{
    int err = vcore__svm_cpu_enter(c, host);
    if (err)
        return err;
    c->vmcb = host->alloc_pages(host->ctx, 1, &c->vmcb_pa);
    c->host_save = host->alloc_pages(host->ctx, 1, &c->host_save_pa);
    if (!c->vmcb || !c->host_save) {
        vcore__svm_vcpu_teardown(c, host);
        return VCORE_ERR_NOMEM;
    }
    vcore__memset(c->vmcb, 0, VCORE_PAGE_SIZE);
    vcore__memset(c->host_save, 0, VCORE_PAGE_SIZE);
    vcore__svm_vmcb_build(c, v);
    return VCORE_OK;
}

void vcore__svm_vcpu_teardown(vcore__svm_vcpu_t *c, const vcore_host_t *host)
{
    if (c->vmcb)
        host->free_pages(host->ctx, c->vmcb, 1);
    if (c->host_save)
        host->free_pages(host->ctx, c->host_save, 1);
    c->vmcb = NULL;
    c->host_save = NULL;
    vcore__svm_cpu_leave(c);
}

bool vcore__svm_vmcb_run(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v)
{
    uint8_t tlb = vcore__svm_cpu_asid(c, v);
    /* Translations the NPT no longer has must leave the TLB ("TLB Control"). */
    if (c->npt_gen != v->npt.gen) {
        if (tlb == VCORE_VMCB_TLB_NOTHING)
            tlb = (v->features & VCORE_SVM_FEAT_FLUSH_BY_ASID) ? VCORE_VMCB_TLB_FLUSH_ASID
                                                               : VCORE_VMCB_TLB_FLUSH_ALL;
        c->npt_gen = v->npt.gen;
    }
    /* A flush vcpu_flush_tlb asked for (svm_tlb.c). */
    tlb = vcore__svm_tlb_merge(tlb, c->tlb_request);
    VCORE__SVM_PUT(c, control.tlb_control, tlb, 0);
    /* "VMCB Clean Field": a bit may be set only for fields unchanged since
     * the last VMRUN of this VMCB with this ASID on this processor. */
    uint32_t clean = 0;
    if (c->ran && (v->features & VCORE_SVM_FEAT_VMCB_CLEAN))
        clean = (uint32_t)VCORE_VMCB_CLEAN_ALL_ & ~c->dirty;
    VCORE__SVM_PUT(c, control.clean, clean, 0);
    /* With GIF clear nothing interrupts the switch; the host's FS, GS, TR,
     * LDTR and system-call MSRs are parked in its save page while the
     * guest's are loaded ("VMSAVE and VMLOAD Instructions"). */
    vcore__svm_clgi();
    /* A kick seen now stops the run; one sent later finds the interrupt
     * held pending by GIF = 0 (svm_kick.c). The TLB request stays for the
     * VMRUN that happens. */
    if (vcore__svm_kick_check(c)) {
        vcore__svm_stgi();
        return false;
    }
    vcore__svm_vmsave(c->host_save_pa);
    vcore__svm_vmload(c->vmcb_pa);
    vcore__svm_vmrun(&c->g, c->vmcb_pa);
    vcore__svm_vmsave(c->vmcb_pa);
    vcore__svm_vmload(c->host_save_pa);
    vcore__svm_kick_left(c);
    vcore__svm_stgi();
    c->stats.vmruns++;
    c->ran = true;
    c->dirty = 0;
    c->tlb_request = VCORE_VMCB_TLB_NOTHING; /* done by this VMRUN */
    return true;
}
