/*
 * kvm_state.c - the core's x86 state groups <-> KVM's register ioctls.
 *
 *   VCORE_X86_STATE_REGS   <-> KVM_GET/SET_REGS (GPRs, RIP, RFLAGS)
 *   VCORE_X86_STATE_SREGS  <-> KVM_GET/SET_SREGS (segments, tables, CRs, EFER)
 *   VCORE_X86_STATE_DREGS  <-> KVM_GET/SET_DEBUGREGS
 *   VCORE_X86_STATE_FPU    <-> KVM_GET/SET_XSAVE or _FPU (control words; data registers kept)
 *   VCORE_X86_STATE_XMM    <-> the same block: XMM0-XMM15 of the XSAVE legacy region or kvm_fpu
 *   VCORE_X86_STATE_XCR0   <-> KVM_GET/SET_XCRS
 *   VCORE_X86_STATE_MSRS   <-> KVM_GET/SET_MSRS (IA32_FEATURE_CONTROL stays in the model)
 *   VCORE_X86_STATE_TSC    <-> KVM_GET/SET_MSRS, its own entry
 *   VCORE_X86_STATE_EVENTS <-> KVM_GET/SET_VCPU_EVENTS (kvm_events.c)
 *
 * KVM moves whole blocks (the left column); the core asks for groups.
 * A read fetches the block once per run and keeps it (vcore_kvm_vcpu_t::cache),
 * so reading RIP, then RAX, then RFLAGS after an exit is one KVM_GET_REGS;
 * a write of part of a block takes the rest from there. Segment access
 * rights use the VMCS layout in the model (SDM Vol. 3, "Guest Register
 * State", table "Format of Access Rights") and are split into struct
 * kvm_segment's fields.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvm_priv.h"
#include "virtcore/x86/msr.h"

#if defined(__x86_64__)

/* ---- segments ---------------------------------------------------------- */

static void seg_from_kvm(const struct kvm_segment *k, vcore_x86_segment_t *s)
{
    s->base = k->base;
    s->limit = k->limit;
    s->selector = k->selector;
    s->pad = 0;
    s->ar = (uint32_t)(k->type & 0xfu)              /* bits 3:0 type */
            | (uint32_t)(k->s & 1u) << 4            /* bit 4 S (code/data) */
            | (uint32_t)(k->dpl & 3u) << 5          /* bits 6:5 DPL */
            | (uint32_t)(k->present & 1u) << 7      /* bit 7 P */
            | (uint32_t)(k->avl & 1u) << 12         /* bit 12 AVL */
            | (uint32_t)(k->l & 1u) << 13           /* bit 13 L (64-bit code) */
            | (uint32_t)(k->db & 1u) << 14          /* bit 14 D/B */
            | (uint32_t)(k->g & 1u) << 15           /* bit 15 G */
            | (uint32_t)(k->unusable & 1u) << 16;   /* bit 16 segment unusable */
}

static void seg_to_kvm(const vcore_x86_segment_t *s, struct kvm_segment *k)
{
    memset(k, 0, sizeof *k);
    k->base = s->base;
    k->limit = s->limit;
    k->selector = s->selector;
    k->type = (uint8_t)(s->ar & VCORE_X86_AR_TYPE_MASK);
    k->s = (uint8_t)((s->ar & VCORE_X86_AR_S) ? 1 : 0);
    k->dpl = (uint8_t)((s->ar & VCORE_X86_AR_DPL_MASK) >> VCORE_X86_AR_DPL_SHIFT);
    k->present = (uint8_t)((s->ar & VCORE_X86_AR_P) ? 1 : 0);
    k->avl = (uint8_t)((s->ar & VCORE_X86_AR_AVL) ? 1 : 0);
    k->l = (uint8_t)((s->ar & VCORE_X86_AR_L) ? 1 : 0);
    k->db = (uint8_t)((s->ar & VCORE_X86_AR_DB) ? 1 : 0);
    k->g = (uint8_t)((s->ar & VCORE_X86_AR_G) ? 1 : 0);
    k->unusable = (uint8_t)((s->ar & VCORE_X86_AR_UNUSABLE) ? 1 : 0);
}

/* kvm_sregs names its segments; the model indexes them in encoding order. */
static struct kvm_segment *sreg_slot(struct kvm_sregs *k, unsigned i)
{
    switch (i) {
    case VCORE_X86_ES: return &k->es;
    case VCORE_X86_CS: return &k->cs;
    case VCORE_X86_SS: return &k->ss;
    case VCORE_X86_DS: return &k->ds;
    case VCORE_X86_FS: return &k->fs;
    case VCORE_X86_GS: return &k->gs;
    case VCORE_X86_LDTR: return &k->ldt;
    default: return &k->tr;
    }
}

