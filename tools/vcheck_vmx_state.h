/*
 * vcheck_vmx_state.h - what the keys of a VMX STATE_FILE and of a VMX
 * capability file mean, and the snapshot of vcore_vmx_check_entry() they
 * build. Pure (no I/O): the tool and the fuzz_vmx_state fuzzer link it.
 *
 * STATE_FILE keys (virtcore-check(1)):
 *   FIELD = V            vmcs12 field by vmcs.h name without prefix, or by
 *                        encoding (0x681e); stored as is (reserved bits too);
 *                        V must fit the field; unnamed fields are 0
 *   mem64[GPA] = V       L1 memory, little endian; unnamed bytes read 0
 *   mem32[GPA] = V
 *   cpu.efer = V         L1's IA32_EFER (default 0xd01)
 *   cpu.movss_blocking = 0|1
 *   cpu.current_vmcs = GPA|none   (default 0x1000)
 *   cpuid.LEAF.SUBLEAF.REG = V    REG: eax ebx ecx edx; unnamed leaves are 0
 *   launch = vmlaunch|vmresume    launched = 0|1
 * A later assignment of the same key replaces the earlier one.
 *
 * Capability files: `0x480 = V` ... `0x491 = V` (MSRs not named read 0)
 * and `maxphyaddr = N` (32..52; default 36, the width of a processor
 * without CPUID leaf 80000008H, SDM Vol. 3 "Physical Address Width").
 */
#ifndef VCHECK_VMX_STATE_H
#define VCHECK_VMX_STATE_H

#include "vcheck_text.h"

#include <virtcore/virtcore.h>
#include <virtcore/x86/vmcs.h>
#include <virtcore/x86/vmx_checks.h>

#define VCHECK_VMX_MAX_CELLS 8192u  /* distinct 8-byte memory cells a state may name */
#define VCHECK_VMX_MAX_CPUID 64u    /* distinct CPUID leaf/sub-leaf pairs */

/** One 8-byte-aligned quadword of L1 memory: the bytes named so far (mask) and their values. */
typedef struct vcheck_vmx_cell {
    uint64_t gpa;
    uint64_t value;
    uint8_t mask;
} vcheck_vmx_cell_t;

/** Capabilities L1 sees: MSRs 480H-491H and MAXPHYADDR. */
typedef struct vcheck_vmx_caps {
    vcore_nvmx_caps_t caps;
    uint32_t maxphyaddr;
} vcheck_vmx_caps_t;

/** A parsed STATE_FILE. */
typedef struct vcheck_vmx_state {
    uint8_t page[VCORE_VMCS12_SIZE] __attribute__((aligned(8)));
    vcheck_vmx_cell_t cells[VCHECK_VMX_MAX_CELLS];
    uint32_t ncells;
    bool sorted;
    vcore_cpuid_entry_t cpuid[VCHECK_VMX_MAX_CPUID];
    uint32_t ncpuid;
    uint64_t efer;
    uint64_t current_vmcs;
    bool movss_blocking;
    bool resume;
    uint32_t launched;
    vcore_nvmx_mem_t mem;
} vcheck_vmx_state_t;

/** Defaults: all fields 0, no memory, EFER D01H, current VMCS at 1000H, VMLAUNCH of a clear VMCS. */
void vcheck_vmx_state_init(vcheck_vmx_state_t *st);

/** Applies a STATE_FILE text on top of @p st. Returns 0 or -1 (with @p err). */
int vcheck_vmx_state_parse(vcheck_vmx_state_t *st, const char *text, size_t len, vcheck_err_t *err);

/**
 * Fills the snapshot: vmcs12 = the state's page with the revision identifier
 * of @p caps (IA32_VMX_BASIC[30:0]), L1 memory from the state (unnamed bytes
 * read 0), CPUID, EFER, current VMCS, launch state. @p st must outlive @p in.
 */
void vcheck_vmx_state_input(vcheck_vmx_state_t *st, const vcheck_vmx_caps_t *caps, vcore_vmx_check_input_t *in);

/** Parses a capability file into @p caps (zeroed first). Returns 0 or -1 (with @p err). */
int vcheck_vmx_state_caps_parse(vcheck_vmx_caps_t *caps, const char *text, size_t len, vcheck_err_t *err);

/** Number of built-in CPU profiles. */
uint32_t vcheck_vmx_state_profile_count(void);
/** Name of the i-th profile (NULL past the end). */
const char *vcheck_vmx_state_profile_name(uint32_t i);
/** Loads the profile @p name. Returns 0, or -1 for an unknown name. */
int vcheck_vmx_state_profile(const char *name, vcheck_vmx_caps_t *caps);

#endif /* VCHECK_VMX_STATE_H */
