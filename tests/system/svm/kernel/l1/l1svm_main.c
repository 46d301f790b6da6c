/*
 * l1svm_main.c - L1: a minimal SVM hypervisor that runs an L2 guest
 * through a fixed program of intercepts and checks each #VMEXIT against
 * AMD APM Vol. 2 (EXITCODE, EXITINFO1/2, EXITINTINFO, nRIP: "Intercept
 * Operation", "Instruction Intercepts", "IOIO Intercepts", "MSR
 * Intercepts", "Exception Intercepts", "Nested Paging"), or runs broken
 * VMCBs and records what VMRUN does ("Canonicalization and Consistency
 * Checks").
 *
 * It runs the same way on the emulated processor directly (bare) and as
 * the guest of libvirtcore (nested); only its log prefix tells which.
 */
#include <stdbool.h>
#include <stddef.h>

#include "l1svm.h"
#include "l1svm_vmcb.h"

void l1s_main(uint64_t mode, uint64_t first_var);
void l1s_vmrun(uint64_t *gprs, uint64_t vmcb_pa, uint64_t host_pa);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

/* L2's code (l1svm_entry.S). */
extern const uint8_t l2s_code[], l2s_de_handler[], l2s_at_cpuid[], l2s_at_out[], l2s_at_in[], l2s_at_rdmsr[],
    l2s_at_wrmsr[], l2s_at_ud[], l2s_at_npf[], l2s_after_npf[], l2s_at_vmmcall[], l2s_at_hlt[], l2s_at_done[],
    l2s_vmmcall_only[];

#define PA(p) ((uint64_t)(uintptr_t)(p))
#define PAGE __attribute__((aligned(4096)))

static uint8_t vmcb[4096] PAGE;       /* L2's VMCB */
static uint8_t l1_save[4096] PAGE;    /* L1's VMSAVE area (FS, GS, TR, LDTR, syscall MSRs) */
static uint8_t hsave[4096] PAGE;      /* the processor's host save area (VM_HSAVE_PA) */
static uint8_t iopm[3 * 4096] PAGE;   /* 12 KiB: one bit per port ("I/O Permissions Map") */
static uint8_t msrpm[2 * 4096] PAGE;  /* 8 KiB: two bits per MSR ("MSR Permissions Map") */
static uint64_t npt_pml4[512] PAGE, npt_pdpt[512] PAGE, npt_pd[512] PAGE;
static uint64_t l2_pml4[512] PAGE, l2_pdpt[512] PAGE, l2_pd[512] PAGE;
static uint64_t l2_gdt[8] PAGE;
static uint8_t l2_idt[4096] PAGE;
static uint8_t l2_tss[4096] PAGE;
static uint8_t l2_stack[16384] PAGE;
static uint32_t l2_scratch PAGE;      /* the #NPF step's read target without nested paging */

static l1s_report_t *const rep = (l1s_report_t *)(uintptr_t)L1S_REPORT;
static uint64_t l1_flags;
static uint32_t l1_svm_edx;
static uint32_t l1_maxphy;
static uint64_t l1_saved_efer, l1_saved_hsave;
static uint64_t l1_vm_cr; /* VM_CR as L1 read it */
static uint64_t g[16]; /* L2's general-purpose registers (encoding order; RAX and RSP are in the VMCB) */

enum { RCX = 1, RDX = 2, RBX = 3, RSI = 6, RDI = 7, R8 = 8, R9 = 9, R10 = 10, R11 = 11, R14 = 14, R15 = 15 };

/* L2's PAT under nested paging: "Nested Paging and VMRUN/#VMEXIT" loads
 * G_PAT as the guest's PAT. Byte 5 is WC (01h), the power-up PAT has WT
 * there, so a read of L1's PAT cannot pass for it. */
#define L2_GPAT 0x0007010600070406ull

/* ---- instructions ---- */

