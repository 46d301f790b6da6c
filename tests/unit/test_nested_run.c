/*
 * test_nested_run.c - L2 running through the library on the mock: vmcs02
 * touches only the VMCS fields the backend's processor has, and the exits
 * from L2 that L0 owns reach the VMM decoded, their replies applied to L2.
 *
 * Expected values come from the manuals: SDM Vol. 3, "Guest-State Area"
 * and "Host-State Area" (which fields exist with which control),
 * "VM-Instruction Error Numbers" (12: unsupported VMCS component), "Exit
 * Qualification for I/O Instructions", "Format of the VM-Entry
 * Interruption-Information Field"; SDM Vol. 2, "IN", "OUT", "RDMSR",
 * "WRMSR" (register results, #GP(0) conditions).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

static uint64_t violations_expected;

/* The VM, optionally with the processor capabilities the mock reports. */
static void setup_caps(const vcore_nvmx_caps_t *caps)
{
    violations_expected = 0;
    nested_vm(NULL, caps, NULL, 0);
}

static void setup(void)
{
    setup_caps(NULL);
}

static void teardown(void)
{
    nested_vm_destroy(violations_expected);
}

static uint64_t field_accesses(uint32_t enc)
{
    uint64_t r = 0, w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, enc, &r, &w), VCORE_OK);
    return r + w;
}

/* vmcs12's primary processor-based controls as the test set them. */
static uint32_t get_proc12(void)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(page, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, &v), VCORE_OK);
    return (uint32_t)v;
}

/* The processor's capabilities: the library's, with allowed-1 bits removed
 * from the VM-exit and VM-entry controls (plain and TRUE MSRs alike). */
static vcore_nvmx_caps_t caps_without(uint32_t exit_bits, uint32_t entry_bits)
{
    vcore_nvmx_caps_t c = {.size = sizeof(c)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&c), VCORE_OK);
    c.msr[VCORE_NVMX_CAP_EXIT] &= ~((uint64_t)exit_bits << 32);
    c.msr[VCORE_NVMX_CAP_TRUE_EXIT] &= ~((uint64_t)exit_bits << 32);
    c.msr[VCORE_NVMX_CAP_ENTRY] &= ~((uint64_t)entry_bits << 32);
    c.msr[VCORE_NVMX_CAP_TRUE_ENTRY] &= ~((uint64_t)entry_bits << 32);
    return c;
}

/* ---- which fields exist ---- */

/* SDM "Guest-State Area": IA32_BNDCFGS exists with "load IA32_BNDCFGS"
 * (entry 16) or "clear IA32_BNDCFGS" (exit 23); IA32_RTIT_CTL with entry 18
 * or exit 25; IA32_PAT with entry 14 or exit 18; PDPTEs with "enable EPT"
 * (secondary 1, which needs "activate secondary controls"); the
 * preemption timer value with pin-based 6. */
START_TEST(caps_has_field_follows_the_controls)
{
    vcore_nvmx_caps_t c = caps_without(0xffffffffu, 0xffffffffu);
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_BNDCFGS));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_BNDCFGS_HIGH));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_IA32_RTIT_CTL));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_IA32_PAT));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_HOST_IA32_PAT));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_HOST_IA32_EFER));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_S_CET));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_HOST_SSP));
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_RIP));
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_IA32_DEBUGCTL));
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_SYSENTER_CS));
    /* Either control of a pair is enough. */
    c.msr[VCORE_NVMX_CAP_EXIT] |= (1ull << 23) << 32;
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_BNDCFGS));
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_BNDCFGS_HIGH));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_IA32_RTIT_CTL));
    c.msr[VCORE_NVMX_CAP_ENTRY] |= (1ull << 18) << 32;
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_IA32_RTIT_CTL));
    c.msr[VCORE_NVMX_CAP_EXIT] |= (1ull << 18) << 32; /* save IA32_PAT: the guest field, not the host one */
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_IA32_PAT));
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_HOST_IA32_PAT));
    c.msr[VCORE_NVMX_CAP_EXIT] |= (1ull << 19) << 32;
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_HOST_IA32_PAT));
    /* Secondary controls count only when they can be activated. */
    c.msr[VCORE_NVMX_CAP_PROCBASED2] = (1ull << 1) << 32;
    c.msr[VCORE_NVMX_CAP_PROCBASED] &= ~((1ull << 31) << 32);
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_PDPTR0));
    c.msr[VCORE_NVMX_CAP_PROCBASED] |= (1ull << 31) << 32;
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_PDPTR0));
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_GUEST_PDPTR3_HIGH));
    c.msr[VCORE_NVMX_CAP_PINBASED] &= ~((1ull << 6) << 32);
    ck_assert(!vcore_nvmx_caps_has_field(&c, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE));
    c.msr[VCORE_NVMX_CAP_PINBASED] |= (1ull << 6) << 32;
    ck_assert(vcore_nvmx_caps_has_field(&c, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE));
    /* Not a field at all; no capabilities. */
    ck_assert(!vcore_nvmx_caps_has_field(&c, 0x7fffu));
    ck_assert(!vcore_nvmx_caps_has_field(NULL, VCORE_VMCS_GUEST_RIP));
}
END_TEST

/* Exit and entry controls that make guest/host fields exist; "load
 * IA32_PAT" (entry 14) and "load IA32_EFER" (entry 15) stay, as vmcs02
 * needs them to give L2 its PAT and EFER (test_nested_pat.c and
 * test_nested_efer.c refuse a processor without them). */
#define GUARD_EXIT ((1u << 12) | (1u << 18) | (1u << 19) | (1u << 20) | (1u << 21) | (1u << 23) | (1u << 25) | \
                    (1u << 26) | (1u << 28) | (1u << 29) | (1u << 30))
#define GUARD_ENTRY ((1u << 13) | (1u << 16) | (1u << 18) | (1u << 20) | (1u << 21) | \
                     (1u << 22))

/* A processor without the load/save/clear controls (Bochs' Skylake-X and
 * Tiger Lake models lack BNDCFGS and RTIT_CTL): vmcs02 is built and entered
 * and the exit synced without touching a field it does not have (the
 * strict mock would count a violation: teardown checks there is none). */
START_TEST(vmcs02_skips_fields_the_processor_lacks)
{
    teardown();
    vcore_nvmx_caps_t c = caps_without(GUARD_EXIT, GUARD_ENTRY);
    setup_caps(&c);
    set12(VCORE_VMCS_GUEST_BNDCFGS, 0x1001);
    set12(VCORE_VMCS_GUEST_IA32_RTIT_CTL, 1);
    nested_launch_cpuid();
    static const uint32_t absent[] = {
        VCORE_VMCS_GUEST_BNDCFGS, VCORE_VMCS_GUEST_IA32_RTIT_CTL,
        VCORE_VMCS_GUEST_IA32_PERF_GLOBAL_CTRL, VCORE_VMCS_GUEST_IA32_LBR_CTL,
        VCORE_VMCS_GUEST_IA32_PKRS, VCORE_VMCS_GUEST_S_CET, VCORE_VMCS_GUEST_SSP,
        VCORE_VMCS_GUEST_INTR_SSP_TABLE_ADDR,
    };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        ck_assert_uint_eq(field_accesses(absent[i]), 0);
    /* L1 reads its own value back: vmcs12 keeps what L1 wrote. */
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_BNDCFGS), 0x1001);
    /* The fields that exist were written. */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_CR3), 0x1000);
    ck_assert_uint_ne(field_accesses(VCORE_VMCS_GUEST_SYSENTER_CS), 0);
}
END_TEST

/* With the controls, the same fields are in vmcs02 (written once). */
START_TEST(vmcs02_writes_fields_the_processor_has)
{
    set12(VCORE_VMCS_GUEST_BNDCFGS, 0x1001);
    nested_launch_cpuid();
    uint64_t r = 0, w = 0;
    ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_BNDCFGS, &r, &w), VCORE_OK);
    ck_assert_uint_eq(w, 1);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_BNDCFGS), 0x1001);
    /* The library's capabilities have no "load IA32_RTIT_CTL": not written. */
    ck_assert_uint_eq(field_accesses(VCORE_VMCS_GUEST_IA32_RTIT_CTL), 0);
}
END_TEST

