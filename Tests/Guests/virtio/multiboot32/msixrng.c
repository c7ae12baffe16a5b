/* MSI-X from virtio-rng into the local APIC, in 32-bit protected mode (see msix_rng.h). */
#include "../include/msix_rng.h"

void guest_main(void) { msixrng_main(); }
