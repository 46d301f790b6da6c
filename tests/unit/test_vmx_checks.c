/*
 * test_vmx_checks.c - the VM-entry consistency checks (vmx_checks.h): one
 * case per rule and boundary (test_vmx_checks_cases.c), architectural
 * ordering, report-all mode, the table API, the snapshot contract (copy
 * once, read memory once), and a property test over random mutations.
 */
#include <stdio.h>

#include "support.h"
#include "test_nvmx_fixture.h"
#include "test_vmx_checks.h"

/* Flat index over every case of every table. */
static const ck_case_t *ck_case_at(int i)
{
    for (unsigned t = 0; t < ck_ntables; t++) {
        if ((size_t)i < ck_tables[t].n)
            return &ck_tables[t].cases[i];
        i -= (int)ck_tables[t].n;
    }
    return NULL;
}

static int ck_case_count(void)
{
    int n = 0;
    for (unsigned t = 0; t < ck_ntables; t++)
        n += (int)ck_tables[t].n;
    return n;
}

START_TEST(each_case)
{
    const ck_case_t *cs = ck_case_at(_i);
    ck_assert_ptr_nonnull(cs);
    ck_case_run(cs);
}
END_TEST

/* Every check in the table is produced by some case: no dead rows. The
 * cases are run here again so that the test stands on its own. */
START_TEST(every_check_is_hit)
{
    vcore_vmx_check_info_t info = {.size = sizeof(info)};
    uint32_t missing = 0;

    memset(ck_hit, 0, sizeof(ck_hit));
    for (int i = 0; i < ck_case_count(); i++)
        ck_case_run(ck_case_at(i));
    for (uint32_t i = 0; i < vcore_vmx_check_count(); i++) {
        ck_assert_int_eq(vcore_vmx_check_at(i, &info), VCORE_OK);
        if (!ck_hit[info.id - 0x4000]) {
            fprintf(stderr, "check %s (%#x) is hit by no test\n", info.name, info.id);
            missing++;
        }
    }
    ck_assert_uint_eq(missing, 0);
}
END_TEST

/* ---- ordering ---------------------------------------------------------- */

