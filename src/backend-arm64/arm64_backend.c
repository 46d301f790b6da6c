/*
 * arm64_backend.c - the arm64 backend's ops table: AArch64 guests at EL1
 * under a hypervisor running at EL2 (freestanding).
 *
 * The host runs at EL2 without VHE (HCR_EL2.E2H = 0), on SP_EL2, uses no
 * EL1/EL0 registers and no FP/SIMD registers itself. A vCPU may run on any
 * PE, one PE at a time; every run loads its EL2 controls and EL1 context and
 * saves them after the exit, so vCPUs of any VM share a PE freely. The
 * library does no scheduling, interrupt routing or virtual interrupts.
 */
#include "arm64_el2.h"

#include "virtcore/arm64/el2.h"
#include "virtcore/backends.h"

static int vcore__arm64_probe(const vcore_host_t *host)
{
    (void)host;
    /* A host at EL1 or below cannot program stage 2; a VHE host would have
     * its own EL2 registers changed by the EL1 accesses of a world switch. */
    if (vcore__arm64_prim_current_el() != 2)
        return VCORE_ERR_NODEV;
    if (vcore__arm64_prim_read_hcr() & VCORE__HCR_E2H)
        return VCORE_ERR_NODEV;
    return VCORE_OK;
}

static int vcore__arm64_vm_init(vcore_vm_t *vm, void *priv)
{
    return vcore__arm64_vm_setup(priv, vm);
}

static void vcore__arm64_vm_fini(vcore_vm_t *vm, void *priv)
{
    (void)vm;
    vcore__arm64_vm_teardown(priv);
}

static int vcore__arm64_vm_map_op(vcore_vm_t *vm, void *priv, uint32_t slot, const vcore_mem_region_t *r)
{
    (void)vm;
    return vcore__arm64_vm_map(priv, slot, r);
}

static int vcore__arm64_vm_unmap_op(vcore_vm_t *vm, void *priv, uint32_t slot,
                                    const vcore_mem_region_t *r)
{
    (void)vm;
    return vcore__arm64_vm_unmap(priv, slot, r);
}

static int vcore__arm64_vcpu_init(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__arm64_vcpu_t *c = priv;
    c->vcpu = vcpu;
    c->vm = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    vcore__arm64_state_init(c, c->vm, vcore_vcpu_id(vcpu));
    return VCORE_OK;
}

static void vcore__arm64_vcpu_fini(vcore_vcpu_t *vcpu, void *priv)
{
    (void)vcpu;
    (void)priv;
}

static int vcore__arm64_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                  uint32_t groups)
{
    (void)vcpu;
    if (state->arch != VCORE_ARCH_ARM64)
        return VCORE_ERR_UNSUPPORTED;
    vcore__arm64_state_get(priv, state->u.arm64, groups);
    return VCORE_OK;
}

static int vcore__arm64_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                                  uint32_t groups)
{
    (void)vcpu;
    if (state->arch != VCORE_ARCH_ARM64)
        return VCORE_ERR_UNSUPPORTED;
    vcore__arm64_state_set(priv, state->u.arm64, groups);
    return VCORE_OK;
}

static int vcore__arm64_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    (void)vcpu;
    vcore__arm64_vcpu_t *c = priv;
    vcore__arm64_exit_complete(c, exit);
    /* Every VM uses one VMID (arm64_vm.c): a PE that last walked another
     * table may hold its translations under the same VMID. */
    bool other = vcore__arm64_prim_read_vttbr() != c->el2.vttbr;
    vcore__arm64_prim_el2_load(&c->el2);
    if (other)
        vcore__arm64_prim_tlbi_local();
    vcore__arm64_prim_el1_load(&c->el1);
    uint64_t kind = vcore__arm64_prim_enter(&c->g);
    vcore__arm64_prim_el1_save(&c->el1);
    return vcore__arm64_exit_decode(c, kind, exit);
}

const vcore_backend_t vcore__backend_arm64_ops = {
    .size = sizeof(vcore_backend_t),
    .abi_version = VCORE_BACKEND_ABI_VERSION,
    .arches = VCORE_BACKEND_ARCH_ARM64,
    .name = "arm64",
    .vm_priv_size = sizeof(vcore__arm64_vm_t),
    .vcpu_priv_size = sizeof(vcore__arm64_vcpu_t),
    .probe = vcore__arm64_probe,
    .vm_init = vcore__arm64_vm_init,
    .vm_fini = vcore__arm64_vm_fini,
    .vm_map = vcore__arm64_vm_map_op,
    .vm_unmap = vcore__arm64_vm_unmap_op,
    .vm_dirty_log = NULL,
    .vcpu_init = vcore__arm64_vcpu_init,
    .vcpu_fini = vcore__arm64_vcpu_fini,
    .vcpu_get_state = vcore__arm64_get_state,
    .vcpu_set_state = vcore__arm64_set_state,
    .vcpu_set_cpuid = NULL,
    .vcpu_run = vcore__arm64_run,
    .vcpu_kick = NULL,
    .state_groups = 0, /* every arm64 group */
    .features = 0,
};

const vcore_arm64_s2_t *vcore_arm64_el2_stage2(vcore_vm_t *vm)
{
    const vcore_backend_t *be = vcore_vm_backend(vm);
    /* By its run op: a caller may register a copy of the table. */
    if (!be || be->vcpu_run != vcore__arm64_run)
        return NULL;
    const vcore__arm64_vm_t *v = vcore_vm_backend_priv(vm);
    return v->s2;
}
