import Synchronization

/// An address space where devices claim ranges: the port-I/O bus (16-bit ports) or the MMIO bus.
///
/// Claims happen while the machine is assembled; `freeze()` then makes the table immutable, so vCPU
/// threads dispatch without a lock. Dispatch is a binary search over a sorted buffer of plain
/// structs whose device references are unowned(unsafe): no allocation, no reference counting and
/// no exclusivity check per access (callgrind showed both on this path). `devices` keeps the
/// strong references and `names` the claimants' names, off the hot path.
public final class IOBus: @unchecked Sendable {
    struct Entry {
        let base: UInt64
        let last: UInt64
        unowned(unsafe) let device: any BusDevice
        /// Index into `names`.
        let claim: Int
    }

    public let name: String
    /// The doorbells on this bus, which a vCPU rings before it dispatches a write (`ringsDoorbell`).
    public let doorbells: DoorbellTable
    /// Sorted by base. Rebuilt on each claim (assembly time only), read-only once frozen.
    @exclusivity(unchecked) private var table = UnsafeMutableBufferPointer<Entry>.allocate(capacity: 0)
    private var devices: [any BusDevice] = []
    private var names: [String] = []
    /// Ranges no device may claim (guest RAM on the MMIO bus), with what they are.
    private var reserved: [(name: String, base: UInt64, last: UInt64)] = []
    private var isFrozen = false
    /// Accesses that found no device: reads answer all ones, writes are dropped (as on a PC bus).
    public let unclaimedAccesses = Counter()

    public init(name: String, space: DoorbellSpace) {
        self.name = name
        doorbells = DoorbellTable(space: space)
    }

    deinit { table.deallocate() }

    /// Claims `[base, base + length)` for `device`; an overlap names both claimants.
    public func claim(base: UInt64, length: UInt64, by device: any BusDevice, name deviceName: String) throws(BusError) {
        guard !isFrozen else { throw .frozen(bus: name, device: deviceName) }
        guard length > 0, base &+ (length - 1) >= base else { throw .emptyRange(bus: name, device: deviceName) }
        let last = base + (length - 1)
        if let range = reserved.first(where: { base <= $0.last && $0.base <= last }) {
            throw .reserved(bus: name, device: deviceName, base: base, last: last, owner: range.name,
                            ownerBase: range.base, ownerLast: range.last)
        }
        if let clash = table.first(where: { base <= $0.last && $0.base <= last }) {
            throw .overlap(bus: name, existing: names[clash.claim], new: deviceName, address: max(base, clash.base))
        }
        devices.append(device)
        names.append(deviceName)
        let entries = (Array(table) + [Entry(base: base, last: last, device: device, claim: names.count - 1)])
            .sorted { $0.base < $1.base }
        table.deallocate()
        table = .allocate(capacity: entries.count)
        _ = table.initialize(from: entries)
    }

    /// Keeps `[base, base + length)` from every device: the machine reserves guest RAM on the MMIO
    /// bus, where an access never leaves the guest's memory, so a device window there would either
    /// never be reached (KVM) or shadow RAM the kernel was loaded into.
    public func reserve(base: UInt64, length: UInt64, as owner: String) {
        guard length > 0 else { return }
        reserved.append((owner, base, base &+ (length - 1)))
    }

    /// Accesses per claim and vCPU, counted once the bus is frozen for a number of vCPUs.
    public private(set) var accessCounts: AccessCounts?
    /// `accessCounts`' storage and shape as plain values, for the dispatch path (no exclusivity
    /// check, no reference count): set once at freeze, before any vCPU runs.
    @exclusivity(unchecked) private var counters: UnsafeMutablePointer<Atomic<UInt64>>?
    @exclusivity(unchecked) private var counterStride = 0
    @exclusivity(unchecked) private var counterVCPUs = 0

    /// After this no claims are accepted; called when the machine starts. With `vcpuCount` the bus
    /// also counts each claim's accesses per vCPU (`accessCounts`); freezing again keeps the counts.
    public func freeze(vcpuCount: Int = 0) {
        isFrozen = true
        guard accessCounts == nil, vcpuCount > 0 else { return }
        let counts = AccessCounts(claims: names.count, vcpus: vcpuCount)
        accessCounts = counts
        counters = counts.storage
        counterStride = counts.stride
        counterVCPUs = vcpuCount
    }

    /// Each claimant's name with its accesses per vCPU, in claim order; empty before `freeze(vcpuCount:)`.
    public var accessesByClaim: [(name: String, perVCPU: [UInt64])] {
        guard let accessCounts else { return [] }
        return names.indices.map { (names[$0], accessCounts.counts(claim: $0)) }
    }

    /// The claimed ranges, for reports and tests.
    public var claims: [(name: String, base: UInt64, last: UInt64)] {
        table.map { (names[$0.claim], $0.base, $0.last) }
    }

    @inline(__always)
    private func find(_ address: UInt64) -> Int? {
        var low = 0
        var high = table.count
        while low < high {
            let middle = (low + high) >> 1
            if address < table[middle].base {
                high = middle
            } else if address > table[middle].last {
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
        let entry = table[index]
        if let counters { AccessCounts.bump(counters, stride: counterStride, vcpus: counterVCPUs, claim: entry.claim, vcpu: vcpu) }
        return entry.device.read(BusAccess(address: address, offset: address - entry.base, size: size, vcpu: vcpu))
    }

    @inline(__always)
    public func write(_ address: UInt64, size: Int, value: UInt64, vcpu: Int) {
        guard let index = find(address) else {
            unclaimedAccesses.increment()
            return
        }
        let entry = table[index]
        if let counters { AccessCounts.bump(counters, stride: counterStride, vcpus: counterVCPUs, claim: entry.claim, vcpu: vcpu) }
        entry.device.write(BusAccess(address: address, offset: address - entry.base, size: size, vcpu: vcpu), value: value)
    }
}
