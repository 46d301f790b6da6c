/*
 * svm_fake.c - strict fake of the svm primitives (see svm_fake.h).
 */
#include "svm_fake.h"

#include <string.h>

/* A broken rule fails the Check test that runs the fake; built with
 * SVM_FAKE_ABORT (bench/svm_bench.c) it prints the rule and aborts. */
#ifdef SVM_FAKE_ABORT
#include <stdio.h>
#include <stdlib.h>
#define SVM_FAKE_ASSERT(cond, ...)                                                                  \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, __VA_ARGS__);                                                           \
            fputc('\n', stderr);                                                                    \
            abort();                                                                                \
        }                                                                                           \
    } while (0)
#else
#include <check.h>
#define SVM_FAKE_ASSERT(cond, ...) ck_assert_msg(cond, __VA_ARGS__)
#endif
#define SVM_FAKE_FAIL(...) SVM_FAKE_ASSERT(0, __VA_ARGS__)

#include <virtcore/error.h>
#include <virtcore/x86/msr.h>
#include <virtcore/x86/svm_checks.h>

svm_fake_t svm_fake;

#define EFER_SVME (1ull << 12)
#define MSR_VM_CR 0xc0010114u
#define MSR_VM_HSAVE_PA 0xc0010117u

void svm_fake_reset(void)
{
    memset(&svm_fake, 0, sizeof(svm_fake));
    svm_fake.max_ext_leaf = 0x8000001fu;
    svm_fake.cpuid_81_ecx = 1u << 2; /* SVM */
    svm_fake.svm_features = VCORE_SVM_FEAT_NP | VCORE_SVM_FEAT_NRIPS | VCORE_SVM_FEAT_VMCB_CLEAN |
                            VCORE_SVM_FEAT_FLUSH_BY_ASID;
    svm_fake.nasid = 16;
    svm_fake.tsc = 1000000;
    /* the host's own FS/GS/TR/... (a kernel with per-CPU data in GS) */
    svm_fake.host_ls.fs.selector = 0;
    svm_fake.host_ls.gs.base = 0xffff888000000000ull;
    svm_fake.host_ls.tr.selector = 0x18;
    svm_fake.host_ls.tr.attrib = 0x8b;
    svm_fake.host_ls.tr.limit = 0x67;
    svm_fake.host_ls.tr.base = 0xffff800000003000ull;
    svm_fake.host_ls.kernel_gs_base = 0x00007f0000001000ull;
    svm_fake.host_ls.star = 0x0023001000000000ull;
    svm_fake.host_ls.lstar = 0xffffffff81800000ull;
    svm_fake.host_ls.cstar = 0xffffffff81800100ull;
    svm_fake.host_ls.sfmask = 0x47700;
    svm_fake.host_ls.sysenter_cs = 0x10;
    for (uint32_t i = 0; i < SVM_FAKE_MAX_CPUS; i++) {
        svm_fake.cpu[i].efer = 0xd01; /* SCE, LME, LMA, NXE: a long-mode host */
        svm_fake.cpu[i].gif = true;
        svm_fake.cpu[i].ls = svm_fake.host_ls;
        svm_fake.cpu[i].cr0 = 0x80000033ull; /* PG, NE, ET, MP, PE */
        svm_fake.cpu[i].cr4 = 0x6a0ull;      /* OSXMMEXCPT, OSFXSR, PGE, PAE */
        /* the host's own x87/SSE state: FCW 037FH, MXCSR 1F80H, MXCSR_MASK FFFFH (DAZ) */
        svm_fake.cpu[i].fx[0] = 0x7f;
        svm_fake.cpu[i].fx[1] = 0x03;
        svm_fake.cpu[i].fx[24] = 0x80;
        svm_fake.cpu[i].fx[25] = 0x1f;
        svm_fake.cpu[i].fx[28] = 0xff;
        svm_fake.cpu[i].fx[29] = 0xff;
    }
}

static void need_svm(const char *insn)
{
    SVM_FAKE_ASSERT(SVM_FAKE_CPU.efer & EFER_SVME, "svm_fake: %s with EFER.SVME = 0 would #UD (cpu %u)", insn,
                  svm_fake.this_cpu);
}

