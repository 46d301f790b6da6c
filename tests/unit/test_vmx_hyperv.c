/*
 * The vmx backend's side of the Hyper-V contract (docs/hyperv.md,
 * "Backends") against the strict fake of its primitives: vcpu_flush_tlb
 * (INVVPID types by SDM Vol. 3, "Invalidating Cached Translation
 * Information"), the hypercall reply's fault flag, the guest's x87/SSE
 * state (FXSAVE image, XMM0-XMM15 for XMM fast input) and vcpu_kick.
 *
 * Expected values come from the SDM and the TLFS, never from what the code
 * printed.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdlib.h>
#include <string.h>

#include "backend-vmx/vmx.h"
#include "support.h"
#include "vmx_fake.h"

extern const vcore_backend_t vcore__backend_vmx_ops;

#define RAM_SIZE (2u << 20)
#define GCODE 0x10000u
#define NVCPU 3

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpus[NVCPU];
static uint8_t *ram;
#define FIXTURE_MAX_CPUS VMX_FAKE_MAX_CPUS
#define FIXTURE_THIS_CPU vmx_fake.this_cpu
#include "backend_fixture.h"

static void set_cpuid(vcore_vcpu_t *v)
{
    vcore_cpuid_entry_t t[5];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 1;
    t[0].ebx = 0x756e6547; /* "GenuineIntel" */
    t[0].edx = 0x49656e69;
    t[0].ecx = 0x6c65746e;
    t[1].function = 1;
    t[1].eax = 0x50654;
    /* FPU PSE TSC MSR PAE CX8 APIC SEP PGE CMOV PAT FXSR SSE SSE2 */
    t[1].edx = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9) |
               (1u << 11) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 24) | (1u << 25) | (1u << 26);
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000008u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 11) | (1u << 20) | (1u << 29); /* SYSCALL NX LM */
    t[4].function = 0x80000008u;
    t[4].eax = 0x3028;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, 5), VCORE_OK);
}

/* 64-bit mode at GCODE; cpl 0 or 3. */
static void set_long_mode(vcore_vcpu_t *v, uint32_t cpl)
{
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(v, &sr), VCORE_OK);
    uint32_t dpl = cpl << VCORE_X86_AR_DPL_SHIFT;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        sr.seg[i].selector = (uint16_t)(0x10 | cpl);
        sr.seg[i].base = 0;
        sr.seg[i].limit = 0xffffffffu;
        sr.seg[i].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u | VCORE_X86_AR_DB | VCORE_X86_AR_G | dpl;
    }
    sr.seg[VCORE_X86_CS].selector = (uint16_t)(8 | cpl);
    sr.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_L | VCORE_X86_AR_G | dpl;
    sr.seg[VCORE_X86_LDTR].ar = VCORE_X86_AR_UNUSABLE;
    sr.seg[VCORE_X86_LDTR].selector = 0;
    sr.seg[VCORE_X86_TR].selector = 0x18;
    sr.seg[VCORE_X86_TR].limit = 0x67;
    sr.seg[VCORE_X86_TR].ar = VCORE_X86_AR_P | 0xbu;
    sr.cr0 = 0x80000031ull;
    sr.cr3 = 0x1000;
    sr.cr4 = 0x20;
    sr.efer = 0x500;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    r.rip = GCODE;
    r.rflags = 2;
    r.gpr[VCORE_X86_RSP] = 0x1ff000;
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &r), VCORE_OK);
}

/* A VM of NVCPU vCPUs; hv: Hyper-V with every enlightenment. */
static void vm_up(bool hv)
{
    host_init();
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    cfg.max_vcpus = NVCPU;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    if (hv) {
        vcore_hv_config_t h;
        vcore_hv_config_init(&h);
        ck_assert_int_eq(vcore_hv_enable(vm, &h), VCORE_OK);
    }
    void *p = NULL;
    ck_assert_int_eq(posix_memalign(&p, 2u << 20, RAM_SIZE), 0);
    ram = p;
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    for (int i = 0; i < NVCPU; i++) {
        ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpus[i]), VCORE_OK);
        set_cpuid(vcpus[i]);
        set_long_mode(vcpus[i], 0);
    }
}

