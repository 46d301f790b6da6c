/*
 * svm_exit.c - #VMEXIT decoding into vcore_exit_t, and completion of the
 * instruction once the VMM (or the core) has answered.
 *
 * APM Vol. 2, appendix "SVM Intercept Exit Codes" and the intercept
 * sections of chapter "Secure Virtual Machine". Every exit keeps the raw
 * data it was decoded from in exit->raw (source SVM, layout in vmcb.h).
 *
 * The backend reports and completes; it never decides what belongs to the
 * core (backend.h): writes to CR0 and CR4 come back as VCORE_EXIT_CR_ACCESS
 * and a refused RDMSR/WRMSR stays uncompleted while the core raises the
 * #GP. Events that belong to the host - a physical interrupt, NMI, SMI or
 * machine check - go to the host and never reach the VMM as the guest's.
 */
#include "svm.h"

#include "core/x86/x86.h"
#include "virtcore/x86/nsvm.h"

static void vcore__svm_internal(vcore_exit_t *exit, uint32_t suberror, uint64_t a, uint64_t b)
{
    exit->reason = VCORE_EXIT_INTERNAL_ERROR;
    exit->flags = 0;
    exit->u.internal.suberror = suberror;
    exit->u.internal.ndata = 2;
    exit->u.internal.data[0] = a;
    exit->u.internal.data[1] = b;
}

/* A GPR as the guest has it: RAX and RSP are VMCB fields. */
static uint64_t vcore__svm_exit_gpr(vcore__svm_vcpu_t *c, unsigned r)
{
    if (r == VCORE_X86_RAX)
        return VCORE__SVM_RD(c, save.rax);
    if (r == VCORE_X86_RSP)
        return VCORE__SVM_RD(c, save.rsp);
    return c->g.gpr[r & 15u];
}

static void vcore__svm_exit_set_gpr(vcore__svm_vcpu_t *c, unsigned r, uint64_t v)
{
    if (r == VCORE_X86_RAX)
        VCORE__SVM_WR(c, save.rax, v);
    else if (r == VCORE_X86_RSP)
        VCORE__SVM_WR(c, save.rsp, v);
    else
        c->g.gpr[r & 15u] = v;
}

/* Where the exited instruction ends: nRIP ("Next RIP Saved") or, without
 * it, the decoded length. False (with an internal-error exit) when the
 * instruction cannot be decoded. */
static bool vcore__svm_exit_next(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, vcore_exit_t *exit,
                                 uint64_t rip)
{
    uint64_t next = 0;
    if (v->features & VCORE_SVM_FEAT_NRIPS)
        next = VCORE__SVM_RD(c, control.next_rip);
    if (next == 0) {
        vcore__x86_insn_t in;
        if (vcore__svm_guest_decode(c, &in) != VCORE_OK) {
            vcore__svm_internal(exit, VCORE_SVM_INTERNAL_INSN_DECODE, rip, exit->raw.qualification);
            return false;
        }
        next = rip + in.len;
        if (!vcore__svm_state_long64(c))
            next &= 0xffffffffull;
    }
    c->next_rip = next;
    exit->raw.data[4] = next;
    return true;
}

/* Base of a segment register for a string operand: in 64-bit mode only FS
 * and GS have one ("Segment Registers in 64-Bit Mode"). */
static uint64_t vcore__svm_exit_seg_base(vcore__svm_vcpu_t *c, uint32_t seg, bool long64)
{
    if (long64 && seg != VCORE_X86_FS && seg != VCORE_X86_GS)
        return 0;
    switch (seg) {
    case VCORE_X86_ES:
        return VCORE__SVM_RD(c, save.es.base);
    case VCORE_X86_CS:
        return VCORE__SVM_RD(c, save.cs.base);
    case VCORE_X86_SS:
        return VCORE__SVM_RD(c, save.ss.base);
    case VCORE_X86_FS:
        return VCORE__SVM_RD(c, save.fs.base);
    case VCORE_X86_GS:
        return VCORE__SVM_RD(c, save.gs.base);
    default:
        return VCORE__SVM_RD(c, save.ds.base);
    }
}

