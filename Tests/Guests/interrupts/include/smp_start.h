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

/* The BSP's GDT and selectors: the IDT's gates name the BSP's code selector, which the
 * trampoline's own GDT may give to a data segment (vmm boots with CS 0x10, the trampoline has its
 * code at 0x08), so an AP that takes interrupts switches to the BSP's GDT first. */
static struct __attribute__((packed)) {
    uint16_t limit;
    uint32_t base;
} bsp_gdt;
static uint32_t bsp_code_selector, bsp_data_selector;

static inline void remember_bsp_segments(void)
{
    __asm__ volatile("sgdt %0" : "=m"(bsp_gdt));
    __asm__ volatile("mov %%cs, %0" : "=r"(bsp_code_selector));
    __asm__ volatile("mov %%ds, %0" : "=r"(bsp_data_selector));
}

/* On an AP: the BSP's GDT, code and data segments, as remember_bsp_segments saw them. */
static inline void adopt_bsp_segments(void)
{
    __asm__ volatile("lgdt %0\n\t"
                     "pushl %1\n\t"
                     "pushl $1f\n\t"
                     "lret\n"
                     "1:\n\t"
                     "mov %2, %%ds\n\t"
                     "mov %2, %%es\n\t"
                     "mov %2, %%ss"
                     : : "m"(bsp_gdt), "r"(bsp_code_selector), "r"(bsp_data_selector) : "memory");
}

static inline void start_application_processors(void)
{
    remember_bsp_segments();
    memcpy((void *)TRAMPOLINE_BASE, trampoline_start, (size_t)(trampoline_end - trampoline_start));
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, 0xC4500); /* INIT to all but self */
    pit_delay_us(10000);
    lapic_write(LAPIC_ICR_LOW, 0xC4600 | (TRAMPOLINE_BASE >> 12)); /* start-up IPI */
}

/* Starts the other `cpus - 1` CPUs and waits up to 5 s for them all to count themselves in
 * `*arrived`; fails the run if some never do. */
static inline void start_application_processors_and_wait(uint32_t cpus, volatile uint32_t *arrived)
{
    if (cpus < 2) return;
    start_application_processors();
    for (int waited = 0; *arrived < cpus - 1 && waited < 500; waited++) pit_delay_us(10000);
    if (*arrived != cpus - 1) fail("%u of %u application processors started", *arrived, cpus - 1);
}
#endif
