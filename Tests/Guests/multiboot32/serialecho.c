/* Reads one line from COM1 by polling LSR.DR (no interrupts) and prints it back upper-cased: the
 * host's stdin must reach the guest through the UART's receive path, byte for byte. */
#include "guest.h"

enum { COM1 = 0x3f8, COM1_LSR = COM1 + 5, LSR_DATA_READY = 0x01, LINE = 80 };

void guest_main(void)
{
    char line[LINE];
    unsigned length = 0;
    printf("serialecho: ready\n");
    for (;;) {
        while (!(inb(COM1_LSR) & LSR_DATA_READY)) {}
        char c = (char)inb(COM1);
        if (c == '\n' || c == '\r' || length == LINE - 1) break;
        line[length++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    line[length] = 0;
    printf("serialecho: %s\n", line);
}
