/*
 * vcheck_svm_state.c - the keys of SVM state and capability files, the
 * built-in CPU profiles, and the VMRUN they describe (see
 * vcheck_svm_state.h). Pure: a fuzzer can link it.
 */
#include "vcheck_svm_state.h"

#include <stdlib.h>
#include <string.h>

/* ---- built-in CPU profiles -------------------------------------------------- */

typedef struct vcheck_svm_state_profile {
    const char *name;
    uint32_t edx;
    uint32_t maxphyaddr;
} vcheck_svm_state_profile_t;

/* CPUID Fn8000_000A_EDX and MAXPHYADDR as the SVM test kernel reads them in
 * the emulators (docs/svm-conformance.md). */
static const vcheck_svm_state_profile_t vcheck_svm_state_profiles[] = {
    {"ryzen", 0x44f, 40},  /* Bochs 2.7 ryzen: NP LBRV SVML NRIPS FLUSH_BY_ASID PAUSE_FILTER */
    {"qemu64", 0x1, 40},   /* QEMU TCG -cpu qemu64,+svm,+npt: NP only */
};

#define VCHECK_SVM_NPROFILES (sizeof(vcheck_svm_state_profiles) / sizeof(vcheck_svm_state_profiles[0]))

uint32_t vcheck_svm_state_profile_count(void)
{
    return (uint32_t)VCHECK_SVM_NPROFILES;
}

const char *vcheck_svm_state_profile_name(uint32_t i)
{
    return i < VCHECK_SVM_NPROFILES ? vcheck_svm_state_profiles[i].name : NULL;
}

int vcheck_svm_state_profile(const char *name, vcheck_svm_caps_t *caps)
{
    for (uint32_t i = 0; i < VCHECK_SVM_NPROFILES; i++) {
        if (strcmp(name, vcheck_svm_state_profiles[i].name) == 0) {
            caps->edx = vcheck_svm_state_profiles[i].edx;
            caps->maxphyaddr = vcheck_svm_state_profiles[i].maxphyaddr;
            return 0;
        }
    }
    return -1;
}

/* ---- capability files ------------------------------------------------------- */

static int vcheck_svm_state_caps_line(void *ctx, const vcheck_line_t *l, vcheck_err_t *err)
{
    vcheck_svm_caps_t *caps = ctx;
    uint64_t v;

    if (vcheck_text_int(l->val, l->val_len, &v) != 0) {
        vcheck_text_fail(err, l->lineno, "value is not a 64-bit C integer literal");
        return -1;
    }
    if (vcheck_text_is(l->key, l->key_len, "maxphyaddr"))
        return vcheck_text_maxphyaddr(l, v, &caps->maxphyaddr, err);
    if (vcheck_text_is(l->key, l->key_len, "cpuid.8000000a.edx")) {
        if (v > UINT32_MAX) {
            vcheck_text_fail(err, l->lineno, "CPUID register value does not fit in 32 bits");
            return -1;
        }
        caps->edx = (uint32_t)v;
        return 0;
    }
    vcheck_text_fail(err, l->lineno, "key must be cpuid.8000000a.edx or maxphyaddr");
    return -1;
}

int vcheck_svm_state_caps_parse(vcheck_svm_caps_t *caps, const char *text, size_t len, vcheck_err_t *err)
{
    caps->edx = 0;
    caps->maxphyaddr = 40;
    return vcheck_text_parse(text, len, vcheck_svm_state_caps_line, caps, err);
}

/* ---- state files ------------------------------------------------------------ */

/* L1's default CPUID: an AMD64 processor with long mode, NX, SVM and the
 * CPUID leaf 1 features of the first AMD64 generation. */
static const vcore_cpuid_entry_t vcheck_svm_state_cpuid0[] = {
    {0x00000000u, 0, 0, 0x0000000du, 0x68747541u, 0x444d4163u, 0x69746e65u}, /* AuthenticAMD */
    {0x00000001u, 0, 0, 0x00800f11u, 0, 0, 0x178bfbffu},
    {0x80000000u, 0, 0, 0x8000000au, 0x68747541u, 0x444d4163u, 0x69746e65u},
    {0x80000001u, 0, 0, 0, 0, (1u << 2), (1u << 29) | (1u << 20) | (1u << 11)}, /* SVM; LM NX SYSCALL */
};

void vcheck_svm_state_init(vcheck_svm_state_t *st)
{
    memset(st->page, 0, sizeof(st->page));
    st->ncells = 0;
    st->ncpuid = (uint32_t)(sizeof(vcheck_svm_state_cpuid0) / sizeof(vcheck_svm_state_cpuid0[0]));
    memcpy(st->cpuid, vcheck_svm_state_cpuid0, sizeof(vcheck_svm_state_cpuid0));
    st->efer = 0x1d01;
    st->cr0 = 0x80000011;
    st->cr4 = 0x20;
}

