/*
 * Nested SVM on the svm backend against the strict fake of its primitives:
 * L1's VMRUN decoded into the core's dispatch, vmcb02 run as a VMCB of its
 * own (own page, ASID, permission maps; nested paging on the VM's table or
 * a shadow table), its #VMEXIT reflected to L1, and L2's exits answered by
 * the VMM completed in vmcb02. The fake enforces the SVM protocol, the
 * VMRUN consistency checks and the clean-bit rule on every VMRUN.
 *
 * Expected values: AMD APM Vol. 2 "VMRUN Instruction", "#VMEXIT", "VMCB
 * Clean Field", "TLB Control", "Nested Paging"; Vol. 3 "VMRUN".
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-svm/svm.h"
#include "support.h"
#include "svm_fake.h"

extern const vcore_backend_t vcore__backend_svm_ops;

#define RAM_SIZE (4u << 20)
#define L1_RIP 0x10000u
#define L2_RIP 0x20000u
#define VMCB12 0x30000u
#define NPT4 0x40000u
#define NPT3 0x41000u
#define NPT2 0x42000u
#define NPT1 0x43000u

static vcore_vm_t *vm;
static vcore_vcpu_t *vcpu;
static uint8_t *ram;
static vcore_host_t host;
static vcore_host_cpu_t test_cpus[SVM_FAKE_MAX_CPUS];
static uint8_t cpu_pages[SVM_FAKE_MAX_CPUS][4096] __attribute__((aligned(4096)));

static uint32_t test_cpu_index(void *ctx)
{
    (void)ctx;
    return svm_fake.this_cpu;
}

static void put(uint64_t gpa, uint64_t v, size_t n)
{
    memcpy(ram + gpa, &v, n);
}

static uint64_t get(uint64_t gpa, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, ram + gpa, n);
    return v;
}

/* ---- the guest: a script of VMRUNs, each on vmcb01 (L1) or vmcb02 (L2) ---- */

#define STEPS 16
typedef struct step {
    bool l2;          /* expected on vmcb02 */
    uint64_t code, i1, i2;
    uint32_t len;     /* nRIP = RIP + len */
    uint64_t rip;     /* RIP the guest is at when it exits (0: where VMRUN put it) */
    bool set_ax_cx;   /* the guest leaves rax, rcx in RAX, RCX (an instruction's operands) */
    uint64_t rax, rcx;
} step_t;

static struct {
    step_t s[STEPS];
    uint32_t n, at;
    uint64_t vmcb01_pa;
    /* what each VMRUN saw */
    uint64_t rip[STEPS], rax[STEPS], rbx[STEPS], ncr3[STEPS], fs_base[STEPS], tsc_offset[STEPS];
    uint32_t asid[STEPS], clean[STEPS], misc1[STEPS];
    uint8_t tlb[STEPS];
} g;

static void guest(svm_fake_t *f, vcore_vmcb_t *v, vcore__svm_gprs_t *gp, void *arg)
{
    (void)arg;
    ck_assert_uint_lt(g.at, g.n);
    uint32_t i = g.at++;
    const step_t *s = &g.s[i];
    bool on02 = (uint64_t)(uintptr_t)v != g.vmcb01_pa;
    ck_assert_msg(on02 == s->l2, "step %u ran on %s", i, on02 ? "vmcb02" : "vmcb01");
    g.rip[i] = v->save.rip;
    g.rax[i] = v->save.rax;
    g.rbx[i] = gp->gpr[VCORE_X86_RBX];
    g.ncr3[i] = v->control.n_cr3;
    g.fs_base[i] = f->cpu[f->this_cpu].ls.fs.base;
    g.asid[i] = v->control.asid;
    g.clean[i] = f->clean;
    g.tlb[i] = f->tlb_control;
    g.misc1[i] = v->control.intercept[3];
    g.tsc_offset[i] = v->control.tsc_offset;
    if (s->rip)
        v->save.rip = s->rip;
    if (s->set_ax_cx) {
        v->save.rax = s->rax;
        gp->gpr[VCORE_X86_RCX] = s->rcx;
    }
    svm_fake_exit(s->code, s->i1, s->i2, s->len ? v->save.rip + s->len : 0);
}

static void step(bool l2, uint64_t code, uint32_t len)
{
    ck_assert_uint_lt(g.n, STEPS);
    g.s[g.n++] = (step_t){.l2 = l2, .code = code, .len = len};
}

