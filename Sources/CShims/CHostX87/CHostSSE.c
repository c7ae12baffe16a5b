// See CHostSSE.h.
#define _GNU_SOURCE
#include "CHostSSE.h"
#include <stddef.h>

#if defined(__x86_64__) && defined(__linux__)
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

_Static_assert(offsetof(host_sse_call, source) == 16, "asm offsets");
_Static_assert(offsetof(host_sse_call, integer) == 32, "asm offsets");
_Static_assert(offsetof(host_sse_call, rflags) == 40, "asm offsets");
_Static_assert(offsetof(host_sse_call, mxcsr) == 48, "asm offsets");
_Static_assert(offsetof(host_sse_call, stub) == 52, "asm offsets");
_Static_assert(offsetof(host_sse_call, faulted) == 56, "asm offsets");

#define TEXT(x) #x
#define NUMBER(x) TEXT(x)
/// Fails the build when a group of stubs does not start at the number the header gives it.
#define AT(base) ".if (. - host_sse_stubs) != " NUMBER(base) " * 8\n.error \"stub table out of step with CHostSSE.h\"\n.endif\n"

// Every stub is 8 bytes: the instruction (at most 7 bytes), RET, INT3 padding. A fault can only
// come from a stub's first instruction, which is the guest's.
__asm__(
    ".text\n"
    ".macro sse_stub bytes:vararg\n"
    "  0: .byte \\bytes\n"
    "  .byte 0xc3\n"
    "  .fill 8 - (. - 0b), 1, 0xcc\n"
    ".endm\n"
    ".macro sse_formats tail:vararg\n"
    "  sse_stub \\tail\n"
    "  sse_stub 0x66, \\tail\n"
    "  sse_stub 0xf3, \\tail\n"
    "  sse_stub 0xf2, \\tail\n"
    ".endm\n"
    ".p2align 4\n"
    "host_sse_stubs:\n"
    AT(HOST_SSE_ARITHMETIC)
    ".irp opcode, 0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f\n"
    "  sse_formats 0x0f, \\opcode, 0xc1\n"
    ".endr\n"
    AT(HOST_SSE_CONVERT_PRECISION)
    "sse_formats 0x0f, 0x5a, 0xc1\n"
    AT(HOST_SSE_CONVERT_PACKED)
    "sse_stub 0x0f, 0x5b, 0xc1\n"
    "sse_stub 0x66, 0x0f, 0x5b, 0xc1\n"
    "sse_stub 0xf3, 0x0f, 0x5b, 0xc1\n"
    "sse_stub 0x66, 0x0f, 0xe6, 0xc1\n"
    "sse_stub 0xf3, 0x0f, 0xe6, 0xc1\n"
    "sse_stub 0xf2, 0x0f, 0xe6, 0xc1\n"
    AT(HOST_SSE_COMPARE_ORDERED)
    // These set RFLAGS: PUSHFQ, POP R10 hand it over (0x9c, 0x41 0x5a).
    "sse_stub 0x0f, 0x2e, 0xc1, 0x9c, 0x41, 0x5a\n"
    "sse_stub 0x66, 0x0f, 0x2e, 0xc1, 0x9c, 0x41, 0x5a\n"
    "sse_stub 0x0f, 0x2f, 0xc1, 0x9c, 0x41, 0x5a\n"
    "sse_stub 0x66, 0x0f, 0x2f, 0xc1, 0x9c, 0x41, 0x5a\n"
    AT(HOST_SSE_HORIZONTAL)
    ".irp opcode, 0xd0, 0x7c, 0x7d\n"
    "  sse_stub 0xf2, 0x0f, \\opcode, 0xc1\n"
    "  sse_stub 0x66, 0x0f, \\opcode, 0xc1\n"
    ".endr\n"
    AT(HOST_SSE_FROM_INTEGER)
    ".irp prefix, 0xf3, 0xf2\n"
    "  sse_stub \\prefix, 0x0f, 0x2a, 0xc0\n"
    "  sse_stub \\prefix, 0x48, 0x0f, 0x2a, 0xc0\n"
    ".endr\n"
    AT(HOST_SSE_TO_INTEGER)
    ".irp prefix, 0xf3, 0xf2\n"
    "  .irp opcode, 0x2c, 0x2d\n"
    "    sse_stub \\prefix, 0x0f, \\opcode, 0xc1\n"
    "    sse_stub \\prefix, 0x48, 0x0f, \\opcode, 0xc1\n"
    "  .endr\n"
    ".endr\n"
    AT(HOST_SSE_COMPARE)
    ".irp predicate, 0, 1, 2, 3, 4, 5, 6, 7\n"
    "  sse_stub 0x0f, 0xc2, 0xc1, \\predicate\n"
    ".endr\n"
    ".irp prefix, 0x66, 0xf3, 0xf2\n"
    "  .irp predicate, 0, 1, 2, 3, 4, 5, 6, 7\n"
    "    sse_stub \\prefix, 0x0f, 0xc2, 0xc1, \\predicate\n"
    "  .endr\n"
    ".endr\n"
    AT(HOST_SSE_ROUND)
    ".irp opcode, 0x08, 0x09, 0x0a, 0x0b\n"
    "  .irp control, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
    "    sse_stub 0x66, 0x0f, 0x3a, \\opcode, 0xc1, \\control\n"
    "  .endr\n"
    ".endr\n"
    AT(HOST_SSE_DPPS)
    ".irp high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
    "  .irp low, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
    "    sse_stub 0x66, 0x0f, 0x3a, 0x40, 0xc1, (\\high << 4) | \\low\n"
    "  .endr\n"
    ".endr\n"
    AT(HOST_SSE_DPPD)
    ".irp high, 0x00, 0x10, 0x20, 0x30\n"
    "  .irp low, 0, 1, 2, 3\n"
    "    sse_stub 0x66, 0x0f, 0x3a, 0x41, 0xc1, \\high | \\low\n"
    "  .endr\n"
    ".endr\n"
    AT(HOST_SSE_STUB_COUNT)
    "host_sse_stubs_end:\n"
    "\n"
    // The SIGFPE handler resumes here, R11 = 1, from a stub that raised #XM; the RET returns
    // after the stub's call.
    "host_sse_fault_return:\n"
    "  ret\n"
    "\n"
    ".type host_sse_execute_stub, @function\n"
    // RDI = the call, ESI = the host's MXCSR control bits.
    "host_sse_execute_stub:\n"
    "  push %rbx\n"
    "  sub $16, %rsp\n"
    "  mov %rdi, %rbx\n"
    "  mov %esi, 8(%rsp)\n"
    "  ldmxcsr 48(%rbx)\n"           // the guest's MXCSR
    "  movdqu (%rbx), %xmm0\n"
    "  movdqu 16(%rbx), %xmm1\n"
    "  mov 32(%rbx), %rax\n"
    "  mov 52(%rbx), %ecx\n"
    "  lea host_sse_stubs(%rip), %rdx\n"
    "  lea (%rdx,%rcx,8), %rcx\n"
    "  xor %r11d, %r11d\n"
    "  call *%rcx\n"
    "  stmxcsr 48(%rbx)\n"
    "  ldmxcsr 8(%rsp)\n"            // the host's
    "  mov %r10, 40(%rbx)\n"         // RFLAGS, from the compare stubs
    "  movdqu %xmm0, (%rbx)\n"
    "  mov %rax, 32(%rbx)\n"
    "  mov %r11d, 56(%rbx)\n"
    "  add $16, %rsp\n"
    "  pop %rbx\n"
    "  ret\n"
    ".size host_sse_execute_stub, . - host_sse_execute_stub\n");

