/* The mock backend: scripted exits, replies, counters, fault injection, kick. */
#include <pthread.h>
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

static uint64_t rax_of(vcore_vcpu_t *v, uint32_t reg)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(v, &r), VCORE_OK);
    return r.gpr[reg];
}

START_TEST(mock_unscripted_fails_loudly)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &e), VCORE_ERR_UNSCRIPTED);
    ck_assert_uint_eq(vcore_mock_pending(env.vcpu), 0);
    ck_assert_str_eq(vcore_err_name(VCORE_ERR_UNSCRIPTED), "VCORE_ERR_UNSCRIPTED");
}
END_TEST

START_TEST(mock_script_in_order)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_OK);
    e = vcore_test_exit(VCORE_EXIT_SHUTDOWN);
    e.raw.reason = 2; /* e.g. VMX basic exit reason "triple fault" */
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_pending(env.vcpu), 2);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.raw.source, VCORE_EXIT_SRC_MOCK);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_NEEDS_REPLY, 0);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_SHUTDOWN);
    ck_assert_uint_eq(out.raw.reason, 2);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN), 2);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_ERR_UNSCRIPTED);
}
END_TEST

START_TEST(mock_push_validation)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_HLT);
    for (uint32_t i = 0; i < VCORE_MOCK_MAX_SCRIPT; i++)
        ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_OK);
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_ERR_RANGE);
    e.size = 8;
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_mock_push_exit(NULL, &e), VCORE_ERR_INVAL);
    vcore_exit_t bad = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &bad), VCORE_ERR_INVAL);
    bad = vcore_test_exit(999);
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &bad), VCORE_ERR_INVAL);
    ck_assert_uint_eq(vcore_mock_pending(NULL), 0);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, 999), 0);
    ck_assert_int_eq(vcore_mock_reset_counts(NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_mock_fail_next(env.vcpu, VCORE_MOCK_OP_KICK, -1), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_mock_fail_next(env.vcpu, VCORE_MOCK_OP_RUN, 5), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(mock_io_in_reply_reaches_rax)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(v, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0xffffffffffffffffull;
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &r), VCORE_OK);
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_IO);
    e.u.io.port = 0x60;
    e.u.io.width = 1;
    e.u.io.is_in = 1;
    e.u.io.count = 1;
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    vcore_exit_t hlt = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v, &hlt), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_NEEDS_REPLY, VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_ptr_nonnull(out.u.io.data);
    out.u.io.data[0] = 0xab; /* the VMM answers the IN */
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    /* 8-bit IN merges into AL, the rest of RAX is kept. */
    ck_assert_uint_eq(rax_of(v, VCORE_X86_RAX), 0xffffffffffffffabull);
    vcore_exit_t rep = {.size = sizeof(rep)};
    ck_assert_int_eq(vcore_mock_last_reply(v, &rep), VCORE_OK);
    ck_assert_uint_eq(rep.u.io.port, 0x60);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_REPLY), 1);
}
END_TEST

START_TEST(mock_cpuid_rdmsr_hypercall_replies)
{
    vcore_vcpu_t *v = env.vcpu;
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_CPUID);
    e.u.cpuid.function = 1;
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    e = vcore_test_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = 0x10;
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    e = vcore_test_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.nr = 0x1;
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    e = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);

    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_CPUID);
    vcore_cpuid_entry_t ans;
    ck_assert_int_eq(vcore_vcpu_cpuid_query(v, out.u.cpuid.function, 0, &ans), VCORE_OK);
    out.u.cpuid.eax = 0x11;
    out.u.cpuid.ebx = 0x22;
    out.u.cpuid.ecx = 0x33;
    out.u.cpuid.edx = 0x44;
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(rax_of(v, VCORE_X86_RBX), 0x22);
    ck_assert_uint_eq(rax_of(v, VCORE_X86_RDX), 0x44);
    out.u.msr.value = 0x1122334455667788ull;
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(rax_of(v, VCORE_X86_RAX), 0x55667788);
    ck_assert_uint_eq(rax_of(v, VCORE_X86_RDX), 0x11223344);
    out.u.hypercall.ret = 0x99;
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(rax_of(v, VCORE_X86_RAX), 0x99);
    /* A reply for the wrong exit is refused. */
    e = vcore_test_exit(VCORE_EXIT_CPUID);
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_OK);
    out.reason = VCORE_EXIT_HLT;
    ck_assert_int_eq(vcore_vcpu_run(v, &out), VCORE_ERR_STATE);
}
END_TEST

