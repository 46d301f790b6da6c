/*
 * core_bench.c - the cost of the core's hot paths, for callgrind.
 *
 *   bench_core OP ITERATIONS
 *
 * Runs OP ITERATIONS times with callgrind's collection switched on around
 * the loop only (CALLGRIND_TOGGLE_COLLECT; a no-op outside valgrind), so
 *   valgrind --tool=callgrind --collect-atstart=no bench_core OP N
 * reports the instructions of N operations (bench/callgrind.sh divides).
 * Without valgrind it prints nanoseconds per operation, for orientation
 * only. Ops:
 *   set_cpuid_256   vcore_vcpu_set_cpuid() of a 256-entry table (16 functions x 16 sub-leaves)
 *   set_cpuid_256_one  the same with 255 sub-leaves of one function (the old check's worst case)
 *   set_sregs       vcore_vcpu_set_sregs() of the current values
 *   set_msr_pat     vcore_vcpu_set_msr(IA32_PAT)
 *   read_guest      vcore_vm_read_guest() of 8 bytes, 32 regions mapped, the last one hit
 *   read_guest_alt  the same, alternating between the first and the last region
 *   shadow_sync     vcore_nvmx_shadow_sync_to() of the shadowed fields
 *   vmread          vcore_nvmx_emulate() of VMREAD with register operands
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nvmx.h>

static volatile uint64_t sink;
static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static vcore_cpuid_entry_t table[VCORE_CPUID_MAX_ENTRIES];
static vcore_cpuid_entry_t table_one[VCORE_CPUID_MAX_ENTRIES];
static uint8_t ram[32][4096] __attribute__((aligned(4096)));
static uint8_t l1ram[64 * 1024] __attribute__((aligned(4096)));
static uint8_t nvmx_store[6 * 4096] __attribute__((aligned(16)));
static vcore_nvmx_t *nvmx;
static vcore_nvmx_mem_t mem = {.size = sizeof(vcore_nvmx_mem_t)};
static vcore_nvmx_insn_t insn;
static uint8_t bitmap[4096];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void check(int err, const char *what)
{
    if (err) {
        fprintf(stderr, "bench_core: %s: %s\n", what, vcore_err_name(err));
        exit(1);
    }
}

static int mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= sizeof(l1ram) || len > sizeof(l1ram) - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, l1ram + gpa, len);
    return VCORE_OK;
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= sizeof(l1ram) || len > sizeof(l1ram) - gpa)
        return VCORE_ERR_FAULT;
    memcpy(l1ram + gpa, buf, len);
    return VCORE_OK;
}

static int null_write(void *ctx, uint32_t enc, uint64_t value)
{
    (void)ctx;
    sink += enc ^ value;
    return VCORE_OK;
}

/* A mock VM, 32 one-page regions, one vCPU. */
static void setup_vm(void)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    check(vcore_vm_create(&cfg, &vm), "vm_create");
    for (uint32_t i = 0; i < 32; i++) {
        vcore_mem_region_t r = {sizeof(r), (uint64_t)i << 20, 4096, ram[i], 0};
        check(vcore_vm_map_memory(vm, &r), "map");
    }
    check(vcore_vcpu_create(vm, NULL, &vcpu), "vcpu_create");
    /* 256 distinct entries: leaf 0 with the maximum, then sub-leaves. */
    for (uint32_t i = 0; i < VCORE_CPUID_MAX_ENTRIES; i++) {
        table[i].function = 0x4u + i / 16;
        table[i].index = i % 16;
        table[i].flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
        table[i].eax = i;
    }
    table[0].function = 0;
    table[0].index = 0;
    table[0].flags = 0;
    table[0].eax = 0x13;
    for (uint32_t i = 0; i < VCORE_CPUID_MAX_ENTRIES; i++) {
        table_one[i] = table[i];
        table_one[i].function = i ? 4u : 0u;
        table_one[i].index = i;
    }
}

