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

#define FIXTURE_MAX_CPUS SVM_FAKE_MAX_CPUS
#define FIXTURE_THIS_CPU svm_fake.this_cpu
#include "backend_fixture.h"

/* ---- environment: one VM, one vCPU, 4 MiB of RAM at GPA 0, a 64-bit guest ---- */

#define RAM_SIZE (4u << 20)
#define GCODE 0x10000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static uint8_t *ram;

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

/* ======================= limits and edges ======================= */

/* "Testing for SVM Support": the SVM leaf must exist (8000_0000H:EAX at
 * least 8000_000AH), and "TLB Control": ASID 0 is the host's, so the
 * processor must offer at least two. */
START_TEST(life_cpuid_limits)
{
    svm_fake_reset();
    host_init();
    svm_fake.max_ext_leaf = 0x8000000au;
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_OK);
    svm_fake.max_ext_leaf = 0x80000009u;
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_ERR_NODEV);
    svm_fake.max_ext_leaf = 0x8000001fu;
    svm_fake.nasid = 1;
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_ERR_NODEV);
    /* two ASIDs: the guests share ASID 1 in turn */
    svm_fake.nasid = 2;
    ck_assert_int_eq(vcore__backend_svm_ops.probe(&host), VCORE_OK);
    vm = make_vm();
    ram = amem(2u << 20, RAM_SIZE);
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    set_cpuid(vcpu);
    set_long_mode(GCODE);
    use_script();
    script.code[0] = VCORE_VMEXIT_INTR;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(svm_fake.asid, 1);
    vm_down();
}
END_TEST

/* cpu_index must name an entry of cpus (host.h). */
START_TEST(life_cpu_index_out_of_range)
{
    svm_fake_reset();
    host_init();
    host.ncpus = 2;
    vm = make_vm();
    svm_fake.this_cpu = 2;
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_ERR_RANGE);
    vcpu = NULL;
    svm_fake.this_cpu = 1;
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    ck_assert_uint_eq(test_cpus[1].users, 1);
    vm_down();
    svm_fake.this_cpu = 0;
}
END_TEST

/* The IOPM is allocated, the MSRPM is not: nothing is left behind. */
START_TEST(life_nomem_permission_maps)
{
    svm_fake_reset();
    host_init();
    pages_left = 3; /* the page pool's first chunk, the IOPM, then the MSRPM fails */
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
    cfg.host = &host;
    vcore_vm_t *m = NULL;
    ck_assert_int_eq(vcore_vm_create(&cfg, &m), VCORE_ERR_NOMEM);
    ck_assert_int_eq(pages_out, 0);
}
END_TEST

/* Compatibility mode (EFER.LMA with CS.L clear) runs 32-bit code: linear
 * addresses and EIP wrap at 4 GiB ("Compatibility Mode"; "Code-Segment
 * Default-Operand-Size"). CS.base 2 and EIP FFFF_FFFEH put the
 * instruction at linear 0. */
static void set_compat_wrap(void)
{
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.seg[VCORE_X86_CS].base = 2;
    sr.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rip = 0xfffffffeu;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
}

START_TEST(exit_compat_mode_wraps)
{
    vm_up();
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_NRIPS;
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features &= ~VCORE_SVM_FEAT_NRIPS;
    set_compat_wrap();
    use_script();
    /* CPUID (0F A2) at EIP FFFF_FFFEH: the next EIP is 0 */
    ram[0] = 0x0f;
    ram[1] = 0xa2;
    script.code[0] = VCORE_VMEXIT_CPUID;
    /* then MOV EAX, [EBX] (8B 03) at EIP 0 (linear 2) */
    ram[2] = 0x8b;
    ram[3] = 0x03;
    ram[4] = 0xf4; /* HLT at EIP 2 */
    script.code[1] = VCORE_VMEXIT_NPF;
    script.i1[1] = VCORE_VMCB_NPF_US | VCORE_VMCB_NPF_FINAL;
    script.i2[1] = 0xfee00000u;
    script.code[2] = VCORE_VMEXIT_HLT;
    script.len[2] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_eq(e.raw.data[4], 0);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[1], 0);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    memcpy(e.u.mmio.data, "\x01\x02\x03\x04", 4);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[2], 2);
    ck_assert_uint_eq(script.seen_rax[2], 0x04030201u);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    vm_down();
}
END_TEST

