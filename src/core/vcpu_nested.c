/*
 * vcpu_nested.c - nested VMX on a vCPU: the state is created with the vCPU,
 * RESET and INIT act on it, and the run loop's dispatch step emulates L1's
 * VMX instructions and its accesses to the VMX capability MSRs without
 * returning to the VMM (IA32_FEATURE_CONTROL is a model MSR: vcpu_msr.c).
 *
 * The instruction emulation is the pure toolkit function of nvmx.h; this
 * file only fetches the state groups it reads (so an emulated VMREAD costs
 * a handful of backend accesses, not the whole register file) and applies
 * the outcome to the vCPU model.
 */
#include "vcpu_nested.h"

#include "x86/x86_bits.h"
#include "virtcore/x86/vmx_exits.h"

int vcore__vcpu_nested_setup(vcore_vcpu_t *vcpu, void *mem, size_t len,
                             const vcore_vcpu_config_t *cfg)
{
    vcore_vm_t *vm = vcpu->vm;
    const vcore_backend_t *ops = &vm->ops;
    if (!vcpu->x86)
        return vcore__vcpu_wrong_arch(vcpu);
    if (!ops->vmx_caps || !ops->vmcs_alloc) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NESTED_UNSUPPORTED, cfg->nested);
        return VCORE_ERR_UNSUPPORTED;
    }
    vcore_nvmx_caps_t hw, emulated, base;
    vcore_nvmx_config_t ncfg;
    hw.size = emulated.size = base.size = sizeof(hw);
    vcore__memset(&ncfg, 0, sizeof(ncfg));
    ncfg.size = sizeof(ncfg);
    ncfg.caps.size = sizeof(ncfg.caps);
    int err = ops->vmx_caps(vm, vm->priv, &hw);
    if (!err)
        err = vcore_nvmx_caps_emulated(&emulated);
    /* L1 is offered only what the pipeline runs for L2: no REFUSED control,
     * and EPT only on the shadow EPT, which needs the backend's INVEPT and
     * host pages. */
    /* The TPR shadow, APIC-access virtualization, APIC-register
     * virtualization (which virtualizes accesses to the APIC-access page from
     * the virtual-APIC page) and virtual-interrupt delivery (whose VIRR, VISR
     * and VTPR are on that page) need physical addresses (vcpu_nested_apic.c). */
    bool apic = vcore__vcpu_nested_apic_usable(vcpu);
    /* "Virtualize x2APIC mode" needs the TPR shadow ("Checks on VMX
     * Controls") and acts through vmcs02's MSR bitmap, the vCPU's page
     * (vcpu_nested_msrbmp.c). */
    bool x2apic = !err && apic && vcore__vcpu_nested_msrbmp_usable(vcpu, (uint32_t)(hw.msr[VCORE_NVMX_CAP_PROCBASED] >> 32));
    if (!err)
        vcore__nvmx_caps_refuse(&emulated, apic ? 0u : VCORE__PROC_TPR_SHADOW,
                                (vcore__vcpu_nested_ept02_usable(vcpu) ? 0u : VCORE__PROC2_EPT) |
                                    (apic ? 0u : VCORE__PROC2_APIC_ACCESS | VCORE__PROC2_APIC_REG | VCORE__PROC2_VID) |
                                    (x2apic ? 0u : VCORE__PROC2_X2APIC));
    if (!err)
        err = vcore_nvmx_caps_intersect(&hw, &emulated, &base);
    if (err)
        return err;
    /* Posted interrupts for L2 are L0's processing (vmcs02 never has the
     * control): offered with virtual-interrupt delivery, processor or not. */
    vcore__nvmx_caps_l0_only(&base, &emulated);
    /* The VMM may only take features away from what both sides support. */
    if (cfg->nvmx_caps)
        err = vcore_nvmx_caps_restrict(&base, cfg->nvmx_caps, &ncfg.caps, &vcpu->last_diag);
    else
        ncfg.caps = base;
    if (err)
        return err;
    ncfg.maxphyaddr = vcpu->x86->model.maxphyaddr;
    ncfg.flags = (vcpu->x86->model.linear_bits == 57u ? VCORE_NVMX_CFG_LA57 : 0u) |
                 ((vcpu->x86->model.features & VCORE_X86_FEAT_PAGE1GB) ? 0u : VCORE_NVMX_CFG_NO_PAGE1GB);
    err = vcore_nvmx_init(mem, len, &ncfg, &vcpu->nvmx, &vcpu->last_diag);
    /* vmcs02 lives on the backend's processor: its fields are those the
     * processor has, whatever L1 was offered. */
    if (!err)
        vcpu->nvmx->vcpu_owned = true; /* guest-mode state goes through vcpu_nested_state.c */
    if (!err)
        vcore__nvmx_caps_allowed1(&hw, vcpu->nvmx->hw_allowed1);
    if (!err)
        vcore__vcpu_nested_shadow_setup(vcpu, &hw);
    return err;
}

