/* Nested SVM: L1's SVM instructions, VMRUN into L2, vmcb02, exit routing and
 * reflection, L1's nested page table, KVM nested state. Expected values come
 * from the APM (Vol. 2 "Secure Virtual Machine", Vol. 3 instruction pages);
 * each SVM CVE class of the nested reference list has a named test. */
#include "support.h"

#include <string.h>
#include <virtcore/x86/nsvm.h>

#define RAM_SIZE (4u << 20)
#define MAXPHY 40u
#define VMCB12 0x10000ull
#define MSRPM12 0x20000ull
#define IOPM12 0x30000ull
#define PDPT 0x40000ull
#define NPT 0x50000ull /* L1's nested table: PML4 50000H, PDPT 51000H, PD 52000H, PT 53000H */
#define SAVE 0x60000ull /* VMLOAD/VMSAVE area */

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define EFER_SVME (1ull << 12)
#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)

/* L1's CPUID: AuthenticAMD with long mode, NX, SVM, 40 physical bits. */
static const vcore_cpuid_entry_t l1_cpuid[] = {
    {0x00000000u, 0, 0, 0x0000000du, 0x68747541u, 0x444d4163u, 0x69746e65u},
    {0x00000001u, 0, 0, 0x00800f11u, 0, 0, 0x178bfbffu},
    {0x80000000u, 0, 0, 0x8000001fu, 0, 0, 0},
    {0x80000001u, 0, 0, 0, (1u << 2), 0, (1u << 29) | (1u << 20) | (1u << 11)},
    {0x80000008u, 0, 0, 0x00003028u, 0, 0, 0},
    {0x8000000au, 0, 0, 1, 0x10, 0, 0x29u},
};

static uint8_t ram[RAM_SIZE];
static unsigned reads_of_vmcb12; /* reads touching the VMCB12 page */
static bool corrupt_after_read;  /* make VMCB12 invalid right after it is read */

static int mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return VCORE_ERR_FAULT;
    if (gpa < VMCB12 + 4096 && gpa + len > VMCB12)
        reads_of_vmcb12++;
    memcpy(buf, ram + gpa, len);
    if (corrupt_after_read && gpa == VMCB12) {
        /* L1's other vCPU rewrites ASID to 0 and clears the VMRUN intercept. */
        memset(ram + VMCB12 + 0x58, 0, 4);
        memset(ram + VMCB12 + 0x10, 0, 4);
    }
    return VCORE_OK;
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
        return VCORE_ERR_FAULT;
    memcpy(ram + gpa, buf, len);
    return VCORE_OK;
}

static const vcore_nvmx_mem_t mem = {sizeof(vcore_nvmx_mem_t), NULL, mem_read, mem_write};

static _Alignas(8) uint8_t state[256 * 1024];
static vcore_nsvm_t *n;
static vcore_diag_t diag;
static vcore_vmcb_control_t l0ctl;
static uint8_t l0_msrpm[VCORE_VMCB_MSRPM_SIZE];
static vcore_nsvm_insn_t in;
static vcore_nsvm_result_t res;

static uint64_t rd(uint64_t gpa, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)ram[gpa + i] << (8 * i);
    return v;
}

static void wr(uint64_t gpa, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        ram[gpa + i] = (uint8_t)(v >> (8 * i));
}

static vcore_vmcb_t *vmcb12(void)
{
    return (vcore_vmcb_t *)(void *)(ram + VMCB12);
}

static void make_nsvm(uint32_t features)
{
    vcore_nsvm_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.svm_features = features;
    cfg.maxphyaddr = MAXPHY;
    cfg.l2_asid = 7;
    cfg.l0 = &l0ctl;
    cfg.l0_msrpm = l0_msrpm;
    diag.size = sizeof(diag);
    ck_assert_int_eq(vcore_nsvm_init(state, sizeof(state), &cfg, &n, &diag), VCORE_OK);
}

/* L1: 64-bit kernel at CPL 0 with EFER.SVME; L2: a legal 64-bit guest. */
static void setup(void)
{
    memset(ram, 0, sizeof(ram));
    reads_of_vmcb12 = 0;
    corrupt_after_read = false;
    memset(&l0ctl, 0, sizeof(l0ctl));
    memset(l0_msrpm, 0, sizeof(l0_msrpm));
    vcore_vmcb_intercept_set(&l0ctl, VCORE_VMCB_INTERCEPT_CPUID, true);
    l0ctl.tsc_offset = 1000;
    l0ctl.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    l0_msrpm[0x800 + (0x80 * 2) / 8] = 0x3; /* L0 intercepts EFER (C000_0080H) */
    make_nsvm(VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS | VCORE_SVM_FEAT_VMCB_CLEAN);

    memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.op = VCORE_NSVM_VMRUN;
    in.insn_len = 3;
    in.regs.size = sizeof(in.regs);
    in.sregs.size = sizeof(in.sregs);
    in.regs.rip = 0x401000;
    in.regs.rflags = 2;
    in.regs.gpr[VCORE_X86_RAX] = VMCB12;
    in.regs.gpr[VCORE_X86_RSP] = 0x7000;
    in.sregs.cr0 = CR0_PG | CR0_PE | CR0_ET | CR0_NE;
    in.sregs.cr3 = 0x2000;
    in.sregs.cr4 = CR4_PAE;
    in.sregs.efer = EFER_SVME | EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    in.sregs.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | VCORE_X86_AR_L | 0xb;
    in.sregs.seg[VCORE_X86_CS].selector = 0x8;
    in.sregs.seg[VCORE_X86_SS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 0x3;
    in.sregs.seg[VCORE_X86_SS].selector = 0x10;
    in.msrs.pat = 0x0007040600070406ull;
    in.dr6 = 0xffff0ff0;
    in.dr7 = 0x400;
    in.cpuid = l1_cpuid;
    in.ncpuid = (uint32_t)(sizeof(l1_cpuid) / sizeof(l1_cpuid[0]));
    res.size = sizeof(res);

    vcore_vmcb_t *v = vmcb12();
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_VMRUN, true);
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_HLT, true);
    v->control.iopm_base_pa = IOPM12;
    v->control.msrpm_base_pa = MSRPM12;
    v->control.asid = 1;
    v->control.tsc_offset = 20;
    v->save.efer = EFER_SVME | EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
    v->save.cr0 = CR0_PG | CR0_NE | CR0_ET | CR0_PE;
    v->save.cr3 = 0x3000;
    v->save.cr4 = CR4_PAE;
    v->save.dr6 = 0xffff0ff0;
    v->save.dr7 = 0x400;
    v->save.rflags = 2;
    v->save.rip = 0x1000;
    v->save.rsp = 0x8000;
    v->save.rax = 0x1234;
    v->save.cs.attrib = VCORE_VMCB_ATTR_P | VCORE_VMCB_ATTR_S | VCORE_VMCB_ATTR_L | 0xb;
    v->save.ss.attrib = VCORE_VMCB_ATTR_P | VCORE_VMCB_ATTR_S | 0x3;
    v->save.g_pat = 0x0007040600070406ull;
}

static void emulate(uint32_t op)
{
    in.op = op;
    ck_assert_int_eq(vcore_nsvm_emulate(n, &mem, &in, &res, &diag), VCORE_OK);
}

static void vmrun_ok(void)
{
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_ENTER_L2);
}

/* ---- creation ---- */

START_TEST(init_refusals)
{
    vcore_nsvm_config_t cfg;
    vcore_nsvm_t *m;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.maxphyaddr = MAXPHY;
    cfg.l2_asid = 1;
    ck_assert_int_eq(vcore_nsvm_init(state, vcore_nsvm_size() - 1, &cfg, &m, &diag), VCORE_ERR_NOMEM);
    cfg.l2_asid = 0;
    ck_assert_int_eq(vcore_nsvm_init(state, sizeof(state), &cfg, &m, &diag), VCORE_ERR_INVAL);
    cfg.l2_asid = 1;
    cfg.maxphyaddr = 31;
    ck_assert_int_eq(vcore_nsvm_init(state, sizeof(state), &cfg, &m, &diag), VCORE_ERR_INVAL);
    cfg.maxphyaddr = 53;
    ck_assert_int_eq(vcore_nsvm_init(state, sizeof(state), &cfg, &m, &diag), VCORE_ERR_INVAL);
    cfg.maxphyaddr = 52;
    cfg.svm_features = VCORE_SVM_FEAT_AVIC; /* not emulated */
    ck_assert_int_eq(vcore_nsvm_init(state, sizeof(state), &cfg, &m, &diag), VCORE_ERR_INVAL);
    ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_FEATURES);
    cfg.svm_features = VCORE_NSVM_FEATURES_EMULATED;
    ck_assert_int_eq(vcore_nsvm_init(state + 4, sizeof(state) - 4, &cfg, &m, &diag), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_nsvm_init(state, sizeof(state), &cfg, &m, &diag), VCORE_OK);
    /* "GIF ... is set by processor reset"; no L2; VM_HSAVE_PA 0. */
    ck_assert(vcore_nsvm_gif(m));
    ck_assert(!vcore_nsvm_in_guest(m));
    ck_assert_uint_eq(vcore_nsvm_hsave_pa(m), 0);
}
END_TEST