/* MMIO at the wrap, and a CR write: the next EIP wraps at 4 GiB. */
START_TEST(exit_compat_mode_wraps_mmio_cr)
{
    vm_up();
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_NRIPS;
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features &= ~VCORE_SVM_FEAT_NRIPS;
    set_compat_wrap();
    use_script();
    /* MOV EAX, [EBX] at EIP FFFF_FFFEH: next EIP 0 */
    ram[0] = 0x8b;
    ram[1] = 0x03;
    ram[2] = 0xf4; /* HLT at EIP 0 */
    script.code[0] = VCORE_VMEXIT_NPF;
    script.i1[0] = VCORE_VMCB_NPF_US | VCORE_VMCB_NPF_FINAL;
    script.i2[0] = 0xfee00000u;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.raw.data[4], 0);
    memcpy(e.u.mmio.data, "\x05\x06\x07\x08", 4);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[1], 0);
    /* MOV CR4, ECX (0F 22 E1) at EIP FFFF_FFFEH: the core completes it, next EIP 1 */
    set_compat_wrap();
    ram[0] = 0x0f;
    ram[1] = 0x22;
    ram[2] = 0xe1;
    ram[3] = 0xf4; /* HLT at EIP 1 */
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 0x20 | (1u << 7); /* PAE | PGE */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.code[2] = VCORE_VMEXIT_CR4_WRITE;
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_rip[3], 1);
    ck_assert_uint_eq(script.seen_cr4[3], 0xa0);
    vm_down();
}
END_TEST

/* A software interrupt re-delivered in compatibility mode: nRIP wraps too. */
START_TEST(events_soft_interrupt_compat_wrap)
{
    vm_up();
    set_compat_wrap();
    use_script();
    ram[0] = 0xcd; /* INT 0x80 at EIP FFFF_FFFEH */
    ram[1] = 0x80;
    script.code[0] = VCORE_VMEXIT_INTR;
    script.ii[0] = vcore_vmcb_event(0x80, VCORE_VMCB_EVENT_TYPE_SOFT_INT, false, 0);
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], script.ii[0]);
    ck_assert_uint_eq(script.seen_rip[1], 0xfffffffeu);
    ck_assert_uint_eq(script.seen_next_rip[1], 0);
    vm_down();
}
END_TEST

/* INT3 whose delivery was interrupted comes back as an exception (TYPE 3,
 * vector 3) with its instruction's length, and goes in again with nRIP
 * past the INT3 ("Event Injection"). */
START_TEST(events_int3_reinjected_with_length)
{
    vm_up();
    use_script();
    ram[GCODE] = 0xcc;
    script.code[0] = VCORE_VMEXIT_INTR;
    script.ii[0] = vcore_vmcb_event(3, VCORE_VMCB_EVENT_TYPE_EXCEPTION, false, 0);
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 1);
    ck_assert_uint_eq(ev.exception_vector, 3);
    ck_assert_uint_eq(ev.soft_insn_len, 1);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], script.ii[0]);
    ck_assert_uint_eq(script.seen_next_rip[1], GCODE + 1);
    vm_down();
}
END_TEST

/* An NMI whose delivery was interrupted is still being injected: NMIs are
 * not blocked yet. An interrupt delivered leaves NMI blocking alone. */
