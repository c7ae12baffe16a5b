import CLibELF
import VMMKit

/// Loads a kernel into a machine's guest memory and works out the state to enter it in.
///
/// Formats are tried in this order: a Linux bzImage's setup header (boot.rst; see
/// `KernelLoader+Linux.swift`), a Multiboot v1 header (spec 0.6.96), a PVH entry note (xen
/// start_info.h), then a plain ELF32/ELF64 x86 executable. Everything is checked (file, segments,
/// modules, boot information size) before the first byte is written, so a rejected kernel leaves
/// guest memory as it was.
public enum KernelLoader {
    /// Loads the ELF at `path` into `machine.memory`, writes boot info, GDT (BootGDT) and, for long
    /// mode, page tables (IdentityPageTables), and returns the entry state. Does not set
    /// machine.bootState itself.
    public static func load(kernelAt path: String, into machine: Machine, commandLine: String,
                            modules: [String]) throws -> LoadedKernel {
        try loadKernel(at: path, into: machine.memory, commandLine: commandLine, modules: modules)
    }

    /// `load` with its error type spelled out, against guest memory alone.
    static func loadKernel(at path: String, into memory: GuestMemory, commandLine appendText: String,
                           modules modulePaths: [String]) throws(KernelLoadError) -> LoadedKernel {
        // The standard boot areas (GDT, page tables, boot information, stack) all lie below its stackTop.
        let lowRAMEnd = memory.regions.first { $0.guestBase == 0 && $0.kind == .ram }?.guestEnd ?? 0
        guard lowRAMEnd >= BootLayout.standard.stackTop else {
            throw .memoryTooSmall(path: path, needed: BootLayout.standard.stackTop, available: lowRAMEnd)
        }
        let file = try ELFFile(path: path)
        let linux = try LinuxSetupHeader(parsing: file.bytes, path: path)
        let (format, image) = if let linux { (KernelFormat.linux, linux.image(fileSize: file.bytes.count)) } else {
            try identify(file)
        }
        let commandLine = bootCommandLine(appendText, for: format, kernelPath: path)
        let commandLineBytes = commandLine.utf8.count
        let commandLineLimit = min((linux?.commandLineSize ?? Int.max - 1) + 1, BootLayout.commandLineLimit)
        guard commandLineBytes < commandLineLimit else {
            throw .commandLineTooLong(path: path, length: commandLineBytes, limit: commandLineLimit)
        }
        try image.validate(in: memory)
        if format == .elf32 || format == .multiboot || format == .pvh {
            guard image.entry <= UInt64(UInt32.max) else { throw .entryAbove4GiB(path: path, entry: image.entry) }
        }
        if format == .elf32 || format == .elf64 {
            guard modulePaths.isEmpty else { throw .modulesNeedBootProtocol(path: path) }
        }
        let modules = if let linux {
            try linux.loadInitrd(modulePaths, after: image.end, lowRAMEnd: lowRAMEnd, in: memory)
        } else {
            try BootModule.load(modulePaths, after: image.end, in: memory)
        }
        let layout = try BootLayout.choose(
            avoiding: image.segments.map { $0.address..<$0.address + $0.memorySize } + modules.map { $0.address..<$0.end },
            within: BootLayout.firstFreeLowAddress..<min(PCMemoryMap.conventionalMemoryEnd, lowRAMEnd), path: path)

        var buffer = BootInfoBuffer(kernelPath: path, base: layout.bootInfo)
        var bootState: BootState
        let entry = UInt32(truncatingIfNeeded: image.entry)
        switch (format, linux) {
        case (.multiboot, _):
            let info = try MultibootInfo.build(in: &buffer, memory: memory, commandLine: layout.commandLine,
                                               modules: modules)
            bootState = .flatProtectedMode(entry: entry, eax: MultibootHeader.bootloaderMagic, ebx: UInt32(info),
                                           layout: layout)
        case (.pvh, _):
            let info = try PVHStartInfo.build(in: &buffer, memory: memory, commandLine: layout.commandLine,
                                              modules: modules)
            bootState = .flatProtectedMode(entry: entry, eax: 0, ebx: UInt32(info), layout: layout)
        case (.elf32, _):
            bootState = .flatProtectedMode(entry: entry, eax: 0, ebx: 0, layout: layout)
        case (.elf64, _):
            bootState = .longMode(entry: image.entry, layout: layout)
        case let (.linux, header?):
            let bootParams = try LinuxBootParams.build(in: &buffer, header: header, file: file.bytes, memory: memory,
                                                       commandLine: layout.commandLine, initrd: modules.first)
            bootState = header.entryState(entry: image.entry, bootParams: bootParams, layout: layout)
        case (.linux, nil):
            throw .badLinuxKernel(path: path, detail: "no setup header")
        }
        let needsPageTables = format == .elf64 || linux?.supports64BitEntry == true

        do {
            try image.write(from: file, into: memory)
            for module in modules { try module.write(into: memory) }
            try buffer.write(into: memory)
            try memory.write(Array(commandLine.utf8) + [0], at: layout.commandLine)
            try BootGDT.write(into: memory, at: layout.gdt)
            if needsPageTables { try IdentityPageTables.write(into: memory, at: layout.pageTables) }
        } catch {
            // Not expected: every range written was checked above.
            throw .writeFailed(path: path, detail: error.description)
        }
        return LoadedKernel(format: format, bootState: bootState, entry: image.entry, layout: layout)
    }

