/*
 * test_run_loop.c - what vcore_vcpu_run does between the backend and the
 * VMM: the reply contract, the exits the core completes itself (control-
 * register accesses, modelled MSRs), and the backend ABI growth rule.
 *
 * Expected values: SDM Vol. 2, "MOV-Move to/from Control Registers",
 * "CLTS", "LMSW", "RDMSR", "WRMSR"; SDM Vol. 3, "Control Registers",
 * "Initializing IA-32e Mode".
 */
#include <string.h>

#include "support.h"

static vcore_test_env_t env;

static void up(void)
{
    vcore_test_env_up(&env, VCORE_X86_VENDOR_INTEL);
}

static void down(void)
{
    vcore_test_env_down(&env);
}

static void push_exit(const vcore_exit_t *e)
{
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, e), VCORE_OK);
}

static vcore_x86_regs_t regs(void)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    return r;
}

static vcore_x86_sregs_t sregs(void)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    return s;
}

/* A CPUID table enumerating long mode, NX, PAE, PGE, OSXSAVE-capable XSAVE,
 * so CR4/EFER bits are allowed as on a real 64-bit processor. */
static void cpuid_64bit(void)
{
    vcore_cpuid_entry_t t[4];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 1;
    t[1].function = 1;
    t[1].edx = (1u << 6) | (1u << 13) | (1u << 9); /* PAE, PGE, APIC */
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000001u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 29) | (1u << 20) | (1u << 11); /* LM, NX, SYSCALL */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, t, 4), VCORE_OK);
}

/* Flat 64-bit mode: PE, PG, PAE, LME, LMA, CS.L. */
static void long_mode(void)
{
    cpuid_64bit();
    vcore_x86_sregs_t s = sregs();
    s.cr0 = 0x80000011u; /* PG, ET, PE */
    s.cr4 = 1u << 5;     /* PAE */
    s.efer = (1u << 8) | (1u << 10);
    s.cr3 = 0x1000;
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++) {
        if (i == VCORE_X86_LDTR || i == VCORE_X86_TR)
            continue;
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffffu;
        s.seg[i].ar = 0x3u | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    }
    s.seg[VCORE_X86_CS].ar = 0xbu | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_L | VCORE_X86_AR_G;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.rip = 0x100000;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
}

/* ------------------------------------------------------------ reply contract */

START_TEST(reply_must_match)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_CPUID);
    push_exit(&e);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert(out.flags & VCORE_EXIT_F_NEEDS_REPLY);
    uint64_t runs = vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN);
    /* A different exit structure (a zeroed one): refused, nothing ran. */
    vcore_exit_t other = vcore_test_exit(VCORE_EXIT_IO);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &other), VCORE_ERR_STATE);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EXIT_REPLY_MISMATCH);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN), runs);
    /* The right one still completes the instruction. */
    out.u.cpuid.eax = 0x1234;
    push_exit(&e);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x1234);
    /* An exit without reply: the next run takes any structure. */
    e = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&e);
    vcore_exit_t any = vcore_test_exit(VCORE_EXIT_NONE);
    out.u.cpuid.eax = 0;
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK); /* answers the CPUID */
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    push_exit(&e);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &any), VCORE_OK);
}
END_TEST

START_TEST(reset_forgets_the_pending_reply)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = 0x40000000u; /* not modelled: the VMM sees it */
    push_exit(&e);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
    ck_assert_int_eq(vcore_vcpu_reset(env.vcpu), VCORE_OK);
    e = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&e);
    vcore_exit_t fresh = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &fresh), VCORE_OK);
}
END_TEST

/* ------------------------------------------------------------------- MSRs */

START_TEST(msr_modelled_answered_by_core)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = VCORE_MSR_IA32_PAT;
    push_exit(&e);
    e = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&e);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    /* The VMM sees only the HLT; the guest got PAT's power-up value. */
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_exit_t reply = {.size = sizeof(reply)};
    ck_assert_int_eq(vcore_mock_last_reply(env.vcpu, &reply), VCORE_OK);
    ck_assert_uint_eq(reply.u.msr.value, VCORE_PAT_DEFAULT);
    ck_assert_uint_eq(reply.u.msr.error, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], (uint32_t)VCORE_PAT_DEFAULT);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RDX], VCORE_PAT_DEFAULT >> 32);
}
END_TEST

