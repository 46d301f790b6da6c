/*
 * test_events.c - event injection through the public API on the mock:
 * exceptions (vectors, error codes, payloads, the double-fault table),
 * external interrupts and NMIs with their windows, the event-state checks.
 *
 * Expected values come from SDM Vol. 3: "Exception and Interrupt Reference"
 * (which vectors push an error code), "Interrupt 8-Double Fault Exception
 * (#DF)" (table "Conditions for Generating a Double Fault"), "Event
 * Injection", "Interruptibility State", "NMI Handling While in SMM" / "NMI".
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

static void push(uint32_t reason)
{
    vcore_exit_t e = vcore_test_exit(reason);
    ck_assert_int_eq(vcore_mock_push_exit(env.vcpu, &e), VCORE_OK);
}

static vcore_exit_t run(void)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &e), VCORE_OK);
    return e;
}

/* Puts the vCPU in flat 32-bit protected mode with RFLAGS.IF as given. */
static void protected_mode(bool intr_enabled)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    s.cr0 |= 1; /* PE */
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++) {
        if (i == VCORE_X86_LDTR || i == VCORE_X86_TR)
            continue;
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffffu;
        s.seg[i].ar = (i == VCORE_X86_CS ? 0xbu : 0x3u) | VCORE_X86_AR_S | VCORE_X86_AR_P |
                      VCORE_X86_AR_DB | VCORE_X86_AR_G;
    }
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    r.rflags = 2u | (intr_enabled ? (1u << 9) : 0u);
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
}

static vcore_mock_event_t last_event(void)
{
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(env.vcpu, &ev), VCORE_OK);
    return ev;
}

static vcore_x86_events_t events(void)
{
    vcore_x86_events_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_get_events(env.vcpu, &e), VCORE_OK);
    return e;
}

/* ------------------------------------------------------------ exceptions */

START_TEST(exception_gp_with_error_code)
{
    protected_mode(false);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 13, true, 0x1234, 0), VCORE_OK);
    vcore_x86_events_t e = events();
    ck_assert_uint_eq(e.exception_pending, 1);
    ck_assert_uint_eq(e.exception_vector, 13);
    push(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_event_t ev = last_event();
    ck_assert_uint_eq(ev.kind, VCORE_MOCK_OP_DELIVER_EXCEPTION);
    ck_assert_uint_eq(ev.vector, 13);
    ck_assert_uint_eq(ev.has_error_code, 1);
    ck_assert_uint_eq(ev.error_code, 0x1234);
    /* Delivered: nothing pending any more. */
    e = events();
    ck_assert_uint_eq(e.exception_pending | e.exception_injected, 0);
}
END_TEST

START_TEST(exception_pf_payload_is_cr2)
{
    protected_mode(false);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 14, true, 2, 0xdead0000u), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    vcore_mock_event_t ev = last_event();
    ck_assert_uint_eq(ev.vector, 14);
    ck_assert_uint_eq(ev.error_code, 2);
    /* "Interrupt 14-Page-Fault Exception": CR2 holds the address at delivery. */
    ck_assert_uint_eq(ev.cr2, 0xdead0000u);
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(s.cr2, 0xdead0000u);
}
END_TEST

START_TEST(exception_real_mode_has_no_error_code)
{
    /* RESET state: CR0.PE = 0. */
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 13, true, 7, 0), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    vcore_mock_event_t ev = last_event();
    ck_assert_uint_eq(ev.vector, 13);
    ck_assert_uint_eq(ev.has_error_code, 0);
}
END_TEST