static void need_page(uint64_t pa, const char *insn)
{
    /* "VMRUN"/"VMLOAD"/"VMSAVE": rAX must be 4-KiB aligned and below MAXPHYADDR, else #GP. */
    SVM_FAKE_ASSERT((pa & 0xfffu) == 0 && pa != 0 && (pa >> SVM_FAKE_MAXPHYADDR) == 0,
                  "svm_fake: %s of %#llx would #GP", insn, (unsigned long long)pa);
}

void vcore__svm_clgi(void)
{
    need_svm("CLGI");
    svm_fake.n_clgi++;
    SVM_FAKE_CPU.gif = false;
}

void vcore__svm_stgi(void)
{
    need_svm("STGI");
    svm_fake.n_stgi++;
    /* The backend's protocol: the host's FS, GS, TR, LDTR and system-call
     * MSRs are back before interrupts can reach the host. */
    SVM_FAKE_ASSERT(memcmp(&SVM_FAKE_CPU.ls, &svm_fake.host_ls, sizeof(svm_fake_ls_t)) == 0,
                  "svm_fake: STGI with the guest's VMLOAD state still loaded");
    SVM_FAKE_CPU.gif = true;
}

/* The VMLOAD state lives at these offsets of a VMCB ("VMSAVE and VMLOAD Instructions"). */
static void ls_from_page(svm_fake_ls_t *ls, const vcore_vmcb_t *v)
{
    ls->fs = v->save.fs;
    ls->gs = v->save.gs;
    ls->tr = v->save.tr;
    ls->ldtr = v->save.ldtr;
    ls->kernel_gs_base = v->save.kernel_gs_base;
    ls->star = v->save.star;
    ls->lstar = v->save.lstar;
    ls->cstar = v->save.cstar;
    ls->sfmask = v->save.sfmask;
    ls->sysenter_cs = v->save.sysenter_cs;
    ls->sysenter_esp = v->save.sysenter_esp;
    ls->sysenter_eip = v->save.sysenter_eip;
}

static void ls_to_page(vcore_vmcb_t *v, const svm_fake_ls_t *ls)
{
    v->save.fs = ls->fs;
    v->save.gs = ls->gs;
    v->save.tr = ls->tr;
    v->save.ldtr = ls->ldtr;
    v->save.kernel_gs_base = ls->kernel_gs_base;
    v->save.star = ls->star;
    v->save.lstar = ls->lstar;
    v->save.cstar = ls->cstar;
    v->save.sfmask = ls->sfmask;
    v->save.sysenter_cs = ls->sysenter_cs;
    v->save.sysenter_esp = ls->sysenter_esp;
    v->save.sysenter_eip = ls->sysenter_eip;
}

void vcore__svm_vmload(uint64_t pa)
{
    need_svm("VMLOAD");
    need_page(pa, "VMLOAD");
    svm_fake.n_vmload++;
    ls_from_page(&SVM_FAKE_CPU.ls, (const vcore_vmcb_t *)(uintptr_t)pa);
    SVM_FAKE_CPU.ls_from = pa;
}

void vcore__svm_vmsave(uint64_t pa)
{
    need_svm("VMSAVE");
    need_page(pa, "VMSAVE");
    svm_fake.n_vmsave++;
    ls_to_page((vcore_vmcb_t *)(uintptr_t)pa, &SVM_FAKE_CPU.ls);
}

void vcore__svm_invlpga(uint64_t va, uint32_t asid)
{
    need_svm("INVLPGA");
    SVM_FAKE_ASSERT(svm_fake.n_invlpga < SVM_FAKE_MAX_INVLPGA, "svm_fake: too many INVLPGAs to log");
    svm_fake.invlpga[svm_fake.n_invlpga].va = va;
    svm_fake.invlpga[svm_fake.n_invlpga].asid = asid;
    svm_fake.invlpga[svm_fake.n_invlpga].cpu = svm_fake.this_cpu;
    svm_fake.n_invlpga++;
}

/* FXSAVE/FXRSTOR: #UD with CR0.EM or without CR4.OSFXSR in this model (the
 * backend needs the XMM registers saved), #NM with CR0.TS, #GP on a
 * misaligned area or an MXCSR bit outside MXCSR_MASK (APM Vol. 5, "FXSAVE",
 * "FXRSTOR"). */
