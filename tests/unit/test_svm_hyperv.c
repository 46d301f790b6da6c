/*
 * The svm backend's side of the Hyper-V contract (docs/hyperv.md,
 * "Backends") against the strict fake of its primitives: vcpu_flush_tlb
 * (APM Vol. 2, "TLB Control", "TLB Flush", "INVLPGA"), the hypercall
 * reply's fault flag and instruction length, the hypercall page (VMMCALL
 * on AMD), the guest's x87/SSE state (FXSAVE image, XMM0-XMM15 for XMM
 * fast input) and vcpu_kick.
 *
 * Expected values come from the APM and the TLFS, never from what the code
 * printed.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdlib.h>
#include <string.h>

#include "backend-svm/svm.h"
#include "support.h"
#include "svm_fake.h"

extern const vcore_backend_t vcore__backend_svm_ops;

#define RAM_SIZE (2u << 20)
#define GCODE 0x10000u
#define NVCPU 3
#define HCPAGE 0x6000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpus[NVCPU];
static uint8_t *ram;
#define FIXTURE_MAX_CPUS SVM_FAKE_MAX_CPUS
#define FIXTURE_THIS_CPU svm_fake.this_cpu
#include "backend_fixture.h"

/* An AMD vCPU ("AuthenticAMD"): long mode, NX, SYSCALL, FXSR/SSE. */
static void set_cpuid(vcore_vcpu_t *v)
{
    vcore_cpuid_entry_t t[5];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 1;
    t[0].ebx = 0x68747541; /* "Auth" */
    t[0].edx = 0x69746e65; /* "enti" */
    t[0].ecx = 0x444d4163; /* "cAMD" */
    t[1].function = 1;
    t[1].eax = 0x00800f11;
    t[1].edx = 0x178bfbff;
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000008u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 11) | (1u << 20) | (1u << 29);
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
    sr.cr4 = 0x220; /* OSFXSR, PAE */
    sr.efer = 0x500;
    ck_assert_int_eq(vcore_vcpu_set_sregs(v, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    r.rip = GCODE;
    r.rflags = 2;
    r.gpr[VCORE_X86_RSP] = 0x1ff000;
    ck_assert_int_eq(vcore_vcpu_set_regs(v, &r), VCORE_OK);
}

/* A VM of NVCPU vCPUs; hv: Hyper-V with every enlightenment. Guest page
 * tables at 1000H-3FFFH map the first GiB with 2 MiB pages; VMMCALL
 * (0F 01 D9) at GCODE for the paths that decode it. */
static void vm_up(bool hv)
{
    host_init();
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
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
    uint64_t *pml4 = (uint64_t *)(void *)(ram + 0x1000), *pdpt = pml4 + 512, *pd = pml4 + 1024;
    pml4[0] = 0x2003;
    pdpt[0] = 0x3003;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | 0x83;
    ram[GCODE] = 0x0f;
    ram[GCODE + 1] = 0x01;
    ram[GCODE + 2] = 0xd9;
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
    svm_fake_reset();
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

static vcore__svm_vcpu_t *priv_of(int i)
{
    return vcore_vcpu_backend_priv(vcpus[i]);
}

static int flush(int i, uint32_t kind, const uint64_t *ranges, uint32_t n)
{
    vcore_tlb_flush_t req = {kind, n, ranges};
    return vcore__backend_svm_ops.vcpu_flush_tlb(vcpus[i], priv_of(i), &req);
}

/* ---- guest script ---- */

#define STEPS 4
typedef struct hvscript {
    uint32_t step;
    uint64_t code[STEPS];          /* EXITCODE of each #VMEXIT */
    uint32_t len[STEPS];           /* nRIP = RIP + len (0: none written) */
    uint64_t rcx[STEPS], rdx[STEPS], r8[STEPS];
    uint64_t xmm0[STEPS][2];       /* XMM0 the guest holds at the exit */
    uint64_t seen_rip[STEPS], seen_rax[STEPS], seen_inj[STEPS];
    uint32_t seen_asid[STEPS];
    uint8_t seen_tlb[STEPS];
    uint8_t seen_xmm0[STEPS][16];  /* XMM0 the guest found at entry */
    vcore_vcpu_t *kick;            /* vCPU the guest kicks while it runs */
} hvscript_t;

static void hv_guest(svm_fake_t *f, vcore_vmcb_t *v, vcore__svm_gprs_t *g, void *arg)
{
    hvscript_t *s = arg;
    uint8_t *fx = f->cpu[f->this_cpu].fx;
    ck_assert_uint_lt(s->step, STEPS);
    uint32_t i = s->step++;
    s->seen_rip[i] = v->save.rip;
    s->seen_rax[i] = v->save.rax;
    s->seen_inj[i] = f->inj;
    s->seen_asid[i] = v->control.asid;
    s->seen_tlb[i] = v->control.tlb_control;
    memcpy(s->seen_xmm0[i], fx + 160, 16);
    if (s->kick) {
        ck_assert_int_eq(vcore_vcpu_kick(s->kick), VCORE_OK);
        s->kick = NULL;
    }
    g->gpr[VCORE_X86_RCX] = s->rcx[i];
    g->gpr[VCORE_X86_RDX] = s->rdx[i];
    g->gpr[VCORE_X86_R8] = s->r8[i];
    /* The guest's XMM0 is in the processor's registers when it exits. */
    for (int b = 0; b < 8; b++) {
        fx[160 + b] = (uint8_t)(s->xmm0[i][0] >> (8 * b));
        fx[168 + b] = (uint8_t)(s->xmm0[i][1] >> (8 * b));
    }
    svm_fake_exit(s->code[i], 0, 0, s->len[i] ? v->save.rip + s->len[i] : 0);
}

static void use(hvscript_t *s)
{
    svm_fake.guest = hv_guest;
    svm_fake.guest_arg = s;
}

/* Runs vCPU i to a HLT #VMEXIT; returns what its VMRUN saw. */
static hvscript_t run_hlt(int i)
{
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_HLT;
    s.len[0] = 1;
    use(&s);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[i], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(s.step, 1);
    return s;
}

/* ---- vcpu_flush_tlb ---- */

/* With FlushByAsid ("TLB Control": TLB_CONTROL 3 and 7): ALL is 3, "flush
 * this guest's TLB entries", NON_GLOBAL 7, "flush this guest's non-global
 * TLB entries", both at the vCPU's next VMRUN with its ASID kept; the VMRUN
 * after that flushes nothing (0). No INVLPGA. */
START_TEST(flush_all_and_non_global_by_asid)
{
    vm_up(false);
    hvscript_t first = run_hlt(1);
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_OK);
    hvscript_t s = run_hlt(1);
    ck_assert_uint_eq(s.seen_tlb[0], 3);
    ck_assert_uint_eq(s.seen_asid[0], first.seen_asid[0]);
    s = run_hlt(1);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_NON_GLOBAL, NULL, 0), VCORE_OK);
    s = run_hlt(1);
    ck_assert_uint_eq(s.seen_tlb[0], 7);
    /* ALL and NON_GLOBAL before one VMRUN: the whole guest TLB (3). */
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_NON_GLOBAL, NULL, 0), VCORE_OK);
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_OK);
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_NON_GLOBAL, NULL, 0), VCORE_OK);
    s = run_hlt(1);
    ck_assert_uint_eq(s.seen_tlb[0], 3);
    /* Another vCPU is not touched. */
    s = run_hlt(0);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
    ck_assert_uint_eq(svm_fake.n_invlpga, 0);
}
END_TEST