/* An AMD L1 with SVM in its CPUID, 64-bit, EFER.SVME set, at L1_RIP with RAX = VMCB12. */
static void vm_up(void)
{
    svm_fake_reset();
    memset(&g, 0, sizeof(g));
    host = *vcore_host_default();
    memset(test_cpus, 0, sizeof(test_cpus));
    for (unsigned i = 0; i < SVM_FAKE_MAX_CPUS; i++) {
        test_cpus[i].page = cpu_pages[i];
        test_cpus[i].page_phys = (uint64_t)(uintptr_t)cpu_pages[i];
    }
    host.cpu_index = test_cpu_index;
    host.cpus = test_cpus;
    host.ncpus = SVM_FAKE_MAX_CPUS;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_svm_ops;
    cfg.host = &host;
    ck_assert_int_eq(vcore_vm_create(&cfg, &vm), VCORE_OK);
    ck_assert_int_eq(posix_memalign((void **)&ram, 2u << 20, RAM_SIZE), 0);
    memset(ram, 0, RAM_SIZE);
    vcore_mem_region_t r = {sizeof(r), 0, RAM_SIZE, ram, 0};
    ck_assert_int_eq(vcore_vm_map_memory(vm, &r), VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.vendor = VCORE_X86_VENDOR_AMD;
    vc.nested = VCORE_NESTED_SVM;
    ck_assert_int_eq(vcore_vcpu_create(vm, &vc, &vcpu), VCORE_OK);
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x68747541, .ecx = 0x444d4163, .edx = 0x69746e65},
        {.function = 1, .eax = 0x800f11, .edx = 0x178bfbff},
        {.function = 0x80000000, .eax = 0x8000000a},
        {.function = 0x80000001, .ecx = (1u << 2), .edx = (1u << 29) | (1u << 20) | (1u << 11)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    ck_assert_int_eq(vcore_vcpu_set_cpuid(vcpu, c, 5), VCORE_OK);
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
    sr.seg[VCORE_X86_FS].base = 0xf5000;
    sr.cr0 = 0x80000031ull;
    sr.cr3 = 0x1000;
    sr.cr4 = 0x20;
    sr.efer = 0x1500;
    ck_assert_int_eq(vcore_vcpu_set_sregs(vcpu, &sr), VCORE_OK);
    vcore_x86_regs_t rr = {.size = sizeof(rr)};
    rr.rip = L1_RIP;
    rr.rflags = 2;
    rr.gpr[VCORE_X86_RSP] = 0x3ff000;
    rr.gpr[VCORE_X86_RAX] = VMCB12;
    rr.gpr[VCORE_X86_RBX] = 0xb1;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &rr), VCORE_OK);
    put(0x1000, 0x2003, 8);
    put(0x2000, 0x3003, 8);
    for (uint64_t i = 0; i < 512; i++)
        put(0x3000 + 8 * i, (i << 21) | 0x83, 8);
    svm_fake.guest = guest;
    g.vmcb01_pa = ((vcore__svm_vcpu_t *)vcore_vcpu_backend_priv(vcpu))->vmcb_pa;
}

static void vm_down(void)
{
    vcore_vcpu_destroy(vcpu);
    vcore_vm_destroy(vm);
    free(ram);
    vcpu = NULL;
    vm = NULL;
}