/* The strict mock itself: an absent field is VMfailValid 12 for VMREAD and
 * VMWRITE alike, counted as a violation; a present one is accepted. */
START_TEST(mock_refuses_absent_fields)
{
    teardown();
    vcore_nvmx_caps_t c = caps_without(GUARD_EXIT, GUARD_ENTRY);
    setup_caps(&c);
    const vcore_backend_t *ops = vcore_vcpu_backend(vcpu);
    void *priv = vcore_vcpu_backend_priv(vcpu);
    uint64_t x = 0;
    ck_assert_int_eq(ops->vmcs_write(vcpu, priv, VCORE_VMCS_GUEST_BNDCFGS, 1), VCORE_ERR_NOENT);
    ck_assert_int_eq(ops->vmcs_read(vcpu, priv, VCORE_VMCS_GUEST_IA32_RTIT_CTL_HIGH, &x), VCORE_ERR_NOENT);
    ck_assert_int_eq(ops->vmcs_write(vcpu, priv, VCORE_VMCS_HOST_IA32_EFER, 0x500), VCORE_ERR_NOENT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_VIOLATION), 3);
    ck_assert_int_eq(ops->vmcs_write(vcpu, priv, VCORE_VMCS_GUEST_SYSENTER_CS, 8), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_read(vcpu, priv, VCORE_VMCS_GUEST_SYSENTER_CS, &x), VCORE_OK);
    ck_assert_uint_eq(x, 8);
    violations_expected = 3;
}
END_TEST

/* ---- exits L0 owns ---- */

/* VMLAUNCH, then one L2 exit; returns what the VMM sees. */
static vcore_exit_t launch_then(uint32_t reason, uint64_t qual, uint32_t len)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(reason, qual, len);
    return run();
}

/* After the VMM's reply: L2 runs again, its next exit (CPUID) is L1's, L1 halts. */
static void reply_then_cpuid(vcore_exit_t *e)
{
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, e), VCORE_OK);
    ck_assert_uint_eq(e->reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

#define IOQ(port, size, in) (((uint64_t)(port) << 16) | ((uint64_t)(size)-1u) | ((in) ? 8u : 0u))

/* IN AL, DX of a port L1 does not intercept (no I/O exiting, no bitmaps):
 * the VMM answers; AL only changes (SDM Vol. 2, "IN"); RIP moves by the
 * instruction length of the exit. */
START_TEST(io_in_byte_from_l2_reaches_vmm)
{
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x3f8, 1, true), 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.io.port, 0x3f8);
    ck_assert_uint_eq(e.u.io.width, 1);
    ck_assert_uint_eq(e.u.io.is_in, 1);
    ck_assert_uint_eq(e.u.io.count, 1);
    ck_assert_uint_eq(e.raw.reason, VCORE_VMX_EXIT_IO_INSTRUCTION);
    ck_assert(last().in_l2);
    ck_assert_uint_eq(last().owner, VCORE_NVMX_OWNER_L0);
    e.u.io.data[0] = 0x5a;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x112233445566775aull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401001);
}
END_TEST

/* IN AX writes AX only; IN EAX writes EAX and clears bits 63:32 (a 32-bit
 * destination in 64-bit mode). */
START_TEST(io_in_word_and_dword)
{
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x60, 2, true), 2);
    ck_assert_uint_eq(e.u.io.width, 2);
    e.u.io.data[0] = 0xcd;
    e.u.io.data[1] = 0xab;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x112233445566abcdull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x61, 4, true), 1);
    ck_assert_uint_eq(e.u.io.width, 4);
    ck_assert_uint_eq(e.u.io.port, 0x61);
    e.u.io.data[0] = 0x04;
    e.u.io.data[1] = 0x03;
    e.u.io.data[2] = 0x02;
    e.u.io.data[3] = 0x01;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x01020304ull);
}
END_TEST

/* OUT DX, AX: the VMM gets AX's two bytes, no reply; RAX is unchanged. */
START_TEST(io_out_from_l2_reaches_vmm)
{
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 2, false), 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.io.is_in, 0);
    ck_assert_uint_eq(e.u.io.data[0], 0x88);
    ck_assert_uint_eq(e.u.io.data[1], 0x77);
    ck_assert_uint_eq(e.u.io.data[2], 0);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x1122334455667788ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401001);
}
END_TEST

/* "Single-Step Exception Condition": an L2 instruction the VMM completed
 * (OUT) under RFLAGS.TF (_i = 1) is followed by its single-step trap - the
 * processor saw it exit, not finish - so BS (bit 14) of vmcs02's pending
 * debug exceptions is set before L2 runs again ("Guest Non-Register
 * State"); without TF (_i = 0) nothing is pending. */
START_TEST(io_out_completed_by_vmm_single_steps)
{
    set12(VCORE_VMCS_GUEST_RFLAGS, _i ? 0x102u : 0x2u);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false), 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS) & (1u << 14), _i ? (1u << 14) : 0u);
}
END_TEST

/* With L1's I/O bitmap bit set, the same exit is L1's, never the VMM's. */
START_TEST(io_wanted_by_l1_is_reflected)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 25));
    set12(VCORE_VMCS_IO_BITMAP_A, IOBM_A);
    set12(VCORE_VMCS_IO_BITMAP_B, IOBM_B);
    put(IOBM_A + 0x80 / 8, 1u << (0x80 % 8), 1);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false), 2);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_IO_INSTRUCTION);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), IOQ(0x80, 1, false));
}
END_TEST

/* L1 uses MSR bitmaps and leaves the MSR's bits clear: L0's. */
static void msr_bitmap_clear(void)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
}

/* RDMSR the VMM answers: EDX:EAX = the value, bits 63:32 of RAX and RDX
 * cleared (SDM Vol. 2, "RDMSR"); RIP past the instruction. */
START_TEST(rdmsr_from_l2_reaches_vmm)
{
    msr_bitmap_clear();
    nested_set_gpr(VCORE_X86_RCX, 0xffffffff000001a0ull);
    nested_set_gpr(VCORE_X86_RAX, ~0ull);
    nested_set_gpr(VCORE_X86_RDX, ~0ull);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_RDMSR, 0, 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.msr.index, 0x1a0);
    e.u.msr.value = 0x1234567890abcdefull;
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0x90abcdefull);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0x12345678ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
}
END_TEST

/* WRMSR the VMM sees: the value is EDX:EAX (bits 63:32 of both ignored). */
START_TEST(wrmsr_from_l2_reaches_vmm)
{
    msr_bitmap_clear();
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    nested_set_gpr(VCORE_X86_RAX, 0xaaaaaaaa87654321ull);
    nested_set_gpr(VCORE_X86_RDX, 0xbbbbbbbb00000001ull);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_WRMSR, 0, 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.msr.index, 0x1a0);
    ck_assert_uint_eq(e.u.msr.value, 0x0000000187654321ull);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0xaaaaaaaa87654321ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
}
END_TEST

/* A refused RDMSR is #GP(0) in L2: injected through vmcs02's VM-entry
 * interruption information (valid, hardware exception, error code, vector
 * 13), RIP not advanced, registers untouched. */
START_TEST(rdmsr_refused_is_gp_in_l2)
{
    msr_bitmap_clear();
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    nested_set_gpr(VCORE_X86_RAX, 7);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_RDMSR, 0, 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    e.u.msr.error = 1;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 7);
}
END_TEST

/* ... and a VM exit to L1 when L1 intercepts #GP (exception bitmap bit 13):
 * exit reason 0 with the #GP in the exit interruption information. */
START_TEST(rdmsr_refused_with_l1_gp_intercept_is_exit_to_l1)
{
    msr_bitmap_clear();
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_RDMSR, 0, 2);
    e.u.msr.error = 1;
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert(!last().in_l2);
}
END_TEST

