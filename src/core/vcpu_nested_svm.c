/*
 * vcpu_nested_svm.c - nested SVM on a vCPU: the state is created with the
 * vCPU, RESET re-creates it, and the run loop's dispatch step emulates L1's
 * SVM instructions and its accesses to VM_HSAVE_PA without returning to
 * the VMM (AMD APM Vol. 3, "System Instruction Reference"; Vol. 2, "VM_HSAVE_PA
 * MSR (C001_0117h)").
 *
 * The emulation is the pure toolkit of nsvm.h; this file fetches the vCPU's
 * state, applies the outcome to the vCPU model, and leaves to the VMM what
 * is not the dispatch step's: SKINIT, L1's VMMCALL (a hypercall to L0's
 * VMM) and, on a backend without hardware VMCB ops, a VMRUN that enters L2
 * (the VMM runs vmcb02). With them, L2 runs in the run loop
 * (vcpu_nested_svm_run.c).
 */
#include "vcpu_x86.h"

#include "diag_set.h"

#include "virtcore/backend.h"
#include "x86/svm/nsvm_priv.h"

static int vcore__vcpu_nsvm_init(vcore_vcpu_t *vcpu, void *mem, size_t len, uint32_t features)
{
    vcore_nsvm_config_t c;
    vcore__memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.svm_features = features;
    c.maxphyaddr = vcpu->x86->model.maxphyaddr;
    c.l2_asid = 1; /* L0's choice: the backend maps it to a processor ASID */
    int err = vcore_nsvm_init(mem, len, &c, &vcpu->nsvm, &vcpu->last_diag);
    if (!err)
        vcpu->nsvm->pat_np_intercept = true; /* G_PAT is served by the run layer */
    return err;
}

int vcore__vcpu_nsvm_setup(vcore_vcpu_t *vcpu, void *mem, size_t len, const vcore_vcpu_config_t *cfg)
{
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    return vcore__vcpu_nsvm_init(vcpu, mem, len, cfg->nsvm_features);
}

void vcore__vcpu_nsvm_reset(vcore_vcpu_t *vcpu)
{
    /* RESET: GIF set, no guest, VM_HSAVE_PA 0 (APM Vol. 2, "Global
     * Interrupt Flag, STGI and CLGI Instructions"; "Processor
     * Initialization State"). The state is re-created in place. */
    vcore_nsvm_t *n = vcpu->nsvm;
    if (vcpu->vm->ops.vmcb_free)
        vcore__vcpu_nsvm_teardown(vcpu); /* nothing of L2 stays in use */
    (void)vcore__vcpu_nsvm_init(vcpu, n, vcore_nsvm_size(), n->features);
}

/* APM Vol. 3, "INVLPGA": the TLB mapping of the page at rAX for the ASID
 * in ECX. ASID 0 is the host's, here L1's own translations: the backend
 * invalidates that page for the vCPU through its TLB flush op (a backend
 * without the op has no cached translations of the vCPU to drop). Any other ASID is one of L1's guests: every
 * L2 runs on vmcb02's one ASID, flushed whole before its next run (more
 * than asked is allowed: "TLB Control"). */
static int vcore__vcpu_nsvm_invlpga(vcore_vcpu_t *vcpu, const vcore_nsvm_result_t *res)
{
    if (res->flush_asid != 0) {
        vcpu->nsvm->hw02_flush |= VCORE_HW_VMCB_FLUSH_ASID;
        return VCORE_OK;
    }
    if (!vcpu->vm->ops.vcpu_flush_tlb)
        return VCORE_OK;
    /* One page, in the encoding of vcore_tlb_flush_t (no extra pages). */
    uint64_t range = res->flush_va & ~0xfffull;
    vcore_tlb_flush_t f = {VCORE_TLB_FLUSH_LIST, 1, &range};
    int err = vcpu->vm->ops.vcpu_flush_tlb(vcpu, vcpu->priv, &f);
    return err < 0 ? err : (err ? VCORE_ERR_HWFAIL : VCORE_OK);
}

