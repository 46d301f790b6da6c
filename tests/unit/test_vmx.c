/*
 * The vmx backend's pure C logic against the strict fake of its primitives:
 * capability probing and control adjustment, VMX root operation per
 * processor and the VMCS life cycle, vmcs01 construction and the hardware
 * VMCS ops, the EPT builder, exit decoding and completion, field-group
 * state sync, events, MOV decoding and the guest page walk.
 *
 * Expected values come from the SDM (section titles cited where a rule is
 * checked), never from what the code printed.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-vmx/vmx.h"
#include "core/x86/x86.h"
#include "support.h"
#include "vmx_fake.h"

extern const vcore_backend_t vcore__backend_vmx_ops;

#define FIXTURE_MAX_CPUS VMX_FAKE_MAX_CPUS
#define FIXTURE_THIS_CPU vmx_fake.this_cpu
#include "backend_fixture.h"

/* ---- environment: one VM, one vCPU, 4 MiB of RAM at GPA 0, 64-bit guest ---- */

#define RAM_SIZE (4u << 20)
#define GCODE 0x10000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static uint8_t *ram;

#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_81_EDX_NX (1u << 20)

static void set_cpuid_ex(vcore_vcpu_t *v, uint32_t ecx1, uint32_t edx81)
{
    vcore_cpuid_entry_t t[5];
    memset(t, 0, sizeof(t));
    t[0].function = 0;
    t[0].eax = 1;
    t[0].ebx = 0x756e6547; /* "Genu" */
    t[0].edx = 0x49656e69; /* "ineI" */
    t[0].ecx = 0x6c65746e; /* "ntel" */
    t[1].function = 1;
    t[1].eax = 0x50654;
    t[1].ecx = ecx1;
    /* FPU PSE TSC MSR PAE CX8 APIC SEP PGE CMOV PAT FXSR SSE SSE2 */
    t[1].edx = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9) |
               (1u << 11) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 24) | (1u << 25) | (1u << 26);
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000008u;
    t[3].function = 0x80000001u;
    t[3].edx = edx81;
    t[4].function = 0x80000008u;
    t[4].eax = 0x3028; /* 40 physical, 48 linear address bits */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, 5), VCORE_OK);
}

static void set_cpuid(vcore_vcpu_t *v)
{
    set_cpuid_ex(v, 0, (1u << 11) | CPUID_81_EDX_NX | (1u << 29)); /* SYSCALL NX LM */
}

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
    /* Guest page tables: PML4 1000H, PDPT 2000H, PD 3000H, 1 GiB of 2 MiB pages. */
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
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    cfg.max_vcpus = 4;
    ck_assert_int_eq(vcore_vm_create(&cfg, &m), VCORE_OK);
    return m;
}

static void vm_up_cfg(const vcore_vcpu_config_t *vc)
{
    vmx_fake_reset();
    host_init();
    vm = make_vm();
    ram = amem(2u << 20, RAM_SIZE);
    ck_assert_ptr_nonnull(ram);
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, vc, &vcpu), VCORE_OK);
    set_cpuid(vcpu);
    set_long_mode(GCODE);
}

static void vm_up(void)
{
    vm_up_cfg(NULL);
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

static vcore__vmx_vcpu_t *priv_of(vcore_vcpu_t *v)
{
    return vcore_vcpu_backend_priv(v);
}

/* ---- guest scripts ---- */

#define STEPS 12
typedef struct script {
    uint32_t step;
    uint64_t n_injected;            /* vmx_fake.n_injected at the previous entry */
    uint64_t seen_rip[STEPS];
    uint64_t seen_rax[STEPS];
    uint64_t seen_intr_state[STEPS]; /* interruptibility state the guest started with */
    uint32_t seen_inj[STEPS];        /* event this entry injected (0: none) */
    uint32_t seen_inj_err[STEPS];
    uint32_t seen_proc[STEPS];       /* primary processor-based controls at entry */
    uint32_t reason[STEPS];
    uint64_t qual[STEPS];
    uint32_t len[STEPS];
    uint64_t gpa[STEPS];
    uint32_t intr[STEPS];            /* VM-exit interruption information */
    uint32_t intr_err[STEPS];
    uint32_t idt[STEPS];             /* IDT-vectoring information */
    uint32_t idt_err[STEPS];
    uint32_t ii[STEPS];              /* VM-exit instruction information */
    uint64_t gla[STEPS];             /* guest-linear address */
    uint32_t intr_state[STEPS];      /* interruptibility state at the exit | 0x100 to set it */
    void (*hook)(struct script *s, vcore__vmx_gprs_t *g);
} script_t;

static void script_guest(vmx_fake_t *f, vcore__vmx_gprs_t *g, void *arg)
{
    script_t *s = arg;
    (void)f;
    ck_assert_uint_lt(s->step, STEPS);
    uint32_t i = s->step++;
    s->seen_rip[i] = vmx_fake_get(VCORE_VMCS_GUEST_RIP);
    s->seen_rax[i] = g->gpr[VCORE_X86_RAX];
    s->seen_intr_state[i] = vmx_fake_get(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO);
    s->seen_proc[i] = (uint32_t)vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    if (vmx_fake.n_injected != s->n_injected) {
        s->seen_inj[i] = vmx_fake.inj_info;
        s->seen_inj_err[i] = vmx_fake.inj_error;
        s->n_injected = vmx_fake.n_injected;
    }
    if (s->hook)
        s->hook(s, g);
    if (s->gpa[i])
        vmx_fake_set(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, s->gpa[i]);
    if (s->intr[i]) {
        vmx_fake_set(VCORE_VMCS_VM_EXIT_INTR_INFO, s->intr[i]);
        vmx_fake_set(VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE, s->intr_err[i]);
    }
    if (s->idt[i]) {
        vmx_fake_set(VCORE_VMCS_IDT_VECTORING_INFO_FIELD, s->idt[i]);
        vmx_fake_set(VCORE_VMCS_IDT_VECTORING_ERROR_CODE, s->idt_err[i]);
    }
    if (s->ii[i])
        vmx_fake_set(VCORE_VMCS_VMX_INSTRUCTION_INFO, s->ii[i]);
    if (s->gla[i])
        vmx_fake_set(VCORE_VMCS_GUEST_LINEAR_ADDRESS, s->gla[i]);
    if (s->intr_state[i] & 0x100u)
        vmx_fake_set(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, s->intr_state[i] & 0xffu);
    vmx_fake_exit(s->reason[i], s->qual[i], s->len[i]);
}

static script_t script;

static void use_script(void)
{
    memset(&script, 0, sizeof(script));
    script.n_injected = vmx_fake.n_injected;
    vmx_fake.guest = script_guest;
    vmx_fake.guest_arg = &script;
}

/* Guest-state and exit-information accesses between two points. */
typedef struct counts {
    uint64_t guest_r, guest_w, info_r, ctl_w, host_w;
} counts_t;

static counts_t counts_now(void)
{
    counts_t c = {vmx_fake.n_read_type[VCORE_VMCS_TYPE_GUEST], vmx_fake.n_write_type[VCORE_VMCS_TYPE_GUEST],
                  vmx_fake.n_read_type[VCORE_VMCS_TYPE_RO_DATA],
                  vmx_fake.n_write_type[VCORE_VMCS_TYPE_CONTROL], vmx_fake.n_write_type[VCORE_VMCS_TYPE_HOST]};
    return c;
}

static counts_t counts_since(counts_t a)
{
    counts_t b = counts_now();
    counts_t d = {b.guest_r - a.guest_r, b.guest_w - a.guest_w, b.info_r - a.info_r, b.ctl_w - a.ctl_w,
                  b.host_w - a.host_w};
    return d;
}

/* Prints the fields the fake logged (what an access count is made of). */
static void print_log(const char *what)
{
    printf("vmx: %s:", what);
    for (uint32_t i = 0; i < vmx_fake.nlog; i++) {
        vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
        if (vcore_vmcs_field_lookup(vmx_fake.log[i].field, &fi) == VCORE_OK)
            printf(" %s%s", vmx_fake.log[i].write ? "W:" : "", fi.name);
    }
    printf("\n");
    vmx_fake.logging = false;
}

/* ======================= capabilities ======================= */

START_TEST(caps_adjust_required_optional)
{
    uint32_t out = 0;
    /* must-be-1 0x16, may-be-1 0x7f */
    uint64_t cap = 0x0000007f00000016ull;
    ck_assert_int_eq(vcore__vmx_ctl_adjust(cap, 0x1, 0x20 | 0x100, &out), VCORE_OK);
    ck_assert_uint_eq(out, 0x16u | 0x1u | 0x20u); /* optional 0x100 not allowed: dropped */
    /* A required control the CPU cannot give is an error, not dropped. */
    ck_assert_int_eq(vcore__vmx_ctl_adjust(cap, 0x100, 0, &out), VCORE_ERR_UNSUPPORTED);
    /* An MSR whose must-be-1 bits are not allowed to be 1 is inconsistent. */
    ck_assert_int_eq(vcore__vmx_ctl_adjust(0x0000000100000002ull, 0, 0, &out), VCORE_ERR_HWFAIL);
}
END_TEST

START_TEST(caps_true_msrs_used)
{
    vmx_fake_reset();
    vcore__vmx_caps_t caps;
    vcore__vmx_ctls_t ctls;
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_uint_eq(caps.proc, 0xf7f9fffe04006172ull); /* TRUE_PROCBASED */
    ck_assert_int_eq(vcore__vmx_caps_choose(&caps, &ctls), VCORE_OK);
    /* With the TRUE MSRs, CR3-load/store exiting can be cleared (EPT). */
    ck_assert_uint_eq(ctls.proc & (VCORE__PROC_CR3_LOAD | VCORE__PROC_CR3_STORE), 0);
    ck_assert(ctls.proc2 & VCORE__PROC2_EPT);
    ck_assert(ctls.proc2 & VCORE__PROC2_VPID);
    ck_assert(ctls.proc2 & VCORE__PROC2_URG);
    ck_assert(ctls.exit & VCORE__EXIT_HOST_64);
    /* Host NMIs must exit ("NMI exiting", pin bit 3) and the guest gets its
     * own NMI blocking ("virtual NMIs", pin bit 5). */
    ck_assert_uint_eq(ctls.pin & 0x29u, 0x29u);
    /* The windows are armed per entry, never by default. */
    ck_assert_uint_eq(ctls.proc & ((1u << 2) | (1u << 22)), 0);
    /* DR7/DEBUGCTL are the guest's while it runs. */
    ck_assert(ctls.entry & (1u << 2));
    ck_assert(ctls.exit & (1u << 2));
    /* Without BASIC bit 55 the default1 controls stay 1. */
    vmx_fake_set_msr(0x480, 0x00d810000000002bull & ~(1ull << 55));
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_uint_eq(caps.proc, 0xf7f9fffe0401e172ull);
    ck_assert_uint_eq(caps.msr[VCORE_NVMX_CAP_TRUE_PROCBASED], 0); /* not read: it does not exist */
    ck_assert_int_eq(vcore__vmx_caps_choose(&caps, &ctls), VCORE_OK);
    ck_assert_uint_eq(ctls.proc & (VCORE__PROC_CR3_LOAD | VCORE__PROC_CR3_STORE),
                      VCORE__PROC_CR3_LOAD | VCORE__PROC_CR3_STORE);
}
END_TEST

START_TEST(caps_missing_vmx)
{
    vcore__vmx_caps_t caps;
    vmx_fake_reset();
    vmx_fake.cpuid1_ecx = 0;
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_ERR_NODEV);
    vmx_fake_reset();
    vmx_fake_set_msr(0x3a, 0x4); /* not locked */
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_ERR_NODEV);
    vmx_fake_reset();
    vmx_fake_set_msr(0x3a, 0x1); /* locked, VMX outside SMX off */
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_ERR_NODEV);
    ck_assert_int_eq(vcore__backend_vmx_ops.probe(vcore_host_default()), VCORE_ERR_NODEV);
}
END_TEST

START_TEST(caps_no_ept_is_unsupported)
{
    vcore__vmx_caps_t caps;
    vcore__vmx_ctls_t ctls;
    vmx_fake_reset();
    vmx_fake_set_msr(0x48b, 0x02177ffd00000000ull); /* EPT not allowed */
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_int_eq(vcore__vmx_caps_choose(&caps, &ctls), VCORE_ERR_UNSUPPORTED);
    vmx_fake_reset();
    vmx_fake_set_msr(0x48c, 0x00000f0106334141ull & ~VCORE__EPT_CAP_WB);
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_int_eq(vcore__vmx_caps_choose(&caps, &ctls), VCORE_ERR_UNSUPPORTED);
    vmx_fake_reset();
    /* No virtual NMIs (pin bit 5 not allowed-1): the backend cannot keep host NMIs out. */
    vmx_fake_set_msr(0x48d, 0x0000001f00000016ull);
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_int_eq(vcore__vmx_caps_choose(&caps, &ctls), VCORE_ERR_UNSUPPORTED);
    vmx_fake_reset();
    /* NMI-window exiting (primary bit 22) not allowed-1. */
    vmx_fake_set_msr(0x48e, 0xf7b9fffe04006172ull);
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_int_eq(vcore__vmx_caps_choose(&caps, &ctls), VCORE_ERR_UNSUPPORTED);
    vmx_fake_reset();
    ck_assert_int_eq(vcore__backend_vmx_ops.probe(vcore_host_default()), VCORE_OK);
}
END_TEST

START_TEST(caps_cr0_forced)
{
    vcore__vmx_caps_t caps;
    vmx_fake_reset();
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_cr0_forced(&caps, false), 0x80000021ull);
    ck_assert_uint_eq(vcore__vmx_cr0_forced(&caps, true), 0x20ull);
}
END_TEST

START_TEST(caps_op_reports_msrs)
{
    vm_up();
    vcore_nvmx_caps_t c = {.size = sizeof(c)};
    ck_assert_int_eq(vcore__backend_vmx_ops.vmx_caps(vm, vcore_vm_backend_priv(vm), &c), VCORE_OK);
    ck_assert_uint_eq(c.msr[VCORE_NVMX_CAP_BASIC], 0x00d810000000002bull);
    ck_assert_uint_eq(c.msr[VCORE_NVMX_CAP_EPT_VPID], 0x00000f0106334141ull);
    ck_assert_uint_eq(c.msr[VCORE_NVMX_CAP_TRUE_ENTRY], 0x0000ffff000011fbull);
    ck_assert_uint_eq(c.msr[VCORE_NVMX_CAP_VMFUNC], 0x1);
    ck_assert_uint_eq(c.msr[VCORE_NVMX_CAP_VMCS_ENUM], 0x34);
    c.size = 1;
    ck_assert_int_eq(vcore__backend_vmx_ops.vmx_caps(vm, vcore_vm_backend_priv(vm), &c), VCORE_ERR_ABI);
    vm_down();
}
END_TEST

/* ======================= VMX operation, VMCS life cycle ======================= */

START_TEST(life_vmxon_and_vmcs)
{
    vm_up();
    ck_assert_uint_eq(vmx_fake.n_vmxon, 1);
    ck_assert(VMX_FAKE_CPU.in_vmx);
    ck_assert(VMX_FAKE_CPU.cr4 & (1u << 13));
    /* The VMXON region is the embedder's per-processor page. */
    ck_assert_uint_eq(VMX_FAKE_CPU.vmxon_pa, test_cpus[0].page_phys);
    ck_assert_uint_eq(test_cpus[0].users, 1);
    vcore__vmx_vcpu_t *c = priv_of(vcpu);
    ck_assert_ptr_nonnull(c->vmcs01.region);
    ck_assert_uint_eq((uintptr_t)c->vmcs01.region & 0xfffu, 0);
    ck_assert_uint_eq(c->vmcs01.pa, (uint64_t)(uintptr_t)c->vmcs01.region);
    uint32_t rev;
    memcpy(&rev, c->vmcs01.region, 4);
    ck_assert_uint_eq(rev, 0x2b);
    vm_down();
    ck_assert(!VMX_FAKE_CPU.in_vmx);
    ck_assert_uint_eq(vmx_fake.n_vmxoff, 1);
    ck_assert_uint_eq(VMX_FAKE_CPU.cr4 & (1u << 13), 0);
    ck_assert_uint_eq(test_cpus[0].users, 0);
}
END_TEST

START_TEST(life_embedder_owns_vmx)
{
    vmx_fake_reset();
    host_init();
    /* The embedder is already in VMX operation. */
    static uint8_t region[8192] __attribute__((aligned(4096)));
    uint32_t rev = 0x2b;
    memcpy(region, &rev, 4);
    VMX_FAKE_CPU.cr4 |= 1u << 13;
    ck_assert_uint_eq(vcore__vmx_on((uint64_t)(uintptr_t)region).kind, VCORE__VMX_SUCCEED);
    vm = make_vm();
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_vmxon, 2); /* tried, VMfailInvalid: someone owns it */
    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
    vcpu = NULL;
    vm = NULL;
    ck_assert(VMX_FAKE_CPU.in_vmx); /* not ours to turn off */
    ck_assert_uint_eq(vmx_fake.n_vmxoff, 0);
    ck_assert(VMX_FAKE_CPU.cr4 & (1u << 13));
}
END_TEST

START_TEST(life_cr0_not_fixed)
{
    vmx_fake_reset();
    host_init();
    VMX_FAKE_CPU.cr0 &= ~(1ull << 5); /* CR0.NE clear: VMXON would #GP */
    vm = make_vm();
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_ERR_STATE);
    vcpu = NULL;
    ck_assert_uint_eq(vmx_fake.n_vmxon, 0);
    ck_assert_uint_eq(test_cpus[0].users, 0);
    vcore_vm_destroy(vm);
    vm = NULL;
}
END_TEST

START_TEST(life_nomem)
{
    vmx_fake_reset();
    host_init();
    pages_left = 2; /* EPT root works, MSR bitmap fails */
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_NOMEM);
    vm = NULL;
}
END_TEST

