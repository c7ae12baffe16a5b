// The host CPU's own x87 unit as the Soft CPU's x87 arithmetic.
//
// Why: the x87 leaves much to the implementation (transcendental results of FSIN/FPTAN/F2XM1/FYL2X/
// FPATAN..., FPREM partial remainders, pseudo-denormal and unnormal handling, the unmasked-exception
// responses of SDM vol. 1, 8.5), and the project's rule is to match the host CPU where the manual
// leaves results open. Executing the host's instruction on the guest's 80-bit registers, with the
// guest's control word (precision, rounding and exception masks), gives the host's results bit for
// bit; Swift's Float80 would not (it uses the host's current control word and has no
// transcendentals with x87 semantics).
//
// How: host_x87_execute saves the host's x87/SSE state (FXSAVE), loads the guest's as an FXSAVE
// image (FXRSTOR), sets CF/PF/ZF for FCMOVcc, calls a stub holding the guest instruction's two
// opcode bytes (memory forms address the buffer at RDI), then saves the guest's new state and
// flags and restores the host's. Unmasked exceptions raised by the instruction only set ES in the
// status word (the #MF would come at the next waiting x87 instruction, SDM vol. 1, 8.6); FXSAVE and
// FXRSTOR do not wait, so none is ever delivered on the host. The caller must hand in a state with
// no pending unmasked exception (it raises the guest's #MF first), else the stub itself would wait
// and fault.
#ifndef CHOSTX87_H
#define CHOSTX87_H
#include <stdint.h>
// The module's other floating-point unit: this header is its umbrella.
#include "CHostSSE.h"

/// Stub numbers: register forms (ModRM 0xC0-0xFF) of escape 0xD8+e at e * 64 + (modrm - 0xC0);
/// memory forms with ModRM.reg = r at HOST_X87_MEMORY_STUBS + e * 8 + r.
#define HOST_X87_MEMORY_STUBS 512

typedef struct host_x87_call {
    /// The FXSAVE image (legacy format): FCW at 0, FSW at 2, abridged FTW at 4, MXCSR at 24,
    /// ST0-ST7 at 32 + 16 * i.
    _Alignas(16) uint8_t image[512];
    /// The memory operand, in and out (at most 10 bytes are used).
    uint8_t memory[16];
    /// RFLAGS in (CF PF AF ZF SF OF) and out.
    uint64_t rflags;
    uint32_t stub;
} host_x87_call;

/// 1 where host_x87_execute runs the host's x87 unit (an x86-64 host), else 0.
int host_x87_available(void);
/// What the host's FNSTENV stores in the reserved upper half of the 32-bit format's FCW field
/// (ones on the processors seen so far; elsewhere 0xFFFF0000).
uint32_t host_x87_environment_reserved_bits(void);
/// Executes stub `call->stub` on `call->image` as described above. `call->stub` must name an
/// instruction the host defines (the caller decodes the guest instruction first).
void host_x87_execute(host_x87_call *call);

#endif
