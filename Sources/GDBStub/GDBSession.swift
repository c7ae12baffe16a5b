import VMMKit

/// One gdb connection's commands, answered against a `DebugTarget` (gdb manual, "Packets",
/// "General Query Packets", "Stop Reply Packets"). It knows packets, not sockets: `GDBServer`
/// feeds it and sends what it answers, so the tests can drive it with a fake target.
///
/// Threads are vCPUs: thread id N is vCPU N - 1 (gdb's 0 means "any" and -1 "all").
/// Malformed packets get an error reply (`E` and two digits), unknown ones the empty reply that
/// tells gdb a packet is not supported; nothing a client sends can trap.
public final class GDBSession {
    /// What the connection does after a packet.
    public enum Next: Equatable, Sendable {
        /// The machine stays stopped; read the next packet.
        case stopped
        /// The machine runs: wait for a stop (or Ctrl-C), then send `stopReply`.
        case running
        /// gdb detached: send the reply, close; the machine runs on without breakpoints.
        case detached
        /// gdb killed the machine: close without a reply.
        case killed
    }

    public struct Response: Equatable, Sendable {
        public var reply: [UInt8]?
        public var next: Next
    }

    private let target: any DebugTarget
    private let layout: GDBRegisterLayout
    private let description: [UInt8]
    public private(set) var acknowledges = true
    private var breakpoints = DebugBreakpoints()
    /// The vCPU that g, p, m and friends address (Hg), and the one a plain `s` steps (Hc).
    private var registerVCPU = 0
    private var resumeVCPU: Int?
    private var stop: DebugStop?
    /// Whether m/M/X address guest-physical memory (monitor memory physical) instead of linear.
    private var physicalAddressing = false

    public init(target: any DebugTarget, architecture: GDBArchitecture) {
        self.target = target
        layout = GDBRegisterLayout(architecture)
        description = Array(GDBTargetDescription.xml(layout).utf8)
    }

    /// The machine stopped (`stop`); the reply to send gdb for it. `byUser` is a Ctrl-C, reported as
    /// SIGINT as QEMU does; every other stop is SIGTRAP.
    public func stopped(_ stop: DebugStop, byUser: Bool = false) -> [UInt8] {
        self.stop = stop
        registerVCPU = stop.vcpu
        return Array(stopReply(stop, byUser: byUser).utf8)
    }

    private func stopReply(_ stop: DebugStop, byUser: Bool) -> String {
        var reply = (byUser ? "T02" : "T05") + "thread:\(String(stop.vcpu + 1, radix: 16));"
        switch stop.reason {
        case .interrupted, .singleStep: break
        case .softwareBreakpoint: reply += "swbreak:;"
        case .hardwareBreakpoint: reply += "hwbreak:;"
        case let .watchpoint(kind, address):
            let name: String
            switch kind {
            case .write: name = "watch"
            case .read: name = "rwatch"
            case .access: name = "awatch"
            }
            reply += "\(name):\(String(address, radix: 16));"
        }
        return reply
    }

    // MARK: dispatch

