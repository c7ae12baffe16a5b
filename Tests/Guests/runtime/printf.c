/* A small printf onto COM1. */
#include "guest.h"

static int put_number(uint64_t value, unsigned base, int is_negative, int width, char pad, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buffer[24];
    int length = 0;
    do {
        uint64_t digit;
        value = udivmod64(value, base, &digit);
        buffer[length++] = digits[digit];
    } while (value);
    int printed = 0;
    if (is_negative && pad == '0') { serial_putc('-'); printed++; }
    for (int fill = length + is_negative; fill < width; fill++) { serial_putc(pad); printed++; }
    if (is_negative && pad != '0') { serial_putc('-'); printed++; }
    while (length) { serial_putc(buffer[--length]); printed++; }
    return printed;
}

int vprintf(const char *format, va_list args)
{
    int printed = 0;
    for (const char *p = format; *p; p++) {
        if (*p != '%') { serial_putc(*p); printed++; continue; }
        p++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*p == '0') { pad = '0'; p++; }
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        while (*p == 'l' || *p == 'z') { longs += (*p == 'z') ? (sizeof(size_t) == 8 ? 2 : 1) : 1; p++; }
        uint64_t value;
        switch (*p) {
        case 'd': case 'i': {
            int64_t s = longs >= 2 ? va_arg(args, long long) : longs ? va_arg(args, long) : va_arg(args, int);
            value = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
            printed += put_number(value, 10, s < 0, width, pad, 0);
            break;
        }
        case 'u': case 'x': case 'X':
            value = longs >= 2 ? va_arg(args, unsigned long long) : longs ? va_arg(args, unsigned long)
                                                                          : va_arg(args, unsigned);
            printed += put_number(value, *p == 'u' ? 10 : 16, 0, width, pad, *p == 'X');
            break;
        case 'p':
            serial_puts("0x");
            printed += 2 + put_number((uintptr_t)va_arg(args, void *), 16, 0, width, pad, 0);
            break;
        case 's': {
            const char *s = va_arg(args, const char *);
            if (!s) s = "(null)";
            for (int fill = (int)strlen(s); fill < width; fill++) { serial_putc(' '); printed++; }
            serial_puts(s);
            printed += (int)strlen(s);
            break;
        }
        case 'c': serial_putc((char)va_arg(args, int)); printed++; break;
        case '%': serial_putc('%'); printed++; break;
        case '\0': return printed;
        default: serial_putc('%'); serial_putc(*p); printed += 2; break;
        }
    }
    return printed;
}

int printf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int printed = vprintf(format, args);
    va_end(args);
    return printed;
}
