/*
 * test_nested_vcpu.c - nested VMX as a property of the vCPU: enabled in the
 * vCPU configuration, emulated inside vcore_vcpu_run (the VMM never sees
 * L1's VMX instructions), IA32_FEATURE_CONTROL as a model MSR, RESET and
 * INIT in VMX root operation.
 *
 * Expected values: SDM Vol. 3, "VMX Instruction Reference" (VMXON ...
 * VMXOFF), "Enabling and Entering VMX Operation" (IA32_FEATURE_CONTROL),
 * "Restrictions on VMX Operation" (INIT blocked in VMX root operation),
 * "VMX Capability Reporting Facility".
 */
#include <string.h>

#include "support.h"

#define RAM (2u << 20)
#define PML4 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define VMXON_GPA 0x10000u
#define VMCS_GPA 0x11000u
#define OPND_GPA 0x20000u
#define GUEST_RIP 0x100000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static uint8_t ram[RAM] __attribute__((aligned(4096)));

static const uint32_t MEM_RBX = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23); /* DS:[RBX] */
/* VMREAD RCX <- field in RDX / VMWRITE field in RDX <- RCX (register forms). */
static const uint32_t REGS_RDX_RCX = (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28);

static void put(uint64_t gpa, uint64_t v, size_t n)
{
    ck_assert_int_eq(vcore_vm_write_guest(vm, gpa, &v, n), VCORE_OK);
}

static vcore_x86_regs_t regs(void)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    return r;
}

static void set_gpr(uint32_t g, uint64_t v)
{
    vcore_x86_regs_t r = regs();
    r.gpr[g] = v;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

/* A 64-bit L1 at CPL 0 with VMX in its CPUID and CR4.VMXE set. */
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
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    s.cr0 = 0x80050033ull;
    s.cr3 = PML4;
    s.cr4 = 0x2020; /* VMXE, PAE */
    s.efer = 0xd00;
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
    r.rip = GUEST_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

static void setup_with(const vcore_nvmx_caps_t *restrict_to)
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
    vc.nested = VCORE_NESTED_VMX;
    vc.nvmx_caps = restrict_to;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &vcpu), VCORE_OK);
    l1_long_mode();
}

static void setup(void)
{
    setup_with(NULL);
}

static void teardown(void)
{
    vcore_vm_destroy(vm);
}

static uint32_t revision(void)
{
    return (uint32_t)(vcore_nvmx_caps(vcore_vcpu_nvmx(vcpu))->msr[VCORE_NVMX_CAP_BASIC] & 0x7fffffffu);
}

/* Pushes a VMX-instruction exit, then HLT; runs; returns the exit the VMM got. */
static vcore_exit_t vmx_insn(uint32_t op, uint32_t info, uint32_t len)
{
    vcore_exit_t e = vcore_test_vmx_exit(op, info, len);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    vcore_exit_t h = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &h), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    if (out.reason != VCORE_EXIT_HLT) {
        /* The VMM got the VMX exit; it resumes the guest, which halts. */
        ck_assert_uint_eq(vcore_mock_pending(vcpu), 1);
        vcore_exit_t next = vcore_test_exit(VCORE_EXIT_NONE);
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &next), VCORE_OK);
        ck_assert_uint_eq(next.reason, VCORE_EXIT_HLT);
    }
    return out;
}

static void wrmsr(uint32_t index, uint64_t value)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_WRMSR);
    e.u.msr.index = index;
    e.u.msr.value = value;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    vcore_exit_t h = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &h), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
}

static uint64_t exceptions(void)
{
    return vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION);
}

/* VMXON with IA32_FEATURE_CONTROL as the model holds it. */
static void vmxon(void)
{
    put(VMXON_GPA, revision(), 4);
    put(OPND_GPA, VMXON_GPA, 8);
    set_gpr(VCORE_X86_RBX, OPND_GPA);
    ck_assert_uint_eq(vmx_insn(VCORE_NVMX_VMXON, MEM_RBX, 4).reason, VCORE_EXIT_HLT);
}

static bool in_vmx_operation(void)
{
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(vcore_vcpu_nvmx(vcpu), &info), VCORE_OK);
    return info.vmx_operation;
}

START_TEST(vmxon_needs_feature_control)
{
    /* Power-up IA32_FEATURE_CONTROL = 0 (unlocked): VMXON is #GP(0). */
    vmxon();
    ck_assert_uint_eq(exceptions(), 1);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 13);
    ck_assert_uint_eq(regs().rip, GUEST_RIP); /* a fault does not complete it */
    ck_assert(!in_vmx_operation());
    /* L1 (its firmware) locks VMX on; the core handles the WRMSR. */
    wrmsr(VCORE_MSR_IA32_FEATURE_CONTROL, 5);
    uint64_t fc;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, &fc), VCORE_OK);
    ck_assert_uint_eq(fc, 5);
    vmxon();
    ck_assert_uint_eq(exceptions(), 1);
    ck_assert(in_vmx_operation());
    ck_assert_uint_eq(regs().rip, GUEST_RIP + 4);
    /* Locked: a second WRMSR is #GP(0). */
    wrmsr(VCORE_MSR_IA32_FEATURE_CONTROL, 5);
    ck_assert_uint_eq(exceptions(), 2);
}
END_TEST

