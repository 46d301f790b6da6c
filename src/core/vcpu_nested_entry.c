/*
 * vcpu_nested_entry.c - L1's VMLAUNCH/VMRESUME after the pre-entry checks:
 * the VM-entry checks on vmcs12, vmcs02, and L2 running on it.
 *
 * SDM Vol. 3, "VM Entries": VMfailInvalid and VMfailValid are the outcome of
 * the instruction (RIP advanced, RFLAGS per "Conventions"); a failed guest
 * state or MSR load is a VM exit to L1 with bit 31 of the exit reason set.
 * A successful entry does not complete the instruction: L1 continues at
 * HOST_RIP when L2 exits, so a VMLAUNCH/VMRESUME that enters L2 is not
 * skipped.
 *
 * vmcs02 is written by change frequency: constant state
 * once per vmcs02, then only the vmcs12 fields L1 wrote since the last
 * entry (its dirty bitmap), the control words through the merge rules (the
 * backend's control shadow drops unchanged ones). The optional early
 * hardware check enters vmcs02 with an invalid guest state before guest
 * state is written: the processor performs every VMfail check first, so a
 * passing early check ends in exit 33 and L1 never sees it.
 */
#include "vcpu_nested.h"

#include "virtcore/x86/vmx_checks.h"
#include "x86/vmx/check_priv.h"

/* Diagnostics of the pipeline's refusals. */
#define NESTED_DIAG_UNSUPPORTED VCORE_DIAG_NVMX_PIPELINE_UNSUPPORTED

/* EPT (secondary bit 1) runs on the shadow EPT when the backend can
 * invalidate it. The controls the pipeline cannot give L2 are the REFUSED
 * rows of VCORE_NVMX_CTL_RULES (vcore__nvmx_refused()). */
#define NESTED_PROC2_EPT (1u << 1)

static void vcore__vcpu_nested_l1_words(const vcore__vmcs12_t *v, uint32_t w[5])
{
    w[0] = v->PIN_BASED_VM_EXEC_CONTROL;
    w[1] = v->CPU_BASED_VM_EXEC_CONTROL;
    w[2] = (w[1] & VCORE_VMX_PROC_ACTIVATE_SECONDARY) ? v->SECONDARY_VM_EXEC_CONTROL : 0u;
    w[3] = v->VM_EXIT_CONTROLS;
    w[4] = v->VM_ENTRY_CONTROLS;
}

static const uint16_t nested_ctl_fields[5] = {
    VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL,
    VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, VCORE_VMCS_VM_EXIT_CONTROLS, VCORE_VMCS_VM_ENTRY_CONTROLS};

/* The instruction's VMfail outcome ("Conventions"): RIP past it, CF
 * (VMfailInvalid) or ZF (VMfailValid, error in vmcs12) set, the other
 * arithmetic flags clear. */
static int vcore__vcpu_nested_vmfail(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, bool valid, uint32_t error)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_RFLAGS);
    if (err)
        return err;
    if (valid)
        vcore__vcpu_nested_v12(vcpu)->VM_INSTRUCTION_ERROR = error;
    vcore__nvmx_shadow_stale_all(vcpu->nvmx);
    /* The processor failed an entry that may have read L1's shadow VMCS. */
    vcore__vcpu_nested_shadow12_leave(vcpu);
    x->st.regs.rflags = (x->st.regs.rflags & ~VCORE__RFLAGS_ARITH) | (valid ? VCORE__RFLAGS_ZF : VCORE__RFLAGS_CF);
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_RFLAGS);
    return vcore__vcpu_x86_complete(vcpu, in->insn_len);
}

/* A VM-entry failure delivered to L1 as a VM exit ("VM-Entry Failures
 * During or After Loading Guest State"): the exit reason and qualification
 * are recorded, "all other VM-exit information fields are unmodified". */
static int vcore__vcpu_nested_failed_entry(vcore_vcpu_t *vcpu, uint32_t reason, uint64_t qual, vcore_exit_t *exit,
                                           bool *handled)
{
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    v->VM_EXIT_REASON = reason | VCORE_VMX_EXIT_REASON_ENTRY_FAIL;
    v->EXIT_QUALIFICATION = qual;
    vcore__nvmx_shadow_stale_all(vcpu->nvmx);
    vcpu->nvmx->last.exit_reason = v->VM_EXIT_REASON;
    vcpu->nvmx->last.owner = VCORE_NVMX_OWNER_L1;
    bool stop = false;
    int err = vcore__vcpu_nested_exit_to_l1(vcpu, true, exit, &stop);
    if (err)
        return err;
    *handled = !stop;
    return VCORE_OK;
}

/* The VM-entry rules whose inputs changed since the last entry that passed
 * them all (the others still pass: a rule's verdict depends only on its
 * inputs); every rule after a new vmcs12, CPUID or L1 EFER, a failed entry,
 * or with VCORE_NVMX_OPT_ALL_CHECKS. Of the rules reading what lies outside
 * vmcs12, those of "Basic VM-Entry Checks" run when the instruction, the
 * launch state or blocking by MOV SS differ from that entry's (the current
 * VMCS is the same: a new one resets chk_passed), those reading L1 memory
 * when their condition can hold (vcore__vmx_check_outside()). */
static uint32_t vcore__vcpu_nested_check_due(const vcore_nvmx_t *nv, const vcore_nvmx_insn_t *in, uint64_t l1_efer)
{
    const vcore__vmcs12_t *v = (const vcore__vmcs12_t *)(const void *)nv->vmcs12;
    if (!nv->chk_passed || nv->chk_efer != l1_efer || (nv->opts & VCORE_NVMX_OPT_ALL_CHECKS))
        return ~VCORE__VMX_RUN_MSR_LOAD;
    uint32_t run = vcore__vmx_check_changed(nv->chk_dirty, VCORE__DIRTY_WORDS) & ~VCORE_VMX_IN_ALWAYS;
    if ((in->interruptibility & 2u) || nv->chk_resume != (in->op == VCORE_NVMX_VMRESUME) ||
        nv->chk_launch != v->launch_state)
        run |= VCORE__VMX_RUN_BASIC;
    return run | vcore__vmx_check_outside(v);
}

