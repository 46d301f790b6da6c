/*
 * vcheck_vmx_state.c - the keys of VMX state and capability files, the
 * built-in CPU profiles, and the snapshot they give vcore_vmx_check_entry()
 * (see vcheck_vmx_state.h). Pure: the fuzz_vmx_state fuzzer links it.
 */
#include "vcheck_vmx_state.h"

#include <stdlib.h>
#include <string.h>

/* ---- built-in CPU profiles -------------------------------------------------- */

typedef struct vcheck_vmx_state_profile {
    const char *name;
    uint32_t maxphyaddr;
    uint64_t msr[VCORE_NVMX_NR_CAPS]; /* MSRs 480H-491H */
} vcheck_vmx_state_profile_t;

/* MSRs 480H-491H and MAXPHYADDR (CPUID.80000008H:EAX[7:0]) as RDMSR and
 * CPUID report them inside Bochs 2.7: the VMX system-test kernel prints
 * them ("CAPS" line of the differential run, tests/system). */
static const vcheck_vmx_state_profile_t vcheck_vmx_state_profiles[] = {
    {"corei7_skylake_x", 40,
     {
         0x00d810000000002bull, /* 480H BASIC: revision 2BH, 4 KiB region, WB, INS/OUTS info, TRUE controls */
         0x0000007f00000016ull, /* 481H PINBASED_CTLS */
         0xf7f9fffe0401e172ull, /* 482H PROCBASED_CTLS */
         0x007fffff00036dffull, /* 483H EXIT_CTLS */
         0x0000ffff000011ffull, /* 484H ENTRY_CTLS */
         0x00000000600401e0ull, /* 485H MISC: HLT/shutdown/wait-for-SIPI, 4 CR3 targets, 512 MSRs */
         0x0000000080000021ull, /* 486H CR0_FIXED0: PG NE PE */
         0x00000000ffffffffull, /* 487H CR0_FIXED1 */
         0x0000000000002000ull, /* 488H CR4_FIXED0: VMXE */
         0x00000000003727ffull, /* 489H CR4_FIXED1 */
         0x0000000000000034ull, /* 48AH VMCS_ENUM: highest index 1AH */
         0x02177fff00000000ull, /* 48BH PROCBASED_CTLS2 */
         0x00000f0106334141ull, /* 48CH EPT_VPID_CAP */
         0x0000007f00000016ull, /* 48DH TRUE_PINBASED_CTLS */
         0xf7f9fffe04006172ull, /* 48EH TRUE_PROCBASED_CTLS */
         0x007fffff00036dfbull, /* 48FH TRUE_EXIT_CTLS */
         0x0000ffff000011fbull, /* 490H TRUE_ENTRY_CTLS */
         0x0000000000000001ull, /* 491H VMFUNC: EPTP switching */
     }},
    {"tigerlake", 40,
     {
         0x01d8100000000004ull, /* 480H BASIC: revision 4, TRUE controls, [56] error code optional on injection */
         0x0000007f00000016ull, /* 481H PINBASED_CTLS */
         0xfff9fffe0401e172ull, /* 482H PROCBASED_CTLS (adds activate tertiary controls, 17) */
         0x107fffff00036dffull, /* 483H EXIT_CTLS (adds load CET state, 28) */
         0x0010ffff000011ffull, /* 484H ENTRY_CTLS (adds load CET state, 20) */
         0x00000000600401e0ull, /* 485H MISC */
         0x0000000080000021ull, /* 486H CR0_FIXED0 */
         0x00000000ffffffffull, /* 487H CR0_FIXED1 */
         0x0000000000002000ull, /* 488H CR4_FIXED0 */
         0x0000000000f72fffull, /* 489H CR4_FIXED1: adds UMIP (11), PKE (22), CET (23) */
         0x0000000000000034ull, /* 48AH VMCS_ENUM */
         0x02977fff00000000ull, /* 48BH PROCBASED_CTLS2 */
         0x00000f0106b34141ull, /* 48CH EPT_VPID_CAP */
         0x0000007f00000016ull, /* 48DH TRUE_PINBASED_CTLS */
         0xfff9fffe04006172ull, /* 48EH TRUE_PROCBASED_CTLS */
         0x107fffff00036dfbull, /* 48FH TRUE_EXIT_CTLS */
         0x0010ffff000011fbull, /* 490H TRUE_ENTRY_CTLS */
         0x0000000000000001ull, /* 491H VMFUNC */
     }},
};

