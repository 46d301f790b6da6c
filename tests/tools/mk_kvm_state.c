/*
 * mk_kvm_state.c - writes a KVM nested-state blob made by the library's
 * export (vcore_nvmx_kvm_export()) for the virtcore-check --kvm-state tests.
 *
 *   mk_kvm_state OUT [FIELD=VALUE ...]
 *
 * L1 (Bochs corei7_skylake_x capabilities, MAXPHYADDR 40) executes VMXON,
 * VMPTRLD and one VMWRITE per field of the valid 64-bit reference state
 * (tests/tools/states/valid64.state), then the VMWRITEs given on the
 * command line (hexadecimal encoding=value), all through
 * vcore_nvmx_emulate(); the nested state is then exported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nvmx.h>
#include <virtcore/x86/vmcs.h>

#define RAM (1u << 20)
#define PML4 0x1000u
#define VMXON_PA 0x10000u
#define VMCS_PA 0x11000u
#define DATA 0x20000u

static uint8_t ram[RAM];

static int rd(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM || len > RAM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, ram + gpa, len);
    return VCORE_OK;
}

static int wr(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM || len > RAM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(ram + gpa, buf, len);
    return VCORE_OK;
}

static const uint64_t bochs_caps[VCORE_NVMX_NR_CAPS] = {
    0x00d810000000002bull, 0x0000007f00000016ull, 0xf7f9fffe0401e172ull, 0x007fffff00036dffull,
    0x0000ffff000011ffull, 0x00000000600401e0ull, 0x0000000080000021ull, 0x00000000ffffffffull,
    0x0000000000002000ull, 0x00000000003727ffull, 0x0000000000000034ull, 0x02177fff00000000ull,
    0x00000f0106334141ull, 0x0000007f00000016ull, 0xf7f9fffe04006172ull, 0x007fffff00036dfbull,
    0x0000ffff000011fbull, 0x0000000000000001ull,
};

/* The fields of tests/tools/states/valid64.state. */
static const struct {
    uint32_t enc;
    uint64_t v;
} ref[] = {
    {VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16}, {VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172},
    {VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036ffb}, {VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000013fb},
    {VCORE_VMCS_VMCS_LINK_POINTER, ~0ull}, {VCORE_VMCS_HOST_CR0, 0x80050033}, {VCORE_VMCS_HOST_CR3, 0x1000},
    {VCORE_VMCS_HOST_CR4, 0x2020}, {VCORE_VMCS_HOST_CS_SELECTOR, 0x08}, {VCORE_VMCS_HOST_SS_SELECTOR, 0x10},
    {VCORE_VMCS_HOST_DS_SELECTOR, 0x10}, {VCORE_VMCS_HOST_ES_SELECTOR, 0x10}, {VCORE_VMCS_HOST_TR_SELECTOR, 0x18},
    {VCORE_VMCS_HOST_TR_BASE, 0x4000}, {VCORE_VMCS_HOST_GDTR_BASE, 0x5000}, {VCORE_VMCS_HOST_IDTR_BASE, 0x6000},
    {VCORE_VMCS_HOST_RSP, 0x9000}, {VCORE_VMCS_HOST_RIP, 0xffffffff81000000ull}, {VCORE_VMCS_GUEST_CR0, 0x80050033},
    {VCORE_VMCS_GUEST_CR3, 0x1000}, {VCORE_VMCS_GUEST_CR4, 0x2020}, {VCORE_VMCS_GUEST_DR7, 0x400},
    {VCORE_VMCS_GUEST_RSP, 0x8000}, {VCORE_VMCS_GUEST_RIP, 0x401000}, {VCORE_VMCS_GUEST_RFLAGS, 0x2},
    {VCORE_VMCS_GUEST_CS_SELECTOR, 0x08}, {VCORE_VMCS_GUEST_CS_LIMIT, 0xffffffff},
    {VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa09b}, {VCORE_VMCS_GUEST_SS_SELECTOR, 0x10},
    {VCORE_VMCS_GUEST_SS_LIMIT, 0xffffffff}, {VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc093},
    {VCORE_VMCS_GUEST_DS_SELECTOR, 0x10}, {VCORE_VMCS_GUEST_DS_LIMIT, 0xffffffff},
    {VCORE_VMCS_GUEST_DS_AR_BYTES, 0xc093}, {VCORE_VMCS_GUEST_ES_SELECTOR, 0x10},
    {VCORE_VMCS_GUEST_ES_LIMIT, 0xffffffff}, {VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc093},
    {VCORE_VMCS_GUEST_FS_AR_BYTES, 0x10000}, {VCORE_VMCS_GUEST_GS_AR_BYTES, 0x10000},
    {VCORE_VMCS_GUEST_LDTR_AR_BYTES, 0x10000}, {VCORE_VMCS_GUEST_TR_SELECTOR, 0x18},
    {VCORE_VMCS_GUEST_TR_BASE, 0x4000}, {VCORE_VMCS_GUEST_TR_LIMIT, 0x67}, {VCORE_VMCS_GUEST_TR_AR_BYTES, 0x8b},
    {VCORE_VMCS_GUEST_GDTR_BASE, 0x5000}, {VCORE_VMCS_GUEST_GDTR_LIMIT, 0x27},
    {VCORE_VMCS_GUEST_IDTR_BASE, 0x6000}, {VCORE_VMCS_GUEST_IDTR_LIMIT, 0xfff},
};

