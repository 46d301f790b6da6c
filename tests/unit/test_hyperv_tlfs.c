/*
 * test_hyperv_tlfs.c - black-box conformance of the Hyper-V PV IPI and PV
 * TLB-flush hypercalls with the Hyper-V TLFS, one test per rule. Each
 * expectation is the TLFS rule named in the test's comment:
 *
 * - "Hypercall Inputs": call code 15:0, Fast 16, variable header size
 *   26:17 (QWORDs), rep count 43:32, rep start index 59:48; RsvdZ 31:27,
 *   47:44, 63:60; rep fields zero for a simple call; rep count greater than
 *   the rep start index;
 * - "Hypercall Outputs": status 15:0, reps completed 43:32 (the total, not
 *   relative to the rep start index);
 * - "Memory-based calling convention", "Register Mapping (Fast)", "XMM Fast
 *   Hypercall Input", "Alignment Requirements", "Legal Hypercall
 *   Environments", "Variable Sized Hypercall Input Headers";
 * - "HvCallSendSyntheticClusterIpi(Ex)", "HvCallFlushVirtualAddressSpace",
 *   "HvCallFlushVirtualAddressList(Ex)", "HV_VP_SET", "HV_INPUT_VTL",
 *   "Virtual Processor Properties" (HV_X64_MSR_VP_INDEX), "Reporting the
 *   Guest OS Identity".
 *
 * The guest's registers go in through the vCPU API, the mock backend
 * reports the VMCALL exit, and results are read from the registers, the
 * targets' pending vectors and the flushes the mock performed.
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <stdlib.h>
#include <string.h>

#include "support.h"

#include "hyperv_fixture.h"


/* ---------------------------------------------------------- Hypercall Inputs */

/* "Hypercall Inputs": RsvdZ bits 31:27, 47:44 and 63:60 of the input value
 * must be zero, else HV_STATUS_INVALID_HYPERCALL_INPUT, and the call has no
 * effect. */
START_TEST(input_value_rsvdz_bits_are_invalid_input)
{
    static const unsigned bits[] = {27, 28, 30, 44, 46, 47, 60, 62, 63};
    put64(IN_GPA, 0x31);
    put64(IN_GPA + 8, 0x2);
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        ck_assert_uint_eq(hc(v[0], C_IPI | (1ull << bits[i]), IN_GPA, 0), S_INPUT);
        ck_assert_uint_eq(hc(v[0], C_IPI | FAST | (1ull << bits[i]), 0x31, 0x2), S_INPUT);
    }
    ck_assert_uint_eq(who_has(0x31), 0);
    /* The same call without them is delivered. */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x31), 0x2);
}
END_TEST

/* "Hypercall Status Codes": a call code the hypervisor does not know gets
 * HV_STATUS_INVALID_HYPERCALL_CODE (2), in both calling conventions. */
START_TEST(unknown_call_code_is_invalid_code)
{
    static const uint16_t codes[] = {0x0000, 0x7fff, 0xfffe, 0xffff}; /* no TLFS call */
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        ck_assert_uint_eq(hc(v[0], codes[i], IN_GPA, 0), S_CODE);
        ck_assert_uint_eq(hc(v[0], codes[i] | FAST, 0, 0), S_CODE);
    }
}
END_TEST

/* "Hypercall Inputs": rep count and rep start index "must be zero for a
 * simple hypercall"; the Space and IPI calls are simple. */
START_TEST(simple_call_with_rep_fields_is_invalid_input)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0x1);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE | REPS(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE | START(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX | REPS(2) | START(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | REPS(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(flushed(), 0);
}
END_TEST

/* "Hypercall Inputs": for a rep call "Rep count must always be greater than
 * Rep start index"; a rep count of zero has nothing to do. */
START_TEST(rep_start_not_below_rep_count_is_invalid_input)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x2);
    put64(IN_GPA + 16, 0x1);
    for (uint32_t i = 0; i < 4; i++)
        put64(IN_GPA + 24 + 8 * i, 0x4000 + 0x1000 * i);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST, IN_GPA, 0), S_INPUT);             /* 0 reps */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | START(1), IN_GPA, 0), S_INPUT);  /* 0 reps, start 1 */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(3) | START(3), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(3) | START(4), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(1) | START(0xfff), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST_EX | REPS(2) | START(2), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(flushed(), 0);
    /* One below the count: the last element. */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(4) | START(3), IN_GPA, 0), 4ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.ranges[0], 0x7000);
}
END_TEST

/* "Hypercall Outputs": reps completed (43:32) is "the total number of reps
 * complete and not relative to the rep start index": start 5 of 10 that
 * succeeds reports 10; the other result bits are zero. Elements before the
 * start index are not processed again ("Hypercall Classes"). */
START_TEST(reps_completed_is_total_not_relative_to_start)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x2);
    put64(IN_GPA + 16, 0x1);
    for (uint32_t i = 0; i < 10; i++)
        put64(IN_GPA + 24 + 8 * i, 0x100000 + 0x1000 * i);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(10) | START(5), IN_GPA, 0), 10ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 5);
    ck_assert_uint_eq(f.ranges[0], 0x105000);
    ck_assert_uint_eq(f.ranges[4], 0x109000);
}
END_TEST

