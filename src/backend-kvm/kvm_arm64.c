/*
 * kvm_arm64.c - the kvm backend on an arm64 host: the core's arm64
 * register model <-> KVM_GET/SET_ONE_REG, hypercall exits through the
 * SMCCC filter, and their replies.
 *
 *   VCORE_ARM64_STATE_REGS    X0-X30, SP_EL0, PC, PSTATE (struct user_pt_regs),
 *                             SP_EL1, ELR_EL1, SPSR_EL1 (spsr[KVM_SPSR_EL1]):
 *                             KVM "core" registers, id = KVM_REG_ARM64 |
 *                             KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | offset / 4
 *                             in struct kvm_regs (api.rst, "KVM_SET_ONE_REG")
 *   VCORE_ARM64_STATE_SYSREGS SCTLR_EL1, TCR_EL1, TTBR0/1_EL1, MAIR_EL1,
 *                             VBAR_EL1, ESR_EL1, FAR_EL1 by their encodings
 *                             (ARM64_SYS_REG(op0, op1, CRn, CRm, op2));
 *                             CNTVOFF_EL2 is KVM's own (it offsets the virtual
 *                             counter for the whole VM): it reads as 0 and only
 *                             0 can be written.
 * KVM has no "all registers" ioctl on arm64: a group costs one ioctl per
 * register (REGS 37, SYSREGS 8).
 *
 * Hypercalls: KVM handles HVC and SMC itself (PSCI, SMCCC discovery; PSCI
 * SYSTEM_OFF / SYSTEM_RESET come out as KVM_EXIT_SYSTEM_EVENT). Where the
 * kernel has the SMCCC filter (KVM_ARM_VM_SMCCC_CTRL, Linux 6.4), every
 * function outside the Arm Architecture Calls (which KVM reserves) and PSCI
 * is forwarded to the VMM as KVM_EXIT_HYPERCALL (nr = the function id,
 * flags bit 0 = SMC conduit; PC already past the instruction). The library
 * reports it as on the EL2 backend: VCORE_EXIT_HYPERCALL with args = X0..X5
 * (read with KVM_GET_ONE_REG), nr = 0 (the SMC Calling Convention's
 * immediate; KVM does not forward others), reply ret -> X0 with
 * KVM_SET_ONE_REG before the next KVM_RUN.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "kvm_priv.h"

#if defined(__aarch64__)

/* Device attributes of the VM fd (api.rst / devices/vm.rst, "GROUP:
 * KVM_ARM_VM_SMCCC_CTRL"); not in every installed header yet. */
#define VCORE_KVM_SMCCC_CTRL 0u          /* KVM_ARM_VM_SMCCC_CTRL */
#define VCORE_KVM_SMCCC_FILTER 0u        /* KVM_ARM_VM_SMCCC_FILTER */
#define VCORE_KVM_SMCCC_FWD_TO_USER 2u   /* KVM_SMCCC_FILTER_FWD_TO_USER */

/* struct kvm_smccc_filter: [base, base + nr_functions) and an action. */
typedef struct vcore_kvm_smccc_filter {
    uint32_t base;
    uint32_t nr_functions;
    uint8_t action;
    uint8_t pad[7];
} vcore_kvm_smccc_filter_t;

/* Ranges forwarded to the VMM: everything but the Arm Architecture Calls
 * (0x80000000-0x8000FFFF, 0xC0000000-0xC000FFFF, reserved by KVM) and the
 * PSCI function ids (0x84000000-0x8400001F, 0xC4000000-0xC400001F). */
static const vcore_kvm_smccc_filter_t vcore_kvm_smccc_fwd[] = {
    {0x00000000u, 0x80000000u, VCORE_KVM_SMCCC_FWD_TO_USER, {0}},
    {0x80010000u, 0x84000000u - 0x80010000u, VCORE_KVM_SMCCC_FWD_TO_USER, {0}},
    {0x84000020u, 0xc0000000u - 0x84000020u, VCORE_KVM_SMCCC_FWD_TO_USER, {0}},
    {0xc0010000u, 0xc4000000u - 0xc0010000u, VCORE_KVM_SMCCC_FWD_TO_USER, {0}},
    {0xc4000020u, 0x3bffffe0u, VCORE_KVM_SMCCC_FWD_TO_USER, {0}}, /* through 0xFFFFFFFF */
};

/* Core register ids. */
#define VCORE_KVM_CORE(field)                                                                      \
    (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                         \
     (uint64_t)(offsetof(struct kvm_regs, field) / sizeof(uint32_t)))
/* System register ids (op0, op1, CRn, CRm, op2). */
#define VCORE_KVM_SYS(op0, op1, crn, crm, op2)                                                     \
    (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG |                                     \
     ((uint64_t)(op0) << KVM_REG_ARM64_SYSREG_OP0_SHIFT) |                                         \
     ((uint64_t)(op1) << KVM_REG_ARM64_SYSREG_OP1_SHIFT) |                                         \
     ((uint64_t)(crn) << KVM_REG_ARM64_SYSREG_CRN_SHIFT) |                                         \
     ((uint64_t)(crm) << KVM_REG_ARM64_SYSREG_CRM_SHIFT) |                                         \
     ((uint64_t)(op2) << KVM_REG_ARM64_SYSREG_OP2_SHIFT))