START_TEST(msr_write_refused_is_gp)
{
    /* WRMSR PAT with a reserved memory type (2): #GP(0), nothing changes. */
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_WRMSR);
    e.u.msr.index = VCORE_MSR_IA32_PAT;
    e.u.msr.value = 0x0202020202020202ull;
    push_exit(&e);
    e = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&e);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(env.vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 13);
    uint64_t pat;
    ck_assert_int_eq(vcore_vcpu_get_msr(env.vcpu, VCORE_MSR_IA32_PAT, &pat), VCORE_OK);
    ck_assert_uint_eq(pat, VCORE_PAT_DEFAULT);
    /* An accepted write lands in the model. */
    e = vcore_test_exit(VCORE_EXIT_WRMSR);
    e.u.msr.index = VCORE_MSR_IA32_PAT;
    e.u.msr.value = 0x0606060606060606ull;
    push_exit(&e);
    e = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&e);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(env.vcpu, VCORE_MSR_IA32_PAT, &pat), VCORE_OK);
    ck_assert_uint_eq(pat, 0x0606060606060606ull);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 1);
}
END_TEST

START_TEST(msr_not_modelled_reaches_vmm)
{
    static const uint32_t idx[] = {VCORE_MSR_IA32_TSC, 0x40000000u, 0x38f /* IA32_PERF_GLOBAL_CTRL */};
    for (size_t i = 0; i < 3; i++) {
        vcore_exit_t e = vcore_test_exit(VCORE_EXIT_RDMSR);
        e.u.msr.index = idx[i];
        push_exit(&e);
        vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
        if (i)
            out = vcore_test_exit(VCORE_EXIT_RDMSR);
        ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
        ck_assert_uint_eq(out.u.msr.index, idx[i]);
    }
}
END_TEST

START_TEST(msr_smbase_outside_smm_is_gp)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = VCORE_MSR_IA32_SMBASE;
    push_exit(&e);
    e = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&e);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(env.vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 13);
}
END_TEST

START_TEST(msr_efer_lma_is_read_only)
{
    long_mode();
    /* WRMSR EFER = SCE | LME (LMA clear in the value): LMA stays 1. */
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_WRMSR);
    e.u.msr.index = VCORE_MSR_IA32_EFER;
    e.u.msr.value = (1u << 0) | (1u << 8);
    push_exit(&e);
    e = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&e);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(sregs().efer, (1u << 0) | (1u << 8) | (1u << 10));
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 0);
}
END_TEST

/* --------------------------------------------------------------- CR access */

static vcore_exit_t cr_exit(uint8_t cr, uint8_t type, uint8_t gpr, uint32_t len)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_CR_ACCESS);
    e.u.cr.cr = cr;
    e.u.cr.type = type;
    e.u.cr.gpr = gpr;
    e.u.cr.insn_len = len;
    return e;
}

/* Runs one CR exit followed by HLT; returns how many #GP were delivered. */
static uint64_t run_cr(vcore_exit_t e)
{
    push_exit(&e);
    vcore_exit_t h = vcore_test_exit(VCORE_EXIT_HLT);
    push_exit(&h);
    uint64_t before = vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    return vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION) - before;
}

static void set_gpr(uint32_t g, uint64_t v)
{
    vcore_x86_regs_t r = regs();
    r.gpr[g] = v;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
}

START_TEST(cr4_write_completes_and_advances)
{
    long_mode();
    set_gpr(VCORE_X86_RBX, (1u << 5) | (1u << 7)); /* PAE | PGE */
    ck_assert_uint_eq(run_cr(cr_exit(4, 0, VCORE_X86_RBX, 3)), 0);
    ck_assert_uint_eq(sregs().cr4, (1u << 5) | (1u << 7));
    ck_assert_uint_eq(regs().rip, 0x100003);
}
END_TEST

START_TEST(cr4_hidden_feature_is_gp)
{
    long_mode();
    /* SMEP (bit 20) is not in this vCPU's CPUID: #GP(0), CR4 and RIP unchanged. */
    set_gpr(VCORE_X86_RAX, (1u << 5) | (1u << 20));
    ck_assert_uint_eq(run_cr(cr_exit(4, 0, VCORE_X86_RAX, 3)), 1);
    ck_assert_uint_eq(sregs().cr4, 1u << 5);
    ck_assert_uint_eq(regs().rip, 0x100000);
    ck_assert_diag(env.vcpu, VCORE_DIAG_CR4_RESERVED);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(env.vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 13);
    ck_assert_uint_eq(ev.error_code, 0);
}
END_TEST

