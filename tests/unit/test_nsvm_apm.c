/*
 * test_nsvm_apm.c - black-box conformance of nested SVM on the vCPU
 * pipeline (mock backend), one test per rule of AMD64 APM Vol. 2,
 * chapter 15 "Secure Virtual Machine". Every expected value is the
 * manual's: "Canonicalization and Consistency Checks" (VMRUN), "#VMEXIT",
 * "MSR Intercepts", "I/O Intercepts", "Event Injection", "VMSAVE and
 * VMLOAD Instructions", "Nested Paging" (#NPF error code), appendix B
 * "Layout of VMCB" and appendix C "SVM Intercept Exit Codes".
 */
#include <string.h>

#include "support.h"

#include <virtcore/x86/nvmx_pipeline.h>

#include "nsvm_run_fixture.h"

/* Queues L1's SVM instruction op (3 bytes) on vmcb01. */
static void push_svm(uint32_t op)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_SVM_INSN);
    e.u.svm_insn.op = op;
    e.u.svm_insn.insn_len = 3;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
}

#define MSRPM 0x30000u /* 8 KiB */
#define IOPM 0x40000u  /* 12 KiB */
#define VMCB_LS 0x50000u /* L1's VMSAVE/VMLOAD area */
#define MAXPA (1ull << 40) /* CPUID Fn8000_0008_EAX[7:0] = 28H */
#define EXITCODE 0x70u
#define EXITINFO1 0x78u
#define EXITINFO2 0x80u
#define EXITINTINFO 0x88u
#define EVENTINJ 0xa8u
#define W3_MSR_PROT (1u << 28)
#define W3_IOIO_PROT (1u << 27)

/* An MSR exit of L2 with ECX = ecx (mock "hardware"). */
static void push_l2_ecx(uint64_t code, uint64_t i1, uint32_t reason, uint32_t flags, uint32_t ecx)
{
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = code;
    x.exit_info1 = i1;
    x.next_rip = L2_RIP + 2;
    x.exit = vcore_test_exit(reason);
    x.exit.flags = flags;
    x.nfields = 1;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP;
    x.gprs[VCORE_X86_RCX] = ecx;
    x.gpr_mask = 1u << VCORE_X86_RCX;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
}

/* "Canonicalization and Consistency Checks": an illegal state is
 * #VMEXIT(VMEXIT_INVALID): EXITCODE = -1 (64 bits, appendix C), L2 never
 * runs, and L1 resumes after its VMRUN as after any #VMEXIT ("#VMEXIT":
 * GIF cleared, host state reloaded). */
static void expect_invalid(void)
{
    push_vmrun();
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), UINT64_MAX);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 0);
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
    ck_assert(!vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
    ck_assert(!vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
}

/* The legal neighbour of a boundary: VMRUN enters L2 (L2's HLT, which L1
 * does not intercept, reaches the VMM flagged L2). */
static void expect_enters(void)
{
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 1);
    ck_assert(vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
    ck_assert(vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    ck_assert_uint_ne(get(VMCB12 + EXITCODE, 8), UINT64_MAX);
}

/* ---- VMRUN: "Canonicalization and Consistency Checks" ---- */

/* "EFER.SVME is zero." */
START_TEST(vmrun_efer_svme_clear_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x4d0, 0x0d00, 8);
    expect_invalid();
}
END_TEST

/* "CR0.CD is zero and CR0.NW is set." - and CD with NW is legal. */
START_TEST(vmrun_cr0_nw_without_cd_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x558, 0x80000031ull | (1ull << 29), 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_cr0_cd_and_nw_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x558, 0x80000031ull | (1ull << 29) | (1ull << 30), 8);
    expect_enters();
}
END_TEST

/* "CR0[63:32] are not zero." - bit 32, the lowest of them. */
START_TEST(vmrun_cr0_bit32_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x558, 0x80000031ull | (1ull << 32), 8);
    expect_invalid();
}
END_TEST

/* "Any MBZ bit of CR3 is set": in long mode the bits at or above the
 * implemented physical address width (40 here); bit 39 is legal. */
START_TEST(vmrun_cr3_at_maxphyaddr_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x550, MAXPA | 0x3000, 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_cr3_below_maxphyaddr_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x550, (MAXPA >> 1) | 0x3000, 8);
    expect_enters();
}
END_TEST

/* "Any MBZ bit of CR4 is set": CR4[63:32]. */
START_TEST(vmrun_cr4_bit32_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x548, 0x20ull | (1ull << 32), 8);
    expect_invalid();
}
END_TEST

/* "DR6[63:32] are not zero." / "DR7[63:32] are not zero." */
START_TEST(vmrun_dr6_bit32_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x568, 0xffff0ff0ull | (1ull << 32), 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_dr7_bit32_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x560, 0x400ull | (1ull << 32), 8);
    expect_invalid();
}
END_TEST

/* "Any MBZ bit of EFER is set": bit 2 is reserved, bits 63:16 too. */
START_TEST(vmrun_efer_reserved_bit_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x4d0, 0x1d00 | (1u << 2), 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_efer_bit63_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x4d0, 0x1d00 | (1ull << 63), 8);
    expect_invalid();
}
END_TEST

/* "Any MBZ bit of CR4 is set": a bit of a feature L1's processor does not
 * report is reserved - CR4.LA57 (bit 12) without CPUID 7.0:ECX[16],
 * CR4.PCIDE (bit 17) without CPUID 1:ECX[17] (neither in this fixture). */
