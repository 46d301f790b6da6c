/*
 * vmx_backend.c - the vmx backend's ops table: ring-0 Intel VMX.
 *
 * VMX root operation belongs to each physical processor (vmx_root.c): the
 * first vCPU created on a processor enters it, the last one destroyed there
 * leaves it, across VMs. A vCPU always runs on the processor it was created
 * on (its VMCSs are active there); the library does no migration,
 * scheduling or interrupts.
 */
#include "vmx.h"

#include "virtcore/backends.h"

static int vcore__vmx_probe(const vcore_host_t *host)
{
    (void)host;
    /* User space (a hosted build) must not touch MSRs: it would fault. */
    if (vcore__vmx_cpl() != 0)
        return VCORE_ERR_NODEV;
    vcore__vmx_caps_t caps;
    vcore__vmx_ctls_t ctls;
    int err = vcore__vmx_caps_read(&caps);
    if (!err)
        err = vcore__vmx_caps_choose(&caps, &ctls);
    return err ? VCORE_ERR_NODEV : VCORE_OK;
}

static int vcore__vmx_vm_init(vcore_vm_t *vm, void *priv)
{
    const vcore_vm_config_t *cfg = vcore_vm_config(vm);
    const vcore_host_t *host = vcore_vm_host(vm);
    if (cfg->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    /* VMX root operation is per processor and shared by every VM: the
     * embedder says which processor runs a call and where its state lives. */
    if (!host->cpus) { /* vcore_host_validate: cpu_index comes with cpus */
        vcore_vm_log(vm, VCORE_LOG_ERROR, "vmx: the host services lack cpu_index/cpus");
        return VCORE_ERR_INVAL;
    }
    return vcore__vmx_vm_setup(priv, host);
}

static void vcore__vmx_vm_fini(vcore_vm_t *vm, void *priv)
{
    vcore__vmx_vm_teardown(priv, vcore_vm_host(vm));
}

static int vcore__vmx_vm_map(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r)
{
    vcore__vmx_vm_t *v = priv;
    const vcore_host_t *host = vcore_vm_host(vm);
    (void)slot;
    int err = vcore__vmx_ept_prepare(&v->ept, &v->pool, host, r);
    if (err)
        return err;
    vcore__vmx_ept_commit(&v->ept, &v->pool, host, r);
    return VCORE_OK;
}

static int vcore__vmx_vm_unmap(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r)
{
    vcore__vmx_vm_t *v = priv;
    (void)vm;
    (void)slot;
    vcore__vmx_ept_unmap(&v->ept, &v->pool, r);
    return VCORE_OK;
}

static int vcore__vmx_vcpu_init(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__vmx_vcpu_t *c = priv;
    vcore_vm_t *vm = vcore_vcpu_vm(vcpu);
    c->vcpu = vcpu;
    c->vmobj = vm;
    int err = vcore__vmx_vcpu_setup(c, vcore_vm_backend_priv(vm), vcore_vm_host(vm), vcore_vcpu_id(vcpu));
    if (err)
        return err;
    err = vcore__vmx_fpu_setup(c, vcore_vm_host(vm));
    if (err)
        vcore__vmx_vcpu_teardown(c, vcore_vm_host(vm));
    return err;
}

static void vcore__vmx_vcpu_fini(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__vmx_fpu_teardown(priv, vcore_vm_host(vcore_vcpu_vm(vcpu)));
    vcore__vmx_vcpu_teardown(priv, vcore_vm_host(vcore_vcpu_vm(vcpu)));
}

static int vcore__vmx_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                uint32_t groups)
{
    vcore__vmx_vcpu_t *c = priv;
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    int err = vcore__vmx_vmcs_ready(c, v);
    return err ? err : vcore__vmx_state_get(c, v, state->u.x86, groups);
}

static int vcore__vmx_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                uint32_t groups)
{
    vcore__vmx_vcpu_t *c = priv;
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    int err = vcore__vmx_vmcs_ready(c, v);
    return err ? err : vcore__vmx_state_set(c, v, state->u.x86, groups);
}

