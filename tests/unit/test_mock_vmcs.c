/*
 * test_mock_vmcs.c - the hardware VMCS ops group through the mock's strict
 * store, driven as the nested pipeline drives it (the ops of backend.h):
 * life cycle, VMREAD/VMWRITE rules, control-shadow write avoidance, counts.
 *
 * Expected behaviour: SDM Vol. 3, "VMCS Life Cycle" (current VMCS, launch
 * state), "VMREAD"/"VMWRITE" (no current VMCS: VMfailInvalid; unsupported
 * component: error 12; read-only component without IA32_VMX_MISC[29]:
 * error 13), "VMLAUNCH/VMRESUME" (shadow VMCS current: VMfailInvalid; a
 * successful VMLAUNCH makes the VMCS launched, a failed entry does not).
 */
#include <string.h>

#include "support.h"

static vcore_test_env_t env;
static const vcore_backend_t *be;
static void *priv;

static void up(void)
{
    vcore_test_env_up(&env, VCORE_X86_VENDOR_INTEL);
    be = vcore_vcpu_backend(env.vcpu);
    priv = vcore_vcpu_backend_priv(env.vcpu);
}

static void down(void)
{
    vcore_test_env_down(&env);
}

static uint64_t violations(void)
{
    return vcore_mock_count(env.vcpu, VCORE_MOCK_OP_VMCS_VIOLATION);
}

START_TEST(life_cycle)
{
    vcore_hw_vmcs_t *v02, *shadow;
    ck_assert_int_eq(be->vmcs_alloc(env.vcpu, priv, false, &v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_alloc(env.vcpu, priv, true, &shadow), VCORE_OK);
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_GUEST_RIP, 0x1234), VCORE_OK);
    uint64_t v = 0;
    ck_assert_int_eq(be->vmcs_read(env.vcpu, priv, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x1234);
    /* A 64-bit field's _HIGH half is its bits 63:32. */
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_EPT_POINTER, 0x1122334455667788ull),
                     VCORE_OK);
    ck_assert_int_eq(be->vmcs_read(env.vcpu, priv, VCORE_VMCS_EPT_POINTER_HIGH, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x11223344u);
    /* VMCLEAR of the current VMCS: no current VMCS afterwards. */
    ck_assert_int_eq(be->vmcs_clear(env.vcpu, priv, v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_read(env.vcpu, priv, VCORE_VMCS_GUEST_RIP, &v), VCORE_ERR_STATE);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_GUEST_RIP, 1), VCORE_ERR_STATE);
    ck_assert_uint_eq(violations(), 2);
    /* The data survives VMCLEAR (it is written back). */
    ck_assert_int_eq(vcore_mock_vmcs_peek(env.vcpu, v02, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x1234);
    /* Entering with no current VMCS, or with a shadow VMCS current: VMfailInvalid. */
    vcore_hw_entry_t out;
    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_FAIL_INVALID);
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, shadow), VCORE_OK);
    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_FAIL_INVALID);
    /* Back to vmcs01 (NULL names it). */
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, NULL), VCORE_OK);
    be->vmcs_free(env.vcpu, priv, v02);
    be->vmcs_free(env.vcpu, priv, shadow);
    ck_assert_uint_eq(violations(), 2);
    /* vmcs01 is not the caller's to free; a freed handle is stale. */
    be->vmcs_free(env.vcpu, priv, NULL);
    ck_assert_uint_eq(violations(), 3);
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, v02), VCORE_ERR_INVAL);
    ck_assert_uint_eq(violations(), 4);
}
END_TEST

START_TEST(field_rules)
{
    uint64_t v;
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, NULL), VCORE_OK);
    ck_assert_int_eq(be->vmcs_read(env.vcpu, priv, 0x7ffe, &v), VCORE_ERR_NOENT);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, 0x7ffe, 0), VCORE_ERR_NOENT);
    /* VM_EXIT_REASON is read-only unless IA32_VMX_MISC[29] ("VMWRITE to any field"). */
    vcore_nvmx_caps_t caps = {.size = sizeof(caps)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&caps), VCORE_OK);
    caps.msr[VCORE_NVMX_CAP_MISC] &= ~(1ull << 29);
    ck_assert_int_eq(vcore_mock_set_vmx_caps(env.vm, &caps), VCORE_OK);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_VM_EXIT_REASON, 1), VCORE_ERR_INVAL);
    ck_assert_uint_eq(violations(), 3);
    caps.msr[VCORE_NVMX_CAP_MISC] |= 1ull << 29;
    ck_assert_int_eq(vcore_mock_set_vmx_caps(env.vm, &caps), VCORE_OK);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_VM_EXIT_REASON, 1), VCORE_OK);
    ck_assert_uint_eq(violations(), 3);
}
END_TEST