/* A 64-bit L2 at L2_RIP on L1's page tables, ASID 1, with L1's intercepts. */
static void vmcb12(uint32_t misc1, bool np)
{
    memset(ram + VMCB12, 0, 4096);
    put(VMCB12 + 0x0c, misc1, 4);
    put(VMCB12 + 0x10, 1, 4); /* VMRUN intercepted */
    put(VMCB12 + 0x58, 1, 4);
    put(VMCB12 + 0x4d0, 0x1500, 8);
    put(VMCB12 + 0x558, 0x80000031, 8);
    put(VMCB12 + 0x550, 0x1000, 8);
    put(VMCB12 + 0x548, 0x20, 8);
    put(VMCB12 + 0x568, 0xffff0ff0, 8);
    put(VMCB12 + 0x560, 0x400, 8);
    put(VMCB12 + 0x570, 2, 8);
    put(VMCB12 + 0x578, L2_RIP, 8);
    put(VMCB12 + 0x5d8, 0x8000, 8);
    put(VMCB12 + 0x5f8, 0x1234, 8);
    put(VMCB12 + 0x410, 8, 2);     /* CS selector */
    put(VMCB12 + 0x412, 0xa9b, 2); /* CS attributes: G L P S code */
    put(VMCB12 + 0x414, 0xffffffff, 4);
    put(VMCB12 + 0x420, 0x10, 2);  /* SS */
    put(VMCB12 + 0x422, 0xc93, 2);
    put(VMCB12 + 0x424, 0xffffffff, 4);
    put(VMCB12 + 0x668, 0x0007040600070406ull, 8);
    if (np) {
        put(VMCB12 + 0x90, 1, 8);
        put(VMCB12 + 0xb0, NPT4, 8);
        put(NPT4, NPT3 | 7, 8);
        put(NPT3, NPT2 | 7, 8);
        put(NPT2, NPT1 | 7, 8);
        put(NPT1 + 0x20 * 8, 0x25000 | 7, 8); /* L2 20000H (its code) -> L1 25000H */
    }
}

static vcore_exit_t run(void)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    return e;
}

/* L1 VMRUN -> L2 CPUID intercepted by L1 -> #VMEXIT -> L1 HLT. */
START_TEST(l2_cpuid_reflected_on_hardware)
{
    vm_up();
    vmcb12(1u << 18, false);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_HLT, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.at, 3);
    /* vmcb02: L2's RIP and RAX, L1's RBX (GPRs are not switched), L1's FS
     * (VMLOAD state moves with the processor), the VM's nested table, an
     * ASID of its own, L1's CPUID intercept. */
    vcore__svm_vcpu_t *c = vcore_vcpu_backend_priv(vcpu);
    vcore__svm_vm_t *v = vcore_vm_backend_priv(vm);
    ck_assert_uint_eq(g.rip[1], L2_RIP);
    ck_assert_uint_eq(g.rax[1], 0x1234);
    ck_assert_uint_eq(g.rbx[1], 0xb1);
    ck_assert_uint_eq(g.fs_base[1], 0xf5000);
    ck_assert_uint_eq(g.ncr3[1], v->npt.root_pa);
    ck_assert_uint_ne(g.asid[1], g.asid[0]);
    ck_assert_uint_ne(g.asid[1], 0);
    ck_assert_uint_ne(g.misc1[1] & (1u << 18), 0);
    /* #VMEXIT: L1 after its VMRUN with its RAX; VMCB12 has EXITCODE 72H, nRIP. */
    ck_assert_uint_eq(g.rip[2], L1_RIP + 3);
    ck_assert_uint_eq(g.rax[2], VMCB12);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x72);
    ck_assert_uint_eq(get(VMCB12 + 0xc8, 8), L2_RIP + 2);
    ck_assert_uint_eq(get(VMCB12 + 0x578, 8), L2_RIP);
    ck_assert(!vcore_nsvm_in_guest(vcore_vcpu_nsvm(vcpu)));
    /* L1's own event state and registers came back through vmcb01. */
    ck_assert_uint_eq(c->vmcb_pa, g.vmcb01_pa);
    vm_down();
}
END_TEST

/* The second VMRUN of an unchanged L2 (L1 only advances its RIP): every
 * clean bit set, no TLB flush, and L2's GPR answer from the VMM applied in
 * vmcb02 when L1 does not intercept CPUID. */
START_TEST(l2_clean_bits_and_vmm_answer)
{
    vm_up();
    vmcb12(0, false);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(true, VCORE_VMEXIT_CPUID, 2);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_ne(e.flags & VCORE_EXIT_F_L2, 0);
    e.u.cpuid.eax = 0xa;
    e.u.cpuid.ebx = 0xb;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_eq(g.rip[2], L2_RIP + 2); /* completed at nRIP */
    ck_assert_uint_eq(g.rax[2], 0xa);
    ck_assert_uint_eq(g.rbx[2], 0xb);
    ck_assert_uint_eq(g.clean[1], 0);                 /* first VMRUN with its ASID */
    ck_assert_uint_eq(g.clean[2], VCORE_VMCB_CLEAN_ALL_); /* nothing a bit covers changed */
    ck_assert_uint_eq(g.tlb[2], VCORE_VMCB_TLB_NOTHING);
    vm_down();
}
END_TEST

