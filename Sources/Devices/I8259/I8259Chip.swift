/// One 8259A programmable interrupt controller: registers and priority logic, no locking (the pair
/// that owns two of them locks). Behaviour per the Intel 8259A data sheet (order 231468).
struct I8259Chip {
    /// Interrupt request register: inputs asking for service.
    var requests: UInt8 = 0
    /// In-service register: interrupts acknowledged and not yet ended by an EOI.
    var inService: UInt8 = 0
    /// Interrupt mask register (OCW1).
    var mask: UInt8 = 0
    /// Input levels as last driven, for edge detection.
    var inputLevels: UInt8 = 0
    /// Edge/level control (the PIIX ELCR at 0x4d0/0x4d1): a 1 bit makes that input level triggered.
    var levelTriggered: UInt8 = 0
    /// ELCR bits the chipset lets software change (IRQ 0, 1, 2, 8 and 13 are always edge).
    let levelTriggerableInputs: UInt8
    /// The input with the highest priority is `lowestPriorityInput + 1` (mod 8): rotation moves it.
    var lowestPriorityInput: UInt8 = 7
    /// ICW2: vector of input 0; inputs add their number.
    var vectorBase: UInt8 = 0
    /// ICW1 LTIM: every input level triggered.
    var allLevelTriggered = false
    var readsInService = false
    var pollPending = false
    var specialMaskMode = false
    var autoEndOfInterrupt = false
    var rotateOnAutoEndOfInterrupt = false
    var specialFullyNested = false
    var singleMode = false
    var expectsICW4 = false
    /// Which initialization word port 1 expects next, or `.none` once initialized.
    var initialization = InitializationStep.none
    /// Set on the master only: input 2 carries the slave.
    let isMaster: Bool

    enum InitializationStep {
        case none, icw2, icw3, icw4
    }

    init(isMaster: Bool) {
        self.isMaster = isMaster
        levelTriggerableInputs = isMaster ? 0xF8 : 0xDE
    }

    private func isLevelTriggered(_ input: UInt8) -> Bool {
        allLevelTriggered || levelTriggered & (1 << input) != 0
    }

    /// Drives input `input` (0...7). Edge inputs latch a rising edge; level inputs follow the line.
    mutating func setInput(_ input: UInt8, high: Bool) {
        let bit: UInt8 = 1 << input
        if isLevelTriggered(input) {
            if high { requests |= bit } else { requests &= ~bit }
        } else if high && inputLevels & bit == 0 {
            requests |= bit
        }
        if high { inputLevels |= bit } else { inputLevels &= ~bit }
    }

    /// Priority rank of the highest-priority set bit of `bits` (0 = highest), or 8 if none.
    private func rank(of bits: UInt8) -> UInt8 {
        guard bits != 0 else { return 8 }
        for rank in UInt8(0)..<8 where bits & (1 << ((rank &+ lowestPriorityInput &+ 1) & 7)) != 0 {
            return rank
        }
        return 8
    }

    private func input(ofRank rank: UInt8) -> UInt8 { (rank &+ lowestPriorityInput &+ 1) & 7 }

    /// The input the chip would interrupt for now, honouring masks, in-service priorities, special
    /// mask mode (masked levels do not block lower ones) and special fully nested mode (the slave
    /// input of the master may interrupt itself again).
    var pendingInput: UInt8? {
        let candidates = requests & ~mask
        let best = rank(of: candidates)
        guard best < 8 else { return nil }
        var blocking = specialMaskMode ? inService & ~mask : inService
        if isMaster && specialFullyNested { blocking &= ~(1 << 2) }
        return best < rank(of: blocking) ? input(ofRank: best) : nil
    }

    /// The INT output pin.
    var interruptOutput: Bool { pendingInput != nil }

    /// The INTA (or poll) side effects of serving `input`: it enters service unless in auto-EOI mode,
    /// and an edge request is consumed (a level request stays while the line is high).
    mutating func acknowledge(_ input: UInt8) {
        let bit: UInt8 = 1 << input
        if autoEndOfInterrupt {
            if rotateOnAutoEndOfInterrupt { lowestPriorityInput = input }
        } else {
            inService |= bit
        }
        if !isLevelTriggered(input) { requests &= ~bit }
    }

    // MARK: Registers

    /// Port 0 writes: ICW1 (bit 4), OCW3 (bit 3) or OCW2.
    mutating func writeCommand(_ value: UInt8) {
        if value & 0x10 != 0 {
            initialize(icw1: value)
        } else if value & 0x08 != 0 {
            writeOCW3(value)
        } else {
            writeOCW2(value)
        }
    }

    /// Port 1 writes: the next initialization word, else OCW1 (the mask).
    mutating func writeData(_ value: UInt8) {
        switch initialization {
        case .none:
            mask = value
        case .icw2:
            vectorBase = value & 0xF8
            initialization = singleMode ? (expectsICW4 ? .icw4 : .none) : .icw3
        case .icw3:
            // The cascade wiring is fixed on a PC (slave on master input 2).
            initialization = expectsICW4 ? .icw4 : .none
        case .icw4:
            autoEndOfInterrupt = value & 0x02 != 0
            specialFullyNested = value & 0x10 != 0
            initialization = .none
        }
    }

    /// ICW1 resets the chip: mask and service state cleared, IR7 lowest priority, IRR selected for
    /// reading, special mask mode off, edge latches cleared (data sheet, "Initialization Command Words").
    private mutating func initialize(icw1: UInt8) {
        let keptLevels = levelTriggered
        self = I8259Chip(isMaster: isMaster)
        levelTriggered = keptLevels
        allLevelTriggered = icw1 & 0x08 != 0
        singleMode = icw1 & 0x02 != 0
        expectsICW4 = icw1 & 0x01 != 0
        initialization = .icw2
    }

    /// OCW2: end of interrupt and rotation commands (R, SL, EOI bits 7:5).
    private mutating func writeOCW2(_ value: UInt8) {
        let level = value & 7
        switch value >> 5 {
        case 0b000: rotateOnAutoEndOfInterrupt = false
        case 0b100: rotateOnAutoEndOfInterrupt = true
        case 0b001, 0b101:
            let highest = rank(of: inService)
            guard highest < 8 else { return }
            let input = input(ofRank: highest)
            inService &= ~(1 << input)
            if value >> 5 == 0b101 { lowestPriorityInput = input }
        case 0b011:
            inService &= ~(1 << level)
        case 0b111:
            inService &= ~(1 << level)
            lowestPriorityInput = level
        case 0b110:
            lowestPriorityInput = level
        default:
            break
        }
    }

    /// OCW3: special mask mode (ESMM/SMM), poll, and which register port 0 reads (RR/RIS).
    private mutating func writeOCW3(_ value: UInt8) {
        if value & 0x40 != 0 { specialMaskMode = value & 0x20 != 0 }
        if value & 0x04 != 0 { pollPending = true }
        if value & 0x02 != 0 { readsInService = value & 0x01 != 0 }
    }

    /// Port 0 read without a poll: IRR or ISR as OCW3 chose.
    var statusRead: UInt8 { readsInService ? inService : requests }

    /// Writes the ELCR, keeping the bits the chipset fixes at edge.
    mutating func writeLevelTriggered(_ value: UInt8) {
        levelTriggered = value & levelTriggerableInputs
    }
}
