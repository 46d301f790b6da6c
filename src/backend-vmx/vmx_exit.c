/*
 * vmx_exit.c - VM-exit decoding into vcore_exit_t, and completion of the
 * instruction once the VMM has answered.
 *
 * SDM Vol. 3, "VM Exits" and appendix "VMX Basic Exit Reasons". Every exit
 * keeps the raw data it was decoded from in exit->raw (source VMX):
 *   raw.reason         the full exit-reason field (bit 31: VM-entry failure)
 *   raw.qualification  the exit qualification, where the reason defines one
 *   raw.data[0]        VM-exit instruction length, where defined
 *   raw.data[1]        VM-exit interruption information (exceptions)
 *   raw.data[2]        VM-exit interruption error code
 *   raw.data[3]        IDT-vectoring information
 *   raw.data[4]        IDT-vectoring error code
 *   raw.data[5]        guest-physical address (EPT violations)
 *   raw.data[6]        guest RIP at the exit, where it was read
 * Only the fields the reason defines are read (each VMREAD costs).
 */
#include "vmx.h"

#include "virtcore/vm.h"

/* Exit qualification for I/O instructions ("Exit Qualification for I/O Instructions"). */
#define VCORE__IOQ_SIZE(q) ((uint32_t)((q)&7u) + 1u) /* bits 2:0: size - 1 */
#define VCORE__IOQ_IN (1ull << 3)                   /* bit 3: direction, 1 = IN */
#define VCORE__IOQ_STRING (1ull << 4)               /* bit 4: string instruction */
#define VCORE__IOQ_REP (1ull << 5)                  /* bit 5: REP prefixed */
#define VCORE__IOQ_PORT(q) ((uint16_t)((q) >> 16))  /* bits 31:16: port */
/* Exit qualification for EPT violations. */
#define VCORE__EPTQ_WRITE (1ull << 1) /* bit 1: data write */
#define VCORE__EPTQ_FETCH (1ull << 2) /* bit 2: instruction fetch */
/* VM-exit interruption information ("VM-Exit Information Fields"). */
#define VCORE__INTR_VECTOR(i) ((uint8_t)((i)&0xffu)) /* bits 7:0 */
#define VCORE__INTR_TYPE(i) (((i) >> 8) & 7u)        /* bits 10:8 */
#define VCORE__INTR_HAS_ERR (1u << 11)               /* bit 11: error code valid */
#define VCORE__INTR_VALID (1u << 31)                 /* bit 31: valid */
#define VCORE__INTR_TYPE_HW_EXC 3u                   /* hardware exception */

static int vcore__vmx_read_into(uint32_t field, uint64_t *dst)
{
    return vcore__vmx_vmread(field, dst);
}

/* Reads the VM-exit instruction length (needed to skip the instruction). */
static int vcore__vmx_exit_len(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t len;
    int err = vcore__vmx_read_into(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &len);
    if (err)
        return err;
    c->instr_len = (uint32_t)len;
    exit->raw.data[0] = len;
    return VCORE_OK;
}

/* Width in bits of the code the guest executes (CS.L, CS.D, CR0.PE). */
static uint32_t vcore__vmx_code_bits(const vcore_x86_sregs_t *s)
{
    uint32_t ar = s->seg[VCORE_X86_CS].ar;
    if ((s->efer & (1ull << 10)) && (ar & VCORE_X86_AR_L))
        return 64;
    if (!(s->cr0 & 1u))
        return 16;
    return (ar & VCORE_X86_AR_DB) ? 32u : 16u;
}

static void vcore__vmx_internal(vcore_exit_t *exit, uint32_t suberror, uint64_t a, uint64_t b)
{
    exit->reason = VCORE_EXIT_INTERNAL_ERROR;
    exit->u.internal.suberror = suberror;
    exit->u.internal.ndata = 2;
    exit->u.internal.data[0] = a;
    exit->u.internal.data[1] = b;
}

/* Internal-error sub-codes of this backend. */
#define VCORE__VMX_INTERNAL_MMIO_DECODE 1u  /* MMIO instruction could not be fetched/decoded */
#define VCORE__VMX_INTERNAL_EPT_MISCONFIG 2u /* EPT misconfiguration (a backend bug) */
#define VCORE__VMX_INTERNAL_EPT_FETCH 3u    /* instruction fetch outside RAM */
#define VCORE__VMX_INTERNAL_STRING_IO 4u    /* string I/O that could not be read/written */

