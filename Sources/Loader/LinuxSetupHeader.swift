import VMMKit

/// The setup header of a Linux bzImage (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel
/// Header"): read from the file at 0x1f1, checked, and copied into boot_params by the loader.
///
/// vmm enters the protected-mode kernel directly (the 32-bit or 64-bit boot protocol) rather than
/// running the real-mode setup code, as QEMU's and cloud-hypervisor's direct kernel boot do; the
/// kernel's own decompressor then runs in the guest.
struct LinuxSetupHeader {
    /// Offsets in the file and in boot_params (boot.rst gives them as offsets in the zero page).
    enum Offset {
        static let setupSectors = 0x1f1
        static let bootFlag = 0x1fe
        static let jump = 0x200
        static let signature = 0x202
        static let version = 0x206
        static let typeOfLoader = 0x210
        static let loadFlags = 0x211
        static let code32Start = 0x214
        static let ramdiskImage = 0x218
        static let ramdiskSize = 0x21c
        static let commandLinePointer = 0x228
        static let initrdAddressMax = 0x22c
        static let kernelAlignment = 0x230
        static let relocatable = 0x234
        static let extendedLoadFlags = 0x236
        static let commandLineSize = 0x238
        static let preferredAddress = 0x258
        static let initSize = 0x260
    }

    /// 2.06 is the first version with cmdline_size and the 32-bit boot protocol as vmm uses it;
    /// 2.12 added xloadflags, which says whether the 64-bit entry exists.
    static let oldestVersion: UInt16 = 0x0206
    static let xloadflagsVersion: UInt16 = 0x020c
    /// loadflags bit 0: the protected-mode code is loaded at 0x100000 (a bzImage, not a zImage).
    static let loadedHigh: UInt8 = 0x01
    /// xloadflags bit 0: the kernel has the 64-bit entry point at its load address + 0x200.
    static let kernel64: UInt16 = 0x01
    /// type_of_loader 0xff: "undefined", the value for a loader without an assigned ID.
    static let undefinedLoader: UInt8 = 0xff
    /// Where the 64-bit entry is, relative to the load address.
    static let entry64Offset: UInt64 = 0x200

    let path: String
    let version: UInt16
    /// The real-mode part's size in bytes: (setup_sects + 1) sectors, setup_sects 0 meaning 4.
    let setupSize: Int
    /// The header's last byte + 1 (0x202 + the jump's displacement): what is copied to boot_params.
    let headerEnd: Int
    let initrdAddressMax: UInt64
    let commandLineSize: Int
    let supports64BitEntry: Bool
    /// Where the protected-mode kernel goes and how much memory from there it needs while it
    /// decompresses itself (init_size, or the payload's size for kernels older than 2.10).
    let loadAddress: UInt64
    let memorySize: UInt64

