/*
 * test_hyperv.c - the Hyper-V enlightenments on the mock backend, with
 * register-level expectations: the guest's registers go in through the
 * vCPU API, the mock reports a VMCALL exit (3 bytes), and the result is
 * read back from RAX (EDX:EAX), RIP, the event the mock delivered, the
 * target vCPUs' pending vectors and the flushes the mock performed.
 *
 * Expected values come from the Hyper-V TLFS: "Hypercall Interface"
 * (inputs, outputs, statuses, legal environments, alignment, XMM fast
 * input, guest OS identity, hypercall page), "Feature and Interface
 * Discovery", "HV_VP_SET", "HvCallSendSyntheticClusterIpi(Ex)",
 * "HvCallFlushVirtualAddressSpace/List(Ex)", "Virtual Processor
 * Properties", and from the SDM for VMCALL/VMMCALL encodings
 * (0F 01 C1 / 0F 01 D9) and RET (C3).
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#include <stdlib.h>
#include <string.h>

#include "support.h"

#include "hyperv_fixture.h"

static vcore_cpuid_entry_t leaf(vcore_vcpu_t *c, uint32_t fn)
{
    vcore_cpuid_entry_t e;
    ck_assert_int_eq(vcore_vcpu_cpuid_query(c, fn, 0, &e), VCORE_OK);
    return e;
}

/* ------------------------------------------------------------------ identity */

START_TEST(cpuid_leaves)
{
    vcore_cpuid_entry_t e = leaf(v[0], 0x40000000u);
    ck_assert_uint_eq(e.eax, 0x40000006u);
    char sig[13] = {0};
    memcpy(sig, &e.ebx, 4);
    memcpy(sig + 4, &e.ecx, 4);
    memcpy(sig + 8, &e.edx, 4);
    ck_assert_str_eq(sig, "VirtCore Hv ");
    ck_assert_uint_eq(leaf(v[0], 0x40000001u).eax, 0x31237648u); /* "Hv#1" */
    e = leaf(v[3], 0x40000003u);
    ck_assert_uint_eq(e.eax, (1u << 5) | (1u << 6)); /* AccessHypercallMsrs, AccessVpIndex */
    ck_assert_uint_eq(e.ebx, 0);
    ck_assert_uint_eq(e.edx, (1u << 4) | (1u << 18)); /* XMM input, MSR lock */
    e = leaf(v[3], 0x40000004u);
    ck_assert_uint_eq(e.eax, (1u << 2) | (1u << 10) | (1u << 11));
    ck_assert_uint_eq(e.ebx, 0xffffffffu);
    ck_assert_uint_eq(leaf(v[1], 0x40000005u).eax, NV);
    /* Hypervisor present (CPUID.1:ECX[31]). */
    ck_assert_uint_eq(leaf(v[1], 1).ecx >> 31, 1);
}
END_TEST

START_TEST(cpuid_vmm_leaves_replaced_atomically)
{
    vcore_cpuid_entry_t t[3];
    memset(t, 0, sizeof(t));
    t[0].function = 1;
    t[1].function = 0x40000000u;
    t[1].eax = 0x40000001u;
    t[1].ebx = 0x4b4d564b; /* "KVMK" */
    t[2].function = 0x40000010u;
    t[2].eax = 7;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v[2], t, 3), VCORE_OK);
    vcore_cpuid_entry_t all[VCORE_CPUID_MAX_ENTRIES];
    uint32_t n = 0;
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v[2], all, VCORE_CPUID_MAX_ENTRIES, &n), VCORE_OK);
    ck_assert_uint_eq(n, 1 + 7);
    ck_assert_uint_eq(leaf(v[2], 0x40000000u).eax, 0x40000006u);
    /* A table that leaves no room for the 7 leaves: refused, old table kept. */
    static vcore_cpuid_entry_t big[VCORE_CPUID_MAX_ENTRIES];
    memset(big, 0, sizeof(big));
    for (uint32_t i = 0; i < 250; i++) {
        big[i].function = 0x80000000u + i;
    }
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v[2], big, 250), VCORE_ERR_RANGE);
    ck_assert_diag(v[2], VCORE_DIAG_HV_CPUID_FULL);
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v[2], all, VCORE_CPUID_MAX_ENTRIES, &n), VCORE_OK);
    ck_assert_uint_eq(n, 8);
    /* 249 + 7 = 256 fits exactly; the table's own 40000000H-400000FFH
     * entries make no room problem, they are replaced. */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v[2], big, 249), VCORE_OK);
    big[249].function = 0x40000000u;
    big[250].function = 0x400000ffu;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v[2], big, 251), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_cpuid(v[2], all, VCORE_CPUID_MAX_ENTRIES, &n), VCORE_OK);
    ck_assert_uint_eq(n, 256);
    for (uint32_t i = 0; i < n; i++)
        ck_assert_uint_ne(all[i].function, 0x400000ffu);
}
END_TEST

START_TEST(cpuid_follows_features)
{
    down();
    vcore_hv_config_t cfg;
    vcore_hv_config_init(&cfg);
    cfg.features = VCORE_HV_F_IPI;
    vm_up(&cfg, NULL);
    ck_assert_uint_eq(leaf(v[0], 0x40000004u).eax, 1u << 10);
    ck_assert_uint_eq(leaf(v[0], 0x40000003u).edx & (1u << 4), 0);
    ck_assert_uint_eq(vcore_hv_features(vm), VCORE_HV_F_IPI);
    /* Flush is not offered: the VMM gets the call, decoded. */
    vcore_x86_regs_t r = regs(v[0]);
    r.gpr[VCORE_X86_RCX] = C_FLUSH_SPACE;
    r.gpr[VCORE_X86_RDX] = IN_GPA;
    r.rip = HC_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[0], &r), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.insn_len = VMCALL_LEN;
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HYPERCALL);
    ck_assert(out.flags & VCORE_EXIT_F_HYPERV);
    ck_assert_uint_eq(out.u.hypercall.hv.code, C_FLUSH_SPACE);
    ck_assert_uint_eq(out.u.hypercall.hv.input, IN_GPA);
    /* Ex without F_EX: 0x15 goes to the VMM as well. */
    ck_assert_uint_eq(leaf(v[0], 0x40000004u).eax & (1u << 11), 0);
}
END_TEST

