/* A hostile virtio-blk driver: finds the modern virtio-blk function on PCI bus 0 (mechanism #1),
 * sets it up as virtio 1.2, 4.1 describes (capabilities, features, queue 0), and then offers
 * malformed chains and queue sizes, checking that each ends as a failed request (used with
 * nothing written, the status byte untouched) or as DEVICE_NEEDS_RESET, and that the device still
 * serves a good read afterwards (after a reset where one was needed). Interrupts stay off: the
 * guest polls the used ring. Runs with paging off, so guest-physical addresses are pointers. */
#include "guest.h"

enum {
    VIRTIO_VENDOR = 0x1af4, VIRTIO_BLK_MODERN = 0x1042,
    CAP_VENDOR = 0x09, CFG_COMMON = 1, CFG_NOTIFY = 2,
    STATUS_ACK = 1, STATUS_DRIVER = 2, STATUS_DRIVER_OK = 4, STATUS_FEATURES_OK = 8, STATUS_NEEDS_RESET = 64,
    DESC_NEXT = 1, DESC_WRITE = 2, DESC_INDIRECT = 4,
    QUEUE_SIZE = 8,
};

struct descriptor { uint32_t address_low, address_high, length; uint16_t flags, next; };

static struct descriptor table[QUEUE_SIZE] __attribute__((aligned(16)));
static struct { uint16_t flags, index, ring[QUEUE_SIZE], used_event; } available __attribute__((aligned(4)));
static struct { uint16_t flags, index; struct { uint32_t id, length; } ring[QUEUE_SIZE]; uint16_t avail_event; }
    used __attribute__((aligned(4)));
static struct descriptor indirect[4] __attribute__((aligned(16)));
static struct descriptor nested[2] __attribute__((aligned(16)));
static struct { uint32_t type, reserved; uint32_t sector_low, sector_high; } header;
static uint8_t data[512];
static volatile uint8_t status_byte;

static uint32_t device_bdf;
static uintptr_t common, notify;
static uint16_t last_used;

static uint32_t config_read(unsigned offset)
{
    outl(0xcf8, 0x80000000u | device_bdf | (offset & 0xfc));
    return inl(0xcfc) >> (8 * (offset & 3));
}

static void find_device(void)
{
    for (unsigned device = 1; device < 32; device++) {
        device_bdf = device << 11;
        if (config_read(0) == (VIRTIO_BLK_MODERN << 16 | VIRTIO_VENDOR)) {
            printf("virtio-blk at 00:%02x.0\n", device);
            return;
        }
    }
    fail("no modern virtio-blk function on bus 0");
}

/* Walks the capability list for the common configuration and the doorbells (4.1.4). */
static void find_structures(void)
{
    uint32_t notify_offset = 0, multiplier = 0;
    for (unsigned cap = config_read(0x34) & 0xff; cap; cap = config_read(cap + 1) & 0xff) {
        if ((config_read(cap) & 0xff) != CAP_VENDOR) continue;
        unsigned type = config_read(cap + 3) & 0xff, bar = config_read(cap + 4) & 0xff;
        uintptr_t base = config_read(0x10 + 4 * bar) & ~0xfu;
        uint32_t offset = config_read(cap + 8);
        if (type == CFG_COMMON) common = base + offset;
        if (type == CFG_NOTIFY) { notify = base; notify_offset = offset; multiplier = config_read(cap + 16); }
    }
    if (!common || !notify) fail("the common or notify capability is missing");
    notify += notify_offset; /* queue 0: queue_notify_off 0 times the multiplier */
    (void)multiplier;
}

static uint8_t device_status(void) { return mmio_read8(common + 0x14); }

