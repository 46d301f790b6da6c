/*
 * vcpu_nested_shadow.c - L0's hardware VMCS shadowing for L1 (SDM Vol. 3,
 * "VMCS Shadowing"; "VMREAD Bitmap and VMWRITE Bitmap").
 *
 * When the backend's processor offers VMCS shadowing and the backend can
 * link a shadow VMCS to vmcs01, L1's VMREAD of a shadowed field and its
 * VMWRITE of a read-write one access that shadow VMCS without a VM exit.
 * vmcs12 stays the library's copy of L1's current VMCS; the two are kept
 * equal at the points where either side reads the other's fields:
 *  - before L1 runs again after anything of the pipeline ran (an emulated
 *    instruction, an exit reflected from L2): the fields of vmcs12 the
 *    shadow VMCS does not already hold are written; only the fields the
 *    writers of vmcs12 marked stale are compared with the per-field record
 *    of what the shadow holds (nvmx_priv.h: hw_stale, hw_val);
 *  - before the emulation of an instruction that reads vmcs12 as a whole or
 *    writes it back (VMLAUNCH, VMRESUME, VMPTRLD, VMCLEAR, VMXOFF): the
 *    read-write set is read back from the shadow VMCS; a changed field is
 *    dirty like one written by an emulated VMWRITE.
 * Without a current vmcs12 "VMCS shadowing" is off in vmcs01: L1's VMREAD
 * and VMWRITE exit and the emulation gives VMfailInvalid.
 */
#include "vcpu_nested.h"

void vcore__vcpu_nested_shadow_setup(vcore_vcpu_t *vcpu, const vcore_nvmx_caps_t *hw)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    /* The processor's own capabilities decide what it can shadow; of that,
     * only the fields L1's processor has (a VMREAD/VMWRITE of another one
     * is VMfailValid 12, which the emulation gives). */
    nv->hw_mask = vcpu->vm->ops.vmcs_shadow_link
                      ? vcore__nvmx_shadow_mask(hw) & vcore__nvmx_shadow_l1_fields(&nv->caps)
                      : 0;
    nv->hw_known = 0;
    nv->hw_shadow = NULL;
    nv->hw_linked = false;
    nv->hw_bitmaps = false;
}

/* Backend errors as library errors (positive: the hardware refused). */
static int vcore__vcpu_nested_shadow_err(int err)
{
    return err > 0 ? VCORE_ERR_HWFAIL : err;
}

static int vcore__vcpu_nested_shadow_link(vcore_vcpu_t *vcpu, vcore_hw_vmcs_t *shadow, const uint8_t *rd,
                                          const uint8_t *wr)
{
    return vcore__vcpu_nested_shadow_err(vcpu->vm->ops.vmcs_shadow_link(vcpu, vcpu->priv, shadow, rd, wr));
}

/* The accessors of the shadow VMCS: made current on the first access. */
typedef struct vcore__nested_shadow_io {
    vcore_vcpu_t *vcpu;
    bool loaded;
} vcore__nested_shadow_io_t;

static int vcore__vcpu_nested_shadow_current(vcore__nested_shadow_io_t *io)
{
    if (io->loaded)
        return VCORE_OK;
    vcore_vcpu_t *vcpu = io->vcpu;
    int err = vcpu->vm->ops.vmcs_load(vcpu, vcpu->priv, vcpu->nvmx->hw_shadow);
    io->loaded = err == 0;
    return vcore__vcpu_nested_shadow_err(err);
}

static int vcore__vcpu_nested_shadow_wr(void *ctx, uint32_t field, uint64_t value)
{
    vcore__nested_shadow_io_t *io = ctx;
    int err = vcore__vcpu_nested_shadow_current(io);
    return err ? err : vcore__vcpu_nested_wr(io->vcpu, field, value);
}

/* The read-write set back from the shadow VMCS, in one batch: vmcs12 takes
 * the values only when every read succeeded (nothing is half-applied). */
int vcore__vcpu_nested_shadow_pull(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv->hw_linked)
        return VCORE_OK;
    /* The run loop syncs again before L1 runs (the emulation may change vmcs12). */
    nv->hw_sync = true;
    uint32_t buf[VCORE_NVMX_SHADOW_RW_COUNT], count = 0;
    uint64_t values[VCORE_NVMX_SHADOW_RW_COUNT];
    /* The whole read-write set (the processor shadows all of it) is the
     * table itself; a part of it is gathered into buf. */
    const uint64_t all = (1ull << VCORE_NVMX_SHADOW_RW_COUNT) - 1u;
    const uint32_t *fields = vcore__nvmx_shadow_rw_enc;
    count = VCORE_NVMX_SHADOW_RW_COUNT;
    if ((nv->hw_mask & all) != all)
        fields = vcore__nvmx_shadow_pull_fields(nv, buf, &count);
    int err = vcore__vcpu_nested_read_many(vcpu, nv->hw_shadow, fields, values, count);
    if (!err)
        vcore__nvmx_shadow_pull(nv, values);
    return err;
}

