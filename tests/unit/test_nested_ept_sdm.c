/*
 * test_nested_ept_sdm.c - nested EPT on the vCPU pipeline (mock backend)
 * against the Intel SDM, black box: L1's EPT (ept12) as L2 sees it through
 * the shadow EPT the library builds, EPT violations and misconfigurations
 * reflected to L1, accessed and dirty flags, the EPTP checks at VM entry,
 * and L1's INVEPT.
 *
 * Every expected value is written from SDM Vol. 3:
 * - "EPT Translation Mechanism" (entry formats: PML4E bits 7:3 reserved;
 *   a PDPTE/PDE referencing a table: bits 6:3 reserved, bit 7 = 0; a
 *   1-GByte page: bits 29:12 reserved; a 2-MByte page: bits 20:12
 *   reserved; bits 51:N reserved (N = MAXPHYADDR); bits 11:8 and 63:52
 *   ignored (8 and 9 are the A/D flags when EPTP[6] = 1));
 * - "EPT Misconfigurations" (bits 2:0 = 010b or 110b; 100b when
 *   IA32_VMX_EPT_VPID_CAP[0] (execute-only) is 0; a reserved bit in a
 *   present entry; a leaf memory type 2, 3 or 7);
 * - "EPT Violations" (an EPT violation happens only where the translation
 *   causes no misconfiguration; not present, or a read/write/fetch with the
 *   bit clear in ANY entry used);
 * - "Exit Qualification for EPT Violations" (bits 2:0 the access; bits 5:3
 *   the logical AND of bits 2:0 of all the entries used, 0 for a
 *   not-present entry; bit 7 linear address valid; bit 8 translation of
 *   the linear address vs. access to a paging-structure entry; 11:9 only
 *   with "advanced VM-exit information" (IA32_VMX_EPT_VPID_CAP[22]); bit
 *   12 NMI unblocking due to IRET; a paging-structure access treated as a
 *   write (EPTP[6]) sets bits 0 and 1);
 * - "Basic VM-Exit Information" (the exit qualification is cleared for an
 *   EPT misconfiguration; the guest-physical address is saved for EPT
 *   violations and misconfigurations);
 * - "Accessed and Dirty Flags for EPT" (with EPTP[6], each entry used gets
 *   its accessed flag, the entry mapping the final page its dirty flag on a
 *   write; accesses to guest paging structures are writes);
 * - "Checks on VM-Execution Control Fields" (the EPT pointer);
 * - "INVEPT - Invalidate Translations Derived from EPT" (VMfailValid 28
 *   for a type IA32_VMX_EPT_VPID_CAP does not support or an EPTP that
 *   would fail VM entry; single-context: mappings of EPTP bits 51:12;
 *   memory-operand #GP / #PF) and "Invalidation of TLBs and
 *   Paging-Structure Caches" (without INVEPT, stale translations may be
 *   used; after it they must not be).
 *
 * The hosted default host's physical addresses are its virtual ones, so
 * the tests walk vmcs02's EPT pointer the way the processor would.
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>
#include <virtcore/x86/vmx_checks.h>

#include "nested_fixture.h"

/* ept12 in L1 memory. */
#define E_PML4 0x50000u
#define E_PDPT 0x51000u
#define E_PD 0x52000u
#define E_PT 0x53000u
#define E_PML4_B 0x54000u
#define WB (6ull << 3)
#define EPTP12 (E_PML4 | 6u | (3u << 3)) /* WB paging structures, 4 levels */
#define EPTP12_AD (EPTP12 | (1u << 6))
#define RWX 7ull
#define PS (1ull << 7)
#define A_BIT (1ull << 8)
#define D_BIT (1ull << 9)
#define Q_GLA (1ull << 7)   /* qualification bit 7: guest linear address valid */
#define Q_FINAL (1ull << 8) /* bit 8: access to the final translation */
#define ADDR_MASK 0x000ffffffffff000ull
#define L2_PAGE 0x5000u     /* the L2 page most tests touch */
#define L1_PAGE 0x60000u    /* ... and where ept12 maps it */
#define CAP_EXEC_ONLY (1ull << 0)
#define CAP_ADV_INFO (1ull << 22)
#define CAP_INVEPT_SINGLE (1ull << 25)
#define CAP_INVEPT_ALL (1ull << 26)

static void setup(void)
{
    nested_vm(NULL, NULL, NULL, VCORE_NVMX_OPT_VERIFY_CHECKS);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

static uint64_t get64(uint64_t gpa)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, gpa, &v, 8), VCORE_OK);
    return v;
}

/* The entry of `level` (4 PML4E ... 1 PTE) that translates l2 in the
 * tables of ept12_map(). */
static uint64_t entry_addr(uint64_t l2, int level)
{
    static const uint64_t table[5] = {0, E_PT, E_PD, E_PDPT, E_PML4};
    return table[level] + ((l2 >> (12 + 9 * (level - 1))) & 511) * 8;
}

/* ept12: one path of tables from E_PML4, every non-leaf entry RWX, the leaf
 * (bits as given, PS added for levels 2 and 3) at `level`. */
static void ept12_map(uint64_t l2, uint64_t leaf, int level)
{
    for (int l = 4; l > level; l--) {
        static const uint64_t next[5] = {0, 0, E_PT, E_PD, E_PDPT};
        put(entry_addr(l2, l), next[l] | RWX, 8);
    }
    put(entry_addr(l2, level), leaf | (level > 1 ? PS : 0), 8);
}

static void vmcs12_with_ept(uint64_t eptp)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1);
    set12(VCORE_VMCS_EPT_POINTER, eptp);
}

static void push_ept_exit(uint32_t reason, uint64_t qual, uint64_t gpa, uint64_t gla)
{
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS};
    uint64_t val[3] = {qual, gpa, gla};
    push_l2(VCORE_HW_ENTRY_EXIT, reason, 0, 3, enc, val);
}

/* L1's VMLAUNCH, then the processor's EPT violation of L2 for (qual, gpa,
 * gla), then L2's CPUID (reflected: L1 wants every CPUID), then L1's HLT
 * for the VMM. When the library reflects the violation, L1 halts before
 * the CPUID is consumed; either way the VMM sees the HLT. */
static void launch_violation(uint64_t qual, uint64_t gpa, uint64_t gla)
{
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, qual, gpa, gla);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

/* L1 got exit `reason` for L2's access (RIP at L2's instruction, L1 at its
 * host RIP), with the guest-physical address field `gpa` ("Basic VM-Exit
 * Information"). */
static void assert_l1_got(uint32_t reason, uint64_t gpa)
{
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), reason);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), gpa);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(regs().rip, HOST_RIP);
}

/* The EPT violation reached L1 with exactly this qualification. */
static void assert_violation(uint64_t qual, uint64_t gpa)
{
    assert_l1_got(VCORE_VMX_EXIT_EPT_VIOLATION, gpa);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), qual);
}

/* An EPT misconfiguration reached L1: qualification cleared. */
static void assert_misconfig(uint64_t gpa)
{
    assert_l1_got(VCORE_VMX_EXIT_EPT_MISCONFIG, gpa);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
}

/* L0 served the violation: L1 saw only the CPUID after it. */
static void assert_l0_served(void)
{
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(last().l0_handled, 1);
}

static uint64_t eptp02_of_last_entry(void)
{
    const struct vcore_hw_vmcs *v02 = vcore_mock_vmcs_last_entered(vcpu);
    ck_assert_ptr_nonnull(v02);
    uint64_t x = 0;
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, &x), VCORE_OK);
    ck_assert_uint_eq(x & 2u, 2u);
    ck_assert_int_eq(vcore_mock_vmcs_peek(vcpu, v02, VCORE_VMCS_EPT_POINTER, &x), VCORE_OK);
    return x;
}

/* Walks the EPT of eptp02 (host memory, physical = virtual) for gpa as the
 * processor would: the leaf, 0 if not present; *hpa the final address. */
static uint64_t walk02(uint64_t eptp02, uint64_t gpa, uint64_t *hpa)
{
    const uint64_t *t = (const uint64_t *)(uintptr_t)(eptp02 & ADDR_MASK);
    for (int l = 4; l >= 1; l--) {
        uint64_t e = t[(gpa >> (12 + 9 * (l - 1))) & 511];
        if (!(e & 7))
            return 0;
        if (l == 1 || (e & PS)) {
            uint64_t size = 1ull << (12 + 9 * (l - 1));
            *hpa = (e & ADDR_MASK & ~(size - 1)) | (gpa & (size - 1));
            return e;
        }
        t = (const uint64_t *)(uintptr_t)(e & ADDR_MASK);
    }
    return 0;
}