START_TEST(life_host_needs_cpu_storage)
{
    vmx_fake_reset();
    host_init();
    /* A host structure of the first published size has no per-processor
     * members: the core accepts it, the vmx backend cannot share VMX root
     * operation without them. */
    host.size = VCORE_HOST_SIZE_V1;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_host_validate(&host, true), VCORE_OK);
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    host_init();
    host.cpus = NULL; /* an index without storage */
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_INVAL);
    vm = NULL;
    /* A processor index outside the storage. */
    host_init();
    host.ncpus = 1;
    vmx_fake.this_cpu = 1;
    vm = make_vm();
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_ERR_RANGE);
    vcpu = NULL;
    vcore_vm_destroy(vm);
    vm = NULL;
}
END_TEST

/* Several vCPUs of two VMs on two processors, destroyed in an order that is
 * neither creation nor reverse order: VMX root operation is entered once
 * and left once per processor, after the last vCPU there is gone. */
START_TEST(life_root_per_cpu_refcounted)
{
    vmx_fake_reset();
    host_init();
    vcore_vm_t *a = make_vm(), *b = make_vm();
    vcore_vcpu_t *a0, *a1, *b0, *b1, *b2;
    vcore_vcpu_config_t vc;
    vmx_fake.this_cpu = 0;
    ck_assert_int_eq(vcore_vcpu_create(a, NULL, &a0), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(b, NULL, &b0), VCORE_OK);
    vmx_fake.this_cpu = 1;
    ck_assert_int_eq(vcore_vcpu_create(a, NULL, &a1), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(b, NULL, &b1), VCORE_OK);
    vmx_fake.this_cpu = 0;
    vcore_vcpu_config_init(&vc);
    vc.id = 3;
    vc.bsp = false;
    ck_assert_int_eq(vcore_vcpu_create(b, &vc, &b2), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.cpu[0].n_vmxon, 1);
    ck_assert_uint_eq(vmx_fake.cpu[1].n_vmxon, 1);
    ck_assert_uint_eq(test_cpus[0].users, 3);
    ck_assert_uint_eq(test_cpus[1].users, 2);
    /* Each vCPU works on its own processor and refuses the other one (its
     * VMCS is active where it was created: "VMCS Life Cycle"). */
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_reset(b1), VCORE_OK);
    vmx_fake.this_cpu = 0;
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(a0, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_run(b1, &e), VCORE_ERR_STATE);
    vmx_fake.this_cpu = 1;
    ck_assert_int_eq(vcore_vcpu_run(b1, &e), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_get_regs(b1, &r), VCORE_OK);
    /* VM a goes first, CPU 0's first-created vCPU of VM b next. */
    vmx_fake.this_cpu = 1;
    vcore_vcpu_destroy(a1);
    vmx_fake.this_cpu = 0;
    vcore_vcpu_destroy(a0);
    vcore_vm_destroy(a);
    ck_assert(vmx_fake.cpu[0].in_vmx);
    ck_assert(vmx_fake.cpu[1].in_vmx);
    vcore_vcpu_destroy(b0);
    ck_assert(vmx_fake.cpu[0].in_vmx); /* b2 still lives there */
    vmx_fake.this_cpu = 1;
    vcore_vcpu_destroy(b1);
    ck_assert(!vmx_fake.cpu[1].in_vmx);
    ck_assert_uint_eq(vmx_fake.cpu[1].cr4 & (1u << 13), 0);
    vmx_fake.this_cpu = 0;
    vcore_vcpu_destroy(b2);
    vcore_vm_destroy(b);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert_uint_eq(vmx_fake.cpu[i].n_vmxon, 1);
        ck_assert_uint_eq(vmx_fake.cpu[i].n_vmxoff, 1);
        ck_assert(!vmx_fake.cpu[i].in_vmx);
        ck_assert_uint_eq(test_cpus[i].users, 0);
        ck_assert_uint_eq(test_cpus[i].flags, 0);
    }
    ck_assert_uint_eq(vmx_fake.cpu[2].n_vmxon, 0);
}
END_TEST

/* ======================= vmcs01 ======================= */

START_TEST(vmcs01_built_from_model)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.len[0] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vmx_fake.n_launch, 1);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VMCS_LINK_POINTER), ~0ull);
    uint64_t eptp = vmx_fake_get(VCORE_VMCS_EPT_POINTER);
    ck_assert_uint_eq(eptp & 0x3f, 0x1e); /* WB, 4-level walk */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VIRTUAL_PROCESSOR_ID), 1);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_RIP), GCODE);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_RSP), 0x3ff000);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR3), 0x1000);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_IA32_EFER), 0x500);
    /* CR0: the guest's value plus the bits VMX forces; the shadow shows the
     * guest's; every bit host-owned. */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR0), 0x80000031ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR0_READ_SHADOW), 0x80000031ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR0_GUEST_HOST_MASK), ~0ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR4), 0x2020ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR4_READ_SHADOW), 0x20ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR4_GUEST_HOST_MASK), ~0ull);
    ck_assert(vmx_fake_get(VCORE_VMCS_VM_ENTRY_CONTROLS) & VCORE__ENTRY_IA32E);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL) & 0x29u, 0x29u);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CS_AR_BYTES), 0xa09b);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_LDTR_AR_BYTES), 0x10000);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_TR_SELECTOR), 0x18);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_GS_BASE), 0xffff888000000000ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_IA32_SYSENTER_EIP), 0xffff800000002000ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_EXCEPTION_BITMAP),
                      (1u << 1) | (1u << 3) | (1u << 6) | (1u << 17) | (1u << 18));
    /* EFER: reads pass, writes exit ("MSR-Bitmap Address": high MSRs at
     * 1024 (read) and 3072 (write), bit 80H). */
    const uint8_t *bm = (const uint8_t *)(uintptr_t)vmx_fake_get(VCORE_VMCS_MSR_BITMAP);
    ck_assert_uint_eq(bm[1024 + 0x80 / 8] & 1u, 0);
    ck_assert_uint_eq(bm[3072 + 0x80 / 8] & 1u, 1);
    vm_down();
}
END_TEST

/*
 * A guest must not enable what its CPUID hides: every CR4 bit is
 * host-owned (a MOV to CR4 that changes any bit exits to the core's checks,
 * "Guest/Host Masks and Read Shadows for CR0 and CR4") and WRMSR to
 * IA32_EFER exits ("MSR-Bitmap Address": the write bitmap for C0000000H-
 * C0001FFFH at byte 3072, bit 80H; the read bitmap at byte 1024 stays
 * clear, EFER reads need no exit).
 */
START_TEST(vmcs01_cr4_and_efer_writes_exit)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR4_GUEST_HOST_MASK), ~0ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR0_GUEST_HOST_MASK), ~0ull);
    const uint8_t *bm = (const uint8_t *)(uintptr_t)vmx_fake_get(VCORE_VMCS_MSR_BITMAP);
    ck_assert_uint_eq((bm[3072 + 0x80 / 8] >> (0x80 % 8)) & 1u, 1);
    ck_assert_uint_eq((bm[1024 + 0x80 / 8] >> (0x80 % 8)) & 1u, 0);
    vm_down();
}
END_TEST

START_TEST(vmcs01_host_state_rewritten_on_change)
{
    vm_up();
    use_script();
    script.reason[0] = script.reason[1] = script.reason[2] = VCORE_VMX_EXIT_HLT;
    script.len[0] = script.len[1] = script.len[2] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    uint64_t r, w;
    vmx_fake_counts(&r, &w);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vmx_fake_counts(&r, &w);
    ck_assert_uint_eq(w, 1); /* only GUEST_RIP (HLT completed) */
    vmx_fake.host.cr3 = 0x5000;
    vmx_fake.host_rsp += 0x40; /* the embedder calls from a deeper stack */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vmx_fake_counts(&r, &w);
    ck_assert_uint_eq(w, 3); /* GUEST_RIP, HOST_CR3, HOST_RSP */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_CR3), 0x5000);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_RSP), vmx_fake.host_rsp);
    ck_assert_uint_eq(vmx_fake.n_launch, 1);
    ck_assert_uint_eq(vmx_fake.n_resume, 2);
    vm_down();
}
END_TEST

/* ======================= hardware VMCS ops ======================= */

static void vmcs02_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)s;
    g->gpr[VCORE_X86_RBX] = 0xb2; /* "L2" changed a GPR */
}

START_TEST(hwvmcs_life_cycle)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    vcore__vmx_vcpu_t *c = priv_of(vcpu);
    vcore_hw_vmcs_t *v2 = NULL, *sh = NULL;
    uint64_t val = 0;
    ck_assert_int_eq(ops->vmcs_alloc(vcpu, p, false, &v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_alloc(vcpu, p, true, &sh), VCORE_OK);
    /* Region: revision identifier, shadow-VMCS indicator in bit 31 ("VMCS Region"); VMCLEARed. */
    uint32_t first;
    memcpy(&first, v2->region, 4);
    ck_assert_uint_eq(first, 0x2b);
    memcpy(&first, sh->region, 4);
    ck_assert_uint_eq(first, 0x8000002bu);
    ck_assert(vmx_fake_vmcs_at(v2->pa)->cleared_once);
    /* No current VMCS after VMCLEAR of the current one: VMREAD is VMfailInvalid. */
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, v2), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.vmcs[VMX_FAKE_CPU.current].pa, v2->pa);
    ck_assert_int_eq(ops->vmcs_clear(vcpu, p, v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_read(vcpu, p, VCORE_VMCS_GUEST_RIP, &val), VCORE_ERR_STATE);
    vcore_hw_entry_t out;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_FAIL_INVALID);
    /* Build a runnable vmcs02 from vmcs01's fields: the test copies them. */
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, v2), VCORE_OK);
    vmx_fake_vmcs_t *f01 = vmx_fake_vmcs_at(c->vmcs01.pa), *f02 = vmx_fake_vmcs_at(v2->pa);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT; /* vmcs01 runs once to be complete */
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    /* vcpu_run made vmcs01 current again (backend.h). */
    ck_assert_uint_eq(vmx_fake.vmcs[VMX_FAKE_CPU.current].pa, c->vmcs01.pa);
    memcpy(f02->data, f01->data, sizeof(f02->data));
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, v2), VCORE_OK);
    /* An unsupported field is VMfailValid 12: VCORE_ERR_NOENT. */
    ck_assert_int_eq(ops->vmcs_read(vcpu, p, 0x7777, &val), VCORE_ERR_NOENT);
    /* A major control word equal to the VMCS's is not rewritten; the shadow
     * starts unknown, so the first write goes out. */
    uint64_t w0 = vmx_fake.n_vmwrite;
    uint32_t proc = (uint32_t)vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL);
    ck_assert_int_eq(ops->vmcs_write(vcpu, p, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, proc), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_write(vcpu, p, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, proc), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_vmwrite - w0, 1);
    /* A written guest field is read back without a VMREAD (the VMCS holds it). */
    ck_assert_int_eq(ops->vmcs_write(vcpu, p, VCORE_VMCS_GUEST_RIP, 0x20000), VCORE_OK);
    uint64_t r0 = vmx_fake.n_vmread;
    ck_assert_int_eq(ops->vmcs_read(vcpu, p, VCORE_VMCS_GUEST_RIP, &val), VCORE_OK);
    ck_assert_uint_eq(val, 0x20000);
    ck_assert_uint_eq(vmx_fake.n_vmread, r0);
    /* A launch of vmcs02 with the vCPU's GPRs. The cleared VMCS is launched with VMLAUNCH. */
    script.reason[1] = VCORE_VMX_EXIT_CPUID;
    script.len[1] = 2;
    script.hook = vmcs02_hook;
    uint64_t launches = vmx_fake.n_launch;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_EXIT);
    ck_assert_uint_eq(out.exit_reason, VCORE_VMX_EXIT_CPUID);
    ck_assert_uint_eq(out.launched, 1);
    ck_assert_uint_eq(vmx_fake.n_launch, launches + 1);
    ck_assert_uint_eq(script.seen_rip[1], 0x20000);
    ck_assert(v2->launched);
    ck_assert_uint_eq(c->g.gpr[VCORE_X86_RBX], 0xb2);
    /* The guest ran: RIP is no longer known, the read goes to the VMCS. */
    r0 = vmx_fake.n_vmread;
    ck_assert_int_eq(ops->vmcs_read(vcpu, p, VCORE_VMCS_GUEST_RIP, &val), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_vmread, r0 + 1);
    /* The second entry is a VMRESUME. */
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.launched, 0);
    /* A processor NMI, then a machine check, ending a run of vmcs02 goes to
     * the host's handler (backend.h); the exit still reaches the core. */
    uint64_t nmis = vmx_fake.n_host_nmi, mcs = vmx_fake.n_host_mc;
    script.reason[3] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[3] = 0x80000000u | (2u << 8) | 2;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.exit_reason, VCORE_VMX_EXIT_EXCEPTION_NMI);
    ck_assert_uint_eq(vmx_fake.n_host_nmi, nmis + 1);
    ck_assert_uint_eq(vmx_fake.n_host_mc, mcs);
    script.reason[4] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[4] = 0x80000000u | (3u << 8) | 18;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_host_mc, mcs + 1);
    ck_assert_uint_eq(vmx_fake.n_host_nmi, nmis + 1);
    /* Another exception is the guest's: no host handler. */
    script.reason[5] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[5] = 0x80000000u | (3u << 8) | 6;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_host_mc, mcs + 1);
    ck_assert_uint_eq(vmx_fake.n_host_nmi, nmis + 1);
    /* VMCLEAR makes the launch state clear ("VMCS Life Cycle"). */
    ck_assert_int_eq(ops->vmcs_clear(vcpu, p, v2), VCORE_OK);
    ck_assert(!v2->launched);
    ck_assert(!vmx_fake_vmcs_at(v2->pa)->launched);
    /* A shadow VMCS is never entered: VMfailInvalid. */
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, sh), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_FAIL_INVALID);
    /* A handle that is not one of the vCPU's is refused. */
    struct vcore_hw_vmcs bogus;
    memset(&bogus, 0, sizeof(bogus));
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, &bogus), VCORE_ERR_INVAL);
    /* NULL is vmcs01. */
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, NULL), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.vmcs[VMX_FAKE_CPU.current].pa, c->vmcs01.pa);
    ops->vmcs_free(vcpu, p, sh);
    ck_assert_ptr_eq(c->objs, v2);
    /* v2 is still allocated: the vCPU's teardown frees it (VMCLEAR before VMXOFF). */
    vm_down();
    ck_assert_uint_eq(vmx_fake.n_vmxoff, 1);
}
END_TEST

/* SDM "VMCS Shadowing": the link op sets "VMCS shadowing" (secondary
 * control 14), the VMCS link pointer to the shadow VMCS's region (whose
 * shadow-VMCS indicator is 1, "Checks on Guest Non-Register State") and the
 * VMREAD/VMWRITE bitmap addresses (4-KByte aligned pages holding the
 * bitmaps, "VMREAD Bitmap and VMWRITE Bitmap"); unlinking restores the link
 * pointer FFFFFFFF_FFFFFFFFH with the control 0. vmcs01 still enters. */
START_TEST(hwvmcs_shadow_link)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    vcore__vmx_vcpu_t *c = priv_of(vcpu);
    static uint8_t rd[4096], wr[4096];
    memset(rd, 0xff, sizeof(rd));
    memset(wr, 0xff, sizeof(wr));
    rd[(VCORE_VMCS_GUEST_RIP & 0x7fff) >> 3] = 0;
    wr[(VCORE_VMCS_GUEST_RIP & 0x7fff) >> 3] = 0x0f;
    vcore_hw_vmcs_t *v2 = NULL, *sh = NULL;
    ck_assert_int_eq(ops->vmcs_alloc(vcpu, p, false, &v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_alloc(vcpu, p, true, &sh), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_shadow_link(vcpu, p, v2, rd, wr), VCORE_ERR_INVAL);
    ck_assert_int_eq(ops->vmcs_shadow_link(vcpu, p, sh, NULL, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(ops->vmcs_shadow_link(vcpu, p, sh, rd, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_shadow_link(vcpu, p, sh, rd, wr), VCORE_OK);
    /* The fields are vmcs01's, whatever was current. */
    ck_assert_uint_eq(vmx_fake.vmcs[VMX_FAKE_CPU.current].pa, c->vmcs01.pa);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VMCS_LINK_POINTER), sh->pa);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (1u << 14), 1u << 14);
    uint64_t rbm = vmx_fake_get(VCORE_VMCS_VMREAD_BITMAP), wbm = vmx_fake_get(VCORE_VMCS_VMWRITE_BITMAP);
    ck_assert_uint_eq(rbm & 0xfffu, 0);
    ck_assert_uint_eq(wbm & 0xfffu, 0);
    ck_assert_uint_ne(rbm, wbm);
    ck_assert_uint_eq(rbm, c->shadow_bitmaps_pa);
    ck_assert_uint_eq(wbm, c->shadow_bitmaps_pa + 4096);
    ck_assert_mem_eq(c->shadow_bitmaps, rd, 4096);
    ck_assert_mem_eq(c->shadow_bitmaps + 4096, wr, 4096);
    /* vmcs01 with shadowing enters (the fake checks the link pointer). */
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* A relink keeps the bitmaps: no bitmap address is written again. */
    vmx_fake_log_start();
    ck_assert_int_eq(ops->vmcs_shadow_link(vcpu, p, sh, NULL, NULL), VCORE_OK);
    for (uint32_t i = 0; i < vmx_fake.nlog; i++)
        ck_assert(vmx_fake.log[i].field != VCORE_VMCS_VMREAD_BITMAP &&
                  vmx_fake.log[i].field != VCORE_VMCS_VMWRITE_BITMAP);
    /* Unlinked: link pointer all ones, control 0. */
    ck_assert_int_eq(ops->vmcs_shadow_link(vcpu, p, NULL, NULL, NULL), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VMCS_LINK_POINTER), ~0ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (1u << 14), 0);
    /* Freeing a linked shadow VMCS unlinks it first. */
    ck_assert_int_eq(ops->vmcs_shadow_link(vcpu, p, sh, NULL, NULL), VCORE_OK);
    ops->vmcs_free(vcpu, p, sh);
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, NULL), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VMCS_LINK_POINTER), ~0ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL) & (1u << 14), 0);
    ck_assert_ptr_null(c->shadow_link);
    vm_down();
}
END_TEST

