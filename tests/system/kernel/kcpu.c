/*
 * kcpu.c - the kernel's GDT, TSS and IDT.
 *
 * VM entry loads the host state from the VMCS, and the host TR selector may
 * not be zero (SDM Vol. 3, "Checks on Host Segment and Descriptor-Table
 * Registers"), so the kernel needs a real TSS. The IDT reports any exception
 * in the kernel itself and ends the run, so the runner can name the case.
 */
#include "kernel.h"

extern const uint64_t ktrap_stubs[32];
void ktrap(uint64_t vector, uint64_t error, const uint64_t *frame);

/* 64-bit TSS (SDM Vol. 3, "Task Management in 64-bit Mode"): 104 bytes. */
static struct __attribute__((packed)) {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} vtk_tss;

static uint64_t vtk_gdt[5];

/* IDT gate: 16 bytes (SDM Vol. 3, "64-Bit Mode IDT"). */
static struct __attribute__((packed)) {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
} vtk_idt[32];

static struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
} vtk_gdtr, vtk_idtr;

void vtk_cpu_init(void)
{
    uint64_t tss = (uint64_t)(uintptr_t)&vtk_tss;
    uint64_t lim = sizeof(vtk_tss) - 1;
    unsigned i;

    vtk_gdt[0] = 0;
    vtk_gdt[1] = 0x00209a0000000000ull; /* code: P, DPL 0, S, type execute/read, L */
    vtk_gdt[2] = 0x00cf92000000ffffull; /* data: P, DPL 0, S, type read/write, G, D/B */
    /* Available 64-bit TSS (type 9), present: base 63:0 split over 16 bytes. */
    vtk_gdt[3] = (lim & 0xffff) | ((tss & 0xffffff) << 16) | (0x89ull << 40) |
                 ((lim >> 16 & 0xf) << 48) | ((tss >> 24 & 0xff) << 56);
    vtk_gdt[4] = tss >> 32;
    vtk_tss.iomap_base = sizeof(vtk_tss); /* no I/O permission bitmap */

    for (i = 0; i < 32; i++) {
        uint64_t off = ktrap_stubs[i];
        vtk_idt[i].off_lo = (uint16_t)off;
        vtk_idt[i].sel = VTK_SEL_CODE;
        vtk_idt[i].ist = 0;
        vtk_idt[i].type = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
        vtk_idt[i].off_mid = (uint16_t)(off >> 16);
        vtk_idt[i].off_hi = (uint32_t)(off >> 32);
        vtk_idt[i].zero = 0;
    }

    vtk_gdtr.limit = sizeof(vtk_gdt) - 1;
    vtk_gdtr.base = (uint64_t)(uintptr_t)vtk_gdt;
    vtk_idtr.limit = sizeof(vtk_idt) - 1;
    vtk_idtr.base = (uint64_t)(uintptr_t)vtk_idt;
    __asm__ volatile("lgdt %0" : : "m"(vtk_gdtr));
    __asm__ volatile("lidt %0" : : "m"(vtk_idtr));
    /* Reload CS with a far return, then the data segments and TR. */
    __asm__ volatile("pushq %0\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %w1, %%ds\n\t"
                     "movw %w1, %%es\n\t"
                     "movw %w1, %%ss\n\t"
                     "movw %w1, %%fs\n\t"
                     "movw %w1, %%gs\n\t"
                     "ltr %w2"
                     :
                     : "i"(VTK_SEL_CODE), "r"(VTK_SEL_DATA), "r"(VTK_SEL_TSS)
                     : "rax", "memory");
}

void ktrap(uint64_t vector, uint64_t error, const uint64_t *frame)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    vtk_puts("\nKERNEL-TRAP vector=");
    vtk_putdec(vector);
    vtk_puts(" error=");
    vtk_puthex(error);
    vtk_puts(" rip=");
    vtk_puthex(frame[0]);
    vtk_puts(" cr2=");
    vtk_puthex(cr2);
    vtk_puts("\n");
    vtk_shutdown();
}
