/*
 * l1_main.c - L1: a minimal hypervisor that runs an L2 guest through a
 * fixed program of exits and checks each one against the SDM's "VM-Exit
 * Information Fields" (reason, qualification, instruction length, event
 * information), or runs broken VMCSs and records what VMLAUNCH does.
 *
 * It runs the same way on the emulated CPU directly (bare) and as the
 * guest of libvirtcore (nested); only its own report tells which is which.
 */
#include <stdbool.h>
#include <stddef.h>

#include "l1.h"
#include "l1_vmx.h"

void l1_main(uint64_t mode, uint64_t first_var);
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

/* L2's code (l1_entry.S). */
extern const uint8_t l2_code[], l2_de_handler[], l2_at_cpuid[], l2_at_out[], l2_at_in[], l2_at_rdmsr[],
    l2_at_wrmsr[], l2_at_ud[], l2_at_ept[], l2_after_ept[], l2_at_vmcall[], l2_loop[], l2_loop_end[],
    l2_at_hlt[], l2_after_tpr[], l2_at_apic[], l2_after_apic[], l2_after_apic_write[], l2_at_done[], l2_vmcall_only[], l2_cpuid_loop[], l2_l0_loop[], l2_l0_loop_end[],
    l2_after_l0_loop[], l2_after_syscall[], l2_syscall_target[], l2_at_syscall[], l2_after_efer_syscall[],
    l2_real[], l2_real_at_cpuid[], l2_real_at_vmcall[], l2_vpid[], l2_vpid_at_vmcall1[], l2_vpid_at_vmcall2[],
    l2_vint_handler[], l2_after_veoi[], l2_at_vid[], l2_vid_again[], l2_after_list_syscall[], l2_pat[], l2_pat_at_vmcall[], l2_dr7[], l2_dr7_at_vmcall[],
    l2_msrbmp[], l2_msrbmp_at_wrmsr[], l2_msrbmp_at_vmcall[],
    l2_vmfunc[], l2_vmfunc_at_vmcall[], l2_vmfunc_at_bad[], l2_pml[], l2_pml_at_vmcall[], l2_tsc[], l2_tsc_at_vmcall[],
    l2_x2apic[], l2_x2apic_at_vmcall[], l2_shadow[], l2_shadow_at_vmread[], l2_shadow_at_vmcall[],
    l2_intr[], l2_intr_at_vmcall[], l2_init_out[], l2_init_out_at[],
    l2_shadow_tf[], l2_shadow_tf_after[], l2_pml_vmread[], l2_pml_vmread_at_vmcall[];

#define PA(p) ((uint64_t)(uintptr_t)(p))
#define PAGE __attribute__((aligned(4096)))

static uint8_t vmxon_region[4096] PAGE;
static uint8_t vmcs[4096] PAGE;
static uint8_t bad_link[4096] PAGE;   /* a VMCS link pointer target with no revision id */
static uint8_t msr_bitmap[4096] PAGE;
static uint8_t io_a[4096] PAGE, io_b[4096] PAGE;
static uint64_t ept_pml4[512] PAGE, ept_pdpt[512] PAGE, ept_pd[512] PAGE;
static uint64_t l2_pml4[512] PAGE, l2_pdpt[512] PAGE, l2_pd[512] PAGE;
static uint64_t l2_gdt[8] PAGE;
static uint8_t l2_idt[4096] PAGE;
static uint8_t l2_tss[4096] PAGE;
static uint64_t msr_load[512] PAGE;
static uint64_t msr_entry[10] PAGE, msr_exit[8] PAGE; /* the exit program's MSR lists */
static uint8_t l2_stack[16384] PAGE;
static uint8_t vapic[4096] PAGE;      /* L2's virtual-APIC page ("Virtual-APIC Page") */
static uint8_t apic_acc[4096] PAGE;   /* L2's APIC-access page ("APIC-Access Page") */
static uint32_t l2_scratch PAGE;       /* the EPT step's read target without EPT */
static uint64_t l2_vpid_pt[512] PAGE;  /* the VPID step's page table */
static uint32_t vpid_a[1024] PAGE, vpid_b[1024] PAGE; /* the two pages it maps in turn */
/* The VMFUNC and PML steps' second EPT (l1_ept_4k()), the VMFUNC step's
 * EPTP list and the page the second EPT maps there in place of vmfunc_a. */
static uint64_t eptb_pml4[512] PAGE, eptb_pdpt[512] PAGE, eptb_pd[512] PAGE, eptb_pt[512] PAGE;
static uint64_t eptp_list[512] PAGE;
static uint32_t vmfunc_a[1024] PAGE, vmfunc_b[1024] PAGE;
static uint32_t pml_pages[3][1024] PAGE; /* the PML step's three pages */
static uint64_t pml_log[512] PAGE;       /* ... and its page-modification log */
static uint32_t shadow_vmcs[1024] PAGE;  /* the VMCS-shadowing step's shadow VMCS */
static uint8_t vmread_bm[4096] PAGE, vmwrite_bm[4096] PAGE; /* ... and its VMREAD/VMWRITE bitmaps */
static uint64_t pml_vmread_page[512] PAGE; /* the clean page of L2's VMREAD with PML */

static l1_report_t *const rep = (l1_report_t *)(uintptr_t)L1_REPORT;
static uint64_t l1_flags;
static uint32_t l1_revision;
static uint64_t l1_cap_pin, l1_cap_proc, l1_cap_exit, l1_cap_entry, l1_cap_proc2, l1_cap_ept;
static uint64_t g[16]; /* L2's general-purpose registers (encoding order) */

enum {
    RAX = 0, RCX = 1, RDX = 2, RBX = 3, RBP = 5, RSI = 6, RDI = 7, R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13,
    R14 = 14, R15 = 15
};

#define L2_SYSENTER_EIP 0x00004c3212345678ull /* canonical: "Checks on Guest Control Registers..." */
#define L2_EPT_HOLE 0x10000000ull             /* a guest-physical address L1's EPT does not map */
#define L2_KERNEL_GS_BASE 0xffff80004c320000ull /* canonical: WRMSR accepts it ("Loading MSRs") */
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
/* L2's IA32_STAR: bits 47:32 the SYSCALL CS selector (SS is it + 8: "SYSCALL"). */
#define L2_STAR (0x08ull << 32)
#define L2_FMASK 0x400ull /* RFLAGS.DF */
#define L2_TIMER_L0 50u   /* the preemption timer across L0's exits, in timer ticks */
#define MSR_EFER 0xc0000080u
#define EFER_SCE 0x1ull
#define EFER_NXE 0x800ull
#define L2_XD_ALIAS (500ull << 21) /* L2's linear alias of L1_BASE through a PDE with XD = 1 */

static uint64_t l1_efer0;   /* L1's IA32_EFER before the exit program */
static bool l1_efer_set;    /* the program changed it (restored at the end) */

/* ---- console and report ---- */

static size_t l1_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void l1_puts(const char *s)
{
    size_t n = l1_strlen(s);
    __asm__ volatile("cld; rep outsb" : "+S"(s), "+c"(n) : "d"((uint16_t)L1_PORT_LOG) : "memory");
}

static void l1_hex(char *buf, uint64_t v)
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

static void l1_puthex(uint64_t v)
{
    char b[20];
    l1_hex(b, v);
    l1_puts(b);
}

static void l1_detail(l1_result_t *r, const char *s)
{
    while (*s && r->len + 1 < sizeof(r->detail))
        r->detail[r->len++] = *s++;
    r->detail[r->len] = '\0';
}

/* Marks a case failed with a message and a value (the first failure is kept). */
static void l1_fail(uint32_t c, const char *msg, uint64_t v)
{
    l1_result_t *r = &rep->cases[c];
    char b[20];
    if (r->state == L1_FAIL)
        return;
    r->state = L1_FAIL;
    r->len = 0;
    l1_detail(r, msg);
    l1_detail(r, " ");
    l1_hex(b, v);
    l1_detail(r, b);
}

static void l1_pass(uint32_t c)
{
    if (rep->cases[c].state == L1_NOT_RUN)
        rep->cases[c].state = L1_PASS;
}

static void l1_skip(uint32_t c, const char *why)
{
    rep->cases[c].state = L1_SKIP;
    rep->cases[c].len = 0;
    l1_detail(&rep->cases[c], why);
}

#define CHECK(c, cond, msg, val)                                                                    \
    do {                                                                                            \
        if (!(cond))                                                                                \
            l1_fail((c), (msg), (uint64_t)(val));                                                   \
    } while (0)

static void l1_say(const char *s)
{
    if (l1_flags & L1_MODE_QUIET)
        return;
    l1_puts(l1_flags & L1_MODE_NESTED ? "L1 (guest of libvirtcore): " : "L1 (bare on the emulated CPU): ");
    l1_puts(s);
}

/* ---- VMX operation ---- */

/* Allowed settings of a control ("VMX Capability Reporting Facility"):
 * the must-be-1 bits plus `want`; false if `want` has a bit that must be 0. */
static bool l1_ctl(uint64_t cap, uint32_t want, uint32_t *out)
{
    *out = ((uint32_t)cap | want) & (uint32_t)(cap >> 32);
    return (want & ~(uint32_t)(cap >> 32)) == 0;
}

static bool l1_vmx_on(void)
{
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    if (!(c & (1u << 5))) {
        l1_fail(L1_CASE_VMXON, "CPUID.1:ECX.VMX clear, ecx", c);
        return false;
    }
    /* "Enabling and Entering VMX Operation": lock bit and VMX outside SMX. */
    uint64_t fc = l1_rdmsr(0x3a);
    if (!(fc & 1)) {
        l1_wrmsr(0x3a, fc | 5);
        fc = l1_rdmsr(0x3a);
    }
    if ((fc & 5) != 5) {
        l1_fail(L1_CASE_VMXON, "IA32_FEATURE_CONTROL", fc);
        return false;
    }
    uint64_t basic = l1_rdmsr(0x480);
    bool true_ctls = (basic >> 55) & 1;
    l1_revision = (uint32_t)basic & 0x7fffffffu;
    l1_cap_pin = l1_rdmsr(true_ctls ? 0x48d : 0x481);
    l1_cap_proc = l1_rdmsr(true_ctls ? 0x48e : 0x482);
    l1_cap_exit = l1_rdmsr(true_ctls ? 0x48f : 0x483);
    l1_cap_entry = l1_rdmsr(true_ctls ? 0x490 : 0x484);
    l1_cap_proc2 = (l1_cap_proc >> 63) ? l1_rdmsr(0x48b) : 0;
    l1_cap_ept = (l1_cap_proc2 >> 33) & 1 ? l1_rdmsr(0x48c) : 0;
    /* "Restrictions on VMX Operation": CR0 and CR4 within the fixed bits. */
    uint64_t cr0, cr4;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr0 = (cr0 | l1_rdmsr(0x486)) & l1_rdmsr(0x487);
    cr4 = (cr4 | l1_rdmsr(0x488) | (1u << 13)) & l1_rdmsr(0x489);
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
    memset(vmxon_region, 0, sizeof(vmxon_region));
    memcpy(vmxon_region, &l1_revision, 4);
    int rc = l1_vmxon(PA(vmxon_region));
    if (rc) {
        l1_fail(L1_CASE_VMXON, "VMXON outcome", (uint64_t)rc);
        return false;
    }
    l1_pass(L1_CASE_VMXON);
    return true;
}

static void l1_vmx_off(void)
{
    uint64_t cr4;
    (void)l1_vmclear(PA(vmcs));
    (void)l1_vmxoff();
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 &= ~(1ull << 13);
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
}

/* Makes `vmcs` clear and current. */
static bool l1_vmcs_fresh(uint32_t c)
{
    memset(vmcs, 0, sizeof(vmcs));
    memcpy(vmcs, &l1_revision, 4);
    int rc = l1_vmclear(PA(vmcs));
    if (rc) {
        l1_fail(c, "VMCLEAR outcome", (uint64_t)rc);
        return false;
    }
    rc = l1_vmptrld(PA(vmcs));
    if (rc) {
        l1_fail(c, "VMPTRLD outcome", (uint64_t)rc);
        return false;
    }
    return true;
}

/* ---- the VMCS ---- */

static uint32_t l1_write_fail_field;
static uint32_t l1_write_fails;

static void l1_w(uint32_t field, uint64_t v)
{
    if (l1_vmwrite(field, v) != 0) {
        if (!l1_write_fails++)
            l1_write_fail_field = field;
    }
}

/* The virtual interrupts of the virtual-interrupt delivery steps: same
 * priority class (3), above L2's VTPR (10H). */
#define L2_VINT_A 0x31u
#define L2_VINT_B 0x32u
/* The posted-interrupt step: the interrupt L1 posts, the notification
 * vector (any vector; F2H as Linux uses for its own). */
#define L2_VINT_PI 0x33u
#define L1_PI_NV 0xf2u
#define C_PI_NV 0x0002u   /* posted-interrupt notification vector */
#define C_PI_DESC 0x2016u /* posted-interrupt descriptor address */
/* L1's posted-interrupt descriptor ("Posted-Interrupt Descriptor"): PIR in
 * words 0-3, ON bit 0 of word 4; 64-byte aligned. */
static uint64_t pi_desc[8] __attribute__((aligned(64)));

/* L2's IDT entry for vector v: a 64-bit interrupt gate to h, selector 08H
 * ("64-Bit Mode IDT"). */
static void l1_l2_gate(unsigned v, const uint8_t *handler)
{
    uint64_t h = PA(handler);
    uint8_t *gate = l2_idt + 16 * v;
    gate[0] = (uint8_t)h;
    gate[1] = (uint8_t)(h >> 8);
    gate[2] = 0x08;
    gate[5] = 0x8e;
    gate[6] = (uint8_t)(h >> 16);
    gate[7] = (uint8_t)(h >> 24);
    for (unsigned i = 0; i < 4; i++)
        gate[8 + i] = (uint8_t)(h >> (32 + 8 * i));
}

/* Bit v of a 256-bit register of the virtual-APIC page at offset base
 * (IRR 200H, ISR 100H: eight 32-bit registers 16 bytes apart, "Virtual-APIC
 * Page"). */
static bool l1_vapic_bit(uint32_t base, unsigned v)
{
    return (vapic[base + 16 * (v / 32) + (v % 32) / 8] >> (v % 8)) & 1u;
}

static void l1_vapic_set(uint32_t base, unsigned v)
{
    vapic[base + 16 * (v / 32) + (v % 32) / 8] |= (uint8_t)(1u << (v % 8));
}

