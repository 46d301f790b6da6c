/*
 * mock_vmcb.c - the mock's hardware VMCB objects: a strict in-memory store.
 *
 * It follows the VMCB ops contract of backend.h: fields are the named ones
 * of x86/vmcb.h at their exact offset and width; the backend-owned fields
 * (vcore_vmcb_field_backend_owned()) are never written by the core; a write
 * of an unchanged value keeps the field's clean bit, any other clears it
 * (APM Vol. 2, "VMCB Clean Field"), and a run uses every clean bit not
 * cleared since the VMCB's previous run. Anything else a caller attempts is
 * a violation: the op fails and VMCB_VIOLATION counts it. Reads and writes
 * are counted per field. A run takes the next scripted #VMEXIT and stores
 * what the processor would: the exit information and the guest state the
 * script names.
 */
#include "mock_priv.h"

static int vcore__mock_vmcb_violation(vcore__mock_vcpu_t *m, int err)
{
    m->counts[VCORE_MOCK_OP_VMCB_VIOLATION]++;
    return err;
}

static struct vcore_hw_vmcb *vcore__mock_vmcb_obj(vcore__mock_vcpu_t *m, vcore_hw_vmcb_t *vmcb)
{
    for (uint32_t i = 0; i < VCORE__MOCK_NVMCB; i++)
        if (vmcb == &m->vmcb[i] && m->vmcb[i].in_use)
            return vmcb;
    return NULL;
}

/* A named field at exactly this offset and width. */
static bool vcore__mock_vmcb_named(uint32_t offset, uint32_t bytes)
{
    vcore_vmcb_field_info_t info;
    info.size = sizeof(info);
    return vcore_vmcb_field_lookup(offset, &info) == VCORE_OK && info.bytes == bytes;
}

int vcore__mock_vmcb_alloc(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t **out)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCB_ALLOC);
    if (err)
        return err;
    for (uint32_t i = 0; i < VCORE__MOCK_NVMCB; i++) {
        struct vcore_hw_vmcb *v = &m->vmcb[i];
        if (v->in_use)
            continue;
        vcore__memset(v, 0, sizeof(*v));
        v->in_use = true;
        *out = v;
        return VCORE_OK;
    }
    return VCORE_ERR_NOMEM;
}

void vcore__mock_vmcb_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    struct vcore_hw_vmcb *v = vcore__mock_vmcb_obj(m, vmcb);
    m->counts[VCORE_MOCK_OP_VMCB_FREE]++;
    if (!v) {
        (void)vcore__mock_vmcb_violation(m, VCORE_ERR_INVAL);
        return;
    }
    if (m->vmcb_last == v)
        m->vmcb_last = NULL;
    v->in_use = false;
}

int vcore__mock_vmcb_read(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                          uint64_t *value)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    struct vcore_hw_vmcb *v = vcore__mock_vmcb_obj(m, vmcb);
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCB_READ);
    if (err)
        return err;
    if (!v || !value)
        return vcore__mock_vmcb_violation(m, VCORE_ERR_INVAL);
    if (!vcore__mock_vmcb_named(offset, bytes))
        return vcore__mock_vmcb_violation(m, VCORE_ERR_NOENT);
    m->vmcb_reads[offset]++;
    return vcore_vmcb_read(&v->page, offset, bytes, value);
}

int vcore__mock_vmcb_write(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                           uint64_t value)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    struct vcore_hw_vmcb *v = vcore__mock_vmcb_obj(m, vmcb);
    if (!v)
        return vcore__mock_vmcb_violation(m, VCORE_ERR_INVAL);
    if (!vcore__mock_vmcb_named(offset, bytes))
        return vcore__mock_vmcb_violation(m, VCORE_ERR_NOENT);
    if (vcore_vmcb_field_backend_owned(offset))
        return vcore__mock_vmcb_violation(m, VCORE_ERR_STATE);
    m->vmcb_writes[offset]++;
    uint64_t old = 0;
    if (vcore_vmcb_read(&v->page, offset, bytes, &old) != VCORE_OK)
        return vcore__mock_vmcb_violation(m, VCORE_ERR_RANGE);
    uint64_t mask = bytes == 8 ? ~0ull : (1ull << (8u * bytes)) - 1u;
    if (old == (value & mask))
        return vcore__mock_op(m, VCORE_MOCK_OP_VMCB_WRITE_SAME);
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCB_WRITE);
    if (err)
        return err;
    v->dirty |= vcore_vmcb_clean_bit(offset);
    return vcore_vmcb_write(&v->page, offset, bytes, value);
}

