import Dispatch
import Synchronization
import VMMKit
import XCTest

/// `Machine.run`'s reset path with a backend whose vCPU 0 ends each boot as a script says: what a
/// reboot does between two boots (a new VM, devices reset, RAM cleared, `reload` called, vCPU 0 in
/// the reloaded state), and what `RebootPolicy` and outcomes decide.
final class MachineRebootTests: XCTestCase {
    /// vCPU 0's `run()` result for each boot in turn, then `rest` for every later boot; the other
    /// vCPUs wait for the stop.
    final class ScriptedBackend: CPUBackend {
        static let name = "scripted"
        static let summary = "vCPU 0 ends each boot as the test says"
        let script: [VCPUStop]
        let rest: VCPUStop
        private let boots = Atomic<Int>(0)
        let createdVMs = Atomic<Int>(0)
        /// The RIP each boot's vCPU 0 was given.
        let entryPoints = Mutex<[UInt64]>([])

        convenience init() { self.init([]) }
        init(_ script: [VCPUStop], then rest: VCPUStop = .haltedForever) {
            self.script = script
            self.rest = rest
        }

        func availability() -> BackendAvailability { .usable("a test double") }

        func createVM(for machine: Machine) throws -> any VirtualMachine {
            createdVMs.add(1, ordering: .relaxed)
            return ScriptedVM(backend: self, runControl: machine.runControl)
        }

        func nextStop() -> VCPUStop {
            let boot = boots.add(1, ordering: .relaxed).oldValue
            return boot < script.count ? script[boot] : rest
        }
    }

    final class ScriptedVM: VirtualMachine {
        let backend: ScriptedBackend
        let runControl: RunControl
        init(backend: ScriptedBackend, runControl: RunControl) {
            self.backend = backend
            self.runControl = runControl
        }
        var inKernelInterruptSink: (any InterruptSink)? { nil }
        func createVCPU(index: Int) throws -> any VirtualCPU { ScriptedVCPU(index: index, vm: self) }
    }

    final class ScriptedVCPU: VirtualCPU {
        let index: Int
        let statistics = ExitStatistics()
        let vm: ScriptedVM
        private let kicked = DispatchSemaphore(value: 0)
        private var general = GeneralRegisters()

        init(index: Int, vm: ScriptedVM) {
            self.index = index
            self.vm = vm
        }

        func generalRegisters() throws -> GeneralRegisters { general }
        func setGeneralRegisters(_ registers: GeneralRegisters) throws {
            general = registers
            if index == 0 { vm.backend.entryPoints.withLock { $0.append(registers.rip) } }
        }
        func systemRegisters() throws -> SystemRegisters { SystemRegisters() }
        func setSystemRegisters(_ registers: SystemRegisters) throws {}
        func floatingPointRegisters() throws -> FloatingPointRegisters { FloatingPointRegisters() }
        func debugRegisters() throws -> DebugRegisters { DebugRegisters() }
        func setDebugRegisters(_ registers: DebugRegisters) throws {}
        func readMSR(_ index: UInt32) throws -> UInt64 { 0 }
        func writeMSR(_ index: UInt32, value: UInt64) throws {}
        func injectException(vector: UInt8, errorCode: UInt32?) throws {}

        func run() throws -> VCPUStop {
            statistics.portIO.increment()
            if index == 0 { return vm.backend.nextStop() }
            while !vm.runControl.isStopRequested { kicked.wait() }
            return .machineStopped
        }

        func kick() { kicked.signal() }
    }

    /// Counts its resets.
    final class ResetCounter: Device {
        let name = "reset-counter"
        let resets = Atomic<Int>(0)
        func attach(to machine: Machine) throws {}
        func reset() { resets.add(1, ordering: .relaxed) }
    }

