/*
 * svm_bench.c - exact cost of a CPUID exit round trip on the svm backend.
 *
 * The backend's pure C runs against the strict fake of its primitives
 * (tests/unit/svm_fake.c, which enforces the SVM protocol and the VMCB
 * clean-bit rule on every VMRUN). A 64-bit guest executes CPUID (0F A2)
 * forever; the VMM answers each exit. After a warm-up, one round trip -
 * vcore_vcpu_run returning the CPUID exit, the answer completed by the
 * next vcore_vcpu_run up to the following exit - is counted:
 *   - VMCB fields read and written by the backend (its counted accessors);
 *   - VMRUN, VMLOAD, VMSAVE, CLGI, STGI, RDMSR, WRMSR, FXSAVE, FXRSTOR issued;
 *   - the VMCB clean bits set at the VMRUN (APM Vol. 2, "VMCB Clean Field")
 *     and TLB_CONTROL.
 * Two processors: one with NRIP save, clean bits and flush by ASID (a
 * current AMD part), and one with nested paging only (QEMU's
 * qemu64,+svm,+npt), where the backend finds the next RIP by decoding the
 * instruction and every clean bit must stay clear.
 *
 * These are counts, not times: they are the same on every machine.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-svm/svm.h"
#include "svm_fake.h"

extern const vcore_backend_t vcore__backend_svm_ops;

#define RAM_SIZE (4u << 20)
#define GCODE 0x10000u
#define ROUND_TRIPS 1000u

static vcore_host_cpu_t bench_cpus[SVM_FAKE_MAX_CPUS];
static uint8_t cpu_pages[SVM_FAKE_MAX_CPUS][4096] __attribute__((aligned(4096)));

static uint32_t bench_cpu_index(void *ctx)
{
    (void)ctx;
    return svm_fake.this_cpu;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "svm_bench: %s failed (%d)\n", what, err);
    exit(1);
}

/* The guest is the loop "L: CPUID; JMP L" at GCODE. Each VMRUN resumes
 * after a CPUID, takes the JMP and ends with the CPUID intercept at L; nRIP
 * is L + 2 where the processor saves it (the fake writes it only then). */
static void cpuid_guest(svm_fake_t *f, vcore_vmcb_t *v, vcore__svm_gprs_t *g, void *arg)
{
    (void)f;
    (void)g;
    (void)arg;
    v->save.rip = GCODE;
    svm_fake_exit(VCORE_VMEXIT_CPUID, 0, 0, GCODE + 2);
}

static void set_guest(vcore_vcpu_t *vcpu, uint8_t *ram)
{
    /* An AMD vCPU with long mode, NX and SYSCALL, 40-bit physical addresses. */
    vcore_cpuid_entry_t t[5];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 0x80000008u;
    t[0].ebx = 0x68747541; /* "AuthenticAMD" */
    t[0].edx = 0x69746e65;
    t[0].ecx = 0x444d4163;
    t[1].function = 1;
    t[1].eax = 0x00800f11;
    t[1].edx = 0x178bfbff;
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000008u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 11) | (1u << 20) | (1u << 29);
    t[4].function = 0x80000008u;
    t[4].eax = 0x3028;
    int err = vcore_vcpu_set_cpuid(vcpu, t, 5);
    if (err)
        die("set_cpuid", err);
    /* 64-bit mode, flat segments; page tables at 1000H map the first GiB with 2 MiB pages */
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    if ((err = vcore_vcpu_get_sregs(vcpu, &sr)) != 0)
        die("get_sregs", err);
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        sr.seg[i].selector = 0x10;
        sr.seg[i].base = 0;
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
    sr.efer = 0x500;
    if ((err = vcore_vcpu_set_sregs(vcpu, &sr)) != 0)
        die("set_sregs", err);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    r.rip = GCODE;
    r.rflags = 2;
    r.gpr[VCORE_X86_RSP] = 0x3ff000;
    if ((err = vcore_vcpu_set_regs(vcpu, &r)) != 0)
        die("set_regs", err);
    uint64_t *pml4 = (uint64_t *)(void *)(ram + 0x1000), *pdpt = pml4 + 512, *pd = pml4 + 1024;
    pml4[0] = 0x2003;
    pdpt[0] = 0x3003;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | 0x83;
    /* L: CPUID (0F A2); JMP L (EB FC) */
    static const uint8_t loop[] = {0x0f, 0xa2, 0xeb, 0xfc};
    memcpy(ram + GCODE, loop, sizeof(loop));
}

/* Answers the CPUID exit as a VMM does. */
static void answer(vcore_exit_t *e)
{
    if (e->reason != VCORE_EXIT_CPUID) {
        fprintf(stderr, "svm_bench: exit %u instead of CPUID (raw %#llx %#llx %#llx %#llx)\n", e->reason,
                (unsigned long long)e->raw.data[0], (unsigned long long)e->raw.data[1],
                (unsigned long long)e->raw.data[2], (unsigned long long)e->raw.data[3]);
        exit(1);
    }
    e->u.cpuid.eax = 0x11;
    e->u.cpuid.ebx = 0x22;
    e->u.cpuid.ecx = 0x33;
    e->u.cpuid.edx = 0x44;
}