void vcore__vcpu_nested_reset(vcore_vcpu_t *vcpu)
{
    /* SDM Vol. 3, "VMX Operation": VMX operation does not survive RESET;
     * neither does L2 (CVE-2022-3344 class: nothing of it stays in use). */
    vcore__vcpu_nested_teardown(vcpu);
    vcore__nvmx_leave(vcpu->nvmx);
}

void vcore__vcpu_nested_teardown(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vcpu_nested_shadow_teardown(vcpu);
    nv->vpid12_last = 0;
    nv->in_l2 = false;
    vcore__vcpu_nested_efer_exit(vcpu);
    vcore__vcpu_nested_pat_exit(vcpu);
    nv->run_pending = false;
    nv->mtf_pending = false;
    nv->init_pending = false;
    nv->l2_halted = false;
    nv->rare_stale = false;
    nv->l2_insn_len = 0;
    nv->l2_done = false;
    nv->l2_pending = 0;
    nv->l2_mmio_vmwrite = false;
    nv->ml.list = 0; /* an MSR-list entry's question dies with the entry or exit */
    vcore__vcpu_nested_ept02_fini(vcpu);
    vcore__vcpu_nested_apic_forget(vcpu);
    if (nv->vmcs02) {
        vcpu->vm->ops.vmcs_free(vcpu, vcpu->priv, nv->vmcs02);
        nv->vmcs02 = NULL;
    }
    vcore__vcpu_nested_msrbmp_fini(vcpu);
    nv->vmcs02_const = false;
    nv->vmcs02_for = ~0ull;
}

int vcore__vcpu_nested_resume_l2(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *l1)
{
    /* An exit reflected to L1 changed vmcs12: the shadow VMCS follows
     * (the VMM's reply and what follows are not recorded field by field). */
    if (vcpu->nvmx->hw_mask)
        vcpu->nvmx->hw_sync = true;
    vcore__nvmx_shadow_stale_all(vcpu->nvmx);
    /* The VMM's answer to L2's last exit goes to L2 first. */
    bool reflected = false;
    vcore_nvmx_t *nv = vcpu->nvmx;
    int err = vcore__vcpu_nested_l0_reply(vcpu, exit, &reflected);
    if (err || reflected) {
        /* The answer ended in a VM exit to L1 (a refused RDMSR's #GP L1
         * intercepts, say): it discards a monitor-trap-flag VM exit owed to
         * L2 (as KVM does), and an INIT still owed is blocked in L1's VMX
         * root operation from now on - latched ("Restrictions on VMX
         * Operation"). No other exit to L1 finds either owed: the run
         * takes them before L2 runs. */
        if (reflected) {
            vcpu->x86->init_latched |= nv->init_pending;
            nv->mtf_pending = nv->init_pending = false;
        }
        *l1 = reflected && vcore__vcpu_nested_l1_next(vcpu, exit);
        return err;
    }
    return vcore__vcpu_nested_run_l2(vcpu, exit, l1);
}

int vcore__vcpu_nested_init_l2(vcore_vcpu_t *vcpu, bool *to_l1)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    *to_l1 = false;
    if (!nv || !nv->in_l2)
        return VCORE_OK;
    /* SDM Vol. 3, "Other Causes of VM Exits": in VMX non-root operation an
     * INIT signal causes a VM exit, except in the wait-for-SIPI activity
     * state, where it is blocked (latched by the caller). The VMM calls
     * between runs: vmcs02 may not be the backend's current VMCS. */
    uint64_t activity = 0;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_ACTIVITY_STATE, &activity);
    if (err)
        return err;
    if (activity == 3u)
        return VCORE_OK;
    nv->init_pending = true;
    *to_l1 = true;
    return VCORE_OK;
}

