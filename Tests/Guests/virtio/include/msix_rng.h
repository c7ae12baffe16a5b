/* The MSI-X guest's checks, shared by its 32-bit (msixrng) and 64-bit (msixrng64) builds.
 * MSI-X from a virtio device into the local APIC (PCI 3.0, 6.8.2; SDM vol. 3, 10.11): virtio-rng's
 * queue 0 gets MSI-X vector 0, whose table entry names this CPU's APIC and IDT vector 0x51. A
 * completed request enters the handler once; with the entry masked the completion leaves the
 * vector pending in the PBA and no interrupt comes, and unmasking delivers it. The handler reports
 * its first entry before anything else, so a host that cannot return from it (a PVM host's
 * emulated 32-bit IRET) still shows the delivery. */
#ifndef GUEST_MSIX_RNG_H
#define GUEST_MSIX_RNG_H
#include "virtio_pci.h"
#include "../../interrupts/include/interrupts.h"

enum { VIRTIO_RNG = 4, MSI_VECTOR = 0x51, SPURIOUS_VECTOR = 0xff };

static volatile uint32_t arrivals;
static uint8_t buffer[64];

__attribute__((interrupt)) static void msi_handler(struct interrupt_frame *frame)
{
    (void)frame;
    if (arrivals++ == 0) printf("PASS: MSI-X vector 0x%x entered\n", MSI_VECTOR);
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* Waits (halting with interrupts open) until `count` interrupts have arrived, at most 1000 wake-ups. */
static void wait_for_arrivals(uint32_t count)
{
    for (int i = 0; i < 1000 && arrivals < count; i++) wait_for_interrupt();
    CHECK_EQ("MSI-X interrupts so far", arrivals, count);
}

static void request(void)
{
    memset(buffer, 0, sizeof buffer);
    set_descriptor(&table[0], buffer, sizeof buffer, DESC_WRITE, 0);
    virtio_offer(0);
}

static uint32_t wait_for_completion(void)
{
    uint32_t length = 0;
    for (uint32_t polls = 0; polls < 400000000u && !virtio_take_used(&length); polls++) __asm__ volatile("pause");
    return length;
}

static void msixrng_main(void)
{
    idt_set(MSI_VECTOR, msi_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);

    virtio_find(VIRTIO_RNG, "virtio-rng");
    if (!msix_capability) fail("no MSI-X capability");
    config_write16(msix_capability + 2, 0x8000); /* MSI-X enable, function not masked */
    mmio_write32(msix_table + 0, 0xFEE00000u | lapic_id() << 12);
    mmio_write32(msix_table + 4, 0);
    mmio_write32(msix_table + 8, MSI_VECTOR); /* fixed, edge */
    mmio_write32(msix_table + 12, 0);         /* unmasked */
    if (!virtio_initialize(QUEUE_SIZE, 0)) fail("the device did not come up");
    CHECK_EQ("queue 0's vector", mmio_read16(common + 0x1a), 0);

    request();
    wait_for_arrivals(1);
    CHECK_EQ("bytes of entropy", wait_for_completion(), sizeof buffer);
    printf("PASS: one request, one interrupt\n");

    mmio_write32(msix_table + 12, 1); /* mask vector 0 */
    request();
    CHECK_EQ("bytes of entropy while masked", wait_for_completion(), sizeof buffer);
    for (int i = 0; i < 100; i++) interrupt_window();
    CHECK_EQ("interrupts while masked", arrivals, 1);
    CHECK_EQ("pending bit of vector 0", mmio_read32(msix_pending) & 1, 1);
    printf("PASS: a masked vector stays pending\n");
    mmio_write32(msix_table + 12, 0);
    wait_for_arrivals(2);
    CHECK_EQ("pending bit after unmasking", mmio_read32(msix_pending) & 1, 0);
    printf("PASS: unmasking delivers it\n");
}
#endif
