/*
 * vcheck_svm_state.h - what the keys of an SVM STATE_FILE and of an SVM
 * capability file mean, and how they become a VMRUN of L1. Pure (no I/O).
 *
 * STATE_FILE keys (virtcore-check(1)):
 *   FIELD = V            VMCB12 field by vmcb.h name (EXITCODE, CS_ATTRIB, CR3 ...)
 *                        or raw OFFSET:WIDTH in the 4 KiB VMCB (0x58:4 = 1 writes
 *                        4 bytes at offset 58H; the save area starts at 400H);
 *                        stored as is; V must fit the width; unnamed bytes are 0
 *   mem64[GPA] = V       L1 memory, little endian; unnamed bytes read 0
 *   mem32[GPA] = V
 *   cpu.efer = V         L1's EFER (default 0x1d01: SVME, LMA, LME, SCE)
 *   cpu.cr0 = V          L1's CR0 (default 0x80000011: PG, ET, PE)
 *   cpu.cr4 = V          L1's CR4 (default 0x20: PAE)
 *   cpuid.LEAF.SUBLEAF.REG = V   replaces that register of L1's CPUID
 * A later assignment of the same key replaces the earlier one. The VMCB
 * lies at L1 guest-physical VCHECK_SVM_VMCB_GPA.
 *
 * Capability files: `cpuid.8000000a.edx = V` (the SVM features L1 sees)
 * and `maxphyaddr = N` (32..52; default 40).
 */
#ifndef VCHECK_SVM_STATE_H
#define VCHECK_SVM_STATE_H

#include "vcheck_text.h"

#include <virtcore/virtcore.h>
#include <virtcore/x86/nsvm.h>
#include <virtcore/x86/svm_checks.h>
#include <virtcore/x86/vmcb.h>

#define VCHECK_SVM_MAX_CELLS 8192u /* distinct 8-byte memory cells a state may name */
#define VCHECK_SVM_MAX_CPUID 64u   /* CPUID leaf/sub-leaf pairs */
#define VCHECK_SVM_VMCB_GPA 0x1000ull /* where L1's VMCB12 lies (rAX of the VMRUN) */

typedef struct vcheck_svm_cell {
    uint64_t gpa;
    uint64_t value;
} vcheck_svm_cell_t;

/** Capabilities L1 sees: CPUID Fn8000_000A_EDX and MAXPHYADDR. */
typedef struct vcheck_svm_caps {
    uint32_t edx;
    uint32_t maxphyaddr;
} vcheck_svm_caps_t;

/** A parsed STATE_FILE. */
typedef struct vcheck_svm_state {
    uint8_t page[VCORE_VMCB_SIZE] __attribute__((aligned(8)));
    vcheck_svm_cell_t cells[VCHECK_SVM_MAX_CELLS];
    uint32_t ncells;
    vcore_cpuid_entry_t cpuid[VCHECK_SVM_MAX_CPUID];
    uint32_t ncpuid;
    uint64_t efer, cr0, cr4;
    vcore_nvmx_mem_t mem;
} vcheck_svm_state_t;

/** Defaults: a zero VMCB, no memory, L1 in long mode with SVME, an AMD64 CPUID. */
void vcheck_svm_state_init(vcheck_svm_state_t *st);

/** Applies a STATE_FILE text on top of @p st. Returns 0 or -1 (with @p err). */
int vcheck_svm_state_parse(vcheck_svm_state_t *st, const char *text, size_t len, vcheck_err_t *err);

/** The input of vcore_svm_check_vmrun() for the state. @p st must outlive @p in. */
void vcheck_svm_state_input(vcheck_svm_state_t *st, const vcheck_svm_caps_t *caps, vcore_svm_check_input_t *in);

/**
 * Runs L1's VMRUN of the state through the library's nested SVM (the same
 * checks plus the nested CR3 load). Returns 0 with @p res and @p diag set,
 * or -1 when L1's own state makes VMRUN fault (@p res holds the exception).
 */
int vcheck_svm_state_vmrun(vcheck_svm_state_t *st, const vcheck_svm_caps_t *caps, vcore_nsvm_result_t *res,
                           vcore_diag_t *diag);

/** Parses a capability file into @p caps. Returns 0 or -1 (with @p err). */
int vcheck_svm_state_caps_parse(vcheck_svm_caps_t *caps, const char *text, size_t len, vcheck_err_t *err);

uint32_t vcheck_svm_state_profile_count(void);
const char *vcheck_svm_state_profile_name(uint32_t i);
/** Loads the profile @p name. Returns 0, or -1 for an unknown name. */
int vcheck_svm_state_profile(const char *name, vcheck_svm_caps_t *caps);

#endif /* VCHECK_SVM_STATE_H */
