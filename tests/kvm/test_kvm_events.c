/*
 * /dev/kvm: events injected through the library reach a real guest.
 *
 * Two guest set-ups, both through the API, with the IDT/IVT and stack in
 * RAM and each handler reporting over port I/O what the processor pushed,
 * compared with what the SDM says:
 *   - flat 32-bit protected mode (GDT at 1000H, IDT at 2000H, stack below
 *     9000H, code in the ROM at FFFF0000H) for the events whose delivery
 *     differs there: an injected #GP pushes its error code, then EIP, CS,
 *     EFLAGS (SDM Vol. 3, "Error Code", "Exception- or Interrupt-Handler
 *     Procedures"), the return EIP being the instruction at which the event
 *     was delivered; an interrupt gate clears RFLAGS.IF in the handler.
 *     These handlers end in HLT, not IRET;
 *   - real-address mode (code in RAM at 4000H, CS 0400H, IVT at 0, stack
 *     below 9000H) for the cases that return with IRET: an NMI blocks
 *     further NMIs until IRET ("NMI Handling"), a second NMI raised
 *     meanwhile is taken right after the IRET; an external interrupt raised
 *     while IF = 0 is taken only after STI and the instruction that follows
 *     it ("STI-Set Interrupt Flag"); the VMM's interrupt window opens there.
 *     Real mode because a KVM without hardware virtualization (kvm_pvm)
 *     emulates the guest's IRET, and KVM's instruction emulator implements
 *     IRET in real mode only (Linux arch/x86/kvm/emulate.c, em_iret); a
 *     hardware KVM runs the same code natively. Where such a kernel takes
 *     an event later than the SDM says, the test says so
 *     (kt_events_wait_for_entry).
 * Ports: 60H ready, 70H which handler, 61H error code, 62H return (E)IP,
 * 63H pushed CS, 64H pushed EFLAGS, 65H EFLAGS in the handler, 66H the main
 * program after the handler, 67H the main program before STI.
 */
#include <linux/kvm.h>
#include <string.h>

#include "kvm_support.h"

/* #GP: the main program stops at port 60H; the #GP is delivered there. */
KT_GUEST(g_gp, ".code32\n"
               "out %al, $0x60\n"
               ".globl g_gp_ret\n g_gp_ret:\n"
               "mov $0x99, %al\n out %al, $0x66\n hlt\n"
               ".globl g_gp_handler\n g_gp_handler:\n"
               "mov $13, %al\n out %al, $0x70\n"
               "mov (%esp), %eax\n out %eax, $0x61\n"
               "mov 4(%esp), %eax\n out %eax, $0x62\n"
               "movzwl 8(%esp), %eax\n out %eax, $0x63\n"
               "hlt\n");

/* External interrupt 40H with IF = 1. */
KT_GUEST(g_irq, ".code32\n"
                "sti\n nop\n out %al, $0x60\n"
                ".globl g_irq_ret\n g_irq_ret:\n"
                "mov $0x99, %al\n out %al, $0x66\n hlt\n"
                ".globl g_irq_handler\n g_irq_handler:\n"
                "mov $0x40, %al\n out %al, $0x70\n"
                "mov (%esp), %eax\n out %eax, $0x62\n"
                "mov 8(%esp), %eax\n out %eax, $0x64\n"
                "pushf\n pop %eax\n out %eax, $0x65\n"
                "hlt\n");

/* Real mode. NMI: the handler reports the pushed IP and returns with IRET. */
KT_GUEST(g_nmi, "out %al, $0x60\n"
                ".globl g_nmi_ret\n g_nmi_ret:\n"
                "mov $0x99, %al\n out %al, $0x66\n"
                ".globl g_nmi_hlt\n g_nmi_hlt:\n hlt\n"
                ".globl g_nmi_handler\n g_nmi_handler:\n"
                "mov $2, %al\n out %al, $0x70\n"
                "pop %ax\n push %ax\n out %ax, $0x62\n"
                "iret\n");