/* Switching to another VMCS and back re-reads nothing of vmcs01. */
START_TEST(hwvmcs_switch_keeps_vmcs01_cache)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK); /* RIP, RSP, RFLAGS now known */
    vcore_hw_vmcs_t *v2 = NULL;
    ck_assert_int_eq(ops->vmcs_alloc(vcpu, p, false, &v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, NULL), VCORE_OK);
    /* The model asks the backend again (a fresh vcpu_get_state of REGS): the
     * values come from vmcs01's cache, not from VMREADs. */
    uint64_t r0 = vmx_fake.n_vmread;
    vcore_x86_state_t st;
    memset(&st, 0, sizeof(st));
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64, .u.x86 = &st};
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, p, &vs, VCORE_X86_STATE_REGS), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_vmread, r0);
    ck_assert_uint_eq(st.regs.rip, r.rip);
    ck_assert_uint_eq(st.regs.gpr[VCORE_X86_RSP], 0x3ff000);
    vm_down();
}
END_TEST

/* ======================= EPT ======================= */

START_TEST(ept_2m_4k_readonly)
{
    vm_up();
    vcore__vmx_vm_t *v = vcore_vm_backend_priv(vm);
    uint64_t ps = 0;
    uint64_t e = vcore__vmx_ept_lookup(&v->ept, &v->pool, 0x200000, &ps);
    ck_assert_uint_eq(ps, 2u << 20);
    ck_assert_uint_eq(e & 0xfffffffff000ull, (uint64_t)(uintptr_t)ram + 0x200000);
    ck_assert_uint_eq(e & 0xff, 0x80 | 0x30 | 0x7); /* leaf, WB, RWX */
    /* A 4 KiB read-only page. */
    uint8_t *page = amem(4096, 8192);
    vcore_mem_region_t r = {sizeof(r), 0x40001000, 4096, page, VCORE_MEM_READONLY};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    e = vcore__vmx_ept_lookup(&v->ept, &v->pool, 0x40001000, &ps);
    ck_assert_uint_eq(ps, 4096);
    ck_assert_uint_eq(e & 0xfffffffff000ull, (uint64_t)(uintptr_t)page);
    ck_assert_uint_eq(e & 0xff, 0x30 | 0x5); /* WB, R+X, no W */
    ck_assert_uint_eq(vcore__vmx_ept_lookup(&v->ept, &v->pool, 0x40002000, &ps), 0);
    /* Unmapping removes the leaf and asks every vCPU for an INVEPT. */
    uint32_t gen = v->ept.gen;
    ck_assert_int_eq(vcore_vm_unmap_memory(vm, 0x40001000), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_ept_lookup(&v->ept, &v->pool, 0x40001000, &ps), 0);
    ck_assert_uint_eq(v->ept.gen, gen + 1);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    uint64_t inv = vmx_fake.n_invept;
    vcore_exit_t ex = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &ex), VCORE_OK);
    ck_assert_uint_ge(vmx_fake.n_invept, inv + 1);
    vm_down();
    free(page);
}
END_TEST

START_TEST(ept_prepare_nomem_changes_nothing)
{
    vm_up();
    vcore__vmx_vm_t *v = vcore_vm_backend_priv(vm);
    /* Use up the pool, then make the host refuse more pages. */
    uint64_t *va, pa;
    while (v->pool.nfree)
        ck_assert_int_eq(vcore__vmx_pool_get(&v->pool, &va, &pa), VCORE_OK);
    pages_left = 1;
    uint8_t *page = amem(4096, 4096);
    vcore_mem_region_t r = {sizeof(r), 0x8000000000ull, 4096, page, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_ERR_NOMEM);
    uint64_t ps;
    ck_assert_uint_eq(vcore__vmx_ept_lookup(&v->ept, &v->pool, 0x8000000000ull, &ps), 0);
    pages_left = 0;
    r.gpa = 0x8000000000ull;
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    ck_assert_uint_ne(vcore__vmx_ept_lookup(&v->ept, &v->pool, 0x8000000000ull, &ps), 0);
    vm_down();
    free(page);
}
END_TEST

/* ======================= exits ======================= */

START_TEST(exit_cpuid_round_trip)
{
    vm_up();
    use_script();
    for (int i = 0; i < 4; i++) {
        script.reason[i] = VCORE_VMX_EXIT_CPUID;
        script.len[i] = 2;
    }
    script.reason[4] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x40000000u;
    r.gpr[VCORE_X86_RCX] = 3;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    ck_assert_uint_eq(e.u.cpuid.function, 0x40000000u);
    ck_assert_uint_eq(e.u.cpuid.index, 3);
    ck_assert_uint_eq(e.raw.source, VCORE_EXIT_SRC_VMX);
    ck_assert_uint_eq(e.raw.reason, 10);
    ck_assert_uint_eq(e.raw.data[0], 2);
    uint64_t reads = 0, writes = 0, rr, ww;
    for (int i = 0; i < 3; i++) {
        vmx_fake_counts(&rr, &ww);
        if (i == 2)
            vmx_fake_log_start();
        e.u.cpuid.eax = 0xa0u + (uint32_t)i;
        e.u.cpuid.ebx = 0xb0;
        e.u.cpuid.ecx = 0xc0;
        e.u.cpuid.edx = 0xd0;
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        vmx_fake_counts(&reads, &writes);
        ck_assert_uint_eq(script.seen_rip[i + 1], GCODE + 2u * (uint64_t)(i + 1));
        ck_assert_uint_eq(script.seen_rax[i + 1], 0xa0u + (uint32_t)i);
    }
    print_log("CPUID round trip fields");
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    /* One CPUID round trip: VMREAD exit reason, instruction length, guest
     * RIP and the interruptibility state; VMWRITE guest RIP. The
     * interruptibility state costs the fourth VMREAD: a CPUID executed in
     * an STI or MOV-SS shadow exits with that blocking saved (SDM Vol. 3,
     * "Saving Non-Register State"), completing the instruction must end it
     * ("Interruptibility State"), and writing the field blind would need
     * bit 3, virtual-NMI blocking, which the guest's IRET clears without an
     * exit. Before (commit 747d2b1): 3 VMREAD + 1 VMWRITE, and the
     * blocking stayed. */
    printf("vmx: CPUID exit round trip: before 3 VMREAD + 1 VMWRITE (blocking not ended), "
           "after %llu VMREAD + %llu VMWRITE\n",
           (unsigned long long)reads, (unsigned long long)writes);
    ck_assert_uint_eq(reads, 4);
    ck_assert_uint_eq(writes, 1);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0xa2);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RBX], 0xb0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0xd0);
    vm_down();
}
END_TEST

START_TEST(exit_reply_must_match)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_CPUID;
    script.len[0] = 2;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vcore_exit_t other = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &other), VCORE_ERR_STATE);
    vm_down();
}
END_TEST

START_TEST(exit_io)
{
    vm_up();
    use_script();
    /* OUT DX, AL (port 0x3f8): size 1, port in bits 31:16. */
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x3f8ull << 16) | 0;
    script.len[0] = 1;
    /* IN EAX, DX (port 0x71): size 4, IN. */
    script.reason[1] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[1] = (0x71ull << 16) | 8 | 3;
    script.len[1] = 1;
    /* IN AL, 0x60 */
    script.reason[2] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[2] = (0x60ull << 16) | 8 | 0;
    script.len[2] = 2;
    script.reason[3] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0xffffffff12345641ull;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.port, 0x3f8);
    ck_assert_uint_eq(e.u.io.width, 1);
    ck_assert_uint_eq(e.u.io.is_in, 0);
    ck_assert_uint_eq(e.u.io.count, 1);
    ck_assert_uint_eq(e.u.io.data[0], 0x41);
    ck_assert(!(e.flags & VCORE_EXIT_F_NEEDS_REPLY));
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.port, 0x71);
    ck_assert_uint_eq(e.u.io.width, 4);
    ck_assert_uint_eq(e.u.io.is_in, 1);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    memcpy(e.u.io.data, "\x11\x22\x33\x44", 4);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rax[2], 0x44332211ull); /* 32-bit IN zero-extends */
    e.u.io.data[0] = 0x99;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rax[3], 0x44332299ull); /* 8-bit IN merges */
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 4);
    vm_down();
}
END_TEST

/* VM-exit instruction information of INS/OUTS: address size in bits 9:7. */
#define II_A16 (0u << 7)
#define II_A32 (1u << 7)
#define II_A64 (2u << 7)

START_TEST(exit_string_io)
{
    vm_up();
    use_script();
    memcpy(ram + 0x20000, "abcdefgh", 8);
    /* REP OUTSW to port 0x500: size 2, string, REP; DS:RSI = 20000H. */
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x500ull << 16) | 0x20 | 0x10 | 1;
    script.len[0] = 3;
    script.ii[0] = II_A64 | (3u << 15);
    script.gla[0] = 0x20000;
    /* REP INSB from port 0x501 (RCX is 0 by then). */
    script.reason[1] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[1] = (0x501ull << 16) | 0x20 | 0x10 | 0x8;
    script.len[1] = 2;
    script.ii[1] = II_A64;
    script.gla[1] = 0x30000;
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 3;
    r.gpr[VCORE_X86_RSI] = 0x20000;
    r.gpr[VCORE_X86_RDI] = 0x30000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 3);
    ck_assert_uint_eq(e.u.io.width, 2);
    ck_assert_mem_eq(e.u.io.data, "abcdef", 6);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.is_in, 1);
    ck_assert_uint_eq(e.u.io.count, 0); /* RCX is 0 after the OUTS */
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 3);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RSI], 0x20006);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    r.gpr[VCORE_X86_RCX] = 2;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vm_down();
}
END_TEST

START_TEST(exit_ins_writes_guest_memory)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x501ull << 16) | 0x20 | 0x10 | 0x8; /* REP INSB */
    script.len[0] = 2;
    script.ii[0] = II_A64;
    script.gla[0] = 0x30000;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    ram[0x30004] = 0xee; /* past the four elements */
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 4;
    r.gpr[VCORE_X86_RDI] = 0x30000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    vmx_fake_log_start();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 4);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    /* An IN has nothing to read from guest memory: no page walk (CR3) yet. */
    for (uint32_t i = 0; i < vmx_fake.nlog; i++)
        ck_assert(vmx_fake.log[i].write || vmx_fake.log[i].field != VCORE_VMCS_GUEST_CR3);
    vmx_fake.logging = false;
    memcpy(e.u.io.data, "WXYZ", 4);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_mem_eq(ram + 0x30000, "WXYZ", 4);
    ck_assert_uint_eq(ram[0x30004], 0xee);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x30004);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    vm_down();
}
END_TEST

/*
 * INS with RFLAGS.DF = 1, a 32-bit address size in 64-bit mode (67H
 * prefix) and an ES base the VMCS holds but 64-bit mode ignores (SDM Vol.
 * 2, "INS/INSB/INSW/INSD": ES:(E)DI, decremented with DF = 1; SDM Vol. 1,
 * "Segment Registers in 64-Bit Mode": the ES base is treated as 0; a
 * 32-bit address size uses EDI/ECX and writes them zero-extended). The
 * processor's guest-linear address is that of the first element.
 */
START_TEST(exit_ins_direction_address_size_es)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x60ull << 16) | 0x20 | 0x10 | 0x8 | 1; /* REP INSW */
    script.len[0] = 3;
    script.ii[0] = II_A32;
    script.gla[0] = 0x30006; /* EDI, base 0 */
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.seg[VCORE_X86_ES].base = 0x100000; /* ignored in 64-bit mode */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rflags = 2 | (1u << 10);                      /* DF */
    r.gpr[VCORE_X86_RDI] = 0xdead000000030006ull;  /* only EDI counts */
    r.gpr[VCORE_X86_RCX] = 0xbeef000000000003ull;  /* only ECX counts */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 3);
    memcpy(e.u.io.data, "\x11\x11\x22\x22\x33\x33", 6);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* Element k at EDI - 2k: 30006H, 30004H, 30002H. */
    ck_assert_mem_eq(ram + 0x30002, "\x33\x33\x22\x22\x11\x11", 6);
    ck_assert_uint_eq(ram[0x30008], 0);
    ck_assert_uint_eq(ram[0x130006], 0); /* not at ES.base + RDI */
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x30000); /* EDI - 6, zero-extended */
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);       /* ECX = 0, zero-extended */
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 3);
    vm_down();
}
END_TEST

/* Outside 64-bit mode the ES base counts and a 16-bit address size wraps DI
 * at 64 KiB, leaving bits 63:16 of RDI alone. */
START_TEST(exit_ins_16bit_wraps_di)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x60ull << 16) | 0x20 | 0x10 | 0x8; /* REP INSB */
    script.len[0] = 2;
    script.ii[0] = II_A16;
    script.gla[0] = 0x40000 + 0xfffe; /* ES.base 40000H + DI */
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    /* 32-bit protected mode without paging. */
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
        if (i != VCORE_X86_LDTR && i != VCORE_X86_TR)
            sr.seg[i].ar &= ~VCORE_X86_AR_L;
    sr.seg[VCORE_X86_CS].ar |= VCORE_X86_AR_DB;
    sr.seg[VCORE_X86_ES].base = 0x40000;
    sr.cr0 = 0x11;
    sr.cr4 = 0;
    sr.efer = 0;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RDI] = 0x1234fffe;
    r.gpr[VCORE_X86_RCX] = 0x10004;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 4); /* CX, not ECX */
    memcpy(e.u.io.data, "ABCD", 4);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(ram[0x4fffe], 'A');
    ck_assert_uint_eq(ram[0x4ffff], 'B');
    ck_assert_uint_eq(ram[0x40000], 'C'); /* DI wrapped to 0 */
    ck_assert_uint_eq(ram[0x40001], 'D');
    ck_assert_uint_eq(ram[0x50000], 0);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x12340002);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x10000);
    vm_down();
}
END_TEST

START_TEST(exit_vmcall_msr_hlt)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_VMCALL;
    script.len[0] = 3;
    script.reason[1] = VCORE_VMX_EXIT_RDMSR;
    script.len[1] = 2;
    script.reason[2] = VCORE_VMX_EXIT_WRMSR;
    script.len[2] = 2;
    script.reason[3] = VCORE_VMX_EXIT_RDMSR; /* answered with an error: #GP */
    script.len[3] = 2;
    script.reason[4] = VCORE_VMX_EXIT_HLT;
    script.len[4] = 1;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 9;
    r.gpr[VCORE_X86_RBX] = 1;
    r.gpr[VCORE_X86_RCX] = 0x4b564d00;
    r.gpr[VCORE_X86_RDX] = 0x5;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(e.u.hypercall.nr, 9);
    ck_assert_uint_eq(e.u.hypercall.args[0], 1);
    ck_assert_uint_eq(e.u.hypercall.longmode, 1);
    e.u.hypercall.ret = 0x77;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rax[1], 0x77);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    ck_assert_uint_eq(e.u.msr.index, 0x4b564d00);
    e.u.msr.value = 0x1122334455667788ull;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rax[2], 0x55667788ull);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_WRMSR);
    ck_assert_uint_eq(e.u.msr.value, 0x1122334455667788ull); /* EDX:EAX as left by RDMSR */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RDMSR);
    e.u.msr.error = 1;
    uint64_t rip_before = script.seen_rip[3];
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    /* #GP(0), RIP not advanced ("RDMSR"); the core raises it through the
     * event state and the backend injects it ("VM-Entry Controls for Event
     * Injection": valid, hardware exception, error code, vector 13). */
    ck_assert_uint_eq(script.seen_inj[4], 0x80000b0dull);
    ck_assert_uint_eq(script.seen_inj_err[4], 0);
    ck_assert_uint_eq(script.seen_rip[4], rip_before);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    vm_down();
}
END_TEST

START_TEST(exit_exceptions_and_events)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[0] = 0x80000000u | (3u << 8) | 6; /* #UD, hardware exception */
    script.reason[1] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[1] = 0x80000000u | (3u << 8) | (1u << 11) | 17; /* #AC with error code */
    script.intr_err[1] = 0;
    script.reason[2] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[2] = 0x80000000u | (6u << 8) | 3; /* #BP (software exception) */
    script.reason[3] = VCORE_VMX_EXIT_TRIPLE_FAULT;
    script.reason[4] = VCORE_VMX_EXIT_EXTERNAL_INTERRUPT;
    script.reason[5] = 55; /* XSETBV: not decoded */
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_EXCEPTION);
    ck_assert_uint_eq(e.u.exception.vector, 6);
    ck_assert_uint_eq(e.u.exception.has_error_code, 0);
    ck_assert_uint_eq(e.raw.data[1], 0x80000306u);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_EXCEPTION);
    ck_assert_uint_eq(e.u.exception.vector, 17);
    ck_assert_uint_eq(e.u.exception.has_error_code, 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_DEBUG);
    ck_assert_uint_eq(e.u.debug.exception, 3);
    ck_assert_uint_eq(e.u.debug.pc, GCODE);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_SHUTDOWN);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERRUPTED);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.raw.reason, 55);
    ck_assert_uint_eq(vmx_fake.n_host_nmi + vmx_fake.n_host_mc, 0);
    vm_down();
}
END_TEST

/*
 * A host NMI that arrives while the guest runs exits (reason 0, type NMI)
 * and must reach the host's NMI handler ("NMI exiting": the NMI is not
 * delivered to the guest and the VMM must invoke the handler); a machine
 * check intercepted through the exception bitmap, or one that makes VM
 * entry fail (reason 41), belongs to the host as well. Neither is the
 * guest's, and the VMM never sees them as the guest's exceptions.
 */