int vcore__mock_vmcb_setup(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, const vcore_hw_vmcb_setup_t *s)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    struct vcore_hw_vmcb *v = vcore__mock_vmcb_obj(m, vmcb);
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCB_SETUP);
    if (err)
        return err;
    if (!v || !s || s->size != sizeof(*s) || s->npt > VCORE_HW_VMCB_NPT_SHADOW ||
        (s->flush & ~(VCORE_HW_VMCB_FLUSH_ASID | VCORE_HW_VMCB_FLUSH_SHADOW)))
        return vcore__mock_vmcb_violation(m, VCORE_ERR_INVAL);
    /* A nested table of another kind: whatever was cached is of no use. */
    if (v->npt != s->npt)
        v->dirty |= VCORE_VMCB_CLEAN_NP;
    v->npt = s->npt;
    v->flush |= s->flush;
    m->vmcb_info.npt = s->npt;
    /* Maps stated unchanged keep what the VMCB holds (a first setup copies). */
    if (v->maps_set && s->maps_unchanged)
        return VCORE_OK;
    v->maps_set = true;
    m->vmcb_info.map_copies++;
    m->vmcb_info.msrpm_first = 0;
    m->vmcb_info.iopm_first = 0;
    if (s->msrpm)
        vcore__memcpy(&m->vmcb_info.msrpm_first, s->msrpm, 8);
    if (s->iopm)
        vcore__memcpy(&m->vmcb_info.iopm_first, s->iopm, 8);
    return VCORE_OK;
}

int vcore__mock_vmcb_npt_map(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint64_t gpa, uint64_t vm_gpa,
                             uint32_t prot)
{
    vcore__mock_vcpu_t *m = priv;
    struct vcore_hw_vmcb *v = vcore__mock_vmcb_obj(m, vmcb);
    if (!v || v->npt != VCORE_HW_VMCB_NPT_SHADOW || (gpa & 0xfffu) || (vm_gpa & 0xfffu) ||
        (prot & ~(VCORE_HW_NPT_WRITE | VCORE_HW_NPT_EXEC)))
        return vcore__mock_vmcb_violation(m, VCORE_ERR_INVAL);
    /* RAM of the VM is what the VM's memory map can read. */
    uint8_t probe;
    if (vcore_vm_read_guest(vcore_vcpu_vm(vcpu), vm_gpa, &probe, 1) != VCORE_OK)
        return VCORE_ERR_NOENT;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCB_NPT_MAP);
    if (err)
        return err;
    v->npt_maps++;
    m->vmcb_info.npt_maps = v->npt_maps;
    m->vmcb_info.last_gpa = gpa;
    m->vmcb_info.last_vm_gpa = vm_gpa;
    m->vmcb_info.last_prot = prot;
    return VCORE_OK;
}

/* The reply to the VMCB's pending exit, completed as the instruction would
 * (APM Vol. 3: CPUID, RDMSR, IN write their registers; every answered
 * instruction ends at NRIP). */
