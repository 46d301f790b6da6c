/*
 * svk.h - the SVM system-test kernel: its environment, the case table, and
 * the differential check of VMRUN against the library's consistency checks.
 *
 * The kernel runs in 64-bit mode with the first 1 GiB identity mapped (the
 * boot sector of tests/system/kernel), so a virtual address is its
 * physical address.
 */
#ifndef SVK_H
#define SVK_H

#include "kernel.h"

#include "virtcore/virtcore.h"

enum { SVK_PASS = 0, SVK_FAIL = 1, SVK_SKIP = 2 };

/* Shared state of the cases: one VM, one vCPU, 2 MiB of RAM at GPA 0. */
typedef struct svk_env {
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
    uint8_t *ram;
    uint64_t ram_size;
    bool qemu;             /* the emulator is QEMU (else Bochs) */
    uint32_t svm_features; /* CPUID 8000_000AH:EDX */
    uint32_t maxphyaddr;   /* CPUID 8000_0008H:EAX[7:0] */
} svk_env_t;

/* Detail text of a case result. */
typedef struct svk_why {
    char buf[200];
    size_t len;
} svk_why_t;
void svk_why_str(svk_why_t *w, const char *s);
void svk_why_hex(svk_why_t *w, uint64_t v);
void svk_why_dec(svk_why_t *w, uint64_t v);

typedef struct svk_case {
    const char *name;
    int (*run)(svk_env_t *env, svk_why_t *why);
} svk_case_t;

/* CPUID(leaf, sub) of the (emulated) processor: out = EAX, EBX, ECX, EDX. */
void svk_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]);
/* The host services, with the processor's storage for the svm backend. */
extern const vcore_host_t svk_host;
/* The guest CPUID table: the processor's leaves 0, 1, 80000000H, 80000001H
 * and 80000008H, SVM hidden (svk_main.c). */
int svk_set_cpuid(vcore_vcpu_t *vcpu);

/* svk_cases.c */
extern const svk_case_t svk_cases[];
extern const uint32_t svk_ncases;
/* svk_diff.c: VMRUN of generated VMCBs on the processor vs the checks. */
int svk_diff(svk_env_t *env, svk_why_t *why);
/* svk_hv.c: Hyper-V PV IPI / TLB flush with 9 vCPUs on one processor. */
int svk_case_hyperv(svk_env_t *env, svk_why_t *why);
/* Whether the emulator is QEMU (its brand string), else Bochs. */
bool svk_is_qemu(void);
/* svk_nested.c: the L0 -> L1 -> L2 boot (svk-nested.img); does not return. */
void svk_nested_main(svk_env_t *env) __attribute__((noreturn));

#endif /* SVK_H */
