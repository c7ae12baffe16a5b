import VMMKit
import XCTest

/// `--pv`'s names, and KVM_HC_KICK_CPU's rule in the shared HLT arbitration.
final class ParavirtualFeaturesTests: XCTestCase {
    func testNamesAllAndNone() throws {
        XCTAssertEqual(try ParavirtualFeatures.parse("all").get(), .all)
        XCTAssertEqual(try ParavirtualFeatures.parse("none").get(), [])
        XCTAssertEqual(try ParavirtualFeatures.parse("kvmclock,pv-eoi").get(), [.kvmclock, .pvEOI])
        XCTAssertEqual(ParavirtualFeatures.named.count, 6)
        for entry in ParavirtualFeatures.named {
            XCTAssertEqual(try ParavirtualFeatures.parse(entry.name).get(), entry.feature, entry.name)
        }
        for (text, word) in [("pv-eoi,warp", "warp"), ("", ""), ("kvmclock,", ""), ("ALL", "ALL")] {
            XCTAssertThrowsError(try ParavirtualFeatures.parse(text).get(), text) { error in
                XCTAssertEqual((error as? ParavirtualFeatures.UnknownName)?.word, word)
            }
        }
    }

    /// cpuid.rst's bits for each interface; PV EOI is the local APIC's to add.
    func testKVMFeatureBits() {
        XCTAssertEqual(ParavirtualFeatures.kvmclock.kvmFeatureBits, KVMCPUIDFeature.clocksource2 | KVMCPUIDFeature.clocksourceStable)
        XCTAssertEqual(ParavirtualFeatures.pvEOI.kvmFeatureBits, 0)
        XCTAssertEqual(ParavirtualFeatures.all.kvmFeatureBits & KVMCPUIDFeature.pvEOI, 0)
        XCTAssertEqual(ParavirtualFeatures.none.kvmFeatureBits, 0)
    }

    /// A kick ends the HLT even with IF = 0 and holds when sent before the HLT.
    func testKickEndsAHaltWithInterruptsOff() {
        let runControl = RunControl()
        let arbitration = VCPUArbitration(vcpuCount: 2, runControl: runControl)
        arbitration.requestUnhalt(vcpu: 1)
        var sleeps = 0
        let wake = arbitration.waitInHalt(vcpu: 1, interruptsEnabled: false, acceptsNMI: true, source: nil) { sleeps += 1 }
        XCTAssertEqual(wake, .unhalted)
        XCTAssertEqual(sleeps, 0, "a kick before the HLT ends it at once")
        // Consumed: the next HLT sleeps (until the stop this sleep asks for).
        let next = arbitration.waitInHalt(vcpu: 1, interruptsEnabled: false, acceptsNMI: true, source: nil) {
            sleeps += 1
            runControl.requestStop(.quit("test"))
        }
        XCTAssertEqual(next, .stop(.machineStopped))
        XCTAssertEqual(sleeps, 1)
        arbitration.requestUnhalt(vcpu: 7) // no such vCPU: ignored
    }
}