bool vcore__vcpu_nested_blocks_init(const vcore_vcpu_t *vcpu)
{
    /* SDM Vol. 3, "Restrictions on VMX Operation": INIT signals are blocked
     * whenever a logical processor is in VMX root operation. */
    return vcpu->nvmx && vcpu->nvmx->vmx_operation;
}

void vcore__vcpu_nested_cpuid_changed(vcore_vcpu_t *vcpu)
{
    if (vcpu->nvmx) {
        vcpu->nvmx->maxphyaddr = vcpu->x86->model.maxphyaddr;
        vcpu->nvmx->linear_bits = vcpu->x86->model.linear_bits;
        vcpu->nvmx->walk_1g = (vcpu->x86->model.features & VCORE_X86_FEAT_PAGE1GB) ? 0u : VCORE__WALK_NO_1G;
        /* The VM-entry rules read CPUID and MAXPHYADDR: all run again. */
        vcpu->nvmx->chk_passed = false;
    }
}

/* The state group holding segment register seg (vcore_x86_seg). */
static uint32_t vcore__vcpu_nested_seg_group(uint32_t seg)
{
    switch (seg) {
    case VCORE_X86_CS:
        return VCORE_X86_STATE_SEG_CS | VCORE_X86_STATE_MODE;
    case VCORE_X86_SS:
        return VCORE_X86_STATE_SEG_SS | VCORE_X86_STATE_MODE;
    default:
        return VCORE_X86_STATE_SEG_DATA;
    }
}

/* What the emulation of op reads (SDM Vol. 3, "VMX Instruction Reference"):
 * the registers, the mode (#UD/#GP checks: CR0.PE, RFLAGS.VM, EFER.LMA,
 * CS.L, SS.DPL) and, for a memory operand, its segment and the paging
 * registers. */
static uint32_t vcore__vcpu_nested_groups(const vcore_exit_t *exit)
{
    uint32_t op = exit->u.vmx_insn.op;
    uint32_t g = VCORE_X86_STATE_GPRS | VCORE_X86_STATE_RIP | VCORE_X86_STATE_RFLAGS |
                 VCORE_X86_STATE_MODE | VCORE_X86_STATE_CR0 | VCORE_X86_STATE_EFER |
                 VCORE_X86_STATE_EVENTS;
    /* No operand: the instruction-information field is undefined for
     * these ("VM-Exit Instruction-Information Field"), nothing to decode. */
    if (op == VCORE_NVMX_VMLAUNCH || op == VCORE_NVMX_VMRESUME || op == VCORE_NVMX_VMXOFF)
        return g;
    vcore_vmx_insn_info_t ii;
    ii.size = sizeof(ii);
    bool decoded = vcore_vmx_insn_info_decode(exit->u.vmx_insn.insn_info, &ii) == VCORE_OK;
    /* RSP costs a VMCS read on VMX: fetched only when an operand names it. */
    if (!decoded || ii.reg1 == VCORE_X86_RSP || ii.reg2 == VCORE_X86_RSP ||
        (ii.base_valid && ii.base_reg == VCORE_X86_RSP) ||
        (ii.index_valid && ii.index_reg == VCORE_X86_RSP))
        g |= VCORE_X86_STATE_RSP;
    bool mem = false;
    switch (op) {
    case VCORE_NVMX_VMXON:
        g |= VCORE_X86_STATE_CR4 | VCORE_X86_STATE_MSRS;
        mem = true;
        break;
    case VCORE_NVMX_VMCLEAR:
    case VCORE_NVMX_VMPTRLD:
    case VCORE_NVMX_VMPTRST:
    case VCORE_NVMX_INVEPT:
    case VCORE_NVMX_INVVPID:
        mem = true;
        break;
    case VCORE_NVMX_VMREAD:
    case VCORE_NVMX_VMWRITE:
        mem = !decoded || !ii.is_register;
        break;
    default:
        break;
    }
    if (mem) {
        /* An undecodable field: the emulation refuses it; give it everything. */
        g |= decoded ? vcore__vcpu_nested_seg_group(ii.segment) : VCORE_X86_STATE_SEGS;
        g |= VCORE_X86_STATE_CR3 | VCORE_X86_STATE_CR4;
    }
    return g;
}