static vcheck_svm_cell_t *vcheck_svm_state_cell(vcheck_svm_state_t *st, uint64_t base, bool add)
{
    for (uint32_t i = st->ncells; i-- > 0;)
        if (st->cells[i].gpa == base)
            return &st->cells[i];
    if (!add || st->ncells == VCHECK_SVM_MAX_CELLS)
        return NULL;
    st->cells[st->ncells].gpa = base;
    st->cells[st->ncells].value = 0;
    return &st->cells[st->ncells++];
}

/* L1 memory: the VMCB page at VCHECK_SVM_VMCB_GPA, named bytes, 0 elsewhere. */
static int vcheck_svm_state_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    vcheck_svm_state_t *st = ctx;
    uint8_t *out = buf;
    for (size_t i = 0; i < len; i++) {
        uint64_t a = gpa + i;
        if (a - VCHECK_SVM_VMCB_GPA < VCORE_VMCB_SIZE) {
            out[i] = st->page[a - VCHECK_SVM_VMCB_GPA];
            continue;
        }
        vcheck_svm_cell_t *c = vcheck_svm_state_cell(st, a & ~7ull, false);
        out[i] = 0;
        if (c)
            out[i] = (uint8_t)(c->value >> (8 * (a & 7u)));
    }
    return VCORE_OK;
}

/* The VMRUN's #VMEXIT writes VMCB12: into a scratch nobody reads (the
 * verdict is the result, not the page). */
static int vcheck_svm_state_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    (void)gpa;
    (void)buf;
    (void)len;
    return VCORE_OK;
}

/* Names a byte of L1 memory (later assignments win); the VMCB page is L1
 * memory too. */
static int vcheck_svm_state_byte(void *ctx, uint64_t a, uint8_t b)
{
    vcheck_svm_state_t *st = ctx;
    if (a - VCHECK_SVM_VMCB_GPA < VCORE_VMCB_SIZE) {
        st->page[a - VCHECK_SVM_VMCB_GPA] = b;
        return 0;
    }
    vcheck_svm_cell_t *c = vcheck_svm_state_cell(st, a & ~7ull, true);
    if (!c)
        return -1;
    unsigned sh = (unsigned)(a & 7u) * 8u;
    c->value = (c->value & ~(0xffull << sh)) | ((uint64_t)b << sh);
    return 0;
}

/* FIELD = V or OFFSET:WIDTH = V, stored raw. */
static int vcheck_svm_state_field(vcheck_svm_state_t *st, const vcheck_line_t *l, uint64_t v, vcheck_err_t *err)
{
    char name[64];
    vcore_vmcb_field_info_t fi = {.size = sizeof(fi)};
    const char *colon = memchr(l->key, ':', l->key_len);
    uint64_t off, width;

    if (colon) {
        if (vcheck_text_int(l->key, (size_t)(colon - l->key), &off) != 0 ||
            vcheck_text_int(colon + 1, l->key_len - (size_t)(colon - l->key) - 1, &width) != 0 ||
            (width != 1 && width != 2 && width != 4 && width != 8) || off >= VCORE_VMCB_SIZE ||
            off + width > VCORE_VMCB_SIZE) {
            vcheck_text_fail(err, l->lineno, "expected OFFSET:WIDTH inside the 4 KiB VMCB, WIDTH 1, 2, 4 or 8");
            return -1;
        }
    } else {
        if (l->key_len >= sizeof(name)) {
            vcheck_text_fail(err, l->lineno, "unknown key");
            return -1;
        }
        memcpy(name, l->key, l->key_len);
        name[l->key_len] = '\0';
        if (vcore_vmcb_field_by_name(name, &fi) != VCORE_OK) {
            vcheck_text_fail(err, l->lineno, "unknown key '%s' (not a VMCB field name)", name);
            return -1;
        }
        off = fi.offset;
        width = fi.bytes;
    }
    if (width < 8 && v >> (8 * width)) {
        vcheck_text_fail(err, l->lineno, "value does not fit in %u bytes", (unsigned)width);
        return -1;
    }
    for (unsigned i = 0; i < width; i++)
        st->page[off + i] = (uint8_t)(v >> (8 * i));
    return 0;
}

static int vcheck_svm_state_line(void *ctx, const vcheck_line_t *l, vcheck_err_t *err)
{
    vcheck_svm_state_t *st = ctx;
    uint64_t v = 0;

    if (vcheck_text_int(l->val, l->val_len, &v) != 0) {
        vcheck_text_fail(err, l->lineno, "value is not a 64-bit C integer literal");
        return -1;
    }
    if (vcheck_text_is(l->key, l->key_len, "cpu.efer")) {
        st->efer = v;
        return 0;
    }
    if (vcheck_text_is(l->key, l->key_len, "cpu.cr0")) {
        st->cr0 = v;
        return 0;
    }
    if (vcheck_text_is(l->key, l->key_len, "cpu.cr4")) {
        st->cr4 = v;
        return 0;
    }
    if (vcheck_text_starts(l->key, l->key_len, "mem64[") || vcheck_text_starts(l->key, l->key_len, "mem32["))
        return vcheck_text_mem(l, v, vcheck_svm_state_byte, st, VCHECK_SVM_MAX_CELLS, err);
    if (vcheck_text_starts(l->key, l->key_len, "cpuid."))
        return vcheck_text_cpuid(st->cpuid, &st->ncpuid, VCHECK_SVM_MAX_CPUID, l, v, err);
    if (vcheck_text_starts(l->key, l->key_len, "cpu.")) {
        vcheck_text_fail(err, l->lineno, "unknown cpu key (efer, cr0, cr4)");
        return -1;
    }
    return vcheck_svm_state_field(st, l, v, err);
}

