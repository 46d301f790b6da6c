/*
 * arm64_fake.h - a strict model of the arm64 backend's EL2 primitives
 * (src/backend-arm64/arm64_prim.h), linked instead of arm64_prim.c in host
 * tests.
 *
 * It keeps the PE's registers (HCR_EL2, VTCR_EL2, VTTBR_EL2, ..., the EL1
 * context) and enforces the order a world switch needs: EL2 controls, then
 * the EL1 context (CPTR_EL2.TFP must be 0 for the FP/SIMD part), then the
 * entry, then the save of the EL1 context before anything loads another.
 * AT needs the guest's EL1 registers live. Anything else fails the test.
 *
 * The guest is a callback: at each entry it plays the guest with the
 * registers as the PE holds them, using arm64_fake_s2_walk() - a stage-2
 * walker written from the Arm ARM, independent of the library's - to decide
 * what its accesses do, and describes the exception that brings it back.
 */
#ifndef VCORE_TEST_ARM64_FAKE_H
#define VCORE_TEST_ARM64_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend-arm64/arm64_prim.h"

typedef struct arm64_fake arm64_fake_t;
/* Plays the guest for one entry; sets g->esr/far/hpfar and returns the exit kind. */
typedef uint64_t (*arm64_fake_guest_fn)(arm64_fake_t *f, vcore__arm64_gprs_t *g, void *arg);

/* World-switch phases. */
enum { A64F_IDLE = 0, A64F_EL2, A64F_EL1, A64F_RAN, A64F_SAVED };

struct arm64_fake {
    /* identification */
    uint64_t current_el, mmfr0, mmfr1, host_hcr;
    /* PE registers */
    vcore__arm64_el2_t el2;
    vcore__arm64_el1_t el1;
    int phase;
    uint64_t vttbr_hw;    /* VTTBR_EL2 as the PE holds it */
    /* the guest */
    arm64_fake_guest_fn guest;
    void *guest_arg;
    /* TLB maintenance seen */
    vcore_arm64_s2_tlbi_t last_tlbi;
    uint64_t last_tlbi_vttbr;
    bool last_at_write;   /* the last AT was S1E1W */
    /* counters */
    uint64_t n_el2_load, n_el1_load, n_el1_save, n_enter, n_read_vttbr, n_tlbi_local, n_tlbi_s2,
        n_at, n_id;
};

extern arm64_fake_t arm64_fake;

/* A PE at EL2 like QEMU's -cpu max (ID_AA64MMFR0_EL1 0x0000032310201126,
 * PARange 52 bits, every granule at stage 2), no VHE. */
void arm64_fake_reset(void);

/* One stage-2 walk as the PE does it for the guest with the loaded
 * VTCR_EL2 / VTTBR_EL2 (48-bit descriptors, physical = host virtual). */
typedef struct arm64_fake_walk {
    bool mapped;
    int level;          /* leaf level, or level of the invalid entry */
    uint64_t desc;      /* descriptor at that level */
    uint64_t pa;        /* output address (mapped) */
    bool read, write;   /* S2AP */
    bool exec_el1;      /* XN allows EL1 fetches */
} arm64_fake_walk_t;
arm64_fake_walk_t arm64_fake_s2_walk(uint64_t ipa);

/* Guest helpers: ESR_EL2 values and data aborts as the PE reports them. */
uint64_t arm64_fake_esr(uint32_t ec, uint32_t iss);
/* A data access by the guest (stage 1 off: VA = IPA) to `ipa` of `size`
 * bytes with register `reg`; performs it on host memory when stage 2 lets
 * it, otherwise fills the abort syndrome (ISV set) and returns false. */
bool arm64_fake_access(vcore__arm64_gprs_t *g, uint64_t ipa, uint32_t size, uint32_t reg, bool write,
                       bool sign_extend);

#endif
