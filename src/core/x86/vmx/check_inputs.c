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
#define CHECK_INPUT_FIELDS(X, e)                                                                   \
    X(GUEST_RIP, RIP, e) X(GUEST_RFLAGS, RFLAGS, e) X(GUEST_CR0, CR0, e) X(GUEST_CR3, CR3, e)      \
    X(GUEST_CR4, CR4, e) X(GUEST_IA32_EFER, EFER, e) X(GUEST_CS_AR_BYTES, CSSS, e)                 \
    X(GUEST_SS_AR_BYTES, CSSS, e) X(GUEST_INTERRUPTIBILITY_INFO, INTR, e)                          \
    X(GUEST_ACTIVITY_STATE, ACT, e) X(VM_ENTRY_INTR_INFO_FIELD, EVENT, e)                          \
    X(VM_ENTRY_EXCEPTION_ERROR_CODE, EVENT, e) X(VM_ENTRY_INSTRUCTION_LEN, EVENT, e)
/* Writable fields no rule reads: the exit controls' CR masks and shadows,
 * the exception bitmap and #PF filter, TSC offsetting, CR3-target values,
 * the preemption timer value, the guest's RSP and the host's RSP (SDM Vol.
 * 3, "VM Entries" states no check on any of them). */
#define CHECK_INPUT_NONE(X, e)                                                                     \
    X(GUEST_RSP, e) X(HOST_RSP, e) X(EXCEPTION_BITMAP, e) X(PAGE_FAULT_ERROR_CODE_MASK, e)          \
    X(PAGE_FAULT_ERROR_CODE_MATCH, e) X(CR0_GUEST_HOST_MASK, e) X(CR4_GUEST_HOST_MASK, e)           \
    X(CR0_READ_SHADOW, e) X(CR4_READ_SHADOW, e) X(CR3_TARGET_VALUE0, e) X(CR3_TARGET_VALUE1, e)     \
    X(CR3_TARGET_VALUE2, e) X(CR3_TARGET_VALUE3, e) X(TSC_OFFSET, e) X(TSC_MULTIPLIER, e)           \
    X(VMX_PREEMPTION_TIMER_VALUE, e)

/* The input bit of field encoding `e` as a constant expression (the
 * _HIGH half of a 64-bit field, encoding bit 0, is the field): VM-exit
 * information fields (type 1, encoding bits 11:10) are outputs of VM exits,
 * never inputs of VM entry; a named field has its bit, or none; any other
 * field is OTHER, which every rule reads: forgetting a field here makes
 * entries slower, never wrong. */
#define CHECK_IN_COND(name, bit, e) (((e) & ~1u) == (uint32_t)VCORE_VMCS_##name) ? (uint32_t)VCORE_VMX_IN_##bit:
#define CHECK_NONE_COND(name, e) (((e) & ~1u) == (uint32_t)VCORE_VMCS_##name) ? 0u:
#define CHECK_ENC_INPUT(e)                                                                         \
    ((((e) >> 10) & 3u) == (uint32_t)VCORE_VMCS_TYPE_RO_DATA                                       \
         ? 0u                                                                                      \
         : (CHECK_INPUT_FIELDS(CHECK_IN_COND, e) CHECK_INPUT_NONE(CHECK_NONE_COND, e)(uint32_t)     \
                VCORE_VMX_IN_OTHER))

/* Per row of the VMCS table (vmcs_layout.h order: a 64-bit field's _HIGH
 * row follows it), its input bit. */
#define CHECK_ROW_IN(name, enc) CHECK_ENC_INPUT((uint32_t)(enc)),
#define CHECK_ROW_IN2(name, enc) CHECK_ENC_INPUT((uint32_t)(enc)), CHECK_ENC_INPUT((uint32_t)(enc) | 1u),
static const uint32_t check_input_of_row[VCORE__VMCS_NROWS] = {
    VCORE_VMCS_FIELDS_16(CHECK_ROW_IN) VCORE_VMCS_FIELDS_64(CHECK_ROW_IN2) VCORE_VMCS_FIELDS_32(CHECK_ROW_IN)
        VCORE_VMCS_FIELDS_NATURAL(CHECK_ROW_IN)};
#undef CHECK_ROW_IN
#undef CHECK_ROW_IN2

/* The same rule as row bitmaps, 64 rows a word: [0] the rows whose input
 * is OTHER, [1] the rows with a bit of their own. A changed row in neither
 * (exit information, fields no rule reads) changes no input, so the
 * common change (RIP, RFLAGS, the interruptibility state) costs an AND
 * per word and a table read per named row. */
#define CHECK_WORDS ((VCORE__VMCS_NROWS + 63u) / 64u)
VCORE__STATIC_ASSERT(CHECK_WORDS <= 4u, check_inputs_four_words);
#define CHECK_ROW_BIT(row, e, w, other)                                                            \
    | (((row) / 64u == (w) && CHECK_ENC_INPUT(e) != 0u &&                                          \
        (CHECK_ENC_INPUT(e) == (uint32_t)VCORE_VMX_IN_OTHER) == (other))                           \
           ? 1ull << ((row) % 64u)                                                                 \
           : 0ull)
