/*
 * nsvm_svm_bench.c - exact backend cost of an L2 CPUID round trip through
 * nested SVM on the svm backend (its pure C against the strict fake of its
 * primitives, tests/unit/svm_fake.c, which enforces the SVM protocol, the
 * VMRUN checks and the clean-bit rule at every VMRUN).
 *
 * L1 runs "VMRUN; HLT" in a loop; L2 runs CPUID, which L1 intercepts. One
 * round is one vcore_vcpu_run: the HLT completed, L1's VMRUN (exit on
 * vmcb01, emulated by the core), vmcb02 written and run, L2's CPUID
 * #VMEXIT reflected to L1, L1 run to its HLT. L1 changes nothing between
 * rounds but L2's RIP in VMCB12 (it skips the CPUID). Counted after a
 * warm-up round: VMCB fields read and written by the backend (vmcb01 and
 * vmcb02 together), VMRUN, VMLOAD, VMSAVE issued, the clean bits of
 * vmcb02's VMRUN and of vmcb01's VMRUN after the #VMEXIT.
 *
 * With arguments "svm_round N" it runs N rounds with callgrind's collection
 * on around them only (bench/callgrind.sh bench_nsvm svm_round N).
 *
 * These are counts, not times: they are the same on every machine.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NSVM_BENCH_CALLGRIND
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT ((void)0)
#endif

#include "backend-svm/svm.h"
#include "svm_fake.h"

void nsvm_bench_svm(unsigned iterations);

extern const vcore_backend_t vcore__backend_svm_ops;

#define RAM_SIZE (4u << 20)
#define L1_RIP 0x10000u
#define L2_RIP 0x20000u
#define VMCB12 0x30000u

static vcore_host_cpu_t cpus[SVM_FAKE_MAX_CPUS];
static uint8_t cpu_pages[SVM_FAKE_MAX_CPUS][4096] __attribute__((aligned(4096)));
static uint8_t *ram;
static uint64_t vmcb01_pa;
static uint32_t clean02, clean01_after;
static unsigned phase; /* 0: L1 at VMRUN, 1: L2, 2: L1 after the #VMEXIT (HLT) */

static uint32_t cpu_index(void *ctx)
{
    (void)ctx;
    return svm_fake.this_cpu;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "nsvm_bench: %s failed (%d)\n", what, err);
    exit(1);
}

static void guest(svm_fake_t *f, vcore_vmcb_t *v, vcore__svm_gprs_t *g, void *arg)
{
    (void)g;
    (void)arg;
    bool l2 = (uint64_t)(uintptr_t)v != vmcb01_pa;
    if (l2) {
        clean02 = f->clean;
        svm_fake_exit(VCORE_VMEXIT_CPUID, 0, 0, v->save.rip + 2);
        phase = 2;
    } else if (phase == 2) {
        clean01_after = f->clean;
        /* L1's handler: L2 goes past its CPUID (VMCB12 RIP = nRIP). */
        uint64_t nrip;
        memcpy(&nrip, ram + VMCB12 + 0xc8, 8);
        memcpy(ram + VMCB12 + 0x578, &nrip, 8);
        svm_fake_exit(VCORE_VMEXIT_HLT, 0, 0, v->save.rip + 1);
        phase = 0;
    } else {
        v->save.rip = L1_RIP;
        v->save.rax = VMCB12;
        svm_fake_exit(VCORE_VMEXIT_VMRUN, 0, 0, L1_RIP + 3);
        phase = 1;
    }
}

static void put(uint64_t gpa, uint64_t v, size_t n)
{
    memcpy(ram + gpa, &v, n);
}

