// See CHostALU.h. Each instruction runs between a POPFQ of the guest's arithmetic flags and a
// PUSHFQ that reads them back. The stack pointer first steps over the 128-byte red zone (SysV
// x86-64 ABI 3.2.2), where the compiler may keep locals, before anything is pushed; operands are
// registers only, so no operand is addressed relative to the moved stack pointer.
#include "CHostALU.h"

#if defined(__x86_64__)
/// CF PF AF ZF SF OF: all a user process may load, and all the guest's instruction can change.
#define ARITHMETIC_FLAGS 0x8d5ULL
#define ENTER "lea -128(%%rsp), %%rsp\n\tpushq %[f]\n\tpopfq\n\t"
#define LEAVE "\n\tpushfq\n\tpopq %[f]\n\tlea 128(%%rsp), %%rsp"

static inline uint64_t guest_flags(uint64_t flags) { return (flags & ARITHMETIC_FLAGS) | 0x2; }

/// One instruction `text` on a read-write register D and a read-only register S.
#define RUN2(text, D, S, F) __asm__ volatile(ENTER text LEAVE : [d] "+r"(D), [f] "+r"(F) : [s] "r"(S) : "cc", "memory")

host_alu_result host_bit_scan(int reverse, int size, uint64_t destination, uint64_t source, uint64_t flags) {
    uint64_t d = destination, f = guest_flags(flags);
    switch (size * 2 + reverse) {
    case 4: RUN2("bsfw %w[s], %w[d]", d, source, f); break;
    case 5: RUN2("bsrw %w[s], %w[d]", d, source, f); break;
    case 8: RUN2("bsfl %k[s], %k[d]", d, source, f); break;
    case 9: RUN2("bsrl %k[s], %k[d]", d, source, f); break;
    case 16: RUN2("bsfq %[s], %[d]", d, source, f); break;
    default: RUN2("bsrq %[s], %[d]", d, source, f); break;
    }
    return (host_alu_result){d, f & ARITHMETIC_FLAGS};
}

host_alu_result host_count_zeros(int leading, int size, uint64_t destination, uint64_t source, uint64_t flags) {
    uint64_t d = destination, f = guest_flags(flags);
    switch (size * 2 + leading) {
    case 4: RUN2("tzcntw %w[s], %w[d]", d, source, f); break;
    case 5: RUN2("lzcntw %w[s], %w[d]", d, source, f); break;
    case 8: RUN2("tzcntl %k[s], %k[d]", d, source, f); break;
    case 9: RUN2("lzcntl %k[s], %k[d]", d, source, f); break;
    case 16: RUN2("tzcntq %[s], %[d]", d, source, f); break;
    default: RUN2("lzcntq %[s], %[d]", d, source, f); break;
    }
    return (host_alu_result){d, f & ARITHMETIC_FLAGS};
}

uint64_t host_bit_test_flags(int kind, int size, uint64_t value, uint64_t bit, uint64_t flags) {
    uint64_t d = value, f = guest_flags(flags);
    switch (size * 4 + kind) {
    case 8: RUN2("btw %w[s], %w[d]", d, bit, f); break;
    case 9: RUN2("btsw %w[s], %w[d]", d, bit, f); break;
    case 10: RUN2("btrw %w[s], %w[d]", d, bit, f); break;
    case 11: RUN2("btcw %w[s], %w[d]", d, bit, f); break;
    case 16: RUN2("btl %k[s], %k[d]", d, bit, f); break;
    case 17: RUN2("btsl %k[s], %k[d]", d, bit, f); break;
    case 18: RUN2("btrl %k[s], %k[d]", d, bit, f); break;
    case 19: RUN2("btcl %k[s], %k[d]", d, bit, f); break;
    case 32: RUN2("btq %[s], %[d]", d, bit, f); break;
    case 33: RUN2("btsq %[s], %[d]", d, bit, f); break;
    case 34: RUN2("btrq %[s], %[d]", d, bit, f); break;
    default: RUN2("btcq %[s], %[d]", d, bit, f); break;
    }
    return f & ARITHMETIC_FLAGS;
}

/// One-operand MUL/IMUL: the accumulator in RAX, the high half in RDX.
#define RUN_WIDE(text, A, DX, S, F) \
    __asm__ volatile(ENTER text LEAVE : "+a"(A), "+d"(DX), [f] "+r"(F) : [s] "r"(S) : "cc", "memory")

uint64_t host_multiply_flags(int kind, int size, uint64_t accumulator, uint64_t source, uint64_t flags) {
    uint64_t a = accumulator, dx = 0, f = guest_flags(flags);
    switch (kind * 16 + size) {
    case 1: RUN_WIDE("mulb %b[s]", a, dx, source, f); break;
    case 2: RUN_WIDE("mulw %w[s]", a, dx, source, f); break;
    case 4: RUN_WIDE("mull %k[s]", a, dx, source, f); break;
    case 8: RUN_WIDE("mulq %[s]", a, dx, source, f); break;
    case 17: RUN_WIDE("imulb %b[s]", a, dx, source, f); break;
    case 18: RUN_WIDE("imulw %w[s]", a, dx, source, f); break;
    case 20: RUN_WIDE("imull %k[s]", a, dx, source, f); break;
    case 24: RUN_WIDE("imulq %[s]", a, dx, source, f); break;
    case 34: RUN2("imulw %w[s], %w[d]", a, source, f); break;
    case 36: RUN2("imull %k[s], %k[d]", a, source, f); break;
    default: RUN2("imulq %[s], %[d]", a, source, f); break;
    }
    return f & ARITHMETIC_FLAGS;
}

