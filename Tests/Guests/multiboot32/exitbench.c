/* Cost of one exit: times n (default 20000, "n=NNN" on the command line) reads of the UART line
 * status register, which every VMM must emulate, and of the test device's MMIO scratch register
 * when vmm's test device is present. */
#include "guest.h"
#include "test_device.h"

enum { UART_LSR = 0x3fd };

void guest_main(void)
{
    uint64_t n = cmdline_number("n", 20000);
    if (n == 0) fail("n must be at least 1");

    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < n; i++) (void)inb(UART_LSR);
    uint64_t cycles = rdtsc() - start;
    printf("port-io: %llu cycles/exit\n", (unsigned long long)udivmod64(cycles, n, 0));

    if (mmio_read32(TEST_MMIO_MAGIC) != TEST_DEVICE_MAGIC) {
        printf("mmio: skipped (no vmm test device)\n");
        return;
    }
    start = rdtsc();
    for (uint64_t i = 0; i < n; i++) (void)mmio_read32(TEST_MMIO_SCRATCH);
    cycles = rdtsc() - start;
    printf("mmio: %llu cycles/exit\n", (unsigned long long)udivmod64(cycles, n, 0));
}