/* "Variable Sized Hypercall Input Headers": a call without a variable
 * header (IPI, Space, List) given a non-zero variable header size gets
 * HV_STATUS_INVALID_HYPERCALL_INPUT. */
START_TEST(variable_header_on_fixed_header_call_is_invalid_input)
{
    put64(IN_GPA, 0x32);
    put64(IN_GPA + 8, 0x2);
    put64(IN_GPA + 16, 0x2);
    put64(IN_GPA + 24, 0x5000);
    ck_assert_uint_eq(hc(v[0], C_IPI | VAR(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST | VAR(1), 0x32, 0x2), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE | VAR(0x3ff), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | VAR(1) | REPS(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(who_has(0x32), 0);
    ck_assert_uint_eq(flushed(), 0);
}
END_TEST

/* "HV_VP_SET" + "Variable Sized Hypercall Input Headers": the banks of a
 * sparse set are the variable header, one QWORD per set bit of
 * ValidBanksMask; any other size is HV_STATUS_INVALID_HYPERCALL_INPUT. */
START_TEST(variable_header_must_equal_sparse_bank_count)
{
    put64(IN_GPA, 0x33);
    put64(IN_GPA + 8, 0);         /* HvGenericSetSparse4k */
    put64(IN_GPA + 16, 0x3);      /* banks 0, 1 */
    put64(IN_GPA + 24, 0x4);      /* VP 2 */
    put64(IN_GPA + 32, 0);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(3), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(who_has(0x33), 0);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(2), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x33), 1u << 2);
    /* Flush Ex: the set starts at 16, banks at 32. */
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0);
    put64(IN_GPA + 24, 0x1);
    put64(IN_GPA + 32, 0x8);      /* VP 3 */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX | VAR(2), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX, IN_GPA, 0), S_INPUT);
    run_others(0);
    ck_assert_uint_eq(flushed(), 0);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX | VAR(1), IN_GPA, 0), S_OK);
    run_others(0);
    ck_assert_uint_eq(flushed(), 1u << 3);
}
END_TEST

/* "HV_VP_SET": format 0 (sparse 4K) and 1 (all) are the formats; another
 * format is HV_STATUS_INVALID_PARAMETER and nothing is delivered. */
START_TEST(vp_set_unknown_format_is_invalid_parameter)
{
    put64(IN_GPA, 0x34);
    put64(IN_GPA + 8, 2);
    put64(IN_GPA + 16, 0);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_PARAM);
    put64(IN_GPA + 8, 1ull << 32);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_PARAM);
    ck_assert_uint_eq(who_has(0x34), 0);
    /* Format 1: every VP, whatever ValidBanksMask says. */
    put64(IN_GPA + 8, 1);
    put64(IN_GPA + 16, 0x1234);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x34), 0xff);
}
END_TEST

/* "HV_VP_SET": bank b holds VP indexes 64b..64b+63. A bank beyond the VPs
 * that exist names nobody (the call succeeds, nothing is delivered); a VP
 * whose index is in that bank gets it. */
START_TEST(sparse_bank_beyond_existing_vps_names_nobody)
{
    put64(IN_GPA, 0x35);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 1ull << 63);   /* bank 63: VP 4032-4095 */
    put64(IN_GPA + 24, 1ull << 5);    /* VP 4037 */
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(1), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x35), 0);
    /* Bank 0 absent from the mask: VP 5 is not named even though
     * bank 63's word has bit 5. */
    ck_assert_uint_eq(has_vector(v[5], 0x35), false);
    ck_assert_int_eq(vcore_hv_set_msr(v[6], VCORE_HV_MSR_VP_INDEX, 4037), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(1), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x35), 1u << 6);
}
END_TEST

/* "HvCallSendSyntheticClusterIpi": ProcessorMask bit i is VP index i; a bit
 * for a VP index no VP has names nobody, and a renumbered VP is found by
 * its index, not its position ("Virtual Processor Properties"). */
START_TEST(processor_mask_names_vp_indexes_not_vcpu_ids)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[3], VCORE_HV_MSR_VP_INDEX, 40), VCORE_OK);
    put64(IN_GPA, 0x36);
    put64(IN_GPA + 8, 1ull << 3);     /* VP 3: nobody now */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x36), 0);
    put64(IN_GPA + 8, (1ull << 40) | (1ull << 63) | 1);
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x36), (1u << 3) | 1u);
}
END_TEST

/* "HvCallSendSyntheticClusterIpi" / "HvCallFlushVirtualAddressSpace": a
 * 64-bit ProcessorMask names VP indexes 0-63 only; a VP whose index is 64
 * or more is never named by it (bit 0 is VP 0, not VP 64). */
START_TEST(processor_mask_cannot_name_vp_index_64_or_more)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[5], VCORE_HV_MSR_VP_INDEX, 64), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[6], VCORE_HV_MSR_VP_INDEX, 128), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x49, 0x1), S_OK);
    ck_assert_uint_eq(who_has(0x49), 0x1);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x4a, ~0ull), S_OK);
    ck_assert_uint_eq(who_has(0x4a), 0xff & ~((1u << 5) | (1u << 6)));
}
END_TEST

