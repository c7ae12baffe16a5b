import Synchronization

/// A PCI function as the host bridge sees it: a configuration space, and the memory its BARs
/// decode. Called from vCPU threads: implementations lock their own state.
public protocol PCIFunction: AnyObject {
    var name: String { get }
    var configuration: PCIConfiguration { get }
    /// An access at `offset` inside BAR `index`, whose size the configuration declares.
    func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64
    func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64)
    /// A configuration read; by default what `configuration` holds. A function whose registers
    /// have side effects or live elsewhere (virtio's PCI configuration access window) answers itself.
    func readConfiguration(offset: Int, size: Int) -> UInt32
    /// Called after software wrote the configuration space, for side effects (MSI-X enable).
    func configurationWritten(offset: Int, size: Int)
    /// Called when the BARs decode elsewhere (moved, or memory space toggled), before
    /// `configurationWritten`: a function with doorbells in a BAR moves them here
    /// (`PCIConfiguration.decodedBase`).
    func decodingChanged()
}

extension PCIFunction {
    public func readConfiguration(offset: Int, size: Int) -> UInt32 { configuration.read(offset: offset, size: size) }
    public func configurationWritten(offset: Int, size: Int) {}
    public func decodingChanged() {}
}

/// A function's configuration space behind its lock, shared by the bridge (config cycles) and
/// the function (its capabilities' state).
public final class PCIConfiguration: @unchecked Sendable {
    private let space: Mutex<PCIConfigurationSpace>

    public init(_ space: PCIConfigurationSpace) { self.space = Mutex(space) }

    public func read(offset: Int, size: Int) -> UInt32 { space.withLock { $0.read(offset: offset, size: size) } }

    public func write(offset: Int, size: Int, value: UInt32) {
        space.withLock { $0.write(offset: offset, size: size, value: value) }
    }

    /// The memory ranges the function answers now: none while memory space is disabled, and none
    /// for a BAR left at zero (unassigned) or mid-way through size probing (all ones).
    func decodedRanges() -> [(bar: Int, base: UInt64, size: UInt64)] {
        space.withLock { space in
            guard space.command & PCIConfigurationSpace.memorySpaceEnable != 0 else { return [] }
            return space.bars.indices.compactMap { index in
                guard let bar = space.bars[index], let base = space.address(ofBAR: index), base != 0,
                      base &+ bar.size > base else { return nil }
                return (index, base, bar.size)
            }
        }
    }

    /// Where BAR `index` decodes now; nil when it decodes nowhere (see `decodedRanges`).
    public func decodedBase(bar index: Int) -> UInt64? {
        decodedRanges().first { $0.bar == index }?.base
    }

    /// Places BAR `index` at `address`, as firmware does before the OS runs.
    func assign(bar index: Int, address: UInt64) {
        space.withLock { space in
            let offset = PCIConfigurationSpace.firstBAROffset + 4 * index
            space.write(offset: offset, size: 4, value: UInt32(truncatingIfNeeded: address))
            if space.bars[index]?.width == .bits64 {
                space.write(offset: offset + 4, size: 4, value: UInt32(truncatingIfNeeded: address >> 32))
            }
        }
    }

    func enableMemorySpace() {
        space.withLock { space in
            let command = UInt32(space.command | PCIConfigurationSpace.memorySpaceEnable)
            space.write(offset: PCIConfigurationSpace.commandOffset, size: 2, value: command)
        }
    }

    var bars: [PCIBAR?] { space.withLock { $0.bars } }
}