/* ---- GPRs ---------------------------------------------------------------- */

/* struct kvm_regs is not in encoding order: map each model index to its field. */
static __u64 *gpr_slot(struct kvm_regs *k, unsigned i)
{
    switch (i) {
    case VCORE_X86_RAX: return &k->rax;
    case VCORE_X86_RCX: return &k->rcx;
    case VCORE_X86_RDX: return &k->rdx;
    case VCORE_X86_RBX: return &k->rbx;
    case VCORE_X86_RSP: return &k->rsp;
    case VCORE_X86_RBP: return &k->rbp;
    case VCORE_X86_RSI: return &k->rsi;
    case VCORE_X86_RDI: return &k->rdi;
    case VCORE_X86_R8: return &k->r8;
    case VCORE_X86_R9: return &k->r9;
    case VCORE_X86_R10: return &k->r10;
    case VCORE_X86_R11: return &k->r11;
    case VCORE_X86_R12: return &k->r12;
    case VCORE_X86_R13: return &k->r13;
    case VCORE_X86_R14: return &k->r14;
    default: return &k->r15;
    }
}

/* ---- MSRs ---------------------------------------------------------------- */

/* The modelled MSRs (EFER travels with SREGS) and where each lives. */
struct msr_map {
    uint32_t index;
    size_t off; /* offsetof(vcore_x86_msrs_t, field) */
};

static const struct msr_map msr_list[] = {
    {VCORE_MSR_IA32_APIC_BASE, offsetof(vcore_x86_msrs_t, apic_base)},
    {VCORE_MSR_IA32_PAT, offsetof(vcore_x86_msrs_t, pat)},
    {VCORE_MSR_IA32_SYSENTER_CS, offsetof(vcore_x86_msrs_t, sysenter_cs)},
    {VCORE_MSR_IA32_SYSENTER_ESP, offsetof(vcore_x86_msrs_t, sysenter_esp)},
    {VCORE_MSR_IA32_SYSENTER_EIP, offsetof(vcore_x86_msrs_t, sysenter_eip)},
    {VCORE_MSR_IA32_STAR, offsetof(vcore_x86_msrs_t, star)},
    {VCORE_MSR_IA32_LSTAR, offsetof(vcore_x86_msrs_t, lstar)},
    {VCORE_MSR_IA32_CSTAR, offsetof(vcore_x86_msrs_t, cstar)},
    {VCORE_MSR_IA32_FMASK, offsetof(vcore_x86_msrs_t, sfmask)},
    {VCORE_MSR_IA32_KERNEL_GS_BASE, offsetof(vcore_x86_msrs_t, kernel_gs_base)},
    {VCORE_MSR_IA32_TSC, offsetof(vcore_x86_msrs_t, tsc)},
    {VCORE_MSR_IA32_MISC_ENABLE, offsetof(vcore_x86_msrs_t, misc_enable)},
    {VCORE_MSR_IA32_SMBASE, offsetof(vcore_x86_msrs_t, smbase)},
    {VCORE_MSR_IA32_TSC_AUX, offsetof(vcore_x86_msrs_t, tsc_aux)},
};
#define NMSRS (sizeof msr_list / sizeof msr_list[0])

struct msr_buf {
    struct kvm_msrs hdr;
    struct kvm_msr_entry e[NMSRS];
};

static void msr_store(vcore_x86_msrs_t *m, size_t i, uint64_t v)
{
    memcpy((uint8_t *)m + msr_list[i].off, &v, sizeof v);
}

static uint64_t msr_load(const vcore_x86_msrs_t *m, size_t i)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)m + msr_list[i].off, sizeof v);
    return v;
}

/* Fills b with the MSRs KVM implements of the groups asked for (the TSC is
 * a group of its own: it is never re-sent with a stale value when another
 * MSR changes); returns how many. */
static uint32_t msr_prepare(const vcore_kvm_vcpu_t *kv, struct msr_buf *b, uint8_t *which,
                            uint32_t groups)
{
    uint32_t n = 0;
    memset(b, 0, sizeof *b);
    for (size_t i = 0; i < NMSRS; i++) {
        if (kv->msr_absent & (1u << i))
            continue;
        int tsc = msr_list[i].index == VCORE_MSR_IA32_TSC;
        if (!(groups & (tsc ? VCORE_X86_STATE_TSC : VCORE_X86_STATE_MSRS)))
            continue;
        b->e[n].index = msr_list[i].index;
        which[n++] = (uint8_t)i;
    }
    b->hdr.nmsrs = n;
    return n;
}

