import VMMKit

/// Xen's hypercall page (xen/arch/x86/hvm: the HVM hypercall page; docs/guest-guide/x86/
/// hypercall-abi.rst): 4 KiB of 32-byte stubs, stub *n* at offset 32 *n* making hypercall *n*,
/// which a guest calls as `call hypercall_page + 32 * n`. Unused bytes are INT3, as Xen leaves
/// them, and HYPERVISOR_iret's stub (23) is UD2: it exists for PV guests only.
enum HypercallPage {
    static let size = 4096
    static let stubSize = 32
    /// Hypercall numbers a page has a stub for: 0-127.
    static let stubCount = size / stubSize
    static let iretNumber = 23

    /// How a stub reaches vmm.
    enum Route: Equatable {
        /// `mov $n, %eax; vmcall; ret`, Xen's Intel stub, for a backend whose VMCALL reaches the
        /// device: the Soft CPU, which takes VMCALL and VMMCALL alike whatever vendor it reports.
        case instruction
        /// A 32-bit IN from port `base + n`, whose answer is the result: for KVM, which keeps
        /// VMCALL for its own ABI. EDX is saved around it (it is the third argument of the 32-bit
        /// ABI and the third of the 64-bit one), and the 64-bit stub sign-extends EAX into RAX, as
        /// Xen returns a long.
        case ports(base: UInt16)
    }

    static func generate(route: Route, longMode: Bool) -> [UInt8] {
        var page = [UInt8](repeating: 0xcc, count: size) // INT3
        for number in 0..<stubCount {
            let stub: [UInt8]
            if number == iretNumber {
                stub = [0x0f, 0x0b] // UD2
            } else {
                switch route {
                case .instruction:
                    stub = [0xb8] + littleEndian(UInt32(number)) + [0x0f, 0x01, 0xc1, 0xc3] // mov imm32, %eax; vmcall; ret
                case let .ports(base):
                    let port = base &+ UInt16(number)
                    let signExtend: [UInt8] = longMode ? [0x48, 0x98] : [] // cltq
                    // push %edx/%rdx; mov $port, %dx; in %dx, %eax; [cltq]; pop; ret
                    stub = [0x52, 0x66, 0xba] + littleEndian(port) + [0xed] + signExtend + [0x5a, 0xc3]
                }
            }
            page.replaceSubrange(number * stubSize..<(number * stubSize + stub.count), with: stub)
        }
        return page
    }

    private static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
}
