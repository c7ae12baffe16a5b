/* COM1's receive interrupt (ISA IRQ 4) routed through the IOAPIC to the local APIC, with the PICs
 * masked: the host types a line on the serial input, each byte raises IRQ 4, the handler drains the
 * receiver, and the guest echoes the line. A local APIC timer bounds the wait to 10 seconds. */
#include "../include/interrupts.h"

#define UART 0x3F8
#define UART_VECTOR 0x24
#define WATCHDOG_VECTOR 0x41
#define SPURIOUS_VECTOR 0xFF

static volatile char line[80];
static volatile uint32_t length;
static volatile int line_complete;
static volatile uint32_t uart_interrupts;
static volatile uint32_t watchdog_ticks;

__attribute__((interrupt)) static void uart_handler(struct interrupt_frame *frame)
{
    (void)frame;
    uart_interrupts++;
    while (inb(UART + 5) & 0x01) {
        char c = (char)inb(UART);
        if (c == '\n' || c == '\r') line_complete = 1;
        else if (!line_complete && length < sizeof(line) - 1) line[length++] = c;
    }
    lapic_eoi();
}

__attribute__((interrupt)) static void watchdog_handler(struct interrupt_frame *frame)
{
    (void)frame;
    watchdog_ticks++;
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

void guest_main(void)
{
    idt_set(UART_VECTOR, uart_handler);
    idt_set(WATCHDOG_VECTOR, watchdog_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);

    CHECK_EQ("IOAPIC version", ioapic_read(0x01) & 0xFF, 0x20);
    CHECK_EQ("IOAPIC maximum redirection entry", (ioapic_read(0x01) >> 16) & 0xFF, 23);
    /* ISA IRQ 4: edge triggered, active high, fixed delivery to this CPU. */
    ioapic_route(4, UART_VECTOR, (uint8_t)lapic_id());
    CHECK_EQ("redirection entry 4", ioapic_entry_low(4), UART_VECTOR);
    step("IOAPIC pin 4 routed to the local APIC");

    /* A 10 ms periodic watchdog (1 GHz bus clock assumed only loosely: it just bounds the wait). */
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3);
    lapic_write(LAPIC_LVT_TIMER, 0x20000 | WATCHDOG_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, 625000);

    outb(UART + 4, 0x0B);
    outb(UART + 1, 0x01);
    printf("ready: type a line\n");
    while (!line_complete) {
        wait_for_interrupt();
        if (watchdog_ticks > 1000) fail("no input line within 10 seconds (%u bytes so far)", length);
    }
    outb(UART + 1, 0x00);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    line[length] = 0;
    if (uart_interrupts == 0) fail("the line arrived without an interrupt");
    printf("echo: %s\n", (const char *)line);
    step("received the line through IRQ 4 and the IOAPIC");
}
