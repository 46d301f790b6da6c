/**
 * @file mock.h
 * @brief Mock backend controls: script exits, inspect operation counts.
 *
 * The mock backend holds the vCPU state in a software model and returns the
 * exits a test pushes, in order. An unscripted run fails with
 * VCORE_ERR_UNSCRIPTED; an op it does not support fails with
 * VCORE_ERR_UNSUPPORTED. Every backend operation is counted by kind, so a
 * test (or benchmark) can prove how many state transfers a path costs.
 *
 * Typical use in a VMM's unit test:
 * @code
 * vcore_vm_config_t cfg; vcore_vm_config_init(&cfg);
 * cfg.backend = vcore_backend_mock();
 * vcore_vm_create(&cfg, &vm);  vcore_vcpu_create(vm, NULL, &vcpu);
 * vcore_exit_t e = { .size = sizeof e, .reason = VCORE_EXIT_HLT };
 * vcore_mock_push_exit(vcpu, &e);
 * vcore_vcpu_run(vcpu, &out);   // out.reason == VCORE_EXIT_HLT
 * @endcode
 */
#ifndef VIRTCORE_MOCK_H
#define VIRTCORE_MOCK_H

#include "common.h"
#include "exit.h"
#include "vcpu.h"

VCORE_BEGIN_DECLS

/** @brief Most exits that can be queued per vCPU. */
#define VCORE_MOCK_MAX_SCRIPT 64u

/** @brief Kinds of backend operations the mock counts. */
typedef enum vcore_mock_op {
    VCORE_MOCK_OP_VM_INIT = 0,   /**< vm_init */
    VCORE_MOCK_OP_VM_MAP,        /**< vm_map */
    VCORE_MOCK_OP_VM_UNMAP,      /**< vm_unmap */
    VCORE_MOCK_OP_VCPU_INIT,     /**< vcpu_init */
    VCORE_MOCK_OP_GET_STATE,     /**< vcpu_get_state (any class) */
    VCORE_MOCK_OP_SET_STATE,     /**< vcpu_set_state (any class) */
    VCORE_MOCK_OP_SET_CPUID,     /**< vcpu_set_cpuid */
    VCORE_MOCK_OP_RUN,           /**< vcpu_run */
    VCORE_MOCK_OP_KICK,          /**< vcpu_kick */
    VCORE_MOCK_OP_REPLY,         /**< a reply consumed by run */
    VCORE_MOCK_OP_COUNT          /**< Number of kinds. */
} vcore_mock_op_t;

/**
 * @brief Queues an exit that the next vcore_vcpu_run() returns.
 * @param[in] vcpu A vCPU of a VM on the mock backend.
 * @param[in] exit The exit to return (copied; @c size must be set). For an
 *                 I/O exit the @c data pointer is ignored: the mock supplies
 *                 its own buffer, initialised from @c raw.data for OUT.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or @p vcpu is not on the mock backend.
 * @retval VCORE_ERR_ABI @p exit->size is wrong.
 * @retval VCORE_ERR_RANGE The queue is full.
 */
VCORE_API int vcore_mock_push_exit(vcore_vcpu_t *vcpu, const vcore_exit_t *exit);

/**
 * @brief Number of exits still queued.
 * @param[in] vcpu A vCPU on the mock backend.
 * @return The count; 0 if @p vcpu is NULL or not on the mock backend.
 */
VCORE_API uint32_t vcore_mock_pending(const vcore_vcpu_t *vcpu);

/**
 * @brief Number of operations of one kind: VM_* kinds count on the vCPU's VM, the others on the vCPU.
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] op A vcore_mock_op_t.
 * @return The count; 0 for a bad argument.
 */
VCORE_API uint64_t vcore_mock_count(const vcore_vcpu_t *vcpu, uint32_t op);

/**
 * @brief Resets every operation counter of a vCPU (and of its VM) to zero.
 * @param[in] vcpu A vCPU on the mock backend.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p vcpu is NULL or not on the mock backend.
 */
VCORE_API int vcore_mock_reset_counts(vcore_vcpu_t *vcpu);

/**
 * @brief Makes the next operation of a kind fail with a given error (fault injection).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[in] op A vcore_mock_op_t (GET_STATE, SET_STATE, SET_CPUID or RUN).
 * @param[in] err The error to return once (0 cancels).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A bad argument.
 */
VCORE_API int vcore_mock_fail_next(vcore_vcpu_t *vcpu, uint32_t op, int err);

/**
 * @brief The last reply the mock consumed (what the VMM answered to an exit).
 * @param[in] vcpu A vCPU on the mock backend.
 * @param[out] out Receives a copy of the exit with its reply slot; @c size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument or not on the mock backend.
 * @retval VCORE_ERR_ABI @p out->size is wrong.
 * @retval VCORE_ERR_NOENT No reply was consumed yet.
 */
VCORE_API int vcore_mock_last_reply(const vcore_vcpu_t *vcpu, vcore_exit_t *out);

VCORE_END_DECLS

#endif /* VIRTCORE_MOCK_H */
