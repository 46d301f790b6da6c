/*
 * hv_decode.c - a Hyper-V hypercall exit, from the registers to the result
 * value (TLFS, "Hypercall Interface"):
 *
 * 1. the legal environment: protected mode at CPL 0, else #UD ("Legal
 *    Hypercall Environments");
 * 2. the register convention of the caller's mode (EFER.LMA && CS.L: RCX,
 *    RDX, R8; otherwise EDX:EAX, EBX:ECX, EDI:ESI);
 * 3. the hypercall input value: reserved bits, call code, rep rules
 *    ("Hypercall Inputs");
 * 4. the input, bounded before anything is read: memory (8-byte aligned,
 *    within one page, inside the GPA space), fast (RDX, R8) or XMM fast
 *    (RDX, R8, XMM0-XMM5, 112 bytes; #UD when not advertised); each byte is
 *    copied once and only the copy is parsed;
 * 5. the call itself (hv_ipi.c, hv_flush.c) or, for a known call the
 *    library does not serve, the VMM (VCORE_EXIT_F_HYPERV);
 * 6. the result value (status in 15:0, reps completed in 43:32) in RAX or
 *    EDX:EAX through the exit's reply slot; the backend completes the
 *    instruction (RIP past it) at the next entry, or leaves it when the
 *    call raised #UD (u.hypercall.fault).
 */
#include "hv.h"

/* The calls the library serves, with the enlightenment each needs. */
typedef uint32_t (*vcore__hv_handler_t)(vcore_vcpu_t *vcpu, vcore__hv_input_t *in);
static const struct {
    uint16_t code;
    uint32_t features;
    vcore__hv_handler_t fn;
} vcore__hv_served[] = {
    {VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_SPACE, VCORE_HV_F_TLB_FLUSH, vcore__hv_flush},
    {VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_LIST, VCORE_HV_F_TLB_FLUSH, vcore__hv_flush},
    {VCORE_HV_CALL_SEND_SYNTHETIC_CLUSTER_IPI, VCORE_HV_F_IPI, vcore__hv_ipi},
    {VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_SPACE_EX, VCORE_HV_F_TLB_FLUSH | VCORE_HV_F_EX, vcore__hv_flush},
    {VCORE_HV_CALL_FLUSH_VIRTUAL_ADDRESS_LIST_EX, VCORE_HV_F_TLB_FLUSH | VCORE_HV_F_EX, vcore__hv_flush},
    {VCORE_HV_CALL_SEND_SYNTHETIC_CLUSTER_IPI_EX, VCORE_HV_F_IPI | VCORE_HV_F_EX, vcore__hv_ipi},
};

/* Rep class of a known call: 0 simple, 1 rep, -1 unknown code. */
static int vcore__hv_call_class(uint16_t code)
{
    switch (code) {
#define VCORE__HV_CALL_CASE(name, value, rep) case (value): return (rep);
        VCORE_HV_CALL_LIST(VCORE__HV_CALL_CASE)
#undef VCORE__HV_CALL_CASE
    default:
        return -1;
    }
}

const char *vcore_hv_status_name(uint32_t status)
{
    switch (status) {
#define VCORE__HV_STATUS_CASE(name, value) case (value): return #name;
        VCORE_HV_STATUS_LIST(VCORE__HV_STATUS_CASE)
#undef VCORE__HV_STATUS_CASE
    default:
        return "UNKNOWN";
    }
}

uint32_t vcore__hv_refuse(vcore_vcpu_t *vcpu, uint32_t diag, uint64_t value, uint32_t status)
{
    (void)vcore__diag_set(&vcpu->last_diag, diag, value);
    return status;
}

