/* Starting the application processors through the local APIC's interrupt command register (SDM
 * vol. 3, 8.4.4.1): the BSP copies the trampoline (multiboot32/smp/trampoline.S, which sets up a
 * stack from ap_stacks and calls ap_main) to TRAMPOLINE_BASE, then sends INIT and one start-up IPI
 * to all but itself. Real hardware wants a second SIPI after 200 us; virtual CPUs start on the
 * first, and a second would be ignored anyway. For guests made of one C file. */
#ifndef SMP_START_H
#define SMP_START_H
#include "interrupts.h"

#define TRAMPOLINE_BASE 0x8000
#define MAX_CPUS 16
#define AP_STACK_SIZE 4096

extern const char trampoline_start[], trampoline_end[];

volatile uint32_t ap_stack_index;
uint8_t ap_stacks[(MAX_CPUS + 1) * AP_STACK_SIZE] __attribute__((aligned(16)));

/* Each AP enters here on its own stack. */
void ap_main(void);

static inline void start_application_processors(void)
{
    memcpy((void *)TRAMPOLINE_BASE, trampoline_start, (size_t)(trampoline_end - trampoline_start));
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, 0xC4500); /* INIT to all but self */
    pit_delay_us(10000);
    lapic_write(LAPIC_ICR_LOW, 0xC4600 | (TRAMPOLINE_BASE >> 12)); /* start-up IPI */
}
#endif
