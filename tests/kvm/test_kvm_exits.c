/* /dev/kvm: I/O and MMIO exits with replies, user-space MSR exits, triple
 * fault, INIT then the reset vector, a kick from another thread. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "backend-kvm/kvm_priv.h"
#include "kvm_support.h"

/* OUT word, IN byte (reply), echo it, IN dword (reply), echo it, string OUT, HLT. */
KT_GUEST(g_io, "mov $0x1234, %ax\n out %ax, $0x40\n"
               "in $0x41, %al\n out %al, $0x42\n"
               "inl $0x41, %eax\n outl %eax, $0x42\n"
               "xor %ax, %ax\n mov %ax, %ds\n mov $0x2000, %si\n mov $4, %cx\n mov $0x43, %dx\n"
               "cld\n rep outsb\n hlt");
/* DS.base is set to 0x10000000 by the test (no memory there). 32-bit MMIO
 * read, echo on port 0x44, 16-bit MMIO write, HLT. */
KT_GUEST(g_mmio, "movl (0x10), %eax\n outl %eax, $0x44\n movw $0x9876, (0x20)\n hlt");
/* RDMSR/WRMSR of an MSR KVM does not implement, then an RDMSR the VMM
 * refuses (#GP through the real-mode IVT to a handler at 0:3000). */
KT_GUEST(g_msr, "mov $0x4b564dff, %ecx\n rdmsr\n outl %eax, $0x45\n mov %edx, %eax\n outl %eax, $0x46\n"
                "mov $0x89abcdef, %eax\n mov $0x01234567, %edx\n wrmsr\n"
                "mov $0x4b564dfe, %ecx\n rdmsr\n mov $0xee, %al\n out %al, $0x48\n hlt");
/* UD2 in 64-bit mode with an IDT limit of 0 (set by the test): the
 * #UD, #GP and #DF descriptors are all beyond the limit: triple fault. */
KT_GUEST(g_triple, "ud2\n hlt");
KT_GUEST(g_hlt, "hlt\n mov $0x99, %al\n out %al, $0x49\n hlt");
KT_GUEST(g_spin, "1: jmp 1b");

static kt_env_t env;

static void setup(void)
{
    kt_up(&env);
}

static void teardown(void)
{
    kt_down(&env);
}

