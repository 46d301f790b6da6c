/*
 * test_nsvm_vcpu.c - nested SVM as a property of the vCPU: enabled in the
 * vCPU configuration, L1's SVM instructions emulated inside vcore_vcpu_run
 * (the VMM sees only what is not the library's), VM_HSAVE_PA as a model
 * MSR, RESET. Expected values: AMD APM Vol. 3 (VMRUN, VMLOAD, CLGI, STGI),
 * Vol. 2 "VM_HSAVE_PA MSR (C001_0117h)", "#VMEXIT".
 */
#include <string.h>

#include "support.h"

#define RAM (2u << 20)
#define PML4 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define VMCB12 0x10000u
#define SAVE 0x11000u
#define L1_RIP 0x100000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static uint8_t ram[RAM] __attribute__((aligned(4096)));

static void put(uint64_t gpa, uint64_t v, size_t n)
{
    ck_assert_int_eq(vcore_vm_write_guest(vm, gpa, &v, n), VCORE_OK);
}

static uint64_t get(uint64_t gpa, size_t n)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, gpa, &v, n), VCORE_OK);
    return v;
}

static vcore_x86_regs_t regs(void)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    return r;
}

static vcore_x86_sregs_t sregs(void)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    return s;
}

/* A 64-bit AMD L1 at CPL 0, SVM in its CPUID, EFER.SVME as asked. */
static void l1_long_mode(bool svme)
{
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x68747541, .ecx = 0x444d4163, .edx = 0x69746e65},
        {.function = 1, .eax = 0x800f11, .edx = (1u << 6) | (1u << 5) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x8000000a},
        {.function = 0x80000001, .ecx = (1u << 2), .edx = (1u << 29) | (1u << 20) | (1u << 11)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, c, 5), VCORE_OK);
    put(PML4, PDPT | 3, 8);
    put(PDPT, PD | 3, 8);
    put(PD, 0x83, 8);
    vcore_x86_sregs_t s = sregs();
    s.cr0 = 0x80050033ull;
    s.cr3 = PML4;
    s.cr4 = 0x20;
    s.efer = 0xd00 | (svme ? (1u << 12) : 0u);
    for (int i = 0; i < 6; i++) {
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffff;
        s.seg[i].selector = 0x10;
        s.seg[i].ar = 0xc093;
    }
    s.seg[VCORE_X86_CS].selector = 0x8;
    s.seg[VCORE_X86_CS].ar = 0xa09b;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

/* The mock without its hardware VMCB ops: the VMM runs vmcb02 itself. */
static vcore_backend_t no_vmcb_ops;

static void create(const vcore_backend_t *be)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = be;
    cfg.max_vcpus = 2;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    memset(ram, 0, RAM);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.vendor = VCORE_X86_VENDOR_AMD;
    vc.nested = VCORE_NESTED_SVM;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &vcpu), VCORE_OK);
    l1_long_mode(true);
}

static void setup(void)
{
    create(vcore_backend_mock());
}

static void teardown(void)
{
    vcore_vm_destroy(vm);
}

/* Pushes an SVM-instruction exit, then HLT; runs; returns the exit the VMM got. */
static vcore_exit_t svm_insn(uint32_t op)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_SVM_INSN);
    e.u.svm_insn.op = op;
    e.u.svm_insn.insn_len = 3;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    vcore_exit_t h = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &h), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    if (out.reason != VCORE_EXIT_HLT) {
        vcore_exit_t next = vcore_test_exit(VCORE_EXIT_NONE);
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &next), VCORE_OK);
        ck_assert_uint_eq(next.reason, VCORE_EXIT_HLT);
    }
    return out;
}

static vcore_exit_t msr(uint32_t reason, uint32_t index, uint64_t value)
{
    vcore_exit_t e = vcore_test_exit(reason);
    e.u.msr.index = index;
    e.u.msr.value = value;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    vcore_exit_t h = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &h), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    return e;
}

START_TEST(config_rules)
{
    vcore_vcpu_config_t vc;
    vcore_vcpu_t *v2;
    vcore_vcpu_config_init(&vc);
    ck_assert_uint_eq(vc.nsvm_features, VCORE_NSVM_FEATURES_EMULATED);
    vc.id = 1;
    vc.nested = VCORE_NESTED_SVM;
    vc.nsvm_features = VCORE_SVM_FEAT_AVIC;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &v2), VCORE_ERR_INVAL);
    vc.nested = 3;
    vc.nsvm_features = 0;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &v2), VCORE_ERR_INVAL);
    ck_assert_ptr_nonnull(vcore_vcpu_nsvm(vcpu));
    ck_assert_ptr_null(vcore_vcpu_nvmx(vcpu));
    ck_assert(vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
}
END_TEST

START_TEST(clgi_stgi_in_the_run_loop)
{
    vcore_exit_t out = svm_insn(VCORE_NSVM_CLGI);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT); /* the VMM never saw CLGI */
    ck_assert(!vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
    svm_insn(VCORE_NSVM_STGI);
    ck_assert(vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    ck_assert_uint_eq(regs().rip, L1_RIP + 6);
}
END_TEST

START_TEST(ud_without_svme_delivered)
{
    l1_long_mode(false);
    uint64_t before = vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION);
    vcore_exit_t out = svm_insn(VCORE_NSVM_CLGI);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), before + 1);
    ck_assert(vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    ck_assert_uint_eq(regs().rip, L1_RIP); /* a fault: RIP stays at the instruction */
    ck_assert_diag(vcpu, VCORE_DIAG_NSVM_UD_SVME_CLEAR);
}
END_TEST

