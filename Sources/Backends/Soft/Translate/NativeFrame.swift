/// What translated code and the execution loop exchange on each call, at fixed offsets from the
/// pointer the code receives in RSI (it keeps it in R14): the TLB arrays to use, where to poll for
/// kicks, the guest's RFLAGS in and out, how the run ended, and the TLB-refill helper with the
/// `CPUCore` it works on.
struct NativeFrame {
    static let tlbRead: Int32 = 0, tlbWrite: Int32 = 8, kickFlag: Int32 = 16, flags: Int32 = 24
    static let exitRip: Int32 = 32, retired: Int32 = 40, passesLeft: Int32 = 48
    static let core: Int32 = 56, refill: Int32 = 64
    /// The jump cache translated blocks chain through, and the `CPUCore.blockEpoch` its entries
    /// must carry to be valid (see `BlockChaining.swift`).
    static let jumpCache: Int32 = 72, epoch: Int32 = 80
    /// `CPUCore.segmentBase`, for FS- and GS-relative operands.
    static let segmentBases: Int32 = 88
    /// `CPUCore.xmm`, the guest's XMM registers, 16 bytes each (`TranslatedSSE.swift`).
    static let xmmRegisters: Int32 = 96
    static let size = 104

    let base: UnsafeMutableRawPointer

    init() {
        base = .allocate(byteCount: Self.size, alignment: 8)
        base.initializeMemory(as: UInt64.self, repeating: 0, count: Self.size / 8)
    }

    func deallocate() { base.deallocate() }

    subscript(_ offset: Int32) -> UInt64 {
        get { base.load(fromByteOffset: Int(offset), as: UInt64.self) }
        nonmutating set { base.storeBytes(of: newValue, toByteOffset: Int(offset), as: UInt64.self) }
    }
}

/// How a translated block returned (its return value in EAX).
enum NativeExit: UInt32 {
    /// RIP is where the guest goes next; any block may run there.
    case next = 0
    /// A memory access missed the software TLB: the instruction at RIP must run in the interpreter,
    /// which walks the page tables, reaches MMIO, or raises the fault.
    case interpret = 1
}