START_TEST(io_exits_with_replies)
{
    memcpy(env.ram + 0x2000, "ABCD", 4);
    kt_load(&env, g_io_start, g_io_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x40);
    ck_assert_uint_eq(ex.u.io.width, 2);
    ck_assert_uint_eq(ex.u.io.is_in, 0);
    ck_assert_uint_eq(ex.u.io.count, 1);
    ck_assert_uint_eq(ex.u.io.data[0] | ex.u.io.data[1] << 8, 0x1234);
    ck_assert(!(ex.flags & VCORE_EXIT_F_NEEDS_REPLY));
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_IO);

    /* IN byte: reply written straight into the slot the exit points at. */
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x41);
    ck_assert_uint_eq(ex.u.io.is_in, 1);
    ck_assert(ex.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ex.u.io.data[0] = 0x5a;
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x42);
    ck_assert_uint_eq(ex.u.io.data[0], 0x5a);

    /* IN dword: reply from the VMM's own buffer. */
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.width, 4);
    ck_assert_uint_eq(ex.u.io.is_in, 1);
    uint8_t mine[4] = {0x11, 0x22, 0x33, 0x44};
    ex.u.io.data = mine;
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x42);
    ck_assert_mem_eq(ex.u.io.data, mine, 4);

    /* REP OUTSB: KVM may deliver the string in one exit (count 4) or in
     * several (this machine's kvm_pvm emulates real mode byte by byte);
     * every byte arrives, in order. */
    char got[8];
    uint32_t have = 0;
    while (have < 4) {
        kt_run_expect(&env, &ex, VCORE_EXIT_IO);
        ck_assert_uint_eq(ex.u.io.port, 0x43);
        ck_assert_uint_eq(ex.u.io.width, 1);
        ck_assert_uint_ge(ex.u.io.count, 1);
        ck_assert_uint_le(have + ex.u.io.count, 4);
        memcpy(got + have, ex.u.io.data, ex.u.io.count);
        have += ex.u.io.count;
    }
    ck_assert_mem_eq(got, "ABCD", 4);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(mmio_exits_with_replies)
{
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    s.seg[VCORE_X86_DS].base = 0x10000000; /* unreal-mode style hidden base */
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    kt_load(&env, g_mmio_start, g_mmio_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(ex.u.mmio.gpa, 0x10000010);
    ck_assert_uint_eq(ex.u.mmio.len, 4);
    ck_assert_uint_eq(ex.u.mmio.is_write, 0);
    ck_assert(ex.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_MMIO);
    memcpy(ex.u.mmio.data, "\xbe\xba\xfe\xca", 4);
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_mem_eq(ex.u.io.data, "\xbe\xba\xfe\xca", 4);
    kt_run_expect(&env, &ex, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(ex.u.mmio.gpa, 0x10000020);
    ck_assert_uint_eq(ex.u.mmio.len, 2);
    ck_assert_uint_eq(ex.u.mmio.is_write, 1);
    ck_assert_uint_eq(ex.u.mmio.data[0] | ex.u.mmio.data[1] << 8, 0x9876);
    ck_assert(!(ex.flags & VCORE_EXIT_F_NEEDS_REPLY));
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(user_space_msr_exits)
{
    /* #GP handler at 0:3000: out 0x47 then HLT. IVT entry 13 at 0:34. */
    const uint8_t handler[] = {0xb0, 0x47, 0xe6, 0x47, 0xf4};
    memcpy(env.ram + 0x3000, handler, sizeof handler);
    const uint8_t ivt13[] = {0x00, 0x30, 0x00, 0x00};
    memcpy(env.ram + 13 * 4, ivt13, 4);
    kt_load(&env, g_msr_start, g_msr_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(ex.u.msr.index, 0x4b564dff);
    ck_assert(ex.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert(ex.u.msr.why & (KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_INVAL));
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_X86_RDMSR);
    ex.u.msr.value = 0xfeedface12345678ull;
    ex.u.msr.error = 0;
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    uint32_t lo, hi;
    memcpy(&lo, ex.u.io.data, 4);
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    memcpy(&hi, ex.u.io.data, 4);
    ck_assert_uint_eq(lo, 0x12345678);
    ck_assert_uint_eq(hi, 0xfeedface);
    kt_run_expect(&env, &ex, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(ex.u.msr.index, 0x4b564dff);
    ck_assert_uint_eq(ex.u.msr.value, 0x0123456789abcdefull);
    ex.u.msr.error = 0;
    kt_run_expect(&env, &ex, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(ex.u.msr.index, 0x4b564dfe);
    ex.u.msr.error = 1; /* refuse: the guest takes #GP(0) */
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x47); /* the #GP handler, not port 0x48 */
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(triple_fault_is_shutdown)
{
    /* Long mode needs CPUID.80000001H:EDX.LM in the vCPU's table. */
    static vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES];
    uint32_t n = kt_host_cpuid(t, VCORE_CPUID_MAX_ENTRIES);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, t, n), VCORE_OK);
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    /* 64-bit mode straight from the API: identity-mapped low 2 MiB and the
     * ROM's 2 MiB page at FFE00000H, flat segments, IDT limit 0. */
    uint64_t *pml4 = (uint64_t *)(env.ram + 0x10000), *pdpt = (uint64_t *)(env.ram + 0x11000);
    uint64_t *pd0 = (uint64_t *)(env.ram + 0x12000), *pd3 = (uint64_t *)(env.ram + 0x13000);
    pml4[0] = 0x11000 | 3;          /* P | RW */
    pdpt[0] = 0x12000 | 3;
    pdpt[3] = 0x13000 | 3;
    pd0[0] = 0x0 | 0x83;            /* P | RW | PS (2 MiB) */
    pd3[511] = 0xffe00000ull | 0x83;
    s.cr3 = 0x10000;
    s.cr4 = 1u << 5;                /* PAE */
    s.efer = (1u << 8) | (1u << 10); /* LME | LMA */
    s.cr0 = 0x80000011;             /* PG | ET | PE */
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        if (i == VCORE_X86_LDTR || i == VCORE_X86_TR)
            continue;
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffff;
        s.seg[i].selector = i == VCORE_X86_CS ? 0x8 : 0x10;
        s.seg[i].ar = i == VCORE_X86_CS ? 0xa09b : 0xc093; /* 64-bit code / flat data */
    }
    s.idtr.base = 0;
    s.idtr.limit = 0;
    int err = vcore_vcpu_set_sregs(env.vcpu, &s);
    vcore_diag_t d = {.size = sizeof d};
    ck_assert_int_eq(vcore_vcpu_last_diag(env.vcpu, &d), VCORE_OK);
    ck_assert_msg(err == VCORE_OK, "set_sregs: %d (%s)", err, d.name);
    kt_load(&env, g_triple_start, g_triple_end);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    r.rip = KT_ROM_GPA + KT_CODE_OFF;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_SHUTDOWN);
    ck_assert_uint_eq(ex.raw.reason, KVM_EXIT_SHUTDOWN);
}
END_TEST

START_TEST(init_then_reset_vector)
{
    kt_load(&env, g_hlt_start, g_hlt_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    uint64_t lstar = 0;
    ck_assert_int_eq(vcore_vcpu_set_msr(env.vcpu, VCORE_MSR_IA32_LSTAR, 0xffff800000001000ull),
                     VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_init_signal(env.vcpu), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.rip, 0xfff0);
    /* INIT keeps the MSRs. */
    ck_assert_int_eq(vcore_vcpu_get_msr(env.vcpu, VCORE_MSR_IA32_LSTAR, &lstar), VCORE_OK);
    ck_assert_uint_eq(lstar, 0xffff800000001000ull);
    /* The next run starts at FFFFFFF0H: the stub there writes 'R'. */
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, KT_RESET_PORT);
    ck_assert_uint_eq(ex.u.io.data[0], 'R');
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.rip, KT_RESET_OFF + 5);
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].base, 0xffff0000ull);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].selector, 0xf000);
    /* And KVM still has the kept MSR after the run. */
    ck_assert_int_eq(vcore_vcpu_get_msr(env.vcpu, VCORE_MSR_IA32_LSTAR, &lstar), VCORE_OK);
    ck_assert_uint_eq(lstar, 0xffff800000001000ull);
}
END_TEST