/* ---- #UD / #GP of the instructions (APM Vol. 3) ---- */

START_TEST(ud_without_svme)
{
    static const uint32_t ops[] = {VCORE_NSVM_VMRUN, VCORE_NSVM_VMLOAD, VCORE_NSVM_VMSAVE, VCORE_NSVM_CLGI,
                                   VCORE_NSVM_INVLPGA, VCORE_NSVM_STGI, VCORE_NSVM_SKINIT};
    in.sregs.efer &= ~EFER_SVME;
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        emulate(ops[i]);
        ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
        ck_assert_uint_eq(res.vector, 6);
        ck_assert_uint_eq(res.has_error_code, 0);
        ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_UD_SVME_CLEAR);
    }
    ck_assert(vcore_nsvm_gif(n));
}
END_TEST

START_TEST(stgi_skinit_enabled_by_skinit_feature)
{
    vcore_nsvm_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.maxphyaddr = MAXPHY;
    cfg.l2_asid = 1;
    cfg.skinit = true;
    ck_assert_int_eq(vcore_nsvm_init(state, sizeof(state), &cfg, &n, &diag), VCORE_OK);
    in.sregs.efer &= ~EFER_SVME;
    emulate(VCORE_NSVM_STGI); /* "Neither EFER.SVME nor ... SKINIT": SKINIT is set */
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    emulate(VCORE_NSVM_SKINIT);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_TO_VMM);
    emulate(VCORE_NSVM_CLGI); /* CLGI needs EFER.SVME */
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
    ck_assert_uint_eq(res.vector, 6);
}
END_TEST

START_TEST(ud_outside_protected_mode)
{
    in.sregs.cr0 = 0;
    emulate(VCORE_NSVM_CLGI);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
    ck_assert_uint_eq(res.vector, 6);
    ck_assert(vcore_nsvm_gif(n)); /* CLGI did not execute */
    ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_UD_REAL_MODE);
    in.sregs.cr0 = CR0_PE;
    in.sregs.efer = EFER_SVME;
    in.regs.rflags = 2 | (1u << 17); /* virtual-8086 */
    emulate(VCORE_NSVM_VMSAVE);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
    ck_assert_uint_eq(res.vector, 6);
}
END_TEST

START_TEST(gp_at_cpl3)
{
    in.sregs.seg[VCORE_X86_SS].ar |= 3u << VCORE_X86_AR_DPL_SHIFT;
    static const uint32_t ops[] = {VCORE_NSVM_VMRUN, VCORE_NSVM_VMLOAD, VCORE_NSVM_VMSAVE, VCORE_NSVM_STGI,
                                   VCORE_NSVM_CLGI, VCORE_NSVM_INVLPGA, VCORE_NSVM_SKINIT};
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        emulate(ops[i]);
        ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
        ck_assert_uint_eq(res.vector, 13);
        ck_assert_uint_eq(res.has_error_code, 1);
        ck_assert_uint_eq(res.error_code, 0);
        ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_GP_CPL);
    }
    /* VMMCALL has no CPL rule: L1's VMMCALL at CPL 3 is a call to L0's VMM. */
    emulate(VCORE_NSVM_VMMCALL);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_TO_VMM);
}
END_TEST

START_TEST(gp_rax_alignment_and_width)
{
    in.regs.gpr[VCORE_X86_RAX] = VMCB12 | 0x800;
    emulate(VCORE_NSVM_VMLOAD);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
    ck_assert_uint_eq(res.vector, 13);
    ck_assert_uint_eq(res.has_error_code, 1);
    ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_GP_RAX_ALIGN);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
    ck_assert(!vcore_nsvm_in_guest(n));
    in.regs.gpr[VCORE_X86_RAX] = 1ull << MAXPHY; /* first address beyond MAXPHYADDR */
    emulate(VCORE_NSVM_VMSAVE);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
    ck_assert_uint_eq(res.vector, 13);
    ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_GP_RAX_PHYS);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_EXCEPTION);
    ck_assert_uint_eq(reads_of_vmcb12, 0);
    /* Compatibility mode (EFER.LMA, CS.L clear): rAX is EAX too. */
    in.sregs.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | VCORE_X86_AR_DB | 0xb;
    in.regs.gpr[VCORE_X86_RAX] = 0xff00000000000000ull | SAVE;
    in.msrs.star = 0xabc;
    emulate(VCORE_NSVM_VMSAVE);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    ck_assert_uint_eq(rd(SAVE + 0x600, 8), 0xabc);
    in.sregs.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | VCORE_X86_AR_L | 0xb;
    in.regs.gpr[VCORE_X86_RAX] = (1ull << MAXPHY) - 4096; /* last page: legal */
    emulate(VCORE_NSVM_VMSAVE);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    /* Outside 64-bit mode rAX is EAX: bits 63:32 are not an address. */
    in.sregs.efer = EFER_SVME;
    in.sregs.cr0 = CR0_PE;
    in.sregs.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | VCORE_X86_AR_DB | 0xb;
    in.regs.gpr[VCORE_X86_RAX] = 0xffffffff00000000ull | SAVE;
    emulate(VCORE_NSVM_VMSAVE);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    /* INVLPGA takes no VMCB: no alignment rule. */
    in.regs.gpr[VCORE_X86_RAX] = 0x1234;
    emulate(VCORE_NSVM_INVLPGA);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
}
END_TEST

START_TEST(hsave_pa_rules)
{
    ck_assert_int_eq(vcore_nsvm_set_hsave_pa(n, 0x5001, &diag), VCORE_ERR_INVAL);
    ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_HSAVE_PA);
    ck_assert_int_eq(vcore_nsvm_set_hsave_pa(n, 1ull << MAXPHY, &diag), VCORE_ERR_INVAL);
    ck_assert_uint_eq(vcore_nsvm_hsave_pa(n), 0);
    ck_assert_int_eq(vcore_nsvm_set_hsave_pa(n, (1ull << MAXPHY) - 4096, &diag), VCORE_OK);
    ck_assert_uint_eq(vcore_nsvm_hsave_pa(n), (1ull << MAXPHY) - 4096);
}
END_TEST

/* ---- GIF, INVLPGA, VMMCALL, VMLOAD/VMSAVE ---- */

START_TEST(gif_model)
{
    emulate(VCORE_NSVM_CLGI);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    ck_assert_uint_eq(res.regs.rip, 0x401003);
    ck_assert_uint_eq(res.gif, 0);
    ck_assert(!vcore_nsvm_gif(n));
    emulate(VCORE_NSVM_STGI);
    ck_assert_uint_eq(res.gif, 1);
    ck_assert(vcore_nsvm_gif(n));
}
END_TEST

START_TEST(invlpga_operands)
{
    in.regs.gpr[VCORE_X86_RAX] = 0x7fff12345000ull;
    in.regs.gpr[VCORE_X86_RCX] = 0x100000009ull; /* ASID in ECX */
    emulate(VCORE_NSVM_INVLPGA);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    ck_assert_uint_eq(res.flush_va, 0x7fff12345000ull);
    ck_assert_uint_eq(res.flush_asid, 9);
}
END_TEST

