/* A scripted L1 session on the mock backend, through the vCPU API:
 * VMXON, VMCLEAR, VMPTRLD, 200 VMWRITEs, VMREADs back, VMPTRST, VMCLEAR,
 * VMXOFF - then guest memory is checked. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <virtcore/x86/nvmx.h>

#define RAM (2u << 20)
#define PML4 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define VMXON_GPA 0x10000u
#define VMCS_GPA 0x11000u
#define DATA_GPA 0x20000u

static vcore_test_env_t env;
static uint8_t ram[RAM] __attribute__((aligned(4096)));
static vcore_nvmx_t *nvmx;
static uint8_t nvmx_mem[4 * 4096 + 4096] __attribute__((aligned(16)));

static void put64(uint64_t gpa, uint64_t v)
{
    ck_assert_int_eq(vcore_vm_write_guest(env.vm, gpa, &v, 8), VCORE_OK);
}

static uint64_t get64(uint64_t gpa)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(env.vm, gpa, &v, 8), VCORE_OK);
    return v;
}

static void setup(void)
{
    vcore_test_env_up(&env, VCORE_X86_VENDOR_INTEL);
    memset(ram, 0, RAM);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram};
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);

    /* A CPU with VMX, PAE, long mode and NX, MAXPHYADDR 40. */
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, c, 5), VCORE_OK);

    put64(PML4, PDPT | 3);
    put64(PDPT, PD | 3);
    put64(PD, 0x83);
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    s.cr0 = 0x80050033ull;
    s.cr3 = PML4;
    s.cr4 = 0x2020;
    s.efer = 0xd00;
    for (int i = 0; i < 6; i++) {
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffff;
        s.seg[i].selector = 0x10;
        s.seg[i].ar = 0xc093;
    }
    s.seg[VCORE_X86_CS].selector = 0x8;
    s.seg[VCORE_X86_CS].ar = 0xa09b;
    int err = vcore_vcpu_set_sregs(env.vcpu, &s);
    if (err) {
        vcore_diag_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_vcpu_last_diag(env.vcpu, &d), VCORE_OK);
        ck_abort_msg("set_sregs: %d %s", err, d.name);
    }

    vcore_nvmx_config_t cfg = {.size = sizeof(cfg), .maxphyaddr = 40};
    cfg.caps.size = sizeof(cfg.caps);
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&cfg.caps), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_init(nvmx_mem, sizeof(nvmx_mem), &cfg, &nvmx, NULL), VCORE_OK);
}

static void teardown(void)
{
    vcore_test_env_down(&env);
}

static vcore_nvmx_result_t res;

/* Runs one instruction; a memory operand is [RBX] = DATA_GPA. */
static void run(uint32_t op, uint32_t insn_info)
{
    vcore_nvmx_insn_t in;
    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.op = op;
    in.insn_info = insn_info;
    in.insn_len = 4;
    in.feature_control = 5;
    res.size = sizeof(res);
    ck_assert_int_eq(vcore_nvmx_vcpu_emulate(nvmx, env.vcpu, &in, &res), VCORE_OK);
    ck_assert_msg(res.outcome == VCORE_NVMX_OUT_SUCCEED, "op %u: outcome %u diag %#x err %u", op,
                  res.outcome, res.diag, res.vm_error);
}

static const uint32_t MEM = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23); /* DS:[RBX] */
static const uint32_t REGS = (1u << 10) | (2u << 3) | (2u << 7) | (1u << 28); /* RDX, RCX */

static void set_gprs(uint64_t rbx, uint64_t rcx, uint64_t rdx)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RBX] = rbx;
    r.gpr[VCORE_X86_RCX] = rcx;
    r.gpr[VCORE_X86_RDX] = rdx;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
}

static uint64_t expect(const vcore_vmcs_field_info_t *a, uint64_t v)
{
    if (a->bytes == 2)
        return v & 0xffff;
    if (a->bytes == 4)
        return v & ((a->flags & VCORE_VMCS_FIELD_F_AR) ? 0x1f0ffu : 0xffffffffu);
    return v;
}

