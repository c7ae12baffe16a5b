/* Prints the host's TSC rate in kHz, measured against CLOCK_MONOTONIC over 200 ms: the unit in which
 * guests on KVM and QEMU report cycles (both pass the host TSC through). */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
    double start = now();
    uint64_t ticks = __rdtsc();
    while (now() - start < 0.2) {}
    printf("%.0f\n", (__rdtsc() - ticks) / (now() - start) / 1e3);
    return 0;
}