/* String I/O: how many elements, where, in which direction. */
static void vcore__svm_exit_string(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, vcore_exit_t *exit,
                                   uint64_t i1)
{
    bool in = (i1 & VCORE_VMCB_IOIO_IN) != 0;
    uint32_t seg = VCORE_X86_ES; /* INS writes ES:rDI, no override ("INS") */
    bool decoded = false;
    vcore__x86_insn_t d;
    vcore__memset(&d, 0, sizeof(d));
    c->io_asize = (i1 & VCORE_VMCB_IOIO_A64)   ? 64
                  : (i1 & VCORE_VMCB_IOIO_A32) ? 32
                  : (i1 & VCORE_VMCB_IOIO_A16) ? 16
                                               : 0;
    c->io_down = (VCORE__SVM_RD(c, save.rflags) & VCORE__RFLAGS_DF) != 0;
    c->io_long64 = vcore__svm_state_long64(c);
    /* OUTS reads DS:rSI unless a prefix overrides DS ("OUTS"): decode
     * assists report the segment, otherwise the prefixes tell. EXITINFO1
     * bits 9:7 give the address size; where an emulator leaves them clear
     * (QEMU, docs/svm-conformance.md) the instruction does. */
    if (c->io_asize == 0 || (!in && !(v->features & VCORE_SVM_FEAT_DECODE_ASSISTS))) {
        if (vcore__svm_guest_decode(c, &d) != VCORE_OK) {
            vcore__svm_internal(exit, VCORE_SVM_INTERNAL_INSN_DECODE, exit->raw.data[3], i1);
            return;
        }
        decoded = true;
        if (c->io_asize == 0)
            c->io_asize = d.addr_bits;
    }
    if (!in) {
        seg = VCORE_X86_DS;
        if (v->features & VCORE_SVM_FEAT_DECODE_ASSISTS)
            seg = (uint32_t)((i1 >> VCORE_VMCB_IOIO_SEG_SHIFT) & 7u);
        else if (decoded && d.seg != VCORE__X86_SEG_NONE)
            seg = d.seg;
    }
    c->io_base = vcore__svm_exit_seg_base(c, seg, c->io_long64);
    uint64_t mask = c->io_asize == 64 ? ~0ull : c->io_asize == 32 ? 0xffffffffull : 0xffffull;
    uint64_t reg = c->g.gpr[in ? VCORE_X86_RDI : VCORE_X86_RSI];
    /* RCX (at the address size) with REP, else one; no more than the
     * buffer holds: the rest is done by re-executing the instruction. */
    uint64_t n = c->io_rep ? (c->g.gpr[VCORE_X86_RCX] & mask) : 1u;
    uint32_t max = VCORE__SVM_IO_BUF / c->io_width;
    c->io_count = (uint32_t)(n < max ? n : max);
    exit->u.io.count = c->io_count;
    if (in)
        return;
    for (uint32_t k = 0; k < c->io_count; k++) {
        uint64_t lin = vcore__svm_guest_elem(c, reg, k);
        if (vcore__svm_guest_read(c, lin, c->iobuf + (size_t)k * c->io_width, c->io_width) != c->io_width) {
            vcore__svm_internal(exit, VCORE_SVM_INTERNAL_STRING_IO, lin, i1);
            return;
        }
    }
}

/* IOIO ("IOIO Intercept"): EXITINFO1 describes the access, EXITINFO2 is
 * the rIP of the next instruction. */
