import Foundation
import XCTest

/// The Soft CPU's x87 against the host CPU's, one instruction at a time through the native oracle:
/// every documented data-instruction form (SDM vol. 2, tables) from random x87 states
/// built of special 80-bit values (zeros, denormals, pseudo-denormals, unnormals, infinities, QNaN,
/// SNaN, pseudo-NaNs, the indefinite) under every precision and rounding control, masked and
/// unmasked exceptions, with a random or special memory operand at [RDI]. Compared: how the
/// instruction ended, FCW, FSW, the tag word, ST0-ST7, RFLAGS and the data page. FOP/FIP/FDP are
/// not: AMD's FXSAVE stores them only with ES set, and the signal frame shows the host's.
/// SOFT_DIFF_SEED picks another seed; SOFT_X87_CASES the cases per form.
final class X87DifferentialTests: XCTestCase {
    static let seed = ProcessInfo.processInfo.environment["SOFT_DIFF_SEED"].flatMap { UInt64($0) } ?? 0x5eed_0087
    static let casesPerForm = ProcessInfo.processInfo.environment["SOFT_X87_CASES"].flatMap { Int($0) } ?? 4

    /// (name, encoding) of the register forms: escape byte and ModRM 0xC0-0xFF.
    static let registerForms: [(String, [UInt8])] = {
        var forms = [(String, [UInt8])]()
        func add(_ escape: UInt8, _ modrms: [ClosedRange<UInt8>], _ name: String) {
            for range in modrms { for modrm in range { forms.append(("\(name) \(hex(UInt64(escape))) \(hex(UInt64(modrm)))", [escape, modrm])) } }
        }
        add(0xd8, [0xc0...0xff], "fadd/fmul/fcom/fcomp/fsub/fsubr/fdiv/fdivr st,st(i)")
        add(0xd9, [0xc0...0xd0, 0xe0...0xe1, 0xe4...0xe5, 0xe8...0xee, 0xf0...0xff], "fld/fxch/fnop/fchs/fabs/ftst/fxam/constants/transcendentals")
        add(0xda, [0xc0...0xdf, 0xe9...0xe9], "fcmovb/e/be/u, fucompp")
        add(0xdb, [0xc0...0xdf, 0xe8...0xf7], "fcmovnb/ne/nbe/nu, fucomi, fcomi")
        add(0xdc, [0xc0...0xcf, 0xe0...0xff], "fadd/fmul/fsubr/fsub/fdivr/fdiv st(i),st")
        add(0xdd, [0xc0...0xc7, 0xd0...0xef], "ffree/fst/fstp/fucom/fucomp")
        add(0xde, [0xc0...0xcf, 0xd9...0xd9, 0xe0...0xff], "faddp/fmulp/fcompp/fsubrp/fsubp/fdivrp/fdivp")
        add(0xdf, [0xe8...0xf7], "fucomip/fcomip")
        return forms
    }()