START_TEST(events_nmi_interrupted_not_masked)
{
    vm_up();
    use_script();
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_NPF;
    script.i1[0] = VCORE_VMCB_NPF_FINAL | VCORE_VMCB_NPF_RW;
    script.i2[0] = 0xfee00000u;
    script.ii[0] = vcore_vmcb_event(2, VCORE_VMCB_EVENT_TYPE_NMI, false, 0);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.nmi_injected, 1);
    ck_assert_uint_eq(ev.nmi_masked, 0);
    vm_down();

    vm_up();
    use_script();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rflags |= 1u << 9; /* IF */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_HLT;
    script.len[0] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[0], vcore_vmcb_event(0x30, VCORE_VMCB_EVENT_TYPE_INTR, false, 0));
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_injected, 0);
    ck_assert_uint_eq(ev.nmi_masked, 0);
    vm_down();
}
END_TEST

/* The NMI window is not stepped into while an event goes in: the
 * delivery would push RFLAGS.TF on the guest's stack. */
START_TEST(events_nmi_window_not_stepped_while_injecting)
{
    vm_up();
    use_script();
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.request_nmi_window = 1;
    ev.sti_blocking = 1;
    ev.exception_injected = 1;
    ev.exception_vector = 6; /* #UD */
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    script.code[0] = VCORE_VMEXIT_HLT;
    script.len[0] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[0], vcore_vmcb_event(6, VCORE_VMCB_EVENT_TYPE_EXCEPTION, false, 0));
    ck_assert(!(script.seen_rflags[0] & (1u << 8)));
    vm_down();
}
END_TEST

/* VMRUN refused the state: a software interrupt's RIP advance (no NRIPS)
 * is undone with the rest. */
START_TEST(events_soft_interrupt_undone_on_vmexit_invalid)
{
    vm_up();
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features &= ~VCORE_SVM_FEAT_NRIPS;
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_NRIPS;
    use_script();
    ram[GCODE] = 0xcd;
    ram[GCODE + 1] = 0x80;
    /* the VMM exposes LA57, the processor has none: VMRUN will refuse CR4.LA57 */
    set_cpuid_ex(vcpu, CPUID_81_EDX_SYSCALL | CPUID_81_EDX_NX | CPUID_81_EDX_LM, 1u << 16);
    script.code[0] = VCORE_VMEXIT_INTR;
    script.ii[0] = vcore_vmcb_event(0x80, VCORE_VMCB_EVENT_TYPE_SOFT_INT, false, 0);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.efer = 0;
    sr.cr0 = 0x11;
    sr.cr4 = 1u << 12;
    sr.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    svm_fake.expect_invalid = true;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HW_ERROR);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.rip, GCODE);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_injected, 1);
    ck_assert_uint_eq(ev.interrupt_soft, 1);
    vm_down();
}
END_TEST

/* MMIO loads into other registers: RBX through the saved GPRs, RSP through
 * the VMCB; a 64-bit load keeps all 8 bytes. */
START_TEST(exit_mmio_registers)
{
    vm_up();
    use_script();
    /* mov ebx, [rax] (8B 18); mov rsp, [rax] (48 8B 20); mov rax, [rax] (48 8B 00) */
    static const uint8_t code[] = {0x8b, 0x18, 0x48, 0x8b, 0x20, 0x48, 0x8b, 0x00};
    memcpy(ram + GCODE, code, sizeof(code));
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0xfee00000u;
    r.gpr[VCORE_X86_RBX] = 0xffffffffffffffffull;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    for (int i = 0; i < 3; i++) {
        script.code[i] = VCORE_VMEXIT_NPF;
        script.i2[i] = 0xfee00000u;
        script.i1[i] = VCORE_VMCB_NPF_US | VCORE_VMCB_NPF_FINAL;
    }
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    memcpy(e.u.mmio.data, "\x11\x22\x33\x44", 4);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rbx[1], 0x44332211u); /* zero-extended */
    ck_assert_uint_eq(vmcb_of(vcpu)->save.rsp, 0x3ff000);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    memcpy(e.u.mmio.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.rsp, 0x0807060504030201ull);
    ck_assert_uint_eq(script.seen_rbx[2], 0x44332211u);
    memcpy(e.u.mmio.data, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rax[3], 0x1122334455667788ull);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 8);
    vm_down();
}
END_TEST