/* The host address of L1 guest-physical address a (RAM at 0). */
static uint64_t host_of(uint64_t a)
{
    return (uint64_t)(uintptr_t)(ram + a);
}

/* The test VM again, L1 offered the capabilities without the
 * IA32_VMX_EPT_VPID_CAP bits `clear` of what it was offered. */
static void vm_without_ept_caps(uint64_t clear)
{
    vcore_nvmx_caps_t c = *vcore_nvmx_caps(nv);
    nested_vm_destroy(0);
    c.msr[VCORE_NVMX_CAP_EPT_VPID] &= ~clear;
    nested_vm(NULL, NULL, &c, VCORE_NVMX_OPT_VERIFY_CHECKS);
    ck_assert_uint_eq(vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_EPT_VPID] & clear, 0);
}

/* ---- "Exit Qualification for EPT Violations" ---- */

/* Bits 5:3 are the AND of bits 2:0 across ALL the entries used: each
 * level in turn denies one right (_i: level 4..1 denies write, fetch or
 * read in rotation); an access needing that right is an EPT violation for
 * L1 whose bits 5:3 lack exactly it, bits 7 and 8 as the processor
 * reported them, the GPA field the exact L2 address. */
START_TEST(violation_rights_are_and_of_every_level)
{
    int level = 4 - (_i % 4);
    uint64_t deny = 1ull << (_i % 3); /* read, write, fetch */
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    uint64_t a = entry_addr(L2_PAGE, level);
    uint64_t rest = deny == 1 ? 4 : RWX & ~deny; /* without read: keep it execute-only (write-only is a misconfiguration) */
    put(a, (get64(a) & ~RWX) | rest, 8);
    launch_violation(deny | Q_GLA | Q_FINAL, L2_PAGE + 0x123, 0x405123);
    assert_violation(deny | (rest << 3) | Q_GLA | Q_FINAL, L2_PAGE + 0x123);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), 0x405123);
}
END_TEST

/* Mixed rights: PML4E R+X, PDPTE R+W, PDE RWX, PTE RWX - the walk grants
 * read only (101b AND 011b = 001b): a fetch and a write violate with bits
 * 5:3 = 001b, a read is L0's to serve. */
START_TEST(violation_rights_mixed_levels)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    put(entry_addr(L2_PAGE, 4), E_PDPT | 5, 8);
    put(entry_addr(L2_PAGE, 3), E_PD | 3, 8);
    uint64_t access = _i == 0 ? 4 : 2;
    launch_violation(access | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_violation(access | (1u << 3) | Q_GLA | Q_FINAL, L2_PAGE);
}
END_TEST

/* A not-present entry at any level (_i: 4..1): bits 5:3 are 0 (the entry
 * grants nothing, so the AND is 0). */
START_TEST(violation_not_present_at_each_level)
{
    int level = 4 - _i;
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    put(entry_addr(L2_PAGE, level), 0, 8);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE + 8, 0x405008);
    assert_violation(1 | Q_GLA | Q_FINAL, L2_PAGE + 8);
}
END_TEST

/* Bit 7 clear (no linear address: e.g. a PDPTE load) gives bit 8 clear;
 * bit 12 (NMI unblocking due to IRET) is passed on; bits 11:9 exist only
 * with "advanced VM-exit information for EPT violations", which L1 is not
 * offered (IA32_VMX_EPT_VPID_CAP[22] = 0): they are 0 for L1. */
START_TEST(violation_bits_7_8_12_and_no_advanced_info)
{
    ck_assert_uint_eq(vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_EPT_VPID] & CAP_ADV_INFO, 0);
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | 1 | WB, 1);
    uint64_t hw = 2 | (7u << 9) | (1u << 12) | (_i ? (Q_GLA | Q_FINAL) : 0);
    launch_violation(hw, L2_PAGE + 0x10, 0x405010);
    assert_violation(2 | (1u << 3) | (1u << 12) | (_i ? (Q_GLA | Q_FINAL) : 0), L2_PAGE + 0x10);
    if (_i)
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), 0x405010);
}
END_TEST

/* ---- "EPT Translation Mechanism": large pages ---- */

/* A 2-MByte leaf (PDE bit 7) and a 1-GByte leaf (PDPTE bit 7): L2 address
 * bits 20:0 (29:0) come from the L2 address, the rest from the entry. L0
 * serves the fault; ept02 then maps the L2 page at the host page of the
 * composed L1 address, with no more rights than ept12 grants. */
START_TEST(large_page_leaf_2m_and_1g)
{
    int level = _i ? 3 : 2;
    uint64_t l2 = _i ? 0x40060123ull : 0x260123ull; /* 1 GiB + 0x60123 / 2 MiB + 0x60123 */
    vmcs12_with_ept(EPTP12);
    ept12_map(l2, 0 | 5 | WB, level); /* R+X, L1 address 0 */
    launch_violation(1 | Q_GLA | Q_FINAL, l2, 0x400123);
    assert_l0_served();
    uint64_t hpa = 0, leaf = walk02(eptp02_of_last_entry(), l2, &hpa);
    ck_assert_uint_ne(leaf, 0);
    ck_assert_uint_eq(hpa, host_of(0x60123));
    ck_assert_uint_eq(leaf & RWX & ~5ull, 0);
}
END_TEST

/* ---- "EPT Misconfigurations" ---- */

/* Reserved bits of entries that reference a table: PML4E bits 7:3,
 * PDPTE/PDE bits 6:3 (_i: level and bit). Exit 49 with qualification 0,
 * whatever the access. */
START_TEST(misconfig_reserved_bits_non_leaf)
{
    int level = 4 - _i / 5;
    int bit = 3 + _i % 5;
    if (level < 4 && bit == 7)
        bit = 6; /* bit 7 of a PDPTE/PDE selects a page: covered below */
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    uint64_t a = entry_addr(L2_PAGE, level);
    put(a, get64(a) | (1ull << bit), 8);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE + 0x40, 0x405040);
    assert_misconfig(L2_PAGE + 0x40);
}
END_TEST

/* A 2-MByte leaf reserves bits 20:12, a 1-GByte leaf bits 29:12 (_i
 * walks the bits of both). */
START_TEST(misconfig_reserved_bits_large_leaf)
{
    int level = _i < 9 ? 2 : 3;
    int bit = _i < 9 ? 12 + _i : 12 + (_i - 9);
    uint64_t l2 = level == 2 ? 0x200000ull : 0x40000000ull;
    vmcs12_with_ept(EPTP12);
    ept12_map(l2, 0 | RWX | WB | (1ull << bit), level);
    launch_violation(1 | Q_GLA | Q_FINAL, l2 + 0x1000, 0x401000);
    assert_misconfig(l2 + 0x1000);
}
END_TEST

/* Bits 51:N beyond L1's physical-address width (N = 40 here, CPUID
 * 80000008H) are reserved at every level (_i: level 4..1, bits 40 and 51). */
START_TEST(misconfig_beyond_maxphyaddr_each_level)
{
    int level = 4 - _i / 2;
    int bit = _i % 2 ? 51 : 40;
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    uint64_t a = entry_addr(L2_PAGE, level);
    put(a, get64(a) | (1ull << bit), 8);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_misconfig(L2_PAGE);
}
END_TEST

/* Bits 2:0 = 010b (write-only) or 110b (write/execute) at any level (_i:
 * level and value), even for a read the other entries allow. */
START_TEST(misconfig_write_without_read_each_level)
{
    int level = 4 - _i / 2;
    uint64_t rwx = _i % 2 ? 6 : 2;
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    uint64_t a = entry_addr(L2_PAGE, level);
    put(a, (get64(a) & ~RWX) | rwx, 8);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_misconfig(L2_PAGE);
}
END_TEST

/* A leaf memory type of 2, 3 or 7 is reserved in a 4-KByte, 2-MByte or
 * 1-GByte leaf (_i: leaf level and type). */
