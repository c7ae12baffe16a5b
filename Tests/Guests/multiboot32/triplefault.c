/* Makes the CPU shut down: with an empty IDT (limit 0) no exception can be delivered, so #UD
 * becomes #GP, then #DF, then a triple fault (Intel SDM vol. 3, 6.15, interrupt 8). */
#include "guest.h"

void guest_main(void)
{
    static const struct __attribute__((packed)) { uint16_t limit; uint32_t base; } empty_idt = { 0, 0 };
    printf("about to triple fault\n");
    __asm__ volatile("lidt %0; ud2" : : "m"(empty_idt));
    fail("still running after the triple fault");
}