static void vcore__svm_exit_io(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, vcore_exit_t *exit,
                               uint64_t i1, uint64_t i2)
{
    c->io_width = (i1 & VCORE_VMCB_IOIO_SZ32) ? 4 : (i1 & VCORE_VMCB_IOIO_SZ16) ? 2 : 1;
    c->io_string = (i1 & VCORE_VMCB_IOIO_STR) ? 1u : 0u;
    c->io_rep = (i1 & VCORE_VMCB_IOIO_REP) ? 1u : 0u;
    c->io_in = (i1 & VCORE_VMCB_IOIO_IN) ? 1u : 0u;
    c->next_rip = i2;
    exit->raw.data[4] = i2;
    exit->reason = VCORE_EXIT_IO;
    exit->u.io.port = (uint16_t)(i1 >> VCORE_VMCB_IOIO_PORT_SHIFT);
    exit->u.io.width = c->io_width;
    exit->u.io.is_in = c->io_in;
    exit->u.io.data = c->iobuf;
    if (c->io_string) {
        vcore__svm_exit_string(c, v, exit, i1);
        if (exit->reason != VCORE_EXIT_IO)
            return;
    } else {
        c->io_count = 1;
        exit->u.io.count = 1;
        /* OUT sends the low bytes of rAX (x86 is little-endian) */
        uint64_t rax = c->io_in ? 0 : VCORE__SVM_RD(c, save.rax);
        vcore__memcpy(c->iobuf, &rax, c->io_width);
    }
    if (c->io_in)
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
    c->pending = VCORE_EXIT_IO;
}

/* Nested page fault outside RAM (or a write to a read-only region): the
 * MOV at RIP tells size, direction and register. */
static void vcore__svm_exit_npf(vcore__svm_vcpu_t *c, vcore_exit_t *exit, uint64_t i1, uint64_t gpa,
                                uint64_t rip)
{
    if (i1 & VCORE_VMCB_NPF_ID) {
        vcore__svm_internal(exit, VCORE_SVM_INTERNAL_NPF_FETCH, gpa, i1);
        return;
    }
    /* Only the instruction's own data access can be emulated from its
     * decoding: not an access of the guest's page walk (EXITINFO1[33]),
     * not one made by an event delivery (EXITINTINFO valid). */
    if ((i1 & VCORE_VMCB_NPF_TABLE) || (exit->raw.data[2] & VCORE_VMCB_EVENT_V)) {
        vcore__svm_internal(exit, VCORE_SVM_INTERNAL_NPF_NOT_DATA, gpa, i1);
        return;
    }
    vcore__x86_insn_t in;
    vcore__x86_mmio_mov_t mov;
    if (vcore__svm_guest_decode(c, &in) != VCORE_OK || vcore__x86_mmio_mov(&in, &mov) != VCORE_OK ||
        mov.is_write != ((i1 & VCORE_VMCB_NPF_RW) != 0)) {
        vcore__svm_internal(exit, VCORE_SVM_INTERNAL_MMIO_DECODE, gpa, i1);
        return;
    }
    uint32_t size = mov.size;
    bool high8 = mov.high8;
    uint8_t reg = mov.reg;
    c->next_rip = rip + in.len;
    if (!vcore__svm_state_long64(c))
        c->next_rip &= 0xffffffffull;
    exit->raw.data[4] = c->next_rip;
    exit->reason = VCORE_EXIT_MMIO;
    exit->u.mmio.gpa = gpa;
    exit->u.mmio.len = size;
    exit->u.mmio.is_write = mov.is_write ? 1u : 0u;
    if (mov.is_write) {
        uint64_t val = mov.value;
        if (!mov.has_imm) {
            val = vcore__svm_exit_gpr(c, reg);
            if (high8)
                val >>= 8;
        }
        vcore__memcpy(exit->u.mmio.data, &val, size); /* little-endian, size <= 8 */
        c->mmio_len = 0;
    } else {
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        c->mmio_len = size;
    }
    c->mmio_reg = reg;
    c->mmio_high8 = high8 ? 1u : 0u;
    c->pending = VCORE_EXIT_MMIO;
}

/* MOV to CR0/CR4, CLTS, LMSW (the CR0 write intercept takes all three):
 * reported; the core checks and applies them (vcpu_cr.c). */
