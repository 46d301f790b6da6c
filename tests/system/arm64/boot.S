/* boot.S - entry of the EL2 test image: stack, BSS, then s2t_main(). QEMU's
 * virt board starts a raw image at 0x40080000 at EL2 (virtualization=on). */
    .section .text.boot, "ax"
    .global _start
_start:
    ldr x1, =__stack_top
    mov sp, x1
    ldr x1, =__bss_start
    ldr x2, =__bss_end
1:  cmp x1, x2
    b.hs 2f
    str xzr, [x1], #8
    b 1b
2:  bl s2t_main
    /* s2t_main ends the run through semihosting; never here */
3:  wfe
    b 3b

/* void s2t_exit(uint64_t status): semihosting SYS_EXIT (0x18) with
 * ADP_Stopped_ApplicationExit and the status (AArch64 parameter block). */
    .text
    .global s2t_exit
s2t_exit:
    sub sp, sp, #16
    ldr x1, =0x20026
    stp x1, x0, [sp]
    mov x1, sp
    mov w0, #0x18
    hlt #0xf000
4:  b 4b

/* Guest code (EL1, stage 1 off): each routine ends in HVC; the EL1 vector
 * table sends every exception the guest takes to EL2 as HVC #0xe1. */
    .section .guest, "ax"
    .balign 0x800
    .global s2t_guest_vectors
s2t_guest_vectors:
    .rept 16
    .balign 0x80
    hvc #0xe1
    .endr
    .global s2t_guest_load
s2t_guest_load:          /* x1 = [x0] */
    ldr x1, [x0]
    hvc #0
    .global s2t_guest_store
s2t_guest_store:         /* [x0] = x1 */
    str x1, [x0]
    hvc #0
    .global s2t_guest_load_w
s2t_guest_load_w:        /* w5 = [x0] (32-bit, register 5) */
    ldr w5, [x0]
    hvc #0