/* Nested state in VMX operation with a current VMCS, for shadow_sync/vmread. */
static void setup_nvmx(void)
{
    vcore_nvmx_config_t cfg = {.size = sizeof(cfg), .maxphyaddr = 40};
    cfg.caps.size = sizeof(cfg.caps);
    check(vcore_nvmx_caps_emulated(&cfg.caps), "caps");
    check(vcore_nvmx_init(nvmx_store, sizeof(nvmx_store), &cfg, &nvmx, NULL), "nvmx_init");
    mem.read = mem_read;
    mem.write = mem_write;
    uint32_t rev = (uint32_t)(cfg.caps.msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu);
    memcpy(l1ram + 0x1000, &rev, 4);
    memcpy(l1ram + 0x2000, &rev, 4);
    memset(&insn, 0, sizeof(insn));
    insn.size = sizeof(insn);
    insn.regs.size = sizeof(insn.regs);
    insn.sregs.size = sizeof(insn.sregs);
    insn.sregs.cr0 = 0x80000031u;
    insn.sregs.cr4 = 0x2020u;
    insn.sregs.efer = 0x500u;
    insn.sregs.seg[VCORE_X86_CS].ar = 0xa09bu;
    insn.sregs.seg[VCORE_X86_SS].ar = 0xc093u;
    insn.feature_control = 5;
    insn.insn_len = 3;
    vcore_nvmx_result_t res = {.size = sizeof(res)};
    /* VMXON [rax=0x1000], VMPTRLD [rax=0x2000] with flat paging off is not
     * possible in 64-bit mode: memory operands are physical here only in
     * the sense of the identity map below. */
    uint64_t *pml4 = (uint64_t *)(void *)(l1ram + 0x8000);
    uint64_t *pdpt = (uint64_t *)(void *)(l1ram + 0x9000);
    uint64_t *pd = (uint64_t *)(void *)(l1ram + 0xa000);
    pml4[0] = 0x9000 | 3;
    pdpt[0] = 0xa000 | 3;
    pd[0] = 0x83;
    insn.sregs.cr3 = 0x8000;
    uint64_t ptr = 0x1000;
    memcpy(l1ram + 0x3000, &ptr, 8);
    ptr = 0x2000;
    memcpy(l1ram + 0x3008, &ptr, 8);
    insn.insn_info = (2u << 7) | (3u << 15) | (1u << 22); /* DS:[RAX] */
    insn.regs.gpr[VCORE_X86_RAX] = 0x3000;
    insn.op = VCORE_NVMX_VMXON;
    check(vcore_nvmx_emulate(nvmx, &mem, &insn, &res), "vmxon");
    insn.regs.gpr[VCORE_X86_RAX] = 0x3008;
    insn.op = VCORE_NVMX_VMPTRLD;
    check(vcore_nvmx_emulate(nvmx, &mem, &insn, &res), "vmptrld");
    if (res.outcome != VCORE_NVMX_OUT_SUCCEED) {
        fprintf(stderr, "bench_core: VMPTRLD outcome %u diag %#x\n", res.outcome, res.diag);
        exit(1);
    }
    /* VMREAD RCX <- field in RDX (GUEST_RIP). */
    insn.op = VCORE_NVMX_VMREAD;
    insn.insn_info = (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28);
    insn.regs.gpr[VCORE_X86_RDX] = VCORE_VMCS_GUEST_RIP;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_core OP ITERATIONS\n");
        return 2;
    }
    const char *op = argv[1];
    unsigned long n = strtoul(argv[2], NULL, 0);
    setup_vm();
    setup_nvmx();
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    check(vcore_vcpu_get_sregs(vcpu, &s), "get_sregs");
    vcore_nvmx_result_t res = {.size = sizeof(res)};
    uint64_t v;
    int known = 1;
    double t0 = now_ns();
    CALLGRIND_TOGGLE_COLLECT;
    if (!strcmp(op, "set_cpuid_256")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_vcpu_set_cpuid(vcpu, table, VCORE_CPUID_MAX_ENTRIES);
    } else if (!strcmp(op, "set_cpuid_256_one")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_vcpu_set_cpuid(vcpu, table_one, VCORE_CPUID_MAX_ENTRIES);
    } else if (!strcmp(op, "set_sregs")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_vcpu_set_sregs(vcpu, &s);
    } else if (!strcmp(op, "set_msr_pat")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, VCORE_PAT_DEFAULT);
    } else if (!strcmp(op, "read_guest")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_vm_read_guest(vm, 31ull << 20, &v, 8) + v;
    } else if (!strcmp(op, "read_guest_alt")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_vm_read_guest(vm, (i & 1) ? 31ull << 20 : 0, &v, 8) + v;
    } else if (!strcmp(op, "shadow_sync")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_nvmx_shadow_sync_to(nvmx, bitmap, null_write, NULL);
    } else if (!strcmp(op, "vmread")) {
        for (unsigned long i = 0; i < n; i++)
            sink += (uint64_t)vcore_nvmx_emulate(nvmx, &mem, &insn, &res) + res.gpr_value;
    } else {
        known = 0;
    }
    CALLGRIND_TOGGLE_COLLECT;
    double t1 = now_ns();
    if (!known) {
        fprintf(stderr, "bench_core: unknown op %s\n", op);
        return 2;
    }
    printf("%s: %lu iterations, %.1f ns/op (wall time, orientation only)\n", op, n,
           n ? (t1 - t0) / (double)n : 0.0);
    vcore_vm_destroy(vm);
    return 0;
}
