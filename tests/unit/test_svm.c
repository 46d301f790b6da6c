/*
 * The svm backend's pure C logic against the strict fake of its primitives:
 * SVM per processor, VMCB01 construction and clean bits, ASIDs, the nested
 * page tables, exit decoding and completion, field-group state sync and
 * events.
 *
 * Expected values come from the AMD APM (section titles cited where a rule
 * is checked), never from what the code printed.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-svm/svm.h"
#include "support.h"
#include "svm_fake.h"

extern const vcore_backend_t vcore__backend_svm_ops;

static void *amem(size_t align, size_t len)
{
    void *p = NULL;
    ck_assert_int_eq(posix_memalign(&p, align, len), 0);
    return p;
}

/* ---- environment: one VM, one vCPU, 4 MiB of RAM at GPA 0, a 64-bit guest ---- */

#define RAM_SIZE (4u << 20)
#define GCODE 0x10000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static uint8_t *ram;
static vcore_host_t host;
static int pages_left; /* > 0: alloc_pages fails after this many calls */
static long pages_out;
static vcore_host_cpu_t test_cpus[SVM_FAKE_MAX_CPUS];
static uint8_t cpu_pages[SVM_FAKE_MAX_CPUS][4096] __attribute__((aligned(4096)));

static void *test_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    if (pages_left > 0 && --pages_left == 0)
        return NULL;
    void *p = vcore_host_default()->alloc_pages(ctx, count, phys);
    if (p)
        pages_out += (long)count;
    return p;
}

static void test_free_pages(void *ctx, void *va, size_t count)
{
    pages_out -= (long)count;
    vcore_host_default()->free_pages(ctx, va, count);
}

static uint32_t test_cpu_index(void *ctx)
{
    (void)ctx;
    return svm_fake.this_cpu;
}

static void host_init(void)
{
    host = *vcore_host_default();
    host.alloc_pages = test_alloc_pages;
    host.free_pages = test_free_pages;
    pages_out = 0;
    memset(test_cpus, 0, sizeof(test_cpus));
    for (unsigned i = 0; i < SVM_FAKE_MAX_CPUS; i++) {
        test_cpus[i].page = cpu_pages[i];
        test_cpus[i].page_phys = (uint64_t)(uintptr_t)cpu_pages[i];
    }
    host.cpu_index = test_cpu_index;
    host.cpus = test_cpus;
    host.ncpus = SVM_FAKE_MAX_CPUS;
    pages_left = 0;
}

#define CPUID_81_EDX_NX (1u << 20)
#define CPUID_81_EDX_LM (1u << 29)
#define CPUID_81_EDX_SYSCALL (1u << 11)

/* An AMD vCPU: long mode, NX, SYSCALL; leaf 7 with LA57 when asked. */
static void set_cpuid_ex(vcore_vcpu_t *v, uint32_t edx81, uint32_t ecx7)
{
    vcore_cpuid_entry_t t[6];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 7;
    t[0].ebx = 0x68747541; /* "Auth" */
    t[0].edx = 0x69746e65; /* "enti" */
    t[0].ecx = 0x444d4163; /* "cAMD" */
    t[1].function = 1;
    t[1].eax = 0x00800f11;
    t[1].edx = 0x178bfbff;
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000008u;
    t[3].function = 0x80000001u;
    t[3].edx = edx81;
    t[4].function = 0x80000008u;
    t[4].eax = 0x3028; /* 40 physical, 48 linear address bits */
    t[5].function = 7;
    t[5].flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
    t[5].ecx = ecx7;
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, 6), VCORE_OK);
}

static void set_cpuid(vcore_vcpu_t *v)
{
    set_cpuid_ex(v, CPUID_81_EDX_SYSCALL | CPUID_81_EDX_NX | CPUID_81_EDX_LM, 0);
}

/* 64-bit mode, flat segments; guest page tables at 1000H-3FFFH map 1 GiB. */
static void set_long_mode(uint64_t rip)
{
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++) {
        sr.seg[i].selector = 0x10;
        sr.seg[i].base = 0;
        sr.seg[i].limit = 0xffffffffu;
        sr.seg[i].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    }
    sr.seg[VCORE_X86_CS].selector = 8;
    sr.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_L | VCORE_X86_AR_G;
    sr.seg[VCORE_X86_LDTR].ar = VCORE_X86_AR_UNUSABLE;
    sr.seg[VCORE_X86_LDTR].selector = 0;
    sr.seg[VCORE_X86_TR].selector = 0x18;
    sr.seg[VCORE_X86_TR].limit = 0x67;
    sr.seg[VCORE_X86_TR].ar = VCORE_X86_AR_P | 0xbu;
    sr.cr0 = 0x80000031ull;
    sr.cr3 = 0x1000;
    sr.cr4 = 0x20;
    sr.efer = 0x500;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    r.rip = rip;
    r.rflags = 2;
    r.gpr[VCORE_X86_RSP] = 0x3ff000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    uint64_t *pml4 = (uint64_t *)(void *)(ram + 0x1000), *pdpt = pml4 + 512, *pd = pml4 + 1024;
    pml4[0] = 0x2003;
    pdpt[0] = 0x3003;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | 0x83;
}

static vcore_vm_t *make_vm(void)
{
    vcore_vm_t *m = NULL;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
    cfg.host = &host;
    cfg.max_vcpus = 4;
    ck_assert_int_eq(vcore_vm_create(&cfg, &m), VCORE_OK);
    return m;
}

static void vm_up(void)
{
    svm_fake_reset();
    host_init();
    vm = make_vm();
    ram = amem(2u << 20, RAM_SIZE);
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    set_cpuid(vcpu);
    set_long_mode(GCODE);
}