/* The VM-entry checks on the snapshot; the test hook drops one check. */
static int vcore__vcpu_nested_check(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_vmx_verdict_t *vd)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__x86_vcpu_t *x = vcpu->x86;
    const uint32_t every = ~VCORE__VMX_RUN_MSR_LOAD;
    uint32_t run = nv->skip_check ? every : vcore__vcpu_nested_check_due(nv, in, x->st.sregs.efer);
    bool verify = (nv->opts & VCORE_NVMX_OPT_VERIFY_CHECKS) && run != every;
    /* Guest RIP alone changed (L1 moved L2 past the instruction that
     * exited): its two rules on vmcs12, without the engine. */
    bool rip_only = run == VCORE__VMX_RUN_RIP_ONLY && vcore__vmx_check_rip_only(vcore__vcpu_nested_v12(vcpu));
    vd->size = sizeof(*vd);
    /* Nothing due: every rule still passes, no input to build. */
    if ((run == 0 || rip_only) && !verify) {
        vd->kind = VCORE_VMX_ENTRY_OK;
        vd->vm_error = 0;
        vd->exit_reason = 0;
        vd->qualification = 0;
        vd->check = 0;
        vd->value = 0;
        vd->failures = 0;
        vcore__memset(nv->chk_dirty, 0, sizeof(nv->chk_dirty));
        return VCORE_OK;
    }
    /* L1 memory only for rules that read it. */
    vcore_nvmx_mem_t mem;
    vcore_vmx_check_input_t ci;
    mem.size = sizeof(mem);
    ci.size = sizeof(ci);
    bool need_mem = (run & VCORE__VMX_RUN_READS_MEM) || verify || nv->skip_check;
    int err = need_mem ? vcore_nvmx_mem_from_vm(vcpu->vm, &mem) : VCORE_OK;
    if (!err)
        err = vcore_vmx_check_input_from_nvmx(nv, need_mem ? &mem : NULL, x->st.sregs.efer,
                                              (in->interruptibility & 2u) != 0, in->op == VCORE_NVMX_VMRESUME,
                                              x->cpuid, x->ncpuid, &ci);
    if (err)
        return err;
    if (!nv->skip_check) {
        err = vcore__vmx_check_run(&ci, run, vd);
        if (!err && verify) {
            vcore_vmx_verdict_t all;
            all.size = sizeof(all);
            err = vcore__vmx_check_run(&ci, every, &all);
            if (!err && (all.kind != vd->kind || all.check != vd->check || all.vm_error != vd->vm_error ||
                         all.exit_reason != vd->exit_reason || all.qualification != vd->qualification ||
                         (rip_only && all.kind != VCORE_VMX_ENTRY_OK))) {
                (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NVMX_CHECK_GATING,
                                      ((uint64_t)all.check << 16) | vd->check);
                return VCORE_ERR_STATE;
            }
        }
        if (err)
            return err;
        nv->chk_passed = vd->kind == VCORE_VMX_ENTRY_OK;
        if (nv->chk_passed) {
            nv->chk_efer = ci.l1_efer;
            nv->chk_resume = ci.resume;
            nv->chk_launch = ci.launch_state;
            vcore__memset(nv->chk_dirty, 0, sizeof(nv->chk_dirty));
        }
        return VCORE_OK;
    }

    nv->chk_passed = false;
    vcore_vmx_check_failure_t f[16];
    err = vcore_vmx_check_entry(&ci, vd, f, 16);
    if (err || vd->kind == VCORE_VMX_ENTRY_OK)
        return err;
    /* The MSR-load list comes last and is the loader's: no verdict here. */
    if (vcore__vmx_check_class(vd->check) == VCORE_VMX_CLASS_EXIT_MSR_LOAD) {
        vd->kind = VCORE_VMX_ENTRY_OK;
        vd->check = 0;
        return VCORE_OK;
    }
    if (vd->check != nv->skip_check)
        return err;
    /* The deciding check is the skipped one: the next failure decides. */
    uint32_t n = vd->failures < 16u ? vd->failures : 16u;
    for (uint32_t i = 1; i < n; i++) {
        if (f[i].check == nv->skip_check)
            continue;
        vcore_vmx_check_info_t info;
        info.size = sizeof(info);
        if (vcore_vmx_check_describe(f[i].check, &info) != VCORE_OK)
            continue;
        vd->check = f[i].check;
        vd->value = f[i].value;
        switch (info.cls) {
        case VCORE_VMX_CLASS_VMFAIL_CTL:
            vd->kind = VCORE_VMX_VMFAIL_VALID, vd->vm_error = VCORE_VMXERR_ENTRY_INVALID_CONTROL;
            return VCORE_OK;
        case VCORE_VMX_CLASS_VMFAIL_HOST:
            vd->kind = VCORE_VMX_VMFAIL_VALID, vd->vm_error = VCORE_VMXERR_ENTRY_INVALID_HOST;
            return VCORE_OK;
        case VCORE_VMX_CLASS_EXIT_GUEST:
        case VCORE_VMX_CLASS_EXIT_PDPTE:
        case VCORE_VMX_CLASS_EXIT_LINK:
            vd->kind = VCORE_VMX_ENTRY_FAIL_EXIT;
            vd->exit_reason = VCORE_VMX_EXIT_INVALID_GUEST_STATE | VCORE_VMX_EXIT_REASON_ENTRY_FAIL;
            vd->qualification = info.cls == VCORE_VMX_CLASS_EXIT_PDPTE ? VCORE_VMX_QUAL_PDPTE
                                : info.cls == VCORE_VMX_CLASS_EXIT_LINK ? VCORE_VMX_QUAL_LINK_POINTER
                                                                          : VCORE_VMX_QUAL_DEFAULT;
            return VCORE_OK;
        default:
            continue;
        }
    }
    vd->kind = VCORE_VMX_ENTRY_OK;
    vd->check = 0;
    return VCORE_OK;
}

/* vmcs01's controls (L0's needs), read once per vmcs02, and vmcs02's
 * constant state: no VMCS link, no MSR lists of its own, L0's EPT. */
