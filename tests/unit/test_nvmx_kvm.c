/* KVM nested-state interchange on synthetic blobs (the host has no
 * KVM_CAP_NESTED_STATE): round trip, every rejection, truncation. */
#include "support.h"
#include "test_nvmx_fixture.h"

static fx_t F;
static uint8_t blob[VCORE_KVM_NESTED_MAX_SIZE];
static void setup(void) { fx_setup(&F); memset(blob, 0, sizeof(blob)); }
static void teardown(void) { fx_teardown(&F); }

static void put16(size_t off, uint16_t v) { memcpy(blob + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(blob + off, &v, 4); }
static void put64(size_t off, uint64_t v) { memcpy(blob + off, &v, 8); }

/* A valid blob: in VMX operation at 0x10000 with vmcs12 at 0x11000. */
static uint32_t good_blob(void)
{
    memset(blob, 0, sizeof(blob));
    put32(4, 128 + 4096);
    put64(8, FX_VMXON);
    put64(16, FX_VMCS_A);
    put32(128, VCORE_VMCS12_REVISION);
    ck_assert_int_eq(vcore_vmcs12_set(blob + 128, VCORE_VMCS_GUEST_RIP, 0xabcdef), VCORE_OK);
    return 128 + 4096;
}

START_TEST(export_empty_and_roundtrip)
{
    uint32_t len = 0;
    uint64_t v;
    ck_assert_uint_eq(vcore_nvmx_kvm_state_size(F.n), 128);
    ck_assert_int_eq(vcore_nvmx_kvm_export(F.n, blob, sizeof(blob), &len), VCORE_OK);
    ck_assert_uint_eq(len, 128);
    memcpy(&v, blob + 8, 8);
    ck_assert_uint_eq(v, ~0ull);
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_CR3, 0x7000);
    fx_vmwrite(&F, VCORE_VMCS_HLAT_POINTER, 0x9000); /* extension field: not in KVM's layout */
    ck_assert_int_eq(vcore_nvmx_kvm_export(F.n, blob, 100, &len), VCORE_ERR_BUFSZ);
    ck_assert_uint_eq(len, 128 + 4096);
    memset(blob, 0x5a, sizeof(blob));
    ck_assert_int_eq(vcore_nvmx_kvm_export(F.n, blob, sizeof(blob), &len), VCORE_OK);
    ck_assert_uint_eq(blob[128 + 4096], 0x5a); /* nothing past the blob (no shadow page) */
    memcpy(&v, blob + 16, 8);
    ck_assert_uint_eq(v, FX_VMCS_A);
    ck_assert_int_eq(vcore_vmcs12_get(blob + 128, VCORE_VMCS_GUEST_CR3, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x7000);
    ck_assert_int_eq(vcore_vmcs12_get(blob + 128, VCORE_VMCS_HLAT_POINTER, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0);
    /* import into a fresh state */
    fx_t g;
    fx_setup(&g);
    ck_assert_int_eq(vcore_nvmx_kvm_import(g.n, blob, len, NULL), VCORE_OK);
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_nvmx_get_info(g.n, &info), VCORE_OK);
    ck_assert(info.vmx_operation);
    ck_assert_uint_eq(info.vmxon_ptr, FX_VMXON);
    ck_assert_uint_eq(info.current_vmptr, FX_VMCS_A);
    fx_vmread(&g, VCORE_VMCS_GUEST_CR3);
    ck_succeed(&g);
    ck_assert_uint_eq(g.res.gpr_value, 0x7000);
    /* and back out to L1 memory with VMCLEAR */
    fx_run_mem(&g, VCORE_NVMX_VMCLEAR, FX_VMCS_A);
    ck_succeed(&g);
    ck_assert_int_eq(vcore_vmcs12_get(g.ram + FX_VMCS_A, VCORE_VMCS_GUEST_CR3, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x7000);
    fx_teardown(&g);
    /* a not-in-VMX blob resets the state */
    memset(blob, 0, 128);
    put32(4, 128);
    put64(8, ~0ull);
    put64(16, ~0ull);
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, blob, 128, NULL), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert(!info.vmx_operation);
}
END_TEST

typedef void (*mutate_fn)(void);
static void m_size_small(void) { put32(4, 100); }
static void m_size_big(void) { put32(4, 128 + 4096 + 1); }
static void m_flags_unknown(void) { put16(0, 0x80); }
static void m_run_pending(void) { put16(0, VCORE_KVM_NESTED_RUN_PENDING); }
static void m_gif(void) { put16(0, VCORE_KVM_NESTED_GIF_SET); }
static void m_format(void) { put16(2, 1); }
static void m_vmx_flags(void) { put32(28, 2); }
static void m_vmx_deadline_no_guest(void) { put32(28, 1); }
static void m_evmcs(void) { put16(0, VCORE_KVM_NESTED_EVMCS); }
static void m_vmxon_none_vmcs(void) { put64(8, ~0ull); }
static void m_vmxon_misaligned(void) { put64(8, FX_VMXON + 4); }
static void m_vmxon_wide(void) { put64(8, 1ull << 44); }
static void m_smm_bad(void) { put16(24, VCORE_KVM_NESTED_SMM_GUEST_MODE); }
static void m_smm(void) { put16(24, VCORE_KVM_NESTED_SMM_VMXON); }
/* guest mode, but vmcs12's launch state is clear and no entry is pending */
static void m_guest_mode(void) { put16(0, VCORE_KVM_NESTED_GUEST_MODE); }
static void m_mtf(void) { put16(0, VCORE_KVM_NESTED_MTF_PENDING); } /* MTF_PENDING outside guest mode */
static void m_vmcs_eq_vmxon(void) { put64(16, FX_VMXON); }
static void m_vmcs_misaligned(void) { put64(16, FX_VMCS_A + 8); }
static void m_vmcs_no_page(void) { put32(4, 128); }
static void m_revision(void) { put32(128, 0x12345678); }

START_TEST(every_rejection)
{
    struct { mutate_fn m; int err; uint32_t diag; } cases[] = {
        {m_size_small, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SIZE},
        {m_size_big, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SIZE},
        {m_flags_unknown, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FLAGS},
        {m_run_pending, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FLAGS},
        {m_gif, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FLAGS},
        {m_format, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_FORMAT},
        {m_vmx_flags, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMX_FLAGS},
        {m_vmx_deadline_no_guest, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMX_FLAGS},
        {m_evmcs, VCORE_ERR_UNSUPPORTED, VCORE_DIAG_KVM_STATE_EVMCS},
        {m_vmxon_none_vmcs, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMCS12_ADDR},
        {m_vmxon_misaligned, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMXON_ADDR},
        {m_vmxon_wide, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMXON_ADDR},
        {m_smm_bad, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SMM},
        {m_smm, VCORE_ERR_UNSUPPORTED, VCORE_DIAG_KVM_STATE_SMM},
        {m_guest_mode, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_NOT_LAUNCHED},
        {m_mtf, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_MTF_PENDING},
        {m_vmcs_eq_vmxon, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMCS12_ADDR},
        {m_vmcs_misaligned, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_VMCS12_ADDR},
        {m_vmcs_no_page, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_SIZE},
        {m_revision, VCORE_ERR_INVAL, VCORE_DIAG_KVM_STATE_REVISION},
    };
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vcore_diag_t d = {.size = sizeof(d)};
        uint32_t len = good_blob();
        cases[i].m();
        ck_assert_msg(vcore_nvmx_kvm_import(F.n, blob, len, &d) == cases[i].err, "case %u", i);
        ck_assert_msg(d.id == cases[i].diag, "case %u: diag %#x want %#x", i, d.id, cases[i].diag);
        ck_assert_ptr_nonnull(d.message);
        ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
        ck_assert(!info.vmx_operation); /* refused blobs change nothing */
    }
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, blob, good_blob(), NULL), VCORE_OK);
}
END_TEST


