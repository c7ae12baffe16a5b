#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// Which function's BAR answers each address of the bridge's memory windows: a fixed-capacity
/// table the bridge rebuilds when software moves a BAR or toggles memory space, read by every
/// MMIO access in the window. Reads share a pthread read-write lock, so vCPUs (and a doorbell
/// write) never wait on each other; the table holds unowned(unsafe) references and plain structs,
/// so a lookup allocates nothing and does no reference counting.
final class BARDecoder: @unchecked Sendable {
    struct Entry {
        var base: UInt64
        var last: UInt64
        unowned(unsafe) var function: any PCIFunction
        var bar: Int
        var slot: Int
    }

    private var lock = pthread_rwlock_t()
    @exclusivity(unchecked) private var entries: UnsafeMutableBufferPointer<Entry>
    @exclusivity(unchecked) private var count = 0

    /// 32 devices with six BARs each.
    init(capacity: Int = 32 * 6) {
        entries = .allocate(capacity: capacity)
        pthread_rwlock_init(&lock, nil)
    }

    deinit {
        entries.baseAddress!.deinitialize(count: count)
        entries.deallocate()
        pthread_rwlock_destroy(&lock)
    }

    /// Replaces slot `slot`'s entries with what `function` decodes now.
    func update(slot: Int, function: any PCIFunction) {
        let ranges = function.configuration.decodedRanges()
        pthread_rwlock_wrlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        var kept = 0
        for index in 0..<count where entries[index].slot != slot {
            entries.swapAt(kept, index)
            kept += 1
        }
        entries.baseAddress!.advanced(by: kept).deinitialize(count: count - kept)
        count = kept
        for range in ranges where count < entries.count {
            (entries.baseAddress! + count).initialize(
                to: Entry(base: range.base, last: range.base + (range.size - 1), function: function, bar: range.bar, slot: slot))
            count += 1
        }
    }

    /// The entry covering `address`; with overlapping BARs (software's mistake) the first wins.
    @inline(__always)
    func lookup(_ address: UInt64) -> Entry? {
        pthread_rwlock_rdlock(&lock)
        defer { pthread_rwlock_unlock(&lock) }
        for index in 0..<count where entries[index].base <= address && address <= entries[index].last {
            return entries[index]
        }
        return nil
    }

    func read(_ access: BusAccess) -> UInt64 {
        guard let entry = lookup(access.address) else { return allOnes(access.size) }
        return entry.function.readBAR(entry.bar, offset: access.address - entry.base, size: access.size)
    }

    func write(_ access: BusAccess, value: UInt64) {
        guard let entry = lookup(access.address) else { return }
        entry.function.writeBAR(entry.bar, offset: access.address - entry.base, size: access.size, value: value)
    }
}

/// What a read that reaches no function returns: all ones (PCI Local Bus 3.0, 6.1: a master abort).
func allOnes(_ size: Int) -> UInt64 { size >= 8 ? UInt64.max : (UInt64(1) << UInt64(size * 8)) &- 1 }
