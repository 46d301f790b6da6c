/* /dev/kvm: register classes through KVM, RESET vs. a fresh KVM vCPU, bad values. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backend-kvm/kvm_priv.h"
#include "kvm_support.h"

KT_GUEST(g_hlt, "hlt");

/* Calls the backend's own get/set ops, bypassing the core's cache. */
static void op_get(vcore_vcpu_t *vcpu, vcore_x86_state_t *st, uint32_t classes)
{
    const vcore_backend_t *be = vcore_vcpu_backend(vcpu);
    vcore_vcpu_state_t t = {.arch = VCORE_ARCH_X86_64, .u.x86 = st};
    ck_assert_int_eq(be->vcpu_get_state(vcpu, vcore_vcpu_backend_priv(vcpu), &t, classes), VCORE_OK);
}

static void op_set(vcore_vcpu_t *vcpu, const vcore_x86_state_t *st, uint32_t classes)
{
    const vcore_backend_t *be = vcore_vcpu_backend(vcpu);
    vcore_vcpu_state_t t = {.arch = VCORE_ARCH_X86_64, .u.x86 = (vcore_x86_state_t *)(uintptr_t)st};
    ck_assert_int_eq(be->vcpu_set_state(vcpu, vcore_vcpu_backend_priv(vcpu), &t, classes), VCORE_OK);
}

/* A state unlike RESET in every field KVM keeps, valid for KVM to accept. */
static void sample_state(vcore_x86_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->regs.size = sizeof st->regs;
    for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
        st->regs.gpr[i] = 0x0101010101010101ull * (i + 1);
    st->regs.rip = 0x1234;
    st->regs.rflags = 0x2 | 0x1 | 0x40 | 0x800; /* fixed bit 1, CF, ZF, OF */

    st->sregs.size = sizeof st->sregs;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        vcore_x86_segment_t *s = &st->sregs.seg[i];
        s->selector = (uint16_t)(0x10 + 8 * i);
        s->base = 0x100000ull * (i + 1);
        s->limit = 0xfffff;
        /* data read/write accessed, S, P, DB, G, AVL */
        s->ar = 0x3u | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_DB | VCORE_X86_AR_G |
                VCORE_X86_AR_AVL;
    }
    st->sregs.seg[VCORE_X86_CS].ar = 0xbu | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_DB |
                                     VCORE_X86_AR_G; /* code execute/read accessed */
    st->sregs.seg[VCORE_X86_LDTR].ar = 0x2u | VCORE_X86_AR_P;             /* LDT */
    st->sregs.seg[VCORE_X86_LDTR].limit = 0xff;
    st->sregs.seg[VCORE_X86_TR].ar = 0xbu | VCORE_X86_AR_P;               /* busy 32-bit TSS */
    st->sregs.seg[VCORE_X86_TR].limit = 0x67;
    st->sregs.gdtr.base = 0x1000;
    st->sregs.gdtr.limit = 0x7f;
    st->sregs.idtr.base = 0x2000;
    st->sregs.idtr.limit = 0x3ff;
    st->sregs.cr0 = 0x11 | (1u << 5);          /* PE, ET, NE */
    st->sregs.cr2 = 0xdeadb000;
    st->sregs.cr3 = 0x5000;
    st->sregs.cr4 = (1u << 9) | (1u << 10);    /* OSFXSR, OSXMMEXCPT */
    st->sregs.cr8 = 5;
    st->sregs.efer = 1;                        /* SCE */

    st->dregs.size = sizeof st->dregs;
    st->dregs.dr[0] = 0x1000;
    st->dregs.dr[1] = 0x2000;
    st->dregs.dr[2] = 0x3000;
    st->dregs.dr[3] = 0x4000;
    st->dregs.dr6 = 0xffff0ff1;                /* B0 */
    st->dregs.dr7 = 0x401;                     /* L0 */

    st->fpu.size = sizeof st->fpu;
    st->fpu.fcw = 0x027f;                      /* precision 53-bit */
    st->fpu.fsw = 0x3800;                      /* TOP = 7 */
    st->fpu.ftw = 0x7fff;                      /* R7 holds zero, the rest empty */
    st->fpu.fop = 0x123;
    st->fpu.mxcsr = 0x1f81;                    /* masks + IE flag */

    st->xcr0 = 0x3;                            /* x87 | SSE */

    st->msrs.apic_base = VCORE_APIC_BASE_DEFAULT | VCORE_APIC_BASE_EN | VCORE_APIC_BASE_BSP;
    st->msrs.pat = 0x0006040600060406ull;
    st->msrs.sysenter_cs = 0x10;
    st->msrs.sysenter_esp = 0xffff800000001000ull;
    st->msrs.sysenter_eip = 0xffff800000002000ull;
    st->msrs.star = 0x0023001000000000ull;
    st->msrs.lstar = 0xffff800000003000ull;
    st->msrs.cstar = 0xffff800000004000ull;
    st->msrs.sfmask = 0x47700;
    st->msrs.kernel_gs_base = 0xffff800000005000ull;
    /* Far from the running TSC: KVM treats a host write within about a
     * second of the expected value as "synchronize with the other vCPUs"
     * and keeps the VM's TSC instead (Linux kvm_synchronize_tsc). */
    st->msrs.tsc = 0x100000000000ull;
    st->msrs.misc_enable = 0x1801;
    st->msrs.smbase = 0x30000;
    st->msrs.tsc_aux = 7;

    /* A #GP whose delivery started, MOV-SS blocking (KVM on AMD reports
     * its one shadow bit as MOV SS too), an NMI latched behind a running
     * NMI handler. */
    st->events.size = sizeof st->events;
    st->events.exception_injected = 1;
    st->events.exception_vector = 13;
    st->events.exception_has_error_code = 1;
    st->events.exception_error_code = 0x18;
    st->events.movss_blocking = 1;
    st->events.nmi_pending = 1;
    st->events.nmi_masked = 1;
}