START_TEST(order_control_host_guest_link_msr)
{
    ck_t *k = malloc(sizeof(*k));
    const ck_mu_t mu[] = {
        SET(PIN_BASED_VM_EXEC_CONTROL, 0x14), /* control field: error 7 */
        SET(HOST_CR3, 1ull << 40),            /* host state: error 8 */
        SET(GUEST_CR3, 1ull << 40),           /* guest state: exit 33 */
        SET(VMCS_LINK_POINTER, CK_LINK + 8),  /* link pointer: exit 33, qualification 4 */
        MSR(0, 0xc0000081u, 0),               /* MSR-load entry 1 fine */
        MSR(1, 0xc0000100u, 0),               /* entry 2: exit 34, qualification 2 */
    };
    const uint32_t order[] = {VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0, VCORE_VMX_CHECK_HOST_CR3_WIDTH,
                              VCORE_VMX_CHECK_GUEST_CR3_WIDTH, VCORE_VMX_CHECK_GUEST_LINK_ALIGN,
                              VCORE_VMX_CHECK_MSR_LOAD_FS_GS_BASE};

    ck_init(k);
    ck_apply(k, mu, sizeof(mu) / sizeof(mu[0]));
    ck_assert_uint_eq(ck_run(k), 5);
    for (unsigned i = 0; i < 5; i++)
        ck_assert_uint_eq(k->fail[i].check, order[i]);
    ck_assert_uint_eq(k->fail[4].index, 2);
    ck_assert_uint_eq(k->out.kind, VCORE_VMX_VMFAIL_VALID);
    ck_assert_uint_eq(k->out.vm_error, 7);

    /* Remove the failures one class at a time. */
    ck_set(k, VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
    ck_assert_uint_eq(ck_run(k), 4);
    ck_assert_uint_eq(k->out.kind, VCORE_VMX_VMFAIL_VALID);
    ck_assert_uint_eq(k->out.vm_error, 8);
    ck_assert_uint_eq(k->out.check, VCORE_VMX_CHECK_HOST_CR3_WIDTH);

    ck_set(k, VCORE_VMCS_HOST_CR3, 0x1000);
    ck_run(k);
    ck_assert_uint_eq(k->out.kind, VCORE_VMX_ENTRY_FAIL_EXIT);
    ck_assert_uint_eq(k->out.exit_reason, 0x80000021u);
    ck_assert_uint_eq(k->out.qualification, 0);
    ck_assert_uint_eq(k->out.check, VCORE_VMX_CHECK_GUEST_CR3_WIDTH);

    ck_set(k, VCORE_VMCS_GUEST_CR3, 0x1000);
    ck_run(k);
    ck_assert_uint_eq(k->out.exit_reason, 0x80000021u);
    ck_assert_uint_eq(k->out.qualification, 4);

    ck_set(k, VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    ck_assert_uint_eq(ck_run(k), 1);
    ck_assert_uint_eq(k->out.exit_reason, 0x80000022u);
    ck_assert_uint_eq(k->out.qualification, 2);
    ck_assert_uint_eq(k->out.value, 0xc0000100u);
    ck_fini(k);
    free(k);
}
END_TEST

/* Basic checks come before the controls; report-all goes on after 26/4/5. */
START_TEST(order_basic_before_controls)
{
    ck_t *k = malloc(sizeof(*k));
    const ck_mu_t mu[] = {IN(MOVSS, 1), IN(LAUNCHED, 1), SET(PIN_BASED_VM_EXEC_CONTROL, 0x14)};

    ck_init(k);
    ck_apply(k, mu, 3);
    ck_assert_uint_eq(ck_run(k), 3);
    ck_assert_uint_eq(k->out.vm_error, 26);
    ck_assert_uint_eq(k->fail[1].check, VCORE_VMX_CHECK_BASIC_LAUNCH_NOT_CLEAR);
    ck_assert_uint_eq(k->fail[2].check, VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0);
    /* VMfailInvalid: there is no VMCS to look at, nothing else is reported. */
    k->in.current_vmptr = VCORE_VMX_NO_VMCS;
    ck_assert_uint_eq(ck_run(k), 1);
    ck_assert_uint_eq(k->out.kind, VCORE_VMX_VMFAIL_INVALID);
    ck_fini(k);
    free(k);
}
END_TEST

/* A guest-state failure (qualification 0) is reported before a PDPTE
 * failure (qualification 2), as the SDM lists the checks. */
START_TEST(order_guest_before_pdpte)
{
    ck_t *k = malloc(sizeof(*k));
    const ck_mu_t mu[] = {BASE(ST_PAE32), MEM64(CK_PDPT, 0x60003), SET(GUEST_GDTR_LIMIT, 0x10000)};

    ck_init(k);
    ck_apply(k, mu, 3);
    ck_assert_uint_eq(ck_run(k), 2);
    ck_assert_uint_eq(k->out.check, VCORE_VMX_CHECK_GUEST_GDTR_LIMIT);
    ck_assert_uint_eq(k->out.qualification, 0);
    ck_assert_uint_eq(k->fail[1].check, VCORE_VMX_CHECK_GUEST_PDPTE0_RESERVED);
    ck_fini(k);
    free(k);
}
END_TEST

START_TEST(report_all_small_array)
{
    ck_t *k = malloc(sizeof(*k));
    vcore_vmx_verdict_t v = {.size = sizeof(v)};
    vcore_vmx_check_failure_t f[3];
    const ck_mu_t mu[] = {SET(PIN_BASED_VM_EXEC_CONTROL, 0x14), SET(HOST_CR3, 1ull << 40),
                          SET(GUEST_CR3, 1ull << 40), SET(GUEST_RFLAGS, 0)};

    ck_init(k);
    ck_apply(k, mu, 4);
    memset(f, 0xa5, sizeof(f));
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, f, 2), VCORE_OK);
    ck_assert_uint_eq(v.failures, 4); /* every failure counted */
    ck_assert_uint_eq(f[0].check, VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0);
    ck_assert_uint_eq(f[1].check, VCORE_VMX_CHECK_HOST_CR3_WIDTH);
    ck_assert_uint_eq(f[2].check, 0xa5a5a5a5u); /* past the capacity: untouched */
    /* Count only. */
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, f, 0), VCORE_OK);
    ck_assert_uint_eq(v.failures, 4);
    ck_assert_uint_eq(v.check, VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0);
    ck_fini(k);
    free(k);
}
END_TEST