/* KVM_GET/SET_MSRS return how many entries they processed, stopping at the
 * first MSR the kernel refuses. Report which one, then fail the class. */
static int msr_result(vcore_vcpu_t *vcpu, const char *what, int r, const struct msr_buf *b)
{
    if (r < 0) {
        vcore__kvm_log_errno(vcore_vcpu_vm(vcpu), what, r);
        return r == -ENOMEM ? VCORE_ERR_NOMEM : r == -EFAULT ? VCORE_ERR_FAULT : VCORE_ERR_HWFAIL;
    }
    if ((uint32_t)r < b->hdr.nmsrs) {
        char line[96];
        snprintf(line, sizeof line, "kvm: %s: the kernel refused MSR %#x", what,
                 b->e[r].index);
        vcore_vm_log(vcore_vcpu_vm(vcpu), VCORE_LOG_WARN, line);
        return VCORE_ERR_HWFAIL;
    }
    return VCORE_OK;
}

void vcore__kvm_probe_msrs(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv)
{
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    /* An MSR KVM_GET_MSRS cannot read is one this kernel does not
     * implement (e.g. SMBASE without SMM support). Its architectural value
     * then lives in the core's model only: get leaves the model's value,
     * set does not send it. */
    kv->msr_absent = 0;
    for (size_t i = 0; i < NMSRS; i++) {
        struct {
            struct kvm_msrs hdr;
            struct kvm_msr_entry e[1];
        } one;
        memset(&one, 0, sizeof one);
        one.hdr.nmsrs = 1;
        one.e[0].index = msr_list[i].index;
        if (vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_MSRS, (unsigned long)&one) != 1)
            kv->msr_absent |= 1u << i;
    }
}

/* ---- x87/SSE control words through the XSAVE image ------------------------ */

/*
 * KVM_SET_FPU ignores kvm_fpu.mxcsr (only KVM_GET_FPU reports it), so the
 * FPU class goes through the XSAVE image when the kernel has KVM_CAP_XSAVE.
 * Legacy region layout (SDM Vol. 1, "FXSAVE Save Area", "XSAVE Header"):
 * FCW bytes 1:0, FSW 3:2, abridged FTW 4, FOP 7:6, MXCSR 27:24,
 * MXCSR_MASK 31:28, ST(i) at 32 + 16 i, XSTATE_BV at 512.
 */
#define XS_FCW 0
#define XS_FSW 2
#define XS_FTW 4
#define XS_FOP 6
#define XS_MXCSR 24
#define XS_MXCSR_MASK 28
#define XS_ST0 32
#define XS_XMM0 160 /* XMM0-XMM15, 16 bytes each (SDM Vol. 1, "FXSAVE Save Area") */
#define XS_BV 512
#define XS_BV_X87 (1ull << 0)
#define XS_BV_SSE (1ull << 1)
#define XS_BV_AVX (1ull << 2)
/* Values of the x87/SSE init configuration (SDM Vol. 1, "Processor Tracking
 * of XSAVE-Managed State"): x87 FCW 037FH, FSW 0, all tags empty, FOP 0;
 * MXCSR 1F80H. */
#define INIT_FCW 0x037fu
#define INIT_MXCSR 0x1f80u

static uint16_t xs_u16(const uint8_t *x, size_t off)
{
    return (uint16_t)(x[off] | (uint16_t)x[off + 1] << 8);
}

static uint32_t xs_u32(const uint8_t *x, size_t off)
{
    uint32_t v;
    memcpy(&v, x + off, sizeof v);
    return v;
}

static void xs_put16(uint8_t *x, size_t off, uint16_t v)
{
    x[off] = (uint8_t)v;
    x[off + 1] = (uint8_t)(v >> 8);
}

