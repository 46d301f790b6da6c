/*
 * The vmx backend's pure C logic against the strict fake of its primitives:
 * capability probing and control adjustment, VMX operation and VMCS life
 * cycle, vmcs01 construction, the EPT builder, exit decoding and reply
 * completion, lazy register sync, MOV decoding and the guest page walk.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-vmx/vmx.h"
#include "support.h"
#include "vmx_fake.h"

extern const vcore_backend_t vcore__backend_vmx_ops;

static void *amem(size_t align, size_t len)
{
    void *p = NULL;
    ck_assert_int_eq(posix_memalign(&p, align, len), 0);
    return p;
}

/* ---- environment: one VM, one vCPU, 4 MiB of RAM at GPA 0, 64-bit guest ---- */

#define RAM_SIZE (4u << 20)
#define GCODE 0x10000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static uint8_t *ram;
static vcore_host_t host;
static int pages_left; /* > 0: alloc_pages fails after this many calls */

static void *test_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    if (pages_left > 0 && --pages_left == 0)
        return NULL;
    return vcore_host_default()->alloc_pages(ctx, count, phys);
}

static void set_cpuid(vcore_vcpu_t *v)
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
    /* FPU PSE TSC MSR PAE CX8 APIC SEP PGE CMOV PAT FXSR SSE SSE2 */
    t[1].edx = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9) |
               (1u << 11) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 24) | (1u << 25) | (1u << 26);
    t[2].function = 0x80000000u;
    t[2].eax = 0x80000008u;
    t[3].function = 0x80000001u;
    t[3].edx = (1u << 11) | (1u << 20) | (1u << 29); /* SYSCALL NX LM */
    t[4].function = 0x80000008u;
    t[4].eax = 0x3028; /* 40 physical, 48 linear address bits */
    ck_assert_int_eq(vcore_vcpu_set_cpuid(v, t, 5), VCORE_OK);
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

