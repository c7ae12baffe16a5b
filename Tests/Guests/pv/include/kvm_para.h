/* KVM's paravirtual interface as a guest sees it (Documentation/virt/kvm/x86/cpuid.rst, msr.rst,
 * hypercalls.rst): the CPUID leaves, the MSRs and the hypercall instruction. */
#ifndef GUEST_KVM_PARA_H
#define GUEST_KVM_PARA_H
#include "guest.h"

#define KVM_CPUID_SIGNATURE 0x40000000u
#define KVM_CPUID_FEATURES 0x40000001u
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define KVM_FEATURE_NOP_IO_DELAY (1u << 1)
#define KVM_FEATURE_PV_EOI (1u << 6)
#define KVM_FEATURE_PV_UNHALT (1u << 7)
#define KVM_FEATURE_PV_SEND_IPI (1u << 11)
#define KVM_FEATURE_PV_SCHED_YIELD (1u << 13)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)

#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define MSR_KVM_PV_EOI_EN 0x4b564d04u

static inline void kvm_cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* Whether CPUID 0x40000000 says "KVMKVMKVM\0\0\0". */
static inline int kvm_signature_present(void)
{
    uint32_t a, b, c, d;
    kvm_cpuid(KVM_CPUID_SIGNATURE, &a, &b, &c, &d);
    return b == 0x4b4d564bu && c == 0x564b4d56u && d == 0x4du;
}

static inline uint32_t kvm_features(void)
{
    uint32_t a, b, c, d;
    kvm_cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
    return a;
}

static inline void msr_write(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)) : "memory");
}

static inline uint64_t msr_read(uint32_t msr)
{
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr) : "memory");
    return ((uint64_t)high << 32) | low;
}

/* The hypercall instruction of the CPU's vendor: VMMCALL on AMD, VMCALL on Intel. */
static inline int cpu_is_amd(void)
{
    uint32_t a, b, c, d;
    kvm_cpuid(0, &a, &b, &c, &d);
    return b == 0x68747541u; /* "Auth" */
}

static inline long kvm_hypercall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2,
                                 unsigned long a3)
{
    long result;
    if (cpu_is_amd())
        __asm__ volatile("vmmcall" : "=a"(result) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
    else
        __asm__ volatile("vmcall" : "=a"(result) : "a"(nr), "b"(a0), "c"(a1), "d"(a2), "S"(a3) : "memory");
    return result;
}
#endif