static void fx_check(const void *area, const char *what)
{
    SVM_FAKE_ASSERT(((uintptr_t)area & 15u) == 0, "svm_fake: %s of a misaligned area would #GP", what);
    SVM_FAKE_ASSERT(SVM_FAKE_CPU.cr4 & (1u << 9), "svm_fake: %s without CR4.OSFXSR", what);
    SVM_FAKE_ASSERT(!(SVM_FAKE_CPU.cr0 & 0xcu), "svm_fake: %s with CR0.EM or CR0.TS would fault", what);
}

void vcore__svm_fxsave(void *area)
{
    fx_check(area, "FXSAVE");
    svm_fake.n_fxsave++;
    memcpy(area, SVM_FAKE_CPU.fx, sizeof(SVM_FAKE_CPU.fx));
}

void vcore__svm_fxrstor(const void *area)
{
    fx_check(area, "FXRSTOR");
    const uint8_t *a = area;
    uint8_t *fx = SVM_FAKE_CPU.fx;
    uint32_t mxcsr = (uint32_t)a[24] | (uint32_t)a[25] << 8 | (uint32_t)a[26] << 16 | (uint32_t)a[27] << 24;
    uint32_t mask = (uint32_t)fx[28] | (uint32_t)fx[29] << 8;
    SVM_FAKE_ASSERT((mxcsr & ~mask) == 0, "svm_fake: FXRSTOR of MXCSR %#x would #GP", mxcsr);
    svm_fake.n_fxrstor++;
    /* MXCSR_MASK is the processor's; FXRSTOR does not load it. */
    uint8_t keep[4];
    memcpy(keep, fx + 28, 4);
    memcpy(fx, a, sizeof(SVM_FAKE_CPU.fx));
    memcpy(fx + 28, keep, 4);
}

uint64_t vcore__svm_read_cr0(void)
{
    return SVM_FAKE_CPU.cr0;
}

uint64_t vcore__svm_read_cr4(void)
{
    return SVM_FAKE_CPU.cr4;
}

void vcore__svm_host_mc(void)
{
    svm_fake.n_host_mc++;
}

static svm_fake_vmcb_t *vmcb_rec(uint64_t pa)
{
    for (uint32_t i = 0; i < svm_fake.nvmcb; i++)
        if (svm_fake.vmcb[i].pa == pa)
            return &svm_fake.vmcb[i];
    SVM_FAKE_ASSERT(svm_fake.nvmcb < SVM_FAKE_MAX_VMCBS, "svm_fake: too many VMCBs");
    svm_fake_vmcb_t *r = &svm_fake.vmcb[svm_fake.nvmcb++];
    memset(r, 0, sizeof(*r));
    r->pa = pa;
    r->cpu = -1;
    return r;
}

/* The byte ranges each clean bit covers ("VMCB Clean Field"). */
static const struct {
    uint32_t bit;
    uint16_t off, len;
} clean_ranges[] = {
    {VCORE_VMCB_CLEAN_I, 0x000, 0x18},    {VCORE_VMCB_CLEAN_I, 0x03c, 4},
    {VCORE_VMCB_CLEAN_I, 0x050, 8},       {VCORE_VMCB_CLEAN_IOPM, 0x040, 16},
    {VCORE_VMCB_CLEAN_ASID, 0x058, 4},    {VCORE_VMCB_CLEAN_TPR, 0x060, 8},
    {VCORE_VMCB_CLEAN_NP, 0x090, 8},      {VCORE_VMCB_CLEAN_NP, 0x0b0, 8},
    {VCORE_VMCB_CLEAN_NP, 0x668, 8},      {VCORE_VMCB_CLEAN_CRX, 0x548, 24},
    {VCORE_VMCB_CLEAN_CRX, 0x4d0, 8},     {VCORE_VMCB_CLEAN_DRX, 0x560, 16},
    {VCORE_VMCB_CLEAN_DT, 0x460, 16},     {VCORE_VMCB_CLEAN_DT, 0x480, 16},
    {VCORE_VMCB_CLEAN_SEG, 0x400, 64},    {VCORE_VMCB_CLEAN_SEG, 0x4cb, 1},
    {VCORE_VMCB_CLEAN_CR2, 0x640, 8},     {VCORE_VMCB_CLEAN_LBR, 0x670, 0x28},
    {VCORE_VMCB_CLEAN_AVIC, 0x098, 8},    {VCORE_VMCB_CLEAN_AVIC, 0x0e0, 8},
    {VCORE_VMCB_CLEAN_AVIC, 0x0f0, 16},
};