/* "Decode Assists": EXITINFO1[63] says the CR0 write was a MOV; CLTS and
 * LMSW leave it clear and are decoded. */
START_TEST(exit_clts_with_decode_assists)
{
    vm_up();
    ((vcore__svm_vm_t *)vcore_vm_backend_priv(vm))->features |= VCORE_SVM_FEAT_DECODE_ASSISTS;
    use_script();
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.cr0 |= 8; /* TS */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    ram[GCODE] = 0x0f; /* CLTS */
    ram[GCODE + 1] = 0x06;
    script.code[0] = VCORE_VMEXIT_CR0_WRITE;
    script.i1[0] = 0;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_uint_eq(vmcb_of(vcpu)->save.cr0, 0x80000031ull);
    vm_down();
}
END_TEST

/* Exception intercepts are exit codes 40H-5FH ("Exception Intercepts"):
 * vector 31 is the last. */
START_TEST(exit_exception_vector_31)
{
    vm_up();
    use_script();
    script.code[0] = VCORE_VMEXIT_EXCP0 + 31;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_EXCEPTION);
    ck_assert_uint_eq(e.u.exception.vector, 31);
    vm_down();
}
END_TEST

/* String I/O moves exactly the count: OUTS reads no element after the last
 * (here the last byte of RAM), INS writes none. */
START_TEST(exit_string_io_exact_count)
{
    vm_up();
    use_script();
    memcpy(ram + RAM_SIZE - 3, "xyz", 3);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RSI] = RAM_SIZE - 3;
    r.gpr[VCORE_X86_RDI] = 0x30000;
    r.gpr[VCORE_X86_RCX] = 3;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    static const uint8_t code[] = {0xf3, 0x6e, 0xf3, 0x6c}; /* REP OUTSB; REP INSB */
    memcpy(ram + GCODE, code, sizeof(code));
    script.code[0] = VCORE_VMEXIT_IOIO;
    script.i1[0] = (0xe9ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_STR |
                   VCORE_VMCB_IOIO_REP;
    script.i2[0] = GCODE + 2;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 3);
    ck_assert_int_eq(memcmp(e.u.io.data, "xyz", 3), 0);
    ck_assert_int_eq(run(&e), VCORE_OK); /* OUTS completes; RCX is 0: set it again */
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rip = GCODE + 2;
    r.gpr[VCORE_X86_RCX] = 3;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ram[0x30003] = 0xee;
    script.code[2] = VCORE_VMEXIT_IOIO;
    script.i1[2] = (0x60ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_STR |
                   VCORE_VMCB_IOIO_REP | VCORE_VMCB_IOIO_IN;
    script.i2[2] = GCODE + 4;
    script.code[3] = VCORE_VMEXIT_HLT;
    script.len[3] = 1;
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 3);
    memcpy(e.u.io.data, "abcd", 4);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_int_eq(memcmp(ram + 0x30000, "abc", 3), 0);
    ck_assert_uint_eq(ram[0x30003], 0xee);
    vm_down();
}
END_TEST

/* 16-bit address size (67H in 32-bit code): REP counts CX; bits 31:16 of
 * ECX stay and do not count ("REP"). */
