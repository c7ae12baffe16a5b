/* Interrupt round trips through the local APIC (SDM vol. 3, ch. 10), "n=N" samples each (default
 * 1000), medians in TSC cycles:
 *   self-ipi   a fixed self-IPI (ICR self shorthand) until its handler, which EOIs, has returned;
 *   timer      a one-shot APIC timer of one bus tick (divide by 1) until its handler has returned;
 *   ipi        with "cpus=2": a ping-pong between two CPUs; the BSP sends a fixed IPI to the AP,
 *              whose handler sends one back; the BSP times the round trip on its own TSC.
 * Every handler returns with IRET, so this guest cannot run on PVM-flavoured KVM. */
#include "../../include/bench.h"
#include "../../../interrupts/include/smp_start.h"

#define SELF_VECTOR 0x60
#define TIMER_VECTOR 0x61
#define PING_VECTOR 0x62
#define PONG_VECTOR 0x63
#define SPURIOUS_VECTOR 0xFF
#define MAX_SAMPLES 4096
#define BENCH_CPUS 2

static volatile uint32_t arrivals;
static volatile uint32_t ap_ready;
static volatile uint32_t bsp_apic_id;
static uint64_t samples[MAX_SAMPLES];

__attribute__((interrupt)) static void count_and_eoi(struct interrupt_frame *frame)
{
    (void)frame;
    arrivals++;
    lapic_eoi();
}

/* On the AP: answer a ping with a pong to the BSP. */
__attribute__((interrupt)) static void answer_ping(struct interrupt_frame *frame)
{
    (void)frame;
    lapic_eoi();
    lapic_write(LAPIC_ICR_HIGH, bsp_apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, 0x4000 | PONG_VECTOR);
}

__attribute__((interrupt)) static void ignore(struct interrupt_frame *frame) { (void)frame; }

void ap_main(void);
void ap_main(void)
{
    /* The IDT's gates name the BSP's code selector: the AP takes the BSP's GDT first. */
    adopt_bsp_segments();
    idt_load();
    lapic_enable(SPURIOUS_VECTOR);
    __atomic_store_n(&ap_ready, 1, __ATOMIC_SEQ_CST);
    for (;;) wait_for_interrupt();
}

/* Times `count` round trips of `trigger` to the handler's return; interrupts stay enabled. */
static uint64_t time_round_trips(void (*trigger)(uint32_t), uint32_t target, uint32_t count)
{
    sti();
    for (uint32_t i = 0; i < count; i++) {
        uint32_t before = arrivals;
        uint64_t start = rdtsc();
        trigger(target);
        while (arrivals == before) __asm__ volatile("pause");
        samples[i] = rdtsc() - start;
    }
    cli();
    return median(samples, count);
}

static void send_self_ipi(uint32_t unused) { (void)unused; lapic_self_ipi(SELF_VECTOR); }

static void start_timer(uint32_t unused)
{
    (void)unused;
    lapic_write(LAPIC_TIMER_INITIAL, 1);
}

static void send_ping(uint32_t apic_id)
{
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, 0x4000 | PING_VECTOR);
}

/* INIT and a start-up IPI to all but self, as in the SMP guest; returns whether the AP came up. */
static int start_ap(void)
{
    start_application_processors();
    for (int waited = 0; !ap_ready && waited < 200; waited++) pit_delay_us(10000);
    return ap_ready;
}

void guest_main(void)
{
    uint32_t count = (uint32_t)cmdline_number("n", 1000);
    uint32_t cpus = (uint32_t)cmdline_number("cpus", 1);
    if (count == 0 || count > MAX_SAMPLES) fail("n=%u is outside 1..%u", count, MAX_SAMPLES);
    if (cpus < 1 || cpus > BENCH_CPUS) fail("cpus=%u is outside 1..%u", cpus, BENCH_CPUS);

    idt_set(SELF_VECTOR, count_and_eoi);
    idt_set(TIMER_VECTOR, count_and_eoi);
    idt_set(PONG_VECTOR, count_and_eoi);
    idt_set(PING_VECTOR, answer_ping);
    idt_set(SPURIOUS_VECTOR, ignore);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);
    bsp_apic_id = lapic_id();

    report("self-ipi", time_round_trips(send_self_ipi, 0, count));

    lapic_write(LAPIC_TIMER_DIVIDE, 0xB);
    lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR);
    report("timer", time_round_trips(start_timer, 0, count));

    if (cpus < 2) return;
    if (!start_ap()) fail("the application processor did not start");
    report("ipi", time_round_trips(send_ping, bsp_apic_id == 0 ? 1 : 0, count));
}
