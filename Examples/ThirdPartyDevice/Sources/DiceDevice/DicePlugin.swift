import VMMKit

/// The one C function vmm looks up when it loads this library with `--plugin`: it registers the
/// dice device type. The name and signature are `PluginInterface.entryPointSymbol` and
/// `PluginInterface.EntryPoint`; `enter` refuses a vmm of another interface version.
@_cdecl("vmm_plugin_entry")
public func vmmPluginEntry(hostVersion: UInt32, registrar: UnsafeMutableRawPointer) -> UInt32 {
    PluginInterface.enter(hostVersion: hostVersion, registrar: registrar) { $0.register(DiceDevice.deviceType) }
}