/* "HV_VP_SET": a sparse set has 64 banks of 64, VP indexes 0-4095; a VP
 * whose index is 4096 or more is never in one. */
START_TEST(sparse_set_cannot_name_vp_index_4096_or_more)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[5], VCORE_HV_MSR_VP_INDEX, 4096), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[6], VCORE_HV_MSR_VP_INDEX, 4096 + 64 * 63 + 1), VCORE_OK);
    put64(IN_GPA, 0x4b);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0x1 | (1ull << 63));  /* banks 0 and 63 */
    put64(IN_GPA + 24, 0x1);                 /* VP 0 */
    put64(IN_GPA + 32, 0x2);                 /* VP 4033 */
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(2), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x4b), 0x1);
}
END_TEST

/* "Virtual Processor Properties": HV_ANY_VP (FFFFFFFFH) and
 * HV_VP_INDEX_SELF (FFFFFFFEH) are never a VP's index; and a VP given back
 * its original index counts as matched again. */
START_TEST(vp_index_special_values_refused)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 0xfffffffeu), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 0xffffffffu), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 1ull << 32), VCORE_ERR_INVAL);
    bool gp = true;
    ck_assert_uint_eq(rdmsr(v[2], VCORE_HV_MSR_VP_INDEX, &gp), 2);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 40), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 1);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 41), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 1);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 2), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 0);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x4c, 0x4), S_OK);
    ck_assert_uint_eq(who_has(0x4c), 0x4);
}
END_TEST

/* ---------------------------------------------------------------- IPI input */

/* "HvCallSendSyntheticClusterIpi": Vector "Must be between >= 0x10 and
 * <= 0xFF"; otherwise HV_STATUS_INVALID_PARAMETER and nothing is sent. */
START_TEST(ipi_vector_outside_10h_ffh_is_invalid_parameter)
{
    static const uint32_t bad[] = {0x0, 0x2, 0xf, 0x100, 0x110, 0x80000040u, 0xffffffffu};
    put64(IN_GPA + 8, 0xff);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put64(IN_GPA, bad[i]);
        ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_PARAM);
        ck_assert_uint_eq(hc(v[0], C_IPI | FAST, bad[i], 0xff), S_PARAM);
    }
    for (uint32_t w = 0; w < 4; w++) {
        uint64_t p[4];
        for (uint32_t i = 0; i < NV; i++) {
            pending(v[i], p);
            ck_assert_uint_eq(p[w], 0);
        }
    }
    put64(IN_GPA, 0x10);
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x10), 0xff);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0xff, 0x80), S_OK);
    ck_assert_uint_eq(has_vector(v[7], 0xff), true);
    /* Ex: the same rule, with an all-VP set. */
    put64(IN_GPA, 0xf);
    put64(IN_GPA + 8, 1);
    put64(IN_GPA + 16, 0);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_PARAM);
}
END_TEST

/* "Hypercall Interface": "The values within the padding regions are
 * ignored by the hypervisor": bytes 5-7 of the IPI input are padding. */
START_TEST(ipi_padding_bytes_are_ignored)
{
    put64(IN_GPA, 0x37 | (0xffffff0000000000ull));
    put64(IN_GPA + 8, 0x4);
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x37), 0x4);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x38 | 0xabcdef0000000000ull, 0x8), S_OK);
    ck_assert_uint_eq(who_has(0x38), 0x8);
}
END_TEST

/* "HV_INPUT_VTL": TargetVtl 3:0, UseTargetVtl 4, RsvdZ 7:5. Reserved bits
 * and a VTL the partition does not have are refused
 * (HV_STATUS_INVALID_PARAMETER); TargetVtl without UseTargetVtl means the
 * caller's VTL. */
START_TEST(ipi_target_vtl_rules)
{
    put64(IN_GPA + 8, 0x2);
    put64(IN_GPA, 0x39 | (0x20ull << 32));
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_PARAM);
    put64(IN_GPA, 0x39 | (0x11ull << 32));  /* use VTL 1 */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_PARAM);
    ck_assert_uint_eq(who_has(0x39), 0);
    put64(IN_GPA, 0x39 | (0x10ull << 32));  /* use VTL 0 */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    put64(IN_GPA, 0x3a | (0x01ull << 32));  /* VTL 1 named but not used */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x39), 0x2);
    ck_assert_uint_eq(who_has(0x3a), 0x2);
}
END_TEST

/* "Register Mapping (Fast)": RDX and R8 carry the 16-byte input of
 * HvCallSendSyntheticClusterIpi: RDX = vector + VTL + padding, R8 = mask. */
START_TEST(ipi_fast_takes_input_from_rdx_r8)
{
    ck_assert_uint_eq(hc(v[2], C_IPI | FAST, 0x3b, 0x81), S_OK);
    ck_assert_uint_eq(who_has(0x3b), 0x81);
}
END_TEST

/* "XMM Fast Hypercall Input": RDX, R8, then XMM0-XMM5 carry the input
 * block in order. HvCallSendSyntheticClusterIpiEx: RDX = vector, R8 =
 * format, XMM0.lo = ValidBanksMask, XMM0.hi = first bank, XMM1.lo next. */
