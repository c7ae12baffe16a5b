#if canImport(Glibc)
import Glibc
#endif
import Foundation
import XCTest

/// A guest that writes pseudo-random values to every interrupt-controller register (hostile-irq),
/// and the local APIC timer's accuracy at 1000 Hz.
final class InterruptRobustnessTests: XCTestCase {
    private typealias Run = InterruptGuests.Run

    /// vmm must neither crash nor hang, whatever the registers are set to: the guest finishes its
    /// rounds and exits through the debug port (status 1). QEMU is no reference here: under TCG,
    /// version 7.2 injects vector -1 for some of these settings.
    func testRandomControllerWritesOnSoft() throws {
        for (seed, cpus) in [(1, 1), (2, 1), (3, 2)] {
            try checkSurvives(seed: seed, rounds: 5000, cpus: cpus, on: .soft)
        }
    }

    func testRandomControllerWritesOnKVM() throws {
        try EndToEnd.requireKVM()
        for irqchip in ["user", "kernel"] {
            for (seed, cpus) in [(1, 1), (3, 2)] {
                try checkSurvives(seed: seed, rounds: 2000, cpus: cpus, on: .kvm(irqchip: irqchip))
            }
        }
    }

    /// The periodic local APIC timer at 1000 Hz, counted over one second of PIT time, within 1%: vmm's
    /// timer keeps to absolute period boundaries and owes the expiries its host timer thread slept
    /// through. An expiry that finds the previous one still waiting in IRR is lost, as on hardware,
    /// and that is what happens while the host deschedules the vCPU thread; so on a busy host (a load
    /// average leaving less than one core for the vCPU and timer threads) a count short by more than
    /// 1% is a skip, not a pass.
    func testLocalAPICTimerWithinOnePercentOnSoft() throws {
        let result = try InterruptGuests.result(of: Run(guest: "lapic-timer", append: "tolerance=1"), on: .soft)
        if result.status == 3, result.standardOutput.contains("missing"), let load = Self.overload {
            throw XCTSkip("host overloaded (\(load)): the vCPU thread could not take every tick: \(result.standardOutput)")
        }
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("PASS: periodic timer at 1000 Hz within 1%\n"), result.standardOutput)
    }

    private func checkSurvives(seed: Int, rounds: Int, cpus: Int, on machine: InterruptGuests.Machine) throws {
        let run = Run(guest: "hostile-irq", append: "seed=\(seed) rounds=\(rounds)", cpus: cpus)
        let result = try InterruptGuests.result(of: run, on: machine)
        XCTAssertEqual(result.status, 1, "\(run.append), \(cpus) CPUs on \(machine): \(result.standardOutput)\(result.standardError)")
        XCTAssertTrue(result.standardOutput.contains("PASS: \(rounds) rounds of random controller writes\n"),
                      result.standardOutput)
    }

    /// "load L on N cores" when the one-minute load average leaves less than one core free.
    private static var overload: String? {
        var loads = [Double](repeating: 0, count: 1)
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        guard getloadavg(&loads, 1) == 1, cores > 0, loads[0] > Double(cores - 1) else { return nil }
        return String(format: "load %.2f on %d cores", loads[0], cores)
    }
}
