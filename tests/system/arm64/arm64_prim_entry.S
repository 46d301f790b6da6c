/*
 * arm64_prim_entry.S - guest entry (ERET) and the EL2 vector table (see
 * arm64_prim.h). Exceptions from the guest (lower EL, AArch64) save its
 * registers through TPIDR_EL2 (the gprs block of the current entry) and
 * return from vcore__arm64_prim_enter(); exceptions at EL2 itself go to
 * vcore__arm64_el2_trap(kind), which must not return.
 */
#define HOST 256

    .text
    .global vcore__arm64_prim_enter
    .type vcore__arm64_prim_enter, %function
vcore__arm64_prim_enter:
    stp x19, x20, [x0, #HOST + 0]
    stp x21, x22, [x0, #HOST + 16]
    stp x23, x24, [x0, #HOST + 32]
    stp x25, x26, [x0, #HOST + 48]
    stp x27, x28, [x0, #HOST + 64]
    stp x29, x30, [x0, #HOST + 80]
    mov x2, sp
    str x2, [x0, #HOST + 96]
    msr tpidr_el2, x0
    dsb ish                      /* table updates visible to the walker */
    ldp x2, x3, [x0, #16]
    ldp x4, x5, [x0, #32]
    ldp x6, x7, [x0, #48]
    ldp x8, x9, [x0, #64]
    ldp x10, x11, [x0, #80]
    ldp x12, x13, [x0, #96]
    ldp x14, x15, [x0, #112]
    ldp x16, x17, [x0, #128]
    ldp x18, x19, [x0, #144]
    ldp x20, x21, [x0, #160]
    ldp x22, x23, [x0, #176]
    ldp x24, x25, [x0, #192]
    ldp x26, x27, [x0, #208]
    ldp x28, x29, [x0, #224]
    ldr x30, [x0, #240]
    ldr x1, [x0, #8]
    ldr x0, [x0, #0]
    eret
    .size vcore__arm64_prim_enter, . - vcore__arm64_prim_enter

/* x1 = exit kind; the guest's x0/x1 are on the EL2 stack. */
vcore__arm64_guest_exit:
    mrs x0, tpidr_el2
    stp x2, x3, [x0, #16]
    stp x4, x5, [x0, #32]
    stp x6, x7, [x0, #48]
    stp x8, x9, [x0, #64]
    stp x10, x11, [x0, #80]
    stp x12, x13, [x0, #96]
    stp x14, x15, [x0, #112]
    stp x16, x17, [x0, #128]
    stp x18, x19, [x0, #144]
    stp x20, x21, [x0, #160]
    stp x22, x23, [x0, #176]
    stp x24, x25, [x0, #192]
    stp x26, x27, [x0, #208]
    stp x28, x29, [x0, #224]
    str x30, [x0, #240]
    ldp x2, x3, [sp], #16
    stp x2, x3, [x0, #0]
    ldp x19, x20, [x0, #HOST + 0]
    ldp x21, x22, [x0, #HOST + 16]
    ldp x23, x24, [x0, #HOST + 32]
    ldp x25, x26, [x0, #HOST + 48]
    ldp x27, x28, [x0, #HOST + 64]
    ldp x29, x30, [x0, #HOST + 80]
    ldr x2, [x0, #HOST + 96]
    mov sp, x2
    mov x0, x1
    ret

.macro el2_entry kind
    .balign 0x80
    mov x0, #\kind
    b vcore__arm64_el2_trap
.endm

.macro guest_entry kind
    .balign 0x80
    stp x0, x1, [sp, #-16]!
    mov x1, #\kind
    b vcore__arm64_guest_exit
.endm

    .balign 0x800
vcore__arm64_vectors:
    el2_entry 0          /* current EL, SP_EL0 */
    el2_entry 1
    el2_entry 2
    el2_entry 3
    el2_entry 4          /* current EL, SP_EL2 */
    el2_entry 5
    el2_entry 6
    el2_entry 7
    guest_entry 0        /* lower EL, AArch64: sync, IRQ, FIQ, SError */
    guest_entry 1
    guest_entry 2
    guest_entry 3
    el2_entry 12         /* lower EL, AArch32: never used */
    el2_entry 13
    el2_entry 14
    el2_entry 15

    .global vcore__arm64_prim_install_vectors
    .type vcore__arm64_prim_install_vectors, %function
vcore__arm64_prim_install_vectors:
    adr x0, vcore__arm64_vectors
    msr vbar_el2, x0
    isb
    ret
