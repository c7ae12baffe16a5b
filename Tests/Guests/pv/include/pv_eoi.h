/* The guest side of KVM's paravirtual EOI (msr.rst, MSR_KVM_PV_EOI_EN), as Linux's
 * kvm_guest_apic_eoi_write: BTR tests and clears bit 0 of the flag word in one instruction, and the
 * EOI register is written only if the host had not set it. */
#ifndef GUEST_PV_EOI_H
#define GUEST_PV_EOI_H
#include "../../interrupts/include/interrupts.h"
#include "kvm_para.h"

static volatile uint32_t pv_eoi_flag __attribute__((aligned(4)));
static volatile uint32_t skipped_eois, written_eois;

static inline void pv_eoi_enable(void) { msr_write(MSR_KVM_PV_EOI_EN, (uint64_t)(uintptr_t)&pv_eoi_flag | 1); }

static inline void guest_eoi(void)
{
    uint8_t was_set;
    __asm__ volatile("btrl $0, %0; setc %1" : "+m"(pv_eoi_flag), "=q"(was_set) : : "memory", "cc");
    if (was_set) {
        skipped_eois++;
        return;
    }
    written_eois++;
    lapic_eoi();
}
#endif
