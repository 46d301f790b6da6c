/*
 * vmcs_ctl_shadow.c - write avoidance for the five major VMX control words.
 *
 * SDM Vol. 3, "VM-Execution Controls", "VM-Exit Controls", "VM-Entry
 * Controls". On processors that cache VMCS state, a VMWRITE to any of the
 * pin-based, primary or secondary processor-based, exit or entry controls
 * makes the next VM entry re-run every consistency check; a write of the
 * value the VMCS already holds is pure cost. Each hardware VMCS keeps a
 * shadow of the five words and backends ask here before writing one.
 */
#include "../../deps.h"
#include "virtcore/backend.h"
#include "virtcore/x86/vmcs.h"

/* Index of a major control word in the shadow; -1 for any other field. */
static int vcore__vmcs_ctl_index(uint32_t field)
{
    switch (field) {
    case VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL:
        return 0;
    case VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL:
        return 1;
    case VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL:
        return 2;
    case VCORE_VMCS_VM_EXIT_CONTROLS:
        return 3;
    case VCORE_VMCS_VM_ENTRY_CONTROLS:
        return 4;
    default:
        return -1;
    }
}

bool vcore_vmcs_ctl_shadow_write(vcore_vmcs_ctl_shadow_t *shadow, uint32_t field, uint64_t value)
{
    int i = vcore__vmcs_ctl_index(field);
    if (i < 0 || !shadow)
        return true;
    uint32_t bit = 1u << i;
    /* The control fields are 32 bits wide; VMWRITE takes the low half. */
    uint32_t v = (uint32_t)value;
    if ((shadow->valid & bit) && shadow->value[i] == v)
        return false;
    shadow->value[i] = v;
    shadow->valid |= bit;
    return true;
}

void vcore_vmcs_ctl_shadow_reset(vcore_vmcs_ctl_shadow_t *shadow)
{
    if (shadow)
        shadow->valid = 0;
}
