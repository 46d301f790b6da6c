/*
 * nsvm_run_fixture.h - the nested-SVM test VM the vCPU-pipeline suites
 * start from: one vCPU on the mock backend (strict VMCB store) with RAM at
 * guest-physical 0, L1 in long mode at L1_RIP, a VMCB12 at VMCB12 whose
 * L2 starts at L2_RIP (optionally on L1's nested table NPT4..NPT1), and
 * helpers that queue L1's VMRUN, L1 exits and L2 #VMEXITs and run the
 * vCPU. Included once per test program (static definitions).
 */
#ifndef VCORE_TEST_NSVM_RUN_FIXTURE_H
#define VCORE_TEST_NSVM_RUN_FIXTURE_H

#define RAM (2u << 20)
#define PML4 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define VMCB12 0x10000u
#define L1_RIP 0x100000u
#define L2_RIP 0x200000u
#define NPT4 0x20000u /* L1's nested table for L2 */
#define NPT3 0x21000u
#define NPT2 0x22000u
#define NPT1 0x23000u

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

static uint64_t count(uint32_t op)
{
    return vcore_mock_count(vcpu, op);
}

/* A 64-bit AMD L1 at CPL 0 with EFER.SVME, at L1_RIP with RAX = VMCB12. */
static void setup(void)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    memset(ram, 0, RAM);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.vendor = VCORE_X86_VENDOR_AMD;
    vc.nested = VCORE_NESTED_SVM;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &vcpu), VCORE_OK);
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
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    s.cr0 = 0x80050033ull;
    s.cr3 = PML4;
    s.cr4 = 0x20;
    s.efer = 0xd00 | (1u << 12);
    for (int i = 0; i < 6; i++) {
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffff;
        s.seg[i].selector = 0x10;
        s.seg[i].ar = 0xc093;
    }
    s.seg[VCORE_X86_CS].selector = 0x8;
    s.seg[VCORE_X86_CS].ar = 0xa09b;
    s.seg[VCORE_X86_FS].base = 0xf5000; /* moves to L2 with the processor */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    vcore_x86_regs_t rr = regs();
    rr.rip = L1_RIP;
    rr.gpr[VCORE_X86_RAX] = VMCB12;
    rr.gpr[VCORE_X86_RBX] = 0xb1;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &rr), VCORE_OK);
}

static void teardown(void)
{
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_VIOLATION), 0);
    vcore_vm_destroy(vm);
}

/* A 64-bit L2 in VMCB12 at L2_RIP, ASID 1, intercepting VMRUN and words 3/4 as given. */
static void vmcb12(uint32_t misc1, uint32_t misc2, bool np)
{
    put(VMCB12 + 0x0c, misc1, 4);
    put(VMCB12 + 0x10, misc2 | 1u, 4); /* VMRUN intercept: a VMRUN check */
    put(VMCB12 + 0x58, 1, 4);
    put(VMCB12 + 0x4d0, 0x1d00, 8);
    put(VMCB12 + 0x558, 0x80000031, 8);
    put(VMCB12 + 0x550, 0x3000, 8);
    put(VMCB12 + 0x548, 0x20, 8);
    put(VMCB12 + 0x568, 0xffff0ff0, 8);
    put(VMCB12 + 0x560, 0x400, 8);
    put(VMCB12 + 0x570, 2, 8);
    put(VMCB12 + 0x578, L2_RIP, 8);
    put(VMCB12 + 0x5d8, 0x8000, 8);
    put(VMCB12 + 0x5f8, 0x1234, 8);
    put(VMCB12 + 0x412, 0x29b, 2); /* CS attributes: L P S code */
    put(VMCB12 + 0x668, 0x0007040600070406ull, 8);
    if (np) {
        put(VMCB12 + 0x90, 1, 8);
        put(VMCB12 + 0xb0, NPT4, 8);
        put(NPT4, NPT3 | 7, 8);
        put(NPT3, NPT2 | 7, 8);
        put(NPT2, NPT1 | 7, 8);
        put(NPT1 + 5 * 8, 0x7000 | 7, 8);     /* L2 5000H -> L1 7000H, writable */
        put(NPT1 + 6 * 8, 0x7000 | 5, 8);     /* L2 6000H -> L1 7000H, read-only */
        put(NPT1 + 8 * 8, 0x40000000ull | 7, 8); /* L2 8000H -> L1 1 GiB: not RAM */
    }
}

/* Queues L1's VMRUN on vmcb01. */
static void push_vmrun(void)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_SVM_INSN);
    e.u.svm_insn.op = VCORE_NSVM_VMRUN;
    e.u.svm_insn.insn_len = 3;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
}

static void push_l1(uint32_t reason)
{
    vcore_exit_t e = vcore_test_exit(reason);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
}

/* Queues an L2 #VMEXIT on the hardware vmcb02 at L2 RIP rip. */
static void push_l2(uint64_t code, uint64_t i1, uint64_t i2, uint32_t reason, uint32_t flags, uint64_t rip,
                    uint64_t nrip)
{
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = code;
    x.exit_info1 = i1;
    x.exit_info2 = i2;
    x.next_rip = nrip;
    x.exit = vcore_test_exit(reason);
    x.exit.flags = flags;
    x.nfields = 1;
    x.fields[0].offset = 0x578; /* RIP */
    x.fields[0].bytes = 8;
    x.fields[0].value = rip;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
}

static vcore_exit_t run(void)
{
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    return out;
}

#endif /* VCORE_TEST_NSVM_RUN_FIXTURE_H */
