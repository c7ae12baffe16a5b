/* The Multiboot v1 header (Multiboot Specification 0.6.96, 3.1.1): 4-byte aligned within the
 * first 8 KiB of the file, which the linker script guarantees by placing .multiboot first.
 * Flags: bit 0 = page-align modules, bit 1 = pass memory information. The image is ELF, so
 * bit 16 (address fields) stays clear and the loader uses the program headers. */
#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0x00000003

    .section .multiboot, "a"
    .balign 4
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)
    .section .note.GNU-stack, "", @progbits