    public func handle(_ packet: [UInt8]) -> Response {
        guard let first = packet.first else { return reply("") }
        let body = packet.dropFirst()
        switch first {
        case UInt8(ascii: "?"): return reply(stop.map { stopReply($0, byUser: false) } ?? "S05")
        case UInt8(ascii: "g"): return reply(readAllRegisters())
        case UInt8(ascii: "G"): return reply(writeAllRegisters(body))
        case UInt8(ascii: "p"): return reply(readRegister(body))
        case UInt8(ascii: "P"): return reply(writeRegister(body))
        case UInt8(ascii: "m"): return reply(readMemory(body))
        case UInt8(ascii: "M"): return reply(writeMemory(body, binary: false))
        case UInt8(ascii: "X"): return reply(writeMemory(body, binary: true))
        case UInt8(ascii: "c"), UInt8(ascii: "s"):
            return resume(stepping: first == UInt8(ascii: "s") ? (resumeVCPU ?? registerVCPU) : nil, address: body)
        case UInt8(ascii: "C"), UInt8(ascii: "S"):
            // A signal means nothing to a machine; only the optional ";addr" counts.
            let address = body.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first ?? []
            return resume(stepping: first == UInt8(ascii: "S") ? (resumeVCPU ?? registerVCPU) : nil, address: address)
        case UInt8(ascii: "Z"), UInt8(ascii: "z"): return reply(changeBreakpoint(body, insert: first == UInt8(ascii: "Z")))
        case UInt8(ascii: "H"): return reply(selectThread(body))
        case UInt8(ascii: "T"): return reply(thread(body).map { $0 == nil || $0! < target.vcpuCount ? "OK" : "E02" } ?? "E01")
        case UInt8(ascii: "D"): return detach()
        case UInt8(ascii: "k"): return Response(reply: nil, next: .killed)
        case UInt8(ascii: "q"), UInt8(ascii: "Q"): return reply(query(String(decoding: packet, as: UTF8.self)))
        case UInt8(ascii: "v"): return verbose(String(decoding: packet, as: UTF8.self))
        default: return reply("")
        }
    }

    private func reply(_ text: String) -> Response { Response(reply: Array(text.utf8), next: .stopped) }
    private func reply(_ bytes: [UInt8]) -> Response { Response(reply: bytes, next: .stopped) }

    // MARK: threads

    /// A thread id: nil for "any" (0) or "all" (-1), else the vCPU index; outer nil if malformed.
    private func thread(_ text: some Collection<UInt8>) -> Int?? {
        if text.elementsEqual("-1".utf8) { return .some(nil) }
        guard let number = GDBHex.number(text) else { return nil }
        if number == 0 { return .some(nil) }
        guard number <= UInt64(Int32.max) else { return nil }
        return .some(Int(number) - 1)
    }

    private func selectThread(_ body: ArraySlice<UInt8>) -> String {
        guard let operation = body.first, let selected = thread(body.dropFirst()) else { return "E01" }
        if let vcpu = selected, vcpu >= target.vcpuCount { return "E02" }
        switch operation {
        case UInt8(ascii: "g"): registerVCPU = selected ?? stop?.vcpu ?? 0
        case UInt8(ascii: "c"): resumeVCPU = selected
        default: return "E01"
        }
        return "OK"
    }

    // MARK: registers

    private func readAllRegisters() -> String {
        guard let file = try? target.registers(of: registerVCPU) else { return "E03" }
        return layout.registers.map { layout.read($0, from: file) }.joined()
    }

    /// G: registers in order; a shorter packet sets the first ones (gdb may send fewer). `x`s (a
    /// register gdb never had) leave the register alone.
    private func writeAllRegisters(_ body: ArraySlice<UInt8>) -> String {
        guard var file = try? target.registers(of: registerVCPU) else { return "E03" }
        var rest = body
        for register in layout.registers where !rest.isEmpty {
            let digits = rest.prefix(register.bytes * 2)
            rest = rest.dropFirst(register.bytes * 2)
            if digits.allSatisfy({ $0 == UInt8(ascii: "x") }) { continue }
            guard let bytes = GDBHex.decode(digits), layout.write(register, bytes, into: &file) else { return "E01" }
        }
        return (try? target.setRegisters(file, of: registerVCPU)) != nil ? "OK" : "E03"
    }

    private func register(_ text: some Collection<UInt8>) -> GDBRegister? {
        guard let number = GDBHex.number(text), number < UInt64(layout.registers.count) else { return nil }
        return layout.registers[Int(number)]
    }

    private func readRegister(_ body: ArraySlice<UInt8>) -> String {
        guard let register = register(body) else { return "E01" }
        guard let file = try? target.registers(of: registerVCPU) else { return "E03" }
        return layout.read(register, from: file)
    }

    private func writeRegister(_ body: ArraySlice<UInt8>) -> String {
        let parts = body.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let register = register(parts[0]), let bytes = GDBHex.decode(parts[1]) else { return "E01" }
        guard var file = try? target.registers(of: registerVCPU) else { return "E03" }
        guard layout.write(register, bytes, into: &file) else { return "E01" }
        return (try? target.setRegisters(file, of: registerVCPU)) != nil ? "OK" : "E03"
    }