START_TEST(misconfig_leaf_memory_type)
{
    static const uint64_t bad[3] = {2, 3, 7};
    int level = 1 + _i / 3;
    uint64_t l2 = level == 1 ? L2_PAGE : level == 2 ? 0x200000ull : 0x40000000ull;
    uint64_t l1 = level == 1 ? L1_PAGE : 0;
    vmcs12_with_ept(EPTP12);
    ept12_map(l2, l1 | RWX | (bad[_i % 3] << 3), level);
    launch_violation(1 | Q_GLA | Q_FINAL, l2, 0x401000);
    assert_misconfig(l2);
}
END_TEST

/* The other leaf memory types (UC 0, WC 1, WT 4, WP 5, WB 6) are valid:
 * L0 serves the fault. L2's accesses get the type L1's EPT gives, with
 * L1's IPAT ("EPT and Memory Typing": the EPT memory type, combined with
 * PAT unless IPAT): L0's memory is ordinary write-back RAM, so ept02's
 * leaf carries L1's type and IPAT (_i 5..9: the same with IPAT). */
START_TEST(valid_leaf_memory_types)
{
    static const uint64_t ok[5] = {0, 1, 4, 5, 6};
    uint64_t ipat = _i >= 5 ? (1u << 6) : 0;
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | (ok[_i % 5] << 3) | ipat, 1);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_l0_served();
    uint64_t hpa = 0, leaf = walk02(eptp02_of_last_entry(), L2_PAGE, &hpa);
    ck_assert_uint_eq((leaf >> 3) & 7, ok[_i % 5]);
    ck_assert_uint_eq(leaf & (1u << 6), ipat);
}
END_TEST

/* Misconfigurations come first: "An EPT violation may occur during an
 * access using a guest-physical address whose translation does not cause
 * an EPT misconfiguration". A write the PML4E forbids, through a leaf of
 * memory type 7, is exit 49, not 48. */
START_TEST(misconfig_wins_over_violation)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | (7u << 3), 1);
    put(entry_addr(L2_PAGE, 4), E_PDPT | 1, 8);
    launch_violation(2 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_misconfig(L2_PAGE);
}
END_TEST

/* Ignored bits are not reserved: bits 11:8 (A/D flags off: EPTP[6] = 0)
 * and 63:52 (bit 63 "suppress #VE" only with "EPT-violation #VE", which L1
 * is not offered) in every entry; bit 6 (IPAT) and bit 7 in the 4-KByte
 * leaf. L0 serves the fault and leaves L1's entries as they were. */
START_TEST(ignored_bits_are_not_misconfigurations)
{
    uint64_t ign = (0xfull << 8) | (0xfffull << 52);
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB | (1u << 6) | (1u << 7), 1);
    for (int l = 4; l >= 1; l--)
        put(entry_addr(L2_PAGE, l), get64(entry_addr(L2_PAGE, l)) | ign, 8);
    launch_violation(2 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_l0_served();
    uint64_t hpa = 0;
    ck_assert_uint_ne(walk02(eptp02_of_last_entry(), L2_PAGE, &hpa), 0);
    ck_assert_uint_eq(hpa, host_of(L1_PAGE));
}
END_TEST

/* Execute-only (100b) is a misconfiguration when IA32_VMX_EPT_VPID_CAP[0]
 * is 0 (_i = 1: L1 is offered no execute-only) and a valid entry when it
 * is 1 (_i = 0): then a fetch is served and a read is a violation whose
 * bits 5:3 are 100b. */
START_TEST(execute_only_needs_the_capability)
{
    if (_i)
        vm_without_ept_caps(CAP_EXEC_ONLY);
    else
        ck_assert_uint_eq(vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_EPT_VPID] & CAP_EXEC_ONLY, CAP_EXEC_ONLY);
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | 4 | WB, 1);
    launch_violation(4 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    if (_i) {
        assert_misconfig(L2_PAGE);
        return;
    }
    assert_l0_served();
    /* A data read of it (L1 halted; resume L2). */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1 | Q_GLA | Q_FINAL, L2_PAGE + 8, 0x405008);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 1 | (4u << 3) | Q_GLA | Q_FINAL);
}
END_TEST

/* A PDPTE with bit 7 (a 1-GByte page) where IA32_VMX_EPT_VPID_CAP[17]
 * does not offer 1-GByte pages ("EPT Translation Mechanism": not all
 * processors allow bit 7 of an EPT PDPTE to be 1; a bit that may not be 1
 * is reserved): exit 49. A 2-MByte page stays valid. */
START_TEST(one_gbyte_page_needs_the_capability)
{
    vm_without_ept_caps(1ull << 17);
    vmcs12_with_ept(EPTP12);
    uint64_t l2 = _i ? 0x260000ull : 0x40060000ull;
    ept12_map(l2, 0 | RWX | WB, _i ? 2 : 3);
    launch_violation(1 | Q_GLA | Q_FINAL, l2, 0x400000);
    if (_i)
        assert_l0_served();
    else
        assert_misconfig(l2);
}
END_TEST

/* ---- L0's restrictions are L0's ---- */

#define ROM_GPA 0x400000u
#define L2_CODE 0x70000u
#define L1_CODE 0x74000u
static uint8_t rom[4096] __attribute__((aligned(4096)));

/* ept12 grants RWX on an L1 page L0 maps read-only (ept01 forbids the
 * write): L2's write (MOV [RBX], ECX: 89 0B at L2_CODE, RBX = L2 0x7008)
 * is the VMM's MMIO write at the L1 address, never an exit to L1 (L1's
 * EPT allowed it); L2's read of the page is served with ept02 granting no
 * write. */
START_TEST(l0_forbidden_access_is_never_l1s)
{
    static const uint8_t mov[] = {0x89, 0x0b};
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = ROM_GPA, .len = sizeof(rom), .hva = rom,
                            .flags = VCORE_MEM_READONLY};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    vmcs12_with_ept(EPTP12);
    set12(VCORE_VMCS_GUEST_RIP, L2_CODE);
    for (uint64_t pt = PML4; pt <= PD; pt += 0x1000)
        ept12_map(pt, pt | RWX | WB, 1);
    ept12_map(L2_CODE, L1_CODE | RWX | WB, 1);
    ept12_map(0x7000, ROM_GPA | RWX | WB, 1);
    ck_assert_int_eq(vcore_vm_write_guest(vm, L1_CODE, mov, sizeof(mov)), VCORE_OK);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RBX, 0x7008);
    nested_set_gpr(VCORE_X86_RCX, 0x11223344);
    uint8_t before[VCORE_VMCS12_SIZE];
    memcpy(before, vcore_nvmx_vmcs12(nv), sizeof(before));
    before[VCORE_VMCS12_OFF_LAUNCH_STATE] = 1;
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 2 | Q_GLA | Q_FINAL, 0x7008, 0x7008);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    ck_assert_uint_eq(e.u.mmio.gpa, ROM_GPA + 8);
    ck_assert_uint_eq(last().reflected, 0);
    ck_assert(last().in_l2);
    ck_assert_mem_eq(vcore_nvmx_vmcs12(nv), before, sizeof(before));
    /* The VMM completes it; L2 reads the page: L0 serves the read. */
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1 | Q_GLA | Q_FINAL, 0x7010, 0x7010);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    uint64_t hpa = 0, leaf = walk02(eptp02_of_last_entry(), 0x7010, &hpa);
    ck_assert_uint_ne(leaf & 1, 0);
    ck_assert_uint_eq(leaf & 2, 0);
    ck_assert_uint_eq(hpa, (uint64_t)(uintptr_t)rom + 0x10);
}
END_TEST

/* ---- "Accessed and Dirty Flags for EPT" (EPTP[6] = 1) ---- */

/* A read sets the accessed flag of every entry used, no dirty flag, and
 * writes nothing else of L1 memory; ept02 must not let L2 write the clean
 * page unseen (a write must set the dirty flag): the later write faults,
 * and sets the dirty flag of the leaf only. */
static uint8_t ram_before[RAM];
START_TEST(ad_read_accessed_everywhere_write_dirty_leaf_only)
{
    vmcs12_with_ept(EPTP12_AD);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    load_vmcs12();
    memcpy(ram_before, ram, RAM);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_l0_served();
    for (int l = 4; l >= 1; l--) {
        uint64_t a = entry_addr(L2_PAGE, l);
        ck_assert_uint_eq(get64(a) & (A_BIT | D_BIT), A_BIT);
        uint64_t e;
        memcpy(&e, ram_before + a, 8);
        e |= A_BIT;
        memcpy(ram_before + a, &e, 8);
    }
    ck_assert_mem_eq(ram, ram_before, RAM);
    uint64_t hpa = 0, leaf = walk02(eptp02_of_last_entry(), L2_PAGE, &hpa);
    ck_assert_uint_eq(leaf & 3, 1);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 2 | Q_GLA | Q_FINAL, L2_PAGE + 4, 0x405004);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get64(entry_addr(L2_PAGE, 1)) & (A_BIT | D_BIT), A_BIT | D_BIT);
    for (int l = 4; l >= 2; l--)
        ck_assert_uint_eq(get64(entry_addr(L2_PAGE, l)) & (A_BIT | D_BIT), A_BIT);
    leaf = walk02(eptp02_of_last_entry(), L2_PAGE, &hpa);
    ck_assert_uint_eq(leaf & 3, 3);
}
END_TEST