    /// (name, escape, ModRM.reg, operand bytes) of the memory data forms, operand at [RDI] (r/m 111).
    static let memoryForms: [(String, UInt8, UInt8, Int)] = [
        ("fadd..fdivr m32fp", 0xd8, 0, 4), ("fmul m32fp", 0xd8, 1, 4), ("fcom m32fp", 0xd8, 2, 4),
        ("fcomp m32fp", 0xd8, 3, 4), ("fsub m32fp", 0xd8, 4, 4), ("fsubr m32fp", 0xd8, 5, 4),
        ("fdiv m32fp", 0xd8, 6, 4), ("fdivr m32fp", 0xd8, 7, 4),
        ("fld m32fp", 0xd9, 0, 4), ("fst m32fp", 0xd9, 2, 4), ("fstp m32fp", 0xd9, 3, 4),
        ("fiadd m32int", 0xda, 0, 4), ("fimul m32int", 0xda, 1, 4), ("ficom m32int", 0xda, 2, 4),
        ("ficomp m32int", 0xda, 3, 4), ("fisub m32int", 0xda, 4, 4), ("fisubr m32int", 0xda, 5, 4),
        ("fidiv m32int", 0xda, 6, 4), ("fidivr m32int", 0xda, 7, 4),
        ("fild m32int", 0xdb, 0, 4), ("fisttp m32int", 0xdb, 1, 4), ("fist m32int", 0xdb, 2, 4),
        ("fistp m32int", 0xdb, 3, 4), ("fld m80fp", 0xdb, 5, 10), ("fstp m80fp", 0xdb, 7, 10),
        ("fadd m64fp", 0xdc, 0, 8), ("fmul m64fp", 0xdc, 1, 8), ("fcom m64fp", 0xdc, 2, 8),
        ("fcomp m64fp", 0xdc, 3, 8), ("fsub m64fp", 0xdc, 4, 8), ("fsubr m64fp", 0xdc, 5, 8),
        ("fdiv m64fp", 0xdc, 6, 8), ("fdivr m64fp", 0xdc, 7, 8),
        ("fld m64fp", 0xdd, 0, 8), ("fisttp m64int", 0xdd, 1, 8), ("fst m64fp", 0xdd, 2, 8), ("fstp m64fp", 0xdd, 3, 8),
        ("fiadd m16int", 0xde, 0, 2), ("fimul m16int", 0xde, 1, 2), ("ficom m16int", 0xde, 2, 2),
        ("ficomp m16int", 0xde, 3, 2), ("fisub m16int", 0xde, 4, 2), ("fisubr m16int", 0xde, 5, 2),
        ("fidiv m16int", 0xde, 6, 2), ("fidivr m16int", 0xde, 7, 2),
        ("fild m16int", 0xdf, 0, 2), ("fisttp m16int", 0xdf, 1, 2), ("fist m16int", 0xdf, 2, 2),
        ("fistp m16int", 0xdf, 3, 2), ("fbld m80bcd", 0xdf, 4, 10), ("fild m64int", 0xdf, 5, 8),
        ("fbstp m80bcd", 0xdf, 6, 10), ("fistp m64int", 0xdf, 7, 8),
    ]

    /// Control forms compared whole: FNSTCW, FLDCW, FNSTSW m16 and AX, FNCLEX, FNINIT, FWAIT.
    static let controlForms: [(String, [UInt8])] = [
        ("fnstcw [rdi]", [0xd9, 0x3f]), ("fldcw [rdi]", [0xd9, 0x2f]), ("fnstsw [rdi]", [0xdd, 0x3f]),
        ("fnstsw ax", [0xdf, 0xe0]), ("fnclex", [0xdb, 0xe2]), ("fninit", [0xdb, 0xe3]), ("fwait", [0x9b]),
    ]

    /// The environment forms, 32-bit and (0x66) 16-bit formats: (name, encoding, bytes of the last-
    /// instruction and operand pointer fields to leave out, relative to the image at +64).
    static let environmentForms: [(String, [UInt8], Range<Int>)] = [
        ("fnstenv [rdi]", [0xd9, 0x37], 12..<28), ("fnstenv16 [rdi]", [0x66, 0xd9, 0x37], 6..<14),
        ("fldenv [rdi]", [0xd9, 0x27], 0..<0), ("fldenv16 [rdi]", [0x66, 0xd9, 0x27], 0..<0),
        ("fnsave [rdi]", [0xdd, 0x37], 12..<28), ("fnsave16 [rdi]", [0x66, 0xdd, 0x37], 6..<14),
        ("frstor [rdi]", [0xdd, 0x27], 0..<0), ("frstor16 [rdi]", [0x66, 0xdd, 0x27], 0..<0),
    ]

