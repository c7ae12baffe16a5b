import XCTest

/// Every interrupt-controller guest on `vmm --backend soft` against QEMU's TCG running the same ELF:
/// both must pass, with the same serial lines apart from measurements ("info:").
final class InterruptGuestComparisonTests: XCTestCase {
    private typealias Run = InterruptGuests.Run

    func testPICAndPIT() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "pic-pit")) }
    func testLocalAPICTimer() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "lapic-timer")) }
    func testTaskPriorityThroughMMIO() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "tpr")) }
    func testTaskPriorityThroughCR8() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "tpr64")) }
    func testNestedPriorities() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "nested")) }
    func testSelfIPI() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "self-ipi")) }
    func testLevelTriggeredIOAPICLine() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "level-irq")) }
    func testSpuriousIRQ7() throws { try InterruptGuests.checkAgainstQEMU(Run(guest: "spurious")) }

    func testSerialInputThroughIOAPIC() throws {
        // The Soft run is checked before QEMU's, which may be skipped.
        let soft = try InterruptGuests.result(of: Run(guest: "ioapic-uart", input: "hello, ioapic\n"), on: .soft)
        XCTAssertTrue(soft.standardOutput.contains("echo: hello, ioapic\n"), soft.standardOutput + soft.standardError)
        try InterruptGuests.checkAgainstQEMU(Run(guest: "ioapic-uart", input: "hello, ioapic\n"))
    }

    /// irq-entry (32-bit) and irq-entry64 (long mode) with each interrupt source.
    func testHandlerEntryFromPITThroughPIC() throws { try checkHandlerEntry(source: "pit") }
    func testHandlerEntryFromPITThroughIOAPIC() throws { try checkHandlerEntry(source: "ioapic") }
    func testHandlerEntryFromSerialThroughIOAPIC() throws { try checkHandlerEntry(source: "uart") }
    func testHandlerEntryFromSelfIPI() throws { try checkHandlerEntry(source: "ipi") }
    func testHandlerEntryAfterTaskPriorityRelease() throws { try checkHandlerEntry(source: "tpr") }

    func testSMP() throws {
        try InterruptGuests.checkAgainstQEMU(Run(guest: "smp", append: "cpus=1", cpus: 1),
                                             Run(guest: "smp", append: "cpus=2", cpus: 2),
                                             Run(guest: "smp", append: "cpus=4", cpus: 4))
    }

    /// Beyond what the QEMU comparison covers: eight vCPUs, each a host thread on two host cores.
    func testSMPWithEightCPUsOnSoft() throws {
        let result = try InterruptGuests.result(of: Run(guest: "smp", append: "cpus=8", cpus: 8), on: .soft)
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("PASS: 8 CPUs online\n"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("cpu: APIC ID 7 (AP)\n"), result.standardOutput)
    }

    private func checkHandlerEntry(source: String) throws {
        // One byte: QEMU's UART without FIFOs takes a longer line as several interrupts.
        let input = source == "uart" ? "x" : nil
        try InterruptGuests.checkAgainstQEMU(Run(guest: "irq-entry", append: "source=\(source)", input: input),
                                             Run(guest: "irq-entry64", append: "source=\(source)", input: input))
    }
}