static inline uint64_t l1s_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void l1s_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void l1s_cpuid(uint32_t leaf, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

/* ---- the VMCB ---- */

static uint64_t vr(const uint8_t *v, uint32_t off, uint32_t bytes)
{
    uint64_t x = 0;
    memcpy(&x, v + off, bytes);
    return x;
}

static void vw(uint8_t *v, uint32_t off, uint32_t bytes, uint64_t x)
{
    memcpy(v + off, &x, bytes);
}

static uint64_t vr64(uint32_t off)
{
    return vr(vmcb, off, 8);
}

static void vw64(uint32_t off, uint64_t x)
{
    vw(vmcb, off, 8, x);
}

static void vseg(uint8_t *v, uint32_t off, uint16_t sel, uint16_t attr, uint32_t limit, uint64_t base)
{
    vw(v, off, 2, sel);
    vw(v, off + 2, 2, attr);
    vw(v, off + 4, 4, limit);
    vw(v, off + 8, 8, base);
}

/* ---- console and report ---- */

static size_t l1s_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void l1s_puts(const char *s)
{
    size_t n = l1s_strlen(s);
    __asm__ volatile("cld; rep outsb" : "+S"(s), "+c"(n) : "d"((uint16_t)L1S_PORT_LOG) : "memory");
}

static void l1s_hex(char *buf, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    int n = 0, i;
    buf[n++] = '0';
    buf[n++] = 'x';
    for (i = 60; i > 0 && ((v >> i) & 0xf) == 0; i -= 4)
        ;
    for (; i >= 0; i -= 4)
        buf[n++] = digits[(v >> i) & 0xf];
    buf[n] = '\0';
}

static void l1s_puthex(uint64_t v)
{
    char b[20];
    l1s_hex(b, v);
    l1s_puts(b);
}

static void l1s_detail(l1s_result_t *r, const char *s)
{
    while (*s && r->len + 1 < sizeof(r->detail))
        r->detail[r->len++] = *s++;
    r->detail[r->len] = '\0';
}

static void l1s_detail_hex(l1s_result_t *r, uint64_t v)
{
    char b[20];
    l1s_hex(b, v);
    l1s_detail(r, b);
}

/* Marks a case failed with a message and a value (the first failure is kept). */
static void l1s_fail(uint32_t c, const char *msg, uint64_t v)
{
    l1s_result_t *r = &rep->cases[c];
    if (r->state == L1S_FAIL)
        return;
    r->state = L1S_FAIL;
    r->len = 0;
    l1s_detail(r, msg);
    l1s_detail(r, " ");
    l1s_detail_hex(r, v);
}

static void l1s_pass(uint32_t c)
{
    if (rep->cases[c].state == L1S_NOT_RUN)
        rep->cases[c].state = L1S_PASS;
}

static void l1s_skip(uint32_t c, const char *why)
{
    rep->cases[c].state = L1S_SKIP;
    rep->cases[c].len = 0;
    l1s_detail(&rep->cases[c], why);
}

#define CHECK(c, cond, msg, val)                                                                    \
    do {                                                                                            \
        if (!(cond))                                                                                \
            l1s_fail((c), (msg), (uint64_t)(val));                                                  \
    } while (0)

static void l1s_say(const char *s)
{
    if (l1_flags & L1S_MODE_QUIET)
        return;
    l1s_puts(l1_flags & L1S_MODE_NESTED ? "L1 (guest of libvirtcore): " : "L1 (bare on the emulated CPU): ");
    l1s_puts(s);
}

/* ---- SVM on and off ("Enabling SVM") ---- */

static bool l1s_svm_on(void)
{
    uint32_t r[4];
    l1s_cpuid(0x80000000u, r);
    if (r[0] < 0x8000000au) {
        l1s_fail(L1S_CASE_SVM_ON, "no CPUID leaf 8000_000Ah, max ext leaf", r[0]);
        return false;
    }
    l1s_cpuid(0x80000001u, r);
    if (!(r[2] & (1u << 2))) {
        l1s_fail(L1S_CASE_SVM_ON, "CPUID 8000_0001h:ECX.SVM clear, ecx", r[2]);
        return false;
    }
    l1s_cpuid(0x80000008u, r);
    l1_maxphy = r[0] & 0xffu;
    l1s_cpuid(0x8000000au, r);
    l1_svm_edx = r[3];
    rep->svm_edx = r[3];
    rep->maxphyaddr = l1_maxphy;
    rep->nrips = (r[3] & SVMF_NRIPS) != 0;
    /* "Enabling SVM": EFER.SVME may be set only if VM_CR.SVMDIS is clear. */
    uint64_t vmcr = l1s_rdmsr(MSR_VM_CR);
    l1_vm_cr = vmcr;
    if (vmcr & (1u << 4)) {
        l1s_fail(L1S_CASE_SVM_ON, "VM_CR.SVMDIS set, VM_CR", vmcr);
        return false;
    }
    l1_saved_efer = l1s_rdmsr(MSR_EFER);
    l1_saved_hsave = l1s_rdmsr(MSR_VM_HSAVE_PA);
    l1s_wrmsr(MSR_EFER, l1_saved_efer | EFER_SVME);
    uint64_t efer = l1s_rdmsr(MSR_EFER);
    CHECK(L1S_CASE_SVM_ON, efer & EFER_SVME, "EFER.SVME did not stick, EFER", efer);
    /* "VM_HSAVE_PA MSR": 4 KiB aligned, read back as written. */
    l1s_wrmsr(MSR_VM_HSAVE_PA, PA(hsave));
    uint64_t hs = l1s_rdmsr(MSR_VM_HSAVE_PA);
    CHECK(L1S_CASE_SVM_ON, hs == PA(hsave), "VM_HSAVE_PA read back", hs);
    if (rep->cases[L1S_CASE_SVM_ON].state == L1S_FAIL)
        return false;
    l1s_pass(L1S_CASE_SVM_ON);
    return true;
}

static void l1s_svm_off(void)
{
    l1s_wrmsr(MSR_VM_HSAVE_PA, l1_saved_hsave);
    l1s_wrmsr(MSR_EFER, l1_saved_efer);
}

/* ---- L2's memory and VMCB ---- */

/* Identity paging of the first 1 GiB with 2 MiB pages, a GDT (null, 64-bit
 * code 08H, data 10H, TSS 18H), an IDT whose #DE gate runs L2's handler,
 * the permission maps, and, with nested paging, a nested table that maps
 * only L1's region (every nested walk is a user access: U/S set at every
 * level, "Nested Paging"). */
static void l1s_l2_memory(bool np)
{
    memset(l2_pml4, 0, sizeof(l2_pml4));
    memset(l2_pdpt, 0, sizeof(l2_pdpt));
    l2_pml4[0] = PA(l2_pdpt) | 3;
    l2_pdpt[0] = PA(l2_pd) | 3;
    for (uint64_t i = 0; i < 512; i++)
        l2_pd[i] = (i << 21) | 0x83; /* P, R/W, PS */
    uint64_t tss = PA(l2_tss);
    l2_gdt[0] = 0;
    l2_gdt[1] = 0x00209a0000000000ull;
    l2_gdt[2] = 0x00cf92000000ffffull;
    l2_gdt[3] = 0x67 | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56);
    l2_gdt[4] = tss >> 32;
    memset(l2_idt, 0, sizeof(l2_idt));
    uint64_t h = PA(l2s_de_handler);
    uint8_t *gate = l2_idt; /* vector 0: 64-bit interrupt gate, selector 08H */
    gate[0] = (uint8_t)h;
    gate[1] = (uint8_t)(h >> 8);
    gate[2] = 0x08;
    gate[5] = 0x8e;
    gate[6] = (uint8_t)(h >> 16);
    gate[7] = (uint8_t)(h >> 24);
    for (unsigned i = 0; i < 4; i++)
        gate[8 + i] = (uint8_t)(h >> (32 + 8 * i));
    if (np) {
        memset(npt_pml4, 0, sizeof(npt_pml4));
        memset(npt_pdpt, 0, sizeof(npt_pdpt));
        memset(npt_pd, 0, sizeof(npt_pd));
        npt_pml4[0] = PA(npt_pdpt) | 7;             /* P, R/W, U/S */
        npt_pdpt[0] = PA(npt_pd) | 7;
        npt_pd[L1S_BASE >> 21] = L1S_BASE | 0x87;   /* 2 MiB page: P, R/W, U/S, PS */
    }
    /* "I/O Permissions Map": bit n for port n; an access is intercepted if
     * the bit of any byte it touches is set. */
    memset(iopm, 0, sizeof(iopm));
    iopm[L2S_PORT_OUT / 8] |= (uint8_t)(1u << (L2S_PORT_OUT % 8));
    iopm[L2S_PORT_IN / 8] |= (uint8_t)(1u << (L2S_PORT_IN % 8));
    /* "MSR Permissions Map": MSRs 0-1FFFh at bytes 0-7FFh, two bits each,
     * the even one for reads, the odd one for writes. */
    memset(msrpm, 0, sizeof(msrpm));
    msrpm[(0x174 * 2) / 8] |= (uint8_t)(1u << ((0x174 * 2) % 8));
    msrpm[(0x175 * 2 + 1) / 8] |= (uint8_t)(1u << ((0x175 * 2 + 1) % 8));
}

