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
    if (exit->reason == VCORE_EXIT_NONE || exit->reason >= VCORE_EXIT_REASON_END)
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
    vcore__memset(m->field_reads, 0, sizeof(m->field_reads));
    vcore__memset(m->field_writes, 0, sizeof(m->field_writes));
    vcore__memset(m->group_reads, 0, sizeof(m->group_reads));
    vcore__memset(m->group_writes, 0, sizeof(m->group_writes));
    vcore__memset(m->state_sets, 0, sizeof(m->state_sets));
    vcore__memset(m->state_gets, 0, sizeof(m->state_gets));
    return VCORE_OK;
}

int vcore_mock_state_count(const vcore_vcpu_t *vcpu, uint32_t group, uint64_t *sets, uint64_t *gets)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !group || (group & (group - 1u)))
        return VCORE_ERR_INVAL;
    uint32_t i = 0;
    while (!(group & (1u << i)))
        i++;
    if (sets)
        *sets = m->state_sets[i];
    if (gets)
        *gets = m->state_gets[i];
    return VCORE_OK;
}

int vcore_mock_fail_next(vcore_vcpu_t *vcpu, uint32_t op, int err)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || err > 0)
        return VCORE_ERR_INVAL;
    if (op != VCORE_MOCK_OP_GET_STATE && op != VCORE_MOCK_OP_SET_STATE &&
        op != VCORE_MOCK_OP_SET_CPUID && op != VCORE_MOCK_OP_RUN && op != VCORE_MOCK_OP_FLUSH_TLB && op != VCORE_MOCK_OP_INVEPT &&
        op != VCORE_MOCK_OP_VMCS_ALLOC && op != VCORE_MOCK_OP_VMCS_LOAD && op != VCORE_MOCK_OP_VMCS_ENTER && op != VCORE_MOCK_OP_VMCS_WRITE &&
        op != VCORE_MOCK_OP_VMCS_SHADOW_LINK && op != VCORE_MOCK_OP_VMCB_ALLOC && op != VCORE_MOCK_OP_VMCB_SETUP &&
        op != VCORE_MOCK_OP_FLUSH_VPID02)
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

int vcore_mock_last_event(const vcore_vcpu_t *vcpu, vcore_mock_event_t *out)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (!m->have_event)
        return VCORE_ERR_NOENT;
    *out = m->last_event;
    return VCORE_OK;
}

int vcore_mock_last_flush(const vcore_vcpu_t *vcpu, vcore_mock_flush_t *out)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (!m->have_flush)
        return VCORE_ERR_NOENT;
    *out = m->last_flush;
    return VCORE_OK;
}

int vcore_mock_last_vpid02_flush(const vcore_vcpu_t *vcpu, vcore_mock_flush_t *out)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(out))
        return VCORE_ERR_ABI;
    if (!m->have_vpid02_flush)
        return VCORE_ERR_NOENT;
    *out = m->last_vpid02_flush;
    return VCORE_OK;
}

int vcore_mock_set_vpid02(vcore_vcpu_t *vcpu, bool enabled)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m)
        return VCORE_ERR_INVAL;
    m->no_vpid02 = !enabled;
    return VCORE_OK;
}

int vcore_mock_set_msr_pass(vcore_vcpu_t *vcpu, uint32_t msr, bool read_pass, bool write_pass)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    uint32_t rb = 0, rbit = 0, wb = 0, wbit = 0;
    if (!m || !vcore_nvmx_msr_bitmap_pos(msr, false, &rb, &rbit) || !vcore_nvmx_msr_bitmap_pos(msr, true, &wb, &wbit))
        return VCORE_ERR_INVAL;
    m->msr_pass01[rb] = (uint8_t)((m->msr_pass01[rb] & ~(1u << rbit)) | ((read_pass ? 1u : 0u) << rbit));
    m->msr_pass01[wb] = (uint8_t)((m->msr_pass01[wb] & ~(1u << wbit)) | ((write_pass ? 1u : 0u) << wbit));
    return VCORE_OK;
}

int vcore_mock_set_tsc_offsetting(vcore_vcpu_t *vcpu, bool on, uint64_t host_tsc)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m)
        return VCORE_ERR_INVAL;
    m->tsc_offsetting = on;
    m->host_tsc = host_tsc;
    return VCORE_OK;
}

