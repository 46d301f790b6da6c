/*
 * test_nested_ept.c - L1's EPT (ept12): the walk, its violations and
 * misconfigurations with the SDM's exit qualification, accessed and dirty
 * flags, and L2's VMREAD/VMWRITE memory operands translated through it.
 *
 * Expected values: SDM Vol. 3, "EPT Translation Mechanism", "EPT
 * Misconfigurations", "EPT Violations", "Accessed and Dirty Flags for EPT",
 * "Exit Qualification for EPT Violations".
 */
#include "support.h"
#include "test_nvmx_fixture.h"
#include <virtcore/x86/nvmx_pipeline.h>

static fx_t F;
static void setup(void) { fx_setup(&F); }
static void teardown(void) { fx_teardown(&F); }

/* ept12 in L1 memory: PML4 at 0x40000, PDPT 0x41000, PD 0x42000, PT 0x43000. */
#define E_PML4 0x40000u
#define E_PDPT 0x41000u
#define E_PD 0x42000u
#define E_PT 0x43000u
#define EPTP (E_PML4 | 6u | (3u << 3)) /* WB, 4 levels */
#define RWX 7u
#define WB (6u << 3)

static void ept_map_4k(uint64_t l2, uint64_t l1, uint64_t leaf_bits)
{
    fx_put64(&F, E_PML4 + ((l2 >> 39) & 511) * 8, E_PDPT | RWX);
    fx_put64(&F, E_PDPT + ((l2 >> 30) & 511) * 8, E_PD | RWX);
    fx_put64(&F, E_PD + ((l2 >> 21) & 511) * 8, E_PT | RWX);
    fx_put64(&F, E_PT + ((l2 >> 12) & 511) * 8, l1 | leaf_bits);
}

static vcore_nvmx_ept_walk_t walk(uint64_t eptp, uint64_t gpa, uint32_t access)
{
    vcore_nvmx_ept_walk_t w = {.size = sizeof(w)};
    ck_assert_int_eq(vcore_nvmx_ept_translate(&F.mem, eptp, 40, gpa, access, &w), VCORE_OK);
    return w;
}