START_TEST(vmrun_cr4_la57_without_feature_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x548, 0x20ull | (1ull << 12), 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_cr4_pcide_without_feature_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x548, 0x20ull | (1ull << 17), 8);
    expect_invalid();
}
END_TEST

/* "Any MBZ bit of EFER is set": EFER.FFXSR (bit 14) without CPUID
 * Fn8000_0001_EDX[FFXSR] (not in this fixture). */
START_TEST(vmrun_efer_ffxsr_without_feature_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x4d0, 0x1d00 | (1u << 14), 8);
    expect_invalid();
}
END_TEST

/* EFER.LME without CR0.PG is no rule of the list (long mode is not
 * active): a protected-mode L2 without paging enters. */
START_TEST(vmrun_lme_without_pg_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x4d0, 0x1900, 8);
    put(VMCB12 + 0x558, 0x11, 8);
    put(VMCB12 + 0x412, 0xc9b, 2); /* 32-bit code: D, G */
    expect_enters();
}
END_TEST

/* "EFER.LME and CR0.PG are both set and CR4.PAE is zero." */
START_TEST(vmrun_lme_pg_without_pae_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x548, 0, 8);
    expect_invalid();
}
END_TEST

/* "EFER.LME and CR0.PG are both non-zero and CR0.PE is zero." */
START_TEST(vmrun_lme_pg_without_pe_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x558, 0x80000030ull, 8);
    expect_invalid();
}
END_TEST

/* "EFER.LME, CR0.PG, CR4.PAE, CS.L, and CS.D are all non-zero." */
START_TEST(vmrun_long_mode_cs_l_and_d_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x412, 0x29b | (1u << 10), 2); /* VMCB attribute bit 10: D/B */
    expect_invalid();
}
END_TEST

/* Outside long mode CS.L and CS.D together are not in the list: a
 * protected-mode L2 without paging (EFER.LME clear) enters. */
START_TEST(vmrun_cs_l_and_d_outside_long_mode_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x4d0, 0x1000, 8);
    put(VMCB12 + 0x558, 0x11, 8);
    put(VMCB12 + 0x548, 0, 8);
    put(VMCB12 + 0x412, 0x29b | (1u << 10), 2);
    expect_enters();
}
END_TEST

/* "The VMRUN intercept bit is clear." */
START_TEST(vmrun_intercept_clear_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x10, 0, 4);
    expect_invalid();
}
END_TEST

/* "ASID is equal to zero." */
START_TEST(vmrun_asid_zero_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x58, 0, 4);
    expect_invalid();
}
END_TEST

/* "The MSR or IOIO intercept tables extend to a physical address that is
 * greater than or equal to the maximum supported physical address": the
 * 8-KiB MSRPM and the 12-KiB IOPM ("MSR Intercepts", "I/O Intercepts"). A
 * table whose last byte is the last byte below 2^MAXPHYADDR is legal. */
START_TEST(vmrun_msrpm_crossing_maxphyaddr_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x48, MAXPA - 0x1000, 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_msrpm_ending_at_maxphyaddr_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x48, MAXPA - 0x2000, 8);
    expect_enters();
}
END_TEST

START_TEST(vmrun_iopm_crossing_maxphyaddr_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x40, MAXPA - 0x2000, 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_iopm_ending_at_maxphyaddr_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x40, MAXPA - 0x3000, 8);
    expect_enters();
}
END_TEST

/* "Event Injection": VMRUN fails with VMEXIT_INVALID for a reserved TYPE
 * (1, 5, 6, 7) or TYPE 3 with a vector that is no exception, "this
 * includes vector 2, which is an NMI". EVENTINJ: vector 7:0, TYPE 10:8,
 * EV 11, V 31, ERRORCODE 63:32. */
START_TEST(vmrun_eventinj_exception_vector_2_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x80000302ull, 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_eventinj_exception_vector_15_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x8000030full, 8);
    expect_invalid();
}
END_TEST

/* Vector 21 (#CP) is an exception only with CET (CPUID 7.0:ECX[7] /
 * EDX[20], not in this fixture); 30 (#SX) is SVM's own exception. */
START_TEST(vmrun_eventinj_cp_without_cet_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x80000315ull, 8);
    expect_invalid();
}
END_TEST

START_TEST(vmrun_eventinj_sx_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x0000000180000b1eull, 8);
    expect_enters();
}
END_TEST

START_TEST(vmrun_eventinj_type_1_is_invalid)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x80000130ull, 8);
    expect_invalid();
}
END_TEST

/* Without V nothing of EVENTINJ is checked; an NMI (TYPE 2) ignores its
 * vector; #GP (TYPE 3, vector 13) with an error code is legal and is
 * what vmcb02 injects. */
START_TEST(vmrun_eventinj_invalid_without_v_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x00000102ull, 8);
    expect_enters();
}
END_TEST

START_TEST(vmrun_eventinj_nmi_any_vector_enters)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x80000230ull, 8);
    expect_enters();
}
END_TEST

START_TEST(vmrun_eventinj_gp_with_error_code_reaches_vmcb02)
{
    vmcb12(0, 0, false);
    put(VMCB12 + EVENTINJ, 0x0000001880000b0dull, 8);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    ck_assert_uint_ne(run().flags & VCORE_EXIT_F_L2, 0);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj, 0x0000001880000b0dull);
}
END_TEST