START_TEST(enable_rules)
{
    /* After the first vCPU: too late. */
    ck_assert_int_eq(vcore_hv_enable(vm, NULL), VCORE_ERR_STATE);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_vm_last_diag(vm, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_HV_ENABLE_LATE);
    vcore_vm_config_t vc;
    vcore_vm_config_init(&vc);
    vc.backend = vcore_backend_mock();
    vc.max_vcpus = 2;
    vcore_vm_t *w;
    ck_assert_int_eq(vcore_vm_create(&vc, &w), VCORE_OK);
    vcore_hv_config_t cfg;
    vcore_hv_config_init(&cfg);
    cfg.features = 1u << 4; /* unknown */
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_ERR_INVAL);
    vcore_hv_config_init(&cfg);
    cfg.size = 8;
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_ERR_ABI);
    size_t need = 0;
    ck_assert_int_eq(vcore_hv_storage_size(w, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_hv_storage_size(NULL, &need), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_hv_reset(w), VCORE_ERR_INVAL);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(w), 0);
    ck_assert_uint_eq(vcore_hv_features(NULL), 0);
    ck_assert_int_eq(vcore_hv_storage_size(w, &need), VCORE_OK);
    ck_assert_uint_gt(need, 0);
    void *buf = NULL;
    ck_assert_int_eq(posix_memalign(&buf, 16, need + 16), 0);
    ck_assert_int_eq(vcore_hv_enable_static(w, buf, need - 1, NULL), VCORE_ERR_BUFSZ);
    ck_assert_uint_eq(vcore_hv_features(w), 0);
    ck_assert_int_eq(vcore_hv_enable_static(w, buf, need, NULL), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_features(w), VCORE_HV_F_ALL);
    ck_assert_int_eq(vcore_hv_enable(w, NULL), VCORE_ERR_STATE);
    vcore_vm_destroy(w);
    free(buf);
    /* An arm64 VM has no Hyper-V. */
    vc.arch = VCORE_ARCH_ARM64;
    ck_assert_int_eq(vcore_vm_create(&vc, &w), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(w, NULL), VCORE_ERR_INVAL);
    vcore_vm_destroy(w);
}
END_TEST

/* A backend missing what carries an enlightenment: refused, never dropped. */
START_TEST(enable_needs_backend_support)
{
    static vcore_backend_t be;
    vcore_vm_config_t vc;
    vcore_vm_config_init(&vc);
    vc.max_vcpus = 2;
    vcore_vm_t *w;
    vcore_hv_config_t cfg;
    vcore_hv_config_init(&cfg);
    vcore_diag_t d = {.size = sizeof(d)};

    be = *vcore_backend_mock();
    be.vcpu_flush_tlb = NULL;
    vc.backend = &be;
    ck_assert_int_eq(vcore_vm_create(&vc, &w), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore_vm_last_diag(w, &d), VCORE_OK);
    ck_assert_uint_eq(d.id, VCORE_DIAG_HV_BACKEND_UNSUPPORTED);
    cfg.features = VCORE_HV_F_IPI | VCORE_HV_F_XMM_INPUT;
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_OK);
    vcore_vm_destroy(w);

    be = *vcore_backend_mock();
    be.state_groups = VCORE_X86_STATE_ALL; /* no XMM */
    ck_assert_int_eq(vcore_vm_create(&vc, &w), VCORE_OK);
    cfg.features = VCORE_HV_F_IPI | VCORE_HV_F_XMM_INPUT;
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_ERR_UNSUPPORTED);
    cfg.features = VCORE_HV_F_IPI;
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_OK);
    vcore_vm_destroy(w);

    be = *vcore_backend_mock();
    be.state_groups = VCORE_X86_STATE_ALL & ~VCORE_X86_STATE_EVENTS;
    ck_assert_int_eq(vcore_vm_create(&vc, &w), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_ERR_UNSUPPORTED);
    cfg.features = VCORE_HV_F_TLB_FLUSH;
    ck_assert_int_eq(vcore_hv_enable(w, &cfg), VCORE_OK);
    vcore_vm_destroy(w);

}
END_TEST

/* ------------------------------------------------------------- synthetic MSRs */


START_TEST(msr_guest_os_id_and_hypercall_page)
{
    bool gp;
    ck_assert_int_eq(vcore_hv_reset(vm), VCORE_OK);
    ck_assert_uint_eq(rdmsr(v[1], 0x40000000u, &gp), 0); /* initially zero */
    ck_assert(!gp);
    /* No guest OS identity: the enable bit remains zero. */
    ck_assert(!wrmsr(v[1], 0x40000001u, 0x5000 | 1));
    ck_assert_uint_eq(rdmsr(v[2], 0x40000001u, &gp), 0x5000);
    ck_assert_uint_eq(mem[0x5000], 0);
    ck_assert(!wrmsr(v[1], 0x40000000u, 0x1234567890abcdefull));
    ck_assert_uint_eq(rdmsr(v[5], 0x40000000u, &gp), 0x1234567890abcdefull); /* partition-wide */
    /* RsvdP bits 11:2 read back as written. */
    ck_assert(!wrmsr(v[1], 0x40000001u, 0x5000 | 0xff0 | 1));
    ck_assert_uint_eq(rdmsr(v[2], 0x40000001u, &gp), 0x5ff1);
    static const uint8_t intel[4] = {0x0f, 0x01, 0xc1, 0xc3}; /* VMCALL; RET */
    ck_assert_mem_eq(mem + 0x5000, intel, 4);
    /* Zeroing the identity disables the page. */
    ck_assert(!wrmsr(v[1], 0x40000000u, 0));
    ck_assert_uint_eq(rdmsr(v[2], 0x40000001u, &gp), 0x5ff0);
    /* Beyond the GPA space (MAXPHYADDR 36): #GP, value unchanged. */
    ck_assert(wrmsr(v[1], 0x40000001u, (1ull << 36) | 1));
    ck_assert_diag(v[1], VCORE_DIAG_HV_MSR_HYPERCALL_GPA);
    ck_assert_uint_eq(rdmsr(v[2], 0x40000001u, &gp), 0x5ff0);
    /* A page outside guest memory cannot be filled: #GP. */
    ck_assert(!wrmsr(v[1], 0x40000000u, 1));
    ck_assert(wrmsr(v[1], 0x40000001u, 0x100000 | 1));
    ck_assert_diag(v[1], VCORE_DIAG_HV_MSR_HYPERCALL_PAGE);
}
END_TEST

START_TEST(msr_hypercall_page_amd_and_lock)
{
    cpuid_64bit(v[4], true);
    ck_assert(!wrmsr(v[4], 0x40000001u, 0x6000 | 1 | 2)); /* enable + lock */
    static const uint8_t amd[4] = {0x0f, 0x01, 0xd9, 0xc3}; /* VMMCALL; RET */
    ck_assert_mem_eq(mem + 0x6000, amd, 4);
    bool gp;
    /* Locked: immutable, writes have no effect. */
    ck_assert(!wrmsr(v[1], 0x40000001u, 0x7000 | 1));
    ck_assert_uint_eq(rdmsr(v[1], 0x40000001u, &gp), 0x6003);
    ck_assert_uint_eq(mem[0x7000], 0);
    /* Only a system reset clears it. */
    ck_assert_int_eq(vcore_hv_reset(vm), VCORE_OK);
    ck_assert_uint_eq(rdmsr(v[1], 0x40000001u, &gp), 0);
    ck_assert_uint_eq(rdmsr(v[1], 0x40000000u, &gp), 0);
}
END_TEST

