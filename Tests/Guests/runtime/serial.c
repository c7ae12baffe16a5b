/* COM1 output as on a real 16550A: program 115200 8N1, then wait for the transmit holding register
 * to empty (LSR bit 5, THRE) before every byte (PC16550D data sheet, registers LCR/LSR). */
#include "guest.h"

enum { COM1 = 0x3f8, THR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5, DLL = 0, DLM = 1 };
enum { LSR_THRE = 1 << 5, LCR_DLAB = 1 << 7, LCR_8N1 = 0x03 };
/* A UART that never reports THRE must not hang the guest: after this many polls, send anyway. */
enum { THRE_POLL_LIMIT = 1000000 };

void serial_init(void)
{
    outb(COM1 + IER, 0);
    outb(COM1 + LCR, LCR_DLAB);
    outb(COM1 + DLL, 1);
    outb(COM1 + DLM, 0);
    outb(COM1 + LCR, LCR_8N1);
    outb(COM1 + FCR, 0x07); /* enable and clear both FIFOs */
    outb(COM1 + MCR, 0x03); /* DTR, RTS */
}

void serial_putc(char c)
{
    for (int polls = 0; polls < THRE_POLL_LIMIT && !(inb(COM1 + LSR) & LSR_THRE); polls++)
        __asm__ volatile("pause");
    outb(COM1 + THR, (uint8_t)c);
}

void serial_puts(const char *s)
{
    while (*s) serial_putc(*s++);
}