static void vm_up(void)
{
    vmx_fake_reset();
    host = *vcore_host_default();
    host.alloc_pages = test_alloc_pages;
    pages_left = 0;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ram = amem(2u << 20, RAM_SIZE);
    ck_assert_ptr_nonnull(ram);
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

/* ---- guest scripts ---- */

typedef struct script {
    uint32_t step;
    uint64_t seen_rip[8];
    uint64_t seen_rax[8];
    uint32_t reason[8];
    uint64_t qual[8];
    uint32_t len[8];
    uint64_t gpa[8];
    uint32_t intr[8];
    void (*hook)(struct script *s, vcore__vmx_gprs_t *g);
} script_t;

static void script_guest(vmx_fake_t *f, vcore__vmx_gprs_t *g, void *arg)
{
    script_t *s = arg;
    (void)f;
    ck_assert_uint_lt(s->step, 8);
    uint32_t i = s->step++;
    s->seen_rip[i] = vmx_fake_get(VCORE_VMCS_GUEST_RIP);
    s->seen_rax[i] = g->gpr[VCORE_X86_RAX];
    if (s->hook)
        s->hook(s, g);
    if (s->gpa[i])
        vmx_fake_set(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, s->gpa[i]);
    if (s->intr[i])
        vmx_fake_set(VCORE_VMCS_VM_EXIT_INTR_INFO, s->intr[i]);
    vmx_fake_exit(s->reason[i], s->qual[i], s->len[i]);
}

static script_t script;

static void use_script(void)
{
    memset(&script, 0, sizeof(script));
    vmx_fake.guest = script_guest;
    vmx_fake.guest_arg = &script;
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
    ck_assert(ctls.proc2 & VCORE__PROC2_UNRESTRICTED);
    ck_assert(ctls.exit & VCORE__EXIT_HOST_64);
    ck_assert(ctls.pin & VCORE__PIN_EXT_INTR);
    /* Without BASIC bit 55 the default1 controls stay 1. */
    vmx_fake_set_msr(0x480, 0x00d810000000002bull & ~(1ull << 55));
    ck_assert_int_eq(vcore__vmx_caps_read(&caps), VCORE_OK);
    ck_assert_uint_eq(caps.proc, 0xf7f9fffe0401e172ull);
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
    vmx_fake_set_msr(0x48c, 0x00000f0106334141ull & ~VCORE__EPTCAP_WB);
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

/* ======================= VMX operation, VMCS life cycle ======================= */

START_TEST(life_vmxon_and_vmcs)
{
    vm_up();
    ck_assert_uint_eq(vmx_fake.n_vmxon, 1);
    ck_assert(vmx_fake.in_vmx);
    ck_assert(vmx_fake.cr4 & (1u << 13));
    vcore__vmx_vcpu_t *c = vcore_vcpu_backend_priv(vcpu);
    ck_assert_ptr_nonnull(c->vmcs);
    ck_assert_uint_eq((uintptr_t)c->vmcs & 0xfffu, 0);
    ck_assert_uint_eq(c->vmcs_pa, (uint64_t)(uintptr_t)c->vmcs);
    uint32_t rev;
    memcpy(&rev, c->vmcs, 4);
    ck_assert_uint_eq(rev, 0x2b);
    ck_assert_ptr_eq(vmx_fake_vmcs_at(c->vmcs_pa), &vmx_fake.vmcs[vmx_fake.current]);
    vm_down();
    ck_assert(!vmx_fake.in_vmx);
    ck_assert_uint_eq(vmx_fake.n_vmxoff, 1);
    ck_assert_uint_eq(vmx_fake.cr4 & (1u << 13), 0);
}
END_TEST

START_TEST(life_embedder_owns_vmx)
{
    vmx_fake_reset();
    /* The embedder is already in VMX operation. */
    static uint8_t region[8192] __attribute__((aligned(4096)));
    uint32_t rev = 0x2b;
    memcpy(region, &rev, 4);
    vmx_fake.cr4 |= 1u << 13;
    vmx_fake.host.cr4 = vmx_fake.cr4;
    ck_assert_uint_eq(vcore__vmx_on((uint64_t)(uintptr_t)region).kind, VCORE__VMX_SUCCEED);
    host = *vcore_host_default();
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    ck_assert_uint_eq(vmx_fake.n_vmxon, 2); /* tried, VMfailInvalid: someone owns it */
    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
    vcpu = NULL;
    vm = NULL;
    ck_assert(vmx_fake.in_vmx); /* not ours to turn off */
    ck_assert_uint_eq(vmx_fake.n_vmxoff, 0);
    ck_assert(vmx_fake.cr4 & (1u << 13));
}
END_TEST

START_TEST(life_cr0_not_fixed)
{
    vmx_fake_reset();
    vmx_fake.cr0 &= ~(1ull << 5); /* CR0.NE clear: VMXON would #GP */
    host = *vcore_host_default();
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_ERR_STATE);
    vcpu = NULL;
    ck_assert_uint_eq(vmx_fake.n_vmxon, 0);
    vcore_vm_destroy(vm);
    vm = NULL;
}
END_TEST

START_TEST(life_nomem)
{
    vmx_fake_reset();
    host = *vcore_host_default();
    host.alloc_pages = test_alloc_pages;
    pages_left = 2; /* EPT root works, MSR bitmap fails */
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_vmx_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_ERR_NOMEM);
    vm = NULL;
}
END_TEST

/* ======================= vmcs01 ======================= */

START_TEST(vmcs01_built_from_model)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE__EXIT_HLT;
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
    /* CR0: the guest's value plus the bits VMX forces; the shadow shows the guest's. */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR0), 0x80000031ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR0_READ_SHADOW), 0x80000031ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR4), 0x2020ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_CR4_READ_SHADOW), 0x20ull);
    ck_assert(vmx_fake_get(VCORE_VMCS_VM_ENTRY_CONTROLS) & VCORE__ENTRY_IA32E);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CS_AR_BYTES), 0xa09b);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_LDTR_AR_BYTES), 0x10000);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_TR_SELECTOR), 0x18);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_GS_BASE), 0xffff888000000000ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_HOST_IA32_SYSENTER_EIP), 0xffff800000002000ull);
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_EXCEPTION_BITMAP), VCORE__VMX_EXC_BITMAP);
    vm_down();
}
END_TEST