/* On a 2-MByte (_i 0) or 1-GByte (_i 1) leaf, a write sets A and D in the
 * leaf, A only in the entries above it. */
START_TEST(ad_on_large_leaf)
{
    int level = _i ? 3 : 2;
    uint64_t l2 = _i ? 0x40060000ull : 0x260000ull;
    vmcs12_with_ept(EPTP12_AD);
    ept12_map(l2, 0 | RWX | WB, level);
    launch_violation(2 | Q_GLA | Q_FINAL, l2, 0x400000);
    assert_l0_served();
    ck_assert_uint_eq(get64(entry_addr(l2, level)) & (A_BIT | D_BIT), A_BIT | D_BIT);
    for (int l = 4; l > level; l--)
        ck_assert_uint_eq(get64(entry_addr(l2, l)) & (A_BIT | D_BIT), A_BIT);
}
END_TEST

/* Without EPTP[6], bits 8 and 9 are ignored: nothing writes them. */
START_TEST(ad_off_leaves_ept12_untouched)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    uint64_t before[4];
    for (int l = 4; l >= 1; l--)
        before[l - 1] = get64(entry_addr(L2_PAGE, l));
    launch_violation(2 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_l0_served();
    for (int l = 4; l >= 1; l--)
        ck_assert_uint_eq(get64(entry_addr(L2_PAGE, l)), before[l - 1]);
}
END_TEST

/* L2's access to its own paging structures is a write with EPTP[6]: the
 * processor reports bits 0 and 1 (bit 7 set, bit 8 clear). L0 serves it
 * and sets the dirty flag of the ept12 leaf mapping that page (_i 0); if
 * that leaf is read-only (R+X), L1 gets the violation with bits 0 and 1
 * set and bits 5:3 = 101b (_i 1). */
START_TEST(ad_guest_paging_structure_access_is_a_write)
{
    vmcs12_with_ept(EPTP12_AD);
    ept12_map(0x3000, 0x3000 | (_i ? 5 : RWX) | WB, 1);
    launch_violation(3 | Q_GLA, 0x3008, 0x7fff000);
    if (_i) {
        assert_violation(3 | (5u << 3) | Q_GLA, 0x3008);
        return;
    }
    assert_l0_served();
    ck_assert_uint_eq(get64(entry_addr(0x3000, 1)) & (A_BIT | D_BIT), A_BIT | D_BIT);
}
END_TEST

/* ---- PAE paging of L2 with EPT: the PDPTEs live in the VMCS ----
 * "Loading Guest State": with "enable EPT" and PAE paging outside IA-32e
 * mode, VM entry loads the PDPTEs from the guest PDPTE fields (not from
 * memory at CR3); "Saving Guest State": VM exit saves them there. L2 is
 * 32-bit protected mode with CR4.PAE; its PDPTEs in vmcs12 are not what
 * L2 memory at CR3 holds. vmcs02 must carry vmcs12's, and L1 must see what
 * the processor saved at the exit. */
START_TEST(pae_pdptes_from_and_to_the_vmcs)
{
    vmcs12_with_ept(EPTP12);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb); /* not IA-32e mode guest */
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);
    set12(VCORE_VMCS_GUEST_CR3, 0x7000);
    set12(VCORE_VMCS_GUEST_PDPTR0, 0x10001);
    set12(VCORE_VMCS_GUEST_PDPTR1, 0x11001);
    set12(VCORE_VMCS_GUEST_PDPTR2, 0);
    set12(VCORE_VMCS_GUEST_PDPTR3, 0x13001);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[4] = {VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, VCORE_VMCS_GUEST_PDPTR1, VCORE_VMCS_GUEST_PDPTR2,
                       VCORE_VMCS_GUEST_ES_SELECTOR};
    uint64_t val[4] = {2, 0x21001, 0x22001, 0x18};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_CPUID, 0, 4, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    /* The entry: vmcs02 had vmcs12's PDPTE0 and PDPTE3 (the exit changed only 1 and 2). */
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR0), 0x10001);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR3), 0x13001);
    /* The exit: L1 reads what the processor saved. */
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PDPTR0), 0x10001);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PDPTR1), 0x21001);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PDPTR2), 0x22001);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PDPTR3), 0x13001);
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, VCORE_VMCS_GUEST_PDPTR1, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x21001);
    /* The rest of the guest state is saved as well (ES selector). */
    nested_l1_vmx_reg(VCORE_NVMX_VMREAD, VCORE_VMCS_GUEST_ES_SELECTOR, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x18);
    /* L1 writes PDPTE0 and resumes: the next entry loads L1's value. */
    nested_l1_vmx_reg(VCORE_NVMX_VMWRITE, VCORE_VMCS_GUEST_PDPTR0, 0x31001);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR0), 0x31001);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PDPTR0), 0x31001);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PDPTR1), 0x21001);
}
END_TEST

/* Without L1's EPT the VM entry loads L2's PDPTEs from memory at CR3
 * ("Loading Page-Directory-Pointer-Table Entries"), whatever vmcs12's PDPTE
 * fields hold. vmcs02 runs on L0's EPT (vmcs01 has "enable EPT"), so the
 * processor takes them from vmcs02's PDPTE fields: those must hold the
 * four entries at L2's CR3. */
START_TEST(pae_pdptes_from_memory_without_l1_ept)
{
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcs_poke(vcpu, NULL, VCORE_VMCS_EPT_POINTER, 0xabc05e), VCORE_OK);
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xc09b);
    set12(VCORE_VMCS_GUEST_CR3, 0x7000);
    set12(VCORE_VMCS_GUEST_PDPTR0, 0x90001);
    put(0x7000, 0x10001, 8);
    put(0x7008, 0x11001, 8);
    put(0x7010, 0, 8);
    put(0x7018, 0x13001, 8);
    nested_launch_cpuid();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & 2u, 2u);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_EPT_POINTER), 0xabc05e);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR0), 0x10001);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR1), 0x11001);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR2), 0);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR3), 0x13001);
    /* Each VM entry loads them again: L1 changes the table and resumes. */
    put(0x7000, 0x15001, 8);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_GUEST_PDPTR0), 0x15001);
}
END_TEST

/* ---- "Page-Modification Logging" (L1's "enable PML" for L2) ----
 * Before an access the processor may first need to set an accessed or
 * dirty flag; then it examines the PML index: outside 0-511, a log-full
 * event (exit 62), no flag set, the access not done. Each dirty flag set
 * (0 to 1) logs the 4-KByte-aligned guest-physical address at PML address
 * + 8 * index, and the index goes down by one. */
#define PML_LOG 0x59000u

static void vmcs12_pml(uint16_t index)
{
    vmcs12_with_ept(EPTP12_AD);
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, (1u << 1) | (1u << 17));
    set12(VCORE_VMCS_PML_ADDRESS, PML_LOG);
    set12(VCORE_VMCS_GUEST_PML_INDEX, index);
}

/* Index FFFFH, a read of a page whose entries are all clean: only accessed
 * flags are to be set, and that is already a log-full event - exit 62,
 * qualification 0 (no IRET), no flag set, nothing logged, the index as
 * it was. */
START_TEST(pml_full_when_only_accessed_flags_are_due)
{
    vmcs12_pml(0xffff);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_PML_FULL);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 0xffff);
    for (int l = 4; l >= 1; l--)
        ck_assert_uint_eq(get64(entry_addr(L2_PAGE, l)) & (A_BIT | D_BIT), 0);
}
END_TEST

/* Index FFFFH but no flag to set (every entry accessed, the leaf dirty):
 * no event - L0 serves the write, nothing logged. */
