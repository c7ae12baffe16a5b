/* vmm's TestDevice (Sources/Devices/TestDevice): a register block for exit round-trip tests.
 * Ports 0x600-0x60f and MMIO 0xD0000000-0xD0000FFF, each with a scratch register at offset 0
 * (32-bit on ports, 64-bit on MMIO; narrower accesses reach its little-endian bytes), a read-only
 * magic "VMMT" and a count of accesses so far. QEMU has no such device.
 * With doorbells=on, a 32-bit write of TEST_PORT_DOORBELL_VALUE to TEST_PORT_DOORBELL, or any 32-bit
 * write to TEST_MMIO_DOORBELL, rings a doorbell (no exit on KVM); a 32-bit read there counts the
 * rings the device's thread has taken. */
#ifndef GUEST_TEST_DEVICE_H
#define GUEST_TEST_DEVICE_H

#define TEST_DEVICE_MAGIC 0x564D4D54u
#define TEST_PORT_SCRATCH 0x600
#define TEST_PORT_MAGIC 0x604
#define TEST_PORT_COUNT 0x608
#define TEST_PORT_DOORBELL 0x60c
#define TEST_PORT_DOORBELL_VALUE 0x600Du
#define TEST_MMIO_BASE 0xD0000000u
#define TEST_MMIO_SCRATCH (TEST_MMIO_BASE + 0x0)
#define TEST_MMIO_MAGIC (TEST_MMIO_BASE + 0x8)
#define TEST_MMIO_COUNT (TEST_MMIO_BASE + 0x10)
#define TEST_MMIO_DOORBELL (TEST_MMIO_BASE + 0x18)

#endif
