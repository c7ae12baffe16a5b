/* kvmclock (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_WALL_CLOCK_NEW;
 * the structures of pvclock-abi.h) on every vCPU at once ("cpus=N", default 2):
 *   - the version protocol: even once written, and advanced by an even step when the guest enables
 *     the clock again; PVCLOCK_TSC_STABLE_BIT set, as CPUID's KVM_FEATURE_CLOCKSOURCE_STABLE_BIT says;
 *   - time as Linux computes it (pvclock_clocksource_read), never going back on one vCPU or across
 *     vCPUs (each reading is at least the latest any vCPU saw before it began);
 *   - over a second of the ACPI PM timer (3.579545 MHz, the host's clock through vmm's PM block),
 *     kvmclock advances by the same time within 0.1% on every vCPU. Each end is a reading bracketed
 *     by two PM timer reads at most 100 us apart, retried otherwise, so a vCPU descheduled by a
 *     loaded host shows up as a retry, not as an error.
 * The wall clock gives a time after 2020. With "tsc-write=1" each vCPU first moves its TSC an hour
 * ahead (WRMSR IA32_TIME_STAMP_COUNTER): kvmclock must still agree with the PM timer and other vCPUs. */
#include "../../../interrupts/include/smp_start.h"
#include "../../include/kvm_para.h"

#define PM_TIMER_PORT 0xB008
#define PM_TIMER_HZ 3579545u
#define PM_TIMER_MASK 0xFFFFFFu
#define BRACKET_TICKS 358u /* 100 us */

struct pvclock_vcpu_time_info {
    volatile uint32_t version;
    uint32_t pad0;
    volatile uint64_t tsc_timestamp;
    volatile uint64_t system_time;
    volatile uint32_t tsc_to_system_mul;
    volatile int8_t tsc_shift;
    volatile uint8_t flags;
    uint8_t pad[2];
} __attribute__((packed));

struct pvclock_wall_clock {
    volatile uint32_t version;
    volatile uint32_t sec;
    volatile uint32_t nsec;
} __attribute__((packed));

struct result {
    uint32_t done, failed, version, version_again, flags, retries, went_back;
    uint64_t clock_ns, timer_ns;
    const char *why;
};

static struct pvclock_vcpu_time_info time_info[MAX_CPUS] __attribute__((aligned(64)));
static struct pvclock_wall_clock wall_clock __attribute__((aligned(64)));
static struct result results[MAX_CPUS];
static volatile uint64_t latest_reading;
static volatile uint32_t start_gate;

/* (delta << shift) * mul >> 32, as pvclock_scale_delta, in 32-bit pieces. */
static uint64_t scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift < 0) delta >>= -shift;
    else delta <<= shift;
    uint64_t low = (uint64_t)(uint32_t)delta * mul;
    uint64_t high = (delta >> 32) * mul;
    return high + (low >> 32);
}

/* pvclock_clocksource_read without its cross-CPU fix-up: the host must give a monotonic clock. */
static uint64_t kvmclock_read(const struct pvclock_vcpu_time_info *info)
{
    uint32_t version;
    uint64_t time;
    do {
        version = info->version;
        __asm__ volatile("" ::: "memory");
        uint64_t tsc = rdtsc();
        time = info->system_time + scale(tsc - info->tsc_timestamp, info->tsc_to_system_mul, info->tsc_shift);
        __asm__ volatile("" ::: "memory");
    } while ((version & 1) || version != info->version);
    return time;
}

static uint32_t pm_timer(void) { return inl(PM_TIMER_PORT) & PM_TIMER_MASK; }
static uint32_t pm_ticks_between(uint32_t from, uint32_t to) { return (to - from) & PM_TIMER_MASK; }

/* A kvmclock reading that is at least the latest any vCPU had seen before it began. 64-bit
 * atomics through CMPXCHG8B (__sync builtins: the __atomic ones want libatomic on i686). */
static uint64_t monotonic_read(struct result *result, const struct pvclock_vcpu_time_info *info)
{
    uint64_t before = __sync_val_compare_and_swap(&latest_reading, 0, 0);
    uint64_t now = kvmclock_read(info);
    if (now < before) result->went_back++;
    uint64_t seen = before;
    while (now > seen) {
        uint64_t found = __sync_val_compare_and_swap(&latest_reading, seen, now);
        if (found == seen) break;
        seen = found;
    }
    return now;
}

/* A kvmclock reading with the PM timer read just before and after; returns the timer's midpoint. */
static int bracketed_read(struct result *result, const struct pvclock_vcpu_time_info *info,
                          uint64_t *clock, uint32_t *timer)
{
    for (int attempt = 0; attempt < 100000; attempt++) {
        uint32_t before = pm_timer();
        uint64_t now = monotonic_read(result, info);
        uint32_t after = pm_timer();
        uint32_t spread = pm_ticks_between(before, after);
        if (spread <= BRACKET_TICKS) {
            *clock = now;
            *timer = (before + spread / 2) & PM_TIMER_MASK;
            return 1;
        }
        result->retries++;
    }
    return 0;
}