/* L2's memory: identity paging of the first 1 GiB with 2 MiB pages, a GDT
 * (null, 64-bit code 08H, data 10H, TSS 18H), an IDT whose #DE gate runs
 * L2's handler, and, with EPT, an EPT that maps only L1's region. */
static void l1_l2_memory(bool ept)
{
    memset(l2_pml4, 0, sizeof(l2_pml4));
    memset(l2_pdpt, 0, sizeof(l2_pdpt));
    l2_pml4[0] = PA(l2_pdpt) | 3;
    l2_pdpt[0] = PA(l2_pd) | 3;
    for (uint64_t i = 0; i < 512; i++)
        l2_pd[i] = (i << 21) | 0x83;
    uint64_t tss = PA(l2_tss);
    l2_gdt[0] = 0;
    l2_gdt[1] = 0x00209a0000000000ull;
    l2_gdt[2] = 0x00cf92000000ffffull;
    /* 64-bit TSS descriptor, busy (type 11), limit 67H ("TSS Descriptor in 64-bit mode"). */
    l2_gdt[3] = 0x67 | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56);
    l2_gdt[4] = tss >> 32;
    memset(l2_idt, 0, sizeof(l2_idt));
    l1_l2_gate(0, l2_de_handler);
    l1_l2_gate(L2_VINT_A, l2_vint_handler);
    l1_l2_gate(L2_VINT_B, l2_vint_handler);
    l1_l2_gate(L2_VINT_PI, l2_vint_handler);
    if (ept) {
        /* "EPT Translation Mechanism": RWX, 2 MiB leaf (bit 7), WB (6 << 3). */
        memset(ept_pml4, 0, sizeof(ept_pml4));
        memset(ept_pdpt, 0, sizeof(ept_pdpt));
        memset(ept_pd, 0, sizeof(ept_pd));
        ept_pml4[0] = PA(ept_pdpt) | 7;
        ept_pdpt[0] = PA(ept_pd) | 7;
        ept_pd[L1_BASE >> 21] = L1_BASE | 0x80 | (6u << 3) | 7;
    }
    /* I/O bitmap A covers ports 0000H-7FFFH ("I/O-Bitmap Addresses"). */
    memset(io_a, 0, sizeof(io_a));
    memset(io_b, 0, sizeof(io_b));
    io_a[L2_PORT_OUT / 8] |= (uint8_t)(1u << (L2_PORT_OUT % 8));
    io_a[L2_PORT_IN / 8] |= (uint8_t)(1u << (L2_PORT_IN % 8));
    /* MSR bitmap: read-low at 0, write-low at 2048 ("MSR-Bitmap Address"). */
    memset(msr_bitmap, 0, sizeof(msr_bitmap));
    msr_bitmap[0x174 / 8] |= (uint8_t)(1u << (0x174 % 8));
    msr_bitmap[2048 + 0x175 / 8] |= (uint8_t)(1u << (0x175 % 8));
}

static uint64_t l1_seg_base(uint64_t gdt, uint16_t sel)
{
    const uint8_t *d = (const uint8_t *)(uintptr_t)(gdt + (sel & ~7u));
    uint64_t base = d[2] | ((uint64_t)d[3] << 8) | ((uint64_t)d[4] << 16) | ((uint64_t)d[7] << 24);
    uint32_t hi;
    memcpy(&hi, d + 8, 4);
    return base | ((uint64_t)hi << 32);
}

/* Host state: L1 as it runs now ("Checks on Host Control Registers...").
 * L1 uses no FS or GS base. */
static void l1_host_state(void)
{
    uint64_t cr0, cr3, cr4;
    uint16_t cs, ss, ds, es, fs, gs, tr;
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } gdtr, idtr;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    __asm__ volatile("mov %%ds, %0" : "=r"(ds));
    __asm__ volatile("mov %%es, %0" : "=r"(es));
    __asm__ volatile("mov %%fs, %0" : "=r"(fs));
    __asm__ volatile("mov %%gs, %0" : "=r"(gs));
    __asm__ volatile("str %0" : "=r"(tr));
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    __asm__ volatile("sidt %0" : "=m"(idtr));
    l1_w(H_CR0, cr0);
    l1_w(H_CR3, cr3);
    l1_w(H_CR4, cr4);
    l1_w(H_CS_SEL, cs);
    l1_w(H_SS_SEL, ss);
    l1_w(H_DS_SEL, ds);
    l1_w(H_ES_SEL, es);
    l1_w(H_FS_SEL, fs);
    l1_w(H_GS_SEL, gs);
    l1_w(H_TR_SEL, tr);
    l1_w(H_FS_BASE, 0);
    l1_w(H_GS_BASE, 0);
    l1_w(H_TR_BASE, l1_seg_base(gdtr.base, tr));
    l1_w(H_GDTR_BASE, gdtr.base);
    l1_w(H_IDTR_BASE, idtr.base);
    l1_w(H_SYSENTER_CS, l1_rdmsr(0x174));
    l1_w(H_SYSENTER_ESP, l1_rdmsr(0x175));
    l1_w(H_SYSENTER_EIP, l1_rdmsr(0x176));
}

static void l1_guest_seg(uint32_t sel_f, uint16_t sel, uint32_t ar)
{
    /* Selector, base, limit and access rights are laid out alike for ES..TR. */
    uint32_t i = (sel_f - G_ES_SEL) / 2;
    l1_w(sel_f, sel);
    l1_w(G_ES_BASE + 2 * i, 0);
    l1_w(G_ES_LIMIT + 2 * i, 0xffffffffu);
    l1_w(G_ES_AR + 2 * i, ar);
}

/* A complete 64-bit L2 ("Checks on the Guest State Area"). */
static void l1_guest_state(const uint8_t *rip)
{
    uint64_t cr0_fixed0 = l1_rdmsr(0x486), cr4_fixed0 = l1_rdmsr(0x488);
    l1_w(G_CR0, 0x80000031ull | cr0_fixed0); /* PG NE ET PE */
    l1_w(G_CR3, PA(l2_pml4));
    l1_w(G_CR4, 0x20ull | cr4_fixed0);       /* PAE, VMXE (fixed) */
    l1_w(G_DR7, 0x400);
    l1_w(G_RSP, PA(l2_stack) + sizeof(l2_stack));
    l1_w(G_RIP, PA(rip));
    l1_w(G_RFLAGS, 2);
    l1_guest_seg(G_CS_SEL, 0x08, 0xa09b); /* 64-bit code, accessed */
    l1_guest_seg(G_SS_SEL, 0x10, 0xc093);
    l1_guest_seg(G_DS_SEL, 0x10, 0xc093);
    l1_guest_seg(G_ES_SEL, 0x10, 0xc093);
    l1_guest_seg(G_FS_SEL, 0x10, 0xc093);
    l1_guest_seg(G_GS_SEL, 0x10, 0xc093);
    l1_w(G_LDTR_SEL, 0);
    l1_w(G_LDTR_BASE, 0);
    l1_w(G_LDTR_LIMIT, 0);
    l1_w(G_LDTR_AR, 0x10000); /* unusable */
    l1_w(G_TR_SEL, 0x18);
    l1_w(G_TR_BASE, PA(l2_tss));
    l1_w(G_TR_LIMIT, 0x67);
    l1_w(G_TR_AR, 0x8b);      /* busy 64-bit TSS */
    l1_w(G_GDTR_BASE, PA(l2_gdt));
    l1_w(G_GDTR_LIMIT, sizeof(l2_gdt) - 1);
    l1_w(G_IDTR_BASE, PA(l2_idt));
    l1_w(G_IDTR_LIMIT, 0xfff);
    l1_w(G_DEBUGCTL, 0);
    l1_w(G_SYSENTER_CS, 0);
    l1_w(G_SYSENTER_ESP, 0);
    l1_w(G_SYSENTER_EIP, L2_SYSENTER_EIP);
    l1_w(G_ACTIVITY, 0);
    l1_w(G_INTERRUPTIBILITY, 0);
    l1_w(G_PENDING_DBG, 0);
    l1_w(G_LINK_PTR, ~0ull);
}

static uint32_t l1_pin, l1_proc, l1_proc2, l1_exitc, l1_entryc;

/* Controls: HLT exiting, I/O and MSR bitmaps, #UD intercepted, 64-bit host
 * and IA-32e guest, EPT when used. Returns false if the CPU lacks one. */
static bool l1_controls(bool ept)
{
    bool ok = l1_ctl(l1_cap_pin, 0, &l1_pin);
    ok &= l1_ctl(l1_cap_proc, (1u << 7) | (1u << 25) | (1u << 28) | (ept ? 1u << 31 : 0), &l1_proc);
    ok &= l1_ctl(l1_cap_exit, 1u << 9, &l1_exitc);
    ok &= l1_ctl(l1_cap_entry, 1u << 9, &l1_entryc);
    l1_proc2 = 0;
    if (ept)
        ok &= l1_ctl(l1_cap_proc2, 1u << 1, &l1_proc2);
    l1_w(C_PIN, l1_pin);
    l1_w(C_PROC, l1_proc);
    if (l1_proc & (1u << 31))
        l1_w(C_PROC2, l1_proc2);
    l1_w(C_EXIT, l1_exitc);
    l1_w(C_ENTRY, l1_entryc);
    l1_w(C_EXC_BITMAP, 1u << 6);
    l1_w(C_PF_MASK, 0);
    l1_w(C_PF_MATCH, 0);
    l1_w(C_CR3_TARGETS, 0);
    l1_w(C_EXIT_MSR_STORE_N, 0);
    l1_w(C_EXIT_MSR_LOAD_N, 0);
    l1_w(C_ENTRY_MSR_LOAD_N, 0);
    l1_w(C_ENTRY_INTR, 0);
    l1_w(C_CR0_MASK, 0);
    l1_w(C_CR4_MASK, 0);
    l1_w(C_CR0_SHADOW, 0);
    l1_w(C_CR4_SHADOW, 0);
    l1_w(C_IO_BITMAP_A, PA(io_a));
    l1_w(C_IO_BITMAP_B, PA(io_b));
    l1_w(C_MSR_BITMAP, PA(msr_bitmap));
    if (ept)
        l1_w(C_EPTP, PA(ept_pml4) | (3u << 3) | 6u); /* 4-level walk, WB ("EPTP") */
    return ok;
}

/* EPT usable: the control, WB paging structures, 4-level walks, 2 MiB pages. */
static bool l1_ept_ok(void)
{
    return (l1_cap_proc >> 63) && ((l1_cap_proc2 >> 33) & 1) && (l1_cap_ept & (1u << 6)) &&
           (l1_cap_ept & (1u << 14)) && (l1_cap_ept & (1u << 16));
}

/* ---- the L2 exit program ---- */

typedef struct l1_step {
    uint32_t c;          /* case */
    uint32_t reason;     /* basic exit reason ("Basic Exit Reasons") */
    const uint8_t *rip;  /* where L2 is at the exit (NULL: checked by the case) */
    uint32_t len;        /* VM-exit instruction length, 0 where the SDM leaves it undefined */
    uint64_t qual, qual_mask;
    const char *words;   /* the exit in words */
} l1_step_t;

static const char *l1_why(uint32_t c)
{
    static const char *const why[] = {
#define L1_CASE_WHY(id, name, w) w,
        L1_CASE_LIST(L1_CASE_WHY)
#undef L1_CASE_WHY
    };
    return why[c];
}

static void l1_narrate(const l1_step_t *s, uint64_t reason, uint64_t rip, uint64_t len, uint64_t qual)
{
    if (l1_flags & L1_MODE_QUIET)
        return;
    l1_say("L2 exit ");
    l1_puthex(reason);
    l1_puts(" (");
    l1_puts(s->words);
    l1_puts(") rip ");
    l1_puthex(rip);
    l1_puts(" len ");
    l1_puthex(len);
    l1_puts(" qual ");
    l1_puthex(qual);
    l1_puts(": handled by L1 because ");
    l1_puts(l1_why(s->c));
    l1_puts("\n");
}

/* After L2's handler ran `count` times, the last for vector v, whose EOI
 * was virtualized: nothing requested or in service - RVI and SVI 0, v's
 * VIRR and VISR bits clear ("Virtual-Interrupt Delivery", "Virtualizing
 * EOI"). */
static void l1_vid_done(uint32_t c, uint32_t count, unsigned v)
{
    uint64_t gis = l1_rd(G_INTR_STATUS);
    CHECK(c, (uint32_t)g[R10] == count, "L2's virtual-interrupt handler count", g[R10]);
    CHECK(c, gis == 0, "guest interrupt status (SVI 15:8, RVI 7:0)", gis);
    CHECK(c, !l1_vapic_bit(0x100, v), "VISR bit of the vector", v);
    CHECK(c, !l1_vapic_bit(0x200, v), "VIRR bit of the vector", v);
}

/* Virtual-interrupt delivery and external-interrupt exiting off again. */
static void l1_vid_off(void)
{
    l1_proc2 &= ~(1u << 9);
    l1_w(C_PROC2, l1_proc2);
    l1_pin &= ~1u;
    l1_w(C_PIN, l1_pin);
    g[RSI] = 0;
}

static bool l1_pi_armed;

/* Bare runs: the local APIC enabled in x2APIC mode (IA32_APIC_BASE 1BH
 * bits 11 and 10, SVR 80FH bit 8: "x2APIC Register Address Space");
 * false without x2APIC (CPUID.1:ECX bit 21). */
static bool l1_x2apic_on(void)
{
    uint32_t a = 1, b, cx = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(cx), "=d"(d));
    if (!(cx & (1u << 21)))
        return false;
    uint64_t base = l1_rdmsr(0x1b);
    if (!(base & (1u << 11)))
        l1_wrmsr(0x1b, base |= 1u << 11);
    l1_wrmsr(0x1b, base | (1u << 10));
    l1_wrmsr(0x80f, 0x1ff);
    return true;
}

/* External interrupt v pending for L1, RFLAGS.IF = 0: nested, L0 makes it
 * pending on L1's request; bare, the local APIC's self IPI ("Self IPI
 * Register", 83FH). False when neither is available. */
static bool l1_irq_pending(uint8_t v)
{
    if (l1_flags & L1_MODE_NESTED) {
        __asm__ volatile("outb %%al, %%dx" : : "a"(v), "d"((uint16_t)L1_PORT_IRQ));
        return true;
    }
    if (!l1_x2apic_on())
        return false;
    l1_wrmsr(0x83f, v);
    return true;
}

/* "Checks on VM-Execution Control Fields": the control needs
 * virtual-interrupt delivery (on), "acknowledge interrupt on exit", a
 * vector of 0-255 and a 64-byte aligned descriptor. */