START_TEST(vmx_session_through_the_run_loop)
{
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, 5), VCORE_OK);
    vmxon();
    ck_assert(in_vmx_operation());
    /* VMCLEAR, VMPTRLD [RBX] -> VMCS_GPA. */
    put(VMCS_GPA, revision(), 4);
    put(OPND_GPA, VMCS_GPA, 8);
    ck_assert_uint_eq(vmx_insn(VCORE_NVMX_VMCLEAR, MEM_RBX, 4).reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vmx_insn(VCORE_NVMX_VMPTRLD, MEM_RBX, 4).reason, VCORE_EXIT_HLT);
    /* VMWRITE GUEST_RIP <- 0x1234 (register form), then VMREAD it back. */
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    set_gpr(VCORE_X86_RCX, 0x1234);
    ck_assert_uint_eq(vmx_insn(VCORE_NVMX_VMWRITE, REGS_RDX_RCX, 3).reason, VCORE_EXIT_HLT);
    set_gpr(VCORE_X86_RCX, 0);
    uint64_t before = vcore_mock_count(vcpu, VCORE_MOCK_OP_GET_STATE);
    ck_assert_uint_eq(vmx_insn(VCORE_NVMX_VMREAD, REGS_RDX_RCX, 3).reason, VCORE_EXIT_HLT);
    /* One state fetch for the whole emulation (only the groups it reads). */
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_GET_STATE) - before, 1);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x1234);
    /* VMsucceed: CF, PF, AF, ZF, SF, OF clear. */
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0);
    /* VMREAD of an unsupported field: VMfailValid(12), ZF = 1. */
    set_gpr(VCORE_X86_RDX, 0x7ffe);
    ck_assert_uint_eq(vmx_insn(VCORE_NVMX_VMREAD, REGS_RDX_RCX, 3).reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rflags & (1u << 6), 1u << 6);
    /* VMLAUNCH of this vmcs12 (controls all 0, against allowed-0 bits of the
     * pin-based controls): VMfailValid(7), handled in the run loop. */
    uint64_t rip = regs().rip;
    vcore_exit_t e = vmx_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, rip + 3);
    ck_assert_uint_eq(regs().rflags & (1u << 6), 1u << 6);
    /* VMXOFF leaves VMX operation. */
    ck_assert_uint_eq(vmx_insn(VCORE_NVMX_VMXOFF, 0, 3).reason, VCORE_EXIT_HLT);
    ck_assert(!in_vmx_operation());
}
END_TEST

START_TEST(capability_msrs)
{
    const vcore_nvmx_caps_t *caps = vcore_nvmx_caps(vcore_vcpu_nvmx(vcpu));
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = VCORE_MSR_IA32_VMX_BASIC;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
    vcore_exit_t hlt = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &hlt), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], (uint32_t)caps->msr[VCORE_NVMX_CAP_BASIC]);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], caps->msr[VCORE_NVMX_CAP_BASIC] >> 32);
    /* Read-only: WRMSR is #GP(0). */
    wrmsr(VCORE_MSR_IA32_VMX_BASIC + 2, 0);
    ck_assert_uint_eq(exceptions(), 1);
}
END_TEST

START_TEST(init_is_latched_in_vmx_root)
{
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, 5), VCORE_OK);
    vmxon();
    uint64_t rip = regs().rip;
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    ck_assert_diag(vcpu, VCORE_DIAG_INIT_LATCHED);
    ck_assert_uint_eq(regs().rip, rip); /* blocked: nothing changed */
    ck_assert(in_vmx_operation());
    /* VMXOFF: the INIT is delivered and the VMM hears of it. */
    vcore_exit_t e = vmx_insn(VCORE_NVMX_VMXOFF, 0, 3);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INIT);
    ck_assert_uint_eq(regs().rip, 0xfff0);
    ck_assert(!in_vmx_operation());
    uint64_t fc;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, &fc), VCORE_OK);
    ck_assert_uint_eq(fc, 5); /* INIT keeps MSRs */
}
END_TEST

