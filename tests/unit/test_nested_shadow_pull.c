/*
 * test_nested_shadow_pull.c - the read-back of L0's hardware shadow VMCS
 * into vmcs12 before L1's VMLAUNCH/VMRESUME through the backend's batched
 * VMCS read (backend.h: vmcs_read_many), and without it.
 *
 * SDM Vol. 3, "VMCS Shadowing" and "VMREAD Bitmap and VMWRITE Bitmap": with
 * "VMCS shadowing" 1, L1's VMWRITE of a field whose VMWRITE-bitmap bit is 0
 * writes the shadow VMCS without a VM exit, so L0 reads such fields back
 * before it uses vmcs12. "VMREAD": a VMREAD of an unsupported component is
 * VMfailValid(12) (the mock's VCORE_ERR_NOENT).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

/* The backend the fixture's VM runs on: the mock's table, or a copy whose
 * batched read is absent or wrapped. */
static vcore_backend_t be;
static uint32_t many_calls;   /* calls of the wrapped batched read */
static uint32_t fail_after;   /* the wrapper fails the read of field fail_after (~0u: never) */

static int wrapped_read_many(vcore_vcpu_t *c, void *priv, vcore_hw_vmcs_t *vmcs, const uint32_t *fields,
                             uint64_t *values, uint32_t count)
{
    many_calls++;
    if (fail_after >= count)
        return vcore_backend_mock()->vmcs_read_many(c, priv, vmcs, fields, values, count);
    /* The processor read the fields before the failing one; the rest of
     * values holds garbage (backend.h: unspecified). */
    int err = vcore_backend_mock()->vmcs_read_many(c, priv, vmcs, fields, values, fail_after);
    for (uint32_t i = fail_after; i < count; i++)
        values[i] = 0x5a5a5a5a5a5a5a5aull;
    return err ? err : VCORE_ERR_HWFAIL;
}

/* The fixture's VM with L0's VMCS shadowing on (the default options). */
static void vm_on(int (*read_many)(vcore_vcpu_t *, void *, vcore_hw_vmcs_t *, const uint32_t *, uint64_t *,
                                   uint32_t))
{
    be = *vcore_backend_mock();
    be.vmcs_read_many = read_many;
    many_calls = 0;
    fail_after = ~0u;
    nested_fixture_backend = &be;
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
    nested_fixture_backend = NULL;
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static bool guest_vmwrite(uint64_t enc, uint64_t v)
{
    bool exits = false;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, true, enc, &v, &exits), VCORE_OK);
    return exits;
}

static void trip(uint32_t op)
{
    push_insn(op, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

/* L1 handles a CPUID exit as a hypervisor does: it writes the read-write
 * set of fields in the shadow VMCS without exits - each field a value of
 * its own within the field's width - then VMRESUMEs. */
static const uint32_t l1_writes[] = {
    VCORE_VMCS_GUEST_RIP, VCORE_VMCS_GUEST_RSP, VCORE_VMCS_GUEST_RFLAGS, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO,
    VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, VCORE_VMCS_TPR_THRESHOLD,
    VCORE_VMCS_HOST_RSP, VCORE_VMCS_HOST_RIP};
static const uint64_t l1_values[] = {0x401002, 0x7ff8, 0x46, 0, 0x33, 3, 0, 0x9800, 0x200010};

static void l1_handles_the_exit(void)
{
    for (size_t i = 0; i < sizeof(l1_writes) / sizeof(l1_writes[0]); i++)
        ck_assert(!guest_vmwrite(l1_writes[i], l1_values[i]));
}

/* vmcs12 after VMLAUNCH, a CPUID exit, L1's writes, VMRESUME and another
 * CPUID exit; with the VMCS reads of the shadow VMCS and of all VMCSs. */
typedef struct {
    uint8_t vmcs12[4096];
    uint64_t shadow_reads, reads;
} outcome_t;

static outcome_t round_trip(void)
{
    outcome_t o;
    load_vmcs12();
    trip(VCORE_NVMX_VMLAUNCH);
    l1_handles_the_exit();
    const struct vcore_hw_vmcs *sh = vcore_mock_vmcs_shadow_linked(vcpu);
    uint64_t r0 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, &r0, NULL), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    trip(VCORE_NVMX_VMRESUME);
    ck_assert_int_eq(vcore_mock_vmcs_access_count(vcpu, sh, &o.shadow_reads, NULL), VCORE_OK);
    o.shadow_reads -= r0;
    o.reads = vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ);
    memcpy(o.vmcs12, vcore_nvmx_vmcs12(nv), sizeof(o.vmcs12));
    /* L1's writes reached vmcs12, and through it vmcs02 (RIP, RSP). */
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 0x33);
    ck_assert_uint_eq(get12(VCORE_VMCS_HOST_RSP), 0x9800);
    ck_assert_uint_eq(get12(VCORE_VMCS_HOST_RIP), 0x200010);
    uint64_t rip02 = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, vcore_mock_vmcs_last_entered(vcpu), VCORE_VMCS_GUEST_RIP, &rip02),
                     VCORE_OK);
    ck_assert_uint_eq(rip02, 0x401002);
    /* "Loading Host State": L1 resumed at the host RIP and RSP it wrote. */
    ck_assert_uint_eq(regs().rip, 0x200010);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RSP], 0x9800);
    return o;
}

