import Synchronization
import VMMKit
import XCTest

/// The two helpers devices share: an IRQ line driven after the device's lock is released, and a
/// host timer re-armed only when its deadline moves.
final class DeviceHelperTests: XCTestCase {
    private typealias Recorder = InterruptRoutingTests.Recorder

    func testADeferredLineMovesOnlyWhenSettled() {
        let recorder = Recorder()
        let line = DeferredIRQLine(IRQLine(number: 4, sink: recorder))
        line.request(high: true)
        XCTAssertEqual(recorder.lines.withLock { $0 }, [])
        XCTAssertTrue(line.isHigh)
        line.settle()
        line.request(high: true)
        line.settle()
        line.request(high: false)
        line.settle()
        line.settle()
        XCTAssertEqual(recorder.lines.withLock { $0 }, ["4=1", "4=0"])
    }

    /// Two threads' requests settled in the opposite order: the line still ends at the level last
    /// requested, and an excursion nobody settled in time still reaches the line as one edge.
    func testSettlingOutOfOrderEndsAtTheLastRequestAndKeepsTheEdge() {
        let recorder = Recorder()
        let line = DeferredIRQLine(IRQLine(number: 8, sink: recorder))
        line.request(high: true)    // thread A, under the device lock
        line.request(high: false)   // thread B, next under the lock
        line.settle()               // B settles first: the rise and fall both happen
        line.settle()               // A finds nothing left
        XCTAssertEqual(recorder.lines.withLock { $0 }, ["8=1", "8=0"])
        line.request(high: true)
        line.settle()
        line.requestPulse()         // high already: the pulse is one fall
        line.settle()
        XCTAssertEqual(recorder.lines.withLock { $0 }, ["8=1", "8=0", "8=1", "8=0"])
        line.request(high: true)
        line.request(high: false)
        line.request(high: true)
        line.settle()               // low to high through an excursion: one rise
        XCTAssertEqual(recorder.lines.withLock { $0 }.suffix(1), ["8=1"])
    }

    func testTimerArmingTouchesTheTimerOnlyWhenTheDeadlineMoves() {
        let timers = DeviceTimers(clock: .manual)
        let fired = Mutex(0)
        let timer = timers.makeTimer { fired.withLock { $0 += 1 } }
        var arming = TimerArming()
        arming.rearm(timer, for: 100)
        arming.rearm(timer, for: 100)
        timers.advance(to: 100)
        XCTAssertEqual(fired.withLock { $0 }, 1)
        // Without `fired()` the arming still believes 100 stands, so re-arming for 100 does nothing.
        arming.rearm(timer, for: 100)
        timers.advance(to: 200)
        XCTAssertEqual(fired.withLock { $0 }, 1)
        arming.fired()
        arming.rearm(timer, for: 250)
        arming.rearm(timer, for: nil)
        timers.advance(to: 300)
        XCTAssertEqual(fired.withLock { $0 }, 1)
        arming.rearm(timer, for: 350)
        timers.advance(to: 400)
        XCTAssertEqual(fired.withLock { $0 }, 2)
    }
}