#define VCHECK_VMX_STATE_NPROFILES (sizeof(vcheck_vmx_state_profiles) / sizeof(vcheck_vmx_state_profiles[0]))

uint32_t vcheck_vmx_state_profile_count(void)
{
    return (uint32_t)VCHECK_VMX_STATE_NPROFILES;
}

const char *vcheck_vmx_state_profile_name(uint32_t i)
{
    return i < VCHECK_VMX_STATE_NPROFILES ? vcheck_vmx_state_profiles[i].name : NULL;
}

int vcheck_vmx_state_profile(const char *name, vcheck_vmx_caps_t *caps)
{
    for (uint32_t i = 0; i < VCHECK_VMX_STATE_NPROFILES; i++) {
        if (strcmp(name, vcheck_vmx_state_profiles[i].name) == 0) {
            memset(caps, 0, sizeof(*caps));
            caps->caps.size = sizeof(caps->caps);
            memcpy(caps->caps.msr, vcheck_vmx_state_profiles[i].msr, sizeof(caps->caps.msr));
            caps->maxphyaddr = vcheck_vmx_state_profiles[i].maxphyaddr;
            return 0;
        }
    }
    return -1;
}

/* ---- capability files ------------------------------------------------------- */

static int vcheck_vmx_state_caps_line(void *ctx, const vcheck_line_t *l, vcheck_err_t *err)
{
    vcheck_vmx_caps_t *caps = ctx;
    uint64_t k, v;

    if (vcheck_text_int(l->val, l->val_len, &v) != 0) {
        vcheck_text_fail(err, l->lineno, "value is not a 64-bit C integer literal");
        return -1;
    }
    if (vcheck_text_is(l->key, l->key_len, "maxphyaddr"))
        return vcheck_text_maxphyaddr(l, v, &caps->maxphyaddr, err);
    if (vcheck_text_int(l->key, l->key_len, &k) != 0 || k < 0x480 || k >= 0x480u + VCORE_NVMX_NR_CAPS) {
        vcheck_text_fail(err, l->lineno, "key must be an MSR 0x480..0x491 or maxphyaddr");
        return -1;
    }
    caps->caps.msr[k - 0x480] = v;
    return 0;
}

int vcheck_vmx_state_caps_parse(vcheck_vmx_caps_t *caps, const char *text, size_t len, vcheck_err_t *err)
{
    memset(caps, 0, sizeof(*caps));
    caps->caps.size = sizeof(caps->caps);
    caps->maxphyaddr = 36;
    return vcheck_text_parse(text, len, vcheck_vmx_state_caps_line, caps, err);
}

/* ---- state files ------------------------------------------------------------ */

void vcheck_vmx_state_init(vcheck_vmx_state_t *st)
{
    memset(st->page, 0, sizeof(st->page));
    st->ncells = 0;
    st->sorted = true;
    st->ncpuid = 0;
    st->efer = 0xd01;
    st->current_vmcs = 0x1000;
    st->movss_blocking = false;
    st->resume = false;
    st->launched = 0;
}

/* Names a byte of L1 memory (later assignments win). */
static int vcheck_vmx_state_byte(void *ctx, uint64_t gpa, uint8_t b)
{
    vcheck_vmx_state_t *st = ctx;
    uint64_t base = gpa & ~7ull;
    unsigned sh = (unsigned)(gpa & 7u);
    vcheck_vmx_cell_t *c = NULL;

    /* The cell of the last write first: lists are written in order. */
    if (st->ncells && st->cells[st->ncells - 1].gpa == base)
        c = &st->cells[st->ncells - 1];
    for (uint32_t i = 0; !c && i < st->ncells; i++)
        if (st->cells[i].gpa == base)
            c = &st->cells[i];
    if (!c) {
        if (st->ncells == VCHECK_VMX_MAX_CELLS)
            return -1;
        c = &st->cells[st->ncells++];
        c->gpa = base;
        c->value = 0;
        c->mask = 0;
        if (st->ncells > 1 && st->cells[st->ncells - 2].gpa > base)
            st->sorted = false;
    }
    c->value = (c->value & ~(0xffull << (8 * sh))) | ((uint64_t)b << (8 * sh));
    c->mask = (uint8_t)(c->mask | (1u << sh));
    return 0;
}

