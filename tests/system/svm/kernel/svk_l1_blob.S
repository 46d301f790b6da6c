/* svk_l1_blob.S - the SVM L1 hypervisor's image (l1/, built by objcopy), carried in the kernel. */
    .section .rodata.l1, "a"
    .globl svk_l1_image, svk_l1_image_end
    .balign 16
svk_l1_image:
    .incbin "l1svm.bin"
svk_l1_image_end:
    .section .note.GNU-stack, "", @progbits