/* Capabilities may give L1 another VMCS revision identifier than KVM's
 * vmcs12 layout (here Bochs' 2BH): the blob still carries KVM's revision,
 * and the library imports its own export, back to L1's revision. */
START_TEST(export_import_other_revision)
{
    vcore_nvmx_caps_t caps;
    fx_t g, h;
    uint32_t len = 0, rev;

    fx_caps(&caps);
    caps.msr[VCORE_NVMX_CAP_BASIC] = (caps.msr[VCORE_NVMX_CAP_BASIC] & ~0x7fffffffull) | 0x2b;
    fx_setup_caps(&g, &caps);
    fx_region(&g, FX_VMXON, 0x2b);
    ck_assert_int_eq(fx_run_mem(&g, VCORE_NVMX_VMXON, FX_VMXON), VCORE_OK);
    ck_succeed(&g);
    fx_region(&g, FX_VMCS_A, 0x2b);
    fx_vmptrld(&g, FX_VMCS_A);
    fx_vmwrite(&g, VCORE_VMCS_GUEST_RIP, 0x1234);
    ck_assert_int_eq(vcore_nvmx_kvm_export(g.n, blob, sizeof(blob), &len), VCORE_OK);
    memcpy(&rev, blob + 128, 4);
    ck_assert_uint_eq(rev, VCORE_VMCS12_REVISION);
    fx_setup_caps(&h, &caps);
    ck_assert_int_eq(vcore_nvmx_kvm_import(h.n, blob, len, NULL), VCORE_OK);
    memcpy(&rev, vcore_nvmx_vmcs12(h.n), 4);
    ck_assert_uint_eq(rev, 0x2b);
    fx_vmread(&h, VCORE_VMCS_GUEST_RIP);
    ck_succeed(&h);
    ck_assert_uint_eq(h.res.gpr_value, 0x1234);
    /* VMCLEAR writes the region back with L1's revision */
    fx_run_mem(&h, VCORE_NVMX_VMCLEAR, FX_VMCS_A);
    ck_succeed(&h);
    ck_assert_uint_eq(fx_get32(&h, FX_VMCS_A), 0x2b);
    /* a blob with another revision than KVM's is still refused */
    put32(128, 0x2b);
    ck_assert_int_eq(vcore_nvmx_kvm_import(h.n, blob, len, NULL), VCORE_ERR_INVAL);
    fx_teardown(&g);
    fx_teardown(&h);
}
END_TEST