    /// The command line the kernel receives. A Multiboot loader passes the kernel's own path first,
    /// as GRUB and QEMU do ("PATH APPEND", with the space even when APPEND is empty), so a kernel
    /// that reads argv[0] from it sees the arguments where it expects them (Multiboot spec 0.6.96
    /// section 3.3 leaves the content to the loader; this is the convention kernels are written
    /// for). PVH (QEMU passes only the append text there) and plain ELF get the text as given.
    private static func bootCommandLine(_ appendText: String, for format: KernelFormat, kernelPath: String) -> String {
        format == .multiboot ? kernelPath + " " + appendText : appendText
    }

    /// The kernel's boot protocol and the image it describes.
    private static func identify(_ file: ELFFile) throws(KernelLoadError) -> (KernelFormat, KernelImage) {
        let multiboot = MultibootHeader.find(in: file.bytes)
        if let multiboot {
            try multiboot.checkRequirements(path: file.path)
            if multiboot.hasAddressFields {
                return (.multiboot, try multiboot.addressFieldImage(path: file.path, in: file.bytes))
            }
        }
        try checkExecutable(file)
        let image = try KernelImage.fromProgramHeaders(of: file)
        if multiboot != nil { return (.multiboot, image) }
        if let entry = try PVHStartInfo.entryPoint(in: file.notes(), path: file.path) {
            return (.pvh, KernelImage(path: file.path, segments: image.segments, entry: entry))
        }
        return (file.is64Bit ? .elf64 : .elf32, image)
    }

    /// An x86 executable: ELF32 for EM_386 or ELF64 for EM_X86_64, little-endian, ET_EXEC.
    private static func checkExecutable(_ file: ELFFile) throws(KernelLoadError) {
        guard file.isELF else {
            throw file.hasELFMagic ? .corrupt(path: file.path, detail: "truncated ELF identification") : .notELF(path: file.path)
        }
        let header = try file.header()
        let expectedMachine = file.is64Bit ? UInt16(EM_X86_64) : UInt16(EM_386)
        guard header.e_machine == expectedMachine, header.e_ident.5 == UInt8(ELFDATA2LSB) else {
            let bits = file.is64Bit ? 64 : 32
            throw .unsupportedArchitecture(path: file.path, detail: "ELF\(bits) for \(machineName(header.e_machine)), "
                + "vmm loads ELF32 i386 and ELF64 x86-64 little-endian kernels")
        }
        guard header.e_type == UInt16(ET_EXEC) else { throw .notExecutable(path: file.path, type: header.e_type) }
    }

    private static func machineName(_ machine: UInt16) -> String {
        switch Int32(machine) {
        case EM_386: return "i386"
        case EM_X86_64: return "x86-64"
        case EM_ARM: return "ARM"
        case EM_AARCH64: return "AArch64"
        case EM_RISCV: return "RISC-V"
        case EM_PPC64: return "PowerPC64"
        default: return "machine \(machine)"
        }
    }
}
