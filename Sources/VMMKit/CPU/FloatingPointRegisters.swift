/// The x87 and SSE registers as FXSAVE lays them out (SDM vol. 1, 10.5.1, table 10-2), for a
/// debugger: ST0-ST7 in stack order, 10 bytes each, and XMM0-XMM15, 16 bytes each, little-endian.
public struct FloatingPointRegisters: Equatable, Sendable {
    public var st: [[UInt8]] = Array(repeating: Array(repeating: 0, count: 10), count: 8)
    public var controlWord: UInt16 = 0x37f
    public var statusWord: UInt16 = 0
    /// One bit per physical register, 1 = not empty, as FXSAVE stores it.
    public var abridgedTag: UInt8 = 0
    public var lastOpcode: UInt16 = 0
    public var lastInstructionPointer: UInt64 = 0
    public var lastCodeSelector: UInt16 = 0
    public var lastDataPointer: UInt64 = 0
    public var lastDataSelector: UInt16 = 0
    public var xmm: [[UInt8]] = Array(repeating: Array(repeating: 0, count: 16), count: 16)
    public var mxcsr: UInt32 = 0x1f80

    public init() {}
}
