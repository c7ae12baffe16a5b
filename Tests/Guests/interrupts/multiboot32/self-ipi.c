/* Self-IPIs through the interrupt command register (SDM vol. 3, 10.6.1): the self shorthand, a
 * physical destination naming this CPU's APIC ID, and the all-including-self shorthand each
 * deliver exactly once. (Illegal vectors are left to the unit tests: QEMU delivers them.) */
#include "../include/interrupts.h"

#define IPI_VECTOR 0x60
#define SPURIOUS_VECTOR 0xFF

static volatile uint32_t arrivals;
static volatile uint32_t in_service_seen;

__attribute__((interrupt)) static void ipi_handler(struct interrupt_frame *frame)
{
    (void)frame;
    arrivals++;
    in_service_seen += (uint32_t)lapic_bit(LAPIC_ISR, IPI_VECTOR);
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

static void send_and_count(uint32_t icr_high, uint32_t icr_low, const char *what)
{
    uint32_t before = arrivals;
    lapic_write(LAPIC_ICR_HIGH, icr_high);
    lapic_write(LAPIC_ICR_LOW, icr_low);
    for (int i = 0; i < 100; i++) interrupt_window();
    CHECK_EQ(what, arrivals - before, 1);
    CHECK_EQ("delivery status after sending", (lapic_read(LAPIC_ICR_LOW) >> 12) & 1, 0);
    printf("PASS: %s delivered once\n", what);
}

void guest_main(void)
{
    idt_set(IPI_VECTOR, ipi_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);

    send_and_count(0, 0x44000 | IPI_VECTOR, "self shorthand");
    send_and_count(lapic_id() << 24, 0x4000 | IPI_VECTOR, "physical destination = own APIC ID");
    send_and_count(0, 0x84000 | IPI_VECTOR, "all-including-self shorthand");
    CHECK_EQ("handler saw its vector in service", in_service_seen, 3);
    step("the vector was in service inside each handler");
}
