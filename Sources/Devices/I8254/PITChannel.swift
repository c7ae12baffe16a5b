/// One 8254 counter: programming state and the count and OUT level as functions of elapsed time
/// (Intel 8254 data sheet, order 231164: "Modes", "Read Operations"). Counting is computed from the
/// time the count was loaded, so nothing ticks in the background.
struct PITChannel {
    static let frequency: UInt64 = 1_193_182

    /// RW bits of the control word: which bytes of the count port reads and writes reach.
    enum Access: UInt8 {
        case lowByte = 1, highByte = 2, word = 3
    }

    var mode: UInt8 = 0
    var access = Access.word
    var bcd = false
    /// The count written, with 0 meaning the maximum (65536, or 10000 in BCD).
    var reload: UInt64 = 0x10000
    /// Whether a count was written since the control word (the data sheet's "null count" inverted).
    var loaded = false
    /// Modes 1 and 5 count only after a rising gate edge.
    var triggered = false
    var gate: Bool
    /// When the current count started, in nanoseconds.
    var startTime: UInt64 = 0
    /// Elapsed ticks frozen while the gate is low (modes 0, 2, 3, 4).
    var pausedTicks: UInt64?
    var latchedCount: UInt16?
    var latchedStatus: UInt8?
    var readsHighByteNext = false
    var writesHighByteNext = false
    var pendingLowByte: UInt8 = 0

    init(gate: Bool) { self.gate = gate }

    private var modulus: UInt64 { bcd ? 10_000 : 0x10000 }
    private var waitsForTrigger: Bool { mode == 1 || mode == 5 }

    /// Ticks counted since the count was loaded (or triggered).
    func ticks(now: UInt64) -> UInt64 {
        if let pausedTicks { return pausedTicks }
        guard loaded, !waitsForTrigger || triggered, now > startTime else { return 0 }
        return Self.ticks(inNanoseconds: now - startTime)
    }

    static func ticks(inNanoseconds span: UInt64) -> UInt64 {
        let product = span.multipliedFullWidth(by: frequency)
        return UInt64(1_000_000_000).dividingFullWidth(product).quotient
    }

    /// The first nanosecond at which `ticks` have elapsed since `startTime` (ticks kept far below overflow).
    func time(ofTick ticks: UInt64) -> UInt64 {
        let bounded = min(ticks, 1 << 40)
        let product = bounded.multipliedFullWidth(by: 1_000_000_000)
        let (quotient, remainder) = Self.frequency.dividingFullWidth(product)
        return startTime &+ quotient &+ (remainder == 0 ? 0 : 1)
    }

    /// The counting element as a read would see it (binary; BCD encoding happens at the port).
    func count(now: UInt64) -> UInt64 {
        guard loaded else { return 0 }
        let elapsed = ticks(now: now)
        switch mode {
        case 2: return reload - elapsed % reload
        // Mode 3 decrements by two per clock.
        case 3: return (reload - (2 * elapsed) % reload) % modulus
        default: return (reload + modulus - elapsed % modulus) % modulus
        }
    }

    /// The OUT pin.
    func output(now: UInt64) -> Bool {
        guard loaded else { return mode != 0 }
        if waitsForTrigger && !triggered { return true }
        let elapsed = ticks(now: now)
        switch mode {
        case 0, 1: return elapsed >= reload
        case 2: return elapsed % reload != reload - 1
        case 3: return elapsed % reload < (reload + 1) / 2
        default: return elapsed != reload
        }
    }

    /// The read-back status byte (data sheet, "Read-Back Command").
    func status(now: UInt64) -> UInt8 {
        (output(now: now) ? 0x80 : 0) | (loaded ? 0 : 0x40) | access.rawValue << 4 | mode << 1 | (bcd ? 1 : 0)
    }

    /// A control word for this counter: new mode and access; the count must be written again.
    mutating func program(_ control: UInt8) {
        guard let access = Access(rawValue: (control >> 4) & 3) else { return }
        self.access = access
        // Modes 6 and 7 are aliases of 2 and 3.
        let mode = (control >> 1) & 7
        self.mode = mode > 5 ? mode - 4 : mode
        bcd = control & 1 != 0
        loaded = false
        triggered = false
        pausedTicks = nil
        latchedCount = nil
        latchedStatus = nil
        readsHighByteNext = false
        writesHighByteNext = false
    }

    /// A byte written to the count port; returns true when a whole count was loaded.
    mutating func writeCount(_ byte: UInt8, now: UInt64) -> Bool {
        let value: UInt64
        switch access {
        case .lowByte: value = UInt64(byte)
        case .highByte: value = UInt64(byte) << 8
        case .word:
            writesHighByteNext.toggle()
            guard !writesHighByteNext else {
                pendingLowByte = byte
                return false
            }
            value = UInt64(pendingLowByte) | UInt64(byte) << 8
        }
        let binary = bcd ? Self.fromBCD(value) : value
        reload = binary == 0 ? modulus : binary
        loaded = true
        startTime = now
        pausedTicks = gate || waitsForTrigger ? nil : 0
        return true
    }

    /// A byte read from the count port: a latched status, then a latched count, else the live count.
    mutating func readCount(now: UInt64) -> UInt8 {
        if let status = latchedStatus {
            latchedStatus = nil
            return status
        }
        let value = latchedCount ?? encode(count(now: now))
        let byte: UInt8
        switch access {
        case .lowByte: byte = UInt8(truncatingIfNeeded: value)
        case .highByte: byte = UInt8(truncatingIfNeeded: value >> 8)
        case .word:
            byte = UInt8(truncatingIfNeeded: readsHighByteNext ? value >> 8 : value)
            readsHighByteNext.toggle()
            if readsHighByteNext { return byte }
        }
        latchedCount = nil
        return byte
    }

    /// Counter latch command: freezes the count for the next read(s); a second latch before those
    /// reads is ignored.
    mutating func latchCount(now: UInt64) {
        if latchedCount == nil { latchedCount = encode(count(now: now)) }
    }

    mutating func latchStatus(now: UInt64) {
        if latchedStatus == nil { latchedStatus = status(now: now) }
    }

    /// The gate input: a rising edge triggers modes 1 and 5 and restarts modes 2 and 3; a low gate
    /// holds the count in modes 0, 2, 3 and 4.
    mutating func setGate(_ high: Bool, now: UInt64) {
        guard high != gate else { return }
        gate = high
        guard loaded else { return }
        if waitsForTrigger {
            if high {
                triggered = true
                startTime = now
            }
            return
        }
        if !high {
            pausedTicks = ticks(now: now)
        } else if mode == 2 || mode == 3 {
            pausedTicks = nil
            startTime = now
        } else if let paused = pausedTicks {
            pausedTicks = nil
            startTime = now &- (time(ofTick: paused) &- startTime)
        }
    }

    private func encode(_ count: UInt64) -> UInt16 {
        UInt16(truncatingIfNeeded: bcd ? Self.toBCD(count % 10_000) : count)
    }

    static func toBCD(_ value: UInt64) -> UInt64 {
        var result: UInt64 = 0
        var rest = value
        for digit in 0..<4 {
            result |= (rest % 10) << UInt64(digit * 4)
            rest /= 10
        }
        return result
    }

    /// Decodes four BCD digits; a nibble above 9 counts as 9.
    static func fromBCD(_ value: UInt64) -> UInt64 {
        var result: UInt64 = 0
        for digit in stride(from: 3, through: 0, by: -1) {
            result = result * 10 + min((value >> UInt64(digit * 4)) & 0xF, 9)
        }
        return result
    }
}
