import HostIO
import PCBoard
import Serial16550
import SoftBackend
import TestSupport
import VMMKit
import XCTest

/// The interrupt-controller guests of Tests/Guests/interrupts on the Soft backend with the PC board's
/// userspace PIC/IOAPIC/LAPIC/PIT: interrupt delivery, IF and STI shadows, HLT wake-ups, TPR through
/// CR8 and MMIO, NMI-free SMP bring-up with INIT/SIPI.
final class SoftInterruptGuestTests: XCTestCase {
    func boot(_ name: String, commandLine: String = "", cpus: Int = 1, file: StaticString = #filePath,
              line: UInt = #line) throws {
        let output = ConsoleOutput.memory()
        let description = MachineDescription(kernelPath: try GuestKernels.path(name), memorySize: 256 << 20, cpus: cpus,
                                             commandLine: commandLine, serial: .output(output))
        let machine = try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
        let outcome = try machine.run(on: SoftBackend(), timeout: 300)
        output.flush()
        XCTAssertEqual(outcome, .guestExit(value: 0), "\(name) \(commandLine): \(output.capturedText)", file: file, line: line)
    }

    func testPICAndPIT() throws { try boot("pic-pit") }
    func testLocalAPICTimer() throws { try boot("lapic-timer") }
    func testLevelTriggeredInterrupt() throws { try boot("level-irq") }
    func testNestedInterruptPriorities() throws { try boot("nested") }
    func testSpuriousInterrupts() throws { try boot("spurious") }
    func testSelfIPI() throws { try boot("self-ipi") }
    func testTaskPriority() throws { try boot("tpr") }
    func testTaskPriorityThroughCR8() throws { try boot("tpr64") }
    func testHostileControllerProgramming() throws { try boot("hostile-irq") }
    func testInterruptEntryFromEverySource() throws {
        // (source=uart and ioapic-uart wait for typed serial input, which these runs do not provide.)
        for source in ["pit", "ioapic", "ipi", "tpr"] {
            try boot("irq-entry", commandLine: "source=\(source)")
            try boot("irq-entry64", commandLine: "source=\(source)")
        }
    }
    func testApplicationProcessorStartup() throws { try boot("smp", commandLine: "cpus=2", cpus: 2) }
}