START_TEST(exception_db_payload_sets_dr6)
{
    protected_mode(false);
    /* B1 set from an earlier breakpoint; BD set too. */
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(env.vcpu, &d), VCORE_OK);
    d.dr6 = 0xffff0ff0ull | (1u << 1) | (1u << 13);
    ck_assert_int_eq(vcore_vcpu_set_dregs(env.vcpu, &d), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 1, false, 0, (1u << 14) | (1u << 2)), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    ck_assert_int_eq(vcore_vcpu_get_dregs(env.vcpu, &d), VCORE_OK);
    /* "Debug Status Register (DR6)": B0-B3 may be cleared and the exception's
     * conditions set (B2, BS); BD is never cleared by the processor; the
     * reserved-as-1 bits stay 1 and bit 12 stays 0. */
    ck_assert_uint_eq(d.dr6, 0xffff0ff0ull | (1u << 2) | (1u << 13) | (1u << 14));
    /* A payload with bit 16 (RTM, pending-debug layout) clears the active-low DR6.RTM. */
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 1, false, 0, (1u << 16) | (1u << 12)), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    ck_assert_int_eq(vcore_vcpu_get_dregs(env.vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr6 & (1u << 16), 0);
    ck_assert_uint_eq(d.dr6 & (1u << 12), 0);
}
END_TEST

START_TEST(waiting_event_costs_no_state_write)
{
    protected_mode(false); /* IF = 0: the interrupt waits for its window */
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x30), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    push(VCORE_EXIT_HLT);
    uint64_t sets = vcore_mock_count(env.vcpu, VCORE_MOCK_OP_SET_STATE);
    run();
    /* Nothing changed in the event state: no write to the backend. */
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_SET_STATE), sets);
    /* The VMM withdraws the interrupt: the core's window closes with it. */
    vcore_x86_events_t e = events();
    e.interrupt_pending = 0;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    r.rflags |= 1u << 9;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
    push(VCORE_EXIT_HLT);
    uint64_t runs = vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN), runs + 1); /* no window exit */
}
END_TEST

/* Vectors: 0-31 except 2 (NMI), 15, 22-27, 31; error codes exactly for 8, 10-14, 17, 21. */
static const struct {
    uint8_t vector;
    bool ec;
    int result;
    uint32_t diag;
} vec_cases[] = {
    {0, false, VCORE_OK, 0},
    {2, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_VECTOR_INVALID},
    {6, false, VCORE_OK, 0},
    {6, true, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_ERROR_CODE},
    {8, true, VCORE_OK, 0},
    {8, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_ERROR_CODE},
    {9, false, VCORE_OK, 0},
    {10, true, VCORE_OK, 0},
    {13, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_ERROR_CODE},
    {15, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_VECTOR_INVALID},
    {16, false, VCORE_OK, 0},
    {17, true, VCORE_OK, 0},
    {18, false, VCORE_OK, 0},
    {20, false, VCORE_OK, 0},
    {21, true, VCORE_OK, 0},
    {22, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_VECTOR_INVALID},
    {27, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_VECTOR_INVALID},
    {28, false, VCORE_OK, 0},
    {31, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_VECTOR_INVALID},
    {32, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_VECTOR_INVALID},
    {255, false, VCORE_ERR_INVAL, VCORE_DIAG_EVENT_VECTOR_INVALID},
};

START_TEST(exception_vector_rules)
{
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, vec_cases[_i].vector, vec_cases[_i].ec, 0, 0),
                     vec_cases[_i].result);
    if (vec_cases[_i].result != VCORE_OK) {
        ck_assert_diag(env.vcpu, vec_cases[_i].diag);
        vcore_x86_events_t e = events();
        ck_assert_uint_eq(e.exception_pending, 0); /* nothing changed */
    }
}
END_TEST

/* "Conditions for Generating a Double Fault": (first, second) -> what is delivered. */
static const struct {
    uint8_t first, second;
    uint8_t delivered; /* 8 = #DF(0) */
} df_cases[] = {
    {13, 11, 8},  /* contributory + contributory */
    {0, 12, 8},   /* #DE + #SS */
    {14, 14, 8},  /* page fault + page fault */
    {14, 13, 8},  /* page fault + contributory */
    {13, 14, 14}, /* contributory + page fault: serially (the #PF) */
    {1, 13, 13},  /* benign + contributory: serially */
    {13, 6, 6},   /* contributory + benign: serially */
    {14, 6, 6},   /* page fault + benign: serially */
    {21, 13, 8},  /* #CP is contributory */
};

