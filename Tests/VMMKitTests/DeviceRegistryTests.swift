import VMMKit
import XCTest

final class DeviceRegistryTests: XCTestCase {
    private final class Placeholder: Device {
        let name = "placeholder"
        func attach(to machine: Machine) throws {}
    }

    private static func type(_ name: String) -> DeviceType {
        DeviceType(name: name, summary: "a placeholder") { _ in Placeholder() }
    }

    func testRemembersWhereEachTypeCameFrom() throws {
        var registry = DeviceRegistry()
        try registry.register(Self.type("first"))
        try registry.register(Self.type("second"), from: .plugin(path: "/plugins/libsecond.so"))
        XCTAssertEqual(registry.types.map(\.name), ["first", "second"])
        XCTAssertEqual(registry.origins, [.builtIn, .plugin(path: "/plugins/libsecond.so")])
    }

    func testATakenNameIsRefusedNamingWhoTookIt() throws {
        var registry = DeviceRegistry()
        try registry.register(Self.type("serial"))
        XCTAssertThrowsError(try registry.register(Self.type("serial"), from: .plugin(path: "/plugins/libserial.so"))) {
            XCTAssertEqual($0 as? DeviceSpecificationError, .nameTaken("serial", by: .builtIn))
            XCTAssertEqual("\($0)", "device type 'serial' is already taken (built in)")
        }
        XCTAssertEqual(registry.types.count, 1, "the refused type is not added")
    }
}
