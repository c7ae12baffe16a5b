/* The smallest Multiboot guest: greets, shows what the loader passed, passes. */
#include "guest.h"
#include "multiboot.h"

void guest_main(void)
{
    printf("Hello from a multiboot guest\n");
    if (!(multiboot_info->flags & MULTIBOOT_INFO_MEMORY)) fail("no memory information (flags 0x%x)", multiboot_info->flags);
    printf("cmdline: %s\n", boot_cmdline());
    printf("mem_upper: %u KiB\n", multiboot_info->mem_upper);
}
