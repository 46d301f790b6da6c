/*
 * arm64_prim.c - the EL2 primitives (see arm64_prim.h): system-register
 * access, the world switch, TLB maintenance with its barriers, AT.
 *
 * The only file of the backend with instructions in it; everything here is
 * one instruction or one architectural sequence. AArch64 at EL2 with
 * HCR_EL2.E2H = 0 (the probe refuses a VHE host), the host on SP_EL2, and a
 * host built without FP/SIMD code (-mgeneral-regs-only): the guest's
 * FP/SIMD registers stay in the PE from el1_load to el1_save.
 */
#include "arm64_prim.h"

#if !defined(__aarch64__)
#error "arm64_prim.c holds AArch64 instructions; host tests link tests/unit/arm64_fake.c instead"
#endif

/* The assembly below addresses vcore__arm64_gprs_t with fixed offsets. */
typedef char vcore__arm64_gprs_layout[(offsetof(vcore__arm64_gprs_t, pc) == VCORE__ARM64_GPRS_OFF_PC &&
                                       offsetof(vcore__arm64_gprs_t, pstate) == VCORE__ARM64_GPRS_OFF_PSTATE &&
                                       offsetof(vcore__arm64_gprs_t, esr) == VCORE__ARM64_GPRS_OFF_ESR &&
                                       offsetof(vcore__arm64_gprs_t, far) == VCORE__ARM64_GPRS_OFF_FAR &&
                                       offsetof(vcore__arm64_gprs_t, hpfar) == VCORE__ARM64_GPRS_OFF_HPFAR &&
                                       offsetof(vcore__arm64_gprs_t, host) == VCORE__ARM64_GPRS_OFF_HOST)
                                          ? 1
                                          : -1];

#define A64_MRS(reg) ({ uint64_t v_; __asm__ volatile("mrs %0, " #reg : "=r"(v_)); v_; })
#define A64_MSR(reg, v) __asm__ volatile("msr " #reg ", %0" : : "r"((uint64_t)(v)) : "memory")
#define A64_ISB() __asm__ volatile("isb" ::: "memory")

/* Helpers of el1_load / el1_save: V0..V31 from / to 512 bytes. */
void vcore__arm64_prim_fp_load(const uint64_t *q);
void vcore__arm64_prim_fp_save(uint64_t *q);

/*
 * Guest entry and the EL2 vector table. Exceptions from the guest (lower EL,
 * AArch64) come back through TPIDR_EL2, which holds the gprs block of the
 * current entry. An exception taken at EL2 while this table is installed
 * can only come from a bug in the entry or exit sequence (interrupts are
 * masked): the PE stops there.
 */