START_TEST(msr_vp_index)
{
    bool gp;
    for (uint32_t i = 0; i < NV; i++)
        ck_assert_uint_eq(rdmsr(v[i], 0x40000002u, &gp), i);
    /* Read-only to the guest. */
    ck_assert(wrmsr(v[3], 0x40000002u, 9));
    ck_assert_diag(v[3], VCORE_DIAG_HV_MSR_VP_INDEX_WRITE);
    ck_assert_uint_eq(rdmsr(v[3], 0x40000002u, &gp), 3);
    /* The VMM sets it. */
    ck_assert_int_eq(vcore_hv_set_msr(v[3], VCORE_HV_MSR_VP_INDEX, 300), VCORE_OK);
    ck_assert_uint_eq(rdmsr(v[3], 0x40000002u, &gp), 300);
    uint64_t val;
    ck_assert_int_eq(vcore_hv_get_msr(v[3], VCORE_HV_MSR_VP_INDEX, &val), VCORE_OK);
    ck_assert_uint_eq(val, 300);
    ck_assert_int_eq(vcore_hv_set_msr(v[3], VCORE_HV_MSR_VP_INDEX, 0xffffffffu), VCORE_ERR_INVAL);
    ck_assert_diag(v[3], VCORE_DIAG_HV_VP_INDEX_INVALID);
    ck_assert_int_eq(vcore_hv_set_msr(v[3], VCORE_HV_MSR_VP_INDEX, 0xfffffffeu), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_hv_set_msr(v[3], VCORE_HV_MSR_VP_INDEX, 0xfffffffdu), VCORE_OK);
    ck_assert_int_eq(vcore_hv_get_msr(v[3], 0x40000003u, &val), VCORE_ERR_NOENT);
    /* Other 4000xxxxH MSRs are the VMM's. */
    vcore_exit_t e = make_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = 0x40000003u;
    ck_assert_int_eq(vcore_mock_push_exit(v[3], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[3], &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_RDMSR);
}
END_TEST

START_TEST(mismatch_count_exact)
{
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 0);
    ck_assert_int_eq(vcore_hv_set_msr(v[1], VCORE_HV_MSR_VP_INDEX, 130), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 1);
    ck_assert_int_eq(vcore_hv_set_msr(v[1], VCORE_HV_MSR_VP_INDEX, 131), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 1);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 1), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 2);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 2), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 1);
    ck_assert_int_eq(vcore_hv_set_msr(v[1], VCORE_HV_MSR_VP_INDEX, 1), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 0);
    /* A vCPU leaving with a mismatched index leaves the count exact. */
    ck_assert_int_eq(vcore_hv_set_msr(v[7], VCORE_HV_MSR_VP_INDEX, 70), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 1);
    vcore_vcpu_destroy(v[7]);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 0);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.id = 7;
    vc.bsp = false;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &v[7]), VCORE_OK);
    uint64_t val;
    ck_assert_int_eq(vcore_hv_get_msr(v[7], VCORE_HV_MSR_VP_INDEX, &val), VCORE_OK);
    ck_assert_uint_eq(val, 7);
}
END_TEST

/* ------------------------------------------------------------- environment */

START_TEST(not_hyperv_before_guest_os_id)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[0], VCORE_HV_MSR_GUEST_OS_ID, 0), VCORE_OK);
    vcore_x86_regs_t r = regs(v[0]);
    r.gpr[VCORE_X86_RCX] = C_IPI;
    r.rip = HC_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[0], &r), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.nr = 77;
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(out.flags & VCORE_EXIT_F_HYPERV, 0);
    ck_assert_uint_eq(out.u.hypercall.nr, 77);
}
END_TEST

START_TEST(ud_real_mode)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_reset(v[1]), VCORE_OK); /* real mode, CPL 0 */
    (void)s;
    hc_ud(v[1], C_IPI, VCORE_DIAG_HV_UD_REAL_MODE);
}
END_TEST

START_TEST(ud_cpl3)
{
    set_mode(v[1], true, 3);
    hc_ud(v[1], C_IPI, VCORE_DIAG_HV_UD_CPL);
    set_mode(v[1], false, 3);
    hc_ud(v[1], C_IPI, VCORE_DIAG_HV_UD_CPL);
}
END_TEST

START_TEST(ud_virtual_8086)
{
    set_mode(v[1], false, 0);
    vcore_x86_regs_t r = regs(v[1]);
    r.rflags = 0x2 | (1u << 17); /* VM */
    ck_assert_int_eq(vcore_vcpu_set_regs(v[1], &r), VCORE_OK);
    hc_ud(v[1], C_IPI, VCORE_DIAG_HV_UD_REAL_MODE);
}
END_TEST

/* ------------------------------------------------------------- input value */

START_TEST(control_reserved_bits)
{
    static const uint64_t bits[] = {27, 28, 29, 30, 31, 44, 45, 46, 47, 60, 61, 62, 63};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        ck_assert_uint_eq(hc(v[0], C_IPI | (1ull << bits[i]), IN_GPA, 0), S_INPUT);
        ck_assert_diag(v[0], VCORE_DIAG_HV_CONTROL_RESERVED);
    }
    ck_assert_uint_eq(hook_calls, 0);
}
END_TEST

START_TEST(control_unknown_code)
{
    static const uint16_t codes[] = {0x0000, 0x0004, 0x000a, 0x0016, 0x00b1, 0x8005, 0xffff};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        ck_assert_uint_eq(hc(v[0], codes[i], IN_GPA, 0), S_CODE);
        ck_assert_diag(v[0], VCORE_DIAG_HV_UNKNOWN_CODE);
    }
}
END_TEST

START_TEST(control_rep_rules)
{
    put64(IN_GPA, 0x40); /* vector */
    put64(IN_GPA + 8, 1);
    /* Simple call: rep count and rep start must be zero. */
    ck_assert_uint_eq(hc(v[0], C_IPI | REPS(1), IN_GPA, 0), S_INPUT);
    ck_assert_diag(v[0], VCORE_DIAG_HV_REP_COUNT);
    ck_assert_uint_eq(hc(v[0], C_IPI | START(1), IN_GPA, 0), S_INPUT);
    ck_assert_diag(v[0], VCORE_DIAG_HV_REP_COUNT);
    /* Rep call: rep count non-zero, start below it. */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST, IN_GPA, 0), S_INPUT);
    ck_assert_diag(v[0], VCORE_DIAG_HV_REP_COUNT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(2) | START(2), IN_GPA, 0), S_INPUT);
    ck_assert_diag(v[0], VCORE_DIAG_HV_REP_START);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(2) | START(3), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(who_has(0x40), 0);
    ck_assert_uint_eq(flushed(), 0);
}
END_TEST

