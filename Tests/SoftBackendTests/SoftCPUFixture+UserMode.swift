import SoftBackend
import VMMKit
import KernelLoading

extension SoftCPUFixture {
    /// The set-up a SYSCALL/SYSRET test needs: `descriptors` as the GDT at 0x1000 (kernel code 0x08 and
    /// kernel data 0x10 first, as STAR's SYSCALL CS field expects: SDM vol. 2, SYSCALL), the boot
    /// identity map made user-accessible (U/S in every present entry, so CPL 3 code can run and fetch),
    /// the vCPU at CPL 0 on those kernel selectors and EFER.SCE set so SYSCALL does not #UD.
    func prepareForSystemCalls(descriptors: [UInt64]) throws {
        for (index, descriptor) in descriptors.enumerated() {
            try machine.memory.write(descriptor, at: 0x1000 + UInt64(index) * 8)
        }
        for offset in stride(from: UInt64(0), to: IdentityPageTables.size, by: 8) {
            let address = BootLayout.standard.pageTables + offset
            let value = try machine.memory.read(UInt64.self, at: address)
            if value & 1 != 0 { try machine.memory.write(value | 4, at: address) }
        }
        try setSystemRegisters {
            $0.gdt = DescriptorTableRegister(base: 0x1000, limit: UInt16(descriptors.count * 8 - 1))
            $0.cs.selector = 0x08
            $0.ss.selector = 0x10
            $0.efer |= ControlBits.eferSCE
        }
    }
}
