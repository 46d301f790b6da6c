/*
 * arm64_exit.c - what an exit to EL2 means for the VMM, the completion of
 * the instruction that caused it, and exceptions raised in the guest.
 *
 * An EL1 guest takes its own exceptions at EL1 (HCR_EL2.TGE = 0); EL2 sees
 * only what HCR_EL2 traps and stage-2 aborts (Arm ARM, "Routing of
 * synchronous exceptions"). The exits (ESR_EL2.EC):
 *   0x16 HVC            VCORE_EXIT_HYPERCALL: nr = imm16, args = X0..X5,
 *                       reply ret -> X0. PC is already past the HVC.
 *   0x17 SMC (TSC)      PSCI SYSTEM_OFF -> VCORE_EXIT_SYSTEM_EVENT type 1
 *                       (shutdown); SYSTEM_RESET, SYSTEM_RESET2 -> type 2
 *                       (reset); data = W0, X1, X2. Every other SMC ->
 *                       VCORE_EXIT_HYPERCALL as for HVC (X0 holds the SMC
 *                       Calling Convention function identifier).
 *   0x01 WFI/WFE        VCORE_EXIT_HLT (ESR_EL2.ISS.TI says which).
 *   0x18 MSR/MRS/SYS    MRS -> VCORE_EXIT_RDMSR, MSR -> VCORE_EXIT_WRMSR with
 *                       u.msr.index = the register's encoding op0:op1:CRn:
 *                       CRm:op2 packed as bits [15:14][13:11][10:7][6:3][2:0];
 *                       reply: the value read, or error = 1: the instruction
 *                       is UNDEFINED and the guest takes the exception at EL1.
 *   0x20/0x24 aborts    vcore_arm64_abort_decode(): VCORE_EXIT_MMIO (read with
 *                       a reply written into the register, write) or
 *                       VCORE_EXIT_STAGE2_FAULT; AT S1E1R/W gives the IPA
 *                       when HPFAR_EL2 holds none.
 *   IRQ/FIQ             VCORE_EXIT_INTERRUPTED: a physical interrupt for
 *                       the host (HCR_EL2.IMO/FMO) is pending at EL2.
 *   anything else       VCORE_EXIT_RAW.
 * Trapped instructions (SMC, WFx, MSR/MRS, MMIO loads and stores) are
 * complete when the exit is reported: PC points past them, as after an
 * HVC; only the reply's register write waits for the next run (it is
 * applied after any register write of the VMM, which can so return more
 * than X0 from a call; vcore_vcpu_reset() cancels it). raw keeps
 * ESR_EL2 (qualification), EC (reason), FAR_EL2, HPFAR_EL2, PAR_EL1 (0
 * unless AT ran), the vector's exception type, ELR_EL2 and SPSR_EL2 in
 * data[0..5].
 */
#include "arm64_el2.h"

/* raw.data words of an arm64 exit (the abort decode fills 0..2). */
#define VCORE__A64_RAW_FAR 0
#define VCORE__A64_RAW_HPFAR 1
#define VCORE__A64_RAW_PAR 2
#define VCORE__A64_RAW_KIND 3
#define VCORE__A64_RAW_ELR 4
#define VCORE__A64_RAW_SPSR 5

/* PSTATE bits an exception entry keeps or sets ("AArch64.TakeException"). */
#define VCORE__PSTATE_NZCV (0xfull << 28) /* kept */
#define VCORE__PSTATE_DIT VCORE__A64_BIT(24) /* kept */
#define VCORE__PSTATE_PAN VCORE__A64_BIT(22) /* set when SCTLR_EL1.SPAN is 0 (FEAT_PAN) */
#define VCORE__SCTLR_SPAN VCORE__A64_BIT(23)
#define VCORE__MMFR1_PAN_SHIFT 20 /* ID_AA64MMFR1_EL1.PAN[23:20]: FEAT_PAN when non-zero */
/* Vector offsets from VBAR_EL1 ("Exception vectors"): synchronous
 * exception from the current EL with SP_EL0, with SP_EL1, from EL0. */
#define VCORE__VECTOR_CUR_SP0 0x000u
#define VCORE__VECTOR_CUR_SPX 0x200u
#define VCORE__VECTOR_LOWER_A64 0x400u
/* ESR_EL1 of an UNDEFINED instruction: EC 0 (Unknown reason), IL = 1. */
#define VCORE__ESR_UNDEF VCORE__ESR_IL

