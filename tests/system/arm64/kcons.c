/* kcons.c - PL011 UART output (QEMU virt: 0x09000000) and the EL2 trap report. */
#include "s2t.h"

#define UART_DR ((volatile uint32_t *)0x09000000ul)
#define UART_FR ((volatile uint32_t *)0x09000018ul)

void s2t_putc(char c)
{
    while (*UART_FR & (1u << 5)) /* TXFF */
        ;
    *UART_DR = (uint32_t)(uint8_t)c;
}

void s2t_puts(const char *s)
{
    while (*s)
        s2t_putc(*s++);
}

void s2t_puthex(uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    s2t_puts("0x");
    int start = 60;
    while (start > 0 && ((v >> start) & 0xf) == 0)
        start -= 4;
    for (int i = start; i >= 0; i -= 4)
        s2t_putc(digits[(v >> i) & 0xf]);
}

void s2t_putdec(uint64_t v)
{
    char buf[21];
    int i = 20;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    s2t_puts(&buf[i]);
}

static uint64_t el2_reg_esr(void) { uint64_t v; __asm__ volatile("mrs %0, esr_el2" : "=r"(v)); return v; }
static uint64_t el2_reg_elr(void) { uint64_t v; __asm__ volatile("mrs %0, elr_el2" : "=r"(v)); return v; }
static uint64_t el2_reg_far(void) { uint64_t v; __asm__ volatile("mrs %0, far_el2" : "=r"(v)); return v; }

void s2t_el2_trap(uint64_t kind)
{
    s2t_puts("\nKERNEL-TRAP kind=");
    s2t_putdec(kind);
    s2t_puts(" esr=");
    s2t_puthex(el2_reg_esr());
    s2t_puts(" elr=");
    s2t_puthex(el2_reg_elr());
    s2t_puts(" far=");
    s2t_puthex(el2_reg_far());
    s2t_puts("\n");
    s2t_exit(3);
}
