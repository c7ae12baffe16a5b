/* A hostile guest on several CPUs at once: every CPU (started with INIT-SIPI, as in the smp guest)
 * makes "accesses=N" pseudo-random accesses in all (default 40000, seed from "seed=N"), each a port
 * read or write anywhere in the 64 KiB port space, an MMIO read or write of 1, 2 or 4 bytes in the
 * local APIC page, the IOAPIC window, the test device's page, PCI's ECAM or anywhere else in the
 * hole below 4 GiB, or an RDMSR/WRMSR. Without "anymsr=1" the storm keeps to MSRs that exist on
 * every backend: the TSC, IA32_APIC_BASE (read), the TSC deadline, and kvmclock's and PV EOI's
 * MSRs, kvmclock's guest addresses aimed at the end of RAM, across 2^32 and 2^64, at the MMIO hole
 * and at a scratch page. "anymsr=1" adds random indices, skipping the #GP they raise (so it needs 32-bit
 * IRET, which a PVM host's KVM cannot emulate). Interrupts stay disabled: whatever the storm makes
 * pending is never taken. Then the guest prints what it did and exits: the VMM must neither crash
 * nor hang.
 *
 * Kept out of the storm so the guest survives to count (a real machine would reset, power off or
 * lose its console): writes to the debug-exit port, COM1, the i8042 command port, the reset control
 * register and ACPI's PM1 control block; INIT, start-up, SMI and NMI messages, by IOAPIC entries,
 * LVT entries or the ICR; writes of IA32_APIC_BASE, EFER and the segment-base MSRs. */
#include "../../include/smp_start.h"

#define LAPIC_PAGE_DWORDS (0x1000 / 4)
#define TEST_DEVICE_MMIO 0xD0000000u
#define ECAM_BASE 0xC0000000u
#define MMIO_HOLE_START 0xC0000000u

static volatile uint32_t next_cpu, go, finished;
static volatile uint32_t done_by_cpu[MAX_CPUS];
static volatile uint32_t faults;
static uint32_t accesses_per_cpu, any_msr, ram_end;
static uint64_t seed;
static uint8_t scratch_page[4096] __attribute__((aligned(4096)));

/* xorshift64 (Marsaglia 2003), one state per CPU. */
static uint32_t next_random(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)(*state >> 16);
}

static int writable_port(uint16_t port)
{
    if (port >= 0xF4 && port <= 0xF7) return 0;     /* debug exit */
    if (port >= 0x3F8 && port <= 0x3FF) return 0;   /* COM1: the console */
    if (port == 0x64 || port == 0xCF9) return 0;    /* i8042 commands (0xFE resets), reset control */
    if (port >= 0xB004 && port <= 0xB007) return 0; /* ACPI PM1 control: SLP_EN powers off */
    return 1;
}

static void port_access(uint64_t *state)
{
    uint32_t choice = next_random(state);
    uint16_t port = (uint16_t)next_random(state);
    uint32_t value = next_random(state);
    int write = choice & 1;
    switch ((choice >> 1) % 3) {
    case 0:
        if (write && writable_port(port)) outb(port, (uint8_t)value); else (void)inb(port);
        break;
    case 1:
        if (write && writable_port(port) && writable_port(port + 1)) outw(port, (uint16_t)value); else (void)inw(port);
        break;
    default:
        if (write && writable_port(port) && writable_port(port + 3)) outl(port, value); else (void)inl(port);
        break;
    }
}

/* An APIC delivery mode (bits 8-10) that cannot reset, stop or interrupt-with-NMI a CPU: SMI (2),
 * NMI (4), INIT (5) and start-up (6) become fixed (0). */
static uint32_t harmless_delivery_mode(uint32_t low)
{
    uint32_t mode = (low >> 8) & 7;
    if (mode == 2 || mode == 4 || mode == 5 || mode == 6) low &= ~0x700u;
    return low;
}

static void mmio_access(uint64_t *state)
{
    uint32_t choice = next_random(state);
    uint32_t value = next_random(state);
    uint32_t address;
    switch ((choice >> 3) % 5) {
    case 0: {
        uint32_t reg = (next_random(state) % LAPIC_PAGE_DWORDS) * 4 & ~0xFu;
        /* Offset 0 is reserved; the LVT (0x2f0-0x370) and the ICR get harmless delivery modes. */
        if (reg >= 0x2F0 && reg <= 0x370) value = harmless_delivery_mode(value);
        if (reg == LAPIC_ICR_LOW) value = harmless_delivery_mode(value);
        address = LAPIC_BASE + reg;
        break;
    }
    case 1: {
        uint32_t index = next_random(state) & 0xFF;
        if (index >= 0x10 && index < 0x40 && (index & 1) == 0) value = harmless_delivery_mode(value);
        mmio_write32(IOAPIC_BASE, index);
        address = IOAPIC_BASE + 0x10;
        choice &= ~6u; /* the data window is 32 bits wide */
        break;
    }
    case 2: address = TEST_DEVICE_MMIO + (next_random(state) & 0xFFF); break;
    case 3: address = ECAM_BASE + (next_random(state) & 0xFFFFF); break;
    default:
        /* Anywhere in the hole but the APIC pages, which the cases above aim at with care. */
        address = MMIO_HOLE_START + next_random(state) % (0x40000000u - 0x1000u);
        if (address >= IOAPIC_BASE && address < LAPIC_BASE + 0x1000) address -= 0x400000;
        break;
    }
    int write = choice & 1;
    switch ((choice >> 1) & 3) {
    case 0:
        if (write) mmio_write8(address, (uint8_t)value); else (void)mmio_read8(address);
        break;
    case 1:
        address &= ~1u;
        if (write) mmio_write16(address, (uint16_t)value); else (void)mmio_read16(address);
        break;
    default:
        address &= ~3u;
        if (write) mmio_write32(address, value); else (void)mmio_read32(address);
        break;
    }
}

