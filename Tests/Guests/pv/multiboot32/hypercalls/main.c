/* KVM's hypercalls (Documentation/virt/kvm/x86/hypercalls.rst) on two vCPUs, with the ABI of
 * kvm_emulate_hypercall: the number in EAX, arguments in EBX, ECX, EDX, ESI, the result in EAX.
 *   - an unknown number returns -KVM_ENOSYS (-1000), KVM_HC_VAPIC_POLL_IRQ 0;
 *   - KVM_HC_KICK_CPU wakes vCPU 1 from HLT with interrupts off, and a kick sent before its HLT
 *     still ends that HLT;
 *   - KVM_HC_SEND_IPI delivers a fixed vector to both vCPUs from one bitmap and returns 2; a
 *     logical-destination ICR returns -KVM_EINVAL; an APIC ID beyond the machine counts nothing;
 *   - KVM_HC_SCHED_YIELD returns 0.
 * Each of the three is checked only where CPUID 0x40000001 offers it; where it does not (`--pv`
 * turned it off, or KVM with vmm's APIC) the hypercall must return -KVM_ENOSYS. The guest prints
 * "hypercalls: NAME checked|hidden" for each. */
#include "../../../interrupts/include/smp_start.h"
#include "../../include/kvm_para.h"

#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_HC_KICK_CPU 5
#define KVM_HC_SEND_IPI 10
#define KVM_HC_SCHED_YIELD 11
#define KVM_ENOSYS 1000
#define KVM_EINVAL 22
#define IPI_VECTOR 0x40
#define SPURIOUS_VECTOR 0xFF

static volatile uint32_t phase, ap_halting, ap_kicked, ipis[2], ap_running;

__attribute__((interrupt)) static void ipi_handler(struct interrupt_frame *frame)
{
    (void)frame;
    uint32_t id = lapic_id();
    if (id < 2) ipis[id]++;
    lapic_eoi();
}

__attribute__((interrupt)) static void spurious_handler(struct interrupt_frame *frame) { (void)frame; }

/* The AP: halted with interrupts off for the kicks, then halted with them on for the IPI. */
void ap_main(void)
{
    adopt_bsp_segments();
    idt_load();
    lapic_enable(SPURIOUS_VECTOR);
    ap_running = 1;
    while (phase < 1) __asm__ volatile("pause");
    ap_halting = 1;
    __asm__ volatile("cli; hlt" ::: "memory");
    ap_kicked = 1;
    while (phase < 2) __asm__ volatile("pause");
    __asm__ volatile("cli; hlt" ::: "memory");
    ap_kicked = 2;
    while (phase < 3) __asm__ volatile("pause");
    while (ipis[1] == 0 && phase < 4) wait_for_interrupt();
    for (;;) __asm__ volatile("cli; hlt");
}

/* Waits up to a second (of PIT time) for `*value` to reach `wanted`. */
static int wait_for(volatile uint32_t *value, uint32_t wanted)
{
    for (int i = 0; i < 1000 && *value < wanted; i++) pit_delay_us(1000);
    return *value >= wanted;
}

static void check_hidden(const char *name, unsigned long nr)
{
    long result = kvm_hypercall(nr, 0, 1, 0, 0);
    CHECK_EQ(name, result, -KVM_ENOSYS);
    printf("hypercalls: %s hidden\n", name);
}

