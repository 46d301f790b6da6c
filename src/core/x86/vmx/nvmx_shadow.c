/*
 * nvmx_shadow.c - VMCS shadowing: the hardware shadow-VMCS field sets the
 * library maintains for L1 (a read-write set and a read-frequently /
 * write-rarely set exposed for VMREAD only), their VMREAD/VMWRITE bitmaps
 * and sync functions; and L1's own use of VMCS shadowing (the VMCS link
 * pointer and the shadow-VMCS indicator, SDM Vol. 3, "VMCS Shadowing").
 */
#include "nvmx_priv.h"

/* One shadowed field with its vmcs12 offset resolved at compile time. */
typedef struct nvmx_shadow_field {
    uint16_t encoding;
    uint16_t offset;
    uint16_t row;  /* its row of the VMCS field table (VCORE__ROW_*) */
    uint8_t bytes;
    uint8_t high; /* the _HIGH encoding: only meaningful to a 32-bit L0 */
} nvmx_shadow_field_t;

/* The shadowed sets, one table: X(name) is a field by its vmcs.h name, H(name)
 * the _HIGH half of a 64-bit field. Never list a field the emulation itself
 * writes (VM_INSTRUCTION_ERROR): the copy in the hardware shadow VMCS would
 * go stale.
 *
 * Three rows by how L1 uses a field, each its own cost under L0's hardware
 * VMCS shadowing (SDM Vol. 3, "VMREAD Bitmap and VMWRITE Bitmap": a clear
 * bit lets the access run on the shadow VMCS without a VM exit):
 *  - NVMX_SHADOW_RW, written on (nearly) every exit L1 handles: VMREAD and
 *    VMWRITE do not exit, so L0 cannot know what L1 wrote and reads each
 *    one back before VMLAUNCH/VMRESUME (one VMREAD per field per entry);
 *  - NVMX_SHADOW_WR_RARE, read often and written rarely: VMREAD does not
 *    exit, VMWRITE exits and is emulated into vmcs12, so vmcs12 is always
 *    current and nothing is read back;
 *  - NVMX_SHADOW_RO, the exit information: VMREAD only.
 * The public read-only set (vcore_nvmx_shadow_fields(true)) is the last two
 * rows: VMREAD without exits, VMWRITE exits. */
#define NVMX_SHADOW_RW(X, H)                                                                     \
    X(GUEST_RIP) X(GUEST_RSP) X(GUEST_RFLAGS) X(GUEST_INTERRUPTIBILITY_INFO)                      \
    X(VM_ENTRY_INTR_INFO_FIELD) X(VM_ENTRY_EXCEPTION_ERROR_CODE) X(VM_ENTRY_INSTRUCTION_LEN)      \
    X(CPU_BASED_VM_EXEC_CONTROL) X(TPR_THRESHOLD) X(GUEST_INTR_STATUS)                            \
    X(VMX_PREEMPTION_TIMER_VALUE) X(HOST_RSP) X(HOST_RIP)
#define NVMX_SHADOW_WR_RARE(X, H)                                                                \
    X(GUEST_PML_INDEX) X(HOST_FS_SELECTOR) X(HOST_GS_SELECTOR) X(PIN_BASED_VM_EXEC_CONTROL)      \
    X(EXCEPTION_BITMAP) X(GUEST_CR0) X(GUEST_CR3) X(GUEST_CR4) X(CR0_GUEST_HOST_MASK)            \
    X(CR0_READ_SHADOW) X(CR4_READ_SHADOW) X(HOST_FS_BASE) X(HOST_GS_BASE)
#define NVMX_SHADOW_RO(X, H)                                                               \
    X(VM_EXIT_REASON) X(VM_EXIT_INTR_INFO) X(VM_EXIT_INSTRUCTION_LEN)                       \
    X(IDT_VECTORING_INFO_FIELD) X(IDT_VECTORING_ERROR_CODE) X(VM_EXIT_INTR_ERROR_CODE)      \
    X(EXIT_QUALIFICATION) X(GUEST_LINEAR_ADDRESS) X(GUEST_CS_AR_BYTES) X(GUEST_SS_AR_BYTES) \
    X(GUEST_PHYSICAL_ADDRESS) H(GUEST_PHYSICAL_ADDRESS)