static int vcore__vcpu_nested_const(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    uint64_t x = 0, eptp = 0;
    int err = ops->vmcs_load(vcpu, vcpu->priv, NULL);
    for (uint32_t i = 0; i < 5 && !err; i++) {
        err = vcore__vcpu_nested_rd(vcpu, nested_ctl_fields[i], &x);
        nv->ctl01[i] = (uint32_t)x;
    }
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_EXCEPTION_BITMAP, &x);
    nv->exc01 = (uint32_t)x;
    /* L0's TSC function for L1 (vcpu_nested_tsc.c). */
    if (!err)
        err = vcore__vcpu_nested_tsc01(vcpu);
    if (!err && (nv->ctl01[2] & (1u << 1)))
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_EPT_POINTER, &eptp);
    if (!err)
        err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    if (!err && eptp)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_EPT_POINTER, eptp);
    /* vmcs02 enables VM functions when vmcs12 does, with no function of
     * its own, so each VMFUNC of L2 exits to L0 ("VM Functions";
     * vcpu_nested_vmfunc.c). */
    if (!err && (nv->hw_allowed1[VCORE__VMCS_CTL_PROC2] & VCORE__PROC2_VMFUNC))
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_FUNCTION_CONTROL, 0);
    /* L2's VPID is the vCPU's vpid02 whatever vmcs12's VPID is
     * (vcpu_nested_vpid.c). */
    if (!err && nv->vpid02)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VIRTUAL_PROCESSOR_ID, nv->vpid02);
    /* L2 without L1's EPT runs on ept01; with it, ept02 replaces it
     * (vcore__vcpu_nested_ept02_sync). */
    /* vmcs02's MSR bitmap is the vCPU's page (vcpu_nested_msrbmp.c). */
    if (!err)
        err = vcore__vcpu_nested_msrbmp_const(vcpu);
    nv->eptp01 = eptp;
    nv->eptp02_cur = eptp;
    vcore__vcpu_nested_apic_forget(vcpu);
    if (!err)
        nv->vmcs02_const = true;
    return err;
}

/* One vmcs12 field into vmcs02 by its rule; fields vmcs02 does not take
 * from vmcs12 (L1 addresses, L1's MSR lists, exit information, host state)
 * are skipped. */
static int vcore__vcpu_nested_field(vcore_vcpu_t *vcpu, const vcore__vmcs_row_t *r)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    const uint8_t *page = (const uint8_t *)nv->vmcs12;
    uint32_t enc = r->encoding;
    if (r->flags & VCORE_VMCS_FIELD_F_HIGH)
        return VCORE_OK; /* the full field carries both halves */
    /* A field the backend's processor does not have (its control is not
     * supported there, so L1 cannot have asked for it either): writing it
     * would be VMfailValid 12. */
    if (!vcore__vmcs_row_present(r, nv->hw_allowed1))
        return VCORE_OK;
    switch (enc) {
    case VCORE_VMCS_EXCEPTION_BITMAP:
        return vcore__vcpu_nested_wr(vcpu, enc, v->EXCEPTION_BITMAP | nv->exc01);
    case VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MASK:
    case VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH:
        /* L0 intercepting #PF needs every #PF: mask = match = 0. */
        return vcore__vcpu_nested_wr(vcpu, enc, (nv->exc01 & (1u << 14)) ? 0 : vcore__vmcs12_load(page, r));
    case VCORE_VMCS_CR0_GUEST_HOST_MASK:
    case VCORE_VMCS_CR4_GUEST_HOST_MASK:
    case VCORE_VMCS_CR0_READ_SHADOW:
    case VCORE_VMCS_CR4_READ_SHADOW:
    case VCORE_VMCS_CR3_TARGET_COUNT:
    case VCORE_VMCS_CR3_TARGET_VALUE0:
    case VCORE_VMCS_CR3_TARGET_VALUE1:
    case VCORE_VMCS_CR3_TARGET_VALUE2:
    case VCORE_VMCS_CR3_TARGET_VALUE3:
    case VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD:
    case VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE:
    case VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN:
    case VCORE_VMCS_TPR_THRESHOLD: /* "TPR Threshold": L1's, with L1's TPR shadow */
    /* "EOI-Exit Bitmap": L1's, with L1's virtual-interrupt delivery (the
     * EOIs of L2 that exit to L1 rather than being virtualized). Written
     * when L1 writes them, whatever the control: it may be turned on later
     * without them being written again. */
    case VCORE_VMCS_EOI_EXIT_BITMAP0:
    case VCORE_VMCS_EOI_EXIT_BITMAP1:
    case VCORE_VMCS_EOI_EXIT_BITMAP2:
    case VCORE_VMCS_EOI_EXIT_BITMAP3:
        return vcore__vcpu_nested_wr(vcpu, enc, vcore__vmcs12_load(page, r));
    case VCORE_VMCS_TSC_OFFSET: /* L2's TSC: vcore__vcpu_nested_tsc_enter */
    case VCORE_VMCS_TSC_MULTIPLIER:
        nv->tsc_stale = true;
        return VCORE_OK;
    case VCORE_VMCS_VMCS_LINK_POINTER:
    case VCORE_VMCS_GUEST_IA32_EFER: /* L2's EFER: vcore__vcpu_nested_efer_enter */
    case VCORE_VMCS_GUEST_IA32_PAT:  /* L2's PAT: vcore__vcpu_nested_pat_enter */
    case VCORE_VMCS_GUEST_DR7:       /* L2's DR7 and DEBUGCTL: vcore__vcpu_nested_debugctl_enter */
    case VCORE_VMCS_GUEST_IA32_DEBUGCTL:
    case VCORE_VMCS_GUEST_PML_INDEX:
    case VCORE_VMCS_GUEST_UINV:
        return VCORE_OK;
    default:
        break;
    }
    /* Guest state as vmcs12 holds it - the guest interrupt status (RVI and
     * SVI, "Guest Non-Register State") too: the processor changes vmcs02's
     * while L2 runs, and each exit to L1 saves it back into vmcs12
     * (vcpu_nested_exit.c), so vmcs02 is rewritten only when L1 writes it. */
    if (r->type != VCORE_VMCS_TYPE_GUEST)
        return VCORE_OK;
    return vcore__vcpu_nested_wr(vcpu, enc, vcore__vmcs12_load(page, r));
}

/* Whether L1 wrote the field of row id (VCORE__ROW_*) since the last entry. */
static bool vcore__vcpu_nested_row_dirty(const vcore_nvmx_t *nv, uint32_t id)
{
    return (nv->dirty[id / 64] >> (id % 64)) & 1u;
}

/* Whether L1 wrote one of vmcs12's five control words since the last entry. */
static bool vcore__vcpu_nested_controls_dirty(const vcore_nvmx_t *nv)
{
    return vcore__vcpu_nested_row_dirty(nv, VCORE__ROW_PIN_BASED_VM_EXEC_CONTROL) ||
           vcore__vcpu_nested_row_dirty(nv, VCORE__ROW_CPU_BASED_VM_EXEC_CONTROL) ||
           vcore__vcpu_nested_row_dirty(nv, VCORE__ROW_SECONDARY_VM_EXEC_CONTROL) ||
           vcore__vcpu_nested_row_dirty(nv, VCORE__ROW_VM_EXIT_CONTROLS) ||
           vcore__vcpu_nested_row_dirty(nv, VCORE__ROW_VM_ENTRY_CONTROLS);
}

