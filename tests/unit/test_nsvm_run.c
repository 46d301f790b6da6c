/*
 * test_nsvm_run.c - L2 running on a hardware vmcb02 inside vcore_vcpu_run
 * (mock backend, strict VMCB store): L1's VMRUN writes vmcb02, its #VMEXIT
 * goes to L1 (reflected into VMCB12) or to the VMM (flagged L2, the reply
 * applied to L2); nested page faults through L1's nested table; the clean
 * bits of an unchanged vmcb02. Expected values: AMD APM Vol. 2 "VMRUN
 * Instruction", "#VMEXIT", "VMCB Clean Field", "Nested Paging", appendix
 * "SVM Intercept Exit Codes"; Vol. 3 "VMMCALL".
 */
#include <string.h>

#include "support.h"

#include <virtcore/x86/nvmx_pipeline.h>

#include "nsvm_run_fixture.h"

/* L1 intercepts CPUID: the #VMEXIT is reflected ("#VMEXIT": EXITCODE 72H,
 * nRIP, L2's state into VMCB12; L1 back at the instruction after VMRUN
 * with RAX, RSP from its saved state, GIF = 0). */
START_TEST(cpuid_reflected_to_l1)
{
    vmcb12(1u << 18, 0, false); /* word 3 bit 18: CPUID */
    push_vmrun();
    /* L2 ran on to L2_RIP + 10H, with RAX 5678H and CR2 9000H. */
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x72;
    x.next_rip = L2_RIP + 0x12;
    x.exit = vcore_test_exit(VCORE_EXIT_CPUID);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    x.exit.raw.data[4] = 0;
    x.nfields = 3;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP + 0x10;
    x.fields[1].offset = 0x5f8;
    x.fields[1].bytes = 8;
    x.fields[1].value = 0x5678;
    x.fields[2].offset = 0x640;
    x.fields[2].bytes = 8;
    x.fields[2].value = 0x9000;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x72);
    ck_assert_uint_eq(get(VMCB12 + 0xc8, 8), L2_RIP + 0x12);
    ck_assert_uint_eq(get(VMCB12 + 0x578, 8), L2_RIP + 0x10);
    ck_assert_uint_eq(get(VMCB12 + 0x5f8, 8), 0x5678);
    ck_assert_uint_eq(get(VMCB12 + 0x640, 8), 0x9000);
    ck_assert_uint_eq(get(VMCB12 + 0x5d8, 8), 0x8000);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 3);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], VMCB12);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RBX], 0xb1); /* GPRs VMRUN does not switch stay as L2 left them */
    ck_assert(!vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    ck_assert(!vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
    /* vmcb02 ran with L2's state and L1's FS (VMLOAD state moves with the processor). */
    uint64_t v = 0;
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x550, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x3000);
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x448, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xf5000);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 1);
    /* A nested exit is not answered by the VMM: no reply was applied. */
    ck_assert_uint_eq(count(VCORE_MOCK_OP_REPLY), 0);
}
END_TEST

/* The backend found no end of the instruction (raw.data[4] = 0): nRIP is
 * the processor's NRIP field of vmcb02 ("Next RIP Saved": the #VMEXIT of an
 * intercepted instruction stores the address of the next one), and the
 * rest of L2's state is reflected as usual. */
START_TEST(nrip_from_vmcb02_when_the_backend_found_none)
{
    vmcb12(1u << 18, 0, false); /* CPUID */
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x72;
    x.next_rip = 0;
    x.exit = vcore_test_exit(VCORE_EXIT_CPUID);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    x.nfields = 3;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP + 0x10;
    x.fields[1].offset = 0x5f8;
    x.fields[1].bytes = 8;
    x.fields[1].value = 0x5678;
    x.fields[2].offset = 0x0c8; /* NRIP */
    x.fields[2].bytes = 8;
    x.fields[2].value = L2_RIP + 0x12;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x72);
    ck_assert_uint_eq(get(VMCB12 + 0xc8, 8), L2_RIP + 0x12);
    ck_assert_uint_eq(get(VMCB12 + 0x578, 8), L2_RIP + 0x10);
    ck_assert_uint_eq(get(VMCB12 + 0x5f8, 8), 0x5678);
    ck_assert_uint_eq(get(VMCB12 + 0x5d8, 8), 0x8000);
}
END_TEST

/* L1 does not intercept CPUID: the VMM answers it for L2 (flagged L2), the
 * reply completes L2's CPUID (RAX, RBX, RCX, RDX; RIP to nRIP). */
/* L2's OUT to a port L1 does not intercept is the VMM's: it needs no
 * reply, yet the next run completes it on vmcb02 (RIP = the next
 * instruction, APM Vol. 2 "I/O Intercepts", "Next RIP Saved") instead of
 * re-executing it forever. */
START_TEST(out_of_l2_completed_without_reply)
{
    vmcb12(0, 0, false);
    push_vmrun();
    push_l2(0x7b, 0x800010, L2_RIP + 2, VCORE_EXIT_IO, 0, L2_RIP, L2_RIP + 2); /* OUT 80H, AL */
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_IO);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP + 2, L2_RIP + 3);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_REPLY), 1);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 2);
}
END_TEST

START_TEST(cpuid_of_l2_answered_by_the_vmm)
{
    vmcb12(0, 0, false);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(out.raw.data[0], 0x72);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP + 2, L2_RIP + 3); /* HLT, L1 does not intercept it */
    out.u.cpuid.eax = 0xa;
    out.u.cpuid.ebx = 0xb;
    out.u.cpuid.ecx = 0xc;
    out.u.cpuid.edx = 0xd;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_REPLY), 1);
    uint64_t g[16];
    ck_assert_int_eq(vcore_mock_vmcb_gprs(vcpu, g), VCORE_OK);
    ck_assert_uint_eq(g[VCORE_X86_RBX], 0xb);
    ck_assert_uint_eq(g[VCORE_X86_RDX], 0xd);
    ck_assert(vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
    /* While L2 runs the vCPU's accessors show L2 (the VMM's reply is in RBX). */
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], 0xb);
}
END_TEST

/* A second VMRUN of the same VMCB12 after a reflected CPUID where L1 only
 * advanced L2's RIP: vmcb02 gets RIP written, and every clean bit is set
 * ("VMCB Clean Field": no field any bit covers changed). */
