/*
 * vmx_exit.c - VM-exit decoding into vcore_exit_t, and completion of the
 * instruction once the VMM (or the core) has answered.
 *
 * SDM Vol. 3, "VM Exits" and appendix "VMX Basic Exit Reasons". Every exit
 * keeps the raw data it was decoded from in exit->raw (source VMX), in the
 * layout x86/vmx_exits.h documents. Only the fields the reason defines are
 * read, each once: every VMREAD costs.
 *
 * The backend reports and completes; it never decides what belongs to the
 * core (backend.h): control-register accesses come back as
 * VCORE_EXIT_CR_ACCESS and VMX instructions as VCORE_EXIT_VMX_INSN, and a
 * refused RDMSR/WRMSR stays uncompleted while the core raises the #GP.
 * Events that belong to the host - an NMI (NMI exiting) or a machine check -
 * go to the host's handlers and never reach the VMM as the guest's.
 */
#include "vmx.h"
#include "core/x86/x86.h"

#include "virtcore/vm.h"

/* Exit qualification for I/O instructions ("Exit Qualification for I/O Instructions"). */
#define VCORE__IOQ_SIZE(q) ((uint32_t)((q)&7u) + 1u) /* bits 2:0: size - 1 */
#define VCORE__IOQ_IN (1ull << 3)                   /* bit 3: direction, 1 = IN */
#define VCORE__IOQ_STRING (1ull << 4)               /* bit 4: string instruction */
#define VCORE__IOQ_REP (1ull << 5)                  /* bit 5: REP prefixed */
#define VCORE__IOQ_PORT(q) ((uint16_t)((q) >> 16))  /* bits 31:16: port */
/* Exit qualification for EPT violations ("Exit Qualification for EPT Violations"). */
#define VCORE__EPTQ_WRITE (1ull << 1)     /* bit 1: data write */
#define VCORE__EPTQ_FETCH (1ull << 2)     /* bit 2: instruction fetch */
#define VCORE__EPTQ_GLA_VALID (1ull << 7) /* bit 7: the guest linear-address field is valid */
#define VCORE__EPTQ_GLA_XLATE (1ull << 8) /* bit 8 (with 7): the access was to the translation of
                                           * the linear address, not to a paging-structure entry */
/* Exit qualification for control-register accesses. */
#define VCORE__CRQ_CR(q) ((uint8_t)((q)&15u))           /* bits 3:0: control register */
#define VCORE__CRQ_TYPE(q) ((uint8_t)(((q) >> 4) & 3u)) /* bits 5:4: access type */
#define VCORE__CRQ_GPR(q) ((uint8_t)(((q) >> 8) & 15u)) /* bits 11:8: general-purpose register */
#define VCORE__CRQ_LMSW(q) ((uint16_t)((q) >> 16))      /* bits 31:16: LMSW source data */

/* Reasons whose exit qualification is always defined ("Basic VM-Exit
 * Information", "Exit Qualification"). Exceptions (only #DB and #PF have
 * one) and the VMX instructions (not for a register operand) read it
 * themselves. */
#define VCORE__R(x) (1ull << VCORE_VMX_EXIT_##x)
static bool vcore__vmx_exit_has_qual(uint32_t basic)
{
    const uint64_t below64 =
        VCORE__R(TASK_SWITCH) | VCORE__R(INVLPG) | VCORE__R(CR_ACCESS) | VCORE__R(DR_ACCESS) |
        VCORE__R(IO_INSTRUCTION) | VCORE__R(APIC_ACCESS) | VCORE__R(GDTR_IDTR_ACCESS) |
        VCORE__R(LDTR_TR_ACCESS) | VCORE__R(EPT_VIOLATION) | VCORE__R(INVPCID) | VCORE__R(APIC_WRITE) |
        VCORE__R(PML_FULL) | VCORE__R(XSAVES);
    return basic < 64 ? ((below64 >> basic) & 1u) != 0 : basic == VCORE_VMX_EXIT_XRSTORS;
}