static void setup(void)
{
    vmx_fake_reset();
}

static void teardown(void)
{
    for (int i = 0; i < NVCPU; i++)
        if (vcpus[i])
            vcore_vcpu_destroy(vcpus[i]);
    if (vm)
        vcore_vm_destroy(vm);
    memset(vcpus, 0, sizeof(vcpus));
    vm = NULL;
    /* Every page the backend took (the FXSAVE image included) went back. */
    ck_assert_int_eq(pages_out, 0);
    free(ram);
    ram = NULL;
}

static vcore_exit_t new_exit(void)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    return e;
}

static int flush(int i, uint32_t kind, const uint64_t *ranges, uint32_t n)
{
    vcore_tlb_flush_t req = {kind, n, ranges};
    return vcore__backend_vmx_ops.vcpu_flush_tlb(vcpus[i], vcore_vcpu_backend_priv(vcpus[i]), &req);
}

/* ---- vcpu_flush_tlb ---- */

/* Bochs' corei7_skylake_x reports every INVVPID type (EPT_VPID_CAP bits
 * 40-43): ALL is single-context (1), NON_GLOBAL single-context retaining
 * globals (3), both for the vCPU's own VPID (vCPU id + 1, never 0). */
START_TEST(flush_all_and_non_global_by_vpid)
{
    vm_up(false);
    uint32_t before = vmx_fake.ninvvpid;
    ck_assert_int_eq(flush(2, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid, before + 1);
    ck_assert_uint_eq(vmx_fake.invvpid[before].type, 1);
    ck_assert_uint_eq(vmx_fake.invvpid[before].vpid, 3);
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_NON_GLOBAL, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid, before + 2);
    ck_assert_uint_eq(vmx_fake.invvpid[before + 1].type, 3);
    ck_assert_uint_eq(vmx_fake.invvpid[before + 1].vpid, 2);
}
END_TEST

/* LIST: one individual-address INVVPID (type 0) per page; bits 11:0 of a
 * range are the number of ADDITIONAL pages (TLFS HV_GVA_RANGE); a
 * non-canonical page is skipped (INVVPID type 0 would VMfail on it). */
START_TEST(flush_list_per_page)
{
    vm_up(false);
    const uint64_t ranges[] = {0x7000 | 2, 0xffff800000000000ull, 0x0000800000000000ull, 0x12345000};
    uint32_t before = vmx_fake.ninvvpid;
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, ranges, 4), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid - before, 5);
    const uint64_t want[] = {0x7000, 0x8000, 0x9000, 0xffff800000000000ull, 0x12345000};
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(vmx_fake.invvpid[before + (uint32_t)i].type, 0);
        ck_assert_uint_eq(vmx_fake.invvpid[before + (uint32_t)i].vpid, 1);
        ck_assert_uint_eq(vmx_fake.invvpid[before + (uint32_t)i].gla, want[i]);
    }
}
END_TEST

/* A long list (more than 64 pages) is one single-context INVVPID. */
START_TEST(flush_long_list_is_single_context)
{
    vm_up(false);
    const uint64_t ranges[] = {0x100000 | 32, 0x200000 | 31}; /* 33 + 32 = 65 pages */
    uint32_t before = vmx_fake.ninvvpid;
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, ranges, 2), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid - before, 1);
    ck_assert_uint_eq(vmx_fake.invvpid[before].type, 1);
    /* 64 pages in the first range and one more after it: 65, one INVVPID. */
    const uint64_t r65[] = {0x100000 | 63, 0x300000};
    before = vmx_fake.ninvvpid;
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, r65, 2), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid - before, 1);
    ck_assert_uint_eq(vmx_fake.invvpid[before].type, 1);
    /* 64 pages exactly still go page by page. */
    const uint64_t r64[] = {0x100000 | 31, 0x200000 | 31};
    before = vmx_fake.ninvvpid;
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, r64, 2), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid - before, 64);
    ck_assert_uint_eq(vmx_fake.invvpid[before + 63].gla, 0x21f000);
}
END_TEST