/* An INIT signalled while the VMM holds L2's RDMSR, whose refusal then
 * ends in the #GP exit to L1: that exit comes first (the instruction
 * completes with the answer), and the INIT, no longer for L2, is blocked
 * in L1's VMX root operation - latched ("Restrictions on VMX Operation")
 * and delivered once L1 leaves VMX operation with VMXOFF. */
START_TEST(init_owed_when_reply_exits_to_l1_is_latched)
{
    msr_bitmap_clear();
    set12(VCORE_VMCS_EXCEPTION_BITMAP, 1u << 13);
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_RDMSR, 0, 2);
    ck_assert_int_eq(vcore_vcpu_init_signal(vcpu), VCORE_OK);
    e.u.msr.error = 1;
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert(!last().in_l2);
    push_insn(VCORE_NVMX_VMXOFF, 0, 3);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_INIT);
}
END_TEST

/* RDMSR of IA32_SYSENTER_EIP that L1 lets through: L2's own value, from
 * vmcs02's guest state, without the VMM ("Guest Register State"). */
START_TEST(rdmsr_of_l2_state_answered_from_vmcs02)
{
    msr_bitmap_clear();
    set12(VCORE_VMCS_GUEST_SYSENTER_EIP, 0xffffffff81000000ull);
    nested_set_gpr(VCORE_X86_RCX, 0x176);
    nested_set_gpr(VCORE_X86_RAX, ~0ull);
    nested_set_gpr(VCORE_X86_RDX, ~0ull);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_RDMSR, 0, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0x81000000ull);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0xffffffffull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
    ck_assert_uint_eq(last().l0_handled, 1);
}
END_TEST

/* L2's WRMSR of IA32_SYSENTER_ESP with EDX:EAX = value, L1 letting it
 * through, after L1's VMLAUNCH; then L2's CPUID (L1's) and L1's HLT. */
static void l2_wrmsr_sysenter_esp(uint64_t value)
{
    msr_bitmap_clear();
    nested_set_gpr(VCORE_X86_RCX, 0x175);
    nested_set_gpr(VCORE_X86_RAX, 0x5555555500000000ull | (uint32_t)value);
    nested_set_gpr(VCORE_X86_RDX, value >> 32);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_WRMSR, 0, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

/* The WRMSR took: the value in vmcs02 (and vmcs12, where L1 reads it), L2
 * past the instruction. */
static void ck_sysenter_esp_written(uint64_t value)
{
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_SYSENTER_ESP), value);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_SYSENTER_ESP), value);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
}

/* The WRMSR was #GP(0) (injected into L2), nothing written, RIP unmoved. */
static void ck_sysenter_esp_gp(void)
{
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0du);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_SYSENTER_ESP), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
}

/* WRMSR of IA32_SYSENTER_ESP: canonical goes into vmcs02 (and vmcs12, where
 * L1 reads it); non-canonical is #GP(0) (SDM Vol. 2, "WRMSR"). RAX's upper
 * half is ignored. */
START_TEST(wrmsr_of_l2_state_into_vmcs02)
{
    l2_wrmsr_sysenter_esp(0xffff800000001000ull);
    ck_sysenter_esp_written(0xffff800000001000ull);
    /* Bits 63:47 not all equal: #GP(0), nothing written. */
    l2_wrmsr_sysenter_esp(0x0000800000001000ull);
    ck_sysenter_esp_gp();
}
END_TEST

/* The same WRMSR with an address canonical in 57 bits and not in 48:
 * canonical is relative to the processor's linear-address width (the rule
 * of the vCPU's own WRMSR), not to CR4.LA57 (L2 runs 4-level paging): taken
 * on a vCPU whose CPUID has 5-level paging, #GP(0) on one without. */
START_TEST(wrmsr_of_l2_state_canonical_in_cpuid_width)
{
    nested_cpuid_la57(_i != 0);
    l2_wrmsr_sysenter_esp(0x00ff800000001000ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_CR4) & (1u << 12), 0);
    if (_i)
        ck_sysenter_esp_written(0x00ff800000001000ull);
    else
        ck_sysenter_esp_gp();
}
END_TEST

/* STI blocking ends with the instruction the VMM completed. */
START_TEST(completion_ends_sti_blocking)
{
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x202); /* STI blocking needs IF ("Checks on Guest Non-Register State") */
    set12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, 1);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false), 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO), 0);
}
END_TEST

/* ---- MMIO: EPT violations of vmcs02 when L1 does not use EPT ---- */

#define L2_CODE 0x50000u
#define MMIO_GPA 0xfee00010ull
/* Exit qualification: access in bits 2:0, bits 7 and 8 (the linear address
 * is valid and the access was to its translation). */
#define EPTQ_READ 0x181u
#define EPTQ_WRITE 0x182u

/* L2 at L2_CODE executing `insn`; its EPT violation at MMIO_GPA. */
static vcore_exit_t mmio_exit(const uint8_t *insn, size_t n, uint64_t qual)
{
    ck_assert_int_eq(vcore_vm_write_guest(vm, L2_CODE, insn, n), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS};
    uint64_t val[3] = {qual, MMIO_GPA, 0x7000};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 3, enc, val);
    return run();
}

/* MOV ECX, [RBX] (8B 0B): a 4-byte read; the reply zero-extends into RCX. */
START_TEST(mmio_load_dword_from_l2)
{
    static const uint8_t insn[] = {0x8b, 0x0b};
    nested_set_gpr(VCORE_X86_RCX, ~0ull);
    vcore_exit_t e = mmio_exit(insn, sizeof(insn), EPTQ_READ);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.mmio.gpa, MMIO_GPA);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    ck_assert_uint_eq(e.u.mmio.is_write, 0);
    e.u.mmio.data[0] = 0x44;
    e.u.mmio.data[1] = 0x33;
    e.u.mmio.data[2] = 0x22;
    e.u.mmio.data[3] = 0x11;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x11223344ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 2);
}
END_TEST

/* MOV AH, [RBX] (8A 23): without REX, register 4 of a byte operand is AH. */
START_TEST(mmio_load_ah_from_l2)
{
    static const uint8_t insn[] = {0x8a, 0x23};
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    nested_set_gpr(VCORE_X86_RSP, 0x8000);
    vcore_exit_t e = mmio_exit(insn, sizeof(insn), EPTQ_READ);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.len, 1);
    e.u.mmio.data[0] = 0xab;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x112233445566ab88ull);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x8000);
}
END_TEST

/* MOV [RBX], EAX (89 03): the VMM gets EAX's 4 bytes; no reply. */
START_TEST(mmio_store_from_l2)
{
    static const uint8_t insn[] = {0x89, 0x03};
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    vcore_exit_t e = mmio_exit(insn, sizeof(insn), EPTQ_WRITE);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    static const uint8_t want[8] = {0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0};
    ck_assert_mem_eq(e.u.mmio.data, want, 8);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 2);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x1122334455667788ull);
}
END_TEST

/* MOV QWORD [RBX], 80000000H (48 C7 03 imm32): the immediate is
 * sign-extended to 64 bits; the instruction is 7 bytes. */
START_TEST(mmio_store_imm_sign_extended)
{
    static const uint8_t insn[] = {0x48, 0xc7, 0x03, 0x00, 0x00, 0x00, 0x80};
    vcore_exit_t e = mmio_exit(insn, sizeof(insn), EPTQ_WRITE);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    static const uint8_t want[8] = {0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff};
    ck_assert_mem_eq(e.u.mmio.data, want, 8);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 7);
}
END_TEST

/* Not an instruction's data access: a fetch (bit 2), an access to a paging
 * structure (bit 8 clear), a direction the MOV does not make - raw. */