START_TEST(unchanged_l2_keeps_clean_bits)
{
    vmcb12(1u << 18, 0, false);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.clean, 0); /* a VMCB's first run may use nothing cached */
    /* L1: RIP of L2 to nRIP, RAX back to VMCB12, VMRUN again. */
    put(VMCB12 + 0x578, L2_RIP + 2, 8);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    uint64_t rip_w0 = 0, cr3_w0 = 0, w0 = count(VCORE_MOCK_OP_VMCB_WRITE);
    uint64_t icpt_w0 = 0, intctl_w0 = 0;
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x578, NULL, &rip_w0), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x550, NULL, &cr3_w0), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x00c, NULL, &icpt_w0), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x060, NULL, &intctl_w0), VCORE_OK);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP + 2, L2_RIP + 4);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.clean, 0xfff);
    uint64_t rip_w1 = 0, cr3_w1 = 0;
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x578, NULL, &rip_w1), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x550, NULL, &cr3_w1), VCORE_OK);
    ck_assert_uint_eq(rip_w1 - rip_w0, 1);
    ck_assert_uint_eq(cr3_w1 - cr3_w0, 0);
    /* Control fields the processor does not write on #VMEXIT are known:
     * not even written again with the same value. V_TPR/V_IRQ is written
     * by the processor, so it was read back at the #VMEXIT instead. */
    uint64_t icpt_w1 = 0, intctl_w1 = 0;
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x00c, NULL, &icpt_w1), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_count(vcpu, 0x060, NULL, &intctl_w1), VCORE_OK);
    ck_assert_uint_eq(icpt_w1 - icpt_w0, 0);
    ck_assert_uint_eq(intctl_w1 - intctl_w0, 0);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_WRITE) - w0, 1); /* only RIP changed */
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_ALLOC), 1);      /* vmcb02 kept across VMRUNs */
}
END_TEST

/* L2's CR3 changed by L1: the CRX clean bit is cleared, the others stay. */
START_TEST(changed_cr3_clears_only_crx)
{
    vmcb12(1u << 18, 0, false);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    put(VMCB12 + 0x550, 0x5000, 8);
    put(VMCB12 + 0xc0, 0, 4); /* L1: no clean bits in VMCB12 */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.clean, 0xfff & ~(1u << 5));
}
END_TEST

/* An L2 HLT that L1 intercepts and a shutdown it does not ("#VMEXIT";
 * "Intercept Operation": an unintercepted shutdown shuts the processor L1
 * runs on down). */
START_TEST(shutdown_of_l2_not_intercepted)
{
    vmcb12(0, 0, false);
    push_vmrun();
    push_l2(0x7f, 0, 0, VCORE_EXIT_SHUTDOWN, 0, L2_RIP, 0);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_SHUTDOWN);
    ck_assert(!vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
}
END_TEST

/* VMMCALL of L2 that L1 does not intercept: #UD in L2 (APM Vol. 3,
 * "VMMCALL": "#UD ... if not intercepted"), injected through EVENTINJ:
 * vector 6, type 3 (exception), valid. */
START_TEST(vmmcall_of_l2_not_intercepted_is_ud)
{
    vmcb12(0, 0, false);
    push_vmrun();
    push_l2(0x81, 0, 0, VCORE_EXIT_HYPERCALL, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 3);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj, 0x80000306ull);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_REPLY), 0);
}
END_TEST

/* VMMCALL intercepted by L1 (word 4 bit 1): reflected with EXITCODE 81H. */
START_TEST(vmmcall_of_l2_intercepted)
{
    vmcb12(0, 1u << 1, false);
    push_vmrun();
    push_l2(0x81, 0, 0, VCORE_EXIT_HYPERCALL, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 3);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x81);
}
END_TEST

/* Nested paging: a #NPF at an L2 page L1's table maps to RAM is L0's to
 * fix: the page goes into vmcb02's shadow table with L1's permissions
 * (writable, executable: no NX in L1's entry) and L2 runs again. */
START_TEST(npf_mapped_in_the_shadow_table)
{
    vmcb12(0, 0, true);
    push_vmrun();
    /* A read of L2 5000H: EXITINFO1 = user | final-address. */
    push_l2(0x400, (1ull << 32) | 4, 0x5010, VCORE_EXIT_MMIO, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, 0);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.npt, VCORE_HW_VMCB_NPT_SHADOW);
    ck_assert_uint_eq(info.npt_maps, 1);
    ck_assert_uint_eq(info.last_gpa, 0x5000);
    ck_assert_uint_eq(info.last_vm_gpa, 0x7000);
    ck_assert_uint_eq(info.last_prot, VCORE_HW_NPT_WRITE | VCORE_HW_NPT_EXEC);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 2);
}
END_TEST

/* L2's delivery of a #PF (vector 0EH, error code 2) hit a nested page
 * fault that L0 fixes in the shadow table: the #VMEXIT's EXITINTINFO holds
 * the event (V bit 31, TYPE 3 exception in bits 10:8, EV bit 11, the error
 * code in bits 63:32) and the next VMRUN injects it again through EVENTINJ,
 * same format (APM Vol. 2, "EXITINTINFO Pseudo-Register", "Event
 * Injection"). Without it the event is lost. */
START_TEST(event_of_npf_fixed_by_l0_reinjected)
{
    vmcb12(0, 0, true);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x400;
    x.exit_info1 = (1ull << 32) | 4;
    x.exit_info2 = 0x5010;
    x.exit_int_info = (2ull << 32) | 0x80000b0eull;
    x.exit = vcore_test_exit(VCORE_EXIT_MMIO);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.npt_maps, 1);
    ck_assert_uint_eq(info.event_inj, (2ull << 32) | 0x80000b0eull);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 2);
}
END_TEST

/* No event in EXITINTINFO (V clear): nothing is injected at the next run. */
START_TEST(npf_without_event_injects_nothing)
{
    vmcb12(0, 0, true);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 4, 0x5010, VCORE_EXIT_MMIO, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, 0);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj & VCORE_VMCB_EVENT_V, 0);
}
END_TEST

/* A read-only page of L1's table: mapped without write permission. */
START_TEST(npf_read_only_page)
{
    vmcb12(0, 0, true);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 4, 0x6000, VCORE_EXIT_MMIO, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, 0);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.last_prot, VCORE_HW_NPT_EXEC);
}
END_TEST

/* A write to that read-only page: L1's table denies it, the #NPF goes to
 * L1 with the APM error code: present (bit 0), write (bit 1), user
 * (bit 2), final address (bit 32); EXITINFO2 the L2 address. */