/* L1 gives L2 nested paging: vmcb02 runs on a shadow table; L2's fetch of
 * its code page faults there, the core maps it from L1's table and the
 * VM's (L2 20000H -> L1 25000H -> host), L2 runs again. */
START_TEST(l2_shadow_nested_table)
{
    vm_up();
    vmcb12(1u << 18, true);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    g.s[g.n++] = (step_t){.l2 = true, .code = VCORE_VMEXIT_NPF, .i1 = (1ull << 32) | 0x14, .i2 = L2_RIP};
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_HLT, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.at, 4);
    vcore__svm_vcpu_t *c = vcore_vcpu_backend_priv(vcpu);
    vcore__svm_vm_t *v = vcore_vm_backend_priv(vm);
    const struct vcore_hw_vmcb *o = &c->vmcb02[0];
    ck_assert(o->in_use);
    ck_assert_uint_eq(g.ncr3[1], o->shadow.root_pa);
    ck_assert_uint_ne(g.ncr3[1], v->npt.root_pa);
    uint64_t size = 0;
    uint64_t leaf = vcore__svm_npt_lookup(&o->shadow, &v->pool, L2_RIP, &size);
    ck_assert_uint_eq(size, 4096);
    ck_assert_uint_eq(leaf & 0x000ffffffffff000ull, (uint64_t)(uintptr_t)(ram + 0x25000));
    ck_assert_uint_eq(leaf & 7u, 7u); /* present, writable, user */
    /* The new leaf: L2's ASID is flushed before the next run ("TLB Control"). */
    ck_assert_uint_ne(g.tlb[2], VCORE_VMCB_TLB_NOTHING);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x72);
    vm_down();
}
END_TEST

/* The hardware VMCB ops refuse backend-owned fields and unnamed offsets,
 * and a write of an unchanged value costs no VMCB write. */
START_TEST(hw_vmcb_ops_strict)
{
    vm_up();
    const vcore_backend_t *be = &vcore__backend_svm_ops;
    void *priv = vcore_vcpu_backend_priv(vcpu);
    vcore__svm_vcpu_t *c = priv;
    vcore_hw_vmcb_t *h = NULL;
    uint64_t val = 0;
    ck_assert_int_eq(be->vmcb_alloc(vcpu, priv, &h), VCORE_OK);
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x0b0, 8, 0), VCORE_ERR_STATE);
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x040, 8, 0), VCORE_ERR_STATE);
    ck_assert_int_eq(be->vmcb_read(vcpu, priv, h, 0x551, 1, &val), VCORE_ERR_NOENT);
    uint64_t w = c->stats.vmcb_writes;
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x550, 8, 0), VCORE_OK);
    ck_assert_uint_eq(c->stats.vmcb_writes, w);
    ck_assert_uint_eq(h->dirty, VCORE_VMCB_CLEAN_ALL_); /* new VMCB: nothing cached */
    h->dirty = 0;
    ck_assert_int_eq(be->vmcb_write(vcpu, priv, h, 0x550, 8, 0x5000), VCORE_OK);
    ck_assert_uint_eq(c->stats.vmcb_writes, w + 1);
    ck_assert_uint_eq(h->dirty, VCORE_VMCB_CLEAN_CRX);
    ck_assert_int_eq(be->vmcb_read(vcpu, priv, h, 0x550, 8, &val), VCORE_OK);
    ck_assert_uint_eq(val, 0x5000);
    /* Not RAM of the VM: nothing to map. */
    vcore_hw_vmcb_setup_t s = {.size = sizeof(s), .npt = VCORE_HW_VMCB_NPT_SHADOW};
    ck_assert_int_eq(be->vmcb_setup(vcpu, priv, h, &s), VCORE_OK);
    ck_assert_int_eq(be->vmcb_npt_map(vcpu, priv, h, 0x1000, 0x40000000ull, 0), VCORE_ERR_NOENT);
    ck_assert_int_eq(be->vmcb_npt_map(vcpu, priv, h, 0x1000, 0x2000, 0), VCORE_OK);
    be->vmcb_free(vcpu, priv, h);
    vm_down();
}
END_TEST