START_TEST(variable_header_rules)
{
    put64(IN_GPA, 0x40);
    put64(IN_GPA + 8, 1);
    ck_assert_uint_eq(hc(v[0], C_IPI | VAR(1), IN_GPA, 0), S_INPUT);
    ck_assert_diag(v[0], VCORE_DIAG_HV_VAR_HEADER);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE | VAR(1), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | VAR(1) | REPS(1), IN_GPA, 0), S_INPUT);
    /* Ex: one QWORD per valid bank. */
    put64(IN_GPA, 0x40);
    put64(IN_GPA + 8, 0); /* sparse */
    put64(IN_GPA + 16, 0x5);
    put64(IN_GPA + 24, 1);
    put64(IN_GPA + 32, 1);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(1), IN_GPA, 0), S_INPUT);
    ck_assert_diag(v[0], VCORE_DIAG_HV_VAR_HEADER);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(3), IN_GPA, 0), S_INPUT);
    ck_assert_uint_eq(who_has(0x40), 0);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(2), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x40), 1u << 0);
}
END_TEST

START_TEST(memory_input_rules)
{
    put64(IN_GPA, 0x40);
    put64(IN_GPA + 8, 0xff);
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA + 4, 0), S_ALIGN);
    ck_assert_diag(v[0], VCORE_DIAG_HV_INPUT_ALIGNMENT);
    /* 16 bytes at the last 8 of a page: crosses. */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA + 0xff8, 0), S_ALIGN);
    ck_assert_diag(v[0], VCORE_DIAG_HV_INPUT_CROSSES_PAGE);
    /* Ending exactly at the page end is fine. */
    put64(IN_GPA + 0xff0, 0x41);
    put64(IN_GPA + 0xff8, 0x2);
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA + 0xff0, 0), S_OK);
    ck_assert_uint_eq(who_has(0x41), 1u << 1);
    /* Beyond MAXPHYADDR (36), and inside it but not guest memory. */
    ck_assert_uint_eq(hc(v[0], C_IPI, 1ull << 36, 0), S_ALIGN);
    ck_assert_diag(v[0], VCORE_DIAG_HV_INPUT_OUTSIDE_GPA);
    ck_assert_uint_eq(hc(v[0], C_IPI, 0x100000, 0), S_ALIGN);
    ck_assert_diag(v[0], VCORE_DIAG_HV_INPUT_OUTSIDE_GPA);
    /* A List call's reps count in the size: 24 + 8 * 3 bytes at 0xfd8 crosses. */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(3), IN_GPA + 0xfd8, 0), S_ALIGN);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(2), IN_GPA + 0xfd8, 0), 2ull << 32);
    /* The output GPA of these calls is ignored. */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA + 0xff0, 0x3), S_OK);
}
END_TEST

/* ------------------------------------------------------------------- IPIs */

START_TEST(ipi_mask_memory)
{
    put64(IN_GPA, 0x40);
    put64(IN_GPA + 8, 0x85); /* VP 0, 2, 7 */
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x40), 0x85);
    ck_assert_uint_eq(hook_calls, 1);
    ck_assert_uint_eq(hook_seen.kind, VCORE_HV_KIND_IPI);
    ck_assert_uint_eq(hook_seen.vector, 0x40);
    ck_assert_uint_eq(hook_seen.targets[0], 0x85);
    /* The target takes the vector as a fixed interrupt when IF = 1. */
    vcore_x86_regs_t r = regs(v[2]);
    r.rflags = 0x202;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[2], &r), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[2], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[2], &out), VCORE_OK);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(v[2], &ev), VCORE_OK);
    ck_assert_uint_eq(ev.kind, VCORE_MOCK_OP_DELIVER_INTERRUPT);
    ck_assert_uint_eq(ev.vector, 0x40);
    ck_assert(!has_vector(v[2], 0x40));
    ck_assert(has_vector(v[7], 0x40));
}
END_TEST

START_TEST(ipi_vector_and_vtl)
{
    put64(IN_GPA + 8, 0x2);
    static const struct {
        uint64_t w0;
        uint32_t status;
    } cases[] = {
        {0x0f, S_PARAM}, {0x10, S_OK}, {0xff, S_OK}, {0x100, S_PARAM}, {0xffffffffu, S_PARAM},
        {0x30 | (0x10ull << 32), S_OK},          /* UseTargetVtl, VTL 0 */
        {0x30 | (0x11ull << 32), S_PARAM},       /* VTL 1 */
        {0x30 | (0x01ull << 32), S_OK},          /* TargetVtl without UseTargetVtl */
        {0x30 | (0x20ull << 32), S_PARAM},       /* RsvdZ bit 5 */
        {0x30 | (0xabcdef00ull << 32), S_OK},    /* padding bytes 5-7 ignored */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put64(IN_GPA, cases[i].w0);
        ck_assert_msg(hc(v[0], C_IPI, IN_GPA, 0) == cases[i].status, "case %zu", i);
    }
    ck_assert(has_vector(v[1], 0x10) && has_vector(v[1], 0xff) && has_vector(v[1], 0x30));
    ck_assert(!has_vector(v[1], 0x0f));
    put64(IN_GPA, 0x0f);
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_PARAM);
    ck_assert_diag(v[0], VCORE_DIAG_HV_IPI_VECTOR);
    put64(IN_GPA, 0x30 | (0x20ull << 32));
    ck_assert_uint_eq(hc(v[0], C_IPI, IN_GPA, 0), S_PARAM);
    ck_assert_diag(v[0], VCORE_DIAG_HV_IPI_VTL);
}
END_TEST

START_TEST(ipi_fast)
{
    /* Fast: RDX = Vector | TargetVtl << 32, R8 = ProcessorMask. */
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x51, 0x18), S_OK);
    ck_assert_uint_eq(who_has(0x51), 0x18);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x52 | (0x11ull << 32), 0x18), S_PARAM);
    ck_assert_uint_eq(who_has(0x52), 0);
}
END_TEST

/* VP indexes spread over banks 0, 2 and 63 (TLFS "HV_VP_SET" example layout). */
START_TEST(ipi_ex_sparse_banks)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[1], VCORE_HV_MSR_VP_INDEX, 130), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 4032 + 5), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[5], VCORE_HV_MSR_VP_INDEX, 64), VCORE_OK);
    put64(IN_GPA, 0x60);
    put64(IN_GPA + 8, 0);                          /* sparse 4K */
    put64(IN_GPA + 16, 1ull | (1ull << 2) | (1ull << 63)); /* banks 0, 2, 63 */
    put64(IN_GPA + 24, 1ull << 0);                 /* VP 0 */
    put64(IN_GPA + 32, 1ull << 2);                 /* VP 130 */
    put64(IN_GPA + 40, 1ull << 5);                 /* VP 4037 */
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(3), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x60), (1u << 0) | (1u << 1) | (1u << 2));
    ck_assert_uint_eq(hook_seen.targets[0], 0x7);
    /* Same set, matched indexes: VP 130 and 4037 name no vCPU now. */
    ck_assert_int_eq(vcore_hv_set_msr(v[1], VCORE_HV_MSR_VP_INDEX, 1), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 2), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[5], VCORE_HV_MSR_VP_INDEX, 5), VCORE_OK);
    ck_assert_uint_eq(vcore_hv_mismatched_vp_indexes(vm), 0);
    put64(IN_GPA, 0x61);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(3), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x61), 1u << 0);
    /* A present bank may be all zero; an absent one has no element. */
    put64(IN_GPA, 0x62);
    put64(IN_GPA + 16, 0x3);
    put64(IN_GPA + 24, 0);
    put64(IN_GPA + 32, 0x20); /* bank 1 bit 5: VP 69 */
    ck_assert_int_eq(vcore_hv_set_msr(v[6], VCORE_HV_MSR_VP_INDEX, 69), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(2), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x62), 1u << 6);
}
END_TEST