START_TEST(exit_host_nmi_and_machine_check)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[0] = 0x80000000u | (2u << 8) | 2; /* NMI */
    script.reason[1] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[1] = 0x80000000u | (3u << 8) | 18; /* #MC */
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    script.len[2] = 1;
    script.reason[3] = 0x80000000u | 41u; /* VM-entry failure due to a machine-check event */
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    /* Both went to the host; the guest simply ran on until its HLT. */
    ck_assert_uint_eq(vmx_fake.n_host_nmi, 1);
    ck_assert_uint_eq(vmx_fake.n_host_mc, 1);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.step, 3);
    ck_assert_uint_eq(script.seen_inj[1] | script.seen_inj[2], 0); /* nothing injected into the guest */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_FAIL_ENTRY);
    ck_assert_uint_eq(e.u.fail_entry.hw_reason, 0x80000029u);
    ck_assert_uint_eq(vmx_fake.n_host_mc, 2);
    vm_down();
}
END_TEST

START_TEST(exit_entry_failure_and_vmfail)
{
    vm_up();
    use_script();
    script.reason[0] = 0x80000000u | 33; /* invalid guest state */
    script.qual[0] = 0;
    script.reason[1] = 0x80000000u | 34; /* MSR loading, entry 2 */
    script.qual[1] = 3;
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_FAIL_ENTRY);
    ck_assert_uint_eq(e.u.fail_entry.hw_reason, 0x80000021u);
    ck_assert_uint_eq(e.u.fail_entry.qualification, 0);
    /* The VMCS stays clear: the next entry is a VMLAUNCH again (the fake
     * would answer VMfailValid 5 to a VMRESUME). */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_FAIL_ENTRY);
    ck_assert_uint_eq(e.u.fail_entry.hw_reason, 0x80000022u);
    ck_assert_uint_eq(e.u.fail_entry.qualification, 3);
    ck_assert_uint_eq(vmx_fake.n_launch, 2);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(vmx_fake.n_launch, 3);
    /* Now make a control invalid behind the backend's back: VMfailValid 7. */
    vmx_fake_set_msr(0x48d, 0x0000007f0000007full); /* bit 6 (preemption timer) must now be 1 */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HW_ERROR);
    ck_assert_int_eq(e.u.hw_error.kind, 2);
    ck_assert_uint_eq(e.u.hw_error.instr_error, 7);
    vm_down();
}
END_TEST

/* EPT violation qualification: bit 7 guest-linear address valid, bit 8 the
 * access was to the translation (not a paging-structure entry), bits 0/1
 * read/write ("Exit Qualification for EPT Violations"). */
#define EPTQ_R 0x1u
#define EPTQ_W 0x2u
#define EPTQ_DATA (0x80u | 0x100u)

START_TEST(exit_mmio)
{
    vm_up();
    use_script();
    /* mov %eax,(%rbx) ; mov 8(%rbx),%rcx ; movb $0x5a,(%rbx) ; mov %ah,(%rbx) */
    static const uint8_t code[] = {0x89, 0x03, 0x48, 0x8b, 0x4b, 0x08, 0xc6, 0x03, 0x5a, 0x88, 0x23};
    memcpy(ram + GCODE, code, sizeof(code));
    for (int i = 0; i < 4; i++) {
        script.reason[i] = VCORE_VMX_EXIT_EPT_VIOLATION;
        script.gpa[i] = 0xfee00000ull + (i == 1 ? 8u : 0u);
        script.qual[i] = EPTQ_DATA | (i == 1 ? EPTQ_R : EPTQ_W);
    }
    script.reason[4] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x1234abcdull;
    r.gpr[VCORE_X86_RBX] = 0xfee00000ull;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.gpa, 0xfee00000ull);
    ck_assert_uint_eq(e.u.mmio.len, 4);
    ck_assert_uint_eq(e.u.mmio.is_write, 1);
    ck_assert_mem_eq(e.u.mmio.data, "\xcd\xab\x34\x12", 4);
    counts_t c0 = counts_now();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    counts_t d = counts_since(c0);
    /* An MMIO write completed and the next MMIO exit decoded: RIP and the
     * interruptibility state read, RIP written; the decode needs CS base,
     * CS access rights, CR3 and RIP again (CR0, CR4 and EFER are known).
     * Before (commit 747d2b1): 43 guest-state VMREADs + 1 VMWRITE. */
    printf("vmx: MMIO write round trip: before 43 guest-state VMREAD + 1 VMWRITE, after %llu + %llu "
           "(exit information %llu)\n",
           (unsigned long long)d.guest_r, (unsigned long long)d.guest_w, (unsigned long long)d.info_r);
    ck_assert_uint_le(d.guest_r + d.guest_w, 6);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    ck_assert_uint_eq(e.u.mmio.is_write, 0);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    memcpy(e.u.mmio.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 6);
    ck_assert_uint_eq(e.u.mmio.len, 1);
    ck_assert_uint_eq(e.u.mmio.data[0], 0x5a);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.mmio.data[0], 0xab); /* AH */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x0807060504030201ull);
    ck_assert_uint_eq(r.rip, GCODE + sizeof(code));
    vm_down();
}
END_TEST

/*
 * An EPT violation on the guest's own page walk (a paging-structure entry
 * outside RAM: bit 7 set, bit 8 clear), on an access that translates no
 * linear address (bit 7 clear), or during event delivery (IDT-vectoring
 * information valid) is not the data access of the instruction at RIP,
 * even when that instruction is a MOV that decodes: no MMIO exit.
 */
START_TEST(exit_ept_not_the_instructions_access)
{
    vm_up();
    use_script();
    static const uint8_t code[] = {0x89, 0x03}; /* mov %eax,(%rbx) */
    memcpy(ram + GCODE, code, sizeof(code));
    script.reason[0] = VCORE_VMX_EXIT_EPT_VIOLATION;
    script.gpa[0] = 0xfee00000ull;
    script.qual[0] = 0x80u | EPTQ_R; /* paging-structure entry read */
    script.reason[1] = VCORE_VMX_EXIT_EPT_VIOLATION;
    script.gpa[1] = 0xfee00000ull;
    script.qual[1] = EPTQ_W; /* no linear address */
    script.reason[2] = VCORE_VMX_EXIT_EPT_VIOLATION;
    script.gpa[2] = 0xfee00000ull;
    script.qual[2] = EPTQ_DATA | EPTQ_W;
    script.idt[2] = 0x80000000u | 0x30; /* delivering external interrupt 30H */
    vcore_exit_t e = new_exit();
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERNAL_ERROR);
        ck_assert_uint_eq(e.u.internal.suberror, VCORE_VMX_INTERNAL_EPT_NOT_DATA);
        ck_assert_uint_eq(e.u.internal.data[0], 0xfee00000ull);
        ck_assert_uint_eq(e.raw.reason, 48);
    }
    vm_down();
}
END_TEST

START_TEST(exit_mmio_undecodable)
{
    vm_up();
    use_script();
    static const uint8_t code[] = {0xa5}; /* MOVSD: not decoded */
    memcpy(ram + GCODE, code, sizeof(code));
    script.reason[0] = VCORE_VMX_EXIT_EPT_VIOLATION;
    script.gpa[0] = 0xfee00000ull;
    script.qual[0] = EPTQ_DATA | EPTQ_W;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERNAL_ERROR);
    ck_assert_uint_eq(e.u.internal.suberror, VCORE_VMX_INTERNAL_MMIO_DECODE);
    ck_assert_uint_eq(e.u.internal.data[0], 0xfee00000ull);
    ck_assert_uint_eq(e.raw.reason, 48);
    vm_down();
}
END_TEST

/* Exit qualification for control-register accesses: bits 3:0 CR, 5:4 type,
 * 11:8 GPR, 31:16 LMSW source. */
#define CRQ(cr, type, gpr) ((uint64_t)(cr) | ((uint64_t)(type) << 4) | ((uint64_t)(gpr) << 8))

/* MOV CR exits come back to the core, which checks them against the
 * architecture and the vCPU's CPUID and completes them (vcpu_cr.c). */
START_TEST(exit_cr_access_completed_by_core)
{
    vm_up();
    use_script();
    /* MOV %rax, %cr8 then MOV %cr8, %rdx, then MOV %rbx, %cr0 (clears NE). */
    script.reason[0] = VCORE_VMX_EXIT_CR_ACCESS;
    script.qual[0] = CRQ(8, 0, 0);
    script.len[0] = 4;
    script.reason[1] = VCORE_VMX_EXIT_CR_ACCESS;
    script.qual[1] = CRQ(8, 1, 2);
    script.len[1] = 4;
    script.reason[2] = VCORE_VMX_EXIT_CR_ACCESS;
    script.qual[2] = CRQ(0, 0, 3);
    script.len[2] = 3;
    script.reason[3] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0xb;
    r.gpr[VCORE_X86_RBX] = 0x80000011ull;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 11);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDX], 0xb);
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_uint_eq(sr.cr8, 0xb);
    ck_assert_uint_eq(sr.cr0, 0x80000011ull);                        /* the guest's view */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR0_READ_SHADOW), 0x80000011ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR0), 0x80000031ull); /* NE still forced */
    vm_down();
}
END_TEST

/* The exit reaches the core (not completed in the backend) with the
 * qualification decoded; a VMM without the core's dispatch would see this. */
START_TEST(exit_cr_access_decoded)
{
    vm_up();
    vcore__vmx_vcpu_t *c = priv_of(vcpu);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_CR_ACCESS;
    script.qual[0] = CRQ(0, 3, 0) | (0x000bull << 16); /* LMSW, source 000BH */
    script.len[0] = 3;
    vcore_exit_t e = new_exit();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    ck_assert_int_eq(ops->vcpu_set_state(vcpu, c, vcore_vcpu_model(vcpu), VCORE_X86_STATE_ALL), VCORE_OK);
    ck_assert_int_eq(ops->vcpu_run(vcpu, c, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CR_ACCESS);
    ck_assert_uint_eq(e.u.cr.cr, 0);
    ck_assert_uint_eq(e.u.cr.type, 3);
    ck_assert_uint_eq(e.u.cr.lmsw_source, 0xb);
    ck_assert_uint_eq(e.u.cr.insn_len, 3);
    ck_assert_uint_eq(c->pending, 0); /* nothing for the backend to complete */
    vm_down();
}
END_TEST

/*
 * MOV to CR0 setting PG with EFER.LME = 1 but CR4.PAE = 0 is #GP(0) (SDM
 * Vol. 2, "MOV-Move to/from Control Registers"; Vol. 3, "Initializing
 * IA-32e Mode"), not a CR0 with LMA set that makes the next entry fail;
 * MOV to CR4 setting a bit the vCPU's CPUID does not enumerate (SMEP) is
 * #GP(0). Both reach the guest as an injected #GP with error code 0.
 */
START_TEST(exit_cr_writes_checked)
{
    vm_up();
    use_script();
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    /* 32-bit protected mode, paging off, EFER.LME = 1 (unrestricted guest
     * allows paging off in the VMCS). */
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
        sr.seg[i].ar &= ~VCORE_X86_AR_L;
    sr.seg[VCORE_X86_CS].ar |= VCORE_X86_AR_DB;
    sr.cr0 = 0x11;
    sr.cr4 = 0;
    sr.efer = 0x100;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RAX] = 0x80000011u;   /* PG | ET | PE */
    r.gpr[VCORE_X86_RCX] = 1u << 20;      /* CR4.SMEP */
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.reason[0] = VCORE_VMX_EXIT_CR_ACCESS;
    script.qual[0] = CRQ(0, 0, 0);
    script.len[0] = 3;
    script.reason[1] = VCORE_VMX_EXIT_CR_ACCESS;
    script.qual[1] = CRQ(4, 0, 1);
    script.len[1] = 3;
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* Entry 1 injects #GP(0) for the CR0 write, at the same RIP; entry 2
     * the #GP(0) of the CR4 write. */
    ck_assert_uint_eq(script.seen_inj[1], 0x80000b0du);
    ck_assert_uint_eq(script.seen_inj_err[1], 0);
    ck_assert_uint_eq(script.seen_rip[1], GCODE);
    ck_assert_uint_eq(script.seen_inj[2], 0x80000b0du);
    ck_assert_uint_eq(script.seen_rip[2], GCODE);
    /* Nothing changed: no LMA, no IA-32e mode guest, no SMEP. */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_IA32_EFER), 0x100);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_CONTROLS) & VCORE__ENTRY_IA32E, 0);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR0_READ_SHADOW), 0x11);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR4_READ_SHADOW), 0);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR4) & (1u << 20), 0);
    vm_down();
}
END_TEST

/* WRMSR to IA32_EFER exits (the backend intercepts writes) and the core
 * refuses NXE when CPUID.80000001H:EDX.NX = 0 (SDM Vol. 3 "IA32_EFER MSR
 * Register": reserved bits are #GP); with NX enumerated it goes in. */
START_TEST(exit_efer_write_checked)
{
    for (int nx = 0; nx < 2; nx++) {
        vmx_fake_reset();
        host_init();
        vm = make_vm();
        ram = amem(2u << 20, RAM_SIZE);
        memset(ram, 0, RAM_SIZE);
        vcore_mem_region_t m = {sizeof(m), 0, RAM_SIZE, ram, 0};
        ck_assert_int_eq(vcore_vm_map_memory(vm, &m), VCORE_OK);
        ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
        set_cpuid_ex(vcpu, 0, (1u << 11) | (1u << 29) | (nx ? CPUID_81_EDX_NX : 0u)); /* SYSCALL, LM */
        set_long_mode(GCODE);
        use_script();
        vcore_x86_regs_t r = {.size = sizeof(r)};
        ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
        r.gpr[VCORE_X86_RCX] = 0xc0000080u;
        r.gpr[VCORE_X86_RAX] = 0xd00; /* LME | LMA | NXE */
        r.gpr[VCORE_X86_RDX] = 0;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        script.reason[0] = VCORE_VMX_EXIT_WRMSR;
        script.len[0] = 2;
        script.reason[1] = VCORE_VMX_EXIT_HLT;
        vcore_exit_t e = new_exit();
        /* The WRMSR exit is answered by the core: without NX it is #GP(0),
         * the instruction not completed; with NX it completes. */
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
        ck_assert_uint_eq(script.seen_inj[1], nx ? 0 : 0x80000b0du);
        ck_assert_uint_eq(script.seen_rip[1], nx ? GCODE + 2 : GCODE);
        ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_IA32_EFER), nx ? 0xd00 : 0x500);
        vm_down();
    }
}
END_TEST

/* Completing an instruction ends blocking by STI or MOV SS (SDM Vol. 3,
 * "Interruptibility State": it lasts until the end of the next instruction).
 * "sti; hlt" exits at HLT with blocking by STI; once the HLT completes the
 * guest runs without it. Virtual-NMI blocking (bit 3) is not the
 * instruction's and stays. */
START_TEST(exit_skip_ends_blocking)
{
    vm_up();
    use_script();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rflags = 2 | (1u << 9);
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.len[0] = 1;
    script.intr_state[0] = 0x100u | 0x9u; /* STI + virtual-NMI blocking */
    script.reason[1] = VCORE_VMX_EXIT_CPUID;
    script.len[1] = 2;
    script.intr_state[1] = 0x100u | 0x2u; /* MOV SS */
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_eq(script.seen_intr_state[1], 0x8u);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 1);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_intr_state[2], 0x0u);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 3);
    vm_down();
}
END_TEST

/* Without nested VMX on the vCPU a VMX instruction is reported, with the
 * exit information the SDM defines for it and nothing more. */
START_TEST(exit_vmx_insn_reported)
{
    vm_up();
    use_script();
    /* VMREAD %rcx -> %rax (register form): no qualification read. */
    script.reason[0] = VCORE_VMX_EXIT_VMREAD;
    script.len[0] = 3;
    script.ii[0] = (1u << 10) | (0u << 3) | (1u << 28);
    script.qual[0] = 0xdead; /* undefined for a register operand */
    /* VMPTRLD [rbx + 8]: instruction information and displacement. */
    script.reason[1] = VCORE_VMX_EXIT_VMPTRLD;
    script.len[1] = 4;
    script.ii[1] = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23);
    script.qual[1] = 8;
    /* VMLAUNCH: neither. */
    script.reason[2] = VCORE_VMX_EXIT_VMLAUNCH;
    script.len[2] = 3;
    script.reason[3] = VCORE_VMX_EXIT_INVEPT;
    script.len[3] = 5;
    script.ii[3] = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23) | (2u << 28);
    vcore_exit_t e = new_exit();
    vmx_fake_log_start();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_VMX_INSN);
    ck_assert_uint_eq(e.u.vmx_insn.op, VCORE_NVMX_VMREAD);
    ck_assert_uint_eq(e.u.vmx_insn.basic_reason, 23);
    ck_assert_uint_eq(e.u.vmx_insn.insn_info, (1u << 10) | (1u << 28));
    ck_assert_uint_eq(e.u.vmx_insn.insn_len, 3);
    ck_assert_uint_eq(e.u.vmx_insn.qualification, 0);
    ck_assert_uint_eq(e.raw.data[7], (1u << 10) | (1u << 28));
    for (uint32_t i = 0; i < vmx_fake.nlog; i++)
        ck_assert_uint_ne(vmx_fake.log[i].field, VCORE_VMCS_EXIT_QUALIFICATION);
    vmx_fake.logging = false;
    /* Not completed by anybody: the guest re-executes it. */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[1], GCODE);
    ck_assert_uint_eq(e.u.vmx_insn.op, VCORE_NVMX_VMPTRLD);
    ck_assert_uint_eq(e.u.vmx_insn.qualification, 8);
    ck_assert_uint_eq(e.u.vmx_insn.insn_info, script.ii[1]);
    vmx_fake_log_start();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.vmx_insn.op, VCORE_NVMX_VMLAUNCH);
    ck_assert_uint_eq(e.u.vmx_insn.insn_info, 0);
    for (uint32_t i = 0; i < vmx_fake.nlog; i++)
        ck_assert_uint_ne(vmx_fake.log[i].field, VCORE_VMCS_VMX_INSTRUCTION_INFO);
    vmx_fake.logging = false;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.vmx_insn.op, VCORE_NVMX_INVEPT);
    ck_assert_uint_eq(e.u.vmx_insn.basic_reason, 50);
    vm_down();
}
END_TEST

/* ======================= events ======================= */

/* A #GP with an error code goes in through the VM-entry interruption
 * information (valid, type 3, deliver error code, vector 13) and the
 * exception error-code field ("VM-Entry Controls for Event Injection");
 * once delivered it is no longer injected. */
