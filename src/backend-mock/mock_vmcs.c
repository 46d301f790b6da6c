/*
 * mock_vmcs.c - the mock's hardware VMCS objects: a strict in-memory store.
 *
 * It follows SDM Vol. 3, "VMCS Life Cycle": a VMCS is current or not, its
 * launch state is clear or launched; VMCLEAR makes it clear and, if it was
 * current, leaves no current VMCS; VMREAD/VMWRITE act on the current VMCS
 * ("VMREAD", "VMWRITE": unsupported components - including fields that
 * exist only with a control the mock's capabilities do not allow - and,
 * without "VMWRITE to any field", read-only ones are refused); VMLAUNCH needs a clear VMCS and
 * VMRESUME a launched one, neither may run a shadow VMCS ("VMLAUNCH/VMRESUME").
 * Anything else a caller attempts is a violation: the op fails and the
 * VMCS_VIOLATION counter says so. Each VMREAD and VMWRITE that reaches the
 * store is counted per field and per group.
 */
#include "mock_priv.h"

/* IA32_VMX_MISC bit 29: VMWRITE may write read-only (VM-exit information) fields. */
#define VCORE__MOCK_MISC_VMWRITE_ANY (1ull << 29)

static vcore__mock_vm_t *vcore__mock_vm_priv(vcore_vcpu_t *vcpu)
{
    return vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
}

int vcore__mock_vmx_caps(vcore_vm_t *vm, void *priv, vcore_nvmx_caps_t *out)
{
    (void)vm;
    const vcore__mock_vm_t *v = priv;
    if (out->size != sizeof(*out))
        return VCORE_ERR_ABI;
    if (v->have_caps) {
        *out = v->caps;
        return VCORE_OK;
    }
    return vcore_nvmx_caps_emulated(out);
}

void vcore__mock_vmcs_init(vcore__mock_vcpu_t *m)
{
    /* vmcs01: the vCPU's own VMCS, current, launch state clear. */
    m->vmcs[0].in_use = true;
    m->current = &m->vmcs[0];
}

/* A violation of the SDM's rules: counted, and the error returned. */
static int vcore__mock_violation(vcore__mock_vcpu_t *m, int err)
{
    m->counts[VCORE_MOCK_OP_VMCS_VIOLATION]++;
    return err;
}

/* The object a handle names, or NULL if it is not one of this vCPU's live VMCSs. */
static struct vcore_hw_vmcs *vcore__mock_vmcs_obj(vcore__mock_vcpu_t *m, vcore_hw_vmcs_t *vmcs)
{
    if (!vmcs)
        return &m->vmcs[0];
    for (uint32_t i = 0; i < VCORE__MOCK_NVMCS; i++)
        if (vmcs == &m->vmcs[i] && m->vmcs[i].in_use)
            return vmcs;
    return NULL;
}

int vcore__mock_vmcs_alloc(vcore_vcpu_t *vcpu, void *priv, bool shadow, vcore_hw_vmcs_t **out)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCS_ALLOC);
    if (err)
        return err;
    for (uint32_t i = 1; i < VCORE__MOCK_NVMCS; i++) {
        struct vcore_hw_vmcs *v = &m->vmcs[i];
        if (v->in_use)
            continue;
        vcore__memset(v, 0, sizeof(*v));
        v->in_use = true;
        v->shadow = shadow;
        *out = v;
        return VCORE_OK;
    }
    return VCORE_ERR_NOMEM;
}

void vcore__mock_vmcs_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    m->counts[VCORE_MOCK_OP_VMCS_FREE]++;
    struct vcore_hw_vmcs *v = vmcs ? vcore__mock_vmcs_obj(m, vmcs) : NULL;
    if (!v || v == &m->vmcs[0]) {
        (void)vcore__mock_violation(m, VCORE_ERR_INVAL); /* vmcs01 or a foreign pointer */
        return;
    }
    if (m->current == v)
        m->current = NULL;
    if (m->last_entered == v)
        m->last_entered = NULL;
    /* vmcs01's link pointer would name freed memory. */
    if (m->shadow_link == v) {
        (void)vcore__mock_violation(m, VCORE_ERR_STATE);
        m->shadow_link = NULL;
    }
    v->in_use = false;
}

int vcore__mock_vmcs_load(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCS_LOAD);
    if (err)
        return err;
    struct vcore_hw_vmcs *v = vcore__mock_vmcs_obj(m, vmcs);
    if (!v)
        return vcore__mock_violation(m, VCORE_ERR_INVAL);
    m->current = v;
    return VCORE_OK;
}

