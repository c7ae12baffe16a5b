import ArgumentParser
import VMMKit

/// The `vmm` command line as swift-argument-parser reads it. Values stay text here; `RunRequest`
/// turns them into a `MachineDescription` so every mistake gets vmm's own one-line message.
struct VMMOptions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmm",
        abstract: "Run an x86 kernel in a virtual machine, on KVM or on a CPU emulated in Swift.",
        discussion: """
            KERNEL is a Linux bzImage (booted by the Linux boot protocol) or an ELF kernel: a \
            Multiboot kernel, a PVH kernel (Xen ELF note), or a plain ELF64 kernel entered in long \
            mode. COM1 (ports 0x3f8-0x3ff, IRQ 4) is connected to --serial, and a write of v to \
            port 0xf4 ends the run with exit status (v<<1)|1, like QEMU's isa-debug-exit device.

            Console: with --serial stdio on a terminal every key goes to the guest (Ctrl-C too). \
            Ctrl-A x quits, Ctrl-A h lists the keys, Ctrl-A s prints exit statistics, Ctrl-A b \
            sends a break, Ctrl-A Ctrl-A sends Ctrl-A; --escape changes the key.

            Exit status: the guest's debug-exit status (odd); 0 when the guest powers off or halts \
            for good, resets the machine with --no-reboot (otherwise a reset reboots it), or on \
            Ctrl-A x; 4 on a triple fault; 124 on --timeout; 130 when stopped by SIGINT, SIGTERM, \
            SIGHUP or SIGQUIT; 6 when the run fails; 2 when vmm cannot start the guest (a bad \
            option, file or device specification).

            Examples:
              vmm Tests/Guests/out/hello.elf
              vmm --backend kvm --memory 512M --append "console=ttyS0" kernel.elf
              vmm --serial file:guest.log --timeout 10 --stats kernel.elf
              vmm --device test-device,port=0x600 Tests/Guests/out/portio.elf
              vmm --list-devices
              vmm --plugin libDicePlugin.so --device dice,port=0x700 kernel.elf
            """,
        version: VMMVersion.description)

    @Option(help: ArgumentHelp("CPU backend to run on (see --list-backends); default: the best one available here.",
                               valueName: "kvm|soft"))
    var backend: String?

    @Option(help: ArgumentHelp("Guest RAM: a number with K, M or G; a bare number is MiB.", valueName: "size"))
    var memory = "128M"

    @Option(help: ArgumentHelp("Number of vCPUs (1-64).", valueName: "n"))
    var cpus = "1"

    /// `.unconditional`: the next word is the value even when it starts with '-' (a command line
    /// such as "-s" or "--verbose" is the kernel's business, not an unknown vmm option).
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Kernel command line (a Multiboot kernel gets its own path in front, as from QEMU and GRUB).",
                               valueName: "text"))
    var append = ""

    @Option(help: ArgumentHelp("Initial ramdisk, passed as the first boot module.", valueName: "file"))
    var initrd: String?

    @Option(name: .customLong("module"),
            help: ArgumentHelp("A boot module (Multiboot module or PVH modlist entry); repeatable.", valueName: "file"))
    var modules: [String] = []

    @Option(help: ArgumentHelp("Where COM1 goes: stdio (stdin is its input), file:PATH, or none.",
                               valueName: "stdio|file:PATH|none"))
    var serial = "stdio"

    @Option(help: ArgumentHelp("The console escape key on a terminal: ctrl-LETTER, ^LETTER, one character, or none.",
                               valueName: "key"))
    var escape = "ctrl-a"

    @Option(name: .customLong("device"),
            help: ArgumentHelp("Add a device: NAME,key=value,... (see --list-devices); repeatable.", valueName: "spec"))
    var devices: [String] = []

    @Option(name: .customLong("disk"),
            help: ArgumentHelp("A raw disk image as a virtio-blk device (short for --device virtio-blk,file=IMAGE); repeatable.",
                               valueName: "image"))
    var disks: [String] = []

    @Option(name: .customLong("plugin"),
            help: ArgumentHelp("Load device types from a plugin library (see --list-devices); repeatable.",
                               valueName: "file.so"))
    var plugins: [String] = []

    @Option(help: ArgumentHelp("Interrupt controllers in vmm (user) or KVM's in-kernel irqchip (kernel).",
                               valueName: "user|kernel"))
    var irqchip = "user"

    @Option(help: ArgumentHelp("KVM paravirtual interfaces offered to the guest: all, none, or a comma-separated list of "
                               + ParavirtualFeatures.named.map(\.name).joined(separator: ", ") + ".",
                               valueName: "all|none|list"))
    var pv = "all"

    @Option(help: ArgumentHelp("Stop the guest after this many seconds (exit status 124).", valueName: "seconds"))
    var timeout: String?

    @Flag(help: "End the run when the guest resets the machine (status 0), instead of rebooting it, as QEMU's -no-reboot.")
    var noReboot = false

    @Flag(help: "Reboot on a triple fault, as a PC does, instead of ending the run with status 4 and the registers.")
    var rebootOnTripleFault = false

    @Flag(help: "Print exit counters (per reason, per vCPU, per device) and the run time on stderr after the run.")
    var stats = false

    @Option(help: ArgumentHelp("Write the same counters as JSON to this file after the run.", valueName: "path"))
    var statsFile: String?

    @Option(help: ArgumentHelp("Serve gdb's remote protocol here: tcp:[HOST:]PORT (HOST defaults to 127.0.0.1; PORT 0 picks a free one).",
                               valueName: "address"))
    var gdb: String?

    @Flag(help: "With --gdb: stop the machine before its first instruction until gdb continues it.")
    var gdbWait = false

    @Flag(help: "List the CPU backends and whether each can run here, then exit.")
    var listBackends = false

    @Flag(help: "List the device types --device accepts, then exit.")
    var listDevices = false

    @Argument(help: ArgumentHelp("The kernel to boot.", valueName: "KERNEL"))
    var kernel: String?
}