START_TEST(events_inject_exception_error_code)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 13, true, 0x1234, 0), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[0], 0x80000b0du);
    ck_assert_uint_eq(script.seen_inj_err[0], 0x1234);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 0);
    ck_assert_uint_eq(ev.exception_pending, 0);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], 0); /* once */
    /* Exits cleared the valid bit; nothing was rewritten for it. */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD) >> 31, 0);
    vm_down();
}
END_TEST

/* An external interrupt raised while the guest runs with IF = 0 waits: the
 * interrupt window is armed (primary control bit 2); when the guest
 * executes STI and the window opens the exit is reported, the core
 * completes it and the interrupt goes in (type 0) at the next entry. */
static void irq_window_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    if (s->step == 2) { /* the guest executes STI and one more instruction */
        uint64_t rflags = vmx_fake_get(VCORE_VMCS_GUEST_RFLAGS) | (1u << 9);
        vmx_fake_set(VCORE_VMCS_GUEST_RFLAGS, rflags);
        ck_assert(vmx_fake_irq_window_open());
    }
}

START_TEST(events_interrupt_waits_for_window)
{
    vm_up();
    use_script();
    script.hook = irq_window_hook;
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.len[0] = 1;
    script.reason[1] = VCORE_VMX_EXIT_INTERRUPT_WINDOW;
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    script.len[2] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK); /* IF = 0 so far */
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* Entry 1: nothing injected, the window armed. */
    ck_assert_uint_eq(script.seen_inj[1], 0);
    ck_assert(script.seen_proc[1] & (1u << 2));
    /* Entry 2 (after the window exit the core handled): vector 30H, type 0. */
    ck_assert_uint_eq(script.seen_inj[2], 0x80000030u);
    ck_assert_uint_eq(script.seen_proc[2] & (1u << 2), 0);
    vm_down();
}
END_TEST

/* An NMI goes in (type 2, vector 2); with virtual NMIs its delivery blocks
 * the next one until the guest's IRET. A second NMI waits for the NMI
 * window (primary control bit 22), which opens after that IRET. */
static void nmi_window_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    if (s->step == 2) { /* the guest's NMI handler executes IRET */
        uint64_t intr = vmx_fake_get(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO);
        vmx_fake_set(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, intr & ~8ull);
        ck_assert(vmx_fake_nmi_window_open());
    }
}

START_TEST(events_nmi_blocking_and_window)
{
    vm_up();
    use_script();
    script.hook = nmi_window_hook;
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.len[0] = 1;
    script.reason[1] = VCORE_VMX_EXIT_NMI_WINDOW;
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    script.len[2] = 1;
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[0], 0x80000202u);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.nmi_masked, 1); /* virtual-NMI blocking, interruptibility bit 3 */
    ck_assert_int_eq(vcore_vcpu_inject_nmi(vcpu), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_inj[1], 0);
    ck_assert(script.seen_proc[1] & (1u << 22));
    ck_assert_uint_eq(script.seen_inj[2], 0x80000202u);
    ck_assert_uint_eq(script.seen_proc[2] & (1u << 22), 0);
    vm_down();
}
END_TEST

/* A window the VMM asks for is reported to it and cleared (one-shot). */
START_TEST(events_vmm_window_reported)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_INTERRUPT_WINDOW;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.request_interrupt_window = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IRQ_WINDOW);
    ck_assert(script.seen_proc[0] & (1u << 2));
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.request_interrupt_window, 0);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_proc[1] & (1u << 2), 0);
    vm_down();
}
END_TEST

/* An exit during event delivery (IDT-vectoring information valid) leaves
 * the event undelivered: it is reported injected again and re-injected at
 * the next entry, with its error code or, for a software interrupt, the
 * instruction length ("Information for VM Exits That Occur During Event
 * Delivery"). An NMI re-injection needs virtual-NMI blocking clear. */
START_TEST(events_idt_vectoring_reinjected)
{
    vm_up();
    use_script();
    /* #PF delivery hit an EPT violation (the IDT outside RAM): paging-structure access. */
    script.reason[0] = VCORE_VMX_EXIT_EPT_VIOLATION;
    script.gpa[0] = 0xfee00000ull;
    script.qual[0] = EPTQ_DATA | EPTQ_W;
    script.idt[0] = 0x80000000u | (3u << 8) | (1u << 11) | 14;
    script.idt_err[0] = 0x2;
    script.reason[1] = VCORE_VMX_EXIT_EPT_VIOLATION; /* INT 80H (2 bytes) delivery */
    script.gpa[1] = 0xfee00000ull;
    script.qual[1] = EPTQ_DATA | EPTQ_W;
    script.idt[1] = 0x80000000u | (4u << 8) | 0x80;
    script.len[1] = 2;
    script.reason[2] = VCORE_VMX_EXIT_EPT_VIOLATION; /* NMI delivery */
    script.gpa[2] = 0xfee00000ull;
    script.qual[2] = EPTQ_DATA | EPTQ_W;
    script.idt[2] = 0x80000000u | (2u << 8) | 2;
    script.intr_state[2] = 0x100u | 0x8u;
    script.reason[3] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.raw.data[3], script.idt[0]);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 1);
    ck_assert_uint_eq(ev.exception_vector, 14);
    ck_assert_uint_eq(ev.exception_has_error_code, 1);
    ck_assert_uint_eq(ev.exception_error_code, 2);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], 0x80000b0eu);
    ck_assert_uint_eq(script.seen_inj_err[1], 2);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 0);
    ck_assert_uint_eq(ev.interrupt_injected, 1);
    ck_assert_uint_eq(ev.interrupt_soft, 1);
    ck_assert_uint_eq(ev.interrupt_vector, 0x80);
    ck_assert_uint_eq(ev.soft_insn_len, 2);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[2], 0x80000480u);
    ck_assert_uint_eq(vmx_fake.inj_len, 2);
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.nmi_injected, 1);
    ck_assert_uint_eq(ev.nmi_masked, 0);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(script.seen_inj[3], 0x80000202u); /* the fake refuses it under NMI blocking */
    vm_down();
}
END_TEST

/* After an exit the events show the blocking the processor saved. */
START_TEST(events_blocking_read_back)
{
    vm_up();
    use_script();
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rflags = 2 | (1u << 9);
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.intr_state[0] = 0x100u | 0x9u; /* STI + virtual-NMI blocking */
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.sti_blocking, 1);
    ck_assert_uint_eq(ev.movss_blocking, 0);
    ck_assert_uint_eq(ev.nmi_masked, 1);
    vm_down();
}
END_TEST

/* STI / MOV-SS blocking and NMI masking map to interruptibility bits 0, 1, 3. */
START_TEST(events_interruptibility_mapping)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rflags = 2 | (1u << 9);
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ev.sti_blocking = 1;
    ev.nmi_masked = 1;
    ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_intr_state[0], 0x9u);
    vm_down();
}
END_TEST

/* ======================= state sync ======================= */

START_TEST(sync_lazy_reads_and_writes)
{
    vm_up();
    use_script();
    for (int i = 0; i < 4; i++)
        script.reason[i] = VCORE_VMX_EXIT_HLT, script.len[i] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    uint64_t rd, wr;
    vmx_fake_counts(&rd, &wr);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    vmx_fake_counts(&rd, &wr);
    ck_assert_uint_eq(rd, 3); /* RIP, RSP, RFLAGS; GPRs are in memory */
    ck_assert_uint_eq(wr, 0);
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    vmx_fake_counts(&rd, &wr);
    /* Segments and tables, CR3; CR0, CR4 and EFER are known without a VMREAD. */
    ck_assert_uint_eq(rd, 8 * 4 + 4 + 1);
    ck_assert_uint_eq(sr.cr0, 0x80000031ull);
    ck_assert_uint_eq(sr.cr4, 0x20ull);
    ck_assert_uint_eq(sr.efer, 0x500ull);
    ck_assert_uint_eq(sr.seg[VCORE_X86_TR].selector, 0x18);
    /* Only a GPR changed: no VMWRITE at all beyond the HLT completion. */
    r.gpr[VCORE_X86_R9] = 5;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vmx_fake_counts(&rd, &wr);
    ck_assert_uint_eq(wr, 1); /* GUEST_RIP (HLT skip) */
    ck_assert_uint_eq(vmx_fake.n_enter, 2);
    /* CR4 changed: CR4 and its read shadow, nothing else. */
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    vmx_fake_counts(&rd, &wr);
    sr.cr4 |= 1u << 7; /* PGE */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vmx_fake_counts(&rd, &wr);
    ck_assert_uint_eq(wr, 1 + 2);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR4), 0x20a0ull);
    vm_down();
}
END_TEST

/* backend.h: vcpu_get_state writes exactly the groups it is asked for. */
START_TEST(sync_get_writes_only_the_groups_asked)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    static const uint32_t groups[] = {
        VCORE_X86_STATE_GPRS,     VCORE_X86_STATE_RIP,    VCORE_X86_STATE_RFLAGS,
        VCORE_X86_STATE_SEG_CS,   VCORE_X86_STATE_SEG_SS, VCORE_X86_STATE_SEG_DATA,
        VCORE_X86_STATE_SEG_SYS,  VCORE_X86_STATE_DTABLES, VCORE_X86_STATE_CR0,
        VCORE_X86_STATE_CR2,      VCORE_X86_STATE_CR3,    VCORE_X86_STATE_CR4,
        VCORE_X86_STATE_CR8,      VCORE_X86_STATE_EFER,   VCORE_X86_STATE_DREGS,
        VCORE_X86_STATE_FPU,      VCORE_X86_STATE_XCR0,   VCORE_X86_STATE_MSRS,
        VCORE_X86_STATE_TSC,      VCORE_X86_STATE_EVENTS, VCORE_X86_STATE_MODE,
        VCORE_X86_STATE_RSP,
    };
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        vcore_x86_state_t st, ref;
        memset(&st, 0xa5, sizeof(st));
        vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64, .u.x86 = &st};
        ck_assert_int_eq(ops->vcpu_get_state(vcpu, p, &vs, groups[i]), VCORE_OK);
        /* Copying the asked groups from the result onto a 0xa5 block must
         * give the result back: nothing else was written. */
        memset(&ref, 0xa5, sizeof(ref));
        vcore_x86_state_copy(&ref, &st, groups[i]);
        ck_assert_msg(memcmp(&ref, &st, sizeof(st)) == 0, "group %#x wrote outside itself", groups[i]);
    }
    /* Asking for RIP alone costs one VMREAD; CR0, CR4, EFER none at all. */
    vcore_x86_state_t st;
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64, .u.x86 = &st};
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    uint64_t r0 = vmx_fake.n_vmread;
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, p, &vs, VCORE_X86_STATE_RIP), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_vmread - r0, 1);
    r0 = vmx_fake.n_vmread;
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, p, &vs,
                                         VCORE_X86_STATE_CR0 | VCORE_X86_STATE_CR4 | VCORE_X86_STATE_EFER),
                     VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_vmread - r0, 0);
    ck_assert_uint_eq(st.sregs.cr0, 0x80000031ull);
    ck_assert_uint_eq(st.sregs.efer, 0x500);
    vm_down();
}
END_TEST

/* EFER.LMA follows CR0.PG and EFER.LME when the core sets one of them, and
 * "IA-32e mode guest" follows LMA ("Initializing IA-32e Mode", "Checks on
 * VM-Entry Control Fields"). */
START_TEST(sync_lma_follows_cr0_pg)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vcore_x86_state_t st = *vcore_vcpu_model(vcpu)->u.x86;
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64, .u.x86 = &st};
    st.sregs.cr0 = 0x11; /* paging off: LMA goes */
    ck_assert_int_eq(ops->vcpu_set_state(vcpu, p, &vs, VCORE_X86_STATE_CR0), VCORE_OK);
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, p, &vs, VCORE_X86_STATE_EFER), VCORE_OK);
    ck_assert_uint_eq(st.sregs.efer, 0x100);
    ck_assert_int_eq(ops->vcpu_run(vcpu, p, &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_IA32_EFER), 0x100);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_CONTROLS) & VCORE__ENTRY_IA32E, 0);
    st.sregs.cr0 = 0x80000011ull; /* paging on with LME: LMA comes back */
    ck_assert_int_eq(ops->vcpu_set_state(vcpu, p, &vs, VCORE_X86_STATE_CR0), VCORE_OK);
    ck_assert_int_eq(ops->vcpu_run(vcpu, p, &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_IA32_EFER), 0x500);
    ck_assert(vmx_fake_get(VCORE_VMCS_VM_ENTRY_CONTROLS) & VCORE__ENTRY_IA32E);
    vm_down();
}
END_TEST

/* PAE paging with EPT: VM entry takes the PDPTEs from the VMCS ("Loading
 * Page-Directory-Pointer-Table Entries"), so entering PAE paging through
 * the model loads them from the table CR3 points at (bits 31:5). */
START_TEST(sync_pae_pdptes_loaded)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    uint64_t pdpt[4] = {0x7001, 0x8001, 0, 0x9001};
    memcpy(ram + 0x6020, pdpt, sizeof(pdpt));
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
        sr.seg[i].ar &= ~VCORE_X86_AR_L;
    sr.seg[VCORE_X86_CS].ar |= VCORE_X86_AR_DB;
    sr.cr0 = 0x80000011ull;
    sr.cr3 = 0x6020;
    sr.cr4 = 0x20;
    sr.efer = 0;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_PDPTR0), 0x7001);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_PDPTR1), 0x8001);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_PDPTR2), 0);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_PDPTR3), 0x9001);
    vm_down();
}
END_TEST

static void msr_store_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    /* The "processor": entry loaded the guest list, exit stores it back. */
    const vcore__vmx_msr_entry_t *guest =
        (const void *)(uintptr_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR);
    vcore__vmx_msr_entry_t *store = (void *)(uintptr_t)vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR);
    const vcore__vmx_msr_entry_t *hostl =
        (const void *)(uintptr_t)vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR);
    if (!guest || !store || !hostl)
        return; /* a VMCS without MSR lists: the processor loads and stores none */
    s->seen_rax[7] = guest[1].value;   /* LSTAR the guest ran with */
    s->qual[7] = hostl[1].value;       /* LSTAR the host gets back */
    store[1].value = 0xffffffff80001234ull; /* the guest wrote LSTAR */
}

START_TEST(sync_msr_lists)
{
    vm_up();
    use_script();
    script.hook = msr_store_hook;
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_LSTAR, 0xffffffff80000000ull), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT), 5);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT), 5);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT), 5);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR) & 15u, 0);
    ck_assert_uint_eq(script.seen_rax[7], 0xffffffff80000000ull);
    ck_assert_uint_eq(script.qual[7], 0xffffffff81800000ull);
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_LSTAR, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffff80001234ull);
    vm_down();
}
END_TEST

/* The guest's TSC is the host's plus vmcs01's TSC offset, with "use TSC
 * offsetting" on ("Changes to Instruction Behavior in VMX Non-Root
 * Operation": RDTSC, RDMSR of IA32_TIME_STAMP_COUNTER): writing the TSC
 * chooses the offset against the host's counter at that moment, and
 * reading it gives the host's counter then plus the offset - it goes on
 * counting. Before, the backend kept the written value as a constant and
 * left the guest on the host's counter. */
START_TEST(sync_tsc_offset)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    vmx_fake.tsc = 1000000;
    vmx_fake.tsc_step = 10;
    const uint64_t want = 1ull << 40;
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_TSC, want), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL) & VCORE__PROC_TSC_OFFSET,
                      VCORE__PROC_TSC_OFFSET);
    uint64_t offset = vmx_fake_get(VCORE_VMCS_TSC_OFFSET);
    ck_assert_uint_eq(offset, want - 1000000);
    uint64_t now = vmx_fake.tsc, v = 0;
    ck_assert_int_eq(vcore_vcpu_get_msr(vcpu, VCORE_MSR_IA32_TSC, &v), VCORE_OK);
    ck_assert_uint_eq(v, now + offset);
    ck_assert_uint_gt(v, want);
    vm_down();
}
END_TEST

/* A VMCS the core builds for L2 (vmcs02) switches the same MSRs as vmcs01:
 * its VM-entry MSR-load list gives the guest the vCPU's LSTAR (shared by L1
 * and L2), the VM-exit MSR-store list puts what the guest left back in the
 * vCPU, the VM-exit MSR-load list gives the host its own ("VM-Entry Controls
 * for MSRs", "VM-Exit Controls for MSRs", "Saving MSRs"). Before, the
 * VMCS had no lists: the guest ran with the host's LSTAR. */
START_TEST(hwvmcs_msr_lists_for_l2)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    vcore__vmx_vcpu_t *c = priv_of(vcpu);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, VCORE_MSR_IA32_LSTAR, 0xffffffff80000000ull), VCORE_OK);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT; /* vmcs01 runs once to be complete */
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vcore_hw_vmcs_t *v2 = NULL;
    ck_assert_int_eq(ops->vmcs_alloc(vcpu, p, false, &v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, v2), VCORE_OK);
    vmx_fake_vmcs_t *f01 = vmx_fake_vmcs_at(c->vmcs01.pa), *f02 = vmx_fake_vmcs_at(v2->pa);
    memcpy(f02->data, f01->data, sizeof(f02->data));
    /* The core writes no MSR-list field of vmcs02. */
    static const uint32_t lists[] = {
        VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR,
        VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT,
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        vmx_fake_set(lists[i], 0);
    script.reason[1] = VCORE_VMX_EXIT_CPUID;
    script.len[1] = 2;
    script.hook = msr_store_hook;
    vcore_hw_entry_t out;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_EXIT);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT), 5);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT), 5);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT), 5);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR), c->msr_area_pa);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR), c->msr_area_pa);
    ck_assert_uint_eq(script.seen_rax[7], 0xffffffff80000000ull); /* the vCPU's LSTAR, not the host's */
    ck_assert_uint_eq(script.qual[7], 0xffffffff81800000ull);     /* the host's comes back */
    ck_assert_uint_eq(c->msr_area[1].value, 0xffffffff80001234ull); /* what the guest left */
    /* The second entry writes no list field again. */
    uint64_t w0 = vmx_fake.n_vmwrite;
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_EXIT);
    ck_assert_uint_eq(vmx_fake.n_vmwrite, w0);
    vm_down();
}
END_TEST