static void vm_down(void)
{
    if (vcpu)
        vcore_vcpu_destroy(vcpu);
    if (vm)
        vcore_vm_destroy(vm);
    vcpu = NULL;
    vm = NULL;
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

static vcore__svm_vcpu_t *priv_of(vcore_vcpu_t *v)
{
    return vcore_vcpu_backend_priv(v);
}

static vcore_vmcb_t *vmcb_of(vcore_vcpu_t *v)
{
    return priv_of(v)->vmcb;
}

/* ---- guest scripts ---- */

#define STEPS 12
typedef struct script {
    uint32_t step;
    /* what each VMRUN saw */
    uint64_t seen_rip[STEPS], seen_rax[STEPS], seen_rbx[STEPS], seen_rflags[STEPS];
    uint64_t seen_inj[STEPS], seen_cr4[STEPS], seen_efer[STEPS], seen_next_rip[STEPS];
    uint32_t seen_int_ctl[STEPS], seen_misc1[STEPS], seen_exc[STEPS], seen_int_state[STEPS];
    /* the #VMEXIT each one ends with */
    uint64_t code[STEPS], i1[STEPS], i2[STEPS];
    uint32_t len[STEPS];        /* nRIP = RIP + len */
    uint64_t ii[STEPS];         /* EXITINTINFO */
    uint32_t shadow[STEPS];     /* 1: leave an interrupt shadow */
    uint64_t dr6[STEPS];        /* DR6 bits the exit sets */
    void (*hook)(struct script *s, vcore_vmcb_t *v, vcore__svm_gprs_t *g);
} script_t;

static script_t script;

static void script_guest(svm_fake_t *f, vcore_vmcb_t *v, vcore__svm_gprs_t *g, void *arg)
{
    script_t *s = arg;
    ck_assert_uint_lt(s->step, STEPS);
    uint32_t i = s->step++;
    s->seen_rip[i] = v->save.rip;
    s->seen_rax[i] = v->save.rax;
    s->seen_rbx[i] = g->gpr[VCORE_X86_RBX];
    s->seen_rflags[i] = v->save.rflags;
    s->seen_inj[i] = f->inj;
    s->seen_cr4[i] = v->save.cr4;
    s->seen_efer[i] = v->save.efer;
    s->seen_next_rip[i] = v->control.next_rip;
    s->seen_int_ctl[i] = v->control.int_ctl;
    s->seen_misc1[i] = v->control.intercept[3];
    s->seen_exc[i] = v->control.intercept[2];
    s->seen_int_state[i] = v->control.int_state;
    if (s->hook)
        s->hook(s, v, g);
    svm_fake_exit(s->code[i], s->i1[i], s->i2[i], s->len[i] ? v->save.rip + s->len[i] : 0);
    v->control.exit_int_info = s->ii[i];
    v->control.int_state = s->shadow[i] ? VCORE_VMCB_STATE_INTERRUPT_SHADOW : 0;
    v->save.dr6 |= s->dr6[i];
}

static void use_script(void)
{
    memset(&script, 0, sizeof(script));
    svm_fake.guest = script_guest;
    svm_fake.guest_arg = &script;
}

static int run(vcore_exit_t *e)
{
    return vcore_vcpu_run(vcpu, e);
}

/* ======================= SVM per processor ======================= */

START_TEST(life_svm_enabled_per_cpu)
{
    vm_up();
    svm_fake_cpu_t *c0 = &svm_fake.cpu[0];
    /* "Enabling SVM": EFER.SVME set; "VM_HSAVE_PA MSR": the processor's page. */
    ck_assert(c0->efer & (1ull << 12));
    ck_assert_uint_eq(c0->hsave_pa, test_cpus[0].page_phys);
    ck_assert_uint_eq(test_cpus[0].users, 1);
    /* a second VM on the same processor shares it */
    vcore_vm_t *vm2 = make_vm();
    vcore_vcpu_t *v2 = NULL;
    ck_assert_int_eq(vcore_vcpu_create(vm2, NULL, &v2), VCORE_OK);
    ck_assert_uint_eq(test_cpus[0].users, 2);
    vcore_vcpu_destroy(vcpu);
    vcpu = NULL;
    ck_assert(c0->efer & (1ull << 12)); /* still in use */
    vcore_vcpu_destroy(v2);
    /* the last user undoes what the library did */
    ck_assert(!(c0->efer & (1ull << 12)));
    ck_assert_uint_eq(c0->hsave_pa, 0);
    ck_assert_uint_eq(test_cpus[0].users, 0);
    vcore_vm_destroy(vm2);
    vm_down();
    ck_assert_int_eq(pages_out, 0);
}
END_TEST

START_TEST(life_embedder_owns_svm)
{
    svm_fake_reset();
    host_init();
    svm_fake.cpu[0].efer |= 1ull << 12;
    svm_fake.cpu[0].hsave_pa = 0x7000000;
    vm = make_vm();
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    ck_assert_uint_eq(svm_fake.cpu[0].hsave_pa, 0x7000000); /* the embedder's area stays */
    vm_down();
    ck_assert(svm_fake.cpu[0].efer & (1ull << 12));
    ck_assert_uint_eq(svm_fake.cpu[0].hsave_pa, 0x7000000);
}
END_TEST

START_TEST(life_probe_and_refusals)
{
    svm_fake_reset();
    host_init();
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_OK);
    /* "Testing for SVM Support": no SVM bit, SVMDIS, or no nested paging */
    svm_fake.cpuid_81_ecx = 0;
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_ERR_NODEV);
    svm_fake.cpuid_81_ecx = 1u << 2;
    svm_fake.cpu[0].vm_cr = 1u << 4;
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_ERR_NODEV);
    svm_fake.cpu[0].vm_cr = 0;
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_NP;
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_ERR_NODEV);
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
    cfg.host = &host;
    vcore_vm_t *m = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &m), VCORE_ERR_NODEV);
    /* the per-processor services are required */
    svm_fake.svm_features |= VCORE_SVM_FEAT_NP;
    host.cpu_index = NULL;
    host.cpus = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &m), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(life_other_processor_refused)
{
    vm_up();
    use_script();
    vcore_exit_t e = new_exit();
    svm_fake.this_cpu = 1;
    ck_assert_int_eq(run(&e), VCORE_ERR_STATE);
    ck_assert_uint_eq(svm_fake.n_vmrun, 0);
    svm_fake.this_cpu = 0;
    vm_down();
}
END_TEST

START_TEST(life_nomem_leaves_nothing)
{
    svm_fake_reset();
    host_init();
    vm = make_vm();
    long before = pages_out;
    pages_left = 2; /* the VMCB page succeeds, the host save page fails */
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_ERR_NOMEM);
    vcpu = NULL;
    ck_assert_int_eq(pages_out, before);
    ck_assert_uint_eq(test_cpus[0].users, 0);
    ck_assert(!(svm_fake.cpu[0].efer & (1ull << 12)));
    vm_down();
}
END_TEST

/* ======================= VMCB01 ======================= */

static bool msrpm_bit(const uint8_t *pm, uint32_t msr, bool write)
{
    /* "MSR Intercepts": 2 bits per MSR in three 2-KiB ranges. */
    uint32_t base = msr >= 0xc0010000u ? 0x1000u : msr >= 0xc0000000u ? 0x800u : 0u;
    uint32_t bit = (msr & 0x1fffu) * 2u + (write ? 1u : 0u);
    return (pm[base + bit / 8] >> (bit % 8)) & 1u;
}

START_TEST(vmcb01_control_area)
{
    vm_up();
    const vcore_vmcb_t *v = vmcb_of(vcpu);
    const vcore__svm_vm_t *sv = vcore_vm_backend_priv(vm);
    static const uint32_t must[] = {
        VCORE_VMCB_INTERCEPT_CR0_WRITE, VCORE_VMCB_INTERCEPT_CR4_WRITE, VCORE_VMCB_INTERCEPT_INTR,
        VCORE_VMCB_INTERCEPT_NMI,       VCORE_VMCB_INTERCEPT_CPUID,     VCORE_VMCB_INTERCEPT_HLT,
        VCORE_VMCB_INTERCEPT_IOIO_PROT, VCORE_VMCB_INTERCEPT_MSR_PROT,  VCORE_VMCB_INTERCEPT_SHUTDOWN,
        VCORE_VMCB_INTERCEPT_VMRUN,     VCORE_VMCB_INTERCEPT_VMMCALL,   VCORE_VMCB_INTERCEPT_VMLOAD,
        VCORE_VMCB_INTERCEPT_VMSAVE,    VCORE_VMCB_INTERCEPT_STGI,      VCORE_VMCB_INTERCEPT_CLGI,
        VCORE_VMCB_INTERCEPT_SKINIT,    VCORE_VMCB_INTERCEPT_XSETBV,    VCORE_VMCB_INTERCEPT_INVD,
    };
    for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
        ck_assert_msg(vcore_vmcb_intercept_test(&v->control, must[i]), "%s", vcore_vmcb_intercept_name(must[i]));
    /* not intercepted: CR reads, CR3, CR8 (V_TPR), IRET and VINTR until needed */
    ck_assert(!vcore_vmcb_intercept_test(&v->control, VCORE_VMCB_INTERCEPT_CR0_READ));
    ck_assert(!vcore_vmcb_intercept_test(&v->control, VCORE_VMCB_INTERCEPT_CR3_WRITE));
    ck_assert(!vcore_vmcb_intercept_test(&v->control, VCORE_VMCB_INTERCEPT_CR8_WRITE));
    ck_assert(!vcore_vmcb_intercept_test(&v->control, VCORE_VMCB_INTERCEPT_IRET));
    ck_assert(!vcore_vmcb_intercept_test(&v->control, VCORE_VMCB_INTERCEPT_VINTR));
    /* exceptions: #DB, #BP, #UD, #AC, #MC */
    ck_assert_uint_eq(v->control.intercept[2], (1u << 1) | (1u << 3) | (1u << 6) | (1u << 17) | (1u << 18));
    ck_assert_uint_eq(v->control.iopm_base_pa, sv->iopm_pa);
    ck_assert_uint_eq(v->control.msrpm_base_pa, sv->msrpm_pa);
    for (size_t i = 0; i < 3 * 4096; i++)
        ck_assert_uint_eq(sv->iopm[i], 0xff);
    /* MSRs VMCB01 switches itself pass; EFER is intercepted both ways, TSC writes */
    ck_assert(!msrpm_bit(sv->msrpm, 0xc0000100u, false) && !msrpm_bit(sv->msrpm, 0xc0000100u, true));
    ck_assert(!msrpm_bit(sv->msrpm, 0xc0000102u, true));
    ck_assert(!msrpm_bit(sv->msrpm, 0x176u, true));
    ck_assert(!msrpm_bit(sv->msrpm, 0x277u, false));
    ck_assert(msrpm_bit(sv->msrpm, 0xc0000080u, false) && msrpm_bit(sv->msrpm, 0xc0000080u, true));
    ck_assert(!msrpm_bit(sv->msrpm, 0x10u, false) && msrpm_bit(sv->msrpm, 0x10u, true));
    ck_assert(msrpm_bit(sv->msrpm, 0x1bu, false) && msrpm_bit(sv->msrpm, 0xc0010117u, true));
    ck_assert(msrpm_bit(sv->msrpm, 0xc0000103u, false)); /* TSC_AUX is the model's */
    /* "Virtual Interrupts", "Nested Paging Facility" */
    ck_assert(v->control.int_ctl & VCORE_VMCB_INT_V_INTR_MASKING);
    ck_assert_uint_eq(v->control.nested_ctl, VCORE_VMCB_NESTED_NP_ENABLE);
    ck_assert_uint_eq(v->control.n_cr3, sv->npt.root_pa);
    vm_down();
}
END_TEST

