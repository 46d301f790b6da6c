/* Shared between the VM-entry check tests and their case tables. */
#ifndef VCORE_TEST_VMX_CHECKS_H
#define VCORE_TEST_VMX_CHECKS_H

#include "vmx_checks_fixture.h"

typedef struct ck_table {
    const char *name;
    const ck_case_t *cases;
    size_t n;
} ck_table_t;

extern const ck_table_t ck_tables[];
extern const unsigned ck_ntables;

#endif
