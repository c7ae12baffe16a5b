/// The guest-physical ranges below 1 MiB that vmm fills before entry (see `BootLayout`). A kernel
/// segment or module placed over one would be overwritten by, or would overwrite, what vmm puts
/// there, so the loader refuses that instead of booting a damaged image.
enum BootArea {
    /// Stack space kept free below `BootLayout.stackTop` for entry states that start with a stack.
    static let stackSize: UInt64 = 0x4000

    static let all: [(name: String, range: Range<UInt64>)] = [
        ("boot GDT", BootLayout.gdt..<BootLayout.gdt + UInt64(BootGDT.descriptors.count * 8)),
        ("identity page tables", BootLayout.pageTables..<BootLayout.pageTables + IdentityPageTables.size),
        ("boot information", BootLayout.bootInfo..<BootLayout.commandLine),
        ("command line", BootLayout.commandLine..<BootLayout.commandLine + UInt64(BootLayout.commandLineLimit)),
        ("boot stack", BootLayout.stackTop - stackSize..<BootLayout.stackTop),
    ]

    /// The name of the first boot area `range` overlaps, if any.
    static func overlapped(by range: Range<UInt64>) -> String? {
        all.first { $0.range.overlaps(range) }?.name
    }
}