static kt_env_t env;

static void setup(void)
{
    kt_up(&env);
    /* XCR0 beyond x87 needs a CPUID table that enumerates it. */
    static vcore_cpuid_entry_t t[VCORE_CPUID_MAX_ENTRIES];
    uint32_t n = kt_host_cpuid(t, VCORE_CPUID_MAX_ENTRIES);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(env.vcpu, t, n), VCORE_OK);
}

static void teardown(void)
{
    kt_down(&env);
}

START_TEST(roundtrip_each_class)
{
    static const uint32_t classes[] = {VCORE_X86_STATE_REGS,  VCORE_X86_STATE_SREGS,
                                       VCORE_X86_STATE_DREGS, VCORE_X86_STATE_FPU,
                                       VCORE_X86_STATE_XCR0,  VCORE_X86_STATE_MSRS,
                                       VCORE_X86_STATE_TSC,   VCORE_X86_STATE_EVENTS};
    vcore_x86_state_t in, out;
    sample_state(&in);
    for (unsigned c = 0; c < sizeof classes / sizeof classes[0]; c++) {
        op_set(env.vcpu, &in, classes[c]);
        memset(&out, 0xcc, sizeof out);
        /* The size fields are the caller's (the core's), not the backend's. */
        out.regs.size = in.regs.size;
        out.dregs.size = in.dregs.size;
        out.events.size = in.events.size;
        op_get(env.vcpu, &out, classes[c]);
        switch (classes[c]) {
        case VCORE_X86_STATE_REGS:
            ck_assert_mem_eq(&out.regs, &in.regs, sizeof in.regs);
            break;
        case VCORE_X86_STATE_SREGS:
            for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
                ck_assert_uint_eq(out.sregs.seg[i].selector, in.sregs.seg[i].selector);
                ck_assert_uint_eq(out.sregs.seg[i].base, in.sregs.seg[i].base);
                ck_assert_uint_eq(out.sregs.seg[i].limit, in.sregs.seg[i].limit);
                ck_assert_msg(out.sregs.seg[i].ar == in.sregs.seg[i].ar, "seg %u ar %#x != %#x", i,
                              out.sregs.seg[i].ar, in.sregs.seg[i].ar);
            }
            ck_assert_uint_eq(out.sregs.gdtr.base, in.sregs.gdtr.base);
            ck_assert_uint_eq(out.sregs.gdtr.limit, in.sregs.gdtr.limit);
            ck_assert_uint_eq(out.sregs.idtr.base, in.sregs.idtr.base);
            ck_assert_uint_eq(out.sregs.idtr.limit, in.sregs.idtr.limit);
            ck_assert_uint_eq(out.sregs.cr0, in.sregs.cr0);
            ck_assert_uint_eq(out.sregs.cr2, in.sregs.cr2);
            ck_assert_uint_eq(out.sregs.cr3, in.sregs.cr3);
            ck_assert_uint_eq(out.sregs.cr4, in.sregs.cr4);
            ck_assert_uint_eq(out.sregs.cr8, in.sregs.cr8);
            ck_assert_uint_eq(out.sregs.efer, in.sregs.efer);
            break;
        case VCORE_X86_STATE_DREGS:
            ck_assert_mem_eq(&out.dregs, &in.dregs, sizeof in.dregs);
            break;
        case VCORE_X86_STATE_FPU:
            ck_assert_uint_eq(out.fpu.fcw, in.fpu.fcw);
            ck_assert_uint_eq(out.fpu.fsw, in.fpu.fsw);
            ck_assert_uint_eq(out.fpu.ftw, in.fpu.ftw);
            ck_assert_uint_eq(out.fpu.fop, in.fpu.fop);
            ck_assert_uint_eq(out.fpu.mxcsr, in.fpu.mxcsr);
            /* MXCSR_MASK is read-only CPU data: whatever KVM's FXSAVE image holds. */
            ck_assert_uint_ne(out.fpu.mxcsr_mask, 0);
            break;
        case VCORE_X86_STATE_XCR0:
            ck_assert_uint_eq(out.xcr0, in.xcr0);
            break;
        case VCORE_X86_STATE_EVENTS:
            ck_assert_mem_eq(&out.events, &in.events, sizeof in.events);
            break;
        case VCORE_X86_STATE_TSC: {
            /* The TSC: KVM takes a host write and keeps counting from it;
             * kvm_pvm ignores host writes to the TSC and reports its
             * running counter (the host's, whatever its value), which
             * must then be a live one. */
            ck_assert_uint_ne(out.msrs.tsc, 0xccccccccccccccccull);
            ck_assert_uint_ne(out.msrs.tsc, 0);
            if (!kt_kvm_pvm()) {
                ck_assert_uint_ge(out.msrs.tsc, in.msrs.tsc);
                ck_assert_uint_lt(out.msrs.tsc, in.msrs.tsc + 100000000000ull);
                break;
            }
            vcore_x86_state_t again;
            for (volatile unsigned spin = 0; spin < 100000u; spin++)
                ;
            op_get(env.vcpu, &again, VCORE_X86_STATE_TSC);
            ck_assert_uint_gt(again.msrs.tsc, out.msrs.tsc);
            break;
        }
        case VCORE_X86_STATE_MSRS: {
            vcore_kvm_vcpu_t *kv = vcore_vcpu_backend_priv(env.vcpu);
            ck_assert_uint_eq(out.msrs.apic_base, in.msrs.apic_base);
            ck_assert_uint_eq(out.msrs.pat, in.msrs.pat);
            ck_assert_uint_eq(out.msrs.sysenter_cs, in.msrs.sysenter_cs);
            ck_assert_uint_eq(out.msrs.sysenter_esp, in.msrs.sysenter_esp);
            ck_assert_uint_eq(out.msrs.sysenter_eip, in.msrs.sysenter_eip);
            ck_assert_uint_eq(out.msrs.star, in.msrs.star);
            ck_assert_uint_eq(out.msrs.lstar, in.msrs.lstar);
            ck_assert_uint_eq(out.msrs.cstar, in.msrs.cstar);
            ck_assert_uint_eq(out.msrs.sfmask, in.msrs.sfmask);
            ck_assert_uint_eq(out.msrs.kernel_gs_base, in.msrs.kernel_gs_base);
            /* The TSC is a group of its own (above): not read with these. */
            ck_assert_uint_eq(out.msrs.tsc, 0xccccccccccccccccull);
            ck_assert_uint_eq(out.msrs.misc_enable, in.msrs.misc_enable);
            ck_assert_uint_eq(out.msrs.tsc_aux, in.msrs.tsc_aux);
            /* SMBASE: this kernel has no SMM and does not implement the MSR
             * (probed at vcpu_init); the value stays the model's. */
            if (kv->msr_absent == 0)
                ck_assert_uint_eq(out.msrs.smbase, in.msrs.smbase);
            else
                ck_assert_uint_eq(out.msrs.smbase, 0xccccccccccccccccull);
            break;
        }
        }
    }
}
END_TEST