static void vcore__mock_vmcb_reply(vcore__mock_vcpu_t *m, struct vcore_hw_vmcb *v, vcore_x86_regs_t *g,
                                   const vcore_exit_t *ex)
{
    m->counts[VCORE_MOCK_OP_REPLY]++;
    m->last_reply = *ex;
    m->have_reply = true;
    vcore_vmcb_save_t *s = &v->page.save;
    switch (v->pending) {
    case VCORE_EXIT_CPUID:
        s->rax = ex->u.cpuid.eax;
        g->gpr[VCORE_X86_RBX] = ex->u.cpuid.ebx;
        g->gpr[VCORE_X86_RCX] = ex->u.cpuid.ecx;
        g->gpr[VCORE_X86_RDX] = ex->u.cpuid.edx;
        break;
    case VCORE_EXIT_RDMSR:
        if (ex->u.msr.error)
            return; /* not completed: the #GP is the core's */
        s->rax = ex->u.msr.value & 0xffffffffu;
        g->gpr[VCORE_X86_RDX] = ex->u.msr.value >> 32;
        break;
    case VCORE_EXIT_WRMSR:
        if (ex->u.msr.error)
            return;
        break;
    case VCORE_EXIT_HYPERCALL:
        s->rax = ex->u.hypercall.ret;
        break;
    case VCORE_EXIT_IO:
        if (ex->u.io.is_in && ex->u.io.count == 1) {
            uint64_t val = 0;
            vcore__memcpy(&val, m->io_buf, ex->u.io.width);
            s->rax = ex->u.io.width == 4 ? val : (s->rax & ~((1ull << (8u * ex->u.io.width)) - 1u)) | val;
        }
        break;
    default: /* MMIO, HLT: the data stays in the reply record */
        break;
    }
    s->rip = v->page.control.next_rip;
}

int vcore__mock_vmcb_run(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, vcore_x86_regs_t *gprs,
                         vcore_exit_t *exit)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    struct vcore_hw_vmcb *v = vcore__mock_vmcb_obj(m, vmcb);
    int err = vcore__mock_op(m, VCORE_MOCK_OP_VMCB_RUN);
    if (err)
        return err;
    if (!v || !gprs || !exit)
        return vcore__mock_vmcb_violation(m, VCORE_ERR_INVAL);
    /* backend.h: the exit handed in answers this VMCB's pending exit, or
     * is NONE when nothing is answered. */
    if (exit->reason != VCORE_EXIT_NONE && exit->reason != v->pending)
        return vcore__mock_vmcb_violation(m, VCORE_ERR_STATE);
    if (v->pending && exit->reason == v->pending)
        vcore__mock_vmcb_reply(m, v, gprs, exit);
    v->pending = 0;
    /* A kick before VMRUN (as the svm backend): the reply is complete,
     * the guest does not run, no scripted exit is taken. */
    if (__atomic_exchange_n(&m->kicked, 0, __ATOMIC_ACQ_REL)) {
        vcore__memset(&exit->u, 0, sizeof(exit->u));
        vcore__memset(&exit->raw, 0, sizeof(exit->raw));
        exit->reason = VCORE_EXIT_INTERRUPTED;
        exit->flags = 0;
        exit->raw.source = VCORE_EXIT_SRC_SVM;
        return VCORE_OK;
    }
    if (m->vmcb_count == 0)
        return VCORE_ERR_UNSCRIPTED;
    const vcore_mock_vmcb_exit_t *sc = &m->vmcb_script[m->vmcb_head];
    m->vmcb_head = (m->vmcb_head + 1u) % VCORE__MOCK_VMCB_SCRIPT;
    m->vmcb_count--;
    /* VMRUN: the clean bits of the fields unchanged since the last run. */
    m->vmcb_info.clean = v->ran ? ((uint32_t)VCORE_VMCB_CLEAN_ALL_ & ~v->dirty) : 0u;
    if (v->flush & VCORE_HW_VMCB_FLUSH_ASID)
        m->vmcb_info.flushes++;
    if (v->flush & VCORE_HW_VMCB_FLUSH_SHADOW) {
        m->vmcb_info.shadow_resets++;
        v->npt_maps = 0;
    }
    v->flush = 0;
    v->dirty = 0;
    v->ran = true;
    m->vmcb_last = v;
    /* #VMEXIT: what the processor stores. */
    vcore_vmcb_control_t *c = &v->page.control;
    c->exit_code = sc->exit_code;
    c->exit_info1 = sc->exit_info1;
    c->exit_info2 = sc->exit_info2;
    c->exit_int_info = sc->exit_int_info;
    c->next_rip = sc->next_rip;
    m->vmcb_info.event_inj = c->event_inj;
    for (uint32_t i = 0; i < sc->nfields; i++)
        if (vcore_vmcb_write(&v->page, sc->fields[i].offset, sc->fields[i].bytes, sc->fields[i].value) != VCORE_OK)
            return vcore__mock_vmcb_violation(m, VCORE_ERR_RANGE); /* checked when pushed */
    for (uint32_t i = 0; i < 16; i++)
        if ((sc->gpr_mask >> i) & 1u)
            gprs->gpr[i] = sc->gprs[i];
    for (uint32_t i = 0; i < 16; i++)
        m->vmcb_gprs[i] = gprs->gpr[i];
    vcore__memcpy(exit, &sc->exit, sizeof(*exit));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->raw.source = VCORE_EXIT_SRC_SVM;
    exit->raw.reason = (uint32_t)sc->exit_code;
    exit->raw.qualification = sc->exit_info1;
    exit->raw.data[0] = sc->exit_code;
    exit->raw.data[1] = sc->exit_info2;
    exit->raw.data[2] = sc->exit_int_info;
    exit->raw.data[4] = sc->next_rip;
    if (exit->reason == VCORE_EXIT_IO)
        exit->u.io.data = m->io_buf;
    /* Exits the backend completes at the next run, reply or not: an OUT
     * ends with RIP past the instruction like an IN. */
    if ((exit->flags & VCORE_EXIT_F_NEEDS_REPLY) || exit->reason == VCORE_EXIT_HLT || exit->reason == VCORE_EXIT_IO)
        v->pending = exit->reason;
    return VCORE_OK;
}

