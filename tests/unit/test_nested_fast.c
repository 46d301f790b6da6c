/*
 * test_nested_fast.c - L1's VMREAD/VMWRITE with register operands when they
 * exit (no hardware VMCS shadowing): the run loop's fast path and the full
 * emulation (VCORE_NVMX_OPT_NO_FAST_PATH) give the same architectural
 * result in every case the fast path checks or relies on.
 *
 * Expected values come from SDM Vol. 3: "VMREAD", "VMWRITE" (operation,
 * operand size, #GP(0) at CPL > 0), "Conventions" (VMsucceed, VMfailValid),
 * "VM-Instruction Error Numbers" (12: unsupported VMCS component, 13:
 * VMWRITE to a read-only component), "Relative Priority of Faults and VM
 * Exits", "Interruptibility State" (blocking by MOV SS ends after the next
 * instruction), "Single-Step Exception Condition" (a trap-class #DB with
 * DR6.BS after an instruction that began with RFLAGS.TF set).
 */
#include <string.h>

#include "support.h"
#include <virtcore/x86/nvmx_pipeline.h>

#include "core/vcpu_x86.h"
#include "core/x86/vmx/nvmx_priv.h"

#include "nested_fixture.h"

/* VMREAD RCX <- field in RDX / VMWRITE field in RDX <- RCX. */
#define RCX_RDX ((1u << 10) | (1u << 3) | (2u << 7) | (2u << 28))
/* Register operand 1 (bits 6:3) and operand 2 (bits 31:28). */
#define REGS_OF(r1, r2) ((1u << 10) | ((uint32_t)(r1) << 3) | (2u << 7) | ((uint32_t)(r2) << 28))

/* Whether the case runs with VCORE_NVMX_OPT_NO_FAST_PATH (start()). */
static int cur_full;

/* L1's 64-bit mode at CPL 0, as l1_long_mode() set it up. */
static vcore_x86_sregs_t long_mode;

static void setup_with(const vcore_nvmx_caps_t *restrict_to)
{
    nested_vm(NULL, NULL, restrict_to, 0);
    long_mode = sregs();
}

static void setup(void)
{
    nested_fixture_backend = NULL;
    setup_with(NULL);
}

/* The mock without vcpu_run_sync: the core runs through vcpu_set_state,
 * vcpu_run and vcpu_get_state (backend.h: the same outcome). */
static vcore_backend_t no_sync;

static void use_fallback(bool on)
{
    no_sync = *vcore_backend_mock();
    no_sync.vcpu_run_sync = NULL;
    nested_fixture_backend = on ? &no_sync : NULL;
}

static void setup_fallback(void)
{
    use_fallback(true);
    setup_with(NULL);
}

/* The VM again, without "VMWRITE to any supported field" offered to L1
 * (IA32_VMX_MISC bit 29 clear). */
static void restart_without_vmwrite_any(void)
{
    vcore_nvmx_caps_t c = *vcore_nvmx_caps(nv);
    c.msr[VCORE_NVMX_CAP_MISC] &= ~VCORE_VMX_MISC_VMWRITE_ANY;
    vcore_vm_destroy(vm);
    setup_with(&c);
}

static void teardown(void)
{
    nested_vm_destroy(0);
}

/* VMXON (once) and VMPTRLD of `page` with the fast path on (full = 0) or
 * off; L1 at L1_RIP with the arithmetic flags set. */
static void start(int full)
{
    ck_assert_int_eq(vcore_nvmx_set_options(nv, VCORE_NVMX_OPT_NO_HW_SHADOW |
                                                    (full ? VCORE_NVMX_OPT_NO_FAST_PATH : 0u)),
                     VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &long_mode), VCORE_OK);
    load_vmcs12();
    ck_assert_int_eq(vcore_mock_reset_counts(vcpu), VCORE_OK);
    cur_full = full;
}

/* L1's VMREAD/VMWRITE (3 bytes) then HLT. With the fast path on, the run
 * loop's step is called directly so the case also says whether the fast
 * path completed the instruction (the next exit, HLT, comes back) or left
 * it to the full emulation (the VMX-instruction exit comes back, and runs
 * through vcore_vcpu_run() then). */
static void rw(uint32_t op, uint32_t info, bool taken)
{
    if (!cur_full) {
        vcore_exit_t e = vcore_test_vmx_exit(op, info, 3);
        push_hlt();
        ck_assert_int_eq(vcore__vcpu_nested_fast(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(e.reason, taken ? VCORE_EXIT_HLT : VCORE_EXIT_VMX_INSN);
        if (taken)
            return;
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    }
    l1_insn(op, info, 3);
}

static void set_gpr(uint32_t gpr, uint64_t v)
{
    vcore_x86_regs_t r = regs();
    r.gpr[gpr] = v;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

static void set_rflags(uint64_t v)
{
    vcore_x86_regs_t r = regs();
    r.rflags = v;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

/* L1 in 32-bit protected mode with PAE paging (IA32_EFER.LMA = 0, CS.L = 0,
 * CS.D = 1): VMREAD/VMWRITE have 32-bit operands ("VMREAD": "outside
 * IA-32e mode, the operand size is 32 bits"). */
static void l1_legacy_mode(void)
{
    vcore_x86_sregs_t s = sregs();
    s.efer = 0;
    s.seg[VCORE_X86_CS].ar = 0xc09b;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
}

/* The results both paths must give, recorded for the comparison. */
typedef struct outcome {
    vcore_x86_regs_t r;
    uint64_t error;
    vcore_x86_events_t ev;
} outcome_t;

static outcome_t outcome(void)
{
    outcome_t o;
    memset(&o, 0, sizeof(o));
    o.r = regs();
    o.error = get12(VCORE_VMCS_VM_INSTRUCTION_ERROR);
    o.ev.size = sizeof(o.ev);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &o.ev), VCORE_OK);
    return o;
}

static void assert_same(const outcome_t *a, const outcome_t *b)
{
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(a->r.gpr[i], b->r.gpr[i]);
    ck_assert_uint_eq(a->r.rip, b->r.rip);
    ck_assert_uint_eq(a->r.rflags, b->r.rflags);
    ck_assert_uint_eq(a->error, b->error);
    ck_assert_uint_eq(a->ev.sti_blocking, b->ev.sti_blocking);
    ck_assert_uint_eq(a->ev.movss_blocking, b->ev.movss_blocking);
}

/* A 64-bit VMREAD of a natural-width field: VMsucceed, the value in RCX, RIP
 * past the instruction; the encoding register's whole value is the
 * encoding. */
START_TEST(vmread_64bit_mode)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        start(full);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
        set_gpr(VCORE_X86_RCX, 0xdeadbeefdeadbeefull);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
        o[full] = outcome();
        ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x401000);
        ck_assert_uint_eq(o[full].r.rip, L1_RIP + 3);
        ck_assert_uint_eq(o[full].r.rflags, 0x2);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* CPL 3: #GP(0) after the VM exit decision ("VMREAD": "ELSIF CPL > 0 THEN
 * #GP(0)"); nothing completes (RIP, RCX, RFLAGS unchanged). */
START_TEST(cpl3_is_gp0)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        start(full);
        vcore_x86_sregs_t sr = sregs();
        sr.seg[VCORE_X86_SS].ar |= 3u << VCORE_X86_AR_DPL_SHIFT;
        sr.seg[VCORE_X86_CS].selector |= 3;
        ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
        set_gpr(VCORE_X86_RCX, 0x1234);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, false);
        vcore_mock_event_t ev = {.size = sizeof(ev)};
        ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
        ck_assert_uint_eq(ev.vector, 13);
        ck_assert_uint_eq(ev.has_error_code, 1);
        ck_assert_uint_eq(ev.error_code, 0);
        o[full] = outcome();
        ck_assert_uint_eq(o[full].r.rip, L1_RIP);
        ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x1234);
        ck_assert_uint_eq(o[full].r.rflags, 0x2 | 0x8d5);
        /* VMWRITE the same. */
        rw(VCORE_NVMX_VMWRITE, RCX_RDX, false);
        ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
        ck_assert_uint_eq(ev.vector, 13);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 2);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* Outside 64-bit mode the operands are 32 bits: the encoding is the low half
 * of its register (high garbage ignored), the destination is zero-extended,
 * the VMWRITE source's high half is not used and a natural-width field gets
 * bits 63:32 cleared; EIP advances within 32 bits. */