/* ---- "#VMEXIT" ---- */

/* L1 intercepts #PF (exception vector bit 14); L2's #PF arrives while L2
 * delivers an external interrupt (vector 30H): EXITCODE 4EH, EXITINFO1 =
 * the error code, EXITINFO2 = the faulting address ("Exception
 * Intercepts"), EXITINTINFO = the event being delivered ("Event
 * Injection": a #VMEXIT during an event delivery records it). */
START_TEST(vmexit_during_delivery_sets_exitintinfo)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x08, 1u << 14, 4);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x4e;
    x.exit_info1 = 0x2;
    x.exit_info2 = 0xdead000;
    x.exit_int_info = 0x80000030ull;
    x.exit = vcore_test_exit(VCORE_EXIT_EXCEPTION);
    x.nfields = 1;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x4e);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), 0x2);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO2, 8), 0xdead000);
    ck_assert_uint_eq(get(VMCB12 + EXITINTINFO, 8), 0x80000030ull);
}
END_TEST

/* "#VMEXIT" saves V_TPR and V_IRQ into VMCB12 (the rest of VMCB12's
 * interrupt control - V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, the vector
 * - is L1's and stays), and the interrupt shadow. */
START_TEST(vmexit_writes_back_v_tpr_v_irq_and_shadow)
{
    vmcb12(1u << 23, 0, false); /* word 3 bit 23: PAUSE (EXITCODE 77H) */
    uint32_t l1_ctl = 0x03u | (1u << 8) | (0x5u << 16) | (1u << 20) | (1u << 24);
    put(VMCB12 + 0x60, l1_ctl, 4);
    put(VMCB12 + 0x64, 0x41, 4);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x77;
    x.next_rip = L2_RIP + 2;
    x.exit = vcore_test_exit(VCORE_EXIT_RAW);
    x.nfields = 3;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP;
    /* The processor: V_TPR 7, V_IRQ taken; vmcb02's other bits as they were. */
    x.fields[1].offset = 0x60;
    x.fields[1].bytes = 4;
    x.fields[1].value = (l1_ctl & ~0x1ffu) | 0x07;
    x.fields[2].offset = 0x68; /* interrupt shadow */
    x.fields[2].bytes = 4;
    x.fields[2].value = 1;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x77);
    uint32_t ctl = (uint32_t)get(VMCB12 + 0x60, 4);
    ck_assert_uint_eq(ctl & 0xffu, 0x07);
    ck_assert_uint_eq(ctl & (1u << 8), 0);
    ck_assert_uint_eq(ctl & ~0x1ffu, l1_ctl & ~0x1ffu);
    ck_assert_uint_eq(get(VMCB12 + 0x64, 1), 0x41);
    ck_assert_uint_eq(get(VMCB12 + 0x68, 4) & 1u, 1);
}
END_TEST

/* "#VMEXIT" reloads the host state saved by VMRUN: RFLAGS, RIP (the
 * instruction after VMRUN), RSP, RAX; CPL 0; DR7 with every breakpoint
 * disabled; GIF cleared. */
START_TEST(vmexit_reloads_l1_rflags_rsp_rax_dr7)
{
    vmcb12(1u << 18, 0, false);
    vcore_x86_regs_t r = regs();
    r.rflags = 0x247; /* IF, ZF, PF, CF */
    r.gpr[VCORE_X86_RSP] = 0x7ff0;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    d.dr7 = 0x401; /* L1's own breakpoint 0 enabled */
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &d), VCORE_OK);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x72;
    x.next_rip = L2_RIP + 2;
    x.exit = vcore_test_exit(VCORE_EXIT_CPUID);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    x.nfields = 4;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP;
    x.fields[1].offset = 0x570; /* L2's RFLAGS */
    x.fields[1].bytes = 8;
    x.fields[1].value = 0x2;
    x.fields[2].offset = 0x5d8;
    x.fields[2].bytes = 8;
    x.fields[2].value = 0x1111;
    x.fields[3].offset = 0x5f8;
    x.fields[3].bytes = 8;
    x.fields[3].value = 0x2222;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 3);
    ck_assert_uint_eq(r.rflags, 0x247);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSP], 0x7ff0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], VMCB12);
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr7 & 0xff, 0);
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].selector & 3u, 0);
    ck_assert_uint_eq(s.cr3, PML4);
    ck_assert(!vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    /* L2's were saved ("#VMEXIT": RFLAGS, RSP, RAX into the state-save area). */
    ck_assert_uint_eq(get(VMCB12 + 0x570, 8), 0x2);
    ck_assert_uint_eq(get(VMCB12 + 0x5d8, 8), 0x1111);
    ck_assert_uint_eq(get(VMCB12 + 0x5f8, 8), 0x2222);
}
END_TEST

/* "#VMEXIT" saves ES, CS, SS, DS, GDTR, IDTR, EFER, CR0, CR2-CR4, DR6, DR7,
 * RFLAGS, RIP, RSP, RAX, CPL (and G_PAT with nested paging) - not FS, GS,
 * TR, LDTR, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_* ("VMSAVE
 * and VMLOAD Instructions"), and not L1's controls. */
