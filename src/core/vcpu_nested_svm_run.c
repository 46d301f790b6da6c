/*
 * vcpu_nested_svm_run.c - L2 running on a hardware vmcb02 (the backend's
 * VMCB ops, backend.h): L1's VMRUN writes vmcb02, the run loop runs it, and
 * each #VMEXIT of L2 goes to L1 (reflected) or to L0 (the VMM, or the
 * core itself for nested page faults and the #UD of an unintercepted
 * VMMCALL). AMD APM Vol. 2, "VMRUN Instruction", "#VMEXIT", "Nested Paging".
 *
 * The core keeps an image of what hw02 holds and which of its fields it
 * knows (written or read since the last run); a field is written only when
 * the value differs or is unknown, so a VMRUN of an unchanged L2 costs the
 * fields that really changed and leaves their clean bits set ("VMCB Clean
 * Field"). The processor writes the state-save area, V_TPR/V_IRQ, the
 * interrupt shadow and EVENTINJ on #VMEXIT (and the backend's VMSAVE the
 * VMLOAD/VMSAVE state): those become unknown after every run.
 *
 * Register files: L2's GPRs other than RAX and RSP live in l2gprs (the
 * backend exchanges them with the processor); RAX, RSP, RIP and RFLAGS are
 * vmcb02 fields. The vCPU model keeps L1's state while L2 runs; #VMEXIT
 * rewrites it from the host-save copy, and the state VMRUN does not switch
 * (FS, GS, TR, LDTR, the SYSCALL/SYSENTER MSRs, KernelGsBase: APM "VMSAVE
 * and VMLOAD Instructions") moves with the processor from L1 to L2 and back.
 */
#include "vcpu_x86.h"

#include "virtcore/backend.h"
#include "virtcore/x86/nvmx_pipeline.h"
#include "x86/decode.h"
#include "x86/svm/nsvm_priv.h"

/* Named fields of the VMCB (x86/vmcb.h); the known bitmap holds 128. */
#define NSVM_RUN_MAX_FIELDS 128u

/* Fields the processor (or the backend's VMSAVE) may change while L2 runs:
 * the state-save area, V_TPR/V_IRQ (60H), the interrupt shadow (68H),
 * EXITCODE, EXITINFO1/2, EXITINTINFO (70H..88H), EVENTINJ (A8H) and nRIP
 * (C8H) ("#VMEXIT"). */
static bool nsvm_run_volatile(uint32_t off)
{
    return off >= VCORE_VMCB_SAVE_OFFSET || off == 0x060 || off == 0x068 || (off >= 0x070 && off <= 0x088) ||
           off == 0x0a8 || off == 0x0c8;
}

static bool nsvm_run_known(const vcore_nsvm_t *n, uint32_t i)
{
    return i < NSVM_RUN_MAX_FIELDS && ((n->hw02_known[i / 64u] >> (i % 64u)) & 1u);
}

static void nsvm_run_set_known(vcore_nsvm_t *n, uint32_t i)
{
    if (i < NSVM_RUN_MAX_FIELDS)
        n->hw02_known[i / 64u] |= 1ull << (i % 64u);
}

/* The index of the named field at off (fields are in offset order). */
static int nsvm_run_index(uint32_t off, uint32_t *index, vcore_vmcb_field_info_t *info)
{
    uint32_t count = vcore_vmcb_field_count();
    info->size = sizeof(*info);
    for (uint32_t i = 0; i < count; i++) {
        if (vcore_vmcb_field_at(i, info) != VCORE_OK)
            break;
        if (info->offset == off) {
            *index = i;
            return VCORE_OK;
        }
    }
    return VCORE_ERR_NOENT;
}

/* Reads one field of hw02 into the image; a field the image knows is not
 * read again (nothing but the core and a run change hw02). */
static int nsvm_run_read(vcore_vcpu_t *vcpu, uint32_t off, uint64_t *value)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    vcore_vmcb_field_info_t info;
    uint32_t i = 0;
    int err = nsvm_run_index(off, &i, &info);
    if (!err && nsvm_run_known(n, i))
        return vcore_vmcb_read(&n->hw02_img, off, info.bytes, value);
    if (!err)
        err = vcpu->vm->ops.vmcb_read(vcpu, vcpu->priv, n->hw02, off, info.bytes, value);
    if (!err)
        err = vcore_vmcb_write(&n->hw02_img, off, info.bytes, *value);
    if (!err)
        nsvm_run_set_known(n, i);
    return err;
}

/* Writes one field of hw02 between two runs of L2 (the image follows). */
static int nsvm_run_write(vcore_vcpu_t *vcpu, uint32_t off, uint64_t value)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    vcore_vmcb_field_info_t info;
    uint32_t i = 0;
    int err = nsvm_run_index(off, &i, &info);
    if (!err)
        err = vcpu->vm->ops.vmcb_write(vcpu, vcpu->priv, n->hw02, off, info.bytes, value);
    if (!err)
        err = vcore_vmcb_write(&n->hw02_img, off, info.bytes, value);
    if (!err)
        nsvm_run_set_known(n, i);
    return err;
}

/* Brings hw02 to the image want: every core-written field that differs
 * from what hw02 is known to hold. */
static int nsvm_run_sync(vcore_vcpu_t *vcpu, const vcore_vmcb_t *want)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    uint32_t count = vcore_vmcb_field_count();
    vcore_vmcb_field_info_t info;
    info.size = sizeof(info);
    for (uint32_t i = 0; i < count; i++) {
        if (vcore_vmcb_field_at(i, &info) != VCORE_OK)
            return VCORE_ERR_HWFAIL;
        if (vcore_vmcb_field_backend_owned(info.offset))
            continue;
        uint64_t v = 0, have = 0;
        if (vcore_vmcb_read(want, info.offset, info.bytes, &v) != VCORE_OK ||
            vcore_vmcb_read(&n->hw02_img, info.offset, info.bytes, &have) != VCORE_OK)
            return VCORE_ERR_HWFAIL;
        if (nsvm_run_known(n, i) && have == v)
            continue;
        int err = vcpu->vm->ops.vmcb_write(vcpu, vcpu->priv, n->hw02, info.offset, info.bytes, v);
        if (err)
            return err;
        if (vcore_vmcb_write(&n->hw02_img, info.offset, info.bytes, v) != VCORE_OK)
            return VCORE_ERR_HWFAIL;
        nsvm_run_set_known(n, i);
    }
    return VCORE_OK;
}