START_TEST(operand_size_32)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        start(full);
        l1_legacy_mode();
        set_gpr(VCORE_X86_RDX, 0xabcd000000000000ull | VCORE_VMCS_GUEST_RSP);
        set_gpr(VCORE_X86_RCX, 0xffffffffffffffffull);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x8000);
        ck_assert_uint_eq(regs().rflags, 0x2);
        set_gpr(VCORE_X86_RCX, 0x5555555500009000ull);
        rw(VCORE_NVMX_VMWRITE, RCX_RDX, true);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x9000);
        /* EIP wraps at 4 GiB. */
        vcore_x86_regs_t r = regs();
        r.rip = 0xfffffffeu;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
        o[full] = outcome();
        ck_assert_uint_eq(o[full].r.rip, 1);
        ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x9000);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* A 64-bit field read into a 32-bit register: its bits 31:0 ("VMREAD": the
 * high bits of a field longer than the operand are not read); the _HIGH
 * encoding gives bits 63:32 (full emulation). */
START_TEST(field_64_into_32bit_register)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        set12(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, 0x0000123456789abcull);
        start(full);
        l1_legacy_mode();
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x56789abc);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS_HIGH);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, false);
        o[full] = outcome();
        ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x1234);
        ck_assert_uint_eq(o[full].r.rflags, 0x2);
        /* In 64-bit mode the whole field. */
        vcore_x86_sregs_t s = sregs();
        s.efer = 0xd00;
        s.seg[VCORE_X86_CS].ar = 0xa09b;
        ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &s), VCORE_OK);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x0000123456789abcull);
        /* A 16-bit and a 32-bit field are zero-extended. */
        set_gpr(VCORE_X86_RCX, ~0ull);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_HOST_FS_SELECTOR);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0);
        set_gpr(VCORE_X86_RCX, ~0ull);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_SS_AR_BYTES);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0xc093);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* RFLAGS.TF: the VMREAD completes, then a single-step trap: #DB with DR6.BS
 * set, RIP already past the instruction. */
START_TEST(tf_single_step_trap)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        start(full);
        set_rflags(0x2 | 0x100u /* TF */);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
        rw(VCORE_NVMX_VMREAD, RCX_RDX, false);
        vcore_mock_event_t ev = {.size = sizeof(ev)};
        ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
        ck_assert_uint_eq(ev.vector, 1);
        ck_assert_uint_eq(ev.has_error_code, 0);
        vcore_x86_dregs_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
        ck_assert_uint_eq(d.dr6 & (1u << 14), 1u << 14);
        o[full] = outcome();
        ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x401000);
        ck_assert_uint_eq(o[full].r.rip, L1_RIP + 3);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* VMREAD right after MOV SS: the completion ends the blocking
 * ("Interruptibility State": blocking by MOV SS lasts one instruction);
 * blocking by STI the same. */
START_TEST(movss_blocking_ended)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        start(full);
        for (int sti = 0; sti < 2; sti++) {
            vcore_x86_events_t ev = {.size = sizeof(ev)};
            ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
            ev.movss_blocking = !sti;
            ev.sti_blocking = (uint8_t)sti;
            ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
            set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
            rw(VCORE_NVMX_VMREAD, RCX_RDX, true);
            o[full] = outcome();
            ck_assert_uint_eq(o[full].ev.movss_blocking, 0);
            ck_assert_uint_eq(o[full].ev.sti_blocking, 0);
            ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x401000);
        }
        ck_assert_uint_eq(o[full].r.rip, L1_RIP + 6);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* VMWRITE of a read-only field (the exit information): VMfailValid(13)
 * ("VMWRITE": no "VMWRITE to any supported field" offered here), the field
 * unchanged; of a field L1 may write: VMsucceed. */
START_TEST(vmwrite_read_only_is_vmfail_13)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        restart_without_vmwrite_any();
        set12(VCORE_VMCS_EXIT_QUALIFICATION, 0x77);
        start(full);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_EXIT_QUALIFICATION);
        set_gpr(VCORE_X86_RCX, 0x5a5a);
        rw(VCORE_NVMX_VMWRITE, RCX_RDX, false);
        o[full] = outcome();
        ck_assert_uint_eq(o[full].error, 13);
        ck_assert_uint_eq(o[full].r.rflags & 0x8d5u, 0x40u);
        ck_assert_uint_eq(get12(VCORE_VMCS_EXIT_QUALIFICATION), 0x77);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_EXCEPTION_BITMAP);
        rw(VCORE_NVMX_VMWRITE, RCX_RDX, true);
        ck_assert_uint_eq(get12(VCORE_VMCS_EXCEPTION_BITMAP), 0x5a5a);
        ck_assert_uint_eq(regs().rflags & 0x8d5u, 0);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* An unsupported encoding: VMfailValid(12), RCX unchanged; for a field the
 * fast path does not hold (bit 0 set on a 32-bit field, index bits 9:7, bits
 * 63:32 in 64-bit mode, a reserved bit 12) as for any other. */
START_TEST(unsupported_encoding_is_vmfail_12)
{
    static const uint64_t bad[] = {VCORE_VMCS_GUEST_RSP | 1u, 0x6c80u | (VCORE_VMCS_GUEST_RSP & 0x7fu),
                                   (1ull << 32) | VCORE_VMCS_GUEST_RSP, VCORE_VMCS_GUEST_RSP | 0x1000u,
                                   0x7fffu, (1ull << 63) | VCORE_VMCS_GUEST_RIP};
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        start(full);
        for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            set_gpr(VCORE_X86_RDX, bad[i]);
            set_gpr(VCORE_X86_RCX, 0x1234);
            set12(VCORE_VMCS_VM_INSTRUCTION_ERROR, 0);
            rw(VCORE_NVMX_VMREAD, RCX_RDX, false);
            o[full] = outcome();
            ck_assert_uint_eq(o[full].error, 12);
            ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x1234);
            ck_assert_uint_eq(o[full].r.rflags & 0x8d5u, 0x40u);
            rw(VCORE_NVMX_VMWRITE, RCX_RDX, false);
            ck_assert_uint_eq(regs().rflags & 0x8d5u, 0x40u);
        }
        ck_assert_uint_eq(o[full].r.rip, L1_RIP + 3 * 2 * 6 - 3);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* RSP as either operand: read from and written to like any other GPR. */