START_TEST(cr0_pg_with_lme_without_pae_is_gp)
{
    cpuid_64bit();
    /* 32-bit protected mode without paging, EFER.LME = 1, CR4.PAE = 0. */
    vcore_x86_sregs_t s = sregs();
    s.cr0 = 0x11;
    s.efer = 1u << 8;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    set_gpr(VCORE_X86_RCX, 0x80000011u);
    ck_assert_uint_eq(run_cr(cr_exit(0, 0, VCORE_X86_RCX, 3)), 1);
    s = sregs();
    ck_assert_uint_eq(s.cr0, 0x11);
    ck_assert_uint_eq(s.efer, 1u << 8); /* LMA not set */
    /* With PAE the same write activates IA-32e mode. */
    s.cr4 = 1u << 5;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(run_cr(cr_exit(0, 0, VCORE_X86_RCX, 3)), 0);
    ck_assert_uint_eq(sregs().efer, (1u << 8) | (1u << 10));
}
END_TEST

START_TEST(cr0_pg_clear_in_64bit_mode_is_gp)
{
    long_mode();
    set_gpr(VCORE_X86_RAX, 0x11);
    ck_assert_uint_eq(run_cr(cr_exit(0, 0, VCORE_X86_RAX, 3)), 1);
    ck_assert_diag(env.vcpu, VCORE_DIAG_CR0_PG_CLEAR_64BIT);
    ck_assert_uint_eq(sregs().cr0, 0x80000011u);
}
END_TEST

START_TEST(clts_lmsw_and_reads)
{
    cpuid_64bit();
    vcore_x86_sregs_t s = sregs();
    s.cr0 = 0x11 | (1u << 3); /* PE, ET, TS */
    s.cr3 = 0x5000;
    s.cr8 = 7;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(run_cr(cr_exit(0, 2, 0, 2)), 0); /* CLTS */
    ck_assert_uint_eq(sregs().cr0 & (1u << 3), 0);
    /* LMSW loads MP, EM, TS and can set PE but not clear it. */
    vcore_exit_t e = cr_exit(0, 3, 0, 3);
    e.u.cr.lmsw_source = 0x000e; /* PE = 0, MP, EM, TS = 1 */
    ck_assert_uint_eq(run_cr(e), 0);
    ck_assert_uint_eq(sregs().cr0 & 0xf, 0xf);
    /* MOV from CR3 / CR8. */
    ck_assert_uint_eq(run_cr(cr_exit(3, 1, VCORE_X86_RDX, 3)), 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RDX], 0x5000);
    ck_assert_uint_eq(run_cr(cr_exit(8, 1, VCORE_X86_RSI, 4)), 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RSI], 7);
    /* Outside 64-bit mode RIP wraps at 32 bits. */
    vcore_x86_regs_t r = regs();
    r.rip = 0xfffffffeu;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(run_cr(cr_exit(0, 2, 0, 2)), 0);
    ck_assert_uint_eq(regs().rip, 0);
}
END_TEST

START_TEST(completion_ends_sti_blocking)
{
    long_mode();
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(env.vcpu, &ev), VCORE_OK);
    ev.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(run_cr(cr_exit(3, 1, VCORE_X86_RAX, 3)), 0);
    ck_assert_int_eq(vcore_vcpu_get_events(env.vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.movss_blocking, 0);
}
END_TEST

/* ------------------------------------------------------------ ABI growth */

START_TEST(backend_v1_sized_table)
{
    vcore_backend_t be = *vcore_backend_mock();
    be.size = VCORE_BACKEND_SIZE_V1;
    /* Whatever follows the first published members must be ignored. */
    be.state_groups = 0x5a5a5a5a;
    be.vmcs_enter = NULL;
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_OK);
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &be;
    vcore_vm_t *vm;
    vcore_vcpu_t *v;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v), VCORE_OK);
    /* No event group and no VMCS ops in a version-1 table. */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(v), VCORE_ERR_UNSUPPORTED);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.id = 1;
    vc.nested = VCORE_NESTED_VMX;
    vcore_vcpu_t *v2;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &v2), VCORE_ERR_RANGE); /* max_vcpus 1 */
    vcore_vm_destroy(vm);
    cfg.max_vcpus = 2;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &v2), VCORE_ERR_UNSUPPORTED);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vm_last_diag(vm, &d), VCORE_OK); /* a refused vCPU reports on its VM */
    ck_assert_uint_eq(d.id, VCORE_DIAG_NESTED_UNSUPPORTED);
    vcore_vm_destroy(vm);
    /* Smaller than version 1: refused. */
    be.size = VCORE_BACKEND_SIZE_V1 - 1;
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_ERR_ABI);
}
END_TEST