void vcore__arm64_exit_raise_el1(vcore__arm64_vcpu_t *c, uint64_t esr, uint64_t ret_pc)
{
    uint64_t old = c->g.pstate;
    uint64_t mode = old & VCORE_ARM64_PSTATE_M_MASK;
    uint64_t offset = mode == VCORE_ARM64_PSTATE_M_EL1H   ? VCORE__VECTOR_CUR_SPX
                      : mode == VCORE_ARM64_PSTATE_M_EL1T ? VCORE__VECTOR_CUR_SP0
                                                          : VCORE__VECTOR_LOWER_A64;
    uint64_t pstate = (old & (VCORE__PSTATE_NZCV | VCORE__PSTATE_DIT)) | VCORE_ARM64_PSTATE_DAIF |
                      VCORE_ARM64_PSTATE_M_EL1H;
    if (VCORE__A64_FIELD(c->vm->mmfr1, VCORE__MMFR1_PAN_SHIFT, 4) != 0) {
        if (!(c->el1.sctlr & VCORE__SCTLR_SPAN))
            pstate |= VCORE__PSTATE_PAN;
        else
            pstate |= old & VCORE__PSTATE_PAN;
    }
    c->el1.spsr = old;
    c->el1.elr = ret_pc;
    c->el1.esr = esr;
    c->g.pstate = pstate;
    c->g.pc = c->el1.vbar + offset;
}

/* Fills raw with what the hardware reported (keeps what the abort decode wrote). */
static void vcore__arm64_exit_raw(const vcore__arm64_vcpu_t *c, uint64_t kind, uint64_t elr,
                                  uint64_t spsr, vcore_exit_t *exit)
{
    exit->raw.source = VCORE_EXIT_SRC_ARM64;
    exit->raw.qualification = c->g.esr;
    exit->raw.reason = kind == VCORE__ARM64_EXIT_SYNC
                           ? (uint32_t)VCORE__A64_FIELD(c->g.esr, VCORE__ESR_EC_SHIFT, VCORE__ESR_EC_WIDTH)
                           : 0u;
    exit->raw.data[VCORE__A64_RAW_FAR] = c->g.far;
    exit->raw.data[VCORE__A64_RAW_HPFAR] = c->g.hpfar;
    exit->raw.data[VCORE__A64_RAW_KIND] = kind;
    exit->raw.data[VCORE__A64_RAW_ELR] = elr;
    exit->raw.data[VCORE__A64_RAW_SPSR] = spsr;
}

static void vcore__arm64_exit_args(const vcore__arm64_vcpu_t *c, vcore_exit_t *exit)
{
    exit->reason = VCORE_EXIT_HYPERCALL;
    exit->u.hypercall.nr = c->g.esr & VCORE__ISS_IMM16_MASK;
    vcore__memcpy(exit->u.hypercall.args, c->g.x, sizeof(exit->u.hypercall.args)); /* X0..X5 */
    exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
}

/* SMC: PSCI system power calls are system events; other calls are hypercalls. */
static void vcore__arm64_exit_smc(vcore__arm64_vcpu_t *c, vcore_exit_t *exit)
{
    uint32_t fid = (uint32_t)c->g.x[0];
    uint32_t type = 0;
    if (fid == VCORE__PSCI_SYSTEM_OFF)
        type = 1; /* shutdown */
    else if (fid == VCORE__PSCI_SYSTEM_RESET || fid == VCORE__PSCI_SYSTEM_RESET2_32 ||
             fid == VCORE__PSCI_SYSTEM_RESET2_64)
        type = 2; /* reset */
    if (!type) {
        vcore__arm64_exit_args(c, exit);
        c->pending.reason = VCORE_EXIT_HYPERCALL;
        return;
    }
    exit->reason = VCORE_EXIT_SYSTEM_EVENT;
    exit->u.system_event.type = type;
    exit->u.system_event.ndata = 3;
    exit->u.system_event.data[0] = fid;
    exit->u.system_event.data[1] = c->g.x[1];
    exit->u.system_event.data[2] = c->g.x[2];
}

/* MRS / MSR / SYS trapped: the register encoding and the data register. */
static void vcore__arm64_exit_sysreg(vcore__arm64_vcpu_t *c, vcore_exit_t *exit)
{
    uint64_t iss = c->g.esr;
    uint32_t op0 = (uint32_t)VCORE__A64_FIELD(iss, VCORE__ISS_SYS_OP0_SHIFT, 2);
    uint32_t op2 = (uint32_t)VCORE__A64_FIELD(iss, VCORE__ISS_SYS_OP2_SHIFT, 3);
    uint32_t op1 = (uint32_t)VCORE__A64_FIELD(iss, VCORE__ISS_SYS_OP1_SHIFT, 3);
    uint32_t crn = (uint32_t)VCORE__A64_FIELD(iss, VCORE__ISS_SYS_CRN_SHIFT, 4);
    uint32_t rt = (uint32_t)VCORE__A64_FIELD(iss, VCORE__ISS_SYS_RT_SHIFT, 5);
    uint32_t crm = (uint32_t)VCORE__A64_FIELD(iss, VCORE__ISS_SYS_CRM_SHIFT, 4);
    exit->u.msr.index = op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2;
    if (iss & VCORE__ISS_SYS_READ) {
        exit->reason = VCORE_EXIT_RDMSR;
    } else {
        exit->reason = VCORE_EXIT_WRMSR;
        /* Register 31 is XZR. */
        exit->u.msr.value = rt < 31u ? c->g.x[rt] : 0;
    }
    exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
    c->pending.reason = exit->reason;
    c->pending.rt = rt;
}

