/*
 * l1_entry.S - L1's header and entry, its VM-entry/VM-exit stub, and the
 * code of its L2 guest.
 */
    .section .text.header, "ax"
    .code64
    .globl l1_header
l1_header:
    .quad 0x3152494c4e4f4d4c        /* L1_HEADER_MAGIC */
    .quad l1_entry
    .quad l1_halt
    .quad __l1_end

    .text
/* void l1_entry(mode, first_var), called with the SysV ABI: a bare run
 * returns to the test kernel, a nested run to l1_halt (the test kernel
 * puts its address on L1's stack). */
l1_entry:
    jmp l1_main
l1_halt:
    hlt
    jmp l1_halt

/*
 * int l1_vmenter(uint64_t *gprs, int resume)
 * gprs: 16 slots in encoding order (RAX RCX RDX RBX RSP RBP RSI RDI R8-R15;
 * the RSP slot is unused: L2's RSP is in the VMCS). Loads them, VMLAUNCH
 * (resume == 0) or VMRESUME. Returns 0 after a VM exit (L2's registers
 * saved back), 1 for VMfailInvalid (CF), 2 for VMfailValid (ZF)
 * (SDM Vol. 3, "Conventions").
 */
    .globl l1_vmenter
l1_vmenter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                       /* the gprs pointer, found again at the exit */
    mov $0x6c14, %eax               /* HOST_RSP */
    vmwrite %rsp, %rax
    lea l1_vmexit(%rip), %rdx
    mov $0x6c16, %eax               /* HOST_RIP */
    vmwrite %rdx, %rax
    test %esi, %esi                 /* MOVs below keep the flags */
    mov 0x00(%rdi), %rax
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
    jnz 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  mov $2, %eax                    /* VMfailValid unless CF */
    jnc 3f
    mov $1, %eax
3:  pop %rdi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

l1_vmexit:
    push %rdi                       /* L2's RDI; the gprs pointer is above it */
    mov 8(%rsp), %rdi
    mov %rax, 0x00(%rdi)
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
    pop %rdi
    xor %eax, %eax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/*
 * L2: one step per case of L1_CASE_LIST; the comment names the exit L1
 * expects. R14 holds the address of the EPT step (given by L1).
 */
    .globl l2_code, l2_de_handler, l2_at_cpuid, l2_at_out, l2_at_in, l2_at_rdmsr
    .globl l2_at_wrmsr, l2_at_ud, l2_at_ept, l2_after_ept, l2_at_vmcall, l2_loop, l2_loop_end
    .globl l2_at_hlt, l2_at_done, l2_vmcall_only, l2_after_tpr, l2_at_apic, l2_after_apic
    .globl l2_after_apic_write
    .globl l2_l0_loop, l2_l0_loop_end, l2_after_l0_loop, l2_after_syscall, l2_syscall_target, l2_at_syscall
    .globl l2_after_efer_syscall, l2_vint_handler, l2_after_veoi, l2_at_vid, l2_vid_again, l2_after_list_syscall
l2_code:
    xor %r15d, %r15d                /* #DE handler count */
    /* With R13 = 1 (L1 set its own EFER.SCE and NXE and does not use "load
     * IA32_EFER"): L2 runs with L1's SCE and NXE ("Loading Guest Control
     * Registers, Debug Registers, and MSRs"). RBP: an address whose PDE has
     * XD = 1, a reserved bit when NXE = 0 (#PF, then a triple fault: L2 has
     * no #PF gate). RDMSR of IA32_EFER: not intercepted. SYSCALL: #UD
     * (intercepted) when SCE = 0, else to IA32_LSTAR and the VMCALL there. */
    test %r13, %r13
    jz 1f
    mov (%rbp), %rax
    mov $0xc0000080, %ecx
    rdmsr
    mov %eax, %ebx
    mov %edx, %esi
    syscall
l2_after_efer_syscall:
1:
    mov $0x4c320001, %eax
    xor %ecx, %ecx
l2_at_cpuid:
    cpuid                           /* exit 10 */
l2_at_out:
    out %eax, $0x90                 /* exit 30, immediate port */
    mov $0x3f8, %dx
l2_at_in:
    in %dx, %al                     /* exit 30, port in DX */
    mov %eax, %ebx
    mov $0x2a, %al
    out %al, $0x80                  /* not intercepted */
    mov $0x174, %ecx
l2_at_rdmsr:
    rdmsr                           /* exit 31 */
    mov %eax, %esi
    mov %edx, %edi
    mov $0x176, %ecx
    rdmsr                           /* not intercepted */
    mov %eax, %r8d
    mov %edx, %r9d
    mov $0xc0000102, %ecx
    rdmsr                           /* not intercepted: L1's VM-entry MSR-load list set it */
    mov %eax, %r10d
    mov %edx, %r11d
    mov $0x175, %ecx
    mov $0x89abcdef, %eax
    mov $0x01234567, %edx