/* Report-all lists every failing MSR-load entry, each with its index. */
START_TEST(report_all_msr_entries)
{
    ck_t *k = malloc(sizeof(*k));
    const ck_mu_t mu[] = {MSR(0, 0xc0000081u, 0), MSR(1, 0xc0000100u, 0), MSR(2, 0x277, 0),
                          MSR(3, 0x808, 0), MSR(4, 0x277, 2)};

    ck_init(k);
    ck_apply(k, mu, 5);
    ck_assert_uint_eq(ck_run(k), 3);
    ck_assert_uint_eq(k->out.qualification, 2);
    ck_assert_uint_eq(k->fail[0].index, 2);
    ck_assert_uint_eq(k->fail[1].check, VCORE_VMX_CHECK_MSR_LOAD_X2APIC);
    ck_assert_uint_eq(k->fail[1].index, 4);
    ck_assert_uint_eq(k->fail[2].check, VCORE_VMX_CHECK_MSR_LOAD_PAT);
    ck_assert_uint_eq(k->fail[2].index, 5);
    ck_assert_uint_eq(k->fail[2].value, 2);
    ck_fini(k);
    free(k);
}
END_TEST


/* Report-all lists exactly the rules a state breaks: a rule that does not
 * apply to the state is not listed. */
typedef struct ck_exact {
    const char *name;
    ck_mu_t mu[6];
    uint32_t ids[6];
} ck_exact_t;

static const ck_exact_t ck_exact[] = {
    {"non-conforming CS above SS.DPL", {SET(GUEST_CS_AR_BYTES, 0xa0fb)}, {VCORE_VMX_CHECK_GUEST_CS_DPL_NONCONFORMING}},
    {"conforming CS above SS.DPL", {SET(GUEST_CS_AR_BYTES, 0xa0ff)}, {VCORE_VMX_CHECK_GUEST_CS_DPL_CONFORMING}},
    {"data CS with DPL 3 (unrestricted guest)", {BASE(ST_REAL_URG), SET(GUEST_CS_AR_BYTES, 0xf3)},
     {VCORE_VMX_CHECK_GUEST_CS_DPL_DATA}},
    {"MSR-store area beyond MAXPHYADDR", {SET(VM_EXIT_MSR_STORE_COUNT, 1), SET(VM_EXIT_MSR_STORE_ADDR, 1ull << 40)},
     {VCORE_VMX_CHECK_EXIT_MSR_STORE_WIDTH, VCORE_VMX_CHECK_EXIT_MSR_STORE_END}},
    {"host SS null, 64-bit host, RPL 1", {SET(HOST_SS_SELECTOR, 1)}, {VCORE_VMX_CHECK_HOST_SS_SELECTOR}},
    {"TR available 16-bit TSS", {SET(GUEST_TR_AR_BYTES, 0x81)}, {VCORE_VMX_CHECK_GUEST_TR_TYPE}},
    {"32-bit host from IA-32e mode", {ANDN(VM_EXIT_CONTROLS, 1u << 9)},
     {VCORE_VMX_CHECK_ADDR_HOST_32_L1_LONG, VCORE_VMX_CHECK_ADDR_HOST_32_IA32E_GUEST,
      VCORE_VMX_CHECK_ADDR_HOST_32_RIP_HIGH}},
    {"HLT at CPL 3 with TF", {BASE(ST_RING3), SET(GUEST_ACTIVITY_STATE, 1), SET(GUEST_RFLAGS, 0x102)},
     {VCORE_VMX_CHECK_GUEST_ACTIVITY_HLT_SS_DPL, VCORE_VMX_CHECK_GUEST_PENDDBG_BS_SET}},
};

START_TEST(report_all_exact)
{
    const ck_exact_t *e = &ck_exact[_i];
    ck_t *k = malloc(sizeof(*k));
    uint32_t n = 0;

    ck_init(k);
    ck_apply(k, e->mu, sizeof(e->mu) / sizeof(e->mu[0]));
    while (n < 6 && e->ids[n])
        n++;
    ck_assert_msg(ck_run(k) == n, "%s: %u failures, expected %u (first %#x, second %#x)", e->name,
                  k->out.failures, n, k->fail[0].check, k->out.failures > 1 ? k->fail[1].check : 0);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_msg(k->fail[i].check == e->ids[i], "%s: failure %u is %#x, expected %#x", e->name, i,
                      k->fail[i].check, e->ids[i]);
    ck_fini(k);
    free(k);
}
END_TEST

