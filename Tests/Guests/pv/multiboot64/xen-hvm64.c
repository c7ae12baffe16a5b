/* xen_hvm.h's checks in long mode: the 64-bit blob and stubs. */
#include "../include/xen_hvm.h"

void guest_main(void) { xen_hvm_check(); }