__asm__(
    ".pushsection .text\n"
    ".global vcore__arm64_prim_enter\n"
    ".type vcore__arm64_prim_enter, %function\n"
    "vcore__arm64_prim_enter:\n"
    "    stp x19, x20, [x0, #288]\n"
    "    stp x21, x22, [x0, #304]\n"
    "    stp x23, x24, [x0, #320]\n"
    "    stp x25, x26, [x0, #336]\n"
    "    stp x27, x28, [x0, #352]\n"
    "    stp x29, x30, [x0, #368]\n"
    "    mov x2, sp\n"
    "    mrs x3, vbar_el2\n"
    "    stp x2, x3, [x0, #384]\n"
    "    mrs x2, daif\n"
    "    mrs x3, tpidr_el2\n"
    "    stp x2, x3, [x0, #400]\n"
    "    msr daifset, #0xf\n"
    "    adr x2, vcore__arm64_prim_vectors\n"
    "    msr vbar_el2, x2\n"
    "    msr tpidr_el2, x0\n"
    "    ldr x2, [x0, #248]\n"
    "    msr elr_el2, x2\n"
    "    ldr x2, [x0, #256]\n"
    "    msr spsr_el2, x2\n"
    "    isb\n"
    /* Stage-2 table writes must be visible to the walker before the guest runs. */
    "    dsb ish\n"
    "    ldp x2, x3, [x0, #16]\n"
    "    ldp x4, x5, [x0, #32]\n"
    "    ldp x6, x7, [x0, #48]\n"
    "    ldp x8, x9, [x0, #64]\n"
    "    ldp x10, x11, [x0, #80]\n"
    "    ldp x12, x13, [x0, #96]\n"
    "    ldp x14, x15, [x0, #112]\n"
    "    ldp x16, x17, [x0, #128]\n"
    "    ldp x18, x19, [x0, #144]\n"
    "    ldp x20, x21, [x0, #160]\n"
    "    ldp x22, x23, [x0, #176]\n"
    "    ldp x24, x25, [x0, #192]\n"
    "    ldp x26, x27, [x0, #208]\n"
    "    ldp x28, x29, [x0, #224]\n"
    "    ldr x30, [x0, #240]\n"
    "    ldr x1, [x0, #8]\n"
    "    ldr x0, [x0, #0]\n"
    "    eret\n"
    "    .size vcore__arm64_prim_enter, . - vcore__arm64_prim_enter\n"
    /* x1 = exit kind; the guest's X0/X1 are on the EL2 stack. */
    "vcore__arm64_prim_exit:\n"
    "    mrs x0, tpidr_el2\n"
    "    stp x2, x3, [x0, #16]\n"
    "    stp x4, x5, [x0, #32]\n"
    "    stp x6, x7, [x0, #48]\n"
    "    stp x8, x9, [x0, #64]\n"
    "    stp x10, x11, [x0, #80]\n"
    "    stp x12, x13, [x0, #96]\n"
    "    stp x14, x15, [x0, #112]\n"
    "    stp x16, x17, [x0, #128]\n"
    "    stp x18, x19, [x0, #144]\n"
    "    stp x20, x21, [x0, #160]\n"
    "    stp x22, x23, [x0, #176]\n"
    "    stp x24, x25, [x0, #192]\n"
    "    stp x26, x27, [x0, #208]\n"
    "    stp x28, x29, [x0, #224]\n"
    "    str x30, [x0, #240]\n"
    "    ldp x2, x3, [sp], #16\n"
    "    stp x2, x3, [x0, #0]\n"
    "    mrs x2, elr_el2\n"
    "    mrs x3, spsr_el2\n"
    "    stp x2, x3, [x0, #248]\n"
    "    mrs x2, esr_el2\n"
    "    mrs x3, far_el2\n"
    "    stp x2, x3, [x0, #264]\n"
    "    mrs x2, hpfar_el2\n"
    "    str x2, [x0, #280]\n"
    "    ldp x19, x20, [x0, #288]\n"
    "    ldp x21, x22, [x0, #304]\n"
    "    ldp x23, x24, [x0, #320]\n"
    "    ldp x25, x26, [x0, #336]\n"
    "    ldp x27, x28, [x0, #352]\n"
    "    ldp x29, x30, [x0, #368]\n"
    "    ldp x2, x3, [x0, #384]\n"
    "    mov sp, x2\n"
    "    msr vbar_el2, x3\n"
    "    ldp x2, x3, [x0, #400]\n"
    "    msr tpidr_el2, x3\n"
    "    isb\n"
    "    msr daif, x2\n"
    "    mov x0, x1\n"
    "    ret\n"
    ".macro vcore__a64_stop\n"
    "    .balign 0x80\n"
    "1:  wfe\n"
    "    b 1b\n"
    ".endm\n"
    ".macro vcore__a64_guest kind\n"
    "    .balign 0x80\n"
    "    stp x0, x1, [sp, #-16]!\n"
    "    mov x1, #\\kind\n"
    "    b vcore__arm64_prim_exit\n"
    ".endm\n"
    "    .balign 0x800\n"
    "vcore__arm64_prim_vectors:\n"
    "    vcore__a64_stop\n" /* current EL with SP_EL0: sync, IRQ, FIQ, SError */
    "    vcore__a64_stop\n"
    "    vcore__a64_stop\n"
    "    vcore__a64_stop\n"
    "    vcore__a64_stop\n" /* current EL with SP_ELx */
    "    vcore__a64_stop\n"
    "    vcore__a64_stop\n"
    "    vcore__a64_stop\n"
    "    vcore__a64_guest 0\n" /* lower EL using AArch64 */
    "    vcore__a64_guest 1\n"
    "    vcore__a64_guest 2\n"
    "    vcore__a64_guest 3\n"
    "    vcore__a64_stop\n" /* lower EL using AArch32 (HCR_EL2.RW = 1: never) */
    "    vcore__a64_stop\n"
    "    vcore__a64_stop\n"
    "    vcore__a64_stop\n"
    "    .balign 4\n"
    ".global vcore__arm64_prim_fp_load\n"
    ".type vcore__arm64_prim_fp_load, %function\n"
    "vcore__arm64_prim_fp_load:\n"
    "    ldp q0, q1, [x0, #0]\n"
    "    ldp q2, q3, [x0, #32]\n"
    "    ldp q4, q5, [x0, #64]\n"
    "    ldp q6, q7, [x0, #96]\n"
    "    ldp q8, q9, [x0, #128]\n"
    "    ldp q10, q11, [x0, #160]\n"
    "    ldp q12, q13, [x0, #192]\n"
    "    ldp q14, q15, [x0, #224]\n"
    "    ldp q16, q17, [x0, #256]\n"
    "    ldp q18, q19, [x0, #288]\n"
    "    ldp q20, q21, [x0, #320]\n"
    "    ldp q22, q23, [x0, #352]\n"
    "    ldp q24, q25, [x0, #384]\n"
    "    ldp q26, q27, [x0, #416]\n"
    "    ldp q28, q29, [x0, #448]\n"
    "    ldp q30, q31, [x0, #480]\n"
    "    ret\n"
    ".global vcore__arm64_prim_fp_save\n"
    ".type vcore__arm64_prim_fp_save, %function\n"
    "vcore__arm64_prim_fp_save:\n"
    "    stp q0, q1, [x0, #0]\n"
    "    stp q2, q3, [x0, #32]\n"
    "    stp q4, q5, [x0, #64]\n"
    "    stp q6, q7, [x0, #96]\n"
    "    stp q8, q9, [x0, #128]\n"
    "    stp q10, q11, [x0, #160]\n"
    "    stp q12, q13, [x0, #192]\n"
    "    stp q14, q15, [x0, #224]\n"
    "    stp q16, q17, [x0, #256]\n"
    "    stp q18, q19, [x0, #288]\n"
    "    stp q20, q21, [x0, #320]\n"
    "    stp q22, q23, [x0, #352]\n"
    "    stp q24, q25, [x0, #384]\n"
    "    stp q26, q27, [x0, #416]\n"
    "    stp q28, q29, [x0, #448]\n"
    "    stp q30, q31, [x0, #480]\n"
    "    ret\n"
    ".popsection\n");

