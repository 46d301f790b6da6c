/*
 * vcpu_nested_tsc.c - L2's time-stamp counter: vmcs02's TSC offset and
 * multiplier, and L2's RDMSR of IA32_TIME_STAMP_COUNTER answered by L0.
 *
 * SDM Vol. 3, "Changes to Instruction Behavior in VMX Non-Root Operation"
 * (RDTSC, RDTSCP, RDMSR): with "use TSC offsetting" (primary control 3)
 * a guest reads TSC + offset, and with "use TSC scaling" (secondary
 * control 25) as well ((TSC * multiplier) >> 48) + offset, the multiplier
 * a fixed-point number with 48 fraction bits ("TSC Scaling"); scaling
 * without offsetting changes nothing. L1 reads f01(TSC) through vmcs01 and
 * L2 f12(f01(TSC)) through vmcs12, and vmcs02 gives the processor the one
 * function that is both: multiplier m01 * m12 >> 48 and offset
 * (o01 * m12 >> 48) + o12 (the product of a signed offset with the
 * multiplier; its rounding may differ from the two steps by one count).
 * vmcs02 offsets whenever either level does and scales whenever either
 * does (rules X(1, 3, OR), X(2, 25, OR) of x86/nvmx_pipeline.h); where
 * vmcs02 scales but one level does not, that level's multiplier is 1.0.
 *
 * L0's function (vmcs01's offset and multiplier) is read with vmcs02's
 * constant state and again when the vCPU's TSC was written since (the
 * VMM's or L1's WRMSR, an MSR list of L1's): the backend gives L1 the TSC
 * it is told through vmcs01's TSC offset, so L2's follows.
 */
#include "vcpu_nested.h"

#include "x86/x86_bits.h"

#define NESTED_TSC_ONE (1ull << 48) /* multiplier 1.0 */

/* (a * m) >> 48, the low 64 bits, from a 128-bit product of 32-bit halves. */
static uint64_t vcore__vcpu_nested_tsc_mul(uint64_t a, uint64_t m)
{
    uint64_t al = (uint32_t)a, ah = a >> 32, ml = (uint32_t)m, mh = m >> 32;
    uint64_t ll = al * ml, lh = al * mh, hl = ah * ml, hh = ah * mh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    uint64_t lo = (mid << 32) | (uint32_t)ll;
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return (hi << 16) | (lo >> 48);
}

/* The same for a signed a (a TSC offset): the magnitude scaled, the sign kept. */
static uint64_t vcore__vcpu_nested_tsc_mul_signed(uint64_t a, uint64_t m)
{
    if (!(a >> 63))
        return vcore__vcpu_nested_tsc_mul(a, m);
    return 0u - vcore__vcpu_nested_tsc_mul(0u - a, m);
}

/* L1's function of L2's TSC from vmcs12: *offset and *mult (1.0 when L1
 * does not scale); false when L1 does not offset (L2 reads L1's TSC). */
static bool vcore__vcpu_nested_tsc12(const vcore__vmcs12_t *v, uint64_t *offset, uint64_t *mult)
{
    uint32_t proc = v->CPU_BASED_VM_EXEC_CONTROL;
    uint32_t proc2 = (proc & VCORE__PROC_SECONDARY) ? v->SECONDARY_VM_EXEC_CONTROL : 0u;
    *offset = v->TSC_OFFSET;
    *mult = (proc2 & VCORE__PROC2_TSC_SCALING) ? v->TSC_MULTIPLIER : NESTED_TSC_ONE;
    return (proc & VCORE__PROC_TSC_OFFSET) != 0;
}

int vcore__vcpu_nested_tsc01(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    int err = VCORE_OK;
    /* Offset 0 and multiplier 1.0 where vmcs01 does not use them. */
    nv->tsc01 = 0;
    nv->tscm01 = NESTED_TSC_ONE;
    if (nv->ctl01[1] & VCORE__PROC_TSC_OFFSET) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_TSC_OFFSET, &nv->tsc01);
        if (!err && (nv->ctl01[1] & VCORE__PROC_SECONDARY) && (nv->ctl01[2] & VCORE__PROC2_TSC_SCALING))
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_TSC_MULTIPLIER, &nv->tscm01);
    }
    nv->tsc01_gen = vcpu->tsc_writes;
    nv->tsc_stale = true;
    return err;
}

int vcore__vcpu_nested_tsc01_sync(vcore_vcpu_t *vcpu)
{
    int err = vcpu->vm->ops.vmcs_load(vcpu, vcpu->priv, NULL);
    if (err)
        return err < 0 ? err : VCORE_ERR_HWFAIL;
    err = vcore__vcpu_nested_tsc01(vcpu);
    return err ? err : vcore__vcpu_nested_load02(vcpu);
}

uint64_t vcore__vcpu_nested_tsc_l2(vcore_vcpu_t *vcpu, uint64_t l1_tsc)
{
    uint64_t o12 = 0, m12 = 0;
    if (!vcore__vcpu_nested_tsc12(vcore__vcpu_nested_v12(vcpu), &o12, &m12))
        return l1_tsc;
    if (m12 == NESTED_TSC_ONE)
        return l1_tsc + o12;
    return vcore__vcpu_nested_tsc_mul(l1_tsc, m12) + o12;
}

int vcore__vcpu_nested_tsc_enter(vcore_vcpu_t *vcpu, bool full)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint64_t o12 = 0, m12 = 0;
    if (!vcore__vcpu_nested_tsc12(vcore__vcpu_nested_v12(vcpu), &o12, &m12)) {
        o12 = 0;
        m12 = NESTED_TSC_ONE;
    }
    uint64_t offset = vcore__vcpu_nested_tsc_mul_signed(nv->tsc01, m12) + o12;
    int err = vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_TSC_OFFSET, offset, full, &nv->tsc02[0]);
    /* The multiplier exists only on a processor with TSC scaling (L1 cannot
     * have asked for it otherwise, and vmcs01 does not use it). */
    if (!err && (nv->hw_allowed1[VCORE__VMCS_CTL_PROC2] & VCORE__PROC2_TSC_SCALING))
        err = vcore__vcpu_nested_wr_msr02(vcpu, VCORE_VMCS_TSC_MULTIPLIER,
                                          vcore__vcpu_nested_tsc_mul(nv->tscm01, m12), full, &nv->tsc02[1]);
    if (!err)
        nv->tsc_stale = false;
    return err;
}