START_TEST(roundtrip_public_api_across_run)
{
    /* Write every class through the public API, run a guest (which makes
     * every class stale in the core), read back from KVM. */
    kt_load(&env, g_hlt_start, g_hlt_end);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
        r.gpr[i] = 0xa5a5a5a500000000ull | i;
    r.rflags = 0x2 | 0x1;
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_OK);
    vcore_x86_dregs_t d = {.size = sizeof d};
    ck_assert_int_eq(vcore_vcpu_get_dregs(env.vcpu, &d), VCORE_OK);
    d.dr[2] = 0x7000;
    d.dr7 = 0x400 | (1u << 4); /* L2 */
    ck_assert_int_eq(vcore_vcpu_set_dregs(env.vcpu, &d), VCORE_OK);
    vcore_x86_fpu_t f = {.size = sizeof f};
    ck_assert_int_eq(vcore_vcpu_get_fpu(env.vcpu, &f), VCORE_OK);
    f.fcw = 0x037b;
    f.mxcsr = 0x9f80; /* FZ */
    ck_assert_int_eq(vcore_vcpu_set_fpu(env.vcpu, &f), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(env.vcpu, VCORE_MSR_IA32_LSTAR, 0xffffffff81000000ull),
                     VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(env.vcpu, VCORE_MSR_IA32_PAT, 0x0707070707070707ull),
                     VCORE_OK);
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    s.cr4 |= 1u << 18; /* OSXSAVE, so XCR0 may enable SSE */
    s.cr2 = 0x4242000;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &s), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_xcr(env.vcpu, 0, 3), VCORE_OK);

    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);

    vcore_x86_regs_t r2 = {.size = sizeof r2};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r2), VCORE_OK);
    ck_assert_mem_eq(r2.gpr, r.gpr, sizeof r.gpr);
    ck_assert_uint_eq(r2.rip, 1); /* after the 1-byte HLT */
    ck_assert_uint_eq(r2.rflags, r.rflags);
    vcore_x86_dregs_t d2 = {.size = sizeof d2};
    ck_assert_int_eq(vcore_vcpu_get_dregs(env.vcpu, &d2), VCORE_OK);
    ck_assert_uint_eq(d2.dr[2], 0x7000);
    ck_assert_uint_eq(d2.dr7, d.dr7);
    vcore_x86_fpu_t f2 = {.size = sizeof f2};
    ck_assert_int_eq(vcore_vcpu_get_fpu(env.vcpu, &f2), VCORE_OK);
    ck_assert_uint_eq(f2.fcw, 0x037b);
    ck_assert_uint_eq(f2.mxcsr, 0x9f80);
    ck_assert_uint_eq(f2.ftw, 0xffff);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(env.vcpu, VCORE_MSR_IA32_LSTAR, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffff81000000ull);
    ck_assert_int_eq(vcore_vcpu_get_msr(env.vcpu, VCORE_MSR_IA32_PAT, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x0707070707070707ull);
    ck_assert_int_eq(vcore_vcpu_get_xcr(env.vcpu, 0, &v), VCORE_OK);
    ck_assert_uint_eq(v, 3);
    vcore_x86_sregs_t s2 = {.size = sizeof s2};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s2), VCORE_OK);
    ck_assert_uint_eq(s2.cr2, 0x4242000);
    ck_assert(s2.cr4 & (1u << 18));
    ck_assert_uint_eq(s2.seg[VCORE_X86_CS].base, 0xffff0000ull);
}
END_TEST