START_TEST(npf_denied_by_l1_reflected)
{
    vmcb12(0, 0, true);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 6, 0x6008, VCORE_EXIT_MMIO, 0, L2_RIP, 0);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x400);
    ck_assert_uint_eq(get(VMCB12 + 0x78, 8), (1ull << 32) | 7);
    ck_assert_uint_eq(get(VMCB12 + 0x80, 8), 0x6008);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_NPT_MAP), 0);
}
END_TEST

/* A page L1's table does not map at all: not-present #NPF for L1
 * (bit 0 clear). */
START_TEST(npf_unmapped_by_l1_reflected)
{
    vmcb12(0, 0, true);
    push_vmrun();
    push_l2(0x400, (1ull << 32) | 4, 0x9000, VCORE_EXIT_MMIO, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, 0);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x400);
    ck_assert_uint_eq(get(VMCB12 + 0x78, 8) & 1u, 0);
    ck_assert_uint_eq(get(VMCB12 + 0x78, 8) >> 32, 1);
}
END_TEST

/* L1 maps the L2 page outside the VM's RAM, and L2's instruction cannot
 * be fetched (L1's nested table does not map L2's page tables): the VMM
 * gets the access raw, flagged L2, with the VM's (L1's) address in
 * raw.data[5]; what the backend decoded is not used. */
START_TEST(npf_outside_ram_unfetchable_is_raw_at_the_vm_address)
{
    vmcb12(0, 0, true);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x400;
    x.exit_info1 = (1ull << 32) | 4;
    x.exit_info2 = 0x8010;
    x.exit = vcore_test_exit(VCORE_EXIT_MMIO);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    x.exit.u.mmio.gpa = 0x8010;
    x.exit.u.mmio.len = 4;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(out.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(out.raw.data[0], 0x400);
    ck_assert_uint_eq(out.raw.data[5], 0x40000010ull);
}
END_TEST

/* Without nested paging from L1, L2 runs on the VM's own table. */
START_TEST(no_np_uses_the_vm_table)
{
    vmcb12(1u << 18, 0, false);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.npt, VCORE_HW_VMCB_NPT_VM);
    ck_assert_uint_eq(info.flushes, 1); /* a new VMCB12: L2's ASID flushed */
}
END_TEST

/* The strict store: a backend-owned field and an unnamed offset are refused. */
START_TEST(strict_vmcb_store)
{
    const vcore_backend_t *be = vcore_backend_mock();
    void *priv = vcore_vcpu_backend_priv(vcpu);
    vcore_hw_vmcb_t *h = NULL;
    uint64_t v = 0;
    ck_assert_int_eq(be->vmcb_alloc(vcpu, priv, &h), VCORE_OK);
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x0b0, 8, 0x1000), VCORE_ERR_STATE); /* N_CR3 */
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x058, 4, 1), VCORE_ERR_STATE);      /* GUEST_ASID */
    ck_assert_int_eq(be->vmcb_read(vcpu, priv, h, 0x551, 1, &v), VCORE_ERR_NOENT);      /* inside CR3 */
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x550, 4, 1), VCORE_ERR_NOENT);      /* CR3 is 8 bytes */
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_VIOLATION), 4);
    /* An unchanged value keeps the clean bit: counted as WRITE_SAME. */
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x550, 8, 0), VCORE_OK);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_WRITE_SAME), 1);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_WRITE), 0);
    be->vmcb_free(vcpu, priv, h);
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
}
END_TEST

/* "VMCB Clean Field": which bit covers a field. */
START_TEST(clean_bit_of_fields)
{
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x000), 1u << 0);  /* intercepts: I */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x050), 1u << 0);  /* TSC_OFFSET: I */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x048), 1u << 1);  /* MSRPM_BASE_PA: IOPM */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x058), 1u << 2);  /* ASID */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x060), 1u << 3);  /* V_TPR: TPR */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x0b0), 1u << 4);  /* nCR3: NP */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x668), 1u << 4);  /* G_PAT: NP */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x4d0), 1u << 5);  /* EFER: CRX */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x558), 1u << 5);  /* CR0: CRX */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x568), 1u << 6);  /* DR6: DRX */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x488), 1u << 7);  /* IDTR base: DT */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x4cb), 1u << 8);  /* CPL: SEG */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x412), 1u << 8);  /* CS attributes: SEG */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x640), 1u << 9);  /* CR2 */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x670), 1u << 10); /* DBGCTL: LBR */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x0e0), 1u << 11); /* AVIC backing page */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x578), 0);        /* RIP: read at every VMRUN */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x5f8), 0);        /* RAX */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x0a8), 0);        /* EVENTINJ */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x448), 0);        /* FS: VMLOAD state */
    ck_assert_uint_eq(vcore_vmcb_clean_bit(0x470), 0);        /* LDTR */
}
END_TEST

/* The VMCB ops come as a group. */
START_TEST(vmcb_group_all_or_none)
{
    vcore_backend_t be = *vcore_backend_mock();
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_OK);
    be.vmcb_npt_map = NULL;
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_ERR_INVAL);
    be = *vcore_backend_mock();
    be.vmcb_run = NULL;
    ck_assert_int_eq(vcore_backend_validate(&be), VCORE_ERR_INVAL);
}
END_TEST

static void push_svm(uint32_t op)
{
    vcore_exit_t e = vcore_test_exit(VCORE_EXIT_SVM_INSN);
    e.u.svm_insn.op = op;
    e.u.svm_insn.insn_len = 3;
    ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
}

static void set_if(bool on)
{
    vcore_x86_regs_t r = regs();
    r.rflags = on ? 0x202 : 0x2;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

/* APM Vol. 2, "Global Interrupt Flag, STGI and CLGI Instructions": with
 * GIF clear an interrupt is held pending (not injected, no window), and
 * taken once STGI sets GIF. */
/* The backend cannot allocate vmcb02 (or set it up) at L1's VMRUN: the
 * error is returned with a diagnostic and nothing happened: L1 still at
 * its VMRUN with its registers, not in guest mode, GIF as before (APM
 * Vol. 2, "VMRUN Instruction": VMRUN sets GIF and enters the guest only
 * when it completes). A second VMRUN then enters L2. */
static void vmrun_backend_failure(uint32_t op)
{
    vmcb12(0, 0, false);
    push_svm(VCORE_NSVM_CLGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t r = regs();
    r.rip = L1_RIP;
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, op, VCORE_ERR_NOMEM), VCORE_OK);
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_ERR_NOMEM);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_last_diag(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_NSVM_VMCB02_FAILED);
    const vcore_nsvm_t *n = vcore_vcpu_nsvm(vcpu);
    ck_assert(!vcore_nsvm_in_guest(n));
    ck_assert(!vcore_nsvm_gif(n));
    vcore_x86_regs_t after = regs();
    ck_assert_uint_eq(after.rip, L1_RIP);
    ck_assert_uint_eq(after.gpr[VCORE_X86_RAX], VMCB12);
    ck_assert_uint_eq(after.gpr[VCORE_X86_RBX], 0xb1);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 0);
    /* The same VMRUN again, the backend able: L2 runs. */
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert(vcore_nsvm_in_guest(n));
    ck_assert(vcore_nsvm_gif(n));
}