/* Turns shadowing on for the current vmcs12: the shadow VMCS exists, vmcs01
 * is linked to it and holds the bitmaps. */
static int vcore__vcpu_nested_shadow_on(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    int err;
    if (!nv->hw_shadow) {
        err = vcore__vcpu_nested_shadow_err(ops->vmcs_alloc(vcpu, vcpu->priv, true, &nv->hw_shadow));
        if (err) {
            nv->hw_shadow = NULL;
            return err;
        }
        nv->hw_known = 0; /* a new region's fields hold nothing known */
    }
    if (nv->hw_bitmaps)
        return vcore__vcpu_nested_shadow_link(vcpu, nv->hw_shadow, NULL, NULL);
    /* The bitmaps are built once, in two 4-KiB buffers that are free here:
     * scratch outside an instruction, shadow_vmcs12 while no VMCS of L1's
     * own shadowing is loaded (checked by the caller). The backend copies them. */
    uint8_t *rd = (uint8_t *)nv->scratch, *wr = (uint8_t *)nv->shadow_vmcs12;
    /* Exactly the fields hw_mask keeps in sync are shadowed. */
    vcore__nvmx_shadow_fill(nv->hw_mask, rd, wr);
    err = vcore__vcpu_nested_shadow_link(vcpu, nv->hw_shadow, rd, wr);
    vcore__memset(nv->scratch, 0, sizeof(nv->scratch));
    vcore__memset(nv->shadow_vmcs12, 0, sizeof(nv->shadow_vmcs12));
    if (!err)
        nv->hw_bitmaps = true;
    return err;
}

int vcore__vcpu_nested_shadow_before_l1(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    bool want = nv->vmx_operation && nv->current_vmptr != VCORE__INVALID_PTR && !nv->in_l2 &&
                !(nv->opts & VCORE_NVMX_OPT_NO_HW_SHADOW);
    int err;
    if (!want) {
        nv->hw_sync = false;
        if (!nv->hw_linked)
            return VCORE_OK;
        /* Switched off by the option with a vmcs12 current: L1's writes in
         * the shadow VMCS are its VMCS's contents. */
        if (nv->vmx_operation && nv->current_vmptr != VCORE__INVALID_PTR && !nv->in_l2) {
            err = vcore__vcpu_nested_shadow_pull(vcpu);
            nv->hw_sync = false;
            if (err)
                return err;
        }
        nv->hw_linked = false;
        return vcore__vcpu_nested_shadow_link(vcpu, NULL, NULL, NULL);
    }
    if (!nv->hw_linked) {
        /* The bitmap buffers are busy: L1's accesses keep exiting for now. */
        if (!nv->hw_bitmaps && nv->shadow_loaded)
            return VCORE_OK;
        err = vcore__vcpu_nested_shadow_on(vcpu);
        if (err)
            return err;
        nv->hw_linked = true;
        /* Unlinked, vmcs12 changed without marks (the emulated VMREAD/VMWRITE
         * fast path, an earlier current VMCS): every entry is compared. */
        vcore__nvmx_shadow_stale_all(nv);
    }
    nv->hw_sync = false;
    vcore__nested_shadow_io_t io = {vcpu, false};
    err = vcore__nvmx_shadow_push(nv, vcore__vcpu_nested_shadow_wr, &io);
    if (err)
        nv->hw_sync = true;
    /* backend.h: the run makes vmcs01 current again itself. */
    return err;
}

void vcore__vcpu_nested_shadow_teardown(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    /* vmcs01 must not name a VMCS that is freed. */
    if (nv->hw_linked)
        (void)vcpu->vm->ops.vmcs_shadow_link(vcpu, vcpu->priv, NULL, NULL, NULL);
    nv->hw_linked = false;
    if (nv->hw_shadow)
        vcpu->vm->ops.vmcs_free(vcpu, vcpu->priv, nv->hw_shadow);
    nv->hw_shadow = NULL;
    nv->hw_known = 0;
}