START_TEST(ipi_ex_xmm_fast_block_order)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[4], VCORE_HV_MSR_VP_INDEX, 65), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x3, 0x2), VCORE_OK); /* banks 0,1; VP 1 */
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 1, 0x2, 0xdead), VCORE_OK); /* VP 65 */
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | FAST | VAR(2), 0x3c, 0), S_OK);
    ck_assert_uint_eq(who_has(0x3c), (1u << 1) | (1u << 4));
}
END_TEST

/* "XMM Fast Hypercall Input": the input block is at most 112 bytes (RDX,
 * R8, XMM0-XMM5); a larger one is HV_STATUS_INVALID_HYPERCALL_INPUT. */
START_TEST(fast_input_over_112_bytes_is_invalid_input)
{
    /* FlushVirtualAddressList: 24 + 8 * 11 = 112 fits, 24 + 8 * 12 does not. */
    for (uint32_t i = 0; i < 6; i++)
        ck_assert_int_eq(vcore_mock_set_xmm(v[0], i, 0, 0x1000ull * (i + 1)), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x1, 0x1000), VCORE_OK); /* mask: VP 0 */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | FAST | REPS(12), 0, 0x2), S_INPUT);
    ck_assert_uint_eq(flushed(), 0);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | FAST | REPS(11), 0, 0x2), 11ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 11);
    ck_assert_uint_eq(f.ranges[0], 0x1000);   /* XMM0.hi */
    ck_assert_uint_eq(f.ranges[10], 0x6000);  /* XMM5.hi */
}
END_TEST

/* "XMM Fast Hypercall Input": a rep start index skips elements of the
 * register block just as of a memory list. */
START_TEST(flush_list_fast_rep_start_skips_register_elements)
{
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x1, 0xa000), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 1, 0xb000, 0xc000), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | FAST | REPS(3) | START(1), 0, 0x2), 3ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_uint_eq(f.ranges[0], 0xb000);
    ck_assert_uint_eq(f.ranges[1], 0xc000);
}
END_TEST

/* "XMM Fast Hypercall Input": only when CPUID 40000003H:EDX[4] advertises
 * it; a fast call whose input needs the XMM registers then raises #UD. */
START_TEST(xmm_input_not_advertised_raises_ud)
{
    down();
    vcore_hv_config_t cfg;
    vcore_hv_config_init(&cfg);
    cfg.features = VCORE_HV_F_ALL & ~VCORE_HV_F_XMM_INPUT;
    vm_up(&cfg, NULL);
    vcore_cpuid_entry_t e;
    ck_assert_int_eq(vcore_vcpu_cpuid_query(v[0], 0x40000003u, 0, &e), VCORE_OK);
    ck_assert_uint_eq((e.edx >> 4) & 1u, 0);
    hc_ud(v[0], C_FLUSH_LIST | FAST | REPS(1), VCORE_DIAG_HV_UD_XMM_INPUT);
    hc_ud(v[0], C_IPI_EX | FAST, VCORE_DIAG_HV_UD_XMM_INPUT);
    ck_assert_uint_eq(flushed(), 0);
    /* "Register Mapping (Fast)": 16 bytes of input fit RDX and R8 and need
     * no XMM register. */
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x46, 0x3), S_OK);
    ck_assert_uint_eq(who_has(0x46), 0x3);
}
END_TEST

/* "HV_INPUT_VTL" in the Ex form and in the fast form: the same byte (input
 * offset 4, RDX bits 39:32) with the same rules. */
START_TEST(ipi_target_vtl_rules_ex_and_fast)
{
    put64(IN_GPA, 0x3f | (0x80ull << 32));   /* RsvdZ bit 7 */
    put64(IN_GPA + 8, 1);                    /* all VPs */
    put64(IN_GPA + 16, 0);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_PARAM);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x3f | (0x40ull << 32), 0x1), S_PARAM);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x3f | (0x12ull << 32), 0x1), S_PARAM);
    ck_assert_uint_eq(who_has(0x3f), 0);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x3f | (0x10ull << 32), 0x1), S_OK);
    ck_assert_uint_eq(who_has(0x3f), 0x1);
}
END_TEST

/* "HvCallSendSyntheticClusterIpiEx": the vector rule holds whatever the
 * set names, an empty sparse set included; a valid vector to an empty set
 * succeeds and sends nothing. */
START_TEST(ipi_ex_empty_set_still_checks_vector)
{
    put64(IN_GPA, 0x5);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0);          /* no banks */
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_PARAM);
    put64(IN_GPA, 0x45);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x45), 0);
}
END_TEST

/* "HvCallSendSyntheticClusterIpi": each call "sends a virtual fixed
 * interrupt"; one that arrives while another still waits to be taken (the
 * guest has RFLAGS.IF clear) is kept, not put in its place, and both are
 * taken once the guest allows interrupts. */
START_TEST(ipi_kept_while_another_interrupt_waits)
{
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x90, 0x2), S_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[1], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_OK); /* IF = 0 */
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0xa0, 0x2), S_OK);
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[1], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_OK); /* IF still 0 */
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_DELIVER_INTERRUPT), 0);
    ck_assert(has_vector(v[1], 0x90));
    ck_assert(has_vector(v[1], 0xa0));
    vcore_x86_regs_t r = regs(v[1]);
    r.rflags = 0x202;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[1], &r), VCORE_OK);
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[1], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_DELIVER_INTERRUPT), 2);
    ck_assert(!has_vector(v[1], 0x90));
    ck_assert(!has_vector(v[1], 0xa0));
}
END_TEST