START_TEST(ipi_mask_mismatched)
{
    /* vCPU 4 answers to VP 9, vCPU 3 to VP 4: bit 4 names vCPU 3. */
    ck_assert_int_eq(vcore_hv_set_msr(v[4], VCORE_HV_MSR_VP_INDEX, 9), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[3], VCORE_HV_MSR_VP_INDEX, 4), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x70, (1u << 4) | (1u << 9)), S_OK);
    ck_assert_uint_eq(who_has(0x70), (1u << 3) | (1u << 4));
    /* VP index 64 is outside a 64-bit mask; 4096 outside every sparse set. */
    ck_assert_int_eq(vcore_hv_set_msr(v[5], VCORE_HV_MSR_VP_INDEX, 64), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[6], VCORE_HV_MSR_VP_INDEX, 4096), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x71, 0x1), S_OK);
    ck_assert_uint_eq(who_has(0x71), 1u << 0);
    put64(IN_GPA, 0x72);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0x1);
    put64(IN_GPA + 24, 0x1);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | VAR(1), IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x72), 1u << 0);
    /* The hook sees vCPUs that exist only. */
    ck_assert_uint_eq(hook_seen.targets[0], 1u << 0);
}
END_TEST

START_TEST(ipi_ex_all_and_format)
{
    put64(IN_GPA, 0x44);
    put64(IN_GPA + 8, 1); /* HV_GENERIC_SET_ALL */
    put64(IN_GPA + 16, 0);
    ck_assert_uint_eq(hc(v[3], C_IPI_EX, IN_GPA, 0), S_OK);
    ck_assert_uint_eq(who_has(0x44), 0xff);
    put64(IN_GPA, 0x45);
    put64(IN_GPA + 8, 2);
    ck_assert_uint_eq(hc(v[3], C_IPI_EX, IN_GPA, 0), S_PARAM);
    ck_assert_diag(v[3], VCORE_DIAG_HV_VP_SET_FORMAT);
    ck_assert_uint_eq(who_has(0x45), 0);
}
END_TEST

START_TEST(ipi_ex_xmm_fast)
{
    /* RDX = vector, R8 = format, XMM0 = {ValidBanksMask, bank 0}. */
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x1, 0x44), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | FAST | VAR(1), 0x66, 0), S_OK);
    ck_assert_uint_eq(who_has(0x66), 0x44);
    /* Two banks: XMM0.hi is bank 0, XMM1.lo bank 1 (VP 64+2 -> vCPU 2 renumbered). */
    ck_assert_int_eq(vcore_hv_set_msr(v[2], VCORE_HV_MSR_VP_INDEX, 66), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x3, 0x1), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 1, 0x4, 0), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | FAST | VAR(2), 0x67, 0), S_OK);
    ck_assert_uint_eq(who_has(0x67), 0x5);
    /* 24 + 8 * 12 = 120 bytes: more than RDX, R8 and XMM0-5 hold. */
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | FAST | VAR(12), 0x68, 0), S_INPUT);
    ck_assert_diag(v[0], VCORE_DIAG_HV_FAST_TOO_LARGE);
    /* 24 + 8 * 11 = 112: the last bank is XMM5.hi. */
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x7ff, 0), VCORE_OK);
    for (uint32_t i = 1; i < 6; i++)
        ck_assert_int_eq(vcore_mock_set_xmm(v[0], i, 0, 0), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 5, 0, 0), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI_EX | FAST | VAR(11), 0x69, 0), S_OK);
    ck_assert_uint_eq(who_has(0x69), 0);
}
END_TEST

START_TEST(xmm_not_advertised_is_ud)
{
    down();
    vcore_hv_config_t cfg;
    vcore_hv_config_init(&cfg);
    cfg.features = VCORE_HV_F_ALL & ~VCORE_HV_F_XMM_INPUT;
    vm_up(&cfg, NULL);
    hc_ud(v[0], C_IPI_EX | FAST | VAR(1), VCORE_DIAG_HV_UD_XMM_INPUT);
    hc_ud(v[0], C_FLUSH_SPACE | FAST, VCORE_DIAG_HV_UD_XMM_INPUT);
    /* 16 bytes fit RDX and R8: plain fast, no XMM. */
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x40, 1), S_OK);
}
END_TEST

START_TEST(ipi_one_vector_per_window_highest_first)
{
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x30, 0x2), S_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x50, 0x2), S_OK);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x50, 0x2), S_OK); /* latched once, like an IRR bit */
    vcore_x86_regs_t r = regs(v[1]);
    r.rflags = 0x202;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[1], &r), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[1], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    /* 0x50 first (the higher priority class), then 0x30 once the guest can
     * take another interrupt; the repeated 0x50 was one bit. */
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_DELIVER_INTERRUPT), 2);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(v[1], &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 0x30);
    uint64_t p[4];
    pending(v[1], p);
    ck_assert_uint_eq(p[0] | p[1] | p[2] | p[3], 0);
}
END_TEST

START_TEST(ipi_if_clear_waits)
{
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x90, 0x2), S_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[1], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_OK); /* IF = 0 */
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_DELIVER_INTERRUPT), 0);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(v[1], &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_pending, 1);
    ck_assert_uint_eq(ev.interrupt_vector, 0x90);
    uint64_t p[4];
    pending(v[1], p); /* moved from the bitmap into the event state */
    ck_assert_uint_eq(p[0x90 / 64], 0);
    /* RESET: nothing stays pending. */
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x91, 0x2), S_OK);
    ck_assert_int_eq(vcore_vcpu_reset(v[1]), VCORE_OK);
    ck_assert(!has_vector(v[1], 0x91));
}
END_TEST

/* ------------------------------------------------------------------ flushes */


