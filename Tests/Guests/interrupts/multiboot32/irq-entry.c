/* Interrupt handler entry from each source (see irq_entry.h), 32-bit protected mode. */
#include "../include/irq_entry.h"

static void set_tpr_class(uint8_t priority_class) { lapic_write(LAPIC_TPR, (uint32_t)priority_class << 4); }

void guest_main(void) { irq_entry_main(set_tpr_class, "through the MMIO TPR"); }
