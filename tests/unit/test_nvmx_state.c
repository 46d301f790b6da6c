/*
 * test_nvmx_state.c - a vCPU's nested VMX state in KVM's nested-state
 * format with L2 running (guest mode), on the mock: export while L2 runs,
 * import into a fresh vCPU, and the next L2 exit reaches L1 exactly as on
 * the original vCPU; every refusal rule names itself and changes nothing.
 *
 * Expected values come from the KVM API ("KVM_GET_NESTED_STATE",
 * "KVM_SET_NESTED_STATE": header layout, flags GUEST_MODE 1, RUN_PENDING
 * 2, EVMCS 4, MTF_PENDING 8, vmcs12 at offset 128, VMCS12_REVISION
 * 0x11e57ed0) and the SDM Vol. 3: "Saving Guest State" (what an exit
 * leaves in vmcs12), "Loading Host State" (L1 at HOST_RIP/HOST_RSP,
 * RFLAGS 2), "Event Injection" (an event is injected by the VM entry that
 * delivers it, once), "Loading MSRs" (the VM-entry MSR-load list is read
 * by the VM entry only), "Checks on Guest RIP, RFLAGS, and SSP" (RFLAGS
 * bit 1 must be 1), "Checks on VMX Controls" (allowed-0 pin-based bits).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

/* struct kvm_nested_state offsets (KVM API). */
#define B_FLAGS 0u
#define B_FORMAT 2u
#define B_SIZE 4u
#define B_VMXON 8u
#define B_VMCS 16u
#define B_SMM 24u
#define B_VMX_FLAGS 28u
#define B_DEADLINE 32u
#define B_DATA 128u
#define KVM_REV 0x11e57ed0u

/* VM-exit interruption information of a #UD (vector 6, type 3 hardware
 * exception, valid): an exception L1 does not intercept (bitmap 0). */
#define UD_INFO 0x80000306u
/* VM-entry interruption information: external interrupt 20H (type 0), valid. */
#define EXTINT_20 0x80000020u

static vcore_vcpu_t *vcpu_a;
static uint8_t blob[VCORE_KVM_NESTED_MAX_SIZE];
static uint8_t other[VCORE_KVM_NESTED_MAX_SIZE];

static void use(vcore_vcpu_t *c)
{
    vcpu = c;
    nv = vcore_vcpu_nvmx(c);
}

/* A second vCPU of the VM with the same L1 (64-bit, VMXE, feature control). */
static vcore_vcpu_t *fresh_vcpu(void)
{
    vcore_vcpu_config_t vc;
    vcore_vcpu_t *c = NULL;
    static uint32_t next_id;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    vc.id = vcpu_a ? ++next_id : (next_id = 0);
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &c), VCORE_OK);
    use(c);
    l1_long_mode();
    return c;
}

static void setup(void)
{
    vcpu_a = NULL;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.max_vcpus = 4;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    memset(ram, 0, RAM);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    vcpu_a = fresh_vcpu();
    ref_vmcs12();
    memset(blob, 0, sizeof(blob));
}

static void teardown(void)
{
    ck_assert_uint_eq(vcore_mock_count(vcpu_a, VCORE_MOCK_OP_VMCS_VIOLATION), 0);
    vcore_vm_destroy(vm);
}

/* The guest state the mock's processor saves in vmcs02 at L2's first exit:
 * L2 moved on (RIP, RSP, RFLAGS.IF) and changed FS/GS bases (fields the
 * pipeline syncs lazily). */
#define L2_RIP 0x402000u
#define L2_RSP 0x7ff0u
#define L2_FS 0x7fff0000u
#define L2_GS 0x12345000u

/* VMLAUNCH on the current vCPU, then L2 takes a #UD L1 does not intercept:
 * the VMM sees it raw and L2 stays the running context. */
static void launch_into_l2(void)
{
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[6] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_GUEST_RIP, VCORE_VMCS_GUEST_RSP,
                       VCORE_VMCS_GUEST_RFLAGS, VCORE_VMCS_GUEST_FS_BASE, VCORE_VMCS_GUEST_GS_BASE};
    uint64_t val[6] = {UD_INFO, L2_RIP, L2_RSP, 0x202, L2_FS, L2_GS};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 6, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert(last().in_l2);
}

static uint16_t b16(const uint8_t *b, size_t off)
{
    uint16_t v;
    memcpy(&v, b + off, 2);
    return v;
}

static uint32_t b32(const uint8_t *b, size_t off)
{
    uint32_t v;
    memcpy(&v, b + off, 4);
    return v;
}

static uint64_t b64(const uint8_t *b, size_t off)
{
    uint64_t v;
    memcpy(&v, b + off, 8);
    return v;
}

static void set16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); }
static void set32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void set64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }

static uint64_t blob12(const uint8_t *b, uint32_t enc)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(b + B_DATA, enc, &v), VCORE_OK);
    return v;
}

static void blob12_set(uint8_t *b, uint32_t enc, uint64_t v)
{
    ck_assert_int_eq(vcore_vmcs12_set(b + B_DATA, enc, v), VCORE_OK);
}

static uint32_t get_state(uint8_t *b)
{
    uint32_t len = 0;
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, b, VCORE_KVM_NESTED_MAX_SIZE, &len), VCORE_OK);
    return len;
}

/* L2's next exit is a CPUID (always L1's); L1 then halts. */
static void cpuid_then_hlt(void)
{
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert(!last().in_l2);
}

/* ---- export while L2 runs, import into a fresh vCPU ---- */

/* The blob of a running L2: GUEST_MODE, no RUN_PENDING (L2 ran), the
 * pointers, KVM's revision, vmcs12 launched and holding L2's state as an
 * exit would save it - the lazily synced FS/GS bases included. */