/* ---- MSR-load list ------------------------------------------------------ */

/* IA32_VMX_MISC[27:25] = N: 512 * (N + 1) entries at most. */
START_TEST(msr_load_list_limit)
{
    ck_t *k = malloc(sizeof(*k));

    ck_init(k);
    for (uint32_t i = 0; i < 1025; i++) {
        const ck_mu_t m = MSR(i, 0xc0000081u, i);
        ck_apply(k, &m, 1);
    }
    ck_set(k, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 512);
    ck_assert_uint_eq(ck_run(k), 0);
    ck_set(k, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 513);
    ck_assert_uint_eq(ck_run(k), 1);
    ck_assert_uint_eq(k->out.exit_reason, 0x80000022u);
    ck_assert_uint_eq(k->out.qualification, 513);
    ck_assert_uint_eq(k->out.check, VCORE_VMX_CHECK_MSR_LOAD_COUNT);
    k->caps.msr[VCORE_NVMX_CAP_MISC] |= 1ull << 25; /* N = 1: 1024 */
    ck_assert_uint_eq(ck_run(k), 0);
    ck_set(k, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1025);
    ck_run(k);
    ck_assert_uint_eq(k->out.qualification, 1025);
    ck_fini(k);
    free(k);
}
END_TEST

static bool ck_msr_cb(void *ctx, uint32_t index, uint64_t value)
{
    (*(uint32_t *)ctx)++;
    return index == 0x12345 && value == 7;
}

START_TEST(msr_load_vmm_callback)
{
    ck_t *k = malloc(sizeof(*k));
    uint32_t calls = 0;
    const ck_mu_t ok[] = {MSR(0, 0x12345, 7)};
    const ck_mu_t bad[] = {MSR(0, 0x12345, 8)};
    const ck_mu_t pat[] = {MSR(0, 0x277, 2)};

    ck_init(k);
    k->in.msr_writable = ck_msr_cb;
    k->in.msr_ctx = &calls;
    ck_apply(k, ok, 1);
    ck_assert_uint_eq(ck_run(k), 0);
    ck_apply(k, bad, 1);
    ck_run(k);
    ck_assert_uint_eq(k->out.check, VCORE_VMX_CHECK_MSR_LOAD_REFUSED);
    ck_assert_uint_eq(k->out.value, 8);
    /* Known MSRs are the library's business, not the callback's. */
    calls = 0;
    ck_apply(k, pat, 1);
    ck_run(k);
    ck_assert_uint_eq(k->out.check, VCORE_VMX_CHECK_MSR_LOAD_PAT);
    ck_assert_uint_eq(calls, 0);
    ck_fini(k);
    free(k);
}
END_TEST

/* ---- the snapshot contract ---------------------------------------------- */

/* Each datum of L1 memory is read once: the link-pointer header, the four
 * PDPTEs, each MSR-load entry. */
START_TEST(memory_read_once)
{
    ck_t *k = malloc(sizeof(*k));
    vcore_vmx_verdict_t v = {.size = sizeof(v)};
    const ck_mu_t mu[] = {BASE(ST_PAE32), SET(VMCS_LINK_POINTER, CK_LINK), MEM32(CK_LINK, CK_REV),
                          MSR(0, 0xc0000081u, 0), MSR(1, 0xc0000081u, 0), MSR(2, 0xc0000081u, 0)};

    ck_init(k);
    ck_apply(k, mu, 6);
    k->reads = 0;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(v.kind, VCORE_VMX_ENTRY_OK);
    ck_assert_uint_eq(k->reads, 1 + 1 + 3);
    /* Without an accessor memory reads as all ones. */
    k->in.mem = NULL;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(v.check, VCORE_VMX_CHECK_GUEST_LINK_REVISION);
    ck_assert_uint_eq(v.value, 0xffffffffu);
    ck_fini(k);
    free(k);
}
END_TEST

/* vmcs12 is copied once: changing the caller's page while the checks run
 * (here from inside the memory accessor) changes nothing. */
