/*
 * hyperv_fixture.h - the Hyper-V test VM both Hyper-V unit suites start
 * from: NV vCPUs on the mock backend with MEM_SIZE bytes of RAM, the VMM's
 * hypercall hook (recording what it saw, answering hook_status and, when
 * hook_vector_write is set, writing the call's vector as a careless VMM
 * would), register and mode helpers, and the hypercall helpers (TLFS
 * "Hypercall Interface": input value fields, call codes, HV_STATUS).
 * Included once per test program (static definitions).
 */
#ifndef VCORE_TEST_HYPERV_FIXTURE_H
#define VCORE_TEST_HYPERV_FIXTURE_H

#define NV 8u
#define MEM_SIZE 0x10000u
#define IN_GPA 0x2000u /* input page */
#define HC_RIP 0x1000u
#define VMCALL_LEN 3u

/* Hypercall input value fields (TLFS, "Hypercall Inputs"). */
#define FAST (1ull << 16)
#define VAR(n) ((uint64_t)(n) << 17)
#define REPS(n) ((uint64_t)(n) << 32)
#define START(n) ((uint64_t)(n) << 48)
/* Call codes (TLFS, "Hypercall Reference"). */
#define C_FLUSH_SPACE 0x0002u
#define C_FLUSH_LIST 0x0003u
#define C_SPIN 0x0008u
#define C_IPI 0x000bu
#define C_FLUSH_SPACE_EX 0x0013u
#define C_FLUSH_LIST_EX 0x0014u
#define C_IPI_EX 0x0015u
/* HV_STATUS (TLFS, "Hypercall Status Codes"). */
#define S_OK 0u
#define S_CODE 2u
#define S_INPUT 3u
#define S_ALIGN 4u
#define S_PARAM 5u
#define S_DENIED 6u

static vcore_vm_t *vm;
static vcore_vcpu_t *v[NV];
static uint8_t *mem;
static int hook_calls;
static vcore_hv_call_t hook_seen;
static int hook_verdict;
static uint16_t hook_status;
static uint32_t hook_vector_write;

static int hook(void *ctx, vcore_vcpu_t *caller, vcore_hv_call_t *call)
{
    ck_assert_ptr_eq(ctx, &hook_calls);
    ck_assert_ptr_nonnull(caller);
    hook_calls++;
    hook_seen = *call;
    call->status = hook_status;
    if (hook_vector_write)
        call->vector = hook_vector_write;
    return hook_verdict;
}

static vcore_exit_t make_exit(uint32_t reason)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = reason;
    return e;
}

static vcore_x86_regs_t regs(vcore_vcpu_t *c)
{
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(c, &r), VCORE_OK);
    return r;
}

/* A 64-bit processor: long mode, NX, PAE; MAXPHYADDR 36 (no 80000008H);
 * vendor "GenuineIntel" or, with amd, "AuthenticAMD". */
static void cpuid_64bit(vcore_vcpu_t *c, bool amd)
{
    vcore_cpuid_entry_t t[4];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 1;
    memcpy(&t[0].ebx, amd ? "Auth" : "Genu", 4);
    memcpy(&t[0].edx, amd ? "enti" : "ineI", 4);
    memcpy(&t[0].ecx, amd ? "cAMD" : "ntel", 4);
    t[1].function = 1;
    t[1].edx = (1u << 6) | (1u << 13) | (1u << 9);
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000001u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 29) | (1u << 20) | (1u << 11);
    ck_assert_int_eq(vcore_vcpu_set_cpuid(c, t, 4), VCORE_OK);
}

/* 64-bit mode (EFER.LMA, CS.L) or 32-bit protected mode, CPL cpl. */
static void set_mode(vcore_vcpu_t *c, bool long64, uint32_t cpl)
{
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(c, &s), VCORE_OK);
    s.cr0 = long64 ? 0x80000011u : 0x11u;
    s.cr4 = long64 ? (1u << 5) : 0;
    s.efer = long64 ? ((1u << 8) | (1u << 10)) : 0;
    s.cr3 = 0x1000;
    for (int i = 0; i < VCORE_X86_NR_SEGS; i++) {
        if (i == VCORE_X86_LDTR || i == VCORE_X86_TR)
            continue;
        s.seg[i].base = 0;
        s.seg[i].limit = 0xffffffffu;
        s.seg[i].ar = 0x3u | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_DB | VCORE_X86_AR_G |
                      (cpl << VCORE_X86_AR_DPL_SHIFT);
    }
    s.seg[VCORE_X86_CS].ar = 0xbu | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_G |
                             (long64 ? VCORE_X86_AR_L : VCORE_X86_AR_DB) | (cpl << VCORE_X86_AR_DPL_SHIFT);
    ck_assert_int_eq(vcore_vcpu_set_sregs(c, &s), VCORE_OK);
}