l2_at_wrmsr:
    wrmsr                           /* exit 32 */
l2_at_ud:
    ud2                             /* exit 0, #UD */
    xor %edx, %edx
    xor %eax, %eax
    xor %ecx, %ecx
    div %ecx                        /* #DE through L2's IDT, no exit */
l2_at_ept:
    mov (%r14), %eax                /* exit 48 (EPT violation) */
l2_after_ept:
    mov $0x4c320002, %eax
l2_at_vmcall:
    vmcall                          /* exit 18 */
    mov $20000000, %ecx
l2_loop:
    dec %ecx                        /* exit 52 (preemption timer) somewhere here */
    jnz l2_loop
l2_loop_end:
l2_at_hlt:
    hlt                             /* exit 12 */
    /* With L1's TPR shadow (R13 = 1): MOV to/from CR8 use VTPR without
     * exits ("Virtualizing CR8-Based TPR Accesses"); the last MOV drops
     * VTPR[7:4] below the threshold: exit 43 after it. */
    test %r13, %r13
    jz 1f
    mov $4, %eax
    mov %rax, %cr8                  /* VTPR 40H, threshold 3: no exit */
    mov %cr8, %rbx                  /* 4: no exit */
    mov $1, %eax
    mov %rax, %cr8                  /* VTPR 10H: exit 43 (trap-like) */
l2_after_tpr:
    /* With L1's APIC-access page (RBP its address): a read of offset
     * 080H returns VTPR without an exit, a read of any other offset is an
     * APIC-access VM exit ("Virtualizing Reads from the APIC-Access Page"). */
    test %rbp, %rbp
    jz 1f
    mov 0x80(%rbp), %ebx            /* VTPR 10H: no exit */
l2_at_apic:
    mov 0x30(%rbp), %eax            /* exit 44, offset 030H, data read */
l2_after_apic:
    /* With L1's APIC-register virtualization (RDI = 1): a read of offset
     * 030H comes from the virtual-APIC page without an exit ("Virtualizing
     * Reads from the APIC-Access Page"); a write of offset 380H goes to the
     * virtual-APIC page, then an APIC-write VM exit, trap-like ("APIC-Write
     * Emulation"). */
    cmp $1, %rdi
    jne 1f
    mov 0x30(%rbp), %ebx            /* no exit */
    movl $0x12345, 0x380(%rbp)      /* exit 56 after it, offset 380H */
l2_after_apic_write:
1:
    /* With L1's virtual-interrupt delivery (RSI = 1; RBP the APIC-access
     * page): RVI 31H, above VPPR, is delivered through L2's IDT once
     * RFLAGS.IF = 1 and STI's blocking ended ("Virtual-Interrupt
     * Delivery"); the handler's EOI exits to L1 (exit 45), which then
     * requests 32H, delivered after the handler's IRET, whose EOI is
     * virtualized without an exit ("Virtualizing EOI"). */
    cmp $1, %rsi
    jne 1f
l2_vid_again:
    sti
    nop
    nop
    cli
    mov $0x4c320005, %eax
l2_at_vid:
    vmcall                          /* exit 18 */
1:
    /* With R12 = 1 (L1 armed its preemption timer, not saved at exits):
     * a loop whose RDMSR of 176H each exits to L0 (L1's MSR bitmap read
     * bit clear); the timer counts L2's time across them: exit 52 within
     * the loop ("VMX-Preemption Timer"). */
    test %r12, %r12
    jz 1f
    mov $100000, %ebx
l2_l0_loop:
    mov $0x176, %ecx
    rdmsr                           /* not intercepted by L1 */
    dec %ebx                        /* exit 52 somewhere here */
    jnz l2_l0_loop
l2_l0_loop_end:
    mov $0x4c320004, %eax
    vmcall                          /* only when the timer never fired */
l2_after_l0_loop:
1:
    /* With R12 = 1: SWAPGS and SYSCALL with the IA32_KERNEL_GS_BASE,
     * IA32_STAR, IA32_LSTAR and IA32_FMASK of L1's VM-entry MSR-load list
     * ("SWAPGS", "SYSCALL"). */
    test %r12, %r12
    jz 2f
    swapgs                          /* GS.base <- IA32_KERNEL_GS_BASE */
    mov $0xc0000101, %ecx
    rdmsr                           /* IA32_GS_BASE: not intercepted */
    mov %eax, %r8d
    mov %edx, %r9d
    swapgs                          /* back */
    std                             /* IA32_FMASK clears DF */
    syscall                         /* RCX <- l2_after_syscall, RIP <- IA32_LSTAR */
