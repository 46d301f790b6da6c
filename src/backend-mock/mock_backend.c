/*
 * mock_backend.c - the mock backend's ops: a software model with scripted exits.
 *
 * It behaves like a strict piece of hardware: registers live in its own
 * copy (so the core's lazy sync is exercised for real), exits come only
 * from the script, and anything unscripted fails with VCORE_ERR_UNSCRIPTED.
 */
#include "mock_priv.h"

static int vcore__mock_vm_init(vcore_vm_t *vm, void *priv)
{
    (void)vm;
    ((vcore__mock_vm_t *)priv)->counts[VCORE_MOCK_OP_VM_INIT]++;
    return VCORE_OK;
}

static void vcore__mock_vm_fini(vcore_vm_t *vm, void *priv)
{
    (void)vm;
    (void)priv;
}

static int vcore__mock_vm_map(vcore_vm_t *vm, void *priv, uint32_t slot,
                              const vcore_mem_region_t *r)
{
    (void)vm;
    (void)slot;
    (void)r;
    ((vcore__mock_vm_t *)priv)->counts[VCORE_MOCK_OP_VM_MAP]++;
    return VCORE_OK;
}

static int vcore__mock_vm_unmap(vcore_vm_t *vm, void *priv, uint32_t slot,
                                const vcore_mem_region_t *r)
{
    (void)vm;
    (void)slot;
    (void)r;
    ((vcore__mock_vm_t *)priv)->counts[VCORE_MOCK_OP_VM_UNMAP]++;
    return VCORE_OK;
}

static int vcore__mock_vcpu_init(vcore_vcpu_t *vcpu, void *priv)
{
    vcore__mock_vcpu_t *m = priv;
    m->arch = vcore_vcpu_arch(vcpu);
    m->counts[VCORE_MOCK_OP_VCPU_INIT]++;
    vcore__mock_vmcs_init(m);
    vcore__memset(m->msr_pass01, 0, sizeof(m->msr_pass01));
    return VCORE_OK;
}

static void vcore__mock_vcpu_fini(vcore_vcpu_t *vcpu, void *priv)
{
    (void)vcpu;
    (void)priv;
}

static void vcore__mock_copy_arm64(vcore_arm64_state_t *dst, const vcore_arm64_state_t *src,
                                   uint32_t groups)
{
    if (groups & VCORE_ARM64_STATE_REGS)
        dst->regs = src->regs;
    if (groups & VCORE_ARM64_STATE_SYSREGS)
        dst->sys = src->sys;
}

/* One more transfer of each group in groups (vcore_mock_state_count()). */
static void vcore__mock_count_groups(uint64_t *counts, uint32_t groups)
{
    for (; groups; groups &= groups - 1u)
        counts[__builtin_ctz(groups)]++;
}

static int vcore__mock_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *st,
                                 uint32_t groups)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    m->current = &m->vmcs[0]; /* backend.h: the state ops work on vmcs01 */
    int err = vcore__mock_op(m, VCORE_MOCK_OP_GET_STATE);
    if (err)
        return err;
    vcore__mock_count_groups(m->state_gets, groups);
    if (st->arch == VCORE_ARCH_ARM64)
        vcore__mock_copy_arm64(st->u.arm64, &m->a64, groups);
    else
        vcore_x86_state_copy(st->u.x86, &m->st, groups);
    return VCORE_OK;
}

static int vcore__mock_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *st,
                                 uint32_t groups)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    m->current = &m->vmcs[0];
    int err = vcore__mock_op(m, VCORE_MOCK_OP_SET_STATE);
    if (err)
        return err;
    vcore__mock_count_groups(m->state_sets, groups);
    if (st->arch == VCORE_ARCH_ARM64)
        vcore__mock_copy_arm64(&m->a64, st->u.arm64, groups);
    else
        vcore_x86_state_copy(&m->st, st->u.x86, groups);
    /* The guest reads host TSC + offset: the offset makes the TSC it was given. */
    if (m->tsc_offsetting && (groups & VCORE_X86_STATE_TSC) && st->arch != VCORE_ARCH_ARM64 && m->vmcs[0].in_use)
        return vcore_vmcs12_set(m->vmcs[0].page, VCORE_VMCS_TSC_OFFSET, st->u.x86->msrs.tsc - m->host_tsc);
    return VCORE_OK;
}