/* After a run: what the processor may have written is unknown. */
static void nsvm_run_forget_volatile(vcore_nsvm_t *n)
{
    uint32_t count = vcore_vmcb_field_count();
    vcore_vmcb_field_info_t info;
    info.size = sizeof(info);
    for (uint32_t i = 0; i < count && i < NSVM_RUN_MAX_FIELDS; i++)
        if (vcore_vmcb_field_at(i, &info) == VCORE_OK && nsvm_run_volatile(info.offset))
            n->hw02_known[i / 64u] &= ~(1ull << (i % 64u));
}

bool vcore__vcpu_nsvm_in_l2(const vcore_vcpu_t *vcpu)
{
    const vcore_nsvm_t *n = vcpu->nsvm;
    return n->hw02_active && n->guest_mode;
}

void vcore__vcpu_nsvm_teardown(vcore_vcpu_t *vcpu)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    if (n->hw02)
        vcpu->vm->ops.vmcb_free(vcpu, vcpu->priv, n->hw02);
    n->hw02 = NULL;
    n->hw02_active = false;
    n->hw02_exit_out = false;
}

/* The backend-owned part of hw02: the merged maps, the nested table and
 * the flushes L1 asked for. */
static int nsvm_run_setup(vcore_vcpu_t *vcpu)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    vcore_hw_vmcb_setup_t s;
    vcore__memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    s.msrpm = n->msrpm02;
    s.iopm = n->iopm02;
    s.npt = (n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE) ? VCORE_HW_VMCB_NPT_SHADOW
                                                                          : VCORE_HW_VMCB_NPT_VM;
    s.flush = n->hw02_flush;
    s.maps_unchanged = n->maps_changed ? 0u : 1u;
    int err = vcpu->vm->ops.vmcb_setup(vcpu, vcpu->priv, n->hw02, &s);
    if (!err) {
        n->hw02_flush = 0;
        n->maps_changed = false;
    }
    return err;
}

/* The state VMRUN leaves alone goes with the processor (APM "VMSAVE and
 * VMLOAD Instructions"): L1's current values are L2's at entry. */
static void nsvm_run_vmload_state(vcore_vmcb_save_t *d, const vcore_x86_state_t *st)
{
    vcore__nsvm_seg_to_vmcb(&d->fs, &st->sregs.seg[VCORE_X86_FS]);
    vcore__nsvm_seg_to_vmcb(&d->gs, &st->sregs.seg[VCORE_X86_GS]);
    vcore__nsvm_seg_to_vmcb(&d->ldtr, &st->sregs.seg[VCORE_X86_LDTR]);
    vcore__nsvm_seg_to_vmcb(&d->tr, &st->sregs.seg[VCORE_X86_TR]);
    d->kernel_gs_base = st->msrs.kernel_gs_base;
    d->star = st->msrs.star;
    d->lstar = st->msrs.lstar;
    d->cstar = st->msrs.cstar;
    d->sfmask = st->msrs.sfmask;
    d->sysenter_cs = st->msrs.sysenter_cs;
    d->sysenter_esp = st->msrs.sysenter_esp;
    d->sysenter_eip = st->msrs.sysenter_eip;
}

int vcore__vcpu_nsvm_enter_l2(vcore_vcpu_t *vcpu, const vcore_nsvm_result_t *res)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    vcore__x86_vcpu_t *x = vcpu->x86;
    if (!n->hw02) {
        int err = ops->vmcb_alloc(vcpu, vcpu->priv, &n->hw02);
        if (err)
            return err;
        /* A new VMCB is zeroed: every field is known to be 0. */
        vcore__memset(&n->hw02_img, 0, sizeof(n->hw02_img));
        n->hw02_known[0] = n->hw02_known[1] = ~0ull;
    }
    /* The image hw02 must hold: vmcb02 as nsvm built it, with L2's
     * registers and the state VMRUN does not switch. L0 runs every guest
     * with nested paging, so the guest's PAT is G_PAT: VMCB12's when L1
     * gives L2 nested paging, else L1's own PAT, shared with L2. */
    vcore_vmcb_t *want = &n->scratch;
    vcore__memcpy(want, &n->vmcb02, sizeof(*want));
    /* Without V_INTR_MASKING in VMCB12, L2's CR8 is L1's TPR (APM Vol. 2,
     * "Virtual Interrupt Masking": only with it set are the guest's TPR
     * accesses virtual); vmcb02 always masks virtually, so its V_TPR
     * starts as L1's TPR and goes back to L1 at #VMEXIT. */
    if (!(n->vmcb12.control.int_ctl & VCORE_VMCB_INT_V_INTR_MASKING))
        want->control.int_ctl = (want->control.int_ctl & ~(uint32_t)VCORE_VMCB_INT_V_TPR_MASK) |
                                ((uint32_t)x->st.sregs.cr8 & VCORE_VMCB_INT_V_TPR_MASK);
    nsvm_run_vmload_state(&want->save, &x->st);
    want->save.rip = res->regs.rip;
    want->save.rflags = res->regs.rflags;
    want->save.rsp = res->regs.gpr[VCORE_X86_RSP];
    want->save.rax = res->regs.gpr[VCORE_X86_RAX];
    /* Under L1's nested paging L2's PAT accesses are L0's unless L1
     * intercepts them (nsvm_run_pat; the merged map has both bits set:
     * pat_np_intercept). */
    if (!(n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE))
        want->save.g_pat = x->st.msrs.pat;
    n->l2gprs = res->regs;
    /* L1's TLB_CONTROL, another ASID of L1's, or another VMCB12: L2's
     * cached translations go (its ASID, and a shadow nested table built
     * from L1's tables as they were). */
    if (res->tlb_flush)
        n->hw02_flush |= VCORE_HW_VMCB_FLUSH_ASID | VCORE_HW_VMCB_FLUSH_SHADOW;
    int err = nsvm_run_sync(vcpu, want);
    if (!err)
        err = nsvm_run_setup(vcpu);
    if (err)
        return err;
    n->hw02_active = true;
    return VCORE_OK;
}