/* Without FlushByAsid the vCPU takes a fresh ASID, which holds no TLB
 * entries (its generation's ASIDs are handed out once): TLB_CONTROL stays
 * 0, no other guest loses its entries; the first VMRUN with the new ASID
 * uses no clean bits (the fake checks it). */
START_TEST(flush_all_without_flush_by_asid_is_a_new_asid)
{
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_FLUSH_BY_ASID;
    vm_up(false);
    hvscript_t a = run_hlt(0);
    hvscript_t b = run_hlt(1);
    ck_assert_uint_ne(a.seen_asid[0], b.seen_asid[0]);
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_OK);
    hvscript_t s = run_hlt(1);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
    ck_assert_uint_ne(s.seen_asid[0], b.seen_asid[0]);
    ck_assert_uint_ne(s.seen_asid[0], a.seen_asid[0]);
    ck_assert_uint_ne(s.seen_asid[0], 0);
    uint32_t asid = s.seen_asid[0];
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_NON_GLOBAL, NULL, 0), VCORE_OK);
    s = run_hlt(1);
    ck_assert_uint_ne(s.seen_asid[0], asid);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
    /* vCPU 0 keeps its ASID. */
    s = run_hlt(0);
    ck_assert_uint_eq(s.seen_asid[0], a.seen_asid[0]);
}
END_TEST