START_TEST(export_in_guest_mode)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(len, 128 + 4096);
    ck_assert_uint_eq(b16(blob, B_FLAGS), 1);
    ck_assert_uint_eq(b16(blob, B_FORMAT), 0);
    ck_assert_uint_eq(b32(blob, B_SIZE), 128 + 4096);
    ck_assert_uint_eq(b64(blob, B_VMXON), VMXON_GPA);
    ck_assert_uint_eq(b64(blob, B_VMCS), VMCS_GPA);
    ck_assert_uint_eq(b16(blob, B_SMM), 0);
    ck_assert_uint_eq(b32(blob, B_VMX_FLAGS), 0);
    ck_assert_uint_eq(b32(blob, B_DATA), KVM_REV);
    ck_assert_uint_eq(b32(blob, B_DATA + VCORE_VMCS12_OFF_LAUNCH_STATE), 1);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_RSP), L2_RSP);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_RFLAGS), 0x202);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_FS_BASE), L2_FS);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_GS_BASE), L2_GS);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_HOST_RIP), HOST_RIP);
    /* the toolkit export cannot sync vmcs02: it refuses */
    uint32_t n = 0;
    ck_assert_int_eq(vcore_nvmx_kvm_export(nv, other, sizeof(other), &n), VCORE_ERR_STATE);
    /* a second export is the same blob */
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_int_eq(memcmp(blob, other, len), 0);
    /* too small a buffer: the size, nothing written */
    memset(other, 0xa5, sizeof(other));
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, other, len - 1, &n), VCORE_ERR_BUFSZ);
    ck_assert_uint_eq(n, 128 + 4096);
    ck_assert_uint_eq(other[0], 0xa5);
    /* exactly the size: written, nothing past it */
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, other, len, &n), VCORE_OK);
    ck_assert_int_eq(memcmp(blob, other, len), 0);
    ck_assert_uint_eq(other[len], 0xa5);
    ck_assert_uint_eq(other[sizeof(other) - 1], 0xa5);
}
END_TEST

/* Export on one vCPU, import on a fresh one: the next L2 exit (CPUID,
 * always L1's) reaches L1 on both with the same vmcs12 and the same L1
 * state (HOST_RIP, HOST_RSP, RFLAGS 2). */
START_TEST(import_runs_l2_like_the_original)
{
    launch_into_l2();
    vcore_x86_regs_t ra = regs();
    uint32_t len = get_state(blob);
    vcore_vcpu_t *b = fresh_vcpu();
    /* the VMM restores the registers (the GPRs are L2's too) */
    vcore_x86_regs_t rb = regs();
    memcpy(rb.gpr, ra.gpr, sizeof(rb.gpr));
    ck_assert_int_eq(vcore_vcpu_set_regs(b, &rb), VCORE_OK);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(b, blob, len, &d), VCORE_OK);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert(info.vmx_operation);
    ck_assert_uint_eq(info.vmxon_ptr, VMXON_GPA);
    ck_assert_uint_eq(info.current_vmptr, VMCS_GPA);
    /* it exports the same blob before running */
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_int_eq(memcmp(blob, other, len), 0);
    cpuid_then_hlt();
    /* vmcs02 was built from vmcs12: L2 entered where it stood */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_FS_BASE), L2_FS);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0);
    const uint8_t *v12b = vcore_nvmx_vmcs12(nv);
    vcore_x86_regs_t l1b = regs();
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 2);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_GS_BASE), L2_GS);
    ck_assert_uint_eq(l1b.rip, HOST_RIP);
    ck_assert_uint_eq(l1b.gpr[VCORE_X86_RSP], HOST_RSP);
    ck_assert_uint_eq(l1b.rflags, 0x2);
    /* the original vCPU, same exit */
    use(vcpu_a);
    cpuid_then_hlt();
    vcore_x86_regs_t l1a = regs();
    ck_assert_int_eq(memcmp(vcore_nvmx_vmcs12(nv), v12b, VCORE_VMCS12_KVM_END), 0);
    ck_assert_uint_eq(l1a.rip, l1b.rip);
    ck_assert_uint_eq(l1a.gpr[VCORE_X86_RSP], l1b.gpr[VCORE_X86_RSP]);
    ck_assert_uint_eq(l1a.rflags, l1b.rflags);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}
END_TEST

/* L1's VMCS shadowing for L2 across export and import (KVM's blob carries
 * the shadow vmcs12 page after vmcs12 in guest mode): L2's VMWRITE of guest
 * RIP (its bitmap bits clear) is in the exported page, not yet in L1
 * memory; the importing vCPU's L2 reads it back without an exit to L1, and
 * the exit to L1 writes it to L1 memory ("VMCS Shadowing"). */
#define SH_GPA 0x60000u
#define SH_BM 0x61000u
START_TEST(shadow_vmcs_travels_in_guest_mode)
{
    static uint8_t s[4096];
    memset(s, 0, sizeof(s));
    uint32_t rev = VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT;
    memcpy(s, &rev, 4);
    ck_assert_int_eq(vcore_vmcs12_set(s, VCORE_VMCS_GUEST_RIP, 0x777), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(vm, SH_GPA, s, sizeof(s)), VCORE_OK);
    memset(s, 0xff, sizeof(s));
    s[VCORE_VMCS_GUEST_RIP >> 3] &= (uint8_t) ~(1u << (VCORE_VMCS_GUEST_RIP & 7));
    ck_assert_int_eq(vcore_vm_write_guest(vm, SH_BM, s, sizeof(s)), VCORE_OK);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14);
    set12(VCORE_VMCS_VMCS_LINK_POINTER, SH_GPA);
    set12(VCORE_VMCS_VMREAD_BITMAP, SH_BM);
    set12(VCORE_VMCS_VMWRITE_BITMAP, SH_BM);
    load_vmcs12_rflags(0x2);
    /* L2: VMWRITE of guest RIP := RCX (register operands, field in RDX), then a #UD for the VMM */
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RCX, 0x888);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t ii = (1u << 3) | (1u << 10) | (2u << 7) | (2u << 28);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_VMX_INSTRUCTION_INFO};
    uint64_t val[2] = {3, ii};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_VMWRITE, 0, 2, enc, val);
    nested_l2_ud_to_vmm();
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(len, 128u + 8192u);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(blob + B_DATA + 4096, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x888);
    ck_assert_uint_eq(b32(blob, B_DATA + 4096), KVM_REV | 0x80000000u);
    ck_assert_int_eq(vcore_vm_read_guest(vm, SH_GPA, s, sizeof(s)), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(s, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x777);
    /* import elsewhere: L2's VMREAD reads the blob's page, CPUID exits to L1 */
    vcore_vcpu_t *b = fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(b, blob, len, NULL), VCORE_OK);
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RCX, 0);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_VMREAD, 0, 2, enc, val);
    cpuid_then_hlt();
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x888);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(last().l0_handled, 1);
    ck_assert_int_eq(vcore_vm_read_guest(vm, SH_GPA, s, sizeof(s)), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(s, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x888);
}
END_TEST

/* An import builds vmcs02's MSR bitmap as VMLAUNCH does: L1 lets L2 read
 * IA32_FS_BASE (its read-high bitmap at byte 1024, bit 100H, clear: SDM
 * "MSR-Bitmap Address") and intercepts everything else, the backend's vmcs01
 * lets IA32_FS_BASE through: on the importing vCPU too, vmcs02 lets that
 * read through and nothing else of it. */