static int fpu_get_xsave(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv, vcore_x86_fpu_t *f)
{
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    struct kvm_xsave xs;
    memset(&xs, 0, sizeof xs);
    int r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_XSAVE, (unsigned long)&xs);
    if (r < 0)
        return r;
    const uint8_t *x = (const uint8_t *)xs.region;
    uint64_t bv;
    memcpy(&bv, x + XS_BV, sizeof bv);
    f->size = sizeof *f;
    if (bv & XS_BV_X87) {
        uint8_t st[8][16];
        memcpy(st, x + XS_ST0, sizeof st);
        f->fcw = xs_u16(x, XS_FCW);
        f->fsw = xs_u16(x, XS_FSW);
        f->fop = (uint16_t)(xs_u16(x, XS_FOP) & 0x7ffu); /* 11-bit opcode */
        f->ftw = vcore__kvm_ftw_from_abridged(x[XS_FTW], f->fsw, (const uint8_t(*)[16])st);
    } else {
        /* x87 state in its init configuration: the image's bytes are not
         * meaningful, the architectural values are. */
        f->fcw = INIT_FCW;
        f->fsw = 0;
        f->fop = 0;
        f->ftw = 0xffffu;
    }
    uint32_t mxcsr = xs_u32(x, XS_MXCSR);
    /* An image the kernel never saved holds 0 here; what the guest gets
     * is the init value. */
    f->mxcsr = (bv & (XS_BV_SSE | XS_BV_AVX)) || mxcsr ? mxcsr : INIT_MXCSR;
    uint32_t mask = xs_u32(x, XS_MXCSR_MASK);
    if (mask)
        kv->mxcsr_mask = mask;
    f->mxcsr_mask = kv->mxcsr_mask;
    return 0;
}

/* XMM0-XMM15 from the XSAVE image: with XSTATE_BV[1] clear the SSE
 * component is in its init configuration, XMM registers zero (SDM Vol. 1,
 * "Processor Tracking of XSAVE-Managed State"). */
static int xmm_get_xsave(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv, uint64_t xmm[16][2])
{
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    struct kvm_xsave xs;
    memset(&xs, 0, sizeof xs);
    int r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_XSAVE, (unsigned long)&xs);
    if (r < 0)
        return r;
    const uint8_t *x = (const uint8_t *)xs.region;
    uint64_t bv;
    memcpy(&bv, x + XS_BV, sizeof bv);
    if (bv & XS_BV_SSE)
        memcpy(xmm, x + XS_XMM0, 16 * 16); /* little-endian: low quadword first */
    else
        memset(xmm, 0, 16 * 16);
    return 0;
}

static int fpu_set_xsave(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv, const vcore_x86_fpu_t *f,
                         const uint64_t (*xmm)[2])
{
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    struct kvm_xsave xs;
    memset(&xs, 0, sizeof xs);
    int r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_XSAVE, (unsigned long)&xs);
    if (r < 0)
        return r;
    uint8_t *x = (uint8_t *)xs.region;
    uint64_t bv;
    memcpy(&bv, x + XS_BV, sizeof bv);
    if (xmm) {
        /* XRSTOR loads the SSE component from the image only with
         * XSTATE_BV[1] set; MXCSR comes with it, as it is. */
        if (!(bv & (XS_BV_SSE | XS_BV_AVX)) && xs_u32(x, XS_MXCSR) == 0)
            memcpy(x + XS_MXCSR, &(uint32_t){INIT_MXCSR}, 4);
        memcpy(x + XS_XMM0, xmm, 16 * 16);
        bv |= XS_BV_SSE;
    }
    if (!f) {
        memcpy(x + XS_BV, &bv, sizeof bv);
        return vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_XSAVE, (unsigned long)&xs);
    }
    if (!(bv & XS_BV_X87)) /* the registers of an init x87 state are zero */
        memset(x + XS_ST0, 0, 8 * 16);
    xs_put16(x, XS_FCW, f->fcw);
    xs_put16(x, XS_FSW, f->fsw);
    x[XS_FTW] = vcore__kvm_ftw_to_abridged(f->ftw);
    xs_put16(x, XS_FOP, f->fop);
    memcpy(x + XS_MXCSR, &f->mxcsr, sizeof f->mxcsr);
    /* The kernel takes x87 fields only with XSTATE_BV[0] and MXCSR only
     * with XSTATE_BV[1] or [2] set: mark both as given. */
    bv |= XS_BV_X87 | XS_BV_SSE;
    memcpy(x + XS_BV, &bv, sizeof bv);
    return vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_XSAVE, (unsigned long)&xs);
}

/* ---- the two ops --------------------------------------------------------- */

static int kvm_fail(vcore_vcpu_t *vcpu, const char *what, int r)
{
    vcore__kvm_log_errno(vcore_vcpu_vm(vcpu), what, r);
    int err = vcore__kvm_err(r);
    return err == VCORE_ERR_NOMEM || err == VCORE_ERR_FAULT ? err : VCORE_ERR_HWFAIL;
}

