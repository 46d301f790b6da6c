/* /dev/kvm: CPUID end to end (the guest sees the table), runtime bits,
 * a table KVM refuses leaves the previous one in force, KVM_GET_SUPPORTED_CPUID. */
#include <string.h>

#include "kvm_support.h"

/* CPUID leaf 0: EBX, EDX, ECX out on ports 0x20..0x22 (32-bit OUTs). */
KT_GUEST(g_vendor, "xor %eax, %eax\n xor %ecx, %ecx\n cpuid\n"
                   "mov %ebx, %eax\n outl %eax, $0x20\n"
                   "mov %edx, %eax\n outl %eax, $0x21\n"
                   "mov %ecx, %eax\n outl %eax, $0x22\n"
                   "mov $1, %eax\n xor %ecx, %ecx\n cpuid\n outl %eax, $0x23\n hlt");
/* CPUID.1:ECX before and after setting CR4.OSXSAVE (ports 0x30, 0x31). */
KT_GUEST(g_osxsave, "mov $1, %eax\n xor %ecx, %ecx\n cpuid\n mov %ecx, %eax\n outl %eax, $0x30\n"
                    "mov %cr4, %eax\n or $0x40000, %eax\n mov %eax, %cr4\n"
                    "mov $1, %eax\n xor %ecx, %ecx\n cpuid\n mov %ecx, %eax\n outl %eax, $0x31\n hlt");

static vcore_cpuid_entry_t table[VCORE_CPUID_MAX_ENTRIES];
static uint32_t ntable;
static kt_env_t env;

static void set_vendor(vcore_cpuid_entry_t *t, uint32_t n, const char name[12])
{
    vcore_cpuid_entry_t *l0 = kt_cpuid_find(t, n, 0, 0);
    ck_assert_ptr_nonnull(l0);
    memcpy(&l0->ebx, name, 4);
    memcpy(&l0->edx, name + 4, 4);
    memcpy(&l0->ecx, name + 8, 4);
}

static void setup(void)
{
    kt_up(&env);
    ntable = kt_host_cpuid(table, VCORE_CPUID_MAX_ENTRIES);
    set_vendor(table, ntable, "VcoreTestCPU");
    vcore_cpuid_entry_t *l1 = kt_cpuid_find(table, ntable, 1, 0);
    l1->eax = 0x000806ec; /* a signature of our choosing */
}

static void teardown(void)
{
    kt_down(&env);
}

/* Runs g_vendor and checks the vendor string and signature the guest saw. */
static void expect_guest_vendor(const char name[12], uint32_t sig)
{
    char seen[12];
    vcore_exit_t ex = {.size = sizeof ex};
    kt_load(&env, g_vendor_start, g_vendor_end);
    for (int i = 0; i < 3; i++) {
        kt_run_expect(&env, &ex, VCORE_EXIT_IO);
        ck_assert_uint_eq(ex.u.io.port, 0x20 + i);
        ck_assert_uint_eq(ex.u.io.width, 4);
        memcpy(seen + 4 * i, ex.u.io.data, 4);
    }
    ck_assert_mem_eq(seen, name, 12);
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    uint32_t eax;
    memcpy(&eax, ex.u.io.data, 4);
    ck_assert_uint_eq(eax, sig);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
}

START_TEST(guest_sees_the_table)
{
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, table, ntable), VCORE_OK);
    expect_guest_vendor("VcoreTestCPU", 0x000806ec);
}
END_TEST

START_TEST(osxsave_runtime_bit)
{
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, table, ntable), VCORE_OK);
    vcore_cpuid_entry_t q;
    ck_assert_int_eq(vcore_vcpu_cpuid_query(env.vcpu, 1, 0, &q), VCORE_OK);
    ck_assert(!(q.ecx & (1u << 27)));
    kt_load(&env, g_osxsave_start, g_osxsave_end);
    vcore_exit_t ex = {.size = sizeof ex};
    uint32_t before, after;
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    memcpy(&before, ex.u.io.data, 4);
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    memcpy(&after, ex.u.io.data, 4);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    ck_assert(before & (1u << 26));    /* XSAVE enumerated */
    ck_assert(!(before & (1u << 27))); /* OSXSAVE clear while CR4.OSXSAVE = 0 */
    ck_assert(after & (1u << 27));     /* ... and set once the guest sets it */
    /* The core's view of the table follows the guest's CR4. */
    ck_assert_int_eq(vcore_vcpu_cpuid_query(env.vcpu, 1, 0, &q), VCORE_OK);
    ck_assert(q.ecx & (1u << 27));
    /* After the run only the same table is accepted; with the runtime bits
     * recomputed by the core it matches what KVM holds, so KVM accepts it. */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, table, ntable), VCORE_OK);
    set_vendor(table, ntable, "OtherVendor!");
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, table, ntable), VCORE_ERR_STATE);
    ck_assert_diag(env.vcpu, VCORE_DIAG_CPUID_CHANGED_AFTER_RUN);
}
END_TEST