START_TEST(vmrun_vmcb02_alloc_failure_undone)
{
    vmrun_backend_failure(VCORE_MOCK_OP_VMCB_ALLOC);
}
END_TEST

START_TEST(vmrun_vmcb02_setup_failure_undone)
{
    vmrun_backend_failure(VCORE_MOCK_OP_VMCB_SETUP);
}
END_TEST

START_TEST(gif_holds_interrupts)
{
    set_if(true);
    push_svm(VCORE_NSVM_CLGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert(!vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_DELIVER_INTERRUPT), 0);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 1);
    ck_assert_uint_eq(ev.request_interrupt_window, 0);
    push_svm(VCORE_NSVM_STGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_DELIVER_INTERRUPT), 1);
}
END_TEST

/* CLGI; VMRUN with an interrupt pending and L1 intercepting INTR: VMRUN
 * sets GIF, the interrupt is recognized in L2 and becomes #VMEXIT(INTR)
 * (EXITCODE 60H) before L2 executes; it stays pending for L1 (GIF clear
 * again: held). APM "Physical (INTR) Interrupt Intercept". */
START_TEST(intr_while_l2_exits_to_l1)
{
    set_if(true);
    vmcb12(1u << 0, 0, false);                      /* word 3 bit 0: INTR */
    put(VMCB12 + 0x60, VCORE_VMCB_INT_V_INTR_MASKING, 4);
    push_svm(VCORE_NSVM_CLGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x60);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 0);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_DELIVER_INTERRUPT), 0);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 1);
}
END_TEST

/* With V_INTR_MASKING, L1's RFLAGS.IF at VMRUN masks physical interrupts
 * ("Virtual Interrupt Masking"): IF clear, L2 runs. */
START_TEST(intr_masked_by_l1_if)
{
    set_if(false);
    vmcb12(1u << 0, 0, false);
    put(VMCB12 + 0x60, VCORE_VMCB_INT_V_INTR_MASKING, 4);
    push_svm(VCORE_NSVM_CLGI);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 1);
}
END_TEST

/* L2's RDMSR of PAT under L1's nested paging, not intercepted by L1: L2's
 * PAT is G_PAT ("Nested Paging"): EDX:EAX = VMCB12's G_PAT, RIP past the
 * RDMSR, the VMM sees nothing of it. */
START_TEST(pat_of_l2_is_g_pat)
{
    vmcb12(0, 0, true);
    put(VMCB12 + 0x668, 0x0006050400070406ull, 8);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x7c;
    x.next_rip = L2_RIP + 2;
    x.exit = vcore_test_exit(VCORE_EXIT_RDMSR);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    x.gpr_mask = 1u << VCORE_X86_RCX;
    x.gprs[VCORE_X86_RCX] = 0x277;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP + 2, L2_RIP + 3);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    uint64_t v = 0, g[16];
    ck_assert_int_eq(vcore_mock_vmcb_gprs(vcpu, g), VCORE_OK);
    ck_assert_uint_eq(g[VCORE_X86_RDX], 0x00060504u);
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x5f8, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x00070406u);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 2);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_REPLY), 0);
    /* The merged MSR map intercepts PAT for L0 (read and write bits). */
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj & (1ull << 31), 0);
}
END_TEST

/* WRMSR PAT with a reserved type (2) in entry 0: #GP(0) in L2 ("PAT
 * Register"): EVENTINJ vector 13, type 3, error code valid, code 0. */
START_TEST(pat_write_reserved_type_is_gp)
{
    vmcb12(0, 0, true);
    push_vmrun();
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x7c;
    x.exit_info1 = 1;
    x.next_rip = L2_RIP + 2;
    x.exit = vcore_test_exit(VCORE_EXIT_WRMSR);
    x.exit.flags = VCORE_EXIT_F_NEEDS_REPLY;
    x.gpr_mask = (1u << VCORE_X86_RCX) | (1u << VCORE_X86_RDX);
    x.gprs[VCORE_X86_RCX] = 0x277;
    x.gprs[VCORE_X86_RDX] = 0x00070406;
    x.nfields = 1;
    x.fields[0].offset = 0x5f8;
    x.fields[0].bytes = 8;
    x.fields[0].value = 0x00070402;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj, 0x80000b0dull);
}
END_TEST

/* The VMM refuses L2's RDMSR (reply error): #GP(0) in L2 ("RDMSR"):
 * EVENTINJ vector 13, type 3, error code valid. */
START_TEST(msr_refused_for_l2_is_gp)
{
    vmcb12(0, 0, false);
    push_vmrun();
    push_l2(0x7c, 0, 0, VCORE_EXIT_RDMSR, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    out.u.msr.error = 1;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj, 0x80000b0dull);
}
END_TEST

/* ---- L2's state through the vCPU accessors while L2 runs ---- */

/* An L2 #VMEXIT of `code` on vmcb02 with the given state-save fields. */
static void push_l2_fields(uint64_t code, uint32_t reason, uint32_t flags, uint64_t nrip, uint32_t nfields,
                           const uint32_t *off, const uint64_t *val)
{
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = code;
    x.next_rip = nrip;
    x.exit = vcore_test_exit(reason);
    x.exit.flags = flags;
    x.nfields = nfields;
    for (uint32_t i = 0; i < nfields; i++) {
        x.fields[i].offset = off[i];
        x.fields[i].bytes = 8;
        x.fields[i].value = val[i];
    }
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
}

