/* An idle guest for the PV EOI result (seed 001: KVM's PV EOI patches, exits of an idle second): the
 * local APIC timer interrupts at 1000 Hz and the CPU sleeps in HLT in between, for "seconds=S"
 * (default 1) seconds of ticks. Each tick's handler ends the interrupt the way Linux does: through
 * the PV EOI flag when CPUID offers KVM_FEATURE_PV_EOI (`--pv` decides), else by writing the EOI
 * register. Long mode, so that the handlers' IRETQ runs on PVM-flavoured KVM too.
 *
 * The timer's rate is measured against five PIT periods at 100 Hz (IRQ 0 through IOAPIC pin 2),
 * taken in HLT as well, so calibration adds a dozen exits rather than the thousands a polled PIT
 * would. The host counts the exits (`--stats`). */
#include "../../pv/include/pv_eoi.h"

#define PIT_VECTOR 0x30
#define TIMER_VECTOR 0x40
#define SPURIOUS_VECTOR 0xFF
#define CALIBRATION_PERIODS 5

static volatile uint32_t pit_ticks, timer_ticks;
static volatile uint32_t count_at[CALIBRATION_PERIODS + 1];

__attribute__((interrupt)) static void pit_handler(struct interrupt_frame *frame)
{
    (void)frame;
    if (pit_ticks <= CALIBRATION_PERIODS) count_at[pit_ticks] = lapic_read(LAPIC_TIMER_CURRENT);
    pit_ticks++;
    guest_eoi();
}

__attribute__((interrupt)) static void timer_handler(struct interrupt_frame *frame)
{
    (void)frame;
    timer_ticks++;
    guest_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* Timer counts (divide by 16) per second. */
static uint32_t calibrate(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3);
    lapic_write(LAPIC_LVT_TIMER, 0x10000 | TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFF);
    ioapic_route(2, PIT_VECTOR, (uint8_t)lapic_id());
    outb(0x43, 0x34);
    outb(0x40, 11932 & 0xFF);
    outb(0x40, 11932 >> 8);
    while (pit_ticks <= CALIBRATION_PERIODS) wait_for_interrupt();
    ioapic_route(2, 0x10000 | PIT_VECTOR, (uint8_t)lapic_id());
    outb(0x43, 0x30);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    uint32_t counted = count_at[0] - count_at[CALIBRATION_PERIODS];
    return (uint32_t)udivmod64((uint64_t)counted * 100, CALIBRATION_PERIODS, 0);
}

void guest_main(void)
{
    idt_set(PIT_VECTOR, pit_handler);
    idt_set(TIMER_VECTOR, timer_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);
    int paravirtual = kvm_signature_present() && (kvm_features() & KVM_FEATURE_PV_EOI);
    if (paravirtual) pv_eoi_enable();
    uint32_t per_second = calibrate();
    if (per_second < 10000) fail("timer barely moved in 50 ms (%u counts per second)", per_second);
    uint32_t wanted = (uint32_t)cmdline_number("seconds", 1) * 1000;
    lapic_write(LAPIC_LVT_TIMER, 0x20000 | TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, (per_second + 500) / 1000);
    while (timer_ticks < wanted) wait_for_interrupt();
    lapic_write(LAPIC_LVT_TIMER, 0x10000 | TIMER_VECTOR);
    printf("pv-idle: %u timer ticks, PV EOI %s, %u EOIs skipped, %u written\n", timer_ticks,
           paravirtual ? "on" : "off", skipped_eois, written_eois);
}
