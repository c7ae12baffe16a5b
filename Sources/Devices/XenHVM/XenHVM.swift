import VMMKit

/// Xen's HVM hypercall interface, as far as a guest needs to find it and load its hypercall page
/// (xen/include/public/arch-x86/cpuid.h; docs/guest-guide/x86/hypercall-abi.rst):
///
/// - CPUID 0x40000000 "XenVMMXenVMM" (EAX the highest Xen leaf), 0x40000001 the Xen version,
///   0x40000002 the number of hypercall pages (EAX) and the MSR that loads them (EBX). KVM's own
///   leaves move to 0x40000100 (`CPUIDHooks.kvmLeafBase`).
/// - WRMSR(msr, gpa | index) copies page `index` of the 64-bit blob when the vCPU is in long mode,
///   else of the 32-bit one, to the page at guest-physical `gpa`, as KVM_XEN_HVM_CONFIG
///   (api.rst; KVM commit ffde22ac53, "KVM: Xen PV-on-HVM guest support") does in the kernel: an
///   index beyond the blob, or a page not wholly in RAM, raises #GP and writes nothing. Without
///   blob files the page is Xen's standard one (`HypercallPage`), made for the backend in use.
/// - Hypercalls reach vmm through the CPU's VMCALL on Soft (`HypercallHooks`) and through ports
///   on KVM, and every one answers -ENOSYS: vmm implements none of Xen's services.
///
/// Off unless asked for: a Linux built with XEN_PVHVM (Debian's) that finds these leaves takes the
/// machine for a Xen host.
public final class XenHVM: Device, MSRHandler, HypercallPageLoader, CPUIDHook, HypercallHandler, BusDevice,
    @unchecked Sendable {
    /// Xen's MSR for the hypercall page (cpuid.h: leaf 2's EBX; 0x40000200 beside Viridian).
    public static let defaultMSR: UInt32 = 0x4000_0000
    /// The first of the ports the KVM stubs read, one per hypercall number.
    public static let portBase: UInt16 = 0xe000
    /// Xen's leaves: the signature, the version, the hypercall pages.
    public static let leaves: ClosedRange<UInt32> = 0x4000_0000...0x4000_0002
    /// The version leaf 0x40000001 reports (major << 16 | minor): 4.0. vmm implements no Xen
    /// service, so the number promises nothing beyond the leaves and the page.
    public static let version: UInt32 = 4 << 16 | 0
    /// -ENOSYS (xen/include/public/errno.h) and -EPERM, for a hypercall from CPL > 0, as Xen's
    /// hvm_hypercall answers one.
    static let notImplemented: Int64 = -38
    static let notPermitted: Int64 = -1

    public let name: String
    public let msr: UInt32
    /// The blobs from files; nil for the standard page, generated at each load for the backend.
    let blob32: [UInt8]?
    let blob64: [UInt8]?
    private var memory: GuestMemory?
    private weak var hypercalls: HypercallHooks?

    public init(name: String = "xen-hvm", msr: UInt32 = defaultMSR, blob32: [UInt8]? = nil, blob64: [UInt8]? = nil) {
        self.name = name
        self.msr = msr
        self.blob32 = blob32
        self.blob64 = blob64
    }

    public func attach(to machine: Machine) throws {
        try machine.msrs.claim(msr...msr, by: self, name: "\(name) hypercall page MSR")
        machine.msrs.offer(self)
        try machine.cpuid.define(Self.leaves, by: name)
        machine.cpuid.register(self)
        try machine.hypercalls.claim(by: self, name: name)
        try machine.ports.claim(base: UInt64(Self.portBase), length: UInt64(HypercallPage.stubCount), by: self,
                                name: "\(name) hypercalls")
        memory = machine.memory
        hypercalls = machine.hypercalls
    }

    /// The pages a guest may load: the smaller blob's count, so every index CPUID offers works in
    /// either mode.
    public var pageCount: Int {
        let pages = { (blob: [UInt8]?) in (blob?.count ?? HypercallPage.size) / HypercallPage.size }
        return min(pages(blob32), pages(blob64))
    }

    /// The blob a vCPU in that mode loads from: the file's, or the standard page for the route.
    private func blob(longMode: Bool, instructionReachesHandler: Bool) -> [UInt8] {
        if let file = longMode ? blob64 : blob32 { return file }
        let route: HypercallPage.Route = instructionReachesHandler ? .instruction : .ports(base: Self.portBase)
        return HypercallPage.generate(route: route, longMode: longMode)
    }

    public var pageMSR: UInt32 { msr }

    public func blobs(instructionReachesHandler: Bool) -> (bits32: [UInt8], bits64: [UInt8]) {
        (blob(longMode: false, instructionReachesHandler: instructionReachesHandler),
         blob(longMode: true, instructionReachesHandler: instructionReachesHandler))
    }

    /// The page a load of `index` copies, or nil when the blob has no such page.
    func page(_ index: Int, longMode: Bool) -> ArraySlice<UInt8>? {
        let blob = blob(longMode: longMode, instructionReachesHandler: hypercalls?.instructionReachesHandler == true)
        let start = index * HypercallPage.size
        guard start + HypercallPage.size <= blob.count else { return nil }
        return blob[start..<(start + HypercallPage.size)]
    }

    // MARK: MSR

    /// Write-only, as in Xen and KVM: a read raises #GP.
    public func readMSR(_ index: UInt32, vcpu: Int) -> UInt64? { nil }

    public func writeMSR(_ index: UInt32, value: UInt64, vcpu: Int, isLongMode: () -> Bool) -> Bool {
        let pageMask = UInt64(HypercallPage.size - 1)
        let address = value & ~pageMask
        guard index == msr, let memory, let page = page(Int(value & pageMask), longMode: isLongMode()) else { return false }
        // GuestMemory.write checks the whole page is RAM (not ROM, not a hole) before writing any of it.
        return (try? memory.write(Array(page), at: address)) != nil
    }

    // MARK: CPUID

    public func adjust(leaf: UInt32, subleaf: UInt32, vcpu: Int, result: inout CPUIDResult) {
        switch leaf {
        case Self.leaves.lowerBound:
            // "XenVMMXenVMM" in EBX, ECX, EDX.
            result = CPUIDResult(eax: Self.leaves.upperBound, ebx: 0x566e_6558, ecx: 0x6558_4d4d, edx: 0x4d4d_566e)
        case Self.leaves.lowerBound + 1:
            result = CPUIDResult(eax: Self.version)
        case Self.leaves.lowerBound + 2:
            result = CPUIDResult(eax: UInt32(pageCount), ebx: msr)
        default:
            break
        }
    }

    // MARK: hypercalls

    public func hypercall(_ number: UInt64, vcpu: Int, cpl: Int) -> UInt64 {
        UInt64(bitPattern: cpl == 0 ? Self.notImplemented : Self.notPermitted)
    }

    /// The KVM stubs' IN from port `portBase + n`: hypercall n's result, -ENOSYS for every number.
    /// A guest reaches the port only at CPL 0 or with I/O privilege, so no CPL check is needed.
    public func read(_ access: BusAccess) -> UInt64 {
        let allOnes: UInt64 = access.size >= 8 ? .max : (1 << UInt64(access.size * 8)) &- 1
        return UInt64(bitPattern: Self.notImplemented) & allOnes
    }

    public func write(_ access: BusAccess, value: UInt64) {}

    public static let deviceType = DeviceType(
        name: "xen-hvm",
        summary: "Xen's HVM CPUID leaves and hypercall-page MSR (KVM's leaves move to 0x40000100); every hypercall answers -ENOSYS",
        parameters: [
            "msr=0x40000000   the MSR whose write loads a hypercall page",
            "blob32=FILE      the pages a 32-bit guest loads (whole 4 KiB pages, 1-255; default Xen's standard page)",
            "blob64=FILE      the pages a 64-bit guest loads (likewise)",
        ]
    ) { arguments in
        let msr = try arguments.integer("msr", default: UInt64(defaultMSR))
        guard let index = UInt32(exactly: msr) else {
            throw DeviceSpecificationError.badValue("xen-hvm", "msr", "0x" + String(msr, radix: 16))
        }
        let blob32 = try arguments.string("blob32").map { (path) throws(HypercallBlobError) in try HypercallBlob.load(path) }
        let blob64 = try arguments.string("blob64").map { (path) throws(HypercallBlobError) in try HypercallBlob.load(path) }
        return XenHVM(msr: index, blob32: blob32, blob64: blob64)
    }
}