START_TEST(mmio_not_decodable_stays_raw)
{
    static const uint8_t insn[] = {0x8b, 0x0b};
    static const uint32_t quals[] = {0x184u, 0x081u, EPTQ_WRITE};
    for (size_t i = 0; i < sizeof(quals) / sizeof(quals[0]); i++) {
        vcore_exit_t e = mmio_exit(insn, sizeof(insn), quals[i]);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
        ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
        ck_assert_uint_eq(e.raw.reason, VCORE_VMX_EXIT_EPT_VIOLATION);
        ck_assert_uint_eq(e.raw.qualification, quals[i]);
        /* The VMM cannot complete it; L1 takes over again. */
        ck_assert_int_eq(vcore_vcpu_reset(vcpu), VCORE_OK);
        l1_long_mode();
    }
}
END_TEST

/* ---- string I/O of L2 that L0 keeps ----
 * SDM Vol. 2, "INS/INSB/INSW/INSD", "OUTS/OUTSB/OUTSW/OUTSD", "REP/REPE/
 * REPZ/REPNE/REPNZ"; Vol. 3, "Exit Qualification for I/O Instructions"
 * (bit 4 string, bit 5 REP). L2 runs 64-bit code at L2_CODE with identity
 * paging; L1 does not intercept the port. */
#define IOQ_STR 0x10u
#define IOQ_REP 0x20u
#define STR_BUF 0x60000u

static vcore_exit_t string_exit(const uint8_t *insn, size_t n, uint64_t qual, uint64_t rflags)
{
    ck_assert_int_eq(vcore_vm_write_guest(vm, L2_CODE, insn, n), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    set12(VCORE_VMCS_GUEST_RFLAGS, rflags);
    return launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, qual, (uint32_t)n);
}

/* REP OUTSB, RCX = 3, DF = 0: the VMM gets the 3 bytes at DS:RSI in one
 * exit; no reply needed. After it RSI += 3, RCX = 0, RIP past F3 6E. */
START_TEST(rep_outsb_from_l2_reaches_vmm)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    put(STR_BUF, 0x44434241, 4);
    nested_set_gpr(VCORE_X86_RSI, STR_BUF);
    nested_set_gpr(VCORE_X86_RCX, 3);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x3f8, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.io.port, 0x3f8);
    ck_assert_uint_eq(e.u.io.width, 1);
    ck_assert_uint_eq(e.u.io.is_in, 0);
    ck_assert_uint_eq(e.u.io.count, 3);
    ck_assert_mem_eq(e.u.io.data, "ABC", 3);
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], STR_BUF + 3);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 2);
}
END_TEST

/* REP INSW with DF = 1, RCX = 2: element 0 at ES:RDI, element 1 two bytes
 * below; the reply lands there, RDI -= 4, RCX = 0. */
START_TEST(rep_insw_backwards_into_l2_memory)
{
    static const uint8_t insn[] = {0xf3, 0x66, 0x6d};
    nested_set_gpr(VCORE_X86_RDI, STR_BUF + 0x104);
    nested_set_gpr(VCORE_X86_RCX, 2);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x60, 2, true) | IOQ_STR | IOQ_REP, 0x402);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.io.width, 2);
    ck_assert_uint_eq(e.u.io.is_in, 1);
    ck_assert_uint_eq(e.u.io.count, 2);
    static const uint8_t reply[4] = {0x11, 0x22, 0x33, 0x44};
    memcpy(e.u.io.data, reply, 4);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(ram[STR_BUF + 0x104], 0x11);
    ck_assert_uint_eq(ram[STR_BUF + 0x105], 0x22);
    ck_assert_uint_eq(ram[STR_BUF + 0x102], 0x33);
    ck_assert_uint_eq(ram[STR_BUF + 0x103], 0x44);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], STR_BUF + 0x100);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 3);
}
END_TEST

/* OUTSD FS:[RSI] (64 6F, no REP): the FS base applies in 64-bit mode
 * ("Segment Registers in 64-Bit Mode"); one element; RCX untouched. */
START_TEST(outs_with_fs_override)
{
    static const uint8_t insn[] = {0x64, 0x6f};
    set12(VCORE_VMCS_GUEST_FS_BASE, 0x68000);
    put(0x68000 + 0x50, 0xcafef00d, 4);
    put(0x50, 0x11111111, 4);
    nested_set_gpr(VCORE_X86_RSI, 0x50);
    nested_set_gpr(VCORE_X86_RCX, 7);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x80, 4, false) | IOQ_STR, 0x2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 1);
    ck_assert_uint_eq(e.u.io.width, 4);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_FS_BASE), 0x68000);
    static const uint8_t want[4] = {0x0d, 0xf0, 0xfe, 0xca};
    ck_assert_mem_eq(e.u.io.data, want, 4);
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0x54);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 7);
}
END_TEST

/* 67 F3 6E in 64-bit mode: 32-bit addresses - ESI and ECX, and the
 * updated registers are zero-extended ("General-Purpose Registers in
 * 64-Bit Mode"). */
START_TEST(rep_outsb_address_size_32)
{
    static const uint8_t insn[] = {0x67, 0xf3, 0x6e};
    put(STR_BUF, 0x5a5a, 2);
    nested_set_gpr(VCORE_X86_RSI, 0xffffffff00000000ull | STR_BUF);
    nested_set_gpr(VCORE_X86_RCX, 0xdead000000000002ull);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 2);
    ck_assert_uint_eq(e.u.io.data[0], 0x5a);
    ck_assert_uint_eq(e.u.io.data[1], 0x5a);
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], STR_BUF + 2);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 3);
}
END_TEST

/* REP OUTSB with RCX = 300: 256 bytes move in this exit; RCX = 44 and RIP
 * stays on the instruction, which L2 executes again for the rest. */
START_TEST(rep_outsb_longer_than_one_exit)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    nested_set_gpr(VCORE_X86_RSI, STR_BUF);
    nested_set_gpr(VCORE_X86_RCX, 300);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    ck_assert_uint_eq(e.u.io.count, 256);
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], STR_BUF + 256);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 44);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE);
}
END_TEST

/* REP INSB with RCX = 0 moves nothing and completes without the VMM. */
START_TEST(rep_ins_with_zero_count_completes_in_l0)
{
    static const uint8_t insn[] = {0xf3, 0x6c};
    ck_assert_int_eq(vcore_vm_write_guest(vm, L2_CODE, insn, sizeof(insn)), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    nested_set_gpr(VCORE_X86_RDI, STR_BUF);
    nested_set_gpr(VCORE_X86_RCX, 0);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, true) | IOQ_STR | IOQ_REP, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(last().l0_handled, 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE + 2);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RDI], STR_BUF);
}
END_TEST

/* REP OUTSB whose second page L2's paging does not map: only the bytes of
 * the first page move; the instruction runs again for the rest. */
START_TEST(rep_outsb_stops_before_unmapped_page)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    nested_set_gpr(VCORE_X86_RSI, 0x1ffffe); /* the 2 MiB page ends at 0x200000 */
    nested_set_gpr(VCORE_X86_RCX, 4);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 2);
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0x200000);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE);
}
END_TEST

/* ---- string I/O: the first element faults ----
 * SDM Vol. 2, "INS/INSB/INSW/INSD" and "OUTS/OUTSB/OUTSW/OUTSD" (Protected
 * Mode / 64-Bit Mode Exceptions); Vol. 3, "Relative Priority of Faults and
 * VM Exits" (the memory operand is checked after the I/O exit), "Access
 * Rights", "Interrupt 14-Page-Fault Exception (#PF)" (error code bits 0 P,
 * 1 W/R, 2 U/S; CR2), "Exception Bitmap" (#PF with the error-code mask and
 * match), "Exit Qualification for ... Exceptions" (#PF: the linear address),
 * "Format of the VM-Entry Interruption-Information Field". */
#define INFO_GP 0x80000b0du /* valid, hardware exception, error code, vector 13 */
#define INFO_SS 0x80000b0cu /* ... vector 12 */
#define INFO_PF 0x80000b0eu /* ... vector 14 */