/* Applies a VMsucceed / VMfail outcome: RFLAGS, a VMREAD destination
 * register, then the completion every instruction gets (RIP, blocking). */
static int vcore__vcpu_nested_complete(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in,
                                       const vcore_nvmx_result_t *res)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    uint32_t dirty = VCORE_X86_STATE_RFLAGS;
    x->st.regs.rflags = res->rflags;
    if (res->gpr_written) {
        x->st.regs.gpr[res->gpr & 15u] = res->gpr_value;
        dirty |= vcore__x86_gpr_group(res->gpr);
    }
    vcore__vcpu_mark_dirty(vcpu, dirty);
    int err = vcore__vcpu_x86_complete(vcpu, in->insn_len);
    /* SDM Vol. 3, "Single-Step Exception Condition": with RFLAGS.TF set
     * when it began, the completed instruction is followed by a trap-class
     * #DB with DR6.BS set. */
    if (!err && (in->regs.rflags & VCORE__RFLAGS_TF))
        err = vcore__vcpu_raise_exception(vcpu, VCORE__VEC_DB, 0, true, VCORE__DR6_BS);
    return err;
}

/* Whether the instruction reads vmcs12 as a whole or writes it back: L1's
 * writes in L0's shadow VMCS must be in vmcs12 first. */
static bool vcore__vcpu_nested_needs_pull(uint32_t op)
{
    return op == VCORE_NVMX_VMCLEAR || op == VCORE_NVMX_VMPTRLD || op == VCORE_NVMX_VMXOFF ||
           op == VCORE_NVMX_VMLAUNCH || op == VCORE_NVMX_VMRESUME;
}

/* Whether the instruction reads vmcs12 as a whole (VMCLEAR, VMPTRLD write it
 * back) or a lazily synced field (VMREAD). */
static bool vcore__vcpu_nested_needs_rare(const vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in)
{
    if (in->op == VCORE_NVMX_VMCLEAR || in->op == VCORE_NVMX_VMPTRLD)
        return true;
    if (in->op != VCORE_NVMX_VMREAD)
        return false;
    /* Operand 2 (bits 31:28) holds the field encoding. */
    uint32_t reg = (in->insn_info >> 28) & 15u;
    return vcore__vcpu_nested_is_rare((uint32_t)vcpu->x86->st.regs.gpr[reg]);
}

/* The state groups L1's VMLAUNCH/VMRESUME reads before the VM-entry
 * checks: CS/SS access rights (CS.L, CPL = SS.DPL), RFLAGS (VM), IA32_EFER
 * (LMA) and the interruptibility state (blocking by MOV SS). No operand,
 * so no registers; CR0.PE is not fetched (below). */
#define VCORE__NESTED_LAUNCH_GROUPS                                                                \
    (VCORE_X86_STATE_RFLAGS | VCORE_X86_STATE_MODE | VCORE_X86_STATE_EFER | VCORE_X86_STATE_EVENTS)

/* SDM Vol. 3, "VMLAUNCH/VMRESUME-Launch/Resume Virtual Machine" (Operation)
 * with "Relative Priority of Faults and VM Exits": in VMX non-root
 * operation the #UD conditions (CR0.PE = 0, RFLAGS.VM = 1, IA32_EFER.LMA = 1
 * and CS.L = 0) are checked before the VM exit, so L1's exit says they do
 * not hold (CR0 is not fetched; an exit that shows RFLAGS.VM or LMA without
 * CS.L goes to the full emulation). After the exit decision come L0's
 * checks: CPL > 0 is #GP(0), then the VMfail ones of the pseudo-code
 * (vcore__nvmx_insn_launch_ready()). When all of them pass, *in is the
 * instruction for the VM-entry pipeline (which reads its op, length and
 * interruptibility only) and true is returned; any other outcome is the
 * full emulation's to give (false). */
