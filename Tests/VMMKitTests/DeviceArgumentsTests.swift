import XCTest
import VMMKit

final class DeviceArgumentsTests: XCTestCase {
    func testParsesNameAndKeyValues() throws {
        var arguments = try DeviceArguments.parse("serial,port=0x2f8,irq=3,path=/tmp/a=b")
        XCTAssertEqual(arguments.deviceType, "serial")
        XCTAssertEqual(try arguments.integer("port"), 0x2f8)
        XCTAssertEqual(try arguments.integer("irq"), 3)
        XCTAssertEqual(arguments.string("path"), "/tmp/a=b", "only the first '=' separates")
        XCTAssertEqual(try arguments.integer("missing", default: 7), 7)
        XCTAssertNoThrow(try arguments.finish())
    }

    func testUnreadKeysAreErrors() throws {
        var arguments = try DeviceArguments.parse("serial,prot=0x2f8")
        XCTAssertNil(try arguments.integer("port"))
        XCTAssertThrowsError(try arguments.finish()) {
            XCTAssertEqual($0 as? DeviceSpecificationError, .unknownKey("serial", "prot"))
        }
    }

    func testMalformedSpecifications() {
        for specification in ["", ",port=1", "serial,port", "serial,=1", "serial,port=1,port=2"] {
            XCTAssertThrowsError(try DeviceArguments.parse(specification), specification) { error in
                guard case .malformed = error as? DeviceSpecificationError else {
                    return XCTFail("\(specification): \(error)")
                }
            }
        }
    }

    func testBadNumbers() throws {
        for text in ["0xZZ", "-1", "12abc", "0x", "99999999999999999999"] {
            var arguments = try DeviceArguments.parse("dev,n=\(text)")
            XCTAssertThrowsError(try arguments.integer("n"), text) {
                XCTAssertEqual($0 as? DeviceSpecificationError, .badValue("dev", "n", text))
            }
        }
    }
}
