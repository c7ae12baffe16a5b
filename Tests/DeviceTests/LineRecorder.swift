import Synchronization
import VMMKit

/// An interrupt controller that only records how devices drive their lines, so a device's IRQ
/// output can be checked without the PIC/IOAPIC behind it.
final class LineRecorder: InterruptController, @unchecked Sendable {
    private let events = Mutex<[(line: Int, high: Bool)]>([])

    func setLine(_ line: Int, high: Bool) { events.withLock { $0.append((line, high)) } }
    func hasPendingInterrupt(vcpu: Int) -> Bool { false }
    func acknowledgeInterrupt(vcpu: Int) -> UInt8? { nil }
    func takeNonMaskableInterrupt(vcpu: Int) -> Bool { false }
    func taskPriority(vcpu: Int) -> UInt8 { 0 }
    func setTaskPriority(vcpu: Int, _ value: UInt8) {}
    func takeStartupSignal(vcpu: Int) -> StartupSignal? { nil }

    /// Every change, in order.
    var changes: [(line: Int, high: Bool)] { events.withLock { $0 } }
    /// The level of the last change on any line (false before any).
    var level: Bool { changes.last?.high ?? false }
    /// The last level driven on `line`, nil if it was never driven.
    func level(_ line: Int) -> Bool? { changes.last { $0.line == line }?.high }
    /// Rising edges seen on `line`.
    func rises(_ line: Int) -> Int { changes.filter { $0.line == line && $0.high }.count }
}