/* Real mode. External interrupt 41H raised while IF = 0. */
KT_GUEST(g_sti, "cli\n out %al, $0x60\n"
                "mov $0x11, %al\n out %al, $0x67\n"
                "sti\n nop\n"
                ".globl g_sti_ret\n g_sti_ret:\n"
                "mov $0x99, %al\n out %al, $0x66\n"
                ".globl g_sti_hlt\n g_sti_hlt:\n hlt\n"
                ".globl g_sti_handler\n g_sti_handler:\n"
                "mov $0x41, %al\n out %al, $0x70\n"
                "pop %ax\n push %ax\n out %ax, $0x62\n"
                "iret\n");

/* Real mode. The VMM's own interrupt window, opened by STI. */
KT_GUEST(g_win, "cli\n out %al, $0x60\n"
                "sti\n nop\n"
                ".globl g_win_at\n g_win_at:\n"
                "mov $0x99, %al\n out %al, $0x66\n hlt\n");

extern const uint8_t g_gp_ret[], g_gp_handler[], g_irq_ret[], g_irq_handler[], g_nmi_ret[],
    g_nmi_handler[], g_sti_ret[], g_sti_handler[], g_win_at[], g_nmi_hlt[], g_sti_hlt[];

#define EV_STACK 0x9000u
#define EV_RFLAGS_IF 0x200u /* SDM Vol. 1, "EFLAGS Register": IF is bit 9 */
#define EV_CODE16 0x4000u   /* real mode: where the snippet runs, CS = EV_CODE16 >> 4 */

static kt_env_t env;

/* Guest-linear (= physical) address of a label of a snippet loaded at ROM offset 0. */
static uint32_t ev_addr(const uint8_t *start, const uint8_t *label)
{
    return (uint32_t)(KT_ROM_GPA + KT_CODE_OFF + (uint64_t)(label - start));
}

/* A 32-bit interrupt gate (SDM Vol. 3, "IDT Descriptors"): offset 15:0,
 * selector; then P = 1, DPL = 0, type 1110B (32-bit interrupt gate),
 * offset 31:16. */
static void ev_gate(unsigned vector, uint32_t handler)
{
    uint32_t lo = (KT_FLAT_CS << 16) | (handler & 0xffffu);
    uint32_t hi = (handler & 0xffff0000u) | 0x8e00u;
    memcpy(env.ram + KT_IDT + vector * 8u, &lo, 4);
    memcpy(env.ram + KT_IDT + vector * 8u + 4u, &hi, 4);
}

/* Real mode: offset of a label of a snippet from CS.base (= its IP). */
static uint32_t ev_ip16(const uint8_t *start, const uint8_t *label)
{
    return (uint32_t)(label - start);
}

/* A real-mode IVT entry (SDM Vol. 3, "Real-Address Mode Interrupt and
 * Exception Handling"): 4 bytes at vector * 4, offset then segment. */
static void ev_ivt(unsigned vector, uint16_t ip)
{
    const uint16_t e[2] = {ip, (uint16_t)(EV_CODE16 >> 4)};
    memcpy(env.ram + vector * 4u, e, sizeof e);
}

/* Copies a 16-bit snippet to RAM at EV_CODE16 and starts it there in real
 * mode (CS selector EV_CODE16 >> 4, base EV_CODE16; SS as RESET left it:
 * base 0), with IF = 0 and SP below EV_STACK. */
static void ev_start16(const uint8_t *start, const uint8_t *end)
{
    memcpy(env.ram + EV_CODE16, start, (size_t)(end - start));
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    s.seg[VCORE_X86_CS].selector = (uint16_t)(EV_CODE16 >> 4);
    s.seg[VCORE_X86_CS].base = EV_CODE16;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    r.rip = 0;
    r.gpr[VCORE_X86_RSP] = EV_STACK;
    r.rflags = 0x2;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
}

/* Runs to the next port write and returns its value (zero-extended). */
static uint32_t ev_out(vcore_exit_t *ex, uint16_t port)
{
    kt_run_expect(&env, ex, VCORE_EXIT_IO);
    ck_assert_msg(ex->u.io.port == port, "OUT to port %#x, expected %#x", ex->u.io.port, port);
    ck_assert_uint_eq(ex->u.io.is_in, 0);
    uint32_t v = 0;
    memcpy(&v, ex->u.io.data, ex->u.io.width);
    return v;
}

