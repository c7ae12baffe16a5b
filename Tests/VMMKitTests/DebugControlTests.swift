import Dispatch
import Synchronization
@testable import VMMKit
import XCTest

/// `DebugControl` with threads standing in for vCPUs: each counts "instructions" and parks where a
/// vCPU would. No timed assertions: a stopped thread's count must not move across a pause the test
/// makes as long as it likes, and every wait has a watchdog.
final class DebugControlTests: XCTestCase {
    private final class FakeVCPUs: @unchecked Sendable {
        let control: DebugControl
        let runControl: RunControl
        let counts: Mutex<[Int]>
        let group = DispatchGroup()
        /// vCPU index → a count at which it reports a breakpoint (once).
        let breakAt: [Int: Int]

        init(_ machine: Machine, breakAt: [Int: Int] = [:]) {
            control = machine.debugControl
            runControl = machine.runControl
            counts = Mutex([Int](repeating: 0, count: machine.vcpuCount))
            self.breakAt = breakAt
            control.vcpusExist(true)
            for index in 0..<machine.vcpuCount {
                DispatchQueue.global().async(group: group) { [self] in run(index) }
            }
        }

        private func run(_ index: Int) {
            control.enter(vcpu: index)
            defer { control.leave(vcpu: index) }
            while !runControl.isStopRequested {
                if control.isPauseRequested { control.park(vcpu: index) }
                let count = counts.withLock { counts -> Int in
                    counts[index] += 1
                    return counts[index]
                }
                if breakAt[index] == count { control.park(vcpu: index, reason: .softwareBreakpoint) }
                usleep(20) // two cores are shared with other builds: leave the test's thread some
            }
        }

        func count(_ index: Int) -> Int { counts.withLock { $0[index] } }

        func waitUntil(_ index: Int, passes target: Int) {
            let deadline = DispatchTime.now() + 120
            while count(index) < target && DispatchTime.now() < deadline { usleep(1000) }
        }

        func end() {
            runControl.requestStop(.poweredOff)
            control.wakeEveryParkedVCPU()
            XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "a parked thread did not leave")
            control.machineEnded()
        }
    }

    func testStopAllParksEveryVCPUAndResumeLetsThemRun() throws {
        let machine = try Machine(memorySize: 2 << 20, vcpuCount: 3)
        let vcpus = FakeVCPUs(machine)
        for index in 0..<3 { vcpus.waitUntil(index, passes: 200) }
        XCTAssertEqual(machine.debugControl.stopAll(), DebugStop(vcpu: 0, reason: .interrupted))
        let stopped = (0..<3).map(vcpus.count)
        usleep(2_000)
        XCTAssertEqual((0..<3).map(vcpus.count), stopped, "nothing runs while stopped")
        XCTAssertEqual(machine.debugControl.waitForStop(blocking: false), .some(DebugStop(vcpu: 0, reason: .interrupted)))
        machine.debugControl.resume(stepping: nil)
        for index in 0..<3 { vcpus.waitUntil(index, passes: stopped[index] + 200) }
        for index in 0..<3 { XCTAssertGreaterThan(vcpus.count(index), stopped[index]) }
        vcpus.end()
    }

    func testASteppedVCPURunsAloneAndAReportedReasonStopsEveryone() throws {
        let machine = try Machine(memorySize: 2 << 20, vcpuCount: 2)
        let vcpus = FakeVCPUs(machine, breakAt: [1: 2_000])
        XCTAssertNotNil(machine.debugControl.stopAll())
        let before = (0..<2).map(vcpus.count)
        // Only vCPU 1 may run; it reports its breakpoint when its count gets there.
        machine.debugControl.resume(stepping: 1)
        let stop = machine.debugControl.waitForStop(blocking: true)
        XCTAssertEqual(stop, .some(DebugStop(vcpu: 1, reason: .softwareBreakpoint)))
        XCTAssertEqual(vcpus.count(0), before[0], "vCPU 0 stayed parked")
        XCTAssertEqual(vcpus.count(1), 2_000)
        // Continue everyone: vCPU 1's report came from a thread running among others this time.
        machine.debugControl.resume(stepping: nil)
        vcpus.waitUntil(0, passes: before[0] + 200)
        XCTAssertEqual(machine.debugControl.stopAll()?.reason, .interrupted)
        vcpus.end()
        XCTAssertEqual(machine.debugControl.waitForStop(blocking: false), .some(nil), "the run ended")
    }

    func testStopAtStartHoldsVCPUsBeforeTheirFirstInstruction() throws {
        let machine = try Machine(memorySize: 2 << 20, vcpuCount: 2)
        machine.debugControl.stopAtStart()
        let vcpus = FakeVCPUs(machine)
        XCTAssertEqual(machine.debugControl.stopAll(), DebugStop(vcpu: 0, reason: .interrupted))
        usleep(2_000)
        XCTAssertEqual([vcpus.count(0), vcpus.count(1)], [0, 0])
        // A machine stop while parked lets the threads end.
        vcpus.end()
    }
}