/* EPT violation: MMIO outside RAM, or a write to a read-only region. */
static int vcore__vmx_exit_ept(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t q = exit->raw.qualification, gpa;
    int err = vcore__vmx_read_into(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, &gpa);
    if (err)
        return err;
    exit->raw.data[5] = gpa;
    if (q & VCORE__EPTQ_FETCH) {
        vcore__vmx_internal(exit, VCORE__VMX_INTERNAL_EPT_FETCH, gpa, q);
        return VCORE_OK;
    }
    vcore_x86_state_t st;
    err = vcore__vmx_state_get(c, &st, VCORE_X86_STATE_REGS | VCORE_X86_STATE_SREGS);
    if (err)
        return err;
    exit->raw.data[6] = st.regs.rip;
    uint8_t insn[15];
    uint64_t lin = st.sregs.seg[VCORE_X86_CS].base + st.regs.rip;
    uint32_t bits = vcore__vmx_code_bits(&st.sregs);
    if (bits != 64)
        lin &= 0xffffffffull;
    size_t got = vcore__vmx_guest_read(c->vmobj, &st.sregs, lin, insn, sizeof(insn));
    vcore__vmx_mov_t mov;
    if (vcore__vmx_decode_mov(insn, got, bits, &mov) != VCORE_OK ||
        mov.is_write != ((q & VCORE__EPTQ_WRITE) != 0)) {
        vcore__vmx_internal(exit, VCORE__VMX_INTERNAL_MMIO_DECODE, gpa, q);
        return VCORE_OK;
    }
    c->instr_len = mov.len;
    exit->raw.data[0] = mov.len;
    exit->reason = VCORE_EXIT_MMIO;
    exit->u.mmio.gpa = gpa;
    exit->u.mmio.len = mov.size;
    exit->u.mmio.is_write = mov.is_write ? 1u : 0u;
    if (mov.is_write) {
        uint64_t v = mov.has_imm ? mov.imm : c->g.gpr[mov.reg];
        if (!mov.has_imm && mov.reg == VCORE_X86_RSP)
            v = st.regs.gpr[VCORE_X86_RSP];
        if (mov.high8)
            v >>= 8;
        for (uint32_t i = 0; i < mov.size; i++)
            exit->u.mmio.data[i] = (uint8_t)(v >> (8 * i));
        c->pending = VCORE_EXIT_MMIO; /* completion: skip the instruction */
    } else {
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        c->pending = VCORE_EXIT_MMIO;
    }
    c->mmio_reg = mov.reg;
    c->mmio_high8 = mov.high8 ? 1u : 0u;
    c->mmio_len = mov.is_write ? 0u : mov.size;
    return VCORE_OK;
}

