// See CNativeOracle.h for the technique. Linux x86-64 only: the ucontext layout (gregs, the
// FXSAVE image behind fpregs, the XSAVE header after it) is the kernel's signal frame
// (arch/x86/include/uapi/asm/sigcontext.h); trapno and err are the exception's vector and error
// code as the kernel's trap handler recorded them.
#define _GNU_SOURCE
#include "CNativeOracle.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define LAUNCH_SIGNAL SIGUSR2
#define ALTERNATE_STACK_SIZE (256 * 1024)
#define USER32_CS 0x23
#define USER64_CS 0x33
#define USER_DS 0x2b
/// FP_XSTATE_MAGIC1: the FXSAVE image is followed by an XSAVE header (sigcontext.h).
#define XSTATE_MAGIC1 0x46505853U
#define XSTATE_SW_RESERVED_OFFSET 464
#define XSAVE_HEADER_OFFSET 512
#define XFEATURE_X87_SSE 0x3ULL

static const int captured_signals[] = {SIGTRAP, SIGILL, SIGSEGV, SIGBUS, SIGFPE};
#define CAPTURED_COUNT (sizeof captured_signals / sizeof captured_signals[0])

/// greg index for each register in encoding order.
static const int greg_of_encoding[16] = {
    REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
    REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static struct {
    int open;
    uint8_t *code;
    uint8_t *data;
    void *alternate_stack;
    stack_t previous_stack;
    struct sigaction previous_launch;
    struct sigaction previous[CAPTURED_COUNT];
    char error[256];
    // Per run.
    sigjmp_buf return_point;
    oracle_state *state;
    oracle_result result;
    int compat32;
    volatile sig_atomic_t active;
} oracle;

const char *oracle_error(void) { return oracle.error; }

static void fail(const char *what) {
    snprintf(oracle.error, sizeof oracle.error, "native oracle: %s: %s", what, strerror(errno));
}

static void load_xmm(ucontext_t *context, const oracle_state *state) {
    struct _libc_fpstate *fp = context->uc_mcontext.fpregs;
    if (!fp) return;
    memcpy(fp->_xmm, state->xmm, sizeof state->xmm);
    fp->mxcsr = state->mxcsr;
    uint8_t *image = (uint8_t *)fp;
    if (state->load_x87) {
        memcpy(image, state->x87, 24);
        memcpy(image + 32, state->x87 + 32, sizeof state->x87 - 32);
    }
    uint32_t magic;
    memcpy(&magic, image + XSTATE_SW_RESERVED_OFFSET, sizeof magic);
    if (magic == XSTATE_MAGIC1) {
        // An XSAVE frame restores SSE state only when XSTATE_BV says it is present (SDM vol. 1, 13.8).
        uint64_t present;
        memcpy(&present, image + XSAVE_HEADER_OFFSET, sizeof present);
        present |= XFEATURE_X87_SSE;
        memcpy(image + XSAVE_HEADER_OFFSET, &present, sizeof present);
    }
}

/// Runs on LAUNCH_SIGNAL: turns the interrupted context into the wanted guest state.
static void launch(int signal, siginfo_t *info, void *raw) {
    (void)signal;
    (void)info;
    ucontext_t *context = raw;
    greg_t *g = context->uc_mcontext.gregs;
    const oracle_state *state = oracle.state;
    for (int index = 0; index < 16; index++) g[greg_of_encoding[index]] = (greg_t)state->gpr[index];
    g[REG_RIP] = (greg_t)ORACLE_CODE_ADDRESS;
    g[REG_EFL] = (greg_t)(((uint64_t)g[REG_EFL] & ~(ORACLE_USER_FLAGS | 0x40100ULL)) | (state->rflags & ORACLE_USER_FLAGS));
    uint64_t segments = (uint64_t)g[REG_CSGSFS];
    segments = (segments & ~0xffffULL) | (oracle.compat32 ? USER32_CS : USER64_CS);
    g[REG_CSGSFS] = (greg_t)segments;
    load_xmm(context, state);
    for (size_t index = 0; index < CAPTURED_COUNT; index++) sigdelset(&context->uc_sigmask, captured_signals[index]);
    oracle.active = 1;
}

static void signal_default(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigaction(signal, &action, NULL);
}

/// A signal from outside a run goes to the handler that was there before: called, when it is a
/// function (CHostSSE's SIGFPE handler, say, which must stay reachable while the oracle is open);
/// else put back, so the faulting instruction runs again into it.
/// Handlers that pass on to each other in a ring (one installed before an oracle_open and after
/// an earlier one) come back here: the default action ends the ring.
static void pass_on(int signal, siginfo_t *info, void *context) {
    static volatile sig_atomic_t passing;
    for (size_t index = 0; index < CAPTURED_COUNT; index++) {
        if (captured_signals[index] != signal) continue;
        struct sigaction *previous = &oracle.previous[index];
        if (passing) {
            signal_default(signal);
        } else if ((previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction) {
            passing = 1;
            previous->sa_sigaction(signal, info, context);
            passing = 0;
        } else if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
            previous->sa_handler(signal);
        } else {
            sigaction(signal, previous, NULL);
        }
    }
}

/// Runs on the signal that ended the sequence: reads the state back and returns to oracle_run.
static void capture(int signal, siginfo_t *info, void *raw) {
    if (!oracle.active) {
        // Not ours: a fault in the host program.
        pass_on(signal, info, raw);
        return;
    }
    oracle.active = 0;
    ucontext_t *context = raw;
    greg_t *g = context->uc_mcontext.gregs;
    oracle_state *state = oracle.state;
    for (int index = 0; index < 16; index++) state->gpr[index] = (uint64_t)g[greg_of_encoding[index]];
    state->rip = (uint64_t)g[REG_RIP];
    state->rflags = (uint64_t)g[REG_EFL];
    if (context->uc_mcontext.fpregs) {
        memcpy(state->xmm, context->uc_mcontext.fpregs->_xmm, sizeof state->xmm);
        state->mxcsr = context->uc_mcontext.fpregs->mxcsr;
        if (state->load_x87) {
            const uint8_t *image = (const uint8_t *)context->uc_mcontext.fpregs;
            memcpy(state->x87, image, 24);
            memcpy(state->x87 + 32, image + 32, sizeof state->x87 - 32);
        }
    }
    uint32_t vector = (uint32_t)g[REG_TRAPNO];
    uint64_t end = ORACLE_CODE_ADDRESS + ORACLE_PAGE_SIZE;
    oracle.result.fault_address = (signal == SIGSEGV || signal == SIGBUS) ? (uint64_t)(uintptr_t)info->si_addr : 0;
    if (signal == SIGTRAP && vector == 3 && state->rip > ORACLE_CODE_ADDRESS && state->rip <= end
        && oracle.code[state->rip - 1 - ORACLE_CODE_ADDRESS] == 0xcc) {
        // INT3 traps with RIP after it; report the filler byte's own address.
        state->rip -= 1;
        oracle.result.kind = ORACLE_COMPLETED;
    } else {
        oracle.result.kind = ORACLE_EXCEPTION;
        oracle.result.vector = vector;
        oracle.result.error_code = (uint64_t)g[REG_ERR];
    }
    siglongjmp(oracle.return_point, 1);
}

int oracle_open(void) {
    if (oracle.open) return 0;
    void *pages = mmap((void *)(uintptr_t)ORACLE_CODE_ADDRESS, 2 * ORACLE_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (pages == MAP_FAILED || pages != (void *)(uintptr_t)ORACLE_CODE_ADDRESS) {
        if (pages != MAP_FAILED) munmap(pages, 2 * ORACLE_PAGE_SIZE);
        fail("mapping the code and data pages at 0x1000000");
        return -1;
    }
    oracle.code = pages;
    oracle.data = oracle.code + ORACLE_PAGE_SIZE;
    oracle.alternate_stack = malloc(ALTERNATE_STACK_SIZE);
    if (!oracle.alternate_stack) {
        munmap(pages, 2 * ORACLE_PAGE_SIZE);
        fail("allocating the signal stack");
        return -1;
    }
    // The guest state's RSP is arbitrary, so every handler runs on its own stack.
    stack_t stack = {.ss_sp = oracle.alternate_stack, .ss_size = ALTERNATE_STACK_SIZE, .ss_flags = 0};
    sigaltstack(&stack, &oracle.previous_stack);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&action.sa_mask);
    action.sa_sigaction = launch;
    sigaction(LAUNCH_SIGNAL, &action, &oracle.previous_launch);
    action.sa_sigaction = capture;
    action.sa_flags |= SA_NODEFER;
    for (size_t index = 0; index < CAPTURED_COUNT; index++) {
        sigaction(captured_signals[index], &action, &oracle.previous[index]);
    }
    oracle.open = 1;
    return 0;
}

void oracle_close(void) {
    if (!oracle.open) return;
    for (size_t index = 0; index < CAPTURED_COUNT; index++) {
        // A handler installed after the oracle's (CHostSSE's SIGFPE handler) stays: it passes on
        // to capture(), which, inactive, passes on to the handler from before the oracle.
        struct sigaction current;
        sigaction(captured_signals[index], NULL, &current);
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == capture) {
            sigaction(captured_signals[index], &oracle.previous[index], NULL);
        }
    }
    sigaction(LAUNCH_SIGNAL, &oracle.previous_launch, NULL);
    sigaltstack(&oracle.previous_stack, NULL);
    free(oracle.alternate_stack);
    munmap(oracle.code, 2 * ORACLE_PAGE_SIZE);
    oracle.open = 0;
}