/* An exit of L2 the VMM gets (CPUID, L1 does not intercept it): the
 * getters show L2 - RIP, RAX, RSP, RFLAGS from vmcb02 (VMCB12's values as
 * loaded by VMRUN), RBX as L2 left it, CR0/CR3/CR4/EFER/CR2 and CS from
 * vmcb02, FS as the processor carried it from L1 ("VMSAVE and VMLOAD
 * Instructions"), LSTAR from vmcb02. The setters change L2: what the VMM
 * set is what L1 finds in VMCB12 at the next #VMEXIT (HLT, intercepted). */
START_TEST(vmm_sees_and_sets_l2_state)
{
    vmcb12(1u << 24, 0, false); /* word 3 bit 24: HLT */
    push_vmrun();
    const uint32_t off[] = {0x578, 0x640, 0x608};
    const uint64_t val[] = {L2_RIP, 0x9000, 0xffffffff81000000ull};
    push_l2_fields(0x72, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP + 2, 3, off, val);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, L2_RIP);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0x1234);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSP], 0x8000);
    ck_assert_uint_eq(r.rflags, 2);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RBX], 0xb1); /* VMRUN does not switch it: L1's value is L2's */
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(s.cr0, 0x80000031);
    ck_assert_uint_eq(s.cr3, 0x3000);
    ck_assert_uint_eq(s.cr4, 0x20);
    ck_assert_uint_eq(s.efer, 0x1d00);
    ck_assert_uint_eq(s.cr2, 0x9000);
    ck_assert_uint_eq(s.seg[VCORE_X86_CS].ar, 0x209b); /* VMCB attributes 29BH: L, P, S, code */
    ck_assert_uint_eq(s.seg[VCORE_X86_FS].base, 0xf5000);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000082u, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffff81000000ull);
    /* The VMM changes L2: RSI is L2's register file, RSP a vmcb02 field -
     * one VMCB write, nothing rewritten that did not change. */
    r.gpr[VCORE_X86_RSI] = 0xc1c1;
    r.gpr[VCORE_X86_RSP] = 0x7ff0;
    uint64_t w0 = count(VCORE_MOCK_OP_VMCB_WRITE), s0 = count(VCORE_MOCK_OP_VMCB_WRITE_SAME);
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_WRITE), w0 + 1);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_WRITE_SAME), s0);
    /* Read back from what the core knows vmcb02 holds: no VMCB read. */
    uint64_t r0 = count(VCORE_MOCK_OP_VMCB_READ);
    vcore_x86_regs_t back = regs();
    ck_assert_uint_eq(back.gpr[VCORE_X86_RSP], 0x7ff0);
    ck_assert_uint_eq(back.gpr[VCORE_X86_RSI], 0xc1c1);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_READ), r0);
    s.cr2 = 0xa000;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0xc0000082u, 0xffffffff82000000ull), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x5d8, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x7ff0);
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x608, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffff82000000ull);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP + 2, L2_RIP + 3);
    push_l1(VCORE_EXIT_HLT);
    out.u.cpuid.eax = 0xa;
    out.u.cpuid.ebx = 0xb;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    uint64_t g[16];
    ck_assert_int_eq(vcore_mock_vmcb_gprs(vcpu, g), VCORE_OK);
    ck_assert_uint_eq(g[VCORE_X86_RSI], 0xc1c1);
    ck_assert_uint_eq(g[VCORE_X86_RBX], 0xb);
    /* "#VMEXIT": L2's state as the VMM left it, in VMCB12. */
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x78);
    ck_assert_uint_eq(get(VMCB12 + 0x5d8, 8), 0x7ff0);
    ck_assert_uint_eq(get(VMCB12 + 0x640, 8), 0xa000);
    ck_assert_uint_eq(get(VMCB12 + 0x5f8, 8), 0xa);
    /* The vCPU is L1 again: after its VMRUN, its RAX; LSTAR came back with the processor. */
    r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 3);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], VMCB12);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000082u, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffff82000000ull);
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    ck_assert_uint_eq(s.cr3, PML4);
}
END_TEST

/* A value the architecture refuses (CR0.PG without CR0.PE) changes nothing
 * of L2: vmcb02 is not written. DR6/DR7 are vmcb02's. */
START_TEST(vmm_refused_l2_state_changes_nothing)
{
    vmcb12(0, 0, false);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    vcore_exit_t out = run();
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &s), VCORE_OK);
    uint64_t writes = count(VCORE_MOCK_OP_VMCB_WRITE);
    s.cr0 = 0x80000000ull;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_ERR_INVAL);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_WRITE), writes);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x558, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x80000031);
    vcore_x86_dregs_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
    ck_assert_uint_eq(d.dr6, 0xffff0ff0);
    ck_assert_uint_eq(d.dr7, 0x400);
    d.dr7 = 0x401;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &d), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x560, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x401);
    /* Setting L2's CR8 is V_TPR (vmcb02 always has V_INTR_MASKING). */
    s.cr0 = 0x80000031;
    s.cr8 = 5;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
    ck_assert_int_eq(vcore_mock_vmcb_peek(vcpu, 0x060, 4, &v), VCORE_OK);
    ck_assert_uint_eq(v & 0xf, 5);
}
END_TEST

/* ---- MMIO of L2 under L1's nested paging, not an identity map ---- */

#define L2_PT 0x7000u /* L2-physical: L2's page table (4 KiB pages of L2_RIP) */
#define L2_CODE 0x9000u /* L2-physical: the code page */

/* L2 paging (CR3 3000H: PML4 3000H -> PDPT 4000H -> PD 5000H -> PT 7000H ->
 * code 9000H), every one of those L2-physical pages at another L1-physical
 * address through L1's nested table (L2 n000H -> L1 (n + 60H)000H). The
 * identity location holds other bytes, so a walk that forgets L1's table
 * decodes another instruction. */
static void l2_paging_not_identity(const uint8_t *insn, size_t len)
{
    vmcb12(0, 0, true);
    for (uint64_t p = 3; p <= 9; p++)
        put(NPT1 + p * 8, ((p + 0x60) << 12) | 7, 8);
    put(NPT1 + 8 * 8, 0x40000000ull | 7, 8); /* L2 8000H -> L1 1 GiB: not RAM */
    put(0x63000, 0x4000 | 7, 8);              /* PML4[0] -> PDPT */
    put(0x64000, 0x5000 | 7, 8);              /* PDPT[0] -> PD */
    put(0x65000 + 1 * 8, L2_PT | 7, 8);       /* PD[1] (L2_RIP's 2 MiB) -> PT */
    put(0x67000, L2_CODE | 7, 8);             /* PT[0]: L2_RIP -> code */
    for (size_t i = 0; i < len; i++) {
        put(0x69000 + i, insn[i], 1);
        put(L2_CODE + i, 0x90, 1); /* NOP at the identity address */
    }
}

