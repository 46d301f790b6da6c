/*
 * vmx_check_bench.c - cost of one full pass of the VM-entry checks
 * (vcore_vmx_check_entry()) on a valid state, and on a state that fails
 * late (the fifth entry of the VM-entry MSR-load list, after every other
 * check passed). Prints nanoseconds per pass; under callgrind
 * (bench/vmx_check_callgrind.sh) it gives exact instruction counts. Never
 * fails on time.
 *
 *   bench_vmx_check [valid|late|all] [iterations]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/vmcs.h>
#include <virtcore/x86/vmx_checks.h>

#define RAM (256u * 1024u)
#define MSR_LIST 0x30000u
#define LINK 0x31000u

static uint8_t ram[RAM];
static uint8_t page[VCORE_VMCS12_SIZE] __attribute__((aligned(8)));
static volatile uint32_t sink;

/* Bochs 2.7 corei7_skylake_x capability MSRs 480H-491H. */
static const uint64_t caps_msr[VCORE_NVMX_NR_CAPS] = {
    0x00d810000000002bull, 0x0000007f00000016ull, 0xf7f9fffe0401e172ull, 0x007fffff00036dffull,
    0x0000ffff000011ffull, 0x00000000600401e0ull, 0x0000000080000021ull, 0x00000000ffffffffull,
    0x0000000000002000ull, 0x00000000003727ffull, 0x0000000000000034ull, 0x02177fff00000000ull,
    0x00000f0106334141ull, 0x0000007f00000016ull, 0xf7f9fffe04006172ull, 0x007fffff00036dfbull,
    0x0000ffff000011fbull, 0x0000000000000001ull,
};

static int mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM || len > RAM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, ram + gpa, len);
    return VCORE_OK;
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    (void)gpa;
    (void)buf;
    (void)len;
    return VCORE_ERR_FAULT;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void set(uint32_t enc, uint64_t v)
{
    if (vcore_vmcs12_set(page, enc, v) != VCORE_OK) {
        fprintf(stderr, "field %#x is not a vmcs12 field\n", enc);
        exit(1);
    }
}

static void msr_entry(uint32_t i, uint32_t index, uint64_t value)
{
    uint64_t lo = index;
    memcpy(ram + MSR_LIST + 16 * i, &lo, 8);
    memcpy(ram + MSR_LIST + 16 * i + 8, &value, 8);
}

/* A 64-bit guest with EPT, VPID, MSR and I/O bitmaps, PAT/EFER loading and
 * a flat segment set: a state a 64-bit L1 hypervisor typically uses. */
static void valid_state(void)
{
    uint32_t rev = 0x2b;
    memset(page, 0, sizeof(page));
    memcpy(page, &rev, 4);
    set(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | 0x1 | 0x8);
    set(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 25) | (1u << 28) | (1u << 31));
    set(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, (1u << 1) | (1u << 5));
    set(VCORE_VMCS_EPT_POINTER, 0x2001e);
    set(VCORE_VMCS_VIRTUAL_PROCESSOR_ID, 1);
    set(VCORE_VMCS_IO_BITMAP_A, 0x10000);
    set(VCORE_VMCS_IO_BITMAP_B, 0x11000);
    set(VCORE_VMCS_MSR_BITMAP, 0x12000);
    set(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfbu | (1u << 9) | (1u << 15) | (1u << 19) | (1u << 21));
    set(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fbu | (1u << 9) | (1u << 14) | (1u << 15));
    set(VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    set(VCORE_VMCS_HOST_CR0, 0x80050033);
    set(VCORE_VMCS_HOST_CR3, 0x1000);
    set(VCORE_VMCS_HOST_CR4, 0x2020);
    set(VCORE_VMCS_HOST_CS_SELECTOR, 0x08);
    set(VCORE_VMCS_HOST_SS_SELECTOR, 0x10);
    set(VCORE_VMCS_HOST_DS_SELECTOR, 0x10);
    set(VCORE_VMCS_HOST_ES_SELECTOR, 0x10);
    set(VCORE_VMCS_HOST_TR_SELECTOR, 0x18);
    set(VCORE_VMCS_HOST_TR_BASE, 0xffffffff81004000ull);
    set(VCORE_VMCS_HOST_GDTR_BASE, 0xffffffff81005000ull);
    set(VCORE_VMCS_HOST_IDTR_BASE, 0xffffffff81006000ull);
    set(VCORE_VMCS_HOST_IA32_PAT, 0x0007040600070406ull);
    set(VCORE_VMCS_HOST_IA32_EFER, 0xd01);
    set(VCORE_VMCS_HOST_RIP, 0xffffffff81000000ull);
    set(VCORE_VMCS_GUEST_CR0, 0x80050033);
    set(VCORE_VMCS_GUEST_CR3, 0x1000);
    set(VCORE_VMCS_GUEST_CR4, 0x2020);
    set(VCORE_VMCS_GUEST_DR7, 0x400);
    set(VCORE_VMCS_GUEST_RIP, 0xffffffff81000000ull);
    set(VCORE_VMCS_GUEST_RFLAGS, 0x202);
    set(VCORE_VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);
    set(VCORE_VMCS_GUEST_IA32_EFER, 0xd01);
    set(VCORE_VMCS_GUEST_CS_SELECTOR, 0x08);
    set(VCORE_VMCS_GUEST_CS_LIMIT, 0xffffffff);
    set(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa09b);
    for (uint32_t f = VCORE_VMCS_GUEST_ES_SELECTOR; f <= VCORE_VMCS_GUEST_GS_SELECTOR; f += 2) {
        if (f == VCORE_VMCS_GUEST_CS_SELECTOR)
            continue;
        set(f, 0x10);
        set(f - VCORE_VMCS_GUEST_ES_SELECTOR + VCORE_VMCS_GUEST_ES_LIMIT, 0xffffffff);
        set(f - VCORE_VMCS_GUEST_ES_SELECTOR + VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc093);
    }
    set(VCORE_VMCS_GUEST_LDTR_AR_BYTES, 0x10000);
    set(VCORE_VMCS_GUEST_TR_SELECTOR, 0x18);
    set(VCORE_VMCS_GUEST_TR_BASE, 0xffffffff81004000ull);
    set(VCORE_VMCS_GUEST_TR_LIMIT, 0x67);
    set(VCORE_VMCS_GUEST_TR_AR_BYTES, 0x8b);
    set(VCORE_VMCS_GUEST_GDTR_BASE, 0xffffffff81005000ull);
    set(VCORE_VMCS_GUEST_GDTR_LIMIT, 0x7f);
    set(VCORE_VMCS_GUEST_IDTR_BASE, 0xffffffff81006000ull);
    set(VCORE_VMCS_GUEST_IDTR_LIMIT, 0xfff);
}

