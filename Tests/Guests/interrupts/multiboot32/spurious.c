/* Spurious IRQ 7 handling on the 8259A (data sheet, "Interrupt Sequence"): when a request goes
 * away before the CPU acknowledges it, the PIC answers IRQ 7 without setting ISR bit 7, and the
 * handler must recognise that and send no EOI. The guest checks the pieces both QEMU and vmm show
 * deterministically: a level-triggered IRQ 4 (ELCR) follows its line in IRR and, withdrawn while
 * interrupts are off, is never delivered; the poll command then reports no request; an IRQ 7
 * entry with ISR bit 7 clear is classified spurious and sends no EOI, which leaves the PIC intact
 * for the next real interrupt. */
#include "../include/interrupts.h"

#define UART 0x3F8

static volatile uint32_t irq4_count;
static volatile uint32_t irq7_real;
static volatile uint32_t irq7_spurious;

__attribute__((interrupt)) static void irq4_handler(struct interrupt_frame *frame)
{
    (void)frame;
    irq4_count++;
    (void)inb(UART + 2);
    outb(UART + 1, 0x00);
    pic_eoi_master();
}

__attribute__((interrupt)) static void irq7_handler(struct interrupt_frame *frame)
{
    (void)frame;
    if (pic_master_isr() & 0x80) {
        irq7_real++;
        pic_eoi_master();
    } else {
        irq7_spurious++;
    }
}

void guest_main(void)
{
    idt_set(0x24, irq4_handler);
    idt_set(0x27, irq7_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask((uint16_t)~((1 << 4) | (1 << 7) | (1 << 2)));
    outb(0x4D0, 0x10);
    CHECK_EQ("ELCR", inb(0x4D0), 0x10);
    step("IRQ 4 level-triggered through the ELCR");

    while (!(inb(UART + 5) & 0x20)) {}
    outb(UART + 4, 0x0B);
    outb(UART + 1, 0x02);
    CHECK_EQ("IRR bit 4 with the line high", pic_master_irr() & 0x10, 0x10);
    outb(UART + 1, 0x00);
    CHECK_EQ("IRR bit 4 after the line dropped", pic_master_irr() & 0x10, 0);
    step("a level request follows its line in IRR");
    for (int i = 0; i < 100; i++) interrupt_window();
    CHECK_EQ("IRQ 4 deliveries after the request was withdrawn", irq4_count, 0);
    CHECK_EQ("IRQ 7 deliveries", irq7_real + irq7_spurious, 0);
    step("a withdrawn level request is never delivered");

    outb(0x20, 0x0C);
    CHECK_EQ("poll with nothing requested (bit 7)", inb(0x20) & 0x80, 0);
    step("poll command reports no request");

    __asm__ volatile("int $0x27");
    CHECK_EQ("spurious IRQ 7 recognised", irq7_spurious, 1);
    CHECK_EQ("ISR after the spurious IRQ 7", pic_master_isr(), 0);
    step("IRQ 7 with ISR bit 7 clear treated as spurious, no EOI sent");

    outb(0x4D0, 0x00);
    outb(UART + 1, 0x02);
    for (int i = 0; i < 100 && irq4_count == 0; i++) interrupt_window();
    CHECK_EQ("IRQ 4 deliveries after re-enabling it", irq4_count, 1);
    CHECK_EQ("ISR after the real interrupt's EOI", pic_master_isr(), 0);
    step("the next real interrupt is served normally");
}