START_TEST(control_shadow_skips_unchanged_writes)
{
    vcore_hw_vmcs_t *v02;
    ck_assert_int_eq(be->vmcs_alloc(env.vcpu, priv, false, &v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, v02), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(env.vcpu), VCORE_OK);
    static const uint32_t ctls[] = {VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL,
                                    VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL,
                                    VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, VCORE_VMCS_VM_EXIT_CONTROLS,
                                    VCORE_VMCS_VM_ENTRY_CONTROLS};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5; i++)
            ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, ctls[i], 0x16u + (uint32_t)i), VCORE_OK);
    uint64_t r, w;
    ck_assert_int_eq(vcore_mock_vmcs_group_count(env.vcpu, VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS, &r, &w),
                     VCORE_OK);
    ck_assert_uint_eq(w, 5); /* the first round only */
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_VMCS_WRITE_SKIPPED), 10);
    /* A changed value is written; any other field is always written. */
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_VM_ENTRY_CONTROLS, 0x99), VCORE_OK);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_GUEST_RIP, 5), VCORE_OK);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_GUEST_RIP, 5), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_group_count(env.vcpu, VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS, &r, &w),
                     VCORE_OK);
    ck_assert_uint_eq(w, 6);
    ck_assert_int_eq(vcore_mock_vmcs_count(env.vcpu, VCORE_VMCS_GUEST_RIP, &r, &w), VCORE_OK);
    ck_assert_uint_eq(w, 2);
    ck_assert_int_eq(vcore_mock_vmcs_group_count(env.vcpu, VCORE_MOCK_VMCS_GROUP_GUEST, &r, &w), VCORE_OK);
    ck_assert_uint_eq(w, 2);
    /* Each VMCS has its own shadow; VMCLEAR forgets it. */
    ck_assert_int_eq(be->vmcs_clear(env.vcpu, priv, v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_VM_ENTRY_CONTROLS, 0x99), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_group_count(env.vcpu, VCORE_MOCK_VMCS_GROUP_MAJOR_CTLS, &r, &w),
                     VCORE_OK);
    ck_assert_uint_eq(w, 7);
    /* The shared helper, directly. */
    vcore_vmcs_ctl_shadow_t sh;
    vcore_vmcs_ctl_shadow_reset(&sh);
    ck_assert(vcore_vmcs_ctl_shadow_write(&sh, VCORE_VMCS_VM_EXIT_CONTROLS, 1));
    ck_assert(!vcore_vmcs_ctl_shadow_write(&sh, VCORE_VMCS_VM_EXIT_CONTROLS, 1));
    ck_assert(vcore_vmcs_ctl_shadow_write(&sh, VCORE_VMCS_VM_EXIT_CONTROLS, 1ull << 32 | 2));
    ck_assert(!vcore_vmcs_ctl_shadow_write(&sh, VCORE_VMCS_VM_EXIT_CONTROLS, 2)); /* 32-bit field */
    ck_assert(vcore_vmcs_ctl_shadow_write(&sh, VCORE_VMCS_GUEST_RIP, 0));
    ck_assert(vcore_vmcs_ctl_shadow_write(&sh, VCORE_VMCS_GUEST_RIP, 0));
    ck_assert(vcore_vmcs_ctl_shadow_write(NULL, VCORE_VMCS_VM_EXIT_CONTROLS, 2));
}
END_TEST