/* Port I/O, string or not. */
static int vcore__vmx_exit_io(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t q = exit->raw.qualification;
    int err = vcore__vmx_exit_len(c, exit);
    if (err)
        return err;
    c->io_width = (uint8_t)VCORE__IOQ_SIZE(q);
    c->io_string = (q & VCORE__IOQ_STRING) ? 1u : 0u;
    c->io_rep = (q & VCORE__IOQ_REP) ? 1u : 0u;
    exit->reason = VCORE_EXIT_IO;
    exit->u.io.port = VCORE__IOQ_PORT(q);
    exit->u.io.width = c->io_width;
    exit->u.io.is_in = (q & VCORE__IOQ_IN) ? 1u : 0u;
    exit->u.io.data = c->iobuf;
    c->io_count = 1;
    if (c->io_string) {
        /* The element count: RCX for REP (no more than the buffer holds; the
         * rest is done by re-executing the instruction), else one. The
         * address: the guest-linear address field ("Guest Linear Address"). */
        uint32_t max = VCORE__VMX_IO_BUF / c->io_width;
        uint64_t n = c->io_rep ? c->g.gpr[VCORE_X86_RCX] : 1;
        if (c->io_rep && !(c->entry_ctls & VCORE__ENTRY_IA32E))
            n &= 0xffffffffull;
        if (n == 0) {
            /* REP with RCX = 0 does nothing; it exits all the same. */
            c->io_count = 0;
        } else {
            c->io_count = (uint32_t)(n < max ? n : max);
        }
        exit->u.io.count = c->io_count;
        if (!exit->u.io.is_in && c->io_count) {
            uint64_t gla;
            vcore_x86_state_t st;
            err = vcore__vmx_read_into(VCORE_VMCS_GUEST_LINEAR_ADDRESS, &gla);
            if (!err)
                err = vcore__vmx_state_get(c, &st, VCORE_X86_STATE_SREGS);
            if (err)
                return err;
            size_t bytes = (size_t)c->io_count * c->io_width;
            /* DF = 1 walks downwards: the block starts at the last element. */
            uint64_t rflags;
            err = vcore__vmx_read_into(VCORE_VMCS_GUEST_RFLAGS, &rflags);
            if (err)
                return err;
            if (rflags & (1ull << 10)) {
                vcore__vmx_internal(exit, VCORE__VMX_INTERNAL_STRING_IO, gla, q);
                return VCORE_OK;
            }
            if (vcore__vmx_guest_read(c->vmobj, &st.sregs, gla, c->iobuf, bytes) != bytes) {
                vcore__vmx_internal(exit, VCORE__VMX_INTERNAL_STRING_IO, gla, q);
                return VCORE_OK;
            }
        }
    } else {
        exit->u.io.count = 1;
        uint64_t rax = c->g.gpr[VCORE_X86_RAX];
        for (uint32_t i = 0; i < c->io_width; i++)
            c->iobuf[i] = exit->u.io.is_in ? 0u : (uint8_t)(rax >> (8 * i));
    }
    if (exit->u.io.is_in)
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
    c->pending = VCORE_EXIT_IO;
    return VCORE_OK;
}

/* MOV to/from CR8 and MOV to CR0/CR4 (masked bits): handled here, the VMM never sees them. */
static int vcore__vmx_exit_cr(vcore__vmx_vcpu_t *c, vcore_exit_t *exit, bool *handled)
{
    uint64_t q = exit->raw.qualification;
    unsigned cr = (unsigned)(q & 15u), type = (unsigned)((q >> 4) & 3u), reg = (unsigned)((q >> 8) & 15u);
    int err = vcore__vmx_exit_len(c, exit);
    if (err)
        return err;
    /* "Exit Qualification for Control-Register Accesses": type 0 MOV to CR, 1 MOV from CR. */
    uint64_t rsp = 0;
    if (reg == VCORE_X86_RSP) {
        err = vcore__vmx_read_into(VCORE_VMCS_GUEST_RSP, &rsp);
        if (err)
            return err;
    }
    uint64_t val = reg == VCORE_X86_RSP ? rsp : c->g.gpr[reg];
    if (cr == 8 && type == 1 && reg != VCORE_X86_RSP) {
        c->g.gpr[reg] = c->vm.sregs.cr8;
    } else if (cr == 8 && type == 0) {
        c->vm.sregs.cr8 = val & 15u;
    } else if ((cr == 0 || cr == 4) && type == 0) {
        vcore_x86_state_t st;
        err = vcore__vmx_state_get(c, &st, VCORE_X86_STATE_SREGS);
        if (err)
            return err;
        if (cr == 0) {
            st.sregs.cr0 = val;
            /* Paging turned on with EFER.LME activates IA-32e mode
             * ("Initializing IA-32e Mode"), which the entry control must follow. */
            if ((val & (1ull << 31)) && (st.sregs.efer & (1ull << 8)))
                st.sregs.efer |= 1ull << 10;
            else if (!(val & (1ull << 31)))
                st.sregs.efer &= ~(1ull << 10);
        } else {
            st.sregs.cr4 = val;
        }
        const vcore__vmx_vm_t *v = vcore_vm_backend_priv(c->vmobj);
        err = vcore__vmx_state_set(c, v, &st, VCORE_X86_STATE_SREGS);
        if (err)
            return err;
    } else {
        return VCORE_OK; /* left to the VMM as a raw exit */
    }
    *handled = true;
    return vcore__vmx_state_skip(c);
}