/* LIST: INVLPGA of each page with the vCPU's ASID, on its processor; bits
 * 11:0 of a range count ADDITIONAL pages (TLFS HV_GVA_RANGE). Nothing is
 * left for the next VMRUN. */
START_TEST(flush_list_per_page_invlpga)
{
    vm_up(false);
    hvscript_t a = run_hlt(2);
    const uint64_t ranges[] = {0x7000 | 2, 0xffff800000000000ull, 0x12345000};
    ck_assert_int_eq(flush(2, VCORE_TLB_FLUSH_LIST, ranges, 3), VCORE_OK);
    ck_assert_uint_eq(svm_fake.n_invlpga, 5);
    const uint64_t want[] = {0x7000, 0x8000, 0x9000, 0xffff800000000000ull, 0x12345000};
    for (int i = 0; i < 5; i++) {
        ck_assert_uint_eq(svm_fake.invlpga[i].va, want[i]);
        ck_assert_uint_eq(svm_fake.invlpga[i].asid, a.seen_asid[0]);
        ck_assert_uint_eq(svm_fake.invlpga[i].cpu, 0);
    }
    hvscript_t s = run_hlt(2);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
    ck_assert_uint_eq(s.seen_asid[0], a.seen_asid[0]);
}
END_TEST

/* More than 64 pages: the whole guest TLB (TLB_CONTROL 3), no INVLPGA;
 * 64 pages exactly still go page by page. A range that runs past the top
 * of the address space stops there. */
START_TEST(flush_long_list_is_whole)
{
    vm_up(false);
    run_hlt(0);
    const uint64_t r65[] = {0x100000 | 63, 0x300000};
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, r65, 2), VCORE_OK);
    ck_assert_uint_eq(svm_fake.n_invlpga, 0);
    hvscript_t s = run_hlt(0);
    ck_assert_uint_eq(s.seen_tlb[0], 3);
    const uint64_t r64[] = {0x100000 | 31, 0x200000 | 31};
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, r64, 2), VCORE_OK);
    ck_assert_uint_eq(svm_fake.n_invlpga, 64);
    ck_assert_uint_eq(svm_fake.invlpga[63].va, 0x21f000);
    s = run_hlt(0);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
    const uint64_t top[] = {0xffffffffffffe000ull | 3};
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, top, 1), VCORE_OK);
    ck_assert_uint_eq(svm_fake.n_invlpga, 66);
    ck_assert_uint_eq(svm_fake.invlpga[65].va, 0xfffffffffffff000ull);
}
END_TEST

/* A vCPU that has no ASID yet gets a fresh one at its first VMRUN: nothing
 * to flush, and that VMRUN flushes nothing more than it would anyway. */
START_TEST(flush_before_first_run_is_free)
{
    vm_up(false);
    run_hlt(0); /* the processor's first generation starts (TLB_CONTROL 1 there) */
    const uint64_t ranges[] = {0x7000};
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_OK);
    ck_assert_int_eq(flush(1, VCORE_TLB_FLUSH_LIST, ranges, 1), VCORE_OK);
    ck_assert_uint_eq(svm_fake.n_invlpga, 0);
    hvscript_t s = run_hlt(1);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
}
END_TEST

/* INVLPGA and the ASID are the processor's: on another one the op refuses
 * (VCORE_ERR_STATE). Bad requests: VCORE_ERR_INVAL. Nothing is done. */
START_TEST(flush_refusals)
{
    vm_up(false);
    run_hlt(0);
    const uint64_t ranges[] = {0x7000};
    svm_fake.this_cpu = 1;
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, ranges, 1), VCORE_ERR_STATE);
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_ALL, NULL, 0), VCORE_ERR_STATE);
    svm_fake.this_cpu = 0;
    ck_assert_int_eq(flush(0, 3, NULL, 0), VCORE_ERR_INVAL);
    ck_assert_int_eq(flush(0, VCORE_TLB_FLUSH_LIST, NULL, 1), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore__backend_svm_ops.vcpu_flush_tlb(vcpus[0], priv_of(0), NULL), VCORE_ERR_INVAL);
    ck_assert_uint_eq(svm_fake.n_invlpga, 0);
    hvscript_t s = run_hlt(0);
    ck_assert_uint_eq(s.seen_tlb[0], 0);
}
END_TEST