/* Without individual-address (bit 40) or retaining-globals (bit 43)
 * INVVPID, LIST and NON_GLOBAL widen to single-context. */
START_TEST(flush_without_fine_types)
{
    vmx_fake_set_msr(0x48c, 0x00000f0106334141ull & ~((1ull << 40) | (1ull << 43)));
    vm_up(false);
    const uint64_t ranges[] = {0x7000};
    uint32_t before = vmx_fake.ninvvpid;
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, ranges, 1), VCORE_OK);
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_NON_GLOBAL, NULL, 0), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid - before, 2);
    ck_assert_uint_eq(vmx_fake.invvpid[before].type, 1);
    ck_assert_uint_eq(vmx_fake.invvpid[before + 1].type, 1);
}
END_TEST

/* ---- vcpu_invept (nested EPT) ---- */

/* The shadow EPT the core changed: INVEPT single-context (type 1) on its
 * pointer when EPT_VPID_CAP bit 25 says it exists, all-context (type 2)
 * otherwise ("INVEPT"). */
START_TEST(invept_single_context_on_the_pointer)
{
    vm_up(false);
    uint64_t before = vmx_fake.n_invept;
    ck_assert_int_eq(vcore__backend_vmx_ops.vcpu_invept(vcpus[1], vcore_vcpu_backend_priv(vcpus[1]), 0x1234000 | 0x1e),
                     VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_invept, before + 1);
    ck_assert_uint_eq(vmx_fake.invept_type, 1);
    ck_assert_uint_eq(vmx_fake.invept_eptp, 0x1234000 | 0x1e);
}
END_TEST

START_TEST(invept_all_context_without_single)
{
    vmx_fake_set_msr(0x48c, 0x00000f0106334141ull & ~(1ull << 25));
    vm_up(false);
    uint64_t before = vmx_fake.n_invept;
    ck_assert_int_eq(vcore__backend_vmx_ops.vcpu_invept(vcpus[0], vcore_vcpu_backend_priv(vcpus[0]), 0x5000 | 0x1e),
                     VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_invept, before + 1);
    ck_assert_uint_eq(vmx_fake.invept_type, 2);
}
END_TEST

/* Without VPID the VM entry itself flushes VPID 0000H: no INVVPID. */
START_TEST(flush_without_vpid_is_the_entry)
{
    /* Secondary controls allowed-1 without "enable VPID" (bit 5). */
    vmx_fake_set_msr(0x48b, 0x02177fff00000000ull & ~(1ull << (32 + 5)));
    vm_up(false);
    ck_assert_uint_eq(((vcore__vmx_vcpu_t *)vcore_vcpu_backend_priv(vcpus[0]))->vpid, 0);
    uint32_t before = vmx_fake.ninvvpid;
    const uint64_t ranges[] = {0x7000};
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_OK);
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, ranges, 1), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid, before);
}
END_TEST

/* INVVPID acts on the processor that executes it: on another one the op
 * refuses (VCORE_ERR_STATE) and executes nothing. Bad requests: INVAL. */
START_TEST(flush_refusals)
{
    vm_up(false);
    uint32_t before = vmx_fake.ninvvpid;
    vmx_fake.this_cpu = 1;
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_ERR_STATE);
    vmx_fake.this_cpu = 0;
    ck_assert_int_eq(flush(0, 3, NULL, 0), VCORE_ERR_INVAL);
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, NULL, 1), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__backend_vmx_ops.vcpu_flush_tlb(vcpus[0], vcore_vcpu_backend_priv(vcpus[0]), NULL),
                     VCORE_ERR_INVAL);
    ck_assert_uint_eq(vmx_fake.ninvvpid, before);
}
END_TEST

/* ---- Hyper-V through the core on vmx ---- */

