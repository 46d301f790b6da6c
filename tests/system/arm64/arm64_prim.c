/*
 * arm64_prim.c - EL2 system-register access, TLB maintenance and AT (see
 * arm64_prim.h). Each function is one instruction or one architectural
 * sequence; nothing else lives here.
 */
#include "arm64_prim.h"

#define VCORE__MRS(reg) ({ uint64_t v_; __asm__ volatile("mrs %0, " #reg : "=r"(v_)); v_; })
#define VCORE__MSR(reg, v) __asm__ volatile("msr " #reg ", %0" : : "r"((uint64_t)(v)) : "memory")

uint64_t vcore__arm64_prim_current_el(void) { return (VCORE__MRS(CurrentEL) >> 2) & 3u; }
uint64_t vcore__arm64_prim_read_mmfr0(void) { return VCORE__MRS(ID_AA64MMFR0_EL1); }
uint64_t vcore__arm64_prim_read_mmfr1(void) { return VCORE__MRS(ID_AA64MMFR1_EL1); }
uint64_t vcore__arm64_prim_read_esr(void) { return VCORE__MRS(ESR_EL2); }
uint64_t vcore__arm64_prim_read_far(void) { return VCORE__MRS(FAR_EL2); }
uint64_t vcore__arm64_prim_read_hpfar(void) { return VCORE__MRS(HPFAR_EL2); }
uint64_t vcore__arm64_prim_read_elr(void) { return VCORE__MRS(ELR_EL2); }
void vcore__arm64_prim_write_elr(uint64_t v) { VCORE__MSR(ELR_EL2, v); }
void vcore__arm64_prim_write_spsr(uint64_t v) { VCORE__MSR(SPSR_EL2, v); }

/* Changing the stage-2 controls is followed by an ISB so the next
 * translation uses them (Arm ARM, "Synchronization requirements for System
 * registers"). */
void vcore__arm64_prim_write_hcr(uint64_t v)
{
    VCORE__MSR(HCR_EL2, v);
    __asm__ volatile("isb" ::: "memory");
}

void vcore__arm64_prim_write_vtcr(uint64_t v)
{
    VCORE__MSR(VTCR_EL2, v);
    __asm__ volatile("isb" ::: "memory");
}

void vcore__arm64_prim_write_vttbr(uint64_t v)
{
    VCORE__MSR(VTTBR_EL2, v);
    __asm__ volatile("isb" ::: "memory");
}

void vcore__arm64_prim_write_sctlr_el1(uint64_t v)
{
    VCORE__MSR(SCTLR_EL1, v);
    __asm__ volatile("isb" ::: "memory");
}

void vcore__arm64_prim_write_vbar_el1(uint64_t v)
{
    VCORE__MSR(VBAR_EL1, v);
    __asm__ volatile("isb" ::: "memory");
}

uint64_t vcore__arm64_prim_at_s1e1r(uint64_t va)
{
    __asm__ volatile("at s1e1r, %0\n\tisb" : : "r"(va) : "memory");
    return VCORE__MRS(PAR_EL1);
}

uint64_t vcore__arm64_prim_at_s1e1w(uint64_t va)
{
    __asm__ volatile("at s1e1w, %0\n\tisb" : : "r"(va) : "memory");
    return VCORE__MRS(PAR_EL1);
}

void vcore__arm64_prim_tlbi_s2(const vcore_arm64_s2_tlbi_t *req)
{
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
}

void vcore__arm64_prim_tlbi_vmid(void)
{
    __asm__ volatile("dsb ishst\n\ttlbi vmalls12e1is\n\tdsb ish\n\tisb" ::: "memory");
}
