/*
 * vmx_prim.c - the real VMX instructions (x86-64, ring 0).
 *
 * Each wrapper turns RFLAGS into a vcore__vmx_rc_t as the SDM defines it
 * (Vol. 3, "VMX Instruction Reference", "Conventions"): CF = 1 is
 * VMfailInvalid, ZF = 1 is VMfailValid and the error number is then read
 * from the VM-instruction error field of the current VMCS.
 */
#include "vmx_prim.h"

#include "virtcore/x86/vmcs.h"

#if !defined(__x86_64__)
#error "vmx_prim.c needs an x86-64 target"
#endif

/* Builds the outcome from the CF and ZF values captured right after the instruction. */
static vcore__vmx_rc_t vcore__vmx_prim_rc(uint8_t cf, uint8_t zf)
{
    vcore__vmx_rc_t rc = {VCORE__VMX_SUCCEED, 0};
    if (cf) {
        rc.kind = VCORE__VMX_FAIL_INVALID;
    } else if (zf) {
        uint64_t err = 0;
        uint8_t cf2, zf2;
        __asm__ volatile("vmread %[f], %[v]\n\tsetc %[c]\n\tsetz %[z]"
                         : [v] "=rm"(err), [c] "=qm"(cf2), [z] "=qm"(zf2)
                         : [f] "r"((uint64_t)VCORE_VMCS_VM_INSTRUCTION_ERROR)
                         : "cc");
        rc.kind = VCORE__VMX_FAIL_VALID;
        rc.error = (cf2 || zf2) ? 0u : (uint32_t)err;
    }
    return rc;
}

