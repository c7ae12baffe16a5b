/* Port I/O round trips: the UART scratch register (works on any PC, QEMU included), then vmm's
 * test device at every access width. */
#include "guest.h"
#include "test_device.h"

enum { UART_SCRATCH = 0x3ff };

static void uart_scratch(void)
{
    static const uint8_t patterns[] = { 0x00, 0xff, 0x5a, 0xa5 };
    for (unsigned i = 0; i < sizeof patterns; i++) {
        outb(UART_SCRATCH, patterns[i]);
        CHECK_EQ("UART scratch register 0x3ff", inb(UART_SCRATCH), patterns[i]);
    }
    printf("uart scratch: ok\n");
}

static void test_device(void)
{
    CHECK_EQ("test device magic at port 0x604", inl(TEST_PORT_MAGIC), TEST_DEVICE_MAGIC);
    outl(TEST_PORT_MAGIC, 0);
    CHECK_EQ("magic after a write to it (read-only)", inl(TEST_PORT_MAGIC), TEST_DEVICE_MAGIC);

    outl(TEST_PORT_SCRATCH, 0x11223344);
    CHECK_EQ("scratch, 32-bit", inl(TEST_PORT_SCRATCH), 0x11223344);
    CHECK_EQ("scratch byte 0", inb(TEST_PORT_SCRATCH), 0x44);
    CHECK_EQ("scratch byte 1", inb(TEST_PORT_SCRATCH + 1), 0x33);
    CHECK_EQ("scratch low word", inw(TEST_PORT_SCRATCH), 0x3344);
    CHECK_EQ("scratch high word", inw(TEST_PORT_SCRATCH + 2), 0x1122);
    outb(TEST_PORT_SCRATCH + 3, 0xaa);
    CHECK_EQ("scratch after a byte write to byte 3", inl(TEST_PORT_SCRATCH), 0xaa223344);
    outw(TEST_PORT_SCRATCH, 0xbeef);
    CHECK_EQ("scratch after a word write to bytes 0-1", inl(TEST_PORT_SCRATCH), 0xaa22beef);

    /* Between two reads of the counter: 5 accesses, plus the second read itself. */
    uint32_t before = inl(TEST_PORT_COUNT);
    outl(TEST_PORT_SCRATCH, 1);
    (void)inl(TEST_PORT_SCRATCH);
    outb(TEST_PORT_SCRATCH, 2);
    (void)inw(TEST_PORT_SCRATCH);
    (void)inl(TEST_PORT_MAGIC);
    CHECK_EQ("accesses counted between two reads of port 0x608", inl(TEST_PORT_COUNT) - before, 6);
    printf("test device ports: ok\n");
}

void guest_main(void)
{
    uart_scratch();
    test_device();
}
