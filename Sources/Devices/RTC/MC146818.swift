import Synchronization
import VMMKit

/// The PC's real-time clock and CMOS RAM: a Motorola MC146818A at ports 0x70 (index; bit 7 is the
/// NMI-disable gate) and 0x71 (data), interrupting on ISA IRQ 8.
///
/// The clock starts from the host's UTC time (or a given one) and runs on the machine's monotonic
/// device clock; a guest that sets it keeps its own time from then on. See `RTCState` for the
/// register behaviour and docs/devices.md for the register map.
public final class MC146818: Device, BusDevice, @unchecked Sendable {
    public static let defaultName = "rtc"
    public static let indexPort: UInt64 = 0x70
    public static let interruptLine = 8

    public let name: String
    private let timers: DeviceTimers
    /// Whether this device made `timers`, and so starts and stops its thread.
    private let ownsTimers: Bool
    private var timer: DeviceTimer?
    private var irq: DeferredIRQLine?

    private struct Locked {
        var rtc: RTCState
        var arming = TimerArming()
    }
    private let state: Mutex<Locked>

    /// `timers` is shared with other devices when given (the board passes the PIT's); otherwise
    /// the RTC makes its own. `start` defaults to the host's clock at this moment.
    public init(name: String = defaultName, timers: DeviceTimers? = nil, start: UTCTime = .host()) {
        self.name = name
        let clock = timers ?? DeviceTimers()
        ownsTimers = timers == nil
        self.timers = clock
        state = Mutex(Locked(rtc: RTCState(unixSeconds: start.seconds, nanoseconds: UInt64(start.nanoseconds),
                                           now: clock.now)))
        timer = clock.makeTimer { [weak self] in self?.timerExpired() }
    }

    /// Claims ports 0x70-0x71 and IRQ 8, records the machine's memory sizes in CMOS and starts
    /// the timer thread if the RTC has its own.
    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: Self.indexPort, length: 2, by: self, name: name)
        irq = DeferredIRQLine(try machine.claimIRQLine(Self.interruptLine, by: name))
        let fourGiB = PCMemoryMap.highMemoryStart
        var below: UInt64 = 0
        var above: UInt64 = 0
        for region in machine.memory.regions where region.kind == .ram {
            let end = region.guestBase + region.size
            below += region.guestBase < fourGiB ? min(end, fourGiB) - region.guestBase : 0
            above += end > fourGiB ? end - max(region.guestBase, fourGiB) : 0
        }
        state.withLock {
            $0.rtc.recordMemory(belowFourGiB: below, aboveFourGiB: above, conventionalEnd: PCMemoryMap.conventionalMemoryEnd)
        }
        if ownsTimers { try timers.start() }
    }

    public func reset() { change { rtc, now in rtc.reset(now: now) } }

    public func stop() {
        timer?.cancel()
        if ownsTimers { timers.stop() }
    }

    /// Port 0x70's bit 7 as last written, for inspection (NMI is not gated by it here).
    public var nmiDisabled: Bool { state.withLock { $0.rtc.nmiDisabled } }

    // MARK: BusDevice

    /// Byte by byte, so a 16-bit access covers index and data as two byte accesses would.
    public func read(_ access: BusAccess) -> UInt64 {
        var result: UInt64 = 0
        for byte in 0..<min(access.size, 8) {
            let port = access.offset + UInt64(byte)
            // Port 0x70 is write-only on a PC; reads float high.
            let value: UInt8 = port == 1 ? locked { rtc, now in rtc.readData(now: now) } : 0xFF
            result |= UInt64(value) << UInt64(8 * byte)
        }
        return result
    }

    public func write(_ access: BusAccess, value: UInt64) {
        for byte in 0..<min(access.size, 8) {
            let data = UInt8(truncatingIfNeeded: value >> UInt64(8 * byte))
            switch access.offset + UInt64(byte) {
            case 0: state.withLock { $0.rtc.selectRegister(data) }
            case 1: change { rtc, now in rtc.writeData(data, now: now) }
            default: break
            }
        }
    }

    private func timerExpired() { change(timerFired: true) { rtc, now in rtc.timerExpired(now: now) } }

    /// These run `body` under the lock with the current time, request IRQ 8's level as it says and
    /// re-arm the host timer; the line itself moves after unlocking (see `DeferredIRQLine`, which
    /// keeps a timer expiry and a register C read on two threads in order).
    private func change(timerFired: Bool = false, _ body: (inout RTCState, UInt64) -> LineAction) {
        locked(timerFired: timerFired) { rtc, now -> (value: UInt8, action: LineAction) in (0, body(&rtc, now)) }
    }

    @discardableResult
    private func locked(timerFired: Bool = false,
                        _ body: (inout RTCState, UInt64) -> (value: UInt8, action: LineAction)) -> UInt8 {
        let value = state.withLock { locked in
            if timerFired { locked.arming.fired() }
            // Read under the lock so successive accesses see time move forward.
            let now = timers.now
            let (value, action) = body(&locked.rtc, now)
            switch action {
            case .none: break
            case .raise: irq?.request(high: true)
            case .lower: irq?.request(high: false)
            }
            locked.arming.rearm(timer, for: locked.rtc.nextDeadline(now: now))
            return value
        }
        irq?.settle()
        return value
    }
}