START_TEST(exit_string_io_16bit_count)
{
    vm_up();
    use_script();
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.efer = 0;
    sr.cr0 = 0x11; /* protected mode, no paging */
    sr.cr4 = 0;
    sr.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RDI] = 0x12340000u; /* DI 0 */
    r.gpr[VCORE_X86_RCX] = 0x00010002u; /* CX 2 */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    static const uint8_t code[] = {0xf3, 0x67, 0x6c}; /* REP INSB with a 16-bit address */
    memcpy(ram + GCODE, code, sizeof(code));
    script.code[0] = VCORE_VMEXIT_IOIO;
    script.i1[0] = (0x60ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_A16 | VCORE_VMCB_IOIO_STR |
                   VCORE_VMCB_IOIO_REP | VCORE_VMCB_IOIO_IN;
    script.i2[0] = GCODE + 3;
    script.code[1] = VCORE_VMEXIT_HLT;
    script.len[1] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 2);
    memcpy(e.u.io.data, "pq", 2);
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 3); /* CX reached 0: done */
    ck_assert_int_eq(memcmp(ram, "pq", 2), 0);        /* ES:DI, ES base 0 */
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x00010000u);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x12340002u);
    vm_down();
}
END_TEST

/* A 64-bit address: RSI above 4 GiB, mapped by the guest's page tables to
 * a page of its own. */
START_TEST(exit_string_io_64bit_address)
{
    vm_up();
    use_script();
    uint64_t *pdpt = (uint64_t *)(void *)(ram + 0x2000), *pd4 = (uint64_t *)(void *)(ram + 0x4000);
    pdpt[4] = 0x4003;       /* linear 4 GiB .. 5 GiB */
    pd4[0] = 0x200000 | 0x83; /* -> physical 2 MiB */
    memcpy(ram + 0x205000, "hi", 2);
    memcpy(ram + 0x5000, "no", 2);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RSI] = 0x100005000ull;
    r.gpr[VCORE_X86_RCX] = 2;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    static const uint8_t code[] = {0xf3, 0x6e};
    memcpy(ram + GCODE, code, sizeof(code));
    script.code[0] = VCORE_VMEXIT_IOIO;
    script.i1[0] = (0xe9ull << 16) | VCORE_VMCB_IOIO_SZ8 | VCORE_VMCB_IOIO_A64 | VCORE_VMCB_IOIO_STR |
                   VCORE_VMCB_IOIO_REP;
    script.i2[0] = GCODE + 2;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(run(&e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 2);
    ck_assert_int_eq(memcmp(e.u.io.data, "hi", 2), 0);
    vm_down();
}
END_TEST

/* Groups the VMCB does not hold (DR0-3, FPU, XCR0, the MSRs without a
 * field) are kept as last set; each is written only when asked for. */
START_TEST(sync_kept_groups)
{
    vm_up();
    vcore__svm_vcpu_t *c = priv_of(vcpu);
    vcore_x86_state_t in;
    memset(&in, 0, sizeof(in));
    for (unsigned i = 0; i < 4; i++)
        in.dregs.dr[i] = 0x1000u + i;
    in.dregs.dr6 = 0xffff0ff1u;
    in.dregs.dr7 = 0x401;
    in.fpu.fcw = 0x27f;
    in.xcr0 = 7;
    in.msrs.tsc_aux = 0x55;
    ck_assert_int_eq(vcore__svm_state_set(c, &in, VCORE_X86_STATE_DREGS | VCORE_X86_STATE_FPU |
                                                      VCORE_X86_STATE_XCR0 | VCORE_X86_STATE_MSRS),
                     VCORE_OK);
    /* the guest changes DR6 (a VMCB field) */
    vmcb_of(vcpu)->save.dr6 = 0xffff4ff0u;
    vcore_x86_state_t st;
    memset(&st, 0xa5, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_DREGS), VCORE_OK);
    for (unsigned i = 0; i < 4; i++)
        ck_assert_uint_eq(st.dregs.dr[i], 0x1000u + i);
    ck_assert_uint_eq(st.dregs.dr6, 0xffff4ff0u);
    ck_assert_uint_eq(st.dregs.dr7, 0x401);
    ck_assert_uint_eq(st.xcr0, 0xa5a5a5a5a5a5a5a5ull);
    ck_assert_uint_eq(st.fpu.fcw, 0xa5a5);
    ck_assert_uint_eq(st.msrs.tsc, 0xa5a5a5a5a5a5a5a5ull);
    memset(&st, 0xa5, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_FPU), VCORE_OK);
    ck_assert_uint_eq(st.fpu.fcw, 0x27f);
    ck_assert_uint_eq(st.xcr0, 0xa5a5a5a5a5a5a5a5ull);
    ck_assert_uint_eq(st.msrs.tsc, 0xa5a5a5a5a5a5a5a5ull);
    memset(&st, 0xa5, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_XCR0), VCORE_OK);
    ck_assert_uint_eq(st.xcr0, 7);
    ck_assert_uint_eq(st.fpu.fcw, 0xa5a5);
    memset(&st, 0xa5, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_MSRS), VCORE_OK);
    ck_assert_uint_eq(st.msrs.tsc_aux, 0x55);
    ck_assert_uint_eq(st.msrs.tsc, 0xa5a5a5a5a5a5a5a5ull);
    /* set_state of other groups leaves them alone */
    memset(&in, 0x5a, sizeof(in));
    ck_assert_int_eq(vcore__svm_state_set(c, &in, VCORE_X86_STATE_TSC), VCORE_OK);
    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(vcore__svm_state_get(c, &st, VCORE_X86_STATE_FPU | VCORE_X86_STATE_XCR0), VCORE_OK);
    ck_assert_uint_eq(st.fpu.fcw, 0x27f);
    ck_assert_uint_eq(st.xcr0, 7);
    vm_down();
}
END_TEST

