/*
 * /dev/kvm: the XMM state group (VCORE_X86_STATE_XMM) - XMM0-XMM15 of the
 * guest through KVM_GET/SET_XSAVE (KVM_GET/SET_FPU without KVM_CAP_XSAVE),
 * the registers XMM fast hypercall input reads (TLFS "XMM Fast Hypercall
 * Input"). A real-mode guest stores XMM0 and loads XMM1 from memory: what
 * the group wrote before the run is what the guest stored, and what it
 * reads after is what the guest loaded. Only MOVDQU, which KVM's
 * instruction emulator implements too: a KVM without hardware
 * virtualization (kvm_pvm) emulates this guest instruction by instruction.
 * Skips (77) only where /dev/kvm cannot be used.
 */
#include <string.h>

#include "kvm_support.h"

#include "virtcore/backend.h"

#define OUT 0x500u /* where the guest stores XMM0 (DS base 0 after RESET) */
#define IN 0x600u  /* where it loads XMM1 from */

/* MOVDQU [0500H], XMM0; MOVDQU XMM1, [0600H]; HLT ("MOVDQU-Move Unaligned
 * Packed Integer Values": F3 0F 7F /r stores, F3 0F 6F /r loads; ModR/M 06H
 * and 0EH: disp16 with XMM0 and XMM1). */
KT_GUEST(g_xmm, ".byte 0xf3, 0x0f, 0x7f, 0x06, 0x00, 0x05\n"
                ".byte 0xf3, 0x0f, 0x6f, 0x0e, 0x00, 0x06\n"
                "hlt");

static void xmm_op(vcore_vcpu_t *v, vcore_x86_state_t *st, bool set)
{
    const vcore_backend_t *be = vcore_vcpu_backend(v);
    vcore_vcpu_state_t t = {.arch = VCORE_ARCH_X86_64, .u.x86 = st};
    void *priv = vcore_vcpu_backend_priv(v);
    int err = set ? be->vcpu_set_state(v, priv, &t, VCORE_X86_STATE_XMM)
                  : be->vcpu_get_state(v, priv, &t, VCORE_X86_STATE_XMM);
    ck_assert_int_eq(err, VCORE_OK);
}

START_TEST(xmm_group_is_the_guests)
{
    static kt_env_t env;
    static vcore_x86_state_t st;
    static vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES];
    kt_up(&env);
    ck_assert(vcore_vcpu_backend(env.vcpu)->state_groups & VCORE_X86_STATE_XMM);
    uint32_t n = kt_host_cpuid(t, VCORE_CPUID_MAX_ENTRIES);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, t, n), VCORE_OK);
    /* SSE instructions need CR4.OSFXSR ("Initialization of the SSE
     * Extensions"); RESET leaves CR0.EM clear. */
    vcore_x86_sregs_t sr = {.size = sizeof sr};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &sr), VCORE_OK);
    sr.cr4 |= 1ull << 9;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &sr), VCORE_OK);
    kt_load(&env, g_xmm_start, g_xmm_end);
    memset(&st, 0, sizeof st);
    for (unsigned i = 0; i < 16; i++) {
        st.xmm[i][0] = 0x1111111100000000ull + i;
        st.xmm[i][1] = 0x0102030405060708ull * (i + 1);
    }
    xmm_op(env.vcpu, &st, true);
    memset(st.xmm, 0, sizeof st.xmm);
    xmm_op(env.vcpu, &st, false);
    for (unsigned i = 0; i < 16; i++) {
        ck_assert_uint_eq(st.xmm[i][0], 0x1111111100000000ull + i);
        ck_assert_uint_eq(st.xmm[i][1], 0x0102030405060708ull * (i + 1));
    }
    const uint64_t in1[2] = {0x8877665544332211ull, 0xffeeddccbbaa0099ull};
    const uint64_t in2[2] = {0x0123456789abcdefull, 0xfedcba9876543210ull};
    memcpy(env.ram + IN, in1, sizeof in1);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    uint64_t out[2];
    memcpy(out, env.ram + OUT, sizeof out);
    ck_assert_uint_eq(out[0], 0x1111111100000000ull);
    ck_assert_uint_eq(out[1], 0x0102030405060708ull);
    memset(st.xmm, 0, sizeof st.xmm);
    xmm_op(env.vcpu, &st, false);
    ck_assert_uint_eq(st.xmm[1][0], in1[0]);
    ck_assert_uint_eq(st.xmm[1][1], in1[1]);
    for (unsigned i = 0; i < 16; i++) {
        if (i == 1)
            continue;
        ck_assert_uint_eq(st.xmm[i][0], 0x1111111100000000ull + i);
        ck_assert_uint_eq(st.xmm[i][1], 0x0102030405060708ull * (i + 1));
    }
    /* Writing the FPU group keeps XMM as the guest left it: a second run
     * stores the same XMM0 and loads a new XMM1. */
    vcore_x86_fpu_t f = {.size = sizeof f};
    ck_assert_int_eq(vcore_vcpu_get_fpu(env.vcpu, &f), VCORE_OK);
    f.fcw = 0x027f;
    ck_assert_int_eq(vcore_vcpu_set_fpu(env.vcpu, &f), VCORE_OK);
    memset(env.ram + OUT, 0, sizeof out);
    memcpy(env.ram + IN, in2, sizeof in2);
    kt_load(&env, g_xmm_start, g_xmm_end);
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    memcpy(out, env.ram + OUT, sizeof out);
    ck_assert_uint_eq(out[0], 0x1111111100000000ull);
    ck_assert_uint_eq(out[1], 0x0102030405060708ull);
    xmm_op(env.vcpu, &st, false);
    ck_assert_uint_eq(st.xmm[1][0], in2[0]);
    ck_assert_uint_eq(st.xmm[1][1], in2[1]);
    ck_assert_uint_eq(st.xmm[15][0], 0x111111110000000full);
    ck_assert_int_eq(vcore_vcpu_get_fpu(env.vcpu, &f), VCORE_OK);
    ck_assert_uint_eq(f.fcw, 0x027f);
    kt_down(&env);
}
END_TEST

int main(void)
{
    kt_require_kvm();
    Suite *s = suite_create("kvm_xmm");
    TCase *tc = tcase_create("xmm");
    tcase_add_test(tc, xmm_group_is_the_guests);
    suite_add_tcase(s, tc);
    return kt_run_suite(s);
}