START_TEST(import_builds_msr_bitmap)
{
    const uint32_t fs = 0xc0000100u;
    ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu_a, fs, true, true), VCORE_OK);
    memset(&ram[MSRBM], 0xff, 4096);
    ram[MSRBM + 1024 + (fs & 0x1fffu) / 8] &= (uint8_t)~(1u << (fs & 7u));
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    launch_into_l2();
    uint32_t len = get_state(blob);
    vcore_vcpu_t *b = fresh_vcpu();
    ck_assert_int_eq(vcore_mock_set_msr_pass(b, fs, true, true), VCORE_OK);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(b, blob, len, &d), VCORE_OK);
    cpuid_then_hlt();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & (1u << 28), 1u << 28);
    const uint8_t *bm = (const uint8_t *)(uintptr_t)nested_peek02(VCORE_VMCS_MSR_BITMAP);
    ck_assert_ptr_ne(bm, &ram[MSRBM]);
    ck_assert(!(bm[1024 + (fs & 0x1fffu) / 8] & (1u << (fs & 7u))));
    ck_assert(bm[3072 + (fs & 0x1fffu) / 8] & (1u << (fs & 7u)));
}
END_TEST

/* An import of an L2 whose L1 has "virtualize x2APIC mode" (secondary 4,
 * with the TPR shadow it needs: "Checks on VMX Controls") builds vmcs02's
 * bitmap as VMLAUNCH does: the control in vmcs02, and L1's clear bits of
 * 808H taken for RDMSR and WRMSR (both virtualized on the virtual-APIC
 * page: "Virtualizing MSR-Based APIC Accesses") although the backend's
 * vmcs01 lets no MSR through; 802H, clear in L1's bitmap too, is read
 * from the virtual-APIC page only with APIC-register virtualization
 * (not set here), so it is intercepted. */
START_TEST(import_builds_x2apic_bitmap)
{
    memset(&ram[MSRBM], 0xff, 4096);
    ram[MSRBM + 0x808 / 8] &= (uint8_t)~(1u << (0x808 & 7u));
    ram[MSRBM + 2048 + 0x808 / 8] &= (uint8_t)~(1u << (0x808 & 7u));
    ram[MSRBM + 0x802 / 8] &= (uint8_t)~(1u << (0x802 & 7u));
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 21) | (1u << 28) | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 4);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, 0x40000);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    launch_into_l2();
    uint32_t len = get_state(blob);
    vcore_vcpu_t *b = fresh_vcpu();
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(b, blob, len, &d), VCORE_OK);
    cpuid_then_hlt();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (1u << 4), 1u << 4);
    const uint8_t *bm = (const uint8_t *)(uintptr_t)nested_peek02(VCORE_VMCS_MSR_BITMAP);
    ck_assert_ptr_ne(bm, &ram[MSRBM]);
    ck_assert(!(bm[0x808 / 8] & (1u << (0x808 & 7u))));
    ck_assert(!(bm[2048 + 0x808 / 8] & (1u << (0x808 & 7u))));
    ck_assert(bm[0x802 / 8] & (1u << (0x802 & 7u)));
}
END_TEST

/* RUN_PENDING: the VM entry has not happened, so its event is injected by
 * the entry that now happens; the export says so until L2 has run. */
START_TEST(run_pending_injects_once)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    set16(blob, B_FLAGS, 1 | 2);
    blob12_set(blob, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EXTINT_20);
    fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_uint_eq(b16(other, B_FLAGS), 3);
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INTR_INFO};
    uint64_t val[1] = {UD_INFO};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), EXTINT_20);
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_uint_eq(b16(other, B_FLAGS), 1);
}
END_TEST

/* Without RUN_PENDING the event in vmcs12's VM-entry interruption field
 * was delivered when L2 first entered: the import does not inject it. */
START_TEST(no_run_pending_no_injection)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    blob12_set(blob, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, EXTINT_20);
    fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INTR_INFO};
    uint64_t val[1] = {UD_INFO};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0);
}
END_TEST

/* The VM-entry MSR-load list is read by the VM entry only ("Loading
 * MSRs"): L2 already runs with it, the import does not load it again -
 * not even an entry that would fail the load. */
START_TEST(msr_load_list_not_reapplied)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    uint64_t ent[2] = {VCORE_MSR_IA32_SYSENTER_CS, 0x77};
    ck_assert_int_eq(vcore_vm_write_guest(vm, MSRLIST, ent, 16), VCORE_OK);
    blob12_set(blob, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1);
    blob12_set(blob, VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, MSRLIST);
    fresh_vcpu();
    uint64_t before = 0, after = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_SYSENTER_CS, &before), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_SYSENTER_CS, &after), VCORE_OK);
    ck_assert_uint_eq(after, before);
    ck_assert_uint_ne(after, 0x77);
    /* SMBASE (9EH) may not be loaded: a VMLAUNCH would fail (exit 34);
     * the import does not read the list */
    ent[0] = 0x9e;
    ck_assert_int_eq(vcore_vm_write_guest(vm, MSRLIST, ent, 16), VCORE_OK);
    vcore_vcpu_t *c = fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(c, blob, len, NULL), VCORE_OK);
}
END_TEST

/* L2's IA32_PAT and IA32_EFER travel through the vCPU's MSRs. Case bits:
 * 0 L1's "load IA32_PAT"/"load IA32_EFER" at entry, 1 "save" and 2 "load"
 * of both at exit. L2 writes both through L0 (L1's MSR bitmap lets it):
 * the export reads them with vcore_vcpu_get_msr() - L2's - and leaves
 * vmcs12's guest fields as an exit would (L2's only with "save"); a fresh
 * vCPU restored in the documented order (L1's registers, the blob, the two
 * MSRs) enters L2 with exactly those values, and the next exit gives L1
 * what the SDM says ("Saving Guest State", "Loading Host State"), the same
 * as on the original vCPU. */
#define RT_L1_PAT 0x0007010600070106ull
#define RT_GUEST12_PAT 0x0505050505050505ull
#define RT_L2_PAT 0x0004000100040001ull
#define RT_HOST12_PAT 0x0606060606060606ull
#define RT_L1_EFER 0xd00ull      /* NXE, LMA, LME */
#define RT_GUEST12_EFER 0x501ull /* LMA, LME, SCE */
#define RT_L2_EFER 0xd01ull      /* NXE, LMA, LME, SCE */
#define RT_HOST12_EFER 0x500ull  /* LMA, LME */

