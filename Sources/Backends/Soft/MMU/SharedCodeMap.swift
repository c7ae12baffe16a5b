import Synchronization
import VMMKit

/// Which guest-physical bytes hold decoded instructions, shared by all vCPUs of a VM, so a write by
/// one vCPU to code another has decoded is noticed (cross-modifying code, and RAM reused for new
/// code). One bit per 64-byte chunk, one 64-bit word per 4 KiB page, updated with atomics.
///
/// Two epochs tell the other vCPUs what to drop, and a kick makes them look at once (in `service()`):
/// `codeEpoch` when decoded code was overwritten (flush the code cache), `writeTrapEpoch` when a page
/// newly became code (drop write-TLB entries, so writes to it take the trapping slow path). With
/// several vCPUs a page's word goes from zero to non-zero (`CPUCore.markDecodedCode`) and back
/// (`CPUCore.flushCodeCache`) only inside the exclusive section, together with its epoch, so no vCPU
/// runs guest code between a change and catching up with it.
final class SharedCodeMap: @unchecked Sendable {
    let trackedPages: UInt64
    private let chunks: UnsafeMutablePointer<Atomic<UInt64>>
    let codeEpoch = Atomic<UInt64>(0)
    let writeTrapEpoch = Atomic<UInt64>(0)
    private let members = Mutex<[VCPUSignals]>([])
    /// The VM's bus lock, which keeps this map's promise when a page newly becomes code.
    let exclusive = ExclusiveExecution()

    init(memory: GuestMemory) {
        trackedPages = (memory.regions.map(\.guestEnd).max() ?? 0) >> 12
        let count = Int(max(trackedPages, 1))
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 8, alignment: 8)
        raw.initializeMemory(as: UInt64.self, repeating: 0, count: count)
        chunks = raw.assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    deinit { UnsafeMutableRawPointer(chunks).deallocate() }

    func join(_ signals: VCPUSignals) { members.withLock { $0.append(signals) } }

    var memberSignals: [VCPUSignals] { members.withLock { $0 } }

    /// Kicks every vCPU but `signals`' own.
    func kickOthers(than signals: VCPUSignals) {
        for member in memberSignals where member !== signals { member.kick() }
    }

    @inline(__always)
    func chunksOfPage(_ page: UInt64) -> UInt64 {
        page < trackedPages ? chunks[Int(page)].load(ordering: .relaxed) : 0
    }

    /// Sets `bits` for `page` (below `trackedPages`). Marks are sequentially consistent: a decoder
    /// marks before it reads the bytes, a writer stores them before it looks at the mark (with a
    /// fence), so one of the two always sees the other.
    func mark(page: UInt64, bits: UInt64) {
        chunks[Int(page)].bitwiseOr(bits, ordering: .sequentiallyConsistent)
    }

    /// Sets `bits` for `page` if it has any set already; false (nothing set) if it has none.
    func markIfAny(page: UInt64, bits: UInt64) -> Bool {
        var current = chunks[Int(page)].load(ordering: .sequentiallyConsistent)
        while current != 0 {
            if current & bits == bits { return true }
            let (exchanged, original) = chunks[Int(page)].compareExchange(
                expected: current, desired: current | bits, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func clear(page: UInt64) {
        guard page < trackedPages else { return }
        chunks[Int(page)].store(0, ordering: .sequentiallyConsistent)
    }

    /// The 64-byte chunks of [offset, offset + length) within a page as a bit mask.
    static func chunkBits(offset: UInt64, length: Int) -> UInt64 {
        let first = offset >> 6, last = min((offset + UInt64(max(length, 1)) - 1) >> 6, 63)
        let upTo = last >= 63 ? UInt64.max : (UInt64(1) << (last + 1)) - 1
        return upTo & ~((UInt64(1) << first) - 1)
    }
}
