/*
 * vcpu_cpuid.c - the CPUID set flow on a vCPU, made atomic.
 *
 * check -> update -> after-set run on a candidate copy (in the vCPU's
 * scratch table) and a candidate model; the backend sees the final table;
 * only when every step succeeded are table and model committed. A failure
 * at any step leaves the previous table and everything derived from it in
 * force (KVM documented its own flow as "may be corrupted" after a failure).
 */
#include "object.h"
#include "x86/x86.h"

#define VCORE__RUNTIME_CLASSES (VCORE_X86_STATE_SREGS | VCORE_X86_STATE_MSRS | VCORE_X86_STATE_XCR0)

uint32_t vcore__vcpu_vendor(const vcore_vcpu_t *vcpu)
{
    return vcpu->model.vendor != VCORE_X86_VENDOR_UNKNOWN ? vcpu->model.vendor
                                                          : vcpu->cfg_vendor;
}

void vcore__vcpu_cpuid_refresh(vcore_vcpu_t *vcpu)
{
    if ((vcpu->valid & VCORE__RUNTIME_CLASSES) != VCORE__RUNTIME_CLASSES)
        return; /* not current: refreshed on the next read instead */
    vcore__cpuid_update_runtime(vcpu->cpuid, vcpu->ncpuid, &vcpu->st);
    vcpu->model.xsave_size_xcr0 =
        vcore__cpuid_xsave_size(vcpu->cpuid, vcpu->ncpuid, vcpu->st.xcr0, false);
}

/* Makes the runtime bits current with the guest's state (which may have
 * changed while it ran) before the table is read. */
static int vcore__vcpu_cpuid_current(vcore_vcpu_t *vcpu)
{
    int err = vcore__vcpu_sync_in(vcpu, VCORE__RUNTIME_CLASSES);
    if (err)
        return err;
    vcore__vcpu_cpuid_refresh(vcpu);
    return VCORE_OK;
}

static bool vcore__cpuid_equal(const vcore_cpuid_entry_t *a, uint32_t na,
                               const vcore_cpuid_entry_t *b, uint32_t nb)
{
    return na == nb && (na == 0 || vcore__memcmp(a, b, na * sizeof(*a)) == 0);
}

int vcore_vcpu_set_cpuid(vcore_vcpu_t *vcpu, const vcore_cpuid_entry_t *entries, uint32_t nent)
{
    if (!vcore__vcpu_ok(vcpu) || (!entries && nent))
        return VCORE_ERR_INVAL;
    if (nent > VCORE_CPUID_MAX_ENTRIES) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CPUID_TOO_MANY, nent);
        return VCORE_ERR_RANGE;
    }
    /* Copy once; only the copy is checked and used. */
    vcore_cpuid_entry_t *cand = vcpu->cpuid_scratch;
    if (nent)
        vcore__memcpy(cand, entries, nent * sizeof(*cand));

    /* Phase 1: check. */
    int err = vcore__cpuid_check(cand, nent, &vcpu->last_diag);
    if (err)
        return err;

    /* Phase 2: update the runtime bits from the current state. */
    err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    vcore__cpuid_update_runtime(cand, nent, &vcpu->st);

    /* After the vCPU has run, the guest may have cached what it saw: only
     * the identical table is accepted (compared after the runtime update,
     * so mirrored bits never make a difference). */
    if (vcpu->has_run) {
        if (!vcore__cpuid_equal(cand, nent, vcpu->cpuid, vcpu->ncpuid)) {
            (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CPUID_CHANGED_AFTER_RUN, nent);
            return VCORE_ERR_STATE;
        }
        return VCORE_OK;
    }

    /* Phase 3: derive the model (pure; cannot fail). */
    vcore_x86_cpu_model_t model;
    vcore__cpuid_after_set(cand, nent, vcpu->cfg_vendor, vcpu->st.xcr0, &model);

    /* The backend gets the final table; if it refuses, nothing changes. */
    const vcore_backend_t *be = vcpu->vm->be;
    if (be->vcpu_set_cpuid) {
        err = be->vcpu_set_cpuid(vcpu, vcpu->priv, cand, nent);
        if (err) {
            (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CPUID_BACKEND_REFUSED,
                                  (uint64_t)(int64_t)err);
            return VCORE_ERR_HWFAIL;
        }
    }

    /* Commit. */
    if (nent)
        vcore__memcpy(vcpu->cpuid, cand, nent * sizeof(*cand));
    vcpu->ncpuid = nent;
    vcpu->model = model;
    return VCORE_OK;
}

int vcore_vcpu_get_cpuid(vcore_vcpu_t *vcpu, vcore_cpuid_entry_t *entries, uint32_t cap,
                         uint32_t *nent)
{
    if (!vcore__vcpu_ok(vcpu) || !nent || (!entries && cap))
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    *nent = vcpu->ncpuid;
    if (cap < vcpu->ncpuid)
        return VCORE_ERR_BUFSZ;
    if (vcpu->ncpuid)
        vcore__memcpy(entries, vcpu->cpuid, vcpu->ncpuid * sizeof(*entries));
    return VCORE_OK;
}

int vcore_vcpu_cpuid_query(vcore_vcpu_t *vcpu, uint32_t function, uint32_t index,
                           vcore_cpuid_entry_t *out)
{
    if (!vcore__vcpu_ok(vcpu) || !out)
        return VCORE_ERR_INVAL;
    int err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    vcore__cpuid_query(vcpu->cpuid, vcpu->ncpuid, vcore__vcpu_vendor(vcpu), function, index, out);
    return VCORE_OK;
}

int vcore_vcpu_get_cpu_model(vcore_vcpu_t *vcpu, vcore_x86_cpu_model_t *model)
{
    if (!vcore__vcpu_ok(vcpu) || !model)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(model))
        return VCORE_ERR_ABI;
    int err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    *model = vcpu->model;
    return VCORE_OK;
}