/* ---------------------------------------------------------------- flushes */

/* "HvCallFlushVirtualAddressList": each GVA range element has the page in
 * 63:12 and the number of additional pages in 11:0 (0xfff: 4096 pages). */
START_TEST(flush_list_element_low_12_bits_are_additional_pages)
{
    put64(IN_GPA, 0x1000);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0x1);
    put64(IN_GPA + 24, 0x7fff0000f000ull | 0xfff);
    put64(IN_GPA + 32, 0x3000);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(2), IN_GPA, 0), 2ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_uint_eq(f.ranges[0], 0x7fff0000ffffull);
    ck_assert_uint_eq(f.ranges[1], 0x3000);
}
END_TEST

/* "HvCallFlushVirtualAddressSpace": flags other than ALL_PROCESSORS (0),
 * ALL_VIRTUAL_ADDRESS_SPACES (1) and NON_GLOBAL_MAPPINGS_ONLY (2) "are
 * reserved and must be set to zero": HV_STATUS_INVALID_PARAMETER, nothing
 * flushed. */
START_TEST(flush_reserved_flags_are_invalid_parameter)
{
    static const unsigned bits[] = {3, 4, 31, 32, 63};
    put64(IN_GPA, 0);
    put64(IN_GPA + 16, 0xff);
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        put64(IN_GPA + 8, 1ull << bits[i]);
        ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, IN_GPA, 0), S_PARAM);
        ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX, IN_GPA, 0), S_PARAM);
    }
    run_others(0);
    ck_assert_uint_eq(flushed(), 0);
}
END_TEST

/* "HvCallFlushVirtualAddressList": HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY is not
 * a valid option for the List calls (HV_STATUS_INVALID_PARAMETER); the
 * Space calls accept it and may keep global translations. */
START_TEST(flush_non_global_only_valid_for_space_calls)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x4);
    put64(IN_GPA + 16, 0x1);
    put64(IN_GPA + 24, 0x5000);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(1), IN_GPA, 0), S_PARAM);
    ck_assert_uint_eq(flushed(), 0);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(last_flush(v[0]).kind, VCORE_TLB_FLUSH_NON_GLOBAL);
    /* ListEx with an all-VP set at 16. */
    put64(IN_GPA + 16, 1);
    put64(IN_GPA + 24, 0);
    put64(IN_GPA + 32, 0x5000);
    ck_assert_uint_eq(hc(v[1], C_FLUSH_LIST_EX | REPS(1), IN_GPA, 0), S_PARAM);
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_FLUSH_TLB), 0);
}
END_TEST

/* "HvCallFlushVirtualAddressSpaceEx": with HV_FLUSH_ALL_PROCESSORS the
 * processor set is ignored (even one whose format is not valid), and the
 * GVA list of ListEx still follows the variable header. */
START_TEST(flush_all_processors_ignores_processor_set)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x1 | 0x2);
    put64(IN_GPA + 16, 7);             /* not a format */
    put64(IN_GPA + 24, 0);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX, IN_GPA, 0), S_OK);
    run_others(0);
    ck_assert_uint_eq(flushed(), 0xff);
    /* ListEx: a sparse set with one bank as the variable header, then the GVA. */
    put64(IN_GPA + 16, 0);
    put64(IN_GPA + 24, 0x1);
    put64(IN_GPA + 32, 0x2);
    put64(IN_GPA + 40, 0x8000);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST_EX | VAR(1) | REPS(1), IN_GPA, 0), 1ull << 32);
    run_others(0);
    vcore_mock_flush_t f = last_flush(v[5]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.ranges[0], 0x8000);
}
END_TEST

/* "HvCallFlushVirtualAddressSpace": ProcessorMask bit i names VP i; only
 * those VPs are flushed, each before it runs guest code again. */
START_TEST(flush_space_mask_flushes_named_vps_only)
{
    put64(IN_GPA, 0x3000);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0x50);          /* VP 4, 6 */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, IN_GPA, 0), S_OK);
    run_others(0);
    ck_assert_uint_eq(flushed(), 0x50);
}
END_TEST

/* "HvCallFlushVirtualAddressListEx": the GVA list follows the fixed header
 * and the variable header (the banks); the rep start index counts
 * elements of that list. */
START_TEST(flush_list_ex_elements_follow_variable_header)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0);          /* sparse */
    put64(IN_GPA + 24, 0x5);        /* banks 0, 2 */
    put64(IN_GPA + 32, 0x1);        /* VP 0 */
    put64(IN_GPA + 40, 0);
    put64(IN_GPA + 48, 0x11000);    /* element 0 */
    put64(IN_GPA + 56, 0x12000);
    put64(IN_GPA + 64, 0x13000);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST_EX | VAR(2) | REPS(3) | START(2), IN_GPA, 0), 3ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.ranges[0], 0x13000);
}
END_TEST