START_TEST(ept_walk_4k_2m_1g)
{
    ept_map_4k(0x123000, 0x2000, RWX | WB);
    vcore_nvmx_ept_walk_t w = walk(EPTP, 0x123456, VCORE_NVMX_EPT_READ);
    ck_assert_uint_eq(w.kind, VCORE_NVMX_EPT_OK);
    ck_assert_uint_eq(w.gpa, 0x2456);
    /* A 2-MByte page (PDE bit 7). */
    fx_put64(&F, E_PD + 8, 0x600000 | (1u << 7) | RWX | WB);
    w = walk(EPTP, 0x2abcde, VCORE_NVMX_EPT_WRITE);
    ck_assert_uint_eq(w.kind, VCORE_NVMX_EPT_OK);
    ck_assert_uint_eq(w.gpa, 0x600000 + 0xabcde);
    /* A 1-GByte page (PDPTE bit 7). */
    fx_put64(&F, E_PDPT + 8, 0x40000000ull | (1u << 7) | RWX | WB);
    w = walk(EPTP, 0x40001234, VCORE_NVMX_EPT_FETCH);
    ck_assert_uint_eq(w.kind, VCORE_NVMX_EPT_OK);
    ck_assert_uint_eq(w.gpa, 0x40001234);
    ck_assert_int_eq(vcore_nvmx_ept_translate(&F.mem, EPTP & ~(7ull << 3), 40, 0, 1, &w), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nvmx_ept_translate(&F.mem, EPTP, 40, 0, 0, &w), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(ept_violation_qualification)
{
    /* Read-only leaf: a write is a violation; bits 2:0 the access (write),
     * bits 5:3 the AND of the entries' R/W/X (read only). */
    ept_map_4k(0x5000, 0x9000, 1u | WB);
    vcore_nvmx_ept_walk_t w = walk(EPTP, 0x5008, VCORE_NVMX_EPT_WRITE);
    ck_assert_uint_eq(w.kind, VCORE_NVMX_EPT_VIOLATION);
    ck_assert_uint_eq(w.qualification, 0x2u | (0x1u << 3));
    w = walk(EPTP, 0x5008, VCORE_NVMX_EPT_READ);
    ck_assert_uint_eq(w.kind, VCORE_NVMX_EPT_OK);
    /* Execute-disabled at the PDE level: a fetch violates, with X clear in bits 5:3. */
    fx_put64(&F, E_PD, E_PT | 3u);
    w = walk(EPTP, 0x5008, VCORE_NVMX_EPT_FETCH);
    ck_assert_uint_eq(w.kind, VCORE_NVMX_EPT_VIOLATION);
    ck_assert_uint_eq(w.qualification, 0x4u | (0x1u << 3));
    /* Not present: bits 5:3 are 0. */
    w = walk(EPTP, 0x7000, VCORE_NVMX_EPT_READ);
    ck_assert_uint_eq(w.kind, VCORE_NVMX_EPT_VIOLATION);
    ck_assert_uint_eq(w.qualification, 0x1u);
}
END_TEST

START_TEST(ept_misconfigurations)
{
    ept_map_4k(0x5000, 0x9000, 2u | WB); /* write without read */
    ck_assert_uint_eq(walk(EPTP, 0x5000, VCORE_NVMX_EPT_READ).kind, VCORE_NVMX_EPT_MISCONFIG);
    ept_map_4k(0x5000, 0x9000, RWX | (2u << 3)); /* memory type 2 is reserved */
    ck_assert_uint_eq(walk(EPTP, 0x5000, VCORE_NVMX_EPT_READ).kind, VCORE_NVMX_EPT_MISCONFIG);
    ept_map_4k(0x5000, 0x9000 | (1ull << 45), RWX | WB); /* beyond MAXPHYADDR 40 */
    ck_assert_uint_eq(walk(EPTP, 0x5000, VCORE_NVMX_EPT_READ).kind, VCORE_NVMX_EPT_MISCONFIG);
    ept_map_4k(0x5000, 0x9000, RWX | WB);
    fx_put64(&F, E_PD, E_PT | RWX | (1u << 3)); /* non-leaf bits 7:3 reserved */
    ck_assert_uint_eq(walk(EPTP, 0x5000, VCORE_NVMX_EPT_READ).kind, VCORE_NVMX_EPT_MISCONFIG);
    fx_put64(&F, E_PD, 0x200000 | (1u << 7) | RWX | WB | 0x1000); /* 2-MByte page, bit 12 reserved */
    ck_assert_uint_eq(walk(EPTP, 0x5000, VCORE_NVMX_EPT_READ).kind, VCORE_NVMX_EPT_MISCONFIG);
}
END_TEST

START_TEST(ept_accessed_dirty_with_eptp6)
{
    ept_map_4k(0x5000, 0x9000, RWX | WB);
    ck_assert_uint_eq(walk(EPTP, 0x5000, VCORE_NVMX_EPT_READ).kind, VCORE_NVMX_EPT_OK);
    ck_assert_uint_eq(fx_get64(&F, E_PT + 5 * 8) & (3u << 8), 0); /* EPTP[6] clear: untouched */
    ck_assert_uint_eq(walk(EPTP | (1u << 6), 0x5000, VCORE_NVMX_EPT_READ).kind, VCORE_NVMX_EPT_OK);
    ck_assert_uint_eq(fx_get64(&F, E_PT + 5 * 8) & (3u << 8), 1u << 8);
    ck_assert_uint_eq(fx_get64(&F, E_PML4) & (1u << 8), 1u << 8);
    ck_assert_uint_eq(walk(EPTP | (1u << 6), 0x5000, VCORE_NVMX_EPT_WRITE).kind, VCORE_NVMX_EPT_OK);
    ck_assert_uint_eq(fx_get64(&F, E_PT + 5 * 8) & (3u << 8), 3u << 8);
    ck_assert_uint_eq(fx_get64(&F, E_PD) & (1u << 9), 0); /* dirty only in the leaf */
}
END_TEST

/* L2's VMREAD/VMWRITE memory operands are L2 addresses: with L1's EPT they
 * reach the L1 page L1's EPT maps, never the L1 page of the same number;
 * an unmapped one is an EPT violation for L1 and nothing is written. */
START_TEST(l2_memory_operand_through_l1_ept)
{
    fx_current(&F);
    fx_region(&F, FX_SHADOW, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT);
    ck_assert_int_eq(vcore_vmcs12_set(F.ram + FX_SHADOW, VCORE_VMCS_GUEST_RIP, 0x777), VCORE_OK);
    memset(F.ram + FX_BITMAP_R, 0, 4096);
    memset(F.ram + FX_BITMAP_W, 0, 4096);
    fx_vmwrite(&F, VCORE_VMCS_VMCS_LINK_POINTER, FX_SHADOW);
    fx_vmwrite(&F, VCORE_VMCS_VMREAD_BITMAP, FX_BITMAP_R);
    fx_vmwrite(&F, VCORE_VMCS_VMWRITE_BITMAP, FX_BITMAP_W);
    fx_vmwrite(&F, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31);
    fx_vmwrite(&F, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, (1u << 14) | (1u << 1));
    fx_vmwrite(&F, VCORE_VMCS_EPT_POINTER, EPTP);
    ck_succeed(&F);
    ck_assert_int_eq(vcore_nvmx_shadow_load(F.n, &F.mem), VCORE_OK);
    /* ept12: L2's paging structures (identity at L2 0x1000-0x3fff) and the
     * operand page L2 0x20000 -> L1 0x30000. */
    ept_map_4k(0x1000, 0x1000, RWX | WB);
    ept_map_4k(0x2000, 0x2000, RWX | WB);
    ept_map_4k(0x3000, 0x3000, RWX | WB);
    ept_map_4k(0x20000, 0x30000, RWX | WB);
    F.in.in_l2 = true;
    /* VMREAD [RBX] <- GUEST_RIP: DS:[RBX], RBX = 0x20000 (L2 linear = L2 physical). */
    F.in.insn_info = (VCORE_X86_RCX << 28) | (2u << 7) | (3u << 15) | (1u << 22) | (VCORE_X86_RBX << 23);
    F.in.regs.gpr[VCORE_X86_RCX] = VCORE_VMCS_GUEST_RIP;
    F.in.regs.gpr[VCORE_X86_RBX] = 0x20000;
    fx_put64(&F, 0x20000, 0);
    fx_put64(&F, 0x30000, 0);
    F.in.qualification = 0;
    ck_assert_int_eq(fx_run(&F, VCORE_NVMX_VMREAD), VCORE_OK);
    ck_succeed(&F);
    ck_assert_uint_eq(fx_get64(&F, 0x30000), 0x777);
    ck_assert_uint_eq(fx_get64(&F, 0x20000), 0);
    /* An operand L1's EPT does not map: EPT violation for L1, nothing written. */
    F.in.regs.gpr[VCORE_X86_RBX] = 0x50000;
    fx_put64(&F, 0x50000, 0);
    ck_assert_int_eq(fx_run(&F, VCORE_NVMX_VMREAD), VCORE_OK);
    ck_outcome(&F, VCORE_NVMX_OUT_EXIT_TO_L1, VCORE_DIAG_NVMX_L2_EPT_VIOLATION);
    ck_assert_uint_eq(F.res.ept_gpa, 0x50000);
    ck_assert_uint_eq(F.res.ept_qualification & 7u, 2u); /* a data write */
    ck_assert_uint_eq(fx_get64(&F, 0x50000), 0);
    /* VMWRITE from a read-only EPT page reads it fine. */
    ept_map_4k(0x21000, 0x31000, 1u | WB);
    fx_put64(&F, 0x31000, 0x999);
    F.in.regs.gpr[VCORE_X86_RBX] = 0x21000;
    ck_assert_int_eq(fx_run(&F, VCORE_NVMX_VMWRITE), VCORE_OK);
    ck_succeed(&F);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_nvmx_shadow_flush(F.n, &F.mem), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(F.ram + FX_SHADOW, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x999);
}
END_TEST

static Suite *ept_suite(void)
{
    Suite *s = suite_create("nested_ept");
    TCase *tc = tcase_create("ept12");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ept_walk_4k_2m_1g);
    tcase_add_test(tc, ept_violation_qualification);
    tcase_add_test(tc, ept_misconfigurations);
    tcase_add_test(tc, ept_accessed_dirty_with_eptp6);
    tcase_add_test(tc, l2_memory_operand_through_l1_ept);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(ept_suite());
}
