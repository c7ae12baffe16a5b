/* A guest of vmm's xen-hvm device, 32- or 64-bit (Xen's xen/include/public/arch-x86/cpuid.h and
 * docs/guest-guide/x86/hypercall-abi.rst): it looks for the Xen and KVM signatures in every range of
 * the hypervisor leaves (0x40000000-0x4000ff00, as Linux's hypervisor_cpuid_base), reads Xen's
 * version and hypercall-page leaves, loads each page through the MSR and checks it, then tries an
 * index beyond the pages and a page outside RAM (both must raise #GP and write nothing). With
 * "seed=N" the pages must be the test's blob (`xen_blob_byte`); without it the page is vmm's
 * generated one, whose stubs it calls. One "xen: NAME VALUE" line per finding; the test judges. */
#ifndef GUEST_XEN_HVM_H
#define GUEST_XEN_HVM_H
#include "gp_probe.h"
#include "kvm_para.h"

#define XEN_SIGNATURE_EBX 0x566e6558u /* "XenV" */
#define XEN_SIGNATURE_ECX 0x65584d4du /* "MMXe" */
#define XEN_SIGNATURE_EDX 0x4d4d566eu /* "nVMM" */
#define XEN_STUB_SIZE 32
#define XEN_HYPERVISOR_IRET 23
#define NO_SEED 0xffffffffu

static uint8_t xen_page[4096] __attribute__((aligned(4096)));

/* Byte `offset` of page `page` of the blob the test writes for `seed`. */
static inline uint8_t xen_blob_byte(uint32_t seed, uint32_t page, uint32_t offset)
{
    return (uint8_t)(((seed + page * 4096u + offset) * 0x9e3779b1u) >> 24);
}

static inline uint32_t xen_page_fnv(void)
{
    uint32_t hash = 2166136261u;
    for (uint32_t i = 0; i < sizeof(xen_page); i++) hash = (hash ^ xen_page[i]) * 16777619u;
    return hash;
}

/* The first range whose signature leaf says ebx/ecx/edx, or 0. */
static inline uint32_t hypervisor_base(uint32_t ebx, uint32_t ecx, uint32_t edx)
{
    for (uint32_t base = 0x40000000u; base < 0x40010000u; base += 0x100) {
        uint32_t a, b, c, d;
        kvm_cpuid(base, &a, &b, &c, &d);
        if (b == ebx && c == ecx && d == edx) return base;
    }
    return 0;
}

static inline int xen_page_untouched(void)
{
    for (uint32_t i = 0; i < sizeof(xen_page); i++)
        if (xen_page[i] != 0x5a) return 0;
    return 1;
}

/* Calls stub `number` of the loaded page; RDX/EDX, which the port stubs save, must survive. */
static inline long xen_call(uint32_t number, int *rdx_kept)
{
    long result;
    unsigned long rdx = (unsigned long)0x1234567890abcdefull;
    unsigned long expected = rdx;
    void *stub = xen_page + number * XEN_STUB_SIZE;
    __asm__ volatile("call *%[stub]" : "=a"(result), "+d"(rdx) : [stub] "r"(stub) : "memory", "cc");
    *rdx_kept = rdx == expected;
    return result;
}

static inline void xen_hvm_check(void)
{
    gp_probe_install();
    idt_load();
    uint32_t xen = hypervisor_base(XEN_SIGNATURE_EBX, XEN_SIGNATURE_ECX, XEN_SIGNATURE_EDX);
    uint32_t kvm = hypervisor_base(0x4b4d564bu, 0x564b4d56u, 0x4du);
    printf("xen: xen-base 0x%x\n", xen);
    printf("xen: kvm-base 0x%x\n", kvm);
    if (kvm) {
        uint32_t a, b, c, d;
        kvm_cpuid(kvm + 1, &a, &b, &c, &d);
        printf("xen: kvm-features 0x%x\n", a);
    }
    if (!xen) return;
    uint32_t a, b, c, d;
    kvm_cpuid(xen, &a, &b, &c, &d);
    printf("xen: highest-leaf 0x%x\n", a);
    kvm_cpuid(xen + 1, &a, &b, &c, &d);
    printf("xen: version %u.%u\n", a >> 16, a & 0xffff);
    kvm_cpuid(xen + 2, &a, &b, &c, &d);
    uint32_t pages = a, msr = b;
    printf("xen: pages %u\n", pages);
    printf("xen: msr 0x%x\n", msr);

    uint32_t seed = (uint32_t)cmdline_number("seed", NO_SEED);
    uint64_t gpa = (uint64_t)(uintptr_t)xen_page;
    for (uint32_t index = 0; index < pages; index++) {
        memset(xen_page, 0x5a, sizeof(xen_page));
        if (wrmsr_faults(msr, gpa | index)) {
            printf("xen: page %u gp\n", index);
            continue;
        }
        printf("xen: page %u fnv 0x%x\n", index, xen_page_fnv());
        if (seed == NO_SEED) continue;
        uint32_t offset = 0;
        while (offset < sizeof(xen_page) && xen_page[offset] == xen_blob_byte(seed, index, offset)) offset++;
        if (offset == sizeof(xen_page)) printf("xen: page %u equals the blob\n", index);
        else printf("xen: page %u differs from the blob at %u\n", index, offset);
    }

    /* The generated page (still loaded from the last index): its stubs, before the faults below,
     * whose 32-bit IRET some hosts' KVM cannot run. */
    if (seed == NO_SEED && pages > 0) {
        printf("xen: iret-stub %s\n", xen_page[XEN_HYPERVISOR_IRET * XEN_STUB_SIZE] == 0x0f
                                          && xen_page[XEN_HYPERVISOR_IRET * XEN_STUB_SIZE + 1] == 0x0b ? "ud2" : "other");
        static const uint32_t numbers[] = { 0, 17, 127 };
        for (uint32_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
            int rdx_kept = 0;
            long result = xen_call(numbers[i], &rdx_kept);
            printf("xen: hypercall %u returned %ld, rdx %s\n", numbers[i], result, rdx_kept ? "kept" : "changed");
        }
        /* A load over code the CPU has run: the new stub must run, not what was decoded before. */
        static const uint8_t seven[] = { 0xb8, 7, 0, 0, 0, 0xc3 }; /* mov $7, %eax; ret */
        memcpy(xen_page + 17 * XEN_STUB_SIZE, seven, sizeof(seven));
        int rdx_kept = 0;
        long before = xen_call(17, &rdx_kept);
        wrmsr_faults(msr, gpa);
        printf("xen: reload-over-code %ld then %ld\n", before, xen_call(17, &rdx_kept));
    }

    memset(xen_page, 0x5a, sizeof(xen_page));
    printf("xen: index-beyond %s\n", wrmsr_faults(msr, gpa | pages) ? "gp" : "ok");
    printf("xen: index-beyond-untouched %s\n", xen_page_untouched() ? "yes" : "no");
    printf("xen: outside-ram %s\n", wrmsr_faults(msr, 0x4000000000ull) ? "gp" : "ok");
}
#endif