l2_after_syscall:
    ud2                             /* never: IA32_LSTAR names l2_syscall_target */
l2_syscall_target:
    mov $0x4c320003, %eax
l2_at_syscall:
    vmcall                          /* exit 18 */
    /* With R12 = 2: SYSCALL again, EFER.SCE now from an IA32_EFER entry of
     * L1's VM-entry MSR-load list (L1's own SCE is clear, no "load
     * IA32_EFER"): to IA32_LSTAR and the VMCALL there; #UD (intercepted)
     * if the list did not set SCE. */
    cmp $2, %r12
    jne 2f
    syscall                         /* RCX <- l2_after_list_syscall */
l2_after_list_syscall:
    ud2                             /* never: IA32_LSTAR names l2_syscall_target */
2:
    mov $0x4c3200ff, %eax
l2_at_done:
    vmcall                          /* exit 18: done */
    ud2

/* The PAT guest: RDMSR of IA32_PAT into R9:R8, WRMSR of R11:R10 to it,
 * VMCALL. */
    .globl l2_pat, l2_pat_at_vmcall
l2_pat:
    mov $0x277, %ecx
    rdmsr
    mov %eax, %r8d
    mov %edx, %r9d
    mov %r10d, %eax
    mov %r11d, %edx
    wrmsr
l2_pat_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The debug-controls guest: MOV from DR7 into R8, VMCALL. */
    .globl l2_dr7, l2_dr7_at_vmcall
l2_dr7:
    mov %dr7, %r8
l2_dr7_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The TSC guest: RDTSC (EDX:EAX), VMCALL. */
    .globl l2_tsc, l2_tsc_at_vmcall
l2_tsc:
    rdtsc
l2_tsc_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The interrupt-at-entry guest: R8 := 1, VMCALL. An interrupt pending at
 * VMLAUNCH exits before the first instruction: R8 stays 0 until L1
 * resumes it. */
    .globl l2_intr, l2_intr_at_vmcall
l2_intr:
    mov $1, %r8d
l2_intr_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The INIT guest: OUT to port 81H, which L1's I/O bitmap lets through to
 * L0, whose VMM answers it with an INIT signal; the INIT exit (3) comes
 * before the VMCALL. */
    .globl l2_init_out, l2_init_out_at
l2_init_out:
    out %al, $0x81
l2_init_out_at:
    vmcall                          /* exit 18 */
    ud2

/* The MSR-bitmap guest: WRMSR of R11:R10 to IA32_FS_BASE, RDMSR of it into
 * R9:R8 (L1 lets both through), then WRMSR of R13:R12 to IA32_GS_BASE (L1
 * intercepts it: exit 32), VMCALL. */
    .globl l2_msrbmp, l2_msrbmp_at_wrmsr, l2_msrbmp_at_vmcall
l2_msrbmp:
    mov $0xc0000100, %ecx
    mov %r10d, %eax
    mov %r11d, %edx
    wrmsr
    xor %eax, %eax
    xor %edx, %edx
    rdmsr
    mov %eax, %r8d
    mov %edx, %r9d
    mov $0xc0000101, %ecx
    mov %r12d, %eax
    mov %r13d, %edx
l2_msrbmp_at_wrmsr:
    wrmsr                           /* exit 32 */