START_TEST(rsp_operand)
{
    outcome_t o[2];
    for (int full = 0; full < 2; full++) {
        start(full);
        /* VMREAD RSP <- field in RDX. */
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
        rw(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RSP, VCORE_X86_RDX), true);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RSP], 0x401000);
        /* VMWRITE field in RSP <- RCX. */
        set_gpr(VCORE_X86_RSP, VCORE_VMCS_GUEST_RSP);
        set_gpr(VCORE_X86_RCX, 0x7000);
        rw(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSP), true);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x7000);
        /* VMREAD RCX <- field in RSP. */
        rw(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSP), true);
        o[full] = outcome();
        ck_assert_uint_eq(o[full].r.gpr[VCORE_X86_RCX], 0x7000);
        ck_assert_uint_eq(o[full].r.rip, L1_RIP + 9);
    }
    assert_same(&o[0], &o[1]);
}
END_TEST

/* Every register pair, every shadowed field (both sets): the same value on
 * both paths; reads of a field L1 may not write leave vmcs12 alone. */
START_TEST(every_shadowed_field_both_paths)
{
    for (int ro = 0; ro < 2; ro++) {
        uint32_t n = 0;
        const uint32_t *f = vcore_nvmx_shadow_fields(ro != 0, &n);
        for (uint32_t i = 0; i < n; i++)
            set12(f[i], 0x0102030405060708ull + i);
    }
    uint64_t seen[2][64];
    for (int full = 0; full < 2; full++) {
        start(full);
        uint32_t k = 0;
        for (int ro = 0; ro < 2; ro++) {
            uint32_t n = 0;
            const uint32_t *f = vcore_nvmx_shadow_fields(ro != 0, &n);
            for (uint32_t i = 0; i < n; i++) {
                uint32_t r1 = (i % 15u) + (i % 15u >= VCORE_X86_RSP ? 1u : 0u);
                uint32_t r2 = r1 == VCORE_X86_R15 ? VCORE_X86_RAX : r1 + 1u;
                if (r2 == VCORE_X86_RSP)
                    r2++;
                set_gpr(r2, f[i]);
                rw(VCORE_NVMX_VMREAD, REGS_OF(r1, r2), (f[i] & 1u) == 0);
                seen[full][k++] = regs().gpr[r1];
                ck_assert_uint_eq(regs().rflags & 0x8d5u, 0);
            }
        }
    }
    for (uint32_t k = 0; k < VCORE_NVMX_SHADOW_RW_COUNT + VCORE_NVMX_SHADOW_RO_COUNT; k++)
        ck_assert_uint_eq(seen[0][k], seen[1][k]);
}
END_TEST

static bool listed(const uint32_t *f, uint32_t n, uint32_t enc)
{
    for (uint32_t i = 0; i < n; i++)
        if (f[i] == enc)
            return true;
    return false;
}

/* Whether the row of enc is marked in both dirty bitmaps: written since the
 * last entry (vmcs02's rare fields) and changed since the VM-entry checks
 * last passed. */
static bool marked_dirty(uint32_t enc)
{
    uint32_t id = (uint32_t)(vcore__vmcs_row(enc) - vcore__vmcs_rows);
    bool chk = (nv->chk_dirty[id / 64] >> (id % 64)) & 1u;
    ck_assert_int_eq(chk, vcore_nvmx_is_dirty(nv, enc));
    return chk;
}

/* The field lookup over every 15-bit encoding and beyond: a VMREAD is
 * taken exactly for the shadowed fields but their _HIGH halves and gives
 * vmcs12's value; a VMWRITE is taken for every field of the read-write set
 * and never for a read-only field (type 1, "VM-exit information fields"),
 * stores the value cut to the field's width, leaves every other byte of
 * vmcs12 as it was, and marks the field's row dirty. */
START_TEST(fast_rw_every_encoding)
{
    start(0);
    uint32_t nrw = 0, nro = 0;
    const uint32_t *rw_set = vcore_nvmx_shadow_fields(false, &nrw);
    const uint32_t *ro_set = vcore_nvmx_shadow_fields(true, &nro);
    const void *v12 = vcore_nvmx_vmcs12(nv);
    static uint8_t before[VCORE_VMCS12_SIZE];
    for (uint64_t enc = 0; enc < 0x10000u; enc++) {
        memcpy(before, v12, sizeof(before));
        vcore_nvmx_clear_dirty(nv);
        memset(nv->chk_dirty, 0, sizeof(nv->chk_dirty));
        bool shadowed = (listed(rw_set, nrw, (uint32_t)enc) || listed(ro_set, nro, (uint32_t)enc)) && !(enc & 1u);
        uint64_t v = 0x1122334455667788ull, want = 0;
        if (shadowed)
            ck_assert_int_eq(vcore_vmcs12_get(v12, (uint32_t)enc, &want), VCORE_OK);
        uint64_t written = 0;
        ck_assert_msg(vcore__nvmx_fast_rw(nv, false, enc, &v, &written) == shadowed, "VMREAD %04llx",
                      (unsigned long long)enc);
        if (shadowed)
            ck_assert_uint_eq(v, want);
        ck_assert_uint_eq(written, 0);
        v = ~0ull;
        bool w = vcore__nvmx_fast_rw(nv, true, enc, &v, &written);
        /* One bit per field written, the same for the same field. */
        ck_assert_uint_eq(w ? 1u : 0u, (uint32_t)__builtin_popcountll(written));
        if (w) {
            uint64_t again = 0;
            ck_assert(vcore__nvmx_fast_rw(nv, true, enc, &v, &again));
            ck_assert_uint_eq(again, written);
        }
        vcore__nvmx_fast_written(nv, written);
        if (listed(rw_set, nrw, (uint32_t)enc))
            ck_assert_msg(w, "VMWRITE %04llx", (unsigned long long)enc);
        if (((enc >> 10) & 3u) == 1u || !shadowed)
            ck_assert_msg(!w, "VMWRITE %04llx", (unsigned long long)enc);
        if (w) {
            uint32_t width = (uint32_t)(enc >> 13) & 3u; /* 0: 16-bit, 2: 32-bit, 1/3: 64-bit/natural */
            uint64_t mask = width == 0 ? 0xffffu : width == 2 ? 0xffffffffu : ~0ull;
            ck_assert_int_eq(vcore_vmcs12_get(v12, (uint32_t)enc, &want), VCORE_OK);
            ck_assert_uint_eq(want, mask);
            ck_assert(marked_dirty((uint32_t)enc));
            ck_assert_uint_eq(vcore_nvmx_dirty_count(nv), 1);
            const vcore__vmcs_row_t *row = vcore__vmcs_row((uint32_t)enc);
            for (uint32_t b = 0; b < VCORE_VMCS12_SIZE; b++)
                if (b < row->offset || b >= (uint32_t)row->offset + row->bytes)
                    ck_assert_msg(((const uint8_t *)v12)[b] == before[b], "VMWRITE %04llx byte %u",
                                  (unsigned long long)enc, b);
        } else {
            ck_assert(memcmp(before, v12, sizeof(before)) == 0);
            ck_assert_uint_eq(vcore_nvmx_dirty_count(nv), 0);
        }
    }
    /* Bits above 15 never name a field ("VMREAD": VMfailValid 12): not for
     * any field the fast path holds, whichever bit it is. */
    uint64_t v = 0, written = 0;
    for (uint32_t i = 0; i < nrw + nro; i++) {
        uint64_t enc = i < nrw ? rw_set[i] : ro_set[i - nrw];
        for (uint32_t b = 15; b < 64; b++) {
            ck_assert(!vcore__nvmx_fast_rw(nv, false, (1ull << b) | enc, &v, &written));
            ck_assert(!vcore__nvmx_fast_rw(nv, true, (1ull << b) | enc, &v, &written));
        }
    }
    ck_assert(!vcore__nvmx_fast_rw(nv, false, (1ull << 32) | VCORE_VMCS_GUEST_RIP, &v, &written));
    ck_assert(!vcore__nvmx_fast_rw(nv, false, (1ull << 15) | VCORE_VMCS_GUEST_RIP, &v, &written));
    ck_assert(!vcore__nvmx_fast_rw(nv, true, (1ull << 63) | VCORE_VMCS_GUEST_RIP, &v, &written));
    ck_assert_uint_eq(written, 0);
}
END_TEST