/* The public read-only set: VMREAD without exits, VMWRITE exits. */
#define NVMX_SHADOW_READ_ONLY(X, H) NVMX_SHADOW_WR_RARE(X, H) NVMX_SHADOW_RO(X, H)
/* Fields L1 may VMWRITE (without shadowing, the emulation's fast path). */
#define NVMX_SHADOW_WRITABLE(X, H) NVMX_SHADOW_RW(X, H) NVMX_SHADOW_WR_RARE(X, H)

/* Field rows with their vmcs12 offsets resolved at compile time. */
#define SF(name) {VCORE_VMCS_##name, (uint16_t)offsetof(vcore__vmcs12_t, name), VCORE__ROW_##name, \
                  (uint8_t)sizeof(((vcore__vmcs12_t *)0)->name), 0},
#define SFH(name) {VCORE_VMCS_##name##_HIGH, (uint16_t)offsetof(vcore__vmcs12_t, name), VCORE__ROW_##name##_HIGH, 8, 1},
/* Both public sets as one sequence (read-write first): entry i is bit i of
 * the masks L0's VMCS shadowing keeps (nvmx_priv.h: hw_mask, hw_known). */
#define NVMX_SHADOW_N (VCORE_NVMX_SHADOW_RW_COUNT + VCORE_NVMX_SHADOW_RO_COUNT)
static const nvmx_shadow_field_t nvmx_shadow_all[NVMX_SHADOW_N] = {NVMX_SHADOW_RW(SF, SFH)
                                                                       NVMX_SHADOW_READ_ONLY(SF, SFH)};
#undef SF
#undef SFH

/* The same sequence as positions, and the row -> entry-bit table the
 * writers of vmcs12 mark stale entries with (nvmx_priv.h). */
#define SI(name) NVMX_SI_##name,
#define SIH(name) NVMX_SI_##name##_HIGH,
enum { NVMX_SHADOW_RW(SI, SIH) NVMX_SHADOW_READ_ONLY(SI, SIH) NVMX_SI_COUNT };
#undef SI
#undef SIH
VCORE__STATIC_ASSERT(NVMX_SI_COUNT == NVMX_SHADOW_N, shadow_positions);
#define RB(name) [VCORE__ROW_##name] = 1ull << NVMX_SI_##name,
#define RBH(name) [VCORE__ROW_##name##_HIGH] = (1ull << NVMX_SI_##name##_HIGH) | (1ull << NVMX_SI_##name),
const uint64_t vcore__nvmx_shadow_row_bit[VCORE__VMCS_NROWS] = {NVMX_SHADOW_RW(RB, RBH)
                                                                    NVMX_SHADOW_READ_ONLY(RB, RBH)};
#undef RB
#undef RBH

/* The fast path's entries: none first, the writable rows, then the exit
 * information (VMREAD only); the _HIGH halves take the ordinary path. Two
 * fields in one slot would be one index initialised twice, which
 * -Woverride-init (-Wextra) refuses. An entry refuses an operand (entry 0
 * every one; a read-only field a VMWRITE's) by naming the encoding of
 * a writable field with bit 63 set: that value's slot is the field's, so no
 * lookup with it reaches any other entry, and the field's entry names the
 * encoding without bit 63 in both directions. */
