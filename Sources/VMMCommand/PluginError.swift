import VMMKit

/// Why a `--plugin` library was refused, each one line for "vmm: <problem>".
enum PluginError: VMMError, Equatable {
    case unloadable(String, reason: String)
    case notAPlugin(String)
    case interfaceVersion(String, plugin: UInt32, vmm: UInt32)
    case separateVMMKit(String)
    case takenFromAnotherVMMKit(String, symbol: String)
    case unreadableSymbolTable(String)
    case registration(String, DeviceSpecificationError)

    var description: String {
        switch self {
        case let .unloadable(path, reason):
            return "cannot load plugin '\(path)': \(reason)"
        case let .notAPlugin(path):
            return "'\(path)' is not a vmm plugin: it has no \(PluginInterface.entryPointSymbol) function"
        case let .interfaceVersion(path, plugin, vmm):
            return "plugin '\(path)' was built for VMMKit plugin interface \(plugin), but this vmm has interface \(vmm)"
        case let .separateVMMKit(path):
            return "plugin '\(path)' does not use this vmm's VMMKit (link it with VMMKit's dynamic library product, "
                + "and load it into a vmm linked with --export-dynamic)"
        case let .takenFromAnotherVMMKit(path, symbol):
            return "plugin '\(path)' was built against a different VMMKit than this vmm's: it needs \(symbol), "
                + "which this vmm lacks (rebuild the plugin against this vmm's VMMKit)"
        case let .unreadableSymbolTable(path):
            return "cannot read the dynamic symbol table of plugin '\(path)'"
        case let .registration(path, error):
            return "plugin '\(path)': \(error)"
        }
    }
}