/* vmcs02's control words by the merge rules (x86/nvmx_pipeline.h). */
static int vcore__vcpu_nested_controls(vcore_vcpu_t *vcpu, bool full)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!full && !vcore__vcpu_nested_controls_dirty(nv))
        return VCORE_OK;
    uint32_t l1[5], m[5];
    vcore__vcpu_nested_l1_words(vcore__vcpu_nested_v12(vcpu), l1);
    vcore_nvmx_merge_controls(l1, nv->ctl01, m);
    /* "enable VPID" (L1's) needs vpid02 from the backend; without it
     * vmcs02 runs without VPID and every entry flushes VPID 0000H. */
    if (!nv->vpid02)
        m[VCORE__VMCS_CTL_PROC2] &= ~VCORE__PROC2_VPID;
    /* Whether vmcs02 runs on vpid02 changes only with the control words
     * (vpid02 itself comes with a new vmcs02, a full write). */
    nv->vpid_live = (m[VCORE__VMCS_CTL_PROC] & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
                    (m[VCORE__VMCS_CTL_PROC2] & VCORE__PROC2_VPID);
    /* L1's "VMCS shadowing" (rule ZERO: not in vmcs02): each entry reads
     * its shadow VMCS (vcpu_nested_shadow12.c). */
    nv->opts = (l1[VCORE__VMCS_CTL_PROC2] & VCORE__PROC2_SHADOW_VMCS) ? nv->opts | VCORE__NVMX_OPT_SHADOW12
                                                                      : nv->opts & ~VCORE__NVMX_OPT_SHADOW12;
    /* Rule TIMER where the processor has no "save VMX-preemption timer
     * value": L0 counts the timer itself (vcpu_nested_timer.c). */
    m[VCORE__VMCS_CTL_EXIT] &= nv->hw_allowed1[VCORE__VMCS_CTL_EXIT] | ~(1u << 22);
    /* Rules ONE of "load IA32_PAT" and "load IA32_EFER" where the
     * processor has them (without them the entry was refused:
     * vcpu_nested_pat.c, vcpu_nested_efer.c). */
    m[VCORE__VMCS_CTL_ENTRY] &= nv->hw_allowed1[VCORE__VMCS_CTL_ENTRY] | ~((1u << 14) | (1u << 15));
    /* Rule ONE of "use MSR bitmaps" where the vCPU has the page for it
     * (vcpu_nested_msrbmp.c); without it every RDMSR/WRMSR of L2 exits. */
    if (!nv->msrbmp02)
        m[VCORE__VMCS_CTL_PROC] &= ~VCORE__PROC_MSR_BITMAPS;
    int err = VCORE_OK;
    for (uint32_t i = 0; i < 5 && !err; i++)
        err = vcore__vcpu_nested_wr(vcpu, nested_ctl_fields[i], m[i]);
    /* L2's TSC function depends on "use TSC offsetting" and "use TSC scaling". */
    nv->tsc_stale = true;
    return err;
}

/* The guest fields L1 writes before nearly every VMRESUME (RIP past the
 * instruction that exited, RSP, RFLAGS): fields of every processor that
 * vmcs02 takes from vmcs12 as they are (the table walk's default rule),
 * written from their places in vmcs12. */
#define NESTED_HOT_FIELDS(X) X(GUEST_RIP) X(GUEST_RSP) X(GUEST_RFLAGS)
#define NESTED_HOT_BIT(name, w) | ((VCORE__ROW_##name / 64u == (w)) ? 1ull << (VCORE__ROW_##name % 64u) : 0ull)
#define NESTED_HOT_WORD(w) (0ull NESTED_HOT_FIELDS(NESTED_HOT_BIT_##w))
#define NESTED_HOT_BIT_0(name) NESTED_HOT_BIT(name, 0u)
#define NESTED_HOT_BIT_1(name) NESTED_HOT_BIT(name, 1u)
#define NESTED_HOT_BIT_2(name) NESTED_HOT_BIT(name, 2u)
#define NESTED_HOT_BIT_3(name) NESTED_HOT_BIT(name, 3u)
VCORE__STATIC_ASSERT(VCORE__DIRTY_WORDS <= 4u, nested_hot_four_words);
static const uint64_t nested_hot_rows[4] = {NESTED_HOT_WORD(0), NESTED_HOT_WORD(1), NESTED_HOT_WORD(2),
                                            NESTED_HOT_WORD(3)};

/* Every field L1 changed (all fields when vmcs02 is new for this vmcs12 or
 * the split is switched off). */
