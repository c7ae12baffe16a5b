// swift-tools-version:6.0
// The package is laid out by concern, after rust-vmm: one target per part.
//   VMMKit            core protocols, guest memory, buses, IRQ lines, the machine: the plugin surface
//   Virtio            virtqueues, for every virtio device (VMMKit only)
//   VhostUser         the vhost-user front-end protocol: devices served by another process
//   Loader            kernel loaders (ELF via libelf, Multiboot, PVH) and the boot layout
//   HostIO            the host ends of device byte streams and links: terminal, files, stdin thread, tap, passt
//   Backends/KVM      drives /dev/kvm            Backends/Soft   an x86 CPU in Swift
//   GDBStub           the gdb remote protocol over VMMKit's DebugTarget
//   Devices/<Name>    one target per device, each knowing only VMMKit
//   Board/PC          wires the standard PC devices together
//   VMMCommand        the command line as a library (so out-of-tree devices can reuse it)
//   vmm               the executable: a few lines calling VMMCommand
import PackageDescription

/// A device module: Sources/Devices/<name>, depending on VMMKit only.
func device(_ name: String, dependencies: [Target.Dependency] = []) -> Target {
    .target(name: name, dependencies: ["VMMKit"] + dependencies, path: "Sources/Devices/\(name)")
}

let deviceNames = ["Serial16550", "DebugExit", "TestDevice", "I8259", "IOAPIC", "LocalAPIC", "I8254", "RTC", "ACPIPM", "I8042",
                   "PCI", "VirtioPCI", "VirtioRNG", "VirtioBlock", "VhostUserDevices", "XenHVM", "VirtioNet"]

