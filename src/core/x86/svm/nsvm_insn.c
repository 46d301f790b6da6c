/*
 * nsvm_insn.c - L1's SVM instructions: the #UD and #GP conditions each one
 * has (APM Vol. 3, "System Instruction Reference": VMRUN, VMLOAD, VMSAVE,
 * STGI, CLGI, INVLPGA, SKINIT, VMMCALL), VMLOAD/VMSAVE, the GIF and INVLPGA.
 * VMRUN past its instruction checks is nsvm_vmrun.c's.
 */
#include "nsvm_priv.h"

static void nsvm_exception(vcore_nsvm_result_t *res, uint8_t vector, bool has_error_code)
{
    res->outcome = VCORE_NSVM_OUT_EXCEPTION;
    res->vector = vector;
    res->has_error_code = has_error_code ? 1u : 0u;
    res->error_code = 0;
}

/* The instructions taking a VMCB address in rAX. */
static bool nsvm_takes_vmcb(uint32_t op)
{
    return op == VCORE_NSVM_VMRUN || op == VCORE_NSVM_VMLOAD || op == VCORE_NSVM_VMSAVE;
}

bool vcore__nsvm_permitted(const vcore_nsvm_t *n, const vcore_nsvm_insn_t *in, vcore_nsvm_result_t *res,
                           vcore_diag_t *diag)
{
    bool svme = (in->sregs.efer & VCORE__EFER_SVME) != 0;
    /* STGI and SKINIT are also enabled by the SKINIT feature ("STGI",
     * "SKINIT": #UD when neither EFER.SVME nor CPUID Fn8000_0001_ECX[SKINIT]
     * is set). */
    if (in->op == VCORE_NSVM_STGI || in->op == VCORE_NSVM_SKINIT)
        svme = svme || n->skinit;
    if (!svme) {
        (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_UD_SVME_CLEAR, in->sregs.efer);
        nsvm_exception(res, VCORE__VEC_UD, false);
        return false;
    }
    /* "The instruction is only recognized in protected mode": #UD in real
     * and virtual-8086 mode. */
    if (!(in->sregs.cr0 & VCORE__CR0_PE) || (in->regs.rflags & VCORE__RFLAGS_VM)) {
        (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_UD_REAL_MODE, in->sregs.cr0);
        nsvm_exception(res, VCORE__VEC_UD, false);
        return false;
    }
    uint32_t cpl = (in->sregs.seg[VCORE_X86_SS].ar & VCORE_X86_AR_DPL_MASK) >> VCORE_X86_AR_DPL_SHIFT;
    if (cpl != 0) {
        (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_GP_CPL, cpl);
        nsvm_exception(res, VCORE__VEC_GP, true);
        return false;
    }
    if (nsvm_takes_vmcb(in->op)) {
        /* "#GP(0): rAX referenced a physical address above the maximum
         * supported physical address, or was not aligned on a 4-KB boundary." */
        uint64_t pa = vcore__nsvm_rax(in);
        if (pa & 0xfffu) {
            (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_GP_RAX_ALIGN, pa);
            nsvm_exception(res, VCORE__VEC_GP, true);
            return false;
        }
        if (!vcore__x86_phys_ok(pa, n->maxphyaddr)) {
            (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_GP_RAX_PHYS, pa);
            nsvm_exception(res, VCORE__VEC_GP, true);
            return false;
        }
    }
    return true;
}

/* The VMLOAD/VMSAVE state ("VMLOAD": FS, GS, TR, LDTR with their hidden
 * parts, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_CS/ESP/EIP). */
#define NSVM_SEGS_OFF (VCORE_VMCB_SAVE_OFFSET + 0x40u) /* FS .. TR: 040h-09Fh */
#define NSVM_SEGS_LEN 0x60u
#define NSVM_MSRS_OFF (VCORE_VMCB_SAVE_OFFSET + 0x200u) /* STAR .. SYSENTER_EIP: 200h-23Fh */
#define NSVM_MSRS_LEN 0x40u