static void check_clean_bits(const vcore_vmcb_t *v, svm_fake_vmcb_t *rec)
{
    uint32_t clean = (svm_fake.svm_features & VCORE_SVM_FEAT_VMCB_CLEAN) ? v->control.clean : 0;
    bool first = rec->cpu != (int)svm_fake.this_cpu || rec->asid != v->control.asid;
    svm_fake.clean = clean;
    if (first) {
        SVM_FAKE_ASSERT(clean == 0, "svm_fake: clean bits %#x on the first VMRUN with ASID %u on cpu %u", clean,
                      v->control.asid, svm_fake.this_cpu);
        return;
    }
    for (size_t i = 0; i < sizeof(clean_ranges) / sizeof(clean_ranges[0]); i++) {
        if (!(clean & clean_ranges[i].bit))
            continue;
        SVM_FAKE_ASSERT(memcmp((const uint8_t *)v + clean_ranges[i].off,
                             (const uint8_t *)&rec->after + clean_ranges[i].off, clean_ranges[i].len) == 0,
                      "svm_fake: clean bit %#x set but the VMCB changed at %#x", clean_ranges[i].bit,
                      clean_ranges[i].off);
    }
}

/* The processor's own consistency checks: the library's model of them, with
 * the fake processor's CPUID (a long-mode host with XSAVE, PCID, FSGSBASE,
 * SMEP, SMAP, UMIP, PKU). */
static uint32_t vmrun_checks(const vcore_vmcb_t *v)
{
    static const vcore_cpuid_entry_t t[] = {
        {0x00000001u, 0, 0, 0, 0, (1u << 26) | (1u << 17), 0},
        {0x00000007u, 0, 0, 0, (1u << 0) | (1u << 7) | (1u << 20), (1u << 2) | (1u << 3), 0},
        {0x80000000u, 0, 0, 0x8000001fu, 0, 0, 0},
        {0x80000001u, 0, 0, 0, 0, 1u << 2, (1u << 29) | (1u << 20) | (1u << 11) | (1u << 25)},
    };
    vcore_svm_check_input_t in;
    vcore_svm_verdict_t out;
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    in.size = sizeof(in);
    out.size = sizeof(out);
    in.vmcb12 = v;
    in.svm_features = svm_fake.svm_features;
    in.maxphyaddr = SVM_FAKE_MAXPHYADDR;
    in.l1_efer = SVM_FAKE_CPU.efer;
    in.cpuid = t;
    in.ncpuid = 4;
    SVM_FAKE_ASSERT(vcore_svm_check_vmrun(&in, &out, NULL, 0) == VCORE_OK, "svm_fake: check input refused");
    return out.check;
}

void vcore__svm_vmrun(vcore__svm_gprs_t *g, uint64_t pa)
{
    svm_fake_cpu_t *cpu = &SVM_FAKE_CPU;
    need_svm("VMRUN");
    need_page(pa, "VMRUN");
    SVM_FAKE_ASSERT(cpu->hsave_pa != 0 && (cpu->hsave_pa & 0xfffu) == 0,
                  "svm_fake: VMRUN without a host save area would #GP");
    /* The backend's protocol: GIF clear, the guest's VMLOAD state loaded. */
    SVM_FAKE_ASSERT(!cpu->gif, "svm_fake: VMRUN with GIF set (no CLGI)");
    SVM_FAKE_ASSERT(cpu->ls_from == pa, "svm_fake: VMRUN without VMLOAD of the guest's VMCB");
    vcore_vmcb_t *v = (vcore_vmcb_t *)(uintptr_t)pa;
    svm_fake_vmcb_t *rec = vmcb_rec(pa);
    svm_fake.n_vmrun++;
    cpu->n_vmrun++;
    check_clean_bits(v, rec);
    svm_fake.tlb_control = v->control.tlb_control;
    svm_fake.asid = v->control.asid;
    if (v->control.tlb_control)
        svm_fake.n_flush++;
    rec->cpu = (int)svm_fake.this_cpu;
    rec->asid = v->control.asid;
    svm_fake.inj = 0;
    svm_fake.check = vmrun_checks(v);
    if (svm_fake.check) {
        SVM_FAKE_ASSERT(svm_fake.expect_invalid, "svm_fake: the backend built an illegal VMCB (check %#x)",
                      svm_fake.check);
        /* #VMEXIT(VMEXIT_INVALID): nothing of the guest ran. */
        svm_fake.n_invalid++;
        v->control.exit_code = VCORE_VMEXIT_INVALID_CODE;
        v->control.exit_info1 = 0;
        v->control.exit_info2 = 0;
        v->control.exit_int_info = 0;
        v->control.event_inj &= ~VCORE_VMCB_EVENT_V;
        rec->after = *v;
        return;
    }
    if (v->control.event_inj & VCORE_VMCB_EVENT_V) {
        svm_fake.inj = v->control.event_inj;
        svm_fake.n_injected++;
    }
    SVM_FAKE_ASSERT(svm_fake.guest != NULL, "svm_fake: VMRUN without a guest callback");
    svm_fake.exit_set = false;
    svm_fake.guest(&svm_fake, v, g, svm_fake.guest_arg);
    SVM_FAKE_ASSERT(svm_fake.exit_set, "svm_fake: the guest callback described no #VMEXIT");
    /* #VMEXIT: the event was taken; GIF stays clear. */
    v->control.event_inj &= ~VCORE_VMCB_EVENT_V;
    rec->after = *v;
}