    // MARK: memory

    /// "addr,length" as two hex numbers, and what follows a ':' if `data` (for M and X).
    private static func addressAndLength(_ text: ArraySlice<UInt8>, data: Bool) -> (UInt64, Int, ArraySlice<UInt8>)? {
        let head: ArraySlice<UInt8>, rest: ArraySlice<UInt8>
        if data {
            guard let colon = text.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            (head, rest) = (text[..<colon], text[(colon + 1)...])
        } else {
            (head, rest) = (text, [])
        }
        let parts = head.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count == 2, let address = GDBHex.number(parts[0]), let length = GDBHex.number(parts[1]),
              length <= UInt64(GDBPacketReader.maximumPayload) else { return nil }
        return (address, Int(length), rest)
    }

    private func readMemory(_ body: ArraySlice<UInt8>) -> String {
        guard let (address, length, _) = Self.addressAndLength(body, data: false) else { return "E01" }
        // A reply carries two digits a byte: the most that fits in gdb's packet.
        let count = min(length, GDBPacketReader.maximumPayload / 2)
        let bytes = physicalAddressing
            ? target.readPhysical(at: address, count: count)
            : (try? target.readLinear(at: address, count: count, vcpu: registerVCPU)) ?? []
        guard !bytes.isEmpty || count == 0 else { return "E14" }
        return String(decoding: GDBHex.encode(bytes), as: UTF8.self)
    }

    private func writeMemory(_ body: ArraySlice<UInt8>, binary: Bool) -> String {
        guard let (address, length, data) = Self.addressAndLength(body, data: true) else { return "E01" }
        guard let bytes = binary ? Array(data) : GDBHex.decode(data), bytes.count == length else { return "E01" }
        if bytes.isEmpty { return "OK" } // gdb's probe for X support
        let written = physicalAddressing
            ? target.writePhysical(bytes, at: address)
            : (try? target.writeLinear(bytes, at: address, vcpu: registerVCPU)) ?? false
        return written ? "OK" : "E14"
    }

    // MARK: breakpoints

