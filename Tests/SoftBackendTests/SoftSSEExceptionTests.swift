import CHostX87
import VMMKit
import XCTest

/// MXCSR's exception flags and unmasked SIMD floating-point exceptions (SDM vol. 1, 11.5; vol. 3,
/// 6.15 "Interrupt 19"): flags accumulate, an unmasked exception leaves the destination alone and
/// raises #XM, or #UD while CR4.OSXMMEXCPT is clear.
final class SoftSSEExceptionTests: XCTestCase {
    static let one: UInt64 = 0x3f80_0000, infinity: UInt64 = 0x7f80_0000
    static let zeroDivideFlag: UInt32 = 1 << 2, zeroDivideMask: UInt32 = 1 << 9

    /// divss %xmm1,%xmm0 with XMM0 = 1.0f, XMM1 = 0.0f and MXCSR = `mxcsr`.
    func divideByZero(mxcsr: UInt32, cr4: UInt64) throws -> (SoftCPUFixture, SoftStepOutcome) {
        let cpu = try SoftCPUFixture(.long64, code: [0xf3, 0x0f, 0x5e, 0xc1])
        try cpu.setSystemRegisters { $0.cr4 |= cr4 }
        cpu.cpu.setXMM(0, low: Self.one, high: 0x1234)
        cpu.cpu.setXMM(1, low: 0, high: 0)
        cpu.cpu.mxcsr = mxcsr
        return (cpu, try cpu.cpu.step(instructions: 1))
    }

    func testMaskedDivideByZeroSetsZEAndStoresInfinity() throws {
        let (cpu, outcome) = try divideByZero(mxcsr: 0x1f80, cr4: ControlBits.cr4OSFXSR | ControlBits.cr4OSXMMEXCPT)
        XCTAssertEqual(outcome, .completed)
        XCTAssertEqual(cpu.cpu.xmm(0).low, Self.infinity)
        XCTAssertEqual(cpu.cpu.mxcsr, 0x1f80 | Self.zeroDivideFlag)
    }

    func testUnmaskedDivideByZeroRaisesXMAndLeavesTheDestination() throws {
        let (cpu, outcome) = try divideByZero(mxcsr: 0x1f80 & ~Self.zeroDivideMask,
                                              cr4: ControlBits.cr4OSFXSR | ControlBits.cr4OSXMMEXCPT)
        XCTAssertEqual(outcome, .exception(vector: 19, errorCode: nil))
        XCTAssertEqual(cpu.cpu.xmm(0).low, Self.one, "the destination is unchanged")
        XCTAssertEqual(cpu.cpu.mxcsr, 0x1f80 & ~Self.zeroDivideMask | Self.zeroDivideFlag)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress, "#XM is a fault")
    }

    func testUnmaskedExceptionWithoutOSXMMEXCPTIsInvalidOpcode() throws {
        let (cpu, outcome) = try divideByZero(mxcsr: 0x1f80 & ~Self.zeroDivideMask, cr4: ControlBits.cr4OSFXSR)
        XCTAssertEqual(outcome, .exception(vector: 6, errorCode: nil))
        XCTAssertEqual(cpu.cpu.xmm(0).low, Self.one)
        XCTAssertEqual(cpu.cpu.mxcsr & Self.zeroDivideFlag, Self.zeroDivideFlag)
    }

    /// Rounding control reaches the arithmetic: 1/3 rounded down and up differ in the last bit.
    func testRoundingControlIsHonoured() throws {
        var results: [UInt64] = []
        for control: UInt32 in [1, 2] {
            let cpu = try SoftCPUFixture(.long64, code: [0xf2, 0x0f, 0x5e, 0xc1]) // divsd %xmm1,%xmm0
            try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
            cpu.cpu.setXMM(0, low: (1.0).bitPattern, high: 0)
            cpu.cpu.setXMM(1, low: (3.0).bitPattern, high: 0)
            cpu.cpu.mxcsr = 0x1f80 | control << 13
            try cpu.step(1)
            results.append(cpu.cpu.xmm(0).low)
            XCTAssertEqual(cpu.cpu.mxcsr & 0x3f, 1 << 5, "inexact: PE")
        }
        XCTAssertEqual(results[1], results[0] + 1)
    }

    /// The guest's rounding control, DAZ and FTZ stay the guest's: the host's own arithmetic after
    /// a guest instruction still rounds to nearest and keeps denormals.
    func testTheHostKeepsItsOwnMXCSRControls() throws {
        let cpu = try SoftCPUFixture(.long64, code: [0xf2, 0x0f, 0x5e, 0xc1]) // divsd %xmm1,%xmm0
        try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
        cpu.cpu.setXMM(0, low: (1.0).bitPattern, high: 0)
        cpu.cpu.setXMM(1, low: (3.0).bitPattern, high: 0)
        cpu.cpu.mxcsr = 0x1f80 | 0x8000 | 0x40 | 2 << 13 // FTZ, DAZ, round up
        try cpu.step(1)
        XCTAssertEqual(Self.divide(1, 3).bitPattern, 0x3fd5_5555_5555_5555, "round to nearest")
        XCTAssertEqual(Self.divide(.leastNonzeroMagnitude, 1), .leastNonzeroMagnitude, "no DAZ, no FTZ")
    }

    /// LDMXCSR takes what the host's MXCSR_MASK allows (the host loads the value) and #GP for the
    /// rest: bit 16 (AMD's MM) always, DAZ where the host has none.
    func testLDMXCSRAcceptsTheHostsMXCSRBits() throws {
        let mask = host_sse_mxcsr_mask() & 0xffff
        for value: UInt32 in [0x1f80 | 0x40, 0x1_1f80, 0xffff] {
            let cpu = try SoftCPUFixture(.long64, code: [0x0f, 0xae, 0x14, 0x25, 0x00, 0x00, 0x20, 0x00]) // ldmxcsr 0x200000
            try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
            try cpu.machine.memory.write(value, at: SoftCPUFixture.dataAddress)
            let expected: SoftStepOutcome = value & ~mask == 0 ? .completed : .exception(vector: 13, errorCode: 0)
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), expected, "ldmxcsr \(hex(UInt64(value)))")
            if expected == .completed { XCTAssertEqual(cpu.cpu.mxcsr, value) }
        }
    }

    @inline(never)
    static func divide(_ a: Double, _ b: Double) -> Double { a / b }
}
