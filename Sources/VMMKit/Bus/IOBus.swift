/// An address space where devices claim ranges: the port-I/O bus (16-bit ports) or the MMIO bus.
///
/// Claims happen while the machine is assembled; `freeze()` then makes the table immutable, so vCPU
/// threads dispatch without a lock. Dispatch is a binary search over a sorted array of plain structs
/// whose device references are unowned(unsafe): no allocation and no reference counting per access.
/// `devices` keeps the strong references.
public final class IOBus: @unchecked Sendable {
    struct Entry {
        let base: UInt64
        let last: UInt64
        unowned(unsafe) let device: any BusDevice
        let name: String
    }

    public let name: String
    private var entries: [Entry] = []
    private var devices: [any BusDevice] = []
    private var isFrozen = false
    /// Accesses that found no device: reads answer all ones, writes are dropped (as on a PC bus).
    public let unclaimedAccesses = Counter()

    public init(name: String) { self.name = name }

    /// Claims `[base, base + length)` for `device`; an overlap names both claimants.
    public func claim(base: UInt64, length: UInt64, by device: any BusDevice, name deviceName: String) throws(BusError) {
        guard !isFrozen else { throw .frozen(bus: name, device: deviceName) }
        guard length > 0, base &+ (length - 1) >= base else { throw .emptyRange(bus: name, device: deviceName) }
        let last = base + (length - 1)
        if let clash = entries.first(where: { base <= $0.last && $0.base <= last }) {
            throw .overlap(bus: name, existing: clash.name, new: deviceName, address: max(base, clash.base))
        }
        devices.append(device)
        entries.append(Entry(base: base, last: last, device: device, name: deviceName))
        entries.sort { $0.base < $1.base }
    }

    /// After this no claims are accepted; called when the machine starts.
    public func freeze() { isFrozen = true }

    /// The claimed ranges, for `--list-devices` style reports and tests.
    public var claims: [(name: String, base: UInt64, last: UInt64)] {
        entries.map { ($0.name, $0.base, $0.last) }
    }

    @inline(__always)
    private func find(_ address: UInt64) -> Int? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) >> 1
            let entry = entries[middle]
            if address < entry.base {
                high = middle
            } else if address > entry.last {
                low = middle + 1
            } else {
                return middle
            }
        }
        return nil
    }

    /// True when some device claims `address`.
    public func isClaimed(_ address: UInt64) -> Bool { find(address) != nil }

    @inline(__always)
    public func read(_ address: UInt64, size: Int, vcpu: Int) -> UInt64 {
        guard let index = find(address) else {
            unclaimedAccesses.increment()
            return size >= 8 ? UInt64.max : (UInt64(1) << UInt64(size * 8)) &- 1
        }
        let entry = entries[index]
        return entry.device.read(BusAccess(address: address, offset: address - entry.base, size: size, vcpu: vcpu))
    }

    @inline(__always)
    public func write(_ address: UInt64, size: Int, value: UInt64, vcpu: Int) {
        guard let index = find(address) else {
            unclaimedAccesses.increment()
            return
        }
        let entry = entries[index]
        entry.device.write(BusAccess(address: address, offset: address - entry.base, size: size, vcpu: vcpu), value: value)
    }
}
