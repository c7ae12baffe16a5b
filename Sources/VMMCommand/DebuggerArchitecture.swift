#if canImport(Glibc)
import Glibc
#endif
import GDBStub

extension GDBArchitecture {
    /// The registers gdb gets for the kernel at `path`: i386 for an ELF32 file, as gdb itself reads
    /// that file; x86-64 for everything else (ELF64, a bzImage), also while its 32-bit boot code
    /// runs, as QEMU does.
    init(kernelAt path: String) {
        var identification = [UInt8](repeating: 0, count: 5)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            _ = read(descriptor, &identification, identification.count)
            close(descriptor)
        }
        let elf32 = identification[0..<4] == [0x7f, 0x45, 0x4c, 0x46] && identification[4] == 1 // EI_CLASS ELFCLASS32
        self = elf32 ? .i386 : .x86_64
    }
}