/* The KVM ioctl block that carries each group. The TSC is a block of its
 * own: it is written only when set, never because another MSR changed, and
 * never cached (it counts). */
static const uint32_t kvm_units[] = {
    VCORE_X86_STATE_REGS, VCORE_X86_STATE_SREGS, VCORE_X86_STATE_DREGS,
    VCORE_X86_STATE_FPU | VCORE_X86_STATE_XMM,
    VCORE_X86_STATE_XCR0,  VCORE_X86_STATE_MSRS,
    VCORE_X86_STATE_TSC,  VCORE_X86_STATE_EVENTS,
};

/* Every group this backend moves: the register model and XMM0-XMM15. */
#define KVM_GROUPS (VCORE_X86_STATE_ALL | VCORE_X86_STATE_XMM)
/* Groups whose value read from KVM stays true until the guest runs. */
#define KVM_CACHEABLE (KVM_GROUPS & ~VCORE_X86_STATE_TSC)

/* Every group of the blocks that hold any of `groups`. */
static uint32_t kvm_units_of(uint32_t groups)
{
    uint32_t u = 0;
    for (size_t i = 0; i < sizeof kvm_units / sizeof kvm_units[0]; i++)
        if (groups & kvm_units[i])
            u |= kvm_units[i];
    return u;
}

static int kvm_units_get(vcore_vcpu_t *vcpu, void *priv, vcore_x86_state_t *st, uint32_t classes)
{
    vcore_kvm_vcpu_t *kv = priv;
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    int r;
    if (classes & VCORE_X86_STATE_REGS) {
        struct kvm_regs k;
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_REGS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_GET_REGS", r);
        st->regs.size = sizeof st->regs;
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            st->regs.gpr[i] = *gpr_slot(&k, i);
        st->regs.rip = k.rip;
        st->regs.rflags = k.rflags;
    }
    if (classes & VCORE_X86_STATE_SREGS) {
        struct kvm_sregs k;
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_SREGS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_GET_SREGS", r);
        st->sregs.size = sizeof st->sregs;
        for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
            seg_from_kvm(sreg_slot(&k, i), &st->sregs.seg[i]);
        st->sregs.gdtr.base = k.gdt.base;
        st->sregs.gdtr.limit = k.gdt.limit;
        st->sregs.idtr.base = k.idt.base;
        st->sregs.idtr.limit = k.idt.limit;
        st->sregs.cr0 = k.cr0;
        st->sregs.cr2 = k.cr2;
        st->sregs.cr3 = k.cr3;
        st->sregs.cr4 = k.cr4;
        st->sregs.cr8 = k.cr8;
        st->sregs.efer = k.efer;
        kv->cache_apic_base = k.apic_base;
        kv->apic_base_valid = true;
    }
    if (classes & VCORE_X86_STATE_DREGS) {
        struct kvm_debugregs k;
        memset(&k, 0, sizeof k);
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_DEBUGREGS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_GET_DEBUGREGS", r);
        st->dregs.size = sizeof st->dregs;
        for (unsigned i = 0; i < 4; i++)
            st->dregs.dr[i] = k.db[i];
        st->dregs.dr6 = k.dr6;
        st->dregs.dr7 = k.dr7;
    }
    if (classes & VCORE_X86_STATE_FPU) {
        if (kvm->features & VCORE_KVM_F_XSAVE) {
            r = fpu_get_xsave(vcpu, kv, &st->fpu);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_GET_XSAVE", r);
        } else {
            struct kvm_fpu k;
            r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_FPU, (unsigned long)&k);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_GET_FPU", r);
            st->fpu.size = sizeof st->fpu;
            st->fpu.fcw = k.fcw;
            st->fpu.fsw = k.fsw;
            st->fpu.ftw =
                vcore__kvm_ftw_from_abridged(k.ftwx, k.fsw, (const uint8_t(*)[16])k.fpr);
            st->fpu.fop = k.last_opcode;
            st->fpu.mxcsr = k.mxcsr;
            st->fpu.mxcsr_mask = kv->mxcsr_mask;
        }
    }
    if (classes & VCORE_X86_STATE_XMM) {
        if (kvm->features & VCORE_KVM_F_XSAVE) {
            r = xmm_get_xsave(vcpu, kv, st->xmm);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_GET_XSAVE", r);
        } else {
            struct kvm_fpu k;
            r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_FPU, (unsigned long)&k);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_GET_FPU", r);
            memcpy(st->xmm, k.xmm, sizeof st->xmm); /* little-endian: low quadword first */
        }
    }
    if (classes & VCORE_X86_STATE_XCR0) {
        uint64_t xcr0 = 1; /* x87 only, what a kernel without XCRS runs with */
        if (kvm->features & VCORE_KVM_F_XCRS) {
            struct kvm_xcrs k;
            memset(&k, 0, sizeof k);
            r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_XCRS, (unsigned long)&k);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_GET_XCRS", r);
            for (uint32_t i = 0; i < k.nr_xcrs && i < KVM_MAX_XCRS; i++) {
                if (k.xcrs[i].xcr == 0)
                    xcr0 = k.xcrs[i].value;
            }
        }
        st->xcr0 = xcr0;
    }
    if (classes & VCORE_X86_STATE_ALL_MSRS) {
        struct msr_buf b;
        uint8_t which[NMSRS];
        uint32_t n = msr_prepare(kv, &b, which, classes);
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_MSRS, (unsigned long)&b);
        int err = msr_result(vcpu, "KVM_GET_MSRS", r, &b);
        if (err)
            return err;
        for (uint32_t i = 0; i < n; i++) {
            msr_store(&st->msrs, which[i], b.e[i].data);
            if (msr_list[which[i]].index == VCORE_MSR_IA32_APIC_BASE) {
                kv->cache_apic_base = b.e[i].data;
                kv->apic_base_valid = true;
            }
        }
    }
    if (classes & VCORE_X86_STATE_EVENTS) {
        struct kvm_vcpu_events k;
        memset(&k, 0, sizeof k);
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_VCPU_EVENTS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_GET_VCPU_EVENTS", r);
        /* What KVM does not hold is the backend's own copy. */
        st->events = kv->events_own;
        vcore__kvm_events_from_kvm(&k, &st->events);
        kv->cache_nmis = (k.flags & KVM_VCPUEVENT_VALID_NMI_PENDING) ? k.nmi.pending : 0;
    }
    return VCORE_OK;
}