static bool vcore__vcpu_nested_launch_fast(vcore_vcpu_t *vcpu, const vcore_exit_t *exit, vcore_nvmx_insn_t *in)
{
    uint32_t op = exit->u.vmx_insn.op;
    if ((op != VCORE_NVMX_VMLAUNCH && op != VCORE_NVMX_VMRESUME) || (vcpu->nvmx->opts & VCORE_NVMX_OPT_NO_FAST_ENTRY))
        return false;
    if (vcore__vcpu_sync_in(vcpu, VCORE__NESTED_LAUNCH_GROUPS) != VCORE_OK)
        return false;
    const vcore_x86_state_t *st = &vcpu->x86->st;
    bool lma = (st->sregs.efer & VCORE__EFER_LMA) != 0;
    bool cs_l = (st->sregs.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L) != 0;
    if ((st->regs.rflags & VCORE__RFLAGS_VM) || (lma && !cs_l) ||
        (st->sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK))
        return false;
    uint32_t intr = (st->events.sti_blocking ? 1u : 0u) | (st->events.movss_blocking ? 2u : 0u);
    if (!vcore__nvmx_insn_launch_ready(vcpu->nvmx, op == VCORE_NVMX_VMRESUME, intr))
        return false;
    in->size = sizeof(*in);
    in->in_l2 = false;
    in->op = op;
    in->insn_info = exit->u.vmx_insn.insn_info;
    in->qualification = exit->u.vmx_insn.qualification;
    in->insn_len = exit->u.vmx_insn.insn_len;
    in->interruptibility = intr;
    in->feature_control = 0; /* not read by VM entry */
    return true;
}

