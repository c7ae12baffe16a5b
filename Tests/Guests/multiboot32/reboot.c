/* Resets the machine once through each of a PC's reset paths and counts its boots in a CMOS RAM
 * byte, which a reset leaves alone (the RTC's RAM is battery-backed): the keyboard controller's
 * pulse (0xFE to port 0x64), the chipset's reset control register (0xCF9), the register the FADT
 * names (ACPI 6.4, 5.2.9: RESET_REG and RESET_VALUE), and with triple=1 a triple fault. Each boot
 * also checks that RAM outside the kernel reads zero again (vmm clears it; QEMU, like a PC's warm
 * reset, does not: cleared=0 skips the check), then leaves a marker there.
 * skip=N starts N paths further down that list. With loop=1 every boot resets at once and nothing
 * ends the run but vmm (--timeout, Ctrl-C). The last boot reports PASS. */
#include "guest.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
/* General-purpose CMOS RAM that neither vmm nor QEMU's PC board gives a meaning. */
#define BOOT_COUNTER 0x7f
/* RAM the loader never writes: it must read zero after a reset. */
#define MARKER ((volatile uint32_t *)0x400000)

static uint8_t cmos_read(uint8_t index) { outb(CMOS_INDEX, index); return inb(CMOS_DATA); }
static void cmos_write(uint8_t index, uint8_t value) { outb(CMOS_INDEX, index); outb(CMOS_DATA, value); }

static __attribute__((noreturn)) void wait_for_reset(const char *how)
{
    for (volatile uint32_t spin = 0; spin < 100000000; spin++) {}
    fail("still running after the reset through %s", how);
}

/* The 8042: the self-test, then the pulse of output-port bit 0, the CPU's reset line. */
static __attribute__((noreturn)) void reset_through_keyboard_controller(void)
{
    while (inb(0x64) & 0x02) {}
    outb(0x64, 0xaa);
    while (!(inb(0x64) & 0x01)) {}
    CHECK_EQ("i8042 self-test", inb(0x60), 0x55);
    outb(0x64, 0xfe);
    wait_for_reset("the keyboard controller");
}

static __attribute__((noreturn)) void reset_through_port_cf9(void)
{
    outb(0xcf9, 0x02);
    CHECK_EQ("0xcf9 reads SYS_RST back", inb(0xcf9), 0x02);
    outb(0xcf9, 0x06);
    wait_for_reset("port 0xcf9");
}

static uint8_t checksum(const uint8_t *bytes, uint32_t length)
{
    uint8_t sum = 0;
    for (uint32_t i = 0; i < length; i++) sum += bytes[i];
    return sum;
}

/* The RSDP in the BIOS area (ACPI 6.4, 5.2.5.1), the RSDT, then the FADT's reset register. */
static __attribute__((noreturn)) void reset_through_fadt(void)
{
    const uint8_t *rsdp = 0;
    for (uintptr_t at = 0xe0000; at < 0x100000 && !rsdp; at += 16) {
        if (memcmp((const void *)at, "RSD PTR ", 8) == 0 && checksum((const uint8_t *)at, 20) == 0) rsdp = (const uint8_t *)at;
    }
    if (!rsdp) fail("no RSDP");
    const uint8_t *rsdt = (const uint8_t *)*(const uint32_t *)(rsdp + 16);
    uint32_t entries = (*(const uint32_t *)(rsdt + 4) - 36) / 4;
    const uint8_t *fadt = 0;
    for (uint32_t i = 0; i < entries && !fadt; i++) {
        const uint8_t *table = (const uint8_t *)((const uint32_t *)(rsdt + 36))[i];
        if (memcmp(table, "FACP", 4) == 0) fadt = table;
    }
    if (!fadt) fail("no FADT");
    CHECK_EQ("FADT checksum", checksum(fadt, *(const uint32_t *)(fadt + 4)), 0);
    if (!(*(const uint32_t *)(fadt + 112) & (1u << 10))) fail("the FADT has no reset register (RESET_REG_SUP clear)");
    CHECK_EQ("RESET_REG address space (system I/O)", fadt[116], 1);
    uint16_t port = *(const uint16_t *)(fadt + 120);
    uint8_t value = fadt[128];
    printf("FADT reset register: port 0x%x, value 0x%x\n", port, value);
    outb(port, value);
    wait_for_reset("the FADT's reset register");
}

static __attribute__((noreturn)) void triple_fault(void)
{
    static const struct __attribute__((packed)) { uint16_t limit; uint32_t base; } empty_idt = { 0, 0 };
    __asm__ volatile("lidt %0; ud2" : : "m"(empty_idt));
    fail("still running after the triple fault");
}

void guest_main(void)
{
    if (cmdline_number("loop", 0)) {
        outb(0xcf9, 0x06);
        wait_for_reset("port 0xcf9");
    }
    uint8_t boots = cmos_read(BOOT_COUNTER) + 1;
    cmos_write(BOOT_COUNTER, boots);
    printf("boot %u\n", boots);
    if (cmdline_number("cleared", 1)) CHECK_EQ("RAM at 4 MiB after the reset", *MARKER, 0);
    *MARKER = 0x5eed0000u | boots;
    switch (boots + cmdline_number("skip", 0)) {
    case 1: reset_through_keyboard_controller();
    case 2: reset_through_port_cf9();
    case 3: reset_through_fadt();
    case 4: if (cmdline_number("triple", 0)) triple_fault();
    }
    printf("booted %u times\n", boots);
}