int vcore__mock_vmcs_clear(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCS_CLEAR);
    if (err)
        return err;
    struct vcore_hw_vmcs *v = vcore__mock_vmcs_obj(m, vmcs);
    if (!v)
        return vcore__mock_violation(m, VCORE_ERR_INVAL);
    v->launched = false;
    /* The processor's cached copy is written back; what software wrote
     * behind the shadow's back is no longer known. */
    vcore_vmcs_ctl_shadow_reset(&v->ctl);
    if (m->current == v)
        m->current = NULL;
    return VCORE_OK;
}

/* Whether the mock's processor has the field: a field that exists only
 * with a control the capabilities do not allow is an "unsupported VMCS
 * component" ("VMREAD", "VMWRITE": VMfailValid 12). */
static bool vcore__mock_vmcs_has(vcore_vcpu_t *vcpu, uint32_t field)
{
    vcore_nvmx_caps_t caps;
    caps.size = sizeof(caps);
    return vcore__mock_vmx_caps(vcore_vcpu_vm(vcpu), vcore__mock_vm_priv(vcpu), &caps) == VCORE_OK &&
           vcore_nvmx_caps_has_field(&caps, field);
}

/* Counter slot and group of a field. */
static void vcore__mock_vmcs_count(vcore__mock_vcpu_t *m, const vcore_vmcs_field_info_t *fi,
                                   uint32_t field, bool write)
{
    uint32_t slot = fi->offset / 2u;
    if (slot < VCORE__MOCK_FIELD_SLOTS) {
        if (write)
            m->field_writes[slot]++;
        else
            m->field_reads[slot]++;
    }
    uint32_t group = fi->type; /* vcore_vmcs_type_t: control, RO data, guest, host (0-3) */
    uint64_t *g = write ? m->group_writes : m->group_reads;
    if (group < VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS)
        g[group]++;
    if (field == VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL || field == VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL ||
        field == VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL || field == VCORE_VMCS_VM_EXIT_CONTROLS ||
        field == VCORE_VMCS_VM_ENTRY_CONTROLS)
        g[VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS]++;
    m->counts[write ? VCORE_MOCK_OP_VMCS_WRITE : VCORE_MOCK_OP_VMCS_READ]++;
    if (write)
        m->current->writes++;
    else
        m->current->reads++;
}

int vcore__mock_vmcs_read(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t *value)
{
    vcore__mock_vcpu_t *m = priv;
    vcore_vmcs_field_info_t fi;
    fi.size = sizeof(fi);
    if (!m->current)
        return vcore__mock_violation(m, VCORE_ERR_STATE); /* VMfailInvalid */
    if (vcore_vmcs_field_lookup(field, &fi) != VCORE_OK || !vcore__mock_vmcs_has(vcpu, field))
        return vcore__mock_violation(m, VCORE_ERR_NOENT); /* VMfailValid(12) */
    vcore__mock_vmcs_count(m, &fi, field, false);
    return vcore_vmcs12_get(m->current->page, field, value);
}

/* backend.h: a VMPTRLD, then one VMREAD per field, each counted as the
 * single ops count them (the processor's loop, not the library's). */
int vcore__mock_vmcs_read_many(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs, const uint32_t *fields,
                               uint64_t *values, uint32_t count)
{
    if (count && (!fields || !values))
        return vcore__mock_violation(priv, VCORE_ERR_INVAL);
    int err = vcore__mock_vmcs_load(vcpu, priv, vmcs);
    for (uint32_t i = 0; !err && i < count; i++)
        err = vcore__mock_vmcs_read(vcpu, priv, fields[i], &values[i]);
    return err;
}

int vcore__mock_vmcs_write(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t value)
{
    vcore__mock_vcpu_t *m = priv;
    vcore_vmcs_field_info_t fi;
    fi.size = sizeof(fi);
    if (!m->current)
        return vcore__mock_violation(m, VCORE_ERR_STATE); /* VMfailInvalid */
    if (vcore_vmcs_field_lookup(field, &fi) != VCORE_OK || !vcore__mock_vmcs_has(vcpu, field))
        return vcore__mock_violation(m, VCORE_ERR_NOENT); /* VMfailValid(12) */
    if (fi.type == VCORE_VMCS_TYPE_RO_DATA) {
        vcore_nvmx_caps_t caps;
        caps.size = sizeof(caps);
        if (vcore__mock_vmx_caps(vcore_vcpu_vm(vcpu), vcore__mock_vm_priv(vcpu), &caps) != VCORE_OK ||
            !(caps.msr[VCORE_NVMX_CAP_MISC] & VCORE__MOCK_MISC_VMWRITE_ANY))
            return vcore__mock_violation(m, VCORE_ERR_INVAL); /* VMfailValid(13) */
    }
    /* An injected failure (vcore_mock_fail_next): nothing is stored. */
    int fail = m->fail_next[VCORE_MOCK_OP_VMCS_WRITE];
    if (fail) {
        m->fail_next[VCORE_MOCK_OP_VMCS_WRITE] = 0;
        return fail;
    }
    /* A shadow VMCS is written by the guest's VMWRITEs too: every write goes out. */
    if (!m->no_ctl_shadow && !m->current->shadow && !vcore_vmcs_ctl_shadow_write(&m->current->ctl, field, value)) {
        m->counts[VCORE_MOCK_OP_VMCS_WRITE_SKIPPED]++;
        return VCORE_OK;
    }
    vcore__mock_vmcs_count(m, &fi, field, true);
    return vcore_vmcs12_set(m->current->page, field, value);
}