static void vcore__svm_exit_cr(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, vcore_exit_t *exit,
                               uint32_t cr, uint64_t i1, uint64_t rip)
{
    vcore__x86_insn_t in;
    uint8_t type = 0, gpr = 0;
    uint16_t lmsw = 0;
    if ((v->features & VCORE_SVM_FEAT_DECODE_ASSISTS) && (i1 & VCORE_VMCB_CR_MOV)) {
        /* "Decode Assists": a MOV to CRn names its register in bits 3:0. */
        gpr = (uint8_t)(i1 & 15u);
        if (!vcore__svm_exit_next(c, v, exit, rip))
            return;
    } else {
        if (vcore__svm_guest_decode(c, &in) != VCORE_OK) {
            vcore__svm_internal(exit, VCORE_SVM_INTERNAL_INSN_DECODE, rip, i1);
            return;
        }
        if (in.opcode == 0x0f22 && in.reg == cr) {
            gpr = in.rm;
        } else if (in.opcode == 0x0f06 && cr == 0) {
            type = 2; /* CLTS */
        } else if (in.opcode == 0x0f01 && (in.reg & 7u) == 6 && in.mod == 3 && cr == 0) {
            type = 3; /* LMSW with a register operand */
            lmsw = (uint16_t)vcore__svm_exit_gpr(c, in.rm);
        } else {
            vcore__svm_internal(exit, VCORE_SVM_INTERNAL_INSN_DECODE, rip, i1);
            return;
        }
        c->next_rip = rip + in.len;
        if (!vcore__svm_state_long64(c))
            c->next_rip &= 0xffffffffull;
        exit->raw.data[4] = c->next_rip;
    }
    exit->reason = VCORE_EXIT_CR_ACCESS;
    exit->u.cr.cr = (uint8_t)cr;
    exit->u.cr.type = type;
    exit->u.cr.gpr = gpr;
    exit->u.cr.lmsw_source = lmsw;
    exit->u.cr.insn_len = (uint32_t)(c->next_rip - rip);
}

/* Exception intercepts (exit codes 40H-5FH, "Exception Intercepts"). */
static void vcore__svm_exit_exception(vcore__svm_vcpu_t *c, vcore_exit_t *exit, uint32_t vec, uint64_t i1,
                                      uint64_t i2, uint64_t rip, bool *again)
{
    if (vec == VCORE__VEC_MC) {
        /* A machine check is the platform's: the host's handler, then the guest resumes. */
        vcore__svm_host_mc();
        *again = true;
        return;
    }
    if (vec == VCORE__VEC_DB && vcore__svm_events_step_done(c)) {
        /* The backend's own single step for the NMI window: the next entry
         * finds the window open (svm_events.c) and reports it. */
        *again = true;
        return;
    }
    if (vec == VCORE__VEC_DB || vec == VCORE__VEC_BP) {
        exit->reason = VCORE_EXIT_DEBUG;
        exit->u.debug.exception = vec;
        exit->u.debug.pc = rip;
        exit->u.debug.dr6 = vec == VCORE__VEC_DB ? VCORE__SVM_RD(c, save.dr6) : 0;
        exit->u.debug.dr7 = VCORE__SVM_RD(c, save.dr7);
        return;
    }
    exit->reason = VCORE_EXIT_EXCEPTION;
    exit->u.exception.vector = (uint8_t)vec;
    /* EXITINFO1 holds the error code of the exceptions that push one;
     * EXITINFO2 the faulting address of a #PF. */
    exit->u.exception.has_error_code = vcore__x86_exc_has_error_code(vec) ? 1u : 0u;
    exit->u.exception.error_code = exit->u.exception.has_error_code ? (uint32_t)i1 : 0u;
    exit->u.exception.cr2 = vec == VCORE__VEC_PF ? i2 : 0;
}

/* The SVM instructions (APM Vol. 3, "VMRUN" .. "INVLPGA", "SKINIT"): for a
 * vCPU with nested SVM, the core's dispatch step emulates them; without it
 * they stay raw (the VMM decides, normally a #UD). The core completes them:
 * nothing is pending here. */