int vcore__vcpu_nested_fields(vcore_vcpu_t *vcpu, bool full)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    int err = VCORE_OK;
    if (!full) {
#define NESTED_HOT_WRITE(name)                                                                     \
    if (!err && vcore__vcpu_nested_row_dirty(nv, VCORE__ROW_##name))                               \
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_##name, v->name);
        NESTED_HOT_FIELDS(NESTED_HOT_WRITE)
#undef NESTED_HOT_WRITE
    }
    /* The other rows L1 wrote; most entries have none. */
    uint64_t rows[VCORE__DIRTY_WORDS], any = 0;
    for (uint32_t w = 0; w < VCORE__DIRTY_WORDS; w++) {
        rows[w] = full ? ~0ull : nv->dirty[w] & ~nested_hot_rows[w];
        any |= rows[w];
    }
    for (uint32_t w = 0; any && w < VCORE__DIRTY_WORDS && !err; w++) {
        uint64_t bits = rows[w];
        while (bits && !err) {
            uint32_t b = (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            uint32_t id = w * 64u + b;
            if (id >= VCORE__VMCS_NROWS)
                break;
            err = vcore__vcpu_nested_field(vcpu, &vcore__vmcs_rows[id]);
        }
    }
    if (!err)
        err = vcore__vcpu_nested_efer_enter(vcpu, full);
    if (!err)
        err = vcore__vcpu_nested_pat_enter(vcpu, full);
    if (!err)
        err = vcore__vcpu_nested_debugctl_enter(vcpu, full);
    if (!err && (full || nv->tsc_stale))
        err = vcore__vcpu_nested_tsc_enter(vcpu, full);
    if (err)
        return err;
    /* Without "save VMX-preemption timer value" each entry starts L1's timer
     * from vmcs12's value ("VMX-Preemption Timer"); a full or dirty write
     * above already did. */
    if ((v->PIN_BASED_VM_EXEC_CONTROL & (1u << 6)) && !(v->VM_EXIT_CONTROLS & (1u << 22)) &&
        !full && !vcore__vcpu_nested_row_dirty(nv, VCORE__ROW_VMX_PREEMPTION_TIMER_VALUE))
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, v->VMX_PREEMPTION_TIMER_VALUE);
    return err;
}

/* What vmcs12 (v: the current one, or an import's copy) asks for that the
 * pipeline does not provide yet: refused with a diagnostic naming the
 * control (never run half-configured). */
int vcore__vcpu_nested_supported(vcore_vcpu_t *vcpu, const vcore__vmcs12_t *v)
{
    uint32_t l1[5];
    vcore__vcpu_nested_l1_words(v, l1);
    uint32_t bad = 0;
    /* The capability MSRs make these allowed-0, so the VM-entry checks
     * fail them first; this catches them when a test switched that check
     * off. */
    for (uint32_t w = 0; w < 5 && !bad; w++)
        if (l1[w] & vcore__nvmx_refused_words[w])
            bad = (w << 8) | (uint32_t)__builtin_ctz(l1[w] & vcore__nvmx_refused_words[w]);
    if (!bad && (l1[2] & NESTED_PROC2_EPT) && !vcore__vcpu_nested_ept02_usable(vcpu))
        bad = (2u << 8) | 1u;
    /* vmcs02 needs "load IA32_EFER" to give L2 its EFER (vcpu_nested_efer.c). */
    if (!bad && !vcore__vcpu_nested_efer_forced(vcpu->nvmx))
        bad = (4u << 8) | 15u;
    /* ... and "load IA32_PAT" to give L2 its PAT (vcpu_nested_pat.c). */
    if (!bad && !vcore__vcpu_nested_pat_forced(vcpu->nvmx))
        bad = (4u << 8) | 14u;
    if (!bad)
        return VCORE_OK;
    (void)vcore__diag_set(&vcpu->last_diag, NESTED_DIAG_UNSUPPORTED, bad);
    return VCORE_ERR_UNSUPPORTED;
}

/* The early hardware check: controls are in vmcs02, guest state is not
 * consumed yet; RFLAGS bit 1 clear is an invalid guest state ("Checks on
 * Guest RIP, RFLAGS, and SSP"), so a VMfail-free vmcs02 ends in exit 33. */
static int vcore__vcpu_nested_early(vcore_vcpu_t *vcpu, vcore_hw_entry_t *he, bool *ok)
{
    int err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_RFLAGS, 0);
    if (!err)
        err = vcpu->vm->ops.vmcs_enter(vcpu, vcpu->priv, he);
    if (err)
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    *ok = he->kind == VCORE_HW_ENTRY_EXIT &&
          he->exit_reason == (VCORE_VMX_EXIT_INVALID_GUEST_STATE | VCORE_VMX_EXIT_REASON_ENTRY_FAIL);
    if (*ok)
        vcpu->nvmx->last.early_checks++;
    /* GUEST_RFLAGS is rewritten with the guest state. */
    return vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_RFLAGS, vcore__vcpu_nested_v12(vcpu)->GUEST_RFLAGS);
}

/* The backend's verdict on vmcs02 after L1's state was committed to it:
 * VMfailValid goes to L1 as the instruction's outcome, a failed entry as a
 * VM exit with L1's host state (L0's model of L1 was never changed). */
static int vcore__vcpu_nested_hw_outcome(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, const vcore_hw_entry_t *he,
                                         vcore_exit_t *exit, bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    /* Guest state was not loaded: L1 keeps its EFER and PAT. */
    vcore__vcpu_nested_efer_exit(vcpu);
    vcore__vcpu_nested_pat_exit(vcpu);
    if (he->kind == VCORE_HW_ENTRY_FAIL_VALID) {
        nv->in_l2 = false;
        *handled = true;
        return vcore__vcpu_nested_vmfail(vcpu, in, true, he->vm_error);
    }
    if (he->kind != VCORE_HW_ENTRY_EXIT) {
        /* VMfailInvalid on vmcs02: the library made it current, so this is
         * the backend's failure, not L1's. */
        nv->in_l2 = false;
        return VCORE_ERR_HWFAIL;
    }
    uint64_t qual = 0;
    int err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_EXIT_QUALIFICATION, &qual);
    if (err)
        return err;
    nv->in_l2 = false;
    return vcore__vcpu_nested_failed_entry(vcpu, he->exit_reason & ~VCORE_VMX_EXIT_REASON_ENTRY_FAIL, qual, exit,
                                           handled);
}

int vcore__vcpu_nested_alloc02(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (nv->vmcs02)
        return VCORE_OK;
    /* vmcs02's MSR bitmap first: a vmcs02 never runs without the page
     * its controls were chosen for. */
    int err = vcore__vcpu_nested_msrbmp_setup(vcpu);
    if (err)
        return err;
    err = vcpu->vm->ops.vmcs_alloc(vcpu, vcpu->priv, false, &nv->vmcs02);
    if (err) {
        nv->vmcs02 = NULL;
        return err < 0 ? err : VCORE_ERR_NOMEM;
    }
    nv->vmcs02_const = false;
    nv->vmcs02_for = VCORE__INVALID_PTR;
    /* vmcs02's VPID, asked for with the first vmcs02. */
    return vcore__vcpu_nested_vpid_setup(vcpu);
}

int vcore__vcpu_nested_prepare02(vcore_vcpu_t *vcpu, bool *full)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    /* L1's registers go to the backend first: L2 starts with them (VM entry
     * leaves the GPRs alone) and vmcs01 must hold L1's view for the exit. */
    uint32_t held = ops->state_groups ? ops->state_groups : VCORE_X86_STATE_ALL;
    int err;
    if (vcpu->dirty & held) {
        err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, vcpu->dirty & held);
        if (err)
            return err < 0 ? err : VCORE_ERR_HWFAIL;
        vcpu->dirty &= ~held;
    }
    err = vcore__vcpu_nested_alloc02(vcpu);
    if (err)
        return err;
    *full = nv->vmcs02_for != nv->current_vmptr || (nv->opts & VCORE_NVMX_OPT_NO_DIRTY_SPLIT) || !nv->vmcs02_const;
    if (!nv->vmcs02_const)
        err = vcore__vcpu_nested_const(vcpu);
    else if (nv->tsc01_gen != vcpu->tsc_writes)
        err = vcore__vcpu_nested_tsc01_sync(vcpu); /* the TSC pushed above changed vmcs01's offset */
    else
        err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_controls(vcpu, *full);
    if (!err && nv->vpid_live)
        err = vcore__vcpu_nested_vpid_enter(vcpu);
    if (!err)
        err = vcore__vcpu_nested_ept02_sync(vcpu);
    if (!err)
        err = vcore__vcpu_nested_apic_enter(vcpu);
    if (!err)
        vcore__vcpu_nested_msrbmp_enter(vcpu);
    return err;
}

