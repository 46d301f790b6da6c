/*
 * kcons.c - console over the Bochs/QEMU debug port E9H, and the end of the run.
 */
#include "kernel.h"

void vtk_putc(char c)
{
    vtk_outb(0xe9, (uint8_t)c);
}

void vtk_puts(const char *s)
{
    while (*s)
        vtk_putc(*s++);
}

void vtk_puthex(uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[19];
    int i;
    buf[0] = '0';
    buf[1] = 'x';
    for (i = 0; i < 16; i++)
        buf[2 + i] = digits[(v >> (60 - 4 * i)) & 0xf];
    buf[18] = '\0';
    vtk_puts(buf);
}

void vtk_putdec(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    vtk_puts(&buf[i]);
}

uint64_t vtk_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

void vtk_shutdown(void)
{
    /* Bochs: the string "Shutdown" written to port 8900H ends the simulation. */
    const char *s = "Shutdown";
    while (*s)
        vtk_outb(0x8900, (uint8_t)*s++);
    /* QEMU with isa-debug-exit at F4H. */
    vtk_outb(0xf4, 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}