static void vcore__svm_exit_svm_insn(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, vcore_exit_t *exit,
                                     uint64_t code, uint64_t rip)
{
    static const struct {
        uint64_t code;
        uint32_t op;
    } ops[] = {
        {VCORE_VMEXIT_VMRUN, VCORE_NSVM_VMRUN},   {VCORE_VMEXIT_VMLOAD, VCORE_NSVM_VMLOAD},
        {VCORE_VMEXIT_VMSAVE, VCORE_NSVM_VMSAVE}, {VCORE_VMEXIT_STGI, VCORE_NSVM_STGI},
        {VCORE_VMEXIT_CLGI, VCORE_NSVM_CLGI},     {VCORE_VMEXIT_SKINIT, VCORE_NSVM_SKINIT},
        {VCORE_VMEXIT_INVLPGA, VCORE_NSVM_INVLPGA},
    };
    if (!vcore_vcpu_nsvm(c->vcpu))
        return;
    if (!vcore__svm_exit_next(c, v, exit, rip))
        return;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(ops); i++)
        if (ops[i].code == code)
            exit->u.svm_insn.op = ops[i].op;
    exit->reason = VCORE_EXIT_SVM_INSN;
    exit->u.svm_insn.insn_len = (uint32_t)(c->next_rip - rip);
}

