// See CHostX87.h.
#include "CHostX87.h"
#include <stddef.h>

#if defined(__x86_64__)

_Static_assert(offsetof(host_x87_call, memory) == 512, "asm offsets");
_Static_assert(offsetof(host_x87_call, rflags) == 528, "asm offsets");
_Static_assert(offsetof(host_x87_call, stub) == 536, "asm offsets");

int host_x87_available(void) { return 1; }

uint32_t host_x87_environment_reserved_bits(void) {
    uint32_t environment[7];
    // FNSTENV masks every exception; FLDENV puts the control word back.
    __asm__ volatile("fnstenv %0\n\tfldenv %0" : "=m"(environment));
    return environment[0] & 0xffff0000u;
}

// Every stub is 4 bytes: the two opcode bytes, RET, INT3 padding. Register forms first (escape
// D8-DF x ModRM C0-FF), then memory forms (escape x ModRM.reg, r/m = 111b with mod 00: [RDI]).
__asm__(
    ".text\n"
    ".p2align 4\n"
    "host_x87_stubs:\n"
    ".irp escape, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf\n"
    "  .irp high, 0xc0, 0xd0, 0xe0, 0xf0\n"
    "    .irp low, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15\n"
    "      .byte \\escape, \\high + \\low, 0xc3, 0xcc\n"
    "    .endr\n"
    "  .endr\n"
    ".endr\n"
    ".irp escape, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf\n"
    "  .irp reg, 0, 1, 2, 3, 4, 5, 6, 7\n"
    "    .byte \\escape, (\\reg << 3) | 7, 0xc3, 0xcc\n"
    "  .endr\n"
    ".endr\n"
    "\n"
    ".type host_x87_execute_aligned, @function\n"
    "host_x87_execute_aligned:\n"
    "  push %rbp\n"
    "  mov %rsp, %rbp\n"
    "  push %rbx\n"
    "  sub $520, %rsp\n"
    "  and $-16, %rsp\n"
    "  mov %rdi, %rbx\n"
    "  fxsave64 (%rsp)\n"            // the host's state
    "  fxrstor64 (%rbx)\n"           // the guest's
    "  mov 536(%rbx), %eax\n"
    "  lea host_x87_stubs(%rip), %rcx\n"
    "  lea (%rcx,%rax,4), %rcx\n"
    "  mov 528(%rbx), %rax\n"
    "  and $0x8d5, %rax\n"           // arithmetic flags only: DF, TF and AC stay clear
    "  or $0x202, %rax\n"
    "  push %rax\n"
    "  popfq\n"
    "  lea 512(%rbx), %rdi\n"
    "  call *%rcx\n"
    "  pushfq\n"
    "  pop %rax\n"
    "  mov %rax, 528(%rbx)\n"
    "  cld\n"
    "  fxsave64 (%rbx)\n"
    "  fxrstor64 (%rsp)\n"
    "  mov -8(%rbp), %rbx\n"
    "  leave\n"
    "  ret\n"
    ".size host_x87_execute_aligned, . - host_x87_execute_aligned\n");

/// The assembly above; `call` must be 16-byte aligned (FXSAVE and FXRSTOR fault otherwise).
void host_x87_execute_aligned(host_x87_call *call) __asm__("host_x87_execute_aligned");

void host_x87_execute(host_x87_call *call) {
    if (((uintptr_t)call & 15) == 0) {
        host_x87_execute_aligned(call);
        return;
    }
    // A caller's copy that is not aligned as the type asks (nothing in C guarantees it across a
    // language boundary): run on an aligned copy.
    host_x87_call aligned = *call;
    host_x87_execute_aligned(&aligned);
    *call = aligned;
}

#else

int host_x87_available(void) { return 0; }
uint32_t host_x87_environment_reserved_bits(void) { return 0xffff0000u; }
void host_x87_execute(host_x87_call *call) { (void)call; }

#endif