/* Consecutive VMREADs: the fast path completes each one and enters L1
 * again, until an exit it does not take (HLT) comes back. A backend failure
 * on one of those entries is the run's error. */
START_TEST(consecutive_vmreads_in_one_step)
{
    start(0);
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
    for (int i = 0; i < 3; i++)
        push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_hlt();
    vcore_exit_t e = vcore_test_vmx_exit(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    ck_assert_int_eq(vcore__vcpu_nested_fast(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, L1_RIP + 12);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x8000);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_RUN), 4);
    /* The entry after the first one fails. */
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_hlt();
    ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_RUN, VCORE_ERR_HWFAIL), VCORE_OK);
    e = vcore_test_vmx_exit(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    ck_assert_int_eq(vcore__vcpu_nested_fast(vcpu, &e), VCORE_ERR_HWFAIL);
    ck_assert_uint_eq(regs().rip, L1_RIP + 15); /* the first one completed */
    /* The failed entry consumed nothing: the next run enters L1 again. */
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, L1_RIP + 18);
}
END_TEST

/* vcore_vcpu_run() takes the fast path: when its state fetch fails the
 * full emulation fetches again and completes the instruction; without the
 * fast path that one fetch failing is the run's error. */
START_TEST(run_loop_takes_the_fast_path)
{
    for (int full = 0; full < 2; full++) {
        start(full);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
        push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
        push_hlt();
        ck_assert_int_eq(vcore_mock_fail_next(vcpu, VCORE_MOCK_OP_GET_STATE, VCORE_ERR_HWFAIL), VCORE_OK);
        vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &out), full ? VCORE_ERR_HWFAIL : VCORE_OK);
        if (full)
            continue;
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x8000);
        ck_assert_uint_eq(regs().rip, L1_RIP + 3);
    }
}
END_TEST

/* Transfers of one state group so far: loads (set) or fetches. */
static uint64_t transfers(uint32_t group, bool set)
{
    uint64_t sets = 0, gets = 0;
    ck_assert_int_eq(vcore_mock_state_count(vcpu, group, &sets, &gets), VCORE_OK);
    return set ? sets : gets;
}

/* What one scripted sequence leaves, on one backend table. */
typedef struct seq_result {
    uint32_t reasons[4];
    outcome_t o[4];
    uint64_t sets[6], gets[6];
    uint32_t ev_vector; /* the last event the backend delivered */
} seq_result_t;

static const uint32_t seq_groups[6] = {VCORE_X86_STATE_GPRS, VCORE_X86_STATE_RSP, VCORE_X86_STATE_RIP,
                                       VCORE_X86_STATE_RFLAGS, VCORE_X86_STATE_EVENTS, VCORE_X86_STATE_CR0};

/* Four runs through vcore_vcpu_run(): VMREADs and VMWRITEs the fast path
 * completes (64-bit, RSP operands, MOV-SS blocking) and ones it leaves to
 * the emulation (an exit-information field, a bad encoding, TF), each run
 * ending at HLT. */
static void sequence(bool fallback, seq_result_t *res)
{
    nested_vm_destroy(0);
    use_fallback(fallback);
    setup_with(NULL);
    start(0);
    /* 1: three fast VMREADs/VMWRITEs in a row, one naming RSP. */
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    set_gpr(VCORE_X86_RCX, 0x1111);
    set_gpr(VCORE_X86_RSP, VCORE_VMCS_GUEST_RSP);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSP), 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RBX, VCORE_X86_RSP), 4);
    push_hlt();
    res->reasons[0] = run().reason;
    res->o[0] = outcome();
    /* 2: blocking by MOV SS ends with the first (fast) instruction. */
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSP), 3);
    push_hlt();
    res->reasons[1] = run().reason;
    res->o[1] = outcome();
    /* 3: a fast VMREAD, then VMWRITE of an exit-information field and a
     * bad encoding (the emulation's), then a fast one again. */
    set_gpr(VCORE_X86_RBX, VCORE_VMCS_VM_EXIT_REASON);
    set_gpr(VCORE_X86_RSI, 0x7fffu);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RCX, VCORE_X86_RBX), 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSI), 3);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_hlt();
    res->reasons[2] = run().reason;
    res->o[2] = outcome();
    /* 4: TF set: a single-step #DB after the instruction. */
    set_rflags(0x2 | VCORE__RFLAGS_TF);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_hlt();
    res->reasons[3] = run().reason;
    res->o[3] = outcome();
    vcore_mock_event_t ev2 = {.size = sizeof(ev2)};
    ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev2), VCORE_OK);
    res->ev_vector = ev2.vector;
    for (int i = 0; i < 6; i++) {
        res->sets[i] = transfers(seq_groups[i], true);
        res->gets[i] = transfers(seq_groups[i], false);
    }
}

/* The combined run (vcpu_run_sync) and the fallback give the same exits,
 * registers, events and VM-instruction errors, and load the same groups
 * into the backend the same number of times; the combined run brings the
 * fast path's groups back with the exits, so it never fetches them more
 * often than the fallback. */