static uint64_t nsvm_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8u * i);
    return v;
}

static void nsvm_put64(uint8_t *p, uint64_t v)
{
    for (uint32_t i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8u * i));
}

static void nsvm_seg_get(vcore_x86_segment_t *s, const uint8_t *p)
{
    vcore_vmcb_seg_t v;
    v.selector = (uint16_t)(p[0] | (p[1] << 8));
    v.attrib = (uint16_t)(p[2] | (p[3] << 8));
    v.limit = (uint32_t)p[4] | ((uint32_t)p[5] << 8) | ((uint32_t)p[6] << 16) | ((uint32_t)p[7] << 24);
    v.base = nsvm_le64(p + 8);
    vcore__nsvm_seg_from_vmcb(s, &v);
}

static void nsvm_seg_put(uint8_t *p, const vcore_x86_segment_t *s)
{
    vcore_vmcb_seg_t v;
    vcore__nsvm_seg_to_vmcb(&v, s);
    p[0] = (uint8_t)v.selector;
    p[1] = (uint8_t)(v.selector >> 8);
    p[2] = (uint8_t)v.attrib;
    p[3] = (uint8_t)(v.attrib >> 8);
    for (uint32_t i = 0; i < 4; i++)
        p[4 + i] = (uint8_t)(v.limit >> (8u * i));
    nsvm_put64(p + 8, v.base);
}

static void nsvm_vmload(const vcore_nvmx_mem_t *mem, uint64_t pa, vcore_nsvm_result_t *res)
{
    uint8_t segs[NSVM_SEGS_LEN], msrs[NSVM_MSRS_LEN];
    /* Both ranges are read once, into this copy, before anything changes.
     * Physical reads outside RAM see all ones, as on the processor. */
    if (mem->read(mem->ctx, pa + NSVM_SEGS_OFF, segs, sizeof(segs)) != VCORE_OK)
        vcore__memset(segs, 0xff, sizeof(segs));
    if (mem->read(mem->ctx, pa + NSVM_MSRS_OFF, msrs, sizeof(msrs)) != VCORE_OK)
        vcore__memset(msrs, 0xff, sizeof(msrs));
    nsvm_seg_get(&res->sregs.seg[VCORE_X86_FS], segs + 0x00);
    nsvm_seg_get(&res->sregs.seg[VCORE_X86_GS], segs + 0x10);
    nsvm_seg_get(&res->sregs.seg[VCORE_X86_LDTR], segs + 0x30);
    nsvm_seg_get(&res->sregs.seg[VCORE_X86_TR], segs + 0x50);
    res->msrs.star = nsvm_le64(msrs + 0x00);
    res->msrs.lstar = nsvm_le64(msrs + 0x08);
    res->msrs.cstar = nsvm_le64(msrs + 0x10);
    res->msrs.sfmask = nsvm_le64(msrs + 0x18);
    res->msrs.kernel_gs_base = nsvm_le64(msrs + 0x20);
    res->msrs.sysenter_cs = nsvm_le64(msrs + 0x28);
    res->msrs.sysenter_esp = nsvm_le64(msrs + 0x30);
    res->msrs.sysenter_eip = nsvm_le64(msrs + 0x38);
}

