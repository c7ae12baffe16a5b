/* 64-bit unsigned division by shift-and-subtract: a 32-bit guest has no libgcc (__udivdi3). */
#include "guest.h"

uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t *remainder)
{
    uint64_t quotient = 0, rest = 0;
    if (d == 0) fail("division by zero");
    for (int bit = 63; bit >= 0; bit--) {
        rest = (rest << 1) | ((n >> bit) & 1);
        if (rest >= d) {
            rest -= d;
            quotient |= (uint64_t)1 << bit;
        }
    }
    if (remainder) *remainder = rest;
    return quotient;
}
