/*
 * vmcb_table.c - the VMCB model: layout checks, intercept and exit-code
 * names, and the named-field table for tools, all generated from the lists
 * of virtcore/x86/vmcb.h (APM Vol. 2, appendix "Layout of VMCB" and
 * appendix "SVM Intercept Exit Codes").
 */
#include "../../deps.h"
#include "virtcore/error.h"
#include "virtcore/x86/vmcb.h"

/* ---- The layout, checked at compile time against the APM's offsets ---- */
#define VCORE__VMCB_ASSERT(name, cond) typedef char vcore__vmcb_assert_##name[(cond) ? 1 : -1]
#define VCORE__VMCB_CTL(m) offsetof(vcore_vmcb_t, control.m)
#define VCORE__VMCB_SAVE(m) offsetof(vcore_vmcb_t, save.m)
VCORE__VMCB_ASSERT(size, sizeof(vcore_vmcb_t) == VCORE_VMCB_SIZE);
VCORE__VMCB_ASSERT(control_size, sizeof(vcore_vmcb_control_t) == VCORE_VMCB_SAVE_OFFSET);
VCORE__VMCB_ASSERT(save_size, sizeof(vcore_vmcb_save_t) == 0x2e8);
VCORE__VMCB_ASSERT(seg_size, sizeof(vcore_vmcb_seg_t) == 16);

/* Every named field: the table's offset is the structure's offset, and the
 * width is the member's. The member of each name is listed once here. */
#define VCORE__VMCB_MEMBERS(X)                                                                      \
    X(INTERCEPT_CR, control.intercept[0]) X(INTERCEPT_DR, control.intercept[1])                     \
    X(INTERCEPT_EXCEPTIONS, control.intercept[2]) X(INTERCEPT_MISC1, control.intercept[3])          \
    X(INTERCEPT_MISC2, control.intercept[4]) X(INTERCEPT_MISC3, control.intercept[5])               \
    X(PAUSE_FILTER_THRESHOLD, control.pause_filter_threshold)                                       \
    X(PAUSE_FILTER_COUNT, control.pause_filter_count) X(IOPM_BASE_PA, control.iopm_base_pa)         \
    X(MSRPM_BASE_PA, control.msrpm_base_pa) X(TSC_OFFSET, control.tsc_offset)                       \
    X(GUEST_ASID, control.asid) X(TLB_CONTROL, control.tlb_control) X(INT_CTL, control.int_ctl)     \
    X(INT_VECTOR, control.int_vector) X(INT_STATE, control.int_state)                               \
    X(EXITCODE, control.exit_code) X(EXITINFO1, control.exit_info1)                                 \
    X(EXITINFO2, control.exit_info2) X(EXITINTINFO, control.exit_int_info)                          \
    X(NESTED_CTL, control.nested_ctl) X(AVIC_APIC_BAR, control.avic_apic_bar)                       \
    X(GHCB_PA, control.ghcb_pa) X(EVENTINJ, control.event_inj) X(N_CR3, control.n_cr3)              \
    X(VIRT_EXT, control.virt_ext) X(CLEAN_BITS, control.clean) X(NRIP, control.next_rip)            \
    X(INSN_LEN, control.insn_len) X(AVIC_BACKING_PAGE, control.avic_backing_page)                   \
    X(AVIC_LOGICAL_TABLE, control.avic_logical_table)                                               \
    X(AVIC_PHYSICAL_TABLE, control.avic_physical_table) X(VMSA_PA, control.vmsa_pa)                 \
    X(ES_SELECTOR, save.es.selector) X(ES_ATTRIB, save.es.attrib) X(ES_LIMIT, save.es.limit)        \
    X(ES_BASE, save.es.base) X(CS_SELECTOR, save.cs.selector) X(CS_ATTRIB, save.cs.attrib)          \
    X(CS_LIMIT, save.cs.limit) X(CS_BASE, save.cs.base) X(SS_SELECTOR, save.ss.selector)            \
    X(SS_ATTRIB, save.ss.attrib) X(SS_LIMIT, save.ss.limit) X(SS_BASE, save.ss.base)                \
    X(DS_SELECTOR, save.ds.selector) X(DS_ATTRIB, save.ds.attrib) X(DS_LIMIT, save.ds.limit)        \
    X(DS_BASE, save.ds.base) X(FS_SELECTOR, save.fs.selector) X(FS_ATTRIB, save.fs.attrib)          \
    X(FS_LIMIT, save.fs.limit) X(FS_BASE, save.fs.base) X(GS_SELECTOR, save.gs.selector)            \
    X(GS_ATTRIB, save.gs.attrib) X(GS_LIMIT, save.gs.limit) X(GS_BASE, save.gs.base)                \
    X(GDTR_SELECTOR, save.gdtr.selector) X(GDTR_ATTRIB, save.gdtr.attrib)                           \
    X(GDTR_LIMIT, save.gdtr.limit) X(GDTR_BASE, save.gdtr.base)                                     \
    X(LDTR_SELECTOR, save.ldtr.selector) X(LDTR_ATTRIB, save.ldtr.attrib)                           \
    X(LDTR_LIMIT, save.ldtr.limit) X(LDTR_BASE, save.ldtr.base)                                     \
    X(IDTR_SELECTOR, save.idtr.selector) X(IDTR_ATTRIB, save.idtr.attrib)                           \
    X(IDTR_LIMIT, save.idtr.limit) X(IDTR_BASE, save.idtr.base) X(TR_SELECTOR, save.tr.selector)    \
    X(TR_ATTRIB, save.tr.attrib) X(TR_LIMIT, save.tr.limit) X(TR_BASE, save.tr.base)                \
    X(VMPL, save.vmpl) X(CPL, save.cpl) X(EFER, save.efer) X(CR4, save.cr4) X(CR3, save.cr3)        \
    X(CR0, save.cr0) X(DR7, save.dr7) X(DR6, save.dr6) X(RFLAGS, save.rflags) X(RIP, save.rip)      \
    X(RSP, save.rsp) X(S_CET, save.s_cet) X(SSP, save.ssp) X(ISST_ADDR, save.isst_addr)             \
    X(RAX, save.rax) X(STAR, save.star) X(LSTAR, save.lstar) X(CSTAR, save.cstar)                   \
    X(SFMASK, save.sfmask) X(KERNEL_GS_BASE, save.kernel_gs_base)                                   \
    X(SYSENTER_CS, save.sysenter_cs) X(SYSENTER_ESP, save.sysenter_esp)                             \
    X(SYSENTER_EIP, save.sysenter_eip) X(CR2, save.cr2) X(G_PAT, save.g_pat)                        \
    X(DBGCTL, save.dbgctl) X(BR_FROM, save.br_from) X(BR_TO, save.br_to)                            \
    X(LASTEXCP_FROM, save.lastexcp_from) X(LASTEXCP_TO, save.lastexcp_to)                           \
    X(SPEC_CTRL, save.spec_ctrl)