static int vcore__mock_set_cpuid(vcore_vcpu_t *vcpu, void *priv, const vcore_cpuid_entry_t *e,
                                 uint32_t n)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_SET_CPUID);
    if (err)
        return err;
    if (n)
        vcore__memcpy(m->cpuid, e, n * sizeof(*e));
    m->ncpuid = n;
    return VCORE_OK;
}

/* Writes the low `width` bytes of RAX as IN does (a 32-bit result zeroes
 * bits 63:32, 8/16-bit results merge: SDM Vol. 1 "General-Purpose
 * Registers in 64-Bit Mode"). */
static void vcore__mock_set_rax(vcore__mock_vcpu_t *m, const uint8_t *data, uint32_t width)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < width && i < 8; i++)
        v |= (uint64_t)data[i] << (8 * i);
    uint64_t *rax = &m->st.regs.gpr[VCORE_X86_RAX];
    if (width >= 4)
        *rax = v & (width == 4 ? 0xffffffffull : ~0ull);
    else
        *rax = (*rax & ~((1ull << (8 * width)) - 1)) | v;
}

/* Applies the VMM's reply to the exit that asked for one, the way the
 * instruction would complete on hardware (RIP is left to the script). */
static void vcore__mock_apply_reply(vcore__mock_vcpu_t *m, const vcore_exit_t *ex)
{
    uint64_t *gpr = m->st.regs.gpr;
    m->counts[VCORE_MOCK_OP_REPLY]++;
    m->last_reply = *ex;
    m->have_reply = true;
    switch (m->pending) {
    case VCORE_EXIT_IO:
        if (ex->reason == VCORE_EXIT_IO && ex->u.io.count == 1)
            vcore__mock_set_rax(m, m->io_buf, ex->u.io.width);
        break;
    case VCORE_EXIT_CPUID: /* CPUID writes all four 32-bit registers */
        gpr[VCORE_X86_RAX] = ex->u.cpuid.eax;
        gpr[VCORE_X86_RBX] = ex->u.cpuid.ebx;
        gpr[VCORE_X86_RCX] = ex->u.cpuid.ecx;
        gpr[VCORE_X86_RDX] = ex->u.cpuid.edx;
        break;
    case VCORE_EXIT_RDMSR: /* RDMSR: EDX:EAX, unless the VMM asked for #GP */
        if (!ex->u.msr.error) {
            gpr[VCORE_X86_RAX] = ex->u.msr.value & 0xffffffffu;
            gpr[VCORE_X86_RDX] = ex->u.msr.value >> 32;
        }
        break;
    case VCORE_EXIT_HYPERCALL:
        /* VMCALL completes: RAX = result, RIP past the instruction; a
         * faulting one leaves both (the exception is in the event state). */
        if (!ex->u.hypercall.fault) {
            gpr[VCORE_X86_RAX] = ex->u.hypercall.ret;
            m->st.regs.rip += ex->u.hypercall.insn_len;
        }
        break;
    default: /* MMIO read: data stays in the reply record */
        break;
    }
    m->pending = 0;
}

static bool vcore__mock_needs_reply(const vcore_exit_t *ex)
{
    switch (ex->reason) {
    case VCORE_EXIT_IO:
        return ex->u.io.is_in;
    case VCORE_EXIT_MMIO:
        return !ex->u.mmio.is_write;
    case VCORE_EXIT_CPUID:
    case VCORE_EXIT_RDMSR:
    case VCORE_EXIT_WRMSR:
    case VCORE_EXIT_HYPERCALL:
        return true;
    default:
        return false;
    }
}