static bool l1_pi_arm(void)
{
    const uint32_t c = L1_CASE_PI;
    if (!((l1_cap_pin >> 32) & (1u << 7))) {
        l1_skip(c, "'process posted interrupts' is not allowed-1");
        return false;
    }
    if (!((l1_cap_exit >> 32) & (1u << 15))) {
        l1_skip(c, "'acknowledge interrupt on exit' is not allowed-1");
        return false;
    }
    memset(pi_desc, 0, sizeof(pi_desc));
    pi_desc[L2_VINT_PI / 64] = 1ull << (L2_VINT_PI % 64);
    pi_desc[4] = 1;
    l1_pin |= 1u << 7;
    l1_w(C_PIN, l1_pin);
    l1_exitc |= 1u << 15;
    l1_w(C_EXIT, l1_exitc);
    l1_w(C_PI_NV, L1_PI_NV);
    l1_w(C_PI_DESC, PA(pi_desc));
    if (!l1_irq_pending(L1_PI_NV)) {
        l1_skip(c, "no x2APIC for the self IPI");
        l1_pin &= ~(1u << 7);
        l1_w(C_PIN, l1_pin);
        return false;
    }
    l1_pi_armed = true;
    return true;
}

static void l1_exit_program(void)
{
    bool ept = !(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok();
    const l1_step_t steps[] = {
        {L1_CASE_EFER_SCE, 18, l2_at_syscall, 3, 0, ~0ull, "VMCALL after SYSCALL"},
        {L1_CASE_CPUID, 10, l2_at_cpuid, 2, 0, ~0ull, "CPUID"},
        {L1_CASE_IO_OUT, 30, l2_at_out, 2, 0x00900043u, 0xffff007fu, "OUT imm8 port, 32-bit"},
        {L1_CASE_IO_IN, 30, l2_at_in, 1, 0x03f80008u, 0xffff007fu, "IN DX port, 8-bit"},
        {L1_CASE_RDMSR, 31, l2_at_rdmsr, 2, 0, ~0ull, "RDMSR"},
        {L1_CASE_WRMSR, 32, l2_at_wrmsr, 2, 0, ~0ull, "WRMSR"},
        {L1_CASE_EXC_EXIT, 0, l2_at_ud, 0, 0, ~0ull, "exception #UD"},
        {L1_CASE_EPT, 48, l2_at_ept, 0, 0x181u, 0x11ffu, "EPT violation"},
        {L1_CASE_VMCALL, 18, l2_at_vmcall, 3, 0, ~0ull, "VMCALL"},
        {L1_CASE_TIMER, 52, NULL, 0, 0, ~0ull, "VMX-preemption timer expired"},
        {L1_CASE_HLT, 12, l2_at_hlt, 1, 0, ~0ull, "HLT"},
        /* Trap-like: RIP past the MOV, no instruction length; no qualification. */
        {L1_CASE_TPR, 43, l2_after_tpr, 0, 0, ~0ull, "TPR below threshold"},
        /* Fault-like: RIP at the MOV; qualification bits 11:0 the offset,
         * 15:12 access type 0 (linear access for a data read) ("Exit
         * Qualification for APIC-Access VM Exits"). */
        {L1_CASE_APIC_ACC, 44, l2_at_apic, 0, 0x030u, 0xffffu, "APIC access"},
        /* Trap-like: RIP past the write; qualification the page offset,
         * bits above 11 clear ("Exit Qualification for APIC-Write VM Exits"). */
        {L1_CASE_APIC_WRITE, 56, l2_after_apic_write, 0, 0x380u, ~0ull, "APIC write"},
        /* Trap-like: RIP past the EOI write; qualification the vector
         * ("Exit Qualification for EOI Virtualization"). */
        {L1_CASE_VID_EOI_EXIT, 45, l2_after_veoi, 0, L2_VINT_A, ~0ull, "virtualized EOI"},
        {L1_CASE_VID_EOI, 18, l2_at_vid, 3, 0, ~0ull, "VMCALL"},
        {L1_CASE_PI, 18, l2_at_vid, 3, 0, ~0ull, "VMCALL"},
        {L1_CASE_TIMER_L0, 52, NULL, 0, 0, ~0ull, "VMX-preemption timer expired"},
        {L1_CASE_SYSCALL, 18, l2_at_syscall, 3, 0, ~0ull, "VMCALL"},
        {L1_CASE_LIST_EFER, 18, l2_at_syscall, 3, 0, ~0ull, "VMCALL after SYSCALL"},
        {L1_CASE_FINISH, 18, l2_at_done, 3, 0, ~0ull, "VMCALL"},
    };
    if (!l1_vmcs_fresh(L1_CASE_VMCS))
        return;
    uint64_t cur = 0;
    int rc = l1_vmptrst(&cur);
    CHECK(L1_CASE_VMCS, rc == 0 && cur == PA(vmcs), "VMPTRST", cur);
    l1_pass(L1_CASE_VMCS);
    l1_l2_memory(ept);
    l1_write_fails = 0;
    if (!l1_controls(ept)) {
        l1_fail(L1_CASE_VMWRITE, "a control L1 needs is not allowed-1; proc allowed-1", l1_cap_proc >> 32);
        return;
    }
    l1_host_state();
    l1_guest_state(l2_code);
    /* "Loading MSRs": every VM entry gives L2 its IA32_KERNEL_GS_BASE and
     * SYSCALL MSRs, every VM exit gives L1 its own back (the processor
     * restores none of them). */
    const uint32_t list_msr[4] = {MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_STAR, MSR_FMASK};
    const uint64_t l2_val[4] = {L2_KERNEL_GS_BASE, PA(l2_syscall_target), L2_STAR, L2_FMASK};
    uint64_t l1_val[4];
    for (uint32_t i = 0; i < 4; i++) {
        l1_val[i] = l1_rdmsr(list_msr[i]);
        msr_entry[2 * i] = list_msr[i];
        msr_entry[2 * i + 1] = l2_val[i];
        msr_exit[2 * i] = list_msr[i];
        msr_exit[2 * i + 1] = l1_val[i];
    }
    uint64_t l1_kgs = l1_val[0];
    l1_w(C_ENTRY_MSR_LOAD, PA(msr_entry));
    l1_w(C_ENTRY_MSR_LOAD_N, 4);
    l1_w(C_EXIT_MSR_LOAD, PA(msr_exit));
    l1_w(C_EXIT_MSR_LOAD_N, 4);
    CHECK(L1_CASE_VMWRITE, l1_write_fails == 0, "VMWRITE failed, first field", l1_write_fail_field);
    CHECK(L1_CASE_VMWRITE, l1_rd(G_RIP) == PA(l2_code), "VMREAD guest RIP", l1_rd(G_RIP));
    CHECK(L1_CASE_VMWRITE, l1_rd(C_PROC) == l1_proc, "VMREAD processor-based controls", l1_rd(C_PROC));
    CHECK(L1_CASE_VMWRITE, l1_rd(C_EXC_BITMAP) == (1u << 6), "VMREAD exception bitmap", l1_rd(C_EXC_BITMAP));
    CHECK(L1_CASE_VMWRITE, l1_rd(G_TR_AR) == 0x8b, "VMREAD guest TR access rights", l1_rd(G_TR_AR));
    if (rep->cases[L1_CASE_VMWRITE].state == L1_FAIL)
        return;
    l1_pass(L1_CASE_VMWRITE);
    if (!ept)
        l1_skip(L1_CASE_EPT, "L1 runs L2 without EPT (not offered or not asked for)");

    memset(g, 0, sizeof(g));
    g[R14] = ept ? L2_EPT_HOLE : PA(&l2_scratch);
    /* L1's own EFER.SCE and NXE, without "load IA32_EFER" (CPUID
     * 80000001H:EDX bits 11 and 20 allow them): L2 must run with them. */
    uint32_t ea = 0x80000001u, eb, ec = 0, ed;
    __asm__ volatile("cpuid" : "+a"(ea), "=b"(eb), "+c"(ec), "=d"(ed));
    if ((ed & (1u << 11)) && (ed & (1u << 20))) {
        l1_efer0 = l1_rdmsr(MSR_EFER);
        l1_efer_set = true;
        l1_wrmsr(MSR_EFER, l1_efer0 | EFER_SCE | EFER_NXE);
        l2_pd[L2_XD_ALIAS >> 21] = L1_BASE | 0x83 | (1ull << 63);
        g[R13] = 1;
        g[RBP] = L2_XD_ALIAS;
    } else {
        l1_skip(L1_CASE_EFER_SCE, "CPUID has no SYSCALL or no NX");
        l1_skip(L1_CASE_EFER_NXE, "CPUID has no SYSCALL or no NX");
    }
    l1_say("VMLAUNCH of L2\n");
    rc = l1_vmenter(g, 0);
    if (rc) {
        l1_fail(L1_CASE_LAUNCH, rc == 1 ? "VMfailInvalid" : "VMfailValid, error", rc == 1 ? 0 : l1_rd(R_VM_ERROR));
        return;
    }
    l1_pass(L1_CASE_LAUNCH);
    for (uint32_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const l1_step_t *s = &steps[i];
        if ((s->c == L1_CASE_EPT && !ept) || (s->c == L1_CASE_TPR && !g[R13]) ||
            (s->c == L1_CASE_APIC_ACC && !g[RBP]) || (s->c == L1_CASE_APIC_WRITE && g[RDI] != 1) ||
            ((s->c == L1_CASE_VID_EOI_EXIT || s->c == L1_CASE_VID_EOI) && g[RSI] != 1) ||
            (s->c == L1_CASE_PI && !l1_pi_armed) ||
            ((s->c == L1_CASE_TIMER_L0 || s->c == L1_CASE_SYSCALL) && !g[R12]) ||
            (s->c == L1_CASE_LIST_EFER && g[R12] != 2) ||
            (s->c == L1_CASE_EFER_SCE && !g[R13]))
            continue;
        uint32_t c = s->c;
        uint64_t reason = l1_rd(R_EXIT_REASON), qual = l1_rd(R_QUAL), rip = l1_rd(G_RIP);
        uint64_t len = l1_rd(R_INSN_LEN);
        rep->l1_exits++;
        l1_narrate(s, reason, rip, len, qual);
        if (reason != s->reason) {
            char b[20];
            l1_fail(c, "exit reason", reason);
            l1_detail(&rep->cases[c], " want ");
            l1_hex(b, s->reason);
            l1_detail(&rep->cases[c], b);
            l1_detail(&rep->cases[c], " rip ");
            l1_hex(b, rip);
            l1_detail(&rep->cases[c], b);
            l1_detail(&rep->cases[c], " qual ");
            l1_hex(b, qual);
            l1_detail(&rep->cases[c], b);
            return;
        }
        if (s->rip)
            CHECK(c, rip == PA(s->rip), "guest RIP", rip);
        if (s->len)
            CHECK(c, len == s->len, "instruction length", len);
        CHECK(c, (qual & s->qual_mask) == s->qual, "qualification", qual);
        CHECK(c, !(l1_rd(R_IDT_VECT) >> 31), "IDT-vectoring information valid", l1_rd(R_IDT_VECT));
        uint64_t next = rip + len;
        switch (c) {
        case L1_CASE_EFER_SCE: {
            /* "SYSCALL": RCX the next instruction, RIP IA32_LSTAR. */
            CHECK(c, g[RCX] == PA(l2_after_efer_syscall), "RCX after SYSCALL", g[RCX]);
            CHECK(c, (uint32_t)g[RAX] == 0x4c320003u, "EAX at IA32_LSTAR's VMCALL", g[RAX]);
            /* The read through the XD = 1 entry did not fault (a triple fault
             * would have been the exit); L2's EFER is L1's, LMA and LME
             * from "IA-32e mode guest" (1, as L1's own). */
            uint64_t want = l1_rdmsr(MSR_EFER);
            uint64_t seen = ((uint64_t)(uint32_t)g[RSI] << 32) | (uint32_t)g[RBX];
            CHECK(L1_CASE_EFER_NXE, seen == want, "L2's RDMSR of IA32_EFER", seen);
            CHECK(L1_CASE_EFER_NXE, (seen & (EFER_SCE | EFER_NXE)) == (EFER_SCE | EFER_NXE), "L2's EFER.SCE/NXE",
                  seen);
            l1_pass(L1_CASE_EFER_NXE);
            g[R13] = 0;
            g[RBP] = 0;
            next = PA(l2_after_efer_syscall);
            break;
        }
        case L1_CASE_CPUID:
            CHECK(c, (uint32_t)g[RAX] == 0x4c320001u, "L2's EAX", g[RAX]);
            g[RAX] = 0x11111111u;
            g[RBX] = 0x22222222u;
            g[RCX] = 0x33333333u;
            g[RDX] = 0x44444444u;
            break;
        case L1_CASE_IO_OUT:
            /* The CPUID reply reached L2. */
            CHECK(L1_CASE_CPUID, g[RAX] == 0x11111111u && g[RBX] == 0x22222222u && g[RCX] == 0x33333333u,
                  "L2 after the CPUID reply, rax", g[RAX]);
            break;
        case L1_CASE_IO_IN:
            g[RAX] = (g[RAX] & ~0xffull) | 0x5a;
            break;
        case L1_CASE_RDMSR:
            CHECK(L1_CASE_IO_IN, (g[RBX] & 0xff) == 0x5a, "L2's AL after the IN reply", g[RBX]);
            /* No exit between the IN and this RDMSR: the OUT to 80H passed. */
            l1_pass(L1_CASE_IO_PASS);
            l1_say("L2's OUT to port 80H did not exit to L1: I/O bitmap A bit 80H is clear\n");
            CHECK(c, (uint32_t)g[RCX] == 0x174, "ECX", g[RCX]);
            g[RAX] = 0x55667788u;
            g[RDX] = 0x11223344u;
            break;
        case L1_CASE_WRMSR:
            CHECK(c, (uint32_t)g[RCX] == 0x175 && (uint32_t)g[RAX] == 0x89abcdefu &&
                         (uint32_t)g[RDX] == 0x01234567u,
                  "ECX/EAX/EDX, eax", g[RAX]);
            CHECK(L1_CASE_RDMSR, g[RSI] == 0x55667788u && g[RDI] == 0x11223344u, "L2 after the reply, esi",
                  g[RSI]);
            CHECK(L1_CASE_MSR_PASS, ((g[R9] << 32) | (uint32_t)g[R8]) == L2_SYSENTER_EIP,
                  "L2 read IA32_SYSENTER_EIP", (g[R9] << 32) | (uint32_t)g[R8]);
            l1_pass(L1_CASE_MSR_PASS);
            l1_say("L2's RDMSR of 176H did not exit to L1 (MSR bitmap read bit clear): L2 read its own "
                   "IA32_SYSENTER_EIP from the guest-state area\n");
            CHECK(L1_CASE_MSR_LOAD, ((g[R11] << 32) | (uint32_t)g[R10]) == L2_KERNEL_GS_BASE,
                  "L2 read IA32_KERNEL_GS_BASE", (g[R11] << 32) | (uint32_t)g[R10]);
            CHECK(L1_CASE_MSR_LOAD, l1_rdmsr(MSR_KERNEL_GS_BASE) == l1_kgs,
                  "L1's IA32_KERNEL_GS_BASE after the VM-exit MSR-load list", l1_rdmsr(MSR_KERNEL_GS_BASE));
            l1_pass(L1_CASE_MSR_LOAD);
            l1_say("L2 read the IA32_KERNEL_GS_BASE of L1's VM-entry MSR-load list; L1's VM-exit MSR-load "
                   "list gave L1 its own back\n");
            break;
        case L1_CASE_EXC_EXIT:
            /* "VM-Exit Interruption-Information Field": valid, hardware exception, vector 6, no error code. */
            CHECK(c, l1_rd(R_EXIT_INTR) == 0x80000306u, "interruption information", l1_rd(R_EXIT_INTR));
            next = rip + 2;
            break;
        case L1_CASE_EPT:
            CHECK(c, l1_rd(R_GUEST_PHYS) == L2_EPT_HOLE, "guest-physical address", l1_rd(R_GUEST_PHYS));
            CHECK(c, l1_rd(R_GUEST_LINEAR) == L2_EPT_HOLE, "guest linear address", l1_rd(R_GUEST_LINEAR));
            g[RAX] = 0;
            next = PA(l2_after_ept);
            break;
        case L1_CASE_VMCALL:
            CHECK(c, (uint32_t)g[RAX] == 0x4c320002u, "EAX", g[RAX]);
            /* The #DE before it went through L2's own IDT, once. */
            CHECK(L1_CASE_EXC_PASS, g[R15] == 1, "L2's #DE handler count", g[R15]);
            l1_pass(L1_CASE_EXC_PASS);
            l1_say("L2's #DE did not exit to L1 (exception bitmap bit 0 clear): L2's own handler ran\n");
            /* Arm the preemption timer for the loop that follows. */
            if (!l1_ctl(l1_cap_pin, l1_pin | (1u << 6), &l1_pin)) {
                l1_fail(L1_CASE_TIMER, "preemption timer not allowed-1, pin caps", l1_cap_pin);
                return;
            }
            l1_w(C_PIN, l1_pin);
            l1_w(G_PREEMPT_TIMER, 20000);
            break;
        case L1_CASE_TIMER:
            /* "VMX-Preemption Timer": the exit comes between instructions of the loop. */
            CHECK(c, rip >= PA(l2_loop) && rip < PA(l2_loop_end), "RIP outside the loop", rip);
            CHECK(c, (uint32_t)g[RCX] != 0, "ECX (loop ran out)", g[RCX]);
            l1_pin &= ~(1u << 6);
            l1_w(C_PIN, l1_pin);
            g[RCX] = 1;
            next = rip;
            break;
        case L1_CASE_HLT:
            /* The rest of L2 runs with SYSCALL enabled (VM-entry control 15
             * "load IA32_EFER": SCE, LME, LMA) and L1's preemption timer
             * armed without "save VMX-preemption timer value". */
            if (!((l1_cap_entry >> 32) & (1u << 15))) {
                l1_skip(L1_CASE_TIMER_L0, "'load IA32_EFER' is not allowed-1");
                l1_skip(L1_CASE_SYSCALL, "'load IA32_EFER' is not allowed-1");
                l1_skip(L1_CASE_LIST_EFER, "'load IA32_EFER' is not allowed-1");
            } else {
                l1_entryc |= 1u << 15;
                l1_w(C_ENTRY, l1_entryc);
                l1_w(G_EFER, 0x501); /* SCE, LME, LMA */
                l1_pin |= 1u << 6;
                l1_w(C_PIN, l1_pin);
                l1_w(G_PREEMPT_TIMER, L2_TIMER_L0);
                g[R12] = 1;
            }
            /* "use TPR shadow" for the rest of L2: VTPR 50H, threshold 3. */
            if (!((l1_cap_proc >> 32) & (1u << 21))) {
                l1_skip(L1_CASE_TPR, "'use TPR shadow' is not allowed-1");
                l1_skip(L1_CASE_APIC_ACC, "'use TPR shadow' is not allowed-1");
                l1_skip(L1_CASE_APIC_WRITE, "'use TPR shadow' is not allowed-1");
                l1_skip(L1_CASE_VID_EOI_EXIT, "'use TPR shadow' is not allowed-1");
                l1_skip(L1_CASE_VID_EOI, "'use TPR shadow' is not allowed-1");
                break;
            }
            memset(vapic, 0, sizeof(vapic));
            vapic[0x80] = 0x50;
            l1_proc |= 1u << 21;
            l1_w(C_PROC, l1_proc);
            l1_w(C_VAPIC, PA(vapic));
            l1_w(C_TPR_THRESHOLD, 3);
            g[R13] = 1;
            break;
        case L1_CASE_TPR: {
            /* L2 read 4 back through the shadow; VTPR is the last MOV's
             * 1 in bits 7:4, bits 3:0 and 31:8 cleared ("Virtualizing MOV to CR8"). */
            uint32_t vtpr = (uint32_t)vapic[0x80] | ((uint32_t)vapic[0x81] << 8) | ((uint32_t)vapic[0x82] << 16) |
                            ((uint32_t)vapic[0x83] << 24);
            CHECK(c, g[RBX] == 4, "L2's MOV from CR8", g[RBX]);
            CHECK(c, vtpr == 0x10, "VTPR in L1's virtual-APIC page", vtpr);
            /* Entry would fail with threshold 3 > VTPR[7:4] = 1 ("Checks on VMX Controls"). */
            l1_w(C_TPR_THRESHOLD, 0);
            next = rip;
            /* "virtualize APIC accesses" for the rest of L2 (secondary control 0). */
            if (!(l1_cap_proc >> 63) || !((l1_cap_proc2 >> 32) & 1u)) {
                l1_skip(L1_CASE_APIC_ACC, "'virtualize APIC accesses' is not allowed-1");
                l1_skip(L1_CASE_APIC_WRITE, "'virtualize APIC accesses' is not allowed-1");
                l1_skip(L1_CASE_VID_EOI_EXIT, "'virtualize APIC accesses' is not allowed-1");
                l1_skip(L1_CASE_VID_EOI, "'virtualize APIC accesses' is not allowed-1");
                break;
            }
            memset(apic_acc, 0, sizeof(apic_acc));
            l1_proc |= 1u << 31;
            l1_proc2 |= 1u;
            l1_w(C_PROC, l1_proc);
            l1_w(C_PROC2, l1_proc2);
            l1_w(C_APIC_ACCESS, PA(apic_acc));
            g[RBP] = PA(apic_acc);
            break;
        }
        case L1_CASE_APIC_ACC:
            /* The read of 080H before it returned VTPR (10H) without an exit. */
            CHECK(c, (uint32_t)g[RBX] == 0x10u, "L2's read of APIC-access offset 080H", g[RBX]);
            g[RAX] = 0x00050014u; /* L1 emulates the read */
            next = PA(l2_after_apic);
            /* "APIC-register virtualization" (secondary 8) for the rest of L2. */
            g[RDI] = 0;
            if (!((l1_cap_proc2 >> 32) & (1u << 8))) {
                l1_skip(L1_CASE_APIC_WRITE, "'APIC-register virtualization' is not allowed-1");
                l1_skip(L1_CASE_VID_EOI_EXIT, "'APIC-register virtualization' is not allowed-1");
                l1_skip(L1_CASE_VID_EOI, "'APIC-register virtualization' is not allowed-1");
                break;
            }
            vapic[0x30] = 0x15;
            vapic[0x32] = 0x06;
            l1_proc2 |= 1u << 8;
            l1_w(C_PROC2, l1_proc2);
            g[RDI] = 1;
            break;
        case L1_CASE_APIC_WRITE: {
            /* The read of 030H came from the virtual-APIC page; the write
             * reached it before the exit ("APIC-Write Emulation"). */
            uint32_t tmict = (uint32_t)vapic[0x380] | ((uint32_t)vapic[0x381] << 8) |
                             ((uint32_t)vapic[0x382] << 16) | ((uint32_t)vapic[0x383] << 24);
            CHECK(c, (uint32_t)g[RBX] == 0x00060015u, "L2's read of APIC-access offset 030H", g[RBX]);
            CHECK(c, tmict == 0x12345u, "offset 380H of L1's virtual-APIC page", tmict);
            l1_proc2 &= ~(1u << 8);
            next = rip;
            /* "virtual-interrupt delivery" (secondary 9) for the next steps:
             * it needs "external-interrupt exiting" ("Checks on VMX
             * Controls"); RVI 31H with its VIRR bit, SVI 0, EOI-exit bit
             * 31H set (bitmap 0 bit 49). */
            g[RSI] = 0;
            if (!((l1_cap_proc2 >> 32) & (1u << 9)) || !l1_ctl(l1_cap_pin, l1_pin | 1u, &l1_pin)) {
                l1_skip(L1_CASE_VID_EOI_EXIT, "'virtual-interrupt delivery' or 'external-interrupt exiting' is not allowed-1");
                l1_skip(L1_CASE_VID_EOI, "'virtual-interrupt delivery' or 'external-interrupt exiting' is not allowed-1");
                l1_w(C_PROC2, l1_proc2);
                break;
            }
            memset(vapic + 0x100, 0, 0x180); /* VISR, VTMR, VIRR */
            l1_vapic_set(0x200, L2_VINT_A);
            l1_w(C_PIN, l1_pin);
            l1_proc2 |= 1u << 9;
            l1_w(C_PROC2, l1_proc2);
            l1_w(C_EOI_EXIT0, 1ull << L2_VINT_A);
            l1_w(C_EOI_EXIT0 + 2, 0);
            l1_w(C_EOI_EXIT0 + 4, 0);
            l1_w(C_EOI_EXIT0 + 6, 0);
            l1_w(G_INTR_STATUS, L2_VINT_A);
            g[RSI] = 1;
            g[R10] = 0;
            break;
        }
        case L1_CASE_VID_EOI_EXIT: {
            /* "Virtual-Interrupt Delivery": 31H went to L2's handler (VISR
             * set, VIRR and RVI cleared, SVI 31H); "Virtualizing EOI": the
             * EOI cleared its VISR bit and SVI took the highest bit left
             * (none: 0) before the exit. Bochs 2.7 (corei7_skylake_x,
             * tigerlake) agrees with the SDM on every value checked in the
             * two steps, bare and through libvirtcore. */
            l1_vid_done(c, 1, L2_VINT_A);
            /* 32H next, its EOI without an exit. */
            l1_vapic_set(0x200, L2_VINT_B);
            l1_w(C_EOI_EXIT0, 0);
            l1_w(G_INTR_STATUS, L2_VINT_B);
            next = rip;
            break;
        }
        case L1_CASE_VID_EOI: {
            /* 32H was delivered after the handler's IRET and its EOI
             * virtualized without an exit. */
            l1_vid_done(c, 2, L2_VINT_B);
            /* Posted interrupts next, on the same L2 code: 33H posted,
             * the notification pending before VMRESUME. */
            if (l1_pi_arm()) {
                next = PA(l2_vid_again);
                break;
            }
            l1_vid_off();
            break;
        }
        case L1_CASE_PI: {
            /* "Posted-Interrupt Processing": ON cleared, PIR moved into
             * VIRR and cleared, RVI 33H, the virtual interrupt evaluated
             * and delivered to L2 (its third handler run; its EOI
             * virtualized: VISR, VIRR, RVI, SVI clear) - and no exit 1
             * (the step's exit is the VMCALL). */
            l1_vid_done(c, 3, L2_VINT_PI);
            if (l1_flags & L1_MODE_NESTED) {
                /* Step 4's EOI of the notification reached L0's VMM once. */
                uint8_t eois;
                __asm__ volatile("inb %1, %0" : "=a"(eois) : "Nd"((uint16_t)L1_PORT_EOI));
                CHECK(c, eois == 1, "exits with VCORE_EXIT_F_APIC_EOI at L0 (expected 1)", eois);
            }
            CHECK(c, !(pi_desc[4] & 1u), "ON after the notification", pi_desc[4]);
            for (uint32_t k = 0; k < 4; k++)
                CHECK(c, pi_desc[k] == 0, "PIR word after the notification", pi_desc[k]);
            l1_pi_armed = false;
            l1_pin &= ~(1u << 7);
            l1_exitc &= ~(1u << 15);
            l1_w(C_EXIT, l1_exitc);
            l1_vid_off();
            break;
        }
        case L1_CASE_TIMER_L0:
            /* "VMX-Preemption Timer": the timer counts down only while L2
             * runs, from vmcs12's value at each VM entry of L1; the exits of
             * the RDMSRs go to L0, not to L1, and must not start it again. */
            CHECK(c, rip >= PA(l2_l0_loop) && rip < PA(l2_l0_loop_end), "RIP outside the loop", rip);
            CHECK(c, (uint32_t)g[RBX] != 0, "EBX (loop ran out)", g[RBX]);
            l1_pin &= ~(1u << 6);
            l1_w(C_PIN, l1_pin);
            next = PA(l2_after_l0_loop);
            break;
        case L1_CASE_SYSCALL: {
            /* "SWAPGS": GS.base took IA32_KERNEL_GS_BASE; "SYSCALL": RCX the
             * next instruction, RIP IA32_LSTAR, CS IA32_STAR[47:32], SS that
             * + 8, RFLAGS cleared where IA32_FMASK is set (DF). */
            CHECK(c, ((g[R9] << 32) | (uint32_t)g[R8]) == L2_KERNEL_GS_BASE, "GS.base after SWAPGS",
                  (g[R9] << 32) | (uint32_t)g[R8]);
            CHECK(c, g[RCX] == PA(l2_after_syscall), "RCX after SYSCALL", g[RCX]);
            CHECK(c, (g[R11] & L2_FMASK) != 0, "R11 (RFLAGS before SYSCALL) DF", g[R11]);
            CHECK(c, !(l1_rd(G_RFLAGS) & L2_FMASK), "RFLAGS.DF after SYSCALL", l1_rd(G_RFLAGS));
            CHECK(c, l1_rd(G_CS_SEL) == 0x08 && l1_rd(G_SS_SEL) == 0x10, "CS selector after SYSCALL",
                  l1_rd(G_CS_SEL));
            for (uint32_t k = 0; k < 4; k++)
                CHECK(c, l1_rdmsr(list_msr[k]) == l1_val[k], "L1's MSR after the VM-exit MSR-load list",
                      list_msr[k]);
            /* The next SYSCALL: without "load IA32_EFER", L1's own SCE
             * clear, an IA32_EFER entry of the VM-entry MSR-load list sets
             * it for L2 ("Loading MSRs": after the guest state, as WRMSR;
             * LMA and LME as the guest state loaded them). */
            uint64_t efer = l1_rdmsr(MSR_EFER);
            if (!l1_efer_set) {
                l1_efer0 = efer;
                l1_efer_set = true;
            }
            l1_wrmsr(MSR_EFER, efer & ~EFER_SCE);
            l1_entryc &= ~(1u << 15);
            l1_w(C_ENTRY, l1_entryc);
            msr_entry[8] = MSR_EFER;
            msr_entry[9] = efer | EFER_SCE;
            l1_w(C_ENTRY_MSR_LOAD_N, 5);
            g[R12] = 2;
            break;
        }
        case L1_CASE_LIST_EFER:
            /* "SYSCALL": RCX the next instruction, RIP IA32_LSTAR. "Loading
             * Host State": without "load IA32_EFER" at exit only LMA and
             * LME change, so L1 has L2's SCE now. */
            CHECK(c, g[RCX] == PA(l2_after_list_syscall), "RCX after SYSCALL", g[RCX]);
            CHECK(c, (uint32_t)g[RAX] == 0x4c320003u, "EAX at IA32_LSTAR's VMCALL", g[RAX]);
            CHECK(c, (l1_rdmsr(MSR_EFER) & EFER_SCE) != 0, "L1's EFER after the exit", l1_rdmsr(MSR_EFER));
            l1_w(C_ENTRY_MSR_LOAD_N, 4);
            g[R12] = 0;
            break;
        case L1_CASE_FINISH:
            CHECK(c, (uint32_t)g[RAX] == 0x4c3200ffu, "EAX", g[RAX]);
            l1_pass(c);
            return;
        default:
            break;
        }
        l1_pass(c);
        l1_w(G_RIP, next);
        rc = l1_vmenter(g, 1);
        if (rc) {
            uint32_t nc = i + 1 < sizeof(steps) / sizeof(steps[0]) ? steps[i + 1].c : L1_CASE_FINISH;
            l1_fail(nc, "VMRESUME failed, error", rc == 1 ? 0 : l1_rd(R_VM_ERROR));
            return;
        }
    }
}

/* ---- the real-mode guest ---- */

/* One exit of the real-mode guest: the reason, RIP (the offset in CS) and
 * the instruction length L1 expects; false (case failed) otherwise. */
static bool l1_real_exit(uint32_t reason, uint64_t ip, uint64_t len)
{
    const uint32_t c = L1_CASE_REAL_MODE;
    uint64_t r = l1_rd(R_EXIT_REASON), rip = l1_rd(G_RIP), n = l1_rd(R_INSN_LEN);
    rep->l1_exits++;
    CHECK(c, r == reason, "exit reason", r);
    CHECK(c, rip == ip, "guest RIP", rip);
    CHECK(c, n == len, "instruction length", n);
    return rep->cases[c].state != L1_FAIL;
}

/* L2 in real mode under "unrestricted guest" (secondary control 7, which
 * needs EPT): CR0.PE and CR0.PG clear, real-mode segments (base = selector
 * * 16, limit FFFFH), the code at guest-physical addresses below 1 MiB
 * that L1's EPT maps to L1's region ("Unrestricted Guests", "Checks on
 * Guest Control Registers, Debug Registers, and MSRs", "Checks on Guest
 * Segment Registers"). */
static void l1_real_mode_program(bool ept)
{
    const uint32_t c = L1_CASE_REAL_MODE;
    uint64_t gpa = PA(l2_real) - L1_BASE;
    if (!ept || !((l1_cap_proc2 >> 32) & (1u << 7))) {
        l1_skip(c, "L1 runs L2 without EPT, or 'unrestricted guest' is not allowed-1");
        return;
    }
    if (gpa + 0x20 > 0x100000u) {
        l1_skip(c, "L2's real-mode code lies above 1 MiB in L1's region");
        return;
    }
    if (!l1_vmcs_fresh(c))
        return;
    l1_write_fails = 0;
    (void)l1_controls(true);
    l1_host_state();
    l1_guest_state(l2_real);
    /* Guest-physical 0-2 MiB -> L1's region, 2 MiB page, RWX, WB (a new
     * mapping of a not-present entry: nothing to invalidate). */
    ept_pd[0] = L1_BASE | 0x80 | (6u << 3) | 7;
    l1_entryc &= ~(1u << 9); /* no IA-32e mode guest */
    l1_w(C_ENTRY, l1_entryc);
    if (!l1_ctl(l1_cap_proc2, l1_proc2 | (1u << 7), &l1_proc2)) {
        l1_fail(c, "secondary controls", l1_proc2);
        return;
    }
    l1_w(C_PROC2, l1_proc2);
    /* CR0: the fixed-1 bits but PE and PG, which "unrestricted guest"
     * frees ("VMX-Fixed Bits in CR0"); CR4: the fixed-1 bits, no PAE. */
    l1_w(G_CR0, (l1_rdmsr(0x486) & ~0x80000001ull) | 0x30u);
    l1_w(G_CR3, 0);
    l1_w(G_CR4, l1_rdmsr(0x488));
    /* RPL 0: SS.DPL must equal the RPL of SS's selector, and be 0 with
     * CR0.PE = 0 ("Checks on Guest Segment Registers"). */
    uint16_t sel = (uint16_t)((gpa >> 4) & ~3ull);
    static const uint32_t segs[] = {G_CS_SEL, G_SS_SEL, G_DS_SEL, G_ES_SEL, G_FS_SEL, G_GS_SEL};
    for (uint32_t i = 0; i < 6; i++) {
        uint32_t k = (segs[i] - G_ES_SEL) / 2;
        l1_w(segs[i], sel);
        l1_w(G_ES_BASE + 2 * k, (uint64_t)sel << 4);
        l1_w(G_ES_LIMIT + 2 * k, 0xffff);
        l1_w(G_ES_AR + 2 * k, i == 0 ? 0x9b : 0x93); /* code / data, accessed, present */
    }
    l1_w(G_TR_SEL, 0);
    l1_w(G_TR_BASE, 0);
    l1_w(G_TR_AR, 0x8b); /* busy 32-bit TSS: TR must be usable */
    l1_w(G_GDTR_BASE, 0);
    l1_w(G_IDTR_BASE, 0);
    l1_w(G_IDTR_LIMIT, 0x3ff);
    l1_w(G_RSP, 0xfff0);
    l1_w(G_RIP, gpa - ((uint64_t)sel << 4));
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    int rc = l1_vmenter(g, 0);
    if (rc) {
        l1_fail(c, rc == 1 ? "VMLAUNCH: VMfailInvalid" : "VMLAUNCH: VMfailValid, error",
                rc == 1 ? 0 : l1_rd(R_VM_ERROR));
        return;
    }
    uint64_t base = (uint64_t)sel << 4;
    if (!l1_real_exit(10, PA(l2_real_at_cpuid) - L1_BASE - base, 2))
        return;
    CHECK(c, !(l1_rd(G_CR0) & 1u), "guest CR0.PE at the exit", l1_rd(G_CR0));
    CHECK(c, (uint16_t)g[RBX] == 0x2468u, "L2's BX after the 16-bit ADD", g[RBX]);
    l1_say("L2 exit 0xa (CPUID) in real mode: handled by L1 because CPUID always exits\n");
    l1_w(G_RIP, l1_rd(G_RIP) + 2);
    rc = l1_vmenter(g, 1);
    if (rc) {
        l1_fail(c, "VMRESUME failed, error", rc == 1 ? 0 : l1_rd(R_VM_ERROR));
        return;
    }
    if (!l1_real_exit(18, PA(l2_real_at_vmcall) - L1_BASE - base, 3))
        return;
    l1_say("L2 exit 0x12 (VMCALL) in real mode: handled by L1 because VMCALL always exits\n");
    l1_pass(c);
}

/* ---- the one-case programs ---- */

/* A clear, current VMCS with L2's memory and L1's usual controls, for the
 * program of case c; false (case failed) when a control is missing. */
static bool l1_program_start(uint32_t c, bool ept)
{
    if (!l1_vmcs_fresh(c))
        return false;
    l1_l2_memory(ept);
    l1_write_fails = 0;
    if (!l1_controls(ept)) {
        l1_fail(c, "controls", 0);
        return false;
    }
    return true;
}

/* ---- the PAT guest ---- */

/* Valid PATs (types 0, 1, 4, 5, 6, 7 only: "IA32_PAT MSR"), each different
 * from the power-up value 0007040600070406H. */
#define L2_PAT_ENTRY 0x0007010600070406ull /* vmcs12's guest IA32_PAT */
#define L2_PAT_WRITE 0x0006050400070106ull /* what L2 writes */

/* L2 with VM-entry control 14 ("load IA32_PAT") and VM-exit control 18
 * ("save IA32_PAT") but not 19 ("load IA32_PAT"), L1's MSR bitmap letting
 * L2 read and write IA32_PAT: L2 runs on vmcs12's guest PAT ("Loading
 * Guest Control Registers, Debug Registers, and MSRs"), the exit saves
 * what L2 wrote into vmcs12 ("Saving Guest State") and leaves the PAT
 * alone, so L1 goes on with L2's ("Loading Host State"). L1 restores its
 * own PAT afterwards. */
static void l1_pat_program(bool ept)
{
    const uint32_t c = L1_CASE_PAT;
    if (!((l1_cap_entry >> 32) & (1u << 14)) || !((l1_cap_exit >> 32) & (1u << 18))) {
        l1_skip(c, "'load IA32_PAT' or 'save IA32_PAT' is not allowed-1");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    l1_entryc |= 1u << 14;
    l1_w(C_ENTRY, l1_entryc);
    l1_exitc = (l1_exitc | (1u << 18)) & ~(1u << 19);
    l1_w(C_EXIT, l1_exitc);
    l1_host_state();
    l1_guest_state(l2_pat);
    l1_w(G_PAT, L2_PAT_ENTRY);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    uint64_t own = l1_rdmsr(0x277);
    memset(g, 0, sizeof(g));
    g[R10] = (uint32_t)L2_PAT_WRITE;
    g[R11] = L2_PAT_WRITE >> 32;
    int rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    uint64_t after = l1_rdmsr(0x277);
    l1_wrmsr(0x277, own);
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_pat_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    uint64_t seen = (g[R9] << 32) | (uint32_t)g[R8];
    CHECK(c, seen == L2_PAT_ENTRY, "L2's RDMSR of IA32_PAT", seen);
    CHECK(c, l1_rd(G_PAT) == L2_PAT_WRITE, "vmcs12's guest IA32_PAT after the exit", l1_rd(G_PAT));
    CHECK(c, after == L2_PAT_WRITE, "L1's IA32_PAT after the exit", after);
    l1_say("L2 ran on vmcs12's guest PAT; the exit saved what L2 wrote and left it as L1's PAT\n");
    l1_pass(c);
}

/* ---- the debug-controls guest ---- */

/* L1's DR7: bit 10 (reads as 1) and L0, breakpoint 0 on instruction
 * execution (R/W0 = LEN0 = 0) at L1_DEBUG_DR0, an address nothing
 * executes. */
#define L1_DEBUG_DR7 0x401ull
#define L1_DEBUG_DR0 0x7fff0000ull

/* L2 without VM-entry control 2 ("load debug controls") and VM-exit
 * control 2 ("save debug controls"), primary control 23 ("MOV-DR exiting")
 * clear: the entry leaves DR7 alone, so L2's MOV from DR7 reads L1's
 * ("Loading Guest Control Registers, Debug Registers, and MSRs"); the
 * exit sets DR7 to 400H ("Loading Host State"). */
static void l1_debug_program(bool ept)
{
    const uint32_t c = L1_CASE_DEBUG;
    if (((uint32_t)l1_cap_entry & (1u << 2)) || ((uint32_t)l1_cap_exit & (1u << 2))) {
        l1_skip(c, "'load debug controls' or 'save debug controls' cannot be 0");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    l1_entryc &= ~(1u << 2);
    l1_w(C_ENTRY, l1_entryc);
    l1_exitc &= ~(1u << 2);
    l1_w(C_EXIT, l1_exitc);
    l1_proc &= ~(1u << 23);
    l1_w(C_PROC, l1_proc);
    l1_host_state();
    l1_guest_state(l2_dr7);
    l1_w(G_DR7, 0x400);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    uint64_t dr7 = L1_DEBUG_DR7, dr0 = L1_DEBUG_DR0, after = 0;
    __asm__ volatile("mov %0, %%dr0" : : "r"(dr0));
    __asm__ volatile("mov %0, %%dr7" : : "r"(dr7));
    int rc = l1_vmenter(g, 0);
    __asm__ volatile("mov %%dr7, %0" : "=r"(after));
    dr7 = 0x400;
    __asm__ volatile("mov %0, %%dr7" : : "r"(dr7));
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_dr7_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, g[R8] == L1_DEBUG_DR7, "L2's DR7", g[R8]);
    CHECK(c, after == 0x400, "L1's DR7 after the exit", after);
    l1_say("L2 ran on L1's DR7; the exit set DR7 to 400H\n");
    l1_pass(c);
}

/* ---- the TSC guest ---- */

#define L2_TSC_OFFSET (1ull << 40)
#define L2_TSC_MULT (2ull << 48) /* 2.0: 48 fraction bits ("TSC Scaling") */

static uint64_t l1_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* L2 with "use TSC offsetting" and "use TSC scaling": its RDTSC reads
 * ((TSC * multiplier) >> 48) + offset ("Changes to Instruction Behavior in
 * VMX Non-Root Operation"), here 2 * TSC + 2^40 for a TSC between L1's
 * RDTSC before the entry and after the exit. */
static void l1_tsc_program(bool ept)
{
    const uint32_t c = L1_CASE_TSC;
    if (!((l1_cap_proc >> 32) & (1u << 3)) || !((l1_cap_proc2 >> 32) & (1u << 25))) {
        l1_skip(c, "'use TSC offsetting' or 'use TSC scaling' is not allowed-1");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    l1_proc |= (1u << 3) | (1u << 31);
    l1_proc2 |= 1u << 25;
    l1_w(C_PROC, l1_proc);
    l1_w(C_PROC2, l1_proc2);
    l1_w(C_TSC_OFFSET, L2_TSC_OFFSET);
    l1_w(C_TSC_MULTIPLIER, L2_TSC_MULT);
    l1_host_state();
    l1_guest_state(l2_tsc);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    uint64_t before = l1_rdtsc();
    int rc = l1_vmenter(g, 0);
    uint64_t after = l1_rdtsc();
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_tsc_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    uint64_t seen = (g[RDX] << 32) | (uint32_t)g[RAX];
    CHECK(c, seen >= 2 * before + L2_TSC_OFFSET, "L2's RDTSC below 2 * L1's TSC before the entry + offset", seen);
    CHECK(c, seen <= 2 * after + L2_TSC_OFFSET, "L2's RDTSC above 2 * L1's TSC after the exit + offset", seen);
    l1_say("L2's RDTSC read twice L1's TSC plus 2^40: offset and multiplier applied\n");
    l1_pass(c);
}

/* ---- an interrupt pending at VMLAUNCH ---- */

#define L1_INTR_VECTOR 0x41u

/* "Event Blocking" and "VM Exits Caused by Events": with "external-
 * interrupt exiting" an interrupt pending when VMLAUNCH enters L2 (L1
 * itself has RFLAGS.IF = 0) exits at once, before L2 executes anything,
 * and with "acknowledge interrupt on exit" the exit interruption
 * information holds the vector, type 0 ("VM-Exit Information Fields for
 * VM Exits Due to Vectored Events"). VMRESUME then runs L2 from its first
 * instruction. L2 enters with RFLAGS.IF = 1: the control makes IF
 * irrelevant, but Bochs 2.7 re-evaluates its interrupt masking at VM entry
 * only when the entry changes RFLAGS.IF, so with IF = 0 in L1 and in L2
 * the interrupt would stay masked for L2 as it was for L1 (the library's
 * unit tests cover IF = 0). Bare, the interrupt is the local APIC's self
 * IPI and L1 ends it with an EOI (x2APIC 80BH). */
static void l1_intr_entry_program(bool ept)
{
    const uint32_t c = L1_CASE_INTR_ENTRY;
    if (!((l1_cap_exit >> 32) & (1u << 15))) {
        l1_skip(c, "'acknowledge interrupt on exit' is not allowed-1");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    l1_pin |= 1u;
    l1_w(C_PIN, l1_pin);
    l1_exitc |= 1u << 15;
    l1_w(C_EXIT, l1_exitc);
    l1_host_state();
    l1_guest_state(l2_intr);
    l1_w(G_RFLAGS, 0x202);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    if (!l1_irq_pending(L1_INTR_VECTOR)) {
        l1_skip(c, "no x2APIC for the self IPI");
        return;
    }
    memset(g, 0, sizeof(g));
    int rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc == 0 && r == 1 && !(l1_flags & L1_MODE_NESTED))
        l1_wrmsr(0x80b, 0); /* EOI of the acknowledged interrupt */
    if (rc || r != 1) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason (expected 1)", rc ? (uint64_t)rc : r);
        return;
    }
    uint64_t info = l1_rd(R_EXIT_INTR), rip = l1_rd(G_RIP);
    CHECK(c, info == (0x80000000u | L1_INTR_VECTOR), "exit interruption information", info);
    CHECK(c, rip == PA(l2_intr), "L2's RIP at the exit (expected its first instruction)", rip);
    CHECK(c, g[R8] == 0, "L2's R8 at the exit (L2 ran)", g[R8]);
    l1_pin &= ~1u;
    l1_w(C_PIN, l1_pin);
    rc = l1_vmenter(g, 1);
    r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_intr_at_vmcall)) {
        l1_fail(c, rc ? "VMRESUME failed, outcome" : "exit reason after VMRESUME", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, g[R8] == 1, "L2's R8 after VMRESUME", g[R8]);
    l1_say("an interrupt pending at VMLAUNCH exited before L2's first instruction\n");
    l1_pass(c);
}

/* ---- IA32_TSC in the VM-entry MSR-load list ---- */

#define L2_TSC_LIST (1ull << 50)

/* "Loading MSRs": each entry is loaded as WRMSR would at CPL 0, and WRMSR
 * of IA32_TIME_STAMP_COUNTER is not changed by TSC offsetting ("Changes
 * to Instruction Behavior in VMX Non-Root Operation" lists no change for
 * it): the entry sets the processor's TSC, which L2 reads without
 * offsetting and L1 reads after the exit. The TSC counts on from 2^50;
 * 2^50 more counts would take far longer than the run. */
static void l1_tsc_list_program(bool ept)
{
    const uint32_t c = L1_CASE_TSC_LIST;
    if (!l1_program_start(c, ept))
        return;
    l1_proc &= ~(1u << 3);
    l1_w(C_PROC, l1_proc);
    msr_load[0] = 0x10;
    msr_load[1] = L2_TSC_LIST;
    l1_w(C_ENTRY_MSR_LOAD, PA(msr_load));
    l1_w(C_ENTRY_MSR_LOAD_N, 1);
    l1_host_state();
    l1_guest_state(l2_tsc);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    int rc = l1_vmenter(g, 0);
    uint64_t after = l1_rdtsc();
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    l1_w(C_ENTRY_MSR_LOAD_N, 0);
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_tsc_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    uint64_t seen = (g[RDX] << 32) | (uint32_t)g[RAX];
    CHECK(c, seen >= L2_TSC_LIST && seen < 2 * L2_TSC_LIST, "L2's RDTSC after the list wrote 2^50", seen);
    CHECK(c, after >= seen && after < 2 * L2_TSC_LIST, "L1's RDTSC after the exit", after);
    l1_say("the VM-entry MSR-load list set the TSC: L2 and then L1 read it from 2^50 on\n");
    l1_pass(c);
}

/* ---- INIT while L2 runs ---- */

/* "Other Causes of VM Exits": an INIT signal in VMX non-root operation is
 * a VM exit (3), qualification 0, at an instruction boundary, L2's state
 * saved as it was, the INIT consumed. It comes from L0's VMM while it
 * handles L2's OUT to L2_PORT_INIT, so the exit comes before L2's next
 * instruction; VMRESUME then runs L2 on to its VMCALL.
 * Bare runs SKIP: Bochs 2.7 takes the VM exit but leaves the INIT pending
 * (masked in VMX root operation), so the next VM entry exits for it again
 * and VMXOFF resets the emulated machine - an INIT the SDM says the exit
 * consumed. */
static void l1_init_program(bool ept)
{
    const uint32_t c = L1_CASE_INIT;
    if (!(l1_flags & L1_MODE_NESTED)) {
        l1_skip(c, "Bochs 2.7 leaves the INIT pending after its VM exit");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    l1_host_state();
    l1_guest_state(l2_init_out);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    int rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 3) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason (expected 3)", rc ? (uint64_t)rc : r);
        return;
    }
    uint64_t rip = l1_rd(G_RIP), qual = l1_rd(R_QUAL);
    CHECK(c, qual == 0, "exit qualification", qual);
    CHECK(c, rip == PA(l2_init_out_at), "L2's RIP at the INIT exit (expected past the OUT)", rip);
    rc = l1_vmenter(g, 1);
    r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_init_out_at)) {
        l1_fail(c, rc ? "VMRESUME failed, outcome" : "exit reason after VMRESUME", rc ? (uint64_t)rc : r);
        return;
    }
    l1_say("INIT while L2 ran exited to L1; L2 went on after VMRESUME\n");
    l1_pass(c);
}