static ck_t *ck_mutating;
static int ck_read_and_mutate(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    ck_set(ck_mutating, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, 1);
    ck_set(ck_mutating, VCORE_VMCS_GUEST_CR3, 1ull << 45);
    memcpy(buf, ck_mutating->ram + gpa, len);
    return VCORE_OK;
}

START_TEST(vmcs12_copied_once)
{
    ck_t *k = malloc(sizeof(*k));
    vcore_vmx_verdict_t v = {.size = sizeof(v)};
    const ck_mu_t mu[] = {SET(VMCS_LINK_POINTER, CK_LINK), MEM32(CK_LINK, CK_REV), MEM64(CK_MSRS, 0xc0000100u),
                          SET(VM_ENTRY_MSR_LOAD_ADDR, CK_MSRS)};

    ck_init(k);
    ck_apply(k, mu, 4);
    ck_mutating = k;
    k->mem.read = ck_read_and_mutate;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(v.kind, VCORE_VMX_ENTRY_OK);
    /* The changed page fails when checked afresh. */
    k->mem.read = ck_read_and_mutate;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(v.check, VCORE_VMX_CHECK_GUEST_CR3_WIDTH);
    ck_fini(k);
    free(k);
}
END_TEST

/* The snapshot of a nested state: an all-zero vmcs12 fails the pin-based
 * allowed-0 settings, the VMfailValid 7 real processors give (Bochs case
 * "vmfail_empty" of the system tests records the same). */
START_TEST(input_from_nvmx)
{
    fx_t f;
    vcore_vmx_check_input_t in = {.size = sizeof(in)};
    vcore_vmx_verdict_t v = {.size = sizeof(v)};

    fx_setup(&f);
    fx_current(&f);
    ck_assert_int_eq(vcore_vmx_check_input_from_nvmx(f.n, &f.mem, 0xd01, false, false, NULL, 0, &in), VCORE_OK);
    ck_assert_ptr_eq(in.vmcs12, vcore_nvmx_vmcs12(f.n));
    ck_assert_ptr_eq(in.caps, vcore_nvmx_caps(f.n));
    ck_assert_uint_eq(in.current_vmptr, FX_VMCS_A);
    ck_assert_uint_eq(in.vmxon_ptr, FX_VMXON);
    ck_assert_uint_eq(in.maxphyaddr, 40);
    ck_assert_uint_eq(in.launch_state, 0);
    ck_assert_int_eq(vcore_vmx_check_entry(&in, &v, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(v.kind, VCORE_VMX_VMFAIL_VALID);
    ck_assert_uint_eq(v.vm_error, 7);
    ck_assert_uint_eq(v.check, VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0);
    /* Launched: VMLAUNCH fails with error 4. */
    ck_assert_int_eq(vcore_nvmx_mark_launched(f.n), VCORE_OK);
    ck_assert_int_eq(vcore_vmx_check_input_from_nvmx(f.n, NULL, 0xd01, false, false, NULL, 0, &in), VCORE_OK);
    ck_assert_uint_eq(in.launch_state, 1);
    ck_assert_int_eq(vcore_vmx_check_entry(&in, &v, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(v.vm_error, 4);
    ck_assert_int_eq(vcore_vmx_check_input_from_nvmx(NULL, NULL, 0, false, false, NULL, 0, &in), VCORE_ERR_INVAL);
    in.size = 1;
    ck_assert_int_eq(vcore_vmx_check_input_from_nvmx(f.n, NULL, 0, false, false, NULL, 0, &in), VCORE_ERR_ABI);
    fx_teardown(&f);
}
END_TEST

START_TEST(bad_arguments)
{
    ck_t *k = malloc(sizeof(*k));
    vcore_vmx_verdict_t v = {.size = sizeof(v)};

    ck_init(k);
    ck_assert_int_eq(vcore_vmx_check_entry(NULL, &v, NULL, 0), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, NULL, NULL, 0), VCORE_ERR_INVAL);
    v.size = 0;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_ABI);
    v.size = sizeof(v);
    k->in.size = 8;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_ABI);
    k->in.size = sizeof(k->in);
    k->in.maxphyaddr = 31;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_INVAL);
    k->in.maxphyaddr = 53;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_INVAL);
    k->in.maxphyaddr = 52;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_OK);
    k->in.maxphyaddr = 32;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_OK);
    k->in.ncpuid = 1;
    k->in.cpuid = NULL;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_INVAL);
    k->in.ncpuid = 0;
    k->in.vmcs12 = NULL;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_INVAL);
    k->in.vmcs12 = k->page;
    k->caps.size = 0;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_ABI);
    k->caps.size = sizeof(k->caps);
    k->mem.size = 0;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &v, NULL, 0), VCORE_ERR_ABI);
    ck_fini(k);
    free(k);
}
END_TEST

