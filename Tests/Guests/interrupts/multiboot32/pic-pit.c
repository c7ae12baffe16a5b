/* A legacy PIC-only guest: the 8259A pair remapped to vectors 0x20-0x2F, the PIT's channel 0 in
 * rate-generator mode at 100 Hz on IRQ 0, and nothing else. The local APIC is left as the firmware
 * leaves it (LINT0 in virtual-wire ExtINT mode), so IRQ 0 reaches the CPU through the PICs. */
#include "../include/interrupts.h"

static volatile uint32_t ticks;
static volatile uint8_t isr_in_handler;

__attribute__((interrupt)) static void timer_handler(struct interrupt_frame *frame)
{
    (void)frame;
    if (ticks == 0) isr_in_handler = pic_master_isr();
    ticks++;
    pic_eoi_master();
}

void guest_main(void)
{
    idt_set(0x20, timer_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFE);
    step("PICs initialized, all but IRQ 0 masked");

    /* Mode 2, 11932 counts: 100.0 Hz. */
    outb(0x43, 0x34);
    outb(0x40, 11932 & 0xFF);
    outb(0x40, 11932 >> 8);

    uint32_t waits = 0;
    while (ticks < 50) {
        wait_for_interrupt();
        if (++waits > 1000) fail("only %u timer interrupts after %u wake-ups", ticks, waits);
    }
    CHECK_EQ("ISR while serving IRQ 0", isr_in_handler, 0x01);
    step("IRQ 0 in service during its handler");
    CHECK_EQ("ISR after the EOIs", pic_master_isr(), 0);
    step("50 PIT interrupts on IRQ 0 through the PIC");

    /* Masking IRQ 0 stops them: no tick arrives during 50 ms (5 periods). */
    pic_set_mask(0xFFFF);
    uint32_t before = ticks;
    sti();
    pit_delay_us(50000);
    cli();
    CHECK_EQ("ticks while IRQ 0 is masked", ticks, before);
    step("masked IRQ 0 stays quiet");
}
