/*
 * svm_backend.c - the svm backend's ops table: ring-0 AMD SVM.
 *
 * SVM is enabled per physical processor (svm_cpu.c): the first vCPU created
 * on a processor enables it, the last one destroyed there undoes it, across
 * VMs. A vCPU always runs on the processor it was created on (its ASID and
 * the clean bits of its VMCB are that processor's); the library does no
 * migration, scheduling or interrupts.
 */
#include "svm.h"

#include "virtcore/backends.h"

static int vcore__svm_probe(const vcore_host_t *host)
{
    (void)host;
    /* User space (a hosted build) must not touch MSRs: it would fault. */
    if (vcore__svm_cpl() != 0)
        return VCORE_ERR_NODEV;
    uint32_t features, nasid;
    return vcore__svm_cpu_caps(&features, &nasid) ? VCORE_ERR_NODEV : VCORE_OK;
}

static int vcore__svm_vm_init(vcore_vm_t *vm, void *priv)
{
    const vcore_vm_config_t *cfg = vcore_vm_config(vm);
    const vcore_host_t *host = vcore_vm_host(vm);
    if (cfg->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    /* SVM is enabled per processor and shared by every VM: the embedder
     * says which processor runs a call and where its state lives. */
    if (!host->cpus) { /* host.c accepts cpu_index and cpus only together */
        vcore_vm_log(vm, VCORE_LOG_ERROR, "svm: the host services lack cpu_index/cpus");
        return VCORE_ERR_INVAL;
    }
    return vcore__svm_vm_setup(priv, host);
}

static void vcore__svm_vm_fini(vcore_vm_t *vm, void *priv)
{
    vcore__svm_vm_teardown(priv, vcore_vm_host(vm));
}

static int vcore__svm_vm_map(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r)
{
    vcore__svm_vm_t *v = priv;
    const vcore_host_t *host = vcore_vm_host(vm);
    (void)slot;
    int err = vcore__svm_npt_prepare(&v->npt, &v->pool, host, r);
    if (err)
        return err;
    vcore__svm_npt_commit(&v->npt, &v->pool, host, r);
    return VCORE_OK;
}

static int vcore__svm_vm_unmap(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r)
{
    vcore__svm_vm_t *v = priv;
    (void)vm;
    (void)slot;
    vcore__svm_npt_unmap(&v->npt, &v->pool, r);
    return VCORE_OK;
}

static int vcore__svm_vcpu_init(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__svm_vcpu_t *c = priv;
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);
    c->vcpu = vcpu;
    c->vmobj = vm;
    int err = vcore__svm_vcpu_setup(c, vcore_vm_backend_priv(vm), vcore_vm_host(vm));
    if (err)
        return err;
    err = vcore__svm_fpu_setup(c, vcore_vm_host(vm));
    if (err)
        vcore__svm_vcpu_teardown(c, vcore_vm_host(vm));
    return err;
}

static void vcore__svm_vcpu_fini(vcore_vcpu_t *vcpu, void *priv)
{
    const vcore_host_t *host = vcore_vm_host(vcore_vcpu_vm(vcpu));
    vcore__svm_fpu_teardown(priv, host);
    vcore__svm_vcpu_teardown(priv, host);
}

/* A run that returns without a #VMEXIT to report: reason only. */
static void vcore__svm_run_report(vcore__svm_vcpu_t *c, vcore_exit_t *exit, uint32_t reason)
{
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->reason = reason;
    exit->flags = 0;
    exit->raw.source = VCORE_EXIT_SRC_SVM;
    c->pending = 0;
}

static int vcore__svm_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                uint32_t groups)
{
    (void)vcpu;
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    return vcore__svm_state_get(priv, state->u.x86, groups);
}

static int vcore__svm_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                uint32_t groups)
{
    (void)vcpu;
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    return vcore__svm_state_set(priv, state->u.x86, groups);
}

