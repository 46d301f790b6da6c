/*
 * test_nested_msrbmp.c - vmcs02's MSR bitmap, on the mock.
 *
 * Expected values come from SDM Vol. 3, "MSR-Bitmap Address" (a 4 KiB page:
 * read bitmap for MSRs 00000000H-00001FFFH at byte 0, for C0000000H-C0001FFFH
 * at byte 1024, the two write bitmaps at 2048 and 3072; bit n of a bitmap is
 * the MSR (range base + n); a set bit makes the access exit), from RDMSR and
 * WRMSR in "Instructions That Cause VM Exits Conditionally" (without "use MSR
 * bitmaps" every access exits), and from the pipeline's rule: an access of
 * L2 runs without an exit only when L1's bitmap and L0's (the mock's vmcs01,
 * vcore_mock_set_msr_pass()) both let it and the MSR's value for L2 is in the
 * processor while L2 runs - the FS/GS base and SYSENTER MSRs (vmcs02's guest
 * state), KERNEL_GS_BASE and the SYSCALL MSRs (shared by L1 and L2).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "nested_fixture.h"

#define PROC12 0x04006172u /* the reference vmcs12's primary controls */
#define USE_MSR_BITMAPS (1u << 28)

static const uint32_t candidates[] = {
    0x174u,       /* IA32_SYSENTER_CS */
    0x175u,       /* IA32_SYSENTER_ESP */
    0x176u,       /* IA32_SYSENTER_EIP */
    0xc0000100u,  /* IA32_FS_BASE */
    0xc0000101u,  /* IA32_GS_BASE */
    0xc0000102u,  /* IA32_KERNEL_GS_BASE */
    0xc0000081u,  /* IA32_STAR */
    0xc0000082u,  /* IA32_LSTAR */
    0xc0000083u,  /* IA32_CSTAR */
    0xc0000084u,  /* IA32_FMASK */
};
#define NCAND (sizeof(candidates) / sizeof(candidates[0]))

/* MSRs L0 may let through but no L2 access may reach without an exit:
 * the TSC, IA32_EFER and IA32_PAT (L2's are the library's copies), an
 * x2APIC MSR (TPR, 808H), IA32_SPEC_CTRL, IA32_TSC_AUX. */
static const uint32_t others[] = {0x10u, 0xc0000080u, 0x277u, 0x808u, 0x48u, 0xc0000103u};
#define NOTHERS (sizeof(others) / sizeof(others[0]))

/* The byte and mask of an access in a bitmap page, by the SDM's layout. */
static uint32_t sdm_byte(uint32_t msr, bool write)
{
    uint32_t base = msr >= 0xc0000000u ? 1024u : 0u;
    return base + (write ? 2048u : 0u) + (msr & 0x1fffu) / 8u;
}

static uint8_t sdm_mask(uint32_t msr)
{
    return (uint8_t)(1u << (msr & 7u));
}

/* Whether the access exits by the bitmap page at bm. */
static bool exits(const uint8_t *bm, uint32_t msr, bool write)
{
    return (bm[sdm_byte(msr, write)] & sdm_mask(msr)) != 0;
}

/* L1's bitmap in L1 memory at MSRBM: the access passes (bit 0) or exits (1). */
static void l1_set(uint32_t msr, bool write, bool pass)
{
    uint8_t *b = &ram[MSRBM + sdm_byte(msr, write)];
    *b = pass ? (uint8_t)(*b & ~sdm_mask(msr)) : (uint8_t)(*b | sdm_mask(msr));
}

/* vmcs12 with L1's MSR bitmaps at addr. */
static void l1_bitmaps(uint64_t addr)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | USE_MSR_BITMAPS);
    set12(VCORE_VMCS_MSR_BITMAP, addr);
}

/* L0 (the mock's vmcs01) lets every candidate and every other MSR through. */
static void l0_pass_all(void)
{
    for (uint32_t i = 0; i < NCAND; i++)
        ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu, candidates[i], true, true), VCORE_OK);
    for (uint32_t i = 0; i < NOTHERS; i++)
        ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu, others[i], true, true), VCORE_OK);
}

/* The page vmcs02 names (the default host's physical address is the
 * virtual one), after checking that vmcs02 uses it and it is not L1's. */
static uint8_t *bm02(void)
{
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & USE_MSR_BITMAPS, USE_MSR_BITMAPS);
    uint64_t pa = nested_peek02(VCORE_VMCS_MSR_BITMAP);
    ck_assert_uint_ne(pa, 0);
    ck_assert_uint_eq(pa & 0xfffu, 0);
    ck_assert_uint_ne(pa, MSRBM);
    return (uint8_t *)(uintptr_t)pa;
}