/* Stores a field the mock already knows to be supported (pushes are checked). */
static void vcore__mock_vmcs_put(struct vcore_hw_vmcs *v, uint32_t field, uint64_t value)
{
    if (vcore_vmcs12_set(v->page, field, value) != VCORE_OK)
        __builtin_trap(); /* unreachable: every encoding here was validated */
}

/* Stores a scripted exit's fields into the current VMCS (the processor's exit). */
static void vcore__mock_vmcs_store(struct vcore_hw_vmcs *v, const vcore_mock_vmcs_exit_t *ex)
{
    for (uint32_t i = 0; i < ex->nfields; i++)
        vcore__mock_vmcs_put(v, ex->fields[i].encoding, ex->fields[i].value);
}

int vcore__mock_vmcs_enter(vcore_vcpu_t *vcpu, void *priv, vcore_hw_entry_t *out)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCS_ENTER);
    if (err)
        return err;
    vcore__memset(out, 0, sizeof(*out));
    struct vcore_hw_vmcs *v = m->current;
    m->last_entered = v;
    /* "VMLAUNCH/VMRESUME": no current VMCS, or a shadow VMCS current: VMfailInvalid. */
    if (!v || v->shadow) {
        out->kind = VCORE_HW_ENTRY_FAIL_INVALID;
        return VCORE_OK;
    }
    out->launched = v->launched ? 0u : 1u;
    /* "Checks on VMX Controls": with "enable VPID" the VPID must not be
     * 0000H; the core never enters such a VMCS. */
    uint64_t proc = 0, proc2 = 0, vpid = 0;
    bool read = vcore_vmcs12_get(v->page, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, &proc) == VCORE_OK &&
                vcore_vmcs12_get(v->page, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, &proc2) == VCORE_OK &&
                vcore_vmcs12_get(v->page, VCORE_VMCS_VIRTUAL_PROCESSOR_ID, &vpid) == VCORE_OK;
    if (read && (proc & (1u << 31)) && (proc2 & (1u << 5)) && vpid == 0)
        (void)vcore__mock_violation(m, VCORE_ERR_STATE);
    if (m->vmcs_count == 0)
        return VCORE_ERR_UNSCRIPTED;
    const vcore_mock_vmcs_exit_t *ex = &m->vmcs_script[m->vmcs_head];
    m->vmcs_head = (m->vmcs_head + 1) % VCORE__MOCK_VMCS_SCRIPT;
    m->vmcs_count--;
    out->kind = ex->kind;
    if (ex->kind == VCORE_HW_ENTRY_FAIL_VALID) {
        out->vm_error = ex->vm_error;
        vcore__mock_vmcs_put(v, VCORE_VMCS_VM_INSTRUCTION_ERROR, ex->vm_error);
        return VCORE_OK;
    }
    if (ex->kind != VCORE_HW_ENTRY_EXIT)
        return VCORE_OK;
    out->exit_reason = ex->exit_reason;
    vcore__mock_vmcs_put(v, VCORE_VMCS_VM_EXIT_REASON, ex->exit_reason);
    vcore__mock_vmcs_store(v, ex);
    /* "VM-Entry Failures During or After Loading Guest State": a failed
     * entry (bit 31) leaves the launch state as it was; a real exit makes
     * the VMCS launched. */
    if (!(ex->exit_reason & (1u << 31)))
        v->launched = true;
    return VCORE_OK;
}

int vcore_mock_set_ctl_shadow(vcore_vcpu_t *vcpu, bool enabled)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m)
        return VCORE_ERR_INVAL;
    m->no_ctl_shadow = !enabled;
    /* What was written behind the shadow's back is not known to it. */
    for (uint32_t i = 0; i < VCORE__MOCK_NVMCS; i++)
        vcore_vmcs_ctl_shadow_reset(&m->vmcs[i].ctl);
    return VCORE_OK;
}

const struct vcore_hw_vmcs *vcore_mock_vmcs_last_entered(const vcore_vcpu_t *vcpu)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    return m ? m->last_entered : NULL;
}