START_TEST(enter_launch_resume)
{
    vcore_hw_vmcs_t *v02;
    ck_assert_int_eq(be->vmcs_alloc(env.vcpu, priv, false, &v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, v02), VCORE_OK);
    vcore_hw_entry_t out;
    /* Nothing scripted: the mock refuses to invent an outcome. */
    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_ERR_UNSCRIPTED);
    vcore_mock_vmcs_exit_t ex = {.size = sizeof(ex)};
    /* A failed entry (exit reason 33 | bit 31): still clear, next is VMLAUNCH again. */
    ex.kind = VCORE_HW_ENTRY_EXIT;
    ex.exit_reason = 33u | (1u << 31);
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(env.vcpu, &ex), VCORE_OK);
    /* Then a CPUID exit with its instruction length. */
    ex.exit_reason = 10;
    ex.nfields = 1;
    ex.fields[0].encoding = VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN;
    ex.fields[0].value = 2;
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(env.vcpu, &ex), VCORE_OK);
    ex.nfields = 0;
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(env.vcpu, &ex), VCORE_OK);
    /* A VMfailValid. */
    ex.kind = VCORE_HW_ENTRY_FAIL_VALID;
    ex.vm_error = 7;
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(env.vcpu, &ex), VCORE_OK);

    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_EXIT);
    ck_assert_uint_eq(out.launched, 1);
    ck_assert_uint_eq(out.exit_reason, 33u | (1u << 31));
    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_OK);
    ck_assert_uint_eq(out.launched, 1); /* still VMLAUNCH: the failed entry left it clear */
    uint64_t v;
    ck_assert_int_eq(be->vmcs_read(env.vcpu, priv, VCORE_VMCS_VM_EXIT_REASON, &v), VCORE_OK);
    ck_assert_uint_eq(v, 10);
    ck_assert_int_eq(be->vmcs_read(env.vcpu, priv, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &v), VCORE_OK);
    ck_assert_uint_eq(v, 2);
    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_OK);
    ck_assert_uint_eq(out.launched, 0); /* VMRESUME */
    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_FAIL_VALID);
    ck_assert_uint_eq(out.vm_error, 7);
    ck_assert_int_eq(be->vmcs_read(env.vcpu, priv, VCORE_VMCS_VM_INSTRUCTION_ERROR, &v), VCORE_OK);
    ck_assert_uint_eq(v, 7);
    /* VMCLEAR makes it clear again. */
    ck_assert_int_eq(be->vmcs_clear(env.vcpu, priv, v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, v02), VCORE_OK);
    ex.kind = VCORE_HW_ENTRY_EXIT;
    ex.exit_reason = 12;
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(env.vcpu, &ex), VCORE_OK);
    ck_assert_int_eq(be->vmcs_enter(env.vcpu, priv, &out), VCORE_OK);
    ck_assert_uint_eq(out.launched, 1);
    /* Script validation. */
    ex.kind = 3;
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(env.vcpu, &ex), VCORE_ERR_INVAL);
    ex.kind = 0;
    ex.nfields = 1;
    ex.fields[0].encoding = 0x7ffe;
    ck_assert_int_eq(vcore_mock_push_vmcs_exit(env.vcpu, &ex), VCORE_ERR_INVAL);
    ck_assert_uint_eq(violations(), 0);
}
END_TEST

/* SDM "VMCS Shadowing": vmcs01 links only a shadow-type VMCS (link
 * pointer to a region with the shadow-VMCS indicator, "Checks on Guest
 * Non-Register State"); the bitmaps decide per field (bit n for encoding
 * bits 14:0 = n, "VMREAD Bitmap and VMWRITE Bitmap"); in VMX non-root
 * operation VMREAD/VMWRITE exit unless shadowing is on, bits 63:15 are 0
 * and the bitmap bit is 0 ("VMREAD", "VMWRITE"). */