/* "HvCallFlushVirtualAddressList": a long list may be served by flushing
 * more (the whole TLB), never less; reps completed is still the total. */
START_TEST(flush_long_list_flushes_at_least_the_list)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0x1);
    for (uint32_t i = 0; i < 40; i++)
        put64(IN_GPA + 24 + 8 * i, 0x200000 + 0x1000 * i);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(40) | START(20), IN_GPA, 0), 40ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    if (f.kind == VCORE_TLB_FLUSH_LIST) {
        ck_assert_uint_eq(f.count, 20);
        ck_assert_uint_eq(f.ranges[0], 0x214000);
        ck_assert_uint_eq(f.ranges[19], 0x227000);
    } else {
        ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_ALL);
    }
}
END_TEST

/* "HvCallFlushVirtualAddressList": "by the time control returns back to
 * the caller, the observable effects of all flushes ... have occurred":
 * two lists for a VP that has not run since both take effect when it
 * runs (the flush covers every range of both, or everything). */
START_TEST(flush_lists_for_a_waiting_vp_all_take_effect)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 1u << 3);
    for (uint32_t i = 0; i < 10; i++)
        put64(IN_GPA + 24 + 8 * i, 0x300000 + 0x1000 * i);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(10), IN_GPA, 0), 10ull << 32);
    for (uint32_t i = 0; i < 10; i++)
        put64(IN_GPA + 24 + 8 * i, 0x400000 + 0x1000 * i);
    ck_assert_uint_eq(hc(v[1], C_FLUSH_LIST | REPS(10), IN_GPA, 0), 10ull << 32);
    ck_assert_uint_eq(vcore_mock_count(v[3], VCORE_MOCK_OP_FLUSH_TLB), 0);
    run_others(0);
    ck_assert_uint_eq(vcore_mock_count(v[3], VCORE_MOCK_OP_FLUSH_TLB), 1);
    vcore_mock_flush_t f = last_flush(v[3]);
    if (f.kind == VCORE_TLB_FLUSH_LIST) {
        ck_assert_uint_eq(f.count, 20);
        ck_assert_uint_eq(f.ranges[0], 0x300000);
        ck_assert_uint_eq(f.ranges[19], 0x409000);
    } else {
        ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_ALL);
    }
    /* Two short lists fit together: both sets of ranges. */
    put64(IN_GPA + 24, 0x500000);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(1), IN_GPA, 0), 1ull << 32);
    put64(IN_GPA + 24, 0x600000 | 2);
    ck_assert_uint_eq(hc(v[1], C_FLUSH_LIST | REPS(1), IN_GPA, 0), 1ull << 32);
    run_others(0);
    f = last_flush(v[3]);
    if (f.kind == VCORE_TLB_FLUSH_LIST) {
        ck_assert_uint_eq(f.count, 2);
        ck_assert_uint_eq(f.ranges[0], 0x500000);
        ck_assert_uint_eq(f.ranges[1], 0x600002);
    } else {
        ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_ALL);
    }
}
END_TEST

/* ------------------------------------------------------- memory input rules */

/* "Alignment Requirements": the input GPA must be 8-byte aligned, else
 * HV_STATUS_INVALID_ALIGNMENT. */
START_TEST(input_gpa_not_8_byte_aligned_is_invalid_alignment)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x3);
    put64(IN_GPA + 16, 0x1);
    for (uint32_t off = 1; off < 8; off++) {
        ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, IN_GPA + off, 0), S_ALIGN);
        ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(1), IN_GPA + off, 0), S_ALIGN);
    }
    ck_assert_uint_eq(flushed(), 0);
}
END_TEST

/* "Alignment Requirements": the input parameter list (fixed header,
 * variable header and every rep element) must not cross a page boundary,
 * else HV_STATUS_INVALID_ALIGNMENT. */
START_TEST(input_crossing_page_is_invalid_alignment)
{
    uint64_t g = IN_GPA + 0x1000 - 32;     /* 32 bytes to the page end */
    put64(g, 0x3d);
    put64(g + 8, 0);
    put64(g + 16, 0x1);
    put64(g + 24, 0x1);
    /* IpiEx: 24 + 8 = 32 bytes fit; with two banks, 40 do not. */
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(1), g, 0), S_OK);
    ck_assert_uint_eq(who_has(0x3d), 1);
    put64(g + 16, 0x3);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(2), g, 0), S_ALIGN);
    /* FlushSpaceEx: 32 fixed bytes + 1 bank at 32 before the end: crosses. */
    put64(g, 0);
    put64(g + 8, 0x3);
    put64(g + 16, 1);
    put64(g + 24, 0);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX | VAR(1), g, 0), S_ALIGN);
    /* FlushList: 24 + 8 = 32 fit; rep count 2 crosses even with start 1. */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(2) | START(1), g, 0), S_ALIGN);
    ck_assert_uint_eq(flushed(), 0);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX, g, 0), S_OK);
}
END_TEST

/* "Alignment Requirements": an input GPA outside the partition's GPA space
 * is HV_STATUS_INVALID_ALIGNMENT; nothing is delivered. */
