/* What the benchmark guests share: the median of a set of TSC samples and the result line that
 * benchmarks/run parses. Figures stay in TSC cycles; the script converts them to time with the
 * backend's TSC rate (KVM and QEMU pass the host TSC through; the Soft CPU counts nanoseconds).
 * Header-only, like interrupts.h. */
#ifndef GUEST_BENCH_H
#define GUEST_BENCH_H
#include "../../interrupts/include/interrupts.h"

/* Sorts `samples` in place (insertion sort: a few thousand samples at most) and returns the middle. */
static inline uint64_t median(uint64_t *samples, uint32_t count)
{
    for (uint32_t i = 1; i < count; i++) {
        uint64_t value = samples[i];
        uint32_t j = i;
        for (; j > 0 && samples[j - 1] > value; j--) samples[j] = samples[j - 1];
        samples[j] = value;
    }
    return count ? samples[count / 2] : 0;
}

/* "<what>: <cycles> cycles". */
static inline void report(const char *what, uint64_t cycles)
{
    printf("%s: %llu cycles\n", what, (unsigned long long)cycles);
}

#endif