int vcheck_svm_state_parse(vcheck_svm_state_t *st, const char *text, size_t len, vcheck_err_t *err)
{
    return vcheck_text_parse(text, len, vcheck_svm_state_line, st, err);
}

/* The SVM leaf and the physical-address width of the capabilities replace
 * the ones of the state's CPUID (the capabilities are what L1 sees). */
static void vcheck_svm_state_caps_cpuid(vcheck_svm_state_t *st, const vcheck_svm_caps_t *caps)
{
    static const uint32_t leaves[2] = {0x8000000au, 0x80000008u};
    for (unsigned k = 0; k < 2; k++) {
        vcore_cpuid_entry_t *e = NULL;
        for (uint32_t i = 0; i < st->ncpuid; i++)
            if (st->cpuid[i].function == leaves[k] && st->cpuid[i].index == 0)
                e = &st->cpuid[i];
        if (!e && st->ncpuid < VCHECK_SVM_MAX_CPUID) {
            e = &st->cpuid[st->ncpuid++];
            memset(e, 0, sizeof(*e));
            e->function = leaves[k];
        }
        if (!e)
            continue;
        if (k == 0) {
            e->eax = e->eax ? e->eax : 1; /* SVM revision 1 */
            e->ebx = e->ebx ? e->ebx : 0x10;
            e->edx = caps->edx;
        } else {
            e->eax = (e->eax & ~0xffu) | caps->maxphyaddr;
        }
    }
}

void vcheck_svm_state_input(vcheck_svm_state_t *st, const vcheck_svm_caps_t *caps, vcore_svm_check_input_t *in)
{
    vcheck_svm_state_caps_cpuid(st, caps);
    memset(in, 0, sizeof(*in));
    in->size = sizeof(*in);
    in->vmcb12 = st->page;
    in->svm_features = caps->edx;
    in->maxphyaddr = caps->maxphyaddr;
    in->l1_efer = st->efer;
    in->cpuid = st->cpuid;
    in->ncpuid = st->ncpuid;
}

int vcheck_svm_state_vmrun(vcheck_svm_state_t *st, const vcheck_svm_caps_t *caps, vcore_nsvm_result_t *res,
                           vcore_diag_t *diag)
{
    vcore_nsvm_config_t cfg;
    vcore_nsvm_insn_t in;
    vcore_nsvm_t *n = NULL;
    void *mem = malloc(vcore_nsvm_size());
    int rc = -1;

    if (!mem)
        return -1;
    vcheck_svm_state_caps_cpuid(st, caps);
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    /* The library emulates a subset of the features; the checks see all of them. */
    cfg.svm_features = caps->edx & (uint32_t)VCORE_NSVM_FEATURES_EMULATED;
    cfg.maxphyaddr = caps->maxphyaddr;
    cfg.l2_asid = 1;
    st->mem.size = sizeof(st->mem);
    st->mem.ctx = st;
    st->mem.read = vcheck_svm_state_read;
    st->mem.write = vcheck_svm_state_write;
    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.op = VCORE_NSVM_VMRUN;
    in.insn_len = 3;
    in.regs.size = sizeof(in.regs);
    in.sregs.size = sizeof(in.sregs);
    in.regs.rflags = 2;
    in.regs.gpr[VCORE_X86_RAX] = VCHECK_SVM_VMCB_GPA;
    in.sregs.efer = st->efer;
    in.sregs.cr0 = st->cr0;
    in.sregs.cr4 = st->cr4;
    /* L1 at CPL 0: 64-bit code in long mode, 32-bit code otherwise. */
    in.sregs.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0xb |
                                    ((st->efer & (1u << 10)) ? VCORE_X86_AR_L : VCORE_X86_AR_DB);
    in.sregs.seg[VCORE_X86_SS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0x3;
    in.cpuid = st->cpuid;
    in.ncpuid = st->ncpuid;
    res->size = sizeof(*res);
    if (vcore_nsvm_init(mem, vcore_nsvm_size(), &cfg, &n, diag) == VCORE_OK &&
        vcore_nsvm_emulate(n, &st->mem, &in, res, diag) == VCORE_OK)
        rc = res->outcome == VCORE_NSVM_OUT_EXCEPTION ? -1 : 0;
    free(mem);
    return rc;
}