/* The valid state plus a VMCS link pointer to a VMCS and an MSR-load list
 * whose fifth entry (IA32_FS_BASE) cannot be loaded: exit 34, entry 5. */
static void late_state(void)
{
    uint32_t rev = 0x2b;
    valid_state();
    memcpy(ram + LINK, &rev, 4);
    set(VCORE_VMCS_VMCS_LINK_POINTER, LINK);
    msr_entry(0, 0xc0000081u, 0x0023001000000000ull); /* STAR */
    msr_entry(1, 0xc0000082u, 0xffffffff81000000ull); /* LSTAR */
    msr_entry(2, 0xc0000084u, 0x47700);               /* FMASK */
    msr_entry(3, 0xc0000102u, 0);                     /* KERNEL_GS_BASE */
    msr_entry(4, 0xc0000100u, 0);                     /* FS_BASE: refused */
    set(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSR_LIST);
    set(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 5);
}

static void run(const char *name, void (*build)(void), uint32_t iters, const vcore_vmx_check_input_t *in)
{
    vcore_vmx_verdict_t v = {.size = sizeof(v)};
    double t0, t1;

    build();
    if (vcore_vmx_check_entry(in, &v, NULL, 0) != VCORE_OK) {
        fprintf(stderr, "check failed to run\n");
        exit(1);
    }
    t0 = now_ns();
    for (uint32_t i = 0; i < iters; i++) {
        if (vcore_vmx_check_entry(in, &v, NULL, 0) != VCORE_OK)
            exit(1);
        sink += v.check;
    }
    t1 = now_ns();
    printf("%-6s verdict kind %u check %#x exit reason %#x qualification %llu: %.1f ns per pass (%u passes)\n",
           name, v.kind, v.check, v.exit_reason, (unsigned long long)v.qualification, (t1 - t0) / iters, iters);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    uint32_t iters = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 2000000u;
    vcore_nvmx_caps_t caps = {.size = sizeof(caps)};
    vcore_nvmx_mem_t mem = {.size = sizeof(mem), .ctx = NULL, .read = mem_read, .write = mem_write};
    /* A small CPUID table: leaf 7 without LA57, an architectural PMU. */
    vcore_cpuid_entry_t cpuid[] = {
        {0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69},
        {1, 0, 0, 0x50654, 0, 0x7ffefbff, 0xbfebfbff},
        {7, 0, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 0, 0xd19f4fbb, 0x0000000c, 0x9c000400},
        {0xa, 0, 0, 0x07300404, 0, 0, 0x603},
        {0x80000008u, 0, 0, 0x3028, 0, 0, 0},
    };
    vcore_vmx_check_input_t in = {.size = sizeof(in)};

    memcpy(caps.msr, caps_msr, sizeof(caps.msr));
    in.vmcs12 = page;
    in.caps = &caps;
    in.maxphyaddr = 40;
    in.l1_efer = 0xd01;
    in.current_vmptr = 0x20000;
    in.vmxon_ptr = 0x21000;
    in.cpuid = cpuid;
    in.ncpuid = sizeof(cpuid) / sizeof(cpuid[0]);
    in.mem = &mem;
    printf("vcore_vmx_check_entry: %u checks in the table\n", vcore_vmx_check_count());
    if (!strcmp(which, "valid") || !strcmp(which, "all"))
        run("valid", valid_state, iters, &in);
    if (!strcmp(which, "late") || !strcmp(which, "all"))
        run("late", late_state, iters, &in);
    return 0;
}
