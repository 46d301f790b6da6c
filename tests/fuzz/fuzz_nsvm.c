/* libFuzzer target: L1's VMRUN through nested SVM on fuzzer-made VMCB12
 * pages, then one #VMEXIT of L2. The first bytes choose L1's mode (long,
 * legacy PAE, legacy 32-bit), the SVM features offered and the exit code;
 * the rest are written over a legal 64-bit VMCB12 at fuzzer offsets (or
 * form the raw page).
 *
 * Invariants: no crash; L0's controls and maps (vmcb01's) are never
 * changed; the same input gives the same outcome and the same vmcb02; a
 * refused VMRUN leaves no L2 and GIF clear; an entered L2 has every forced
 * intercept, no int_ctl bit outside the filter, no virt_ext, L0's ASID; the
 * #VMEXIT leaves no L2 and GIF clear. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/x86/nsvm.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM (1u << 20)
static uint8_t ram[RAM];

static int fz_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    memcpy(buf, ram + gpa, len);
    return 0;
}

static int fz_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM || len > RAM - gpa)
        return -1;
    memcpy(ram + gpa, buf, len);
    return 0;
}

static const vcore_nvmx_mem_t fz_mem = {sizeof(vcore_nvmx_mem_t), NULL, fz_read, fz_write};

static const vcore_cpuid_entry_t fz_cpuid[] = {
    {0x00000000u, 0, 0, 0x0000000du, 0x68747541u, 0x444d4163u, 0x69746e65u},
    {0x00000001u, 0, 0, 0x00800f11u, 0, 0, 0x178bfbffu},
    {0x80000000u, 0, 0, 0x8000000au, 0, 0, 0},
    {0x80000001u, 0, 0, 0, 0, (1u << 2), (1u << 29) | (1u << 20) | (1u << 11)},
    {0x80000008u, 0, 0, 0x00003028u, 0, 0, 0},
};

typedef struct fz_run {
    vcore_nsvm_result_t res;
    vcore_vmcb_t vmcb02;
    int err;
} fz_run_t;

static _Alignas(8) uint8_t fz_state[2][256 * 1024];
static vcore_vmcb_control_t l0, l0_copy;
static uint8_t l0_msrpm[VCORE_VMCB_MSRPM_SIZE], l0_msrpm_copy[VCORE_VMCB_MSRPM_SIZE];

static void fz_setup_ram(const uint8_t *data, size_t size)
{
    memset(ram, 0, sizeof(ram));
    vcore_vmcb_t *v = (vcore_vmcb_t *)(void *)(ram + 0x10000);
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_VMRUN, true);
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
    if (size >= 4096 + 4) {
        memcpy(ram + 0x10000, data + 4, 4096); /* a raw page */
    } else {
        /* (offset:12 bits, 8 value bytes) writes into the legal page */
        for (size_t i = 4; i + 10 <= size; i += 10) {
            unsigned off = (unsigned)(data[i] | (data[i + 1] << 8)) & 0xfffu;
            for (unsigned k = 0; k < 8 && off + k < 4096; k++)
                ram[0x10000 + off + k] = data[i + 2 + k];
        }
    }
    /* L1's PDPT and a few table pages: whatever the input's tail says. */
    for (size_t i = 0; i < 64 && i < size; i++)
        ram[0x40000 + i * 8] = data[size - 1 - i];
}