START_TEST(vmexit_leaves_vmload_state_and_controls_alone)
{
    vmcb12(1u << 18, 0, false);
    put(VMCB12 + 0x448, 0x5a5a000, 8);  /* FS base */
    put(VMCB12 + 0x498, 0x6b6b000, 8);  /* TR base */
    put(VMCB12 + 0x600, 0x1234, 8);     /* STAR */
    put(VMCB12 + 0x620, 0x7c7c000, 8);  /* KernelGsBase */
    put(VMCB12 + 0x628, 0x99, 8);       /* SYSENTER_CS */
    put(VMCB12 + 0x50, 0x1000, 8);      /* TSC_OFFSET */
    put(VMCB12 + 0x668, 0x0007040600070406ull, 8);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x72);
    ck_assert_uint_eq(get(VMCB12 + 0x448, 8), 0x5a5a000);
    ck_assert_uint_eq(get(VMCB12 + 0x498, 8), 0x6b6b000);
    ck_assert_uint_eq(get(VMCB12 + 0x600, 8), 0x1234);
    ck_assert_uint_eq(get(VMCB12 + 0x620, 8), 0x7c7c000);
    ck_assert_uint_eq(get(VMCB12 + 0x628, 8), 0x99);
    ck_assert_uint_eq(get(VMCB12 + 0x50, 8), 0x1000);
    ck_assert_uint_eq(get(VMCB12 + 0x0c, 4), 1u << 18);
    ck_assert_uint_eq(get(VMCB12 + 0x10, 4), 1u);
    ck_assert_uint_eq(get(VMCB12 + 0x58, 4), 1u);
}
END_TEST

/* ---- "MSR Intercepts" ---- */

/* Two bits per MSR, read bit first: C000_0081H (STAR) is at byte
 * 800H + (81H * 2) / 8 = 820H, read bit 2, write bit 3. With only the
 * write bit set, WRMSR is L1's #VMEXIT (EXITCODE 7CH, EXITINFO1 = 1) and
 * RDMSR is not. */
START_TEST(msrpm_write_bit_of_star)
{
    vmcb12(W3_MSR_PROT, 0, false);
    put(VMCB12 + 0x48, MSRPM, 8);
    put(MSRPM + 0x820, 1u << 3, 1);
    push_vmrun();
    push_l2_ecx(0x7c, 0, VCORE_EXIT_RDMSR, VCORE_EXIT_F_NEEDS_REPLY, 0xc0000081u);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_ne(get(VMCB12 + EXITCODE, 8), 0x7c);
    push_l2_ecx(0x7c, 1, VCORE_EXIT_WRMSR, VCORE_EXIT_F_NEEDS_REPLY, 0xc0000081u);
    push_l1(VCORE_EXIT_HLT);
    out.u.msr.value = 0;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x7c);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), 1);
}
END_TEST

/* The third range C001_0000H-C001_1FFFH starts at byte 1000H: the read
 * bit of C001_1FFFH is bit 6 of byte 17FFH. That bit is not the one of
 * 0000_1FFFH (byte 7FFH): RDMSR 1FFFH is not L1's. */
START_TEST(msrpm_last_msr_of_third_range)
{
    vmcb12(W3_MSR_PROT, 0, false);
    put(VMCB12 + 0x48, MSRPM, 8);
    put(MSRPM + 0x17ff, 1u << 6, 1);
    push_vmrun();
    push_l2_ecx(0x7c, 0, VCORE_EXIT_RDMSR, VCORE_EXIT_F_NEEDS_REPLY, 0x1fffu);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    push_l2_ecx(0x7c, 0, VCORE_EXIT_RDMSR, VCORE_EXIT_F_NEEDS_REPLY, 0xc0011fffu);
    push_l1(VCORE_EXIT_HLT);
    out.u.msr.value = 0;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x7c);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), 0);
}
END_TEST

/* "MSRs outside the ranges are always intercepted": 2000H and
 * C000_2000H with an empty map are L1's. */
static void msr_outside(uint32_t msr)
{
    vmcb12(W3_MSR_PROT, 0, false);
    put(VMCB12 + 0x48, MSRPM, 8);
    push_vmrun();
    push_l2_ecx(0x7c, 0, VCORE_EXIT_RDMSR, VCORE_EXIT_F_NEEDS_REPLY, msr);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x7c);
}

START_TEST(msrpm_msr_2000h_always_intercepted)
{
    msr_outside(0x2000u);
}
END_TEST

START_TEST(msrpm_msr_c0002000h_always_intercepted)
{
    msr_outside(0xc0002000u);
}
END_TEST

START_TEST(msrpm_msr_c0012000h_always_intercepted)
{
    msr_outside(0xc0012000u);
}
END_TEST

/* ---- "I/O Intercepts" ---- */

/* One bit per port; a multi-byte access is intercepted when the bit of any
 * port it touches is set. IOIO EXITINFO1: TYPE bit 0 (1 = IN), SZ8/16/32
 * bits 4-6, A64 bit 9, PORT 31:16. */
static void io_case(uint32_t port, uint32_t sz_bit, bool to_l1)
{
    uint64_t info1 = ((uint64_t)port << 16) | (1u << sz_bit) | (1u << 9) | 1u;
    push_l2(0x7b, info1, L2_RIP + 1, VCORE_EXIT_IO, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 1);
    if (to_l1)
        push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    if (to_l1) {
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
        ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x7b);
        ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), info1);
    } else {
        ck_assert_uint_eq(out.reason, VCORE_EXIT_IO);
        ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    }
}

