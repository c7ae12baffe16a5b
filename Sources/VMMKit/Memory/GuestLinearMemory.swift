/// Reads guest memory by linear address the way the vCPU would: through its page tables when
/// CR0.PG is set (SDM vol. 3, 4.3 32-bit paging, 4.4 PAE, 4.5 4/5-level). For diagnostics (the
/// instruction bytes of an emulation failure) and the debugger, so it ignores permissions and
/// changes nothing (no accessed or dirty bits, no CR2): the guest cannot tell it happened.
public struct GuestLinearMemory {
    public let memory: GuestMemory
    public let registers: SystemRegisters

    public init(memory: GuestMemory, registers: SystemRegisters) {
        self.memory = memory
        self.registers = registers
    }

    private static let addressMask: UInt64 = 0x000f_ffff_ffff_f000
    private static let present: UInt64 = 1
    private static let largePage: UInt64 = 1 << 7
    private static let cr4PSE: UInt64 = 1 << 4
    private static let cr4LA57: UInt64 = 1 << 12

    /// Up to `count` bytes from `linear`, stopping at the first byte that is unmapped or outside RAM.
    public func readBytes(at linear: UInt64, count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for offset in 0..<UInt64(count) {
            guard let physical = physicalAddress(of: linear &+ offset),
                  let byte = try? memory.read(UInt8.self, at: physical) else { break }
            bytes.append(byte)
        }
        return bytes
    }

    public func physicalAddress(of linear: UInt64) -> UInt64? {
        guard registers.cr0 & ControlBits.cr0PG != 0 else { return linear & 0xffff_ffff }
        if registers.efer & ControlBits.eferLMA != 0 {
            let levels = registers.cr4 & Self.cr4LA57 != 0 ? 5 : 4
            return walk(linear, table: registers.cr3 & Self.addressMask, levels: levels)
        }
        if registers.cr4 & ControlBits.cr4PAE != 0 {
            let linear32 = linear & 0xffff_ffff
            let pdpte = try? memory.read(UInt64.self, at: (registers.cr3 & 0xffff_ffe0) + (linear32 >> 30) * 8)
            guard let pdpte, pdpte & Self.present != 0 else { return nil }
            return walk(linear32, table: pdpte & Self.addressMask, levels: 2)
        }
        return walk32(linear & 0xffff_ffff)
    }

    /// 64-bit entries, 9 index bits per level; a PS bit at a directory level ends the walk early.
    private func walk(_ linear: UInt64, table: UInt64, levels: Int) -> UInt64? {
        var table = table
        for level in stride(from: levels, to: 0, by: -1) {
            let shift = UInt64(12 + 9 * (level - 1))
            let entryAddress = table + ((linear >> shift) & 0x1ff) * 8
            guard let entry = try? memory.read(UInt64.self, at: entryAddress), entry & Self.present != 0 else {
                return nil
            }
            let pageMask = (UInt64(1) << shift) - 1
            if level == 1 || (level <= 3 && entry & Self.largePage != 0) {
                return (entry & Self.addressMask & ~pageMask) | (linear & pageMask)
            }
            table = entry & Self.addressMask
        }
        return nil
    }

    /// Classic 32-bit paging: 4-byte entries, 4 MiB pages when CR4.PSE and PDE.PS are set.
    private func walk32(_ linear: UInt64) -> UInt64? {
        let pdeAddress = (registers.cr3 & 0xffff_f000) + (linear >> 22) * 4
        guard let pde = try? memory.read(UInt32.self, at: pdeAddress), pde & 1 != 0 else { return nil }
        if registers.cr4 & Self.cr4PSE != 0, UInt64(pde) & Self.largePage != 0 {
            return (UInt64(pde) & 0xffc0_0000) | (linear & 0x3f_ffff)
        }
        let pteAddress = (UInt64(pde) & 0xffff_f000) + ((linear >> 12) & 0x3ff) * 4
        guard let pte = try? memory.read(UInt32.self, at: pteAddress), pte & 1 != 0 else { return nil }
        return (UInt64(pte) & 0xffff_f000) | (linear & 0xfff)
    }
}
