import Synchronization
import VMMKit

/// A pair of I/O ports that roll dice, as an example of a device written outside vmm.
///
///   port+0  read: the next roll, 1 to 6        write: reseed the dice with the byte written
///   port+1  read: rolls since the last reseed (wraps at 256)
///
/// Rolls come from a xorshift32 generator (Marsaglia, "Xorshift RNGs", 2003), so a guest that
/// reseeds gets the same sequence again: that makes the device testable.
public final class DiceDevice: Device, BusDevice, @unchecked Sendable {
    public let name: String
    public let port: UInt64
    private let state: Mutex<(generator: UInt32, rolls: UInt8)>

    public init(port: UInt64 = 0x700, seed: UInt8 = 1) {
        name = "dice@0x\(String(port, radix: 16))"
        self.port = port
        state = Mutex((Self.generator(seed: seed), 0))
    }

    /// Claims the two ports. This is all a device needs to do to be reachable from the guest.
    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: port, length: 2, by: self, name: name)
    }

    public func read(_ access: BusAccess) -> UInt64 {
        state.withLock { state in
            switch access.offset {
            case 0:
                state.generator = Self.next(state.generator)
                state.rolls &+= 1
                return UInt64(state.generator % 6 + 1)
            default:
                return UInt64(state.rolls)
            }
        }
    }

    public func write(_ access: BusAccess, value: UInt64) {
        guard access.offset == 0 else { return }
        state.withLock { $0 = (Self.generator(seed: UInt8(truncatingIfNeeded: value)), 0) }
    }

    /// xorshift32 must never hold zero; any seed maps to a non-zero state.
    private static func generator(seed: UInt8) -> UInt32 { 0x9e37_79b9 ^ UInt32(seed) }

    private static func next(_ x: UInt32) -> UInt32 {
        var x = x
        x ^= x << 13
        x ^= x >> 17
        x ^= x << 5
        return x
    }
}

extension DiceDevice {
    /// How `--device dice,port=0x700,seed=3` becomes a `DiceDevice`: the registry hands the
    /// factory the parsed key=value arguments; every key must be consumed or it is an error.
    public static let deviceType = DeviceType(
        name: "dice",
        summary: "rolls dice on two I/O ports (an example of an out-of-tree device)",
        parameters: ["port=PORT    first of its 2 ports (default 0x700)", "seed=N       initial seed, 0-255 (default 1)"]
    ) { arguments in
        let port = try arguments.integer("port", default: 0x700)
        let seed = try arguments.integer("seed", default: 1)
        guard port < 0xffff else { throw DeviceSpecificationError.badValue("dice", "port", String(port)) }
        guard seed <= 0xff else { throw DeviceSpecificationError.badValue("dice", "seed", String(seed)) }
        return DiceDevice(port: port, seed: UInt8(seed))
    }
}