/* The guest's EFER runs with SVME set, which the guest never sees. */
START_TEST(vmcb01_efer_svme_hidden)
{
    vm_up();
    use_script();
    script.code[0] = VCORE_VMEXIT_MSR; /* RDMSR EFER */
    script.len[0] = 2;
    vcore_exit_t e = new_exit();
    priv_of(vcpu)->g.gpr[VCORE_X86_RCX] = 0xc0000080u; /* set through the model below */
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 0xc0000080u;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    /* the core answered RDMSR EFER from the model and re-entered */
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_efer[0], 0x1500); /* SVME | LMA | LME */
    vcore_x86_regs_t r2 = {.size = sizeof(r2)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r2), VCORE_OK);
    ck_assert_uint_eq(r2.gpr[VCORE_X86_RAX], 0x500);
    ck_assert_uint_eq(r2.gpr[VCORE_X86_RDX], 0);
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_uint_eq(sr.efer, 0x500);
    vm_down();
}
END_TEST


/* ======================= exits ======================= */

/* CPUID ("Instruction Intercepts"): the VMM answers; the answer goes in at
 * the next run with RIP at nRIP. */
START_TEST(exit_cpuid_round_trip)
{
    vm_up();
    use_script();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x80000001u;
    r.gpr[VCORE_X86_RCX] = 7;
    r.gpr[VCORE_X86_RBX] = 0x1111;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_CPUID;
    script.len[0] = 2;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.cpuid.function, 0x80000001u);
    ck_assert_uint_eq(e.u.cpuid.index, 7);
    ck_assert_uint_eq(e.raw.source, VCORE_EXIT_SRC_SVM);
    ck_assert_uint_eq(e.raw.reason, 0x72);
    ck_assert_uint_eq(e.raw.data[0], 0x72);
    ck_assert_uint_eq(e.raw.data[3], GCODE);
    ck_assert_uint_eq(e.raw.data[4], GCODE + 2);
    ck_assert_uint_eq(script.seen_rip[0], GCODE);
    ck_assert_uint_eq(script.seen_rbx[0], 0x1111);
    e.u.cpuid.eax = 0xa;
    e.u.cpuid.ebx = 0xb;
    e.u.cpuid.ecx = 0xc;
    e.u.cpuid.edx = 0xd;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_uint_eq(script.seen_rax[1], 0xa);
    ck_assert_uint_eq(script.seen_rbx[1], 0xb);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0xc);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0xd);
    /* HLT completes at the next run: RIP past it */
    ck_assert_uint_eq(r.rip, GCODE + 2);
    script.code[2] = VCORE_VMEXIT_HLT;
    script.len[2] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 3);
    /* a reply to another exit is refused, nothing runs */
    e.reason = VCORE_EXIT_HLT;
    script.code[3] = VCORE_VMEXIT_CPUID;
    script.len[3] = 2;
    ck_assert_int_eq(run(&e), VCORE_OK);
    uint64_t n = svm_fake.n_vmrun;
    e.reason = VCORE_EXIT_IO;
    ck_assert_int_eq(run(&e), VCORE_ERR_STATE);
    ck_assert_uint_eq(svm_fake.n_vmrun, n);
    vm_down();
}
END_TEST

/* Without NRIPS the length comes from decoding the instruction in guest memory. */
START_TEST(exit_lengths_decoded_without_nrips)
{
    vm_up();
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_NRIPS;
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features &= ~VCORE_SVM_FEAT_NRIPS;
    use_script();
    /* 66 0F A2 (CPUID with a prefix), F4 (HLT), 0F 01 D9 (VMMCALL), 0F 32 (RDMSR) */
    static const uint8_t code[] = {0x66, 0x0f, 0xa2, 0xf4, 0x0f, 0x01, 0xd9, 0x0f, 0x32, 0xf4};
    memcpy(ram + GCODE, code, sizeof(code));
    script.code[0] = VCORE_VMEXIT_CPUID;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.code[2] = VCORE_VMEXIT_VMMCALL;
    script.code[3] = VCORE_VMEXIT_MSR;
    script.code[4] = VCORE_VMEXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_eq(e.raw.data[4], GCODE + 3);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 3);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 4);
    e.u.hypercall.ret = 0x55;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 7);
    ck_assert_uint_eq(script.seen_rax[3], 0x55);
    e.u.msr.value = 0x123456789ull;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[4], GCODE + 9);
    ck_assert_uint_eq(script.seen_rax[4], 0x23456789u);
    /* an instruction that cannot be read: internal error, nothing completes */
    script.code[5] = VCORE_VMEXIT_CPUID;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rip = 0x7ffff000u; /* above the guest page tables' first GiB */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERNAL_ERROR);
    ck_assert_uint_eq(e.u.internal.suberror, VCORE_SVM_INTERNAL_INSN_DECODE);
    vm_down();
}
END_TEST

/* IOIO ("IOIO Intercept"): EXITINFO1 bits 0 (IN), 2 (STR), 3 (REP), 6:4
 * (size), 9:7 (address size), 31:16 (port); EXITINFO2 the next RIP. */
START_TEST(exit_io)
{
    vm_up();
    use_script();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x11223344aabbccddull;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    /* OUT DX, AX to port 3F8H */
    script.code[0] = VCORE_VMEXIT_IOIO;
    script.i1[0] = (0x3f8ull << 16) | VCORE_VMCB_IOIO_SZ16 | VCORE_VMCB_IOIO_A64;
    script.i2[0] = GCODE + 2;
    /* IN AL, 60H */
    script.code[1] = VCORE_VMEXIT_IOIO;
    script.i1[1] = (0x60ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_IN;
    script.i2[1] = GCODE + 4;
    /* IN EAX, DX */
    script.code[2] = VCORE_VMEXIT_IOIO;
    script.i1[2] = (0xcfcull << 16) | VCORE_VMCB_IOIO_SZ32 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_IN;
    script.i2[2] = GCODE + 5;
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.port, 0x3f8);
    ck_assert_uint_eq(e.u.io.width, 2);
    ck_assert_uint_eq(e.u.io.is_in, 0);
    ck_assert_uint_eq(e.u.io.count, 1);
    ck_assert_uint_eq(e.u.io.data[0], 0xdd);
    ck_assert_uint_eq(e.u.io.data[1], 0xcc);
    ck_assert(!(e.flags & VCORE_EXIT_F_NEEDS_REPLY));
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_uint_eq(e.u.io.port, 0x60);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    e.u.io.data[0] = 0x5a;
    ck_assert_int_eq(run(&e), VCORE_OK);
    /* IN AL keeps the rest of RAX */
    ck_assert_uint_eq(script.seen_rax[2], 0x11223344aabbcc5aull);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 4);
    memcpy(e.u.io.data, "\x01\x02\x03\x04", 4);
    ck_assert_int_eq(run(&e), VCORE_OK);
    /* IN EAX zero-extends to RAX */
    ck_assert_uint_eq(script.seen_rax[3], 0x04030201u);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 5);
    vm_down();
}
END_TEST

/* REP OUTSB / REP INSW: elements through guest memory, rSI/rDI and rCX moved. */
START_TEST(exit_string_io)
{
    vm_up();
    use_script();
    static const uint8_t outs[] = {0xf3, 0x6e}; /* REP OUTSB */
    memcpy(ram + GCODE, outs, sizeof(outs));
    memcpy(ram + 0x20000, "hello", 5);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RSI] = 0x20000;
    r.gpr[VCORE_X86_RCX] = 5;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_IOIO;
    script.i1[0] = (0xe9ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_STR |
                   VCORE_VMCB_IOIO_REP;
    script.i2[0] = GCODE + 2;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 5);
    ck_assert_int_eq(memcmp(e.u.io.data, "hello", 5), 0);
    /* REP INSW of 3 words, downwards (DF), to ES:RDI */
    static const uint8_t ins[] = {0xf3, 0x66, 0x6d};
    memcpy(ram + GCODE + 2, ins, sizeof(ins));
    script.code[1] = VCORE_VMEXIT_IOIO;
    script.i1[1] = (0x1f0ull << 16) | VCORE_VMCB_IOIO_SZ16 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_STR |
                   VCORE_VMCB_IOIO_REP | VCORE_VMCB_IOIO_IN;
    script.i2[1] = GCODE + 5;
    script.hook = NULL;
    /* the guest sets DF and RDI, RCX before the INSW: done through the model */
    ck_assert_int_eq(run(&e), VCORE_OK); /* completes OUTS: RSI += 5, RCX = 0 */
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0x20005);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    ck_assert_uint_eq(e.u.io.count, 0); /* RCX was 0 when the INSW exited */
    /* again with a count: redirect to a fresh INSW */
    r.rip = GCODE + 2;
    r.gpr[VCORE_X86_RDI] = 0x30004;
    r.gpr[VCORE_X86_RCX] = 3;
    r.rflags = 2 | (1u << 10); /* DF */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[2] = VCORE_VMEXIT_IOIO;
    script.i1[2] = script.i1[1];
    script.i2[2] = GCODE + 5;
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 3);
    ck_assert_uint_eq(e.u.io.width, 2);
    memcpy(e.u.io.data, "\x11\x22\x33\x44\x55\x66", 6);
    ck_assert_int_eq(run(&e), VCORE_OK);
    /* element k at RDI - 2k */
    ck_assert_uint_eq(ram[0x30004], 0x11);
    ck_assert_uint_eq(ram[0x30005], 0x22);
    ck_assert_uint_eq(ram[0x30002], 0x33);
    ck_assert_uint_eq(ram[0x30000], 0x55);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x30004 - 6);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 5);
    vm_down();
}
END_TEST

