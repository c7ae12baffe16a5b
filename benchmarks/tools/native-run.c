/* Runs a 64-bit compute guest's own object file as a Linux process, so valgrind can count the
 * instructions its guest_main executes: the same machine code the guest runs, minus the boot.
 *
 * This file stands in for the parts of the guest runtime that touch hardware (boot information,
 * COM1, the debug-exit port); printf, the string functions and the command-line parser are the
 * runtime's own objects, linked unchanged. RAM "above the image" is an anonymous mapping placed
 * where image_end() points. No libc: guest and runtime define memcpy, printf and exit themselves.
 *
 *   native-run "n=1000000" [MiB]     (RAM size, default 512)
 */
#include <stddef.h>
#include <stdint.h>

void guest_main(void);
uintptr_t image_end(void);

static const char *command_line = "";
static uint64_t ram_kib;

static long syscall6(long number, long a, long b, long c, long d, long e, long f)
{
    long result;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return result;
}

enum { SYS_WRITE = 1, SYS_MMAP = 9, SYS_EXIT_GROUP = 231 };
enum { PROT_READ_WRITE = 3, MAP_PRIVATE_ANONYMOUS_FIXED = 0x02 | 0x20 | 0x10 };

const char *boot_cmdline(void) { return command_line; }
uint64_t boot_mem_upper_kib(void) { return ram_kib; }

void serial_init(void) {}
void serial_putc(char c) { syscall6(SYS_WRITE, 1, (long)&c, 1, 0, 0, 0); }
void serial_puts(const char *s)
{
    while (*s) serial_putc(*s++);
}

/* The debug-exit status convention: (code << 1) | 1. */
__attribute__((noreturn)) void exit(uint32_t code)
{
    syscall6(SYS_EXIT_GROUP, (long)((code << 1) | 1), 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

__attribute__((noreturn)) void pass(void)
{
    serial_puts("PASS\n");
    exit(0);
}

int vprintf(const char *format, __builtin_va_list args);
__attribute__((noreturn)) void fail(const char *format, ...)
{
    __builtin_va_list args;
    __builtin_va_start(args, format);
    serial_puts("FAIL: ");
    vprintf(format, args);
    __builtin_va_end(args);
    serial_putc('\n');
    exit(1);
}

static uint64_t parse_decimal(const char *text, uint64_t fallback)
{
    uint64_t value = 0;
    if (!text || !*text) return fallback;
    for (; *text >= '0' && *text <= '9'; text++) value = value * 10 + (uint64_t)(*text - '0');
    return value;
}

/* Called from _start with the initial stack: argc, then argv. */
__attribute__((noreturn, used)) static void native_start(long *stack)
{
    long argc = stack[0];
    char **argv = (char **)(stack + 1);
    if (argc > 1) command_line = argv[1];
    uint64_t mib = parse_decimal(argc > 2 ? argv[2] : 0, 512);
    /* The guest takes RAM to end at 1 MiB + mem_upper: map `mib` MiB above the image and say so. */
    uint64_t bytes = mib << 20;
    long mapped = syscall6(SYS_MMAP, (long)image_end(), (long)bytes, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS_FIXED, -1, 0);
    if (mapped != (long)image_end()) fail("cannot map %llu bytes at 0x%lx", (unsigned long long)bytes, (unsigned long)image_end());
    ram_kib = (image_end() - 0x100000 + bytes) >> 10;
    guest_main();
    pass();
}

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call native_start\n");