/* The guest scripts of the nested measurement: L1 executes VMXON [rbx],
 * VMPTRLD [rbx + 8] and VMREAD rax <- field(rcx); the VMREAD exit's
 * accesses are counted from its exit to the next entry. */
static counts_t nested_at[STEPS];
static void nested_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    nested_at[s->step - 1] = counts_now();
    if (s->step == 3)
        vmx_fake_log_start();
    if (s->step == 4)
        vmx_fake.logging = false;
}

START_TEST(sync_nested_vmread_cost)
{
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    vm_up_cfg(&vc);
    /* The emulated VMREAD is measured: L0's VMCS shadowing would serve it without an exit. */
    ck_assert_int_eq(vcore_nvmx_set_options(vcore_vcpu_nvmx(vcpu), VCORE_NVMX_OPT_NO_HW_SHADOW), VCORE_OK);
    set_cpuid_ex(vcpu, CPUID_1_ECX_VMX, (1u << 11) | CPUID_81_EDX_NX | (1u << 29));
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.cr4 |= 1u << 13; /* CR4.VMXE for L1 */
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0x3a, 0x5), VCORE_OK); /* locked, VMX outside SMX */
    uint32_t rev = VCORE_VMCS12_REVISION;
    memcpy(ram + 0x50000, &rev, 4);
    memcpy(ram + 0x51000, &rev, 4);
    uint64_t ptr[2] = {0x50000, 0x51000};
    memcpy(ram + 0x52000, ptr, sizeof(ptr));
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RBX] = 0x52000;
    r.gpr[VCORE_X86_RCX] = VCORE_VMCS_GUEST_RIP;
    r.gpr[VCORE_X86_RAX] = 0x1111;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    use_script();
    script.hook = nested_hook;
    /* Memory operand [rbx + disp]: 64-bit address size, DS, no index, base RBX. */
    uint32_t mem = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23);
    script.reason[0] = VCORE_VMX_EXIT_VMXON;
    script.len[0] = 4;
    script.ii[0] = mem;
    script.reason[1] = VCORE_VMX_EXIT_VMPTRLD;
    script.len[1] = 4;
    script.ii[1] = mem;
    script.qual[1] = 8;
    script.reason[2] = VCORE_VMX_EXIT_VMREAD;
    script.len[2] = 3;
    script.ii[2] = (1u << 10) | (0u << 3) | (1u << 28); /* register form: rax <- field(rcx) */
    script.reason[3] = VCORE_VMX_EXIT_HLT;
    script.len[3] = 1;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    /* All three emulated: RIP past each, VMsucceed (arithmetic flags clear). */
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 4);
    ck_assert_uint_eq(script.seen_rip[2], GCODE + 8);
    ck_assert_uint_eq(script.seen_rip[3], GCODE + 11);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.rflags & 0x8d5u, 0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RAX], 0); /* vmcs12's guest RIP, never written */
    counts_t a = nested_at[2], b = nested_at[3];
    uint64_t guest = (b.guest_r - a.guest_r) + (b.guest_w - a.guest_w);
    print_log("emulated VMREAD exit fields");
    /*
     * Before (commit 747d2b1, whole-unit sync, measured with this scenario):
     * 43 guest-state VMREADs + 1 VMWRITE = 44 guest-state accesses, 3
     * exit-information reads. After: the exit reason, instruction
     * information and length (no qualification: it is undefined for a
     * register operand); VMREAD of RIP, RFLAGS, CS and SS access rights
     * and the interruptibility state; VMWRITE of RIP. CR0 and EFER cost
     * nothing: the backend always knows them; RSP is a state group of its
     * own (on VMX it exists only in the VMCS, "Guest Register State") and
     * the operands here do not name it.
     */
    printf("vmx: emulated VMREAD exit: guest-state accesses before 44 (43 VMREAD + 1 VMWRITE), "
           "after %llu (%llu VMREAD + %llu VMWRITE); exit information before 3, after %llu; "
           "control writes %llu, host writes %llu\n",
           (unsigned long long)guest, (unsigned long long)(b.guest_r - a.guest_r),
           (unsigned long long)(b.guest_w - a.guest_w), (unsigned long long)(b.info_r - a.info_r),
           (unsigned long long)(b.ctl_w - a.ctl_w), (unsigned long long)(b.host_w - a.host_w));
    ck_assert_uint_eq(b.guest_r - a.guest_r, 5);
    ck_assert_uint_eq(b.guest_w - a.guest_w, 1);
    ck_assert_uint_eq(b.info_r - a.info_r, 3); /* reason, instruction information, length */
    ck_assert_uint_eq(b.ctl_w - a.ctl_w, 0);
    ck_assert_uint_eq(b.host_w - a.host_w, 0);
    vm_down();
}
END_TEST


/* ======================= more exits, edges of the decoders ======================= */

/* Page tables for addresses above 1 GiB: PDPT[idx] -> a PD at pd whose
 * 2 MiB entry `slot` maps physical `phys`. */
static void map_2m(unsigned idx, uint32_t pd, unsigned slot, uint64_t phys)
{
    uint64_t *pdpt = (uint64_t *)(void *)(ram + 0x2000), *t = (uint64_t *)(void *)(ram + pd);
    pdpt[idx] = pd | 3u;
    t[slot] = phys | 0x83u;
}

/* Compatibility mode (IA-32e, CS.L = 0, CS.D = 1) or legacy 32-bit
 * protected mode (paging off), from set_long_mode's state. */
static void set_32bit(bool ia32e)
{
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.seg[VCORE_X86_CS].ar = (sr.seg[VCORE_X86_CS].ar & ~VCORE_X86_AR_L) | VCORE_X86_AR_DB;
    if (!ia32e) {
        sr.cr0 = 0x11;
        sr.cr4 = 0;
        sr.efer = 0;
    }
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
}

/* Reasons 64 (XRSTORS) and 66 (SPP-related event) read what the SDM defines
 * for them: the qualification, the IDT-vectoring information; 65 (PCONFIG)
 * has no qualification. */
START_TEST(exit_raw_reasons_above_63)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_XRSTORS;
    script.qual[0] = 0x1234;
    script.reason[1] = VCORE_VMX_EXIT_PCONFIG;
    script.qual[1] = 0x5678;
    script.reason[2] = VCORE_VMX_EXIT_SPP_EVENT;
    script.idt[2] = 0x80000000u | 0x31;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.raw.qualification, 0x1234);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.raw.qualification, 0);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.raw.data[3], 0x80000031u);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.interrupt_injected, 1);
    ck_assert_uint_eq(ev.interrupt_vector, 0x31);
    vm_down();
}
END_TEST

/* The MOV of an MMIO access decodes at the size of the code it runs in:
 * 32-bit protected mode (89 03 is a 4-byte store, 66 89 03 a 2-byte one) and
 * compatibility mode (48 is DEC EAX there, not REX.W: not a MOV). */
START_TEST(exit_mmio_code_size)
{
    for (int mode = 0; mode < 2; mode++) {
        vm_up();
        use_script();
        set_32bit(mode == 1);
        static const uint8_t code[] = {0x89, 0x03, 0x66, 0x89, 0x03, 0x48, 0x89, 0x03};
        memcpy(ram + GCODE, code, sizeof(code));
        for (int i = 0; i < 3; i++) {
            script.reason[i] = VCORE_VMX_EXIT_EPT_VIOLATION;
            script.gpa[i] = 0xfee00000ull;
            script.qual[i] = EPTQ_DATA | EPTQ_W;
        }
        vcore_exit_t e = new_exit();
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
        ck_assert_uint_eq(e.u.mmio.len, 4);
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
        ck_assert_uint_eq(e.u.mmio.len, 2);
        ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERNAL_ERROR);
        ck_assert_uint_eq(e.u.internal.suberror, VCORE_VMX_INTERNAL_MMIO_DECODE);
        vm_down();
    }
}
END_TEST

/* 64-bit code above 4 GiB is fetched at its 64-bit linear address (not
 * truncated), and a store of RSP stores the guest's RSP (a VMCS field). */
START_TEST(exit_mmio_rip_above_4g_and_rsp)
{
    vm_up();
    use_script();
    map_2m(4, 0x9000, 0, 0x200000); /* 100000000H -> 200000H */
    static const uint8_t code[] = {0x48, 0x89, 0x23}; /* mov %rsp,(%rbx) */
    memcpy(ram + 0x210000, code, sizeof(code));
    ram[0x10000] = 0xa5; /* what a truncated fetch would find: MOVSD */
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rip = 0x100010000ull;
    r.gpr[VCORE_X86_RSP] = 0x123458;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    script.reason[0] = VCORE_VMX_EXIT_EPT_VIOLATION;
    script.gpa[0] = 0xfee00000ull;
    script.qual[0] = EPTQ_DATA | EPTQ_W;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_MMIO);
    ck_assert_uint_eq(e.u.mmio.len, 8);
    uint64_t v;
    memcpy(&v, e.u.mmio.data, 8);
    ck_assert_uint_eq(v, 0x123458);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[1], 0x100010003ull);
    vm_down();
}
END_TEST

/* Without IA32_VMX_BASIC[54] the exit carries no instruction information
 * for INS/OUTS: the address size comes from the instruction's prefixes
 * (67H in 64-bit mode: 32 bits, ECX only). */
START_TEST(exit_string_io_decoded_address_size)
{
    vmx_fake_reset();
    vmx_fake_set_msr(0x480, 0x00d810000000002bull & ~(1ull << 54));
    host_init();
    vm = make_vm();
    ram = amem(2u << 20, RAM_SIZE);
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t m = {sizeof(m), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &m), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    set_cpuid(vcpu);
    set_long_mode(GCODE);
    use_script();
    static const uint8_t code[] = {0x67, 0xf3, 0x6c}; /* addr32 rep insb */
    memcpy(ram + GCODE, code, sizeof(code));
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x60ull << 16) | 0x20 | 0x10 | 0x8;
    script.len[0] = 3;
    script.gla[0] = 0x30000;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 0xffff00000003ull;
    r.gpr[VCORE_X86_RDI] = 0x30000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 3);
    memcpy(e.u.io.data, "abc", 3);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_mem_eq(ram + 0x30000, "abc", 3);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x30003);
    vm_down();
}
END_TEST

/* 64-bit mode with a 32-bit address size and an FS override whose base
 * is above 4 GiB: the linear addresses are 64-bit (only the offset wraps at
 * 32 bits). */
START_TEST(exit_outs_fs_above_4g)
{
    vm_up();
    use_script();
    map_2m(4, 0x9000, 0, 0x200000);
    memcpy(ram + 0x200010, "wxyz", 4);
    memcpy(ram + 0x10, "????", 4); /* what a truncated address would read */
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x61ull << 16) | 0x20 | 0x10; /* REP OUTSB */
    script.len[0] = 4;
    script.ii[0] = II_A32 | (4u << 15); /* FS */
    script.gla[0] = 0x100000010ull;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RSI] = 0x10;
    r.gpr[VCORE_X86_RCX] = 4;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_uint_eq(e.u.io.count, 4);
    ck_assert_mem_eq(e.u.io.data, "wxyz", 4);
    vm_down();
}
END_TEST

/* Compatibility mode, a 16-bit address size: DI wraps at 64 KiB and the
 * linear address at 4 GiB ("Segment Registers in 64-Bit Mode" do not apply:
 * the ES base counts, 32 bits wide). */
START_TEST(exit_ins_compat_wraps_4g)
{
    vm_up();
    use_script();
    map_2m(3, 0xa000, 511, 0x200000); /* FFE00000H -> 200000H */
    set_32bit(true);
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x60ull << 16) | 0x20 | 0x10 | 0x8; /* REP INSB */
    script.len[0] = 3;
    script.ii[0] = II_A16;
    script.gla[0] = 0xfffffffeull; /* ES.base FFFFFFF0H + DI 0EH */
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RDI] = 0xe;
    r.gpr[VCORE_X86_RCX] = 4;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 4);
    memcpy(e.u.io.data, "PQRS", 4);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(ram[0x3ffffe], 'P');
    ck_assert_uint_eq(ram[0x3fffff], 'Q');
    ck_assert_uint_eq(ram[0], 'R');
    ck_assert_uint_eq(ram[1], 'S');
    vm_down();
}
END_TEST

/* REP with a 64-bit address size: RCX 10100H, 256 bytes done, 10000H left:
 * not complete (all 64 bits of RCX count), re-executed. */
START_TEST(exit_rep_rcx_64bit)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x60ull << 16) | 0x20 | 0x10 | 0x8;
    script.len[0] = 2;
    script.ii[0] = II_A64;
    script.gla[0] = 0x30000;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    ram[0x30100] = 0xee;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RDI] = 0x30000;
    r.gpr[VCORE_X86_RCX] = 0x10100;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 256);
    memset(e.u.io.data, 0x11, 256);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_rip[1], GCODE); /* not completed */
    ck_assert_uint_eq(ram[0x300ff], 0x11);
    ck_assert_uint_eq(ram[0x30100], 0xee); /* exactly count elements */
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0x10000);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x30100);
    vm_down();
}
END_TEST

/* OUT never writes guest memory, whatever the VMM does with the buffer; an
 * OUTS reads exactly its elements (the last one ends at the last byte of RAM). */
START_TEST(exit_outs_reads_exactly)
{
    vm_up();
    use_script();
    memcpy(ram + RAM_SIZE - 3, "xyz", 3);
    script.reason[0] = VCORE_VMX_EXIT_IO_INSTRUCTION;
    script.qual[0] = (0x61ull << 16) | 0x20 | 0x10;
    script.len[0] = 2;
    script.ii[0] = II_A64;
    script.gla[0] = RAM_SIZE - 3;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RSI] = RAM_SIZE - 3;
    r.gpr[VCORE_X86_RCX] = 3;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_IO);
    ck_assert_mem_eq(e.u.io.data, "xyz", 3);
    memcpy(e.u.io.data, "!!!", 3);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_mem_eq(ram + RAM_SIZE - 3, "xyz", 3);
    vm_down();
}
END_TEST

/* VMCALL outside 64-bit mode: longmode 0, and CS.L is not looked at when
 * EFER.LMA = 0 (no VMREAD of CS's access rights). */
START_TEST(exit_vmcall_legacy_mode)
{
    vm_up();
    use_script();
    set_32bit(false);
    script.reason[0] = VCORE_VMX_EXIT_VMCALL;
    script.len[0] = 3;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    script.reason[1] = VCORE_VMX_EXIT_VMCALL;
    script.len[1] = 3;
    e.u.hypercall.ret = 0;
    vmx_fake_log_start();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HYPERCALL);
    ck_assert_uint_eq(e.u.hypercall.longmode, 0);
    for (uint32_t i = 0; i < vmx_fake.nlog; i++)
        ck_assert_uint_ne(vmx_fake.log[i].field, VCORE_VMCS_GUEST_CS_AR_BYTES);
    vmx_fake.logging = false;
    vm_down();
}
END_TEST

/* RIP after a completed instruction: EIP wraps at 4 GiB outside 64-bit
 * mode (legacy and compatibility mode); in 64-bit mode it does not. */
START_TEST(exit_skip_rip_width)
{
    static const struct {
        int mode; /* 0 legacy, 1 compatibility, 2 64-bit */
        uint64_t rip, next;
    } cases[] = {
        {0, 0xffffffffull, 0},
        {1, 0xffffffffull, 0},
        {2, 0xffffffffull, 0x100000000ull},
        {2, 0x100000001ull, 0x100000002ull},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vm_up();
        use_script();
        if (cases[i].mode < 2)
            set_32bit(cases[i].mode == 1);
        vcore_x86_regs_t r = {.size = sizeof(r)};
        ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
        r.rip = cases[i].rip;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        script.reason[0] = VCORE_VMX_EXIT_HLT;
        script.len[0] = 1;
        script.reason[1] = VCORE_VMX_EXIT_HLT;
        vcore_exit_t e = new_exit();
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(script.seen_rip[1], cases[i].next);
        vm_down();
    }
}
END_TEST

/* #PF, #DB: the qualification is the faulting address / the DR6 bits
 * ("Exit Qualification for Debug Exceptions"); an exception without error
 * code or qualification reads neither field. */
START_TEST(exit_exception_details)
{
    vm_up();
    use_script();
    vcore_x86_dregs_t dr = {.size = sizeof(dr)};
    ck_assert_int_eq(vcore_vcpu_get_dregs(vcpu, &dr), VCORE_OK);
    dr.dr7 = 0x401;
    ck_assert_int_eq(vcore_vcpu_set_dregs(vcpu, &dr), VCORE_OK);
    script.reason[0] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[0] = 0x80000000u | (3u << 8) | (1u << 11) | 14;
    script.intr_err[0] = 0x6;
    script.qual[0] = 0x7fff0000dead0ull;
    script.reason[1] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[1] = 0x80000000u | (3u << 8) | 1;
    script.qual[1] = 0x4001; /* BS, B0 */
    script.reason[2] = VCORE_VMX_EXIT_EXCEPTION_NMI;
    script.intr[2] = 0x80000000u | (3u << 8) | 6;
    script.qual[2] = 0xbad;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_EXCEPTION);
    ck_assert_uint_eq(e.u.exception.vector, 14);
    ck_assert_uint_eq(e.u.exception.error_code, 6);
    ck_assert_uint_eq(e.u.exception.cr2, 0x7fff0000dead0ull);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_DEBUG);
    ck_assert_uint_eq(e.u.debug.exception, 1);
    ck_assert_uint_eq(e.u.debug.dr6, 0xffff4ff1ull);
    ck_assert_uint_eq(e.u.debug.dr7, 0x401);
    ck_assert_uint_eq(e.u.debug.pc, GCODE);
    vmx_fake_log_start();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.exception.vector, 6);
    ck_assert_uint_eq(e.u.exception.cr2, 0);
    ck_assert_uint_eq(e.raw.qualification, 0);
    for (uint32_t i = 0; i < vmx_fake.nlog; i++) {
        ck_assert_uint_ne(vmx_fake.log[i].field, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE);
        ck_assert_uint_ne(vmx_fake.log[i].field, VCORE_VMCS_EXIT_QUALIFICATION);
    }
    vmx_fake.logging = false;
    vm_down();
}
END_TEST

