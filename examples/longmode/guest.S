/*
 * guest.S - the long-mode demo guest for vcore-longmode.
 *
 * Built by the project (gcc -c, ld at GUEST_BASE, objcopy -O binary) and
 * loaded by the VMM at guest-physical GUEST_BASE. It starts in real mode with
 * CS.base = GUEST_BASE, IP = 0 and walks the processor through the modes the
 * way SDM Vol. 3, "Mode Switching" describes:
 *
 *   real mode -> protected mode (GDT, CR0.PE, far jump)
 *             -> IA-32e mode (PAE paging, EFER.LME, CR0.PG, far jump to a
 *                64-bit code segment)
 *
 * then in 64-bit mode it runs CPUID and prints what it sees, sets
 * CR4.OSXSAVE and reads CPUID.1:ECX again (the OSXSAVE bit mirrors CR4),
 * reads and writes MMIO at an unmapped guest-physical address, reads and
 * writes an MSR the host kernel does not handle (the VMM answers), and HLTs.
 *
 * Every text byte goes out through port 0xE9 (the "debug console" port).
 * Contract with the VMM (examples/longmode/main.c):
 *   GUEST_BASE  0x10000    load address and real-mode CS base
 *   RAM         0 .. 2 MiB identity-mapped, plus the MMIO page below
 *   MMIO_GPA    0x10000000 not backed by memory: accesses exit to the VMM
 *   DEMO_MSR    0x4b564dff  an MSR index KVM does not implement
 */
#define GUEST_BASE 0x10000
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define STACK_TOP 0x80000
#define MMIO_GPA 0x10000000
#define DEMO_MSR 0x4b564dff
#define DEBUG_PORT 0xe9

/* Offset of a label from the start of the image (real-mode addressing with
 * segment base GUEST_BASE). */
#define OFF(x) ((x) - start)

    .text
    .globl start
/* ------------------------------------------------------------------ */
    .code16
start:
    cli
    mov %cs, %ax
    mov %ax, %ds
    mov %ax, %es
    xor %ax, %ax
    mov %ax, %ss
    mov $0x7000, %sp

    mov $OFF(msg_real), %si
1:  lodsb                       /* print the NUL-terminated string at DS:SI */
    test %al, %al
    jz 2f
    out %al, $DEBUG_PORT
    jmp 1b
2:
    /* GDTR gets a linear base: fix up the pointer's base from CS. */
    lgdtl OFF(gdt_ptr)
    mov %cr0, %eax
    or $1, %eax                 /* CR0.PE (bit 0): protection enable */
    mov %eax, %cr0
    ljmpl $0x08, $pm32          /* SDM: a far JMP right after setting PE */

/* ------------------------------------------------------------------ */
    .code32
pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    mov $STACK_TOP, %esp

    mov $msg_prot, %esi
    call puts32

    /* Identity map the first GiB with 2 MiB pages: PML4[0] -> PDPT,
     * PDPT[0] -> PD, PD[i] = i * 2 MiB | PS | RW | P. */
    mov $PML4, %edi
    xor %eax, %eax
    mov $(3 * 4096 / 4), %ecx
    rep stosl
    movl $(PDPT | 3), PML4      /* present (bit 0), writable (bit 1) */
    movl $(PD | 3), PDPT
    mov $PD, %edi
    mov $0x83, %eax             /* P | RW | PS (bit 7: 2 MiB page) */
    mov $512, %ecx
