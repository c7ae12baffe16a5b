import VMMKit

/// One of the guest-physical ranges vmm fills before entry (see `BootLayout`). A kernel segment or
/// module over one would be overwritten by, or would overwrite, what vmm puts there, so the loader
/// places every area clear of them.
enum BootArea: CaseIterable {
    case gdt, pageTables, bootInfo, commandLine, stack

    /// Stack space kept free below `BootLayout.standard.stackTop` for entry states that start with a stack.
    static let stackSize: UInt64 = 0x4000

    var name: String {
        switch self {
        case .gdt: "boot GDT"
        case .pageTables: "identity page tables"
        case .bootInfo: "boot information"
        case .commandLine: "command line"
        case .stack: "boot stack"
        }
    }

    var size: UInt64 {
        switch self {
        case .gdt: UInt64(BootGDT.descriptors.count * 8)
        case .pageTables: IdentityPageTables.size
        case .bootInfo: BootLayout.bootInfoSize
        case .commandLine: UInt64(BootLayout.commandLineLimit)
        case .stack: Self.stackSize
        }
    }

    /// Page tables must be page-aligned (SDM vol. 3, 4.5: CR3 and table entries hold bits 51:12);
    /// the rest is aligned as the standard layout has it, so structures keep natural alignment.
    var alignment: UInt64 {
        switch self {
        case .gdt, .commandLine: 8
        case .pageTables, .bootInfo, .stack: 0x1000
        }
    }

    func range(in layout: BootLayout) -> Range<UInt64> {
        let start = switch self {
        case .gdt: layout.gdt
        case .pageTables: layout.pageTables
        case .bootInfo: layout.bootInfo
        case .commandLine: layout.commandLine
        case .stack: layout.stackTop - size
        }
        return start..<start + size
    }

    func place(at start: UInt64, in layout: inout BootLayout) {
        switch self {
        case .gdt: layout.gdt = start
        case .pageTables: layout.pageTables = start
        case .bootInfo: layout.bootInfo = start
        case .commandLine: layout.commandLine = start
        case .stack: layout.stackTop = start + size
        }
    }
}

extension BootLayout {
    /// The standard layout with each area that overlaps `occupied` (kernel segments and modules)
    /// moved to the lowest free, aligned place in `window` (conventional memory: below 4 GiB as
    /// CR3 and the 32-bit GDTR base need, identity-mapped for the long-mode stack). Throws
    /// `noRoomForBootArea` when an area fits nowhere.
    static func choose(avoiding occupied: [Range<UInt64>], within window: Range<UInt64>, path: String)
        throws(KernelLoadError) -> BootLayout
    {
        var layout = BootLayout.standard
        let (moving, staying) = BootArea.allCases.reduce(into: ([BootArea](), [BootArea]())) { split, area in
            let range = area.range(in: .standard)
            if occupied.contains(where: { $0.overlaps(range) }) { split.0.append(area) } else { split.1.append(area) }
        }
        var taken = occupied + staying.map { $0.range(in: .standard) }
        for area in moving {
            guard let start = firstFit(area.size, alignment: area.alignment, within: window, avoiding: taken) else {
                throw .noRoomForBootArea(path: path, area: area.name)
            }
            area.place(at: start, in: &layout)
            taken.append(start..<start + area.size)
        }
        return layout
    }

    /// The lowest `alignment`-aligned start of `size` bytes in `window` that overlaps nothing in
    /// `taken`: a free range begins at the window's start or where a taken range ends.
    private static func firstFit(_ size: UInt64, alignment: UInt64, within window: Range<UInt64>,
                                 avoiding taken: [Range<UInt64>]) -> UInt64? {
        let candidates = ([window.lowerBound] + taken.map(\.upperBound)).map { ($0 + alignment - 1) / alignment * alignment }
        return candidates.sorted().first { start in
            start >= window.lowerBound && start <= window.upperBound && size <= window.upperBound - start
                && !taken.contains { $0.overlaps(start..<start + size) }
        }
    }
}
