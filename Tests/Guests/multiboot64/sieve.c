/* Sieve of Eratosthenes over n bytes (default 1,000,000; "n=NNN" on the command line), placed just
 * above the image. The benchmark's n = 300,000,000 needs about 300 MiB of guest RAM (--memory 512M). */
#include "guest.h"

void guest_main(void)
{
    uint64_t n = cmdline_number("n", 1000000);
    uint8_t *composite = (uint8_t *)image_end();
    uint64_t ram_end = 0x100000 + (boot_mem_upper_kib() << 10);
    if (n < 2 || (uintptr_t)composite + n > ram_end)
        fail("n=%llu does not fit between 0x%lx and the end of RAM 0x%llx", (unsigned long long)n,
             (unsigned long)(uintptr_t)composite, (unsigned long long)ram_end);

    uint64_t start = rdtsc();
    for (uint64_t i = 0; i < n; i++) composite[i] = 0;
    for (uint64_t i = 2; i * i < n; i++)
        if (!composite[i])
            for (uint64_t j = i * i; j < n; j += i) composite[j] = 1;
    uint64_t primes = 0;
    for (uint64_t i = 2; i < n; i++) primes += !composite[i];
    uint64_t cycles = rdtsc() - start;

    printf("sieve: %llu primes below %llu\n", (unsigned long long)primes, (unsigned long long)n);
    printf("cycles: %llu\n", (unsigned long long)cycles);
}
