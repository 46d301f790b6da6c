/*
 * vmx_field.c - access to VMCS fields: VMREAD and VMWRITE with the
 * backend's error convention, the control words through the VMCS's control
 * shadow, and vmcs01's guest fields through the known-value cache of the
 * VMCS object (a VMREAD only for a field whose value the backend does not
 * know, a VMWRITE only for one whose value changes). Every other file of
 * the backend reads and writes the VMCS through these.
 */
#include "vmx.h"

int vcore__vmx_field_write(uint32_t field, uint64_t value)
{
    vcore__vmx_rc_t rc = vcore__vmx_write(field, value);
    return rc.kind == VCORE__VMX_SUCCEED ? VCORE_OK : VCORE_ERR_HWFAIL;
}

int vcore__vmx_field_read(uint32_t field, uint64_t *value)
{
    vcore__vmx_rc_t rc = vcore__vmx_read(field, value);
    return rc.kind == VCORE__VMX_SUCCEED ? VCORE_OK : VCORE_ERR_HWFAIL;
}

int vcore__vmx_field_ctl(struct vcore_hw_vmcs *o, uint32_t field, uint32_t value)
{
    /* backend.h, vcore_vmcs_ctl_shadow_t: an unchanged control word is never rewritten. */
    if (!vcore_vmcs_ctl_shadow_write(&o->ctl, field, value))
        return VCORE_OK;
    int err = vcore__vmx_field_write(field, value);
    if (err)
        vcore_vmcs_ctl_shadow_reset(&o->ctl); /* the VMCS may hold the old value */
    return err;
}

const vcore__vmx_field_row_t vcore__vmx_fields[VCORE__VMX_NR_FIELDS] = {
#define VCORE__VMX_FIELD_ROW(name, enc, grp, vol, off, w, kind)                                     \
    {(enc), (grp), (uint16_t)(off), (w), VCORE__VMX_K_##kind},
    VCORE__VMX_FIELD_LIST(VCORE__VMX_FIELD_ROW)
#undef VCORE__VMX_FIELD_ROW
};

uint32_t vcore__vmx_field_index(uint32_t encoding)
{
    for (uint32_t i = 0; i < VCORE__VMX_NR_FIELDS; i++)
        if (vcore__vmx_fields[i].encoding == encoding)
            return i;
    return VCORE__VMX_NR_FIELDS;
}

int vcore__vmx_field_get(vcore__vmx_vcpu_t *c, uint32_t f, uint64_t *value)
{
    struct vcore_hw_vmcs *o = &c->vmcs01;
    uint64_t bit = 1ull << f;
    if (!(o->known & bit)) {
        int err = vcore__vmx_field_read(vcore__vmx_fields[f].encoding, &o->cache[f]);
        if (err)
            return err;
        o->known |= bit;
    }
    *value = o->cache[f];
    return VCORE_OK;
}

int vcore__vmx_field_put(vcore__vmx_vcpu_t *c, uint32_t f, uint64_t value)
{
    struct vcore_hw_vmcs *o = &c->vmcs01;
    uint64_t bit = 1ull << f;
    if ((o->known & bit) && o->cache[f] == value)
        return VCORE_OK;
    int err = vcore__vmx_field_write(vcore__vmx_fields[f].encoding, value);
    if (err) {
        o->known &= ~bit;
        return err;
    }
    o->cache[f] = value;
    o->known |= bit;
    return VCORE_OK;
}