/* A complete 64-bit L2 in the VMCB ("VMRUN Instruction", "Canonicalization
 * and Consistency Checks") and the state VMLOAD gives it. */
static void l1s_vmcb_l2(const uint8_t *rip, bool np)
{
    memset(vmcb, 0, sizeof(vmcb));
    vw(vmcb, V_ICPT_EXC, 4, 1u << 6); /* #UD */
    vw(vmcb, V_ICPT_MISC3, 4, ICPT3_CPUID | ICPT3_HLT | ICPT3_IOIO | ICPT3_MSR | ICPT3_SHUTDOWN);
    vw(vmcb, V_ICPT_MISC4, 4, ICPT4_VMRUN | ICPT4_VMMCALL);
    vw64(V_IOPM_PA, PA(iopm));
    vw64(V_MSRPM_PA, PA(msrpm));
    vw(vmcb, V_ASID, 4, 1);
    vw(vmcb, V_TLB_CTL, 1, 1); /* flush everything at the first VMRUN */
    if (np) {
        vw64(V_NP_CTL, 1);
        vw64(V_NCR3, PA(npt_pml4));
        vw64(V_GPAT, L2_GPAT);
    } else {
        vw64(V_GPAT, 0x0007040600070406ull); /* unused without nested paging; a legal value */
    }
    vseg(vmcb, V_CS, 0x08, ATTR_CODE64, 0xffffffffu, 0);
    vseg(vmcb, V_SS, 0x10, ATTR_DATA, 0xffffffffu, 0);
    vseg(vmcb, V_DS, 0x10, ATTR_DATA, 0xffffffffu, 0);
    vseg(vmcb, V_ES, 0x10, ATTR_DATA, 0xffffffffu, 0);
    vseg(vmcb, V_FS, 0x10, ATTR_DATA, 0xffffffffu, 0);
    vseg(vmcb, V_GS, 0x10, ATTR_DATA, 0xffffffffu, 0);
    vseg(vmcb, V_LDTR, 0, 0, 0, 0);
    vseg(vmcb, V_TR, 0x18, ATTR_TSS64, 0x67, PA(l2_tss));
    vseg(vmcb, V_GDTR, 0, 0, sizeof(l2_gdt) - 1, PA(l2_gdt));
    vseg(vmcb, V_IDTR, 0, 0, 0xfff, PA(l2_idt));
    vw(vmcb, V_CPL, 1, 0);
    vw64(V_EFER, 0x1500);      /* SVME, LMA, LME */
    vw64(V_CR0, 0x80000031ull); /* PG, NE, ET, PE */
    vw64(V_CR3, PA(l2_pml4));
    vw64(V_CR4, 0x20);         /* PAE */
    vw64(V_DR7, 0x400);
    vw64(V_DR6, 0xffff0ff0u);
    vw64(V_RFLAGS, 2);
    vw64(V_RIP, PA(rip));
    vw64(V_RSP, PA(l2_stack) + sizeof(l2_stack));
    vw64(V_RAX, 0);
    vw64(V_SYSENTER_EIP, 0x4c3212345678ull);
}

