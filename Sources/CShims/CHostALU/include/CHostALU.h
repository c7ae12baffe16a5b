// The host CPU's own answer for the integer instructions whose flags (or, in a few cases, results)
// the manuals leave undefined: BSF/BSR, TZCNT/LZCNT, BT*, MUL/IMUL, DIV/IDIV, shifts and rotates,
// SHLD/SHRD and BSWAP r16 (SDM vol. 2, each instruction's "Flags Affected"). The Soft CPU's
// translator runs guest instructions as the same host instructions, so their undefined flags are
// the host's; the interpreter asks these functions for the same bits, so an instruction leaves the
// same state whether its block is interpreted or translated, on any x86-64 host. Elsewhere (no
// __x86_64__) the functions do not exist and the interpreter keeps a fixed model.
//
// Every function takes the guest's RFLAGS before the instruction (only CF PF AF ZF SF OF are used:
// some hosts leave undefined flags unchanged) and returns those six bits as the host left them.
#ifndef CHOSTALU_H
#define CHOSTALU_H
#include <stdint.h>

#if defined(__x86_64__)
#define HOST_ALU_AVAILABLE 1

typedef struct host_alu_result {
    uint64_t value;
    uint64_t flags;
} host_alu_result;

/// BSF (reverse = 0) or BSR (1) at `size` bytes (2, 4, 8) into a register holding `destination`
/// (all 64 bits: a zero source may leave it, or part of it, unchanged).
host_alu_result host_bit_scan(int reverse, int size, uint64_t destination, uint64_t source, uint64_t flags);
/// TZCNT (leading = 0) or LZCNT (1); the value is the whole 64-bit destination register.
host_alu_result host_count_zeros(int leading, int size, uint64_t destination, uint64_t source, uint64_t flags);
/// BT (kind 0), BTS (1), BTR (2), BTC (3) of `bit` (already reduced modulo the width) in a register.
uint64_t host_bit_test_flags(int kind, int size, uint64_t value, uint64_t bit, uint64_t flags);
/// MUL (kind 0) and IMUL (1) of the accumulator by `source`, IMUL r, r/m (2); flags only.
uint64_t host_multiply_flags(int kind, int size, uint64_t accumulator, uint64_t source, uint64_t flags);
/// DIV (signed = 0) or IDIV (1) of high:low by `divisor`; flags only. The caller has checked that
/// the division raises no #DE.
uint64_t host_divide_flags(int is_signed, int size, uint64_t high, uint64_t low, uint64_t divisor, uint64_t flags);
/// Group-2 shift or rotate `kind` (the ModRM reg digit: ROL ROR RCL RCR SHL SHR SAL SAR) of `value`
/// by `count` (masked by the host); the value is the low `size` bytes of the result.
host_alu_result host_shift(int kind, int size, uint64_t value, uint64_t count, uint64_t flags);
/// SHLD (right = 0) or SHRD (1) of `destination`, filling from `source`, by `count`.
host_alu_result host_double_shift(int right, int size, uint64_t destination, uint64_t source, uint64_t count,
                                  uint64_t flags);
/// BSWAP of a 16-bit register holding `value` (all 64 bits): the result the manual leaves undefined.
uint64_t host_bswap16(uint64_t value);
/// CPUID leaf/subleaf on the host: eax, ebx, ecx, edx.
void host_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t registers[4]);
#endif
#endif