/* The model's MSRs the list changed to the backend before L2 runs (L1
 * and L2 share them); vmcs02 current again after. */
static int vcore__vcpu_nested_push_msrs(vcore_vcpu_t *vcpu)
{
    const vcore_backend_t *ops = &vcpu->vm->ops;
    uint32_t held = ops->state_groups ? ops->state_groups : VCORE_X86_STATE_ALL;
    if (!(vcpu->dirty & held & VCORE_X86_STATE_MSRS))
        return VCORE_OK;
    int err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, VCORE_X86_STATE_MSRS);
    if (err)
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    vcpu->dirty &= ~VCORE_X86_STATE_MSRS;
    return vcore__vcpu_nested_load02(vcpu);
}

/* An exit vmcs12 asks for right after the entry that comes before an
 * external interrupt ("Special Features of VM Entry"): an open interrupt
 * or NMI window (vcore__vcpu_nested_window_due), a VMX-preemption timer of
 * zero ("VMX-Preemption Timer": over NMI-window exits), a TPR threshold
 * above VTPR ("VM Exits Induced by the TPR Threshold": over "any
 * interrupts ... pending at the time of VM entry"), a pending debug
 * exception. The processor makes that exit (or delivers the #DB) when
 * vmcs02 is entered; the interrupt stays pending. Blocking
 * by STI or MOV SS has ruled the interrupt out already. Out of line: asked
 * only with an interrupt pending. */
static __attribute__((noinline, cold)) bool vcore__vcpu_nested_exit_before_intr(vcore_vcpu_t *vcpu,
                                                                             const vcore__vmcs12_t *v)
{
    if (vcore__vcpu_nested_window_due(v) ||
        ((v->PIN_BASED_VM_EXEC_CONTROL & VCORE__PIN_PREEMPT_TIMER) && v->VMX_PREEMPTION_TIMER_VALUE == 0) ||
        vcore__vcpu_nested_apic_tpr_exit(vcpu))
        return true;
    /* "Delivery of Pending Debug Exceptions after VM Entry": valid pending
     * debug exceptions (enabled breakpoint, bit 12; BS, bit 14; RTM, bit
     * 16), not held by MOV SS, are delivered after the entry as a trap on
     * the previous instruction, before "any pending ... external
     * interrupt". vmcs02 holds what the entry loads (vmcs12's value when L1
     * wrote it, else the one saved at the last exit, which vmcs12 may hold
     * only lazily); a failed read leaves the decision to the processor. */
    uint64_t dbg = 0;
    return vcore__vcpu_nested_load02(vcpu) != VCORE_OK ||
           vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, &dbg) != VCORE_OK ||
           (dbg & VCORE__PENDDBG_VALID) != 0;
}

/* The entry (op VMLAUNCH or VMRESUME) is done and an NMI or interrupt
 * exit to L1 follows it before L2 executes anything; out of line, so that
 * the entries without one pay for none of it. */
static __attribute__((noinline, cold)) int vcore__vcpu_nested_entry_event(vcore_vcpu_t *vcpu, uint32_t op,
                                                                          vcore_exit_t *exit, bool *handled)
{
    if (vcore__vcpu_nested_entered(vcpu, op))
        return VCORE_ERR_STATE;
    bool reflected = false, shutdown = false;
    int err = vcore__vcpu_nested_pending_nmi(vcpu, exit, &reflected, &shutdown);
    if (!err && !reflected && !shutdown)
        err = vcore__vcpu_nested_pending_intr(vcpu, exit, &reflected, &shutdown);
    if (!err)
        *handled = reflected; /* not after a shutdown, which is no exit to L1 */
    return err;
}

/* The entry after its VM-entry MSR-load list (vcore__vcpu_nested_entry_loaded):
 * inline in the entry, which nearly every VMRESUME takes without a list. */
static inline int vcore__vcpu_nested_entry_tail(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_exit_t *exit,
                                                bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    vcore__nvmx_msrlist_t *ml = &nv->ml;
    vcore_hw_entry_t he;
    int err = VCORE_OK;
    *handled = false;
    /* An entry naming IA32_TIME_STAMP_COUNTER before any that failed
     * (vcpu_nested_msrload.c): the vCPU's TSC now, L2's offset from it. */
    if (ml->tsc)
        err = vcore__vcpu_nested_msrload_tsc(vcpu);
    if (!err && ml->failed) {
        /* Entries before the failing one stay loaded; vmcs02 holds some. */
        nv->vmcs02_for = VCORE__INVALID_PTR;
        nv->last.check = ml->check;
        return vcore__vcpu_nested_failed_entry(vcpu, VCORE_VMX_EXIT_MSR_LOADING, ml->failed, exit, handled);
    }
    if (!err && ml->model)
        err = vcore__vcpu_nested_push_msrs(vcpu);
    if (err) {
        nv->vmcs02_for = VCORE__INVALID_PTR;
        vcore__vcpu_nested_msrload_undo(vcpu); /* no half-loaded list */
        return err;
    }
    /* The pin-based controls that act just before vmcs02 is entered, behind
     * one test so that an entry with neither pays for neither: L1's timer
     * (6) starts from vmcs12's value ("VMX-Preemption Timer"); a
     * posted-interrupt notification still pending (7) is recognized as
     * soon as L2 is entered (vcpu_nested_pi.c). */
    uint32_t pin12 = vcore__vcpu_nested_v12(vcpu)->PIN_BASED_VM_EXEC_CONTROL;
    vcore__nested_pi_undo_t pi;
    pi.taken = false;
    if (pin12 & (VCORE__PIN_PREEMPT_TIMER | VCORE__PIN_POSTED_INTR)) {
        err = vcore__vcpu_nested_timer_start(vcpu, vcore__vcpu_nested_v12(vcpu)->VMX_PREEMPTION_TIMER_VALUE);
        if (!err && (pin12 & VCORE__PIN_POSTED_INTR))
            err = vcore__vcpu_nested_pi_entry(vcpu, &pi);
        if (err)
            return err;
    }
    /* An NMI or external interrupt the VMM made pending while L1 ran (L1
     * with NMIs blocked or RFLAGS.IF = 0) is recognized right after the
     * entry, before L2 executes anything (pin-based controls 3 and 0:
     * "Event Blocking"; NMIs first, "Priority Among Events"): the exit to
     * L1 saves L2's state as the entry loaded it, and vmcs02 need not run.
     * Pending debug exceptions the entry loaded come first
     * (vcore__vcpu_nested_l0_dbg). Only where the entry itself delivers
     * nothing first: no event injected; for an interrupt L2 active or
     * halted, no blocking by STI or MOV SS and no exit of higher priority
     * due right after the entry (vcore__vcpu_nested_exit_before_intr); for
     * an NMI what vcore__vcpu_nested_nmi_blocked() says; a posted-interrupt
     * notification is vcore__vcpu_nested_pi_entry()'s. */
    if (vcore__vcpu_nested_event_at_entry(vcpu))
        return vcore__vcpu_nested_entry_event(vcpu, in->op, exit, handled);
    /* L1's VMLAUNCH makes vmcs12 launched once the entry succeeds. */
    err = ops->vmcs_enter(vcpu, vcpu->priv, &he);
    if (err)
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    nv->vmcs02_for = nv->current_vmptr;
    if (he.kind != VCORE_HW_ENTRY_EXIT || (he.exit_reason & VCORE_VMX_EXIT_REASON_ENTRY_FAIL)) {
        /* The processor failed the entry before it would load MSRs, or
         * recognize a posted-interrupt notification. */
        nv->vmcs02_for = VCORE__INVALID_PTR;
        vcore__vcpu_nested_msrload_undo(vcpu);
        vcore__vcpu_nested_pi_undo(vcpu, &pi);
        return vcore__vcpu_nested_hw_outcome(vcpu, in, &he, exit, handled);
    }
    if (vcore__vcpu_nested_entered(vcpu, in->op))
        return VCORE_ERR_STATE;
    bool again = false;
    err = vcore__vcpu_nested_l2_exit(vcpu, &he, exit, handled, &again);
    if (err || !again)
        return err;
    return vcore__vcpu_nested_run_l2(vcpu, exit, handled);
}

