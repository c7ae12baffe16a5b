/* The PVH start-of-day structure (xen include/public/arch-x86/hvm/start_info.h, version 1). */
#ifndef GUEST_PVH_H
#define GUEST_PVH_H
#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578u
#define HVM_MEMMAP_TYPE_RAM 1u

struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_table_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

/* Set by the PVH runtime entry (boot/pvh_start.c). */
extern const struct hvm_start_info *pvh_start_info;

#endif
