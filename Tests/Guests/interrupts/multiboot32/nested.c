/* Nested interrupt priorities and EOI order in the local APIC (SDM vol. 3, 10.8.3 and 10.8.5):
 * inside the class-4 handler (interrupts re-enabled) a class-8 self-IPI nests at once, a class-3
 * self-IPI waits until the class-4 EOI, and each EOI ends the highest vector in service. */
#include "../include/interrupts.h"

#define LOW_VECTOR 0x30
#define MIDDLE_VECTOR 0x40
#define HIGH_VECTOR 0x80
#define SPURIOUS_VECTOR 0xFF

static volatile char events[16];
static volatile int event_count;

static void note(char event)
{
    if (event_count < (int)sizeof(events) - 1) events[event_count++] = event;
}

__attribute__((interrupt)) static void high_handler(struct interrupt_frame *frame)
{
    (void)frame;
    note('H');
    CHECK_EQ("0x40 in service under 0x80", lapic_bit(LAPIC_ISR, MIDDLE_VECTOR), 1);
    CHECK_EQ("PPR while 0x80 is served", lapic_read(LAPIC_PPR), 0x80);
    lapic_eoi();
    CHECK_EQ("the EOI ended 0x80, not 0x40", lapic_bit(LAPIC_ISR, MIDDLE_VECTOR), 1);
    note('h');
}

__attribute__((interrupt)) static void middle_handler(struct interrupt_frame *frame)
{
    (void)frame;
    note('M');
    lapic_self_ipi(LOW_VECTOR);
    lapic_self_ipi(HIGH_VECTOR);
    interrupt_window();
    CHECK_EQ("0x30 held while 0x40 is in service", lapic_bit(LAPIC_IRR, LOW_VECTOR), 1);
    note('m');
    lapic_eoi();
}

__attribute__((interrupt)) static void low_handler(struct interrupt_frame *frame)
{
    (void)frame;
    note('L');
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

void guest_main(void)
{
    idt_set(LOW_VECTOR, low_handler);
    idt_set(MIDDLE_VECTOR, middle_handler);
    idt_set(HIGH_VECTOR, high_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);

    lapic_self_ipi(MIDDLE_VECTOR);
    for (int i = 0; i < 10 && event_count < 5; i++) interrupt_window();
    events[event_count] = 0;
    printf("info: order %s\n", (const char *)events);
    if (memcmp((const void *)events, "MHhmL", 6) != 0) fail("interrupt order %s, expected MHhmL", (const char *)events);
    step("0x80 nested inside 0x40; 0x30 waited for the 0x40 EOI");
    for (int index = 0; index < 8; index++) CHECK_EQ("ISR empty at the end", lapic_read(LAPIC_ISR + index * 0x10), 0);
    CHECK_EQ("PPR at the end", lapic_read(LAPIC_PPR), 0);
    step("every EOI ended the highest vector in service");
}
