import CHostX87
import VMMKit

/// The SSE floating-point instructions (arithmetic, compares, conversions, SSE3's horizontal
/// forms, SSE4.1's ROUND and DP) run on the host's SSE unit with the guest's MXCSR: rounding
/// control, DAZ, FTZ, the exception flags and the masks are the host CPU's, bit for bit
/// (CHostSSE.h says why and how). What stays here is what the host cannot know: the guest's
/// memory and how an unmasked exception is delivered.
///
/// The cost is a call and two STMXCSR per instruction (LDMXCSR only where MXCSR's control bits
/// change) on a path that is interpreted anyway (the translator does not compile SSE); a guest
/// that masks every exception, as the System V ABI's default MXCSR does, never takes a host signal.
extension CPUCore {
    /// `DecodedInstruction.sub` of `sseHost`: where the result goes.
    enum SSEHostResult {
        static let vector: UInt8 = 0, integer: UInt8 = 1, flags: UInt8 = 2
    }

    /// imm = host stub; imm2 = bytes of a memory source (16: an aligned m128), 0 for CVTSI2Sx's
    /// integer r/m of `size` bytes.
    mutating func sseHost(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        var call = host_sse_call()
        call.stub = UInt32(truncatingIfNeeded: i.imm)
        call.mxcsr = mxcsr
        let destination = xmmValue(i.reg)
        call.destination = (destination[0], destination[1])
        let source: Vector
        switch i.imm2 {
        case 0:
            call.integer = try readRM(ins, i.size)
            source = Vector()
        case _ where !i.isMemory: source = xmmValue(i.rm)
        case 16: source = try read128(ins, aligned: true)
        default: source = Vector(try readMemory(ins, UInt8(i.imm2)), 0)
        }
        call.source = (source[0], source[1])
        guard host_sse_execute(&call) != 0 else { throw Fault.ud }
        mxcsr = call.mxcsr
        // An unmasked exception: the flags are set, the destination is not written; #XM with
        // CR4.OSXMMEXCPT, else #UD (SDM vol. 3, 6.15 "Interrupt 19").
        if call.faulted != 0 { throw cr4 & ControlBits.cr4OSXMMEXCPT != 0 ? Fault.xm : Fault.ud }
        switch i.sub {
        case SSEHostResult.vector: setXMMValue(i.reg, Vector(call.destination.0, call.destination.1))
        case SSEHostResult.integer: setRegister(i.reg, i.size, call.integer)
        default: setFlags(call.rflags, changeable: RFlags.arithmetic)
        }
    }
}
