/* diag_set.h - recording a diagnostic inside the core (diag.c). */
#ifndef VCORE_CORE_DIAG_SET_H
#define VCORE_CORE_DIAG_SET_H

#include "virtcore/diag.h"

/* Records diagnostic id with the offending value in *d (d may be NULL) and
 * returns VCORE_ERR_INVAL, so a refusal reads `return vcore__diag_set(...)`. */
int vcore__diag_set(vcore_diag_t *d, uint32_t id, uint64_t value);

#endif /* VCORE_CORE_DIAG_SET_H */