/* vmcb02's permission maps keep every intercept L0 keeps for L1: with maps
 * from the core that intercept nothing, L2's OUT 80H and RDMSR of VM_CR
 * still exit (the VM's own maps intercept every port and VM_CR), while an
 * MSR L0 passes through to L1 (LSTAR) stays L1's choice, so the merge is an
 * OR and not "everything intercepted". Bit layouts: APM Vol. 2 "I/O
 * Permissions Map" (one bit per port) and "MSR Permissions Map" (two bits
 * per MSR, read then write). */
START_TEST(hw_vmcb_maps_keep_l0_intercepts)
{
    vm_up();
    const vcore_backend_t *be = &vcore__backend_svm_ops;
    void *priv = vcore_vcpu_backend_priv(vcpu);
    vcore_hw_vmcb_t *h = NULL;
    static uint8_t msrpm[VCORE_VMCB_MSRPM_SIZE], iopm[VCORE_VMCB_IOPM_SIZE];
    memset(msrpm, 0, sizeof(msrpm));
    memset(iopm, 0, sizeof(iopm));
    ck_assert_int_eq(be->vmcb_alloc(vcpu, priv, &h), VCORE_OK);
    vcore_hw_vmcb_setup_t s = {.size = sizeof(s), .npt = VCORE_HW_VMCB_NPT_SHADOW, .msrpm = msrpm, .iopm = iopm};
    ck_assert_int_eq(be->vmcb_setup(vcpu, priv, h, &s), VCORE_OK);
    ck_assert_uint_eq((h->iopm[0x80 / 8] >> (0x80 % 8)) & 1u, 1u);
    ck_assert_uint_eq((h->iopm[0xffff / 8] >> (0xffff % 8)) & 1u, 1u);
    uint32_t byte = 0, bit = 0;
    ck_assert(vcore_vmcb_msrpm_pos(0xc0010114u, &byte, &bit)); /* VM_CR */
    ck_assert_uint_eq((h->msrpm[byte] >> bit) & 3u, 3u);
    ck_assert(vcore_vmcb_msrpm_pos(0xc0000082u, &byte, &bit)); /* LSTAR */
    ck_assert_uint_eq((h->msrpm[byte] >> bit) & 3u, 0u);
    /* L1's own intercept of LSTAR reads survives the merge. */
    msrpm[byte] = (uint8_t)(1u << bit);
    ck_assert_int_eq(be->vmcb_setup(vcpu, priv, h, &s), VCORE_OK);
    ck_assert_uint_eq((h->msrpm[byte] >> bit) & 3u, 1u);
    be->vmcb_free(vcpu, priv, h);
    vm_down();
}
END_TEST

/* Without nested SVM on the vCPU, an SVM instruction stays raw for the VMM. */
START_TEST(svm_insn_raw_without_nested)
{
    svm_fake_reset();
    memset(&g, 0, sizeof(g));
    vm_up();
    vcore_vcpu_destroy(vcpu);
    ck_assert_int_eq(vcore_vcpu_create(vm, NULL, &vcpu), VCORE_OK);
    g.vmcb01_pa = ((vcore__svm_vcpu_t *)vcore_vcpu_backend_priv(vcpu))->vmcb_pa;
    step(false, VCORE_VMEXIT_VMLOAD, 3);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_RAW);
    ck_assert_uint_eq(e.raw.data[0], VCORE_VMEXIT_VMLOAD);
    vm_down();
}
END_TEST

/* With it, each SVM instruction is decoded for the core (length from nRIP). */
START_TEST(svm_insn_decoded_with_nested)
{
    vm_up();
    vmcb12(0, false);
    /* CLGI then STGI: the core completes both (RIP + 3 each), then HLT. */
    step(false, VCORE_VMEXIT_CLGI, 3);
    step(false, VCORE_VMEXIT_STGI, 3);
    step(false, VCORE_VMEXIT_HLT, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.rip[1], L1_RIP + 3);
    ck_assert_uint_eq(g.rip[2], L1_RIP + 6);
    ck_assert(vcore_nsvm_gif(vcore_vcpu_nsvm(vcpu)));
    vm_down();
}
END_TEST

/* "IOIO Intercept": EXITINFO1 bits 9:7 are the address size of every
 * IN/OUT. A processor that leaves them clear (QEMU) gets them from the
 * instruction before L1 sees the #VMEXIT: OUT 90H, EAX in 64-bit code is
 * A64 (bit 9). */