START_TEST(vmcs01_host_state_rewritten_on_change)
{
    vm_up();
    use_script();
    script.reason[0] = script.reason[1] = script.reason[2] = VCORE__EXIT_HLT;
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
    script.reason[0] = VCORE__EXIT_HLT;
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
        script.reason[i] = VCORE__EXIT_CPUID;
        script.len[i] = 2;
    }
    script.reason[4] = VCORE__EXIT_HLT;
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
        e.u.cpuid.eax = 0xa0u + (uint32_t)i;
        e.u.cpuid.ebx = 0xb0;
        e.u.cpuid.ecx = 0xc0;
        e.u.cpuid.edx = 0xd0;
        ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
        vmx_fake_counts(&reads, &writes);
        ck_assert_uint_eq(script.seen_rip[i + 1], GCODE + 2u * (uint64_t)(i + 1));
        ck_assert_uint_eq(script.seen_rax[i + 1], 0xa0u + (uint32_t)i);
    }
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    /* One CPUID round trip: VMREAD exit reason, instruction length, guest RIP;
     * VMWRITE guest RIP. This is the baseline for the write-avoidance work. */
    printf("vmx: CPUID exit round trip: %llu VMREAD, %llu VMWRITE\n", (unsigned long long)reads,
           (unsigned long long)writes);
    ck_assert_uint_eq(reads, 3);
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
    script.reason[0] = VCORE__EXIT_CPUID;
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
    script.reason[0] = VCORE__EXIT_IO;
    script.qual[0] = (0x3f8ull << 16) | 0;
    script.len[0] = 1;
    /* IN EAX, DX (port 0x71): size 4, IN. */
    script.reason[1] = VCORE__EXIT_IO;
    script.qual[1] = (0x71ull << 16) | 8 | 3;
    script.len[1] = 1;
    /* IN AL, 0x60 */
    script.reason[2] = VCORE__EXIT_IO;
    script.qual[2] = (0x60ull << 16) | 8 | 0;
    script.len[2] = 2;
    script.reason[3] = VCORE__EXIT_HLT;
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

static void outs_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    if (s->step == 1)
        vmx_fake_set(VCORE_VMCS_GUEST_LINEAR_ADDRESS, 0x20000);
}

START_TEST(exit_string_io)
{
    vm_up();
    use_script();
    script.hook = outs_hook;
    memcpy(ram + 0x20000, "abcdefgh", 8);
    /* REP OUTSW to port 0x500: size 2, string, REP. */
    script.reason[0] = VCORE__EXIT_IO;
    script.qual[0] = (0x500ull << 16) | 0x20 | 0x10 | 1;
    script.len[0] = 3;
    /* REP INSB from port 0x501. */
    script.reason[1] = VCORE__EXIT_IO;
    script.qual[1] = (0x501ull << 16) | 0x20 | 0x10 | 0x8;
    script.len[1] = 2;
    script.reason[2] = VCORE__EXIT_HLT;
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
    script.reason[0] = VCORE__EXIT_IO;
    script.qual[0] = (0x501ull << 16) | 0x20 | 0x10 | 0x8; /* REP INSB */
    script.len[0] = 2;
    script.reason[1] = VCORE__EXIT_HLT;
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.gpr[VCORE_X86_RCX] = 4;
    r.gpr[VCORE_X86_RDI] = 0x30000;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.u.io.count, 4);
    ck_assert(e.flags & VCORE_EXIT_F_NEEDS_REPLY);
    memcpy(e.u.io.data, "WXYZ", 4);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_mem_eq(ram + 0x30000, "WXYZ", 4);
    ck_assert_uint_eq(script.seen_rip[1], GCODE + 2);
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RDI], 0x30004);
    ck_assert_uint_eq(r.gpr[VCORE_X86_RCX], 0);
    vm_down();
}
END_TEST

