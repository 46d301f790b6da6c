/*
 * vmcs_table.c - the VMCS field table and its O(1) lookup.
 *
 * Everything here is generated at compile time from the field lists of
 * vmcs.h (SDM Vol. 3, "Field Encoding in VMCS"): one metadata row per
 * encoding (a 64-bit field has a second row for its _HIGH encoding), and a
 * dense slot array indexed by the encoding bits themselves, so VMREAD and
 * VMWRITE never search.
 */
#include "vmcs_layout.h"

#include "virtcore/error.h"

/* Compile-time assertion usable at file scope in C99. */
#define VCORE__VMCS_ASSERT(name, cond) VCORE__STATIC_ASSERT(cond, vmcs_##name)

/* KVM's struct vmcs12 offsets (its own CHECK_OFFSET list pins them): if
 * any of these moves, nested-state blobs are no longer interchangeable. */
VCORE__VMCS_ASSERT(io_bitmap_a, offsetof(vcore__vmcs12_t, IO_BITMAP_A) == 40);
VCORE__VMCS_ASSERT(tsc_multiplier, offsetof(vcore__vmcs12_t, TSC_MULTIPLIER) == 328);
VCORE__VMCS_ASSERT(cr0_mask, offsetof(vcore__vmcs12_t, CR0_GUEST_HOST_MASK) == 344);
VCORE__VMCS_ASSERT(exit_qual, offsetof(vcore__vmcs12_t, EXIT_QUALIFICATION) == 408);
VCORE__VMCS_ASSERT(host_rip, offsetof(vcore__vmcs12_t, HOST_RIP) == 672);
VCORE__VMCS_ASSERT(pin_based, offsetof(vcore__vmcs12_t, PIN_BASED_VM_EXEC_CONTROL) == 744);
VCORE__VMCS_ASSERT(preempt, offsetof(vcore__vmcs12_t, VMX_PREEMPTION_TIMER_VALUE) == 928);
VCORE__VMCS_ASSERT(vpid, offsetof(vcore__vmcs12_t, VIRTUAL_PROCESSOR_ID) == 960);
VCORE__VMCS_ASSERT(pml_index, offsetof(vcore__vmcs12_t, GUEST_PML_INDEX) == 996);
VCORE__VMCS_ASSERT(ext, offsetof(vcore__vmcs12_t, EXECUTIVE_VMCS_POINTER) == VCORE_VMCS12_EXT_OFFSET);
VCORE__VMCS_ASSERT(fits, sizeof(vcore__vmcs12_t) <= VCORE_VMCS12_SIZE);

VCORE__VMCS_ASSERT(rows, VCORE__ROW_COUNT == VCORE__VMCS_NROWS);

/* The guest access-rights fields: writes drop the reserved bits. */
#define VCORE__IS_AR(enc) ((enc) >= 0x4814u && (enc) <= 0x4822u)
#define VCORE__FLAGS(name, enc)                                                \
    (uint8_t)(((((enc) >> 10) & 3u) == VCORE_VMCS_TYPE_RO_DATA ? VCORE_VMCS_FIELD_F_READ_ONLY : 0u) | \
              (VCORE__IS_AR(enc) ? VCORE_VMCS_FIELD_F_AR : 0u) |               \
              (offsetof(vcore__vmcs12_t, name) < VCORE_VMCS12_KVM_END ? VCORE_VMCS_FIELD_F_KVM : 0u))
#define VCORE__ROW(name, enc)                                                  \
    {#name, (uint16_t)(enc), (uint16_t)offsetof(vcore__vmcs12_t, name),        \
     (uint8_t)(((enc) >> 13) & 3u), (uint8_t)(((enc) >> 10) & 3u), VCORE__FLAGS(name, enc), \
     (uint8_t)sizeof(((vcore__vmcs12_t *)0)->name)},
#define VCORE__ROW2(name, enc)                                                 \
    VCORE__ROW(name, enc)                                                      \
    {#name "_HIGH", (uint16_t)((enc) + 1), (uint16_t)offsetof(vcore__vmcs12_t, name), \
     (uint8_t)(((enc) >> 13) & 3u), (uint8_t)(((enc) >> 10) & 3u),             \
     (uint8_t)(VCORE__FLAGS(name, enc) | VCORE_VMCS_FIELD_F_HIGH),             \
     (uint8_t)sizeof(((vcore__vmcs12_t *)0)->name)},