/* ---- the MSR-bitmap guest ---- */

static void l1_mark(uint8_t k);

/* L0's count of the RDMSR/WRMSR exits of L2 in the last window of marks 6
 * and 7 (an IN of L1_PORT_MARK, answered by the test kernel). */
static uint8_t l1_l0_msr_exits(void)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"((uint16_t)L1_PORT_MARK));
    return v;
}

#define L2_FS_VALUE 0x00007f0012345000ull
#define L2_GS_VALUE 0x00007f00abcde000ull

/* L1 lets L2 read and write IA32_FS_BASE and read IA32_GS_BASE, and
 * intercepts GS_BASE writes (its MSR bitmap: "MSR-Bitmap Address",
 * write-high bitmap at byte 3072). L2's WRMSR then RDMSR of FS_BASE run
 * without an exit to L1 and read back what it wrote; the processor saves
 * it in the guest FS base at the exit ("Saving Segment Registers and
 * Descriptor-Table Registers"); L2's WRMSR of GS_BASE is exit 32 to L1
 * with RCX = C0000101H. Nested, L0 must have taken exactly one RDMSR or
 * WRMSR exit of L2 in between: that WRMSR, which L1 wants - L0 and L1
 * both let the FS_BASE accesses through, so vmcs02 must too. */
static void l1_msrbmp_program(bool ept)
{
    const uint32_t c = L1_CASE_MSR_BITMAP;
    if (!l1_program_start(c, ept))
        return;
    if (!(l1_proc & (1u << 28))) {
        l1_skip(c, "'use MSR bitmaps' is not allowed-1");
        return;
    }
    msr_bitmap[3072 + 0x101 / 8] |= (uint8_t)(1u << (0x101 % 8));
    l1_host_state();
    l1_guest_state(l2_msrbmp);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    g[R10] = (uint32_t)L2_FS_VALUE;
    g[R11] = L2_FS_VALUE >> 32;
    g[R12] = (uint32_t)L2_GS_VALUE;
    g[R13] = L2_GS_VALUE >> 32;
    l1_mark(L1_MARK_MSR_START);
    int rc = l1_vmenter(g, 0);
    l1_mark(L1_MARK_MSR_STOP);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 32 || l1_rd(G_RIP) != PA(l2_msrbmp_at_wrmsr)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    uint64_t seen = (g[R9] << 32) | (uint32_t)g[R8];
    CHECK(c, seen == L2_FS_VALUE, "L2's RDMSR of IA32_FS_BASE", seen);
    CHECK(c, l1_rd(G_FS_BASE) == L2_FS_VALUE, "vmcs12's guest FS base at the exit", l1_rd(G_FS_BASE));
    CHECK(c, (uint32_t)g[RCX] == 0xc0000101u, "ECX at the WRMSR exit", g[RCX]);
    if (l1_flags & L1_MODE_NESTED) {
        uint8_t n = l1_l0_msr_exits();
        CHECK(c, n == 1, "L0's RDMSR/WRMSR exits of L2 (expected 1: the GS_BASE write)", n);
    }
    /* L1 completes nothing: L2 goes on at the VMCALL. */
    l1_w(G_RIP, PA(l2_msrbmp_at_vmcall));
    rc = l1_vmenter(g, 1);
    r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18) {
        l1_fail(c, rc ? "VMRESUME failed, outcome" : "second exit, reason", rc ? (uint64_t)rc : r);
        return;
    }
    l1_say("L2 read back its IA32_FS_BASE without an exit; its WRMSR of IA32_GS_BASE exited to L1\n");
    l1_pass(c);
}