START_TEST(refused_table_keeps_previous)
{
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, table, ntable), VCORE_OK);
    /* Table B: legal for the core, refused by KVM. It enumerates AMX tile
     * data (XCR0 bits 17-18), a dynamic XSAVE feature the process has not
     * been granted (arch_prctl ARCH_REQ_XCOMP_GUEST_PERM), so KVM_SET_CPUID2
     * fails (EPERM on this host). */
    static vcore_cpuid_entry_t b[VCORE_CPUID_MAX_ENTRIES];
    memcpy(b, table, ntable * sizeof b[0]);
    uint32_t nb = ntable;
    set_vendor(b, nb, "RefusedTable");
    vcore_cpuid_entry_t *xs = kt_cpuid_find(b, nb, 0xd, 0);
    ck_assert_ptr_nonnull(xs);
    xs->eax |= 3u << 17;
    xs->ecx = 0xb00 + 8192;
    ck_assert_uint_le(nb + 2, VCORE_CPUID_MAX_ENTRIES);
    b[nb++] = (vcore_cpuid_entry_t){0xd, 17, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 64, 0xac0, 2, 0};
    b[nb++] = (vcore_cpuid_entry_t){0xd, 18, VCORE_CPUID_FLAG_INDEX_SIGNIFICANT, 8192, 0xb00, 6, 0};
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, b, nb), VCORE_ERR_HWFAIL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_CPUID_BACKEND_REFUSED);
    /* The core kept table A... */
    static vcore_cpuid_entry_t now[VCORE_CPUID_MAX_ENTRIES];
    uint32_t n = 0;
    ck_assert_int_eq(vcore_vcpu_get_cpuid(env.vcpu, now, VCORE_CPUID_MAX_ENTRIES, &n), VCORE_OK);
    ck_assert_uint_eq(n, ntable);
    vcore_x86_cpu_model_t m = {.size = sizeof m};
    ck_assert_int_eq(vcore_vcpu_get_cpu_model(env.vcpu, &m), VCORE_OK);
    ck_assert(!(m.supported_xcr0 & (1ull << 18)));
    /* ... and so did KVM: the guest sees A's vendor. */
    expect_guest_vendor("VcoreTestCPU", 0x000806ec);
}
END_TEST

START_TEST(supported_cpuid_api)
{
    static vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES];
    uint32_t n = 0, n2 = 0;
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(NULL, t, VCORE_CPUID_MAX_ENTRIES, &n), VCORE_OK);
    ck_assert_uint_gt(n, 1);
    ck_assert_uint_eq(t[0].function, 0);
    /* Through the VM's own /dev/kvm handle: the same table. */
    static vcore_cpuid_entry_t t2[VCORE_CPUID_MAX_ENTRIES];
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(env.vm, t2, VCORE_CPUID_MAX_ENTRIES, &n2),
                     VCORE_OK);
    ck_assert_uint_eq(n2, n);
    ck_assert_mem_eq(t2, t, n * sizeof t[0]);
    /* Too small a buffer: the count needed is reported. */
    n2 = 0;
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(NULL, t2, 1, &n2), VCORE_ERR_BUFSZ);
    ck_assert_uint_eq(n2, n);
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(NULL, NULL, 0, &n2), VCORE_ERR_BUFSZ);
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(NULL, NULL, 4, &n2), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(NULL, t2, 4, NULL), VCORE_ERR_INVAL);
    /* A VM of another backend is not a KVM VM. */
    vcore_vm_config_t cfg;
    vcore_vm_t *mock = NULL;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    ck_assert_int_eq(vcore_vm_create(&cfg, &mock), VCORE_OK);
    ck_assert(!vcore_kvm_is_kvm_vm(mock));
    ck_assert(vcore_kvm_is_kvm_vm(env.vm));
    ck_assert_int_eq(vcore_kvm_get_supported_cpuid(mock, t2, VCORE_CPUID_MAX_ENTRIES, &n2),
                     VCORE_ERR_INVAL);
    vcore_vm_destroy(mock);
}
END_TEST

START_TEST(bad_tables_refused_by_core)
{
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, table, ntable), VCORE_OK);
    static vcore_cpuid_entry_t b[VCORE_CPUID_MAX_ENTRIES];
    memcpy(b, table, ntable * sizeof b[0]);
    b[1] = b[0]; /* a duplicate leaf */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, b, ntable), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, table, VCORE_CPUID_MAX_ENTRIES + 1),
                     VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, NULL, 3), VCORE_ERR_INVAL);
    /* The good table is still in force, for the core and the guest. */
    expect_guest_vendor("VcoreTestCPU", 0x000806ec);
}
END_TEST

int main(void)
{
    kt_require_kvm();
    Suite *s = suite_create("kvm_cpuid");
    TCase *tc = tcase_create("cpuid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, guest_sees_the_table);
    tcase_add_test(tc, osxsave_runtime_bit);
    tcase_add_test(tc, refused_table_keeps_previous);
    tcase_add_test(tc, supported_cpuid_api);
    tcase_add_test(tc, bad_tables_refused_by_core);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
