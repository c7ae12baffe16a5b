/* hello in 64-bit long mode: the runtime enabled PAE paging and EFER.LME before calling us. */
#include "guest.h"
#include "multiboot.h"

enum { MSR_EFER = 0xC0000080, EFER_LMA = 1 << 10 };

static uint64_t rdmsr(uint32_t index)
{
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(index));
    return ((uint64_t)high << 32) | low;
}

void guest_main(void)
{
    printf("Hello from long mode\n");
    if (!(rdmsr(MSR_EFER) & EFER_LMA)) fail("EFER.LMA is clear in 64-bit code");
    printf("cmdline: %s\n", boot_cmdline());
    printf("mem_upper: %u KiB\n", multiboot_info->mem_upper);
}