/* VMREAD with a memory operand has a qualification (the displacement). */
START_TEST(exit_vmread_memory_operand)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_VMREAD;
    script.len[0] = 5;
    script.ii[0] = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23) | (1u << 28);
    script.qual[0] = 0x40;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_VMX_INSN);
    ck_assert_uint_eq(e.u.vmx_insn.qualification, 0x40);
    vm_down();
}
END_TEST

/* Every VMREAD/VMWRITE failure reaches the caller as an error: none is
 * ignored and none leaves the backend believing a VMCS holds what it does
 * not. Each row fails one field while a scenario that needs it runs. */
enum { SC_CPUID, SC_MMIO, SC_MMIO_RSP, SC_OUTS, SC_DB, SC_AC, SC_IDT_ERR, SC_IDT_SOFT, SC_INJECT_GP,
       SC_INJECT_SOFT, SC_VMX, SC_VMCALL, SC_SET_EVENTS, SC_CR_SET };

static void scenario(int sc, bool *second)
{
    static const uint8_t mov_store[] = {0x89, 0x03}, mov_rsp[] = {0x48, 0x89, 0x23};
    uint32_t i = script.step;
    *second = false;
    switch (sc) {
    case SC_CPUID:
        script.reason[i] = VCORE_VMX_EXIT_CPUID;
        script.len[i] = 2;
        script.reason[i + 1] = VCORE_VMX_EXIT_HLT;
        *second = true;
        break;
    case SC_MMIO:
    case SC_MMIO_RSP:
        if (sc == SC_MMIO)
            memcpy(ram + GCODE, mov_store, sizeof(mov_store));
        else
            memcpy(ram + GCODE, mov_rsp, sizeof(mov_rsp));
        script.reason[i] = VCORE_VMX_EXIT_EPT_VIOLATION;
        script.gpa[i] = 0xfee00000ull;
        script.qual[i] = EPTQ_DATA | EPTQ_W;
        break;
    case SC_OUTS:
        script.reason[i] = VCORE_VMX_EXIT_IO_INSTRUCTION;
        script.qual[i] = (0x61ull << 16) | 0x20 | 0x10;
        script.len[i] = 2;
        script.ii[i] = II_A64;
        script.gla[i] = 0x20000;
        {
            vcore_x86_regs_t r = {.size = sizeof(r)};
            ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
            r.gpr[VCORE_X86_RCX] = 2;
            r.gpr[VCORE_X86_RSI] = 0x20000;
            ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        }
        break;
    case SC_DB:
        script.reason[i] = VCORE_VMX_EXIT_EXCEPTION_NMI;
        script.intr[i] = 0x80000000u | (3u << 8) | 1;
        break;
    case SC_AC:
        script.reason[i] = VCORE_VMX_EXIT_EXCEPTION_NMI;
        script.intr[i] = 0x80000000u | (3u << 8) | (1u << 11) | 17;
        break;
    case SC_IDT_ERR:
    case SC_IDT_SOFT:
        script.reason[i] = VCORE_VMX_EXIT_EPT_VIOLATION;
        script.gpa[i] = 0xfee00000ull;
        script.qual[i] = EPTQ_DATA | EPTQ_W;
        script.idt[i] = sc == SC_IDT_ERR ? (0x80000000u | (3u << 8) | (1u << 11) | 13)
                                         : (0x80000000u | (4u << 8) | 0x80);
        script.len[i] = 2;
        break;
    case SC_INJECT_GP:
    case SC_INJECT_SOFT:
    case SC_SET_EVENTS:
    case SC_CR_SET:
        script.reason[i] = VCORE_VMX_EXIT_HLT;
        if (sc == SC_INJECT_GP) {
            ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 13, true, 0, 0), VCORE_OK);
        } else if (sc == SC_CR_SET) {
            vcore_x86_sregs_t sr = {.size = sizeof(sr)};
            ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
            sr.cr4 |= 1u << 7; /* PGE */
            sr.cr0 &= ~(1ull << 31); /* paging off: LMA follows, EFER rewritten */
            sr.efer &= ~(1ull << 10);
            sr.seg[VCORE_X86_CS].ar &= ~VCORE_X86_AR_L;
            ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
        } else {
            vcore_x86_events_t ev = {.size = sizeof(ev)};
            ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
            if (sc == SC_INJECT_SOFT) {
                ev.interrupt_injected = 1;
                ev.interrupt_soft = 1;
                ev.interrupt_vector = 0x80;
                ev.soft_insn_len = 2;
            } else {
                ev.nmi_masked = 1;
                ev.request_interrupt_window = 1; /* the primary controls change */
            }
            ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
        }
        break;
    case SC_VMX:
        script.reason[i] = VCORE_VMX_EXIT_VMPTRLD;
        script.len[i] = 4;
        script.ii[i] = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23);
        break;
    case SC_VMCALL:
        script.reason[i] = VCORE_VMX_EXIT_VMCALL;
        script.len[i] = 3;
        break;
    default:
        break;
    }
}

START_TEST(failures_reach_the_caller)
{
    static const struct {
        int sc;
        uint32_t field;
    } rows[] = {
        {SC_CPUID, VCORE_VMCS_GUEST_RIP},
        {SC_CPUID, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO},
        {SC_CPUID, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN},
        {SC_MMIO, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS},
        {SC_MMIO, VCORE_VMCS_GUEST_CR3},
        {SC_MMIO, VCORE_VMCS_GUEST_CS_BASE},
        {SC_MMIO, VCORE_VMCS_GUEST_CS_AR_BYTES},
        {SC_MMIO, VCORE_VMCS_GUEST_RIP},
        {SC_MMIO, VCORE_VMCS_IDT_VECTORING_INFO_FIELD},
        {SC_MMIO, VCORE_VMCS_EXIT_QUALIFICATION},
        {SC_MMIO_RSP, VCORE_VMCS_GUEST_RSP},
        {SC_OUTS, VCORE_VMCS_VMX_INSTRUCTION_INFO},
        {SC_OUTS, VCORE_VMCS_GUEST_LINEAR_ADDRESS},
        {SC_OUTS, VCORE_VMCS_GUEST_RFLAGS},
        {SC_OUTS, VCORE_VMCS_GUEST_CR3},
        {SC_DB, VCORE_VMCS_VM_EXIT_INTR_INFO},
        {SC_DB, VCORE_VMCS_GUEST_DR7},
        {SC_DB, VCORE_VMCS_GUEST_RIP},
        {SC_AC, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE},
        {SC_IDT_ERR, VCORE_VMCS_IDT_VECTORING_ERROR_CODE},
        {SC_IDT_SOFT, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN},
        {SC_INJECT_GP, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD},
        {SC_INJECT_GP, VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE},
        {SC_INJECT_SOFT, VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN},
        {SC_SET_EVENTS, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL},
        {SC_SET_EVENTS, VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO},
        {SC_VMX, VCORE_VMCS_VMX_INSTRUCTION_INFO},
        {SC_VMX, VCORE_VMCS_EXIT_QUALIFICATION},
        {SC_VMCALL, VCORE_VMCS_GUEST_CS_AR_BYTES},
        {SC_CR_SET, VCORE_VMCS_CR4_READ_SHADOW},
        {SC_CR_SET, VCORE_VMCS_GUEST_IA32_EFER},
        {SC_CR_SET, VCORE_VMCS_VM_ENTRY_CONTROLS},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        vm_up();
        use_script();
        script.reason[0] = VCORE_VMX_EXIT_HLT; /* a first run builds vmcs01 */
        script.len[0] = 1;
        vcore_exit_t e = new_exit();
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        bool second;
        scenario(rows[i].sc, &second);
        vcore_x86_regs_t r = {.size = sizeof(r)};
        ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
        if (second)
            ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        if (rows[i].sc == SC_CPUID && rows[i].field == VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN) {
            script.reason[3] = VCORE_VMX_EXIT_CPUID; /* the next CPUID exit's length */
            e.u.cpuid.eax = 0;
            ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        }
        vmx_fake.fail_field = rows[i].field;
        int err = vcore_vcpu_run(vcpu, &e);
        ck_assert_msg(err != VCORE_OK, "row %zu: a failing %#x went unnoticed", i, rows[i].field);
        vmx_fake.fail_field = UINT32_MAX;
        vm_down();
    }
}
END_TEST

/* backend.h: set_state may read any valid group it is given: with CR0 and
 * EFER both given, LMA follows the new CR0, not the one the VMCS held. */
START_TEST(sync_lma_with_cr0_and_efer)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    vcore_x86_state_t st = *vcore_vcpu_model(vcpu)->u.x86;
    vcore_vcpu_state_t vs = {.arch = VCORE_ARCH_X86_64, .u.x86 = &st};
    st.sregs.cr0 = 0x11;
    st.sregs.efer = 0x500; /* stale LMA: paging is off */
    ck_assert_int_eq(ops->vcpu_set_state(vcpu, p, &vs, VCORE_X86_STATE_CR0 | VCORE_X86_STATE_EFER),
                     VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_IA32_EFER), 0x100);
    vm_down();
}
END_TEST

/* The state the backend keeps itself (not in the VMCS) round-trips, and a
 * GPR write leaves CR2 (saved next to the GPRs) alone. */
static uint64_t seen_cr2;
static void cr2_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)s;
    seen_cr2 = g->cr2;
}

START_TEST(sync_backend_kept_groups)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    use_script();
    script.hook = cr2_hook;
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    sr.cr2 = 0xc2c2c2c2ull;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(seen_cr2, 0xc2c2c2c2ull);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    for (unsigned i = 0; i < VCORE_X86_NR_GPRS; i++)
        r.gpr[i] = 0x100 + i;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(seen_cr2, 0xc2c2c2c2ull);
    /* Straight through the ops: what the backend keeps comes back as set. */
    vcore_x86_state_t in, out;
    memset(&in, 0, sizeof(in));
    in.fpu.size = sizeof(in.fpu);
    in.fpu.fcw = 0x27f;
    in.fpu.mxcsr = 0x1f80;
    in.xcr0 = 7;
    in.msrs.tsc = 0x123456789ull;
    in.sregs.cr8 = 9;
    in.dregs.size = sizeof(in.dregs);
    in.dregs.dr[3] = 0x4000;
    in.dregs.dr6 = 0xffff0ff1ull;
    in.dregs.dr7 = 0x402;
    vcore_vcpu_state_t vin = {.arch = VCORE_ARCH_X86_64, .u.x86 = &in};
    vcore_vcpu_state_t vout = {.arch = VCORE_ARCH_X86_64, .u.x86 = &out};
    uint32_t g = VCORE_X86_STATE_FPU | VCORE_X86_STATE_XCR0 | VCORE_X86_STATE_TSC | VCORE_X86_STATE_CR8 |
                 VCORE_X86_STATE_DREGS;
    ck_assert_int_eq(ops->vcpu_set_state(vcpu, p, &vin, g), VCORE_OK);
    memset(&out, 0x5a, sizeof(out));
    ck_assert_int_eq(ops->vcpu_get_state(vcpu, p, &vout, g), VCORE_OK);
    ck_assert_uint_eq(out.fpu.fcw, 0x27f);
    ck_assert_uint_eq(out.fpu.mxcsr, 0x1f80);
    ck_assert_uint_eq(out.xcr0, 7);
    ck_assert_uint_eq(out.msrs.tsc, 0x123456789ull);
    ck_assert_uint_eq(out.sregs.cr8, 9);
    ck_assert_uint_eq(out.dregs.dr[3], 0x4000);
    ck_assert_uint_eq(out.dregs.dr6, 0xffff0ff1ull);
    ck_assert_uint_eq(out.dregs.dr7, 0x402);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_DR7), 0x402);
    vm_down();
}
END_TEST

/* An event injected at an entry that fails (exit reason 33) was not
 * delivered ("VM-Entry Failures During or After Loading Guest State"): it
 * is still injected, and goes in at the next entry. */
START_TEST(events_failed_entry_keeps_injection)
{
    vm_up();
    use_script();
    script.reason[0] = 0x80000000u | 33;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(vcore_vcpu_inject_exception(vcpu, 13, true, 0x10, 0), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_FAIL_ENTRY);
    vcore_x86_events_t ev = {.size = sizeof(ev)};
    ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
    ck_assert_uint_eq(ev.exception_injected, 1);
    ck_assert_uint_eq(ev.exception_vector, 13);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], 0x80000b0du);
    ck_assert_uint_eq(script.seen_inj_err[1], 0x10);
    vm_down();
}
END_TEST

/* Software events go in with their type and instruction length ("VM-Entry
 * Controls for Event Injection"): INT3/INTO software exceptions (6), INT1 a
 * privileged software exception (5), INT n a software interrupt (4); a #BP
 * without an instruction is a hardware exception (3). */
START_TEST(events_software_event_types)
{
    static const struct {
        uint8_t exc, vec, len;
        uint32_t info;
    } rows[] = {
        {1, 3, 1, 0x80000603u}, {1, 4, 1, 0x80000604u}, {1, 1, 2, 0x80000501u},
        {1, 3, 0, 0x80000303u}, {0, 0x80, 2, 0x80000480u},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        vm_up();
        use_script();
        script.reason[0] = VCORE_VMX_EXIT_HLT;
        vcore_x86_events_t ev = {.size = sizeof(ev)};
        ck_assert_int_eq(vcore_vcpu_get_events(vcpu, &ev), VCORE_OK);
        if (rows[i].exc) {
            ev.exception_injected = 1;
            ev.exception_vector = rows[i].vec;
        } else {
            ev.interrupt_injected = 1;
            ev.interrupt_vector = rows[i].vec;
            ev.interrupt_soft = 1;
        }
        ev.soft_insn_len = rows[i].len;
        ck_assert_int_eq(vcore_vcpu_set_events(vcpu, &ev), VCORE_OK);
        vcore_exit_t e = new_exit();
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        ck_assert_uint_eq(script.seen_inj[0], rows[i].info);
        if (rows[i].len)
            ck_assert_uint_eq(vmx_fake.inj_len, rows[i].len);
        vm_down();
    }
}
END_TEST

/* A vCPU whose pages run out is refused with VCORE_ERR_NOMEM and leaves
 * nothing behind: every page given back, the processor not counted. */
START_TEST(life_vcpu_nomem_leaves_nothing)
{
    for (int fail = 1; fail <= 2; fail++) {
        vmx_fake_reset();
        host_init();
        vm = make_vm();
        long before = pages_out;
        pages_left = fail; /* 1: the MSR area, 2: the VMCS region */
        ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_ERR_NOMEM);
        vcpu = NULL;
        pages_left = 0;
        ck_assert_int_eq(pages_out, before);
        ck_assert_uint_eq(test_cpus[0].users, 0);
        ck_assert(!VMX_FAKE_CPU.in_vmx);
        vcore_vm_destroy(vm);
        vm = NULL;
        ck_assert_int_eq(pages_out, 0);
    }
}
END_TEST

/* The cache follows what the core writes through the VMCS ops: a field the
 * cache does not hold leaves the cached ones alone; the entry
 * interruption information and HOST_RSP are tracked. */
START_TEST(hwvmcs_writes_keep_the_cache_true)
{
    vm_up();
    const vcore_backend_t *ops = &vcore__backend_vmx_ops;
    void *p = vcore_vcpu_backend_priv(vcpu);
    use_script();
    script.reason[0] = VCORE_VMX_EXIT_HLT;
    script.reason[1] = VCORE_VMX_EXIT_HLT;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    uint64_t rip = 0;
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, NULL), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_read(vcpu, p, VCORE_VMCS_GUEST_RIP, &rip), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_write(vcpu, p, VCORE_VMCS_EXCEPTION_BITMAP, 0x4ffff), VCORE_OK);
    uint64_t v = 0;
    ck_assert_int_eq(ops->vmcs_read(vcpu, p, VCORE_VMCS_GUEST_RIP, &v), VCORE_OK);
    ck_assert_uint_eq(v, rip);
    /* Someone writes an injection into vmcs01 behind the events: the next
     * entry without an event clears it again. */
    ck_assert_int_eq(ops->vmcs_write(vcpu, p, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0x80000306u), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(script.seen_inj[1], 0);
    /* HOST_RSP written through the ops: the next entry puts the right one back. */
    script.reason[2] = VCORE_VMX_EXIT_HLT;
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, NULL), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_write(vcpu, p, VCORE_VMCS_HOST_RSP, 0x1234), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_RSP), vmx_fake.host_rsp);
    /* Freeing the current VMCS leaves none current: VMLAUNCH is VMfailInvalid. */
    vcore_hw_vmcs_t *v2 = NULL;
    ck_assert_int_eq(ops->vmcs_alloc(vcpu, p, false, &v2), VCORE_OK);
    ck_assert_int_eq(ops->vmcs_load(vcpu, p, v2), VCORE_OK);
    ops->vmcs_free(vcpu, p, v2);
    vcore_hw_entry_t out;
    ck_assert_int_eq(ops->vmcs_enter(vcpu, p, &out), VCORE_OK);
    ck_assert_uint_eq(out.kind, VCORE_HW_ENTRY_FAIL_INVALID);
    vm_down();
}
END_TEST


/* What one exit costs in VMCS accesses, in steady state: from the exit
 * before it (answered and completed) to the next entry. Printed as a
 * table; the ones that do not depend on the core's choices are asserted. */
static counts_t cost_at[STEPS];
static void cost_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    cost_at[s->step - 1] = counts_now();
}