uint64_t vcore__arm64_prim_current_el(void) { return (A64_MRS(CurrentEL) >> 2) & 3u; }
uint64_t vcore__arm64_prim_read_mmfr0(void) { return A64_MRS(ID_AA64MMFR0_EL1); }
uint64_t vcore__arm64_prim_read_mmfr1(void) { return A64_MRS(ID_AA64MMFR1_EL1); }
uint64_t vcore__arm64_prim_read_hcr(void) { return A64_MRS(HCR_EL2); }
uint64_t vcore__arm64_prim_read_vttbr(void) { return A64_MRS(VTTBR_EL2); }

/* Changed EL2 controls take effect for the guest after an ISB (Arm ARM,
 * "Synchronization requirements for AArch64 System registers"). */
void vcore__arm64_prim_el2_load(const vcore__arm64_el2_t *c)
{
    A64_MSR(HCR_EL2, c->hcr);
    A64_MSR(VTCR_EL2, c->vtcr);
    A64_MSR(VTTBR_EL2, c->vttbr);
    A64_MSR(VMPIDR_EL2, c->vmpidr);
    A64_MSR(CNTVOFF_EL2, c->cntvoff);
    A64_MSR(CNTHCTL_EL2, c->cnthctl);
    A64_MSR(CPTR_EL2, c->cptr);
    A64_ISB();
}

void vcore__arm64_prim_el1_load(const vcore__arm64_el1_t *c)
{
    vcore__arm64_prim_fp_load(c->q);
    A64_MSR(FPCR, c->fpcr);
    A64_MSR(FPSR, c->fpsr);
    A64_MSR(SCTLR_EL1, c->sctlr);
    A64_MSR(TCR_EL1, c->tcr);
    A64_MSR(TTBR0_EL1, c->ttbr0);
    A64_MSR(TTBR1_EL1, c->ttbr1);
    A64_MSR(MAIR_EL1, c->mair);
    A64_MSR(AMAIR_EL1, c->amair);
    A64_MSR(VBAR_EL1, c->vbar);
    A64_MSR(ESR_EL1, c->esr);
    A64_MSR(FAR_EL1, c->far);
    A64_MSR(PAR_EL1, c->par);
    A64_MSR(AFSR0_EL1, c->afsr0);
    A64_MSR(AFSR1_EL1, c->afsr1);
    A64_MSR(CONTEXTIDR_EL1, c->contextidr);
    A64_MSR(TPIDR_EL1, c->tpidr);
    A64_MSR(TPIDR_EL0, c->tpidr_el0);
    A64_MSR(TPIDRRO_EL0, c->tpidrro_el0);
    A64_MSR(CPACR_EL1, c->cpacr);
    A64_MSR(CNTKCTL_EL1, c->cntkctl);
    A64_MSR(CSSELR_EL1, c->csselr);
    A64_MSR(MDSCR_EL1, c->mdscr);
    A64_MSR(SP_EL0, c->sp_el0);
    A64_MSR(SP_EL1, c->sp_el1);
    A64_MSR(ELR_EL1, c->elr);
    A64_MSR(SPSR_EL1, c->spsr);
    A64_MSR(CNTV_CVAL_EL0, c->cntv_cval);
    A64_MSR(CNTV_CTL_EL0, c->cntv_ctl);
    A64_ISB();
}

