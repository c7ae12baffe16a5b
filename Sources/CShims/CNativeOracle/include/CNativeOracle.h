// The host CPU as an oracle for the Soft backend: runs a short instruction sequence natively at
// CPL 3, from a register state the caller chooses, and hands back the state after it or the
// exception it raised.
//
// How: a signal handler rewrites its ucontext (general registers, RIP, RFLAGS, CS, and the XMM
// registers in the FXSAVE image) so that the kernel's rt_sigreturn enters the code page with exactly
// that state. The code page is filled with INT3 after the sequence; the SIGTRAP (or the fault's
// signal) handler reads the state back from its own ucontext, whose trapno/err fields carry the
// exception vector and error code, and siglongjmps back to the caller. Setting CS to the kernel's
// 32-bit user selector (__USER32_CS, 0x23) runs the code in compatibility mode, so i386 operand
// semantics come from the host too.
#ifndef CNATIVEORACLE_H
#define CNATIVEORACLE_H
#include <stddef.h>
#include <stdint.h>

/// Fixed addresses, below 4 GiB so compatibility-mode code can reach them.
#define ORACLE_CODE_ADDRESS 0x01000000ULL
#define ORACLE_DATA_ADDRESS 0x01001000ULL
#define ORACLE_PAGE_SIZE 4096

/// The RFLAGS bits a user may load: CF PF AF ZF SF DF OF (AC and TF are left clear: the signal
/// handlers and libc would trip over them).
#define ORACLE_USER_FLAGS 0x0cd5ULL

typedef struct oracle_state {
    /// In instruction-encoding order: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15.
    uint64_t gpr[16];
    uint64_t rip;
    uint64_t rflags;
    /// XMMn low quadword at [2n], high quadword at [2n+1].
    uint64_t xmm[32];
    /// With load_x87 != 0, the x87 part of the FXSAVE image (bytes 0-159: FCW, FSW, abridged FTW,
    /// FOP, FIP, FDP, ST0-ST7; MXCSR at 24-31 is left alone) is loaded before the run and read back
    /// after it; otherwise the x87 state is the kernel's and x87 is not written.
    uint8_t x87[160];
    uint32_t load_x87;
    /// MXCSR in (bits 31:16 must be clear) and out. With an exception unmasked, the instruction
    /// that raises it ends the run with vector 19 (#XM).
    uint32_t mxcsr;
} oracle_state;

enum oracle_result_kind {
    /// The sequence ran into the INT3 filler; state.rip is the filler's address.
    ORACLE_COMPLETED = 0,
    /// The CPU raised `vector`; state.rip is where the kernel reported it (the faulting instruction).
    ORACLE_EXCEPTION = 1,
    /// The oracle could not run the sequence (see oracle_error()).
    ORACLE_FAILED = 2,
};

typedef struct oracle_result {
    int32_t kind;
    uint32_t vector;
    uint64_t error_code;
    /// si_addr of SIGSEGV/SIGBUS (CR2 for a page fault), else 0.
    uint64_t fault_address;
} oracle_result;

/// Maps the code and data pages and installs the handlers. Returns 0, or -1 with oracle_error() set.
int oracle_open(void);
/// Restores the previous handlers and alternate stack and unmaps the pages.
void oracle_close(void);
const char *oracle_error(void);

/// Runs `length` bytes of code (at most ORACLE_PAGE_SIZE - 16) with `state` as input, in 64-bit
/// mode or (compat32 != 0) in compatibility mode. `data` is the 4 KiB data page, copied in before
/// and out after. On return `state` holds the registers at the stop.
oracle_result oracle_run(const uint8_t *code, size_t length, int compat32, oracle_state *state, uint8_t *data);

#endif