int vcore__hv_hook(vcore_vcpu_t *vcpu, vcore_hv_call_t *call, uint32_t *status)
{
    const vcore_hv_config_t *cfg = &vcpu->vm->hv->cfg;
    if (!cfg->hook)
        return VCORE_HV_DELIVER;
    call->size = sizeof(*call);
    call->status = 0;
    int v = cfg->hook(cfg->hook_ctx, vcpu, call);
    if (v == VCORE_HV_DELIVER || v == VCORE_HV_DONE)
        return v;
    /* A refusal (or a verdict the library does not know) delivers nothing. */
    uint32_t st = call->status ? call->status : VCORE_HV_STATUS_ACCESS_DENIED;
    *status = vcore__hv_refuse(vcpu, VCORE_DIAG_HV_HOOK_REFUSED, st, st);
    return VCORE_HV_REFUSE;
}

uint32_t vcore__hv_input_prepare(vcore_vcpu_t *vcpu, vcore__hv_input_t *in, uint32_t fixed)
{
    bool rep = vcore__hv_call_class(in->code) == 1;
    /* Bounded by 10 + 12 bits of QWORDs: no overflow in 32 bits. */
    in->size = fixed + 8u * in->var_size + (rep ? 8u * in->rep_count : 0u);
    if (in->fast) {
        in->block[0] = in->param1;
        in->block[1] = in->param2;
        in->nblock = 2;
        if (in->size <= 16)
            return VCORE_HV_STATUS_SUCCESS;
        /* More than RDX and R8 carry: the XMM fast convention. */
        if (!(vcpu->vm->hv->cfg.features & VCORE_HV_F_XMM_INPUT))
            return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_UD_XMM_INPUT, in->control, VCORE__HV_UD);
        if (in->size > 8u * VCORE__ARRAY_SIZE(in->block))
            return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_FAST_TOO_LARGE, in->size,
                                    VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT);
        int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_XMM);
        if (err) {
            in->err = err;
            return VCORE__HV_ERROR;
        }
        const vcore_x86_state_t *st = &vcpu->x86->st;
        for (uint32_t i = 0; i < 6; i++) {
            in->block[2 + 2 * i] = st->xmm[i][0];
            in->block[3 + 2 * i] = st->xmm[i][1];
        }
        in->nblock = 14;
        return VCORE_HV_STATUS_SUCCESS;
    }
    uint64_t gpa = in->param1;
    if (gpa & 7u)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_INPUT_ALIGNMENT, gpa,
                                VCORE_HV_STATUS_INVALID_ALIGNMENT);
    if ((gpa & 0xfffu) + in->size > 0x1000u)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_INPUT_CROSSES_PAGE, gpa,
                                VCORE_HV_STATUS_INVALID_ALIGNMENT);
    if (!vcore__x86_phys_ok(gpa, vcpu->x86->model.maxphyaddr))
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_INPUT_OUTSIDE_GPA, gpa,
                                VCORE_HV_STATUS_INVALID_ALIGNMENT);
    return VCORE_HV_STATUS_SUCCESS;
}

uint16_t vcore__hv_input_read(vcore_vcpu_t *vcpu, const vcore__hv_input_t *in, uint32_t off,
                              uint64_t *dst, uint32_t n)
{
    /* Callers read inside what prepare bounded; the check keeps it so. */
    if (off > in->size || 8u * n > in->size - off)
        return VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT;
    if (in->fast) {
        for (uint32_t i = 0; i < n; i++)
            dst[i] = in->block[off / 8u + i];
        return VCORE_HV_STATUS_SUCCESS;
    }
    if (vcore_vm_read_guest(vcpu->vm, in->param1 + off, dst, 8u * n) != VCORE_OK)
        return (uint16_t)vcore__hv_refuse(vcpu, VCORE_DIAG_HV_INPUT_OUTSIDE_GPA, in->param1 + off,
                                          VCORE_HV_STATUS_INVALID_ALIGNMENT);
    return VCORE_HV_STATUS_SUCCESS;
}

/* Decodes and runs a call; returns an HV status, or VCORE__HV_UD, or
 * VCORE__HV_FORWARD for a call the VMM gets. */