/* OUTS with a segment override: decoded from the prefixes, or (decode
 * assists) from EXITINFO1[12:10]. In 64-bit mode only FS and GS have a base. */
START_TEST(exit_outs_segment)
{
    vm_up();
    use_script();
    static const uint8_t outs[] = {0x64, 0x6e}; /* OUTSB FS:[RSI] */
    memcpy(ram + GCODE, outs, sizeof(outs));
    ram[0x21000] = 0x77;
    ram[0x20000] = 0x66;
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.seg[VCORE_X86_FS].base = 0x1000;
    sr.seg[VCORE_X86_DS].base = 0x5000; /* ignored in 64-bit mode */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RSI] = 0x20000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_IOIO;
    script.i1[0] = (0x80ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_STR;
    script.i2[0] = GCODE + 2;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.data[0], 0x77);
    /* decode assists: the segment comes from EXITINFO1 (DS = 3 here) */
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features |= VCORE_SVM_FEAT_DECODE_ASSISTS;
    script.code[1] = VCORE_VMEXIT_IOIO;
    script.i1[1] = script.i1[0] | (3ull << VCORE_VMCB_IOIO_SEG_SHIFT);
    script.i2[1] = GCODE + 4;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.data[0], ram[0x20001]);
    vm_down();
}
END_TEST

/* HLT, VMMCALL (as a hypercall), RDMSR/WRMSR of MSRs the model lacks. */
START_TEST(exit_hlt_vmmcall_msr)
{
    vm_up();
    use_script();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x42;
    r.gpr[VCORE_X86_RBX] = 1;
    r.gpr[VCORE_X86_RCX] = 2;
    r.gpr[VCORE_X86_RDX] = 3;
    r.gpr[VCORE_X86_RSI] = 4;
    r.gpr[VCORE_X86_RDI] = 5;
    r.gpr[VCORE_X86_R8] = 6;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_VMMCALL;
    script.len[0] = 3;
    script.code[1] = VCORE_VMEXIT_MSR; /* WRMSR C001_0010 (not modelled) */
    script.i1[1] = 1;
    script.len[1] = 2;
    script.code[2] = VCORE_VMEXIT_MSR; /* RDMSR, refused by the VMM */
    script.i1[2] = 0;
    script.len[2] = 2;
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(e.u.hypercall.nr, 0x42);
    ck_assert_uint_eq(e.u.hypercall.args[0], 1);
    ck_assert_uint_eq(e.u.hypercall.args[5], 6);
    ck_assert_uint_eq(e.u.hypercall.longmode, 1);
    e.u.hypercall.ret = 0x99;
    /* the guest sets up the WRMSR: ECX = C001_0010, EDX:EAX */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rax[1], 0x99);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 3);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(e.u.msr.index, 2); /* RCX as the guest left it */
    ck_assert_uint_eq(e.u.msr.value, (3ull << 32) | 0x99);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 5);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    e.u.msr.error = 1; /* #GP(0): the core raises it, the RDMSR does not complete */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 5);
    ck_assert_uint_eq(script.seen_inj[3], vcore_vmcb_event(13, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0));
    vm_down();
}
END_TEST

/* The core answers the MSRs it models; a refused WRMSR EFER is #GP. */
START_TEST(exit_efer_write_checked_by_core)
{
    vm_up();
    set_cpuid_ex(vcpu, CPUID_81_EDX_SYSCALL | CPUID_81_EDX_LM, 0); /* no NX */
    use_script();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 0xc0000080u;
    r.gpr[VCORE_X86_RAX] = 0xd01; /* NXE without NX */
    r.gpr[VCORE_X86_RDX] = 0;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_MSR;
    script.i1[0] = 1;
    script.len[0] = 2;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* #GP(0) went in, the WRMSR did not complete, EFER is unchanged */
    ck_assert_uint_eq(script.seen_inj[1], vcore_vmcb_event(13, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0));
    ck_assert_uint_eq(script.seen_rip[1], GCODE);
    ck_assert_uint_eq(script.seen_efer[1], 0x1500);
    vm_down();
}
END_TEST

/* #NPF outside RAM ("Nested versus Guest Page Faults, Fault Ordering"):
 * EXITINFO1 is the error code, EXITINFO2 the guest-physical address. */
START_TEST(exit_mmio)
{
    vm_up();
    use_script();
    /* mov eax, [rbx]; mov byte [rbx], 0x5a; mov [rbx], ah; mov qword [rbx], -2 */
    static const uint8_t code[] = {0x8b, 0x03, 0xc6, 0x03, 0x5a, 0x88, 0x23, 0x48, 0xc7, 0x03, 0xfe, 0xff, 0xff, 0xff};
    memcpy(ram + GCODE, code, sizeof(code));
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0xffffffff0000ab00ull;
    r.gpr[VCORE_X86_RBX] = 0xfee00000u;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    for (int i = 0; i < 4; i++) {
        script.code[i] = VCORE_VMEXIT_NPF;
        script.i2[i] = 0xfee00000u;
        script.i1[i] = VCORE_VMCB_NPF_US | VCORE_VMCB_NPF_FINAL | (i ? VCORE_VMCB_NPF_RW : 0);
    }
    script.code[4] = VCORE_VMEXIT_HLT;
    script.len[4] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.gpa, 0xfee00000u);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    ck_assert_uint_eq(e.u.mmio.is_write, 0);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    memcpy(e.u.mmio.data, "\x78\x56\x34\x12", 4);
    ck_assert_int_eq(run(&e), VCORE_OK);
    /* a 32-bit load zero-extends; RIP past the 2-byte MOV */
    ck_assert_uint_eq(script.seen_rax[1], 0x12345678u);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_uint_eq(e.u.mmio.len, 1);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    ck_assert_uint_eq(e.u.mmio.data[0], 0x5a);
    ck_assert(!(e.flags & VCORE_EXIT_F_NEEDS_REPLY));
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 5);
    ck_assert_uint_eq(e.u.mmio.data[0], 0x56); /* AH of RAX = 0x12345678 */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    ck_assert_uint_eq(e.u.mmio.data[0], 0xfe);
    ck_assert_uint_eq(e.u.mmio.data[7], 0xff); /* imm32 sign-extended */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[4], GCODE + 14);
    vm_down();
}
END_TEST

START_TEST(exit_npf_not_the_instructions_access)
{
    vm_up();
    use_script();
    static const uint8_t code[] = {0x8b, 0x03, 0x90};
    memcpy(ram + GCODE, code, sizeof(code));
    script.code[0] = VCORE_VMEXIT_NPF; /* an instruction fetch */
    script.i1[0] = VCORE_VMCB_NPF_ID | VCORE_VMCB_NPF_FINAL;
    script.i2[0] = 0x80000000u;
    script.code[1] = VCORE_VMEXIT_NPF; /* the guest's page walk */
    script.i1[1] = VCORE_VMCB_NPF_TABLE;
    script.i2[1] = 0x80001000u;
    script.code[2] = VCORE_VMEXIT_NPF; /* during an event delivery */
    script.i1[2] = VCORE_VMCB_NPF_FINAL | VCORE_VMCB_NPF_RW;
    script.ii[2] = vcore_vmcb_event(14, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 2);
    script.code[3] = VCORE_VMEXIT_NPF; /* a write, but the MOV reads */
    script.i1[3] = VCORE_VMCB_NPF_FINAL | VCORE_VMCB_NPF_RW;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERNAL_ERROR);
    ck_assert_uint_eq(e.u.internal.suberror, VCORE_SVM_INTERNAL_NPF_FETCH);
    ck_assert_uint_eq(e.u.internal.data[0], 0x80000000u);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.internal.suberror, VCORE_SVM_INTERNAL_NPF_NOT_DATA);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.internal.suberror, VCORE_SVM_INTERNAL_NPF_NOT_DATA);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.internal.suberror, VCORE_SVM_INTERNAL_MMIO_DECODE);
    /* nothing completed: RIP never moved */
    ck_assert_uint_eq(script.seen_rip[3], GCODE);
    vm_down();
}
END_TEST

