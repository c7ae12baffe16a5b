import Synchronization
import VMMKit
import XCTest

/// The device side of the interrupt contract, without a machine: lines and MSIs into a sink, the
/// router a machine connects, and how an MSI write decodes into an APIC message (SDM vol. 3, 10.11).
final class InterruptRoutingTests: XCTestCase {
    final class Recorder: InterruptSink, @unchecked Sendable {
        let lines = Mutex<[String]>([])
        func setLine(_ line: Int, high: Bool) { lines.withLock { $0.append("\(line)=\(high ? 1 : 0)") } }
        func send(_ message: MSIMessage) { lines.withLock { $0.append("msi \(message.data)") } }
    }

    func testAnIRQLineNeedsOnlyASink() {
        let recorder = Recorder()
        let line = IRQLine(number: 4, sink: recorder)
        line.raise()
        line.lower()
        line.pulse()
        XCTAssertEqual(recorder.lines.withLock { $0 }, ["4=1", "4=0", "4=1", "4=0"])
    }

    func testTheRouterDropsLinesUntilConnected() {
        let router = InterruptRouter()
        let line = IRQLine(number: 3, sink: router)
        line.raise()
        let recorder = Recorder()
        router.connect(recorder)
        line.lower()
        router.send(MSIMessage(address: 0xFEE0_0000, data: 0x41))
        XCTAssertEqual(recorder.lines.withLock { $0 }, ["3=0", "msi 65"])
    }

    func testFixedEdgeMessageToAPICID2() {
        let message = MSIMessage(address: 0xFEE0_2000, data: 0x0031).apicMessage
        XCTAssertEqual(message, APICMessage(vector: 0x31, deliveryMode: .fixed, destination: 2))
    }

    func testLogicalLowestPriorityLevelMessage() {
        // Address bit 2: logical destination; data 10:8 = 001, bit 15 level, bit 14 assert.
        let message = MSIMessage(address: 0xFEE0_3004, data: 0xC1A0).apicMessage
        XCTAssertEqual(message, APICMessage(vector: 0xA0, deliveryMode: .lowestPriority, logicalDestination: true,
                                            destination: 3, levelTriggered: true, assert: true))
        let deasserted = MSIMessage(address: 0xFEE0_3004, data: 0x81A0).apicMessage
        XCTAssertEqual(deasserted?.assert, false)
    }

    func testNMIMessage() {
        XCTAssertEqual(MSIMessage(address: 0xFEE0_1000, data: 0x0400).apicMessage?.deliveryMode, .nonMaskable)
    }

    func testWritesThatReachNoProcessor() {
        XCTAssertNil(MSIMessage(address: 0xFED0_0000, data: 0x30).apicMessage, "outside 0xFEExxxxx")
        XCTAssertNil(MSIMessage(address: 0x1_FEE0_0000, data: 0x30).apicMessage, "above 4 GiB")
        XCTAssertNil(MSIMessage(address: 0xFEE0_0000, data: 0x0330).apicMessage, "delivery mode 011 is reserved")
        XCTAssertNil(MSIMessage(address: 0xFEE0_0000, data: 0x0630).apicMessage, "no start-up through an MSI")
    }
}
