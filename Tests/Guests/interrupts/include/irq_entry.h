/* Handler entry for each way an interrupt reaches the CPU, one source per run ("source=NAME" on the
 * command line): every handler's first action is to print "entered vector 0xNN" on COM1 (the serial
 * handler's on its first entry only, see there), before it ends the interrupt and returns. A run that
 * cannot return from a handler (a host whose KVM cannot emulate IRET) still shows that the interrupt
 * was delivered to the right vector, and when; where handlers return, the guest goes on to check the
 * rest and passes.
 *
 *   pit         PIT channel 0 on IRQ 0 through the 8259 and LINT0 in virtual-wire (ExtINT) mode
 *   ioapic      PIT IRQ 0 through IOAPIC pin 2 (the PC's interrupt source override), PICs masked
 *   uart        COM1's receive interrupt (IRQ 4) through IOAPIC pin 4: needs a byte on serial input
 *   ipi         a fixed self-IPI through the local APIC's interrupt command register
 *   tpr         a self-IPI held while the task priority class is 6, entering once it drops to 4 */
#ifndef GUEST_IRQ_ENTRY_H
#define GUEST_IRQ_ENTRY_H
#include "interrupts.h"

#define UART 0x3F8
#define PIT_VECTOR 0x20
#define IOAPIC_PIT_VECTOR 0x30
#define UART_VECTOR 0x34
#define HELD_VECTOR 0x50
#define IPI_VECTOR 0x60
#define SPURIOUS_VECTOR 0xFF
#define PIT_ENTRIES 3

static volatile uint32_t entries;

static void report_entry(uint8_t vector) { printf("entered vector 0x%02x\n", vector); }

__attribute__((interrupt)) static void pit_handler(struct interrupt_frame *frame)
{
    (void)frame;
    report_entry(PIT_VECTOR);
    entries++;
    pic_eoi_master();
}

__attribute__((interrupt)) static void ioapic_pit_handler(struct interrupt_frame *frame)
{
    (void)frame;
    report_entry(IOAPIC_PIT_VECTOR);
    entries++;
    lapic_eoi();
}

/* Reports the first entry only: QEMU's UART raises its line again at each character this handler
 * prints while the received byte is unread, and QEMU's IOAPIC takes each raise of an edge-triggered
 * pin as a new edge (a real 82093AA sends only on a rising edge), so a second entry may follow there. */
__attribute__((interrupt)) static void uart_handler(struct interrupt_frame *frame)
{
    (void)frame;
    if (entries++ == 0) report_entry(UART_VECTOR);
    while (inb(UART + 5) & 0x01) (void)inb(UART);
    outb(UART + 1, 0x00);
    lapic_eoi();
}

__attribute__((interrupt)) static void held_handler(struct interrupt_frame *frame)
{
    (void)frame;
    report_entry(HELD_VECTOR);
    entries++;
    lapic_eoi();
}