static void fz_one(int k, const uint8_t *data, size_t size, fz_run_t *out)
{
    vcore_nsvm_config_t cfg;
    vcore_nsvm_insn_t in;
    vcore_diag_t d = {.size = sizeof(d)};
    vcore_nsvm_t *n;
    uint8_t mode = data[0] % 3;

    fz_setup_ram(data, size);
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.svm_features = data[1] & (uint32_t)VCORE_NSVM_FEATURES_EMULATED;
    cfg.maxphyaddr = 32u + (data[2] % 21u);
    cfg.l2_asid = 9;
    cfg.l0 = &l0;
    cfg.l0_msrpm = l0_msrpm;
    if (vcore_nsvm_init(fz_state[k], sizeof(fz_state[k]), &cfg, &n, &d) != VCORE_OK)
        abort();
    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.op = VCORE_NSVM_VMRUN;
    in.insn_len = 3;
    in.regs.size = sizeof(in.regs);
    in.sregs.size = sizeof(in.sregs);
    in.regs.rflags = 2;
    in.regs.gpr[0] = 0x10000;
    in.sregs.cr3 = 0x40000;
    in.sregs.seg[2].ar = 0x93;
    if (mode == 0) {
        in.sregs.efer = 0x1d01;
        in.sregs.cr0 = 0x80000011;
        in.sregs.cr4 = 0x20;
        in.sregs.seg[1].ar = 0x209b;
    } else {
        in.sregs.efer = 0x1000;
        in.sregs.cr0 = 0x80000011;
        in.sregs.cr4 = mode == 1 ? 0x20 : 0;
        in.sregs.seg[1].ar = 0x409b;
    }
    in.cpuid = fz_cpuid;
    in.ncpuid = sizeof(fz_cpuid) / sizeof(fz_cpuid[0]);
    out->res.size = sizeof(out->res);
    out->err = vcore_nsvm_emulate(n, &fz_mem, &in, &out->res, &d);
    memset(&out->vmcb02, 0, sizeof(out->vmcb02));
    if (out->err != VCORE_OK)
        abort(); /* VMRUN at CPL 0 with SVME and an aligned rAX is always emulated */
    if (out->res.outcome == VCORE_NSVM_OUT_VMEXIT) {
        if (vcore_nsvm_in_guest(n) || vcore_nsvm_gif(n) || out->res.regs.rip != 3)
            abort();
        return;
    }
    if (out->res.outcome != VCORE_NSVM_OUT_ENTER_L2 || !vcore_nsvm_in_guest(n) || !vcore_nsvm_gif(n))
        abort();
    const vcore_vmcb_t *v2 = vcore_nsvm_vmcb02(n);
    memcpy(&out->vmcb02, v2, sizeof(*v2));
    static const uint32_t forced[] = {VCORE_VMCB_INTERCEPT_VMRUN, VCORE_VMCB_INTERCEPT_VMLOAD,
                                      VCORE_VMCB_INTERCEPT_VMSAVE, VCORE_VMCB_INTERCEPT_SHUTDOWN,
                                      VCORE_VMCB_INTERCEPT_STGI, VCORE_VMCB_INTERCEPT_CLGI,
                                      VCORE_VMCB_INTERCEPT_MSR_PROT, VCORE_VMCB_INTERCEPT_IOIO_PROT};
    for (size_t i = 0; i < sizeof(forced) / sizeof(forced[0]); i++)
        if (!vcore_vmcb_intercept_test(&v2->control, forced[i]))
            abort();
    if ((v2->control.int_ctl & (VCORE_VMCB_INT_AVIC_ENABLE | VCORE_VMCB_INT_V_GIF_ENABLE |
                                VCORE_VMCB_INT_V_NMI_ENABLE | VCORE_VMCB_INT_V_GIF | VCORE_VMCB_INT_V_NMI)) ||
        v2->control.virt_ext || v2->control.asid != 9 || (v2->control.nested_ctl & ~1ull))
        abort();
    /* One exit of L2 by the input's choice, routed and reflected. */
    vcore_nsvm_l2_exit_t ex;
    uint32_t owner;
    memset(&ex, 0, sizeof(ex));
    ex.size = sizeof(ex);
    ex.exit_code = size > 3 ? (data[3] == 0xff ? VCORE_VMEXIT_NPF : data[3]) : 0x72;
    ex.exit_info1 = size > 12 ? data[12] : 0;
    ex.exit_info2 = size > 20 ? (uint64_t)data[20] << 12 : 0;
    ex.regs = out->res.regs;
    ex.sregs = out->res.sregs;
    if (vcore_nsvm_route(n, &fz_mem, &ex, &owner) != VCORE_OK || (owner != VCORE_NSVM_L0 && owner != VCORE_NSVM_L1))
        abort();
    vcore_nsvm_result_t r2 = {.size = sizeof(r2)};
    if (vcore_nsvm_reflect(n, &fz_mem, &ex, &r2, &d) != VCORE_OK || vcore_nsvm_in_guest(n) || vcore_nsvm_gif(n))
        abort();
    if (r2.outcome != VCORE_NSVM_OUT_VMEXIT && r2.outcome != VCORE_NSVM_OUT_SHUTDOWN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_run_t a, b;
    if (size < 4)
        return 0;
    vcore_vmcb_intercept_set(&l0, VCORE_VMCB_INTERCEPT_CPUID, true);
    l0.nested_ctl = 1;
    l0.tsc_offset = 77;
    l0_msrpm[0x800 + 0x20] = 0x3;
    memcpy(&l0_copy, &l0, sizeof(l0));
    memcpy(l0_msrpm_copy, l0_msrpm, sizeof(l0_msrpm));
    fz_one(0, data, size, &a);
    fz_one(1, data, size, &b);
    if (a.res.outcome != b.res.outcome || a.res.check != b.res.check ||
        memcmp(&a.vmcb02, &b.vmcb02, sizeof(a.vmcb02)) != 0 || memcmp(&a.res.regs, &b.res.regs, sizeof(a.res.regs)))
        abort();
    /* vmcb01 (L0's controls and map) intact. */
    if (memcmp(&l0, &l0_copy, sizeof(l0)) || memcmp(l0_msrpm, l0_msrpm_copy, sizeof(l0_msrpm)))
        abort();
    return 0;
}
