#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// CPUID, RDMSR/WRMSR, RDTSC/RDTSCP (SDM vol. 2; vol. 4 for MSR indices).
extension CPUCore {
    mutating func cpuid() {
        statistics.cpuid.increment()
        let leaf = UInt32(truncatingIfNeeded: gpr[0]), subleaf = UInt32(truncatingIfNeeded: gpr[1])
        let kvmBase = machine.cpuid.kvmLeafBase(offering: paravirtual)
        var result = KVMParavirtualLeaves.result(leaf: leaf, base: kvmBase, features: paravirtual)
            ?? CPUIDModel.softCPU.result(leaf: leaf, subleaf: subleaf, vcpu: vcpuIndex, osxsave: cr4 & Self.cr4OSXSAVE != 0)
        KVMParavirtualLeaves.adjust(leaf: leaf, features: paravirtual, result: &result)
        machine.cpuid.apply(leaf: leaf, subleaf: subleaf, vcpu: vcpuIndex, to: &result)
        gpr[0] = UInt64(result.eax)
        gpr[3] = UInt64(result.ebx)
        gpr[1] = UInt64(result.ecx)
        gpr[2] = UInt64(result.edx)
    }

    /// A 1 GHz time-stamp counter from the host's monotonic clock (invariant; see KVMParavirtualLeaves).
    static func hostNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
    }

    var timeStampCounter: UInt64 { Self.hostNanoseconds() &+ msrs.tscOffset }

    mutating func rdtsc(withAux: Bool) throws(Fault) {
        if protectedMode && cpl > 0 && cr4 & 4 != 0 { throw Fault.gp() } // CR4.TSD
        let tsc = timeStampCounter
        gpr[0] = tsc & 0xffff_ffff
        gpr[2] = tsc >> 32
        if withAux { gpr[1] = msrs.tscAux & 0xffff_ffff }
    }

    /// RDPMC (AMD APM vol. 3, RDPMC): counters 0-3 are PERF_CTR0-3, which Linux's perf, having
    /// found them through the MSRs, reads this way (stopping the NMI watchdog's counter on reboot
    /// and power-off among others); CPL > 0 only with CR4.PCE. No other counter exists: #GP.
    mutating func rdpmc() throws(Fault) {
        if cpl > 0 && cr4 & 0x100 == 0 { throw Fault.gp() } // CR4.PCE
        let counter = UInt32(truncatingIfNeeded: gpr[1])
        guard Self.isAMD, counter < 4 else { throw Fault.gp() }
        let value = msrs.performanceRegister(MSRIndex.performanceCounters.lowerBound + counter)
            & ModelSpecificRegisters.counterMask
        gpr[0] = value & 0xffff_ffff
        gpr[2] = value >> 32
    }

    mutating func rdmsr() throws(Fault) {
        try requireCPL0()
        statistics.msr.increment()
        let index = UInt32(truncatingIfNeeded: gpr[1])
        let value: UInt64
        if let handler = machine.msrs.handler(for: index) {
            guard let answer = handler.readMSR(index, vcpu: vcpuIndex) else { throw Fault.gp() }
            value = answer
        } else {
            value = try readOwnMSR(index)
        }
        gpr[0] = value & 0xffff_ffff
        gpr[2] = value >> 32
    }

    mutating func wrmsr() throws(Fault) {
        try requireCPL0()
        statistics.msr.increment()
        let index = UInt32(truncatingIfNeeded: gpr[1])
        let value = (gpr[2] << 32) | (gpr[0] & 0xffff_ffff)
        if let handler = machine.msrs.handler(for: index) {
            let longMode = self.longMode
            guard handler.writeMSR(index, value: value, vcpu: vcpuIndex, isLongMode: { longMode }) else { throw Fault.gp() }
            if index == hypercallPageMSR { deviceWrotePage(value & ~0xfff) }
        } else {
            try writeOwnMSR(index, value)
        }
        breakBlock = true
    }

    /// A device wrote the page at `physicalAddress` behind the CPU's stores (the hypercall page a
    /// `HypercallPageLoader` loads): what was decoded from it goes, as a store there would make it go.
    mutating func deviceWrotePage(_ physicalAddress: UInt64) {
        if physical.writeHitsCode(physicalAddress, length: 4096) { flushCodeCache(overwritten: physicalAddress) }
    }

    /// kvmclock's MSRs exist only while `--pv` offers it (#GP otherwise, as on a host without it).
    var hasKVMClock: Bool { paravirtual.contains(.kvmclock) }

    /// The vendor CPUID reports, which decides the vendor-specific MSRs.
    static let isAMD = CPUIDModel.softCPU.vendor == "AuthenticAMD"

    func readOwnMSR(_ index: UInt32) throws(Fault) -> UInt64 {
        switch index {
        case MSRIndex.microcodeRevision: return 0
        case MSRIndex.platformID where !Self.isAMD: return 0
        case MSRIndex.performanceControls where Self.isAMD, MSRIndex.performanceCounters where Self.isAMD:
            return msrs.performanceRegister(index)
        case MSRIndex.tsc: return timeStampCounter
        case MSRIndex.apicBase: return msrs.apicBase | (vcpuIndex == 0 ? 0x100 : 0)
        case MSRIndex.sysenterCS: return msrs.sysenterCS
        case MSRIndex.sysenterESP: return msrs.sysenterESP
        case MSRIndex.sysenterEIP: return msrs.sysenterEIP
        case MSRIndex.mcgCap, MSRIndex.mcgStatus, MSRIndex.mtrrCap: return 0
        case MSRIndex.interruptPendingMessage where Self.isAMD: return 0 // C1E off: HLT is a plain halt
        case MSRIndex.hardwareConfiguration where Self.isAMD: return msrs.hardwareConfiguration
        case MSRIndex.northbridgeConfiguration where Self.isAMD: return 0
        case MSRIndex.miscEnable where !Self.isAMD: return msrs.miscEnable
        case MSRIndex.pat: return msrs.pat
        case MSRIndex.mtrrDefType: return msrs.mtrrDefType
        case MSRIndex.efer: return efer
        case MSRIndex.star: return msrs.star
        case MSRIndex.lstar: return msrs.lstar
        case MSRIndex.cstar: return msrs.cstar
        case MSRIndex.fmask: return msrs.fmask
        case MSRIndex.fsBase: return segments[Segment.fs].base
        case MSRIndex.gsBase: return segments[Segment.gs].base
        case MSRIndex.kernelGSBase: return msrs.kernelGSBase
        case MSRIndex.tscAux: return msrs.tscAux
        case MSRIndex.kvmSystemTime where hasKVMClock: return msrs.kvmSystemTime
        case MSRIndex.kvmWallClock where hasKVMClock: return msrs.kvmWallClock
        default: throw Fault.gp()
        }
    }

    mutating func writeOwnMSR(_ index: UInt32, _ value: UInt64) throws(Fault) {
        func canonical(_ address: UInt64) throws(Fault) {
            let upper = Int64(bitPattern: address) >> 47
            guard upper == 0 || upper == -1 else { throw Fault.gp() }
        }
        switch index {
        // Writing the revision asks the next CPUID to latch it (SDM vol. 3, 10.11.7.1): nothing to do.
        case MSRIndex.microcodeRevision where !Self.isAMD: break
        case MSRIndex.performanceControls where Self.isAMD:
            // Bits 63:42 are reserved and must be zero (APM vol. 2, 13.2.1.1).
            guard value >> 42 == 0 else { throw Fault.gp() }
            msrs.setPerformanceRegister(index, value)
        case MSRIndex.performanceCounters where Self.isAMD:
            msrs.setPerformanceRegister(index, value & ModelSpecificRegisters.counterMask)
        case MSRIndex.tsc:
            msrs.tscOffset = value &- Self.hostNanoseconds()
            // The clock's tsc_timestamp is in the old TSC: write it again, as KVM does on a TSC write.
            if hasKVMClock { refreshKVMClock() }
        case MSRIndex.apicBase: msrs.apicBase = value & ~UInt64(0x100)
        case MSRIndex.sysenterCS: msrs.sysenterCS = value & 0xffff
        case MSRIndex.sysenterESP: try canonical(value); msrs.sysenterESP = value
        case MSRIndex.sysenterEIP: try canonical(value); msrs.sysenterEIP = value
        case MSRIndex.mcgStatus: guard value == 0 else { throw Fault.gp() }
        case MSRIndex.miscEnable where !Self.isAMD: msrs.miscEnable = value
        case MSRIndex.hardwareConfiguration where Self.isAMD:
            let kept = value & ~ModelSpecificRegisters.hardwareConfigurationIgnored
            guard kept & ~ModelSpecificRegisters.hardwareConfigurationWritable == 0 else { throw Fault.gp() }
            msrs.hardwareConfiguration = kept
        case MSRIndex.northbridgeConfiguration where Self.isAMD: break
        case MSRIndex.pat:
            // Each byte must be a valid memory type: 0, 1, 4, 5, 6 or 7 (SDM vol. 3, 11.12.2).
            for byte in 0..<8 {
                let type = (value >> (byte * 8)) & 0xff
                if type == 2 || type == 3 || type > 7 { throw Fault.gp() }
            }
            msrs.pat = value
        case MSRIndex.mtrrDefType: msrs.mtrrDefType = value
        case MSRIndex.efer: try writeEFER(value)
        case MSRIndex.star: msrs.star = value
        case MSRIndex.lstar: try canonical(value); msrs.lstar = value
        case MSRIndex.cstar: try canonical(value); msrs.cstar = value
        case MSRIndex.fmask: msrs.fmask = value & 0xffff_ffff
        case MSRIndex.fsBase:
            try canonical(value)
            segments[Segment.fs].base = value
            modeChanged()
        case MSRIndex.gsBase:
            try canonical(value)
            segments[Segment.gs].base = value
            modeChanged()
        case MSRIndex.kernelGSBase: try canonical(value); msrs.kernelGSBase = value
        case MSRIndex.tscAux: msrs.tscAux = value & 0xffff_ffff
        case MSRIndex.kvmSystemTime where hasKVMClock:
            msrs.kvmSystemTime = value
            refreshKVMClock()
        case MSRIndex.kvmWallClock where hasKVMClock:
            msrs.kvmWallClock = value
            KVMClock.writeWallClock(at: value, into: machine.memory)
        default: throw Fault.gp()
        }
    }

    /// Writes the vCPU's kvmclock structure, if enabled, for the TSC as it now is.
    func refreshKVMClock() {
        guard msrs.kvmSystemTime & 1 != 0 else { return }
        let now = Self.hostNanoseconds()
        KVMClock.writeTimeInfo(at: msrs.kvmSystemTime & ~1, tsc: now &+ msrs.tscOffset, now: now, into: machine.memory)
    }

    /// EFER: SCE, LME, NXE are writable; LMA is read-only; LME cannot change while paging is on
    /// (SDM vol. 3, 9.8.5).
    mutating func writeEFER(_ value: UInt64) throws(Fault) {
        let writable = ControlBits.eferSCE | ControlBits.eferLME | ControlBits.eferNXE
        guard value & ~(writable | ControlBits.eferLMA) == 0 else { throw Fault.gp() }
        if pagingEnabled && (value ^ efer) & ControlBits.eferLME != 0 { throw Fault.gp() }
        let updated = (efer & ControlBits.eferLMA) | (value & writable)
        if (updated ^ efer) & ControlBits.eferNXE != 0 { tlb.flushAll() }
        efer = updated
        modeChanged()
    }
}
