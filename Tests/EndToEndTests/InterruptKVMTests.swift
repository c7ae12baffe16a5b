import TestSupport
import XCTest

/// The interrupt guests on `vmm --backend kvm`, with vmm's controllers (`--irqchip user`) and with
/// KVM's in-kernel ones (`--irqchip kernel`).
///
/// On a PVM host (kvm_pvm) KVM's instruction emulator runs supervisor code and cannot execute a
/// protected-mode IRET, so a 32-bit handler never returns. irq-entry's handlers report their entry
/// before anything else, so the delivery into the guest is checked up to there; the part after the
/// IRET is then a skip naming the host limitation, never a pass. Elsewhere the guest runs on and
/// must pass.
final class InterruptKVMTests: XCTestCase {
    private typealias Run = InterruptGuests.Run
    private static let irqchips = ["user", "kernel"]

    func testSMPBringUp() throws {
        try EndToEnd.requireKVM()
        for irqchip in Self.irqchips {
            for cpus in [1, 2, 4] {
                let result = try InterruptGuests.result(of: Run(guest: "smp", append: "cpus=\(cpus)", cpus: cpus),
                                                        on: .kvm(irqchip: irqchip))
                XCTAssertEqual(result.status, 1, "smp, \(cpus) CPUs, --irqchip \(irqchip): \(result.standardOutput)\(result.standardError)")
                XCTAssertTrue(result.standardOutput.contains("PASS: \(cpus) CPUs online\n"), result.standardOutput)
            }
        }
    }

    func testHandlerEntryFromPITThroughPIC() throws { try checkHandlerEntry(source: "pit", vector: 0x20) }
    func testHandlerEntryFromPITThroughIOAPIC() throws { try checkHandlerEntry(source: "ioapic", vector: 0x30) }
    func testHandlerEntryFromSerialThroughIOAPIC() throws { try checkHandlerEntry(source: "uart", vector: 0x34) }
    func testHandlerEntryFromSelfIPI() throws { try checkHandlerEntry(source: "ipi", vector: 0x60) }

    /// The held self-IPI must not enter while the task priority class is 6; the guest reports that
    /// before it lowers the class.
    func testHandlerEntryAfterTaskPriorityRelease() throws {
        try checkHandlerEntry(source: "tpr", vector: 0x50, before: "PASS: self-IPI 0x50 held while the task priority class")
    }

    /// Runs irq-entry (MMIO TPR, 32-bit) and irq-entry64 (CR8, long mode) on both irqchips: each run
    /// must enter the handler of `vector` (after the line starting `before`, if given), then pass,
    /// or stop at an IRET the host cannot emulate, which is collected and reported as a skip.
    private func checkHandlerEntry(source: String, vector: UInt8, before: String? = nil) throws {
        try EndToEnd.requireKVM()
        let entry = "entered vector 0x" + String(vector, radix: 16)
        var stoppedByHost: [String] = []
        for irqchip in Self.irqchips {
            for guest in ["irq-entry", "irq-entry64"] {
                let run = Run(guest: guest, append: "source=\(source)", input: source == "uart" ? "x" : nil)
                let result = try InterruptGuests.result(of: run, on: .kvm(irqchip: irqchip))
                let what = "\(guest) source=\(source) --irqchip \(irqchip)"
                let output = result.standardOutput
                guard let entered = output.range(of: entry + "\n") else {
                    XCTFail("\(what): no '\(entry)' (status \(result.status)): \(output)\(result.standardError)")
                    continue
                }
                if let before {
                    let reported = output.range(of: before)
                    XCTAssertNotNil(reported, "\(what): no '\(before)': \(output)")
                    if let reported { XCTAssertLessThan(reported.lowerBound, entered.lowerBound, "\(what): entered too early") }
                }
                if let limitation = Self.hostCannotReturn(result) {
                    stoppedByHost.append("\(what): \(limitation)")
                    continue
                }
                XCTAssertEqual(result.status, 1, "\(what): \(output)\(result.standardError)")
                XCTAssertTrue(output.hasSuffix("PASS\n"), "\(what): \(output)")
            }
        }
        if !stoppedByHost.isEmpty {
            throw XCTSkip("handlers were entered, but the rest did not run: this host's KVM cannot emulate the "
                          + "handler's IRET (PVM host limitation): " + stoppedByHost.joined(separator: "; "))
        }
    }

    /// The host-limitation line vmm prints when KVM's emulator failed on an IRET (opcode CF, or
    /// 48 CF for IRETQ), or nil when the run did not end that way.
    static func hostCannotReturn(_ result: ProcessResult) -> String? {
        guard result.status == 6,
              let line = result.standardError.split(separator: "\n").first(where: { $0.contains("host KVM limitation") }),
              line.contains("(bytes: cf") || line.contains("(bytes: 48 cf") else { return nil }
        return String(line)
    }
}