/* L2's WRMSR of index with value, which L0 completes, then a #UD for the VMM. */
static void l2_wrmsr_then_ud(uint32_t index, uint64_t value)
{
    nested_set_gpr(VCORE_X86_RCX, index);
    nested_set_gpr(VCORE_X86_RAX, (uint32_t)value);
    nested_set_gpr(VCORE_X86_RDX, value >> 32);
    nested_push_l2_q(VCORE_VMX_EXIT_WRMSR, 0, 2);
    nested_l2_ud_to_vmm();
}

/* After the next exit to L1: vmcs02 ran L2 with L2's values; vmcs12 and L1 as the SDM says. */
static void assert_l2_msrs_reach_l1(bool save, bool load)
{
    uint64_t pat = 0, efer = 0;
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), RT_L2_PAT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_EFER), RT_L2_EFER);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_PAT), save ? RT_L2_PAT : RT_GUEST12_PAT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_IA32_EFER), save ? RT_L2_EFER : RT_GUEST12_EFER);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &pat), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_EFER, &efer), VCORE_OK);
    ck_assert_uint_eq(pat, load ? RT_HOST12_PAT : RT_L2_PAT);
    ck_assert_uint_eq(efer, load ? RT_HOST12_EFER : RT_L2_EFER);
    ck_assert_uint_eq(sregs().efer, efer);
}

START_TEST(l2_pat_and_efer_round_trip)
{
    bool entry_load = (_i & 1) != 0, save = (_i & 2) != 0, load = (_i & 4) != 0;
    nested_cpuid_syscall();
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, RT_L1_PAT), VCORE_OK);
    vcore_x86_sregs_t s = sregs();
    s.efer = RT_L1_EFER;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fbu | (1u << 9) | (entry_load ? (3u << 14) : 0u));
    set12(VCORE_VMCS_VM_EXIT_CONTROLS,
          0x00036dfbu | (1u << 9) | (save ? (1u << 18) | (1u << 20) : 0u) | (load ? (1u << 19) | (1u << 21) : 0u));
    set12(VCORE_VMCS_GUEST_IA32_PAT, RT_GUEST12_PAT);
    set12(VCORE_VMCS_GUEST_IA32_EFER, RT_GUEST12_EFER);
    set12(VCORE_VMCS_HOST_IA32_PAT, RT_HOST12_PAT);
    set12(VCORE_VMCS_HOST_IA32_EFER, RT_HOST12_EFER);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    l2_wrmsr_then_ud(VCORE_MSR_IA32_PAT, RT_L2_PAT);
    l2_wrmsr_then_ud(VCORE_MSR_IA32_EFER, RT_L2_EFER);
    /* the VMM saves the vCPU */
    vcore_x86_regs_t ra = regs();
    vcore_x86_sregs_t sa = sregs();
    uint64_t pat = 0, efer = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &pat), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_EFER, &efer), VCORE_OK);
    ck_assert_uint_eq(pat, RT_L2_PAT);
    ck_assert_uint_eq(efer, RT_L2_EFER);
    ck_assert_uint_eq(sa.efer, RT_L1_EFER);
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_IA32_PAT), save ? RT_L2_PAT : RT_GUEST12_PAT);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_IA32_EFER), save ? RT_L2_EFER : RT_GUEST12_EFER);
    /* and restores it on a fresh vCPU */
    vcore_vcpu_t *b = fresh_vcpu();
    nested_cpuid_syscall();
    ck_assert_int_eq(vcore_vcpu_set_regs(b, &ra), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_sregs(b, &sa), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(b, blob, len, NULL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(b, VCORE_MSR_IA32_EFER, efer), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(b, VCORE_MSR_IA32_PAT, pat), VCORE_OK);
    cpuid_then_hlt();
    assert_l2_msrs_reach_l1(save, load);
    /* the original vCPU, same exit */
    use(vcpu_a);
    cpuid_then_hlt();
    assert_l2_msrs_reach_l1(save, load);
}
END_TEST

/* L2's DR7 travels through the vCPU's debug registers. L1 (DR7 401H)
 * enters L2 without "load debug controls" or "save debug controls"; L2
 * then writes DR7 (404H) without an exit (no MOV-DR exiting), which vmcs02
 * saves at the next exit ("Saving Guest State"). vcore_vcpu_get_dregs()
 * gives the VMM L2's DR7 while vmcs12 keeps what L1 wrote; a fresh vCPU
 * restored in the documented order (L1's registers, the blob, then the
 * debug registers) enters L2 again with 404H, as the original does; the
 * exit to L1 then sets DR7 to 400H on both ("Loading Host State"). */
START_TEST(l2_dr7_round_trip)
{
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    d.dr7 = 0x401;
    d.dr[3] = 0x3000;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &d), VCORE_OK);
    set12(VCORE_VMCS_GUEST_DR7, 0x402);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_GUEST_DR7};
    uint64_t val[2] = {0x80000306u, 0x404};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 2, enc, val);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_RAW);
    /* the VMM saves the vCPU */
    vcore_x86_regs_t ra = regs();
    vcore_x86_sregs_t sa = sregs();
    vcore_x86_dregs_t da = {.size = sizeof(da)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &da), VCORE_OK);
    ck_assert_uint_eq(da.dr7, 0x404);
    ck_assert_uint_eq(da.dr[3], 0x3000);
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_DR7), 0x402);
    /* and restores it on a fresh vCPU */
    vcore_vcpu_t *b = fresh_vcpu();
    ck_assert_int_eq(vcore_vcpu_set_regs(b, &ra), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_sregs(b, &sa), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(b, blob, len, NULL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_dregs(b, &da), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_dregs(b, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr7, 0x404);
    ck_assert_uint_eq(d.dr[3], 0x3000);
    for (int i = 0; i < 2; i++) {
        if (i)
            use(vcpu_a); /* the original vCPU, same exit */
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
        push_hlt();
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_DR7), 0x404);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_DR7), 0x402);
        ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
        ck_assert_uint_eq(d.dr7, 0x400);
        ck_assert_uint_eq(d.dr[3], 0x3000);
    }
}
END_TEST

/* L1's virtual-interrupt delivery travels with the state: the export
 * carries the guest interrupt status the processor saved in vmcs02 while
 * L2 ran ("Saving Non-Register State": RVI 0, SVI 31H after delivering 31H)
 * and the EOI-exit bitmaps; the import gives vmcs02 both, and the next exit
 * to L1 saves vmcs02's RVI/SVI into vmcs12. */