let package = Package(
    name: "vmm",
    products: [
        // Dynamic, so that a --plugin library links VMMKit without a copy of it inside; see
        // Sources/VMMKit/Registry/PluginInterface.swift.
        .library(name: "VMMKit", type: .dynamic, targets: ["VMMKit"]),
        .library(name: "VMMCommand", targets: ["VMMCommand"]),
        .executable(name: "vmm", targets: ["vmm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibELF", path: "Sources/CShims/CLibELF",
            pkgConfig: "libelf", providers: [.apt(["libelf-dev"])]),
        .target(name: "CKVM", path: "Sources/CShims/CKVM"),
        .target(name: "CEventFD", path: "Sources/CShims/CEventFD"),
        .target(name: "CNativeOracle", path: "Sources/CShims/CNativeOracle"),
        .target(name: "CHostALU", path: "Sources/CShims/CHostALU"),
        .target(name: "CHostX87", path: "Sources/CShims/CHostX87"),
        // memfd_create, which Swift's Glibc module does not show.
        .target(name: "CMemFD", path: "Sources/CShims/CMemFD"),
        .target(name: "VMMKit", dependencies: ["CEventFD", "CMemFD"], path: "Sources/VMMKit"),
        .target(name: "Virtio", dependencies: ["VMMKit"], path: "Sources/Virtio"),
        // The vhost-user front-end: messages, the socket, the session (VMMKit only).
        .target(name: "VhostUser", dependencies: ["VMMKit"], path: "Sources/VhostUser"),
        .target(name: "HostIO", dependencies: ["VMMKit"], path: "Sources/HostIO"),
        .target(name: "KernelLoading", dependencies: ["VMMKit", "CLibELF"], path: "Sources/Loader"),
        .target(name: "KVMBackend", dependencies: ["VMMKit", "CKVM"], path: "Sources/Backends/KVM"),
        .target(name: "SoftBackend", dependencies: ["VMMKit", "CHostALU", "CHostX87"], path: "Sources/Backends/Soft"),
        // The gdb remote protocol over a VMMKit DebugTarget: knows no backend.
        .target(name: "GDBStub", dependencies: ["VMMKit"], path: "Sources/GDBStub"),
        device("Serial16550"),
        device("DebugExit"),
        device("TestDevice"),
        device("I8259"),
        device("IOAPIC"),
        device("LocalAPIC"),
        device("I8254"),
        device("RTC"),
        device("ACPIPM"),
        device("I8042"),
        device("PCI"),
        device("VirtioPCI", dependencies: ["PCI", "Virtio"]),
        device("VirtioRNG", dependencies: ["VirtioPCI", "Virtio"]),
        device("VirtioBlock", dependencies: ["VirtioPCI", "Virtio"]),
        device("VhostUserDevices", dependencies: ["VirtioPCI", "Virtio", "VhostUser"]),
        device("VirtioNet", dependencies: ["VirtioPCI", "Virtio"]),
        device("XenHVM"),
        .target(
            name: "PCBoard",
            dependencies: ["VMMKit", "KernelLoading", "HostIO"] + deviceNames.map { Target.Dependency(stringLiteral: $0) },
            path: "Sources/Board/PC"),
        .target(
            name: "VMMCommand",
            dependencies: [
                "VMMKit", "PCBoard", "KVMBackend", "SoftBackend", "GDBStub",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/VMMCommand"),
        // --export-dynamic: a --plugin library's references into VMMKit bind to vmm's own copy
        // (PluginInterface.swift says why that matters).
        .executableTarget(
            name: "vmm", dependencies: ["VMMCommand"], path: "Sources/vmm",
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"])]),
        .testTarget(name: "VMMKitTests", dependencies: ["VMMKit", "KernelLoading", "TestSupport", "FuzzTargets"], path: "Tests/VMMKitTests"),
        .testTarget(
            name: "DeviceTests",
            dependencies: ["VMMKit", "PCBoard", "HostIO", "TestSupport", "FuzzTargets"] + deviceNames.map { Target.Dependency(stringLiteral: $0) },
            path: "Tests/DeviceTests"),
        .testTarget(
            name: "KVMBackendTests", dependencies: ["VMMKit", "KernelLoading", "KVMBackend", "PCBoard", "TestSupport"],
            path: "Tests/KVMBackendTests"),
        .testTarget(
            name: "SoftBackendTests", dependencies: ["VMMKit", "KernelLoading", "SoftBackend", "PCBoard", "HostIO", "TestSupport", "CNativeOracle"],
            path: "Tests/SoftBackendTests"),
        .testTarget(name: "VirtioTests", dependencies: ["Virtio", "VMMKit", "FuzzTargets", "VirtioNet", "TestSupport"], path: "Tests/VirtioTests"),
        .testTarget(name: "VhostUserTests", dependencies: ["VhostUser", "VhostUserDevices", "VirtioPCI", "VMMKit"], path: "Tests/VhostUserTests"),
        .testTarget(name: "GDBStubTests", dependencies: ["GDBStub", "VMMKit", "FuzzTargets"], path: "Tests/GDBStubTests"),
        .testTarget(name: "HostIOTests", dependencies: ["HostIO", "VMMKit"], path: "Tests/HostIOTests"),
        .testTarget(name: "VMMCommandTests", dependencies: ["VMMCommand", "VMMKit"], path: "Tests/VMMCommandTests"),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["TestSupport", "vmm", "VMMCommand", "VMMKit", "GDBStub", "PCBoard", "HostIO", "SoftBackend", "KVMBackend",
                           "FuzzTargets"],
            path: "Tests/EndToEndTests"),
        // Fuzzing (not shipped): the targets and their invariants, run briefly by the tests and for
        // as long as you like by scripts/fuzz (libFuzzer-guided where the toolchain has it).
        .target(name: "FuzzTargets", dependencies: ["VMMKit", "KernelLoading", "Virtio", "PCBoard", "HostIO"], path: "Fuzz/Targets"),
        .executableTarget(name: "vmm-fuzz", dependencies: ["FuzzTargets"], path: "Fuzz/Runner"),
        .target(name: "TestSupport", dependencies: ["VMMKit", "CPseudoTerminal"], path: "Tests/TestSupport"),
        .target(name: "CPseudoTerminal", path: "Tests/CPseudoTerminal"),
    ],
    // Swift 5 mode: the vCPU threads and devices share state under their own locks, which Swift 6's
    // Sendable checking cannot see through without annotations on every device.
    swiftLanguageModes: [.v5]
)