static int vcheck_vmx_state_cell_cmp(const void *a, const void *b)
{
    const vcheck_vmx_cell_t *x = a, *y = b;
    return x->gpa < y->gpa ? -1 : x->gpa > y->gpa ? 1 : 0;
}

/* L1 memory for the checks: named bytes, 0 elsewhere. */
static int vcheck_vmx_state_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    const vcheck_vmx_state_t *st = ctx;
    uint8_t *out = buf;

    for (size_t i = 0; i < len; i++) {
        uint64_t a = gpa + i, base = a & ~7ull;
        uint32_t lo = 0, hi = st->ncells;
        out[i] = 0;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (st->cells[mid].gpa < base) {
                lo = mid + 1;
            } else if (st->cells[mid].gpa > base) {
                hi = mid;
            } else {
                out[i] = (uint8_t)(st->cells[mid].value >> (8 * (a & 7u)));
                break;
            }
        }
    }
    return VCORE_OK;
}

/* The checks only read: a write is a defect of the library, refused. */
static int vcheck_vmx_state_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    (void)gpa;
    (void)buf;
    (void)len;
    return VCORE_ERR_FAULT;
}

/* FIELD = V: stored raw, as a snapshot of a VMCS may hold any bits. */
static int vcheck_vmx_state_field(vcheck_vmx_state_t *st, const vcheck_line_t *l, uint64_t v, vcheck_err_t *err)
{
    char name[64];
    uint64_t enc64;
    uint32_t enc;
    vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
    unsigned off, bytes;

    if (l->key[0] >= '0' && l->key[0] <= '9') {
        if (vcheck_text_int(l->key, l->key_len, &enc64) != 0 || enc64 > UINT32_MAX ||
            vcore_vmcs_field_lookup((uint32_t)enc64, &fi) != VCORE_OK) {
            vcheck_text_fail(err, l->lineno, "no VMCS field has this encoding");
            return -1;
        }
    } else {
        if (l->key_len >= sizeof(name)) {
            vcheck_text_fail(err, l->lineno, "unknown key");
            return -1;
        }
        memcpy(name, l->key, l->key_len);
        name[l->key_len] = '\0';
        if (vcore_vmcs_field_by_name(name, &enc) != VCORE_OK || vcore_vmcs_field_lookup(enc, &fi) != VCORE_OK) {
            vcheck_text_fail(err, l->lineno, "unknown key '%s' (not a VMCS field name)", name);
            return -1;
        }
    }
    off = fi.offset;
    bytes = fi.bytes;
    if (fi.flags & VCORE_VMCS_FIELD_F_HIGH) {
        off += 4;
        bytes = 4;
    }
    if (bytes < 8 && v >> (8 * bytes)) {
        vcheck_text_fail(err, l->lineno, "value does not fit in the %u-bit field %s", 8 * bytes, fi.name);
        return -1;
    }
    /* Little endian, as the page stores every field. */
    for (unsigned i = 0; i < bytes; i++)
        st->page[off + i] = (uint8_t)(v >> (8 * i));
    return 0;
}

static int vcheck_vmx_state_flag(const vcheck_line_t *l, const char *a, const char *b, bool *out, vcheck_err_t *err)
{
    if (vcheck_text_is(l->val, l->val_len, a)) {
        *out = false;
    } else if (vcheck_text_is(l->val, l->val_len, b)) {
        *out = true;
    } else {
        vcheck_text_fail(err, l->lineno, "value must be %s or %s", a, b);
        return -1;
    }
    return 0;
}