/* The batched read and the backend's single reads give the same values,
 * and count one VMREAD per field either way. */
START_TEST(read_many_equals_single_reads)
{
    vm_on(vcore_backend_mock()->vmcs_read_many);
    load_vmcs12();
    trip(VCORE_NVMX_VMLAUNCH);
    l1_handles_the_exit();
    vcore_hw_vmcs_t *sh = (vcore_hw_vmcs_t *)(uintptr_t)vcore_mock_vmcs_shadow_linked(vcpu);
    const vcore_backend_t *m = vcore_backend_mock();
    void *priv = vcore_vcpu_backend_priv(vcpu);
    uint32_t n = 0;
    const uint32_t *rw = vcore_nvmx_shadow_fields(false, &n);
    uint64_t many[VCORE_NVMX_SHADOW_RW_COUNT], one[VCORE_NVMX_SHADOW_RW_COUNT];
    memset(many, 0, sizeof(many));
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    ck_assert_int_eq(m->vmcs_read_many(vcpu, priv, sh, rw, many, n), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ), n);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_LOAD), 1);
    ck_assert_int_eq(m->vmcs_load(vcpu, priv, sh), VCORE_OK);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_int_eq(m->vmcs_read(vcpu, priv, rw[i], &one[i]), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_READ), 2u * n);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_msg(many[i] == one[i], "field %#x: %#llx vs %#llx", rw[i], (unsigned long long)many[i],
                      (unsigned long long)one[i]);
    for (size_t i = 0; i < sizeof(l1_writes) / sizeof(l1_writes[0]); i++) {
        uint32_t k = 0;
        while (rw[k] != l1_writes[i])
            k++;
        ck_assert_uint_eq(many[k], l1_values[i]);
    }
    /* An empty batch only makes the VMCS current. */
    ck_assert_int_eq(m->vmcs_read_many(vcpu, priv, NULL, NULL, NULL, 0), VCORE_OK);
    /* The mock fails a field its processor lacks ("VMREAD": VMfailValid 12)
     * mid-list; the fields before it are read. */
    const uint32_t bad[] = {VCORE_VMCS_GUEST_RIP, 0x7ffeu, VCORE_VMCS_GUEST_RSP};
    uint64_t v[3] = {0, 0, 0};
    ck_assert_int_eq(m->vmcs_read_many(vcpu, priv, sh, bad, v, 3), VCORE_ERR_NOENT);
    ck_assert_uint_eq(v[0], 0x401002);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_VMCS_VIOLATION), 1);
    nested_vm_destroy(1);
}
END_TEST

/* VMRESUME after L1's shadow writes: the same vmcs12 and the same number
 * of VMREADs with the batched op as with the single reads it replaces;
 * the op is called once per pull, the fallback never calls it. */
START_TEST(batched_and_single_pull_agree)
{
    vm_on(wrapped_read_many);
    outcome_t a = round_trip();
    /* Two pulls (VMLAUNCH, VMRESUME) and two exits' guest-state saves. */
    ck_assert_uint_eq(many_calls, 4);
    ck_assert_uint_eq(a.shadow_reads, VCORE_NVMX_SHADOW_RW_COUNT);
    teardown();
    vm_on(NULL);
    outcome_t b = round_trip();
    ck_assert_uint_eq(many_calls, 0);
    ck_assert_uint_eq(b.shadow_reads, VCORE_NVMX_SHADOW_RW_COUNT);
    ck_assert_uint_eq(a.reads, b.reads);
    ck_assert_mem_eq(a.vmcs12, b.vmcs12, sizeof(a.vmcs12));
    teardown();
}
END_TEST

/* A read that fails mid-list: the run reports the backend's failure and
 * vmcs12 is left exactly as it was - no field of the batch, no dirty mark;
 * the next VMRESUME reads the shadow VMCS again and takes every write. */