/* Reasons that can occur during event delivery, leaving the IDT-vectoring
 * information valid ("Information for VM Exits That Occur During Event
 * Delivery"): an exception from the exception bitmap, a task switch through
 * the IDT, an APIC access, an EPT violation or misconfiguration, a full
 * page-modification log, an SPP-related event. */
static bool vcore__vmx_exit_in_delivery(uint32_t basic)
{
    const uint64_t below64 = VCORE__R(EXCEPTION_NMI) | VCORE__R(TASK_SWITCH) |
                             VCORE__R(APIC_ACCESS) | VCORE__R(EPT_VIOLATION) |
                             VCORE__R(EPT_MISCONFIG) | VCORE__R(PML_FULL);
    return basic < 64 ? ((below64 >> basic) & 1u) != 0 : basic == VCORE_VMX_EXIT_SPP_EVENT;
}
#undef VCORE__R

/* Reads the VM-exit instruction length (needed to complete the instruction). */
static int vcore__vmx_exit_len(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t len;
    int err = vcore__vmx_field_read(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &len);
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
    if ((s->efer & VCORE__EFER_LMA) && (ar & VCORE_X86_AR_L))
        return 64;
    if (!(s->cr0 & VCORE__CR0_PE))
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

/* What a guest memory access needs: the paging registers, and the code
 * segment when the instruction is fetched (4 fields at most; CR0, CR4 and
 * EFER are known). */
static int vcore__vmx_exit_sregs(vcore__vmx_vcpu_t *c, bool code, vcore_x86_state_t *st)
{
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(c->vmobj);
    vcore__memset(st, 0, sizeof(*st));
    int err = vcore__vmx_state_get(c, v, st, VCORE_X86_STATE_CR0 | VCORE_X86_STATE_CR3 |
                                                 VCORE_X86_STATE_CR4 | VCORE_X86_STATE_EFER);
    if (err || !code)
        return err;
    uint64_t base, ar;
    err = vcore__vmx_field_get(c, VCORE__VMX_F_CS_BASE, &base);
    if (err)
        return err;
    err = vcore__vmx_field_get(c, VCORE__VMX_F_CS_AR, &ar);
    if (err)
        return err;
    st->sregs.seg[VCORE_X86_CS].base = base;
    st->sregs.seg[VCORE_X86_CS].ar = (uint32_t)ar;
    return VCORE_OK;
}

/* Fetches up to 15 bytes at CS:RIP. */
static size_t vcore__vmx_exit_fetch(vcore__vmx_vcpu_t *c, const vcore_x86_state_t *st, uint64_t rip,
                                    uint8_t insn[15])
{
    uint64_t lin = st->sregs.seg[VCORE_X86_CS].base + rip;
    if (vcore__vmx_code_bits(&st->sregs) != 64)
        lin &= 0xffffffffull;
    return vcore__vmx_guest_read(c->vmobj, &st->sregs, lin, insn, 15);
}

/* EPT violation: MMIO outside RAM, or a write to a read-only region. */
static int vcore__vmx_exit_ept(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t q = exit->raw.qualification, gpa;
    int err = vcore__vmx_field_read(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, &gpa);
    if (err)
        return err;
    exit->raw.data[5] = gpa;
    if (q & VCORE__EPTQ_FETCH) {
        vcore__vmx_internal(exit, VCORE_VMX_INTERNAL_EPT_FETCH, gpa, q);
        return VCORE_OK;
    }
    /* Only the instruction's own data access can be emulated from its
     * decoding: bits 7 and 8 both set ("Exit Qualification for EPT
     * Violations"). Bit 8 clear is an access to a paging-structure entry
     * of the guest's own page walk; bit 7 clear an access that translates
     * no linear address; a valid IDT-vectoring field an access made by
     * event delivery (IDT, stack). None of them is the MOV at RIP. */
    if ((q & (VCORE__EPTQ_GLA_VALID | VCORE__EPTQ_GLA_XLATE)) !=
            (VCORE__EPTQ_GLA_VALID | VCORE__EPTQ_GLA_XLATE) ||
        (exit->raw.data[3] & VCORE__INTR_VALID)) {
        vcore__vmx_internal(exit, VCORE_VMX_INTERNAL_EPT_NOT_DATA, gpa, q);
        return VCORE_OK;
    }
    vcore_x86_state_t st;
    uint64_t rip;
    err = vcore__vmx_exit_sregs(c, true, &st);
    if (!err)
        err = vcore__vmx_field_get(c, VCORE__VMX_F_RIP, &rip);
    if (err)
        return err;
    exit->raw.data[6] = rip;
    uint8_t insn[15];
    size_t got = vcore__vmx_exit_fetch(c, &st, rip, insn);
    vcore__vmx_mov_t mov;
    if (vcore__vmx_decode_mov(insn, got, vcore__vmx_code_bits(&st.sregs), &mov) != VCORE_OK ||
        mov.is_write != ((q & VCORE__EPTQ_WRITE) != 0)) {
        vcore__vmx_internal(exit, VCORE_VMX_INTERNAL_MMIO_DECODE, gpa, q);
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
        if (!mov.has_imm && mov.reg == VCORE_X86_RSP) {
            err = vcore__vmx_field_get(c, VCORE__VMX_F_RSP, &v);
            if (err)
                return err;
        }
        if (mov.high8)
            v >>= 8;
        for (uint32_t i = 0; i < mov.size; i++)
            exit->u.mmio.data[i] = (uint8_t)(v >> (8 * i));
    } else {
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
    }
    c->pending = VCORE_EXIT_MMIO;
    c->mmio_reg = mov.reg;
    c->mmio_high8 = mov.high8 ? 1u : 0u;
    c->mmio_len = mov.is_write ? 0u : mov.size;
    return VCORE_OK;
}

/* The address size of a string I/O instruction: from the instruction
 * information where IA32_VMX_BASIC[54] says it is there, else decoded. */
static int vcore__vmx_exit_io_asize(vcore__vmx_vcpu_t *c, vcore_exit_t *exit, uint32_t *asize)
{
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(c->vmobj);
    if (v->caps.basic & VCORE__VMX_BASIC_INS_OUTS_INFO) {
        uint64_t info;
        int err = vcore__vmx_field_read(VCORE_VMCS_VMX_INSTRUCTION_INFO, &info);
        if (err)
            return err;
        exit->raw.data[7] = info;
        uint32_t a = VCORE__II_ASIZE(info);
        *asize = a == 2 ? 64u : a == 1 ? 32u : 16u;
        return VCORE_OK;
    }
    vcore_x86_state_t st;
    uint64_t rip;
    int err = vcore__vmx_exit_sregs(c, true, &st);
    if (!err)
        err = vcore__vmx_field_get(c, VCORE__VMX_F_RIP, &rip);
    if (err)
        return err;
    uint8_t insn[15];
    size_t got = vcore__vmx_exit_fetch(c, &st, rip, insn);
    *asize = vcore__vmx_decode_asize(insn, got, vcore__vmx_code_bits(&st.sregs));
    return VCORE_OK;
}

/* String I/O: how many elements, where, in which direction. */
static int vcore__vmx_exit_string(vcore__vmx_vcpu_t *c, vcore_exit_t *exit, uint64_t q)
{
    uint32_t asize = 0;
    uint64_t gla, rflags, efer;
    int err = vcore__vmx_exit_io_asize(c, exit, &asize);
    if (!err)
        err = vcore__vmx_field_read(VCORE_VMCS_GUEST_LINEAR_ADDRESS, &gla);
    if (!err)
        err = vcore__vmx_field_get(c, VCORE__VMX_F_RFLAGS, &rflags);
    if (!err)
        err = vcore__vmx_field_get(c, VCORE__VMX_F_EFER, &efer);
    if (err)
        return err;
    c->io_asize = (uint8_t)asize;
    c->io_down = (rflags & VCORE__RFLAGS_DF) != 0;
    /* A 64-bit address size means 64-bit mode; 32 bits with LMA may be
     * either (67H prefix, or compatibility mode): CS.L decides. */
    c->io_long64 = asize == 64;
    if (asize == 32 && (efer & VCORE__EFER_LMA)) {
        bool long64;
        err = vcore__vmx_state_long64(c, &long64);
        if (err)
            return err;
        c->io_long64 = long64;
    }
    uint64_t mask = asize == 64 ? ~0ull : asize == 32 ? 0xffffffffull : 0xffffull;
    bool in = (q & VCORE__IOQ_IN) != 0;
    uint64_t reg = c->g.gpr[in ? VCORE_X86_RDI : VCORE_X86_RSI];
    /* The guest-linear address is that of the first element, computed by
     * the processor with the instruction's segment and address size
     * ("Guest Linear Address"): what is left after the offset register is
     * the segment base in use (0 for ES in 64-bit mode). */
    c->io_base = gla - (reg & mask);
    /* RCX (at the address size) with REP, else one; no more than the
     * buffer holds: the rest is done by re-executing the instruction. */
    uint64_t n = c->io_rep ? (c->g.gpr[VCORE_X86_RCX] & mask) : 1u;
    uint32_t max = VCORE__VMX_IO_BUF / c->io_width;
    c->io_count = (uint32_t)(n < max ? n : max);
    exit->u.io.count = c->io_count;
    if (in || !c->io_count)
        return VCORE_OK;
    vcore_x86_state_t st;
    err = vcore__vmx_exit_sregs(c, false, &st);
    if (err)
        return err;
    for (uint32_t k = 0; k < c->io_count; k++) {
        uint64_t lin = vcore__vmx_guest_elem(c, reg, k);
        if (vcore__vmx_guest_read(c->vmobj, &st.sregs, lin, c->iobuf + (size_t)k * c->io_width,
                                  c->io_width) != c->io_width) {
            vcore__vmx_internal(exit, VCORE_VMX_INTERNAL_STRING_IO, lin, q);
            return VCORE_OK;
        }
    }
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
    c->io_in = (q & VCORE__IOQ_IN) ? 1u : 0u;
    exit->reason = VCORE_EXIT_IO;
    exit->u.io.port = VCORE__IOQ_PORT(q);
    exit->u.io.width = c->io_width;
    exit->u.io.is_in = (q & VCORE__IOQ_IN) ? 1u : 0u;
    exit->u.io.data = c->iobuf;
    if (c->io_string) {
        err = vcore__vmx_exit_string(c, exit, q);
        if (err || exit->reason != VCORE_EXIT_IO)
            return err;
    } else {
        c->io_count = 1;
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

/* MOV CR, CLTS, LMSW: reported; the core checks and applies them (vcpu_cr.c). */
static int vcore__vmx_exit_cr(vcore__vmx_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t q = exit->raw.qualification;
    int err = vcore__vmx_exit_len(c, exit);
    if (err)
        return err;
    exit->reason = VCORE_EXIT_CR_ACCESS;
    exit->u.cr.cr = VCORE__CRQ_CR(q);
    exit->u.cr.type = VCORE__CRQ_TYPE(q);
    exit->u.cr.gpr = VCORE__CRQ_GPR(q);
    exit->u.cr.lmsw_source = VCORE__CRQ_LMSW(q);
    exit->u.cr.insn_len = c->instr_len;
    return VCORE_OK;
}

/* The VMX instructions and the operation each one is (x86/nvmx.h). */
static uint32_t vcore__vmx_exit_vmx_op(uint32_t basic)
{
    switch (basic) {
    case VCORE_VMX_EXIT_VMCLEAR:
        return VCORE_NVMX_VMCLEAR;
    case VCORE_VMX_EXIT_VMLAUNCH:
        return VCORE_NVMX_VMLAUNCH;
    case VCORE_VMX_EXIT_VMPTRLD:
        return VCORE_NVMX_VMPTRLD;
    case VCORE_VMX_EXIT_VMPTRST:
        return VCORE_NVMX_VMPTRST;
    case VCORE_VMX_EXIT_VMREAD:
        return VCORE_NVMX_VMREAD;
    case VCORE_VMX_EXIT_VMRESUME:
        return VCORE_NVMX_VMRESUME;
    case VCORE_VMX_EXIT_VMWRITE:
        return VCORE_NVMX_VMWRITE;
    case VCORE_VMX_EXIT_VMXOFF:
        return VCORE_NVMX_VMXOFF;
    case VCORE_VMX_EXIT_VMXON:
        return VCORE_NVMX_VMXON;
    case VCORE_VMX_EXIT_INVEPT:
        return VCORE_NVMX_INVEPT;
    case VCORE_VMX_EXIT_INVVPID:
        return VCORE_NVMX_INVVPID;
    default:
        return 0;
    }
}

/* A VMX instruction of the guest: the exit information, reported. */
static int vcore__vmx_exit_vmx_insn(vcore__vmx_vcpu_t *c, vcore_exit_t *exit, uint32_t basic)
{
    uint64_t info = 0, q = 0;
    int err = vcore__vmx_exit_len(c, exit);
    if (err)
        return err;
    /* VMLAUNCH, VMRESUME and VMXOFF have no operand: no instruction
     * information, no qualification ("VM-Exit Instruction-Information
     * Field"). The others have both, except that for a register operand
     * of VMREAD/VMWRITE the qualification (a displacement) is undefined. */
    bool operand = basic != VCORE_VMX_EXIT_VMLAUNCH && basic != VCORE_VMX_EXIT_VMRESUME &&
                   basic != VCORE_VMX_EXIT_VMXOFF;
    if (operand) {
        err = vcore__vmx_field_read(VCORE_VMCS_VMX_INSTRUCTION_INFO, &info);
        bool reg = VCORE__II_IS_REG(info) &&
                   (basic == VCORE_VMX_EXIT_VMREAD || basic == VCORE_VMX_EXIT_VMWRITE);
        if (!err && !reg)
            err = vcore__vmx_field_read(VCORE_VMCS_EXIT_QUALIFICATION, &q);
        if (err)
            return err;
    }
    exit->reason = VCORE_EXIT_VMX_INSN;
    exit->raw.qualification = q;
    exit->raw.data[7] = info;
    exit->u.vmx_insn.op = vcore__vmx_exit_vmx_op(basic);
    exit->u.vmx_insn.basic_reason = basic;
    exit->u.vmx_insn.insn_info = (uint32_t)info;
    exit->u.vmx_insn.insn_len = c->instr_len;
    exit->u.vmx_insn.qualification = q;
    return VCORE_OK;
}

bool vcore__vmx_exit_host_event(uint64_t info)
{
    uint32_t type = VCORE__INTR_TYPE(info);
    if (type == VCORE__INTR_TYPE_NMI) {
        /* A host NMI ("NMI exiting"): it was not delivered, and NMIs stay
         * blocked until an IRET. The host's handler gets it (INT 2). */
        vcore__vmx_host_nmi();
        return true;
    }
    if (type == VCORE__INTR_TYPE_HW_EXC && VCORE__INTR_VECTOR(info) == VCORE__VEC_MC) {
        /* A machine check is the platform's, not the guest's ("Machine-Check
         * Considerations"): the host's handler. */
        vcore__vmx_host_mc();
        return true;
    }
    return false;
}

/* Exception or NMI (basic reason 0). */
static int vcore__vmx_exit_exception(vcore__vmx_vcpu_t *c, vcore_exit_t *exit, bool *again)
{
    uint64_t info, code = 0;
    int err = vcore__vmx_field_read(VCORE_VMCS_VM_EXIT_INTR_INFO, &info);
    if (!err && (info & VCORE__INTR_HAS_ERR))
        err = vcore__vmx_field_read(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE, &code);
    if (err)
        return err;
    exit->raw.data[1] = info;
    exit->raw.data[2] = code;
    uint8_t vec = VCORE__INTR_VECTOR(info);
    if (vcore__vmx_exit_host_event(info)) {
        *again = true; /* the guest goes on as if nothing happened */
        return VCORE_OK;
    }
    if (vec == VCORE__VEC_DB || vec == VCORE__VEC_PF) {
        /* #DB: the DR6 bits; #PF: the faulting address ("Exit Qualification
         * for Debug Exceptions" / page-fault exceptions). */
        err = vcore__vmx_field_read(VCORE_VMCS_EXIT_QUALIFICATION, &exit->raw.qualification);
        if (err)
            return err;
    }
    uint64_t q = exit->raw.qualification;
    if (vec == VCORE__VEC_DB || vec == VCORE__VEC_BP) {
        uint64_t rip, dr7;
        err = vcore__vmx_field_get(c, VCORE__VMX_F_RIP, &rip);
        if (!err)
            err = vcore__vmx_field_get(c, VCORE__VMX_F_DR7, &dr7);
        if (err)
            return err;
        exit->reason = VCORE_EXIT_DEBUG;
        exit->u.debug.exception = vec;
        exit->u.debug.pc = rip;
        /* DR6 itself is not updated by a #DB that exits. */
        exit->u.debug.dr6 = vec == VCORE__VEC_DB ? (q | VCORE__DR6_FIXED1) : 0;
        exit->u.debug.dr7 = dr7;
        exit->raw.data[6] = rip;
        return VCORE_OK;
    }
    exit->reason = VCORE_EXIT_EXCEPTION;
    exit->u.exception.vector = vec;
    exit->u.exception.has_error_code = (info & VCORE__INTR_HAS_ERR) ? 1u : 0u;
    exit->u.exception.error_code = (uint32_t)code;
    exit->u.exception.cr2 = vec == VCORE__VEC_PF ? q : 0;
    return VCORE_OK;
}

int vcore__vmx_exit_decode(vcore__vmx_vcpu_t *c, vcore_exit_t *exit, uint32_t reason, bool *again)
{
    uint64_t v;
    int err;
    *again = false;
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->flags = 0;
    exit->raw.source = VCORE_EXIT_SRC_VMX;
    exit->raw.reason = reason;
    exit->reason = VCORE_EXIT_RAW;
    c->pending = 0;
    bool failed = (reason & VCORE__EXIT_REASON_FAILED_ENTRY) != 0;
    uint32_t basic = VCORE_VMX_EXIT_REASON_BASIC(reason);
    vcore__vmx_events_exited(c, failed);
    if (failed || vcore__vmx_exit_has_qual(basic)) {
        err = vcore__vmx_field_read(VCORE_VMCS_EXIT_QUALIFICATION, &exit->raw.qualification);
        if (err)
            return err;
    }
    if (failed) {
        /* SDM Vol. 3, "VM-Entry Failures During or After Loading Guest
         * State": reason 33 (guest state), 34 (MSR loading, qualification
         * = entry index + 1) or 41 (a machine check during entry, which is
         * the host's), with bit 31 set. */
        if (basic == VCORE_VMX_EXIT_ENTRY_FAIL_MACHINE_CHECK)
            vcore__vmx_host_mc();
        exit->reason = VCORE_EXIT_FAIL_ENTRY;
        exit->u.fail_entry.hw_reason = reason;
        exit->u.fail_entry.qualification = exit->raw.qualification;
        return VCORE_OK;
    }
    if (vcore__vmx_exit_in_delivery(basic)) {
        err = vcore__vmx_events_idt_vectoring(c, exit);
        if (err)
            return err;
    }
    switch (basic) {
    case VCORE_VMX_EXIT_EXCEPTION_NMI:
        return vcore__vmx_exit_exception(c, exit, again);
    case VCORE_VMX_EXIT_EXTERNAL_INTERRUPT:
        exit->reason = VCORE_EXIT_INTERRUPTED;
        return VCORE_OK;
    case VCORE_VMX_EXIT_TRIPLE_FAULT:
        exit->reason = VCORE_EXIT_SHUTDOWN;
        return VCORE_OK;
    case VCORE_VMX_EXIT_INIT:
        exit->reason = VCORE_EXIT_INIT;
        return VCORE_OK;
    case VCORE_VMX_EXIT_INTERRUPT_WINDOW:
        /* The window is open: the request is done (one-shot). */
        c->ev.request_interrupt_window = 0;
        exit->reason = VCORE_EXIT_IRQ_WINDOW;
        return VCORE_OK;
    case VCORE_VMX_EXIT_NMI_WINDOW:
        c->ev.request_nmi_window = 0;
        exit->reason = VCORE_EXIT_NMI_WINDOW;
        return VCORE_OK;
    case VCORE_VMX_EXIT_CPUID:
        err = vcore__vmx_exit_len(c, exit);
        if (err)
            return err;
        exit->reason = VCORE_EXIT_CPUID;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.cpuid.function = (uint32_t)c->g.gpr[VCORE_X86_RAX];
        exit->u.cpuid.index = (uint32_t)c->g.gpr[VCORE_X86_RCX];
        c->pending = VCORE_EXIT_CPUID;
        return VCORE_OK;
    case VCORE_VMX_EXIT_HLT:
        err = vcore__vmx_exit_len(c, exit);
        if (err)
            return err;
        exit->reason = VCORE_EXIT_HLT;
        c->pending = VCORE_EXIT_HLT; /* the next run resumes after the HLT */
        return VCORE_OK;
    case VCORE_VMX_EXIT_VMCALL: {
        bool long64;
        err = vcore__vmx_exit_len(c, exit);
        if (!err)
            err = vcore__vmx_state_long64(c, &long64);
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
        exit->u.hypercall.longmode = long64 ? 1u : 0u;
        exit->u.hypercall.insn_len = (uint8_t)c->instr_len;
        c->pending = VCORE_EXIT_HYPERCALL;
        return VCORE_OK;
    }
    case VCORE_VMX_EXIT_VMCLEAR:
    case VCORE_VMX_EXIT_VMLAUNCH:
    case VCORE_VMX_EXIT_VMPTRLD:
    case VCORE_VMX_EXIT_VMPTRST:
    case VCORE_VMX_EXIT_VMREAD:
    case VCORE_VMX_EXIT_VMRESUME:
    case VCORE_VMX_EXIT_VMWRITE:
    case VCORE_VMX_EXIT_VMXOFF:
    case VCORE_VMX_EXIT_VMXON:
    case VCORE_VMX_EXIT_INVEPT:
    case VCORE_VMX_EXIT_INVVPID:
        return vcore__vmx_exit_vmx_insn(c, exit, basic);
    case VCORE_VMX_EXIT_CR_ACCESS:
        return vcore__vmx_exit_cr(c, exit);
    case VCORE_VMX_EXIT_IO_INSTRUCTION:
        return vcore__vmx_exit_io(c, exit);
    case VCORE_VMX_EXIT_RDMSR:
    case VCORE_VMX_EXIT_WRMSR:
        err = vcore__vmx_exit_len(c, exit);
        if (err)
            return err;
        exit->reason = basic == VCORE_VMX_EXIT_RDMSR ? VCORE_EXIT_RDMSR : VCORE_EXIT_WRMSR;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.msr.index = (uint32_t)c->g.gpr[VCORE_X86_RCX];
        if (basic == VCORE_VMX_EXIT_WRMSR)
            exit->u.msr.value = (c->g.gpr[VCORE_X86_RDX] << 32) | (uint32_t)c->g.gpr[VCORE_X86_RAX];
        exit->u.msr.why = basic;
        c->pending = exit->reason;
        return VCORE_OK;
    case VCORE_VMX_EXIT_EPT_VIOLATION:
        return vcore__vmx_exit_ept(c, exit);
    case VCORE_VMX_EXIT_EPT_MISCONFIG:
        err = vcore__vmx_field_read(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, &v);
        if (err)
            return err;
        exit->raw.data[5] = v;
        vcore__vmx_internal(exit, VCORE_VMX_INTERNAL_EPT_MISCONFIG, v, 0);
        return VCORE_OK;
    default:
        return VCORE_OK; /* VCORE_EXIT_RAW: the reason and its qualification */
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

/* String I/O done: the elements of an IN go to memory, RSI/RDI and RCX
 * move by what was done; the instruction completes when the count is done. */
static int vcore__vmx_exit_string_done(vcore__vmx_vcpu_t *c, bool in)
{
    unsigned idx = in ? VCORE_X86_RDI : VCORE_X86_RSI;
    uint64_t reg = c->g.gpr[idx];
    if (in && c->io_count) {
        vcore_x86_state_t st;
        int err = vcore__vmx_exit_sregs(c, false, &st);
        if (err)
            return err;
        for (uint32_t k = 0; k < c->io_count; k++) {
            err = vcore__vmx_guest_write(c->vmobj, &st.sregs, vcore__vmx_guest_elem(c, reg, k),
                                         c->iobuf + (size_t)k * c->io_width, c->io_width);
            if (err)
                return err;
        }
    }
    uint64_t bytes = (uint64_t)c->io_count * c->io_width;
    c->g.gpr[idx] = vcore__x86_str_step(reg, c->io_down ? (uint64_t)0 - bytes : bytes, c->io_asize);
    if (c->io_rep) {
        uint64_t mask = c->io_asize == 64 ? ~0ull : c->io_asize == 32 ? 0xffffffffull : 0xffffull;
        uint64_t rcx = vcore__x86_str_step(c->g.gpr[VCORE_X86_RCX], (uint64_t)0 - c->io_count,
                                             c->io_asize);
        c->g.gpr[VCORE_X86_RCX] = rcx;
        if (rcx & mask)
            return VCORE_OK; /* re-executed for the rest */
    }
    return vcore__vmx_state_skip(c);
}

int vcore__vmx_exit_complete(vcore__vmx_vcpu_t *c, const vcore_exit_t *exit)
{
    uint32_t pending = c->pending;
    if (!pending)
        return VCORE_OK;
    /* A reply must belong to the exit being answered (exit.h); exits
     * without a reply (HLT, OUT, MMIO write) complete anyway. */
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
        /* A faulting call (the core raised #UD through the event state)
         * leaves RAX and RIP as they were (exit.h, u.hypercall.fault). */
        if (exit->u.hypercall.fault)
            return VCORE_OK;
        c->g.gpr[VCORE_X86_RAX] = exit->u.hypercall.ret;
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_RDMSR:
    case VCORE_EXIT_WRMSR:
        /* A refused access does not complete: the core raises #GP(0)
         * through the event state (SDM Vol. 2, "RDMSR", "WRMSR"). */
        if (exit->u.msr.error)
            return VCORE_OK;
        if (pending == VCORE_EXIT_RDMSR) {
            c->g.gpr[VCORE_X86_RAX] = (uint32_t)exit->u.msr.value;
            c->g.gpr[VCORE_X86_RDX] = exit->u.msr.value >> 32;
        }
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_MMIO:
        if (c->mmio_len) {
            uint8_t data[8];
            vcore__memcpy(data, exit->u.mmio.data, sizeof(data)); /* copy the reply once */
            vcore__vmx_put_reg(c, c->mmio_reg, c->mmio_high8 != 0, c->mmio_len, data);
        }
        return vcore__vmx_state_skip(c);
    case VCORE_EXIT_IO:
        if (c->io_string)
            return vcore__vmx_exit_string_done(c, c->io_in != 0);
        if (c->io_in)
            vcore__vmx_put_reg(c, VCORE_X86_RAX, false, c->io_width, c->iobuf);
        return vcore__vmx_state_skip(c);
    default:
        return VCORE_OK;
    }
}