START_TEST(flush_space_mask)
{
    put64(IN_GPA, 0x1000);  /* AddressSpace */
    put64(IN_GPA + 8, 0);   /* Flags */
    put64(IN_GPA + 16, 0x6); /* VP 1, 2 */
    ck_assert_uint_eq(hc(v[1], C_FLUSH_SPACE, IN_GPA, 0), S_OK);
    /* The caller flushed before its guest resumed; vCPU 2 flushes when it enters. */
    ck_assert_uint_eq(flushed(), 1u << 1);
    ck_assert_uint_eq(last_flush(v[1]).kind, VCORE_TLB_FLUSH_ALL);
    run_others(1);
    ck_assert_uint_eq(flushed(), 0x6);
    ck_assert_uint_eq(vcore_mock_count(v[2], VCORE_MOCK_OP_FLUSH_TLB), 1);
    ck_assert_uint_eq(hook_seen.kind, VCORE_HV_KIND_FLUSH);
    ck_assert_uint_eq(hook_seen.address_space, 0x1000);
    /* Mask 0 names no processor. */
    put64(IN_GPA + 16, 0);
    ck_assert_uint_eq(hc(v[1], C_FLUSH_SPACE, IN_GPA, 0), S_OK);
    run_others(1);
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_FLUSH_TLB), 1);
    ck_assert_uint_eq(vcore_mock_count(v[2], VCORE_MOCK_OP_FLUSH_TLB), 1);
    /* ALL_PROCESSORS ignores the mask; NON_GLOBAL_MAPPINGS_ONLY may keep globals. */
    put64(IN_GPA + 8, 0x1 | 0x4);
    ck_assert_uint_eq(hc(v[1], C_FLUSH_SPACE, IN_GPA, 0), S_OK);
    run_others(1);
    ck_assert_uint_eq(flushed(), 0xff);
    ck_assert_uint_eq(last_flush(v[6]).kind, VCORE_TLB_FLUSH_NON_GLOBAL);
}
END_TEST

/* A backend that fails the flush: the run fails, the flush stays pending
 * (as a full one) and happens before the next entry. */
START_TEST(flush_failure_stays_pending)
{
    put64(IN_GPA + 8, 0x4);
    put64(IN_GPA + 16, 0x2);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, IN_GPA, 0), S_OK);
    ck_assert_int_eq(vcore_mock_fail_next(v[1], VCORE_MOCK_OP_FLUSH_TLB, VCORE_ERR_HWFAIL), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[1], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    uint64_t runs = vcore_mock_count(v[1], VCORE_MOCK_OP_RUN);
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_ERR_HWFAIL);
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_RUN), runs); /* the guest did not run */
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_FLUSH_TLB), 2);
    ck_assert_uint_eq(last_flush(v[1]).kind, VCORE_TLB_FLUSH_ALL);
    /* Once done, nothing more. */
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[1], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[1], &out), VCORE_OK);
    ck_assert_uint_eq(vcore_mock_count(v[1], VCORE_MOCK_OP_FLUSH_TLB), 2);
}
END_TEST

START_TEST(flush_flags_reserved)
{
    put64(IN_GPA + 16, 0x1);
    for (uint32_t b = 3; b < 64; b += 7) {
        put64(IN_GPA + 8, 1ull << b);
        ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, IN_GPA, 0), S_PARAM);
        ck_assert_diag(v[0], VCORE_DIAG_HV_FLUSH_FLAGS);
    }
    /* NON_GLOBAL_MAPPINGS_ONLY is an invalid option for the List calls. */
    put64(IN_GPA + 8, 0x4);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(1), IN_GPA, 0), S_PARAM);
    ck_assert_uint_eq(flushed(), 0);
}
END_TEST

START_TEST(flush_list_ranges_and_reps)
{
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0x2); /* all address spaces */
    put64(IN_GPA + 16, 0x1);
    put64(IN_GPA + 24, 0x7000);
    put64(IN_GPA + 32, 0x9000 | 3);   /* 4 pages */
    put64(IN_GPA + 40, 0xfffff000);
    uint64_t rax = hc(v[0], C_FLUSH_LIST | REPS(3), IN_GPA, 0);
    ck_assert_uint_eq(rax, S_OK | (3ull << 32)); /* reps completed = rep count */
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 3);
    ck_assert_uint_eq(f.ranges[0], 0x7000);
    ck_assert_uint_eq(f.ranges[1], 0x9003);
    ck_assert_uint_eq(f.ranges[2], 0xfffff000);
    /* Rep start 2 of 3: the last element only; completed is the total. */
    rax = hc(v[0], C_FLUSH_LIST | REPS(3) | START(2), IN_GPA, 0);
    ck_assert_uint_eq(rax, 3ull << 32);
    f = last_flush(v[0]);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.ranges[0], 0xfffff000);
    ck_assert_uint_eq(hook_seen.rep_count, 1);
    /* Sixteen ranges are kept; more than a vCPU keeps: a full flush. */
    for (uint32_t i = 0; i < 16; i++)
        put64(IN_GPA + 24 + 8 * i, 0x10000 + 0x1000 * i);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(16), IN_GPA, 0), 16ull << 32);
    f = last_flush(v[0]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 16);
    ck_assert_uint_eq(f.ranges[15], 0x1f000);
    for (uint32_t i = 0; i < 17; i++)
        put64(IN_GPA + 24 + 8 * i, 0x10000 + 0x1000 * i);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | REPS(17), IN_GPA, 0), 17ull << 32);
    ck_assert_uint_eq(last_flush(v[0]).kind, VCORE_TLB_FLUSH_ALL);
}
END_TEST

START_TEST(flush_ex_sparse_and_list_ex)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[3], VCORE_HV_MSR_VP_INDEX, 200), VCORE_OK);
    put64(IN_GPA, 0);
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0);            /* sparse */
    put64(IN_GPA + 24, 0x9);          /* banks 0 and 3 */
    put64(IN_GPA + 32, 0x10);         /* VP 4 */
    put64(IN_GPA + 40, 1ull << 8);    /* VP 200 */
    put64(IN_GPA + 48, 0x4000);       /* the GVA list after the variable header */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX | VAR(2), IN_GPA, 0), S_OK);
    run_others(0);
    ck_assert_uint_eq(flushed(), (1u << 3) | (1u << 4));
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST_EX | VAR(2) | REPS(1), IN_GPA, 0), 1ull << 32);
    run_others(0);
    vcore_mock_flush_t f = last_flush(v[4]);
    ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
    ck_assert_uint_eq(f.count, 1);
    ck_assert_uint_eq(f.ranges[0], 0x4000);
    ck_assert_uint_eq(vcore_mock_count(v[4], VCORE_MOCK_OP_FLUSH_TLB), 2);
}
END_TEST

START_TEST(flush_xmm_fast)
{
    /* FlushVirtualAddressSpace fast: RDX AddressSpace, R8 Flags, XMM0.lo mask. */
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x30, 0), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE | FAST, 0x1000, 0), S_OK);
    run_others(0);
    ck_assert_uint_eq(flushed(), 0x30);
    /* List fast: ranges after the 24-byte header: XMM0.hi, XMM1.lo. */
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0x1, 0x8000), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 1, 0xa000 | 1, 0), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST | FAST | REPS(2), 0, 0), 2ull << 32);
    vcore_mock_flush_t f = last_flush(v[0]);
    ck_assert_uint_eq(f.count, 2);
    ck_assert_uint_eq(f.ranges[0], 0x8000);
    ck_assert_uint_eq(f.ranges[1], 0xa001);
}
END_TEST

