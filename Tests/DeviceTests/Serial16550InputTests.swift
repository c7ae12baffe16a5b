#if canImport(Glibc)
import Glibc
#endif
import HostIO
import Serial16550
import VMMKit
import XCTest

/// The host side of the UART's input: a reader thread takes bytes from a file descriptor (a pipe
/// here, standing in for stdin) and feeds the receive FIFO only as fast as the guest empties it.
final class Serial16550InputTests: XCTestCase {
    private let base = Serial16550.com1Port

    private func readByte(_ machine: Machine) -> UInt8 {
        UInt8(truncatingIfNeeded: machine.ports.read(base, size: 1, vcpu: 0))
    }

    /// Waits (up to a 10-second watchdog) until LSR.DR says a byte is there.
    private func waitForData(_ machine: Machine) -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if machine.ports.read(base + 5, size: 1, vcpu: 0) & 1 != 0 { return true }
            usleep(1000)
        }
        return false
    }

    func testPipedInputArrivesWithoutOverrunAndStopEndsTheReader() throws {
        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]) }
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        let uart = Serial16550(output: ConsoleOutput.discard(), input: DescriptorInput(reading: ends[0]))
        try machine.add(uart)
        // Three FIFOs' worth at once, before the guest has set the UART up: the reader must hold it
        // back from the FIFO reset below, then wait for room rather than overrun.
        let message = Array("The quick brown fox jumps over the lazy dog".utf8)
        XCTAssertEqual(message.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }, message.count)
        close(ends[1])
        usleep(20_000) // let the reader thread pick the bytes up, if it were going to
        machine.ports.write(base + 2, size: 1, value: 0x07, vcpu: 0) // FIFOs on, both cleared
        var received: [UInt8] = []
        while received.count < message.count, waitForData(machine) {
            XCTAssertEqual(machine.ports.read(base + 5, size: 1, vcpu: 0) & 0x02, 0, "no overrun")
            received.append(readByte(machine))
        }
        XCTAssertEqual(String(decoding: received, as: UTF8.self), String(decoding: message, as: UTF8.self))
        uart.stop()
    }

    func testStopWakesAReaderBlockedOnAnOpenPipe() throws {
        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&ends), 0)
        defer { close(ends[0]); close(ends[1]) }
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        let uart = Serial16550(output: ConsoleOutput.discard(), input: DescriptorInput(reading: ends[0]))
        try machine.add(uart)
        uart.stop() // returns only once the reader thread has ended; XCTest's own timeout guards a hang
        XCTAssertEqual(machine.ports.read(base + 5, size: 1, vcpu: 0) & 1, 0)
    }
}