START_TEST(vmsave_vmload_layout)
{
    in.regs.gpr[VCORE_X86_RAX] = SAVE;
    in.sregs.seg[VCORE_X86_FS] = (vcore_x86_segment_t){0x1111000, 0xffff, 0x33, 0, VCORE_X86_AR_P | 0x3};
    in.sregs.seg[VCORE_X86_GS] = (vcore_x86_segment_t){0x2222000, 0xfff, 0x3b, 0, VCORE_X86_AR_P | 0x3};
    in.sregs.seg[VCORE_X86_LDTR] = (vcore_x86_segment_t){0x3333000, 0x7f, 0x40, 0, VCORE_X86_AR_P | 0x2};
    in.sregs.seg[VCORE_X86_TR] = (vcore_x86_segment_t){0x4444000, 0x67, 0x48, 0, VCORE_X86_AR_P | 0xb};
    in.msrs.star = 0x11;
    in.msrs.lstar = 0x22;
    in.msrs.cstar = 0x33;
    in.msrs.sfmask = 0x44;
    in.msrs.kernel_gs_base = 0x55;
    in.msrs.sysenter_cs = 0x66;
    in.msrs.sysenter_esp = 0x77;
    in.msrs.sysenter_eip = 0x88;
    memset(ram + SAVE + 0x460, 0xaa, 16); /* GDTR: not VMSAVE's */
    memset(ram + SAVE + 0x480, 0xbb, 16); /* IDTR: not VMSAVE's */
    emulate(VCORE_NSVM_VMSAVE);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    /* "Layout of VMCB": FS at 440h, GS 450h, LDTR 470h, TR 490h, STAR 600h ... SYSENTER_EIP 638h. */
    ck_assert_uint_eq(rd(SAVE + 0x440, 2), 0x33);
    ck_assert_uint_eq(rd(SAVE + 0x442, 2), VCORE_VMCB_ATTR_P | 0x3);
    ck_assert_uint_eq(rd(SAVE + 0x444, 4), 0xffff);
    ck_assert_uint_eq(rd(SAVE + 0x448, 8), 0x1111000);
    ck_assert_uint_eq(rd(SAVE + 0x458, 8), 0x2222000);
    ck_assert_uint_eq(rd(SAVE + 0x470, 2), 0x40);
    ck_assert_uint_eq(rd(SAVE + 0x478, 8), 0x3333000);
    ck_assert_uint_eq(rd(SAVE + 0x490, 2), 0x48);
    ck_assert_uint_eq(rd(SAVE + 0x498, 8), 0x4444000);
    ck_assert_uint_eq(rd(SAVE + 0x600, 8), 0x11);
    ck_assert_uint_eq(rd(SAVE + 0x620, 8), 0x55);
    ck_assert_uint_eq(rd(SAVE + 0x638, 8), 0x88);
    ck_assert_uint_eq(ram[SAVE + 0x460], 0xaa);
    ck_assert_uint_eq(ram[SAVE + 0x48f], 0xbb);
    /* VMLOAD brings them back. */
    vcore_nsvm_insn_t saved = in;
    memset(&in.sregs.seg[VCORE_X86_FS], 0, sizeof(vcore_x86_segment_t) * 2);
    memset(&in.sregs.seg[VCORE_X86_LDTR], 0, sizeof(vcore_x86_segment_t) * 2);
    memset(&in.msrs, 0, sizeof(in.msrs));
    wr(SAVE + 0x630, 0x99, 8); /* SYSENTER_ESP changed in memory */
    emulate(VCORE_NSVM_VMLOAD);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    ck_assert_mem_eq(&res.sregs.seg[VCORE_X86_FS], &saved.sregs.seg[VCORE_X86_FS], sizeof(vcore_x86_segment_t) * 2);
    ck_assert_mem_eq(&res.sregs.seg[VCORE_X86_LDTR], &saved.sregs.seg[VCORE_X86_LDTR],
                     sizeof(vcore_x86_segment_t) * 2);
    ck_assert_uint_eq(res.msrs.star, 0x11);
    ck_assert_uint_eq(res.msrs.kernel_gs_base, 0x55);
    ck_assert_uint_eq(res.msrs.sysenter_esp, 0x99);
    ck_assert_uint_eq(res.msrs.sysenter_eip, 0x88);
    ck_assert_uint_eq(res.regs.rip, 0x401003);
    /* A page outside RAM: physical reads see all ones, writes are dropped. */
    in.regs.gpr[VCORE_X86_RAX] = RAM_SIZE;
    emulate(VCORE_NSVM_VMLOAD);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
    ck_assert_uint_eq(res.sregs.seg[VCORE_X86_FS].selector, 0xffff);
    ck_assert_uint_eq(res.msrs.star, 0xffffffffffffffffull);
    emulate(VCORE_NSVM_VMSAVE);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_DONE);
}
END_TEST

/* ---- VMRUN ---- */

START_TEST(vmrun_enters_l2)
{
    vmrun_ok();
    ck_assert(vcore_nsvm_in_guest(n));
    ck_assert_uint_eq(res.gif, 1); /* "VMRUN ... sets GIF" */
    ck_assert_uint_eq(res.regs.rip, 0x1000);
    ck_assert_uint_eq(res.regs.gpr[VCORE_X86_RSP], 0x8000);
    ck_assert_uint_eq(res.regs.gpr[VCORE_X86_RAX], 0x1234);
    ck_assert_uint_eq(res.sregs.cr3, 0x3000);
    const vcore_vmcb_t *v2 = vcore_nsvm_vmcb02(n);
    /* Intercepts: L0's (CPUID) and L1's (HLT, VMRUN) united. */
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_CPUID));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_HLT));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_VMRUN));
    ck_assert(!vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_RDTSC));
    ck_assert_uint_eq(v2->control.asid, 7);                /* L0's ASID for L2, not L1's 1 */
    ck_assert_uint_eq(v2->control.tsc_offset, 1000 + 20);  /* composed */
    ck_assert_uint_eq(v2->save.rip, 0x1000);
    ck_assert_uint_eq(v2->save.cr3, 0x3000);
    /* A second VMRUN while L2 runs is not L1's instruction. */
    ck_assert_int_eq(vcore_nsvm_emulate(n, &mem, &in, &res, &diag), VCORE_ERR_STATE);
}
END_TEST

START_TEST(vmrun_invalid_writes_exit_code)
{
    vmcb12()->control.asid = 0; /* "ASID = 0" is illegal */
    vmcb12()->control.exit_info1 = 0x55;
    emulate(VCORE_NSVM_CLGI);
    emulate(VCORE_NSVM_STGI);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.check, VCORE_SVM_CHECK_ASID_ZERO);
    ck_assert_uint_eq(rd(VMCB12 + 0x70, 8), 0xffffffffffffffffull); /* VMEXIT_INVALID (-1) */
    ck_assert_uint_eq(rd(VMCB12 + 0x78, 8), 0);
    ck_assert_uint_eq(res.regs.rip, 0x401003); /* L1 continues after VMRUN */
    ck_assert_uint_eq(res.regs.gpr[VCORE_X86_RAX], VMCB12);
    ck_assert_uint_eq(res.gif, 0);             /* #VMEXIT clears GIF */
    ck_assert(!vcore_nsvm_gif(n));
    ck_assert(!vcore_nsvm_in_guest(n));
    ck_assert_uint_eq(res.dr7, 0x400);
    /* VMRUN intercept clear is illegal too. */
    setup();
    vcore_vmcb_intercept_set(&vmcb12()->control, VCORE_VMCB_INTERCEPT_VMRUN, false);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.check, VCORE_SVM_CHECK_VMRUN_INTERCEPT);
    /* A VMCB12 outside RAM: VMEXIT_INVALID, nothing written. */
    setup();
    in.regs.gpr[VCORE_X86_RAX] = RAM_SIZE;
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.check, VCORE_DIAG_NSVM_VMCB12_READ);
}
END_TEST

/* CVE-2021-29657 class: VMCB12 controls re-read after the check. */
START_TEST(cve_2021_29657_vmcb12_read_once)
{
    corrupt_after_read = true;
    vmrun_ok();
    ck_assert_uint_eq(reads_of_vmcb12, 1);
    const vcore_vmcb_t *v2 = vcore_nsvm_vmcb02(n);
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_HLT));
    ck_assert_uint_eq(res.regs.rip, 0x1000);
    /* The exit decision reads the copy: L1's HLT intercept (cleared in memory) still holds. */
    vcore_nsvm_l2_exit_t ex;
    memset(&ex, 0, sizeof(ex));
    ex.size = sizeof(ex);
    ex.exit_code = VCORE_VMEXIT_HLT;
    uint32_t owner = 0;
    ck_assert_int_eq(vcore_nsvm_route(n, &mem, &ex, &owner), VCORE_OK);
    ck_assert_uint_eq(owner, VCORE_NSVM_L1);
}
END_TEST

