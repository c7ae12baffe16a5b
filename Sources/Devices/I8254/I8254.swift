import Synchronization
import VMMKit

/// The 8254 programmable interval timer at ports 0x40-0x43, and port 0x61 (system control port B:
/// channel 2's gate, the speaker data bit, OUT2 and the refresh toggle).
///
/// Counts are computed from the clock when read. Channel 0's OUT drives ISA IRQ 0: a host timer
/// wakes at each rising edge (modes 2 and 3 every period, modes 0 and 4 at terminal count); the
/// line is requested under the PIT's lock and driven with it released (`DeferredIRQLine`).
public final class I8254: Device, BusDevice, @unchecked Sendable {
    /// Periodic IRQ 0 never comes faster than this, so a tiny count cannot make the host timer
    /// thread spin; reads still show the exact count.
    static let minimumInterruptPeriod: UInt64 = 100_000
    /// The DRAM refresh request toggle in port 0x61 bit 4 flips every 15.085 us on a PC.
    static let refreshToggleNanoseconds: UInt64 = 15_085

    public let name: String
    private let timers: DeviceTimers
    private var timer: DeviceTimer?
    private var irq: DeferredIRQLine?

    private struct State {
        var channels = [PITChannel(gate: true), PITChannel(gate: true), PITChannel(gate: false)]
        /// Port 0x61 bits 0-3 as written (bit 0 is also channel 2's gate).
        var controlPortB: UInt8 = 0
        /// The channel 0 tick at which IRQ 0 next rises.
        var nextInterruptTick: UInt64?
        var arming = TimerArming()
        /// Mode 0 holds IRQ 0 high from terminal count until reprogrammed.
        var lineHigh = false
    }
    private enum LineAction {
        case none, raise, lower, pulse
    }
    private let state = Mutex(State())

    public init(name: String = "i8254", timers: DeviceTimers) {
        self.name = name
        self.timers = timers
        timer = timers.makeTimer { [weak self] in self?.channel0Expired() }
    }

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: 0x40, length: 4, by: self, name: name)
        try machine.ports.claim(base: 0x61, length: 1, by: self, name: "\(name) port 0x61")
        irq = DeferredIRQLine(try machine.claimIRQLine(0, by: name))
    }

    public func reset() {
        change { state, _ in
            let wasHigh = state.lineHigh
            let arming = state.arming
            state = State()
            state.arming = arming
            return wasHigh ? LineAction.lower : .none
        }
    }

    // MARK: BusDevice

    public func read(_ access: BusAccess) -> UInt64 {
        UInt64(update { state, now -> UInt8 in
            switch access.address {
            case 0x40, 0x41, 0x42: return state.channels[Int(access.address - 0x40)].readCount(now: now)
            case 0x61:
                let channel2 = state.channels[2]
                let refresh: UInt8 = (now / Self.refreshToggleNanoseconds) & 1 == 1 ? 0x10 : 0
                return (state.controlPortB & 0x0F) | refresh | (channel2.output(now: now) ? 0x20 : 0)
            default: return 0xFF
            }
        })
    }

    public func write(_ access: BusAccess, value: UInt64) {
        let byte = UInt8(truncatingIfNeeded: value)
        change { state, now -> LineAction in
            switch access.address {
            case 0x40, 0x41, 0x42:
                let index = Int(access.address - 0x40)
                guard state.channels[index].writeCount(byte, now: now), index == 0 else { return .none }
                return Self.restartChannel0(&state)
            case 0x43:
                return Self.command(byte, &state, now: now)
            case 0x61:
                state.controlPortB = byte & 0x0F
                state.channels[2].setGate(byte & 1 != 0, now: now)
                return .none
            default:
                return .none
            }
        }
    }

    /// Port 0x43: a control word, a counter latch, or a read-back command.
    private static func command(_ byte: UInt8, _ state: inout State, now: UInt64) -> LineAction {
        let select = Int(byte >> 6)
        guard select < 3 else {
            // Read-back: bits 3:1 select counters; bit 5 clear latches counts, bit 4 clear latches status.
            for index in 0..<3 where byte & (2 << UInt8(index)) != 0 {
                if byte & 0x20 == 0 { state.channels[index].latchCount(now: now) }
                if byte & 0x10 == 0 { state.channels[index].latchStatus(now: now) }
            }
            return .none
        }
        guard byte & 0x30 != 0 else {
            state.channels[select].latchCount(now: now)
            return .none
        }
        state.channels[select].program(byte)
        guard select == 0 else { return .none }
        state.nextInterruptTick = nil
        return lowerHeldLine(&state)
    }

    /// A new count on channel 0: schedule its first IRQ 0 edge.
    private static func restartChannel0(_ state: inout State) -> LineAction {
        let channel = state.channels[0]
        switch channel.mode {
        case 0, 2, 3, 4: state.nextInterruptTick = channel.reload
        default: state.nextInterruptTick = nil
        }
        return lowerHeldLine(&state)
    }

    private static func lowerHeldLine(_ state: inout State) -> LineAction {
        guard state.lineHigh else { return .none }
        state.lineHigh = false
        return .lower
    }

    // MARK: Channel 0 interrupts

    private func channel0Expired() {
        change(timerFired: true) { state, now in Self.interruptIfDue(&state, now: now) }
    }

    private static func interruptIfDue(_ state: inout State, now: UInt64) -> LineAction {
        let channel = state.channels[0]
        guard let due = state.nextInterruptTick, channel.ticks(now: now) >= due else { return .none }
        let elapsed = channel.ticks(now: now)
        switch channel.mode {
        case 0:
            state.nextInterruptTick = nil
            state.lineHigh = true
            return .raise
        case 2, 3:
            // The next period boundary after now, and not sooner than the minimum period.
            let minimumTicks = PITChannel.ticks(inNanoseconds: minimumInterruptPeriod)
            let earliest = elapsed + max(minimumTicks, 1)
            state.nextInterruptTick = (earliest + channel.reload - 1) / channel.reload * channel.reload
            return .pulse
        default:
            state.nextInterruptTick = nil
            return .pulse
        }
    }

    /// Runs `body` under the lock, then re-arms the host timer for channel 0's next edge.
    private func update<T>(timerFired: Bool = false, _ body: (inout State, UInt64) -> T) -> T {
        let now = timers.now
        return state.withLock { state in
            if timerFired { state.arming.fired() }
            let result = body(&state, now)
            state.arming.rearm(timer, for: state.nextInterruptTick.map { state.channels[0].time(ofTick: $0) })
            return result
        }
    }

    /// `update` for changes that move IRQ 0: the line is requested under the lock, driven after it.
    private func change(timerFired: Bool = false, _ body: (inout State, UInt64) -> LineAction) {
        update(timerFired: timerFired) { state, now in
            switch body(&state, now) {
            case .none: break
            case .raise: irq?.request(high: true)
            case .lower: irq?.request(high: false)
            case .pulse: irq?.requestPulse()
            }
        }
        irq?.settle()
    }
}