const vcore__vmcs_row_t vcore__vmcs_rows[VCORE__ROW_COUNT] = {
    VCORE_VMCS_FIELDS_16(VCORE__ROW)
    VCORE_VMCS_FIELDS_64(VCORE__ROW2)
    VCORE_VMCS_FIELDS_32(VCORE__ROW)
    VCORE_VMCS_FIELDS_NATURAL(VCORE__ROW)
};

/* Slot -> row id + 1 (0 = no field). A duplicate encoding in the lists is a
 * duplicate designator here, which -Woverride-init (-Wextra) reports. */
#define VCORE__SLOT(name, enc) [VCORE__VMCS_SLOT(enc)] = VCORE__ROW_##name + 1,
#define VCORE__SLOT2(name, enc)                                                \
    VCORE__SLOT(name, enc)[VCORE__VMCS_SLOT((enc) + 1)] = VCORE__ROW_##name##_HIGH + 1,
const uint16_t vcore__vmcs_slots[VCORE__VMCS_NSLOTS] = {
    VCORE_VMCS_FIELDS_16(VCORE__SLOT)
    VCORE_VMCS_FIELDS_64(VCORE__SLOT2)
    VCORE_VMCS_FIELDS_32(VCORE__SLOT)
    VCORE_VMCS_FIELDS_NATURAL(VCORE__SLOT)
};

/* The guard column: which control's support makes a field exist. */
#define VCORE__GUARD64(name, g) [VCORE__ROW_##name] = (g), [VCORE__ROW_##name##_HIGH] = (g),
#define VCORE__GUARD1(name, g) [VCORE__ROW_##name] = (g),
const uint32_t vcore__vmcs_guards[VCORE__ROW_COUNT] = {
    VCORE__VMCS_GUARDS_64(VCORE__GUARD64)
    VCORE__VMCS_GUARDS_1(VCORE__GUARD1)
};
#undef VCORE__GUARD64
#undef VCORE__GUARD1

/* Every listed encoding must fit the dense index (bits 9:1 below 64). */
#define VCORE__IDX_OK(name, enc) && ((((enc) >> 1) & 0x1ffu) < (1u << VCORE__VMCS_SLOT_INDEX_BITS))
VCORE__VMCS_ASSERT(index_bits, 1 VCORE_VMCS_FIELD_LIST(VCORE__IDX_OK));

const vcore__vmcs_row_t *vcore__vmcs_row(uint32_t encoding)
{
    uint32_t slot;
    uint16_t id;

    /* SDM "Field Encoding in VMCS": bit 12 and bits 31:15 are reserved. */
    if (encoding & VCORE_VMCS_ENC_RESERVED)
        return NULL;
    if (((encoding >> VCORE_VMCS_ENC_INDEX_SHIFT) & VCORE_VMCS_ENC_INDEX_MASK) >=
        (1u << VCORE__VMCS_SLOT_INDEX_BITS))
        return NULL;
    slot = VCORE__VMCS_SLOT(encoding);
    if (slot >= VCORE__VMCS_NSLOTS)
        return NULL;
    id = vcore__vmcs_slots[slot];
    if (id == 0 || id > VCORE__ROW_COUNT)
        return NULL;
    return &vcore__vmcs_rows[id - 1u];
}

uint64_t vcore__vmcs12_get_bytes(const uint8_t *page, uint32_t offset, uint32_t bytes)
{
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;

    /* Byte copies: the page is plain memory, never a typed object. */
    switch (bytes) {
    case 2:
        vcore__memcpy(&v16, page + offset, 2);
        return v16;
    case 4:
        vcore__memcpy(&v32, page + offset, 4);
        return v32;
    default:
        vcore__memcpy(&v64, page + offset, 8);
        return v64;
    }
}

void vcore__vmcs12_put_bytes(uint8_t *page, uint32_t offset, uint32_t bytes, uint64_t value)
{
    uint16_t v16 = (uint16_t)value;
    uint32_t v32 = (uint32_t)value;

    switch (bytes) {
    case 2:
        vcore__memcpy(page + offset, &v16, 2);
        break;
    case 4:
        vcore__memcpy(page + offset, &v32, 4);
        break;
    default:
        vcore__memcpy(page + offset, &value, 8);
        break;
    }
}