/* A guest-mode blob in a state no vCPU runs (the kvm backend's path) is
 * kept as data and exported again unchanged: flags, VMX header flags, the
 * preemption-timer deadline, and - vmcs12 using VMCS shadowing (primary
 * control 31, secondary control 14, link pointer not all ones: SDM "VMCS
 * Shadowing") - the shadow vmcs12 page with the shadow-VMCS indicator. */
START_TEST(guest_mode_kept_as_data)
{
    uint32_t len = good_blob(), out = 0;
    static uint8_t again[VCORE_KVM_NESTED_MAX_SIZE];
    put16(0, VCORE_KVM_NESTED_GUEST_MODE | VCORE_KVM_NESTED_RUN_PENDING);
    put32(28, VCORE_KVM_NESTED_VMX_PREEMPTION_DEADLINE);
    put64(32, 0x1122334455667788ull);
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, blob, len, NULL), VCORE_OK);
    ck_assert_uint_eq(vcore_nvmx_kvm_state_size(F.n), 128 + 4096);
    ck_assert_int_eq(vcore_nvmx_kvm_export(F.n, again, sizeof(again), &out), VCORE_OK);
    ck_assert_uint_eq(out, len);
    ck_assert_int_eq(memcmp(blob, again, 128), 0);
    ck_assert_int_eq(memcmp(blob + 128, again + 128, VCORE_VMCS12_KVM_END), 0);
    /* with VMCS shadowing: the second page travels too */
    len = good_blob();
    put32(4, 128 + 8192);
    put16(0, VCORE_KVM_NESTED_GUEST_MODE);
    put32(128 + VCORE_VMCS12_OFF_LAUNCH_STATE, 1);
    ck_assert_int_eq(vcore_vmcs12_set(blob + 128, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_set(blob + 128, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_set(blob + 128, VCORE_VMCS_VMCS_LINK_POINTER, FX_VMCS_B), VCORE_OK);
    put32(128 + 4096, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    ck_assert_int_eq(vcore_vmcs12_set(blob + 128 + 4096, VCORE_VMCS_GUEST_RIP, 0x5555), VCORE_OK);
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, blob, 128 + 8192, NULL), VCORE_OK);
    ck_assert_uint_eq(vcore_nvmx_kvm_state_size(F.n), 128 + 8192);
    ck_assert_int_eq(vcore_nvmx_kvm_export(F.n, again, sizeof(again), &out), VCORE_OK);
    ck_assert_uint_eq(out, 128 + 8192);
    ck_assert_int_eq(memcmp(blob, again, 128), 0);
    ck_assert_int_eq(memcmp(blob + 128 + 4096, again + 128 + 4096, VCORE_VMCS12_KVM_END), 0);
    /* without the shadow page, or with the indicator clear: refused */
    vcore_diag_t d = {.size = sizeof(d)};
    put32(4, 128 + 4096);
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, blob, 128 + 8192, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_SHADOW);
    put32(4, 128 + 8192);
    put32(128 + 4096, VCORE_VMCS12_REVISION);
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, blob, 128 + 8192, &d), VCORE_ERR_INVAL);
    ck_assert_uint_eq(d.id, VCORE_DIAG_KVM_STATE_SHADOW);
    /* an L1 instruction means L2 no longer runs: the export drops guest mode */
    put32(128 + 4096, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, blob, 128 + 8192, NULL), VCORE_OK);
    fx_vmread(&F, VCORE_VMCS_GUEST_CR3);
    ck_assert_int_eq(vcore_nvmx_kvm_export(F.n, again, sizeof(again), &out), VCORE_OK);
    ck_assert_uint_eq(out, 128 + 4096);
    uint16_t flags;
    memcpy(&flags, again, 2);
    ck_assert_uint_eq(flags, 0);
}
END_TEST

START_TEST(truncated_blobs)
{
    uint32_t full = good_blob();
    vcore_nvmx_info_t info = {.size = sizeof(info)};
    for (uint32_t len = 0; len < full; len++) {
        /* the size field still claims the full blob */
        ck_assert_int_ne(vcore_nvmx_kvm_import(F.n, blob, len, NULL), VCORE_OK);
    }
    ck_assert_int_eq(vcore_nvmx_get_info(F.n, &info), VCORE_OK);
    ck_assert(!info.vmx_operation);
    ck_assert_int_eq(vcore_nvmx_kvm_import(F.n, NULL, full, NULL), VCORE_ERR_INVAL);
}
END_TEST

static Suite *kvm_suite(void)
{
    Suite *s = suite_create("nvmx_kvm");
    TCase *tc = tcase_create("kvm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, export_empty_and_roundtrip);
    tcase_add_test(tc, every_rejection);
    tcase_add_test(tc, truncated_blobs);
    tcase_add_test(tc, guest_mode_kept_as_data);
    tcase_add_test(tc, export_import_other_revision);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(kvm_suite());
}