typedef struct hvscript {
    uint32_t step;
    uint32_t reason[4];
    uint64_t rcx[4], rdx[4], r8[4];
    uint64_t xmm0[4][2];           /* XMM0 the guest holds at the exit */
    uint64_t seen_rip[4], seen_rax[4];
    uint8_t seen_xmm0[4][16];      /* XMM0 the guest found at entry */
    uint32_t seen_inj[4];
    uint64_t n_inj;
    vcore_vcpu_t *kick;            /* vCPU the guest kicks while it runs */
} hvscript_t;

static void hv_guest(vmx_fake_t *f, vcore__vmx_gprs_t *g, void *arg)
{
    hvscript_t *s = arg;
    ck_assert_uint_lt(s->step, 4);
    uint32_t i = s->step++;
    s->seen_rip[i] = vmx_fake_get(VCORE_VMCS_GUEST_RIP);
    s->seen_rax[i] = g->gpr[VCORE_X86_RAX];
    memcpy(s->seen_xmm0[i], f->fx + 160, 16);
    if (f->n_injected != s->n_inj) {
        s->seen_inj[i] = f->inj_info;
        s->n_inj = f->n_injected;
    }
    if (s->kick) {
        ck_assert_int_eq(vcore_vcpu_kick(s->kick), VCORE_OK);
        s->kick = NULL;
    }
    g->gpr[VCORE_X86_RCX] = s->rcx[i];
    g->gpr[VCORE_X86_RDX] = s->rdx[i];
    g->gpr[VCORE_X86_R8] = s->r8[i];
    /* The guest's XMM0 is in the processor's registers when it exits. */
    for (int b = 0; b < 8; b++) {
        f->fx[160 + b] = (uint8_t)(s->xmm0[i][0] >> (8 * b));
        f->fx[168 + b] = (uint8_t)(s->xmm0[i][1] >> (8 * b));
    }
    vmx_fake_exit(s->reason[i], 0, s->reason[i] == VCORE_VMX_EXIT_VMCALL ? 3 : 1);
}

/* HvCallFlushVirtualAddressSpace, XMM fast (TLFS "XMM Fast Hypercall
 * Input"): RDX AddressSpace, R8 Flags, XMM0 low ProcessorMask. vCPU 0
 * flushes VP 1 only: vCPU 1 gets one single-context INVVPID with its own
 * VPID (2) before it next enters, vCPU 0 and vCPU 2 none. The result is
 * HV_STATUS_SUCCESS in RAX and RIP moves past the VMCALL (3 bytes). */