START_TEST(failed_read_changes_nothing)
{
    vm_on(wrapped_read_many);
    load_vmcs12();
    trip(VCORE_NVMX_VMLAUNCH);
    l1_handles_the_exit();
    uint8_t before[4096];
    memcpy(before, vcore_nvmx_vmcs12(nv), sizeof(before));
    fail_after = 3; /* GUEST_RIP, GUEST_RSP, GUEST_RFLAGS read; the rest not */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_HWFAIL);
    ck_assert_mem_eq(vcore_nvmx_vmcs12(nv), before, sizeof(before));
    ck_assert(!vcore_nvmx_is_dirty(nv, VCORE_VMCS_GUEST_RIP));
    ck_assert(!vcore_nvmx_is_dirty(nv, VCORE_VMCS_HOST_RIP));
    fail_after = ~0u;
    trip(VCORE_NVMX_VMRESUME);
    for (size_t i = 0; i < sizeof(l1_writes) / sizeof(l1_writes[0]); i++)
        ck_assert_uint_eq(get12(l1_writes[i]), l1_values[i]);
    teardown();
}
END_TEST

/* A processor without the VMX-preemption timer, PML and virtual-interrupt
 * delivery shadows fewer fields: the batch names only those it has. */
START_TEST(pull_without_optional_fields)
{
    vcore_nvmx_caps_t caps = {.size = sizeof(caps)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&caps), VCORE_OK);
    /* activate VMX-preemption timer, and the exit control saving its value (22) */
    caps.msr[VCORE_NVMX_CAP_PINBASED] &= ~(1ull << (32 + 6));
    caps.msr[VCORE_NVMX_CAP_TRUE_PINBASED] &= ~(1ull << (32 + 6));
    caps.msr[VCORE_NVMX_CAP_EXIT] &= ~(1ull << (32 + 22));
    caps.msr[VCORE_NVMX_CAP_TRUE_EXIT] &= ~(1ull << (32 + 22));
    caps.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 9));      /* virtual-interrupt delivery */
    caps.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 17));     /* enable PML */
    be = *vcore_backend_mock();
    be.vmcs_read_many = wrapped_read_many;
    many_calls = 0;
    fail_after = ~0u;
    nested_fixture_backend = &be;
    nested_vm(NULL, &caps, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
    nested_fixture_backend = NULL;
    outcome_t a = round_trip();
    /* TPR threshold and the others; not the preemption timer value nor the guest interrupt status. */
    ck_assert_uint_eq(a.shadow_reads, VCORE_NVMX_SHADOW_RW_COUNT - 2u);
    ck_assert_uint_eq(many_calls, 4);
    teardown();
}
END_TEST

static bool guest_vmread(uint64_t enc, uint64_t *v)
{
    bool exits = false;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(vcpu, false, enc, v, &exits), VCORE_OK);
    return exits;
}

/* SDM "Saving Guest State": with "activate VMX-preemption timer" and the
 * VM-exit control "save VMX-preemption timer value" (22), the exit stores
 * the timer's value; L1 reads it in the shadow VMCS without an exit. */
START_TEST(saved_timer_reaches_the_shadow_vmcs)
{
    vm_on(vcore_backend_mock()->vmcs_read_many);
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16 | (1u << 6));
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9) | (1u << 22));
    set12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, 1000);
    load_vmcs12();
    const uint32_t enc[2] = {VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN};
    const uint64_t val[2] = {400, 2};
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 2, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t v = 0;
    ck_assert(!guest_vmread(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, &v));
    ck_assert_uint_eq(v, 400);
    ck_assert_uint_eq(get12(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE), 400);
    teardown();
}
END_TEST

/* With HLT exiting (primary processor-based control 7) L2 cannot halt
 * without an exit ("Instructions That Cause VM Exits Conditionally"): an
 * active L2's exit leaves the activity state alone - nothing of it is read
 * from vmcs02. Without HLT exiting the exit reads it. */
START_TEST(activity_state_read_only_when_l2_can_halt)
{
    for (int hlt = 1; hlt >= 0; hlt--) {
        vm_on(vcore_backend_mock()->vmcs_read_many);
        set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (hlt ? 1u << 7 : 0u));
        load_vmcs12();
        trip(VCORE_NVMX_VMLAUNCH);
        uint64_t r = 0, w = 0;
        ck_assert_int_eq(vcore_mock_vmcs_count(vcpu, VCORE_VMCS_GUEST_ACTIVITY_STATE, &r, &w), VCORE_OK);
        if (hlt)
            ck_assert_uint_eq(r, 0);
        else
            ck_assert_uint_ge(r, 1);
        teardown();
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nested_shadow_pull");
    TCase *t = tcase_create("pull");
    tcase_add_test(t, read_many_equals_single_reads);
    tcase_add_test(t, batched_and_single_pull_agree);
    tcase_add_test(t, failed_read_changes_nothing);
    tcase_add_test(t, pull_without_optional_fields);
    tcase_add_test(t, saved_timer_reaches_the_shadow_vmcs);
    tcase_add_test(t, activity_state_read_only_when_l2_can_halt);
    suite_add_tcase(s, t);
    return vcore_test_run(s);
}