/* Two flushes asked for one VMRUN give the stronger TLB_CONTROL (APM Vol. 2,
 * "TLB Control"): 01h flushes every ASID's entries, 03h this guest's,
 * 07h this guest's non-global ones, 00h nothing; each covers the next. */
START_TEST(flush_requests_merge_to_the_stronger)
{
    static const uint8_t order[4] = {1, 3, 7, 0}; /* strongest first */
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            uint8_t want = order[i < j ? i : j];
            ck_assert_uint_eq(vcore__svm_tlb_merge(order[i], order[j]), want);
        }
    }
}
END_TEST

/* ---- Hyper-V through the core on svm ---- */

static void hv_identity(void)
{
    ck_assert_int_eq(vcore_hv_set_msr(vcpus[0], VCORE_HV_MSR_GUEST_OS_ID, 0x8100000000000000ull), VCORE_OK);
}

/* The hypercall page of an AMD vCPU holds VMMCALL (0F 01 D9), then RET
 * (TLFS "Establishing the Hypercall Interface"; APM Vol. 3 "VMMCALL"). */
START_TEST(hv_page_is_vmmcall)
{
    vm_up(true);
    hv_identity();
    ck_assert_int_eq(vcore_hv_set_msr(vcpus[0], VCORE_HV_MSR_HYPERCALL, HCPAGE | 1), VCORE_OK);
    const uint8_t want[4] = {0x0f, 0x01, 0xd9, 0xc3};
    ck_assert_mem_eq(ram + HCPAGE, want, 4);
}
END_TEST

/* HvCallFlushVirtualAddressSpace, XMM fast (TLFS "XMM Fast Hypercall
 * Input"): RDX AddressSpace, R8 Flags, XMM0 low ProcessorMask. vCPU 0
 * flushes VP 1 only: vCPU 1's next VMRUN flushes its guest's TLB entries
 * (TLB_CONTROL 3), vCPU 2's does not. The result is HV_STATUS_SUCCESS in
 * RAX and RIP moves past the VMMCALL (3 bytes). */
START_TEST(hv_xmm_fast_flush_reaches_target_only)
{
    vm_up(true);
    hv_identity();
    for (int i = 1; i < NVCPU; i++)
        run_hlt(i);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_VMMCALL;
    s.len[0] = 3;
    s.rcx[0] = 0x0002u | (1u << 16); /* call code 2, fast */
    s.rdx[0] = 0x1000;               /* AddressSpace */
    s.xmm0[0][0] = 1u << 1;          /* ProcessorMask: VP 1 */
    s.code[1] = VCORE_VMEXIT_HLT;
    s.len[1] = 1;
    s.xmm0[1][0] = 0xfeedface;
    s.xmm0[1][1] = 0x0123456789abcdefull;
    use(&s);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(s.step, 2);
    ck_assert_uint_eq(s.seen_rip[1], GCODE + 3);
    ck_assert_uint_eq(s.seen_rax[1], VCORE_HV_STATUS_SUCCESS);
    uint64_t xmm[12];
    ck_assert_int_eq(vcore_hv_get_xmm(vcpus[0], xmm), VCORE_OK);
    ck_assert_uint_eq(xmm[0], 0xfeedface);
    ck_assert_uint_eq(xmm[1], 0x0123456789abcdefull);
    hvscript_t t = run_hlt(2);
    ck_assert_uint_eq(t.seen_tlb[0], 0);
    t = run_hlt(1);
    ck_assert_uint_eq(t.seen_tlb[0], 3);
    t = run_hlt(1);
    ck_assert_uint_eq(t.seen_tlb[0], 0);
}
END_TEST

/* The list form, memory input: HvCallFlushVirtualAddressList with one GVA
 * range of 2 additional pages to VP 2: three INVLPGAs with vCPU 2's ASID
 * before its next VMRUN; the result counts one rep completed (bits 43:32). */
