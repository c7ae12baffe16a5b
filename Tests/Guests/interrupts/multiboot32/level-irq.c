/* A level-triggered IOAPIC line and its remote IRR (82093AA data sheet 3.2.4; SDM vol. 3, 10.8.5):
 * COM1's transmitter-empty interrupt holds ISA IRQ 4 high. Routed level-triggered, the first
 * delivery sets remote IRR; an EOI while the line is still high clears it and the IOAPIC delivers
 * again; once the handler clears the cause (reading IIR) and EOIs, remote IRR stays clear. No
 * serial output happens while the interrupt is enabled, since sending re-arms it. */
#include "../include/interrupts.h"

#define UART 0x3F8
#define LEVEL_VECTOR 0x34
#define SPURIOUS_VECTOR 0xFF

static volatile uint32_t deliveries;
static volatile uint32_t remote_irr_in_first;
static volatile uint32_t tmr_in_first;

__attribute__((interrupt)) static void level_handler(struct interrupt_frame *frame)
{
    (void)frame;
    deliveries++;
    if (deliveries == 1) {
        remote_irr_in_first = (ioapic_entry_low(4) >> 14) & 1;
        tmr_in_first = (uint32_t)lapic_bit(LAPIC_TMR, LEVEL_VECTOR);
        /* Leave the cause alone: the line stays high through this EOI. */
    } else {
        /* Reading IIR while it reports THR empty clears that interrupt (16550A data sheet). */
        (void)inb(UART + 2);
        outb(UART + 1, 0x00);
    }
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

void guest_main(void)
{
    idt_set(LEVEL_VECTOR, level_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);
    ioapic_route(4, 0x8000 | LEVEL_VECTOR, (uint8_t)lapic_id());
    step("IOAPIC pin 4 routed level-triggered");

    while (!(inb(UART + 5) & 0x20)) {}
    outb(UART + 4, 0x0B);
    outb(UART + 1, 0x02);
    for (int i = 0; i < 100 && deliveries < 2; i++) interrupt_window();
    for (int i = 0; i < 100; i++) interrupt_window();

    CHECK_EQ("remote IRR during the first delivery", remote_irr_in_first, 1);
    step("remote IRR set while the level interrupt was in service");
    CHECK_EQ("TMR bit of the level vector", tmr_in_first, 1);
    step("the local APIC marked the vector level-triggered");
    CHECK_EQ("deliveries", deliveries, 2);
    step("EOI with the line still high delivered it again");
    CHECK_EQ("remote IRR at the end", (ioapic_entry_low(4) >> 14) & 1, 0);
    step("EOI after the cause was cleared left remote IRR clear");
}
