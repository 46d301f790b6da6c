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
2:  adr x1, s2t_el2_vectors
    msr vbar_el2, x1
    isb
    bl s2t_main
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

/* The image's own EL2 vector table: any exception at EL2 outside a guest
 * run (the backend installs its own table for the run) is reported as
 * KERNEL-TRAP by s2t_el2_trap(kind). */
    .balign 0x800
s2t_el2_vectors:
    .irp kind, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mov x0, #\kind
    b s2t_el2_trap
    .endr

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
    .global s2t_guest_ldrsh
s2t_guest_ldrsh:         /* w6 = sign-extended halfword [x0] */
    ldrsh w6, [x0]
    hvc #0
    .global s2t_guest_ldp
s2t_guest_ldp:           /* x1, x2 = [x0] (a pair: no instruction syndrome) */
    ldp x1, x2, [x0]
    hvc #0
    .global s2t_guest_hvc
s2t_guest_hvc:           /* HVC #0x4711 with X0..X5 as the VMM set them; x1 = reply */
    hvc #0x4711
    mov x1, x0
    hvc #0
    .global s2t_guest_smc
s2t_guest_smc:           /* SMC #0x12 with W0 = function id; x1 = result */
    smc #0x12
    mov x1, x0
    hvc #0
    .global s2t_guest_wfx
s2t_guest_wfx:           /* WFI, then WFE, then HVC #0 */
    wfi
    wfe
    hvc #0
    .global s2t_guest_mrs
s2t_guest_mrs:           /* x3 = ID_AA64MMFR0_EL1 (trapped by HCR_EL2.TID3); x4 = x3 */
    mrs x3, id_aa64mmfr0_el1
    mov x4, x3
    hvc #0
    .global s2t_guest_msr
s2t_guest_msr:           /* ACTLR_EL1 = x5 (trapped by HCR_EL2.TACR) */
    msr actlr_el1, x5
    hvc #0
    .global s2t_guest_svc
s2t_guest_svc:           /* SVC #0x42: the guest's own exception, taken at EL1 */
    svc #0x42
    hvc #0
    .global s2t_guest_udf
s2t_guest_udf:           /* UDF #0: UNDEFINED, taken at EL1 */
    .inst 0x00000000
    hvc #0