START_TEST(iopm_byte_access_below_set_port_not_intercepted)
{
    vmcb12(W3_IOIO_PROT, 0, false);
    put(VMCB12 + 0x40, IOPM, 8);
    put(IOPM + 0x400 / 8, 1, 1); /* port 400H */
    push_vmrun();
    io_case(0x3ff, 4, false);
}
END_TEST

START_TEST(iopm_word_access_crossing_into_set_port)
{
    vmcb12(W3_IOIO_PROT, 0, false);
    put(VMCB12 + 0x40, IOPM, 8);
    put(IOPM + 0x400 / 8, 1, 1);
    push_vmrun();
    io_case(0x3ff, 5, true);
}
END_TEST

START_TEST(iopm_dword_access_crossing_into_set_port)
{
    vmcb12(W3_IOIO_PROT, 0, false);
    put(VMCB12 + 0x40, IOPM, 8);
    put(IOPM + 0x400 / 8, 1, 1);
    push_vmrun();
    io_case(0x3fd, 6, true);
}
END_TEST

/* The IOPM is 12 KiB so that an access at FFFFH of several bytes finds
 * bits past port FFFFH: those of "ports" 10000H-10002H, byte 2000H. */
START_TEST(iopm_access_at_ffff_uses_the_third_page)
{
    vmcb12(W3_IOIO_PROT, 0, false);
    put(VMCB12 + 0x40, IOPM, 8);
    put(IOPM + 0x2000, 1, 1);
    push_vmrun();
    io_case(0xffff, 5, true);
}
END_TEST

/* ---- "CR and DR Intercepts" ---- */

/* Read and write intercepts are separate bits: CR3 write intercepted
 * (bit 19 of the CR vector) does not make a CR3 read (EXITCODE 03H) L1's. */
START_TEST(cr3_read_not_intercepted_by_the_write_bit)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x00, 1u << 19, 4);
    push_vmrun();
    push_l2(0x03, 0x8000000000000003ull, 0, VCORE_EXIT_CR_ACCESS, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 3);
    vcore_exit_t out = run();
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_ne(get(VMCB12 + EXITCODE, 8), 0x03);
    ck_assert(vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
}
END_TEST

/* ... and the CR3 write (13H) is L1's, EXITINFO1 bit 63 (MOV CRx) with
 * the GPR number in bits 3:0 ("CR and DR Intercepts", "Decode Assist"). */
START_TEST(cr3_write_intercepted)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x00, 1u << 19, 4);
    push_vmrun();
    push_l2(0x13, 0x8000000000000003ull, 0, VCORE_EXIT_CR_ACCESS, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 3);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x13);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), 0x8000000000000003ull);
}
END_TEST

/* DR7 read intercept: bit 7 of the DR vector, EXITCODE 27H. */
START_TEST(dr7_read_intercept)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x04, 1u << 7, 4);
    push_vmrun();
    push_l2(0x27, 0, 0, VCORE_EXIT_RAW, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 3);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x27);
}
END_TEST

/* ---- "VMSAVE and VMLOAD Instructions" ---- */

/* VMSAVE stores FS, GS, TR, LDTR (hidden state included), KernelGsBase,
 * STAR, LSTAR, CSTAR, SFMASK, SYSENTER_CS/ESP/EIP into the VMCB at rAX and
 * nothing else. */
START_TEST(vmsave_stores_exactly_its_register_set)
{
    for (uint32_t off = 0x400; off < 0x700; off += 8)
        put(VMCB_LS + off, 0xa5a5a5a5a5a5a5a5ull, 8);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0xc0000081u, 0x0023001000000000ull), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0xc0000082u, 0xffffffff81000000ull), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0xc0000084u, 0x47700), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0xc0000102u, 0xffff888000000000ull), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0x174u, 0x10), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0x175u, 0x9000), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0x176u, 0x9100), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB_LS;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_svm(VCORE_NSVM_VMSAVE);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
    ck_assert_uint_eq(get(VMCB_LS + 0x448, 8), 0xf5000);             /* FS base */
    ck_assert_uint_eq(get(VMCB_LS + 0x440, 2), 0x10);                /* FS selector */
    ck_assert_uint_eq(get(VMCB_LS + 0x600, 8), 0x0023001000000000ull); /* STAR */
    ck_assert_uint_eq(get(VMCB_LS + 0x608, 8), 0xffffffff81000000ull); /* LSTAR */
    ck_assert_uint_eq(get(VMCB_LS + 0x618, 8), 0x47700);              /* SFMASK */
    ck_assert_uint_eq(get(VMCB_LS + 0x620, 8), 0xffff888000000000ull); /* KernelGsBase */
    ck_assert_uint_eq(get(VMCB_LS + 0x628, 8), 0x10);                 /* SYSENTER_CS */
    ck_assert_uint_eq(get(VMCB_LS + 0x630, 8), 0x9000);
    ck_assert_uint_eq(get(VMCB_LS + 0x638, 8), 0x9100);
    /* Not VMSAVE's: ES, CS, SS, DS, GDTR, IDTR, CPL/EFER, CRs, RIP, RAX, CR2, G_PAT. */
    static const uint32_t untouched[] = {0x400, 0x408, 0x410, 0x418, 0x420, 0x430, 0x460, 0x468, 0x480, 0x488,
                                         0x4c8, 0x4d0, 0x548, 0x550, 0x558, 0x578, 0x5f8, 0x640, 0x668};
    for (size_t i = 0; i < sizeof(untouched) / sizeof(untouched[0]); i++)
        ck_assert_uint_eq(get(VMCB_LS + untouched[i], 8), 0xa5a5a5a5a5a5a5a5ull);
}
END_TEST