static uint64_t rdmsr(uint32_t index)
{
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(index));
    return (uint64_t)high << 32 | low;
}

static void wrmsr(uint32_t index, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}

/* A guest-physical address for a paravirtual page: the scratch page, across the end of RAM, across
 * 2^32 and 2^64, in the MMIO hole (the local APIC's page among it), or anything. */
static uint64_t hostile_address(uint64_t *state)
{
    uint32_t offset = next_random(state) & 0xFF8;
    switch (next_random(state) % 6) {
    case 0: return (uintptr_t)scratch_page + (offset & 0x7C0);
    case 1: return ram_end - 8 + (offset & 0x8);
    case 2: return 0xFFFFFFF8ull + (offset & 0x8);
    case 3: return 0xFFFFFFFFFFFFFFC0ull + (offset & 0x38);
    case 4: return (next_random(state) & 1 ? LAPIC_BASE : MMIO_HOLE_START) + offset;
    default: return (uint64_t)next_random(state) << 32 | next_random(state);
    }
}

static void msr_access(uint64_t *state)
{
    static const uint32_t readable[] = { 0x10, 0x1B, 0x6E0, 0x4B564D00, 0x4B564D01, 0x4B564D04 };
    uint32_t choice = next_random(state);
    if (any_msr && choice & 8) {
        uint32_t index = next_random(state);
        if (choice & 16) index &= 0x1FFF; else if (choice & 32) index = 0xC0000000u | (index & 0x1FFF);
        int protected_msr = index == 0x1B || index == 0xC0000080u || (index >= 0xC0000100u && index <= 0xC0000102u);
        if (choice & 1 && !protected_msr) wrmsr(index, (uint64_t)next_random(state) << 32 | next_random(state));
        else (void)rdmsr(index);
        return;
    }
    if (!(choice & 1)) {
        (void)rdmsr(readable[(choice >> 1) % (sizeof(readable) / sizeof(readable[0]))]);
        return;
    }
    switch ((choice >> 1) % 4) {
    case 0: wrmsr(0x6E0, rdmsr(0x10) + (next_random(state) & 0xFFFFF)); break;  /* TSC deadline */
    case 1: wrmsr(0x4B564D00, hostile_address(state) & ~7ull); break;          /* kvmclock wall clock */
    case 2: wrmsr(0x4B564D01, hostile_address(state) | (choice >> 4 & 1)); break; /* kvmclock system time */
    default:
        /* PV EOI: an address outside RAM is refused with #GP (by KVM and vmm alike), which only
         * anymsr=1 handles; otherwise the scratch page. */
        wrmsr(0x4B564D04, (any_msr ? hostile_address(state) : (uintptr_t)scratch_page + (choice & 0xFFC)) | (choice >> 4 & 1));
        break;
    }
}

/* With anymsr=1, a #GP from RDMSR/WRMSR (both two bytes long) skips the instruction. */
struct gp_frame {
    uint32_t error, eip, cs, eflags;
};

static void __attribute__((used)) skip_faulting_msr(struct gp_frame *frame)
{
    __atomic_fetch_add(&faults, 1, __ATOMIC_RELAXED);
    frame->eip += 2;
}

void gp_entry(void);
__asm__(".globl gp_entry\n"
        "gp_entry:\n\t"
        "pusha\n\t"
        "lea 32(%esp), %eax\n\t"
        "push %eax\n\t"
        "call skip_faulting_msr\n\t"
        "add $4, %esp\n\t"
        "popa\n\t"
        "add $4, %esp\n\t" /* the error code */
        "iret");

static void work(void)
{
    uint32_t cpu = __atomic_fetch_add(&next_cpu, 1, __ATOMIC_SEQ_CST);
    uint64_t state = (seed * 0x9E3779B97F4A7C15ull + cpu * 0xBF58476D1CE4E5B9ull) | 1;
    while (!go) __asm__ volatile("pause");
    for (uint32_t done = 0; done < accesses_per_cpu; done++) {
        switch (next_random(&state) % 3) {
        case 0: port_access(&state); break;
        case 1: mmio_access(&state); break;
        default: msr_access(&state); break;
        }
    }
    done_by_cpu[cpu] = accesses_per_cpu;
    __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

void ap_main(void)
{
    if (any_msr) {
        adopt_bsp_segments();
        idt_load();
    }
    work();
    for (;;) __asm__ volatile("cli; hlt");
}

void guest_main(void)
{
    uint32_t cpus = (uint32_t)cmdline_number("cpus", 4);
    uint32_t accesses = (uint32_t)cmdline_number("accesses", 40000);
    seed = cmdline_number("seed", 1);
    any_msr = (uint32_t)cmdline_number("anymsr", 0);
    ram_end = (uint32_t)cmdline_number("ramend", 0x8000000);
    if (cpus < 1 || cpus > MAX_CPUS) fail("cpus=%u is outside 1..%u", cpus, MAX_CPUS);
    accesses_per_cpu = (accesses + cpus - 1) / cpus;
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    if (any_msr) {
        idt_set(13, (interrupt_handler)gp_entry);
        idt_load();
    }
    start_application_processors_and_wait(cpus, &next_cpu);
    go = 1;
    work();
    while (finished != cpus) __asm__ volatile("pause");
    uint32_t total = 0;
    for (uint32_t cpu = 0; cpu < cpus; cpu++) total += done_by_cpu[cpu];
    printf("info: %u MSR faults skipped\n", faults);
    printf("PASS: %u random port, MMIO and MSR accesses from %u CPUs\n", total, cpus);
}