static vcore_nvmx_t *n;
static vcore_nvmx_mem_t mem = {sizeof(vcore_nvmx_mem_t), NULL, rd, wr};
static vcore_nvmx_insn_t in;

static void run(uint32_t op, const char *what)
{
    vcore_nvmx_result_t res;
    memset(&res, 0, sizeof(res));
    res.size = sizeof(res);
    in.op = op;
    if (vcore_nvmx_emulate(n, &mem, &in, &res) != VCORE_OK || res.outcome != VCORE_NVMX_OUT_SUCCEED) {
        fprintf(stderr, "mk_kvm_state: %s failed (outcome %u diag %#x)\n", what, res.outcome, res.diag);
        exit(1);
    }
}

/* VMXON / VMPTRLD m64 with the operand at DATA (RBX, DS). */
static void run_mem(uint32_t op, uint64_t operand, const char *what)
{
    memcpy(ram + DATA, &operand, 8);
    in.insn_info = (2u << 7) | ((uint32_t)VCORE_X86_DS << 15) | (1u << 22) | ((uint32_t)VCORE_X86_RBX << 23);
    in.regs.gpr[VCORE_X86_RBX] = DATA;
    run(op, what);
}

/* VMWRITE with register operands: encoding in RCX, value in RDX. */
static void vmwrite(uint32_t enc, uint64_t v)
{
    in.insn_info = (1u << 10) | ((uint32_t)VCORE_X86_RDX << 3) | ((uint32_t)VCORE_X86_RCX << 28) | (2u << 7);
    in.regs.gpr[VCORE_X86_RCX] = enc;
    in.regs.gpr[VCORE_X86_RDX] = v;
    run(VCORE_NVMX_VMWRITE, "VMWRITE");
}

int main(int argc, char **argv)
{
    static uint8_t store[4 * 4096 + 4096] __attribute__((aligned(16)));
    static uint8_t blob[VCORE_KVM_NESTED_MAX_SIZE];
    vcore_nvmx_config_t cfg;
    uint32_t len = 0, rev = 0x2b;
    FILE *f;

    if (argc < 2) {
        fputs("usage: mk_kvm_state OUT [ENC=VALUE ...]\n", stderr);
        return 2;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.caps.size = sizeof(cfg.caps);
    memcpy(cfg.caps.msr, bochs_caps, sizeof(bochs_caps));
    cfg.maxphyaddr = 40;
    if (vcore_nvmx_storage_size() > sizeof(store) ||
        vcore_nvmx_init(store, sizeof(store), &cfg, &n, NULL) != VCORE_OK) {
        fputs("mk_kvm_state: vcore_nvmx_init failed\n", stderr);
        return 1;
    }
    /* L1: 64-bit mode at CPL 0, 2 MiB identity map. */
    uint64_t pml4e = 0x2003, pdpte = 0x3003, pde = 0x83;
    memcpy(ram + PML4, &pml4e, 8);
    memcpy(ram + 0x2000, &pdpte, 8);
    memcpy(ram + 0x3000, &pde, 8);
    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.regs.size = sizeof(in.regs);
    in.sregs.size = sizeof(in.sregs);
    in.regs.rip = 0x1000;
    in.regs.rflags = 0x2;
    in.insn_len = 3;
    in.feature_control = 0x5;
    in.sregs.cr0 = 0x80050033ull;
    in.sregs.cr3 = PML4;
    in.sregs.cr4 = 0x2020;
    in.sregs.efer = 0xd00;
    for (int i = 0; i < 8; i++) {
        in.sregs.seg[i].ar = 0x93 | (1u << 15);
        in.sregs.seg[i].limit = 0xffffffffu;
    }
    in.sregs.seg[VCORE_X86_CS].ar = 0x9b | VCORE_X86_AR_L | VCORE_X86_AR_G;
    memcpy(ram + VMXON_PA, &rev, 4);
    memcpy(ram + VMCS_PA, &rev, 4);
    run_mem(VCORE_NVMX_VMXON, VMXON_PA, "VMXON");
    run_mem(VCORE_NVMX_VMPTRLD, VMCS_PA, "VMPTRLD");
    for (size_t i = 0; i < sizeof(ref) / sizeof(ref[0]); i++)
        vmwrite(ref[i].enc, ref[i].v);
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "mk_kvm_state: expected ENC=VALUE, got %s\n", argv[i]);
            return 2;
        }
        vmwrite((uint32_t)strtoul(argv[i], NULL, 0), strtoull(eq + 1, NULL, 0));
    }
    if (vcore_nvmx_kvm_export(n, blob, sizeof(blob), &len) != VCORE_OK) {
        fputs("mk_kvm_state: export failed\n", stderr);
        return 1;
    }
    f = fopen(argv[1], "wb");
    if (!f || fwrite(blob, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "mk_kvm_state: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}