START_TEST(input_outside_gpa_space_is_invalid_alignment)
{
    ck_assert_uint_eq(hc(v[0], C_IPI, 0xfffffffffffff000ull, 0), S_ALIGN);
    ck_assert_uint_eq(hc(v[0], C_IPI, 1ull << 40, 0), S_ALIGN);
    ck_assert_uint_eq(hc(v[0], C_IPI, MEM_SIZE, 0), S_ALIGN);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, MEM_SIZE + 0x1000, 0), S_ALIGN);
    ck_assert_uint_eq(flushed(), 0);
}
END_TEST

/* ------------------------------------------------------ environment, MSRs */

/* "Legal Hypercall Environments": hypercalls from CPL > 0 or from real /
 * virtual-8086 mode raise #UD; RIP stays on the instruction. */
START_TEST(hypercall_outside_cpl0_protected_mode_raises_ud)
{
    set_mode(v[2], true, 1);
    hc_ud(v[2], C_IPI | FAST, VCORE_DIAG_HV_UD_CPL);
    set_mode(v[2], false, 2);
    hc_ud(v[2], C_IPI | FAST, VCORE_DIAG_HV_UD_CPL);
    ck_assert_int_eq(vcore_vcpu_reset(v[3]), VCORE_OK);
    hc_ud(v[3], C_IPI | FAST, VCORE_DIAG_HV_UD_REAL_MODE);
}
END_TEST

/* "Hypercall Outputs" / "Register Mapping": a 32-bit caller (not EFER.LMA
 * with CS.L) passes the input value in EDX:EAX, the input GPA in EBX:ECX
 * and gets the result in EDX:EAX (reps completed in EDX[11:0]). */
START_TEST(result_in_edx_eax_for_32bit_caller)
{
    set_mode(v[1], false, 0);
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x2);
    put64(IN_GPA + 16, 0x2);
    for (uint32_t i = 0; i < 5; i++)
        put64(IN_GPA + 24 + 8 * i, 0x1000 * (i + 1));
    vcore_x86_regs_t r = regs(v[1]);
    r.gpr[VCORE_X86_RAX] = C_FLUSH_LIST;
    r.gpr[VCORE_X86_RDX] = 5 | (2u << 16);  /* rep count 5, start 2 */
    r.gpr[VCORE_X86_RBX] = 0;
    r.gpr[VCORE_X86_RCX] = IN_GPA;
    r = vmcall(v[1], &r);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX] & 0xffffffffu, 0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX] & 0xffffffffu, 5);
    vcore_mock_flush_t f = last_flush(v[1]);
    ck_assert_uint_eq(f.count, 3);
    ck_assert_uint_eq(f.ranges[0], 0x3000);
}
END_TEST

/* "Register Mapping": the hypervisor takes the caller for 64-bit only when
 * both EFER.LMA and CS.L are set; a compatibility-mode caller (LMA, CS.L
 * clear) uses EDX:EAX, EBX:ECX and gets its result in EDX:EAX. */
START_TEST(compatibility_mode_caller_uses_32bit_registers)
{
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(v[1], &sr), VCORE_OK);
    sr.seg[VCORE_X86_CS].ar = (sr.seg[VCORE_X86_CS].ar & ~(uint32_t)VCORE_X86_AR_L) | VCORE_X86_AR_DB;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v[1], &sr), VCORE_OK);
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x2);
    put64(IN_GPA + 16, 0x2);
    put64(IN_GPA + 24, 0x9000);
    put64(IN_GPA + 32, 0xa000);
    vcore_x86_regs_t r = regs(v[1]);
    r.gpr[VCORE_X86_RAX] = C_FLUSH_LIST;
    r.gpr[VCORE_X86_RDX] = 2;               /* rep count 2 */
    r.gpr[VCORE_X86_RBX] = 0;
    r.gpr[VCORE_X86_RCX] = IN_GPA;          /* RCX is not the input value here */
    r = vmcall(v[1], &r);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX] & 0xffffffffu, 0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX] & 0xffffffffu, 2);
    vcore_mock_flush_t f = last_flush(v[1]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_uint_eq(f.ranges[1], 0xa000);
}
END_TEST

/* "HvCallSendSyntheticClusterIpi": the vector delivered is the validated
 * one from the input; the VMM's hook sees the call but only its status is
 * an output (vcore_hv_call_t), so writing another field changes nothing. */
START_TEST(ipi_delivers_validated_vector_whatever_the_hook_writes)
{
    hook_vector_write = 0x47;
    put64(IN_GPA, 0x48);
    put64(IN_GPA + 8, 0x4);
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(hook_calls, 1);
    ck_assert_uint_eq(who_has(0x48), 0x4);
    ck_assert_uint_eq(who_has(0x47), 0);
    /* Not even a vector outside the pending bitmap reaches it. */
    hook_vector_write = 0x12345;
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x48), 0x4);
}
END_TEST

/* "Reporting the Guest OS Identity": until the guest writes a non-zero
 * HV_X64_MSR_GUEST_OS_ID it cannot make hypercalls: the VMCALL is not
 * decoded as one (it reaches the VMM as a plain hypercall exit). */
