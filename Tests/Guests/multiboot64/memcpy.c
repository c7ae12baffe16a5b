/* Copies a 1 MiB buffer (above the image) to another, 8 bytes at a time, until n bytes were
 * copied (at least one round; default 64 MiB; "n=NNN" on the command line), changing one source
 * word per round so no round repeats the last; then folds the destination into a checksum. */
#include "guest.h"

enum { BUFFER_WORDS = (1 << 20) / 8 };

void guest_main(void)
{
    uint64_t n = cmdline_number("n", 64u << 20);
    uint64_t *source = (uint64_t *)image_end();
    uint64_t *destination = source + BUFFER_WORDS;
    uint64_t ram_end = 0x100000 + (boot_mem_upper_kib() << 10);
    if ((uintptr_t)(destination + BUFFER_WORDS) > ram_end) fail("RAM ends at 0x%llx, below the buffers", (unsigned long long)ram_end);
    for (uint64_t i = 0; i < BUFFER_WORDS; i++) source[i] = i * 0x9E3779B97F4A7C15ull;

    uint64_t rounds = n / (BUFFER_WORDS * 8);
    if (rounds == 0) rounds = 1;
    uint64_t start = rdtsc();
    for (uint64_t round = 0; round < rounds; round++) {
        for (uint64_t i = 0; i < BUFFER_WORDS; i++) destination[i] = source[i];
        source[round % BUFFER_WORDS] += destination[(round * 7) % BUFFER_WORDS] + round;
    }
    uint64_t cycles = rdtsc() - start;

    uint64_t checksum = 0;
    for (uint64_t i = 0; i < BUFFER_WORDS; i++) checksum = ((checksum << 5) | (checksum >> 59)) ^ destination[i];
    printf("memcpy: checksum %016llx over %llu bytes\n", (unsigned long long)checksum,
           (unsigned long long)(rounds * BUFFER_WORDS * 8));
    printf("cycles: %llu\n", (unsigned long long)cycles);
}
