/* The local APIC timer in periodic mode at 1000 Hz, its bus clock calibrated against the PIT, and
 * the interrupts counted over one second of PIT time (SDM vol. 3, 10.5.4). The PICs are masked, so
 * only the local APIC interrupts. */
#include "../include/interrupts.h"

#define TIMER_VECTOR 0x40
#define SPURIOUS_VECTOR 0xFF

static volatile uint32_t ticks;

__attribute__((interrupt)) static void timer_handler(struct interrupt_frame *frame)
{
    (void)frame;
    ticks++;
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* Timer ticks (divide by 16) per 10 ms of PIT time, from a masked one-shot count-down. */
static uint32_t calibrate(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3);
    lapic_write(LAPIC_LVT_TIMER, 0x10000 | TIMER_VECTOR);
    pit_channel2_start(11932);
    lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFF);
    while (!pit_channel2_done()) {}
    uint32_t elapsed = 0xFFFFFFFF - lapic_read(LAPIC_TIMER_CURRENT);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    return elapsed;
}

void guest_main(void)
{
    idt_set(TIMER_VECTOR, timer_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);
    CHECK_EQ("local APIC version", lapic_read(LAPIC_VERSION) & 0xFF, 0x14);
    step("local APIC enabled");

    uint32_t per_10ms = calibrate();
    if (per_10ms < 100) fail("timer barely moved in 10 ms (%u ticks)", per_10ms);
    printf("info: %u timer ticks per 10 ms at divide 16\n", per_10ms);
    step("timer calibrated against the PIT");

    /* Periodic mode, one interrupt per millisecond. */
    lapic_write(LAPIC_LVT_TIMER, 0x20000 | TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, per_10ms / 10);
    sti();
    for (int i = 0; i < 20; i++) pit_delay_us(50000);
    cli();
    uint32_t counted = ticks;
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    printf("info: %u timer interrupts in one second\n", counted);
    /* Never faster than 1000 Hz. On a loaded host a slow vCPU finds several expiries coalesced in
     * one IRR bit (as real hardware would if the CPU stalled), so the lower bound is loose. */
    if (counted > 1100) fail("more than 1000 Hz: %u interrupts in one second", counted);
    if (counted < 100) fail("the periodic timer hardly ran: %u interrupts in one second", counted);
    step("periodic timer ran, never above 1000 Hz");

    uint32_t stopped = ticks;
    sti();
    pit_delay_us(20000);
    cli();
    CHECK_EQ("interrupts after writing initial count 0", ticks, stopped);
    step("a zero initial count stops the timer");
}