static int vcheck_vmx_state_line(void *ctx, const vcheck_line_t *l, vcheck_err_t *err)
{
    vcheck_vmx_state_t *st = ctx;
    uint64_t v = 0;
    bool b;

    /* Keys whose value is a word. */
    if (vcheck_text_is(l->key, l->key_len, "launch"))
        return vcheck_vmx_state_flag(l, "vmlaunch", "vmresume", &st->resume, err);
    if (vcheck_text_is(l->key, l->key_len, "cpu.current_vmcs") && vcheck_text_is(l->val, l->val_len, "none")) {
        st->current_vmcs = VCORE_VMX_NO_VMCS;
        return 0;
    }
    if (vcheck_text_is(l->key, l->key_len, "launched")) {
        if (vcheck_vmx_state_flag(l, "0", "1", &b, err) != 0)
            return -1;
        st->launched = b ? 1u : 0u;
        return 0;
    }
    if (vcheck_text_is(l->key, l->key_len, "cpu.movss_blocking"))
        return vcheck_vmx_state_flag(l, "0", "1", &st->movss_blocking, err);

    if (vcheck_text_int(l->val, l->val_len, &v) != 0) {
        vcheck_text_fail(err, l->lineno, "value is not a 64-bit C integer literal");
        return -1;
    }
    if (vcheck_text_is(l->key, l->key_len, "cpu.efer")) {
        st->efer = v;
        return 0;
    }
    if (vcheck_text_is(l->key, l->key_len, "cpu.current_vmcs")) {
        st->current_vmcs = v;
        return 0;
    }
    if (vcheck_text_starts(l->key, l->key_len, "mem64[") || vcheck_text_starts(l->key, l->key_len, "mem32["))
        return vcheck_text_mem(l, v, vcheck_vmx_state_byte, st, VCHECK_VMX_MAX_CELLS, err);
    if (vcheck_text_starts(l->key, l->key_len, "cpuid."))
        return vcheck_text_cpuid(st->cpuid, &st->ncpuid, VCHECK_VMX_MAX_CPUID, l, v, err);
    if (vcheck_text_starts(l->key, l->key_len, "cpu.")) {
        vcheck_text_fail(err, l->lineno, "unknown cpu key (efer, movss_blocking, current_vmcs)");
        return -1;
    }
    return vcheck_vmx_state_field(st, l, v, err);
}

int vcheck_vmx_state_parse(vcheck_vmx_state_t *st, const char *text, size_t len, vcheck_err_t *err)
{
    return vcheck_text_parse(text, len, vcheck_vmx_state_line, st, err);
}

void vcheck_vmx_state_input(vcheck_vmx_state_t *st, const vcheck_vmx_caps_t *caps, vcore_vmx_check_input_t *in)
{
    uint32_t rev = (uint32_t)(caps->caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu);

    if (!st->sorted) {
        qsort(st->cells, st->ncells, sizeof(st->cells[0]), vcheck_vmx_state_cell_cmp);
        st->sorted = true;
    }
    /* The current VMCS carries the revision identifier L1's VMPTRLD accepted. */
    memcpy(st->page + VCORE_VMCS12_OFF_REVISION, &rev, 4);
    memcpy(st->page + VCORE_VMCS12_OFF_LAUNCH_STATE, &st->launched, 4);
    st->mem.size = sizeof(st->mem);
    st->mem.ctx = st;
    st->mem.read = vcheck_vmx_state_read;
    st->mem.write = vcheck_vmx_state_write;
    memset(in, 0, sizeof(*in));
    in->size = sizeof(*in);
    in->vmcs12 = st->page;
    in->caps = &caps->caps;
    in->maxphyaddr = caps->maxphyaddr;
    in->launch_state = st->launched;
    in->l1_efer = st->efer;
    in->current_vmptr = st->current_vmcs;
    in->vmxon_ptr = VCORE_VMX_NO_VMCS;
    in->movss_blocking = st->movss_blocking;
    in->resume = st->resume;
    in->cpuid = st->ncpuid ? st->cpuid : NULL;
    in->ncpuid = st->ncpuid;
    in->mem = &st->mem;
}