    /// Z/z type,addr,kind[;conditions]: 0 software, 1 hardware, 2 write, 3 read, 4 access watchpoints.
    private func changeBreakpoint(_ body: ArraySlice<UInt8>, insert: Bool) -> String {
        let head = body.split(separator: UInt8(ascii: ";"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        let parts = head.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 1, let type = GDBHex.digit(parts[0].first!),
              let address = GDBHex.number(parts[1]), let kind = GDBHex.number(parts[2]) else { return "E01" }
        switch type {
        case 0:
            if insert { breakpoints.software.insert(address) } else { breakpoints.software.remove(address) }
        case 1:
            if insert {
                guard breakpoints.hardware.contains(address) || breakpoints.hasFreeHardwareSlot else { return "E28" }
                breakpoints.hardware.insert(address)
            } else {
                breakpoints.hardware.remove(address)
            }
        case 2, 3, 4:
            guard (1...8).contains(kind) else { return "E01" }
            let watchpoint = Watchpoint(address: address, length: kind, kind: type == 2 ? .write : type == 3 ? .read : .access)
            if insert {
                guard !breakpoints.watchpoints.contains(watchpoint) else { return "OK" }
                guard breakpoints.hasFreeHardwareSlot, target.supports(watchpoint) else { return "E28" }
                breakpoints.watchpoints.insert(watchpoint)
            } else {
                breakpoints.watchpoints.remove(watchpoint)
            }
        default:
            return ""
        }
        return "OK"
    }

    // MARK: running

    private func resume(stepping: Int?, address: some Collection<UInt8>) -> Response {
        let vcpu = stepping ?? registerVCPU
        if !address.isEmpty {
            guard let rip = GDBHex.number(address), var file = try? target.registers(of: vcpu) else { return reply("E01") }
            file.general.rip = rip
            guard (try? target.setRegisters(file, of: vcpu)) != nil else { return reply("E03") }
        }
        return run(stepping: stepping)
    }

    private func run(stepping: Int?) -> Response {
        do {
            try target.resume(stepping: stepping, breakpoints: breakpoints)
        } catch {
            return reply("E03")
        }
        stop = nil
        return Response(reply: nil, next: .running)
    }

    /// vCont;action[:thread]... (gdb manual, "vCont"): a step action for one vCPU steps it alone,
    /// the others staying stopped (as QEMU does); otherwise every vCPU continues.
    private func resumeByActions(_ actions: Substring) -> Response {
        var stepping: Int?
        for action in actions.split(separator: ";") {
            let parts = action.split(separator: ":", maxSplits: 1)
            guard let letter = parts.first?.first, "cCsS".contains(letter) else { return reply("E01") }
            guard letter == "s" || letter == "S" else { continue }
            if parts.count == 2 {
                guard let selected = thread(Array(parts[1].utf8)) else { return reply("E01") }
                if let vcpu = selected, vcpu >= target.vcpuCount { return reply("E02") }
                stepping = stepping ?? selected ?? registerVCPU
            } else {
                stepping = stepping ?? registerVCPU
            }
        }
        return run(stepping: stepping)
    }

    private func detach() -> Response {
        breakpoints = DebugBreakpoints()
        let resumed = (try? target.resume(stepping: nil, breakpoints: breakpoints)) != nil
        return Response(reply: Array((resumed ? "OK" : "E03").utf8), next: .detached)
    }

    // MARK: queries

    private func query(_ packet: String) -> String {
        let name = packet.prefix { $0 != ":" && $0 != "," }
        switch name {
        case "qSupported":
            return "PacketSize=\(String(GDBPacketReader.maximumPayload, radix: 16));qXfer:features:read+;"
                + "QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+"
        case "QStartNoAckMode":
            acknowledges = false
            return "OK"
        case "qXfer":
            return transferFeatures(packet)
        case "qfThreadInfo":
            return "m" + (1...target.vcpuCount).map { String($0, radix: 16) }.joined(separator: ",")
        case "qsThreadInfo":
            return "l"
        case "qC":
            return "QC" + String(registerVCPU + 1, radix: 16)
        case "qAttached":
            return "1" // gdb's detach, not kill, when it quits
        case "qThreadExtraInfo":
            guard let id = thread(Array(packet.dropFirst(name.count + 1).utf8)), let vcpu = id, vcpu < target.vcpuCount else { return "E01" }
            return GDBHex.encode("vCPU \(vcpu)")
        case "qRcmd":
            guard let command = GDBHex.decode(Array(packet.dropFirst(name.count + 1).utf8)) else { return "E01" }
            return GDBHex.encode(monitor(String(decoding: command, as: UTF8.self)))
        case "qSymbol":
            return "OK"
        default:
            return ""
        }
    }

    /// qXfer:features:read:target.xml:offset,length → "m" and a piece, or "l" and the last one.
    private func transferFeatures(_ packet: String) -> String {
        let fields = packet.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[1] == "features", fields[2] == "read" else { return "" }
        guard fields[3] == "target.xml" else { return "E00" }
        let range = fields[4].split(separator: ",", omittingEmptySubsequences: false)
        guard range.count == 2, let offset = GDBHex.number(Array(range[0].utf8)), let length = GDBHex.number(Array(range[1].utf8)) else {
            return "E01"
        }
        guard offset <= UInt64(description.count) else { return "E01" }
        let start = Int(offset)
        let end = start + Int(min(length, UInt64(GDBPacketReader.maximumPayload - 1), UInt64(description.count - start)))
        let piece = String(decoding: description[start..<end], as: UTF8.self)
        return (end == description.count ? "l" : "m") + piece
    }

    private func verbose(_ packet: String) -> Response {
        if packet == "vCont?" { return reply("vCont;c;C;s;S") }
        if packet.hasPrefix("vCont;") { return resumeByActions(packet.dropFirst("vCont;".count)) }
        if packet.hasPrefix("vKill") { return Response(reply: Array("OK".utf8), next: .killed) }
        return reply("") // vMustReplyEmpty and everything not supported
    }

    // MARK: monitor

    /// gdb's `monitor` commands (qRcmd): what the target description cannot show, and physical
    /// memory.
    func monitor(_ command: String) -> String {
        let words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { return Self.monitorHelp }
        func number(_ index: Int) -> UInt64? {
            guard index < words.count else { return nil }
            let text = words[index].hasPrefix("0x") ? String(words[index].dropFirst(2)) : words[index]
            return GDBHex.number(Array(text.utf8))
        }
        switch verb {
        case "phys":
            guard let address = number(1) else { return "usage: phys ADDRESS [LENGTH] (hexadecimal)\n" }
            let length = Int(min(number(2) ?? 0x40, 0x1000))
            let bytes = target.readPhysical(at: address, count: length)
            if bytes.isEmpty { return "guest-physical 0x\(String(address, radix: 16)) is not RAM\n" }
            return Self.hexDump(bytes, at: address)
        case "translate":
            guard let linear = number(1) else { return "usage: translate LINEAR-ADDRESS (hexadecimal)\n" }
            guard let physical = try? target.translate(linear, vcpu: registerVCPU) else {
                return "0x\(String(linear, radix: 16)) is not mapped by vCPU \(registerVCPU)'s page tables\n"
            }
            return "linear 0x\(String(linear, radix: 16)) -> guest-physical 0x\(String(physical, radix: 16))\n"
        case "memory" where words.count == 2 && (words[1] == "physical" || words[1] == "linear"):
            physicalAddressing = words[1] == "physical"
            return "gdb's memory accesses now use \(words[1]) addresses\n"
        case "sregs":
            guard let file = try? target.registers(of: registerVCPU) else { return "registers unavailable\n" }
            return Self.systemRegisterText(file.system)
        default:
            return Self.monitorHelp
        }
    }

    static let monitorHelp = """
        vmm monitor commands:
          phys ADDRESS [LENGTH]     dump guest-physical memory (hexadecimal, default 0x40 bytes)
          translate ADDRESS         a linear address through the current thread's page tables
          memory physical|linear    what addresses gdb's x, print and set use (default linear)
          sregs                     segment caches, descriptor tables, control registers, EFER

        """

    private static func hexDump(_ bytes: [UInt8], at address: UInt64) -> String {
        stride(from: 0, to: bytes.count, by: 16).map { offset in
            let row = bytes[offset..<min(offset + 16, bytes.count)]
            let hex = row.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            return String(address &+ UInt64(offset), radix: 16) + ": " + hex + "\n"
        }.joined()
    }

    private static func systemRegisterText(_ system: SystemRegisters) -> String {
        func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
        let segments: [(String, SegmentRegister)] = [("cs", system.cs), ("ss", system.ss), ("ds", system.ds), ("es", system.es),
                                                     ("fs", system.fs), ("gs", system.gs), ("tr", system.tr), ("ldtr", system.ldt)]
        var text = segments.map { name, segment in
            "\(name) selector \(hex(UInt64(segment.selector))) base \(hex(segment.base)) limit \(hex(UInt64(segment.limit))) "
                + "type \(segment.type) dpl \(segment.dpl)\(segment.long ? " L" : "")\(segment.db ? " D" : "")"
                + "\(segment.present ? "" : " not-present")\n"
        }.joined()
        text += "gdtr base \(hex(system.gdt.base)) limit \(hex(UInt64(system.gdt.limit)))\n"
        text += "idtr base \(hex(system.idt.base)) limit \(hex(UInt64(system.idt.limit)))\n"
        text += "cr0 \(hex(system.cr0)) cr2 \(hex(system.cr2)) cr3 \(hex(system.cr3)) cr4 \(hex(system.cr4)) cr8 \(hex(system.cr8))\n"
        text += "efer \(hex(system.efer)) apic_base \(hex(system.apicBase))\n"
        return text
    }
}