/* hw02's fields that hold L2's registers: what the VMM sees of L2 and
 * what the reflection writes to VMCB12. */
static const uint16_t nsvm_run_l2_fields[] = {
    0x060, 0x068, /* INT_CTL, INT_STATE */
    0x400, 0x402, 0x404, 0x408, 0x410, 0x412, 0x414, 0x418, /* ES, CS */
    0x420, 0x422, 0x424, 0x428, 0x430, 0x432, 0x434, 0x438, /* SS, DS */
    0x440, 0x442, 0x444, 0x448, 0x450, 0x452, 0x454, 0x458, /* FS, GS */
    0x464, 0x468, 0x470, 0x472, 0x474, 0x478,               /* GDTR, LDTR */
    0x484, 0x488, 0x490, 0x492, 0x494, 0x498,               /* IDTR, TR */
    0x4cb, 0x4d0, 0x548, 0x550, 0x558, 0x560, 0x568,        /* CPL, EFER, CR4, CR3, CR0, DR7, DR6 */
    0x570, 0x578, 0x5d8, 0x5f8,                             /* RFLAGS, RIP, RSP, RAX */
    0x600, 0x608, 0x610, 0x618, 0x620, 0x628, 0x630, 0x638, /* STAR .. SYSENTER_EIP */
    0x640, 0x668,                                           /* CR2, G_PAT */
};

/* Brings every field of nsvm_run_l2_fields into the image. */
static int nsvm_run_l2_fetch(vcore_vcpu_t *vcpu)
{
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(nsvm_run_l2_fields); i++) {
        uint64_t v;
        int err = nsvm_run_read(vcpu, nsvm_run_l2_fields[i], &v);
        if (err)
            return err;
    }
    return VCORE_OK;
}

/* L2's registers from the image over st (the vCPU's state: what VMRUN
 * does not switch and the VMCB does not hold stays st's). L2's CR8 is
 * V_TPR: vmcb02 always has V_INTR_MASKING ("Virtual Interrupt Masking"). */
static void nsvm_run_l2_over(const vcore_nsvm_t *n, vcore_x86_state_t *st)
{
    const vcore_vmcb_t *h = &n->hw02_img;
    st->regs = n->l2gprs;
    st->regs.rip = h->save.rip;
    st->regs.rflags = h->save.rflags;
    st->regs.gpr[VCORE_X86_RSP] = h->save.rsp;
    st->regs.gpr[VCORE_X86_RAX] = h->save.rax;
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_ES], &h->save.es);
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_CS], &h->save.cs);
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_SS], &h->save.ss);
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_DS], &h->save.ds);
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_FS], &h->save.fs);
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_GS], &h->save.gs);
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_LDTR], &h->save.ldtr);
    vcore__nsvm_seg_from_vmcb(&st->sregs.seg[VCORE_X86_TR], &h->save.tr);
    st->sregs.gdtr.base = h->save.gdtr.base;
    st->sregs.gdtr.limit = (uint16_t)h->save.gdtr.limit;
    st->sregs.idtr.base = h->save.idtr.base;
    st->sregs.idtr.limit = (uint16_t)h->save.idtr.limit;
    st->sregs.cr0 = h->save.cr0;
    st->sregs.cr2 = h->save.cr2;
    st->sregs.cr3 = h->save.cr3;
    st->sregs.cr4 = h->save.cr4;
    st->sregs.cr8 = h->control.int_ctl & VCORE_VMCB_INT_V_TPR_MASK;
    st->sregs.efer = h->save.efer;
    st->msrs.star = h->save.star;
    st->msrs.lstar = h->save.lstar;
    st->msrs.cstar = h->save.cstar;
    st->msrs.sfmask = h->save.sfmask;
    st->msrs.kernel_gs_base = h->save.kernel_gs_base;
    st->msrs.sysenter_cs = h->save.sysenter_cs;
    st->msrs.sysenter_esp = h->save.sysenter_esp;
    st->msrs.sysenter_eip = h->save.sysenter_eip;
    st->msrs.pat = h->save.g_pat;
    st->dregs.dr6 = h->save.dr6;
    st->dregs.dr7 = h->save.dr7;
}

/* L2's state at its exit, from hw02 (what the reflection writes to VMCB12
 * and what L1 gets back of the processor state). */
static int nsvm_run_l2_state(vcore_vcpu_t *vcpu, const vcore_exit_t *exit, vcore_nsvm_l2_exit_t *ex)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    int err = nsvm_run_l2_fetch(vcpu);
    if (err)
        return err;
    /* nRIP for L1 ("Next RIP Saved"): the end of the intercepted
     * instruction the backend found (the processor's nRIP, or the
     * instruction decoded where the processor saves none), else the
     * processor's field. */
    if (n->features & VCORE_SVM_FEAT_NRIPS) {
        ex->next_rip = exit ? exit->raw.data[4] : 0;
        if (!ex->next_rip) {
            err = nsvm_run_read(vcpu, 0x0c8, &ex->next_rip);
            if (err)
                return err;
        }
    }
    const vcore_vmcb_t *h = &n->hw02_img;
    vcore_x86_state_t *st = &n->l2view;
    *st = vcpu->x86->st;
    nsvm_run_l2_over(n, st);
    /* L1's TPR is not L2's exit state, unless L1 gave L2 no V_INTR_MASKING:
     * then L2's CR8 was L1's TPR ("Virtual Interrupt Masking"). */
    st->sregs.cr8 = (n->vmcb12.control.int_ctl & VCORE_VMCB_INT_V_INTR_MASKING)
                        ? vcpu->x86->st.sregs.cr8
                        : (uint64_t)(h->control.int_ctl & VCORE_VMCB_INT_V_TPR_MASK);
    ex->int_ctl = h->control.int_ctl;
    ex->int_state = h->control.int_state;
    ex->cpl = h->save.cpl;
    ex->regs = st->regs;
    ex->sregs = st->sregs;
    ex->msrs = st->msrs;
    ex->dr6 = st->dregs.dr6;
    ex->dr7 = st->dregs.dr7;
    return VCORE_OK;
}