/* VMLAUNCH or VMRESUME; L2's CPUID exits to L1, which halts. */
static void enter(uint32_t op)
{
    push_insn(op, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}

static void launch(void)
{
    load_vmcs12();
    enter(VCORE_NVMX_VMLAUNCH);
}

/* Every candidate and every other MSR exits, reads and writes. */
static void assert_all_exit(const uint8_t *bm)
{
    for (uint32_t i = 0; i < NCAND; i++) {
        ck_assert(exits(bm, candidates[i], false));
        ck_assert(exits(bm, candidates[i], true));
    }
    for (uint32_t i = 0; i < NOTHERS; i++) {
        ck_assert(exits(bm, others[i], false));
        ck_assert(exits(bm, others[i], true));
    }
}

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, 0);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* Loop i: bit 0 L0 lets reads through, bit 1 L0 lets writes through, bit 2
 * L1 lets reads through, bit 3 L1 lets writes through - for every
 * candidate; the others are let through by both and still exit. */
START_TEST(candidate_passes_only_when_l0_and_l1_pass)
{
    bool l0r = (_i & 1) != 0, l0w = (_i & 2) != 0, l1r = (_i & 4) != 0, l1w = (_i & 8) != 0;
    for (uint32_t i = 0; i < NCAND; i++)
        ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu, candidates[i], l0r, l0w), VCORE_OK);
    for (uint32_t i = 0; i < NOTHERS; i++)
        ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu, others[i], true, true), VCORE_OK);
    memset(&ram[MSRBM], 0xff, 4096);
    for (uint32_t i = 0; i < NCAND; i++) {
        l1_set(candidates[i], false, l1r);
        l1_set(candidates[i], true, l1w);
    }
    for (uint32_t i = 0; i < NOTHERS; i++) {
        l1_set(others[i], false, true);
        l1_set(others[i], true, true);
    }
    l1_bitmaps(MSRBM);
    launch();
    const uint8_t *bm = bm02();
    for (uint32_t i = 0; i < NCAND; i++) {
        ck_assert_int_eq(exits(bm, candidates[i], false), !(l0r && l1r));
        ck_assert_int_eq(exits(bm, candidates[i], true), !(l0w && l1w));
    }
    for (uint32_t i = 0; i < NOTHERS; i++) {
        ck_assert(exits(bm, others[i], false));
        ck_assert(exits(bm, others[i], true));
    }
    /* Outside the candidates the page is all ones. */
    uint32_t ones = 0;
    for (uint32_t b = 0; b < 4096; b++)
        ones += (uint32_t)__builtin_popcount(bm[b]);
    uint32_t passing = (l0r && l1r ? NCAND : 0) + (l0w && l1w ? NCAND : 0);
    ck_assert_uint_eq(ones, 4096u * 8u - passing);
}
END_TEST

/* Without "use MSR bitmaps" in vmcs12 every RDMSR/WRMSR is L1's: nothing
 * passes, whatever L1's page (all clear here) or L0 says. */
START_TEST(l1_without_bitmaps_every_access_exits)
{
    l0_pass_all();
    memset(&ram[MSRBM], 0, 4096);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    launch();
    assert_all_exit(bm02());
    /* L1 turns its bitmaps on: the candidates pass; off again: nothing does. */
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | USE_MSR_BITMAPS);
    enter(VCORE_NVMX_VMRESUME);
    ck_assert(!exits(bm02(), 0xc0000100u, false));
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12);
    enter(VCORE_NVMX_VMRESUME);
    assert_all_exit(bm02());
}
END_TEST

/* Without the backend's answer (the mock's default) every MSR counts as L0's. */
START_TEST(l0_intercepting_everything_lets_nothing_through)
{
    memset(&ram[MSRBM], 0, 4096);
    l1_bitmaps(MSRBM);
    launch();
    assert_all_exit(bm02());
}
END_TEST

/* L1 rewrites its bitmap between two entries ("Software Access to Related
 * Structures"): the next entry's vmcs02 bitmap follows. */