/* The Ex flushes in XMM fast form (TLFS "XMM Fast Hypercall Input"): RDX
 * AddressSpace, R8 Flags, then XMM0.lo Format, XMM0.hi ValidBanksMask, the
 * banks from XMM1.lo on, and (List Ex) the GVA ranges after the banks. The
 * set {5, 130, 4033} spans banks 0, 2 and 63; VP 130 and 4033 are vCPUs 6
 * and 7 (renumbered), VP 5 is vCPU 5. RAX is the result value (reps
 * completed in bits 43:32 for the List call), RIP moves past the VMCALL. */
START_TEST(flush_ex_xmm_fast_banks_0_2_63)
{
    ck_assert_int_eq(vcore_hv_set_msr(v[6], VCORE_HV_MSR_VP_INDEX, 130), VCORE_OK);
    ck_assert_int_eq(vcore_hv_set_msr(v[7], VCORE_HV_MSR_VP_INDEX, 4033), VCORE_OK);
    uint64_t banks = (1ull << 0) | (1ull << 2) | (1ull << 63);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 0, 0, banks), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 1, 1ull << 5, 1ull << 2), VCORE_OK);
    ck_assert_int_eq(vcore_mock_set_xmm(v[0], 2, 1ull << 1, 0x7000 | 2), VCORE_OK);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX | FAST | VAR(3), 0x1000, 0), S_OK);
    run_others(0);
    ck_assert_uint_eq(flushed(), (1u << 5) | (1u << 6) | (1u << 7));
    ck_assert_uint_eq(last_flush(v[6]).kind, VCORE_TLB_FLUSH_ALL);
    /* List Ex: one range, 7000H plus 2 more pages, after the three banks. */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_LIST_EX | FAST | VAR(3) | REPS(1), 0x1000, 0), 1ull << 32);
    run_others(0);
    for (uint32_t i = 5; i <= 7; i++) {
        vcore_mock_flush_t f = last_flush(v[i]);
        ck_assert_uint_eq(f.kind, VCORE_TLB_FLUSH_LIST);
        ck_assert_uint_eq(f.count, 1);
        ck_assert_uint_eq(f.ranges[0], 0x7002);
        ck_assert_uint_eq(vcore_mock_count(v[i], VCORE_MOCK_OP_FLUSH_TLB), 2);
    }
    ck_assert_uint_eq(flushed(), (1u << 5) | (1u << 6) | (1u << 7));
    /* var_size 2 with 3 banks set: HV_STATUS_INVALID_HYPERCALL_INPUT, nothing flushed. */
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE_EX | FAST | VAR(2), 0x1000, 0), S_INPUT);
    run_others(0);
    for (uint32_t i = 5; i <= 7; i++)
        ck_assert_uint_eq(vcore_mock_count(v[i], VCORE_MOCK_OP_FLUSH_TLB), 2);
}
END_TEST

/* ------------------------------------------------------------- 32-bit callers */

START_TEST(caller_32bit)
{
    set_mode(v[0], false, 0);
    put64(IN_GPA, 0x40);
    put64(IN_GPA + 8, 0x2);
    vcore_x86_regs_t r = regs(v[0]);
    r.gpr[VCORE_X86_RDX] = 0;        /* input value EDX:EAX */
    r.gpr[VCORE_X86_RAX] = C_IPI;
    r.gpr[VCORE_X86_RBX] = 0;        /* input GPA EBX:ECX */
    r.gpr[VCORE_X86_RCX] = IN_GPA;
    r.gpr[VCORE_X86_RCX] |= 0xffffffff00000000ull; /* upper halves are not part of it */
    r = vmcall(v[0], &r);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0);
    ck_assert(has_vector(v[1], 0x40));
    /* Result in EDX:EAX: reps completed in EDX[11:0]. */
    put64(IN_GPA + 8, 0);
    put64(IN_GPA + 16, 0x1);
    put64(IN_GPA + 24, 0x5000);
    put64(IN_GPA + 32, 0x6000);
    r.gpr[VCORE_X86_RDX] = 2;  /* rep count 2 in bits 43:32 */
    r.gpr[VCORE_X86_RAX] = C_FLUSH_LIST;
    r.gpr[VCORE_X86_RCX] = IN_GPA;
    r = vmcall(v[0], &r);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 2);
    ck_assert_uint_eq(r.rip, HC_RIP + VMCALL_LEN);
    /* An error status: EAX = status, EDX = 0. */
    r.gpr[VCORE_X86_RDX] = 1u << 28; /* bit 60: reserved */
    r.gpr[VCORE_X86_RAX] = C_IPI;
    r = vmcall(v[0], &r);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], S_INPUT);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0);
    /* Fast: input parameter EBX:ECX, output parameter EDI:ESI. */
    r.gpr[VCORE_X86_RDX] = 0;
    r.gpr[VCORE_X86_RAX] = C_IPI | FAST;
    r.gpr[VCORE_X86_RBX] = 0;
    r.gpr[VCORE_X86_RCX] = 0x77;
    r.gpr[VCORE_X86_RDI] = 0;
    r.gpr[VCORE_X86_RSI] = 0x8;
    r = vmcall(v[0], &r);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0);
    ck_assert_uint_eq(who_has(0x77), 0x8);
}
END_TEST

/* ------------------------------------------------------------- VMM hook, forwarding */

START_TEST(hook_refuse_and_done)
{
    hook_verdict = VCORE_HV_REFUSE;
    hook_status = 0x8; /* OPERATION_DENIED */
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x40, 0x2), 0x8);
    ck_assert_diag(v[0], VCORE_DIAG_HV_HOOK_REFUSED);
    ck_assert_uint_eq(who_has(0x40), 0);
    hook_status = 0;
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x40, 0x2), S_DENIED);
    hook_verdict = VCORE_HV_DONE;
    put64(IN_GPA + 16, 0x2);
    ck_assert_uint_eq(hc(v[0], C_FLUSH_SPACE, IN_GPA, 0), S_OK);
    run_others(0);
    ck_assert_uint_eq(flushed(), 0);
    ck_assert_uint_eq(hc(v[0], C_IPI | FAST, 0x40, 0x2), S_OK);
    ck_assert_uint_eq(who_has(0x40), 0);
    ck_assert_uint_eq(hook_calls, 4);
}
END_TEST

