/*
 * kvm_exit_loop.c - exits per second through libvirtcore vs. raw KVM ioctls.
 *
 * The same 64-bit guest (`1: out %al, $0x80; jmp 1b`) runs in two VMs of
 * this process: one driven by vcore_vcpu_run(), one by a bare KVM_RUN loop
 * on its own /dev/kvm file descriptors. Each side is timed over the same
 * number of I/O exits, in alternating rounds so both see the same machine
 * conditions; the best round of each side is reported with the ratio.
 *
 * Usage: bench_kvm_exit_loop [exits-per-round] [rounds]
 * Exit status 77 when /dev/kvm is not usable; numbers only, never a verdict.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <virtcore/virtcore.h>

#define RAM_SIZE (2u << 20)
#define CODE_GPA 0x1000u
#define PML4_GPA 0x10000u
#define PORT 0x80

/* 64-bit code: out %al, $0x80; jmp back to the out. */
static const uint8_t guest_code[] = {0xe6, PORT, 0xeb, 0xfc};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* RAM with the code and identity-mapped 2 MiB (one large page). */
static void *make_ram(void)
{
    uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED)
        return NULL;
    memcpy(ram + CODE_GPA, guest_code, sizeof guest_code);
    uint64_t *pml4 = (uint64_t *)(ram + PML4_GPA);
    uint64_t *pdpt = (uint64_t *)(ram + PML4_GPA + 0x1000);
    uint64_t *pd = (uint64_t *)(ram + PML4_GPA + 0x2000);
    pml4[0] = (PML4_GPA + 0x1000) | 3; /* present, writable */
    pdpt[0] = (PML4_GPA + 0x2000) | 3;
    pd[0] = 0x83;                      /* 2 MiB page at 0, present, writable */
    return ram;
}

/* ---- the raw side ----------------------------------------------------------- */

struct raw_vm {
    int kvm, vm, vcpu;
    struct kvm_run *run;
    size_t run_size;
};

static int raw_setup(struct raw_vm *r, void *ram)
{
    static struct {
        struct kvm_cpuid2 c;
        struct kvm_cpuid_entry2 e[256];
    } cpuid;
    r->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (r->kvm < 0)
        return -1;
    r->vm = ioctl(r->kvm, KVM_CREATE_VM, 0);
    if (r->vm < 0)
        return -1;
    struct kvm_userspace_memory_region m = {0, 0, 0, RAM_SIZE, (uint64_t)(uintptr_t)ram};
    if (ioctl(r->vm, KVM_SET_USER_MEMORY_REGION, &m) < 0)
        return -1;
    r->vcpu = ioctl(r->vm, KVM_CREATE_VCPU, 0);
    int sz = ioctl(r->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (r->vcpu < 0 || sz <= 0)
        return -1;
    r->run_size = (size_t)sz;
    r->run = mmap(NULL, r->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->vcpu, 0);
    if (r->run == MAP_FAILED)
        return -1;
    cpuid.c.nent = 256;
    if (ioctl(r->kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0 ||
        ioctl(r->vcpu, KVM_SET_CPUID2, &cpuid) < 0)
        return -1;
    struct kvm_sregs s;
    if (ioctl(r->vcpu, KVM_GET_SREGS, &s) < 0)
        return -1;
    struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 8, .type = 11,
                               .present = 1, .s = 1, .l = 1, .g = 1};
    struct kvm_segment data = {.base = 0, .limit = 0xffffffff, .selector = 16, .type = 3,
                               .present = 1, .s = 1, .db = 1, .g = 1};
    s.cs = code;
    s.ds = s.es = s.ss = s.fs = s.gs = data;
    s.cr3 = PML4_GPA;
    s.cr4 = 1u << 5;                    /* PAE */
    s.efer = (1u << 8) | (1u << 10);    /* LME, LMA */
    s.cr0 = 0x80000011;                 /* PG, ET, PE */
    if (ioctl(r->vcpu, KVM_SET_SREGS, &s) < 0)
        return -1;
    struct kvm_regs g;
    memset(&g, 0, sizeof g);
    g.rip = CODE_GPA;
    g.rflags = 2;
    return ioctl(r->vcpu, KVM_SET_REGS, &g) < 0 ? -1 : 0;
}

static double raw_loop(struct raw_vm *r, unsigned long n)
{
    double t0 = now_s();
    for (unsigned long i = 0; i < n; i++) {
        if (ioctl(r->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                i--;
                continue;
            }
            perror("KVM_RUN");
            exit(1);
        }
        if (r->run->exit_reason != KVM_EXIT_IO || r->run->io.port != PORT) {
            fprintf(stderr, "raw: unexpected exit %u\n", r->run->exit_reason);
            exit(1);
        }
    }
    return now_s() - t0;
}

/* ---- the library side -------------------------------------------------------- */

static int lib_fail(int err, const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, vcore_strerror(err));
    return -1;
}