int vcore__vcpu_nsvm_l2_load(vcore_vcpu_t *vcpu, vcore_x86_state_t *st)
{
    int err = nsvm_run_l2_fetch(vcpu);
    if (err)
        return err;
    *st = vcpu->x86->st;
    nsvm_run_l2_over(vcpu->nsvm, st);
    return VCORE_OK;
}

int vcore__vcpu_nsvm_l2_store(vcore_vcpu_t *vcpu, const vcore_x86_state_t *st)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    vcore__x86_vcpu_t *x = vcpu->x86;
    /* Every field of nsvm_run_l2_fields is in the image (l2_load). */
    vcore_vmcb_t *want = &n->scratch;
    vcore__memcpy(want, &n->hw02_img, sizeof(*want));
    vcore_vmcb_save_t *d = &want->save;
    static const uint32_t segs[] = {VCORE_X86_ES, VCORE_X86_CS, VCORE_X86_SS, VCORE_X86_DS,
                                    VCORE_X86_FS, VCORE_X86_GS, VCORE_X86_LDTR, VCORE_X86_TR};
    vcore_vmcb_seg_t *vsegs[] = {&d->es, &d->cs, &d->ss, &d->ds, &d->fs, &d->gs, &d->ldtr, &d->tr};
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(segs); i++)
        vcore__nsvm_seg_to_vmcb(vsegs[i], &st->sregs.seg[segs[i]]);
    d->gdtr.base = st->sregs.gdtr.base;
    d->gdtr.limit = st->sregs.gdtr.limit;
    d->idtr.base = st->sregs.idtr.base;
    d->idtr.limit = st->sregs.idtr.limit;
    /* The VMCB's CPL is SS.DPL, 0 in real mode ("Segment State in the VMCB"). */
    d->cpl = (st->sregs.cr0 & VCORE__CR0_PE) ? (uint8_t)((st->sregs.seg[VCORE_X86_SS].ar >> 5) & 3u) : 0u;
    d->cr0 = st->sregs.cr0;
    d->cr2 = st->sregs.cr2;
    d->cr3 = st->sregs.cr3;
    d->cr4 = st->sregs.cr4;
    d->efer = st->sregs.efer;
    want->control.int_ctl = (want->control.int_ctl & ~(uint32_t)VCORE_VMCB_INT_V_TPR_MASK) |
                            ((uint32_t)st->sregs.cr8 & VCORE_VMCB_INT_V_TPR_MASK);
    d->rip = st->regs.rip;
    d->rflags = st->regs.rflags;
    d->rsp = st->regs.gpr[VCORE_X86_RSP];
    d->rax = st->regs.gpr[VCORE_X86_RAX];
    d->dr6 = st->dregs.dr6;
    d->dr7 = st->dregs.dr7;
    d->star = st->msrs.star;
    d->lstar = st->msrs.lstar;
    d->cstar = st->msrs.cstar;
    d->sfmask = st->msrs.sfmask;
    d->kernel_gs_base = st->msrs.kernel_gs_base;
    d->sysenter_cs = st->msrs.sysenter_cs;
    d->sysenter_esp = st->msrs.sysenter_esp;
    d->sysenter_eip = st->msrs.sysenter_eip;
    d->g_pat = st->msrs.pat;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(nsvm_run_l2_fields); i++) {
        uint32_t off = nsvm_run_l2_fields[i];
        vcore_vmcb_field_info_t info;
        uint32_t idx = 0;
        uint64_t v = 0, have = 0;
        int err = nsvm_run_index(off, &idx, &info);
        if (!err)
            err = vcore_vmcb_read(want, off, info.bytes, &v);
        if (!err)
            err = vcore_vmcb_read(&n->hw02_img, off, info.bytes, &have);
        if (!err && v != have)
            err = nsvm_run_write(vcpu, off, v);
        if (err)
            return err;
    }
    n->l2gprs = st->regs;
    /* The rest is shared by L1 and L2 (not switched by VMRUN): the vCPU's,
     * for the backend's vmcb01 (the TSC only when it was set: it advances
     * on its own). */
    vcore_x86_msrs_t m = st->msrs;
    m.star = x->st.msrs.star;
    m.lstar = x->st.msrs.lstar;
    m.cstar = x->st.msrs.cstar;
    m.sfmask = x->st.msrs.sfmask;
    m.kernel_gs_base = x->st.msrs.kernel_gs_base;
    m.sysenter_cs = x->st.msrs.sysenter_cs;
    m.sysenter_esp = x->st.msrs.sysenter_esp;
    m.sysenter_eip = x->st.msrs.sysenter_eip;
    m.pat = x->st.msrs.pat;
    uint32_t dirty = VCORE_X86_STATE_DREGS | VCORE_X86_STATE_MSRS;
    if (m.tsc != x->st.msrs.tsc)
        dirty |= VCORE_X86_STATE_TSC;
    x->st.msrs = m;
    vcore__memcpy(x->st.dregs.dr, st->dregs.dr, sizeof(x->st.dregs.dr));
    vcore__vcpu_mark_dirty(vcpu, dirty);
    return VCORE_OK;
}

/* The groups a #VMEXIT to L1 rewrites in the vCPU model. */
#define NSVM_RUN_L1_GROUPS                                                                          \
    (VCORE_X86_STATE_REGS | VCORE_X86_STATE_SEGS | VCORE_X86_STATE_DTABLES | VCORE_X86_STATE_CRS |    \
     VCORE_X86_STATE_EFER | VCORE_X86_STATE_DREGS | VCORE_X86_STATE_MSRS | VCORE_X86_STATE_MODE)

