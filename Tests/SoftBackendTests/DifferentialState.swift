import CNativeOracle

/// The two processor modes the differential tests compare: 64-bit mode, and 32-bit code (the
/// oracle runs it in compatibility mode, the Soft CPU in flat protected mode; the instruction
/// semantics are the same, SDM vol. 1, 3.2.1).
enum ExecutionMode: String, CaseIterable {
    case long64 = "64-bit"
    case protected32 = "32-bit"

    var registerCount: Int { self == .long64 ? 16 : 8 }
    /// The bits of a general register the mode defines: upper halves are undefined after
    /// compatibility-mode code (SDM vol. 1, 3.4.1.1).
    var registerMask: UInt64 { self == .long64 ? .max : 0xffff_ffff }
}

/// Where the differential tests put code and data, the same in the host process and the guest.
enum DifferentialLayout {
    static let codeAddress = UInt64(ORACLE_CODE_ADDRESS)
    static let dataAddress = UInt64(ORACLE_DATA_ADDRESS)
    static let pageSize = Int(ORACLE_PAGE_SIZE)
}

/// The architectural state the tests compare: general registers in encoding order (RAX, RCX, RDX,
/// RBX, RSP, RBP, RSI, RDI, R8-R15), RIP, RFLAGS, XMM0-15 (low, high quadword pairs) and MXCSR.
struct MachineState: Equatable {
    var gpr = [UInt64](repeating: 0, count: 16)
    var rip: UInt64 = DifferentialLayout.codeAddress
    var rflags: UInt64 = 0x2
    var xmm = [UInt64](repeating: 0, count: 32)
    /// The power-on value: every exception masked, round to nearest (SDM vol. 1, 10.2.3).
    var mxcsr: UInt32 = 0x1f80
    /// The x87 part of an FXSAVE image (bytes 0-159), or empty where a test leaves x87 alone.
    var x87 = [UInt8]()

    static let registerNames = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]

    func described(mode: ExecutionMode) -> String {
        let registers = (0..<mode.registerCount).map { "\(Self.registerNames[$0])=\(hex($0 < 16 ? gpr[$0] : 0))" }
        return registers.joined(separator: " ") + " rflags=\(hex(rflags))"
    }
}

/// RFLAGS bits by name (SDM vol. 1, 3.4.3).
enum Flag {
    static let cf: UInt64 = 1 << 0, pf: UInt64 = 1 << 2, af: UInt64 = 1 << 4, zf: UInt64 = 1 << 6
    static let sf: UInt64 = 1 << 7, df: UInt64 = 1 << 10, of: UInt64 = 1 << 11
    /// The status flags plus DF: what the oracle can load and what the tests compare.
    static let compared: UInt64 = UInt64(ORACLE_USER_FLAGS)
    static let arithmetic: UInt64 = cf | pf | af | zf | sf | of
    static let names: [(UInt64, String)] = [(cf, "CF"), (pf, "PF"), (af, "AF"), (zf, "ZF"), (sf, "SF"),
                                            (df, "DF"), (of, "OF")]
}

/// How one instruction ended.
enum StepResult: Equatable, CustomStringConvertible {
    case completed
    case exception(vector: UInt8, errorCode: UInt32?)

    var description: String {
        switch self {
        case .completed: return "completed"
        case let .exception(vector, code): return "exception #\(vector)" + (code.map { " error \(hex(UInt64($0)))" } ?? "")
        }
    }
}

/// The state after an instruction, from either side.
struct Observation {
    var result: StepResult
    var state: MachineState
    var data: [UInt8]
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

func hex(bytes: [UInt8]) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
}