START_TEST(backend_validate_rules)
{
    vcore_backend_t be = *vcore_backend_mock();
    be.vcpu_priv_size = SIZE_MAX - 8;
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_ERR_INVAL);
    be = *vcore_backend_mock();
    be.vm_priv_size = SIZE_MAX / 2;
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_ERR_INVAL);
    be = *vcore_backend_mock();
    be.vmcs_read = NULL; /* the VMCS group is all or nothing */
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_ERR_INVAL);
    be = *vcore_backend_mock();
    be.abi_version = 1;
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_ERR_ABI);
    be = *vcore_backend_mock();
    be.size = sizeof(be) + 64; /* a newer, bigger table: accepted */
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_OK);
}
END_TEST

START_TEST(storage_sizes)
{
    size_t plain, nested;
    ck_assert_int_eq(vcore_vcpu_storage_size(env.vm, &plain), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    ck_assert_int_eq(vcore_vcpu_config_storage_size(env.vm, &vc, &nested), VCORE_OK);
    ck_assert_uint_ge(nested, plain + vcore_nvmx_storage_size());
    vc.nested = 7;
    ck_assert_int_eq(vcore_vcpu_config_storage_size(env.vm, &vc, &nested), VCORE_ERR_INVAL);
    /* A configuration from an older header (no nested members) is accepted. */
    vcore_vcpu_config_init(&vc);
    vc.size = VCORE_VCPU_CONFIG_SIZE_V1;
    vc.nested = VCORE_NESTED_VMX; /* past its size: ignored */
    ck_assert_int_eq(vcore_vcpu_config_storage_size(env.vm, &vc, &nested), VCORE_OK);
    ck_assert_uint_eq(nested, plain);
    vc.size = VCORE_VCPU_CONFIG_SIZE_V1 - 1;
    ck_assert_int_eq(vcore_vcpu_config_storage_size(env.vm, &vc, &nested), VCORE_ERR_ABI);
}
END_TEST

START_TEST(diag_never_null)
{
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(env.vcpu, &d), VCORE_OK);
    ck_assert_ptr_nonnull(d.name);
    ck_assert_ptr_nonnull(d.message);
    ck_assert_str_eq(d.name, "NONE");
    ck_assert_int_eq(vcore_vm_last_diag(env.vm, &d), VCORE_OK);
    ck_assert_ptr_nonnull(d.name);
    ck_assert_ptr_nonnull(d.message);
}
END_TEST

START_TEST(map_rejects_wrapping_host_range)
{
    vcore_mem_region_t r = {sizeof(r), 0, 0x2000, (void *)(uintptr_t)(UINTPTR_MAX & ~0xfffull), 0};
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_ERR_INVAL);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vm_last_diag(env.vm, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_MEM_ALIGN);
}
END_TEST

static Suite *run_loop_suite(void)
{
    Suite *s = suite_create("run_loop");
    TCase *tc = tcase_create("reply");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, reply_must_match);
    tcase_add_test(tc, reset_forgets_the_pending_reply);
    suite_add_tcase(s, tc);
    tc = tcase_create("msr");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, msr_modelled_answered_by_core);
    tcase_add_test(tc, msr_write_refused_is_gp);
    tcase_add_test(tc, msr_not_modelled_reaches_vmm);
    tcase_add_test(tc, msr_smbase_outside_smm_is_gp);
    tcase_add_test(tc, msr_efer_lma_is_read_only);
    suite_add_tcase(s, tc);
    tc = tcase_create("cr");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, cr4_write_completes_and_advances);
    tcase_add_test(tc, cr4_hidden_feature_is_gp);
    tcase_add_test(tc, cr0_pg_with_lme_without_pae_is_gp);
    tcase_add_test(tc, cr0_pg_clear_in_64bit_mode_is_gp);
    tcase_add_test(tc, clts_lmsw_and_reads);
    tcase_add_test(tc, completion_ends_sti_blocking);
    suite_add_tcase(s, tc);
    tc = tcase_create("abi");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, backend_v1_sized_table);
    tcase_add_test(tc, backend_validate_rules);
    tcase_add_test(tc, storage_sizes);
    tcase_add_test(tc, diag_never_null);
    tcase_add_test(tc, map_rejects_wrapping_host_range);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(run_loop_suite());
}