START_TEST(guest_os_id_zero_disables_hypercalls)
{
    ck_assert(!wrmsr(v[0], VCORE_HV_MSR_GUEST_OS_ID, 0));
    vcore_x86_regs_t r = regs(v[0]);
    r.gpr[VCORE_X86_RCX] = C_IPI | FAST;
    r.gpr[VCORE_X86_RDX] = 0x3e;
    r.gpr[VCORE_X86_R8] = 0x1;
    r.rip = HC_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[0], &r), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.insn_len = VMCALL_LEN;
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_HYPERV, 0);
    ck_assert_uint_eq(who_has(0x3e), 0);
    /* The VMM completes it (reply), then the guest sets an identity. */
    out.u.hypercall.ret = 0;
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    /* With an identity it is a hypercall again. */
    ck_assert(!wrmsr(v[0], VCORE_HV_MSR_GUEST_OS_ID, 0x8100000000000001ull));
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x3e, 0x1), S_OK);
    ck_assert_uint_eq(who_has(0x3e), 0x1);
}
END_TEST

/* "Virtual Processor Properties": HV_X64_MSR_VP_INDEX reads the VP's index;
 * it is read-only (a guest WRMSR is #GP and changes nothing). */
START_TEST(vp_index_msr_read_only)
{
    bool gp = true;
    ck_assert_int_eq(vcore_hv_set_msr(v[5], VCORE_HV_MSR_VP_INDEX, 77), VCORE_OK);
    ck_assert_uint_eq(rdmsr(v[5], VCORE_HV_MSR_VP_INDEX, &gp), 77);
    ck_assert(!gp);
    ck_assert(wrmsr(v[5], VCORE_HV_MSR_VP_INDEX, 5));
    ck_assert_uint_eq(rdmsr(v[5], VCORE_HV_MSR_VP_INDEX, &gp), 77);
    ck_assert_uint_eq(rdmsr(v[6], VCORE_HV_MSR_VP_INDEX, &gp), 6);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hyperv_tlfs");
    TCase *t = tcase_create("tlfs");
    tcase_add_checked_fixture(t, up, down);
    tcase_add_test(t, input_value_rsvdz_bits_are_invalid_input);
    tcase_add_test(t, unknown_call_code_is_invalid_code);
    tcase_add_test(t, simple_call_with_rep_fields_is_invalid_input);
    tcase_add_test(t, rep_start_not_below_rep_count_is_invalid_input);
    tcase_add_test(t, reps_completed_is_total_not_relative_to_start);
    tcase_add_test(t, variable_header_on_fixed_header_call_is_invalid_input);
    tcase_add_test(t, variable_header_must_equal_sparse_bank_count);
    tcase_add_test(t, vp_set_unknown_format_is_invalid_parameter);
    tcase_add_test(t, sparse_bank_beyond_existing_vps_names_nobody);
    tcase_add_test(t, processor_mask_names_vp_indexes_not_vcpu_ids);
    tcase_add_test(t, processor_mask_cannot_name_vp_index_64_or_more);
    tcase_add_test(t, sparse_set_cannot_name_vp_index_4096_or_more);
    tcase_add_test(t, vp_index_special_values_refused);
    tcase_add_test(t, ipi_vector_outside_10h_ffh_is_invalid_parameter);
    tcase_add_test(t, ipi_padding_bytes_are_ignored);
    tcase_add_test(t, ipi_target_vtl_rules);
    tcase_add_test(t, ipi_fast_takes_input_from_rdx_r8);
    tcase_add_test(t, ipi_ex_xmm_fast_block_order);
    tcase_add_test(t, fast_input_over_112_bytes_is_invalid_input);
    tcase_add_test(t, flush_list_fast_rep_start_skips_register_elements);
    tcase_add_test(t, xmm_input_not_advertised_raises_ud);
    tcase_add_test(t, ipi_kept_while_another_interrupt_waits);
    tcase_add_test(t, ipi_target_vtl_rules_ex_and_fast);
    tcase_add_test(t, ipi_ex_empty_set_still_checks_vector);
    tcase_add_test(t, flush_list_element_low_12_bits_are_additional_pages);
    tcase_add_test(t, flush_list_ex_elements_follow_variable_header);
    tcase_add_test(t, flush_long_list_flushes_at_least_the_list);
    tcase_add_test(t, flush_reserved_flags_are_invalid_parameter);
    tcase_add_test(t, flush_non_global_only_valid_for_space_calls);
    tcase_add_test(t, flush_all_processors_ignores_processor_set);
    tcase_add_test(t, flush_space_mask_flushes_named_vps_only);
    tcase_add_test(t, flush_lists_for_a_waiting_vp_all_take_effect);
    tcase_add_test(t, input_gpa_not_8_byte_aligned_is_invalid_alignment);
    tcase_add_test(t, input_crossing_page_is_invalid_alignment);
    tcase_add_test(t, input_outside_gpa_space_is_invalid_alignment);
    tcase_add_test(t, hypercall_outside_cpl0_protected_mode_raises_ud);
    tcase_add_test(t, result_in_edx_eax_for_32bit_caller);
    tcase_add_test(t, compatibility_mode_caller_uses_32bit_registers);
    tcase_add_test(t, ipi_delivers_validated_vector_whatever_the_hook_writes);
    tcase_add_test(t, guest_os_id_zero_disables_hypercalls);
    tcase_add_test(t, vp_index_msr_read_only);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(suite());
}
