import Synchronization
import VMMKit

/// An interrupt sink that only records how devices drive their lines, so a device's IRQ output
/// can be checked without the PIC/IOAPIC behind it.
final class LineRecorder: InterruptSink, @unchecked Sendable {
    private let events = Mutex<[(line: Int, high: Bool)]>([])
    private let messages = Mutex<[MSIMessage]>([])

    func setLine(_ line: Int, high: Bool) { events.withLock { $0.append((line, high)) } }
    func send(_ message: MSIMessage) { messages.withLock { $0.append(message) } }

    /// Every MSI sent, in order.
    var sentMessages: [MSIMessage] { messages.withLock { $0 } }

    /// Every change, in order.
    var changes: [(line: Int, high: Bool)] { events.withLock { $0 } }
    /// The level of the last change on any line (false before any).
    var level: Bool { changes.last?.high ?? false }
    /// The last level driven on `line`, nil if it was never driven.
    func level(_ line: Int) -> Bool? { changes.last { $0.line == line }?.high }
    /// Rising edges seen on `line`.
    func rises(_ line: Int) -> Int { changes.filter { $0.line == line && $0.high }.count }
}