START_TEST(reset_leaves_vmx_operation)
{
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, 5), VCORE_OK);
    vmxon();
    ck_assert(in_vmx_operation());
    ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
    ck_assert(!in_vmx_operation());
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(vcore_vcpu_nvmx(vcpu), &info), VCORE_OK);
    ck_assert_uint_eq(info.vmxon_ptr, ~0ull);
    ck_assert_uint_eq(info.current_vmptr, ~0ull);
    uint64_t fc = 1;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_FEATURE_CONTROL, &fc), VCORE_OK);
    ck_assert_uint_eq(fc, 0); /* RESET clears the lock */
    /* INIT outside VMX operation resets as usual. */
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    ck_assert_uint_eq(regs().rip, 0xfff0);
}
END_TEST

/* A host without page allocation cannot back the shadow EPT: "enable EPT"
 * is allowed-0 for L1 and IA32_VMX_EPT_VPID_CAP has no EPT bits (31:0)
 * but keeps INVVPID (bit 32) and its types (43:40); "enable VM functions"
 * (secondary 13, run for EPTP switching, which needs EPT: "Checks on VMX
 * Controls") is allowed-0 and IA32_VMX_VMFUNC 0; so is "enable PML"
 * (secondary 17, which needs EPT). "use TPR shadow"
 * (primary 21), "virtualize APIC accesses" (secondary 0),
 * "APIC-register virtualization" (secondary 8) and "virtual-interrupt
 * delivery" (secondary 9) need no host page (vmcs02 names L1's pages):
 * still offered. Without physical addresses (_i = 1) those four are
 * allowed-0 as well. "Virtualize x2APIC mode" (secondary 4) acts through
 * vmcs02's MSR bitmap, a host page: allowed-0 in both cases. */
START_TEST(caps_without_host_pages_offer_no_ept)
{
    teardown();
    vcore_host_t h = *vcore_host_default();
    h.alloc_pages = NULL;
    h.free_pages = NULL;
    if (_i)
        h.virt_to_phys = NULL;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.host = &h;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &vcpu), VCORE_OK);
    const uint64_t *m = vcore_nvmx_caps(vcore_vcpu_nvmx(vcpu))->msr;
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_PROCBASED2] >> 32, _i ? 0x06115c6cu : 0x06115f6du);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_EPT_VPID], 0x00000f0100000000ull);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_VMFUNC], 0);
    ck_assert_uint_eq(m[VCORE_NVMX_CAP_PROCBASED] >> 32, _i ? 0xffd9fffeu : 0xfff9fffeu);
}
END_TEST

START_TEST(caps_follow_backend_and_restriction)
{
    /* Default: the backend's (the mock reports the emulated set) intersected with the emulated,
     * less the controls the pipeline does not run for L2 (allowed-1 cleared):
     * VM-exit 12 and 23 and VM-entry 13 and 16 (IA32_PERF_GLOBAL_CTRL
     * and IA32_BNDCFGS, which the vCPU model does not hold). VM functions (secondary 13)
     * run with EPT: EPTP switching alone (IA32_VMX_VMFUNC = 1); so does PML (secondary 17),
     * kept by L0's walk of L1's EPT. Unrestricted guest (secondary 7)
     * runs with EPT, which the mock's host can back. The TPR shadow (primary 21),
     * APIC-access virtualization (secondary 0), APIC-register virtualization
     * (secondary 8) and virtual-interrupt delivery (secondary 9) run: the mock's
     * host gives physical addresses; so does "virtualize x2APIC mode" (secondary
     * 4): the host gives vmcs02 its MSR-bitmap page; so do posted
     * interrupts (pin 7), processed by L0, with virtual-interrupt delivery,
     * and VMCS shadowing (secondary 14), L2's VMREAD/VMWRITE emulated on
     * L1's shadow VMCS. */
    vcore_nvmx_caps_t emu = {.size = sizeof(emu)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&emu), VCORE_OK);
    vcore_nvmx_caps_t want = emu;
    want.msr[VCORE_NVMX_CAP_EXIT] &= ~(0x801000ull << 32);
    want.msr[VCORE_NVMX_CAP_TRUE_EXIT] &= ~(0x801000ull << 32);
    want.msr[VCORE_NVMX_CAP_ENTRY] &= ~(0x12000ull << 32);
    want.msr[VCORE_NVMX_CAP_TRUE_ENTRY] &= ~(0x12000ull << 32);
    want.msr[VCORE_NVMX_CAP_VMFUNC] = 1;
    for (unsigned i = 0; i < VCORE_NVMX_NR_CAPS; i++)
        ck_assert_msg(vcore_nvmx_caps(vcore_vcpu_nvmx(vcpu))->msr[i] == want.msr[i], "MSR %#x: %#llx != %#llx",
                      0x480 + i, (unsigned long long)vcore_nvmx_caps(vcore_vcpu_nvmx(vcpu))->msr[i],
                      (unsigned long long)want.msr[i]);
    teardown();
    /* A restriction that removes RDTSCP (secondary control 3 allowed-1). */
    vcore_nvmx_caps_t less = want;
    less.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 3));
    setup_with(&less);
    ck_assert_uint_eq(vcore_nvmx_caps(vcore_vcpu_nvmx(vcpu))->msr[VCORE_NVMX_CAP_PROCBASED2] &
                          (1ull << (32 + 3)),
                      0);
    /* A "restriction" that adds a feature is refused, and the VM says why. */
    vcore_nvmx_caps_t more = want;
    more.msr[VCORE_NVMX_CAP_MISC] |= 1ull << 15; /* not in the base */
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    vc.nvmx_caps = &more;
    vc.id = 0;
    vcore_vm_destroy(vm);
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    vcore_vcpu_t *v;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &v), VCORE_ERR_INVAL);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vm_last_diag(vm, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NVMX_CAPS_ADDS_FEATURE);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK); /* for teardown */
}
END_TEST

