/* Interrupt plumbing shared by the interrupt-controller guests: an IDT of GCC interrupt-attribute
 * handlers, and register helpers for the local APIC (SDM vol. 3, ch. 10), the IOAPIC (82093AA
 * data sheet), the 8259A pair and the 8254 PIT. Header-only: each guest is one translation unit. */
#ifndef GUEST_INTERRUPTS_H
#define GUEST_INTERRUPTS_H
#include "guest.h"

struct interrupt_frame;
typedef void (*interrupt_handler)(struct interrupt_frame *);

#ifdef __x86_64__
struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_middle;
    uint32_t offset_high, reserved;
};
#else
struct idt_gate {
    uint16_t offset_low, selector;
    uint8_t reserved, type;
    uint16_t offset_high;
};
#endif

static struct idt_gate idt[256] __attribute__((aligned(16)));

/* An interrupt gate (IF cleared on entry) at ring 0 for `vector` in the current code segment. */
static inline void idt_set(uint8_t vector, interrupt_handler handler)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    uintptr_t address = (uintptr_t)handler;
    struct idt_gate *gate = &idt[vector];
    gate->offset_low = (uint16_t)address;
    gate->selector = cs;
    gate->type = 0x8E;
    gate->offset_high = (uint16_t)(address >> 16);
#ifdef __x86_64__
    gate->offset_middle = (uint16_t)(address >> 16);
    gate->offset_high = (uint32_t)(address >> 32);
#endif
}

static inline void idt_load(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uintptr_t base;
    } pointer = { sizeof(idt) - 1, (uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(pointer));
}

static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* Opens the interrupt window for exactly one instruction boundary pair: STI's shadow covers HLT,
 * so an interrupt pending before the HLT still wakes it. */
static inline void wait_for_interrupt(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }
/* Lets pending interrupts in without halting. */
static inline void interrupt_window(void) { __asm__ volatile("sti; nop; nop; cli" ::: "memory"); }

/* ---- local APIC (xAPIC MMIO page) ---- */
#define LAPIC_BASE 0xFEE00000u
#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_PPR 0xA0
#define LAPIC_EOI 0xB0
#define LAPIC_SVR 0xF0
#define LAPIC_ISR 0x100
#define LAPIC_TMR 0x180
#define LAPIC_IRR 0x200
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3E0

static inline uint32_t lapic_read(uint32_t offset) { return mmio_read32(LAPIC_BASE + offset); }
static inline void lapic_write(uint32_t offset, uint32_t value) { mmio_write32(LAPIC_BASE + offset, value); }
static inline void lapic_enable(uint8_t spurious_vector) { lapic_write(LAPIC_SVR, 0x100 | spurious_vector); }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
static inline uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }

/* Whether `vector` is set in the 256-bit ISR/IRR/TMR starting at `base`. */
static inline int lapic_bit(uint32_t base, uint8_t vector)
{
    return (lapic_read(base + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

/* A fixed, edge-triggered IPI to this CPU through the self shorthand (ICR bits 19:18 = 01). */
static inline void lapic_self_ipi(uint8_t vector) { lapic_write(LAPIC_ICR_LOW, 0x44000 | vector); }

/* ---- IOAPIC ---- */
#define IOAPIC_BASE 0xFEC00000u
static inline uint32_t ioapic_read(uint8_t reg)
{
    mmio_write32(IOAPIC_BASE, reg);
    return mmio_read32(IOAPIC_BASE + 0x10);
}
static inline void ioapic_write(uint8_t reg, uint32_t value)
{
    mmio_write32(IOAPIC_BASE, reg);
    mmio_write32(IOAPIC_BASE + 0x10, value);
}
/* Redirection entry `pin`: low dword (vector, modes, mask) and physical destination APIC ID. */
static inline void ioapic_route(int pin, uint32_t low, uint8_t destination)
{
    ioapic_write(0x11 + 2 * pin, (uint32_t)destination << 24);
    ioapic_write(0x10 + 2 * pin, low);
}
static inline uint32_t ioapic_entry_low(int pin) { return ioapic_read(0x10 + 2 * pin); }

/* ---- 8259A pair ---- */
static inline void pic_remap(uint8_t master_base, uint8_t slave_base)
{
    outb(0x20, 0x11); outb(0x21, master_base); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xA0, 0x11); outb(0xA1, slave_base); outb(0xA1, 0x02); outb(0xA1, 0x01);
}
static inline void pic_set_mask(uint16_t mask)
{
    outb(0x21, (uint8_t)mask);
    outb(0xA1, (uint8_t)(mask >> 8));
}
static inline uint8_t pic_master_isr(void) { outb(0x20, 0x0B); return inb(0x20); }
static inline uint8_t pic_master_irr(void) { outb(0x20, 0x0A); return inb(0x20); }
static inline void pic_eoi_master(void) { outb(0x20, 0x20); }

/* ---- 8254 PIT ---- */
#define PIT_HZ 1193182u
/* Channel 2 in mode 0 counts `ticks` (1..65535) with its gate high; OUT2 (port 0x61 bit 5) goes
 * high at terminal count. The speaker stays off. */
static inline void pit_channel2_start(uint16_t ticks)
{
    outb(0x61, (inb(0x61) & 0x0C) | 0x01);
    outb(0x43, 0xB0);
    outb(0x42, (uint8_t)ticks);
    outb(0x42, (uint8_t)(ticks >> 8));
}
static inline int pit_channel2_done(void) { return (inb(0x61) & 0x20) != 0; }
/* Busy-waits `microseconds` of PIT time. */
static inline void pit_delay_us(uint32_t microseconds)
{
    while (microseconds > 0) {
        uint32_t chunk = microseconds > 50000 ? 50000 : microseconds;
        pit_channel2_start((uint16_t)(chunk * 1193u / 1000u + 1));
        while (!pit_channel2_done()) {}
        microseconds -= chunk;
    }
}

/* ---- output ---- */
static inline void step(const char *what) { printf("PASS: %s\n", what); }

#endif