static void kick_cpu(void)
{
    phase = 1;
    if (!wait_for(&ap_halting, 1)) fail("vCPU 1 never reached its HLT");
    pit_delay_us(20000); /* most likely inside the HLT by now; the kick holds either way */
    CHECK_EQ("KVM_HC_KICK_CPU", kvm_hypercall(KVM_HC_KICK_CPU, 0, 1, 0, 0), 0);
    if (!wait_for(&ap_kicked, 1)) fail("KVM_HC_KICK_CPU did not end vCPU 1's HLT with IF = 0");
    /* Kicked while it runs: its next HLT ends at once. */
    CHECK_EQ("KVM_HC_KICK_CPU ahead of the HLT", kvm_hypercall(KVM_HC_KICK_CPU, 0, 1, 0, 0), 0);
    phase = 2;
    if (!wait_for(&ap_kicked, 2)) fail("a kick sent before vCPU 1's HLT did not end it");
    /* An APIC ID nobody has: nothing happens, 0 as KVM answers. */
    CHECK_EQ("KVM_HC_KICK_CPU to APIC ID 9", kvm_hypercall(KVM_HC_KICK_CPU, 0, 9, 0, 0), 0);
    printf("hypercalls: KVM_HC_KICK_CPU checked\n");
}

static void send_ipi(void)
{
    phase = 3;
    /* Bitmap 0b11 from APIC ID 0, fixed delivery of IPI_VECTOR. */
    CHECK_EQ("KVM_HC_SEND_IPI to vCPUs 0 and 1", kvm_hypercall(KVM_HC_SEND_IPI, 3, 0, 0, IPI_VECTOR), 2);
    for (int i = 0; i < 100 && ipis[0] == 0; i++) wait_for_interrupt();
    CHECK_EQ("IPIs on vCPU 0", ipis[0], 1);
    if (!wait_for(&ipis[1], 1)) fail("vCPU 1 got no IPI");
    CHECK_EQ("IPIs on vCPU 1", ipis[1], 1);
    /* The high bitmap starts 32 IDs up in 32-bit mode: nobody there. */
    CHECK_EQ("KVM_HC_SEND_IPI to APIC ID 32", kvm_hypercall(KVM_HC_SEND_IPI, 0, 1, 0, IPI_VECTOR), 0);
    CHECK_EQ("KVM_HC_SEND_IPI with logical destination", kvm_hypercall(KVM_HC_SEND_IPI, 1, 0, 0, 0x800 | IPI_VECTOR),
             -KVM_EINVAL);
    printf("hypercalls: KVM_HC_SEND_IPI checked\n");
}

void guest_main(void)
{
    idt_set(IPI_VECTOR, ipi_handler);
    idt_set(SPURIOUS_VECTOR, spurious_handler);
    idt_load();
    pic_remap(0x20, 0x28);
    pic_set_mask(0xFFFF);
    lapic_enable(SPURIOUS_VECTOR);
    if (!kvm_signature_present()) fail("no KVM signature at CPUID 0x40000000");
    uint32_t features = kvm_features();
    CHECK_EQ("an unknown hypercall", kvm_hypercall(0x7fff, 0, 0, 0, 0), -KVM_ENOSYS);
    CHECK_EQ("KVM_HC_VAPIC_POLL_IRQ", kvm_hypercall(KVM_HC_VAPIC_POLL_IRQ, 0, 0, 0, 0), 0);
    printf("hypercalls: unknown and KVM_HC_VAPIC_POLL_IRQ checked\n");
    start_application_processors();
    if (!wait_for(&ap_running, 1)) fail("vCPU 1 did not start");
    if (features & KVM_FEATURE_PV_UNHALT) kick_cpu();
    else check_hidden("KVM_HC_KICK_CPU", KVM_HC_KICK_CPU);
    if (features & KVM_FEATURE_PV_SEND_IPI) send_ipi();
    else check_hidden("KVM_HC_SEND_IPI", KVM_HC_SEND_IPI);
    if (features & KVM_FEATURE_PV_SCHED_YIELD) {
        CHECK_EQ("KVM_HC_SCHED_YIELD", kvm_hypercall(KVM_HC_SCHED_YIELD, 1, 0, 0, 0), 0);
        printf("hypercalls: KVM_HC_SCHED_YIELD checked\n");
    } else {
        check_hidden("KVM_HC_SCHED_YIELD", KVM_HC_SCHED_YIELD);
    }
    phase = 4;
}