int vcore__vcpu_nested_entry(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_exit_t *exit, bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore_vmx_verdict_t vd;
    /* L1 runs: the EFER and PAT are its own until fields are loaded. */
    vcore__vcpu_nested_efer_exit(vcpu);
    vcore__vcpu_nested_pat_exit(vcpu);
    int err = vcore__vcpu_nested_check(vcpu, in, &vd);
    /* Stale rarely-read fields may fail a guest-state check the real ones
     * pass: check again with them current. */
    if (!err && nv->rare_stale && vd.kind == VCORE_VMX_ENTRY_FAIL_EXIT) {
        err = vcore__vcpu_nested_sync_rare(vcpu);
        if (!err)
            err = vcore__vcpu_nested_check(vcpu, in, &vd);
    }
    if (err)
        return err;
    nv->last.check = vd.check;
    *handled = true;
    switch (vd.kind) {
    case VCORE_VMX_VMFAIL_INVALID:
        return vcore__vcpu_nested_vmfail(vcpu, in, false, 0);
    case VCORE_VMX_VMFAIL_VALID:
        return vcore__vcpu_nested_vmfail(vcpu, in, true, vd.vm_error);
    case VCORE_VMX_ENTRY_FAIL_EXIT:
        return vcore__vcpu_nested_failed_entry(vcpu, vd.exit_reason & ~VCORE_VMX_EXIT_REASON_ENTRY_FAIL,
                                               vd.qualification, exit, handled);
    default:
        break;
    }
    *handled = false;
    /* What the pipeline provides depends on the control words and the
     * backend only: unchanged since vmcs02 was last entered for this
     * vmcs12, they were accepted then. */
    if (nv->vmcs02_for != nv->current_vmptr || vcore__vcpu_nested_controls_dirty(nv)) {
        err = vcore__vcpu_nested_supported(vcpu, vcore__vcpu_nested_v12(vcpu));
        if (err)
            return err;
    }
    bool full = false;
    err = vcore__vcpu_nested_prepare02(vcpu, &full);
    vcore_hw_entry_t he;
    /* One test for both rare steps before the guest state. */
    if (!err && (nv->opts & (VCORE_NVMX_OPT_EARLY_HW_CHECK | VCORE__NVMX_OPT_SHADOW12))) {
        /* L1's shadow VMCS for L2's VMREAD/VMWRITE, read once for this
         * entry; a copy that fails the link-pointer rules fails the entry
         * as the check on it does ("Checks on Guest Non-Register State"),
         * before any MSR is loaded. */
        if (nv->opts & VCORE__NVMX_OPT_SHADOW12) {
            uint32_t link = 0;
            err = vcore__vcpu_nested_shadow12_enter(vcpu, &link);
            if (!err && link) {
                nv->vmcs02_for = VCORE__INVALID_PTR;
                nv->last.check = link;
                return vcore__vcpu_nested_failed_entry(vcpu, VCORE_VMX_EXIT_INVALID_GUEST_STATE,
                                                       VCORE_VMX_QUAL_LINK_POINTER, exit, handled);
            }
        }
        bool ok = true;
        if (!err && (nv->opts & VCORE_NVMX_OPT_EARLY_HW_CHECK))
            err = vcore__vcpu_nested_early(vcpu, &he, &ok);
        if (!err && !ok) {
            nv->vmcs02_for = VCORE__INVALID_PTR; /* rewrite everything next time */
            if (he.kind == VCORE_HW_ENTRY_FAIL_VALID)
                return vcore__vcpu_nested_hw_outcome(vcpu, in, &he, exit, handled);
            return VCORE_ERR_HWFAIL;
        }
    }
    if (!err)
        err = vcore__vcpu_nested_fields(vcpu, full);
    /* L2's PDPTEs: only outside IA-32e mode (a 64-bit L2 costs one test). */
    if (!err && !(vcore__vcpu_nested_v12(vcpu)->VM_ENTRY_CONTROLS & VCORE__ENTRY_IA32E))
        err = vcore__vcpu_nested_ept_pdptes(vcpu);
    if (err) {
        nv->vmcs02_for = VCORE__INVALID_PTR;
        return err;
    }
    /* "Loading MSRs": after the guest state; an empty list loads nothing. */
    nv->ml.failed = 0;
    nv->ml.check = 0;
    nv->ml.model = false;
    nv->ml.tsc = false;
    if (vcore__vcpu_nested_v12(vcpu)->VM_ENTRY_MSR_LOAD_COUNT != 0) {
        bool asked = false;
        err = vcore__vcpu_nested_msrload(vcpu, in, exit, &asked);
        if (err || asked) {
            /* An entry waits for the VMM: the list goes on with its reply
             * (vcore__vcpu_nested_msrload_reply), then the entry, which
             * marks vmcs02 as vmcs12's once L2 is entered; an error leaves
             * vmcs02 half written. */
            nv->vmcs02_for = VCORE__INVALID_PTR;
            return err;
        }
    }
    return vcore__vcpu_nested_entry_tail(vcpu, in, exit, handled);
}

