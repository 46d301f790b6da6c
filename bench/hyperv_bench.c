/*
 * hyperv_bench.c - instructions per Hyper-V hypercall, for callgrind.
 *
 *   bench_hyperv OP ITERATIONS
 *
 * Measures the core's handling of one VMCALL exit (decode, input copy, VP
 * set mapping, delivery to every target) with callgrind's collection on
 * around the loop only; bench/callgrind.sh divides by ITERATIONS. The
 * vCPU state is already in the model, so no backend transfer is counted.
 * Ops:
 *   ipi_mask8            HvCallSendSyntheticClusterIpi, fast, 64-bit mask naming 8 vCPUs
 *   ipi_sparse4096       HvCallSendSyntheticClusterIpiEx, memory, sparse set of all
 *                        4,096 VP indexes (64 banks), 256 vCPUs, VP index = vCPU id
 *   ipi_sparse4096_mis   the same with one vCPU renumbered (the per-vCPU lookup path)
 *   ipi_sparse4096_map, ipi_sparse4096_mis_map
 *                        the two above with a VMM hook that delivers nothing
 *                        (VCORE_HV_DONE): decode and VP-set mapping alone
 *   flush_list100        HvCallFlushVirtualAddressList, memory, 100 GVA ranges, 8 vCPUs
 *   flush_list16         the same with 16 ranges (each target keeps the list)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>
#include <virtcore/virtcore.h>

/* The run loop's dispatch of a hypercall exit (src/core/x86/hyperv). */
int vcore__hv_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);

#define IN_GPA 0x2000u
static uint8_t ram[0x10000] __attribute__((aligned(4096)));
static vcore_vm_t *vm;
static vcore_vcpu_t *vcpus[VCORE_VM_MAX_VCPUS];

static void check(int err, const char *what)
{
    if (err) {
        fprintf(stderr, "bench_hyperv: %s: %s\n", what, vcore_err_name(err));
        exit(1);
    }
}

static void put64(uint64_t gpa, uint64_t v)
{
    memcpy(ram + gpa, &v, 8);
}

static int hook_done(void *ctx, vcore_vcpu_t *caller, vcore_hv_call_t *call)
{
    (void)ctx;
    (void)caller;
    (void)call;
    return VCORE_HV_DONE;
}

static void setup(uint32_t nvcpus, bool map_only)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.max_vcpus = nvcpus;
    check(vcore_vm_create(&cfg, &vm), "vm");
    vcore_hv_config_t hc;
    vcore_hv_config_init(&hc);
    if (map_only)
        hc.hook = hook_done;
    check(vcore_hv_enable(vm, &hc), "hv");
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = sizeof(ram), .hva = ram};
    check(vcore_vm_map_memory(vm, &r), "map");
    for (uint32_t i = 0; i < nvcpus; i++)
        check(vcore_vcpu_create(vm, NULL, &vcpus[i]), "vcpu");
    check(vcore_hv_set_msr(vcpus[0], VCORE_HV_MSR_GUEST_OS_ID, 1), "os id");
    /* vCPU 0: a 64-bit processor in flat 64-bit mode at CPL 0. */
    vcore_cpuid_entry_t t[4];
    memset(t, 0, sizeof(t));
    t[0].eax = 1;
    t[1].function = 1;
    t[1].edx = (1u << 6) | (1u << 13) | (1u << 9); /* PAE, PGE, APIC */
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000001u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 29) | (1u << 20) | (1u << 11); /* LM, NX, SYSCALL */
    check(vcore_vcpu_set_cpuid(vcpus[0], t, 4), "cpuid");
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    check(vcore_vcpu_get_sregs(vcpus[0], &s), "sregs");
    s.cr0 = 0x80000011u;
    s.cr4 = 1u << 5;
    s.efer = (1u << 8) | (1u << 10);
    s.seg[VCORE_X86_CS].ar = 0xbu | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_L;
    s.seg[VCORE_X86_SS].ar = 0x3u | VCORE_X86_AR_S | VCORE_X86_AR_P;
    check(vcore_vcpu_set_sregs(vcpus[0], &s), "set sregs");
}

static void set_call(uint64_t control, uint64_t rdx, uint64_t r8)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    check(vcore_vcpu_get_regs(vcpus[0], &r), "regs");
    r.gpr[VCORE_X86_RCX] = control;
    r.gpr[VCORE_X86_RDX] = rdx;
    r.gpr[VCORE_X86_R8] = r8;
    check(vcore_vcpu_set_regs(vcpus[0], &r), "set regs");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_hyperv OP ITERATIONS\n");
        return 2;
    }
    const char *op = argv[1];
    unsigned long n = strtoul(argv[2], NULL, 0);
    if (!strcmp(op, "ipi_mask8")) {
        setup(8, false);
        set_call(0x000b | (1ull << 16), 0x40, 0xff);
    } else if (!strncmp(op, "ipi_sparse4096", 14)) {
        setup(VCORE_VM_MAX_VCPUS, strstr(op, "_map") != NULL);
        put64(IN_GPA, 0x40);
        put64(IN_GPA + 8, 0);   /* sparse */
        put64(IN_GPA + 16, ~0ull); /* every bank */
        for (uint32_t b = 0; b < 64; b++)
            put64(IN_GPA + 24 + 8 * b, ~0ull);
        if (!strncmp(op, "ipi_sparse4096_mis", 18))
            check(vcore_hv_set_msr(vcpus[255], VCORE_HV_MSR_VP_INDEX, 4095), "vp index");
        else if (strcmp(op, "ipi_sparse4096") && strcmp(op, "ipi_sparse4096_map"))
            return 2;
        set_call(0x0015 | (64ull << 17), IN_GPA, 0);
    } else if (!strcmp(op, "flush_list100") || !strcmp(op, "flush_list16")) {
        uint32_t reps = !strcmp(op, "flush_list100") ? 100 : 16;
        setup(8, false);
        put64(IN_GPA, 0);
        put64(IN_GPA + 8, 0);
        put64(IN_GPA + 16, 0xff);
        for (uint32_t i = 0; i < reps; i++)
            put64(IN_GPA + 24 + 8 * i, 0x400000 + 0x2000 * (uint64_t)i + 1);
        set_call(0x0003 | ((uint64_t)reps << 32), IN_GPA, 0);
    } else {
        fprintf(stderr, "bench_hyperv: unknown op %s\n", op);
        return 2;
    }
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = VCORE_EXIT_HYPERCALL;
    bool handled = false;
    /* One call outside the measurement: it must succeed. */
    check(vcore__hv_dispatch(vcpus[0], &e, &handled), "dispatch");
    if (!handled || (e.u.hypercall.ret & 0xffff) != 0 || e.u.hypercall.fault) {
        fprintf(stderr, "bench_hyperv: %s: status %#llx\n", op, (unsigned long long)e.u.hypercall.ret);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CALLGRIND_TOGGLE_COLLECT;
    for (unsigned long i = 0; i < n; i++)
        check(vcore__hv_dispatch(vcpus[0], &e, &handled), "dispatch");
    CALLGRIND_TOGGLE_COLLECT;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
    printf("%s: %.1f ns/op (orientation only; use bench/callgrind.sh for instructions)\n", op, ns);
    vcore_vm_destroy(vm);
    return 0;
}