START_TEST(combined_op_matches_fallback)
{
    seq_result_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    sequence(false, &a);
    ck_assert_uint_gt(vcore_mock_count(vcpu, VCORE_MOCK_OP_RUN_SYNC), 0);
    uint64_t runs = vcore_mock_count(vcpu, VCORE_MOCK_OP_RUN);
    sequence(true, &b);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_RUN_SYNC), 0);
    ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_RUN), runs);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(a.reasons[i], b.reasons[i]);
        assert_same(&a.o[i], &b.o[i]);
    }
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(a.sets[i], b.sets[i]);
        ck_assert_uint_le(a.gets[i], b.gets[i]);
    }
    /* The architectural values ("VMREAD", "VMWRITE", "Conventions"). */
    ck_assert_uint_eq(a.reasons[0], VCORE_EXIT_HLT);
    ck_assert_uint_eq(a.o[0].r.gpr[VCORE_X86_RCX], 0x401000);
    ck_assert_uint_eq(a.o[0].r.gpr[VCORE_X86_RBX], 0x401000);
    ck_assert_uint_eq(a.o[0].r.rip, L1_RIP + 10);
    ck_assert_uint_eq(a.o[1].ev.movss_blocking, 0);
    ck_assert_uint_eq(a.o[2].error, 12);
    ck_assert_uint_eq(a.o[3].r.rip, a.o[2].r.rip + 3);
    ck_assert_uint_eq(a.ev_vector, 1);
    ck_assert_uint_eq(b.ev_vector, 1);
}
END_TEST

/* A group the core changed reaches the backend once, with the next run,
 * however many runs follow; the fast path's own changes go with the run
 * after each instruction. */
START_TEST(dirty_group_pushed_once)
{
    start(0);
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    uint64_t g = transfers(VCORE_X86_STATE_GPRS, true), ip = transfers(VCORE_X86_STATE_RIP, true);
    uint64_t cr0 = transfers(VCORE_X86_STATE_CR0, true);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_GPRS, true), g + 1);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_RIP, true), ip + 1);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_GPRS, true), g + 1);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_RIP, true), ip + 1);
    /* Two fast VMREADs: RCX, RIP and RFLAGS go with each following run. */
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_GPRS, true), g + 3);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_RIP, true), ip + 3);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_RFLAGS, true), ip + 3);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_CR0, true), cr0);
    ck_assert_uint_eq(regs().rip, L1_RIP + 6);
}
END_TEST

/* A group the combined run did not bring back (CR0: the fast path does not
 * read it) is fetched when the emulation needs it, once; the groups it did
 * bring back are not fetched again. */
START_TEST(unpulled_group_fetched_lazily)
{
    start(0);
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RIP);
    set_gpr(VCORE_X86_RSI, 0x7fffu);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSI), 3);
    push_hlt();
    uint64_t rip = transfers(VCORE_X86_STATE_RIP, false), cr0 = transfers(VCORE_X86_STATE_CR0, false);
    uint64_t rsp = transfers(VCORE_X86_STATE_RSP, false);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    /* No operand names RSP: it is never fetched. */
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_RSP, false), rsp);
    /* RIP: fetched for the first VMREAD, brought back with the second. */
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_RIP, false), rip + 2);
    ck_assert_uint_eq(transfers(VCORE_X86_STATE_CR0, false), cr0 + 1);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 12);
    ck_assert_uint_eq(regs().rip, L1_RIP + 6);
}
END_TEST

/* ---- The loops specialised per op (after the first exit of a run). ----
 * A backend table around the mock's that plays L1 changing its own state
 * between two exits the library sees (a far jump, SYSRET, POPF, MOV SS:
 * none of them exits), fails a run, or brings back fewer groups than asked
 * (backend.h allows any subset), before or after its run number `at`. */
static vcore_backend_t between;
static int between_fail = VCORE_ERR_HWFAIL; /* what a failing run returns */
static int between_runs, between_at; /* the runs before three()'s, the run number */
static enum { CH_NONE, CH_CPL3, CH_LEGACY, CH_TF, CH_MOVSS, CH_FAIL, CH_PULL_NONE } between_change;

static void between_apply(vcore_vcpu_t *v, void *priv)
{
    vcore_x86_state_t x;
    memset(&x, 0, sizeof(x));
    vcore_vcpu_state_t st = {.arch = VCORE_ARCH_X86_64, .u.x86 = &x};
    uint32_t g = VCORE_X86_STATE_MODE | VCORE_X86_STATE_EFER | VCORE_X86_STATE_RFLAGS | VCORE_X86_STATE_EVENTS;
    const vcore_backend_t *m = vcore_backend_mock();
    ck_assert_int_eq(m->vcpu_get_state(v, priv, &st, g), VCORE_OK);
    switch (between_change) {
    case CH_CPL3:
    case CH_PULL_NONE:
        x.sregs.seg[VCORE_X86_SS].ar |= 3u << VCORE_X86_AR_DPL_SHIFT;
        x.sregs.seg[VCORE_X86_CS].ar |= 3u << VCORE_X86_AR_DPL_SHIFT;
        x.sregs.seg[VCORE_X86_CS].selector |= 3;
        break;
    case CH_LEGACY: /* IA32_EFER.LMA = 0, CS.L = 0, CS.D = 1 (l1_legacy_mode()) */
        x.sregs.efer = 0;
        x.sregs.seg[VCORE_X86_CS].ar = 0xc09b;
        break;
    case CH_TF:
        x.regs.rflags |= VCORE__RFLAGS_TF;
        break;
    case CH_MOVSS:
        x.events.movss_blocking = 1;
        break;
    default:
        return;
    }
    ck_assert_int_eq(m->vcpu_set_state(v, priv, &st, g), VCORE_OK);
}

/* Whether run number between_at of three() is next (fires once). */
static bool between_due(vcore_vcpu_t *v)
{
    if (between_at == 0 || vcore_mock_count(v, VCORE_MOCK_OP_RUN) - (uint64_t)between_runs != (uint64_t)between_at - 1u)
        return false;
    between_at = 0;
    return true;
}

/* The combined run: the change after the load of push, before the run. */
static int between_run_sync(vcore_vcpu_t *v, void *priv, const vcore_vcpu_state_t *state, uint32_t push,
                            uint32_t *pull, vcore_exit_t *exit)
{
    const vcore_backend_t *m = vcore_backend_mock();
    int ch = between_change;
    if (between_due(v)) {
        if (ch == CH_FAIL)
            return between_fail; /* nothing of push reached the backend */
        ck_assert_int_eq(m->vcpu_set_state(v, priv, state, push), VCORE_OK);
        push = 0;
        between_apply(v, priv);
        if (ch == CH_PULL_NONE)
            *pull = 0; /* the model's copy stays as it was */
        return m->vcpu_run_sync(v, priv, state, push, pull, exit);
    }
    return m->vcpu_run_sync(v, priv, state, push, pull, exit);
}

/* The separate calls (the mock is known by its vcpu_run): the change
 * with the load before the run. */
static int between_set_state(vcore_vcpu_t *v, void *priv, const vcore_vcpu_state_t *state, uint32_t groups)
{
    const vcore_backend_t *m = vcore_backend_mock();
    if (!between_due(v))
        return m->vcpu_set_state(v, priv, state, groups);
    if (between_change == CH_FAIL)
        return between_fail;
    int err = m->vcpu_set_state(v, priv, state, groups);
    between_apply(v, priv);
    return err;
}

static void setup_between(bool fallback)
{
    between = *vcore_backend_mock();
    between.vcpu_set_state = fallback ? between_set_state : between.vcpu_set_state;
    between.vcpu_run_sync = fallback ? NULL : between_run_sync;
    nested_fixture_backend = &between;
    setup_with(NULL);
    between_runs = 0;
    between_at = 0;
    between_change = CH_NONE;
}