START_TEST(vid_state_travels)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17u);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 21) | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 9);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, 0x40000);
    set12(VCORE_VMCS_GUEST_INTR_STATUS, 0x31);
    set12(VCORE_VMCS_EOI_EXIT_BITMAP0, 1ull << 49);
    set12(VCORE_VMCS_EOI_EXIT_BITMAP3, 1ull << 63);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_GUEST_INTR_STATUS};
    uint64_t val[2] = {UD_INFO, 0x3100};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 2, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_INTR_STATUS), 0x3100);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_EOI_EXIT_BITMAP0), 1ull << 49);
    fresh_vcpu();
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, &d), VCORE_OK);
    uint32_t enc2[2] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_GUEST_INTR_STATUS};
    uint64_t val2[2] = {2, 0x3200};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 1, enc2, val2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (1u << 9), 1u << 9);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), 0x3100);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_EOI_EXIT_BITMAP0), 1ull << 49);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_EOI_EXIT_BITMAP3), 1ull << 63);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), 0x3100);
    /* the processor's next change reaches vmcs12 too */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 2, enc2, val2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_INTR_STATUS), 0x3200);
}
END_TEST

/* L1's posted interrupts travel with the state: the descriptor and VIRR
 * are L1 memory, so the blob carries only vmcs12 (the control, vector F2H,
 * the descriptor address, the guest interrupt status L0's processing
 * raised to RVI 45H). The importing vCPU processes the next notification
 * (PIR 50H) the same way ("Posted-Interrupt Processing"). */
START_TEST(pi_state_travels)
{
    const uint64_t vapic = 0x40000, desc = 0x43040;
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17u | (1u << 7));
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 21) | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 9);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfbu | (1u << 9) | (1u << 15));
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, vapic);
    set12(VCORE_VMCS_POSTED_INTR_NV, 0xf2);
    set12(VCORE_VMCS_POSTED_INTR_DESC_ADDR, desc);
    set12(VCORE_VMCS_GUEST_INTR_STATUS, 0x31);
    put(desc + 8, 1ull << 5, 8); /* PIR: 45H */
    put(desc + 32, 1, 1);        /* ON */
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[1] = {VCORE_VMCS_VM_EXIT_INTR_INFO};
    uint64_t val[1] = {UD_INFO};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    ck_assert_uint_eq(run().flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0xf2), VCORE_OK);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    ck_assert_uint_eq(run().flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    uint32_t virr2;
    memcpy(&virr2, ram + vapic + 0x220, 4);
    ck_assert_uint_eq(virr2, 1u << 5);
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_INTR_STATUS), 0x45);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL) & 0x80u, 0x80u);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_POSTED_INTR_NV), 0xf2);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_POSTED_INTR_DESC_ADDR), desc);
    fresh_vcpu();
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, &d), VCORE_OK);
    put(desc + 8, 1ull << 16, 8); /* PIR: 50H */
    put(desc + 32, 1, 1);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0xf2), VCORE_OK);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, enc, val);
    ck_assert_uint_eq(run().flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL) & 0x80u, 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_INTR_STATUS), 0x50);
    memcpy(&virr2, ram + vapic + 0x220, 4);
    ck_assert_uint_eq(virr2, (1u << 5) | (1u << 16));
    ck_assert_uint_eq(ram[desc + 32], 0);
    ck_assert_uint_eq(last().reflected, 0);
}
END_TEST

/* An exit from L2 that awaits the VMM's reply (IN) is not in the format:
 * the export refuses until the vCPU ran again. */
START_TEST(export_refused_while_reply_pending)
{
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    uint64_t val[2] = {(0x3f8ull << 16) | 8u, 1}; /* IN AL, DX: size 1, IN (bit 3) */
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_IO_INSTRUCTION, 0, 2, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    uint32_t n = 0;
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &n), VCORE_ERR_STATE);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_REPLY_PENDING);
    e.u.io.data[0] = 1;
    /* the exit to L1 leaves FS.base (synced lazily) in vmcs02 only */
    uint32_t enc2[2] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_GUEST_FS_BASE};
    uint64_t val2[2] = {2, L2_FS};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 2, enc2, val2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* L1 runs: no guest mode; the exit's lazily synced fields are in it */
    ck_assert_uint_eq(get_state(blob), 128 + 4096);
    ck_assert_uint_eq(b16(blob, B_FLAGS), 0);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_RIP), 0x401001);
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_GUEST_FS_BASE), L2_FS);
    /* L1 runs: the toolkit export of the (now synced) state is the same */
    ck_assert_int_eq(vcore_nvmx_kvm_export(nv, other, sizeof(other), &n), VCORE_OK);
    ck_assert_uint_eq(n, 128 + 4096);
    ck_assert_int_eq(memcmp(blob, other, n), 0);
}
END_TEST

/* An RDMSR of L2 the VMM answers (L1's MSR bitmap leaves it to L0): the
 * reply is pending whatever instruction length the exit reported. */
START_TEST(export_refused_while_rdmsr_pending)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 28));
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    load_vmcs12_rflags(0x2);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RCX] = 0x10; /* IA32_TIME_STAMP_COUNTER */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_RDMSR, 0, 0, NULL, NULL);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    uint32_t n = 0;
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), &n), VCORE_ERR_STATE);
}
END_TEST

/* The toolkit import does not make a vCPU's state guest mode behind the
 * run loop's back. */
START_TEST(toolkit_import_refuses_vcpu_guest_mode)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_nvmx_kvm_import(nv, blob, len, &d), VCORE_ERR_STATE);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_GUEST_MODE);
    fresh_vcpu();
    d.id = 0;
    ck_assert_int_eq(vcore_nvmx_kvm_import(nv, blob, len, &d), VCORE_ERR_STATE);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_GUEST_MODE);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(nv, &info), VCORE_OK);
    ck_assert(!info.vmx_operation);
}
END_TEST

/* A blob without guest mode on a vCPU running L2: L1 runs next. */
START_TEST(import_without_guest_mode_leaves_l2)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    set16(blob, B_FLAGS, 0);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_uint_eq(b16(other, B_FLAGS), 0);
    push_hlt();
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, 0);
}
END_TEST

/* An L2 dropped by a blob without guest mode takes its IA32_PAT and
 * IA32_EFER with it: the vCPU's are L1's again, as the VMM sets them (the
 * one held in vmcs02 no longer answers nor changes). */
START_TEST(import_without_guest_mode_drops_l2_pat_and_efer)
{
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, RT_L1_PAT), VCORE_OK);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fbu | (1u << 9) | (3u << 14));
    set12(VCORE_VMCS_GUEST_IA32_PAT, RT_GUEST12_PAT);
    set12(VCORE_VMCS_GUEST_IA32_EFER, 0x500);
    launch_into_l2();
    uint64_t pat = 0, efer = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &pat), VCORE_OK);
    ck_assert_uint_eq(pat, RT_GUEST12_PAT);
    uint32_t len = get_state(blob);
    set16(blob, B_FLAGS, 0);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &pat), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_EFER, &efer), VCORE_OK);
    ck_assert_uint_eq(pat, RT_L1_PAT);
    ck_assert_uint_eq(efer, RT_L1_EFER);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_PAT, RT_L2_PAT), VCORE_OK);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_IA32_PAT), RT_GUEST12_PAT);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_PAT, &pat), VCORE_OK);
    ck_assert_uint_eq(pat, RT_L2_PAT);
}
END_TEST