void host_sse_execute_stub(host_sse_call *call, uint32_t host_mxcsr) __asm__("host_sse_execute_stub");
extern const uint8_t host_sse_stubs[] __asm__("host_sse_stubs");
extern const uint8_t host_sse_stubs_end[] __asm__("host_sse_stubs_end");
extern const uint8_t host_sse_fault_return[] __asm__("host_sse_fault_return");

static struct sigaction previous_handler;
static pthread_once_t handler_installed = PTHREAD_ONCE_INIT;

/// #XM inside a stub: resume at host_sse_fault_return with R11 = 1. The kernel restores the FPU
/// state saved at the fault on return, so MXCSR keeps the flags the instruction set. Any other
/// SIGFPE belongs to whoever handled it before.
static void floating_point_exception(int signal, siginfo_t *info, void *raw) {
    ucontext_t *context = raw;
    greg_t *registers = context->uc_mcontext.gregs;
    uintptr_t rip = (uintptr_t)registers[REG_RIP];
    if (rip >= (uintptr_t)host_sse_stubs && rip < (uintptr_t)host_sse_stubs_end) {
        registers[REG_RIP] = (greg_t)(uintptr_t)host_sse_fault_return;
        registers[REG_R11] = 1;
        return;
    }
    if ((previous_handler.sa_flags & SA_SIGINFO) && previous_handler.sa_sigaction) {
        previous_handler.sa_sigaction(signal, info, raw);
    } else if (previous_handler.sa_handler != SIG_DFL && previous_handler.sa_handler != SIG_IGN) {
        previous_handler.sa_handler(signal);
    } else {
        // Put the default back: the faulting instruction runs again into it.
        sigaction(SIGFPE, &previous_handler, NULL);
    }
}

static void install_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = floating_point_exception;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGFPE, &action, &previous_handler);
}

/// This thread's MXCSR control bits, read once: they are callee-saved (System V psABI, 3.2.1) and
/// nothing in vmm changes them, so they stay what the thread started with. STMXCSR waits for the
/// SSE operations in flight (about 13 cycles on the AMD cores seen, where LDMXCSR costs one or
/// two); so each call has one, to read the guest's flags, and restores the host's controls with
/// LDMXCSR from here.
static __thread uint32_t host_mxcsr;
static __thread int host_mxcsr_known;

uint32_t host_sse_mxcsr_mask(void) {
    _Alignas(16) uint8_t image[512];
    __asm__ volatile("fxsave64 %0" : "=m"(image));
    uint32_t mask;
    memcpy(&mask, image + 28, sizeof mask);
    return mask ? mask : 0xffbf;
}

int host_sse_execute(host_sse_call *call) {
    // MXCSR bits 12:7 are the masks: with all set the host cannot fault.
    if ((call->mxcsr & 0x1f80) != 0x1f80) pthread_once(&handler_installed, install_handler);
    if (!host_mxcsr_known) {
        __asm__ volatile("stmxcsr %0" : "=m"(host_mxcsr));
        host_mxcsr &= 0xffc0;
        host_mxcsr_known = 1;
    }
    host_sse_execute_stub(call, host_mxcsr);
    return 1;
}

#else

uint32_t host_sse_mxcsr_mask(void) { return 0xffff; }
int host_sse_execute(host_sse_call *call) { (void)call; return 0; }

#endif