/* ---- the table ------------------------------------------------------------ */

static const char *const ck_sections[] = {
    VCORE_VMX_SEC_BASIC,     VCORE_VMX_SEC_EXEC,      VCORE_VMX_SEC_EXIT,       VCORE_VMX_SEC_ENTRY,
    VCORE_VMX_SEC_HOST_CR,   VCORE_VMX_SEC_HOST_SEG,  VCORE_VMX_SEC_ADDR,       VCORE_VMX_SEC_GUEST_CR,
    VCORE_VMX_SEC_GUEST_SEG, VCORE_VMX_SEC_GUEST_DT,  VCORE_VMX_SEC_GUEST_RIP,  VCORE_VMX_SEC_GUEST_NONREG,
    VCORE_VMX_SEC_GUEST_PDPTE, VCORE_VMX_SEC_MSR_LOAD,
};

/* Where a class sits in the architectural order (guest classes share a rank). */
static int ck_class_rank(uint32_t cls)
{
    switch (cls) {
    case VCORE_VMX_CLASS_PRE: return 0;
    case VCORE_VMX_CLASS_VMFAIL_CTL: return 1;
    case VCORE_VMX_CLASS_VMFAIL_HOST: return 2;
    case VCORE_VMX_CLASS_EXIT_GUEST:
    case VCORE_VMX_CLASS_EXIT_LINK:
    case VCORE_VMX_CLASS_EXIT_PDPTE: return 3;
    case VCORE_VMX_CLASS_EXIT_MSR_LOAD: return 4;
    default: return -1;
    }
}

START_TEST(table_api)
{
    vcore_vmx_check_info_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
    vcore_diag_t d = {.size = sizeof(d)};
    uint32_t n = vcore_vmx_check_count(), id, per_class[8] = {0};
    int rank = 0;

    ck_assert_uint_ge(n, 214);
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_int_eq(vcore_vmx_check_at(i, &a), VCORE_OK);
        ck_assert_uint_ge(a.id, 0x4000);
        ck_assert_uint_le(a.id, 0x4fff);
        ck_assert_int_eq(vcore_vmx_check_describe(a.id, &b), VCORE_OK);
        ck_assert_uint_eq(b.id, a.id);
        ck_assert_str_eq(b.name, a.name);
        /* Names are unique: the lookup by name comes back to this row. */
        ck_assert_int_eq(vcore_vmx_check_by_name(a.name, &id), VCORE_OK);
        ck_assert_uint_eq(id, a.id);
        ck_assert_ptr_nonnull(a.cls_name);
        ck_assert_str_eq(a.cls_name, vcore_vmx_check_class_name(a.cls));
        ck_assert_int_ge(ck_class_rank(a.cls), rank); /* architectural order */
        rank = ck_class_rank(a.cls);
        per_class[a.cls]++;
        ck_assert(strlen(a.message) > 10 && !strchr(a.message, '"') && !strchr(a.message, '\n'));
        bool known = false;
        for (size_t s = 0; s < sizeof(ck_sections) / sizeof(ck_sections[0]); s++)
            known = known || strcmp(a.manual, ck_sections[s]) == 0;
        ck_assert_msg(known, "%s: unknown section %s", a.name, a.manual);
        /* Check ids are diagnostic ids too. */
        ck_assert_int_eq(vcore_diag_describe(a.id, &d), VCORE_OK);
        ck_assert_str_eq(d.name, a.name);
        ck_assert(strstr(d.manual, a.manual) != NULL);
    }
    for (uint32_t c = 1; c <= 7; c++)
        ck_assert_uint_gt(per_class[c], 0);
    ck_assert_int_eq(vcore_vmx_check_at(n, &a), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_vmx_check_describe(0x1234, &a), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmx_check_describe(VCORE_VMX_CHECK_GUEST_CS_TYPE, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmx_check_at(0, NULL), VCORE_ERR_INVAL);
    a.size = 0;
    ck_assert_int_eq(vcore_vmx_check_at(0, &a), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vmx_check_describe(VCORE_VMX_CHECK_GUEST_CS_TYPE, &a), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vmx_check_by_name("NO_SUCH_CHECK", &id), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmx_check_by_name(NULL, &id), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmx_check_by_name("GUEST_CS_TYPE", NULL), VCORE_ERR_INVAL);
    ck_assert_ptr_null(vcore_vmx_check_class_name(0));
    ck_assert_ptr_null(vcore_vmx_check_class_name(8));
    ck_assert_str_eq(vcore_vmx_check_class_name(VCORE_VMX_CLASS_EXIT_MSR_LOAD), "EXIT_MSR_LOAD");
    b.size = sizeof(b);
    ck_assert_int_eq(vcore_vmx_check_describe(VCORE_VMX_CHECK_GUEST_LINK_SHADOW, &b), VCORE_OK);
    ck_assert_str_eq(b.name, "GUEST_LINK_SHADOW");
    ck_assert_str_eq(b.cls_name, "EXIT_LINK");
    ck_assert_str_eq(b.manual, "Checks on Guest Non-Register State");
}
END_TEST