/* #VMEXIT to L1: VMCB12 written, L1's state into the vCPU model. */
static int nsvm_run_to_l1(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *mem, vcore_nsvm_l2_exit_t *ex,
                          vcore_exit_t *exit, bool *l1)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    vcore__x86_vcpu_t *x = vcpu->x86;
    vcore_nsvm_result_t res;
    res.size = sizeof(res);
    int err = vcore_nsvm_reflect(n, mem, ex, &res, &vcpu->last_diag);
    if (err)
        return err;
    n->hw02_active = false;
    if (res.outcome == VCORE_NSVM_OUT_SHUTDOWN) {
        vcore__memset(&exit->u, 0, sizeof(exit->u));
        exit->flags = 0;
        exit->reason = VCORE_EXIT_SHUTDOWN;
        return VCORE_OK;
    }
    /* The model's groups are all current (L1's at VMRUN); every one the
     * #VMEXIT touches is rewritten and goes to the backend's vmcb01. */
    x->st.regs = res.regs;
    x->st.sregs = res.sregs;
    x->st.msrs = res.msrs;
    x->st.dregs.dr6 = res.dr6;
    x->st.dregs.dr7 = res.dr7;
    vcore__vcpu_mark_dirty(vcpu, NSVM_RUN_L1_GROUPS);
    *l1 = true;
    return VCORE_OK;
}

/* Access rights of an L2 page in L1's nested table, probed by walks. */
static uint32_t nsvm_run_prot(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, uint64_t gpa)
{
    uint64_t l1, info;
    uint32_t prot = 0;
    if (vcore_nsvm_npt_walk(n, mem, gpa, VCORE_NSVM_WRITE, false, &l1, &info) == VCORE_OK)
        prot |= VCORE_HW_NPT_WRITE;
    if (vcore_nsvm_npt_walk(n, mem, gpa, VCORE_NSVM_FETCH, false, &l1, &info) == VCORE_OK)
        prot |= VCORE_HW_NPT_EXEC;
    return prot;
}

/* L2's guest-physical memory under L1's nested paging: through L1's nested
 * table (the VMCB12 copy's nCR3, "Nested Paging") to the VM's memory. */
typedef struct nsvm_run_l2mem {
    const vcore_nsvm_t *n;
    const vcore_nvmx_mem_t *vm;
} nsvm_run_l2mem_t;

static int nsvm_run_l2mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    const nsvm_run_l2mem_t *m = ctx;
    uint8_t *out = buf;
    for (size_t done = 0; done < len;) {
        uint64_t l1 = 0, info = 0;
        if (vcore_nsvm_npt_walk(m->n, m->vm, gpa + done, VCORE_NSVM_READ, false, &l1, &info) != VCORE_OK)
            return VCORE_ERR_FAULT;
        size_t chunk = 0x1000u - (size_t)(l1 & 0xfffu);
        if (chunk > len - done)
            chunk = len - done;
        int err = m->vm->read(m->vm->ctx, l1, out + done, chunk);
        if (err)
            return err;
        done += chunk;
    }
    return VCORE_OK;
}

/* The instruction at L2's CS:RIP, fetched through L2's paging composed with
 * L1's nested table: up to 15 bytes; *bits is L2's code size. */
static int nsvm_run_l2_fetch_insn(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *vm, uint8_t insn[15], size_t *got,
                                  uint32_t *bits, uint64_t *rip)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    static const uint16_t f[] = {0x412, 0x418, 0x4d0, 0x548, 0x550, 0x558, 0x578}; /* CS, EFER, CR4, CR3, CR0, RIP */
    uint64_t v[VCORE__ARRAY_SIZE(f)];
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(f); i++) {
        int err = nsvm_run_read(vcpu, f[i], &v[i]);
        if (err)
            return err;
    }
    vcore_x86_sregs_t s;
    vcore__memset(&s, 0, sizeof(s));
    uint32_t ar = vcore_vmcb_attr_to_ar((uint16_t)v[0]);
    s.seg[VCORE_X86_CS].ar = ar;
    s.seg[VCORE_X86_CS].base = v[1];
    s.efer = v[2];
    s.cr4 = v[3];
    s.cr3 = v[4];
    s.cr0 = v[5];
    *rip = v[6];
    *bits = ((s.efer & VCORE__EFER_LMA) && (ar & VCORE_X86_AR_L)) ? 64u
            : !(s.cr0 & VCORE__CR0_PE)                             ? 16u
            : (ar & VCORE_X86_AR_DB)                               ? 32u
                                                                   : 16u;
    nsvm_run_l2mem_t l2 = {n, vm};
    vcore_nvmx_mem_t mem = {sizeof(mem), &l2, nsvm_run_l2mem_read, NULL};
    uint64_t la = s.seg[VCORE_X86_CS].base + *rip;
    *got = 0;
    while (*got < 15) {
        uint64_t cur = *bits == 64 ? la + *got : (uint32_t)(la + *got);
        size_t chunk = 0x1000u - (size_t)(cur & 0xfffu);
        if (chunk > 15 - *got)
            chunk = 15 - *got;
        uint64_t gpa = 0;
        vcore__walk_fault_t fault;
        /* The fetch is L2's own: RFLAGS.AC keeps SMAP out of it. */
        if (vcore__walk_access(&mem, &s, VCORE__RFLAGS_AC, n->maxphyaddr, cur, n->no_pages_1g ? VCORE__WALK_NO_1G : 0u,
                               &gpa, &fault, NULL) != VCORE_OK ||
            nsvm_run_l2mem_read(&l2, gpa, insn + *got, chunk) != VCORE_OK)
            break;
        *got += chunk;
    }
    return VCORE_OK;
}

/* A register of L2: RAX and RSP are vmcb02's, the others l2gprs. */
static int nsvm_run_l2_gpr(vcore_vcpu_t *vcpu, uint32_t reg, uint64_t *v)
{
    if (reg == VCORE_X86_RAX)
        return nsvm_run_read(vcpu, 0x5f8, v);
    if (reg == VCORE_X86_RSP)
        return nsvm_run_read(vcpu, 0x5d8, v);
    *v = vcpu->nsvm->l2gprs.gpr[reg & 15u];
    return VCORE_OK;
}

static int nsvm_run_l2_set_gpr(vcore_vcpu_t *vcpu, uint32_t reg, uint64_t v)
{
    if (reg == VCORE_X86_RAX)
        return nsvm_run_write(vcpu, 0x5f8, v);
    if (reg == VCORE_X86_RSP)
        return nsvm_run_write(vcpu, 0x5d8, v);
    vcpu->nsvm->l2gprs.gpr[reg & 15u] = v;
    return VCORE_OK;
}

