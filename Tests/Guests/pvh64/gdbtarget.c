/* A guest for the gdb stub's tests: gdb breaks at gdb_step_taken (a symbol of this ELF), reads
 * gdb_marker, single-steps, and watches gdb_total, which each call changes. The guest itself
 * checks that the debugger left it computing what it would have computed alone. */
#include "guest.h"

volatile unsigned int gdb_marker = 0x600dcafe;
volatile unsigned long gdb_total;

__attribute__((noinline)) void gdb_step_taken(unsigned int step)
{
    gdb_total += step;
}

void guest_main(void)
{
    for (unsigned int step = 1; step <= 5; step++)
        gdb_step_taken(step);
    CHECK_EQ("gdb_total", gdb_total, 15);
    printf("gdbtarget: total %lu\n", gdb_total);
}