/* ---- nested page tables with a host whose physical layout the test chooses ---- */

static uint8_t *v2p_base;  /* the region's host memory */
static uint64_t v2p_pa;    /* its physical address */
static uint64_t v2p_len;
static uint64_t v2p_hole;  /* offset of a page mapped elsewhere (0: none) */

static uint64_t test_v2p(void *ctx, const void *va)
{
    (void)ctx;
    const uint8_t *p = va;
    if (p >= v2p_base && p < v2p_base + v2p_len) {
        uint64_t off = (uint64_t)(p - v2p_base);
        if (v2p_hole && (off & ~0xfffull) == v2p_hole)
            return 0x7700000000ull + (off & 0xfffu);
        return v2p_pa + off;
    }
    return 0x6600000000ull + ((uint64_t)(uintptr_t)p & 0xfffu); /* outside: not contiguous with it */
}

static uint64_t npt_leaf(vcore__svm_npt_t *n, vcore__svm_pool_t *p, uint64_t gpa, uint64_t *size)
{
    *size = 0;
    return vcore__svm_npt_lookup(n, p, gpa, size);
}

static void npt_map(vcore__svm_npt_t *n, vcore__svm_pool_t *p, const vcore_host_t *h, uint64_t gpa,
                    uint64_t len)
{
    vcore_mem_region_t r = {sizeof(r), gpa, len, v2p_base, 0};
    ck_assert_int_eq(vcore__svm_npt_prepare(n, p, h, &r), VCORE_OK);
    vcore__svm_npt_commit(n, p, h, &r);
}

/* "Nested Paging Facility": a 2 MiB leaf only where the 2 MiB is aligned
 * in both address spaces and physically contiguous. */