START_TEST(bad_values_refused_vm_keeps_working)
{
    vcore_x86_sregs_t s = {.size = sizeof s};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &s), VCORE_OK);
    vcore_x86_sregs_t bad = s;
    bad.cr0 = 0x80000011; /* PG without PE... PE is set: make PE clear */
    bad.cr0 = 0x80000010;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &bad), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_CR0_PG_WITHOUT_PE);
    bad = s;
    bad.cr4 = 1ull << 40;
    ck_assert_int_eq(vcore_vcpu_set_sregs(env.vcpu, &bad), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_CR4_RESERVED);
    vcore_x86_regs_t r = {.size = sizeof r};
    ck_assert_int_eq(vcore_vcpu_get_regs(env.vcpu, &r), VCORE_OK);
    r.rflags = 0; /* bit 1 must be 1 */
    ck_assert_int_eq(vcore_vcpu_set_regs(env.vcpu, &r), VCORE_ERR_INVAL);
    ck_assert_diag(env.vcpu, VCORE_DIAG_RFLAGS_RESERVED);
    ck_assert_int_eq(vcore_vcpu_set_msr(env.vcpu, VCORE_MSR_IA32_PAT, 0x0202020202020202ull),
                     VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vcpu_set_msr(env.vcpu, 0x12345678, 0), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vcpu_set_xcr(env.vcpu, 0, 0x2), VCORE_ERR_INVAL); /* SSE without x87 */
    ck_assert_int_eq(vcore_vcpu_set_xcr(env.vcpu, 1, 0x1), VCORE_ERR_NOENT);
    vcore_x86_dregs_t d = {.size = sizeof d};
    ck_assert_int_eq(vcore_vcpu_get_dregs(env.vcpu, &d), VCORE_OK);
    d.dr7 = 1ull << 40;
    ck_assert_int_eq(vcore_vcpu_set_dregs(env.vcpu, &d), VCORE_ERR_INVAL);
    vcore_x86_fpu_t f = {.size = sizeof f};
    ck_assert_int_eq(vcore_vcpu_get_fpu(env.vcpu, &f), VCORE_OK);
    f.mxcsr = 0xffffffff;
    ck_assert_int_eq(vcore_vcpu_set_fpu(env.vcpu, &f), VCORE_ERR_INVAL);
    /* None of it reached KVM: the vCPU still runs from where it was. */
    kt_load(&env, g_hlt_start, g_hlt_end);
    vcore_exit_t ex = {.size = sizeof ex};
    kt_run_expect(&env, &ex, VCORE_EXIT_HLT);
    vcore_x86_sregs_t after = {.size = sizeof after};
    ck_assert_int_eq(vcore_vcpu_get_sregs(env.vcpu, &after), VCORE_OK);
    ck_assert_uint_eq(after.cr0, s.cr0);
    ck_assert_uint_eq(after.cr4, s.cr4);
}
END_TEST