static void push_npf(uint64_t info1, uint64_t l2_gpa)
{
    vcore_mock_vmcb_exit_t x;
    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.exit_code = 0x400;
    x.exit_info1 = info1;
    x.exit_info2 = l2_gpa;
    x.exit = vcore_test_exit(VCORE_EXIT_RAW); /* what the backend made of it is not used */
    x.nfields = 1;
    x.fields[0].offset = 0x578;
    x.fields[0].bytes = 8;
    x.fields[0].value = L2_RIP;
    ck_assert_int_eq(vcore_mock_push_vmcb_exit(vcpu, &x), VCORE_OK);
}

/* MOV ECX, [RAX] (8B 08) reading L2 8010H: MMIO at L1's 40000010H, 4 bytes,
 * a read; the reply loads ECX (zero-extended into RCX, "MOV") and L2 goes
 * on after the instruction (RIP + 2). */
START_TEST(mmio_of_l2_decoded_through_l1_table)
{
    const uint8_t insn[] = {0x8b, 0x08};
    l2_paging_not_identity(insn, sizeof(insn));
    push_vmrun();
    push_npf((1ull << 32) | 4, 0x8010);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(out.flags, VCORE_EXIT_F_L2 | VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(out.u.mmio.gpa, 0x40000010ull);
    ck_assert_uint_eq(out.u.mmio.len, 4);
    ck_assert_uint_eq(out.u.mmio.is_write, 0);
    ck_assert_uint_eq(out.raw.data[4], L2_RIP + 2);
    out.u.mmio.data[0] = 0x11;
    out.u.mmio.data[1] = 0x22;
    out.u.mmio.data[2] = 0x33;
    out.u.mmio.data[3] = 0x44;
    push_l2_fields(0x72, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP + 4, 0, NULL, NULL);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_CPUID);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x44332211u);
    ck_assert_uint_eq(r.rip, L2_RIP + 2);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_REPLY), 0); /* the core completed it, not the backend */
}
END_TEST

/* MOV QWORD [RAX], -1 (48 C7 00 FF FF FF FF) writing L2 8000H: 8 bytes of
 * all ones (the imm32 sign-extended, "MOV"), no reply needed. MOV [RAX], BH
 * (88 38): one byte, BH. */
START_TEST(mmio_write_of_l2_through_l1_table)
{
    const uint8_t insn[] = {0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff};
    l2_paging_not_identity(insn, sizeof(insn));
    push_vmrun();
    push_npf((1ull << 32) | 6, 0x8000);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(out.flags, VCORE_EXIT_F_L2);
    ck_assert_uint_eq(out.u.mmio.gpa, 0x40000000ull);
    ck_assert_uint_eq(out.u.mmio.len, 8);
    ck_assert_uint_eq(out.u.mmio.is_write, 1);
    for (int i = 0; i < 8; i++)
        ck_assert_uint_eq(out.u.mmio.data[i], 0xff);
    push_l2_fields(0x72, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP + 9, 0, NULL, NULL);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(regs().rip, L2_RIP + 7);
}
END_TEST

START_TEST(mmio_write_high_byte_register)
{
    const uint8_t insn[] = {0x88, 0x38};
    l2_paging_not_identity(insn, sizeof(insn));
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RBX] = 0x5a6b;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_npf((1ull << 32) | 6, 0x8000);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(out.u.mmio.len, 1);
    ck_assert_uint_eq(out.u.mmio.data[0], 0x5a);
}
END_TEST

/* The access direction of the #NPF must be the instruction's: a write
 * fault on a MOV load is not decoded (raw for the VMM). A fetch is never
 * MMIO. */
START_TEST(mmio_direction_mismatch_is_raw)
{
    const uint8_t insn[] = {0x8b, 0x08};
    l2_paging_not_identity(insn, sizeof(insn));
    push_vmrun();
    push_npf((1ull << 32) | 6, 0x8010);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RAW);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_uint_eq(out.raw.data[5], 0x40000010ull);
    push_l2_fields(0x72, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP + 2, 0, NULL, NULL);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(regs().rip, L2_RIP); /* not completed */
}
END_TEST

/* ---- G_PAT at #VMEXIT (APM Vol. 3, "VMRUN": with nested paging the
 * guest's PAT is saved to G_PAT) ---- */

START_TEST(g_pat_saved_with_nested_paging)
{
    vmcb12(1u << 24, 0, true);
    push_vmrun();
    const uint32_t off[] = {0x578, 0x668};
    const uint64_t val[] = {L2_RIP, 0x0606060606060604ull};
    push_l2_fields(0x78, VCORE_EXIT_HLT, 0, L2_RIP + 1, 2, off, val);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x78);
    ck_assert_uint_eq(get(VMCB12 + 0x668, 8), 0x0606060606060604ull);
    /* L1's PAT is its own again. */
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0x277, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x0007040600070406ull);
}
END_TEST

START_TEST(g_pat_untouched_without_nested_paging)
{
    vmcb12(1u << 24, 0, false);
    put(VMCB12 + 0x668, 0x0606060606060606ull, 8);
    push_vmrun();
    const uint32_t off[] = {0x578, 0x668};
    const uint64_t val[] = {L2_RIP, 0x0606060606060604ull};
    push_l2_fields(0x78, VCORE_EXIT_HLT, 0, L2_RIP + 1, 2, off, val);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x668, 8), 0x0606060606060606ull);
    /* L2 shared L1's PAT: what L2 wrote is L1's now. */
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0x277, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x0606060606060604ull);
}
END_TEST

/* ---- interrupts for L1 while L2 runs ---- */

/* L1 intercepts INTR; the interrupt arrives while L2's CPUID waits for the
 * VMM: the reply is completed and L2 is kicked out before its next
 * instruction, #VMEXIT(INTR) (60H) with RIP past the CPUID and its result in
 * RAX ("Physical (INTR) Interrupt Intercept"). */
START_TEST(intr_kicks_l2_out_after_the_reply)
{
    set_if(true);
    vmcb12(1u << 0, 0, false);
    put(VMCB12 + 0x60, VCORE_VMCB_INT_V_INTR_MASKING, 4);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_CPUID);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_KICK), 0);
    push_l1(VCORE_EXIT_HLT);
    out.u.cpuid.eax = 0xa;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_KICK), 1);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_VMCB_RUN), 2);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x60);
    ck_assert_uint_eq(get(VMCB12 + 0x578, 8), L2_RIP + 2);
    ck_assert_uint_eq(get(VMCB12 + 0x5f8, 8), 0xa);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 1); /* L1 takes it after STGI */
}
END_TEST

