/* C entry of Multiboot guests: checks that a Multiboot loader started us (EAX = 0x2BADB002,
 * Multiboot 0.6.96, 3.2) and exposes its information structure. */
#include "guest.h"
#include "multiboot.h"

const struct multiboot_info *multiboot_info;

const char *boot_cmdline(void)
{
    if (!(multiboot_info->flags & MULTIBOOT_INFO_CMDLINE) || !multiboot_info->cmdline) return "";
    return (const char *)(uintptr_t)multiboot_info->cmdline;
}

uint64_t boot_mem_upper_kib(void)
{
    return (multiboot_info->flags & MULTIBOOT_INFO_MEMORY) ? multiboot_info->mem_upper : 0;
}

void runtime_start(uintptr_t magic, uintptr_t info)
{
    serial_init();
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) fail("not started by a Multiboot loader (EAX=0x%lx)", (unsigned long)magic);
    multiboot_info = (const struct multiboot_info *)info;
    guest_main();
    pass();
}