static void vm_up(const vcore_hv_config_t *cfg, const vcore_backend_t *be)
{
    vcore_vm_config_t vc;
    vcore_vm_config_init(&vc);
    vc.backend = be ? be : vcore_backend_mock();
    vc.max_vcpus = NV;
    ck_assert_int_eq(vcore_vm_create(&vc, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_hv_enable(vm, cfg), VCORE_OK);
    void *m = NULL;
    ck_assert_int_eq(posix_memalign(&m, 4096, MEM_SIZE), 0);
    mem = m;
    memset(mem, 0, MEM_SIZE);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = MEM_SIZE, .hva = mem};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    for (uint32_t i = 0; i < NV; i++) {
        ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v[i]), VCORE_OK);
        cpuid_64bit(v[i], false);
        set_mode(v[i], true, 0);
    }
    ck_assert_int_eq(vcore_hv_set_msr(v[0], VCORE_HV_MSR_GUEST_OS_ID, 0x8100000000000001ull), VCORE_OK);
}

static void up(void)
{
    vcore_hv_config_t cfg;
    vcore_hv_config_init(&cfg);
    cfg.hook = hook;
    cfg.hook_ctx = &hook_calls;
    hook_calls = 0;
    hook_verdict = VCORE_HV_DELIVER;
    hook_status = 0;
    hook_vector_write = 0;
    vm_up(&cfg, NULL);
}

static void down(void)
{
    vcore_vm_destroy(vm);
    vm = NULL;
    free(mem);
}

/* Runs one VMCALL on c with the given registers and returns the vCPU's
 * registers after the mock completed it (the next exit is a HLT). */
static vcore_x86_regs_t vmcall(vcore_vcpu_t *c, const vcore_x86_regs_t *in)
{
    vcore_x86_regs_t r = *in;
    r.rip = HC_RIP;
    ck_assert_int_eq(vcore_vcpu_set_regs(c, &r), VCORE_OK);
    vcore_exit_t e = make_exit(VCORE_EXIT_HYPERCALL);
    e.u.hypercall.insn_len = VMCALL_LEN;
    ck_assert_int_eq(vcore_mock_push_exit(c, &e), VCORE_OK);
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(c, &e), VCORE_OK);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(c, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    return regs(c);
}

/* A 64-bit hypercall: RCX input value, RDX, R8; returns RAX and checks
 * that RIP moved past the VMCALL. */
static uint64_t hc(vcore_vcpu_t *c, uint64_t control, uint64_t p1, uint64_t p2)
{
    vcore_x86_regs_t r = regs(c);
    r.gpr[VCORE_X86_RAX] = 0xdeadbeefcafef00dull;
    r.gpr[VCORE_X86_RCX] = control;
    r.gpr[VCORE_X86_RDX] = p1;
    r.gpr[VCORE_X86_R8] = p2;
    r = vmcall(c, &r);
    ck_assert_uint_eq(r.rip, HC_RIP + VMCALL_LEN);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], control); /* input registers unchanged */
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], p1);
    return r.gpr[VCORE_X86_RAX];
}

/* A VMCALL that must raise #UD: RAX and RIP stay, the mock delivers #UD. */
static void hc_ud(vcore_vcpu_t *c, uint64_t control, uint32_t diag)
{
    vcore_x86_regs_t r = regs(c);
    r.gpr[VCORE_X86_RAX] = 0x1234;
    r.gpr[VCORE_X86_RCX] = control;
    r = vmcall(c, &r);
    ck_assert_uint_eq(r.rip, HC_RIP);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0x1234);
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(c, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.kind, VCORE_MOCK_OP_DELIVER_EXCEPTION);
    ck_assert_uint_eq(ev.vector, 6);
    ck_assert_uint_eq(ev.has_error_code, 0);
    ck_assert_diag(c, diag);
}

