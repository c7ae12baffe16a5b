/* What every test guest gets from the runtime: output on COM1, a small printf, the boot command
 * line, and the exit/report helpers that end the run through the debug-exit port 0xf4. */
#ifndef GUEST_H
#define GUEST_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "io.h"

/* Each guest defines this; the runtime calls it after boot and reports PASS when it returns. */
void guest_main(void);

void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);

/* %d %i %u %x %X %p %s %c %%, with l/ll/z length, width and 0 padding. */
int printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *format, va_list args);

/* Writes `code` to port 0xf4: QEMU's isa-debug-exit and vmm's DebugExit end with status (code<<1)|1.
 * Halts forever if no such device answers. */
__attribute__((noreturn)) void exit(uint32_t code);
/* "PASS\n" then exit(0): status 1. */
__attribute__((noreturn)) void pass(void);
/* "FAIL: <message>\n" then exit(1): status 3. */
__attribute__((noreturn)) void fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* fail() with the expression and both values when `actual != expected`. */
#define CHECK_EQ(what, actual, expected)                                                            \
    do {                                                                                            \
        uint64_t a_ = (uint64_t)(actual), e_ = (uint64_t)(expected);                                \
        if (a_ != e_) fail("%s: got 0x%llx, expected 0x%llx", what, (unsigned long long)a_,        \
                           (unsigned long long)e_);                                                 \
    } while (0)

/* The boot loader's command line ("" when none), from Multiboot info or PVH start info. */
const char *boot_cmdline(void);
/* KiB of RAM above 1 MiB (Multiboot mem_upper; computed from the PVH memory map). */
uint64_t boot_mem_upper_kib(void);
/* The value of "key=NUMBER" in the command line, or `fallback`. */
uint64_t cmdline_number(const char *key, uint64_t fallback);

/* The first byte after the loaded image, page aligned (from the linker script). */
uintptr_t image_end(void);

/* n / d and n % d for 64-bit values on 32-bit guests too (no libgcc); d = 0 fails the test. */
uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *remainder);

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int value, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

#endif