/* CVE-2021-3656 class: L1 cannot clear the VMLOAD/VMSAVE intercepts for L2. */
START_TEST(cve_2021_3656_vmload_vmsave_forced)
{
    vmcb12()->control.virt_ext = VCORE_VMCB_VIRT_VMSAVE_VMLOAD | VCORE_VMCB_VIRT_LBR;
    vmrun_ok();
    const vcore_vmcb_t *v2 = vcore_nsvm_vmcb02(n);
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_VMLOAD));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_VMSAVE));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_STGI));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_CLGI));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_SKINIT));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_INVLPGA));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_VMMCALL));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_MSR_PROT));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_IOIO_PROT));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_INTR));
    ck_assert(vcore_vmcb_intercept_test(&v2->control, VCORE_VMCB_INTERCEPT_NMI));
    ck_assert_uint_eq(v2->control.virt_ext, 0);
    /* L2's VMLOAD is L1's exit only when L1 intercepts it; L1 here does not. */
    vcore_nsvm_l2_exit_t ex;
    memset(&ex, 0, sizeof(ex));
    ex.size = sizeof(ex);
    ex.exit_code = VCORE_VMEXIT_VMLOAD;
    uint32_t owner = 0;
    ck_assert_int_eq(vcore_nsvm_route(n, &mem, &ex, &owner), VCORE_OK);
    ck_assert_uint_eq(owner, VCORE_NSVM_L0);
}
END_TEST

/* CVE-2022-3344 class: L2 SHUTDOWN L1 does not intercept never reaches the processor. */
START_TEST(cve_2022_3344_shutdown_forced)
{
    vmrun_ok();
    ck_assert(vcore_vmcb_intercept_test(&vcore_nsvm_vmcb02(n)->control, VCORE_VMCB_INTERCEPT_SHUTDOWN));
    vcore_nsvm_l2_exit_t ex;
    memset(&ex, 0, sizeof(ex));
    ex.size = sizeof(ex);
    ex.exit_code = VCORE_VMEXIT_SHUTDOWN;
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_SHUTDOWN);
    ck_assert(!vcore_nsvm_in_guest(n));
    ck_assert_uint_eq(rd(VMCB12 + 0x70, 8), 0); /* no #VMEXIT written */
    /* Intercepted by L1: an ordinary #VMEXIT with code 7FH. */
    setup();
    vcore_vmcb_intercept_set(&vmcb12()->control, VCORE_VMCB_INTERCEPT_SHUTDOWN, true);
    vmrun_ok();
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(rd(VMCB12 + 0x70, 8), 0x7f);
}
END_TEST

/* APM Vol. 2, "Pause Intercept Filtering": the filter is a feature
 * (CPUID Fn8000_000A_EDX[PauseFilter]) L1 is not offered, so every PAUSE
 * of L2 is its #VMEXIT when it intercepts PAUSE. L0's own filter count
 * must not hide PAUSEs from L1: vmcb02 runs with no filter then; without
 * L1's intercept L0's filter stays. */
START_TEST(pause_intercepted_by_l1_runs_without_l0_filter)
{
    l0ctl.pause_filter_count = 3000;
    l0ctl.pause_filter_threshold = 128;
    vcore_vmcb_intercept_set(&l0ctl, VCORE_VMCB_INTERCEPT_PAUSE, true);
    make_nsvm(VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS | VCORE_SVM_FEAT_VMCB_CLEAN);
    vcore_vmcb_intercept_set(&vmcb12()->control, VCORE_VMCB_INTERCEPT_PAUSE, true);
    vmrun_ok();
    const vcore_vmcb_control_t *c = &vcore_nsvm_vmcb02(n)->control;
    ck_assert(vcore_vmcb_intercept_test(c, VCORE_VMCB_INTERCEPT_PAUSE));
    ck_assert_uint_eq(c->pause_filter_count, 0);
    ck_assert_uint_eq(c->pause_filter_threshold, 0);
}
END_TEST

START_TEST(pause_not_intercepted_by_l1_keeps_l0_filter)
{
    l0ctl.pause_filter_count = 3000;
    l0ctl.pause_filter_threshold = 128;
    vcore_vmcb_intercept_set(&l0ctl, VCORE_VMCB_INTERCEPT_PAUSE, true);
    make_nsvm(VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS | VCORE_SVM_FEAT_VMCB_CLEAN);
    vmrun_ok();
    const vcore_vmcb_control_t *c = &vcore_nsvm_vmcb02(n)->control;
    ck_assert(vcore_vmcb_intercept_test(c, VCORE_VMCB_INTERCEPT_PAUSE));
    ck_assert_uint_eq(c->pause_filter_count, 3000);
    ck_assert_uint_eq(c->pause_filter_threshold, 128);
}
END_TEST

/* CVE-2021-3653 class: int_ctl from VMCB12 only through the filter. */
START_TEST(cve_2021_3653_int_ctl_filtered)
{
    vmcb12()->control.int_ctl = VCORE_VMCB_INT_AVIC_ENABLE | VCORE_VMCB_INT_V_GIF_ENABLE | VCORE_VMCB_INT_V_GIF |
                                VCORE_VMCB_INT_V_NMI_ENABLE | VCORE_VMCB_INT_V_NMI | VCORE_VMCB_INT_V_IRQ |
                                VCORE_VMCB_INT_V_IGN_TPR | (5u << VCORE_VMCB_INT_V_INTR_PRIO_SHIFT) | 0x9u;
    vmcb12()->control.int_vector = 0x1f0; /* bits above 7 are not the vector */
    vmrun_ok();
    const vcore_vmcb_control_t *c = &vcore_nsvm_vmcb02(n)->control;
    ck_assert_uint_eq(c->int_ctl, VCORE_VMCB_INT_V_IRQ | VCORE_VMCB_INT_V_IGN_TPR |
                                      (5u << VCORE_VMCB_INT_V_INTR_PRIO_SHIFT) | 0x9u |
                                      VCORE_VMCB_INT_V_INTR_MASKING);
    ck_assert_uint_eq(c->int_vector, 0xf0);
    ck_assert_uint_eq(c->nested_ctl, VCORE_VMCB_NESTED_NP_ENABLE); /* L0's NP; no SEV from VMCB12 */
}
END_TEST

START_TEST(msrpm_iopm_merged)
{
    vcore_vmcb_intercept_set(&vmcb12()->control, VCORE_VMCB_INTERCEPT_MSR_PROT, true);
    vcore_vmcb_intercept_set(&vmcb12()->control, VCORE_VMCB_INTERCEPT_IOIO_PROT, true);
    ram[MSRPM12 + (0x10 * 2) / 8] = 0x1 << ((0x10 * 2) % 8); /* L1: TSC reads */
    ram[IOPM12 + 0x60 / 8] = 1u << (0x60 % 8);               /* L1: port 60H */
    vmrun_ok();
    const uint8_t *pm = vcore_nsvm_msrpm02(n);
    ck_assert_uint_eq(pm[(0x10 * 2) / 8], 0x1);
    ck_assert_uint_eq(pm[0x800 + (0x80 * 2) / 8], 0x3); /* L0's EFER bits kept */
    ck_assert_uint_eq(vcore_nsvm_iopm02(n)[0x60 / 8], 1u);
    /* Without MSR_PROT L1 contributes nothing: L0's map only. */
    setup();
    ram[MSRPM12 + (0x10 * 2) / 8] = 0xff;
    vmrun_ok();
    pm = vcore_nsvm_msrpm02(n);
    ck_assert_uint_eq(pm[(0x10 * 2) / 8], 0);
    ck_assert_uint_eq(pm[0x800 + (0x80 * 2) / 8], 0x3);
    ck_assert_uint_eq(vcore_nsvm_iopm02(n)[0x60 / 8], 0);
}
END_TEST

