/* The local APIC timer in periodic mode at 1000 Hz, its bus clock calibrated against the PIT, and
 * the interrupts counted over one second of PIT time (SDM vol. 3, 10.5.4). The PICs are masked, so
 * only the local APIC interrupts.
 *
 * Both clocks are read in pairs with the PIT on either side (a pair whose PIT reads lie far apart
 * was interrupted, by a host that descheduled the vCPU, and is read again), so neither the
 * calibration nor the counting window depends on how promptly the guest noticed a PIT deadline.
 *
 * "tolerance=P" (percent, default 90) bounds how many ticks may be missing: a timer never runs fast,
 * but a CPU too slow to take each interrupt before the next expiry loses ticks (one IRR bit), as a
 * vCPU does whose host thread is descheduled; QEMU's TCG on a busy host loses a quarter. */
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

/* PIT channel 2 as a free-running clock: mode 2 with the maximum count, one turn every 54.9 ms,
 * gate on and speaker off; `pit_now` extends it past the 16-bit wrap, so it must be called at
 * least once a turn. */
static uint64_t pit_elapsed;
static uint16_t pit_last;

static void pit_clock_start(void)
{
    outb(0x61, (inb(0x61) & 0x0C) | 0x01);
    outb(0x43, 0xB4);
    outb(0x42, 0);
    outb(0x42, 0);
}

static uint64_t pit_now(void)
{
    outb(0x43, 0x80);
    uint16_t count = inb(0x42);
    count |= (uint16_t)(inb(0x42) << 8);
    pit_elapsed += (uint16_t)(pit_last - count);
    pit_last = count;
    return pit_elapsed;
}

static void pit_wait_until(uint64_t target) { while (pit_now() < target) {} }

/* The timer's current count and the PIT time it was read at, from a read between two PIT reads at
 * most 50 PIT ticks (42 us) apart. */
struct reading {
    uint64_t pit;
    uint32_t lapic;
};

static struct reading read_clocks(void)
{
    for (;;) {
        uint64_t before = pit_now();
        uint32_t lapic = lapic_read(LAPIC_TIMER_CURRENT);
        uint64_t after = pit_now();
        if (after - before <= 50) return (struct reading){ (before + after) / 2, lapic };
    }
}

/* Timer ticks (divide by 16) per 1193182 PIT ticks, i.e. per second, from a masked one-shot
 * count-down over 50 ms of PIT time. */
static uint32_t calibrate(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3);
    lapic_write(LAPIC_LVT_TIMER, 0x10000 | TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFF);
    struct reading first = read_clocks();
    pit_wait_until(first.pit + PIT_HZ / 20);
    struct reading last = read_clocks();
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    return (uint32_t)udivmod64((uint64_t)(first.lapic - last.lapic) * PIT_HZ, last.pit - first.pit, 0);
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
    pit_clock_start();
    uint32_t per_second = calibrate();
    if (per_second < 10000) fail("timer barely moved in 50 ms (%u ticks per second)", per_second);
    printf("info: %u timer ticks per second at divide 16\n", per_second);
    step("timer calibrated against the PIT");

    /* Periodic mode, one interrupt per millisecond, counted over one second of PIT time. */
    uint32_t period = (per_second + 500) / 1000;
    lapic_write(LAPIC_LVT_TIMER, 0x20000 | TIMER_VECTOR);
    uint64_t start = pit_now();
    lapic_write(LAPIC_TIMER_INITIAL, period);
    sti();
    pit_wait_until(start + PIT_HZ);
    cli();
    uint32_t counted = ticks;
    uint64_t elapsed = pit_now() - start;
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    /* The periods that fit in the window as the calibrated timer measures it. */
    uint32_t expected = (uint32_t)udivmod64(elapsed * per_second, (uint64_t)PIT_HZ * period, 0);
    printf("info: %u timer interrupts in %u PIT ticks, %u periods\n", counted, (uint32_t)elapsed, expected);
    /* Never faster than the period (1% for the calibration's rounding). */
    if (counted > expected + expected / 100 + 1) fail("faster than 1000 Hz: %u interrupts in %u periods", counted, expected);
    if (counted < expected - expected * tolerance / 100)
        fail("%u interrupts in %u periods: more than %u%% missing", counted, expected, tolerance);
    printf("PASS: periodic timer at 1000 Hz within %u%%\n", tolerance);

    /* An expiry that came after the CLI is still in IRR: writing initial count 0 stops the timer
     * but leaves that request, so let it in before counting. */
    interrupt_window();
    uint32_t stopped = ticks;
    sti();
    pit_wait_until(pit_now() + PIT_HZ / 50);
    cli();
    CHECK_EQ("interrupts after writing initial count 0", ticks, stopped);
    step("a zero initial count stops the timer");
}
