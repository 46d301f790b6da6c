/*
 * vcpu_nested_fast.c - L1's VMREAD and VMWRITE with a register operand,
 * completed inside the run loop (no hardware VMCS shadowing, or a field the
 * shadow VMCS does not hold): the library checks what the SDM leaves to it
 * after the VM exit, reads or writes vmcs12 and enters L1 again, without
 * the instruction emulation of nvmx.h. Anything the fast path does not
 * decide itself (a fault, a VMfail, RFLAGS.TF, a field it does not hold)
 * goes to that emulation (vcpu_nested.c), which gives the same result.
 */
#include "vcpu_nested.h"

#include "x86/x86_bits.h"

/* Whether L1's VMREAD/VMWRITE exits may take the fast path at all: L1 in
 * VMX root operation with a current VMCS (else VMfailInvalid or #UD), no
 * VMCS shadowing of L0's in use (the shadow VMCS would go stale), every
 * field of its table one L1's processor has (else VMfailValid 12), and
 * nothing the run loop does before an entry due: no event or shutdown the
 * core holds (vcpu_events.c), no Hyper-V. Completing a VMREAD or VMWRITE
 * changes none of it. */
static bool vcore__vcpu_nested_fast_ok(const vcore_vcpu_t *vcpu)
{
    const vcore__x86_vcpu_t *x = vcpu->x86;
    const vcore_nvmx_t *nv = vcpu->nvmx;
    return !x->queued && !x->shutdown_pending && !vcpu->hv && nv->vmx_operation && !nv->in_l2 &&
           nv->current_vmptr != VCORE__INVALID_PTR && !nv->hw_linked && !(nv->opts & (VCORE_NVMX_OPT_NO_FAST_PATH | VCORE__NVMX_OPT_NO_FAST_FIELDS));
}

/* The state groups the fast path reads, RSP apart: the operands, RIP,
 * RFLAGS (TF, VM, the VMsucceed flags), CS/SS access rights (CPL, CS.L),
 * IA32_EFER (LMA: the operand size) and the interruptibility state. */
#define VCORE__NESTED_FAST_GROUPS                                                                \
    (VCORE_X86_STATE_GPRS | VCORE_X86_STATE_RIP | VCORE_X86_STATE_RFLAGS | VCORE_X86_STATE_MODE | \
     VCORE_X86_STATE_EFER | VCORE_X86_STATE_EVENTS)

/* SDM Vol. 3, "VMREAD", "VMWRITE" (Operation) with "Relative Priority of
 * Faults and VM Exits": in VMX non-root operation the #UD conditions
 * (CR0.PE = 0, RFLAGS.VM = 1, IA32_EFER.LMA = 1 and CS.L = 0) are checked
 * before the VM exit, so L1's exit already says they do not hold (CR0 is
 * not fetched; an exit that shows RFLAGS.VM or LMA without CS.L, which no
 * processor produces, goes to the ordinary path). What comes after the
 * exit decision is L0's: CPL > 0 is #GP(0), and a missing current VMCS
 * (vcore__vcpu_nested_fast_ok), an unsupported encoding or a read-only
 * field is VMfail: the ordinary path raises them. The operand size is 64
 * bits in 64-bit mode, 32 outside (the encoding and the VMWRITE source are
 * the register's low half; the VMREAD destination is zero-extended). The
 * completion ends blocking by STI or MOV SS ("Interruptibility State");
 * with RFLAGS.TF a single-step trap follows the instruction ("Single-Step
 * Exception Condition"): the ordinary path delivers it.
 * The general step: any mode, any register, any state of the model's
 * copy; the groups it changed, 0 when the instruction is not completed. */
