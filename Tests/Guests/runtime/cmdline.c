/* "key=NUMBER" options in the boot command line, separated by spaces. */
#include "guest.h"

extern char _end[];

uintptr_t image_end(void) { return ((uintptr_t)_end + 4095) & ~(uintptr_t)4095; }

uint64_t cmdline_number(const char *key, uint64_t fallback)
{
    size_t key_length = strlen(key);
    const char *p = boot_cmdline();
    while (*p) {
        while (*p == ' ') p++;
        const char *word = p;
        while (*p && *p != ' ') p++;
        if ((size_t)(p - word) > key_length && !strncmp(word, key, key_length) && word[key_length] == '=') {
            uint64_t value = 0;
            const char *digit = word + key_length + 1;
            if (digit == p || *digit < '0' || *digit > '9') return fallback;
            for (; digit < p && *digit >= '0' && *digit <= '9'; digit++) value = value * 10 + (uint64_t)(*digit - '0');
            return value;
        }
    }
    return fallback;
}