static bool has_ec(uint8_t v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21;
}

START_TEST(exception_double_fault_table)
{
    protected_mode(false);
    uint8_t a = df_cases[_i].first, b = df_cases[_i].second;
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, a, has_ec(a), 5, 0x1000), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, b, has_ec(b), 9, 0x2000), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    vcore_mock_event_t ev = last_event();
    ck_assert_uint_eq(ev.vector, df_cases[_i].delivered);
    if (df_cases[_i].delivered == 8) {
        ck_assert_uint_eq(ev.has_error_code, 1);
        ck_assert_uint_eq(ev.error_code, 0); /* #DF pushes 0 */
    } else {
        ck_assert_uint_eq(ev.error_code, has_ec(b) ? 9 : 0);
    }
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 1);
}
END_TEST

START_TEST(exception_after_df_is_shutdown)
{
    protected_mode(false);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 13, true, 0, 0), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 13, true, 0, 0), VCORE_OK); /* -> #DF */
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 14, true, 0, 0), VCORE_OK); /* -> shutdown */
    push(VCORE_EXIT_HLT);
    uint64_t runs = vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_SHUTDOWN);
    /* The guest did not run: the scripted exit is still there. */
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN), runs);
    ck_assert_uint_eq(vcore_mock_pending(env.vcpu), 1);
    vcore_x86_events_t e = events();
    ck_assert_uint_eq(e.exception_pending | e.exception_injected, 0);
}
END_TEST

/* -------------------------------------------------------------- interrupts */

START_TEST(interrupt_delivered_when_if_set)
{
    protected_mode(true);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x30), VCORE_OK);
    push(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_event_t ev = last_event();
    ck_assert_uint_eq(ev.kind, VCORE_MOCK_OP_DELIVER_INTERRUPT);
    ck_assert_uint_eq(ev.vector, 0x30);
    ck_assert_uint_eq(ev.has_error_code, 0);
}
END_TEST

START_TEST(interrupt_waits_for_the_window)
{
    protected_mode(false); /* RFLAGS.IF = 0 */
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x41), VCORE_OK);
    push(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_INTERRUPT), 0);
    vcore_x86_events_t e = events();
    ck_assert_uint_eq(e.interrupt_pending, 1);
    /* The window is the core's own: the VMM does not see it as its request. */
    ck_assert_uint_eq(e.request_interrupt_window, 0);
    /* The guest sets IF: the window opens, the core completes that exit
     * itself and delivers; the VMM sees the next scripted exit. */
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    r.rflags |= 1u << 9;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
    push(VCORE_EXIT_INIT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_INIT);
    vcore_mock_event_t ev = last_event();
    ck_assert_uint_eq(ev.kind, VCORE_MOCK_OP_DELIVER_INTERRUPT);
    ck_assert_uint_eq(ev.vector, 0x41);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_RUN), 3); /* HLT, window, IO */
}
END_TEST

START_TEST(interrupt_blocked_by_sti)
{
    protected_mode(true);
    vcore_x86_events_t e = events();
    e.sti_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x50), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_INTERRUPT), 0);
    e = events();
    e.sti_blocking = 0;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_INTERRUPT), 1);
    ck_assert_uint_eq(last_event().vector, 0x50);
}
END_TEST

START_TEST(interrupt_rules)
{
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 15), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_INTERRUPT_VECTOR);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 16), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x20), VCORE_ERR_BUSY);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_BUSY);
    ck_assert_uint_eq(events().interrupt_vector, 16);
}
END_TEST

START_TEST(exception_goes_before_interrupt)
{
    protected_mode(true);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x60), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 6, false, 0, 0), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    /* "Priority Among Concurrent Events": the exception is delivered
     * first; the interrupt waits for its window, which (IF = 1 in the
     * mock's handler) opens right after, so it follows: the last event
     * delivered is the interrupt, and each was delivered once. */
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 1);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_INTERRUPT), 1);
    ck_assert_uint_eq(last_event().vector, 0x60);
}
END_TEST

