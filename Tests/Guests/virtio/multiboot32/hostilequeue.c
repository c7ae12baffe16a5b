/* A hostile virtio-blk driver: finds the modern virtio-blk function on PCI bus 0 (mechanism #1),
 * sets it up as virtio 1.2, 4.1 describes (capabilities, features, queue 0), and then offers
 * malformed chains and queue sizes, checking that each ends as a failed request (used with
 * nothing written, the status byte untouched) or as DEVICE_NEEDS_RESET, and that the device still
 * serves a good read afterwards (after a reset where one was needed). Interrupts stay off: the
 * guest polls the used ring. Runs with paging off, so guest-physical addresses are pointers. */
#include "../include/virtio_pci.h"

enum { VIRTIO_BLK = 2 };

static struct descriptor indirect[4] __attribute__((aligned(16)));
static struct descriptor nested[2] __attribute__((aligned(16)));
static struct { uint32_t type, reserved; uint32_t sector_low, sector_high; } header;
static uint8_t data[512];
static volatile uint8_t status_byte;

enum outcome { COMPLETED, NEEDS_RESET };

/* Offers `head`, rings the doorbell, and polls until the used ring moves or the device needs a
 * reset; a device that does neither in a few hundred million polls fails the test. */
static enum outcome submit(uint16_t head, uint32_t *length)
{
    virtio_offer(head);
    for (uint32_t polls = 0; polls < 400000000u; polls++) {
        if (virtio_take_used(length)) return COMPLETED;
        if (virtio_status() & VIRTIO_STATUS_NEEDS_RESET) return NEEDS_RESET;
        __asm__ volatile("pause");
    }
    fail("the device neither completed head %u nor asked for a reset", head);
}

/* A read of sector 0: header, 512 bytes, status. */
static void read_request(void)
{
    header.type = 0;
    header.sector_low = header.sector_high = 0;
    set_descriptor(&table[0], &header, 16, DESC_NEXT, 1);
    set_descriptor(&table[1], data, 512, DESC_NEXT | DESC_WRITE, 2);
    set_descriptor(&table[2], &status_byte, 1, DESC_WRITE, 0);
}

static void good_read(const char *when)
{
    uint32_t length = 0;
    read_request();
    status_byte = 0xff;
    if (submit(0, &length) != COMPLETED) fail("%s: a good read needs a reset", when);
    CHECK_EQ("status of a good read", status_byte, 0);
    CHECK_EQ("used length of a good read", length, 513);
    printf("%s: good read ok\n", when);
}

/* Offers the malformed chain at head 0 as set up by the caller and reports how it ended. */
static void hostile(const char *name)
{
    uint32_t length = 0;
    status_byte = 0xff;
    if (submit(0, &length) == NEEDS_RESET) {
        printf("%s: needs reset\n", name);
        if (!virtio_initialize(QUEUE_SIZE, 0xffff)) fail("%s: the device did not come back after a reset", name);
    } else {
        if (length != 0 || status_byte == 0) fail("%s: completed as if fine (length %u, status %u)", name, length, status_byte);
        printf("%s: failed request\n", name);
    }
    good_read(name);
}

void guest_main(void)
{
    virtio_find(VIRTIO_BLK, "virtio-blk");
    if (!virtio_initialize(QUEUE_SIZE, 0xffff)) fail("the device did not come up");
    good_read("start");

    read_request();
    set_descriptor(&table[1], data, 512, DESC_NEXT | DESC_WRITE, 0);
    hostile("loop");

    read_request();
    set_descriptor(&table[0], (void *)0xf0000000u, 16, DESC_NEXT, 1);
    hostile("outside RAM");

    read_request();
    set_descriptor(&table[1], data, 0, DESC_NEXT | DESC_WRITE, 2);
    hostile("zero length");

    read_request();
    set_descriptor(&table[1], data, 0xffffffffu, DESC_NEXT | DESC_WRITE, 2);
    hostile("2^32-1 length");

    /* An indirect table whose entry is itself indirect. */
    set_descriptor(&nested[0], &header, 16, 0, 0);
    set_descriptor(&indirect[0], nested, sizeof nested, DESC_INDIRECT, 0);
    set_descriptor(&table[0], indirect, sizeof indirect[0], DESC_INDIRECT, 0);
    hostile("indirect in indirect");

    /* A chain that runs through all eight descriptors and on: longer than the queue. */
    for (unsigned i = 0; i < QUEUE_SIZE; i++) set_descriptor(&table[i], &header, 16, DESC_NEXT, (i + 1) % QUEUE_SIZE);
    hostile("longer than the queue");

    static const uint16_t bad_sizes[] = { 0, 3, 1024 };
    for (unsigned i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        if (virtio_initialize(bad_sizes[i], 0xffff)) fail("queue size %u was accepted", bad_sizes[i]);
        printf("queue size %u: refused, status 0x%x\n", bad_sizes[i], virtio_status());
        if (!virtio_initialize(QUEUE_SIZE, 0xffff)) fail("no recovery after queue size %u", bad_sizes[i]);
        good_read("after the bad size");
    }
}
