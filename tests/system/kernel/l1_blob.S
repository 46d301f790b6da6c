/* l1_blob.S - the L1 hypervisor's image (l1/, built by objcopy), carried in the kernel. */
    .section .rodata.l1, "a"
    .globl vtk_l1_image, vtk_l1_image_end
    .balign 16
vtk_l1_image:
    .incbin "l1.bin"
vtk_l1_image_end:
    .section .note.GNU-stack, "", @progbits
