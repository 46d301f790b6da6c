/*
 * nested_fixture.h - the L1 environment both nested-VMX pipeline tests start
 * from on the mock: guest memory with identity paging, a 64-bit L1 with
 * CR4.VMXE and IA32_FEATURE_CONTROL locked with VMX outside SMX, and the
 * helpers that read and write its registers and memory. Included by one
 * test file each (its definitions are static).
 */
#ifndef VCORE_TEST_NESTED_FIXTURE_H
#define VCORE_TEST_NESTED_FIXTURE_H

#define RAM (2u << 20)
#define PML4 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define VMXON_GPA 0x10000u
#define VMCS_GPA 0x11000u
#define OPND_GPA 0x20000u
#define IOBM_A 0x30000u
#define IOBM_B 0x31000u
#define MSRBM 0x32000u
#define MSRLIST 0x33000u
#define L1_RIP 0x100000u
#define HOST_RIP 0x200000u
#define HOST_RSP 0x9000u

static vcore_vm_t *vm;
/* The backend nested_vm() creates the VM on when set (else the mock's
 * table); a test may name a copy of it (e.g. without vcpu_run_sync). */
static const vcore_backend_t *nested_fixture_backend;
static vcore_vcpu_t *vcpu;
static vcore_nvmx_t *nv;
static uint8_t ram[RAM] __attribute__((aligned(4096)));
static uint8_t page[4096];

static const uint32_t MEM_RBX = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23); /* DS:[RBX] */

static void put(uint64_t gpa, uint64_t v, size_t n)
{
    ck_assert_int_eq(vcore_vm_write_guest(vm, gpa, &v, n), VCORE_OK);
}

static void set12(uint32_t enc, uint64_t v)
{
    ck_assert_int_eq(vcore_vmcs12_set(page, enc, v), VCORE_OK);
}

static uint64_t get12(uint32_t enc)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(vcore_nvmx_vmcs12(nv), enc, &v), VCORE_OK);
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

/* A vmcs12 every VM-entry check accepts: 64-bit host and guest, flat
 * segments, the allowed-0 controls of the library's TRUE capability MSRs. */
static void ref_vmcs12(void)
{
    memset(page, 0, sizeof(page));
    uint32_t rev = VCORE_VMCS12_REVISION;
    memcpy(page, &rev, 4);
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9));
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb | (1u << 9));
    set12(VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    set12(VCORE_VMCS_HOST_CR0, 0x80050033);
    set12(VCORE_VMCS_HOST_CR3, 0x1000);
    set12(VCORE_VMCS_HOST_CR4, 0x2020);
    set12(VCORE_VMCS_HOST_CS_SELECTOR, 0x08);
    set12(VCORE_VMCS_HOST_SS_SELECTOR, 0x10);
    set12(VCORE_VMCS_HOST_DS_SELECTOR, 0x10);
    set12(VCORE_VMCS_HOST_ES_SELECTOR, 0x10);
    set12(VCORE_VMCS_HOST_TR_SELECTOR, 0x18);
    set12(VCORE_VMCS_HOST_TR_BASE, 0x4000);
    set12(VCORE_VMCS_HOST_GDTR_BASE, 0x5000);
    set12(VCORE_VMCS_HOST_IDTR_BASE, 0x6000);
    set12(VCORE_VMCS_HOST_FS_BASE, 0x7000);
    set12(VCORE_VMCS_HOST_RSP, HOST_RSP);
    set12(VCORE_VMCS_HOST_RIP, HOST_RIP);
    set12(VCORE_VMCS_GUEST_CR0, 0x80050033);
    set12(VCORE_VMCS_GUEST_CR3, 0x1000);
    set12(VCORE_VMCS_GUEST_CR4, 0x2020);
    set12(VCORE_VMCS_GUEST_DR7, 0x400);
    set12(VCORE_VMCS_GUEST_RSP, 0x8000);
    set12(VCORE_VMCS_GUEST_RIP, 0x401000);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2);
    set12(VCORE_VMCS_GUEST_CS_SELECTOR, 0x08);
    set12(VCORE_VMCS_GUEST_CS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa09b);
    set12(VCORE_VMCS_GUEST_SS_SELECTOR, 0x10);
    set12(VCORE_VMCS_GUEST_SS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc093);
    set12(VCORE_VMCS_GUEST_DS_SELECTOR, 0x10);
    set12(VCORE_VMCS_GUEST_DS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_DS_AR_BYTES, 0xc093);
    set12(VCORE_VMCS_GUEST_ES_SELECTOR, 0x10);
    set12(VCORE_VMCS_GUEST_ES_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc093);
    set12(VCORE_VMCS_GUEST_FS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_GS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_LDTR_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_TR_SELECTOR, 0x18);
    set12(VCORE_VMCS_GUEST_TR_BASE, 0x4000);
    set12(VCORE_VMCS_GUEST_TR_LIMIT, 0x67);
    set12(VCORE_VMCS_GUEST_TR_AR_BYTES, 0x8b);
    set12(VCORE_VMCS_GUEST_GDTR_BASE, 0x5000);
    set12(VCORE_VMCS_GUEST_GDTR_LIMIT, 0x27);
    set12(VCORE_VMCS_GUEST_IDTR_BASE, 0x6000);
    set12(VCORE_VMCS_GUEST_IDTR_LIMIT, 0xfff);
}

