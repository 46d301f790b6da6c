/*
 * vmx_backend.c - the vmx backend's ops table: ring-0 Intel VMX.
 *
 * VMX operation is per logical processor, not per VM: the first vCPU set up
 * on a processor turns it on (CR4.VMXE, VMXON) and its teardown turns it off;
 * when the embedder is already in VMX operation the backend uses it as it is.
 * A vCPU must always run on the processor it was created on (its VMCS is
 * active there); the library does no migration, scheduling or interrupts.
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
    if (cfg->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    return vcore__vmx_vm_setup(priv, vcore_vm_host(vm));
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
    return vcore__vmx_vcpu_setup(c, vcore_vm_backend_priv(vm), vcore_vm_host(vm), vcore_vcpu_id(vcpu));
}

static void vcore__vmx_vcpu_fini(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__vmx_vcpu_teardown(priv, vcore_vm_host(vcore_vcpu_vm(vcpu)));
}

/* Makes the vCPU's VMCS current (another VMCS may have been loaded since). */
static int vcore__vmx_make_current(vcore__vmx_vcpu_t *c)
{
    uint64_t cur = ~0ull;
    if (vcore__vmx_ptrst(&cur).kind != VCORE__VMX_SUCCEED)
        return VCORE_ERR_HWFAIL;
    if (cur == c->vmcs_pa)
        return VCORE_OK;
    return vcore__vmx_ptrld(c->vmcs_pa).kind == VCORE__VMX_SUCCEED ? VCORE_OK : VCORE_ERR_HWFAIL;
}

/* Builds vmcs01's constant part on first use. */
static int vcore__vmx_ready(vcore__vmx_vcpu_t *c)
{
    int err = vcore__vmx_make_current(c);
    if (!err && !c->built)
        err = vcore__vmx_vmcs_build(c, vcore_vm_backend_priv(c->vmobj));
    return err;
}

/* The register blocks vmx_state.c moves as a unit. */
static uint32_t vcore__vmx_units_of(uint32_t groups)
{
    static const uint32_t units[] = {VCORE_X86_STATE_REGS, VCORE_X86_STATE_SREGS,
                                     VCORE_X86_STATE_DREGS, VCORE_X86_STATE_FPU,
                                     VCORE_X86_STATE_XCR0, VCORE_X86_STATE_ALL_MSRS};
    uint32_t u = 0;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(units); i++)
        if (groups & units[i])
            u |= units[i];
    return u;
}

static int vcore__vmx_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                uint32_t groups)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    int err = vcore__vmx_ready(c);
    if (err)
        return err;
    /* Exactly the groups asked for go back (backend.h). */
    vcore_x86_state_t tmp = *state->u.x86;
    err = vcore__vmx_state_get(c, &tmp, vcore__vmx_units_of(groups));
    if (!err)
        vcore_x86_state_copy(state->u.x86, &tmp, groups);
    return err;
}

static int vcore__vmx_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                uint32_t groups)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    int err = vcore__vmx_ready(c);
    if (err)
        return err;
    /* A block is written whole: what the core did not give comes from the VMCS. */
    uint32_t units = vcore__vmx_units_of(groups);
    vcore_x86_state_t tmp = *state->u.x86;
    if (units & ~groups) {
        err = vcore__vmx_state_get(c, &tmp, units & ~groups);
        if (err)
            return err;
        vcore_x86_state_copy(&tmp, state->u.x86, groups);
    }
    return vcore__vmx_state_set(c, vcore_vm_backend_priv(c->vmobj), &tmp, units);
}

static int vcore__vmx_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    vcore__vmx_vcpu_t *c = priv;
    vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    int err = vcore__vmx_ready(c);
    if (!err)
        err = vcore__vmx_exit_complete(c, exit);
    if (!err)
        err = vcore__vmx_vmcs_prepare_entry(c, v);
    if (err)
        return err;
    for (;;) {
        vcore__vmx_rc_t rc = vcore__vmx_enter(&c->g);
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
        c->known &= ~VCORE__VMX_K_VOLATILE;
        err = vcore__vmx_exit_decode(c, exit);
        if (err)
            return err;
        c->pending_reply = (exit->flags & VCORE_EXIT_F_NEEDS_REPLY) != 0;
        /* A failed entry leaves the VMCS clear ("VM-Entry Failures During or
         * After Loading Guest State"); a real exit makes it launched. */
        if (!(exit->raw.reason & VCORE__EXIT_REASON_FAILED_ENTRY))
            c->g.launched = 1;
        if (exit->reason != VCORE_EXIT_NONE)
            return VCORE_OK;
    }
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
    .vcpu_kick = NULL,
    /* Events are not mapped to VM-entry event injection yet: the core keeps
     * them and refuses the event API for this backend. */
    .state_groups = VCORE_X86_STATE_ALL & ~VCORE_X86_STATE_EVENTS,
    .features = 0,
};
