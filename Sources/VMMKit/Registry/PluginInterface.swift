/// The run-time plugin interface: how `vmm --plugin PATH.so` takes device types from a shared
/// library built outside vmm.
///
/// A plugin exports one C function, named `entryPointSymbol`, of type `EntryPoint`, whose body is
/// one call to `enter(hostVersion:registrar:_:)`:
///
///     @_cdecl("vmm_plugin_entry")
///     public func vmmPluginEntry(hostVersion: UInt32, registrar: UnsafeMutableRawPointer) -> UInt32 {
///         PluginInterface.enter(hostVersion: hostVersion, registrar: registrar) { $0.register(DiceDevice.deviceType) }
///     }
///
/// Only that function's C signature is fixed forever; everything else crosses as Swift values
/// (`DeviceType`, `any Device`, errors), which is sound only when the plugin and vmm share ONE copy
/// of VMMKit's code and type metadata. Two copies would make `as?` casts, existentials and generics
/// disagree about which type is which (an experiment showed a plugin carrying its own copy sees a
/// different `PluginRegistrar` metadata pointer and its cast of vmm's registrar fails). So:
/// - a plugin links VMMKit as the package's `.dynamic` product, so the plugin file holds no VMMKit
///   code and every reference it makes into VMMKit is a dynamic relocation;
/// - the vmm executable is linked with `--export-dynamic`, and glibc resolves a dlopen'ed library's
///   relocations in the global scope (the executable) before the library's own dependencies, so all
///   of them bind to vmm's copy; the libVMMKit.so the plugin names is loaded but never reached;
/// - vmm checks, after dlopen, that no name the plugin needs was bound to that libVMMKit.so
///   (VMMCommand's `PluginBindings`), and `enter` checks the rest before touching anything: the
///   interface version compiled into the plugin against vmm's, then that vmm's registrar is a
///   `PluginRegistrar` as the plugin sees that type (it is not when the plugin's references did not
///   bind to vmm's copy).
/// A pure C interface (a struct of function pointers) would be sound without any of this, but it
/// would be a second, smaller device API beside VMMKit's. docs/devices.md ("Run-time plugins") has
/// the whole story and the measurements.
public enum PluginInterface {
    /// The version of VMMKit's plugin interface. Bump it whenever VMMKit's public declarations change
    /// in a way that a compiled plugin would notice (a layout, a signature, a protocol requirement).
    /// `@_alwaysEmitIntoClient` compiles the number into each plugin, so vmm compares the version the
    /// plugin was built with against its own rather than against itself.
    @_alwaysEmitIntoClient public static var version: UInt32 { 2 }

    /// What `EntryPoint` returns when vmm's registrar is not the plugin's `PluginRegistrar`: the
    /// plugin did not bind to vmm's VMMKit. Never a valid version.
    @_alwaysEmitIntoClient public static var separateVMMKit: UInt32 { 0 }

    /// The name of the one symbol vmm looks up in a plugin.
    public static let entryPointSymbol = "vmm_plugin_entry"

    /// `uint32_t vmm_plugin_entry(uint32_t host_version, void *registrar)`: returns the interface
    /// version the plugin was built with (or `separateVMMKit`). The plugin registers its device types
    /// on `registrar` only when `host_version` is its own version, and otherwise touches nothing, so
    /// vmm first calls it with 0 to learn the plugin's version.
    public typealias EntryPoint = @convention(c) (_ hostVersion: UInt32, _ registrar: UnsafeMutableRawPointer) -> UInt32

    /// The body of a plugin's entry point: checks the versions and the shared VMMKit, then lets
    /// `register` hand over the plugin's device types. Emitted into the plugin, so the checks are the
    /// plugin's own.
    @_alwaysEmitIntoClient
    public static func enter(hostVersion: UInt32, registrar: UnsafeMutableRawPointer,
                             _ register: (PluginRegistrar) -> Void) -> UInt32 {
        guard hostVersion == version else { return version }
        guard let registrar = Unmanaged<AnyObject>.fromOpaque(registrar).takeUnretainedValue() as? PluginRegistrar
        else { return separateVMMKit }
        register(registrar)
        return version
    }
}

/// What a plugin's entry point hands its device types to. vmm makes one per plugin and then adds
/// the types to its registry, so a name already taken is refused by vmm, naming the plugin.
public final class PluginRegistrar {
    public private(set) var deviceTypes: [DeviceType] = []

    public init() {}

    public func register(_ type: DeviceType) { deviceTypes.append(type) }
}
