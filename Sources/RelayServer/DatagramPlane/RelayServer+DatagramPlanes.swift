import CDatagramSockets
import NIOCore
import NIOPosix
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension RelayServer {
    /// With `udpIO: batched`, one ``DatagramPlane`` per UDP socket of an address (one per core by default),
    /// each with its own TURN table for the UDP clients the kernel gives its sockets.
    func makePlanes(responder: BindingResponder, turn: TURNLoops?) throws {
        guard configuration.udpIO == .batched, DatagramPlane.isSupported, !configuration.udp.isEmpty else { return }
        let segmentation = (configuration.turn?.udpSegmentation ?? true) && System.supportsUDPSegmentationOffload
        var planes: [DatagramPlane] = []
        do {
            for index in 0..<udpSocketCount {
                let plane = try DatagramPlane(
                    responder: responder, vectorReadCount: max(1, configuration.udpVectorReadCount),
                    segmentation: segmentation, logger: logger)
                planes.append(plane)
                if let turn {
                    var table = turn.template
                    table.connectionIDPrefix = UInt8(truncatingIfNeeded: turn.count + index)
                    plane.turn = DatagramTURN(plane: plane, table: table, relayHosts: turn.relayHosts)
                }
            }
        } catch {
            for plane in planes { plane.closeUnstarted() }
            throw error
        }
        adopt(planes)
    }

    /// Binds one SO_REUSEPORT socket per plane to `port` of `address`; none stays bound if one fails.
    func bindPlaneSockets(_ address: ListenAddress, port: Int, planes: [DatagramPlane]) throws {
        var port = port
        var bound: [(fd: CInt, local: TransportAddress)] = []
        for _ in planes {
            let target = try SocketAddress.makeAddressResolvingHost(address.host, port: port)
            let fd = target.withSockAddr { pointer, length in
                partyline_udp_socket(
                    pointer, socklen_t(length), 1, target.protocol == .inet6 ? 1 : 0, 0,
                    CInt(clamping: configuration.udpReceiveBufferBytes))
            }
            guard fd >= 0, let local = Self.localAddress(of: fd) else {
                for socket in bound { close(socket.fd) }
                if fd >= 0 { close(fd) }
                throw IOError(errnoCode: fd < 0 ? -fd : EINVAL, reason: "bind")
            }
            port = Int(local.port)
            bound.append((fd, local))
        }
        var added: [DatagramPlane.Listener] = []
        for (index, (plane, socket)) in zip(planes, bound).enumerated() {
            do {
                added.append(try plane.addListener(fd: socket.fd, local: socket.local))
            } catch {
                for socket in bound[(index + 1)...] { close(socket.fd) }
                throw error
            }
        }
        for listener in added { register(listener) }
    }

    /// The address a socket is bound to.
    static func localAddress(of fd: CInt) -> TransportAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafeBytes(of: &storage) { TransportAddress(socketAddressAt: $0.baseAddress!) }
    }
}