oracle_result oracle_run(const uint8_t *code, size_t length, int compat32, oracle_state *state, uint8_t *data) {
    oracle_result failed = {.kind = ORACLE_FAILED};
    if (!oracle.open) {
        snprintf(oracle.error, sizeof oracle.error, "native oracle: not open");
        return failed;
    }
    if (length > ORACLE_PAGE_SIZE - 16) {
        snprintf(oracle.error, sizeof oracle.error, "native oracle: %zu bytes of code do not fit", length);
        return failed;
    }
    memcpy(oracle.code, code, length);
    memset(oracle.code + length, 0xcc, ORACLE_PAGE_SIZE - length);
    memcpy(oracle.data, data, ORACLE_PAGE_SIZE);
    oracle.state = state;
    oracle.compat32 = compat32;
    memset(&oracle.result, 0, sizeof oracle.result);
    // 64-bit processes run with null DS/ES, which 64-bit mode ignores; compatibility-mode code
    // faults on them. Signal delivery and sigreturn leave DS/ES alone, so load them here.
    uint16_t data_segment = USER_DS;
    __asm__ volatile("mov %0, %%ds\n\tmov %0, %%es" : : "r"(data_segment));
    if (sigsetjmp(oracle.return_point, 1) == 0) {
        raise(LAUNCH_SIGNAL);
        // Unreachable: the launch handler enters the code page, whose end traps into capture().
        snprintf(oracle.error, sizeof oracle.error, "native oracle: the launch signal did not enter the code");
        return failed;
    }
    memcpy(data, oracle.data, ORACLE_PAGE_SIZE);
    return oracle.result;
}