static unsigned popcount32(uint32_t x)
{
    unsigned n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

static void profile(const char *name, uint32_t features)
{
    svm_fake_reset();
    svm_fake.svm_features = features;
    svm_fake.guest = cpuid_guest;
    vcore_host_t host = *vcore_host_default();
    memset(bench_cpus, 0, sizeof(bench_cpus));
    for (unsigned i = 0; i < SVM_FAKE_MAX_CPUS; i++) {
        bench_cpus[i].page = cpu_pages[i];
        bench_cpus[i].page_phys = (uint64_t)(uintptr_t)cpu_pages[i];
    }
    host.cpu_index = bench_cpu_index;
    host.cpus = bench_cpus;
    host.ncpus = SVM_FAKE_MAX_CPUS;

    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
    cfg.host = &host;
    vcore_vm_t *vm = NULL;
    vcore_vcpu_t *vcpu = NULL;
    int err = vcore_vm_create(&cfg, &vm);
    if (err)
        die("vm_create", err);
    void *mem = NULL;
    if (posix_memalign(&mem, 2u << 20, RAM_SIZE) != 0)
        die("posix_memalign", 0);
    uint8_t *ram = mem;
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t region = {sizeof(region), 0, RAM_SIZE, ram, 0};
    if ((err = vcore_vm_map_memory(vm, &region)) != 0)
        die("map_memory", err);
    if ((err = vcore_vcpu_create(vm, NULL, &vcpu)) != 0)
        die("vcpu_create", err);
    set_guest(vcpu, ram);
    vcore__svm_vcpu_t *c = vcore_vcpu_backend_priv(vcpu);

    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    /* warm-up: the first VMRUN with a new ASID may set no clean bit, and the
     * core's first run transfers the whole state */
    for (int i = 0; i < 3; i++) {
        if ((err = vcore_vcpu_run(vcpu, &e)) != 0)
            die("vcpu_run", err);
        answer(&e);
    }
    /* Every round trip is counted on its own: the counts are exact, and
     * the bench says so when two round trips differ. */
    enum { RD, WR, VMRUN, VMLOAD, VMSAVE, CLGI, STGI, RDMSR, WRMSR, FLUSH, FXSAVE, FXRSTOR, NCOUNT };
    static const char *const names[NCOUNT] = {"VMCB fields read", "VMCB fields written", "VMRUN", "VMLOAD",
                                              "VMSAVE", "CLGI", "STGI", "RDMSR", "WRMSR", "TLB flushes",
                                              "FXSAVE", "FXRSTOR"};
    uint64_t lo[NCOUNT], hi[NCOUNT], prev[NCOUNT], now[NCOUNT];
    uint32_t clean_lo = 0xffffffffu, clean_hi = 0, tlb_hi = 0;
    for (unsigned k = 0; k < NCOUNT; k++) {
        lo[k] = UINT64_MAX;
        hi[k] = 0;
    }
    for (unsigned i = 0; i <= ROUND_TRIPS; i++) {
        now[RD] = c->stats.vmcb_reads;
        now[WR] = c->stats.vmcb_writes;
        now[VMRUN] = svm_fake.n_vmrun;
        now[VMLOAD] = svm_fake.n_vmload;
        now[VMSAVE] = svm_fake.n_vmsave;
        now[CLGI] = svm_fake.n_clgi;
        now[STGI] = svm_fake.n_stgi;
        now[RDMSR] = svm_fake.n_rdmsr;
        now[WRMSR] = svm_fake.n_wrmsr;
        now[FLUSH] = svm_fake.n_flush;
        now[FXSAVE] = svm_fake.n_fxsave;
        now[FXRSTOR] = svm_fake.n_fxrstor;
        if (i > 0) {
            for (unsigned k = 0; k < NCOUNT; k++) {
                uint64_t d = now[k] - prev[k];
                lo[k] = d < lo[k] ? d : lo[k];
                hi[k] = d > hi[k] ? d : hi[k];
            }
            clean_lo = svm_fake.clean < clean_lo ? svm_fake.clean : clean_lo;
            clean_hi = svm_fake.clean > clean_hi ? svm_fake.clean : clean_hi;
            tlb_hi = svm_fake.tlb_control > tlb_hi ? svm_fake.tlb_control : tlb_hi;
        }
        memcpy(prev, now, sizeof(prev));
        if (i == ROUND_TRIPS)
            break;
        if ((err = vcore_vcpu_run(vcpu, &e)) != 0)
            die("vcpu_run", err);
        answer(&e);
    }
    printf("%s (Fn8000_000A_EDX = %#x)\n", name, features);
    printf("  one CPUID exit round trip (the same in each of %u):\n", ROUND_TRIPS);
    for (unsigned k = 0; k < NCOUNT; k++) {
        if (lo[k] == hi[k])
            printf("    %-22s %llu\n", names[k], (unsigned long long)lo[k]);
        else
            printf("    %-22s %llu..%llu (round trips differ)\n", names[k], (unsigned long long)lo[k],
                   (unsigned long long)hi[k]);
    }
    if (clean_lo == clean_hi)
        printf("    %-22s %#x: %u of the %u defined\n", "clean bits set", clean_lo, popcount32(clean_lo),
               popcount32((uint32_t)VCORE_VMCB_CLEAN_ALL_));
    else
        printf("    %-22s %#x..%#x (round trips differ)\n", "clean bits set", clean_lo, clean_hi);
    printf("    %-22s %u\n", "TLB_CONTROL (highest)", tlb_hi);
    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
    free(mem);
}

int main(void)
{
    profile("processor with NRIP save, clean bits, flush by ASID",
            VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS | VCORE_SVM_FEAT_VMCB_CLEAN | VCORE_SVM_FEAT_FLUSH_BY_ASID);
    profile("processor with nested paging only (QEMU qemu64,+svm,+npt)", VCORE_SVM_FEAT_NP);
    return 0;
}