void vcore__arm64_prim_el1_save(vcore__arm64_el1_t *c)
{
    vcore__arm64_prim_fp_save(c->q);
    c->fpcr = A64_MRS(FPCR);
    c->fpsr = A64_MRS(FPSR);
    c->sctlr = A64_MRS(SCTLR_EL1);
    c->tcr = A64_MRS(TCR_EL1);
    c->ttbr0 = A64_MRS(TTBR0_EL1);
    c->ttbr1 = A64_MRS(TTBR1_EL1);
    c->mair = A64_MRS(MAIR_EL1);
    c->amair = A64_MRS(AMAIR_EL1);
    c->vbar = A64_MRS(VBAR_EL1);
    c->esr = A64_MRS(ESR_EL1);
    c->far = A64_MRS(FAR_EL1);
    c->par = A64_MRS(PAR_EL1);
    c->afsr0 = A64_MRS(AFSR0_EL1);
    c->afsr1 = A64_MRS(AFSR1_EL1);
    c->contextidr = A64_MRS(CONTEXTIDR_EL1);
    c->tpidr = A64_MRS(TPIDR_EL1);
    c->tpidr_el0 = A64_MRS(TPIDR_EL0);
    c->tpidrro_el0 = A64_MRS(TPIDRRO_EL0);
    c->cpacr = A64_MRS(CPACR_EL1);
    c->cntkctl = A64_MRS(CNTKCTL_EL1);
    c->csselr = A64_MRS(CSSELR_EL1);
    c->mdscr = A64_MRS(MDSCR_EL1);
    c->sp_el0 = A64_MRS(SP_EL0);
    c->sp_el1 = A64_MRS(SP_EL1);
    c->elr = A64_MRS(ELR_EL1);
    c->spsr = A64_MRS(SPSR_EL1);
    c->cntv_ctl = A64_MRS(CNTV_CTL_EL0);
    c->cntv_cval = A64_MRS(CNTV_CVAL_EL0);
    A64_MSR(CNTV_CTL_EL0, 0);
    A64_ISB();
}

void vcore__arm64_prim_tlbi_local(void)
{
    __asm__ volatile("dsb nshst\n\ttlbi vmalls12e1\n\tdsb nsh\n\tisb" ::: "memory");
}

void vcore__arm64_prim_tlbi_s2(uint64_t vttbr, const vcore_arm64_s2_tlbi_t *req)
{
    /* TLBI by IPA and VMALLS12E1IS act on the VMID in VTTBR_EL2. */
    uint64_t old = A64_MRS(VTTBR_EL2);
    A64_MSR(VTTBR_EL2, vttbr);
    A64_ISB();
    /* Make the table writes visible to the walkers before invalidating. */
    __asm__ volatile("dsb ishst" ::: "memory");
    if (req->scope == VCORE_ARM64_S2_TLBI_IPA) {
        for (uint64_t off = 0; off < req->len; off += req->stride) {
            /* Xt[39:0] = IPA[51:12]. */
            uint64_t xt = ((req->ipa + off) >> 12) & ((1ull << 40) - 1u);
            __asm__ volatile("tlbi ipas2e1is, %0" : : "r"(xt) : "memory");
        }
        /* Invalidation by IPA leaves entries that combine stage 1 and 2. */
        __asm__ volatile("dsb ish\n\ttlbi vmalle1is" ::: "memory");
    } else if (req->scope == VCORE_ARM64_S2_TLBI_VMID) {
        __asm__ volatile("tlbi vmalls12e1is" ::: "memory");
    }
    __asm__ volatile("dsb ish\n\tisb" ::: "memory");
    A64_MSR(VTTBR_EL2, old);
    A64_ISB();
}

uint64_t vcore__arm64_prim_at_s1e1(uint64_t va, bool write)
{
    if (write)
        __asm__ volatile("at s1e1w, %0" : : "r"(va) : "memory");
    else
        __asm__ volatile("at s1e1r, %0" : : "r"(va) : "memory");
    A64_ISB();
    return A64_MRS(PAR_EL1);
}