/*
 * The core's RESET state against what KVM reports for a vCPU it has just
 * created (before the core's RESET is written to it). Observed on this
 * machine (kvm_pvm on an AMD EPYC host, default vendor Intel in the core):
 * everything matches exactly except
 *   - IA32_MISC_ENABLE: core 1800H, this kernel 1 (explained below);
 * and these are not compared, on purpose:
 *   - IA32_TIME_STAMP_COUNTER: a running counter (core 0, KVM whatever the
 *     host counter says); KVM treats the core's write of 0 as "synchronise
 *     with the VM's other vCPUs";
 *   - SMBASE: this kernel has no SMM and does not implement the MSR, so the
 *     core's 30000H stays in the model only (see kvm_state.c);
 *   - MXCSR_MASK: read-only CPU data; the core's model says FFFFH, KVM's
 *     image holds the host CPU's mask (e.g. 2FFFFH with misaligned SSE).
 */
START_TEST(reset_matches_fresh_kvm_vcpu)
{
    vcore_vm_config_t cfg;
    vcore_vm_t *vm = NULL;
    vcore_vcpu_t *vcpu = NULL;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_kvm();
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    const vcore_x86_state_t *core = vcore_vcpu_model(vcpu)->u.x86;
    vcore_x86_state_t kvm;
    memset(&kvm, 0, sizeof kvm);
    /* Nothing has been written to KVM yet: the core's RESET is pending
     * (every class dirty) until the first run. */
    op_get(vcpu, &kvm, VCORE_X86_STATE_ALL);

    /* GPRs, RIP, RFLAGS: identical (RDX = 600H without a CPUID table). */
    ck_assert_mem_eq(kvm.regs.gpr, core->regs.gpr, sizeof kvm.regs.gpr);
    ck_assert_uint_eq(kvm.regs.rip, core->regs.rip);
    ck_assert_uint_eq(kvm.regs.rflags, core->regs.rflags);

    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        const vcore_x86_segment_t *k = &kvm.sregs.seg[i], *c = &core->sregs.seg[i];
        ck_assert_uint_eq(k->selector, c->selector);
        ck_assert_uint_eq(k->base, c->base);
        ck_assert_uint_eq(k->limit, c->limit);
        /* Access rights agree too: CS 9BH, data 93H, LDTR 82H, TR 8BH
         * (busy 32-bit TSS). The core uses other encodings for an AMD
         * vendor (9AH/92H/83H, APM "Processor Initialization State"); KVM
         * uses the same values on both vendors. */
        ck_assert_msg(k->ar == c->ar, "seg %u: kvm ar %#x core ar %#x", i, k->ar, c->ar);
    }
    ck_assert_uint_eq(kvm.sregs.gdtr.base, core->sregs.gdtr.base);
    ck_assert_uint_eq(kvm.sregs.gdtr.limit, core->sregs.gdtr.limit);
    ck_assert_uint_eq(kvm.sregs.idtr.base, core->sregs.idtr.base);
    ck_assert_uint_eq(kvm.sregs.idtr.limit, core->sregs.idtr.limit);
    ck_assert_uint_eq(kvm.sregs.cr0, core->sregs.cr0);
    ck_assert_uint_eq(kvm.sregs.cr2, core->sregs.cr2);
    ck_assert_uint_eq(kvm.sregs.cr3, core->sregs.cr3);
    ck_assert_uint_eq(kvm.sregs.cr4, core->sregs.cr4);
    ck_assert_uint_eq(kvm.sregs.cr8, core->sregs.cr8);
    ck_assert_uint_eq(kvm.sregs.efer, core->sregs.efer);

    ck_assert_mem_eq(kvm.dregs.dr, core->dregs.dr, sizeof kvm.dregs.dr);
    ck_assert_uint_eq(kvm.dregs.dr6, core->dregs.dr6);
    ck_assert_uint_eq(kvm.dregs.dr7, core->dregs.dr7);

    ck_assert_uint_eq(kvm.fpu.fcw, core->fpu.fcw);
    ck_assert_uint_eq(kvm.fpu.fsw, core->fpu.fsw);
    ck_assert_uint_eq(kvm.fpu.ftw, core->fpu.ftw);
    ck_assert_uint_eq(kvm.fpu.fop, core->fpu.fop);
    ck_assert_uint_eq(kvm.fpu.mxcsr, core->fpu.mxcsr);
    ck_assert_uint_eq(kvm.xcr0, core->xcr0);

    ck_assert_uint_eq(kvm.msrs.apic_base, core->msrs.apic_base);
    ck_assert_uint_eq(kvm.msrs.pat, core->msrs.pat);
    /* Difference: IA32_MISC_ENABLE. The core RESETs it to BTS_UNAVAIL |
     * PEBS_UNAVAIL (1800H): the model has no branch-trace store or PEBS
     * and says so, as upstream KVM does. This machine's kernel (kvm_pvm)
     * reports FAST_STRINGS (bit 0) only. The core's value is the one
     * written to KVM before the first run, so the guest sees 1800H. */
    ck_assert_uint_eq(core->msrs.misc_enable, 0x1800);
    ck_assert(kvm.msrs.misc_enable == 0x1800 || kvm.msrs.misc_enable == 0x1);
    ck_assert_uint_eq(kvm.msrs.sysenter_cs, core->msrs.sysenter_cs);
    ck_assert_uint_eq(kvm.msrs.star, core->msrs.star);
    ck_assert_uint_eq(kvm.msrs.lstar, core->msrs.lstar);
    ck_assert_uint_eq(kvm.msrs.tsc_aux, core->msrs.tsc_aux);
    ck_assert_uint_eq(kvm.msrs.sysenter_esp, core->msrs.sysenter_esp);
    ck_assert_uint_eq(kvm.msrs.sysenter_eip, core->msrs.sysenter_eip);
    ck_assert_uint_eq(kvm.msrs.cstar, core->msrs.cstar);
    ck_assert_uint_eq(kvm.msrs.sfmask, core->msrs.sfmask);
    ck_assert_uint_eq(kvm.msrs.kernel_gs_base, core->msrs.kernel_gs_base);

    /* Events: nothing pending or being delivered, no blocking, NMIs not
     * masked, on both sides. */
    ck_assert_mem_eq(&kvm.events, &core->events, sizeof kvm.events);

    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
}
END_TEST

