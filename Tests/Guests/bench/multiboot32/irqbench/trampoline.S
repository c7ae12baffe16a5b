/* The application processors' start-up code is the SMP test guest's: it calls ap_main (main.c). */
#include "../../../interrupts/multiboot32/smp/trampoline.S"
