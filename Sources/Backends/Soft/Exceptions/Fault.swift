/// An exception raised while executing an instruction: unwinds the instruction (typed throws, no
/// allocation) back to the execution loop, which delivers it through the IDT (SDM vol. 3, 6.3).
struct Fault: Error {
    let vector: UInt8
    let errorCode: UInt32
    let hasErrorCode: Bool

    init(_ vector: UInt8) {
        self.vector = vector
        errorCode = 0
        hasErrorCode = false
    }

    init(_ vector: UInt8, code: UInt32) {
        self.vector = vector
        errorCode = code
        hasErrorCode = true
    }

    /// Exception vectors (SDM vol. 3, table 6-1).
    static let divideError: UInt8 = 0, debug: UInt8 = 1, nmi: UInt8 = 2, breakpoint: UInt8 = 3
    static let overflow: UInt8 = 4, bound: UInt8 = 5, invalidOpcode: UInt8 = 6, deviceNotAvailable: UInt8 = 7
    static let doubleFault: UInt8 = 8, invalidTSS: UInt8 = 10, segmentNotPresent: UInt8 = 11
    static let stackFault: UInt8 = 12, generalProtection: UInt8 = 13, pageFault: UInt8 = 14
    static let x87FloatingPoint: UInt8 = 16, simdFloatingPoint: UInt8 = 19

    static var ud: Fault { Fault(invalidOpcode) }
    static var de: Fault { Fault(divideError) }
    static func gp(_ code: UInt32 = 0) -> Fault { Fault(generalProtection, code: code) }
    static func ss(_ code: UInt32 = 0) -> Fault { Fault(stackFault, code: code) }
    static func np(_ code: UInt32) -> Fault { Fault(segmentNotPresent, code: code) }
    static func ts(_ code: UInt32) -> Fault { Fault(invalidTSS, code: code) }
    static var nm: Fault { Fault(deviceNotAvailable) }
    static var mf: Fault { Fault(x87FloatingPoint) }
    static var xm: Fault { Fault(simdFloatingPoint) }

    /// Fault-class exceptions, which restart the instruction (SDM vol. 3, table 6-1): all but #DB (raised
    /// here only as a trap: single step, data breakpoint, INT1), the #BP/#OF traps and the #DF abort.
    var isFault: Bool { vector != Self.debug && vector != Self.breakpoint && vector != Self.overflow
        && vector != Self.doubleFault }

    /// Faults that count as "contributory" for double-fault detection (SDM vol. 3, table 6-4).
    var isContributory: Bool { [0, 10, 11, 12, 13].contains(vector) }
}