__attribute__((interrupt)) static void ipi_handler(struct interrupt_frame *frame)
{
    (void)frame;
    report_entry(IPI_VECTOR);
    entries++;
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* Waits with interrupts open at HLT until `count` handler entries, for at most `limit` wake-ups. */
static void wait_for_entries(uint32_t count, uint32_t limit, const char *what)
{
    for (uint32_t waits = 0; entries < count; waits++) {
        if (waits >= limit) fail("%s: %u of %u handler entries after %u wake-ups", what, entries, count, waits);
        wait_for_interrupt();
    }
}

/* PIT channel 0 in rate-generator mode at 100 Hz. */
static void pit_start_100hz(void)
{
    outb(0x43, 0x34);
    outb(0x40, 11932 & 0xFF);
    outb(0x40, 11932 >> 8);
}

static void pit_stop(void) { outb(0x43, 0x30); }

static void through_pic(void)
{
    pic_set_mask(0xFFFE);
    pit_start_100hz();
    wait_for_entries(PIT_ENTRIES, 1000, "IRQ 0 through the PIC");
    pic_set_mask(0xFFFF);
    pit_stop();
    CHECK_EQ("8259 ISR after the EOIs", pic_master_isr(), 0);
    step("IRQ 0 entered its handler through the 8259 and LINT0 (ExtINT)");
}

static void through_ioapic_pin2(void)
{
    lapic_enable(SPURIOUS_VECTOR);
    ioapic_route(2, IOAPIC_PIT_VECTOR, (uint8_t)lapic_id());
    pit_start_100hz();
    wait_for_entries(PIT_ENTRIES, 1000, "IRQ 0 through IOAPIC pin 2");
    ioapic_route(2, 0x10000 | IOAPIC_PIT_VECTOR, (uint8_t)lapic_id());
    pit_stop();
    CHECK_EQ("local APIC ISR bit after the EOIs", lapic_bit(LAPIC_ISR, IOAPIC_PIT_VECTOR), 0);
    step("IRQ 0 entered its handler through IOAPIC pin 2");
}

static void through_uart(void)
{
    lapic_enable(SPURIOUS_VECTOR);
    ioapic_route(4, UART_VECTOR, (uint8_t)lapic_id());
    outb(UART + 4, 0x0B);
    outb(UART + 1, 0x01);
    printf("ready: type a line\n");
    /* The line may take a while to come: 2000 wake-ups of a 10 ms PIT tick would be 20 s, but no
     * PIT runs here, so this bounds only spurious wake-ups; the host's watchdog bounds the time. */
    wait_for_entries(1, 2000, "COM1 receive interrupt through IOAPIC pin 4");
    CHECK_EQ("local APIC ISR bit after the EOI", lapic_bit(LAPIC_ISR, UART_VECTOR), 0);
    step("COM1's IRQ 4 entered its handler through IOAPIC pin 4");
}

static void self_ipi(void)
{
    lapic_enable(SPURIOUS_VECTOR);
    lapic_self_ipi(IPI_VECTOR);
    wait_for_entries(1, 10, "self-IPI");
    CHECK_EQ("local APIC ISR bit after the EOI", lapic_bit(LAPIC_ISR, IPI_VECTOR), 0);
    step("a self-IPI entered its handler");
}

/* `set_priority_class(c)` sets TPR to c << 4 (through the MMIO TPR, or CR8 in 64-bit mode). */
static void held_by_task_priority(void (*set_priority_class)(uint8_t), const char *how)
{
    lapic_enable(SPURIOUS_VECTOR);
    set_priority_class(6);
    lapic_self_ipi(HELD_VECTOR);
    for (int i = 0; i < 100; i++) interrupt_window();
    CHECK_EQ("handler entries while the task priority class is 6", entries, 0);
    CHECK_EQ("IRR bit of the held vector", lapic_bit(LAPIC_IRR, HELD_VECTOR), 1);
    printf("PASS: self-IPI 0x50 held while the task priority class set %s is 6\n", how);
    set_priority_class(4);
    wait_for_entries(1, 10, "self-IPI released by the task priority");
    CHECK_EQ("IRR bit after delivery", lapic_bit(LAPIC_IRR, HELD_VECTOR), 0);
    printf("PASS: lowering the class %s to 4 let it enter its handler\n", how);
}

/* Whether the command line has the word "source=NAME". */
static int source_is(const char *name)
{
    const char *p = boot_cmdline();
    size_t length = strlen(name);
    while (*p) {
        while (*p == ' ') p++;
        const char *word = p;
        while (*p && *p != ' ') p++;
        if ((size_t)(p - word) == 7 + length && !strncmp(word, "source=", 7) && !strncmp(word + 7, name, length))
            return 1;
    }
    return 0;
}

static void irq_entry_main(void (*set_priority_class)(uint8_t), const char *how)
{
    idt_set(PIT_VECTOR, pit_handler);
    idt_set(IOAPIC_PIT_VECTOR, ioapic_pit_handler);
    idt_set(UART_VECTOR, uart_handler);
    idt_set(HELD_VECTOR, held_handler);
    idt_set(IPI_VECTOR, ipi_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    if (source_is("pit")) through_pic();
    else if (source_is("ioapic")) through_ioapic_pin2();
    else if (source_is("uart")) through_uart();
    else if (source_is("ipi")) self_ipi();
    else if (source_is("tpr")) held_by_task_priority(set_priority_class, how);
    else fail("no source=pit|ioapic|uart|ipi|tpr on the command line");
}

#endif