START_TEST(l1_bitmap_change_followed_at_next_entry)
{
    const uint32_t fs = 0xc0000100u, gs = 0xc0000101u, cs = 0x174u;
    l0_pass_all();
    memset(&ram[MSRBM], 0xff, 4096);
    l1_set(fs, false, true);
    l1_set(fs, true, true);
    l1_set(cs, false, true);
    l1_bitmaps(MSRBM);
    launch();
    const uint8_t *bm = bm02();
    ck_assert(!exits(bm, fs, false));
    ck_assert(!exits(bm, fs, true));
    ck_assert(!exits(bm, cs, false));
    ck_assert(exits(bm, cs, true));
    ck_assert(exits(bm, gs, true));
    /* L1 now intercepts FS_BASE writes and SYSENTER_CS reads, lets GS_BASE writes through. */
    l1_set(fs, true, false);
    l1_set(cs, false, false);
    l1_set(gs, true, true);
    enter(VCORE_NVMX_VMRESUME);
    bm = bm02();
    ck_assert(!exits(bm, fs, false));
    ck_assert(exits(bm, fs, true));
    ck_assert(exits(bm, cs, false));
    ck_assert(exits(bm, gs, false));
    ck_assert(!exits(bm, gs, true));
}
END_TEST

/* L1 names another bitmap page between two entries: the next entry's
 * vmcs02 bitmap follows the new page, not the one L1 named before. */
START_TEST(l1_bitmap_address_change_followed)
{
    const uint32_t fs = 0xc0000100u, gs = 0xc0000101u;
    const uint64_t second = MSRBM + 0x10000u;
    l0_pass_all();
    memset(&ram[MSRBM], 0xff, 4096);
    memset(&ram[second], 0xff, 4096);
    l1_set(fs, false, true);
    l1_bitmaps(MSRBM);
    launch();
    const uint8_t *bm = bm02();
    ck_assert(!exits(bm, fs, false));
    ck_assert(exits(bm, gs, false));
    /* The second page lets GS_BASE reads through and not FS_BASE's. */
    ram[second + sdm_byte(gs, false)] &= (uint8_t)~sdm_mask(gs);
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_MSR_BITMAP, second);
    enter(VCORE_NVMX_VMRESUME);
    bm = bm02();
    ck_assert(exits(bm, fs, false));
    ck_assert(!exits(bm, gs, false));
}
END_TEST

/* L1's bitmap address with no memory behind it (past RAM): nothing passes. */
START_TEST(unmapped_l1_bitmap_lets_nothing_through)
{
    l0_pass_all();
    l1_bitmaps(RAM + 0x100000u);
    launch();
    assert_all_exit(bm02());
}
END_TEST

/* Nothing changed between two entries: the page is not written again (a
 * bit the test changed behind the library's back stays as the test left
 * it); a change of L1's bitmap writes every candidate bit again. */
START_TEST(unchanged_bitmap_not_rewritten)
{
    const uint32_t fs = 0xc0000100u, gs = 0xc0000101u;
    l0_pass_all();
    memset(&ram[MSRBM], 0, 4096);
    l1_bitmaps(MSRBM);
    launch();
    uint8_t *bm = bm02();
    ck_assert(!exits(bm, fs, false));
    bm[sdm_byte(fs, false)] |= sdm_mask(fs);
    enter(VCORE_NVMX_VMRESUME);
    ck_assert_ptr_eq(bm02(), bm);
    ck_assert(exits(bm, fs, false));
    l1_set(gs, true, false);
    enter(VCORE_NVMX_VMRESUME);
    ck_assert(!exits(bm, fs, false));
    ck_assert(exits(bm, gs, true));
}
END_TEST

/* An RDMSR exit of an MSR L0 intercepts and L1 lets through stays L0's:
 * it is completed with L2's value (vmcs02's guest FS base), not L1's. */
START_TEST(l0_intercept_l1_pass_completed_with_l2_value)
{
    const uint32_t fs = 0xc0000100u;
    memset(&ram[MSRBM], 0, 4096);
    l1_bitmaps(MSRBM);
    set12(VCORE_VMCS_GUEST_FS_BASE, 0x12345000u);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    nested_set_gpr(VCORE_X86_RCX, fs);
    push_l2_exit(VCORE_VMX_EXIT_RDMSR, 2);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert(exits(bm02(), fs, false));
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(last().l0_handled, 1);
    /* RDMSR's EDX:EAX, which the exit to L1 leaves as L2 had them. */
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RAX], 0x12345000u);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RDX], 0);
}
END_TEST

/* The layout at the edges of both ranges ("MSR-Bitmap Address"): MSRs
 * 0 and 1FFFH, C0000000H and C0001FFFH have bits; 2000H, BFFFFFFFH and
 * C0002000H have none (their accesses always exit). */
