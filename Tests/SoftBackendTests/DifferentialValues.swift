/// A small deterministic generator (SplitMix64), so a seed names a case set exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }

    mutating func chance(_ probability: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < probability }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// Boundary values at `size` (zero, one, the sign boundary, all ones, alternating bits) most of
    /// the time, otherwise random bits.
    mutating func operand(_ size: OperandSize) -> UInt64 {
        if chance(0.6) { return pick(EdgeValues.of(size)) }
        return next() & size.mask
    }

    /// A full register: a boundary value at a random width, above it zeros, ones or random bits, so
    /// zero- and sign-extension and preservation of upper bits all show.
    mutating func registerValue() -> UInt64 {
        let size = pick(OperandSize.allCases)
        let low = operand(size)
        guard size != .qword else { return low }
        let upper: UInt64 = pick([0, .max, next()]) & ~size.mask
        return upper | low
    }

    /// A register number, 0-7 in 32-bit mode and 0-15 in 64-bit mode, avoiding `excluded`.
    mutating func register(_ mode: ExecutionMode, excluding excluded: [Int] = []) -> Int {
        while true {
            let number = below(mode.registerCount)
            if !excluded.contains(number) { return number }
        }
    }

    /// A data-page offset for an operand of `bytes`, aligned to `alignment`; sometimes straddling
    /// an 8-byte boundary when unaligned accesses are allowed.
    mutating func dataOffset(bytes: Int, alignment: Int = 1) -> Int {
        let offset = below(DifferentialLayout.pageSize - bytes - 64) + 32
        return offset - offset % alignment
    }

    /// A random input state: edge-biased registers, random status flags and DF, XMM registers with
    /// boundary lanes.
    mutating func machineState() -> MachineState {
        var state = MachineState()
        for index in 0..<16 { state.gpr[index] = registerValue() }
        state.rflags = 0x2 | (next() & Flag.compared)
        for index in 0..<32 { state.xmm[index] = chance(0.3) ? pick(EdgeValues.lanePatterns) : next() }
        return state
    }

    /// A data page of random bytes with boundary values scattered through it.
    mutating func dataPage() -> [UInt8] {
        var words = [UInt64](repeating: 0, count: DifferentialLayout.pageSize / 8)
        for index in words.indices { words[index] = chance(0.1) ? pick(EdgeValues.lanePatterns) : next() }
        return words.withUnsafeBytes { Array($0) }
    }
}

enum EdgeValues {
    static func of(_ size: OperandSize) -> [UInt64] {
        let sign = size.signBit, mask = size.mask
        return [0, 1, 2, sign - 1, sign, sign + 1, mask, mask - 1, 0x5555_5555_5555_5555 & mask,
                0xaaaa_aaaa_aaaa_aaaa & mask, 0x7f, 0x80, 0xff & mask, 0x8000 & mask, 0xffff & mask]
    }

    /// 64-bit patterns whose byte, word and dword lanes sit on boundaries.
    static let lanePatterns: [UInt64] = [
        0, .max, 0x8000_0000_0000_0000, 0x7fff_ffff_ffff_ffff, 0x8080_8080_8080_8080, 0x7f7f_7f7f_7f7f_7f7f,
        0x8000_8000_8000_8000, 0x7fff_7fff_7fff_7fff, 0x8000_0000_8000_0000, 0x7fff_ffff_7fff_ffff,
        0x00ff_00ff_00ff_00ff, 0x0001_0001_0001_0001, 0xff00_ff00_ff00_ff00, 0x0123_4567_89ab_cdef,
    ]
}