void vcore__svm_exit_decode(vcore__svm_vcpu_t *c, const vcore__svm_vm_t *v, vcore_exit_t *exit,
                            bool *again)
{
    *again = false;
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->flags = 0;
    exit->reason = VCORE_EXIT_RAW;
    c->pending = 0;
    c->next_rip = 0;
    uint64_t code = VCORE__SVM_RD(c, control.exit_code);
    uint64_t i1 = VCORE__SVM_RD(c, control.exit_info1);
    uint64_t i2 = VCORE__SVM_RD(c, control.exit_info2);
    exit->raw.source = VCORE_EXIT_SRC_SVM;
    exit->raw.reason = (uint32_t)code;
    exit->raw.qualification = i1;
    exit->raw.data[0] = code;
    exit->raw.data[1] = i2;
    /* APM Vol. 2, "SVM Intercept Exit Codes": EXITCODE is 64 bits and
     * VMEXIT_INVALID is -1 in all of them; an emulator that stores the
     * 32-bit -1 (QEMU, docs/svm-conformance.md) means the same. */
    if (code == 0xffffffffull)
        code = VCORE_VMEXIT_INVALID_CODE;
    vcore__svm_events_exited(c, v, code, exit);
    if (code == VCORE_VMEXIT_INVALID_CODE) {
        /* VMRUN refused the guest state ("Canonicalization and Consistency
         * Checks"): data, not an error (DESIGN.md §4). */
        exit->reason = VCORE_EXIT_HW_ERROR;
        exit->u.hw_error.kind = 3;
        return;
    }
    uint64_t rip = VCORE__SVM_RD(c, save.rip);
    exit->raw.data[3] = rip;
    if (code >= VCORE_VMEXIT_EXCP0 && code <= VCORE_VMEXIT_EXCP31) {
        vcore__svm_exit_exception(c, exit, (uint32_t)(code - VCORE_VMEXIT_EXCP0), i1, i2, rip, again);
        return;
    }
    switch (code) {
    case VCORE_VMEXIT_INTR:
        exit->reason = VCORE_EXIT_INTERRUPTED; /* the host takes it at STGI */
        return;
    case VCORE_VMEXIT_NMI:
    case VCORE_VMEXIT_SMI:
        *again = true; /* held pending while GIF was clear, taken by the host at STGI */
        return;
    case VCORE_VMEXIT_INIT:
        exit->reason = VCORE_EXIT_INIT;
        return;
    case VCORE_VMEXIT_VINTR:
        /* The window is open: the request is done (one-shot). */
        c->ev.request_interrupt_window = 0;
        exit->reason = VCORE_EXIT_IRQ_WINDOW;
        return;
    case VCORE_VMEXIT_IRET:
        vcore__svm_events_iret(c);
        *again = true;
        return;
    case VCORE_VMEXIT_SHUTDOWN:
        exit->reason = VCORE_EXIT_SHUTDOWN;
        return;
    case VCORE_VMEXIT_CPUID:
        if (!vcore__svm_exit_next(c, v, exit, rip))
            return;
        exit->reason = VCORE_EXIT_CPUID;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.cpuid.function = (uint32_t)VCORE__SVM_RD(c, save.rax);
        exit->u.cpuid.index = (uint32_t)c->g.gpr[VCORE_X86_RCX];
        c->pending = VCORE_EXIT_CPUID;
        return;
    case VCORE_VMEXIT_HLT:
        if (!vcore__svm_exit_next(c, v, exit, rip))
            return;
        exit->reason = VCORE_EXIT_HLT;
        c->pending = VCORE_EXIT_HLT; /* the next run resumes after the HLT */
        return;
    case VCORE_VMEXIT_VMMCALL:
        if (!vcore__svm_exit_next(c, v, exit, rip))
            return;
        exit->reason = VCORE_EXIT_HYPERCALL;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.hypercall.nr = VCORE__SVM_RD(c, save.rax);
        exit->u.hypercall.args[0] = c->g.gpr[VCORE_X86_RBX];
        exit->u.hypercall.args[1] = c->g.gpr[VCORE_X86_RCX];
        exit->u.hypercall.args[2] = c->g.gpr[VCORE_X86_RDX];
        exit->u.hypercall.args[3] = c->g.gpr[VCORE_X86_RSI];
        exit->u.hypercall.args[4] = c->g.gpr[VCORE_X86_RDI];
        exit->u.hypercall.args[5] = c->g.gpr[VCORE_X86_R8];
        exit->u.hypercall.longmode = vcore__svm_state_long64(c) ? 1u : 0u;
        /* VMMCALL is 0F 01 D9: nRIP or the decoded length (3). */
        exit->u.hypercall.insn_len = (uint8_t)(c->next_rip - rip);
        c->pending = VCORE_EXIT_HYPERCALL;
        return;
    case VCORE_VMEXIT_IOIO:
        vcore__svm_exit_io(c, v, exit, i1, i2);
        return;
    case VCORE_VMEXIT_MSR:
        /* "MSR Intercepts": EXITINFO1 is 0 for RDMSR, 1 for WRMSR. */
        if (!vcore__svm_exit_next(c, v, exit, rip))
            return;
        exit->reason = (i1 & 1u) ? VCORE_EXIT_WRMSR : VCORE_EXIT_RDMSR;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.msr.index = (uint32_t)c->g.gpr[VCORE_X86_RCX];
        if (i1 & 1u)
            exit->u.msr.value = (c->g.gpr[VCORE_X86_RDX] << 32) | (uint32_t)VCORE__SVM_RD(c, save.rax);
        exit->u.msr.why = (uint32_t)i1;
        c->pending = exit->reason;
        return;
    case VCORE_VMEXIT_NPF:
        vcore__svm_exit_npf(c, exit, i1, i2, rip);
        return;
    case VCORE_VMEXIT_CR0_WRITE:
    case VCORE_VMEXIT_CR4_WRITE:
        vcore__svm_exit_cr(c, v, exit, (uint32_t)(code - VCORE_VMEXIT_CR0_WRITE), i1, rip);
        return;
    case VCORE_VMEXIT_VMRUN:
    case VCORE_VMEXIT_VMLOAD:
    case VCORE_VMEXIT_VMSAVE:
    case VCORE_VMEXIT_STGI:
    case VCORE_VMEXIT_CLGI:
    case VCORE_VMEXIT_SKINIT:
    case VCORE_VMEXIT_INVLPGA:
        vcore__svm_exit_svm_insn(c, v, exit, code, rip);
        return;
    default:
        return; /* VCORE_EXIT_RAW: the code and its information */
    }
}

/* Merges an IN / MMIO-read result into a register as the instruction would. */
static void vcore__svm_put_reg(vcore__svm_vcpu_t *c, unsigned reg, bool high8, uint32_t size,
                               const uint8_t *data)
{
    /* x86 is little-endian: the bytes are the value's (size is 1, 2, 4 or 8) */
    uint64_t v = 0;
    vcore__memcpy(&v, data, size);
    uint64_t r = vcore__x86_reg_load(vcore__svm_exit_gpr(c, reg), v, size, high8);
    vcore__svm_exit_set_gpr(c, reg, r);
}