/* A data or instruction abort through the core's decode. */
static int vcore__arm64_exit_abort(vcore__arm64_vcpu_t *c, vcore_exit_t *exit)
{
    vcore_arm64_abort_t a;
    vcore__memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.esr = c->g.esr;
    a.far = c->g.far;
    a.hpfar = c->g.hpfar;
    if (vcore_arm64_abort_needs_at(a.esr)) {
        /* The guest's EL1 registers are still live: stage 1 as the guest sees it. */
        a.par = vcore__arm64_prim_at_s1e1(a.far, (a.esr & VCORE__ESR_WNR) != 0);
        a.par_valid = true;
    }
    a.x = c->g.x;
    a.is_ram = vcore__arm64_vm_is_ram;
    a.ctx = c->vm;
    int err = vcore_arm64_abort_decode(&a, exit, NULL);
    if (err)
        return err;
    if (exit->reason == VCORE_EXIT_MMIO) {
        /* The load or store is emulated: the guest resumes after it. */
        c->g.pc += 4;
        if (!exit->u.mmio.is_write) {
            c->pending.reason = VCORE_EXIT_MMIO;
            c->pending.mmio = *exit;
        }
    }
    return VCORE_OK;
}

int vcore__arm64_exit_decode(vcore__arm64_vcpu_t *c, uint64_t kind, vcore_exit_t *exit)
{
    uint64_t elr = c->g.pc, spsr = c->g.pstate;
    vcore__memset(&exit->reason, 0, sizeof(*exit) - offsetof(vcore_exit_t, reason));
    c->pending.reason = 0;
    c->pending.insn_pc = elr;
    int err = VCORE_OK;
    if (kind == VCORE__ARM64_EXIT_IRQ || kind == VCORE__ARM64_EXIT_FIQ) {
        exit->reason = VCORE_EXIT_INTERRUPTED;
    } else if (kind != VCORE__ARM64_EXIT_SYNC) {
        exit->reason = VCORE_EXIT_RAW; /* SError: ESR_EL2 holds its syndrome */
    } else {
        switch (VCORE__A64_FIELD(c->g.esr, VCORE__ESR_EC_SHIFT, VCORE__ESR_EC_WIDTH)) {
        case VCORE__EC_HVC64:
            vcore__arm64_exit_args(c, exit);
            c->pending.reason = VCORE_EXIT_HYPERCALL;
            break;
        case VCORE__EC_SMC64:
            /* A trapped SMC returns to itself ("Preferred exception return
             * address"): the backend completes it. */
            c->g.pc += 4;
            vcore__arm64_exit_smc(c, exit);
            break;
        case VCORE__EC_WFX:
            c->g.pc += 4;
            exit->reason = VCORE_EXIT_HLT;
            break;
        case VCORE__EC_SYS64:
            c->g.pc += 4;
            vcore__arm64_exit_sysreg(c, exit);
            break;
        case VCORE__ESR_EC_DABT_LOW:
        case VCORE__ESR_EC_IABT_LOW:
            err = vcore__arm64_exit_abort(c, exit);
            break;
        default:
            exit->reason = VCORE_EXIT_RAW;
            break;
        }
    }
    if (err)
        return err;
    vcore__arm64_exit_raw(c, kind, elr, spsr, exit);
    return VCORE_OK;
}

void vcore__arm64_exit_complete(vcore__arm64_vcpu_t *c, const vcore_exit_t *exit)
{
    vcore__arm64_pending_t *p = &c->pending;
    uint32_t reason = p->reason;
    p->reason = 0;
    /* A structure of another reason is not a reply to this exit. */
    if (!reason || exit->reason != reason)
        return;
    switch (reason) {
    case VCORE_EXIT_HYPERCALL:
        c->g.x[0] = exit->u.hypercall.ret;
        break;
    case VCORE_EXIT_MMIO: {
        /* Register, size and extension come from the backend's own decode;
         * only the data comes from the VMM. */
        vcore_exit_t done = p->mmio;
        vcore__memcpy(done.u.mmio.data, exit->u.mmio.data, sizeof(done.u.mmio.data));
        /* Cannot be refused: `done` is the decode's own MMIO read. */
        int rc = vcore_arm64_mmio_complete(&done, c->g.x, NULL);
        (void)rc;
        break;
    }
    case VCORE_EXIT_RDMSR:
        if (exit->u.msr.error)
            vcore__arm64_exit_raise_el1(c, VCORE__ESR_UNDEF, p->insn_pc);
        else if (p->rt < 31u)
            c->g.x[p->rt] = exit->u.msr.value;
        break;
    case VCORE_EXIT_WRMSR:
        if (exit->u.msr.error)
            vcore__arm64_exit_raise_el1(c, VCORE__ESR_UNDEF, p->insn_pc);
        break;
    default:
        break;
    }
}
