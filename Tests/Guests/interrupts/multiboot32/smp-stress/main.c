/* SMP stress for the guarantees of SDM vol. 3, 9.1.2 (locked operations are atomic whatever the
 * page or alignment, split locks included) and 9.1.3 (cross-modifying code). All CPUs (started with
 * INIT-SIPI, as in the smp guest) run one case at once, chosen by "case=" on the command line, for
 * "iterations=" rounds each; the run passes only if no update and no code change is lost.
 *   case=1  LOCK XADD on a counter in the same 4 KiB page as code every CPU is running
 *   case=2  LOCK XADD on a counter misaligned by "misalign=" bytes (default 6, across 8 bytes)
 *   case=3  each CPU rewrites the immediate of its own `mov eax, imm32; ret` in a shared code page
 *           and calls it: the call must return the new immediate (the writer sees its own write at
 *           once; 9.1.3 lets other CPUs see it by their next serializing instruction) */
#include "../../include/smp_start.h"

#define CHUNK 64

/* Code and data in one page: chunk i holds CPU i's stub; the counters sit in the second half. */
static uint8_t code_page[4096] __attribute__((aligned(4096)));
static uint8_t split_buffer[64] __attribute__((aligned(64)));

static volatile uint32_t next_cpu, go, finished, stale_calls;
static volatile uint32_t stale_by_cpu[MAX_CPUS];
static uint32_t test_case, iterations, misalign;

typedef uint32_t (*stub_function)(void);

static void write_stub(uint32_t cpu, uint32_t value)
{
    volatile uint8_t *stub = code_page + cpu * CHUNK;
    stub[0] = 0xB8; /* mov eax, imm32 */
    *(volatile uint32_t *)(stub + 1) = value;
    stub[5] = 0xC3; /* ret */
}

static uint32_t call_stub(uint32_t cpu) { return ((stub_function)(uintptr_t)(code_page + cpu * CHUNK))(); }

static void locked_add(volatile uint32_t *counter)
{
    uint32_t one = 1;
    __asm__ volatile("lock xaddl %0, %1" : "+r"(one), "+m"(*counter) : : "memory");
}

static void work(void)
{
    uint32_t cpu = __atomic_fetch_add(&next_cpu, 1, __ATOMIC_SEQ_CST);
    write_stub(cpu, 0);
    while (!go) __asm__ volatile("pause");
    volatile uint32_t *page_counter = (volatile uint32_t *)(code_page + 2048);
    volatile uint32_t *split_counter = (volatile uint32_t *)(split_buffer + misalign);
    uint32_t stale = 0;
    for (uint32_t round = 1; round <= iterations; round++) {
        switch (test_case) {
        case 1:
            (void)call_stub(cpu);
            locked_add(page_counter);
            break;
        case 2:
            locked_add(split_counter);
            break;
        default:
            write_stub(cpu, round);
            if (call_stub(cpu) != round) stale++;
            break;
        }
    }
    stale_by_cpu[cpu] = stale;
    __atomic_fetch_add(&stale_calls, stale, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

void ap_main(void) { work(); }

void guest_main(void)
{
    uint32_t cpus = (uint32_t)cmdline_number("cpus", 2);
    test_case = (uint32_t)cmdline_number("case", 1);
    iterations = (uint32_t)cmdline_number("iterations", 10000);
    misalign = (uint32_t)cmdline_number("misalign", 6);
    if (cpus < 1 || cpus > MAX_CPUS) fail("cpus=%u is outside 1..%u", cpus, MAX_CPUS);
    if (test_case < 1 || test_case > 3) fail("case=%u is outside 1..3", test_case);
    if (misalign > 60) fail("misalign=%u is over 60", misalign);
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);

    start_application_processors_and_wait(cpus, &next_cpu);
    go = 1;
    work();
    while (finished != cpus) __asm__ volatile("pause");

    uint32_t expected = cpus * iterations;
    switch (test_case) {
    case 1: {
        uint32_t count = *(volatile uint32_t *)(code_page + 2048);
        printf("locked increments on a code page: %u of %u\n", count, expected);
        if (count != expected) fail("%u locked increments lost", expected - count);
        break;
    }
    case 2: {
        uint32_t count = *(volatile uint32_t *)(split_buffer + misalign);
        printf("locked increments misaligned by %u: %u of %u\n", misalign, count, expected);
        if (count != expected) fail("%u locked increments lost", expected - count);
        break;
    }
    default:
        for (uint32_t cpu = 0; cpu < cpus; cpu++) printf("cpu %u: %u stale calls\n", cpu, stale_by_cpu[cpu]);
        printf("calls that ran the old immediate: %u of %u\n", stale_calls, expected);
        if (stale_calls != 0) fail("%u calls ran stale code", stale_calls);
        break;
    }
}