START_TEST(pml_full_is_no_event_without_a_flag_to_set)
{
    vmcs12_pml(0xffff);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB | A_BIT | D_BIT, 1);
    for (int l = 4; l >= 2; l--)
        put(entry_addr(L2_PAGE, l), get64(entry_addr(L2_PAGE, l)) | A_BIT, 8);
    launch_violation(2 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_l0_served();
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), 0xffff);
}
END_TEST

/* Index 511: a read of a clean page sets accessed flags only - nothing
 * logged (_i 0); a write into a clean 2-MByte page logs the 4-KByte-aligned
 * L2 address (0x261000 for 0x261234) at entry 511, the index goes to 510
 * (_i 1). */
START_TEST(pml_logs_only_dirty_flags_4k_aligned)
{
    uint64_t l2 = 0x261234ull;
    vmcs12_pml(511);
    put(PML_LOG + 511 * 8, 0, 8);
    ept12_map(l2, 0 | RWX | WB, 2);
    launch_violation((_i ? 2 : 1) | Q_GLA | Q_FINAL, l2, 0x400234);
    assert_l0_served();
    ck_assert_uint_eq(get64(entry_addr(l2, 2)) & (A_BIT | D_BIT), _i ? (A_BIT | D_BIT) : A_BIT);
    ck_assert_uint_eq(get64(PML_LOG + 511 * 8), _i ? 0x261000ull : 0);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PML_INDEX), _i ? 510 : 511);
}
END_TEST

/* ---- "Checks on VM-Execution Control Fields": the EPT pointer ---- */

/* VMLAUNCH with L1's EPTP: memory type 1, 2, 3, 4, 5 or 7 (only UC 0 and
 * WB 6 exist), a page-walk length other than 4 (L1 is offered no 5-level
 * EPT: IA32_VMX_EPT_VPID_CAP[7] = 0), bits 11:8 set, or an address bit at
 * or beyond MAXPHYADDR (40): VMfailValid 7, L2 never entered. */
START_TEST(eptp_checks_at_entry)
{
    static const struct {
        uint64_t eptp;
        uint32_t check;
    } c[] = {
        {E_PML4 | 1 | (3u << 3), VCORE_VMX_CHECK_EXEC_EPTP_MEMTYPE},
        {E_PML4 | 2 | (3u << 3), VCORE_VMX_CHECK_EXEC_EPTP_MEMTYPE},
        {E_PML4 | 4 | (3u << 3), VCORE_VMX_CHECK_EXEC_EPTP_MEMTYPE},
        {E_PML4 | 5 | (3u << 3), VCORE_VMX_CHECK_EXEC_EPTP_MEMTYPE},
        {E_PML4 | 7 | (3u << 3), VCORE_VMX_CHECK_EXEC_EPTP_MEMTYPE},
        {E_PML4 | 6 | (4u << 3), VCORE_VMX_CHECK_EXEC_EPTP_WALK},
        {E_PML4 | 6 | (2u << 3), VCORE_VMX_CHECK_EXEC_EPTP_WALK},
        {E_PML4 | 6 | (3u << 3) | (1u << 8), VCORE_VMX_CHECK_EXEC_EPTP_RESERVED},
        {E_PML4 | 6 | (3u << 3) | (1u << 11), VCORE_VMX_CHECK_EXEC_EPTP_RESERVED},
        {E_PML4 | 6 | (3u << 3) | (1ull << 40), VCORE_VMX_CHECK_EXEC_EPTP_WIDTH},
        {E_PML4 | 6 | (3u << 3) | (1ull << 63), VCORE_VMX_CHECK_EXEC_EPTP_WIDTH},
    };
    ck_assert_uint_eq(vcore_nvmx_caps(nv)->msr[VCORE_NVMX_CAP_EPT_VPID] & (1u << 7), 0);
    vmcs12_with_ept(c[_i].eptp);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    nested_assert_vmfail7(c[_i].check);
}
END_TEST

/* UC (0) paging structures are as valid as WB: L2 runs. */
START_TEST(eptp_uc_is_valid)
{
    vmcs12_with_ept(E_PML4 | 0 | (3u << 3));
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
}
END_TEST

/* The EPT pointer is checked only with "enable EPT": with it 0, an EPTP
 * with every check failing does not stop the entry. */
START_TEST(eptp_unchecked_without_enable_ept)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 0);
    set12(VCORE_VMCS_EPT_POINTER, ~0ull);
    nested_launch_cpuid();
}
END_TEST

/* EPTP[6] without IA32_VMX_EPT_VPID_CAP[21]: VMfailValid 7. */
START_TEST(eptp_ad_needs_the_capability)
{
    vm_without_ept_caps(1ull << 21);
    vmcs12_with_ept(EPTP12_AD);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    nested_assert_vmfail7(VCORE_VMX_CHECK_EXEC_EPTP_AD);
}
END_TEST

/* ---- "INVEPT - Invalidate Translations Derived from EPT" ---- */

/* L1's INVEPT with type in RAX, descriptor at DS:[RBX]. */
static void l1_invept(uint64_t type, uint64_t rbx)
{
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = type;
    r.gpr[VCORE_X86_RBX] = rbx;
    r.rflags = 0x2 | 0x8d5;
    r.rip = L1_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    l1_insn(VCORE_NVMX_INVEPT, MEM_RBX, 5);
}

static void assert_invept_fail28(void)
{
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 5);
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0x40u); /* VMfailValid: ZF only */
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 28);
}

static void assert_invept_succeed(void)
{
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 5);
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0);
}

/* Types other than 1 and 2 - 0, 3, and 2^32 + 1 (the 64-bit register is
 * the type) - are VMfailValid 28, nothing invalidated. */
START_TEST(invept_unsupported_type_fails_28)
{
    static const uint64_t types[] = {0, 3, 4, 0x100000001ull, ~0ull};
    load_vmcs12();
    put(OPND_GPA, EPTP12, 8);
    put(OPND_GPA + 8, 0, 8);
    l1_invept(types[_i], OPND_GPA);
    assert_invept_fail28();
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 0);
}
END_TEST

/* A type IA32_VMX_EPT_VPID_CAP does not offer (_i 0: single-context, bit
 * 25 clear; _i 1: all-context, bit 26 clear) is VMfailValid 28; the other
 * type still succeeds. */
START_TEST(invept_type_not_in_capability_fails_28)
{
    vm_without_ept_caps(_i ? CAP_INVEPT_ALL : CAP_INVEPT_SINGLE);
    load_vmcs12();
    put(OPND_GPA, EPTP12, 8);
    put(OPND_GPA + 8, 0, 8);
    l1_invept(_i ? 2 : 1, OPND_GPA);
    assert_invept_fail28();
    l1_invept(_i ? 1 : 2, OPND_GPA);
    assert_invept_succeed();
}
END_TEST

/* A single-context INVEPT whose EPTP would fail VM entry is VMfailValid
 * 28: memory type 7, walk length 5, bits 11:8, bit 40 (_i). All-context
 * ignores the descriptor's EPTP. */
START_TEST(invept_single_context_invalid_eptp_fails_28)
{
    static const uint64_t bad[] = {E_PML4 | 7 | (3u << 3), E_PML4 | 6 | (4u << 3), EPTP12 | (1u << 9),
                                   EPTP12 | (1ull << 40)};
    load_vmcs12();
    put(OPND_GPA, bad[_i], 8);
    put(OPND_GPA + 8, 0, 8);
    l1_invept(1, OPND_GPA);
    assert_invept_fail28();
    l1_invept(2, OPND_GPA);
    assert_invept_succeed();
}
END_TEST

/* #UD when the processor L1 sees does not support INVEPT
 * (IA32_VMX_EPT_VPID_CAP[20] = 0): no VMfail, RIP at the instruction. */
START_TEST(invept_unsupported_is_ud)
{
    vm_without_ept_caps(VCORE_VMX_EPT_INVEPT | CAP_INVEPT_SINGLE | CAP_INVEPT_ALL);
    load_vmcs12();
    put(OPND_GPA, EPTP12, 8);
    put(OPND_GPA + 8, 0, 8);
    l1_invept(2, OPND_GPA);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 1);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 6);
    ck_assert_uint_eq(ev.has_error_code, 0);
    ck_assert_uint_eq(regs().rip, L1_RIP);
}
END_TEST

/* The type is checked before the descriptor is read (Operation: VMfail
 * when the type is not supported, "ELSE INVEPT_DESC <- value of memory
 * operand"): type 0 with a descriptor no paging maps is VMfailValid 28,
 * no #PF. Bits 127:64 of the descriptor are not checked: a single-context
 * INVEPT with them set succeeds. */
