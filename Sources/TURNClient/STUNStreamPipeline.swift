import NIOCore
import NIOSSL
import STUN

extension ChannelPipeline.SynchronousOperations {
    /// The client side of a STUN/TURN stream: TLS when a context is given, the STUN/ChannelData framer,
    /// then `handler`, which receives `STUNStreamFrame`s.
    public func addSTUNStreamHandlers(
        tls: NIOSSLContext?, serverHostname: String?, _ handler: some ChannelHandler
    ) throws {
        if let tls { try addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname)) }
        try addHandler(ByteToMessageHandler(STUNStreamFramer()))
        try addHandler(handler)
    }
}
