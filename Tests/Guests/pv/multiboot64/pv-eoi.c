/* KVM's paravirtual EOI (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_PV_EOI_EN) with the host's
 * local APIC. The guest's EOI routine is Linux's (kvm_guest_apic_eoi_write): test-and-clear bit 0 of
 * the flag word in one instruction, and write the APIC's EOI register only if it was clear. Checks:
 *   - an interrupt taken with nothing else pending finds the bit set, and its EOI needs no write;
 *     the vector is out of service afterwards, and 1000 more of them come through;
 *   - three pending vectors arrive highest first, and the bit is set only for the last, when
 *     nothing else waits;
 *   - a higher vector arriving while the bit is set nests, the host takes the outer vector's bit
 *     back (its EOI is written) and the inner one's EOI is skipped;
 *   - a lower vector arriving while the bit is set waits until the outer vector's EOI.
 * With "pv=none" on the command line the guest checks instead that CPUID has no KVM_FEATURE_PV_EOI
 * and that writing the MSR raises #GP. */
#include "../include/gp_probe.h"
#include "../include/pv_eoi.h"

#define SPURIOUS_VECTOR 0xFF

static volatile uint8_t arrivals[16];
static volatile uint8_t flag_at_entry[16];
static volatile uint32_t arrival_count;

static void record(uint8_t vector)
{
    uint32_t n = arrival_count;
    if (n < 16) {
        arrivals[n] = vector;
        flag_at_entry[n] = (uint8_t)(pv_eoi_flag & 1);
    }
    arrival_count = n + 1;
}

#define PLAIN_HANDLER(vector)                                                                       \
    __attribute__((interrupt)) static void handler_##vector(struct interrupt_frame *frame)        \
    {                                                                                               \
        (void)frame;                                                                                \
        record(vector);                                                                             \
        guest_eoi();                                                                                \
    }
PLAIN_HANDLER(0x20)
PLAIN_HANDLER(0x30)
PLAIN_HANDLER(0x40)
PLAIN_HANDLER(0x50)
PLAIN_HANDLER(0x70)
PLAIN_HANDLER(0x80)

/* 0x60 sends itself `nested_vector` while its own bit is set, opens the interrupt window (HLT for
 * a higher vector, which then arrives at once; two instructions for a lower one, which must not),
 * and notes the bit again before its EOI. */
