/* A PVH guest: entered through the Xen ELF note with EBX = struct hvm_start_info. */
#include "guest.h"
#include "pvh.h"

void guest_main(void)
{
    printf("Hello from a PVH guest\n");
    printf("start_info version %u, %u modules, %u memory map entries\n", pvh_start_info->version,
           pvh_start_info->nr_modules, pvh_start_info->memmap_entries);
    printf("cmdline: %s\n", boot_cmdline());
    printf("mem_upper: %llu KiB\n", (unsigned long long)boot_mem_upper_kib());
}