struct kicker {
    vcore_vcpu_t *vcpu;
    int rc;
};

static void *kick_later(void *arg)
{
    struct kicker *k = arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    k->rc = vcore_vcpu_kick(k->vcpu);
    return NULL;
}

START_TEST(kick_from_another_thread)
{
    kt_load(&env, g_spin_start, g_spin_end);
    vcore_exit_t ex = {.size = sizeof ex};
    for (int round = 0; round < 3; round++) {
        struct kicker k = {env.vcpu, -99};
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, kick_later, &k), 0);
        /* The guest spins forever: only the kick ends this run. */
        kt_run_expect(&env, &ex, VCORE_EXIT_INTERRUPTED);
        pthread_join(t, NULL);
        ck_assert_int_eq(k.rc, VCORE_OK);
    }
    /* A kick while nothing runs stops the next run at once. */
    ck_assert_int_eq(vcore_vcpu_kick(env.vcpu), VCORE_OK);
    kt_run_expect(&env, &ex, VCORE_EXIT_INTERRUPTED);
    /* The vCPU is still usable: point it at HLT and run to completion. */
    kt_load(&env, g_hlt_start, g_hlt_end);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
}
END_TEST

START_TEST(reply_to_wrong_exit_is_refused)
{
    /* IN, then the VMM hands back a structure of another reason: the core
     * refuses the run (exit.h, the reply contract) and nothing runs; the
     * reply to the IN then completes it. */
    kt_load(&env, g_io_start, g_io_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert(ex.u.io.is_in);
    vcore_exit_t other = {.size = sizeof other, .reason = VCORE_EXIT_HLT};
    ck_assert_int_eq(vcore_vcpu_run(env.vcpu, &other), VCORE_ERR_STATE);
    ck_assert_diag(env.vcpu, VCORE_DIAG_EXIT_REPLY_MISMATCH);
    ex.u.io.data[0] = 0x3c;
    kt_run_expect(&env, &ex, VCORE_EXIT_IO);
    ck_assert_uint_eq(ex.u.io.port, 0x42);
    ck_assert_uint_eq(ex.u.io.data[0], 0x3c);
}
END_TEST

int main(void)
{
    kt_require_kvm();
    Suite *s = suite_create("kvm_exits");
    TCase *tc = tcase_create("exits");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, io_exits_with_replies);
    tcase_add_test(tc, mmio_exits_with_replies);
    tcase_add_test(tc, user_space_msr_exits);
    tcase_add_test(tc, triple_fault_is_shutdown);
    tcase_add_test(tc, init_then_reset_vector);
    tcase_add_test(tc, kick_from_another_thread);
    tcase_add_test(tc, reply_to_wrong_exit_is_refused);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
