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
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(svm_suite());
}