START_TEST(invept_type_before_descriptor_and_high_qword_unchecked)
{
    load_vmcs12();
    l1_invept(0, 0x40000000ull);
    assert_invept_fail28();
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 0);
    put(OPND_GPA, EPTP12, 8);
    put(OPND_GPA + 8, ~0ull, 8);
    l1_invept(1, OPND_GPA);
    assert_invept_succeed();
}
END_TEST

/* The descriptor's address: non-canonical in 64-bit mode is #GP(0)
 * (_i 0); not mapped by L1's paging is #PF with CR2 = the address and the
 * error code of a supervisor read of a not-present page (_i 1). RIP stays
 * at the INVEPT, nothing invalidated, no VMfail. */
START_TEST(invept_descriptor_fault)
{
    load_vmcs12();
    uint64_t addr = _i ? 0x40000000ull : 0x0000800000000000ull;
    l1_invept(1, addr);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 1);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, _i ? 14 : 13);
    ck_assert_uint_eq(ev.has_error_code, 1);
    ck_assert_uint_eq(ev.error_code, 0);
    if (_i)
        ck_assert_uint_eq(ev.cr2, addr);
    ck_assert_uint_eq(regs().rip, L1_RIP);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 0);
}
END_TEST

/* L2 built an ept02 for L1's EPTP (L2 0x5000 -> L1 0x60000, RWX); L1
 * moves the page (-> L1 0x61000, read-only). Without INVEPT the stale
 * translation may still be used ("Invalidation of TLBs and
 * Paging-Structure Caches"): nothing is asserted of it. After INVEPT
 * (_i 0: single-context with L1's EPTP; _i 1: single-context with an EPTP
 * of the same bits 51:12 but another memory type and A/D bit; _i 2:
 * all-context), the processor has been told to forget ept02, the next
 * vmcs02 maps nothing of the old page, and L2's write is L1's violation
 * with the new rights (bits 5:3 = 001b). */
START_TEST(invept_after_ept12_change_drops_stale_ept02)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    launch_violation(2 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_l0_served();
    uint64_t eptp02 = eptp02_of_last_entry(), hpa = 0;
    ck_assert_uint_ne(walk02(eptp02, L2_PAGE, &hpa), 0);
    ck_assert_uint_eq(hpa, host_of(L1_PAGE));
    put(entry_addr(L2_PAGE, 1), (L1_PAGE + 0x1000) | 1 | WB, 8);
    static const uint64_t desc[3] = {EPTP12, E_PML4 | 0 | (3u << 3) | (1u << 6), 0};
    put(OPND_GPA, desc[_i], 8);
    put(OPND_GPA + 8, 0, 8);
    uint64_t inv0 = vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT);
    l1_invept(_i == 2 ? 2 : 1, OPND_GPA);
    assert_invept_succeed();
    ck_assert_uint_gt(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), inv0);
    uint64_t inv = 0;
    ck_assert_int_eq(vcore_mock_last_invept(vcpu, &inv), VCORE_OK);
    ck_assert_uint_eq(inv, eptp02);
    /* L2 again, its first exit a CPUID: vmcs02's EPT maps nothing stale. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t leaf = walk02(eptp02_of_last_entry(), L2_PAGE, &hpa);
    ck_assert(leaf == 0 || (hpa == host_of(L1_PAGE + 0x1000) && !(leaf & 2)));
    /* L2's write: L1's violation with the rights ept12 now grants. */
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 2 | Q_GLA | Q_FINAL, L2_PAGE + 8, 0x405008);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_EPT_VIOLATION);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 2 | (1u << 3) | Q_GLA | Q_FINAL);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS), L2_PAGE + 8);
}
END_TEST

/* A single-context INVEPT for another EPTP (other bits 51:12) leaves
 * L1's ept02 alone; the all-context one drops every ept02, also one of an
 * EPTP that is not vmcs12's now. */
START_TEST(invept_single_is_per_eptp_all_is_every_eptp)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_l0_served();
    uint64_t eptp02 = eptp02_of_last_entry(), hpa = 0;
    put(OPND_GPA, E_PML4_B | 6 | (3u << 3), 8);
    put(OPND_GPA + 8, 0, 8);
    l1_invept(1, OPND_GPA);
    assert_invept_succeed();
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 0);
    ck_assert_uint_ne(walk02(eptp02, L2_PAGE, &hpa), 0);
    /* L1 switches vmcs12 to another EPTP (VMWRITE 201AH) and runs L2. */
    put(E_PML4_B, 0, 8);
    nested_set_gpr(VCORE_X86_RAX, E_PML4_B | 6 | (3u << 3));
    nested_set_gpr(VCORE_X86_RCX, VCORE_VMCS_EPT_POINTER);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (0u << 3) | (1u << 28), 3);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_ne(eptp02_of_last_entry(), eptp02);
    /* All-context: the first EPTP's ept02 is forgotten by the processor too. */
    l1_invept(2, OPND_GPA);
    assert_invept_succeed();
    ck_assert_uint_ge(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 2);
    /* Back on the first EPTP with ept12 changed: nothing stale. */
    put(entry_addr(L2_PAGE, 1), (L1_PAGE + 0x2000) | RWX | WB, 8);
    nested_set_gpr(VCORE_X86_RAX, EPTP12);
    nested_set_gpr(VCORE_X86_RCX, VCORE_VMCS_EPT_POINTER);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (0u << 3) | (1u << 28), 3);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t leaf = walk02(eptp02_of_last_entry(), L2_PAGE, &hpa);
    ck_assert(leaf == 0 || hpa == host_of(L1_PAGE + 0x2000));
}
END_TEST

/* A single-context INVEPT of one EPTP leaves the translations of another
 * EPTP correct: L1 runs L2 on EPTP B (L2 0x5000 -> L1 0x62000), then on
 * EPTP A (-> L1 0x60000), invalidates A and has L2 fault on A again (new
 * tables for A); back on B, vmcs02's EPT translates L2 0x5000 to B's page
 * or not at all - never to A's. */
START_TEST(invept_single_keeps_other_eptp_correct)
{
    uint64_t eptp_b = E_PML4_B | 6 | (3u << 3);
    /* ept12 B: its own PML4, sharing A's lower tables but for the leaf page. */
    put(E_PML4_B, 0x55000 | RWX, 8);
    put(0x55000, 0x56000 | RWX, 8);
    put(0x56000, 0x57000 | RWX, 8);
    put(0x57000 + 5 * 8, (L1_PAGE + 0x2000) | RWX | WB, 8);
    vmcs12_with_ept(eptp_b);
    launch_violation(1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    assert_l0_served();
    uint64_t eptp02_b = eptp02_of_last_entry(), hpa = 0;
    /* L1 switches to A and L2 faults there. */
    ept12_map(L2_PAGE, L1_PAGE | RWX | WB, 1);
    nested_set_gpr(VCORE_X86_RAX, EPTP12);
    nested_set_gpr(VCORE_X86_RCX, VCORE_VMCS_EPT_POINTER);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (0u << 3) | (1u << 28), 3);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    /* INVEPT single-context A; L2 on A faults on two pages again. */
    put(OPND_GPA, EPTP12, 8);
    put(OPND_GPA + 8, 0, 8);
    l1_invept(1, OPND_GPA);
    assert_invept_succeed();
    ept12_map(0x40005000ull, L1_PAGE | RWX | WB, 1);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1 | Q_GLA | Q_FINAL, L2_PAGE, 0x405000);
    push_ept_exit(VCORE_VMX_EXIT_EPT_VIOLATION, 1 | Q_GLA | Q_FINAL, 0x40005000ull, 0x405000);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    /* Back on B without INVEPT. */
    nested_set_gpr(VCORE_X86_RAX, eptp_b);
    nested_set_gpr(VCORE_X86_RCX, VCORE_VMCS_EPT_POINTER);
    l1_insn(VCORE_NVMX_VMWRITE, (1u << 10) | (0u << 3) | (1u << 28), 3);
    push_insn(VCORE_NVMX_VMRESUME, 0, 3);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    uint64_t now_b = eptp02_of_last_entry();
    uint64_t leaf = walk02(now_b, L2_PAGE, &hpa);
    ck_assert(leaf == 0 || hpa == host_of(L1_PAGE + 0x2000));
    if (now_b == eptp02_b && leaf == 0)
        ck_assert_uint_ge(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 2); /* B's dropped: the processor told */
}
END_TEST

