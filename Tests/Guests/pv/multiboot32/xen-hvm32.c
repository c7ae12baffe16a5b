/* xen_hvm.h's checks in 32-bit protected mode: the 32-bit blob and stubs. */
#include "../include/xen_hvm.h"

void guest_main(void) { xen_hvm_check(); }