/* Every register of the model but X0-X30: X(group, model field, KVM id). */
#define VCORE_KVM_ARM64_REGS(X)                                                                    \
    X(VCORE_ARM64_STATE_REGS, regs.sp_el0, VCORE_KVM_CORE(regs.sp))                                \
    X(VCORE_ARM64_STATE_REGS, regs.pc, VCORE_KVM_CORE(regs.pc))                                    \
    X(VCORE_ARM64_STATE_REGS, regs.pstate, VCORE_KVM_CORE(regs.pstate))                            \
    X(VCORE_ARM64_STATE_REGS, regs.sp_el1, VCORE_KVM_CORE(sp_el1))                                 \
    X(VCORE_ARM64_STATE_REGS, regs.elr_el1, VCORE_KVM_CORE(elr_el1))                               \
    X(VCORE_ARM64_STATE_REGS, regs.spsr_el1, VCORE_KVM_CORE(spsr[KVM_SPSR_EL1]))                   \
    X(VCORE_ARM64_STATE_SYSREGS, sys.sctlr_el1, VCORE_KVM_SYS(3, 0, 1, 0, 0))                      \
    X(VCORE_ARM64_STATE_SYSREGS, sys.tcr_el1, VCORE_KVM_SYS(3, 0, 2, 0, 2))                        \
    X(VCORE_ARM64_STATE_SYSREGS, sys.ttbr0_el1, VCORE_KVM_SYS(3, 0, 2, 0, 0))                      \
    X(VCORE_ARM64_STATE_SYSREGS, sys.ttbr1_el1, VCORE_KVM_SYS(3, 0, 2, 0, 1))                      \
    X(VCORE_ARM64_STATE_SYSREGS, sys.mair_el1, VCORE_KVM_SYS(3, 0, 10, 2, 0))                      \
    X(VCORE_ARM64_STATE_SYSREGS, sys.vbar_el1, VCORE_KVM_SYS(3, 0, 12, 0, 0))                      \
    X(VCORE_ARM64_STATE_SYSREGS, sys.esr_el1, VCORE_KVM_SYS(3, 0, 5, 2, 0))                        \
    X(VCORE_ARM64_STATE_SYSREGS, sys.far_el1, VCORE_KVM_SYS(3, 0, 6, 0, 0))

typedef struct vcore_kvm_a64_reg {
    uint32_t group;
    uint32_t off; /* offset of the field in vcore_arm64_state_t */
    uint64_t id;
} vcore_kvm_a64_reg_t;

static const vcore_kvm_a64_reg_t vcore_kvm_a64_regs[] = {
#define VCORE__KVM_A64_ENTRY(group, field, id) {(group), (uint32_t)offsetof(vcore_arm64_state_t, field), (id)},
    VCORE_KVM_ARM64_REGS(VCORE__KVM_A64_ENTRY)
#undef VCORE__KVM_A64_ENTRY
};

/* The id of Xn (the regs[] array of struct user_pt_regs). */
static uint64_t vcore_kvm_a64_x(unsigned n)
{
    return VCORE_KVM_CORE(regs.regs[0]) + 2u * n; /* 8 bytes = 2 units of 32 bits */
}

static int vcore_kvm_a64_one(vcore_vcpu_t *vcpu, const vcore_kvm_vcpu_t *kv, bool set, uint64_t id,
                             uint64_t *v)
{
    const vcore_kvm_vm_t *kvm = vcore__kvm_vm_of(vcpu);
    struct kvm_one_reg r;
    r.id = id;
    r.addr = (uint64_t)(uintptr_t)v;
    int rc = vcore__kvm_ioctl(kvm, kv->fd, set ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, (unsigned long)&r);
    if (rc < 0) {
        vcore__kvm_log_errno(vcore_vcpu_vm(vcpu), set ? "KVM_SET_ONE_REG" : "KVM_GET_ONE_REG", rc);
        int err = vcore__kvm_err(rc);
        return err == VCORE_ERR_NOMEM || err == VCORE_ERR_FAULT ? err : VCORE_ERR_HWFAIL;
    }
    return VCORE_OK;
}