3:  mov %eax, (%edi)
    movl $0, 4(%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 3b

    mov %cr4, %eax
    or $(1 << 5), %eax          /* CR4.PAE (bit 5): required for IA-32e paging */
    or $(1 << 9), %eax          /* CR4.OSFXSR (bit 9) */
    mov %eax, %cr4
    mov $PML4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx       /* IA32_EFER */
    rdmsr
    or $(1 << 8), %eax          /* EFER.LME (bit 8): long mode enable */
    wrmsr
    mov %cr0, %eax
    or $0x80000000, %eax        /* CR0.PG (bit 31): activates IA-32e mode */
    mov %eax, %cr0
    ljmp $0x18, $lm64

/* Prints the NUL-terminated string at ESI (32-bit code). */
puts32:
    lodsb
    test %al, %al
    jz 1f
    out %al, $DEBUG_PORT
    jmp puts32
1:  ret

/* ------------------------------------------------------------------ */
    .code64
lm64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $STACK_TOP, %rsp

    lea msg_long(%rip), %rsi
    call puts

    /* CPUID leaf 0: maximum basic leaf and the vendor string EBX:EDX:ECX. */
    xor %eax, %eax
    xor %ecx, %ecx
    cpuid
    mov %ebx, vendor(%rip)
    mov %edx, vendor+4(%rip)
    mov %ecx, vendor+8(%rip)
    mov %rax, %rdi
    lea msg_max(%rip), %rsi
    call puts_hex
    lea msg_vendor(%rip), %rsi
    call puts
    lea vendor(%rip), %rsi
    call puts
    lea msg_nl(%rip), %rsi
    call puts

    /* CPUID leaf 1: signature and feature flags. */
    mov $1, %eax
    xor %ecx, %ecx
    cpuid
    mov %rdx, %r12
    mov %rcx, %r13
    mov %rax, %rdi
    lea msg_sig(%rip), %rsi
    call puts_hex
    mov %r13, %rdi
    lea msg_ecx(%rip), %rsi
    call puts_hex
    mov %r12, %rdi
    lea msg_edx(%rip), %rsi
    call puts_hex

    /* If XSAVE (CPUID.1:ECX[26]) is enumerated, set CR4.OSXSAVE (bit 18)
     * and read CPUID.1:ECX again: bit 27 (OSXSAVE) now mirrors CR4. */
    bt $26, %r13d
    jnc 4f
    mov %cr4, %rax
    or $(1 << 18), %rax
    mov %rax, %cr4
    mov $1, %eax
    xor %ecx, %ecx
    cpuid
    mov %rcx, %rdi
    lea msg_osx(%rip), %rsi
    call puts_hex
4:
    /* CPUID 80000001H:EDX.LM (bit 29) as the guest sees it. */
    mov $0x80000001, %eax
    xor %ecx, %ecx
    cpuid
    mov %rdx, %rdi
    lea msg_ext(%rip), %rsi
    call puts_hex

    /* MMIO: a read then a write at an unmapped guest-physical address. */
    mov $MMIO_GPA, %rbx
    mov (%rbx), %rax
    mov %rax, %rdi
    lea msg_mmio_rd(%rip), %rsi
    call puts_hex
    not %rax
    mov %rax, 8(%rbx)
    lea msg_mmio_wr(%rip), %rsi
    call puts

    /* RDMSR / WRMSR of an MSR the kernel does not handle: the VMM answers. */
    mov $DEMO_MSR, %ecx
    rdmsr
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, %rdi
    lea msg_rdmsr(%rip), %rsi
    call puts_hex
    mov $DEMO_MSR, %ecx
    mov $0x89abcdef, %eax
    mov $0x01234567, %edx
    wrmsr
    lea msg_wrmsr(%rip), %rsi
    call puts

    lea msg_done(%rip), %rsi
    call puts
5:  hlt
    jmp 5b

/* Prints the NUL-terminated string at RSI. */
puts:
    push %rax
1:  lodsb
    test %al, %al
    jz 2f
    out %al, $DEBUG_PORT
    jmp 1b
2:  pop %rax
    ret

/* Prints the string at RSI, then RDI as 16 hex digits and a newline. */
puts_hex:
    push %rax
    push %rcx
    push %rdi
    call puts
    mov $16, %ecx
1:  rol $4, %rdi
    mov %edi, %eax
    and $0xf, %eax
    cmp $10, %eax
    jb 2f
    add $('a' - '0' - 10), %eax
2:  add $'0', %eax
    out %al, $DEBUG_PORT
    loop 1b
    mov $'\n', %al
    out %al, $DEBUG_PORT
    pop %rdi
    pop %rcx
    pop %rax
    ret

/* ------------------------------------------------------------------ */
/* Data stays in .text: one flat image, addressable from real mode with
 * offsets below 64 KiB from GUEST_BASE. */
    .balign 8
/* SDM Vol. 3, "Segment Descriptors": flat 4 GiB segments. */
gdt:
    .quad 0                     /* 0x00: null descriptor */
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code, base 0, limit 4G, G=1 D=1, P, DPL0, execute/read */
    .quad 0x00cf92000000ffff    /* 0x10: data, base 0, limit 4G, G=1 B=1, P, DPL0, read/write */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code, L=1 D=0, P, DPL0, execute/read */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1     /* limit */
    .long gdt                   /* linear base (the image is linked at GUEST_BASE) */

vendor: .fill 16, 1, 0
msg_real:    .asciz "[guest] real mode\n"
msg_prot:    .asciz "[guest] protected mode\n"
msg_long:    .asciz "[guest] 64-bit long mode\n"
msg_max:     .asciz "[guest] CPUID.0:EAX max leaf   = "
msg_vendor:  .asciz "[guest] CPUID.0 vendor         = "
msg_nl:      .asciz "\n"
msg_sig:     .asciz "[guest] CPUID.1:EAX signature  = "
msg_ecx:     .asciz "[guest] CPUID.1:ECX            = "
msg_edx:     .asciz "[guest] CPUID.1:EDX            = "
msg_osx:     .asciz "[guest] CR4.OSXSAVE=1, CPUID.1:ECX = "
msg_ext:     .asciz "[guest] CPUID.80000001H:EDX    = "
msg_mmio_rd: .asciz "[guest] MMIO read  @10000000   = "
msg_mmio_wr: .asciz "[guest] MMIO write @10000008 done\n"
msg_rdmsr:   .asciz "[guest] RDMSR 4b564dff         = "
msg_wrmsr:   .asciz "[guest] WRMSR 4b564dff done\n"
msg_done:    .asciz "[guest] all done, HLT\n"