static int vcore__svm_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    vcore__svm_vcpu_t *c = priv;
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);
    const vcore__svm_vm_t *v = vcore_vm_backend_priv(vm);
    int err = vcore__svm_cpu_here(c, vcore_vm_host(vm));
    if (!err)
        err = vcore__svm_exit_complete(c, exit);
    if (err)
        return err;
    for (;;) {
        bool window_now = false, again = false;
        vcore__svm_events_entry(c, v, &window_now);
        if (window_now) {
            /* Nothing blocks NMIs: the window is open before the guest runs. */
            vcore__svm_run_report(c, exit, VCORE_EXIT_NMI_WINDOW);
            return VCORE_OK;
        }
        /* The guest's x87/SSE state in, the host's back after (svm_fpu.c). */
        err = vcore__svm_fpu_enter(c);
        if (err)
            return err;
        bool ran = vcore__svm_vmcb_run(c, v);
        vcore__svm_fpu_exit(c);
        if (!ran) {
            /* Kicked before VMRUN (svm_kick.c): nothing was delivered, as
             * after a VMRUN that failed its checks - an injected event
             * stays injected, the backend's single step is undone - and the
             * run goes back to the caller. */
            bool iret = c->iret_pending;
            vcore__svm_events_exited(c, v, VCORE_VMEXIT_INVALID_CODE, exit);
            c->iret_pending = iret;
            vcore__svm_run_report(c, exit, VCORE_EXIT_INTERRUPTED);
            return VCORE_OK;
        }
        vcore__svm_exit_decode(c, v, exit, &again);
        if (!again) {
            /* The run returns: a kick made meanwhile has what it asked for. */
            vcore__kick_done(&c->kick);
            return VCORE_OK;
        }
    }
}

const vcore_backend_t vcore__backend_svm_ops = {
    .size = sizeof(vcore_backend_t),
    .abi_version = VCORE_BACKEND_ABI_VERSION,
    .arches = VCORE_BACKEND_ARCH_X86_64,
    .name = "svm",
    .vm_priv_size = sizeof(vcore__svm_vm_t),
    .vcpu_priv_size = sizeof(vcore__svm_vcpu_t),
    .probe = vcore__svm_probe,
    .vm_init = vcore__svm_vm_init,
    .vm_fini = vcore__svm_vm_fini,
    .vm_map = vcore__svm_vm_map,
    .vm_unmap = vcore__svm_vm_unmap,
    .vm_dirty_log = NULL,
    .vcpu_init = vcore__svm_vcpu_init,
    .vcpu_fini = vcore__svm_vcpu_fini,
    .vcpu_get_state = vcore__svm_get_state,
    .vcpu_set_state = vcore__svm_set_state,
    .vcpu_set_cpuid = NULL,
    .vcpu_run = vcore__svm_run,
    .vcpu_kick = vcore__svm_kick,
    .state_groups = VCORE__SVM_GROUPS,
    .features = VCORE_BACKEND_FEAT_NMI_WINDOW,
    .vmx_caps = NULL,
    .vmcs_alloc = NULL,
    .vmcs_free = NULL,
    .vmcs_load = NULL,
    .vmcs_clear = NULL,
    .vmcs_read = NULL,
    .vmcs_write = NULL,
    .vmcs_enter = NULL,
    .vcpu_flush_tlb = vcore__svm_flush_tlb,
    .vm_hv_host = NULL,
    .vcpu_hv_vp_index = NULL,
    .vmcb_alloc = vcore__svm_hw_vmcb_alloc,
    .vmcb_free = vcore__svm_hw_vmcb_free,
    .vmcb_read = vcore__svm_hw_vmcb_read,
    .vmcb_write = vcore__svm_hw_vmcb_write,
    .vmcb_setup = vcore__svm_hw_vmcb_setup,
    .vmcb_npt_map = vcore__svm_hw_vmcb_npt_map,
    .vmcb_run = vcore__svm_hw_vmcb_run,
};
