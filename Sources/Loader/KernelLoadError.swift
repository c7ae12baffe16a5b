import VMMKit

/// Why a kernel (or one of its modules) could not be loaded. Each description starts with the
/// file it is about, then says what is wrong with it.
public enum KernelLoadError: VMMError, Equatable {
    case unreadable(path: String, reason: String)
    case notELF(path: String)
    case corrupt(path: String, detail: String)
    case unsupportedArchitecture(path: String, detail: String)
    case notExecutable(path: String, type: UInt16)
    case noLoadableSegments(path: String)
    case segmentBeyondFile(path: String, offset: UInt64, size: UInt64, fileSize: UInt64)
    case fileSizeExceedsMemorySize(path: String, address: UInt64, fileSize: UInt64, memorySize: UInt64)
    case segmentOutsideRAM(path: String, address: UInt64, size: UInt64)
    case memoryTooSmall(path: String, needed: UInt64, available: UInt64)
    case segmentsOverlap(path: String, first: UInt64, second: UInt64)
    case noRoomForBootArea(path: String, area: String)
    case entryOutsideImage(path: String, entry: UInt64)
    case entryAbove4GiB(path: String, entry: UInt64)
    case badMultibootHeader(path: String, detail: String)
    case badPVHNote(path: String, detail: String)
    case badLinuxKernel(path: String, detail: String)
    case linuxTakesOneInitrd(path: String)
    case initrdDoesNotFit(path: String, size: UInt64, kernelEnd: UInt64, ceiling: UInt64)
    case commandLineTooLong(path: String, length: Int, limit: Int)
    case moduleUnreadable(path: String, reason: String)
    case moduleTooBig(path: String, size: UInt64, free: UInt64)
    case modulesNeedBootProtocol(path: String)
    case bootInfoTooLarge(path: String, limit: Int)
    case writeFailed(path: String, detail: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read the kernel: \(reason)"
        case let .notELF(path): return "\(path): not an ELF file and no Multiboot header with load addresses"
        case let .corrupt(path, detail): return "\(path): corrupt or truncated ELF file: \(detail)"
        case let .unsupportedArchitecture(path, detail): return "\(path): not an x86 kernel: \(detail)"
        case let .notExecutable(path, type): return "\(path): ELF type \(type) is not an executable (ET_EXEC)"
        case let .noLoadableSegments(path): return "\(path): no loadable (PT_LOAD) segments"
        case let .segmentBeyondFile(path, offset, size, fileSize):
            return "\(path): segment data at file offset \(hex(offset)) (\(size) bytes) runs past the end of the \(fileSize)-byte file"
        case let .fileSizeExceedsMemorySize(path, address, fileSize, memorySize):
            return "\(path): segment at \(hex(address)) has more file bytes (\(fileSize)) than memory bytes (\(memorySize))"
        case let .segmentOutsideRAM(path, address, size):
            return "\(path): segment at \(hex(address)) (\(size) bytes) is not inside guest RAM"
        case let .memoryTooSmall(path, needed, available):
            return "\(path): the image reaches \(hex(needed)) but guest RAM below the MMIO hole ends at \(hex(available)); give the guest more --memory"
        case let .segmentsOverlap(path, first, second):
            return "\(path): segments at \(hex(first)) and \(hex(second)) overlap"
        case let .noRoomForBootArea(path, area):
            return "\(path): no free conventional memory (below 640 KiB) for the \(area) vmm writes before entry: "
                + "the kernel and modules cover it"
        case let .entryOutsideImage(path, entry): return "\(path): entry point \(hex(entry)) is outside the loaded image"
        case let .entryAbove4GiB(path, entry):
            return "\(path): entry point \(hex(entry)) is not reachable from 32-bit protected mode"
        case let .badMultibootHeader(path, detail): return "\(path): bad Multiboot header: \(detail)"
        case let .badPVHNote(path, detail): return "\(path): bad PVH entry note: \(detail)"
        case let .badLinuxKernel(path, detail): return "\(path): cannot boot this Linux bzImage: \(detail)"
        case let .initrdDoesNotFit(path, size, kernelEnd, ceiling):
            return "\(path): initrd of \(size) bytes does not fit between the kernel's end (\(hex(kernelEnd))) and "
                + "\(hex(ceiling)), the lower of RAM's end and the kernel's initrd_addr_max + 1"
        case let .linuxTakesOneInitrd(path):
            return "\(path): a Linux bzImage takes one initrd (--initrd) and no further modules"
        case let .commandLineTooLong(path, length, limit):
            return "\(path): command line of \(length) bytes is too long (at most \(limit - 1))"
        case let .moduleUnreadable(path, reason): return "\(path): cannot read the module: \(reason)"
        case let .moduleTooBig(path, size, free):
            return "\(path): module of \(size) bytes does not fit in guest RAM below 4 GiB (\(free) bytes free after the kernel)"
        case let .modulesNeedBootProtocol(path):
            return "\(path): a plain ELF kernel has no way to receive modules (use a Multiboot or PVH kernel)"
        case let .bootInfoTooLarge(path, limit):
            return "\(path): the boot information (module list, paths, memory map) exceeds its \(limit)-byte area"
        case let .writeFailed(path, detail): return "\(path): loading failed: \(detail)"
        }
    }
}

private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