static int lib_setup(vcore_vm_t **vm, vcore_vcpu_t **vcpu, void *ram)
{
    static vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES];
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    int err = vcore_vm_create(&cfg, vm);
    if (err)
        return lib_fail(err, "vm");
    vcore_mem_region_t m = {.size = sizeof m, .gpa = 0, .len = RAM_SIZE, .hva = ram};
    if ((err = vcore_vm_map_memory(*vm, &m)) != 0)
        return lib_fail(err, "map");
    if ((err = vcore_vcpu_create(*vm, NULL, vcpu)) != 0)
        return lib_fail(err, "vcpu");
    uint32_t n = 0;
    if ((err = vcore_kvm_get_supported_cpuid(*vm, t, VCORE_CPUID_MAX_ENTRIES, &n)) != 0)
        return lib_fail(err, "supported cpuid");
    /* Hosts that list XSAVE components without CPUID.1:ECX.XSAVE: add the
     * bit so the table is consistent (see examples/longmode). */
    uint32_t xs = 0;
    for (uint32_t i = 0; i < n; i++)
        if (t[i].function == 0xd && t[i].index == 0)
            xs = t[i].eax;
    for (uint32_t i = 0; i < n; i++)
        if (t[i].function == 1 && (xs & 3u) == 3u)
            t[i].ecx |= 1u << 26;
    if ((err = vcore_vcpu_set_cpuid(*vcpu, t, n)) != 0)
        return lib_fail(err, "cpuid");
    vcore_x86_sregs_t s = {.size = sizeof s};
    if ((err = vcore_vcpu_get_sregs(*vcpu, &s)) != 0)
        return lib_fail(err, "get sregs");
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        if (i == VCORE_X86_LDTR || i == VCORE_X86_TR)
            continue;
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffff;
        s.seg[i].selector = i == VCORE_X86_CS ? 8 : 16;
        s.seg[i].ar = i == VCORE_X86_CS ? 0xa09b : 0xc093; /* 64-bit code / flat data */
    }
    s.cr3 = PML4_GPA;
    s.cr4 = 1u << 5;
    s.efer = (1u << 8) | (1u << 10);
    s.cr0 = 0x80000011;
    if ((err = vcore_vcpu_set_sregs(*vcpu, &s)) != 0)
        return lib_fail(err, "set sregs");
    vcore_x86_regs_t g = {.size = sizeof g};
    if ((err = vcore_vcpu_get_regs(*vcpu, &g)) != 0)
        return lib_fail(err, "get regs");
    memset(g.gpr, 0, sizeof g.gpr);
    g.rip = CODE_GPA;
    g.rflags = 2;
    if ((err = vcore_vcpu_set_regs(*vcpu, &g)) != 0)
        return lib_fail(err, "set regs");
    return 0;
}

static double lib_loop(vcore_vcpu_t *vcpu, unsigned long n)
{
    vcore_exit_t ex;
    memset(&ex, 0, sizeof ex);
    ex.size = sizeof ex;
    double t0 = now_s();
    for (unsigned long i = 0; i < n; i++) {
        int err = vcore_vcpu_run(vcpu, &ex);
        if (err || ex.reason != VCORE_EXIT_IO || ex.u.io.port != PORT) {
            fprintf(stderr, "lib: run %d exit %s\n", err, vcore_exit_reason_name(ex.reason));
            exit(1);
        }
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 50000ul;
    int rounds = argc > 2 ? atoi(argv[2]) : 10;
    if (n == 0 || rounds <= 0)
        return 2;
    if (!vcore_backend_kvm() || !vcore_backend_available("kvm")) {
        printf("bench_kvm_exit_loop: /dev/kvm is not usable here; skipped\n");
        return 77;
    }
    void *ram_raw = make_ram(), *ram_lib = make_ram();
    struct raw_vm raw;
    vcore_vm_t *vm = NULL;
    vcore_vcpu_t *vcpu = NULL;
    if (!ram_raw || !ram_lib || raw_setup(&raw, ram_raw) != 0) {
        perror("bench: raw setup");
        return 1;
    }
    if (lib_setup(&vm, &vcpu, ram_lib) != 0)
        return 1;

    /* Warm up both (page faults on first touch, first-entry costs). */
    raw_loop(&raw, 2000);
    lib_loop(vcpu, 2000);

    double best_raw = 1e30, best_lib = 1e30;
    for (int r = 0; r < rounds; r++) {
        /* Alternate which side goes first, so neither always runs on a
         * warmer (or cooler) machine. */
        double tr, tl;
        if (r & 1) {
            tl = lib_loop(vcpu, n);
            tr = raw_loop(&raw, n);
        } else {
            tr = raw_loop(&raw, n);
            tl = lib_loop(vcpu, n);
        }
        if (tr < best_raw)
            best_raw = tr;
        if (tl < best_lib)
            best_lib = tl;
        printf("round %d: raw %.0f exits/s, library %.0f exits/s\n", r + 1, (double)n / tr,
               (double)n / tl);
    }
    double raw_rate = (double)n / best_raw, lib_rate = (double)n / best_lib;
    printf("kvm exit loop (OUT, %lu exits per round, best of %d):\n", n, rounds);
    printf("  raw KVM_RUN loop : %10.0f exits/s  (%.0f ns/exit)\n", raw_rate, 1e9 / raw_rate);
    printf("  libvirtcore      : %10.0f exits/s  (%.0f ns/exit)\n", lib_rate, 1e9 / lib_rate);
    printf("  ratio library/raw: %.4f  (library overhead %+.2f %%)\n", lib_rate / raw_rate,
           (raw_rate / lib_rate - 1.0) * 100.0);

    vcore_vm_destroy(vm);
    munmap(raw.run, raw.run_size);
    close(raw.vcpu);
    close(raw.vm);
    close(raw.kvm);
    munmap(ram_raw, RAM_SIZE);
    munmap(ram_lib, RAM_SIZE);
    return 0;
}
