import VMMKit
import XCTest

/// The default backend: the first preferred one, else the first usable one, among those that can
/// run the interrupt controllers where the machine wants them.
final class BackendRegistryTests: XCTestCase {
    final class Fast: CPUBackend {
        static let name = "fast"
        static let summary = "prefers the in-kernel controllers"
        func availability() -> BackendAvailability { .usable("slow on this host") }
        func createVM(for machine: Machine) throws -> any VirtualMachine { throw MachineError.invalidCPUCount(0) }
        func supports(_ placement: InterruptControllerPlacement) -> Bool { true }
    }

    final class Anywhere: CPUBackend {
        static let name = "anywhere"
        static let summary = "userspace controllers only (the protocol's default)"
        func availability() -> BackendAvailability { .preferred("always works") }
        func createVM(for machine: Machine) throws -> any VirtualMachine { throw MachineError.invalidCPUCount(0) }
    }

    func testThePreferredBackendWinsWithUserspaceControllers() throws {
        let best = try XCTUnwrap(BackendRegistry([Fast.self, Anywhere.self]).bestAvailable(for: .userspace))
        XCTAssertEqual(type(of: best.backend).name, "anywhere")
        XCTAssertEqual(best.reason, "anywhere: always works; fast: slow on this host")
    }

    func testABackendWithoutInKernelControllersIsPassedOverForThem() throws {
        let best = try XCTUnwrap(BackendRegistry([Anywhere.self, Fast.self]).bestAvailable(for: .inKernel))
        XCTAssertEqual(type(of: best.backend).name, "fast")
        XCTAssertEqual(best.reason, "fast: slow on this host; anywhere: has no in-kernel interrupt controllers")
        XCTAssertNil(BackendRegistry([Anywhere.self]).bestAvailable(for: .inKernel))
    }
}