/* INVEPT in L2 always exits to L1 (exit reason 50, "Instructions That
 * Cause VM Exits Unconditionally"), with the qualification and
 * instruction information the processor gave. */
START_TEST(invept_in_l2_exits_to_l1)
{
    vmcs12_with_ept(EPTP12);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN,
                       VCORE_VMCS_VMX_INSTRUCTION_INFO};
    uint64_t val[3] = {0x10, 5, MEM_RBX};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_INVEPT, 0, 3, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_INVEPT);
    ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x10);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN), 5);
    ck_assert_uint_eq(get12(VCORE_VMCS_VMX_INSTRUCTION_INFO), MEM_RBX);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_INVEPT), 0);
}
END_TEST

/* ---- L2's VMREAD/VMWRITE memory operands through ept12 ----
 * L1 gives L2 "VMCS shadowing" with bitmaps of zeros, so L2's VMREAD and
 * VMWRITE of GUEST_RIP reach L0 (vmcs02 never shadows), which performs
 * them on L1's shadow VMCS - and their memory operand, an L2 linear
 * address, through L2's paging and then L1's EPT, as L1's processor would
 * ("EPT Translation Mechanism"). L2's paging structures are L2's 0x1000,
 * 0x2000, 0x3000 (identity in ept12); the operand is L2's 0x70008, in the
 * page ept12 maps to L1's 0x78000. */
#define SHADOW_GPA 0x40000u
#define BM_READ 0x41000u
#define BM_WRITE 0x42000u
#define OP_L2 0x70008u
#define OP_L1 0x78008u
/* Memory operand DS:[RBX], 64-bit addressing, the encoding in RDX. */
#define II_MEM ((2u << 7) | (3u << 15) | (1u << 22) | (3u << 23) | (2u << 28))

static void vmcs12_shadow_ept(uint64_t eptp, uint64_t op_leaf)
{
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172 | (1u << 31));
    set12(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, (1u << 14) | (1u << 1));
    set12(VCORE_VMCS_EPT_POINTER, eptp);
    set12(VCORE_VMCS_VMCS_LINK_POINTER, SHADOW_GPA);
    set12(VCORE_VMCS_VMREAD_BITMAP, BM_READ);
    set12(VCORE_VMCS_VMWRITE_BITMAP, BM_WRITE);
    static uint8_t sh[4096];
    memset(sh, 0, sizeof(sh));
    uint32_t rev = VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT;
    memcpy(sh, &rev, 4);
    ck_assert_int_eq(vcore_vmcs12_set(sh, VCORE_VMCS_GUEST_RIP, 0x777), VCORE_OK);
    ck_assert_int_eq(vcore_vm_write_guest(vm, SHADOW_GPA, sh, sizeof(sh)), VCORE_OK);
    /* L2's paging entries accessed (and its 2-MByte page dirty) already:
     * the walk writes none of them. */
    put(PML4, PDPT | 3 | 0x20, 8);
    put(PDPT, PD | 3 | 0x20, 8);
    put(PD, 0x83 | 0x20 | 0x40, 8);
    for (uint64_t pt = PML4; pt <= PD; pt += 0x1000)
        ept12_map(pt, pt | RWX | WB, 1);
    ept12_map(OP_L2, (OP_L1 & ~0xfffull) | op_leaf, 1);
}

/* L1 launches; L2 runs VMREAD [RBX] <- GUEST_RIP (_write false) or
 * VMWRITE GUEST_RIP <- [RBX] (3 bytes); when L0 completes it, L2's CPUID
 * is L1's next exit; L1 halts. */
static void launch_l2_vmrw(bool vmwrite, bool then)
{
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, OP_L2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN,
                       VCORE_VMCS_VMX_INSTRUCTION_INFO};
    uint64_t val[3] = {0, 3, II_MEM};
    push_l2(VCORE_HW_ENTRY_EXIT, vmwrite ? VCORE_VMX_EXIT_VMWRITE : VCORE_VMX_EXIT_VMREAD, 0, 3, enc, val);
    if (then)
        push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

/* VMREAD's store to a page ept12 maps read/execute: EPT violation to L1,
 * a data write (bit 1) with R+X granted (bits 5:3 = 101b), linear address
 * valid and the access to the translation (bits 7, 8); the L2
 * guest-physical and linear addresses; nothing stored, the instruction not
 * executed. */
START_TEST(l2_vmread_operand_read_only_page_is_violation)
{
    vmcs12_shadow_ept(EPTP12, 5 | WB);
    put(OP_L1, 0x1111, 8);
    launch_l2_vmrw(false, false);
    assert_violation(2 | (5u << 3) | Q_GLA | Q_FINAL, OP_L2);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), OP_L2);
    ck_assert_uint_eq(get64(OP_L1), 0x1111);
}
END_TEST

/* VMREAD's store to an L1 address ept12 grants but L0 has no memory at
 * (0xfee00000): the VMM's MMIO write of the 8 bytes at that L1 address,
 * nothing for L1. */
START_TEST(l2_vmread_operand_to_l0_mmio_is_the_vmms)
{
    vmcs12_shadow_ept(EPTP12, RWX | WB);
    ept12_map(OP_L2, 0xfee00000ull | RWX, 1);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, OP_L2);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN,
                       VCORE_VMCS_VMX_INSTRUCTION_INFO};
    uint64_t val[3] = {0, 3, II_MEM};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_VMREAD, 0, 3, enc, val);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.flags & VCORE_EXIT_F_L2, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    ck_assert_uint_eq(e.u.mmio.gpa, 0xfee00008ull);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    ck_assert_uint_eq(last().reflected, 0);
}
END_TEST

/* VMREAD's 8-byte store across a page boundary (L2 0x70ffc), the second
 * page (L2 0x71000 -> L1 0x79000) read/execute in ept12: EPT violation
 * for the access to the second page (guest-physical and linear address
 * 0x71000, a write, bits 5:3 = 101b), and neither page is written. */
START_TEST(l2_vmread_operand_across_pages_second_violates)
{
    vmcs12_shadow_ept(EPTP12, RWX | WB);
    ept12_map(0x71000, 0x79000 | 5 | WB, 1);
    put(0x78ff8, 0x1111111111111111ull, 8);
    put(0x79000, 0x2222222222222222ull, 8);
    load_vmcs12();
    nested_set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    nested_set_gpr(VCORE_X86_RBX, 0x70ffc);
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[3] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN,
                       VCORE_VMCS_VMX_INSTRUCTION_INFO};
    uint64_t val[3] = {0, 3, II_MEM};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_VMREAD, 0, 3, enc, val);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    assert_violation(2 | (5u << 3) | Q_GLA | Q_FINAL, 0x71000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), 0x71000);
    ck_assert_uint_eq(get64(0x78ff8), 0x1111111111111111ull);
    ck_assert_uint_eq(get64(0x79000), 0x2222222222222222ull);
}
END_TEST

/* VMWRITE's load from an execute-only page: a data read (bit 0) with X
 * granted (bits 5:3 = 100b). */
START_TEST(l2_vmwrite_operand_execute_only_page_is_violation)
{
    vmcs12_shadow_ept(EPTP12, 4 | WB);
    launch_l2_vmrw(true, false);
    assert_violation(1 | (4u << 3) | Q_GLA | Q_FINAL, OP_L2);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), OP_L2);
}
END_TEST

/* The operand's leaf has memory type 3: exit 49 to L1 (_i 0 VMREAD, _i 1
 * VMWRITE), qualification 0, the L2 guest-physical address. */
START_TEST(l2_vmrw_operand_misconfig_is_exit_49)
{
    vmcs12_shadow_ept(EPTP12, RWX | (3u << 3));
    put(OP_L1, 0x1111, 8);
    launch_l2_vmrw(_i != 0, false);
    assert_misconfig(OP_L2);
    ck_assert_uint_eq(get64(OP_L1), 0x1111);
}
END_TEST

/* With EPTP[6]: VMREAD (_i 0) stores, so the operand's leaf gets A and D;
 * VMWRITE (_i 1) loads, so A only. The walk's reads of L2's paging
 * structures are writes: their ept12 leaves get A and D either way. */