/* Seed 004: L2's CR3 load can fail - PAE PDPTEs without nested paging. */
START_TEST(l2_pae_pdptes_loaded_or_vmexit_invalid)
{
    vcore_vmcb_t *v = vmcb12();
    v->save.efer = EFER_SVME;
    v->save.cr0 = CR0_PG | CR0_PE | CR0_ET;
    v->save.cr4 = CR4_PAE;
    v->save.cr3 = PDPT | 0x18; /* bits 4:0 ignored */
    v->save.cs.attrib = VCORE_VMCB_ATTR_P | VCORE_VMCB_ATTR_S | VCORE_VMCB_ATTR_DB | 0xb;
    wr(PDPT + 0, 0x70001, 8);
    wr(PDPT + 8, 0x71001, 8);
    wr(PDPT + 24, 0, 8); /* not present: any value is fine */
    vmrun_ok();
    ck_assert_uint_eq(res.pdptes[0], 0x70001);
    ck_assert_uint_eq(res.pdptes[1], 0x71001);
    /* A present PDPTE with reserved bit 1 set: the load fails -> VMEXIT_INVALID. */
    setup();
    v = vmcb12();
    v->save.efer = EFER_SVME;
    v->save.cr0 = CR0_PG | CR0_PE | CR0_ET;
    v->save.cr4 = CR4_PAE;
    v->save.cr3 = PDPT;
    v->save.cs.attrib = VCORE_VMCB_ATTR_P | VCORE_VMCB_ATTR_S | VCORE_VMCB_ATTR_DB | 0xb;
    wr(PDPT + 16, 0x72003, 8);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.check, VCORE_DIAG_NSVM_PDPTE_LOAD);
    ck_assert_uint_eq(rd(VMCB12 + 0x70, 8), 0xffffffffffffffffull);
    ck_assert(!vcore_nsvm_in_guest(n));
    /* Beyond MAXPHYADDR in a present PDPTE: reserved too. */
    wr(PDPT + 16, (1ull << MAXPHY) | 1, 8);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.check, VCORE_DIAG_NSVM_PDPTE_LOAD);
    wr(PDPT + 16, ((1ull << MAXPHY) - 4096) | 1, 8);
    vmrun_ok();
}
END_TEST

/* L1 in legacy PAE paging (32-bit protected mode). */
static void l1_legacy_pae(void)
{
    in.sregs.efer = EFER_SVME;
    in.sregs.cr0 = CR0_PG | CR0_PE | CR0_ET;
    in.sregs.cr4 = CR4_PAE;
    in.sregs.cr3 = PDPT;
    in.sregs.seg[VCORE_X86_CS].ar = VCORE_X86_AR_P | VCORE_X86_AR_S | VCORE_X86_AR_DB | 0xb;
    wr(PDPT, 0x80001, 8);
}

/* CVE-2024-50115 class: nCR3[4:0] ignored when the PDPTEs of a PAE nested table load. */
START_TEST(cve_2024_50115_ncr3_low_bits_ignored)
{
    l1_legacy_pae();
    vmcb12()->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    /* The PDPT in the last 32 bytes of RAM: with bits 4:0 used as an
     * offset the load would run past the end of RAM. */
    wr(RAM_SIZE - 32, 0x90001, 8);
    vmcb12()->control.n_cr3 = (RAM_SIZE - 32) | 0x1f;
    vmrun_ok();
    /* The walk uses the same PDPT: L2 GPA 0 -> PD at 90000H. */
    wr(0x90000, 0xa0007, 8);   /* PDE -> PT at A0000H, P RW US */
    wr(0xa0000, 0x123007, 8);  /* PTE -> 123000H */
    uint64_t l1 = 0, info = 0;
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x10, VCORE_NSVM_READ, false, &l1, &info), VCORE_OK);
    ck_assert_uint_eq(l1, 0x123010);
    /* A PDPTE with a reserved bit: VMEXIT_INVALID at VMRUN. */
    setup();
    l1_legacy_pae();
    vmcb12()->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    wr(RAM_SIZE - 32, 0x90001 | (1u << 5), 8);
    vmcb12()->control.n_cr3 = (RAM_SIZE - 32) | 0x1f;
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.check, VCORE_DIAG_NSVM_PDPTE_LOAD);
}
END_TEST

static vcore_nsvm_l2_exit_t l2_exit(uint64_t code, uint64_t info1, uint64_t info2)
{
    vcore_nsvm_l2_exit_t ex;
    memset(&ex, 0, sizeof(ex));
    ex.size = sizeof(ex);
    ex.exit_code = code;
    ex.exit_info1 = info1;
    ex.exit_info2 = info2;
    ex.regs = res.regs;
    ex.sregs = res.sregs;
    ex.msrs = res.msrs;
    ex.dr6 = res.dr6;
    ex.dr7 = res.dr7;
    return ex;
}

static uint32_t route(uint64_t code, uint64_t info1, uint64_t info2, uint32_t ecx)
{
    vcore_nsvm_l2_exit_t ex = l2_exit(code, info1, info2);
    ex.ecx = ecx;
    uint32_t owner = 0;
    ck_assert_int_eq(vcore_nsvm_route(n, &mem, &ex, &owner), VCORE_OK);
    return owner;
}

START_TEST(route_by_intercept_vectors)
{
    vcore_vmcb_control_t *c = &vmcb12()->control;
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_CR3_WRITE, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_DR7_READ, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_EXC14, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_EXC18, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_EXC19, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_INTR, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_VINTR, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_VMMCALL, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_XSETBV, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_CR4_WRITE_TRAP, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_INVPCID, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_TASK_SWITCH, true);
    vmrun_ok();
    ck_assert_uint_eq(route(VCORE_VMEXIT_HLT, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_CPUID, 0, 0, 0), VCORE_NSVM_L0); /* L0's intercept, not L1's */
    ck_assert_uint_eq(route(VCORE_VMEXIT_CR3_WRITE, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_CR3_READ, 0, 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_CR0_WRITE, 0, 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_DR7_READ, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_DR7_WRITE, 0, 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_EXCP14, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_EXCP13, 0, 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_EXCP19, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_EXCP18, 0, 0, 0), VCORE_NSVM_L0); /* #MC: the platform's */
    ck_assert_uint_eq(route(VCORE_VMEXIT_INTR, 0, 0, 0), VCORE_NSVM_L0);   /* physical interrupt: the host's */
    ck_assert_uint_eq(route(VCORE_VMEXIT_VINTR, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_VMMCALL, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_XSETBV, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_CR4_WRITE_TRAP, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_CR3_WRITE_TRAP, 0, 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_INVPCID, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_TASK_SWITCH, 0, 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_FERR_FREEZE, 0, 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_RDTSC, 0, 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_AVIC_NOACCEL, 0, 0, 0), VCORE_NSVM_L0);
}
END_TEST

START_TEST(route_by_permission_maps)
{
    vcore_vmcb_control_t *c = &vmcb12()->control;
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_MSR_PROT, true);
    vcore_vmcb_intercept_set(c, VCORE_VMCB_INTERCEPT_IOIO_PROT, true);
    ram[MSRPM12 + 0x800 + (0x80 * 2) / 8] = 0x1; /* EFER reads only */
    ram[MSRPM12 + 0x1000 + (0x117 * 2) / 8] = 0x2 << ((0x117 * 2) % 8); /* VM_HSAVE_PA writes */
    ram[IOPM12 + 0x61 / 8] = 1u << (0x61 % 8);
    ram[IOPM12 + 0x2000] = 0x1; /* port 10000H: the bit an access at FFFFH of 2 bytes touches */
    vmrun_ok();
    ck_assert_uint_eq(route(VCORE_VMEXIT_MSR, 0, 0, 0xc0000080u), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_MSR, 1, 0, 0xc0000080u), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_MSR, 1, 0, 0xc0010117u), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_MSR, 0, 0, 0xc0010117u), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_MSR, 0, 0, 0x10u), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_MSR, 0, 0, 0x40000000u), VCORE_NSVM_L1); /* outside the map */
    uint64_t in8 = VCORE_VMCB_IOIO_IN | VCORE_VMCB_IOIO_SZ8;
    uint64_t in16 = VCORE_VMCB_IOIO_IN | VCORE_VMCB_IOIO_SZ16;
    uint64_t in32 = VCORE_VMCB_IOIO_IN | VCORE_VMCB_IOIO_SZ32;
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in8 | (0x61ull << 16), 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in8 | (0x60ull << 16), 0, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in16 | (0x60ull << 16), 0, 0), VCORE_NSVM_L1); /* 60H-61H */
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in32 | (0x5eull << 16), 0, 0), VCORE_NSVM_L1); /* 5EH-61H */
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in32 | (0x5dull << 16), 0, 0), VCORE_NSVM_L0); /* 5DH-60H */
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in16 | (0xffffull << 16), 0, 0), VCORE_NSVM_L1);
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in8 | (0xffffull << 16), 0, 0), VCORE_NSVM_L0);
    /* Without MSR_PROT / IOIO_PROT L1 wants none of them. */
    setup();
    ram[MSRPM12 + 0x800 + (0x80 * 2) / 8] = 0x3;
    ram[IOPM12 + 0x61 / 8] = 0xff;
    vmrun_ok();
    ck_assert_uint_eq(route(VCORE_VMEXIT_MSR, 0, 0, 0xc0000080u), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_IOIO, in8 | (0x61ull << 16), 0, 0), VCORE_NSVM_L0);
}
END_TEST

