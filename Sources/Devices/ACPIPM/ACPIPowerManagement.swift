#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// The fixed ACPI hardware the FADT points at (ACPI 6.4, 4.8.3): the PM1a event block (status and
/// enable), the PM1a control block, and the PM timer. The machine is always in ACPI mode (SCI_EN
/// reads 1, the FADT has no SMI command port) and raises no events; writing SLP_EN with the S5
/// sleep type from the DSDT's \_S5 object powers the machine off, which is how Linux's `poweroff`
/// ends a run. Layout as QEMU's PIIX4 PM (event block +0, control +4, timer +8), at a base clear of
/// the ports other devices take (the test device sits at 0x600).
public final class ACPIPowerManagement: Device, BusDevice, @unchecked Sendable {
    public static let defaultBase: UInt64 = 0xB000
    public static let eventBlock: UInt64 = 0, controlBlock: UInt64 = 4, timerBlock: UInt64 = 8
    public static let length: UInt64 = 12
    /// The SLP_TYP value the DSDT's \_S5 package announces for soft-off.
    public static let softOffSleepType: UInt64 = 5
    /// 3.579545 MHz (ACPI 6.4, 4.8.3.3).
    static let timerHertz: UInt64 = 3_579_545

    public let name: String
    public let base: UInt64
    private var runControl: RunControl?
    /// PM1 status (low 16 bits) and enable (high 16 bits).
    private let events = Mutex<UInt32>(0)

    public init(name: String = "acpi-pm", base: UInt64 = defaultBase) {
        self.name = name
        self.base = base
    }

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: base, length: Self.length, by: self, name: name)
        runControl = machine.runControl
    }

    public func reset() { events.withLock { $0 = 0 } }

    public func read(_ access: BusAccess) -> UInt64 {
        let offset = access.offset
        switch offset {
        case Self.eventBlock..<Self.controlBlock:
            let shift = (offset - Self.eventBlock) * 8
            return UInt64(events.withLock { $0 }) >> shift
        case Self.controlBlock..<Self.controlBlock + 2:
            return offset == Self.controlBlock ? 1 : 0 // SCI_EN: ACPI mode, set by "firmware"
        case Self.controlBlock + 2..<Self.timerBlock:
            return 0 // between the blocks: nothing there
        default:
            // PM_TMR: 24 bits of a free-running 3.579545 MHz counter (TMR_VAL_EXT clear in the FADT).
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let ticks = (UInt64(now.tv_sec) % 4_000_000) &* Self.timerHertz
                &+ UInt64(now.tv_nsec) &* Self.timerHertz / 1_000_000_000
            return (ticks & 0xFF_FFFF) >> ((offset - Self.timerBlock) * 8)
        }
    }

    public func write(_ access: BusAccess, value: UInt64) {
        let offset = access.offset
        switch offset {
        case Self.eventBlock..<Self.controlBlock:
            // Status bits are cleared by writing 1; enable bits are plain read/write.
            let shift = UInt32((offset - Self.eventBlock) * 8)
            let widthMask = access.size >= 8 ? UInt64.max : (UInt64(1) << (UInt64(access.size) * 8)) - 1
            let mask = UInt32(truncatingIfNeeded: widthMask) << shift
            let written = UInt32(truncatingIfNeeded: value) << shift & mask
            events.withLock { state in
                state &= ~(written & 0xFFFF)
                state = (state & ~(mask & 0xFFFF_0000)) | (written & 0xFFFF_0000)
            }
        case Self.controlBlock..<Self.controlBlock + 2:
            // PM1_CNT: SLP_TYP in bits 10-12, SLP_EN in bit 13 (ACPI 6.4, table 4.13).
            let control = value << ((offset - Self.controlBlock) * 8)
            if control & (1 << 13) != 0 && (control >> 10) & 7 == Self.softOffSleepType {
                runControl?.requestStop(.poweredOff)
            }
        default:
            break // the timer is read-only
        }
    }
}