    func testEveryX87FormMatchesTheHostCPU() throws {
        let oracle = try NativeOracle(), subject = try SoftSubject()
        var forms = Self.registerForms + Self.controlForms
        forms += Self.memoryForms.map { ("\($0.0) [rdi]", [$0.1, $0.2 << 3 | 7]) }
        var cases = forms.map { ($0.0, $0.1, 0..<0) }
        cases += Self.environmentForms
        var compared = 0, failures = [String]()
        for mode in ExecutionMode.allCases {
            var rng = SeededGenerator(seed: Self.seed &+ (mode == .long64 ? 0 : 1))
            for (name, code, ignored) in cases {
                for _ in 0..<Self.casesPerForm {
                    let (state, data) = Self.randomCase(&rng, mode: mode)
                    var expected = try oracle.run(code: code, mode: mode, state: state, data: data)
                    try subject.load(code: code, instructionEnds: [code.count], data: data, state: state, mode: mode)
                    let result = try subject.step()
                    var (after, afterData) = try subject.observe()
                    for offset in ignored {
                        expected.data[64 + offset] = 0
                        afterData[64 + offset] = 0
                    }
                    compared += 1
                    if let difference = Self.difference(expected, result, after, afterData, mode: mode), failures.count < 20 {
                        failures.append("\(mode.rawValue) \(name): \(difference)\n  before: \(Self.describe(state.x87))")
                    }
                }
            }
        }
        print("x87 differential (seed \(Self.seed)): \(compared) cases, \(failures.count) mismatches")
        XCTAssertGreaterThan(compared, 0)
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    // MARK: states

    /// Special and random 80-bit values: (significand, sign and exponent).
    static func randomValue(_ rng: inout SeededGenerator) -> (UInt64, UInt16) {
        let sign: UInt16 = rng.chance(0.5) ? 0x8000 : 0
        let integerBit: UInt64 = 1 << 63
        switch rng.below(16) {
        case 0: return (0, sign) // zero
        case 1: return (rng.next() >> 1 | 1, sign) // denormal
        case 2: return (rng.next() | integerBit, sign) // pseudo-denormal
        case 3: return (rng.next() >> 1, sign | UInt16(1 + rng.below(0x7ffe))) // unnormal
        case 4: return (integerBit, sign | 0x7fff) // infinity
        case 5: return (0xc000_0000_0000_0000 | rng.next() >> 2, sign | 0x7fff) // QNaN
        case 6: return (integerBit | (rng.next() >> 2 | 1), sign | 0x7fff) // SNaN
        case 7: return (rng.next() >> 1, sign | 0x7fff) // pseudo-NaN / pseudo-infinity
        case 8: return (integerBit | rng.next(), sign | UInt16(1 + rng.below(0x7ffe))) // any normal
        case 9: return (integerBit | (rng.chance(0.5) ? 0 : rng.next() & 0xff), sign | UInt16(0x3fff - 2 + rng.below(5))) // near 1
        case 10:
            let exponents: [UInt16] = [1, 0x7ffe, 0x403e, 0x401e, 0x400e] // extremes, 2^63, 2^31, 2^15
            return (integerBit, sign | rng.pick(exponents))
        default: return (integerBit | rng.next(), sign | UInt16(0x3fff - 70 + rng.below(140))) // moderate
        }
    }

    static func randomCase(_ rng: inout SeededGenerator, mode: ExecutionMode) -> (MachineState, [UInt8]) {
        var state = MachineState()
        state.gpr = (0..<16).map { _ in rng.next() & mode.registerMask }
        state.gpr[4] = DifferentialLayout.dataAddress + UInt64(DifferentialLayout.pageSize) - 64
        state.gpr[7] = DifferentialLayout.dataAddress + 64
        state.rflags = 0x2 | (rng.next() & Flag.arithmetic)
        var image = [UInt8](repeating: 0, count: 160)
        // Precision 00/10/11 and rounding 00-11 (SDM vol. 1, 8.1.5); masks all set, or random.
        let precision = UInt16(rng.pick([0, 2, 3])) << 8, rounding = UInt16(rng.below(4)) << 10
        let masks: UInt16 = rng.chance(0.7) ? 0x3f : UInt16(rng.below(64))
        let control = 0x40 | masks | precision | rounding | (rng.chance(0.1) ? 0x1000 : 0)
        // Sticky flags only where masked (no exception pending), random TOP and condition codes.
        var flags = UInt16(rng.below(64)) & masks & (rng.chance(0.5) ? 0 : 0x3f)
        // Now and then an unmasked exception is pending (ES and B set): waiting instructions raise
        // #MF, the FN* ones run (SDM vol. 1, 8.6).
        if masks != 0x3f && rng.chance(0.2) { flags |= ~masks & 0x3f | 0x8080 }
        let status = flags | UInt16(rng.below(8)) << 11 | UInt16(rng.below(16)).conditionCodes
        image.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: control, toByteOffset: 0, as: UInt16.self)
            bytes.storeBytes(of: status, toByteOffset: 2, as: UInt16.self)
            bytes[4] = rng.chance(0.3) ? UInt8(truncatingIfNeeded: rng.next()) : rng.pick([0xff, 0x7f, 0xfe, 0x00, 0x01, 0x80, 0x03])
            for index in 0..<8 {
                let (significand, exponent) = randomValue(&rng)
                bytes.storeBytes(of: significand, toByteOffset: 32 + index * 16, as: UInt64.self)
                bytes.storeBytes(of: exponent, toByteOffset: 40 + index * 16, as: UInt16.self)
            }
        }
        state.x87 = image
        var data = (0..<DifferentialLayout.pageSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // The memory operand at +64: a special pattern of some width, or the random bytes.
        let special: [UInt8]
        switch rng.below(8) {
        case 0:
            let singles: [UInt32] = [0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7f80_0001, 1, 0x3f80_0000, 0x8000_0001]
            special = bytes(rng.pick(singles))
        case 1:
            let doubles: [UInt64] = [0, 1 << 63, 0x7ff0_0000_0000_0000, 0x7ff8_0000_0000_0000, 0x7ff0_0000_0000_0001, 1, 0x3ff0_0000_0000_0000]
            special = bytes(rng.pick(doubles))
        case 2:
            let words: [UInt16] = [0, 0x8000, 0x7fff, 0xffff, 1]
            special = bytes(rng.pick(words))
        case 3:
            let (significand, exponent) = randomValue(&rng)
            special = bytes(significand) + bytes(exponent)
        case 4: special = (0..<9).map { _ in UInt8(rng.below(10)) | UInt8(rng.below(10)) << 4 } + [rng.chance(0.5) ? 0x80 : 0] // BCD
        default: special = []
        }
        for (offset, byte) in special.enumerated() { data[64 + offset] = byte }
        return (state, data)
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    // MARK: comparison

    /// The x87 fields both sides define: FCW, FSW, abridged FTW (bytes 0-5) and ST0-ST7 (80 bits each).
    static func architecturalX87(_ image: [UInt8]) -> [UInt8] {
        guard image.count == 160 else { return image }
        return Array(image[0..<6]) + (0..<8).flatMap { image[32 + $0 * 16 ..< 42 + $0 * 16] }
    }

    static func difference(_ expected: Observation, _ result: StepResult, _ after: MachineState, _ data: [UInt8],
                           mode: ExecutionMode) -> String? {
        var expectedResult = expected.result
        if case let .exception(vector, _) = expected.result { expectedResult = .exception(vector: vector, errorCode: nil) }
        var actualResult = result
        if case let .exception(vector, _) = result { actualResult = .exception(vector: vector, errorCode: nil) }
        if expectedResult != actualResult { return "host \(expectedResult), soft \(actualResult)" }
        if architecturalX87(expected.state.x87) != architecturalX87(after.x87) {
            return "x87 state: host \(describe(expected.state.x87))\n  soft \(describe(after.x87))"
        }
        if expected.state.rflags & Flag.arithmetic != after.rflags & Flag.arithmetic {
            return "rflags: host \(hex(expected.state.rflags)), soft \(hex(after.rflags))"
        }
        if expected.state.gpr[0] & mode.registerMask != after.gpr[0] & mode.registerMask {
            return "rax: host \(hex(expected.state.gpr[0])), soft \(hex(after.gpr[0]))"
        }
        if expected.data != data {
            let offset = (0..<min(expected.data.count, data.count)).first { expected.data[$0] != data[$0] } ?? 0
            return "memory at +\(offset): host \(expected.data[offset..<min(offset + 10, data.count)].map { hex(UInt64($0)) }), soft \(data[offset..<min(offset + 10, data.count)].map { hex(UInt64($0)) })"
        }
        return nil
    }

    static func describe(_ image: [UInt8]) -> String {
        guard image.count == 160 else { return "(none)" }
        let word = { (offset: Int) in UInt16(image[offset]) | UInt16(image[offset + 1]) << 8 }
        let registers = (0..<8).map { index -> String in
            let base = 32 + index * 16
            let significand = (0..<8).reduce(UInt64(0)) { $0 | UInt64(image[base + $1]) << (8 * UInt64($1)) }
            return "st\(index)=\(String(word(base + 8), radix: 16)):\(String(significand, radix: 16))"
        }
        return "fcw=\(String(word(0), radix: 16)) fsw=\(String(word(2), radix: 16)) ftw=\(String(image[4], radix: 16)) " + registers.joined(separator: " ")
    }
}

private extension UInt16 {
    /// Four bits as C0 (bit 8), C1 (9), C2 (10) and C3 (14) of the status word.
    var conditionCodes: UInt16 { (self & 7) << 8 | (self & 8) << 11 }
}