START_TEST(vmload_into_the_model)
{
    put(SAVE + 0x440, 0x2b, 2);            /* FS selector */
    put(SAVE + 0x448, 0x7fff0000ull, 8);   /* FS base */
    put(SAVE + 0x608, 0xffffffff81000000ull, 8); /* LSTAR */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = SAVE;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    svm_insn(VCORE_NSVM_VMLOAD);
    vcore_x86_sregs_t s = sregs();
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].selector, 0x2b);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].base, 0x7fff0000ull);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000082u, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffff81000000ull);
}
END_TEST

START_TEST(hsave_pa_msr)
{
    vcore_exit_t e = msr(VCORE_EXIT_WRMSR, VCORE_MSR_VM_HSAVE_PA, 0x5000);
    (void)e;
    ck_assert_uint_eq(vcore_nsvm_hsave_pa(vcore_vcpu_nsvm(vcpu)), 0x5000);
    uint64_t before = vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION);
    msr(VCORE_EXIT_WRMSR, VCORE_MSR_VM_HSAVE_PA, 0x5001); /* bits 11:0: #GP */
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), before + 1);
    ck_assert_uint_eq(vcore_nsvm_hsave_pa(vcore_vcpu_nsvm(vcpu)), 0x5000);
}
END_TEST

/* A legal 64-bit VMCB12 at VMCB12 (ASID as given). */
static void vmcb12(uint32_t asid)
{
    put(VMCB12 + 0x10, 1, 4); /* VMRUN intercept */
    put(VMCB12 + 0x40, 0x100000, 8);
    put(VMCB12 + 0x48, 0x104000, 8);
    put(VMCB12 + 0x58, asid, 4);
    put(VMCB12 + 0x4d0, 0x1d01, 8);
    put(VMCB12 + 0x558, 0x80000031, 8);
    put(VMCB12 + 0x550, 0x3000, 8);
    put(VMCB12 + 0x548, 0x20, 8);
    put(VMCB12 + 0x568, 0xffff0ff0, 8);
    put(VMCB12 + 0x560, 0x400, 8);
    put(VMCB12 + 0x570, 2, 8);
    put(VMCB12 + 0x412, 0x29b, 2); /* CS attributes: L P S code */
    put(VMCB12 + 0x668, 0x0007040600070406ull, 8);
}

START_TEST(vmrun_refused_completes_in_the_run_loop)
{
    vmcb12(0); /* "ASID is equal to zero" */
    vcore_exit_t out = svm_insn(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0xffffffffffffffffull);
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
    ck_assert(!vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    ck_assert(!vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
}
END_TEST

START_TEST(vmrun_entering_l2_reaches_the_vmm)
{
    /* Without hardware VMCB ops the library cannot run L2: the VMM gets
     * the VMRUN with vmcb02 built. */
    vcore_vm_destroy(vm);
    no_vmcb_ops = *vcore_backend_mock();
    no_vmcb_ops.vmcb_alloc = NULL;
    no_vmcb_ops.vmcb_free = NULL;
    no_vmcb_ops.vmcb_read = NULL;
    no_vmcb_ops.vmcb_write = NULL;
    no_vmcb_ops.vmcb_setup = NULL;
    no_vmcb_ops.vmcb_npt_map = NULL;
    no_vmcb_ops.vmcb_run = NULL;
    create(&no_vmcb_ops);
    vmcb12(1);
    vcore_exit_t out = svm_insn(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_SVM_INSN);
    ck_assert_uint_eq(out.u.svm_insn.op, VCORE_NSVM_VMRUN);
    ck_assert(vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
    ck_assert_uint_eq(vcore_nsvm_vmcb02(vcore_vcpu_nsvm(vcpu))->save.cr3, 0x3000);
    /* RESET: no guest, GIF set, VM_HSAVE_PA 0. */
    ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
    ck_assert(!vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
    ck_assert(vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
}
END_TEST

START_TEST(vmmcall_of_l1_reaches_the_vmm)
{
    vcore_exit_t out = svm_insn(VCORE_NSVM_VMMCALL);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_SVM_INSN);
    ck_assert_uint_eq(regs().rip, L1_RIP);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nsvm_vcpu");
    TCase *tc = tcase_create("nsvm_vcpu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, config_rules);
    tcase_add_test(tc, clgi_stgi_in_the_run_loop);
    tcase_add_test(tc, ud_without_svme_delivered);
    tcase_add_test(tc, vmload_into_the_model);
    tcase_add_test(tc, hsave_pa_msr);
    tcase_add_test(tc, vmrun_refused_completes_in_the_run_loop);
    tcase_add_test(tc, vmrun_entering_l2_reaches_the_vmm);
    tcase_add_test(tc, vmmcall_of_l1_reaches_the_vmm);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
