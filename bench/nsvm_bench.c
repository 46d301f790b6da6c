/*
 * nsvm_bench.c - exact cost of an L2 CPUID round trip through nested SVM,
 * in the library's part of it: L1 executes VMRUN (emulated), L2 executes
 * CPUID which L1 intercepts (routed to L1, reflected as #VMEXIT), L1 goes
 * on. Counted in L1's memory (every access the library makes to guest
 * memory: reads and writes, bytes, VMCB12 fields written), for two L1s:
 *   - one using the VMCB clean bits and no permission maps (a minimal L1),
 *   - one with MSR and I/O permission maps (read and merged at each VMRUN),
 * and once more with L1's own VMLOAD/VMSAVE around VMRUN, as a KVM-like L1
 * does. Also printed: the clean bits vmcb02 (the VMCB L0 runs L2 with)
 * carries after the VMRUN. With the svm backend's pure C in the build,
 * the backend's VMCB and instruction counts of the round trip with L2 on a
 * hardware vmcb02 follow (nsvm_svm_bench.c).
 *
 * These are counts, not times: the same on every machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/x86/nsvm.h>

#define RAM (1u << 20)
#define VMCB12 0x10000ull
static uint8_t ram[RAM];

typedef struct counts {
    unsigned reads, writes, vmcb12_writes;
    size_t read_bytes, write_bytes;
} counts_t;
static counts_t c;

static int b_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    c.reads++;
    c.read_bytes += len;
    memcpy(buf, ram + gpa, len);
    return 0;
}

static int b_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    c.writes++;
    c.write_bytes += len;
    if (gpa >= VMCB12 && gpa < VMCB12 + 4096)
        c.vmcb12_writes++;
    memcpy(ram + gpa, buf, len);
    return 0;
}

static const vcore_nvmx_mem_t mem = {sizeof(vcore_nvmx_mem_t), NULL, b_read, b_write};

static const vcore_cpuid_entry_t cpuid[] = {
    {0x00000000u, 0, 0, 0x0000000du, 0x68747541u, 0x444d4163u, 0x69746e65u},
    {0x00000001u, 0, 0, 0x00800f11u, 0, 0, 0x178bfbffu},
    {0x80000000u, 0, 0, 0x8000000au, 0, 0, 0},
    {0x80000001u, 0, 0, 0, 0, (1u << 2), (1u << 29) | (1u << 20) | (1u << 11)},
};

static _Alignas(8) uint8_t state[256 * 1024];

#ifdef NSVM_BENCH_SVM
void nsvm_bench_svm(unsigned iterations); /* nsvm_svm_bench.c */
#endif

static void check(int err, const char *what)
{
    if (err != VCORE_OK) {
        fprintf(stderr, "nsvm_bench: %s failed (%d)\n", what, err);
        exit(1);
    }
}

static void run(const char *name, bool maps, bool vmload_vmsave)
{
    vcore_nsvm_config_t cfg;
    vcore_nsvm_t *n;
    vcore_diag_t d = {.size = sizeof(d)};
    memset(ram, 0, sizeof(ram));
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.svm_features = VCORE_NSVM_FEATURES_EMULATED;
    cfg.maxphyaddr = 40;
    cfg.l2_asid = 1;
    check(vcore_nsvm_init(state, sizeof(state), &cfg, &n, &d), "init");

    vcore_vmcb_t *v = (vcore_vmcb_t *)(void *)(ram + VMCB12);
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_VMRUN, true);
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_CPUID, true);
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_MSR_PROT, maps);
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_IOIO_PROT, maps);
    v->control.iopm_base_pa = 0x20000;
    v->control.msrpm_base_pa = 0x30000;
    v->control.asid = 1;
    v->save.efer = 0x1d01;
    v->save.cr0 = 0x80000031;
    v->save.cr3 = 0x40000;
    v->save.cr4 = 0x20;
    v->save.dr6 = 0xffff0ff0;
    v->save.dr7 = 0x400;
    v->save.rflags = 2;
    v->save.cs.attrib = 0x29b;
    v->save.g_pat = 0x0007040600070406ull;

    vcore_nsvm_insn_t in;
    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.insn_len = 3;
    in.regs.size = sizeof(in.regs);
    in.sregs.size = sizeof(in.sregs);
    in.regs.rflags = 2;
    in.regs.gpr[VCORE_X86_RAX] = VMCB12;
    in.sregs.efer = 0x1d01;
    in.sregs.cr0 = 0x80000011;
    in.sregs.cr3 = 0x50000;
    in.sregs.cr4 = 0x20;
    in.sregs.seg[VCORE_X86_CS].ar = 0x209b;
    in.sregs.seg[VCORE_X86_SS].ar = 0x93;
    in.cpuid = cpuid;
    in.ncpuid = sizeof(cpuid) / sizeof(cpuid[0]);
    vcore_nsvm_result_t res = {.size = sizeof(res)};
    for (int round = 0; round < 2; round++) {
        memset(&c, 0, sizeof(c));
        if (vmload_vmsave) {
            in.op = VCORE_NSVM_VMLOAD;
            check(vcore_nsvm_emulate(n, &mem, &in, &res, &d), "VMLOAD");
        }
        in.op = VCORE_NSVM_VMRUN;
        check(vcore_nsvm_emulate(n, &mem, &in, &res, &d), "VMRUN");
        if (res.outcome != VCORE_NSVM_OUT_ENTER_L2) {
            fprintf(stderr, "nsvm_bench: VMRUN did not enter L2\n");
            exit(1);
        }
        vcore_nsvm_l2_exit_t ex;
        memset(&ex, 0, sizeof(ex));
        ex.size = sizeof(ex);
        ex.exit_code = VCORE_VMEXIT_CPUID;
        ex.next_rip = res.regs.rip + 2;
        ex.regs = res.regs;
        ex.sregs = res.sregs;
        ex.msrs = res.msrs;
        uint32_t owner;
        check(vcore_nsvm_route(n, &mem, &ex, &owner), "route");
        check(vcore_nsvm_reflect(n, &mem, &ex, &res, &d), "reflect");
        if (vmload_vmsave) {
            in.op = VCORE_NSVM_VMSAVE;
            check(vcore_nsvm_emulate(n, &mem, &in, &res, &d), "VMSAVE");
        }
        /* The second round: L1 changed nothing, every clean bit set. */
        v->control.clean = VCORE_VMCB_CLEAN_ALL_;
    }
    printf("%-28s | %5u | %8zu | %6u | %8zu | %6u | 0x%03x\n", name, c.reads, c.read_bytes, c.writes,
           c.write_bytes, c.vmcb12_writes, vcore_nsvm_vmcb02(n)->control.clean);
}

int main(int argc, char **argv)
{
#ifdef NSVM_BENCH_SVM
    if (argc == 3 && strcmp(argv[1], "svm_round") == 0) {
        nsvm_bench_svm((unsigned)strtoul(argv[2], NULL, 10));
        return 0;
    }
#else
    (void)argv;
    if (argc > 1)
        return 2;
#endif
    printf("L2 CPUID round trip (L1's VMRUN emulated, the CPUID #VMEXIT reflected), second round:\n");
    printf("%-28s | reads | rd bytes | writes | wr bytes | VMCB12 | vmcb02 clean\n", "L1");
    run("clean bits, no maps", false, false);
    run("clean bits, MSRPM+IOPM", true, false);
    run("+ VMLOAD/VMSAVE by L1", false, true);
#ifdef NSVM_BENCH_SVM
    printf("\n");
    nsvm_bench_svm(0);
#endif
    return 0;
}
