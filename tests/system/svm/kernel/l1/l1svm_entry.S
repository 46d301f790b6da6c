/*
 * l1svm_entry.S - L1's header and entry, its VMRUN/#VMEXIT stub, and the
 * code of its L2 guest.
 */
    .section .text.header, "ax"
    .code64
    .globl l1s_header
l1s_header:
    .quad 0x4d5653314c4d4f4c        /* L1S_HEADER_MAGIC */
    .quad l1s_entry
    .quad l1s_halt
    .quad __l1s_end

    .text
/* void l1s_entry(mode, first_var), SysV ABI: a bare run returns to the
 * test kernel, a nested run to l1s_halt (the test kernel puts its address
 * on L1's stack). */
l1s_entry:
    jmp l1s_main
l1s_halt:
    hlt
    jmp l1s_halt

/*
 * void l1s_vmrun(uint64_t *gprs, uint64_t vmcb_pa, uint64_t host_pa)
 * gprs: 16 slots in encoding order (RAX RCX RDX RBX RSP RBP RSI RDI R8-R15);
 * the RAX and RSP slots are unused (L2's RAX and RSP are in the VMCB).
 * GIF is cleared around the switch; L1's FS, GS, TR, LDTR and syscall MSRs
 * are kept with VMSAVE at host_pa and L2's are loaded with VMLOAD, since
 * VMRUN and #VMEXIT do not switch them (APM Vol. 2, "VMSAVE and VMLOAD
 * Instructions"). VMRUN saves RAX, RSP, RIP, RFLAGS, CR0, CR3, CR4, EFER,
 * GDTR, IDTR, CS, SS, DS, ES in the host save area and #VMEXIT reloads
 * them ("VMRUN Instruction", "#VMEXIT"); every other register is L2's at
 * the exit and is stored back to gprs.
 */
    .globl l1s_vmrun
l1s_vmrun:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                       /* 16(%rsp): gprs */
    push %rsi                       /*  8(%rsp): VMCB */
    push %rdx                       /*  0(%rsp): L1's VMSAVE area */
    clgi
    mov %rdx, %rax
    vmsave
    mov %rsi, %rax
    vmload
    mov 0x08(%rdi), %rcx
    mov 0x10(%rdi), %rdx
    mov 0x18(%rdi), %rbx
    mov 0x28(%rdi), %rbp
    mov 0x30(%rdi), %rsi
    mov 0x40(%rdi), %r8
    mov 0x48(%rdi), %r9
    mov 0x50(%rdi), %r10
    mov 0x58(%rdi), %r11
    mov 0x60(%rdi), %r12
    mov 0x68(%rdi), %r13
    mov 0x70(%rdi), %r14
    mov 0x78(%rdi), %r15
    mov 0x38(%rdi), %rdi
    vmrun                           /* rAX = the VMCB */
    push %rdi                       /* L2's RDI; gprs is now at 24(%rsp) */
    mov 24(%rsp), %rdi
    mov %rcx, 0x08(%rdi)
    mov %rdx, 0x10(%rdi)
    mov %rbx, 0x18(%rdi)
    mov %rbp, 0x28(%rdi)
    mov %rsi, 0x30(%rdi)
    mov %r8, 0x40(%rdi)
    mov %r9, 0x48(%rdi)
    mov %r10, 0x50(%rdi)
    mov %r11, 0x58(%rdi)
    mov %r12, 0x60(%rdi)
    mov %r13, 0x68(%rdi)
    mov %r14, 0x70(%rdi)
    mov %r15, 0x78(%rdi)
    pop %rax
    mov %rax, 0x38(%rdi)
    mov 8(%rsp), %rax
    vmsave                          /* L2's FS, GS, TR ... back to its VMCB */
    mov 0(%rsp), %rax
    vmload                          /* L1's */
    stgi
    add $24, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/*
 * L2: one step per case of L1S_CASE_LIST; the comment names the #VMEXIT L1
 * expects (exit codes of "SVM Intercept Exit Codes"). R14 holds the
 * address of the nested-page-fault step (given by L1).
 */
    .globl l2s_code, l2s_de_handler, l2s_at_cpuid, l2s_at_out, l2s_at_in, l2s_at_rdmsr
    .globl l2s_at_wrmsr, l2s_at_ud, l2s_at_npf, l2s_after_npf, l2s_at_vmmcall
    .globl l2s_at_hlt, l2s_at_done, l2s_vmmcall_only
l2s_code:
    xor %r15d, %r15d                /* #DE handler count */
    mov $0x4c320001, %eax
    xor %ecx, %ecx
l2s_at_cpuid:
    cpuid                           /* 72h */
l2s_at_out:
    out %eax, $0x90                 /* 7Bh, immediate port */
    mov $0x3f8, %dx
l2s_at_in:
    in %dx, %al                     /* 7Bh, port in DX */
    mov %eax, %ebx
    mov $0x2a, %al
    out %al, $0x80                  /* not intercepted */
    mov $0x174, %ecx
l2s_at_rdmsr:
    rdmsr                           /* 7Ch, EXITINFO1 0 */
    mov %eax, %esi
    mov %edx, %edi
    mov $0x277, %ecx
    rdmsr                           /* not intercepted: PAT */
    mov %eax, %r8d
    mov %edx, %r9d
    mov $0xc0010114, %ecx
    rdmsr                           /* not intercepted: VM_CR, as L1 reads it */
    mov %eax, %r10d
    mov %edx, %r11d
    mov $0x175, %ecx
    mov $0x89abcdef, %eax
    mov $0x01234567, %edx
l2s_at_wrmsr:
    wrmsr                           /* 7Ch, EXITINFO1 1 */
l2s_at_ud:
    ud2                             /* 46h (#UD) */
    xor %edx, %edx
    xor %eax, %eax
    xor %ecx, %ecx
    div %ecx                        /* #DE through L2's IDT, no exit */
l2s_at_npf:
    mov (%r14), %eax                /* 400h (#NPF) */
l2s_after_npf:
    mov $0x4c320002, %eax
l2s_at_vmmcall:
    vmmcall                         /* 81h */
l2s_at_hlt:
    hlt                             /* 78h */
    mov $0x4c3200ff, %eax
l2s_at_done:
    vmmcall                         /* 81h: done */
    ud2

/* #DE handler: count, skip the 2-byte DIV, return. */
l2s_de_handler:
    inc %r15d
    addq $2, (%rsp)
    iretq

/* The broken-VMCB program's guest: VMMCALL (81h). */
l2s_vmmcall_only:
    vmmcall
    ud2

    .section .note.GNU-stack, "", @progbits
