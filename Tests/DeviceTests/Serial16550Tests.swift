import HostIO
import PCBoard
import VMMKit
import XCTest
@testable import Serial16550

final class Serial16550Tests: XCTestCase {
    private let base = Serial16550.com1Port
    private var machine: Machine!
    private var lines: LineRecorder!
    private var output: ConsoleOutput!
    private var uart: Serial16550!

    override func setUpWithError() throws {
        machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        lines = LineRecorder()
        machine.interruptRouter.connect(lines)
        output = ConsoleOutput.memory()
        uart = Serial16550(output: output)
        try machine.add(uart)
    }

    private func read(_ register: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: machine.ports.read(base + register, size: 1, vcpu: 0))
    }

    private func write(_ register: UInt64, _ value: UInt8) {
        machine.ports.write(base + register, size: 1, value: UInt64(value), vcpu: 0)
    }

    func testClaimsEightPortsAtCOM1() {
        XCTAssertTrue(machine.ports.isClaimed(0x3f8))
        XCTAssertTrue(machine.ports.isClaimed(0x3ff))
        XCTAssertFalse(machine.ports.isClaimed(0x400))
    }

    func testTransmitGoesToOutputAndLeavesTransmitterEmpty() {
        for byte in "hi\n".utf8 { write(0, byte) }
        XCTAssertEqual(output.capturedText, "hi\n")
        XCTAssertEqual(read(5) & 0x60, 0x60, "THRE and TEMT set")
    }

    func testPowerOnRegisterValues() {
        XCTAssertEqual(read(1), 0, "IER")
        XCTAssertEqual(read(2), 0x01, "IIR: nothing pending, FIFOs off")
        XCTAssertEqual(read(5), 0x60, "LSR")
        XCTAssertEqual(read(6), 0xb0, "MSR: CTS, DSR, DCD from a connected terminal")
    }

    func testDivisorLatchAndScratch() {
        write(3, 0x83)
        write(0, 0x0c)
        write(1, 0x00)
        XCTAssertEqual(read(0), 0x0c)
        XCTAssertEqual(read(1), 0x00)
        write(3, 0x03)
        XCTAssertEqual(read(3), 0x03)
        XCTAssertTrue(output.capturedBytes.isEmpty, "DLL writes are not transmitted")
        write(1, 0x05)
        XCTAssertEqual(read(1), 0x05, "IER again once DLAB is clear")
        write(7, 0x5a)
        XCTAssertEqual(read(7), 0x5a)
    }

    func testReceiveWithoutFIFOOverrunsAfterOneByte() {
        uart.receive([0x41, 0x42])
        XCTAssertEqual(read(5) & 0x03, 0x03, "DR and OE")
        XCTAssertEqual(read(5) & 0x02, 0, "reading LSR cleared OE")
        XCTAssertEqual(read(0), 0x41, "the overrun byte was lost, the first kept")
        XCTAssertEqual(read(5) & 0x01, 0)
    }

    func testFIFOHoldsSixteenBytesThenOverruns() {
        write(2, 0x01)
        XCTAssertEqual(read(2) & 0xc0, 0xc0, "IIR reports FIFOs enabled")
        uart.receive(Array(0..<17))
        XCTAssertEqual(read(5) & 0x02, 0x02)
        let received = (0..<16).map { _ in read(0) }
        XCTAssertEqual(received, Array(0..<16))
        XCTAssertEqual(read(5) & 0x01, 0)
    }

    func testFIFOClearAndDisableEmptyTheReceiver() {
        write(2, 0x01)
        uart.receive([1, 2, 3])
        write(2, 0x03)
        XCTAssertEqual(read(5) & 0x01, 0, "FCR bit 1 cleared the receive FIFO")
        uart.receive([4])
        write(2, 0x00)
        XCTAssertEqual(read(5) & 0x01, 0, "turning FIFOs off cleared them")
        XCTAssertEqual(read(2), 0x01)
    }

    func testReceivedDataInterruptHonoursTriggerLevel() {
        write(2, 0x41) // FIFO on, trigger level 4
        write(1, 0x01)
        uart.receive([1, 2])
        XCTAssertEqual(read(2), 0xcc, "below the trigger level: character timeout")
        XCTAssertTrue(lines.level)
        uart.receive([3, 4])
        XCTAssertEqual(read(2), 0xc4, "trigger level reached: received data available")
        for _ in 0..<4 { _ = read(0) }
        XCTAssertEqual(read(2), 0xc1)
        XCTAssertFalse(lines.level)
    }

    func testTransmitterEmptyInterruptSemantics() {
        write(1, 0x02)
        XCTAssertTrue(lines.level, "enabling ETBEI with THR empty interrupts at once")
        XCTAssertEqual(read(2), 0x02)
        XCTAssertEqual(read(2), 0x01, "reading IIR while THRE was the source cleared it")
        XCTAssertFalse(lines.level)
        write(0, 0x41)
        XCTAssertTrue(lines.level, "THR emptied again after the write")
        write(1, 0x00)
        XCTAssertFalse(lines.level, "masked")
    }

    func testInterruptPriorityOrder() {
        write(1, 0x0f)
        write(4, 0x10) // loopback: modem outputs all low, so CTS/DSR/DCD fall (deltas)
        uart.receive([1, 2])
        XCTAssertEqual(read(2), 0x06, "line status (overrun) first")
        _ = read(5)
        XCTAssertEqual(read(2), 0x04, "then received data")
        _ = read(0)
        XCTAssertEqual(read(2), 0x02, "then THR empty")
        XCTAssertEqual(read(2), 0x00, "then modem status")
        XCTAssertEqual(read(6) & 0x0f, 0x0b, "DCTS, DDSR, DDCD")
        XCTAssertEqual(read(2), 0x01)
        XCTAssertFalse(lines.level)
    }

    func testLoopbackRoutesTransmitterAndModemLines() {
        write(2, 0x01)
        write(4, 0x10 | 0x0f)
        XCTAssertEqual(read(6) & 0xf0, 0xf0, "RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD")
        write(0, 0x55)
        XCTAssertTrue(output.capturedBytes.isEmpty, "loopback keeps the byte off the line")
        XCTAssertEqual(read(5) & 0x01, 0x01)
        XCTAssertEqual(read(0), 0x55)
        write(4, 0x10 | 0x0b) // OUT1 falls: RI trailing edge
        XCTAssertEqual(read(6) & 0x4f, 0x04)
    }

    func testLineFollowsStateAndMovesOnlyOnChanges() {
        write(2, 0x01)
        write(1, 0x01)
        uart.receive([1])
        uart.receive([2])
        _ = read(0)
        XCTAssertEqual(lines.changes.map(\.high), [true], "still pending: no second raise")
        _ = read(0)
        XCTAssertEqual(lines.changes.map(\.high), [true, false])
        XCTAssertTrue(lines.changes.allSatisfy { $0.line == 4 })
    }

    func testWideAccessSplitsIntoBytes() {
        write(3, 0x80)
        machine.ports.write(base, size: 2, value: 0x0102, vcpu: 0)
        XCTAssertEqual(machine.ports.read(base, size: 2, vcpu: 0), 0x0102, "DLL and DLM in one access")
    }

    func testEndpointParsing() throws {
        XCTAssertEqual(try ConsoleEndpoint(parsing: "stdio"), .stdio)
        XCTAssertEqual(try ConsoleEndpoint(parsing: "none"), .none)
        XCTAssertEqual(try ConsoleEndpoint(parsing: "file:/tmp/x"), .file("/tmp/x"))
        XCTAssertThrowsError(try ConsoleEndpoint(parsing: "tcp:1"))
        XCTAssertThrowsError(try ConsoleEndpoint(parsing: "file:"))
    }

    func testFileOutputFlushesOnNewline() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("serial-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fileOutput = try ConsoleOutput.file(path)
        let fileUART = Serial16550(port: 0x2f8, irq: 3, output: fileOutput)
        try machine.add(fileUART)
        for byte in "ok\npart".utf8 { machine.ports.write(0x2f8, size: 1, value: UInt64(byte), vcpu: 0) }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "ok\n")
        fileUART.stop()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "ok\npart")
    }

    func testRegisteredTypeBuildsASecondUART() throws {
        var registry = DeviceRegistry()
        try registry.register(PCBoard.serialDeviceType)
        let device = try registry.makeDevice("serial,port=0x2e8,irq=3")
        try machine.add(device)
        XCTAssertTrue(machine.ports.isClaimed(0x2ef))
        XCTAssertThrowsError(try registry.makeDevice("serial,output=tcp"))
    }

    /// A break: LSR.BI and DR with one zero character, reported as a receiver line status
    /// interrupt when ELSI is on; reading LSR clears BI.
    func testABreakSetsBIWithAZeroCharacter() {
        write(1, 0x04)
        uart.receiveBreak()
        XCTAssertEqual(lines.level(4), true)
        XCTAssertEqual(read(2) & 0x0f, 0x06, "IIR: receiver line status")
        XCTAssertEqual(read(5) & 0x11, 0x11, "LSR: BI and DR")
        XCTAssertEqual(read(5) & 0x10, 0, "BI cleared by the read")
        XCTAssertEqual(read(0), 0, "the break's zero character")
        XCTAssertEqual(lines.level(4), false)
    }
}