#define VCORE__HV_FORWARD 0x20000u
static uint32_t vcore__hv_call(vcore_vcpu_t *vcpu, vcore__hv_input_t *in)
{
    uint64_t c = in->control;
    in->code = (uint16_t)(c & VCORE_HV_CTL_CODE_MASK);
    in->fast = (c & VCORE_HV_CTL_FAST) != 0;
    in->var_size = (uint32_t)((c & VCORE_HV_CTL_VARHEAD_MASK) >> VCORE_HV_CTL_VARHEAD_SHIFT);
    in->rep_count = (uint32_t)((c >> VCORE_HV_CTL_REP_COUNT_SHIFT) & VCORE_HV_CTL_REP_MASK);
    in->rep_start = (uint32_t)((c >> VCORE_HV_CTL_REP_START_SHIFT) & VCORE_HV_CTL_REP_MASK);
    if (c & VCORE_HV_CTL_RESERVED)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_CONTROL_RESERVED, c,
                                VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT);
    int rep = vcore__hv_call_class(in->code);
    if (rep < 0)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_UNKNOWN_CODE, in->code,
                                VCORE_HV_STATUS_INVALID_HYPERCALL_CODE);
    /* "Rep Count: total number of reps (for rep call, must be zero
     * otherwise)"; "the rep count value must always be greater than the
     * rep start index". */
    if (rep ? in->rep_count == 0 : (in->rep_count || in->rep_start))
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_REP_COUNT, c,
                                VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT);
    if (rep && in->rep_start >= in->rep_count)
        return vcore__hv_refuse(vcpu, VCORE_DIAG_HV_REP_START, c,
                                VCORE_HV_STATUS_INVALID_HYPERCALL_INPUT);
    uint32_t features = vcpu->vm->hv->cfg.features;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(vcore__hv_served); i++)
        if (vcore__hv_served[i].code == in->code &&
            (vcore__hv_served[i].features & features) == vcore__hv_served[i].features)
            return vcore__hv_served[i].fn(vcpu, in);
    return VCORE__HV_FORWARD;
}

/* The result value of a completed call: status, and for a rep call that
 * succeeded the reps completed ("the total number of reps complete and not
 * relative to the rep start index"). */
static uint64_t vcore__hv_result(const vcore__hv_input_t *in, uint32_t status)
{
    uint64_t r = status & 0xffffu;
    if (status == VCORE_HV_STATUS_SUCCESS && vcore__hv_call_class(in->code) == 1)
        r |= (uint64_t)in->rep_count << VCORE_HV_RESULT_REPS_SHIFT;
    return r;
}

/* Puts the result where the caller's convention wants it: RAX, or EDX:EAX. */
static void vcore__hv_put_result(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool long64, uint64_t r)
{
    exit->u.hypercall.fault = 0;
    if (long64) {
        exit->u.hypercall.ret = r;
        return;
    }
    vcpu->x86->st.regs.gpr[VCORE_X86_RDX] = r >> 32;
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_GPRS);
    exit->u.hypercall.ret = (uint32_t)r;
}

/* The guest's GPRs at the width of its mode. */
static uint64_t vcore__hv_pair(const uint64_t *g, bool long64, uint32_t r64, uint32_t hi, uint32_t lo)
{
    return long64 ? g[r64] : ((uint64_t)(uint32_t)g[hi] << 32) | (uint32_t)g[lo];
}

