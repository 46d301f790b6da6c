/*
 * check_inputs.c - which VM-entry rules a change of vmcs12 can affect.
 *
 * A rule whose inputs are unchanged since an entry that passed every rule
 * still passes (its verdict is a function of its inputs), so VM entry from
 * L1 runs only the rules whose inputs changed. The inputs of each rule are
 * the last column of the check table (vmx_check_list.h); this file only
 * says which VCORE_VMX_IN_* bit a vmcs12 field belongs to. A field it does
 * not name counts as VCORE_VMX_IN_OTHER, which every rule reads: forgetting
 * a field here makes entries slower, never wrong.
 */
#include "check_priv.h"

/* The often-written fields, by input bit (SDM Vol. 3, "Checks on Guest
 * RIP, RFLAGS, and SSP", "Checks on Guest Control Registers, Debug
 * Registers, and MSRs", "Checks on Guest Non-Register State", "VM-Entry
 * Controls for Event Injection"). */
#define CHECK_INPUT_FIELDS(X)                                                                      \
    X(GUEST_RIP, RIP) X(GUEST_RFLAGS, RFLAGS) X(GUEST_CR0, CR0) X(GUEST_CR3, CR3) X(GUEST_CR4, CR4) \
    X(GUEST_IA32_EFER, EFER) X(GUEST_CS_AR_BYTES, CSSS) X(GUEST_SS_AR_BYTES, CSSS)                  \
    X(GUEST_INTERRUPTIBILITY_INFO, INTR) X(GUEST_ACTIVITY_STATE, ACT)                               \
    X(VM_ENTRY_INTR_INFO_FIELD, EVENT) X(VM_ENTRY_EXCEPTION_ERROR_CODE, EVENT)                      \
    X(VM_ENTRY_INSTRUCTION_LEN, EVENT)
/* Writable fields no rule reads: the exit controls' CR masks and shadows,
 * the exception bitmap and #PF filter, TSC offsetting, CR3-target values,
 * the preemption timer value, the guest's RSP and the host's RSP (SDM Vol.
 * 3, "VM Entries" states no check on any of them). */
#define CHECK_INPUT_NONE(X)                                                                        \
    X(GUEST_RSP) X(HOST_RSP) X(EXCEPTION_BITMAP) X(PAGE_FAULT_ERROR_CODE_MASK)                      \
    X(PAGE_FAULT_ERROR_CODE_MATCH) X(CR0_GUEST_HOST_MASK) X(CR4_GUEST_HOST_MASK) X(CR0_READ_SHADOW) \
    X(CR4_READ_SHADOW) X(CR3_TARGET_VALUE0) X(CR3_TARGET_VALUE1) X(CR3_TARGET_VALUE2)               \
    X(CR3_TARGET_VALUE3) X(TSC_OFFSET) X(TSC_MULTIPLIER) X(VMX_PREEMPTION_TIMER_VALUE)

/* Bit 31 marks "read by no rule"; 0 (a field not named) is OTHER. */
#define CHECK_INPUT_NO_RULE (1u << 31)
#define CHECK_IN_SLOT(name, bit) [VCORE__VMCS_SLOT(VCORE_VMCS_##name)] = VCORE_VMX_IN_##bit,
#define CHECK_NONE_SLOT(name) [VCORE__VMCS_SLOT(VCORE_VMCS_##name)] = CHECK_INPUT_NO_RULE,
static const uint32_t check_input_of_slot[VCORE__VMCS_NSLOTS] = {
    CHECK_INPUT_FIELDS(CHECK_IN_SLOT) CHECK_INPUT_NONE(CHECK_NONE_SLOT)};
#undef CHECK_IN_SLOT
#undef CHECK_NONE_SLOT

/* The input bit of a table row's field. */
static uint32_t check_row_input(const vcore__vmcs_row_t *r)
{
    uint32_t in, enc;

    /* VM-exit information fields are outputs of VM exits, never inputs of
     * VM entry. */
    if (r->type == VCORE_VMCS_TYPE_RO_DATA)
        return 0;
    /* The _HIGH half of a 64-bit field is the field (encoding bit 0). */
    enc = r->encoding;
    if (r->flags & VCORE_VMCS_FIELD_F_HIGH)
        enc &= ~1u;
    in = check_input_of_slot[VCORE__VMCS_SLOT(enc)];
    if (in == 0)
        return VCORE_VMX_IN_OTHER;
    return in & ~CHECK_INPUT_NO_RULE;
}

uint32_t vcore__vmx_check_field_input(uint32_t encoding)
{
    const vcore__vmcs_row_t *r = vcore__vmcs_row(encoding);

    return r ? check_row_input(r) : 0u;
}

uint32_t vcore__vmx_check_changed(const uint64_t *rows, uint32_t words)
{
    uint32_t in = 0;

    for (uint32_t w = 0; w < words; w++) {
        uint64_t bits = rows[w];
        while (bits) {
            uint32_t id = w * 64u + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (id < VCORE__VMCS_NROWS)
                in |= check_row_input(&vcore__vmcs_rows[id]);
        }
    }
    return in | VCORE_VMX_IN_ALWAYS;
}

/* Per rule: its column with the implied OTHER. */
static const uint32_t check_inputs_of_row[] = {
#define CHECK_ROW_IN(name, value, cls, sec, msg, in) (uint32_t)(in) | VCORE_VMX_IN_OTHER,
    VCORE_VMX_CHECK_INPUT_LIST(CHECK_ROW_IN)
#undef CHECK_ROW_IN
};

uint32_t vcore__vmx_check_inputs(uint32_t id)
{
    int r = vcore__vmx_check_row(id);
    return r < 0 ? 0u : check_inputs_of_row[r];
}
