/* MSI-X from virtio-rng into the local APIC in long mode (see msix_rng.h): its handler returns
 * with IRETQ, which PVM-flavoured KVM's emulator runs, so the whole check runs on such hosts too. */
#include "../include/msix_rng.h"

void guest_main(void) { msixrng_main(); }
