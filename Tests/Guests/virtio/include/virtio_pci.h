/* A minimal modern virtio PCI driver for the test guests (virtio 1.2, 4.1): finds a function on
 * PCI bus 0 through configuration mechanism #1, reads its capabilities, negotiates features and
 * sets up queue 0, then offers chains and polls the used ring. Header-only, like interrupts.h;
 * paging is off in these guests, so guest-physical addresses are pointers. */
#ifndef GUEST_VIRTIO_PCI_H
#define GUEST_VIRTIO_PCI_H
#include "guest.h"

enum {
    VIRTIO_VENDOR = 0x1af4, VIRTIO_MODERN_DEVICE_BASE = 0x1040,
    VIRTIO_CAP_VENDOR = 0x09, VIRTIO_CFG_COMMON = 1, VIRTIO_CFG_NOTIFY = 2,
    VIRTIO_STATUS_ACK = 1, VIRTIO_STATUS_DRIVER = 2, VIRTIO_STATUS_DRIVER_OK = 4,
    VIRTIO_STATUS_FEATURES_OK = 8, VIRTIO_STATUS_NEEDS_RESET = 64,
    DESC_NEXT = 1, DESC_WRITE = 2, DESC_INDIRECT = 4,
    QUEUE_SIZE = 8,
    /* Feature bits: INDIRECT_DESC (28) in the low word, VERSION_1 (32) in the high one. */
    VIRTIO_FEATURES_LOW = 1u << 28, VIRTIO_FEATURES_HIGH = 1,
};

struct descriptor { uint32_t address_low, address_high, length; uint16_t flags, next; };

static struct descriptor table[QUEUE_SIZE] __attribute__((aligned(16)));
static struct { uint16_t flags, index, ring[QUEUE_SIZE], used_event; } available __attribute__((aligned(4)));
static struct { uint16_t flags, index; struct { uint32_t id, length; } ring[QUEUE_SIZE]; uint16_t avail_event; }
    used __attribute__((aligned(4)));

static uint32_t device_bdf;
static uintptr_t common, notify, msix_table, msix_pending;
static unsigned msix_capability;
static uint16_t last_used;

static inline uint32_t config_read(unsigned offset)
{
    outl(0xcf8, 0x80000000u | device_bdf | (offset & 0xfc));
    return inl(0xcfc) >> (8 * (offset & 3));
}

static inline void config_write16(unsigned offset, uint16_t value)
{
    outl(0xcf8, 0x80000000u | device_bdf | (offset & 0xfc));
    outw(0xcfc + (offset & 2), value);
}

static inline uintptr_t bar_address(unsigned bar) { return config_read(0x10 + 4 * bar) & ~0xfu; }

/* Finds the modern function of virtio device type `type` and the structures it describes: the
 * common configuration and queue 0's doorbell (4.1.4), and the MSI-X capability, table and
 * pending bits (PCI 3.0, 6.8.2). */
static inline void virtio_find(unsigned type, const char *name)
{
    unsigned device = 1;
    for (; device < 32; device++) {
        device_bdf = device << 11;
        if (config_read(0) == ((VIRTIO_MODERN_DEVICE_BASE + type) << 16 | VIRTIO_VENDOR)) break;
    }
    if (device == 32) fail("no modern %s function on bus 0", name);
    printf("%s at 00:%02x.0\n", name, device);
    for (unsigned cap = config_read(0x34) & 0xff; cap; cap = config_read(cap + 1) & 0xff) {
        unsigned id = config_read(cap) & 0xff;
        if (id == 0x11) {
            msix_capability = cap;
            msix_table = bar_address(config_read(cap + 4) & 7) + (config_read(cap + 4) & ~7u);
            msix_pending = bar_address(config_read(cap + 8) & 7) + (config_read(cap + 8) & ~7u);
        }
        if (id != VIRTIO_CAP_VENDOR) continue;
        unsigned kind = config_read(cap + 3) & 0xff;
        uintptr_t address = bar_address(config_read(cap + 4) & 0xff) + config_read(cap + 8);
        if (kind == VIRTIO_CFG_COMMON) common = address;
        if (kind == VIRTIO_CFG_NOTIFY) notify = address; /* queue 0: queue_notify_off 0 */
    }
    if (!common || !notify) fail("the common or notify capability is missing");
}

static inline uint8_t virtio_status(void) { return mmio_read8(common + 0x14); }

/* Reset, negotiate VERSION_1 and INDIRECT_DESC, set up queue 0 of `size` with MSI-X vector
 * `vector` (0xffff: none), DRIVER_OK; true if the queue came up. */
static inline int virtio_initialize(uint16_t size, uint16_t vector)
{
    mmio_write8(common + 0x14, 0);
    CHECK_EQ("status after reset", virtio_status(), 0);
    mmio_write8(common + 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
    mmio_write32(common + 0x08, 0);
    mmio_write32(common + 0x0c, VIRTIO_FEATURES_LOW);
    mmio_write32(common + 0x08, 1);
    mmio_write32(common + 0x0c, VIRTIO_FEATURES_HIGH);
    mmio_write8(common + 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (!(virtio_status() & VIRTIO_STATUS_FEATURES_OK)) fail("FEATURES_OK refused");
    memset(&available, 0, sizeof available);
    memset(&used, 0, sizeof used);
    last_used = 0;
    mmio_write16(common + 0x16, 0);
    mmio_write16(common + 0x18, size);
    mmio_write16(common + 0x1a, vector);
    mmio_write32(common + 0x20, (uintptr_t)table);
    mmio_write32(common + 0x24, 0);
    mmio_write32(common + 0x28, (uintptr_t)&available);
    mmio_write32(common + 0x2c, 0);
    mmio_write32(common + 0x30, (uintptr_t)&used);
    mmio_write32(common + 0x34, 0);
    mmio_write16(common + 0x1c, 1);
    mmio_write8(common + 0x14, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                VIRTIO_STATUS_DRIVER_OK);
    return !(virtio_status() & VIRTIO_STATUS_NEEDS_RESET) && mmio_read16(common + 0x1c) == 1;
}

static inline void set_descriptor(struct descriptor *d, const volatile void *address, uint32_t length, uint16_t flags,
                           uint16_t next)
{
    d->address_low = (uint32_t)(uintptr_t)address;
    d->address_high = 0;
    d->length = length;
    d->flags = flags;
    d->next = next;
}

/* Makes `head` available and rings queue 0's doorbell. */
static inline void virtio_offer(uint16_t head)
{
    available.ring[available.index % QUEUE_SIZE] = head;
    __asm__ volatile("" ::: "memory");
    available.index++;
    __asm__ volatile("" ::: "memory");
    mmio_write16(notify, 0);
}

/* True once the used ring has moved; takes the entry's length. */
static inline int virtio_take_used(uint32_t *length)
{
    if (*(volatile uint16_t *)&used.index == last_used) return 0;
    *length = used.ring[last_used % QUEUE_SIZE].length;
    last_used++;
    return 1;
}

#endif
