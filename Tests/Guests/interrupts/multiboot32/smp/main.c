/* SMP bring-up through the local APIC's interrupt command register (SDM vol. 3, 8.4.4.1): the BSP
 * sends INIT and then a start-up IPI to all other processors; each AP runs the trampoline, reads
 * its APIC ID and checks in. The BSP prints every CPU's APIC ID in order. The number of CPUs comes
 * from the command line ("cpus=N", default 2) and must match the machine's. */
#include "../../include/smp_start.h"

static volatile uint32_t checked_in;
static volatile uint32_t seen_ids[MAX_CPUS];
static volatile uint32_t aps_claiming_bsp;

/* IA32_APIC_BASE bit 8: set on the bootstrap processor only (SDM vol. 3, 10.4.4). */
static uint32_t is_bootstrap_processor(void)
{
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(0x1B));
    return (low >> 8) & 1;
}

void ap_main(void)
{
    uint32_t id = lapic_id();
    if (id < MAX_CPUS) seen_ids[id] = 1;
    if (is_bootstrap_processor()) __atomic_fetch_add(&aps_claiming_bsp, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&checked_in, 1, __ATOMIC_SEQ_CST);
}

void guest_main(void)
{
    uint32_t cpus = (uint32_t)cmdline_number("cpus", 2);
    if (cpus < 1 || cpus > MAX_CPUS) fail("cpus=%u is outside 1..%u", cpus, MAX_CPUS);
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    CHECK_EQ("BSP flag in IA32_APIC_BASE of the boot CPU", is_bootstrap_processor(), 1);
    uint32_t bsp = lapic_id();
    seen_ids[bsp < MAX_CPUS ? bsp : 0] = 1;
    printf("cpu: APIC ID %u (BSP)\n", bsp);

    start_application_processors();

    for (int waited = 0; checked_in < cpus - 1 && waited < 200; waited++) pit_delay_us(10000);
    if (checked_in != cpus - 1) fail("%u of %u application processors checked in", checked_in, cpus - 1);
    CHECK_EQ("APs with the BSP flag", aps_claiming_bsp, 0);
    for (uint32_t id = 0; id < cpus; id++) {
        if (!seen_ids[id]) fail("no CPU with APIC ID %u", id);
        if (id != bsp) printf("cpu: APIC ID %u (AP)\n", id);
    }
    printf("PASS: %u CPUs online\n", cpus);
}