    /// The header of `bytes`, nil when they are not a bzImage at all (no boot flag or "HdrS"), or
    /// an error when they are one vmm cannot boot.
    init?(parsing bytes: UnsafeRawBufferPointer, path: String) throws(KernelLoadError) {
        func byte(_ offset: Int) -> UInt8 { bytes[offset] }
        func read<T: FixedWidthInteger>(_ offset: Int, as _: T.Type = T.self) -> T {
            (0..<MemoryLayout<T>.size).reduce(T(0)) { $0 | T(bytes[offset + $1]) << (8 * $1) }
        }
        guard bytes.count >= Offset.version + 2, read(Offset.bootFlag, as: UInt16.self) == 0xaa55,
              read(Offset.signature, as: UInt32.self) == 0x5372_6448 // "HdrS"
        else { return nil }
        self.path = path
        version = read(Offset.version)
        guard version >= Self.oldestVersion else {
            throw .badLinuxKernel(path: path, detail: "boot protocol \(Self.text(version)) is older than "
                + "\(Self.text(Self.oldestVersion)), the oldest vmm boots")
        }
        let sectors = Int(byte(Offset.setupSectors))
        setupSize = ((sectors == 0 ? 4 : sectors) + 1) * 512
        headerEnd = Offset.jump + 2 + Int(byte(Offset.jump + 1))
        guard bytes.count > setupSize, bytes.count >= headerEnd, headerEnd > Offset.commandLineSize + 4 else {
            throw .badLinuxKernel(path: path, detail: "truncated: \(bytes.count) bytes, but the setup code alone "
                + "takes \(setupSize)")
        }
        guard byte(Offset.loadFlags) & Self.loadedHigh != 0 else {
            throw .badLinuxKernel(path: path, detail: "a zImage (loaded below 1 MiB); vmm boots bzImages only")
        }
        initrdAddressMax = UInt64(read(Offset.initrdAddressMax, as: UInt32.self))
        commandLineSize = Int(read(Offset.commandLineSize, as: UInt32.self))
        supports64BitEntry = version >= Self.xloadflagsVersion
            && read(Offset.extendedLoadFlags, as: UInt16.self) & Self.kernel64 != 0
        let payload = UInt64(bytes.count - setupSize)
        // 2.10 added pref_address and init_size; a relocatable kernel is best loaded at its
        // preferred address (it then needs no relocation), any other at 1 MiB.
        let hasPreference = version >= 0x020a && byte(Offset.relocatable) != 0
        let preferred: UInt64 = read(Offset.preferredAddress)
        loadAddress = hasPreference && preferred != 0 ? preferred : 0x10_0000
        memorySize = version >= 0x020a ? max(UInt64(read(Offset.initSize, as: UInt32.self)), payload) : payload
        // pref_address is the file's to choose: one that leaves no room for the kernel before the
        // address space ends is refused here, before any arithmetic on it.
        guard loadAddress <= UInt64.max - max(memorySize, Self.entry64Offset) else {
            throw .badLinuxKernel(path: path, detail: "pref_address 0x\(String(loadAddress, radix: 16)) leaves no room "
                + "for the kernel's \(memorySize) bytes")
        }
    }

    /// The protected-mode kernel as one segment: the file after the setup code, then zeros up to
    /// init_size.
    func image(fileSize: Int) -> KernelImage {
        let entry = supports64BitEntry ? loadAddress + Self.entry64Offset : loadAddress
        let segment = LoadSegment(address: loadAddress, fileOffset: UInt64(setupSize),
                                  fileSize: UInt64(fileSize - setupSize), memorySize: memorySize)
        return KernelImage(path: path, segments: [segment], entry: entry)
    }

    /// The initrd (at most one module) as high as it fits below initrd_addr_max, RAM's end and the
    /// MMIO hole, above the kernel's decompression space.
    func loadInitrd(_ paths: [String], after kernelEnd: UInt64, lowRAMEnd: UInt64, in memory: GuestMemory)
        throws(KernelLoadError) -> [BootModule]
    {
        guard paths.count <= 1 else { throw .linuxTakesOneInitrd(path: path) }
        guard let initrd = paths.first else { return [] }
        let ceiling = min(initrdAddressMax + 1, lowRAMEnd, PCMemoryMap.mmioHoleStart)
        return [try BootModule.loadHigh(initrd, between: kernelEnd, and: ceiling, in: memory)]
    }

    /// The register state at entry: the 64-bit entry in long mode on the boot layout's identity map
    /// and GDT, or the 32-bit entry in flat protected mode; %rsi (%esi) holds boot_params and the
    /// other registers the protocol names (%ebx, %ebp, %edi) are zero. The 64-bit entry runs with
    /// CS = the boot GDT's 64-bit code selector, where boot.rst names __BOOT_CS (0x10): that
    /// selector is a 32-bit segment in the same GDT, and the kernel loads its own GDT before any
    /// far transfer (arch/x86/boot/compressed/head_64.S), so only the segment's attributes matter.
    func entryState(entry: UInt64, bootParams: UInt64, layout: BootLayout) -> BootState {
        var state: BootState = supports64BitEntry
            ? .longMode(entry: entry, layout: layout)
            : .flatProtectedMode(entry: UInt32(truncatingIfNeeded: entry), eax: 0, ebx: 0, layout: layout)
        state.general.rsi = bootParams
        return state
    }

    /// As boot.rst writes protocol versions: 2.06, 2.15.
    private static func text(_ version: UInt16) -> String {
        let minor = version & 0xff
        return "\(version >> 8)." + (minor < 10 ? "0" : "") + "\(minor)"
    }
}
