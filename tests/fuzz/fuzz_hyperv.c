/* libFuzzer target: a Hyper-V hypercall exit with arbitrary control word,
 * registers (64-bit, 32-bit, CPL 3, real mode), XMM0-XMM5, VP indexes and
 * input page, through vcore_vcpu_run() on the mock backend.
 * Invariants: no crash or sanitizer report; the outcome (result registers,
 * RIP, delivered exception, pending vectors, flushes) is the same when
 * only the page after the input page changes - the call never reads past
 * the input page - and when the same input runs again (deterministic). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/backend.h>
#include <virtcore/virtcore.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const vcore_backend_t vcore__backend_mock_ops;

#define NV 4u
static uint8_t ram[2 * 4096] __attribute__((aligned(4096)));

typedef struct fz_in {
    const uint8_t *d;
    size_t n, off;
} fz_in_t;

static uint64_t take(fz_in_t *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)(in->off < in->n ? in->d[in->off++] : 0) << (8 * i);
    return v;
}

typedef struct outcome {
    uint32_t reason, flags;
    uint64_t rax, rdx, rip;
    uint64_t exc;
    uint64_t pending[NV][4];
    uint64_t flushes[NV];
    uint32_t flush_kind[NV], flush_count[NV];
} outcome_t;

static void must(int ok)
{
    if (!ok)
        abort();
}

static void run_once(const uint8_t *data, size_t size, uint8_t poison, outcome_t *o)
{
    fz_in_t in = {data, size, 0};
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_mock_ops;
    cfg.max_vcpus = NV;
    vcore_vm_t *vm;
    vcore_vcpu_t *v[NV];
    must(vcore_vm_create(&cfg, &vm) == VCORE_OK);
    vcore_hv_config_t hc;
    vcore_hv_config_init(&hc);
    uint8_t sel = (uint8_t)take(&in, 1);
    if (sel & 0x80)
        hc.features &= ~(uint32_t)VCORE_HV_F_XMM_INPUT;
    must(vcore_hv_enable(vm, &hc) == VCORE_OK);
    memset(ram + 4096, poison, 4096);
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = sizeof(ram), .hva = ram};
    must(vcore_vm_map_memory(vm, &r) == VCORE_OK);
    for (uint32_t i = 0; i < NV; i++)
        must(vcore_vcpu_create(vm, NULL, &v[i]) == VCORE_OK);
    must(vcore_hv_set_msr(v[0], VCORE_HV_MSR_GUEST_OS_ID, 1) == VCORE_OK);
    for (uint32_t i = 1; i < NV; i++)
        (void)!vcore_hv_set_msr(v[i], VCORE_HV_MSR_VP_INDEX, take(&in, 2) & 0x1fff);
    /* The caller's mode: 64-bit, 32-bit, CPL 3 or real mode. */
    vcore_cpuid_entry_t t[4];
    memset(t, 0, sizeof(t));
    t[0].eax = 1;
    t[1].function = 1;
    t[1].edx = (1u << 6) | (1u << 13) | (1u << 9);
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000001u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 29) | (1u << 20) | (1u << 11);
    must(vcore_vcpu_set_cpuid(v[0], t, 4) == VCORE_OK);
    uint32_t mode = sel & 3;
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    must(vcore_vcpu_get_sregs(v[0], &s) == VCORE_OK);
    if (mode != 3) {
        bool l = mode == 0;
        uint32_t dpl = mode == 2 ? 3u : 0u;
        s.cr0 = l ? 0x80000011u : 0x11u;
        s.cr4 = l ? (1u << 5) : 0;
        s.efer = l ? ((1u << 8) | (1u << 10)) : 0;
        s.seg[VCORE_X86_CS].ar = 0xbu | VCORE_X86_AR_S | VCORE_X86_AR_P | (dpl << 5) |
                                 (l ? VCORE_X86_AR_L : VCORE_X86_AR_DB);
        s.seg[VCORE_X86_SS].ar = 0x3u | VCORE_X86_AR_S | VCORE_X86_AR_P | (dpl << 5);
        must(vcore_vcpu_set_sregs(v[0], &s) == VCORE_OK);
    }
    vcore_x86_regs_t g = {.size = sizeof(g)};
    must(vcore_vcpu_get_regs(v[0], &g) == VCORE_OK);
    for (int i = 0; i < 16; i++)
        g.gpr[i] = take(&in, 8);
    /* Memory-form GPAs stay in the input page (page 0) or far outside RAM,
     * never in page 1: whatever page 1 holds must not matter. */
    uint64_t gsel = take(&in, 1);
    uint64_t gpa = (gsel & 1) ? (take(&in, 8) | (1ull << 20)) : (take(&in, 2) & 0xfff);
    bool fast = (g.gpr[mode == 0 ? VCORE_X86_RCX : VCORE_X86_RAX] >> 16) & 1u;
    if (!fast && mode == 0) {
        g.gpr[VCORE_X86_RDX] = gpa;
    } else if (!fast) { /* EBX:ECX */
        g.gpr[VCORE_X86_RBX] = gpa >> 32;
        g.gpr[VCORE_X86_RCX] = (uint32_t)gpa;
    }
    g.rip = 0x1000;
    g.rflags = 2 | (take(&in, 1) & 1 ? 0x200 : 0);
    must(vcore_vcpu_set_regs(v[0], &g) == VCORE_OK);
    for (uint32_t i = 0; i < 6; i++)
        must(vcore_mock_set_xmm(v[0], i, take(&in, 8), take(&in, 8)) == VCORE_OK);
    memset(ram, 0, 4096);
    for (uint32_t i = 0; i < 4096 && in.off < in.n; i++)
        ram[i] = (uint8_t)take(&in, 1);

    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = VCORE_EXIT_HYPERCALL;
    e.u.hypercall.insn_len = 3;
    must(vcore_mock_push_exit(v[0], &e) == VCORE_OK);
    e.reason = VCORE_EXIT_HLT;
    must(vcore_mock_push_exit(v[0], &e) == VCORE_OK);
    vcore_exit_t out;
    memset(&out, 0, sizeof(out));
    out.size = sizeof(out);
    must(vcore_vcpu_run(v[0], &out) == VCORE_OK);
    o->reason = out.reason;
    o->flags = out.flags;
    if (out.reason == VCORE_EXIT_HYPERCALL) { /* left to the VMM: answer it */
        out.u.hypercall.ret = 0;
        must(vcore_vcpu_run(v[0], &out) == VCORE_OK);
    }
    must(out.reason == VCORE_EXIT_HLT);
    must(vcore_vcpu_get_regs(v[0], &g) == VCORE_OK);
    o->rax = g.gpr[VCORE_X86_RAX];
    o->rdx = g.gpr[VCORE_X86_RDX];
    o->rip = g.rip;
    o->exc = vcore_mock_count(v[0], VCORE_MOCK_OP_DELIVER_EXCEPTION);
    /* RIP moves by the VMCALL exactly when no exception was raised. */
    must((o->rip == 0x1003) == (o->exc == 0));
    for (uint32_t i = 0; i < NV; i++) {
        must(vcore_hv_pending_vectors(v[i], o->pending[i]) == VCORE_OK);
        if (i) {
            e.reason = VCORE_EXIT_HLT;
            must(vcore_mock_push_exit(v[i], &e) == VCORE_OK);
            must(vcore_vcpu_run(v[i], &out) == VCORE_OK);
        }
        o->flushes[i] = vcore_mock_count(v[i], VCORE_MOCK_OP_FLUSH_TLB);
        vcore_mock_flush_t f = {.size = sizeof(f)};
        if (vcore_mock_last_flush(v[i], &f) == VCORE_OK) {
            o->flush_kind[i] = f.kind;
            o->flush_count[i] = f.count;
        }
    }
    vcore_vm_destroy(vm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome_t a, b, c;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    run_once(data, size, 0x00, &a);
    run_once(data, size, 0xa5, &b);
    run_once(data, size, 0x00, &c);
    must(memcmp(&a, &b, sizeof(a)) == 0);
    must(memcmp(&a, &c, sizeof(a)) == 0);
    return 0;
}
