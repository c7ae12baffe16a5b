/* Task priority through the local APIC's MMIO TPR register. */
#include "../include/tpr_check.h"

static void set_tpr_class(uint8_t priority_class) { lapic_write(LAPIC_TPR, (uint32_t)priority_class << 4); }

void guest_main(void) { check_task_priority(set_tpr_class, "through the MMIO TPR"); }