int vcore__vmx_exit_decode(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t reason, q = 0, v;
    int err = vcore__vmx_read_into(VCORE_VMCS_VM_EXIT_REASON, &reason);
    if (err)
        return err;
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->flags = 0;
    exit->raw.source = VCORE_EXIT_SRC_VMX;
    exit->raw.reason = (uint32_t)reason;
    exit->reason = VCORE_EXIT_RAW;
    c->pending = 0;
    uint32_t basic = (uint32_t)reason & 0xffffu;
    /* Reasons that define an exit qualification. */
    if ((reason & VCORE__EXIT_REASON_FAILED_ENTRY) || basic == VCORE__EXIT_EXCEPTION_NMI ||
        basic == VCORE__EXIT_CR_ACCESS || basic == VCORE__EXIT_IO ||
        basic == VCORE__EXIT_EPT_VIOLATION) {
        err = vcore__vmx_read_into(VCORE_VMCS_EXIT_QUALIFICATION, &q);
        if (err)
            return err;
        exit->raw.qualification = q;
    }
    if (reason & VCORE__EXIT_REASON_FAILED_ENTRY) {
        /* SDM Vol. 3, "VM-Entry Failures During or After Loading Guest
         * State": reason 33 (guest state) or 34 (MSR loading, qualification
         * = entry index + 1), with bit 31 set. */
        exit->reason = VCORE_EXIT_FAIL_ENTRY;
        exit->u.fail_entry.hw_reason = reason;
        exit->u.fail_entry.qualification = q;
        return VCORE_OK;
    }
    switch (basic) {
    case VCORE__EXIT_EXCEPTION_NMI: {
        uint64_t info, code = 0, idt = 0;
        err = vcore__vmx_read_into(VCORE_VMCS_VM_EXIT_INTR_INFO, &info);
        if (!err && (info & VCORE__INTR_HAS_ERR))
            err = vcore__vmx_read_into(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE, &code);
        if (!err)
            err = vcore__vmx_read_into(VCORE_VMCS_IDT_VECTORING_INFO_FIELD, &idt);
        if (err)
            return err;
        exit->raw.data[1] = info;
        exit->raw.data[2] = code;
        exit->raw.data[3] = idt;
        uint8_t vec = VCORE__INTR_VECTOR(info);
        if (VCORE__INTR_TYPE(info) == 2u) { /* NMI: not ours to keep */
            exit->reason = VCORE_EXIT_INTERRUPTED;
            return VCORE_OK;
        }
        if (vec == 1 || vec == 3) {
            uint64_t rip, dr7;
            err = vcore__vmx_state_rip(c, &rip);
            if (!err)
                err = vcore__vmx_read_into(VCORE_VMCS_GUEST_DR7, &dr7);
            if (err)
                return err;
            exit->reason = VCORE_EXIT_DEBUG;
            exit->u.debug.exception = vec;
            exit->u.debug.pc = rip;
            /* For #DB the qualification holds the DR6 bits ("Exit
             * Qualification for Debug Exceptions"); DR6 itself is not updated. */
            exit->u.debug.dr6 = vec == 1 ? (q | 0xffff0ff0ull) : 0;
            exit->u.debug.dr7 = dr7;
            exit->raw.data[6] = rip;
            return VCORE_OK;
        }
        exit->reason = VCORE_EXIT_EXCEPTION;
        exit->u.exception.vector = vec;
        exit->u.exception.has_error_code = (info & VCORE__INTR_HAS_ERR) ? 1u : 0u;
        exit->u.exception.error_code = (uint32_t)code;
        exit->u.exception.cr2 = vec == 14 ? q : 0;
        return VCORE_OK;
    }
    case VCORE__EXIT_EXTERNAL_INTR:
        exit->reason = VCORE_EXIT_INTERRUPTED;
        return VCORE_OK;
    case VCORE__EXIT_TRIPLE_FAULT:
        exit->reason = VCORE_EXIT_SHUTDOWN;
        return VCORE_OK;
    case VCORE__EXIT_INIT:
        exit->reason = VCORE_EXIT_INIT;
        return VCORE_OK;
    case VCORE__EXIT_CPUID:
        err = vcore__vmx_exit_len(c, exit);
        if (err)
            return err;
        exit->reason = VCORE_EXIT_CPUID;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.cpuid.function = (uint32_t)c->g.gpr[VCORE_X86_RAX];
        exit->u.cpuid.index = (uint32_t)c->g.gpr[VCORE_X86_RCX];
        c->pending = VCORE_EXIT_CPUID;
        return VCORE_OK;
    case VCORE__EXIT_HLT:
        err = vcore__vmx_exit_len(c, exit);
        if (err)
            return err;
        exit->reason = VCORE_EXIT_HLT;
        c->pending = VCORE_EXIT_HLT; /* the next run resumes after the HLT */
        return VCORE_OK;
    case VCORE__EXIT_VMCALL:
        err = vcore__vmx_exit_len(c, exit);
        if (!err)
            err = vcore__vmx_read_into(VCORE_VMCS_GUEST_CS_AR_BYTES, &v);
        if (err)
            return err;
        exit->reason = VCORE_EXIT_HYPERCALL;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.hypercall.nr = c->g.gpr[VCORE_X86_RAX];
        exit->u.hypercall.args[0] = c->g.gpr[VCORE_X86_RBX];
        exit->u.hypercall.args[1] = c->g.gpr[VCORE_X86_RCX];
        exit->u.hypercall.args[2] = c->g.gpr[VCORE_X86_RDX];
        exit->u.hypercall.args[3] = c->g.gpr[VCORE_X86_RSI];
        exit->u.hypercall.args[4] = c->g.gpr[VCORE_X86_RDI];
        exit->u.hypercall.args[5] = c->g.gpr[VCORE_X86_R8];
        exit->u.hypercall.longmode =
            ((c->entry_ctls & VCORE__ENTRY_IA32E) && (v & VCORE_X86_AR_L)) ? 1u : 0u;
        c->pending = VCORE_EXIT_HYPERCALL;
        return VCORE_OK;
    case VCORE__EXIT_CR_ACCESS: {
        bool handled = false;
        err = vcore__vmx_exit_cr(c, exit, &handled);
        if (!err && handled)
            exit->reason = VCORE_EXIT_NONE; /* handled here: the run loop re-enters */
        return err;
    }
    case VCORE__EXIT_IO:
        return vcore__vmx_exit_io(c, exit);
    case VCORE__EXIT_RDMSR:
    case VCORE__EXIT_WRMSR:
        err = vcore__vmx_exit_len(c, exit);
        if (err)
            return err;
        exit->reason = basic == VCORE__EXIT_RDMSR ? VCORE_EXIT_RDMSR : VCORE_EXIT_WRMSR;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.msr.index = (uint32_t)c->g.gpr[VCORE_X86_RCX];
        if (basic == VCORE__EXIT_WRMSR)
            exit->u.msr.value = (c->g.gpr[VCORE_X86_RDX] << 32) | (uint32_t)c->g.gpr[VCORE_X86_RAX];
        exit->u.msr.why = basic;
        c->pending = exit->reason;
        return VCORE_OK;
    case VCORE__EXIT_EPT_VIOLATION:
        return vcore__vmx_exit_ept(c, exit);
    case VCORE__EXIT_EPT_MISCONFIG:
        err = vcore__vmx_read_into(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, &v);
        if (err)
            return err;
        exit->raw.data[5] = v;
        vcore__vmx_internal(exit, VCORE__VMX_INTERNAL_EPT_MISCONFIG, v, 0);
        return VCORE_OK;
    default:
        return VCORE_OK; /* VCORE_EXIT_RAW: reason and nothing else */
    }
}