int vcore_mock_last_invept(const vcore_vcpu_t *vcpu, uint64_t *eptp)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !eptp)
        return VCORE_ERR_INVAL;
    if (!m->have_invept)
        return VCORE_ERR_NOENT;
    *eptp = m->last_invept;
    return VCORE_OK;
}

int vcore_mock_set_xmm(vcore_vcpu_t *vcpu, uint32_t index, uint64_t lo, uint64_t hi)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || index >= 16)
        return VCORE_ERR_INVAL;
    m->st.xmm[index][0] = lo;
    m->st.xmm[index][1] = hi;
    return VCORE_OK;
}

int vcore_mock_set_vmx_caps(vcore_vm_t *vm, const vcore_nvmx_caps_t *caps)
{
    const vcore_backend_t *be = vcore_vm_backend(vm);
    if (!caps || !be || be->vcpu_run != vcore__backend_mock_ops.vcpu_run)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(caps))
        return VCORE_ERR_ABI;
    vcore__mock_vm_t *v = vcore_vm_backend_priv(vm);
    v->caps = *caps;
    v->have_caps = true;
    return VCORE_OK;
}

int vcore_mock_push_vmcs_exit(vcore_vcpu_t *vcpu, const vcore_mock_vmcs_exit_t *ex)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    vcore_vmcs_field_info_t fi;
    if (!m || !ex)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(ex))
        return VCORE_ERR_ABI;
    if (ex->kind > VCORE_HW_ENTRY_FAIL_VALID || ex->nfields > VCORE_MOCK_VMCS_EXIT_FIELDS)
        return VCORE_ERR_INVAL;
    fi.size = sizeof(fi);
    for (uint32_t i = 0; i < ex->nfields; i++)
        if (vcore_vmcs_field_lookup(ex->fields[i].encoding, &fi) != VCORE_OK)
            return VCORE_ERR_INVAL;
    if (m->vmcs_count == VCORE__MOCK_VMCS_SCRIPT)
        return VCORE_ERR_RANGE;
    m->vmcs_script[(m->vmcs_head + m->vmcs_count) % VCORE__MOCK_VMCS_SCRIPT] = *ex;
    m->vmcs_count++;
    return VCORE_OK;
}

int vcore_mock_vmcs_count(const vcore_vcpu_t *vcpu, uint32_t encoding, uint64_t *reads,
                          uint64_t *writes)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    vcore_vmcs_field_info_t fi;
    fi.size = sizeof(fi);
    if (!m || vcore_vmcs_field_lookup(encoding, &fi) != VCORE_OK)
        return VCORE_ERR_INVAL;
    if (reads)
        *reads = m->field_reads[fi.offset / 2u];
    if (writes)
        *writes = m->field_writes[fi.offset / 2u];
    return VCORE_OK;
}

int vcore_mock_vmcs_group_count(const vcore_vcpu_t *vcpu, uint32_t group, uint64_t *reads,
                                uint64_t *writes)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || group >= VCORE_MOCK_VMCS_GROUP_COUNT)
        return VCORE_ERR_INVAL;
    if (reads)
        *reads = m->group_reads[group];
    if (writes)
        *writes = m->group_writes[group];
    return VCORE_OK;
}

int vcore_mock_vmcs_peek(const vcore_vcpu_t *vcpu, const struct vcore_hw_vmcs *vmcs,
                         uint32_t encoding, uint64_t *value)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !value)
        return VCORE_ERR_INVAL;
    const struct vcore_hw_vmcs *v = vmcs ? vmcs : &m->vmcs[0];
    if (v < &m->vmcs[0] || v >= &m->vmcs[VCORE__MOCK_NVMCS] || !v->in_use)
        return VCORE_ERR_INVAL;
    return vcore_vmcs12_get(v->page, encoding, value) == VCORE_OK ? VCORE_OK : VCORE_ERR_INVAL;
}

int vcore_mock_vmcs_poke(vcore_vcpu_t *vcpu, const struct vcore_hw_vmcs *vmcs, uint32_t encoding, uint64_t value)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m)
        return VCORE_ERR_INVAL;
    struct vcore_hw_vmcs *v = vmcs ? (struct vcore_hw_vmcs *)(uintptr_t)vmcs : &m->vmcs[0];
    if (v < &m->vmcs[0] || v >= &m->vmcs[VCORE__MOCK_NVMCS] || !v->in_use)
        return VCORE_ERR_INVAL;
    return vcore_vmcs12_set(v->page, encoding, value) == VCORE_OK ? VCORE_OK : VCORE_ERR_INVAL;
}