/* ---- every refusal rule, and a refused blob changes nothing ---- */

typedef void (*mutate_fn)(uint8_t *b);
static void m_size_small(uint8_t *b) { set32(b, B_SIZE, 100); }
static void m_flags_unknown(uint8_t *b) { set16(b, B_FLAGS, 1 | 0x80); }
static void m_pending_only(uint8_t *b) { set16(b, B_FLAGS, 2); }
static void m_gif(uint8_t *b) { set16(b, B_FLAGS, 1 | 0x100); }
static void m_format(uint8_t *b) { set16(b, B_FORMAT, 1); }
static void m_vmx_flags(uint8_t *b) { set32(b, B_VMX_FLAGS, 2); }
static void m_deadline_no_guest(uint8_t *b) { set16(b, B_FLAGS, 0); set32(b, B_VMX_FLAGS, 1); }
static void m_evmcs(uint8_t *b) { set16(b, B_FLAGS, 1 | 4); }
static void m_mtf(uint8_t *b) { set16(b, B_FLAGS, 8); }
static void m_no_vmxon_vmcs(uint8_t *b) { set64(b, B_VMXON, ~0ull); }
static void m_no_vmx_guest(uint8_t *b) { set64(b, B_VMXON, ~0ull); set64(b, B_VMCS, ~0ull); }
static void m_vmxon_misaligned(uint8_t *b) { set64(b, B_VMXON, VMXON_GPA + 8); }
static void m_vmxon_wide(uint8_t *b) { set64(b, B_VMXON, 1ull << 44); }
static void m_smm_bad(uint8_t *b) { set16(b, B_SMM, 1); }
static void m_smm(uint8_t *b) { set16(b, B_SMM, 2); }
static void m_guest_no_vmcs(uint8_t *b) { set64(b, B_VMCS, ~0ull); }
static void m_vmcs_is_vmxon(uint8_t *b) { set64(b, B_VMCS, VMXON_GPA); }
static void m_vmcs_misaligned(uint8_t *b) { set64(b, B_VMCS, VMCS_GPA + 0x10); }
static void m_no_page(uint8_t *b) { set32(b, B_SIZE, 128); }
static void m_revision(uint8_t *b) { set32(b, B_DATA, 0x12345678); }
static void m_not_launched(uint8_t *b) { set32(b, B_DATA + VCORE_VMCS12_OFF_LAUNCH_STATE, 0); }
static void shadowing(uint8_t *b)
{
    blob12_set(b, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 31));
    blob12_set(b, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14);
    blob12_set(b, VCORE_VMCS_VMCS_LINK_POINTER, 0x50000);
}
static void m_shadow_missing(uint8_t *b) { shadowing(b); }
static void m_shadow_no_indicator(uint8_t *b)
{
    shadowing(b);
    set32(b, B_SIZE, 128 + 8192);
    set32(b, B_DATA + 4096, KVM_REV);
}
static void m_pin_allowed0(uint8_t *b) { blob12_set(b, VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0); }
static void m_host_cr0(uint8_t *b) { blob12_set(b, VCORE_VMCS_HOST_CR0, 0x80000033u & ~1u); }
static void m_guest_rflags(uint8_t *b) { blob12_set(b, VCORE_VMCS_GUEST_RFLAGS, 0x200); }

static const struct {
    mutate_fn m;
    int err;
    uint32_t diag;
    uint64_t value;
} refusals[] = {
    {m_size_small, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SIZE, 100},
    {m_flags_unknown, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FLAGS, 0x81},
    {m_pending_only, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FLAGS, 2},
    {m_gif, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FLAGS, 0x101},
    {m_format, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FORMAT, 1},
    {m_vmx_flags, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMX_FLAGS, 2},
    {m_deadline_no_guest, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMX_FLAGS, 1},
    {m_evmcs, VCORE_ERR_UNSUPPORTED, VCORE_DIAG_KVM_STATE_EVMCS, 5},
    {m_mtf, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_MTF_PENDING, 8},
    {m_no_vmxon_vmcs, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMCS12_ADDR, VMCS_GPA},
    {m_no_vmx_guest, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FLAGS, 1},
    {m_vmxon_misaligned, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMXON_ADDR, VMXON_GPA + 8},
    {m_vmxon_wide, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMXON_ADDR, 1ull << 44},
    {m_smm_bad, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SMM, 1},
    {m_smm, VCORE_ERR_UNSUPPORTED, VCORE_DIAG_KVM_STATE_SMM, 2},
    {m_guest_no_vmcs, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMCS12_ADDR, ~0ull},
    {m_vmcs_is_vmxon, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMCS12_ADDR, VMXON_GPA},
    {m_vmcs_misaligned, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMCS12_ADDR, VMCS_GPA + 0x10},
    {m_no_page, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SIZE, 128},
    {m_revision, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_REVISION, 0x12345678},
    {m_not_launched, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_NOT_LAUNCHED, 0},
    {m_shadow_missing, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SHADOW, 128 + 4096},
    {m_shadow_no_indicator, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SHADOW, KVM_REV},
    {m_pin_allowed0, VCORE_ERR_INVAL, VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0, 0},
    {m_host_cr0, VCORE_ERR_INVAL, VCORE_VMX_CHECK_HOST_CR0_FIXED0, 0x80000032u},
    {m_guest_rflags, VCORE_ERR_INVAL, VCORE_VMX_CHECK_GUEST_RFLAGS_BIT1, 0x200},
};

/* Every rule on the vCPU running L2 (its export is byte-identical after
 * each refusal, and L2 still runs) and on a fresh vCPU (still not in VMX
 * operation). */
