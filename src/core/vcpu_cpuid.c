/*
 * vcpu_cpuid.c - the CPUID set flow on a vCPU, made atomic.
 *
 * check -> update -> after-set run on a candidate copy (in the vCPU's
 * scratch table) and a candidate model; the backend sees the final table;
 * only when every step succeeded are table and model committed. A failure
 * at any step leaves the previous table and everything derived from it in
 * force (KVM documented its own flow as "may be corrupted" after a failure).
 */
#include "vcpu_x86.h"
#include "x86/hyperv/hv.h"

#include "x86/x86_bits.h"

uint32_t vcore__vcpu_vendor(const vcore_vcpu_t *vcpu)
{
    const vcore__x86_vcpu_t *x = vcpu->x86;
    return x->model.vendor != VCORE_X86_VENDOR_UNKNOWN ? x->model.vendor : x->cfg_vendor;
}

/* The state the runtime bits mirror: CR4.OSXSAVE/PKE, APIC_BASE.EN,
 * MISC_ENABLE.MONITOR and XCR0 (cpuid.c, vcore__cpuid_update_runtime()). */
#define VCORE__MIRRORED_CR4 (VCORE__CR4_OSXSAVE | VCORE__CR4_PKE)

void vcore__vcpu_cpuid_refresh(vcore_vcpu_t *vcpu)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore_x86_state_t *st = &x->st;
    if ((vcpu->valid & VCORE__RUNTIME_GROUPS) != VCORE__RUNTIME_GROUPS)
        return; /* not current: refreshed on the next read instead */
    uint64_t cr4 = st->sregs.cr4 & VCORE__MIRRORED_CR4;
    uint64_t apic = st->msrs.apic_base & VCORE_APIC_BASE_EN;
    uint64_t misc = st->msrs.misc_enable & VCORE_MISC_ENABLE_MWAIT;
    /* Nothing the table mirrors changed: no rescan. */
    if (x->mirrored_valid && cr4 == x->mirrored_cr4 && apic == x->mirrored_apic_base &&
        misc == x->mirrored_misc_enable && st->xcr0 == x->mirrored_xcr0)
        return;
    vcore__cpuid_update_runtime(x->cpuid, x->ncpuid, st);
    x->model.xsave_size_xcr0 = vcore__cpuid_xsave_size(x->cpuid, x->ncpuid, st->xcr0, false);
    x->mirrored_cr4 = cr4;
    x->mirrored_apic_base = apic;
    x->mirrored_misc_enable = misc;
    x->mirrored_xcr0 = st->xcr0;
    x->mirrored_valid = true;
}

/* Makes the runtime bits current with the guest's state (which may have
 * changed while it ran) before the table is read. */
static int vcore__vcpu_cpuid_current(vcore_vcpu_t *vcpu)
{
    int err = vcore__vcpu_sync_in(vcpu, VCORE__RUNTIME_GROUPS);
    if (err)
        return err;
    vcore__vcpu_cpuid_refresh(vcpu);
    return VCORE_OK;
}

/* Front half of every function here: an x86 vCPU. */
static int vcore__vcpu_cpuid_prepare(vcore_vcpu_t *vcpu)
{
    if (!vcore__vcpu_ok(vcpu))
        return VCORE_ERR_INVAL;
    return vcpu->x86 ? VCORE_OK : vcore__vcpu_wrong_arch(vcpu);
}

static bool vcore__cpuid_equal(const vcore_cpuid_entry_t *a, uint32_t na,
                               const vcore_cpuid_entry_t *b, uint32_t nb)
{
    return na == nb && (na == 0 || vcore__memcmp(a, b, na * sizeof(*a)) == 0);
}