START_TEST(npt_2m_needs_aligned_contiguous_pages)
{
    host_init();
    host.virt_to_phys = test_v2p;
    v2p_base = amem(2u << 20, 4u << 20);
    v2p_len = 2u << 20; /* exactly one 2 MiB */
    vcore__svm_pool_t pool;
    vcore__svm_npt_t npt;
    uint64_t size;
    /* aligned and contiguous, the page after it elsewhere: one 2 MiB leaf */
    v2p_pa = 0x40000000u;
    v2p_hole = 0;
    vcore__svm_pool_init(&pool, &host);
    ck_assert_int_eq(vcore__svm_npt_init(&npt, &pool), VCORE_OK);
    npt_map(&npt, &pool, &host, 0x200000, v2p_len);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x3ff000, &size) & 0x000ffffffffff000ull, 0x40000000u);
    ck_assert_uint_eq(size, 2u << 20);
    vcore__svm_pool_fini(&pool);
    /* physically misaligned: 4 KiB leaves */
    v2p_pa = 0x40001000u;
    vcore__svm_pool_init(&pool, &host);
    ck_assert_int_eq(vcore__svm_npt_init(&npt, &pool), VCORE_OK);
    npt_map(&npt, &pool, &host, 0x200000, v2p_len);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x3ff000, &size) & 0x000ffffffffff000ull, 0x40200000u);
    ck_assert_uint_eq(size, 4096);
    vcore__svm_pool_fini(&pool);
    /* one page elsewhere: 4 KiB leaves, that page where the host says */
    v2p_pa = 0x40000000u;
    v2p_hole = 0x5000;
    vcore__svm_pool_init(&pool, &host);
    ck_assert_int_eq(vcore__svm_npt_init(&npt, &pool), VCORE_OK);
    npt_map(&npt, &pool, &host, 0x200000, v2p_len);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x205000, &size) & 0x000ffffffffff000ull, 0x7700000000ull);
    ck_assert_uint_eq(size, 4096);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x206000, &size) & 0x000ffffffffff000ull, 0x40006000u);
    vcore__svm_pool_fini(&pool);
    free(v2p_base);
    v2p_hole = 0;
}
END_TEST

/* 4 KiB pages across a 2 MiB boundary: a page table on each side; unmap
 * removes exactly the region. */
START_TEST(npt_4k_across_2m_boundary_and_unmap)
{
    host_init();
    host.virt_to_phys = test_v2p;
    v2p_base = amem(4096, 0x4000);
    v2p_len = 0x4000;
    v2p_pa = 0x50000000u;
    v2p_hole = 0;
    vcore__svm_pool_t pool;
    vcore__svm_npt_t npt;
    uint64_t size;
    vcore__svm_pool_init(&pool, &host);
    ck_assert_int_eq(vcore__svm_npt_init(&npt, &pool), VCORE_OK);
    npt_map(&npt, &pool, &host, 0x1ff000, 0x3000); /* 1FF000H, 200000H, 201000H */
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x1ff000, &size) & 0x000ffffffffff000ull, 0x50000000u);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x200000, &size) & 0x000ffffffffff000ull, 0x50001000u);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x201000, &size) & 0x000ffffffffff000ull, 0x50002000u);
    ck_assert_uint_eq(size, 4096);
    /* a neighbour right after it */
    vcore_mem_region_t nb = {sizeof(nb), 0x202000, 0x1000, v2p_base + 0x3000, 0};
    ck_assert_int_eq(vcore__svm_npt_prepare(&npt, &pool, &host, &nb), VCORE_OK);
    vcore__svm_npt_commit(&npt, &pool, &host, &nb);
    vcore_mem_region_t r = {sizeof(r), 0x1ff000, 0x3000, v2p_base, 0};
    vcore__svm_npt_unmap(&npt, &pool, &r);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x201000, &size), 0);
    ck_assert_uint_eq(npt_leaf(&npt, &pool, 0x202000, &size) & 0x000ffffffffff000ull, 0x50003000u);
    vcore__svm_pool_fini(&pool);
    free(v2p_base);
}
END_TEST

/* ---- the page pool with a host whose chunks the test places ---- */

static uint8_t pool_arena[8][16 * 4096] __attribute__((aligned(4096)));
static int pool_layout; /* 0: virtually adjacent chunks; 1: physically adjacent chunks */
static unsigned pool_next;

