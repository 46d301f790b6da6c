/*
 * l1_boot.h - starting a test L1 hypervisor (l1/ on VMX, svm/kernel/l1/ on
 * SVM) as the guest of a libvirtcore vCPU: its boot area (identity paging
 * of the first GiB with 2 MiB pages, a GDT with 64-bit code, data and a
 * 64-bit TSS) and the vCPU at its entry in 64-bit mode, as after a CALL.
 * Shared by the nested suites of both test kernels (nested.c, svk_nested.c);
 * each includes it once (its definitions are static).
 */
#ifndef VTK_L1_BOOT_H
#define VTK_L1_BOOT_H

#include "kernel.h"
#include "virtcore/virtcore.h"

/* Where L1's region and boot structures are (guest-physical addresses; the
 * region is guest RAM at @c base, mem[0] in the test kernel). */
typedef struct vtk_l1_layout {
    uint64_t base;      /* the region's first byte */
    uint64_t pml4;      /* boot paging: PML4, PDPT, PD (512 x 2 MiB) */
    uint64_t pdpt;
    uint64_t pd;
    uint64_t gdt;       /* 5 descriptors: null, code, data, TSS (16 bytes) */
    uint64_t tss;
    uint64_t stack_top; /* L1's stack; the return address goes below it */
} vtk_l1_layout_t;

/* The boot area: identity paging of 1 GiB, a GDT with code, data and a TSS. */
static void vtk_l1_boot_area(uint8_t *mem, const vtk_l1_layout_t *lo)
{
    uint64_t *pml4 = (uint64_t *)(void *)(mem + (lo->pml4 - lo->base));
    uint64_t *pdpt = (uint64_t *)(void *)(mem + (lo->pdpt - lo->base));
    uint64_t *pd = (uint64_t *)(void *)(mem + (lo->pd - lo->base));
    uint64_t *gdt = (uint64_t *)(void *)(mem + (lo->gdt - lo->base));
    pml4[0] = lo->pdpt | 3;
    pdpt[0] = lo->pd | 3;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | 0x83;
    uint64_t tss = lo->tss;
    gdt[0] = 0;
    gdt[1] = 0x00209a0000000000ull;
    gdt[2] = 0x00cf92000000ffffull;
    gdt[3] = 0x67 | ((tss & 0xffffff) << 16) | (0x8bull << 40) | (((tss >> 24) & 0xff) << 56);
    gdt[4] = tss >> 32;
}

static vcore_x86_segment_t vtk_l1_seg(uint16_t sel, uint64_t base, uint32_t limit, uint32_t ar)
{
    vcore_x86_segment_t s;
    memset(&s, 0, sizeof(s));
    s.selector = sel;
    s.base = base;
    s.limit = limit;
    s.ar = ar;
    return s;
}

/* Puts the vCPU at L1's @p entry in 64-bit mode with RDI = @p mode and
 * RSI = @p first; L1 returns from it into @p halt (its HLT loop). */
static int vtk_l1_boot_start(vcore_vcpu_t *vcpu, uint8_t *mem, const vtk_l1_layout_t *lo, uint64_t entry,
                             uint64_t halt, uint64_t mode, uint64_t first)
{
    vcore_x86_sregs_t sr;
    sr.size = sizeof(sr);
    int err = vcore_vcpu_get_sregs(vcpu, &sr);
    if (err)
        return err;
    uint32_t data_ar = VCORE_X86_AR_P | VCORE_X86_AR_S | 3u | VCORE_X86_AR_DB | VCORE_X86_AR_G;
    for (unsigned i = 0; i < VCORE_X86_NR_SEGS; i++)
        sr.seg[i] = vtk_l1_seg(0x10, 0, 0xffffffffu, data_ar);
    sr.seg[VCORE_X86_CS] =
        vtk_l1_seg(0x08, 0, 0xffffffffu, VCORE_X86_AR_P | VCORE_X86_AR_S | 0xbu | VCORE_X86_AR_L | VCORE_X86_AR_G);
    sr.seg[VCORE_X86_LDTR] = vtk_l1_seg(0, 0, 0, VCORE_X86_AR_UNUSABLE);
    sr.seg[VCORE_X86_TR] = vtk_l1_seg(0x18, lo->tss, 0x67, VCORE_X86_AR_P | 0xbu);
    sr.gdtr.base = lo->gdt;
    sr.gdtr.limit = 0x27;
    sr.idtr.base = 0;
    sr.idtr.limit = 0;
    sr.cr0 = 0x80000031ull; /* PG, NE, ET, PE */
    sr.cr3 = lo->pml4;
    sr.cr4 = 0x20;          /* PAE */
    sr.efer = 0x500;        /* LMA, LME */
    err = vcore_vcpu_set_sregs(vcpu, &sr);
    if (err)
        return err;
    /* A nested run returns from the entry into L1's HLT loop. */
    memcpy(mem + (lo->stack_top - 8 - lo->base), &halt, 8);
    vcore_x86_regs_t r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.rip = entry;
    r.gpr[VCORE_X86_RSP] = lo->stack_top - 8; /* as after a CALL */
    r.gpr[VCORE_X86_RDI] = mode;
    r.gpr[VCORE_X86_RSI] = first;
    r.rflags = 2;
    return vcore_vcpu_set_regs(vcpu, &r);
}

#endif /* VTK_L1_BOOT_H */