/* Pushes an L1 VMX-instruction exit. */
static void push_insn(uint32_t op, uint32_t info, uint32_t len)
{
    vcore_exit_t e = vcore_test_vmx_exit(op, info, len);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
}

static void push_hlt(void)
{
    vcore_exit_t h = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &h), VCORE_OK);
}

/* The mock "processor" exits L2 with reason and the given fields. */
static void push_l2(uint32_t kind, uint32_t reason, uint32_t vm_error, uint32_t n, const uint32_t *enc,
                    const uint64_t *val)
{
    vcore_mock_vmcs_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.kind = kind;
    x.exit_reason = reason;
    x.vm_error = vm_error;
    x.nfields = n;
    for (uint32_t i = 0; i < n; i++) {
        x.fields[i].encoding = enc[i];
        x.fields[i].value = val[i];
    }
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(vcpu, &x), VCORE_OK);
}

static void push_l2_exit(uint32_t reason, uint32_t len)
{
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[1] = {len};
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, 1, enc, val);
}

static vcore_exit_t run(void)
{
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    return out;
}

/* One L1 instruction then HLT: the VMM must see the HLT. */
static void l1_insn(uint32_t op, uint32_t info, uint32_t len)
{
    push_insn(op, info, len);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

static void l1_long_mode(void)
{
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, c, 5), VCORE_OK);
    put(PML4, PDPT | 3, 8);
    put(PDPT, PD | 3, 8);
    put(PD, 0x83, 8);
    vcore_x86_sregs_t s = sregs();
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
    s.seg[VCORE_X86_LDTR].selector = 0x28;
    s.seg[VCORE_X86_LDTR].ar = 0x82;
    s.seg[VCORE_X86_LDTR].limit = 0xff;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    r.rflags = 0x2 | 0x8d5; /* arithmetic flags set: VMfail must clear them */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, 5), VCORE_OK);
}

/* The vCPU's CPUID with SYSCALL in 80000001H:EDX (bit 11) besides the
 * fixture's, so that EFER.SCE is not reserved (SDM Vol. 4, "IA32_EFER"). */
static inline void nested_cpuid_syscall(void)
{
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20) | (1u << 11)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, c, 5), VCORE_OK);
}

/* The vCPU's CPUID as the fixture's, with leaf 7 and, when la57, 5-level
 * paging in CPUID.(EAX=07H,ECX=0):ECX[16]: the processor's linear-address
 * width is 57 bits then, 48 bits else (SDM Vol. 1, "Canonical Addressing"). */