/* VMLOAD loads the same set from the VMCB at rAX and nothing else. */
START_TEST(vmload_loads_exactly_its_register_set)
{
    put(VMCB_LS + 0x440, 0x18, 2);      /* FS selector */
    put(VMCB_LS + 0x442, 0x93, 2);
    put(VMCB_LS + 0x444, 0xfffff, 4);
    put(VMCB_LS + 0x448, 0x777000, 8);  /* FS base */
    put(VMCB_LS + 0x458, 0x888000, 8);  /* GS base */
    put(VMCB_LS + 0x490, 0x28, 2);      /* TR */
    put(VMCB_LS + 0x492, 0x8b, 2);
    put(VMCB_LS + 0x494, 0x67, 4);
    put(VMCB_LS + 0x498, 0x999000, 8);
    put(VMCB_LS + 0x600, 0x0023001000000000ull, 8);
    put(VMCB_LS + 0x620, 0xffff888000001000ull, 8);
    put(VMCB_LS + 0x628, 0x10, 8);
    /* Not VMLOAD's: ES base, GDTR, CR3, RIP, RAX. */
    put(VMCB_LS + 0x408, 0xbad000, 8);
    put(VMCB_LS + 0x468, 0xbad000, 8);
    put(VMCB_LS + 0x550, 0xbad000, 8);
    put(VMCB_LS + 0x578, 0xbad000, 8);
    put(VMCB_LS + 0x5f8, 0xbad000, 8);
    vcore_x86_sregs_t before = {.size = sizeof(before)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &before), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB_LS;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_svm(VCORE_NSVM_VMLOAD);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 3);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], VMCB_LS);
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].base, 0x777000);
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].selector, 0x18);
    ck_assert_uint_eq(s.seg[VCORE_X86_GS].base, 0x888000);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].base, 0x999000);
    ck_assert_uint_eq(s.seg[VCORE_X86_TR].selector, 0x28);
    ck_assert_uint_eq(s.seg[VCORE_X86_ES].base, before.seg[VCORE_X86_ES].base);
    ck_assert_uint_eq(s.gdtr.base, before.gdtr.base);
    ck_assert_uint_eq(s.cr3, PML4);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000081u, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x0023001000000000ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000102u, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffff888000001000ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0x174u, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x10);
}
END_TEST

/* ---- "Nested Paging": #NPF ---- */

/* An access of L2's own page walk to an L2 page L1's nested table does
 * not map: L1's #NPF has EXITINFO1 = US (bit 2, nested walks are user
 * accesses) | bit 33 (a guest page-table access), P clear (not present),
 * EXITINFO2 = the L2 guest-physical address. */
START_TEST(npf_of_l2_table_access_sets_bit_33)
{
    vmcb12(0, 0, true);
    push_vmrun();
    push_l2(0x400, (1ull << 33) | 4u, 0x9000, VCORE_EXIT_RAW, 0, L2_RIP, 0);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x400);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), (1ull << 33) | 4u);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO2, 8), 0x9000);
}
END_TEST

/* A write of L2 to a page L1 maps read-only: EXITINFO1 = P | RW | US |
 * bit 32 (the final guest-physical address). */
START_TEST(npf_write_to_read_only_page)
{
    vmcb12(0, 0, true);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 6u, 0x6008, VCORE_EXIT_RAW, 0, L2_RIP, 0);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x400);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), (1ull << 32) | 7u);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO2, 8), 0x6008);
}
END_TEST

/* A reserved bit in L1's nested entry (bit 45, at or above MAXPHYADDR
 * 40): EXITINFO1 = P | US | RSV (bit 3) | bit 32. */
START_TEST(npf_reserved_bit_in_l1_entry)
{
    vmcb12(0, 0, true);
    put(NPT1 + 10 * 8, (1ull << 45) | 0x7000 | 7, 8);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 4u, 0xa010, VCORE_EXIT_RAW, 0, L2_RIP, 0);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x400);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), (1ull << 32) | 0xdu);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO2, 8), 0xa010);
}
END_TEST

/* A fetch of L2 from a page L1 maps NX (L1's EFER.NXE set): EXITINFO1 =
 * P | US | ID (bit 4) | bit 32. */
START_TEST(npf_fetch_from_nx_page)
{
    vmcb12(0, 0, true);
    put(NPT1 + 11 * 8, (1ull << 63) | 0x7000 | 7, 8);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 0x14u, 0xb000, VCORE_EXIT_RAW, 0, L2_RIP, 0);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x400);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), (1ull << 32) | 0x15u);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO2, 8), 0xb000);
}
END_TEST

/* "Nested Paging": the nested table has the host's format with the
 * host's features. Without 1-GiB pages (CPUID Fn8000_0001_EDX[Page1GB]
 * clear, as in this fixture) PS in a PDPE is a reserved bit: L2's access
 * through it is L1's #NPF with P | US | RSV | bit 32. */
START_TEST(npf_pdpe_ps_without_page1gb_is_reserved)
{
    vmcb12(0, 0, true);
    put(NPT3 + 1 * 8, 0x80ull | 7, 8); /* L2 1 GiB -> L1 0 as a 1-GiB page */
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 4u, 0x40001000, VCORE_EXIT_RAW, 0, L2_RIP, 0);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x400);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO1, 8), (1ull << 32) | 0xdu);
    ck_assert_uint_eq(get(VMCB12 + EXITINFO2, 8), 0x40001000);
}
END_TEST