START_TEST(route_needs_l2)
{
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    uint32_t owner;
    ck_assert_int_eq(vcore_nsvm_route(n, &mem, &ex, &owner), VCORE_ERR_STATE);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_ERR_STATE);
}
END_TEST

START_TEST(reflect_writes_vmcb12_and_restores_l1)
{
    in.regs.gpr[VCORE_X86_RBX] = 0xb1;
    vmrun_ok();
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_HLT, 0x11, 0x22);
    ex.exit_int_info = VCORE_VMCB_EVENT_V | 0x20;
    ex.next_rip = 0x1001;
    ex.regs.rip = 0x1000;
    ex.regs.gpr[VCORE_X86_RAX] = 0xaa;
    ex.regs.gpr[VCORE_X86_RBX] = 0xb2;
    ex.regs.rflags = 0x202;
    ex.sregs.cr2 = 0xc2;
    ex.int_ctl = 0x5 | VCORE_VMCB_INT_V_IRQ;
    ex.int_state = VCORE_VMCB_STATE_INTERRUPT_SHADOW;
    ex.cpl = 3;
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    /* VMCB12: exit information ("#VMEXIT") ... */
    ck_assert_uint_eq(rd(VMCB12 + 0x70, 8), VCORE_VMEXIT_HLT);
    ck_assert_uint_eq(rd(VMCB12 + 0x78, 8), 0x11);
    ck_assert_uint_eq(rd(VMCB12 + 0x80, 8), 0x22);
    ck_assert_uint_eq(rd(VMCB12 + 0x88, 8), VCORE_VMCB_EVENT_V | 0x20);
    ck_assert_uint_eq(rd(VMCB12 + 0xc8, 8), 0x1001);
    ck_assert_uint_eq(rd(VMCB12 + 0x60, 4) & 0x1ff, 0x5 | VCORE_VMCB_INT_V_IRQ);
    ck_assert_uint_eq(rd(VMCB12 + 0x68, 4), VCORE_VMCB_STATE_INTERRUPT_SHADOW | VCORE_VMCB_STATE_GUEST_IF);
    /* ... and L2's state */
    ck_assert_uint_eq(rd(VMCB12 + 0x578, 8), 0x1000);
    ck_assert_uint_eq(rd(VMCB12 + 0x5f8, 8), 0xaa);
    ck_assert_uint_eq(rd(VMCB12 + 0x570, 8), 0x202);
    ck_assert_uint_eq(rd(VMCB12 + 0x640, 8), 0xc2);
    ck_assert_uint_eq(rd(VMCB12 + 0x4cb, 1), 3);
    ck_assert_uint_eq(rd(VMCB12 + 0x550, 8), 0x3000);
    /* L1 from the host save: RIP after VMRUN, its RSP, RAX and CR3, GIF 0. */
    ck_assert_uint_eq(res.regs.rip, 0x401003);
    ck_assert_uint_eq(res.regs.gpr[VCORE_X86_RAX], VMCB12);
    ck_assert_uint_eq(res.regs.gpr[VCORE_X86_RSP], 0x7000);
    ck_assert_uint_eq(res.regs.rflags, 2);
    ck_assert_uint_eq(res.regs.gpr[VCORE_X86_RBX], 0xb2); /* not switched: L2's value */
    ck_assert_uint_eq(res.sregs.cr3, 0x2000);
    ck_assert_uint_eq(res.sregs.seg[VCORE_X86_CS].selector, 0x8);
    ck_assert_uint_eq(res.sregs.cr2, 0xc2); /* CR2 is not host state */
    ck_assert_uint_eq(res.gif, 0);
    ck_assert_uint_eq(res.dr7, 0x400);
    ck_assert(!vcore_nsvm_in_guest(n));
    ck_assert(!vcore_nsvm_gif(n));
}
END_TEST

START_TEST(reflect_without_nrips_leaves_nrip)
{
    make_nsvm(VCORE_SVM_FEAT_NP);
    wr(VMCB12 + 0xc8, 0x77, 8);
    vmrun_ok();
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ex.next_rip = 0x1001;
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(rd(VMCB12 + 0xc8, 8), 0x77);
}
END_TEST

/* CVE-2026-46032 class: a failed L1 CR3 restore never leaves L1 running. */
START_TEST(cve_2026_46032_l1_cr3_restore_fails_shutdown)
{
    l1_legacy_pae();
    vmrun_ok();
    /* L2 (through a mapping L1 gave it) corrupts L1's PDPT. */
    wr(PDPT + 8, 0x81001 | (1u << 2), 8);
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_SHUTDOWN);
    ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_HOST_CR3);
    ck_assert(!vcore_nsvm_in_guest(n));
    /* An intact PDPT: the PDPTEs come back with L1's CR3. */
    setup();
    l1_legacy_pae();
    vmrun_ok();
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.pdptes[0], 0x80001);
    ck_assert_uint_eq(res.sregs.cr3, PDPT);
}
END_TEST

/* Seed 004: no unconditional MMU reset - only when roots or mode change. */
START_TEST(paging_reload_only_on_change)
{
    vcore_vmcb_t *v = vmcb12();
    v->save.cr3 = in.sregs.cr3;
    v->save.cr0 = in.sregs.cr0;
    v->save.efer = in.sregs.efer;
    v->save.cr4 = in.sregs.cr4;
    vmrun_ok();
    ck_assert_uint_eq(res.paging_changed, 0);
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.paging_changed, 0);
    v->save.cr3 = 0x9000;
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.paging_changed, 1);
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.paging_changed, 1);
    /* With nested paging L2 always runs on other roots. */
    setup();
    vmcb12()->save.cr3 = in.sregs.cr3;
    vmcb12()->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    vmcb12()->control.n_cr3 = NPT;
    vmrun_ok();
    ck_assert_uint_eq(res.paging_changed, 1);
}
END_TEST

START_TEST(clean_bits_keep_cached_save_fields)
{
    vmrun_ok();
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    /* L1 changes CR3 and RAX but leaves CRX clean: CR3 stays as cached,
     * RAX (no clean bit) is loaded. */
    wr(VMCB12 + 0x550, 0x5000, 8);
    wr(VMCB12 + 0x5f8, 0x4321, 8);
    wr(VMCB12 + 0xc0, VCORE_VMCB_CLEAN_CRX, 4);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_ENTER_L2);
    ck_assert_uint_eq(res.sregs.cr3, 0x3000);
    ck_assert_uint_eq(res.regs.gpr[VCORE_X86_RAX], 0x4321);
    ck_assert_uint_eq(res.tlb_flush, 0);
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    /* CRX dirty: the new CR3. */
    wr(VMCB12 + 0x550, 0x5000, 8);
    wr(VMCB12 + 0xc0, 0, 4);
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.sregs.cr3, 0x5000);
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    /* A cached value that is illegal in combination is checked, not trusted:
     * L1 clears EFER.SVME in memory but marks CRX clean -> cached EFER. */
    wr(VMCB12 + 0x4d0, 0, 8);
    wr(VMCB12 + 0xc0, VCORE_VMCB_CLEAN_CRX, 4);
    vmrun_ok();
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    /* Another VMCB12 address: every field is loaded (EFER.SVME 0 now fails). */
    memcpy(ram + VMCB12 + 0x1000, ram + VMCB12, 4096);
    wr(VMCB12 + 0x1000 + 0x4d0, 0, 8); /* EFER.SVME clear, CRX marked clean */
    in.regs.gpr[VCORE_X86_RAX] = VMCB12 + 0x1000;
    emulate(VCORE_NSVM_VMRUN);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.check, VCORE_SVM_CHECK_EFER_SVME);
    /* Without the VMCB-clean feature for L1, clean bits are ignored. */
    setup();
    make_nsvm(VCORE_SVM_FEAT_NP);
    vmrun_ok();
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    wr(VMCB12 + 0x550, 0x5000, 8);
    wr(VMCB12 + 0xc0, VCORE_VMCB_CLEAN_ALL_, 4);
    vmrun_ok();
    ck_assert_uint_eq(res.sregs.cr3, 0x5000);
}
END_TEST