static void setup_between_sync(void)
{
    setup_between(false);
}

static void setup_between_fallback(void)
{
    setup_between(true);
}

/* One run through vcore_vcpu_run(): L1 executes `op` (VMREAD RCX <- field
 * in RDX, or VMWRITE field in RDX <- RCX) three times, the second with RBX
 * and the third with RDI (the encoding `rsi` in RSI), then HLT; the state changes
 * `ch` takes effect before the exit of instruction `at` (1-3). */
static vcore_exit_t three(uint32_t op, int ch, int at, uint64_t rsi)
{
    start(0);
    vcore_nvmx_clear_dirty(nv);
    memset(nv->chk_dirty, 0, sizeof(nv->chk_dirty));
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
    set_gpr(VCORE_X86_RCX, 0x6000);
    set_gpr(VCORE_X86_RBX, 0x7000);
    set_gpr(VCORE_X86_RDI, 0x7100);
    set_gpr(VCORE_X86_RSI, rsi);
    push_insn(op, RCX_RDX, 3);
    push_insn(op, REGS_OF(VCORE_X86_RBX, VCORE_X86_RSI), 3);
    push_insn(op, REGS_OF(VCORE_X86_RDI, VCORE_X86_RSI), 3);
    push_hlt();
    /* Run 1 enters L1 up to the first exit; run k+1 follows instruction k. */
    between_runs = (int)vcore_mock_count(vcpu, VCORE_MOCK_OP_RUN);
    between_at = at;
    between_change = ch;
    vcore_exit_t out = vcore_test_exit(VCORE_EXIT_NONE);
    int err = vcore_vcpu_run(vcpu, &out);
    ck_assert_int_eq(err, ch == CH_FAIL ? VCORE_ERR_HWFAIL : VCORE_OK);
    between_change = CH_NONE;
    return out;
}

/* Nothing changes: every instruction completes. In 64-bit mode RSI's bits
 * 63:32 make the second and third an unsupported component
 * (VMfailValid(12), "VMREAD"/"VMWRITE"); RIP past all three. */
START_TEST(loop_unchanged_64bit)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        set12(VCORE_VMCS_GUEST_RSP, 0x8000);
        vcore_exit_t out = three(op, CH_NONE, 0, 0xabcd000000000000ull | VCORE_VMCS_GUEST_RSP);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        /* The loop's VMWRITE marked GUEST_RSP's row dirty on its way out
         * ("VMWRITE" changed vmcs12); a VMREAD marks nothing. */
        ck_assert(marked_dirty(VCORE_VMCS_GUEST_RSP) == (op == VCORE_NVMX_VMWRITE));
        ck_assert_uint_eq(regs().rip, L1_RIP + 9);
        ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 12);
        ck_assert_uint_eq(regs().rflags & 0x8d5u, 0x40u);
        if (op == VCORE_NVMX_VMREAD) {
            ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x8000);
            ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], 0x7000);
        } else {
            ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x6000);
        }
    }
}
END_TEST

/* L1 leaves IA-32e mode between the first and the second exit: the
 * operands are 32 bits from then on ("VMREAD": outside IA-32e mode the
 * encoding is the register's low half, the destination zero-extended;
 * "VMWRITE": the source's low half), so RSI names GUEST_RSP. */
START_TEST(loop_mode_change_to_32bit)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        set12(VCORE_VMCS_GUEST_RSP, 0x8000);
        vcore_exit_t out = three(op, CH_LEGACY, 2, 0xabcd000000000000ull | VCORE_VMCS_GUEST_RSP);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(regs().rip, L1_RIP + 9);
        ck_assert_uint_eq(regs().rflags & 0x8d5u, 0);
        if (op == VCORE_NVMX_VMREAD) {
            ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x8000);
            ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], 0x8000);
            ck_assert_uint_eq(regs().gpr[VCORE_X86_RDI], 0x8000);
        } else {
            ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x7100);
        }
        ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &long_mode), VCORE_OK);
    }
}
END_TEST

/* L1 moves to CPL 3 between the first and the second exit: #GP(0)
 * ("VMREAD", "VMWRITE": CPL > 0 after the VM-exit decision), the second
 * instruction not completed. */
START_TEST(loop_mode_change_to_cpl3)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        set12(VCORE_VMCS_GUEST_RSP, 0x8000);
        vcore_exit_t out = three(op, CH_CPL3, 2, VCORE_VMCS_GUEST_RSP);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        /* The loop's VMWRITE marked GUEST_RSP's row dirty on its way out
         * ("VMWRITE" changed vmcs12); a VMREAD marks nothing. */
        ck_assert(marked_dirty(VCORE_VMCS_GUEST_RSP) == (op == VCORE_NVMX_VMWRITE));
        vcore_mock_event_t ev = {.size = sizeof(ev)};
        ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
        ck_assert_uint_eq(ev.vector, 13);
        ck_assert_uint_eq(ev.has_error_code, 1);
        ck_assert_uint_eq(ev.error_code, 0);
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 2);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], 0x7000);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), op == VCORE_NVMX_VMREAD ? 0x8000 : 0x6000);
        ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &long_mode), VCORE_OK);
    }
}
END_TEST

/* RFLAGS.TF set by L1 before the second exit: that instruction completes,
 * then a single-step #DB ("Single-Step Exception Condition"). */
START_TEST(loop_tf_set_between)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        vcore_exit_t out = three(op, CH_TF, 3, VCORE_VMCS_GUEST_RSP);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        vcore_mock_event_t ev = {.size = sizeof(ev)};
        ck_assert_int_eq(vcore_mock_last_event(vcpu, &ev), VCORE_OK);
        ck_assert_uint_eq(ev.vector, 1);
        vcore_x86_dregs_t d = {.size = sizeof(d)};
        ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &d), VCORE_OK);
        ck_assert_uint_eq(d.dr6 & (1u << 14), 1u << 14);
        set_rflags(0x2);
    }
}
END_TEST

/* Blocking by MOV SS before the second exit: it completes and ends the
 * blocking ("Interruptibility State"); the third is completed too. */
START_TEST(loop_movss_between)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        set12(VCORE_VMCS_GUEST_RSP, 0x8000);
        vcore_exit_t out = three(op, CH_MOVSS, 2, VCORE_VMCS_GUEST_RSP);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        vcore_x86_events_t ev = {.size = sizeof(ev)};
        ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
        ck_assert_uint_eq(ev.movss_blocking, 0);
        ck_assert_uint_eq(regs().rip, L1_RIP + 9);
        ck_assert_uint_eq(regs().rflags & 0x8d5u, 0);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7000u);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RDI], op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7100u);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7100u);
    }
}
END_TEST

/* The run after the second instruction fails: the run's error, the two
 * completed instructions kept (their changes reach the backend with the
 * next run), the third exit still to come. */