static inline uint32_t vcore__vcpu_nested_fast_one(vcore_vcpu_t *vcpu, vcore_x86_state_t *st, vcore_nvmx_t *nv,
                                                   const vcore_exit_t *exit)
{
    uint32_t ii = exit->u.vmx_insn.insn_info, op = exit->u.vmx_insn.op;
    /* VMREAD or VMWRITE (adjacent in vcore_nvmx_op_t) with a register
     * operand: instruction-information bit 10. */
    if (op - VCORE_NVMX_VMREAD > VCORE_NVMX_VMWRITE - VCORE_NVMX_VMREAD || !VCORE__II_IS_REG(ii))
        return 0;
    uint32_t r1 = VCORE__II_REG1(ii), r2 = VCORE__II_REG2(ii);
    /* RSP is held by the VMCS on VMX: fetched only when an operand names it
     * (the run brings the other groups back with the exit). */
    uint32_t need = VCORE__NESTED_FAST_GROUPS;
    if (r1 == VCORE_X86_RSP || r2 == VCORE_X86_RSP)
        need |= VCORE_X86_STATE_RSP;
    if (vcore__vcpu_sync_in(vcpu, need) != VCORE_OK)
        return 0;
    uint64_t lma = st->sregs.efer & VCORE__EFER_LMA;
    if ((st->regs.rflags & (VCORE__RFLAGS_VM | VCORE__RFLAGS_TF)) ||
        (st->sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK) ||
        (lma && !(st->sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L)))
        return 0;
    uint64_t width = lma ? ~0ull : 0xffffffffull;
    bool write = op == VCORE_NVMX_VMWRITE;
    uint64_t v = st->regs.gpr[r1] & width, written = 0;
    /* No shadowed field is lazily synced (vcpu_nested_exit.c): vmcs12
     * holds its value. */
    if (!vcore__nvmx_fast_rw(nv, write, st->regs.gpr[r2] & width, &v, &written))
        return 0;
    vcore__nvmx_fast_written(nv, written);
    /* Every group written was fetched above: valid already. */
    uint32_t dirty = VCORE_X86_STATE_RIP | VCORE_X86_STATE_RFLAGS;
    if (!write) {
        st->regs.gpr[r1] = v & width;
        dirty |= vcore__x86_gpr_group(r1);
    }
    /* VMsucceed ("Conventions"): the arithmetic flags clear; RIP past the
     * instruction, 32 bits wide outside 64-bit mode. */
    st->regs.rflags &= ~VCORE__RFLAGS_ARITH;
    st->regs.rip = (st->regs.rip + exit->u.vmx_insn.insn_len) & width;
    if (st->events.sti_blocking | st->events.movss_blocking) {
        st->events.sti_blocking = 0;
        st->events.movss_blocking = 0;
        dirty |= VCORE_X86_STATE_EVENTS;
    }
    return dirty;
}

/* The key of vcore__vcpu_nested_fast_run(): basic exit reason, then
 * instruction information. */
VCORE__STATIC_ASSERT(offsetof(vcore_exit_t, u.vmx_insn.insn_info) == offsetof(vcore_exit_t, u.vmx_insn.basic_reason) + 4,
                     vmx_insn_key_adjacent);

VCORE__STATIC_ASSERT(offsetof(vcore_x86_events_t, movss_blocking) == offsetof(vcore_x86_events_t, sti_blocking) + 1,
                     blocking_adjacent);

/* What vcore__vcpu_nested_fast_run() returns besides a backend error. */
enum {
    VCORE__FAST_STEP = 0, /* the exit in hand is for the general step */
    VCORE__FAST_NEXT = 1  /* the exit in hand is not the op's: dispatch again */
};

