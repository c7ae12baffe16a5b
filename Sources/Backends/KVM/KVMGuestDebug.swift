#if canImport(Glibc)
import Glibc
#endif
import CKVM
import VMMKit

/// What the VM's vCPUs were armed with for the debugger, for decoding KVM_EXIT_DEBUG.
struct KVMDebugArming {
    /// What each of DR0-DR3 was programmed for: an execution breakpoint (nil) or a watchpoint.
    var slots: [(address: UInt64, watchpoint: Watchpoint?)] = []
    var software: Set<UInt64> = []
    var stepping: Int?
    /// The guest's bytes under the INT3s written at arming, by guest-physical address.
    var patched: [UInt64: UInt8] = [:]
}

/// The debugger through KVM_SET_GUEST_DEBUG (api.rst 4.59): software breakpoints are INT3 bytes
/// written into guest memory while the vCPUs run (KVM_GUESTDBG_USE_SW_BP makes KVM exit on #BP
/// instead of delivering it), hardware breakpoints and watchpoints are KVM's own debug-register
/// state for the guest (KVM_GUESTDBG_USE_HW_BP: the guest's DR0-DR7 as it reads them stay its own),
/// and KVM_GUESTDBG_SINGLESTEP sets the trap flag without the guest seeing it.
extension KVMVirtualMachine: GuestDebugging {
    /// DR7 (SDM vol. 3, 17.2.4): L0-L3 enables, R/W 00 execute, 01 write, 11 read or write (x86 has
    /// no read-only watch), LEN 00/01/11/10 for 1/2/4/8 bytes; bit 10 reads as one.
    static func dr7(for slots: [(address: UInt64, watchpoint: Watchpoint?)]) -> UInt64 {
        var dr7: UInt64 = 0x400
        for (index, slot) in slots.enumerated() {
            let shift = UInt64(index)
            dr7 |= 1 << (2 * shift)
            guard let watchpoint = slot.watchpoint else { continue }
            let access: UInt64 = watchpoint.kind == .write ? 0b01 : 0b11
            let length: UInt64
            switch watchpoint.length {
            case 1: length = 0b00
            case 2: length = 0b01
            case 8: length = 0b10
            default: length = 0b11
            }
            dr7 |= (access | length << 2) << (16 + 4 * shift)
        }
        return dr7
    }

    var kvmVCPUs: [KVMVirtualCPU] { machine.vcpus.compactMap { $0 as? KVMVirtualCPU } }

    public func armDebugging(_ breakpoints: DebugBreakpoints, stepping: Int?) throws {
        guard breakpoints.hardware.count + breakpoints.watchpoints.count <= DebugBreakpoints.hardwareSlots else {
            throw KVMError.debuggerUnsupported("more than \(DebugBreakpoints.hardwareSlots) hardware breakpoints and watchpoints")
        }
        for watchpoint in breakpoints.watchpoints where !Self.fitsDebugRegister(watchpoint) {
            throw KVMError.debuggerUnsupported("a watchpoint of \(watchpoint.length) bytes at 0x\(String(watchpoint.address, radix: 16))")
        }
        disarmDebugging()
        var arming = KVMDebugArming()
        arming.slots = breakpoints.hardware.sorted().map { ($0, nil) }
            + breakpoints.watchpoints.sorted { $0.address < $1.address }.map { ($0.address, $0) }
        arming.software = breakpoints.software
        arming.stepping = stepping
        let vcpus = kvmVCPUs
        if let first = vcpus.first, !breakpoints.software.isEmpty {
            let pages = GuestLinearMemory(memory: machine.memory, registers: try first.systemRegisters())
            for linear in breakpoints.software {
                guard let physical = pages.physicalAddress(of: linear), arming.patched[physical] == nil,
                      let original = try? machine.memory.read(UInt8.self, at: physical),
                      (try? machine.memory.write(UInt8(0xcc), at: physical)) != nil else { continue }
                arming.patched[physical] = original
            }
        }
        debugArming = arming
        for vcpu in vcpus {
            var debug = kvm_guest_debug()
            var control: UInt32 = 0
            if !arming.software.isEmpty { control |= UInt32(KVM_GUESTDBG_USE_SW_BP) }
            if !arming.slots.isEmpty {
                control |= UInt32(KVM_GUESTDBG_USE_HW_BP)
                withUnsafeMutableBytes(of: &debug.arch.debugreg) { registers in
                    let words = registers.bindMemory(to: UInt64.self)
                    for (index, slot) in arming.slots.enumerated() { words[index] = slot.address }
                    words[7] = Self.dr7(for: arming.slots)
                }
            }
            if stepping == vcpu.index { control |= UInt32(KVM_GUESTDBG_SINGLESTEP) }
            if control != 0 { control |= UInt32(KVM_GUESTDBG_ENABLE) }
            debug.control = control
            try KVMIoctl.call(vcpu.fd, CKVM_SET_GUEST_DEBUG, &debug, "KVM_SET_GUEST_DEBUG")
        }
    }

    /// A debug register watches 1, 2, 4 or 8 bytes aligned to their size (SDM vol. 3, 17.2.5).
    static func fitsDebugRegister(_ watchpoint: Watchpoint) -> Bool {
        [1, 2, 4, 8].contains(watchpoint.length) && watchpoint.address % watchpoint.length == 0
    }

    public func disarmDebugging() {
        for (physical, original) in debugArming.patched { try? machine.memory.write(original, at: physical) }
        debugArming.patched = [:]
    }

    /// KVM reads guest memory itself; nothing is cached on this side.
    public func debuggerWroteMemory(physical: UInt64, length: Int) {}

    public func supports(_ watchpoint: Watchpoint) -> Bool { Self.fitsDebugRegister(watchpoint) }
}

extension KVMVirtualCPU {
    /// KVM_EXIT_DEBUG: the debugger's breakpoint, watchpoint or step parks the vCPU; a #BP or #DB
    /// that is the guest's own (its INT3, its TF or DR7) goes to the guest's handler.
    func handleDebugExit() throws {
        let run = kvmRun
        let arming = vm.debugArming
        switch ckvm_debug_exception(run) {
        case 3 where arming.software.contains(ckvm_debug_pc(run)):
            debugControl.park(vcpu: index, reason: .softwareBreakpoint)
        case 3:
            // Not ours: the guest's INT3 (one byte, RIP still on it) traps to its handler.
            var registers = try generalRegisters()
            registers.rip &+= 1
            try setGeneralRegisters(registers)
            try injectException(vector: 3, errorCode: nil)
        case 1:
            let dr6 = ckvm_debug_dr6(run)
            if let slot = (0..<arming.slots.count).first(where: { dr6 & (1 << UInt64($0)) != 0 }) {
                let hit = arming.slots[slot]
                let reason: DebugStopReason = hit.watchpoint.map { .watchpoint($0.kind, address: $0.address) } ?? .hardwareBreakpoint
                debugControl.park(vcpu: index, reason: reason)
            } else if dr6 & (1 << 14) != 0, arming.stepping == index {
                debugControl.park(vcpu: index, reason: .singleStep)
            } else {
                try injectException(vector: 1, errorCode: nil)
            }
        default:
            throw KVMError.unexpectedExit(
                name: "KVM_EXIT_DEBUG",
                detail: "exception \(ckvm_debug_exception(run)) at 0x\(String(ckvm_debug_pc(run), radix: 16))")
        }
    }
}
