/*
 * test_hyperv_kick.c - PV IPI and PV TLB flush to a vCPU that is in guest
 * mode on another thread: the caller must kick it (TLFS: the IPI is sent
 * now; "by the time control returns back to the caller, the observable
 * effects of all flushes ... have occurred"), and a flush must not return
 * before that vCPU left guest mode.
 *
 * The backend is the mock with its run and kick ops wrapped: vCPU 1's run
 * blocks "in guest mode" until it is kicked (or 5 s pass: then the test
 * fails instead of hanging); vCPU 0's run produces a VMCALL exit, then HLT.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "support.h"

static vcore_backend_t be;
static const vcore_backend_t *mock;
static vcore_vm_t *vm;
static vcore_vcpu_t *v0, *v1;
static uint8_t ram[0x4000] __attribute__((aligned(4096)));
static int entered, kicked, released, caller_runs;
static int order_flag; /* 1 once vCPU 1 left guest mode */

static int test_kick(vcore_vcpu_t *vcpu, void *priv)
{
    (void)priv;
    if (vcore_vcpu_id(vcpu) == 1)
        __atomic_add_fetch(&kicked, 1, __ATOMIC_SEQ_CST);
    return VCORE_OK;
}

static int test_run(vcore_vcpu_t *vcpu, void *priv, vcore_exit_t *exit)
{
    (void)priv;
    memset(&exit->u, 0, sizeof(exit->u));
    exit->flags = 0;
    if (vcore_vcpu_id(vcpu) == 1) {
        __atomic_store_n(&entered, 1, __ATOMIC_SEQ_CST);
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (!__atomic_load_n(&kicked, __ATOMIC_SEQ_CST)) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if (t.tv_sec - t0.tv_sec > 5)
                return VCORE_ERR_HWFAIL; /* never kicked */
        }
        __atomic_store_n(&order_flag, 1, __ATOMIC_SEQ_CST);
        exit->reason = VCORE_EXIT_INTERRUPTED;
        return VCORE_OK;
    }
    if (caller_runs++ == 0) {
        exit->reason = VCORE_EXIT_HYPERCALL;
        exit->flags = VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.hypercall.insn_len = 3;
        return VCORE_OK;
    }
    /* The reply of the VMCALL arrived: the caller's guest resumes only now. */
    __atomic_store_n(&released, __atomic_load_n(&order_flag, __ATOMIC_SEQ_CST) + 1, __ATOMIC_SEQ_CST);
    exit->reason = VCORE_EXIT_HLT;
    return VCORE_OK;
}

static void *target_thread(void *arg)
{
    (void)arg;
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    int err = vcore_vcpu_run(v1, &e);
    return (void *)(intptr_t)(err == VCORE_OK && e.reason == VCORE_EXIT_INTERRUPTED ? 1 : 0);
}

static void up(void)
{
    mock = vcore_backend_mock();
    be = *mock;
    be.vcpu_run = test_run;
    be.vcpu_run_sync = NULL; /* runs go through test_run */
    be.vcpu_kick = test_kick;
    vcore_vm_config_t vc;
    vcore_vm_config_init(&vc);
    vc.backend = &be;
    vc.max_vcpus = 2;
    ck_assert_int_eq(vcore_vm_create(&vc, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(vm, NULL), VCORE_OK);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = sizeof(ram), .hva = ram};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v0), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v1), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v0, VCORE_HV_MSR_GUEST_OS_ID, 1), VCORE_OK);
    /* vCPU 0: 32-bit protected mode, CPL 0. */
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(v0, &s), VCORE_OK);
    s.cr0 = 0x11;
    s.seg[VCORE_X86_CS].ar = 0xbu | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_DB;
    s.seg[VCORE_X86_SS].ar = 0x3u | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_DB;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v0, &s), VCORE_OK);
    entered = kicked = released = caller_runs = order_flag = 0;
}

static void down(void)
{
    vcore_vm_destroy(vm);
}

/* vCPU 1 runs on a thread of its own; vCPU 0 makes the call (32-bit:
 * input value EDX:EAX, input EBX:ECX, output EDI:ESI) once vCPU 1 is in
 * guest mode. */
static void call_while_target_runs(uint64_t cw, uint64_t input, uint64_t output)
{
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, target_thread, NULL), 0);
    while (!__atomic_load_n(&entered, __ATOMIC_SEQ_CST))
        ;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(v0, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = (uint32_t)cw;
    r.gpr[VCORE_X86_RDX] = cw >> 32;
    r.gpr[VCORE_X86_RCX] = (uint32_t)input;
    r.gpr[VCORE_X86_RBX] = input >> 32;
    r.gpr[VCORE_X86_RSI] = (uint32_t)output;
    r.gpr[VCORE_X86_RDI] = output >> 32;
    ck_assert_int_eq(vcore_vcpu_set_regs(v0, &r), VCORE_OK);
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    ck_assert_int_eq(vcore_vcpu_run(v0, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    void *ok = NULL;
    ck_assert_int_eq(pthread_join(t, &ok), 0);
    ck_assert_msg(ok == (void *)1, "the target was never kicked out of guest mode");
    ck_assert_int_eq(kicked, 1);
}

START_TEST(ipi_kicks_running_target)
{
    /* Fast: Vector in ECX, ProcessorMask in EDI:ESI (VP 1). */
    call_while_target_runs(0x000b | (1u << 16), 0x45, 0x2);
    uint64_t p[4];
    ck_assert_int_eq(vcore_hv_pending_vectors(v1, p), VCORE_OK);
    ck_assert_uint_eq(p[1], 1ull << (0x45 - 64));
}
END_TEST

START_TEST(flush_waits_for_running_target)
{
    uint64_t in[3] = {0, 0, 0x2}; /* AddressSpace, Flags, ProcessorMask: VP 1 */
    memcpy(ram + 0x1000, in, sizeof(in));
    call_while_target_runs(0x0002, 0x1000, 0);
    /* The caller's guest resumed only after vCPU 1 had left guest mode. */
    ck_assert_int_eq(released, 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hyperv_kick");
    TCase *t = tcase_create("kick");
    tcase_add_checked_fixture(t, up, down);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, ipi_kicks_running_target);
    tcase_add_test(t, flush_waits_for_running_target);
    suite_add_tcase(s, t);
    return vcore_test_run(s);
}