/* The loop specialised for one op (write: VMWRITE, else VMREAD), in the
 * state the runner leaves after a run that brought back every group it
 * asked for: the model's copy of those groups is current and nothing is
 * dirty (vcpu->valid and vcpu->dirty need no store while that lasts; a run
 * that brings back less, or fails, stores them). The backend holds every
 * group the loop reads or writes (the caller's test), so what it loads and
 * asks back is the same each time. It completes the instructions of the
 * common case - 64-bit mode at CPL 0, RFLAGS.TF and RFLAGS.VM clear, no
 * blocking by STI or MOV SS, neither operand RSP, a field the fast path
 * holds - and leaves every other one, without changing anything, to the
 * general step (vcore__vcpu_nested_fast_one). L1 may change mode (CPL,
 * CS.L, IA32_EFER.LMA) or RFLAGS between two exits without one the
 * library sees, so each exit's state is checked again: the conditions of
 * the general step ("VMREAD", "VMWRITE", "Relative Priority of Faults and
 * VM Exits"), the operand size being 64 bits. 64-bit mode is IA32_EFER.LMA
 * alone here: with LMA = 1 and CS.L = 0 the instruction is #UD before the
 * VM exit, so an exit with LMA = 1 comes from 64-bit mode. The operands
 * are decoded from the instruction information once for a run of exits
 * with the same value (the same operands: an L1 hypervisor's accessor
 * runs the same instruction again); a different value is decoded and
 * checked anew. The basic exit reason and the instruction information
 * are one 8-byte key: a run of exits with the same key is the same op with
 * the same operands. That needs the basic reason the backend reports
 * (exit.h) to be the op's: an exit with another one goes to the general
 * step, which reads only the op. */
static inline int vcore__vcpu_nested_fast_run(vcore_vcpu_t *vcpu, const vcore__vcpu_runner_t *r,
                                              vcore_exit_t *exit, bool write)
{
    vcore_x86_state_t *st = &vcpu->x86->st;
    vcore_nvmx_t *nv = vcpu->nvmx;
    const uint32_t op = write ? VCORE_NVMX_VMWRITE : VCORE_NVMX_VMREAD;
    /* What the completion changes: RIP, RFLAGS, and the destination (a GPR
     * other than RSP) of a VMREAD. */
    const uint32_t push = VCORE_X86_STATE_RIP | VCORE_X86_STATE_RFLAGS | (write ? 0u : VCORE_X86_STATE_GPRS);
    /* The groups asked back (as asked while every run brings them all),
     * the fields the VMWRITEs wrote, marked dirty on the way out, and the
     * vCPU as the run's first argument (the loop's only use of it): one
     * object whose address the backend gets, so these stay in memory (one
     * store per VMWRITE, one load per run) rather than taking registers the
     * loop's operands and key need. */
    struct {
        uint32_t pull;
        uint64_t written;
        vcore_vcpu_t *vcpu;
    } loc = {VCORE__NESTED_FAST_GROUPS, 0, vcpu};
    uint64_t key; /* of the exits the operands were decoded for */
    int ret = VCORE__FAST_NEXT;
    for (;;) {
        uint32_t ii = exit->u.vmx_insn.insn_info;
        size_t r1 = VCORE__II_REG1(ii), r2 = VCORE__II_REG2(ii);
        if (!VCORE__II_IS_REG(ii) || r1 == VCORE_X86_RSP || r2 == VCORE_X86_RSP ||
            exit->u.vmx_insn.basic_reason != (write ? VCORE_VMX_EXIT_VMWRITE : VCORE_VMX_EXIT_VMREAD)) {
            ret = VCORE__FAST_STEP;
            break;
        }
        vcore__memcpy(&key, &exit->u.vmx_insn.basic_reason, 8);
        for (;;) {
            /* RFLAGS.TF and RFLAGS.VM are in its low half (little-endian
             * host, like vmcs12's accesses): tested in memory, the
             * completion clears the flags there. Blocking by STI and by
             * MOV SS, adjacent bytes, are one 2-byte load. */
            uint32_t flags;
            uint16_t blocking;
            vcore__memcpy(&flags, &st->regs.rflags, 4);
            vcore__memcpy(&blocking, &st->events.sti_blocking, 2);
            if ((flags & (VCORE__RFLAGS_VM | VCORE__RFLAGS_TF)) ||
                (st->sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK) || !(st->sregs.efer & VCORE__EFER_LMA) ||
                blocking) {
                ret = VCORE__FAST_STEP;
                goto out;
            }
            uint64_t v = st->regs.gpr[r1];
            if (!vcore__nvmx_fast_rw(nv, write, st->regs.gpr[r2], &v, &loc.written)) {
                ret = VCORE__FAST_STEP;
                goto out;
            }
            /* VMsucceed ("Conventions"). */
            st->regs.rflags &= ~VCORE__RFLAGS_ARITH;
            st->regs.rip += exit->u.vmx_insn.insn_len;
            if (!write)
                st->regs.gpr[r1] = v;
            int err = r->run_sync(loc.vcpu, r->priv, &vcpu->state, push, &loc.pull, exit);
            if (err) { /* what the completion changed is push */
                ret = vcore__vcpu_runner_failed(vcpu, r, push, push, err);
                goto out;
            }
            if (loc.pull != VCORE__NESTED_FAST_GROUPS) {
                /* Fewer groups: the caller's test of vcpu->valid sends the
                 * exit to the general step, which fetches what is missing. */
                vcpu->valid = (vcpu->valid & ~r->held) | loc.pull;
                goto out;
            }
            if (exit->reason != VCORE_EXIT_VMX_INSN)
                goto out;
            uint64_t next;
            vcore__memcpy(&next, &exit->u.vmx_insn.basic_reason, 8);
            if (next != key)
                break;
        }
        /* Another instruction: the same op is decoded again. */
        if (exit->u.vmx_insn.op != op)
            goto out;
    }
out:
    if (write)
        vcore__nvmx_fast_written(nv, loc.written);
    return ret;
}

