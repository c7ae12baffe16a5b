/* A hypercall from ring 3 (Documentation/virt/kvm/x86/hypercalls.rst: "a hypercall from CPL > 0
 * returns -KVM_EPERM"): VMCALL/VMMCALL at CPL 3, with a number the host answers at CPL 0 and
 * with an unknown one, both -KVM_EPERM (-1), and no fault; then the same numbers at CPL 0. */
#include "../../system/sys_runtime.c"

#define KVM_HC_VAPIC_POLL_IRQ 1
#define USER_VECTOR 0x80

volatile uint32_t hypercall_number;
volatile int32_t hypercall_result;
volatile uint8_t vendor_is_amd;

/* The vendor's instruction, at whatever privilege the caller runs. */
#define HYPERCALL_BODY                                                                              \
    "mov hypercall_number, %%eax\n\t"                                                                \
    "cmpb $0, vendor_is_amd\n\t"                                                                    \
    "je 1f\n\t"                                                                                     \
    "vmmcall\n\t"                                                                                   \
    "jmp 2f\n"                                                                                      \
    "1:\tvmcall\n"                                                                                  \
    "2:\tmov %%eax, hypercall_result\n\t"

static void user_hypercall(void)
{
    __asm__ volatile(HYPERCALL_BODY "int $0x80" ::: "eax", "memory");
    __builtin_unreachable();
}

static void kernel_hypercall(void) { __asm__ volatile(HYPERCALL_BODY ::: "eax", "memory"); }

static void check(uint32_t number, int at_user, int32_t expected)
{
    hypercall_number = number;
    hypercall_result = 0x12345678;
    if (at_user) report_user("ring 3 hypercall", user_hypercall);
    else kernel_hypercall();
    if (at_user && last_trap.vector != USER_VECTOR)
        fail("hypercall %u at CPL 3 trapped with vector %u", number, last_trap.vector);
    if (hypercall_result != expected)
        fail("hypercall %u at CPL %u returned %d, expected %d", number, at_user ? 3 : 0, hypercall_result, expected);
    printf("hypercalls: number %u at CPL %u returned %d\n", number, at_user ? 3 : 0, hypercall_result);
}

void guest_main(void)
{
    uint32_t a, b, c, d;
    cpuid(0, &a, &b, &c, &d);
    vendor_is_amd = b == 0x68747541u;
    system_setup(USER_VECTOR);
    check(KVM_HC_VAPIC_POLL_IRQ, 1, -1);
    check(0x7fff, 1, -1);
    check(KVM_HC_VAPIC_POLL_IRQ, 0, 0);
    check(0x7fff, 0, -1000);
}