void nsvm_bench_svm(unsigned iterations)
{
    svm_fake_reset();
    vcore_host_t host = *vcore_host_default();
    for (unsigned i = 0; i < SVM_FAKE_MAX_CPUS; i++) {
        cpus[i].page = cpu_pages[i];
        cpus[i].page_phys = (uint64_t)(uintptr_t)cpu_pages[i];
    }
    host.cpu_index = cpu_index;
    host.cpus = cpus;
    host.ncpus = SVM_FAKE_MAX_CPUS;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
    cfg.host = &host;
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
    int err = vcore_vm_create(&cfg, &vm);
    if (err)
        die("vm_create", err);
    if (posix_memalign((void **)&ram, 2u << 20, RAM_SIZE))
        die("posix_memalign", -1);
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    if ((err = vcore_vm_map_memory(vm, &r)) != 0)
        die("map", err);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.vendor = VCORE_X86_VENDOR_AMD;
    vc.nested = VCORE_NESTED_SVM;
    if ((err = vcore_vcpu_create(vm, &vc, &vcpu)) != 0)
        die("vcpu_create", err);
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x68747541, .ecx = 0x444d4163, .edx = 0x69746e65},
        {.function = 1, .eax = 0x800f11, .edx = 0x178bfbff},
        {.function = 0x80000000, .eax = 0x8000000a},
        {.function = 0x80000001, .ecx = (1u << 2), .edx = (1u << 29) | (1u << 20) | (1u << 11)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    if ((err = vcore_vcpu_set_cpuid(vcpu, c, 5)) != 0)
        die("set_cpuid", err);
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    if ((err = vcore_vcpu_get_sregs(vcpu, &sr)) != 0)
        die("get_sregs", err);
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        sr.seg[i].selector = 0x10;
        sr.seg[i].limit = 0xffffffffu;
        sr.seg[i].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    }
    sr.seg[VCORE_X86_CS].selector = 8;
    sr.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_L | VCORE_X86_AR_G;
    sr.seg[VCORE_X86_LDTR].selector = 0;
    sr.seg[VCORE_X86_LDTR].ar = VCORE_X86_AR_UNUSABLE;
    sr.seg[VCORE_X86_TR].selector = 0x18;
    sr.seg[VCORE_X86_TR].limit = 0x67;
    sr.seg[VCORE_X86_TR].ar = VCORE_X86_AR_P | 0xbu;
    sr.cr0 = 0x80000031ull;
    sr.cr3 = 0x1000;
    sr.cr4 = 0x20;
    sr.efer = 0x1500;
    if ((err = vcore_vcpu_set_sregs(vcpu, &sr)) != 0)
        die("set_sregs", err);
    vcore_x86_regs_t rr = {.size = sizeof(rr)};
    rr.rip = L1_RIP;
    rr.rflags = 2;
    rr.gpr[VCORE_X86_RSP] = 0x3ff000;
    rr.gpr[VCORE_X86_RAX] = VMCB12;
    if ((err = vcore_vcpu_set_regs(vcpu, &rr)) != 0)
        die("set_regs", err);
    put(0x1000, 0x2003, 8);
    put(0x2000, 0x3003, 8);
    for (uint64_t i = 0; i < 512; i++)
        put(0x3000 + 8 * i, (i << 21) | 0x83, 8);
    /* VMCB12: a 64-bit L2, CPUID and VMRUN intercepted, clean bits all set
     * (L1 changes nothing of what they cover between rounds). */
    put(VMCB12 + 0x0c, 1u << 18, 4);
    put(VMCB12 + 0x10, 1, 4);
    put(VMCB12 + 0x58, 1, 4);
    put(VMCB12 + 0xc0, VCORE_VMCB_CLEAN_ALL_, 4);
    put(VMCB12 + 0x4d0, 0x1500, 8);
    put(VMCB12 + 0x558, 0x80000031, 8);
    put(VMCB12 + 0x550, 0x1000, 8);
    put(VMCB12 + 0x548, 0x20, 8);
    put(VMCB12 + 0x568, 0xffff0ff0, 8);
    put(VMCB12 + 0x560, 0x400, 8);
    put(VMCB12 + 0x570, 2, 8);
    put(VMCB12 + 0x578, L2_RIP, 8);
    put(VMCB12 + 0x5d8, 0x8000, 8);
    put(VMCB12 + 0x410, 8, 2);
    put(VMCB12 + 0x412, 0xa9b, 2);
    put(VMCB12 + 0x414, 0xffffffff, 4);
    put(VMCB12 + 0x420, 0x10, 2);
    put(VMCB12 + 0x422, 0xc93, 2);
    put(VMCB12 + 0x424, 0xffffffff, 4);
    put(VMCB12 + 0x668, 0x0007040600070406ull, 8);
    vcore__svm_vcpu_t *cp = vcore_vcpu_backend_priv(vcpu);
    vmcb01_pa = cp->vmcb_pa;
    svm_fake.guest = guest;
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    if (iterations) {
        /* callgrind: the instructions of `iterations` rounds after a warm-up
         * (bench/callgrind.sh bench_nsvm svm_round N). */
        for (unsigned round = 0; round < iterations + 2; round++) {
            if (round == 2)
                CALLGRIND_TOGGLE_COLLECT;
            if ((err = vcore_vcpu_run(vcpu, &e)) != 0 || e.reason != VCORE_EXIT_HLT)
                die("run", err);
        }
        CALLGRIND_TOGGLE_COLLECT;
        vcore_vcpu_destroy(vcpu);
        vcore_vm_destroy(vm);
        free(ram);
        return;
    }
    for (int round = 0; round < 3; round++) {
        uint64_t rd = cp->stats.vmcb_reads, wr = cp->stats.vmcb_writes, maps = cp->stats.map_bytes;
        uint64_t runs = svm_fake.n_vmrun, loads = svm_fake.n_vmload, saves = svm_fake.n_vmsave;
        if ((err = vcore_vcpu_run(vcpu, &e)) != 0)
            die("run", err);
        if (e.reason != VCORE_EXIT_HLT) {
            fprintf(stderr, "nsvm_bench: exit %u instead of L1's HLT\n", e.reason);
            exit(1);
        }
        if (round < 2)
            continue;
        printf("svm backend (strict fake), one round = L1 VMRUN + L2 CPUID #VMEXIT reflected + L1 to HLT:\n");
        printf("  VMCB fields read %llu, written %llu; VMRUN %llu, VMLOAD %llu, VMSAVE %llu\n",
               (unsigned long long)(cp->stats.vmcb_reads - rd), (unsigned long long)(cp->stats.vmcb_writes - wr),
               (unsigned long long)(svm_fake.n_vmrun - runs), (unsigned long long)(svm_fake.n_vmload - loads),
               (unsigned long long)(svm_fake.n_vmsave - saves));
        printf("  permission-map bytes copied into vmcb02's maps: %llu\n",
               (unsigned long long)(cp->stats.map_bytes - maps));
        printf("  clean bits: vmcb02 VMRUN 0x%03x, vmcb01 VMRUN after the #VMEXIT 0x%03x (all: 0x%03x)\n", clean02,
               clean01_after, (unsigned)VCORE_VMCB_CLEAN_ALL_);
    }
    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
    free(ram);
}
