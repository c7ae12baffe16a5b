/* Counts the machine's boots in CMOS RAM byte 0x7f, which a reset leaves alone (the RTC's RAM is
 * battery-backed on a PC): adds one to it and exits with the new count as its status, 0 if the
 * ports cannot be had. The kernel has no /dev/port (CONFIG_DEVPORT is off in Debian's), so, like
 * debug-exit, it asks for the RTC's index and data ports 0x70 and 0x71 with ioperm(2) and uses
 * them itself. Built with -nostdlib: raw system calls. */

#include "raw.h"

enum { CMOS_INDEX = 0x70, CMOS_DATA = 0x71, BOOT_COUNTER = 0x7f };

void _start(void)
{
    unsigned char boots = 0;
    if (system_call(SYS_ioperm, CMOS_INDEX, 2, 1) == 0) {
        outb(BOOT_COUNTER, CMOS_INDEX);
        boots = inb(CMOS_DATA) + 1;
        outb(BOOT_COUNTER, CMOS_INDEX);
        outb(boots, CMOS_DATA);
    }
    system_call(SYS_exit, boots, 0, 0);
    for (;;) {
    }
}