START_TEST(loop_run_fails)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        set12(VCORE_VMCS_GUEST_RSP, 0x8000);
        /* A backend's positive error is VCORE_ERR_HWFAIL (backend.h). */
        between_fail = op == VCORE_NVMX_VMREAD ? VCORE_ERR_HWFAIL : 1;
        (void)three(op, CH_FAIL, 3, VCORE_VMCS_GUEST_RSP);
        between_fail = VCORE_ERR_HWFAIL;
        /* The loop's VMWRITE marked GUEST_RSP's row dirty on its way out
         * ("VMWRITE" changed vmcs12); a VMREAD marks nothing. */
        ck_assert(marked_dirty(VCORE_VMCS_GUEST_RSP) == (op == VCORE_NVMX_VMWRITE));
        ck_assert_uint_eq(regs().rip, L1_RIP + 6);
        /* The failed run consumed no exit: the third one comes next. */
        ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(regs().rip, L1_RIP + 9);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7000u);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RDI], op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7100u);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7100u);
    }
}
END_TEST

/* A run that brings back none of the groups asked for (backend.h: any
 * subset) while L1 changed its CPL: the next instruction fetches them and
 * decides on the current state. */
START_TEST(loop_pull_incomplete)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        set12(VCORE_VMCS_GUEST_RSP, 0x8000);
        vcore_exit_t out = three(op, CH_PULL_NONE, 3, VCORE_VMCS_GUEST_RSP);
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        /* The loop's VMWRITE marked GUEST_RSP's row dirty on its way out
         * ("VMWRITE" changed vmcs12); a VMREAD marks nothing. */
        ck_assert(marked_dirty(VCORE_VMCS_GUEST_RSP) == (op == VCORE_NVMX_VMWRITE));
        /* L1 went to CPL 3 before the third exit: #GP(0) for it, seen only
         * from the state fetched again. */
        ck_assert_uint_eq(vcore_mock_count(vcpu, VCORE_MOCK_OP_DELIVER_EXCEPTION), 1);
        ck_assert_uint_eq(regs().rip, L1_RIP + 6);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7000u);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RDI], 0x7100u);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), op == VCORE_NVMX_VMREAD ? 0x8000u : 0x7000u);
        ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &long_mode), VCORE_OK);
    }
}
END_TEST

/* VMREADs and VMWRITEs alternating in one run, RSP an operand of one: each
 * completes (the loop goes from one op to the other). */
START_TEST(loop_alternating_ops)
{
    start(0);
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
    set_gpr(VCORE_X86_RCX, 0x1000);
    set_gpr(VCORE_X86_RSP, VCORE_VMCS_GUEST_RIP);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMWRITE, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSP), 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RBX, VCORE_X86_RSP), 3);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, L1_RIP + 18);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x8000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x8000);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RBX], 0x8000);
    ck_assert_uint_eq(regs().rflags & 0x8d5u, 0);
}
END_TEST

/* DS:[RDI] as the memory operand, the encoding in RDX (64-bit addresses). */
#define MEM_RDI_RDX ((2u << 7) | (3u << 15) | (1u << 22) | ((uint32_t)VCORE_X86_RDI << 23) | (2u << 28))

/* One run whose exits repeat an instruction-information value, then change
 * it: to RSP as the destination, to other registers, to a memory operand,
 * and from VMREAD to VMWRITE with the same value. Each instruction reads
 * and writes its own operands ("VMREAD": the destination is reg1 or the
 * memory operand, the encoding reg2; "VMWRITE": the source is reg1). */
START_TEST(loop_operands_follow_insn_info)
{
    set12(VCORE_VMCS_GUEST_RSP, 0x8000);
    set12(VCORE_VMCS_GUEST_RIP, 0x401000);
    start(0);
    put(OPND_GPA, 0, 8);
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
    set_gpr(VCORE_X86_RSI, VCORE_VMCS_GUEST_RIP);
    set_gpr(VCORE_X86_RDI, OPND_GPA);
    set_gpr(VCORE_X86_RSP, 0x5000);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RSP, VCORE_X86_RSI), 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RBX, VCORE_X86_RSI), 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RBX, VCORE_X86_RSI), 3);
    push_insn(VCORE_NVMX_VMREAD, MEM_RDI_RDX, 4);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RCX, VCORE_X86_RSI), 3);
    push_insn(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RCX, VCORE_X86_RDX), 3);
    push_insn(VCORE_NVMX_VMREAD, REGS_OF(VCORE_X86_RCX, VCORE_X86_RDX), 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    vcore_x86_regs_t r = regs();
    ck_assert_uint_eq(r.rip, L1_RIP + 8 * 3 + 4);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSP], 0x401000);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RBX], 0x401000);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x401000);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], VCORE_VMCS_GUEST_RSP);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], VCORE_VMCS_GUEST_RIP);
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0);
    uint64_t m = 0;
    ck_assert_int_eq(vcore_vm_read_guest(vm, OPND_GPA, &m, 8), VCORE_OK);
    ck_assert_uint_eq(m, 0x8000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x401000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RIP), 0x401000);
}
END_TEST

/* An exit of another reason after a run of VMREADs whose unused bytes
 * (the vmx_insn member of the union) read like the VMREAD's: the exit's
 * reason decides, and HLT comes back to the caller untouched. */
START_TEST(loop_other_reason_ends_the_run)
{
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        set12(VCORE_VMCS_GUEST_RSP, 0x8000);
        start(0);
        set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
        set_gpr(VCORE_X86_RCX, 0x6000);
        push_insn(op, RCX_RDX, 3);
        push_insn(op, RCX_RDX, 3);
        /* HLT, its union left as the VMX instruction's (op, basic reason,
         * instruction information): the reason alone ends the run. */
        vcore_exit_t h = vcore_test_vmx_exit(op, RCX_RDX, 3);
        h.reason = VCORE_EXIT_HLT;
        ck_assert_int_eq(vcore_mock_push_exit(vcpu, &h), VCORE_OK);
        vcore_exit_t out = run();
        ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(regs().rip, L1_RIP + 6);
        ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], op == VCORE_NVMX_VMREAD ? 0x8000u : 0x6000u);
        ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), op == VCORE_NVMX_VMREAD ? 0x8000u : 0x6000u);
    }
}
END_TEST

/* The same operands (instruction information) with the other op: a VMREAD
 * of a read-only field (VM-exit reason) succeeds, the VMWRITE that follows
 * with the same registers is VMfailValid(13) ("VMWRITE"; no "VMWRITE to any
 * supported field"), not a second VMREAD. */
START_TEST(loop_same_operands_other_op)
{
    restart_without_vmwrite_any();
    set12(VCORE_VMCS_VM_EXIT_REASON, 0x12);
    start(0);
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_VM_EXIT_REASON);
    set_gpr(VCORE_X86_RCX, 0x5a5a);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMWRITE, RCX_RDX, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(regs().rip, L1_RIP + 6);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x12);
    ck_assert_uint_eq(regs().rflags & 0x8d5u, 0x40u); /* ZF: VMfailValid */
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_INSTRUCTION_ERROR), 13);
    ck_assert_uint_eq(get12(VCORE_VMCS_VM_EXIT_REASON), 0x12);
}
END_TEST

/* A processor reports the op's own basic exit reason; an exit whose basic
 * reason is another one (or none, as a backend that leaves it 0) is still
 * the op's instruction: completed by the general step with the same
 * outcome. */