/* One VMRUN of the VMCB. Nothing is cached between runs (clean bits 0:
 * "VMCB Clean Field"), so L1 may change any field before the next. */
static void l1s_run(void)
{
    vw(vmcb, V_CLEAN, 4, 0);
    l1s_vmrun(g, PA(vmcb), PA(l1_save));
}

static bool l1s_np_ok(void)
{
    return (l1_svm_edx & SVMF_NP) != 0;
}

/* ---- the L2 exit program ---- */

typedef struct l1s_step {
    uint32_t c;          /* case */
    uint64_t code;       /* EXITCODE */
    const uint8_t *rip;  /* where L2 is at the exit */
    uint32_t len;        /* instruction length: nRIP = rip + len; 0 where nRIP is not defined */
    uint64_t info1, info1_mask;
    bool info2_next;     /* EXITINFO2 is the next RIP (IOIO) */
    const char *words;   /* the exit in words */
} l1s_step_t;

static const char *l1s_why(uint32_t c)
{
    static const char *const why[] = {
#define L1S_CASE_WHY(id, name, w) w,
        L1S_CASE_LIST(L1S_CASE_WHY)
#undef L1S_CASE_WHY
    };
    return why[c];
}

static void l1s_narrate(const l1s_step_t *s, uint64_t code, uint64_t rip, uint64_t i1, uint64_t i2)
{
    if (l1_flags & L1S_MODE_QUIET)
        return;
    l1s_say("L2 #VMEXIT ");
    l1s_puthex(code);
    l1s_puts(" (");
    l1s_puts(s->words);
    l1s_puts(") rip ");
    l1s_puthex(rip);
    l1s_puts(" exitinfo1 ");
    l1s_puthex(i1);
    l1s_puts(" exitinfo2 ");
    l1s_puthex(i2);
    if (rep->nrips) {
        l1s_puts(" nrip ");
        l1s_puthex(vr64(V_NRIP));
    }
    l1s_puts(": handled by L1 because ");
    l1s_puts(l1s_why(s->c));
    l1s_puts("\n");
}

