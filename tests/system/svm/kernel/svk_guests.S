/*
 * svk_guests.S - guest code of the SVM system test, copied into guest
 * memory by the cases: 64-bit snippets that end in HLT, and the handlers
 * the guest IDT points to (svk_cases.c builds the GDT and IDT).
 */
    .section .rodata.guests, "a"
    .code64

    .globl s64_cpuid, s64_cpuid_end
s64_cpuid:
    mov $0x40000001, %eax
    mov $3, %ecx
    cpuid
    hlt
s64_cpuid_end:

    .globl s64_io, s64_io_end
s64_io:
    mov $0x42, %al
    out %al, $0x80            /* OUT imm8 */
    mov $0x3f8, %dx
    in %dx, %eax              /* IN 32-bit with a reply */
    mov %eax, %ebx
    mov $0x61, %dx
    in %dx, %al               /* IN 8-bit merges into AL */
    hlt
s64_io_end:

    .globl s64_outs, s64_outs_end, s64_outs_msg, s64_outs_buf
s64_outs:
    lea s64_outs_msg(%rip), %rsi
    mov $5, %ecx
    mov $0x500, %dx
    rep outsb                 /* string OUT */
    mov %rsi, %rbx
    lea s64_outs_buf(%rip), %rdi
    mov $2, %ecx
    mov $0x502, %dx
    rep insw                  /* string IN */
    hlt
s64_outs_msg:
    .ascii "hello"
    .balign 8
s64_outs_buf:
    .quad 0
s64_outs_end:

    .globl s64_vmmcall, s64_vmmcall_end
s64_vmmcall:
    mov $7, %eax
    mov $11, %ebx
    mov $22, %ecx
    vmmcall
    hlt
s64_vmmcall_end:

    .globl s64_msr, s64_msr_end
s64_msr:
    mov $0x40000010, %ecx
    rdmsr                     /* not modelled: the VMM answers */
    mov %eax, %ebx
    mov %edx, %esi
    mov $0x40000011, %ecx
    mov $0x89abcdef, %eax
    mov $0x01234567, %edx
    wrmsr
    mov $0xc0000080, %ecx     /* EFER: the core answers from the model */
    rdmsr
    mov %eax, %edi
    hlt
s64_msr_end:

    .globl s64_mmio, s64_mmio_end
s64_mmio:
    mov $0x10000000, %rbx     /* outside RAM: a nested page fault */
    movl $0xcafe, (%rbx)      /* MOV r/m32, imm32 */
    mov 4(%rbx), %ecx         /* MOV r32, r/m32: a read with a reply */
    mov 2(%rbx), %dh          /* MOV r8 (high), r/m8 */
    hlt
s64_mmio_end:

    .globl s64_idle, s64_idle_end
s64_idle:
    hlt                       /* an event interrupts before this */
    jmp s64_idle
s64_idle_end:

    .globl s64_sti, s64_sti_end
s64_sti:
    mov $1, %ebx
    sti                       /* the interrupt waits for the end of the STI shadow */
    mov $2, %ebx
    hlt
s64_sti_end:

    .globl s64_cr4, s64_cr4_end
s64_cr4:
    mov %cr4, %rax
    or $0x10000, %rax         /* CR4.FSGSBASE: hidden by the vCPU's CPUID */
    mov %rax, %cr4
    hlt
s64_cr4_end:

    .globl s64_nmi_main, s64_nmi_main_end
s64_nmi_main:
    hlt
s64_nmi_main_end:

/* Handlers (copied to one page; svk_cases.c knows their offsets). */
    .globl s64_handlers, s64_h_default, s64_h_gp, s64_h_irq, s64_h_nmi, s64_handlers_end
s64_handlers:
s64_h_default:
    mov $0xff, %al
    out %al, $0xef            /* an exception nobody expected */
    hlt
s64_h_gp:
    pop %rbx                  /* the error code */
    mov $0x0d, %al
    out %al, $0xe0
    hlt
s64_h_irq:
    mov $0x30, %al
    out %al, $0xe0
    hlt
s64_h_nmi:
    push %rax
    mov $2, %al
    out %al, $0xe0            /* the NMI handler runs ... */
    mov $3, %al
    out %al, $0xe1            /* ... and is not interrupted by a second NMI */
    pop %rax
    iretq
s64_handlers_end:

    .section .note.GNU-stack, "", @progbits
