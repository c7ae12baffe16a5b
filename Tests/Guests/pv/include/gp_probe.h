/* A #GP handler that skips the faulting two-byte instruction (WRMSR 0F 30, RDMSR 0F 32) and counts
 * it, so a guest can ask whether an MSR exists. */
#ifndef GUEST_GP_PROBE_H
#define GUEST_GP_PROBE_H
#include "../../interrupts/include/interrupts.h"

#define GP_VECTOR 13
static volatile uint32_t gp_count;

struct gp_frame { uintptr_t ip, cs, flags; };
__attribute__((interrupt)) static void gp_handler(struct interrupt_frame *frame, uintptr_t error)
{
    (void)error;
    ((struct gp_frame *)frame)->ip += 2;
    gp_count++;
}

static inline void gp_probe_install(void) { idt_set(GP_VECTOR, (interrupt_handler)(void (*)(void))gp_handler); }

/* Whether WRMSR(msr, value) raised #GP. */
static inline int wrmsr_faults(uint32_t msr, uint64_t value)
{
    uint32_t before = gp_count;
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
    return gp_count != before;
}
#endif