/* L2's data access to an L1-physical address that is not RAM of the VM,
 * under L1's nested paging: the MOV at L2's RIP, fetched through L2's
 * paging and L1's nested table, decoded for the VMM as MMIO at the VM's
 * (L1's) address; the core completes it at the next run. The processor
 * reports neither size nor register ("Nested versus Guest Page Faults,
 * Fault Ordering"). A fetch, an access of L2's own page walk, one made by
 * an event delivery, or another instruction go to the VMM raw. */
static int nsvm_run_l2_mmio(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex,
                            uint64_t vm_gpa, vcore_exit_t *exit)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    vcore__x86_insn_t in;
    vcore__x86_mmio_mov_t mov;
    uint8_t insn[15];
    size_t got = 0;
    uint32_t bits = 0;
    uint64_t rip = 0, val = 0;
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    exit->reason = VCORE_EXIT_RAW;
    exit->flags = 0;
    exit->raw.data[4] = 0;
    exit->raw.data[5] = vm_gpa;
    n->l2_mmio = true; /* whatever the backend made of it, it completes nothing */
    n->l2_mmio_len = 0;
    n->l2_mmio_next = 0;
    if ((ex->exit_info1 & (VCORE_VMCB_NPF_ID | VCORE_VMCB_NPF_TABLE)) || (ex->exit_int_info & VCORE_VMCB_EVENT_V))
        return VCORE_OK;
    int err = nsvm_run_l2_fetch_insn(vcpu, mem, insn, &got, &bits, &rip);
    if (err)
        return err;
    if (vcore__x86_decode(insn, got, bits, &in) != VCORE_OK || vcore__x86_mmio_mov(&in, &mov) != VCORE_OK ||
        mov.is_write != ((ex->exit_info1 & VCORE_VMCB_NPF_RW) != 0))
        return VCORE_OK;
    if (mov.is_write) {
        val = mov.value;
        if (!mov.has_imm) {
            err = nsvm_run_l2_gpr(vcpu, mov.reg, &val);
            if (err)
                return err;
            if (mov.high8)
                val >>= 8;
        }
        for (uint32_t i = 0; i < mov.size; i++)
            exit->u.mmio.data[i] = (uint8_t)(val >> (8 * i));
    } else {
        exit->flags = VCORE_EXIT_F_NEEDS_REPLY;
    }
    exit->reason = VCORE_EXIT_MMIO;
    exit->u.mmio.gpa = vm_gpa;
    exit->u.mmio.len = mov.size;
    exit->u.mmio.is_write = mov.is_write ? 1u : 0u;
    n->l2_mmio_reg = mov.reg;
    n->l2_mmio_high8 = mov.high8;
    n->l2_mmio_len = (uint8_t)(mov.is_write ? 0u : mov.size);
    n->l2_mmio_next = bits == 64 ? rip + in.len : (uint32_t)(rip + in.len);
    exit->raw.data[4] = n->l2_mmio_next;
    return VCORE_OK;
}

/* The core's MMIO exit of L2 answered: a read loads its register, and L2
 * goes on after the instruction (RIP stays on a raw one). */
static int nsvm_run_l2_mmio_done(vcore_vcpu_t *vcpu, const vcore_exit_t *exit, uint32_t answering)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    n->l2_mmio = false;
    if (!n->l2_mmio_next)
        return VCORE_OK;
    if (n->l2_mmio_len) {
        if (answering != VCORE_EXIT_MMIO)
            return VCORE_OK; /* not answered: the instruction runs again */
        uint64_t v = 0, old = 0;
        for (uint32_t i = 0; i < n->l2_mmio_len && i < 8; i++)
            v |= (uint64_t)exit->u.mmio.data[i] << (8 * i);
        int err = nsvm_run_l2_gpr(vcpu, n->l2_mmio_reg, &old);
        if (!err)
            err = nsvm_run_l2_set_gpr(vcpu, n->l2_mmio_reg,
                                      vcore__x86_reg_load(old, v, n->l2_mmio_len, n->l2_mmio_high8));
        if (err)
            return err;
    }
    return nsvm_run_write(vcpu, 0x578, n->l2_mmio_next);
}

/* A nested page fault L1's table allows: map the page in the shadow table
 * (*again), or hand the access to the VMM at the VM's address (MMIO). */
static int nsvm_run_npf_l0(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex,
                           vcore_exit_t *exit, bool *again)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    if (!(n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE))
        return VCORE_OK; /* L2 is in the VM's own physical space: the VMM's as decoded */
    uint64_t vm_gpa = 0, info = 0;
    uint32_t access = (ex->exit_info1 & VCORE_VMCB_NPF_ID)   ? VCORE_NSVM_FETCH
                      : (ex->exit_info1 & VCORE_VMCB_NPF_RW) ? VCORE_NSVM_WRITE
                                                             : VCORE_NSVM_READ;
    int err = vcore_nsvm_npt_walk(n, mem, ex->exit_info2, access, (ex->exit_info1 & VCORE_VMCB_NPF_TABLE) != 0,
                                  &vm_gpa, &info);
    if (err)
        return err; /* routing said L1's table allows it */
    err = vcpu->vm->ops.vmcb_npt_map(vcpu, vcpu->priv, n->hw02, ex->exit_info2 & ~0xfffull, vm_gpa & ~0xfffull,
                                     nsvm_run_prot(n, mem, ex->exit_info2));
    if (err == VCORE_OK) {
        *again = true;
        return VCORE_OK;
    }
    if (err != VCORE_ERR_NOENT)
        return err;
    /* Not RAM of the VM: the VMM emulates the access at its own address. */
    return nsvm_run_l2_mmio(vcpu, mem, ex, vm_gpa, exit);
}

/* Injects an exception into L2 at its next run (EVENTINJ, "Event Injection"). */
static int nsvm_run_exception(vcore_vcpu_t *vcpu, uint32_t vector, bool error_code)
{
    uint64_t inj = VCORE_VMCB_EVENT_V | ((uint64_t)VCORE_VMCB_EVENT_TYPE_EXCEPTION << VCORE_VMCB_EVENT_TYPE_SHIFT) |
                   vector | (error_code ? VCORE_VMCB_EVENT_EV : 0u);
    return nsvm_run_write(vcpu, 0x0a8, inj);
}

