/* The Multiboot information structure (Multiboot Specification 0.6.96, 3.3). */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H
#include <stdint.h>

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_INFO_MEMORY (1u << 0)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MODS (1u << 3)
#define MULTIBOOT_INFO_MMAP (1u << 6)
#define MULTIBOOT_INFO_LOADER_NAME (1u << 9)

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
} __attribute__((packed));

struct multiboot_module {
    uint32_t mod_start, mod_end, string, reserved;
} __attribute__((packed));

/* `size` counts the bytes after itself; entries are walked by size + 4. */
struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t base, length;
    uint32_t type;
} __attribute__((packed));

/* Set by the Multiboot runtime entry (boot/multiboot_start.c). */
extern const struct multiboot_info *multiboot_info;

#endif