static inline void nested_cpuid_la57(bool la57)
{
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 7, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 7, .ecx = la57 ? 1u << 16 : 0u},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, c, 6), VCORE_OK);
}

/* The test VM: the mock backend (with host services `host` and processor
 * capabilities `mock_caps` when given), RAM mapped at guest-physical 0, one
 * nested-VMX vCPU (offered at most `l1_caps` when given) in the L1 state
 * above, vmcs12 the reference one, nested options `opts`. */
static inline void nested_vm(const vcore_host_t *host, const vcore_nvmx_caps_t *mock_caps,
                             const vcore_nvmx_caps_t *l1_caps, uint32_t opts)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = nested_fixture_backend ? nested_fixture_backend : vcore_backend_mock();
    cfg.host = host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    if (mock_caps)
        ck_assert_int_eq(vcore_mock_set_vmx_caps(vm, mock_caps), VCORE_OK);
    memset(ram, 0, RAM);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    vc.nvmx_caps = l1_caps;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &vcpu), VCORE_OK);
    nv = vcore_vcpu_nvmx(vcpu);
    if (opts)
        ck_assert_int_eq(vcore_nvmx_set_options(nv, opts), VCORE_OK);
    l1_long_mode();
    ref_vmcs12();
}

/* Destroys the test VM after checking that the mock's strict VMCS store saw
 * `violations` accesses the SDM forbids (0 unless a test provokes them). */
static inline void nested_vm_destroy(uint64_t violations)
{
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_VIOLATION), violations);
    vcore_vm_destroy(vm);
}

/* VMXON (once), then VMPTRLD of `page` (the test's vmcs12) at VMCS_GPA; a
 * VMCS already current is VMCLEARed first (VMPTRLD of the current VMCS would
 * keep the processor's copy). L1 then stands at L1_RIP with RFLAGS `rflags`. */
static inline void load_vmcs12_rflags(uint64_t rflags)
{
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RBX] = OPND_GPA;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    if (!info.vmx_operation) {
        put(VMXON_GPA, VCORE_VMCS12_REVISION, 4);
        put(OPND_GPA, VMXON_GPA, 8);
        l1_insn(VCORE_NVMX_VMXON, MEM_RBX, 4);
    } else {
        put(OPND_GPA, VMCS_GPA, 8);
        l1_insn(VCORE_NVMX_VMCLEAR, MEM_RBX, 4);
    }
    ck_assert_int_eq(vcore_vm_write_guest(vm, VMCS_GPA, page, sizeof(page)), VCORE_OK);
    put(OPND_GPA, VMCS_GPA, 8);
    l1_insn(VCORE_NVMX_VMPTRLD, MEM_RBX, 4);
    r = regs();
    r.rip = L1_RIP;
    r.rflags = rflags;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

/* The same with the arithmetic flags set, so that VMsucceed and VMfail
 * ("Conventions") visibly clear them. */
static inline void load_vmcs12(void)
{
    load_vmcs12_rflags(0x2 | 0x8d5);
}

static inline vcore_nvmx_last_t last(void)
{
    vcore_nvmx_last_t l = {.size = sizeof(l)};
    ck_assert_int_eq(vcore_nvmx_last(nv, &l), VCORE_OK);
    return l;
}

/* L1's VMREAD or VMWRITE (op) with register operands - the field in RDX,
 * the value or destination RCX - as an exit the pipeline emulates. */
static inline void nested_l1_vmx_reg(uint32_t op, uint32_t enc, uint64_t value)
{
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RDX] = enc;
    r.gpr[VCORE_X86_RCX] = value;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(op, (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28), 3);
}

/* A field of the vmcs02 the mock "processor" entered last. */
static inline uint64_t nested_peek02(uint32_t enc)
{
    uint64_t x = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, vcore_mock_vmcs_last_entered(vcpu), enc, &x), VCORE_OK);
    return x;
}