static void measure(uint32_t cpu)
{
    struct result *result = &results[cpu];
    struct pvclock_vcpu_time_info *info = &time_info[cpu];
    msr_write(MSR_KVM_SYSTEM_TIME_NEW, (uint32_t)(uintptr_t)info | 1);
    result->version = info->version;
    result->flags = info->flags;
    msr_write(MSR_KVM_SYSTEM_TIME_NEW, (uint32_t)(uintptr_t)info | 1);
    result->version_again = info->version;
    /* A TSC write moves the TSC by an hour; the clock must not move with it. */
    if (cmdline_number("tsc-write", 0)) {
        uint64_t before = kvmclock_read(info);
        msr_write(0x10, rdtsc() + 3600000000000ull);
        uint64_t jump = kvmclock_read(info) - before;
        if (jump > 1000000000ull) {
            result->why = "kvmclock jumped with the TSC";
            result->failed = 1;
            return;
        }
    }
    while (!start_gate) __asm__ volatile("pause");
    uint64_t clock_start, clock_end;
    uint32_t timer_start, timer_end;
    if (!bracketed_read(result, info, &clock_start, &timer_start)) {
        result->why = "no bracketed reading at the start";
        result->failed = 1;
        return;
    }
    /* A second of PM timer ticks, counted across its 24-bit wraps, reading kvmclock meanwhile. */
    uint64_t ticks = 0;
    uint32_t last = timer_start;
    while (ticks < PM_TIMER_HZ) {
        uint32_t now = pm_timer();
        ticks += pm_ticks_between(last, now);
        last = now;
        (void)monotonic_read(result, info);
    }
    if (!bracketed_read(result, info, &clock_end, &timer_end)) {
        result->why = "no bracketed reading at the end";
        result->failed = 1;
        return;
    }
    /* Ticks from timer_start to timer_end: those counted up to `last`, then on to timer_end. */
    uint64_t timer_ticks = ticks + pm_ticks_between(last, timer_end);
    result->timer_ns = udivmod64(timer_ticks * 1000000000ull, PM_TIMER_HZ, 0);
    result->clock_ns = clock_end - clock_start;
}

static volatile uint32_t next_cpu;

void ap_main(void)
{
    uint32_t id = lapic_id();
    if (id < MAX_CPUS) {
        measure(id);
        results[id].done = 1;
    }
    __atomic_fetch_add(&next_cpu, 1, __ATOMIC_SEQ_CST);
}

static void report(uint32_t cpu)
{
    struct result *result = &results[cpu];
    if (result->failed) fail("cpu %u: %s", cpu, result->why);
    if ((result->version & 1) || result->version == 0) fail("cpu %u: version %u after the write", cpu, result->version);
    if (result->version_again <= result->version || ((result->version_again - result->version) & 1))
        fail("cpu %u: version %u, then %u after enabling again", cpu, result->version, result->version_again);
    if (!(result->flags & 1)) fail("cpu %u: no PVCLOCK_TSC_STABLE_BIT (flags 0x%x)", cpu, result->flags);
    if (result->went_back) fail("cpu %u: kvmclock went back %u time(s)", cpu, result->went_back);
    uint64_t clock = result->clock_ns, timer = result->timer_ns;
    uint64_t difference = clock > timer ? clock - timer : timer - clock;
    /* 0.1%: difference * 1000 <= timer. */
    if (difference * 1000 > timer)
        fail("cpu %u: kvmclock advanced %llu ns while the PM timer advanced %llu ns", cpu,
             (unsigned long long)clock, (unsigned long long)timer);
    printf("cpu %u: version %u then %u, stable, within 0.1%% of the PM timer over a second (%u retries)\n",
           cpu, result->version, result->version_again, result->retries);
}

void guest_main(void)
{
    uint32_t cpus = (uint32_t)cmdline_number("cpus", 2);
    if (cpus < 1 || cpus > MAX_CPUS) fail("cpus=%u is outside 1..%u", cpus, MAX_CPUS);
    if (!kvm_signature_present()) fail("no KVM signature at CPUID 0x40000000");
    uint32_t features = kvm_features();
    if (!(features & KVM_FEATURE_CLOCKSOURCE2)) fail("no KVM_FEATURE_CLOCKSOURCE2 (features 0x%x)", features);
    if (!(features & KVM_FEATURE_CLOCKSOURCE_STABLE_BIT)) fail("no KVM_FEATURE_CLOCKSOURCE_STABLE_BIT");
    msr_write(MSR_KVM_WALL_CLOCK_NEW, (uint32_t)(uintptr_t)&wall_clock);
    if (wall_clock.version & 1) fail("wall clock version %u is odd", wall_clock.version);
    if (wall_clock.sec < 1577836800u) fail("wall clock at boot: %u s", wall_clock.sec);
    printf("PASS: wall clock after 2020\n");
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    uint32_t bsp = lapic_id();
    if (cpus > 1) start_application_processors();
    /* Every AP has written its MSR (and waits at the gate) before the measurement starts. */
    for (int waited = 0; waited < 2000; waited++) {
        uint32_t ready = 0;
        for (uint32_t cpu = 0; cpu < cpus; cpu++) ready += cpu != bsp && time_info[cpu].version != 0;
        if (ready == cpus - 1) break;
        pit_delay_us(1000);
    }
    start_gate = 1;
    measure(bsp);
    results[bsp].done = 1;
    for (int waited = 0; next_cpu < cpus - 1 && waited < 2000; waited++) pit_delay_us(10000);
    if (next_cpu != cpus - 1) fail("%u of %u application processors finished", next_cpu, cpus - 1);
    for (uint32_t cpu = 0; cpu < cpus; cpu++) {
        if (!results[cpu].done) fail("cpu %u did not measure", cpu);
        report(cpu);
    }
    printf("PASS: kvmclock on %u vCPU(s)\n", cpus);
}
