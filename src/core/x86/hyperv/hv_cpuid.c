/*
 * hv_cpuid.c - the Hyper-V identity a guest discovers through CPUID
 * (TLFS, "Feature and Interface Discovery"): leaves 40000000H-40000006H
 * built from the VM's configuration and merged into each vCPU's candidate
 * table inside the atomic CPUID flow (vcpu_cpuid.c), so a failure leaves
 * the previous table in force.
 */
#include "hv.h"

#include "virtcore/version.h"

/* CPUID.1:ECX[31]: "hypervisor present" (TLFS, "Hypervisor Discovery"). */
#define VCORE__HV_CPUID_1_ECX_HYPERVISOR (1u << 31)
/* 40000004H:EBX: spinlock retries before notifying; all ones = never notify
 * (the library does not implement HvCallNotifyLongSpinWait). */
#define VCORE__HV_SPIN_NEVER 0xffffffffu
/* The hypervisor leaf range whose meaning "Hv#1" defines. */
#define VCORE__HV_LEAF_FIRST 0x40000000u
#define VCORE__HV_LEAF_LAST 0x400000ffu
#define VCORE__HV_NLEAVES 7u

static uint32_t vcore__hv_le32(const char *p)
{
    return (uint32_t)(uint8_t)p[0] | ((uint32_t)(uint8_t)p[1] << 8) |
           ((uint32_t)(uint8_t)p[2] << 16) | ((uint32_t)(uint8_t)p[3] << 24);
}

/* Leaf i (0..6) of the library's identity for this VM. */
static void vcore__hv_leaf(const vcore_vm_t *vm, uint32_t i, vcore_cpuid_entry_t *e)
{
    const vcore__hv_t *hv = vm->hv;
    uint32_t f = hv->cfg.features;
    vcore__memset(e, 0, sizeof(*e));
    e->function = VCORE__HV_LEAF_FIRST + i;
    switch (e->function) {
    case VCORE_HV_CPUID_VENDOR:
        e->eax = VCORE_HV_CPUID_HW_FEATURES; /* highest hypervisor leaf */
        e->ebx = vcore__hv_le32(&hv->cfg.vendor[0]);
        e->ecx = vcore__hv_le32(&hv->cfg.vendor[4]);
        e->edx = vcore__hv_le32(&hv->cfg.vendor[8]);
        break;
    case VCORE_HV_CPUID_INTERFACE:
        e->eax = VCORE_HV_INTERFACE_HV1;
        break;
    case VCORE_HV_CPUID_IDENTITY:
        /* EAX build number, EBX major (31:16) and minor (15:0) version. */
        e->eax = VCORE_VERSION_PATCH;
        e->ebx = ((uint32_t)VCORE_VERSION_MAJOR << 16) | (uint32_t)VCORE_VERSION_MINOR;
        break;
    case VCORE_HV_CPUID_FEATURES:
        /* EAX = HV_PARTITION_PRIVILEGE_MASK bits 31:0: the hypercall MSRs
         * and the VP index MSR; EBX (hypercall privileges) none. */
        e->eax = VCORE_HV_PRIV_HYPERCALL_MSRS | VCORE_HV_PRIV_VP_INDEX;
        e->edx = ((f & VCORE_HV_F_XMM_INPUT) ? VCORE_HV_FEAT_XMM_INPUT : 0u) |
                 (hv->host ? 0u : VCORE_HV_FEAT_MSR_LOCK);
        break;
    case VCORE_HV_CPUID_HINTS:
        e->eax = ((f & VCORE_HV_F_TLB_FLUSH) ? VCORE_HV_HINT_REMOTE_TLB_FLUSH : 0u) |
                 ((f & VCORE_HV_F_IPI) ? VCORE_HV_HINT_CLUSTER_IPI : 0u) |
                 ((f & VCORE_HV_F_EX) && (f & (VCORE_HV_F_TLB_FLUSH | VCORE_HV_F_IPI))
                      ? VCORE_HV_HINT_EX_PROCESSOR_MASKS
                      : 0u);
        e->ebx = VCORE__HV_SPIN_NEVER;
        break;
    case VCORE_HV_CPUID_LIMITS:
        e->eax = hv->nslots; /* maximum virtual processors */
        break;
    default: /* 40000006H: no hardware feature reported */
        break;
    }
}

int vcore__hv_cpuid_compose(vcore_vcpu_t *vcpu, vcore_cpuid_entry_t *e, uint32_t *n,
                            uint32_t cap)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < *n; i++)
        if (e[i].function < VCORE__HV_LEAF_FIRST || e[i].function > VCORE__HV_LEAF_LAST)
            kept++;
    if (kept > cap - VCORE__HV_NLEAVES) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_HV_CPUID_FULL, *n);
        return VCORE_ERR_RANGE;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < *n; i++) {
        if (e[i].function >= VCORE__HV_LEAF_FIRST && e[i].function <= VCORE__HV_LEAF_LAST)
            continue;
        if (e[i].function == VCORE__CPUID_LEAF_FEATURES)
            e[i].ecx |= VCORE__HV_CPUID_1_ECX_HYPERVISOR;
        e[k++] = e[i];
    }
    for (uint32_t i = 0; i < VCORE__HV_NLEAVES; i++)
        vcore__hv_leaf(vcpu->vm, i, &e[k++]);
    *n = k;
    return VCORE_OK;
}