int vcore__kvm_get_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups)
{
    const vcore_kvm_vcpu_t *kv = priv;
    if (state->arch != VCORE_ARCH_ARM64)
        return VCORE_ERR_UNSUPPORTED;
    /* Read into a copy: the model's groups change only when every read worked. */
    vcore_arm64_state_t tmp = *state->u.arm64;
    int err = VCORE_OK;
    if (groups & VCORE_ARM64_STATE_REGS)
        for (unsigned i = 0; i < VCORE_ARM64_NR_X && !err; i++)
            err = vcore_kvm_a64_one(vcpu, kv, false, vcore_kvm_a64_x(i), &tmp.regs.x[i]);
    for (size_t i = 0; i < sizeof(vcore_kvm_a64_regs) / sizeof(vcore_kvm_a64_regs[0]) && !err; i++) {
        const vcore_kvm_a64_reg_t *r = &vcore_kvm_a64_regs[i];
        if (groups & r->group)
            err = vcore_kvm_a64_one(vcpu, kv, false, r->id, (uint64_t *)(void *)((uint8_t *)&tmp + r->off));
    }
    if (err)
        return err;
    if (groups & VCORE_ARM64_STATE_SYSREGS)
        tmp.sys.cntvoff_el2 = 0;
    if (groups & VCORE_ARM64_STATE_REGS)
        state->u.arm64->regs = tmp.regs;
    if (groups & VCORE_ARM64_STATE_SYSREGS)
        state->u.arm64->sys = tmp.sys;
    return VCORE_OK;
}

int vcore__kvm_set_state(vcore_vcpu_t *vcpu, void *priv, const vcore_vcpu_state_t *state,
                         uint32_t groups)
{
    const vcore_kvm_vcpu_t *kv = priv;
    if (state->arch != VCORE_ARCH_ARM64)
        return VCORE_ERR_UNSUPPORTED;
    vcore_arm64_state_t tmp = *state->u.arm64;
    /* Refused before anything is written: KVM owns the counter offset. */
    if ((groups & VCORE_ARM64_STATE_SYSREGS) && tmp.sys.cntvoff_el2 != 0) {
        vcore_vm_log(vcore_vcpu_vm(vcpu), VCORE_LOG_WARN,
                     "kvm: CNTVOFF_EL2 belongs to KVM (the virtual counter offset of the VM)");
        return VCORE_ERR_UNSUPPORTED;
    }
    int err = VCORE_OK;
    if (groups & VCORE_ARM64_STATE_REGS)
        for (unsigned i = 0; i < VCORE_ARM64_NR_X && !err; i++)
            err = vcore_kvm_a64_one(vcpu, kv, true, vcore_kvm_a64_x(i), &tmp.regs.x[i]);
    for (size_t i = 0; i < sizeof(vcore_kvm_a64_regs) / sizeof(vcore_kvm_a64_regs[0]) && !err; i++) {
        const vcore_kvm_a64_reg_t *r = &vcore_kvm_a64_regs[i];
        if (groups & r->group)
            err = vcore_kvm_a64_one(vcpu, kv, true, r->id, (uint64_t *)(void *)((uint8_t *)&tmp + r->off));
    }
    return err;
}

void vcore__kvm_arm64_vm_features(vcore_vm_t *vm, vcore_kvm_vm_t *kvm)
{
    struct kvm_device_attr a;
    memset(&a, 0, sizeof a);
    a.group = VCORE_KVM_SMCCC_CTRL;
    a.attr = VCORE_KVM_SMCCC_FILTER;
    if (vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_HAS_DEVICE_ATTR, (unsigned long)&a) < 0)
        return; /* no filter: KVM answers every HVC and SMC itself */
    for (size_t i = 0; i < sizeof(vcore_kvm_smccc_fwd) / sizeof(vcore_kvm_smccc_fwd[0]); i++) {
        vcore_kvm_smccc_filter_t f = vcore_kvm_smccc_fwd[i];
        a.addr = (uint64_t)(uintptr_t)&f;
        int r = vcore__kvm_ioctl(kvm, kvm->vm_fd, KVM_SET_DEVICE_ATTR, (unsigned long)&a);
        if (r < 0) {
            vcore__kvm_log_errno(vm, "KVM_SET_DEVICE_ATTR(SMCCC filter)", r);
            return;
        }
    }
    kvm->features |= VCORE_KVM_F_SMCCC_FWD;
}

int vcore__kvm_arm64_hypercall(vcore_vcpu_t *vcpu, const vcore_kvm_vcpu_t *kv, vcore_exit_t *exit)
{
    exit->u.hypercall.nr = 0;
    exit->u.hypercall.ret = 0;
    exit->u.hypercall.longmode = 0;
    for (unsigned i = 0; i < 6; i++) {
        int err = vcore_kvm_a64_one(vcpu, kv, false, vcore_kvm_a64_x(i), &exit->u.hypercall.args[i]);
        if (err)
            return err;
    }
    return VCORE_OK;
}

int vcore__kvm_arm64_reply(vcore_vcpu_t *vcpu, const vcore_kvm_vcpu_t *kv, const vcore_exit_t *exit)
{
    uint64_t x0 = exit->u.hypercall.ret;
    return vcore_kvm_a64_one(vcpu, kv, true, vcore_kvm_a64_x(0), &x0);
}

#endif /* __aarch64__ */
