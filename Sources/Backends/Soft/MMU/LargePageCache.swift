/// A small direct-mapped cache of page-walk results for large pages (2 MiB, 4 MiB, 1 GiB), kept in
/// 2 MiB pieces. The software TLB holds 4 KiB entries only, so without it every 4 KiB piece of a large
/// page would need its own walk. Cleared on every TLB flush and address-space switch.
struct LargePageCache {
    struct Entry {
        var tag: UInt64
        var base: UInt64
        var writable: Bool
        var user: Bool
        var executable: Bool
        var dirty: Bool
        var global: Bool
    }

    static let shift: UInt64 = 21
    static let offsetMask: UInt64 = (1 << shift) - 1
    private static let size = 64
    private static let empty = Entry(tag: UInt64.max, base: 0, writable: false, user: false, executable: false,
                                     dirty: false, global: false)
    private let entries: UnsafeMutablePointer<Entry>
    private var used = false

    init() {
        entries = .allocate(capacity: Self.size)
        entries.initialize(repeating: Self.empty, count: Self.size)
    }

    func deallocate() { entries.deallocate() }

    @inline(__always)
    private static func slot(_ region: UInt64) -> Int { Int(truncatingIfNeeded: region) & (size - 1) }

    @inline(__always)
    func lookup(_ linear: UInt64) -> Entry? {
        let region = linear >> Self.shift
        let entry = entries[Self.slot(region)]
        return entry.tag == region ? entry : nil
    }

    mutating func insert(_ linear: UInt64, base: UInt64, writable: Bool, user: Bool, executable: Bool, dirty: Bool,
                         global: Bool) {
        let region = linear >> Self.shift
        entries[Self.slot(region)] = Entry(tag: region, base: base, writable: writable, user: user,
                                           executable: executable, dirty: dirty, global: global)
        used = true
    }

    mutating func clear() {
        guard used else { return }
        entries.update(repeating: Self.empty, count: Self.size)
        used = false
    }
}