/* Reset, negotiate VERSION_1 and INDIRECT_DESC, set up queue 0 of `size`; true if it came up. */
static int initialize(uint16_t size)
{
    mmio_write8(common + 0x14, 0);
    CHECK_EQ("status after reset", device_status(), 0);
    mmio_write8(common + 0x14, STATUS_ACK | STATUS_DRIVER);
    mmio_write32(common + 0x08, 0);
    mmio_write32(common + 0x0c, 1u << 28);
    mmio_write32(common + 0x08, 1);
    mmio_write32(common + 0x0c, 1);
    mmio_write8(common + 0x14, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(device_status() & STATUS_FEATURES_OK)) fail("FEATURES_OK refused");
    memset(&available, 0, sizeof available);
    memset(&used, 0, sizeof used);
    last_used = 0;
    mmio_write16(common + 0x16, 0);
    mmio_write16(common + 0x18, size);
    mmio_write32(common + 0x20, (uintptr_t)table);
    mmio_write32(common + 0x24, 0);
    mmio_write32(common + 0x28, (uintptr_t)&available);
    mmio_write32(common + 0x2c, 0);
    mmio_write32(common + 0x30, (uintptr_t)&used);
    mmio_write32(common + 0x34, 0);
    mmio_write16(common + 0x1c, 1);
    mmio_write8(common + 0x14, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    return !(device_status() & STATUS_NEEDS_RESET) && mmio_read16(common + 0x1c) == 1;
}

static void set(struct descriptor *d, const volatile void *address, uint32_t length, uint16_t flags, uint16_t next)
{
    d->address_low = (uint32_t)(uintptr_t)address;
    d->address_high = 0;
    d->length = length;
    d->flags = flags;
    d->next = next;
}

enum outcome { COMPLETED, NEEDS_RESET };

/* Offers `head`, rings the doorbell, and polls until the used ring moves or the device needs a
 * reset; a device that does neither in a few hundred million polls fails the test. */
static enum outcome submit(uint16_t head, uint32_t *length)
{
    available.ring[available.index % QUEUE_SIZE] = head;
    __asm__ volatile("" ::: "memory");
    available.index++;
    mmio_write16(notify, 0);
    for (uint32_t polls = 0; polls < 400000000u; polls++) {
        if (*(volatile uint16_t *)&used.index != last_used) {
            *length = used.ring[last_used % QUEUE_SIZE].length;
            last_used++;
            return COMPLETED;
        }
        if (device_status() & STATUS_NEEDS_RESET) return NEEDS_RESET;
        __asm__ volatile("pause");
    }
    fail("the device neither completed head %u nor asked for a reset", head);
}

/* A read of sector 0: header, 512 bytes, status. */
static void read_request(void)
{
    header.type = 0;
    header.sector_low = header.sector_high = 0;
    set(&table[0], &header, 16, DESC_NEXT, 1);
    set(&table[1], data, 512, DESC_NEXT | DESC_WRITE, 2);
    set(&table[2], &status_byte, 1, DESC_WRITE, 0);
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
        if (!initialize(QUEUE_SIZE)) fail("%s: the device did not come back after a reset", name);
    } else {
        if (length != 0 || status_byte == 0) fail("%s: completed as if fine (length %u, status %u)", name, length, status_byte);
        printf("%s: failed request\n", name);
    }
    good_read(name);
}

void guest_main(void)
{
    find_device();
    find_structures();
    if (!initialize(QUEUE_SIZE)) fail("the device did not come up");
    good_read("start");

    read_request();
    set(&table[1], data, 512, DESC_NEXT | DESC_WRITE, 0);
    hostile("loop");

    read_request();
    set(&table[0], (void *)0xf0000000u, 16, DESC_NEXT, 1);
    hostile("outside RAM");

    read_request();
    set(&table[1], data, 0, DESC_NEXT | DESC_WRITE, 2);
    hostile("zero length");

    read_request();
    set(&table[1], data, 0xffffffffu, DESC_NEXT | DESC_WRITE, 2);
    hostile("2^32-1 length");

    /* An indirect table whose entry is itself indirect. */
    set(&nested[0], &header, 16, 0, 0);
    set(&indirect[0], nested, sizeof nested, DESC_INDIRECT, 0);
    set(&table[0], indirect, sizeof indirect[0], DESC_INDIRECT, 0);
    hostile("indirect in indirect");

    /* A chain that runs through all eight descriptors and on: longer than the queue. */
    for (unsigned i = 0; i < QUEUE_SIZE; i++) set(&table[i], &header, 16, DESC_NEXT, (i + 1) % QUEUE_SIZE);
    hostile("longer than the queue");

    static const uint16_t bad_sizes[] = { 0, 3, 1024 };
    for (unsigned i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        if (initialize(bad_sizes[i])) fail("queue size %u was accepted", bad_sizes[i]);
        printf("queue size %u: refused, status 0x%x\n", bad_sizes[i], device_status());
        if (!initialize(QUEUE_SIZE)) fail("no recovery after queue size %u", bad_sizes[i]);
        good_read("after the bad size");
    }
}
