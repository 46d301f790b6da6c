/* diag.c - descriptions of the named diagnostics. */
#include "deps.h"
#include "virtcore/diag.h"
#include "virtcore/error.h"
#include "virtcore/x86/hyperv.h"
#include "virtcore/x86/nsvm.h"
#include "virtcore/x86/nvmx.h"
#include "virtcore/x86/svm_checks.h"
#include "virtcore/arm64/stage2.h"
#include "virtcore/x86/vmx_checks.h"
#include "x86/x86.h"

typedef struct vcore__diag_desc {
    uint32_t id;
    const char *name;
    const char *message;
    const char *manual;
} vcore__diag_desc_t;

/* Every diagnostic list appears here once; lookups are rare (error paths). */
static const vcore__diag_desc_t vcore__diag_table[] = {
#define VCORE__DIAG_ROW(name, value, msg, manual) {(value), #name, (msg), (manual)},
    VCORE_DIAG_X86_LIST(VCORE__DIAG_ROW)
    VCORE_DIAG_VCPU_LIST(VCORE__DIAG_ROW)
    VCORE_DIAG_NVMX_LIST(VCORE__DIAG_ROW)
    VCORE_DIAG_NSVM_LIST(VCORE__DIAG_ROW)
    VCORE_DIAG_ARM64_S2_LIST(VCORE__DIAG_ROW)
    VCORE_DIAG_HYPERV_LIST(VCORE__DIAG_ROW)
#undef VCORE__DIAG_ROW
    /* The VMRUN consistency checks are diagnostics too (range 0x5000-0x5fff). */
#define VCORE__DIAG_ROW_SVM_CHECK(name, value, cls, sec, msg) {(value), #name, (msg), "APM Vol. 2, \"" sec "\""},
    VCORE_SVM_CHECK_LIST(VCORE__DIAG_ROW_SVM_CHECK)
#undef VCORE__DIAG_ROW_SVM_CHECK
    /* The VM-entry checks are diagnostics too (range 0x4000-0x4fff). */
#define VCORE__DIAG_ROW_CHECK(name, value, cls, sec, msg) {(value), #name, (msg), "SDM Vol. 3, \"" sec "\""},
    VCORE_VMX_CHECK_LIST(VCORE__DIAG_ROW_CHECK)
#undef VCORE__DIAG_ROW_CHECK
};

static const vcore__diag_desc_t *vcore__diag_find(uint32_t id)
{
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(vcore__diag_table); i++)
        if (vcore__diag_table[i].id == id)
            return &vcore__diag_table[i];
    return NULL;
}

int vcore_diag_describe(uint32_t id, vcore_diag_t *out)
{
    if (!out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    const vcore__diag_desc_t *d = vcore__diag_find(id);
    if (!d)
        return VCORE_ERR_NOENT;
    out->id = d->id;
    out->name = d->name;
    out->message = d->message;
    out->manual = d->manual;
    out->value = 0;
    return VCORE_OK;
}

int vcore__diag_set(vcore_diag_t *d, uint32_t id, uint64_t value)
{
    if (d) {
        d->size = sizeof(*d);
        if (vcore_diag_describe(id, d) != VCORE_OK) {
            d->id = id;
            d->name = "UNKNOWN";
            d->message = "unknown diagnostic";
            d->manual = "";
        }
        d->value = value;
    }
    return VCORE_ERR_INVAL;
}
