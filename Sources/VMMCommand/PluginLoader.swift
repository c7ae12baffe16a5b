#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// `--plugin PATH`: loads a shared library and adds the device types it registers to the registry,
/// marked as coming from PATH. VMMKit's `PluginInterface` describes the entry point and why the
/// Swift values it hands over are sound to use here.
enum PluginLoader {
    static func load(_ path: String, into registry: inout DeviceRegistry) throws(PluginError) {
        // RTLD_NOW binds every reference before the library runs any code, so a name nothing
        // provides is a refusal now rather than a crash mid-run; RTLD_LOCAL keeps one plugin's
        // symbols from satisfying the next one's references. The library is never closed: its
        // device code and type metadata are in use until vmm exits.
        guard let library = dlopen(fileSystemPath(path), RTLD_NOW | RTLD_LOCAL) else {
            throw .unloadable(path, reason: lastDynamicLinkerError())
        }
        guard let symbol = dlsym(library, PluginInterface.entryPointSymbol) else {
            throw .notAPlugin(path)
        }
        let entryPoint = unsafeBitCast(symbol, to: PluginInterface.EntryPoint.self)
        let registrar = PluginRegistrar()
        let call = { (hostVersion: UInt32) in
            withExtendedLifetime(registrar) { entryPoint(hostVersion, Unmanaged.passUnretained(registrar).toOpaque()) }
        }
        // Asked with a version that is never valid, the entry point only returns its own: a plugin
        // for another interface gets that message, the most useful one, whatever else is wrong.
        try requireInterfaceVersion(call(versionQuery), of: path)
        if let name = try PluginBindings.nameTakenFromAnotherVMMKit(library: library, path: path) {
            throw .takenFromAnotherVMMKit(path, symbol: name)
        }
        let answer = call(PluginInterface.version)
        guard answer != PluginInterface.separateVMMKit else { throw .separateVMMKit(path) }
        try requireInterfaceVersion(answer, of: path)
        for type in registrar.deviceTypes {
            do {
                try registry.register(type, from: .plugin(path: path))
            } catch {
                throw .registration(path, error)
            }
        }
    }

    /// Never an interface version.
    private static let versionQuery: UInt32 = 0

    private static func requireInterfaceVersion(_ version: UInt32, of path: String) throws(PluginError) {
        guard version == PluginInterface.version else {
            throw .interfaceVersion(path, plugin: version, vmm: PluginInterface.version)
        }
    }

    /// dlopen searches the library path for a name without a slash; on vmm's command line a file
    /// name means the file in the current directory, as it does for every other option.
    private static func fileSystemPath(_ path: String) -> String {
        path.contains("/") ? path : "./" + path
    }

    private static func lastDynamicLinkerError() -> String {
        dlerror().map { String(cString: $0) } ?? "unknown dynamic linker error"
    }
}
