/*
 * The kvm backend's XMM state group (VCORE_X86_STATE_XMM): XMM0-XMM15 of
 * the guest through KVM_GET/SET_XSAVE (or KVM_GET/SET_FPU without
 * KVM_CAP_XSAVE), the registers XMM fast hypercall input reads (TLFS "XMM
 * Fast Hypercall Input"). A real-mode guest on /dev/kvm doubles XMM0 with
 * PADDQ and stores it: the group written before the run is what the guest
 * computes with, and the group read after it is what the guest left.
 * Skips (77) only where /dev/kvm cannot be opened.
 */
#include "support.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtcore/backend.h"

#define RAM_SIZE (1u << 20)
#define GCODE 0x1000u
#define GOUT 0x500u

static bool have_kvm(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* A vCPU with FXSR, SSE and SSE2 (CPUID.1:EDX bits 24-26), so CR4.OSFXSR
 * may be set ("CPUID" feature flags). */
static void set_cpuid(vcore_vcpu_t *v)
{
    vcore_cpuid_entry_t t[2];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 1;
    t[0].ebx = 0x756e6547; /* "GenuineIntel" */
    t[0].edx = 0x49656e69;
    t[0].ecx = 0x6c65746e;
    t[1].function = 1;
    t[1].eax = 0x50654;
    t[1].edx = (1u << 0) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 15) | (1u << 24) | (1u << 25) |
               (1u << 26);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, 2), VCORE_OK);
}

static int xmm_io(vcore_vcpu_t *v, vcore_x86_state_t *st, bool set)
{
    const vcore_backend_t *ops = vcore_vcpu_backend(v);
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64};
    vs.u.x86 = st;
    void *priv = vcore_vcpu_backend_priv(v);
    return set ? ops->vcpu_set_state(v, priv, &vs, VCORE_X86_STATE_XMM)
               : ops->vcpu_get_state(v, priv, &vs, VCORE_X86_STATE_XMM);
}

START_TEST(kvm_xmm_group_is_the_guests)
{
    vcore_vm_config_t cfg;
    vcore_vm_t *vm = NULL;
    vcore_vcpu_t *v = NULL;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    ck_assert_ptr_nonnull(cfg.backend);
    ck_assert(cfg.backend->state_groups & VCORE_X86_STATE_XMM);
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    uint8_t *ram = NULL;
    ck_assert_int_eq(posix_memalign((void **)&ram, 4096, RAM_SIZE), 0);
    memset(ram, 0xf4, RAM_SIZE); /* HLT everywhere */
    /* PADDQ XMM0, XMM0 (66 0F D4 C0); MOVDQU [0500H], XMM0 (F3 0F 7F 06 00 05); HLT */
    static const uint8_t code[] = {0x66, 0x0f, 0xd4, 0xc0, 0xf3, 0x0f, 0x7f, 0x06, 0x00, 0x05, 0xf4};
    memcpy(ram + GCODE, code, sizeof(code));
    memset(ram + GOUT, 0, 16);
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v), VCORE_OK);
    set_cpuid(v);
    /* Real mode, CS = DS = 0, SSE enabled: CR0.MP = 1, EM = 0; CR4.OSFXSR
     * ("Initialization of the SSE Extensions"). */
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(v, &sr), VCORE_OK);
    for (unsigned i = 0; i < 6; i++) {
        sr.seg[i].selector = 0;
        sr.seg[i].base = 0;
    }
    sr.cr0 = (sr.cr0 & ~(1ull << 2)) | (1ull << 1);
    sr.cr4 |= 1ull << 9;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &sr), VCORE_OK);
    vcore_x86_regs_t rg = {.size = sizeof(rg)};
    ck_assert_int_eq(vcore_vcpu_get_regs(v, &rg), VCORE_OK);
    rg.rip = GCODE;
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &rg), VCORE_OK);

    vcore_x86_state_t *st = calloc(1, sizeof(*st));
    ck_assert_ptr_nonnull(st);
    for (unsigned i = 0; i < 16; i++) {
        st->xmm[i][0] = 0x1111111100000000ull + i;
        st->xmm[i][1] = 0x0102030405060708ull * (i + 1);
    }
    ck_assert_int_eq(xmm_io(v, st, true), VCORE_OK);
    memset(st->xmm, 0, sizeof(st->xmm));
    ck_assert_int_eq(xmm_io(v, st, false), VCORE_OK);
    for (unsigned i = 0; i < 16; i++) {
        ck_assert_uint_eq(st->xmm[i][0], 0x1111111100000000ull + i);
        ck_assert_uint_eq(st->xmm[i][1], 0x0102030405060708ull * (i + 1));
    }
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    ck_assert_int_eq(vcore_vcpu_run(v, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* PADDQ adds each quadword to itself ("PADDB/PADDW/PADDD/PADDQ"). */
    uint64_t out[2];
    memcpy(out, ram + GOUT, 16);
    ck_assert_uint_eq(out[0], 0x2222222200000000ull);
    ck_assert_uint_eq(out[1], 0x020406080a0c0e10ull);
    memset(st->xmm, 0, sizeof(st->xmm));
    ck_assert_int_eq(xmm_io(v, st, false), VCORE_OK);
    ck_assert_uint_eq(st->xmm[0][0], 0x2222222200000000ull);
    ck_assert_uint_eq(st->xmm[0][1], 0x020406080a0c0e10ull);
    ck_assert_uint_eq(st->xmm[15][0], 0x111111110000000full);
    ck_assert_uint_eq(st->xmm[15][1], 0x0102030405060708ull * 16);
    /* Writing the FPU group keeps XMM as the guest left it. */
    vcore_x86_fpu_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(v, &f), VCORE_OK);
    f.fcw = 0x027f;
    ck_assert_int_eq(vcore_vcpu_set_fpu(v, &f), VCORE_OK);
    rg.rip = GCODE;
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &rg), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    memcpy(out, ram + GOUT, 16);
    ck_assert_uint_eq(out[0], 0x4444444400000000ull);
    ck_assert_uint_eq(out[1], 0x04080c1014181c20ull);
    free(st);
    vcore_vcpu_destroy(v);
    vcore_vm_destroy(vm);
    free(ram);
}
END_TEST

int main(void)
{
    if (!have_kvm())
        return 77;
    Suite *s = suite_create("kvm_xmm");
    TCase *tc = tcase_create("kvm");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, kvm_xmm_group_is_the_guests);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