START_TEST(hv_xmm_fast_flush_reaches_target_only)
{
    vm_up(true);
    ck_assert_int_eq(vcore_hv_set_msr(vcpus[0], VCORE_HV_MSR_GUEST_OS_ID, 0x8100000000000000ull), VCORE_OK);
    vcore_exit_t e = new_exit();
    hvscript_t s;
    /* Every vCPU has run once: its first entry flushed its VPID (vmcs01 built). */
    for (int i = 1; i < NVCPU; i++) {
        memset(&s, 0, sizeof(s));
        s.reason[0] = VCORE_VMX_EXIT_HLT;
        vmx_fake.guest = hv_guest;
        vmx_fake.guest_arg = &s;
        ck_assert_int_eq(vcore_vcpu_run(vcpus[i], &e), VCORE_OK);
    }
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_VMCALL;
    s.rcx[0] = 0x0002u | (1u << 16); /* call code 2, fast */
    s.rdx[0] = 0x1000;               /* AddressSpace */
    s.r8[0] = 0;                     /* flags */
    s.xmm0[0][0] = 1u << 1;          /* ProcessorMask: VP 1 */
    s.reason[1] = VCORE_VMX_EXIT_HLT;
    s.xmm0[1][0] = 0xfeedface;       /* what the guest holds at the HLT exit */
    s.xmm0[1][1] = 0x0123456789abcdefull;
    vmx_fake.guest_arg = &s;
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(s.step, 2);
    ck_assert_uint_eq(s.seen_rip[1], GCODE + 3);
    ck_assert_uint_eq(s.seen_rax[1], VCORE_HV_STATUS_SUCCESS);
    /* The guest's XMM registers as it left them, through the state group. */
    uint64_t xmm[12];
    ck_assert_int_eq(vcore_hv_get_xmm(vcpus[0], xmm), VCORE_OK);
    ck_assert_uint_eq(xmm[0], 0xfeedface);
    ck_assert_uint_eq(xmm[1], 0x0123456789abcdefull);
    uint32_t before = vmx_fake.ninvvpid;
    /* vCPU 2 (not a target) enters without a flush. */
    hvscript_t s2;
    memset(&s2, 0, sizeof(s2));
    s2.reason[0] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest_arg = &s2;
    ck_assert_int_eq(vcore_vcpu_run(vcpus[2], &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid, before);
    /* vCPU 1 (the target) flushes once, with its own VPID, then enters. */
    memset(&s2, 0, sizeof(s2));
    s2.reason[0] = VCORE_VMX_EXIT_HLT;
    e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[1], &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid, before + 1);
    ck_assert_uint_eq(vmx_fake.invvpid[before].type, 1);
    ck_assert_uint_eq(vmx_fake.invvpid[before].vpid, 2);
    /* Only once. */
    memset(&s2, 0, sizeof(s2));
    s2.reason[0] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(vcore_vcpu_run(vcpus[1], &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.ninvvpid, before + 1);
}
END_TEST

/* A hypercall from CPL 3 is #UD ("Legal Hypercall Environments"): the
 * reply carries fault = 1, the backend leaves RAX and RIP, and the next
 * entry injects #UD (vector 6, hardware exception: type 3, no error code). */
START_TEST(hv_fault_reply_leaves_rax_and_rip)
{
    vm_up(true);
    ck_assert_int_eq(vcore_hv_set_msr(vcpus[0], VCORE_HV_MSR_GUEST_OS_ID, 0x8100000000000000ull), VCORE_OK);
    set_long_mode(vcpus[0], 3);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpus[0], &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x1234;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpus[0], &r), VCORE_OK);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_VMCALL;
    s.rcx[0] = 0x0002u;
    s.reason[1] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(s.step, 2);
    ck_assert_uint_eq(s.seen_rip[1], GCODE);
    ck_assert_uint_eq(s.seen_rax[1], 0x1234);
    ck_assert_uint_eq(s.seen_inj[1], 0x80000306u);
}
END_TEST

/* An unknown call code completes with HV_STATUS_INVALID_HYPERCALL_CODE (2)
 * in RAX, RIP past the VMCALL. */
START_TEST(hv_status_reply_completes)
{
    vm_up(true);
    ck_assert_int_eq(vcore_hv_set_msr(vcpus[0], VCORE_HV_MSR_GUEST_OS_ID, 0x8100000000000000ull), VCORE_OK);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_VMCALL;
    s.rcx[0] = 0x0fffu | (1u << 16);
    s.reason[1] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(s.seen_rip[1], GCODE + 3);
    ck_assert_uint_eq(s.seen_rax[1], 2);
}
END_TEST

/* ---- x87/SSE state ---- */

/* The guest never sees the host's registers or another vCPU's: each entry
 * loads the vCPU's image (initially all zero XMM) and each exit puts the
 * host's back (the fake's host XMM0 is A5H bytes). FXSAVE/FXRSTOR pair up. */