START_TEST(sync_exit_costs)
{
    static const struct {
        const char *name;
        uint32_t reason;
        uint64_t qual;
        uint32_t len;
        uint64_t ecx;
        int guest_r, guest_w, info_r; /* expected, -1: printed only */
    } rows[] = {
        {"HLT", VCORE_VMX_EXIT_HLT, 0, 1, 0, 2, 1, 2},
        {"OUT", VCORE_VMX_EXIT_IO_INSTRUCTION, 0x80ull << 16, 1, 0, 2, 1, 3},
        {"IN (reply)", VCORE_VMX_EXIT_IO_INSTRUCTION, (0x60ull << 16) | 8, 1, 0, 2, 1, 3},
        {"CPUID (reply)", VCORE_VMX_EXIT_CPUID, 0, 2, 0, 2, 1, 2},
        {"RDMSR of the VMM (reply)", VCORE_VMX_EXIT_RDMSR, 0, 2, 0x40000000u, 2, 1, 2},
        {"RDMSR of the core (IA32_MISC_ENABLE)", VCORE_VMX_EXIT_RDMSR, 0, 2, 0x1a0, -1, -1, -1},
        {"VMCALL (reply)", VCORE_VMX_EXIT_VMCALL, 0, 3, 0, 3, 1, 2},
        {"MOV to CR8 (completed by the core)", VCORE_VMX_EXIT_CR_ACCESS, 8, 4, 0, -1, -1, -1},
    };
    printf("vmx: VMCS accesses per exit, completion included (guest-state R+W, exit information R):\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        vm_up();
        use_script();
        script.hook = cost_hook;
        for (int k = 0; k < 4; k++) {
            script.reason[k] = rows[i].reason;
            script.qual[k] = rows[i].qual;
            script.len[k] = rows[i].len;
        }
        vcore_x86_regs_t r = {.size = sizeof(r)};
        ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
        r.gpr[VCORE_X86_RCX] = rows[i].ecx;
        ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
        vcore_exit_t e = new_exit();
        /* Exits the core answers return only at the last step. */
        while (script.step < 3) {
            ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
            if (e.reason == VCORE_EXIT_RDMSR)
                e.u.msr.value = 0;
        }
        counts_t a = cost_at[1], b = cost_at[2];
        uint64_t gr = b.guest_r - a.guest_r, gw = b.guest_w - a.guest_w, ir = b.info_r - a.info_r;
        printf("vmx:   %-38s %2llu + %llu, %llu\n", rows[i].name, (unsigned long long)gr,
               (unsigned long long)gw, (unsigned long long)ir);
        if (rows[i].guest_r >= 0) {
            ck_assert_uint_eq(gr, (uint64_t)rows[i].guest_r);
            ck_assert_uint_eq(gw, (uint64_t)rows[i].guest_w);
            ck_assert_uint_eq(ir, (uint64_t)rows[i].info_r);
        }
        ck_assert_uint_eq(b.ctl_w - a.ctl_w, 0);
        ck_assert_uint_eq(b.host_w - a.host_w, 0);
        vm_down();
    }
}
END_TEST

/* ======================= MOV decoder, string addressing, guest walk ======================= */

START_TEST(decode_mov_forms)
{
    vcore__vmx_mov_t m;
    /* 64-bit: mov %eax,(%rbx) */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x89\x03", 2, 64, &m), VCORE_OK);
    ck_assert(m.is_write && m.size == 4 && m.reg == 0 && m.len == 2);
    /* REX.W mov 0x10(%rsp,%rcx,8),%r9  (4c 8b 4c cc 10) */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x4c\x8b\x4c\xcc\x10", 5, 64, &m), VCORE_OK);
    ck_assert(!m.is_write && m.size == 8 && m.reg == 9 && m.len == 5);
    /* 66 mov %dx,disp32  (66 89 14 25 00 00 e0 fe) */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x66\x89\x14\x25\x00\x00\xe0\xfe", 8, 64, &m),
                     VCORE_OK);
    ck_assert(m.is_write && m.size == 2 && m.reg == 2 && m.len == 8);
    /* movq $-1, 8(%rax)  (48 c7 40 08 ff ff ff ff): sign-extended */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x48\xc7\x40\x08\xff\xff\xff\xff", 8, 64, &m),
                     VCORE_OK);
    ck_assert(m.has_imm && m.imm == ~0ull && m.size == 8 && m.len == 8);
    /* mov %bh,(%rsi) without REX: BH; with REX (40 88 3e): DIL */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x88\x3e", 2, 64, &m), VCORE_OK);
    ck_assert(m.high8 && m.reg == 3);
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x40\x88\x3e", 3, 64, &m), VCORE_OK);
    ck_assert(!m.high8 && m.reg == 7);
    /* 16-bit: mov (0x1234),%ax = 8b 06 34 12; with 66: EAX */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x8b\x06\x34\x12", 4, 16, &m), VCORE_OK);
    ck_assert(m.size == 2 && m.len == 4);
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x66\x8b\x06\x34\x12", 5, 16, &m), VCORE_OK);
    ck_assert(m.size == 4 && m.len == 5);
    /* RIP-relative: mov 0x100(%rip),%eax = 8b 05 00 01 00 00 */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x8b\x05\x00\x01\x00\x00", 6, 64, &m), VCORE_OK);
    ck_assert_uint_eq(m.len, 6);
    /* Not MOV, register form, truncated: refused */
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\xa5", 1, 64, &m), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\x89\xc3", 2, 64, &m), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\xc7\x00\x01", 3, 64, &m), VCORE_ERR_UNSUPPORTED);
    ck_assert_int_eq(vcore__vmx_decode_mov((const uint8_t *)"\xc7\x08\x01\x00\x00\x00", 6, 64, &m),
                     VCORE_ERR_UNSUPPORTED); /* /1 is not MOV */
}
END_TEST

/* "Operand-Size and Address-Size Attributes": 67H flips the default. */
START_TEST(decode_address_size)
{
    ck_assert_uint_eq(vcore__vmx_decode_asize((const uint8_t *)"\xf3\x6c", 2, 64), 64);
    ck_assert_uint_eq(vcore__vmx_decode_asize((const uint8_t *)"\x67\xf3\x6c", 3, 64), 32);
    ck_assert_uint_eq(vcore__vmx_decode_asize((const uint8_t *)"\xf3\x67\x6c", 3, 32), 16);
    ck_assert_uint_eq(vcore__vmx_decode_asize((const uint8_t *)"\x6c", 1, 32), 32);
    ck_assert_uint_eq(vcore__vmx_decode_asize((const uint8_t *)"\x6c", 1, 16), 16);
    ck_assert_uint_eq(vcore__vmx_decode_asize((const uint8_t *)"\x67\x6c", 2, 16), 32);
    /* A prefix after the opcode is not a prefix. */
    ck_assert_uint_eq(vcore__vmx_decode_asize((const uint8_t *)"\x6c\x67", 2, 64), 64);
}
END_TEST

START_TEST(guest_step_address_sizes)
{
    ck_assert_uint_eq(vcore__x86_str_step(0xffffffffffffffffull, 1, 64), 0);
    ck_assert_uint_eq(vcore__x86_str_step(0x12345678ffffffffull, 1, 32), 0);
    ck_assert_uint_eq(vcore__x86_str_step(0x1234567800000000ull, (uint64_t)-2, 32), 0xfffffffeull);
    ck_assert_uint_eq(vcore__x86_str_step(0x123456780001ffffull, 1, 16), 0x1234567800010000ull);
    ck_assert_uint_eq(vcore__x86_str_step(0x0000000000010000ull, (uint64_t)-1, 16), 0x1ffffull);
}
END_TEST

START_TEST(guest_walk)
{
    vm_up();
    vcore_x86_sregs_t sr = {.size = sizeof(sr)};
    ck_assert_int_eq(vcore_vcpu_get_sregs(vcpu, &sr), VCORE_OK);
    uint64_t gpa;
    ck_assert_int_eq(vcore__vmx_guest_translate(vm, &sr, 0x345678, &gpa), VCORE_OK);
    ck_assert_uint_eq(gpa, 0x345678);
    /* A 4 KiB mapping: PD[511] -> PT at 4000H, PT[3] -> 0x5000. */
    uint64_t *pd = (uint64_t *)(void *)(ram + 0x3000), *pt = (uint64_t *)(void *)(ram + 0x4000);
    pd[511] = 0x4000 | 3;
    pt[3] = 0x5000 | 3;
    ck_assert_int_eq(vcore__vmx_guest_translate(vm, &sr, 0x3fe03abcull, &gpa), VCORE_OK);
    ck_assert_uint_eq(gpa, 0x5abc);
    ck_assert_int_eq(vcore__vmx_guest_translate(vm, &sr, 0x3fe04000ull, &gpa), VCORE_ERR_FAULT);
    ck_assert_int_eq(vcore__vmx_guest_translate(vm, &sr, 0x40000000ull, &gpa), VCORE_ERR_FAULT);
    sr.cr0 &= ~(1ull << 31);
    ck_assert_int_eq(vcore__vmx_guest_translate(vm, &sr, 0x1234, &gpa), VCORE_OK);
    ck_assert_uint_eq(gpa, 0x1234);
    vm_down();
}
END_TEST

/* ======================= the fake itself is strict ======================= */

START_TEST(fake_rules)
{
    vmx_fake_reset();
    static uint8_t pages[3][4096] __attribute__((aligned(4096)));
    uint32_t rev = 0x2b;
    memcpy(pages[0], &rev, 4);
    memcpy(pages[1], &rev, 4);
    VMX_FAKE_CPU.cr4 |= 1u << 13;
    uint64_t on = (uint64_t)(uintptr_t)pages[0], vmcs = (uint64_t)(uintptr_t)pages[1];
    uint64_t bad = (uint64_t)(uintptr_t)pages[2];
    ck_assert_uint_eq(vcore__vmx_on(on + 8).kind, VCORE__VMX_FAIL_INVALID);
    ck_assert_uint_eq(vcore__vmx_on(on).kind, VCORE__VMX_SUCCEED);
    ck_assert_uint_eq(vcore__vmx_on(on).kind, VCORE__VMX_FAIL_INVALID); /* no current VMCS */
    uint64_t v;
    ck_assert_uint_eq(vcore__vmx_read(VCORE_VMCS_GUEST_RIP, &v).kind, VCORE__VMX_FAIL_INVALID);
    vcore__vmx_rc_t rc = vcore__vmx_clear(on);
    ck_assert_uint_eq(rc.kind, VCORE__VMX_FAIL_INVALID);
    ck_assert_uint_eq(vcore__vmx_clear(vmcs).kind, VCORE__VMX_SUCCEED);
    ck_assert_uint_eq(vcore__vmx_ptrld(vmcs).kind, VCORE__VMX_SUCCEED);
    rc = vcore__vmx_ptrld(bad); /* revision 0 */
    ck_assert_uint_eq(rc.kind, VCORE__VMX_FAIL_VALID);
    ck_assert_uint_eq(rc.error, VCORE_VMXERR_VMPTRLD_BAD_REVISION);
    /* "VMWRITE": a read-only field is VMfailValid(13) unless IA32_VMX_MISC[29]. */
    ck_assert_uint_eq(vcore__vmx_write(VCORE_VMCS_VM_EXIT_REASON, 1).kind, VCORE__VMX_SUCCEED);
    vmx_fake_set_msr(0x485, 0x00000000600401e0ull & ~(1ull << 29));
    rc = vcore__vmx_write(VCORE_VMCS_VM_EXIT_REASON, 1);
    ck_assert_uint_eq(rc.kind, VCORE__VMX_FAIL_VALID);
    ck_assert_uint_eq(rc.error, VCORE_VMXERR_VMWRITE_READ_ONLY);
    ck_assert_uint_eq(vcore__vmx_read(VCORE_VMCS_VM_INSTRUCTION_ERROR, &v).kind, VCORE__VMX_SUCCEED);
    ck_assert_uint_eq(v, 13);
    rc = vcore__vmx_on(on);
    ck_assert_uint_eq(rc.kind, VCORE__VMX_FAIL_VALID);
    ck_assert_uint_eq(rc.error, VCORE_VMXERR_VMXON_IN_ROOT);
    vcore__vmx_gprs_t g;
    memset(&g, 0, sizeof(g));
    g.launched = 1;
    rc = vcore__vmx_enter(&g);
    ck_assert_uint_eq(rc.kind, VCORE__VMX_FAIL_VALID);
    ck_assert_uint_eq(rc.error, VCORE_VMXERR_VMRESUME_NONLAUNCHED);
    g.launched = 0;
    rc = vcore__vmx_enter(&g); /* all-zero controls */
    ck_assert_uint_eq(rc.error, VCORE_VMXERR_ENTRY_INVALID_CONTROL);
    ck_assert_uint_eq(vcore__vmx_clear(vmcs).kind, VCORE__VMX_SUCCEED);
    ck_assert_uint_eq(vcore__vmx_off().kind, VCORE__VMX_SUCCEED);
}
END_TEST

static Suite *vmx_suite(void)
{
    Suite *s = suite_create("vmx");
    TCase *t = tcase_create("caps");
    tcase_add_test(t, caps_adjust_required_optional);
    tcase_add_test(t, caps_true_msrs_used);
    tcase_add_test(t, caps_missing_vmx);
    tcase_add_test(t, caps_no_ept_is_unsupported);
    tcase_add_test(t, caps_cr0_forced);
    tcase_add_test(t, caps_op_reports_msrs);
    suite_add_tcase(s, t);
    t = tcase_create("life");
    tcase_add_test(t, life_vmxon_and_vmcs);
    tcase_add_test(t, life_embedder_owns_vmx);
    tcase_add_test(t, life_cr0_not_fixed);
    tcase_add_test(t, life_nomem);
    tcase_add_test(t, life_host_needs_cpu_storage);
    tcase_add_test(t, life_root_per_cpu_refcounted);
    tcase_add_test(t, life_vcpu_nomem_leaves_nothing);
    suite_add_tcase(s, t);
    t = tcase_create("vmcs01");
    tcase_add_test(t, vmcs01_built_from_model);
    tcase_add_test(t, vmcs01_host_state_rewritten_on_change);
    tcase_add_test(t, vmcs01_cr4_and_efer_writes_exit);
    suite_add_tcase(s, t);
    t = tcase_create("hwvmcs");
    tcase_add_test(t, hwvmcs_life_cycle);
    tcase_add_test(t, hwvmcs_shadow_link);
    tcase_add_test(t, hwvmcs_switch_keeps_vmcs01_cache);
    tcase_add_test(t, hwvmcs_writes_keep_the_cache_true);
    suite_add_tcase(s, t);
    t = tcase_create("ept");
    tcase_add_test(t, ept_2m_4k_readonly);
    tcase_add_test(t, ept_prepare_nomem_changes_nothing);
    suite_add_tcase(s, t);
    t = tcase_create("exit");
    tcase_add_test(t, exit_cpuid_round_trip);
    tcase_add_test(t, exit_reply_must_match);
    tcase_add_test(t, exit_io);
    tcase_add_test(t, exit_string_io);
    tcase_add_test(t, exit_ins_writes_guest_memory);
    tcase_add_test(t, exit_ins_direction_address_size_es);
    tcase_add_test(t, exit_ins_16bit_wraps_di);
    tcase_add_test(t, exit_vmcall_msr_hlt);
    tcase_add_test(t, exit_exceptions_and_events);
    tcase_add_test(t, exit_host_nmi_and_machine_check);
    tcase_add_test(t, exit_entry_failure_and_vmfail);
    tcase_add_test(t, exit_mmio);
    tcase_add_test(t, exit_ept_not_the_instructions_access);
    tcase_add_test(t, exit_mmio_undecodable);
    tcase_add_test(t, exit_cr_access_completed_by_core);
    tcase_add_test(t, exit_cr_access_decoded);
    tcase_add_test(t, exit_cr_writes_checked);
    tcase_add_test(t, exit_efer_write_checked);
    tcase_add_test(t, exit_skip_ends_blocking);
    tcase_add_test(t, exit_vmx_insn_reported);
    tcase_add_test(t, exit_raw_reasons_above_63);
    tcase_add_test(t, exit_mmio_code_size);
    tcase_add_test(t, exit_mmio_rip_above_4g_and_rsp);
    tcase_add_test(t, exit_string_io_decoded_address_size);
    tcase_add_test(t, exit_outs_fs_above_4g);
    tcase_add_test(t, exit_ins_compat_wraps_4g);
    tcase_add_test(t, exit_rep_rcx_64bit);
    tcase_add_test(t, exit_outs_reads_exactly);
    tcase_add_test(t, exit_vmcall_legacy_mode);
    tcase_add_test(t, exit_skip_rip_width);
    tcase_add_test(t, exit_exception_details);
    tcase_add_test(t, exit_vmread_memory_operand);
    tcase_add_test(t, failures_reach_the_caller);
    suite_add_tcase(s, t);
    t = tcase_create("events");
    tcase_add_test(t, events_inject_exception_error_code);
    tcase_add_test(t, events_interrupt_waits_for_window);
    tcase_add_test(t, events_nmi_blocking_and_window);
    tcase_add_test(t, events_vmm_window_reported);
    tcase_add_test(t, events_idt_vectoring_reinjected);
    tcase_add_test(t, events_interruptibility_mapping);
    tcase_add_test(t, events_blocking_read_back);
    tcase_add_test(t, events_failed_entry_keeps_injection);
    tcase_add_test(t, events_software_event_types);
    suite_add_tcase(s, t);
    t = tcase_create("sync");
    tcase_add_test(t, sync_lazy_reads_and_writes);
    tcase_add_test(t, sync_get_writes_only_the_groups_asked);
    tcase_add_test(t, sync_lma_follows_cr0_pg);
    tcase_add_test(t, sync_msr_lists);
    tcase_add_test(t, sync_tsc_offset);
    tcase_add_test(t, hwvmcs_msr_lists_for_l2);
    tcase_add_test(t, sync_pae_pdptes_loaded);
    tcase_add_test(t, sync_lma_with_cr0_and_efer);
    tcase_add_test(t, sync_backend_kept_groups);
    tcase_add_test(t, sync_nested_vmread_cost);
    tcase_add_test(t, sync_exit_costs);
    suite_add_tcase(s, t);
    t = tcase_create("decode");
    tcase_add_test(t, decode_mov_forms);
    tcase_add_test(t, decode_address_size);
    tcase_add_test(t, guest_step_address_sizes);
    tcase_add_test(t, guest_walk);
    tcase_add_test(t, fake_rules);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(vmx_suite());
}