static volatile uint8_t nested_vector;
static volatile uint8_t outer_flag_before_eoi;
__attribute__((interrupt)) static void handler_0x60(struct interrupt_frame *frame)
{
    (void)frame;
    record(0x60);
    lapic_self_ipi(nested_vector);
    if (nested_vector > 0x60) wait_for_interrupt();
    else interrupt_window();
    outer_flag_before_eoi = (uint8_t)(pv_eoi_flag & 1);
    guest_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* HLT with interrupts open until `count` arrivals: a pending interrupt ends each HLT at once (on
 * KVM with vmm's APIC, HLT is also the exit where vmm injects). */
static void take_interrupts(uint32_t count)
{
    for (int waits = 0; arrival_count < count; waits++) {
        if (waits > 100) fail("%u of %u interrupts arrived", arrival_count, count);
        wait_for_interrupt();
    }
}

static void reset_counts(void)
{
    arrival_count = 0;
    skipped_eois = 0;
    written_eois = 0;
}

static void check_nothing_in_service(const char *when)
{
    for (int vector = 0x20; vector <= 0x80; vector += 0x10)
        if (lapic_bit(LAPIC_ISR, (uint8_t)vector)) fail("%s: vector 0x%x still in service", when, vector);
}

static void alone_skips_its_eoi(void)
{
    reset_counts();
    lapic_self_ipi(0x40);
    take_interrupts(1);
    CHECK_EQ("arrivals of 0x40", arrival_count, 1);
    CHECK_EQ("PV EOI bit when 0x40 entered", flag_at_entry[0], 1);
    CHECK_EQ("EOIs skipped", skipped_eois, 1);
    CHECK_EQ("EOIs written", written_eois, 0);
    check_nothing_in_service("after a skipped EOI");
    step("an interrupt with nothing else pending finds the PV EOI bit set and skips its EOI write");
    reset_counts();
    for (uint32_t i = 0; i < 1000; i++) {
        lapic_self_ipi(0x40);
        take_interrupts(i + 1);
    }
    CHECK_EQ("arrivals of 1000 self-IPIs", arrival_count, 1000);
    CHECK_EQ("EOIs skipped of 1000", skipped_eois, 1000);
    check_nothing_in_service("after 1000 skipped EOIs");
    step("1000 more arrive, every EOI skipped, none left in service");
}

static void pending_arrive_in_priority_order(void)
{
    reset_counts();
    lapic_self_ipi(0x50);
    lapic_self_ipi(0x30);
    lapic_self_ipi(0x70);
    take_interrupts(3);
    CHECK_EQ("arrivals", arrival_count, 3);
    CHECK_EQ("first", arrivals[0], 0x70);
    CHECK_EQ("second", arrivals[1], 0x50);
    CHECK_EQ("third", arrivals[2], 0x30);
    CHECK_EQ("PV EOI bit for 0x70 (0x50 and 0x30 pending)", flag_at_entry[0], 0);
    CHECK_EQ("PV EOI bit for 0x50 (0x30 pending)", flag_at_entry[1], 0);
    CHECK_EQ("PV EOI bit for 0x30 (nothing pending)", flag_at_entry[2], 1);
    CHECK_EQ("EOIs written", written_eois, 2);
    CHECK_EQ("EOIs skipped", skipped_eois, 1);
    check_nothing_in_service("after three vectors");
    step("pending vectors arrive highest first; the bit is set only when nothing else waits");
}

static void higher_nests_while_the_bit_is_set(void)
{
    reset_counts();
    nested_vector = 0x80;
    lapic_self_ipi(0x60);
    take_interrupts(2);
    CHECK_EQ("arrivals", arrival_count, 2);
    CHECK_EQ("outer", arrivals[0], 0x60);
    CHECK_EQ("nested", arrivals[1], 0x80);
    CHECK_EQ("PV EOI bit when 0x60 entered", flag_at_entry[0], 1);
    CHECK_EQ("PV EOI bit when 0x80 nested", flag_at_entry[1], 1);
    CHECK_EQ("0x60's bit after the nested interrupt (taken back)", outer_flag_before_eoi, 0);
    CHECK_EQ("EOIs skipped (0x80)", skipped_eois, 1);
    CHECK_EQ("EOIs written (0x60)", written_eois, 1);
    check_nothing_in_service("after the nested pair");
    step("a higher vector nests while the bit is set: its EOI skipped, the outer one's written");
}

static void lower_waits_for_the_eoi(void)
{
    reset_counts();
    nested_vector = 0x20;
    lapic_self_ipi(0x60);
    take_interrupts(2);
    CHECK_EQ("arrivals", arrival_count, 2);
    CHECK_EQ("first", arrivals[0], 0x60);
    CHECK_EQ("after the EOI", arrivals[1], 0x20);
    CHECK_EQ("0x60's bit once 0x20 waited (taken back)", outer_flag_before_eoi, 0);
    CHECK_EQ("PV EOI bit for 0x20 (nothing pending)", flag_at_entry[1], 1);
    check_nothing_in_service("after the lower vector");
    step("a lower vector sent while the bit is set waits for the outer EOI, then arrives");
}

static void hidden(void)
{
    CHECK_EQ("KVM_FEATURE_PV_EOI", kvm_features() & KVM_FEATURE_PV_EOI, 0);
    msr_write(MSR_KVM_PV_EOI_EN, (uint64_t)(uintptr_t)&pv_eoi_flag | 1);
    CHECK_EQ("#GP from WRMSR(MSR_KVM_PV_EOI_EN)", gp_count, 1);
    step("with --pv none: no KVM_FEATURE_PV_EOI, and the MSR raises #GP");
}

void guest_main(void)
{
    idt_set(0x20, handler_0x20);
    idt_set(0x30, handler_0x30);
    idt_set(0x40, handler_0x40);
    idt_set(0x50, handler_0x50);
    idt_set(0x60, handler_0x60);
    idt_set(0x70, handler_0x70);
    idt_set(0x80, handler_0x80);
    gp_probe_install();
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);
    if (!kvm_signature_present()) fail("no KVM signature at CPUID 0x40000000");
    if (cmdline_number("pv", 1) == 0) {
        hidden();
        return;
    }
    if (!(kvm_features() & KVM_FEATURE_PV_EOI)) fail("CPUID 0x40000001 has no KVM_FEATURE_PV_EOI");
    /* Bit 1 is reserved: #GP. */
    msr_write(MSR_KVM_PV_EOI_EN, (uint64_t)(uintptr_t)&pv_eoi_flag | 3);
    CHECK_EQ("#GP from the reserved bit", gp_count, 1);
    pv_eoi_enable();
    CHECK_EQ("MSR_KVM_PV_EOI_EN reads back", msr_read(MSR_KVM_PV_EOI_EN), (uint64_t)(uintptr_t)&pv_eoi_flag | 1);
    step("MSR_KVM_PV_EOI_EN enabled (and the reserved bit refused)");
    alone_skips_its_eoi();
    pending_arrive_in_priority_order();
    higher_nests_while_the_bit_is_set();
    lower_waits_for_the_eoi();
    msr_write(MSR_KVM_PV_EOI_EN, 0);
    reset_counts();
    lapic_self_ipi(0x40);
    take_interrupts(1);
    CHECK_EQ("PV EOI bit once disabled", flag_at_entry[0], 0);
    check_nothing_in_service("after disabling");
    step("disabled again: the bit stays clear and the EOI is written");
}