START_TEST(l2_vmrw_operand_accessed_dirty)
{
    vmcs12_shadow_ept(EPTP12_AD, RWX | WB);
    put(OP_L1, 0x999, 8);
    launch_l2_vmrw(_i != 0, true);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401003);
    ck_assert_uint_eq(get64(entry_addr(OP_L2, 1)) & (A_BIT | D_BIT), _i ? A_BIT : (A_BIT | D_BIT));
    for (uint64_t pt = PML4; pt <= PD; pt += 0x1000)
        ck_assert_uint_eq(get64(entry_addr(pt, 1)) & (A_BIT | D_BIT), A_BIT | D_BIT);
    if (!_i)
        ck_assert_uint_eq(get64(OP_L1), 0x777);
}
END_TEST

/* The operand's translation needs L2's PDE (L2 0x3000): with EPTP[6] that
 * read is a write, and ept12 maps the page read/execute (_i 0): violation
 * with bits 0 and 1, bits 5:3 = 101b, bit 7 set and bit 8 clear (a
 * paging-structure access), the PDE's guest-physical address. Without
 * EPTP[6] and the page not present in ept12 (_i 1): a read, bits 5:3 0. */
START_TEST(l2_vmrw_operand_paging_structure_violation)
{
    vmcs12_shadow_ept(_i ? EPTP12 : EPTP12_AD, RWX | WB);
    put(entry_addr(PD, 1), _i ? 0 : (PD | 5 | WB), 8);
    launch_l2_vmrw(true, false);
    assert_violation(_i ? (1 | Q_GLA) : (3 | (5u << 3) | Q_GLA), PD + ((OP_L2 >> 21) & 511) * 8);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_LINEAR_ADDRESS), OP_L2);
}
END_TEST

/* ---- EPT exits during event delivery ("Information for VM Exits During
 * Event Delivery", "Event Injection" / re-injection) ---- */

/* An EPT violation while the processor delivered a #PF (error code 2) to
 * L2: L0 fixes ept02 and the same event is delivered again on the next
 * entry of vmcs02 (_i 0); L1's violation carries it as IDT-vectoring
 * information (_i 1). */
START_TEST(violation_during_event_delivery)
{
    vmcs12_with_ept(EPTP12);
    ept12_map(L2_PAGE, L1_PAGE | (_i ? 1 : RWX) | WB, 1);
    load_vmcs12();
    push_insn(VCORE_NVMX_VMLAUNCH, 0, 3);
    uint32_t enc[5] = {VCORE_VMCS_EXIT_QUALIFICATION, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS,
                       VCORE_VMCS_GUEST_LINEAR_ADDRESS, VCORE_VMCS_IDT_VECTORING_INFO_FIELD,
                       VCORE_VMCS_IDT_VECTORING_ERROR_CODE};
    uint64_t val[5] = {2 | Q_GLA | Q_FINAL, L2_PAGE + 0xff8, 0x405ff8, 0x80000b0eu, 2};
    push_l2(VCORE_HW_ENTRY_EXIT, VCORE_VMX_EXIT_EPT_VIOLATION, 0, 5, enc, val);
    push_l2_exit(VCORE_VMX_EXIT_CPUID, 2);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    if (_i) {
        assert_violation(2 | (1u << 3) | Q_GLA | Q_FINAL, L2_PAGE + 0xff8);
        ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_INFO_FIELD), 0x80000b0eu);
        ck_assert_uint_eq(get12(VCORE_VMCS_IDT_VECTORING_ERROR_CODE), 2);
        return;
    }
    assert_l0_served();
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0eu);
    ck_assert_uint_eq(nested_peek02(VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE), 2);
}
END_TEST

/* INVEPT with no current VMCS and an unsupported type: VMfailInvalid (CF
 * only, "Conventions"), no VM-instruction error to write. */
START_TEST(invept_without_current_vmcs_fails_invalid)
{
    load_vmcs12();
    put(OPND_GPA, VMCS_GPA, 8);
    l1_insn(VCORE_NVMX_VMCLEAR, MEM_RBX, 4);
    put(OPND_GPA, EPTP12, 8);
    l1_invept(0, OPND_GPA);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 5);
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0x01u);
}
END_TEST

static Suite *ept_sdm_suite(void)
{
    Suite *s = suite_create("nested_ept_sdm");
    TCase *tc = tcase_create("ept_sdm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, violation_rights_are_and_of_every_level, 0, 12);
    tcase_add_loop_test(tc, violation_rights_mixed_levels, 0, 2);
    tcase_add_loop_test(tc, violation_not_present_at_each_level, 0, 4);
    tcase_add_loop_test(tc, violation_bits_7_8_12_and_no_advanced_info, 0, 2);
    tcase_add_loop_test(tc, large_page_leaf_2m_and_1g, 0, 2);
    tcase_add_loop_test(tc, misconfig_reserved_bits_non_leaf, 0, 15);
    tcase_add_loop_test(tc, misconfig_reserved_bits_large_leaf, 0, 27);
    tcase_add_loop_test(tc, misconfig_beyond_maxphyaddr_each_level, 0, 8);
    tcase_add_loop_test(tc, misconfig_write_without_read_each_level, 0, 8);
    tcase_add_loop_test(tc, misconfig_leaf_memory_type, 0, 9);
    tcase_add_loop_test(tc, valid_leaf_memory_types, 0, 10);
    tcase_add_test(tc, misconfig_wins_over_violation);
    tcase_add_test(tc, ignored_bits_are_not_misconfigurations);
    tcase_add_loop_test(tc, execute_only_needs_the_capability, 0, 2);
    tcase_add_loop_test(tc, one_gbyte_page_needs_the_capability, 0, 2);
    tcase_add_test(tc, l0_forbidden_access_is_never_l1s);
    tcase_add_test(tc, ad_read_accessed_everywhere_write_dirty_leaf_only);
    tcase_add_loop_test(tc, ad_on_large_leaf, 0, 2);
    tcase_add_test(tc, ad_off_leaves_ept12_untouched);
    tcase_add_loop_test(tc, ad_guest_paging_structure_access_is_a_write, 0, 2);
    tcase_add_test(tc, pae_pdptes_from_and_to_the_vmcs);
    tcase_add_test(tc, pae_pdptes_from_memory_without_l1_ept);
    tcase_add_test(tc, pml_full_when_only_accessed_flags_are_due);
    tcase_add_test(tc, pml_full_is_no_event_without_a_flag_to_set);
    tcase_add_loop_test(tc, pml_logs_only_dirty_flags_4k_aligned, 0, 2);
    tcase_add_loop_test(tc, eptp_checks_at_entry, 0, 11);
    tcase_add_test(tc, eptp_uc_is_valid);
    tcase_add_test(tc, eptp_ad_needs_the_capability);
    tcase_add_loop_test(tc, invept_unsupported_type_fails_28, 0, 5);
    tcase_add_loop_test(tc, invept_type_not_in_capability_fails_28, 0, 2);
    tcase_add_loop_test(tc, invept_single_context_invalid_eptp_fails_28, 0, 4);
    tcase_add_loop_test(tc, invept_descriptor_fault, 0, 2);
    tcase_add_test(tc, invept_unsupported_is_ud);
    tcase_add_test(tc, invept_type_before_descriptor_and_high_qword_unchecked);
    tcase_add_test(tc, eptp_unchecked_without_enable_ept);
    tcase_add_loop_test(tc, invept_after_ept12_change_drops_stale_ept02, 0, 3);
    tcase_add_test(tc, invept_single_is_per_eptp_all_is_every_eptp);
    tcase_add_test(tc, invept_single_keeps_other_eptp_correct);
    tcase_add_test(tc, invept_in_l2_exits_to_l1);
    tcase_add_test(tc, invept_without_current_vmcs_fails_invalid);
    tcase_add_test(tc, l2_vmread_operand_read_only_page_is_violation);
    tcase_add_test(tc, l2_vmwrite_operand_execute_only_page_is_violation);
    tcase_add_test(tc, l2_vmread_operand_to_l0_mmio_is_the_vmms);
    tcase_add_test(tc, l2_vmread_operand_across_pages_second_violates);
    tcase_add_loop_test(tc, l2_vmrw_operand_misconfig_is_exit_49, 0, 2);
    tcase_add_loop_test(tc, l2_vmrw_operand_accessed_dirty, 0, 2);
    tcase_add_loop_test(tc, l2_vmrw_operand_paging_structure_violation, 0, 2);
    tcase_add_loop_test(tc, violation_during_event_delivery, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(ept_sdm_suite());
}
