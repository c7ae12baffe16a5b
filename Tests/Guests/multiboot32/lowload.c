/* A Multiboot guest linked at 64 KiB (see the Makefile), inside conventional memory: the loader
 * must put its boot information, command line and GDT clear of the image (Multiboot spec 0.6.96, 3.3: the info
 * structure may be anywhere the kernel is not), so what it reads there is intact. */
#include "guest.h"
#include "multiboot.h"

extern char _image_start[];

void guest_main(void)
{
    uintptr_t start = (uintptr_t)_image_start, end = image_end();
    printf("Hello from a multiboot guest linked at 0x%x\n", (unsigned)start);
    if (start >= 0x100000) fail("linked at 0x%x, not below 1 MiB", (unsigned)start);
    uintptr_t info = (uintptr_t)multiboot_info;
    if (info + sizeof(*multiboot_info) > start && info < end) fail("boot information at 0x%x inside the image", (unsigned)info);
    if (!(multiboot_info->flags & MULTIBOOT_INFO_MEMORY)) fail("no memory information (flags 0x%x)", multiboot_info->flags);
    printf("cmdline: %s\n", boot_cmdline());
    CHECK_EQ("answer=", cmdline_number("answer", 0), 42);
}