START_TEST(hv_list_flush_is_invlpga_on_the_target)
{
    vm_up(true);
    hv_identity();
    hvscript_t a = run_hlt(2);
    uint64_t *in = (uint64_t *)(void *)(ram + 0x70000);
    in[0] = 0x1000;        /* AddressSpace */
    in[1] = 0;             /* Flags */
    in[2] = 1u << 2;       /* ProcessorMask: VP 2 */
    in[3] = 0x400000 | 2;  /* GVA range: 3 pages */
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_VMMCALL;
    s.len[0] = 3;
    s.rcx[0] = 0x0003u | (1ull << 32); /* call code 3, rep count 1 */
    s.rdx[0] = 0x70000;
    s.code[1] = VCORE_VMEXIT_HLT;
    s.len[1] = 1;
    use(&s);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(s.seen_rax[1], 1ull << 32);
    ck_assert_uint_eq(svm_fake.n_invlpga, 0); /* done on the target's own thread */
    hvscript_t t = run_hlt(2);
    ck_assert_uint_eq(svm_fake.n_invlpga, 3);
    for (uint32_t k = 0; k < 3; k++) {
        ck_assert_uint_eq(svm_fake.invlpga[k].va, 0x400000 + 0x1000ull * k);
        ck_assert_uint_eq(svm_fake.invlpga[k].asid, a.seen_asid[0]);
    }
    ck_assert_uint_eq(t.seen_tlb[0], 0);
}
END_TEST

/* A hypercall from CPL 3 is #UD ("Legal Hypercall Environments"): the
 * reply carries fault = 1, the backend leaves RAX and RIP, and the next
 * VMRUN injects #UD (EVENTINJ: vector 6, type 3 exception, V). */
START_TEST(hv_fault_reply_leaves_rax_and_rip)
{
    vm_up(true);
    hv_identity();
    set_long_mode(vcpus[0], 3);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpus[0], &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x1234;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpus[0], &r), VCORE_OK);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_VMMCALL;
    s.len[0] = 3;
    s.rcx[0] = 0x0002u;
    s.code[1] = VCORE_VMEXIT_HLT;
    s.len[1] = 1;
    use(&s);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(s.step, 2);
    ck_assert_uint_eq(s.seen_rip[1], GCODE);
    ck_assert_uint_eq(s.seen_rax[1], 0x1234);
    ck_assert_uint_eq(s.seen_inj[1], 0x80000306u);
}
END_TEST

/* An unknown call code completes with HV_STATUS_INVALID_HYPERCALL_CODE (2)
 * in RAX and RIP past the VMMCALL - also without NRIPS, where the backend
 * decodes the instruction (0F 01 D9 at GCODE: 3 bytes). */
START_TEST(hv_status_reply_completes_without_nrips)
{
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_NRIPS;
    vm_up(true);
    hv_identity();
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_VMMCALL;
    s.rcx[0] = 0x0fffu | (1u << 16);
    s.code[1] = VCORE_VMEXIT_HLT;
    use(&s);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(s.seen_rip[1], GCODE + 3);
    ck_assert_uint_eq(s.seen_rax[1], 2);
}
END_TEST

/* A VMMCALL the library leaves to the VMM (no Hyper-V) reports the
 * instruction's length: nRIP - RIP with NRIPS ("Next RIP Saved"), else the
 * decoded length; both 3 for 0F 01 D9. A reply with fault = 1 leaves RAX
 * and RIP; fault = 0 completes it. */
START_TEST(vmmcall_insn_len_and_fault_reply)
{
    for (int nrips = 1; nrips >= 0; nrips--) {
        svm_fake_reset();
        if (!nrips)
            svm_fake.svm_features &= ~VCORE_SVM_FEAT_NRIPS;
        vm_up(false);
        vcore_x86_regs_t r = {.size = sizeof(r)};
        ck_assert_int_eq(vcore_vcpu_get_regs(vcpus[0], &r), VCORE_OK);
        r.gpr[VCORE_X86_RAX] = 0x77;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpus[0], &r), VCORE_OK);
        hvscript_t s;
        memset(&s, 0, sizeof(s));
        s.code[0] = VCORE_VMEXIT_VMMCALL;
        s.len[0] = nrips ? 3 : 0;
        s.code[1] = VCORE_VMEXIT_VMMCALL;
        s.len[1] = nrips ? 3 : 0;
        s.code[2] = VCORE_VMEXIT_HLT;
        s.len[2] = nrips ? 1 : 0;
        use(&s);
        vcore_exit_t e = new_exit();
        ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
        ck_assert_uint_eq(e.u.hypercall.insn_len, 3);
        e.u.hypercall.fault = 1;
        e.u.hypercall.ret = 0x55;
        ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
        ck_assert_uint_eq(s.seen_rip[1], GCODE);
        ck_assert_uint_eq(s.seen_rax[1], 0x77);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
        e.u.hypercall.fault = 0;
        e.u.hypercall.ret = 0x55;
        ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
        ck_assert_uint_eq(s.seen_rip[2], GCODE + 3);
        ck_assert_uint_eq(s.seen_rax[2], 0x55);
        teardown();
    }
}
END_TEST