static void l1s_exit_program(void)
{
    bool np = !(l1_flags & L1S_MODE_NO_NP) && l1s_np_ok();
    rep->np = np;
    /* Expected values from the APM: "IOIO Intercepts" (EXITINFO1: port in
     * 31:16, the operand size and the address size bits, TYPE 1 for IN;
     * EXITINFO2: the next RIP), "MSR Intercepts" (EXITINFO1 0 for RDMSR, 1
     * for WRMSR), "Nested versus Guest Page Faults, Fault Ordering" (a
     * not-present final translation of a read: P=0, R/W=0, U/S=1 - nested
     * walks are user accesses - and bit 32). The SEG field (bits 12:10) is
     * left out: the APM gives it for string instructions. */
    const l1s_step_t steps[] = {
        {L1S_CASE_CPUID, EXIT_CPUID, l2s_at_cpuid, 2, 0, 0, false, "CPUID"},
        {L1S_CASE_IO_OUT, EXIT_IOIO, l2s_at_out, 2, ((uint64_t)L2S_PORT_OUT << 16) | IOIO_SZ32 | IOIO_A64,
         ~(uint64_t)IOIO_SEG_MASK, true, "OUT imm8 port, 32-bit"},
        {L1S_CASE_IO_IN, EXIT_IOIO, l2s_at_in, 1, ((uint64_t)L2S_PORT_IN << 16) | IOIO_TYPE_IN | IOIO_SZ8 | IOIO_A64,
         ~(uint64_t)IOIO_SEG_MASK, true, "IN DX port, 8-bit"},
        {L1S_CASE_RDMSR, EXIT_MSR, l2s_at_rdmsr, 2, 0, ~0ull, false, "RDMSR"},
        {L1S_CASE_WRMSR, EXIT_MSR, l2s_at_wrmsr, 2, 1, ~0ull, false, "WRMSR"},
        {L1S_CASE_EXC_EXIT, EXIT_EXCP_BASE + 6, l2s_at_ud, 0, 0, 0, false, "exception #UD"},
        {L1S_CASE_NPF, EXIT_NPF, l2s_at_npf, 0, NPF_US | NPF_FINAL, ~0ull, false, "nested page fault"},
        {L1S_CASE_VMMCALL, EXIT_VMMCALL, l2s_at_vmmcall, 3, 0, 0, false, "VMMCALL"},
        {L1S_CASE_HLT, EXIT_HLT, l2s_at_hlt, 1, 0, 0, false, "HLT"},
        {L1S_CASE_FINISH, EXIT_VMMCALL, l2s_at_done, 3, 0, 0, false, "VMMCALL"},
    };
    const uint32_t nsteps = sizeof(steps) / sizeof(steps[0]);
    l1s_l2_memory(np);
    l1s_vmcb_l2(l2s_code, np);
    /* VMSAVE keeps what VMRUN does not switch: L1's TR must be there. */
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    memset(l1_save, 0, sizeof(l1_save));
    __asm__ volatile("vmsave" : : "a"(PA(l1_save)) : "memory");
    CHECK(L1S_CASE_VMCB, vr(l1_save, V_TR, 2) == tr, "VMSAVE: TR selector", vr(l1_save, V_TR, 2));
    uint64_t star = l1s_rdmsr(0xc0000081u);
    CHECK(L1S_CASE_VMCB, vr(l1_save, V_STAR, 8) == star, "VMSAVE: STAR", vr(l1_save, V_STAR, 8));
    if (rep->cases[L1S_CASE_VMCB].state == L1S_FAIL)
        return;
    l1s_pass(L1S_CASE_VMCB);
    if (!np)
        l1s_skip(L1S_CASE_NPF, "L1 runs L2 without nested paging (not offered or not asked for)");
    uint64_t l1_pat = l1s_rdmsr(MSR_PAT);

    memset(g, 0, sizeof(g));
    g[R14] = np ? L2S_NPF_HOLE : PA(&l2_scratch);
    l1s_say(np ? "VMRUN of L2 (nested paging)\n" : "VMRUN of L2 (no nested paging)\n");
    l1s_run();
    uint64_t code = vr64(V_EXITCODE);
    /* The first exit must be the first step's: anything else (VMEXIT_INVALID
     * above all) means VMRUN did not run L2. */
    if (code != EXIT_CPUID) {
        l1s_fail(L1S_CASE_VMRUN, "first #VMEXIT code", code);
        l1s_detail(&rep->cases[L1S_CASE_VMRUN], " rip ");
        l1s_detail_hex(&rep->cases[L1S_CASE_VMRUN], vr64(V_RIP));
        return;
    }
    l1s_pass(L1S_CASE_VMRUN);
    for (uint32_t i = 0; i < nsteps; i++) {
        const l1s_step_t *s = &steps[i];
        if (s->c == L1S_CASE_NPF && !np)
            continue;
        uint32_t c = s->c;
        code = vr64(V_EXITCODE);
        uint64_t i1 = vr64(V_EXITINFO1), i2 = vr64(V_EXITINFO2), rip = vr64(V_RIP);
        uint64_t nrip = vr64(V_NRIP), intinfo = vr64(V_EXITINTINFO);
        rep->l1_exits++;
        l1s_narrate(s, code, rip, i1, i2);
        if (code != s->code) {
            l1s_fail(c, "EXITCODE", code);
            l1s_detail(&rep->cases[c], " want ");
            l1s_detail_hex(&rep->cases[c], s->code);
            l1s_detail(&rep->cases[c], " rip ");
            l1s_detail_hex(&rep->cases[c], rip);
            l1s_detail(&rep->cases[c], " info1 ");
            l1s_detail_hex(&rep->cases[c], i1);
            return;
        }
        CHECK(c, rip == PA(s->rip), "guest RIP", rip);
        /* "NRIP Save": with the feature, nRIP is the next instruction for
         * the instruction intercepts. */
        if (rep->nrips && s->len)
            CHECK(c, nrip == rip + s->len, "nRIP", nrip);
        CHECK(c, (i1 & s->info1_mask) == s->info1, "EXITINFO1", i1);
        if (s->info2_next)
            CHECK(c, i2 == rip + s->len, "EXITINFO2 (next RIP)", i2);
        /* "Event Injection": no event was being delivered at any of these. */
        CHECK(c, !(intinfo & (1u << 31)), "EXITINTINFO valid", intinfo);
        uint64_t next = rip + s->len;
        switch (c) {
        case L1S_CASE_CPUID:
            CHECK(c, (uint32_t)vr64(V_RAX) == 0x4c320001u, "L2's EAX", vr64(V_RAX));
            vw64(V_RAX, 0x11111111u);
            g[RBX] = 0x22222222u;
            g[RCX] = 0x33333333u;
            g[RDX] = 0x44444444u;
            break;
        case L1S_CASE_IO_OUT:
            /* The CPUID reply reached L2. */
            CHECK(L1S_CASE_CPUID, vr64(V_RAX) == 0x11111111u && g[RBX] == 0x22222222u && g[RCX] == 0x33333333u,
                  "L2 after the CPUID reply, rax", vr64(V_RAX));
            CHECK(c, (uint32_t)vr64(V_RAX) == 0x11111111u, "L2's EAX at the OUT", vr64(V_RAX));
            break;
        case L1S_CASE_IO_IN:
            vw64(V_RAX, (vr64(V_RAX) & ~0xffull) | 0x5a);
            break;
        case L1S_CASE_RDMSR:
            CHECK(L1S_CASE_IO_IN, (g[RBX] & 0xff) == 0x5a, "L2's AL after the IN reply", g[RBX]);
            /* No exit between the IN and this RDMSR: the OUT to 80H passed. */
            l1s_pass(L1S_CASE_IO_PASS);
            l1s_say("L2's OUT to port 80h did not exit to L1: IOPM bit 80h is clear\n");
            CHECK(c, (uint32_t)g[RCX] == 0x174, "ECX", g[RCX]);
            vw64(V_RAX, 0x55667788u);
            g[RDX] = 0x11223344u;
            break;
        case L1S_CASE_WRMSR: {
            CHECK(c, (uint32_t)g[RCX] == 0x175 && (uint32_t)vr64(V_RAX) == 0x89abcdefu &&
                         (uint32_t)g[RDX] == 0x01234567u,
                  "ECX/EAX/EDX, eax", vr64(V_RAX));
            CHECK(L1S_CASE_RDMSR, g[RSI] == 0x55667788u && g[RDI] == 0x11223344u, "L2 after the reply, esi",
                  g[RSI]);
            /* With nested paging L2's PAT is G_PAT; without, the PAT is
             * shared with L1 ("Nested Paging and VMRUN/#VMEXIT"). */
            uint64_t pat = (g[R9] << 32) | (uint32_t)g[R8];
            uint64_t want = np ? L2_GPAT : l1_pat;
            CHECK(L1S_CASE_MSR_PASS, pat == want, "L2 read PAT", pat);
            /* An MSR L1 does not intercept is read as L1 would read it. */
            uint64_t vmcr = (g[R11] << 32) | (uint32_t)g[R10];
            CHECK(L1S_CASE_MSR_PASS, vmcr == l1_vm_cr, "L2 read VM_CR", vmcr);
            l1s_pass(L1S_CASE_MSR_PASS);
            l1s_say("L2's RDMSR of PAT did not exit to L1 (MSRPM read bit of 277h clear): L2 read ");
            if (!(l1_flags & L1S_MODE_QUIET)) {
                l1s_puthex(pat);
                l1s_puts(np ? " (G_PAT is " : " (the PAT it shares with L1 is ");
                l1s_puthex(want);
                l1s_puts(")\n");
            }
            break;
        }
        case L1S_CASE_EXC_EXIT:
            next = rip + 2; /* past the UD2 */
            break;
        case L1S_CASE_NPF:
            CHECK(c, i2 == L2S_NPF_HOLE, "EXITINFO2 (guest-physical address)", i2);
            vw64(V_RAX, 0);
            next = PA(l2s_after_npf);
            break;
        case L1S_CASE_VMMCALL:
            CHECK(c, (uint32_t)vr64(V_RAX) == 0x4c320002u, "EAX", vr64(V_RAX));
            /* The #DE before it went through L2's own IDT, once. */
            CHECK(L1S_CASE_EXC_PASS, g[R15] == 1, "L2's #DE handler count", g[R15]);
            l1s_pass(L1S_CASE_EXC_PASS);
            l1s_say("L2's #DE did not exit to L1 (exception intercept bit 0 clear): L2's own handler ran\n");
            break;
        case L1S_CASE_FINISH:
            CHECK(c, (uint32_t)vr64(V_RAX) == 0x4c3200ffu, "EAX", vr64(V_RAX));
            l1s_pass(c);
            return;
        default:
            break;
        }
        l1s_pass(c);
        vw64(V_RIP, next);
        l1s_run();
    }
}

