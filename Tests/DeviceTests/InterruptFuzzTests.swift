import Dispatch
import FuzzTargets
import PCBoard
import VMMKit
import XCTest

/// Random register traffic to every interrupt controller and the PIT from several threads at once,
/// with the real timer thread running: nothing may crash or deadlock, and the state must still obey
/// its own rules afterwards.
final class InterruptFuzzTests: XCTestCase {
    private static let ports: [UInt64] = [0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x41, 0x42, 0x43, 0x61]

    private static func churn(_ machine: Machine, _ controller: PCInterruptController, seed: UInt64, operations: Int) {
        var random = SplitMix64(seed: seed)
        for _ in 0..<operations {
            let vcpu = Int(random.next() % UInt64(machine.vcpuCount))
            let value = random.next()
            switch random.next() % 10 {
            case 0, 1:
                let port = ports[Int(random.next() % UInt64(ports.count))]
                if value & 1 == 0 {
                    machine.ports.write(port, size: 1, value: value >> 8, vcpu: vcpu)
                } else {
                    _ = machine.ports.read(port, size: 1, vcpu: vcpu)
                }
            case 2, 3:
                let offset = random.next() % 0x1000 & ~3
                if value & 1 == 0 {
                    machine.mmio.write(0xFEE0_0000 + offset, size: 4, value: value >> 8, vcpu: vcpu)
                } else {
                    _ = machine.mmio.read(0xFEE0_0000 + offset, size: 4, vcpu: vcpu)
                }
            case 4:
                let offset: UInt64 = [0x00, 0x10, 0x40][Int(random.next() % 3)]
                let written = offset == 0 ? value % 0x40 : value
                machine.mmio.write(0xFEC0_0000 + offset, size: 4, value: written, vcpu: vcpu)
            case 5:
                _ = machine.mmio.read(0xFEC0_0010, size: 4, vcpu: vcpu)
            case 6:
                controller.setLine(Int(random.next() % 26) - 1, high: value & 1 == 0)
            case 7:
                if controller.hasPendingInterrupt(vcpu: vcpu) { _ = controller.acknowledgeInterrupt(vcpu: vcpu) }
                _ = controller.takeNonMaskableInterrupt(vcpu: vcpu)
                _ = controller.takeStartupSignal(vcpu: vcpu)
            case 8:
                let handler = machine.msrs.handler(for: value & 1 == 0 ? 0x1B : 0x6E0)
                // Mostly keep the APIC enabled at its usual page, so MMIO traffic keeps reaching it.
                let msrValue = value % 4 == 0 ? value >> 8 : 0xFEE0_0900 | (value & 0x100)
                _ = handler?.writeMSR(value & 1 == 0 ? 0x1B : 0x6E0, value: msrValue, vcpu: vcpu)
            default:
                controller.setTaskPriority(vcpu: vcpu, UInt8(truncatingIfNeeded: value))
                _ = controller.taskPriority(vcpu: vcpu)
            }
        }
    }

    func testConcurrentRandomRegisterTraffic() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 3)
        let controller = PCInterruptController(vcpuCount: 3)
        try machine.add(controller)
        defer { controller.stop() }

        let threads = 4
        let finished = DispatchGroup()
        for thread in 0..<threads {
            finished.enter()
            DispatchQueue.global().async {
                Self.churn(machine, controller, seed: 0x5EED + UInt64(thread), operations: 100_000)
                finished.leave()
            }
        }
        // The watchdog: a deadlock shows up as a timeout instead of a hung test run.
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success, "fuzzing threads deadlocked")

        for vcpu in 0..<3 { try assertConsistent(machine, vcpu: vcpu) }
        try assertStillWorks(machine, controller)
    }

    /// Register-level invariants of one local APIC that must hold whatever was written.
    private func assertConsistent(_ machine: Machine, vcpu: Int) throws {
        let handler = try XCTUnwrap(machine.msrs.handler(for: 0x1B))
        XCTAssertTrue(handler.writeMSR(0x1B, value: 0xFEE0_0800 | (vcpu == 0 ? 0x100 : 0), vcpu: vcpu))
        func read(_ offset: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: machine.mmio.read(0xFEE0_0000 + offset, size: 4, vcpu: vcpu)) }
        XCTAssertEqual(read(0x30), 0x0005_0014)
        let tpr = UInt8(truncatingIfNeeded: read(0x80))
        var highestInService: UInt8 = 0
        for index in stride(from: 7, through: 0, by: -1) {
            let word = read(0x100 + UInt64(index) * 0x10)
            if word != 0 {
                highestInService = UInt8(index * 32 + 31 - word.leadingZeroBitCount)
                break
            }
        }
        let expectedPPR = tpr >> 4 >= highestInService >> 4 ? tpr : highestInService & 0xF0
        XCTAssertEqual(read(0xA0), UInt32(expectedPPR), "PPR follows TPR and ISR on vCPU \(vcpu)")
        XCTAssertEqual(read(0xE0) & 0x0FFF_FFFF, 0x0FFF_FFFF)
    }

    /// After the storm, a clean programming sequence must behave exactly as on a fresh controller.
    private func assertStillWorks(_ machine: Machine, _ controller: PCInterruptController) throws {
        controller.reset()
        for vcpu in 0..<3 {
            while controller.takeStartupSignal(vcpu: vcpu) != nil {}
            _ = controller.takeNonMaskableInterrupt(vcpu: vcpu)
        }
        machine.mmio.write(0xFEE0_00F0, size: 4, value: 0x1FF, vcpu: 2)
        machine.mmio.write(0xFEC0_0000, size: 4, value: 0x11 + 2 * 5, vcpu: 0)
        machine.mmio.write(0xFEC0_0010, size: 4, value: 0x0200_0000, vcpu: 0)
        machine.mmio.write(0xFEC0_0000, size: 4, value: 0x10 + 2 * 5, vcpu: 0)
        machine.mmio.write(0xFEC0_0010, size: 4, value: 0x45, vcpu: 0)
        controller.setLine(5, high: false)
        controller.setLine(5, high: true)
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 2), 0x45)
        XCTAssertEqual(machine.mmio.read(0xFEC0_0000 + 0x10, size: 4, vcpu: 0) & 0x1_0000, 0)
    }
}