static void ev_events(vcore_x86_events_t *e)
{
    memset(e, 0, sizeof *e);
    e->size = sizeof *e;
    ck_assert_int_eq(vcore_vcpu_get_events(env.vcpu, e), VCORE_OK);
}

static void setup(void)
{
    kt_up(&env);
}

static void teardown(void)
{
    kt_down(&env);
}

START_TEST(gp_with_error_code_through_idt)
{
    kt_start_flat32(&env, g_gp_start, g_gp_end, EV_STACK);
    ev_gate(13, ev_addr(g_gp_start, g_gp_handler));
    vcore_exit_t ex = {.size = sizeof ex};
    (void)ev_out(&ex, 0x60);
    ck_assert_int_eq(vcore_vcpu_inject_exception(env.vcpu, 13, true, 0x1234, 0), VCORE_OK);
    ck_assert_uint_eq(ev_out(&ex, 0x70), 13);
    ck_assert_uint_eq(ev_out(&ex, 0x61), 0x1234);
    ck_assert_uint_eq(ev_out(&ex, 0x62), ev_addr(g_gp_start, g_gp_ret));
    ck_assert_uint_eq(ev_out(&ex, 0x63), KT_FLAT_CS);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    vcore_x86_events_t e;
    ev_events(&e);
    ck_assert_uint_eq(e.exception_pending | e.exception_injected, 0);
}
END_TEST

START_TEST(external_interrupt_through_idt)
{
    kt_start_flat32(&env, g_irq_start, g_irq_end, EV_STACK);
    ev_gate(0x40, ev_addr(g_irq_start, g_irq_handler));
    vcore_exit_t ex = {.size = sizeof ex};
    (void)ev_out(&ex, 0x60);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x40), VCORE_OK);
    ck_assert_uint_eq(ev_out(&ex, 0x70), 0x40);
    ck_assert_uint_eq(ev_out(&ex, 0x62), ev_addr(g_irq_start, g_irq_ret));
    ck_assert_uint_eq(ev_out(&ex, 0x64) & EV_RFLAGS_IF, EV_RFLAGS_IF);
    ck_assert_uint_eq(ev_out(&ex, 0x65) & EV_RFLAGS_IF, 0); /* interrupt gate */
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    vcore_x86_events_t e;
    ev_events(&e);
    ck_assert_uint_eq(e.interrupt_pending | e.interrupt_injected, 0);
}
END_TEST

START_TEST(nmi_blocks_nmis_until_iret)
{
    ev_start16(g_nmi_start, g_nmi_end);
    ev_ivt(2, (uint16_t)ev_ip16(g_nmi_start, g_nmi_handler));
    vcore_exit_t ex = {.size = sizeof ex};
    vcore_x86_events_t e;
    (void)ev_out(&ex, 0x60);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(env.vcpu), VCORE_OK);
    ck_assert_uint_eq(ev_out(&ex, 0x70), 2);
    ev_events(&e);
    ck_assert_uint_eq(e.nmi_masked, 1);
    ck_assert_uint_eq(e.nmi_injected | e.nmi_pending, 0);
    ck_assert_uint_eq(ev_out(&ex, 0x62), ev_ip16(g_nmi_start, g_nmi_ret));
    /* A second NMI inside the handler waits for the IRET; KVM delivers it. */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(env.vcpu), VCORE_OK);
    ev_events(&e);
    ck_assert_uint_eq(e.nmi_pending, 1);
    const uint8_t *at = g_nmi_ret;
    if (kt_events_wait_for_entry()) {
        /* Unblocked by the IRET, still pending, taken at the next entry. */
        ck_assert_uint_eq(ev_out(&ex, 0x66), 0x99);
        ev_events(&e);
        ck_assert_uint_eq(e.nmi_masked, 0);
        ck_assert_uint_eq(e.nmi_pending, 1);
        at = g_nmi_hlt;
    }
    ck_assert_uint_eq(ev_out(&ex, 0x70), 2);
    ck_assert_uint_eq(ev_out(&ex, 0x62), ev_ip16(g_nmi_start, at));
    ev_events(&e);
    ck_assert_uint_eq(e.nmi_masked, 1);
    ck_assert_uint_eq(e.nmi_pending, 0);
    if (at == g_nmi_ret) {
        ck_assert_uint_eq(ev_out(&ex, 0x66), 0x99);
        ev_events(&e);
        ck_assert_uint_eq(e.nmi_masked, 0);
    }
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    ev_events(&e);
    ck_assert_uint_eq(e.nmi_masked | e.nmi_pending, 0);
}
END_TEST