l2_msrbmp_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The x2APIC guest: RDMSR of 808H (the TPR) into R9:R8, WRMSR of 30H to
 * it, VMCALL. With "virtualize x2APIC mode" neither access reaches an
 * APIC: both use the virtual-APIC page ("Virtualizing MSR-Based APIC
 * Accesses"). */
    .globl l2_x2apic, l2_x2apic_at_vmcall
l2_x2apic:
    mov $0x808, %ecx
    rdmsr
    mov %eax, %r8d
    mov %edx, %r9d
    mov $0x30, %eax
    xor %edx, %edx
    wrmsr
l2_x2apic_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The VMCS-shadowing guest: VMREAD of guest RIP (681EH) into R8, VMWRITE
 * of R10 to it, VMREAD of it into R9 - L1's bitmaps let all three run on
 * its shadow VMCS ("VMCS Shadowing") - then VMREAD of guest RSP (681CH,
 * whose VMREAD-bitmap bit is set) into R11: exit 23; VMCALL. */
    .globl l2_shadow, l2_shadow_at_vmread, l2_shadow_at_vmcall
l2_shadow:
    mov $0x681e, %edx
    vmread %rdx, %r8
    vmwrite %r10, %rdx
    vmread %rdx, %r9
    mov $0x681c, %edx
l2_shadow_at_vmread:
    vmread %rdx, %r11               /* exit 23 */
l2_shadow_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The PML guest of the VMCS-shadowing program: a VMREAD of guest RIP to
 * memory at [R12] that does not exit. */
    .globl l2_pml_vmread, l2_pml_vmread_at_vmcall
l2_pml_vmread:
    mov $0x681e, %edx
    vmread %rdx, (%r12)             /* no exit; 8 bytes to a clean page */
l2_pml_vmread_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The single-step guest of the VMCS-shadowing program: POPF sets TF (the
 * trap follows the instruction after it), then a VMREAD of guest RIP that
 * does not exit; the #DB after it is L1's exit 0. */
    .globl l2_shadow_tf, l2_shadow_tf_after
l2_shadow_tf:
    mov $0x681e, %edx
    pushfq
    orq $0x100, (%rsp)
    popfq
    vmread %rdx, %r12               /* no exit; single-step trap after it */
l2_shadow_tf_after:
    ud2

/* The VPID guest: reads the 32-bit word at [R14] twice, a VMCALL after
 * each read (L1 remaps the page in between). */
    .globl l2_vpid, l2_vpid_at_vmcall1, l2_vpid_at_vmcall2
l2_vpid:
    mov (%r14), %eax
l2_vpid_at_vmcall1:
    vmcall                          /* exit 18 */
    mov (%r14), %eax
l2_vpid_at_vmcall2:
    vmcall                          /* exit 18 */
    ud2

/* The VMFUNC guest: reads the 32-bit word at [R14] into R8, VMFUNC with
 * EAX 0 and ECX 1 (EPTP switching to list entry 1), reads [R14] again into
 * R9, VMCALL; then VMFUNC with ECX 600, which exits (59). VMFUNC is
 * 0F 01 D4 ("VMFUNC-Invoke VM function"). */
    .globl l2_vmfunc, l2_vmfunc_at_vmcall, l2_vmfunc_at_bad
l2_vmfunc:
    mov (%r14), %r8d
    xor %eax, %eax
    mov $1, %ecx
    .byte 0x0f, 0x01, 0xd4          /* VMFUNC: no exit */
    mov (%r14), %r9d
l2_vmfunc_at_vmcall:
    vmcall                          /* exit 18 */
    xor %eax, %eax
    mov $600, %ecx
l2_vmfunc_at_bad:
    .byte 0x0f, 0x01, 0xd4          /* VMFUNC: exit 59 */
    ud2

/* The PML guest: writes [R12], [R13] and [R14], VMCALL. */
    .globl l2_pml, l2_pml_at_vmcall
l2_pml:
    movl $1, (%r12)
    movl $2, (%r13)
    movl $3, (%r14)
l2_pml_at_vmcall:
    vmcall                          /* exit 18 */
    ud2

/* The real-mode guest ("unrestricted guest"): 16-bit code, run at the
 * guest-physical address of its offset in L1's region (L1's EPT maps
 * guest-physical 0-2 MiB there). A 16-bit ADD leaves 2468H in BX; CPUID
 * and VMCALL exit. */
    .code16
    .globl l2_real, l2_real_at_cpuid, l2_real_at_vmcall
l2_real:
    mov $0x1234, %ax
    add %ax, %ax
    mov %ax, %bx
    xor %eax, %eax
l2_real_at_cpuid:
    cpuid                           /* exit 10 */
l2_real_at_vmcall:
    vmcall                          /* exit 18 */
    ud2
    .code64

/* Virtual-interrupt handler (vectors 31H and 32H): count, EOI through the
 * APIC-access page (RBP), return. */
l2_vint_handler:
    inc %r10d
    movl $0, 0xb0(%rbp)             /* EOI: exit 45 after it for 31H, none for 32H */
l2_after_veoi:
    iretq

/* #DE handler: count, skip the 2-byte DIV, return. */
l2_de_handler:
    inc %r15d
    addq $2, (%rsp)
    iretq

/* The counting program's guest: L1_MEASURE_N + 1 CPUIDs (L1 counts the
 * round trips between the first exit and the last), then VMCALL. */
    .globl l2_cpuid_loop
l2_cpuid_loop:
    mov $101, %r12d
1:  xor %eax, %eax
    xor %ecx, %ecx
    cpuid
    dec %r12d
    jnz 1b
    vmcall
    ud2

/* The broken-VMCS program's guest: VMCALL (exit 18). */
l2_vmcall_only:
    vmcall
    ud2

    .section .note.GNU-stack, "", @progbits
