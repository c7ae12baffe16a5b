#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// Checks, after dlopen, that a plugin took nothing from a VMMKit other than vmm's.
///
/// A plugin built with SwiftPM names libVMMKit.so as a dependency, so a second VMMKit is loaded
/// beside it; glibc binds each of the plugin's references in the global scope (vmm, which exports
/// its symbols) first and only falls back to the plugin's own dependencies for a name vmm lacks.
/// Such a fallback means the plugin was built against a VMMKit with declarations this vmm does not
/// have, and the two copies of VMMKit would then meet in one process. The interface version should
/// have told them apart; this check does not rely on it being bumped.
enum PluginBindings {
    /// The file name, and so the DT_SONAME, SwiftPM gives VMMKit's dynamic library product.
    private static let vmmKitLibrary = "libVMMKit.so"

    /// The first name `library` takes from a VMMKit in its own dependencies, or nil if it takes
    /// every name it needs from vmm or from objects that are not a VMMKit.
    static func nameTakenFromAnotherVMMKit(library: UnsafeMutableRawPointer, path: String) throws(PluginError) -> String? {
        // RTLD_NOLOAD finds an object already loaded under that soname and loads nothing: no such
        // object, no second VMMKit. (A plugin with VMMKit inside it is the entry point's to refuse.)
        guard let otherVMMKit = dlopen(vmmKitLibrary, RTLD_NOW | RTLD_NOLOAD) else { return nil }
        defer { dlclose(otherVMMKit) }
        guard let needed = ELFUndefinedSymbols.names(inFileAt: path) else { throw .unreadableSymbolTable(path) }
        // A nil handle is RTLD_DEFAULT, the global scope, where glibc looks first when it binds the
        // plugin; a name missing there is bound in the plugin's own dependencies.
        return needed.first { dlsym(nil, $0) == nil && dlsym(otherVMMKit, $0) != nil }
    }
}
