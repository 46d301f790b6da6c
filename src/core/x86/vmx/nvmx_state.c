/*
 * nvmx_state.c - lifecycle of the per-vCPU nested-VMX state and L1's view
 * of the capability MSRs.
 */
#include "nvmx_priv.h"
#include "../x86.h"

size_t vcore_nvmx_storage_size(void)
{
    return sizeof(struct vcore_nvmx);
}

int vcore_nvmx_init(void *mem, size_t len, const vcore_nvmx_config_t *cfg, vcore_nvmx_t **out,
                    vcore_diag_t *diag)
{
    vcore_nvmx_t *n;
    int err;

    if (!mem || !cfg || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(cfg) || !VCORE__SIZE_OK(&cfg->caps))
        return VCORE_ERR_ABI;
    if (((uintptr_t)mem & 7u) != 0 || (cfg->flags & ~(VCORE_NVMX_CFG_LA57 | VCORE_NVMX_CFG_NO_PAGE1GB)) != 0)
        return VCORE_ERR_INVAL;
    if (len < sizeof(struct vcore_nvmx))
        return VCORE_ERR_BUFSZ;
    /* SDM "Linear-Address Translation": MAXPHYADDR is at most 52. */
    if (cfg->maxphyaddr < 32 || cfg->maxphyaddr > 52)
        return VCORE_ERR_INVAL;
    err = vcore_nvmx_caps_check(&cfg->caps, diag);
    if (err != VCORE_OK)
        return err;
    n = (vcore_nvmx_t *)mem;
    vcore__memset(n, 0, sizeof(*n));
    n->size = sizeof(*n);
    n->magic = VCORE__NVMX_MAGIC;
    n->maxphyaddr = cfg->maxphyaddr;
    n->linear_bits = (cfg->flags & VCORE_NVMX_CFG_LA57) ? 57u : 48u;
    n->walk_1g = (cfg->flags & VCORE_NVMX_CFG_NO_PAGE1GB) ? VCORE__WALK_NO_1G : 0u;
    n->vmxon_ptr = VCORE__INVALID_PTR;
    n->current_vmptr = VCORE__INVALID_PTR;
    n->shadow_ptr = VCORE__INVALID_PTR;
    n->caps = cfg->caps;
    if (vcore__nvmx_shadow_l1_fields(&n->caps) != VCORE__NVMX_SHADOW_ALL)
        n->opts |= VCORE__NVMX_OPT_NO_FAST_FIELDS;
    /* Until the vCPU names its processor: the fields L1's capabilities imply. */
    vcore__nvmx_caps_allowed1(&cfg->caps, n->hw_allowed1);
    *out = n;
    return VCORE_OK;
}

void vcore__nvmx_leave(vcore_nvmx_t *n)
{
    /* Out of VMX operation: no VMXON pointer, no current or shadow VMCS, no
     * pending dirty state. The capabilities and MAXPHYADDR stay. */
    n->vmx_operation = false;
    n->shadow_loaded = false;
    n->shadow_written = false;
    n->vmxon_ptr = VCORE__INVALID_PTR;
    n->current_vmptr = VCORE__INVALID_PTR;
    n->shadow_ptr = VCORE__INVALID_PTR;
    vcore__memset(n->dirty, 0, sizeof(n->dirty));
    n->chk_passed = false;
    n->vpid12_last = 0; /* whatever vpid02 holds is flushed before it is used again */
    n->run_pending = false;
    n->mtf_pending = false;
    n->l2_halted = false;
    n->kvm_guest_mode = false;
    n->kvm_run_pending = false;
    n->kvm_mtf_pending = false;
    n->kvm_vmx_flags = 0;
    n->kvm_deadline = 0;
}

int vcore_nvmx_get_info(const vcore_nvmx_t *nvmx, vcore_nvmx_info_t *info)
{
    const vcore__vmcs12_t *v;

    if (!vcore__nvmx_ok(nvmx) || !info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    v = (const vcore__vmcs12_t *)(const void *)nvmx->vmcs12;
    info->vmx_operation = nvmx->vmx_operation;
    info->vmxon_ptr = nvmx->vmxon_ptr;
    info->current_vmptr = nvmx->current_vmptr;
    info->current_is_shadow = nvmx->current_vmptr != VCORE__INVALID_PTR &&
                              (v->revision & VCORE_VMCS12_SHADOW_BIT) != 0;
    info->launch_state = nvmx->current_vmptr != VCORE__INVALID_PTR ? v->launch_state : 0;
    return VCORE_OK;
}

const vcore_nvmx_caps_t *vcore_nvmx_caps(const vcore_nvmx_t *nvmx)
{
    return vcore__nvmx_ok(nvmx) ? &nvmx->caps : NULL;
}

int vcore_nvmx_rdmsr(const vcore_nvmx_t *nvmx, uint32_t index, uint64_t *value, vcore_diag_t *diag)
{
    if (!vcore__nvmx_ok(nvmx) || !value)
        return VCORE_ERR_INVAL;
    if (!vcore__nvmx_cap_msr(index))
        return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_MSR_UNKNOWN, index, VCORE_ERR_NOENT);
    /* SDM "VMX Capability Reporting Facility": the TRUE MSRs exist only
     * when IA32_VMX_BASIC[55] is 1; VMFUNC only with "activate secondary
     * controls" and "enable VM functions" allowed-1. RDMSR of an absent
     * MSR is #GP: report it as unknown. */
    if (index >= VCORE_MSR_IA32_VMX_BASIC + VCORE_NVMX_CAP_TRUE_PINBASED &&
        index <= VCORE_MSR_IA32_VMX_BASIC + VCORE_NVMX_CAP_TRUE_ENTRY &&
        !(nvmx->caps.msr[VCORE_NVMX_CAP_BASIC] & VCORE_VMX_BASIC_TRUE_CTLS))
        return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_MSR_UNKNOWN, index, VCORE_ERR_NOENT);
    *value = nvmx->caps.msr[index - VCORE_MSR_IA32_VMX_BASIC];
    return VCORE_OK;
}

int vcore_nvmx_wrmsr(const vcore_nvmx_t *nvmx, uint32_t index, uint64_t value, vcore_diag_t *diag)
{
    (void)value;
    if (!vcore__nvmx_ok(nvmx))
        return VCORE_ERR_INVAL;
    if (!vcore__nvmx_cap_msr(index))
        return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_MSR_UNKNOWN, index, VCORE_ERR_NOENT);
    /* The capability MSRs are read-only: WRMSR raises #GP(0). */
    return vcore__nvmx_diag(diag, VCORE_DIAG_NVMX_MSR_READ_ONLY, index, VCORE_ERR_INVAL);
}

const void *vcore_nvmx_vmcs12(const vcore_nvmx_t *nvmx)
{
    return vcore__nvmx_ok(nvmx) ? (const void *)nvmx->vmcs12 : NULL;
}