/* ---- the x2APIC guest ---- */

#define L2_X2APIC_VTPR 0x50u  /* VTPR before the entry */
#define L2_X2APIC_WRITE 0x30u /* what L2 writes to 808H */

/* L2 with "use TPR shadow" and "virtualize x2APIC mode" (secondary 4; it
 * needs the TPR shadow: "Checks on VMX Controls"), plus "APIC-register
 * virtualization" where allowed, L1's MSR bitmap clear for 808H (read and
 * write). L2's RDMSR of 808H reads VTPR (bytes 80H-83H of the virtual-APIC
 * page) into EAX and 0 into EDX, its WRMSR of 30H is TPR virtualization:
 * VTPR := 30H, no exit with TPR threshold 0 ("Virtualizing MSR-Based APIC
 * Accesses", "TPR Virtualization"). Neither exits to L1; nested, L0 must
 * not have taken an RDMSR/WRMSR exit of L2 either: the accesses are the
 * processor's on L1's page, which vmcs02 runs on. */
static void l1_x2apic_program(bool ept)
{
    const uint32_t c = L1_CASE_X2APIC;
    if (!((l1_cap_proc >> 32) & (1u << 21)) || !(l1_cap_proc >> 63) || !((l1_cap_proc2 >> 32) & (1u << 4))) {
        l1_skip(c, "'use TPR shadow' or 'virtualize x2APIC mode' is not allowed-1");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    if (!(l1_proc & (1u << 28))) {
        l1_skip(c, "'use MSR bitmaps' is not allowed-1");
        return;
    }
    l1_proc |= (1u << 21) | (1u << 31);
    l1_proc2 |= 1u << 4;
    if ((l1_cap_proc2 >> 32) & (1u << 8))
        l1_proc2 |= 1u << 8;
    l1_w(C_PROC, l1_proc);
    l1_w(C_PROC2, l1_proc2);
    memset(vapic, 0, sizeof(vapic));
    vapic[0x80] = L2_X2APIC_VTPR;
    l1_w(C_VAPIC, PA(vapic));
    l1_w(C_TPR_THRESHOLD, 0);
    msr_bitmap[0x808 / 8] &= (uint8_t)~(1u << (0x808 % 8));
    msr_bitmap[2048 + 0x808 / 8] &= (uint8_t)~(1u << (0x808 % 8));
    l1_host_state();
    l1_guest_state(l2_x2apic);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    g[R8] = g[R9] = ~0ull;
    l1_mark(L1_MARK_MSR_START);
    int rc = l1_vmenter(g, 0);
    l1_mark(L1_MARK_MSR_STOP);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_x2apic_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, (uint32_t)g[R8] == L2_X2APIC_VTPR, "L2's RDMSR of 808H, EAX", g[R8]);
    CHECK(c, (uint32_t)g[R9] == 0, "L2's RDMSR of 808H, EDX", g[R9]);
    uint32_t vtpr = (uint32_t)vapic[0x80] | ((uint32_t)vapic[0x81] << 8) | ((uint32_t)vapic[0x82] << 16) |
                    ((uint32_t)vapic[0x83] << 24);
    CHECK(c, vtpr == L2_X2APIC_WRITE, "VTPR after L2's WRMSR of 808H", vtpr);
    if (l1_flags & L1_MODE_NESTED) {
        uint8_t n = l1_l0_msr_exits();
        CHECK(c, n == 0, "L0's RDMSR/WRMSR exits of L2 (expected 0: both virtualized)", n);
    }
    l1_say("L2's RDMSR and WRMSR of 808H used the virtual-APIC page without an exit\n");
    l1_pass(c);
}

