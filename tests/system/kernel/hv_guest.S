/*
 * hv_guest.S - guest code of the Hyper-V cases (hv_cases.c), copied into
 * the Hyper-V VM's memory as one block. Every vCPU runs these jobs; the
 * kernel points RIP at one, sets its registers, and runs the vCPU to HLT:
 *   ghv_setup  RBX = parameter block: HV_X64_MSR_GUEST_OS_ID from [0],
 *              HV_X64_MSR_HYPERCALL from [8] (both written with WRMSR)
 *   ghv_call   RBX = parameter block: with RSI non-zero, reads the
 *              quadword at RSI into [152] (a TLB entry for it); optionally
 *              stores [144] at the address [136] (a PTE); loads XMM0-XMM5
 *              from [0..95], RCX / RDX / R8 from [96] / [104] / [112],
 *              calls the hypercall page at [120], stores RAX (the result
 *              value) at [128] and, with RSI, reads RSI again into [160]; with
 *              both, RSI is also read right after the PTE store into [168]
 *   ghv_probe  RSI = linear address: RAX = the quadword there
 *   ghv_idle   interrupts on, HLT
 * Interrupt vector v enters stub v (16 bytes each), which counts it in
 * the 256 dwords at 90000H + 1024 * R15 (R15 = the vCPU's number).
 */
    .section .rodata.guests, "a"
    .code64
    .globl ghv, ghv_end, ghv_setup, ghv_call, ghv_probe, ghv_idle, ghv_stubs
ghv:
ghv_setup:
    mov $0x40000000, %ecx
    mov 0(%rbx), %eax
    mov 4(%rbx), %edx
    wrmsr
    mov $0x40000001, %ecx
    mov 8(%rbx), %eax
    mov 12(%rbx), %edx
    wrmsr
    hlt
ghv_call:
    test %rsi, %rsi
    jz 0f
    mov (%rsi), %rax
    mov %rax, 152(%rbx)
0:  mov 136(%rbx), %rdi
    test %rdi, %rdi
    jz 1f
    mov 144(%rbx), %rax
    mov %rax, (%rdi)
    test %rsi, %rsi
    jz 1f
    mov (%rsi), %rax
    mov %rax, 168(%rbx)
1:  movdqu 0(%rbx), %xmm0
    movdqu 16(%rbx), %xmm1
    movdqu 32(%rbx), %xmm2
    movdqu 48(%rbx), %xmm3
    movdqu 64(%rbx), %xmm4
    movdqu 80(%rbx), %xmm5
    mov 96(%rbx), %rcx
    mov 104(%rbx), %rdx
    mov 112(%rbx), %r8
    call *120(%rbx)
    mov %rax, 128(%rbx)
    test %rsi, %rsi
    jz 3f
    mov (%rsi), %rax
    mov %rax, 160(%rbx)
3:  hlt
ghv_probe:
    mov (%rsi), %rax
    hlt
ghv_idle:
    sti
2:  hlt
    jmp 2b
ghv_isr:
    push %rdx
    mov %r15, %rdx
    shl $10, %rdx
    lock incl 0x90000(%rdx,%rax,4)
    pop %rdx
    pop %rax
    iretq
    .balign 16
ghv_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    push %rax
    mov $vec, %eax
    jmp ghv_isr
    .set vec, vec + 1
    .endr
ghv_end:
    .section .note.GNU-stack, "", @progbits