/* Physical writes outside RAM are dropped, as on the processor. */
static void nsvm_vmsave(const vcore_nvmx_mem_t *mem, uint64_t pa, const vcore_nsvm_insn_t *in)
{
    uint8_t seg[16], msrs[NSVM_MSRS_LEN];
    static const struct {
        uint32_t seg, off;
    } segs[4] = {{VCORE_X86_FS, 0x00}, {VCORE_X86_GS, 0x10}, {VCORE_X86_LDTR, 0x30}, {VCORE_X86_TR, 0x50}};
    /* GDTR (050h..) and IDTR lie between them: they are not VMSAVE's. */
    for (uint32_t i = 0; i < 4; i++) {
        nsvm_seg_put(seg, &in->sregs.seg[segs[i].seg]);
        (void)mem->write(mem->ctx, pa + NSVM_SEGS_OFF + segs[i].off, seg, sizeof(seg));
    }
    nsvm_put64(msrs + 0x00, in->msrs.star);
    nsvm_put64(msrs + 0x08, in->msrs.lstar);
    nsvm_put64(msrs + 0x10, in->msrs.cstar);
    nsvm_put64(msrs + 0x18, in->msrs.sfmask);
    nsvm_put64(msrs + 0x20, in->msrs.kernel_gs_base);
    nsvm_put64(msrs + 0x28, in->msrs.sysenter_cs);
    nsvm_put64(msrs + 0x30, in->msrs.sysenter_esp);
    nsvm_put64(msrs + 0x38, in->msrs.sysenter_eip);
    (void)mem->write(mem->ctx, pa + NSVM_MSRS_OFF, msrs, sizeof(msrs));
}

int vcore_nsvm_emulate(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_insn_t *in,
                       vcore_nsvm_result_t *res, vcore_diag_t *diag)
{
    if (!vcore__nsvm_ok(n) || !mem || !in || !res || !mem->read || !mem->write)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(in) || !VCORE__SIZE_OK(res) || !VCORE__SIZE_OK(mem))
        return VCORE_ERR_ABI;
    if (in->op < VCORE_NSVM_VMRUN || in->op > VCORE_NSVM_VMMCALL || (in->ncpuid && !in->cpuid))
        return VCORE_ERR_INVAL;
    if (n->guest_mode)
        return VCORE_ERR_STATE; /* L1 is not running: its instructions cannot be */
    size_t sz = res->size;
    vcore__memset(res, 0, sizeof(*res));
    res->size = sz;
    res->regs = in->regs;
    res->sregs = in->sregs;
    res->msrs = in->msrs;
    res->dr6 = in->dr6;
    res->dr7 = in->dr7;
    res->gif = n->gif ? 1u : 0u;
    if (in->op == VCORE_NSVM_VMMCALL) {
        /* L1's VMMCALL is a call to L0's VMM ("VMMCALL": it exits when
         * intercepted, and L0 intercepts it). */
        res->outcome = VCORE_NSVM_OUT_TO_VMM;
        return VCORE_OK;
    }
    if (!vcore__nsvm_permitted(n, in, res, diag))
        return VCORE_OK;
    if (in->op == VCORE_NSVM_VMRUN)
        return vcore__nsvm_vmrun(n, mem, in, res, diag);
    switch (in->op) {
    case VCORE_NSVM_VMLOAD:
        nsvm_vmload(mem, vcore__nsvm_rax(in), res);
        break;
    case VCORE_NSVM_VMSAVE:
        nsvm_vmsave(mem, vcore__nsvm_rax(in), in);
        break;
    case VCORE_NSVM_STGI:
        n->gif = true;
        break;
    case VCORE_NSVM_CLGI:
        n->gif = false;
        break;
    case VCORE_NSVM_INVLPGA:
        /* "INVLPGA": the virtual address in rAX, the ASID in ECX. L1's ASIDs
         * name its guests; L0 maps them to its own and invalidates. */
        res->flush_va = vcore__nsvm_rax(in);
        res->flush_asid = (uint32_t)in->regs.gpr[VCORE_X86_RCX];
        break;
    default: /* SKINIT: the secure loader is the VMM's (the library does not model it) */
        res->outcome = VCORE_NSVM_OUT_TO_VMM;
        return VCORE_OK;
    }
    res->gif = n->gif ? 1u : 0u;
    res->regs.rip = in->regs.rip + in->insn_len;
    res->outcome = VCORE_NSVM_OUT_DONE;
    return VCORE_OK;
}
