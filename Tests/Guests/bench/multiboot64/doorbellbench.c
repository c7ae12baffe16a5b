/* Guest notifications, four ways (seed 003: ioeventfd; the 2009 figures were qemu-mmio 9.09 us and
 * ioeventfd-pio 2.72 us per notification): n (default 100000, "n=NNN") 32-bit writes each of
 *   pio-userspace    the test device's port scratch register: an exit to vmm's bus
 *   mmio-userspace   its MMIO scratch register: the same through the MMIO bus
 *   pio-doorbell     its port doorbell (value 0x600D): on KVM an ioeventfd, on Soft an eventfd
 *                    write from the vCPU's thread
 *   mmio-doorbell    its MMIO doorbell
 * timed with the TSC ("<name>: <cycles> cycles" per write, for benchmarks/run). Needs vmm's test
 * device with doorbells=on. Then it checks what the device saw: every doorbell write taken by the
 * device's thread (its ring counters reach n; polled, since the thread runs beside the vCPU), and
 * a write the doorbells do not match (another value, another width) reaching the window as an
 * ordinary access. Long mode, so that it runs on PVM-flavoured KVM too. */
#include "../include/bench.h"
#include "test_device.h"

/* Polls of a ring counter before giving up: each poll is an exit, so this is minutes. */
#define POLL_LIMIT 100000000ull

static void wait_for_rings(uintptr_t counter_port, uintptr_t counter_mmio, uint32_t wanted, const char *what)
{
    uint32_t seen = 0;
    for (uint64_t poll = 0; poll < POLL_LIMIT; poll++) {
        seen = counter_mmio ? mmio_read32(counter_mmio) : inl((uint16_t)counter_port);
        if (seen >= wanted) break;
        __asm__ volatile("pause");
    }
    if (seen != wanted) fail("%s: the device's thread took %u rings, expected %u", what, seen, wanted);
}

void guest_main(void)
{
    uint64_t n = cmdline_number("n", 100000);
    if (n == 0 || n > 0xFFFFFFF0u) fail("n must be 1 to 2^32 - 16");
    if (mmio_read32(TEST_MMIO_MAGIC) != TEST_DEVICE_MAGIC) fail("no vmm test device at 0x%x", TEST_MMIO_BASE);

    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < n; i++) outl(TEST_PORT_SCRATCH, (uint32_t)i);
    report("pio-userspace", udivmod64(rdtsc() - start, n, 0));

    start = rdtsc();
    for (uint64_t i = 0; i < n; i++) mmio_write32(TEST_MMIO_SCRATCH, (uint32_t)i);
    report("mmio-userspace", udivmod64(rdtsc() - start, n, 0));

    uint32_t accesses = inl(TEST_PORT_COUNT);
    start = rdtsc();
    for (uint64_t i = 0; i < n; i++) outl(TEST_PORT_DOORBELL, TEST_PORT_DOORBELL_VALUE);
    report("pio-doorbell", udivmod64(rdtsc() - start, n, 0));
    /* The window saw none of those writes: only this read of its count. */
    CHECK_EQ("port window accesses during the doorbell writes", inl(TEST_PORT_COUNT) - accesses, 1);

    uint32_t mmio_accesses = mmio_read32(TEST_MMIO_COUNT);
    start = rdtsc();
    for (uint64_t i = 0; i < n; i++) mmio_write32(TEST_MMIO_DOORBELL, (uint32_t)i);
    report("mmio-doorbell", udivmod64(rdtsc() - start, n, 0));
    CHECK_EQ("MMIO window accesses during the doorbell writes", mmio_read32(TEST_MMIO_COUNT) - mmio_accesses, 1);

    wait_for_rings(TEST_PORT_DOORBELL, 0, (uint32_t)n, "port doorbell");
    wait_for_rings(0, TEST_MMIO_DOORBELL, (uint32_t)n, "MMIO doorbell");

    /* No match: another value, another width. Each reaches the window and rings nothing. */
    accesses = inl(TEST_PORT_COUNT);
    outl(TEST_PORT_DOORBELL, TEST_PORT_DOORBELL_VALUE + 1);
    outw(TEST_PORT_DOORBELL, (uint16_t)TEST_PORT_DOORBELL_VALUE);
    CHECK_EQ("port window accesses after two unmatched writes", inl(TEST_PORT_COUNT) - accesses, 3);
    mmio_accesses = mmio_read32(TEST_MMIO_COUNT);
    mmio_write16(TEST_MMIO_DOORBELL, 1);
    CHECK_EQ("MMIO window accesses after a 16-bit write", mmio_read32(TEST_MMIO_COUNT) - mmio_accesses, 2);
    CHECK_EQ("port rings after unmatched writes", inl(TEST_PORT_DOORBELL), n);
    CHECK_EQ("MMIO rings after an unmatched write", mmio_read32(TEST_MMIO_DOORBELL), n);
    printf("doorbells: %llu port and %llu MMIO rings taken by the device's thread\n", (unsigned long long)n,
           (unsigned long long)n);
}