/* CR0/CR4 writes come back as CR_ACCESS and the core completes them. */
START_TEST(exit_cr_access_completed_by_core)
{
    vm_up();
    use_script();
    /* mov cr4, rcx (0F 22 E1); clts (0F 06); lmsw dx (0F 01 F2); mov cr4, rcx */
    static const uint8_t code[] = {0x0f, 0x22, 0xe1, 0x0f, 0x06, 0x0f, 0x01, 0xf2, 0x0f, 0x22, 0xe1};
    memcpy(ram + GCODE, code, sizeof(code));
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 0x20 | (1u << 7); /* PAE | PGE */
    r.gpr[VCORE_X86_RDX] = 0x0b;             /* PE MP TS */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_CR4_WRITE;
    script.code[1] = VCORE_VMEXIT_CR0_WRITE;
    script.code[2] = VCORE_VMEXIT_CR0_WRITE;
    script.code[3] = VCORE_VMEXIT_CR4_WRITE;
    script.code[4] = VCORE_VMEXIT_HLT;
    script.len[4] = 1;
    script.hook = NULL;
    vcore_exit_t e = new_exit();
    /* the core completes MOV CR4 itself and re-enters: the CLTS exit follows */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_cr4[1], 0xa0);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 3);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 5);  /* after CLTS */
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 8);  /* after LMSW */
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_uint_eq(sr.cr0 & 0xf, 0x0b); /* LMSW loaded PE MP TS, EM clear */
    ck_assert_uint_eq(vmcb_of(vcpu)->save.cr0 & 0xf, 0x0b);
    vm_down();
}
END_TEST

/* A CR4 bit the vCPU's CPUID hides: #GP(0), CR4 unchanged. */
START_TEST(exit_cr4_checked_by_core)
{
    vm_up();
    use_script();
    static const uint8_t code[] = {0x0f, 0x22, 0xe1}; /* mov cr4, rcx */
    memcpy(ram + GCODE, code, sizeof(code));
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 0x20 | (1u << 16); /* FSGSBASE: not in the vCPU's CPUID */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_CR4_WRITE;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], vcore_vmcb_event(13, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0));
    ck_assert_uint_eq(script.seen_cr4[1], 0x20);
    ck_assert_uint_eq(script.seen_rip[1], GCODE);
    /* decode assists: MOV CRn names the register in EXITINFO1 ("Decode Assists") */
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features |= VCORE_SVM_FEAT_DECODE_ASSISTS;
    r.gpr[VCORE_X86_RCX] = 0x20;
    r.gpr[VCORE_X86_R9] = 0x20 | (1u << 9); /* OSFXSR */
    r.rip = GCODE + 0x40; /* moved: the HLT is not completed; no instruction bytes there */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[2] = VCORE_VMEXIT_CR4_WRITE;
    script.i1[2] = VCORE_VMCB_CR_MOV | 9;
    script.len[2] = 4;
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_cr4[3], 0x220);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 0x44);
    vm_down();
}
END_TEST

/* Exception intercepts: #UD, #PF (error code in EXITINFO1, address in
 * EXITINFO2), #DB/#BP as debug exits, #MC to the host. */
START_TEST(exit_exceptions)
{
    vm_up();
    use_script();
    script.code[0] = VCORE_VMEXIT_EXCP6;
    script.code[1] = VCORE_VMEXIT_EXCP14;
    script.i1[1] = 0x6;
    script.i2[1] = 0xdead000;
    script.code[2] = VCORE_VMEXIT_EXCP3;
    script.code[3] = VCORE_VMEXIT_EXCP1;
    script.dr6[3] = 1u << 14;
    script.code[4] = VCORE_VMEXIT_EXCP18;
    script.code[5] = VCORE_VMEXIT_EXCP13;
    script.i1[5] = 0x18;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_EXCEPTION);
    ck_assert_uint_eq(e.u.exception.vector, 6);
    ck_assert_uint_eq(e.u.exception.has_error_code, 0);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.exception.vector, 14);
    ck_assert_uint_eq(e.u.exception.has_error_code, 1);
    ck_assert_uint_eq(e.u.exception.error_code, 6);
    ck_assert_uint_eq(e.u.exception.cr2, 0xdead000);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_DEBUG);
    ck_assert_uint_eq(e.u.debug.exception, 3);
    ck_assert_uint_eq(e.u.debug.pc, GCODE);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.debug.exception, 1);
    ck_assert(e.u.debug.dr6 & (1u << 14));
    /* the machine check goes to the host and the guest resumes: the next exit is the #GP */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.n_host_mc, 1);
    ck_assert_uint_eq(e.u.exception.vector, 13);
    ck_assert_uint_eq(e.u.exception.error_code, 0x18);
    vm_down();
}
END_TEST

START_TEST(exit_host_events)
{
    vm_up();
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    script.code[1] = VCORE_VMEXIT_NMI; /* the host's: taken at STGI, the guest re-enters */
    script.code[2] = VCORE_VMEXIT_SHUTDOWN;
    script.code[3] = VCORE_VMEXIT_INIT;
    script.code[4] = VCORE_VMEXIT_XSETBV;
    script.i1[4] = 0;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_SHUTDOWN);
    ck_assert_uint_eq(svm_fake.n_vmrun, 3);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INIT);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.raw.reason, 0x8d);
    vm_down();
}
END_TEST

/* VMRUN refusing the state: VMEXIT_INVALID comes back as hardware-error data. */
START_TEST(exit_vmexit_invalid)
{
    vm_up();
    /* The VMM exposes LA57 to the vCPU, the processor has none: the core
     * accepts CR4.LA57, VMRUN does not ("Any MBZ bit of CR4 is set"). */
    set_cpuid_ex(vcpu, CPUID_81_EDX_SYSCALL | CPUID_81_EDX_NX | CPUID_81_EDX_LM, 1u << 16);
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.efer = 0;
    sr.cr0 = 0x11;
    sr.cr4 = 1u << 12;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 13, true, 0, 0), VCORE_OK);
    use_script();
    svm_fake.expect_invalid = true;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HW_ERROR);
    ck_assert_int_eq(e.u.hw_error.kind, 3);
    ck_assert_uint_eq(e.raw.data[0], 0xffffffffffffffffull);
    ck_assert_uint_eq(e.raw.reason, 0xffffffffu);
    ck_assert_uint_eq(svm_fake.check, VCORE_SVM_CHECK_CR4_UNSUPPORTED);
    /* nothing was delivered: the exception is still being injected */
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 1);
    ck_assert_uint_eq(ev.exception_vector, 13);
    vm_down();
}
END_TEST

/* ======================= events ======================= */

START_TEST(events_inject_exception_error_code)
{
    vm_up();
    use_script();
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 13, true, 0x18, 0), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_HLT;
    script.len[0] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    /* "Event Injection": vector 13, TYPE 3, EV, V, error code in 63:32 */
    ck_assert_uint_eq(script.seen_inj[0], vcore_vmcb_event(13, 3, true, 0x18));
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 0); /* delivered */
    ck_assert_uint_eq(ev.exception_pending, 0);
    /* the next entry injects nothing */
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], 0);
    vm_down();
}
END_TEST

static void hook_sti(script_t *s, vcore_vmcb_t *v, vcore__svm_gprs_t *g)
{
    (void)g;
    if (s->step == 1)
        v->save.rflags |= 1u << 9; /* the guest executes STI */
}

/* An interrupt waits for RFLAGS.IF: the window is a virtual interrupt whose
 * delivery is intercepted ("Virtual Interrupt Intercept"). */
START_TEST(events_interrupt_waits_for_window)
{
    vm_up();
    use_script();
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    script.hook = hook_sti;
    script.code[0] = VCORE_VMEXIT_VINTR;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* first entry: no injection, V_IRQ with V_IGN_TPR, VINTR intercepted */
    ck_assert_uint_eq(script.seen_inj[0], 0);
    ck_assert(script.seen_int_ctl[0] & VCORE_VMCB_INT_V_IRQ);
    ck_assert(script.seen_int_ctl[0] & VCORE_VMCB_INT_V_IGN_TPR);
    ck_assert(script.seen_int_ctl[0] & VCORE_VMCB_INT_V_INTR_MASKING);
    ck_assert(script.seen_misc1[0] & (1u << 4));
    /* the core answered the window itself and injected the interrupt */
    ck_assert_uint_eq(script.seen_inj[1], vcore_vmcb_event(0x30, VCORE_VMCB_EVENT_TYPE_INTR, false, 0));
    ck_assert(!(script.seen_int_ctl[1] & VCORE_VMCB_INT_V_IRQ));
    ck_assert(!(script.seen_misc1[1] & (1u << 4)));
    vm_down();
}
END_TEST