START_TEST(without_nested_the_vmm_sees_vmx)
{
    vcore_vm_t *vm2;
    vcore_vcpu_t *v;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm2), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm2, NULL, &v), VCORE_OK);
    ck_assert_ptr_null(vcore_vcpu_nvmx(v));
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_VMX_INSN);
    e.u.vmx_insn.op = VCORE_NVMX_VMXON;
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_VMX_INSN);
    ck_assert_uint_eq(out.u.vmx_insn.op, VCORE_NVMX_VMXON);
    /* VMX capability MSRs are the VMM's too. */
    e = vcore_test_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = VCORE_MSR_IA32_VMX_BASIC;
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
    vcore_vm_destroy(vm2);
}
END_TEST

START_TEST(insn_info_decoder)
{
    vcore_vmx_insn_info_t ii = {.size = sizeof(ii)};
    /* scale 2, reg1 RCX, 32-bit, memory, FS, index RSI, base R13, reg2 R9. */
    uint32_t info = 2u | (1u << 3) | (1u << 7) | (4u << 15) | (6u << 18) | (13u << 23) | (9u << 28);
    ck_assert_int_eq(vcore_vmx_insn_info_decode(info, &ii), VCORE_OK);
    ck_assert_uint_eq(ii.scale, 2);
    ck_assert_uint_eq(ii.reg1, 1);
    ck_assert_uint_eq(ii.address_size, 32);
    ck_assert(!ii.is_register);
    ck_assert_uint_eq(ii.segment, 4);
    ck_assert_uint_eq(ii.index_reg, 6);
    ck_assert(ii.index_valid);
    ck_assert_uint_eq(ii.base_reg, 13);
    ck_assert(ii.base_valid);
    ck_assert_uint_eq(ii.reg2, 9);
    ck_assert_int_eq(vcore_vmx_insn_info_decode((1u << 22) | (1u << 27) | (2u << 7), &ii), VCORE_OK);
    ck_assert(!ii.index_valid && !ii.base_valid);
    ck_assert_uint_eq(ii.address_size, 64);
    ck_assert_int_eq(vcore_vmx_insn_info_decode(0, &ii), VCORE_OK);
    ck_assert_uint_eq(ii.address_size, 16);
    ck_assert_int_eq(vcore_vmx_insn_info_decode(3u << 7, &ii), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmx_insn_info_decode(6u << 15, &ii), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmx_insn_info_decode(0, NULL), VCORE_ERR_INVAL);
    ii.size = 0;
    ck_assert_int_eq(vcore_vmx_insn_info_decode(0, &ii), VCORE_ERR_ABI);
    ck_assert_str_eq(vcore_vmx_exit_reason_name(VCORE_VMX_EXIT_VMREAD), "VMREAD");
    ck_assert_str_eq(vcore_vmx_exit_reason_name(48u | (1u << 31)), "EPT_VIOLATION");
    ck_assert_str_eq(vcore_vmx_exit_reason_name(35), "UNKNOWN");
    ck_assert_str_eq(vcore_vmx_exit_reason_name(500), "UNKNOWN");
    ck_assert_uint_eq(VCORE_VMX_EXIT_INVVPID, 53);
    ck_assert_uint_eq(VCORE_VMX_EXIT_XSETBV, 55);
}
END_TEST

static Suite *nested_suite(void)
{
    Suite *s = suite_create("nested_vcpu");
    TCase *tc = tcase_create("vmx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vmxon_needs_feature_control);
    tcase_add_test(tc, vmx_session_through_the_run_loop);
    tcase_add_test(tc, capability_msrs);
    tcase_add_test(tc, init_is_latched_in_vmx_root);
    tcase_add_test(tc, reset_leaves_vmx_operation);
    tcase_add_test(tc, caps_follow_backend_and_restriction);
    tcase_add_loop_test(tc, caps_without_host_pages_offer_no_ept, 0, 2);
    tcase_add_test(tc, without_nested_the_vmm_sees_vmx);
    tcase_add_test(tc, insn_info_decoder);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(nested_suite());
}
