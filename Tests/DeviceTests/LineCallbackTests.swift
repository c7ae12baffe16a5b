import Foundation
import HostIO
import RTC
import Serial16550
import Synchronization
import VMMKit
import XCTest

/// No device holds its own lock while it moves an IRQ line: a sink that reads the device's
/// registers from inside `setLine` (as an interrupt controller acknowledging at once might) would
/// otherwise block on that lock for ever. Each case runs on its own thread with a generous
/// watchdog, so the regression shows as a failure rather than a hung suite.
final class LineCallbackTests: XCTestCase {
    /// Calls `onChange` from inside every line change.
    private final class CallbackSink: InterruptSink, @unchecked Sendable {
        var onChange: (Int, Bool) -> Void = { _, _ in }
        let changes = Mutex<[String]>([])
        func setLine(_ line: Int, high: Bool) {
            changes.withLock { $0.append("\(line)=\(high ? 1 : 0)") }
            onChange(line, high)
        }
        func send(_ message: MSIMessage) {}
    }

    func testTheUARTMovesItsLineWithItsLockReleased() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        let sink = CallbackSink()
        machine.interruptRouter.connect(sink)
        try machine.add(Serial16550(output: ConsoleOutput.memory()))
        let iir = Mutex<[UInt64]>([])
        sink.onChange = { _, _ in
            let value = machine.ports.read(Serial16550.com1Port + 2, size: 1, vcpu: 0)
            iir.withLock { $0.append(value) }
        }
        try runWithWatchdog {
            // IER: transmitter-empty interrupts. THRE is set at once, so the line rises; the IIR
            // read from inside the rise identifies (and so clears) it, and the line falls.
            machine.ports.write(Serial16550.com1Port + 1, size: 1, value: 0x02, vcpu: 0)
        }
        XCTAssertEqual(sink.changes.withLock { $0 }, ["4=1", "4=0"])
        XCTAssertEqual(iir.withLock { $0 }.first, 0x02, "THRE identified from inside the line change")
    }

    func testTheRTCMovesItsLineWithItsLockReleased() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        let sink = CallbackSink()
        machine.interruptRouter.connect(sink)
        let timers = DeviceTimers(clock: .manual)
        let rtc = MC146818(timers: timers, start: UTCTime(seconds: 0))
        try machine.add(rtc)
        defer { rtc.stop() }
        let registerC = Mutex<[UInt64]>([])
        sink.onChange = { _, high in
            guard high else { return }
            machine.ports.write(MC146818.indexPort, size: 1, value: 0x0C, vcpu: 0)
            let value = machine.ports.read(MC146818.indexPort + 1, size: 1, vcpu: 0)
            registerC.withLock { $0.append(value) }
        }
        try runWithWatchdog {
            for (index, value) in [(UInt64(0x0A), UInt64(0x2F)), (0x0B, 0x42)] {
                machine.ports.write(MC146818.indexPort, size: 1, value: index, vcpu: 0)
                machine.ports.write(MC146818.indexPort + 1, size: 1, value: value, vcpu: 0)
            }
            timers.advance(to: 500_000_000)
        }
        XCTAssertEqual(sink.changes.withLock { $0 }, ["8=1", "8=0"], "a periodic interrupt, acknowledged from inside it")
        XCTAssertEqual(registerC.withLock { $0 }.map { $0 & 0xC0 }, [0xC0], "IRQF and PF read from inside the rise")
    }

    private func runWithWatchdog(_ body: @escaping @Sendable () -> Void) throws {
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            body()
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 120), .success, "the device deadlocked on its own lock")
    }
}