/* NMIs: delivered NMIs block the next one until IRET, which only an IRET
 * intercept shows; the instruction is single-stepped and the window opens
 * after it. */
START_TEST(events_nmi_blocking_and_window)
{
    vm_up();
    use_script();
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_HLT; /* the NMI handler runs */
    script.len[0] = 1;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[0], vcore_vmcb_event(2, VCORE_VMCB_EVENT_TYPE_NMI, false, 0));
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.nmi_masked, 1);
    /* a second NMI waits: IRET is intercepted, nothing injected */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    script.code[1] = VCORE_VMEXIT_IRET;
    script.code[2] = VCORE_VMEXIT_EXCP1; /* the single step after the IRET */
    script.dr6[2] = 1u << 14;
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_inj[1], 0);
    ck_assert(script.seen_misc1[1] & (1u << 20)); /* IRET intercept */
    ck_assert(!(script.seen_rflags[1] & (1u << 8)));
    /* after the IRET exit: one instruction under TF, the IRET intercept off */
    ck_assert(script.seen_rflags[2] & (1u << 8));
    ck_assert(!(script.seen_misc1[2] & (1u << 20)));
    ck_assert_uint_eq(script.seen_inj[2], 0);
    /* then the NMI goes in, TF back as the guest had it, BS not left in DR6 */
    ck_assert_uint_eq(script.seen_inj[3], vcore_vmcb_event(2, VCORE_VMCB_EVENT_TYPE_NMI, false, 0));
    ck_assert(!(script.seen_rflags[3] & (1u << 8)));
    ck_assert(!(vmcb_of(vcpu)->save.dr6 & (1u << 14)));
    vm_down();
}
END_TEST

/* The VMM's own NMI window: open at once when nothing blocks NMIs. */
START_TEST(events_vmm_nmi_window)
{
    vm_up();
    use_script();
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.request_nmi_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_NMI_WINDOW);
    ck_assert_uint_eq(svm_fake.n_vmrun, 0);
    /* one-shot */
    script.code[0] = VCORE_VMEXIT_INTR;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    /* under an interrupt shadow: one instruction is stepped first */
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.request_nmi_window = 1;
    ev.sti_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    script.code[1] = VCORE_VMEXIT_EXCP1;
    script.dr6[1] = 1u << 14;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_NMI_WINDOW);
    ck_assert(script.seen_int_state[1] & VCORE_VMCB_STATE_INTERRUPT_SHADOW);
    ck_assert(script.seen_rflags[1] & (1u << 8));
    ck_assert(!(vmcb_of(vcpu)->save.rflags & (1u << 8)));
    vm_down();
}
END_TEST

/* EXITINTINFO: an event whose delivery an intercept interrupted goes in again. */
START_TEST(events_exitintinfo_reinjected)
{
    vm_up();
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    script.ii[0] = vcore_vmcb_event(14, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0x2);
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_uint_eq(e.raw.data[2], script.ii[0]);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 1);
    ck_assert_uint_eq(ev.exception_vector, 14);
    ck_assert_uint_eq(ev.exception_error_code, 2);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], script.ii[0]);
    vm_down();
}
END_TEST

/* A software interrupt re-delivered: with NRIPS the return address goes in
 * nRIP; without it RIP moves past INT n, and back if the delivery is
 * interrupted again ("Event Injection"). */
START_TEST(events_soft_interrupt)
{
    vm_up();
    use_script();
    ram[GCODE] = 0xcd; /* INT 0x80 */
    ram[GCODE + 1] = 0x80;
    script.code[0] = VCORE_VMEXIT_NPF;
    script.i1[0] = VCORE_VMCB_NPF_FINAL;
    script.ii[0] = vcore_vmcb_event(0x80, VCORE_VMCB_EVENT_TYPE_SOFT_INT, false, 0);
    script.code[1] = VCORE_VMEXIT_INTR;
    script.ii[1] = script.ii[0];
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERNAL_ERROR); /* the IDT is not RAM: the VMM's business */
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_injected, 1);
    ck_assert_uint_eq(ev.interrupt_soft, 1);
    ck_assert_uint_eq(ev.soft_insn_len, 2);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], script.ii[0]);
    ck_assert_uint_eq(script.seen_rip[1], GCODE);
    ck_assert_uint_eq(script.seen_next_rip[1], GCODE + 2);
    /* without NRIPS */
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features &= ~VCORE_SVM_FEAT_NRIPS;
    script.code[2] = VCORE_VMEXIT_INTR;
    script.ii[2] = script.ii[0];
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 0;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 2);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.rip, GCODE); /* moved back: interrupted again */
    ram[GCODE + 2] = 0xf4;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 2);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.rip, GCODE + 2); /* delivered: stays */
    vm_down();
}
END_TEST

/* One interrupt-shadow bit for STI and MOV SS ("Interrupt Shadows"). */
START_TEST(events_shadow_mapping)
{
    vm_up();
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.movss_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    script.shadow[0] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_int_state[0], VCORE_VMCB_STATE_INTERRUPT_SHADOW);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.sti_blocking, 1);
    ck_assert_uint_eq(ev.movss_blocking, 0);
    /* a completed instruction ends the shadow */
    script.code[1] = VCORE_VMEXIT_CPUID;
    script.len[1] = 2;
    script.shadow[1] = 1;
    script.code[2] = VCORE_VMEXIT_INTR;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_int_state[2], 0);
    vm_down();
}
END_TEST

/* ======================= state sync ======================= */

START_TEST(sync_segments_and_cpl)
{
    vm_up();
    const vcore_vmcb_t *v = vmcb_of(vcpu);
    /* set_long_mode: CS 64-bit code (AR a09b: VMCB 0a9b), data c093 (VMCB 0c93) */
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(v->save.cs.attrib, 0x0a9b);
    ck_assert_uint_eq(v->save.ss.attrib, 0x0c93);
    ck_assert_uint_eq(v->save.tr.attrib, 0x008b);
    ck_assert_uint_eq(v->save.ldtr.attrib & VCORE_VMCB_ATTR_P, 0); /* unusable */
    ck_assert_uint_eq(v->save.cs.selector, 8);
    ck_assert_uint_eq(v->save.tr.limit, 0x67);
    ck_assert_uint_eq(v->save.cpl, 0);
    ck_assert_uint_eq(v->save.efer, 0x1500);
    /* CPL is SS.DPL */
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_uint_eq(sr.seg[VCORE_X86_CS].ar, 0xa09b);
    ck_assert_uint_eq(sr.seg[VCORE_X86_LDTR].ar & VCORE_X86_AR_UNUSABLE, VCORE_X86_AR_UNUSABLE);
    sr.seg[VCORE_X86_SS].ar |= 3u << 5;
    sr.seg[VCORE_X86_CS].ar |= 3u << 5;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(v->save.cpl, 3);
    vm_down();
}
END_TEST

static void hook_guest_fs(script_t *s, vcore_vmcb_t *v, vcore__svm_gprs_t *g)
{
    (void)s;
    (void)v;
    (void)g;
    /* WRFSBASE / WRMSR KERNEL_GS_BASE in the guest, no exit */
    SVM_FAKE_CPU.ls.fs.base = 0x7f0000001000ull;
    SVM_FAKE_CPU.ls.kernel_gs_base = 0xffff880000002000ull;
}

/* FS, GS, TR, LDTR and the system-call MSRs are VMLOAD/VMSAVE state: what
 * the guest changes without an exit is read back, and the host's survive. */
START_TEST(sync_vmload_state)
{
    vm_up();
    use_script();
    vcore_x86_msrs_t m;
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000082u, &m.lstar), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0xc0000082u, 0xffffffff80001000ull), VCORE_OK);
    script.hook = hook_guest_fs;
    script.code[0] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.n_vmload, 2);
    ck_assert_uint_eq(svm_fake.n_vmsave, 2);
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_uint_eq(sr.seg[VCORE_X86_FS].base, 0x7f0000001000ull);
    uint64_t kgs = 0, lstar = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000102u, &kgs), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0xc0000082u, &lstar), VCORE_OK);
    ck_assert_uint_eq(kgs, 0xffff880000002000ull);
    ck_assert_uint_eq(lstar, 0xffffffff80001000ull);
    /* the host's state is back (svm_fake checks it at every STGI) */
    ck_assert_int_eq(memcmp(&SVM_FAKE_CPU.ls, &svm_fake.host_ls, sizeof(svm_fake_ls_t)), 0);
    vm_down();
}
END_TEST