/* String I/O done: the elements of an IN go to memory, rSI/rDI and rCX
 * move by what was done; the instruction completes when the count is done. */
static int vcore__svm_exit_string_done(vcore__svm_vcpu_t *c)
{
    bool in = c->io_in != 0;
    unsigned idx = in ? VCORE_X86_RDI : VCORE_X86_RSI;
    uint64_t reg = c->g.gpr[idx];
    if (in) {
        for (uint32_t k = 0; k < c->io_count; k++) {
            int err = vcore__svm_guest_write(c, vcore__svm_guest_elem(c, reg, k),
                                             c->iobuf + (size_t)k * c->io_width, c->io_width);
            if (err)
                return err;
        }
    }
    uint64_t bytes = (uint64_t)c->io_count * c->io_width;
    c->g.gpr[idx] = vcore__x86_str_step(reg, c->io_down ? (uint64_t)0 - bytes : bytes, c->io_asize);
    if (c->io_rep) {
        uint64_t mask = c->io_asize == 64 ? ~0ull : c->io_asize == 32 ? 0xffffffffull : 0xffffull;
        uint64_t rcx = vcore__x86_str_step(c->g.gpr[VCORE_X86_RCX], (uint64_t)0 - c->io_count, c->io_asize);
        c->g.gpr[VCORE_X86_RCX] = rcx;
        if (rcx & mask)
            return VCORE_OK; /* re-executed for the rest */
    }
    vcore__svm_state_skip(c);
    return VCORE_OK;
}

int vcore__svm_exit_complete(vcore__svm_vcpu_t *c, const vcore_exit_t *exit)
{
    uint32_t pending = c->pending;
    if (!pending)
        return VCORE_OK;
    /* The core holds the VMM to the reply contract (exit.h): a reply
     * handed back belongs to the exit being answered. */
    c->pending = 0;
    switch (pending) {
    case VCORE_EXIT_CPUID:
        /* CPUID writes the low 32 bits and clears the high ones in 64-bit mode. */
        VCORE__SVM_WR(c, save.rax, exit->u.cpuid.eax);
        c->g.gpr[VCORE_X86_RBX] = exit->u.cpuid.ebx;
        c->g.gpr[VCORE_X86_RCX] = exit->u.cpuid.ecx;
        c->g.gpr[VCORE_X86_RDX] = exit->u.cpuid.edx;
        break;
    case VCORE_EXIT_HLT:
        break;
    case VCORE_EXIT_HYPERCALL:
        /* A faulting call (the core raised #UD through the event state)
         * leaves RAX and RIP as they were (exit.h, u.hypercall.fault). */
        if (exit->u.hypercall.fault)
            return VCORE_OK;
        VCORE__SVM_WR(c, save.rax, exit->u.hypercall.ret);
        break;
    case VCORE_EXIT_RDMSR:
    case VCORE_EXIT_WRMSR:
        /* A refused access does not complete: the core raises #GP(0)
         * through the event state (APM Vol. 3, "RDMSR", "WRMSR"). */
        if (exit->u.msr.error)
            return VCORE_OK;
        if (pending == VCORE_EXIT_RDMSR) {
            VCORE__SVM_WR(c, save.rax, (uint32_t)exit->u.msr.value);
            c->g.gpr[VCORE_X86_RDX] = exit->u.msr.value >> 32;
        }
        break;
    case VCORE_EXIT_MMIO:
        if (c->mmio_len) {
            uint8_t data[8];
            vcore__memcpy(data, exit->u.mmio.data, sizeof(data)); /* copy the reply once */
            vcore__svm_put_reg(c, c->mmio_reg, c->mmio_high8 != 0, c->mmio_len, data);
        }
        break;
    case VCORE_EXIT_IO:
        if (c->io_string)
            return vcore__svm_exit_string_done(c);
        if (c->io_in)
            vcore__svm_put_reg(c, VCORE_X86_RAX, false, c->io_width, c->iobuf);
        break;
    default:
        return VCORE_OK;
    }
    vcore__svm_state_skip(c);
    return VCORE_OK;
}