/* The string exit, then (if L2 runs again) CPUID to L1 and L1's HLT. */
static void string_fault_run(const uint8_t *insn, size_t n, uint64_t qual, uint64_t rflags)
{
    ck_assert_int_eq(vcore_vm_write_guest(vm, L2_CODE, insn, n), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    set12(VCORE_VMCS_GUEST_RFLAGS, rflags);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, qual, (uint32_t)n);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

/* The fault went into L2: its injection in vmcs02, L2 resumed at the
 * instruction (the CPUID after it is what L1 sees), nothing moved. */
static void assert_injected(uint32_t info, uint32_t error)
{
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), info);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), error);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE);
    vcore_nvmx_last_t l = last();
    ck_assert_uint_eq(l.l0_handled, 1);
    ck_assert_uint_eq(l.reflected, 1);
}

/* REP OUTSB at RSI = 2 MiB, which L2's paging does not map (the PDE is not
 * present): #PF with error code 0 (not present, read, supervisor), CR2 the
 * linear address; RSI and RCX keep their values, RIP stays. */
START_TEST(string_first_element_not_mapped_is_pf_in_l2)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    nested_set_gpr(VCORE_X86_RSI, 0x200000);
    nested_set_gpr(VCORE_X86_RCX, 4);
    string_fault_run(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    assert_injected(INFO_PF, 0);
    ck_assert_uint_eq(sregs().cr2, 0x200000);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0x200000);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 4);
}
END_TEST

/* #PF and L1's interest ("Exception Bitmap"): with bit 14 set the #PF exits
 * when (error code & mask) == match, with bit 14 clear when it differs. The
 * exit is reason 0 with the #PF in the exit interruption information and
 * the linear address as qualification; otherwise L2 gets the #PF. */
typedef struct pf_case {
    uint32_t bitmap, mask, match;
    bool exits;
} pf_case_t;
static const pf_case_t pf_cases[] = {
    {1u << 14, 0, 0, true},  /* bit set, 0 & 0 == 0 */
    {1u << 14, 1, 1, false}, /* bit set, error 0: 0 & 1 != 1 */
    {0, 1, 1, true},         /* bit clear, mismatch */
    {0, 0, 0, false},        /* bit clear, match */
};

START_TEST(string_pf_follows_exception_bitmap_and_pfec)
{
    const pf_case_t *c = &pf_cases[_i];
    static const uint8_t insn[] = {0x6e};
    set12(VCORE_VMCS_EXCEPTION_BITMAP, c->bitmap);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MASK, c->mask);
    set12(VCORE_VMCS_PAGE_FAULT_ERROR_CODE_MATCH, c->match);
    nested_set_gpr(VCORE_X86_RSI, 0x200010);
    ck_assert_int_eq(vcore_vm_write_guest(vm, L2_CODE, insn, sizeof(insn)), VCORE_OK);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false) | IOQ_STR, 1);
    if (!c->exits)
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    if (c->exits) {
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EXCEPTION_NMI);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_INFO), INFO_PF);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE), 0);
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x200010);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE);
        ck_assert_uint_eq(regs().rip, HOST_RIP);
        ck_assert(!last().in_l2);
    } else {
        assert_injected(INFO_PF, 0);
        ck_assert_uint_eq(sregs().cr2, 0x200010);
    }
}
END_TEST

/* L2's own 4 KiB identity paging at 0x34000: every entry present and
 * writable, user with `user`; the page at STR_BUF gets `buf_flags`. */
#define L2_PML4 0x34000u
#define L2_PDPT 0x35000u
#define L2_PD 0x36000u
#define L2_PT 0x37000u
static void l2_paging(uint64_t user, uint64_t buf_flags)
{
    put(L2_PML4, L2_PDPT | 3 | user, 8);
    put(L2_PDPT, L2_PD | 3 | user, 8);
    put(L2_PD, L2_PT | 3 | user, 8);
    for (uint64_t i = 0; i < 512; i++)
        put(L2_PT + i * 8, (i << 12) | 3 | user, 8);
    put(L2_PT + (STR_BUF >> 12) * 8, STR_BUF | buf_flags, 8);
    set12(VCORE_VMCS_GUEST_CR3, L2_PML4);
}

/* INSB into a read-only page (CR0.WP = 1 in L2): #PF with error code 3
 * (present, write); nothing written, no dirty flag set in L2's PTE. */
START_TEST(ins_into_read_only_page_is_pf_write)
{
    static const uint8_t insn[] = {0x6c};
    l2_paging(0, 1);
    nested_set_gpr(VCORE_X86_RDI, STR_BUF + 0x10);
    string_fault_run(insn, sizeof(insn), IOQ(0x60, 1, true) | IOQ_STR, 0x2);
    assert_injected(INFO_PF, 3);
    ck_assert_uint_eq(sregs().cr2, STR_BUF + 0x10);
    uint64_t pte = 0;
    memcpy(&pte, ram + L2_PT + (STR_BUF >> 12) * 8, 8);
    ck_assert_uint_eq(pte, STR_BUF | 1);
}
END_TEST

/* L2 at CPL 3 (SS.DPL = 3). OUTSB of a supervisor page: #PF error code 5
 * (present, read, user); INSB into a read-only user page: error code 7
 * (present, write, user) whatever CR0.WP. A user page allows both. */
static void l2_cpl3(void)
{
    set12(VCORE_VMCS_GUEST_CS_SELECTOR, 0x2b);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa0fb);
    set12(VCORE_VMCS_GUEST_SS_SELECTOR, 0x33);
    set12(VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc0f3);
    set12(VCORE_VMCS_GUEST_DS_SELECTOR, 0x33);
    set12(VCORE_VMCS_GUEST_DS_AR_BYTES, 0xc0f3);
    set12(VCORE_VMCS_GUEST_ES_SELECTOR, 0x33);
    set12(VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc0f3);
}

START_TEST(cpl3_outs_of_supervisor_page_is_pf_user)
{
    static const uint8_t insn[] = {0x6e};
    l2_cpl3();
    l2_paging(4, 3); /* everything user but the buffer's page */
    nested_set_gpr(VCORE_X86_RSI, STR_BUF + 8);
    string_fault_run(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR, 0x3002); /* IOPL 3 */
    assert_injected(INFO_PF, 5);
    ck_assert_uint_eq(sregs().cr2, STR_BUF + 8);
}
END_TEST

START_TEST(cpl3_ins_into_read_only_user_page_is_pf_write_user)
{
    static const uint8_t insn[] = {0x6c};
    l2_cpl3();
    set12(VCORE_VMCS_GUEST_CR0, 0x80040033); /* CR0.WP = 0: user writes still fault */
    l2_paging(4, 5);
    nested_set_gpr(VCORE_X86_RDI, STR_BUF);
    string_fault_run(insn, sizeof(insn), IOQ(0x80, 1, true) | IOQ_STR, 0x3002);
    assert_injected(INFO_PF, 7);
}
END_TEST

START_TEST(cpl3_outs_of_user_page_reaches_vmm)
{
    static const uint8_t insn[] = {0x6e};
    l2_cpl3();
    l2_paging(4, 5);
    put(STR_BUF, 0x77, 1);
    nested_set_gpr(VCORE_X86_RSI, STR_BUF);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR, 0x3002);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 1);
    ck_assert_uint_eq(e.u.io.data[0], 0x77);
}
END_TEST

/* Bit 63 of the PTE of OUTSB's page, by L2's IA32_EFER.NXE (SDM Vol. 3,
 * "Paging", the reserved bits of 4-level paging and "Access Rights"): with
 * NXE = 0 it is reserved, so the first element is #PF with error code 9
 * (present, reserved bit, read, supervisor); with NXE = 1 it is XD, which
 * a data read ignores, and the VMM gets the byte. L1 loads L2's EFER. */