/* L2's RDMSR/WRMSR of PAT under L1's nested paging, which L1 does not
 * intercept: L2's PAT is G_PAT ("Nested Paging"), served from vmcb02. L0
 * intercepts these accesses itself so that L2 reads G_PAT even on a
 * processor that does not load it at VMRUN (QEMU, docs/svm-conformance.md).
 * A WRMSR of a reserved PAT type is #GP(0) ("PAT Register"). */
static int nsvm_run_pat(vcore_vcpu_t *vcpu, const vcore_nsvm_l2_exit_t *ex, uint64_t next_rip)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    uint64_t v = 0;
    int err;
    if (ex->exit_info1 & 1u) {
        err = nsvm_run_read(vcpu, 0x5f8, &v); /* RAX */
        if (err)
            return err;
        v = (n->l2gprs.gpr[VCORE_X86_RDX] << 32) | (v & 0xffffffffu);
        if (!vcore__x86_pat_ok(v))
            return nsvm_run_exception(vcpu, 13, true);
        err = nsvm_run_write(vcpu, 0x668, v);
    } else {
        err = nsvm_run_read(vcpu, 0x668, &v);
        if (!err)
            err = nsvm_run_write(vcpu, 0x5f8, v & 0xffffffffu);
        n->l2gprs.gpr[VCORE_X86_RDX] = v >> 32;
    }
    if (!err)
        err = nsvm_run_write(vcpu, 0x578, next_rip);
    return err;
}

/* A physical NMI or interrupt the VMM injected while L2 runs, that L1
 * intercepts: the #VMEXIT L1 gets instead of L2 running (APM Vol. 2,
 * "Physical (INTR) Interrupt Intercept", "NMI Intercept"). The event stays
 * pending for L1, which takes it after STGI. With V_INTR_MASKING in
 * VMCB12 physical interrupts are masked by L1's RFLAGS.IF at VMRUN, else
 * by L2's ("Virtual Interrupt Masking"). *code is 0 when none is due. */
static int nsvm_run_physical(vcore_vcpu_t *vcpu, uint64_t *code)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    const vcore_vmcb_control_t *c12 = &n->vmcb12.control;
    uint32_t held = vcore__vcpu_events_held(vcpu);
    *code = 0;
    if ((held & VCORE__EVENTS_HELD_NMI) && vcore_vmcb_intercept_test(c12, VCORE_VMCB_INTERCEPT_NMI)) {
        *code = VCORE_VMEXIT_NMI;
        return VCORE_OK;
    }
    if (!(held & VCORE__EVENTS_HELD_INTR) || !vcore_vmcb_intercept_test(c12, VCORE_VMCB_INTERCEPT_INTR))
        return VCORE_OK;
    uint64_t rflags = n->host.regs.rflags, shadow = 0;
    if (!(c12->int_ctl & VCORE_VMCB_INT_V_INTR_MASKING)) {
        /* L2's RFLAGS.IF and its interrupt shadow decide when the
         * interrupt is recognized ("Virtual Interrupt Masking"; VMCB
         * INTERRUPT_SHADOW): in a shadow, L2's next instruction runs
         * before the #VMEXIT(INTR). */
        int err = nsvm_run_read(vcpu, 0x570, &rflags); /* L2's RFLAGS */
        if (!err)
            err = nsvm_run_read(vcpu, 0x068, &shadow);
        if (err)
            return err;
    }
    if ((rflags & VCORE__RFLAGS_IF) && !(shadow & VCORE_VMCB_STATE_INTERRUPT_SHADOW))
        *code = VCORE_VMEXIT_INTR;
    return VCORE_OK;
}

/* An interrupt for the vCPU that L1 does not intercept is taken in L2,
 * through L2's IDT (APM Vol. 2, "Physical (INTR) Interrupt Intercept":
 * only the intercept turns it into a #VMEXIT). GIF is set while L2 runs;
 * with V_INTR_MASKING in VMCB12 L1's RFLAGS.IF at VMRUN masks it, else
 * L2's RFLAGS.IF and interrupt shadow do ("Virtual Interrupt Masking").
 * Unmasked, it goes in through vmcb02's EVENTINJ when that is free and
 * leaves the vCPU's queue; masked, it waits for a later entry of L2 (no
 * interrupt window is opened in L2) or for L1. */
static int nsvm_run_l2_intr(vcore_vcpu_t *vcpu)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    const vcore_vmcb_control_t *c12 = &n->vmcb12.control;
    if (!(vcore__vcpu_events_held(vcpu) & VCORE__EVENTS_HELD_INTR) ||
        vcore_vmcb_intercept_test(c12, VCORE_VMCB_INTERCEPT_INTR))
        return VCORE_OK;
    uint64_t rflags = n->host.regs.rflags, shadow = 0, inj = 0;
    int err = VCORE_OK;
    if (!(c12->int_ctl & VCORE_VMCB_INT_V_INTR_MASKING)) {
        err = nsvm_run_read(vcpu, 0x570, &rflags); /* L2's RFLAGS */
        if (!err)
            err = nsvm_run_read(vcpu, 0x068, &shadow);
    }
    if (!err)
        err = nsvm_run_read(vcpu, 0x0a8, &inj);
    if (!err)
        err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_EVENTS);
    if (err)
        return err;
    if (!(rflags & VCORE__RFLAGS_IF) || (shadow & VCORE_VMCB_STATE_INTERRUPT_SHADOW) || (inj & VCORE_VMCB_EVENT_V))
        return VCORE_OK;
    /* "Event Injection": type 0 (external interrupt), the vector. */
    uint8_t vector = vcpu->x86->st.events.interrupt_vector;
    err = nsvm_run_write(vcpu, 0x0a8, VCORE_VMCB_EVENT_V | vector);
    if (err)
        return err;
    vcore__vcpu_events_acked(vcpu);
    return VCORE_OK;
}

