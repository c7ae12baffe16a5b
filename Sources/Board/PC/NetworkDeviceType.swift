import HostIO
import VirtioNet
import VirtioPCI
import VMMKit

extension PCBoard {
    /// `--device virtio-net,tap=NAME` or `--device virtio-net,passt=SOCKET`, with `mac=`. The type
    /// lives with the board because it connects the device to the host's network.
    public static let networkDeviceType = DeviceType(
        name: "virtio-net",
        summary: "a virtio network device on PCI (Linux: eth0) on a host tap interface or passt",
        parameters: [
            "tap=NAME       an existing tap interface (ip tuntap add NAME mode tap)",
            "passt=SOCKET   the UNIX socket of a running passt (passt --socket SOCKET)",
            "mac=MAC        the guest's address, XX:XX:XX:XX:XX:XX (default \(MACAddress.standard))",
        ]
    ) { arguments in
        let mac = try arguments.string("mac").map { text throws(MACAddressError) in try MACAddress(parsing: text) }
        let endpoint: any FrameEndpoint
        switch (arguments.string("tap"), arguments.string("passt")) {
        case let (name?, nil): endpoint = try TapEndpoint(name: name)
        case let (nil, path?): endpoint = try PasstEndpoint(connectingTo: path, frameLimit: VirtioNet.frameLimit)
        default: throw NetworkEndpointError.needsOneLink
        }
        return try VirtioPCITransport(name: "virtio-net", device: VirtioNet(endpoint: endpoint, mac: mac ?? .standard))
    }
}
