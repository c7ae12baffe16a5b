/* The task-priority check shared by the 32-bit (TPR through MMIO) and 64-bit (TPR through CR8)
 * guests: a self-IPI of class 5 is held while the task priority class is 6 and arrives as soon as
 * the priority is lowered (SDM vol. 3, 10.8.3.1 and 10.8.6.1). */
#ifndef GUEST_TPR_CHECK_H
#define GUEST_TPR_CHECK_H
#include "interrupts.h"

#define HELD_VECTOR 0x50
#define SPURIOUS_VECTOR 0xFF

static volatile uint32_t held_arrivals;

__attribute__((interrupt)) static void held_handler(struct interrupt_frame *frame)
{
    (void)frame;
    held_arrivals++;
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* `set_priority_class(c)` sets TPR to c << 4 by the guest's chosen means; `how` names it. */
static inline void check_task_priority(void (*set_priority_class)(uint8_t), const char *how)
{
    idt_set(HELD_VECTOR, held_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);

    set_priority_class(6);
    CHECK_EQ("TPR after raising the class to 6", lapic_read(LAPIC_TPR), 0x60);
    lapic_self_ipi(HELD_VECTOR);
    for (int i = 0; i < 1000; i++) interrupt_window();
    CHECK_EQ("arrivals while TPR class 6 >= vector class 5", held_arrivals, 0);
    CHECK_EQ("IRR bit of the held vector", lapic_bit(LAPIC_IRR, HELD_VECTOR), 1);
    CHECK_EQ("PPR while held", lapic_read(LAPIC_PPR), 0x60);
    printf("PASS: self-IPI 0x50 held by task priority class 6 set %s\n", how);

    set_priority_class(5);
    interrupt_window();
    CHECK_EQ("arrivals at TPR class 5 (not above)", held_arrivals, 0);
    set_priority_class(4);
    interrupt_window();
    CHECK_EQ("arrivals right after lowering the class to 4", held_arrivals, 1);
    CHECK_EQ("IRR bit after delivery", lapic_bit(LAPIC_IRR, HELD_VECTOR), 0);
    CHECK_EQ("ISR bit after the EOI", lapic_bit(LAPIC_ISR, HELD_VECTOR), 0);
    printf("PASS: lowering the class %s let it in at once\n", how);
}

#endif