int vcore_mock_push_vmcb_exit(vcore_vcpu_t *vcpu, const vcore_mock_vmcb_exit_t *ex)
{
    vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !ex)
        return VCORE_ERR_INVAL;
    if (ex->size != sizeof(*ex) || ex->exit.size != sizeof(ex->exit))
        return VCORE_ERR_ABI;
    if (ex->nfields > VCORE_MOCK_VMCB_EXIT_FIELDS)
        return VCORE_ERR_INVAL;
    for (uint32_t i = 0; i < ex->nfields; i++)
        if (!vcore__mock_vmcb_named(ex->fields[i].offset, ex->fields[i].bytes))
            return VCORE_ERR_INVAL;
    if (m->vmcb_count == VCORE__MOCK_VMCB_SCRIPT)
        return VCORE_ERR_RANGE;
    m->vmcb_script[(m->vmcb_head + m->vmcb_count) % VCORE__MOCK_VMCB_SCRIPT] = *ex;
    m->vmcb_count++;
    return VCORE_OK;
}

int vcore_mock_vmcb_count(const vcore_vcpu_t *vcpu, uint32_t offset, uint64_t *reads, uint64_t *writes)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || offset >= VCORE_VMCB_SIZE)
        return VCORE_ERR_INVAL;
    if (reads)
        *reads = m->vmcb_reads[offset];
    if (writes)
        *writes = m->vmcb_writes[offset];
    return VCORE_OK;
}

int vcore_mock_vmcb_info(const vcore_vcpu_t *vcpu, vcore_mock_vmcb_info_t *out)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !out)
        return VCORE_ERR_INVAL;
    if (out->size != sizeof(*out))
        return VCORE_ERR_ABI;
    if (!m->counts[VCORE_MOCK_OP_VMCB_RUN])
        return VCORE_ERR_NOENT;
    *out = m->vmcb_info;
    out->size = sizeof(*out);
    return VCORE_OK;
}

int vcore_mock_vmcb_peek(const vcore_vcpu_t *vcpu, uint32_t offset, uint32_t bytes, uint64_t *value)
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !value)
        return VCORE_ERR_INVAL;
    if (!m->vmcb_last)
        return VCORE_ERR_NOENT;
    return vcore_vmcb_read(&m->vmcb_last->page, offset, bytes, value);
}

int vcore_mock_vmcb_gprs(const vcore_vcpu_t *vcpu, uint64_t gprs[16])
{
    const vcore__mock_vcpu_t *m = vcore__mock_of(vcpu);
    if (!m || !gprs)
        return VCORE_ERR_INVAL;
    vcore__memcpy(gprs, m->vmcb_gprs, sizeof(m->vmcb_gprs));
    return VCORE_OK;
}