START_TEST(l2_ioio_address_size_for_l1)
{
    vm_up();
    vmcb12(1u << 27, false); /* word 3 bit 27: IOIO_PROT */
    put(VMCB12 + 0x40, 0x50000, 8); /* IOPM: every port */
    memset(ram + 0x50000, 0xff, 0x3000);
    ram[L2_RIP] = 0xe7; /* OUT 90H, EAX */
    ram[L2_RIP + 1] = 0x90;
    step(false, VCORE_VMEXIT_VMRUN, 3);
    g.s[g.n++] = (step_t){.l2 = true, .code = VCORE_VMEXIT_IOIO, .i1 = (0x90ull << 16) | 0x40, .i2 = L2_RIP + 2};
    step(false, VCORE_VMEXIT_HLT, 1);
    svm_fake.svm_features &= ~VCORE_SVM_FEAT_DECODE_ASSISTS;
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x7b);
    ck_assert_uint_eq(get(VMCB12 + 0x78, 8), (0x90ull << 16) | 0x40 | (1u << 9));
    ck_assert_uint_eq(get(VMCB12 + 0x80, 8), L2_RIP + 2);
    vm_down();
}
END_TEST

/* EVENTINJ is consumed by VMRUN (the processor clears its V bit): an L1
 * that injects the same event at its next VMRUN gets it delivered again
 * ("Event Injection"). */
START_TEST(l2_eventinj_each_vmrun)
{
    vm_up();
    vmcb12(1u << 18, false);
    put(VMCB12 + 0xa8, 0x80000306ull, 8); /* #UD, exception, valid */
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_HLT, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.at, 5);
    ck_assert_uint_eq(svm_fake.n_injected, 2);
    vm_down();
}
END_TEST

/* "TSC Offset": L2 reads L1's TSC plus VMCB12's TSC_OFFSET. L1's own TSC
 * is vmcb01's offset from the host's: vmcb02's offset is the sum (the VMM
 * set L1's TSC to 5000000 while the fake host's TSC was a little above
 * 1000000). */
START_TEST(l2_tsc_offset_composed_with_l1s)
{
    vm_up();
    ck_assert_int_eq(vcore_vcpu_set_msr(vcpu, 0x10, 5000000), VCORE_OK);
    vmcb12(1u << 18, false);
    put(VMCB12 + 0x50, 0x100000000ull, 8);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_HLT, 1);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.at, 3);
    /* The host's TSC was past 1000000 and below 5000000 when the VMM set it. */
    ck_assert_uint_gt(g.tsc_offset[0], 0);
    ck_assert_uint_lt(g.tsc_offset[0], 4000000ull);
    ck_assert_uint_eq(g.tsc_offset[1], g.tsc_offset[0] + 0x100000000ull);
    ck_assert_uint_eq(g.tsc_offset[2], g.tsc_offset[0]);
    /* VMCB12 keeps what L1 wrote. */
    ck_assert_uint_eq(get(VMCB12 + 0x50, 8), 0x100000000ull);
    vm_down();
}
END_TEST

/* "INVLPGA" with ECX = 0: L1's own translation of the page at rAX goes,
 * INVLPGA on L1's ASID (the page, rAX's offset dropped); with L2's ASID
 * L1's TLB is left alone and L2's next run flushes vmcb02's ASID. */
START_TEST(l1_invlpga_asid0_and_guest_asid)
{
    vm_up();
    vmcb12(1u << 18, false);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    g.s[g.n++] = (step_t){.l2 = false, .code = VCORE_VMEXIT_INVLPGA, .len = 3, .set_ax_cx = true,
                          .rax = 0x7f0012345678ull, .rcx = 0};
    g.s[g.n++] = (step_t){.l2 = false, .code = VCORE_VMEXIT_INVLPGA, .len = 3, .set_ax_cx = true,
                          .rax = 0x5000, .rcx = 1};
    g.s[g.n++] = (step_t){.l2 = false, .code = VCORE_VMEXIT_VMRUN, .len = 3, .set_ax_cx = true,
                          .rax = VMCB12, .rcx = 0};
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_HLT, 1);
    uint64_t n0 = svm_fake.n_invlpga;
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.at, 7);
    ck_assert_uint_eq(svm_fake.n_invlpga, n0 + 1);
    ck_assert_uint_eq(svm_fake.invlpga[n0].va, 0x7f0012345000ull);
    ck_assert_uint_eq(svm_fake.invlpga[n0].asid, g.asid[2]);
    ck_assert_uint_ne(g.asid[2], g.asid[1]);
    /* L2's second run (step 5): a flush of its ASID; its first (step 1)
     * flushed for the new VMCB12. */
    ck_assert_uint_ne(g.tlb[5], VCORE_VMCB_TLB_NOTHING);
    vm_down();
}
END_TEST