/* With Page1GB offered the same entry maps L2's page: the #NPF is L0's
 * (the page goes into the shadow table) and L2 runs on. */
START_TEST(npf_pdpe_ps_with_page1gb_maps)
{
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x68747541, .ecx = 0x444d4163, .edx = 0x69746e65},
        {.function = 1, .eax = 0x800f11, .edx = (1u << 6) | (1u << 5) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x8000000a},
        {.function = 0x80000001, .ecx = (1u << 2), .edx = (1u << 29) | (1u << 26) | (1u << 20) | (1u << 11)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, c, 5), VCORE_OK);
    vmcb12(0, 0, true);
    put(NPT3 + 1 * 8, 0x80ull | 7, 8);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 4u, 0x40001000, VCORE_EXIT_RAW, 0, L2_RIP, 0);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_ne(get(VMCB12 + EXITCODE, 8), 0x400);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.last_gpa, 0x40001000);
    ck_assert_uint_eq(info.last_vm_gpa, 0x1000);
}
END_TEST

/* ---- "Global Interrupt Flag, STGI and CLGI Instructions" ---- */

/* With GIF clear an NMI is held (not delivered); STGI lets it in. */
START_TEST(gif_clear_holds_nmi)
{
    push_svm(VCORE_NSVM_CLGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_DELIVER_NMI), 0);
    push_svm(VCORE_NSVM_STGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_DELIVER_NMI), 1);
}
END_TEST

/* An NMI pending at VMRUN (held by GIF = 0 before it) that L1 intercepts
 * is #VMEXIT(NMI), EXITCODE 61H, before L2 executes ("NMI Intercept"). */
START_TEST(nmi_pending_at_vmrun_intercepted_exits_61h)
{
    vmcb12(1u << 1, 0, false); /* word 3 bit 1: NMI */
    push_svm(VCORE_NSVM_CLGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x61);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 0);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_DELIVER_NMI), 0);
}
END_TEST

/* Without V_INTR_MASKING, L2's RFLAGS.IF and its interrupt shadow decide
 * when a physical interrupt is recognized ("Virtual Interrupt Masking";
 * VMCB INTERRUPT_SHADOW: the guest is in an interrupt shadow). L2 enters
 * in a shadow with IF set: the interrupt L1 intercepts is not recognized
 * before L2's first instruction, so L2 runs before the #VMEXIT(INTR). */
START_TEST(intr_intercept_waits_for_l2_interrupt_shadow)
{
    vmcb12(1u << 0, 0, false); /* word 3 bit 0: INTR */
    put(VMCB12 + 0x570, 0x202, 8); /* L2's RFLAGS.IF */
    put(VMCB12 + 0x68, 1, 4);      /* in an interrupt shadow */
    push_svm(VCORE_NSVM_CLGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP + 1, L2_RIP + 2);
    vcore_exit_t out = run();
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 1);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_ne(get(VMCB12 + EXITCODE, 8), 0x60);
}
END_TEST

/* ---- "Interrupt and LAPIC Support" ---- */

/* A CPUID exit of L2 that L1 intercepts, vmcb02's V_TPR = tpr at the exit. */
static void tpr_round(uint32_t int_ctl12, uint32_t tpr_at_exit)
{
    vmcb12(1u << 18, 0, false);
    put(VMCB12 + 0x60, int_ctl12, 4);
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    s.cr8 = 3; /* L1's TPR */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x72;
    x.next_rip = L2_RIP + 2;
    x.exit = vcore_test_exit(VCORE_EXIT_CPUID);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    x.nfields = 2;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP;
    x.fields[1].offset = 0x60;
    x.fields[1].bytes = 4;
    x.fields[1].value = VCORE_VMCB_INT_V_INTR_MASKING | tpr_at_exit;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + EXITCODE, 8), 0x72);
}

static uint64_t l1_cr8(void)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    return s.cr8;
}

/* "Virtual Interrupt Masking": with V_INTR_MASKING L2's TPR is virtual -
 * V_TPR, written back to VMCB12 at #VMEXIT - and L1's own TPR stays. */
START_TEST(v_intr_masking_keeps_l1_tpr)
{
    tpr_round(VCORE_VMCB_INT_V_INTR_MASKING | 1u, 9);
    ck_assert_uint_eq(get(VMCB12 + 0x60, 4) & 0xffu, 9);
    ck_assert_uint_eq(l1_cr8(), 3);
}
END_TEST

/* Without V_INTR_MASKING L2's CR8 is the TPR L1 has: L2 starts with
 * L1's TPR (3) and L1 has L2's (9) after the #VMEXIT. */
START_TEST(no_v_intr_masking_l2_cr8_is_l1_tpr)
{
    tpr_round(1u, 9);
    ck_assert_uint_eq(l1_cr8(), 9);
}
END_TEST