/* ---- x87/SSE state ---- */

/* The guest never sees the host's registers or another vCPU's: each VMRUN
 * finds the vCPU's image (XMM0 zero at first) and each #VMEXIT gives the
 * host its own back. One FXSAVE and one FXRSTOR on each side of a VMRUN. */
START_TEST(fpu_switched_per_vcpu)
{
    vm_up(false);
    uint8_t host16[16];
    for (int b = 0; b < 16; b++)
        svm_fake.cpu[0].fx[160 + b] = host16[b] = (uint8_t)(0xa0 + b);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_HLT;
    s.len[0] = 1;
    s.xmm0[0][0] = 0x1111222233334444ull;
    s.xmm0[0][1] = 0x5555666677778888ull;
    s.code[1] = VCORE_VMEXIT_HLT;
    s.len[1] = 1;
    s.xmm0[1][0] = 0x0a0b0c0d0e0f1011ull;
    use(&s);
    uint8_t zero[16] = {0};
    uint64_t saves = svm_fake.n_fxsave, rstors = svm_fake.n_fxrstor;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_mem_eq(s.seen_xmm0[0], zero, 16);
    ck_assert_mem_eq(svm_fake.cpu[0].fx + 160, host16, 16);
    ck_assert_uint_eq(svm_fake.n_fxsave - saves, 2);
    ck_assert_uint_eq(svm_fake.n_fxrstor - rstors, 2);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    const uint8_t mine[16] = {0x44, 0x44, 0x33, 0x33, 0x22, 0x22, 0x11, 0x11,
                              0x88, 0x88, 0x77, 0x77, 0x66, 0x66, 0x55, 0x55};
    ck_assert_mem_eq(s.seen_xmm0[1], mine, 16);
    hvscript_t t = run_hlt(1);
    ck_assert_mem_eq(t.seen_xmm0[0], zero, 16);
    /* The XMM group reads the image - XMM0-XMM15, nothing past them (a
     * canary follows the state) - and writing it reaches the next VMRUN
     * and changes no byte of the image past XMM15 (offset 416 on). */
    struct {
        vcore_x86_state_t st;
        uint64_t canary[8];
    } box;
    memset(&box, 0, sizeof(box));
    memset(box.canary, 0x5c, sizeof(box.canary));
    vcore_x86_state_t *st = &box.st;
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64};
    vs.u.x86 = st;
    ck_assert_int_eq(vcore__backend_svm_ops.vcpu_get_state(vcpus[0], priv_of(0), &vs, VCORE_X86_STATE_XMM),
                     VCORE_OK);
    ck_assert_uint_eq(st->xmm[0][0], 0x0a0b0c0d0e0f1011ull); /* what the guest left */
    ck_assert_uint_eq(st->xmm[0][1], 0);
    ck_assert_uint_eq(st->xmm[15][1], 0);
    for (int k = 0; k < 8; k++)
        ck_assert_uint_eq(box.canary[k], 0x5c5c5c5c5c5c5c5cull);
    uint8_t *img = priv_of(0)->fx;
    memset(img + 416, 0x3d, 96);
    st->xmm[0][0] = 0x0807060504030201ull;
    st->xmm[0][1] = 0x100f0e0d0c0b0a09ull;
    ck_assert_int_eq(vcore__backend_svm_ops.vcpu_set_state(vcpus[0], priv_of(0), &vs, VCORE_X86_STATE_XMM),
                     VCORE_OK);
    for (int k = 416; k < 512; k++)
        ck_assert_uint_eq(img[k], 0x3d);
    t = run_hlt(0);
    const uint8_t seq[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    ck_assert_mem_eq(t.seen_xmm0[0], seq, 16);
}
END_TEST

/* The FPU group maps onto the image ("FXSAVE" layout): FCW at 0, FSW at 2,
 * the abridged tag at 4 (bit i: physical register i not empty), FOP at 6,
 * MXCSR at 24. A fresh vCPU is in the FINIT / power-up state: FCW 037FH,
 * tags all empty (FFFFH), MXCSR 1F80H; MXCSR_MASK is the processor's. */
