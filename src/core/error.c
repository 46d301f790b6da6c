/* error.c - names and messages of the error codes (one X-macro list). */
#include "deps.h"
#include "virtcore/error.h"

typedef struct vcore__err_desc {
    int value;
    const char *name;
    const char *message;
} vcore__err_desc_t;

static const vcore__err_desc_t vcore__err_table[] = {
#define VCORE__ERR_ROW(name, value, msg) {(value), "VCORE_" #name, (msg)},
    VCORE_ERROR_LIST(VCORE__ERR_ROW)
#undef VCORE__ERR_ROW
};

/* Values are 0, -1, -2, ... in list order, so the table is indexed by -err. */
static const vcore__err_desc_t *vcore__err_find(int err)
{
    if (err > 0 || (size_t)(-(long)err) >= VCORE__ARRAY_SIZE(vcore__err_table))
        return NULL;
    const vcore__err_desc_t *d = &vcore__err_table[-(long)err];
    return d->value == err ? d : NULL;
}

const char *vcore_strerror(int err)
{
    const vcore__err_desc_t *d = vcore__err_find(err);
    return d ? d->message : "unknown error";
}

const char *vcore_err_name(int err)
{
    const vcore__err_desc_t *d = vcore__err_find(err);
    return d ? d->name : "VCORE_ERR_UNKNOWN";
}
