// swift-tools-version:6.0
// An out-of-tree device for vmm: this package lives outside vmm's Sources/, depends on vmm only
// through its VMMKit product, and builds libDicePlugin.so, a plugin that gives the stock vmm a
// "dice" device: `vmm --plugin .build/debug/libDicePlugin.so --device dice,port=0x700 KERNEL`.
import PackageDescription

let package = Package(
    name: "ThirdPartyDevice",
    products: [
        // A plugin is a dynamic library; VMMKit's product is dynamic too, so the plugin holds no copy
        // of VMMKit and uses vmm's (vmm's Sources/VMMKit/Registry/PluginInterface.swift says why).
        .library(name: "DicePlugin", type: .dynamic, targets: ["DiceDevice"]),
    ],
    dependencies: [
        .package(name: "vmm", path: "../.."),
    ],
    targets: [
        .target(
            name: "DiceDevice",
            dependencies: [.product(name: "VMMKit", package: "vmm")]),
        .testTarget(
            name: "DiceDeviceTests",
            dependencies: ["DiceDevice", .product(name: "VMMKit", package: "vmm")]),
    ],
    swiftLanguageModes: [.v5]
)