/* ---- property test ---------------------------------------------------------- */

static uint64_t ck_rng = 0x9e3779b97f4a7c15ull;
static uint64_t ck_rand(void)
{
    ck_rng ^= ck_rng << 13;
    ck_rng ^= ck_rng >> 7;
    ck_rng ^= ck_rng << 17;
    return ck_rng;
}

/* Random one-to-three-field mutations of the reference states: verdict-only
 * and report-all agree, the list is in architectural order, runs are
 * deterministic (all asserted by ck_run), and single-bit flips of most
 * fields of the reference state are caught as something. */
START_TEST(random_mutations)
{
    ck_t *k = malloc(sizeof(*k));
    vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
    uint32_t nfields = vcore_vmcs_field_count(), fails = 0, runs = 3000;
    static const uint64_t interesting[] = {0, 1, 2, 0xffff, 0xffffffffu, ~0ull, 1ull << 40, 0x0000800000000000ull,
                                           0x8000000000000000ull, 0x1000, 0xfff};

    for (uint32_t r = 0; r < runs; r++) {
        ck_init(k);
        ck_state(k, (uint32_t)(ck_rand() % 5));
        for (uint32_t m = 0; m < 1 + ck_rand() % 3; m++) {
            ck_assert_int_eq(vcore_vmcs_field_at((uint32_t)(ck_rand() % nfields), &fi), VCORE_OK);
            uint64_t v;
            switch (ck_rand() % 3) {
            case 0: v = interesting[ck_rand() % (sizeof(interesting) / sizeof(interesting[0]))]; break;
            case 1: v = ck_get(k, fi.encoding) ^ (1ull << (ck_rand() % 64)); break;
            default: v = ck_rand(); break;
            }
            ck_set(k, fi.encoding, v);
        }
        if (ck_run(k) != 0)
            fails++;
        ck_fini(k);
    }
    ck_assert_uint_gt(fails, runs / 5);
    free(k);
}
END_TEST

static Suite *vmx_checks_suite(void)
{
    Suite *s = suite_create("vmx_checks");
    TCase *tc = tcase_create("cases");
    tcase_add_loop_test(tc, each_case, 0, ck_case_count());
    suite_add_tcase(s, tc);
    tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, order_control_host_guest_link_msr);
    tcase_add_test(tc, order_basic_before_controls);
    tcase_add_test(tc, order_guest_before_pdpte);
    tcase_add_test(tc, report_all_small_array);
    tcase_add_test(tc, report_all_msr_entries);
    tcase_add_loop_test(tc, report_all_exact, 0, (int)(sizeof(ck_exact) / sizeof(ck_exact[0])));
    tcase_add_test(tc, msr_load_list_limit);
    tcase_add_test(tc, msr_load_vmm_callback);
    tcase_add_test(tc, memory_read_once);
    tcase_add_test(tc, vmcs12_copied_once);
    tcase_add_test(tc, input_from_nvmx);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, table_api);
    tcase_add_test(tc, random_mutations);
    tcase_add_test(tc, every_check_is_hit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(vmx_checks_suite());
}
