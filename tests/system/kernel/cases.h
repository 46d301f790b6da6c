/*
 * cases.h - the table of system-test cases run in one boot.
 *
 * Two kinds of case:
 *  - VTK_CHECK: runs guests through the public API and checks each exit;
 *    prints "CASE <name> PASS|FAIL|SKIP <detail>".
 *  - VTK_RECORD: loads a complete VMCS state with the raw primitives and
 *    records what the (emulated) processor does with it: VMfail number, or
 *    exit reason and qualification; prints "RECORD <name> <outcome>". The
 *    runner saves these lines per CPU model so the library's own verdicts
 *    can be compared with the hardware's on many states.
 */
#ifndef VTK_CASES_H
#define VTK_CASES_H

#include "kernel.h"

#include "virtcore/virtcore.h"

enum { VTK_CHECK = 0, VTK_RECORD = 1 };
enum { VTK_PASS = 0, VTK_FAIL = 1, VTK_SKIP = 2 };

/* Shared state of the cases: one VM, one vCPU, 2 MiB of RAM at GPA 0. */
typedef struct vtk_env {
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
    uint8_t *ram;
    uint64_t ram_size;
    uint64_t proc2_caps; /* IA32_VMX_PROCBASED_CTLS2 */
} vtk_env_t;

/* Detail text of a case result. */
typedef struct vtk_why {
    char buf[160];
    size_t len;
} vtk_why_t;
void vtk_why_str(vtk_why_t *w, const char *s);
void vtk_why_hex(vtk_why_t *w, uint64_t v);

typedef struct vtk_case {
    const char *name;
    int kind;
    int (*run)(vtk_env_t *env, vtk_why_t *why);
} vtk_case_t;

/* A VMCS state to load for a VTK_RECORD case: (encoding, value) pairs. */
typedef struct vtk_vmcs_field {
    uint32_t field;
    uint64_t value;
} vtk_vmcs_field_t;

/* What the processor did with a state. */
typedef struct vtk_outcome {
    uint32_t write_fail;  /* index + 1 of a field whose VMWRITE failed, 0 if none */
    uint32_t kind;        /* VMLAUNCH: 0 VM exit, 1 VMfailInvalid, 2 VMfailValid */
    uint32_t error;       /* VM-instruction error for VMfailValid */
    uint64_t exit_reason; /* exit reason (bit 31: failed entry) */
    uint64_t qualification;
} vtk_outcome_t;

/* kmain.c: the guest CPUID table (the host's leaves 0, 1, 80000000H,
 * 80000001H, 80000008H), with or without NX. */
int vtk_set_cpuid(vcore_vcpu_t *vcpu, bool nx);
/* kmem.c: the host services and their per-processor storage. */
extern const vcore_host_t vtk_host;
extern vcore_host_cpu_t vtk_host_cpus[1];

/* Loads the fields into a scratch VMCS, VMLAUNCHes it, and reports the outcome. */
int vtk_vmcs_record(const vtk_vmcs_field_t *f, uint32_t n, vtk_outcome_t *out);
void vtk_print_outcome(const vtk_outcome_t *o);

/* records.c: complete VMCS states. */
int vtk_case_vmcs_minimal(vtk_env_t *env, vtk_why_t *why);
int vtk_record_vmcs_minimal(vtk_env_t *env, vtk_why_t *why);
int vtk_record_guest_cs_unusable(vtk_env_t *env, vtk_why_t *why);
int vtk_record_host_cr3_wide(vtk_env_t *env, vtk_why_t *why);
int vtk_record_link_pointer(vtk_env_t *env, vtk_why_t *why);
/* The valid 64-bit reference state (at most VTK_MAX_FIELDS fields; 0 if cap is smaller). */
uint32_t vtk_vmcs_reference(vtk_vmcs_field_t *f, uint32_t cap);

/* diff.c: the differential run of the VM-entry checks. */
int vtk_case_diff_checks(vtk_env_t *env, vtk_why_t *why);

extern const vtk_case_t vtk_cases[];
extern const uint32_t vtk_ncases;

#endif /* VTK_CASES_H */