START_TEST(outs_of_page_with_pte_bit_63_by_l2_nxe)
{
    static const uint8_t insn[] = {0x6e};
    static const uint64_t efer[2] = {0x500, 0xd00}; /* LME, LMA; with NXE */
    l2_paging(0, 3 | (1ull << 63));
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fbu | (1u << 9) | (1u << 15));
    set12(VCORE_VMCS_GUEST_IA32_EFER, efer[_i]);
    put(STR_BUF + 0x10, 0x5a, 1);
    nested_set_gpr(VCORE_X86_RSI, STR_BUF + 0x10);
    if (_i == 0) {
        string_fault_run(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR, 0x2);
        assert_injected(INFO_PF, 9);
        ck_assert_uint_eq(sregs().cr2, STR_BUF + 0x10);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RSI], STR_BUF + 0x10);
    } else {
        vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR, 0x2);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
        ck_assert_uint_eq(e.u.io.count, 1);
        ck_assert_uint_eq(e.u.io.data[0], 0x5a);
    }
}
END_TEST

/* 64-bit mode: a non-canonical element is #GP(0), or #SS(0) through SS
 * (OUTS with an SS override, 36 6E). */
START_TEST(string_non_canonical_is_gp_or_ss)
{
    static const uint8_t outs[] = {0x6e}, outs_ss[] = {0x36, 0x6e};
    bool ss = _i == 1;
    nested_set_gpr(VCORE_X86_RSI, 0x0000800000000000ull);
    if (ss)
        string_fault_run(outs_ss, sizeof(outs_ss), IOQ(0x80, 1, false) | IOQ_STR, 0x2);
    else
        string_fault_run(outs, sizeof(outs), IOQ(0x80, 1, false) | IOQ_STR, 0x2);
    assert_injected(ss ? INFO_SS : INFO_GP, 0);
}
END_TEST

/* ... and an element that becomes non-canonical part-way through a REP:
 * the elements before it move, the instruction runs again for the rest. */
START_TEST(rep_stops_before_non_canonical_element)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    /* The last 2 MiB below the canonical hole map L1 0-2 MiB. */
    put(PML4 + 255 * 8, 0x39000 | 3, 8);
    put(0x39000 + 511 * 8, 0x3a000 | 3, 8);
    put(0x3a000 + 511 * 8, 0x83, 8);
    put(0x1ffffe, 0x4241, 2);
    nested_set_gpr(VCORE_X86_RSI, 0x00007ffffffffffeull);
    nested_set_gpr(VCORE_X86_RCX, 4);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x80, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 2);
    ck_assert_mem_eq(e.u.io.data, "AB", 2);
    reply_then_cpuid(&e);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0x0000800000000000ull);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_CODE);
}
END_TEST

/* L2 in 32-bit protected mode (IA-32e mode guest 0, 32-bit paging with
 * 4-MByte pages at 0x38000, flat 32-bit code). */
#define L2_PD32 0x38000u
static void l2_protected32(void)
{
    put(L2_PD32, 0x83, 4); /* 0-4 MiB: present, writable, 4 MByte */
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb);
    set12(VCORE_VMCS_GUEST_CR3, L2_PD32);
    set12(VCORE_VMCS_GUEST_CR4, 0x2010); /* VMXE, PSE */
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);
}

/* "Limit Checking": an element past the segment limit is #GP(0) for ES
 * (INS) and DS (OUTS), #SS(0) for SS. The last byte counts: a word at
 * offset limit - 0 crosses it. Expand-down (type bit 2): offsets up to the
 * limit fault, those above it do not. */
typedef struct limit_case {
    const char *insn;
    size_t n;
    uint32_t seg_limit_field, seg_ar_field, ar;
    uint64_t limit;
    bool in;
    uint32_t width;
    uint64_t off;
    uint32_t info; /* 0: no fault, the VMM gets the exit */
} limit_case_t;
static const limit_case_t limit_cases[] = {
    {"\x6c", 1, VCORE_VMCS_GUEST_ES_LIMIT, VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc093, 0xfff, true, 1, 0x1000, INFO_GP},
    {"\x6c", 1, VCORE_VMCS_GUEST_ES_LIMIT, VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc093, 0xfff, true, 1, 0xfff, 0},
    {"\x66\x6f", 2, VCORE_VMCS_GUEST_DS_LIMIT, VCORE_VMCS_GUEST_DS_AR_BYTES, 0xc093, 0xfff, false, 2, 0xfff, INFO_GP},
    {"\x36\x6e", 2, VCORE_VMCS_GUEST_SS_LIMIT, VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc093, 0xfff, false, 1, 0x1000, INFO_SS},
    /* expand-down, D/B = 1: valid offsets are limit+1 .. 4G-1 */
    {"\x6e", 1, VCORE_VMCS_GUEST_DS_LIMIT, VCORE_VMCS_GUEST_DS_AR_BYTES, 0xc097, 0xfff, false, 1, 0xfff, INFO_GP},
    {"\x6e", 1, VCORE_VMCS_GUEST_DS_LIMIT, VCORE_VMCS_GUEST_DS_AR_BYTES, 0xc097, 0xfff, false, 1, 0x1000, 0},
    /* INS into a read-only data segment (type 1): #GP(0) ("Type Checking") */
    {"\x6c", 1, VCORE_VMCS_GUEST_ES_LIMIT, VCORE_VMCS_GUEST_ES_AR_BYTES, 0xc091, 0xffffffff, true, 1, 0x100, INFO_GP},
    /* an unusable ES (null selector): #GP(0) */
    {"\x6c", 1, VCORE_VMCS_GUEST_ES_LIMIT, VCORE_VMCS_GUEST_ES_AR_BYTES, 0x10000, 0xffffffff, true, 1, 0x100, INFO_GP},
};

START_TEST(protected_mode_segment_checks)
{
    const limit_case_t *c = &limit_cases[_i];
    l2_protected32();
    set12(c->seg_limit_field, c->limit);
    set12(c->seg_ar_field, c->ar);
    if (c->ar & 0x10000u)
        set12(c->seg_limit_field - 0x4800u + 0x800u, 0); /* selector 0 */
    nested_set_gpr(c->in ? VCORE_X86_RDI : VCORE_X86_RSI, c->off);
    uint64_t q = IOQ(0x80, c->width, c->in) | IOQ_STR;
    if (c->info) {
        string_fault_run((const uint8_t *)c->insn, c->n, q, 0x2);
        assert_injected(c->info, 0);
    } else {
        vcore_exit_t e = string_exit((const uint8_t *)c->insn, c->n, q, 0x2);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
        ck_assert_uint_eq(e.u.io.count, 1);
    }
}
END_TEST

/* ---- exits L0 keeps leave vmcs12 alone ---- */

/* One exit kind L0 keeps: reason, the exit-information fields the mock's
 * processor reports (all of them, distinct values), RCX for RDMSR. */
typedef struct l0_kind {
    uint32_t reason;
    uint64_t qual;
    uint32_t idt;     /* IDT-vectoring information (bit 31: valid) */
    uint64_t rcx;
    bool reenter;     /* L0 completes it and re-enters L2 */
} l0_kind_t;

static const l0_kind_t l0_kinds[] = {
    /* a host interrupt while L2 delivered vector 0EH (#PF, error code):
     * re-injected into L2 */
    {VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, 0, 0x80000b0eu, 0, true},
    /* L0's own preemption timer (L1 has none) */
    {VCORE_VMX_EXIT_PREEMPTION_TIMER, 0, 0, 0, true},
    /* RDMSR IA32_SYSENTER_EIP: answered from vmcs02 */
    {VCORE_VMX_EXIT_RDMSR, 0, 0, 0x176, true},
    {VCORE_VMX_EXIT_HLT, 0, 0, 0, false},
    {VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x71, 1, true), 0, 0, false},
    {VCORE_VMX_EXIT_RDMSR, 0, 0, 0x1a0, false},
    /* MOV ECX, [RBX] to MMIO (L1 without EPT) */
    {VCORE_VMX_EXIT_EPT_VIOLATION, 0x181, 0, 0, false},
    /* a paging-structure access: raw */
    {VCORE_VMX_EXIT_EPT_VIOLATION, 0x081, 0, 0, false},
    {VCORE_VMX_EXIT_PAUSE, 0, 0, 0, false},
};