START_TEST(ftw_conversion)
{
    uint8_t fpr[8][16];
    memset(fpr, 0, sizeof fpr);
    /* All empty <-> abridged 0. */
    ck_assert_uint_eq(vcore__kvm_ftw_from_abridged(0, 0, (const uint8_t(*)[16])fpr), 0xffff);
    ck_assert_uint_eq(vcore__kvm_ftw_to_abridged(0xffff), 0);
    /* TOP = 6: ST(0) is R6, ST(1) is R7. ST(0) = 1.0 (valid), ST(1) = 0 (zero). */
    fpr[0][7] = 0x80; /* J bit */
    fpr[0][8] = 0xff;
    fpr[0][9] = 0x3f; /* exponent 3FFFH */
    uint16_t fsw = 6u << 11;
    uint16_t ftw = vcore__kvm_ftw_from_abridged(0xc0, fsw, (const uint8_t(*)[16])fpr);
    ck_assert_uint_eq(ftw, 0x4fff); /* R7 = 01 (zero), R6 = 00 (valid), R0-R5 empty */
    ck_assert_uint_eq(vcore__kvm_ftw_to_abridged(ftw), 0xc0);
    /* Special: infinity (exponent 7FFFH), denormal, unnormal. */
    memset(fpr, 0, sizeof fpr);
    fpr[0][8] = 0xff;
    fpr[0][9] = 0x7f;              /* ST0 = inf/NaN */
    fpr[1][0] = 1;                 /* ST1 = denormal (exp 0, mantissa != 0) */
    fpr[2][8] = 1;                 /* ST2 = unnormal (exp 1, J = 0) */
    ftw = vcore__kvm_ftw_from_abridged(0x07, 0, (const uint8_t(*)[16])fpr);
    ck_assert_uint_eq(ftw, 0xffea); /* R0..R2 = 10, the rest 11 */
}
END_TEST

int main(void)
{
    kt_require_kvm();
    Suite *s = suite_create("kvm_regs");
    TCase *tc = tcase_create("regs");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, roundtrip_each_class);
    tcase_add_test(tc, roundtrip_public_api_across_run);
    tcase_add_test(tc, bad_values_refused_vm_keeps_working);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("reset");
    tcase_add_test(tr, reset_matches_fresh_kvm_vcpu);
    tcase_add_test(tr, ftw_conversion);
    suite_add_tcase(s, tr);
    return kt_run_suite(s);
}
