/*
 * guests.S - guest code, copied into guest memory by the cases.
 *
 * Each snippet is position independent and ends in HLT; the case checks
 * the exits it produces and the registers it leaves.
 */
    .section .rodata.guests, "a"
    .code64

    .globl g64_cpuid, g64_cpuid_end
g64_cpuid:
    mov $0x40000000, %eax
    mov $7, %ecx
    cpuid
    hlt
g64_cpuid_end:

    .globl g64_io, g64_io_end
g64_io:
    mov $0x42, %al
    out %al, $0x80            /* OUT imm8 */
    mov $0x3f8, %dx
    in %dx, %eax              /* IN 32-bit with a reply */
    mov %eax, %ebx
    mov $0x61, %dx
    in %dx, %al               /* IN 8-bit merges into AL */
    hlt
g64_io_end:

    .globl g64_outs, g64_outs_end
g64_outs:
    lea msg(%rip), %rsi
    mov $5, %ecx
    mov $0x500, %dx
    rep outsb                 /* string OUT */
    mov %rsi, %rbx
    lea buf(%rip), %rdi
    mov $2, %ecx
    mov $0x502, %dx
    rep insw                  /* string IN */
    hlt
    .globl g64_outs_msg, g64_outs_buf
g64_outs_msg:
msg:
    .ascii "hello"
    .balign 8
g64_outs_buf:
buf:
    .quad 0
g64_outs_end:

    .globl g64_vmcall, g64_vmcall_end
g64_vmcall:
    mov $7, %eax
    mov $11, %ebx
    mov $22, %ecx
    vmcall
    hlt
g64_vmcall_end:

    .globl g64_msr, g64_msr_end
g64_msr:
    mov $0x40000010, %ecx
    rdmsr
    mov %eax, %ebx
    mov %edx, %esi
    mov $0x40000011, %ecx
    mov $0x89abcdef, %eax
    mov $0x01234567, %edx
    wrmsr
    hlt
g64_msr_end:

    .globl g64_mmio, g64_mmio_end
g64_mmio:
    mov $0x10000000, %rbx     /* outside RAM: EPT violation */
    movl $0xcafe, (%rbx)      /* MOV r/m32, imm32 */
    mov %rbx, 8(%rbx)         /* MOV r/m64, r64 */
    mov 4(%rbx), %ecx         /* MOV r32, r/m32: read with a reply */
    mov 2(%rbx), %dh          /* MOV r8 (high), r/m8 */
    hlt
g64_mmio_end:

    .globl g64_ud, g64_ud_end
g64_ud:
    ud2
g64_ud_end:

    .globl g64_lazy, g64_lazy_end
g64_lazy:
    add $1, %rax
    hlt
    jmp g64_lazy
g64_lazy_end:

    .code16
    .globl g16_real, g16_real_end
g16_real:
    mov $0x1234, %ax
    out %ax, $0x80
    xor %eax, %eax
    cpuid
    mov %cs:0x7100, %al       /* real-mode data read from RAM */
    out %al, $0x81
    hlt
g16_real_end:
    .code64

    .section .note.GNU-stack, "", @progbits
    .section .rodata.guests, "a"
    .code64
    .globl g64_lstar, g64_lstar_end
g64_lstar:
    mov $0xc0000082, %ecx     /* IA32_LSTAR: switched by the MSR lists, no exit */
    rdmsr
    mov %rax, %rbx
    mov %rdx, %rsi
    mov $0x89abc000, %eax
    mov $0xffffffff, %edx
    wrmsr
    hlt
g64_lstar_end:

    .globl g64_triple, g64_triple_end
g64_triple:
    int $0x40                 /* IDT limit 0: #GP, then #DF, then shutdown */
g64_triple_end:

    .globl g64_ro, g64_ro_end
g64_ro:
    mov $0x400000, %rbx       /* read-only RAM page */
    mov (%rbx), %eax          /* reads go straight to memory */
    movl $5, (%rbx)           /* writes exit as MMIO writes */
    hlt
g64_ro_end:
    .section .note.GNU-stack, "", @progbits

/*
 * Event guests. The case builds a GDT and a 64-bit IDT in guest memory whose
 * gates point at the handlers below; each handler reports over a port, so
 * the VMM sees the order in which things happened:
 *   E0H  #GP handler: the error code it found on its stack (then it stops)
 *   E1H  interrupt 40H handler: bits 31:0 of the RIP it will return to
 *   E2H  NMI handler entry, E3H NMI handler just before IRET: the NMI count
 *   E4H  main code after the event, E5H main code before the event
 */
    .section .rodata.guests, "a"
    .code64
    .globl g64_ev, g64_ev_end, g64_ev_gp, g64_ev_irq, g64_ev_nmi
    .globl g64_ev_main_irq, g64_ev_main_nmi, g64_ev_main_sti, g64_ev_sti_after
    .globl g64_ev_main_cr4, g64_ev_main_efer, g64_ev_main_hlt
g64_ev:
g64_ev_gp:
    pop %rax
    out %eax, $0xe0
1:  hlt
    jmp 1b
g64_ev_irq:
    push %rax
    mov 8(%rsp), %rax
    out %eax, $0xe1
    pop %rax
    iretq
g64_ev_nmi:
    push %rax
    incl ev_count(%rip)
    mov ev_count(%rip), %eax
    out %eax, $0xe2
    out %eax, $0xe3
    pop %rax
    iretq
g64_ev_main_irq:            /* RFLAGS.IF = 1: an injected interrupt comes in first */
    out %eax, $0xe4
    hlt
g64_ev_main_nmi:
    out %eax, $0xe4
    hlt
g64_ev_main_sti:            /* IF = 0 until STI; one more instruction in its shadow */
    cli
    out %eax, $0xe5
    sti
    nop
g64_ev_sti_after:
    out %eax, $0xe4
    hlt
g64_ev_main_cr4:            /* CR4.SMEP, which the vCPU's CPUID hides: #GP(0) */
    mov %cr4, %rax
    bts $20, %rax
    mov %rax, %cr4
    out %eax, $0xe4
    hlt
g64_ev_main_efer:           /* IA32_EFER.NXE without CPUID NX: #GP(0) */
    mov $0xc0000080, %ecx
    rdmsr
    bts $11, %eax
    wrmsr
    out %eax, $0xe4
    hlt
g64_ev_main_hlt:
    hlt
    jmp g64_ev_main_hlt
    .balign 4
ev_count:
    .long 0
g64_ev_end:
    .section .note.GNU-stack, "", @progbits