/* A run stopped by the VMM's own kick with nothing due to L1 goes back to
 * the VMM (flagged L2), not to L1. */
START_TEST(kick_without_event_returns_to_vmm)
{
    vmcb12(1u << 0, 0, false);
    push_vmrun();
    push_l2_fields(0x60, VCORE_EXIT_INTERRUPTED, 0, 0, 0, NULL, NULL);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert(vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
}
END_TEST

/* L1 does not intercept INTR: the interrupt is taken in L2, injected
 * through vmcb02's EVENTINJ (valid, type 0, the vector: "Event
 * Injection") and no longer pending for the vCPU. With V_INTR_MASKING L1's
 * RFLAGS.IF masks it. */
START_TEST(intr_not_intercepted_taken_in_l2)
{
    set_if(true);
    vmcb12(0, 0, false);
    put(VMCB12 + 0x60, VCORE_VMCB_INT_V_INTR_MASKING, 4);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    vcore_exit_t out = run();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x31), VCORE_OK);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP + 2, L2_RIP + 3);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj, 0x80000031ull);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_KICK), 0);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 0);
}
END_TEST

START_TEST(intr_not_intercepted_masked_by_l1_if)
{
    set_if(false);
    vmcb12(0, 0, false);
    put(VMCB12 + 0x60, VCORE_VMCB_INT_V_INTR_MASKING, 4);
    put(VMCB12 + 0x570, 0x202, 8); /* L2's IF set: not what masks it */
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x31), VCORE_OK);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj & (1ull << 31), 0);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 1);
}
END_TEST

/* Without V_INTR_MASKING, L2's RFLAGS.IF decides (L1's is clear here). */
START_TEST(intr_not_intercepted_l2_if_decides)
{
    set_if(false);
    vmcb12(0, 0, false);
    put(VMCB12 + 0x570, 0x202, 8);
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x32), VCORE_OK);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.event_inj, 0x80000032ull);
}
END_TEST

/* ---- INVLPGA (APM Vol. 3, "INVLPGA") ---- */

/* ASID 0 is L1's own: the page of rAX is flushed for the vCPU (one page,
 * no extra pages in the range encoding); no flush of L2's VMCB. */
START_TEST(invlpga_asid0_flushes_l1_page)
{
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 0x7f0012345678ull;
    r.gpr[VCORE_X86_RCX] = 0;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_svm(VCORE_NSVM_INVLPGA);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_flush_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_mock_last_flush(vcpu, &f), VCORE_OK);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.ranges[0], 0x7f0012345000ull);
    ck_assert_uint_eq(regs().rip, L1_RIP + 3);
}
END_TEST

/* Another ASID is one of L1's guests: nothing of L1's is flushed; L2's
 * next run flushes vmcb02's ASID. */
START_TEST(invlpga_guest_asid_flushes_vmcb02)
{
    vmcb12(1u << 24, 0, false);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    uint64_t flushes = info.flushes;
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = 0x5000;
    r.gpr[VCORE_X86_RCX] = 1;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_svm(VCORE_NSVM_INVLPGA);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(count(VCORE_MOCK_OP_FLUSH_TLB), 0);
    r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    ck_assert_uint_eq(info.flushes, flushes + 1);
}
END_TEST

/* ---- the merged permission maps across VMRUNs ---- */

/* One VMRUN of VMCB12 (L1 at its VMRUN), L2's HLT reflected (L1 intercepts
 * HLT), L1 at its HLT. */
static void vmrun_round(void)
{
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RAX] = VMCB12;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP, L2_RIP + 1);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
}

static vcore_mock_vmcb_info_t vmcb_info(void)
{
    vcore_mock_vmcb_info_t info = {.size = sizeof(info)};
    ck_assert_int_eq(vcore_mock_vmcb_info(vcpu, &info), VCORE_OK);
    return info;
}

/* L1's maps are read at every VMRUN ("MSR Intercepts", "I/O Intercepts":
 * the processor consults them while the guest runs, no clean bit covers
 * their contents): an unchanged map is not handed to the backend again,
 * a change L1 made in memory under the same MSRPM_BASE is. */
START_TEST(maps_copied_only_when_changed)
{
    vmcb12((1u << 24) | (1u << 28) | (1u << 27), 0, false); /* HLT, MSR_PROT, IOIO_PROT */
    put(VMCB12 + 0x48, 0x30000, 8);                         /* MSRPM_BASE_PA */
    put(VMCB12 + 0x40, 0x40000, 8);                         /* IOPM_BASE_PA */
    put(0x30000, 0x01, 1);                                  /* RDMSR of MSR 0 */
    vmrun_round();
    ck_assert_uint_eq(vmcb_info().map_copies, 1);
    ck_assert_uint_eq(vmcb_info().msrpm_first & 0xff, 0x01);
    vmrun_round();
    ck_assert_uint_eq(vmcb_info().map_copies, 1);
    /* L1 rewrites its map in place: seen at the next VMRUN. */
    put(0x30000, 0x03, 1);
    vmrun_round();
    ck_assert_uint_eq(vmcb_info().map_copies, 2);
    ck_assert_uint_eq(vmcb_info().msrpm_first & 0xff, 0x03);
    /* ... and in the I/O map's last page (ports 8000H-FFFFH). */
    put(0x42fff, 0x80, 1);
    vmrun_round();
    ck_assert_uint_eq(vmcb_info().map_copies, 3);
    /* Another base with the same contents: nothing to copy. */
    memcpy(ram + 0x50000, ram + 0x30000, 0x2000);
    put(VMCB12 + 0x48, 0x50000, 8);
    vmrun_round();
    ck_assert_uint_eq(vmcb_info().map_copies, 3);
    /* L1 stops intercepting MSRs: its map counts no more. */
    put(VMCB12 + 0x0c, (1u << 24) | (1u << 27), 4);
    vmrun_round();
    ck_assert_uint_eq(vmcb_info().map_copies, 4);
    ck_assert_uint_eq(vmcb_info().msrpm_first & 0xff, 0);
}
END_TEST

/* Under L1's nested paging the merged map intercepts L2's PAT for L0 (both
 * bits), and that alone does not count as a change at the next VMRUN. */
