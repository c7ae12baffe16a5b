/* The same AP start-up code as the smp guest (INIT-SIPI, SDM vol. 3, 8.4.4.2): it calls ap_main. */
#include "../smp/trampoline.S"
