import Virtio
import VMMKit

/// The split virtqueue's parser against rings a hostile driver wrote: the fuzzer's bytes become the
/// queue size, the negotiated features, the descriptor table, the available ring and an area for
/// indirect tables and buffers, in a small guest memory of RAM, a ROM page and a hole between them.
/// The device side then pops until the ring is empty or broken, reads every readable byte and
/// writes every writable one, and completes each request.
///
/// Invariants: no trap; popping ends (at most twice the queue size pops per input); every segment
/// of every chain lies inside one region, and inside RAM when device-writable; the chain's lengths
/// are the sums of its segments'; copying through the chain moves exactly those lengths.
public final class VirtqueueFuzzTarget {
    static let descriptorTable: UInt64 = 0x1000
    static let availableRing: UInt64 = 0x2000
    static let usedRing: UInt64 = 0x3000
    /// Indirect tables and buffers: the rest of the input is copied here.
    static let buffers: UInt64 = 0x8000
    static let ramSize: UInt64 = 64 << 10
    /// A ROM page after a hole, so that chains can aim at read-only memory and at nothing.
    static let romBase: UInt64 = 0x2_0000

    let memory = GuestMemory()
    private let ram: MemoryRegion
    private let rom: MemoryRegion
    private var scratch = [UInt8](repeating: 0, count: 1 << 20)
    public private(set) var chains = 0
    public private(set) var malformed = 0
    public private(set) var broken = 0

    public init() throws {
        ram = try memory.addRegion(name: "RAM", at: 0, size: Self.ramSize)
        rom = try memory.addRegion(name: "ROM", at: Self.romBase, size: 4096, kind: .rom)
    }

    /// Input layout: byte 0 the queue size's exponent (size 1 << (b % 6), up to 32), byte 1 the
    /// features (bit 0 indirect descriptors, bit 1 event index), then the descriptor table
    /// (16 × size bytes), the available ring (6 + 2 × size), and the buffer area.
    public func check(_ bytes: [UInt8]) -> String? {
        memory.clearRAM()
        let size = 1 << Int((bytes.first ?? 0) % 6)
        let featureBits = bytes.count > 1 ? bytes[1] : 0
        let features = (featureBits & 1 != 0 ? VirtioFeatures.indirectDescriptors : 0)
            | (featureBits & 2 != 0 ? VirtioFeatures.eventIndex : 0)
        var rest = bytes.dropFirst(2)
        for (address, length) in [(Self.descriptorTable, 16 * size), (Self.availableRing, 6 + 2 * size),
                                  (Self.buffers, Int(Self.ramSize - Self.buffers))] {
            let part = Array(rest.prefix(length))
            rest = rest.dropFirst(part.count)
            do { try memory.write(part, at: address) } catch { return "harness: \(error)" }
        }
        let layout = SplitVirtqueue.Layout(size: UInt16(size), descriptorTable: Self.descriptorTable,
                                           availableRing: Self.availableRing, usedRing: Self.usedRing)
        let queue: SplitVirtqueue
        do { queue = try SplitVirtqueue(layout: layout, memory: memory, features: features) } catch {
            return "a valid layout was refused: \(error)"
        }
        for _ in 0..<2 * size {
            switch queue.pop() {
            case .empty: return nil
            case .broken: broken += 1; return nil
            case let .malformed(head, _):
                malformed += 1
                queue.push(head: head, written: 0)
            case .chain:
                chains += 1
                if let finding = checkChain(queue.chain) { return finding }
                queue.push(head: queue.chain.head, written: UInt32(truncatingIfNeeded: queue.chain.writableLength))
            }
        }
        return nil
    }

    private func checkChain(_ chain: DescriptorChain) -> String? {
        var readable = 0, writable = 0
        for index in 0..<chain.count {
            let segment = chain[index]
            let inRAM = Self.inside(segment, ram)
            guard inRAM || (!segment.writable && Self.inside(segment, rom)) else {
                return "segment \(index) of chain \(chain.head) (\(segment.length) bytes, writable \(segment.writable)) "
                    + "is outside guest \(segment.writable ? "RAM" : "memory")"
            }
            if segment.writable { writable += segment.length } else { readable += segment.length }
        }
        guard readable == chain.readableLength, writable == chain.writableLength else {
            return "chain \(chain.head) says \(chain.readableLength)/\(chain.writableLength) bytes, its segments hold \(readable)/\(writable)"
        }
        let copyLength = min(scratch.count, max(readable, writable))
        let (read, written) = scratch.withUnsafeMutableBytes { buffer in
            let part = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<copyLength])
            return (chain.read(from: 0, into: part), chain.write(UnsafeRawBufferPointer(part), at: 0))
        }
        guard read == min(readable, copyLength), written == min(writable, copyLength) else {
            return "chain \(chain.head) copied \(read)/\(written) of \(readable)/\(writable) bytes"
        }
        return nil
    }

    private static func inside(_ segment: DescriptorChain.Segment, _ region: MemoryRegion) -> Bool {
        let start = segment.host - region.host
        return start >= 0 && segment.length <= Int(region.size) - start
    }

    /// A well-formed seed: two chains (readable then writable, and an indirect one), both available.
    public static var seeds: [[UInt8]] {
        var table = [UInt8](repeating: 0, count: 16 * 8)
        func put(_ index: Int, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
            let entry = 16 * index
            for byte in 0..<8 { table[entry + byte] = UInt8(truncatingIfNeeded: address >> (8 * byte)) }
            for byte in 0..<4 { table[entry + 8 + byte] = UInt8(truncatingIfNeeded: length >> (8 * byte)) }
            table[entry + 12] = UInt8(flags & 0xff); table[entry + 13] = UInt8(flags >> 8)
            table[entry + 14] = UInt8(next & 0xff); table[entry + 15] = UInt8(next >> 8)
        }
        put(0, address: buffers + 0x100, length: 16, flags: 1, next: 1)
        put(1, address: buffers + 0x200, length: 32, flags: 2, next: 0)
        put(2, address: buffers, length: 32, flags: 4, next: 0)
        let available: [UInt8] = [0, 0, 2, 0, 0, 0, 2, 0] + [UInt8](repeating: 0, count: 6 + 2 * 8 - 8)
        var indirect = [UInt8](repeating: 0, count: 32)
        indirect[0] = UInt8(truncatingIfNeeded: buffers + 0x300); indirect[1] = UInt8(truncatingIfNeeded: (buffers + 0x300) >> 8)
        indirect[8] = 64; indirect[12] = 1; indirect[14] = 1
        indirect[16] = UInt8(truncatingIfNeeded: buffers + 0x400); indirect[17] = UInt8(truncatingIfNeeded: (buffers + 0x400) >> 8)
        indirect[24] = 64; indirect[28] = 2
        return [[3, 3] + table + available + indirect, [3, 0] + table + available]
    }
}