vcore__vmx_rc_t vcore__vmx_on(uint64_t vmxon_pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxon %[pa]\n\tsetc %[c]\n\tsetz %[z]"
                     : [c] "=qm"(cf), [z] "=qm"(zf)
                     : [pa] "m"(vmxon_pa)
                     : "cc", "memory");
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_off(void)
{
    uint8_t cf, zf;
    __asm__ volatile("vmxoff\n\tsetc %[c]\n\tsetz %[z]"
                     : [c] "=qm"(cf), [z] "=qm"(zf)
                     :
                     : "cc", "memory");
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_clear(uint64_t vmcs_pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmclear %[pa]\n\tsetc %[c]\n\tsetz %[z]"
                     : [c] "=qm"(cf), [z] "=qm"(zf)
                     : [pa] "m"(vmcs_pa)
                     : "cc", "memory");
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_ptrld(uint64_t vmcs_pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrld %[pa]\n\tsetc %[c]\n\tsetz %[z]"
                     : [c] "=qm"(cf), [z] "=qm"(zf)
                     : [pa] "m"(vmcs_pa)
                     : "cc", "memory");
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_ptrst(uint64_t *vmcs_pa)
{
    uint8_t cf, zf;
    __asm__ volatile("vmptrst %[pa]\n\tsetc %[c]\n\tsetz %[z]"
                     : [pa] "=m"(*vmcs_pa), [c] "=qm"(cf), [z] "=qm"(zf)
                     :
                     : "cc", "memory");
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_read(uint32_t field, uint64_t *value)
{
    uint8_t cf, zf;
    uint64_t v = 0;
    __asm__ volatile("vmread %[f], %[v]\n\tsetc %[c]\n\tsetz %[z]"
                     : [v] "=r"(v), [c] "=qm"(cf), [z] "=qm"(zf)
                     : [f] "r"((uint64_t)field)
                     : "cc");
    *value = v;
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_write(uint32_t field, uint64_t value)
{
    uint8_t cf, zf;
    __asm__ volatile("vmwrite %[v], %[f]\n\tsetc %[c]\n\tsetz %[z]"
                     : [c] "=qm"(cf), [z] "=qm"(zf)
                     : [f] "r"((uint64_t)field), [v] "rm"(value)
                     : "cc");
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_invept(uint64_t type, uint64_t eptp)
{
    /* INVEPT descriptor: EPTP, then 64 reserved bits (SDM Vol. 3, "INVEPT"). */
    uint64_t desc[2] = {eptp, 0};
    uint8_t cf, zf;
    __asm__ volatile("invept %[d], %[t]\n\tsetc %[c]\n\tsetz %[z]"
                     : [c] "=qm"(cf), [z] "=qm"(zf)
                     : [d] "m"(desc), [t] "r"(type)
                     : "cc", "memory");
    return vcore__vmx_prim_rc(cf, zf);
}

vcore__vmx_rc_t vcore__vmx_invvpid(uint64_t type, uint16_t vpid, uint64_t gla)
{
    /* INVVPID descriptor: VPID in bits 15:0, bits 63:16 reserved, then the linear address. */
    uint64_t desc[2] = {vpid, gla};
    uint8_t cf, zf;
    __asm__ volatile("invvpid %[d], %[t]\n\tsetc %[c]\n\tsetz %[z]"
                     : [c] "=qm"(cf), [z] "=qm"(zf)
                     : [d] "m"(desc), [t] "r"(type)
                     : "cc", "memory");
    return vcore__vmx_prim_rc(cf, zf);
}

/*
 * vcore__vmx_enter(g): %rdi = g.
 *
 * Saves the callee-saved registers and g, writes HOST_RSP if it moved, loads
 * the guest GPRs and CR2, and executes VMLAUNCH or VMRESUME. If the
 * instruction falls through it failed (VMfail): RFLAGS says which. A VM exit
 * arrives at vcore__vmx_exit_entry with RSP = HOST_RSP, where g sits on top
 * of the stack; the guest registers go back into g.
 */
uint64_t vcore__vmx_enter_asm(vcore__vmx_gprs_t *g);
__asm__(
    "    .text\n"
    "    .globl vcore__vmx_enter_asm\n"
    "    .type vcore__vmx_enter_asm, @function\n"
    "vcore__vmx_enter_asm:\n"
    "    push %rbp\n"
    "    push %rbx\n"
    "    push %r12\n"
    "    push %r13\n"
    "    push %r14\n"
    "    push %r15\n"
    "    push %rdi\n"
    "    cmp %rsp, 136(%rdi)\n"                 /* HOST_RSP unchanged? */
    "    je 1f\n"
    "    mov %rsp, 136(%rdi)\n"
    "    mov $0x6c14, %rax\n"                   /* HOST_RSP encoding */
    "    vmwrite %rsp, %rax\n"
    "    jbe 3f\n"                              /* CF or ZF: VMfail */
    "1:  mov 128(%rdi), %rax\n"
    "    mov %rax, %cr2\n"
    "    cmpq $0, 144(%rdi)\n"                  /* flags survive the MOVs below */
    "    mov 0(%rdi), %rax\n"
    "    mov 8(%rdi), %rcx\n"
    "    mov 16(%rdi), %rdx\n"
    "    mov 24(%rdi), %rbx\n"
    "    mov 40(%rdi), %rbp\n"
    "    mov 48(%rdi), %rsi\n"
    "    mov 64(%rdi), %r8\n"
    "    mov 72(%rdi), %r9\n"
    "    mov 80(%rdi), %r10\n"
    "    mov 88(%rdi), %r11\n"
    "    mov 96(%rdi), %r12\n"
    "    mov 104(%rdi), %r13\n"
    "    mov 112(%rdi), %r14\n"
    "    mov 120(%rdi), %r15\n"
    "    mov 56(%rdi), %rdi\n"
    "    jne 2f\n"
    "    vmlaunch\n"
    "    jmp 3f\n"
    "2:  vmresume\n"
    "3:  pushfq\n"                              /* VMfail: report RFLAGS */
    "    pop %rax\n"
    "    pop %rdi\n"
    "    pop %r15\n"
    "    pop %r14\n"
    "    pop %r13\n"
    "    pop %r12\n"
    "    pop %rbx\n"
    "    pop %rbp\n"
    "    bts $32, %rax\n"                      /* bit 32: failed, low bits: RFLAGS */
    "    ret\n"
    "    .size vcore__vmx_enter_asm, .-vcore__vmx_enter_asm\n"
    "    .globl vcore__vmx_exit_entry\n"
    "    .type vcore__vmx_exit_entry, @function\n"
    "vcore__vmx_exit_entry:\n"
    "    push %rdi\n"
    "    mov 8(%rsp), %rdi\n"
    "    mov %rax, 0(%rdi)\n"
    "    mov %rcx, 8(%rdi)\n"
    "    mov %rdx, 16(%rdi)\n"
    "    mov %rbx, 24(%rdi)\n"
    "    mov %rbp, 40(%rdi)\n"
    "    mov %rsi, 48(%rdi)\n"
    "    mov %r8, 64(%rdi)\n"
    "    mov %r9, 72(%rdi)\n"
    "    mov %r10, 80(%rdi)\n"
    "    mov %r11, 88(%rdi)\n"
    "    mov %r12, 96(%rdi)\n"
    "    mov %r13, 104(%rdi)\n"
    "    mov %r14, 112(%rdi)\n"
    "    mov %r15, 120(%rdi)\n"
    "    pop %rax\n"
    "    mov %rax, 56(%rdi)\n"
    "    mov %cr2, %rax\n"
    "    mov %rax, 128(%rdi)\n"
    "    pop %rdi\n"
    "    pop %r15\n"
    "    pop %r14\n"
    "    pop %r13\n"
    "    pop %r12\n"
    "    pop %rbx\n"
    "    pop %rbp\n"
    "    xor %eax, %eax\n"
    "    ret\n"
    "    .size vcore__vmx_exit_entry, .-vcore__vmx_exit_entry\n");

extern const char vcore__vmx_exit_entry[];

vcore__vmx_rc_t vcore__vmx_enter(vcore__vmx_gprs_t *g)
{
    uint64_t r = vcore__vmx_enter_asm(g);
    if (!(r >> 32))
        return (vcore__vmx_rc_t){VCORE__VMX_SUCCEED, 0};
    /* RFLAGS.CF is bit 0, RFLAGS.ZF bit 6. A failed VMWRITE of HOST_RSP
     * leaves host_rsp updated: forget it so the next entry writes again. */
    g->host_rsp = 0;
    return vcore__vmx_prim_rc((uint8_t)(r & 1u), (uint8_t)((r >> 6) & 1u));
}

uint64_t vcore__vmx_exit_rip(void)
{
    return (uint64_t)(uintptr_t)vcore__vmx_exit_entry;
}

void vcore__vmx_host_nmi(void)
{
    /* INT 2 runs the host's NMI handler through its IDT; its IRET ends the
     * NMI blocking the exit left in force. */
    __asm__ volatile("int $2" ::: "memory");
}

void vcore__vmx_host_mc(void)
{
    __asm__ volatile("int $18" ::: "memory");
}

void vcore__vmx_fxsave(void *area)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])area));
}