int vcore__vcpu_nsvm_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    vcore_nsvm_t *n = vcpu->nsvm;
    /* The instructions read the mode, the control registers, the segments
     * (VMLOAD/VMSAVE), the MSRs VMLOAD/VMSAVE move and DR7. */
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_ALL);
    if (err)
        return err;
    n->maxphyaddr = x->model.maxphyaddr;
    n->no_pages_1g = (x->model.features & VCORE_X86_FEAT_PAGE1GB) == 0;
    vcore_nsvm_insn_t in;
    vcore_nsvm_result_t res;
    vcore_nvmx_mem_t mem;
    vcore__memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.op = exit->u.svm_insn.op;
    in.insn_len = exit->u.svm_insn.insn_len;
    in.regs = x->st.regs;
    in.sregs = x->st.sregs;
    in.msrs = x->st.msrs;
    in.dr6 = x->st.dregs.dr6;
    in.dr7 = x->st.dregs.dr7;
    in.cpuid = x->cpuid;
    in.ncpuid = x->ncpuid;
    res.size = sizeof(res);
    mem.size = sizeof(mem);
    /* What a VMRUN the backend cannot complete must leave as it was. */
    bool gif0 = n->gif;
    uint32_t flush0 = n->hw02_flush;
    err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err)
        err = vcore_nsvm_emulate(n, &mem, &in, &res, &vcpu->last_diag);
    if (err == VCORE_ERR_STATE || err == VCORE_ERR_INVAL)
        return VCORE_OK; /* not an instruction L1 can execute now: the VMM sees it */
    if (err)
        return err;
    switch (res.outcome) {
    case VCORE_NSVM_OUT_DONE:
    case VCORE_NSVM_OUT_VMEXIT:
        /* VMLOAD's segments and MSRs, GIF; a refused VMRUN's #VMEXIT (DR7). */
        x->st.sregs = res.sregs;
        x->st.msrs = res.msrs;
        x->st.dregs.dr7 = res.dr7;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_SEGS | VCORE_X86_STATE_MSRS | VCORE_X86_STATE_DREGS);
        if (in.op == VCORE_NSVM_INVLPGA && res.outcome == VCORE_NSVM_OUT_DONE) {
            err = vcore__vcpu_nsvm_invlpga(vcpu, &res);
            if (err)
                return err;
        }
        *handled = true;
        return vcore__vcpu_x86_complete(vcpu, in.insn_len);
    case VCORE_NSVM_OUT_EXCEPTION:
        *handled = true;
        return vcore__vcpu_raise_exception(vcpu, res.vector, res.error_code, false, 0);
    case VCORE_NSVM_OUT_ENTER_L2:
        /* With hardware VMCB ops the run loop runs L2 (vcpu_nested_svm_run.c);
         * without, the VMM runs vmcb02 itself. */
        if (!vcpu->vm->ops.vmcb_run)
            return VCORE_OK;
        *handled = true;
        err = vcore__vcpu_nsvm_enter_l2(vcpu, &res);
        if (err) {
            /* All or nothing: the backend could not give L2 its vmcb02,
             * so the VMRUN did not happen. L1's state was not touched;
             * the nested state goes back to L1 at its VMRUN (the copies
             * of VMCB12 and vmcb02 are only read in guest mode; the
             * VMCB12 cache is dropped, a full reload is always correct). */
            n->guest_mode = false;
            n->run_pending = false;
            n->gif = gif0;
            n->cache_valid = false;
            n->hw02_active = false;
            n->hw02_flush = flush0;
            (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NSVM_VMCB02_FAILED, (uint64_t)(int64_t)err);
        }
        return err;
    default:
        /* TO_VMM: the VMM's, with the vCPU still at L1's instruction. */
        return VCORE_OK;
    }
}

int vcore__vcpu_nsvm_msr(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    *handled = true;
    if (exit->reason == VCORE_EXIT_RDMSR) {
        exit->u.msr.value = vcore_nsvm_hsave_pa(vcpu->nsvm);
        exit->u.msr.error = 0;
        return VCORE_OK;
    }
    vcpu->nsvm->maxphyaddr = vcpu->x86->model.maxphyaddr;
    /* A refused value is #GP(0), raised when the reply is applied. */
    exit->u.msr.error = vcore_nsvm_set_hsave_pa(vcpu->nsvm, exit->u.msr.value, &vcpu->last_diag) ? 1u : 0u;
    return VCORE_OK;
}