START_TEST(interrupt_waits_for_sti)
{
    ev_start16(g_sti_start, g_sti_end);
    ev_ivt(0x41, (uint16_t)ev_ip16(g_sti_start, g_sti_handler));
    vcore_exit_t ex = {.size = sizeof ex};
    vcore_x86_events_t e;
    (void)ev_out(&ex, 0x60);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(env.vcpu, 0x41), VCORE_OK);
    /* IF = 0: the main program goes on, the interrupt waits. */
    ck_assert_uint_eq(ev_out(&ex, 0x67), 0x11);
    ev_events(&e);
    ck_assert_uint_eq(e.interrupt_pending, 1);
    ck_assert_uint_eq(e.interrupt_injected, 0);
    ck_assert_uint_eq(e.interrupt_vector, 0x41);
    /* After STI and the instruction that follows it. */
    const uint8_t *at = g_sti_ret;
    if (kt_events_wait_for_entry()) {
        ck_assert_uint_eq(ev_out(&ex, 0x66), 0x99);
        ev_events(&e);
        ck_assert_uint_eq(e.interrupt_pending, 1);
        at = g_sti_hlt;
    }
    ck_assert_uint_eq(ev_out(&ex, 0x70), 0x41);
    ck_assert_uint_eq(ev_out(&ex, 0x62), ev_ip16(g_sti_start, at));
    if (at == g_sti_ret)
        ck_assert_uint_eq(ev_out(&ex, 0x66), 0x99);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    ev_events(&e);
    ck_assert_uint_eq(e.interrupt_pending | e.interrupt_injected, 0);
}
END_TEST

START_TEST(vmm_interrupt_window)
{
    ev_start16(g_win_start, g_win_end);
    vcore_exit_t ex = {.size = sizeof ex};
    vcore_x86_events_t e;
    (void)ev_out(&ex, 0x60);
    ev_events(&e);
    e.request_interrupt_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_OK);
    if (kt_events_wait_for_entry()) {
        /* The kernel never reports the window: the request stays the
         * VMM's, in place for every later run, until KVM honours it. */
        ck_assert_uint_eq(ev_out(&ex, 0x66), 0x99);
        kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
        ev_events(&e);
        ck_assert_uint_eq(e.request_interrupt_window, 1);
        return;
    }
    kt_run_expect(&env, &ex, VCORE_EXIT_IRQ_WINDOW);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_IRQ_WINDOW_OPEN);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.rip, ev_ip16(g_win_start, g_win_at));
    ck_assert_uint_eq(r.rflags & EV_RFLAGS_IF, EV_RFLAGS_IF);
    ev_events(&e);
    ck_assert_uint_eq(e.request_interrupt_window, 0); /* one exit per request */
    ck_assert_uint_eq(ev_out(&ex, 0x66), 0x99);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(nmi_window_refused)
{
    vcore_x86_events_t e;
    ev_events(&e);
    e.request_nmi_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(env.vcpu, &e), VCORE_ERR_UNSUPPORTED);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EVENT_WINDOW_UNSUPPORTED);
}
END_TEST

int main(void)
{
    kt_require_kvm();
    Suite *s = suite_create("kvm_events");
    TCase *tc = tcase_create("events");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, gp_with_error_code_through_idt);
    tcase_add_test(tc, external_interrupt_through_idt);
    tcase_add_test(tc, nmi_blocks_nmis_until_iret);
    tcase_add_test(tc, interrupt_waits_for_sti);
    tcase_add_test(tc, vmm_interrupt_window);
    tcase_add_test(tc, nmi_window_refused);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
