/* Shared helpers for the unit tests. */
#ifndef VCORE_TEST_SUPPORT_H
#define VCORE_TEST_SUPPORT_H

#include <check.h>
#include <virtcore/backend.h>
#include <virtcore/mock.h>
#include <virtcore/virtcore.h>

/* Runs one suite and returns the process exit status. */
int vcore_test_run(Suite *s);

/* A VM and a vCPU on the mock backend with the default host. */
typedef struct vcore_test_env {
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
} vcore_test_env_t;

void vcore_test_env_up(vcore_test_env_t *env, uint32_t vendor);
/* A zeroed exit structure of the given reason (size set). */
vcore_exit_t vcore_test_exit(uint32_t reason);
/* A VMX-instruction exit as a backend reports it: op, its SDM basic exit
 * reason, the instruction information and length. */
vcore_exit_t vcore_test_vmx_exit(uint32_t op, uint32_t info, uint32_t len);
void vcore_test_env_down(vcore_test_env_t *env);

/* Asserts that the vCPU's last diagnostic is `id`. */
#define ck_assert_diag(vcpu, expected_id)                                      \
    do {                                                                       \
        vcore_diag_t d_ = {.size = sizeof(vcore_diag_t)};                      \
        ck_assert_int_eq(vcore_vcpu_last_diag((vcpu), &d_), VCORE_OK);         \
        ck_assert_msg(d_.id == (uint32_t)(expected_id),                        \
                      "diag %#x (%s), expected %#x", d_.id, d_.name,           \
                      (unsigned)(expected_id));                                \
    } while (0)

#endif