/* The APM offset and width of each name (from VCORE_VMCB_FIELD_LIST). */
enum {
#define VCORE__VMCB_OFF_ENUM(name, off, bytes) VCORE__VMCB_OFF_##name = (off), VCORE__VMCB_BYTES_##name = (bytes),
    VCORE_VMCB_FIELD_LIST(VCORE__VMCB_OFF_ENUM)
#undef VCORE__VMCB_OFF_ENUM
    VCORE__VMCB_OFF_END_
};
#define VCORE__VMCB_CHECK_MEMBER(name, m)                                                           \
    VCORE__VMCB_ASSERT(off_##name, offsetof(vcore_vmcb_t, m) == VCORE__VMCB_OFF_##name);            \
    VCORE__VMCB_ASSERT(width_##name, sizeof(((vcore_vmcb_t *)0)->m) == VCORE__VMCB_BYTES_##name);
VCORE__VMCB_MEMBERS(VCORE__VMCB_CHECK_MEMBER)
#undef VCORE__VMCB_CHECK_MEMBER

/* Both lists name the same fields: equal counts, and each member above
 * names a list entry (an unknown name would not compile). */
enum {
#define VCORE__VMCB_COUNT_ONE(...) +1
    VCORE__VMCB_NLIST = 0 VCORE_VMCB_FIELD_LIST(VCORE__VMCB_COUNT_ONE),
    VCORE__VMCB_NMEMBERS = 0 VCORE__VMCB_MEMBERS(VCORE__VMCB_COUNT_ONE)
#undef VCORE__VMCB_COUNT_ONE
};
VCORE__VMCB_ASSERT(lists_agree, VCORE__VMCB_NLIST == VCORE__VMCB_NMEMBERS);
/* A few offsets spelled out as the APM's tables give them. */
VCORE__VMCB_ASSERT(apm_asid, VCORE__VMCB_CTL(asid) == 0x058);
VCORE__VMCB_ASSERT(apm_eventinj, VCORE__VMCB_CTL(event_inj) == 0x0a8);
VCORE__VMCB_ASSERT(apm_clean, VCORE__VMCB_CTL(clean) == 0x0c0);
VCORE__VMCB_ASSERT(apm_host_use, VCORE__VMCB_CTL(host_use) == 0x3e0);
VCORE__VMCB_ASSERT(apm_efer, VCORE__VMCB_SAVE(efer) == 0x4d0);
VCORE__VMCB_ASSERT(apm_cr4, VCORE__VMCB_SAVE(cr4) == 0x548);
VCORE__VMCB_ASSERT(apm_rax, VCORE__VMCB_SAVE(rax) == 0x5f8);
VCORE__VMCB_ASSERT(apm_g_pat, VCORE__VMCB_SAVE(g_pat) == 0x668);

/* ---- Names ---- */

static const char *const vcore__vmcb_intercept_names[VCORE_VMCB_INTERCEPT_END_] = {
#define VCORE__VMCB_INTERCEPT_NAME(name, w, b) [(w) * 32 + (b)] = #name,
    VCORE_VMCB_INTERCEPT_LIST(VCORE__VMCB_INTERCEPT_NAME)
#undef VCORE__VMCB_INTERCEPT_NAME
};

const char *vcore_vmcb_intercept_name(uint32_t id)
{
    return id < VCORE_VMCB_INTERCEPT_END_ ? vcore__vmcb_intercept_names[id] : NULL;
}

typedef struct vcore__vmcb_exit_row {
    int64_t code;
    const char *name;
} vcore__vmcb_exit_row_t;

static const vcore__vmcb_exit_row_t vcore__vmcb_exit_rows[] = {
#define VCORE__VMCB_EXIT_ROW(name, base, off) {(int64_t)(base) + (off), #name},
    VCORE_VMCB_EXIT_LIST(VCORE__VMCB_EXIT_ROW)
#undef VCORE__VMCB_EXIT_ROW
};

const char *vcore_vmcb_exit_name(uint64_t code)
{
    /* The table is small and names are for diagnostics: a scan will do. */
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(vcore__vmcb_exit_rows); i++)
        if ((uint64_t)vcore__vmcb_exit_rows[i].code == code)
            return vcore__vmcb_exit_rows[i].name;
    return "UNKNOWN";
}

/* ---- Named fields ---- */

typedef struct vcore__vmcb_field_row {
    const char *name;
    uint16_t offset;
    uint8_t bytes;
} vcore__vmcb_field_row_t;

static const vcore__vmcb_field_row_t vcore__vmcb_fields[] = {
#define VCORE__VMCB_FIELD_ROW(name, off, bytes) {#name, (uint16_t)(off), (uint8_t)(bytes)},
    VCORE_VMCB_FIELD_LIST(VCORE__VMCB_FIELD_ROW)
#undef VCORE__VMCB_FIELD_ROW
};

static void vcore__vmcb_field_fill(const vcore__vmcb_field_row_t *r, vcore_vmcb_field_info_t *info)
{
    info->name = r->name;
    info->offset = r->offset;
    info->bytes = r->bytes;
    info->save_area = r->offset >= VCORE_VMCB_SAVE_OFFSET;
}

uint32_t vcore_vmcb_field_count(void)
{
    return (uint32_t)VCORE__ARRAY_SIZE(vcore__vmcb_fields);
}

int vcore_vmcb_field_at(uint32_t i, vcore_vmcb_field_info_t *info)
{
    if (!info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    if (i >= VCORE__ARRAY_SIZE(vcore__vmcb_fields))
        return VCORE_ERR_RANGE;
    vcore__vmcb_field_fill(&vcore__vmcb_fields[i], info);
    return VCORE_OK;
}

/* strcmp without libc (the core is freestanding). */
static bool vcore__vmcb_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

int vcore_vmcb_field_by_name(const char *name, vcore_vmcb_field_info_t *info)
{
    if (!name || !info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(vcore__vmcb_fields); i++) {
        if (vcore__vmcb_streq(vcore__vmcb_fields[i].name, name)) {
            vcore__vmcb_field_fill(&vcore__vmcb_fields[i], info);
            return VCORE_OK;
        }
    }
    return VCORE_ERR_NOENT;
}

int vcore_vmcb_field_lookup(uint32_t offset, vcore_vmcb_field_info_t *info)
{
    if (!info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(vcore__vmcb_fields); i++) {
        if (vcore__vmcb_fields[i].offset == offset) {
            vcore__vmcb_field_fill(&vcore__vmcb_fields[i], info);
            return VCORE_OK;
        }
    }
    return VCORE_ERR_NOENT;
}

/* A raw access lies inside the page with a width the fields use. */
static int vcore__vmcb_access_ok(const void *vmcb, uint32_t offset, uint32_t bytes)
{
    if (!vmcb || (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8))
        return VCORE_ERR_INVAL;
    if (offset > VCORE_VMCB_SIZE - bytes)
        return VCORE_ERR_RANGE;
    return VCORE_OK;
}

int vcore_vmcb_read(const void *vmcb, uint32_t offset, uint32_t bytes, uint64_t *value)
{
    int err = vcore__vmcb_access_ok(vmcb, offset, bytes);
    if (err)
        return err;
    if (!value)
        return VCORE_ERR_INVAL;
    /* Little endian, byte by byte: no alignment or host byte order assumed. */
    const uint8_t *p = (const uint8_t *)vmcb + offset;
    uint64_t v = 0;
    for (uint32_t i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    *value = v;
    return VCORE_OK;
}

int vcore_vmcb_write(void *vmcb, uint32_t offset, uint32_t bytes, uint64_t value)
{
    int err = vcore__vmcb_access_ok(vmcb, offset, bytes);
    if (err)
        return err;
    uint8_t *p = (uint8_t *)vmcb + offset;
    for (uint32_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)(value >> (8 * i));
    return VCORE_OK;
}

/* "VMCB Clean Field": the byte ranges [first, last] each clean bit covers. */
static const struct {
    uint16_t first, last;
    uint32_t bit;
} vcore__vmcb_clean_ranges[] = {
    {0x000, 0x017, VCORE_VMCB_CLEAN_I},     /* intercept vectors */
    {0x03c, 0x03f, VCORE_VMCB_CLEAN_I},     /* PAUSE filter threshold and count */
    {0x050, 0x057, VCORE_VMCB_CLEAN_I},     /* TSC_OFFSET */
    {0x040, 0x04f, VCORE_VMCB_CLEAN_IOPM},  /* IOPM_BASE_PA, MSRPM_BASE_PA */
    {0x058, 0x05b, VCORE_VMCB_CLEAN_ASID},  /* ASID */
    {0x060, 0x067, VCORE_VMCB_CLEAN_TPR},   /* V_TPR .. V_INTR_MASKING, V_INTR_VECTOR */
    {0x090, 0x097, VCORE_VMCB_CLEAN_NP},    /* nested-paging enable */
    {0x0b0, 0x0b7, VCORE_VMCB_CLEAN_NP},    /* nCR3 */
    {0x668, 0x66f, VCORE_VMCB_CLEAN_NP},    /* G_PAT */
    {0x4d0, 0x4d7, VCORE_VMCB_CLEAN_CRX},   /* EFER */
    {0x548, 0x55f, VCORE_VMCB_CLEAN_CRX},   /* CR4, CR3, CR0 */
    {0x560, 0x56f, VCORE_VMCB_CLEAN_DRX},   /* DR7, DR6 */
    {0x460, 0x46f, VCORE_VMCB_CLEAN_DT},    /* GDTR */
    {0x480, 0x48f, VCORE_VMCB_CLEAN_DT},    /* IDTR */
    {0x400, 0x43f, VCORE_VMCB_CLEAN_SEG},   /* ES, CS, SS, DS */
    {0x4cb, 0x4cb, VCORE_VMCB_CLEAN_SEG},   /* CPL */
    {0x640, 0x647, VCORE_VMCB_CLEAN_CR2},   /* CR2 */
    {0x670, 0x697, VCORE_VMCB_CLEAN_LBR},   /* DBGCTL, BR_FROM, BR_TO, LASTEXCPFROM, LASTEXCPTO */
    {0x098, 0x09f, VCORE_VMCB_CLEAN_AVIC},  /* AVIC APIC BAR */
    {0x0e0, 0x0e7, VCORE_VMCB_CLEAN_AVIC},  /* AVIC backing page */
    {0x0f0, 0x0ff, VCORE_VMCB_CLEAN_AVIC},  /* AVIC logical and physical tables */
};

uint32_t vcore_vmcb_clean_bit(uint32_t offset)
{
    for (size_t i = 0; i < sizeof(vcore__vmcb_clean_ranges) / sizeof(vcore__vmcb_clean_ranges[0]); i++)
        if (offset >= vcore__vmcb_clean_ranges[i].first && offset <= vcore__vmcb_clean_ranges[i].last)
            return vcore__vmcb_clean_ranges[i].bit;
    return 0;
}

bool vcore_vmcb_field_backend_owned(uint32_t offset)
{
    switch (offset) {
    case 0x040: /* IOPM_BASE_PA */
    case 0x048: /* MSRPM_BASE_PA */
    case 0x058: /* GUEST_ASID */
    case 0x05c: /* TLB_CONTROL */
    case 0x070: /* EXITCODE */
    case 0x078: /* EXITINFO1 */
    case 0x080: /* EXITINFO2 */
    case 0x088: /* EXITINTINFO */
    case 0x090: /* NESTED_CTL */
    case 0x0b0: /* N_CR3 */
    case 0x0c0: /* CLEAN_BITS */
    case 0x0c8: /* NRIP */
    case 0x0d0: /* INSN_LEN */
        return true;
    default:
        return false;
    }
}