/* One general-purpose register of the vCPU (L1's, or L2's while L2 runs). */
static inline void nested_set_gpr(uint32_t reg, uint64_t v)
{
    vcore_x86_regs_t r = regs();
    r.gpr[reg] = v;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

/* L2 takes a #UD (vector 6, hardware exception, valid) that L1 does not
 * intercept (exception bitmap 0) at its next exit: the VMM sees it raw,
 * L2 stays the running context (run: the vCPU runs until then). */
static inline void nested_l2_ud_to_vmm(void)
{
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INTR_INFO};
    uint64_t val[1] = {0x80000306u};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert(last().in_l2);
}

/* L1's VMLAUNCH of the test's vmcs12, then such a #UD of L2 for the VMM. */
static inline void nested_launch_to_vmm(void)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_l2_ud_to_vmm();
}

/* L1 lets L2 read and write every MSR (vmcs12's MSR bitmap all clear). */
static inline void nested_msr_bitmap_clear(void)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
}

/* L2's registers for WRMSR of value (EDX:EAX) to MSR index (ECX). */
static inline void nested_l2_wrmsr(uint32_t index, uint64_t value)
{
    nested_set_gpr(VCORE_X86_RCX, index);
    nested_set_gpr(VCORE_X86_RAX, (uint32_t)value);
    nested_set_gpr(VCORE_X86_RDX, value >> 32);
}

/* An L2 exit with its qualification and instruction length. */
static inline void nested_push_l2_q(uint32_t reason, uint64_t qual, uint32_t len)
{
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {qual, len};
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, 2, enc, val);
}

/* One L2 round trip: L1's VMLAUNCH of the loaded vmcs12, L2's CPUID (L1's),
 * L1 halts. */
static inline void nested_launch_cpuid(void)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

/* The pushed L1 instruction's run is refused with VCORE_ERR_UNSUPPORTED
 * and the diagnostic id with value. */
static inline void nested_assert_refused(uint32_t id, uint64_t value)
{
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_UNSUPPORTED);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, id);
    ck_assert_uint_eq(d.value, value);
}

/* A processor (the mock's capabilities) without VM-entry control `bit`,
 * which vmcs02 always sets for L2 (rule ONE of the control merge table):
 * L1's VMLAUNCH is refused by name (NVMX_PIPELINE_UNSUPPORTED, control word
 * 4 and that bit), and L2 is never entered. Replaces the test's vCPU. */
static inline void nested_assert_entry_control_required(uint32_t bit)
{
    nested_vm_destroy(0);
    vcore_nvmx_caps_t c = {.size = sizeof(c)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&c), VCORE_OK);
    c.msr[VCORE_NVMX_CAP_ENTRY] &= ~((uint64_t)(1u << bit) << 32);
    c.msr[VCORE_NVMX_CAP_TRUE_ENTRY] &= ~((uint64_t)(1u << bit) << 32);
    nested_vm(NULL, &c, NULL, 0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_assert_refused(VCORE_DIAG_NVMX_PIPELINE_UNSUPPORTED, (4u << 8) | bit);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}

/* L1's VMLAUNCH or VMRESUME ended in VMfailValid with error by check: RIP
 * at rip (past the instruction), ZF the only arithmetic flag
 * ("Conventions"), L2 never entered. */
static inline void nested_assert_vmfail(uint64_t rip, uint32_t error, uint32_t check)
{
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, rip);
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0x40u);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), error);
    ck_assert_uint_eq(last().check, check);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 0);
}

/* ... VMfailValid 7 for L1's VMLAUNCH (3 bytes at L1_RIP). */
static inline void nested_assert_vmfail7(uint32_t check)
{
    nested_assert_vmfail(L1_RIP + 3, VCORE_VMXERR_ENTRY_INVALID_CONTROL, check);
}

#endif