START_TEST(vmm_interrupt_window)
{
    protected_mode(true);
    vcore_x86_events_t e = events();
    e.request_interrupt_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(events().request_interrupt_window, 1);
    /* IF = 1 and no blocking: the window is open at once; the VMM asked, so it sees it. */
    ck_assert_uint_eq(run().reason, VCORE_EXIT_IRQ_WINDOW);
    ck_assert_uint_eq(events().request_interrupt_window, 0); /* one-shot */
}
END_TEST

/* --------------------------------------------------------------------- NMI */

START_TEST(nmi_delivered_then_blocked)
{
    protected_mode(false); /* IF does not block NMIs */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(env.vcpu), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    vcore_mock_event_t ev = last_event();
    ck_assert_uint_eq(ev.kind, VCORE_MOCK_OP_DELIVER_NMI);
    ck_assert_uint_eq(ev.vector, 2);
    /* The NMI handler runs: NMIs are blocked until its IRET. */
    ck_assert_uint_eq(events().nmi_masked, 1);
    /* Two more NMIs while blocked: one is latched, the other is lost. */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(env.vcpu), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(env.vcpu), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_NMI), 1);
    ck_assert_uint_eq(events().nmi_pending, 1);
    /* IRET (the VMM models it here): the NMI window opens, the core delivers. */
    vcore_x86_events_t e = events();
    e.nmi_masked = 0;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    push(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_NMI), 2);
    push(VCORE_EXIT_HLT);
    run();
    /* No third NMI: the one that was neither delivered nor latched is lost. */
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_NMI), 2);
}
END_TEST

START_TEST(nmi_blocked_by_mov_ss)
{
    protected_mode(true);
    vcore_x86_events_t e = events();
    e.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(env.vcpu), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_NMI), 0);
}
END_TEST

/* -------------------------------------------------------- set_events checks */

START_TEST(set_events_checks)
{
    vcore_x86_events_t e;
    e = events();
    e.sti_blocking = 2;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_FLAG);
    e = events();
    e.pad[1] = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_FLAG);
    e = events();
    e.sti_blocking = e.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_BLOCKING_BOTH);
    e = events();
    e.exception_pending = e.exception_injected = 1;
    e.exception_vector = 6;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_TWO_EVENTS);
    e = events();
    e.exception_injected = 1;
    e.exception_vector = 6; /* #UD pushes no error code */
    e.exception_has_error_code = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_ERROR_CODE);
    /* #GP being delivered in real-address mode carries none: a VMM reading
     * that state back and restoring it is accepted. */
    e.exception_vector = 13;
    e.exception_has_error_code = 0;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    e.exception_injected = 0;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    e = events();
    e.exception_injected = 1;
    e.exception_vector = 2;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_VECTOR_INVALID);
    e = events();
    e.nmi_injected = e.interrupt_injected = 1;
    e.interrupt_vector = 0x30;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_TWO_EVENTS);
    e = events();
    e.interrupt_pending = 1;
    e.interrupt_vector = 15;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_INTERRUPT_VECTOR);
    e.interrupt_vector = 16; /* the first vector that is not an exception's */
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    e.interrupt_pending = 0;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    /* A whole valid state round-trips. */
    e = events();
    e.interrupt_injected = 1;
    e.interrupt_vector = 0x80;
    e.interrupt_soft = 1;
    e.soft_insn_len = 2;
    e.nmi_masked = 1;
    e.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    vcore_x86_events_t g = events();
    ck_assert_mem_eq(&g, &e, sizeof(e));
    vcore_x86_events_t bad = {.size = sizeof(bad) + 1};
    ck_assert_int_eq(vcore_vcpu_get_events(env.vcpu, &bad), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, NULL), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(reset_and_init_clear_events)
{
    protected_mode(true);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x30), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(env.vcpu), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_init_signal(env.vcpu), VCORE_OK);
    vcore_x86_events_t e = events();
    ck_assert_uint_eq(e.interrupt_pending | e.nmi_pending | e.exception_pending, 0);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 6, false, 0, 0), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_reset(env.vcpu), VCORE_OK);
    push(VCORE_EXIT_HLT);
    run();
    ck_assert_uint_eq(vcore_mock_count(env.vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 0);
}
END_TEST