START_TEST(fpu_switched_per_vcpu)
{
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    s.xmm0[0][0] = 0x1111222233334444ull;
    s.xmm0[0][1] = 0x5555666677778888ull;
    s.reason[1] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    uint8_t zero[16] = {0}, host16[16];
    memset(host16, 0xa5, 16);
    uint64_t saves = vmx_fake.n_fxsave, rstors = vmx_fake.n_fxrstor;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_mem_eq(s.seen_xmm0[0], zero, 16);
    ck_assert_mem_eq(vmx_fake.fx + 160, host16, 16);
    ck_assert_uint_eq(vmx_fake.n_fxsave - saves, 2);
    ck_assert_uint_eq(vmx_fake.n_fxrstor - rstors, 2);
    /* vCPU 0 finds its own XMM0 again; vCPU 1 its own zeroes. */
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    const uint8_t mine[16] = {0x44, 0x44, 0x33, 0x33, 0x22, 0x22, 0x11, 0x11,
                              0x88, 0x88, 0x77, 0x77, 0x66, 0x66, 0x55, 0x55};
    ck_assert_mem_eq(s.seen_xmm0[1], mine, 16);
    hvscript_t s1;
    memset(&s1, 0, sizeof(s1));
    s1.reason[0] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest_arg = &s1;
    ck_assert_int_eq(vcore_vcpu_run(vcpus[1], &e), VCORE_OK);
    ck_assert_mem_eq(s1.seen_xmm0[0], zero, 16);
}
END_TEST

/* The FPU group maps onto the FXSAVE image ("FXSAVE" layout): FCW at 0,
 * FSW at 2, the abridged tag at 4 (bit i: physical register i not empty),
 * FOP at 6, MXCSR at 24. Reading back rebuilds the full tag word from the
 * registers: TOP = 6, so ST(0) is physical register 6, ST(1) 7, ST(2) 0;
 * 1.0 is valid (00), +0 zero (01), infinity special (10), the rest empty. */
START_TEST(fpu_group_and_tag_word)
{
    vm_up(false);
    vcore_x86_fpu_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpus[0], &f), VCORE_OK);
    f.fcw = 0x027f;
    f.fsw = 6u << 11;
    f.ftw = 0x4ffe; /* p7 zero, p6 valid, p5-p1 empty, p0 special */
    f.fop = 0x7ff;
    f.mxcsr = 0x1fc0; /* DAZ: MXCSR_MASK FFFFH allows it */
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpus[0], &f), VCORE_OK);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    uint8_t img[32];
    /* Look at the image the entry loads. */
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    memcpy(img, ((vcore__vmx_vcpu_t *)vcore_vcpu_backend_priv(vcpus[0]))->fx, 32);
    ck_assert_uint_eq(img[0] | img[1] << 8, 0x027f);
    ck_assert_uint_eq(img[2] | img[3] << 8, 0x3000);
    ck_assert_uint_eq(img[4], 0xc1);
    ck_assert_uint_eq(img[6] | img[7] << 8, 0x7ff);
    ck_assert_uint_eq((uint32_t)img[24] | (uint32_t)img[25] << 8, 0x1fc0);
    /* Register contents: ST(0) 1.0, ST(1) +0, ST(2) +infinity. */
    uint8_t *fx = ((vcore__vmx_vcpu_t *)vcore_vcpu_backend_priv(vcpus[0]))->fx;
    memset(fx + 32, 0, 128);
    fx[32 + 7] = 0x80;
    fx[32 + 8] = 0xff;
    fx[32 + 9] = 0x3f;
    fx[64 + 7] = 0x80;
    fx[64 + 8] = 0xff;
    fx[64 + 9] = 0x7f;
    vcore_x86_fpu_t g = {.size = sizeof(g)};
    /* Force a re-read of the group from the backend. */
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    /* The guest ran with these registers: the exit saves them back. */
    memcpy(vmx_fake.fx, fx, 512);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpus[0], &g), VCORE_OK);
    ck_assert_uint_eq(g.ftw, 0x4ffe);
    ck_assert_uint_eq(g.fcw, 0x027f);
    ck_assert_uint_eq(g.mxcsr, 0x1fc0);
    ck_assert_uint_eq(g.mxcsr_mask, 0xffff);
}
END_TEST

/* Writing the FPU group changes its fields only: FIP/FDP (bytes 8-23), the
 * MXCSR_MASK bytes, ST0-ST7 and XMM0-XMM15 the guest left stay as they are;
 * reading the XMM group changes nothing in the image. */
