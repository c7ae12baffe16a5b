import VMMKit

/// Every vCPU's local APIC, as one device: the xAPIC MMIO page (each vCPU reaches its own APIC at
/// the same address), IA32_APIC_BASE and IA32_TSC_DEADLINE, CPUID's APIC bits, and the APIC bus
/// that carries IPIs and IOAPIC messages between them.
///
/// The MMIO claim is the whole 0xFEE00000-0xFEEFFFFF interrupt window, because buses are frozen
/// while the guest runs: a guest may relocate its APIC page (IA32_APIC_BASE) anywhere inside that
/// window. A page relocated outside it is not reachable by MMIO.
public final class LocalAPICs: Device, BusDevice, MSRHandler, CPUIDHook, @unchecked Sendable {
    public static let window: ClosedRange<UInt64> = 0xFEE0_0000...0xFEEF_FFFF
    static let apicBaseMSR: UInt32 = 0x1B
    static let tscDeadlineMSR: UInt32 = 0x6E0

    public let name: String
    public let apics: [LocalAPIC]
    /// Called when vCPU `index` has something new to take; `attach` sets it to `Machine.kick`.
    public var kick: (@Sendable (Int) -> Void)?
    /// A level-triggered vector was ended by EOI: the board passes it to the IOAPIC (SDM vol. 3, 10.8.5).
    public var endOfInterruptBroadcast: (@Sendable (UInt8) -> Void)?
    /// `--pv` leaves PV EOI on: the MSR is claimed and CPUID shows KVM_FEATURE_PV_EOI.
    private var offersParavirtualEOI = false
    /// The machine's CPUID hooks, which know where KVM's leaves sit once every device is attached
    /// (a Xen device attached later moves them).
    private weak var cpuidHooks: CPUIDHooks?

    public init(name: String = "lapic", vcpuCount: Int, timers: DeviceTimers) {
        self.name = name
        var apics: [LocalAPIC] = []
        let kickBox = KickForwarder()
        for index in 0..<max(vcpuCount, 1) {
            apics.append(LocalAPIC(index: index, timers: timers) { kickBox.forward(index) })
        }
        self.apics = apics
        kickBox.owner = self
    }

    public func attach(to machine: Machine) throws {
        try machine.mmio.claim(
            base: Self.window.lowerBound, length: Self.window.upperBound - Self.window.lowerBound + 1,
            by: self, name: name)
        try machine.msrs.claim(Self.apicBaseMSR...Self.apicBaseMSR, by: self, name: "\(name) IA32_APIC_BASE")
        try machine.msrs.claim(Self.tscDeadlineMSR...Self.tscDeadlineMSR, by: self, name: "\(name) IA32_TSC_DEADLINE")
        if machine.paravirtual.contains(.pvEOI) {
            offersParavirtualEOI = true
            let msr = KVMParavirtualMSR.pvEOIEnable
            try machine.msrs.claim(msr...msr, by: self, name: "\(name) MSR_KVM_PV_EOI_EN")
        }
        for apic in apics { apic.memory = machine.memory }
        machine.cpuid.register(self)
        cpuidHooks = machine.cpuid
        if kick == nil { kick = { [weak machine] in machine?.kick(vcpu: $0) } }
    }

    public func reset() { apics.forEach { $0.reset() } }

    public func apic(_ vcpu: Int) -> LocalAPIC? { apics.indices.contains(vcpu) ? apics[vcpu] : nil }

    // MARK: APIC bus

    /// Delivers an IOAPIC message to the APICs it addresses.
    public func deliver(_ message: APICMessage) { route(message, shorthand: .none, source: nil) }

    /// Fixed and NMI/INIT/SIPI messages reach every addressed APIC; lowest priority reaches the one
    /// with the lowest arbitration priority (SDM vol. 3, 10.6.2.4), the lowest index on a tie.
    private func route(_ message: APICMessage, shorthand: InterruptCommand.Shorthand, source: Int?) {
        func isTarget(_ apic: LocalAPIC) -> Bool {
            switch shorthand {
            case .none: return apic.matches(destination: message.destination, logical: message.logicalDestination)
            case .this: return apic.index == source
            case .allIncludingSelf: return true
            case .allExcludingSelf: return apic.index != source
            }
        }
        guard message.deliveryMode == .lowestPriority else {
            for apic in apics where isTarget(apic) { apic.receive(message) }
            return
        }
        var chosen: LocalAPIC?
        var chosenPriority = UInt8.max
        for apic in apics where isTarget(apic) {
            let priority = apic.arbitrationPriority
            if chosen == nil || priority < chosenPriority {
                chosen = apic
                chosenPriority = priority
            }
        }
        chosen?.receive(message)
    }