#define FI(name) NVMX_FI_##name,
#define FI_NONE(name)
enum { NVMX_FI_NONE, NVMX_SHADOW_WRITABLE(FI, FI_NONE) NVMX_SHADOW_RO(FI, FI_NONE) NVMX_FI_COUNT };
#undef FI
#define ONE(name) +1
enum { NVMX_FI_WRITABLE = 0 NVMX_SHADOW_WRITABLE(ONE, ONE) };
#undef ONE
/* GUEST_RIP: a writable field of the table (its entry number says so). */
VCORE__STATIC_ASSERT(NVMX_FI_GUEST_RIP >= 1 && (int)NVMX_FI_GUEST_RIP <= (int)NVMX_FI_WRITABLE, fast_refuse_writable);
#define NVMX_FAST_REFUSE ((1ull << 63) | VCORE_VMCS_GUEST_RIP)
#define FF(name, w)                                                                                    \
    {VCORE_VMCS_##name, (w) ? VCORE_VMCS_##name : NVMX_FAST_REFUSE,                                    \
     ~0ull >> (64u - 8u * (uint32_t)sizeof(((vcore__vmcs12_t *)0)->name)),                           \
     (w) ? 1ull << (NVMX_FI_##name - 1u) : 0u, 1ull << (VCORE__ROW_##name % 64u),                     \
     offsetof(vcore__vmcs12_t, name), (uint16_t)(VCORE__ROW_##name / 64u), {0u, 0u, 0u}},
#define FF_W(name) FF(name, 1)
#define FF_R(name) FF(name, 0)
#define FX(name) [VCORE__NVMX_FAST_SLOT(VCORE_VMCS_##name)] = NVMX_FI_##name * sizeof(vcore__nvmx_fast_field_t),
const vcore__nvmx_fast_table_t vcore__nvmx_fast = {
    {{NVMX_FAST_REFUSE, NVMX_FAST_REFUSE, 0, 0, 0, 0, 0, {0, 0, 0}},
     NVMX_SHADOW_WRITABLE(FF_W, FI_NONE) NVMX_SHADOW_RO(FF_R, FI_NONE)},
    {NVMX_SHADOW_WRITABLE(FX, FI_NONE) NVMX_SHADOW_RO(FX, FI_NONE)}};
#undef FF
#undef FF_W
#undef FF_R
#undef FX
#undef FI_NONE
#undef NVMX_FAST_REFUSE
VCORE__STATIC_ASSERT(NVMX_FI_COUNT <= VCORE__NVMX_FAST_NFIELDS, fast_fields_fit);
VCORE__STATIC_ASSERT(NVMX_FI_WRITABLE <= 64, fast_written_fits);
VCORE__STATIC_ASSERT(sizeof(vcore__nvmx_fast.field) <= 0xffffu, fast_index_fits);

/* The encodings alone, for vcore_nvmx_shadow_fields(). */
#define ENC(name) VCORE_VMCS_##name,
#define ENCH(name) VCORE_VMCS_##name##_HIGH,
const uint32_t vcore__nvmx_shadow_rw_enc[VCORE_NVMX_SHADOW_RW_COUNT] = {NVMX_SHADOW_RW(ENC, ENCH)};
static const uint32_t nvmx_shadow_ro_enc[VCORE_NVMX_SHADOW_RO_COUNT] = {NVMX_SHADOW_READ_ONLY(ENC, ENCH)};
#undef ENC
#undef ENCH

/* The counts in nvmx.h are part of the API: the table must fill them exactly. */
#define ONE(name) +1
VCORE__STATIC_ASSERT((0 NVMX_SHADOW_RW(ONE, ONE)) == VCORE_NVMX_SHADOW_RW_COUNT, shadow_rw_count);
VCORE__STATIC_ASSERT((0 NVMX_SHADOW_READ_ONLY(ONE, ONE)) == VCORE_NVMX_SHADOW_RO_COUNT, shadow_ro_count);
#undef ONE

const uint32_t *vcore_nvmx_shadow_fields(bool read_only, uint32_t *count)
{
    if (count)
        *count = read_only ? VCORE_NVMX_SHADOW_RO_COUNT : VCORE_NVMX_SHADOW_RW_COUNT;
    return read_only ? nvmx_shadow_ro_enc : vcore__nvmx_shadow_rw_enc;
}

static void nvmx_shadow_clear_bit(uint8_t *bm, uint32_t enc)
{
    /* Bitmap bit n corresponds to encoding bits 14:0 = n. */
    bm[(enc & 0x7fffu) >> 3] &= (uint8_t)~(1u << (enc & 7u));
}

static bool nvmx_shadow_bit(const uint8_t *bm, uint32_t enc)
{
    return ((uint32_t)bm[(enc & 0x7fffu) >> 3] >> (enc & 7u)) & 1u;
}

/* Can the backend's VMCS hold the field at all? */
static bool nvmx_shadow_backend_has(const vcore_nvmx_caps_t *b, uint32_t enc)
{
    switch (enc) {
    case VCORE_VMCS_GUEST_INTR_STATUS: /* virtual-interrupt delivery */
        return (b->msr[VCORE_NVMX_CAP_PROCBASED2] >> (32 + 9)) & 1u;
    case VCORE_VMCS_GUEST_PML_INDEX: /* enable PML */
        return (b->msr[VCORE_NVMX_CAP_PROCBASED2] >> (32 + 17)) & 1u;
    case VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE: /* activate VMX-preemption timer */
        return (b->msr[VCORE_NVMX_CAP_PINBASED] >> (32 + 6)) & 1u;
    default:
        return true;
    }
}

VCORE__STATIC_ASSERT(NVMX_SHADOW_N <= 64, shadow_mask_fits);

/* The index in nvmx_shadow_all of the first exit-information field. */
#define ONE(name) +1
enum { NVMX_SHADOW_FIRST_RO = 0 NVMX_SHADOW_WRITABLE(ONE, ONE) };
#undef ONE

uint64_t vcore__nvmx_shadow_mask(const vcore_nvmx_caps_t *hw)
{
    uint64_t m = 0;
    uint32_t i;

    /* SDM Vol. 3, "VMCS Shadowing": without the control no access is shadowed. */
    if (!(hw->msr[VCORE_NVMX_CAP_PROCBASED2] & VCORE_VMX_PROC2_SHADOW_VMCS))
        return 0;
    /* L0 fills the exit-information fields into the shadow VMCS with
     * VMWRITE, which needs "VMWRITE to any supported field" (IA32_VMX_MISC
     * bit 29); every other field is writable. */
    bool any = (hw->msr[VCORE_NVMX_CAP_MISC] & VCORE_VMX_MISC_VMWRITE_ANY) != 0;
    for (i = 0; i < NVMX_SHADOW_N; i++)
        if (nvmx_shadow_backend_has(hw, nvmx_shadow_all[i].encoding) && (any || i < (uint32_t)NVMX_SHADOW_FIRST_RO))
            m |= 1ull << i;
    return m;
}

uint64_t vcore__nvmx_shadow_l1_fields(const vcore_nvmx_caps_t *l1)
{
    uint64_t m = 0;
    uint32_t i;

    for (i = 0; i < NVMX_SHADOW_N; i++)
        if (vcore_nvmx_caps_has_field(l1, nvmx_shadow_all[i].encoding))
            m |= 1ull << i;
    return m;
}

void vcore__nvmx_shadow_fill(uint64_t m, uint8_t *vmread_bitmap, uint8_t *vmwrite_bitmap)
{
    uint32_t i;

    /* A set bit makes the access exit; every field not shadowed does. */
    vcore__memset(vmread_bitmap, 0xff, VCORE_NVMX_BITMAP_SIZE);
    vcore__memset(vmwrite_bitmap, 0xff, VCORE_NVMX_BITMAP_SIZE);
    for (i = 0; i < NVMX_SHADOW_N; i++) {
        if (!((m >> i) & 1u))
            continue;
        nvmx_shadow_clear_bit(vmread_bitmap, nvmx_shadow_all[i].encoding);
        if (i < VCORE_NVMX_SHADOW_RW_COUNT)
            nvmx_shadow_clear_bit(vmwrite_bitmap, nvmx_shadow_all[i].encoding);
    }
}

int vcore_nvmx_shadow_bitmaps(const vcore_nvmx_caps_t *backend, uint8_t *vmread_bitmap,
                              uint8_t *vmwrite_bitmap)
{
    if (!backend || !vmread_bitmap || !vmwrite_bitmap)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(backend))
        return VCORE_ERR_ABI;
    vcore__nvmx_shadow_fill(vcore__nvmx_shadow_mask(backend), vmread_bitmap, vmwrite_bitmap);
    return VCORE_OK;
}

/* A shadowed field's value in vmcs12: one 8-byte load masked to the
 * field's width, no branch (the push compares every shadowed field on each
 * exit to L1). vmcs12 is stored little-endian like the processors the
 * library runs on; the page extends past every field by 8 bytes. */
VCORE__STATIC_ASSERT(sizeof(vcore__vmcs12_t) + 8u <= VCORE_VMCS12_SIZE, shadow_load_in_page);
static const uint64_t nvmx_shadow_width[9] = {[2] = 0xffffull, [4] = 0xffffffffull, [8] = ~0ull};

static uint64_t nvmx_shadow_get(const uint8_t *page, const nvmx_shadow_field_t *f)
{
    uint64_t v;
    vcore__memcpy(&v, page + f->offset, 8);
    return v & nvmx_shadow_width[f->bytes];
}

int vcore__nvmx_shadow_push(vcore_nvmx_t *n, vcore_nvmx_vmwrite_fn fn, void *ctx)
{
    const uint8_t *page = (const uint8_t *)n->vmcs12;
    /* Only the entries vmcs12 may have changed since the shadow VMCS last
     * took them, and those whose content in the shadow VMCS is unknown. */
    uint64_t m = n->hw_mask & (n->hw_stale | ~n->hw_known);

    n->hw_stale = 0;
    for (; m; m &= m - 1) {
        uint32_t i = (uint32_t)__builtin_ctzll(m);
        const nvmx_shadow_field_t *f = &nvmx_shadow_all[i];
        uint64_t v;
        int err;
        /* A 64-bit L0 writes the full field; its _HIGH entry adds nothing. */
        if (f->high)
            continue;
        v = nvmx_shadow_get(page, f);
        if (((n->hw_known >> i) & 1u) && n->hw_val[i] == v)
            continue;
        err = fn(ctx, f->encoding, v);
        if (err) {
            n->hw_known &= ~(1ull << i); /* the shadow VMCS may hold either value */
            n->hw_stale |= m;            /* this entry and those not visited */
            return err;
        }
        n->hw_val[i] = v;
        n->hw_known |= 1ull << i;
    }
    return VCORE_OK;
}

const uint32_t *vcore__nvmx_shadow_pull_fields(const vcore_nvmx_t *n, uint32_t *buf, uint32_t *count)
{
    /* Only the read-write set: L1's VMWRITE of any other field exits. */
    const uint64_t all = (1ull << VCORE_NVMX_SHADOW_RW_COUNT) - 1u;
    uint64_t m = n->hw_mask & all;
    uint32_t k = 0;

    if (m == all) {
        *count = VCORE_NVMX_SHADOW_RW_COUNT;
        return vcore__nvmx_shadow_rw_enc;
    }
    /* A processor without a field's control (nvmx_shadow_backend_has). */
    for (; m; m &= m - 1)
        buf[k++] = vcore__nvmx_shadow_rw_enc[__builtin_ctzll(m)];
    *count = k;
    return buf;
}

/* One read-write entry: the value read from the shadow VMCS (the next of
 * values), masked to the field's width, against vmcs12's, both at
 * compile-time offsets; a change is stored and dirty like an emulated
 * VMWRITE. NVMX_PULL_ONE is the entry itself, NVMX_PULL the entry when the
 * processor shadows it (bit NVMX_SI_name of rw). */
#define NVMX_PULL_MASK(bytes) ((bytes) == 8u ? ~0ull : (1ull << (8u * (bytes))) - 1u)
#define NVMX_PULL_ONE(name)                                                                        \
    {                                                                                              \
        const uint32_t bytes = (uint32_t)sizeof(((vcore__vmcs12_t *)0)->name);                    \
        uint64_t x = *values++ & NVMX_PULL_MASK(bytes), old;                                       \
        vcore__memcpy(&old, page + offsetof(vcore__vmcs12_t, name), 8);                           \
        n->hw_val[NVMX_SI_##name] = x;                                                             \
        if (x != (old & NVMX_PULL_MASK(bytes))) {                                                  \
            vcore__vmcs12_put_bytes(page, offsetof(vcore__vmcs12_t, name), bytes, x);             \
            vcore__nvmx_mark_dirty(n, &vcore__vmcs_rows[VCORE__ROW_##name]);                       \
        }                                                                                          \
    }
#define NVMX_PULL(name)                                                                            \
    if ((rw >> NVMX_SI_##name) & 1u)                                                               \
        NVMX_PULL_ONE(name)
#define NVMX_PULL_HIGH(name) /* the read-write set has no _HIGH entry */

void vcore__nvmx_shadow_pull(vcore_nvmx_t *n, const uint64_t *values)
{
    uint8_t *page = (uint8_t *)n->vmcs12;
    const uint64_t all = (1ull << VCORE_NVMX_SHADOW_RW_COUNT) - 1u;
    const uint64_t rw = n->hw_mask & all;

    /* The processor shadows the whole read-write set (every one with VMCS
     * shadowing has its controls): no test per entry. */
    if (rw == all) {
        NVMX_SHADOW_RW(NVMX_PULL_ONE, NVMX_PULL_HIGH)
    } else {
        NVMX_SHADOW_RW(NVMX_PULL, NVMX_PULL_HIGH)
    }
    /* vmcs12 and the shadow VMCS now agree on every entry read. */
    n->hw_known |= rw;
    n->hw_stale &= ~rw;
}
#undef NVMX_PULL
#undef NVMX_PULL_ONE
#undef NVMX_PULL_HIGH
#undef NVMX_PULL_MASK

int vcore_nvmx_shadow_sync_to(const vcore_nvmx_t *nvmx, const uint8_t *bitmap_vmread,
                              vcore_nvmx_vmwrite_fn fn, void *ctx)
{
    const uint8_t *page;
    uint32_t i;
    int err;

    if (!vcore__nvmx_ok(nvmx) || !bitmap_vmread || !fn)
        return VCORE_ERR_INVAL;
    page = (const uint8_t *)nvmx->vmcs12;
    for (i = 0; i < VCORE_NVMX_SHADOW_RW_COUNT + VCORE_NVMX_SHADOW_RO_COUNT; i++) {
        const nvmx_shadow_field_t *f = &nvmx_shadow_all[i];
        /* A 64-bit L0 writes the full field; the _HIGH entry adds nothing. */
        if (f->high || nvmx_shadow_bit(bitmap_vmread, f->encoding))
            continue;
        err = fn(ctx, f->encoding, vcore__vmcs12_get_bytes(page, f->offset, f->bytes));
        if (err)
            return err;
    }
    return VCORE_OK;
}

int vcore_nvmx_shadow_sync_from(vcore_nvmx_t *nvmx, const uint8_t *bitmap_vmwrite,
                                vcore_nvmx_vmread_fn fn, void *ctx)
{
    uint8_t *page;
    uint64_t v;
    uint32_t i;
    int err;

    if (!vcore__nvmx_ok(nvmx) || !bitmap_vmwrite || !fn)
        return VCORE_ERR_INVAL;
    page = (uint8_t *)nvmx->vmcs12;
    /* The fields L1 may write (the bitmap decides which it wrote without
     * an exit); L1 cannot have changed the others. */
    for (i = 0; i < (uint32_t)NVMX_SHADOW_FIRST_RO; i++) {
        const nvmx_shadow_field_t *f = &nvmx_shadow_all[i];
        if (nvmx_shadow_bit(bitmap_vmwrite, f->encoding))
            continue;
        err = fn(ctx, f->encoding, &v);
        if (err)
            return err;
        if (v != vcore__vmcs12_get_bytes(page, f->offset, f->bytes)) {
            vcore__vmcs12_put_bytes(page, f->offset, f->bytes, v);
            vcore__nvmx_mark_dirty(nvmx, &vcore__vmcs_rows[f->row]);
        }
    }
    return VCORE_OK;
}

int vcore_nvmx_shadow_load(vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem)
{
    const vcore__vmcs12_t *v;
    const vcore__vmcs12_t *copy;
    uint64_t link;

    if (!vcore__nvmx_ok(nvmx) || !mem || !mem->read)
        return VCORE_ERR_INVAL;
    if (nvmx->current_vmptr == VCORE__INVALID_PTR)
        return VCORE_ERR_STATE;
    v = (const vcore__vmcs12_t *)(const void *)nvmx->vmcs12;
    link = v->VMCS_LINK_POINTER;
    /* SDM "Checks on Guest Non-Register State" (VMCS link pointer): 4-KByte
     * aligned, within the physical-address width, revision id of a shadow
     * VMCS with the shadow-VMCS indicator set when "VMCS shadowing" is 1. */
    if (link == VCORE__INVALID_PTR || (link & 0xfffu) || (link >> nvmx->maxphyaddr) ||
        link == nvmx->vmxon_ptr || link == nvmx->current_vmptr)
        return VCORE_ERR_INVAL;
    vcore__nvmx_phys_read(mem, link, nvmx->scratch, VCORE_VMCS12_SIZE);
    copy = (const vcore__vmcs12_t *)(const void *)nvmx->scratch;
    if ((copy->revision & 0x7fffffffu) != (nvmx->caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu) ||
        !(copy->revision & VCORE_VMCS12_SHADOW_BIT))
        return VCORE_ERR_INVAL;
    vcore__memcpy(nvmx->shadow_vmcs12, nvmx->scratch, VCORE_VMCS12_SIZE);
    nvmx->shadow_ptr = link;
    nvmx->shadow_loaded = true;
    nvmx->shadow_written = false;
    return VCORE_OK;
}

int vcore_nvmx_shadow_flush(vcore_nvmx_t *nvmx, const vcore_nvmx_mem_t *mem)
{
    if (!vcore__nvmx_ok(nvmx) || !mem || !mem->write)
        return VCORE_ERR_INVAL;
    if (!nvmx->shadow_loaded)
        return VCORE_ERR_STATE;
    if (mem->write(mem->ctx, nvmx->shadow_ptr, nvmx->shadow_vmcs12, VCORE_VMCS12_SIZE) != VCORE_OK)
        return VCORE_ERR_FAULT;
    return VCORE_OK;
}
