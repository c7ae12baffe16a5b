import CNativeOracle

enum DifferentialError: Error, CustomStringConvertible {
    case oracle(String)
    case subject(String)

    var description: String {
        switch self {
        case let .oracle(why): return why
        case let .subject(why): return "subject CPU: \(why)"
        }
    }
}

/// The host CPU running code natively (see CNativeOracle.h). One instance at a time per process:
/// the code and data pages sit at fixed addresses. Use it from one thread: the handlers run on
/// that thread's alternate signal stack.
final class NativeOracle {
    init() throws {
        guard oracle_open() == 0 else { throw DifferentialError.oracle(String(cString: oracle_error())) }
    }

    deinit { oracle_close() }

    func run(code: [UInt8], mode: ExecutionMode, state: MachineState, data: [UInt8]) throws -> Observation {
        var raw = oracle_state()
        state.gpr.withUnsafeBytes { source in withUnsafeMutableBytes(of: &raw.gpr) { $0.copyMemory(from: source) } }
        state.xmm.withUnsafeBytes { source in withUnsafeMutableBytes(of: &raw.xmm) { $0.copyMemory(from: source) } }
        raw.rflags = state.rflags
        raw.mxcsr = state.mxcsr
        if state.x87.count == 160 {
            raw.load_x87 = 1
            state.x87.withUnsafeBytes { source in withUnsafeMutableBytes(of: &raw.x87) { $0.copyMemory(from: source) } }
        }
        var page = data
        let result = code.withUnsafeBufferPointer { codeBytes in
            page.withUnsafeMutableBufferPointer { pageBytes in
                oracle_run(codeBytes.baseAddress, codeBytes.count, mode == .protected32 ? 1 : 0, &raw, pageBytes.baseAddress)
            }
        }
        var after = MachineState()
        after.gpr = withUnsafeBytes(of: raw.gpr) { Array($0.bindMemory(to: UInt64.self)) }
        after.xmm = withUnsafeBytes(of: raw.xmm) { Array($0.bindMemory(to: UInt64.self)) }
        after.rip = raw.rip
        after.rflags = raw.rflags
        after.mxcsr = raw.mxcsr
        if raw.load_x87 != 0 { after.x87 = withUnsafeBytes(of: raw.x87) { Array($0) } }
        switch Int(result.kind) {
        case Int(ORACLE_COMPLETED.rawValue):
            return Observation(result: .completed, state: after, data: page)
        case Int(ORACLE_EXCEPTION.rawValue):
            let vector = UInt8(truncatingIfNeeded: result.vector)
            return Observation(result: .exception(vector: vector, errorCode: UInt32(truncatingIfNeeded: result.error_code)),
                               state: after, data: page)
        default:
            throw DifferentialError.oracle(String(cString: oracle_error()))
        }
    }
}
