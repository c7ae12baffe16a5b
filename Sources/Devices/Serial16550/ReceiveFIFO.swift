/// The receiver's 16-byte FIFO, or its one-byte holding register when FIFOs are off (data sheet
/// 8.5: with FCR bit 0 clear the 16550 behaves as a 16450). A fixed ring: nothing allocates.
struct ReceiveFIFO {
    static let depth = 16

    private var bytes: (UInt64, UInt64) = (0, 0)
    private var head = 0
    private(set) var count = 0
    /// 16 in FIFO mode, 1 in 16450 mode.
    var capacity = 1

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count >= capacity }
    var freeSpace: Int { max(0, capacity - count) }

    /// Appends `byte`; false (and the byte lost) when full, which the caller reports as an overrun.
    mutating func push(_ byte: UInt8) -> Bool {
        guard count < capacity else { return false }
        set((head + count) % Self.depth, byte)
        count += 1
        return true
    }

    mutating func pop() -> UInt8? {
        guard count > 0 else { return nil }
        let byte = get(head)
        head = (head + 1) % Self.depth
        count -= 1
        return byte
    }

    mutating func clear() {
        head = 0
        count = 0
    }

    // Sixteen bytes packed in two words: a tuple keeps the FIFO inline in the UART's state, where
    // an Array would allocate and be reference counted.
    private func get(_ slot: Int) -> UInt8 {
        let word = slot < 8 ? bytes.0 : bytes.1
        return UInt8(truncatingIfNeeded: word >> UInt64((slot & 7) * 8))
    }

    private mutating func set(_ slot: Int, _ byte: UInt8) {
        let shift = UInt64((slot & 7) * 8)
        let mask = ~(UInt64(0xff) << shift)
        let bits = UInt64(byte) << shift
        if slot < 8 { bytes.0 = (bytes.0 & mask) | bits } else { bytes.1 = (bytes.1 & mask) | bits }
    }
}
