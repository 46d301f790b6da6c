/*
 * entry.S - 64-bit entry of the test kernel and its exception stubs.
 */
    .section .text.entry, "ax"
    .code64
    .globl _start64
_start64:
    /* Clear .bss (it lies at 1 MiB and was never loaded). */
    movabs $__bss_start, %rdi
    movabs $__bss_end, %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    cld
    rep stosb
    movabs $kstack_top, %rsp
    xor %ebp, %ebp
    call kmain
1:  cli
    hlt
    jmp 1b

/*
 * One stub per vector 0-31: pushes a dummy error code where the CPU does not
 * push one (SDM Vol. 3, "Exception and Interrupt Reference"), then the vector,
 * and calls ktrap(vector, error, frame) which reports the fault and ends the run.
 */
    .macro TRAP vec, has_err
trap_\vec:
    .if \has_err == 0
    pushq $0
    .endif
    pushq $\vec
    jmp trap_common
    .endm

    TRAP 0,0;  TRAP 1,0;  TRAP 2,0;  TRAP 3,0;  TRAP 4,0;  TRAP 5,0;  TRAP 6,0;  TRAP 7,0
    TRAP 8,1;  TRAP 9,0;  TRAP 10,1; TRAP 11,1; TRAP 12,1; TRAP 13,1; TRAP 14,1; TRAP 15,0
    TRAP 16,0; TRAP 17,1; TRAP 18,0; TRAP 19,0; TRAP 20,0; TRAP 21,1; TRAP 22,0; TRAP 23,0
    TRAP 24,0; TRAP 25,0; TRAP 26,0; TRAP 27,0; TRAP 28,0; TRAP 29,1; TRAP 30,1; TRAP 31,0

trap_common:
    mov (%rsp), %rdi                /* vector */
    mov 8(%rsp), %rsi               /* error code */
    lea 16(%rsp), %rdx              /* RIP, CS, RFLAGS, RSP, SS */
    and $-16, %rsp
    call ktrap
2:  cli
    hlt
    jmp 2b

    .section .rodata
    .globl ktrap_stubs
    .balign 8
ktrap_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad trap_\v
    .endr

    .section .bss
    .balign 16
    .globl kstack_top
kstack:
    .space 65536
kstack_top:

    .section .note.GNU-stack, "", @progbits
