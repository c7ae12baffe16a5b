/* A hostile guest for the interrupt controllers: for "rounds=N" rounds (default 2000, seed from
 * "seed=N") it writes pseudo-random values to every register of the 8259 pair and the ELCR, the
 * 8254 and port 0x61, the IOAPIC's index/data window and EOI register, and every offset of the
 * local APIC page, including ICR commands (INIT, SIPI, NMI, fixed...) to APIC IDs no CPU has, and
 * opens short interrupt windows so that whatever those settings raise gets delivered. Every vector
 * has a handler that counts and acknowledges both controllers. It then exits: the VMM must neither
 * crash nor hang, whatever the registers were set to.
 *
 * Kept out of the storm so the guest itself survives (a real CPU would reset or leave the guest's
 * control): INIT, start-up and SMI messages addressed to this CPU, whether by an IOAPIC entry, a
 * local vector table entry or the ICR, and the IA32_APIC_BASE MSR. Long mode, because its IRETQ is what a PVM host's KVM can emulate. */
#include "../include/interrupts.h"

#define LAPIC_PAGE_DWORDS (0x1000 / 4)

static uint64_t random_state;
static volatile uint32_t deliveries;

static uint32_t next_random(void)
{
    /* xorshift64 (Marsaglia 2003). */
    random_state ^= random_state << 13;
    random_state ^= random_state >> 7;
    random_state ^= random_state << 17;
    return (uint32_t)(random_state >> 16);
}

/* The frame the CPU pushes in long mode (SDM vol. 3, 6.14.2). */
struct interrupt_frame {
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Acknowledges whichever controller may have sent the interrupt (an EOI to a controller with
 * nothing in service does nothing) and returns with IF clear: a level-triggered source the storm
 * left asserted would otherwise interrupt again at once, forever, as on real hardware. */
__attribute__((interrupt)) static void any_vector(struct interrupt_frame *frame)
{
    frame->rflags &= ~0x200ull;
    deliveries++;
    lapic_eoi();
    outb(0xA0, 0x20);
    outb(0x20, 0x20);
}

/* An APIC delivery mode that cannot reset or stop this CPU: INIT (5), start-up (6) and SMI (2)
 * become fixed (0). */
static uint32_t harmless_delivery_mode(uint32_t low)
{
    uint32_t mode = (low >> 8) & 7;
    if (mode == 2 || mode == 5 || mode == 6) low &= ~0x700u;
    return low;
}

static void storm_pic_and_pit(void)
{
    static const uint16_t ports[] = { 0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x41, 0x42, 0x43, 0x61 };
    for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        uint32_t value = next_random();
        /* Port 0x61 bits 2-3 would gate NMIs on a PC; keep them as the guest found them. */
        if (ports[i] == 0x61) value = (value & 0x03) | (inb(0x61) & 0x0C);
        outb(ports[i], (uint8_t)value);
        (void)inb(ports[next_random() % (sizeof(ports) / sizeof(ports[0]))]);
    }
}

static void storm_ioapic(void)
{
    for (int i = 0; i < 4; i++) {
        uint32_t index = next_random() & 0xFF;
        uint32_t value = next_random();
        /* Redirection entries' low dwords (even indices 0x10-0x3e): no INIT/SIPI/SMI to anyone. */
        if (index >= 0x10 && index < 0x40 && (index & 1) == 0) value = harmless_delivery_mode(value);
        mmio_write32(IOAPIC_BASE, index);
        mmio_write32(IOAPIC_BASE + 0x10, value);
        (void)mmio_read32(IOAPIC_BASE + 0x10);
    }
    mmio_write32(IOAPIC_BASE + 0x40, next_random() & 0xFF);
}

static void storm_local_apic(void)
{
    for (int i = 0; i < 8; i++) {
        uint32_t offset = (next_random() % LAPIC_PAGE_DWORDS) * 4;
        uint32_t value = next_random();
        /* Registers sit on 16-byte boundaries; QEMU decodes the others as the register they fall in. */
        uint32_t reg = offset & ~0xFu;
        /* QEMU takes a write to offset 0 (reserved) as an MSI, whose data may say INIT. */
        if (reg == 0 || reg == LAPIC_ICR_LOW || reg == LAPIC_ICR_HIGH) continue;
        /* The LVT (CMCI at 0x2f0 to error at 0x370): LINT0/1 may be INIT, the others SMI. */
        if (reg >= 0x2F0 && reg <= 0x370) value = harmless_delivery_mode(value);
        lapic_write(offset, value);
        (void)lapic_read((next_random() % LAPIC_PAGE_DWORDS) * 4);
    }
    /* An IPI of any delivery mode (INIT and SIPI included) to a physical APIC ID no CPU has. The
     * ID register was written at random above, so avoid whatever ID this APIC has now. */
    uint8_t own = (uint8_t)(lapic_read(LAPIC_ID) >> 24);
    uint8_t destination = (uint8_t)(0x10 + next_random() % 0xE0);
    if (destination == own) destination++;
    lapic_write(LAPIC_ICR_HIGH, (uint32_t)destination << 24);
    lapic_write(LAPIC_ICR_LOW, next_random() & ~0x000C0800u);
}

void guest_main(void)
{
    uint32_t rounds = (uint32_t)cmdline_number("rounds", 2000);
    random_state = cmdline_number("seed", 1) * 0x9E3779B97F4A7C15ull | 1;
    for (int vector = 0; vector < 256; vector++) idt_set((uint8_t)vector, any_vector);
    idt_load();
    for (uint32_t round = 0; round < rounds; round++) {
        storm_pic_and_pit();
        storm_ioapic();
        storm_local_apic();
        interrupt_window();
    }
    /* Quiet the controllers so the exit is not raced by a storm of interrupts (IF stays 0). */
    pic_set_mask(0xFFFF);
    lapic_write(LAPIC_SVR, 0);
    printf("info: %u interrupts delivered\n", deliveries);
    printf("PASS: %u rounds of random controller writes\n", rounds);
}