int vcore__hv_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore__hv_t *hv = vcpu->vm->hv;
    /* Before the guest reports its identity it "can't invoke hypercalls":
     * the VMCALL is not a Hyper-V call and goes to the VMM untouched. */
    if (hv->host || __atomic_load_n(&hv->guest_os_id, __ATOMIC_SEQ_CST) == 0)
        return VCORE_OK;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS | VCORE_X86_STATE_RFLAGS |
                                            VCORE_X86_STATE_MODE | VCORE_X86_STATE_CR0 |
                                            VCORE_X86_STATE_EFER);
    if (err)
        return err;
    *handled = true;
    vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore_x86_state_t *st = &x->st;
    uint32_t status;
    vcore__hv_input_t in;
    vcore__memset(&in, 0, sizeof(in));
    /* "Legal Hypercall Environments": protected mode, CPL 0 (SS.DPL). */
    if (!(st->sregs.cr0 & VCORE__CR0_PE) || (st->regs.rflags & VCORE__RFLAGS_VM)) {
        status = vcore__hv_refuse(vcpu, VCORE_DIAG_HV_UD_REAL_MODE, st->sregs.cr0, VCORE__HV_UD);
    } else if ((st->sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK) != 0) {
        status = vcore__hv_refuse(vcpu, VCORE_DIAG_HV_UD_CPL,
                                  (st->sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK) >>
                                      VCORE_X86_AR_DPL_SHIFT,
                                  VCORE__HV_UD);
    } else {
        const uint64_t *g = st->regs.gpr;
        in.long64 = (st->sregs.efer & VCORE__EFER_LMA) &&
                    (st->sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L);
        in.control = vcore__hv_pair(g, in.long64, VCORE_X86_RCX, VCORE_X86_RDX, VCORE_X86_RAX);
        in.param1 = vcore__hv_pair(g, in.long64, VCORE_X86_RDX, VCORE_X86_RBX, VCORE_X86_RCX);
        in.param2 = vcore__hv_pair(g, in.long64, VCORE_X86_R8, VCORE_X86_RDI, VCORE_X86_RSI);
        status = vcore__hv_call(vcpu, &in);
    }
    if (status == VCORE__HV_FORWARD) {
        /* A known call the library leaves to the VMM: the exit goes out
         * with the decoded input; the reply completes it (vcore__hv_answer). */
        vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
        *handled = false;
        exit->flags |= VCORE_EXIT_F_HYPERV;
        exit->u.hypercall.hv.control = in.control;
        exit->u.hypercall.hv.input = in.param1;
        exit->u.hypercall.hv.output = in.param2;
        exit->u.hypercall.hv.code = in.code;
        exit->u.hypercall.hv.fast = in.fast ? 1u : 0u;
        exit->u.hypercall.hv.var_size = (uint16_t)in.var_size;
        exit->u.hypercall.hv.rep_count = (uint16_t)in.rep_count;
        exit->u.hypercall.hv.rep_start = (uint16_t)in.rep_start;
        exit->u.hypercall.longmode = in.long64 ? 1u : 0u;
        s->forwarded = true;
        s->forwarded_32 = !in.long64;
        return VCORE_OK;
    }
    if (status == VCORE__HV_ERROR)
        return in.err; /* the backend could not give the state */
    if (status == VCORE__HV_UD) {
        /* The instruction faults: RAX and RIP stay (fault flag). */
        exit->u.hypercall.fault = 1;
        exit->u.hypercall.ret = st->regs.gpr[VCORE_X86_RAX];
        return vcore__vcpu_raise_exception(vcpu, VCORE__VEC_UD, 0, false, 0);
    }
    vcore__hv_put_result(vcpu, exit, in.long64, vcore__hv_result(&in, status));
    return VCORE_OK;
}

int vcore__hv_answer(vcore_vcpu_t *vcpu, vcore_exit_t *exit)
{
    vcore__hv_vcpu_t *s = vcore__hv_slot(vcpu);
    if (!s->forwarded)
        return VCORE_OK;
    s->forwarded = false;
    if (!s->forwarded_32 || exit->u.hypercall.fault)
        return VCORE_OK;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
    if (err)
        return err;
    vcore__hv_put_result(vcpu, exit, false, exit->u.hypercall.ret);
    return VCORE_OK;
}

int vcore_hv_get_xmm(vcore_vcpu_t *vcpu, uint64_t out[12])
{
    if (!vcore__vcpu_ok(vcpu) || !out || !vcpu->vm->hv)
        return VCORE_ERR_INVAL;
    if (!(vcpu->vm->ops.state_groups & VCORE_X86_STATE_XMM))
        return VCORE_ERR_UNSUPPORTED;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_XMM);
    if (err)
        return err;
    for (uint32_t i = 0; i < 6; i++) {
        out[2 * i] = vcpu->x86->st.xmm[i][0];
        out[2 * i + 1] = vcpu->x86->st.xmm[i][1];
    }
    return VCORE_OK;
}