START_TEST(shadow_link_rules)
{
    static uint8_t rd[4096], wr[4096];
    vcore_hw_vmcs_t *v02, *sh;
    bool exits = false;
    uint64_t v = 0;
    ck_assert_int_eq(be->vmcs_alloc(env.vcpu, priv, false, &v02), VCORE_OK);
    ck_assert_int_eq(be->vmcs_alloc(env.vcpu, priv, true, &sh), VCORE_OK);
    memset(rd, 0xff, sizeof(rd));
    memset(wr, 0xff, sizeof(wr));
    rd[(VCORE_VMCS_GUEST_RIP & 0x7fff) >> 3] &= (uint8_t)~(1u << (VCORE_VMCS_GUEST_RIP & 7));
    rd[(VCORE_VMCS_VM_EXIT_REASON & 0x7fff) >> 3] &= (uint8_t)~(1u << (VCORE_VMCS_VM_EXIT_REASON & 7));
    wr[(VCORE_VMCS_GUEST_RIP & 0x7fff) >> 3] &= (uint8_t)~(1u << (VCORE_VMCS_GUEST_RIP & 7));
    /* Shadowing off: every access exits. */
    ck_assert_int_eq(vcore_mock_guest_vmx_access(env.vcpu, false, VCORE_VMCS_GUEST_RIP, &v, &exits), VCORE_OK);
    ck_assert(exits);
    /* The first link needs both bitmaps; an ordinary VMCS or vmcs01 cannot be linked. */
    ck_assert_int_eq(be->vmcs_shadow_link(env.vcpu, priv, sh, NULL, NULL), VCORE_ERR_STATE);
    ck_assert_int_eq(be->vmcs_shadow_link(env.vcpu, priv, sh, rd, NULL), VCORE_ERR_STATE);
    ck_assert_int_eq(be->vmcs_shadow_link(env.vcpu, priv, v02, rd, wr), VCORE_ERR_INVAL);
    ck_assert_int_eq(be->vmcs_shadow_link(env.vcpu, priv, NULL, rd, wr), VCORE_OK); /* NULL: off */
    ck_assert_uint_eq(violations(), 3);
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(env.vcpu));
    ck_assert_int_eq(be->vmcs_shadow_link(env.vcpu, priv, sh, rd, wr), VCORE_OK);
    ck_assert_ptr_eq(vcore_mock_vmcs_shadow_linked(env.vcpu), sh);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_VMCS_SHADOW_LINK), 5);
    /* L0 writes the shadow VMCS; the guest reads it without an exit. */
    ck_assert_int_eq(be->vmcs_load(env.vcpu, priv, sh), VCORE_OK);
    ck_assert_int_eq(be->vmcs_write(env.vcpu, priv, VCORE_VMCS_VM_EXIT_REASON, 10), VCORE_OK);
    ck_assert_int_eq(vcore_mock_guest_vmx_access(env.vcpu, false, VCORE_VMCS_VM_EXIT_REASON, &v, &exits), VCORE_OK);
    ck_assert(!exits);
    ck_assert_uint_eq(v, 10);
    /* VMWRITE of a field whose VMWRITE bit is 1 exits; of a clear one, stores. */
    v = 3;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(env.vcpu, true, VCORE_VMCS_VM_EXIT_REASON, &v, &exits), VCORE_OK);
    ck_assert(exits);
    v = 0x401002;
    ck_assert_int_eq(vcore_mock_guest_vmx_access(env.vcpu, true, VCORE_VMCS_GUEST_RIP, &v, &exits), VCORE_OK);
    ck_assert(!exits);
    ck_assert_int_eq(vcore_mock_vmcs_peek(env.vcpu, sh, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x401002);
    /* Bits 63:15 of the encoding set: a VM exit, whatever the bitmap says. */
    ck_assert_int_eq(vcore_mock_guest_vmx_access(env.vcpu, false, (1ull << 15) | VCORE_VMCS_GUEST_RIP, &v, &exits),
                     VCORE_OK);
    ck_assert(exits);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_GUEST_VMCS_ACCESS), 2);
    /* Later links keep the bitmaps. */
    ck_assert_int_eq(be->vmcs_shadow_link(env.vcpu, priv, sh, NULL, NULL), VCORE_OK);
    /* Freeing the linked shadow VMCS would leave vmcs01 naming freed memory. */
    be->vmcs_free(env.vcpu, priv, sh);
    ck_assert_uint_eq(violations(), 4);
    ck_assert_ptr_null(vcore_mock_vmcs_shadow_linked(env.vcpu));
    /* Without VMCS shadowing in the processor's capabilities: refused. */
    vcore_nvmx_caps_t caps = {.size = sizeof(caps)};
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&caps), VCORE_OK);
    caps.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~VCORE_VMX_PROC2_SHADOW_VMCS;
    ck_assert_int_eq(vcore_mock_set_vmx_caps(env.vm, &caps), VCORE_OK);
    ck_assert_int_eq(be->vmcs_alloc(env.vcpu, priv, true, &sh), VCORE_OK);
    ck_assert_int_eq(be->vmcs_shadow_link(env.vcpu, priv, sh, rd, wr), VCORE_ERR_UNSUPPORTED);
    be->vmcs_free(env.vcpu, priv, sh);
    be->vmcs_free(env.vcpu, priv, v02);
    ck_assert_uint_eq(violations(), 4);
}
END_TEST

START_TEST(vmx_caps_op)
{
    vcore_nvmx_caps_t c = {.size = sizeof(c)}, emu = {.size = sizeof(emu)};
    ck_assert_int_eq(be->vmx_caps(env.vm, vcore_vm_backend_priv(env.vm), &c), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_caps_emulated(&emu), VCORE_OK);
    ck_assert_mem_eq(c.msr, emu.msr, sizeof(c.msr));
    emu.msr[VCORE_NVMX_CAP_MISC] = 0;
    ck_assert_int_eq(vcore_mock_set_vmx_caps(env.vm, &emu), VCORE_OK);
    ck_assert_int_eq(be->vmx_caps(env.vm, vcore_vm_backend_priv(env.vm), &c), VCORE_OK);
    ck_assert_uint_eq(c.msr[VCORE_NVMX_CAP_MISC], 0);
    c.size = 1;
    ck_assert_int_eq(be->vmx_caps(env.vm, vcore_vm_backend_priv(env.vm), &c), VCORE_ERR_ABI);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mock_vmcs");
    TCase *tc = tcase_create("vmcs");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, life_cycle);
    tcase_add_test(tc, field_rules);
    tcase_add_test(tc, control_shadow_skips_unchanged_writes);
    tcase_add_test(tc, enter_launch_resume);
    tcase_add_test(tc, vmx_caps_op);
    tcase_add_test(tc, shadow_link_rules);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