int vcore__vcpu_nested_entry_loaded(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_exit_t *exit,
                                    bool *handled)
{
    return vcore__vcpu_nested_entry_tail(vcpu, in, exit, handled);
}

bool vcore__vcpu_nested_event_at_entry_slow(vcore_vcpu_t *vcpu)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    const vcore_x86_events_t *ev = &vcpu->x86->st.events;
    if (!(vcpu->valid & VCORE_X86_STATE_EVENTS) || (v->VM_ENTRY_INTR_INFO_FIELD & VCORE__IINFO_VALID))
        return false;
    if (ev->nmi_pending && (v->PIN_BASED_VM_EXEC_CONTROL & VCORE__PIN_NMI_EXITING) &&
        !vcore__vcpu_nested_nmi_blocked(v))
        return true;
    /* "Activity State": HLT does not block external interrupts; shutdown
     * and wait-for-SIPI do. */
    return ev->interrupt_pending && (v->PIN_BASED_VM_EXEC_CONTROL & VCORE__PIN_EXT_INT_EXITING) &&
           v->GUEST_ACTIVITY_STATE <= VCORE__ACT_HLT &&
           !(v->GUEST_INTERRUPTIBILITY_INFO & (VCORE__INTR_STI | VCORE__INTR_MOVSS)) &&
           !vcore__vcpu_nested_pi_notification(vcpu) && !vcore__vcpu_nested_exit_before_intr(vcpu, v);
}

bool vcore__vcpu_nested_entered(vcore_vcpu_t *vcpu, uint32_t op)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    nv->vmcs02_for = nv->current_vmptr;
    vcore_nvmx_clear_dirty(nv);
    if (op == VCORE_NVMX_VMLAUNCH && vcore_nvmx_mark_launched(nv) != VCORE_OK)
        return true;
    nv->in_l2 = true;
    nv->rare_stale = false;
    return false;
}

int vcore__vcpu_nested_run_l2(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    for (;;) {
        bool reflected = false, shutdown = false;
        int err = vcore__vcpu_nested_load02(vcpu);
        if (err)
            return err;
        /* An L2 instruction L0 or the VMM completed ends now: RIP past it,
         * and blocking by STI or MOV SS ends with it ("Interruptibility
         * State", bits 0 and 1); before any event, which would be
         * delivered on the boundary after it. */
        if (nv->l2_insn_len) {
            uint64_t rip = 0, intr = 0;
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_RIP, &rip);
            if (!err)
                err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_RIP, rip + nv->l2_insn_len);
            if (!err)
                err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, &intr);
            if (!err && (intr & 3u))
                err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, intr & ~3ull);
            if (!err)
                err = vcore__vcpu_nested_l0_step(vcpu);
            if (err)
                return err;
            nv->l2_insn_len = 0;
            nv->l2_done = true;
        }
        /* An INIT the VMM signalled while L2 ran: its VM exit comes first
         * on this boundary ("Other Causes of VM Exits"; INIT is above the
         * MTF VM exit and interrupts in "Priority Among Events"). */
        if (nv->init_pending)
            return vcore__vcpu_nested_init_exit(vcpu, exit, handled);
        /* "Monitor Trap Flag": with L1's control (primary processor-based
         * bit 27) an MTF VM exit is pending on the boundary after an
         * instruction - or an iteration of a REP string instruction - that
         * did not fault; L0 completed one the processor never saw finish. */
        if (nv->l2_done && (vcore__vcpu_nested_v12(vcpu)->CPU_BASED_VM_EXEC_CONTROL & (1u << 27)))
            nv->mtf_pending = true;
        nv->l2_done = false;
        /* The MTF VM exit comes before anything of L2, interrupts included
         * (SMIs, INIT and higher-priority events aside: "Monitor Trap
         * Flag"). */
        if (nv->mtf_pending)
            return vcore__vcpu_nested_mtf(vcpu, exit, handled);
        /* NMIs before external interrupts ("Priority Among Events"). */
        err = vcore__vcpu_nested_pending_nmi(vcpu, exit, &reflected, &shutdown);
        if (!err && !shutdown && !reflected)
            err = vcore__vcpu_nested_pending_intr(vcpu, exit, &reflected, &shutdown);
        if (err || shutdown)
            return err;
        if (reflected) {
            *handled = true;
            return VCORE_OK;
        }
        err = vcore__vcpu_nested_load02(vcpu);
        if (err)
            return err;
        /* The GPRs are L2's; the vCPU's MSRs the model holds (the VMM's
         * WRMSR answer for L2, say) are L2's too: L1 and L2 share them. */
        uint32_t held = ops->state_groups ? ops->state_groups : VCORE_X86_STATE_ALL;
        uint32_t push = vcpu->dirty & held & (VCORE_X86_STATE_GPRS | VCORE_X86_STATE_MSRS);
        if (push) {
            err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, push);
            if (err)
                return err < 0 ? err : VCORE_ERR_HWFAIL;
            vcpu->dirty &= ~push;
            err = vcore__vcpu_nested_load02(vcpu);
            if (err)
                return err;
        }
        /* L2 halted by the VMM's HLT and nothing for L1 on this boundary:
         * the VMM's run is the wake-up (vcpu_nested_l0.c). */
        if (nv->l2_halted) {
            err = vcore__vcpu_nested_l0_wake(vcpu);
            if (err)
                return err;
        }
        /* An EPT fault L0 served may have rebuilt ept02 elsewhere. */
        err = vcore__vcpu_nested_ept02_sync(vcpu);
        if (!err)
            err = vcore__vcpu_nested_apic_sync(vcpu);
        /* L1's timer continues with what L2 left of it. */
        if (!err)
            err = vcore__vcpu_nested_timer_resume(vcpu);
        if (err)
            return err;
        vcore_hw_entry_t he;
        err = ops->vmcs_enter(vcpu, vcpu->priv, &he);
        if (err)
            return err < 0 ? err : VCORE_ERR_HWFAIL;
        nv->run_pending = false; /* an imported pending VM entry has happened */
        nv->event02 = false;     /* the processor delivered what L0 put in vmcs02 */
        if (he.kind != VCORE_HW_ENTRY_EXIT)
            return VCORE_ERR_HWFAIL; /* a launched, checked vmcs02 cannot VMfail */
        bool again = false;
        err = vcore__vcpu_nested_l2_exit(vcpu, &he, exit, handled, &again);
        if (err || !again)
            return err;
    }
}