START_TEST(exit_vmcall_msr_hlt)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE__EXIT_VMCALL;
    script.len[0] = 3;
    script.reason[1] = VCORE__EXIT_RDMSR;
    script.len[1] = 2;
    script.reason[2] = VCORE__EXIT_WRMSR;
    script.len[2] = 2;
    script.reason[3] = VCORE__EXIT_RDMSR; /* answered with an error: #GP */
    script.len[3] = 2;
    script.reason[4] = VCORE__EXIT_HLT;
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
    /* #GP(0) injected, RIP not advanced ("VM-Entry Controls for Event Injection"). */
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0x80000b0dull);
    ck_assert_uint_eq(script.seen_rip[4], rip_before);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    vm_down();
}
END_TEST

START_TEST(exit_exceptions_and_events)
{
    vm_up();
    use_script();
    script.reason[0] = VCORE__EXIT_EXCEPTION_NMI;
    script.intr[0] = 0x80000000u | (3u << 8) | 6; /* #UD, hardware exception */
    script.reason[1] = VCORE__EXIT_EXCEPTION_NMI;
    script.intr[1] = 0x80000000u | (3u << 8) | (1u << 11) | 17; /* #AC with error code */
    script.reason[2] = VCORE__EXIT_EXCEPTION_NMI;
    script.intr[2] = 0x80000000u | (6u << 8) | 3; /* #BP (software exception) */
    script.reason[3] = VCORE__EXIT_TRIPLE_FAULT;
    script.reason[4] = VCORE__EXIT_EXTERNAL_INTR;
    script.reason[5] = 55; /* XSETBV: not decoded */
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_EXCEPTION);
    ck_assert_uint_eq(e.u.exception.vector, 6);
    ck_assert_uint_eq(e.u.exception.has_error_code, 0);
    ck_assert_uint_eq(e.raw.data[1], 0x80000306u);
    vmx_fake.vmcs[vmx_fake.current].data[0] = vmx_fake.vmcs[vmx_fake.current].data[0];
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
    script.reason[2] = VCORE__EXIT_HLT;
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
    vmx_fake_set_msr(0x48d, 0x0000007f0000001eull); /* NMI exiting now must be 1 */
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HW_ERROR);
    ck_assert_int_eq(e.u.hw_error.kind, 2);
    ck_assert_uint_eq(e.u.hw_error.instr_error, 7);
    vm_down();
}
END_TEST

static void mmio_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    (void)s;
}

START_TEST(exit_mmio)
{
    vm_up();
    use_script();
    script.hook = mmio_hook;
    /* mov %eax,(%rbx) ; mov 8(%rbx),%rcx ; movb $0x5a,(%rbx) ; mov %ah,(%rbx) */
    static const uint8_t code[] = {0x89, 0x03, 0x48, 0x8b, 0x4b, 0x08, 0xc6, 0x03, 0x5a, 0x88, 0x23};
    memcpy(ram + GCODE, code, sizeof(code));
    for (int i = 0; i < 4; i++) {
        script.reason[i] = VCORE__EXIT_EPT_VIOLATION;
        script.gpa[i] = 0xfee00000ull + (i == 1 ? 8u : 0u);
        script.qual[i] = i == 1 ? 0x1 : 0x2; /* read / write */
    }
    script.reason[4] = VCORE__EXIT_HLT;
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
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
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

START_TEST(exit_mmio_undecodable)
{
    vm_up();
    use_script();
    static const uint8_t code[] = {0xa5}; /* MOVSD: not decoded */
    memcpy(ram + GCODE, code, sizeof(code));
    script.reason[0] = VCORE__EXIT_EPT_VIOLATION;
    script.gpa[0] = 0xfee00000ull;
    script.qual[0] = 0x2;
    vcore_exit_t e = new_exit();
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_INTERNAL_ERROR);
    ck_assert_uint_eq(e.u.internal.data[0], 0xfee00000ull);
    ck_assert_uint_eq(e.raw.reason, 48);
    vm_down();
}
END_TEST