/* The loop runs L1 again after each completed instruction and asks the
 * backend for the groups the next one reads together with the exit
 * (vcore__vcpu_enter_pull). Nothing the completion changes is a reason for
 * the run loop's before-entry work (vcore__vcpu_nested_fast_ok). */
int vcore__vcpu_nested_fast(vcore_vcpu_t *vcpu, vcore_exit_t *exit)
{
    if (!vcore__vcpu_nested_fast_ok(vcpu))
        return VCORE_OK;
    vcore_x86_state_t *st = &vcpu->x86->st;
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint32_t dirty;
    int err = VCORE_OK;
    if (!vcpu->vm->ops.vcpu_run_sync) {
        /* backend.h: the same runs through vcpu_set_state and vcpu_run;
         * the next instruction's groups are fetched as it reads them. */
        while (!err && (dirty = vcore__vcpu_nested_fast_one(vcpu, st, nv, exit)) != 0) {
            vcpu->dirty |= dirty;
            err = vcore__vcpu_enter(vcpu, exit);
            if (exit->reason != VCORE_EXIT_VMX_INSN)
                break;
        }
        return err;
    }
    vcore__vcpu_runner_t r;
    vcore__vcpu_runner(vcpu, &r, VCORE__NESTED_FAST_GROUPS);
    /* The op loops need a backend holding every group they use. */
    const bool loops = r.pull == VCORE__NESTED_FAST_GROUPS;
    for (;;) {
        /* One loop per op, entered again when the op of the next exit
         * differs, with the groups of the exit in hand fetched and nothing
         * dirty: the loops and vcore__vcpu_runner_enter() leave nothing
         * dirty, the first exit may find the caller's changes. */
        if (loops && !vcpu->dirty) {
            int next;
            do {
                if (exit->reason != VCORE_EXIT_VMX_INSN)
                    return VCORE_OK;
                uint32_t op = exit->u.vmx_insn.op;
                if (op != VCORE_NVMX_VMREAD && op != VCORE_NVMX_VMWRITE)
                    return VCORE_OK;
                /* A failed fetch: the ordinary path fetches again. */
                if (vcore__vcpu_sync_in(vcpu, VCORE__NESTED_FAST_GROUPS) != VCORE_OK)
                    return VCORE_OK;
                if (op == VCORE_NVMX_VMREAD)
                    next = vcore__vcpu_nested_fast_run(vcpu, &r, exit, false);
                else
                    next = vcore__vcpu_nested_fast_run(vcpu, &r, exit, true);
                if (next < 0)
                    return next;
            } while (next == VCORE__FAST_NEXT);
        }
        /* The general step: any exit the op loops leave. */
        dirty = vcore__vcpu_nested_fast_one(vcpu, st, nv, exit);
        if (!dirty)
            return VCORE_OK;
        err = vcore__vcpu_runner_enter(vcpu, &r, dirty, exit);
        if (err)
            return err;
    }
}