START_TEST(maps_pat_intercept_is_stable)
{
    vmcb12(1u << 24, 0, true);
    vmrun_round();
    vmrun_round();
    ck_assert_uint_eq(vmcb_info().map_copies, 1);
}
END_TEST

/* The TSC is not switched by VMRUN ("TSC Offset": L2 reads L1's TSC plus
 * an offset): the VMM's write while L2 runs sets the vCPU's TSC, which the
 * backend gets when L1 runs again. */
START_TEST(vmm_sets_shared_tsc_while_l2_runs)
{
    vmcb12(1u << 24, 0, false);
    push_vmrun();
    push_l2(0x72, 0, 0, VCORE_EXIT_CPUID, VCORE_EXIT_F_NEEDS_REPLY, L2_RIP, L2_RIP + 2);
    vcore_exit_t out = run();
    ck_assert_uint_ne(out.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0x10, 0x123456789ull), VCORE_OK);
    push_l2(0x78, 0, 0, VCORE_EXIT_HLT, 0, L2_RIP + 2, L2_RIP + 3);
    push_l1(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_L2, 0);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0x10, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x123456789ull);
}
END_TEST

/* L2 in compatibility mode (EFER.LMA, CS.L clear) with a 16-bit code
 * segment (CS.D clear): 8B 08 is MOV CX, [BX+SI], 2 bytes ("Operand-Size
 * and Address-Size Attributes"). */
START_TEST(mmio_of_16bit_l2_code)
{
    const uint8_t insn[] = {0x8b, 0x08};
    l2_paging_not_identity(insn, sizeof(insn));
    put(VMCB12 + 0x412, 0x09b, 2); /* CS: P, S, code; neither L nor D */
    push_vmrun();
    push_npf((1ull << 32) | 4, 0x8010);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(out.u.mmio.len, 2);
    ck_assert_uint_eq(out.raw.data[4], L2_RIP + 2);
}
END_TEST

/* MOV [RAX], ESI (89 30): ModRM.reg 6 of a 32-bit MOV is ESI, not DH (only
 * byte operands name AH..BH, "MOV"): the 4 bytes of ESI. */
START_TEST(mmio_write_of_esi)
{
    const uint8_t insn[] = {0x89, 0x30};
    l2_paging_not_identity(insn, sizeof(insn));
    vcore_x86_regs_t r = regs();
    r.gpr[VCORE_X86_RSI] = 0x11223344;
    r.gpr[VCORE_X86_RDX] = 0x5500;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    push_vmrun();
    push_npf((1ull << 32) | 6, 0x8000);
    vcore_exit_t out = run();
    ck_assert_uint_eq(out.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(out.u.mmio.len, 4);
    ck_assert_uint_eq(out.u.mmio.data[0], 0x44);
    ck_assert_uint_eq(out.u.mmio.data[3], 0x11);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nsvm_run");
    TCase *tc = tcase_create("nsvm_run");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cpuid_reflected_to_l1);
    tcase_add_test(tc, nrip_from_vmcb02_when_the_backend_found_none);
    tcase_add_test(tc, cpuid_of_l2_answered_by_the_vmm);
    tcase_add_test(tc, out_of_l2_completed_without_reply);
    tcase_add_test(tc, unchanged_l2_keeps_clean_bits);
    tcase_add_test(tc, changed_cr3_clears_only_crx);
    tcase_add_test(tc, shutdown_of_l2_not_intercepted);
    tcase_add_test(tc, vmmcall_of_l2_not_intercepted_is_ud);
    tcase_add_test(tc, vmmcall_of_l2_intercepted);
    tcase_add_test(tc, npf_mapped_in_the_shadow_table);
    tcase_add_test(tc, npf_read_only_page);
    tcase_add_test(tc, event_of_npf_fixed_by_l0_reinjected);
    tcase_add_test(tc, npf_without_event_injects_nothing);
    tcase_add_test(tc, npf_denied_by_l1_reflected);
    tcase_add_test(tc, npf_unmapped_by_l1_reflected);
    tcase_add_test(tc, npf_outside_ram_unfetchable_is_raw_at_the_vm_address);
    tcase_add_test(tc, no_np_uses_the_vm_table);
    tcase_add_test(tc, strict_vmcb_store);
    tcase_add_test(tc, clean_bit_of_fields);
    tcase_add_test(tc, vmcb_group_all_or_none);
    tcase_add_test(tc, gif_holds_interrupts);
    tcase_add_test(tc, vmrun_vmcb02_alloc_failure_undone);
    tcase_add_test(tc, vmrun_vmcb02_setup_failure_undone);
    tcase_add_test(tc, intr_while_l2_exits_to_l1);
    tcase_add_test(tc, intr_masked_by_l1_if);
    tcase_add_test(tc, pat_of_l2_is_g_pat);
    tcase_add_test(tc, pat_write_reserved_type_is_gp);
    tcase_add_test(tc, msr_refused_for_l2_is_gp);
    tcase_add_test(tc, vmm_sees_and_sets_l2_state);
    tcase_add_test(tc, vmm_refused_l2_state_changes_nothing);
    tcase_add_test(tc, mmio_of_l2_decoded_through_l1_table);
    tcase_add_test(tc, mmio_write_of_l2_through_l1_table);
    tcase_add_test(tc, mmio_write_high_byte_register);
    tcase_add_test(tc, mmio_direction_mismatch_is_raw);
    tcase_add_test(tc, g_pat_saved_with_nested_paging);
    tcase_add_test(tc, g_pat_untouched_without_nested_paging);
    tcase_add_test(tc, intr_kicks_l2_out_after_the_reply);
    tcase_add_test(tc, kick_without_event_returns_to_vmm);
    tcase_add_test(tc, intr_not_intercepted_taken_in_l2);
    tcase_add_test(tc, intr_not_intercepted_masked_by_l1_if);
    tcase_add_test(tc, intr_not_intercepted_l2_if_decides);
    tcase_add_test(tc, invlpga_asid0_flushes_l1_page);
    tcase_add_test(tc, invlpga_guest_asid_flushes_vmcb02);
    tcase_add_test(tc, maps_copied_only_when_changed);
    tcase_add_test(tc, maps_pat_intercept_is_stable);
    tcase_add_test(tc, vmm_sets_shared_tsc_while_l2_runs);
    tcase_add_test(tc, mmio_of_16bit_l2_code);
    tcase_add_test(tc, mmio_write_of_esi);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