static int vcore__vcpu_nested_insn(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    vcore_nvmx_insn_t in;
    int err;
    if (vcore__vcpu_nested_launch_fast(vcpu, exit, &in)) {
        /* As below: L1's writes in L0's shadow VMCS reach vmcs12 first. */
        if (vcpu->nvmx->hw_mask) {
            vcpu->nvmx->hw_sync = true;
            err = vcore__vcpu_nested_shadow_pull(vcpu);
            if (err)
                return err;
        }
        return vcore__vcpu_nested_entry(vcpu, &in, exit, handled);
    }
    err = vcore__vcpu_sync_in(vcpu, vcore__vcpu_nested_groups(exit));
    if (err)
        return err;
    vcore_nvmx_result_t res;
    vcore_nvmx_mem_t mem;
    /* Every member is set (no memset of the whole copy first). */
    in.size = sizeof(in);
    in.in_l2 = false;
    in.op = exit->u.vmx_insn.op;
    in.insn_info = exit->u.vmx_insn.insn_info;
    in.qualification = exit->u.vmx_insn.qualification;
    in.insn_len = exit->u.vmx_insn.insn_len;
    in.interruptibility = (x->st.events.sti_blocking ? 1u : 0u) | (x->st.events.movss_blocking ? 2u : 0u);
    in.feature_control = x->st.msrs.feature_control;
    in.regs = x->st.regs;
    in.sregs = x->st.sregs;
    res.size = sizeof(res);
    mem.size = sizeof(mem);
    /* L1 reads or saves vmcs12: its lazily synced guest fields come from
     * vmcs02 first (a VMREAD of another field needs nothing). */
    if (vcpu->nvmx->rare_stale && vcore__vcpu_nested_needs_rare(vcpu, &in)) {
        err = vcore__vcpu_nested_sync_rare(vcpu);
        if (err)
            return err;
    }
    /* L0's VMCS shadowing: whatever the outcome, the shadow VMCS is brought
     * up to date before L1 runs; L1's writes in it reach vmcs12 first. */
    if (vcpu->nvmx->hw_mask) {
        vcpu->nvmx->hw_sync = true;
        if (vcore__vcpu_nested_needs_pull(in.op)) {
            err = vcore__vcpu_nested_shadow_pull(vcpu);
            if (err)
                return err;
        }
        /* VMLAUNCH and VMRESUME record each vmcs12 field they change (the
         * exit-information commit, the guest-state save); any other
         * instruction may replace vmcs12 as a whole. */
        if (in.op != VCORE_NVMX_VMLAUNCH && in.op != VCORE_NVMX_VMRESUME)
            vcore__nvmx_shadow_stale_all(vcpu->nvmx);
    }
    err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err)
        err = vcore_nvmx_emulate(vcpu->nvmx, &mem, &in, &res);
    if (err == VCORE_ERR_FAULT)
        return VCORE_OK; /* a memory operand outside RAM: the VMM decides (MMIO) */
    if (err)
        return err;
    switch (res.outcome) {
    case VCORE_NVMX_OUT_SUCCEED:
    case VCORE_NVMX_OUT_FAIL_INVALID:
    case VCORE_NVMX_OUT_FAIL_VALID:
        err = vcore__vcpu_nested_complete(vcpu, &in, &res);
        if (err)
            return err;
        *handled = true;
        /* INVEPT drops the ept02s it names; leaving VMX operation drops all. */
        if (in.op == VCORE_NVMX_INVEPT && res.outcome == VCORE_NVMX_OUT_SUCCEED)
            vcore__vcpu_nested_ept02_invept(vcpu, res.inv_type, res.inv_eptp);
        /* INVVPID flushes vpid02 as it names (vcpu_nested_vpid.c). */
        if (in.op == VCORE_NVMX_INVVPID && res.outcome == VCORE_NVMX_OUT_SUCCEED) {
            err = vcore__vcpu_nested_vpid_invvpid(vcpu, res.inv_type, res.inv_vpid, res.inv_addr);
            if (err)
                return err;
        }
        if (in.op == VCORE_NVMX_VMXOFF && !vcpu->nvmx->vmx_operation) {
            vcore__vcpu_nested_ept02_invept(vcpu, 2, 0);
            vcpu->nvmx->vpid12_last = 0; /* vpid02 flushed before its next use */
        }
        /* A latched INIT is delivered once the vCPU leaves VMX operation. */
        if (in.op == VCORE_NVMX_VMXOFF && x->init_latched && !vcpu->nvmx->vmx_operation) {
            err = vcore_vcpu_init_signal(vcpu);
            if (err)
                return err;
            vcore__memset(&exit->u, 0, sizeof(exit->u));
            exit->reason = VCORE_EXIT_INIT;
            exit->flags = 0;
            *handled = false;
        }
        return VCORE_OK;
    case VCORE_NVMX_OUT_EXCEPTION:
        *handled = true;
        return vcore__vcpu_raise_exception(vcpu, res.vector, res.error_code,
                                           res.vector == VCORE__VEC_PF, res.cr2);
    case VCORE_NVMX_OUT_ENTRY:
        /* Past the pre-entry checks: the VM-entry pipeline. */
        return vcore__vcpu_nested_entry(vcpu, &in, exit, handled);
    default:
        /* L2's VMREAD/VMWRITE through VMCS shadowing is not run by this
         * pipeline (it never gives L2 VMCS shadowing): the VMM sees it. */
        return VCORE_OK;
    }
}

/* L1's RDMSR/WRMSR of a VMX capability MSR (480H-491H): answered in the
 * reply slot; WRMSR, and RDMSR of a TRUE_* MSR without IA32_VMX_BASIC[55],
 * are #GP(0) (SDM Vol. 3, "VMX Capability Reporting Facility"). */
int vcore__vcpu_nested_msr(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    uint32_t index = exit->u.msr.index;
    uint64_t v = 0;
    int err = exit->reason == VCORE_EXIT_RDMSR
                  ? vcore_nvmx_rdmsr(vcpu->nvmx, index, &v, &vcpu->last_diag)
                  : vcore_nvmx_wrmsr(vcpu->nvmx, index, exit->u.msr.value, &vcpu->last_diag);
    exit->u.msr.error = err ? 1u : 0u;
    if (exit->reason == VCORE_EXIT_RDMSR)
        exit->u.msr.value = err ? 0 : v;
    *handled = true;
    return VCORE_OK;
}

int vcore__vcpu_nested_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    return vcore__vcpu_nested_insn(vcpu, exit, handled);
}