START_TEST(fpu_group_is_the_image)
{
    vm_up(false);
    vcore_x86_fpu_t f = {.size = sizeof(f)};
    vcore_x86_state_t st;
    memset(&st, 0, sizeof(st));
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64};
    vs.u.x86 = &st;
    ck_assert_int_eq(vcore__backend_svm_ops.vcpu_get_state(vcpus[0], priv_of(0), &vs, VCORE_X86_STATE_FPU),
                     VCORE_OK);
    ck_assert_uint_eq(st.fpu.fcw, 0x037f);
    ck_assert_uint_eq(st.fpu.ftw, 0xffff);
    ck_assert_uint_eq(st.fpu.mxcsr, 0x1f80);
    ck_assert_uint_eq(st.fpu.mxcsr_mask, 0xffff);
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpus[0], &f), VCORE_OK);
    f.fcw = 0x027f;
    f.fsw = 6u << 11;
    f.ftw = 0x4ffe; /* p7 zero, p6 valid, p5-p1 empty, p0 special */
    f.fop = 0x7ff;
    f.mxcsr = 0x1fc0; /* DAZ: MXCSR_MASK FFFFH allows it */
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpus[0], &f), VCORE_OK);
    run_hlt(0);
    const uint8_t *img = priv_of(0)->fx;
    ck_assert_uint_eq(img[0] | img[1] << 8, 0x027f);
    ck_assert_uint_eq(img[2] | img[3] << 8, 0x3000);
    ck_assert_uint_eq(img[4], 0xc1);
    ck_assert_uint_eq(img[6] | img[7] << 8, 0x7ff);
    ck_assert_uint_eq((uint32_t)img[24] | (uint32_t)img[25] << 8, 0x1fc0);
}
END_TEST

/* An MXCSR outside the processor's mask (FFBFH: no DAZ) would make FXRSTOR
 * #GP: the group is refused when it reaches the backend, nothing applied,
 * no VMRUN. */
START_TEST(fpu_mxcsr_outside_mask_refused)
{
    for (int i = 0; i < SVM_FAKE_MAX_CPUS; i++)
        svm_fake.cpu[i].fx[28] = 0xbf;
    vm_up(false);
    vcore_x86_fpu_t f = {.size = sizeof(f)};
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpus[0], &f), VCORE_OK);
    run_hlt(0);
    ck_assert_int_eq(vcore_vcpu_get_fpu(vcpus[0], &f), VCORE_OK);
    ck_assert_uint_eq(f.mxcsr_mask, 0xffbf);
    f.fcw = 0x027f;
    f.mxcsr = 0x1fc0;
    f.mxcsr_mask = 0xffff; /* the VMM claims DAZ: the core's check passes */
    ck_assert_int_eq(vcore_vcpu_set_fpu(vcpus[0], &f), VCORE_OK);
    uint64_t runs = svm_fake.n_vmrun;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_ERR_INVAL);
    ck_assert_uint_eq(svm_fake.n_vmrun, runs);
    const uint8_t *fx = priv_of(0)->fx;
    ck_assert_uint_eq(fx[0] | fx[1] << 8, 0x037f);
    ck_assert_uint_eq(fx[24] | fx[25] << 8, 0x1f80);
}
END_TEST

/* The host must allow FXSAVE (CR4.OSFXSR = 1, CR0.TS = 0, CR0.EM = 0): a
 * vCPU is not created otherwise (nothing leaks), and a run refuses
 * (VCORE_ERR_STATE) without VMRUN. */
START_TEST(fpu_host_discipline)
{
    svm_fake.cpu[0].cr0 |= 1u << 3; /* TS */
    host_init();
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    vcore_vcpu_t *v = NULL;
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &v), VCORE_ERR_STATE);
    ck_assert_uint_eq(test_cpus[0].users, 0);
    vcore_vm_destroy(vm);
    vm = NULL;
    ck_assert_int_eq(pages_out, 0);
    svm_fake.cpu[0].cr0 &= ~(1ull << 3);
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_HLT;
    use(&s);
    uint64_t runs = svm_fake.n_vmrun;
    vcore_exit_t e = new_exit();
    svm_fake.cpu[0].cr4 &= ~(1ull << 9);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_ERR_STATE);
    svm_fake.cpu[0].cr4 |= 1ull << 9;
    svm_fake.cpu[0].cr0 |= 1u << 2; /* EM */
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_ERR_STATE);
    ck_assert_uint_eq(svm_fake.n_vmrun, runs);
    svm_fake.cpu[0].cr0 &= ~(1ull << 2);
}
END_TEST