static int vcore__mock_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_RUN);
    if (err)
        return err;
    m->current = &m->vmcs[0]; /* backend.h: a run enters vmcs01 */
    /* The core checked that the reply belongs to the pending exit. */
    if (m->pending)
        vcore__mock_apply_reply(m, exit);
    if (__atomic_exchange_n(&m->kicked, 0, __ATOMIC_ACQ_REL)) {
        vcore__memset(exit, 0, sizeof(*exit));
        exit->size = sizeof(*exit);
        exit->reason = VCORE_EXIT_INTERRUPTED;
        exit->raw.source = VCORE_EXIT_SRC_MOCK;
        return VCORE_OK;
    }
    if (m->arch == VCORE_ARCH_X86_64 && vcore__mock_events_run(m, exit))
        return VCORE_OK;
    if (m->count == 0)
        return VCORE_ERR_UNSCRIPTED;
    *exit = m->script[m->head];
    m->head = (m->head + 1) % VCORE_MOCK_MAX_SCRIPT;
    m->count--;
    exit->raw.source = VCORE_EXIT_SRC_MOCK;
    exit->flags &= ~VCORE_EXIT_F_NEEDS_REPLY;
    if (exit->reason == VCORE_EXIT_IO) {
        /* String I/O data comes from the script's raw words for OUT. */
        exit->u.io.data = m->io_buf;
        size_t n = (size_t)exit->u.io.width * exit->u.io.count;
        if (n > sizeof(exit->raw.data))
            n = sizeof(exit->raw.data);
        vcore__memset(m->io_buf, 0, sizeof(m->io_buf));
        if (!exit->u.io.is_in)
            vcore__memcpy(m->io_buf, exit->raw.data, n);
    }
    if (vcore__mock_needs_reply(exit)) {
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        m->pending = exit->reason;
    }
    return VCORE_OK;
}

/* A flush request as the mock records it. */
static void vcore__mock_record_flush(vcore_mock_flush_t *f, const vcore_tlb_flush_t *req)
{
    vcore__memset(f, 0, sizeof(*f));
    f->size = sizeof(*f);
    f->kind = req->kind;
    f->count = req->count;
    for (uint32_t i = 0; i < req->count && i < VCORE_MOCK_FLUSH_RANGES; i++)
        f->ranges[i] = req->ranges[i];
}

/* backend.h vcpu_run_sync: what vcpu_set_state, vcpu_run and vcpu_get_state
 * do, in one call; each part counts as its own op (the transfers a
 * hardware backend makes), the call as VCORE_MOCK_OP_RUN_SYNC. A pull
 * while a failure of vcpu_get_state is injected delivers nothing: the
 * core's own fetch then meets the failure, as without this op. */
static int vcore__mock_run_sync(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *st, uint32_t push,
                                uint32_t *pull, vcore_exit_t *exit)
{
    vcore__mock_vcpu_t *m = priv;
    m->counts[VCORE_MOCK_OP_RUN_SYNC]++;
    int err = push ? vcore__mock_set_state(vcpu, priv, st, push) : VCORE_OK;
    if (!err)
        err = vcore__mock_run(vcpu, priv, exit);
    if (err)
        return err;
    if (!*pull || m->fail_next[VCORE_MOCK_OP_GET_STATE]) {
        *pull = 0;
        return VCORE_OK;
    }
    return vcore__mock_get_state(vcpu, priv, st, *pull);
}

static int vcore__mock_flush_tlb(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_FLUSH_TLB);
    if (err)
        return err;
    vcore__mock_record_flush(&m->last_flush, req);
    m->have_flush = true;
    return VCORE_OK;
}

static int vcore__mock_vpid02(vcore_vcpu_t *vcpu, void *priv, uint16_t *vpid)
{
    const vcore__mock_vcpu_t *m = priv;
    if (m->no_vpid02)
        return VCORE_ERR_UNSUPPORTED;
    *vpid = (uint16_t)(0x8001u + vcore_vcpu_id(vcpu));
    return VCORE_OK;
}

static int vcore__mock_flush_vpid02(vcore_vcpu_t *vcpu, void *priv, const vcore_tlb_flush_t *req)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    /* Strict: a vCPU the mock gave no vpid02 has nothing to flush. */
    if (m->no_vpid02 || !req || req->kind > VCORE_TLB_FLUSH_LIST || (req->kind == VCORE_TLB_FLUSH_LIST && !req->ranges))
        return VCORE_ERR_INVAL;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_FLUSH_VPID02);
    if (err)
        return err;
    vcore__mock_record_flush(&m->last_vpid02_flush, req);
    m->have_vpid02_flush = true;
    return VCORE_OK;
}