/* IA32_VMX_PROCBASED_CTLS2 bit 46 (allowed-1 of control 14): VMCS shadowing. */
static bool vcore__mock_has_shadowing(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_caps_t caps;
    caps.size = sizeof(caps);
    return vcore__mock_vmx_caps(vcore_vcpu_vm(vcpu), vcore__mock_vm_priv(vcpu), &caps) == VCORE_OK &&
           (caps.msr[VCORE_NVMX_CAP_PROCBASED2] & VCORE_VMX_PROC2_SHADOW_VMCS);
}

int vcore__mock_vmcs_shadow_link(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *shadow,
                                 const uint8_t *vmread_bitmap, const uint8_t *vmwrite_bitmap)
{
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCS_SHADOW_LINK);
    if (err)
        return err;
    if (!shadow) {
        m->shadow_link = NULL;
        return VCORE_OK;
    }
    if (!vcore__mock_has_shadowing(vcpu))
        return VCORE_ERR_UNSUPPORTED;
    /* "Checks on Guest Non-Register State": with VMCS shadowing the link
     * pointer names a VMCS whose shadow-VMCS indicator is 1. */
    struct vcore_hw_vmcs *v = vcore__mock_vmcs_obj(m, shadow);
    if (!v || v == &m->vmcs[0] || !v->shadow)
        return vcore__mock_violation(m, VCORE_ERR_INVAL);
    /* Both bitmaps or neither; neither only once they are held. */
    if (!vmread_bitmap != !vmwrite_bitmap || (!vmread_bitmap && !m->have_bitmaps))
        return vcore__mock_violation(m, VCORE_ERR_STATE);
    if (vmread_bitmap) {
        vcore__memcpy(m->vmread_bitmap, vmread_bitmap, VCORE_NVMX_BITMAP_SIZE);
        vcore__memcpy(m->vmwrite_bitmap, vmwrite_bitmap, VCORE_NVMX_BITMAP_SIZE);
        m->have_bitmaps = true;
    }
    m->shadow_link = v;
    return VCORE_OK;
}

int vcore_mock_guest_vmx_access(vcore_vcpu_t *vcpu, bool write, uint64_t encoding, uint64_t *value, bool *exits)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !value || !exits)
        return VCORE_ERR_INVAL;
    /* "VMREAD"/"VMWRITE" in VMX non-root operation: the VM exit comes
     * first: shadowing off, bits 63:15 set, or the bitmap bit is 1. */
    const uint8_t *bm = write ? m->vmwrite_bitmap : m->vmread_bitmap;
    uint32_t low = (uint32_t)(encoding & 0x7fffu);
    *exits = !m->shadow_link || (encoding >> 15) || (((uint32_t)bm[low >> 3] >> (low & 7u)) & 1u);
    if (*exits)
        return VCORE_OK;
    vcore_vmcs_field_info_t fi;
    fi.size = sizeof(fi);
    if (vcore_vmcs_field_lookup((uint32_t)encoding, &fi) != VCORE_OK)
        return VCORE_ERR_NOENT; /* VMfailValid(12) */
    if (write && fi.type == VCORE_VMCS_TYPE_RO_DATA) {
        vcore_nvmx_caps_t caps;
        caps.size = sizeof(caps);
        if (vcore__mock_vmx_caps(vcore_vcpu_vm(vcpu), vcore__mock_vm_priv(vcpu), &caps) != VCORE_OK ||
            !(caps.msr[VCORE_NVMX_CAP_MISC] & VCORE__MOCK_MISC_VMWRITE_ANY))
            return VCORE_ERR_RANGE; /* VMfailValid(13) */
    }
    m->counts[VCORE_MOCK_OP_GUEST_VMCS_ACCESS]++;
    return write ? vcore_vmcs12_set(m->shadow_link->page, (uint32_t)encoding, *value)
                 : vcore_vmcs12_get(m->shadow_link->page, (uint32_t)encoding, value);
}

const struct vcore_hw_vmcs *vcore_mock_vmcs_shadow_linked(const vcore_vcpu_t *vcpu)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    return m ? m->shadow_link : NULL;
}

int vcore_mock_vmcs_access_count(const vcore_vcpu_t *vcpu, const struct vcore_hw_vmcs *vmcs, uint64_t *reads,
                                 uint64_t *writes)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m)
        return VCORE_ERR_INVAL;
    const struct vcore_hw_vmcs *v = vcore__mock_vmcs_obj(m, (vcore_hw_vmcs_t *)(uintptr_t)vmcs);
    if (!v)
        return VCORE_ERR_INVAL;
    if (reads)
        *reads = v->reads;
    if (writes)
        *writes = v->writes;
    return VCORE_OK;
}