/* SDM Vol. 3, "VM Exits": the exit-information fields of vmcs12 change only
 * on a VM exit to L1. L2 first exits on OUT (the VMM's); vmcs12 is then
 * snapshotted; the exit of the row follows (and, when L0 re-enters L2, an
 * OUT to port 81H): vmcs12 must be byte for byte what it was. */
START_TEST(l0_exit_leaves_vmcs12)
{
    const l0_kind_t *k = &l0_kinds[_i];
    static const uint8_t mov[] = {0x8b, 0x0b}; /* MOV ECX, [RBX] */
    msr_bitmap_clear();
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    set12(VCORE_VMCS_VM_EXIT_REASON, 0x5a5a);
    set12(VCORE_VMCS_EXIT_QUALIFICATION, 0x1111);
    set12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, 9);
    set12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, 0x2222);
    ck_assert_int_eq(vcore_vm_write_guest(vm, L2_CODE + 1, mov, sizeof(mov)), VCORE_OK);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false), 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    uint8_t before[VCORE_VMCS12_SIZE];
    memcpy(before, vcore_nvmx_vmcs12(nv), sizeof(before));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x5a5a);
    nested_set_gpr(VCORE_X86_RCX, k->rcx);
    uint32_t enc[8] = {VCORE_VMCS_EXIT_QUALIFICATION,      VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN,
                       VCORE_VMCS_VM_EXIT_INTR_INFO,       VCORE_VMCS_IDT_VECTORING_INFO_FIELD,
                       VCORE_VMCS_IDT_VECTORING_ERROR_CODE, VCORE_VMCS_GUEST_LINEAR_ADDRESS,
                       VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,  VCORE_VMCS_VMX_INSTRUCTION_INFO};
    uint64_t val[8] = {k->qual, 2, 0x80000020u, k->idt, 0x7, 0x7000, MMIO_GPA, 0x1234};
    push_l2(VCORE_HW_ENTRY_EXIT, k->reason, 0, 8, enc, val);
    if (k->reenter)
        nested_push_l2_q(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x81, 1, false), 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert(last().in_l2);
    ck_assert_uint_eq(last().reflected, 0);
    ck_assert_uint_eq(e.raw.reason, k->reenter ? VCORE_VMX_EXIT_IO_INSTRUCTION : k->reason);
    ck_assert_mem_eq(vcore_nvmx_vmcs12(nv), before, sizeof(before));
    if (k->idt) {
        /* The event goes back into L2 from the exit's own information
         * (valid, type 3, error code; bit 12 is not an entry field). */
        ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0eu);
        ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 7);
    }
}
END_TEST

/* ---- L1's monitor trap flag after an instruction L0 completes ----
 * SDM Vol. 3, "Monitor Trap Flag": with primary processor-based control 27
 * an MTF VM exit (reason 37, qualification 0: "Basic VM-Exit Information",
 * "Exit Qualification") is pending on the boundary after an instruction
 * that did not fault, or after one iteration of a REP string instruction;
 * it comes before L2 executes anything else and before an external
 * interrupt. The processor never saw these instructions finish: L0 owes
 * the exit. */
#define PROC_MTF (1u << 27)

static void mtf_on(void)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, get_proc12() | PROC_MTF);
}

/* The next run: L1 gets the MTF VM exit with L2 at rip, L2 does not run. */
static void reply_then_mtf(vcore_exit_t *e, uint64_t rip)
{
    uint64_t enters = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, e), VCORE_OK);
    ck_assert_uint_eq(e->reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), enters);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_MONITOR_TRAP_FLAG);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), rip);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    ck_assert(!last().in_l2);
}

START_TEST(mtf_after_io_in_the_vmm_answered)
{
    mtf_on();
    nested_set_gpr(VCORE_X86_RAX, 0x1122334455667788ull);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x3f8, 1, true), 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    e.u.io.data[0] = 0x5a;
    reply_then_mtf(&e, 0x401001);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x112233445566775aull);
}
END_TEST

START_TEST(mtf_after_out)
{
    mtf_on();
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false), 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    reply_then_mtf(&e, 0x401002);
}
END_TEST

START_TEST(mtf_after_rdmsr_the_vmm_answered)
{
    msr_bitmap_clear();
    mtf_on();
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_RDMSR, 0, 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    e.u.msr.value = 0x1234567890abcdefull;
    reply_then_mtf(&e, 0x401002);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x90abcdefull);
}
END_TEST

/* RDMSR of IA32_SYSENTER_EIP: L0 answers from vmcs02 without the VMM; the
 * MTF VM exit follows in the same run. */
START_TEST(mtf_after_rdmsr_l0_completed)
{
    msr_bitmap_clear();
    mtf_on();
    nested_set_gpr(VCORE_X86_RCX, VCORE_MSR_IA32_SYSENTER_EIP);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_push_l2_q(VCORE_VMX_EXIT_RDMSR, 0, 2);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_MONITOR_TRAP_FLAG);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
}
END_TEST

/* A refused WRMSR is #GP(0) in L2: no instruction completed, the MTF VM
 * exit is the processor's, after the delivery (vmcs02 keeps L1's control). */
START_TEST(mtf_not_owed_after_refused_wrmsr)
{
    msr_bitmap_clear();
    mtf_on();
    nested_set_gpr(VCORE_X86_RCX, 0x1a0);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_WRMSR, 0, 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    e.u.msr.error = 1;
    reply_then_cpuid(&e);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & PROC_MTF, PROC_MTF);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0du);
}
END_TEST

START_TEST(mtf_after_hlt)
{
    mtf_on();
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_HLT, 0, 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    reply_then_mtf(&e, 0x401001);
}
END_TEST

START_TEST(mtf_after_mmio_load)
{
    static const uint8_t insn[] = {0x8b, 0x0b};
    mtf_on();
    vcore_exit_t e = mmio_exit(insn, sizeof(insn), EPTQ_READ);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    e.u.mmio.data[0] = 0x44;
    reply_then_mtf(&e, L2_CODE + 2);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX] & 0xff, 0x44);
}
END_TEST

/* REP OUTSB with RCX = 3: one element per exit, then the MTF VM exit with
 * RIP still at the instruction ("REP-prefixed string instruction ... after
 * that iteration"). */
START_TEST(mtf_after_each_rep_iteration)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    mtf_on();
    put(STR_BUF, 0x44434241, 4);
    nested_set_gpr(VCORE_X86_RSI, STR_BUF);
    nested_set_gpr(VCORE_X86_RCX, 3);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x3f8, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 1);
    ck_assert_uint_eq(e.u.io.data[0], 'A');
    reply_then_mtf(&e, L2_CODE);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], STR_BUF + 1);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 2);
}
END_TEST

/* The last iteration completes the instruction: RIP past it. */
START_TEST(mtf_after_last_rep_iteration)
{
    static const uint8_t insn[] = {0xf3, 0x6e};
    mtf_on();
    put(STR_BUF, 0x44434241, 4);
    nested_set_gpr(VCORE_X86_RSI, STR_BUF);
    nested_set_gpr(VCORE_X86_RCX, 1);
    vcore_exit_t e = string_exit(insn, sizeof(insn), IOQ(0x3f8, 1, false) | IOQ_STR | IOQ_REP, 0x2);
    ck_assert_uint_eq(e.u.io.count, 1);
    reply_then_mtf(&e, L2_CODE + 2);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0);
}
END_TEST

/* Without L1's control nothing is owed: L2 runs on (its CPUID exits to L1). */
START_TEST(no_mtf_without_l1s_control)
{
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false), 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401002);
}
END_TEST

/* ---- L1's VMX-preemption timer across exits L0 handles ----
 * SDM Vol. 3, "VMX-Preemption Timer": the timer counts down only in VMX
 * non-root operation and each VM entry loads it from the VMCS; "Saving
 * Guest State": VM-exit control 22 stores the count. L1 enters L2 once and
 * must see its timer expire after that much of L2's time, whatever exits L0
 * takes in between. */
#define PIN_TIMER (1u << 6)
#define EXIT_SAVE_TIMER (1u << 22)