static bool vcore__mock_msr_exits(vcore_vcpu_t *vcpu, void *priv, uint32_t msr, bool write)
{
    (void)vcpu;
    const vcore__mock_vcpu_t *m = priv;
    uint32_t byte = 0, bit = 0;
    if (!vcore_nvmx_msr_bitmap_pos(msr, write, &byte, &bit))
        return true;
    return ((m->msr_pass01[byte] >> bit) & 1u) == 0;
}

static int vcore__mock_invept(vcore_vcpu_t *vcpu, void *priv, uint64_t eptp)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    int err = vcore__mock_op(m, VCORE_MOCK_OP_INVEPT);
    if (err)
        return err;
    m->last_invept = eptp;
    m->have_invept = true;
    return VCORE_OK;
}

static int vcore__mock_kick(vcore_vcpu_t *vcpu, void *priv)
{
    (void)vcpu;
    vcore__mock_vcpu_t *m = priv;
    __atomic_store_n(&m->kicked, 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&m->counts[VCORE_MOCK_OP_KICK], 1, __ATOMIC_RELAXED);
    return VCORE_OK;
}

const vcore_backend_t vcore__backend_mock_ops = {
    .size = sizeof(vcore_backend_t),
    .abi_version = VCORE_BACKEND_ABI_VERSION,
    .arches = VCORE_BACKEND_ARCH_X86_64 | VCORE_BACKEND_ARCH_ARM64,
    .name = "mock",
    .vm_priv_size = sizeof(vcore__mock_vm_t),
    .vcpu_priv_size = sizeof(vcore__mock_vcpu_t),
    .probe = NULL,
    .vm_init = vcore__mock_vm_init,
    .vm_fini = vcore__mock_vm_fini,
    .vm_map = vcore__mock_vm_map,
    .vm_unmap = vcore__mock_vm_unmap,
    .vm_dirty_log = NULL,
    .vcpu_init = vcore__mock_vcpu_init,
    .vcpu_fini = vcore__mock_vcpu_fini,
    .vcpu_get_state = vcore__mock_get_state,
    .vcpu_set_state = vcore__mock_set_state,
    .vcpu_set_cpuid = vcore__mock_set_cpuid,
    .vcpu_run = vcore__mock_run,
    .vcpu_kick = vcore__mock_kick,
    .state_groups = VCORE_X86_STATE_ALL | VCORE_X86_STATE_XMM, /* events and XMM included */
    .features = VCORE_BACKEND_FEAT_NMI_WINDOW,
    .vmx_caps = vcore__mock_vmx_caps,
    .vmcs_alloc = vcore__mock_vmcs_alloc,
    .vmcs_free = vcore__mock_vmcs_free,
    .vmcs_load = vcore__mock_vmcs_load,
    .vmcs_clear = vcore__mock_vmcs_clear,
    .vmcs_read = vcore__mock_vmcs_read,
    .vmcs_write = vcore__mock_vmcs_write,
    .vmcs_enter = vcore__mock_vmcs_enter,
    .vcpu_flush_tlb = vcore__mock_flush_tlb,
    .vcpu_invept = vcore__mock_invept,
    .vmcs_shadow_link = vcore__mock_vmcs_shadow_link,
    .vmcb_alloc = vcore__mock_vmcb_alloc,
    .vmcb_free = vcore__mock_vmcb_free,
    .vmcb_read = vcore__mock_vmcb_read,
    .vmcb_write = vcore__mock_vmcb_write,
    .vmcb_setup = vcore__mock_vmcb_setup,
    .vmcb_npt_map = vcore__mock_vmcb_npt_map,
    .vmcb_run = vcore__mock_vmcb_run,
    .vmcs_read_many = vcore__mock_vmcs_read_many,
    .vcpu_vpid02 = vcore__mock_vpid02,
    .vcpu_flush_vpid02 = vcore__mock_flush_vpid02,
    .vcpu_run_sync = vcore__mock_run_sync,
    .vmx_msr_exits = vcore__mock_msr_exits,
};