static void *pool_alloc(void *ctx, size_t count, uint64_t *phys)
{
    (void)ctx;
    ck_assert_uint_eq(count, VCORE__SVM_POOL_CHUNK_PAGES);
    ck_assert_uint_lt(pool_next, 8);
    unsigned k = pool_next++;
    size_t chunk = VCORE__SVM_POOL_CHUNK_PAGES * 4096u;
    if (pool_layout == 0) {
        *phys = 0x80000000ull + (uint64_t)k * 0x100000u;
        return &pool_arena[0][0] + (size_t)k * chunk;
    }
    *phys = 0x80000000ull + (uint64_t)k * chunk;
    return &pool_arena[k][0];
}

static void pool_free(void *ctx, void *va, size_t count)
{
    (void)ctx;
    (void)va;
    (void)count;
}

/* Every page keeps the physical address of its own chunk, also where
 * chunks touch in one of the two address spaces. */
START_TEST(pool_chunks_touching)
{
    for (pool_layout = 0; pool_layout < 2; pool_layout++) {
        host_init();
        host.alloc_pages = pool_alloc;
        host.free_pages = pool_free;
        pool_next = 0;
        vcore__svm_pool_t pool;
        vcore__svm_pool_init(&pool, &host);
        for (unsigned i = 0; i < 3 * VCORE__SVM_POOL_CHUNK_PAGES; i++) {
            uint64_t *va = NULL, pa = 0;
            ck_assert_int_eq(vcore__svm_pool_get(&pool, &va, &pa), VCORE_OK);
            /* the chunk the page is in, from where the test put it */
            uint8_t *p = (uint8_t *)va;
            size_t chunk = VCORE__SVM_POOL_CHUNK_PAGES * 4096u;
            unsigned k;
            uint64_t off;
            if (pool_layout == 0) {
                k = (unsigned)((size_t)(p - &pool_arena[0][0]) / chunk);
                off = (uint64_t)((size_t)(p - &pool_arena[0][0]) % chunk);
                ck_assert_uint_eq(pa, 0x80000000ull + (uint64_t)k * 0x100000u + off);
            } else {
                k = (unsigned)((size_t)(p - &pool_arena[0][0]) / sizeof(pool_arena[0]));
                off = (uint64_t)(p - &pool_arena[k][0]);
                ck_assert_uint_eq(pa, 0x80000000ull + (uint64_t)k * chunk + off);
            }
            ck_assert_ptr_eq(vcore__svm_pool_va(&pool, pa), va);
        }
        /* an address in no chunk */
        ck_assert_ptr_null(vcore__svm_pool_va(&pool, 0x1000));
        vcore__svm_pool_fini(&pool);
    }
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
    tcase_add_test(tc, life_cpuid_limits);
    tcase_add_test(tc, life_cpu_index_out_of_range);
    tcase_add_test(tc, life_nomem_permission_maps);
    tcase_add_test(tc, exit_compat_mode_wraps);
    tcase_add_test(tc, exit_compat_mode_wraps_mmio_cr);
    tcase_add_test(tc, events_soft_interrupt_compat_wrap);
    tcase_add_test(tc, events_int3_reinjected_with_length);
    tcase_add_test(tc, events_nmi_interrupted_not_masked);
    tcase_add_test(tc, events_nmi_window_not_stepped_while_injecting);
    tcase_add_test(tc, events_soft_interrupt_undone_on_vmexit_invalid);
    tcase_add_test(tc, exit_mmio_registers);
    tcase_add_test(tc, exit_clts_with_decode_assists);
    tcase_add_test(tc, exit_exception_vector_31);
    tcase_add_test(tc, exit_string_io_exact_count);
    tcase_add_test(tc, exit_string_io_16bit_count);
    tcase_add_test(tc, exit_string_io_64bit_address);
    tcase_add_test(tc, sync_kept_groups);
    tcase_add_test(tc, npt_2m_needs_aligned_contiguous_pages);
    tcase_add_test(tc, npt_4k_across_2m_boundary_and_unmap);
    tcase_add_test(tc, pool_chunks_touching);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(svm_suite());
}