START_TEST(bitmap_layout_edges)
{
    static const struct {
        uint32_t msr;
        bool write;
        uint32_t byte, bit;
    } has[] = {
        {0x0u, false, 0, 0},           {0x0u, true, 2048, 0},
        {0x1fffu, false, 1023, 7},     {0x1fffu, true, 3071, 7},
        {0xc0000000u, false, 1024, 0}, {0xc0000000u, true, 3072, 0},
        {0xc0001fffu, false, 2047, 7}, {0xc0001fffu, true, 4095, 7},
        {0x808u, false, 257, 0},       {0xc0000101u, true, 3104, 1},
    };
    for (size_t i = 0; i < sizeof(has) / sizeof(has[0]); i++) {
        uint32_t byte = ~0u, bit = ~0u;
        ck_assert(vcore_nvmx_msr_bitmap_pos(has[i].msr, has[i].write, &byte, &bit));
        ck_assert_uint_eq(byte, has[i].byte);
        ck_assert_uint_eq(bit, has[i].bit);
    }
    static const uint32_t none[] = {0x2000u, 0xbfffffffu, 0xc0002000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        uint32_t byte = 7, bit = 7;
        ck_assert(!vcore_nvmx_msr_bitmap_pos(none[i], false, &byte, &bit));
        ck_assert(!vcore_nvmx_msr_bitmap_pos(none[i], true, &byte, &bit));
        ck_assert_uint_eq(byte, 7);
        ck_assert_uint_eq(bit, 7);
    }
}
END_TEST

/* ---- "virtualize x2APIC mode" (secondary 4) ----
 * Expected values from SDM Vol. 3, "Virtualizing MSR-Based APIC Accesses":
 * with the control, an RDMSR of 800H-8FFH the bitmap lets through reads
 * the virtual-APIC page when "APIC-register virtualization" is 1, else
 * only 808H (TPR) does; a WRMSR of 808H is virtualized (TPR
 * virtualization), of 80BH (EOI) and 83FH (self-IPI) only with
 * "virtual-interrupt delivery"; every other access operates normally, on
 * the real x2APIC (L1's, which L0 or the VMM models), so vmcs02 must
 * intercept it. "Checks on VMX Controls": the control needs "use TPR
 * shadow"; virtual-interrupt delivery needs "external-interrupt exiting". */
#define TPR_SHADOW (1u << 21)
#define ACTIVATE_SECONDARY (1u << 31)
#define X2APIC_MODE (1u << 4)
#define APIC_REG (1u << 8)
#define VID (1u << 9)

/* vmcs12 with L1's bitmaps at MSRBM, the TPR shadow and the secondary
 * controls proc2. */
static void l1_x2apic(uint32_t proc2)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | USE_MSR_BITMAPS | TPR_SHADOW | ACTIVATE_SECONDARY);
    set12(VCORE_VMCS_MSR_BITMAP, MSRBM);
    set12(VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, 0x40000);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, proc2);
    if (proc2 & VID)
        set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x17);
}

/* Whether the SDM virtualizes the access with these secondary controls. */
static bool x2apic_virtualized(uint32_t msr, bool write, uint32_t proc2)
{
    if (!(proc2 & X2APIC_MODE))
        return false;
    if (!write)
        return (proc2 & APIC_REG) || msr == 0x808u;
    return msr == 0x808u || ((proc2 & VID) && (msr == 0x80bu || msr == 0x83fu));
}

/* Every RDMSR and WRMSR of 800H-8FFH exits by the page at bm. */
static void assert_x2apic_range_exits(const uint8_t *bm)
{
    for (uint32_t msr = 0x800u; msr <= 0x8ffu; msr++) {
        ck_assert(exits(bm, msr, false));
        ck_assert(exits(bm, msr, true));
    }
}

/* Loop i: bit 0 L1's bitmap lets the whole x2APIC range through (else it
 * intercepts it), bit 1 "virtualize x2APIC mode", bit 2 "APIC-register
 * virtualization", bit 3 "virtual-interrupt delivery". L0 (the mock's
 * vmcs01) lets the whole range through: that never lets an access reach
 * L2 (CVE-2019-3887 class); only what the processor virtualizes and L1
 * lets through passes. vmcs02's "virtualize x2APIC mode" is L1's. */