/* get_state writes exactly the groups asked for. */
START_TEST(sync_get_writes_only_the_groups_asked)
{
    vm_up();
    vcore__svm_vcpu_t *c = priv_of(vcpu);
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK); /* the model is in VMCB01 */
    vcore_x86_state_t st;
    memset(&st, 0xa5, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_RIP), VCORE_OK);
    ck_assert_uint_eq(st.regs.rip, GCODE);
    ck_assert_uint_eq(st.regs.rflags, 0xa5a5a5a5a5a5a5a5ull);
    ck_assert_uint_eq(st.sregs.cr0, 0xa5a5a5a5a5a5a5a5ull);
    ck_assert_uint_eq(st.sregs.seg[VCORE_X86_CS].ar, 0xa5a5a5a5u);
    ck_assert_uint_eq(st.sregs.efer, 0xa5a5a5a5a5a5a5a5ull);
    memset(&st, 0xa5, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_CR0), VCORE_OK);
    ck_assert_uint_eq(st.sregs.cr0, 0x80000031ull);
    ck_assert_uint_eq(st.sregs.efer, 0xa5a5a5a5a5a5a5a5ull); /* EFER is its own group */
    ck_assert_uint_eq(st.sregs.cr8, 0xa5a5a5a5a5a5a5a5ull);
    memset(&st, 0xa5, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_MODE), VCORE_OK);
    ck_assert_uint_eq(st.sregs.seg[VCORE_X86_CS].ar, 0xa09b);
    ck_assert_uint_eq(st.sregs.seg[VCORE_X86_CS].base, 0xa5a5a5a5a5a5a5a5ull);
    ck_assert_uint_eq(st.sregs.seg[VCORE_X86_DS].ar, 0xa5a5a5a5u);
    vm_down();
}
END_TEST

/* set_state writes only what changes, and clears only the clean bits of
 * what it wrote ("VMCB Clean Field"). */
START_TEST(sync_set_writes_only_changes)
{
    vm_up();
    vcore__svm_vcpu_t *c = priv_of(vcpu);
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    script.code[1] = VCORE_VMEXIT_INTR;
    script.code[2] = VCORE_VMEXIT_INTR;
    script.code[3] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_int_eq(run(&e), VCORE_OK); /* past the first VMRUN's flush and clean bits */
    /* the same system registers again: nothing written */
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    uint64_t w = c->stats.vmcb_writes;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(c->stats.vmcb_writes, w);
    ck_assert_uint_eq(svm_fake.clean, VCORE_VMCB_CLEAN_ALL_);
    /* CR4 changes: one field written, CRX not clean */
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.cr4 |= 1u << 7; /* PGE */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    w = c->stats.vmcb_writes;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(c->stats.vmcb_writes - w, 2); /* CR4, and the clean field */
    ck_assert_uint_eq(svm_fake.clean, VCORE_VMCB_CLEAN_ALL_ & ~VCORE_VMCB_CLEAN_CRX);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.cr4, 0xa0);
    vm_down();
}
END_TEST

START_TEST(sync_cr8_tsc_dregs)
{
    vm_up();
    vcore__svm_vcpu_t *c = priv_of(vcpu);
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.cr8 = 0x9;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0x10, 5000000), VCORE_OK);
    vcore_x86_dregs_t dr = {.size = sizeof(dr)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &dr), VCORE_OK);
    dr.dr[2] = 0x1234;
    dr.dr7 = 0x410;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &dr), VCORE_OK);
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    uint64_t tsc_before = svm_fake.tsc;
    ck_assert_int_eq(run(&e), VCORE_OK);
    /* "Virtual Interrupts": CR8 is V_TPR */
    ck_assert_uint_eq(vmcb_of(vcpu)->control.int_ctl & 0xff, 9);
    /* "TSC Offset": the guest reads TSC + TSC_OFFSET */
    ck_assert_uint_eq(vmcb_of(vcpu)->control.tsc_offset, 5000000 - (tsc_before + 10));
    ck_assert_uint_eq(vmcb_of(vcpu)->save.dr7, 0x410);
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_uint_eq(sr.cr8, 9);
    uint64_t tsc = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, 0x10, &tsc), VCORE_OK);
    ck_assert_uint_eq(tsc, svm_fake.tsc + vmcb_of(vcpu)->control.tsc_offset);
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &dr), VCORE_OK);
    ck_assert_uint_eq(dr.dr[2], 0x1234);
    (void)c;
    vm_down();
}
END_TEST

/* EFER.LMA follows EFER.LME and CR0.PG whichever changes. */
START_TEST(sync_lma_follows_paging)
{
    vm_up();
    vcore__svm_vcpu_t *c = priv_of(vcpu);
    vcore_x86_state_t st;
    const vcore_vcpu_state_t *model = vcore_vcpu_model(vcpu);
    st = *model->u.x86;
    ck_assert_int_eq(vcore__svm_state_set(c, &st, VCORE_X86_STATE_ALL), VCORE_OK);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.efer, 0x1500);
    st.sregs.cr0 &= ~(1ull << 31);
    ck_assert_int_eq(vcore__svm_state_set(c, &st, VCORE_X86_STATE_CR0), VCORE_OK);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.efer, 0x1100); /* SVME | LME, LMA gone */
    st.sregs.cr0 |= 1ull << 31;
    ck_assert_int_eq(vcore__svm_state_set(c, &st, VCORE_X86_STATE_CR0), VCORE_OK);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.efer, 0x1500);
    st.sregs.efer = 0;
    ck_assert_int_eq(vcore__svm_state_set(c, &st, VCORE_X86_STATE_EFER), VCORE_OK);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.efer, 0x1000);
    /* a guest that enabled SVM itself sees it */
    st.sregs.efer = 0x1000;
    ck_assert_int_eq(vcore__svm_state_set(c, &st, VCORE_X86_STATE_EFER), VCORE_OK);
    memset(&st.sregs, 0, sizeof(st.sregs));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_EFER), VCORE_OK);
    ck_assert_uint_eq(st.sregs.efer, 0x1000);
    vm_down();
}
END_TEST

/* ======================= clean bits and counts ======================= */

/* A CPUID round trip: every clean bit stays set, two VMLOADs and two
 * VMSAVEs per VMRUN, nothing of the control area rewritten. */
START_TEST(clean_cpuid_round_trip)
{
    vm_up();
    vcore__svm_vcpu_t *c = priv_of(vcpu);
    use_script();
    for (int i = 0; i < 4; i++) {
        script.code[i] = VCORE_VMEXIT_CPUID;
        script.len[i] = 2;
    }
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.clean, 0); /* first VMRUN with this ASID */
    ck_assert_uint_eq(svm_fake.tlb_control, VCORE_VMCB_TLB_FLUSH_ALL); /* first ASID generation */
    ck_assert_int_eq(run(&e), VCORE_OK);
    uint64_t r0 = c->stats.vmcb_reads, w0 = c->stats.vmcb_writes;
    uint64_t l0 = svm_fake.n_vmload, s0 = svm_fake.n_vmsave;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.clean, VCORE_VMCB_CLEAN_ALL_);
    ck_assert_uint_eq(svm_fake.tlb_control, 0);
    ck_assert_uint_eq(svm_fake.n_vmload - l0, 2);
    ck_assert_uint_eq(svm_fake.n_vmsave - s0, 2);
    /* RAX and RIP written (the answer); nothing else */
    ck_assert_uint_eq(c->stats.vmcb_writes - w0, 2);
    ck_assert_uint_le(c->stats.vmcb_reads - r0, 16);
    vm_down();
}
END_TEST

/* ======================= nested page tables ======================= */

