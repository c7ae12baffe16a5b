import VMMKit
import XCTest

/// The hypervisor leaves devices define (`CPUIDHooks.define`) and where KVM's leaves go beside them.
final class HypervisorLeavesTests: XCTestCase {
    func testKVMsLeavesTakeTheFirstFreeRange() throws {
        let hooks = CPUIDHooks()
        XCTAssertEqual(hooks.kvmLeafBase(offering: .none), 0x4000_0000, "alone they stay, offering nothing")
        try hooks.define(0x4000_0000...0x4000_0002, by: "xen")
        XCTAssertEqual(hooks.kvmLeafBase, 0x4000_0100)
        try hooks.define(0x4000_0100...0x4000_0100, by: "another")
        XCTAssertEqual(hooks.kvmLeafBase, 0x4000_0200)
        XCTAssertEqual(hooks.kvmLeafBase(offering: [.kvmclock]), 0x4000_0200)
        XCTAssertNil(hooks.kvmLeafBase(offering: .none))
        XCTAssertEqual(hooks.definedLeaves, [0x4000_0000, 0x4000_0001, 0x4000_0002, 0x4000_0100])
    }

    func testDefinitionsMustBeOneHypervisorRangeAndNotOverlap() throws {
        let hooks = CPUIDHooks()
        try hooks.define(0x4000_0000...0x4000_0002, by: "xen")
        XCTAssertThrowsError(try hooks.define(0x4000_0002...0x4000_0003, by: "other")) { error in
            XCTAssertEqual(error as? CPUIDHookError, .leavesTaken(first: 0x4000_0002, by: "xen", new: "other"))
        }
        XCTAssertThrowsError(try hooks.define(0x4000_00ff...0x4000_0100, by: "straddling"))
        XCTAssertThrowsError(try hooks.define(0x8000_0000...0x8000_0001, by: "not hypervisor"))
    }
}
