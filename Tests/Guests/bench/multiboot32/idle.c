/* Idle cost: the PIT interrupts at 100 Hz through the 8259 and the CPU sleeps in HLT in between,
 * for "seconds=S" (default 5) seconds of ticks. "idle: start" marks the moment it starts sleeping,
 * from which the host samples the CPU time the VMM burns.
 *
 * The tick handler never returns with IRET: it resets the stack and jumps back to the idle loop.
 * That keeps the guest runnable on PVM-flavoured KVM, whose instruction emulator cannot return
 * from a protected-mode interrupt handler; the loop itself is the same on every backend. */
#include "../../interrupts/include/interrupts.h"

#define TIMER_VECTOR 0x20
#define TICKS_PER_SECOND 100

volatile uint32_t ticks;
uint32_t ticks_wanted;
void idle_tick(void);
void idle_loop(void);

/* Tick entry (interrupt gate, so IF is clear): count, acknowledge the 8259 (non-specific EOI,
 * 8259A data sheet, OCW2), drop the interrupt frame and go back to sleeping. */
__asm__(".text\n"
        ".global idle_tick\n"
        "idle_tick:\n"
        "    incl ticks\n"
        "    movb $0x20, %al\n"
        "    outb %al, $0x20\n"
        "    mov $idle_stack + 4096, %esp\n"
        "    jmp idle_loop\n");

uint8_t idle_stack[4096] __attribute__((aligned(16)));

void idle_loop(void)
{
    while (ticks < ticks_wanted) wait_for_interrupt();
    printf("idle: %u ticks\n", ticks);
    pass();
}

void guest_main(void)
{
    ticks_wanted = (uint32_t)cmdline_number("seconds", 5) * TICKS_PER_SECOND;
    printf("idle: start\n");
    idt_set(TIMER_VECTOR, (interrupt_handler)idle_tick);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFE);
    /* Channel 0, mode 2 (rate generator), 1193182 / 11932 = 100 Hz (8254 data sheet). */
    uint16_t divisor = PIT_HZ / TICKS_PER_SECOND;
    outb(0x43, 0x34);
    outb(0x40, (uint8_t)divisor);
    outb(0x40, (uint8_t)(divisor >> 8));
    __asm__ volatile("mov $idle_stack + 4096, %%esp; jmp idle_loop" ::: "memory");
    __builtin_unreachable();
}