START_TEST(tlb_control_and_asid_flush)
{
    vmrun_ok();
    ck_assert_uint_eq(res.tlb_flush, 1); /* first run of this VMCB12 */
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    vmrun_ok();
    ck_assert_uint_eq(res.tlb_flush, 0);
    ck_assert_uint_eq(vcore_nsvm_vmcb02(n)->control.tlb_control, VCORE_VMCB_TLB_NOTHING);
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    vmcb12()->control.tlb_control = VCORE_VMCB_TLB_FLUSH_ALL;
    vmrun_ok();
    ck_assert_uint_eq(res.tlb_flush, 1);
    /* L1's "flush everything" concerns its guests only: L2's ASID. */
    ck_assert_uint_eq(vcore_nsvm_vmcb02(n)->control.tlb_control, VCORE_VMCB_TLB_FLUSH_ASID);
    ex = l2_exit(VCORE_VMEXIT_HLT, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    vmcb12()->control.tlb_control = 0;
    vmcb12()->control.asid = 2;
    vmrun_ok();
    ck_assert_uint_eq(res.tlb_flush, 1);
}
END_TEST

/* L1's 4-level nested table: L2 GPA 0..2 MiB; page 1 -> 200000H (RW), page 2
 * read-only, page 3 not present, page 4 supervisor, page 5 NX, page 6 with
 * a reserved bit; 40000000H .. by a 2 MiB page. */
static void build_npt(void)
{
    wr(NPT + 0x0000, (NPT + 0x1000) | 7, 8);
    wr(NPT + 0x1000, (NPT + 0x2000) | 7, 8);
    wr(NPT + 0x1000 + 8, (NPT + 0x4000) | 7, 8);  /* 1 GiB: PD 54000H */
    wr(NPT + 0x2000, (NPT + 0x3000) | 7, 8);
    wr(NPT + 0x3000 + 1 * 8, 0x200000 | 7, 8);
    wr(NPT + 0x3000 + 2 * 8, 0x201000 | 5, 8);
    wr(NPT + 0x3000 + 4 * 8, 0x203000 | 3, 8);
    wr(NPT + 0x3000 + 5 * 8, 0x204000 | 7 | (1ull << 63), 8);
    wr(NPT + 0x3000 + 6 * 8, 0x205000 | 7 | (1ull << 45), 8);
    wr(NPT + 0x4000, 0x400000 | 0x87, 8);       /* 2 MiB page */
    wr(NPT + 0x4000 + 8, 0x600000 | 0x87 | 0x2000, 8); /* reserved bit 13 */
    vmcb12()->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    vmcb12()->control.n_cr3 = NPT;
}

START_TEST(npt_walk_translations_and_faults)
{
    build_npt();
    vmcb12()->save.g_pat = 0x0606060606060606ull;
    vmrun_ok();
    ck_assert_uint_eq(res.msrs.pat, 0x0606060606060606ull); /* G_PAT under nested paging */
    uint64_t l1 = 0, info = 0;
    const uint64_t US = VCORE_VMCB_NPF_US, P = VCORE_VMCB_NPF_P, FINAL = VCORE_VMCB_NPF_FINAL;
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x1abc, VCORE_NSVM_WRITE, false, &l1, &info), VCORE_OK);
    ck_assert_uint_eq(l1, 0x200abc);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x2000, VCORE_NSVM_READ, false, &l1, &info), VCORE_OK);
    ck_assert_uint_eq(l1, 0x201000);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x40123456, VCORE_NSVM_FETCH, false, &l1, &info), VCORE_OK);
    ck_assert_uint_eq(l1, 0x523456);
    /* "Nested Page Fault" error codes: US always (user access), RW for writes, ID for fetches. */
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x2000, VCORE_NSVM_WRITE, false, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, FINAL | US | VCORE_VMCB_NPF_RW | P);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x3000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, FINAL | US);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x3000, VCORE_NSVM_READ, true, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, VCORE_VMCB_NPF_TABLE | US);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x4000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, FINAL | US | P); /* U/S clear: nested walks are user accesses */
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x5000, VCORE_NSVM_READ, false, &l1, &info), VCORE_OK);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x5000, VCORE_NSVM_FETCH, false, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, FINAL | US | VCORE_VMCB_NPF_ID | P);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x6000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, FINAL | US | VCORE_VMCB_NPF_RSV | P); /* bit 45 >= MAXPHYADDR 40 */
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x40200000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, FINAL | US | VCORE_VMCB_NPF_RSV | P);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 1ull << 48, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_FAULT);
    /* Routing: a #NPF of an address L1's table maps is L0's; one it does not map is L1's. */
    ck_assert_uint_eq(route(VCORE_VMEXIT_NPF, US | P | FINAL, 0x1000, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(route(VCORE_VMEXIT_NPF, US | FINAL, 0x3000, 0), VCORE_NSVM_L1);
    /* Reflected with L1's own error code and the L2 address. */
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_NPF, US | P | VCORE_VMCB_NPF_RW | FINAL, 0x2000);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(rd(VMCB12 + 0x70, 8), 0x400);
    ck_assert_uint_eq(rd(VMCB12 + 0x78, 8), FINAL | US | VCORE_VMCB_NPF_RW | P);
    ck_assert_uint_eq(rd(VMCB12 + 0x80, 8), 0x2000);
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x1000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_STATE);
}
END_TEST

START_TEST(npt_walk_needs_l1_nested_paging)
{
    vmrun_ok();
    uint64_t l1, info;
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x1000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_STATE);
    /* A #NPF when L1 gives L2 no nested paging is L0's. */
    ck_assert_uint_eq(route(VCORE_VMEXIT_NPF, VCORE_VMCB_NPF_US | VCORE_VMCB_NPF_FINAL, 0x1000, 0), VCORE_NSVM_L0);
}
END_TEST

START_TEST(np_enable_ignored_without_np_feature)
{
    make_nsvm(VCORE_SVM_FEAT_NRIPS);
    l1_legacy_pae();
    vmcb12()->control.nested_ctl = VCORE_VMCB_NESTED_NP_ENABLE;
    vmcb12()->control.n_cr3 = RAM_SIZE + 0x1000; /* no PDPT there: would fail if used */
    vmcb12()->save.g_pat = 0x0606060606060606ull;
    vmrun_ok();
    uint64_t l1, info;
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x1000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_STATE);
    ck_assert_uint_eq(route(VCORE_VMEXIT_NPF, VCORE_VMCB_NPF_US | VCORE_VMCB_NPF_FINAL, 0x1000, 0), VCORE_NSVM_L0);
    ck_assert_uint_eq(res.msrs.pat, in.msrs.pat); /* no G_PAT without nested paging */
}
END_TEST

START_TEST(npt_walk_without_nx)
{
    in.sregs.efer &= ~EFER_NXE;
    build_npt();
    vmrun_ok();
    uint64_t l1, info;
    /* Bit 63 is reserved when L1's EFER.NXE is clear. */
    ck_assert_int_eq(vcore_nsvm_npt_walk(n, &mem, 0x5000, VCORE_NSVM_READ, false, &l1, &info), VCORE_ERR_FAULT);
    ck_assert_uint_eq(info, VCORE_VMCB_NPF_FINAL | VCORE_VMCB_NPF_US | VCORE_VMCB_NPF_RSV | VCORE_VMCB_NPF_P);
}
END_TEST

static uint64_t le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