#define CHECK_MASK_ONE(name, enc) CHECK_ROW_BIT(VCORE__ROW_##name, (uint32_t)(enc), CHECK_W, CHECK_OTHER)
#define CHECK_MASK_TWO(name, enc)                                                                  \
    CHECK_ROW_BIT(VCORE__ROW_##name, (uint32_t)(enc), CHECK_W, CHECK_OTHER)                         \
    CHECK_ROW_BIT(VCORE__ROW_##name##_HIGH, (uint32_t)(enc) | 1u, CHECK_W, CHECK_OTHER)
#define CHECK_MASK_WORD                                                                            \
    (0ull VCORE_VMCS_FIELDS_16(CHECK_MASK_ONE) VCORE_VMCS_FIELDS_64(CHECK_MASK_TWO)                 \
         VCORE_VMCS_FIELDS_32(CHECK_MASK_ONE) VCORE_VMCS_FIELDS_NATURAL(CHECK_MASK_ONE))
static const uint64_t check_rows[2][4] = {
#define CHECK_OTHER 1
#define CHECK_W 0u
    {CHECK_MASK_WORD,
#undef CHECK_W
#define CHECK_W 1u
     CHECK_MASK_WORD,
#undef CHECK_W
#define CHECK_W 2u
     CHECK_MASK_WORD,
#undef CHECK_W
#define CHECK_W 3u
     CHECK_MASK_WORD},
#undef CHECK_W
#undef CHECK_OTHER
#define CHECK_OTHER 0
#define CHECK_W 0u
    {CHECK_MASK_WORD,
#undef CHECK_W
#define CHECK_W 1u
     CHECK_MASK_WORD,
#undef CHECK_W
#define CHECK_W 2u
     CHECK_MASK_WORD,
#undef CHECK_W
#define CHECK_W 3u
     CHECK_MASK_WORD},
#undef CHECK_W
#undef CHECK_OTHER
};

uint32_t vcore__vmx_check_field_input(uint32_t encoding)
{
    const vcore__vmcs_row_t *r = vcore__vmcs_row(encoding);

    return r ? check_input_of_row[r - vcore__vmcs_rows] : 0u;
}

uint32_t vcore__vmx_check_changed(const uint64_t *rows, uint32_t words)
{
    uint32_t in = VCORE_VMX_IN_ALWAYS;
    uint64_t other = 0;

    if (words > CHECK_WORDS)
        words = CHECK_WORDS;
    for (uint32_t w = 0; w < words; w++) {
        uint64_t r = rows[w];
        if (!r)
            continue;
        uint64_t named = r & check_rows[1][w];
        other |= r & check_rows[0][w];
        for (; named; named &= named - 1)
            in |= check_input_of_row[w * 64u + (uint32_t)__builtin_ctzll(named)];
    }
    return other ? in | VCORE_VMX_IN_OTHER : in;
}

/* Per rule: its inputs (VCORE__VMX_ROW_IN), in table order. */
static const uint32_t check_inputs_of_row[] = {
#define CHECK_ROW_IN(run, name, value, cls, sec, msg, in) VCORE__VMX_ROW_IN(run, in),
#define CHECK_SEC_ROWS(name, rows, run, b) rows(CHECK_ROW_IN, run)
    VCORE__VMX_SECTIONS(CHECK_SEC_ROWS, -)
#undef CHECK_SEC_ROWS
#undef CHECK_ROW_IN
};

uint32_t vcore__vmx_check_inputs(uint32_t id)
{
    int r = vcore__vmx_check_row(id);
    return r < 0 ? 0u : check_inputs_of_row[r];
}

uint32_t vcore__vmx_check_outside(const vcore__vmcs12_t *v)
{
    uint32_t proc = v->CPU_BASED_VM_EXEC_CONTROL;
    uint32_t proc2 = (proc & VCORE__PROC_SECONDARY) ? v->SECONDARY_VM_EXEC_CONTROL : 0u;
    uint32_t run = 0;

    if ((proc & VCORE__PROC_TPR_SHADOW) && !(proc2 & (VCORE__PROC2_APIC_ACCESS | VCORE__PROC2_VID)))
        run |= VCORE__VMX_RUN_VTPR;
    if (v->VMCS_LINK_POINTER != ~0ull)
        run |= VCORE__VMX_RUN_LINK;
    /* With EPT the PDPTEs are vmcs12 fields, but the condition reads guest
     * CR0 and CR4, which have bits of their own: due either way. */
    if ((v->GUEST_CR0 & VCORE__CR0_PG) && (v->GUEST_CR4 & VCORE__CR4_PAE) &&
        !(v->VM_ENTRY_CONTROLS & VCORE__ENTRY_IA32E))
        run |= VCORE__VMX_RUN_PDPTE;
    return run;
}