static void put64(uint64_t gpa, uint64_t value)
{
    memcpy(mem + gpa, &value, 8);
}

static void pending(vcore_vcpu_t *c, uint64_t out[4])
{
    ck_assert_int_eq(vcore_hv_pending_vectors(c, out), VCORE_OK);
}

/* vec waits for c: in its pending bitmap, or already moved into its event
 * state (a caller's own vector goes there when it re-enters). */
static bool has_vector(vcore_vcpu_t *c, uint32_t vec)
{
    uint64_t p[4];
    pending(c, p);
    if ((p[vec / 64] >> (vec % 64)) & 1u)
        return true;
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(c, &ev), VCORE_OK);
    return (ev.interrupt_pending || ev.interrupt_injected) && ev.interrupt_vector == vec;
}

/* Which vCPUs have vector vec pending, as a bit mask of vCPU ids. */
static uint32_t who_has(uint32_t vec)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < NV; i++)
        if (has_vector(v[i], vec))
            m |= 1u << i;
    return m;
}

/* Which vCPUs the mock flushed so far (FLUSH_TLB counts), as a mask. */
static uint32_t flushed(void)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < NV; i++)
        if (vcore_mock_count(v[i], VCORE_MOCK_OP_FLUSH_TLB))
            m |= 1u << i;
    return m;
}

/* Lets every other vCPU enter once (a HLT exit), so pending flushes happen. */
static void run_others(uint32_t except)
{
    for (uint32_t i = 0; i < NV; i++) {
        if (i == except)
            continue;
        vcore_exit_t e = make_exit(VCORE_EXIT_HLT);
        ck_assert_int_eq(vcore_mock_push_exit(v[i], &e), VCORE_OK);
        vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
        ck_assert_int_eq(vcore_vcpu_run(v[i], &out), VCORE_OK);
    }
}

/* RDMSR through the run loop; *gp when it raised #GP. */
static uint64_t rdmsr(vcore_vcpu_t *c, uint32_t index, bool *gp)
{
    vcore_exit_t e = make_exit(VCORE_EXIT_RDMSR);
    e.u.msr.index = index;
    ck_assert_int_eq(vcore_mock_push_exit(c, &e), VCORE_OK);
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(c, &e), VCORE_OK);
    uint64_t before = vcore_mock_count(c, VCORE_MOCK_OP_DELIVER_EXCEPTION);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(c, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    *gp = vcore_mock_count(c, VCORE_MOCK_OP_DELIVER_EXCEPTION) != before;
    vcore_x86_regs_t r = regs(c);
    return (r.gpr[VCORE_X86_RDX] << 32) | (uint32_t)r.gpr[VCORE_X86_RAX];
}

/* WRMSR through the run loop; true when it raised #GP(0). */
static bool wrmsr(vcore_vcpu_t *c, uint32_t index, uint64_t value)
{
    vcore_exit_t e = make_exit(VCORE_EXIT_WRMSR);
    e.u.msr.index = index;
    e.u.msr.value = value;
    ck_assert_int_eq(vcore_mock_push_exit(c, &e), VCORE_OK);
    e = make_exit(VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_mock_push_exit(c, &e), VCORE_OK);
    uint64_t before = vcore_mock_count(c, VCORE_MOCK_OP_DELIVER_EXCEPTION);
    vcore_exit_t out = make_exit(VCORE_EXIT_NONE);
    ck_assert_int_eq(vcore_vcpu_run(c, &out), VCORE_OK);
    ck_assert_uint_eq(out.reason, VCORE_EXIT_HLT);
    if (vcore_mock_count(c, VCORE_MOCK_OP_DELIVER_EXCEPTION) == before)
        return false;
    vcore_mock_event_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_mock_last_event(c, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.vector, 13);
    ck_assert_uint_eq(ev.error_code, 0);
    return true;
}

/* The mock's last TLB flush of vCPU c. */
static vcore_mock_flush_t last_flush(vcore_vcpu_t *c)
{
    vcore_mock_flush_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_mock_last_flush(c, &f), VCORE_OK);
    return f;
}

#endif /* VCORE_TEST_HYPERV_FIXTURE_H */