START_TEST(basic_reason_not_the_ops)
{
    static const uint32_t basic[] = {0, VCORE_VMX_EXIT_VMREAD, VCORE_VMX_EXIT_VMWRITE};
    for (uint32_t op = VCORE_NVMX_VMREAD; op <= VCORE_NVMX_VMWRITE; op++) {
        for (size_t b = 0; b < sizeof(basic) / sizeof(basic[0]); b++) {
            set12(VCORE_VMCS_GUEST_RSP, 0x8000);
            start(0);
            set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
            set_gpr(VCORE_X86_RCX, 0x6000);
            for (int i = 0; i < 2; i++) {
                vcore_exit_t e = vcore_test_vmx_exit(op, RCX_RDX, 3);
                e.u.vmx_insn.basic_reason = basic[b];
                ck_assert_int_eq(vcore_mock_push_exit(vcpu, &e), VCORE_OK);
            }
            push_hlt();
            ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
            ck_assert_uint_eq(regs().rip, L1_RIP + 6);
            ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], op == VCORE_NVMX_VMREAD ? 0x8000u : 0x6000u);
            ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), op == VCORE_NVMX_VMREAD ? 0x8000u : 0x6000u);
        }
    }
}
END_TEST

/* A backend that runs with vcpu_run_sync but does not hold every group the
 * fast path reads (here IA32_EFER, kept by the model alone): what it is
 * asked to load or bring back names only groups it holds (backend.h), and
 * the instructions complete as on any other backend. */
static uint32_t partial_bad; /* groups asked for that the backend does not hold */

static int partial_run_sync(vcore_vcpu_t *v, void *priv, const vcore_vcpu_state_t *state, uint32_t push,
                            uint32_t *pull, vcore_exit_t *exit)
{
    partial_bad |= (push | *pull) & ~between.state_groups;
    return vcore_backend_mock()->vcpu_run_sync(v, priv, state, push, pull, exit);
}

static void setup_partial(void)
{
    between = *vcore_backend_mock();
    between.state_groups &= ~VCORE_X86_STATE_EFER;
    between.vcpu_run_sync = partial_run_sync;
    nested_fixture_backend = &between;
    partial_bad = 0;
    setup_with(NULL);
}

START_TEST(partial_backend_asked_for_held_groups_only)
{
    set12(VCORE_VMCS_GUEST_RSP, 0x8000);
    start(0);
    set_gpr(VCORE_X86_RDX, VCORE_VMCS_GUEST_RSP);
    set_gpr(VCORE_X86_RBX, 0x7000);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RBX, VCORE_X86_RDX), 3);
    push_insn(VCORE_NVMX_VMWRITE, REGS_OF(VCORE_X86_RBX, VCORE_X86_RDX), 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(partial_bad, 0);
    ck_assert_uint_eq(regs().rip, L1_RIP + 12);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x8000);
    ck_assert_uint_eq(get12(VCORE_VMCS_GUEST_RSP), 0x7000);
    /* Outside 64-bit mode (the model's IA32_EFER): 32-bit operands. */
    vcore_x86_sregs_t sr = sregs();
    sr.efer = 0;
    sr.seg[VCORE_X86_CS].ar = 0xc09b;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    set_gpr(VCORE_X86_RDX, 0xabcd000000000000ull | VCORE_VMCS_GUEST_RSP);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_insn(VCORE_NVMX_VMREAD, RCX_RDX, 3);
    push_hlt();
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(partial_bad, 0);
    ck_assert_uint_eq(regs().gpr[VCORE_X86_RCX], 0x7000);
    ck_assert_uint_eq(regs().rip, L1_RIP + 18);
}
END_TEST

static Suite *fast_suite(void)
{
    Suite *s = suite_create("nested_fast");
    TCase *t = tcase_create("fast");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, vmread_64bit_mode);
    tcase_add_test(t, cpl3_is_gp0);
    tcase_add_test(t, operand_size_32);
    tcase_add_test(t, field_64_into_32bit_register);
    tcase_add_test(t, tf_single_step_trap);
    tcase_add_test(t, movss_blocking_ended);
    tcase_add_test(t, vmwrite_read_only_is_vmfail_13);
    tcase_add_test(t, unsupported_encoding_is_vmfail_12);
    tcase_add_test(t, rsp_operand);
    tcase_add_test(t, every_shadowed_field_both_paths);
    tcase_add_test(t, fast_rw_every_encoding);
    tcase_add_test(t, consecutive_vmreads_in_one_step);
    tcase_add_test(t, run_loop_takes_the_fast_path);
    tcase_add_test(t, combined_op_matches_fallback);
    tcase_add_test(t, dirty_group_pushed_once);
    tcase_add_test(t, unpulled_group_fetched_lazily);
    suite_add_tcase(s, t);
    /* The same cases on the mock without vcpu_run_sync. */
    TCase *f = tcase_create("fallback");
    tcase_add_checked_fixture(f, setup_fallback, teardown);
    tcase_add_test(f, vmread_64bit_mode);
    tcase_add_test(f, cpl3_is_gp0);
    tcase_add_test(f, operand_size_32);
    tcase_add_test(f, field_64_into_32bit_register);
    tcase_add_test(f, tf_single_step_trap);
    tcase_add_test(f, movss_blocking_ended);
    tcase_add_test(f, vmwrite_read_only_is_vmfail_13);
    tcase_add_test(f, unsupported_encoding_is_vmfail_12);
    tcase_add_test(f, rsp_operand);
    tcase_add_test(f, every_shadowed_field_both_paths);
    tcase_add_test(f, consecutive_vmreads_in_one_step);
    tcase_add_test(f, run_loop_takes_the_fast_path);
    tcase_add_test(f, dirty_group_pushed_once);
    tcase_add_test(f, unpulled_group_fetched_lazily);
    suite_add_tcase(s, f);
    /* The loops per op, with L1's state changing between exits, on both
     * runner kinds. */
    for (int fb = 0; fb < 2; fb++) {
        TCase *l = tcase_create(fb ? "loop_fallback" : "loop");
        tcase_add_checked_fixture(l, fb ? setup_between_fallback : setup_between_sync, teardown);
        tcase_add_test(l, loop_unchanged_64bit);
        tcase_add_test(l, loop_mode_change_to_32bit);
        tcase_add_test(l, loop_mode_change_to_cpl3);
        tcase_add_test(l, loop_tf_set_between);
        tcase_add_test(l, loop_movss_between);
        tcase_add_test(l, loop_run_fails);
        tcase_add_test(l, loop_pull_incomplete);
        tcase_add_test(l, loop_alternating_ops);
        tcase_add_test(l, loop_operands_follow_insn_info);
        tcase_add_test(l, loop_other_reason_ends_the_run);
        tcase_add_test(l, loop_same_operands_other_op);
        tcase_add_test(l, basic_reason_not_the_ops);
        suite_add_tcase(s, l);
    }
    TCase *p = tcase_create("partial");
    tcase_add_checked_fixture(p, setup_partial, teardown);
    tcase_add_test(p, partial_backend_asked_for_held_groups_only);
    suite_add_tcase(s, p);
    return s;
}

int main(void)
{
    (void)push_l2_exit; /* a fixture helper these cases do not need */
    return vcore_test_run(fast_suite());
}
