/* MMIO round trips to vmm's test device at every width 1/2/4/8; 64-bit so that an 8-byte access
 * is one instruction (the runtime identity-maps the first 4 GiB, the MMIO hole included). */
#include "guest.h"
#include "test_device.h"

void guest_main(void)
{
    CHECK_EQ("test device magic at 0xD0000008", mmio_read32(TEST_MMIO_MAGIC), TEST_DEVICE_MAGIC);
    mmio_write32(TEST_MMIO_MAGIC, 0);
    CHECK_EQ("magic after a write to it (read-only)", mmio_read32(TEST_MMIO_MAGIC), TEST_DEVICE_MAGIC);

    mmio_write64(TEST_MMIO_SCRATCH, 0x1122334455667788ull);
    CHECK_EQ("scratch, 64-bit", mmio_read64(TEST_MMIO_SCRATCH), 0x1122334455667788ull);
    CHECK_EQ("scratch low dword", mmio_read32(TEST_MMIO_SCRATCH), 0x55667788);
    CHECK_EQ("scratch high dword", mmio_read32(TEST_MMIO_SCRATCH + 4), 0x11223344);
    CHECK_EQ("scratch word 1", mmio_read16(TEST_MMIO_SCRATCH + 2), 0x5566);
    CHECK_EQ("scratch byte 7", mmio_read8(TEST_MMIO_SCRATCH + 7), 0x11);
    mmio_write8(TEST_MMIO_SCRATCH + 6, 0xaa);
    CHECK_EQ("scratch after a byte write to byte 6", mmio_read64(TEST_MMIO_SCRATCH), 0x11aa334455667788ull);
    mmio_write16(TEST_MMIO_SCRATCH, 0xbeef);
    CHECK_EQ("scratch after a word write to bytes 0-1", mmio_read64(TEST_MMIO_SCRATCH), 0x11aa33445566beefull);
    mmio_write32(TEST_MMIO_SCRATCH + 4, 0xcafef00d);
    CHECK_EQ("scratch after a dword write to bytes 4-7", mmio_read64(TEST_MMIO_SCRATCH), 0xcafef00d5566beefull);

    /* Between two reads of the counter: 4 accesses, plus the second read itself. */
    uint32_t before = mmio_read32(TEST_MMIO_COUNT);
    mmio_write64(TEST_MMIO_SCRATCH, 1);
    (void)mmio_read8(TEST_MMIO_SCRATCH);
    (void)mmio_read16(TEST_MMIO_SCRATCH);
    (void)mmio_read32(TEST_MMIO_MAGIC);
    CHECK_EQ("accesses counted between two reads of 0xD0000010", mmio_read32(TEST_MMIO_COUNT) - before, 5);
    printf("test device mmio: ok\n");
}
