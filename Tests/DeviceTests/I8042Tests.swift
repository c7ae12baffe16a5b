import I8042
import VMMKit
import XCTest

/// The keyboard controller as Linux's i8042 driver and atkbd probe it, and its reset pulse.
final class I8042Tests: XCTestCase {
    private var machine: Machine!
    private var controller: I8042!
    private let irqs = LineRecorder()

    override func setUpWithError() throws {
        machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        machine.interruptRouter.connect(irqs)
        controller = I8042()
        try machine.add(controller)
    }

    private func status() -> UInt8 { UInt8(machine.ports.read(0x64, size: 1, vcpu: 0)) }
    private func command(_ byte: UInt8) { machine.ports.write(0x64, size: 1, value: UInt64(byte), vcpu: 0) }
    private func data(_ byte: UInt8) { machine.ports.write(0x60, size: 1, value: UInt64(byte), vcpu: 0) }
    private func readData() -> UInt8 { UInt8(machine.ports.read(0x60, size: 1, vcpu: 0)) }

    /// Every byte waiting in the output buffer, read as a driver does: while OBF is set.
    private func drain() -> [UInt8] {
        var bytes: [UInt8] = []
        while status() & 0x01 != 0, bytes.count <= 32 { bytes.append(readData()) }
        return bytes
    }

    func testSelfTestAnswers55AndSetsTheSystemFlag() {
        XCTAssertEqual(status() & 0x01, 0, "nothing to read after power-on")
        command(0xAA)
        XCTAssertEqual(status() & 0x0D, 0x0D, "output full, system flag, last write a command")
        XCTAssertEqual(drain(), [0x55])
        command(0xAB)
        XCTAssertEqual(drain(), [0x00], "keyboard interface test passes")
    }

    func testCommandByteReadsBackWhatWasWritten() {
        command(0x20)
        XCTAssertEqual(drain(), [0x65], "as firmware leaves it: keyboard interrupt, system flag, no mouse, translation")
        command(0x60)
        data(0x40)
        XCTAssertEqual(status() & 0x0C, 0, "a data write clears the command bit; the system flag follows bit 2")
        command(0x20)
        XCTAssertEqual(drain(), [0x40])
        command(0xAD)
        command(0x20)
        XCTAssertEqual(drain(), [0x50], "0xAD disables the keyboard interface")
        command(0xAE)
        command(0xA7)
        command(0x20)
        XCTAssertEqual(drain(), [0x60], "0xAE enables it again, 0xA7 disables the auxiliary port")
    }

    func testStatusRegister() {
        XCTAssertEqual(status(), 0x14, "power-on: system flag (POST passed) and not inhibited; nothing buffered")
        command(0x20)
        XCTAssertEqual(status(), 0x1D, "a byte to read, after a command")
        _ = readData()
        XCTAssertEqual(status(), 0x1C)
        XCTAssertEqual(status() & 0x22, 0, "the input buffer is never full, no byte comes from an auxiliary device")
    }

    /// What atkbd sends: reset, get ID (an MF2 keyboard), set LEDs with its argument, echo.
    func testKeyboardAnswersLinuxsProbe() {
        data(0xFF)
        XCTAssertEqual(drain(), [0xFA, 0xAA], "acknowledge, then the basic assurance test passed")
        data(0xF2)
        XCTAssertEqual(drain(), [0xFA, 0xAB, 0x83])
        data(0xED)
        data(0x07)
        XCTAssertEqual(drain(), [0xFA, 0xFA], "set LEDs and its argument, each acknowledged")
        data(0xF0)
        data(0x00)
        XCTAssertEqual(drain(), [0xFA, 0xFA, 0x02], "scan code set 2")
        data(0xEE)
        XCTAssertEqual(drain(), [0xEE])
        data(0x5A)
        XCTAssertEqual(drain(), [0xFE], "an unknown command asks for a resend")
    }

    func testNoAuxiliaryDeviceAnswers() {
        command(0xA9)
        XCTAssertEqual(drain(), [0x02], "the auxiliary interface test: clock line stuck high, nothing connected")
        command(0xD3)
        data(0x5A)
        command(0xD4)
        data(0xF2)
        XCTAssertEqual(drain(), [], "bytes for the auxiliary device go nowhere")
        command(0x20)
        XCTAssertEqual(drain(), [0x65], "and were not taken as keyboard or command bytes")
    }

    func testIRQ1FollowsTheOutputBufferWhenEnabled() {
        command(0x20)
        XCTAssertEqual(irqs.level(1), true, "a byte waits and the command byte enables IRQ 1")
        _ = readData()
        XCTAssertEqual(irqs.level(1), false)
        command(0x60)
        data(0x64)
        command(0x20)
        XCTAssertEqual(irqs.level(1), false, "keyboard interrupt disabled")
        XCTAssertEqual(drain(), [0x64])
    }

    func testPulseOfOutputPortBit0RequestsAReset() {
        command(0xFF)
        XCTAssertFalse(machine.runControl.isResetPending, "0xFF pulses no bit")
        command(0xFE)
        XCTAssertTrue(machine.runControl.isResetPending, "0xFE pulses the reset line")
        XCTAssertNil(machine.runControl.stopOutcome, "a reset is not the end of the run")
    }

    func testOutputPortWriteWithBit0ClearRequestsAReset() {
        command(0xD0)
        XCTAssertEqual(drain(), [0xCF], "reset line and A20 high")
        command(0xD1)
        data(0xCF)
        XCTAssertFalse(machine.runControl.isResetPending)
        command(0xD1)
        data(0xCE)
        XCTAssertTrue(machine.runControl.isResetPending)
    }

    func testResetReturnsToPowerOn() {
        command(0x60)
        data(0x00)
        data(0xF2)
        controller.reset()
        XCTAssertEqual(status(), 0x14)
        command(0x20)
        XCTAssertEqual(drain(), [0x65])
    }

    /// Every command with every follow-up byte: nothing traps, the buffer stays bounded, and only
    /// the pulse commands with bit 0 clear and output-port writes with bit 0 clear reset.
    func testEveryCommandAndDataByteIsHarmless() throws {
        for first in 0...255 {
            for second in [0x00, 0x01, 0xFE, 0xFF] {
                try setUpWithError()
                command(UInt8(first))
                data(UInt8(second))
                for _ in 0..<40 { data(0xF2) }
                XCTAssertLessThanOrEqual(drain().count, 16, "command 0x\(String(first, radix: 16))")
                let pulses = first >= 0xF0 && first & 1 == 0
                let outputPortLow = first == 0xD1 && second & 1 == 0
                XCTAssertEqual(machine.runControl.isResetPending, pulses || outputPortLow,
                               "command 0x\(String(first, radix: 16)), data 0x\(String(second, radix: 16))")
            }
        }
    }
}
