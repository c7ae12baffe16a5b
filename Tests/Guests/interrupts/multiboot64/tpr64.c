/* Task priority through CR8, which 64-bit mode maps onto TPR[7:4] (SDM vol. 3, 10.8.6.1). */
#include "../include/tpr_check.h"

static void set_cr8(uint8_t priority_class)
{
    uint64_t value = priority_class;
    __asm__ volatile("mov %0, %%cr8" : : "r"(value) : "memory");
}

static uint64_t read_cr8(void)
{
    uint64_t value;
    __asm__ volatile("mov %%cr8, %0" : "=r"(value));
    return value;
}

void guest_main(void)
{
    lapic_write(LAPIC_TPR, 0x30);
    CHECK_EQ("CR8 after writing TPR 0x30", read_cr8(), 3);
    step("CR8 reads TPR[7:4]");
    check_task_priority(set_cr8, "through CR8");
}