int vcore__vcpu_nsvm_run_l2(vcore_vcpu_t *vcpu, vcore_exit_t *exit, uint32_t answering, bool *l1)
{
    vcore_nsvm_t *n = vcpu->nsvm;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    *l1 = false;
    /* backend.h: the run completes the exit it is handed back. That is
     * L2's exit the VMM handled (an OUT needs no reply but still ends with
     * RIP past the instruction, APM Vol. 2 "I/O Intercepts"); anything else
     * in hand (L1's VMRUN, an exit of L1) is nothing of hw02's. */
    if (!answering && !n->hw02_exit_out)
        exit->reason = VCORE_EXIT_NONE;
    n->hw02_exit_out = false;
    /* An MMIO access the core decoded is the core's to complete. */
    if (n->l2_mmio) {
        err = nsvm_run_l2_mmio_done(vcpu, exit, answering);
        if (err)
            return err;
        exit->reason = VCORE_EXIT_NONE;
    }
    /* A refused RDMSR/WRMSR of L2 is not completed by the backend: #GP(0)
     * in L2 (APM Vol. 3, "RDMSR", "WRMSR"). */
    if ((answering == VCORE_EXIT_RDMSR || answering == VCORE_EXIT_WRMSR) && exit->u.msr.error) {
        err = nsvm_run_exception(vcpu, 13, true);
        if (err)
            return err;
    }
    for (;;) {
        /* An event for L1 that L1 intercepts is its #VMEXIT before L2 runs
         * again. A reply due to L2 is completed by a run first: the core
         * kicks that run, so it completes the instruction and stops before
         * L2's next one (INTERRUPTED, below). */
        uint64_t phys = 0;
        err = nsvm_run_physical(vcpu, &phys);
        if (!err && phys && exit->reason != VCORE_EXIT_NONE) {
            if (ops->vcpu_kick)
                err = ops->vcpu_kick(vcpu, vcpu->priv);
            phys = 0;
        }
        if (!err && !phys)
            err = nsvm_run_l2_intr(vcpu);
        if (err)
            return err;
        if (phys) {
            vcore_nsvm_l2_exit_t ev;
            vcore__memset(&ev, 0, sizeof(ev));
            ev.size = sizeof(ev);
            ev.exit_code = phys;
            /* An event waiting in EVENTINJ was not delivered: L1 gets it
             * in EXITINTINFO ("Event Injection"), else it is lost. */
            err = nsvm_run_read(vcpu, 0x0a8, &ev.exit_int_info);
            if (!err && !(ev.exit_int_info & VCORE_VMCB_EVENT_V))
                ev.exit_int_info = 0;
            if (!err)
                err = nsvm_run_l2_state(vcpu, NULL, &ev);
            if (!err)
                err = nsvm_run_to_l1(vcpu, &mem, &ev, exit, l1);
            return err;
        }
        if (n->hw02_flush) {
            err = nsvm_run_setup(vcpu);
            if (err)
                return err;
        }
        err = ops->vmcb_run(vcpu, vcpu->priv, n->hw02, &n->l2gprs, exit);
        if (err)
            return err;
        nsvm_run_forget_volatile(n);
        /* Stopped between two instructions of L2 by a kick (the VMM's or
         * the core's) or a host interrupt: an event due to L1 is taken
         * now; else the VMM gets the run back. */
        if (exit->reason == VCORE_EXIT_INTERRUPTED) {
            err = nsvm_run_physical(vcpu, &phys);
            if (err)
                return err;
            if (phys) {
                exit->reason = VCORE_EXIT_NONE;
                continue;
            }
            exit->flags |= VCORE_EXIT_F_L2;
            n->hw02_exit_out = true;
            return VCORE_OK;
        }
        vcore_nsvm_l2_exit_t ex;
        vcore__memset(&ex, 0, sizeof(ex));
        ex.size = sizeof(ex);
        ex.exit_code = exit->raw.data[0];
        ex.exit_info1 = exit->raw.qualification;
        ex.exit_info2 = exit->raw.data[1];
        ex.exit_int_info = exit->raw.data[2];
        ex.ecx = (uint32_t)n->l2gprs.gpr[VCORE_X86_RCX];
        uint32_t owner = VCORE_NSVM_L0;
        err = vcore_nsvm_route(n, &mem, &ex, &owner);
        if (err)
            return err;
        if (owner == VCORE_NSVM_L1 || ex.exit_code == VCORE_VMEXIT_SHUTDOWN) {
            /* Nothing of this exit is completed by the backend: L1 decides. */
            err = nsvm_run_l2_state(vcpu, exit, &ex);
            if (err)
                return err;
            return nsvm_run_to_l1(vcpu, &mem, &ex, exit, l1);
        }
        /* An event L2 was being delivered when this #VMEXIT, which L0
         * handles itself, interrupted it: it is injected again at the next
         * VMRUN of L2 (APM Vol. 2, "EXITINTINFO Pseudo-Register": the
         * format is EVENTINJ's; "Event Injection"). The exits the core
         * completes with an exception of its own (VMMCALL, PAT) are
         * instructions of L2, never an event delivery. */
        if (ex.exit_int_info & VCORE_VMCB_EVENT_V) {
            err = nsvm_run_write(vcpu, 0x0a8, ex.exit_int_info);
            if (err)
                return err;
        }
        bool again = false;
        if (ex.exit_code == VCORE_VMEXIT_NPF) {
            err = nsvm_run_npf_l0(vcpu, &mem, &ex, exit, &again);
        } else if (ex.exit_code == VCORE_VMEXIT_VMMCALL) {
            /* APM Vol. 3, "VMMCALL": not intercepted, it raises #UD. */
            err = nsvm_run_exception(vcpu, 6, false);
            again = true;
        } else if (ex.exit_code == VCORE_VMEXIT_MSR && ex.ecx == VCORE_MSR_IA32_PAT && exit->raw.data[4] &&
                   (n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE)) {
            err = nsvm_run_pat(vcpu, &ex, exit->raw.data[4]);
            again = true;
        }
        if (err)
            return err;
        if (!again) {
            exit->flags |= VCORE_EXIT_F_L2;
            n->hw02_exit_out = true;
            return VCORE_OK;
        }
        exit->reason = VCORE_EXIT_NONE;
    }
}