START_TEST(no_v_intr_masking_l2_starts_with_l1_tpr)
{
    vmcb12(0, 0, false);
    put(VMCB12 + 0x60, 1u, 4); /* VMCB12's V_TPR 1, no V_INTR_MASKING */
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    s.cr8 = 3;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    ck_assert_uint_ne(run().flags & VCORE_EXIT_F_L2, 0);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x60, 4, &v), VCORE_OK);
    ck_assert_uint_eq(v & 0xffu, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nsvm_apm");
    TCase *tc = tcase_create("nsvm_apm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, vmrun_efer_svme_clear_is_invalid);
    tcase_add_test(tc, vmrun_cr0_nw_without_cd_is_invalid);
    tcase_add_test(tc, vmrun_cr0_cd_and_nw_enters);
    tcase_add_test(tc, vmrun_cr0_bit32_is_invalid);
    tcase_add_test(tc, vmrun_cr3_at_maxphyaddr_is_invalid);
    tcase_add_test(tc, vmrun_cr3_below_maxphyaddr_enters);
    tcase_add_test(tc, vmrun_cr4_bit32_is_invalid);
    tcase_add_test(tc, vmrun_dr6_bit32_is_invalid);
    tcase_add_test(tc, vmrun_dr7_bit32_is_invalid);
    tcase_add_test(tc, vmrun_efer_reserved_bit_is_invalid);
    tcase_add_test(tc, vmrun_efer_bit63_is_invalid);
    tcase_add_test(tc, vmrun_cr4_la57_without_feature_is_invalid);
    tcase_add_test(tc, vmrun_cr4_pcide_without_feature_is_invalid);
    tcase_add_test(tc, vmrun_efer_ffxsr_without_feature_is_invalid);
    tcase_add_test(tc, vmrun_lme_without_pg_enters);
    tcase_add_test(tc, vmrun_lme_pg_without_pae_is_invalid);
    tcase_add_test(tc, vmrun_lme_pg_without_pe_is_invalid);
    tcase_add_test(tc, vmrun_long_mode_cs_l_and_d_is_invalid);
    tcase_add_test(tc, vmrun_cs_l_and_d_outside_long_mode_enters);
    tcase_add_test(tc, vmrun_intercept_clear_is_invalid);
    tcase_add_test(tc, vmrun_asid_zero_is_invalid);
    tcase_add_test(tc, vmrun_msrpm_crossing_maxphyaddr_is_invalid);
    tcase_add_test(tc, vmrun_msrpm_ending_at_maxphyaddr_enters);
    tcase_add_test(tc, vmrun_iopm_crossing_maxphyaddr_is_invalid);
    tcase_add_test(tc, vmrun_iopm_ending_at_maxphyaddr_enters);
    tcase_add_test(tc, vmrun_eventinj_exception_vector_2_is_invalid);
    tcase_add_test(tc, vmrun_eventinj_exception_vector_15_is_invalid);
    tcase_add_test(tc, vmrun_eventinj_cp_without_cet_is_invalid);
    tcase_add_test(tc, vmrun_eventinj_sx_enters);
    tcase_add_test(tc, vmrun_eventinj_type_1_is_invalid);
    tcase_add_test(tc, vmrun_eventinj_invalid_without_v_enters);
    tcase_add_test(tc, vmrun_eventinj_nmi_any_vector_enters);
    tcase_add_test(tc, vmrun_eventinj_gp_with_error_code_reaches_vmcb02);
    tcase_add_test(tc, vmexit_during_delivery_sets_exitintinfo);
    tcase_add_test(tc, vmexit_writes_back_v_tpr_v_irq_and_shadow);
    tcase_add_test(tc, vmexit_reloads_l1_rflags_rsp_rax_dr7);
    tcase_add_test(tc, vmexit_leaves_vmload_state_and_controls_alone);
    tcase_add_test(tc, msrpm_write_bit_of_star);
    tcase_add_test(tc, msrpm_last_msr_of_third_range);
    tcase_add_test(tc, msrpm_msr_2000h_always_intercepted);
    tcase_add_test(tc, msrpm_msr_c0002000h_always_intercepted);
    tcase_add_test(tc, msrpm_msr_c0012000h_always_intercepted);
    tcase_add_test(tc, iopm_byte_access_below_set_port_not_intercepted);
    tcase_add_test(tc, iopm_word_access_crossing_into_set_port);
    tcase_add_test(tc, iopm_dword_access_crossing_into_set_port);
    tcase_add_test(tc, iopm_access_at_ffff_uses_the_third_page);
    tcase_add_test(tc, cr3_read_not_intercepted_by_the_write_bit);
    tcase_add_test(tc, cr3_write_intercepted);
    tcase_add_test(tc, dr7_read_intercept);
    tcase_add_test(tc, vmsave_stores_exactly_its_register_set);
    tcase_add_test(tc, vmload_loads_exactly_its_register_set);
    tcase_add_test(tc, npf_of_l2_table_access_sets_bit_33);
    tcase_add_test(tc, npf_write_to_read_only_page);
    tcase_add_test(tc, npf_reserved_bit_in_l1_entry);
    tcase_add_test(tc, npf_fetch_from_nx_page);
    tcase_add_test(tc, npf_pdpe_ps_without_page1gb_is_reserved);
    tcase_add_test(tc, npf_pdpe_ps_with_page1gb_maps);
    tcase_add_test(tc, gif_clear_holds_nmi);
    tcase_add_test(tc, nmi_pending_at_vmrun_intercepted_exits_61h);
    tcase_add_test(tc, intr_intercept_waits_for_l2_interrupt_shadow);
    tcase_add_test(tc, v_intr_masking_keeps_l1_tpr);
    tcase_add_test(tc, no_v_intr_masking_l2_cr8_is_l1_tpr);
    tcase_add_test(tc, no_v_intr_masking_l2_starts_with_l1_tpr);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
