@testable import VMMCommand
import XCTest

final class StatisticsReportTests: XCTestCase {
    func testThousandsSeparatorsAndThreeDecimals() {
        XCTAssertEqual(StatisticsReport.grouped(0), "0")
        XCTAssertEqual(StatisticsReport.grouped(999), "999")
        XCTAssertEqual(StatisticsReport.grouped(1000), "1,000")
        XCTAssertEqual(StatisticsReport.grouped(1_234_567), "1,234,567")
        XCTAssertEqual(StatisticsReport.grouped(UInt64.max), "18,446,744,073,709,551,615")
        XCTAssertEqual(StatisticsReport.threeDecimals(0.0845), "0.085")
        XCTAssertEqual(StatisticsReport.threeDecimals(12), "12.000")
    }
}