/* ---- the VPID guest ---- */

#define L2_VPID_ALIAS (502ull << 21) /* L2's linear page mapped to vpid_a, then vpid_b */
#define L2_VPID 1u
#define VPID_A_WORD 0x4c32aaaau
#define VPID_B_WORD 0x4c32bbbbu

/* L2 with "enable VPID" (secondary control 5) and VPID 1: it reads a page,
 * L1 maps another page at that linear address in L2's page table and
 * invalidates with INVVPID, and L2 must read the new page ("VPIDs and
 * TLBs", "INVVPID-Invalidate Translations Based on VPID"; without the
 * INVVPID, L2 could go on using the translation it cached). INVVPID
 * single-context naming VPID 0000H, or a type the processor lacks, is
 * VMfailValid with error 28 ("VM-Instruction Error Numbers"). Bochs 2.7
 * did not keep L2's first translation across the exits to L1 even with the
 * library's flush for INVVPID removed, so on it this case shows INVVPID's
 * outcomes and L2 running with a VPID; the flush is tested on the mock. */
static void l1_vpid_program(bool ept)
{
    const uint32_t c = L1_CASE_VPID;
    if (!(l1_cap_proc >> 63) || !((l1_cap_proc2 >> 32) & (1u << 5))) {
        l1_skip(c, "'enable VPID' is not allowed-1");
        return;
    }
    /* IA32_VMX_EPT_VPID_CAP bit 32: INVVPID; 40 individual-address, 41
     * single-context, 42 all-context ("VPID and EPT Capabilities"). */
    uint64_t cap = l1_rdmsr(0x48c);
    uint64_t type = (cap >> 41) & 1 ? 1 : (cap >> 40) & 1 ? 0 : 2;
    if (!((cap >> 32) & 1) || !((cap >> (40 + type)) & 1)) {
        l1_skip(c, "INVVPID is not supported");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    l1_proc |= 1u << 31;
    l1_w(C_PROC, l1_proc);
    l1_proc2 |= 1u << 5;
    l1_w(C_PROC2, l1_proc2);
    l1_w(C_VPID, L2_VPID);
    l1_host_state();
    l1_guest_state(l2_vpid);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(l2_vpid_pt, 0, sizeof(l2_vpid_pt));
    vpid_a[0] = VPID_A_WORD;
    vpid_b[0] = VPID_B_WORD;
    l2_vpid_pt[0] = PA(vpid_a) | 3;
    l2_pd[L2_VPID_ALIAS >> 21] = PA(l2_vpid_pt) | 3;
    memset(g, 0, sizeof(g));
    g[R14] = L2_VPID_ALIAS;
    int rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_vpid_at_vmcall1)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "first exit, reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, (uint32_t)g[RAX] == VPID_A_WORD, "L2's first read", g[RAX]);
    l2_vpid_pt[0] = PA(vpid_b) | 3;
    rc = l1_invvpid(type, L2_VPID, L2_VPID_ALIAS);
    CHECK(c, rc == 0, "INVVPID of L2's VPID, outcome", rc);
    rc = l1_invvpid(1, 0, 0);
    CHECK(c, rc == 2 && l1_rd(R_VM_ERROR) == 28, "INVVPID single-context of VPID 0, outcome",
          rc == 2 ? l1_rd(R_VM_ERROR) : (uint64_t)rc);
    l1_w(G_RIP, PA(l2_vpid_at_vmcall1) + 3);
    rc = l1_vmenter(g, 1);
    r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_vpid_at_vmcall2)) {
        l1_fail(c, rc ? "VMRESUME failed, outcome" : "second exit, reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, (uint32_t)g[RAX] == VPID_B_WORD, "L2's read after the remap and INVVPID", g[RAX]);
    l1_say("L2 read the page L1 mapped in its place after L1's INVVPID for L2's VPID\n");
    l1_pass(c);
}

/* ---- the VMFUNC and PML guests ---- */

/* The second EPT (eptb_*): L1's region in 4-KByte pages, identity, RWX,
 * WB ("EPT Translation Mechanism"), `flags` (accessed and dirty, bits 8
 * and 9) in every entry; returns its EPT pointer (4-level walk, WB). */
static uint64_t l1_ept_4k(uint64_t flags)
{
    memset(eptb_pml4, 0, sizeof(eptb_pml4));
    memset(eptb_pdpt, 0, sizeof(eptb_pdpt));
    memset(eptb_pd, 0, sizeof(eptb_pd));
    eptb_pml4[0] = PA(eptb_pdpt) | 7 | (flags & (1u << 8));
    eptb_pdpt[0] = PA(eptb_pd) | 7 | (flags & (1u << 8));
    eptb_pd[L1_BASE >> 21] = PA(eptb_pt) | 7 | (flags & (1u << 8));
    for (uint64_t i = 0; i < 512; i++)
        eptb_pt[i] = (L1_BASE + (i << 12)) | (6u << 3) | 7 | flags;
    return PA(eptb_pml4) | (3u << 3) | 6u;
}

#define VMFUNC_A_WORD 0x4c32a0a0u
#define VMFUNC_B_WORD 0x4c32b0b0u
#define VMFUNC_LEN 3u /* 0F 01 D4 */

/* L2 with "enable VM functions" (secondary control 13) and EPTP switching
 * (VM-function control 0), an EPTP list of L1's EPT (entry 0) and a second
 * EPT (entry 1) that maps L1's region with 4-KByte pages, vmfunc_a's page
 * to vmfunc_b. L2 reads vmfunc_a, runs VMFUNC(0, 1) and reads the same
 * address again: the second read goes through the second EPT ("EPTP
 * Switching": the EPT pointer is the list entry and no VM exit occurs),
 * and vmcs12's EPT pointer is the entry. VMFUNC(0, 600) is a VM exit,
 * reason 59, RIP at the instruction, length 3 ("ECX above 511"). */
static void l1_vmfunc_program(bool ept)
{
    const uint32_t c = L1_CASE_VMFUNC;
    if (!ept) {
        l1_skip(c, "no EPT for L2");
        return;
    }
    if (!((l1_cap_proc2 >> 32) & (1u << 13)) || !(l1_rdmsr(0x491) & 1)) {
        l1_skip(c, "'enable VM functions' or EPTP switching is not allowed-1");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    uint64_t eptp_a = PA(ept_pml4) | (3u << 3) | 6u, eptp_b = l1_ept_4k(0);
    eptb_pt[(PA(vmfunc_a) - L1_BASE) >> 12] = PA(vmfunc_b) | (6u << 3) | 7;
    memset(eptp_list, 0, sizeof(eptp_list));
    eptp_list[0] = eptp_a;
    eptp_list[1] = eptp_b;
    vmfunc_a[0] = VMFUNC_A_WORD;
    vmfunc_b[0] = VMFUNC_B_WORD;
    l1_proc2 |= 1u << 13;
    l1_w(C_PROC2, l1_proc2);
    l1_w(C_VMFUNC, 1);
    l1_w(C_EPTP_LIST, PA(eptp_list));
    l1_host_state();
    l1_guest_state(l2_vmfunc);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    g[R14] = PA(vmfunc_a);
    int rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_vmfunc_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "first exit, reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, (uint32_t)g[R8] == VMFUNC_A_WORD, "L2's read before VMFUNC", g[R8]);
    CHECK(c, (uint32_t)g[R9] == VMFUNC_B_WORD, "L2's read after VMFUNC(0, 1)", g[R9]);
    CHECK(c, l1_rd(C_EPTP) == eptp_b, "vmcs12's EPT pointer after VMFUNC(0, 1)", l1_rd(C_EPTP));
    l1_w(G_RIP, PA(l2_vmfunc_at_vmcall) + 3);
    rc = l1_vmenter(g, 1);
    r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 59) {
        l1_fail(c, rc ? "VMRESUME failed, outcome" : "VMFUNC(0, 600): exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, l1_rd(G_RIP) == PA(l2_vmfunc_at_bad), "VMFUNC(0, 600): guest RIP", l1_rd(G_RIP));
    CHECK(c, l1_rd(R_INSN_LEN) == VMFUNC_LEN, "VMFUNC(0, 600): instruction length", l1_rd(R_INSN_LEN));
    CHECK(c, l1_rd(C_EPTP) == eptp_b, "vmcs12's EPT pointer after VMFUNC(0, 600)", l1_rd(C_EPTP));
    l1_say("L2 read through the second EPT after its VMFUNC(0, 1); VMFUNC(0, 600) exited with reason 59\n");
    l1_pass(c);
}

#define EPT_A (1ull << 8)
#define EPT_D (1ull << 9)
#define EPTP_AD (1ull << 6)

/* L2 with "enable PML" (secondary control 17) on an EPT with accessed and
 * dirty flags (EPTP bit 6) where every entry is accessed and dirty but the
 * leaves of three pages, which are only accessed: L2 writes the three
 * pages, and the first write to each sets its dirty flag, which logs its
 * 4-KByte-aligned guest-physical address at the PML address + 8 * index
 * and decrements the index ("Page-Modification Logging"): entries 511,
 * 510 and 509 in the order written, the index 508 at the VMCALL exit. */
static void l1_pml_program(bool ept)
{
    const uint32_t c = L1_CASE_PML;
    if (!ept) {
        l1_skip(c, "no EPT for L2");
        return;
    }
    if (!((l1_cap_proc2 >> 32) & (1u << 17)) || !(l1_cap_ept & (1u << 21))) {
        l1_skip(c, "'enable PML' or EPT accessed and dirty flags are not allowed-1");
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    uint64_t eptp = l1_ept_4k(EPT_A | EPT_D) | EPTP_AD;
    for (uint32_t i = 0; i < 3; i++) {
        pml_pages[i][0] = 0;
        eptb_pt[(PA(pml_pages[i]) - L1_BASE) >> 12] &= ~EPT_D;
    }
    memset(pml_log, 0, sizeof(pml_log));
    l1_w(C_EPTP, eptp);
    l1_proc2 |= 1u << 17;
    l1_w(C_PROC2, l1_proc2);
    l1_w(C_PML_ADDR, PA(pml_log));
    l1_w(G_PML_INDEX, 511);
    l1_host_state();
    l1_guest_state(l2_pml);
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    /* Each write at the start of its page: Bochs 2.7 logs the address with
     * bits 11:0 of the access where the SDM has them 0 (seen here with
     * offset 10H); the alignment is tested on the mock. */
    g[R12] = PA(pml_pages[0]);
    g[R13] = PA(pml_pages[1]);
    g[R14] = PA(pml_pages[2]);
    int rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_pml_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, l1_rd(G_PML_INDEX) == 508, "PML index after three writes", l1_rd(G_PML_INDEX));
    for (uint32_t i = 0; i < 3; i++)
        CHECK(c, pml_log[511 - i] == PA(pml_pages[i]), "PML log entry", pml_log[511 - i]);
    CHECK(c, pml_log[508] == 0, "PML log entry 508", pml_log[508]);
    CHECK(c, (eptb_pt[(PA(pml_pages[2]) - L1_BASE) >> 12] & EPT_D) != 0, "dirty flag of the third page", 0);
    l1_say("L2's writes to three clean pages logged their addresses; the PML index went from 511 to 508\n");
    l1_pass(c);
}

/* ---- the VMCS-shadowing guest ---- */

#define SHADOW_RIP_L1 0x5151ull /* guest RIP L1 writes into its shadow VMCS */
#define SHADOW_RIP_L2 0x6262ull /* what L2 writes there */

static int l1_shadow_build(void);

/* L2 with RFLAGS.TF (set by POPF: the trap follows the next instruction)
 * executes a VMREAD of guest RIP that its bitmap bit lets run on the
 * shadow VMCS: the instruction completes and a single-step #DB follows it
 * ("Single-Step Exception Condition"); L1's exception bitmap bit 1 makes it
 * exit 0 with interruption information 80000301H (valid, hardware
 * exception, vector 1), the qualification BS (bit 14, "Exit Qualification
 * for Debug Exceptions") and guest RIP past the VMREAD. */
static void l1_shadow_step(void)
{
    const uint32_t c = L1_CASE_SHADOW_STEP;
    l1_w(C_EXC_BITMAP, 1u << 1);
    l1_w(G_RIP, PA(l2_shadow_tf));
    g[R12] = 0;
    int rc = l1_vmenter(g, 1);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 0) {
        l1_fail(c, rc ? "VMRESUME failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, l1_rd(R_EXIT_INTR) == 0x80000301u, "exit 0: interruption information", l1_rd(R_EXIT_INTR));
    CHECK(c, l1_rd(R_QUAL) == 0x4000u, "exit 0: qualification", l1_rd(R_QUAL));
    CHECK(c, l1_rd(G_RIP) == PA(l2_shadow_tf_after), "exit 0: guest RIP", l1_rd(G_RIP));
    CHECK(c, g[R12] == SHADOW_RIP_L2, "L2's VMREAD under TF", g[R12]);
    l1_say("L2's VMREAD with TF set ran on the shadow VMCS; its single-step #DB exited (0) with BS\n");
    l1_pass(c);
}

/* L2 with "VMCS shadowing" (secondary control 14; "VMCS Shadowing"): L1
 * builds a shadow VMCS - its revision with bit 31 set, then VMCLEAR,
 * VMPTRLD, VMWRITE of guest RIP, VMCLEAR - and names it in the VMCS link
 * pointer; its VMREAD and VMWRITE bitmaps are all ones but the bits of
 * guest RIP (681EH). A VMREAD or VMWRITE in VMX non-root operation whose
 * bit is 0 accesses the shadow VMCS, one whose bit is 1 exits ("Changes
 * to Instruction Behavior in VMX Non-Root Operation"): L2's VMREAD,
 * VMWRITE and VMREAD of guest RIP do not exit, its VMREAD of guest RSP is
 * exit 23 with the instruction information ("VM-Exit Instruction-
 * Information Field": reg1 bits 6:3, register operand bit 10, reg2 bits
 * 31:28). After L2's VMCALL, L1 reads the shadow VMCS (VMPTRLD, VMREAD,
 * VMCLEAR) and finds L2's write. */
static void l1_shadow_rw(bool ept)
{
    const uint32_t c = L1_CASE_SHADOW;
    if (!((l1_cap_proc2 >> 32) & (1u << 14))) {
        l1_skip(c, "'VMCS shadowing' is not allowed-1 (IA32_VMX_PROCBASED_CTLS2 bit 46)");
        return;
    }
    int rc = l1_shadow_build();
    if (rc) {
        l1_fail(c, "building the shadow VMCS, outcome", (uint64_t)rc);
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    memset(vmread_bm, 0xff, sizeof(vmread_bm));
    memset(vmwrite_bm, 0xff, sizeof(vmwrite_bm));
    vmread_bm[G_RIP >> 3] &= (uint8_t)~(1u << (G_RIP & 7));
    vmwrite_bm[G_RIP >> 3] &= (uint8_t)~(1u << (G_RIP & 7));
    l1_proc2 |= 1u << 14;
    l1_w(C_PROC2, l1_proc2);
    l1_w(C_VMREAD_BITMAP, PA(vmread_bm));
    l1_w(C_VMWRITE_BITMAP, PA(vmwrite_bm));
    l1_host_state();
    l1_guest_state(l2_shadow);
    l1_w(G_LINK_PTR, PA(shadow_vmcs));
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    g[R10] = SHADOW_RIP_L2;
    rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 23 || l1_rd(G_RIP) != PA(l2_shadow_at_vmread)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "first exit, reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, g[R8] == SHADOW_RIP_L1, "L2's VMREAD of the shadow VMCS", g[R8]);
    CHECK(c, g[R9] == SHADOW_RIP_L2, "L2's VMREAD after its VMWRITE", g[R9]);
    uint64_t ii = l1_rd(R_INSN_INFO);
    CHECK(c, ((ii >> 3) & 15) == R11 && ((ii >> 10) & 1) && ((ii >> 28) & 15) == RDX,
          "exit 23: instruction information", ii);
    uint64_t len = PA(l2_shadow_at_vmcall) - PA(l2_shadow_at_vmread);
    CHECK(c, l1_rd(R_INSN_LEN) == len, "exit 23: instruction length", l1_rd(R_INSN_LEN));
    l1_w(G_RIP, PA(l2_shadow_at_vmcall));
    rc = l1_vmenter(g, 1);
    r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18) {
        l1_fail(c, rc ? "VMRESUME failed, outcome" : "second exit, reason", rc ? (uint64_t)rc : r);
        return;
    }
    /* L2's write is the shadow VMCS's data: L1 reads it as its own VMCS. */
    uint64_t v = 0;
    rc = l1_vmptrld(PA(shadow_vmcs));
    if (!rc)
        rc = l1_vmread(G_RIP, &v);
    if (!rc)
        rc = l1_vmclear(PA(shadow_vmcs));
    if (!rc)
        rc = l1_vmptrld(PA(vmcs));
    if (rc) {
        l1_fail(c, "reading the shadow VMCS, outcome", (uint64_t)rc);
        return;
    }
    CHECK(c, v == SHADOW_RIP_L2, "guest RIP in the shadow VMCS", v);
    l1_say("L2 read and wrote guest RIP in the shadow VMCS without an exit; its VMREAD of guest RSP exited (23)\n");
    l1_pass(c);
}

/* Builds the shadow VMCS (L1's revision with bit 31 set, then VMCLEAR,
 * VMPTRLD, VMWRITE of guest RIP, VMCLEAR) before the program's VMCS is
 * made current; 0 or the failing instruction's outcome. */
static int l1_shadow_build(void)
{
    memset(shadow_vmcs, 0, sizeof(shadow_vmcs));
    shadow_vmcs[0] = l1_revision | 0x80000000u;
    int rc = l1_vmclear(PA(shadow_vmcs));
    if (!rc)
        rc = l1_vmptrld(PA(shadow_vmcs));
    if (!rc)
        rc = l1_vmwrite(G_RIP, SHADOW_RIP_L1);
    if (!rc)
        rc = l1_vmclear(PA(shadow_vmcs));
    return rc;
}

/* L2 with "VMCS shadowing" and "enable PML" on the PML program's EPT (every
 * entry accessed and dirty but the leaf of one clean page): L2's VMREAD of
 * guest RIP to memory, which its bitmap bit lets run on the shadow VMCS,
 * stores the shadow's value in the clean page; the store sets the page's
 * dirty flag, which logs its 4-KByte-aligned guest-physical address at
 * entry 511 and leaves the index 510 ("Page-Modification Logging"); the
 * pages of the walk are dirty already and log nothing. */
static void l1_pml_shadow_program(bool ept)
{
    const uint32_t c = L1_CASE_PML_VMREAD;
    if (!ept) {
        l1_skip(c, "no EPT for L2");
        return;
    }
    const uint32_t need = (1u << 17) | (1u << 14);
    if (((l1_cap_proc2 >> 32) & need) != need || !(l1_cap_ept & (1u << 21))) {
        l1_skip(c, "'enable PML', 'VMCS shadowing' or EPT accessed and dirty flags are not allowed-1");
        return;
    }
    int rc = l1_shadow_build();
    if (rc) {
        l1_fail(c, "building the shadow VMCS, outcome", (uint64_t)rc);
        return;
    }
    if (!l1_program_start(c, ept))
        return;
    uint64_t eptp = l1_ept_4k(EPT_A | EPT_D) | EPTP_AD;
    pml_vmread_page[0] = 0;
    eptb_pt[(PA(pml_vmread_page) - L1_BASE) >> 12] &= ~EPT_D;
    memset(pml_log, 0, sizeof(pml_log));
    memset(vmread_bm, 0xff, sizeof(vmread_bm));
    memset(vmwrite_bm, 0xff, sizeof(vmwrite_bm));
    vmread_bm[G_RIP >> 3] &= (uint8_t)~(1u << (G_RIP & 7));
    l1_w(C_EPTP, eptp);
    l1_proc2 |= (1u << 17) | (1u << 14);
    l1_w(C_PROC2, l1_proc2);
    l1_w(C_PML_ADDR, PA(pml_log));
    l1_w(G_PML_INDEX, 511);
    l1_w(C_VMREAD_BITMAP, PA(vmread_bm));
    l1_w(C_VMWRITE_BITMAP, PA(vmwrite_bm));
    l1_host_state();
    l1_guest_state(l2_pml_vmread);
    l1_w(G_LINK_PTR, PA(shadow_vmcs));
    if (l1_write_fails) {
        l1_fail(c, "VMWRITE failed, field", l1_write_fail_field);
        return;
    }
    memset(g, 0, sizeof(g));
    g[R12] = PA(pml_vmread_page);
    rc = l1_vmenter(g, 0);
    uint64_t r = rc ? 0 : l1_rd(R_EXIT_REASON);
    rep->l1_exits += rc == 0;
    if (rc || r != 18 || l1_rd(G_RIP) != PA(l2_pml_vmread_at_vmcall)) {
        l1_fail(c, rc ? "VMLAUNCH failed, outcome" : "exit reason", rc ? (uint64_t)rc : r);
        return;
    }
    CHECK(c, pml_vmread_page[0] == SHADOW_RIP_L1, "L2's VMREAD to memory", pml_vmread_page[0]);
    CHECK(c, l1_rd(G_PML_INDEX) == 510, "PML index after the VMREAD", l1_rd(G_PML_INDEX));
    CHECK(c, pml_log[511] == PA(pml_vmread_page), "PML log entry 511", pml_log[511]);
    CHECK(c, pml_log[510] == 0, "PML log entry 510", pml_log[510]);
    CHECK(c, (eptb_pt[(PA(pml_vmread_page) - L1_BASE) >> 12] & EPT_D) != 0, "dirty flag of the page", 0);
    l1_say("L2's VMREAD to a clean page on the shadow VMCS logged the page; the PML index went to 510\n");
    l1_pass(c);
}

static void l1_shadow_program(bool ept)
{
    l1_shadow_rw(ept);
    uint32_t st = rep->cases[L1_CASE_SHADOW].state;
    if (st == L1_PASS)
        l1_shadow_step();
    else if (st == L1_SKIP)
        l1_skip(L1_CASE_SHADOW_STEP, "the VMCS-shadowing case was skipped");
    else
        l1_fail(L1_CASE_SHADOW_STEP, "the VMCS-shadowing case failed, state", st);
}

/* ---- the broken-VMCS program ---- */

static void l1_record(uint32_t v, int rc)
{
    l1_outcome_t *o = &rep->vars[v];
    o->kind = (uint32_t)rc;
    o->error = rc == 2 ? l1_rd(R_VM_ERROR) : 0;
    o->reason = rc == 0 ? l1_rd(R_EXIT_REASON) : 0;
    o->qual = rc == 0 ? l1_rd(R_QUAL) : 0;
    o->state = L1_PASS;
    if (!(l1_flags & L1_MODE_QUIET)) {
        static const char *const names[] = {
#define L1_VAR_NAME(id, name, kind, err, qual) name,
            L1_VAR_LIST(L1_VAR_NAME)
#undef L1_VAR_NAME
        };
        l1_say("broken VMCS ");
        l1_puts(names[v]);
        l1_puts(rc == 0 ? ": VM exit, reason " : rc == 1 ? ": VMfailInvalid " : ": VMfailValid, error ");
        l1_puthex(rc == 0 ? o->reason : o->error);
        l1_puts(" qual ");
        l1_puthex(o->qual);
        l1_puts("\n");
    }
}

static void l1_vmfail_program(uint32_t first)
{
    l1_l2_memory(false);
    for (uint32_t v = first; v < L1_NVARS; v++) {
        rep->next_var = v;
        if (!l1_vmcs_fresh(L1_CASE_VMCS))
            return;
        l1_write_fails = 0;
        (void)l1_controls(false);
        l1_host_state();
        l1_guest_state(l2_vmcall_only);
        if (l1_write_fails) {
            rep->vars[v].kind = 3;
            rep->vars[v].error = l1_write_fail_field;
            rep->vars[v].state = L1_PASS;
            continue;
        }
        memset(g, 0, sizeof(g));
        int resume = 0;
        switch (v) {
        case L1_VAR_NO_CURRENT:
            (void)l1_vmclear(PA(vmcs)); /* the current-VMCS pointer becomes invalid */
            break;
        case L1_VAR_RESUME_CLEAR:
            resume = 1;
            break;
        case L1_VAR_PIN_DEFAULT1:
            l1_w(C_PIN, 0);
            break;
        case L1_VAR_HOST_CR3:
            l1_w(H_CR3, l1_rd(H_CR3) | (1ull << 51));
            break;
        case L1_VAR_GUEST_TR:
            l1_w(G_TR_AR, 0x10000);
            break;
        case L1_VAR_LINK_PTR:
            memset(bad_link, 0, sizeof(bad_link));
            l1_w(G_LINK_PTR, PA(bad_link));
            break;
        case L1_VAR_MSR_LOAD:
            /* One entry whose reserved bits 63:32 are set ("VM-Entry Controls for MSRs"). */
            msr_load[0] = 0xffffffff00000174ull;
            msr_load[1] = 0;
            l1_w(C_ENTRY_MSR_LOAD, PA(msr_load));
            l1_w(C_ENTRY_MSR_LOAD_N, 1);
            break;
        case L1_VAR_MSR_LOAD_X2APIC:
            /* Entry 1 loads (the value IA32_KERNEL_GS_BASE already has), entry
             * 2 names the x2APIC TPR (808H), which no VM entry loads. */
            msr_load[0] = MSR_KERNEL_GS_BASE;
            msr_load[1] = l1_rdmsr(MSR_KERNEL_GS_BASE);
            msr_load[2] = 0x808;
            msr_load[3] = 0;
            l1_w(C_ENTRY_MSR_LOAD, PA(msr_load));
            l1_w(C_ENTRY_MSR_LOAD_N, 2);
            break;
        case L1_VAR_LAUNCH_LAUNCHED: {
            int rc = l1_vmenter(g, 0);
            if (rc || l1_rd(R_EXIT_REASON) != 18) {
                rep->vars[v].kind = 3;
                rep->vars[v].error = (uint64_t)rc;
                rep->vars[v].state = L1_PASS;
                continue;
            }
            break;
        }
        default:
            break;
        }
        l1_record(v, l1_vmenter(g, resume));
    }
    rep->next_var = L1_NVARS;
}

/* ---- the counting program ---- */

static void l1_mark(uint8_t k)
{
    __asm__ volatile("outb %0, %1" : : "a"(k), "Nd"((uint16_t)L1_PORT_MARK));
}

/* What a hypervisor does per exit in the common case: read the reason, the
 * instruction length and RIP, write RIP, VMRESUME. L0 counts its own exits
 * between the marks. */
static void l1_measure_program(void)
{
    bool ept = !(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok();
    if (!l1_vmcs_fresh(L1_CASE_VMCS))
        return;
    l1_l2_memory(ept);
    l1_write_fails = 0;
    if (!l1_controls(ept))
        return;
    l1_host_state();
    l1_guest_state(l2_cpuid_loop);
    if (l1_write_fails)
        return;
    uint64_t v = 0;
    l1_mark(1);
    for (uint32_t i = 0; i < L1_MEASURE_N; i++)
        (void)l1_vmwrite(G_RIP, PA(l2_cpuid_loop));
    l1_mark(2);
    for (uint32_t i = 0; i < L1_MEASURE_N; i++)
        (void)l1_vmread(G_RIP, &v);
    l1_mark(3);
    /* The round trips are counted from one of L2's CPUID exits to another
     * (marks 4 and 5), so the VMLAUNCH before them and L2's VMCALL after
     * them are not among the exits counted; L2 runs one CPUID more than
     * the trips measured. */
    memset(g, 0, sizeof(g));
    int rc = l1_vmenter(g, 0);
    bool started = false;
    while (rc == 0 && l1_rd(R_EXIT_REASON) == 10) {
        if (!started) {
            started = true;
            l1_mark(4);
        } else if (++rep->cpuid_round_trips == L1_MEASURE_N) {
            l1_mark(5);
        }
        uint64_t len = l1_rd(R_INSN_LEN), rip = l1_rd(G_RIP);
        (void)l1_vmwrite(G_RIP, rip + len);
        rc = l1_vmenter(g, 1);
    }
}

void l1_main(uint64_t mode, uint64_t first_var)
{
    l1_flags = mode;
    if (first_var == 0 || rep->magic != L1_REPORT_MAGIC) {
        memset(rep, 0, sizeof(*rep));
        rep->magic = L1_REPORT_MAGIC;
    }
    if (!l1_vmx_on())
        return;
    if (mode & L1_MODE_MEASURE)
        l1_measure_program();
    else if (mode & L1_MODE_VMFAIL)
        l1_vmfail_program((uint32_t)first_var);
    else {
        l1_exit_program();
        l1_real_mode_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_pat_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_vpid_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_msrbmp_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_vmfunc_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_pml_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_tsc_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_debug_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_x2apic_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_shadow_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_pml_shadow_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_intr_entry_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_tsc_list_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
        l1_init_program(!(l1_flags & L1_MODE_NO_EPT) && l1_ept_ok());
    }
    l1_vmx_off();
    if (l1_efer_set) /* the test kernel's EFER on a bare run */
        l1_wrmsr(MSR_EFER, l1_efer0);
    rep->done = 1;
}
