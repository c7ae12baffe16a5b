/* C entry of PVH guests: EBX points at struct hvm_start_info, whose magic proves a PVH loader
 * started us (xen include/public/arch-x86/hvm/start_info.h). EAX is undefined on PVH entry. */
#include "guest.h"
#include "pvh.h"

const struct hvm_start_info *pvh_start_info;

const char *boot_cmdline(void)
{
    return pvh_start_info->cmdline_paddr ? (const char *)(uintptr_t)pvh_start_info->cmdline_paddr : "";
}

/* The RAM entry that starts at 1 MiB, as Multiboot's mem_upper would report it. */
uint64_t boot_mem_upper_kib(void)
{
    if (pvh_start_info->version < 1 || !pvh_start_info->memmap_paddr) return 0;
    const struct hvm_memmap_table_entry *map = (const void *)(uintptr_t)pvh_start_info->memmap_paddr;
    for (uint32_t i = 0; i < pvh_start_info->memmap_entries; i++)
        if (map[i].type == HVM_MEMMAP_TYPE_RAM && map[i].addr <= 0x100000 && map[i].addr + map[i].size > 0x100000)
            return (map[i].addr + map[i].size - 0x100000) >> 10;
    return 0;
}

void runtime_start(uintptr_t unused_eax, uintptr_t info)
{
    (void)unused_eax;
    serial_init();
    pvh_start_info = (const struct hvm_start_info *)info;
    if (!info || pvh_start_info->magic != HVM_START_MAGIC) fail("not started by a PVH loader (EBX=0x%lx)", (unsigned long)info);
    guest_main();
    pass();
}