START_TEST(l1_session)
{
    static uint64_t want[512];
    static uint32_t enc[512];
    uint32_t nw = 0, n = vcore_vmcs_field_count();
    memset(enc, 0xff, sizeof(enc)); /* 0 is a real encoding (VIRTUAL_PROCESSOR_ID) */
    vcore_x86_regs_t r0 = {.size = sizeof(r0)};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r0), VCORE_OK);

    uint32_t rev = VCORE_VMCS12_REVISION;
    ck_assert_int_eq(vcore_vm_write_guest(env.vm, VMXON_GPA, &rev, 4), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(env.vm, VMCS_GPA, &rev, 4), VCORE_OK);

    set_gprs(DATA_GPA, 0, 0);
    put64(DATA_GPA, VMXON_GPA);
    run(VCORE_NVMX_VMXON, MEM);
    put64(DATA_GPA, VMCS_GPA);
    run(VCORE_NVMX_VMCLEAR, MEM);
    run(VCORE_NVMX_VMPTRLD, MEM);

    /* 200 VMWRITEs: every writable field, then _HIGH halves */
    for (uint32_t pass = 0; pass < 2 && nw < 200; pass++) {
        for (uint32_t i = 0; i < n && nw < 200; i++) {
            vcore_vmcs_field_info_t a = {.size = sizeof(a)};
            ck_assert_int_eq(vcore_vmcs_field_at(i, &a), VCORE_OK);
            bool high = (a.flags & VCORE_VMCS_FIELD_F_HIGH) != 0;
            /* A field L1's processor does not have is VMfailValid 12 ("Field Encoding in VMCS"). */
            if (a.type == VCORE_VMCS_TYPE_RO_DATA || high != (pass == 1) ||
                !vcore_nvmx_caps_has_field(vcore_nvmx_caps(nvmx), a.encoding))
                continue;
            uint64_t v = 0x9e3779b97f4a7c15ull * (nw + 1);
            set_gprs(DATA_GPA, a.encoding, v);
            run(VCORE_NVMX_VMWRITE, REGS);
            if (high) {
                /* find the full field and update its expected value */
                for (uint32_t k = 0; k < nw; k++)
                    if (enc[k] == a.encoding - 1)
                        want[k] = (want[k] & 0xffffffffull) | (v << 32);
            } else {
                enc[nw] = a.encoding;
                want[nw] = expect(&a, v);
            }
            nw++;
        }
    }
    ck_assert_uint_eq(nw, 200);

    /* VMREAD every written field back */
    uint32_t nr = 0;
    for (uint32_t k = 0; k < nw; k++) {
        if (enc[k] == 0xffffffffu)
            continue;
        nr++;
        set_gprs(DATA_GPA, enc[k], 0);
        run(VCORE_NVMX_VMREAD, REGS);
        vcore_x86_regs_t r = {.size = sizeof(r)};
        ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
        ck_assert_msg(r.gpr[VCORE_X86_RDX] == want[k], "%s: %#llx != %#llx",
                      vcore_vmcs_field_name(enc[k]), (unsigned long long)r.gpr[VCORE_X86_RDX],
                      (unsigned long long)want[k]);
    }

    set_gprs(DATA_GPA + 0x100, 0, 0);
    run(VCORE_NVMX_VMPTRST, MEM);
    ck_assert_uint_eq(get64(DATA_GPA + 0x100), VMCS_GPA);
    set_gprs(DATA_GPA, 0, 0);
    run(VCORE_NVMX_VMCLEAR, MEM);
    run(VCORE_NVMX_VMXOFF, 0);

    /* guest memory: the VMCS region holds every value, launch state clear */
    static uint8_t page[4096];
    ck_assert_int_eq(vcore_vm_read_guest(env.vm, VMCS_GPA, page, sizeof(page)), VCORE_OK);
    uint32_t w0;
    memcpy(&w0, page, 4);
    ck_assert_uint_eq(w0, VCORE_VMCS12_REVISION);
    memcpy(&w0, page + 8, 4);
    ck_assert_uint_eq(w0, 0);
    for (uint32_t k = 0; k < nw; k++) {
        uint64_t v;
        if (enc[k] == 0xffffffffu)
            continue;
        ck_assert_int_eq(vcore_vmcs12_get(page, enc[k], &v), VCORE_OK);
        ck_assert_uint_eq(v, want[k]);
    }
    /* the vCPU advanced RIP once per instruction, 4 bytes each */
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    uint32_t insns = 3 + nw + nr /* reads of the full fields */ + 3;
    ck_assert_uint_eq(r.rip, r0.rip + 4ull * insns);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nvmx, &info), VCORE_OK);
    ck_assert(!info.vmx_operation);
}
END_TEST

static Suite *session_suite(void)
{
    Suite *s = suite_create("nvmx_session");
    TCase *tc = tcase_create("mock");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, l1_session);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(session_suite());
}
