/// The xAPIC MMIO register page (SDM vol. 3, 10.4.1, table 10-1): 32-bit registers on 16-byte
/// boundaries.
extension LocalAPICState {
    /// What a register write asks the caller to do once the lock is released.
    struct WriteEffect {
        var command: InterruptCommand?
        var endedLevelVector: UInt8?
    }

    func readRegister(_ offset: UInt64, now: UInt64) -> UInt32 {
        switch offset {
        case 0x20: return UInt32(id) << 24
        case 0x30: return Self.version
        case 0x80: return UInt32(taskPriority)
        case 0x90: return UInt32(arbitrationPriority)
        case 0xA0: return UInt32(processorPriority)
        case 0xD0: return logicalDestination
        case 0xE0: return destinationFormat
        case 0xF0: return spuriousVector
        case 0x100...0x170: return inService.register(Int(offset - 0x100) >> 4)
        case 0x180...0x1F0: return levelTriggered.register(Int(offset - 0x180) >> 4)
        case 0x200...0x270: return requests.register(Int(offset - 0x200) >> 4)
        case 0x280: return errorStatus
        case 0x300: return commandLow
        case 0x310: return commandHigh
        case 0x380: return timer.initialCount
        case 0x390: return timer.currentCount(now: now, mode: timerMode)
        case 0x3E0: return timer.divideConfiguration
        default:
            if let entry = LocalVectorTable.Entry(rawValue: offset) { return lvt[entry] }
            return 0
        }
    }

    mutating func writeRegister(_ offset: UInt64, _ value: UInt32, now: UInt64) -> WriteEffect {
        var effect = WriteEffect()
        switch offset {
        case 0x20: id = UInt8(truncatingIfNeeded: value >> 24)
        case 0x80: taskPriority = UInt8(truncatingIfNeeded: value)
        case 0xB0: effect.endedLevelVector = endOfInterrupt()
        case 0xD0: logicalDestination = value & 0xFF00_0000
        case 0xE0: destinationFormat = value | 0x0FFF_FFFF
        case 0xF0: writeSpuriousVector(value)
        // A write latches the errors seen since the previous write (SDM vol. 3, 10.5.3).
        case 0x280:
            errorStatus = errorsSinceLatch
            errorsSinceLatch = 0
        case 0x300:
            commandLow = value & 0x000C_CFFF
            effect.command = command()
        case 0x310: commandHigh = value & 0xFF00_0000
        case 0x380: timer.load(value, now: now, mode: timerMode)
        case 0x3E0: timer.divideConfiguration = value & 0xB
        default:
            if let entry = LocalVectorTable.Entry(rawValue: offset) { writeLocalVector(entry, value) }
        }
        return effect
    }

    /// SVR: vector and software enable (bits 0-8) and focus checking (bit 9); disabling masks the LVT.
    private mutating func writeSpuriousVector(_ value: UInt32) {
        spuriousVector = value & 0x3FF
        if !softwareEnabled { lvt.maskAll() }
    }

    private mutating func writeLocalVector(_ entry: LocalVectorTable.Entry, _ value: UInt32) {
        let oldMode = timerMode
        var written = (lvt[entry] & ~entry.writable) | (value & entry.writable)
        if !softwareEnabled { written |= LocalVectorTable.maskBit }
        lvt[entry] = written
        guard entry == .timer else { return }
        timer.changeMode(from: oldMode, to: timerMode)
        // Owed expiries belong to the vector and mode they expired under.
        timer.forgetOwedExpiries()
    }

    /// The IPI the ICR now describes; a fixed IPI with an illegal vector is an error instead.
    private mutating func command() -> InterruptCommand? {
        guard let command = InterruptCommand(low: commandLow, high: commandHigh) else { return nil }
        let mode = command.message.deliveryMode
        if (mode == .fixed || mode == .lowestPriority) && command.message.vector < 16 {
            record(.sendIllegalVector)
            return nil
        }
        return command
    }
}