START_TEST(mock_string_out_data)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_IO);
    e.u.io.port = 0xe9;
    e.u.io.width = 1;
    e.u.io.count = 5;
    memcpy(e.raw.data, "hello", 5);
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_mem_eq(out.u.io.data, "hello", 5);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_NEEDS_REPLY, 0);
    e.u.io.width = 3;
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_ERR_INVAL);
    e.u.io.width = 4;
    e.u.io.count = 2000;
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_ERR_INVAL);
    e = vcore_test_exit(VCORE_EXIT_MMIO);
    e.u.mmio.len = 9;
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(mock_fault_injection_and_counts)
{
    vcore_vcpu_t *v = env.vcpu;
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_VM_INIT), 1);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_VCPU_INIT), 1);
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_OK);
    ck_assert_int_eq(vcore_mock_fail_next(v, VCORE_MOCK_OP_RUN, VCORE_ERR_HWFAIL), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v, &e), VCORE_ERR_HWFAIL);
    ck_assert_uint_eq(vcore_mock_pending(v), 1); /* the exit is still queued */
    ck_assert_int_eq(vcore_vcpu_run(v, &e), VCORE_OK);
    ck_assert_int_eq(vcore_mock_reset_counts(v), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_RUN), 0);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_VM_INIT), 0);
    static unsigned char page[4096] __attribute__((aligned(4096)));
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = 4096, .hva = page};
    ck_assert_int_eq(vcore_vm_map_memory(env.vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vm_unmap_memory(env.vm, 0), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_VM_MAP), 1);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_VM_UNMAP), 1);
    vcore_exit_t rep = {.size = sizeof(rep)};
    ck_assert_int_eq(vcore_mock_last_reply(v, &rep), VCORE_ERR_NOENT);
    rep.size = 1;
    ck_assert_int_eq(vcore_mock_last_reply(v, &rep), VCORE_ERR_ABI);
}
END_TEST

static void *kicker(void *arg)
{
    ck_assert_int_eq(vcore_vcpu_kick(arg), VCORE_OK);
    return NULL;
}

START_TEST(mock_kick_from_another_thread)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, kicker, env.vcpu), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_KICK), 1);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &out), VCORE_ERR_UNSCRIPTED); /* one-shot */
}
END_TEST

/* The run op of a backend that is not the mock. */
static int other_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    (void)vcpu;
    (void)priv;
    (void)exit;
    return VCORE_ERR_UNSUPPORTED;
}

START_TEST(mock_api_rejects_other_backends)
{
    /* A backend that runs vCPUs with other code is not the mock, even if it
     * shares the mock's other ops (a table copied from the mock's is still
     * the mock: its state and run are the mock's). */
    vcore_backend_t other = *vcore_backend_mock();
    other.name = "other";
    other.vcpu_run = other_run;
    other.vcpu_run_sync = NULL;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &other;
    vcore_vm_t *vm;
    vcore_vcpu_t *v;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v), VCORE_OK);
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v, &e), VCORE_ERR_INVAL);
    ck_assert_uint_eq(vcore_mock_count(v, VCORE_MOCK_OP_RUN), 0);
    vcore_vm_destroy(vm);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mock");
    TCase *tc = tcase_create("mock");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, mock_unscripted_fails_loudly);
    tcase_add_test(tc, mock_script_in_order);
    tcase_add_test(tc, mock_push_validation);
    tcase_add_test(tc, mock_io_in_reply_reaches_rax);
    tcase_add_test(tc, mock_cpuid_rdmsr_hypercall_replies);
    tcase_add_test(tc, mock_string_out_data);
    tcase_add_test(tc, mock_fault_injection_and_counts);
    tcase_add_test(tc, mock_kick_from_another_thread);
    tcase_add_test(tc, mock_api_rejects_other_backends);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
