/* The local APIC timer in periodic mode at 1000 Hz, its bus clock calibrated against the PIT, and
 * the interrupts counted over one second of PIT time (SDM vol. 3, 10.5.4). The PICs are masked, so
 * only the local APIC interrupts.
 *
 * "tolerance=P" (percent, default 90) bounds how many ticks may be missing: a timer never runs fast,
 * but a host too slow to take each interrupt before the next expiry loses ticks as hardware would
 * (one IRR bit), and QEMU's TCG on a busy host loses a quarter. vmm's tests ask for 1 there. */
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

/* Timer ticks (divide by 16) per millisecond of PIT time, from a masked one-shot count-down over
 * 50 ms: long enough that the few microseconds of polling at either end stay far below 0.1%. */
static uint32_t calibrate(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3);
    lapic_write(LAPIC_LVT_TIMER, 0x10000 | TIMER_VECTOR);
    pit_channel2_start(59659);
    lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFF);
    while (!pit_channel2_done()) {}
    uint32_t elapsed = 0xFFFFFFFF - lapic_read(LAPIC_TIMER_CURRENT);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    return elapsed / 50;
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

    uint32_t tolerance = (uint32_t)cmdline_number("tolerance", 90);
    if (tolerance > 100) fail("tolerance=%u is above 100 percent", tolerance);
    uint32_t per_ms = calibrate();
    if (per_ms < 10) fail("timer barely moved in 50 ms (%u ticks per ms)", per_ms);
    printf("info: %u timer ticks per ms at divide 16\n", per_ms);
    step("timer calibrated against the PIT");

    /* Periodic mode, one interrupt per millisecond. */
    lapic_write(LAPIC_LVT_TIMER, 0x20000 | TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, per_ms);
    sti();
    for (int i = 0; i < 20; i++) pit_delay_us(50000);
    cli();
    uint32_t counted = ticks;
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    printf("info: %u timer interrupts in one second\n", counted);
    /* Never faster than 1000 Hz (1% for the calibration's rounding). */
    if (counted > 1010) fail("more than 1000 Hz: %u interrupts in one second", counted);
    if (counted < 10 * (100 - tolerance)) fail("%u interrupts in one second: more than %u%% missing", counted, tolerance);
    printf("PASS: periodic timer at 1000 Hz within %u%%\n", tolerance);

    /* An expiry that came after the CLI is still in IRR: writing initial count 0 stops the timer
     * but leaves that request, so let it in before counting. */
    interrupt_window();
    uint32_t stopped = ticks;
    sti();
    pit_delay_us(20000);
    cli();
    CHECK_EQ("interrupts after writing initial count 0", ticks, stopped);
    step("a zero initial count stops the timer");
}