/* ---- the broken-VMCB program ---- */

static void l1s_record(uint32_t v, uint64_t code)
{
    static const char *const names[] = {
#define L1S_VAR_NAME(id, name, want) name,
        L1S_VAR_LIST(L1S_VAR_NAME)
#undef L1S_VAR_NAME
    };
    rep->vars[v].exitcode = code;
    rep->vars[v].state = L1S_PASS;
    if (l1_flags & L1S_MODE_QUIET)
        return;
    l1s_say("VMRUN ");
    l1s_puts(names[v]);
    l1s_puts(": EXITCODE ");
    l1s_puthex(code);
    l1s_puts("\n");
}

static void l1s_vmrun_checks(uint32_t first)
{
    bool np = !(l1_flags & L1S_MODE_NO_NP) && l1s_np_ok();
    l1s_l2_memory(np);
    for (uint32_t v = first; v < L1S_NVARS; v++) {
        rep->next_var = v;
        l1s_vmcb_l2(l2s_vmmcall_only, np);
        memset(g, 0, sizeof(g));
        switch (v) {
        case L1S_VAR_EFER_SVME:
            vw64(V_EFER, vr64(V_EFER) & ~EFER_SVME);
            break;
        case L1S_VAR_CR0_NW:
            vw64(V_CR0, vr64(V_CR0) | (1ull << 29));
            break;
        case L1S_VAR_CR0_HIGH:
            vw64(V_CR0, vr64(V_CR0) | (1ull << 32));
            break;
        case L1S_VAR_CR4_HIGH:
            vw64(V_CR4, vr64(V_CR4) | (1ull << 32));
            break;
        case L1S_VAR_DR6_HIGH:
            vw64(V_DR6, vr64(V_DR6) | (1ull << 32));
            break;
        case L1S_VAR_DR7_HIGH:
            vw64(V_DR7, vr64(V_DR7) | (1ull << 32));
            break;
        case L1S_VAR_EFER_RSVD:
            vw64(V_EFER, vr64(V_EFER) | (1ull << 32));
            break;
        case L1S_VAR_LME_NO_PAE:
            vw64(V_CR4, vr64(V_CR4) & ~0x20ull);
            break;
        case L1S_VAR_CS_L_D:
            vw(vmcb, V_CS + 2, 2, ATTR_CODE64 | 0x0400u); /* D/B with L */
            break;
        case L1S_VAR_NO_VMRUN_ICPT:
            vw(vmcb, V_ICPT_MISC4, 4, ICPT4_VMMCALL);
            break;
        case L1S_VAR_ASID0:
            vw(vmcb, V_ASID, 4, 0);
            break;
        case L1S_VAR_MSRPM_HIGH:
            vw64(V_MSRPM_PA, 1ull << l1_maxphy);
            break;
        case L1S_VAR_IOPM_HIGH:
            vw64(V_IOPM_PA, 1ull << l1_maxphy);
            break;
        case L1S_VAR_EVENT_TYPE:
            /* "Event Injection": TYPE 1 is reserved. */
            vw64(V_EVENTINJ, (1u << 31) | (1u << 8) | 0x20u);
            break;
        case L1S_VAR_EVENT_NMI_VEC:
            /* TYPE 3 (exception) with vector 2 (NMI). */
            vw64(V_EVENTINJ, (1u << 31) | (3u << 8) | 2u);
            break;
        default:
            break;
        }
        vw64(V_EXITCODE, 0x5a5a5a5aull); /* not an exit code: VMRUN must overwrite it */
        l1s_run();
        l1s_record(v, vr64(V_EXITCODE));
    }
    rep->next_var = L1S_NVARS;
}

void l1s_main(uint64_t mode, uint64_t first_var)
{
    l1_flags = mode;
    if (first_var == 0 || rep->magic != L1S_REPORT_MAGIC) {
        memset(rep, 0, sizeof(*rep));
        rep->magic = L1S_REPORT_MAGIC;
    }
    if (!l1s_svm_on())
        return;
    if (mode & L1S_MODE_VMRUN_CHECKS)
        l1s_vmrun_checks((uint32_t)first_var);
    else
        l1s_exit_program();
    l1s_svm_off();
    rep->done = 1;
}