START_TEST(every_refusal_changes_nothing)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    static uint8_t before[VCORE_KVM_NESTED_MAX_SIZE], after[VCORE_KVM_NESTED_MAX_SIZE];
    vcore_vcpu_t *fresh = fresh_vcpu();
    vcore_vcpu_t *targets[2] = {vcpu_a, fresh};
    for (unsigned t = 0; t < 2; t++) {
        use(targets[t]);
        vcore_x86_regs_t r0 = regs();
        vcore_x86_sregs_t s0 = sregs();
        uint32_t n0 = get_state(before);
        for (unsigned i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
            vcore_diag_t d = {.size = sizeof(d)};
            memset(other, 0, sizeof(other));
            memcpy(other, blob, len);
            refusals[i].m(other);
            int err = vcore_nvmx_vcpu_set_state(vcpu, other, sizeof(other), &d);
            ck_assert_msg(err == refusals[i].err, "vcpu %u case %u: err %d", t, i, err);
            ck_assert_msg(d.id == refusals[i].diag, "vcpu %u case %u: diag %#x want %#x", t, i, d.id,
                          refusals[i].diag);
            ck_assert_msg(d.value == refusals[i].value, "vcpu %u case %u: value %#llx", t, i,
                          (unsigned long long)d.value);
            ck_assert_ptr_nonnull(d.message);
            vcore_diag_t ld = {.size = sizeof(ld)};
            ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &ld), VCORE_OK);
            ck_assert_uint_eq(ld.id, refusals[i].diag);
            ck_assert_uint_eq(get_state(after), n0);
            ck_assert_msg(memcmp(before, after, n0) == 0, "vcpu %u case %u changed the state", t, i);
            vcore_x86_regs_t r1 = regs();
            vcore_x86_sregs_t s1 = sregs();
            ck_assert(memcmp(&r0, &r1, sizeof(r0)) == 0);
            ck_assert(memcmp(&s0, &s1, sizeof(s0)) == 0);
        }
        /* a blob shorter than its header */
        vcore_diag_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, 100, &d), VCORE_ERR_INVAL);
        ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_SIZE);
    }
    /* L2 still runs where it stood on the original vCPU */
    use(vcpu_a);
    cpuid_then_hlt();
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    /* and the unmodified blob is accepted by the fresh one */
    use(fresh);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(fresh, blob, len, NULL), VCORE_OK);
}
END_TEST

/* ---- the VMX-preemption timer across export and import ----
 * SDM Vol. 3, "VMX-Preemption Timer": the timer counts down by 1 each time
 * bit X of the TSC changes, X = IA32_VMX_MISC bits 4:0; with pin-based
 * control 6 it runs while L2 runs. KVM API: struct kvm_vmx_nested_state_hdr
 * has flags at header offset 28 (KVM_STATE_VMX_PREEMPTION_TIMER_DEADLINE =
 * 1) and preemption_timer_deadline at 32, the value of L1's TSC at which
 * the timer expires. L1 does not save the timer value (exit control 22
 * clear): vmcs12 keeps L1's 1000, vmcs02 counts (the processor saved 600
 * at L2's exit). */
#define TIMER_L1 1000u
#define TIMER_LEFT 600u
#define TSC0 0x100000000ull

static void launch_with_timer(void)
{
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16u | (1u << 6));
    set12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, TIMER_L1);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, TSC0), VCORE_OK);
    load_vmcs12_rflags(0x2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[2] = {VCORE_VMCS_VM_EXIT_INTR_INFO, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE};
    uint64_t val[2] = {UD_INFO, TIMER_LEFT};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 2, enc, val);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_RAW);
}

static uint32_t timer_rate(void)
{
    const vcore_nvmx_caps_t *c = vcore_nvmx_caps(nv);
    ck_assert_ptr_nonnull(c);
    return (uint32_t)(c->msr[VCORE_NVMX_CAP_MISC] & 0x1fu);
}

/* Imports blob into the vCPU (L1 running) whose L1 TSC is tsc; L2's next
 * exit goes to L1; returns the count vmcs02 entered L2 with. */
static uint64_t import_timer_at(uint64_t tsc, uint32_t len)
{
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, tsc), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    cpuid_then_hlt();
    return nested_peek02(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE);
}

START_TEST(timer_deadline_round_trip)
{
    launch_with_timer();
    uint32_t rate = timer_rate();
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(b32(blob, B_VMX_FLAGS), 1);
    ck_assert_uint_eq(b64(blob, B_DEADLINE), TSC0 + ((uint64_t)TIMER_LEFT << rate));
    ck_assert_uint_eq(blob12(blob, VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), TIMER_L1);
    fresh_vcpu();
    /* 100 timer ticks later the timer continues with 500 ... */
    ck_assert_uint_eq(import_timer_at(TSC0 + (100ull << rate), len), TIMER_LEFT - 100u);
    /* ... part of a tick does not count ... */
    if (rate)
        ck_assert_uint_eq(import_timer_at(TSC0 + (100ull << rate) + 1u, len), TIMER_LEFT - 101u);
    /* ... and past the deadline it expires at once (0). */
    ck_assert_uint_eq(import_timer_at(TSC0 + ((uint64_t)TIMER_LEFT << rate), len), 0);
    ck_assert_uint_eq(import_timer_at(TSC0 + ((uint64_t)TIMER_LEFT << rate) + (1ull << 40), len), 0);
    /* Without the flag the timer starts again from vmcs12's value (KVM's
     * behaviour for a blob without a deadline). */
    set32(blob, B_VMX_FLAGS, 0);
    ck_assert_uint_eq(import_timer_at(TSC0 + (100ull << rate), len), TIMER_L1);
}
END_TEST

/* Without the timer (pin-based control 6 clear) no deadline is exported. */
START_TEST(no_timer_no_deadline)
{
    launch_into_l2();
    get_state(blob);
    ck_assert_uint_eq(b32(blob, B_VMX_FLAGS), 0);
    ck_assert_uint_eq(b64(blob, B_DEADLINE), 0);
}
END_TEST

/* ---- MTF_PENDING (KVM flag 8) ----
 * SDM Vol. 3, "Monitor Trap Flag": the MTF VM exit has reason 37 and
 * qualification 0; a pending one is delivered to L1 before L2 executes
 * anything (L2's RIP unchanged in vmcs12, L1 at HOST_RIP). The pipeline
 * passes L1's primary control 27 to vmcs02 (no rule of the merge table
 * touches it), so the state is imported. */
START_TEST(mtf_pending_exits_to_l1_first)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 27));
    launch_into_l2();
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(b16(blob, B_FLAGS), 1);
    set16(blob, B_FLAGS, 1 | 8);
    fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    /* still owed: exported again */
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_uint_eq(b16(other, B_FLAGS), 9);
    /* no L2 exit is scripted: L2 must not enter before L1 got the exit */
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_MONITOR_TRAP_FLAG);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), L2_RIP);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
    vcore_nvmx_last_t l = last();
    ck_assert(!l.in_l2);
    ck_assert_uint_eq(l.exit_reason, VCORE_VMX_EXIT_MONITOR_TRAP_FLAG);
    ck_assert_uint_eq(l.reflected, 1);
    /* delivered: gone from the state */
    ck_assert_uint_eq(get_state(other), 128 + 4096);
    ck_assert_uint_eq(b16(other, B_FLAGS), 0);
}
END_TEST