/* KVM's IA32_APIC_BASE, which KVM_SET_SREGS writes as well: from the model
 * when it gives the MSRs, else as KVM has it. */
static int kvm_apic_base(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv, const vcore_x86_state_t *st,
                         uint32_t given, uint64_t *out)
{
    if (given & VCORE_X86_STATE_MSRS) {
        *out = st->msrs.apic_base;
        return VCORE_OK;
    }
    if (!kv->apic_base_valid) {
        struct {
            struct kvm_msrs hdr;
            struct kvm_msr_entry e[1];
        } one;
        memset(&one, 0, sizeof one);
        one.hdr.nmsrs = 1;
        one.e[0].index = VCORE_MSR_IA32_APIC_BASE;
        int r = vcore__kvm_ioctl(vcore__kvm_vm_of(vcpu), kv->fd, KVM_GET_MSRS, (unsigned long)&one);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_GET_MSRS(IA32_APIC_BASE)", r);
        if (r != 1) {
            vcore_vm_log(vcore_vcpu_vm(vcpu), VCORE_LOG_WARN,
                         "kvm: KVM_GET_MSRS: the kernel refused IA32_APIC_BASE");
            return VCORE_ERR_HWFAIL;
        }
        kv->cache_apic_base = one.e[0].data;
        kv->apic_base_valid = true;
    }
    *out = kv->cache_apic_base;
    return VCORE_OK;
}