    // MARK: MMIO (SDM vol. 3, 10.4.1)

    public func read(_ access: BusAccess) -> UInt64 {
        let allOnes: UInt64 = access.size >= 8 ? .max : (1 << UInt64(access.size * 8)) &- 1
        guard let apic = apic(access.vcpu), let offset = apic.pageOffset(of: access.address) else { return allOnes }
        guard offset & 0xF < 4 else { return 0 }
        let register = UInt64(apic.readRegister(offset & ~0xF))
        return (register >> ((offset & 3) * 8)) & allOnes
    }

    /// Registers take aligned 32-bit writes only (SDM vol. 3, 10.4.1); others are dropped.
    public func write(_ access: BusAccess, value: UInt64) {
        guard let apic = apic(access.vcpu), let offset = apic.pageOffset(of: access.address),
              offset & 0xF == 0, access.size == 4 else { return }
        let effect = apic.writeRegister(offset, UInt32(truncatingIfNeeded: value))
        if let command = effect.command { route(command.message, shorthand: command.shorthand, source: apic.index) }
        if let vector = effect.endedLevelVector { endOfInterruptBroadcast?(vector) }
    }

    // MARK: MSRs and CPUID

    public func readMSR(_ index: UInt32, vcpu: Int) -> UInt64? {
        guard let apic = apic(vcpu) else { return nil }
        switch index {
        case Self.apicBaseMSR: return apic.baseRegister
        case Self.tscDeadlineMSR: return apic.tscDeadline
        case KVMParavirtualMSR.pvEOIEnable: return apic.paravirtualEOIRegister
        default: return nil
        }
    }

    public func writeMSR(_ index: UInt32, value: UInt64, vcpu: Int, isLongMode: () -> Bool) -> Bool {
        guard let apic = apic(vcpu) else { return false }
        switch index {
        case Self.apicBaseMSR: return apic.setBaseRegister(value)
        case Self.tscDeadlineMSR:
            apic.setTSCDeadline(value)
            return true
        case KVMParavirtualMSR.pvEOIEnable: return apic.setParavirtualEOIRegister(value)
        default: return false
        }
    }

    /// Leaf 1: the initial APIC ID (EBX[31:24]), APIC present (EDX[9], clear while globally disabled)
    /// and TSC-deadline timer support (ECX[24]). KVM's features leaf (0x40000001, or 0x40000101
    /// beside Xen's leaves): KVM_FEATURE_PV_EOI, which this APIC implements (`ParavirtualEOI`) on
    /// either backend.
    public func adjust(leaf: UInt32, subleaf: UInt32, vcpu: Int, result: inout CPUIDResult) {
        if offersParavirtualEOI, CPUIDHooks.hypervisorLeaves.contains(leaf), let base = cpuidHooks?.kvmLeafBase,
           leaf == base + KVMCPUIDFeature.featuresOffset {
            result.eax |= KVMCPUIDFeature.pvEOI
        }
        guard leaf == 1, let apic = apic(vcpu) else { return }
        result.ebx = (result.ebx & 0x00FF_FFFF) | UInt32(vcpu & 0xFF) << 24
        result.ecx |= 1 << 24
        if apic.isGloballyEnabled { result.edx |= 1 << 9 } else { result.edx &= ~(1 << 9) }
    }

    fileprivate func forwardKick(_ vcpu: Int) { kick?(vcpu) }
}

/// Lets each APIC's notify closure reach `LocalAPICs.kick`, which is assigned after the APICs exist.
private final class KickForwarder: @unchecked Sendable {
    weak var owner: LocalAPICs?
    func forward(_ vcpu: Int) { owner?.forwardKick(vcpu) }
}
