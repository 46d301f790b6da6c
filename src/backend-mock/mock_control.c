/* mock_control.c - the public mock.h API: scripting, counters, fault injection. */
#include "mock_priv.h"

static vcore__mock_vm_t *vcore__mock_vm_of(const vcore_vcpu_t *vcpu)
{
    return vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
}

int vcore_mock_push_exit(vcore_vcpu_t *vcpu, const vcore_exit_t *exit)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !exit)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(exit))
        return VCORE_ERR_ABI;
    if (exit->reason == VCORE_EXIT_NONE || exit->reason > VCORE_EXIT_INIT)
        return VCORE_ERR_INVAL;
    if (exit->reason == VCORE_EXIT_IO &&
        (exit->u.io.count == 0 || (exit->u.io.width != 1 && exit->u.io.width != 2 &&
                                   exit->u.io.width != 4) ||
         (size_t)exit->u.io.width * exit->u.io.count > VCORE__MOCK_IO_BUF))
        return VCORE_ERR_INVAL;
    if (exit->reason == VCORE_EXIT_MMIO && (exit->u.mmio.len == 0 || exit->u.mmio.len > 8))
        return VCORE_ERR_INVAL;
    if (m->count == VCORE_MOCK_MAX_SCRIPT)
        return VCORE_ERR_RANGE;
    m->script[(m->head + m->count) % VCORE_MOCK_MAX_SCRIPT] = *exit;
    m->count++;
    return VCORE_OK;
}

uint32_t vcore_mock_pending(const vcore_vcpu_t *vcpu)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    return m ? m->count : 0;
}

uint64_t vcore_mock_count(const vcore_vcpu_t *vcpu, uint32_t op)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || op >= VCORE_MOCK_OP_COUNT)
        return 0;
    if (op <= VCORE_MOCK_OP_VM_UNMAP)
        return vcore__mock_vm_of(vcpu)->counts[op];
    return __atomic_load_n(&m->counts[op], __ATOMIC_RELAXED);
}

int vcore_mock_reset_counts(vcore_vcpu_t *vcpu)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m)
        return VCORE_ERR_INVAL;
    vcore__memset(m->counts, 0, sizeof(m->counts));
    vcore__memset(vcore__mock_vm_of(vcpu)->counts, 0, sizeof(m->counts));
    return VCORE_OK;
}

int vcore_mock_fail_next(vcore_vcpu_t *vcpu, uint32_t op, int err)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || err > 0)
        return VCORE_ERR_INVAL;
    if (op != VCORE_MOCK_OP_GET_STATE && op != VCORE_MOCK_OP_SET_STATE &&
        op != VCORE_MOCK_OP_SET_CPUID && op != VCORE_MOCK_OP_RUN)
        return VCORE_ERR_INVAL;
    m->fail_next[op] = err;
    return VCORE_OK;
}

int vcore_mock_last_reply(const vcore_vcpu_t *vcpu, vcore_exit_t *out)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (!m->have_reply)
        return VCORE_ERR_NOENT;
    *out = m->last_reply;
    return VCORE_OK;
}