/* Merges an IN / MMIO-read result into a register as the instruction would. */
static void vcore__vmx_put_reg(vcore__vmx_vcpu_t *c, unsigned reg, bool high8, uint32_t size,
                               const uint8_t *data)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < size && i < 8; i++)
        v |= (uint64_t)data[i] << (8 * i);
    uint64_t *r = &c->g.gpr[reg];
    if (high8)
        *r = (*r & ~0xff00ull) | ((v & 0xffu) << 8);
    else if (size == 1)
        *r = (*r & ~0xffull) | (v & 0xffu);
    else if (size == 2)
        *r = (*r & ~0xffffull) | (v & 0xffffu);
    else /* a 32-bit destination zero-extends to 64 bits */
        *r = size == 4 ? (v & 0xffffffffull) : v;
}

/* Injects #GP(0) at the next entry ("VM-Entry Controls for Event Injection"). */
static int vcore__vmx_inject_gp(void)
{
    int err = vcore__vmx_vmwrite(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, 0);
    if (!err)
        err = vcore__vmx_vmwrite(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD,
                                 VCORE__INTR_VALID | VCORE__INTR_HAS_ERR |
                                     (VCORE__INTR_TYPE_HW_EXC << 8) | 13u);
    return err;
}

int vcore__vmx_exit_complete(vcore__vmx_vcpu_t *c, const vcore_exit_t *exit)
{
    uint32_t pending = c->pending;
    if (!pending)
        return VCORE_OK;
    /* A reply must belong to the exit being answered (the same structure,
     * vcpu.h); exits without a reply (HLT, OUT, MMIO write) complete anyway. */
    if (c->pending_reply && exit->reason != pending)
        return VCORE_ERR_STATE;
    c->pending = 0;
    c->pending_reply = false;
    switch (pending) {
    case VCORE_EXIT_CPUID:
        c->g.gpr[VCORE_X86_RAX] = exit->u.cpuid.eax;
        c->g.gpr[VCORE_X86_RBX] = exit->u.cpuid.ebx;
        c->g.gpr[VCORE_X86_RCX] = exit->u.cpuid.ecx;
        c->g.gpr[VCORE_X86_RDX] = exit->u.cpuid.edx;
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_HLT:
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_HYPERCALL:
        c->g.gpr[VCORE_X86_RAX] = exit->u.hypercall.ret;
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_RDMSR:
        if (exit->u.msr.error)
            return vcore__vmx_inject_gp();
        c->g.gpr[VCORE_X86_RAX] = (uint32_t)exit->u.msr.value;
        c->g.gpr[VCORE_X86_RDX] = exit->u.msr.value >> 32;
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_WRMSR:
        if (exit->u.msr.error)
            return vcore__vmx_inject_gp();
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_MMIO:
        if (c->mmio_len) {
            uint8_t data[8];
            vcore__memcpy(data, exit->u.mmio.data, sizeof(data)); /* copy the reply once */
            vcore__vmx_put_reg(c, c->mmio_reg, c->mmio_high8 != 0, c->mmio_len, data);
        }
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_IO: {
        uint32_t bytes = c->io_count * c->io_width;
        if (!c->io_string) {
            if (exit->u.io.is_in)
                vcore__vmx_put_reg(c, VCORE_X86_RAX, false, c->io_width, c->iobuf);
            return vcore__vmx_state_skip(c);
        }
        /* String I/O: move RSI/RDI and RCX by what was done; the
         * instruction is complete when RCX reaches 0 (or without REP). */
        unsigned idx = exit->u.io.is_in ? VCORE_X86_RDI : VCORE_X86_RSI;
        if (exit->u.io.is_in && bytes) {
            vcore_x86_state_t st;
            uint64_t gla;
            int err = vcore__vmx_state_get(c, &st, VCORE_X86_STATE_SREGS);
            if (err)
                return err;
            /* ES:RDI, ES base is 0 in 64-bit mode and flat guests. */
            gla = st.sregs.seg[VCORE_X86_ES].base + c->g.gpr[VCORE_X86_RDI];
            for (uint32_t off = 0; off < bytes;) {
                uint64_t gpa;
                if (vcore__vmx_guest_translate(c->vmobj, &st.sregs, gla + off, &gpa) != VCORE_OK)
                    return VCORE_ERR_FAULT;
                uint32_t chunk = (uint32_t)(VCORE_PAGE_SIZE - (gpa & (VCORE_PAGE_SIZE - 1)));
                if (chunk > bytes - off)
                    chunk = bytes - off;
                if (vcore_vm_write_guest(c->vmobj, gpa, c->iobuf + off, chunk) != VCORE_OK)
                    return VCORE_ERR_FAULT;
                off += chunk;
            }
        }
        c->g.gpr[idx] += bytes;
        if (c->io_rep) {
            c->g.gpr[VCORE_X86_RCX] -= c->io_count;
            if (c->g.gpr[VCORE_X86_RCX] != 0)
                return VCORE_OK; /* re-execute for the rest */
        }
        return vcore__vmx_state_skip(c);
    }
    default:
        return VCORE_OK;
    }
}