START_TEST(forward_known_call)
{
    vcore_x86_regs_t r = regs(v[0]);
    r.gpr[VCORE_X86_RCX] = C_SPIN | FAST;
    r.gpr[VCORE_X86_RDX] = 5;
    r.gpr[VCORE_X86_R8] = 6;
    r.rip = HC_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[0], &r), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.insn_len = VMCALL_LEN;
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HYPERCALL);
    ck_assert(out.flags & VCORE_EXIT_F_HYPERV);
    ck_assert(out.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(out.u.hypercall.hv.code, C_SPIN);
    ck_assert_uint_eq(out.u.hypercall.hv.fast, 1);
    ck_assert_uint_eq(out.u.hypercall.hv.input, 5);
    ck_assert_uint_eq(out.u.hypercall.hv.output, 6);
    ck_assert_uint_eq(out.u.hypercall.hv.control, C_SPIN | FAST);
    ck_assert_uint_eq(out.u.hypercall.longmode, 1);
    out.u.hypercall.ret = (7ull << 32) | 5; /* a 64-bit caller takes all of it in RAX */
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    r = regs(v[0]);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], (7ull << 32) | 5);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 5);
    ck_assert_uint_eq(r.rip, HC_RIP + VMCALL_LEN);
    /* A rep call forwarded from a 32-bit caller: the VMM's result goes to EDX:EAX. */
    set_mode(v[0], false, 0);
    r.gpr[VCORE_X86_RDX] = 1;
    r.gpr[VCORE_X86_RAX] = 0x0050; /* HvCallGetVpRegisters, rep count 1 */
    r.rip = HC_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[0], &r), VCORE_OK);
    e = make_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.insn_len = VMCALL_LEN;
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    ck_assert_uint_eq(out.u.hypercall.hv.rep_count, 1);
    ck_assert_uint_eq(out.u.hypercall.longmode, 0);
    out.u.hypercall.ret = 1ull << 32;
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    r = regs(v[0]);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 1);
    /* The VMM makes a forwarded call fault (#UD it raised itself): no result. */
    r.gpr[VCORE_X86_RDX] = 1;
    r.gpr[VCORE_X86_RAX] = 0x0050;
    r.rip = HC_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(v[0], &r), VCORE_OK);
    e = make_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.insn_len = VMCALL_LEN;
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_exception(v[0], 6, false, 0, 0), VCORE_OK);
    out.u.hypercall.fault = 1;
    out.u.hypercall.ret = 3ull << 32;
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(v[0], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(v[0], &out), VCORE_OK);
    r = regs(v[0]);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 1);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0x0050);
    ck_assert_uint_eq(r.rip, HC_RIP);
}
END_TEST

/* Compatibility mode (EFER.LMA = 1, CS.L = 0) is a 32-bit caller. */
START_TEST(caller_compatibility_mode)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(v[0], &s), VCORE_OK);
    s.seg[VCORE_X86_CS].ar = (s.seg[VCORE_X86_CS].ar & ~VCORE_X86_AR_L) | VCORE_X86_AR_DB;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v[0], &s), VCORE_OK);
    vcore_x86_regs_t r = regs(v[0]);
    r.gpr[VCORE_X86_RCX] = 0x0004; /* unknown in RCX: ignored by a 32-bit caller */
    r.gpr[VCORE_X86_RDX] = 0;
    r.gpr[VCORE_X86_RAX] = C_IPI | FAST;
    r.gpr[VCORE_X86_RBX] = 0;
    r.gpr[VCORE_X86_RCX] = 0x5a;
    r.gpr[VCORE_X86_RDI] = 0;
    r.gpr[VCORE_X86_RSI] = 0x4;
    r = vmcall(v[0], &r);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0);
    ck_assert(has_vector(v[2], 0x5a));
}
END_TEST

START_TEST(misc_api)
{
    ck_assert_str_eq(vcore_hv_status_name(3), "INVALID_HYPERCALL_INPUT");
    ck_assert_str_eq(vcore_hv_status_name(0x1234), "UNKNOWN");
    uint64_t x[12];
    ck_assert_int_eq(vcore_mock_set_xmm(v[1], 5, 11, 12), VCORE_OK);
    ck_assert_int_eq(vcore_hv_get_xmm(v[1], x), VCORE_OK);
    ck_assert_uint_eq(x[10], 11);
    ck_assert_uint_eq(x[11], 12);
    vcore_diag_t d = {.size = sizeof(d)};
    ck_assert_int_eq(vcore_diag_describe(VCORE_DIAG_HV_UD_CPL, &d), VCORE_OK);
    ck_assert_str_eq(d.name, "HV_UD_CPL");
    ck_assert_ptr_nonnull(strstr(d.manual, "Legal Hypercall Environments"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hyperv");
    TCase *t = tcase_create("hyperv");
    tcase_add_checked_fixture(t, up, down);
    tcase_add_test(t, cpuid_leaves);
    tcase_add_test(t, cpuid_vmm_leaves_replaced_atomically);
    tcase_add_test(t, cpuid_follows_features);
    tcase_add_test(t, enable_rules);
    tcase_add_test(t, enable_needs_backend_support);
    tcase_add_test(t, msr_guest_os_id_and_hypercall_page);
    tcase_add_test(t, msr_hypercall_page_amd_and_lock);
    tcase_add_test(t, msr_vp_index);
    tcase_add_test(t, mismatch_count_exact);
    tcase_add_test(t, not_hyperv_before_guest_os_id);
    tcase_add_test(t, ud_real_mode);
    tcase_add_test(t, ud_cpl3);
    tcase_add_test(t, ud_virtual_8086);
    tcase_add_test(t, control_reserved_bits);
    tcase_add_test(t, control_unknown_code);
    tcase_add_test(t, control_rep_rules);
    tcase_add_test(t, variable_header_rules);
    tcase_add_test(t, memory_input_rules);
    tcase_add_test(t, ipi_mask_memory);
    tcase_add_test(t, ipi_vector_and_vtl);
    tcase_add_test(t, ipi_fast);
    tcase_add_test(t, ipi_ex_sparse_banks);
    tcase_add_test(t, ipi_mask_mismatched);
    tcase_add_test(t, ipi_ex_all_and_format);
    tcase_add_test(t, ipi_ex_xmm_fast);
    tcase_add_test(t, xmm_not_advertised_is_ud);
    tcase_add_test(t, ipi_one_vector_per_window_highest_first);
    tcase_add_test(t, ipi_if_clear_waits);
    tcase_add_test(t, flush_space_mask);
    tcase_add_test(t, flush_failure_stays_pending);
    tcase_add_test(t, flush_flags_reserved);
    tcase_add_test(t, flush_list_ranges_and_reps);
    tcase_add_test(t, flush_ex_sparse_and_list_ex);
    tcase_add_test(t, flush_xmm_fast);
    tcase_add_test(t, flush_ex_xmm_fast_banks_0_2_63);
    tcase_add_test(t, caller_32bit);
    tcase_add_test(t, caller_compatibility_mode);
    tcase_add_test(t, hook_refuse_and_done);
    tcase_add_test(t, forward_known_call);
    tcase_add_test(t, misc_api);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(suite());
}