void vcore__vmx_fxrstor(const void *area)
{
    __asm__ volatile("fxrstor64 %0" : : "m"(*(const uint8_t(*)[512])area));
}

uint64_t vcore__vmx_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t vcore__vmx_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

void vcore__vmx_wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

uint64_t vcore__vmx_read_cr0(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

uint64_t vcore__vmx_read_cr4(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

void vcore__vmx_write_cr4(uint64_t value)
{
    __asm__ volatile("mov %0, %%cr4" : : "r"(value) : "memory");
}

uint32_t vcore__vmx_cpl(void)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    return cs & 3u;
}

uint32_t vcore__vmx_cpuid1_ecx(void)
{
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return c;
}

void vcore__vmx_host_regs(vcore__vmx_host_regs_t *out)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } gdtr, idtr;
    uint16_t sel;
    __asm__ volatile("mov %%cr0, %0" : "=r"(out->cr0));
    __asm__ volatile("mov %%cr3, %0" : "=r"(out->cr3));
    __asm__ volatile("mov %%cr4, %0" : "=r"(out->cr4));
    __asm__ volatile("mov %%cs, %0" : "=r"(sel));
    out->cs = sel;
    __asm__ volatile("mov %%ss, %0" : "=r"(sel));
    out->ss = sel;
    __asm__ volatile("mov %%ds, %0" : "=r"(sel));
    out->ds = sel;
    __asm__ volatile("mov %%es, %0" : "=r"(sel));
    out->es = sel;
    __asm__ volatile("mov %%fs, %0" : "=r"(sel));
    out->fs = sel;
    __asm__ volatile("mov %%gs, %0" : "=r"(sel));
    out->gs = sel;
    __asm__ volatile("str %0" : "=r"(sel));
    out->tr = sel;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    __asm__ volatile("sidt %0" : "=m"(idtr));
    out->gdtr_base = gdtr.base;
    out->idtr_base = idtr.base;
    out->fs_base = vcore__vmx_rdmsr(0xc0000100u); /* IA32_FS_BASE */
    out->gs_base = vcore__vmx_rdmsr(0xc0000101u); /* IA32_GS_BASE */
    out->tr_base = 0;
    if ((out->tr & ~7u) != 0 && (out->tr & 4u) == 0) {
        /* 16-byte system descriptor in the GDT (SDM Vol. 3, "TSS Descriptor in
         * 64-bit mode"): base 23:0 in bytes 2-4, 31:24 in byte 7, 63:32 in bytes 8-11. */
        const uint8_t *d = (const uint8_t *)(uintptr_t)(gdtr.base + (out->tr & ~7u));
        out->tr_base = (uint64_t)d[2] | (uint64_t)d[3] << 8 | (uint64_t)d[4] << 16 |
                       (uint64_t)d[7] << 24 | (uint64_t)d[8] << 32 | (uint64_t)d[9] << 40 |
                       (uint64_t)d[10] << 48 | (uint64_t)d[11] << 56;
    }
}