/* A backend without the event group (and one without the NMI window). */
START_TEST(backend_without_events)
{
    vcore_backend_t be = *vcore_backend_mock();
    be.state_groups = VCORE_X86_STATE_ALL & ~VCORE_X86_STATE_EVENTS;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &be;
    vcore_vm_t *vm;
    vcore_vcpu_t *v;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v), VCORE_OK);
    vcore_x86_events_t e = {.size = sizeof(e)};
    ck_assert_int_eq(vcore_vcpu_get_events(v, &e), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(v), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(v, 0x30), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_vcpu_inject_exception(v, 6, false, 0, 0), VCORE_ERR_UNSUPPORTED);
    vcore_vm_destroy(vm);

    be = *vcore_backend_mock();
    be.features = 0;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_events(v, &e), VCORE_OK);
    e.request_nmi_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(v, &e), VCORE_ERR_UNSUPPORTED);
    ck_assert_diag(v, VCORE_DIAG_EVENT_WINDOW_UNSUPPORTED);
    /* Without an NMI window, a blocked NMI is left pending for the backend
     * (it delivers NMIs itself): the core never asks for the window. */
    ck_assert_int_eq(vcore_vcpu_get_events(v, &e), VCORE_OK);
    e.nmi_masked = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(v, &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(v), VCORE_OK);
    vcore_exit_t x = vcore_test_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v, &x), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v, &x), VCORE_OK);
    ck_assert_uint_eq(x.reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_get_events(v, &e), VCORE_OK);
    ck_assert_uint_eq(e.nmi_pending, 1);
    ck_assert_uint_eq(e.request_nmi_window, 0);
    vcore_vm_destroy(vm);
}
END_TEST

START_TEST(wrong_architecture)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_mock();
    cfg.arch = VCORE_ARCH_ARM64;
    vcore_vm_t *vm;
    vcore_vcpu_t *v;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(v), VCORE_ERR_UNSUPPORTED);
    ck_assert_diag(v, VCORE_DIAG_WRONG_ARCH);
    vcore_vm_destroy(vm);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *events_suite(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("exceptions");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, exception_gp_with_error_code);
    tcase_add_test(tc, exception_pf_payload_is_cr2);
    tcase_add_test(tc, exception_real_mode_has_no_error_code);
    tcase_add_test(tc, exception_db_payload_sets_dr6);
    tcase_add_test(tc, waiting_event_costs_no_state_write);
    tcase_add_loop_test(tc, exception_vector_rules, 0, N(vec_cases));
    tcase_add_loop_test(tc, exception_double_fault_table, 0, N(df_cases));
    tcase_add_test(tc, exception_after_df_is_shutdown);
    suite_add_tcase(s, tc);
    tc = tcase_create("interrupts");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, interrupt_delivered_when_if_set);
    tcase_add_test(tc, interrupt_waits_for_the_window);
    tcase_add_test(tc, interrupt_blocked_by_sti);
    tcase_add_test(tc, interrupt_rules);
    tcase_add_test(tc, exception_goes_before_interrupt);
    tcase_add_test(tc, vmm_interrupt_window);
    tcase_add_test(tc, nmi_delivered_then_blocked);
    tcase_add_test(tc, nmi_blocked_by_mov_ss);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, set_events_checks);
    tcase_add_test(tc, reset_and_init_clear_events);
    tcase_add_test(tc, backend_without_events);
    tcase_add_test(tc, wrong_architecture);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(events_suite());
}
