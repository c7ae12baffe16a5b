/* What the guest finds of KVM's paravirtual interfaces (cpuid.rst, msr.rst, hypercalls.rst): it
 * prints the CPUID signature and feature word, the invariant-TSC bit (CPUID 0x80000007 EDX bit 8),
 * whether each paravirtual MSR accepts a write, and what an unknown hypercall number answers, one
 * "pv: NAME VALUE" line each; the test compares them with what `--pv` asked for. */
#include "../include/gp_probe.h"
#include "../include/kvm_para.h"

static uint64_t scratch[8] __attribute__((aligned(64)));

void guest_main(void)
{
    gp_probe_install();
    idt_load();
    uint32_t a, b, c, d;
    printf("pv: signature %s\n", kvm_signature_present() ? "KVMKVMKVM" : "none");
    printf("pv: features 0x%x\n", kvm_features());
    kvm_cpuid(0x80000007u, &a, &b, &c, &d);
    printf("pv: invariant-tsc %u\n", (d >> 8) & 1);
    uintptr_t area = (uintptr_t)scratch;
    printf("pv: msr-system-time %s\n", wrmsr_faults(MSR_KVM_SYSTEM_TIME_NEW, area | 1) ? "gp" : "ok");
    printf("pv: msr-wall-clock %s\n", wrmsr_faults(MSR_KVM_WALL_CLOCK_NEW, area + 32) ? "gp" : "ok");
    printf("pv: msr-pv-eoi %s\n", wrmsr_faults(MSR_KVM_PV_EOI_EN, (area + 48) | 1) ? "gp" : "ok");
    wrmsr_faults(MSR_KVM_SYSTEM_TIME_NEW, 0);
    wrmsr_faults(MSR_KVM_PV_EOI_EN, 0);
    /* "delays=N": N writes to port 0x80, Linux's io_delay, for the host's statistics to count. */
    for (uint64_t i = cmdline_number("delays", 0); i > 0; i--) outb(0x80, 0);
    if (cmdline_number("hypercalls", 0)) printf("pv: hypercall-unknown %ld\n", kvm_hypercall(0x7fff, 0, 0, 0, 0));
}
