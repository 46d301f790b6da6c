/*
 * boot.S - boot sector of the VMX system-test kernel.
 *
 * The BIOS loads this sector at 0x7c00 in real mode. It loads the rest of
 * the image (the 64-bit kernel) to 0x10000 with the EDD "extended read"
 * service, identity-maps the first 1 GiB with 2 MiB pages and switches from
 * real mode straight to 64-bit mode (SDM Vol. 3, "Initializing IA-32e Mode":
 * PAE, then EFER.LME, then CR0.PG together with CR0.PE).
 */
    .section .boot, "ax"
    .code16
    .globl _boot
_boot:
    cli
    ljmp $0, $1f                    /* normalise CS:IP to 0000:7Cxx */
1:  xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    mov %dl, boot_drive

    /* Fast A20 gate (port 92H bit 1), keeping bit 0 (reset) clear. */
    inb $0x92, %al
    or $2, %al
    and $0xfe, %al
    outb %al, $0x92

    /* Load __kernel_sectors sectors from LBA 1 to 0x1000:0000, 64 at a time. */
    mov $__kernel_sectors, %bx
load_loop:
    test %bx, %bx
    jz load_done
    mov %bx, %cx
    cmp $64, %cx
    jbe 2f
    mov $64, %cx
2:  mov %cx, dap_count
    mov $dap, %si
    mov boot_drive, %dl
    mov $0x42, %ah
    int $0x13
    jc load_fail
    mov dap_count, %cx
    sub %cx, %bx
    add %cx, dap_lba
    shl $5, %cx                     /* 512 bytes = 32 paragraphs per sector */
    add %cx, dap_seg
    jmp load_loop
load_fail:
    mov $0xe9, %dx
    mov $'B', %al
    outb %al, %dx
    mov $'!', %al
    outb %al, %dx
    hlt
    jmp load_fail

load_done:
    /* Zero 0x1000-0x3fff: PML4 (0x1000), PDPT (0x2000), PD (0x3000). */
    mov $0x1000, %di
    mov $0x0c00, %cx
    xor %eax, %eax
    cld
    rep stosl
    movl $0x2003, 0x1000            /* PML4[0] -> PDPT, present + writable */
    movl $0x3003, 0x2000            /* PDPT[0] -> PD, present + writable */
    /* PD[i] = i * 2 MiB | PS | RW | P, i = 0..511 (1 GiB identity). */
    mov $0x3000, %di
    mov $0x83, %eax
3:  movl %eax, (%di)
    add $0x200000, %eax
    add $8, %di
    cmp $0x4000, %di
    jb 3b

    lgdt gdt_desc
    mov $0x20, %eax                 /* CR4.PAE (bit 5) */
    mov %eax, %cr4
    mov $0x1000, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* IA32_EFER */
    rdmsr
    or $0x100, %eax                 /* EFER.LME (bit 8) */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax            /* CR0.PG (bit 31) | CR0.PE (bit 0) */
    mov %eax, %cr0
    ljmpl $0x08, $long_entry

    .code64
long_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %ax, %fs
    mov %ax, %gs
    movabs $_start64, %rax
    jmp *%rax

    .balign 8
gdt:
    .quad 0
    .quad 0x00209a0000000000        /* 0x08: 64-bit code, present, DPL 0 */
    .quad 0x00cf92000000ffff        /* 0x10: data, writable, 4 GiB */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

    .balign 4
dap:                                /* EDD disk address packet */
    .byte 16, 0
dap_count:
    .word 0
dap_off:
    .word 0
dap_seg:
    .word 0x1000
dap_lba:
    .quad 1
boot_drive:
    .byte 0

    .org 510
    .byte 0x55, 0xaa

    .section .note.GNU-stack, "", @progbits