static int kvm_units_set(vcore_vcpu_t *vcpu, void *priv, const vcore_x86_state_t *st,
                         uint32_t classes, uint32_t given)
{
    vcore_kvm_vcpu_t *kv = priv;
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    int r;
    if (classes & VCORE_X86_STATE_REGS) {
        struct kvm_regs k;
        memset(&k, 0, sizeof k);
        for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
            *gpr_slot(&k, i) = st->regs.gpr[i];
        k.rip = st->regs.rip;
        k.rflags = st->regs.rflags;
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_REGS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_SET_REGS", r);
    }
    if (classes & VCORE_X86_STATE_SREGS) {
        /* kvm_sregs also carries the APIC base, which KVM always takes,
         * and a bitmap of an interrupt to queue, which stays empty: the
         * interrupt being delivered is the EVENTS group's. */
        struct kvm_sregs k;
        memset(&k, 0, sizeof k);
        uint64_t apic_base = 0;
        int err = kvm_apic_base(vcpu, kv, st, given, &apic_base);
        if (err)
            return err;
        k.apic_base = apic_base;
        for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
            seg_to_kvm(&st->sregs.seg[i], sreg_slot(&k, i));
        memset(&k.gdt, 0, sizeof k.gdt);
        memset(&k.idt, 0, sizeof k.idt);
        k.gdt.base = st->sregs.gdtr.base;
        k.gdt.limit = st->sregs.gdtr.limit;
        k.idt.base = st->sregs.idtr.base;
        k.idt.limit = st->sregs.idtr.limit;
        k.cr0 = st->sregs.cr0;
        k.cr2 = st->sregs.cr2;
        k.cr3 = st->sregs.cr3;
        k.cr4 = st->sregs.cr4;
        k.cr8 = st->sregs.cr8;
        k.efer = st->sregs.efer;
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_SREGS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_SET_SREGS", r);
    }
    if (classes & VCORE_X86_STATE_ALL_MSRS) {
        struct msr_buf b;
        uint8_t which[NMSRS];
        uint32_t n = msr_prepare(kv, &b, which, classes);
        for (uint32_t i = 0; i < n; i++)
            b.e[i].data = msr_load(&st->msrs, which[i]);
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_MSRS, (unsigned long)&b);
        int err = msr_result(vcpu, "KVM_SET_MSRS", r, &b);
        if (err)
            return err;
    }
    if (classes & VCORE_X86_STATE_DREGS) {
        struct kvm_debugregs k;
        memset(&k, 0, sizeof k);
        for (unsigned i = 0; i < 4; i++)
            k.db[i] = st->dregs.dr[i];
        k.dr6 = st->dregs.dr6;
        k.dr7 = st->dregs.dr7;
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_DEBUGREGS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_SET_DEBUGREGS", r);
    }
    if (classes & VCORE_X86_STATE_XCR0) {
        if (kvm->features & VCORE_KVM_F_XCRS) {
            struct kvm_xcrs k;
            memset(&k, 0, sizeof k);
            k.nr_xcrs = 1;
            k.xcrs[0].xcr = 0;
            k.xcrs[0].value = st->xcr0;
            r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_XCRS, (unsigned long)&k);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_SET_XCRS", r);
        } else if (st->xcr0 != 1) {
            return VCORE_ERR_UNSUPPORTED;
        }
    }
    if (classes & (VCORE_X86_STATE_FPU | VCORE_X86_STATE_XMM)) {
        /* The model holds the control words and XMM0-XMM15; the x87 data
         * registers stay as KVM has them. XMM goes in only when the core
         * gave it (the block's copy may be older than the guest's). */
        const uint64_t(*xmm)[2] = (given & VCORE_X86_STATE_XMM) ? st->xmm : NULL;
        const vcore_x86_fpu_t *fpu = (given & VCORE_X86_STATE_FPU) ? &st->fpu : NULL;
        if (kvm->features & VCORE_KVM_F_XSAVE) {
            r = fpu_set_xsave(vcpu, kv, fpu, xmm);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_SET_XSAVE", r);
        } else {
            /* Without XSAVE: KVM_SET_FPU, which cannot change MXCSR. */
            struct kvm_fpu k;
            r = vcore__kvm_ioctl(kvm, kv->fd, KVM_GET_FPU, (unsigned long)&k);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_GET_FPU", r);
            if (k.mxcsr != st->fpu.mxcsr)
                return VCORE_ERR_UNSUPPORTED;
            k.fcw = st->fpu.fcw;
            k.fsw = st->fpu.fsw;
            k.ftwx = vcore__kvm_ftw_to_abridged(st->fpu.ftw);
            k.last_opcode = st->fpu.fop;
            if (xmm)
                memcpy(k.xmm, xmm, sizeof k.xmm);
            r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_FPU, (unsigned long)&k);
            if (r < 0)
                return kvm_fail(vcpu, "KVM_SET_FPU", r);
        }
    }
    /* Events last: KVM_SET_REGS drops a pending exception (a new RIP makes
     * it moot, x86.c __set_regs), so it must not come after. */
    if (classes & VCORE_X86_STATE_EVENTS) {
        bool cap = (kvm->features & VCORE_KVM_F_EXC_PAYLOAD) != 0;
        uint8_t nmis = (kv->cache_valid & VCORE_X86_STATE_EVENTS) ? kv->cache_nmis : 0;
        struct kvm_vcpu_events k, now;
        vcore__kvm_events_to_kvm(&st->events, cap, nmis, &k);
        kv->events_own = st->events;
        /* Nothing KVM holds changed (e.g. only the window request did):
         * the ioctl would write back what KVM has. */
        if (kv->cache_valid & VCORE_X86_STATE_EVENTS) {
            vcore__kvm_events_to_kvm(&kv->cache.events, cap, nmis, &now);
            if (memcmp(&k, &now, sizeof k) == 0)
                return VCORE_OK;
        }
        r = vcore__kvm_ioctl(kvm, kv->fd, KVM_SET_VCPU_EVENTS, (unsigned long)&k);
        if (r < 0)
            return kvm_fail(vcpu, "KVM_SET_VCPU_EVENTS", r);
    }
    return VCORE_OK;
}