START_TEST(kvm_state_round_trip)
{
    static uint8_t blob[VCORE_NSVM_KVM_SIZE];
    size_t len = sizeof(blob);
    /* Outside guest mode: the 128-byte header, format 1, GIF_SET. */
    ck_assert_int_eq(vcore_nsvm_kvm_export(n, in.sregs.efer, blob, &len), VCORE_OK);
    ck_assert_uint_eq(len, 128);
    ck_assert_uint_eq(le(blob, 2), VCORE_NSVM_KVM_GIF_SET);
    ck_assert_uint_eq(le(blob + 2, 2), 1);
    ck_assert_uint_eq(le(blob + 4, 4), 128);
    vcore_vmcb_intercept_set(&vmcb12()->control, VCORE_VMCB_INTERCEPT_CPUID, true);
    vmrun_ok();
    len = 100;
    ck_assert_int_eq(vcore_nsvm_kvm_export(n, in.sregs.efer, blob, &len), VCORE_ERR_RANGE);
    ck_assert_uint_eq(len, 128 + 4096);
    ck_assert_int_eq(vcore_nsvm_kvm_export(n, in.sregs.efer, blob, &len), VCORE_OK);
    ck_assert_uint_eq(le(blob, 2), VCORE_NSVM_KVM_GUEST_MODE | VCORE_NSVM_KVM_RUN_PENDING | VCORE_NSVM_KVM_GIF_SET);
    ck_assert_uint_eq(le(blob + 4, 4), 128 + 4096);
    ck_assert_uint_eq(le(blob + 8, 8), VMCB12);
    ck_assert_uint_eq(le(blob + 128 + 0x58, 4), 1);                /* VMCB12's ASID */
    ck_assert_uint_eq(le(blob + 128 + 0x400 + 0x178, 8), 0x401003); /* L1's RIP after VMRUN */
    ck_assert_uint_eq(le(blob + 128 + 0x400 + 0x150, 8), 0x2000);   /* L1's CR3 */
    /* Into a fresh state: guest mode, same controls, a #VMEXIT restores the same L1. */
    make_nsvm(VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS | VCORE_SVM_FEAT_VMCB_CLEAN);
    ck_assert_int_eq(vcore_nsvm_kvm_import(n, &mem, in.sregs.efer, blob, len, &diag), VCORE_OK);
    ck_assert(vcore_nsvm_in_guest(n));
    ck_assert(vcore_nsvm_gif(n));
    ck_assert(vcore_vmcb_intercept_test(&vcore_nsvm_vmcb02(n)->control, VCORE_VMCB_INTERCEPT_VMLOAD));
    ck_assert_uint_eq(route(VCORE_VMEXIT_CPUID, 0, 0, 0), VCORE_NSVM_L1);
    vcore_nsvm_l2_exit_t ex = l2_exit(VCORE_VMEXIT_CPUID, 0, 0);
    ck_assert_int_eq(vcore_nsvm_reflect(n, &mem, &ex, &res, &diag), VCORE_OK);
    ck_assert_uint_eq(res.outcome, VCORE_NSVM_OUT_VMEXIT);
    ck_assert_uint_eq(res.regs.rip, 0x401003);
    ck_assert_uint_eq(res.sregs.cr3, 0x2000);
    ck_assert_uint_eq(rd(VMCB12 + 0x70, 8), VCORE_VMEXIT_CPUID);
}
END_TEST

static void import_refused(const uint8_t *blob, size_t len, uint64_t efer, uint32_t id)
{
    ck_assert_int_eq(vcore_nsvm_kvm_import(n, &mem, efer, blob, len, &diag), VCORE_ERR_INVAL);
    ck_assert_msg(diag.id == id, "diag %#x, expected %#x", diag.id, id);
    ck_assert(!vcore_nsvm_in_guest(n)); /* a refused import changes nothing */
    ck_assert(vcore_nsvm_gif(n));
}

START_TEST(kvm_state_refusals)
{
    static uint8_t good[VCORE_NSVM_KVM_SIZE], b[VCORE_NSVM_KVM_SIZE];
    size_t len = sizeof(good);
    vmrun_ok();
    ck_assert_int_eq(vcore_nsvm_kvm_export(n, in.sregs.efer, good, &len), VCORE_OK);
    make_nsvm(VCORE_SVM_FEAT_NP);
    uint64_t efer = in.sregs.efer;
    memcpy(b, good, len);
    b[2] = 0; /* format 0 = VMX */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_FORMAT);
    import_refused(good, 100, efer, VCORE_DIAG_NSVM_STATE_FORMAT);
    import_refused(good, 128 + 4095, efer, VCORE_DIAG_NSVM_STATE_FORMAT); /* size field beyond the buffer */
    memcpy(b, good, len);
    b[4] = 128; b[5] = 0; /* guest mode with the header only */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_FORMAT);
    memcpy(b, good, len);
    b[0] |= 0x4; /* unknown flag */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_FLAGS);
    import_refused(good, len, efer & ~EFER_SVME, VCORE_DIAG_NSVM_STATE_FLAGS);
    memcpy(b, good, len);
    b[8] |= 0x10; /* VMCB12 address not aligned */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_VMCB_PA);
    memcpy(b, good, len);
    b[8 + 5] = 0x01; /* 1 << 40: beyond MAXPHYADDR */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_VMCB_PA);
    memcpy(b, good, len);
    b[128 + 0x400 + 0x158 + 3] &= 0x7f; /* L1's CR0.PG clear */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_HOST);
    memcpy(b, good, len);
    b[128 + 0x400 + 0x170 + 2] |= 0x2; /* L1's RFLAGS.VM */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_HOST);
    memcpy(b, good, len);
    memset(b + 128 + 0x58, 0, 4); /* ASID 0 */
    import_refused(b, len, efer, VCORE_DIAG_NSVM_STATE_CONTROLS);
    /* Without guest mode: only GIF is taken; GIF and RUN_PENDING alone are refused. */
    memset(b, 0, 128);
    b[2] = 1;
    b[4] = 128;
    ck_assert_int_eq(vcore_nsvm_kvm_import(n, &mem, efer & ~EFER_SVME, b, 128, &diag), VCORE_OK);
    ck_assert(!vcore_nsvm_gif(n));
    b[0] = VCORE_NSVM_KVM_RUN_PENDING;
    ck_assert_int_eq(vcore_nsvm_kvm_import(n, &mem, efer, b, 128, &diag), VCORE_ERR_INVAL);
    ck_assert_uint_eq(diag.id, VCORE_DIAG_NSVM_STATE_FLAGS);
}
END_TEST

START_TEST(route_table_covers_exit_codes_once)
{
    /* Every row lies inside the APM's exit-code space and rows do not overlap. */
    static const struct {
        uint64_t first, last;
    } rows[] = {
#define ROW(name, first, last, rule, icpt, text) {(first), (last)},
        VCORE_NSVM_ROUTE_LIST(ROW)
#undef ROW
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ck_assert_uint_le(rows[i].first, rows[i].last);
        for (size_t j = i + 1; j < sizeof(rows) / sizeof(rows[0]); j++)
            ck_assert(rows[j].first > rows[i].last || rows[j].last < rows[i].first);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nsvm");
    TCase *tc = tcase_create("nsvm");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, init_refusals);
    tcase_add_test(tc, ud_without_svme);
    tcase_add_test(tc, stgi_skinit_enabled_by_skinit_feature);
    tcase_add_test(tc, ud_outside_protected_mode);
    tcase_add_test(tc, gp_at_cpl3);
    tcase_add_test(tc, gp_rax_alignment_and_width);
    tcase_add_test(tc, hsave_pa_rules);
    tcase_add_test(tc, gif_model);
    tcase_add_test(tc, invlpga_operands);
    tcase_add_test(tc, vmsave_vmload_layout);
    tcase_add_test(tc, vmrun_enters_l2);
    tcase_add_test(tc, vmrun_invalid_writes_exit_code);
    tcase_add_test(tc, cve_2021_29657_vmcb12_read_once);
    tcase_add_test(tc, cve_2021_3656_vmload_vmsave_forced);
    tcase_add_test(tc, cve_2022_3344_shutdown_forced);
    tcase_add_test(tc, cve_2021_3653_int_ctl_filtered);
    tcase_add_test(tc, pause_intercepted_by_l1_runs_without_l0_filter);
    tcase_add_test(tc, pause_not_intercepted_by_l1_keeps_l0_filter);
    tcase_add_test(tc, msrpm_iopm_merged);
    tcase_add_test(tc, l2_pae_pdptes_loaded_or_vmexit_invalid);
    tcase_add_test(tc, cve_2024_50115_ncr3_low_bits_ignored);
    tcase_add_test(tc, route_by_intercept_vectors);
    tcase_add_test(tc, route_by_permission_maps);
    tcase_add_test(tc, route_needs_l2);
    tcase_add_test(tc, reflect_writes_vmcb12_and_restores_l1);
    tcase_add_test(tc, reflect_without_nrips_leaves_nrip);
    tcase_add_test(tc, cve_2026_46032_l1_cr3_restore_fails_shutdown);
    tcase_add_test(tc, paging_reload_only_on_change);
    tcase_add_test(tc, clean_bits_keep_cached_save_fields);
    tcase_add_test(tc, tlb_control_and_asid_flush);
    tcase_add_test(tc, npt_walk_translations_and_faults);
    tcase_add_test(tc, npt_walk_needs_l1_nested_paging);
    tcase_add_test(tc, npt_walk_without_nx);
    tcase_add_test(tc, np_enable_ignored_without_np_feature);
    tcase_add_test(tc, kvm_state_round_trip);
    tcase_add_test(tc, kvm_state_refusals);
    tcase_add_test(tc, route_table_covers_exit_codes_once);
    suite_add_tcase(s, tc);
    return vcore_test_run(s);
}