START_TEST(exit_cr_access_handled)
{
    vm_up();
    use_script();
    /* MOV %rax, %cr8 then MOV %cr8, %rdx, then MOV %rbx, %cr0 (clears NE: masked). */
    script.reason[0] = VCORE__EXIT_CR_ACCESS;
    script.qual[0] = 8 | (0u << 4) | (0u << 8);
    script.len[0] = 4;
    script.reason[1] = VCORE__EXIT_CR_ACCESS;
    script.qual[1] = 8 | (1u << 4) | (2u << 8);
    script.len[1] = 4;
    script.reason[2] = VCORE__EXIT_CR_ACCESS;
    script.qual[2] = 0 | (0u << 4) | (3u << 8);
    script.len[2] = 3;
    script.reason[3] = VCORE__EXIT_HLT;
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
    ck_assert_uint_eq(vmx_fake_get(VCORE_VMCS_GUEST_CR0), 0x80000031ull); /* NE still forced */
    vm_down();
}
END_TEST

/* ======================= lazy register sync ======================= */

START_TEST(sync_lazy_reads_and_writes)
{
    vm_up();
    use_script();
    for (int i = 0; i < 4; i++)
        script.reason[i] = VCORE__EXIT_HLT, script.len[i] = 1;
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
    ck_assert_uint_eq(rd, 8 * 4 + 4 + 4); /* segments, tables, CR0/3/4, EFER */
    ck_assert_uint_eq(sr.cr0, 0x80000031ull);
    ck_assert_uint_eq(sr.cr4, 0x20ull);
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

static void msr_store_hook(script_t *s, vcore__vmx_gprs_t *g)
{
    (void)g;
    /* The "processor": entry loaded the guest list, exit stores it back. */
    const vcore__vmx_msr_entry_t *guest =
        (const void *)(uintptr_t)vmx_fake_get(VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR);
    vcore__vmx_msr_entry_t *store = (void *)(uintptr_t)vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR);
    const vcore__vmx_msr_entry_t *hostl =
        (const void *)(uintptr_t)vmx_fake_get(VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR);
    s->seen_rax[7] = guest[1].value;   /* LSTAR the guest ran with */
    s->qual[7] = hostl[1].value;       /* LSTAR the host gets back */
    store[1].value = 0xffffffff80001234ull; /* the guest wrote LSTAR */
}

START_TEST(sync_msr_lists)
{
    vm_up();
    use_script();
    script.hook = msr_store_hook;
    script.reason[0] = VCORE__EXIT_HLT;
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

/* ======================= MOV decoder, guest walk ======================= */

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
    vmx_fake.cr4 |= 1u << 13;
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
    suite_add_tcase(s, t);
    t = tcase_create("life");
    tcase_add_test(t, life_vmxon_and_vmcs);
    tcase_add_test(t, life_embedder_owns_vmx);
    tcase_add_test(t, life_cr0_not_fixed);
    tcase_add_test(t, life_nomem);
    suite_add_tcase(s, t);
    t = tcase_create("vmcs01");
    tcase_add_test(t, vmcs01_built_from_model);
    tcase_add_test(t, vmcs01_host_state_rewritten_on_change);
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
    tcase_add_test(t, exit_vmcall_msr_hlt);
    tcase_add_test(t, exit_exceptions_and_events);
    tcase_add_test(t, exit_entry_failure_and_vmfail);
    tcase_add_test(t, exit_mmio);
    tcase_add_test(t, exit_mmio_undecodable);
    tcase_add_test(t, exit_cr_access_handled);
    suite_add_tcase(s, t);
    t = tcase_create("sync");
    tcase_add_test(t, sync_lazy_reads_and_writes);
    tcase_add_test(t, sync_msr_lists);
    suite_add_tcase(s, t);
    t = tcase_create("decode");
    tcase_add_test(t, decode_mov_forms);
    tcase_add_test(t, guest_walk);
    tcase_add_test(t, fake_rules);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return vcore_test_run(vmx_suite());
}