START_TEST(fpu_set_keeps_the_rest_of_the_image)
{
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    s.xmm0[0][0] = 0x0706050403020100ull;
    s.xmm0[0][1] = 0x0f0e0d0c0b0a0908ull;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    uint8_t fx_before[512];
    vcore_exit_t e = new_exit();
    /* A first run: the core's FPU group (from RESET) reaches the image. */
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    s.xmm0[0][0] = 0x0706050403020100ull;
    s.xmm0[0][1] = 0x0f0e0d0c0b0a0908ull;
    /* The guest's FIP/FDP, ST0 and XMM1-XMM15 are non-zero (in its image). */
    uint8_t *img = ((vcore__vmx_vcpu_t *)vcore_vcpu_backend_priv(vcpus[0]))->fx;
    memset(img + 8, 0x5a, 16);
    memset(img + 32, 0x3c, 16);
    for (int i = 1; i < 16; i++)
        memset(img + 160 + 16 * i, 0x40 + i, 16);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    memcpy(fx_before, img, 512);
    vcore_x86_fpu_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpus[0], &f), VCORE_OK);
    f.fcw = 0x007f;
    f.fop = 0x123;
    f.mxcsr = 0x1f00;
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpus[0], &f), VCORE_OK);
    uint64_t xmm[12];
    ck_assert_int_eq(vcore_hv_get_xmm(vcpus[0], xmm), VCORE_ERR_INVAL); /* not a Hyper-V VM */
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    s.xmm0[0][0] = 0x0706050403020100ull;
    s.xmm0[0][1] = 0x0f0e0d0c0b0a0908ull;
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK); /* the group reaches the image */
    ck_assert_mem_eq(img + 8, fx_before + 8, 16);
    ck_assert_mem_eq(img + 32, fx_before + 32, 128);
    ck_assert_mem_eq(img + 160, fx_before + 160, 256);
    ck_assert_uint_eq(img[0] | img[1] << 8, 0x007f);
    ck_assert_uint_eq(img[6] | img[7] << 8, 0x123);
    ck_assert_uint_eq((uint32_t)img[24] | (uint32_t)img[25] << 8, 0x1f00);
    ck_assert_uint_eq(img[26] | img[27], 0);
    /* XMM1-XMM15 as the guest left them, through the state group. */
    vcore_x86_state_t st;
    memset(&st, 0, sizeof(st));
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64};
    vs.u.x86 = &st;
    ck_assert_int_eq(vcore__backend_vmx_ops.vcpu_get_state(vcpus[0], vcore_vcpu_backend_priv(vcpus[0]), &vs,
                                                           VCORE_X86_STATE_XMM),
                     VCORE_OK);
    ck_assert_uint_eq(st.xmm[0][0], 0x0706050403020100ull);
    ck_assert_uint_eq(st.xmm[15][1], 0x4f4f4f4f4f4f4f4full);
    ck_assert_uint_eq(st.xmm[1][0], 0x4141414141414141ull);
}
END_TEST

/* MXCSR_MASK FFBFH (no DAZ): the backend reports the processor's mask,
 * and an MXCSR with bit 6 (which would make FXRSTOR #GP) is refused when
 * it reaches the backend, with nothing of the group applied. */
START_TEST(fpu_mxcsr_outside_mask_refused)
{
    vmx_fake.fx[28] = 0xbf;
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    s.reason[1] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    vcore_x86_fpu_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpus[0], &f), VCORE_OK);
    ck_assert_uint_eq(f.mxcsr_mask, 0xffbf);
    ck_assert_uint_eq(f.mxcsr, 0x1f80);
    ck_assert_uint_eq(f.fcw, 0x037f);
    ck_assert_uint_eq(f.ftw, 0xffff);
    f.fcw = 0x027f;
    f.mxcsr = 0x1fc0;
    f.mxcsr_mask = 0xffff; /* the VMM claims DAZ: the core's check passes */
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpus[0], &f), VCORE_OK);
    uint64_t entries = vmx_fake.n_enter;
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_ERR_INVAL);
    ck_assert_uint_eq(vmx_fake.n_enter, entries);
    const uint8_t *fx = ((vcore__vmx_vcpu_t *)vcore_vcpu_backend_priv(vcpus[0]))->fx;
    ck_assert_uint_eq(fx[0] | fx[1] << 8, 0x037f);
    ck_assert_uint_eq(fx[24] | fx[25] << 8, 0x1f80);
}
END_TEST