void svm_fake_exit(uint64_t code, uint64_t info1, uint64_t info2, uint64_t next_rip)
{
    vcore_vmcb_t *v = (vcore_vmcb_t *)(uintptr_t)SVM_FAKE_CPU.ls_from;
    v->control.exit_code = code;
    v->control.exit_info1 = info1;
    v->control.exit_info2 = info2;
    v->control.exit_int_info = 0;
    if (svm_fake.svm_features & VCORE_SVM_FEAT_NRIPS)
        v->control.next_rip = next_rip;
    svm_fake.exit_set = true;
}

uint64_t vcore__svm_rdmsr(uint32_t msr)
{
    svm_fake.n_rdmsr++;
    switch (msr) {
    case VCORE_MSR_IA32_EFER:
        return SVM_FAKE_CPU.efer;
    case MSR_VM_CR:
        return SVM_FAKE_CPU.vm_cr;
    case MSR_VM_HSAVE_PA:
        return SVM_FAKE_CPU.hsave_pa;
    default:
        SVM_FAKE_FAIL("svm_fake: RDMSR of an MSR the fake does not model: %#x", msr);
        return 0;
    }
}

void vcore__svm_wrmsr(uint32_t msr, uint64_t value)
{
    svm_fake.n_wrmsr++;
    switch (msr) {
    case VCORE_MSR_IA32_EFER:
        SVM_FAKE_CPU.efer = value;
        break;
    case MSR_VM_HSAVE_PA:
        /* "VM_HSAVE_PA MSR": bits 11:0 must be zero, else #GP. */
        SVM_FAKE_ASSERT((value & 0xfffu) == 0, "svm_fake: VM_HSAVE_PA %#llx would #GP",
                      (unsigned long long)value);
        SVM_FAKE_CPU.hsave_pa = value;
        break;
    default:
        SVM_FAKE_FAIL("svm_fake: WRMSR of an MSR the fake does not model: %#x", msr);
    }
}

uint64_t vcore__svm_rdtsc(void)
{
    svm_fake.tsc += 10;
    return svm_fake.tsc;
}

uint32_t vcore__svm_cpl(void)
{
    return 0;
}

void vcore__svm_cpuid(uint32_t leaf, uint32_t out[4])
{
    memset(out, 0, 4 * sizeof(uint32_t));
    /* "CPUID": an extended leaf above 8000_0000H:EAX returns no defined data */
    SVM_FAKE_ASSERT(leaf <= 0x80000000u || leaf <= svm_fake.max_ext_leaf,
                    "svm_fake: CPUID leaf %#x above the highest extended leaf %#x", leaf, svm_fake.max_ext_leaf);
    switch (leaf) {
    case 0x80000000u:
        out[0] = svm_fake.max_ext_leaf;
        break;
    case 0x80000001u:
        out[2] = svm_fake.cpuid_81_ecx;
        out[3] = (1u << 29) | (1u << 20) | (1u << 11);
        break;
    case 0x8000000au:
        out[0] = 1;
        out[1] = svm_fake.nasid;
        out[3] = svm_fake.svm_features;
        break;
    default:
        SVM_FAKE_FAIL("svm_fake: CPUID leaf the fake does not model: %#x", leaf);
    }
}