/* ---- kick ---- */

/* A kick before the run: the run returns VCORE_EXIT_INTERRUPTED without
 * VMRUN (GIF set again: the fake checks CLGI/STGI pair up); the kick is
 * used up, the next run enters. */
START_TEST(kick_before_run)
{
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_HLT;
    use(&s);
    ck_assert_int_eq(vcore_vcpu_kick(vcpus[0]), VCORE_OK);
    ck_assert_uint_eq(n_kick_cpu, 0); /* not in guest mode: no interrupt */
    uint64_t runs = svm_fake.n_vmrun;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_eq(svm_fake.n_vmrun, runs);
    ck_assert(svm_fake.cpu[0].gif);
    ck_assert_uint_eq(svm_fake.n_clgi, svm_fake.n_stgi);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(svm_fake.n_vmrun, runs + 1);
}
END_TEST

/* A kick while the vCPU is in the guest interrupts its processor through
 * the host's kick_cpu; the physical interrupt exits (VMEXIT_INTR, 60H) and
 * the run returns VCORE_EXIT_INTERRUPTED; the kick does not linger. */
START_TEST(kick_in_guest_interrupts_its_processor)
{
    svm_fake.this_cpu = 2;
    vm_up(false);
    hvscript_t s;
    memset(&s, 0, sizeof(s));
    s.code[0] = VCORE_VMEXIT_INTR;
    s.kick = vcpus[1];
    s.code[1] = VCORE_VMEXIT_HLT;
    s.len[1] = 1;
    use(&s);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[1], &e), VCORE_OK);
    ck_assert_uint_eq(n_kick_cpu, 1);
    ck_assert_uint_eq(kicked_cpu, 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_int_eq(vcore_vcpu_run(vcpus[1], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(s.step, 2);
}
END_TEST

/* A kick that stops a run after its event was prepared: nothing was
 * delivered, so the next VMRUN injects it (EVENTINJ: vector 20H, external
 * interrupt type 0, V). */
START_TEST(kick_keeps_the_injected_event)
{
    vm_up(false);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpus[0], &ev), VCORE_OK);
    ev.interrupt_injected = 1;
    ev.interrupt_vector = 0x20;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpus[0], &ev), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_kick(vcpus[0]), VCORE_OK);
    uint64_t runs = svm_fake.n_vmrun;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpus[0], &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_eq(svm_fake.n_vmrun, runs);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpus[0], &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_injected, 1);
    ck_assert_uint_eq(ev.interrupt_vector, 0x20);
    hvscript_t s = run_hlt(0);
    ck_assert_uint_eq(s.seen_inj[0], 0x80000020u);
}
END_TEST

static Suite *suite(void)
{
    Suite *su = suite_create("svm_hyperv");
    TCase *t = tcase_create("core");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, flush_all_and_non_global_by_asid);
    tcase_add_test(t, flush_all_without_flush_by_asid_is_a_new_asid);
    tcase_add_test(t, flush_list_per_page_invlpga);
    tcase_add_test(t, flush_long_list_is_whole);
    tcase_add_test(t, flush_before_first_run_is_free);
    tcase_add_test(t, flush_refusals);
    tcase_add_test(t, flush_requests_merge_to_the_stronger);
    tcase_add_test(t, hv_page_is_vmmcall);
    tcase_add_test(t, hv_xmm_fast_flush_reaches_target_only);
    tcase_add_test(t, hv_list_flush_is_invlpga_on_the_target);
    tcase_add_test(t, hv_fault_reply_leaves_rax_and_rip);
    tcase_add_test(t, hv_status_reply_completes_without_nrips);
    tcase_add_test(t, vmmcall_insn_len_and_fault_reply);
    tcase_add_test(t, fpu_switched_per_vcpu);
    tcase_add_test(t, fpu_group_is_the_image);
    tcase_add_test(t, fpu_mxcsr_outside_mask_refused);
    tcase_add_test(t, fpu_host_discipline);
    tcase_add_test(t, kick_before_run);
    tcase_add_test(t, kick_in_guest_interrupts_its_processor);
    tcase_add_test(t, kick_keeps_the_injected_event);
    suite_add_tcase(su, t);
    return su;
}

int main(void)
{
    return vcore_test_run(suite());
}