/* The host must allow FXSAVE: with CR0.TS the run refuses (VCORE_ERR_STATE)
 * before anything is entered. */
START_TEST(fpu_host_ts_refused)
{
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    VMX_FAKE_CPU.cr0 |= 1u << 3;
    uint64_t entries = vmx_fake.n_enter;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_ERR_STATE);
    ck_assert_uint_eq(vmx_fake.n_enter, entries);
    VMX_FAKE_CPU.cr0 &= ~(1ull << 3);
    VMX_FAKE_CPU.cr4 &= ~(1ull << 9);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_ERR_STATE);
    ck_assert_uint_eq(vmx_fake.n_enter, entries);
}
END_TEST

/* ---- kick ---- */

/* A kick before the run: the run returns VCORE_EXIT_INTERRUPTED without
 * entering; the kick is used up, the next run enters. */
START_TEST(kick_before_run)
{
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    ck_assert_int_eq(vcore_vcpu_kick(vcpus[0]), VCORE_OK);
    ck_assert_uint_eq(n_kick_cpu, 0); /* not in guest mode: no interrupt */
    uint64_t entries = vmx_fake.n_enter;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_eq(vmx_fake.n_enter, entries);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vmx_fake.n_enter, entries + 1);
}
END_TEST

/* A kick while the vCPU is in guest mode interrupts its processor through
 * the host's kick_cpu; the external interrupt exits (reason 1) and the run
 * returns VCORE_EXIT_INTERRUPTED; the kick does not linger to the next run. */
START_TEST(kick_in_guest_interrupts_its_processor)
{
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_EXTERNAL_INTERRUPT;
    s.kick = vcpus[0];
    s.reason[1] = VCORE_VMX_EXIT_HLT;
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(n_kick_cpu, 1);
    ck_assert_uint_eq(kicked_cpu, 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(s.step, 2);
}
END_TEST

/* vCPUs created on processor 2 are kicked there. */
START_TEST(kick_names_the_vcpus_processor)
{
    vmx_fake.this_cpu = 2;
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.reason[0] = VCORE_VMX_EXIT_EXTERNAL_INTERRUPT;
    s.kick = vcpus[1];
    vmx_fake.guest = hv_guest;
    vmx_fake.guest_arg = &s;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[1], &e), VCORE_OK);
    ck_assert_uint_eq(kicked_cpu, 2);
    ck_assert_uint_eq(n_kick_cpu, 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("vmx_hyperv");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, flush_all_and_non_global_by_vpid);
    tcase_add_test(t, flush_list_per_page);
    tcase_add_test(t, flush_long_list_is_single_context);
    tcase_add_test(t, flush_without_fine_types);
    tcase_add_test(t, flush_without_vpid_is_the_entry);
    tcase_add_test(t, invept_single_context_on_the_pointer);
    tcase_add_test(t, invept_all_context_without_single);
    tcase_add_test(t, flush_refusals);
    tcase_add_test(t, hv_xmm_fast_flush_reaches_target_only);
    tcase_add_test(t, hv_fault_reply_leaves_rax_and_rip);
    tcase_add_test(t, hv_status_reply_completes);
    tcase_add_test(t, fpu_switched_per_vcpu);
    tcase_add_test(t, fpu_group_and_tag_word);
    tcase_add_test(t, fpu_mxcsr_outside_mask_refused);
    tcase_add_test(t, fpu_set_keeps_the_rest_of_the_image);
    tcase_add_test(t, fpu_host_ts_refused);
    tcase_add_test(t, kick_before_run);
    tcase_add_test(t, kick_in_guest_interrupts_its_processor);
    tcase_add_test(t, kick_names_the_vcpus_processor);
    suite_add_tcase(su, t);
    return su;
}

int main(void)
{
    return vcore_test_run(suite());
}
