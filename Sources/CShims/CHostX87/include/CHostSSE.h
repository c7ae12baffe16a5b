// The host CPU's own SSE unit as the Soft CPU's SSE floating-point arithmetic, with the guest's
// MXCSR.
//
// Why: MXCSR's exception flags are the part of SSE floating point where processors differ and
// where a model goes wrong: which flags an instruction raises for each operand class (SNaN versus
// QNaN, denormal operands with and without DAZ, tiny results with and without FTZ, underflow that
// is exact), the order in which pre- and post-computation exceptions are detected across the
// elements of a packed operation, and which flags are left set when an unmasked exception stops the
// instruction (SDM vol. 1, 11.5). Executing the host's instruction with the guest's MXCSR loaded
// gives the host's answer for all of that bit for bit, results and NaN payloads included, as
// CHostX87 does for x87.
//
// How: host_sse_execute loads XMM0 (the destination), XMM1 (the source), RAX (an integer operand)
// and the guest's MXCSR, calls a stub holding the register form of the guest instruction (op xmm0,
// xmm1 [, imm8]; op xmm0, eax/rax; op eax/rax, xmm1), then stores XMM0, RAX, RFLAGS (for COMISS and
// friends) and the MXCSR the instruction left (STMXCSR, once per call: it is the slow one), and
// reloads the host thread's own MXCSR control bits with the status flags clear. A memory operand
// is read by the caller into XMM1's low bytes: the register form computes the same thing from them.
//
// An exception the guest left unmasked makes the host CPU raise #XM inside the stub with the
// destination unwritten and MXCSR's flags set as the host sets them (SDM vol. 1, 11.5.1): Linux
// turns it into SIGFPE, whose handler (installed the first time a guest unmasks an exception, and
// passing every other SIGFPE on to the handler that was there before) resumes after the stub with
// `faulted` set. This is why the host runs with the guest's masks rather than all masked: the
// flags of an unmasked exception (only the pre-computation ones when one of those is unmasked;
// underflow on a tiny exact result when UE is unmasked) differ from the masked response and are
// only known to the CPU.
#ifndef CHOSTSSE_H
#define CHOSTSSE_H
#include <stdint.h>

/// Stub numbers. Formats are 0 PS, 1 PD, 2 SS, 3 SD (no prefix, 66, F3, F2).
/// SQRT ADD MUL SUB MIN DIV MAX (0F 51 58 59 5C 5D 5E 5F): + operation * 4 + format.
#define HOST_SSE_ARITHMETIC 0
/// 0F 5A CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS: + format.
#define HOST_SSE_CONVERT_PRECISION 28
/// 0F 5B CVTDQ2PS, 66 0F 5B CVTPS2DQ, F3 0F 5B CVTTPS2DQ, 66 0F E6 CVTTPD2DQ, F3 0F E6 CVTDQ2PD,
/// F2 0F E6 CVTPD2DQ, in this order.
#define HOST_SSE_CONVERT_PACKED 32
/// UCOMISS, UCOMISD, COMISS, COMISD (0F 2E, 66 0F 2E, 0F 2F, 66 0F 2F): the result is RFLAGS.
#define HOST_SSE_COMPARE_ORDERED 38
/// ADDSUBPS, ADDSUBPD, HADDPS, HADDPD, HSUBPS, HSUBPD (F2/66 0F D0, 7C, 7D).
#define HOST_SSE_HORIZONTAL 42
/// CVTSI2SS xmm0, eax / rax, CVTSI2SD xmm0, eax / rax: + double * 2 + quad.
#define HOST_SSE_FROM_INTEGER 48
/// CVTTSS2SI, CVTSS2SI, CVTTSD2SI, CVTSD2SI eax/rax, xmm1: + double * 4 + (MXCSR rounding) * 2 + quad.
#define HOST_SSE_TO_INTEGER 52
/// CMPPS, CMPPD, CMPSS, CMPSD (0F C2): + format * 8 + predicate (imm8[2:0]).
#define HOST_SSE_COMPARE 60
/// ROUNDPS, ROUNDPD, ROUNDSS, ROUNDSD (66 0F 3A 08-0B): + format * 16 + imm8[3:0].
#define HOST_SSE_ROUND 92
/// DPPS (66 0F 3A 40): + imm8.
#define HOST_SSE_DPPS 156
/// DPPD (66 0F 3A 41): + imm8[5:4] * 4 + imm8[1:0] (the other bits select nothing).
#define HOST_SSE_DPPD 412
#define HOST_SSE_STUB_COUNT 428

typedef struct host_sse_call {
    /// XMM0 in and out: the destination.
    uint64_t destination[2];
    /// XMM1 in: the source (a memory operand in its low bytes).
    uint64_t source[2];
    /// RAX in and out: CVTSI2Sx's source, CVTxx2SI's result.
    uint64_t integer;
    /// RFLAGS out.
    uint64_t rflags;
    /// The guest's MXCSR in; out, as the instruction left it.
    uint32_t mxcsr;
    uint32_t stub;
    /// Out: 1 when an unmasked exception stopped the instruction (destination and RAX unchanged).
    uint32_t faulted;
} host_sse_call;

/// The MXCSR bits the host's LDMXCSR accepts (FXSAVE's MXCSR_MASK; 0xFFBF, no DAZ, where it
/// reads 0, SDM vol. 1, 11.6.6), or 0xFFFF where host_sse_execute cannot run. The guest's MXCSR
/// must stay within it: the host loads it.
uint32_t host_sse_mxcsr_mask(void);
/// Executes stub `call->stub` as described above and returns 1; returns 0 where it cannot (a host
/// that is not x86-64 Linux). `call->mxcsr` must have bits 31:16 clear.
int host_sse_execute(host_sse_call *call);

#endif
