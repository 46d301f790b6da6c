/* Fixture of the VM-entry check tests: a snapshot built from the Bochs
 * corei7_skylake_x capability MSRs (MAXPHYADDR 40) with valid reference
 * states, and a small mutation language so that each test case names the
 * fields it changes and the verdict the SDM gives for the result. */
#ifndef VCORE_TEST_VMX_CHECKS_FIXTURE_H
#define VCORE_TEST_VMX_CHECKS_FIXTURE_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/vmcs.h>
#include <virtcore/x86/vmx_checks.h>

#define CK_RAM (512u << 10)         /* guest RAM at GPA 0 */
#define CK_VMCS 0x10000u            /* current VMCS */
#define CK_VMXON 0x11000u           /* VMXON region */
#define CK_VAPIC 0x30000u           /* virtual-APIC page */
#define CK_LINK 0x40000u            /* a VMCS for the link pointer */
#define CK_PDPT 0x50000u            /* PAE PDPTEs */
#define CK_MSRS 0x60000u            /* VM-entry MSR-load list */
#define CK_REV 0x2bu                /* Bochs VMCS revision identifier */
#define CK_MAXFAIL 1024u

/* Mutation operations. */
enum {
    OP_END = 0,
    OP_BASE,     /* a: reference state (ST_*) */
    OP_SET,      /* a: field encoding, b: value (raw write, reserved AR bits kept) */
    OP_OR,       /* a: field, b: bits to set */
    OP_ANDN,     /* a: field, b: bits to clear */
    OP_CAPSET,   /* a: capability index, b: value */
    OP_CAPOR,    /* a: capability index, b: bits */
    OP_CAPANDN,  /* a: capability index, b: bits */
    OP_ALLOW,    /* a: control capability (plain index; TRUE one too), b: control bits made allowed-1 */
    OP_CPUID,    /* a: leaf, b: (subleaf << 8) | reg (0 EAX .. 3 EDX), c: value */
    OP_MEM8,     /* b: GPA, c: value */
    OP_MEM32,    /* b: GPA, c: value */
    OP_MEM64,    /* b: GPA, c: value */
    OP_MSR,      /* a: 0-based entry, b: first quadword (index), c: data; list at CK_MSRS */
    OP_MSRS,     /* a: number of entries, all with index b and data c */
    OP_IN,       /* a: IN_*, b: value */
    OP_REV       /* b: first dword of the current vmcs12 */
};
enum { IN_MOVSS = 1, IN_RESUME, IN_LAUNCHED, IN_VMPTR, IN_EFER, IN_MAXPHY, IN_NOMEM, IN_MSRCB };
enum { ST_REF64 = 0, ST_REAL_URG, ST_V86, ST_PAE32, ST_RING3 };

typedef struct ck_mu {
    uint8_t op;
    uint32_t a;
    uint64_t b;
    uint64_t c;
} ck_mu_t;

#define BASE(s) {OP_BASE, (s), 0, 0}
#define SET(f, v) {OP_SET, VCORE_VMCS_##f, (uint64_t)(v), 0}
#define OR(f, v) {OP_OR, VCORE_VMCS_##f, (uint64_t)(v), 0}
#define ANDN(f, v) {OP_ANDN, VCORE_VMCS_##f, (uint64_t)(v), 0}
#define CAPSET(i, v) {OP_CAPSET, VCORE_NVMX_CAP_##i, (uint64_t)(v), 0}
#define CAPOR(i, v) {OP_CAPOR, VCORE_NVMX_CAP_##i, (uint64_t)(v), 0}
#define CAPANDN(i, v) {OP_CAPANDN, VCORE_NVMX_CAP_##i, (uint64_t)(v), 0}
#define ALLOW(i, bits) {OP_ALLOW, VCORE_NVMX_CAP_##i, (uint64_t)(bits), 0}
#define CPUID(leaf, sub, reg, v) {OP_CPUID, (leaf), ((uint64_t)(sub) << 8) | (reg), (uint64_t)(v)}
#define MEM8(gpa, v) {OP_MEM8, 0, (gpa), (uint64_t)(v)}
#define MEM32(gpa, v) {OP_MEM32, 0, (gpa), (uint64_t)(v)}
#define MEM64(gpa, v) {OP_MEM64, 0, (gpa), (uint64_t)(v)}
#define MSR(i, idx, v) {OP_MSR, (i), (uint64_t)(idx), (uint64_t)(v)}
#define MSRS(n, idx, v) {OP_MSRS, (n), (uint64_t)(idx), (uint64_t)(v)}
#define IN(f, v) {OP_IN, IN_##f, (uint64_t)(v), 0}
#define REV(v) {OP_REV, 0, (uint64_t)(v), 0}
/* Register names of CPUID outputs. */
#define EAX 0
#define EBX 1
#define ECX 2
#define EDX 3

/* Expected verdicts, written as the SDM states them. */
#define OK VCORE_VMX_ENTRY_OK, 0, 0
#define VFI VCORE_VMX_VMFAIL_INVALID, 0, 0
#define VF(n) VCORE_VMX_VMFAIL_VALID, (n), 0
#define EX(reason, qual) VCORE_VMX_ENTRY_FAIL_EXIT, (reason), (qual)

typedef struct ck_case {
    const char *name;
    uint32_t kind, num;
    uint64_t qual;
    uint32_t check;  /* the deciding check (0 for ENTRY_OK) */
    uint32_t report; /* a check report-all must list (0: none) */
    ck_mu_t mu[10];
} ck_case_t;

/* C: the named check decides; OKC: entry succeeds (a boundary the SDM
 * allows); R: `rep` is reported in report-all mode (it never decides
 * because an earlier rule fails first). */
#define C(name, verdict, id, ...) {name, verdict, VCORE_VMX_CHECK_##id, 0, {__VA_ARGS__}}
#define OKC(name, ...) {name, OK, 0, 0, {__VA_ARGS__}}
#define R(name, verdict, id, rep, ...) {name, verdict, VCORE_VMX_CHECK_##id, VCORE_VMX_CHECK_##rep, {__VA_ARGS__}}

typedef struct ck {
    uint8_t page[VCORE_VMCS12_SIZE] __attribute__((aligned(8)));
    vcore_nvmx_caps_t caps;
    vcore_cpuid_entry_t cpuid[32];
    uint32_t ncpuid;
    uint8_t *ram;
    uint32_t reads;
    vcore_nvmx_mem_t mem;
    vcore_vmx_check_input_t in;
    vcore_vmx_verdict_t out;
    vcore_vmx_check_failure_t fail[CK_MAXFAIL];
} ck_t;

/* Every check id any run produced (verdict or report-all), index id - 0x4000. */
extern uint8_t ck_hit[0x1000];

void ck_init(ck_t *k);
void ck_fini(ck_t *k);
void ck_state(ck_t *k, uint32_t st);
void ck_apply(ck_t *k, const ck_mu_t *mu, size_t n);
void ck_set(ck_t *k, uint32_t enc, uint64_t v);
uint64_t ck_get(const ck_t *k, uint32_t enc);
void ck_cpuid(ck_t *k, uint32_t leaf, uint32_t sub, uint32_t reg, uint32_t v);
/* Runs verdict-only and report-all, checks that they agree, records hits.
 * Returns the number of failures report-all found. */
uint32_t ck_run(ck_t *k);
/* Runs one case from scratch and asserts its expectations. */
void ck_case_run(const ck_case_t *cs);
/* True when report-all (after ck_run) lists `id`. */
bool ck_reported(const ck_t *k, uint32_t id);

#endif