static int vcore__vmx_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    vcore__vmx_vcpu_t *c = priv;
    vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    int err = vcore__vmx_vmcs_ready(c, v);
    if (!err)
        err = vcore__vmx_exit_complete(c, exit);
    if (err)
        return err;
    for (;;) {
        if (vcore__vmx_kick_check(c)) {
            /* Kicked: back to the caller before anything is prepared. */
            vcore__memset(&exit->u, 0, sizeof(exit->u));
            vcore__memset(&exit->raw, 0, sizeof(exit->raw));
            exit->reason = VCORE_EXIT_INTERRUPTED;
            exit->flags = 0;
            exit->raw.source = VCORE_EXIT_SRC_VMX;
            c->pending = 0;
            return VCORE_OK;
        }
        err = vcore__vmx_vmcs_prepare_entry(c, v);
        vcore__vmx_rc_t rc;
        uint32_t reason = 0;
        if (!err)
            err = vcore__vmx_vmcs_run(c, &c->vmcs01, &rc, &reason);
        vcore__vmx_kick_left(c);
        if (err)
            return err;
        if (rc.kind != VCORE__VMX_SUCCEED) {
            /* VMfail of VMLAUNCH/VMRESUME: data, not an error (DESIGN.md §4). */
            vcore__memset(&exit->u, 0, sizeof(exit->u));
            vcore__memset(&exit->raw, 0, sizeof(exit->raw));
            exit->reason = VCORE_EXIT_HW_ERROR;
            exit->flags = 0;
            exit->u.hw_error.kind = (int32_t)rc.kind;
            exit->u.hw_error.instr_error = rc.error;
            exit->raw.source = VCORE_EXIT_SRC_VMX;
            c->pending = 0;
            return VCORE_OK;
        }
        bool again = false;
        err = vcore__vmx_exit_decode(c, exit, reason, &again);
        if (err)
            return err;
        c->pending_reply = (exit->flags & VCORE_EXIT_F_NEEDS_REPLY) != 0;
        if (!again) {
            /* The run returns: a kick made meanwhile has what it asked for. */
            vcore__kick_done(&c->kick);
            return VCORE_OK;
        }
    }
}

/* backend.h vcpu_run_sync: the load, the run and the fetch in one call
 * (the fetch reads vmcs01 right after the exit; the GPRs are already in
 * memory then). */
static int vcore__vmx_run_sync(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state, uint32_t push,
                               uint32_t *pull, vcore_exit_t *exit)
{
    int err = push ? vcore__vmx_set_state(vcpu, priv, state, push) : VCORE_OK;
    if (!err)
        err = vcore__vmx_run(vcpu, priv, exit);
    if (!err && *pull && vcore__vmx_get_state(vcpu, priv, state, *pull) != VCORE_OK)
        *pull = 0; /* the core fetches them itself (backend.h) */
    return err;
}

const vcore_backend_t vcore__backend_vmx_ops = {
    .size = sizeof(vcore_backend_t),
    .abi_version = VCORE_BACKEND_ABI_VERSION,
    .arches = VCORE_BACKEND_ARCH_X86_64,
    .name = "vmx",
    .vm_priv_size = sizeof(vcore__vmx_vm_t),
    .vcpu_priv_size = sizeof(vcore__vmx_vcpu_t),
    .probe = vcore__vmx_probe,
    .vm_init = vcore__vmx_vm_init,
    .vm_fini = vcore__vmx_vm_fini,
    .vm_map = vcore__vmx_vm_map,
    .vm_unmap = vcore__vmx_vm_unmap,
    .vm_dirty_log = NULL,
    .vcpu_init = vcore__vmx_vcpu_init,
    .vcpu_fini = vcore__vmx_vcpu_fini,
    .vcpu_get_state = vcore__vmx_get_state,
    .vcpu_set_state = vcore__vmx_set_state,
    .vcpu_set_cpuid = NULL,
    .vcpu_run = vcore__vmx_run,
    .vcpu_kick = vcore__vmx_kick,
    .state_groups = VCORE__VMX_GROUPS,
    .features = VCORE_BACKEND_FEAT_NMI_WINDOW,
    .vmx_caps = vcore__vmx_caps_op,
    .vmcs_alloc = vcore__vmx_vmcs_alloc,
    .vmcs_free = vcore__vmx_vmcs_free,
    .vmcs_load = vcore__vmx_vmcs_load,
    .vmcs_clear = vcore__vmx_vmcs_clear,
    .vmcs_read = vcore__vmx_vmcs_read,
    .vmcs_write = vcore__vmx_vmcs_write,
    .vmcs_enter = vcore__vmx_vmcs_enter,
    .vcpu_flush_tlb = vcore__vmx_flush_tlb,
    .vcpu_invept = vcore__vmx_invept_op,
    .vmcs_shadow_link = vcore__vmx_vmcs_shadow_link,
    .vmcs_read_many = vcore__vmx_vmcs_read_many,
    .vcpu_vpid02 = vcore__vmx_vpid02,
    .vcpu_flush_vpid02 = vcore__vmx_flush_vpid02,
    .vcpu_run_sync = vcore__vmx_run_sync,
    .vmx_msr_exits = vcore__vmx_msr_exits,
};
