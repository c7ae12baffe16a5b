// swift-tools-version:6.0
// An out-of-tree device for vmm: this package lives outside vmm's Sources/, depends on vmm only
// through its public products (VMMKit for the device protocols, VMMCommand for the command line),
// and builds `vmm-extended`, which is vmm plus a "dice" device.
import PackageDescription

let package = Package(
    name: "ThirdPartyDevice",
    dependencies: [
        .package(name: "vmm", path: "../.."),
    ],
    targets: [
        .target(
            name: "DiceDevice",
            dependencies: [.product(name: "VMMKit", package: "vmm")]),
        .executableTarget(
            name: "vmm-extended",
            dependencies: ["DiceDevice", .product(name: "VMMCommand", package: "vmm")]),
        .testTarget(
            name: "DiceDeviceTests",
            dependencies: ["DiceDevice", .product(name: "VMMKit", package: "vmm")]),
    ],
    swiftLanguageModes: [.v5]
)
