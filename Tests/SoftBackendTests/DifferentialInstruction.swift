/// One instruction with the input constraints it needs. Everything it leaves is compared with the
/// host, flags and results the SDM leaves undefined included: the Soft CPU takes those from the host
/// too, so an instruction leaves the same state interpreted, translated and on the host.
struct Instruction {
    var name: String
    var form: InstructionForm
    /// Fits the random input state to the instruction: operand values under test in memory,
    /// pointers into the data page, counts, condition flags.
    var prepare: (inout MachineState, inout [UInt8], inout SeededGenerator) -> Void = { _, _, _ in }
    /// False for forms whose registers must keep their prepared values (addresses, stack, string
    /// counts): random sequences leave them out.
    var sequenceSafe = true
}

/// A family member at a fixed form and operand size, making instances with random operands.
struct InstructionTemplate {
    let name: String
    let modes: [ExecutionMode]
    let make: (inout SeededGenerator, ExecutionMode) -> Instruction

    init(_ name: String, modes: [ExecutionMode] = ExecutionMode.allCases,
         make: @escaping (inout SeededGenerator, ExecutionMode) -> Instruction) {
        self.name = name
        self.modes = modes
        self.make = make
    }
}

/// Where an operand lives, to read and plant values.
enum OperandLocation {
    case register(Int)
    /// AH, CH, DH or BH: bits 8-15 of register `number` (0-3).
    case highByte(Int)
    case memory(offset: Int)
    case immediate(UInt64)

    func read(_ size: OperandSize, _ state: MachineState, _ data: [UInt8]) -> UInt64 {
        switch self {
        case let .register(number): return state.gpr[number] & size.mask
        case let .highByte(number): return (state.gpr[number] >> 8) & 0xff
        case let .memory(offset):
            return (0..<size.bytes).reduce(UInt64(0)) { $0 | UInt64(data[offset + $1]) << UInt64(8 * $1) }
        case let .immediate(value): return value & size.mask
        }
    }

    func plant(_ value: UInt64, _ size: OperandSize, _ state: inout MachineState, _ data: inout [UInt8]) {
        switch self {
        case let .register(number): state.gpr[number] = (state.gpr[number] & ~size.mask) | (value & size.mask)
        case let .highByte(number): state.gpr[number] = (state.gpr[number] & ~0xff00) | ((value & 0xff) << 8)
        case let .memory(offset):
            for byte in 0..<size.bytes { data[offset + byte] = UInt8(truncatingIfNeeded: value >> UInt64(8 * byte)) }
        case .immediate: break
        }
    }
}

/// Chosen operands for a ModRM instruction: the r/m operand, the reg operand, and whether a REX
/// byte is present (which decides AH versus SPL for byte registers 4-7).
struct ModRMOperands {
    var rm: ModRMOperand
    var rmLocation: OperandLocation
    var reg: Int
    var regLocation: OperandLocation
    var forceREX: Bool

    /// Random operands for `size`; `memory` picks the r/m kind.
    init(_ rng: inout SeededGenerator, _ mode: ExecutionMode, _ size: OperandSize, memory: Bool,
         alignment: Int = 1, rexW: Bool = false) {
        reg = rng.register(mode)
        forceREX = mode == .long64 && size == .byte && rng.chance(0.5)
        if memory {
            let offset = rng.dataOffset(bytes: max(size.bytes, 1), alignment: alignment)
            rm = .data(offset: offset)
            rmLocation = .memory(offset: offset)
        } else {
            let number = rng.register(mode)
            rm = .register(number)
            rmLocation = .register(number)
        }
        regLocation = .register(reg)
        guard size == .byte else { return }
        let rmNumber: Int
        if case let .register(number) = rm { rmNumber = number } else { rmNumber = 0 }
        let hasREX = forceREX || rexW || reg >= 8 || rmNumber >= 8
        if !hasREX {
            if (4...7).contains(reg) { regLocation = .highByte(reg - 4) }
            if case .register = rm, (4...7).contains(rmNumber) { rmLocation = .highByte(rmNumber - 4) }
        }
    }
}