START_TEST(npt_2m_4k_readonly_unmap)
{
    vm_up();
    const vcore__svm_vm_t *sv = vcore_vm_backend_priv(vm);
    uint64_t size = 0;
    /* "Nested Paging Facility": RAM at 0 is 2 MiB-aligned and contiguous: 2 MiB leaves */
    uint64_t e0 = vcore__svm_npt_lookup(&sv->npt, &sv->pool, 0x200000, &size);
    ck_assert_uint_eq(size, 2u << 20);
    ck_assert_uint_eq(e0 & 0x87, 0x87); /* P RW US PS */
    ck_assert_uint_eq(e0 & 0x000ffffffffff000ull, (uint64_t)(uintptr_t)ram + 0x200000);
    /* a read-only 4 KiB region */
    uint8_t *rom = amem(4096, 8192);
    vcore_mem_region_t r = {sizeof(r), 0x10000000, 8192, rom, VCORE_MEM_READONLY};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    uint64_t e1 = vcore__svm_npt_lookup(&sv->npt, &sv->pool, 0x10001000, &size);
    ck_assert_uint_eq(size, 4096);
    ck_assert_uint_eq(e1 & 0x87, 0x05); /* P US, not writable, not a large page */
    ck_assert_uint_eq(e1 & 0x000ffffffffff000ull, (uint64_t)(uintptr_t)rom + 4096);
    ck_assert_uint_eq(vcore__svm_npt_lookup(&sv->npt, &sv->pool, 0x10002000, &size), 0);
    /* unmapped: the next VMRUN flushes the ASID ("TLB Control") */
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    script.code[1] = VCORE_VMEXIT_INTR;
    script.code[2] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0x10000000), VCORE_OK);
    ck_assert_uint_eq(vcore__svm_npt_lookup(&sv->npt, &sv->pool, 0x10001000, &size), 0);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.tlb_control, VCORE_VMCB_TLB_FLUSH_ASID);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.tlb_control, VCORE_VMCB_TLB_NOTHING);
    vm_down();
    free(rom);
}
END_TEST

START_TEST(npt_prepare_nomem_changes_nothing)
{
    vm_up();
    const vcore__svm_vm_t *sv = vcore_vm_backend_priv(vm);
    uint8_t *more = amem(4096, 4096);
    /* far from RAM: new PDPT, PD and PT are needed and the pool is out of pages */
    pages_left = 1;
    vcore__svm_vm_t *w = vcore_vm_backend_priv(vm);
    while (w->pool.free_list) {
        uint64_t *p, pa;
        ck_assert_int_eq(vcore__svm_pool_get(&w->pool, &p, &pa), VCORE_OK);
    }
    vcore_mem_region_t r = {sizeof(r), 0x8000000000ull, 4096, more, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_NOMEM);
    uint64_t size;
    ck_assert_uint_eq(vcore__svm_npt_lookup(&sv->npt, &sv->pool, 0x8000000000ull, &size), 0);
    ck_assert_uint_ne(vcore__svm_npt_lookup(&sv->npt, &sv->pool, 0, &size), 0);
    pages_left = 0;
    vm_down();
    free(more);
}
END_TEST

/* ======================= ASIDs ======================= */

START_TEST(asid_per_processor)
{
    vm_up();
    svm_fake.nasid = 3; /* ASIDs 1 and 2 */
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->nasid = 3;
    use_script();
    for (int i = 0; i < 6; i++)
        script.code[i] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.asid, 1);
    /* a vCPU of another VM on the same processor gets another ASID */
    vcore_vm_t *vm2 = make_vm();
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm2))->nasid = 3;
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm2, &r), VCORE_OK);
    vcore_vcpu_t *v2 = NULL, *v3 = NULL;
    ck_assert_int_eq(vcore_vcpu_create(vm2, NULL, &v2), VCORE_OK);
    set_cpuid(v2);
    ck_assert_int_eq(vcore_vcpu_run(v2, &e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.asid, 2);
    ck_assert_uint_eq(svm_fake.tlb_control, VCORE_VMCB_TLB_NOTHING);
    /* the third wraps: a new generation, every ASID flushed */
    ck_assert_int_eq(vcore_vcpu_create(vm2, NULL, &v3), VCORE_OK);
    set_cpuid(v3);
    ck_assert_int_eq(vcore_vcpu_run(v3, &e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.asid, 1);
    ck_assert_uint_eq(svm_fake.tlb_control, VCORE_VMCB_TLB_FLUSH_ALL);
    ck_assert_uint_eq(test_cpus[0].asid_generation, 2);
    /* the first vCPU's ASID is of the old generation: it takes a new one, clean bits cleared */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.asid, 2);
    ck_assert_uint_eq(svm_fake.clean, 0);
    vcore_vcpu_destroy(v2);
    vcore_vcpu_destroy(v3);
    vcore_vm_destroy(vm2);
    vm_down();
}
END_TEST

/* Emulator forms the backend accepts: EXITCODE -1 stored in 32 bits, an
 * IOIO without its address-size bits, a step #DB without DR6.BS. */
START_TEST(exit_emulator_forms)
{
    vm_up();
    use_script();
    script.code[0] = 0xffffffffull;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HW_ERROR);
    ck_assert_int_eq(e.u.hw_error.kind, 3);
    /* REP OUTSB with EXITINFO1[9:7] clear: the address size is decoded (67H: 32-bit) */
    static const uint8_t outs[] = {0xf3, 0x67, 0x6e};
    memcpy(ram + GCODE, outs, sizeof(outs));
    memcpy(ram + 0x20000, "ab", 2);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RSI] = 0xffffffff00020000ull; /* only ESI counts */
    r.gpr[VCORE_X86_RCX] = 0xffffffff00000002ull; /* only ECX counts */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[1] = VCORE_VMEXIT_IOIO;
    script.i1[1] = (0x80ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_STR | VCORE_VMCB_IOIO_REP;
    script.i2[1] = GCODE + 3;
    script.code[2] = VCORE_VMEXIT_HLT;
    script.len[2] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 2);
    ck_assert_int_eq(memcmp(e.u.io.data, "ab", 2), 0);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0x20002);       /* 32-bit result zero-extended */
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    vm_down();
}
END_TEST

/* The NMI-window step ends with a #DB that leaves DR6 alone: still the step's
 * (the guest's TF was clear and DR6 names no breakpoint). */
START_TEST(events_step_without_bs)
{
    vm_up();
    use_script();
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.request_nmi_window = 1;
    ev.sti_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_EXCP1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_NMI_WINDOW);
    /* a breakpoint hit during the step is the guest's */
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.request_nmi_window = 1;
    ev.sti_blocking = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    script.code[1] = VCORE_VMEXIT_EXCP1;
    script.dr6[1] = 1u << 2; /* B2 */
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_DEBUG);
    ck_assert(!(vmcb_of(vcpu)->save.rflags & (1u << 8)));
    vm_down();
}
END_TEST

static Suite *svm_suite(void)
{
    Suite *s = suite_create("svm");
    TCase *tc = tcase_create("backend");
    tcase_add_test(tc, life_svm_enabled_per_cpu);
    tcase_add_test(tc, life_embedder_owns_svm);
    tcase_add_test(tc, life_probe_and_refusals);
    tcase_add_test(tc, life_other_processor_refused);
    tcase_add_test(tc, life_nomem_leaves_nothing);
    tcase_add_test(tc, vmcb01_control_area);
    tcase_add_test(tc, vmcb01_efer_svme_hidden);
    tcase_add_test(tc, exit_cpuid_round_trip);
    tcase_add_test(tc, exit_lengths_decoded_without_nrips);
    tcase_add_test(tc, exit_io);
    tcase_add_test(tc, exit_string_io);
    tcase_add_test(tc, exit_outs_segment);
    tcase_add_test(tc, exit_hlt_vmmcall_msr);
    tcase_add_test(tc, exit_efer_write_checked_by_core);
    tcase_add_test(tc, exit_mmio);
    tcase_add_test(tc, exit_npf_not_the_instructions_access);
    tcase_add_test(tc, exit_cr_access_completed_by_core);
    tcase_add_test(tc, exit_cr4_checked_by_core);
    tcase_add_test(tc, exit_exceptions);
    tcase_add_test(tc, exit_host_events);
    tcase_add_test(tc, exit_vmexit_invalid);
    tcase_add_test(tc, events_inject_exception_error_code);
    tcase_add_test(tc, events_interrupt_waits_for_window);
    tcase_add_test(tc, events_nmi_blocking_and_window);
    tcase_add_test(tc, events_vmm_nmi_window);
    tcase_add_test(tc, events_exitintinfo_reinjected);
    tcase_add_test(tc, events_soft_interrupt);
    tcase_add_test(tc, events_shadow_mapping);
    tcase_add_test(tc, sync_segments_and_cpl);
    tcase_add_test(tc, sync_vmload_state);
    tcase_add_test(tc, sync_get_writes_only_the_groups_asked);
    tcase_add_test(tc, sync_set_writes_only_changes);
    tcase_add_test(tc, sync_cr8_tsc_dregs);
    tcase_add_test(tc, sync_lma_follows_paging);
    tcase_add_test(tc, clean_cpuid_round_trip);
    tcase_add_test(tc, npt_2m_4k_readonly_unmap);
    tcase_add_test(tc, npt_prepare_nomem_changes_nothing);
    tcase_add_test(tc, asid_per_processor);
    tcase_add_test(tc, exit_emulator_forms);
    tcase_add_test(tc, events_step_without_bs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(svm_suite());
}