static void timer_on(uint32_t count)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_TIMER);
    set12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, count);
}

/* The processor saves the count at every exit of vmcs02 (control 22 forced
 * while L1's timer is active), a host interrupt's too; the re-entry keeps
 * it; vmcs12 keeps L1's value (L1 did not ask for control 22); L1's next
 * VMRESUME starts the timer from vmcs12 again. */
START_TEST(timer_continues_across_l0_exit)
{
    timer_on(1000);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[1] = {VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE};
    uint64_t val[1] = {400}; /* what the processor saved */
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, 0, 1, enc, val);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_ENTER), 2);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_EXIT_CONTROLS) & EXIT_SAVE_TIMER, EXIT_SAVE_TIMER);
    /* The re-entry did not load vmcs12's 1000 again. */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 400);
    ck_assert_uint_eq(get12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 1000);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 1000);
}
END_TEST

/* Without L1's timer vmcs02 does not save one. */
START_TEST(timer_save_only_with_l1s_timer)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_EXIT_CONTROLS) & EXIT_SAVE_TIMER, 0);
    uint32_t l1[5] = {0x16, 0x04006172, 0, 0, 0x11fb}, l0[5] = {0, 0, 0, EXIT_SAVE_TIMER, 0}, out[5];
    vcore_nvmx_merge_controls(l1, l0, out);
    ck_assert_uint_eq(out[3] & EXIT_SAVE_TIMER, 0);
    l1[0] |= PIN_TIMER;
    l0[3] = 0;
    vcore_nvmx_merge_controls(l1, l0, out);
    ck_assert_uint_eq(out[3] & EXIT_SAVE_TIMER, EXIT_SAVE_TIMER);
}
END_TEST

/* A processor without control 22: L0 takes what L2 used from L1's TSC
 * between the entry and the exit, by the rate IA32_VMX_MISC[4:0] gives
 * (300 ticks and part of one), and enters again with the rest. */
START_TEST(timer_counted_by_l0_without_save_control)
{
    teardown();
    vcore_nvmx_caps_t c = caps_without(EXIT_SAVE_TIMER, 0);
    setup_caps(&c);
    uint32_t rate = (uint32_t)(vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_MISC] & 0x1fu);
    const uint64_t t0 = 0x100000000ull;
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, t0), VCORE_OK);
    timer_on(1000);
    vcore_exit_t e = launch_then(VCORE_VMX_EXIT_IO_INSTRUCTION, IOQ(0x80, 1, false), 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_EXIT_CONTROLS) & EXIT_SAVE_TIMER, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 1000);
    uint64_t part = rate ? (1ull << rate) - 1u : 0u;
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, t0 + (300ull << rate) + part), VCORE_OK);
    reply_then_cpuid(&e);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 700);
    ck_assert_uint_eq(get12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 1000);
}
END_TEST

static Suite *run_suite(void)
{
    Suite *s = suite_create("nested_run");
    TCase *tf = tcase_create("fields");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_add_test(tf, caps_has_field_follows_the_controls);
    tcase_add_test(tf, vmcs02_skips_fields_the_processor_lacks);
    tcase_add_test(tf, vmcs02_writes_fields_the_processor_has);
    tcase_add_test(tf, mock_refuses_absent_fields);
    suite_add_tcase(s, tf);
    TCase *tm = tcase_create("mtf");
    tcase_add_checked_fixture(tm, setup, teardown);
    tcase_add_test(tm, mtf_after_io_in_the_vmm_answered);
    tcase_add_test(tm, mtf_after_out);
    tcase_add_test(tm, mtf_after_rdmsr_the_vmm_answered);
    tcase_add_test(tm, mtf_after_rdmsr_l0_completed);
    tcase_add_test(tm, mtf_not_owed_after_refused_wrmsr);
    tcase_add_test(tm, mtf_after_hlt);
    tcase_add_test(tm, mtf_after_mmio_load);
    tcase_add_test(tm, mtf_after_each_rep_iteration);
    tcase_add_test(tm, mtf_after_last_rep_iteration);
    tcase_add_test(tm, no_mtf_without_l1s_control);
    suite_add_tcase(s, tm);
    TCase *tt = tcase_create("timer");
    tcase_add_checked_fixture(tt, setup, teardown);
    tcase_add_test(tt, timer_continues_across_l0_exit);
    tcase_add_test(tt, timer_save_only_with_l1s_timer);
    tcase_add_test(tt, timer_counted_by_l0_without_save_control);
    suite_add_tcase(s, tt);
    TCase *tl = tcase_create("l0_exits");
    tcase_add_checked_fixture(tl, setup, teardown);
    tcase_add_test(tl, io_in_byte_from_l2_reaches_vmm);
    tcase_add_test(tl, io_in_word_and_dword);
    tcase_add_test(tl, io_out_from_l2_reaches_vmm);
    tcase_add_loop_test(tl, io_out_completed_by_vmm_single_steps, 0, 2);
    tcase_add_test(tl, io_wanted_by_l1_is_reflected);
    tcase_add_test(tl, rdmsr_from_l2_reaches_vmm);
    tcase_add_test(tl, wrmsr_from_l2_reaches_vmm);
    tcase_add_test(tl, rdmsr_refused_is_gp_in_l2);
    tcase_add_test(tl, rdmsr_refused_with_l1_gp_intercept_is_exit_to_l1);
    tcase_add_test(tl, init_owed_when_reply_exits_to_l1_is_latched);
    tcase_add_test(tl, rdmsr_of_l2_state_answered_from_vmcs02);
    tcase_add_test(tl, wrmsr_of_l2_state_into_vmcs02);
    tcase_add_loop_test(tl, wrmsr_of_l2_state_canonical_in_cpuid_width, 0, 2);
    tcase_add_test(tl, completion_ends_sti_blocking);
    tcase_add_test(tl, mmio_load_dword_from_l2);
    tcase_add_test(tl, mmio_load_ah_from_l2);
    tcase_add_test(tl, mmio_store_from_l2);
    tcase_add_test(tl, mmio_store_imm_sign_extended);
    tcase_add_test(tl, mmio_not_decodable_stays_raw);
    tcase_add_test(tl, rep_outsb_from_l2_reaches_vmm);
    tcase_add_test(tl, rep_insw_backwards_into_l2_memory);
    tcase_add_test(tl, outs_with_fs_override);
    tcase_add_test(tl, rep_outsb_address_size_32);
    tcase_add_test(tl, rep_outsb_longer_than_one_exit);
    tcase_add_test(tl, rep_ins_with_zero_count_completes_in_l0);
    tcase_add_test(tl, rep_outsb_stops_before_unmapped_page);
    tcase_add_test(tl, string_first_element_not_mapped_is_pf_in_l2);
    tcase_add_loop_test(tl, string_pf_follows_exception_bitmap_and_pfec, 0,
                        (int)(sizeof(pf_cases) / sizeof(pf_cases[0])));
    tcase_add_test(tl, ins_into_read_only_page_is_pf_write);
    tcase_add_test(tl, cpl3_outs_of_supervisor_page_is_pf_user);
    tcase_add_test(tl, cpl3_ins_into_read_only_user_page_is_pf_write_user);
    tcase_add_test(tl, cpl3_outs_of_user_page_reaches_vmm);
    tcase_add_loop_test(tl, outs_of_page_with_pte_bit_63_by_l2_nxe, 0, 2);
    tcase_add_loop_test(tl, string_non_canonical_is_gp_or_ss, 0, 2);
    tcase_add_test(tl, rep_stops_before_non_canonical_element);
    tcase_add_loop_test(tl, protected_mode_segment_checks, 0, (int)(sizeof(limit_cases) / sizeof(limit_cases[0])));
    tcase_add_loop_test(tl, l0_exit_leaves_vmcs12, 0, (int)(sizeof(l0_kinds) / sizeof(l0_kinds[0])));
    suite_add_tcase(s, tl);
    return s;
}

int main(void)
{
    return vcore_test_run(run_suite());
}
