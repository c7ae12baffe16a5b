import VMMKit

/// The boot protocols the kernel loader recognises, in the order it tries them.
public enum KernelFormat: String, Sendable {
    /// Multiboot v1 (spec 0.6.96): a header in the first 8 KiB; entered in 32-bit protected mode.
    case multiboot
    /// Xen's PVH entry (an ELF note XEN_ELFNOTE_PHYS32_ENTRY); entered in 32-bit protected mode.
    case pvh
    /// A plain ELF32 kernel, entered at e_entry in 32-bit protected mode.
    case elf32
    /// A plain ELF64 kernel, entered at e_entry in long mode with an identity map.
    case elf64
    /// A Linux bzImage (boot protocol 2.06 or later), entered through its 64-bit entry in long mode
    /// or, without one, its 32-bit entry in protected mode; checked before the ELF formats.
    case linux
}

/// What `KernelLoader.load` leaves behind: the image is in guest memory, and `bootState` is the
/// register state the kernel's boot protocol expects at `entry` (a guest-physical address).
public struct LoadedKernel: Sendable {
    public let format: KernelFormat
    public let bootState: BootState
    public let entry: UInt64
    /// Where the loader put the boot structures (GDT, page tables, boot information, command
    /// line, stack) clear of the kernel and its modules; `bootState` refers to these addresses.
    public let layout: BootLayout

    public init(format: KernelFormat, bootState: BootState, entry: UInt64, layout: BootLayout = .standard) {
        self.format = format
        self.bootState = bootState
        self.entry = entry
        self.layout = layout
    }
}
