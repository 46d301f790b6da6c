/*
 * svm_prim.c - the real SVM instructions (x86-64, ring 0).
 *
 * APM Vol. 3, "VMRUN", "VMLOAD", "VMSAVE", "CLGI", "STGI", "INVLPGA": the
 * VMCB address is in rAX; VMRUN saves the host state it restores on
 * #VMEXIT (RAX, RSP, RIP, segments, control registers, RFLAGS) in the host
 * save area VM_HSAVE_PA points to, and switches no other general-purpose
 * register: the entry code below moves them.
 */
#include "svm_prim.h"

#if !defined(__x86_64__)
#error "svm_prim.c needs an x86-64 target"
#endif

void vcore__svm_clgi(void)
{
    __asm__ volatile("clgi" ::: "memory");
}

void vcore__svm_stgi(void)
{
    __asm__ volatile("stgi" ::: "memory");
}

void vcore__svm_vmload(uint64_t vmcb_pa)
{
    __asm__ volatile("vmload %%rax" : : "a"(vmcb_pa) : "memory");
}

void vcore__svm_vmsave(uint64_t vmcb_pa)
{
    __asm__ volatile("vmsave %%rax" : : "a"(vmcb_pa) : "memory");
}

void vcore__svm_invlpga(uint64_t va, uint32_t asid)
{
    __asm__ volatile("invlpga %%rax, %%ecx" : : "a"(va), "c"(asid) : "memory");
}

void vcore__svm_host_mc(void)
{
    /* The host's machine-check handler, through its IDT (vector 18). */
    __asm__ volatile("int $18" ::: "memory");
}

/*
 * vcore__svm_vmrun(g, vmcb_pa): %rdi = g, %rsi = vmcb_pa.
 *
 * Saves the host's callee-saved registers and g on the stack, loads the
 * guest registers from g (RDI last, it holds g) and executes VMRUN with the
 * VMCB address in RAX. #VMEXIT continues after VMRUN with the host's RAX
 * and RSP restored from the host save area and every other general-purpose
 * register still holding the guest's value: they go back into g.
 */
__asm__(
    "    .text\n"
    "    .globl vcore__svm_vmrun\n"
    "    .hidden vcore__svm_vmrun\n"
    "    .type vcore__svm_vmrun, @function\n"
    "vcore__svm_vmrun:\n"
    "    push %rbp\n"
    "    push %rbx\n"
    "    push %r12\n"
    "    push %r13\n"
    "    push %r14\n"
    "    push %r15\n"
    "    push %rdi\n"
    "    mov %rsi, %rax\n"
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
    "    vmrun %rax\n"
    "    push %rdi\n"                 /* the guest's RDI */
    "    mov 8(%rsp), %rdi\n"         /* g */
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
    "    pop %rdi\n"
    "    pop %r15\n"
    "    pop %r14\n"
    "    pop %r13\n"
    "    pop %r12\n"
    "    pop %rbx\n"
    "    pop %rbp\n"
    "    ret\n"
    "    .size vcore__svm_vmrun, .-vcore__svm_vmrun\n");

void vcore__svm_fxsave(void *area)
{
    __asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t(*)[512])area));
}

void vcore__svm_fxrstor(const void *area)
{
    __asm__ volatile("fxrstor64 %0" : : "m"(*(const uint8_t(*)[512])area));
}

uint64_t vcore__svm_read_cr0(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

uint64_t vcore__svm_read_cr4(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

uint64_t vcore__svm_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

void vcore__svm_wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr"
                     :
                     : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
}

uint64_t vcore__svm_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

uint32_t vcore__svm_cpl(void)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    return cs & 3u;
}

void vcore__svm_cpuid(uint32_t leaf, uint32_t out[4])
{
    uint32_t a = leaf, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
}