uint64_t vcore__vmcs12_load(const uint8_t *page, const vcore__vmcs_row_t *r)
{
    uint64_t v = vcore__vmcs12_get_bytes(page, r->offset, r->bytes);
    return (r->bytes == 8 && (r->flags & VCORE_VMCS_FIELD_F_HIGH)) ? (v >> 32) : v;
}

void vcore__vmcs12_store(uint8_t *page, const vcore__vmcs_row_t *r, uint64_t value)
{
    if (r->bytes == 4 && (r->flags & VCORE_VMCS_FIELD_F_AR))
        value &= VCORE__VMCS_AR_KEEP;
    else if (r->bytes == 8 && (r->flags & VCORE_VMCS_FIELD_F_HIGH))
        /* A _HIGH access replaces bits 63:32 and keeps bits 31:0. */
        value = (vcore__vmcs12_get_bytes(page, r->offset, 8) & 0xffffffffull) | (value << 32);
    vcore__vmcs12_put_bytes(page, r->offset, r->bytes, value);
}

static void vmcs_table_fill(const vcore__vmcs_row_t *r, vcore_vmcs_field_info_t *info)
{
    info->encoding = r->encoding;
    info->name = r->name;
    info->width = r->width;
    info->type = r->type;
    info->flags = r->flags;
    info->offset = r->offset;
    info->bytes = r->bytes;
}

uint32_t vcore_vmcs_field_count(void)
{
    return VCORE__ROW_COUNT;
}

int vcore_vmcs_field_at(uint32_t i, vcore_vmcs_field_info_t *info)
{
    if (!info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    if (i >= VCORE__ROW_COUNT)
        return VCORE_ERR_RANGE;
    vmcs_table_fill(&vcore__vmcs_rows[i], info);
    return VCORE_OK;
}

int vcore_vmcs_field_lookup(uint32_t encoding, vcore_vmcs_field_info_t *info)
{
    const vcore__vmcs_row_t *r;

    if (!info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    r = vcore__vmcs_row(encoding);
    if (!r)
        return VCORE_ERR_NOENT;
    vmcs_table_fill(r, info);
    return VCORE_OK;
}

const char *vcore_vmcs_field_name(uint32_t encoding)
{
    const vcore__vmcs_row_t *r = vcore__vmcs_row(encoding);
    return r ? r->name : NULL;
}

/* strcmp without libc (the core is freestanding). */
static bool vmcs_table_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

int vcore_vmcs_field_by_name(const char *name, uint32_t *encoding)
{
    uint32_t i;

    if (!name || !encoding)
        return VCORE_ERR_INVAL;
    /* Names are for tools, not the hot path: a scan is fine here. */
    for (i = 0; i < VCORE__ROW_COUNT; i++) {
        if (vmcs_table_streq(vcore__vmcs_rows[i].name, name)) {
            *encoding = vcore__vmcs_rows[i].encoding;
            return VCORE_OK;
        }
    }
    return VCORE_ERR_NOENT;
}

uint32_t vcore_vmcs_enum_max_index(void)
{
    uint32_t i, idx, max = 0;

    for (i = 0; i < VCORE__ROW_COUNT; i++) {
        idx = ((uint32_t)vcore__vmcs_rows[i].encoding >> VCORE_VMCS_ENC_INDEX_SHIFT) &
              VCORE_VMCS_ENC_INDEX_MASK;
        if (idx > max)
            max = idx;
    }
    return max;
}

int vcore_vmcs12_get(const void *page, uint32_t encoding, uint64_t *value)
{
    const vcore__vmcs_row_t *r;

    if (!page || !value)
        return VCORE_ERR_INVAL;
    r = vcore__vmcs_row(encoding);
    if (!r)
        return VCORE_ERR_NOENT;
    *value = vcore__vmcs12_load((const uint8_t *)page, r);
    return VCORE_OK;
}

int vcore_vmcs12_set(void *page, uint32_t encoding, uint64_t value)
{
    const vcore__vmcs_row_t *r;

    if (!page)
        return VCORE_ERR_INVAL;
    r = vcore__vmcs_row(encoding);
    if (!r)
        return VCORE_ERR_NOENT;
    vcore__vmcs12_store((uint8_t *)page, r, value);
    return VCORE_OK;
}
