/*
 * check_table.c - the VMRUN check table: descriptions, iteration and
 * lookup, all generated from VCORE_SVM_CHECK_LIST (svm_check_list.h).
 */
#include "svm_chk.h"

/* Row positions, in table order. */
enum vcore__svm_check_row {
#define VCORE__SVM_ROW_POS(name, value, cls, sec, msg) VCORE__SVM_ROW_##name,
    VCORE_SVM_CHECK_LIST(VCORE__SVM_ROW_POS)
#undef VCORE__SVM_ROW_POS
    VCORE__SVM_ROW_COUNT
};

typedef struct vcore__svm_check_row_desc {
    uint16_t id;
    uint8_t cls;
    const char *name;
    const char *manual;
    const char *message;
} vcore__svm_check_row_desc_t;

static const vcore__svm_check_row_desc_t vcore__svm_check_rows[VCORE__SVM_ROW_COUNT] = {
#define VCORE__SVM_ROW_DESC(name, value, cls, sec, msg)                                            \
    {(uint16_t)(value), (uint8_t)VCORE_SVM_CLASS_##cls, #name, sec, msg},
    VCORE_SVM_CHECK_LIST(VCORE__SVM_ROW_DESC)
#undef VCORE__SVM_ROW_DESC
};

static const char *const vcore__svm_class_names[] = {NULL, "VMEXIT_INVALID"};

/* Row of an identifier. The switch is generated from the table, so a value
 * pinned twice is a duplicate case label: a compile error. */
static int check_table_row(uint32_t id)
{
    switch (id) {
#define VCORE__SVM_ROW_CASE(name, value, cls, sec, msg)                                            \
    case (value):                                                                                  \
        return VCORE__SVM_ROW_##name;
        VCORE_SVM_CHECK_LIST(VCORE__SVM_ROW_CASE)
#undef VCORE__SVM_ROW_CASE
    default:
        return -1;
    }
}

static void check_table_fill(const vcore__svm_check_row_desc_t *r, vcore_svm_check_info_t *info)
{
    info->id = r->id;
    info->cls = r->cls;
    info->name = r->name;
    info->cls_name = vcore__svm_class_names[r->cls];
    info->manual = r->manual;
    info->message = r->message;
}

uint32_t vcore_svm_check_count(void)
{
    return VCORE__SVM_ROW_COUNT;
}

int vcore_svm_check_at(uint32_t i, vcore_svm_check_info_t *info)
{
    if (!info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    if (i >= VCORE__SVM_ROW_COUNT)
        return VCORE_ERR_RANGE;
    check_table_fill(&vcore__svm_check_rows[i], info);
    return VCORE_OK;
}

int vcore_svm_check_describe(uint32_t id, vcore_svm_check_info_t *info)
{
    int r;

    if (!info)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(info))
        return VCORE_ERR_ABI;
    r = check_table_row(id);
    if (r < 0)
        return VCORE_ERR_NOENT;
    check_table_fill(&vcore__svm_check_rows[r], info);
    return VCORE_OK;
}

/* strcmp without libc (the core is freestanding). */
static bool check_table_streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

int vcore_svm_check_by_name(const char *name, uint32_t *id)
{
    if (!name || !id)
        return VCORE_ERR_INVAL;
    /* For tools, not the hot path: a scan is fine. */
    for (uint32_t i = 0; i < VCORE__SVM_ROW_COUNT; i++) {
        if (check_table_streq(vcore__svm_check_rows[i].name, name)) {
            *id = vcore__svm_check_rows[i].id;
            return VCORE_OK;
        }
    }
    return VCORE_ERR_NOENT;
}

const char *vcore_svm_check_class_name(uint32_t cls)
{
    if (cls == 0 || cls >= VCORE__ARRAY_SIZE(vcore__svm_class_names))
        return NULL;
    return vcore__svm_class_names[cls];
}