START_TEST(x2apic_passes_only_virtualized_accesses_l1_passes)
{
    bool l1pass = (_i & 1) != 0;
    uint32_t proc2 = ((_i & 2) ? X2APIC_MODE : 0u) | ((_i & 4) ? APIC_REG : 0u) | ((_i & 8) ? VID : 0u);
    for (uint32_t msr = 0x800u; msr <= 0x8ffu; msr++)
        ck_assert_int_eq(vcore_mock_set_msr_pass(vcpu, msr, true, true), VCORE_OK);
    memset(&ram[MSRBM], 0xff, 4096);
    for (uint32_t msr = 0x800u; msr <= 0x8ffu; msr++) {
        l1_set(msr, false, l1pass);
        l1_set(msr, true, l1pass);
    }
    l1_x2apic(proc2);
    launch();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & X2APIC_MODE, proc2 & X2APIC_MODE);
    const uint8_t *bm = bm02();
    uint32_t passing = 0;
    for (uint32_t msr = 0x800u; msr <= 0x8ffu; msr++) {
        for (int w = 0; w < 2; w++) {
            bool pass = l1pass && x2apic_virtualized(msr, w != 0, proc2);
            ck_assert_msg(exits(bm, msr, w != 0) == !pass, "MSR %#x %s", msr, w ? "write" : "read");
            passing += pass ? 1u : 0u;
        }
    }
    /* Nothing else of the page lets anything through. */
    uint32_t ones = 0;
    for (uint32_t b = 0; b < 4096; b++)
        ones += (uint32_t)__builtin_popcount(bm[b]);
    ck_assert_uint_eq(ones, 4096u * 8u - passing);
}
END_TEST

/* L1 changes its bitmap, then drops the control, between entries: the
 * next entry follows each time; without the control the whole range
 * intercepts again. */
START_TEST(x2apic_follows_l1_changes_and_control_off)
{
    memset(&ram[MSRBM], 0xff, 4096);
    l1_set(0x808u, false, true);
    l1_set(0x808u, true, true);
    l1_x2apic(X2APIC_MODE | APIC_REG);
    launch();
    const uint8_t *bm = bm02();
    ck_assert(!exits(bm, 0x808u, false));
    ck_assert(!exits(bm, 0x808u, true));
    ck_assert(exits(bm, 0x802u, false));
    /* L1 lets 802H reads through and intercepts TPR writes. */
    l1_set(0x802u, false, true);
    l1_set(0x808u, true, false);
    enter(VCORE_NVMX_VMRESUME);
    bm = bm02();
    ck_assert(!exits(bm, 0x802u, false));
    ck_assert(!exits(bm, 0x808u, false));
    ck_assert(exits(bm, 0x808u, true));
    /* L1 drops "virtualize x2APIC mode": vmcs02 too, and the range exits. */
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, APIC_REG);
    enter(VCORE_NVMX_VMRESUME);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & X2APIC_MODE, 0);
    assert_x2apic_range_exits(bm02());
}
END_TEST

/* The control without L1's "use MSR bitmaps": every RDMSR/WRMSR is L1's
 * ("Instructions That Cause VM Exits Conditionally"), the range too. */
START_TEST(x2apic_without_l1_bitmaps_every_access_exits)
{
    memset(&ram[MSRBM], 0, 4096);
    l1_x2apic(X2APIC_MODE | APIC_REG | VID);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, PROC12 | TPR_SHADOW | ACTIVATE_SECONDARY);
    launch();
    assert_x2apic_range_exits(bm02());
}
END_TEST

static Suite *msrbmp_suite(void)
{
    Suite *s = suite_create("nested_msrbmp");
    TCase *tc = tcase_create("bitmap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, candidate_passes_only_when_l0_and_l1_pass, 0, 16);
    tcase_add_test(tc, l1_without_bitmaps_every_access_exits);
    tcase_add_test(tc, l0_intercepting_everything_lets_nothing_through);
    tcase_add_test(tc, l1_bitmap_change_followed_at_next_entry);
    tcase_add_test(tc, l1_bitmap_address_change_followed);
    tcase_add_test(tc, unmapped_l1_bitmap_lets_nothing_through);
    tcase_add_test(tc, unchanged_bitmap_not_rewritten);
    tcase_add_test(tc, l0_intercept_l1_pass_completed_with_l2_value);
    suite_add_tcase(s, tc);
    TCase *tx = tcase_create("x2apic");
    tcase_add_checked_fixture(tx, setup, teardown);
    tcase_add_loop_test(tx, x2apic_passes_only_virtualized_accesses_l1_passes, 0, 16);
    tcase_add_test(tx, x2apic_follows_l1_changes_and_control_off);
    tcase_add_test(tx, x2apic_without_l1_bitmaps_every_access_exits);
    suite_add_tcase(s, tx);
    TCase *tl = tcase_create("layout");
    tcase_add_test(tl, bitmap_layout_edges);
    suite_add_tcase(s, tl);
    return s;
}

int main(void)
{
    return vcore_test_run(msrbmp_suite());
}
