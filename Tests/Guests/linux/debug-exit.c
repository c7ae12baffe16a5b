/* Ends the run from Linux userspace through the debug-exit device at port 0xf4, as the other test
 * guests end theirs: the status is (0 << 1) | 1 under vmm and QEMU alike. The kernel has no
 * /dev/port (CONFIG_DEVPORT is off in Debian's), so this asks for the port with ioperm(2), which
 * init may do (CAP_SYS_RAWIO), and writes it itself. Built with -nostdlib: raw system calls.
 * It first waits for the console to drain (tcdrain: TCSBRK with a non-zero argument, tty_ioctl(4)):
 * the kernel's serial driver sends queued lines from its interrupt handler, possibly on another
 * CPU, and a debug exit ends the machine at once, losing whatever the UART had not sent yet. */

#include "raw.h"

enum { TCSBRK = 0x5409, DEBUG_EXIT_PORT = 0xf4 };

void _start(void)
{
    system_call(SYS_ioctl, 1, TCSBRK, 1);
    if (system_call(SYS_ioperm, DEBUG_EXIT_PORT, 1, 1) == 0)
        outb(0, DEBUG_EXIT_PORT);
    system_call(SYS_exit, 1, 0, 0); /* only reached if the port did not end the run */
    for (;;) {
    }
}