uint64_t host_divide_flags(int is_signed, int size, uint64_t high, uint64_t low, uint64_t divisor, uint64_t flags) {
    uint64_t a = low, dx = high, f = guest_flags(flags);
    if (size == 1) a = (high << 8) | (low & 0xff); // AX is the dividend of an 8-bit divide
    switch (is_signed * 16 + size) {
    case 1: RUN_WIDE("divb %b[s]", a, dx, divisor, f); break;
    case 2: RUN_WIDE("divw %w[s]", a, dx, divisor, f); break;
    case 4: RUN_WIDE("divl %k[s]", a, dx, divisor, f); break;
    case 8: RUN_WIDE("divq %[s]", a, dx, divisor, f); break;
    case 17: RUN_WIDE("idivb %b[s]", a, dx, divisor, f); break;
    case 18: RUN_WIDE("idivw %w[s]", a, dx, divisor, f); break;
    case 20: RUN_WIDE("idivl %k[s]", a, dx, divisor, f); break;
    default: RUN_WIDE("idivq %[s]", a, dx, divisor, f); break;
    }
    return f & ARITHMETIC_FLAGS;
}

/// A shift by CL of the register `d`.
#define RUN_CL(text, D, COUNT, F) \
    __asm__ volatile(ENTER text LEAVE : [d] "+r"(D), [f] "+r"(F) : "c"(COUNT) : "cc", "memory")
#define SHIFT_CASES(suffix, reg)                                              \
    case 0: RUN_CL("rol" suffix " %%cl, %" reg "[d]", d, count, f); break;    \
    case 1: RUN_CL("ror" suffix " %%cl, %" reg "[d]", d, count, f); break;    \
    case 2: RUN_CL("rcl" suffix " %%cl, %" reg "[d]", d, count, f); break;    \
    case 3: RUN_CL("rcr" suffix " %%cl, %" reg "[d]", d, count, f); break;    \
    case 5: RUN_CL("shr" suffix " %%cl, %" reg "[d]", d, count, f); break;    \
    case 7: RUN_CL("sar" suffix " %%cl, %" reg "[d]", d, count, f); break;    \
    default: RUN_CL("shl" suffix " %%cl, %" reg "[d]", d, count, f); break;

host_alu_result host_shift(int kind, int size, uint64_t value, uint64_t count, uint64_t flags) {
    uint64_t d = value, f = guest_flags(flags);
    // SAL (digit 6) is SHL's other encoding; both vendors execute it as SHL.
    switch (size) {
    case 1: switch (kind) { SHIFT_CASES("b", "b") } break;
    case 2: switch (kind) { SHIFT_CASES("w", "w") } break;
    case 4: switch (kind) { SHIFT_CASES("l", "k") } break;
    default: switch (kind) { SHIFT_CASES("q", "") } break;
    }
    uint64_t mask = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
    return (host_alu_result){d & mask, f & ARITHMETIC_FLAGS};
}

#define RUN_DOUBLE(text, D, S, COUNT, F) \
    __asm__ volatile(ENTER text LEAVE : [d] "+r"(D), [f] "+r"(F) : [s] "r"(S), "c"(COUNT) : "cc", "memory")

host_alu_result host_double_shift(int right, int size, uint64_t destination, uint64_t source, uint64_t count,
                                  uint64_t flags) {
    uint64_t d = destination, f = guest_flags(flags);
    switch (size * 2 + right) {
    case 4: RUN_DOUBLE("shldw %%cl, %w[s], %w[d]", d, source, count, f); break;
    case 5: RUN_DOUBLE("shrdw %%cl, %w[s], %w[d]", d, source, count, f); break;
    case 8: RUN_DOUBLE("shldl %%cl, %k[s], %k[d]", d, source, count, f); break;
    case 9: RUN_DOUBLE("shrdl %%cl, %k[s], %k[d]", d, source, count, f); break;
    case 16: RUN_DOUBLE("shldq %%cl, %[s], %[d]", d, source, count, f); break;
    default: RUN_DOUBLE("shrdq %%cl, %[s], %[d]", d, source, count, f); break;
    }
    uint64_t mask = size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
    return (host_alu_result){d & mask, f & ARITHMETIC_FLAGS};
}

uint64_t host_bswap16(uint64_t value) {
    uint64_t d = value;
    // BSWAP with an operand-size prefix (66 0F C8+r); assemblers refuse to spell it.
    __asm__ volatile("mov %[d], %%rax\n\t.byte 0x66, 0x0f, 0xc8\n\tmov %%rax, %[d]" : [d] "+r"(d) : : "rax");
    return d;
}

void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t registers[4]) {
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(subleaf));
    registers[0] = a; registers[1] = b; registers[2] = c; registers[3] = d;
}
#endif