/* Control for the test above: the same L2 re-entered without INVLPGA keeps
 * its TLB (no flush asked by L1). */
START_TEST(l2_reentered_without_invlpga_keeps_tlb)
{
    vm_up();
    vmcb12(1u << 18, false);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    g.s[g.n++] = (step_t){.l2 = false, .code = VCORE_VMEXIT_VMRUN, .len = 3, .set_ax_cx = true,
                          .rax = VMCB12, .rcx = 0};
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_HLT, 1);
    ck_assert_uint_eq(run().reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.tlb[3], VCORE_VMCB_TLB_NOTHING);
    vm_down();
}
END_TEST

/* An interrupt L1 intercepts (INTR, V_INTR_MASKING, L1's IF set) arrives
 * while L2's CPUID waits for the VMM: the next run completes the CPUID,
 * sees the core's kick before VMRUN and does not enter L2; L1 gets
 * #VMEXIT(INTR) with L2's RIP past the CPUID and EAX = the VMM's answer. */
START_TEST(l2_kicked_out_for_l1_interrupt)
{
    vm_up();
    vmcb12(1u << 0, false);
    put(VMCB12 + 0x60, VCORE_VMCB_INT_V_INTR_MASKING, 4);
    vcore_x86_regs_t r = {.size = sizeof(r)};
    ck_assert_int_eq(vcore_vcpu_get_regs(vcpu, &r), VCORE_OK);
    r.rflags = 0x202;
    ck_assert_int_eq(vcore_vcpu_set_regs(vcpu, &r), VCORE_OK);
    step(false, VCORE_VMEXIT_VMRUN, 3);
    step(true, VCORE_VMEXIT_CPUID, 2);
    step(false, VCORE_VMEXIT_HLT, 1);
    vcore_exit_t e = run();
    ck_assert_uint_eq(e.reason, VCORE_EXIT_CPUID);
    ck_assert_uint_ne(e.flags & VCORE_EXIT_F_L2, 0);
    ck_assert_int_eq(vcore_vcpu_inject_interrupt(vcpu, 0x30), VCORE_OK);
    e.u.cpuid.eax = 0xa;
    ck_assert_int_eq(vcore_vcpu_run(vcpu, &e), VCORE_OK);
    ck_assert_uint_eq(e.reason, VCORE_EXIT_HLT);
    ck_assert_uint_eq(g.at, 3); /* L2 did not run again */
    ck_assert_uint_eq(get(VMCB12 + 0x70, 8), 0x60);
    ck_assert_uint_eq(get(VMCB12 + 0x578, 8), L2_RIP + 2);
    ck_assert_uint_eq(get(VMCB12 + 0x5f8, 8), 0xa);
    vm_down();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("svm_nested");
    TCase *tc = tcase_create("svm_nested");
    tcase_add_test(tc, l2_cpuid_reflected_on_hardware);
    tcase_add_test(tc, l2_clean_bits_and_vmm_answer);
    tcase_add_test(tc, l2_shadow_nested_table);
    tcase_add_test(tc, hw_vmcb_ops_strict);
    tcase_add_test(tc, hw_vmcb_maps_keep_l0_intercepts);
    tcase_add_test(tc, svm_insn_raw_without_nested);
    tcase_add_test(tc, svm_insn_decoded_with_nested);
    tcase_add_test(tc, l2_ioio_address_size_for_l1);
    tcase_add_test(tc, l2_eventinj_each_vmrun);
    tcase_add_test(tc, l2_tsc_offset_composed_with_l1s);
    tcase_add_test(tc, l1_invlpga_asid0_and_guest_asid);
    tcase_add_test(tc, l2_reentered_without_invlpga_keeps_tlb);
    tcase_add_test(tc, l2_kicked_out_for_l1_interrupt);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
