#if canImport(Glibc)
import Glibc
#endif
import HostIO
import PCBoard
import VMMKit

/// Every device of a fully equipped PC (the interrupt controllers, PIT, RTC, ACPI PM, two UARTs, the
/// test device, the PCI host bridge with virtio-rng and virtio-blk behind it) reached the way a
/// hostile guest reaches it: port and MMIO accesses of every width anywhere in each claimed window,
/// the MSRs devices claim, and CPUID through the devices' hooks, with the device timer thread and
/// the virtio device threads running. The invariants are that nothing traps and nothing deadlocks;
/// callers add a watchdog.
///
/// The machine lives as long as the target, like a guest that keeps poking: libFuzzer's inputs run
/// one after another on it, each starting from a device reset (what a guest reboot does), so an
/// input's effect depends on little but itself.
public final class DeviceRegisterFuzzTarget {
    /// One claimed range of a bus, or (with `bus` nil) of MSR indices.
    struct Window {
        let bus: IOBus?
        let base: UInt64
        let last: UInt64
        /// How many of the access widths 1, 2, 4, 8 apply: IN/OUT are at most 4 bytes, MMIO 8.
        let widths: Int
    }

    public static let vcpuCount = 4
    public let machine: Machine
    let windows: [Window]
    private let diskImage: String

    /// Assembles the machine (the test guest `kernelPath` is only loaded, never run), starts its
    /// timers and freezes its buses for `vcpuCount` vCPUs.
    public init(kernelPath: String) throws {
        var template = Array("/tmp/vmm-fuzz-disk-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { throw FuzzSetupError("cannot make a disk image") }
        diskImage = String(cString: template)
        defer { close(descriptor) }
        guard ftruncate(descriptor, 1 << 20) == 0 else { throw FuzzSetupError("cannot size \(diskImage)") }
        let description = MachineDescription(
            kernelPath: kernelPath, memorySize: 16 << 20, cpus: Self.vcpuCount, serial: .output(ConsoleOutput.discard()),
            devices: ["serial,port=0x2f8,irq=3", "test-device", "virtio-rng", "virtio-blk,file=\(diskImage)"])
        let machine = try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
        self.machine = machine
        for device in machine.devices {
            if let controller = device as? PCInterruptController { try controller.timers.start() }
        }
        machine.ports.freeze(vcpuCount: Self.vcpuCount)
        machine.mmio.freeze(vcpuCount: Self.vcpuCount)
        windows = machine.ports.claims.map { Window(bus: machine.ports, base: $0.base, last: $0.last, widths: 3) }
            + machine.mmio.claims.map { Window(bus: machine.mmio, base: $0.base, last: $0.last, widths: 4) }
            + machine.msrs.claimedRanges.map { Window(bus: nil, base: UInt64($0.lowerBound), last: UInt64($0.upperBound), widths: 1) }
    }

    deinit {
        machine.devices.forEach { $0.stop() }
        unlink(diskImage)
    }

    public var windowCount: Int { windows.count }

    /// How many port and MMIO windows have been reached so far.
    public var reachedBusWindows: Int {
        (machine.ports.accessesByClaim + machine.mmio.accessesByClaim).filter { $0.perVCPU.reduce(0, +) > 0 }.count
    }

    public var busWindowCount: Int { windows.filter { $0.bus != nil }.count }

    /// One access: window `selector` (modulo the count), `offset` into it (modulo its span), width
    /// `1 << widthIndex` where the window allows it, a read or a write of `value`. A CPUID query
    /// rides along with every MSR access, as the guest's CPUID exits would.
    @inline(__always)
    func access(selector: UInt64, offset: UInt64, widthIndex: Int, write: Bool, value: UInt64, vcpu: Int) {
        let window = windows[Int(selector % UInt64(windows.count))]
        let span = window.last - window.base
        let address = window.base + (span == .max ? offset : offset % (span + 1))
        let size = 1 << (widthIndex % window.widths)
        guard let bus = window.bus else {
            let index = UInt32(truncatingIfNeeded: address)
            if let handler = machine.msrs.handler(for: index) {
                if write { _ = handler.writeMSR(index, value: value, vcpu: vcpu) } else { _ = handler.readMSR(index, vcpu: vcpu) }
            }
            var result = CPUIDResult()
            machine.cpuid.apply(leaf: UInt32(truncatingIfNeeded: value), subleaf: UInt32(truncatingIfNeeded: value >> 32),
                                vcpu: vcpu, to: &result)
            return
        }
        if write { bus.write(address, size: size, value: value, vcpu: vcpu) } else { _ = bus.read(address, size: size, vcpu: vcpu) }
    }

    /// `count` random accesses from `seed` on `vcpu`'s behalf.
    public func runRandom(count: Int, seed: UInt64, vcpu: Int) {
        var random = SplitMix64(seed: seed)
        for _ in 0..<count {
            let choice = random.next()
            access(selector: choice, offset: random.next(), widthIndex: Int(choice >> 32 & 3), write: choice >> 34 & 1 == 1,
                   value: random.next(), vcpu: vcpu)
        }
    }

    /// The size of one access in a fuzzer's input: window, control (bit 0 write, bits 1-2 width,
    /// bits 3-4 vCPU), offset (4 bytes), value (8 bytes); little-endian, a short tail zero-filled.
    public static let recordSize = 14

    /// Resets the devices, then makes the accesses `bytes` describes. Returns no finding itself: the
    /// invariants are that this returns at all (the caller's watchdog) and does not trap.
    public func check(_ bytes: [UInt8]) -> String? {
        machine.devices.forEach { $0.reset() }
        bytes.withUnsafeBytes { input in
            var record = [UInt8](repeating: 0, count: Self.recordSize)
            var start = 0
            while start < input.count {
                let count = min(Self.recordSize, input.count - start)
                for index in 0..<Self.recordSize { record[index] = index < count ? input[start + index] : 0 }
                start += Self.recordSize
                let offset = (0..<4).reduce(UInt64(0)) { $0 | UInt64(record[2 + $1]) << (8 * $1) }
                let value = (0..<8).reduce(UInt64(0)) { $0 | UInt64(record[6 + $1]) << (8 * $1) }
                access(selector: UInt64(record[0]), offset: offset, widthIndex: Int(record[1] >> 1 & 3),
                       write: record[1] & 1 == 1, value: value, vcpu: Int(record[1] >> 3 & 3))
            }
        }
        return nil
    }

    /// Seeds: a read and a write of each width at the start of each of the first 64 windows.
    public static var seeds: [[UInt8]] {
        (0..<64).map { window in
            (0..<8).flatMap { control -> [UInt8] in
                [UInt8(window), UInt8((control & 3) << 1 | control >> 2)] + [UInt8](repeating: 0, count: 4)
                    + [0xff, 0, 0, 0, 0, 0, 0, 0]
            }
        }
    }

    /// Every byte of a record matters equally to the decoder.
    public static func fieldOffsets(of bytes: [UInt8]) -> [Int] { Array(0..<bytes.count) }
}