/* Brings the blocks `units` into the cache unless it holds them already;
 * fields KVM does not hold take the model's value. */
static int kvm_cache_fill(vcore_vcpu_t *vcpu, vcore_kvm_vcpu_t *kv, const vcore_x86_state_t *model,
                          uint32_t units)
{
    uint32_t fetch = units & ~kv->cache_valid;
    if (!fetch)
        return VCORE_OK;
    vcore_x86_state_copy(&kv->cache, model, fetch);
    int err = kvm_units_get(vcpu, kv, &kv->cache, fetch);
    if (err)
        return err;
    kv->cache_valid |= fetch & KVM_CACHEABLE;
    return VCORE_OK;
}

int vcore__kvm_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups)
{
    if (!state || !state->u.x86 || (groups & ~KVM_GROUPS))
        return VCORE_ERR_INVAL;
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    vcore_kvm_vcpu_t *kv = priv;
    /* Whole blocks into the cache, then exactly the groups asked for: the
     * others may hold changes KVM has not seen yet. */
    int err = kvm_cache_fill(vcpu, kv, state->u.x86, kvm_units_of(groups));
    if (err)
        return err;
    vcore_x86_state_copy(state->u.x86, &kv->cache, groups);
    return VCORE_OK;
}

int vcore__kvm_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups)
{
    if (!state || !state->u.x86 || (groups & ~KVM_GROUPS))
        return VCORE_ERR_INVAL;
    if (state->arch != VCORE_ARCH_X86_64)
        return VCORE_ERR_UNSUPPORTED;
    vcore_kvm_vcpu_t *kv = priv;
    const vcore_x86_state_t *model = state->u.x86;
    /* Refuse before anything is written: no half-applied state. */
    if (groups & VCORE_X86_STATE_EVENTS) {
        const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
        const char *why = vcore__kvm_events_refusal(&model->events,
                                                    (kvm->features & VCORE_KVM_F_EXC_PAYLOAD) != 0);
        if (why) {
            char line[160];
            snprintf(line, sizeof line, "kvm: events refused: %s", why);
            vcore_vm_log(vcore_vcpu_vm(vcpu), VCORE_LOG_WARN, line);
            return VCORE_ERR_UNSUPPORTED;
        }
    }
    /* A block is written whole: the groups of it the core did not give
     * come from KVM (the cache, or one read), so nothing is overwritten
     * with a stale value. */
    uint32_t units = kvm_units_of(groups);
    uint32_t missing = units & ~groups;
    vcore_x86_state_t tmp = *model;
    if (missing) {
        int err = kvm_cache_fill(vcpu, kv, model, missing);
        if (err)
            return err;
        vcore_x86_state_copy(&tmp, &kv->cache, missing);
    }
    int err = kvm_units_set(vcpu, kv, &tmp, units, groups);
    /* KVM may normalise what it takes: the next read asks it again. */
    kv->cache_valid &= ~units;
    if (units & (VCORE_X86_STATE_SREGS | VCORE_X86_STATE_MSRS))
        kv->apic_base_valid = false;
    return err;
}

#elif !defined(__aarch64__) /* neither x86-64 nor arm64 (kvm_arm64.c) */

/* No register model for this host's KVM. */
int vcore__kvm_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups)
{
    (void)vcpu;
    (void)priv;
    (void)state;
    (void)groups;
    return VCORE_ERR_UNSUPPORTED;
}

int vcore__kvm_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups)
{
    (void)vcpu;
    (void)priv;
    (void)state;
    /* The core marks every group dirty at creation; an empty set is fine. */
    return groups ? VCORE_ERR_UNSUPPORTED : VCORE_OK;
}

#endif

void vcore__kvm_state_forget(vcore_kvm_vcpu_t *kv)
{
    kv->cache_valid = 0;
    kv->apic_base_valid = false;
}
