#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import PCBoard
import VMMKit

/// The `vmm` program as a library: `main` parses the arguments, builds the machine, runs it and
/// exits with the guest's status. Devices from outside vmm come as `--plugin` libraries, which
/// `--device` and `--list-devices` then know like the built-in ones. (A program linking this
/// library with devices of its own would hold two copies of VMMKit, its own and the dynamic
/// product its devices link: hence plugins, not embedding.)
public enum VMMCommandLine {
    /// Exit status when vmm cannot start the guest: bad options, files, devices or host setup.
    public static let setupFailureStatus: Int32 = 2

    public static func main(arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        StopSignals.blockInThisThread()
        let options: VMMOptions
        do {
            options = try VMMOptions.parse(arguments)
        } catch {
            // --help and friends are "errors" that succeed; let the parser print them its way.
            if VMMOptions.exitCode(for: error) == .success { VMMOptions.exit(withError: error) }
            let message = VMMOptions.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(CommandError.usage(message))
        }
        do {
            var registry = try PCBoard.deviceRegistry()
            for plugin in options.plugins { try PluginLoader.load(plugin, into: &registry) }
            if options.listBackends || options.listDevices {
                if options.listBackends { print(Listings.backends(BuiltInBackends.registry)) }
                if options.listDevices { print(Listings.devices(registry)) }
                exit(0)
            }
            let session = try RunSession(options: options, registry: registry)
            exit(session.run())
        } catch {
            fail(error)
        }
    }

    /// Prints "vmm: <problem>" on one line and exits with `setupFailureStatus`.
    static func fail(_ error: any Error) -> Never {
        let text = (error as? any VMMError)?.description ?? "\(error)"
        printError("vmm: \(text.split(separator: "\n").joined(separator: " "))")
        exit(setupFailureStatus)
    }

    static func printError(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}
