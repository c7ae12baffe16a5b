/* Interrupt handler entry from each source (see irq_entry.h) in long mode, where the task priority
 * is set through CR8, which maps onto TPR[7:4] (SDM vol. 3, 10.8.6.1). */
#include "../include/irq_entry.h"

static void set_cr8(uint8_t priority_class)
{
    uint64_t value = priority_class;
    __asm__ volatile("mov %0, %%cr8" : : "r"(value) : "memory");
}

void guest_main(void) { irq_entry_main(set_cr8, "through CR8"); }