/* ---- VTPR with the TPR shadow ----
 * SDM Vol. 3, "Virtual-APIC Page": VTPR is the 32 bits at 080H of the page
 * vmcs12's virtual-APIC address names, L1 memory; "Virtualizing MOV to
 * CR8": L2's MOV to CR8 writes bits 3:0 of the source to VTPR[7:4] and
 * clears the rest, without a VM exit. The blob carries vmcs12 and L1's
 * memory travels with the VM, so an export leaves L2's VTPR in L1's page
 * and an import runs L2 with the VTPR that page holds. */
#define VAPIC 0x40000u

static uint32_t vtpr_at(uint64_t gpa)
{
    uint32_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, gpa, &v, 4), VCORE_OK);
    return v;
}

/* The VTPR of the page vmcs02 last entered L2 with. */
static uint32_t vtpr02(void)
{
    uint32_t v;
    uint8_t *p = (uint8_t *)(uintptr_t)nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR);
    ck_assert_ptr_nonnull(p);
    memcpy(&v, p + 0x80, 4);
    return v;
}

static void l2_mov_to_cr8(uint64_t src)
{
    uint32_t v = (uint32_t)(src & 0xfu) << 4;
    uint8_t *p = (uint8_t *)(uintptr_t)nested_peek02(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR);
    memcpy(p + 0x80, &v, 4);
}

START_TEST(vtpr_travels_with_nested_state)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 21));
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC);
    set12(VCORE_VMCS_TPR_THRESHOLD, 0);
    put(VAPIC + 0x80, 0x50, 4);
    launch_into_l2();
    ck_assert_uint_eq(vtpr02(), 0x50);
    l2_mov_to_cr8(6);
    uint32_t len = get_state(blob);
    ck_assert_uint_eq(vtpr_at(VAPIC + 0x80), 0x60);
    /* a second export finds nothing new to write */
    put(VAPIC + 0x80, 0x60, 4);
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_uint_eq(vtpr_at(VAPIC + 0x80), 0x60);
    /* the destination's L1 memory says 70H: the imported L2 runs with it */
    put(VAPIC + 0x80, 0x70, 4);
    fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    cpuid_then_hlt();
    ck_assert_uint_eq(vtpr02(), 0x70);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}
END_TEST

/* L2 changes VTPR after the import; the exit to L1 writes it to L1's page. */
START_TEST(vtpr_after_import_reaches_l1)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 21));
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, VAPIC);
    set12(VCORE_VMCS_TPR_THRESHOLD, 0);
    put(VAPIC + 0x80, 0x30, 4);
    launch_into_l2();
    uint32_t len = get_state(blob);
    fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    /* L2 runs (a #UD the VMM sees raw), then moves 2 to CR8 and exits */
    uint32_t enc = VCORE_VMCS_VM_EXIT_INTR_INFO;
    uint64_t val = UD_INFO;
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EXCEPTION_NMI, 0, 1, &enc, &val);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(vtpr02(), 0x30);
    l2_mov_to_cr8(2);
    cpuid_then_hlt();
    ck_assert_uint_eq(vtpr_at(VAPIC + 0x80), 0x20);
}
END_TEST

/* A pending VMLAUNCH (RUN_PENDING) may still see the launch state clear;
 * the entry then makes it launched. */
START_TEST(run_pending_accepts_clear_launch_state)
{
    launch_into_l2();
    uint32_t len = get_state(blob);
    set16(blob, B_FLAGS, 3);
    set32(blob, B_DATA + VCORE_VMCS12_OFF_LAUNCH_STATE, 0);
    fresh_vcpu();
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, blob, len, NULL), VCORE_OK);
    ck_assert_uint_eq(get_state(other), len);
    ck_assert_uint_eq(b32(other, B_DATA + VCORE_VMCS12_OFF_LAUNCH_STATE), 1);
}
END_TEST

START_TEST(bad_arguments)
{
    uint32_t n = 0;
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(NULL, blob, sizeof(blob), &n), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, NULL, sizeof(blob), &n), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(vcpu, blob, sizeof(blob), NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(NULL, blob, sizeof(blob), NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(vcpu, NULL, sizeof(blob), NULL), VCORE_ERR_INVAL);
    /* a vCPU without nested VMX */
    vcore_vcpu_t *plain = NULL;
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.id = 3;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &plain), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_vcpu_get_state(plain, blob, sizeof(blob), &n), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_nvmx_vcpu_set_state(plain, blob, sizeof(blob), NULL), VCORE_ERR_UNSUPPORTED);
    /* not in VMX operation: the 128-byte blob */
    ck_assert_uint_eq(get_state(blob), 128);
    ck_assert_uint_eq(b64(blob, B_VMXON), ~0ull);
    ck_assert_uint_eq(b64(blob, B_VMCS), ~0ull);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nvmx_state");
    TCase *tc = tcase_create("guest_mode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, export_in_guest_mode);
    tcase_add_test(tc, import_runs_l2_like_the_original);
    tcase_add_test(tc, shadow_vmcs_travels_in_guest_mode);
    tcase_add_test(tc, run_pending_injects_once);
    tcase_add_test(tc, no_run_pending_no_injection);
    tcase_add_test(tc, msr_load_list_not_reapplied);
    tcase_add_loop_test(tc, l2_pat_and_efer_round_trip, 0, 8);
    tcase_add_test(tc, l2_dr7_round_trip);
    tcase_add_test(tc, vid_state_travels);
    tcase_add_test(tc, pi_state_travels);
    tcase_add_test(tc, export_refused_while_reply_pending);
    tcase_add_test(tc, export_refused_while_rdmsr_pending);
    tcase_add_test(tc, toolkit_import_refuses_vcpu_guest_mode);
    tcase_add_test(tc, import_without_guest_mode_leaves_l2);
    tcase_add_test(tc, import_without_guest_mode_drops_l2_pat_and_efer);
    tcase_add_test(tc, every_refusal_changes_nothing);
    tcase_add_test(tc, run_pending_accepts_clear_launch_state);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, timer_deadline_round_trip);
    tcase_add_test(tc, no_timer_no_deadline);
    tcase_add_test(tc, mtf_pending_exits_to_l1_first);
    tcase_add_test(tc, vtpr_travels_with_nested_state);
    tcase_add_test(tc, import_builds_msr_bitmap);
    tcase_add_test(tc, import_builds_x2apic_bitmap);
    tcase_add_test(tc, vtpr_after_import_reaches_l1);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