    private func machine(cpus: Int = 2) throws -> (Machine, ResetCounter) {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: cpus)
        let counter = ResetCounter()
        try machine.add(counter)
        let boots = Atomic<UInt64>(0)
        machine.bootState.general.rip = 0x1000
        machine.reload = { machine in
            let boot = boots.add(1, ordering: .relaxed).newValue
            XCTAssertEqual(try machine.memory.read(UInt32.self, at: 0x8000), 0, "RAM is cleared before the reload")
            var state = BootState()
            state.general.rip = 0x1000 + boot
            return state
        }
        try machine.memory.write(UInt32(0xdead_beef), at: 0x8000)
        return (machine, counter)
    }

    func testEachResetRestartsOnANewVMWithTheReloadedEntry() throws {
        let (machine, counter) = try self.machine()
        let backend = ScriptedBackend([.reset, .reset, .haltedForever])
        XCTAssertEqual(try machine.run(on: backend), .poweredOff)
        XCTAssertEqual(machine.reboots, 2)
        XCTAssertEqual(backend.createdVMs.load(ordering: .relaxed), 3)
        XCTAssertEqual(backend.entryPoints.withLock { $0 }, [0x1000, 0x1001, 0x1002])
        XCTAssertEqual(counter.resets.load(ordering: .relaxed), 2)
        XCTAssertEqual(machine.statistics.first { $0.0 == "port I/O" }?.1, 6, "two vCPUs, three boots")
    }

    func testDeviceRequestedResetRestartsToo() throws {
        let (machine, _) = try self.machine(cpus: 1)
        let backend = ScriptedBackend([.machineStopped, .haltedForever])
        machine.runControl.requestReset() // as a device would, before vCPU 0's first exit
        XCTAssertEqual(try machine.run(on: backend), .poweredOff)
        XCTAssertEqual(machine.reboots, 1)
    }

    func testWithoutRebootsTheResetIsTheOutcome() throws {
        let (machine, counter) = try self.machine()
        machine.rebootPolicy.rebootsOnReset = false
        XCTAssertEqual(try machine.run(on: ScriptedBackend([.reset])), .reset)
        XCTAssertEqual(machine.reboots, 0)
        XCTAssertEqual(counter.resets.load(ordering: .relaxed), 0)
    }

    func testWithoutReloadTheResetIsTheOutcome() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        XCTAssertEqual(try machine.run(on: ScriptedBackend([.reset])), .reset)
    }

    func testTripleFaultEndsTheRunUnlessThePolicyResets() throws {
        let (machine, _) = try self.machine(cpus: 1)
        XCTAssertEqual(try machine.run(on: ScriptedBackend([.shutdown(registerDump: "dump")])),
                       .shutdown(vcpu: 0, registerDump: "dump"))
        let (rebooting, _) = try self.machine(cpus: 1)
        rebooting.rebootPolicy.resetsOnTripleFault = true
        XCTAssertEqual(try rebooting.run(on: ScriptedBackend([.shutdown(registerDump: "dump"), .haltedForever])),
                       .poweredOff)
        XCTAssertEqual(rebooting.reboots, 1)
        let (neither, _) = try self.machine(cpus: 1)
        neither.rebootPolicy = RebootPolicy(rebootsOnReset: false, resetsOnTripleFault: true)
        XCTAssertEqual(try neither.run(on: ScriptedBackend([.shutdown(registerDump: "dump")])),
                       .shutdown(vcpu: 0, registerDump: "dump"), "no reboot: the triple fault keeps its report")
    }

    /// The timeout counts over every boot: a guest resetting for ever is stopped by it.
    func testTimeoutEndsAResetLoop() throws {
        let (machine, _) = try self.machine(cpus: 1)
        let backend = ScriptedBackend([], then: .reset)
        XCTAssertEqual(try machine.run(on: backend, timeout: 0.5), .timedOut(seconds: 0.5))
        XCTAssertGreaterThan(machine.reboots, 0)
    }

    func testAnOutcomeWinsOverAPendingReset() {
        let control = RunControl()
        control.requestReset()
        XCTAssertTrue(control.isStopRequested)
        XCTAssertTrue(control.isResetPending)
        XCTAssertNil(control.stopOutcome)
        control.requestStop(.interrupted("SIGINT"))
        XCTAssertFalse(control.isResetPending)
        XCTAssertEqual(control.stopOutcome, .interrupted("SIGINT"))
        control.requestReset()
        XCTAssertFalse(control.isResetPending, "a reset after an outcome is ignored")
    }
}