int vcore_vcpu_set_cpuid(vcore_vcpu_t *vcpu, const vcore_cpuid_entry_t *entries, uint32_t nent)
{
    int err = vcore__vcpu_cpuid_prepare(vcpu);
    if (err)
        return err;
    if (!entries && nent)
        return VCORE_ERR_INVAL;
    vcore__x86_vcpu_t *x = vcpu->x86;
    if (nent > VCORE_CPUID_MAX_ENTRIES) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CPUID_TOO_MANY, nent);
        return VCORE_ERR_RANGE;
    }
    /* Copy once; only the copy is checked and used. */
    vcore_cpuid_entry_t *cand = x->cpuid_scratch;
    if (nent)
        vcore__memcpy(cand, entries, nent * sizeof(*cand));
    /* A Hyper-V VM: the library's hypervisor leaves replace the table's. */
    if (vcpu->vm->hv) {
        err = vcore__hv_cpuid_compose(vcpu, cand, &nent, VCORE_CPUID_MAX_ENTRIES);
        if (err)
            return err;
    }

    /* Phase 1: check. */
    err = vcore__cpuid_check(cand, nent, &vcpu->last_diag);
    if (err)
        return err;

    /* Phase 3 runs on the table as set, before the runtime bits are
     * mirrored into it: the model describes what the processor enumerates
     * (APIC present even while IA32_APIC_BASE.EN = 0; cpuid.h). Pure and
     * infallible, so computing it first changes nothing on failure. */
    vcore_x86_cpu_model_t model;
    err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    vcore__cpuid_after_set(cand, nent, x->cfg_vendor, x->st.xcr0, &model);

    /* Phase 2: update the runtime bits from the current state. */
    vcore__cpuid_update_runtime(cand, nent, &x->st);

    /* After the vCPU has run, the guest may have cached what it saw: only
     * the identical table is accepted (compared after the runtime update,
     * so mirrored bits never make a difference). */
    if (vcpu->has_run) {
        if (!vcore__cpuid_equal(cand, nent, x->cpuid, x->ncpuid)) {
            (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CPUID_CHANGED_AFTER_RUN, nent);
            return VCORE_ERR_STATE;
        }
        return VCORE_OK;
    }

    /* The backend gets the final table; if it refuses, nothing changes. */
    const vcore_backend_t *ops = &vcpu->vm->ops;
    if (ops->vcpu_set_cpuid) {
        err = ops->vcpu_set_cpuid(vcpu, vcpu->priv, cand, nent);
        if (err) {
            (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_CPUID_BACKEND_REFUSED,
                                  (uint64_t)(int64_t)err);
            return VCORE_ERR_HWFAIL;
        }
    }

    /* Commit. */
    if (nent)
        vcore__memcpy(x->cpuid, cand, nent * sizeof(*cand));
    x->ncpuid = nent;
    x->model = model;
    x->mirrored_valid = true; /* cand was mirrored from the current state just now */
    x->mirrored_cr4 = x->st.sregs.cr4 & VCORE__MIRRORED_CR4;
    x->mirrored_apic_base = x->st.msrs.apic_base & VCORE_APIC_BASE_EN;
    x->mirrored_misc_enable = x->st.msrs.misc_enable & VCORE_MISC_ENABLE_MWAIT;
    x->mirrored_xcr0 = x->st.xcr0;
    vcore__vcpu_nested_cpuid_changed(vcpu);
    return VCORE_OK;
}

int vcore_vcpu_get_cpuid(vcore_vcpu_t *vcpu, vcore_cpuid_entry_t *entries, uint32_t cap,
                         uint32_t *nent)
{
    int err = vcore__vcpu_cpuid_prepare(vcpu);
    if (err)
        return err;
    if (!nent || (!entries && cap))
        return VCORE_ERR_INVAL;
    err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    const vcore__x86_vcpu_t *x = vcpu->x86;
    *nent = x->ncpuid;
    if (cap < x->ncpuid)
        return VCORE_ERR_BUFSZ;
    if (x->ncpuid)
        vcore__memcpy(entries, x->cpuid, x->ncpuid * sizeof(*entries));
    return VCORE_OK;
}

int vcore_vcpu_cpuid_query(vcore_vcpu_t *vcpu, uint32_t function, uint32_t index,
                           vcore_cpuid_entry_t *out)
{
    int err = vcore__vcpu_cpuid_prepare(vcpu);
    if (err)
        return err;
    if (!out)
        return VCORE_ERR_INVAL;
    err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    const vcore__x86_vcpu_t *x = vcpu->x86;
    vcore__cpuid_query(x->cpuid, x->ncpuid, vcore__vcpu_vendor(vcpu), function, index, out);
    return VCORE_OK;
}

int vcore_vcpu_get_cpu_model(vcore_vcpu_t *vcpu, vcore_x86_cpu_model_t *model)
{
    int err = vcore__vcpu_cpuid_prepare(vcpu);
    if (err)
        return err;
    if (!model)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(model))
        return VCORE_ERR_ABI;
    err = vcore__vcpu_cpuid_current(vcpu);
    if (err)
        return err;
    *model = vcpu->x86->model;
    return VCORE_OK;
}
